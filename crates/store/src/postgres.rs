//! The PostgreSQL backend: claims with `FOR UPDATE SKIP LOCKED`, writes in
//! single statements (data-modifying CTEs) where it can, and wakeups through
//! LISTEN/NOTIFY with one listener connection per process.

use crate::rules::{batch_audit, check_batch, completion, created_event, Action, Rescue};
use crate::wakeups::{Wakeup, Wakeups};
use crate::*;
use chrono::{DateTime, Utc};
use opsroom_core::{Phase, RunStatus};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::mpsc;

const CHANNEL: &str = "opsroom";
/// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD: usize = 7900;
static NEXT_ORIGIN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init",
    include_str!("../migrations/postgres/0001_init.sql"),
)];

const RUN_COLUMNS: &str = "id, workspace_id, runbook, env, target, params, text, plan, risk, status, priority, attempt, \
     max_attempts, run_after, session_id, lane, lane_key, lock_key, idempotency_key, created_by, approved_by, \
     created_at, started_at, finished_at, worker_id, lease, heartbeat_at, cancel_requested, timeout_secs, error, \
     phases, last_seq";

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
            tokio::spawn(listen_loop(pool.clone(), wakeups.clone(), origin.clone())),
            tokio::spawn(notify_loop(pool.clone(), notify_rx, origin)),
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

    /// Tells this process at once and the other processes through NOTIFY.
    fn notify(&self, wakeup: Wakeup) {
        self.wakeups.send(wakeup);
        let _ = self.notify_tx.send(wakeup);
    }

    async fn fetch_run(&self, id: i64) -> StoreResult<Option<Run>> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .doing("reading a run")?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    async fn transition(&self, params: &RunActionParams, action: Action) -> StoreResult<Run> {
        let mut tx = self.pool.begin().await.doing("starting a transaction")?;
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 AND workspace_id = $2 FOR UPDATE"
        ))
        .bind(params.run_id)
        .bind(&params.workspace_id)
        .fetch_optional(&mut *tx)
        .await
        .doing("locking a run")?;
        let run = match row {
            Some(r) => run_from_row(&r)?,
            None => return Err(not_found(params.run_id)),
        };
        let change = match action.decide(&run, params) {
            Ok(c) => c,
            Err(e) => {
                // Release the row lock now, not whenever the pool reuses the connection.
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        let row = sqlx::query(&format!(
            "UPDATE runs SET status = $2, cancel_requested = $3, finished_at = $4, approved_by = COALESCE($5, approved_by), \
             error = COALESCE($6, error), last_seq = last_seq + 1, updated_by = $7 WHERE id = $1 RETURNING {RUN_COLUMNS}"
        ))
        .bind(run.id)
        .bind(change.status.as_str())
        .bind(change.cancel_requested)
        .bind(change.status.is_final().then_some(params.now))
        .bind(&change.approved_by)
        .bind(&change.error)
        .bind(&params.actor)
        .fetch_one(&mut *tx)
        .await
        .doing("updating a run")?;
        let updated = run_from_row(&row)?;
        insert_event(&mut tx, &updated, updated.last_seq, &change.event).await?;
        insert_audit(
            &mut tx,
            &updated.workspace_id,
            params.now,
            &params.actor,
            change.audit_action,
            &format!("run:{}", updated.id),
            &change.audit_details,
        )
        .await?;
        tx.commit().await.doing("committing a run change")?;
        self.notify(Wakeup::Run(updated.id));
        self.notify(Wakeup::RunsAvailable);
        Ok(updated)
    }
}

/// Applies one migration unless it already was; one migrator at a time
/// across processes (advisory lock held by the migration's transaction).
async fn apply_migration(pool: &PgPool, name: &str, sql: &str) -> StoreResult<bool> {
    let migration_err = |source| StoreError::Migration {
        name: name.to_string(),
        source,
    };
    let mut tx = pool.begin().await.doing("starting a migration")?;
    sqlx::query("SELECT pg_advisory_xact_lock(7300)")
        .execute(&mut *tx)
        .await
        .doing("locking migrations")?;
    sqlx::query("CREATE TABLE IF NOT EXISTS opsroom_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        .execute(&mut *tx)
        .await
        .doing("creating the migrations table")?;
    let done: Option<String> =
        sqlx::query_scalar("SELECT name FROM opsroom_migrations WHERE name = $1")
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
    sqlx::query("INSERT INTO opsroom_migrations (name) VALUES ($1)")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(migration_err)?;
    tx.commit().await.map_err(migration_err)?;
    Ok(true)
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        what: "run",
        id: id.to_string(),
    }
}

