//! The storage conformance suite: every test runs against both backends,
//! each in its own PostgreSQL schema or its own SQLite file. Time is passed
//! in explicitly: nothing sleeps.

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsroom_core::{EventLevel, Phase, RunStatus};
use opsroom_store::*;
use serde_json::json;
use std::collections::HashMap;

#[path = "conformance/approvals.rs"]
mod approvals;
#[path = "conformance/identity.rs"]
mod identity;
#[path = "conformance/notifications.rs"]
mod notifications;
#[path = "conformance/schedules.rs"]
mod schedules;
#[path = "conformance/secrets.rs"]
mod secrets;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn run(runbook: &str) -> RunInsertParams {
    RunInsertParams::new(runbook, t0())
}

async fn insert(store: &DynStore, p: RunInsertParams) -> Run {
    store.run_insert(p).await.unwrap().0
}

async fn claim(store: &DynStore, worker: &str, limit: i64, now: DateTime<Utc>) -> Vec<Run> {
    store
        .run_claim(RunClaimParams {
            worker_id: worker.into(),
            limit,
            now,
        })
        .await
        .unwrap()
}

async fn finish(store: &DynStore, r: &Run, status: RunStatus) -> Run {
    store
        .run_complete(RunCompleteParams {
            workspace_id: r.workspace_id.clone(),
            run_id: r.id,
            fence: r.fence(),
            status,
            error: None,
            retry_at: None,
            events: vec![NewEvent::new(
                t0(),
                EventLevel::Info,
                Some(Phase::Summarize),
                "done",
            )],
            phases: None,
            now: t0(),
        })
        .await
        .unwrap()
}

fn action(id: RunId, actor: &str) -> RunActionParams {
    RunActionParams {
        workspace_id: DEFAULT_WORKSPACE.into(),
        run_id: id,
        actor: actor.into(),
        reason: None,
        source: None,
        allow_self: false,
        now: t0(),
    }
}

fn ids(runs: &[Run]) -> Vec<RunId> {
    runs.iter().map(|r| r.id).collect()
}

async fn claim_is_atomic_under_concurrency(store: DynStore) {
    let mut expected = Vec::new();
    for _ in 0..300 {
        expected.push(insert(&store, run("noop")).await.id);
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = claim(&store, &format!("w{w}"), 7, t0()).await;
                if got.is_empty() {
                    return mine;
                }
                assert!(got
                    .iter()
                    .all(|r| r.status == RunStatus::Running && r.attempt == 1));
                mine.extend(ids(&got));
            }
        }));
    }
    let mut counts: HashMap<RunId, usize> = HashMap::new();
    for t in tasks {
        for id in t.await.unwrap() {
            *counts.entry(id).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), expected.len(), "every run claimed");
    assert!(counts.values().all(|&c| c == 1), "no run claimed twice");
}

async fn idempotency_key_returns_the_same_run(store: DynStore) {
    let mut p = run("noop");
    p.idempotency_key = Some("deploy-42".into());
    let (first, created) = store.run_insert(p.clone()).await.unwrap();
    assert!(created);
    let (second, created_again) = store.run_insert(p.clone()).await.unwrap();
    assert!(!created_again);
    assert_eq!(first.id, second.id);
    p.workspace_id = "other".into();
    let (elsewhere, created) = store.run_insert(p).await.unwrap();
    assert!(created, "keys are per workspace");
    assert_ne!(elsewhere.id, first.id);
    let all = store
        .run_list(RunListParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "no duplicate run");
}

async fn sessions_list_newest_first_per_workspace(store: DynStore) {
    let create = |ws: &str, name: &str| SessionCreateParams {
        workspace_id: ws.into(),
        name: name.into(),
        actor: "ana".into(),
        now: t0(),
    };
    let first = store
        .session_create(create(DEFAULT_WORKSPACE, "first"))
        .await
        .unwrap();
    store
        .session_create(create("other", "elsewhere"))
        .await
        .unwrap();
    let second = store
        .session_create(create(DEFAULT_WORKSPACE, "second"))
        .await
        .unwrap();
    let listed = store.session_list(DEFAULT_WORKSPACE, 10).await.unwrap();
    let names: Vec<(i64, &str)> = listed.iter().map(|s| (s.id, s.name.as_str())).collect();
    assert_eq!(names, vec![(second.id, "second"), (first.id, "first")]);
    let one = store.session_list(DEFAULT_WORKSPACE, 1).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, second.id);
    assert!(store.session_list("nobody", 10).await.unwrap().is_empty());
}

