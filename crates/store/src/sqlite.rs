//! The embedded SQLite backend, the zero-setup default. One process owns the
//! file: writes go through a single connection (so a claim is one atomic
//! statement and transactions never fight for the lock), reads through a
//! small pool in WAL mode. Times are stored as unix microseconds.

use crate::rules::{
    attempt_started_event, batch_audit, check_batch, completion, created_event, Action, Rescue,
};
use crate::wakeups::{Wakeup, Wakeups};
use crate::*;
use chrono::{DateTime, Utc};
use opsroom_core::{Phase, RunStatus};
use serde_json::{json, Value};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init",
    include_str!("../migrations/sqlite/0001_init.sql"),
)];

const RUN_COLUMNS: &str = "id, workspace_id, runbook, env, target, params, text, plan, risk, status, priority, attempt, \
     max_attempts, run_after, session_id, lane, lane_key, lock_key, idempotency_key, created_by, approved_by, \
     created_at, started_at, finished_at, worker_id, lease, heartbeat_at, cancel_requested, timeout_secs, error, \
     phases, last_seq";

/// SQLite store on one database file.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    wakeups: Wakeups,
}

fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_us(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        what: "run",
        id: id.to_string(),
    }
}

impl SqliteStore {
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

    async fn fetch_run<'e, E: sqlx::Executor<'e, Database = Sqlite>>(
        ex: E,
        id: i64,
    ) -> StoreResult<Option<Run>> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"))
            .bind(id)
            .fetch_optional(ex)
            .await
            .doing("reading a run")?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    async fn transition(&self, p: &RunActionParams, action: Action) -> StoreResult<Run> {
        let mut tx = self.writer.begin().await.doing("starting a transaction")?;
        let run = match Self::fetch_run(&mut *tx, p.run_id).await? {
            Some(r) if r.workspace_id == p.workspace_id => r,
            _ => return Err(not_found(p.run_id)),
        };
        let change = match action.decide(&run, p) {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        let row = sqlx::query(&format!(
            "UPDATE runs SET status = ?, cancel_requested = ?, finished_at = ?, approved_by = COALESCE(?, approved_by), \
             error = COALESCE(?, error), last_seq = last_seq + 1, updated_by = ? WHERE id = ? RETURNING {RUN_COLUMNS}"
        ))
        .bind(change.status.as_str())
        .bind(change.cancel_requested)
        .bind(change.status.is_final().then_some(us(p.now)))
        .bind(&change.approved_by)
        .bind(&change.error)
        .bind(&p.actor)
        .bind(run.id)
        .fetch_one(&mut *tx)
        .await
        .doing("updating a run")?;
        let updated = run_from_row(&row)?;
        insert_events(
            &mut tx,
            &updated.workspace_id,
            updated.id,
            updated.last_seq - 1,
            std::slice::from_ref(&change.event),
        )
        .await?;
        let subject = format!("run:{}", updated.id);
        insert_audit(
            &mut tx,
            &updated.workspace_id,
            p.now,
            &p.actor,
            change.audit_action,
            &subject,
            &change.audit_details,
        )
        .await?;
        tx.commit().await.doing("committing a run change")?;
        self.wakeups.send(Wakeup::Run(updated.id));
        self.wakeups.send(Wakeup::RunsAvailable);
        Ok(updated)
    }
}

/// Applies one migration unless it already was.
async fn apply_migration(pool: &SqlitePool, name: &str, sql: &str) -> StoreResult<bool> {
    let migration_err = |source| StoreError::Migration {
        name: name.to_string(),
        source,
    };
    let mut tx = pool.begin().await.doing("starting a migration")?;
    sqlx::query("CREATE TABLE IF NOT EXISTS opsroom_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        .execute(&mut *tx)
        .await
        .doing("creating the migrations table")?;
    let done: Option<String> =
        sqlx::query_scalar("SELECT name FROM opsroom_migrations WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading applied migrations")?;
    if done.is_some() {
        return Ok(false);
    }
    sqlx::Executor::execute(&mut *tx, sql)
        .await
        .map_err(migration_err)?;
    sqlx::query("INSERT INTO opsroom_migrations (name, applied_at) VALUES (?, ?)")
        .bind(name)
        .bind(us(Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(migration_err)?;
    tx.commit().await.map_err(migration_err)?;
    Ok(true)
}

/// Inserts one run and its `created` event.
/// Inserts runs with their `created` events, in order: one multi-row
/// statement per thousand runs (SQLite allows 32,766 variables per
/// statement; a run takes 22).
async fn insert_runs(
    conn: &mut sqlx::SqliteConnection,
    params: &[RunInsertParams],
) -> StoreResult<Vec<Run>> {
    let status = |p: &RunInsertParams| {
        if p.needs_approval {
            RunStatus::AwaitingApproval
        } else {
            RunStatus::Queued
        }
    };
    let mut runs = Vec::with_capacity(params.len());
    for chunk in params.chunks(1000) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO runs (workspace_id, runbook, env, target, params, text, plan, risk, status, priority, \
               max_attempts, run_after, session_id, lane, lane_key, lock_key, idempotency_key, created_by, created_at, \
               timeout_secs, last_seq, updated_by) ",
        );
        qb.push_values(chunk, |mut b, p| {
            b.push_bind(&p.workspace_id)
                .push_bind(&p.runbook)
                .push_bind(&p.env)
                .push_bind(&p.target)
                .push_bind(p.params.to_string())
                .push_bind(&p.text)
                .push_bind(p.plan.to_string())
                .push_bind(&p.risk)
                .push_bind(status(p).as_str())
                .push_bind(p.priority)
                .push_bind(p.max_attempts)
                .push_bind(us(p.run_after.unwrap_or(p.now)))
                .push_bind(p.session_id)
                .push_bind(&p.lane)
                .push_bind(p.lane_key())
                .push_bind(&p.lock_key)
                .push_bind(&p.idempotency_key)
                .push_bind(&p.actor)
                .push_bind(us(p.now))
                .push_bind(p.timeout_secs)
                .push_bind(1i64)
                .push_bind(&p.actor);
        });
        qb.push(format!(" RETURNING {RUN_COLUMNS}"));
        let rows = qb
            .build()
            .fetch_all(&mut *conn)
            .await
            .doing("inserting runs")?;
        // Ids are assigned in insertion order; RETURNING's order is not promised.
        let mut inserted: Vec<Run> = rows.iter().map(run_from_row).collect::<StoreResult<_>>()?;
        inserted.sort_by_key(|r| r.id);
        let events: Vec<NewEvent> = chunk.iter().map(|p| created_event(p, status(p))).collect();
        insert_event_rows(
            &mut *conn,
            inserted
                .iter()
                .zip(&events)
                .map(|(r, e)| (r.id, 1, r.workspace_id.as_str(), e)),
        )
        .await?;
        runs.extend(inserted);
    }
    Ok(runs)
}

async fn insert_audit(
    conn: &mut sqlx::SqliteConnection,
    workspace_id: &str,
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: &str,
    details: &Value,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit_log (workspace_id, ts, actor, action, subject, details) VALUES (?,?,?,?,?,?)")
        .bind(workspace_id)
        .bind(us(now))
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(details.to_string())
        .execute(&mut *conn)
        .await
        .doing("writing the audit log")?;
    Ok(())
}

/// Inserts events with seq `base + 1 ..`.
async fn insert_events(
    conn: &mut sqlx::SqliteConnection,
    workspace_id: &str,
    run_id: i64,
    base: i64,
    events: &[NewEvent],
) -> StoreResult<()> {
    insert_event_rows(
        conn,
        events
            .iter()
            .enumerate()
            .map(|(i, e)| (run_id, base + i as i64 + 1, workspace_id, e)),
    )
    .await
}

/// Writes events given as (run id, seq, workspace, event), several
/// thousand per statement.
async fn insert_event_rows<'a>(
    conn: &mut sqlx::SqliteConnection,
    rows: impl Iterator<Item = (i64, i64, &'a str, &'a NewEvent)>,
) -> StoreResult<()> {
    // SQLite allows 32766 variables per statement; 8 per event.
    let rows: Vec<_> = rows.collect();
    for chunk in rows.chunks(4000) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data) ",
        );
        qb.push_values(chunk, |mut b, (run_id, seq, workspace_id, e)| {
            b.push_bind(*run_id)
                .push_bind(*seq)
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
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> StoreResult<Vec<String>> {
        let mut applied = Vec::new();
        for (name, sql) in MIGRATIONS {
            if apply_migration(&self.writer, name, sql).await? {
                applied.push(name.to_string());
            }
        }
        Ok(applied)
    }

    fn wakeups(&self) -> &Wakeups {
        &self.wakeups
    }

    async fn run_insert(&self, p: RunInsertParams) -> StoreResult<(Run, bool)> {
        let mut tx = self.writer.begin().await.doing("starting a transaction")?;
        if let Some(key) = &p.idempotency_key {
            let existing = sqlx::query(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = ? AND idempotency_key = ?"
            ))
            .bind(&p.workspace_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading the run of an idempotency key")?;
            if let Some(row) = existing {
                return Ok((run_from_row(&row)?, false));
            }
        }
        let run = insert_runs(&mut tx, std::slice::from_ref(&p))
            .await?
            .remove(0);
        let details = json!({"runbook": p.runbook, "env": p.env, "target": p.target});
        let subject = format!("run:{}", run.id);
        insert_audit(
            &mut tx,
            &run.workspace_id,
            p.now,
            &p.actor,
            "run.create",
            &subject,
            &details,
        )
        .await?;
        tx.commit().await.doing("committing a new run")?;
        self.wakeups.send(Wakeup::Run(run.id));
        if run.status == RunStatus::Queued {
            self.wakeups.send(Wakeup::RunsAvailable);
        }
        Ok((run, true))
    }

    async fn runs_insert_batch(&self, params: Vec<RunInsertParams>) -> StoreResult<Vec<Run>> {
        check_batch(&params)?;
        let mut tx = self.writer.begin().await.doing("starting a transaction")?;
        let runs = insert_runs(&mut tx, &params).await?;
        if let Some((ws, actor, subject, details)) = batch_audit(&runs) {
            insert_audit(
                &mut tx,
                &ws,
                params[0].now,
                &actor,
                "run.create_batch",
                &subject,
                &details,
            )
            .await?;
        }
        tx.commit().await.doing("committing new runs")?;
        for run in &runs {
            self.wakeups.send(Wakeup::Run(run.id));
        }
        self.wakeups.send(Wakeup::RunsAvailable);
        Ok(runs)
    }

    async fn run_get(&self, workspace_id: &str, id: i64) -> StoreResult<Run> {
        match Self::fetch_run(&self.reader, id).await? {
            Some(run) if run.workspace_id == workspace_id => Ok(run),
            _ => Err(not_found(id)),
        }
    }

    async fn run_list(&self, p: RunListParams) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = ?1 \
             AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR env = ?3) \
             AND (?4 IS NULL OR runbook = ?4) AND (?5 IS NULL OR id < ?5) \
             AND (?6 IS NULL OR session_id = ?6) ORDER BY id DESC LIMIT ?7"
        ))
        .bind(&p.workspace_id)
        .bind(p.status.map(|s| s.as_str()))
        .bind(&p.env)
        .bind(&p.runbook)
        .bind(p.before)
        .bind(p.session_id)
        .bind(p.limit)
        .fetch_all(&self.reader)
        .await
        .doing("listing runs")?;
        rows.iter().map(run_from_row).collect()
    }

    async fn run_claim(&self, p: RunClaimParams) -> StoreResult<Vec<Run>> {
        // One statement on the single writer connection: atomic by construction.
        let mut tx = self.writer.begin().await.doing("starting a claim")?;
        let rows = sqlx::query(&format!(
            "UPDATE runs SET status = 'running', attempt = attempt + 1, lease = lease + 1, worker_id = ?3, \
               heartbeat_at = ?1, started_at = COALESCE(started_at, ?1), updated_by = ?3, last_seq = last_seq + 1 \
             WHERE id IN (SELECT r.id FROM runs r WHERE r.status = 'queued' AND r.run_after <= ?1 \
               AND {KEYS_FREE} \
               ORDER BY r.priority DESC, r.id LIMIT ?2) \
             RETURNING {RUN_COLUMNS}"
        ))
        .bind(us(p.now))
        .bind(p.limit)
        .bind(&p.worker_id)
        .fetch_all(&mut *tx)
        .await
        .doing("claiming runs")?;
        let mut runs: Vec<Run> = rows.iter().map(run_from_row).collect::<StoreResult<_>>()?;
        runs.sort_by_key(|r| (-r.priority, r.id));
        for r in &runs {
            let event = attempt_started_event(r, &p.worker_id, p.now);
            insert_events(&mut tx, &r.workspace_id, r.id, r.last_seq - 1, &[event]).await?;
        }
        tx.commit().await.doing("committing a claim")?;
        for r in &runs {
            self.wakeups.send(Wakeup::Run(r.id));
        }
        Ok(runs)
    }

    async fn events_append(&self, p: EventsAppendParams) -> StoreResult<i64> {
        let n = p.events.len() as i64;
        let mut tx = self.writer.begin().await.doing("starting a transaction")?;
        let row = sqlx::query(
            "UPDATE runs SET last_seq = last_seq + ?2, phases = COALESCE(?3, phases) \
             WHERE id = ?1 AND (?4 IS NULL OR (lease = ?4 AND status = 'running')) RETURNING workspace_id, last_seq",
        )
        .bind(p.run_id)
        .bind(n)
        .bind(p.phases.as_ref().map(|v| v.to_string()))
        .bind(p.fence.map(|f| f.lease))
        .fetch_optional(&mut *tx)
        .await
        .doing("appending run events")?;
        let Some(row) = row else {
            return Err(match p.fence {
                Some(_) => StoreError::LeaseLost { run_id: p.run_id },
                None => not_found(p.run_id),
            });
        };
        let last_seq: i64 = row.get(1);
        insert_events(&mut tx, row.get(0), p.run_id, last_seq - n, &p.events).await?;
        tx.commit().await.doing("committing run events")?;
        self.wakeups.send(Wakeup::Run(p.run_id));
        Ok(last_seq)
    }

    async fn runs_complete(
        &self,
        params: Vec<RunCompleteParams>,
    ) -> StoreResult<Vec<StoreResult<Run>>> {
        let mut tx = self.writer.begin().await.doing("starting a transaction")?;
        let mut results = Vec::with_capacity(params.len());
        for p in &params {
            let (status, finished_at) = match completion(p) {
                Ok(decided) => decided,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            let n = p.events.len() as i64;
            let row = sqlx::query(&format!(
                "UPDATE runs SET status = ?2, finished_at = ?3, run_after = COALESCE(?4, run_after), error = ?5, \
                   last_seq = last_seq + ?6, phases = COALESCE(?7, phases), \
                   worker_id = CASE WHEN ?2 = 'queued' THEN NULL ELSE worker_id END, updated_by = COALESCE(worker_id, 'system') \
                 WHERE id = ?1 AND lease = ?8 AND status = 'running' RETURNING {RUN_COLUMNS}"
            ))
            .bind(p.run_id)
            .bind(status.as_str())
            .bind(finished_at.map(us))
            .bind(p.retry_at.map(us))
            .bind(p.error.as_deref().map(escape_nul))
            .bind(n)
            .bind(p.phases.as_ref().map(|v| v.to_string()))
            .bind(p.fence.lease)
            .fetch_optional(&mut *tx)
            .await
            .doing("completing a run")?;
            let Some(row) = row else {
                results.push(Err(StoreError::LeaseLost { run_id: p.run_id }));
                continue;
            };
            let run = run_from_row(&row)?;
            insert_events(
                &mut tx,
                &run.workspace_id,
                run.id,
                run.last_seq - n,
                &p.events,
            )
            .await?;
            results.push(Ok(run));
        }
        tx.commit().await.doing("committing runs' ends")?;
        for run in results.iter().flatten() {
            self.wakeups.send(Wakeup::Run(run.id));
        }
        if results.iter().flatten().any(Run::frees_queued_runs) {
            self.wakeups.send(Wakeup::RunsAvailable);
        }
        Ok(results)
    }

    async fn run_cancel(&self, p: RunActionParams) -> StoreResult<Run> {
        self.transition(&p, Action::Cancel).await
    }

    async fn run_approve(&self, p: RunActionParams) -> StoreResult<Run> {
        self.transition(&p, Action::Approve).await
    }

    async fn run_reject(&self, p: RunActionParams) -> StoreResult<Run> {
        self.transition(&p, Action::Reject).await
    }

    async fn runs_rescue(&self, p: RunsRescueParams) -> StoreResult<Vec<Run>> {
        let mut tx = self.writer.begin().await.doing("starting a transaction")?;
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' AND heartbeat_at < ?"
        ))
        .bind(us(p.stale_before))
        .fetch_all(&mut *tx)
        .await
        .doing("finding runs of dead workers")?;
        let mut rescued = Vec::new();
        for row in rows {
            let stale = run_from_row(&row)?;
            let r = Rescue::decide(&stale, &p);
            let row = sqlx::query(&format!(
                "UPDATE runs SET status = ?2, finished_at = ?3, run_after = ?4, error = ?5, last_seq = last_seq + 1, \
                   worker_id = CASE WHEN ?2 = 'queued' THEN NULL ELSE worker_id END, updated_by = 'rescuer' \
                 WHERE id = ?1 RETURNING {RUN_COLUMNS}"
            ))
            .bind(stale.id)
            .bind(r.status.as_str())
            .bind(r.status.is_final().then_some(us(p.now)))
            .bind(us(r.run_after))
            .bind(&r.error)
            .fetch_one(&mut *tx)
            .await
            .doing("rescuing a run")?;
            let run = run_from_row(&row)?;
            insert_events(
                &mut tx,
                &run.workspace_id,
                run.id,
                run.last_seq - 1,
                std::slice::from_ref(&r.event),
            )
            .await?;
            rescued.push(run);
        }
        tx.commit().await.doing("committing rescues")?;
        for run in &rescued {
            self.wakeups.send(Wakeup::Run(run.id));
        }
        if !rescued.is_empty() {
            self.wakeups.send(Wakeup::RunsAvailable);
        }
        Ok(rescued)
    }

    async fn events_list(&self, run_id: i64, after: i64, limit: i64) -> StoreResult<Vec<RunEvent>> {
        let rows = sqlx::query(
            "SELECT run_id, seq, ts, level, phase, message, data FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .doing("reading run events")?;
        rows.iter()
            .map(|r| {
                Ok(RunEvent {
                    run_id: r.get("run_id"),
                    seq: r.get("seq"),
                    ts: from_us(r.get("ts")),
                    level: parse_text(r.get("level"))?,
                    phase: r
                        .get::<Option<String>, _>("phase")
                        .map(parse_text::<Phase>)
                        .transpose()?,
                    message: r.get("message"),
                    data: parse_json(r.get("data")),
                })
            })
            .collect()
    }

    async fn artifact_insert(&self, p: ArtifactInsertParams) -> StoreResult<Artifact> {
        let row = sqlx::query(
            "INSERT INTO artifacts (run_id, workspace_id, kind, name, content, created_at, created_by) \
             SELECT id, workspace_id, ?3, ?4, ?5, ?6, COALESCE(worker_id, 'system') FROM runs \
             WHERE id = ?1 AND (?2 IS NULL OR (lease = ?2 AND status = 'running')) \
             RETURNING id, run_id, workspace_id, kind, name, content, created_at",
        )
        .bind(p.run_id)
        .bind(p.fence.map(|f| f.lease))
        .bind(escape_nul(&p.kind))
        .bind(escape_nul(&p.name))
        .bind(escape_nul(&p.content))
        .bind(us(p.now))
        .fetch_optional(&self.writer)
        .await
        .doing("storing an artifact")?;
        match row {
            Some(r) => Ok(artifact_from_row(&r)),
            None if p.fence.is_some() => Err(StoreError::LeaseLost { run_id: p.run_id }),
            None => Err(not_found(p.run_id)),
        }
    }

    async fn artifacts_list(&self, workspace_id: &str, run_id: i64) -> StoreResult<Vec<Artifact>> {
        let rows = sqlx::query(
            "SELECT id, run_id, workspace_id, kind, name, content, created_at FROM artifacts \
             WHERE workspace_id = ? AND run_id = ? ORDER BY id",
        )
        .bind(workspace_id)
        .bind(run_id)
        .fetch_all(&self.reader)
        .await
        .doing("listing artifacts")?;
        Ok(rows.iter().map(artifact_from_row).collect())
    }

    async fn worker_heartbeat(&self, p: WorkerHeartbeatParams) -> StoreResult<Vec<i64>> {
        let mut tx = self.writer.begin().await.doing("starting a transaction")?;
        sqlx::query(
            "INSERT INTO workers (id, host, pid, state, concurrency, started_at, heartbeat_at) VALUES (?1,?2,?3,?4,?5,?6,?6) \
             ON CONFLICT (id) DO UPDATE SET state = ?4, heartbeat_at = ?6",
        )
        .bind(&p.worker_id)
        .bind(&p.host)
        .bind(p.pid)
        .bind(&p.state)
        .bind(p.concurrency)
        .bind(us(p.now))
        .execute(&mut *tx)
        .await
        .doing("recording a worker heartbeat")?;
        let rows = sqlx::query(
            "UPDATE runs SET heartbeat_at = ?2 WHERE worker_id = ?1 AND status = 'running' \
               AND id IN (SELECT value FROM json_each(?3)) RETURNING id, cancel_requested",
        )
        .bind(&p.worker_id)
        .bind(us(p.now))
        .bind(json!(p.running).to_string())
        .fetch_all(&mut *tx)
        .await
        .doing("extending run leases")?;
        tx.commit().await.doing("committing a heartbeat")?;
        Ok(rows
            .iter()
            .filter(|r| r.get::<bool, _>(1))
            .map(|r| r.get::<i64, _>(0))
            .collect())
    }

    async fn workers_list(&self) -> StoreResult<Vec<Worker>> {
        let rows = sqlx::query(
            "SELECT w.id, w.host, w.pid, w.state, w.concurrency, w.started_at, w.heartbeat_at, \
               (SELECT group_concat(r.id) FROM runs r WHERE r.worker_id = w.id AND r.status = 'running') AS running \
             FROM workers w ORDER BY w.heartbeat_at DESC",
        )
        .fetch_all(&self.reader)
        .await
        .doing("listing workers")?;
        Ok(rows
            .iter()
            .map(|r| {
                let running: Option<String> = r.get("running");
                let mut running: Vec<i64> = running
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect();
                running.sort_unstable();
                Worker {
                    id: r.get("id"),
                    host: r.get("host"),
                    pid: r.get("pid"),
                    state: r.get("state"),
                    concurrency: r.get("concurrency"),
                    started_at: from_us(r.get("started_at")),
                    heartbeat_at: from_us(r.get("heartbeat_at")),
                    running,
                }
            })
            .collect())
    }

    async fn session_create(&self, p: SessionCreateParams) -> StoreResult<Session> {
        let row = sqlx::query(
            "INSERT INTO sessions (workspace_id, name, created_by, created_at) VALUES (?,?,?,?) \
             RETURNING id, workspace_id, name, created_by, created_at",
        )
        .bind(&p.workspace_id)
        .bind(&p.name)
        .bind(&p.actor)
        .bind(us(p.now))
        .fetch_one(&self.writer)
        .await
        .doing("creating a session")?;
        Ok(session_from_row(&row))
    }

    async fn session_get(&self, workspace_id: &str, id: i64) -> StoreResult<SessionWithRuns> {
        let row = sqlx::query("SELECT id, workspace_id, name, created_by, created_at FROM sessions WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a session")?
            .ok_or(StoreError::NotFound {
                what: "session",
                id: id.to_string(),
            })?;
        let runs = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE session_id = ? ORDER BY id"
        ))
        .bind(id)
        .fetch_all(&self.reader)
        .await
        .doing("reading a session's runs")?;
        let runs = runs.iter().map(run_from_row).collect::<StoreResult<_>>()?;
        Ok(SessionWithRuns::from_runs(session_from_row(&row), runs))
    }

    async fn audit_list(&self, workspace_id: &str, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, ts, actor, action, subject, details FROM audit_log WHERE workspace_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .doing("reading the audit log")?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get("id"),
                workspace_id: r.get("workspace_id"),
                ts: from_us(r.get("ts")),
                actor: r.get("actor"),
                action: r.get("action"),
                subject: r.get("subject"),
                details: parse_json(r.get("details")),
            })
            .collect())
    }

    async fn runs_count_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, count(*) FROM runs GROUP BY status")
            .fetch_all(&self.reader)
            .await
            .doing("counting runs")?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

