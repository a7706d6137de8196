//! Reading logs for triage: one line's time, level and message from the
//! common formats ([`parse_line`]), lines cut from a byte stream with a
//! bound on their length ([`LineSplitter`], the one `opsroom patterns`
//! uses too), and the sources a service's
//! `logs` names ([`sources`]), each streamed into a [`LineSink`] so that
//! memory does not grow with the size of the logs.

pub mod sources;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use opsroom_patterns::{sniff, Level};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::ops::ControlFlow;

pub use opsroom_patterns::lines::{LineSplitter, RawLines};

/// Lines longer than this (in bytes) are skipped and counted, not read.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// What one log line says.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine<'a> {
    /// When, if the line says.
    pub time: Option<DateTime<Utc>>,
    pub level: Option<Level>,
    /// The text to mine: the line without its timestamp, or a JSON line's
    /// message field.
    pub message: Cow<'a, str>,
}

/// Where lines go as a source reads them: each line as read ([`RawLines`],
/// cut by [`LineSplitter`] with [`MAX_LINE_BYTES`] as the limit), or
/// already taken apart.
pub trait LineSink: RawLines + Send {
    /// One line a source already took apart (Vercel's runtime logs).
    fn parsed(&mut self, line: LogLine<'_>) -> ControlFlow<()>;
}

/// Reads a line's time, level and message: a JSON object's fields (`ts`,
/// `time`, `timestamp`, `@timestamp`, `timestampInMs`; `level`,
/// `severity`, `lvl` as words or pino's numbers; `message`, `msg`), the
/// Apache/nginx common log format (`[10/Oct/2000:13:55:36 -0700]`, the
/// status giving the level), nginx's error log (`2024/05/01 12:00:00
/// [error]`), or a leading RFC 3339 / ISO 8601, syslog (in `year`) or epoch
/// timestamp and the first level word.
pub fn parse_line(text: &str, year: i32) -> LogLine<'_> {
    if text.starts_with('{') {
        if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) {
            return json_line(text, &fields, year);
        }
    }
    if let Some(line) = common_log_line(text) {
        return line;
    }
    if let Some(line) = slashed_date_line(text) {
        return line;
    }
    let (meta, message) = sniff(text, year);
    LogLine {
        time: meta.time,
        level: meta.level,
        message: Cow::Borrowed(message),
    }
}

fn json_line<'a>(text: &'a str, fields: &Map<String, Value>, year: i32) -> LogLine<'a> {
    let field = |names: &[&str]| names.iter().find_map(|n| fields.get(*n));
    let time = field(&[
        "ts",
        "time",
        "timestamp",
        "@timestamp",
        "timestampInMs",
        "date",
    ])
    .and_then(|v| match v {
        Value::Number(n) => n.as_f64().and_then(epoch_time),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .and_then(epoch_time)
            .or_else(|| sniff(s, year).0.time),
        _ => None,
    });
    let level =
        field(&["level", "severity", "lvl", "levelname", "log.level"]).and_then(|v| match v {
            Value::String(s) => Level::from_word(s),
            // pino / bunyan: 10 trace … 60 fatal.
            Value::Number(n) => n.as_u64().map(|n| match n {
                0..=19 => Level::Trace,
                20..=29 => Level::Debug,
                30..=39 => Level::Info,
                40..=49 => Level::Warn,
                50..=59 => Level::Error,
                _ => Level::Fatal,
            }),
            _ => None,
        });
    let message = match field(&["message", "msg", "log", "text", "event"]) {
        Some(Value::String(s)) => Cow::Owned(s.trim_end().to_string()),
        Some(other) if !other.is_null() => Cow::Owned(other.to_string()),
        _ => Cow::Borrowed(text),
    };
    let level = level.or_else(|| {
        message
            .split_ascii_whitespace()
            .take(6)
            .find_map(Level::from_word)
    });
    LogLine {
        time,
        level,
        message,
    }
}

/// Epoch seconds, milliseconds or microseconds, told apart by size.
fn epoch_time(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let millis = if n < 1e11 {
        n * 1000.0
    } else if n < 1e14 {
        n
    } else {
        n / 1000.0
    };
    Utc.timestamp_millis_opt(millis as i64).single()
}

