//! What the API answers: its own types, built from the store's rows, so
//! store internals (a run's lease, lock key, worker and last seq) never reach
//! clients and a change to a row does not silently change the API. The CLI's
//! client deserializes the same types, so server and client cannot drift;
//! the OpenAPI document is generated from them.

use chrono::{DateTime, Utc};
use opsroom_core::{
    ArtifactKind, EventLevel, Lane, Phase, PhaseStatus, Risk, RunId, RunStatus, Seq, WorkerState,
};
use opsroom_store::{Artifact, Run, RunEvent, SessionWithRuns};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

mod notify;
pub use notify::{DeliveriesQuery, DeliveryAttemptView, HookBody};
mod schedules;
pub use schedules::{CreateSchedule, ScheduleView, SkippedFiresView};
mod slack;
pub use slack::{SlackCommandForm, SlackInteractionForm, SlackMessage};

/// A run: what was asked for, its plan, status, phases, attempts and timings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Run)]
pub struct RunView {
    #[schema(value_type = i64)]
    pub id: RunId,
    pub workspace_id: String,
    pub runbook: String,
    pub env: Option<String>,
    pub target: Option<String>,
    /// The runbook's params, checked against its declaration.
    #[schema(value_type = Object)]
    pub params: Value,
    /// The command text the run came from, if any.
    pub text: Option<String>,
    /// The steps of each phase.
    #[schema(value_type = Vec<PlannedPhaseView>)]
    pub plan: Value,
    #[schema(schema_with = risk_schema)]
    pub risk: Risk,
    #[schema(schema_with = run_status_schema)]
    pub status: RunStatus,
    pub priority: i32,
    pub attempt: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub session_id: Option<i64>,
    #[schema(schema_with = lane_schema)]
    pub lane: Option<Lane>,
    pub idempotency_key: Option<String>,
    pub created_by: String,
    pub approved_by: Option<String>,
    /// For a run that needed approval: who asked and when, until when it
    /// waits, who decided, when, and their comment. Null when none was needed.
    #[serde(default)]
    pub approval: Option<ApprovalView>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The last sign of life of the worker running it.
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub timeout_secs: i64,
    pub error: Option<String>,
    /// How each phase went.
    #[schema(value_type = Vec<PhaseView>)]
    pub phases: Value,
    /// The worker that runs it or ran its last attempt.
    #[serde(default)]
    pub worker_id: Option<String>,
    /// The run this one retries (only `GET /api/v1/runs/{id}` says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub retry_of: Option<RunId>,
    /// The runs that retried this one, oldest first (only
    /// `GET /api/v1/runs/{id}` says).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<i64>)]
    pub retried_as: Vec<RunId>,
    /// What this queued run waits for before a worker may claim it (only
    /// `GET /api/v1/runs/{id}` says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<WaitsForView>,
    /// The schedule that enqueued this run (null: none did).
    #[serde(default)]
    pub schedule_id: Option<i64>,
    /// The schedule's fire time this run is for.
    #[serde(default)]
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// The approval of a run that needed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Approval)]
pub struct ApprovalView {
    /// `pending` while it waits; then `approved`, `rejected`, `expired`
    /// (nobody decided in time: the run was rejected) or `cancelled`.
    #[schema(schema_with = approval_state_schema)]
    pub state: String,
    /// Who asked for the run (its `created_by`): they cannot approve it.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// When a pending approval expires and the run is rejected; null: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who approved, rejected or cancelled it.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's comment.
    pub comment: Option<String>,
}

fn approval_state_schema() -> RefOr<Schema> {
    enum_schema(
        opsroom_store::ApprovalState::ALL.map(opsroom_store::ApprovalState::as_str),
        false,
    )
}

impl From<Run> for RunView {
    fn from(r: Run) -> Self {
        let approval = r.approval.map(|a| ApprovalView {
            state: a.state.as_str().to_string(),
            requested_by: r.created_by.clone(),
            requested_at: r.created_at,
            expires_at: a.expires_at,
            decided_by: a.decided_by,
            decided_at: a.decided_at,
            comment: a.comment,
        });
        RunView {
            approval,
            id: r.id,
            workspace_id: r.workspace_id,
            runbook: r.runbook,
            env: r.env,
            target: r.target,
            params: r.params,
            text: r.text,
            plan: r.plan,
            risk: r.risk,
            status: r.status,
            priority: r.priority,
            attempt: r.attempt,
            max_attempts: r.max_attempts,
            run_after: r.run_after,
            session_id: r.session_id,
            lane: r.lane,
            idempotency_key: r.idempotency_key,
            created_by: r.created_by,
            approved_by: r.approved_by,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            heartbeat_at: r.heartbeat_at,
            cancel_requested: r.cancel_requested,
            timeout_secs: r.timeout_secs,
            error: r.error,
            phases: r.phases,
            worker_id: r.worker_id,
            retry_of: None,
            retried_as: Vec::new(),
            waits_for: None,
            schedule_id: r.schedule_id,
            scheduled_for: r.scheduled_for,
        }
    }
}

/// The steps of one phase of a run's plan (documentation of `Run.plan`).
#[derive(ToSchema)]
#[schema(as = PlannedPhase)]
#[allow(dead_code)]
pub struct PlannedPhaseView {
    #[schema(schema_with = phase_schema)]
    phase: String,
    steps: Vec<String>,
}

/// How one phase of a run went (documentation of `Run.phases`).
#[derive(ToSchema)]
#[schema(as = PhaseProgress)]
#[allow(dead_code)]
pub struct PhaseView {
    #[schema(schema_with = phase_schema)]
    phase: String,
    #[schema(schema_with = phase_status_schema)]
    status: String,
    started_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    error: Option<String>,
}

/// One event of a run: `seq` counts from 1 without gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = RunEvent)]
pub struct EventView {
    #[schema(value_type = i64)]
    pub run_id: RunId,
    #[schema(value_type = i64)]
    pub seq: Seq,
    pub ts: DateTime<Utc>,
    #[schema(schema_with = level_schema)]
    pub level: EventLevel,
    #[schema(schema_with = optional_phase_schema)]
    pub phase: Option<Phase>,
    pub message: String,
    /// Structured details, or null; `kind` names what happened (`phase_end`, …).
    pub data: Value,
}

impl From<RunEvent> for EventView {
    fn from(e: RunEvent) -> Self {
        EventView {
            run_id: e.run_id,
            seq: e.seq,
            ts: e.ts,
            level: e.level,
            phase: e.phase,
            message: e.message,
            data: e.data,
        }
    }
}

/// The `end` event of a run's stream: the run is final and every event was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamEnd {
    #[schema(value_type = i64)]
    pub id: RunId,
    #[schema(schema_with = run_status_schema)]
    pub status: RunStatus,
    pub error: Option<String>,
    /// The seq of the run's last event.
    #[schema(value_type = i64)]
    pub last_seq: Seq,
}

