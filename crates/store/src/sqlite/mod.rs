//! The embedded SQLite backend, the zero-setup default. One process owns the
//! file: writes go through a single connection (so a claim is one atomic
//! statement and transactions never fight for the lock), reads through a
//! small pool in WAL mode. Times are stored as unix microseconds. Its SQL is
//! in `queries/`; the multi-step sequences are shared (`crate::sequences`)
//! on top of its [`Primitives`].

mod identity;
mod notifications;
mod rows;
mod schedules;
mod secrets;

use self::rows::{ArtifactRow, AuditRow, EventPageRow, RunRow, SessionRow, WorkerRow};
use crate::rows::{cancel_requested, convert, events_page};
use crate::rules::{
    attempt_started_event, batch_audit, check_batch, created_audit, created_event, Action, Change,
    Rescue,
};
use crate::sequences::{self, Decided, NewAudit, Primitives};
use crate::wakeups::{Wakeup, Wakeups};
use crate::*;
use chrono::{DateTime, Utc};
use opsroom_core::RunStatus;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        "0002_secrets",
        include_str!("../../migrations/sqlite/0002_secrets.sql"),
    ),
    (
        "0003_identity",
        include_str!("../../migrations/sqlite/0003_identity.sql"),
    ),
    (
        "0005_approvals",
        include_str!("../../migrations/sqlite/0005_approvals.sql"),
    ),
    (
        "0006_notifications",
        include_str!("../../migrations/sqlite/0006_notifications.sql"),
    ),
    (
        "0007_schedules",
        include_str!("../../migrations/sqlite/0007_schedules.sql"),
    ),
    (
        "0009_notice_state",
        include_str!("../../migrations/sqlite/0009_notice_state.sql"),
    ),
];

static RUNS_CLAIM: LazyLock<String> = LazyLock::new(|| {
    include_str!("queries/runs_claim.sql")
        .replace("/* keys_free */", include_str!("../queries/keys_free.sql"))
});

/// SQLite store on one database file.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    wakeups: Wakeups,
}

fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

