//! PostgreSQL row locks: a run another table references (notices,
//! deliveries, events) is locked FOR NO KEY UPDATE by the store, never FOR
//! UPDATE, which conflicts with the KEY SHARE lock every foreign-key check
//! takes. With FOR UPDATE a heartbeat waited behind a notification fan-out
//! inserting deliveries for the same runs, and the two could deadlock
//! (migration 0008_row_locks).

use chrono::{DateTime, TimeZone, Utc};
use opsroom_store::testing::TestStore;
use opsroom_store::*;
use sqlx::{Connection, PgConnection};
use std::time::Duration;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// Far longer than any of these statements takes unblocked; reached only
/// when the statement waits for the test's open transaction.
const BLOCKED: Duration = Duration::from_secs(20);

/// Begins a transaction holding KEY SHARE on the runs, as a foreign-key
/// check of an insert into a referencing table does.
async fn key_share(url: &str, ids: &[RunId]) -> PgConnection {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    let ids: Vec<i64> = ids.iter().map(|r| r.0).collect();
    sqlx::query("SELECT id FROM runs WHERE id = ANY($1) FOR KEY SHARE")
        .bind(&ids)
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn
}

#[tokio::test]
async fn heartbeats_claims_and_transitions_do_not_wait_for_foreign_key_checks() {
    let t = TestStore::postgres().await;
    let store = &t.store;
    let (running, _) = store
        .run_insert(RunInsertParams::new("noop", t0()))
        .await
        .unwrap();
    let claimed = store
        .run_claim(RunClaimParams {
            worker_id: "w".into(),
            limit: 1,
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!(claimed[0].id, running.id);
    let (queued, _) = store
        .run_insert(RunInsertParams::new("noop", t0()))
        .await
        .unwrap();

    let mut held = key_share(&t.url, &[running.id, queued.id]).await;

    let heartbeat = store.worker_heartbeat(WorkerHeartbeatParams {
        worker_id: "w".into(),
        host: "h".into(),
        pid: 1,
        state: WorkerState::Busy,
        concurrency: 2,
        running: vec![running.id],
        now: t0(),
    });
    tokio::time::timeout(BLOCKED, heartbeat)
        .await
        .expect("the heartbeat waited for a KEY SHARE lock: its lease extension locks FOR UPDATE")
        .unwrap();

    let claim = store.run_claim(RunClaimParams {
        worker_id: "w".into(),
        limit: 1,
        now: t0(),
    });
    let second = tokio::time::timeout(BLOCKED, claim).await.unwrap().unwrap();
    assert_eq!(
        second.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![queued.id],
        "a run under KEY SHARE was skipped by the claim's SKIP LOCKED"
    );

    let cancel = store.run_cancel(RunActionParams {
        workspace_id: running.workspace_id.clone(),
        run_id: running.id,
        actor: "ana".into(),
        reason: None,
        source: None,
        allow_self: false,
        now: t0(),
    });
    tokio::time::timeout(BLOCKED, cancel)
        .await
        .expect("a transition waited for a KEY SHARE lock: run_for_update.sql locks FOR UPDATE")
        .unwrap();

    sqlx::query("ROLLBACK").execute(&mut held).await.unwrap();
    drop(held);
    t.cleanup().await;
}