/// Something a run produced: a link, diff, report, file, ERD or JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Artifact)]
pub struct ArtifactView {
    pub id: i64,
    #[schema(value_type = i64)]
    pub run_id: RunId,
    pub workspace_id: String,
    #[schema(schema_with = artifact_kind_schema)]
    pub kind: ArtifactKind,
    pub name: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

impl From<Artifact> for ArtifactView {
    fn from(a: Artifact) -> Self {
        ArtifactView {
            id: a.id,
            run_id: a.run_id,
            workspace_id: a.workspace_id,
            kind: a.kind,
            name: a.name,
            content: a.content,
            created_at: a.created_at,
        }
    }
}

/// A session: its runs grouped in lanes A to D, each lane in enqueue order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionView {
    pub id: i64,
    pub workspace_id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub lanes: Vec<LaneView>,
}

/// One lane of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Lane)]
pub struct LaneView {
    #[schema(schema_with = lane_name_schema)]
    pub name: Lane,
    pub runs: Vec<RunView>,
}

impl From<SessionWithRuns> for SessionView {
    fn from(s: SessionWithRuns) -> Self {
        SessionView {
            id: s.session.id,
            workspace_id: s.session.workspace_id,
            name: s.session.name,
            created_by: s.session.created_by,
            created_at: s.session.created_at,
            lanes: s
                .lanes
                .into_iter()
                .map(|l| LaneView {
                    name: l.name,
                    runs: l.runs.into_iter().map(RunView::from).collect(),
                })
                .collect(),
        }
    }
}

