//! The engine end to end on both stores: five phases, failures, retries with
//! an injected clock, cancel, shutdown release, fencing and healthchecks.

use chrono::{Duration, TimeZone, Utc};
use opsroom_core::{Phase, RunStatus};
use opsroom_engine::config::OpsConfig;
use opsroom_engine::{Clock, Engine, ManualClock, WorkerOptions, WorkerPool};
use opsroom_store::*;
use serde_json::{json, Value};
use std::sync::Arc;

fn engine(store: &DynStore, config: OpsConfig) -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    ));
    (
        Engine::new(store.clone(), config).with_clock(clock.clone()),
        clock,
    )
}

fn worker(engine: &Engine) -> WorkerPool {
    WorkerPool::new(
        engine.clone(),
        WorkerOptions {
            concurrency: 4,
            heartbeat_interval: std::time::Duration::from_millis(100),
            ..Default::default()
        },
    )
}

async fn enqueue(
    engine: &Engine,
    runbook: &str,
    env: Option<&str>,
    params: Value,
    max_attempts: i32,
) -> Run {
    let mut p = RunInsertParams::new(runbook, engine.clock.now());
    p.env = env.map(String::from);
    p.params = params;
    p.max_attempts = max_attempts;
    engine.store.run_insert(p).await.unwrap().0
}

async fn events(store: &DynStore, id: RunId) -> Vec<RunEvent> {
    let evs = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, id, 10_000))
        .await
        .unwrap();
    let seqs: Vec<i64> = evs.iter().map(|e| e.seq.0).collect();
    assert_eq!(
        seqs,
        (1..=evs.len() as i64).collect::<Vec<_>>(),
        "seq contiguous from 1"
    );
    evs
}

fn kinds(evs: &[RunEvent], kind: &str) -> Vec<Option<Phase>> {
    evs.iter()
        .filter(|e| e.data["kind"] == kind)
        .map(|e| e.phase)
        .collect()
}

async fn five_phases_in_order(store: DynStore) {
    let (engine, _) = engine(&store, OpsConfig::default());
    let run = enqueue(&engine, "noop", None, json!({"events": 12}), 1).await;
    assert_eq!(worker(&engine).run_batch().await, 1);
    let done = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    let evs = events(&store, run.id).await;
    let all: Vec<Option<Phase>> = Phase::ALL.iter().map(|p| Some(*p)).collect();
    assert_eq!(kinds(&evs, "phase_start"), all);
    assert_eq!(kinds(&evs, "phase_end"), all);
    assert_eq!(
        evs.iter()
            .filter(|e| e.message.starts_with("noop event"))
            .count(),
        12
    );
    assert!(evs
        .iter()
        .all(|e| e.data["kind"] != "phase_end" || e.data["duration_ms"].is_i64()));
    let phases = done.phases.as_array().unwrap();
    assert_eq!(phases.len(), 5);
    assert!(
        phases.iter().all(|p| p["status"] == "succeeded"),
        "{phases:?}"
    );
    assert!(evs.last().unwrap().message.starts_with("run succeeded"));
}

async fn failed_phase_skips_to_summarize(store: DynStore) {
    let (engine, _) = engine(&store, OpsConfig::default());
    let run = enqueue(&engine, "noop", None, json!({"fail_phase": "preflight"}), 1).await;
    worker(&engine).run_batch().await;
    let done = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(done.status, RunStatus::Failed);
    assert!(
        done.error
            .as_deref()
            .unwrap()
            .contains("phase preflight failed"),
        "{:?}",
        done.error
    );
    let evs = events(&store, run.id).await;
    assert_eq!(
        kinds(&evs, "phase_skipped"),
        vec![Some(Phase::Action), Some(Phase::Verify)]
    );
    assert_eq!(
        kinds(&evs, "phase_start").last(),
        Some(&Some(Phase::Summarize)),
        "summarize always runs"
    );
    let statuses: Vec<&str> = done
        .phases
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["succeeded", "failed", "skipped", "skipped", "succeeded"]
    );
}

