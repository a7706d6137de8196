//! A value that must never be printed: API tokens, database URLs with passwords.

use std::fmt;

/// A secret string (an API token, a password, a connection URL with credentials).
///
/// `Debug` and `Display` print `***`; the value is only reachable through
/// [`Secret::expose`], so it cannot end up in a log line or an error message by
/// accident. It deserializes from a plain string but deliberately does not
/// implement `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (an unset credential).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of this secret in `text` by `***`.
    pub fn redact(&self, text: &str) -> String {
        redact_all(text, std::slice::from_ref(self))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Replaces every occurrence of each non-empty secret in `text` by `***`,
/// in every form [`Redactor`] knows, and hides credentials in URLs.
pub fn redact_all(text: &str, secrets: &[Secret]) -> String {
    Redactor::new(secrets).redact(text)
}

/// Encoded forms shorter than this are not looked for: they would hide
/// innocent text (a secret this short is only hidden as it is).
const MIN_ENCODED_LEN: usize = 6;

/// Hides known secret values, and the credentials of URLs, in any text.
///
/// A secret is found in the forms a program may print it in:
/// - as it is;
/// - percent-encoded, in any mix of `%XX` (either case), plain bytes, and
///   `+` for a space (URL queries, form bodies);
/// - base64, with the standard and the URL-safe alphabet, with or without
///   padding, alone or inside a longer encoded text (`Basic
///   base64(user:password)`): a secret starting at any of the three byte
///   offsets modulo 3 encodes to a different run of characters, and each
///   of the three runs is looked for (less the characters at its ends that
///   depend on the neighbouring bytes);
/// - and when a secret is a URL with a password (a database URL), the
///   password alone, as written and percent-decoded.
///
/// A secret printed across two lines (a program that wraps its output, or
/// prints it in two parts) is hidden at the line join: a line that ends
/// with the secret's first characters, or starts with its last ones, loses
/// them, when they are at least six characters long (shorter pieces would
/// hide innocent text). Output is stored line by line, so this is checked
/// on every line of every text.
///
/// Longer forms are matched first, so a secret containing another one is
/// hidden whole. URLs anywhere in the text lose their userinfo and query
/// values ([`opsroom_core::redact::redact_urls`]).
#[derive(Clone, Default)]
pub struct Redactor {
    /// The forms looked for, longest first.
    needles: Vec<Vec<u8>>,
    /// Whether a match may start with this byte.
    starts: Vec<bool>,
    /// The plain secrets, whose heads and tails are looked for at line ends
    /// and starts.
    plains: Vec<String>,
}

/// Shows how many forms are looked for, never them.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} forms)", self.needles.len())
    }
}

