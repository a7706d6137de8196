//! The OpenAPI document against the real server: every operation is called
//! for real, in success and error cases, and each answer's status, content
//! type and body must be what the document declares for that status.
//! (schemathesis, in .ci/schemathesis, also generates requests from it.)

use chrono::Utc;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::{DynStore, RunInsertParams};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const TOKEN: &str = "openapi-test-token";
const HOOK_SECRET: &str = "openapi-hook-secret";
const SLACK_SECRET: &str = "openapi-slack-signing-secret";

/// The document and a client that checks answers against it.
struct Checker {
    doc: Value,
    http: reqwest::Client,
    base: String,
    /// (method, path template) of every operation called with a 2xx answer.
    succeeded: BTreeSet<(String, String)>,
}

/// One call: the operation as the document names it, the concrete path,
/// and what to send.
struct Call<'a> {
    method: Method,
    template: &'a str,
    path: String,
    body: Option<Value>,
    /// A form body (`application/x-www-form-urlencoded`), as Slack posts.
    form: Option<String>,
    token: bool,
    headers: Vec<(&'static str, String)>,
}

impl<'a> Call<'a> {
    fn new(method: Method, template: &'a str, path: impl Into<String>) -> Self {
        Call {
            method,
            template,
            path: path.into(),
            body: None,
            form: None,
            token: true,
            headers: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn form(mut self, form: String) -> Self {
        self.form = Some(form);
        self
    }

    fn without_token(mut self) -> Self {
        self.token = false;
        self
    }
}

impl Checker {
    async fn new(app: &TestApp) -> Checker {
        let http = reqwest::Client::new();
        let doc: Value = http
            .get(format!("{}/api/openapi.json", app.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Checker {
            doc,
            http,
            base: app.url.clone(),
            succeeded: BTreeSet::new(),
        }
    }

    /// Sends `call`, checks the answer has status `expected` and matches
    /// the document, and returns its body (JSON, or the text as a string).
    async fn check(&mut self, call: Call<'_>, expected: u16) -> Value {
        let what = format!("{} {}", call.method, call.path);
        let mut rb = self
            .http
            .request(call.method.clone(), format!("{}{}", self.base, call.path));
        if call.token {
            rb = rb.bearer_auth(TOKEN);
        }
        if let Some(b) = &call.body {
            rb = rb.json(b);
        }
        if let Some(f) = &call.form {
            rb = rb
                .header("content-type", "application/x-www-form-urlencoded")
                .body(f.clone());
        }
        for (name, value) in &call.headers {
            rb = rb.header(*name, value);
        }
        let response = rb.send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        assert_eq!(status.as_u16(), expected, "{what}: {text}");
        let method = call.method.as_str().to_lowercase();
        let op = &self.doc["paths"][call.template][&method];
        assert!(
            op.is_object(),
            "{what}: {} is not documented",
            call.template
        );
        let mut declared = &op["responses"][status.as_str()];
        assert!(
            declared.is_object(),
            "{what}: status {status} is not documented for {method} {}",
            call.template
        );
        if let Some(r) = declared["$ref"].as_str() {
            declared = self.resolve(r);
        }
        if status == 204 {
            assert!(text.is_empty(), "{what}: a 204 answer has a body: {text}");
            assert!(
                declared["content"].is_null(),
                "{what}: 204 documented with content"
            );
            self.succeeded.insert((method, call.template.to_string()));
            return Value::Null;
        }
        let content = declared["content"].as_object().unwrap_or_else(|| {
            panic!("{what}: the documented {status} answer has no content: {declared}")
        });
        let media = content_type.split(';').next().unwrap().trim();
        let schema = &content
            .get(media)
            .unwrap_or_else(|| panic!("{what}: answered {media}, documented {content:?}"))
            ["schema"];
        let body = match media {
            "application/json" => serde_json::from_str(&text).unwrap(),
            "text/event-stream" => {
                for event in sse_events(&text) {
                    self.validate(&what, schema, &event);
                    let data: Value =
                        serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
                    let named = if event["event"] == "end" {
                        "StreamEnd"
                    } else {
                        "RunEvent"
                    };
                    let data_schema = json!({"$ref": format!("#/components/schemas/{named}")});
                    self.validate(&what, &data_schema, &data);
                }
                Value::String(text)
            }
            _ => Value::String(text),
        };
        if media != "text/event-stream" {
            self.validate(&what, schema, &body);
        }
        if status.is_success() {
            self.succeeded.insert((method, call.template.to_string()));
        }
        body
    }

    fn resolve(&self, pointer: &str) -> &Value {
        let path = pointer.strip_prefix('#').expect("a local $ref");
        self.doc
            .pointer(path)
            .unwrap_or_else(|| panic!("$ref {pointer} points nowhere"))
    }

    fn validate(&self, what: &str, schema: &Value, value: &Value) {
        let mut errors = Vec::new();
        self.errors(schema, value, "", &mut errors);
        assert!(
            errors.is_empty(),
            "{what}: the answer does not match its documented schema:\n{}\n{value:#}",
            errors.join("\n")
        );
    }

    /// What is wrong with `value` against `schema`, for the subset of JSON
    /// Schema the generated document uses.
    fn errors(&self, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
        if value.is_null() && schema["nullable"] == true {
            return;
        }
        if let Some(r) = schema["$ref"].as_str() {
            return self.errors(self.resolve(r), value, at, out);
        }
        for sub in schema["allOf"].as_array().into_iter().flatten() {
            self.errors(sub, value, at, out);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = schema[key].as_array() {
                let fits = options.iter().filter(|s| {
                    let mut e = Vec::new();
                    self.errors(s, value, at, &mut e);
                    e.is_empty()
                });
                let n = fits.count();
                if n == 0 || (key == "oneOf" && n > 1) {
                    out.push(format!("{at}: fits {n} of the {key} schemas"));
                }
            }
        }
        if let Some(ty) = schema.get("type") {
            let types: Vec<&str> = match ty {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !types.iter().any(|t| has_type(value, t)) {
                out.push(format!("{at}: {value} is not of type {ty}"));
                return;
            }
        }
        if let Some(values) = schema["enum"].as_array() {
            if !values.contains(value) {
                out.push(format!("{at}: {value} is not one of {values:?}"));
            }
        }
        if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64()) {
            if n < min {
                out.push(format!("{at}: {n} is below the minimum {min}"));
            }
        }
        if let (Some(max), Some(n)) = (schema["maximum"].as_f64(), value.as_f64()) {
            if n > max {
                out.push(format!("{at}: {n} is above the maximum {max}"));
            }
        }
        if schema["format"] == "date-time" {
            if let Some(s) = value.as_str() {
                if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                    out.push(format!("{at}: {s} is not a date-time"));
                }
            }
        }
        if let Some(items) = value.as_array() {
            for (i, item) in items.iter().enumerate() {
                if let Some(s) = schema.get("items") {
                    self.errors(s, item, &format!("{at}[{i}]"), out);
                }
            }
        }
        if let Some(fields) = value.as_object() {
            for name in schema["required"].as_array().into_iter().flatten() {
                if !fields.contains_key(name.as_str().unwrap()) {
                    out.push(format!("{at}: required field {name} is missing"));
                }
            }
            let properties = schema["properties"].as_object();
            for (name, v) in fields {
                let here = format!("{at}.{name}");
                match properties.and_then(|p| p.get(name)) {
                    Some(s) => self.errors(s, v, &here, out),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            out.push(format!("{here}: not a documented field"))
                        }
                        Some(s @ Value::Object(_)) => self.errors(s, v, &here, out),
                        // Undocumented fields of a documented object are a
                        // drift between the document and the server.
                        _ if properties.is_some() => {
                            out.push(format!("{here}: not a documented field"))
                        }
                        _ => {}
                    },
                }
            }
        }
    }
}

fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// The events of an SSE body as objects of their fields (`id`, `event`, `data`).
fn sse_events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = serde_json::Map::new();
            for line in block.lines() {
                if let Some((field, v)) = line.split_once(':') {
                    if !field.is_empty() {
                        event.insert(field.into(), json!(v.strip_prefix(' ').unwrap_or(v)));
                    }
                }
            }
            event.contains_key("data").then_some(Value::Object(event))
        })
        .collect()
}

