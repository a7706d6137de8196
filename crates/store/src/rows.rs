//! Row types shared by both backends: each derives `sqlx::FromRow` and is
//! converted into its model type with `TryFrom`, once for both stores. The
//! backends differ only in how a JSON value and a time come out of a column
//! (PostgreSQL: `jsonb` and `timestamptz`; SQLite: text and integer
//! microseconds), so the rows are generic over those two. A stored value that
//! does not read back (corrupt JSON, a time out of range, an unknown status)
//! is the same [`StoreError::Corrupt`] on both.

use crate::*;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::fmt::Display;
use std::str::FromStr;

/// How a backend stores JSON.
pub(crate) trait StoredJson {
    fn into_json(self) -> Result<Value, String>;
}

impl StoredJson for Value {
    fn into_json(self) -> Result<Value, String> {
        Ok(self)
    }
}

impl StoredJson for String {
    fn into_json(self) -> Result<Value, String> {
        serde_json::from_str(&self).map_err(|e| format!("not JSON ({e})"))
    }
}

/// How a backend stores a time: both come down to unix microseconds.
pub(crate) trait StoredTime {
    fn unix_micros(&self) -> Option<i64>;
}

impl StoredTime for i64 {
    fn unix_micros(&self) -> Option<i64> {
        Some(*self)
    }
}

/// How a backend stores a list of run ids (a worker's running runs).
pub(crate) trait StoredIds {
    fn into_ids(self) -> Result<Vec<i64>, String>;
}

impl StoredIds for Vec<i64> {
    fn into_ids(self) -> Result<Vec<i64>, String> {
        Ok(self)
    }
}

/// SQLite's `group_concat`: comma-separated, NULL when empty.
impl StoredIds for Option<String> {
    fn into_ids(self) -> Result<Vec<i64>, String> {
        let mut ids = self
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| format!("`{s}` is not a run id")))
            .collect::<Result<Vec<i64>, _>>()?;
        ids.sort_unstable();
        Ok(ids)
    }
}

/// Reads the columns of one stored row, naming the row in its errors.
pub(crate) struct Columns {
    what: String,
}

impl Columns {
    pub(crate) fn of(what: impl Display) -> Self {
        Columns {
            what: what.to_string(),
        }
    }

