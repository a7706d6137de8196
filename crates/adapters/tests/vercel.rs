//! The Vercel client against a fake Vercel API speaking its documented endpoints.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{assert_error_text, empty, test_http, Fake, Fault, TOKEN};
use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::vercel::{
    CreateDeployment, GitSource, ListDeployments, ReadyState, RuntimeLogWindow, VercelClient,
    VercelConfig,
};
use opsroom_adapters::{ApiError, Secret};
use serde_json::{json, Value};

fn vercel_error(status: u16, message: &str) -> Value {
    let code = match status {
        401 | 403 => "forbidden",
        404 => "not_found",
        429 => "rate_limited",
        _ => "bad_request",
    };
    json!({"error": {"code": code, "message": message}})
}

#[derive(Default)]
struct World {
    /// id -> (deployment json, polls so far)
    deployments: HashMap<String, (Value, u32)>,
    promoted: Vec<(String, String)>,
    /// The deployment production serves.
    production: String,
    /// A promotion Vercel is still carrying out: (deployment, project reads left).
    promoting: Option<(String, u32)>,
    rolled_back: Vec<(String, String, Option<String>)>,
    next_id: u32,
}

#[derive(Clone)]
struct AppState {
    fake: Fake,
    world: Arc<Mutex<World>>,
}

async fn create(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let git = &body["gitSource"];
    if body["name"].as_str().is_none()
        || git["type"].as_str().is_none()
        || git["ref"].as_str().is_none()
    {
        return s
            .fake
            .error(400, "Invalid request: missing name or gitSource.ref");
    }
    let mut w = s.world.lock().unwrap();
    w.next_id += 1;
    let id = format!("dpl_{}", w.next_id);
    let dep = json!({
        "id": id, "url": format!("{}-{}.vercel.app", body["name"].as_str().unwrap(), w.next_id),
        "name": body["name"], "readyState": "QUEUED", "target": body["target"],
        "projectId": "prj_1", "createdAt": 1_700_000_000_000i64, "alias": [],
        "inspectorUrl": "https://vercel.com/acme/web/x", "gitSource": git,
    });
    w.deployments.insert(id, (dep.clone(), 0));
    (StatusCode::OK, Json(dep)).into_response()
}

/// Each poll moves the deployment one step: QUEUED -> BUILDING -> READY
/// (or ERROR for a ref named `broken`).
async fn get_one(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let mut w = s.world.lock().unwrap();
    let Some((dep, polls)) = w.deployments.get_mut(&id) else {
        return s.fake.error(404, "The deployment was not found.");
    };
    *polls += 1;
    let broken = dep["gitSource"]["ref"] == "broken";
    let state = match (*polls, broken) {
        (1, _) => "QUEUED",
        (2, _) => "BUILDING",
        (_, true) => "ERROR",
        _ => "READY",
    };
    dep["readyState"] = json!(state);
    if state == "ERROR" {
        dep["errorMessage"] = json!("Command \"npm run build\" exited with 1");
    }
    Json(dep.clone()).into_response()
}

async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !s.world.lock().unwrap().deployments.contains_key(&id) {
        return s.fake.error(404, "The deployment was not found.");
    }
    assert_eq!(q.get("direction").map(String::as_str), Some("forward"));
    let since: i64 = q.get("since").and_then(|s| s.parse().ok()).unwrap_or(0);
    let all = json!([
        {"type": "command", "created": 1, "payload": {"text": "npm run build", "deploymentId": id, "id": "e1"}},
        {"type": "stdout", "created": 2, "payload": {"text": "compiled successfully", "deploymentId": id, "id": "e2"}},
        {"type": "stderr", "created": 3, "text": "warning: legacy event shape"}
    ]);
    let shown: Vec<Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["created"].as_i64().unwrap() >= since)
        .cloned()
        .collect();
    Json(shown).into_response()
}