async fn lanes_run_in_enqueue_order_and_in_parallel(store: DynStore) {
    let session = store
        .session_create(SessionCreateParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            name: "release".into(),
            actor: "ana".into(),
            now: t0(),
        })
        .await
        .unwrap();
    let in_lane = |lane: Lane| {
        let mut p = run("noop");
        p.session_id = Some(session.id);
        p.lane = Some(lane);
        p
    };
    let a1 = insert(&store, in_lane(Lane::A)).await;
    let a2 = insert(&store, in_lane(Lane::A)).await;
    let mut a3p = in_lane(Lane::A);
    a3p.priority = 10; // priority never jumps the lane
    let a3 = insert(&store, a3p).await;
    let b1 = insert(&store, in_lane(Lane::B)).await;
    let b2 = insert(&store, in_lane(Lane::B)).await;

    let waits = store.run_waits_for(&a3).await.unwrap().unwrap();
    assert_eq!(
        (waits.run.id, waits.reason),
        (a1.id, WaitReason::Lane),
        "the oldest open run of the lane is what a queued run waits for"
    );
    assert!(store.run_waits_for(&a1).await.unwrap().is_none());

    let first = claim(&store, "w", 10, t0()).await;
    assert_eq!(
        ids(&first),
        vec![a1.id, b1.id],
        "one run per lane at a time"
    );
    assert!(claim(&store, "w", 10, t0()).await.is_empty());
    finish(&store, &first[0], RunStatus::Failed).await;
    assert_eq!(
        ids(&claim(&store, "w", 10, t0()).await),
        vec![a2.id],
        "a failed run frees its lane"
    );
    finish(&store, &first[1], RunStatus::Succeeded).await;
    let next = claim(&store, "w", 10, t0()).await;
    assert_eq!(ids(&next), vec![b2.id]);

    let lanes = store
        .session_get(DEFAULT_WORKSPACE, session.id)
        .await
        .unwrap();
    let names: Vec<_> = lanes.lanes.iter().map(|l| l.name).collect();
    assert_eq!(names, Lane::ALL);
    assert_eq!(ids(&lanes.lanes[0].runs), vec![a1.id, a2.id, a3.id]);
    assert_eq!(ids(&lanes.lanes[1].runs), vec![b1.id, b2.id]);
    assert!(lanes.lanes[2].runs.is_empty());

    // A run waiting for approval holds its lane too.
    let mut gated = in_lane(Lane::C);
    gated.needs_approval = true;
    let c1 = insert(&store, gated).await;
    let c2 = insert(&store, in_lane(Lane::C)).await;
    assert!(!ids(&claim(&store, "w", 10, t0()).await).contains(&c2.id));
    store.run_reject(action(c1.id, "bob")).await.unwrap();
    assert!(ids(&claim(&store, "w", 10, t0()).await).contains(&c2.id));
}

async fn env_lock_allows_one_write_run_per_target(store: DynStore) {
    let write = |key: &str| {
        let mut p = run("deploy");
        p.risk = Risk::Write;
        p.lock_key = Some(key.into());
        p
    };
    let d1 = insert(&store, write("prod/web")).await;
    let d2 = insert(&store, write("prod/web")).await;
    let other = insert(&store, write("prod/api")).await;
    let read = insert(&store, run("healthcheck")).await;
    let got = claim(&store, "w1", 10, t0()).await;
    assert_eq!(ids(&got), vec![d1.id, other.id, read.id]);
    assert!(
        claim(&store, "w2", 10, t0()).await.is_empty(),
        "second deploy to prod/web waits"
    );
    let d3 = insert(&store, write("prod/web")).await;
    for queued in [&d2, &d3] {
        let waits = store.run_waits_for(queued).await.unwrap().unwrap();
        assert_eq!(
            (waits.run.id, waits.run.status, waits.reason),
            (d1.id, RunStatus::Running, WaitReason::EnvLock),
            "the run holding the lock is named first"
        );
    }
    assert!(store.run_waits_for(&other).await.unwrap().is_none());
    finish(&store, &got[0], RunStatus::Succeeded).await;
    let waits = store.run_waits_for(&d3).await.unwrap().unwrap();
    assert_eq!(
        (waits.run.id, waits.run.status),
        (d2.id, RunStatus::Queued),
        "with the lock free, the oldest queued write goes first"
    );
    assert!(store.run_waits_for(&d2).await.unwrap().is_none());
    assert_eq!(ids(&claim(&store, "w2", 10, t0()).await), vec![d2.id]);
}

