//! The five-phase pipeline one claimed run goes through, and the context a
//! runbook writes its events and artifacts through. Events are buffered and
//! written in batches (the first at once, then at most every
//! [`FLUSH_INTERVAL`]); the last batch is written with the final status.
//!
//! Every text a run keeps passes through the context's [`Redactor`] on its
//! way in: event messages and data, artifacts, and phase errors (so the
//! run's error, its phases and its summary too). Runbooks need not redact.

use crate::completions::Completions;
use crate::runbooks;
use crate::stored_secrets;
use crate::Engine;
use chrono::{DateTime, Utc};
use opsroom_adapters::secret::Redactor;
use opsroom_adapters::Secret;
use opsroom_core::{ArtifactKind, EventLevel, Phase, PhaseStatus, RunStatus};
use opsroom_store::{
    ArtifactInsertParams, EventsAppendParams, NewEvent, Run, RunCompleteParams, StoreError,
};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Buffered events are written at least this often while a run is busy.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(25);
/// Summarize gets this long even when the run's own time is up.
const SUMMARIZE_BUDGET: Duration = Duration::from_secs(30);
/// How long a worker keeps trying to record the end of an attempt while the
/// store is unreachable (a restart of PostgreSQL, a dropped connection).
const END_RETRY_BUDGET: Duration = Duration::from_secs(30);

/// What the worker asks of a run in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Keep going.
    Run,
    /// Someone cancelled the run: stop, summarize, end as cancelled.
    Cancel,
    /// The worker is shutting down: stop and hand the run back to the queue.
    Release,
}

/// A phase that did not succeed.
#[derive(Debug, Clone)]
pub struct PhaseError {
    pub message: String,
    /// Whether another attempt may help (bad params never do).
    pub retryable: bool,
}

