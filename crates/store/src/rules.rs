//! Backend-independent rules: what an action or a rescue does to a run, and
//! the events that say so. The shared sequences (`sequences.rs`) apply them
//! on both backends.

use crate::*;
use chrono::{DateTime, Utc};
use opsroom_core::{EventLevel, RunStatus};
use serde_json::{json, Value};

/// The first event of every run.
pub(crate) fn created_event(p: &RunInsertParams, status: RunStatus) -> NewEvent {
    let what = match (&p.env, &p.target) {
        (Some(e), Some(t)) => format!("{} {t} on {e}", p.runbook),
        (Some(e), None) => format!("{} on {e}", p.runbook),
        _ => p.runbook.clone(),
    };
    let message = if status == RunStatus::AwaitingApproval {
        format!("run of {what} created by {}; waiting for approval", p.actor)
    } else {
        format!("run of {what} created by {}; queued", p.actor)
    };
    NewEvent::new(p.now, EventLevel::Info, None, message)
        .with_data(json!({"kind": "created", "status": status}))
}

/// The audit entry of a new run: its action (`run.create`, or `run.retry`
/// for a retry of another run) and details.
pub(crate) fn created_audit(p: &RunInsertParams, status: RunStatus) -> (&'static str, Value) {
    let action = if p.retry_of.is_some() {
        "run.retry"
    } else {
        "run.create"
    };
    let details = json!({
        "runbook": p.runbook,
        "env": p.env,
        "target": p.target,
        "retry_of": p.retry_of,
        "after": {"status": status, "approval_expires_at": p.approval_expires_at.filter(|_| p.needs_approval)},
    });
    (action, details)
}

/// The status an attempt ends in and its finish time: a failure with a
/// retry time goes back to the queue; anything else must be final.
pub(crate) fn completion(p: &RunCompleteParams) -> StoreResult<(RunStatus, Option<DateTime<Utc>>)> {
    match (p.status, p.retry_at) {
        (RunStatus::Failed, Some(_)) => Ok((RunStatus::Queued, None)),
        (s, _) if s.is_final() => Ok((s, Some(p.now))),
        (s, _) => Err(StoreError::Conflict(format!(
            "cannot complete run {} as {s}",
            p.run_id
        ))),
    }
}

/// A control-plane action on a run (cancel, approve, reject), or the
/// expiry of its approval.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    Cancel,
    Approve,
    Reject,
    /// Nobody decided in time: the waiting run is rejected.
    ExpireApproval,
}

/// What an action changes.
pub(crate) struct Change {
    pub status: RunStatus,
    pub cancel_requested: bool,
    pub approved_by: Option<String>,
    /// The approval's new state, with who decided and their comment.
    pub approval: Option<ApprovalState>,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
    pub error: Option<String>,
    pub event: NewEvent,
    pub audit_action: &'static str,
    pub audit_details: Value,
}

impl Action {
    /// The pure rule: given the run as it is, what the action does or why it can't.
    pub(crate) fn decide(self, run: &Run, p: &RunActionParams) -> StoreResult<Change> {
        let reason = p
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let event = |level, message: String, kind: &str| {
            NewEvent::new(p.now, level, None, message)
                .with_data(json!({"kind": kind, "actor": p.actor, "comment": p.reason}))
        };
        let waiting = run.status == RunStatus::AwaitingApproval;
        let change = |status: RunStatus, approval: Option<ApprovalState>| Change {
            status,
            cancel_requested: false,
            approved_by: None,
            approval,
            decided_by: approval.map(|_| p.actor.clone()),
            comment: approval.and(p.reason.clone()),
            error: None,
            event: event(EventLevel::Info, String::new(), ""),
            audit_action: "",
            audit_details: Value::Null,
        };
        let mut c = match (self, run.status) {
            (Action::Cancel, s) if s.is_final() => {
                return Err(StoreError::Conflict(format!(
                    "run {} is already {s}; only queued, waiting or running runs can be cancelled",
                    run.id
                )))
            }
            (Action::Cancel, RunStatus::Running) => Change {
                cancel_requested: true,
                event: event(
                    EventLevel::Warn,
                    format!("cancel requested by {}{reason}; stopping", p.actor),
                    "cancel_requested",
                ),
                audit_action: "run.cancel",
                ..change(RunStatus::Running, None)
            },
            (Action::Cancel, _) => Change {
                cancel_requested: true,
                error: Some(format!("cancelled by {}{reason}", p.actor)),
                event: event(
                    EventLevel::Warn,
                    format!("cancelled by {}{reason}", p.actor),
                    "cancelled",
                ),
                audit_action: "run.cancel",
                ..change(
                    RunStatus::Cancelled,
                    waiting.then_some(ApprovalState::Cancelled),
                )
            },
            (Action::Approve | Action::Reject | Action::ExpireApproval, s) if !waiting => {
                return Err(StoreError::Conflict(format!(
                    "run {} is {s}, not awaiting approval",
                    run.id
                )))
            }
            (Action::Approve | Action::Reject, _) if !p.allow_self && p.actor == run.created_by => {
                return Err(StoreError::SelfApproval {
                    run_id: run.id,
                    requester: run.created_by.clone(),
                })
            }
            (Action::Approve, _) => Change {
                approved_by: Some(p.actor.clone()),
                event: event(
                    EventLevel::Info,
                    format!("approved by {}{reason}; queued", p.actor),
                    "approved",
                ),
                audit_action: "run.approve",
                ..change(RunStatus::Queued, Some(ApprovalState::Approved))
            },
            (Action::Reject, _) => Change {
                error: Some(format!("rejected by {}{reason}", p.actor)),
                event: event(
                    EventLevel::Warn,
                    format!("rejected by {}{reason}", p.actor),
                    "rejected",
                ),
                audit_action: "run.reject",
                ..change(RunStatus::Rejected, Some(ApprovalState::Rejected))
            },
            (Action::ExpireApproval, _) => {
                let Some(expires_at) = run.approval.as_ref().and_then(|a| a.expires_at) else {
                    return Err(StoreError::Conflict(format!(
                        "run {}'s approval does not expire",
                        run.id
                    )));
                };
                if expires_at > p.now {
                    return Err(StoreError::Conflict(format!(
                        "run {}'s approval expires at {}, not yet",
                        run.id,
                        expires_at.to_rfc3339()
                    )));
                }
                let why = format!(
                    "approval expired: nobody approved or rejected it between {} and {}",
                    run.created_at.to_rfc3339(),
                    expires_at.to_rfc3339()
                );
                Change {
                    decided_by: None,
                    comment: None,
                    error: Some(why.clone()),
                    event: NewEvent::new(p.now, EventLevel::Warn, None, why)
                        .with_data(json!({"kind": "approval_expired", "expires_at": expires_at})),
                    audit_action: "run.expire",
                    ..change(RunStatus::Rejected, Some(ApprovalState::Expired))
                }
            }
        };
        c.audit_details = json!({
            "before": {"status": run.status},
            "after": {"status": c.status, "cancel_requested": c.cancel_requested},
            "comment": p.reason,
            "error": c.error,
        });
        Ok(c)
    }
}

