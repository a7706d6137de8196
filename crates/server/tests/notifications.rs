//! Notifications and signed hooks through the real server on both stores,
//! with local receivers (axum on port 0) standing in for a webhook
//! consumer, Slack and Discord. Deliveries are driven step by step
//! (`Notifier::step`) on an injected clock: retries and `Retry-After` are
//! checked without waiting. One test restarts the server to show that
//! deliveries pending in the store are sent by the next one.

#[path = "receiver/mod.rs"]
mod receiver;

use chrono::{Duration, Utc};
use opsroom_auth::signature::{sign, verify, SIGNATURE_HEADER};
use opsroom_engine::notify::{DeliveryPolicy, Notifier};
use opsroom_engine::{Clock, ManualClock, OpsConfig, WorkerOptions, WorkerPool};
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::DynStore;
use receiver::Receiver;
use serde_json::{json, Value};
use std::sync::Arc;

const ADMIN: &str = "notifications-test-admin-token";
const WEBHOOK_SECRET: &str = "whsec-test-0123456789";
const HOOK_SECRET: &str = "hook-secret-abcdef";

/// A file holding `value`, for `file:` secret references.
fn secret_file(value: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "opsroom-notify-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::write(&path, value).unwrap();
    path.display().to_string()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) * 1_000_003 + Utc::now().timestamp_subsec_nanos() as u64
}

/// The demo config plus the channels and hooks of `toml`.
fn config_with(toml: &str) -> OpsConfig {
    let envs = "[environments.dev]\n[environments.staging]\n[environments.prod]\n";
    let extra = OpsConfig::parse("test.toml", &format!("{envs}{toml}")).unwrap();
    let mut config = OpsConfig::demo("http://127.0.0.1:9");
    config.notifications = extra.notifications;
    config.hooks = extra.hooks;
    config.secrets.extend(extra.secrets);
    config.public_url = Some("http://ops.example".into());
    config
}

fn webhook_channel(receiver: &Receiver, events: &str) -> String {
    format!(
        r#"
[[notifications]]
kind = "webhook"
url = "{}/hook"
secret = "file:{}"
events = {events}
envs = ["dev"]
"#,
        receiver.url,
        secret_file(WEBHOOK_SECRET)
    )
}

async fn spawn(
    store: &DynStore,
    config: OpsConfig,
    workers: usize,
    clock: Option<Arc<ManualClock>>,
) -> TestApp {
    TestApp::spawn(
        store.clone(),
        TestAppOptions {
            config: Some(config),
            workers,
            clock: clock.map(|c| c as Arc<dyn Clock>),
            admin_token: Some(ADMIN.into()),
            ..Default::default()
        },
    )
    .await
}

fn api(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(ADMIN)
}

/// Creates a run through the API; returns its JSON.
async fn create_run(app: &TestApp, body: Value) -> Value {
    let response = api(app, reqwest::Method::POST, "/api/v1/runs")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn failing_noop(env: &str) -> Value {
    json!({"runbook": "noop", "env": env, "params": {"fail_phase": "action"}, "max_attempts": 1})
}

/// Executes every queued run to its end.
async fn run_queue(app: &TestApp) {
    let pool = WorkerPool::new(app.engine.clone(), WorkerOptions::default());
    while pool.run_batch().await > 0 {}
}

fn notifier(app: &TestApp) -> Notifier {
    Notifier::new(app.engine.clone(), DeliveryPolicy::default())
}

async fn deliveries(app: &TestApp) -> (Vec<Value>, String) {
    let response = api(
        app,
        reqwest::Method::GET,
        "/api/v1/notifications/deliveries",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    (serde_json::from_str(&text).unwrap(), text)
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc::now()))
}

