//! The multi-step sequences (transition, rescue, completion, migrations),
//! written once on top of a small set of per-backend [`Primitives`]. The
//! decisions inside them are the pure rules of `rules.rs`; the primitives
//! only read and write rows.

use crate::rules::{completion, Action, Change, Rescue};
use crate::*;
use chrono::{DateTime, Utc};
use opsroom_core::RunStatus;
use serde_json::Value;
use std::collections::HashMap;

/// An audit entry to write.
pub(crate) struct NewAudit<'a> {
    pub workspace_id: &'a str,
    pub ts: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub source: Option<&'a str>,
    pub details: &'a Value,
}

impl<'a> NewAudit<'a> {
    pub(crate) fn from_params(p: &'a AuditAppendParams) -> Self {
        NewAudit {
            workspace_id: &p.workspace_id,
            ts: p.ts,
            actor: &p.actor,
            action: &p.action,
            subject: &p.subject,
            source: p.source.as_deref(),
            details: &p.details,
        }
    }
}

/// A completion whose outcome the rules already decided.
pub(crate) struct Decided {
    pub params: RunCompleteParams,
    /// `Queued` for a retry, otherwise the final status.
    pub status: RunStatus,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What each backend provides: single reads and writes inside a
/// transaction of its own kind, and its notification channel.
#[async_trait]
pub(crate) trait Primitives: Send + Sync {
    /// A transaction; dropping it uncommitted rolls it back.
    type Tx: Send;

    /// Starts a transaction that sees and writes the rows of one workspace
    /// (on PostgreSQL: row-level security's `opsroom.workspace`, set in the
    /// same round trip as BEGIN).
    async fn begin(&self, workspace_id: &str) -> StoreResult<Self::Tx>;

    /// Moves a transaction to another workspace's rows, for the sequences
    /// that write runs of several workspaces in one transaction (rescue,
    /// key rotation).
    async fn workspace_enter(&self, tx: &mut Self::Tx, workspace_id: &str) -> StoreResult<()>;

