//! A fake DigitalOcean App Platform API: one app (`app-1`) whose live
//! deployment is `dep-old`; a new deployment moves PENDING_BUILD →
//! BUILDING → DEPLOYING → ACTIVE over four polls and then serves.

use super::{authorized, serve};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// What the fake holds.
#[derive(Debug)]
pub struct DoWorld {
    pub active: String,
    /// Deployment id and how often it was read.
    pub deployments: Vec<(String, u32)>,
}

type Shared = Arc<Mutex<DoWorld>>;

/// A running fake; `url` is its base URL.
#[derive(Clone)]
pub struct FakeDigitalOcean {
    pub url: String,
    pub world: Shared,
}

fn deny(headers: &HeaderMap) -> Option<Response> {
    (!authorized(headers)).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"id": "unauthorized", "message": "Unable to authenticate you"})),
        )
            .into_response()
    })
}

fn phase(polls: u32) -> &'static str {
    match polls {
        0 | 1 => "PENDING_BUILD",
        2 => "BUILDING",
        3 => "DEPLOYING",
        _ => "ACTIVE",
    }
}

fn deployment(id: &str, phase: &str) -> Value {
    json!({"id": id, "phase": phase, "cause": "manual",
           "progress": {"success_steps": 1, "total_steps": 3, "error_steps": 0}})
}

async fn app(State(w): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    if id != "app-1" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"id": "not_found", "message": "The resource you were accessing could not be found."})),
        )
            .into_response();
    }
    let active = w.lock().unwrap().active.clone();
    Json(json!({"app": {"id": id, "spec": {"name": "shop"},
        "live_url": "https://shop.ondigitalocean.app",
        "active_deployment": deployment(&active, "ACTIVE")}}))
    .into_response()
}

async fn create(State(w): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let mut world = w.lock().unwrap();
    let id = format!("dep-{}", world.deployments.len() + 1);
    world.deployments.push((id.clone(), 0));
    Json(json!({"deployment": deployment(&id, "PENDING_BUILD")})).into_response()
}

async fn get_deployment(
    State(w): State<Shared>,
    headers: HeaderMap,
    Path((_app, id)): Path<(String, String)>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let mut world = w.lock().unwrap();
    let Some((_, polls)) = world.deployments.iter_mut().find(|(d, _)| *d == id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"id": "not_found", "message": "no such deployment"})),
        )
            .into_response();
    };
    *polls += 1;
    let phase = phase(*polls);
    if phase == "ACTIVE" {
        world.active = id.clone();
    }
    Json(json!({"deployment": deployment(&id, phase)})).into_response()
}

impl FakeDigitalOcean {
    /// Starts the fake.
    pub async fn start() -> FakeDigitalOcean {
        let world = Arc::new(Mutex::new(DoWorld {
            active: "dep-old".into(),
            deployments: Vec::new(),
        }));
        let app_routes = Router::new()
            .route("/v2/apps/{id}", get(app))
            .route("/v2/apps/{id}/deployments", post(create))
            .route("/v2/apps/{app}/deployments/{id}", get(get_deployment))
            .with_state(world.clone());
        FakeDigitalOcean {
            url: serve(app_routes).await,
            world,
        }
    }

    /// The live deployment.
    pub fn active(&self) -> String {
        self.world.lock().unwrap().active.clone()
    }
}