async fn insert_event(
    tx: &mut sqlx::PgConnection,
    run: &Run,
    seq: i64,
    event: &NewEvent,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(run.id)
    .bind(seq)
    .bind(&run.workspace_id)
    .bind(event.ts)
    .bind(event.level.as_str())
    .bind(event.phase.map(|p| p.as_str()))
    .bind(escape_nul(&event.message))
    .bind(escape_nul_json(&event.data).into_owned())
    .execute(&mut *tx)
    .await
    .doing("writing a run event")?;
    Ok(())
}

async fn insert_audit(
    tx: &mut sqlx::PgConnection,
    workspace_id: &str,
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: &str,
    details: &Value,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit_log (workspace_id, ts, actor, action, subject, details) VALUES ($1,$2,$3,$4,$5,$6)")
        .bind(workspace_id)
        .bind(now)
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(details)
        .execute(&mut *tx)
        .await
        .doing("writing the audit log")?;
    Ok(())
}

/// Column arrays for an UNNEST insert of events.
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

/// The INSERT half of "update the run, then write its events" statements:
/// expects a CTE `u` with `id, workspace_id, base`; the event columns are
/// bound as arrays at placeholders `$first..$first+4`.
fn insert_events_from_u(first: usize) -> String {
    let [a, b, c, d, e] = [first, first + 1, first + 2, first + 3, first + 4];
    format!(
        "INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data) \
         SELECT u.id, u.base + e.ord, u.workspace_id, e.ts, e.level, e.phase, e.message, e.data FROM u, \
         UNNEST(${a}::timestamptz[], ${b}::text[], ${c}::text[], ${d}::text[], ${e}::jsonb[]) \
         WITH ORDINALITY AS e(ts, level, phase, message, data, ord)"
    )
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> StoreResult<Vec<String>> {
        let mut applied = Vec::new();
        for (name, sql) in MIGRATIONS {
            if apply_migration(&self.pool, name, sql).await? {
                applied.push(name.to_string());
            }
        }
        Ok(applied)
    }

    fn wakeups(&self) -> &Wakeups {
        &self.wakeups
    }

    async fn run_insert(&self, p: RunInsertParams) -> StoreResult<(Run, bool)> {
        let lane_key = p.lane_key();
        // Without a lane the insert is one statement: no transaction needed.
        let mut tx = match &lane_key {
            Some(key) => {
                let mut tx = self.pool.begin().await.doing("starting a transaction")?;
                // Enqueues in one lane commit in id order, so lane order is enqueue order.
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .doing("locking a lane")?;
                Some(tx)
            }
            None => None,
        };
        let status = if p.needs_approval {
            RunStatus::AwaitingApproval
        } else {
            RunStatus::Queued
        };
        let created = created_event(&p, status);
        let sql = format!(
            "WITH r AS (INSERT INTO runs (workspace_id, runbook, env, target, params, text, plan, risk, status, priority, \
               max_attempts, run_after, session_id, lane, lane_key, lock_key, idempotency_key, created_by, created_at, \
               timeout_secs, last_seq, updated_by) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,1,$18) \
             ON CONFLICT (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
             RETURNING {RUN_COLUMNS}), \
             e AS (INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data) \
               SELECT id, 1, workspace_id, created_at, 'info', NULL, $21, $22 FROM r), \
             a AS (INSERT INTO audit_log (workspace_id, ts, actor, action, subject, details) \
               SELECT workspace_id, created_at, created_by, 'run.create', 'run:' || id, $23 FROM r) \
             SELECT {RUN_COLUMNS} FROM r"
        );
        let q = sqlx::query(&sql)
            .bind(&p.workspace_id)
            .bind(&p.runbook)
            .bind(&p.env)
            .bind(&p.target)
            .bind(&p.params)
            .bind(&p.text)
            .bind(&p.plan)
            .bind(&p.risk)
            .bind(status.as_str())
            .bind(p.priority)
            .bind(p.max_attempts)
            .bind(p.run_after.unwrap_or(p.now))
            .bind(p.session_id)
            .bind(&p.lane)
            .bind(&lane_key)
            .bind(&p.lock_key)
            .bind(&p.idempotency_key)
            .bind(&p.actor)
            .bind(p.now)
            .bind(p.timeout_secs)
            .bind(escape_nul(&created.message))
            .bind(escape_nul_json(&created.data).into_owned())
            .bind(json!({"runbook": p.runbook, "env": p.env, "target": p.target}));
        let row = match &mut tx {
            Some(tx) => q.fetch_optional(&mut **tx).await,
            None => q.fetch_optional(&self.pool).await,
        }
        .doing("inserting a run")?;
        if let Some(tx) = tx {
            tx.commit().await.doing("committing a new run")?;
        }
        let Some(row) = row else {
            // The idempotency key exists (ON CONFLICT waited for its insert
            // to commit): hand back that run.
            let row = sqlx::query(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = $1 AND idempotency_key = $2"
            ))
            .bind(&p.workspace_id)
            .bind(&p.idempotency_key)
            .fetch_one(&self.pool)
            .await
            .doing("reading the run of an idempotency key")?;
            return Ok((run_from_row(&row)?, false));
        };
        let run = run_from_row(&row)?;
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
        let mut tx = self.pool.begin().await.doing("starting a transaction")?;
        let lane_keys: Vec<Option<String>> = params.iter().map(|p| p.lane_key()).collect();
        let mut locks: Vec<&String> = lane_keys.iter().flatten().collect();
        locks.sort();
        locks.dedup();
        if !locks.is_empty() {
            // Sorted, so two batches never wait on each other's lanes crosswise.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM UNNEST($1::text[]) AS k ORDER BY k")
                .bind(locks)
                .execute(&mut *tx)
                .await
                .doing("locking lanes")?;
        }
        let statuses: Vec<RunStatus> = params
            .iter()
            .map(|p| {
                if p.needs_approval {
                    RunStatus::AwaitingApproval
                } else {
                    RunStatus::Queued
                }
            })
            .collect();
        let col = |f: &dyn Fn(&RunInsertParams) -> Option<String>| {
            params.iter().map(f).collect::<Vec<_>>()
        };
        let rows = sqlx::query(&format!(
            "INSERT INTO runs (workspace_id, runbook, env, target, params, text, plan, risk, status, priority, \
               max_attempts, run_after, session_id, lane, lane_key, lock_key, created_by, created_at, timeout_secs, \
               last_seq, updated_by) \
             SELECT ws, rb, env, tgt, prm, txt, pln, risk, st, prio, att, ra, sid, lane, lk, lck, actor, ca, tmo, 1, actor \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::jsonb[], $8::text[], \
               $9::text[], $10::int[], $11::int[], $12::timestamptz[], $13::bigint[], $14::text[], $15::text[], $16::text[], \
               $17::text[], $18::timestamptz[], $19::bigint[]) WITH ORDINALITY \
               AS t(ws, rb, env, tgt, prm, txt, pln, risk, st, prio, att, ra, sid, lane, lk, lck, actor, ca, tmo, ord) \
             ORDER BY ord RETURNING {RUN_COLUMNS}"
        ))
        .bind(col(&|p| Some(p.workspace_id.clone())))
        .bind(col(&|p| Some(p.runbook.clone())))
        .bind(col(&|p| p.env.clone()))
        .bind(col(&|p| p.target.clone()))
        .bind(params.iter().map(|p| p.params.clone()).collect::<Vec<_>>())
        .bind(col(&|p| p.text.clone()))
        .bind(params.iter().map(|p| p.plan.clone()).collect::<Vec<_>>())
        .bind(col(&|p| Some(p.risk.clone())))
        .bind(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        .bind(params.iter().map(|p| p.priority).collect::<Vec<_>>())
        .bind(params.iter().map(|p| p.max_attempts).collect::<Vec<_>>())
        .bind(params.iter().map(|p| p.run_after.unwrap_or(p.now)).collect::<Vec<_>>())
        .bind(params.iter().map(|p| p.session_id).collect::<Vec<_>>())
        .bind(col(&|p| p.lane.clone()))
        .bind(lane_keys.clone())
        .bind(col(&|p| p.lock_key.clone()))
        .bind(col(&|p| Some(p.actor.clone())))
        .bind(params.iter().map(|p| p.now).collect::<Vec<_>>())
        .bind(params.iter().map(|p| p.timeout_secs).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await
        .doing("inserting runs")?;
        let mut runs: Vec<Run> = rows.iter().map(run_from_row).collect::<StoreResult<_>>()?;
        // Ids come from the sequence in input order.
        runs.sort_by_key(|r| r.id);
        let created: Vec<NewEvent> = params
            .iter()
            .zip(&statuses)
            .map(|(p, s)| created_event(p, *s))
            .collect();
        let cols = EventColumns::from(&created);
        sqlx::query(
            "INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data) \
             SELECT id, 1, ws, ts, lvl, ph, msg, dat FROM UNNEST($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], \
               $5::text[], $6::text[], $7::jsonb[]) AS t(id, ws, ts, lvl, ph, msg, dat)",
        )
        .bind(runs.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.workspace_id.clone()).collect::<Vec<_>>())
        .bind(cols.ts)
        .bind(cols.level)
        .bind(cols.phase)
        .bind(cols.message)
        .bind(cols.data)
        .execute(&mut *tx)
        .await
        .doing("writing created events")?;
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
            self.notify(Wakeup::Run(run.id));
        }
        self.notify(Wakeup::RunsAvailable);
        Ok(runs)
    }

    async fn run_get(&self, workspace_id: &str, id: i64) -> StoreResult<Run> {
        match self.fetch_run(id).await? {
            Some(run) if run.workspace_id == workspace_id => Ok(run),
            _ => Err(not_found(id)),
        }
    }

    async fn run_list(&self, p: RunListParams) -> StoreResult<Vec<Run>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = $1 \
             AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR env = $3) \
             AND ($4::text IS NULL OR runbook = $4) AND ($5::bigint IS NULL OR id < $5) \
             AND ($6::bigint IS NULL OR session_id = $6) ORDER BY id DESC LIMIT $7"
        ))
        .bind(&p.workspace_id)
        .bind(p.status.map(|s| s.as_str()))
        .bind(&p.env)
        .bind(&p.runbook)
        .bind(p.before)
        .bind(p.session_id)
        .bind(p.limit)
        .fetch_all(&self.pool)
        .await
        .doing("listing runs")?;
        rows.iter().map(run_from_row).collect()
    }

    async fn run_claim(&self, p: RunClaimParams) -> StoreResult<Vec<Run>> {
        // One statement, so one round trip and one commit: the attempt's
        // first event is built here as `rules::attempt_started_event` builds
        // it for SQLite (the conformance suite holds the two to the same text).
        let sql = format!(
            "WITH cand AS ( \
               SELECT r.id FROM runs r WHERE r.status = 'queued' AND r.run_after <= $1 \
               AND {KEYS_FREE} \
               ORDER BY r.priority DESC, r.id LIMIT $2 FOR UPDATE SKIP LOCKED), \
             u AS (UPDATE runs SET status = 'running', attempt = attempt + 1, lease = lease + 1, worker_id = $3, \
               heartbeat_at = $1, started_at = COALESCE(started_at, $1), updated_by = $3, last_seq = last_seq + 1 \
               FROM cand WHERE runs.id = cand.id RETURNING {}), \
             ins AS (INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data) \
               SELECT id, last_seq, workspace_id, $1, 'info', NULL, \
                 'attempt ' || attempt || ' of ' || max_attempts || ' started on worker ' || $3, \
                 jsonb_build_object('kind', 'attempt_start', 'attempt', attempt, 'worker_id', $3::text) FROM u) \
             SELECT {RUN_COLUMNS} FROM u",
            prefixed_run_columns("runs")
        );
        let rows = sqlx::query(&sql)
            .bind(p.now)
            .bind(p.limit)
            .bind(&p.worker_id)
            .fetch_all(&self.pool)
            .await
            .doing("claiming runs")?;
        let mut runs: Vec<Run> = rows.iter().map(run_from_row).collect::<StoreResult<_>>()?;
        runs.sort_by_key(|r| (-r.priority, r.id));
        for r in &runs {
            self.notify(Wakeup::Run(r.id));
        }
        Ok(runs)
    }

    async fn events_append(&self, p: EventsAppendParams) -> StoreResult<i64> {
        let n = p.events.len() as i64;
        let cols = EventColumns::from(&p.events);
        let sql = format!(
            "WITH u AS (UPDATE runs SET last_seq = last_seq + $2, phases = COALESCE($3, phases) \
               WHERE id = $1 AND ($4::bigint IS NULL OR (lease = $4 AND status = 'running')) \
               RETURNING id, workspace_id, last_seq - $2 AS base, last_seq), \
             ins AS ({}) SELECT last_seq FROM u",
            insert_events_from_u(5)
        );
        let row = sqlx::query(&sql)
            .bind(p.run_id)
            .bind(n)
            .bind(&p.phases)
            .bind(p.fence.map(|f| f.lease))
            .bind(cols.ts)
            .bind(cols.level)
            .bind(cols.phase)
            .bind(cols.message)
            .bind(cols.data);
        let row = row
            .fetch_optional(&self.pool)
            .await
            .doing("appending run events")?;
        match row {
            Some(r) => {
                self.notify(Wakeup::Run(p.run_id));
                Ok(r.get::<i64, _>(0))
            }
            None if p.fence.is_some() => Err(StoreError::LeaseLost { run_id: p.run_id }),
            None => Err(not_found(p.run_id)),
        }
    }

    async fn runs_complete(
        &self,
        mut params: Vec<RunCompleteParams>,
    ) -> StoreResult<Vec<StoreResult<Run>>> {
        // Rows are locked in id order, as heartbeats lock them, so two
        // writers of the same runs never deadlock.
        let mut order: Vec<usize> = (0..params.len()).collect();
        order.sort_by_key(|&i| params[i].run_id);
        let mut results: Vec<Option<StoreResult<Run>>> = params.iter().map(|_| None).collect();
        let mut d = CompleteColumns::default();
        let mut events = Vec::new();
        for i in order {
            let p = &mut params[i];
            let (status, finished_at) = match completion(p) {
                Ok(decided) => decided,
                Err(e) => {
                    results[i] = Some(Err(e));
                    continue;
                }
            };
            d.id.push(p.run_id);
            d.lease.push(p.fence.lease);
            d.status.push(status.as_str());
            d.finished_at.push(finished_at);
            d.run_after.push(p.retry_at);
            d.error
                .push(p.error.take().map(|e| escape_nul(&e).into_owned()));
            d.n.push(p.events.len() as i64);
            d.phases.push(p.phases.take());
            for (ord, e) in std::mem::take(&mut p.events).into_iter().enumerate() {
                d.event_run.push(p.run_id);
                d.event_ord.push(ord as i64 + 1);
                events.push(e);
            }
        }
        if !d.id.is_empty() {
            let cols = EventColumns::from(&events);
            let sql = format!(
                "WITH d AS (SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[],                    $5::timestamptz[], $6::text[], $7::bigint[], $8::jsonb[])                    AS d(id, lease, status, finished_at, run_after, error, n, phases)),                  u AS (UPDATE runs SET status = d.status, finished_at = d.finished_at,                    run_after = COALESCE(d.run_after, runs.run_after), error = d.error,                    last_seq = runs.last_seq + d.n, phases = COALESCE(d.phases, runs.phases),                    worker_id = CASE WHEN d.status = 'queued' THEN NULL ELSE runs.worker_id END,                    updated_by = COALESCE(runs.worker_id, 'system')                    FROM d WHERE runs.id = d.id AND runs.lease = d.lease AND runs.status = 'running'                    RETURNING {}, runs.last_seq - d.n AS base),                  ins AS (INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data)                    SELECT u.id, u.base + e.ord, u.workspace_id, e.ts, e.level, e.phase, e.message, e.data                    FROM UNNEST($9::bigint[], $10::bigint[], $11::timestamptz[], $12::text[], $13::text[],                      $14::text[], $15::jsonb[]) AS e(run_id, ord, ts, level, phase, message, data)                    JOIN u ON u.id = e.run_id)                  SELECT {RUN_COLUMNS} FROM u",
                prefixed_run_columns("runs")
            );
            let rows = sqlx::query(&sql)
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
                .fetch_all(&self.pool)
                .await
                .doing("completing runs")?;
            let mut done = std::collections::HashMap::with_capacity(rows.len());
            let mut frees = false;
            for row in &rows {
                let run = run_from_row(row)?;
                self.notify(Wakeup::Run(run.id));
                frees |= run.frees_queued_runs();
                done.insert(run.id, run);
            }
            if frees {
                self.notify(Wakeup::RunsAvailable);
            }
            for (p, result) in params.iter().zip(results.iter_mut()) {
                if result.is_none() {
                    *result = Some(
                        done.remove(&p.run_id)
                            .ok_or(StoreError::LeaseLost { run_id: p.run_id }),
                    );
                }
            }
        }
        Ok(results.into_iter().flatten().collect())
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
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' AND heartbeat_at < $1"
        ))
        .bind(p.stale_before)
        .fetch_all(&self.pool)
        .await
        .doing("finding runs of dead workers")?;
        let mut rescued = Vec::new();
        for row in rows {
            let stale = run_from_row(&row)?;
            let r = Rescue::decide(&stale, &p);
            let cols = EventColumns::from(std::slice::from_ref(&r.event));
            let sql = format!(
                "WITH u AS (UPDATE runs SET status = $2, finished_at = $3, run_after = $4, error = $5, \
                   last_seq = last_seq + 1, worker_id = CASE WHEN $2 = 'queued' THEN NULL ELSE worker_id END, updated_by = 'rescuer' \
                   WHERE id = $1 AND lease = $6 AND status = 'running' AND heartbeat_at < $7 \
                   RETURNING {RUN_COLUMNS}, last_seq - 1 AS base), \
                 ins AS ({}) SELECT {RUN_COLUMNS} FROM u",
                insert_events_from_u(8)
            );
            let q = sqlx::query(&sql)
                .bind(stale.id)
                .bind(r.status.as_str())
                .bind(r.status.is_final().then_some(p.now))
                .bind(r.run_after)
                .bind(&r.error)
                .bind(stale.lease)
                .bind(p.stale_before)
                .bind(cols.ts)
                .bind(cols.level)
                .bind(cols.phase)
                .bind(cols.message)
                .bind(cols.data);
            // The worker may have heartbeated or finished meanwhile: then nothing changes.
            if let Some(row) = q.fetch_optional(&self.pool).await.doing("rescuing a run")? {
                self.notify(Wakeup::Run(stale.id));
                rescued.push(run_from_row(&row)?);
            }
        }
        if !rescued.is_empty() {
            self.notify(Wakeup::RunsAvailable);
        }
        Ok(rescued)
    }

    async fn events_list(&self, run_id: i64, after: i64, limit: i64) -> StoreResult<Vec<RunEvent>> {
        let rows = sqlx::query(
            "SELECT run_id, seq, ts, level, phase, message, data FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .doing("reading run events")?;
        rows.iter()
            .map(|r| {
                Ok(RunEvent {
                    run_id: r.get("run_id"),
                    seq: r.get("seq"),
                    ts: r.get("ts"),
                    level: parse_text(r.get("level"))?,
                    phase: r
                        .get::<Option<String>, _>("phase")
                        .map(parse_text::<Phase>)
                        .transpose()?,
                    message: r.get("message"),
                    data: r.get("data"),
                })
            })
            .collect()
    }

    async fn artifact_insert(&self, p: ArtifactInsertParams) -> StoreResult<Artifact> {
        let row = sqlx::query(
            "INSERT INTO artifacts (run_id, workspace_id, kind, name, content, created_at, created_by) \
             SELECT id, workspace_id, $3, $4, $5, $6, COALESCE(worker_id, 'system') FROM runs \
             WHERE id = $1 AND ($2::bigint IS NULL OR (lease = $2 AND status = 'running')) \
             RETURNING id, run_id, workspace_id, kind, name, content, created_at",
        )
        .bind(p.run_id)
        .bind(p.fence.map(|f| f.lease))
        .bind(escape_nul(&p.kind))
        .bind(escape_nul(&p.name))
        .bind(escape_nul(&p.content))
        .bind(p.now)
        .fetch_optional(&self.pool)
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
             WHERE workspace_id = $1 AND run_id = $2 ORDER BY id",
        )
        .bind(workspace_id)
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .doing("listing artifacts")?;
        Ok(rows.iter().map(artifact_from_row).collect())
    }

    async fn worker_heartbeat(&self, p: WorkerHeartbeatParams) -> StoreResult<Vec<i64>> {
        sqlx::query(
            "INSERT INTO workers (id, host, pid, state, concurrency, started_at, heartbeat_at) VALUES ($1,$2,$3,$4,$5,$6,$6) \
             ON CONFLICT (id) DO UPDATE SET state = $4, heartbeat_at = $6",
        )
        .bind(&p.worker_id)
        .bind(&p.host)
        .bind(p.pid)
        .bind(&p.state)
        .bind(p.concurrency)
        .bind(p.now)
        .execute(&self.pool)
        .await
        .doing("recording a worker heartbeat")?;
        let rows = sqlx::query(
            "UPDATE runs SET heartbeat_at = $2 WHERE id IN (SELECT id FROM runs WHERE worker_id = $1 AND status = 'running' \
               AND id = ANY($3) ORDER BY id FOR UPDATE) RETURNING id, cancel_requested",
        )
        .bind(&p.worker_id)
        .bind(p.now)
        .bind(&p.running)
        .fetch_all(&self.pool)
        .await
        .doing("extending run leases")?;
        Ok(rows
            .iter()
            .filter(|r| r.get::<bool, _>(1))
            .map(|r| r.get::<i64, _>(0))
            .collect())
    }

    async fn workers_list(&self) -> StoreResult<Vec<Worker>> {
        let rows = sqlx::query(
            "SELECT w.id, w.host, w.pid, w.state, w.concurrency, w.started_at, w.heartbeat_at, \
               COALESCE(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') AS running \
             FROM workers w LEFT JOIN runs r ON r.worker_id = w.id AND r.status = 'running' \
             GROUP BY w.id ORDER BY w.heartbeat_at DESC",
        )
        .fetch_all(&self.pool)
        .await
        .doing("listing workers")?;
        Ok(rows
            .iter()
            .map(|r| Worker {
                id: r.get("id"),
                host: r.get("host"),
                pid: r.get("pid"),
                state: r.get("state"),
                concurrency: r.get("concurrency"),
                started_at: r.get("started_at"),
                heartbeat_at: r.get("heartbeat_at"),
                running: r.get("running"),
            })
            .collect())
    }

    async fn session_create(&self, p: SessionCreateParams) -> StoreResult<Session> {
        let row = sqlx::query(
            "INSERT INTO sessions (workspace_id, name, created_by, created_at) VALUES ($1,$2,$3,$4) \
             RETURNING id, workspace_id, name, created_by, created_at",
        )
        .bind(&p.workspace_id)
        .bind(&p.name)
        .bind(&p.actor)
        .bind(p.now)
        .fetch_one(&self.pool)
        .await
        .doing("creating a session")?;
        Ok(session_from_row(&row))
    }

    async fn session_get(&self, workspace_id: &str, id: i64) -> StoreResult<SessionWithRuns> {
        let row = sqlx::query(
            "SELECT id, workspace_id, name, created_by, created_at FROM sessions WHERE id = $1 AND workspace_id = $2",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await
        .doing("reading a session")?
        .ok_or(StoreError::NotFound {
            what: "session",
            id: id.to_string(),
        })?;
        let runs = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE session_id = $1 ORDER BY id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .doing("reading a session's runs")?;
        let runs = runs.iter().map(run_from_row).collect::<StoreResult<_>>()?;
        Ok(SessionWithRuns::from_runs(session_from_row(&row), runs))
    }

    async fn audit_list(&self, workspace_id: &str, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, ts, actor, action, subject, details FROM audit_log WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .doing("reading the audit log")?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get("id"),
                workspace_id: r.get("workspace_id"),
                ts: r.get("ts"),
                actor: r.get("actor"),
                action: r.get("action"),
                subject: r.get("subject"),
                details: r.get("details"),
            })
            .collect())
    }

    async fn runs_count_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, count(*) FROM runs GROUP BY status")
            .fetch_all(&self.pool)
            .await
            .doing("counting runs")?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

