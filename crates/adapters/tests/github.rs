//! The GitHub client against a fake GitHub REST API.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use common::{assert_error_text, empty, test_http, Fake, Fault, TOKEN};
use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::github::{
    title_names, CommitAuthor, Dispatch, FileChange, GitHubClient, GitHubConfig, NewPullRequest,
    RepoName,
};
use opsroom_adapters::{ApiError, Secret};
use serde_json::{json, Value};

fn github_error(_status: u16, message: &str) -> Value {
    json!({"message": message, "documentation_url": "https://docs.github.com/rest"})
}

#[derive(Default)]
struct World {
    blobs: HashMap<String, Vec<u8>>,
    /// tree sha -> full listing path -> blob sha
    trees: HashMap<String, HashMap<String, String>>,
    /// commit sha -> (tree sha, parents, message, author email)
    git_commits: HashMap<String, (String, Vec<String>, String, String)>,
    refs: HashMap<String, String>,
    /// (branch, path) -> (blob sha, content)
    files: HashMap<(String, String), (String, String)>,
    commits: Vec<Value>,
    pulls: Vec<Value>,
    runs: Vec<(Value, u32)>,
    seq: u32,
    /// How the fake answers `return_run_details`.
    run_details: RunDetails,
}

/// What a dispatch asking for `return_run_details` gets.
#[derive(Default, Clone, Copy, PartialEq)]
enum RunDetails {
    /// 200 with the run (github.com).
    #[default]
    Given,
    /// 204 without it (a server that ignores the parameter).
    Ignored,
    /// 422 naming it (a server that refuses unknown parameters).
    Refused,
}

impl World {
    fn next(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:04}", self.seq)
    }
}

#[derive(Clone)]
struct AppState {
    fake: Fake,
    world: Arc<Mutex<World>>,
}

fn ref_json(branch: &str, sha: &str) -> Value {
    json!({"ref": format!("refs/heads/{branch}"), "node_id": "REF_x", "url": "u",
           "object": {"sha": sha, "type": "commit", "url": "u"}})
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
        return s.fake.error(403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header");
    }
    if !known_repo(&o, &r) {
        return s.fake.error(404, "Not Found");
    }
    Json(
        json!({"id": 1, "full_name": "acme/web", "default_branch": "main", "private": true,
                "html_url": "https://github.com/acme/web"}),
    )
    .into_response()
}

async fn get_ref(
    State(s): State<AppState>,
    Path((o, r, branch)): Path<(String, String, String)>,
) -> Response {
    let w = s.world.lock().unwrap();
    match w.refs.get(&branch) {
        Some(sha) if known_repo(&o, &r) => Json(ref_json(&branch, sha)).into_response(),
        _ => s.fake.error(404, "Not Found"),
    }
}

async fn get_tag(
    State(s): State<AppState>,
    Path((_o, _r, tag)): Path<(String, String, String)>,
) -> Response {
    if tag != "v1.2.0" {
        return s.fake.error(404, "Not Found");
    }
    Json(
        json!({"ref": "refs/tags/v1.2.0", "object": {"sha": "sha_tag", "type": "tag", "url": "u"}}),
    )
    .into_response()
}

async fn create_ref(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let mut w = s.world.lock().unwrap();
    let (Some(name), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
        return s
            .fake
            .error(422, "Invalid request. \"ref\" and \"sha\" are required");
    };
    let Some(branch) = name.strip_prefix("refs/heads/") else {
        return s.fake.error(422, "Reference name must start with 'refs/'");
    };
    if w.refs.contains_key(branch) {
        return s.fake.error(422, "Reference already exists");
    }
    w.refs.insert(branch.to_owned(), sha.to_owned());
    (StatusCode::CREATED, Json(ref_json(branch, sha))).into_response()
}

