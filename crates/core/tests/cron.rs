//! Cron expressions in time zones: fields, errors, and daylight saving time.

use chrono::{DateTime, TimeZone, Utc};
use opsroom_core::cron::{CronError, CronSchedule};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn fires(cron: &str, tz: Option<&str>, after: &str, n: usize) -> Vec<String> {
    CronSchedule::parse(cron, tz)
        .unwrap()
        .next_n(utc(after), n)
        .into_iter()
        .map(|t| t.to_rfc3339())
        .collect()
}

#[test]
fn five_fields_in_utc_by_default() {
    assert_eq!(
        fires("*/5 * * * *", None, "2026-12-01T10:02:30Z", 3),
        [
            "2026-12-01T10:05:00+00:00",
            "2026-12-01T10:10:00+00:00",
            "2026-12-01T10:15:00+00:00"
        ]
    );
}

#[test]
fn six_fields_have_seconds_first() {
    assert_eq!(
        fires("*/20 * * * * *", None, "2026-12-01T10:00:00Z", 3),
        [
            "2026-12-01T10:00:20+00:00",
            "2026-12-01T10:00:40+00:00",
            "2026-12-01T10:01:00+00:00"
        ]
    );
}

#[test]
fn a_fire_is_strictly_after_the_given_time() {
    let s = CronSchedule::parse("0 9 * * *", None).unwrap();
    let at = utc("2026-12-01T09:00:00Z");
    assert_eq!(s.next_after(at), Some(utc("2026-12-02T09:00:00Z")));
}

#[test]
fn the_time_zone_is_the_wall_clock() {
    // 09:00 in Paris is 08:00 UTC in winter, 07:00 UTC in summer.
    assert_eq!(
        fires("0 9 * * *", Some("Europe/Paris"), "2026-12-01T00:00:00Z", 1),
        ["2026-12-01T08:00:00+00:00"]
    );
    assert_eq!(
        fires("0 9 * * *", Some("Europe/Paris"), "2026-07-01T00:00:00Z", 1),
        ["2026-07-01T07:00:00+00:00"]
    );
}

#[test]
fn a_skipped_local_time_does_not_fire() {
    // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 never shows.
    assert_eq!(
        fires(
            "30 2 * * *",
            Some("America/New_York"),
            "2026-03-07T12:00:00Z",
            2
        ),
        [
            "2026-03-09T06:30:00+00:00", // 02:30 EDT the next day
            "2026-03-10T06:30:00+00:00"
        ]
    );
    // An hourly expression simply has no 02:00 that day.
    assert_eq!(
        fires(
            "0 * * * *",
            Some("America/New_York"),
            "2026-03-08T05:30:00Z",
            2
        ),
        [
            "2026-03-08T06:00:00+00:00", // 01:00 EST
            "2026-03-08T07:00:00+00:00"  // 03:00 EDT
        ]
    );
}

#[test]
fn a_repeated_local_hour_fires_once() {
    // New York, 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:30 happens twice.
    assert_eq!(
        fires(
            "30 1 * * *",
            Some("America/New_York"),
            "2026-10-31T12:00:00Z",
            2
        ),
        [
            "2026-11-01T05:30:00+00:00", // 01:30 EDT, the first one
            "2026-11-02T06:30:00+00:00"  // 01:30 EST the next day
        ]
    );
    // Hourly: 00:00 EDT, 01:00 EDT, then 02:00 EST (01:00 EST is the same wall time).
    assert_eq!(
        fires(
            "0 * * * *",
            Some("America/New_York"),
            "2026-11-01T03:30:00Z",
            3
        ),
        [
            "2026-11-01T04:00:00+00:00",
            "2026-11-01T05:00:00+00:00",
            "2026-11-01T07:00:00+00:00"
        ]
    );
    // From inside the second pass, the next fire is after it.
    let s = CronSchedule::parse("*/30 * * * *", Some("America/New_York")).unwrap();
    let second_pass_0115 = Utc.with_ymd_and_hms(2026, 11, 1, 6, 15, 0).unwrap();
    assert_eq!(
        s.next_after(second_pass_0115),
        Some(utc("2026-11-01T07:00:00Z"))
    );
}

#[test]
fn bad_input_is_named() {
    let e = CronSchedule::parse("* * *", None).unwrap_err();
    assert_eq!(e.field(), "cron");
    assert!(e.to_string().contains("3 fields"), "{e}");
    let e = CronSchedule::parse("61 * * * *", None).unwrap_err();
    assert_eq!(e.field(), "cron");
    let e = CronSchedule::parse("* * * * * * *", None).unwrap_err();
    assert!(e.to_string().contains("7 fields"), "{e}");
    let e = CronSchedule::parse("0 9 * * *", Some("Mars/Olympus")).unwrap_err();
    assert!(matches!(e, CronError::Timezone(_)));
    assert!(e.to_string().contains("Mars/Olympus"), "{e}");
}

#[test]
fn an_expression_that_never_fires_has_no_next() {
    let s = CronSchedule::parse("0 0 31 2 *", None).unwrap();
    assert_eq!(s.next_after(utc("2026-01-01T00:00:00Z")), None);
}
