//! Credentials in URLs: the userinfo (`user:password@`) and the values of
//! the query and fragment (`?api_key=…`) are hidden wherever a URL is shown,
//! alone ([`redact_url`]) or inside any text ([`redact_urls`]).

/// What replaces a hidden value.
pub const MASK: &str = "***";

/// One URL with its credentials hidden: the password of its userinfo (or
/// the whole userinfo when it is a bare name, which may be a token) and
/// every query and fragment value.
///
/// `https://u:pw@host/p?api_key=k&page=2` → `https://u:***@host/p?api_key=***&page=***`.
/// Text that is not a URL is returned as it is.
pub fn redact_url(url: &str) -> String {
    match url.find("://") {
        Some(scheme_end) if is_scheme(&url[..scheme_end]) => {
            let mut out = String::with_capacity(url.len());
            out.push_str(&url[..scheme_end + 3]);
            redact_after_scheme(&url[scheme_end + 3..], &mut out);
            out
        }
        _ => url.to_owned(),
    }
}

/// `text` with every URL in it (`scheme://…` up to a space, a quote or an
/// angle bracket) passed through [`redact_url`].
pub fn redact_urls(text: &str) -> String {
    if !text.contains("://") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let sep = search + found;
        let start = text[..sep]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(sep, |(i, _)| i);
        // A scheme starts with a letter; skip leading digits or signs.
        let start = text[start..sep]
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(sep, |i| start + i);
        let end = url_end(text, sep + 3);
        if start < sep && start >= copied {
            out.push_str(&text[copied..start]);
            out.push_str(&redact_url(&text[start..end]));
            copied = end;
        }
        search = end.max(sep + 3);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Where a URL that starts before `from` ends in free text: at white space,
/// a quote, an angle bracket or a backslash (JSON escapes), less trailing
/// sentence punctuation and an unbalanced closing parenthesis (the URL was
/// written in parentheses).
fn url_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let mut end = from
        + rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\'))
            .unwrap_or(rest.len());
    loop {
        let url = &text[from..end];
        let trim = match url.chars().last() {
            Some('.' | ',' | ';' | ':' | '!') => true,
            Some(')') => url.matches(')').count() > url.matches('(').count(),
            Some(']') => url.matches(']').count() > url.matches('[').count(),
            _ => false,
        };
        if !trim {
            return end;
        }
        end -= 1;
    }
}

/// Writes `rest` (everything after `scheme://`) with credentials hidden.
fn redact_after_scheme(rest: &str, out: &mut String) {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) if at > 0 => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push(':');
                    out.push_str(MASK);
                }
                None => out.push_str(MASK),
            }
            out.push_str(&authority[at..]);
        }
        _ => out.push_str(authority),
    }
    let rest = &rest[authority_end..];
    let fragment_start = rest.find('#').unwrap_or(rest.len());
    let (before_fragment, fragment) = rest.split_at(fragment_start);
    match before_fragment.find('?') {
        Some(q) => {
            out.push_str(&before_fragment[..=q]);
            redact_pairs(&before_fragment[q + 1..], out);
        }
        None => out.push_str(before_fragment),
    }
    if let Some(fragment) = fragment.strip_prefix('#') {
        out.push('#');
        if fragment.contains('=') {
            redact_pairs(fragment, out);
        } else {
            out.push_str(fragment);
        }
    }
}

/// `a=1&b=2` → `a=***&b=***`; names without a value stay as they are.
fn redact_pairs(pairs: &str, out: &mut String) {
    for (i, pair) in pairs.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.find('=') {
            Some(eq) if eq + 1 < pair.len() => {
                out.push_str(&pair[..=eq]);
                out.push_str(MASK);
            }
            _ => out.push_str(pair),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_query_values_are_hidden() {
        assert_eq!(
            redact_url("https://u:pw@host/p?api_key=k&page=2"),
            "https://u:***@host/p?api_key=***&page=***"
        );
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url("https://ghp_token@github.com/o/r.git"),
            "https://***@github.com/o/r.git"
        );
        assert_eq!(
            redact_url("https://u:p@ss@host/"),
            "https://u:***@host/",
            "the last @ ends the userinfo"
        );
        assert_eq!(
            redact_url("https://h/cb#access_token=t&state=s"),
            "https://h/cb#access_token=***&state=***"
        );
        assert_eq!(redact_url("https://h/docs#intro"), "https://h/docs#intro");
        assert_eq!(redact_url("http://h/a?flag&x="), "http://h/a?flag&x=");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn urls_inside_text_are_found() {
        assert_eq!(
            redact_urls(
                "error sending request for url (http://127.0.0.1:1/h?api_key=S3cr3t): refused"
            ),
            "error sending request for url (http://127.0.0.1:1/h?api_key=***): refused"
        );
        assert_eq!(
            redact_urls("GET https://a/x?k=v, then \"postgres://u:pw@db/app\"."),
            "GET https://a/x?k=***, then \"postgres://u:***@db/app\"."
        );
        assert_eq!(
            redact_urls("{\\\"url\\\":\\\"https://h/?t=1\\\"}"),
            "{\\\"url\\\":\\\"https://h/?t=***\\\"}"
        );
        assert_eq!(
            redact_urls("see https://h/wiki/A_(b)?x=1 and ://nothing 9://x?y=z"),
            "see https://h/wiki/A_(b)?x=*** and ://nothing 9://x?y=z"
        );
        assert_eq!(redact_urls("é https://h/?q=é ü"), "é https://h/?q=*** ü");
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
