//! The notifications part of the storage interface: notices of run events
//! (written by the database in the transaction that changed the run, see
//! migration `0006_notifications`), the deliveries made of them (one per
//! matching channel) and the log of every attempt to send one.
//!
//! The channels themselves are configuration (`[[notifications]]` in
//! `opsroom.toml`): the store knows them only by name.

use crate::rows::{Columns, StoredJson, StoredTime};
use crate::*;
use chrono::{DateTime, Utc};
use opsroom_core::RunStatus;
use serde::Serialize;
use serde_json::Value;

/// The run events notifications are sent for, by their names in
/// `[[notifications]] events` and in the deliveries.
pub const RUN_NOTICE_EVENTS: &[&str] = &[
    "run.awaiting_approval",
    "run.started",
    "run.succeeded",
    "run.failed",
    "run.rescued",
];

/// A run event not yet turned into deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunNotice {
    pub id: i64,
    pub workspace_id: String,
    pub run_id: RunId,
    /// One of [`RUN_NOTICE_EVENTS`].
    pub event: String,
    /// The run's state written by the transition; `None` for a notice
    /// queued before migration 0009 kept it.
    pub state: Option<NoticeState>,
}

/// What a run was at the transition a notice tells of: a message sent
/// later says this, not what the run has become since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeState {
    pub status: RunStatus,
    pub attempt: i32,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl NoticeState {
    /// `run` as it was at the transition.
    pub fn apply(&self, run: &mut Run) {
        run.status = self.status;
        run.attempt = self.attempt;
        run.error.clone_from(&self.error);
        run.started_at = self.started_at;
        run.finished_at = self.finished_at;
    }
}

/// Turns a notice into deliveries: one per channel (none when no channel
/// wants it), and the notice is gone, in one transaction.
#[derive(Debug, Clone)]
pub struct DeliveriesEnqueueParams {
    pub notice: RunNotice,
    /// The names of the channels whose filters match.
    pub channels: Vec<String>,
    /// The run as the deliveries describe it.
    pub run: Value,
    pub now: DateTime<Utc>,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct NotificationDelivery {
    pub id: i64,
    pub workspace_id: String,
    pub channel: String,
    pub event: String,
    pub run_id: RunId,
    pub run: Value,
    /// Attempts made before this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    /// The claim this sender holds (its fence for recording the attempt).
    pub locked_until: Option<DateTime<Utc>>,
}

/// Which deliveries to claim: those due at `now`, not claimed by another
/// sender, held until `until`.
#[derive(Debug, Clone)]
pub struct DeliveriesClaimParams {
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub limit: i64,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    /// The receiver took it.
    Delivered,
    /// Try again at that time.
    RetryAt(DateTime<Utc>),
    /// No more attempts.
    GiveUp,
}

/// One attempt's outcome, logged and applied to its delivery.
#[derive(Debug, Clone)]
pub struct DeliveryAttemptParams {
    pub delivery: NotificationDelivery,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// What went wrong, never holding the channel's URL or secret.
    pub error: Option<String>,
    pub next: DeliveryNext,
    pub now: DateTime<Utc>,
}

/// One logged attempt to send a delivery.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryAttempt {
    #[serde(skip)]
    pub id: i64,
    pub channel: String,
    pub event: String,
    pub run_id: RunId,
    /// 1 for the first attempt of its delivery.
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// Which attempts to list: a workspace's, newest first.
#[derive(Debug, Clone)]
pub struct DeliveryAttemptsListParams {
    pub workspace_id: String,
    /// Only this channel's.
    pub channel: Option<String>,
    /// Only those older than this attempt id (paging).
    pub before: Option<i64>,
    pub limit: i64,
}

/// The notifications part of the storage interface (every [`Store`] has it).
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Notices of every workspace not yet turned into deliveries, oldest first.
    async fn run_notices_pending(&self, limit: i64) -> StoreResult<Vec<RunNotice>>;

    /// Queues a notice's deliveries and removes the notice, in one
    /// transaction. A notice already fanned out (by another process) adds
    /// nothing.
    async fn deliveries_enqueue(&self, params: DeliveriesEnqueueParams) -> StoreResult<()>;

    /// Claims pending deliveries of every workspace that are due; a claimed
    /// delivery is not claimed again before `until` unless recorded.
    async fn deliveries_claim(
        &self,
        params: DeliveriesClaimParams,
    ) -> StoreResult<Vec<NotificationDelivery>>;