/// A worker process as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Worker)]
pub struct WorkerView {
    pub id: String,
    pub host: String,
    pub pid: i64,
    #[schema(schema_with = worker_state_schema)]
    pub state: WorkerState,
    pub concurrency: i32,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// The runs it holds now.
    #[schema(value_type = Vec<i64>)]
    pub running: Vec<RunId>,
    /// Not stopped, and its last heartbeat is older than the heartbeat timeout.
    pub stale: bool,
    pub heartbeat_age_ms: i64,
}

/// `POST /api/v1/parse`: how the text is understood, and what it would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Parse)]
pub struct ParseView {
    /// A runbook name, or `none` when the text asks for no runbook clearly.
    pub intent: String,
    pub env: Option<String>,
    pub target: Option<String>,
    pub params: Map<String, Value>,
    /// 0 to 1: how sure the parser is of intent, env and target together.
    pub confidence: f64,
    /// What the operator should answer before this can run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<String>,
    /// Runbooks the text might have meant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<String>,
    #[schema(value_type = Vec<PlannedPhaseView>)]
    pub plan: Value,
    #[schema(schema_with = optional_risk_schema)]
    pub risk: Option<Risk>,
    pub needs_approval: bool,
    /// Whether a run can be started from this text as it is: a runbook
    /// matched, nothing is left to ask, and the validate phase's checks pass.
    pub runnable: bool,
    /// Why a matched runbook cannot run as asked (the validate phase's
    /// error, e.g. an unknown target): `{"code","message"}`; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_error: Option<ValidationError>,
}

/// What the validate phase would refuse in a previewed command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ValidationError {
    pub code: String,
    pub message: String,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    #[schema(schema_with = ok_schema)]
    pub status: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable `code` and a message that says how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// For command text that was not understood: what to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<Vec<String>>,
    /// For command text that was not understood: runbooks it might mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<String>>,
    /// For command text that was not understood: how it was read (intent,
    /// env, target, params, confidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub parsed: Option<Value>,
}

/// A string schema allowing exactly `values` (and null when `nullable`).
fn enum_schema<'a>(values: impl IntoIterator<Item = &'a str>, nullable: bool) -> RefOr<Schema> {
    let mut values: Vec<Value> = values.into_iter().map(Value::from).collect();
    let ty = if nullable {
        values.push(Value::Null);
        utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])
    } else {
        utoipa::openapi::schema::SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .enum_values(Some(values))
        .into()
}

fn run_status_schema() -> RefOr<Schema> {
    enum_schema(RunStatus::ALL.map(RunStatus::as_str), false)
}

fn level_schema() -> RefOr<Schema> {
    enum_schema(EventLevel::ALL.map(EventLevel::as_str), false)
}

fn phase_schema() -> RefOr<Schema> {
    enum_schema(Phase::ALL.map(Phase::as_str), false)
}

fn optional_phase_schema() -> RefOr<Schema> {
    enum_schema(Phase::ALL.map(Phase::as_str), true)
}

fn risk_schema() -> RefOr<Schema> {
    enum_schema(Risk::ALL.map(Risk::as_str), false)
}

fn optional_risk_schema() -> RefOr<Schema> {
    enum_schema(Risk::ALL.map(Risk::as_str), true)
}

fn lane_schema() -> RefOr<Schema> {
    enum_schema(Lane::ALL.map(Lane::as_str), true)
}

fn lane_name_schema() -> RefOr<Schema> {
    enum_schema(Lane::ALL.map(Lane::as_str), false)
}

