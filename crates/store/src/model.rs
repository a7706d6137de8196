//! Rows and the params structs of the store's methods.

use chrono::{DateTime, Utc};
pub use opsroom_core::{ArtifactKind, Lane, Risk, RunId, Seq, WorkerState};
use opsroom_core::{EventLevel, Phase, RunStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A run as stored (and as the API shows it: clients deserialize it too).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub workspace_id: String,
    pub runbook: String,
    pub env: Option<String>,
    pub target: Option<String>,
    pub params: Value,
    /// The command text the run came from, if any.
    pub text: Option<String>,
    /// The plan: steps per phase.
    pub plan: Value,
    pub risk: Risk,
    pub status: RunStatus,
    pub priority: i32,
    pub attempt: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub session_id: Option<i64>,
    pub lane: Option<Lane>,
    #[serde(skip)]
    pub lane_key: Option<String>,
    /// Env lock key (`env/target`) of a write run.
    pub lock_key: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_by: String,
    pub approved_by: Option<String>,
    /// How the approval of a run that needed one stands; None for a run
    /// that never needed one.
    pub approval: Option<RunApproval>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub worker_id: Option<String>,
    /// Fencing token: bumped at every claim.
    pub lease: i64,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub timeout_secs: i64,
    pub error: Option<String>,
    /// Per-phase progress written by the worker: `[{phase, status, duration_ms}]`.
    pub phases: Value,
    pub last_seq: Seq,
    /// The schedule that enqueued this run, if one did.
    #[serde(default)]
    pub schedule_id: Option<i64>,
    /// The fire time of that schedule this run is for.
    #[serde(default)]
    pub scheduled_for: Option<DateTime<Utc>>,
}

impl Run {
    /// The fence a worker holding this run's current lease writes with.
    pub fn fence(&self) -> Fence {
        Fence { lease: self.lease }
    }

    /// Whether this run, just ended or requeued, may let queued runs be
    /// claimed: it is back in the queue, or it held a lane or an env lock.
    pub fn frees_queued_runs(&self) -> bool {
        self.status == RunStatus::Queued || self.lane_key.is_some() || self.lock_key.is_some()
    }
}

/// Where the approval of a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for someone other than the requester.
    Pending,
    Approved,
    Rejected,
    /// Nobody decided before it expired: the run was rejected.
    Expired,
    /// The run was cancelled while it waited.
    Cancelled,
}

impl ApprovalState {
    pub const ALL: [ApprovalState; 5] = [
        ApprovalState::Pending,
        ApprovalState::Approved,
        ApprovalState::Rejected,
        ApprovalState::Expired,
        ApprovalState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Expired => "expired",
            ApprovalState::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for ApprovalState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ApprovalState::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not an approval state"))
    }
}

/// The approval of a run that needed one: the requester is the run's
/// `created_by`, asking at its `created_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunApproval {
    pub state: ApprovalState,
    /// When a pending approval turns into a rejection; None: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who approved, rejected or cancelled it (None while pending or once expired).
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's comment.
    pub comment: Option<String>,
}

/// Proof that a writer holds a run's current lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    pub lease: i64,
}