async fn failed_run_reaches_the_webhook_signed(store: DynStore) {
    let receiver = Receiver::spawn(&[]).await;
    let clock = manual_clock();
    let config = config_with(&webhook_channel(&receiver, r#"["run.failed"]"#));
    let app = spawn(&store, config, 0, Some(clock.clone())).await;
    let failed = create_run(&app, failing_noop("dev")).await;
    // Filtered out: another env, and an event the channel does not want.
    create_run(&app, failing_noop("staging")).await;
    create_run(&app, json!({"runbook": "noop", "env": "dev"})).await;
    run_queue(&app).await;

    let report = notifier(&app).step().await.unwrap();
    assert_eq!(report.attempts, 1, "{report:?}");
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/hook");
    let signature = got[0].signature.as_deref().expect("signed");
    let verified = verify(
        WEBHOOK_SECRET.as_bytes(),
        Some(signature),
        &got[0].body,
        clock.now().timestamp(),
    )
    .expect("a valid signature");
    assert_eq!(verified.timestamp, clock.now().timestamp());
    let body = got[0].json();
    assert_eq!(body["event"], "run.failed");
    assert_eq!(body["workspace"], "default");
    assert!(body["sent_at"].is_string());
    assert_eq!(body["run"]["id"], failed["id"]);
    assert_eq!(body["run"]["status"], "failed");
    assert_eq!(body["run"]["runbook"], "noop");
    assert_eq!(
        body["run"]["url"],
        format!("http://ops.example/runs/{}", failed["id"])
    );
    assert!(verify(
        b"another secret",
        Some(signature),
        &got[0].body,
        clock.now().timestamp()
    )
    .is_err());

    let (log, text) = deliveries(&app).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0],
        json!({"id": log[0]["id"], "channel": "webhook", "event": "run.failed", "run_id": failed["id"],
               "attempt": 1, "status_code": 200, "error": null, "at": log[0]["at"]})
    );
    assert!(!text.contains(&receiver.url) && !text.contains(WEBHOOK_SECRET));
    // Filtered by channel; a name that cannot be a channel's is refused.
    for (query, status) in [("webhook", 200), ("nope", 200), ("", 400), ("a%20b", 400)] {
        let response = api(
            &app,
            reqwest::Method::GET,
            &format!("/api/v1/notifications/deliveries?channel={query}"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), status, "channel={query:?}");
        if query == "nope" {
            assert_eq!(response.text().await.unwrap(), "[]");
        }
    }
    // The UI's delivery log shows the channel, never its URL.
    let page = api(&app, reqwest::Method::GET, "/notifications")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-channel=\"webhook\""), "{page}");
    assert!(!page.contains(&receiver.url));
    app.stop().await;
}

