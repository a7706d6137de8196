//! Cron expressions in a time zone: five fields (minute hour day-of-month
//! month day-of-week), or six with seconds first, evaluated in an IANA time
//! zone (UTC when none is named).
//!
//! Expressions match the zone's wall clock. Daylight saving time:
//! - a local time that does not exist (the clock jumps from 02:00 to 03:00)
//!   does not fire: `30 2 * * *` skips that day, as the wall clock never
//!   shows 02:30 (the choice of cronie for times in a skipped hour of
//!   expressions that fire hourly, applied to every expression so that a
//!   fire never moves to a time the expression does not name);
//! - a local time that occurs twice (the clock goes back from 02:00 to
//!   01:00) fires once, at its first occurrence, as in Vixie cron and
//!   cronie: `30 1 * * *` runs once that night, and so does each minute of
//!   `* 1 * * *`.

use chrono::{DateTime, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use std::fmt;
use std::str::FromStr;

/// Why an expression or a time zone is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("cron {0}")]
    Cron(String),
    #[error("timezone {0}")]
    Timezone(String),
}

impl CronError {
    /// The field of the request that is wrong: `cron` or `timezone`.
    pub fn field(&self) -> &'static str {
        match self {
            CronError::Cron(_) => "cron",
            CronError::Timezone(_) => "timezone",
        }
    }
}

/// A checked cron expression with its time zone.
#[derive(Clone)]
pub struct CronSchedule {
    text: String,
    cron: croner::Cron,
    tz: Tz,
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronSchedule")
            .field("cron", &self.text)
            .field("timezone", &self.tz.name())
            .finish()
    }
}

/// The longest expression accepted, in characters.
const MAX_CRON_CHARS: usize = 200;

impl CronSchedule {
    /// Checks `cron` (five or six fields) and `timezone` (an IANA name;
    /// None: UTC). The error names what is wrong.
    pub fn parse(cron: &str, timezone: Option<&str>) -> Result<CronSchedule, CronError> {
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| {
                CronError::Timezone(format!(
                    "{:?} is not an IANA time zone name (like \"Europe/Paris\" or \"UTC\")",
                    shorten(name)
                ))
            })?,
        };
        let text = cron.trim();
        if text.chars().count() > MAX_CRON_CHARS {
            return Err(CronError::Cron(format!(
                "is {} characters long; at most {MAX_CRON_CHARS}",
                text.chars().count()
            )));
        }
        let fields = text.split_whitespace().count();
        if !(fields == 5 || fields == 6) {
            return Err(CronError::Cron(format!(
                "{:?} has {fields} fields; it needs five (minute hour day-of-month month day-of-week) or six (seconds first)",
                shorten(text)
            )));
        }
        let parsed = croner::Cron::new(text)
            .with_seconds_optional()
            .parse()
            .map_err(|e| CronError::Cron(format!("{:?} is not valid: {e}", shorten(text))))?;
        Ok(CronSchedule {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            cron: parsed,
            tz,
        })
    }

    /// The expression, with its fields separated by single spaces.
    pub fn cron(&self) -> &str {
        &self.text
    }

    /// The time zone's IANA name.
    pub fn timezone(&self) -> &str {
        self.tz.name()
    }

    /// The first fire strictly after `t`; None if there is none.
    ///
    /// The expression is matched against the zone's wall clock: croner walks
    /// wall times (as if the zone had no DST), and each match is placed on
    /// the real time line. A wall time that does not exist (a jump forward)
    /// is not a fire; one that exists twice (a jump back) is a fire at its
    /// first occurrence only.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = Utc.from_utc_datetime(&t.with_timezone(&self.tz).naive_local());
        // Bounded: every round moves the wall time forward; a wall time
        // behind `t` only happens within one repeated hour.
        for _ in 0..10_000 {
            let next = self.cron.find_next_occurrence(&wall, false).ok()?;
            let fire = match self.tz.from_local_datetime(&next.naive_utc()) {
                LocalResult::Single(at) => Some(at),
                LocalResult::Ambiguous(first, _) => Some(first),
                LocalResult::None => None,
            };
            if let Some(at) = fire.map(|at| at.with_timezone(&Utc)) {
                if at > t {
                    return Some(at);
                }
            }
            wall = next;
        }
        None
    }

    /// The next `n` fires strictly after `t`.
    pub fn next_n(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut from = t;
        while out.len() < n {
            match self.next_after(from) {
                Some(next) => {
                    out.push(next);
                    from = next;
                }
                None => break,
            }
        }
        out
    }
}

/// A value as shown in an error: at most 60 characters.
fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        s.chars().take(60).chain(['…']).collect()
    } else {
        s.to_string()
    }
}
