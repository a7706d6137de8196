//! Lines per second of the incident runbook's reading and mining (its
//! action phase without the store): a log file read through the file
//! source into the runbook's intake, every line inside the window and its
//! baseline, then ranked. Prints lines, skipped, patterns and the rate.
//!
//! usage: incident_bench FILE TO(RFC 3339) MINUTES
//! e.g. `cargo run --release -p opsroom-engine --example incident_bench --
//! /tmp/opsroom-patterns-1g.log 2024-05-29T00:00:00Z 20160` (bench/incident_bench.sh)

use chrono::{DateTime, Utc};
use opsroom_engine::logs::sources::read_files;
use opsroom_engine::runbooks::incident::triage::{rank, Intake, Window};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, to, minutes] = args.as_slice() else {
        return Err("usage: incident_bench FILE TO(RFC 3339) MINUTES".into());
    };
    let to: DateTime<Utc> = DateTime::parse_from_rfc3339(to)
        .map_err(|e| format!("TO: {e}"))?
        .with_timezone(&Utc);
    let minutes: i64 = minutes.parse().map_err(|e| format!("MINUTES: {e}"))?;
    let window = Window::last(to, minutes);
    let mut intake = Intake::new(window, window.from, u64::MAX);
    let started = Instant::now();
    read_files(&[PathBuf::from(file)], &mut intake)?;
    let (mut patterns, _) = intake.patterns("bench", 0);
    rank(&mut patterns);
    let secs = started.elapsed().as_secs_f64();
    let read = intake.lines + intake.baseline_lines;
    println!(
        "{read} lines mined ({} in the window, {} in the baseline), {} skipped, {} outside, {} patterns in the window, {secs:.2} s, {:.0} lines/s",
        intake.lines,
        intake.baseline_lines,
        intake.skipped,
        intake.outside,
        patterns.len(),
        read as f64 / secs
    );
    Ok(())
}