/// Seven deployments, created at 7000, 6000, ... 1000; paged by `until`.
async fn list(State(_s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let until: i64 = q
        .get("until")
        .and_then(|u| u.parse().ok())
        .unwrap_or(i64::MAX);
    let all: Vec<Value> = (1..=7)
        .rev()
        .map(|n| {
            json!({"uid": format!("dpl_old{n}"), "name": "web", "url": format!("web-{n}.vercel.app"),
                   "created": n * 1000, "state": "READY", "readyState": "READY", "target": "production",
                   "meta": {"githubCommitSha": format!("sha{n}")}})
        })
        .filter(|d| d["created"].as_i64().unwrap() < until)
        .filter(|_| q.get("projectId").is_none_or(|p| p == "prj_1"))
        .collect();
    let page: Vec<Value> = all.iter().take(limit).cloned().collect();
    let next = if all.len() > limit {
        json!(page.last().unwrap()["created"])
    } else {
        Value::Null
    };
    Json(json!({"deployments": page, "pagination": {"count": page.len(), "next": next, "prev": 8000}})).into_response()
}

/// Vercel carries a promotion out in the background: production moves to
/// the promoted deployment on the second read of the project after it.
async fn promote(
    State(s): State<AppState>,
    Path((project, dep)): Path<(String, String)>,
) -> Response {
    let mut w = s.world.lock().unwrap();
    if !w.deployments.contains_key(&dep) {
        return s.fake.error(404, "Deployment not found");
    }
    w.promoted.push((project, dep.clone()));
    w.promoting = Some((dep, 2));
    empty(201)
}

async fn project(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    if id != "prj_1" && id != "web" {
        return s.fake.error(404, "Project not found");
    }
    let mut w = s.world.lock().unwrap();
    let mut request = json!(null);
    if let Some((dep, reads_left)) = w.promoting.take() {
        let status = if reads_left <= 1 {
            w.production.clone_from(&dep);
            "succeeded"
        } else {
            w.promoting = Some((dep.clone(), reads_left - 1));
            "in-progress"
        };
        request = json!({"type": "promote", "jobStatus": status, "requestedAt": 1,
            "fromDeploymentId": "dpl_old7", "toDeploymentId": dep});
    }
    let production = json!({"id": w.production, "url": format!("{}.vercel.app", w.production),
        "createdAt": 7000, "readyState": "READY", "alias": ["web.example.com"],
        "meta": {"githubCommitRef": "main", "githubCommitSha": "sha7"}});
    Json(json!({"id": "prj_1", "name": "web", "accountId": "team_1",
        "targets": {"production": production}, "lastAliasRequest": request}))
    .into_response()
}

async fn rollback(
    State(s): State<AppState>,
    Path((project, dep)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut w = s.world.lock().unwrap();
    if !dep.starts_with("dpl_old") {
        return s.fake.error(
            422,
            "Cannot rollback to a deployment that was never in production",
        );
    }
    w.rolled_back
        .push((project, dep, q.get("description").cloned()));
    empty(201)
}

async fn runtime_logs(Path((_project, _dep)): Path<(String, String)>) -> Response {
    let body = concat!(
        "{\"level\":\"info\",\"message\":\"GET /\",\"rowId\":\"1\",\"source\":\"request\",\"timestampInMs\":1,\"domain\":\"web.app\",\"messageTruncated\":false,\"requestMethod\":\"GET\",\"requestPath\":\"/\",\"responseStatusCode\":200}\n",
        "{\"level\":\"error\",\"message\":\"TypeError: x is undefined\",\"rowId\":\"2\",\"source\":\"serverless\",\"timestampInMs\":2,\"domain\":\"web.app\",\"messageTruncated\":false,\"requestMethod\":\"GET\",\"requestPath\":\"/api\",\"responseStatusCode\":500}\n",
        "{\"level\":\"error\",\"message\":\"TypeError: x is undefined\",\"rowId\":\"3\",\"source\":\"serverless\",\"timestampInMs\":3,\"domain\":\"web.app\",\"messageTruncated\":false,\"requestMethod\":\"GET\",\"requestPath\":\"/api\",\"responseStatusCode\":500}"
    );
    ([("content-type", "application/stream+json")], body).into_response()
}

struct Harness {
    fake: Fake,
    world: Arc<Mutex<World>>,
    client: VercelClient,
    slept: Arc<Mutex<Vec<Duration>>>,
    base_url: String,
}

async fn harness() -> Harness {
    let fake = Fake::new(vercel_error);
    let world = Arc::new(Mutex::new(World {
        production: "dpl_old7".to_owned(),
        ..World::default()
    }));
    let state = AppState {
        fake: fake.clone(),
        world: world.clone(),
    };
    let routes = Router::new()
        .route("/v13/deployments", post(create))
        .route("/v13/deployments/{id}", get(get_one))
        .route("/v3/deployments/{id}/events", get(events))
        .route("/v6/deployments", get(list))
        .route("/v9/projects/{project}", get(project))
        .route("/v10/projects/{project}/promote/{dep}", post(promote))
        .route("/v1/projects/{project}/rollback/{dep}", post(rollback))
        .route(
            "/v1/projects/{project}/deployments/{dep}/runtime-logs",
            get(runtime_logs),
        )
        .with_state(state);
    let base_url = fake.serve(routes).await;
    let (http, slept) = test_http();
    let client = VercelClient::new(VercelConfig {
        base_url: base_url.clone(),
        token: Secret::new(TOKEN),
        team_id: Some("team_1".to_owned()),
        http,
    })
    .unwrap();
    Harness {
        fake,
        world,
        client,
        slept,
        base_url,
    }
}

fn deploy_request(git_ref: &str) -> CreateDeployment {
    CreateDeployment {
        name: "web".to_owned(),
        project: Some("prj_1".to_owned()),
        target: Some("production".to_owned()),
        git_source: GitSource::GitHub {
            org: "acme".to_owned(),
            repo: "web".to_owned(),
            git_ref: git_ref.to_owned(),
            sha: None,
        },
    }
}

#[tokio::test]
async fn deploys_from_git_ref_and_follows_to_ready() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    assert_eq!(dep.ready_state, ReadyState::Queued);
    let create = &h.fake.requests()[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/v13/deployments");
    assert_eq!(create.query, "teamId=team_1");

    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment(&dep.id, &opts, Some(&tx))
        .await
        .unwrap();
    assert_eq!(done.ready_state, ReadyState::Ready);
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(
        seen,
        [
            "vercel deployment dpl_1: QUEUED",
            "vercel deployment dpl_1: BUILDING",
            "vercel deployment dpl_1: READY"
        ]
    );
    assert!(h
        .fake
        .requests()
        .iter()
        .all(|r| r.query.contains("teamId=team_1")));
}

#[tokio::test]
async fn failed_build_is_terminal_with_its_message() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("broken"))
        .await
        .unwrap();
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment(&dep.id, &opts, None)
        .await
        .unwrap();
    assert_eq!(done.ready_state, ReadyState::Error);
    assert!(done.error_message.unwrap().contains("npm run build"));
}