impl Redactor {
    /// A redactor hiding `secrets` (empty ones are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut redactor = Redactor::default();
        for secret in secrets {
            redactor.add(secret);
        }
        redactor
    }

    /// Hides `secret` too, from now on.
    pub fn add(&mut self, secret: &Secret) {
        let value = secret.expose();
        if value.is_empty() {
            return;
        }
        let mut plain = vec![value.to_owned()];
        if let Some(password) = url_password(value) {
            plain.push(password.to_owned());
            plain.extend(percent_decode(password));
        }
        for p in &plain {
            if p.len() > MIN_ENCODED_LEN && !self.plains.contains(p) {
                self.plains.push(p.clone());
            }
        }
        let mut forms: Vec<Vec<u8>> = Vec::new();
        for p in &plain {
            forms.push(p.as_bytes().to_vec());
            forms.extend(
                base64_forms(p.as_bytes())
                    .into_iter()
                    .map(String::into_bytes),
            );
        }
        for form in forms {
            if form.is_empty() || self.needles.contains(&form) {
                continue;
            }
            self.needles.push(form);
        }
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        self.starts = vec![false; 256];
        for needle in &self.needles {
            self.starts[usize::from(needle[0])] = true;
            if needle[0] == b' ' {
                self.starts[usize::from(b'+')] = true;
            }
        }
        self.starts[usize::from(b'%')] = true;
    }

    /// Whether no secret is known (URLs are still redacted).
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every known secret, in every form, replaced by `***`, and
    /// the credentials of its URLs hidden.
    pub fn redact(&self, text: &str) -> String {
        if self.needles.is_empty() {
            return opsroom_core::redact::redact_urls(text);
        }
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut copied = 0;
        let mut i = 0;
        'scan: while i < bytes.len() {
            if self.starts[usize::from(bytes[i])] {
                for needle in &self.needles {
                    if let Some(end) = match_at(bytes, i, needle) {
                        out.extend_from_slice(&bytes[copied..i]);
                        out.extend_from_slice(opsroom_core::redact::MASK.as_bytes());
                        i = end;
                        copied = end;
                        continue 'scan;
                    }
                }
            }
            i += 1;
        }
        out.extend_from_slice(&bytes[copied..]);
        // Matches start and end on character boundaries (the forms are
        // valid UTF-8 or ASCII escapes), so this is valid UTF-8.
        let text = String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let text = self.redact_line_joins(text);
        opsroom_core::redact::redact_urls(&text)
    }

    /// Hides, on each line, an end that is a secret's head or a start that
    /// is its tail (six characters or more): the halves of a secret printed
    /// across two lines.
    fn redact_line_joins(&self, text: String) -> String {
        if self.plains.is_empty() {
            return text;
        }
        let mut changed = false;
        let lines: Vec<String> = text
            .split('\n')
            .map(|line| {
                let hidden = self.hide_head_and_tail(line);
                changed |= hidden != line;
                hidden
            })
            .collect();
        if changed {
            lines.join("\n")
        } else {
            text
        }
    }

    fn hide_head_and_tail(&self, line: &str) -> String {
        let mask = opsroom_core::redact::MASK;
        let body = line.trim_end_matches(['\r', ' ', '\t']);
        let trail = &line[body.len()..];
        let lead_len = body.len() - body.trim_start_matches([' ', '\t']).len();
        let (lead, mut body) = (&line[..lead_len], body[lead_len..].to_string());
        let longest = |found: &dyn Fn(&str) -> Option<usize>| {
            self.plains.iter().filter_map(|p| found(p)).max()
        };
        // A line end that is a head of a secret (not the whole: that one is
        // already hidden).
        let head = longest(&|p: &str| {
            (MIN_ENCODED_LEN..p.len())
                .rev()
                .find(|&n| p.is_char_boundary(n) && body.ends_with(&p[..n]))
        });
        if let Some(n) = head {
            body.truncate(body.len() - n);
            body.push_str(mask);
        }
        let tail = longest(&|p: &str| {
            (MIN_ENCODED_LEN..p.len())
                .rev()
                .find(|&n| p.is_char_boundary(p.len() - n) && body.starts_with(&p[p.len() - n..]))
        });
        if let Some(n) = tail {
            body.replace_range(..n, mask);
        }
        format!("{lead}{body}{trail}")
    }

    /// Redacts every string inside a JSON value (object keys included).
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                let redacted = self.redact(s);
                if redacted != *s {
                    *s = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let redacted = self.redact(&key);
                    if redacted != key {
                        if let Some(v) = map.remove(&key) {
                            map.insert(redacted.clone(), v);
                        }
                    }
                    if let Some(v) = map.get_mut(&redacted) {
                        self.redact_json(v);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Where `needle` matches `text` at `at` (each byte as it is, as `%XX`, or
/// `+` for a space): the end of the match.
fn match_at(text: &[u8], at: usize, needle: &[u8]) -> Option<usize> {
    let Some((&want, rest)) = needle.split_first() else {
        return Some(at);
    };
    let got = *text.get(at)?;
    if got == want {
        if let Some(end) = match_at(text, at + 1, rest) {
            return Some(end);
        }
    }
    if got == b'%' && text.len() >= at + 3 && hex_byte(text[at + 1], text[at + 2]) == Some(want) {
        if let Some(end) = match_at(text, at + 3, rest) {
            return Some(end);
        }
    }
    if got == b'+' && want == b' ' {
        return match_at(text, at + 1, rest);
    }
    None
}

fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

/// The password of `scheme://user:password@host…`, when there is one.
fn url_password(value: &str) -> Option<&str> {
    let rest = &value[value.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let password = &userinfo[userinfo.find(':')? + 1..];
    (!password.is_empty()).then_some(password)
}

/// `%XX` escapes decoded, when there are any and the result is UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex_byte(h, l).is_some() => {
                out.extend(hex_byte(h, l));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The base64 runs a secret leaves in encoded text (see [`Redactor`]).
fn base64_forms(secret: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    use base64::Engine as _;
    let mut out = Vec::new();
    for engine in [&STANDARD, &URL_SAFE] {
        let whole = engine.encode(secret);
        out.push(whole.trim_end_matches('=').to_owned());
        out.push(whole);
        // With `offset` unknown bytes before it, the secret's bits start at
        // bit 8 * offset; the characters holding only its bits are the ones
        // from ceil(8 * offset / 6) up to floor(8 * (offset + len) / 6).
        for offset in 0..3usize {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(secret);
            let encoded = engine.encode(&shifted);
            let first = (8 * offset).div_ceil(6);
            let last = 8 * (offset + secret.len()) / 6;
            if last > first {
                out.push(encoded[first..last].to_owned());
            }
        }
    }
    out.retain(|form| form.len() >= MIN_ENCODED_LEN);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("tok_123");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "tok_123");
    }

    fn hidden(text: &str) -> String {
        Redactor::new(&[Secret::new("s3cr3t-V4lue/with+chars ok")]).redact(text)
    }

    #[test]
    fn a_secret_split_across_two_lines_is_hidden_at_the_join() {
        let r = Redactor::new(&[Secret::new("abcdefghijklmnop")]);
        assert_eq!(r.redact("key: abcdefgh\nijklmnop end"), "key: ***\n*** end");
        assert_eq!(r.redact("abcdefgh"), "***", "one line of two");
        assert_eq!(r.redact("  ijklmnop\r"), "  ***\r");
        assert_eq!(r.redact("abc\njklmnop"), "abc\n***");
        assert_eq!(
            r.redact("abcde"),
            "abcde",
            "pieces under six characters stay"
        );
        assert_eq!(
            r.redact("xx abcdefg yy"),
            "xx abcdefg yy",
            "only at line ends"
        );
    }

    #[test]
    fn plain_and_percent_encoded_forms_are_hidden() {
        assert_eq!(hidden("x s3cr3t-V4lue/with+chars ok y"), "x *** y");
        // urlencode (form style), quote(safe=""), lower-case hex, a mix.
        assert_eq!(hidden("a=s3cr3t-V4lue%2Fwith%2Bchars+ok&b"), "a=***&b");
        assert_eq!(hidden("s3cr3t-V4lue%2Fwith%2Bchars%20ok"), "***");
        assert_eq!(hidden("s3cr3t-V4lue%2fwith%2bchars%20ok"), "***");
        assert_eq!(
            hidden(
                "%73%33%63%72%33%74%2D%56%34%6C%75%65%2F%77%69%74%68%2B%63%68%61%72%73%20%6F%6B"
            ),
            "***"
        );
        // Part of a secret inside a line is not the secret; at a line's end
        // it may be the first half of a secret split across two lines.
        assert_eq!(
            hidden("s3cr3t-V4lue/with+chars x"),
            "s3cr3t-V4lue/with+chars x"
        );
        assert_eq!(hidden("s3cr3t-V4lue/with+chars"), "***");
    }

    #[test]
    fn base64_forms_are_hidden_at_every_alignment() {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        use base64::Engine as _;
        let secret = "s3cr3t-V4lue/with+chars ok";
        let redactor = Redactor::new(&[Secret::new(secret)]);
        for prefix in ["", "a", "ab", "abc", "user:"] {
            for suffix in ["", "z", "zz", "zzz", "\n"] {
                let plain = format!("{prefix}{secret}{suffix}");
                for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                    let encoded = engine.encode(&plain);
                    let shown = redactor.redact(&format!("Authorization: Basic {encoded}"));
                    assert!(shown.contains("***"), "{plain:?} as {encoded}: {shown}");
                    // What is left encodes the bytes around the secret,
                    // plus at most two characters at each end that mix
                    // them with its first or last bits, and padding.
                    let left = shown
                        .trim_start_matches("Authorization: Basic ")
                        .replace("***", "");
                    let around = (prefix.len() * 8).div_ceil(6) + (suffix.len() * 8).div_ceil(6);
                    assert!(
                        left.len() <= around + 4,
                        "{plain:?} as {encoded}: too much left: {shown}"
                    );
                }
            }
        }
        // base64 text that merely resembles it stays.
        assert_eq!(redactor.redact("aGVsbG8gd29ybGQ="), "aGVsbG8gd29ybGQ=");
    }

    #[test]
    fn a_url_secret_hides_its_password_alone_too() {
        let r = Redactor::new(&[Secret::new("postgres://app:p%40ss%2Fw0rd@db:5432/app")]);
        assert_eq!(r.redact("password=p@ss/w0rd"), "password=***");
        assert_eq!(r.redact("PGPASSWORD=p%40ss%2Fw0rd"), "PGPASSWORD=***");
        assert_eq!(
            r.redact("connecting to postgres://app:p%40ss%2Fw0rd@db:5432/app"),
            "connecting to ***"
        );
    }

    #[test]
    fn json_strings_and_urls_are_redacted() {
        let r = Redactor::new(&[Secret::new("tok_abcdef")]);
        let mut v = serde_json::json!({
            "line": "token tok_abcdef",
            "nested": [{"url": "https://h/x?api_key=k1"}],
            "n": 3,
            "tok_abcdef": true,
        });
        r.redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "line": "token ***",
                "nested": [{"url": "https://h/x?api_key=***"}],
                "n": 3,
                "***": true,
            })
        );
        assert_eq!(
            Redactor::default().redact("https://u:pw@h/"),
            "https://u:***@h/"
        );
        assert_eq!(
            format!("{r:?}"),
            format!("Redactor({} forms)", r.needles.len())
        );
    }

    #[test]
    fn redacts_longest_first() {
        let secrets = [Secret::new("abc"), Secret::new("abcdef"), Secret::new("")];
        assert_eq!(redact_all("x abcdef y abc", &secrets), "x *** y ***");
    }
}
