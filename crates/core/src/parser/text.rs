//! Input checks and tokenization: raw chat text to lowercase words.

use super::words::PREFIXES;
use super::ParseInputError;

/// Longest command text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// Rejects text the parser will not read, saying what is wrong.
pub(super) fn check_input(text: &str) -> Result<(), ParseInputError> {
    if text.trim().is_empty() {
        return Err(ParseInputError::Empty);
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ParseInputError::TooLong {
            chars,
            max: MAX_TEXT_CHARS,
        });
    }
    if let Some((index, c)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ParseInputError::ControlCharacter {
            code: c as u32,
            index,
        });
    }
    Ok(())
}

/// Lowercases the text, drops apostrophes and turns punctuation that never
/// belongs to a word into spaces. Keeps `/ . - _ # @ +` which appear in
/// refs, versions and names.
pub(super) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\'' | '\u{2019}' | '\u{2018}' | '`' => {}
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            '/' | '.' | '-' | '_' | '#' | '@' | '+' | '&' => out.push(c),
            _ => out.push(' '),
        }
    }
    out
}

/// Splits normalized text into words, trimming sentence dots and dashes
/// around words, and drops leading bot addressing ("hubot", "/ops").
pub(super) fn tokenize(normalized: &str) -> Vec<&str> {
    let mut tokens: Vec<&str> = normalized
        .split_whitespace()
        .map(|t| t.trim_end_matches(['.', '-', '_']))
        .map(|t| t.trim_start_matches('.'))
        .filter(|t| !t.is_empty())
        .collect();
    let mut skip = 0;
    while skip < tokens.len() && skip < 3 && PREFIXES.contains(&tokens[skip]) {
        skip += 1;
    }
    tokens.drain(..skip);
    // A slash command names its verb: "/deploy web" reads as "deploy web".
    if let Some(first) = tokens.first_mut() {
        if first.len() > 1
            && first.starts_with('/')
            && first[1..].bytes().all(|b| b.is_ascii_alphabetic())
        {
            *first = &first[1..];
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_punctuation_go() {
        let n = normalize("Hubot: What's up with PROD?! v2.3.1.");
        assert_eq!(tokenize(&n), ["whats", "up", "with", "prod", "v2.3.1"]);
        let n = normalize("/ops deploy feature/login-page");
        assert_eq!(tokenize(&n), ["deploy", "feature/login-page"]);
        let n = normalize("!status preview");
        assert_eq!(tokenize(&n), ["status", "preview"]);
        let n = normalize("/deploy web");
        assert_eq!(tokenize(&n), ["deploy", "web"]);
    }
}