#[tokio::test]
async fn build_events_read_both_event_shapes() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    let events = h.client.deployment_events(&dep.id).await.unwrap();
    let texts: Vec<&str> = events.iter().map(|e| e.text()).collect();
    assert_eq!(
        texts,
        [
            "npm run build",
            "compiled successfully",
            "warning: legacy event shape"
        ]
    );
    assert_eq!(events[2].kind, "stderr");
}

#[tokio::test]
async fn follows_a_deployment_passing_each_build_line_on_once() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (log_tx, mut log_rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment_with_build_log(&dep.id, &opts, Some(&tx), &log_tx)
        .await
        .unwrap();
    assert_eq!(done.ready_state, ReadyState::Ready);
    drop((tx, log_tx));
    let mut lines = Vec::new();
    while let Some(event) = log_rx.recv().await {
        lines.push((
            event.kind.clone(),
            event.text().to_owned(),
            event.is_error(),
        ));
    }
    assert_eq!(
        lines,
        [
            ("command".to_owned(), "npm run build".to_owned(), false),
            (
                "stdout".to_owned(),
                "compiled successfully".to_owned(),
                false
            ),
            (
                "stderr".to_owned(),
                "warning: legacy event shape".to_owned(),
                true
            ),
        ]
    );
    let mut statuses = Vec::new();
    while let Some(m) = rx.recv().await {
        statuses.push(m);
    }
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    // Read at every poll and once more at the end; after the first read,
    // from the newest line seen on.
    let reads: Vec<String> = h
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/events"))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(reads.len(), 4, "{reads:?}");
    assert!(!reads[0].contains("since="), "{reads:?}");
    assert!(
        reads[1..].iter().all(|q| q.contains("since=3")),
        "{reads:?}"
    );
}