fn prefixed_run_columns(table: &str) -> String {
    RUN_COLUMNS
        .split(", ")
        .map(|c| format!("{table}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
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

fn run_from_row(r: &PgRow) -> StoreResult<Run> {
    Ok(Run {
        id: r.get("id"),
        workspace_id: r.get("workspace_id"),
        runbook: r.get("runbook"),
        env: r.get("env"),
        target: r.get("target"),
        params: r.get("params"),
        text: r.get("text"),
        plan: r.get("plan"),
        risk: r.get("risk"),
        status: parse_text::<RunStatus>(r.get("status"))?,
        priority: r.get("priority"),
        attempt: r.get("attempt"),
        max_attempts: r.get("max_attempts"),
        run_after: r.get("run_after"),
        session_id: r.get("session_id"),
        lane: r.get("lane"),
        lane_key: r.get("lane_key"),
        lock_key: r.get("lock_key"),
        idempotency_key: r.get("idempotency_key"),
        created_by: r.get("created_by"),
        approved_by: r.get("approved_by"),
        created_at: r.get("created_at"),
        started_at: r.get("started_at"),
        finished_at: r.get("finished_at"),
        worker_id: r.get("worker_id"),
        lease: r.get("lease"),
        heartbeat_at: r.get("heartbeat_at"),
        cancel_requested: r.get("cancel_requested"),
        timeout_secs: r.get("timeout_secs"),
        error: r.get("error"),
        phases: r.get("phases"),
        last_seq: r.get("last_seq"),
    })
}

fn artifact_from_row(r: &PgRow) -> Artifact {
    Artifact {
        id: r.get("id"),
        run_id: r.get("run_id"),
        workspace_id: r.get("workspace_id"),
        kind: r.get("kind"),
        name: r.get("name"),
        content: r.get("content"),
        created_at: r.get("created_at"),
    }
}

fn session_from_row(r: &PgRow) -> Session {
    Session {
        id: r.get("id"),
        workspace_id: r.get("workspace_id"),
        name: r.get("name"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
    }
}

/// Receives NOTIFYs from every process and fans them out in this one.
async fn listen_loop(pool: PgPool, wakeups: Wakeups, origin: String) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "event listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Anything sent while we were not listening is lost: everyone re-reads.
        wakeups.send(Wakeup::Everything);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    for w in decode_payload(&origin, n.payload()) {
                        wakeups.send(w);
                    }
                }
                Ok(None) => {
                    tracing::warn!("event listener lost its connection; reconnecting");
                    wakeups.send(Wakeup::Everything);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Sends this process's wakeups to the others, coalescing whatever piled up
/// since the last NOTIFY into as few payloads as fit.
async fn notify_loop(pool: PgPool, mut rx: mpsc::UnboundedReceiver<Wakeup>, origin: String) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 4096).await > 0 {
        for payload in encode_payloads(&origin, &batch) {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&payload)
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "NOTIFY failed; listeners fall back to polling");
            }
        }
        batch.clear();
    }
}

