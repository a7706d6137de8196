//! The PostgreSQL backend: claims with `FOR NO KEY UPDATE SKIP LOCKED`, writes in
//! single statements (data-modifying CTEs, columns bound as arrays) where it
//! can, and wakeups through LISTEN/NOTIFY with one listener connection per
//! process. Its SQL is in `queries/`; the multi-step sequences are shared
//! (`crate::sequences`) on top of its [`Primitives`].

mod identity;
mod notifications;
mod notify;
mod roles;
mod rows;
mod schedules;
mod secrets;

pub use roles::{RoleCreateParams, RoleCreated};

use self::rows::{ArtifactRow, AuditRow, EventPageRow, RunRow, SessionRow, WorkerRow};
use crate::rows::{cancel_requested, convert, events_page};
use crate::rules::{
    attempt_started_template, batch_audit, check_batch, created_audit, created_event, Action,
    Change, Rescue,
};
use crate::sequences::{self, Decided, NewAudit, Primitives};
use crate::wakeups::{Wakeup, Wakeups};
use crate::*;
use chrono::{DateTime, Utc};
use opsroom_core::RunStatus;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::mpsc;

static NEXT_ORIGIN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        "0002_secrets",
        include_str!("../../migrations/postgres/0002_secrets.sql"),
    ),
    (
        "0003_identity",
        include_str!("../../migrations/postgres/0003_identity.sql"),
    ),
    (
        "0004_rls",
        include_str!("../../migrations/postgres/0004_rls.sql"),
    ),
    (
        "0005_approvals",
        include_str!("../../migrations/postgres/0005_approvals.sql"),
    ),
    (
        "0006_notifications",
        include_str!("../../migrations/postgres/0006_notifications.sql"),
    ),
    (
        "0007_schedules",
        include_str!("../../migrations/postgres/0007_schedules.sql"),
    ),
    (
        "0008_row_locks",
        include_str!("../../migrations/postgres/0008_row_locks.sql"),
    ),
    (
        "0009_notice_state",
        include_str!("../../migrations/postgres/0009_notice_state.sql"),
    ),
];

/// `BEGIN` and the transaction's workspace in one simple-query round trip.
/// The workspace is a literal there (the simple protocol binds nothing):
/// an `E''` string with `\` and `'` escaped reads back exactly, whatever
/// `standard_conforming_strings` says. A workspace cannot be empty (a
/// transaction-local setting reads back as '' after its transaction) nor
/// hold NUL (PostgreSQL text cannot).
fn begin_in_sql(workspace_id: &str) -> StoreResult<String> {
    if workspace_id.is_empty() || workspace_id.contains('\0') {
        return Err(StoreError::Conflict(format!(
            "workspace {:?} is not a workspace name (empty, or holds NUL)",
            workspace_id
        )));
    }
    let quoted = workspace_id.replace('\\', "\\\\").replace('\'', "''");
    Ok(format!(
        "BEGIN; SELECT set_config('opsroom.workspace', E'{quoted}', true)"
    ))
}

/// PostgreSQL store. Dropping it stops its listener and notifier tasks.
pub struct PgStore {
    pool: PgPool,
    wakeups: Wakeups,
    notify_tx: mpsc::UnboundedSender<Wakeup>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl PgStore {
    /// Connects to `url` (a `postgres://` URL).
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", redact_url(url))))?;
        Self::connect_with(options, 16).await
    }

