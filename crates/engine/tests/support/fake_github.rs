//! A fake GitHub Actions API: repository, `workflow_dispatch`, the
//! workflow's runs, and one run moving queued → in_progress → completed
//! (success, or failure when the `ref` input is `broken`).

use super::{authorized, serve};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// One workflow run of the fake.
#[derive(Clone, Debug)]
pub struct FakeRun {
    pub id: u64,
    pub inputs: Value,
    pub branch: String,
    pub polls: u32,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What the fake holds.
#[derive(Default, Debug)]
pub struct GitHubWorld {
    pub runs: Vec<FakeRun>,
}

type Shared = Arc<Mutex<GitHubWorld>>;

/// A running fake; `url` is its base URL.
#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    pub world: Shared,
}

fn deny(headers: &HeaderMap) -> Option<Response> {
    (!authorized(headers)).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response()
    })
}

fn status_of(run: &FakeRun) -> (&'static str, Option<&'static str>) {
    match run.polls {
        0 | 1 => ("queued", None),
        2 => ("in_progress", None),
        _ if run.inputs["ref"] == "broken" => ("completed", Some("failure")),
        _ => ("completed", Some("success")),
    }
}

fn run_json(run: &FakeRun) -> Value {
    let (status, conclusion) = status_of(run);
    json!({
        "id": run.id, "name": "deploy", "status": status, "conclusion": conclusion,
        "head_branch": run.branch, "head_sha": format!("sha-{}", run.inputs["ref"].as_str().unwrap_or("")),
        "event": "workflow_dispatch",
        "html_url": format!("https://github.com/acme/web/actions/runs/{}", run.id),
        "created_at": run.created_at.to_rfc3339(),
    })
}

async fn repo(headers: HeaderMap) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    Json(
        json!({"id": 1, "full_name": "acme/web", "default_branch": "main", "private": true,
                "html_url": "https://github.com/acme/web"}),
    )
    .into_response()
}

async fn dispatch(
    State(w): State<Shared>,
    headers: HeaderMap,
    Path((_o, _r, workflow)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    if workflow != "deploy.yml" {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
    }
    let mut world = w.lock().unwrap();
    let id = 500 + world.runs.len() as u64;
    world.runs.push(FakeRun {
        id,
        inputs: body["inputs"].clone(),
        branch: body["ref"].as_str().unwrap_or("").to_string(),
        polls: 0,
        created_at: chrono::Utc::now(),
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn list_runs(State(w): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let world = w.lock().unwrap();
    let runs: Vec<Value> = world.runs.iter().rev().map(run_json).collect();
    Json(json!({"total_count": runs.len(), "workflow_runs": runs})).into_response()
}

async fn get_run(
    State(w): State<Shared>,
    headers: HeaderMap,
    Path((_o, _r, id)): Path<(String, String, u64)>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let mut world = w.lock().unwrap();
    let Some(run) = world.runs.iter_mut().find(|r| r.id == id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
    };
    run.polls += 1;
    Json(run_json(run)).into_response()
}

impl FakeGitHub {
    /// Starts the fake with no runs.
    pub async fn start() -> FakeGitHub {
        let world: Shared = Arc::default();
        let app = Router::new()
            .route("/repos/{o}/{r}", get(repo))
            .route(
                "/repos/{o}/{r}/actions/workflows/{wf}/dispatches",
                post(dispatch),
            )
            .route("/repos/{o}/{r}/actions/workflows/{wf}/runs", get(list_runs))
            .route("/repos/{o}/{r}/actions/runs/{id}", get(get_run))
            .with_state(world.clone());
        FakeGitHub {
            url: serve(app).await,
            world,
        }
    }

    /// The inputs of every dispatch, in order.
    pub fn dispatched_inputs(&self) -> Vec<Value> {
        self.world
            .lock()
            .unwrap()
            .runs
            .iter()
            .map(|r| r.inputs.clone())
            .collect()
    }
}
