//! Schedules: a cron expression in a time zone that enqueues a run at each
//! fire time. The store keeps them and their next fire; the cron rules
//! live in `opsroom_core::cron`, the firing in the server's scheduler.
//!
//! Exactly one run per fire, however many schedulers tick: a fire's run is
//! inserted with the idempotency key [`fire_key`] (a second insert returns
//! the first run), and [`ScheduleStore::schedule_advance`] only moves the
//! next fire on while it still holds the fire that was read.

use crate::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many ranges of skipped fires a schedule keeps (the newest).
pub const SKIPPED_KEPT: usize = 10;

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: i64,
    pub workspace_id: String,
    /// Five fields, or six with seconds first.
    pub cron: String,
    /// An IANA time zone name.
    pub timezone: String,
    /// What each fire asks for, as `POST /api/v1/runs` takes it:
    /// `{"text"}` or `{"runbook","env","target"?,"params"?}`.
    pub request: Value,
    pub paused: bool,
    /// The next fire still to come (None while paused, or when the
    /// expression never matches again).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The last fire that enqueued a run (or tried to).
    pub last_fire_at: Option<DateTime<Utc>>,
    pub last_run_id: Option<RunId>,
    /// Why the last fire could not enqueue its run, if it could not.
    pub last_error: Option<String>,
    /// Fires not run because they were found too late (servers down).
    pub skipped_count: i64,
    /// The latest ranges of skipped fires, oldest first.
    pub skipped: Vec<SkippedFires>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Fires a scheduler found too late and did not run, noticed together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFires {
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub count: i64,
    pub noticed_at: DateTime<Utc>,
}

/// The idempotency key of the run of one fire: the schedule and the fire
/// time (RFC 3339, UTC, to the second).
pub fn fire_key(schedule_id: i64, fire_at: DateTime<Utc>) -> String {
    format!(
        "schedule:{schedule_id}:{}",
        fire_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// Creates a schedule.
#[derive(Debug, Clone)]
pub struct ScheduleCreateParams {
    pub workspace_id: String,
    pub cron: String,
    pub timezone: String,
    pub request: Value,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub actor: String,
    /// Where the request came from (the client's address), for the audit log.
    pub source: Option<String>,
    pub now: DateTime<Utc>,
}

/// Pauses or resumes a schedule.
#[derive(Debug, Clone)]
pub struct SchedulePauseParams {
    pub workspace_id: String,
    pub id: i64,
    pub paused: bool,
    /// The next fire from now on, for a resume (ignored when pausing: a
    /// paused schedule has none, so nothing is owed when it resumes).
    pub next_fire_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub source: Option<String>,
    pub now: DateTime<Utc>,
}

/// Deletes a schedule (its runs stay, naming it).
#[derive(Debug, Clone)]
pub struct ScheduleDeleteParams {
    pub workspace_id: String,
    pub id: i64,
    pub actor: String,
    pub source: Option<String>,
    pub now: DateTime<Utc>,
}

/// What a scheduler did with a due schedule: written only if the schedule
/// still has the next fire `expected` (another scheduler did not get there
/// first, and nobody paused or resumed it meanwhile).
#[derive(Debug, Clone)]
pub struct ScheduleAdvanceParams {
    pub workspace_id: String,
    pub id: i64,
    pub expected: DateTime<Utc>,
    /// The fire after those handled now.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The fire that was run, with its run (None: the run could not be
    /// created, see `error`).
    pub fired: Option<(DateTime<Utc>, Option<RunId>)>,
    pub error: Option<String>,
    pub skipped: Option<SkippedFires>,
    pub now: DateTime<Utc>,
}

/// Storage of schedules; both backends implement it.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Creates a schedule, with its audit entry.
    async fn schedule_create(&self, params: ScheduleCreateParams) -> StoreResult<Schedule>;

    /// The workspace's schedules, by id.
    async fn schedules_list(&self, workspace_id: &str) -> StoreResult<Vec<Schedule>>;

    async fn schedule_get(&self, workspace_id: &str, id: i64) -> StoreResult<Schedule>;

    /// Pauses or resumes, with its audit entry; doing what is already so
    /// changes nothing but is not an error.
    async fn schedule_pause(&self, params: SchedulePauseParams) -> StoreResult<Schedule>;

    /// Deletes a schedule, with its audit entry.
    async fn schedule_delete(&self, params: ScheduleDeleteParams) -> StoreResult<()>;

    /// Active schedules of every workspace whose next fire is at or before
    /// `now`, oldest fire first.
    async fn schedules_due(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<Schedule>>;

    /// Records what a scheduler did with a due fire; false when the
    /// schedule no longer has that fire (someone else recorded it).
    async fn schedule_advance(&self, params: ScheduleAdvanceParams) -> StoreResult<bool>;
}

/// The skipped ranges after adding `new` (the newest [`SKIPPED_KEPT`]).
pub(crate) fn skipped_with(
    mut kept: Vec<SkippedFires>,
    new: Option<&SkippedFires>,
) -> Vec<SkippedFires> {
    if let Some(s) = new {
        kept.push(s.clone());
    }
    let extra = kept.len().saturating_sub(SKIPPED_KEPT);
    kept.drain(..extra);
    kept
}

pub(crate) fn not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        what: "schedule",
        id: id.to_string(),
    }
}

/// The audit details of a schedule.
pub(crate) fn audit_details(s: &Schedule) -> Value {
    serde_json::json!({"cron": s.cron, "timezone": s.timezone, "request": s.request, "paused": s.paused})
}

/// A `schedules` row (`SELECT *`).
#[derive(sqlx::FromRow)]
pub(crate) struct ScheduleRow<J, T> {
    id: i64,
    workspace_id: String,
    cron: String,
    timezone: String,
    request: J,
    paused: bool,
    next_fire_at: Option<T>,
    last_fire_at: Option<T>,
    last_run_id: Option<i64>,
    last_error: Option<String>,
    skipped_count: i64,
    skipped: J,
    created_by: String,
    created_at: T,
    updated_at: T,
}

impl<J: crate::rows::StoredJson, T: crate::rows::StoredTime> TryFrom<ScheduleRow<J, T>>
    for Schedule
{
    type Error = StoreError;

    fn try_from(r: ScheduleRow<J, T>) -> StoreResult<Schedule> {
        let c = crate::rows::Columns::of(format_args!("schedule {}", r.id));
        let skipped = c.json("skipped", r.skipped)?;
        let skipped = serde_json::from_value(skipped).map_err(|e| c.corrupt("skipped", e))?;
        Ok(Schedule {
            id: r.id,
            workspace_id: r.workspace_id,
            cron: r.cron,
            timezone: r.timezone,
            request: c.json("request", r.request)?,
            paused: r.paused,
            next_fire_at: c.opt_time("next_fire_at", r.next_fire_at)?,
            last_fire_at: c.opt_time("last_fire_at", r.last_fire_at)?,
            last_run_id: r.last_run_id.map(RunId),
            last_error: r.last_error,
            skipped_count: r.skipped_count,
            skipped,
            created_by: r.created_by,
            created_at: c.time("created_at", r.created_at)?,
            updated_at: c.time("updated_at", r.updated_at)?,
        })
    }
}
