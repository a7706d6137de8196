//! Following a run live over SSE: events as they come, a progress line
//! (status, phase, elapsed time) on a terminal, reconnects that resume
//! from the last seq, and the run's outcome as the exit code. Ctrl-C stops
//! following (the run goes on) and says how to pick it up again.

use crate::client::CliResult;
use crate::term::{human_duration, level_style, paint, run_duration, status_style};
use opsroom_core::{RunId, RunStatus, Seq};
use opsroom_server::client::{ApiClient, ClientError, StreamItem};
use opsroom_server::views::{EventView, RunView, StreamEnd};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The exit code of a follow stopped by Ctrl-C (128 + SIGINT, as shells do).
const INTERRUPTED: u8 = 130;

/// Prints one event as a log line, its level coloured on a terminal.
pub fn print_event(e: &EventView) {
    let ts = e.ts.format("%H:%M:%S%.3f");
    let level = format!("{:<5}", e.level.as_str().to_uppercase());
    let phase = e.phase.map(|p| format!("[{p}] ")).unwrap_or_default();
    let message = match e.level {
        opsroom_core::EventLevel::Error => paint(level_style(e.level), &e.message),
        _ => e.message.clone(),
    };
    anstream::println!(
        "{ts} {} {phase}{message}",
        paint(level_style(e.level), &level)
    );
}

/// The page of run `id` in the UI.
pub fn run_url(api: &ApiClient, id: RunId) -> String {
    api.url(&format!("/runs/{id}"))
}

/// What someone following a run that waits for approval needs to know:
/// who can let it go on, and how.
fn explain_approval(api: &ApiClient, run: &RunView) {
    let requested_by = run
        .approval
        .as_ref()
        .map_or(run.created_by.as_str(), |a| a.requested_by.as_str());
    let expires = run
        .approval
        .as_ref()
        .and_then(|a| a.expires_at)
        .map(|t| {
            format!(
                "; it is rejected if nobody decides by {}",
                t.format("%Y-%m-%d %H:%M:%S UTC")
            )
        })
        .unwrap_or_default();
    anstream::eprintln!(
        "run {} {}: an approver or admin of workspace `{}` other than {requested_by} can approve it with `opsroom approve {}` or at {}{expires}",
        run.id,
        paint(status_style(RunStatus::AwaitingApproval), "awaits approval"),
        run.workspace_id,
        run.id,
        run_url(api, run.id),
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

/// Streams run `id` from seq `after` until its `end` event, or until Ctrl-C.
pub async fn follow(api: &ApiClient, id: RunId, after: Seq) -> CliResult<ExitCode> {
    // Listening from here on: a Ctrl-C right after the first line printed
    // is not lost (and does not kill the process mid-line).
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| {
        crate::client::CliError::server(format!("cannot listen for Ctrl-C: {e}"))
    })?;
    let run = api.run(id).await?;
    if run.status == RunStatus::AwaitingApproval {
        explain_approval(api, &run);
    }
    tokio::select! {
        outcome = stream_to_end(api, id, after) => {
            let end = outcome?;
            print_report(api, end.id).await;
            Ok(finish(api, &end).await)
        }
        _ = interrupt.recv() => {
            eprintln!();
            anstream::eprintln!(
                "stopped following run {id}; it goes on without you. Pick it up again with `opsroom logs {id} --follow`"
            );
            Ok(ExitCode::from(INTERRUPTED))
        }
    }
}

/// Streams events, reconnecting from the last seq seen, until `end`.
async fn stream_to_end(api: &ApiClient, id: RunId, mut after: Seq) -> CliResult<StreamEnd> {
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
                        return Ok(end);
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

/// Prints the outcome with the run's own duration (not how long we
/// watched: a finished run followed later took what it took) and turns it
/// into the exit code.
async fn finish(api: &ApiClient, end: &StreamEnd) -> ExitCode {
    let (id, status) = (end.id, end.status);
    let took = match api.run(id).await {
        Ok(run) => run_duration(run.started_at, run.finished_at, chrono::Utc::now())
            .map(|s| format!(" after {}", human_duration(s)))
            .unwrap_or_else(|| " before it started".into()),
        Err(_) => String::new(),
    };
    let status_text = paint(status_style(status), status.as_str());
    match &end.error {
        Some(err) if status != RunStatus::Succeeded => {
            anstream::eprintln!("run {id} {status_text}{took}: {err}")
        }
        _ => anstream::eprintln!("run {id} {status_text}{took}"),
    }
    if status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