impl SqliteStore {
    /// A transaction on the single writer connection.
    async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer.begin().await.doing("starting a transaction")
    }

    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &str) -> StoreResult<SqliteStore> {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::InvalidUrl(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(|e| StoreError::InvalidUrl(format!("sqlite://{path}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // A local file's connections do not go stale: no ping before each use.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .doing("opening the SQLite database")?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.read_only(false))
            .await
            .doing("opening the SQLite database for reading")?;
        Ok(SqliteStore {
            writer,
            reader,
            wakeups: Wakeups::new(),
        })
    }
}

fn initial_status(p: &RunInsertParams) -> RunStatus {
    if p.needs_approval {
        RunStatus::AwaitingApproval
    } else {
        RunStatus::Queued
    }
}

/// Inserts runs with their `created` events, in order: one multi-row
/// statement per thousand runs (SQLite allows 32,766 variables per
/// statement; a run takes 24).
async fn insert_runs(
    conn: &mut SqliteConnection,
    params: &[RunInsertParams],
) -> StoreResult<Vec<Run>> {
    let mut runs = Vec::with_capacity(params.len());
    for chunk in params.chunks(1000) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(include_str!("queries/runs_insert.sql"));
        qb.push_values(chunk, |mut b, p| {
            b.push_bind(&p.workspace_id)
                .push_bind(&p.runbook)
                .push_bind(&p.env)
                .push_bind(&p.target)
                .push_bind(p.params.to_string())
                .push_bind(&p.text)
                .push_bind(p.plan.to_string())
                .push_bind(p.risk.as_str())
                .push_bind(initial_status(p).as_str())
                .push_bind(p.priority)
                .push_bind(p.max_attempts)
                .push_bind(us(p.run_after.unwrap_or(p.now)))
                .push_bind(p.session_id)
                .push_bind(p.lane.map(Lane::as_str))
                .push_bind(p.lane_key())
                .push_bind(&p.lock_key)
                .push_bind(&p.idempotency_key)
                .push_bind(&p.actor)
                .push_bind(us(p.now))
                .push_bind(p.timeout_secs)
                .push_bind(1i64)
                .push_bind(&p.actor)
                .push_bind(p.needs_approval.then_some(ApprovalState::Pending.as_str()))
                .push_bind(p.approval_expires_at.filter(|_| p.needs_approval).map(us))
                .push_bind(p.schedule_id)
                .push_bind(p.scheduled_for.map(us));
        });
        qb.push(" RETURNING *");
        let rows = qb
            .build_query_as::<RunRow>()
            .fetch_all(&mut *conn)
            .await
            .doing("inserting runs")?;
        // Ids are assigned in insertion order; RETURNING's order is not promised.
        let mut inserted: Vec<Run> = convert(rows)?;
        inserted.sort_by_key(|r| r.id);
        let events: Vec<NewEvent> = chunk
            .iter()
            .map(|p| created_event(p, initial_status(p)))
            .collect();
        insert_event_rows(
            &mut *conn,
            inserted
                .iter()
                .zip(&events)
                .map(|(r, e)| (r.id, Seq(1), r.workspace_id.as_str(), e)),
        )
        .await?;
        runs.extend(inserted);
    }
    Ok(runs)
}

async fn audit_insert(conn: &mut SqliteConnection, a: NewAudit<'_>) -> StoreResult<AuditEntry> {
    sqlx::query_as::<_, AuditRow>(include_str!("queries/audit_insert.sql"))
        .bind(a.workspace_id)
        .bind(us(a.ts))
        .bind(a.actor)
        .bind(a.action)
        .bind(a.subject)
        .bind(a.source)
        .bind(escape_nul_json(a.details).to_string())
        .fetch_one(&mut *conn)
        .await
        .doing("writing the audit log")?
        .try_into()
}

/// Inserts events of one run with seq `first_seq ..`.
async fn insert_events(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    run_id: RunId,
    first_seq: Seq,
    events: &[NewEvent],
) -> StoreResult<()> {
    insert_event_rows(
        conn,
        events
            .iter()
            .enumerate()
            .map(|(i, e)| (run_id, first_seq.plus(i as i64), workspace_id, e)),
    )
    .await
}

/// Writes events given as (run id, seq, workspace, event), several
/// thousand per statement.
async fn insert_event_rows<'a>(
    conn: &mut SqliteConnection,
    rows: impl Iterator<Item = (RunId, Seq, &'a str, &'a NewEvent)>,
) -> StoreResult<()> {
    // SQLite allows 32766 variables per statement; 8 per event.
    let rows: Vec<_> = rows.collect();
    for chunk in rows.chunks(4000) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(include_str!("queries/events_insert.sql"));
        qb.push_values(chunk, |mut b, (run_id, seq, workspace_id, e)| {
            b.push_bind(run_id.0)
                .push_bind(seq.0)
                .push_bind(*workspace_id)
                .push_bind(us(e.ts))
                .push_bind(e.level.as_str())
                .push_bind(e.phase.map(|p| p.as_str()))
                .push_bind(escape_nul(&e.message))
                .push_bind(escape_nul_json(&e.data).to_string());
        });
        qb.build()
            .execute(&mut *conn)
            .await
            .doing("writing run events")?;
    }
    Ok(())
}

#[async_trait]
impl Primitives for SqliteStore {
    type Tx = Transaction<'static, Sqlite>;

    /// The store layer scopes every query by workspace itself (SQLite has
    /// no row-level security): the workspace is in each statement.
    async fn begin(&self, _workspace_id: &str) -> StoreResult<Self::Tx> {
        self.write_tx().await
    }

