//! What the incident tests share: how a time is written in a log line,
//! an older error recurring since 100 minutes ago, a run asked for and
//! waited for, its `triage.json`, and the check of §8's shape.

use super::{Api, Finished, NewRun};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use opsroom_core::RunStatus;
use serde_json::Value;

/// A time as log lines write it.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Asks for `run` and waits for its end.
pub async fn finish(api: &Api, run: NewRun<'_>) -> Finished {
    let id = api.submit(run).await;
    Finished::load(api, id).await
}

/// `triage.json` of a finished incident run.
pub fn triage_json(done: &Finished) -> Value {
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    serde_json::from_str(&done.artifact("triage.json").content).expect("triage.json is JSON")
}

/// Lines of an older error that recurs every 5 minutes from 100 minutes
/// ago, and info lines beside it.
pub fn recurring_lines(now: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut t = now - Duration::minutes(100);
    let mut n = 0;
    while t < until {
        lines.push(format!(
            "{} ERROR db pool exhausted after {} ms waiting for a connection",
            ts(t),
            100 + n
        ));
        lines.push(format!("{} INFO GET /health 200 in {} ms", ts(t), n % 7));
        t += Duration::minutes(5);
        n += 1;
    }
    lines
}

/// Checks every field of `triage.json` (§8's shape) and returns its top
/// pattern.
pub fn check_shape(triage: &Value) -> &Value {
    let from = triage["window"]["from"].as_str().expect("window.from");
    let to = triage["window"]["to"].as_str().expect("window.to");
    let (from, to) = (
        DateTime::parse_from_rfc3339(from).unwrap(),
        DateTime::parse_from_rfc3339(to).unwrap(),
    );
    assert_eq!(
        to - from,
        Duration::minutes(60),
        "the default window is an hour"
    );
    assert!(triage["lines"].as_u64().is_some(), "lines: {triage}");
    assert!(triage["skipped"].as_u64().is_some(), "skipped: {triage}");
    assert!(triage.get("remediation").is_some(), "remediation: {triage}");
    let patterns = triage["patterns"].as_array().expect("patterns");
    assert!(!patterns.is_empty());
    let total: u64 = patterns.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(
        total,
        triage["lines"].as_u64().unwrap(),
        "each line is in one pattern"
    );
    for p in patterns {
        assert!(p["id"].as_u64().is_some(), "{p}");
        assert!(p["template"].as_str().is_some(), "{p}");
        assert!(p["count"].as_u64().unwrap() > 0, "{p}");
        assert!(p["level"].is_string() || p["level"].is_null(), "{p}");
        for key in ["first_seen", "last_seen"] {
            DateTime::parse_from_rfc3339(p[key].as_str().unwrap())
                .unwrap_or_else(|e| panic!("{key} of {p}: {e}"));
        }
        assert!(p["new"].is_boolean(), "{p}");
        assert!(p["spike"].as_f64().is_some(), "{p}");
        assert!(p["example"].as_str().is_some(), "{p}");
        let suspect = &p["suspect"];
        if !suspect.is_null() {
            match suspect["source"].as_str() {
                Some("opsroom") => assert!(suspect["run_id"].as_i64().is_some(), "{p}"),
                Some(_) => assert!(suspect["run_id"].is_null(), "made outside opsroom: {p}"),
                None => panic!("a suspect says where it is known from: {p}"),
            }
            assert!(suspect["deployment"].is_string(), "{p}");
            assert!(suspect["ref"].is_string(), "{p}");
            DateTime::parse_from_rfc3339(suspect["finished_at"].as_str().unwrap()).unwrap();
        }
    }
    &patterns[0]
}

/// The recurring error and info lines up to now, and a new error three
/// times from just after `after`, in time order.
pub fn log_with_new_error_after(now: DateTime<Utc>, after: DateTime<Utc>) -> String {
    let mut lines = recurring_lines(now, now);
    for i in 0..3 {
        lines.push(format!(
            "{} ERROR checkout failed: amount of cart c{i} is undefined",
            ts(after + Duration::seconds(2 + i))
        ));
    }
    lines.sort();
    lines.join("\n") + "\n"
}