#[tokio::test]
async fn an_unreadable_build_log_does_not_stop_following() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    // The first poll reads the deployment, then its log: a 403 for the log.
    h.fake.push_faults([
        Fault::Delay(Duration::ZERO),
        Fault::status(403, "no logs for you"),
    ]);
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (log_tx, _log_rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let follow = h
        .client
        .follow_deployment_with_build_log(&dep.id, &opts, Some(&tx), &log_tx);
    let done = follow.await.unwrap();
    assert_eq!(done.ready_state, ReadyState::Ready);
    drop(tx);
    let mut statuses = Vec::new();
    while let Some(m) = rx.recv().await {
        statuses.push(m);
    }
    assert!(
        statuses
            .iter()
            .any(|m| m.contains("build log not readable") && m.contains("HTTP 403")),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn reads_what_production_serves_and_waits_for_a_promotion() {
    let h = harness().await;
    let project = h.client.get_project("web").await.unwrap();
    assert_eq!(project.id, "prj_1");
    let live = project.production().unwrap();
    assert_eq!(live.id, "dpl_old7");
    assert_eq!(live.created_at, Some(7000));
    assert_eq!(live.meta["githubCommitRef"], "main");
    assert!(project.alias_request_in_progress().is_none());

    let dep = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    h.client.promote("prj_1", &dep.id).await.unwrap();
    let moving = h.client.get_project("prj_1").await.unwrap();
    let request = moving.alias_request_in_progress().unwrap();
    assert_eq!(
        (request.kind.as_str(), request.to_deployment_id.as_deref()),
        ("promote", Some(dep.id.as_str()))
    );
    assert_eq!(moving.production().unwrap().id, "dpl_old7");

    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let served = h
        .client
        .wait_for_production("prj_1", &dep.id, &opts, Some(&tx))
        .await
        .unwrap();
    assert_eq!(served.production().unwrap().id, dep.id);
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(
        seen,
        [format!(
            "vercel project prj_1: production serves {} (promote succeeded)",
            dep.id
        )]
    );
    let read = h
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v9/projects/web")
        .unwrap();
    assert_eq!(read.query, "teamId=team_1");
}

#[tokio::test]
async fn lists_deployments_across_pages_with_until() {
    let h = harness().await;
    let query = ListDeployments {
        project_id: Some("prj_1".to_owned()),
        limit: Some(3),
        ..Default::default()
    };
    let first = h.client.list_deployments(&query).await.unwrap();
    assert_eq!(first.deployments.len(), 3);
    assert_eq!(first.next, Some(5000));
    let all = h.client.list_all_deployments(&query, 100).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|d| d.uid.as_str()).collect();
    assert_eq!(
        ids,
        ["dpl_old7", "dpl_old6", "dpl_old5", "dpl_old4", "dpl_old3", "dpl_old2", "dpl_old1"]
    );
    assert_eq!(all[0].status(), Some(&ReadyState::Ready));
    assert_eq!(all[0].meta["githubCommitSha"], "sha7");
    let untils: Vec<String> = h
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == "/v6/deployments")
        .map(|r| r.query.clone())
        .collect();
    assert!(untils[2].contains("until=5000"), "{untils:?}");
    assert!(untils[3].contains("until=2000"), "{untils:?}");
    let capped = h.client.list_all_deployments(&query, 4).await.unwrap();
    assert_eq!(capped.len(), 4);
}