    async fn workspace_enter(&self, _tx: &mut Self::Tx, _workspace_id: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn commit(&self, tx: Self::Tx, doing: &'static str) -> StoreResult<()> {
        tx.commit().await.doing(doing)
    }

    async fn rollback(&self, tx: Self::Tx) {
        let _ = tx.rollback().await;
    }

    /// The single writer connection serializes writers: reading inside its
    /// transaction is as good as a row lock.
    async fn run_fetch_for_update(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        run_id: RunId,
    ) -> StoreResult<Option<Run>> {
        sqlx::query_as::<_, RunRow>(include_str!("queries/run_get.sql"))
            .bind(run_id.0)
            .bind(workspace_id)
            .fetch_optional(&mut **tx)
            .await
            .doing("reading a run")?
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
            .bind(change.status.is_final().then_some(us(p.now)))
            .bind(&change.approved_by)
            .bind(change.error.as_deref().map(escape_nul))
            .bind(&p.actor)
            .bind(change.approval.map(ApprovalState::as_str))
            .bind(&change.decided_by)
            .bind(us(p.now))
            .bind(change.comment.as_deref().map(escape_nul))
            .fetch_one(&mut **tx)
            .await
            .doing("updating a run")?
            .try_into()
    }

    async fn runs_stale(&self, stale_before: DateTime<Utc>) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/runs_stale.sql"))
            .bind(us(stale_before))
            .fetch_all(&self.reader)
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
            .bind(r.status.is_final().then_some(us(p.now)))
            .bind(us(r.run_after))
            .bind(&r.error)
            .bind(stale.lease)
            .bind(us(p.stale_before))
            .fetch_optional(&mut **tx)
            .await
            .doing("rescuing a run")?
            .map(Run::try_from)
            .transpose()
    }

    async fn runs_update_completed(&self, decided: Vec<Decided>) -> StoreResult<Vec<Run>> {
        let mut tx = self.write_tx().await?;
        let mut done = Vec::with_capacity(decided.len());
        for d in &decided {
            let p = &d.params;
            let n = p.events.len() as i64;
            let row = sqlx::query_as::<_, RunRow>(include_str!("queries/run_complete.sql"))
                .bind(p.run_id.0)
                .bind(d.status.as_str())
                .bind(d.finished_at.map(us))
                .bind(p.retry_at.map(us))
                .bind(p.error.as_deref().map(escape_nul))
                .bind(n)
                .bind(p.phases.as_ref().map(|v| v.to_string()))
                .bind(p.fence.lease)
                .bind(&p.workspace_id)
                .fetch_optional(&mut *tx)
                .await
                .doing("completing a run")?;
            let Some(row) = row else {
                continue;
            };
            let run = Run::try_from(row)?;
            insert_events(
                &mut tx,
                &run.workspace_id,
                run.id,
                run.last_seq.plus(1 - n),
                &p.events,
            )
            .await?;
            done.push(run);
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
        insert_events(tx, &run.workspace_id, run.id, first_seq, events).await
    }

    async fn audit_insert(&self, tx: &mut Self::Tx, a: NewAudit<'_>) -> StoreResult<AuditEntry> {
        audit_insert(tx, a).await
    }

    async fn runs_approval_expired(&self, now: DateTime<Utc>) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/runs_approval_expired.sql"))
            .bind(us(now))
            .fetch_all(&self.reader)
            .await
            .doing("finding expired approvals")?;
        convert(rows)
    }

    /// The single writer connection is the one migrator.
    async fn migration_begin(&self) -> StoreResult<Self::Tx> {
        let mut tx = self.writer.begin().await.doing("starting a migration")?;
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
            .bind(us(Utc::now()))
            .execute(&mut **tx)
            .await
            .map_err(migration_err)?;
        Ok(())
    }