fn artifact_kind_schema() -> RefOr<Schema> {
    enum_schema(ArtifactKind::ALL.map(ArtifactKind::as_str), false)
}

fn phase_status_schema() -> RefOr<Schema> {
    enum_schema(PhaseStatus::ALL.map(PhaseStatus::as_str), false)
}

fn worker_state_schema() -> RefOr<Schema> {
    enum_schema(WorkerState::ALL.map(WorkerState::as_str), false)
}

fn ok_schema() -> RefOr<Schema> {
    enum_schema(["ok"], false)
}

/// A string without NUL (U+0000), which no store can keep.
const NO_NUL: &str = "^[^\\u0000]*$";

/// Body of `POST /api/v1/runs`. Give `text`, or `runbook` (with `env` when
/// the runbook needs one); explicit fields win over what the text says.
/// `session_id` and `lane` go together. Null is the same as leaving a field out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = optional_command_text_schema)]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[^\\u0000]*$")]
    pub runbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[^\\u0000]*$")]
    pub env: Option<String>,
    /// 1 to 200 characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(schema_with = params_schema)]
    pub params: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = lane_schema)]
    pub lane: Option<String>,
    /// Also accepted as the `Idempotency-Key` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\u0000]*$")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schema(minimum = -100, maximum = 100)]
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 20)]
    pub max_attempts: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_after: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 86400)]
    pub timeout_secs: Option<i64>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Optional body of the actions on a run (cancel, approve, reject).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Why (kept in the run's events and the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000, pattern = "^[^\\u0000]*$")]
    pub reason: Option<String>,
}

/// Optional body of `POST /api/v1/runs/{id}/retry`: params that replace
/// the old run's (an edited copy); without it the run is retried as it was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    /// Merged over the old run's params, checked against the runbook.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
}

/// Optional body of `POST /api/v1/runs/{id}/approve` and `/reject`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The approver's comment, shown with the run (`reason` is accepted too).
    #[serde(default, alias = "reason", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000, pattern = "^[^\\u0000]*$")]
    pub comment: Option<String>,
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries at or after this time (RFC 3339, e.g. `2026-01-31T00:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// `jsonl` (default: one JSON object per line) or `csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = audit_format_schema)]
    pub format: Option<String>,
    /// Only entries with exactly this action (`run.approve`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(max_length = 200, pattern = "^[^\\u0000]*$")]
    pub action: Option<String>,
    /// Only entries of exactly this actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(max_length = 200, pattern = "^[^\\u0000]*$")]
    pub actor: Option<String>,
}

fn audit_format_schema() -> RefOr<Schema> {
    enum_schema(["jsonl", "csv"], false)
}

/// One audit entry, as a line of the JSON lines export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = AuditEntry)]
pub struct AuditEntryView {
    pub id: i64,
    pub ts: DateTime<Utc>,
    pub workspace: String,
    /// Who did it (`system` for opsroom itself).
    pub actor: String,
    /// `run.create`, `run.retry`, `run.approve`, `run.reject`, `run.expire`,
    /// `run.cancel`, `secret.set`, `secret.deleted`, …
    pub action: String,
    /// What it was done to: `run:42`, `secret:NAME`, …
    pub subject: String,
    /// The client's address, when known.
    pub source: Option<String>,
    /// Details; `before` and `after` hold what changed.
    #[schema(value_type = Object)]
    pub details: Value,
}

impl From<opsroom_store::AuditEntry> for AuditEntryView {
    fn from(a: opsroom_store::AuditEntry) -> Self {
        AuditEntryView {
            id: a.id,
            ts: a.ts,
            workspace: a.workspace_id,
            actor: a.actor,
            action: a.action,
            subject: a.subject,
            source: a.source,
            details: a.details,
        }
    }
}

/// Optional body of `POST /api/v1/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// Default: `session YYYY-MM-DD HH:MM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = session_name_schema)]
    pub name: Option<String>,
}

