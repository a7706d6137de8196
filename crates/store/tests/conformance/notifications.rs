//! Notifications on both stores: each status change of interest queues
//! exactly one notice in its own transaction (whatever wrote it: insert,
//! claim, completion, approval, rescue); a notice fans out into one
//! delivery per channel once, however many processes fan out; deliveries
//! are claimed by one sender at a time, retried when due, and every
//! attempt is logged, newest first, per workspace.

use super::{action, claim, finish, insert, run, t0};
use chrono::Duration;
use opsroom_core::RunStatus;
use opsroom_store::*;
use serde_json::json;

async fn events_of(store: &DynStore, run_id: RunId) -> Vec<String> {
    store
        .run_notices_pending(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.run_id == run_id)
        .map(|n| n.event)
        .collect()
}

async fn every_transition_of_interest_queues_one_notice(store: DynStore) {
    // Waiting for approval, approved (queued: not of interest), started, failed.
    let mut p = run("deploy");
    p.needs_approval = true;
    p.actor = "ana".into();
    let waiting = insert(&store, p).await;
    assert_eq!(
        events_of(&store, waiting.id).await,
        ["run.awaiting_approval"]
    );
    store.run_approve(action(waiting.id, "bob")).await.unwrap();
    let running = claim(&store, "w1", 1, t0()).await.remove(0);
    finish(&store, &running, RunStatus::Failed).await;
    assert_eq!(
        events_of(&store, waiting.id).await,
        ["run.awaiting_approval", "run.started", "run.failed"]
    );
    // Each notice keeps the run as its transition left it, whatever the
    // run has become since.
    let states: Vec<(RunStatus, i32, Option<String>, bool, bool)> = store
        .run_notices_pending(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.run_id == waiting.id)
        .map(|n| {
            let s = n.state.expect("the transition's state");
            (
                s.status,
                s.attempt,
                s.error,
                s.started_at.is_some(),
                s.finished_at.is_some(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (RunStatus::AwaitingApproval, 0, None, false, false),
            (RunStatus::Running, 1, None, true, false),
            (RunStatus::Failed, 1, None, true, true),
        ]
    );

    // A plain run that succeeds; a queued run that is cancelled says nothing.
    let ok = insert(&store, run("noop")).await;
    assert!(
        events_of(&store, ok.id).await.is_empty(),
        "queued is not an event"
    );
    let running = claim(&store, "w1", 1, t0()).await.remove(0);
    finish(&store, &running, RunStatus::Succeeded).await;
    assert_eq!(
        events_of(&store, ok.id).await,
        ["run.started", "run.succeeded"]
    );
    let cancelled = insert(&store, run("noop")).await;
    store.run_cancel(action(cancelled.id, "ana")).await.unwrap();
    assert!(events_of(&store, cancelled.id).await.is_empty());

    // A run whose worker died is rescued back to the queue.
    let mut p = run("noop");
    p.max_attempts = 2;
    let r = insert(&store, p).await;
    claim(&store, "dead", 1, t0()).await;
    let now = t0() + Duration::seconds(31);
    store
        .runs_rescue(RunsRescueParams {
            stale_before: now - Duration::seconds(30),
            now,
            retry_at: now,
        })
        .await
        .unwrap();
    assert_eq!(
        events_of(&store, r.id).await,
        ["run.started", "run.rescued"]
    );
}

fn claim_at(now: chrono::DateTime<chrono::Utc>) -> DeliveriesClaimParams {
    DeliveriesClaimParams {
        now,
        until: now + Duration::minutes(2),
        limit: 10,
    }
}

async fn deliveries_are_fanned_out_once_claimed_once_and_logged(store: DynStore) {
    let r = insert(&store, run("noop")).await;
    let running = claim(&store, "w1", 1, t0()).await.remove(0);
    finish(&store, &running, RunStatus::Failed).await;
    let notices = store.run_notices_pending(10).await.unwrap();
    assert_eq!(notices.len(), 2);
    let failed = notices.iter().find(|n| n.event == "run.failed").unwrap();
    let started = notices.iter().find(|n| n.event == "run.started").unwrap();

    let enqueue = |notice: &RunNotice, channels: &[&str]| DeliveriesEnqueueParams {
        notice: notice.clone(),
        channels: channels.iter().map(|c| c.to_string()).collect(),
        run: json!({"id": r.id, "status": "failed"}),
        now: t0(),
    };
    store
        .deliveries_enqueue(enqueue(failed, &["hook", "slack"]))
        .await
        .unwrap();
    // Another process fanning out the same notice adds nothing.
    store
        .deliveries_enqueue(enqueue(failed, &["hook", "slack", "extra"]))
        .await
        .unwrap();
    // A notice no channel wants is simply gone.
    store
        .deliveries_enqueue(enqueue(started, &[]))
        .await
        .unwrap();
    assert!(store.run_notices_pending(10).await.unwrap().is_empty());

    let mut claimed = store.deliveries_claim(claim_at(t0())).await.unwrap();
    claimed.sort_by(|a, b| a.channel.cmp(&b.channel));
    let channels: Vec<&str> = claimed.iter().map(|d| d.channel.as_str()).collect();
    assert_eq!(channels, ["hook", "slack"]);
    assert_eq!(claimed[0].run["status"], "failed");
    assert_eq!(claimed[0].event, "run.failed");
    assert_eq!(claimed[0].attempts, 0);
    assert!(
        store
            .deliveries_claim(claim_at(t0()))
            .await
            .unwrap()
            .is_empty(),
        "a claimed delivery is not claimed again while its claim holds"
    );

    // hook: 500, retried in 5 s; slack: delivered at once.
    let hook = claimed[0].clone();
    let attempt = store
        .delivery_attempt_record(DeliveryAttemptParams {
            delivery: hook,
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            next: DeliveryNext::RetryAt(t0() + Duration::seconds(5)),
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!((attempt.attempt, attempt.status_code), (1, Some(500)));
    store
        .delivery_attempt_record(DeliveryAttemptParams {
            delivery: claimed[1].clone(),
            status_code: Some(200),
            error: None,
            next: DeliveryNext::Delivered,
            now: t0(),
        })
        .await
        .unwrap();
    assert!(
        store
            .deliveries_claim(claim_at(t0() + Duration::seconds(4)))
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let again = store
        .deliveries_claim(claim_at(t0() + Duration::seconds(5)))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].channel.as_str(), again[0].attempts), ("hook", 1));
    store
        .delivery_attempt_record(DeliveryAttemptParams {
            delivery: again[0].clone(),
            status_code: Some(204),
            error: None,
            next: DeliveryNext::Delivered,
            now: t0() + Duration::seconds(5),
        })
        .await
        .unwrap();
    assert!(store
        .deliveries_claim(claim_at(t0() + Duration::hours(1)))
        .await
        .unwrap()
        .is_empty());

    let log = store
        .delivery_attempts_list(DeliveryAttemptsListParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            channel: None,
            before: None,
            limit: 10,
        })
        .await
        .unwrap();
    let seen: Vec<(&str, i32, Option<i32>)> = log
        .iter()
        .map(|a| (a.channel.as_str(), a.attempt, a.status_code))
        .collect();
    assert_eq!(
        seen,
        [
            ("hook", 2, Some(204)),
            ("slack", 1, Some(200)),
            ("hook", 1, Some(500))
        ],
        "newest first"
    );
    let hook_only = store
        .delivery_attempts_list(DeliveryAttemptsListParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            channel: Some("hook".into()),
            before: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(hook_only.len(), 2);
    let older = store
        .delivery_attempts_list(DeliveryAttemptsListParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            channel: None,
            before: Some(log[0].id),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(
        older.iter().map(|a| a.id).collect::<Vec<_>>(),
        [log[1].id],
        "the page after the newest attempt starts at the next one"
    );
    let elsewhere = store
        .delivery_attempts_list(DeliveryAttemptsListParams {
            workspace_id: "another".into(),
            channel: None,
            before: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert!(elsewhere.is_empty(), "attempts belong to their workspace");
}

opsroom_store::on_both_stores!(
    every_transition_of_interest_queues_one_notice,
    deliveries_are_fanned_out_once_claimed_once_and_logged,
);