/// Payload format: the sender's origin tag, `:`, then `q` (runs
/// available), `*` (everything) or run ids, comma separated.
fn encode_payloads(origin: &str, batch: &[Wakeup]) -> Vec<String> {
    let mut ids: Vec<i64> = batch
        .iter()
        .filter_map(|w| match w {
            Wakeup::Run(id) => Some(*id),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut parts: Vec<String> = Vec::new();
    if batch.contains(&Wakeup::Everything) {
        parts.push("*".into());
    }
    if batch.contains(&Wakeup::RunsAvailable) {
        parts.push("q".into());
    }
    parts.extend(ids.iter().map(i64::to_string));
    let head = format!("{origin}:");
    let mut payloads = Vec::new();
    let mut current = head.clone();
    for part in parts {
        if current.len() + part.len() + 1 > MAX_PAYLOAD {
            payloads.push(std::mem::replace(&mut current, head.clone()));
        }
        if current.len() > head.len() {
            current.push(',');
        }
        current.push_str(&part);
    }
    if current.len() > head.len() {
        payloads.push(current);
    }
    payloads
}

/// The wakeups in another store's payload; nothing for this store's own.
fn decode_payload(origin: &str, payload: &str) -> Vec<Wakeup> {
    let body = match payload.split_once(':') {
        Some((from, _)) if from == origin => return Vec::new(),
        Some((_, body)) => body,
        None => payload,
    };
    body.split(',')
        .filter_map(|part| match part {
            "q" => Some(Wakeup::RunsAvailable),
            "*" => Some(Wakeup::Everything),
            id => id.parse().ok().map(Wakeup::Run),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_small() {
        let mut batch: Vec<Wakeup> = (0..5000).map(Wakeup::Run).collect();
        batch.push(Wakeup::RunsAvailable);
        batch.push(Wakeup::Run(7));
        let payloads = encode_payloads("a1", &batch);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let decoded: Vec<Wakeup> = payloads
            .iter()
            .flat_map(|p| decode_payload("b2", p))
            .collect();
        assert_eq!(
            decoded
                .iter()
                .filter(|w| matches!(w, Wakeup::Run(_)))
                .count(),
            5000
        );
        assert!(decoded.contains(&Wakeup::RunsAvailable));
        assert!(
            payloads.iter().all(|p| decode_payload("a1", p).is_empty()),
            "a store ignores its own notifications"
        );
        assert_eq!(
            decode_payload("b2", &encode_payloads("a1", &[Wakeup::Everything])[0]),
            vec![Wakeup::Everything]
        );
    }
}
