//! Following a run live over SSE: events as they come, a progress line
//! (status, phase, elapsed time) on a terminal, reconnects that resume
//! from the last seq, and the run's outcome as the exit code.

use crate::client::{api_error, Api, CliResult};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Prints one event as a log line.
pub fn print_event(e: &Value) {
    let ts = e["ts"].as_str().and_then(|t| t.get(11..23)).unwrap_or("");
    let level = e["level"].as_str().unwrap_or("info").to_uppercase();
    let phase = e["phase"]
        .as_str()
        .map(|p| format!("[{p}] "))
        .unwrap_or_default();
    println!(
        "{ts} {level:<5} {phase}{}",
        e["message"].as_str().unwrap_or("")
    );
}

struct Progress {
    enabled: bool,
    started: Instant,
    phase: String,
    status: String,
    shown: bool,
}

impl Progress {
    fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            self.shown = false;
        }
    }

    fn draw(&mut self) {
        if !self.enabled {
            return;
        }
        eprint!(
            "\r\x1b[2K⏳ {} · phase {} · {:.1} s",
            self.status,
            self.phase,
            self.started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
        self.shown = true;
    }

    fn observe(&mut self, e: &Value) {
        if let Some(p) = e["phase"].as_str() {
            self.phase = p.to_string();
        }
        match e["data"]["kind"].as_str() {
            Some("attempt_start") => self.status = "running".into(),
            Some("created") => {
                self.status = e["data"]["status"].as_str().unwrap_or("queued").into()
            }
            Some("approved") => self.status = "queued".into(),
            _ => {}
        }
    }
}

/// Streams run `id` from seq `after` until its `end` event.
pub async fn follow(api: &Api, id: i64, mut after: i64) -> CliResult<ExitCode> {
    let mut progress = Progress {
        enabled: std::io::stderr().is_terminal(),
        started: Instant::now(),
        phase: "-".into(),
        status: "queued".into(),
        shown: false,
    };
    let mut failures = 0;
    loop {
        let response = api
            .request(Method::GET, &format!("/api/v1/runs/{id}/events/stream"))
            .header("last-event-id", after.to_string())
            .send()
            .await;
        let response = match response {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                return Err(api_error(status, &body));
            }
            Err(e) if failures < 10 => {
                failures += 1;
                progress.clear();
                eprintln!("connection lost ({e}); reconnecting from event {after}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(e) => return Err(api.unreachable(e)),
        };
        failures = 0;
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                chunk = body.next() => match chunk {
                    Some(Ok(bytes)) => {
                        buffer.push_str(&String::from_utf8_lossy(&bytes));
                        while let Some(pos) = buffer.find("\n\n") {
                            let block: String = buffer.drain(..pos + 2).collect();
                            let (name, data) = parse_block(&block);
                            match name.as_deref() {
                                Some("end") => {
                                    progress.clear();
                                    return Ok(finish(id, &data, progress.started));
                                }
                                _ if !data.is_empty() => {
                                    let event: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                                    after = event["seq"].as_i64().unwrap_or(after);
                                    progress.observe(&event);
                                    progress.clear();
                                    print_event(&event);
                                    progress.draw();
                                }
                                _ => {}
                            }
                        }
                    }
                    // Dropped: reconnect from the last seq seen.
                    Some(Err(_)) | None => break,
                },
                _ = tick.tick() => progress.draw(),
            }
        }
    }
}

/// Event name and joined data lines of one SSE block.
fn parse_block(block: &str) -> (Option<String>, String) {
    let mut name = None;
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (name, data.join("\n"))
}

fn finish(id: i64, data: &str, started: Instant) -> ExitCode {
    let end: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let status = end["status"].as_str().unwrap_or("unknown");
    let took = started.elapsed().as_secs_f64();
    match end["error"].as_str() {
        Some(err) if status != "succeeded" => {
            eprintln!("run {id} {status} after {took:.1} s: {err}")
        }
        _ => eprintln!("run {id} {status} after {took:.1} s"),
    }
    if status == "succeeded" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
