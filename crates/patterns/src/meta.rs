//! A line's time and level, when the caller has not parsed them itself:
//! [`sniff`] reads a leading timestamp and a level word, and returns the
//! message without the timestamp (so dates do not split patterns).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

/// A log level, from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// Reads the usual level words (`WARN`, `warning`, `ERR`, `[error]`,
    /// `CRITICAL:` …), ignoring case and surrounding brackets or colons.
    pub fn from_word(word: &str) -> Option<Level> {
        const WORDS: [(&str, Level); 22] = [
            ("trace", Level::Trace),
            ("finest", Level::Trace),
            ("finer", Level::Trace),
            ("debug", Level::Debug),
            ("dbg", Level::Debug),
            ("fine", Level::Debug),
            ("info", Level::Info),
            ("information", Level::Info),
            ("informational", Level::Info),
            ("notice", Level::Notice),
            ("warn", Level::Warn),
            ("warning", Level::Warn),
            ("error", Level::Error),
            ("err", Level::Error),
            ("severe", Level::Error),
            ("fatal", Level::Fatal),
            ("critical", Level::Fatal),
            ("crit", Level::Fatal),
            ("panic", Level::Fatal),
            ("emerg", Level::Fatal),
            ("emergency", Level::Fatal),
            ("alert", Level::Fatal),
        ];
        let word = word.trim_matches(|c: char| !c.is_ascii_alphabetic());
        WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|(_, level)| *level)
    }

    /// The lowercase name (`warn`, `error`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// What is known about a line besides its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineMeta {
    pub time: Option<DateTime<Utc>>,
    pub level: Option<Level>,
}

/// How many leading tokens may hold the level word (`host app[12]: ERROR …`).
const LEVEL_WINDOW: usize = 6;

/// Reads a leading timestamp (RFC 3339 / ISO 8601 with `T` or a space and an
/// optional fraction and offset, `[…]` around it allowed; syslog's
/// `Jun 14 15:16:01`, taken in `year_for_syslog`; epoch seconds or
/// milliseconds) and the first level word among the first tokens. Returns
/// them with the message: the line without its timestamp.
pub fn sniff(line: &str, year_for_syslog: i32) -> (LineMeta, &str) {
    let (time, rest) = match leading_time(line, year_for_syslog) {
        Some((time, len)) => (Some(time), &line[len..]),
        None => (None, line),
    };
    let message = rest.trim_start();
    let level = message
        .split_ascii_whitespace()
        .take(LEVEL_WINDOW)
        .find_map(Level::from_word);
    (LineMeta { time, level }, message)
}

/// A timestamp at the start of `line` and the bytes it takes.
fn leading_time(line: &str, year_for_syslog: i32) -> Option<(DateTime<Utc>, usize)> {
    let open = usize::from(line.starts_with('['));
    let text = &line[open..];
    let (time, len) = iso_time(text)
        .or_else(|| syslog_time(text, year_for_syslog))
        .or_else(|| epoch_time(text))?;
    let close = usize::from(open == 1 && text[len..].starts_with(']'));
    Some((time, open + len + close))
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = b.get(at..at + n)?;
    part.iter().all(u8::is_ascii_digit).then(|| {
        part.iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    })
}