    /// One process owns the file: nobody else to tell.
    fn notify(&self, wakeup: Wakeup) {
        self.wakeups.send(wakeup);
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> StoreResult<Vec<String>> {
        sequences::migrate(self, MIGRATIONS).await
    }

    fn wakeups(&self) -> &Wakeups {
        &self.wakeups
    }

    async fn run_insert(&self, p: RunInsertParams) -> StoreResult<(Run, bool)> {
        let mut tx = self.write_tx().await?;
        if let Some(key) = &p.idempotency_key {
            let existing =
                sqlx::query_as::<_, RunRow>(include_str!("queries/run_by_idempotency_key.sql"))
                    .bind(&p.workspace_id)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .doing("reading the run of an idempotency key")?;
            if let Some(row) = existing {
                return Ok((row.try_into()?, false));
            }
        }
        let run = insert_runs(&mut tx, std::slice::from_ref(&p))
            .await?
            .remove(0);
        let (action, details) = created_audit(&p, run.status);
        audit_insert(
            &mut tx,
            NewAudit {
                workspace_id: &run.workspace_id,
                ts: p.now,
                actor: &p.actor,
                action,
                subject: &format!("run:{}", run.id),
                source: p.source.as_deref(),
                details: &details,
            },
        )
        .await?;
        tx.commit().await.doing("committing a new run")?;
        self.notify(Wakeup::Run(run.id));
        if run.status == RunStatus::Queued {
            self.notify(Wakeup::RunsAvailable);
        }
        Ok((run, true))
    }

    async fn runs_insert_batch(&self, params: Vec<RunInsertParams>) -> StoreResult<Vec<Run>> {
        check_batch(&params)?;
        let mut tx = self.write_tx().await?;
        let runs = insert_runs(&mut tx, &params).await?;
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
        sqlx::query_as::<_, RunRow>(include_str!("queries/run_get.sql"))
            .bind(id.0)
            .bind(workspace_id)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a run")?
            .ok_or_else(|| StoreError::not_found_run(id))?
            .try_into()
    }

    async fn run_waits_for(&self, run: &Run) -> StoreResult<Option<RunWait>> {
        if run.status != RunStatus::Queued || (run.lane_key.is_none() && run.lock_key.is_none()) {
            return Ok(None);
        }
        let found: Option<(i64, String)> =
            sqlx::query_as(include_str!("queries/run_waits_for.sql"))
                .bind(&run.workspace_id)
                .bind(&run.lane_key)
                .bind(&run.lock_key)
                .bind(run.id.0)
                .fetch_optional(&self.reader)
                .await
                .doing("finding what a queued run waits for")?;
        let Some((id, reason)) = found else {
            return Ok(None);
        };
        Ok(Some(RunWait {
            run: self.run_get(&run.workspace_id, RunId(id)).await?,
            reason: WaitReason::from_column(&reason),
        }))
    }

    async fn run_list(&self, p: RunListParams) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query_as::<_, RunRow>(include_str!("queries/run_list.sql"))
            .bind(&p.workspace_id)
            .bind(p.status.map(|s| s.as_str()))
            .bind(&p.env)
            .bind(&p.runbook)
            .bind(p.before.map(|b| b.0))
            .bind(p.session_id)
            .bind(p.limit)
            .bind(&p.created_by)
            .bind(p.created_from.map(us))
            .bind(p.created_to.map(us))
            .bind(p.q_words())
            .fetch_all(&self.reader)
            .await
            .doing("listing runs")?;
        convert(rows)
    }

    async fn run_claim(&self, p: RunClaimParams) -> StoreResult<Vec<Run>> {
        let mut tx = self.writer.begin().await.doing("starting a claim")?;
        let rows = sqlx::query_as::<_, RunRow>(&RUNS_CLAIM)
            .bind(us(p.now))
            .bind(p.limit)
            .bind(&p.worker_id)
            .fetch_all(&mut *tx)
            .await
            .doing("claiming runs")?;
        let mut runs: Vec<Run> = convert(rows)?;
        runs.sort_by_key(|r| (-r.priority, r.id));
        let started: Vec<NewEvent> = runs
            .iter()
            .map(|r| attempt_started_event(r, &p.worker_id, p.now))
            .collect();
        insert_event_rows(
            &mut tx,
            runs.iter()
                .zip(&started)
                .map(|(r, e)| (r.id, r.last_seq, r.workspace_id.as_str(), e)),
        )
        .await?;
        tx.commit().await.doing("committing a claim")?;
        for r in &runs {
            self.notify(Wakeup::Run(r.id));
        }
        Ok(runs)
    }