async fn priority_and_run_after_order_the_queue(store: DynStore) {
    let low = insert(&store, run("noop")).await;
    let mut hp = run("noop");
    hp.priority = 5;
    let high = insert(&store, hp).await;
    let mut later = run("noop");
    later.run_after = Some(t0() + Duration::seconds(60));
    let delayed = insert(&store, later).await;
    assert_eq!(ids(&claim(&store, "w", 1, t0()).await), vec![high.id]);
    assert_eq!(ids(&claim(&store, "w", 5, t0()).await), vec![low.id]);
    assert!(claim(&store, "w", 5, t0() + Duration::seconds(59))
        .await
        .is_empty());
    assert_eq!(
        ids(&claim(&store, "w", 5, t0() + Duration::seconds(60)).await),
        vec![delayed.id]
    );
}

async fn retries_back_off_and_fence_old_attempts(store: DynStore) {
    let mut p = run("noop");
    p.max_attempts = 3;
    let r = insert(&store, p).await;
    let first = claim(&store, "w", 1, t0()).await.remove(0);
    assert_eq!(first.attempt, 1);
    let retry_at = t0() + Duration::seconds(2);
    let requeued = store
        .run_complete(RunCompleteParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            run_id: r.id,
            fence: first.fence(),
            status: RunStatus::Failed,
            error: Some("boom".into()),
            retry_at: Some(retry_at),
            events: vec![NewEvent::new(
                t0(),
                EventLevel::Error,
                Some(Phase::Action),
                "boom; retrying in 2s",
            )],
            phases: None,
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!(requeued.status, RunStatus::Queued);
    assert_eq!(requeued.run_after, retry_at);
    assert!(
        claim(&store, "w", 1, t0() + Duration::milliseconds(1999))
            .await
            .is_empty(),
        "backoff honoured"
    );
    let second = claim(&store, "w", 1, retry_at).await.remove(0);
    assert_eq!(second.attempt, 2);
    assert_ne!(second.lease, first.lease);
    // The first attempt's fence no longer writes anything.
    let stale = store
        .events_append(EventsAppendParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            run_id: r.id,
            fence: Some(first.fence()),
            events: vec![NewEvent::new(t0(), EventLevel::Info, None, "late write")],
            phases: None,
        })
        .await;
    assert!(
        matches!(stale, Err(StoreError::LeaseLost { .. })),
        "{stale:?}"
    );
    let done = finish(&store, &second, RunStatus::Succeeded).await;
    assert_eq!(done.status, RunStatus::Succeeded);
    assert!(done.finished_at.is_some());
    let msgs: Vec<_> = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 100))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert!(!msgs.iter().any(|m| m == "late write"));
}

async fn cancel_stops_queued_at_once_and_running_through_the_worker(store: DynStore) {
    let queued = insert(&store, run("noop")).await;
    let c = store.run_cancel(action(queued.id, "ana")).await.unwrap();
    assert_eq!(c.status, RunStatus::Cancelled);
    assert!(
        claim(&store, "w", 5, t0()).await.is_empty(),
        "a cancelled run is never claimed"
    );

    let r = insert(&store, run("noop")).await;
    let running = claim(&store, "w", 1, t0()).await.remove(0);
    let asked = store.run_cancel(action(r.id, "ana")).await.unwrap();
    assert_eq!(asked.status, RunStatus::Running);
    assert!(asked.cancel_requested);
    let hb = store
        .worker_heartbeat(WorkerHeartbeatParams {
            worker_id: "w".into(),
            host: "h".into(),
            pid: 1,
            state: WorkerState::Busy,
            concurrency: 1,
            running: vec![r.id],
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!(
        hb,
        vec![r.id],
        "the worker learns of the cancel on its heartbeat"
    );
    let done = finish(&store, &running, RunStatus::Cancelled).await;
    assert_eq!(done.status, RunStatus::Cancelled);
    let err = store.run_cancel(action(r.id, "ana")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("already cancelled")),
        "{err}"
    );
    let events = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 100))
        .await
        .unwrap();
    assert!(events
        .iter()
        .any(|e| e.message.contains("cancel requested by ana")));
    let audit = store
        .audit_list(AuditListParams::newest(DEFAULT_WORKSPACE, 100))
        .await
        .unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "run.cancel").count(), 2);
}

