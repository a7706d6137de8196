//! Splitting a message into tokens and masking the ones whose *shape* says
//! they are values: anything with a digit (numbers, hex ids, IPs, times,
//! versions, block ids), `key=value` pairs whose value has a digit (the key
//! stays), paths and URLs. No rule names a log format: the same classes are
//! applied to every input.

/// What a token is, by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A word kept as it is (it may still turn out to vary: the miner finds
    /// that out by comparing lines).
    Const,
    /// A word with digits inside letters (`SOCKS5`, `node-148`, `blk_-12`):
    /// its digit runs are values, its letters are kept.
    Shape,
    /// `key=<*>`: the text up to and including the first `=` is kept.
    KeyVar,
    /// A value masked as a whole.
    Var,
}

/// One token of a message, as byte offsets into it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub start: u32,
    pub end: u32,
    /// For [`Kind::KeyVar`], where the kept key (with its `=`) ends.
    pub key_end: u32,
    pub kind: Kind,
}

impl Token {
    /// The token's text: the whole word for [`Kind::Const`] and
    /// [`Kind::Shape`], the key for [`Kind::KeyVar`], nothing for a value.
    pub fn kept<'a>(&self, message: &'a str) -> &'a str {
        match self.kind {
            Kind::Const | Kind::Shape => &message[self.start as usize..self.end as usize],
            Kind::KeyVar => &message[self.start as usize..self.key_end as usize],
            Kind::Var => "",
        }
    }
}

/// Whether two words are equal once their digit runs (with a leading minus)
/// are taken as values.
pub(crate) fn shape_eq(a: &str, b: &str) -> bool {
    let mut a = ShapeParts::new(a);
    let mut b = ShapeParts::new(b);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

/// A word with each digit run written as `<*>`.
pub(crate) fn shape_text(word: &str, out: &mut String) {
    for part in ShapeParts::new(word) {
        match part {
            None => out.push_str("<*>"),
            Some(b) => out.push(char::from(b)),
        }
    }
}

/// The bytes of a word, each digit run (`-12`, `007`) as one `None`.
/// Callers only give ASCII-or-UTF-8 words and rebuild text from single
/// bytes only where they are ASCII.
pub(crate) struct ShapeParts<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> ShapeParts<'a> {
    pub fn new(word: &'a str) -> ShapeParts<'a> {
        ShapeParts {
            bytes: word.as_bytes(),
            at: 0,
        }
    }
}

impl Iterator for ShapeParts<'_> {
    type Item = Option<u8>;

    fn next(&mut self) -> Option<Option<u8>> {
        let b = self.bytes;
        let at = self.at;
        let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        if at >= b.len() {
            return None;
        }
        // An id of hex digits (`e3871ffd-5cd5-…`) starting here is one value.
        if at == 0 || !b[at - 1].is_ascii_alphanumeric() {
            let run = b[at..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit() || **c == b'-')
                .count();
            let ends_word = b.get(at + run).is_none_or(|c| !c.is_ascii_alphanumeric());
            if run >= 8 && ends_word && b[at..at + run].iter().any(u8::is_ascii_digit) {
                self.at = at + run;
                return Some(None);
            }
        }
        if digit_at(at) || (b[at] == b'-' && digit_at(at + 1)) {
            let mut i = at + 1;
            while digit_at(i) {
                i += 1;
            }
            self.at = i;
            return Some(None);
        }
        self.at += 1;
        Some(Some(b[at]))
    }
}

/// How many whitespace-separated pieces a quoted or bracketed value may span.
const GROUP_MAX: usize = 8;

/// Splits `message` on ASCII whitespace into `out` (cleared first). A
/// double-quoted value of a key (`tag="View Lock"`), or a bracketed group with a digit in it (`(3.9
/// KB)`), spanning several pieces is one value.
pub(crate) fn tokenize(message: &str, out: &mut Vec<Token>) {
    out.clear();
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        i = piece_end(bytes, i);
        let first_end = i;
        let word = &bytes[start..first_end];
        if let Some(end) = group_end(bytes, word, first_end) {
            let key_end = key_end(word).map_or(end, |k| start + k);
            out.push(Token {
                start: start as u32,
                end: end as u32,
                key_end: key_end as u32,
                kind: if key_end < end {
                    Kind::KeyVar
                } else {
                    Kind::Var
                },
            });
            i = end;
            continue;
        }
        let mut token = classify(bytes, start, first_end);
        if token.kind == Kind::Const && is_calendar_word(word) && next_is_date_part(bytes, i) {
            token.kind = Kind::Var;
        }
        out.push(token);
    }
}

