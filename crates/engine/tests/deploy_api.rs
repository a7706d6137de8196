//! A deploy through the HTTP API of a real server on port 0: a write to an
//! env whose policy needs approval waits in `awaiting_approval`, the
//! requester cannot approve it, another person can (the audit log records
//! it), and then it runs through the fake Vercel to success.

mod support;

use opsroom_adapters::testing::vercel::FakeVercel;
use opsroom_core::RunStatus;
use opsroom_store::testing::TestStore;
use opsroom_store::DEFAULT_WORKSPACE;
use serde_json::json;
use support::{secret_file, Api, Finished, TOKEN};

fn config(fake: &FakeVercel) -> String {
    format!(
        r#"
[secrets]
vercel = "{secret}"

[environments.prod]
requires_approval = true

[[environments.prod.services]]
name = "web"
kind = "http"
url = "{url}/healthz"

[environments.prod.deploy]
provider = "vercel"
project = "web"
repo = "acme/web"
target = "production"
token_secret = "vercel"
base_url = "{url}"
poll_interval_ms = 5
"#,
        secret = secret_file(TOKEN),
        url = fake.url
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_prod_deploy_runs_through_the_api() {
    let t = TestStore::sqlite().await;
    let fake = FakeVercel::start().await;
    let api = Api::start(&t.store, &config(&fake), 1).await;
    let (status, run) = api
        .post(
            "/api/v1/runs",
            "alice",
            json!({"runbook": "deploy", "env": "prod", "target": "web", "params": {"ref": "release-9"}}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["status"], "awaiting_approval", "{run}");
    let id = opsroom_store::RunId(run["id"].as_i64().unwrap());
    assert_eq!(api.lock_key(id).await.as_deref(), Some("prod/web"));

    let approve = format!("/api/v1/runs/{id}/approve");
    let (status, body) = api.post(&approve, "alice", json!({})).await;
    assert!(
        (400..500).contains(&status),
        "the requester cannot approve: {status} {body}"
    );
    let (status, body) = api.post(&approve, "bob", json!({})).await;
    assert_eq!(status, 200, "{body}");

    // Follow the run's event stream until the server ends it: no sleeps.
    let (streamed, end) = api.client("alice").wait_final(id).await.unwrap();
    let stream = serde_json::to_string(&(&streamed, &end)).unwrap();
    assert!(
        streamed
            .iter()
            .any(|e| e.message.contains("dpl_new1: READY")),
        "provider status was streamed: {stream}"
    );

    let done = Finished::load(&api, id).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    assert_eq!(done.run.approved_by.as_deref(), Some("bob"));
    assert_eq!(fake.live(), "dpl_new1");
    done.assert_never_shows(TOKEN);
    assert!(!stream.contains(TOKEN));
    let audit = t
        .store
        .audit_list(opsroom_store::AuditListParams::newest(
            DEFAULT_WORKSPACE,
            100,
        ))
        .await
        .unwrap();
    assert!(
        audit.iter().any(|a| a.actor == "bob"
            && a.action.contains("approve")
            && a.subject.contains(&id.to_string())),
        "{audit:?}"
    );
    api.stop().await;
    t.cleanup().await;
}
