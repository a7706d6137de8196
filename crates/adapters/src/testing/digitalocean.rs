//! A fake DigitalOcean API: App Platform's app `app-1` whose live
//! deployment is `dep-old`; before it came `dep-broken` (failed) and
//! `dep-older` (served). A new deployment moves PENDING_BUILD → BUILDING →
//! DEPLOYING → ACTIVE over four polls and then serves (or fails, see
//! [`FakeDigitalOcean::fail_next_build`]); the deployment a rollback makes
//! skips the build (PENDING_DEPLOY → DEPLOYING → ACTIVE). The one replaced
//! turns SUPERSEDED, as on DigitalOcean. The apps and deployments lists are
//! paged like the real ones, their `next` links naming the real API host.
//! A rollback without `skip_pin` pins the app until it is committed.
//! Deployments carry `phase_last_updated_at`, `updated_at` and their
//! progress steps' `ended_at`, so when each went live can be read. One
//! droplet, `3164444`, can be read.
//!
//! The app's spec has one service built from the GitHub repository
//! `acme/shop`, branch `main`; `PUT /v2/apps/{id}` replaces the spec (a
//! branch that does not exist is refused with 400), and each deployment
//! builds the head commit of the spec's branch at that time. App Platform
//! may roll a new spec out by itself: [`FakeDigitalOcean::spec_update_deploys`]
//! makes the fake do so.

use super::{error_response, Fake};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// One deployment of `app-1`.
#[derive(Debug, Default)]
pub struct FakeDeployment {
    pub id: String,
    /// The commit its service was built from.
    pub commit: String,
    /// How often it was read.
    pub polls: u32,
    /// Whether it ever served the app.
    pub went_live: bool,
    /// Whether it failed.
    pub failed: bool,
    /// Whether its build fails (it then ends in ERROR instead of serving).
    pub fails: bool,
    /// Whether a rollback made it (it has no build phase).
    pub rollback: bool,
    /// Whether a newer deployment replaced it before it finished.
    pub superseded: bool,
    /// When it went live (RFC 3339), for one that did.
    pub live_at: Option<String>,
    /// When a newer deployment replaced it as the live one (RFC 3339).
    pub replaced_at: Option<String>,
}

impl FakeDeployment {
    /// A deployment of `commit` that has just started building.
    pub fn building(id: &str, commit: &str) -> Self {
        FakeDeployment {
            id: id.into(),
            commit: commit.into(),
            ..FakeDeployment::default()
        }
    }
}

/// What the fake answers to a rollback request instead of carrying it out.
#[derive(Debug, Clone)]
pub struct RollbackFault {
    pub status: u16,
    pub message: String,
    pub retry_after: Option<&'static str>,
}

/// What the fake holds.
#[derive(Debug)]
pub struct DoWorld {
    pub active: String,
    /// Oldest first.
    pub deployments: Vec<FakeDeployment>,
    /// How many deployments the fake made (they are named `dep-N`).
    pub created: u32,
    /// The body of every rollback request, refused ones included.
    pub rollback_requests: Vec<Value>,
    /// The bodies of the rollbacks carried out.
    pub rollbacks: Vec<Value>,
    /// Answers for the next rollback requests, used one per request.
    pub rollback_faults: VecDeque<RollbackFault>,
    /// The app spec.
    pub spec: Value,
    /// The bodies of the spec updates.
    pub spec_updates: Vec<Value>,
    /// Whether a spec update starts a deployment by itself.
    pub spec_update_deploys: bool,
    /// The bodies of the deployment requests.
    pub deploy_requests: Vec<Value>,
    /// Whether the next deployment started fails its build.
    pub fail_next_build: bool,
    /// Whether the app is pinned to a rollback not yet committed.
    pub pinned: bool,
    /// Other apps (`app-2`, `app-3`, …), by name.
    pub other_apps: Vec<String>,
}

/// The branches of `acme/shop` and their head commits.
const BRANCHES: [(&str, &str); 2] = [("main", "c0ffee3"), ("release-2", "beef002")];

fn head_of(branch: &str) -> Option<&'static str> {
    BRANCHES.iter().find(|(b, _)| *b == branch).map(|(_, c)| *c)
}

fn default_spec() -> Value {
    json!({"name": "shop", "region": "ams",
        "services": [{"name": "web", "http_port": 8080,
            "github": {"repo": "acme/shop", "branch": "main", "deploy_on_push": true}}]})
}

