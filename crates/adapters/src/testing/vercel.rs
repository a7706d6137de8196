//! A fake Vercel API speaking the endpoints the deploy provider uses, plus
//! the `/healthz` of the site it "hosts": healthy unless the live
//! deployment was built from the ref `unhealthy`.
//!
//! Refs steer the fake: `rejected` is refused at creation (HTTP 400),
//! `broken` ends in ERROR, `slow` builds forever, a held ref builds until
//! it is released; others go QUEUED → BUILDING → READY over three polls.
//! It starts with two READY production deployments, `dpl_old1` (ref v1)
//! and `dpl_old2` (ref v2, live).
//!
//! Production is modelled as Vercel runs it: the project's
//! `targets.production` names the deployment its domains serve. A new
//! production deployment takes them once READY, except after an instant
//! rollback: from then on Vercel leaves production where the rollback put
//! it until a deployment is promoted. Each build writes its log (read at
//! `/v3/deployments/{id}/events`, `since` honoured; stderr lines in the
//! older event shape, text at the top) a line per poll.
//!
//! Lists are paged as Vercel pages them (`limit`, `until`,
//! `pagination.next`); each deployment carries `ready` (when it became
//! READY) and its git `meta`. [`FakeVercel::push`] adds one made outside
//! opsroom, as a git push does. A promotion can be made to take a few reads of the
//! project, as Vercel carries it out in the background
//! ([`FakeVercel::slow_promotions`]). Runtime logs are the lines a test set for a
//! deployment ([`FakeVercel::set_runtime_logs`]), else three JSON lines.

use super::{error_response, Fake};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
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
    /// Whether production ever served it (only those can be rolled back to).
    pub served: bool,
    /// Its build log: (created, type, text).
    pub log: Vec<(i64, &'static str, String)>,
    /// The commit it was built from (`meta.githubCommitSha`), when known.
    pub commit: Option<String>,
    /// When it became READY (ms since the epoch): Vercel's `ready`.
    pub ready: Option<i64>,
}

impl FakeDeployment {
    /// A READY deployment of `git_ref` that served production.
    pub fn seeded(id: &str, git_ref: &str, created: i64) -> Self {
        FakeDeployment {
            id: id.into(),
            git_ref: git_ref.into(),
            state: "READY",
            polls: 0,
            created,
            served: true,
            log: Vec::new(),
            commit: None,
            ready: Some(created + 500),
        }
    }
}