/// `2024-05-01T12:00:00.123+02:00`, `2024-05-01 12:00:00,978`, `…Z`.
fn iso_time(text: &str) -> Option<(DateTime<Utc>, usize)> {
    let b = text.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    let (month, day) = (digits(b, 5, 2)?, digits(b, 8, 2)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (h, m, s) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    let mut at = 19;
    let mut nanos = 0u32;
    if matches!(b.get(at), Some(b'.' | b',')) && b.get(at + 1).is_some_and(u8::is_ascii_digit) {
        at += 1;
        let mut scale = 100_000_000;
        while let Some(d) = b.get(at).filter(|d| d.is_ascii_digit()) {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
            at += 1;
        }
    }
    let naive =
        NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_nano_opt(h, m, s, nanos)?;
    let mut offset_s: i64 = 0;
    match b.get(at) {
        Some(b'Z') => at += 1,
        Some(sign @ (b'+' | b'-')) => {
            let oh = digits(b, at + 1, 2)?;
            let colon = usize::from(b.get(at + 3) == Some(&b':'));
            let om = digits(b, at + 3 + colon, 2)?;
            let total = i64::from(oh * 3600 + om * 60);
            offset_s = if *sign == b'+' { total } else { -total };
            at += 5 + colon;
        }
        _ => {}
    }
    let time = Utc.from_utc_datetime(&naive) - chrono::Duration::seconds(offset_s);
    Some((time, at))
}

/// `Jun 14 15:16:01` (day may be space-padded).
fn syslog_time(text: &str, year: i32) -> Option<(DateTime<Utc>, usize)> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| text.starts_with(m))? as u32 + 1;
    let b = text.as_bytes();
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut at = 4;
    if b.get(at) == Some(&b' ') {
        at += 1;
    }
    let day_len = if b.get(at + 1).is_some_and(u8::is_ascii_digit) {
        2
    } else {
        1
    };
    let day = digits(b, at, day_len)?;
    at += day_len;
    if b.get(at) != Some(&b' ') || b.get(at + 3) != Some(&b':') || b.get(at + 6) != Some(&b':') {
        return None;
    }
    let (h, m, s) = (
        digits(b, at + 1, 2)?,
        digits(b, at + 4, 2)?,
        digits(b, at + 7, 2)?,
    );
    let naive: NaiveDateTime = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(h, m, s)?;
    Some((Utc.from_utc_datetime(&naive), at + 9))
}

/// Ten digits (seconds) or thirteen (milliseconds) followed by a space or
/// the end, between 2001 and 2286.
fn epoch_time(text: &str) -> Option<(DateTime<Utc>, usize)> {
    let len = text.bytes().take_while(u8::is_ascii_digit).count();
    if !(text.len() == len || text.as_bytes()[len].is_ascii_whitespace()) {
        return None;
    }
    let n: i64 = text[..len].parse().ok()?;
    let time = match len {
        10 => DateTime::from_timestamp(n, 0)?,
        13 => DateTime::from_timestamp_millis(n)?,
        _ => return None,
    };
    (time.year() > 2000).then_some((time, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn iso_timestamps_with_fraction_and_offset() {
        let (meta, msg) = sniff("2024-05-01T12:00:00.250+02:00 ERROR payment failed", 2024);
        assert_eq!(meta.time, Some(at("2024-05-01T10:00:00.250Z")));
        assert_eq!(meta.level, Some(Level::Error));
        assert_eq!(msg, "ERROR payment failed");
        let (meta, msg) = sniff("[2015-10-18 18:01:47,978] INFO main started", 2024);
        assert_eq!(meta.time, Some(at("2015-10-18T18:01:47.978Z")));
        assert_eq!(meta.level, Some(Level::Info));
        assert_eq!(msg, "INFO main started");
    }

    #[test]
    fn syslog_and_epoch_timestamps() {
        let (meta, msg) = sniff("Jun  4 15:16:01 combo sshd[1]: warning: bad", 2005);
        assert_eq!(meta.time, Some(at("2005-06-04T15:16:01Z")));
        assert_eq!(meta.level, Some(Level::Warn));
        assert_eq!(msg, "combo sshd[1]: warning: bad");
        let (meta, msg) = sniff("1117838570 node up", 2024);
        assert_eq!(meta.time, Some(at("2005-06-03T22:42:50Z")));
        assert_eq!(msg, "node up");
        let (meta, _) = sniff("1117838570123 x", 2024);
        assert_eq!(meta.time, Some(at("2005-06-03T22:42:50.123Z")));
    }

    #[test]
    fn lines_without_a_timestamp_are_kept_whole() {
        let (meta, msg) = sniff("12345 items processed", 2024);
        assert_eq!(meta, LineMeta::default());
        assert_eq!(msg, "12345 items processed");
        let (meta, msg) = sniff("2024-13-01T00:00:00Z bad month", 2024);
        assert_eq!(meta.time, None);
        assert_eq!(msg, "2024-13-01T00:00:00Z bad month");
    }
}