async fn rescue_requeues_then_fails_runs_of_dead_workers(store: DynStore) {
    let mut p = run("noop");
    p.max_attempts = 2;
    let r = insert(&store, p).await;
    let first = claim(&store, "dead-1", 1, t0()).await.remove(0);
    let rescue = |now: DateTime<Utc>| RunsRescueParams {
        stale_before: now - Duration::seconds(30),
        now,
        retry_at: now,
    };
    assert!(
        store
            .runs_rescue(rescue(t0() + Duration::seconds(29)))
            .await
            .unwrap()
            .is_empty(),
        "not stale yet"
    );
    let rescued = store
        .runs_rescue(rescue(t0() + Duration::seconds(31)))
        .await
        .unwrap();
    assert_eq!(ids(&rescued), vec![r.id]);
    assert_eq!(rescued[0].status, RunStatus::Queued);
    let late = store
        .events_append(EventsAppendParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            run_id: r.id,
            fence: Some(first.fence()),
            events: vec![NewEvent::new(t0(), EventLevel::Info, None, "zombie")],
            phases: None,
        })
        .await;
    assert!(
        matches!(late, Err(StoreError::LeaseLost { .. })),
        "a rescued worker is fenced off"
    );

    let t1 = t0() + Duration::seconds(40);
    let second = claim(&store, "dead-2", 1, t1).await.remove(0);
    assert_eq!(second.attempt, 2);
    let failed = store
        .runs_rescue(rescue(t1 + Duration::seconds(31)))
        .await
        .unwrap();
    assert_eq!(failed[0].status, RunStatus::Failed);
    assert!(
        failed[0]
            .error
            .as_deref()
            .unwrap()
            .contains("attempts used up (2 of 2)"),
        "{:?}",
        failed[0].error
    );
    let events = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 100))
        .await
        .unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "seq contiguous"
    );
    assert!(events
        .iter()
        .any(|e| e.message.contains("worker dead-1 stopped heartbeating")
            && e.message.contains("requeued for attempt 2 of 2")));
}

/// A worker that lost track of one of its runs (it gave up completing it,
/// or its claim's answer never arrived) keeps heartbeating its other runs;
/// the forgotten one must still lapse and be rescued, not be kept alive by
/// the worker's id.
async fn heartbeats_keep_alive_only_the_runs_a_worker_executes(store: DynStore) {
    let kept = insert(&store, run("noop")).await;
    let forgotten = insert(&store, run("noop")).await;
    let claimed = claim(&store, "w1", 2, t0()).await;
    assert_eq!(ids(&claimed), vec![kept.id, forgotten.id]);
    let later = t0() + Duration::seconds(25);
    let cancel = store.run_cancel(action(forgotten.id, "ana")).await.unwrap();
    assert!(cancel.cancel_requested);
    let asked = store
        .worker_heartbeat(WorkerHeartbeatParams {
            worker_id: "w1".into(),
            host: "h".into(),
            pid: 1,
            state: WorkerState::Busy,
            concurrency: 2,
            running: vec![kept.id],
            now: later,
        })
        .await
        .unwrap();
    assert!(
        asked.is_empty(),
        "a cancel of a run the worker does not execute is not reported: {asked:?}"
    );
    let now = t0() + Duration::seconds(31);
    let rescued = store
        .runs_rescue(RunsRescueParams {
            stale_before: now - Duration::seconds(30),
            now,
            retry_at: now,
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&rescued),
        vec![forgotten.id],
        "only the run without a heartbeat is rescued"
    );
    let still = store.run_get(DEFAULT_WORKSPACE, kept.id).await.unwrap();
    assert_eq!(still.status, RunStatus::Running);
    assert_eq!(still.worker_id.as_deref(), Some("w1"));
}