/// `Mon`, `Jul`, `July`: day and month names are the words of a date.
fn is_calendar_word(word: &[u8]) -> bool {
    const NAMES: [&[u8]; 19] = [
        b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun", b"jan", b"feb", b"mar", b"apr",
        b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
    ];
    // Most words are ruled out by their length alone.
    if !(3..=11).contains(&word.len()) {
        return false;
    }
    let word = trim_punctuation(word);
    word.len() >= 3
        && word.iter().all(u8::is_ascii_alphabetic)
        && NAMES.iter().any(|n| word[..3].eq_ignore_ascii_case(n))
        && (word.len() == 3 || is_full_calendar_name(word))
}

fn is_full_calendar_name(word: &[u8]) -> bool {
    const FULL: [&str; 19] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "sept",
    ];
    FULL.iter().any(|f| word.eq_ignore_ascii_case(f.as_bytes()))
}

/// A calendar word is a date's only when a number or another calendar word
/// follows (`Sun Jul  3`, `Jul 3`), not in `May I` or `Sun Microsystems`.
fn next_is_date_part(bytes: &[u8], mut i: usize) -> bool {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    let next = &bytes[i..piece_end(bytes, i)];
    next.first().is_some_and(u8::is_ascii_digit) || (!next.is_empty() && is_calendar_word(next))
}

fn piece_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Where a quoted string or a bracketed group with a digit that starts in
/// `word` (ending at `end`) ends, when it spans more than this piece.
fn group_end(bytes: &[u8], word: &[u8], end: usize) -> Option<usize> {
    let quotes = word.iter().filter(|&&b| b == b'"').count();
    // Only a quoted value (`tag="View Lock"`): a quoted phrase on its own
    // (`"GET /x HTTP/1.1"`) holds words that tell events apart.
    let (close, need_digit) = if quotes % 2 == 1 && key_end(word).is_some() {
        (b'"', false)
    } else {
        let open = word.iter().rposition(|&b| b == b'(' || b == b'[')?;
        let close = if word[open] == b'(' { b')' } else { b']' };
        if word[open..].contains(&close) {
            return None;
        }
        (close, true)
    };
    let mut digit = word.iter().any(u8::is_ascii_digit);
    let mut i = end;
    for _ in 0..GROUP_MAX {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            return None;
        }
        let start = i;
        i = piece_end(bytes, i);
        let piece = &bytes[start..i];
        digit |= piece.iter().any(u8::is_ascii_digit);
        if piece.contains(&close) {
            return (digit || !need_digit).then_some(i);
        }
    }
    None
}

/// The length of `key=` when `word` starts with a key (letters, no digit).
fn key_end(word: &[u8]) -> Option<usize> {
    let eq = word.iter().position(|&b| b == b'=')?;
    let key = &word[..eq];
    (eq + 1 < word.len()
        && key.iter().any(u8::is_ascii_alphabetic)
        && !key.iter().any(|b| b.is_ascii_digit() || *b == b'"'))
    .then_some(eq + 1)
}

fn classify(bytes: &[u8], start: usize, end: usize) -> Token {
    let word = &bytes[start..end];
    let token = |kind, key_end: usize| Token {
        start: start as u32,
        end: end as u32,
        key_end: key_end as u32,
        kind,
    };
    // `uid=0`, `name=com.android.phone,`: the key says what the value is.
    if let Some(k) = key_end(word) {
        return token(Kind::KeyVar, start + k);
    }
    let core = trim_punctuation(word);
    // `()`, `[]`, `""`: an empty value.
    if core.is_empty() && matches!(word, b"()" | b"[]" | b"{}" | b"\"\"" | b"''") {
        return token(Kind::Var, end);
    }
    if is_value(core) {
        return token(Kind::Var, end);
    }
    if core.iter().any(u8::is_ascii_digit) {
        return token(Kind::Shape, end);
    }
    token(Kind::Const, end)
}

