//! The DigitalOcean client against a fake DigitalOcean API.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{assert_error_text, test_http, Fake, Fault, TOKEN};
use opsroom_adapters::digitalocean::{DeploymentPhase, DigitalOceanClient, DigitalOceanConfig};
use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::{ApiError, Secret};
use serde_json::{json, Value};

fn do_error(status: u16, message: &str) -> Value {
    let id = match status {
        401 => "unauthorized",
        404 => "not_found",
        422 => "unprocessable_entity",
        429 => "too_many_requests",
        _ => "server_error",
    };
    json!({"id": id, "message": message, "request_id": "4d9d8375-3c56-4925-a3e7-eceeb1d9f3da"})
}

#[derive(Default)]
struct World {
    /// deployment id -> (phases still to show, forced build)
    deployments: HashMap<String, (Vec<&'static str>, bool)>,
    seq: u32,
}

#[derive(Clone)]
struct AppState {
    fake: Fake,
    world: Arc<Mutex<World>>,
    public_url: String,
}

fn app(n: u32) -> Value {
    json!({"id": format!("app-{n}"), "spec": {"name": format!("web-{n}")},
           "live_url": format!("https://web-{n}.ondigitalocean.app"),
           "active_deployment": {"id": format!("dep-{n}-0"), "phase": "ACTIVE", "cause": "initial"}})
}

/// Five apps, paged; `links.pages.next` points at the real API host, as
/// DigitalOcean does, which the client must not follow blindly.
async fn list_apps(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per_page: u32 = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
    let total = 5;
    let start = (page - 1) * per_page + 1;
    let apps: Vec<Value> = (start..=total.min(start + per_page - 1)).map(app).collect();
    let last = total.div_ceil(per_page);
    let mut pages =
        json!({"first": format!("{}/v2/apps?page=1&per_page={per_page}", s.public_url)});
    if page < last {
        pages["next"] = json!(format!(
            "{}/v2/apps?page={}&per_page={per_page}",
            s.public_url,
            page + 1
        ));
        pages["last"] = json!(format!(
            "{}/v2/apps?page={last}&per_page={per_page}",
            s.public_url
        ));
    }
    Json(json!({"apps": apps, "links": {"pages": pages}, "meta": {"total": total}})).into_response()
}

async fn get_app(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match id.strip_prefix("app-").and_then(|n| n.parse::<u32>().ok()) {
        Some(n) if (1..=5).contains(&n) => Json(json!({"app": app(n)})).into_response(),
        _ => s
            .fake
            .error(404, "The resource you were accessing could not be found."),
    }
}

async fn create_deployment(
    State(s): State<AppState>,
    Path(app_id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if app_id == "app-frozen" {
        return s
            .fake
            .error(422, "app is locked by an in-progress deployment");
    }
    if app_id != "app-1" && app_id != "app-broken" {
        return s
            .fake
            .error(404, "The resource you were accessing could not be found.");
    }
    let mut w = s.world.lock().unwrap();
    w.seq += 1;
    let id = format!("dep-{}", w.seq);
    let phases = if app_id == "app-broken" {
        vec!["PENDING_BUILD", "BUILDING", "ERROR"]
    } else {
        vec!["PENDING_BUILD", "BUILDING", "DEPLOYING", "ACTIVE"]
    };
    w.deployments.insert(
        id.clone(),
        (phases, body["force_build"].as_bool().unwrap_or(false)),
    );
    Json(json!({"deployment": {"id": id, "phase": "PENDING_BUILD", "cause": "manual", "progress": {"success_steps": 0, "total_steps": 4}}}))
        .into_response()
}

async fn get_deployment(
    State(s): State<AppState>,
    Path((_app, id)): Path<(String, String)>,
) -> Response {
    let mut w = s.world.lock().unwrap();
    let Some((phases, _)) = w.deployments.get_mut(&id) else {
        return s.fake.error(404, "deployment not found");
    };
    let phase = if phases.len() > 1 {
        phases.remove(0)
    } else {
        phases[0]
    };
    let done = match phase {
        "PENDING_BUILD" => 0,
        "BUILDING" => 1,
        "DEPLOYING" => 3,
        _ => 4,
    };
    Json(json!({"deployment": {"id": id, "phase": phase, "cause": "manual",
        "progress": {"success_steps": done, "total_steps": 4, "error_steps": u32::from(phase == "ERROR")}}}))
    .into_response()
}

async fn get_droplet(State(s): State<AppState>, Path(id): Path<u64>) -> Response {
    if id != 3164444 {
        return s
            .fake
            .error(404, "The resource you were accessing could not be found.");
    }
    Json(
        json!({"droplet": {"id": id, "name": "worker-1", "memory": 1024, "vcpus": 1, "disk": 25,
        "locked": false, "status": "active", "created_at": "2020-07-21T18:37:44Z"}}),
    )
    .into_response()
}

struct Harness {
    fake: Fake,
    world: Arc<Mutex<World>>,
    client: DigitalOceanClient,
    slept: Arc<Mutex<Vec<Duration>>>,
    base_url: String,
}

async fn harness() -> Harness {
    let fake = Fake::new(do_error);
    let world = Arc::new(Mutex::new(World::default()));
    let state = AppState {
        fake: fake.clone(),
        world: world.clone(),
        public_url: "https://api.digitalocean.com".to_owned(),
    };
    let routes = Router::new()
        .route("/v2/apps", get(list_apps))
        .route("/v2/apps/{id}", get(get_app))
        .route("/v2/apps/{id}/deployments", post(create_deployment))
        .route("/v2/apps/{app}/deployments/{id}", get(get_deployment))
        .route("/v2/droplets/{id}", get(get_droplet))
        .with_state(state);
    let base_url = fake.serve(routes).await;
    let (http, slept) = test_http();
    let client = DigitalOceanClient::new(DigitalOceanConfig {
        base_url: base_url.clone(),
        token: Secret::new(TOKEN),
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

#[tokio::test]
async fn lists_apps_across_pages_against_the_configured_host() {
    let h = harness().await;
    let first = h.client.list_apps(1, 2).await.unwrap();
    assert_eq!(first.apps.len(), 2);
    assert_eq!(first.next_page, Some(2));
    let all = h.client.list_all_apps(2, 10).await.unwrap();
    let names: Vec<&str> = all.iter().map(|a| a.name()).collect();
    assert_eq!(names, ["web-1", "web-2", "web-3", "web-4", "web-5"]);
    let pages: Vec<String> = h
        .fake
        .requests()
        .iter()
        .skip(1)
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        pages,
        [
            "page=1&per_page=2",
            "page=2&per_page=2",
            "page=3&per_page=2"
        ]
    );
}

#[tokio::test]
async fn gets_an_app_with_its_active_deployment() {
    let h = harness().await;
    let app = h.client.get_app("app-3").await.unwrap();
    assert_eq!(app.name(), "web-3");
    assert_eq!(
        app.active_deployment.unwrap().phase,
        DeploymentPhase::Active
    );
}

#[tokio::test]
async fn deploys_and_follows_phases_to_active() {
    let h = harness().await;
    let dep = h.client.create_deployment("app-1", true).await.unwrap();
    assert_eq!(dep.phase, DeploymentPhase::PendingBuild);
    assert!(
        h.world.lock().unwrap().deployments[&dep.id].1,
        "force_build was sent"
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment("app-1", &dep.id, &opts, Some(&tx))
        .await
        .unwrap();
    assert_eq!(done.phase, DeploymentPhase::Active);
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(
        seen,
        [
            "digitalocean app app-1 deployment dep-1: PENDING_BUILD (0/4 steps)",
            "digitalocean app app-1 deployment dep-1: BUILDING (1/4 steps)",
            "digitalocean app app-1 deployment dep-1: DEPLOYING (3/4 steps)",
            "digitalocean app app-1 deployment dep-1: ACTIVE (4/4 steps)"
        ]
    );
}

#[tokio::test]
async fn failed_deployment_ends_in_error() {
    let h = harness().await;
    let dep = h
        .client
        .create_deployment("app-broken", false)
        .await
        .unwrap();
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment("app-broken", &dep.id, &opts, None)
        .await
        .unwrap();
    assert_eq!(done.phase, DeploymentPhase::Error);
}

#[tokio::test]
async fn reads_droplet_status() {
    let h = harness().await;
    let droplet = h.client.get_droplet(3164444).await.unwrap();
    assert_eq!(droplet.status, "active");
    assert_eq!(droplet.name, "worker-1");
}

#[tokio::test]
async fn error_statuses_are_typed_and_named() {
    let h = harness().await;
    let err = h.client.get_droplet(1).await.unwrap_err();
    assert_error_text(&err, "digitalocean.get_droplet", Some(404));
    assert!(err.to_string().contains("could not be found"), "{err}");
    assert!(err.to_string().contains("(code not_found)"), "{err}");
    let err = h
        .client
        .create_deployment("app-frozen", false)
        .await
        .unwrap_err();
    assert_error_text(&err, "digitalocean.create_deployment", Some(422));
    assert!(err
        .to_string()
        .contains("locked by an in-progress deployment"));
    let (http, _) = test_http();
    let stranger = DigitalOceanClient::new(DigitalOceanConfig {
        base_url: h.base_url.clone(),
        token: Secret::new("dop_v1_wrong"),
        http,
    })
    .unwrap();
    let err = stranger.get_app("app-1").await.unwrap_err();
    assert!(err.is_auth());
    assert_error_text(&err, "digitalocean.get_app", Some(401));
    assert!(!err.to_string().contains("dop_v1_wrong"));
}

#[tokio::test]
async fn rate_limit_and_server_errors_are_retried() {
    let h = harness().await;
    h.fake
        .push_faults([Fault::rate_limited("4"), Fault::status(503, "unavailable")]);
    assert_eq!(h.client.get_app("app-2").await.unwrap().name(), "web-2");
    assert_eq!(
        *h.slept.lock().unwrap(),
        [Duration::from_secs(4), Duration::from_millis(2)]
    );
    h.fake.push_faults([
        Fault::status(500, "x"),
        Fault::status(500, "x"),
        Fault::status(500, "Server was unable to give you a response."),
    ]);
    let err = h.client.get_app("app-2").await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Status {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_error_text(&err, "digitalocean.get_app", Some(500));
}

#[tokio::test]
async fn slow_answer_is_a_timeout_error() {
    let h = harness().await;
    h.fake.push_faults([Fault::Delay(Duration::from_secs(3))]);
    let err = h.client.list_apps(1, 20).await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_error_text(&err, "digitalocean.list_apps", None);
}