async fn retries_back_off_on_the_injected_clock(store: DynStore) {
    let (engine, clock) = engine(&store, OpsConfig::default());
    let run = enqueue(&engine, "noop", None, json!({"fail_phase": "action"}), 3).await;
    let w = worker(&engine);
    assert_eq!(w.run_batch().await, 1);
    let r = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!((r.status, r.attempt), (RunStatus::Queued, 1));
    assert_eq!(r.run_after, clock.now() + Duration::seconds(2));
    assert_eq!(w.run_batch().await, 0, "not before the backoff");
    clock.advance(Duration::seconds(2));
    assert_eq!(w.run_batch().await, 1);
    let r = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!((r.status, r.attempt), (RunStatus::Queued, 2));
    assert_eq!(
        r.run_after,
        clock.now() + Duration::seconds(4),
        "backoff doubles"
    );
    clock.advance(Duration::seconds(4));
    assert_eq!(w.run_batch().await, 1);
    let r = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(
        (r.status, r.attempt),
        (RunStatus::Failed, 3),
        "attempts used up"
    );
    let evs = events(&store, run.id).await;
    assert!(evs
        .iter()
        .any(|e| e.message.contains("retrying in 2 s (attempt 2 of 3)")));
    assert_eq!(kinds(&evs, "attempt_start").len(), 3);
}

async fn permanent_errors_do_not_retry(store: DynStore) {
    let (engine, _) = engine(&store, OpsConfig::default());
    let run = enqueue(&engine, "noop", None, json!({"events": "many"}), 3).await;
    worker(&engine).run_batch().await;
    let r = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("`events` must be an integer"),
        "{:?}",
        r.error
    );
}

async fn cancel_stops_a_running_run(store: DynStore) {
    let (engine, _) = engine(&store, OpsConfig::default());
    let engine = engine.with_clock(Arc::new(opsroom_engine::SystemClock));
    let run = enqueue(&engine, "noop", None, json!({"sleep_ms": 60_000}), 1).await;
    let w = worker(&engine);
    let batch = tokio::spawn({
        let w = w.clone();
        async move { w.run_batch().await }
    });
    // Wait until the worker has started the action phase.
    let mut rx = store.wakeups().subscribe();
    loop {
        let evs = store
            .events_list(EventsListParams::new(DEFAULT_WORKSPACE, run.id, 100))
            .await
            .unwrap();
        if evs.iter().any(|e| e.phase == Some(Phase::Action)) {
            break;
        }
        rx.recv().await;
    }
    let asked = std::time::Instant::now();
    store
        .run_cancel(RunActionParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            run_id: run.id,
            actor: "ana".into(),
            reason: Some("wrong target".into()),
            source: None,
            allow_self: false,
            now: Utc::now(),
        })
        .await
        .unwrap();
    // The heartbeat (every 100 ms here) carries the cancel to the run.
    let heartbeats = tokio::spawn({
        let w = w.clone();
        async move {
            loop {
                w.heartbeat(WorkerState::Busy).await;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    });
    tokio::time::timeout(std::time::Duration::from_secs(10), batch)
        .await
        .unwrap()
        .unwrap();
    heartbeats.abort();
    let took = asked.elapsed();
    let r = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(r.status, RunStatus::Cancelled);
    assert!(
        took < std::time::Duration::from_secs(2),
        "stopped {took:?} after the cancel"
    );
    let evs = events(&store, run.id).await;
    assert!(evs
        .iter()
        .any(|e| e.message.contains("cancel requested by ana: wrong target")));
    assert!(evs
        .iter()
        .any(|e| e.message.contains("phase action cancelled")
            && e.message.contains("cancel requested")));
    assert_eq!(
        kinds(&evs, "phase_start").last(),
        Some(&Some(Phase::Summarize))
    );
}

async fn shutdown_releases_runs_after_the_grace_period(store: DynStore) {
    let (engine, _) = engine(&store, OpsConfig::default());
    let engine = engine.with_clock(Arc::new(opsroom_engine::SystemClock));
    let run = enqueue(&engine, "noop", None, json!({"sleep_ms": 60_000}), 1).await;
    let w = WorkerPool::new(
        engine.clone(),
        WorkerOptions {
            concurrency: 2,
            shutdown_grace: std::time::Duration::from_millis(200),
            ..Default::default()
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(w.run_until_stopped(stop_rx));
    let mut rx = store.wakeups().subscribe();
    while store
        .run_get(DEFAULT_WORKSPACE, run.id)
        .await
        .unwrap()
        .status
        != RunStatus::Running
    {
        rx.recv().await;
    }
    stop_tx.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
    let r = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(r.status, RunStatus::Queued, "released back to the queue");
    let evs = events(&store, run.id).await;
    assert!(evs
        .iter()
        .any(|e| e.message.contains("shutting down; run released")));
    let workers = store.workers_list().await.unwrap();
    assert_eq!(workers[0].state, WorkerState::Stopped);
}

async fn healthcheck_reports_each_probe(store: DynStore) {
    // One endpoint that answers, one port where nothing listens.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\nconnection: close\r\n\r\n{\"status\":\"ok\"}")
                .await;
        }
    });
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = OpsConfig::parse(
        "test.toml",
        &format!(
            r#"
            [[environments.prod.services]]
            name = "web"
            kind = "http"
            url = "http://{up}/healthz"
            expect_body = "ok"
            [[environments.prod.services]]
            name = "db"
            kind = "opsroom_db"
            [[environments.staging.services]]
            name = "api"
            kind = "http"
            url = "http://{closed}/healthz"
            [[environments.staging.services]]
            name = "pg"
            kind = "postgres"
            url = "postgres://nobody:hunter2@127.0.0.1:1/nope"
            timeout_ms = 2000
            "#
        ),
    )
    .unwrap();
    let (engine, _) = engine(&store, config);
    let good = enqueue(&engine, "healthcheck", Some("prod"), json!({}), 1).await;
    let bad = enqueue(&engine, "healthcheck", Some("staging"), json!({}), 1).await;
    let w = worker(&engine);
    while w.run_batch().await > 0 {}
    let good = store.run_get(DEFAULT_WORKSPACE, good.id).await.unwrap();
    assert_eq!(good.status, RunStatus::Succeeded, "{:?}", good.error);
    let report = store
        .artifacts_list(DEFAULT_WORKSPACE, good.id)
        .await
        .unwrap();
    let md = &report
        .iter()
        .find(|a| a.name == "healthcheck-report.md")
        .unwrap()
        .content;
    assert!(
        md.contains("| web | http | ✅ ok |") && md.contains("| db | opsroom_db | ✅ ok |"),
        "{md}"
    );

    let bad = store.run_get(DEFAULT_WORKSPACE, bad.id).await.unwrap();
    assert_eq!(bad.status, RunStatus::Failed);
    let err = bad.error.unwrap();
    assert!(
        err.contains("2 of 2 probes failed") && err.contains("api") && err.contains("pg"),
        "{err}"
    );
    let evs = events(&store, bad.id).await;
    let text: String = evs
        .iter()
        .map(|e| format!("{} {}\n", e.message, e.data))
        .collect();
    assert!(!text.contains("hunter2"), "a password reached the events");
    let arts = store
        .artifacts_list(DEFAULT_WORKSPACE, bad.id)
        .await
        .unwrap();
    assert!(arts
        .iter()
        .any(|a| a.name == "healthcheck-report.md" && a.content.contains("❌ failed")));
}