fn trim_punctuation(word: &[u8]) -> &[u8] {
    let edge = |b: &u8| b"()[]{}<>\"',;:.!?".contains(b);
    let start = word.iter().position(|b| !edge(b)).unwrap_or(word.len());
    let end = word.iter().rposition(|b| !edge(b)).map_or(start, |e| e + 1);
    &word[start..end]
}

/// Numbers, hex ids, IPs, times, dates, versions, UUIDs, host names, paths
/// and URLs: things that name or measure, not words.
fn is_value(core: &[u8]) -> bool {
    let digits = core.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = core.iter().filter(|b| b.is_ascii_alphabetic()).count();
    if digits > 0 && letters == 0 {
        return true;
    }
    let hex = core.strip_prefix(b"0x").unwrap_or(core);
    if digits > 0
        && hex
            .iter()
            .all(|b| !b.is_ascii_alphabetic() || b.is_ascii_hexdigit())
    {
        // `a64f992`, `0x1f`, `96abccce-8d1f-…`; `ee0` (a short word) is not.
        return core.len() >= 6 || hex.len() < core.len();
    }
    if core.windows(3).any(|w| w == b"://") {
        return true;
    }
    let separators = core.iter().filter(|&&b| b == b'/' || b == b'\\').count();
    if separators >= 2 && letters > 0 {
        return true;
    }
    is_host_name(core)
}

/// `csnsu.nsuok.edu`, `proxy.example.com:5070`, `com.tencent.qt`:
/// lowercase dotted names with at least two dots.
fn is_host_name(core: &[u8]) -> bool {
    let dots = core.iter().filter(|&&b| b == b'.').count();
    let last = core.rsplit(|&b| b == b'.').next().unwrap_or_default();
    dots >= 2
        && last.iter().any(u8::is_ascii_lowercase)
        && last.iter().all(|b| !b.is_ascii_uppercase())
        && core
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(message: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        tokenize(message, &mut tokens);
        tokens
            .iter()
            .map(|t| match t.kind {
                Kind::Const => t.kept(message).to_string(),
                Kind::Shape => {
                    let mut s = String::new();
                    shape_text(t.kept(message), &mut s);
                    s
                }
                Kind::KeyVar => format!("{}<*>", t.kept(message)),
                Kind::Var => "<*>".to_string(),
            })
            .collect()
    }

    #[test]
    fn values_are_masked_by_shape() {
        assert_eq!(
            shapes("Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6"),
            ["Received", "block", "blk_<*>", "of", "size", "<*>", "from", "<*>"]
        );
        assert_eq!(
            shapes("  uid=0 euid=0   tty=NODEVssh 0x1f ruser= a64f992 ee0"),
            ["uid=<*>", "euid=<*>", "tty=<*>", "<*>", "ruser=", "<*>", "ee<*>"]
        );
        assert_eq!(
            shapes("open /etc/httpd/conf https://example.com a/b via proxy.example.com:80"),
            ["open", "<*>", "<*>", "a/b", "via", "<*>"]
        );
    }

    #[test]
    fn quoted_strings_and_bracketed_numbers_are_one_value() {
        assert_eq!(
            shapes("acquire tag=\"View Lock\", sent 5 bytes (4.5 KB) in (total time) \"a b\""),
            [
                "acquire", "tag=<*>", "sent", "<*>", "bytes", "<*>", "in", "(total", "time)",
                "\"a", "b\""
            ]
        );
    }

    #[test]
    fn digit_runs_are_values_inside_words() {
        assert!(shape_eq("node-148", "node-7"));
        assert!(shape_eq("SOCKS5", "SOCKS5"));
        assert!(!shape_eq("alt0", "ee0"));
        assert!(!shape_eq("node-1", "node-"));
        assert!(shape_eq(
            "plugged:e3871ffd-5cd5-4287-bddd-3529f7b59515",
            "plugged:1bb8c7a3-effa-4568"
        ));
    }

    #[test]
    fn dates_in_messages_are_values() {
        assert_eq!(
            shapes("connection from x () at Sun Jul  3 10:05:25 2005 May I"),
            [
                "connection",
                "from",
                "x",
                "<*>",
                "at",
                "<*>",
                "<*>",
                "<*>",
                "<*>",
                "<*>",
                "May",
                "I"
            ]
        );
    }

    #[test]
    fn empty_and_blank_messages_have_no_tokens() {
        assert!(shapes("").is_empty());
        assert!(shapes(" \t ").is_empty());
    }
}