async fn get_contents(
    State(s): State<AppState>,
    Path((_o, _r, path)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = s.world.lock().unwrap();
    let branch = q.get("ref").cloned().unwrap_or_else(|| "main".to_owned());
    match w.files.get(&(branch, path.clone())) {
        Some((sha, content)) => Json(json!({"type": "file", "path": path, "sha": sha,
            "encoding": "base64", "content": base64::engine::general_purpose::STANDARD.encode(content)}))
        .into_response(),
        None => s.fake.error(404, "Not Found"),
    }
}

async fn put_contents(
    State(s): State<AppState>,
    Path((_o, _r, path)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut w = s.world.lock().unwrap();
    let branch = body["branch"].as_str().unwrap_or("main").to_owned();
    if !w.refs.contains_key(&branch) {
        return s.fake.error(404, &format!("Branch {branch} not found"));
    }
    let Some(content) = body["content"]
        .as_str()
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
    else {
        return s.fake.error(422, "content is not valid Base64");
    };
    let key = (branch.clone(), path.clone());
    let existing = w.files.get(&key).map(|(sha, _)| sha.clone());
    if existing.is_some() && body["sha"].as_str() != existing.as_deref() {
        return s
            .fake
            .error(422, "Invalid request.\n\n\"sha\" wasn't supplied.");
    }
    let blob = w.next("blob");
    let commit = w.next("commit");
    w.files
        .insert(key, (blob.clone(), String::from_utf8(content).unwrap()));
    w.refs.insert(branch, commit.clone());
    let commit_json = json!({"sha": commit, "html_url": format!("https://github.com/acme/web/commit/{commit}"),
        "message": body["message"], "author": body["author"], "committer": body["committer"]});
    w.commits.push(commit_json.clone());
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

async fn create_pull(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let mut w = s.world.lock().unwrap();
    let head = body["head"].as_str().unwrap_or_default().to_owned();
    let base = body["base"].as_str().unwrap_or_default().to_owned();
    if w.refs.get(&head) == w.refs.get(&base) {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("No commits between {base} and {head}")}],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"})))
        .into_response();
    }
    let number = w.pulls.len() as u64 + 1;
    let pr = json!({"number": number, "html_url": format!("https://github.com/acme/web/pull/{number}"),
        "state": "open", "title": body["title"], "body": body["body"], "draft": body["draft"],
        "head": {"ref": head}, "base": {"ref": base}});
    w.pulls.push(pr.clone());
    (StatusCode::CREATED, Json(pr)).into_response()
}

async fn dispatch(
    State(s): State<AppState>,
    Path((_o, _r, workflow)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if workflow != "deploy.yml" {
        return s.fake.error(404, "Not Found");
    }
    let mut w = s.world.lock().unwrap();
    let asks = body["return_run_details"] == true;
    if asks && w.run_details == RunDetails::Refused {
        return s.fake.error(
            422,
            "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
        );
    }
    let git_ref = body["ref"].as_str().unwrap_or_default().to_owned();
    let Some(sha) = w.refs.get(&git_ref).cloned() else {
        return s.fake.error(422, &format!("No ref found for: {git_ref}"));
    };
    let id = 9000 + w.runs.len() as u64;
    // The workflow's `run-name: Deploy ${{ inputs.opsroom_run }}`.
    let title = format!(
        "Deploy {}",
        body["inputs"]["opsroom_run"].as_str().unwrap_or("")
    );
    let run = json!({"id": id, "name": "Deploy", "display_title": title.trim_end(),
        "status": "queued", "conclusion": null,
        "head_branch": git_ref, "head_sha": sha, "event": "workflow_dispatch",
        "html_url": format!("https://github.com/acme/web/actions/runs/{id}"),
        "created_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "inputs": body["inputs"]});
    w.runs.push((run, 0));
    if asks && w.run_details == RunDetails::Given {
        return Json(json!({"workflow_run_id": id,
            "run_url": format!("https://api.github.com/repos/acme/web/actions/runs/{id}"),
            "html_url": format!("https://github.com/acme/web/actions/runs/{id}")}))
        .into_response();
    }
    empty(204)
}

async fn list_runs(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = s.world.lock().unwrap();
    let runs: Vec<Value> = w
        .runs
        .iter()
        .rev()
        .map(|(r, _)| r.clone())
        .filter(|r| {
            q.get("branch")
                .is_none_or(|b| r["head_branch"] == b.as_str())
        })
        .filter(|r| q.get("event").is_none_or(|e| r["event"] == e.as_str()))
        .filter(|r| {
            q.get("created")
                .is_none_or(|c| r["created_at"].as_str().unwrap() >= c.trim_start_matches(">="))
        })
        .collect();
    Json(json!({"total_count": runs.len(), "workflow_runs": runs})).into_response()
}

/// Each read moves a run on: queued -> in_progress -> completed/success.
async fn get_run(
    State(s): State<AppState>,
    Path((_o, _r, id)): Path<(String, String, u64)>,
) -> Response {
    let mut w = s.world.lock().unwrap();
    let Some((run, reads)) = w.runs.iter_mut().find(|(r, _)| r["id"] == id) else {
        return s.fake.error(404, "Not Found");
    };
    *reads += 1;
    match *reads {
        1 => run["status"] = json!("queued"),
        2 => run["status"] = json!("in_progress"),
        _ => {
            run["status"] = json!("completed");
            run["conclusion"] = json!("success");
        }
    }
    Json(run.clone()).into_response()
}

async fn get_git_commit(
    State(s): State<AppState>,
    Path((_o, _r, sha)): Path<(String, String, String)>,
) -> Response {
    let w = s.world.lock().unwrap();
    match w.git_commits.get(&sha) {
        Some((tree, parents, message, _)) => Json(json!({"sha": sha, "tree": {"sha": tree},
            "parents": parents.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>(), "message": message}))
        .into_response(),
        None => s.fake.error(404, "Not Found"),
    }
}

async fn create_blob(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    if body["encoding"] != "base64" {
        return s.fake.error(422, "encoding must be utf-8 or base64");
    }
    let Ok(bytes) =
        base64::engine::general_purpose::STANDARD.decode(body["content"].as_str().unwrap_or(""))
    else {
        return s.fake.error(422, "content is not valid Base64");
    };
    let mut w = s.world.lock().unwrap();
    let sha = w.next("blob");
    w.blobs.insert(sha.clone(), bytes);
    (StatusCode::CREATED, Json(json!({"sha": sha, "url": "u"}))).into_response()
}

async fn create_tree(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let mut w = s.world.lock().unwrap();
    let base = body["base_tree"].as_str().unwrap_or_default();
    let Some(mut listing) = w.trees.get(base).cloned() else {
        return s.fake.error(422, "tree.base_tree is not a valid tree");
    };
    for entry in body["tree"].as_array().cloned().unwrap_or_default() {
        let sha = entry["sha"].as_str().unwrap_or_default().to_owned();
        if entry["mode"] != "100644" || entry["type"] != "blob" || !w.blobs.contains_key(&sha) {
            return s.fake.error(422, "GitRPC::BadObjectState");
        }
        listing.insert(entry["path"].as_str().unwrap().to_owned(), sha);
    }
    let sha = w.next("tree");
    w.trees.insert(sha.clone(), listing);
    (
        StatusCode::CREATED,
        Json(json!({"sha": sha, "url": "u", "tree": []})),
    )
        .into_response()
}

async fn create_git_commit(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let mut w = s.world.lock().unwrap();
    let tree = body["tree"].as_str().unwrap_or_default().to_owned();
    if !w.trees.contains_key(&tree) {
        return s.fake.error(422, "Tree SHA does not exist");
    }
    let parents: Vec<String> = body["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    let sha = w.next("commit");
    let email = body["author"]["email"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    w.git_commits.insert(
        sha.clone(),
        (
            tree,
            parents,
            body["message"].as_str().unwrap_or_default().to_owned(),
            email,
        ),
    );
    (
        StatusCode::CREATED,
        Json(json!({"sha": sha, "html_url": format!("https://github.com/acme/web/commit/{sha}")})),
    )
        .into_response()
}

async fn update_ref(
    State(s): State<AppState>,
    Path((_o, _r, branch)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut w = s.world.lock().unwrap();
    let sha = body["sha"].as_str().unwrap_or_default().to_owned();
    let Some(current) = w.refs.get(&branch).cloned() else {
        return s.fake.error(422, "Reference does not exist");
    };
    let fast_forward = w
        .git_commits
        .get(&sha)
        .is_some_and(|(_, parents, _, _)| parents.contains(&current));
    if !fast_forward && body["force"] != true {
        return s.fake.error(422, "Update is not a fast forward");
    }
    w.refs.insert(branch.clone(), sha.clone());
    Json(ref_json(&branch, &sha)).into_response()
}

struct Harness {
    fake: Fake,
    world: Arc<Mutex<World>>,
    client: GitHubClient,
    slept: Arc<Mutex<Vec<Duration>>>,
    base_url: String,
}

async fn harness() -> Harness {
    let fake = Fake::new(github_error);
    let world = Arc::new(Mutex::new(World::default()));
    {
        let mut w = world.lock().unwrap();
        w.refs.insert("main".to_owned(), "sha_main".to_owned());
        w.blobs
            .insert("blob_readme".to_owned(), b"# web\n".to_vec());
        let readme = HashMap::from([("README.md".to_owned(), "blob_readme".to_owned())]);
        w.trees.insert("tree_main".to_owned(), readme);
        let root = (
            "tree_main".to_owned(),
            vec![],
            "init".to_owned(),
            String::new(),
        );
        w.git_commits.insert("sha_main".to_owned(), root);
    }
    let state = AppState {
        fake: fake.clone(),
        world: world.clone(),
    };
    let routes = Router::new()
        .route("/repos/{o}/{r}", get(repo))
        .route("/repos/{o}/{r}/git/ref/heads/{*branch}", get(get_ref))
        .route("/repos/{o}/{r}/git/ref/tags/{*tag}", get(get_tag))
        .route("/repos/{o}/{r}/git/refs", post(create_ref))
        .route(
            "/repos/{o}/{r}/git/refs/heads/{*branch}",
            axum::routing::patch(update_ref),
        )
        .route("/repos/{o}/{r}/git/commits/{sha}", get(get_git_commit))
        .route("/repos/{o}/{r}/git/commits", post(create_git_commit))
        .route("/repos/{o}/{r}/git/blobs", post(create_blob))
        .route("/repos/{o}/{r}/git/trees", post(create_tree))
        .route(
            "/repos/{o}/{r}/contents/{*path}",
            get(get_contents).put(put_contents),
        )
        .route("/repos/{o}/{r}/pulls", post(create_pull))
        .route(
            "/repos/{o}/{r}/actions/workflows/{wf}/dispatches",
            post(dispatch),
        )
        .route("/repos/{o}/{r}/actions/workflows/{wf}/runs", get(list_runs))
        .route("/repos/{o}/{r}/actions/runs/{id}", get(get_run))
        .with_state(state);
    let base_url = fake.serve(routes).await;
    let (http, slept) = test_http();
    let client = GitHubClient::new(GitHubConfig {
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

fn web() -> RepoName {
    RepoName::new("acme", "web")
}

fn bot() -> CommitAuthor {
    CommitAuthor {
        name: "opsroom bot".to_owned(),
        email: "bot@opsroom.local".to_owned(),
    }
}

#[tokio::test]
async fn reads_repo_and_branch_with_required_headers() {
    let h = harness().await;
    let repo = h.client.get_repo(&web()).await.unwrap();
    assert_eq!(repo.default_branch, "main");
    let main = h.client.get_branch(&web(), "main").await.unwrap();
    assert_eq!(main.object.sha, "sha_main");
    let same = h.client.get_ref(&web(), "refs/heads/main").await.unwrap();
    assert_eq!(same.name, "refs/heads/main");
    let tag = h.client.get_ref(&web(), "tags/v1.2.0").await.unwrap();
    assert_eq!(
        (tag.object.sha.as_str(), tag.object.kind.as_str()),
        ("sha_tag", "tag")
    );
    let err = h.client.get_ref(&web(), "tags/v9").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    for request in h.fake.requests() {
        assert_eq!(
            request.header("accept"),
            Some("application/vnd.github+json")
        );
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        assert_eq!(request.header("user-agent"), Some("opsroom-tests"));
    }
}

#[tokio::test]
async fn spec_flow_branch_commit_files_and_pull_request() {
    let h = harness().await;
    let base = h.client.get_branch(&web(), "main").await.unwrap();
    let branch = "spec/user-auth";
    let created = h
        .client
        .create_branch(&web(), branch, &base.object.sha)
        .await
        .unwrap();
    assert_eq!(created.name, "refs/heads/spec/user-auth");
    let files = vec![
        FileChange {
            path: "specs/user-auth/prd.md".to_owned(),
            content: b"# PRD\n".to_vec(),
        },
        FileChange {
            path: "specs/user-auth/plan.md".to_owned(),
            content: b"# Plan\n".to_vec(),
        },
    ];
    let commit = h
        .client
        .commit_files(&web(), branch, &files, "Add spec for user auth", &bot())
        .await
        .unwrap();
    // Updating a file that exists sends its blob sha (else GitHub answers 422).
    let again = FileChange {
        path: "specs/user-auth/prd.md".to_owned(),
        content: b"# PRD v2\n".to_vec(),
    };
    let second = h
        .client
        .put_file(&web(), branch, &again, "Revise PRD", &bot())
        .await
        .unwrap();
    assert_ne!(commit.sha, second.sha);
    assert_eq!(
        h.client
            .get_branch(&web(), branch)
            .await
            .unwrap()
            .object
            .sha,
        second.sha
    );

    let pr = h
        .client
        .create_pull_request(
            &web(),
            &NewPullRequest {
                title: "Spec: user auth".to_owned(),
                body: "Generated by opsroom".to_owned(),
                head: branch.to_owned(),
                base: "main".to_owned(),
                draft: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(pr.number, 1);
    assert_eq!(pr.html_url, "https://github.com/acme/web/pull/1");
    let w = h.world.lock().unwrap();
    let key = (branch.to_owned(), "specs/user-auth/prd.md".to_owned());
    assert_eq!(w.files[&key].1, "# PRD v2\n");
    assert_eq!(w.commits[0]["author"]["email"], "bot@opsroom.local");
    assert_eq!(w.pulls[0]["draft"], true);
}

#[tokio::test]
async fn commits_several_files_as_one_commit_with_the_git_data_api() {
    let h = harness().await;
    h.client
        .create_branch(&web(), "spec/billing", "sha_main")
        .await
        .unwrap();
    let files = vec![
        FileChange {
            path: "specs/billing/constitution.md".to_owned(),
            content: b"# Constitution\n".to_vec(),
        },
        FileChange {
            path: "specs/billing/tasks.md".to_owned(),
            content: b"- [ ] one\n".to_vec(),
        },
    ];
    let commit = h
        .client
        .commit_tree(&web(), "spec/billing", &files, "Add billing spec", &bot())
        .await
        .unwrap();
    let w = h.world.lock().unwrap();
    assert_eq!(
        w.refs["spec/billing"], commit.sha,
        "branch moved to the new commit"
    );
    let (tree, parents, message, email) = &w.git_commits[&commit.sha];
    assert_eq!(parents, &["sha_main"]);
    assert_eq!(message, "Add billing spec");
    assert_eq!(email, "bot@opsroom.local");
    let listing = &w.trees[tree];
    assert_eq!(listing.len(), 3, "the base tree's README is kept");
    assert_eq!(w.blobs[&listing["specs/billing/tasks.md"]], b"- [ ] one\n");
    assert_eq!(w.refs["main"], "sha_main");
}

#[tokio::test]
async fn existing_branch_is_a_422_naming_the_call() {
    let h = harness().await;
    let err = h
        .client
        .create_branch(&web(), "main", "sha_main")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_error_text(&err, "github.create_branch", Some(422));
    assert!(
        err.to_string().contains("Reference already exists"),
        "{err}"
    );
}

#[tokio::test]
async fn pull_request_validation_errors_carry_details() {
    let h = harness().await;
    h.client
        .create_branch(&web(), "empty", "sha_main")
        .await
        .unwrap();
    let pr = NewPullRequest {
        title: "t".into(),
        body: String::new(),
        head: "empty".into(),
        base: "main".into(),
        draft: false,
    };
    let err = h.client.create_pull_request(&web(), &pr).await.unwrap_err();
    assert_error_text(&err, "github.create_pull_request", Some(422));
    assert!(
        err.to_string()
            .contains("No commits between main and empty"),
        "{err}"
    );
}

#[tokio::test]
async fn dispatches_workflow_gets_its_run_and_follows_it() {
    let h = harness().await;
    let mut inputs = serde_json::Map::new();
    inputs.insert("environment".to_owned(), json!("staging"));
    let dispatched = h
        .client
        .dispatch_workflow(&web(), "deploy.yml", "main", &inputs)
        .await
        .unwrap();
    let Dispatch::Run(run) = dispatched else {
        panic!("github.com names the run: {dispatched:?}")
    };
    assert_eq!(run.workflow_run_id, 9000);
    assert_eq!(
        run.html_url,
        "https://github.com/acme/web/actions/runs/9000"
    );
    let sent = h.fake.requests();
    assert_eq!(sent.len(), 1);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let done = h
        .client
        .follow_workflow_run(&web(), run.workflow_run_id, &opts, Some(&tx))
        .await
        .unwrap();
    assert!(done.succeeded());
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(
        seen,
        [
            "github workflow run 9000 of acme/web: queued",
            "github workflow run 9000 of acme/web: in_progress",
            "github workflow run 9000 of acme/web: completed/success"
        ]
    );
    let w = h.world.lock().unwrap();
    assert_eq!(w.runs[0].0["inputs"]["environment"], "staging");
}

/// Two dispatches in the same second each get their own run.
#[tokio::test]
async fn dispatches_in_one_second_get_their_own_runs() {
    let h = harness().await;
    let mut ids = Vec::new();
    for env in ["staging", "preview"] {
        let mut inputs = serde_json::Map::new();
        inputs.insert("environment".to_owned(), json!(env));
        match h
            .client
            .dispatch_workflow(&web(), "deploy.yml", "main", &inputs)
            .await
            .unwrap()
        {
            Dispatch::Run(run) => ids.push(run.workflow_run_id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ids, [9000, 9001]);
}

/// A server that answers 204, or refuses `return_run_details` (the
/// dispatch is then sent once more without it), leaves the run unnamed;
/// it is found by the marker its name shows, never by being the newest.
#[tokio::test]
async fn an_unnamed_run_is_found_by_the_marker_in_its_name() {
    for details in [RunDetails::Ignored, RunDetails::Refused] {
        let h = harness().await;
        h.world.lock().unwrap().run_details = details;
        let before = chrono::Utc::now() - chrono::Duration::seconds(5);
        for marker in ["opsroom-41-1-aa", "opsroom-42-1-bb"] {
            let mut inputs = serde_json::Map::new();
            inputs.insert("opsroom_run".to_owned(), json!(marker));
            let dispatched = h
                .client
                .dispatch_workflow(&web(), "deploy.yml", "main", &inputs)
                .await
                .unwrap();
            assert_eq!(dispatched, Dispatch::Unnamed);
        }
        let bodies = h.fake.requests().len();
        assert_eq!(
            bodies,
            if details == RunDetails::Refused { 4 } else { 2 },
            "a refused parameter costs one more request"
        );
        let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
        // The older of the two runs, though the newer one is the newest.
        let run = h
            .client
            .find_run_by_title(
                &web(),
                "deploy.yml",
                "main",
                before,
                "opsroom-41-1-aa",
                &opts,
            )
            .await
            .unwrap();
        assert_eq!(run.id, 9000);
        assert_eq!(run.display_title, "Deploy opsroom-41-1-aa");
        let list = h
            .fake
            .requests()
            .into_iter()
            .find(|r| r.path.ends_with("/runs"))
            .unwrap();
        assert!(
            list.query.contains("event=workflow_dispatch") && list.query.contains("branch=main"),
            "{}",
            list.query
        );
        // A marker no run shows is waited for, then given up on.
        let short = FollowOptions::new(Duration::from_millis(1), Duration::from_millis(30));
        let err = h
            .client
            .find_run_by_title(&web(), "deploy.yml", "main", before, "opsroom-41-1", &short)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not finished after"), "{err}");
    }
}

#[test]
fn a_marker_is_matched_as_a_whole_word() {
    assert!(title_names("Deploy opsroom-41-1-aa", "opsroom-41-1-aa"));
    assert!(title_names(
        "deploy (opsroom-41-1-aa) to prod",
        "opsroom-41-1-aa"
    ));
    assert!(!title_names("Deploy opsroom-41-1-aa", "opsroom-41-1"));
    assert!(!title_names("Deploy opsroom-41-1-aab", "opsroom-41-1-aa"));
    assert!(!title_names("Deploy", ""));
}

#[tokio::test]
async fn dispatch_on_unknown_ref_is_422() {
    let h = harness().await;
    let err = h
        .client
        .dispatch_workflow(&web(), "deploy.yml", "nope", &Default::default())
        .await
        .unwrap_err();
    assert_error_text(&err, "github.dispatch_workflow", Some(422));
    assert!(err.to_string().contains("No ref found for: nope"));
}

#[tokio::test]
async fn dispatch_is_not_repeated_after_a_500_but_is_after_a_503() {
    let h = harness().await;
    h.fake.push_faults([Fault::status(500, "Server Error")]);
    let err = h
        .client
        .dispatch_workflow(&web(), "deploy.yml", "main", &Default::default())
        .await
        .unwrap_err();
    assert_error_text(&err, "github.dispatch_workflow", Some(500));
    assert!(h.world.lock().unwrap().runs.is_empty());
    assert_eq!(h.fake.requests().len(), 1);
    h.fake.push_faults([Fault::status(503, "unavailable")]);
    h.client
        .dispatch_workflow(&web(), "deploy.yml", "main", &Default::default())
        .await
        .unwrap();
    assert_eq!(h.world.lock().unwrap().runs.len(), 1, "exactly one run");
}

#[tokio::test]
async fn unknown_repo_is_404() {
    let h = harness().await;
    let err = h
        .client
        .get_repo(&RepoName::new("acme", "missing"))
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert_error_text(&err, "github.get_repo", Some(404));
}

#[tokio::test]
async fn bad_credentials_are_401_without_the_token() {
    let h = harness().await;
    let (http, _) = test_http();
    let client = GitHubClient::new(GitHubConfig {
        base_url: h.base_url.clone(),
        token: Secret::new("ghp_wrongwrong"),
        http,
    })
    .unwrap();
    let err = client.get_repo(&web()).await.unwrap_err();
    assert!(err.is_auth());
    assert_error_text(&err, "github.get_repo", Some(401));
    assert!(err.to_string().contains("Bad credentials"));
    assert!(!err.to_string().contains("ghp_wrongwrong"));
}

#[tokio::test]
async fn secondary_rate_limit_403_and_429_honour_retry_after() {
    let h = harness().await;
    h.fake.push_faults([
        Fault::Status {
            status: 403,
            retry_after: Some("2"),
            message: "You have exceeded a secondary rate limit",
        },
        Fault::rate_limited("1"),
    ]);
    assert_eq!(
        h.client.get_repo(&web()).await.unwrap().full_name,
        "acme/web"
    );
    assert_eq!(
        *h.slept.lock().unwrap(),
        [Duration::from_secs(2), Duration::from_secs(1)]
    );
    assert_eq!(h.fake.requests().len(), 3);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_fails_at_once() {
    let h = harness().await;
    h.fake.push_faults([Fault::rate_limited("3600")]);
    let err = h.client.get_repo(&web()).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(h.fake.requests().len(), 1);
    assert!(h.slept.lock().unwrap().is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let h = harness().await;
    h.fake.push_faults([
        Fault::status(500, "boom"),
        Fault::status(500, "boom"),
        Fault::status(500, "Server Error"),
    ]);
    let err = h.client.get_branch(&web(), "main").await.unwrap_err();
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
    assert_error_text(&err, "github.get_branch", Some(500));
    assert_eq!(
        h.slept.lock().unwrap().len(),
        2,
        "backoff between the 3 attempts"
    );
}

#[tokio::test]
async fn slow_answer_is_a_timeout_error() {
    let h = harness().await;
    h.fake.push_faults([Fault::Delay(Duration::from_secs(3))]);
    let err = h.client.get_repo(&web()).await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_error_text(&err, "github.get_repo", None);
}
