//! ChatOps in Slack through the real server on both stores, with a local
//! receiver (axum on port 0) standing in for Slack: it takes the messages
//! posted to each click's `response_url` and the Slack notification of a
//! run awaiting approval. Requests are signed as Slack signs them (`v0`).
//! Runs execute on the server's own worker; waits are for the receiver's
//! posts (with a deadline), never fixed sleeps.

#[allow(dead_code)]
#[path = "receiver/mod.rs"]
mod receiver;

use chrono::Utc;
use opsroom_auth::signature::{slack_sign, SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER};
use opsroom_engine::OpsConfig;
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::{DynStore, Run, RunId, RunListParams, DEFAULT_WORKSPACE};
use receiver::{Received, Receiver};
use serde_json::{json, Value};
use std::sync::Arc;

const ADMIN: &str = "slack-test-admin-token";
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// Slack user ids and the opsroom users they map to (with their roles).
const ALICE: &str = "U0ALICE"; // approver (who may not approve her own runs)
const BOB: &str = "U0BOB"; // approver
const VICTOR: &str = "U0VICTOR"; // viewer
const GHOST: &str = "U0GHOST"; // mapped, but no role in the workspace
const STRANGER: &str = "U0STRANGER"; // not mapped

/// A server whose `[slack]` names the signing secret (a `file:` reference)
/// and maps the users above, whose prod can be deployed (with the demo's
/// harmless shell deploy) and whose Slack channel hears about approvals.
async fn spawn(store: &DynStore, receiver: &Receiver) -> TestApp {
    let secret = std::env::temp_dir().join(format!(
        "opsroom-slack-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::write(&secret, SIGNING_SECRET).unwrap();
    let extra = OpsConfig::parse(
        "slack.toml",
        &format!(
            r#"
[environments.prod]

[slack]
signing_secret = "file:{}"

[slack.users]
{ALICE} = "alice"
{BOB} = "bob"
{VICTOR} = "victor"
{GHOST} = "ghost"

[[notifications]]
kind = "slack"
url = "{}/notify"
events = ["run.awaiting_approval"]
"#,
            secret.display(),
            receiver.url
        ),
    )
    .unwrap();
    let app = TestApp::spawn(
        store.clone(),
        TestAppOptions {
            admin_token: Some(ADMIN.into()),
            configure: Some(Arc::new(move |config: &mut OpsConfig| {
                config.slack = extra.slack.clone();
                config.notifications = extra.notifications.clone();
                config.secrets.extend(extra.secrets.clone());
                config.public_url = Some("http://ops.example".into());
                let staging = config.environments["staging"].clone();
                let prod = config.environments.get_mut("prod").unwrap();
                prod.services = staging.services;
                prod.deploy = staging.deploy;
            })),
            ..Default::default()
        },
    )
    .await;
    let admin = ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(ADMIN.into()));
    for (user, role) in [
        ("alice", Some("approver")),
        ("bob", Some("approver")),
        ("victor", Some("viewer")),
        ("ghost", None),
    ] {
        admin.user_create(user, None).await.unwrap();
        if let Some(role) = role {
            admin
                .member_set(DEFAULT_WORKSPACE, user, role)
                .await
                .unwrap();
        }
    }
    app
}

/// A request as Slack signs it: body, `X-Slack-Request-Timestamp` and
/// `X-Slack-Signature`.
#[derive(Clone)]
struct Signed {
    body: String,
    timestamp: String,
    signature: Option<String>,
}

impl Signed {
    fn now(body: String) -> Signed {
        Signed::at(body, Utc::now().timestamp())
    }

    fn at(body: String, timestamp: i64) -> Signed {
        Signed {
            signature: Some(slack_sign(
                SIGNING_SECRET.as_bytes(),
                timestamp,
                body.as_bytes(),
            )),
            timestamp: timestamp.to_string(),
            body,
        }
    }
}

fn command(user: &str, text: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", "T0001"),
        ("channel_id", "C0OPS"),
        ("user_id", user),
        ("user_name", "someone"),
        ("command", "/ops"),
        ("text", text),
        ("response_url", "https://hooks.slack.com/commands/T0001/1/x"),
        ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
    ])
    .unwrap()
}

