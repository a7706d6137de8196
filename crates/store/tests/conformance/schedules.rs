//! Schedules on both stores: create, list per workspace, pause and resume,
//! due across workspaces, a fire recorded once, skipped fires kept, and
//! runs that carry their schedule and fire time.

use super::t0;
use chrono::Duration;
use opsroom_store::*;
use serde_json::json;

fn create(ws: &str, minutes: i64) -> ScheduleCreateParams {
    ScheduleCreateParams {
        workspace_id: ws.into(),
        cron: "*/5 * * * *".into(),
        timezone: "UTC".into(),
        request: json!({"text": "check prod status"}),
        next_fire_at: Some(t0() + Duration::minutes(minutes)),
        actor: "alice".into(),
        source: Some("127.0.0.1".into()),
        now: t0(),
    }
}

fn advance(s: &Schedule, next_minutes: i64) -> ScheduleAdvanceParams {
    ScheduleAdvanceParams {
        workspace_id: s.workspace_id.clone(),
        id: s.id,
        expected: s.next_fire_at.unwrap(),
        next_fire_at: Some(t0() + Duration::minutes(next_minutes)),
        fired: None,
        error: None,
        skipped: None,
        now: t0() + Duration::minutes(6),
    }
}

async fn schedules_are_created_listed_paused_and_deleted(store: DynStore) {
    let a = store
        .schedule_create(create(DEFAULT_WORKSPACE, 5))
        .await
        .unwrap();
    let other = store.schedule_create(create("other", 5)).await.unwrap();
    assert_eq!(a.request, json!({"text": "check prod status"}));
    assert_eq!(a.next_fire_at, Some(t0() + Duration::minutes(5)));
    assert!(!a.paused);
    assert_eq!((a.skipped_count, a.skipped.len()), (0, 0));
    let listed = store.schedules_list(DEFAULT_WORKSPACE).await.unwrap();
    assert_eq!(listed, vec![a.clone()]);
    // Another workspace's schedule is not found from this one.
    assert!(matches!(
        store.schedule_get(DEFAULT_WORKSPACE, other.id).await,
        Err(StoreError::NotFound { .. })
    ));

    let pause = |paused: bool, next: Option<i64>| SchedulePauseParams {
        workspace_id: DEFAULT_WORKSPACE.into(),
        id: a.id,
        paused,
        next_fire_at: next.map(|m| t0() + Duration::minutes(m)),
        actor: "bob".into(),
        source: None,
        now: t0() + Duration::minutes(1),
    };
    let paused = store.schedule_pause(pause(true, Some(99))).await.unwrap();
    assert!(paused.paused);
    assert_eq!(
        paused.next_fire_at, None,
        "a paused schedule has no next fire"
    );
    // Not due while paused, even long after.
    let due = store
        .schedules_due(t0() + Duration::days(1), 10)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|s| s.id).collect::<Vec<_>>(), vec![other.id]);
    let resumed = store.schedule_pause(pause(false, Some(20))).await.unwrap();
    assert!(!resumed.paused);
    assert_eq!(resumed.next_fire_at, Some(t0() + Duration::minutes(20)));
    // Resuming again changes nothing.
    let again = store.schedule_pause(pause(false, Some(40))).await.unwrap();
    assert_eq!(again, resumed);

    store
        .schedule_delete(ScheduleDeleteParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            id: a.id,
            actor: "bob".into(),
            source: None,
            now: t0() + Duration::minutes(2),
        })
        .await
        .unwrap();
    assert!(store
        .schedules_list(DEFAULT_WORKSPACE)
        .await
        .unwrap()
        .is_empty());
    let gone = store
        .schedule_delete(ScheduleDeleteParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            id: a.id,
            actor: "bob".into(),
            source: None,
            now: t0(),
        })
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound { .. })));

    let audit = store
        .audit_list(AuditListParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "schedule.create",
            "schedule.pause",
            "schedule.resume",
            "schedule.delete"
        ]
    );
    assert!(audit
        .iter()
        .all(|e| e.subject == format!("schedule:{}", a.id)));
}

async fn a_due_fire_is_recorded_once(store: DynStore) {
    let s = store
        .schedule_create(create(DEFAULT_WORKSPACE, 5))
        .await
        .unwrap();
    let o = store.schedule_create(create("other", 10)).await.unwrap();
    assert!(store
        .schedules_due(t0() + Duration::minutes(4), 10)
        .await
        .unwrap()
        .is_empty());
    let due = store
        .schedules_due(t0() + Duration::minutes(10), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![s.id, o.id]
    );

    // The fire's run: one, whoever inserts it.
    let fire = t0() + Duration::minutes(5);
    let mut p = RunInsertParams::new("noop", t0() + Duration::minutes(5));
    p.idempotency_key = Some(fire_key(s.id, fire));
    p.schedule_id = Some(s.id);
    p.scheduled_for = Some(fire);
    let (run, created) = store.run_insert(p.clone()).await.unwrap();
    assert!(created);
    let (again, created) = store.run_insert(p).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, run.id);
    let read = store.run_get(DEFAULT_WORKSPACE, run.id).await.unwrap();
    assert_eq!(read.schedule_id, Some(s.id));
    assert_eq!(read.scheduled_for, Some(fire));
    assert_eq!(
        read.idempotency_key.as_deref(),
        Some(format!("schedule:{}:2026-01-01T12:05:00Z", s.id).as_str())
    );

    let skipped = SkippedFires {
        first: t0(),
        last: t0() + Duration::minutes(1),
        count: 2,
        noticed_at: t0() + Duration::minutes(6),
    };
    let mut first = advance(&s, 10);
    first.fired = Some((fire, Some(run.id)));
    first.skipped = Some(skipped.clone());
    assert!(store.schedule_advance(first.clone()).await.unwrap());
    // A second scheduler that read the same fire records nothing.
    assert!(!store.schedule_advance(first).await.unwrap());
    let after = store.schedule_get(DEFAULT_WORKSPACE, s.id).await.unwrap();
    assert_eq!(after.next_fire_at, Some(t0() + Duration::minutes(10)));
    assert_eq!(after.last_fire_at, Some(fire));
    assert_eq!(after.last_run_id, Some(run.id));
    assert_eq!(after.skipped_count, 2);
    assert_eq!(after.skipped, vec![skipped.clone()]);

    // Only the newest ranges of skipped fires are kept; the count goes on.
    let mut current = after;
    for i in 0..12 {
        let mut p = advance(&current, 15 + i);
        p.skipped = Some(SkippedFires {
            count: 1,
            ..skipped.clone()
        });
        p.error = Some("unknown env `gone`".into());
        p.fired = Some((current.next_fire_at.unwrap(), None));
        assert!(store.schedule_advance(p).await.unwrap());
        current = store.schedule_get(DEFAULT_WORKSPACE, s.id).await.unwrap();
    }
    assert_eq!(current.skipped_count, 14);
    assert_eq!(current.skipped.len(), 10);
    assert_eq!(current.last_error.as_deref(), Some("unknown env `gone`"));
    assert_eq!(current.last_run_id, None);
}

opsroom_store::on_both_stores!(
    schedules_are_created_listed_paused_and_deleted,
    a_due_fire_is_recorded_once,
);
