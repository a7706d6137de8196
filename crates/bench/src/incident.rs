//! `--only incident`: the incident runbook end to end on generated logs.
//! About `--incident-mb` MiB of application log lines (timed over the last two
//! hours: the runbook's window and its baseline, so every line is read and
//! mined) are written to a temp file, a server is started with a `prod`
//! env whose `payments` service reads that file, and one incident run is
//! asked for through the API and waited for. The wall time is the request
//! to the run's end; lines/s counts every line of the file.

use super::{failed, row, scratch, BenchArgs, BenchError, BenchResult, Server};
use chrono::{Duration as Span, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Message kinds of the generated log: a level and a text with values.
const KINDS: [(&str, &str); 8] = [
    (
        "INFO",
        "request GET /api/v1/orders/{n} from 10.0.{a}.{b} took {ms} ms status=200",
    ),
    (
        "INFO",
        "user u{a} logged in from 10.1.{b}.{a} session={hex}",
    ),
    ("WARN", "slow query on table orders took {ms} ms rows={n}"),
    (
        "ERROR",
        "connection to db-{a}.prod.internal:5432 refused after {b} attempts",
    ),
    ("INFO", "worker {a} picked job {n} from queue payments"),
    (
        "ERROR",
        "PaymentIntent pi_{hex} failed: card_declined after {ms} ms",
    ),
    ("INFO", "cache hit ratio {a}.{b}% over {n} keys"),
    (
        "WARN",
        "rate limit reached for client 10.2.{a}.{b} ({ms} requests in 60 s)",
    ),
];

/// Writes about `bytes` of log lines timed from two hours ago to now, in
/// order; returns how many lines.
fn write_logs(path: &Path, bytes: u64) -> BenchResult<u64> {
    const AVERAGE_LINE: u64 = 90;
    let lines = (bytes / AVERAGE_LINE).max(1);
    let start = Utc::now() - Span::minutes(119);
    let step_us = (119 * 60 * 1_000_000) / lines as i64;
    let file = std::fs::File::create(path).map_err(failed)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut seed: u64 = 12;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    for i in 0..lines {
        let at = start + Span::microseconds(step_us * i as i64);
        let (level, text) = KINDS[(next() % KINDS.len() as u64) as usize];
        let text = text
            .replace("{n}", &(next() % 1_000_000).to_string())
            .replace("{a}", &(next() % 256).to_string())
            .replace("{b}", &(next() % 256).to_string())
            .replace("{ms}", &(next() % 900).to_string())
            .replace("{hex}", &format!("{:08x}", next()));
        writeln!(
            out,
            "{} {level} {text}",
            at.to_rfc3339_opts(SecondsFormat::Millis, true)
        )
        .map_err(failed)?;
    }
    out.flush().map_err(failed)?;
    Ok(lines)
}

/// One incident run over `--incident-mb` MiB of generated logs.
pub(super) async fn measure_incident(
    kind: &str,
    args: &BenchArgs,
    http: &reqwest::Client,
) -> BenchResult<()> {
    if args.incident_mb == 0 {
        return Err(BenchError::input("--incident-mb must be positive"));
    }
    let dir = std::env::temp_dir().join(format!("opsroom_bench_incident_{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(failed)?;
    let log = dir.join("payments.log");
    let lines = write_logs(&log, args.incident_mb << 20)?;
    let size = std::fs::metadata(&log).map_err(failed)?.len();
    let config = dir.join("opsroom.toml");
    std::fs::write(
        &config,
        format!(
            "[[environments.prod.services]]\nname = \"payments\"\nkind = \"opsroom_db\"\nlogs = {{ kind = \"file\", path = \"{}\" }}\n",
            log.display()
        ),
    )
    .map_err(failed)?;
    let db = scratch(kind, &args.postgres_url, 5).await?;
    db.store().await?;
    let server = Server::spawn(&db.url, 1, 1, Some(&config)).await?;
    let result = triage_once(http, &server.url).await;
    server.stop().await;
    db.drop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let (took, triage) = result?;
    let secs = took.as_secs_f64();
    row(
        &format!(
            "incident triage, file source of {:.0} MiB ({lines} lines: {} in the window, {} patterns)",
            size as f64 / (1 << 20) as f64,
            triage["lines"],
            triage["patterns"].as_array().map_or(0, Vec::len)
        ),
        format!(
            "{secs:.2} s request → report, {:.0} lines/s, {:.0} MiB/s",
            lines as f64 / secs,
            size as f64 / (1 << 20) as f64 / secs
        ),
    );
    Ok(())
}

/// Asks for the incident run and waits for its end: the time it took and
/// its `triage.json`.
async fn triage_once(http: &reqwest::Client, url: &str) -> BenchResult<(Duration, Value)> {
    let started = Instant::now();
    let run: Value = http
        .post(format!("{url}/api/v1/runs"))
        .json(
            &json!({"runbook": "incident", "env": "prod", "target": "payments",
                      "params": {"max_lines": 100_000_000}}),
        )
        .send()
        .await
        .map_err(failed)?
        .json()
        .await
        .map_err(failed)?;
    let id = run["id"]
        .as_i64()
        .ok_or_else(|| BenchError::server(format!("no run id in {run}")))?;
    let run = loop {
        let run: Value = http
            .get(format!("{url}/api/v1/runs/{id}"))
            .send()
            .await
            .map_err(failed)?
            .json()
            .await
            .map_err(failed)?;
        if ["succeeded", "failed", "cancelled"].contains(&run["status"].as_str().unwrap_or("")) {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = started.elapsed();
    if run["status"] != "succeeded" {
        return Err(BenchError::server(format!("the incident run ended {run}")));
    }
    let artifacts: Value = http
        .get(format!("{url}/api/v1/runs/{id}/artifacts"))
        .send()
        .await
        .map_err(failed)?
        .json()
        .await
        .map_err(failed)?;
    let triage = artifacts
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == "triage.json")
        .and_then(|a| a["content"].as_str())
        .and_then(|c| serde_json::from_str(c).ok())
        .ok_or_else(|| BenchError::server(format!("no triage.json among {artifacts}")))?;
    Ok((took, triage))
}