/// A `block_actions` click of `action_id` with `value` by `user`.
fn click(user: &str, action_id: &str, value: &str, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": "T0001"},
        "team": {"id": "T0001"},
        "channel": {"id": "C0OPS", "name": "ops"},
        "container": {"type": "message", "message_ts": "1548261231.000200"},
        "message": {"ts": "1548261231.000200", "text": "…"},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "b", "value": value,
                     "type": "button", "action_ts": "1548426417.840180"}],
    });
    form(&payload)
}

fn form(payload: &Value) -> String {
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

async fn post(app: &TestApp, route: &str, request: &Signed) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .post(format!("{}/api/v1/integrations/slack/{route}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(SLACK_TIMESTAMP_HEADER, &request.timestamp)
        .body(request.body.clone());
    if let Some(signature) = &request.signature {
        rb = rb.header(SLACK_SIGNATURE_HEADER, signature);
    }
    let response = rb.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(!text.contains(SIGNING_SECRET), "{text}");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!(text)),
    )
}

async fn slash(app: &TestApp, user: &str, text: &str) -> Value {
    let (status, answer) = post(app, "commands", &Signed::now(command(user, text))).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn press(app: &TestApp, user: &str, action: &str, value: &str, to: &str) -> (u16, Value) {
    post(
        app,
        "interactions",
        &Signed::now(click(user, action, value, to)),
    )
    .await
}

/// The Run button of a plan card: its value.
fn run_button(card: &Value) -> String {
    let actions = card["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap_or_else(|| panic!("no buttons in {card}"));
    let button = &actions["elements"][0];
    assert_eq!(button["action_id"], "run", "{card}");
    button["value"].as_str().unwrap().to_string()
}

async fn runs(app: &TestApp) -> Vec<Run> {
    app.engine
        .store
        .run_list(RunListParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// The posts made to `path`, once there are at least `n`.
async fn posts(receiver: &Receiver, path: &str, n: usize) -> Vec<Value> {
    loop {
        let all = receiver.got();
        let got: Vec<Value> = all
            .iter()
            .filter(|r| r.path == path)
            .map(Received::json)
            .collect();
        if got.len() >= n {
            return got;
        }
        receiver.wait_for(all.len() + 1).await;
    }
}

fn text(message: &Value) -> String {
    message["text"].as_str().unwrap_or_default().to_string()
}

async fn a_slash_command_shows_the_plan_and_run_starts_it_as_the_mapped_user(store: DynStore) {
    let receiver = Receiver::spawn(&[]).await;
    let app = spawn(&store, &receiver).await;

    let card = slash(&app, ALICE, "deploy web to staging").await;
    assert_eq!(card["response_type"], "ephemeral");
    let shown = card.to_string();
    for part in ["deploy", "staging", "web", "*Risk*\\nwrite", "*Steps*"] {
        assert!(shown.contains(part), "{part} not in {shown}");
    }
    let plan = app
        .engine
        .catalog
        .get("deploy")
        .unwrap()
        .plan(Some("staging"), Some("web"));
    for phase in &plan {
        for step in &phase.steps {
            assert!(shown.contains(step.as_str()), "{step} not in {shown}");
        }
    }
    let value = run_button(&card);
    assert!(value.len() <= 2000);
    assert!(
        runs(&app).await.is_empty(),
        "a command alone starts nothing"
    );

    let to = format!("{}/respond/1", receiver.url);
    let pressed = Signed::now(click(ALICE, "run", &value, &to));
    let (status, answer) = post(&app, "interactions", &pressed).await;
    assert_eq!(status, 200, "{answer}");
    assert!(text(&answer).contains("requested by alice"), "{answer}");
    let stored = runs(&app).await;
    assert_eq!(stored.len(), 1);
    let run = &stored[0];
    assert_eq!(run.created_by, "alice");
    assert_eq!(
        (
            run.runbook.as_str(),
            run.env.as_deref(),
            run.target.as_deref()
        ),
        ("deploy", Some("staging"), Some("web"))
    );
    assert_eq!(run.text.as_deref(), Some("deploy web to staging"));

    // Progress and outcome reach the response_url: the card is replaced
    // (its button gone), then the start and the end are posted below it.
    let got = posts(&receiver, "/respond/1", 3).await;
    assert_eq!(got[0]["replace_original"], true, "{}", got[0]);
    assert!(text(&got[0]).contains("is queued"), "{}", got[0]);
    assert!(!got[0].to_string().contains("\"run\""), "{}", got[0]);
    assert_eq!(got[1]["response_type"], "in_channel");
    assert!(text(&got[1]).contains("started"), "{}", got[1]);
    assert_eq!(got[2]["replace_original"], false);
    assert!(text(&got[2]).contains("succeeded"), "{}", got[2]);
    let link = format!("http://ops.example/runs/{}", run.id);
    assert!(got[2].to_string().contains(&link), "{}", got[2]);
    let run = app
        .engine
        .store
        .run_get(DEFAULT_WORKSPACE, run.id)
        .await
        .unwrap();
    assert_eq!(run.status.as_str(), "succeeded");

    // The same signed click again (a replay) starts no second run.
    let (status, answer) = post(&app, "interactions", &pressed).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(runs(&app).await.len(), 1);

    // Help and empty text answer with the usage.
    for asked in ["help", "", "  "] {
        let usage = slash(&app, ALICE, asked).await;
        assert!(
            text(&usage).contains("/ops deploy web to staging"),
            "{usage}"
        );
    }
    // Text the parser does not understand gets its questions, not a guess.
    let unclear = slash(&app, ALICE, "make me a sandwich").await;
    assert!(text(&unclear).contains("did not understand"), "{unclear}");
    assert!(unclear["blocks"].to_string().find("\"run\"").is_none());
    let vague = slash(&app, ALICE, "deploy web").await;
    assert!(
        text(&vague).contains("needs more detail") || text(&vague).contains("cannot run"),
        "{vague}"
    );
    assert!(vague["blocks"].to_string().find("\"run\"").is_none());
    assert_eq!(runs(&app).await.len(), 1, "nothing more started");
    app.stop().await;
}

/// The Slack notification of run `id` awaiting approval: its buttons.
async fn approval_buttons(receiver: &Receiver, id: RunId) -> Vec<Value> {
    let mut n = 1;
    loop {
        let notices = posts(receiver, "/notify", n).await;
        if let Some(notice) = notices.iter().find(|m| {
            m["blocks"]
                .to_string()
                .contains(&format!("\"value\":\"{id}\""))
        }) {
            let actions = notice["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["type"] == "actions")
                .unwrap()
                .clone();
            return actions["elements"].as_array().unwrap().clone();
        }
        n += 1;
    }
}

/// Alice asks for a prod deploy from Slack and presses Run: it waits for
/// approval. Returns the run and the Slack notification's buttons.
async fn prod_deploy_from_slack(app: &TestApp, receiver: &Receiver, to: &str) -> (Run, Vec<Value>) {
    let card = slash(app, ALICE, "deploy web to prod").await;
    assert!(text(&card).contains("waits for an approver"), "{card}");
    let (status, answer) = press(app, ALICE, "run", &run_button(&card), to).await;
    assert_eq!(status, 200, "{answer}");
    let run = runs(app)
        .await
        .into_iter()
        .next()
        .expect("the run is stored");
    assert_eq!(run.status.as_str(), "awaiting_approval");
    assert_eq!(run.created_by, "alice");
    let path = to.strip_prefix(&receiver.url).unwrap();
    let got = posts(receiver, path, 1).await;
    assert!(text(&got[0]).contains("waits for approval"), "{}", got[0]);
    let buttons = approval_buttons(receiver, run.id).await;
    (run, buttons)
}

fn button(buttons: &[Value], action: &str) -> String {
    buttons
        .iter()
        .find(|b| b["action_id"] == action)
        .unwrap_or_else(|| panic!("no {action} button in {buttons:?}"))["value"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn status_of(app: &TestApp, id: RunId) -> String {
    let run = app
        .engine
        .store
        .run_get(DEFAULT_WORKSPACE, id)
        .await
        .unwrap();
    run.status.as_str().to_string()
}

async fn a_prod_deploy_waits_until_an_approver_approves_it_from_slack(store: DynStore) {
    let receiver = Receiver::spawn(&[]).await;
    let app = spawn(&store, &receiver).await;
    let alice_to = format!("{}/respond/alice", receiver.url);
    let (run, buttons) = prod_deploy_from_slack(&app, &receiver, &alice_to).await;
    let approve = button(&buttons, "approve");
    assert_eq!(approve, run.id.to_string());

    // Alice cannot approve her own run, a viewer cannot approve at all.
    let (status, answer) = press(&app, ALICE, "approve", &approve, &alice_to).await;
    assert_eq!(status, 200);
    assert!(
        text(&answer).contains("someone else must approve"),
        "{answer}"
    );
    let (status, answer) = press(&app, VICTOR, "approve", &approve, &alice_to).await;
    assert_eq!(status, 200);
    assert!(
        text(&answer).contains("victor is viewer in workspace default; this needs approver"),
        "{answer}"
    );
    assert_eq!(status_of(&app, run.id).await, "awaiting_approval");

    // Bob approves from the notification: the run proceeds and succeeds.
    let bob_to = format!("{}/respond/bob", receiver.url);
    let (status, answer) = press(&app, BOB, "approve", &approve, &bob_to).await;
    assert_eq!(status, 200, "{answer}");
    assert!(text(&answer).contains("approved by bob"), "{answer}");
    let got = posts(&receiver, "/respond/bob", 3).await;
    assert_eq!(got[0]["replace_original"], true);
    assert!(text(&got[0]).contains("approved by bob"), "{}", got[0]);
    assert!(text(&got[1]).contains("started"), "{}", got[1]);
    assert!(text(&got[2]).contains("succeeded"), "{}", got[2]);
    let decided = app
        .engine
        .store
        .run_get(DEFAULT_WORKSPACE, run.id)
        .await
        .unwrap();
    assert_eq!(decided.status.as_str(), "succeeded");
    assert_eq!(
        decided.approval.and_then(|a| a.decided_by).as_deref(),
        Some("bob")
    );
    // Approving again changes nothing and says why.
    let (status, answer) = press(&app, BOB, "approve", &approve, &bob_to).await;
    assert_eq!(status, 200);
    assert!(text(&answer).contains("Nothing was done"), "{answer}");
    assert_eq!(runs(&app).await.len(), 1);
    app.stop().await;
}

async fn an_approver_rejects_from_slack(store: DynStore) {
    let receiver = Receiver::spawn(&[]).await;
    let app = spawn(&store, &receiver).await;
    let alice_to = format!("{}/respond/alice", receiver.url);
    let (run, buttons) = prod_deploy_from_slack(&app, &receiver, &alice_to).await;
    let bob_to = format!("{}/respond/bob", receiver.url);
    let (status, answer) = press(&app, BOB, "reject", &button(&buttons, "reject"), &bob_to).await;
    assert_eq!(status, 200, "{answer}");
    assert!(text(&answer).contains("rejected by bob"), "{answer}");
    let got = posts(&receiver, "/respond/bob", 1).await;
    assert_eq!(got[0]["replace_original"], true);
    assert!(text(&got[0]).contains("rejected by bob"), "{}", got[0]);
    assert_eq!(status_of(&app, run.id).await, "rejected");
    // The notification's link button is acknowledged and does nothing.
    let (status, _) = press(&app, BOB, "open", "", &bob_to).await;
    assert_eq!(status, 200);
    assert_eq!(status_of(&app, run.id).await, "rejected");
    app.stop().await;
}

async fn refused_requests_start_nothing(store: DynStore) {
    let receiver = Receiver::spawn(&[]).await;
    let app = spawn(&store, &receiver).await;
    let to = format!("{}/respond/refused", receiver.url);
    let card = slash(&app, ALICE, "deploy web to staging").await;
    let value = run_button(&card);
    let body = click(ALICE, "run", &value, &to);
    let now = Utc::now().timestamp();

    // Signatures: wrong secret, changed body, missing, malformed, too old
    // or too far ahead.
    let mut wrong = Signed::now(body.clone());
    wrong.signature = Some(slack_sign(b"another secret", now, body.as_bytes()));
    let mut changed = Signed::now(body.clone());
    changed.body = click(ALICE, "run", &value, &format!("{}/elsewhere", receiver.url));
    let mut missing = Signed::now(body.clone());
    missing.signature = None;
    let mut malformed = Signed::now(body.clone());
    malformed.signature = Some("t=1,v1=00".into());
    let mut unreadable_time = Signed::now(body.clone());
    unreadable_time.timestamp = "yesterday".into();
    for (name, request) in [
        ("wrong secret", wrong),
        ("changed body", changed),
        ("missing", missing),
        ("malformed", malformed),
        ("unreadable timestamp", unreadable_time),
        ("301 s old", Signed::at(body.clone(), now - 301)),
        ("301 s ahead", Signed::at(body.clone(), now + 301)),
    ] {
        for route in ["interactions", "commands"] {
            let (status, answer) = post(&app, route, &request).await;
            assert_eq!(status, 401, "{name} {route}: {answer}");
            assert_eq!(answer["error"]["code"], "bad_signature", "{answer}");
        }
    }

    // Malformed payloads and unknown actions.
    let payload = |p: Value| Signed::now(form(&p));
    let good = json!({"type": "block_actions", "user": {"id": ALICE}, "response_url": to,
                      "actions": [{"action_id": "run", "value": value}]});
    let with = |key: &str, v: Value| {
        let mut p = good.clone();
        p[key] = v;
        payload(p)
    };
    for (name, request, code) in [
        ("no payload", Signed::now("text=hi".into()), "invalid_body"),
        (
            "not JSON",
            Signed::now("payload=%7Bnot".into()),
            "invalid_payload",
        ),
        (
            "a view submission",
            with("type", json!("view_submission")),
            "invalid_payload",
        ),
        ("no actions", with("actions", json!([])), "invalid_payload"),
        (
            "no user",
            {
                let mut p = good.clone();
                p.as_object_mut().unwrap().remove("user");
                payload(p)
            },
            "invalid_payload",
        ),
        (
            "a response_url that is no URL",
            with("response_url", json!("file:///etc/passwd")),
            "invalid_payload",
        ),
        (
            "unknown action",
            with("actions", json!([{"action_id": "explode", "value": "1"}])),
            "unknown_action",
        ),
        (
            "a Run value that is no plan",
            with(
                "actions",
                json!([{"action_id": "run", "value": "{\"rm\": 1}"}]),
            ),
            "invalid_payload",
        ),
        (
            "an approve value that is no run id",
            with("actions", json!([{"action_id": "approve", "value": "one"}])),
            "invalid_payload",
        ),
    ] {
        let (status, answer) = post(&app, "interactions", &request).await;
        assert_eq!(status, 400, "{name}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{name}: {answer}");
    }
    let (status, answer) = post(&app, "commands", &Signed::now("text=deploy".into())).await;
    assert_eq!(status, 400, "a command without user_id: {answer}");

    // An unmapped Slack user is told how to get mapped, and nothing runs.
    let told = slash(&app, STRANGER, "deploy web to staging").await;
    assert!(
        text(&told).contains(&format!("{STRANGER} = \"your-opsroom-user\"")),
        "{told}"
    );
    assert!(text(&told).contains("[slack.users]"), "{told}");
    let (status, answer) = press(&app, STRANGER, "run", &value, &to).await;
    assert_eq!(status, 200);
    assert!(text(&answer).contains("not mapped"), "{answer}");
    assert!(text(&posts(&receiver, "/respond/refused", 1).await[0]).contains("not mapped"));
    // Mapped to a user without a role in the workspace.
    let (status, answer) = press(&app, GHOST, "run", &value, &to).await;
    assert_eq!(status, 200);
    assert!(
        text(&answer).contains("ghost has no role in workspace default"),
        "{answer}"
    );
    // A viewer sees the plan without a Run button, and cannot press one.
    let viewer_card = slash(&app, VICTOR, "deploy web to staging").await;
    assert!(
        viewer_card["blocks"].to_string().contains("No Run button"),
        "{viewer_card}"
    );
    assert!(!viewer_card["blocks"]
        .to_string()
        .contains("\"action_id\":\"run\""));
    let (status, answer) = press(&app, VICTOR, "run", &value, &to).await;
    assert_eq!(status, 200);
    assert!(
        text(&answer).contains("victor is viewer in workspace default; this needs operator"),
        "{answer}"
    );
    assert!(runs(&app).await.is_empty(), "nothing refused started a run");
    app.stop().await;

    // A server without `[slack]` has no Slack endpoints (unsigned requests
    // are still refused as such).
    let bare = TestApp::spawn(store.clone(), TestAppOptions::default()).await;
    let signed = Signed::now(command(ALICE, "help"));
    let (status, _) = post(&bare, "commands", &signed).await;
    assert_eq!(status, 404);
    let unsigned = Signed {
        signature: None,
        ..signed
    };
    let (status, _) = post(&bare, "commands", &unsigned).await;
    assert_eq!(status, 401);
    bare.stop().await;
}

opsroom_store::on_both_stores!(
    a_slash_command_shows_the_plan_and_run_starts_it_as_the_mapped_user,
    a_prod_deploy_waits_until_an_approver_approves_it_from_slack,
    an_approver_rejects_from_slack,
    refused_requests_start_nothing,
);
