//! A fake Vercel API speaking the endpoints the deploy provider uses, plus
//! the `/healthz` of the site it "hosts": healthy unless the live
//! deployment was built from the ref `unhealthy`.
//!
//! Refs steer the fake: `rejected` is refused at creation (HTTP 400),
//! `broken` ends in ERROR, `slow` builds forever, a held ref builds until
//! it is released; others go QUEUED → BUILDING → READY over three polls.
//! It starts with two READY production deployments, `dpl_old1` (ref v1)
//! and `dpl_old2` (ref v2, live).

use super::{authorized, serve};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One deployment the fake knows.
#[derive(Clone, Debug)]
pub struct FakeDeployment {
    pub id: String,
    pub git_ref: String,
    pub state: &'static str,
    pub polls: u32,
    pub created: i64,
}

/// What the fake holds and saw.
#[derive(Default, Debug)]
pub struct VercelWorld {
    pub deployments: Vec<FakeDeployment>,
    /// The deployment serving the site.
    pub live: String,
    /// Deployment ids the project was rolled back to, in order.
    pub rollbacks: Vec<String>,
    /// How many create calls were accepted.
    pub created: u32,
    /// Requests refused for a bad token.
    pub unauthorized: u32,
    /// Refs that stay BUILDING until released.
    pub held: Vec<String>,
}

/// A running fake; `url` is its base URL.
#[derive(Clone)]
pub struct FakeVercel {
    pub url: String,
    pub world: Arc<Mutex<VercelWorld>>,
}

fn error(status: u16, code: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

type Shared = Arc<Mutex<VercelWorld>>;

fn deny(world: &Shared, headers: &HeaderMap) -> Option<Response> {
    if authorized(headers) {
        return None;
    }
    world.lock().unwrap().unauthorized += 1;
    Some(error(
        403,
        "forbidden",
        "Not authorized: the token is invalid",
    ))
}

fn to_json(d: &FakeDeployment) -> Value {
    let mut v = json!({
        "id": d.id, "url": format!("web-{}.vercel.app", d.id), "name": "web",
        "readyState": d.state, "target": "production", "projectId": "prj_web",
        "createdAt": d.created, "alias": [],
        "inspectorUrl": format!("https://vercel.com/acme/web/{}", d.id),
    });
    if d.state == "ERROR" {
        v["errorMessage"] = json!("Command \"npm run build\" exited with 1");
    }
    v
}

async fn create(State(w): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = deny(&w, &headers) {
        return r;
    }
    let git_ref = body["gitSource"]["ref"].as_str().unwrap_or("").to_string();
    if body["gitSource"]["org"] != "acme" || body["gitSource"]["repo"] != "web" {
        return error(400, "bad_request", "gitSource must name acme/web");
    }
    if git_ref == "rejected" {
        return error(
            400,
            "incorrect_git_source_info",
            "Cannot deploy ref rejected: it does not exist in acme/web",
        );
    }
    let mut world = w.lock().unwrap();
    world.created += 1;
    let d = FakeDeployment {
        id: format!("dpl_new{}", world.created),
        git_ref,
        state: "QUEUED",
        polls: 0,
        created: 10_000 + world.created as i64,
    };
    world.deployments.push(d.clone());
    Json(to_json(&d)).into_response()
}

async fn get_one(State(w): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = deny(&w, &headers) {
        return r;
    }
    let mut world = w.lock().unwrap();
    let held = world.held.clone();
    let Some(d) = world.deployments.iter_mut().find(|d| d.id == id) else {
        return error(404, "not_found", "The deployment was not found.");
    };
    let mut became_ready = false;
    if d.state != "READY" && d.state != "ERROR" {
        d.polls += 1;
        d.state = match (d.polls, d.git_ref.as_str()) {
            (1, _) => "QUEUED",
            (_, "slow") => "BUILDING",
            (_, r) if held.iter().any(|h| h == r) => "BUILDING",
            (2, _) => "BUILDING",
            (_, "broken") => "ERROR",
            _ => "READY",
        };
        became_ready = d.state == "READY";
    }
    let d = d.clone();
    if became_ready {
        // A new production deployment takes the traffic once ready.
        world.live = d.id.clone();
    }
    Json(to_json(&d)).into_response()
}

/// Newest first; only the states `state` names (comma-separated) when given.
async fn list(
    State(w): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = deny(&w, &headers) {
        return r;
    }
    let world = w.lock().unwrap();
    let wanted = |state: &str| {
        q.get("state")
            .is_none_or(|states| states.split(',').any(|s| s == state))
    };
    let mut shown: Vec<&FakeDeployment> = world
        .deployments
        .iter()
        .filter(|d| wanted(d.state))
        .collect();
    shown.sort_by_key(|d| std::cmp::Reverse(d.created));
    let items: Vec<Value> = shown
        .iter()
        .map(|d| {
            json!({"uid": d.id, "name": "web", "url": format!("web-{}.vercel.app", d.id),
                   "created": d.created, "readyState": d.state, "state": d.state,
                   "target": "production", "meta": {"githubCommitRef": d.git_ref}})
        })
        .collect();
    Json(json!({"deployments": items, "pagination": {"count": items.len(), "next": null}}))
        .into_response()
}

async fn rollback(
    State(w): State<Shared>,
    headers: HeaderMap,
    Path((_project, id)): Path<(String, String)>,
) -> Response {
    if let Some(r) = deny(&w, &headers) {
        return r;
    }
    let mut world = w.lock().unwrap();
    if !world
        .deployments
        .iter()
        .any(|d| d.id == id && d.state == "READY")
    {
        return error(
            400,
            "bad_request",
            "Only READY deployments can be rolled back to",
        );
    }
    world.live = id.clone();
    world.rollbacks.push(id);
    StatusCode::CREATED.into_response()
}

async fn healthz(State(w): State<Shared>) -> Response {
    let world = w.lock().unwrap();
    let live = world.deployments.iter().find(|d| d.id == world.live);
    match live {
        Some(d) if d.git_ref == "unhealthy" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "down: the new build crashes",
        )
            .into_response(),
        _ => (StatusCode::OK, "ok").into_response(),
    }
}