#[tokio::test]
async fn promotes_and_rolls_back() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    h.client.promote("prj_1", &dep.id).await.unwrap();
    h.client
        .rollback("prj_1", "dpl_old6", Some("verify failed"))
        .await
        .unwrap();
    let w = h.world.lock().unwrap();
    assert_eq!(w.promoted, [("prj_1".to_owned(), dep.id.clone())]);
    assert_eq!(
        w.rolled_back,
        [(
            "prj_1".to_owned(),
            "dpl_old6".to_owned(),
            Some("verify failed".to_owned())
        )]
    );
}

#[tokio::test]
async fn rollback_rejected_is_a_422_naming_the_call() {
    let h = harness().await;
    let err = h
        .client
        .rollback("prj_1", "dpl_preview", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_error_text(&err, "vercel.rollback", Some(422));
    assert!(err.to_string().contains("never in production"), "{err}");
}

#[tokio::test]
async fn runtime_logs_parse_the_json_line_stream() {
    let h = harness().await;
    let logs = h
        .client
        .runtime_logs("prj_1", "dpl_1", &RuntimeLogWindow::default())
        .await
        .unwrap();
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[1].level, "error");
    assert_eq!(logs[1].message, "TypeError: x is undefined");
    assert_eq!(logs[1].response_status_code, Some(500));
    let window = RuntimeLogWindow {
        max_lines: 2,
        max_duration: Duration::from_secs(5),
    };
    assert_eq!(
        h.client
            .runtime_logs("prj_1", "dpl_1", &window)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A live log stream as Vercel serves it while a deployment runs: chunked
/// JSON lines, then the connection stays open. Written on a raw socket so the
/// test controls exactly what is sent and when.
async fn serve_endless_log_stream() -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
        }
        let mut response = String::from(
            "HTTP/1.1 200 OK\r\ncontent-type: application/stream+json\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        for line in [
            "{\"level\":\"info\",\"message\":\"boot\",\"rowId\":\"1\",\"source\":\"serverless\",\"timestampInMs\":1}\n",
            "{\"level\":\"warning\",\"message\":\"slow\",\"rowId\":\"2\",\"source\":\"serverless\",\"timestampInMs\":2}\n",
        ] {
            response.push_str(&format!("{:x}\r\n{line}\r\n", line.len()));
        }
        socket.write_all(response.as_bytes()).await.unwrap();
        // Keep the stream open until the client goes away.
        let _ = socket.read(&mut buf).await;
        String::from_utf8_lossy(&request).into_owned()
    });
    (base, task)
}

