//! The scheduler: every server ticks it; each tick enqueues the runs of the
//! schedules that are due.
//!
//! One run per fire, however many servers tick at once: the run of a fire
//! is inserted with the idempotency key `schedule:{id}:{fire time}` (a
//! second insert, from another server, returns the first run), and the
//! schedule's next fire is then moved on only by whoever still finds the
//! fire it read (`ScheduleStore::schedule_advance`). A server that stops
//! between the two leaves the fire due: the next tick, on any server,
//! finds the run already there and moves on.
//!
//! Missed fires: only the latest due fire of a schedule can run, and only
//! if it is at most [`MISFIRE_GRACE`] late. Earlier due fires (servers were
//! down, or a tick came late) are skipped and recorded on the schedule, so
//! a restart after downtime runs no backlog: the next fire runs as usual.

use crate::error::ApiError;
use crate::resolve::{resolve, ParseEnv, RunRequest};
use crate::routes::runs::insert_params;
use chrono::{DateTime, Utc};
use opsroom_core::cron::CronSchedule;
use opsroom_core::new_run::RunWhat;
use opsroom_core::{NewRun, NewRunInput};
use opsroom_engine::Engine;
use opsroom_store::{fire_key, RunId, Schedule, ScheduleAdvanceParams, SkippedFires, StoreResult};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How late a fire may be found and still run.
pub const MISFIRE_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// How often the server's scheduler looks for due schedules.
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);

/// Due schedules handled per tick (the rest wait for the next).
const DUE_PER_TICK: i64 = 100;

/// Due fires counted one by one before the rest are counted as one jump.
const MAX_DUE_WALK: usize = 100_000;

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TickReport {
    /// Runs enqueued (or found enqueued by another server) for fires.
    pub fired: Vec<(i64, DateTime<Utc>, RunId)>,
    /// Fires skipped, per schedule.
    pub skipped: Vec<(i64, i64)>,
    /// Fires whose run could not be created: (schedule, why).
    pub failed: Vec<(i64, String)>,
}

/// Fires due schedules; see the module's documentation.
#[derive(Clone)]
pub struct Scheduler {
    engine: Engine,
    parse_env: Arc<ParseEnv>,
}

/// What a schedule asks for, as the store keeps it: the fields of
/// `POST /api/v1/runs` that say what to run.
pub fn request_json(
    text: Option<String>,
    runbook: Option<String>,
    env: Option<String>,
    target: Option<String>,
    params: Map<String, Value>,
) -> Value {
    let mut m = Map::new();
    if let Some(t) = text {
        m.insert("text".into(), json!(t));
    }
    if let Some(r) = runbook {
        m.insert("runbook".into(), json!(r));
    }
    if let Some(e) = env {
        m.insert("env".into(), json!(e));
    }
    if let Some(t) = target {
        m.insert("target".into(), json!(t));
    }
    if !params.is_empty() {
        m.insert("params".into(), Value::Object(params));
    }
    Value::Object(m)
}

/// The checked run request of a stored schedule request.
pub fn new_run_of(request: &Value) -> Result<NewRun, ApiError> {
    let field = |name: &str| request.get(name).and_then(Value::as_str).map(String::from);
    let params = request
        .get("params")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    Ok(NewRun::parse(NewRunInput {
        text: field("text"),
        runbook: field("runbook"),
        env: field("env"),
        target: field("target"),
        params,
        session_id: None,
        lane: None,
        idempotency_key: None,
        priority: None,
        max_attempts: None,
        timeout_secs: None,
    })?)
}

impl Scheduler {
    pub fn new(engine: Engine) -> Self {
        Scheduler {
            parse_env: Arc::new(ParseEnv::new(&engine)),
            engine,
        }
    }