async fn events_are_contiguous_and_fenced(store: DynStore) {
    let r = insert(&store, run("noop")).await;
    let c = claim(&store, "w", 1, t0()).await.remove(0);
    let batch: Vec<NewEvent> = (0..25)
        .map(|i| {
            NewEvent::new(
                t0(),
                EventLevel::Info,
                Some(Phase::Action),
                format!("line {i}"),
            )
            .with_data(json!({"i": i}))
        })
        .collect();
    let last = store
        .events_append(EventsAppendParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            run_id: r.id,
            fence: Some(c.fence()),
            events: batch,
            phases: Some(json!([{"phase": "action", "status": "running"}])),
        })
        .await
        .unwrap();
    assert_eq!(
        last,
        Seq(27),
        "created event is seq 1, the claim's attempt_start seq 2"
    );
    // A control-plane write interleaves without gaps.
    store.run_cancel(action(r.id, "ana")).await.unwrap();
    let all = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 1000))
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
        (1..=28).collect::<Vec<_>>()
    );
    // Both backends write the same first event of an attempt.
    assert_eq!(all[1].message, "attempt 1 of 1 started on worker w");
    assert_eq!(
        all[1].data,
        json!({"kind": "attempt_start", "attempt": 1, "worker_id": "w"})
    );
    assert_eq!((all[1].level, all[1].phase), (EventLevel::Info, None));
    assert_eq!(all[6].data, json!({"i": 4}));
    assert_eq!(all[6].phase, Some(Phase::Action));
    let after = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 3).after(Seq(20)))
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
        vec![21, 22, 23]
    );
    let got = store.run_get(DEFAULT_WORKSPACE, r.id).await.unwrap();
    assert_eq!(
        got.phases,
        json!([{"phase": "action", "status": "running"}])
    );
    assert!(
        matches!(
            store.run_get("other", r.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "workspaces are isolated"
    );
}

async fn approvals_need_someone_else(store: DynStore) {
    let mut p = run("deploy");
    p.needs_approval = true;
    p.actor = "ana".into();
    let r = insert(&store, p).await;
    assert_eq!(r.status, RunStatus::AwaitingApproval);
    assert!(claim(&store, "w", 5, t0()).await.is_empty());
    let err = store.run_approve(action(r.id, "ana")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::SelfApproval { requester, .. } if requester == "ana"),
        "{err}"
    );
    let err = store.run_reject(action(r.id, "ana")).await.unwrap_err();
    assert!(matches!(err, StoreError::SelfApproval { .. }), "{err}");
    let ok = store.run_approve(action(r.id, "bob")).await.unwrap();
    assert_eq!(ok.status, RunStatus::Queued);
    assert_eq!(ok.approved_by.as_deref(), Some("bob"));
    assert!(
        store.run_approve(action(r.id, "bob")).await.is_err(),
        "approving twice is refused"
    );
    assert_eq!(ids(&claim(&store, "w", 5, t0()).await), vec![r.id]);
    let audit = store
        .audit_list(AuditListParams::newest(DEFAULT_WORKSPACE, 10))
        .await
        .unwrap();
    assert_eq!(audit[0].action, "run.approve");
    assert_eq!(audit[0].actor, "bob");
}

async fn artifacts_and_workers(store: DynStore) {
    let r = insert(&store, run("noop")).await;
    let c = claim(&store, "w9", 1, t0()).await.remove(0);
    let a = store
        .artifact_insert(ArtifactInsertParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            run_id: r.id,
            fence: Some(c.fence()),
            kind: ArtifactKind::Markdown,
            name: "report.md".into(),
            content: "# ok".into(),
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!(a.kind, ArtifactKind::Markdown);
    store
        .worker_heartbeat(WorkerHeartbeatParams {
            worker_id: "w9".into(),
            host: "box".into(),
            pid: 42,
            state: WorkerState::Busy,
            concurrency: 4,
            running: vec![r.id],
            now: t0(),
        })
        .await
        .unwrap();
    let workers = store.workers_list().await.unwrap();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].running, vec![r.id]);
    finish(&store, &c, RunStatus::Succeeded).await;
    let late = store
        .artifact_insert(ArtifactInsertParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            run_id: r.id,
            fence: Some(c.fence()),
            kind: ArtifactKind::Json,
            name: "late".into(),
            content: "{}".into(),
            now: t0(),
        })
        .await;
    assert!(matches!(late, Err(StoreError::LeaseLost { .. })));
    let listed = store.artifacts_list(DEFAULT_WORKSPACE, r.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(store.workers_list().await.unwrap()[0].running.is_empty());
}