#[tokio::test]
async fn runtime_logs_stop_reading_an_open_stream_at_the_window() {
    let (base_url, server) = serve_endless_log_stream().await;
    let (http, _) = test_http();
    let client = VercelClient::new(VercelConfig {
        base_url,
        token: Secret::new(TOKEN),
        team_id: Some("team_1".into()),
        http,
    })
    .unwrap();
    let window = RuntimeLogWindow {
        max_lines: 100,
        max_duration: Duration::from_millis(300),
    };
    let started = std::time::Instant::now();
    let logs = client
        .runtime_logs("prj_1", "dpl_1", &window)
        .await
        .unwrap();
    assert_eq!(
        logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        ["boot", "slow"]
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(client);
    let request = server.await.unwrap().to_lowercase();
    assert!(
        request.starts_with("get /v1/projects/prj_1/deployments/dpl_1/runtime-logs?teamid=team_1 "),
        "{request}"
    );
    assert!(
        request.contains(&format!("authorization: bearer {}", TOKEN.to_lowercase())),
        "{request}"
    );
}

#[tokio::test]
async fn unreachable_api_is_retried_then_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (http, slept) = test_http();
    let client = VercelClient::new(VercelConfig {
        base_url: closed,
        token: Secret::new(TOKEN),
        team_id: None,
        http,
    })
    .unwrap();
    let err = client.get_deployment("dpl_1").await.unwrap_err();
    assert!(
        matches!(err, ApiError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert_error_text(&err, "vercel.get_deployment", None);
    assert_eq!(slept.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_deployment_is_not_created_twice_after_an_ambiguous_500() {
    let h = harness().await;
    h.fake.push_faults([Fault::status(500, "internal")]);
    let err = h
        .client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap_err();
    assert_error_text(&err, "vercel.create_deployment", Some(500));
    assert_eq!(
        h.fake.requests().len(),
        1,
        "a create is not repeated after a 500"
    );
    h.fake.push_faults([Fault::status(503, "maintenance")]);
    h.client
        .create_deployment(&deploy_request("main"))
        .await
        .unwrap();
    assert_eq!(
        h.world.lock().unwrap().deployments.len(),
        1,
        "503 means not processed: retried once"
    );
}

#[tokio::test]
async fn unknown_deployment_is_404_with_provider_message() {
    let h = harness().await;
    let err = h.client.get_deployment("dpl_missing").await.unwrap_err();
    assert!(err.is_not_found());
    assert_error_text(&err, "vercel.get_deployment", Some(404));
    assert!(
        err.to_string().contains("The deployment was not found."),
        "{err}"
    );
    assert_eq!(h.fake.requests().len(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn wrong_token_is_401_without_the_token_in_the_error() {
    let h = harness().await;
    let client = VercelClient::new(VercelConfig {
        base_url: h.base_url.clone(),
        token: Secret::new("tok_wrong_999"),
        team_id: None,
        http: test_http().0,
    })
    .unwrap();
    let err = client.get_deployment("dpl_1").await.unwrap_err();
    assert!(err.is_auth());
    assert_error_text(&err, "vercel.get_deployment", Some(401));
    assert!(!err.to_string().contains("tok_wrong_999"));
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let h = harness().await;
    h.fake.push_faults([Fault::rate_limited("7")]);
    let page = h
        .client
        .list_deployments(&ListDeployments::default())
        .await
        .unwrap();
    assert_eq!(page.deployments.len(), 7);
    assert_eq!(*h.slept.lock().unwrap(), [Duration::from_secs(7)]);
    assert_eq!(h.fake.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let h = harness().await;
    h.fake.push_faults([
        Fault::status(500, "internal"),
        Fault::status(502, "bad gateway"),
    ]);
    assert!(h
        .client
        .list_deployments(&ListDeployments::default())
        .await
        .is_ok());
    h.fake.clear_requests();
    h.fake.push_faults([
        Fault::status(500, "a"),
        Fault::status(500, "b"),
        Fault::status(503, "still down"),
    ]);
    let err = h
        .client
        .list_deployments(&ListDeployments::default())
        .await
        .unwrap_err();
    assert_eq!(h.fake.requests().len(), 3, "bounded attempts");
    assert!(
        matches!(
            err,
            ApiError::Status {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_error_text(&err, "vercel.list_deployments", Some(503));
    assert!(err.to_string().contains("still down"));
}

#[tokio::test]
async fn slow_answer_is_a_timeout_error() {
    let h = harness().await;
    h.fake.push_faults([Fault::Delay(Duration::from_secs(3))]);
    let err = h.client.get_deployment("dpl_1").await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_error_text(&err, "vercel.get_deployment", None);
    assert!(err.to_string().contains("timed out"));
}

#[tokio::test]
async fn a_token_echoed_by_the_provider_is_scrubbed_from_the_error() {
    let h = harness().await;
    h.fake.push_faults([Fault::status(
        400,
        "token tok_SECRET_abc123 is not allowed for this team",
    )]);
    let err = h.client.get_deployment("dpl_1").await.unwrap_err();
    assert_error_text(&err, "vercel.get_deployment", Some(400));
    assert!(
        err.to_string().contains("token *** is not allowed"),
        "{err}"
    );
}