/// What rescuing a run of a dead worker does to it.
pub(crate) struct Rescue {
    pub status: RunStatus,
    pub run_after: DateTime<Utc>,
    pub error: Option<String>,
    pub event: NewEvent,
}

impl Rescue {
    pub(crate) fn decide(run: &Run, p: &RunsRescueParams) -> Rescue {
        let worker = run.worker_id.as_deref().unwrap_or("?");
        let last = run
            .heartbeat_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into());
        let why = format!("worker {worker} stopped heartbeating (last heartbeat {last})");
        let (status, run_after, error, message, level) = if run.cancel_requested {
            let m = format!("{why}; the run was being cancelled: cancelled");
            (
                RunStatus::Cancelled,
                run.run_after,
                Some(m.clone()),
                m,
                EventLevel::Warn,
            )
        } else if run.attempt < run.max_attempts {
            let m = format!(
                "{why}; requeued for attempt {} of {}",
                run.attempt + 1,
                run.max_attempts
            );
            (RunStatus::Queued, p.retry_at, None, m, EventLevel::Warn)
        } else {
            let m = format!(
                "{why}; attempts used up ({} of {}): failed",
                run.attempt, run.max_attempts
            );
            (
                RunStatus::Failed,
                run.run_after,
                Some(m.clone()),
                m,
                EventLevel::Error,
            )
        };
        Rescue {
            status,
            run_after,
            error,
            event: NewEvent::new(p.now, level, None, message).with_data(
                json!({"kind": "rescued", "worker_id": run.worker_id, "attempt": run.attempt, "status": status}),
            ),
        }
    }
}

/// Refuses batch entries that need the single-run path.
pub(crate) fn check_batch(params: &[RunInsertParams]) -> StoreResult<()> {
    if let Some(i) = params
        .iter()
        .position(|p| p.workspace_id != params[0].workspace_id)
    {
        return Err(StoreError::Conflict(format!(
            "run {i} of the batch is in another workspace than run 0; a batch is one workspace's"
        )));
    }
    if let Some(i) = params.iter().position(|p| p.idempotency_key.is_some()) {
        return Err(StoreError::Conflict(format!(
            "run {i} of the batch has an idempotency key; create such runs one at a time"
        )));
    }
    Ok(())
}

/// The audit entry of a batch: who created how many runs, which ids.
pub(crate) fn batch_audit(runs: &[Run]) -> Option<(String, String, String, Value)> {
    let first = runs.first()?;
    let last = runs.last()?;
    Some((
        first.workspace_id.clone(),
        first.created_by.clone(),
        format!("runs:{}-{}", first.id, last.id),
        json!({"count": runs.len()}),
    ))
}

/// The first event of an attempt, written by the claim itself (so a live
/// stream sees the run start as soon as it is claimed, at no extra commit).
pub(crate) fn attempt_started_event(run: &Run, worker_id: &str, now: DateTime<Utc>) -> NewEvent {
    let template = attempt_started_template(worker_id, now);
    NewEvent {
        message: fill_attempt(&template.message, run.attempt, run.max_attempts, worker_id),
        data: json!({"kind": "attempt_start", "attempt": run.attempt, "worker_id": worker_id}),
        ..template
    }
}

/// [`attempt_started_event`] before the claim picks its runs: the message
/// has `{attempt}`, `{max_attempts}` and `{worker_id}` still to fill (in
/// that order, see `fill_attempt`) and the data an `attempt` of 0.
/// PostgreSQL fills them in inside its one-statement claim.
pub(crate) fn attempt_started_template(worker_id: &str, now: DateTime<Utc>) -> NewEvent {
    NewEvent::new(
        now,
        EventLevel::Info,
        None,
        "attempt {attempt} of {max_attempts} started on worker {worker_id}",
    )
    .with_data(json!({"kind": "attempt_start", "attempt": 0, "worker_id": worker_id}))
}

/// Fills an attempt-started template; the worker id goes last, so braces
/// in it are kept as they are (the SQL of the PostgreSQL claim does the same).
fn fill_attempt(template: &str, attempt: i32, max_attempts: i32, worker_id: &str) -> String {
    template
        .replace("{attempt}", &attempt.to_string())
        .replace("{max_attempts}", &max_attempts.to_string())
        .replace("{worker_id}", worker_id)
}
