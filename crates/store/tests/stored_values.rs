//! A stored value that cannot be read back is the same error on both
//! backends: the row types of each are converted by one `TryFrom`, so corrupt
//! JSON, a time out of range or an unknown status, risk, lane, artifact kind
//! or worker state is `StoreError::Corrupt` naming the row and the column,
//! never a default value or a panic.

use chrono::{TimeZone, Utc};
use opsroom_store::testing::TestStore;
use opsroom_store::*;

async fn inserted_run(t: &TestStore) -> Run {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    t.store
        .run_insert(RunInsertParams::new("noop", now))
        .await
        .unwrap()
        .0
}

/// Asserts that reading the run fails with `Corrupt` for `column`, both by
/// id and in a list.
async fn assert_run_corrupt(t: &TestStore, run: &Run, column: &str) {
    let expected = format!("run {}", run.id);
    for result in [
        t.store.run_get(DEFAULT_WORKSPACE, run.id).await.map(|_| ()),
        t.store
            .run_list(RunListParams {
                workspace_id: DEFAULT_WORKSPACE.into(),
                limit: 10,
                ..Default::default()
            })
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(StoreError::Corrupt {
                what, column: c, ..
            }) => {
                assert_eq!(
                    (what.as_str(), c),
                    (expected.as_str(), column),
                    "{}",
                    t.backend()
                )
            }
            other => panic!(
                "{}: expected a corrupt {column}, got {other:?}",
                t.backend()
            ),
        }
    }
}

async fn unknown_status(t: TestStore) {
    let run = inserted_run(&t).await;
    let sql = match t.backend() {
        // The CHECK constraint keeps a bad status out; the test needs one in.
        "sqlite" => format!(
            "PRAGMA ignore_check_constraints = ON; UPDATE runs SET status = 'paused' WHERE id = {}",
            run.id
        ),
        _ => format!(
            "ALTER TABLE runs DROP CONSTRAINT runs_status_check; UPDATE runs SET status = 'paused' WHERE id = {}",
            run.id
        ),
    };
    t.execute(&sql).await;
    assert_run_corrupt(&t, &run, "status").await;
    t.cleanup().await;
}

async fn time_out_of_range(t: TestStore) {
    let run = inserted_run(&t).await;
    let bad = match t.backend() {
        "sqlite" => "9223372036854775807",
        _ => "'infinity'",
    };
    t.execute(&format!(
        "UPDATE runs SET created_at = {bad} WHERE id = {}",
        run.id
    ))
    .await;
    assert_run_corrupt(&t, &run, "created_at").await;
    t.cleanup().await;
}

async fn unknown_event_level(t: TestStore) {
    let run = inserted_run(&t).await;
    t.execute(&format!(
        "UPDATE run_events SET level = 'loud' WHERE run_id = {}",
        run.id
    ))
    .await;
    let result = t
        .store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, run.id, 10))
        .await;
    match result {
        Err(StoreError::Corrupt { what, column, .. }) => {
            assert_eq!(what, format!("event 1 of run {}", run.id));
            assert_eq!(column, "level");
        }
        other => panic!("{}: expected a corrupt level, got {other:?}", t.backend()),
    }
    t.cleanup().await;
}

async fn unknown_risk_and_lane(t: TestStore) {
    for (column, bad) in [("risk", "risky"), ("lane", "E")] {
        let run = inserted_run(&t).await;
        t.execute(&format!(
            "UPDATE runs SET {column} = '{bad}' WHERE id = {}",
            run.id
        ))
        .await;
        assert_run_corrupt(&t, &run, column).await;
        t.execute(&format!("DELETE FROM runs WHERE id = {}", run.id))
            .await;
    }
    t.cleanup().await;
}

async fn unknown_artifact_kind(t: TestStore) {
    let run = inserted_run(&t).await;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let a = t
        .store
        .artifact_insert(ArtifactInsertParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            run_id: run.id,
            fence: None,
            kind: ArtifactKind::Markdown,
            name: "a.md".into(),
            content: "x".into(),
            now,
        })
        .await
        .unwrap();
    t.execute(&format!(
        "UPDATE artifacts SET kind = 'video' WHERE id = {}",
        a.id
    ))
    .await;
    match t.store.artifacts_list(DEFAULT_WORKSPACE, run.id).await {
        Err(StoreError::Corrupt { what, column, .. }) => {
            assert_eq!((what, column), (format!("artifact {}", a.id), "kind"));
        }
        other => panic!("{}: expected a corrupt kind, got {other:?}", t.backend()),
    }
    t.cleanup().await;
}

async fn unknown_worker_state(t: TestStore) {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    t.store
        .worker_heartbeat(WorkerHeartbeatParams {
            worker_id: "w1".into(),
            host: "h".into(),
            pid: 1,
            state: WorkerState::Idle,
            concurrency: 1,
            running: vec![],
            now,
        })
        .await
        .unwrap();
    t.execute("UPDATE workers SET state = 'dreaming' WHERE id = 'w1'")
        .await;
    match t.store.workers_list().await {
        Err(StoreError::Corrupt { what, column, .. }) => {
            assert_eq!((what.as_str(), column), ("worker w1", "state"));
        }
        other => panic!("{}: expected a corrupt state, got {other:?}", t.backend()),
    }
    t.cleanup().await;
}

/// PostgreSQL's `jsonb` cannot hold corrupt JSON; SQLite's text can, and
/// it is an error there too (not `null`).
#[tokio::test]
async fn corrupt_json_is_an_error_on_sqlite() {
    let t = TestStore::sqlite().await;
    let run = inserted_run(&t).await;
    t.execute(&format!(
        "UPDATE runs SET params = '{{\"half\": ' WHERE id = {}",
        run.id
    ))
    .await;
    assert_run_corrupt(&t, &run, "params").await;
    t.cleanup().await;
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite { $(
            #[tokio::test]
            async fn $name() {
                super::$name(opsroom_store::testing::TestStore::sqlite().await).await;
            }
        )* }
        mod postgres { $(
            #[tokio::test]
            async fn $name() {
                super::$name(opsroom_store::testing::TestStore::postgres().await).await;
            }
        )* }
    };
}

on_both!(
    unknown_status,
    time_out_of_range,
    unknown_event_level,
    unknown_risk_and_lane,
    unknown_artifact_kind,
    unknown_worker_state
);