impl FakeVercel {
    /// Starts the fake with its two earlier deployments.
    pub async fn start() -> FakeVercel {
        let world = Arc::new(Mutex::new(VercelWorld {
            deployments: vec![
                FakeDeployment {
                    id: "dpl_old1".into(),
                    git_ref: "v1".into(),
                    state: "READY",
                    polls: 0,
                    created: 1000,
                },
                FakeDeployment {
                    id: "dpl_old2".into(),
                    git_ref: "v2".into(),
                    state: "READY",
                    polls: 0,
                    created: 2000,
                },
            ],
            live: "dpl_old2".into(),
            ..Default::default()
        }));
        let app = Router::new()
            .route("/v13/deployments", post(create))
            .route("/v13/deployments/{id}", get(get_one))
            .route("/v6/deployments", get(list))
            .route("/v1/projects/{project}/rollback/{id}", post(rollback))
            .route("/healthz", get(healthz))
            .with_state(world.clone());
        FakeVercel {
            url: serve(app).await,
            world,
        }
    }

    /// The deployment serving the site now.
    pub fn live(&self) -> String {
        self.world.lock().unwrap().live.clone()
    }

    /// Keeps deployments of `git_ref` BUILDING until [`FakeVercel::release`].
    pub fn hold(&self, git_ref: &str) {
        self.world.lock().unwrap().held.push(git_ref.into());
    }

    /// Lets deployments of `git_ref` finish building.
    pub fn release(&self, git_ref: &str) {
        self.world.lock().unwrap().held.retain(|h| h != git_ref);
    }

    /// Ids rolled back to.
    pub fn rollbacks(&self) -> Vec<String> {
        self.world.lock().unwrap().rollbacks.clone()
    }
}