    async fn events_append(&self, p: EventsAppendParams) -> StoreResult<Seq> {
        let n = p.events.len() as i64;
        let mut tx = self.write_tx().await?;
        let row: Option<(String, i64)> = sqlx::query_as(include_str!("queries/events_append.sql"))
            .bind(p.run_id.0)
            .bind(n)
            .bind(p.phases.as_ref().map(|v| v.to_string()))
            .bind(p.fence.map(|f| f.lease))
            .bind(&p.workspace_id)
            .fetch_optional(&mut *tx)
            .await
            .doing("appending run events")?;
        let Some((workspace_id, last_seq)) = row else {
            return Err(match p.fence {
                Some(_) => StoreError::LeaseLost { run_id: p.run_id },
                None => StoreError::not_found_run(p.run_id),
            });
        };
        insert_events(
            &mut tx,
            &workspace_id,
            p.run_id,
            Seq(last_seq - n + 1),
            &p.events,
        )
        .await?;
        tx.commit().await.doing("committing run events")?;
        self.notify(Wakeup::Run(p.run_id));
        Ok(Seq(last_seq))
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
        let rows = sqlx::query_as::<_, EventPageRow>(include_str!("queries/events_list.sql"))
            .bind(&p.workspace_id)
            .bind(p.run_id.0)
            .bind(p.after.0)
            .bind(p.limit)
            .fetch_all(&self.reader)
            .await
            .doing("reading run events")?;
        events_page(rows, p.run_id)
    }

    async fn artifact_insert(&self, p: ArtifactInsertParams) -> StoreResult<Artifact> {
        let row = sqlx::query_as::<_, ArtifactRow>(include_str!("queries/artifact_insert.sql"))
            .bind(p.run_id.0)
            .bind(p.fence.map(|f| f.lease))
            .bind(p.kind.as_str())
            .bind(escape_nul(&p.name))
            .bind(escape_nul(&p.content))
            .bind(us(p.now))
            .bind(&p.workspace_id)
            .fetch_optional(&self.writer)
            .await
            .doing("storing an artifact")?;
        match row {
            Some(r) => r.try_into(),
            None if p.fence.is_some() => Err(StoreError::LeaseLost { run_id: p.run_id }),
            None => Err(StoreError::not_found_run(p.run_id)),
        }
    }

    async fn artifacts_list(
        &self,
        workspace_id: &str,
        run_id: RunId,
    ) -> StoreResult<Vec<Artifact>> {
        let rows = sqlx::query_as::<_, ArtifactRow>(include_str!("queries/artifacts_list.sql"))
            .bind(workspace_id)
            .bind(run_id.0)
            .fetch_all(&self.reader)
            .await
            .doing("listing artifacts")?;
        convert(rows)
    }

    async fn worker_heartbeat(&self, p: WorkerHeartbeatParams) -> StoreResult<Vec<RunId>> {
        let mut tx = self.write_tx().await?;
        sqlx::query(include_str!("queries/worker_upsert.sql"))
            .bind(&p.worker_id)
            .bind(&p.host)
            .bind(p.pid)
            .bind(p.state.as_str())
            .bind(p.concurrency)
            .bind(us(p.now))
            .execute(&mut *tx)
            .await
            .doing("recording a worker heartbeat")?;
        let rows: Vec<(i64, bool)> =
            sqlx::query_as(include_str!("queries/worker_leases_extend.sql"))
                .bind(&p.worker_id)
                .bind(us(p.now))
                .bind(json!(p.running).to_string())
                .fetch_all(&mut *tx)
                .await
                .doing("extending run leases")?;
        tx.commit().await.doing("committing a heartbeat")?;
        Ok(cancel_requested(rows))
    }

