//! A fake GitHub API on the repository `acme/web`: the repository itself
//! (a `User-Agent` is required, as on GitHub), `workflow_dispatch` and the
//! workflow's runs (one run moves queued → in_progress → completed:
//! success, or failure when the `ref` input is `broken`), and the git data,
//! contents and pull request endpoints the spec runbook uses.
//!
//! Branch `main` exists at `sha-main`, a commit whose tree holds
//! `README.md`; tag `v1.2.0` exists. Trees are built on a base tree, commits
//! on a tree that exists, and a branch only moves forward (unless forced);
//! a tree entry with a null SHA deletes its path. Contents (a file, or a
//! folder as an array of entries) are read at a
//! branch or commit, two commits are compared (`BASE...HEAD`) and issues
//! opened.
//! Every object made gets a new SHA `obj-N`.
//!
//! `deploy.yml` declares the inputs `ref`, `environment` and `opsroom_run`
//! (others are refused with 422, as GitHub does) and has
//! `run-name: Deploy ${{ inputs.opsroom_run }}`. A dispatch asking for
//! `return_run_details` gets 200 with the run's id and URLs, unless the
//! fake plays a GitHub that ignores (204) or refuses (422) the parameter.
//! Run times have GitHub's one-second resolution, and the runs list can lag
//! behind dispatches, as GitHub's does. Six pull requests were opened
//! before the fake started. Deployments and their statuses are listed as
//! GitHub lists them ([`FakeGitHub::deploy`] records one).

mod deployments;

pub use deployments::FakeGhDeployment;

use super::Fake;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Pull requests opened before the fake started.
const EARLIER_PULLS: usize = 6;

/// One workflow run of the fake.
#[derive(Clone, Debug)]
pub struct FakeRun {
    pub id: u64,
    pub inputs: Value,
    pub branch: String,
    /// The commit the branch pointed at when the run was dispatched.
    pub head_sha: String,
    pub polls: u32,
    pub created_at: DateTime<Utc>,
}

/// How the fake answers a dispatch asking for `return_run_details`.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunDetails {
    /// 200 with the run (github.com).
    #[default]
    Given,
    /// 204 without it (a server that ignores the parameter).
    Ignored,
    /// 422 naming it (a server that refuses unknown parameters).
    Refused,
}

/// A commit made with the git data API.
#[derive(Clone, Debug)]
pub struct GitCommit {
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author_email: String,
}

/// What the fake holds and saw.
#[derive(Default, Debug)]
pub struct GitHubWorld {
    pub runs: Vec<FakeRun>,
    /// How a dispatch asking for the run's details is answered.
    pub run_details: RunDetails,
    /// The runs list shows nothing until this many dispatches arrived.
    pub list_after: usize,
    /// How often the runs list was searched for a dispatch's run (read
    /// with `event=workflow_dispatch`).
    pub run_searches: u32,
    /// Branch name and the commit it points at.
    pub branches: Vec<(String, String)>,
    /// Blob contents by SHA.
    pub blobs: HashMap<String, Vec<u8>>,
    /// Trees by SHA: each path and its blob's SHA.
    pub trees: HashMap<String, HashMap<String, String>>,
    /// Commits by SHA.
    pub git_commits: HashMap<String, GitCommit>,
    /// Paths of every tree entry made, in order.
    pub tree_paths: Vec<String>,
    /// Files written with the contents API: (branch, path) → (blob SHA,
    /// content).
    pub files: HashMap<(String, String), (String, String)>,
    /// The commits the contents API made, as answered.
    pub file_commits: Vec<Value>,
    /// Bodies of the pull requests opened.
    pub pulls: Vec<Value>,
    /// Bodies of the issues opened.
    pub issues: Vec<Value>,
    /// Objects made so far (for unique SHAs).
    pub objects: u32,
    /// Deployments, oldest first (see [`FakeGitHub::deploy`]).
    pub deployments: Vec<FakeGhDeployment>,
}

impl GitHubWorld {
    /// A new object SHA.
    fn next_sha(&mut self) -> String {
        self.objects += 1;
        format!("obj-{}", self.objects)
    }