    pub(crate) fn corrupt(&self, column: &'static str, reason: impl Display) -> StoreError {
        StoreError::Corrupt {
            what: self.what.clone(),
            column,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn json(&self, column: &'static str, v: impl StoredJson) -> StoreResult<Value> {
        v.into_json().map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn time(
        &self,
        column: &'static str,
        v: impl StoredTime,
    ) -> StoreResult<DateTime<Utc>> {
        v.unix_micros()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| self.corrupt(column, "time out of range"))
    }

    pub(crate) fn opt_time(
        &self,
        column: &'static str,
        v: Option<impl StoredTime>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        v.map(|t| self.time(column, t)).transpose()
    }

    pub(crate) fn parse<T: FromStr>(&self, column: &'static str, v: &str) -> StoreResult<T>
    where
        T::Err: Display,
    {
        v.parse().map_err(|e| self.corrupt(column, e))
    }

    fn opt_parse<T: FromStr>(
        &self,
        column: &'static str,
        v: Option<String>,
    ) -> StoreResult<Option<T>>
    where
        T::Err: Display,
    {
        v.map(|s| self.parse(column, &s)).transpose()
    }
}

/// A `runs` row (`SELECT *`; columns the model does not show are ignored).
#[derive(sqlx::FromRow)]
pub(crate) struct RunRow<J, T> {
    id: i64,
    workspace_id: String,
    runbook: String,
    env: Option<String>,
    target: Option<String>,
    params: J,
    text: Option<String>,
    plan: J,
    risk: String,
    status: String,
    priority: i32,
    attempt: i32,
    max_attempts: i32,
    run_after: T,
    session_id: Option<i64>,
    lane: Option<String>,
    lane_key: Option<String>,
    lock_key: Option<String>,
    idempotency_key: Option<String>,
    created_by: String,
    approved_by: Option<String>,
    created_at: T,
    started_at: Option<T>,
    finished_at: Option<T>,
    worker_id: Option<String>,
    lease: i64,
    heartbeat_at: Option<T>,
    cancel_requested: bool,
    timeout_secs: i64,
    error: Option<String>,
    phases: J,
    last_seq: i64,
    approval: Option<String>,
    approval_expires_at: Option<T>,
    decided_by: Option<String>,
    decided_at: Option<T>,
    decision_comment: Option<String>,
    schedule_id: Option<i64>,
    scheduled_for: Option<T>,
}

impl<J: StoredJson, T: StoredTime> TryFrom<RunRow<J, T>> for Run {
    type Error = StoreError;

    fn try_from(r: RunRow<J, T>) -> StoreResult<Run> {
        let c = Columns::of(format_args!("run {}", r.id));
        Ok(Run {
            id: RunId(r.id),
            workspace_id: r.workspace_id,
            runbook: r.runbook,
            env: r.env,
            target: r.target,
            params: c.json("params", r.params)?,
            text: r.text,
            plan: c.json("plan", r.plan)?,
            risk: c.parse("risk", &r.risk)?,
            status: c.parse("status", &r.status)?,
            priority: r.priority,
            attempt: r.attempt,
            max_attempts: r.max_attempts,
            run_after: c.time("run_after", r.run_after)?,
            session_id: r.session_id,
            lane: c.opt_parse("lane", r.lane)?,
            lane_key: r.lane_key,
            lock_key: r.lock_key,
            idempotency_key: r.idempotency_key,
            approval: match c.opt_parse::<ApprovalState>("approval", r.approval)? {
                Some(state) => Some(RunApproval {
                    state,
                    expires_at: c.opt_time("approval_expires_at", r.approval_expires_at)?,
                    decided_by: r.decided_by,
                    decided_at: c.opt_time("decided_at", r.decided_at)?,
                    comment: r.decision_comment,
                }),
                None => None,
            },
            created_by: r.created_by,
            approved_by: r.approved_by,
            created_at: c.time("created_at", r.created_at)?,
            started_at: c.opt_time("started_at", r.started_at)?,
            finished_at: c.opt_time("finished_at", r.finished_at)?,
            worker_id: r.worker_id,
            lease: r.lease,
            heartbeat_at: c.opt_time("heartbeat_at", r.heartbeat_at)?,
            cancel_requested: r.cancel_requested,
            timeout_secs: r.timeout_secs,
            error: r.error,
            phases: c.json("phases", r.phases)?,
            last_seq: Seq(r.last_seq),
            schedule_id: r.schedule_id,
            scheduled_for: c.opt_time("scheduled_for", r.scheduled_for)?,
        })
    }
}

/// A page of a run's events: the run's row left-joined with its events, so
/// a run that is not there (or not in the workspace) gives no row at all and
/// a run without new events gives one row of NULLs.
#[derive(sqlx::FromRow)]
pub(crate) struct EventPageRow<J, T> {
    run_id: i64,
    seq: Option<i64>,
    ts: Option<T>,
    level: Option<String>,
    phase: Option<String>,
    message: Option<String>,
    data: Option<J>,
}

impl<J: StoredJson, T: StoredTime> EventPageRow<J, T> {
    /// The event of this row; `None` for the row of a run without new events.
    pub(crate) fn into_event(self) -> StoreResult<Option<RunEvent>> {
        let Some(seq) = self.seq else {
            return Ok(None);
        };
        let c = Columns::of(format_args!("event {seq} of run {}", self.run_id));
        let missing = |column| c.corrupt(column, "missing");
        Ok(Some(RunEvent {
            run_id: RunId(self.run_id),
            seq: Seq(seq),
            ts: c.time("ts", self.ts.ok_or_else(|| missing("ts"))?)?,
            level: c.parse("level", &self.level.ok_or_else(|| missing("level"))?)?,
            phase: c.opt_parse("phase", self.phase)?,
            message: self.message.ok_or_else(|| missing("message"))?,
            data: c.json("data", self.data.ok_or_else(|| missing("data"))?)?,
        }))
    }
}

/// Turns a page of [`EventPageRow`]s into the run's events.
pub(crate) fn events_page<J: StoredJson, T: StoredTime>(
    rows: Vec<EventPageRow<J, T>>,
    run_id: RunId,
) -> StoreResult<Vec<RunEvent>> {
    if rows.is_empty() {
        return Err(StoreError::not_found_run(run_id));
    }
    rows.into_iter()
        .filter_map(|r| r.into_event().transpose())
        .collect()
}

/// An `artifacts` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ArtifactRow<T> {
    id: i64,
    run_id: i64,
    workspace_id: String,
    kind: String,
    name: String,
    content: String,
    created_at: T,
}

impl<T: StoredTime> TryFrom<ArtifactRow<T>> for Artifact {
    type Error = StoreError;

    fn try_from(r: ArtifactRow<T>) -> StoreResult<Artifact> {
        let c = Columns::of(format_args!("artifact {}", r.id));
        Ok(Artifact {
            id: r.id,
            run_id: RunId(r.run_id),
            workspace_id: r.workspace_id,
            kind: c.parse("kind", &r.kind)?,
            name: r.name,
            content: r.content,
            created_at: c.time("created_at", r.created_at)?,
        })
    }
}

/// A `sessions` row.
#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow<T> {
    id: i64,
    workspace_id: String,
    name: String,
    created_by: String,
    created_at: T,
}

impl<T: StoredTime> TryFrom<SessionRow<T>> for Session {
    type Error = StoreError;