type Shared = Arc<Mutex<DoWorld>>;

/// A running fake; `url` is its base URL, `gate` checks the token, injects
/// faults and records requests.
#[derive(Clone)]
pub struct FakeDigitalOcean {
    pub url: String,
    pub world: Shared,
    pub gate: Fake,
}

/// DigitalOcean's error body: an id naming the kind of error, the message
/// and the request's id.
pub fn error_body(status: u16, message: &str) -> Value {
    let id = match status {
        401 => "unauthorized",
        404 => "not_found",
        422 => "unprocessable_entity",
        429 => "too_many_requests",
        _ => "server_error",
    };
    json!({"id": id, "message": message, "request_id": "4d9d8375-3c56-4925-a3e7-eceeb1d9f3da"})
}

fn error(status: u16, message: &str) -> Response {
    error_response(error_body, status, message)
}

fn not_found() -> Response {
    error(404, "The resource you were accessing could not be found.")
}

fn building_phase(d: &FakeDeployment) -> &'static str {
    match (d.polls, d.rollback) {
        (0 | 1, false) => "PENDING_BUILD",
        (0 | 1, true) => "PENDING_DEPLOY",
        (2, false) => "BUILDING",
        _ => "DEPLOYING",
    }
}

/// Where DigitalOcean's `next` links point: its real host, never the
/// fake's, which a client must not follow blindly.
const PUBLIC_API: &str = "https://api.digitalocean.com";

/// The page and page size a list request asks for.
fn paging(q: &HashMap<String, String>) -> (usize, usize) {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per_page: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
    (page.max(1), per_page.max(1))
}

/// `links.pages` of a list: `next` and `last` while more remain, on the
/// real API host.
fn page_links(path: &str, page: usize, per_page: usize, total: usize) -> Value {
    let link = |n: usize| format!("{PUBLIC_API}{path}?page={n}&per_page={per_page}");
    let mut pages = json!({"first": link(1)});
    if page * per_page < total {
        pages["next"] = json!(link(page + 1));
        pages["last"] = json!(link(total.div_ceil(per_page)));
    }
    pages
}

/// One page of `items`.
fn page_of(items: Vec<Value>, page: usize, per_page: usize) -> Vec<Value> {
    items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect()
}

impl DoWorld {
    fn phase(&self, d: &FakeDeployment) -> &'static str {
        if d.id == self.active {
            "ACTIVE"
        } else if d.went_live {
            "SUPERSEDED"
        } else if d.failed {
            "ERROR"
        } else if d.superseded {
            "SUPERSEDED"
        } else {
            building_phase(d)
        }
    }

    fn json(&self, index: usize) -> Value {
        let d = &self.deployments[index];
        let phase = self.phase(d);
        let done = if d.went_live { 3 } else { 1 };
        let created = format!("2026-01-01T00:{index:02}:00Z");
        // Each step of one that went live ended by the time it did.
        let steps: Vec<Value> = ["build", "deploy", "finalize"]
            .iter()
            .enumerate()
            .map(|(n, name)| {
                let status = match (n < done as usize, d.failed) {
                    (true, _) => "SUCCESS",
                    (false, true) => "ERROR",
                    (false, false) => "PENDING",
                };
                let ended = if status == "SUCCESS" {
                    d.live_at.clone()
                } else {
                    None
                };
                json!({"name": name, "status": status, "ended_at": ended})
            })
            .collect();
        let phase_at = match phase {
            "ACTIVE" => d.live_at.clone(),
            "SUPERSEDED" => d.replaced_at.clone(),
            _ => None,
        }
        .unwrap_or_else(|| created.clone());
        json!({"id": d.id, "phase": phase, "cause": "manual",
            "created_at": created, "updated_at": phase_at, "phase_last_updated_at": phase_at,
            "services": [{"name": "web", "source_commit_hash": d.commit}],
            "progress": {"success_steps": done, "total_steps": 3, "error_steps": u32::from(d.failed),
                "steps": steps}})
    }

    /// The newest deployment still on its way (neither live nor failed),
    /// which DigitalOcean shows as the app's `in_progress_deployment`.
    fn in_progress(&self) -> Option<usize> {
        self.deployments
            .iter()
            .rposition(|d| d.id != self.active && !d.went_live && !d.failed && !d.superseded)
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.deployments.iter().position(|d| d.id == id)
    }

    /// The head commit of the branch the spec's service builds.
    fn spec_head(&self) -> String {
        let branch = self.spec["services"][0]["github"]["branch"]
            .as_str()
            .unwrap_or("main");
        head_of(branch).unwrap_or("0000000").to_string()
    }

    /// Starts a deployment of `commit` (the spec's branch head by default);
    /// returns its index.
    fn start(&mut self, commit: Option<String>) -> usize {
        self.created += 1;
        let n = self.created;
        let commit = commit.unwrap_or_else(|| self.spec_head());
        self.deployments.push(FakeDeployment {
            fails: std::mem::take(&mut self.fail_next_build),
            ..FakeDeployment::building(&format!("dep-{n}"), &commit)
        });
        self.deployments.len() - 1
    }

    /// Deployment `index` goes live now and replaces the active one.
    fn go_live(&mut self, index: usize) {
        let now = chrono::Utc::now().to_rfc3339();
        let active = self.active.clone();
        if let Some(old) = self.deployments.iter_mut().find(|d| d.id == active) {
            old.replaced_at = Some(now.clone());
        }
        let d = &mut self.deployments[index];
        d.went_live = true;
        d.live_at = Some(now);
        self.active = d.id.clone();
    }

    /// Another app, by its id (`app-2`, …): serving, no spec.
    fn other_app(&self, id: &str) -> Option<Value> {
        let n: usize = id.strip_prefix("app-")?.parse().ok()?;
        let name = self.other_apps.get(n.checked_sub(2)?)?;
        Some(json!({"id": id, "spec": {"name": name},
            "live_url": format!("https://{name}.ondigitalocean.app"),
            "active_deployment": {"id": format!("dep-{n}-0"), "phase": "ACTIVE", "cause": "initial"}}))
    }
}

