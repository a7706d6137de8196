//! Two-person approvals and the audit log through the HTTP API, on both
//! stores: self-approval is refused with 403 `self_approval`, comments are
//! kept and shown, an approval expires (with an injected clock, no sleep)
//! into a rejection, `GET /api/v1/approvals` lists what waits with its
//! exact plan, and the audit export parses back as JSON lines and CSV.

use chrono::{Duration, TimeZone, Utc};
use opsroom_engine::{Clock, ManualClock, OpsConfig};
use opsroom_server::client::{ApiClient, RunAction};
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::{AuditEntryView, AuditQuery, CreateRun, RunView};
use opsroom_store::{AuditAppendParams, DynStore, RunId, DEFAULT_WORKSPACE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

const ADMIN: &str = "approvals-test-admin-token";

/// A client acting as `user`, an approver of `default` with a token of
/// their own (made by the admin token).
fn admin(app: &TestApp) -> ApiClient {
    ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(ADMIN.into()))
}

async fn as_user(app: &TestApp, user: &str) -> ApiClient {
    ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(ADMIN.into()))
        .member_with_token(DEFAULT_WORKSPACE, user, "approver")
        .await
        .unwrap()
}

fn prod_deploy() -> CreateRun {
    CreateRun {
        runbook: Some("deploy".into()),
        env: Some("prod".into()),
        target: Some("opsroom".into()),
        ..Default::default()
    }
}

async fn spawn(store: &DynStore, workers: usize, clock: Option<Arc<ManualClock>>) -> TestApp {
    let mut config = OpsConfig::demo("http://127.0.0.1:9");
    config.approvals.expire_after_secs = 3600;
    TestApp::spawn(
        store.clone(),
        TestAppOptions {
            config: Some(config),
            workers,
            clock: clock.map(|c| c as Arc<dyn opsroom_engine::Clock>),
            admin_token: Some(ADMIN.into()),
            ..Default::default()
        },
    )
    .await
}

async fn audit(api: &ApiClient, format: &str) -> String {
    let mut out = Vec::new();
    api.audit_export(
        &AuditQuery {
            format: Some(format.into()),
            ..Default::default()
        },
        &mut out,
    )
    .await
    .unwrap();
    String::from_utf8(out).unwrap()
}

fn jsonl(text: &str) -> Vec<AuditEntryView> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

