//! A fake GitHub API: repository, `workflow_dispatch`, the workflow's runs
//! (one run moves queued → in_progress → completed: success, or failure
//! when the `ref` input is `broken`), and the git data and pull request
//! endpoints the spec runbook uses (branch `main` exists at `sha-main`).
//!
//! `deploy.yml` declares the inputs `ref`, `environment` and `opsroom_run`
//! (others are refused with 422, as GitHub does) and has
//! `run-name: deploy ${{ inputs.opsroom_run }}`. A dispatch asking for
//! `return_run_details` gets 200 with the run's id and URLs, unless the
//! fake plays a GitHub Enterprise Server that predates them (204). Run
//! times have GitHub's one-second resolution, and the runs list can lag
//! behind dispatches, as GitHub's does.

use super::{authorized, serve};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
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
    /// Answer dispatches with 204 even when asked for the run's details.
    pub without_run_details: bool,
    /// The runs list shows nothing until this many dispatches arrived.
    pub list_after: usize,
    /// How often the runs list was searched for a dispatch's run (read
    /// with `event=workflow_dispatch`).
    pub run_searches: u32,
    /// Branch name and the commit it points at.
    pub branches: Vec<(String, String)>,
    /// Paths of every tree made.
    pub tree_paths: Vec<String>,
    /// Bodies of the pull requests opened.
    pub pulls: Vec<Value>,
    /// Objects made so far (for unique SHAs).
    pub objects: u32,
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
    let title = match run.inputs["opsroom_run"].as_str() {
        Some(marker) => format!("deploy {marker}"),
        None => "deploy ".to_string(),
    };
    json!({
        "id": run.id, "name": "deploy", "display_title": title, "status": status, "conclusion": conclusion,
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
    let declared = ["ref", "environment", "opsroom_run"];
    let unexpected: Vec<&String> = body["inputs"]
        .as_object()
        .map(|inputs| {
            inputs
                .keys()
                .filter(|k| !declared.contains(&k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if !unexpected.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": format!("Unexpected inputs provided: {unexpected:?}")})),
        )
            .into_response();
    }
    let mut world = w.lock().unwrap();
    let id = 500 + world.runs.len() as u64;
    // GitHub stamps runs to the second.
    let now = chrono::Utc::now().timestamp();
    world.runs.push(FakeRun {
        id,
        inputs: body["inputs"].clone(),
        branch: body["ref"].as_str().unwrap_or("").to_string(),
        polls: 0,
        created_at: chrono::DateTime::from_timestamp(now, 0).unwrap(),
    });
    if body["return_run_details"] == true && !world.without_run_details {
        return Json(json!({
            "workflow_run_id": id,
            "run_url": format!("https://api.github.com/repos/acme/web/actions/runs/{id}"),
            "html_url": format!("https://github.com/acme/web/actions/runs/{id}"),
        }))
        .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn list_runs(
    State(w): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let mut world = w.lock().unwrap();
    if q.get("event").map(String::as_str) == Some("workflow_dispatch") {
        world.run_searches += 1;
    }
    let runs: Vec<Value> = if world.runs.len() < world.list_after {
        Vec::new()
    } else {
        world.runs.iter().rev().map(run_json).collect()
    };
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

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response()
}

fn ref_json(branch: &str, sha: &str) -> Value {
    json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": sha, "type": "commit"}})
}

async fn get_branch(
    State(w): State<Shared>,
    headers: HeaderMap,
    Path((_o, _r, branch)): Path<(String, String, String)>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let world = w.lock().unwrap();
    match world.branches.iter().find(|(b, _)| *b == branch) {
        Some((b, sha)) => Json(ref_json(b, sha)).into_response(),
        None => not_found(),
    }
}

async fn create_ref(
    State(w): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let branch = body["ref"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("refs/heads/")
        .to_string();
    let sha = body["sha"].as_str().unwrap_or("").to_string();
    let mut world = w.lock().unwrap();
    if world.branches.iter().any(|(b, _)| *b == branch) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Reference already exists"})),
        )
            .into_response();
    }
    world.branches.push((branch.clone(), sha.clone()));
    (StatusCode::CREATED, Json(ref_json(&branch, &sha))).into_response()
}

async fn get_commit(
    headers: HeaderMap,
    Path((_o, _r, sha)): Path<(String, String, String)>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    Json(json!({"sha": sha, "tree": {"sha": format!("tree-of-{sha}")}})).into_response()
}

/// Blobs, trees and commits: each gets a new SHA; tree paths are kept.
async fn create_object(
    State(w): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let mut world = w.lock().unwrap();
    world.objects += 1;
    if let Some(entries) = body["tree"].as_array() {
        let paths: Vec<String> = entries
            .iter()
            .filter_map(|e| e["path"].as_str().map(String::from))
            .collect();
        world.tree_paths.extend(paths);
    }
    (
        StatusCode::CREATED,
        Json(json!({"sha": format!("obj-{}", world.objects)})),
    )
        .into_response()
}

async fn update_branch(
    State(w): State<Shared>,
    headers: HeaderMap,
    Path((_o, _r, branch)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let sha = body["sha"].as_str().unwrap_or("").to_string();
    let mut world = w.lock().unwrap();
    let Some(entry) = world.branches.iter_mut().find(|(b, _)| *b == branch) else {
        return not_found();
    };
    entry.1.clone_from(&sha);
    Json(ref_json(&branch, &sha)).into_response()
}

async fn create_pull(
    State(w): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = deny(&headers) {
        return r;
    }
    let mut world = w.lock().unwrap();
    world.pulls.push(body);
    let number = world.pulls.len() + 6;
    (
        StatusCode::CREATED,
        Json(json!({"number": number, "html_url": format!("https://github.com/acme/web/pull/{number}"), "state": "open"})),
    )
        .into_response()
}

impl FakeGitHub {
    /// Starts the fake with no runs.
    pub async fn start() -> FakeGitHub {
        let world: Shared = Arc::new(Mutex::new(GitHubWorld {
            branches: vec![("main".into(), "sha-main".into())],
            ..Default::default()
        }));
        let app = Router::new()
            .route("/repos/{o}/{r}", get(repo))
            .route("/repos/{o}/{r}/git/ref/heads/{*branch}", get(get_branch))
            .route("/repos/{o}/{r}/git/refs", post(create_ref))
            .route(
                "/repos/{o}/{r}/git/refs/heads/{*branch}",
                axum::routing::patch(update_branch),
            )
            .route("/repos/{o}/{r}/git/commits/{sha}", get(get_commit))
            .route("/repos/{o}/{r}/git/commits", post(create_object))
            .route("/repos/{o}/{r}/git/blobs", post(create_object))
            .route("/repos/{o}/{r}/git/trees", post(create_object))
            .route("/repos/{o}/{r}/pulls", post(create_pull))
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

    /// Plays a GitHub Enterprise Server that answers dispatches with 204
    /// and never names the run.
    pub fn without_run_details(&self) {
        self.world.lock().unwrap().without_run_details = true;
    }

    /// Lists no run until `dispatches` dispatches arrived.
    pub fn list_runs_after(&self, dispatches: usize) {
        self.world.lock().unwrap().list_after = dispatches;
    }

    /// The inputs of run `id`.
    pub fn run_inputs(&self, id: u64) -> Value {
        let world = self.world.lock().unwrap();
        let run = world.runs.iter().find(|r| r.id == id);
        run.map(|r| r.inputs.clone()).unwrap_or(Value::Null)
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