    async fn commit(&self, tx: Self::Tx, doing: &'static str) -> StoreResult<()>;

    /// Rolls back at once (releasing row locks now, not whenever the pool
    /// reuses the connection).
    async fn rollback(&self, tx: Self::Tx);

    /// Reads a run of a workspace and locks it until the transaction ends.
    async fn run_fetch_for_update(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        run_id: RunId,
    ) -> StoreResult<Option<Run>>;

    /// Writes what an action decided; bumps `last_seq` by one for its event.
    async fn run_update_for_action(
        &self,
        tx: &mut Self::Tx,
        run_id: RunId,
        change: &Change,
        p: &RunActionParams,
    ) -> StoreResult<Run>;

    /// Running runs of every workspace whose last heartbeat is older than
    /// `stale_before`, by id.
    async fn runs_stale(&self, stale_before: DateTime<Utc>) -> StoreResult<Vec<Run>>;

    /// Writes a rescue if the run is still the stale one that was read (same
    /// lease, still running, still no heartbeat); bumps `last_seq` by one.
    async fn run_update_if_stale(
        &self,
        tx: &mut Self::Tx,
        stale: &Run,
        rescue: &Rescue,
        p: &RunsRescueParams,
    ) -> StoreResult<Option<Run>>;

    /// Ends the attempts whose lease still holds, with their events, in one
    /// transaction; returns the runs that were ended.
    async fn runs_update_completed(&self, decided: Vec<Decided>) -> StoreResult<Vec<Run>>;

    /// Writes events of `run` with seq `first_seq, first_seq + 1, …`.
    async fn events_insert(
        &self,
        tx: &mut Self::Tx,
        run: &Run,
        first_seq: Seq,
        events: &[NewEvent],
    ) -> StoreResult<()>;

    /// Appends an audit entry (the table refuses changes and deletions).
    async fn audit_insert(&self, tx: &mut Self::Tx, entry: NewAudit<'_>)
        -> StoreResult<AuditEntry>;

    /// The runs still waiting for approval whose approval expired at or
    /// before `now`, oldest first.
    async fn runs_approval_expired(&self, now: DateTime<Utc>) -> StoreResult<Vec<Run>>;

    /// Starts a migration's transaction: one migrator at a time, with the
    /// migrations table in place.
    async fn migration_begin(&self) -> StoreResult<Self::Tx>;

    async fn migration_applied(&self, tx: &mut Self::Tx, name: &str) -> StoreResult<bool>;

    /// Runs a migration's SQL and records it as applied.
    async fn migration_run(&self, tx: &mut Self::Tx, name: &str, sql: &str) -> StoreResult<()>;

    /// Tells waiting streams and workers (in this process and others).
    fn notify(&self, wakeup: Wakeup);
}

/// Applies the migrations not applied yet, in the order of their names;
/// returns their names. Each is looked up by name, so one merged in later
/// with a lower number than migrations applied already (0003 after 0004)
/// is applied then.
pub(crate) async fn migrate<B: Primitives>(
    b: &B,
    migrations: &[(&str, &str)],
) -> StoreResult<Vec<String>> {
    let mut sorted = migrations.to_vec();
    sorted.sort_by_key(|(name, _)| *name);
    let mut applied = Vec::new();
    for (name, sql) in sorted {
        let mut tx = b.migration_begin().await?;
        if b.migration_applied(&mut tx, name).await? {
            b.rollback(tx).await;
            continue;
        }
        b.migration_run(&mut tx, name, sql).await?;
        b.commit(tx, "committing a migration")
            .await
            .map_err(|e| match e {
                StoreError::Database { source, .. } => StoreError::Migration {
                    name: name.to_string(),
                    source,
                },
                other => other,
            })?;
        applied.push(name.to_string());
    }
    Ok(applied)
}

/// Cancels, approves or rejects a run: lock it, decide, write the change
/// with its event and audit entry, commit.
pub(crate) async fn transition<B: Primitives>(
    b: &B,
    p: &RunActionParams,
    action: Action,
) -> StoreResult<Run> {
    let mut tx = b.begin(&p.workspace_id).await?;
    let Some(run) = b
        .run_fetch_for_update(&mut tx, &p.workspace_id, p.run_id)
        .await?
    else {
        b.rollback(tx).await;
        return Err(StoreError::not_found_run(p.run_id));
    };
    let change = match action.decide(&run, p) {
        Ok(c) => c,
        Err(e) => {
            b.rollback(tx).await;
            return Err(e);
        }
    };
    let updated = b.run_update_for_action(&mut tx, run.id, &change, p).await?;
    b.events_insert(
        &mut tx,
        &updated,
        updated.last_seq,
        std::slice::from_ref(&change.event),
    )
    .await?;
    b.audit_insert(
        &mut tx,
        NewAudit {
            workspace_id: &updated.workspace_id,
            ts: p.now,
            actor: &p.actor,
            action: change.audit_action,
            subject: &format!("run:{}", updated.id),
            source: p.source.as_deref(),
            details: &change.audit_details,
        },
    )
    .await?;
    b.commit(tx, "committing a run change").await?;
    b.notify(Wakeup::Run(updated.id));
    b.notify(Wakeup::RunsAvailable);
    Ok(updated)
}

/// Rejects the waiting runs whose approval expired, one transaction each.
/// Each goes through [`transition`], which locks the run and decides again
/// on what it holds then: when several processes sweep at once, the first
/// expires the run and the others find it no longer waiting, so each run is
/// expired (with one event and one audit entry) exactly once.
pub(crate) async fn expire_approvals<B: Primitives>(
    b: &B,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Run>> {
    let mut expired = Vec::new();
    for run in b.runs_approval_expired(now).await? {
        let p = RunActionParams {
            workspace_id: run.workspace_id,
            run_id: run.id,
            actor: "system".into(),
            reason: None,
            source: None,
            allow_self: true,
            now,
        };
        match transition(b, &p, Action::ExpireApproval).await {
            Ok(run) => expired.push(run),
            // Decided, cancelled or expired by someone else meanwhile.
            Err(StoreError::Conflict(_) | StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(expired)
}

/// Appends one audit entry in a transaction of its own.
pub(crate) async fn audit_append<B: Primitives>(
    b: &B,
    p: &AuditAppendParams,
) -> StoreResult<AuditEntry> {
    let mut tx = b.begin(&p.workspace_id).await?;
    let entry = b.audit_insert(&mut tx, NewAudit::from_params(p)).await?;
    b.commit(tx, "committing an audit entry").await?;
    Ok(entry)
}

/// Requeues or fails the runs of workers that stopped heartbeating. A run
/// whose worker heartbeated or finished since it was read is left alone.
pub(crate) async fn rescue<B: Primitives>(b: &B, p: &RunsRescueParams) -> StoreResult<Vec<Run>> {
    let stale = b.runs_stale(p.stale_before).await?;
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    // Each rescue is written in its run's workspace.
    let mut tx = b.begin(&stale[0].workspace_id).await?;
    let mut workspace = stale[0].workspace_id.as_str();
    let mut rescued = Vec::new();
    for run in &stale {
        if run.workspace_id != workspace {
            b.workspace_enter(&mut tx, &run.workspace_id).await?;
            workspace = &run.workspace_id;
        }
        let decided = Rescue::decide(run, p);
        if let Some(updated) = b.run_update_if_stale(&mut tx, run, &decided, p).await? {
            b.events_insert(
                &mut tx,
                &updated,
                updated.last_seq,
                std::slice::from_ref(&decided.event),
            )
            .await?;
            rescued.push(updated);
        }
    }
    b.commit(tx, "committing rescues").await?;
    for run in &rescued {
        b.notify(Wakeup::Run(run.id));
    }
    if !rescued.is_empty() {
        b.notify(Wakeup::RunsAvailable);
    }
    Ok(rescued)
}

/// Ends attempts: each is decided by the rules, then all that may end are
/// written at once. Each item has its own result (a bad status or a lost
/// lease fails only that item).
pub(crate) async fn complete<B: Primitives>(
    b: &B,
    params: Vec<RunCompleteParams>,
) -> StoreResult<Vec<StoreResult<Run>>> {
    let mut results: Vec<Option<StoreResult<Run>>> = Vec::with_capacity(params.len());
    let mut run_ids = Vec::with_capacity(params.len());
    let mut decided = Vec::with_capacity(params.len());
    for p in params {
        run_ids.push(p.run_id);
        match completion(&p) {
            Ok((status, finished_at)) => {
                results.push(None);
                decided.push(Decided {
                    params: p,
                    status,
                    finished_at,
                });
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    if decided.is_empty() {
        return Ok(results.into_iter().flatten().collect());
    }
    let done = b.runs_update_completed(decided).await?;
    let mut frees = false;
    for run in &done {
        b.notify(Wakeup::Run(run.id));
        frees |= run.frees_queued_runs();
    }
    if frees {
        b.notify(Wakeup::RunsAvailable);
    }
    let mut done: HashMap<RunId, Run> = done.into_iter().map(|r| (r.id, r)).collect();
    Ok(results
        .into_iter()
        .zip(run_ids)
        .map(|(result, run_id)| {
            result.unwrap_or_else(|| done.remove(&run_id).ok_or(StoreError::LeaseLost { run_id }))
        })
        .collect())
}