    fn try_from(r: SessionRow<T>) -> StoreResult<Session> {
        let c = Columns::of(format_args!("session {}", r.id));
        Ok(Session {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            created_by: r.created_by,
            created_at: c.time("created_at", r.created_at)?,
        })
    }
}

/// A `workers` row with the ids of the runs the worker holds.
#[derive(sqlx::FromRow)]
pub(crate) struct WorkerRow<T, I> {
    id: String,
    host: String,
    pid: i64,
    state: String,
    concurrency: i32,
    started_at: T,
    heartbeat_at: T,
    running: I,
}

impl<T: StoredTime, I: StoredIds> TryFrom<WorkerRow<T, I>> for Worker {
    type Error = StoreError;

    fn try_from(r: WorkerRow<T, I>) -> StoreResult<Worker> {
        let c = Columns::of(format_args!("worker {}", r.id));
        Ok(Worker {
            started_at: c.time("started_at", r.started_at)?,
            heartbeat_at: c.time("heartbeat_at", r.heartbeat_at)?,
            running: (r.running.into_ids().map_err(|e| c.corrupt("running", e))?)
                .into_iter()
                .map(RunId)
                .collect(),
            id: r.id,
            host: r.host,
            pid: r.pid,
            state: c.parse("state", &r.state)?,
            concurrency: r.concurrency,
        })
    }
}

/// An `audit_log` row.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow<J, T> {
    id: i64,
    workspace_id: String,
    ts: T,
    actor: String,
    action: String,
    subject: String,
    source: Option<String>,
    details: J,
}

impl<J: StoredJson, T: StoredTime> TryFrom<AuditRow<J, T>> for AuditEntry {
    type Error = StoreError;

    fn try_from(r: AuditRow<J, T>) -> StoreResult<AuditEntry> {
        let c = Columns::of(format_args!("audit entry {}", r.id));
        Ok(AuditEntry {
            ts: c.time("ts", r.ts)?,
            details: c.json("details", r.details)?,
            id: r.id,
            workspace_id: r.workspace_id,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            source: r.source,
        })
    }
}

/// Converts every row of a result.
pub(crate) fn convert<R, M: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> StoreResult<Vec<M>> {
    rows.into_iter().map(M::try_from).collect()
}

/// The runs of a heartbeat's answer (id, cancel requested) that were asked to cancel.
pub(crate) fn cancel_requested(rows: Vec<(i64, bool)>) -> Vec<RunId> {
    rows.into_iter()
        .filter_map(|(id, cancel)| cancel.then_some(RunId(id)))
        .collect()
}
