//! The approvals inbox in headless Chromium: the count in the navigation,
//! a waiting run's plan and requester, approving it with a comment, the
//! run view showing who decided, when and why, and a self-approval refused.

#[allow(dead_code)]
#[path = "browser/support.rs"]
mod support;

use serde_json::json;
use support::{Browser, BrowserOptions, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_inbox_approves_with_a_comment() {
    let server = Server::start().await;
    // Requested by alice (written to the store: the server runs in local
    // mode, where the browser acts as `operator`, someone else), with the
    // plan the server makes for that deploy.
    let plan = server
        .post("/parse", json!({"text": "deploy opsroom to prod"}))
        .await["plan"]
        .clone();
    let now = chrono::Utc::now();
    let mut p = opsroom_store::RunInsertParams::new("deploy", now);
    p.env = Some("prod".into());
    p.target = Some("opsroom".into());
    p.plan = plan;
    p.risk = opsroom_store::Risk::Write;
    p.lock_key = Some("prod/opsroom".into());
    p.needs_approval = true;
    p.approval_expires_at = Some(now + chrono::Duration::hours(1));
    p.actor = "alice".into();
    let (theirs, _) = server.store.store.run_insert(p).await.unwrap();
    let mut b = Browser::start("approvals", BrowserOptions::default()).await;
    b.goto(&server.url("/")).await;
    b.wait(
        "count in the navigation",
        "const c = document.getElementById('nav-approvals-count'); return c && !c.hidden && c.textContent === '1'",
    )
    .await;
    b.click("nav a[href='/approvals']").await;
    b.wait(
        "the waiting run's card",
        &format!(
            "return document.querySelector('.approval-card[data-run=\"{}\"] ol.plan')",
            theirs.id
        ),
    )
    .await;
    let card = b
        .js(
            "const c = document.querySelector('.approval-card'); return [c.querySelector('[data-field=requested_by]').textContent, c.querySelectorAll('ol.plan > li').length, !!c.querySelector('[data-action=cancel]')]",
            vec![],
        )
        .await;
    assert_eq!(
        card,
        json!(["alice", 5, false]),
        "requester, the five phases' plan, no cancel"
    );
    b.screenshot("inbox").await;
    b.find(".approval-card .approval-comment")
        .await
        .send_keys("plan checked, go")
        .await
        .unwrap();
    b.click(".approval-card [data-action=approve]").await;
    b.wait(
        "inbox empty and count gone",
        "return document.querySelector('#approvals .empty') && document.getElementById('nav-approvals-count').hidden",
    )
    .await;
    b.screenshot("inbox-empty").await;

    // The run view says who requested, who approved, when, and why.
    b.goto(&server.url(&format!("/runs/{}", theirs.id))).await;
    b.wait(
        "approval shown on the run",
        "const a = document.querySelector('.approval-info[data-state=approved]'); return a && a.querySelector('[data-field=decided_by]') && a.querySelector('.decision time')",
    )
    .await;
    let shown = b
        .js(
            "const a = document.querySelector('.approval-info'); return [a.querySelector('[data-field=requested_by]').textContent, a.querySelector('[data-field=decided_by]').textContent, a.querySelector('[data-field=comment]').textContent]",
            vec![],
        )
        .await;
    assert_eq!(shown, json!(["alice", "operator", "plan checked, go"]));
    b.screenshot("run-approved").await;

    // A run the browser's user requested: approving it is refused.
    let mine = server
        .post(
            "/runs",
            json!({"runbook": "deploy", "env": "prod", "target": "opsroom"}),
        )
        .await;
    b.goto(&server.url("/approvals")).await;
    b.wait(
        "own run listed",
        &format!("return document.querySelector('.approval-card[data-run=\"{}\"] [data-action=approve]')", mine["id"]),
    )
    .await;
    b.click(".approval-card [data-action=approve]").await;
    b.wait(
        "refusal shown",
        "return document.getElementById('toast').textContent.includes('someone else must approve')",
    )
    .await;
    let run = server.get(&format!("/runs/{}", mine["id"])).await;
    assert_eq!(run["status"], "awaiting_approval");
    b.assert_clean_console_except(&["the server responded with a status of 403"])
        .await;
    b.close().await;
    server.stop().await;
}