/// Body of `POST /api/v1/parse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    #[schema(schema_with = command_text_schema)]
    pub text: String,
    /// Params that override what the text says (the card's edited params),
    /// checked as `POST /api/v1/runs` would check them.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
}

/// Query of `GET /api/v1/runs`: filters and a page, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = optional_status_param)]
    pub status: Option<String>,
    /// An environment name: 1 to 100 letters, digits, `-` or `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    pub env: Option<String>,
    /// A runbook name: 1 to 64 of a-z, 0-9 and `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = "^[a-z0-9_]{1,64}$")]
    pub runbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i64>,
    /// 1 to 1000; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Only runs with a smaller id (pagination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<i64>)]
    pub before: Option<RunId>,
    /// Text search done by the server: runs where every word appears
    /// (case-insensitive) in the command text, runbook, env, target,
    /// requester, error, params or `#ID`. At most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(max_length = 200, pattern = "^[^\\u0000]*$")]
    pub q: Option<String>,
    /// Only runs requested by exactly this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(max_length = 200, pattern = "^[^\\u0000]*$")]
    pub created_by: Option<String>,
    /// Only runs created at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only runs created before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

/// The run a queued run waits for, and why: lanes run one at a time in
/// enqueue order; one write at a time holds an env and target's lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WaitsForView {
    #[schema(value_type = i64)]
    pub run_id: RunId,
    /// That run's status now.
    pub status: String,
    pub runbook: String,
    /// `lane` or `env_lock`.
    pub reason: String,
}

impl From<opsroom_store::RunWait> for WaitsForView {
    fn from(w: opsroom_store::RunWait) -> Self {
        WaitsForView {
            run_id: w.run.id,
            status: w.run.status.as_str().to_string(),
            runbook: w.run.runbook,
            reason: match w.reason {
                opsroom_store::WaitReason::Lane => "lane",
                opsroom_store::WaitReason::EnvLock => "env_lock",
            }
            .to_string(),
        }
    }
}

/// Query of `GET /api/v1/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionsQuery {
    /// 1 to 100; default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// Query of `GET /api/v1/runs/{id}/events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events with a greater seq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<i64>)]
    pub after: Option<Seq>,
    /// 1 to 10000; default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// Query of `GET /api/v1/runs/{id}/events/stream`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this seq (`Last-Event-ID` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<i64>)]
    pub after: Option<Seq>,
}

/// Not only spaces, no control characters but tab, line feed and carriage return.
const COMMAND_TEXT: &str = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$";

/// Not only spaces, no control characters.
const SESSION_NAME: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f]*$";

fn text_schema(nullable: bool, max: usize, pattern: &str, description: &str) -> ObjectBuilder {
    let ty = if nullable {
        utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])
    } else {
        utoipa::openapi::schema::SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .description(Some(description))
}

const COMMAND_TEXT_ABOUT: &str = "Plain command text, e.g. `check prod status`: at most 2000 characters, not only spaces, no control characters but tab, line feed and carriage return.";

fn command_text_schema() -> RefOr<Schema> {
    text_schema(false, 2000, COMMAND_TEXT, COMMAND_TEXT_ABOUT)
        .examples(["check prod status"])
        .into()
}

fn optional_command_text_schema() -> RefOr<Schema> {
    text_schema(true, 2000, COMMAND_TEXT, COMMAND_TEXT_ABOUT).into()
}

fn session_name_schema() -> RefOr<Schema> {
    text_schema(
        true,
        200,
        SESSION_NAME,
        "1 to 200 characters, not only spaces, no control characters",
    )
    .into()
}

/// A runbook parameter: a string without NUL, an integer or a boolean.
fn params_schema() -> RefOr<Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, SchemaType};
    let value = AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .pattern(Some(NO_NUL)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::Integer))
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                ))),
        )
        .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Boolean)))
        .description(Some(
            "A runbook parameter: a string (without NUL), an integer or a boolean; which names and kinds a runbook takes is listed by GET /api/v1/runbooks.",
        ));
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .additional_properties(Some(Schema::AnyOf(value.build())))
        .into()
}

