//! What the client prints for people: colours by level and status, and
//! durations. Styled text goes through `anstream`, which drops the colours
//! when the stream is not a terminal or `NO_COLOR` is set, so pipes and
//! scripts get plain text.

use anstyle::{AnsiColor, Style};
use chrono::{DateTime, Utc};
use opsroom_core::{EventLevel, RunStatus};

/// `text` in `style`; the reset is written even for an empty style.
pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

fn fg(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(color.into()))
}

/// Red for failures, green for success, yellow for what waits on a person.
pub fn status_style(status: RunStatus) -> Style {
    match status {
        RunStatus::Succeeded => fg(AnsiColor::Green),
        RunStatus::Failed => fg(AnsiColor::Red).bold(),
        RunStatus::AwaitingApproval => fg(AnsiColor::Yellow),
        RunStatus::Running => fg(AnsiColor::Cyan),
        RunStatus::Queued => Style::new(),
        RunStatus::Cancelled | RunStatus::Rejected => fg(AnsiColor::BrightBlack),
    }
}

/// Errors stand out; debug lines recede.
pub fn level_style(level: EventLevel) -> Style {
    match level {
        EventLevel::Error => fg(AnsiColor::Red).bold(),
        EventLevel::Warn => fg(AnsiColor::Yellow),
        EventLevel::Info => Style::new(),
        EventLevel::Debug => fg(AnsiColor::BrightBlack),
    }
}

/// "850 ms", "12.4 s", "3 m 04 s", "2 h 05 m": what a person reads at a glance.
pub fn human_duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 1.0 {
        return format!("{:.0} ms", seconds * 1000.0);
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    if whole < 3600 {
        return format!("{} m {:02} s", whole / 60, whole % 60);
    }
    format!("{} h {:02} m", whole / 3600, (whole % 3600) / 60)
}

/// How long a run took, or has been running: `None` before it started.
pub fn run_duration(
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<f64> {
    let started = started?;
    let end = finished.unwrap_or(now);
    Some((end - started).num_milliseconds() as f64 / 1000.0)
}

/// `n thing` or `n things`.
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_duration(0.25), "250 ms");
        assert_eq!(human_duration(12.44), "12.4 s");
        assert_eq!(human_duration(184.0), "3 m 04 s");
        assert_eq!(human_duration(7500.0), "2 h 05 m");
        assert_eq!(human_duration(-3.0), "0 ms");
    }

    #[test]
    fn a_run_not_started_has_no_duration() {
        let now = Utc::now();
        assert_eq!(run_duration(None, None, now), None);
        let started = now - chrono::Duration::seconds(5);
        assert_eq!(run_duration(Some(started), None, now), Some(5.0));
        assert_eq!(
            run_duration(
                Some(started),
                Some(started + chrono::Duration::milliseconds(1500)),
                now
            ),
            Some(1.5)
        );
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "line"), "1 line");
        assert_eq!(plural(0, "line"), "0 lines");
        assert_eq!(plural(3, "artifact"), "3 artifacts");
    }
}
