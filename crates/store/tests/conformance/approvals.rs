//! Approvals and the audit log on both stores: comments kept with the
//! decision, expiry exactly once however many sweepers race, and an audit
//! log that can be appended to, read back filtered, and never changed.

use super::{action, insert, run, t0};
use chrono::Duration;
use opsroom_core::RunStatus;
use opsroom_store::testing::TestStore;
use opsroom_store::*;
use serde_json::json;

fn waiting(expires_in: Duration) -> RunInsertParams {
    let mut p = run("deploy");
    p.needs_approval = true;
    p.actor = "ana".into();
    p.approval_expires_at = Some(t0() + expires_in);
    p.source = Some("192.0.2.1".into());
    p
}

async fn decisions_keep_who_when_and_the_comment(store: DynStore) {
    let r = insert(&store, waiting(Duration::hours(24))).await;
    let a = r.approval.clone().unwrap();
    assert_eq!(a.state, ApprovalState::Pending);
    assert_eq!(a.expires_at, Some(t0() + Duration::hours(24)));
    assert_eq!((a.decided_by, a.decided_at, a.comment), (None, None, None));

    let mut p = action(r.id, "bob");
    p.reason = Some("plan checked".into());
    p.now = t0() + Duration::minutes(5);
    p.source = Some("192.0.2.2".into());
    let ok = store.run_approve(p).await.unwrap();
    let a = ok.approval.unwrap();
    assert_eq!(a.state, ApprovalState::Approved);
    assert_eq!(a.decided_by.as_deref(), Some("bob"));
    assert_eq!(a.decided_at, Some(t0() + Duration::minutes(5)));
    assert_eq!(a.comment.as_deref(), Some("plan checked"));

    // Cancelling a waiting run ends its approval as cancelled.
    let c = insert(&store, waiting(Duration::hours(24))).await;
    let cancelled = store.run_cancel(action(c.id, "ana")).await.unwrap();
    assert_eq!(cancelled.approval.unwrap().state, ApprovalState::Cancelled);
    // A run that needs no approval has none.
    assert_eq!(insert(&store, run("noop")).await.approval, None);

    let audit = store
        .audit_list(AuditListParams::newest(DEFAULT_WORKSPACE, 10))
        .await
        .unwrap();
    let approve = audit.iter().find(|e| e.action == "run.approve").unwrap();
    assert_eq!(approve.source.as_deref(), Some("192.0.2.2"));
    assert_eq!(approve.details["comment"], "plan checked");
    assert_eq!(
        (
            &approve.details["before"]["status"],
            &approve.details["after"]["status"]
        ),
        (&json!("awaiting_approval"), &json!("queued"))
    );
    let create = audit
        .iter()
        .find(|e| e.action == "run.create" && e.subject == format!("run:{}", r.id))
        .unwrap();
    assert_eq!(create.source.as_deref(), Some("192.0.2.1"));
}

