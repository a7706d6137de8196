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
use opsroom_adapters::digitalocean::{
    spec_with_branch, ComponentSource, DeploymentPhase, DigitalOceanClient, DigitalOceanConfig,
};
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
    /// Bodies of the rollbacks the fake carried out.
    rollbacks: Vec<Value>,
    /// Whether the app is pinned to an uncommitted rollback.
    pinned: bool,
    /// Bodies of the spec updates.
    spec_updates: Vec<Value>,
}

/// `app-1`'s deployment history, newest first: id, phase, steps done of 6.
const HISTORY: [(&str, &str, u32); 5] = [
    ("dep-h5", "ACTIVE", 6),
    ("dep-h4", "ERROR", 3),
    ("dep-h3", "SUPERSEDED", 6),
    ("dep-h2", "SUPERSEDED", 1),
    ("dep-h1", "SUPERSEDED", 6),
];

fn history_entry(index: usize) -> Value {
    let (id, phase, done) = HISTORY[index];
    let n = HISTORY.len() - index;
    json!({"id": id, "phase": phase, "cause": "commit pushed",
        "progress": {"success_steps": done, "total_steps": 6, "error_steps": u32::from(phase == "ERROR")},
        "created_at": format!("2025-03-0{n}T10:00:00Z"),
        "services": [{"name": "web", "source_commit_hash": format!("c0ffee{n}")}]})
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

/// `PUT /v2/apps/{id}`: the new spec is kept and rolled out at once, as
/// App Platform does for a changed spec.
async fn update_app(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if id != "app-1" {
        return s
            .fake
            .error(404, "The resource you were accessing could not be found.");
    }
    if body["spec"]["name"].as_str().is_none() {
        return s.fake.error(400, "spec.name is required");
    }
    let mut w = s.world.lock().unwrap();
    w.spec_updates.push(body.clone());
    Json(json!({"app": {"id": id, "spec": body["spec"],
        "active_deployment": {"id": "dep-1-0", "phase": "ACTIVE"},
        "in_progress_deployment": {"id": "dep-spec", "phase": "PENDING_BUILD"}}}))
    .into_response()
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

/// `app-1`'s five deployments, paged; `links.pages.next` names the real
/// API host, as DigitalOcean does.
async fn list_deployments(
    State(s): State<AppState>,
    Path(app_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if app_id != "app-1" {
        return s
            .fake
            .error(404, "The resource you were accessing could not be found.");
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per_page: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
    let total = HISTORY.len();
    let start = (page - 1) * per_page;
    let deployments: Vec<Value> = (start..total.min(start + per_page))
        .map(history_entry)
        .collect();
    let link = |n: usize| {
        format!(
            "{}/v2/apps/app-1/deployments?page={n}&per_page={per_page}",
            s.public_url
        )
    };
    let mut pages = json!({"first": link(1)});
    if page < total.div_ceil(per_page) {
        pages["next"] = json!(link(page + 1));
        pages["last"] = json!(link(total.div_ceil(per_page)));
    }
    Json(json!({"deployments": deployments, "links": {"pages": pages}, "meta": {"total": total}}))
        .into_response()
}

/// Rolls `app-1` back to one of its deployments that went live; the new
/// deployment goes PENDING_DEPLOY → DEPLOYING → ACTIVE.
async fn rollback(
    State(s): State<AppState>,
    Path(app_id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if app_id != "app-1" {
        return s
            .fake
            .error(404, "The resource you were accessing could not be found.");
    }
    let target = body["deployment_id"].as_str().unwrap_or("");
    let Some((_, phase, done)) = HISTORY.iter().find(|(id, _, _)| *id == target) else {
        return s.fake.error(404, "deployment not found");
    };
    if *phase == "ACTIVE" {
        return s
            .fake
            .error(422, "cannot roll back to the currently active deployment");
    }
    if *phase != "SUPERSEDED" || *done < 6 {
        return s.fake.error(
            422,
            &format!("deployment {target} is in phase {phase} and cannot be rolled back to"),
        );
    }
    let mut w = s.world.lock().unwrap();
    w.seq += 1;
    let id = format!("dep-rb-{}", w.seq);
    w.deployments.insert(
        id.clone(),
        (vec!["PENDING_DEPLOY", "DEPLOYING", "ACTIVE"], false),
    );
    w.pinned = !body["skip_pin"].as_bool().unwrap_or(false);
    w.rollbacks.push(body);
    Json(
        json!({"deployment": {"id": id, "phase": "PENDING_DEPLOY", "cause": "manual rollback",
        "progress": {"success_steps": 0, "total_steps": 4}}}),
    )
    .into_response()
}

async fn commit_rollback(State(s): State<AppState>, Path(app_id): Path<String>) -> Response {
    if app_id != "app-1" {
        return s
            .fake
            .error(404, "The resource you were accessing could not be found.");
    }
    let mut w = s.world.lock().unwrap();
    if !w.pinned {
        return s.fake.error(422, "app has no pending rollback to commit");
    }
    w.pinned = false;
    common::empty(200)
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
        .route("/v2/apps/{id}", get(get_app).put(update_app))
        .route(
            "/v2/apps/{id}/deployments",
            post(create_deployment).get(list_deployments),
        )
        .route("/v2/apps/{id}/rollback", post(rollback))
        .route("/v2/apps/{id}/rollback/commit", post(commit_rollback))
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
async fn updates_the_app_spec_and_names_the_deployment_it_started() {
    let h = harness().await;
    let spec = json!({"name": "web-1", "services": [{"name": "web",
        "github": {"repo": "acme/web", "branch": "main", "deploy_on_push": true}}]});
    let branched = spec_with_branch(&spec, "release-2");
    let app = h.client.update_app("app-1", &branched, true).await.unwrap();
    assert_eq!(app.in_progress_deployment.as_ref().unwrap().id, "dep-spec");
    assert_eq!(
        app.component_sources(),
        [ComponentSource {
            component: "web".to_owned(),
            kind: "github".to_owned(),
            repo: Some("acme/web".to_owned()),
            branch: Some("release-2".to_owned()),
        }]
    );
    let sent = h.world.lock().unwrap().spec_updates.clone();
    assert_eq!(
        sent,
        [
            json!({"spec": {"name": "web-1", "services": [{"name": "web",
            "github": {"repo": "acme/web", "branch": "release-2", "deploy_on_push": true}}]},
            "update_all_source_versions": true})
        ]
    );
    let put = &h.fake.requests()[0];
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/v2/apps/app-1")
    );
    let err = h
        .client
        .update_app("app-9", &spec, false)
        .await
        .unwrap_err();
    assert_error_text(&err, "digitalocean.update_app", Some(404));
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

#[tokio::test]
async fn lists_deployments_across_pages_newest_first() {
    let h = harness().await;
    let first = h.client.list_deployments("app-1", 1, 2).await.unwrap();
    let ids: Vec<&str> = first.deployments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["dep-h5", "dep-h4"]);
    assert_eq!(first.next_page, Some(2));
    assert_eq!(first.total, Some(5));
    assert_eq!(first.deployments[0].source_commit(), Some("c0ffee5"));
    assert_eq!(
        first.deployments[0].created_at.unwrap().to_rfc3339(),
        "2025-03-05T10:00:00+00:00"
    );

    h.fake.clear_requests();
    let all = h.client.list_all_deployments("app-1", 2, 10).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["dep-h5", "dep-h4", "dep-h3", "dep-h2", "dep-h1"]);
    let live: Vec<&str> = all
        .iter()
        .filter(|d| d.went_live())
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(
        live,
        ["dep-h5", "dep-h3", "dep-h1"],
        "ERROR and unfinished ones never served"
    );
    let requests = h.fake.requests();
    let pages: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.path.as_str(), r.query.as_str()))
        .collect();
    assert_eq!(
        pages,
        [
            ("/v2/apps/app-1/deployments", "page=1&per_page=2"),
            ("/v2/apps/app-1/deployments", "page=2&per_page=2"),
            ("/v2/apps/app-1/deployments", "page=3&per_page=2"),
        ],
        "every page is asked of the configured host"
    );

    let capped = h.client.list_all_deployments("app-1", 2, 2).await.unwrap();
    assert_eq!(capped.len(), 4, "at most max_pages pages");
    let err = h.client.list_deployments("app-9", 1, 20).await.unwrap_err();
    assert_error_text(&err, "digitalocean.list_deployments", Some(404));
}

#[tokio::test]
async fn rolls_back_and_follows_the_new_deployment_to_active() {
    let h = harness().await;
    let dep = h.client.rollback("app-1", "dep-h3", true).await.unwrap();
    assert_eq!(dep.phase, DeploymentPhase::PendingDeploy);
    assert_eq!(
        h.world.lock().unwrap().rollbacks,
        [json!({"deployment_id": "dep-h3", "skip_pin": true})]
    );
    let request = h.fake.requests().pop().unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v2/apps/app-1/rollback")
    );
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment("app-1", &dep.id, &opts, None)
        .await
        .unwrap();
    assert_eq!(done.phase, DeploymentPhase::Active);
    assert!(!h.world.lock().unwrap().pinned);
}

#[tokio::test]
async fn a_pinned_rollback_is_committed() {
    let h = harness().await;
    h.client.rollback("app-1", "dep-h1", false).await.unwrap();
    assert!(
        h.world.lock().unwrap().pinned,
        "skip_pin false pins the app"
    );
    h.client.commit_rollback("app-1").await.unwrap();
    assert!(!h.world.lock().unwrap().pinned);
    let err = h.client.commit_rollback("app-1").await.unwrap_err();
    assert_error_text(&err, "digitalocean.commit_rollback", Some(422));
    assert!(err.to_string().contains("no pending rollback"), "{err}");
}

#[tokio::test]
async fn rollback_refusals_name_the_call_status_and_reason() {
    let h = harness().await;
    let err = h
        .client
        .rollback("app-1", "dep-nope", true)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert_error_text(&err, "digitalocean.rollback", Some(404));
    assert!(err.to_string().contains("deployment not found"), "{err}");

    let err = h
        .client
        .rollback("app-1", "dep-h4", true)
        .await
        .unwrap_err();
    assert_error_text(&err, "digitalocean.rollback", Some(422));
    assert!(
        err.to_string().contains("dep-h4 is in phase ERROR")
            && err.to_string().contains("(code unprocessable_entity)"),
        "{err}"
    );
    assert!(!err.is_transient(), "a refusal is not worth retrying");
    let err = h
        .client
        .rollback("app-1", "dep-h2", true)
        .await
        .unwrap_err();
    assert_error_text(&err, "digitalocean.rollback", Some(422));

    let sent = h.fake.requests().len();
    let err = h.client.rollback("app-1", " ", true).await.unwrap_err();
    assert!(matches!(err, ApiError::InvalidInput { .. }), "{err:?}");
    assert_error_text(&err, "digitalocean.rollback", None);
    assert_eq!(h.fake.requests().len(), sent, "nothing sent without an id");
    assert!(h.world.lock().unwrap().rollbacks.is_empty());
}

#[tokio::test]
async fn rollback_waits_out_a_rate_limit_but_never_repeats_after_a_500() {
    let h = harness().await;
    h.fake.push_faults([Fault::rate_limited("7")]);
    h.client.rollback("app-1", "dep-h3", true).await.unwrap();
    assert_eq!(*h.slept.lock().unwrap(), [Duration::from_secs(7)]);
    assert_eq!(h.world.lock().unwrap().rollbacks.len(), 1);

    // After a 500 DigitalOcean may have started the rollback: a second
    // request could start another one, so the error goes to the caller.
    h.fake.push_faults([Fault::status(
        500,
        "Server was unable to give you a response.",
    )]);
    let sent = h.fake.requests().len();
    let err = h
        .client
        .rollback("app-1", "dep-h3", true)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Status {
                status: 500,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_error_text(&err, "digitalocean.rollback", Some(500));
    assert_eq!(h.fake.requests().len(), sent + 1);

    // Reading is safe to repeat.
    h.fake
        .push_faults([Fault::status(500, "x"), Fault::rate_limited("1")]);
    let page = h.client.list_deployments("app-1", 1, 20).await.unwrap();
    assert_eq!(page.deployments.len(), 5);
}
