//! A deploy through the HTTP API of a real server on port 0: a write to an
//! env whose policy needs approval waits in `awaiting_approval`, the
//! requester cannot approve it, another person can (the audit log records
//! it), and then it runs through the fake Vercel to success.

mod support;

use opsroom_core::RunStatus;
use opsroom_engine::OpsConfig;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::testing::TestStore;
use opsroom_store::DEFAULT_WORKSPACE;
use serde_json::{json, Value};
use support::fake_vercel::FakeVercel;
use support::{secret_file, Finished, TOKEN};

const ADMIN: &str = "admin-token-for-tests";

fn config(fake: &FakeVercel) -> OpsConfig {
    let text = format!(
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
    );
    OpsConfig::parse("api.toml", &text).unwrap()
}

async fn post(client: &reqwest::Client, url: String, user: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(url)
        .bearer_auth(ADMIN)
        .header("x-opsroom-user", user)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_prod_deploy_runs_through_the_api() {
    let t = TestStore::sqlite().await;
    let fake = FakeVercel::start().await;
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            config: Some(config(&fake)),
            admin_token: Some(ADMIN.into()),
            workers: 1,
        },
    )
    .await;
    let client = reqwest::Client::new();
    let (status, run) = post(
        &client,
        format!("{}/api/v1/runs", app.url),
        "alice",
        json!({"runbook": "deploy", "env": "prod", "target": "web", "params": {"ref": "release-9"}}),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["status"], "awaiting_approval", "{run}");
    assert_eq!(run["lock_key"], "prod/web", "{run}");
    let id = run["id"].as_i64().unwrap();

    let (status, body) = post(
        &client,
        format!("{}/api/v1/runs/{id}/approve", app.url),
        "alice",
        json!({}),
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "the requester cannot approve: {status} {body}"
    );
    let (status, body) = post(
        &client,
        format!("{}/api/v1/runs/{id}/approve", app.url),
        "bob",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Follow the run's event stream until the server ends it: no sleeps.
    let stream = client
        .get(format!("{}/api/v1/runs/{id}/events/stream", app.url))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(stream.contains("event: end"), "{stream}");
    assert!(
        stream.contains("dpl_new1: READY"),
        "provider status was streamed: {stream}"
    );

    let done = Finished::load(&t.store, id).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    assert_eq!(done.run.approved_by.as_deref(), Some("bob"));
    assert_eq!(fake.live(), "dpl_new1");
    done.assert_never_shows(TOKEN);
    assert!(!stream.contains(TOKEN));
    let audit = t.store.audit_list(DEFAULT_WORKSPACE, 100).await.unwrap();
    assert!(
        audit.iter().any(|a| a.actor == "bob"
            && a.action.contains("approve")
            && a.subject.contains(&id.to_string())),
        "{audit:?}"
    );
    app.stop().await;
    t.cleanup().await;
}
