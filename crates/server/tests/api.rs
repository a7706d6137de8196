//! The HTTP API against the real server on both stores: the run lifecycle,
//! SSE live and resumed, bad input, auth, sessions, workers and metrics.

use opsroom_engine::{WorkerOptions, WorkerPool};
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::{EventView, RunView, StreamEnd};
use opsroom_store::{DynStore, RunId, Seq};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// The typed API client, with the raw calls these tests need to send bad
/// input and read error answers.
#[derive(Clone)]
struct Client {
    api: ApiClient,
    base: String,
}

impl Client {
    fn new(app: &TestApp) -> Self {
        Client {
            api: ApiClient::new(&app.url).unwrap(),
            base: app.url.clone(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.api
            .send_json(Method::POST, path, Some(&body))
            .await
            .unwrap()
    }

    async fn post_raw(&self, path: &str, body: &'static [u8]) -> (StatusCode, Value) {
        let r = self
            .api
            .request(Method::POST, path)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.api.send_json(Method::GET, path, None).await.unwrap()
    }

    /// Reads an SSE stream to its `end` event: its events and the end.
    async fn sse(&self, path: &str, last_event_id: Option<i64>) -> (Vec<EventView>, StreamEnd) {
        let stream = self
            .api
            .stream_at(path, last_event_id.map(Seq))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(30), stream.to_end())
            .await
            .expect("stream ended in time")
            .unwrap()
    }

    async fn wait_final(&self, id: i64) -> RunView {
        let (_, end) = self.api.wait_final(RunId(id)).await.unwrap();
        let run = self.api.run(RunId(id)).await.unwrap();
        assert_eq!(end.status, run.status);
        run
    }
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

fn streamed_seqs(events: &[EventView]) -> Vec<i64> {
    events.iter().map(|e| e.seq.0).collect()
}

async fn check_prod_status_end_to_end(store: DynStore) {
    let app = TestApp::spawn(store, TestAppOptions::default()).await;
    let c = Client::new(&app);
    let (status, health) = c.get("/healthz").await;
    assert_eq!((status, health), (StatusCode::OK, json!({"status": "ok"})));
    let (status, run) = c
        .post("/api/v1/runs", json!({"text": "check prod status"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(
        (run["runbook"].as_str(), run["env"].as_str()),
        (Some("healthcheck"), Some("prod"))
    );
    let id = run["id"].as_i64().unwrap();
    let done = c.wait_final(id).await;
    assert_eq!(done.status.as_str(), "succeeded", "{done:?}");
    assert_eq!(done.phases.as_array().unwrap().len(), 5);
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    let (_, events) = c.get(&format!("/api/v1/runs/{id}/events")).await;
    let events = events.as_array().unwrap().clone();
    assert_eq!(seqs(&events), (1..=events.len() as i64).collect::<Vec<_>>());
    let (_, after) = c.get(&format!("/api/v1/runs/{id}/events?after=3")).await;
    assert_eq!(after.as_array().unwrap()[0]["seq"], 4);
    for phase in ["validate", "preflight", "action", "verify", "summarize"] {
        assert!(
            events
                .iter()
                .any(|e| e["phase"] == phase && e["data"]["kind"] == "phase_end"),
            "{phase}"
        );
    }
    let (_, artifacts) = c.get(&format!("/api/v1/runs/{id}/artifacts")).await;
    let report = artifacts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "healthcheck-report.md")
        .unwrap();
    assert!(report["content"]
        .as_str()
        .unwrap()
        .contains("| opsroom | http | ✅ ok |"));
    let (_, list) = c
        .get("/api/v1/runs?status=succeeded&env=prod&runbook=healthcheck&limit=5")
        .await;
    assert_eq!(list[0]["id"], id);
    let (_, none) = c.get("/api/v1/runs?env=dev").await;
    assert_eq!(none, json!([]));
    app.stop().await;
}

async fn sse_sees_a_run_live_and_resumes_exactly(store: DynStore) {
    // No workers in the server: the run waits until we start one.
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let c = Client::new(&app);
    let (_, run) = c
        .post(
            "/api/v1/runs",
            json!({"runbook": "noop", "params": {"events": 40}}),
        )
        .await;
    let id = run["id"].as_i64().unwrap();
    let path = format!("/api/v1/runs/{id}/events/stream");
    let live = {
        let c = c.clone();
        let path = path.clone();
        tokio::spawn(async move { c.sse(&path, None).await })
    };
    // The stream is open and has the `created` event before any worker runs.
    let (_, events) = c.get(&format!("/api/v1/runs/{id}/events")).await;
    assert_eq!(events.as_array().unwrap().len(), 1);
    let worker = WorkerPool::new(app.engine.clone(), WorkerOptions::default());
    assert_eq!(worker.run_batch().await, 1);
    let (events, end) = live.await.unwrap();
    assert_eq!(end.status.as_str(), "succeeded");
    let all = streamed_seqs(&events);
    assert_eq!(
        all,
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "live: every event once, in order"
    );
    assert!(all.len() > 50);
    // Reconnect with Last-Event-ID: exactly the missing ones.
    let (resumed, end) = c.sse(&path, Some(17)).await;
    assert_eq!(
        streamed_seqs(&resumed),
        (18..=all.len() as i64).collect::<Vec<_>>()
    );
    assert_eq!(end.status.as_str(), "succeeded");
    assert_eq!(end.last_seq, Seq(all.len() as i64));
    let (resumed, _) = c.sse(&format!("{path}?after=50"), None).await;
    assert_eq!(streamed_seqs(&resumed)[0], 51);
    app.stop().await;
}

async fn bad_input_gets_clear_errors_and_changes_nothing(store: DynStore) {
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let c = Client::new(&app);
    let (_, run) = c.post("/api/v1/runs", json!({"runbook": "noop"})).await;
    let id = run["id"].as_i64().unwrap();
    let cases: Vec<(&str, Value, StatusCode, &str, &str)> = vec![
        (
            "/api/v1/runs",
            json!({"text": 5}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "text",
        ),
        (
            "/api/v1/runs",
            json!({"runbook": "noop", "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "colour",
        ),
        (
            "/api/v1/runs",
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "give `text`",
        ),
        (
            "/api/v1/runs",
            json!({"runbook": "teleport"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_runbook",
            "teleport",
        ),
        (
            "/api/v1/runs",
            json!({"runbook": "healthcheck", "env": "mars"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_env",
            "configured: dev, preview, prod, staging",
        ),
        (
            "/api/v1/runs",
            json!({"runbook": "healthcheck"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_env",
            "needs an env",
        ),
        (
            "/api/v1/runs",
            json!({"runbook": "noop", "params": {"events": "lots"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_params",
            "`events` must be an integer",
        ),
        (
            "/api/v1/runs",
            json!({"runbook": "noop", "lane": "A"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_lane",
            "session_id",
        ),
        (
            "/api/v1/runs",
            json!({"runbook": "noop", "max_attempts": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_max_attempts",
            "from 1 to 20",
        ),
        (
            "/api/v1/runs",
            json!({"text": "delete everything"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_understood",
            "could not understand",
        ),
        (
            "/api/v1/parse",
            json!({"text": 42}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "string",
        ),
        (
            "/api/v1/parse",
            json!({"text": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_text",
            "empty",
        ),
        (
            "/api/v1/runs/abc/cancel",
            json!({}),
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "`abc` is not an id",
        ),
    ];
    for (path, body, status, code, needle) in cases {
        let (got, err) = c.post(path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {err}");
        assert_eq!(err["error"]["code"], code, "{path} {body}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{path} {body}: {message:?} should mention {needle:?}"
        );
    }
    let (status, err) = c.post_raw("/api/v1/runs", b"{\"text\": \"check prod").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    let (status, err) = c.post_raw("/api/v1/runs", b"\xff\xfe{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    // An optional body, when there is one, is a JSON object like any other.
    let (status, err) = c.post_raw("/api/v1/sessions", b"[null]").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{err}"
    );
    // Only a body of zero bytes means "no options": whitespace is not JSON.
    let (status, err) = c.post_raw("/api/v1/sessions", b"\n").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json")),
        "{err}"
    );
    let (status, err) = c
        .post("/api/v1/runs", json!({"text": "x".repeat(10_000)}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, err) = c.get("/api/v1/runs/999999").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, err) = c.get("/api/v1/runs?status=done").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown status `done`"));
    let (status, _) = c.get("/api/v1/runs?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let r = c
        .api
        .request(Method::GET, &format!("/api/v1/runs/{id}/events/stream"))
        .header("last-event-id", "seven")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Nothing stored changed: still exactly the one run, with its one event.
    let (_, runs) = c.get("/api/v1/runs").await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let (_, events) = c.get(&format!("/api/v1/runs/{id}/events")).await;
    assert_eq!(events.as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn idempotency_cancel_retry_and_sessions(store: DynStore) {
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let c = Client::new(&app);
    let body = json!({"runbook": "noop", "idempotency_key": "k-1"});
    let (s1, r1) = c.post("/api/v1/runs", body.clone()).await;
    let (s2, r2) = c.post("/api/v1/runs", body).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(r1["id"], r2["id"]);
    let id = r1["id"].as_i64().unwrap();
    let (status, cancelled) = c
        .post(
            &format!("/api/v1/runs/{id}/cancel"),
            json!({"reason": "not needed"}),
        )
        .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, err) = c
        .post(&format!("/api/v1/runs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (status, err) = c
        .post(&format!("/api/v1/runs/{id}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (status, retried) = c.post(&format!("/api/v1/runs/{id}/retry"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(retried["id"], r1["id"]);
    assert_eq!(retried["status"], "queued");

    let (status, session) = c
        .post("/api/v1/sessions", json!({"name": "release 2.3"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let sid = session["id"].as_i64().unwrap();
    for lane in ["A", "A", "B"] {
        let (s, r) = c
            .post(
                "/api/v1/runs",
                json!({"runbook": "noop", "session_id": sid, "lane": lane}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    let (s, err) = c
        .post(
            "/api/v1/runs",
            json!({"runbook": "noop", "session_id": sid, "lane": "E"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, got) = c.get(&format!("/api/v1/sessions/{sid}")).await;
    let lanes = got["lanes"].as_array().unwrap();
    assert_eq!(
        lanes
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["A", "B", "C", "D"]
    );
    assert_eq!(lanes[0]["runs"].as_array().unwrap().len(), 2);
    assert_eq!(lanes[1]["runs"].as_array().unwrap().len(), 1);
    let (status, _) = c.get("/api/v1/sessions/424242").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn workers_metrics_and_openapi(store: DynStore) {
    let app = TestApp::spawn(store, TestAppOptions::default()).await;
    let c = Client::new(&app);
    let (_, run) = c.post("/api/v1/runs", json!({"runbook": "noop"})).await;
    c.wait_final(run["id"].as_i64().unwrap()).await;
    let workers = c.api.workers().await.unwrap();
    let w = &workers[0];
    assert!(!w.host.is_empty() && !w.stale, "{w:?}");
    let metrics = c
        .api
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "opsroom_queue_depth 0",
        "opsroom_runs{status=\"succeeded\"} 1",
        "opsroom_workers 1",
        "opsroom_claim_duration_seconds_count",
        "# TYPE opsroom_runs_completed counter",
        "opsroom_runs_abandoned_total 0",
        "# TYPE opsroom_completion_write_duration_seconds histogram",
        "# EOF",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from:\n{metrics}"
        );
    }
    let (status, doc) = c.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/runs",
        "/api/v1/runs/{id}/events/stream",
        "/api/v1/sessions/{id}",
        "/api/v1/workers",
        "/healthz",
        "/metrics",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    // Every API operation documents its bad-input and missing-token answers
    // (schemathesis in .ci/schemathesis checks the rest against the server).
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, op) in ops.as_object().unwrap() {
            for code in ["400", "401"] {
                assert!(
                    op["responses"][code].is_object(),
                    "{method} {path} does not document {code}"
                );
            }
        }
    }
    let (_, runbooks) = c.get("/api/v1/runbooks").await;
    assert!(runbooks
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "healthcheck" && r["available"] == true));
    app.stop().await;
}

async fn admin_token_is_required_when_set(store: DynStore) {
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            admin_token: Some("s3cret-token".into()),
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let c = Client::new(&app);
    let (status, err) = c.get("/api/v1/runs").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    assert!(!err.to_string().contains("s3cret-token"));
    let wrong = c
        .api
        .request(Method::GET, "/api/v1/runs")
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = c
        .api
        .request(Method::GET, "/api/v1/runs")
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let (status, _) = c.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "liveness needs no token");
    let cookie = ui_token_link_sets_the_cookie_and_leaves_the_url(&c).await;
    let with_cookie = c
        .api
        .request(Method::GET, "/api/v1/runs")
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), StatusCode::OK);
    let created = c
        .api
        .request(Method::POST, "/api/v1/runs")
        .bearer_auth("s3cret-token")
        .json(&json!({"runbook": "noop"}))
        .send()
        .await
        .unwrap();
    let run: Value = created.json().await.unwrap();
    assert_eq!(run["created_by"], "admin");
    app.stop().await;
}

/// The API takes the token only from the header; the UI takes it once from
/// `?token=`, exchanges it for a session (whose cookie never holds the
/// token) and sends the browser to the same URL without it. Returns the
/// session cookie (`name=value`).
async fn ui_token_link_sets_the_cookie_and_leaves_the_url(c: &Client) -> String {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/api/v1/runs?token=s3cret-token",
        "/api/v1/workers?token=s3cret-token",
    ] {
        let r = no_redirects
            .get(format!("{}{path}", c.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["code"], "unauthorized", "{path}");
    }
    let wrong = no_redirects
        .get(format!("{}/runs?token=nope", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let page = no_redirects
        .get(format!(
            "{}/runs?status=failed&token=s3cret-token&env=prod",
            c.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/runs?status=failed&env=prod");
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("opsroom_session=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    for c in page.headers().get_all("set-cookie") {
        assert!(
            !c.to_str().unwrap().contains("s3cret-token"),
            "the token was exchanged for a session, not stored: {c:?}"
        );
    }
    let cookie = cookie.split(';').next().unwrap().to_string();
    let home = no_redirects
        .get(format!("{}/?token=s3cret-token", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (home.status(), home.headers()["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/")
    );
    let followed = no_redirects
        .get(format!("{}/runs?status=failed&env=prod", c.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), StatusCode::OK, "the cookie opens the UI");
    cookie
}

/// Routes that do not exist, and methods a route does not have, answer with
/// the API's JSON error (and `Allow` for a 405), not an empty body.
async fn unknown_routes_and_methods_answer_json(store: DynStore) {
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let c = Client::new(&app);
    let (_, run) = c.post("/api/v1/runs", json!({"runbook": "noop"})).await;
    let id = run["id"].as_i64().unwrap();
    let cases: Vec<(&str, String, u16, &str, Option<&str>)> = vec![
        ("GET", "/api/v1/nope".into(), 404, "not_found", None),
        (
            "POST",
            "/api/v1/runs/1/explode".into(),
            404,
            "not_found",
            None,
        ),
        ("GET", "/api/v2/runs".into(), 404, "not_found", None),
        ("GET", "/api".into(), 404, "not_found", None),
        (
            "PUT",
            "/api/v1/runs".into(),
            405,
            "method_not_allowed",
            Some("GET,HEAD,POST"),
        ),
        (
            "DELETE",
            format!("/api/v1/runs/{id}"),
            405,
            "method_not_allowed",
            Some("GET,HEAD"),
        ),
        (
            "GET",
            "/api/v1/parse".into(),
            405,
            "method_not_allowed",
            Some("POST"),
        ),
        (
            "GET",
            format!("/api/v1/runs/{id}/cancel"),
            405,
            "method_not_allowed",
            Some("POST"),
        ),
        (
            "POST",
            "/healthz".into(),
            405,
            "method_not_allowed",
            Some("GET,HEAD"),
        ),
    ];
    for (method, path, status, code, allow) in cases {
        let r = c
            .api
            .request(method.parse().unwrap(), &path)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/json",
            "{method} {path}"
        );
        if let Some(allow) = allow {
            let mut got: Vec<String> = r.headers()["allow"]
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_string())
                .collect();
            got.sort();
            assert_eq!(got.join(","), allow, "{method} {path}");
        }
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{method} {path}: {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains(path.as_str()),
            "{method} {path}: {err}"
        );
    }
    let page = c
        .api
        .request(Method::GET, "/no-such-page")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.unwrap().contains("<h1>Not found</h1>"));
    // Without a configured token a `?token=` is only taken out of the URL.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/runs?token=x&env=prod", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/runs?env=prod");
    assert!(r.headers().get("set-cookie").is_none());
    app.stop().await;
}

/// PostgreSQL text cannot hold NUL, so the API refuses it in every string it
/// accepts, on both stores alike, with a 4xx that names the field (422 in a
/// body, 400 in the query like every bad query); nothing is stored or changed.
async fn nul_characters_are_refused_naming_the_field(store: DynStore) {
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let c = Client::new(&app);
    let (_, run) = c.post("/api/v1/runs", json!({"runbook": "noop"})).await;
    let id = run["id"].as_i64().unwrap();
    let (_, session) = c.post("/api/v1/sessions", json!({"name": "s"})).await;
    let sid = session["id"].as_i64().unwrap();
    let runs = "/api/v1/runs".to_string();
    let bodies: Vec<(String, Value, &str)> = vec![
        (
            runs.clone(),
            json!({"text": "check prod\u{0} status"}),
            "`text`",
        ),
        (runs.clone(), json!({"runbook": "noop\u{0}"}), "`runbook`"),
        (
            runs.clone(),
            json!({"runbook": "healthcheck", "env": "prod\u{0}"}),
            "`env`",
        ),
        (
            runs.clone(),
            json!({"runbook": "noop", "target": "web\u{0}"}),
            "`target`",
        ),
        (
            runs.clone(),
            json!({"runbook": "noop", "params": {"note": "a\u{0}b"}}),
            "`params.note`",
        ),
        (
            runs.clone(),
            json!({"runbook": "noop", "params": {"list": ["ok", "\u{0}"]}}),
            "`params.list[1]`",
        ),
        (
            runs.clone(),
            json!({"runbook": "noop", "params": {"k\u{0}": 1}}),
            "a key of `params`",
        ),
        (
            runs.clone(),
            json!({"runbook": "noop", "idempotency_key": "k\u{0}"}),
            "`idempotency_key`",
        ),
        (
            runs.clone(),
            json!({"runbook": "noop", "session_id": sid, "lane": "A\u{0}"}),
            "`lane`",
        ),
        (
            runs.clone(),
            json!({"runbook": "noop", "run\u{0}": 1}),
            "a field name of the body",
        ),
        (
            "/api/v1/parse".into(),
            json!({"text": "check prod\u{0}"}),
            "`text`",
        ),
        (
            "/api/v1/sessions".into(),
            json!({"name": "release\u{0}"}),
            "`name`",
        ),
        (
            format!("/api/v1/runs/{id}/cancel"),
            json!({"reason": "x\u{0}"}),
            "`reason`",
        ),
        (
            format!("/api/v1/runs/{id}/approve"),
            json!({"reason": "x\u{0}"}),
            "`reason`",
        ),
        (
            format!("/api/v1/runs/{id}/reject"),
            json!({"reason": "x\u{0}"}),
            "`reason`",
        ),
    ];
    for (path, body, field) in bodies {
        let (status, err) = c.post(&path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {err}"
        );
        assert_eq!(
            err["error"]["code"], "nul_character",
            "{path} {body}: {err}"
        );
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(field) && message.contains("NUL"),
            "{path} {body}: {message:?} should name {field}"
        );
    }
    for (query, field) in [
        ("env=prod%00", "`env`"),
        ("runbook=noop%00", "`runbook`"),
        ("status=queued%00", "`status`"),
        ("limit=5&env=%00", "`env`"),
    ] {
        let (status, err) = c.get(&format!("/api/v1/runs?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {err}");
        assert_eq!(err["error"]["code"], "invalid_query", "{query}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{query}: {message:?} should name {field}"
        );
    }
    let (status, err) = c.get("/api/v1/runs/1%00").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    // Nothing stored changed: the one run, still queued, with its one event;
    // the session has no runs.
    let (_, list) = c.get("/api/v1/runs").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["status"], "queued");
    let (_, events) = c.get(&format!("/api/v1/runs/{id}/events")).await;
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    let (_, got) = c.get(&format!("/api/v1/sessions/{sid}")).await;
    assert!(got["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["runs"] == json!([])));
    app.stop().await;
}

async fn shutdown_ends_open_streams(store: DynStore) {
    // No workers: the run stays queued and its stream would never end by itself.
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let c = Client::new(&app);
    let (_, run) = c.post("/api/v1/runs", json!({"runbook": "noop"})).await;
    let mut stream = c
        .api
        .request(
            Method::GET,
            &format!("/api/v1/runs/{}/events/stream", run["id"]),
        )
        .send()
        .await
        .unwrap();
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(std::str::from_utf8(&first).unwrap().contains("id: 1"));
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("the server stops although a stream was open");
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the open stream was closed by the shutdown");
}

opsroom_store::on_both_stores!(
    check_prod_status_end_to_end,
    sse_sees_a_run_live_and_resumes_exactly,
    bad_input_gets_clear_errors_and_changes_nothing,
    idempotency_cancel_retry_and_sessions,
    workers_metrics_and_openapi,
    admin_token_is_required_when_set,
    unknown_routes_and_methods_answer_json,
    nul_characters_are_refused_naming_the_field,
    shutdown_ends_open_streams,
);