/// What the fake holds and saw.
#[derive(Default, Debug)]
pub struct VercelWorld {
    pub deployments: Vec<FakeDeployment>,
    /// The deployment serving the site.
    pub live: String,
    /// Deployment ids the project was rolled back to, in order.
    pub rollbacks: Vec<String>,
    /// Deployment ids promoted, in order.
    pub promotions: Vec<String>,
    /// Every rollback request: (project, deployment id, description).
    pub rollback_requests: Vec<(String, String, Option<String>)>,
    /// Project reads a promotion takes to complete (0: at once).
    pub promotion_reads: u32,
    /// A promotion still under way: (deployment id, project reads left).
    pub promoting: Option<(String, u32)>,
    /// Whether a new READY production deployment takes production by
    /// itself (off after a rollback, on again after a promotion).
    pub auto_assign: bool,
    /// The last rollback or promotion: (type, from, to).
    pub last_alias_request: Option<(&'static str, String, String)>,
    /// Build log lines written so far (their `created` times).
    pub log_clock: i64,
    /// How many create calls were accepted.
    pub created: u32,
    /// Refs that stay BUILDING until released.
    pub held: Vec<String>,
    /// Runtime logs by deployment id, as set by
    /// [`FakeVercel::set_runtime_logs`]; a deployment without any gets
    /// three lines (see [`runtime_logs`]).
    pub runtime_logs: HashMap<String, Vec<Value>>,
    /// Deployment ids whose runtime logs were read, in order.
    pub runtime_log_reads: Vec<String>,
}

/// A running fake; `url` is its base URL, `gate` checks the token, injects
/// faults and records requests.
#[derive(Clone)]
pub struct FakeVercel {
    pub url: String,
    pub world: Arc<Mutex<VercelWorld>>,
    pub gate: Fake,
}

/// Vercel's error body, its code as Vercel names it for `status`.
pub fn error_body(status: u16, message: &str) -> Value {
    let code = match status {
        401 | 403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        429 => "rate_limited",
        _ => "bad_request",
    };
    json!({"error": {"code": code, "message": message}})
}

fn error(status: u16, message: &str) -> Response {
    error_response(error_body, status, message)
}

type Shared = Arc<Mutex<VercelWorld>>;

fn to_json(d: &FakeDeployment) -> Value {
    let mut v = json!({
        "id": d.id, "url": format!("web-{}.vercel.app", d.id), "name": "web",
        "readyState": d.state, "target": "production", "projectId": "prj_web",
        "createdAt": d.created, "alias": [],
        "inspectorUrl": format!("https://vercel.com/acme/web/{}", d.id),
        "ready": d.ready, "meta": meta(d),
    });
    if d.state == "ERROR" {
        v["errorMessage"] = json!("Command \"npm run build\" exited with 1");
    }
    v
}

async fn create(State(w): State<Shared>, Json(body): Json<Value>) -> Response {
    let git = &body["gitSource"];
    if body["name"].as_str().is_none()
        || git["type"].as_str().is_none()
        || git["ref"].as_str().is_none()
    {
        return error(400, "Invalid request: missing name or gitSource.ref");
    }
    let git_ref = git["ref"].as_str().unwrap_or("").to_string();
    if body["gitSource"]["org"] != "acme" || body["gitSource"]["repo"] != "web" {
        return error(400, "gitSource must name acme/web");
    }
    if git_ref == "rejected" {
        let mut body = error_body(
            400,
            "Cannot deploy ref rejected: it does not exist in acme/web",
        );
        body["error"]["code"] = json!("incorrect_git_source_info");
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let mut world = w.lock().unwrap();
    world.created += 1;
    let d = FakeDeployment {
        id: format!("dpl_new{}", world.created),
        git_ref,
        state: "QUEUED",
        polls: 0,
        created: 10_000 + world.created as i64,
        served: false,
        log: Vec::new(),
        commit: None,
        ready: None,
    };
    world.deployments.push(d.clone());
    Json(to_json(&d)).into_response()
}

async fn get_one(State(w): State<Shared>, Path(id): Path<String>) -> Response {
    let mut world = w.lock().unwrap();
    let held = world.held.clone();
    let auto_assign = world.auto_assign;
    world.log_clock += 1;
    let at = world.log_clock;
    let Some(d) = world.deployments.iter_mut().find(|d| d.id == id) else {
        return error(404, "The deployment was not found.");
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
        let line = match d.state {
            "QUEUED" => (
                "command",
                format!("Cloning github.com/acme/web (Branch: {})", d.git_ref),
            ),
            "BUILDING" => ("stdout", "Running \"npm run build\"".to_string()),
            "ERROR" => ("stderr", "Error: Cannot find module 'left-pad'".to_string()),
            _ => ("stdout", "Build Completed in /vercel/output".to_string()),
        };
        d.log.push((at, line.0, line.1));
        if d.state == "ERROR" {
            d.log.push((
                at,
                "stderr",
                "Error: Command \"npm run build\" exited with 1".to_string(),
            ));
        }
        became_ready = d.state == "READY";
        if became_ready {
            d.ready = Some(chrono::Utc::now().timestamp_millis());
        }
        if became_ready && auto_assign {
            d.served = true;
        }
    }
    let d = d.clone();
    if became_ready && auto_assign {
        // A new production deployment takes the traffic once ready, unless
        // a rollback turned that off.
        world.live = d.id.clone();
    }
    Json(to_json(&d)).into_response()
}

/// Newest first; only the states `state` names (comma-separated) when
/// given, and only those created before `until`.
async fn list(State(w): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let until: i64 = q
        .get("until")
        .and_then(|u| u.parse().ok())
        .unwrap_or(i64::MAX);
    let world = w.lock().unwrap();
    let wanted = |state: &str| {
        q.get("state")
            .is_none_or(|states| states.split(',').any(|s| s == state))
    };
    if q.get("projectId").is_some_and(|p| !known_project(p)) {
        return Json(json!({"deployments": [], "pagination": {"count": 0, "next": null}}))
            .into_response();
    }
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let mut shown: Vec<&FakeDeployment> = world
        .deployments
        .iter()
        .filter(|d| wanted(d.state) && d.created < until)
        .collect();
    shown.sort_by_key(|d| std::cmp::Reverse(d.created));
    let more = shown.len() > limit;
    shown.truncate(limit);
    let next = match shown.last() {
        Some(d) if more => json!(d.created),
        _ => Value::Null,
    };
    let items: Vec<Value> = shown
        .iter()
        .map(|d| {
            json!({"uid": d.id, "name": "web", "url": format!("web-{}.vercel.app", d.id),
                   "created": d.created, "readyState": d.state, "state": d.state,
                   "target": "production", "meta": meta(d), "ready": d.ready,
                   "inspectorUrl": format!("https://vercel.com/acme/web/{}", d.id)})
        })
        .collect();
    Json(json!({"deployments": items, "pagination": {"count": items.len(), "next": next}}))
        .into_response()
}

/// Git metadata as Vercel records it for a deployment from GitHub.
fn meta(d: &FakeDeployment) -> Value {
    let mut meta = json!({"githubCommitRef": d.git_ref, "githubOrg": "acme", "githubRepo": "web"});
    if let Some(sha) = &d.commit {
        meta["githubCommitSha"] = json!(sha);
    }
    meta
}

fn known_project(project: &str) -> bool {
    project == "web" || project == "prj_web"
}

/// `GET /v9/projects/{idOrName}`: `targets.production` is the deployment
/// production serves; `lastAliasRequest` the last rollback or promotion.
async fn project(State(w): State<Shared>, Path(project): Path<String>) -> Response {
    if !known_project(&project) {
        return error(404, "Project not found");
    }
    let mut world = w.lock().unwrap();
    let mut job_status = "succeeded";
    if let Some((id, reads_left)) = world.promoting.take() {
        if reads_left <= 1 {
            world.promote_now(&id);
        } else {
            world.promoting = Some((id, reads_left - 1));
            job_status = "in-progress";
        }
    }
    let production = world
        .deployments
        .iter()
        .find(|d| d.id == world.live)
        .map(to_json);
    let last = world.last_alias_request.as_ref().map(|(kind, from, to)| {
        json!({"type": kind, "jobStatus": job_status, "fromDeploymentId": from,
               "toDeploymentId": to, "requestedAt": 1})
    });
    Json(
        json!({"id": "prj_web", "name": "web", "accountId": "team_acme",
        "targets": {"production": production}, "lastAliasRequest": last}),
    )
    .into_response()
}

async fn rollback(
    State(w): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !known_project(&project) {
        return error(404, "Project not found");
    }
    let mut world = w.lock().unwrap();
    world
        .rollback_requests
        .push((project, id.clone(), q.get("description").cloned()));
    if !world
        .deployments
        .iter()
        .any(|d| d.id == id && d.state == "READY" && d.served)
    {
        return error(
            400,
            "Only deployments that served production can be rolled back to",
        );
    }
    if world.live == id {
        return error(
            409,
            "The deployment is already the current production deployment",
        );
    }
    let from = std::mem::replace(&mut world.live, id.clone());
    world.auto_assign = false;
    world.last_alias_request = Some(("rollback", from, id.clone()));
    world.rollbacks.push(id);
    StatusCode::CREATED.into_response()
}

/// `POST /v10/projects/{projectId}/promote/{deploymentId}`: production
/// serves it, and new deployments take production by themselves again.
async fn promote(State(w): State<Shared>, Path((project, id)): Path<(String, String)>) -> Response {
    if !known_project(&project) {
        return error(404, "Project not found");
    }
    let mut world = w.lock().unwrap();
    if !world
        .deployments
        .iter()
        .any(|d| d.id == id && d.state == "READY")
    {
        return error(400, "Only READY deployments can be promoted");
    }
    world.promotions.push(id.clone());
    if world.promotion_reads == 0 {
        world.promote_now(&id);
    } else {
        let live = world.live.clone();
        world.last_alias_request = Some(("promote", live, id.clone()));
        world.promoting = Some((id, world.promotion_reads));
    }
    StatusCode::CREATED.into_response()
}

impl VercelWorld {
    /// Production serves `id` from now on, and new deployments take
    /// production by themselves again.
    fn promote_now(&mut self, id: &str) {
        if let Some(d) = self.deployments.iter_mut().find(|d| d.id == id) {
            d.served = true;
        }
        let from = std::mem::replace(&mut self.live, id.to_string());
        self.auto_assign = true;
        self.last_alias_request = Some(("promote", from, id.to_string()));
    }
}

/// `GET /v1/projects/{project}/deployments/{id}/runtime-logs`: the lines
/// set for the deployment, one JSON object a line, else three JSON lines,
/// two of them the same error.
async fn runtime_logs(
    State(w): State<Shared>,
    Path((_project, id)): Path<(String, String)>,
) -> Response {
    let set = {
        let mut world = w.lock().unwrap();
        world.runtime_log_reads.push(id.clone());
        world.runtime_logs.get(&id).cloned()
    };
    if let Some(lines) = set {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        return ([("content-type", "application/stream+json")], body).into_response();
    }
    let line = |row: u32, level: &str, message: &str, path: &str, status: u16| {
        json!({"level": level, "message": message, "rowId": row.to_string(),
               "source": if status == 200 { "request" } else { "serverless" },
               "timestampInMs": row, "domain": "web.app", "messageTruncated": false,
               "requestMethod": "GET", "requestPath": path, "responseStatusCode": status})
        .to_string()
    };
    let body = [
        line(1, "info", "GET /", "/", 200),
        line(2, "error", "TypeError: x is undefined", "/api", 500),
        line(3, "error", "TypeError: x is undefined", "/api", 500),
    ]
    .join("\n");
    ([("content-type", "application/stream+json")], body).into_response()
}

/// `GET /v3/deployments/{id}/events`: the build log, oldest first, from
/// `since` (included) on.
async fn events(
    State(w): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("direction").map(String::as_str) != Some("forward") {
        return error(400, "direction must be forward");
    }
    let since: i64 = q.get("since").and_then(|s| s.parse().ok()).unwrap_or(0);
    let world = w.lock().unwrap();
    let Some(d) = world.deployments.iter().find(|d| d.id == id) else {
        return error(404, "The deployment was not found.");
    };
    let events: Vec<Value> = d
        .log
        .iter()
        .enumerate()
        .filter(|(_, (created, _, _))| *created >= since)
        .map(|(n, (created, kind, text))| match *kind {
            // Older events carry their text at the top.
            "stderr" => json!({"type": kind, "created": created, "text": text}),
            _ => json!({"type": kind, "created": created,
                   "payload": {"deploymentId": d.id, "id": format!("evt_{}_{n}", d.id),
                               "date": created, "serial": format!("{created}-{n}"), "text": text}}),
        })
        .collect();
    Json(events).into_response()
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
                FakeDeployment::seeded("dpl_old1", "v1", 1000),
                FakeDeployment::seeded("dpl_old2", "v2", 2000),
            ],
            live: "dpl_old2".into(),
            auto_assign: true,
            ..Default::default()
        }));
        let api = Router::new()
            .route("/v13/deployments", post(create))
            .route("/v13/deployments/{id}", get(get_one))
            .route("/v6/deployments", get(list))
            .route("/v3/deployments/{id}/events", get(events))
            .route("/v9/projects/{project}", get(project))
            .route("/v10/projects/{project}/promote/{id}", post(promote))
            .route("/v1/projects/{project}/rollback/{id}", post(rollback))
            .route(
                "/v1/projects/{project}/deployments/{id}/runtime-logs",
                get(runtime_logs),
            )
            .with_state(world.clone());
        let site = Router::new()
            .route("/healthz", get(healthz))
            .with_state(world.clone());
        let gate = Fake::refusing(error_body, 403, "Not authorized: the token is invalid");
        FakeVercel {
            url: gate.serve_with_open(api, site).await,
            world,
            gate,
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

    /// Ids promoted.
    pub fn promotions(&self) -> Vec<String> {
        self.world.lock().unwrap().promotions.clone()
    }

    /// Every rollback request: (project, deployment id, description).
    pub fn rollback_requests(&self) -> Vec<(String, String, Option<String>)> {
        self.world.lock().unwrap().rollback_requests.clone()
    }

    /// Makes a promotion complete only at the `reads`-th read of the
    /// project after it, as Vercel carries it out in the background.
    pub fn slow_promotions(&self, reads: u32) {
        self.world.lock().unwrap().promotion_reads = reads;
    }

    /// Serves `lines` as the runtime logs of `deployment`; see
    /// [`FakeVercel::runtime_log`] for one line in Vercel's shape.
    pub fn set_runtime_logs(&self, deployment: &str, lines: Vec<Value>) {
        self.world
            .lock()
            .unwrap()
            .runtime_logs
            .insert(deployment.into(), lines);
    }

    /// Deployment ids whose runtime logs were read, in order.
    pub fn runtime_log_reads(&self) -> Vec<String> {
        self.world.lock().unwrap().runtime_log_reads.clone()
    }

    /// One runtime log line as Vercel streams it: a `serverless` log with
    /// `level` and `message` at `at_ms` (milliseconds since the epoch).
    pub fn runtime_log(at_ms: i64, level: &str, message: &str) -> Value {
        json!({"level": level, "message": message, "rowId": format!("row_{at_ms}"),
               "source": "serverless", "timestampInMs": at_ms, "domain": "web.app",
               "messageTruncated": false, "requestMethod": "POST",
               "requestPath": "/api/pay", "responseStatusCode": if level == "error" { 500 } else { 200 }})
    }

    /// A production deployment made outside opsroom, as a git push to the
    /// production branch makes one: built from `commit` on `git_ref`,
    /// READY at `ready_ms` (ms since the epoch) and serving production
    /// from then on.
    pub fn push(&self, id: &str, git_ref: &str, commit: &str, ready_ms: i64) {
        let mut world = self.world.lock().unwrap();
        world.deployments.push(FakeDeployment {
            commit: Some(commit.into()),
            ready: Some(ready_ms),
            ..FakeDeployment::seeded(id, git_ref, ready_ms - 60_000)
        });
        if world.auto_assign {
            world.live = id.into();
        }
    }

    /// Adds `deployment` (see [`FakeDeployment::seeded`]).
    pub fn add(&self, deployment: FakeDeployment) {
        self.world.lock().unwrap().deployments.push(deployment);
    }
}