    /// Connects with explicit options (tests use this to pick a schema).
    pub async fn connect_with(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> StoreResult<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // No ping before every query: it doubled the round trips. A
            // connection that died while idle fails one query and is dropped.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .doing("connecting to PostgreSQL")?;
        let wakeups = Wakeups::new();
        let (notify_tx, notify_rx) = mpsc::unbounded_channel();
        // Tags this store's notifications: its own come back through LISTEN
        // too, and were already delivered in-process.
        let origin = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
                ^ NEXT_ORIGIN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let tasks = vec![
            tokio::spawn(notify::listen_loop(
                pool.clone(),
                wakeups.clone(),
                origin.clone(),
            )),
            tokio::spawn(notify::notify_loop(pool.clone(), notify_rx, origin)),
        ];
        Ok(PgStore {
            pool,
            wakeups,
            notify_tx,
            tasks,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction that sees and writes only `workspace_id`'s rows under
    /// row-level security. A read dropped without commit is rolled back
    /// with the pool's release check, off the caller's path.
    pub(crate) async fn begin_in(
        &self,
        workspace_id: &str,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool
            .begin_with(begin_in_sql(workspace_id)?)
            .await
            .doing("starting a transaction in a workspace")
    }
}

/// Switches a transaction's workspace (bound, so any text is safe).
async fn workspace_set(tx: &mut sqlx::PgConnection, workspace_id: &str) -> StoreResult<()> {
    sqlx::query(include_str!("queries/workspace_set.sql"))
        .bind(workspace_id)
        .execute(&mut *tx)
        .await
        .doing("entering a workspace")?;
    Ok(())
}

/// Column arrays of events, bound to an UNNEST.
struct EventColumns {
    ts: Vec<DateTime<Utc>>,
    level: Vec<&'static str>,
    phase: Vec<Option<&'static str>>,
    message: Vec<String>,
    data: Vec<Value>,
}

impl EventColumns {
    fn from(events: &[NewEvent]) -> Self {
        EventColumns {
            ts: events.iter().map(|e| e.ts).collect(),
            level: events.iter().map(|e| e.level.as_str()).collect(),
            phase: events.iter().map(|e| e.phase.map(|p| p.as_str())).collect(),
            message: events
                .iter()
                .map(|e| escape_nul(&e.message).into_owned())
                .collect(),
            data: events
                .iter()
                .map(|e| escape_nul_json(&e.data).into_owned())
                .collect(),
        }
    }
}

/// The per-run columns of a batch completion, bound as arrays.
#[derive(Default)]
struct CompleteColumns {
    id: Vec<i64>,
    lease: Vec<i64>,
    status: Vec<&'static str>,
    finished_at: Vec<Option<DateTime<Utc>>>,
    run_after: Vec<Option<DateTime<Utc>>>,
    error: Vec<Option<String>>,
    n: Vec<i64>,
    phases: Vec<Option<Value>>,
    event_run: Vec<i64>,
    event_ord: Vec<i64>,
}

#[async_trait]
impl Primitives for PgStore {
    type Tx = Transaction<'static, Postgres>;

    async fn begin(&self, workspace_id: &str) -> StoreResult<Self::Tx> {
        self.begin_in(workspace_id).await
    }

    async fn workspace_enter(&self, tx: &mut Self::Tx, workspace_id: &str) -> StoreResult<()> {
        workspace_set(tx, workspace_id).await
    }

    async fn commit(&self, tx: Self::Tx, doing: &'static str) -> StoreResult<()> {
        tx.commit().await.doing(doing)
    }

    async fn rollback(&self, tx: Self::Tx) {
        let _ = tx.rollback().await;
    }

    async fn run_fetch_for_update(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        run_id: RunId,
    ) -> StoreResult<Option<Run>> {
        sqlx::query_as::<_, RunRow>(include_str!("queries/run_for_update.sql"))
            .bind(run_id.0)
            .bind(workspace_id)
            .fetch_optional(&mut **tx)
            .await
            .doing("locking a run")?
            .map(Run::try_from)
            .transpose()
    }

    async fn run_update_for_action(
        &self,
        tx: &mut Self::Tx,
        run_id: RunId,
        change: &Change,
        p: &RunActionParams,
    ) -> StoreResult<Run> {
        sqlx::query_as::<_, RunRow>(include_str!("queries/run_update_for_action.sql"))
            .bind(run_id.0)
            .bind(change.status.as_str())
            .bind(change.cancel_requested)
            .bind(change.status.is_final().then_some(p.now))
            .bind(&change.approved_by)
            .bind(change.error.as_deref().map(escape_nul))
            .bind(&p.actor)
            .bind(change.approval.map(ApprovalState::as_str))
            .bind(&change.decided_by)
            .bind(p.now)
            .bind(change.comment.as_deref().map(escape_nul))
            .fetch_one(&mut **tx)
            .await
            .doing("updating a run")?
            .try_into()
    }

    async fn runs_stale(&self, stale_before: DateTime<Utc>) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/runs_stale.sql"))
            .bind(stale_before)
            .fetch_all(&self.pool)
            .await
            .doing("finding runs of dead workers")?;
        convert(rows)
    }

    async fn run_update_if_stale(
        &self,
        tx: &mut Self::Tx,
        stale: &Run,
        r: &Rescue,
        p: &RunsRescueParams,
    ) -> StoreResult<Option<Run>> {
        sqlx::query_as::<_, RunRow>(include_str!("queries/run_update_if_stale.sql"))
            .bind(stale.id.0)
            .bind(r.status.as_str())
            .bind(r.status.is_final().then_some(p.now))
            .bind(r.run_after)
            .bind(&r.error)
            .bind(stale.lease)
            .bind(p.stale_before)
            .fetch_optional(&mut **tx)
            .await
            .doing("rescuing a run")?
            .map(Run::try_from)
            .transpose()
    }

    async fn runs_update_completed(&self, mut decided: Vec<Decided>) -> StoreResult<Vec<Run>> {
        // Rows are locked in id order, as heartbeats lock them, so two
        // writers of the same runs never deadlock. Each stretch of runs of
        // one workspace (in id order) is one statement under that
        // workspace's setting, all in one transaction: one statement when
        // the batch is one workspace's.
        decided.sort_by_key(|d| d.params.run_id);
        let mut groups: Vec<Vec<Decided>> = Vec::new();
        for d in decided {
            match groups.last_mut() {
                Some(g) if g[0].params.workspace_id == d.params.workspace_id => g.push(d),
                _ => groups.push(vec![d]),
            }
        }
        let mut tx = self.begin_in(&groups[0][0].params.workspace_id).await?;
        let mut done = Vec::new();
        for (i, group) in groups.into_iter().enumerate() {
            if i > 0 {
                workspace_set(&mut tx, &group[0].params.workspace_id).await?;
            }
            done.extend(complete_in_workspace(&mut tx, group).await?);
        }
        tx.commit().await.doing("committing runs' ends")?;
        Ok(done)
    }

    async fn events_insert(
        &self,
        tx: &mut Self::Tx,
        run: &Run,
        first_seq: Seq,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        let cols = EventColumns::from(events);
        let n = events.len() as i64;
        sqlx::query(include_str!("queries/events_insert.sql"))
            .bind(vec![run.id.0; events.len()])
            .bind((first_seq.0..first_seq.0 + n).collect::<Vec<_>>())
            .bind(vec![run.workspace_id.as_str(); events.len()])
            .bind(cols.ts)
            .bind(cols.level)
            .bind(cols.phase)
            .bind(cols.message)
            .bind(cols.data)
            .execute(&mut **tx)
            .await
            .doing("writing run events")?;
        Ok(())
    }

    async fn audit_insert(&self, tx: &mut Self::Tx, a: NewAudit<'_>) -> StoreResult<AuditEntry> {
        audit_insert(tx, a).await
    }

    async fn runs_approval_expired(&self, now: DateTime<Utc>) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/runs_approval_expired.sql"))
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .doing("finding expired approvals")?;
        convert(rows)
    }

    async fn migration_begin(&self) -> StoreResult<Self::Tx> {
        let mut tx = self.pool.begin().await.doing("starting a migration")?;
        // One migrator at a time across processes, until this transaction ends.
        sqlx::query("SELECT pg_advisory_xact_lock(7300)")
            .execute(&mut *tx)
            .await
            .doing("locking migrations")?;
        sqlx::query(include_str!("queries/migrations_table.sql"))
            .execute(&mut *tx)
            .await
            .doing("creating the migrations table")?;
        Ok(tx)
    }

    async fn migration_applied(&self, tx: &mut Self::Tx, name: &str) -> StoreResult<bool> {
        let done: Option<String> =
            sqlx::query_scalar(include_str!("queries/migration_applied.sql"))
                .bind(name)
                .fetch_optional(&mut **tx)
                .await
                .doing("reading applied migrations")?;
        Ok(done.is_some())
    }

    async fn migration_run(&self, tx: &mut Self::Tx, name: &str, sql: &str) -> StoreResult<()> {
        let migration_err = |source| StoreError::Migration {
            name: name.to_string(),
            source,
        };
        sqlx::Executor::execute(&mut **tx, sql)
            .await
            .map_err(migration_err)?;
        sqlx::query(include_str!("queries/migration_record.sql"))
            .bind(name)
            .execute(&mut **tx)
            .await
            .map_err(migration_err)?;
        Ok(())
    }

    /// Tells this process at once and the other processes through NOTIFY.
    fn notify(&self, wakeup: Wakeup) {
        self.wakeups.send(wakeup);
        let _ = self.notify_tx.send(wakeup);
    }
}

/// Ends the attempts of one workspace's runs (the transaction's) whose
/// lease still holds, with their last events, in one statement.
async fn complete_in_workspace(
    tx: &mut sqlx::PgConnection,
    decided: Vec<Decided>,
) -> StoreResult<Vec<Run>> {
    let workspace_id = decided[0].params.workspace_id.clone();
    let mut d = CompleteColumns::default();
    let mut events = Vec::new();
    for Decided {
        params: p,
        status,
        finished_at,
    } in decided
    {
        d.id.push(p.run_id.0);
        d.lease.push(p.fence.lease);
        d.status.push(status.as_str());
        d.finished_at.push(finished_at);
        d.run_after.push(p.retry_at);
        d.error.push(p.error.map(|e| escape_nul(&e).into_owned()));
        d.n.push(p.events.len() as i64);
        d.phases.push(p.phases);
        for (ord, e) in p.events.into_iter().enumerate() {
            d.event_run.push(p.run_id.0);
            d.event_ord.push(ord as i64 + 1);
            events.push(e);
        }
    }
    let cols = EventColumns::from(&events);
    let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/runs_complete.sql"))
        .bind(&d.id)
        .bind(&d.lease)
        .bind(&d.status)
        .bind(&d.finished_at)
        .bind(&d.run_after)
        .bind(&d.error)
        .bind(&d.n)
        .bind(&d.phases)
        .bind(&d.event_run)
        .bind(&d.event_ord)
        .bind(cols.ts)
        .bind(cols.level)
        .bind(cols.phase)
        .bind(cols.message)
        .bind(cols.data)
        .bind(&workspace_id)
        .fetch_all(&mut *tx)
        .await
        .doing("completing runs")?;
    convert(rows)
}

async fn audit_insert(tx: &mut sqlx::PgConnection, a: NewAudit<'_>) -> StoreResult<AuditEntry> {
    sqlx::query_as::<_, AuditRow>(include_str!("queries/audit_insert.sql"))
        .bind(a.workspace_id)
        .bind(a.ts)
        .bind(a.actor)
        .bind(a.action)
        .bind(a.subject)
        .bind(a.source)
        .bind(escape_nul_json(a.details).into_owned())
        .fetch_one(&mut *tx)
        .await
        .doing("writing the audit log")?
        .try_into()
}

fn initial_status(p: &RunInsertParams) -> RunStatus {
    if p.needs_approval {
        RunStatus::AwaitingApproval
    } else {
        RunStatus::Queued
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> StoreResult<Vec<String>> {
        sequences::migrate(self, MIGRATIONS).await
    }

    fn wakeups(&self) -> &Wakeups {
        &self.wakeups
    }

    async fn run_insert(&self, p: RunInsertParams) -> StoreResult<(Run, bool)> {
        let lane_key = p.lane_key();
        let mut tx = self.begin_in(&p.workspace_id).await?;
        if let Some(key) = &lane_key {
            sqlx::query(include_str!("queries/lane_lock.sql"))
                .bind(key)
                .execute(&mut *tx)
                .await
                .doing("locking a lane")?;
        }
        let status = initial_status(&p);
        let created = created_event(&p, status);
        let (audit_action, audit_details) = created_audit(&p, status);
        let q = sqlx::query_as::<_, RunRow>(include_str!("queries/run_insert.sql"))
            .bind(&p.workspace_id)
            .bind(&p.runbook)
            .bind(&p.env)
            .bind(&p.target)
            .bind(&p.params)
            .bind(&p.text)
            .bind(&p.plan)
            .bind(p.risk.as_str())
            .bind(status.as_str())
            .bind(p.priority)
            .bind(p.max_attempts)
            .bind(p.run_after.unwrap_or(p.now))
            .bind(p.session_id)
            .bind(p.lane.map(Lane::as_str))
            .bind(&lane_key)
            .bind(&p.lock_key)
            .bind(&p.idempotency_key)
            .bind(&p.actor)
            .bind(p.now)
            .bind(p.timeout_secs)
            .bind(escape_nul(&created.message))
            .bind(escape_nul_json(&created.data).into_owned())
            .bind(escape_nul_json(&audit_details).into_owned())
            .bind(p.approval_expires_at)
            .bind(&p.source)
            .bind(audit_action)
            .bind(p.schedule_id)
            .bind(p.scheduled_for);
        let row = q.fetch_optional(&mut *tx).await.doing("inserting a run")?;
        let Some(row) = row else {
            // The idempotency key exists (ON CONFLICT waited for its insert
            // to commit, and this statement's snapshot sees it): hand back
            // that run.
            let row =
                sqlx::query_as::<_, RunRow>(include_str!("queries/run_by_idempotency_key.sql"))
                    .bind(&p.workspace_id)
                    .bind(&p.idempotency_key)
                    .fetch_one(&mut *tx)
                    .await
                    .doing("reading the run of an idempotency key")?;
            return Ok((row.try_into()?, false));
        };
        tx.commit().await.doing("committing a new run")?;
        let run = Run::try_from(row)?;
        self.notify(Wakeup::Run(run.id));
        if status == RunStatus::Queued {
            self.notify(Wakeup::RunsAvailable);
        }
        Ok((run, true))
    }

    async fn runs_insert_batch(&self, params: Vec<RunInsertParams>) -> StoreResult<Vec<Run>> {
        check_batch(&params)?;
        if params.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_in(&params[0].workspace_id).await?;
        let lane_keys: Vec<Option<String>> = params.iter().map(|p| p.lane_key()).collect();
        let mut locks: Vec<&String> = lane_keys.iter().flatten().collect();
        locks.sort();
        locks.dedup();
        if !locks.is_empty() {
            sqlx::query(include_str!("queries/lanes_lock.sql"))
                .bind(locks)
                .execute(&mut *tx)
                .await
                .doing("locking lanes")?;
        }
        let statuses: Vec<RunStatus> = params.iter().map(initial_status).collect();
        let col = |f: &dyn Fn(&RunInsertParams) -> Option<String>| {
            params.iter().map(f).collect::<Vec<_>>()
        };
        let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/runs_insert_batch.sql"))
            .bind(col(&|p| Some(p.workspace_id.clone())))
            .bind(col(&|p| Some(p.runbook.clone())))
            .bind(col(&|p| p.env.clone()))
            .bind(col(&|p| p.target.clone()))
            .bind(params.iter().map(|p| p.params.clone()).collect::<Vec<_>>())
            .bind(col(&|p| p.text.clone()))
            .bind(params.iter().map(|p| p.plan.clone()).collect::<Vec<_>>())
            .bind(col(&|p| Some(p.risk.as_str().to_string())))
            .bind(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>())
            .bind(params.iter().map(|p| p.priority).collect::<Vec<_>>())
            .bind(params.iter().map(|p| p.max_attempts).collect::<Vec<_>>())
            .bind(
                params
                    .iter()
                    .map(|p| p.run_after.unwrap_or(p.now))
                    .collect::<Vec<_>>(),
            )
            .bind(params.iter().map(|p| p.session_id).collect::<Vec<_>>())
            .bind(col(&|p| p.lane.map(|l| l.as_str().to_string())))
            .bind(lane_keys.clone())
            .bind(col(&|p| p.lock_key.clone()))
            .bind(col(&|p| Some(p.actor.clone())))
            .bind(params.iter().map(|p| p.now).collect::<Vec<_>>())
            .bind(params.iter().map(|p| p.timeout_secs).collect::<Vec<_>>())
            .bind(
                params
                    .iter()
                    .map(|p| p.approval_expires_at)
                    .collect::<Vec<_>>(),
            )
            .fetch_all(&mut *tx)
            .await
            .doing("inserting runs")?;
        let mut runs: Vec<Run> = convert(rows)?;
        // Ids come from the sequence in input order.
        runs.sort_by_key(|r| r.id);
        let created: Vec<NewEvent> = params
            .iter()
            .zip(&statuses)
            .map(|(p, s)| created_event(p, *s))
            .collect();
        let cols = EventColumns::from(&created);
        sqlx::query(include_str!("queries/events_insert.sql"))
            .bind(runs.iter().map(|r| r.id.0).collect::<Vec<_>>())
            .bind(vec![1i64; runs.len()])
            .bind(
                runs.iter()
                    .map(|r| r.workspace_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(cols.ts)
            .bind(cols.level)
            .bind(cols.phase)
            .bind(cols.message)
            .bind(cols.data)
            .execute(&mut *tx)
            .await
            .doing("writing created events")?;
        if let Some((ws, actor, subject, details)) = batch_audit(&runs) {
            audit_insert(
                &mut tx,
                NewAudit {
                    workspace_id: &ws,
                    ts: params[0].now,
                    actor: &actor,
                    action: "run.create_batch",
                    subject: &subject,
                    source: params[0].source.as_deref(),
                    details: &details,
                },
            )
            .await?;
        }
        tx.commit().await.doing("committing new runs")?;
        for run in &runs {
            self.notify(Wakeup::Run(run.id));
        }
        self.notify(Wakeup::RunsAvailable);
        Ok(runs)
    }

    async fn run_get(&self, workspace_id: &str, id: RunId) -> StoreResult<Run> {
        let mut tx = self.begin_in(workspace_id).await?;
        sqlx::query_as::<_, RunRow>(include_str!("queries/run_get.sql"))
            .bind(id.0)
            .bind(workspace_id)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a run")?
            .ok_or_else(|| StoreError::not_found_run(id))?
            .try_into()
    }

    async fn run_waits_for(&self, run: &Run) -> StoreResult<Option<RunWait>> {
        if run.status != RunStatus::Queued || (run.lane_key.is_none() && run.lock_key.is_none()) {
            return Ok(None);
        }
        let mut tx = self.begin_in(&run.workspace_id).await?;
        let found: Option<(i64, String)> =
            sqlx::query_as(include_str!("queries/run_waits_for.sql"))
                .bind(&run.workspace_id)
                .bind(&run.lane_key)
                .bind(&run.lock_key)
                .bind(run.id.0)
                .fetch_optional(&mut *tx)
                .await
                .doing("finding what a queued run waits for")?;
        drop(tx);
        let Some((id, reason)) = found else {
            return Ok(None);
        };
        Ok(Some(RunWait {
            run: self.run_get(&run.workspace_id, RunId(id)).await?,
            reason: WaitReason::from_column(&reason),
        }))
    }

    async fn run_list(&self, p: RunListParams) -> StoreResult<Vec<Run>> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/run_list.sql"))
            .bind(&p.workspace_id)
            .bind(p.status.map(|s| s.as_str()))
            .bind(&p.env)
            .bind(&p.runbook)
            .bind(p.before.map(|b| b.0))
            .bind(p.session_id)
            .bind(p.limit)
            .bind(&p.created_by)
            .bind(p.created_from)
            .bind(p.created_to)
            .bind(p.q_words())
            .fetch_all(&mut *tx)
            .await
            .doing("listing runs")?;
        convert(rows)
    }

    async fn run_claim(&self, p: RunClaimParams) -> StoreResult<Vec<Run>> {
        let started = attempt_started_template(&p.worker_id, p.now);
        let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/runs_claim.sql"))
            .bind(p.now)
            .bind(p.limit)
            .bind(&p.worker_id)
            .bind(escape_nul(&started.message))
            .bind(escape_nul_json(&started.data).into_owned())
            .fetch_all(&self.pool)
            .await
            .doing("claiming runs")?;
        let mut runs: Vec<Run> = convert(rows)?;
        runs.sort_by_key(|r| (-r.priority, r.id));
        for r in &runs {
            self.notify(Wakeup::Run(r.id));
        }
        Ok(runs)
    }

    async fn events_append(&self, p: EventsAppendParams) -> StoreResult<Seq> {
        let cols = EventColumns::from(&p.events);
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let last_seq: Option<i64> = sqlx::query_scalar(include_str!("queries/events_append.sql"))
            .bind(p.run_id.0)
            .bind(p.events.len() as i64)
            .bind(&p.phases)
            .bind(p.fence.map(|f| f.lease))
            .bind(cols.ts)
            .bind(cols.level)
            .bind(cols.phase)
            .bind(cols.message)
            .bind(cols.data)
            .bind(&p.workspace_id)
            .fetch_optional(&mut *tx)
            .await
            .doing("appending run events")?;
        match last_seq {
            Some(seq) => {
                tx.commit().await.doing("committing run events")?;
                self.notify(Wakeup::Run(p.run_id));
                Ok(Seq(seq))
            }
            None if p.fence.is_some() => Err(StoreError::LeaseLost { run_id: p.run_id }),
            None => Err(StoreError::not_found_run(p.run_id)),
        }
    }

    async fn runs_complete(
        &self,
        params: Vec<RunCompleteParams>,
    ) -> StoreResult<Vec<StoreResult<Run>>> {
        sequences::complete(self, params).await
    }

    async fn run_cancel(&self, p: RunActionParams) -> StoreResult<Run> {
        sequences::transition(self, &p, Action::Cancel).await
    }

    async fn run_approve(&self, p: RunActionParams) -> StoreResult<Run> {
        sequences::transition(self, &p, Action::Approve).await
    }

    async fn run_reject(&self, p: RunActionParams) -> StoreResult<Run> {
        sequences::transition(self, &p, Action::Reject).await
    }

    async fn runs_expire_approvals(&self, now: DateTime<Utc>) -> StoreResult<Vec<Run>> {
        sequences::expire_approvals(self, now).await
    }

    async fn runs_rescue(&self, p: RunsRescueParams) -> StoreResult<Vec<Run>> {
        sequences::rescue(self, &p).await
    }

    async fn events_list(&self, p: EventsListParams) -> StoreResult<Vec<RunEvent>> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let rows = sqlx::query_as::<_, EventPageRow>(include_str!("queries/events_list.sql"))
            .bind(&p.workspace_id)
            .bind(p.run_id.0)
            .bind(p.after.0)
            .bind(p.limit)
            .fetch_all(&mut *tx)
            .await
            .doing("reading run events")?;
        events_page(rows, p.run_id)
    }

    async fn artifact_insert(&self, p: ArtifactInsertParams) -> StoreResult<Artifact> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let row = sqlx::query_as::<_, ArtifactRow>(include_str!("queries/artifact_insert.sql"))
            .bind(p.run_id.0)
            .bind(p.fence.map(|f| f.lease))
            .bind(p.kind.as_str())
            .bind(escape_nul(&p.name))
            .bind(escape_nul(&p.content))
            .bind(p.now)
            .bind(&p.workspace_id)
            .fetch_optional(&mut *tx)
            .await
            .doing("storing an artifact")?;
        match row {
            Some(r) => {
                tx.commit().await.doing("committing an artifact")?;
                r.try_into()
            }
            None if p.fence.is_some() => Err(StoreError::LeaseLost { run_id: p.run_id }),
            None => Err(StoreError::not_found_run(p.run_id)),
        }
    }

    async fn artifacts_list(
        &self,
        workspace_id: &str,
        run_id: RunId,
    ) -> StoreResult<Vec<Artifact>> {
        let mut tx = self.begin_in(workspace_id).await?;
        let rows = sqlx::query_as::<_, ArtifactRow>(include_str!("queries/artifacts_list.sql"))
            .bind(workspace_id)
            .bind(run_id.0)
            .fetch_all(&mut *tx)
            .await
            .doing("listing artifacts")?;
        convert(rows)
    }

    async fn worker_heartbeat(&self, p: WorkerHeartbeatParams) -> StoreResult<Vec<RunId>> {
        sqlx::query(include_str!("queries/worker_upsert.sql"))
            .bind(&p.worker_id)
            .bind(&p.host)
            .bind(p.pid)
            .bind(p.state.as_str())
            .bind(p.concurrency)
            .bind(p.now)
            .execute(&self.pool)
            .await
            .doing("recording a worker heartbeat")?;
        let rows: Vec<(i64, bool)> =
            sqlx::query_as(include_str!("queries/worker_leases_extend.sql"))
                .bind(&p.worker_id)
                .bind(p.now)
                .bind(p.running.iter().map(|r| r.0).collect::<Vec<_>>())
                .fetch_all(&self.pool)
                .await
                .doing("extending run leases")?;
        Ok(cancel_requested(rows))
    }

    async fn workers_list(&self) -> StoreResult<Vec<Worker>> {
        let rows = sqlx::query_as::<_, WorkerRow>(include_str!("queries/workers_list.sql"))
            .fetch_all(&self.pool)
            .await
            .doing("listing workers")?;
        convert(rows)
    }

    async fn session_create(&self, p: SessionCreateParams) -> StoreResult<Session> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let row = sqlx::query_as::<_, SessionRow>(include_str!("queries/session_insert.sql"))
            .bind(&p.workspace_id)
            .bind(&p.name)
            .bind(&p.actor)
            .bind(p.now)
            .fetch_one(&mut *tx)
            .await
            .doing("creating a session")?;
        tx.commit().await.doing("committing a session")?;
        row.try_into()
    }