async fn app(State(w): State<Shared>, Path(id): Path<String>) -> Response {
    let world = w.lock().unwrap();
    if let Some(other) = world.other_app(&id) {
        return Json(json!({"app": other})).into_response();
    }
    if id != "app-1" {
        return not_found();
    }
    Json(json!({"app": world.app_json(world.in_progress())})).into_response()
}

/// `app-1` and the other apps, `per_page` at a time.
async fn list_apps(State(w): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let (page, per_page) = paging(&q);
    let world = w.lock().unwrap();
    let mut apps = vec![world.app_json(world.in_progress())];
    for n in 0..world.other_apps.len() {
        apps.extend(world.other_app(&format!("app-{}", n + 2)));
    }
    let total = apps.len();
    let pages = page_links("/v2/apps", page, per_page, total);
    let shown = page_of(apps, page, per_page);
    Json(json!({"apps": shown, "links": {"pages": pages}, "meta": {"total": total}}))
        .into_response()
}

impl DoWorld {
    /// The app as the API shows it, with `in_progress` as its deployment
    /// being rolled out.
    fn app_json(&self, in_progress: Option<usize>) -> Value {
        let active = self.index(&self.active).map(|i| self.json(i));
        let mut app = json!({"id": "app-1", "spec": self.spec,
            "live_url": "https://shop.ondigitalocean.app",
            "active_deployment": active});
        if let Some(i) = in_progress {
            app["in_progress_deployment"] = self.json(i);
        }
        app
    }
}

/// `PUT /v2/apps/{id}`: replaces the spec; its service's branch must exist.
async fn update_app(
    State(w): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if id != "app-1" {
        return not_found();
    }
    let spec = body["spec"].clone();
    if spec["name"] != "shop" {
        return error(400, "spec.name: the app's name cannot change");
    }
    let branch = spec["services"][0]["github"]["branch"]
        .as_str()
        .unwrap_or_default();
    if head_of(branch).is_none() {
        return error(400, &format!("branch {branch} not found in acme/shop"));
    }
    let mut world = w.lock().unwrap();
    world.spec_updates.push(body);
    world.spec = spec;
    let started = world.spec_update_deploys.then(|| world.start(None));
    Json(json!({"app": world.app_json(started)})).into_response()
}

async fn create(
    State(w): State<Shared>,
    Path(app): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if app != "app-1" {
        return not_found();
    }
    let mut world = w.lock().unwrap();
    world.deploy_requests.push(body);
    let index = world.start(None);
    Json(json!({"deployment": world.json(index)})).into_response()
}

