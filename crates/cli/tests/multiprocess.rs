//! Several `opsroom worker` processes on one PostgreSQL: 3,000 no-op runs
//! spread over lanes are each executed exactly once, every lane in order;
//! and a worker killed with SIGKILL mid-run loses no committed event while
//! its runs are rescued.

use chrono::Utc;
use opsroom_core::RunStatus;
use opsroom_store::testing::TestStore;
use opsroom_store::*;

mod common;
use common::{all_runs, spawn_worker, terminate};
use serde_json::json;
use std::collections::HashMap;
use std::process::Child;
use std::time::{Duration, Instant};

/// Waits (checking, not sleeping blindly) until `done` says so or the deadline passes.
async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_processes_drain_3000_runs_exactly_once_in_lane_order() {
    let t = TestStore::postgres().await;
    let store = t.store.clone();
    let mut sessions = Vec::new();
    for i in 0..10 {
        let s = store
            .session_create(SessionCreateParams {
                workspace_id: DEFAULT_WORKSPACE.into(),
                name: format!("s{i}"),
                actor: "test".into(),
                now: Utc::now(),
            })
            .await
            .unwrap();
        sessions.push(s.id);
    }
    // 2,400 runs in 40 lanes, 600 free runs; enqueued concurrently.
    let mut tasks = Vec::new();
    for chunk in 0..8 {
        let store = store.clone();
        let sessions = sessions.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..375 {
                let n = chunk * 375 + i;
                let mut p = RunInsertParams::new("noop", Utc::now());
                p.params = json!({"events": 3});
                if n % 5 != 0 {
                    p.session_id = Some(sessions[(n / 5) % sessions.len()]);
                    p.lane = Some(Lane::ALL[(n / 50) % 4]);
                }
                store.run_insert(p).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut workers: Vec<Child> = (0..3)
        .map(|_| {
            spawn_worker(
                &t.url,
                "warn",
                &["--concurrency", "8", "--heartbeat-timeout", "30"],
            )
        })
        .collect();
    let started = Instant::now();
    wait_until("all runs to finish", Duration::from_secs(300), || {
        let store = store.clone();
        async move {
            let counts = store.runs_count_by_status().await.unwrap();
            counts.iter().all(|(s, _)| s == "succeeded")
        }
    })
    .await;
    let took = started.elapsed();
    for w in &mut workers {
        terminate(w);
    }
    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 3000);
    eprintln!("3 worker processes drained 3000 runs in {took:?}");
    let mut by_worker: HashMap<String, usize> = HashMap::new();
    for r in &runs {
        assert_eq!(r.status, RunStatus::Succeeded);
        assert_eq!(r.attempt, 1, "run {} executed more than once", r.id);
        *by_worker.entry(r.worker_id.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(
        by_worker.len(),
        3,
        "all three processes took part: {by_worker:?}"
    );
    // Exactly once, seen from the events: one attempt_start per run.
    let sample: Vec<&Run> = runs.iter().step_by(37).collect();
    for r in sample {
        let evs = store
            .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 1000))
            .await
            .unwrap();
        assert_eq!(
            evs.iter()
                .filter(|e| e.data["kind"] == "attempt_start")
                .count(),
            1
        );
        assert_eq!(
            evs.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
            (1..=evs.len() as i64).collect::<Vec<_>>()
        );
    }
    // Lane order: within a lane, each run started after the previous one
    // ended. Timestamps are taken by different processes before their
    // statements run, so compare along the causal chain: the previous run's
    // `run_end` event is stamped before its completion commits, and the next
    // run's first `phase_start` after its claim (which needs that commit) returns.
    let mut lanes: HashMap<(i64, Lane), Vec<&Run>> = HashMap::new();
    for r in runs.iter().filter(|r| r.session_id.is_some()) {
        lanes
            .entry((r.session_id.unwrap(), r.lane.unwrap()))
            .or_default()
            .push(r);
    }
    assert_eq!(lanes.len(), 40);
    let stamp = |evs: &[RunEvent], kind: &str| {
        evs.iter()
            .find(|e| e.data["kind"] == kind)
            .map(|e| e.ts)
            .unwrap()
    };
    for (lane, mut rs) in lanes {
        rs.sort_by_key(|r| r.id);
        let mut previous_end = None;
        for r in rs {
            let evs = store
                .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 1000))
                .await
                .unwrap();
            let start = stamp(&evs, "phase_start");
            if let Some((prev_id, end)) = previous_end {
                assert!(
                    start >= end,
                    "lane {lane:?}: run {} started before run {prev_id} ended",
                    r.id
                );
            }
            previous_end = Some((r.id, stamp(&evs, "run_end")));
        }
    }
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_event_and_its_runs_are_rescued() {
    let t = TestStore::postgres().await;
    let store = t.store.clone();
    let enqueue = |max_attempts: i32| {
        let store = store.clone();
        async move {
            let mut p = RunInsertParams::new("noop", Utc::now());
            p.params = json!({"events": 5, "sleep_ms": 4000});
            p.max_attempts = max_attempts;
            store.run_insert(p).await.unwrap().0
        }
    };
    let once = enqueue(1).await;
    let twice = enqueue(2).await;
    let mut victim = spawn_worker(
        &t.url,
        "warn",
        &["--concurrency", "4", "--heartbeat-timeout", "2"],
    );
    wait_until(
        "both runs to sleep in their action phase",
        Duration::from_secs(30),
        || {
            let store = store.clone();
            async move {
                let mut ready = true;
                for id in [once.id, twice.id] {
                    let evs = store
                        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, id, 100))
                        .await
                        .unwrap();
                    ready &= evs.iter().any(|e| e.message == "noop event 5 of 5");
                }
                ready
            }
        },
    )
    .await;
    let mut before = HashMap::new();
    for id in [once.id, twice.id] {
        before.insert(
            id,
            store
                .events_list(EventsListParams::new(DEFAULT_WORKSPACE, id, 1000))
                .await
                .unwrap(),
        );
    }
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let killed_at = Utc::now();
    let mut rescuer = spawn_worker(
        &t.url,
        "warn",
        &["--concurrency", "4", "--heartbeat-timeout", "2"],
    );
    wait_until("both runs to end", Duration::from_secs(60), || {
        let store = store.clone();
        async move {
            let a = store.run_get(DEFAULT_WORKSPACE, once.id).await.unwrap();
            let b = store.run_get(DEFAULT_WORKSPACE, twice.id).await.unwrap();
            a.status.is_final() && b.status.is_final()
        }
    })
    .await;
    terminate(&mut rescuer);

    let failed = store.run_get(DEFAULT_WORKSPACE, once.id).await.unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("stopped heartbeating"),
        "{:?}",
        failed.error
    );
    let retried = store.run_get(DEFAULT_WORKSPACE, twice.id).await.unwrap();
    assert_eq!((retried.status, retried.attempt), (RunStatus::Succeeded, 2));
    for id in [once.id, twice.id] {
        let after = store
            .events_list(EventsListParams::new(DEFAULT_WORKSPACE, id, 1000))
            .await
            .unwrap();
        let old = &before[&id];
        assert_eq!(
            &after[..old.len()],
            &old[..],
            "run {id}: every event committed before the kill is still there"
        );
        assert_eq!(
            after.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
            (1..=after.len() as i64).collect::<Vec<_>>()
        );
        let rescue = after
            .iter()
            .find(|e| e.data["kind"] == "rescued")
            .expect("a rescue event");
        let delay = (rescue.ts - killed_at).num_milliseconds();
        eprintln!("run {id} rescued {delay} ms after the kill");
        // Heartbeat timeout 2 s, plus up to one heartbeat interval of the rescuer.
        assert!(delay < 2000 + 1500, "rescued {delay} ms after the kill");
    }
    t.cleanup().await;
}