async fn approvals_expire_exactly_once(store: DynStore) {
    let soon = insert(&store, waiting(Duration::minutes(10))).await;
    let later = insert(&store, waiting(Duration::hours(2))).await;
    let never = {
        let mut p = waiting(Duration::minutes(1));
        p.approval_expires_at = None;
        insert(&store, p).await
    };
    assert!(store
        .runs_expire_approvals(t0() + Duration::minutes(9))
        .await
        .unwrap()
        .is_empty());
    // Eight sweepers at once: each run is expired by exactly one of them.
    let at = t0() + Duration::hours(1);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.runs_expire_approvals(at).await
        }));
    }
    let mut expired = Vec::new();
    for t in tasks {
        expired.extend(t.await.unwrap().unwrap().into_iter().map(|r| r.id));
    }
    assert_eq!(expired, vec![soon.id], "expired once, by one sweeper");
    let got = store.run_get(DEFAULT_WORKSPACE, soon.id).await.unwrap();
    assert_eq!(got.status, RunStatus::Rejected);
    assert_eq!(got.finished_at, Some(at));
    let a = got.approval.unwrap();
    assert_eq!((a.state, a.decided_at), (ApprovalState::Expired, Some(at)));
    assert!(
        got.error
            .as_deref()
            .unwrap()
            .starts_with("approval expired"),
        "{:?}",
        got.error
    );
    let events = store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, soon.id, 10))
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.data["kind"] == "approval_expired")
            .count(),
        1
    );
    let expiries = store
        .audit_list(AuditListParams {
            action: Some("run.expire".into()),
            ..AuditListParams::newest(DEFAULT_WORKSPACE, 10)
        })
        .await
        .unwrap();
    assert_eq!(expiries.len(), 1);
    assert_eq!(expiries[0].actor, "system");
    for r in [&later, &never] {
        let still = store.run_get(DEFAULT_WORKSPACE, r.id).await.unwrap();
        assert_eq!(still.status, RunStatus::AwaitingApproval);
    }
    // Once expired, a late approval is a conflict.
    assert!(matches!(
        store.run_approve(action(soon.id, "bob")).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn audit_appends_and_filters(store: DynStore) {
    let mut ids = Vec::new();
    for (i, (actor, action)) in [
        ("ana", "user.sign_in"),
        ("bob", "user.sign_in_failed"),
        ("ana", "token.create"),
    ]
    .into_iter()
    .enumerate()
    {
        let e = store
            .audit_append(AuditAppendParams {
                workspace_id: DEFAULT_WORKSPACE.into(),
                ts: t0() + Duration::minutes(i as i64),
                actor: actor.into(),
                action: action.into(),
                subject: format!("user:{actor}"),
                source: Some("198.51.100.4".into()),
                details: json!({"n": i}),
            })
            .await
            .unwrap();
        assert_eq!(e.action, action);
        assert_eq!(e.ts, t0() + Duration::minutes(i as i64));
        ids.push(e.id);
    }
    let all = |p: AuditListParams| {
        let store = store.clone();
        async move {
            store
                .audit_list(p)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    let base = AuditListParams {
        workspace_id: DEFAULT_WORKSPACE.into(),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(all(base.clone()).await, ids, "oldest first");
    assert_eq!(
        all(AuditListParams::newest(DEFAULT_WORKSPACE, 10)).await,
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    let page = AuditListParams {
        limit: 1,
        cursor: Some(ids[0]),
        ..base.clone()
    };
    assert_eq!(all(page).await, [ids[1]], "the page after a cursor");
    let newest_page = AuditListParams {
        cursor: Some(ids[2]),
        ..AuditListParams::newest(DEFAULT_WORKSPACE, 10)
    };
    assert_eq!(all(newest_page).await, [ids[1], ids[0]]);
    let ana = AuditListParams {
        actor: Some("ana".into()),
        ..base.clone()
    };
    assert_eq!(all(ana).await, [ids[0], ids[2]]);
    let since = AuditListParams {
        since: Some(t0() + Duration::minutes(1)),
        ..base.clone()
    };
    assert_eq!(all(since).await, [ids[1], ids[2]]);
    let action = AuditListParams {
        action: Some("token.create".into()),
        ..base.clone()
    };
    assert_eq!(all(action).await, [ids[2]]);
    let elsewhere = AuditListParams {
        workspace_id: "other".into(),
        ..base
    };
    assert!(all(elsewhere).await.is_empty(), "per workspace");
}

/// No statement may change or remove an audit entry: PostgreSQL's trigger
/// refuses UPDATE, DELETE and TRUNCATE; SQLite's triggers UPDATE and DELETE.
async fn audit_log_refuses_changes(t: &TestStore) {
    let e = t
        .store
        .audit_append(AuditAppendParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            ts: t0(),
            actor: "ana".into(),
            action: "user.sign_in".into(),
            subject: "user:ana".into(),
            source: None,
            details: json!({}),
        })
        .await
        .unwrap();
    let mut statements = vec![
        format!("UPDATE audit_log SET actor = 'mallory' WHERE id = {}", e.id),
        format!("DELETE FROM audit_log WHERE id = {}", e.id),
        "DELETE FROM audit_log".to_string(),
    ];
    if t.backend() == "postgres" {
        statements.push("TRUNCATE audit_log".into());
    }
    for sql in statements {
        let err = t.try_execute(&sql).await.expect_err(&sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let kept = t
        .store
        .audit_list(AuditListParams::newest(DEFAULT_WORKSPACE, 10))
        .await
        .unwrap();
    assert_eq!(kept, vec![e], "the entry is still there, unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_is_append_only_on_postgres() {
    let t = TestStore::postgres().await;
    audit_log_refuses_changes(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_is_append_only_on_sqlite() {
    let t = TestStore::sqlite().await;
    audit_log_refuses_changes(&t).await;
    t.cleanup().await;
}

opsroom_store::on_both_stores!(
    decisions_keep_who_when_and_the_comment,
    approvals_expire_exactly_once,
    audit_appends_and_filters,
);