/// Newest first, `per_page` at a time, `links.pages.next` while more remain.
async fn list(
    State(w): State<Shared>,
    Path(app): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if app != "app-1" {
        return not_found();
    }
    let (page, per_page) = paging(&q);
    let world = w.lock().unwrap();
    let total = world.deployments.len();
    let newest_first: Vec<Value> = (0..total).rev().map(|i| world.json(i)).collect();
    let pages = page_links("/v2/apps/app-1/deployments", page, per_page, total);
    let shown = page_of(newest_first, page, per_page);
    Json(json!({"deployments": shown, "links": {"pages": pages}, "meta": {"total": total}}))
        .into_response()
}

async fn get_deployment(
    State(w): State<Shared>,
    Path((_app, id)): Path<(String, String)>,
) -> Response {
    let mut world = w.lock().unwrap();
    let Some(index) = world.index(&id) else {
        return error(404, "no such deployment");
    };
    let d = &mut world.deployments[index];
    d.polls += 1;
    if !d.went_live && !d.failed && !d.superseded {
        if d.fails && d.polls >= 3 {
            d.failed = true;
        } else if d.polls >= 4 {
            world.go_live(index);
        }
    }
    Json(json!({"deployment": world.json(index)})).into_response()
}

/// Carries out a rollback to a deployment that served before, unless a
/// fault was queued; DigitalOcean refuses the live one and any that never
/// served with 422.
async fn rollback(
    State(w): State<Shared>,
    Path(app): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if app != "app-1" {
        return not_found();
    }
    let mut world = w.lock().unwrap();
    world.rollback_requests.push(body.clone());
    if let Some(fault) = world.rollback_faults.pop_front() {
        let mut response = error(fault.status, &fault.message);
        if let Some(after) = fault.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static(after));
        }
        return response;
    }
    let target = body["deployment_id"].as_str().unwrap_or_default();
    let Some(index) = world.index(target) else {
        return error(404, &format!("deployment not found: {target:?}"));
    };
    if target == world.active {
        return error(422, "cannot roll back to the currently active deployment");
    }
    if !world.deployments[index].went_live {
        return error(
            422,
            &format!(
                "deployment {target} did not complete successfully and cannot be rolled back to"
            ),
        );
    }
    let commit = world.deployments[index].commit.clone();
    let started = world.start(Some(commit));
    world.deployments[started].rollback = true;
    world.pinned = !body["skip_pin"].as_bool().unwrap_or(false);
    world.rollbacks.push(body);
    Json(json!({"deployment": world.json(started)})).into_response()
}

/// `POST /v2/apps/{id}/rollback/commit`: unpins the app.
async fn commit_rollback(State(w): State<Shared>, Path(app): Path<String>) -> Response {
    if app != "app-1" {
        return not_found();
    }
    let mut world = w.lock().unwrap();
    if !world.pinned {
        return error(422, "app has no pending rollback to commit");
    }
    world.pinned = false;
    StatusCode::OK.into_response()
}

async fn droplet(Path(id): Path<u64>) -> Response {
    if id != 3164444 {
        return not_found();
    }
    Json(
        json!({"droplet": {"id": id, "name": "worker-1", "memory": 1024, "vcpus": 1, "disk": 25,
        "locked": false, "status": "active", "created_at": "2020-07-21T18:37:44Z"}}),
    )
    .into_response()
}