    /// Ticks every [`TICK_INTERVAL`] until `shutdown` turns true.
    pub async fn run_until_stopped(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.tick().await {
                        tracing::warn!(error = %e, "scheduler tick failed");
                    }
                }
                _ = opsroom_engine::worker::until_true(&mut shutdown) => break,
            }
        }
    }

    /// One pass over the due schedules of every workspace.
    pub async fn tick(&self) -> StoreResult<TickReport> {
        let now = self.engine.clock.now();
        let due = self.engine.store.schedules_due(now, DUE_PER_TICK).await?;
        let mut report = TickReport::default();
        for s in due {
            if let Err(e) = self.fire(&s, now, &mut report).await {
                tracing::warn!(schedule = s.id, error = %e, "firing a schedule failed");
            }
        }
        Ok(report)
    }

    async fn fire(
        &self,
        s: &Schedule,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> StoreResult<()> {
        let Some(expected) = s.next_fire_at else {
            return Ok(());
        };
        let cron = match CronSchedule::parse(&s.cron, Some(&s.timezone)) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(schedule = s.id, error = %e, "stored schedule does not parse; it stops");
                None
            }
        };
        // Every due fire, oldest first, and the first one still to come.
        let mut due = vec![expected];
        let mut following = None;
        if let Some(cron) = &cron {
            let mut t = expected;
            loop {
                match cron.next_after(t) {
                    Some(n) if n <= now && due.len() < MAX_DUE_WALK => {
                        due.push(n);
                        t = n;
                    }
                    Some(n) if n <= now => {
                        // A huge backlog: the fires in between are counted
                        // as one; the last due fire is found from the grace
                        // window (any before it would be skipped anyway).
                        let mut last = n;
                        let mut from = (now - MISFIRE_GRACE).max(n);
                        while let Some(x) = cron.next_after(from).filter(|x| *x <= now) {
                            last = x;
                            from = x;
                        }
                        due.push(last);
                        following = cron.next_after(now);
                        break;
                    }
                    other => {
                        following = other;
                        break;
                    }
                }
            }
        }
        let latest = *due.last().expect("one due fire at least");
        let run_latest = now - latest <= MISFIRE_GRACE;
        let skipped_fires: &[DateTime<Utc>] = if run_latest {
            &due[..due.len() - 1]
        } else {
            &due
        };
        let skipped = (!skipped_fires.is_empty()).then(|| SkippedFires {
            first: skipped_fires[0],
            last: *skipped_fires.last().expect("not empty"),
            count: skipped_fires.len() as i64,
            noticed_at: now,
        });
        let (fired, error) = if run_latest {
            match self.enqueue(s, latest).await? {
                Ok(run) => (Some((latest, Some(run))), None),
                Err(e) => (Some((latest, None)), Some(e)),
            }
        } else {
            (None, None)
        };
        let advanced = self
            .engine
            .store
            .schedule_advance(ScheduleAdvanceParams {
                workspace_id: s.workspace_id.clone(),
                id: s.id,
                expected,
                next_fire_at: following,
                fired,
                error: error.clone(),
                skipped: skipped.clone(),
                now,
            })
            .await?;
        if let Some((at, Some(run))) = fired {
            report.fired.push((s.id, at, run));
        }
        if advanced {
            if let Some(k) = skipped {
                tracing::warn!(schedule = s.id, skipped = k.count, first = %k.first, last = %k.last, "schedule fires skipped: found too late");
                report.skipped.push((s.id, k.count));
            }
            if let Some(e) = error {
                tracing::warn!(schedule = s.id, error = %e, "a schedule's fire could not enqueue its run");
                report.failed.push((s.id, e));
            }
        }
        Ok(())
    }

    /// The run of one fire (the one already there if another server
    /// enqueued it). `Ok(Err(why))`: the request no longer resolves (the
    /// config changed), which is recorded on the schedule; a store error
    /// leaves the fire due for the next tick.
    async fn enqueue(
        &self,
        s: &Schedule,
        fire_at: DateTime<Utc>,
    ) -> StoreResult<Result<RunId, String>> {
        let resolved = new_run_of(&s.request).and_then(|new_run| {
            let r = resolve(&self.engine, &self.parse_env, RunRequest::from(&new_run))?;
            Ok((new_run, r))
        });
        let (new_run, resolved) = match resolved {
            Ok(ok) => ok,
            Err(e) => return Ok(Err(reason(e))),
        };
        let mut p = insert_params(&self.engine, resolved, s.created_by.clone(), None);
        p.workspace_id = s.workspace_id.clone();
        if let RunWhat::Text(text) = new_run.what {
            p.text = Some(text);
        }
        p.idempotency_key = Some(fire_key(s.id, fire_at));
        p.schedule_id = Some(s.id);
        p.scheduled_for = Some(fire_at);
        let (run, _) = self.engine.store.run_insert(p).await?;
        Ok(Ok(run.id))
    }
}

/// What an API error says, for the schedule's `last_error`.
fn reason(e: ApiError) -> String {
    match e {
        ApiError::BadRequest { message, .. }
        | ApiError::Forbidden { message, .. }
        | ApiError::UnauthorizedCode { message, .. }
        | ApiError::ConflictCode { message, .. }
        | ApiError::Unprocessable { message, .. } => message,
        ApiError::NotFound(m) | ApiError::MethodNotAllowed(m) | ApiError::Conflict(m) => m,
        ApiError::Unauthorized => "not authorized".into(),
        ApiError::PayloadTooLarge { .. } => "request too large".into(),
        ApiError::Internal(_) => "internal error".into(),
    }
}