async fn migrations_are_idempotent(store: DynStore) {
    assert!(
        store.migrate().await.unwrap().is_empty(),
        "second migrate applies nothing"
    );
    let counts = store.runs_count_by_status().await.unwrap();
    assert!(counts.is_empty());
}

opsroom_store::on_both_stores!(
    claim_is_atomic_under_concurrency,
    idempotency_key_returns_the_same_run,
    lanes_run_in_enqueue_order_and_in_parallel,
    sessions_list_newest_first_per_workspace,
    env_lock_allows_one_write_run_per_target,
    priority_and_run_after_order_the_queue,
    retries_back_off_and_fence_old_attempts,
    cancel_stops_queued_at_once_and_running_through_the_worker,
    rescue_requeues_then_fails_runs_of_dead_workers,
    heartbeats_keep_alive_only_the_runs_a_worker_executes,
    events_are_contiguous_and_fenced,
    approvals_need_someone_else,
    artifacts_and_workers,
    migrations_are_idempotent,
    batches_insert_in_order_with_events,
    completions_in_one_batch_succeed_or_fail_each_on_their_own,
    events_of_another_workspace_are_not_found,
    attempt_started_reads_the_same_on_both,
    a_run_of_another_workspace_is_neither_seen_nor_written,
);

/// Workspace A's run, its events, artifacts, session and audit entries are
/// not found from workspace B; a worker's write naming another workspace
/// than its run's writes nothing; workers still claim across workspaces.
async fn a_run_of_another_workspace_is_neither_seen_nor_written(store: DynStore) {
    let mut p = run("noop");
    p.workspace_id = "a".into();
    let session = store
        .session_create(SessionCreateParams {
            workspace_id: "a".into(),
            name: "s".into(),
            actor: "ana".into(),
            now: t0(),
        })
        .await
        .unwrap();
    p.session_id = Some(session.id);
    p.lane = Some(Lane::A);
    let theirs = insert(&store, p).await;
    let mine = insert(&store, run("noop")).await;
    let claimed = claim(&store, "w", 10, t0()).await;
    assert_eq!(
        ids(&claimed),
        vec![theirs.id, mine.id],
        "workers serve every workspace"
    );
    let theirs = claimed[0].clone();
    let not_found = |r: StoreResult<()>| matches!(r, Err(StoreError::NotFound { .. }));
    assert!(not_found(store.run_get("b", theirs.id).await.map(drop)));
    assert!(not_found(
        store
            .events_list(EventsListParams::new("b", theirs.id, 10))
            .await
            .map(drop)
    ));
    assert!(store
        .artifacts_list("b", theirs.id)
        .await
        .unwrap()
        .is_empty());
    assert!(not_found(
        store.session_get("b", session.id).await.map(drop)
    ));
    assert!(store
        .run_list(RunListParams {
            workspace_id: "b".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .audit_list(AuditListParams::newest("b", 10))
        .await
        .unwrap()
        .is_empty());
    let mut cancel = action(theirs.id, "ana");
    cancel.workspace_id = "b".into();
    assert!(not_found(store.run_cancel(cancel).await.map(drop)));
    // Worker writes naming the wrong workspace.
    let lost = |r: StoreResult<()>| matches!(r, Err(StoreError::LeaseLost { .. }));
    let append = |workspace: &str| EventsAppendParams {
        workspace_id: workspace.into(),
        run_id: theirs.id,
        fence: Some(theirs.fence()),
        events: vec![NewEvent::new(t0(), EventLevel::Info, None, "x")],
        phases: None,
    };
    assert!(lost(
        store
            .events_append(append(DEFAULT_WORKSPACE))
            .await
            .map(drop)
    ));
    let artifact = |workspace: &str| ArtifactInsertParams {
        workspace_id: workspace.into(),
        run_id: theirs.id,
        fence: Some(theirs.fence()),
        kind: ArtifactKind::Json,
        name: "x".into(),
        content: "{}".into(),
        now: t0(),
    };
    assert!(lost(
        store
            .artifact_insert(artifact(DEFAULT_WORKSPACE))
            .await
            .map(drop)
    ));
    let mut end = RunCompleteParams {
        workspace_id: DEFAULT_WORKSPACE.into(),
        run_id: theirs.id,
        fence: theirs.fence(),
        status: RunStatus::Succeeded,
        error: None,
        retry_at: None,
        events: vec![],
        phases: None,
        now: t0(),
    };
    assert!(lost(store.run_complete(end.clone()).await.map(drop)));
    let untouched = store.run_get("a", theirs.id).await.unwrap();
    assert_eq!(
        (untouched.status, untouched.last_seq),
        (RunStatus::Running, Seq(2)),
        "nothing was written"
    );
    // The same writes naming the run's workspace go through.
    assert_eq!(store.events_append(append("a")).await.unwrap(), Seq(3));
    store.artifact_insert(artifact("a")).await.unwrap();
    end.workspace_id = "a".into();
    assert_eq!(
        store.run_complete(end).await.unwrap().status,
        RunStatus::Succeeded
    );
    assert_eq!(store.artifacts_list("a", theirs.id).await.unwrap().len(), 1);
}

/// Four running runs end in one call: a success with several events, a
/// retry, one whose lease is stale and one asked to end as `running`. Only
/// the last two fail, each with its own error, and nothing of them is written.
async fn completions_in_one_batch_succeed_or_fail_each_on_their_own(store: DynStore) {
    for _ in 0..4 {
        insert(&store, run("noop")).await;
    }
    let mut p = run("noop");
    p.max_attempts = 2;
    let retried = insert(&store, p).await;
    let claimed = claim(&store, "w", 5, t0()).await;
    assert_eq!(claimed.len(), 5);
    let end = |r: &Run, status: RunStatus, events: usize| RunCompleteParams {
        workspace_id: DEFAULT_WORKSPACE.into(),
        run_id: r.id,
        fence: r.fence(),
        status,
        error: (status == RunStatus::Failed).then(|| "boom".to_string()),
        retry_at: None,
        events: (0..events)
            .map(|i| {
                NewEvent::new(
                    t0(),
                    EventLevel::Info,
                    Some(Phase::Summarize),
                    format!("end {i}"),
                )
            })
            .collect(),
        phases: Some(json!([{"phase": "summarize", "status": "succeeded"}])),
        now: t0(),
    };
    let by_id: HashMap<RunId, &Run> = claimed.iter().map(|r| (r.id, r)).collect();
    let ok = by_id[&claimed[0].id];
    let stale = by_id[&claimed[1].id];
    let bad = by_id[&claimed[2].id];
    let failed = by_id[&claimed[3].id];
    let retry = by_id[&retried.id];
    let mut stale_end = end(stale, RunStatus::Succeeded, 2);
    stale_end.fence = Fence {
        lease: stale.lease - 1,
    };
    let mut retry_end = end(retry, RunStatus::Failed, 1);
    retry_end.retry_at = Some(t0() + Duration::seconds(2));
    // Given in descending id order: results come back in the order given.
    let results = store
        .runs_complete(vec![
            retry_end,
            end(failed, RunStatus::Failed, 1),
            end(bad, RunStatus::Running, 1),
            stale_end,
            end(ok, RunStatus::Succeeded, 3),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    let requeued = results[0].as_ref().unwrap();
    assert_eq!(
        (requeued.id, requeued.status),
        (retry.id, RunStatus::Queued)
    );
    assert_eq!(requeued.run_after, t0() + Duration::seconds(2));
    assert_eq!(requeued.worker_id, None);
    let f = results[1].as_ref().unwrap();
    assert_eq!(
        (f.id, f.status, f.error.as_deref()),
        (failed.id, RunStatus::Failed, Some("boom"))
    );
    assert!(
        matches!(results[2], Err(StoreError::Conflict(_))),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(StoreError::LeaseLost { run_id }) if run_id == stale.id),
        "{:?}",
        results[3]
    );
    let done = results[4].as_ref().unwrap();
    assert_eq!(
        (done.id, done.status, done.last_seq),
        (ok.id, RunStatus::Succeeded, Seq(5))
    );
    assert_eq!(done.finished_at, Some(t0()));
    assert_eq!(
        done.phases,
        json!([{"phase": "summarize", "status": "succeeded"}])
    );

    let events = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, ok.id, 100))
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.seq.0, e.message.as_str()))
            .skip(2)
            .collect::<Vec<_>>(),
        vec![(3, "end 0"), (4, "end 1"), (5, "end 2")]
    );
    for untouched in [stale, bad] {
        let now = store
            .run_get(DEFAULT_WORKSPACE, untouched.id)
            .await
            .unwrap();
        assert_eq!((now.status, now.last_seq), (RunStatus::Running, Seq(2)));
        assert_eq!(
            store
                .events_list(EventsListParams::new(DEFAULT_WORKSPACE, untouched.id, 100))
                .await
                .unwrap()
                .len(),
            2
        );
    }
    assert_eq!(
        store
            .events_list(EventsListParams::new(DEFAULT_WORKSPACE, retry.id, 100))
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(store.runs_complete(Vec::new()).await.unwrap().is_empty());
}