impl PhaseError {
    pub fn retryable(message: impl Into<String>) -> Self {
        PhaseError {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        PhaseError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// A runbook's work for one run, phase by phase. State carries over from
/// one phase to the next (e.g. probe results from action to verify).
#[async_trait::async_trait]
pub trait Execution: Send {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError>;

    /// Whether the pipeline writes its generic `summary.md` artifact.
    fn wants_summary_artifact(&self) -> bool {
        true
    }
}

/// How a phase went, as kept on the run (`runs.phases`).
#[derive(Debug, Clone, Serialize)]
pub struct PhaseRecord {
    pub phase: Phase,
    pub status: PhaseStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What happened to a run the worker held.
#[derive(Debug)]
pub enum Outcome {
    /// Final, or requeued for a retry.
    Completed(Box<Run>),
    /// Handed back to the queue (worker shutting down).
    Released,
    /// Someone else owns the run now; nothing more was written.
    LeaseLost,
    /// The end of the attempt could not be written at all. The worker stops
    /// heartbeating the run, so it is rescued (requeued or failed with a
    /// reason) once its lease lapses.
    Abandoned,
}

/// The run being executed, and where its events and artifacts go.
pub struct RunContext {
    engine: Engine,
    run: Run,
    phase: Option<Phase>,
    buffer: Vec<NewEvent>,
    flushed_at: Option<Instant>,
    phases: Vec<PhaseRecord>,
    phases_dirty: bool,
    lease_lost: bool,
    /// The engine's redactor, plus the secrets this run read.
    redactor: Arc<Redactor>,
}

impl RunContext {
    fn new(engine: Engine, run: Run) -> Self {
        RunContext {
            redactor: engine.redactor.clone(),
            engine,
            run,
            phase: None,
            buffer: Vec::new(),
            flushed_at: None,
            phases: Phase::ALL
                .iter()
                .map(|&phase| PhaseRecord {
                    phase,
                    status: PhaseStatus::Pending,
                    started_at: None,
                    duration_ms: None,
                    error: None,
                })
                .collect(),
            phases_dirty: true,
            lease_lost: false,
        }
    }

    pub fn run(&self) -> &Run {
        &self.run
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.engine.clock.now()
    }

    /// Records an event in the current phase.
    pub fn log(&mut self, level: EventLevel, message: impl Into<String>) {
        self.log_data(level, message, Value::Null);
    }

    /// Records an event with structured data; secrets in either are hidden.
    pub fn log_data(&mut self, level: EventLevel, message: impl Into<String>, data: Value) {
        let mut data = data;
        self.redactor.redact_json(&mut data);
        let message = self.redactor.redact(&message.into());
        let event = NewEvent::new(self.now(), level, self.phase, message).with_data(data);
        self.buffer.push(event);
    }

    /// Hides `secret` from everything this run writes from now on (a
    /// credential the run read after it started, e.g. for a program's
    /// environment).
    pub fn add_secret(&mut self, secret: &Secret) {
        Arc::make_mut(&mut self.redactor).add(secret);
    }

    /// `text` as this run may show it: known secrets and URL credentials hidden.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// The same failure with its message redacted.
    fn redacted(&self, e: PhaseError) -> PhaseError {
        PhaseError {
            message: self.redact(&e.message),
            retryable: e.retryable,
        }
    }

    /// Writes buffered events if the last write is older than [`FLUSH_INTERVAL`].
    pub async fn flush_if_due(&mut self) {
        if self
            .flushed_at
            .is_none_or(|t| t.elapsed() >= FLUSH_INTERVAL)
        {
            self.flush().await;
        }
    }

    /// Writes buffered events now. After a lost lease nothing is written
    /// again; after another failure the events stay buffered and go with the
    /// next write (at the latest, the end of the attempt).
    pub async fn flush(&mut self) {
        if self.lease_lost || (self.buffer.is_empty() && !self.phases_dirty) {
            return;
        }
        let result = self
            .engine
            .store
            .events_append(EventsAppendParams {
                workspace_id: self.run.workspace_id.clone(),
                run_id: self.run.id,
                fence: Some(self.run.fence()),
                events: self.buffer.clone(),
                phases: self.phases_json(),
            })
            .await;
        self.flushed_at = Some(Instant::now());
        match result {
            Ok(_) => {
                self.buffer.clear();
                self.phases_dirty = false;
            }
            Err(StoreError::LeaseLost { .. }) => self.lease_lost = true,
            Err(e) => {
                tracing::warn!(run = %self.run.id, error = %e, "cannot write run events yet; keeping them for the next write")
            }
        }
    }

    /// Stores an artifact of the run.
    pub async fn artifact(
        &mut self,
        kind: ArtifactKind,
        name: &str,
        content: String,
    ) -> Result<(), PhaseError> {
        if self.lease_lost {
            return Err(PhaseError::permanent("lease lost"));
        }
        let result = self
            .engine
            .store
            .artifact_insert(ArtifactInsertParams {
                workspace_id: self.run.workspace_id.clone(),
                run_id: self.run.id,
                fence: Some(self.run.fence()),
                kind,
                name: self.redact(name),
                content: self.redact(&content),
                now: self.now(),
            })
            .await;
        match result {
            Ok(a) => {
                self.log_data(
                    EventLevel::Info,
                    format!("artifact {name} ({kind}) stored"),
                    json!({"kind": "artifact", "artifact_id": a.id, "name": name}),
                );
                Ok(())
            }
            Err(StoreError::LeaseLost { .. }) => {
                self.lease_lost = true;
                Err(PhaseError::permanent("lease lost"))
            }
            Err(e) => Err(PhaseError::retryable(format!(
                "cannot store artifact {name}: {e}"
            ))),
        }
    }

    fn phases_json(&self) -> Option<Value> {
        self.phases_dirty
            .then(|| serde_json::to_value(&self.phases).unwrap_or(Value::Null))
    }

    fn record(&mut self, phase: Phase) -> &mut PhaseRecord {
        self.phases_dirty = true;
        &mut self.phases[phase.index()]
    }

    fn begin(&mut self, phase: Phase) {
        self.phase = Some(phase);
        let now = self.now();
        let r = self.record(phase);
        r.status = PhaseStatus::Running;
        r.started_at = Some(now);
        self.log_data(
            EventLevel::Info,
            format!("phase {phase} started"),
            json!({"kind": "phase_start"}),
        );
    }

    fn end(&mut self, phase: Phase, status: PhaseStatus, error: Option<String>, started: Instant) {
        let ms = started.elapsed().as_millis() as i64;
        let r = self.record(phase);
        r.status = status;
        r.duration_ms = Some(ms);
        r.error = error.clone();
        let (level, message) = match (&error, status) {
            (None, _) => (
                EventLevel::Info,
                format!("phase {phase} {status} in {ms} ms"),
            ),
            (Some(e), _) => (
                EventLevel::Error,
                format!("phase {phase} {status} after {ms} ms: {e}"),
            ),
        };
        self.log_data(
            level,
            message,
            json!({"kind": "phase_end", "status": status, "duration_ms": ms}),
        );
    }

    fn skip(&mut self, phase: Phase, why: &str) {
        self.phase = Some(phase);
        self.record(phase).status = PhaseStatus::Skipped;
        self.log_data(
            EventLevel::Warn,
            format!("phase {phase} skipped: {why}"),
            json!({"kind": "phase_skipped"}),
        );
    }
}

/// Exponential backoff before attempt `attempt + 1`: 2 s, 4 s, 8 s, … up to 5 min.
pub fn retry_backoff(attempt: i32) -> chrono::Duration {
    let secs = 2i64.saturating_mul(1i64 << (attempt.clamp(1, 20) - 1));
    chrono::Duration::seconds(secs.min(300))
}

enum PhaseResult {
    Done(Result<(), PhaseError>),
    Stopped(StopSignal),
    TimedOut,
}

async fn stop_requested(stop: &mut watch::Receiver<StopSignal>) -> StopSignal {
    loop {
        let s = *stop.borrow_and_update();
        if s != StopSignal::Run {
            return s;
        }
        if stop.changed().await.is_err() {
            // The worker dropped the sender: nobody will ask us to stop.
            std::future::pending::<()>().await;
        }
    }
}

/// Runs one claimed run through the five phases and ends its attempt.
pub async fn execute_run(
    engine: Engine,
    run: Run,
    worker_id: &str,
    mut stop: watch::Receiver<StopSignal>,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(run.timeout_secs.max(1) as u64);
    // The claim wrote this attempt's first event; the next write can wait
    // for the flush interval or the end of the run.
    let engine = stored_secrets::for_run(&engine, &run.workspace_id).await;
    let mut ctx = RunContext::new(engine.clone(), run);
    ctx.flushed_at = Some(Instant::now());
    tracing::debug!(
        run = %ctx.run.id,
        worker = worker_id,
        attempt = ctx.run.attempt,
        "run started"
    );

    let mut failure: Option<(Phase, PhaseError)> = None;
    let mut stopped: Option<StopSignal> = None;
    let mut execution = match runbooks::start(&engine, &ctx.run) {
        Ok(e) => Some(e),
        Err(e) => {
            failure = Some((Phase::Validate, ctx.redacted(e)));
            None
        }
    };

    for phase in [
        Phase::Validate,
        Phase::Preflight,
        Phase::Action,
        Phase::Verify,
    ] {
        if stopped.is_none() {
            let s = *stop.borrow();
            if s != StopSignal::Run {
                stopped = Some(s);
            }
        }
        if let Some(s) = stopped {
            ctx.skip(
                phase,
                if s == StopSignal::Cancel {
                    "run cancelled"
                } else {
                    "worker shutting down"
                },
            );
            continue;
        }
        if let Some((failed, _)) = &failure {
            if *failed != phase {
                ctx.skip(phase, &format!("phase {failed} failed"));
                continue;
            }
        }
        let t = Instant::now();
        ctx.begin(phase);
        ctx.flush_if_due().await;
        let result = match (&mut execution, &failure) {
            (_, Some((_, e))) => PhaseResult::Done(Err(e.clone())),
            (Some(exec), None) => {
                tokio::select! {
                    r = exec.phase(phase, &mut ctx) => PhaseResult::Done(r),
                    s = stop_requested(&mut stop) => PhaseResult::Stopped(s),
                    _ = tokio::time::sleep_until(deadline) => PhaseResult::TimedOut,
                }
            }
            (None, None) => PhaseResult::Done(Err(PhaseError::permanent("runbook not started"))),
        };
        match result {
            PhaseResult::Done(Ok(())) => ctx.end(phase, PhaseStatus::Succeeded, None, t),
            PhaseResult::Done(Err(e)) => {
                let e = ctx.redacted(e);
                ctx.end(phase, PhaseStatus::Failed, Some(e.message.clone()), t);
                failure = Some((phase, e));
            }
            PhaseResult::Stopped(s) => {
                let why = if s == StopSignal::Cancel {
                    "cancel requested"
                } else {
                    "worker shutting down"
                };
                ctx.end(phase, PhaseStatus::Cancelled, Some(why.to_string()), t);
                stopped = Some(s);
            }
            PhaseResult::TimedOut => {
                let e = PhaseError::retryable(format!(
                    "run timed out after {} s (timeout_secs = {})",
                    started.elapsed().as_secs(),
                    ctx.run.timeout_secs
                ));
                ctx.end(phase, PhaseStatus::TimedOut, Some(e.message.clone()), t);
                failure = Some((phase, e));
            }
        }
        ctx.flush_if_due().await;
        if ctx.lease_lost {
            return Outcome::LeaseLost;
        }
    }

    if stopped == Some(StopSignal::Release) {
        return release(&mut ctx, worker_id).await;
    }

    // Summarize always runs.
    let t = Instant::now();
    ctx.begin(Phase::Summarize);
    let summary_result = match &mut execution {
        Some(exec) => {
            tokio::select! {
                r = exec.phase(Phase::Summarize, &mut ctx) => r,
                _ = tokio::time::sleep(SUMMARIZE_BUDGET) => Err(PhaseError::permanent("summarize timed out")),
            }
        }
        None => Ok(()),
    };
    let (status, error) = match (&stopped, &failure) {
        (Some(_), _) => (RunStatus::Cancelled, Some("cancelled".to_string())),
        (None, Some((phase, e))) => (
            RunStatus::Failed,
            Some(format!("phase {phase} failed: {}", e.message)),
        ),
        (None, None) => (RunStatus::Succeeded, None),
    };
    let wants_artifact = execution
        .as_ref()
        .is_none_or(|e| e.wants_summary_artifact());
    let summary_result = match summary_result {
        Ok(()) if wants_artifact => {
            let md = summary_markdown(&ctx, status, error.as_deref(), started.elapsed());
            ctx.artifact(ArtifactKind::Markdown, "summary.md", md).await
        }
        other => other,
    }
    .map_err(|e| ctx.redacted(e));
    match &summary_result {
        Ok(()) => ctx.end(Phase::Summarize, PhaseStatus::Succeeded, None, t),
        Err(e) => ctx.end(
            Phase::Summarize,
            PhaseStatus::Failed,
            Some(e.message.clone()),
            t,
        ),
    }
    if ctx.lease_lost {
        return Outcome::LeaseLost;
    }
    complete(
        &mut ctx,
        status,
        error,
        failure.map(|(_, e)| e.retryable).unwrap_or(false),
        started,
    )
    .await
}

async fn complete(
    ctx: &mut RunContext,
    status: RunStatus,
    error: Option<String>,
    retryable: bool,
    started: Instant,
) -> Outcome {
    let now = ctx.now();
    let ms = started.elapsed().as_millis();
    let retry = status == RunStatus::Failed && retryable && ctx.run.attempt < ctx.run.max_attempts;
    let retry_at = retry.then(|| now + retry_backoff(ctx.run.attempt));
    ctx.phase = None;
    let (level, message) = match (status, retry_at) {
        (RunStatus::Succeeded, _) => (EventLevel::Info, format!("run succeeded in {ms} ms")),
        (RunStatus::Failed, Some(at)) => (
            EventLevel::Warn,
            format!(
                "attempt {} failed: {}; retrying in {} s (attempt {} of {})",
                ctx.run.attempt,
                error.as_deref().unwrap_or("?"),
                (at - now).num_seconds(),
                ctx.run.attempt + 1,
                ctx.run.max_attempts
            ),
        ),
        (s, _) => (
            EventLevel::Error,
            format!("run {s} after {ms} ms: {}", error.as_deref().unwrap_or("?")),
        ),
    };
    ctx.log_data(
        level,
        message,
        json!({"kind": "run_end", "status": if retry { "queued" } else { status.as_str() }, "duration_ms": ms as i64}),
    );
    let params = RunCompleteParams {
        workspace_id: ctx.run.workspace_id.clone(),
        run_id: ctx.run.id,
        fence: ctx.run.fence(),
        status,
        error,
        retry_at,
        events: std::mem::take(&mut ctx.buffer),
        phases: ctx.phases_json(),
        now,
    };
    match end_attempt(&ctx.engine, params).await {
        Ok(run) => Outcome::Completed(Box::new(run)),
        Err(outcome) => outcome,
    }
}

/// Writes the end of an attempt. A store that is briefly unreachable is
/// tried again, with backoff, for up to [`END_RETRY_BUDGET`]. If the write
/// still fails (the store refuses the data, or stays down), the attempt is
/// ended once more without its unwritten events, with an event saying they
/// were lost; if even that fails, the run is abandoned to the rescuer.
async fn end_attempt(engine: &Engine, params: RunCompleteParams) -> Result<Run, Outcome> {
    let run_id = params.run_id;
    let e = match complete_retrying(engine, params.clone()).await {
        Ok(run) => return Ok(run),
        Err(StoreError::LeaseLost { .. }) => return Err(Outcome::LeaseLost),
        Err(e) => e,
    };
    tracing::error!(run = %run_id, error = %e, "cannot record the end of the run with its last events; recording it without them");
    let lost = params.events.len();
    let mut without_events = params;
    without_events.events = vec![NewEvent::new(
        without_events.now,
        EventLevel::Error,
        None,
        format!("{lost} events of this attempt could not be stored; the run's end is recorded without them"),
    )
    .with_data(json!({"kind": "events_lost", "count": lost}))];
    match complete_retrying(engine, without_events).await {
        Ok(run) => Ok(run),
        Err(StoreError::LeaseLost { .. }) => Err(Outcome::LeaseLost),
        Err(e) => {
            tracing::error!(run = %run_id, error = %e, "cannot record the end of the run; leaving it to be rescued when its lease lapses");
            Err(Outcome::Abandoned)
        }
    }
}

/// [`Completions::complete`], tried again while the error is transient.
async fn complete_retrying(engine: &Engine, params: RunCompleteParams) -> Result<Run, StoreError> {
    let give_up_at = Instant::now() + END_RETRY_BUDGET;
    let mut pause = Duration::from_millis(100);
    loop {
        match Completions::complete(engine, params.clone()).await {
            Err(e) if e.is_transient() && Instant::now() + pause < give_up_at => {
                tracing::warn!(run = %params.run_id, error = %e, retry_in_ms = pause.as_millis() as u64, "cannot record the end of the run yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

async fn release(ctx: &mut RunContext, worker_id: &str) -> Outcome {
    let now = ctx.now();
    ctx.phase = None;
    ctx.log_data(
        EventLevel::Warn,
        format!("worker {worker_id} is shutting down; run released back to the queue"),
        json!({"kind": "released"}),
    );
    let params = RunCompleteParams {
        workspace_id: ctx.run.workspace_id.clone(),
        run_id: ctx.run.id,
        fence: ctx.run.fence(),
        status: RunStatus::Failed,
        error: None,
        retry_at: Some(now),
        events: std::mem::take(&mut ctx.buffer),
        phases: ctx.phases_json(),
        now,
    };
    match end_attempt(&ctx.engine, params).await {
        Ok(_) => Outcome::Released,
        Err(outcome) => outcome,
    }
}

fn summary_markdown(
    ctx: &RunContext,
    status: RunStatus,
    error: Option<&str>,
    took: Duration,
) -> String {
    let run = &ctx.run;
    let mut md = format!(
        "# Run {} — {}\n\n| | |\n|---|---|\n| runbook | {} |\n| env | {} |\n| target | {} |\n| attempt | {} of {} |\n| status | **{}** |\n| duration | {} ms |\n",
        run.id,
        run.runbook,
        run.runbook,
        run.env.as_deref().unwrap_or("-"),
        run.target.as_deref().unwrap_or("-"),
        run.attempt,
        run.max_attempts,
        status,
        took.as_millis()
    );
    if let Some(e) = error {
        md.push_str(&format!("| error | {} |\n", e.replace('|', "\\|")));
    }
    md.push_str("\n## Phases\n\n| phase | status | duration |\n|---|---|---|\n");
    for p in &ctx.phases {
        let status = if p.phase == Phase::Summarize {
            PhaseStatus::Running
        } else {
            p.status
        };
        let d = p
            .duration_ms
            .map(|d| format!("{d} ms"))
            .unwrap_or_else(|| "-".into());
        md.push_str(&format!("| {} | {} | {} |\n", p.phase, status, d));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(retry_backoff(1).num_seconds(), 2);
        assert_eq!(retry_backoff(2).num_seconds(), 4);
        assert_eq!(retry_backoff(3).num_seconds(), 8);
        assert_eq!(retry_backoff(30).num_seconds(), 300);
    }
}