async fn every_operation_answers_as_documented(store: DynStore) {
    let hook_secret = std::env::temp_dir().join(format!(
        "opsroom-openapi-hook-{}-{}",
        std::process::id(),
        store.backend()
    ));
    std::fs::write(&hook_secret, HOOK_SECRET).unwrap();
    let reference = format!("file:{}", hook_secret.display());
    let slack_secret = std::env::temp_dir().join(format!(
        "opsroom-openapi-slack-{}-{}",
        std::process::id(),
        store.backend()
    ));
    std::fs::write(&slack_secret, SLACK_SECRET).unwrap();
    let slack_reference = format!("file:{}", slack_secret.display());
    let app = TestApp::spawn(
        store.clone(),
        TestAppOptions {
            admin_token: Some(TOKEN.into()),
            secret_key: Some(opsroom_auth::MasterKey::generate().0),
            configure: Some(std::sync::Arc::new(move |config| {
                let hooks = opsroom_engine::OpsConfig::parse(
                    "hooks.toml",
                    &format!(
                        "[environments.dev]\n[hooks.ci]\nsecret = \"{reference}\"\nrunbook = \"noop\"\nenv = \"dev\"\nallowed_params = [\"events\"]\n[slack]\nsigning_secret = \"{slack_reference}\"\n[slack.users]\nU0ADMIN = \"alice\"\n"
                    ),
                )
                .unwrap();
                config.hooks = hooks.hooks;
                config.slack = hooks.slack;
                config.secrets.extend(hooks.secrets);
            })),
            ..Default::default()
        },
    )
    .await;
    let mut c = Checker::new(&app).await;
    assert_eq!(c.doc["openapi"], "3.0.3");
    use Method as M;
    c.check(
        Call::new(M::GET, "/healthz", "/healthz").without_token(),
        200,
    )
    .await;
    c.check(
        Call::new(M::GET, "/metrics", "/metrics").without_token(),
        200,
    )
    .await;

    let parse = "/api/v1/parse";
    c.check(
        Call::new(M::POST, parse, parse).body(json!({"text": "check prod status"})),
        200,
    )
    .await;
    c.check(
        Call::new(M::POST, parse, parse).body(json!({"text": "deploy"})),
        200,
    )
    .await;
    c.check(
        Call::new(M::POST, parse, parse).body(json!({"text": 42})),
        400,
    )
    .await;
    c.check(
        Call::new(M::POST, parse, parse).body(json!({"text": ""})),
        422,
    )
    .await;
    c.check(
        Call::new(M::POST, parse, parse)
            .body(json!({"text": "x"}))
            .without_token(),
        401,
    )
    .await;
    c.check(
        Call::new(M::GET, "/api/v1/runbooks", "/api/v1/runbooks"),
        200,
    )
    .await;
    c.check(Call::new(M::GET, "/api/v1/workers", "/api/v1/workers"), 200)
        .await;

    let runs = "/api/v1/runs";
    let run = c
        .check(
            Call::new(M::POST, runs, runs).body(json!({"text": "check prod status"})),
            201,
        )
        .await;
    let id = run["id"].as_i64().unwrap();
    let keyed = json!({"runbook": "noop", "idempotency_key": "k", "params": {"events": 2}});
    c.check(Call::new(M::POST, runs, runs).body(keyed.clone()), 201)
        .await;
    c.check(Call::new(M::POST, runs, runs).body(keyed), 200)
        .await;
    c.check(
        Call::new(M::POST, runs, runs).body(json!({"colour": 1})),
        400,
    )
    .await;
    c.check(
        Call::new(M::POST, runs, runs)
            .body(json!({"runbook": "noop", "session_id": 424242, "lane": "A"})),
        404,
    )
    .await;
    c.check(
        Call::new(M::POST, runs, runs).body(json!({"text": "delete everything"})),
        422,
    )
    .await;
    c.check(Call::new(M::GET, runs, runs), 200).await;
    c.check(Call::new(M::GET, runs, "/api/v1/runs?limit=0"), 400)
        .await;

    let one = "/api/v1/runs/{id}";
    c.check(Call::new(M::GET, one, format!("/api/v1/runs/{id}")), 200)
        .await;
    c.check(Call::new(M::GET, one, "/api/v1/runs/abc"), 400)
        .await;
    c.check(Call::new(M::GET, one, "/api/v1/runs/424242"), 404)
        .await;
    // The stream ends once the run is final: its events and its `end`.
    let stream = "/api/v1/runs/{id}/events/stream";
    c.check(
        Call::new(M::GET, stream, format!("/api/v1/runs/{id}/events/stream")),
        200,
    )
    .await;
    c.check(
        Call::new(M::GET, stream, "/api/v1/runs/424242/events/stream"),
        404,
    )
    .await;
    let events = "/api/v1/runs/{id}/events";
    c.check(
        Call::new(M::GET, events, format!("/api/v1/runs/{id}/events")),
        200,
    )
    .await;
    c.check(
        Call::new(M::GET, events, format!("/api/v1/runs/{id}/events?limit=0")),
        400,
    )
    .await;
    c.check(Call::new(M::GET, events, "/api/v1/runs/424242/events"), 404)
        .await;
    let log = "/api/v1/runs/{id}/log";
    c.check(
        Call::new(M::GET, log, format!("/api/v1/runs/{id}/log")),
        200,
    )
    .await;
    c.check(Call::new(M::GET, log, "/api/v1/runs/424242/log"), 404)
        .await;
    let artifacts = "/api/v1/runs/{id}/artifacts";
    c.check(
        Call::new(M::GET, artifacts, format!("/api/v1/runs/{id}/artifacts")),
        200,
    )
    .await;
    c.check(
        Call::new(M::GET, artifacts, "/api/v1/runs/424242/artifacts"),
        404,
    )
    .await;

    // Actions: on a final run they conflict; retry makes a new run.
    for action in ["cancel", "approve", "reject"] {
        let template = format!("/api/v1/runs/{{id}}/{action}");
        c.check(
            Call::new(M::POST, &template, format!("/api/v1/runs/{id}/{action}")),
            409,
        )
        .await;
        c.check(
            Call::new(M::POST, &template, format!("/api/v1/runs/{id}/{action}"))
                .body(json!({"reason": "x".repeat(1001)})),
            422,
        )
        .await;
        c.check(
            Call::new(M::POST, &template, format!("/api/v1/runs/424242/{action}")),
            404,
        )
        .await;
    }
    let retry = "/api/v1/runs/{id}/retry";
    let retried = c
        .check(
            Call::new(M::POST, retry, format!("/api/v1/runs/{id}/retry")),
            201,
        )
        .await;
    c.check(
        Call::new(
            M::POST,
            "/api/v1/runs/{id}/cancel",
            format!("/api/v1/runs/{}/cancel", retried["id"]),
        )
        .body(json!({"reason": "not needed"})),
        200,
    )
    .await;
    // Runs waiting for approval: one approved, one rejected.
    for action in ["approve", "reject"] {
        let mut p = RunInsertParams::new("noop", Utc::now());
        p.needs_approval = true;
        p.actor = "someone else".into();
        let (waiting, _) = store.run_insert(p).await.unwrap();
        c.check(
            Call::new(
                M::POST,
                &format!("/api/v1/runs/{{id}}/{action}"),
                format!("/api/v1/runs/{}/{action}", waiting.id),
            ),
            200,
        )
        .await;
    }
    // The requester (the admin token's user here) may not decide: 403.
    for action in ["approve", "reject"] {
        let mut p = RunInsertParams::new("noop", Utc::now());
        p.needs_approval = true;
        p.actor = "admin".into();
        let (own, _) = store.run_insert(p).await.unwrap();
        let err = c
            .check(
                Call::new(
                    M::POST,
                    &format!("/api/v1/runs/{{id}}/{action}"),
                    format!("/api/v1/runs/{}/{action}", own.id),
                )
                .body(json!({"comment": "mine"})),
                403,
            )
            .await;
        assert_eq!(err["error"]["code"], "self_approval");
    }
    let approvals = "/api/v1/approvals";
    let waiting = c.check(Call::new(M::GET, approvals, approvals), 200).await;
    assert_eq!(waiting.as_array().unwrap().len(), 2, "{waiting}");
    let audit = "/api/v1/audit";
    for format in ["jsonl", "csv"] {
        c.check(
            Call::new(M::GET, audit, format!("/api/v1/audit?format={format}")),
            200,
        )
        .await;
    }
    c.check(Call::new(M::GET, audit, "/api/v1/audit?format=xml"), 400)
        .await;
    c.check(
        Call::new(
            M::GET,
            audit,
            format!("/api/v1/audit?actor={}", "a".repeat(201)),
        ),
        400,
    )
    .await;
    c.check(Call::new(M::POST, retry, "/api/v1/runs/424242/retry"), 404)
        .await;

    let sessions = "/api/v1/sessions";
    let session = c
        .check(
            Call::new(M::POST, sessions, sessions).body(json!({"name": "release"})),
            201,
        )
        .await;
    c.check(
        Call::new(M::POST, runs, runs)
            .body(json!({"runbook": "noop", "session_id": session["id"], "lane": "B"})),
        201,
    )
    .await;
    c.check(
        Call::new(M::POST, sessions, sessions).body(json!({"name": " "})),
        422,
    )
    .await;
    let listed = c
        .check(Call::new(M::GET, sessions, "/api/v1/sessions?limit=5"), 200)
        .await;
    assert_eq!(listed[0]["id"], session["id"], "newest first");
    c.check(Call::new(M::GET, sessions, "/api/v1/sessions?limit=0"), 400)
        .await;
    let one_session = "/api/v1/sessions/{id}";
    c.check(
        Call::new(
            M::GET,
            one_session,
            format!("/api/v1/sessions/{}", session["id"]),
        ),
        200,
    )
    .await;
    c.check(
        Call::new(M::GET, one_session, "/api/v1/sessions/424242"),
        404,
    )
    .await;

    let secrets = "/api/v1/secrets";
    let one_secret = "/api/v1/secrets/{name}";
    let db = "/api/v1/secrets/db.password";
    let value = json!({"value": "s3cret"});
    c.check(Call::new(M::PUT, one_secret, db).body(value.clone()), 201)
        .await;
    c.check(Call::new(M::PUT, one_secret, db).body(value.clone()), 200)
        .await;
    c.check(
        Call::new(M::PUT, one_secret, "/api/v1/secrets/bad%20name").body(value),
        422,
    )
    .await;
    c.check(
        Call::new(M::PUT, one_secret, db).body(json!({"value": 3})),
        400,
    )
    .await;
    c.check(Call::new(M::GET, secrets, secrets), 200).await;
    c.check(Call::new(M::DELETE, one_secret, db), 204).await;
    c.check(Call::new(M::DELETE, one_secret, db), 404).await;

    // Schedules.
    let schedules = "/api/v1/schedules";
    let schedule = c
        .check(
            Call::new(M::POST, schedules, schedules).body(
                json!({"cron": "*/5 * * * *", "timezone": "Europe/Paris", "runbook": "noop"}),
            ),
            201,
        )
        .await;
    c.check(
        Call::new(M::POST, schedules, schedules).body(json!({"cron": "* *", "runbook": "noop"})),
        422,
    )
    .await;
    c.check(Call::new(M::GET, schedules, schedules), 200).await;
    let id = &schedule["id"];
    for action in ["pause", "resume"] {
        let template = format!("/api/v1/schedules/{{id}}/{action}");
        c.check(
            Call::new(
                M::POST,
                &template,
                format!("/api/v1/schedules/{id}/{action}"),
            ),
            200,
        )
        .await;
        c.check(
            Call::new(
                M::POST,
                &template,
                format!("/api/v1/schedules/424242/{action}"),
            ),
            404,
        )
        .await;
    }
    let one_schedule = "/api/v1/schedules/{id}";
    c.check(
        Call::new(M::DELETE, one_schedule, format!("/api/v1/schedules/{id}")),
        204,
    )
    .await;
    c.check(
        Call::new(M::DELETE, one_schedule, format!("/api/v1/schedules/{id}")),
        404,
    )
    .await;

    // People, workspaces, roles and tokens.
    let workspaces = "/api/v1/workspaces";
    c.check(
        Call::new(M::POST, workspaces, workspaces).body(json!({"name": "team-a"})),
        201,
    )
    .await;
    c.check(
        Call::new(M::POST, workspaces, workspaces).body(json!({"name": "team-a"})),
        409,
    )
    .await;
    c.check(
        Call::new(M::POST, workspaces, workspaces).body(json!({"name": "-bad"})),
        422,
    )
    .await;
    let users = "/api/v1/users";
    c.check(
        Call::new(M::POST, users, users)
            .body(json!({"name": "alice", "password": "long enough pw"})),
        201,
    )
    .await;
    c.check(
        Call::new(M::POST, users, users).body(json!({"name": "alice"})),
        409,
    )
    .await;
    c.check(
        Call::new(M::POST, users, users).body(json!({"name": "bob", "password": "short"})),
        422,
    )
    .await;
    let member = "/api/v1/workspaces/{ws}/members/{user}";
    c.check(
        Call::new(M::PUT, member, "/api/v1/workspaces/default/members/alice")
            .body(json!({"role": "operator"})),
        200,
    )
    .await;
    c.check(
        Call::new(M::PUT, member, "/api/v1/workspaces/default/members/alice")
            .body(json!({"role": "owner"})),
        422,
    )
    .await;
    c.check(
        Call::new(M::PUT, member, "/api/v1/workspaces/default/members/nobody")
            .body(json!({"role": "viewer"})),
        404,
    )
    .await;
    let tokens = "/api/v1/tokens";
    let token = c
        .check(
            Call::new(M::POST, tokens, tokens)
                .body(json!({"user": "alice", "name": "ci", "expires_in_s": 3600})),
            201,
        )
        .await;
    c.check(
        Call::new(M::POST, tokens, tokens).body(json!({"user": "alice", "expires_in_s": 0})),
        422,
    )
    .await;
    c.check(
        Call::new(M::POST, tokens, tokens).body(json!({"user": "nobody"})),
        404,
    )
    .await;
    c.check(Call::new(M::GET, "/api/v1/me", "/api/v1/me"), 200)
        .await;
    let one_token = "/api/v1/tokens/{id}";
    c.check(
        Call::new(
            M::DELETE,
            one_token,
            format!("/api/v1/tokens/{}", token["id"]),
        ),
        204,
    )
    .await;
    c.check(
        Call::new(M::DELETE, one_token, "/api/v1/tokens/424242"),
        404,
    )
    .await;

    let deliveries = "/api/v1/notifications/deliveries";
    c.check(Call::new(M::GET, deliveries, deliveries), 200)
        .await;
    c.check(
        Call::new(
            M::GET,
            deliveries,
            "/api/v1/notifications/deliveries?limit=0",
        ),
        400,
    )
    .await;
    let hook = "/api/v1/hooks/{name}";
    let body = json!({"params": {"events": 2}});
    let signature = opsroom_auth::signature::sign(
        HOOK_SECRET.as_bytes(),
        Utc::now().timestamp(),
        body.to_string().as_bytes(),
    );
    let signed = |path: &str| {
        Call::new(M::POST, hook, path.to_string())
            .without_token()
            .body(body.clone())
            .header("x-opsroom-signature", signature.clone())
    };
    c.check(signed("/api/v1/hooks/ci"), 201).await;
    c.check(signed("/api/v1/hooks/ci"), 409).await;
    c.check(signed("/api/v1/hooks/nope"), 404).await;
    c.check(
        Call::new(M::POST, hook, "/api/v1/hooks/ci")
            .without_token()
            .body(body.clone()),
        401,
    )
    .await;
    let other = json!({"params": {"sleep_ms": 1}});
    c.check(
        Call::new(M::POST, hook, "/api/v1/hooks/ci")
            .without_token()
            .body(other.clone())
            .header(
                "x-opsroom-signature",
                opsroom_auth::signature::sign(
                    HOOK_SECRET.as_bytes(),
                    Utc::now().timestamp(),
                    other.to_string().as_bytes(),
                ),
            ),
        422,
    )
    .await;

    // Slack's signed endpoints: forms, signed with the Slack app's secret.
    let slack_signed = |template: &'static str, form: String| {
        let now = Utc::now().timestamp();
        Call::new(M::POST, template, template)
            .without_token()
            .header(
                "x-slack-signature",
                opsroom_auth::signature::slack_sign(SLACK_SECRET.as_bytes(), now, form.as_bytes()),
            )
            .header("x-slack-request-timestamp", now.to_string())
            .form(form)
    };
    let commands = "/api/v1/integrations/slack/commands";
    let interactions = "/api/v1/integrations/slack/interactions";
    let card = c
        .check(
            slack_signed(
                commands,
                "user_id=U0ADMIN&command=%2Fops&text=check+dev+status".into(),
            ),
            200,
        )
        .await;
    assert!(card["blocks"].to_string().contains("\"run\""), "{card}");
    c.check(slack_signed(commands, "text=help".into()), 400)
        .await;
    c.check(
        Call::new(M::POST, commands, commands)
            .without_token()
            .form("user_id=U0ADMIN&text=help".into()),
        401,
    )
    .await;
    let payload = |action: &str, value: &str| {
        let p = json!({"type": "block_actions", "user": {"id": "U0ADMIN"},
                       "response_url": "http://127.0.0.1:9/slack",
                       "actions": [{"action_id": action, "value": value}]});
        serde_urlencoded::to_string([("payload", p.to_string())]).unwrap()
    };
    c.check(slack_signed(interactions, payload("open", "")), 200)
        .await;
    c.check(slack_signed(interactions, payload("explode", "1")), 400)
        .await;
    c.check(
        Call::new(M::POST, interactions, interactions)
            .without_token()
            .form(payload("open", "")),
        401,
    )
    .await;

    // Every documented operation was seen answering successfully.
    let documented: BTreeSet<(String, String)> = c.doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let missed: Vec<_> = documented.difference(&c.succeeded).collect();
    assert!(missed.is_empty(), "never called successfully: {missed:?}");
    app.stop().await;
}

opsroom_store::on_both_stores!(every_operation_answers_as_documented);