#[derive(Debug, Clone)]
pub struct RunInsertParams {
    pub workspace_id: String,
    pub runbook: String,
    pub env: Option<String>,
    pub target: Option<String>,
    pub params: Value,
    pub text: Option<String>,
    pub plan: Value,
    pub risk: Risk,
    pub priority: i32,
    /// None: runnable at once.
    pub run_after: Option<DateTime<Utc>>,
    pub max_attempts: i32,
    pub session_id: Option<i64>,
    pub lane: Option<Lane>,
    pub lock_key: Option<String>,
    pub idempotency_key: Option<String>,
    /// Starts in `awaiting_approval` instead of `queued`.
    pub needs_approval: bool,
    pub timeout_secs: i64,
    /// When a run that needs approval stops waiting and is rejected (None:
    /// it waits until someone decides).
    pub approval_expires_at: Option<DateTime<Utc>>,
    /// The run this one retries (its audit entry is then `run.retry`).
    pub retry_of: Option<RunId>,
    pub actor: String,
    /// Where the request came from (the client's address), for the audit log.
    pub source: Option<String>,
    /// The schedule enqueuing this run and the fire time it is for.
    pub schedule_id: Option<i64>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl RunInsertParams {
    /// A queued run of `runbook` with defaults for everything else.
    pub fn new(runbook: &str, now: DateTime<Utc>) -> Self {
        RunInsertParams {
            workspace_id: DEFAULT_WORKSPACE.to_string(),
            runbook: runbook.to_string(),
            env: None,
            target: None,
            params: Value::Object(Default::default()),
            text: None,
            plan: Value::Array(vec![]),
            risk: Risk::Read,
            priority: 0,
            run_after: None,
            max_attempts: 1,
            session_id: None,
            lane: None,
            lock_key: None,
            idempotency_key: None,
            needs_approval: false,
            timeout_secs: 3600,
            approval_expires_at: None,
            retry_of: None,
            actor: "system".into(),
            source: None,
            schedule_id: None,
            scheduled_for: None,
            now,
        }
    }

    /// The run these params would insert, before it is stored (id 0, never
    /// claimed): what a preview checks the way a worker would.
    pub fn unsaved_run(&self) -> Run {
        Run {
            id: RunId(0),
            workspace_id: self.workspace_id.clone(),
            runbook: self.runbook.clone(),
            env: self.env.clone(),
            target: self.target.clone(),
            params: self.params.clone(),
            text: self.text.clone(),
            plan: self.plan.clone(),
            risk: self.risk,
            status: if self.needs_approval {
                RunStatus::AwaitingApproval
            } else {
                RunStatus::Queued
            },
            priority: self.priority,
            attempt: 0,
            max_attempts: self.max_attempts,
            run_after: self.run_after.unwrap_or(self.now),
            session_id: self.session_id,
            lane: self.lane,
            lane_key: self.lane_key(),
            lock_key: self.lock_key.clone(),
            idempotency_key: self.idempotency_key.clone(),
            created_by: self.actor.clone(),
            approved_by: None,
            approval: None,
            created_at: self.now,
            started_at: None,
            finished_at: None,
            schedule_id: self.schedule_id,
            scheduled_for: self.scheduled_for,
            worker_id: None,
            lease: 0,
            heartbeat_at: None,
            cancel_requested: false,
            timeout_secs: self.timeout_secs,
            error: None,
            phases: Value::Array(vec![]),
            last_seq: Seq(0),
        }
    }

    /// The concurrency key of the run's lane: runs with the same key execute
    /// one at a time, in enqueue order.
    pub fn lane_key(&self) -> Option<String> {
        match (self.session_id, &self.lane) {
            (Some(s), Some(l)) => Some(format!("{}/{s}/{l}", self.workspace_id)),
            _ => None,
        }
    }
}

/// The workspace runs go to when nobody says otherwise.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Why a queued run is not claimed yet (`keys_free.sql`'s condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// An open run is ahead of it in its lane.
    Lane,
    /// Another write to the same env and target holds, or is ahead for,
    /// the env lock.
    EnvLock,
}

impl WaitReason {
    /// From `run_waits_for.sql`'s `reason` column (`lane` or `env_lock`).
    pub(crate) fn from_column(s: &str) -> WaitReason {
        if s == "lane" {
            WaitReason::Lane
        } else {
            WaitReason::EnvLock
        }
    }
}

/// The run a queued run waits for, and why.
#[derive(Debug, Clone)]
pub struct RunWait {
    pub run: Run,
    pub reason: WaitReason,
}

#[derive(Debug, Clone, Default)]
pub struct RunListParams {
    pub workspace_id: String,
    pub status: Option<RunStatus>,
    pub env: Option<String>,
    pub runbook: Option<String>,
    pub session_id: Option<i64>,
    /// Only runs with id < before (pagination).
    pub before: Option<RunId>,
    /// Only runs requested by exactly this user (`created_by`).
    pub created_by: Option<String>,
    /// Only runs created at or after this time.
    pub created_from: Option<DateTime<Utc>>,
    /// Only runs created before this time.
    pub created_to: Option<DateTime<Utc>>,
    /// Text search: only runs where every word appears (case-insensitive)
    /// in the command text, runbook, env, target, requester, error, params,
    /// or the run's id written `#ID`.
    pub q: Option<String>,
    pub limit: i64,
}

impl RunListParams {
    /// The search's words, lowercased, as a JSON array (what both stores'
    /// queries read); None without a search.
    pub fn q_words(&self) -> Option<String> {
        let words: Vec<String> = self
            .q
            .as_deref()?
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        (!words.is_empty()).then(|| Value::from(words).to_string())
    }
}

#[derive(Debug, Clone)]
pub struct RunClaimParams {
    pub worker_id: String,
    pub limit: i64,
    pub now: DateTime<Utc>,
}

/// An event to append.
#[derive(Debug, Clone, Serialize)]
pub struct NewEvent {
    pub ts: DateTime<Utc>,
    pub level: EventLevel,
    pub phase: Option<Phase>,
    pub message: String,
    pub data: Value,
}

