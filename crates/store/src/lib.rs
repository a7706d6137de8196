//! opsroom's storage: one [`Store`] interface with a PostgreSQL and an SQLite
//! implementation, each with its own migrations. Every method that depends on
//! the time takes `now` from the caller, so tests inject the clock.

mod identity;
mod model;
mod notifications;
mod nul;
pub mod postgres;
mod rows;
mod rules;
mod schedules;
mod secrets;
mod sequences;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod wakeups;

pub use identity::{
    ApiToken, AuditSource, IdentityStore, MemberSet, MemberSetParams, Membership, Name, NameError,
    TokenAuth, TokenCreateParams, TokenRevokeParams, UiSession, UiSessionAuth,
    UiSessionCreateParams, UiSessionDeleteParams, User, UserCreateParams, UserCredentials,
    Workspace, WorkspaceCreateParams,
};
pub use model::*;
pub use notifications::{
    DeliveriesClaimParams, DeliveriesEnqueueParams, DeliveryAttempt, DeliveryAttemptParams,
    DeliveryAttemptsListParams, DeliveryNext, NoticeState, NotificationDelivery, NotificationStore,
    RunNotice, RUN_NOTICE_EVENTS,
};
pub use nul::{escape_nul, escape_nul_json, NUL_SHOWN_AS};
/// A URL with its credentials hidden, for logs and errors (one implementation
/// for every crate).
pub use opsroom_core::redact::redact_url;
pub use schedules::{
    fire_key, Schedule, ScheduleAdvanceParams, ScheduleCreateParams, ScheduleDeleteParams,
    SchedulePauseParams, ScheduleStore, SkippedFires,
};
pub use secrets::{
    SealedSecret, SecretDeleteParams, SecretMeta, SecretName, SecretNameError, SecretPut,
    SecretPutParams, SecretReseal, SecretStore, SecretsResealParams,
};
pub use wakeups::{Wakeup, WakeupReceiver, Wakeups};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Errors callers match on. Database text never reaches API clients: the
/// server maps [`StoreError::Database`] to a generic 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// The action does not fit the current state (e.g. approving a running run).
    #[error("{0}")]
    Conflict(String),
    /// Approving or rejecting a run by the person who requested it.
    #[error("run {run_id} was requested by {requester}; someone else must approve or reject it")]
    SelfApproval { run_id: RunId, requester: String },
    /// The caller's lease on the run is gone: the run was rescued, cancelled or
    /// finished by someone else. The caller must stop writing to it.
    #[error("lease on run {run_id} lost")]
    LeaseLost { run_id: RunId },
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("database error while {doing}: {source}")]
    Database {
        doing: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stored value cannot be read back (corrupt JSON, a time out of
    /// range, an unknown status): the same error on both backends.
    #[error("stored {what} has a bad {column}: {reason}")]
    Corrupt {
        what: String,
        column: &'static str,
        reason: String,
    },
    #[error("migration {name} failed: {source}")]
    Migration {
        name: String,
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    pub(crate) fn not_found_run(id: RunId) -> StoreError {
        StoreError::NotFound {
            what: "run",
            id: id.to_string(),
        }
    }

    /// Whether the same call may succeed if made again: the connection was
    /// lost, the database is restarting, a pool or lock timed out, or a
    /// transaction was chosen as a deadlock or serialization victim. An error
    /// the database gave for the statement itself (bad data, a constraint) is
    /// not transient: it would fail the same way again.
    pub fn is_transient(&self) -> bool {
        let StoreError::Database { source, .. } = self else {
            return false;
        };
        match source {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                match code.parse::<u32>() {
                    // SQLite's (extended) result codes: SQLITE_BUSY and
                    // SQLITE_LOCKED in their low byte.
                    Ok(n) if code.len() < 5 => matches!(n & 0xff, 5 | 6),
                    // PostgreSQL's SQLSTATE: serialization failure, deadlock,
                    // connection exceptions, shutdown, "cannot connect now".
                    _ => {
                        matches!(&*code, "40001" | "40P01")
                            || code.starts_with("08")
                            || code.starts_with("57P")
                    }
                }
            }),
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Adds "what was being done" to sqlx errors.
pub(crate) trait Doing<T> {
    fn doing(self, doing: &'static str) -> StoreResult<T>;
}

impl<T> Doing<T> for Result<T, sqlx::Error> {
    fn doing(self, doing: &'static str) -> StoreResult<T> {
        self.map_err(|source| StoreError::Database { doing, source })
    }
}

/// The storage interface shared by the PostgreSQL and SQLite backends.
///
/// Methods are named noun-then-verb. Writes made on behalf of a worker carry
/// a [`Fence`]: they only apply while that worker still holds the run's lease.
#[async_trait]
pub trait Store:
    SecretStore + IdentityStore + NotificationStore + ScheduleStore + Send + Sync + 'static
{
    /// Which backend this is: "postgres" or "sqlite".
    fn backend(&self) -> &'static str;

    /// Applies pending migrations; returns the names of those applied now.
    async fn migrate(&self) -> StoreResult<Vec<String>>;

    /// Wakeups for live streams and idle workers: new events, runs available.
    fn wakeups(&self) -> &Wakeups;

    /// Creates a run (with a `created` event and an audit entry). With an
    /// idempotency key that already exists in the workspace, returns the
    /// existing run and `false`.
    async fn run_insert(&self, params: RunInsertParams) -> StoreResult<(Run, bool)>;

    /// Creates many runs in one transaction, in order (no idempotency keys:
    /// those go through [`Store::run_insert`]). One audit entry covers the batch.
    async fn runs_insert_batch(&self, params: Vec<RunInsertParams>) -> StoreResult<Vec<Run>>;

    async fn run_get(&self, workspace_id: &str, id: RunId) -> StoreResult<Run>;

    /// What a queued run waits for: the open run ahead of it in its lane,
    /// else the run holding (or queued first for) its env lock. `None` for
    /// a run that waits for nothing of that kind (or is not queued).
    async fn run_waits_for(&self, run: &Run) -> StoreResult<Option<RunWait>>;

    /// Run history, newest first.
    async fn run_list(&self, params: RunListParams) -> StoreResult<Vec<Run>>;

    /// Atomically claims up to `limit` runs that are due and whose lane and
    /// env lock are free; they are committed as running with a new lease.
    async fn run_claim(&self, params: RunClaimParams) -> StoreResult<Vec<Run>>;

    /// Appends events to a run, with contiguous per-run sequence numbers.
    /// Returns the seq of the last event written.
    async fn events_append(&self, params: EventsAppendParams) -> StoreResult<Seq>;

    /// Ends attempts, many in one transaction: final status, or back to
    /// queued for a retry at `retry_at`. Each item has its own result: a lost
    /// lease or a bad status fails only that item; the outer error means
    /// nothing was written.
    async fn runs_complete(
        &self,
        params: Vec<RunCompleteParams>,
    ) -> StoreResult<Vec<StoreResult<Run>>>;

    /// Ends one attempt; see [`Store::runs_complete`].
    async fn run_complete(&self, params: RunCompleteParams) -> StoreResult<Run> {
        let run_id = params.run_id;
        self.runs_complete(vec![params])
            .await?
            .pop()
            .unwrap_or(Err(StoreError::LeaseLost { run_id }))
    }

    /// Cancels a run: at once when it is not running, otherwise by asking its
    /// worker to stop (the worker ends it as cancelled).
    async fn run_cancel(&self, params: RunActionParams) -> StoreResult<Run>;

    /// Moves an `awaiting_approval` run to `queued`; the approver must differ
    /// from the requester unless `allow_self` is set ([`StoreError::SelfApproval`]).
    /// `reason` is kept as the approver's comment.
    async fn run_approve(&self, params: RunActionParams) -> StoreResult<Run>;

    /// Moves an `awaiting_approval` run to `rejected`; like approving, not
    /// by its requester.
    async fn run_reject(&self, params: RunActionParams) -> StoreResult<Run>;

    /// Rejects the runs whose approval expired at or before `now`, each with
    /// its event and audit entry. Safe to call from many processes at once:
    /// each run is expired exactly once. Returns the runs expired by this call.
    async fn runs_expire_approvals(&self, now: DateTime<Utc>) -> StoreResult<Vec<Run>>;

    /// Requeues (or fails, once attempts are used up) running runs whose
    /// worker stopped heartbeating before `stale_before`.
    async fn runs_rescue(&self, params: RunsRescueParams) -> StoreResult<Vec<Run>>;

    /// Events of a run of the workspace with seq > `after`, in order; a run
    /// of another workspace is not found.
    async fn events_list(&self, params: EventsListParams) -> StoreResult<Vec<RunEvent>>;

    async fn artifact_insert(&self, params: ArtifactInsertParams) -> StoreResult<Artifact>;

    async fn artifacts_list(&self, workspace_id: &str, run_id: RunId)
        -> StoreResult<Vec<Artifact>>;

    /// Registers a worker or refreshes its heartbeat; returns the runs it
    /// holds that were asked to cancel.
    async fn worker_heartbeat(&self, params: WorkerHeartbeatParams) -> StoreResult<Vec<RunId>>;

    /// Every worker, newest heartbeat first. Workers are global: they serve
    /// all workspaces.
    async fn workers_list(&self) -> StoreResult<Vec<Worker>>;

    async fn session_create(&self, params: SessionCreateParams) -> StoreResult<Session>;

    async fn session_get(&self, workspace_id: &str, id: i64) -> StoreResult<SessionWithRuns>;

    /// The workspace's sessions, newest first, at most `limit`.
    async fn session_list(&self, workspace_id: &str, limit: i64) -> StoreResult<Vec<Session>>;

    /// Audit entries of a workspace, filtered, in id order.
    async fn audit_list(&self, params: AuditListParams) -> StoreResult<Vec<AuditEntry>>;

    /// Adds an entry to the append-only audit log (the entries of run and
    /// secret changes are written by those changes themselves, in their
    /// transaction). There is no way to change or delete an entry.
    async fn audit_append(&self, params: AuditAppendParams) -> StoreResult<AuditEntry>;

    /// Counts of runs per status, for metrics. Global: all workspaces
    /// together (metrics describe the whole installation).
    async fn runs_count_by_status(&self) -> StoreResult<Vec<(String, i64)>>;
}

/// The store handle passed around the program.
pub type DynStore = Arc<dyn Store>;

/// Opens a store from a URL: `postgres://…` or `sqlite://PATH` (created if missing).
pub async fn connect(url: &str) -> StoreResult<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
    } else {
        Err(StoreError::InvalidUrl(format!(
            "`{}` is neither postgres://… nor sqlite://PATH",
            redact_url(url)
        )))
    }
}