impl FakeDigitalOcean {
    /// Starts the fake.
    pub async fn start() -> FakeDigitalOcean {
        let seeded = |id: &str, commit: &str, live: Option<(&str, Option<&str>)>| FakeDeployment {
            went_live: live.is_some(),
            failed: live.is_none(),
            live_at: live.map(|(at, _)| at.to_string()),
            replaced_at: live.and_then(|(_, replaced)| replaced).map(String::from),
            ..FakeDeployment::building(id, commit)
        };
        let world = Arc::new(Mutex::new(DoWorld {
            active: "dep-old".into(),
            deployments: vec![
                seeded(
                    "dep-older",
                    "c0ffee1",
                    Some((
                        "2026-01-01T00:00:40+00:00",
                        Some("2026-01-01T00:02:40+00:00"),
                    )),
                ),
                seeded("dep-broken", "bad0000", None),
                seeded(
                    "dep-old",
                    "c0ffee2",
                    Some(("2026-01-01T00:02:40+00:00", None)),
                ),
            ],
            created: 0,
            rollback_requests: Vec::new(),
            rollbacks: Vec::new(),
            rollback_faults: VecDeque::new(),
            spec: default_spec(),
            spec_updates: Vec::new(),
            spec_update_deploys: false,
            deploy_requests: Vec::new(),
            fail_next_build: false,
            pinned: false,
            other_apps: Vec::new(),
        }));
        let app_routes = Router::new()
            .route("/v2/apps", get(list_apps))
            .route("/v2/apps/{id}", get(app).put(update_app))
            .route("/v2/apps/{id}/deployments", post(create).get(list))
            .route("/v2/apps/{app}/deployments/{id}", get(get_deployment))
            .route("/v2/apps/{id}/rollback", post(rollback))
            .route("/v2/apps/{id}/rollback/commit", post(commit_rollback))
            .route("/v2/droplets/{id}", get(droplet))
            .with_state(world.clone());
        let gate = Fake::refusing(error_body, 401, "Unable to authenticate you");
        FakeDigitalOcean {
            url: gate.serve(app_routes).await,
            world,
            gate,
        }
    }

    /// A deployment App Platform made by itself, as a push to the spec's
    /// branch does with `deploy_on_push`: built from `commit`, live since
    /// `live_at`, replacing the active one. Returns its id.
    pub fn push(&self, commit: &str, live_at: chrono::DateTime<chrono::Utc>) -> String {
        let mut world = self.world.lock().unwrap();
        let before = world.active.clone();
        let index = world.start(Some(commit.into()));
        world.go_live(index);
        let at = live_at.to_rfc3339();
        if let Some(old) = world.deployments.iter_mut().find(|d| d.id == before) {
            old.replaced_at = Some(at.clone());
        }
        world.deployments[index].live_at = Some(at);
        world.active.clone()
    }

    /// Makes the next deployment started fail its build.
    pub fn fail_next_build(&self) {
        self.world.lock().unwrap().fail_next_build = true;
    }

    /// Adds apps named `names` (ids `app-2`, `app-3`, …), each serving.
    pub fn add_apps(&self, names: &[&str]) {
        let mut world = self.world.lock().unwrap();
        world.other_apps.extend(names.iter().map(|n| n.to_string()));
    }

    /// Whether the app is pinned to a rollback not yet committed.
    pub fn pinned(&self) -> bool {
        self.world.lock().unwrap().pinned
    }

    /// The live deployment.
    pub fn active(&self) -> String {
        self.world.lock().unwrap().active.clone()
    }

    /// The bodies of the spec updates.
    pub fn spec_updates(&self) -> Vec<Value> {
        self.world.lock().unwrap().spec_updates.clone()
    }

    /// Makes a spec update start a deployment by itself.
    pub fn spec_update_deploys(&self) {
        self.world.lock().unwrap().spec_update_deploys = true;
    }

    /// Replaces the app's spec.
    pub fn set_spec(&self, spec: Value) {
        self.world.lock().unwrap().spec = spec;
    }

    /// How many deployments were started (rollbacks included).
    pub fn created(&self) -> u32 {
        self.world.lock().unwrap().created
    }

    /// The commit deployment `id` was built from.
    pub fn commit_of(&self, id: &str) -> Option<String> {
        let world = self.world.lock().unwrap();
        let found = world.deployments.iter().find(|d| d.id == id);
        found.map(|d| d.commit.clone())
    }

    /// The bodies of the rollbacks carried out.
    pub fn rollbacks(&self) -> Vec<Value> {
        self.world.lock().unwrap().rollbacks.clone()
    }

    /// How many rollback requests arrived, refused ones included.
    pub fn rollback_requests(&self) -> usize {
        self.world.lock().unwrap().rollback_requests.len()
    }

    /// Answers the next rollback request with `status` instead of doing it.
    pub fn refuse_next_rollback(
        &self,
        status: u16,
        message: &str,
        retry_after: Option<&'static str>,
    ) {
        self.world
            .lock()
            .unwrap()
            .rollback_faults
            .push_back(RollbackFault {
                status,
                message: message.into(),
                retry_after,
            });
    }
}