async fn batches_insert_in_order_with_events(store: DynStore) {
    let session = store
        .session_create(SessionCreateParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            name: "bulk".into(),
            actor: "ana".into(),
            now: t0(),
        })
        .await
        .unwrap();
    // More runs than one SQLite statement takes, so chunks must keep order.
    let params: Vec<RunInsertParams> = (0..3200)
        .map(|i| {
            let mut p = run("noop");
            p.params = json!({"events": i});
            if i % 2 == 0 {
                p.session_id = Some(session.id);
                p.lane = Some(Lane::A);
            }
            p
        })
        .collect();
    let runs = store.runs_insert_batch(params).await.unwrap();
    assert_eq!(runs.len(), 3200);
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.params, json!({"events": i}), "batch keeps input order");
        assert_eq!(r.status, RunStatus::Queued);
        let evs = store
            .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 10))
            .await
            .unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data["kind"], "created");
    }
    // Lane order holds for batch-inserted runs too.
    let first = claim(&store, "w", 5000, t0()).await;
    assert_eq!(first.len(), 1601, "1,600 free runs + the head of lane A");
    let mut p = run("noop");
    p.idempotency_key = Some("k".into());
    assert!(matches!(
        store.runs_insert_batch(vec![p]).await,
        Err(StoreError::Conflict(_))
    ));
    let audit = store
        .audit_list(AuditListParams::newest(DEFAULT_WORKSPACE, 5))
        .await
        .unwrap();
    assert_eq!(audit[0].action, "run.create_batch");
    assert_eq!(audit[0].details["count"], 3200);
}