async fn self_approval_is_forbidden_and_decisions_are_kept(store: DynStore) {
    // No workers: approved runs stay queued, nothing executes.
    let app = spawn(&store, 0, None).await;
    let alice = as_user(&app, "alice").await;
    let bob = as_user(&app, "bob").await;
    let (run, _) = alice.create_run(&prod_deploy()).await.unwrap();
    assert_eq!(run.status.as_str(), "awaiting_approval");
    let approval = run
        .approval
        .clone()
        .expect("a run that needs approval says so");
    assert_eq!(
        (approval.state.as_str(), approval.requested_by.as_str()),
        ("pending", "alice")
    );
    assert_eq!(approval.requested_at, run.created_at);
    assert_eq!(
        approval.expires_at,
        Some(run.created_at + Duration::hours(1)),
        "expires after the configured time"
    );

    // The requester may neither approve nor reject: 403 self_approval,
    // and nothing about the run changes.
    for action in ["approve", "reject"] {
        let (status, err) = alice
            .send_json(
                Method::POST,
                &format!("/api/v1/runs/{}/{action}", run.id),
                Some(&json!({"comment": "looks fine to me"})),
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {err}");
        assert_eq!(err["error"]["code"], "self_approval", "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("alice"));
    }
    let unchanged = alice.run(run.id).await.unwrap();
    assert_eq!(unchanged, run, "a refused decision changes nothing");
    let events = alice.all_events(run.id, Default::default()).await.unwrap();
    assert_eq!(events.len(), 1, "only the created event: {events:?}");

    // A comment that is too long is refused, naming it.
    let (status, err) = bob
        .send_json(
            Method::POST,
            &format!("/api/v1/runs/{}/approve", run.id),
            Some(&json!({"comment": "x".repeat(1001)})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["error"]["code"], "invalid_comment");

    // Someone else approves, with a comment: stored and shown.
    let approved = bob
        .act(run.id, RunAction::Approve, Some("checked the plan".into()))
        .await
        .unwrap();
    assert_eq!(approved.status.as_str(), "queued");
    assert_eq!(approved.approved_by.as_deref(), Some("bob"));
    let a = approved.approval.clone().unwrap();
    assert_eq!(a.state, "approved");
    assert_eq!(a.decided_by.as_deref(), Some("bob"));
    assert_eq!(a.comment.as_deref(), Some("checked the plan"));
    assert!(a.decided_at.is_some());
    assert_eq!(alice.run(run.id).await.unwrap(), approved);
    let events = alice.all_events(run.id, Default::default()).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.message == "approved by bob: checked the plan; queued"),
        "{events:?}"
    );
    // Deciding twice is a conflict, not a second decision.
    let (status, _) = bob
        .send_json(
            Method::POST,
            &format!("/api/v1/runs/{}/reject", run.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CONFLICT);

    // A rejection by someone else, with a comment (`reason` is accepted too).
    let (second, _) = alice.create_run(&prod_deploy()).await.unwrap();
    let (status, rejected) = bob
        .send_json(
            Method::POST,
            &format!("/api/v1/runs/{}/reject", second.id),
            Some(&json!({"reason": "not during the freeze"})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{rejected}");
    let rejected: RunView = serde_json::from_value(rejected).unwrap();
    assert_eq!(rejected.status.as_str(), "rejected");
    let a = rejected.approval.unwrap();
    assert_eq!(
        (
            a.state.as_str(),
            a.decided_by.as_deref(),
            a.comment.as_deref()
        ),
        ("rejected", Some("bob"), Some("not during the freeze"))
    );

    // A run that needs no approval has none.
    let (read, _) = alice
        .create_run(&CreateRun {
            runbook: Some("noop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(read.approval, None);
    app.stop().await;
}

async fn approvals_list_what_waits_with_its_plan(store: DynStore) {
    let app = spawn(&store, 0, None).await;
    let alice = as_user(&app, "alice").await;
    let bob = as_user(&app, "bob").await;
    assert!(bob.approvals().await.unwrap().is_empty());
    let (first, _) = alice.create_run(&prod_deploy()).await.unwrap();
    let (second, _) = alice
        .create_run(&CreateRun {
            text: Some("deploy opsroom to prod".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    alice
        .create_run(&CreateRun {
            runbook: Some("noop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let waiting = bob.approvals().await.unwrap();
    assert_eq!(
        waiting.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first.id, second.id],
        "oldest request first; runs that need no approval are not listed"
    );
    // The exact plan the run will execute: what the run stores.
    let stored = app.engine.store.run_get("default", first.id).await.unwrap();
    assert_eq!(waiting[0].plan, stored.plan);
    let phases: Vec<&str> = waiting[0]
        .plan
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        ["validate", "preflight", "action", "verify", "summarize"]
    );
    assert!(!waiting[0].plan[2]["steps"].as_array().unwrap().is_empty());
    assert_eq!(waiting[1].text.as_deref(), Some("deploy opsroom to prod"));
    let a = waiting[0].approval.as_ref().unwrap();
    assert_eq!(a.requested_by, "alice");
    assert!(a.expires_at.is_some());
    // The raw answer has the fields a script reads.
    let (status, raw) = bob
        .send_json(Method::GET, "/api/v1/approvals", None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    for field in ["id", "plan", "created_by", "created_at", "approval"] {
        assert!(raw[0].get(field).is_some(), "{field} in {raw}");
    }
    assert_eq!(raw[0]["approval"]["requested_by"], "alice");

    bob.act(first.id, RunAction::Approve, None).await.unwrap();
    let waiting = bob.approvals().await.unwrap();
    assert_eq!(
        waiting.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second.id]
    );
    app.stop().await;
}

async fn an_expired_approval_rejects_the_run_once(store: DynStore) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    // Two servers with workers on the same store: both sweep.
    let app = spawn(&store, 1, Some(clock.clone())).await;
    let other = spawn(&store, 1, Some(clock.clone())).await;
    let alice = as_user(&app, "alice").await;
    let (run, _) = alice.create_run(&prod_deploy()).await.unwrap();
    let (kept, _) = alice.create_run(&prod_deploy()).await.unwrap();
    as_user(&app, "bob")
        .await
        .act(kept.id, RunAction::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        run.approval.as_ref().unwrap().expires_at,
        Some(clock.now() + Duration::hours(1))
    );
    // An hour and a second later the workers' next heartbeat expires it.
    clock.advance(Duration::seconds(3601));
    let (events, end) =
        tokio::time::timeout(std::time::Duration::from_secs(30), alice.wait_final(run.id))
            .await
            .expect("expired within the heartbeats")
            .unwrap();
    assert_eq!(end.status.as_str(), "rejected");
    let reason = end.error.clone().unwrap();
    assert!(reason.starts_with("approval expired"), "{reason}");
    let expired_events: Vec<_> = events
        .iter()
        .filter(|e| e.data["kind"] == "approval_expired")
        .collect();
    assert_eq!(expired_events.len(), 1, "expired exactly once: {events:?}");
    let got = alice.run(run.id).await.unwrap();
    let a = got.approval.unwrap();
    assert_eq!(a.state, "expired");
    assert_eq!(got.error.as_deref(), Some(reason.as_str()));
    assert!(alice.approvals().await.unwrap().is_empty());

    let log = jsonl(&audit(&admin(&app), "jsonl").await);
    let expiries: Vec<_> = log.iter().filter(|e| e.action == "run.expire").collect();
    assert_eq!(expiries.len(), 1, "one audit entry: {log:?}");
    assert_eq!(expiries[0].subject, format!("run:{}", run.id));
    assert_eq!(expiries[0].actor, "system");
    assert_eq!(expiries[0].details["before"]["status"], "awaiting_approval");
    assert_eq!(expiries[0].details["after"]["status"], "rejected");
    // The approved run was not touched by the sweep.
    let approved = alice.run(kept.id).await.unwrap();
    assert_eq!(approved.approval.unwrap().state, "approved");
    other.stop().await;
    app.stop().await;
}

async fn audit_export_parses_back_as_jsonl_and_csv(store: DynStore) {
    let app = spawn(&store, 0, None).await;
    let alice = as_user(&app, "alice").await;
    let bob = as_user(&app, "bob").await;
    // Reading the audit log is for admins.
    let admin = ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(ADMIN.into()));
    // A command text a spreadsheet would run as a formula, with a comma and quotes.
    let (noop, _) = alice
        .create_run(&CreateRun {
            runbook: Some("noop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    alice
        .act(
            noop.id,
            RunAction::Cancel,
            Some("=HYPERLINK(\"x\"), oops".into()),
        )
        .await
        .unwrap();
    let retried = alice.retry(noop.id).await.unwrap();
    let (deploy, _) = alice.create_run(&prod_deploy()).await.unwrap();
    bob.act(deploy.id, RunAction::Reject, Some("no".into()))
        .await
        .unwrap();
    let (deploy2, _) = alice.create_run(&prod_deploy()).await.unwrap();
    bob.act(deploy2.id, RunAction::Approve, Some("+1 ok".into()))
        .await
        .unwrap();

    // The admin's user, member and token entries come first; then the runs'.
    let entries: Vec<AuditEntryView> = jsonl(&audit(&admin, "jsonl").await)
        .into_iter()
        .filter(|e| e.action.starts_with("run."))
        .collect();
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.subject.as_str()))
        .collect();
    let run = |id: RunId| format!("run:{id}");
    assert_eq!(
        actions,
        [
            ("run.create", "alice", run(noop.id).as_str()),
            ("run.cancel", "alice", run(noop.id).as_str()),
            ("run.retry", "alice", run(retried.id).as_str()),
            ("run.create", "alice", run(deploy.id).as_str()),
            ("run.reject", "bob", run(deploy.id).as_str()),
            ("run.create", "alice", run(deploy2.id).as_str()),
            ("run.approve", "bob", run(deploy2.id).as_str()),
        ],
        "oldest first"
    );
    for e in &entries {
        assert_eq!(e.workspace, "default");
        assert_eq!(e.source.as_deref(), Some("127.0.0.1"), "{e:?}");
    }
    let cancel = &entries[1];
    assert_eq!(cancel.details["before"]["status"], "queued");
    assert_eq!(cancel.details["after"]["status"], "cancelled");
    assert_eq!(entries[2].details["retry_of"], noop.id.0);
    assert_eq!(entries[4].details["comment"], "no");
    assert_eq!(entries[4].details["after"]["status"], "rejected");
    assert_eq!(entries[6].details["before"]["status"], "awaiting_approval");
    assert_eq!(entries[6].details["after"]["status"], "queued");

    // CSV: a header, one row per entry, quoted so it parses back, and no
    // cell that a spreadsheet would evaluate.
    let csv = audit(&admin, "csv").await;
    // The header, then the runs' rows (the identity entries left out).
    let rows: Vec<Vec<String>> = parse_csv(&csv)
        .into_iter()
        .enumerate()
        .filter(|(i, r)| *i == 0 || r[4].starts_with("run."))
        .map(|(_, r)| r)
        .collect();
    assert_eq!(
        rows[0],
        [
            "id",
            "ts",
            "workspace",
            "actor",
            "action",
            "subject",
            "source",
            "details"
        ]
    );
    assert_eq!(rows.len(), entries.len() + 1, "{csv}");
    for (row, e) in rows[1..].iter().zip(&entries) {
        assert_eq!(row[0], e.id.to_string());
        assert_eq!(row[3], e.actor);
        assert_eq!(row[4], e.action);
        assert_eq!(row[5], e.subject);
        assert_eq!(row[6], "127.0.0.1");
        let details: Value = serde_json::from_str(&row[7]).unwrap();
        assert_eq!(details, e.details);
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "formula cell {cell:?} in {csv}"
            );
        }
    }

    // Filters: since, action, actor; a bad format or time is a 400.
    let mut out = Vec::new();
    admin
        .audit_export(
            &AuditQuery {
                action: Some("run.approve".into()),
                actor: Some("bob".into()),
                since: Some(entries[0].ts),
                format: None,
            },
            &mut out,
        )
        .await
        .unwrap();
    let only = jsonl(std::str::from_utf8(&out).unwrap());
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].subject, run(deploy2.id));
    let mut out = Vec::new();
    admin
        .audit_export(
            &AuditQuery {
                since: Some(Utc::now() + Duration::days(1)),
                ..Default::default()
            },
            &mut out,
        )
        .await
        .unwrap();
    assert!(out.is_empty(), "nothing after tomorrow");
    // A cell that would be a formula is written with a leading `'`.
    // (User names cannot start with `=`; an entry written by the store can.)
    store
        .audit_append(AuditAppendParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            ts: Utc::now(),
            actor: "=2+3".into(),
            action: "run.create".into(),
            subject: "run:1".into(),
            source: None,
            details: json!({}),
        })
        .await
        .unwrap();
    let rows = parse_csv(&audit(&admin, "csv").await);
    let last = rows.last().unwrap();
    assert_eq!(last[3], "'=2+3", "{last:?}");
    assert_eq!(
        jsonl(&audit(&admin, "jsonl").await).last().unwrap().actor,
        "=2+3"
    );
    for query in ["format=xml", "since=yesterday", "limit=3"] {
        let (status, err) = admin
            .send_json(Method::GET, &format!("/api/v1/audit?{query}"), None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {err}");
        assert_eq!(err["error"]["code"], "invalid_query", "{query}: {err}");
    }
    app.stop().await;
}

/// Reads CSV as written by RFC 4180: quoted cells, `""` for a quote,
/// line breaks inside quotes, CRLF between rows.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        cell.is_empty() && row.is_empty(),
        "the CSV ends with a line break"
    );
    rows
}

opsroom_store::on_both_stores!(
    self_approval_is_forbidden_and_decisions_are_kept,
    approvals_list_what_waits_with_its_plan,
    an_expired_approval_rejects_the_run_once,
    audit_export_parses_back_as_jsonl_and_csv,
);