    /// The commit `branch` points at.
    pub fn branch(&self, branch: &str) -> Option<&str> {
        self.branches
            .iter()
            .find(|(b, _)| b == branch)
            .map(|(_, sha)| sha.as_str())
    }

    /// The commit a branch name or commit SHA names.
    fn resolve(&self, git_ref: &str) -> Option<String> {
        self.branch(git_ref).map(String::from).or_else(|| {
            self.git_commits
                .contains_key(git_ref)
                .then(|| git_ref.to_string())
        })
    }

    /// The tree (path → blob SHA) of a branch or commit.
    pub fn tree_at(&self, git_ref: &str) -> Option<&HashMap<String, String>> {
        let commit = self.git_commits.get(&self.resolve(git_ref)?)?;
        self.trees.get(&commit.tree)
    }

    /// The content of `path` at a branch or commit.
    pub fn file_at(&self, git_ref: &str, path: &str) -> Option<String> {
        let blob = self.tree_at(git_ref)?.get(path)?;
        self.blobs
            .get(blob)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Whether `ancestor` is `commit` or one of its ancestors.
    fn descends(&self, commit: &str, ancestor: &str) -> bool {
        let mut todo = vec![commit.to_string()];
        let mut seen = std::collections::HashSet::new();
        while let Some(c) = todo.pop() {
            if c == ancestor {
                return true;
            }
            if seen.insert(c.clone()) {
                if let Some(commit) = self.git_commits.get(&c) {
                    todo.extend(commit.parents.iter().cloned());
                }
            }
        }
        false
    }

    fn set_branch(&mut self, branch: &str, sha: &str) {
        match self.branches.iter_mut().find(|(b, _)| b == branch) {
            Some(entry) => entry.1 = sha.to_string(),
            None => self.branches.push((branch.into(), sha.into())),
        }
    }
}

impl GitCommit {
    /// A commit of `tree` on `parents`, with the message and author of a
    /// request `body`.
    fn new(tree: String, parents: Vec<String>, body: &Value) -> Self {
        GitCommit {
            tree,
            parents,
            message: body["message"].as_str().unwrap_or_default().to_string(),
            author_email: body["author"]["email"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }
}

type Shared = Arc<Mutex<GitHubWorld>>;

#[derive(Clone)]
struct AppState {
    gate: Fake,
    world: Shared,
}

impl AppState {
    fn error(&self, status: u16, message: &str) -> Response {
        self.gate.error(status, message)
    }
}

/// A running fake; `url` is its base URL, `gate` checks the token, injects
/// faults and records requests.
#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    pub world: Shared,
    pub gate: Fake,
}

/// GitHub's error body.
pub fn error_body(_status: u16, message: &str) -> Value {
    json!({"message": message, "documentation_url": "https://docs.github.com/rest"})
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
    let title = format!(
        "Deploy {}",
        run.inputs["opsroom_run"].as_str().unwrap_or("")
    );
    json!({
        "id": run.id, "name": "Deploy", "display_title": title.trim_end(),
        "status": status, "conclusion": conclusion,
        "head_branch": run.branch, "head_sha": run.head_sha, "event": "workflow_dispatch",
        "html_url": format!("https://github.com/acme/web/actions/runs/{}", run.id),
        "created_at": run.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "inputs": run.inputs,
    })
}

fn known_repo(owner: &str, repo: &str) -> bool {
    owner == "acme" && repo == "web"
}

async fn repo(
    State(s): State<AppState>,
    Path((o, r)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if headers.get("user-agent").is_none() {
        return s.error(403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header");
    }
    if !known_repo(&o, &r) {
        return s.error(404, "Not Found");
    }
    Json(
        json!({"id": 1, "full_name": "acme/web", "default_branch": "main", "private": true,
                "html_url": "https://github.com/acme/web"}),
    )
    .into_response()
}

async fn dispatch(
    State(s): State<AppState>,
    Path((_o, _r, workflow)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if workflow != "deploy.yml" {
        return s.error(404, "Not Found");
    }
    let mut world = s.world.lock().unwrap();
    let asks = body["return_run_details"] == true;
    if asks && world.run_details == RunDetails::Refused {
        return s.error(
            422,
            "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
        );
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
        return s.error(422, &format!("Unexpected inputs provided: {unexpected:?}"));
    }
    let branch = body["ref"].as_str().unwrap_or_default().to_string();
    let Some(head_sha) = world.branch(&branch).map(String::from) else {
        return s.error(422, &format!("No ref found for: {branch}"));
    };
    let id = 500 + world.runs.len() as u64;
    // GitHub stamps runs to the second.
    let now = Utc::now().timestamp();
    world.runs.push(FakeRun {
        id,
        inputs: body["inputs"].clone(),
        branch,
        head_sha,
        polls: 0,
        created_at: DateTime::from_timestamp(now, 0).unwrap(),
    });
    if asks && world.run_details == RunDetails::Given {
        return Json(json!({
            "workflow_run_id": id,
            "run_url": format!("https://api.github.com/repos/acme/web/actions/runs/{id}"),
            "html_url": format!("https://github.com/acme/web/actions/runs/{id}"),
        }))
        .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Newest first, filtered by `branch`, `event` and `created=>=TIME`.
async fn list_runs(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut world = s.world.lock().unwrap();
    if q.get("event").map(String::as_str) == Some("workflow_dispatch") {
        world.run_searches += 1;
    }
    let since = q
        .get("created")
        .and_then(|c| DateTime::parse_from_rfc3339(c.trim_start_matches(">=")).ok());
    let runs: Vec<Value> = if world.runs.len() < world.list_after {
        Vec::new()
    } else {
        world
            .runs
            .iter()
            .rev()
            .filter(|r| q.get("branch").is_none_or(|b| r.branch == *b))
            .filter(|_| q.get("event").is_none_or(|e| e == "workflow_dispatch"))
            .filter(|r| since.is_none_or(|t| r.created_at >= t))
            .map(run_json)
            .collect()
    };
    Json(json!({"total_count": runs.len(), "workflow_runs": runs})).into_response()
}

/// Each read moves a run on (see [`FakeRun`]).
async fn get_run(
    State(s): State<AppState>,
    Path((_o, _r, id)): Path<(String, String, u64)>,
) -> Response {
    let mut world = s.world.lock().unwrap();
    let Some(run) = world.runs.iter_mut().find(|r| r.id == id) else {
        return s.error(404, "Not Found");
    };
    run.polls += 1;
    Json(run_json(run)).into_response()
}

fn ref_json(name: &str, sha: &str, kind: &str) -> Value {
    json!({"ref": name, "node_id": "REF_x", "url": "u",
           "object": {"sha": sha, "type": kind, "url": "u"}})
}

async fn get_branch(
    State(s): State<AppState>,
    Path((o, r, branch)): Path<(String, String, String)>,
) -> Response {
    let world = s.world.lock().unwrap();
    match world.branch(&branch) {
        Some(sha) if known_repo(&o, &r) => {
            Json(ref_json(&format!("refs/heads/{branch}"), sha, "commit")).into_response()
        }
        _ => s.error(404, "Not Found"),
    }
}

async fn get_tag(
    State(s): State<AppState>,
    Path((_o, _r, tag)): Path<(String, String, String)>,
) -> Response {
    if tag != "v1.2.0" {
        return s.error(404, "Not Found");
    }
    Json(ref_json("refs/tags/v1.2.0", "sha_tag", "tag")).into_response()
}

async fn create_ref(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let (Some(name), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
        return s.error(422, "Invalid request. \"ref\" and \"sha\" are required");
    };
    let Some(branch) = name.strip_prefix("refs/heads/") else {
        return s.error(422, "Reference name must start with 'refs/'");
    };
    let mut world = s.world.lock().unwrap();
    if world.branch(branch).is_some() {
        return s.error(422, "Reference already exists");
    }
    world.set_branch(branch, sha);
    (StatusCode::CREATED, Json(ref_json(name, sha, "commit"))).into_response()
}

/// Moves a branch to a commit made on top of it (or anywhere, forced).
async fn update_branch(
    State(s): State<AppState>,
    Path((_o, _r, branch)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let sha = body["sha"].as_str().unwrap_or_default().to_string();
    let mut world = s.world.lock().unwrap();
    let Some(current) = world.branch(&branch).map(String::from) else {
        return s.error(422, "Reference does not exist");
    };
    let fast_forward = world
        .git_commits
        .get(&sha)
        .is_some_and(|c| c.parents.contains(&current));
    if !fast_forward && body["force"] != true {
        return s.error(422, "Update is not a fast forward");
    }
    world.set_branch(&branch, &sha);
    Json(ref_json(&format!("refs/heads/{branch}"), &sha, "commit")).into_response()
}

async fn get_commit(
    State(s): State<AppState>,
    Path((_o, _r, sha)): Path<(String, String, String)>,
) -> Response {
    let world = s.world.lock().unwrap();
    match world.git_commits.get(&sha) {
        Some(c) => Json(json!({"sha": sha, "tree": {"sha": c.tree},
            "parents": c.parents.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>(),
            "message": c.message}))
        .into_response(),
        None => s.error(404, "Not Found"),
    }
}

async fn create_blob(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    if body["encoding"] != "base64" {
        return s.error(422, "encoding must be utf-8 or base64");
    }
    let content = body["content"].as_str().unwrap_or("");
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(content) else {
        return s.error(422, "content is not valid Base64");
    };
    let mut world = s.world.lock().unwrap();
    let sha = world.next_sha();
    world.blobs.insert(sha.clone(), bytes);
    (StatusCode::CREATED, Json(json!({"sha": sha, "url": "u"}))).into_response()
}

/// A tree: the base tree's entries with the given blobs added.
async fn create_tree(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let mut world = s.world.lock().unwrap();
    let base = body["base_tree"].as_str().unwrap_or_default();
    let Some(mut listing) = world.trees.get(base).cloned() else {
        return s.error(422, "tree.base_tree is not a valid tree");
    };
    let entries = body["tree"].as_array().cloned().unwrap_or_default();
    for entry in &entries {
        let path = entry["path"].as_str().unwrap_or_default().to_string();
        if entry["sha"].is_null() {
            // A null SHA deletes the path.
            if listing.remove(&path).is_none() {
                return s.error(422, "GitRPC::BadObjectState");
            }
            world.tree_paths.push(path);
            continue;
        }
        let sha = entry["sha"].as_str().unwrap_or_default().to_string();
        if entry["mode"] != "100644" || entry["type"] != "blob" || !world.blobs.contains_key(&sha) {
            return s.error(422, "GitRPC::BadObjectState");
        }
        world.tree_paths.push(path.clone());
        listing.insert(path, sha);
    }
    let sha = world.next_sha();
    world.trees.insert(sha.clone(), listing);
    (
        StatusCode::CREATED,
        Json(json!({"sha": sha, "url": "u", "tree": []})),
    )
        .into_response()
}

async fn create_git_commit(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let mut world = s.world.lock().unwrap();
    let tree = body["tree"].as_str().unwrap_or_default().to_string();
    if !world.trees.contains_key(&tree) {
        return s.error(422, "Tree SHA does not exist");
    }
    let parents: Vec<String> = body["parents"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let sha = world.next_sha();
    world
        .git_commits
        .insert(sha.clone(), GitCommit::new(tree, parents, &body));
    (
        StatusCode::CREATED,
        Json(json!({"sha": sha, "html_url": format!("https://github.com/acme/web/commit/{sha}")})),
    )
        .into_response()
}

async fn get_contents(
    State(s): State<AppState>,
    Path((_o, _r, path)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let world = s.world.lock().unwrap();
    let branch = q.get("ref").cloned().unwrap_or_else(|| "main".to_string());
    if let Some((sha, content)) = world.files.get(&(branch.clone(), path.clone())) {
        return Json(json!({"type": "file", "path": path, "sha": sha,
            "encoding": "base64", "content": base64::engine::general_purpose::STANDARD.encode(content)}))
        .into_response();
    }
    // Files of commits made with the git data API, at a branch or commit;
    // GitHub wraps the base64 at 60 columns.
    let found = world
        .tree_at(&branch)
        .and_then(|tree| tree.get(&path))
        .and_then(|sha| Some((sha.clone(), world.blobs.get(sha)?)));
    match found {
        Some((sha, bytes)) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            let wrapped: Vec<String> = encoded
                .as_bytes()
                .chunks(60)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            Json(json!({"type": "file", "path": path, "sha": sha,
                "encoding": "base64", "content": wrapped.join("\n") + "\n"}))
            .into_response()
        }
        None => match dir_listing(&world, &branch, &path) {
            Some(entries) => Json(entries).into_response(),
            None => s.error(404, "Not Found"),
        },
    }
}

/// A folder's entries at `branch`, as GitHub lists them (files written
/// through the contents API and those of git data commits), or `None` when
/// nothing is under `folder`.
fn dir_listing(world: &GitHubWorld, branch: &str, folder: &str) -> Option<Vec<Value>> {
    let prefix = format!("{}/", folder.trim_end_matches('/'));
    let written = world
        .files
        .iter()
        .filter(|((b, _), _)| b == branch)
        .map(|((_, p), (sha, _))| (p.clone(), sha.clone()));
    let committed = world
        .tree_at(branch)
        .into_iter()
        .flatten()
        .map(|(p, sha)| (p.clone(), sha.clone()));
    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    for (path, sha) in written.chain(committed) {
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let (name, kind) = match rest.split_once('/') {
            Some((dir, _)) => (dir.to_string(), "dir"),
            None => (rest.to_string(), "file"),
        };
        entries.entry(name.clone()).or_insert_with(|| {
            json!({"type": kind, "name": name, "path": format!("{prefix}{name}"), "sha": sha,
                "size": 0, "url": "", "html_url": null, "git_url": null, "download_url": null,
                "_links": {"self": "", "git": null, "html": null}})
        });
    }
    (!entries.is_empty()).then(|| entries.into_values().collect())
}

/// Writes one file as a commit on its branch; updating a file needs its
/// blob's SHA.
async fn put_contents(
    State(s): State<AppState>,
    Path((_o, _r, path)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut world = s.world.lock().unwrap();
    let branch = body["branch"].as_str().unwrap_or("main").to_string();
    let Some(parent) = world.branch(&branch).map(String::from) else {
        return s.error(404, &format!("Branch {branch} not found"));
    };
    let Some(content) = body["content"]
        .as_str()
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
    else {
        return s.error(422, "content is not valid Base64");
    };
    let key = (branch.clone(), path.clone());
    let existing = world.files.get(&key).map(|(sha, _)| sha.clone());
    if existing.is_some() && body["sha"].as_str() != existing.as_deref() {
        return s.error(422, "Invalid request.\n\n\"sha\" wasn't supplied.");
    }
    let blob = world.next_sha();
    let commit = world.next_sha();
    let text = String::from_utf8_lossy(&content).into_owned();
    world.files.insert(key, (blob.clone(), text));
    world.blobs.insert(blob.clone(), content);
    let tree = world
        .git_commits
        .get(&parent)
        .map(|c| c.tree.clone())
        .unwrap_or_default();
    world
        .git_commits
        .insert(commit.clone(), GitCommit::new(tree, vec![parent], &body));
    world.set_branch(&branch, &commit);
    let commit_json = json!({"sha": commit, "html_url": format!("https://github.com/acme/web/commit/{commit}"),
        "message": body["message"], "author": body["author"], "committer": body["committer"]});
    world.file_commits.push(commit_json.clone());
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (
        status,
        Json(json!({"content": {"name": path, "path": path, "sha": blob}, "commit": commit_json})),
    )
        .into_response()
}

/// Opens a pull request, refused when head and base point at one commit.
async fn create_pull(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let mut world = s.world.lock().unwrap();
    let head = body["head"].as_str().unwrap_or_default();
    let base = body["base"].as_str().unwrap_or_default();
    if world.branch(head) == world.branch(base) {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("No commits between {base} and {head}")}],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"})))
        .into_response();
    }
    let number = world.pulls.len() + world.issues.len() + EARLIER_PULLS + 1;
    let pr = json!({"number": number, "html_url": format!("https://github.com/acme/web/pull/{number}"),
        "state": "open", "title": body["title"], "body": body["body"], "draft": body["draft"],
        "head": {"ref": head}, "base": {"ref": base}});
    world.pulls.push(body);
    (StatusCode::CREATED, Json(pr)).into_response()
}

/// Compares two commits (`BASE...HEAD`): the files whose blobs differ and
/// the commits of the head not in the base. A base that is not an
/// ancestor of the head is answered as diverged, with the same files.
async fn compare(
    State(s): State<AppState>,
    Path((_o, _r, range)): Path<(String, String, String)>,
) -> Response {
    let world = s.world.lock().unwrap();
    let Some((base, head)) = range.split_once("...") else {
        return s.error(404, "Not Found");
    };
    let (Some(base), Some(head)) = (world.resolve(base), world.resolve(head)) else {
        return s.error(404, "Not Found");
    };
    let empty = HashMap::new();
    let before = world.tree_at(&base).unwrap_or(&empty);
    let after = world.tree_at(&head).unwrap_or(&empty);
    let mut files: Vec<Value> = Vec::new();
    for (path, sha) in after {
        match before.get(path) {
            None => files.push(json!({"filename": path, "status": "added", "sha": sha})),
            Some(old) if old != sha => {
                files.push(json!({"filename": path, "status": "modified", "sha": sha}))
            }
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|p| !after.contains_key(*p)) {
        files.push(json!({"filename": path, "status": "removed"}));
    }
    files.sort_by(|a, b| a["filename"].as_str().cmp(&b["filename"].as_str()));
    let mut ahead = 0;
    let mut at = head.clone();
    while at != base {
        let Some(parent) = world.git_commits.get(&at).and_then(|c| c.parents.first()) else {
            break;
        };
        ahead += 1;
        at = parent.clone();
    }
    let status = if world.descends(&head, &base) {
        if ahead == 0 {
            "identical"
        } else {
            "ahead"
        }
    } else {
        "diverged"
    };
    Json(json!({"status": status, "ahead_by": ahead, "total_commits": ahead, "files": files}))
        .into_response()
}

/// Opens an issue; a title is required.
async fn create_issue(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    if body["title"].as_str().is_none_or(str::is_empty) {
        return s.error(422, "Validation Failed: title is missing");
    }
    let mut world = s.world.lock().unwrap();
    let number = world.pulls.len() + world.issues.len() + EARLIER_PULLS + 1;
    world.issues.push(body.clone());
    (
        StatusCode::CREATED,
        Json(json!({"number": number, "html_url": format!("https://github.com/acme/web/issues/{number}"),
            "state": "open", "title": body["title"], "body": body["body"]})),
    )
        .into_response()
}

impl FakeGitHub {
    /// Starts the fake with `main` and no runs.
    pub async fn start() -> FakeGitHub {
        let readme = HashMap::from([("README.md".to_string(), "blob-readme".to_string())]);
        let root = GitCommit {
            tree: "tree-main".into(),
            parents: Vec::new(),
            message: "init".into(),
            author_email: String::new(),
        };
        let world: Shared = Arc::new(Mutex::new(GitHubWorld {
            branches: vec![("main".into(), "sha-main".into())],
            blobs: HashMap::from([("blob-readme".to_string(), b"# web\n".to_vec())]),
            trees: HashMap::from([("tree-main".to_string(), readme)]),
            git_commits: HashMap::from([("sha-main".to_string(), root)]),
            ..Default::default()
        }));
        let gate = Fake::new(error_body);
        let app = Router::new()
            .route("/repos/{o}/{r}", get(repo))
            .route("/repos/{o}/{r}/git/ref/heads/{*branch}", get(get_branch))
            .route("/repos/{o}/{r}/git/ref/tags/{*tag}", get(get_tag))
            .route("/repos/{o}/{r}/git/refs", post(create_ref))
            .route(
                "/repos/{o}/{r}/git/refs/heads/{*branch}",
                axum::routing::patch(update_branch),
            )
            .route("/repos/{o}/{r}/git/commits/{sha}", get(get_commit))
            .route("/repos/{o}/{r}/git/commits", post(create_git_commit))
            .route("/repos/{o}/{r}/git/blobs", post(create_blob))
            .route("/repos/{o}/{r}/git/trees", post(create_tree))
            .route(
                "/repos/{o}/{r}/contents/{*path}",
                get(get_contents).put(put_contents),
            )
            .route("/repos/{o}/{r}/pulls", post(create_pull))
            .route("/repos/{o}/{r}/issues", post(create_issue))
            .route("/repos/{o}/{r}/compare/{range}", get(compare))
            .route(
                "/repos/{o}/{r}/actions/workflows/{wf}/dispatches",
                post(dispatch),
            )
            .route("/repos/{o}/{r}/actions/workflows/{wf}/runs", get(list_runs))
            .route("/repos/{o}/{r}/actions/runs/{id}", get(get_run))
            .route("/repos/{o}/{r}/deployments", get(deployments::list))
            .route(
                "/repos/{o}/{r}/deployments/{id}/statuses",
                get(deployments::statuses),
            )
            .with_state(AppState {
                gate: gate.clone(),
                world: world.clone(),
            });
        FakeGitHub {
            url: gate.serve(app).await,
            world,
            gate,
        }
    }

    /// Plays a GitHub Enterprise Server that answers dispatches with 204
    /// and never names the run.
    pub fn without_run_details(&self) {
        self.answer_run_details(RunDetails::Ignored);
    }

    /// Sets how a dispatch asking for the run's details is answered.
    pub fn answer_run_details(&self, how: RunDetails) {
        self.world.lock().unwrap().run_details = how;
    }

    /// Lists no run until `dispatches` dispatches arrived.
    pub fn list_runs_after(&self, dispatches: usize) {
        self.world.lock().unwrap().list_after = dispatches;
    }

    /// The commit `branch` points at.
    pub fn branch(&self, branch: &str) -> Option<String> {
        self.world.lock().unwrap().branch(branch).map(String::from)
    }

    /// The inputs of run `id`.
    pub fn run_inputs(&self, id: u64) -> Value {
        let world = self.world.lock().unwrap();
        let run = world.runs.iter().find(|r| r.id == id);
        run.map(|r| r.inputs.clone()).unwrap_or(Value::Null)
    }

    /// Commits on `branch` as someone pushing would: each change writes a
    /// file (`Some` content) or deletes it (`None`). Returns the commit.
    pub fn push_commit(
        &self,
        branch: &str,
        changes: &[(&str, Option<&str>)],
        message: &str,
    ) -> String {
        let mut world = self.world.lock().unwrap();
        let parent = world.branch(branch).expect("the branch exists").to_string();
        let mut listing = world.tree_at(&parent).cloned().unwrap_or_default();
        for (path, content) in changes {
            match content {
                Some(text) => {
                    let blob = world.next_sha();
                    world.blobs.insert(blob.clone(), text.as_bytes().to_vec());
                    listing.insert(path.to_string(), blob);
                }
                None => {
                    listing.remove(*path);
                }
            }
        }
        let tree = world.next_sha();
        world.trees.insert(tree.clone(), listing);
        let sha = world.next_sha();
        let commit = GitCommit::new(tree, vec![parent], &json!({"message": message}));
        world.git_commits.insert(sha.clone(), commit);
        world.set_branch(branch, &sha);
        sha
    }

    /// The content of `path` at a branch or commit.
    pub fn file_at(&self, git_ref: &str, path: &str) -> Option<String> {
        self.world.lock().unwrap().file_at(git_ref, path)
    }

    /// Bodies of the pull requests opened, in order.
    pub fn pulls(&self) -> Vec<Value> {
        self.world.lock().unwrap().pulls.clone()
    }

    /// Bodies of the issues opened, in order.
    pub fn issues(&self) -> Vec<Value> {
        self.world.lock().unwrap().issues.clone()
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