/// `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 500 2326`:
/// the time in brackets; 5xx is an error, 4xx a warning.
fn common_log_line(text: &str) -> Option<LogLine<'_>> {
    let open = text.find(" [")? + 2;
    let close = open + text[open..].find(']')?;
    let stamp = &text[open..close];
    if stamp.len() != 26 {
        return None;
    }
    let time = DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z")
        .ok()?
        .with_timezone(&Utc);
    let rest = text[close + 1..].trim_start();
    let status = rest
        .rsplit_once('"')
        .map(|(_, after)| after)
        .and_then(|after| after.split_ascii_whitespace().next())
        .and_then(|s| s.parse::<u16>().ok());
    let level = match status {
        Some(500..=599) => Some(Level::Error),
        Some(400..=499) => Some(Level::Warn),
        Some(_) => Some(Level::Info),
        None => None,
    };
    Some(LogLine {
        time: Some(time),
        level,
        message: Cow::Borrowed(rest),
    })
}

/// nginx's error log: `2024/05/01 12:00:00 [error] 31#31: *1 …`.
fn slashed_date_line(text: &str) -> Option<LogLine<'_>> {
    let stamp = text.get(..19)?;
    if stamp.as_bytes()[4] != b'/' {
        return None;
    }
    let time = NaiveDateTime::parse_from_str(stamp, "%Y/%m/%d %H:%M:%S")
        .ok()?
        .and_utc();
    let message = text[19..].trim_start();
    let level = message
        .split_ascii_whitespace()
        .take(6)
        .find_map(Level::from_word);
    Some(LogLine {
        time: Some(time),
        level,
        message: Cow::Borrowed(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_levels_come_from_the_common_formats() {
        let t = |s: &str| parse_line(s, 2026).time.map(|t| t.to_rfc3339());
        let l = |s: &str| parse_line(s, 2026).level;
        let m = |s: &str| parse_line(s, 2026).message.into_owned();
        assert_eq!(
            t("2026-12-01T10:00:00Z ERROR payment failed").as_deref(),
            Some("2026-12-01T10:00:00+00:00")
        );
        assert_eq!(
            l("2026-12-01T10:00:00Z ERROR payment failed"),
            Some(Level::Error)
        );
        assert_eq!(
            m("2026-12-01T10:00:00Z ERROR payment failed"),
            "ERROR payment failed"
        );
        assert_eq!(
            t("Dec  1 10:00:00 host app[12]: warning disk").as_deref(),
            Some("2026-12-01T10:00:00+00:00")
        );
        assert_eq!(
            t(r#"127.0.0.1 - - [01/Dec/2026:11:00:00 +0100] "GET /pay HTTP/1.1" 502 12"#)
                .as_deref(),
            Some("2026-12-01T10:00:00+00:00")
        );
        assert_eq!(
            l(r#"127.0.0.1 - - [01/Dec/2026:11:00:00 +0100] "GET /pay HTTP/1.1" 502 12"#),
            Some(Level::Error)
        );
        assert_eq!(
            t("2026/12/01 10:00:00 [error] 31#31: upstream timed out").as_deref(),
            Some("2026-12-01T10:00:00+00:00")
        );
        assert_eq!(
            t("1796119200 worker started").as_deref(),
            Some("2026-12-01T10:00:00+00:00")
        );
        for json in [
            r#"{"ts": 1796119200, "level": "error", "msg": "charge declined"}"#,
            r#"{"time": 1796119200000, "level": 50, "msg": "charge declined"}"#,
            r#"{"@timestamp": "2026-12-01T10:00:00Z", "severity": "ERROR", "message": "charge declined"}"#,
            r#"{"timestamp": "2026-12-01T10:00:00.000Z", "lvl": "err", "msg": "charge declined"}"#,
        ] {
            assert_eq!(
                t(json).as_deref(),
                Some("2026-12-01T10:00:00+00:00"),
                "{json}"
            );
            assert_eq!(l(json), Some(Level::Error), "{json}");
            assert_eq!(m(json), "charge declined", "{json}");
        }
        assert_eq!(t("no time here"), None);
        assert_eq!(m("{not json"), "{not json");
    }
}