async fn unknown_env_fails_validation(store: DynStore) {
    let (engine, _) = engine(&store, OpsConfig::demo("http://127.0.0.1:1"));
    let run = enqueue(&engine, "healthcheck", Some("mars"), json!({}), 3).await;
    worker(&engine).run_batch().await;
    let r = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r
        .error
        .unwrap()
        .contains("unknown env `mars`; configured: dev, preview, prod, staging"));
}

opsroom_store::on_both_stores!(
    five_phases_in_order,
    failed_phase_skips_to_summarize,
    retries_back_off_on_the_injected_clock,
    permanent_errors_do_not_retry,
    cancel_stops_a_running_run,
    shutdown_releases_runs_after_the_grace_period,
    healthcheck_reports_each_probe,
    unknown_env_fails_validation,
    runs_ending_together_share_a_transaction,
    a_free_slot_is_not_held_back_for_a_batch,
);

/// A busy worker batches its claims, but a slot that frees up while the
/// others hold long runs still takes the next queued run at once, not when
/// a second slot frees up.
async fn a_free_slot_is_not_held_back_for_a_batch(store: DynStore) {
    let (engine, _) = engine(&store, OpsConfig::default());
    let engine = engine.with_clock(Arc::new(opsroom_engine::SystemClock));
    let short = enqueue(&engine, "noop", None, json!({}), 1).await;
    let mut long = Vec::new();
    for _ in 0..7 {
        long.push(enqueue(&engine, "noop", None, json!({"sleep_ms": 20_000}), 1).await);
    }
    let next = enqueue(&engine, "noop", None, json!({}), 1).await;
    let w = WorkerPool::new(
        engine.clone(),
        WorkerOptions {
            concurrency: 8,
            shutdown_grace: std::time::Duration::from_millis(100),
            ..Default::default()
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(w.run_until_stopped(stop_rx));
    let status = |id| {
        let store = store.clone();
        async move { store.run_get(DEFAULT_WORKSPACE, id).await.unwrap().status }
    };
    let waited = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while status(next.id).await != RunStatus::Succeeded {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "the run after the short one waited for a slot held by a 20 s run"
    );
    assert_eq!(status(short.id).await, RunStatus::Succeeded);
    for r in &long {
        assert_eq!(status(r.id).await, RunStatus::Running);
    }
    stop_tx.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
}

/// Twenty runs end at once: they are written in a few transactions, not
/// twenty, and the one whose lease is stale fails alone.
async fn runs_ending_together_share_a_transaction(store: DynStore) {
    use opsroom_engine::completions::Completions;
    let (engine, _) = engine(&store, OpsConfig::default());
    for _ in 0..20 {
        enqueue(&engine, "noop", None, json!({}), 1).await;
    }
    let claimed = store
        .run_claim(RunClaimParams {
            worker_id: "w".into(),
            limit: 20,
            now: engine.clock.now(),
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 20);
    let ends = claimed.iter().enumerate().map(|(i, r)| {
        Completions::complete(
            &engine,
            RunCompleteParams {
                workspace_id: r.workspace_id.clone(),
                run_id: r.id,
                fence: if i == 7 {
                    Fence { lease: r.lease + 1 }
                } else {
                    r.fence()
                },
                status: RunStatus::Succeeded,
                error: None,
                retry_at: None,
                events: vec![NewEvent::new(
                    engine.clock.now(),
                    opsroom_core::EventLevel::Info,
                    None,
                    format!("run {} done", r.id),
                )],
                phases: None,
                now: engine.clock.now(),
            },
        )
    });
    let results = futures_util::future::join_all(ends).await;
    for (i, (r, result)) in claimed.iter().zip(&results).enumerate() {
        if i == 7 {
            assert!(
                matches!(result, Err(StoreError::LeaseLost { run_id }) if *run_id == r.id),
                "{result:?}"
            );
            continue;
        }
        let done = result.as_ref().unwrap();
        assert_eq!((done.id, done.status), (r.id, RunStatus::Succeeded));
        let evs = events(&store, r.id).await;
        assert_eq!(evs.last().unwrap().message, format!("run {} done", r.id));
    }
    let writes = engine.metrics.snapshot().completion_writes;
    assert!(
        (1..10).contains(&writes),
        "20 runs ending together took {writes} transactions"
    );
}

/// A store that refuses to write a run's last events (here a trigger; in
/// life, text the database cannot hold) must not leave the run `running`:
/// the worker records the end of the attempt without those events, and says
/// they were lost.
async fn a_refused_completion_still_ends_the_run(t: &opsroom_store::testing::TestStore) {
    t.execute(match t.backend() {
        "postgres" => {
            "CREATE FUNCTION refuse_run_end() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.message LIKE 'run succeeded%' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_run_end BEFORE INSERT ON run_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_run_end();"
        }
        _ => {
            "CREATE TRIGGER refuse_run_end BEFORE INSERT ON run_events \
             WHEN NEW.message LIKE 'run succeeded%' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        }
    })
    .await;
    let store = &t.store;
    let (engine, _) = engine(store, OpsConfig::default());
    let run = enqueue(&engine, "noop", None, json!({"events": 2}), 1).await;
    assert_eq!(worker(&engine).run_batch().await, 1);
    let done = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(
        done.status,
        RunStatus::Succeeded,
        "the run ends with its real outcome"
    );
    let evs = events(store, run.id).await;
    let lost = evs
        .iter()
        .find(|e| e.data["kind"] == "events_lost")
        .expect("an event saying what was lost");
    assert!(
        lost.message.contains("could not be stored"),
        "{}",
        lost.message
    );
    assert!(!evs.iter().any(|e| e.message.starts_with("run succeeded")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_completion_still_ends_the_run_on_sqlite() {
    let t = opsroom_store::testing::TestStore::sqlite().await;
    a_refused_completion_still_ends_the_run(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_completion_still_ends_the_run_on_postgres() {
    let t = opsroom_store::testing::TestStore::postgres().await;
    a_refused_completion_still_ends_the_run(&t).await;
    t.cleanup().await;
}