async fn a_500_then_200_is_delivered_once_with_two_attempts(store: DynStore) {
    let receiver = Receiver::spawn(&[(500, None)]).await;
    let clock = manual_clock();
    let config = config_with(&webhook_channel(&receiver, r#"["run.failed"]"#));
    let app = spawn(&store, config, 0, Some(clock.clone())).await;
    let failed = create_run(&app, failing_noop("dev")).await;
    run_queue(&app).await;
    let notifier = notifier(&app);
    assert_eq!(notifier.step().await.unwrap().attempts, 1);
    assert_eq!(
        notifier.step().await.unwrap().attempts,
        0,
        "not retried before its backoff"
    );
    clock.advance(Duration::seconds(5));
    assert_eq!(notifier.step().await.unwrap().attempts, 1);
    clock.advance(Duration::hours(2));
    assert_eq!(notifier.step().await.unwrap().attempts, 0, "delivered once");
    assert_eq!(receiver.got().len(), 2);
    let (log, _) = deliveries(&app).await;
    let seen: Vec<(i64, Value)> = log
        .iter()
        .map(|a| (a["attempt"].as_i64().unwrap(), a["status_code"].clone()))
        .collect();
    assert_eq!(seen, [(2, json!(200)), (1, json!(500))], "newest first");
    assert_eq!(log[1]["error"], "HTTP 500");
    assert!(log.iter().all(|a| a["run_id"] == failed["id"]));
    // Paged: the next page starts after the last id of this one.
    let page = |query: String| {
        let app = &app;
        async move {
            let response = api(app, reqwest::Method::GET, &query).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, first) = page("/api/v1/notifications/deliveries?limit=1".into()).await;
    assert_eq!((status, first.as_array().unwrap().len()), (200, 1));
    assert_eq!(first[0]["attempt"], 2);
    let (_, next) = page(format!(
        "/api/v1/notifications/deliveries?limit=1&before={}",
        first[0]["id"]
    ))
    .await;
    assert_eq!(next[0]["attempt"], 1);
    let (status, _) = page("/api/v1/notifications/deliveries?before=x".into()).await;
    assert_eq!(status, 400, "a cursor that is not an id is refused");
    app.stop().await;
}

async fn retry_after_of_a_429_is_honoured(store: DynStore) {
    let receiver = Receiver::spawn(&[(429, Some("120"))]).await;
    let clock = manual_clock();
    let config = config_with(&webhook_channel(&receiver, r#"["run.failed"]"#));
    let app = spawn(&store, config, 0, Some(clock.clone())).await;
    create_run(&app, failing_noop("dev")).await;
    run_queue(&app).await;
    let notifier = notifier(&app);
    assert_eq!(notifier.step().await.unwrap().attempts, 1);
    // The backoff alone (5 s) would have retried by now.
    clock.advance(Duration::seconds(119));
    assert_eq!(notifier.step().await.unwrap().attempts, 0);
    clock.advance(Duration::seconds(1));
    assert_eq!(notifier.step().await.unwrap().attempts, 1);
    let (log, _) = deliveries(&app).await;
    assert_eq!(log[0]["status_code"], 200);
    assert_eq!(log[1]["status_code"], 429);
    app.stop().await;
}

async fn approval_reaches_slack_with_buttons_and_discord_as_an_embed(store: DynStore) {
    let receiver = Receiver::spawn(&[]).await;
    let config = config_with(&format!(
        r#"
[[notifications]]
kind = "slack"
url = "{0}/slack"
events = ["run.awaiting_approval"]

[[notifications]]
kind = "discord"
url = "{0}/discord"
events = ["run.awaiting_approval"]
runbooks = ["deploy"]
"#,
        receiver.url
    ));
    let app = spawn(&store, config, 0, Some(manual_clock())).await;
    let run = create_run(
        &app,
        json!({"runbook": "deploy", "env": "prod", "target": "opsroom"}),
    )
    .await;
    assert_eq!(run["status"], "awaiting_approval");
    // Cancelled before the notifier ran: the message still tells of the
    // approval request as it was, not of the run's state now.
    let cancel = api(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/runs/{}/cancel", run["id"]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(cancel.status(), 200);
    assert_eq!(notifier(&app).step().await.unwrap().attempts, 2);
    let got = receiver.got();
    let slack = got.iter().find(|r| r.path == "/slack").unwrap().json();
    let discord = got.iter().find(|r| r.path == "/discord").unwrap().json();
    assert!(
        got.iter().all(|r| r.signature.is_none()),
        "only webhooks are signed"
    );

    let id = run["id"].to_string();
    let blocks = slack["blocks"].as_array().unwrap();
    let text = slack.to_string();
    for shown in [
        "deploy",
        "prod",
        "awaiting_approval",
        "admin",
        "http://ops.example/runs/",
    ] {
        assert!(text.contains(shown), "{shown} not in {text}");
    }
    assert!(!text.contains("cancelled"), "{text}");
    let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    let button = |action: &str| {
        actions["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action_id"] == action)
            .unwrap_or_else(|| panic!("no {action} button"))
            .clone()
    };
    assert_eq!(button("approve")["value"], id.as_str());
    assert_eq!(button("reject")["value"], id.as_str());
    // The plan is shown: each step of the run's plan is in the message.
    for phase in run["plan"].as_array().unwrap() {
        for step in phase["steps"].as_array().unwrap() {
            assert!(
                text.contains(step.as_str().unwrap()),
                "{step} not in {text}"
            );
        }
    }
    let embed = &discord["embeds"][0];
    assert_eq!(embed["url"], format!("http://ops.example/runs/{id}"));
    assert!(embed["title"].as_str().unwrap().contains("needs approval"));
    assert!(embed["fields"].to_string().contains("prod"));
    app.stop().await;
}

async fn deliveries_pending_in_the_store_are_sent_by_the_next_server(store: DynStore) {
    let receiver = Receiver::spawn(&[(503, None)]).await;
    // The first server's clock is an hour behind, so the retry it schedules
    // is already due for the second server (on the real clock).
    let clock = Arc::new(ManualClock::new(Utc::now() - Duration::hours(1)));
    let config = config_with(&webhook_channel(&receiver, r#"["run.failed"]"#));
    let first = spawn(&store, config.clone(), 0, Some(clock)).await;
    let retried = create_run(&first, failing_noop("dev")).await;
    run_queue(&first).await;
    assert_eq!(notifier(&first).step().await.unwrap().attempts, 1);
    // A second run ends but its notice is not even fanned out.
    let unsent = create_run(&first, failing_noop("dev")).await;
    run_queue(&first).await;
    first.stop().await;
    assert_eq!(receiver.got().len(), 1);

    let second = spawn(&store, config, 1, None).await;
    let got = receiver.wait_for(3).await;
    let mut runs: Vec<Value> = got[1..]
        .iter()
        .map(|r| r.json()["run"]["id"].clone())
        .collect();
    runs.sort_by_key(|v| v.as_i64());
    assert_eq!(runs, [retried["id"].clone(), unsent["id"].clone()]);
    for r in &got[1..] {
        assert!(verify(
            WEBHOOK_SECRET.as_bytes(),
            r.signature.as_deref(),
            &r.body,
            Utc::now().timestamp()
        )
        .is_ok());
    }
    second.stop().await;
}

fn hook_config() -> OpsConfig {
    config_with(&format!(
        r#"
[hooks.ci]
secret = "file:{}"
runbook = "noop"
env = "dev"
allowed_params = ["events"]
"#,
        secret_file(HOOK_SECRET)
    ))
}

async fn run_count(app: &TestApp) -> usize {
    let runs: Vec<Value> = api(app, reqwest::Method::GET, "/api/v1/runs")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    runs.len()
}

async fn post_hook(
    app: &TestApp,
    name: &str,
    body: &str,
    signature: Option<String>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/hooks/{name}", app.url))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn signed_hooks_start_runs_and_refuse_everything_else(store: DynStore) {
    let clock = manual_clock();
    let app = spawn(&store, hook_config(), 0, Some(clock.clone())).await;
    let now = clock.now().timestamp();
    let body = r#"{"params": {"events": 3}}"#;
    let signed = sign(HOOK_SECRET.as_bytes(), now, body.as_bytes());

    let (status, run) = post_hook(&app, "ci", body, Some(signed.clone())).await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["runbook"], "noop");
    assert_eq!(run["env"], "dev");
    assert_eq!(run["params"]["events"], 3);
    assert_eq!(run["created_by"], "hook:ci");
    assert_eq!(run_count(&app).await, 1);

    let refused = [
        // The same signed request again: a replay.
        (body.to_string(), Some(signed.clone()), 409, "conflict"),
        // Signed with another secret.
        (
            body.to_string(),
            Some(sign(b"wrong", now, body.as_bytes())),
            401,
            "bad_signature",
        ),
        // The body changed after signing.
        (
            r#"{"params": {"events": 4}}"#.to_string(),
            Some(signed.clone()),
            401,
            "bad_signature",
        ),
        (body.to_string(), None, 401, "bad_signature"),
        (
            body.to_string(),
            Some("v1=abc".into()),
            401,
            "bad_signature",
        ),
        // Older than 5 minutes.
        (
            body.to_string(),
            Some(sign(HOOK_SECRET.as_bytes(), now - 301, body.as_bytes())),
            401,
            "bad_signature",
        ),
        // Signed, but a param the hook does not allow.
        (
            r#"{"params": {"sleep_ms": 5}}"#.to_string(),
            Some(sign(
                HOOK_SECRET.as_bytes(),
                now,
                br#"{"params": {"sleep_ms": 5}}"#,
            )),
            422,
            "param_not_allowed",
        ),
        // Signed, but not JSON, or not the documented shape.
        (
            "{not json".to_string(),
            Some(sign(HOOK_SECRET.as_bytes(), now, b"{not json")),
            400,
            "invalid_body",
        ),
        (
            r#"{"runbook": "deploy"}"#.to_string(),
            Some(sign(
                HOOK_SECRET.as_bytes(),
                now,
                br#"{"runbook": "deploy"}"#,
            )),
            400,
            "invalid_body",
        ),
    ];
    for (body, signature, want, code) in refused {
        let (status, answer) = post_hook(&app, "ci", &body, signature.clone()).await;
        assert_eq!(status, want, "{body} {signature:?}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert!(!answer.to_string().contains(HOOK_SECRET));
    }
    let (_, answer) = post_hook(
        &app,
        "ci",
        r#"{"params": {"sleep_ms": 5}}"#,
        Some(sign(
            HOOK_SECRET.as_bytes(),
            now,
            br#"{"params": {"sleep_ms": 5}}"#,
        )),
    )
    .await;
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("sleep_ms"));
    let (status, _) = post_hook(&app, "nope", body, Some(signed)).await;
    assert_eq!(status, 404);
    assert_eq!(run_count(&app).await, 1, "nothing refused started a run");

    // A new signature (a later timestamp) for the same body is a new request.
    clock.advance(Duration::seconds(1));
    let again = sign(
        HOOK_SECRET.as_bytes(),
        clock.now().timestamp(),
        body.as_bytes(),
    );
    assert_eq!(post_hook(&app, "ci", body, Some(again)).await.0, 201);
    // An empty body starts the run with its defaults.
    let empty = sign(HOOK_SECRET.as_bytes(), clock.now().timestamp(), b"");
    assert_eq!(post_hook(&app, "ci", "", Some(empty)).await.0, 201);
    assert_eq!(run_count(&app).await, 3);
    app.stop().await;
}

opsroom_store::on_both_stores!(
    failed_run_reaches_the_webhook_signed,
    a_500_then_200_is_delivered_once_with_two_attempts,
    retry_after_of_a_429_is_honoured,
    approval_reaches_slack_with_buttons_and_discord_as_an_embed,
    deliveries_pending_in_the_store_are_sent_by_the_next_server,
    signed_hooks_start_runs_and_refuse_everything_else,
);