async fn events_of_another_workspace_are_not_found(store: DynStore) {
    let mut p = run("noop");
    p.workspace_id = "other".into();
    let theirs = insert(&store, p).await;
    let mine = insert(&store, run("noop")).await;
    let list = |ws: &str, id: RunId| store.events_list(EventsListParams::new(ws, id, 10));
    assert!(matches!(
        list(DEFAULT_WORKSPACE, theirs.id).await,
        Err(StoreError::NotFound { what: "run", .. })
    ));
    assert_eq!(list("other", theirs.id).await.unwrap().len(), 1);
    assert_eq!(list(DEFAULT_WORKSPACE, mine.id).await.unwrap().len(), 1);
    assert!(matches!(
        list(DEFAULT_WORKSPACE, RunId(mine.id.0 + 100)).await,
        Err(StoreError::NotFound { what: "run", .. })
    ));
    let none_new = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, mine.id, 10).after(Seq(1)))
        .await
        .unwrap();
    assert!(
        none_new.is_empty(),
        "a run without new events has an empty page"
    );
}

/// PostgreSQL fills the attempt-started template inside its claim, SQLite
/// in Rust: the event must read the same, braces in the worker id included.
async fn attempt_started_reads_the_same_on_both(store: DynStore) {
    let mut p = run("noop");
    p.max_attempts = 3;
    let r = insert(&store, p).await;
    let claimed = claim(&store, "w{attempt}", 1, t0()).await;
    assert_eq!(ids(&claimed), vec![r.id]);
    let events = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 10))
        .await
        .unwrap();
    assert_eq!(events[1].seq, Seq(2));
    assert_eq!(
        events[1].message,
        "attempt 1 of 3 started on worker w{attempt}"
    );
    assert_eq!(
        events[1].data,
        json!({"kind": "attempt_start", "attempt": 1, "worker_id": "w{attempt}"})
    );
    assert_eq!(events[1].level, EventLevel::Info);
}