    /// Logs an attempt and applies its outcome to the delivery (delivered,
    /// retried later, given up), in one transaction.
    async fn delivery_attempt_record(
        &self,
        params: DeliveryAttemptParams,
    ) -> StoreResult<DeliveryAttempt>;

    /// Logged attempts of a workspace, newest first.
    async fn delivery_attempts_list(
        &self,
        params: DeliveryAttemptsListParams,
    ) -> StoreResult<Vec<DeliveryAttempt>>;
}

/// The state a delivery is in after an attempt, and when it is due next.
pub(crate) fn next_state(next: DeliveryNext, now: DateTime<Utc>) -> (&'static str, DateTime<Utc>) {
    match next {
        DeliveryNext::Delivered => ("delivered", now),
        DeliveryNext::RetryAt(at) => ("pending", at),
        DeliveryNext::GiveUp => ("failed", now),
    }
}

fn time(what: &str, column: &'static str, t: impl StoredTime) -> StoreResult<DateTime<Utc>> {
    t.unix_micros()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| StoreError::Corrupt {
            what: what.to_string(),
            column,
            reason: "time out of range".into(),
        })
}

/// A stored notice; generic over how the backend stores times.
#[derive(sqlx::FromRow)]
pub(crate) struct NoticeRow<T> {
    id: i64,
    workspace_id: String,
    run_id: i64,
    event: String,
    status: Option<String>,
    attempt: Option<i32>,
    error: Option<String>,
    started_at: Option<T>,
    finished_at: Option<T>,
}

impl<T: StoredTime> TryFrom<NoticeRow<T>> for RunNotice {
    type Error = StoreError;

    fn try_from(r: NoticeRow<T>) -> StoreResult<RunNotice> {
        let c = Columns::of(format_args!("run notice {}", r.id));
        let state = match r.status {
            Some(status) => Some(NoticeState {
                status: c.parse("status", &status)?,
                attempt: r.attempt.unwrap_or(0),
                error: r.error,
                started_at: c.opt_time("started_at", r.started_at)?,
                finished_at: c.opt_time("finished_at", r.finished_at)?,
            }),
            None => None,
        };
        Ok(RunNotice {
            id: r.id,
            workspace_id: r.workspace_id,
            run_id: RunId(r.run_id),
            event: r.event,
            state,
        })
    }
}

/// A stored delivery; generic over how the backend stores JSON and times.
#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow<J, T> {
    id: i64,
    workspace_id: String,
    channel: String,
    event: String,
    run_id: i64,
    run: J,
    attempts: i32,
    created_at: T,
    locked_until: Option<T>,
}

impl<J: StoredJson, T: StoredTime> TryFrom<DeliveryRow<J, T>> for NotificationDelivery {
    type Error = StoreError;

    fn try_from(r: DeliveryRow<J, T>) -> StoreResult<NotificationDelivery> {
        let what = format!("notification delivery {}", r.id);
        Ok(NotificationDelivery {
            run: r.run.into_json().map_err(|reason| StoreError::Corrupt {
                what: what.clone(),
                column: "run",
                reason,
            })?,
            created_at: time(&what, "created_at", r.created_at)?,
            locked_until: r
                .locked_until
                .map(|t| time(&what, "locked_until", t))
                .transpose()?,
            id: r.id,
            workspace_id: r.workspace_id,
            channel: r.channel,
            event: r.event,
            run_id: RunId(r.run_id),
            attempts: r.attempts,
        })
    }
}

/// A stored attempt.
#[derive(sqlx::FromRow)]
pub(crate) struct AttemptRow<T> {
    id: i64,
    channel: String,
    event: String,
    run_id: i64,
    attempt: i32,
    status_code: Option<i32>,
    error: Option<String>,
    at: T,
}

impl<T: StoredTime> TryFrom<AttemptRow<T>> for DeliveryAttempt {
    type Error = StoreError;

    fn try_from(r: AttemptRow<T>) -> StoreResult<DeliveryAttempt> {
        Ok(DeliveryAttempt {
            at: time(&format!("notification attempt {}", r.id), "at", r.at)?,
            id: r.id,
            channel: r.channel,
            event: r.event,
            run_id: RunId(r.run_id),
            attempt: r.attempt,
            status_code: r.status_code,
            error: r.error,
        })
    }
}