impl NewEvent {
    pub fn new(
        ts: DateTime<Utc>,
        level: EventLevel,
        phase: Option<Phase>,
        message: impl Into<String>,
    ) -> Self {
        NewEvent {
            ts,
            level,
            phase,
            message: message.into(),
            data: Value::Null,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// A stored run event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunEvent {
    pub run_id: RunId,
    pub seq: Seq,
    pub ts: DateTime<Utc>,
    pub level: EventLevel,
    pub phase: Option<Phase>,
    pub message: String,
    pub data: Value,
}

/// Which events of a run to read.
#[derive(Debug, Clone)]
pub struct EventsListParams {
    pub workspace_id: String,
    pub run_id: RunId,
    /// Only events with seq > after.
    pub after: Seq,
    pub limit: i64,
}

impl EventsListParams {
    /// The first `limit` events of a run of the workspace.
    pub fn new(workspace_id: &str, run_id: RunId, limit: i64) -> Self {
        EventsListParams {
            workspace_id: workspace_id.to_string(),
            run_id,
            after: Seq(0),
            limit,
        }
    }

    /// Only the events after `seq`.
    pub fn after(mut self, seq: Seq) -> Self {
        self.after = seq;
        self
    }
}

#[derive(Debug, Clone)]
pub struct EventsAppendParams {
    /// The run's workspace: a run of another workspace is not written to.
    pub workspace_id: String,
    pub run_id: RunId,
    /// None: written by the control plane (API, rescuer), not a worker.
    pub fence: Option<Fence>,
    pub events: Vec<NewEvent>,
    /// New per-phase progress, if it changed.
    pub phases: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct RunCompleteParams {
    /// The run's workspace: a run of another workspace is not ended.
    pub workspace_id: String,
    pub run_id: RunId,
    pub fence: Fence,
    /// Succeeded, Failed or Cancelled; Failed with `retry_at` requeues.
    pub status: RunStatus,
    pub error: Option<String>,
    /// Requeue for another attempt at this time (only with status Failed).
    pub retry_at: Option<DateTime<Utc>>,
    /// Last events, written in the same transaction as the status.
    pub events: Vec<NewEvent>,
    pub phases: Option<Value>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct RunActionParams {
    pub workspace_id: String,
    pub run_id: RunId,
    pub actor: String,
    /// Why (a cancel), or the approver's comment (an approval or a rejection).
    pub reason: Option<String>,
    /// Where the request came from (the client's address), for the audit log.
    pub source: Option<String>,
    /// For approvals: whether the requester may approve their own run.
    pub allow_self: bool,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct RunsRescueParams {
    /// Runs whose last heartbeat is older than this are rescued.
    pub stale_before: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Delay before a rescued run may be claimed again.
    pub retry_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Artifact {
    pub id: i64,
    pub run_id: RunId,
    pub workspace_id: String,
    pub kind: ArtifactKind,
    pub name: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ArtifactInsertParams {
    /// The run's workspace: a run of another workspace gets no artifact.
    pub workspace_id: String,
    pub run_id: RunId,
    pub fence: Option<Fence>,
    pub kind: ArtifactKind,
    pub name: String,
    pub content: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct WorkerHeartbeatParams {
    pub worker_id: String,
    pub host: String,
    pub pid: i64,
    pub state: WorkerState,
    pub concurrency: i32,
    /// The runs this worker is executing right now. Only their leases are
    /// extended: a run the worker claimed but lost track of (its claim's
    /// answer never arrived, or it gave up completing it) is not kept alive
    /// by the worker's other runs, and is rescued once its lease lapses.
    pub running: Vec<RunId>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Worker {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub state: WorkerState,
    pub concurrency: i32,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Runs this worker holds now.
    pub running: Vec<RunId>,
}

#[derive(Debug, Clone)]
pub struct SessionCreateParams {
    pub workspace_id: String,
    pub name: String,
    pub actor: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub id: i64,
    pub workspace_id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// One lane of a session, with its runs in enqueue order.
#[derive(Debug, Clone, Serialize)]
pub struct SessionLane {
    pub name: Lane,
    pub runs: Vec<Run>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionWithRuns {
    #[serde(flatten)]
    pub session: Session,
    pub lanes: Vec<SessionLane>,
}

impl SessionWithRuns {
    /// Groups a session's runs (in enqueue order) into its lanes.
    pub fn from_runs(session: Session, runs: Vec<Run>) -> Self {
        let lanes = Lane::ALL
            .into_iter()
            .map(|l| SessionLane {
                name: l,
                runs: runs.iter().filter(|r| r.lane == Some(l)).cloned().collect(),
            })
            .collect();
        SessionWithRuns { session, lanes }
    }
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub workspace_id: String,
    pub ts: DateTime<Utc>,
    /// Who did it (a user, `system` for opsroom itself).
    pub actor: String,
    /// What was done, as `noun.verb`: `run.create`, `run.approve`, `secret.set`, …
    pub action: String,
    /// What it was done to: `run:42`, `secret:NAME`, …
    pub subject: String,
    /// Where the request came from (the client's address), when known.
    pub source: Option<String>,
    /// What else is known; `before` and `after` hold the state that changed.
    pub details: Value,
}

/// An entry to add to the audit log ([`Store::audit_append`]).
#[derive(Debug, Clone)]
pub struct AuditAppendParams {
    pub workspace_id: String,
    pub ts: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub source: Option<String>,
    pub details: Value,
}

/// Which audit entries to read ([`Store::audit_list`]).
#[derive(Debug, Clone, Default)]
pub struct AuditListParams {
    pub workspace_id: String,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries with exactly this action.
    pub action: Option<String>,
    /// Only entries of exactly this actor.
    pub actor: Option<String>,
    /// Newest first (else oldest first).
    pub newest_first: bool,
    /// Only entries that come after this id in the chosen order (paging).
    pub cursor: Option<i64>,
    pub limit: i64,
}

impl AuditListParams {
    /// The newest `limit` entries of a workspace.
    pub fn newest(workspace_id: &str, limit: i64) -> Self {
        AuditListParams {
            workspace_id: workspace_id.to_string(),
            newest_first: true,
            limit,
            ..Default::default()
        }
    }
}
