//! Following a run live over SSE: events as they come, a progress line
//! (status, phase, elapsed time) on a terminal, reconnects that resume
//! from the last seq, and the run's outcome as the exit code.

use crate::client::CliResult;
use opsroom_core::{RunId, RunStatus, Seq};
use opsroom_server::client::{ApiClient, ClientError, StreamItem};
use opsroom_server::views::{EventView, StreamEnd};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Prints one event as a log line.
pub fn print_event(e: &EventView) {
    let ts = e.ts.format("%H:%M:%S%.3f");
    let level = e.level.as_str().to_uppercase();
    let phase = e.phase.map(|p| format!("[{p}] ")).unwrap_or_default();
    println!("{ts} {level:<5} {phase}{}", e.message);
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

    fn observe(&mut self, e: &EventView) {
        if let Some(p) = e.phase {
            self.phase = p.to_string();
        }
        match e.data["kind"].as_str() {
            Some("attempt_start") => self.status = "running".into(),
            Some("created") => self.status = e.data["status"].as_str().unwrap_or("queued").into(),
            Some("approved") => self.status = "queued".into(),
            _ => {}
        }
    }
}

/// Streams run `id` from seq `after` until its `end` event.
pub async fn follow(api: &ApiClient, id: RunId, mut after: Seq) -> CliResult<ExitCode> {
    let mut progress = Progress {
        enabled: std::io::stderr().is_terminal(),
        started: Instant::now(),
        phase: "-".into(),
        status: "queued".into(),
        shown: false,
    };
    let mut failures = 0;
    loop {
        let mut stream = match api.stream(id, after).await {
            Ok(s) => s,
            Err(ClientError::Unreachable { cause, .. }) if failures < 10 => {
                failures += 1;
                progress.clear();
                eprintln!("connection lost ({cause}); reconnecting from event {after}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        failures = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(StreamItem::End(end))) => {
                        progress.clear();
                        print_report(api, end.id).await;
                        return Ok(finish(&end, progress.started));
                    }
                    Some(Ok(StreamItem::Event(event))) => {
                        after = event.seq;
                        progress.observe(&event);
                        progress.clear();
                        print_event(&event);
                        progress.draw();
                    }
                    Some(Err(e)) => return Err(e.into()),
                    // Dropped: reconnect from the last seq seen.
                    None => break,
                },
                _ = tick.tick() => progress.draw(),
            }
        }
    }
}

/// The report a run wrote for people to read first (an incident's
/// `triage.md`), printed on stdout once the run ended.
const REPORTS: [&str; 1] = ["triage.md"];

async fn print_report(api: &ApiClient, id: RunId) {
    match api.artifacts(id).await {
        Ok(artifacts) => {
            for a in artifacts
                .iter()
                .filter(|a| REPORTS.contains(&a.name.as_str()))
            {
                println!("\n{}", a.content.trim_end());
            }
        }
        Err(e) => eprintln!("cannot read the artifacts of run {id}: {e}"),
    }
}

fn finish(end: &StreamEnd, started: Instant) -> ExitCode {
    let (id, status) = (end.id, end.status);
    let took = started.elapsed().as_secs_f64();
    match &end.error {
        Some(err) if status != RunStatus::Succeeded => {
            eprintln!("run {id} {status} after {took:.1} s: {err}")
        }
        _ => eprintln!("run {id} {status} after {took:.1} s"),
    }
    if status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