fn optional_status_param() -> RefOr<Schema> {
    run_status_schema()
}

/// One Server-Sent Event of a run's stream (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SseEvent {
    /// The event's seq (not on `end`).
    #[schema(pattern = "^[0-9]+$")]
    id: Option<String>,
    #[schema(schema_with = sse_event_name_schema)]
    event: Option<String>,
    /// JSON: a RunEvent, or a StreamEnd on `end`.
    data: String,
    retry: Option<i64>,
}

fn sse_event_name_schema() -> RefOr<Schema> {
    enum_schema(["message", "end"], false)
}

/// What is known of a stored secret; never its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Secret)]
pub struct SecretView {
    pub name: String,
    pub workspace_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<opsroom_store::SecretMeta> for SecretView {
    fn from(m: opsroom_store::SecretMeta) -> Self {
        SecretView {
            name: m.name,
            workspace_id: m.workspace_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
            updated_by: m.updated_by,
        }
    }
}

/// Body of `PUT /api/v1/secrets/{name}`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    /// The value: write-only, never returned by any route.
    #[schema(min_length = 1, max_length = 65536, pattern = "^[^\\u0000]*$")]
    pub value: String,
}

/// Shows that a value is there, never the value.
impl std::fmt::Debug for SetSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetSecret { value: *** }")
    }
}

/// A role in a workspace, as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Viewer,
    Operator,
    Approver,
    Admin,
}

/// Body of `POST /api/v1/workspaces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// 1 to 64 of `A-Z a-z 0-9 _ . -`, starting with a letter or a digit.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )]
    pub name: String,
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Workspace)]
pub struct WorkspaceView {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl From<opsroom_store::Workspace> for WorkspaceView {
    fn from(w: opsroom_store::Workspace) -> Self {
        WorkspaceView {
            name: w.name,
            created_at: w.created_at,
            created_by: w.created_by,
        }
    }
}

/// Body of `POST /api/v1/users`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// 1 to 64 of `A-Z a-z 0-9 _ . -`, starting with a letter or a digit.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )]
    pub name: String,
    /// For signing in to the UI (8 to 256 characters); without one the
    /// user works with API tokens only. Stored as an Argon2id hash.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 256, pattern = "^[^\\u0000]*$")]
    pub password: Option<String>,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A user (never a password or its hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub name: String,
    /// Whether the user can sign in to the UI with a password.
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl From<opsroom_store::User> for UserView {
    fn from(u: opsroom_store::User) -> Self {
        UserView {
            name: u.name,
            has_password: u.has_password,
            created_at: u.created_at,
            created_by: u.created_by,
        }
    }
}

/// Body of `PUT /api/v1/workspaces/{ws}/members/{user}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMember {
    #[schema(value_type = RoleName)]
    pub role: String,
}

/// A user's role in a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Member)]
pub struct MemberView {
    pub workspace: String,
    pub user: String,
    #[schema(value_type = RoleName)]
    pub role: String,
    /// The role before this change; null when the user was not a member.
    #[schema(value_type = Option<RoleName>)]
    pub previous_role: Option<String>,
}

/// Body of `POST /api/v1/tokens`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Whose token (default: the caller; another user's needs admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )]
    pub user: Option<String>,
    /// Where it acts (default: the caller's workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )]
    pub workspace: Option<String>,
    /// Seconds until it expires (1 to 315360000); default: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 315360000)]
    pub expires_in_s: Option<i64>,
    /// A label, e.g. what uses it (1 to 100 printable characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
}

/// A new API token: `token` is shown this once (only its digest is kept).
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CreatedToken)]
pub struct CreatedTokenView {
    pub id: i64,
    /// `opsroom_…`: send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub user: String,
    pub workspace: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for CreatedTokenView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTokenView")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
}

/// Who the caller is: `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Me)]
pub struct MeView {
    pub user: String,
    pub workspace: String,
    #[schema(value_type = RoleName)]
    pub role: String,
}
