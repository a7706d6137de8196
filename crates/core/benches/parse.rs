//! Parser speed on one core: throughput over the labelled corpus and the
//! latency distribution of one 10-word command. std::time only.
//!
//! Run: `cargo bench -p opsroom-core --bench parse`

use opsroom_core::catalog::{load_custom_dir_entries, Catalog};
use opsroom_core::parser::{parse, EnvInfo, ParseContext};
use std::hint::black_box;
use std::time::{Duration, Instant};

const TUNING: &str = include_str!("../tests/corpus/tuning.txt");
const HELDOUT: &str = include_str!("../tests/corpus/heldout.txt");
const RESTART: &str = include_str!("../tests/fixtures/runbooks/restart_service.toml");
const SMOKE: &str = include_str!("../tests/fixtures/runbooks/smoke_test.toml");

/// A 10-word command.
const COMMAND: &str = "please deploy the payments service to production from main now";

fn main() {
    let (custom, errors) = load_custom_dir_entries(vec![
        ("restart_service.toml".into(), RESTART.into()),
        ("smoke_test.toml".into(), SMOKE.into()),
    ]);
    assert!(errors.is_empty(), "{errors:?}");
    let catalog = Catalog::with_custom(custom).expect("catalog");
    let envs = EnvInfo::defaults();
    let services: Vec<String> = ["web", "api", "worker", "payments", "auth", "db"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let ctx = ParseContext {
        catalog: &catalog,
        envs: &envs,
        services: &services,
        default_env: None,
    };
    assert_eq!(COMMAND.split_whitespace().count(), 10);
    let lines: Vec<&str> = TUNING
        .lines()
        .chain(HELDOUT.lines())
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(" | ").next().unwrap_or(l))
        .collect();

    // Warm up caches and the branch predictor.
    for line in lines.iter().cycle().take(20_000) {
        black_box(parse(black_box(line), &ctx).ok());
    }

    // Throughput: the whole corpus, over and over, for about two seconds.
    let budget = Duration::from_secs(2);
    let start = Instant::now();
    let mut parses = 0u64;
    while start.elapsed() < budget {
        for line in &lines {
            black_box(parse(black_box(line), &ctx).ok());
        }
        parses += lines.len() as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "corpus throughput: {:.0} parses/s on one core ({} distinct commands, {parses} parses in {elapsed:.2} s)",
        parses as f64 / elapsed,
        lines.len()
    );

    // Same for the 10-word command alone.
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            black_box(parse(black_box(COMMAND), &ctx).ok());
        }
        n += 1000;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "10-word command throughput: {:.0} parses/s on one core",
        n as f64 / elapsed
    );

    // Latency: every parse timed on its own.
    let samples = 200_000;
    let mut nanos: Vec<u64> = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        black_box(parse(black_box(COMMAND), &ctx).ok());
        nanos.push(t.elapsed().as_nanos() as u64);
    }
    nanos.sort_unstable();
    let at = |q: f64| nanos[((samples as f64 * q) as usize).min(samples - 1)] as f64 / 1000.0;
    println!(
        "10-word command latency over {samples} parses: p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {:.2} µs",
        at(0.50),
        at(0.99),
        at(0.999),
        nanos[samples - 1] as f64 / 1000.0
    );
    let parsed = parse(COMMAND, &ctx).expect("valid command");
    println!(
        "command: {COMMAND:?} -> {}",
        serde_json::to_string(&parsed).expect("json")
    );
}