    async fn session_get(&self, workspace_id: &str, id: i64) -> StoreResult<SessionWithRuns> {
        let mut tx = self.begin_in(workspace_id).await?;
        let session: Session =
            sqlx::query_as::<_, SessionRow>(include_str!("queries/session_get.sql"))
                .bind(id)
                .bind(workspace_id)
                .fetch_optional(&mut *tx)
                .await
                .doing("reading a session")?
                .ok_or(StoreError::NotFound {
                    what: "session",
                    id: id.to_string(),
                })?
                .try_into()?;
        let runs = sqlx::query_as::<_, RunRow>(include_str!("queries/session_runs.sql"))
            .bind(id)
            .bind(workspace_id)
            .fetch_all(&mut *tx)
            .await
            .doing("reading a session's runs")?;
        Ok(SessionWithRuns::from_runs(session, convert(runs)?))
    }

    async fn session_list(&self, workspace_id: &str, limit: i64) -> StoreResult<Vec<Session>> {
        let mut tx = self.begin_in(workspace_id).await?;
        let rows = sqlx::query_as::<_, SessionRow>(include_str!("queries/session_list.sql"))
            .bind(workspace_id)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .doing("listing sessions")?;
        convert(rows)
    }

    async fn audit_list(&self, p: AuditListParams) -> StoreResult<Vec<AuditEntry>> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let rows = sqlx::query_as::<_, AuditRow>(include_str!("queries/audit_list.sql"))
            .bind(&p.workspace_id)
            .bind(p.since)
            .bind(&p.action)
            .bind(&p.actor)
            .bind(p.newest_first)
            .bind(p.cursor)
            .bind(p.limit)
            .fetch_all(&mut *tx)
            .await
            .doing("reading the audit log")?;
        convert(rows)
    }

    async fn audit_append(&self, p: AuditAppendParams) -> StoreResult<AuditEntry> {
        sequences::audit_append(self, &p).await
    }

    async fn runs_count_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
        sqlx::query_as(include_str!("queries/runs_count_by_status.sql"))
            .fetch_all(&self.pool)
            .await
            .doing("counting runs")
    }
}