fn parse_text<T: FromStr>(s: String) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| StoreError::Database {
        doing: "decoding a stored value",
        source: sqlx::Error::Decode(e.to_string().into()),
    })
}

fn parse_json(s: String) -> Value {
    serde_json::from_str(&s).unwrap_or(Value::Null)
}

fn opt_time(r: &SqliteRow, col: &str) -> Option<DateTime<Utc>> {
    r.get::<Option<i64>, _>(col).map(from_us)
}

fn run_from_row(r: &SqliteRow) -> StoreResult<Run> {
    Ok(Run {
        id: r.get("id"),
        workspace_id: r.get("workspace_id"),
        runbook: r.get("runbook"),
        env: r.get("env"),
        target: r.get("target"),
        params: parse_json(r.get("params")),
        text: r.get("text"),
        plan: parse_json(r.get("plan")),
        risk: r.get("risk"),
        status: parse_text::<RunStatus>(r.get("status"))?,
        priority: r.get("priority"),
        attempt: r.get("attempt"),
        max_attempts: r.get("max_attempts"),
        run_after: from_us(r.get("run_after")),
        session_id: r.get("session_id"),
        lane: r.get("lane"),
        lane_key: r.get("lane_key"),
        lock_key: r.get("lock_key"),
        idempotency_key: r.get("idempotency_key"),
        created_by: r.get("created_by"),
        approved_by: r.get("approved_by"),
        created_at: from_us(r.get("created_at")),
        started_at: opt_time(r, "started_at"),
        finished_at: opt_time(r, "finished_at"),
        worker_id: r.get("worker_id"),
        lease: r.get("lease"),
        heartbeat_at: opt_time(r, "heartbeat_at"),
        cancel_requested: r.get("cancel_requested"),
        timeout_secs: r.get("timeout_secs"),
        error: r.get("error"),
        phases: parse_json(r.get("phases")),
        last_seq: r.get("last_seq"),
    })
}

fn artifact_from_row(r: &SqliteRow) -> Artifact {
    Artifact {
        id: r.get("id"),
        run_id: r.get("run_id"),
        workspace_id: r.get("workspace_id"),
        kind: r.get("kind"),
        name: r.get("name"),
        content: r.get("content"),
        created_at: from_us(r.get("created_at")),
    }
}

fn session_from_row(r: &SqliteRow) -> Session {
    Session {
        id: r.get("id"),
        workspace_id: r.get("workspace_id"),
        name: r.get("name"),
        created_by: r.get("created_by"),
        created_at: from_us(r.get("created_at")),
    }
}