    async fn workers_list(&self) -> StoreResult<Vec<Worker>> {
        let rows = sqlx::query_as::<_, WorkerRow>(include_str!("queries/workers_list.sql"))
            .fetch_all(&self.reader)
            .await
            .doing("listing workers")?;
        convert(rows)
    }

    async fn session_create(&self, p: SessionCreateParams) -> StoreResult<Session> {
        sqlx::query_as::<_, SessionRow>(include_str!("queries/session_insert.sql"))
            .bind(&p.workspace_id)
            .bind(&p.name)
            .bind(&p.actor)
            .bind(us(p.now))
            .fetch_one(&self.writer)
            .await
            .doing("creating a session")?
            .try_into()
    }

    async fn session_get(&self, workspace_id: &str, id: i64) -> StoreResult<SessionWithRuns> {
        let session: Session =
            sqlx::query_as::<_, SessionRow>(include_str!("queries/session_get.sql"))
                .bind(id)
                .bind(workspace_id)
                .fetch_optional(&self.reader)
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
            .fetch_all(&self.reader)
            .await
            .doing("reading a session's runs")?;
        Ok(SessionWithRuns::from_runs(session, convert(runs)?))
    }

    async fn session_list(&self, workspace_id: &str, limit: i64) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query_as::<_, SessionRow>(include_str!("queries/session_list.sql"))
            .bind(workspace_id)
            .bind(limit)
            .fetch_all(&self.reader)
            .await
            .doing("listing sessions")?;
        convert(rows)
    }

    async fn audit_list(&self, p: AuditListParams) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query_as::<_, AuditRow>(include_str!("queries/audit_list.sql"))
            .bind(&p.workspace_id)
            .bind(p.since.map(us))
            .bind(&p.action)
            .bind(&p.actor)
            .bind(p.newest_first)
            .bind(p.cursor)
            .bind(p.limit)
            .fetch_all(&self.reader)
            .await
            .doing("reading the audit log")?;
        convert(rows)
    }

    async fn audit_append(&self, p: AuditAppendParams) -> StoreResult<AuditEntry> {
        sequences::audit_append(self, &p).await
    }

    async fn runs_count_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
        sqlx::query_as(include_str!("queries/runs_count_by_status.sql"))
            .fetch_all(&self.reader)
            .await
            .doing("counting runs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Helpers add migrations in parallel: one merged later may carry a
    /// lower number than one a database has applied already (0003 after
    /// 0004). It is applied then, whatever its place in the list.
    #[tokio::test]
    async fn a_migration_merged_later_with_a_lower_number_is_applied() {
        let path = std::env::temp_dir().join(format!(
            "opsroom_migrations_{}_{}.db",
            std::process::id(),
            Utc::now().timestamp_micros()
        ));
        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        let first = [
            ("0001_a", "CREATE TABLE a (x INTEGER)"),
            ("0004_d", "CREATE TABLE d (x INTEGER)"),
        ];
        assert_eq!(
            sequences::migrate(&store, &first).await.unwrap(),
            ["0001_a", "0004_d"]
        );
        let merged = [
            ("0004_d", "CREATE TABLE d (x INTEGER)"),
            ("0001_a", "CREATE TABLE a (x INTEGER)"),
            ("0003_c", "CREATE TABLE c (x INTEGER)"),
        ];
        assert_eq!(
            sequences::migrate(&store, &merged).await.unwrap(),
            ["0003_c"]
        );
        assert!(sequences::migrate(&store, &merged)
            .await
            .unwrap()
            .is_empty());
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// Each backend's migrations have distinct names in ascending order.
    #[test]
    fn migration_lists_are_sorted_and_distinct() {
        for list in [MIGRATIONS, crate::postgres::MIGRATIONS] {
            let names: Vec<&str> = list.iter().map(|(n, _)| *n).collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        }
    }
}
