//! GitHub REST API client: repositories and refs, branches, file commits
//! through the contents API, pull requests, workflow dispatch with
//! following the run to its conclusion, and deployments with their
//! statuses ([`GitHubClient::live_deployments`]).
//!
//! Every request sends `Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version` and a `User-Agent`, as GitHub requires.

mod deployments;

pub use deployments::{DeploymentStatus, GitHubDeployment};

use std::fmt;

use base64::Engine as _;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::follow::{follow_until_terminal, FollowError, FollowOptions, Observed};
use crate::http::{ApiClient, ApiError, Call, HttpOptions};
use crate::secret::Secret;

/// The public GitHub API.
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";
/// The REST API version this client is written against.
pub const API_VERSION: &str = "2022-11-28";

/// How to reach GitHub (or GitHub Enterprise, through `base_url`).
#[derive(Clone, Debug)]
pub struct GitHubConfig {
    /// API root, [`DEFAULT_BASE_URL`] or `https://HOST/api/v3`.
    pub base_url: String,
    /// A token (personal access token, app installation token).
    pub token: Secret,
    /// Timeouts, retries and the `User-Agent`.
    pub http: HttpOptions,
}

impl GitHubConfig {
    /// Configuration for github.com with default transport settings.
    pub fn new(token: Secret) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token,
            http: HttpOptions::default(),
        }
    }
}

/// A repository name, `owner/name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoName {
    /// The user or organisation.
    pub owner: String,
    /// The repository.
    pub name: String,
}

impl RepoName {
    /// A repository name from its two parts.
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
        }
    }

    /// Parses `owner/name`.
    pub fn parse(full: &str) -> Option<Self> {
        let (owner, name) = full.split_once('/')?;
        if owner.is_empty() || name.is_empty() || name.contains('/') {
            return None;
        }
        Some(Self::new(owner, name))
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A repository (`GET /repos/{owner}/{repo}`).
#[derive(Clone, Debug, Deserialize)]
pub struct Repository {
    /// Numeric id.
    pub id: u64,
    /// `owner/name`.
    pub full_name: String,
    /// The default branch, e.g. `main`.
    pub default_branch: String,
    /// Whether it is private.
    #[serde(default)]
    pub private: bool,
    /// Web URL.
    #[serde(default)]
    pub html_url: String,
}

/// A git reference (`refs/heads/main`) and the commit it points at.
#[derive(Clone, Debug, Deserialize)]
pub struct GitRef {
    /// Full ref name.
    #[serde(rename = "ref")]
    pub name: String,
    /// What it points at.
    pub object: GitObject,
}

/// The object a ref points at.
#[derive(Clone, Debug, Deserialize)]
pub struct GitObject {
    /// Its SHA.
    pub sha: String,
    /// `commit`, `tag`, …
    #[serde(rename = "type")]
    pub kind: String,
}

/// Who a commit is attributed to.
#[derive(Clone, Debug)]
pub struct CommitAuthor {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
}

/// A file to create or replace on a branch.
#[derive(Clone, Debug)]
pub struct FileChange {
    /// Path in the repository, `/`-separated.
    pub path: String,
    /// New content.
    pub content: Vec<u8>,
}

/// One entry of a folder listed with the contents API.
#[derive(Clone, Debug, Deserialize)]
pub struct DirEntry {
    /// `file`, `dir`, `symlink` or `submodule`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The entry's name in its folder.
    pub name: String,
    /// Path in the repository.
    pub path: String,
    /// Blob (or tree) SHA.
    pub sha: String,
}

/// A file to write (with content) or delete (without) in a tree.
#[derive(Clone, Debug)]
pub struct TreeChange {
    /// Path in the repository, `/`-separated.
    pub path: String,
    /// New content; `None` deletes the file.
    pub content: Option<Vec<u8>>,
}

/// Two commits compared.
#[derive(Clone, Debug, Deserialize)]
pub struct Comparison {
    /// Commits the head has that the base has not.
    #[serde(default)]
    pub ahead_by: u64,
    /// The files that differ.
    #[serde(default)]
    pub files: Vec<ChangedFile>,
}

/// One file of a comparison.
#[derive(Clone, Debug, Deserialize)]
pub struct ChangedFile {
    /// Its path at the head.
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, …
    pub status: String,
    /// Its path at the base, when renamed.
    #[serde(default)]
    pub previous_filename: Option<String>,
}

/// An issue.
#[derive(Clone, Debug, Deserialize)]
pub struct Issue {
    /// Its number in the repository.
    pub number: u64,
    /// Web URL.
    pub html_url: String,
}

#[derive(Deserialize)]
struct ContentsBody {
    #[serde(default)]
    content: String,
}

/// The commit a contents API write made.
#[derive(Clone, Debug, Deserialize)]
pub struct CommitRef {
    /// The commit SHA.
    pub sha: String,
    /// Web URL of the commit.
    #[serde(default)]
    pub html_url: Option<String>,
}

#[derive(Deserialize)]
struct ContentsWrite {
    commit: CommitRef,
}

#[derive(Deserialize)]
struct ContentsRead {
    sha: String,
}

#[derive(Deserialize)]
struct ShaOnly {
    sha: String,
}

#[derive(Deserialize)]
struct CommitWithTree {
    tree: ShaOnly,
}

/// A request to open a pull request.
#[derive(Clone, Debug)]
pub struct NewPullRequest {
    /// Title.
    pub title: String,
    /// Description (markdown).
    pub body: String,
    /// The branch with the changes.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    /// Open it as a draft.
    pub draft: bool,
}

/// A pull request.
#[derive(Clone, Debug, Deserialize)]
pub struct PullRequest {
    /// Its number in the repository.
    pub number: u64,
    /// Web URL.
    pub html_url: String,
    /// `open` or `closed`.
    pub state: String,
}

/// A GitHub Actions workflow run.
#[derive(Clone, Debug, Deserialize)]
pub struct WorkflowRun {
    /// Run id.
    pub id: u64,
    /// Workflow name.
    #[serde(default)]
    pub name: Option<String>,
    /// `queued`, `in_progress`, `completed`, `waiting`, `requested`, `pending`.
    pub status: String,
    /// `success`, `failure`, `cancelled`, `timed_out`, … once completed.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The branch it ran on.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// The commit it ran on.
    #[serde(default)]
    pub head_sha: String,
    /// What triggered it (`workflow_dispatch`, `push`, …).
    #[serde(default)]
    pub event: String,
    /// The run's name as shown: the workflow's `run-name` with its
    /// expressions filled in (or the commit message / workflow name).
    #[serde(default)]
    pub display_title: String,
    /// Web URL.
    #[serde(default)]
    pub html_url: String,
    /// When it was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl WorkflowRun {
    /// Whether it completed with `success`.
    pub fn succeeded(&self) -> bool {
        self.status == "completed" && self.conclusion.as_deref() == Some("success")
    }
}

impl Observed for WorkflowRun {
    fn status_label(&self) -> String {
        match &self.conclusion {
            Some(c) if self.status == "completed" => format!("completed/{c}"),
            _ => self.status.clone(),
        }
    }
    fn is_terminal(&self) -> bool {
        self.status == "completed"
    }
}

/// Filters of the workflow runs listing.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// Only runs on this branch.
    pub branch: Option<String>,
    /// Only runs triggered by this event.
    pub event: Option<String>,
    /// Only runs created at or after this time.
    pub created_after: Option<chrono::DateTime<chrono::Utc>>,
    /// Page size (GitHub's maximum is 100).
    pub per_page: Option<u32>,
}

#[derive(Deserialize)]
struct RunList {
    workflow_runs: Vec<WorkflowRun>,
}

/// The run a `workflow_dispatch` created, as GitHub names it when asked
/// (`return_run_details`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DispatchedRun {
    /// The workflow run id.
    pub workflow_run_id: u64,
    /// The run in the API.
    #[serde(default)]
    pub run_url: String,
    /// The run on the web.
    #[serde(default)]
    pub html_url: String,
}

/// What GitHub answered to a workflow dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// The dispatch started this run.
    Run(DispatchedRun),
    /// GitHub accepted the dispatch without saying which run it started
    /// (`204 No Content`: a GitHub Enterprise Server that predates
    /// `return_run_details`). Find the run with
    /// [`GitHubClient::find_run_by_title`].
    Unnamed,
}

/// Whether `title` holds `marker` as a word of its own (not as part of a
/// longer one), words being split at anything but letters, digits, `-`, `_`
/// and `.`.
pub fn title_names(title: &str, marker: &str) -> bool {
    !marker.is_empty()
        && title
            .split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .any(|word| word == marker)
}

/// A GitHub API client.
#[derive(Clone, Debug)]
pub struct GitHubClient {
    api: ApiClient,
}

fn repo_call(name: &'static str, method: Method, repo: &RepoName, rest: &[&str]) -> Call {
    Call::new(name, method, &["repos", &repo.owner, &repo.name]).segments(rest.iter().copied())
}

impl GitHubClient {
    /// Builds a client; fails on an invalid base URL or an empty token.
    pub fn new(config: GitHubConfig) -> Result<Self, ApiError> {
        let api = ApiClient::new(
            "github",
            &config.base_url,
            config.token,
            config.http,
            &[
                ("accept", "application/vnd.github+json"),
                ("x-github-api-version", API_VERSION),
            ],
        )?;
        Ok(Self { api })
    }

    /// Reads a repository.
    pub async fn get_repo(&self, repo: &RepoName) -> Result<Repository, ApiError> {
        self.api
            .json(repo_call("github.get_repo", Method::GET, repo, &[]))
            .await
    }

    /// Reads any ref, given without `refs/`: `heads/main`, `tags/v1.2.0`
    /// (`GET /repos/{o}/{r}/git/ref/{ref}`).
    pub async fn get_ref(&self, repo: &RepoName, git_ref: &str) -> Result<GitRef, ApiError> {
        let git_ref = git_ref.strip_prefix("refs/").unwrap_or(git_ref);
        let call = repo_call("github.get_ref", Method::GET, repo, &["git", "ref"])
            .segments(git_ref.split('/'));
        self.api.json(call).await
    }

    /// Reads a branch ref (`GET /repos/{o}/{r}/git/ref/heads/{branch}`).
    pub async fn get_branch(&self, repo: &RepoName, branch: &str) -> Result<GitRef, ApiError> {
        let call = repo_call(
            "github.get_branch",
            Method::GET,
            repo,
            &["git", "ref", "heads"],
        )
        .segments(branch.split('/'));
        self.api.json(call).await
    }

    /// Creates `branch` at commit `sha` (`POST /repos/{o}/{r}/git/refs`);
    /// a branch that already exists is a 422.
    pub async fn create_branch(
        &self,
        repo: &RepoName,
        branch: &str,
        sha: &str,
    ) -> Result<GitRef, ApiError> {
        let call = repo_call("github.create_branch", Method::POST, repo, &["git", "refs"])
            .json(json!({"ref": format!("refs/heads/{branch}"), "sha": sha}));
        self.api.json(call).await
    }

    /// The blob SHA of a file on a branch, or `None` when it does not exist.
    pub async fn file_sha(
        &self,
        repo: &RepoName,
        path: &str,
        branch: &str,
    ) -> Result<Option<String>, ApiError> {
        let call = repo_call("github.get_file", Method::GET, repo, &["contents"])
            .segments(path.split('/'))
            .query("ref", branch);
        match self.api.json::<ContentsRead>(call).await {
            Ok(file) => Ok(Some(file.sha)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates or replaces one file on a branch with one commit
    /// (`PUT /repos/{o}/{r}/contents/{path}`).
    pub async fn put_file(
        &self,
        repo: &RepoName,
        branch: &str,
        file: &FileChange,
        message: &str,
        author: &CommitAuthor,
    ) -> Result<CommitRef, ApiError> {
        let existing = self.file_sha(repo, &file.path, branch).await?;
        let person = json!({"name": author.name, "email": author.email});
        let mut body = json!({
            "message": message,
            "content": base64::engine::general_purpose::STANDARD.encode(&file.content),
            "branch": branch,
            "committer": person,
            "author": person,
        });
        if let Some(sha) = existing {
            body["sha"] = json!(sha);
        }
        let call = repo_call("github.put_file", Method::PUT, repo, &["contents"])
            .segments(file.path.split('/'))
            .json(body);
        let written: ContentsWrite = self.api.json(call).await?;
        Ok(written.commit)
    }

    /// Commits all `files` to `branch` as one commit through the git data API
    /// (blobs, a tree on top of the branch's tree, a commit, then a
    /// fast-forward of the branch ref). Returns the new commit.
    pub async fn commit_tree(
        &self,
        repo: &RepoName,
        branch: &str,
        files: &[FileChange],
        message: &str,
        author: &CommitAuthor,
    ) -> Result<CommitRef, ApiError> {
        let changes: Vec<TreeChange> = files
            .iter()
            .map(|f| TreeChange {
                path: f.path.clone(),
                content: Some(f.content.clone()),
            })
            .collect();
        self.commit_changes(repo, branch, &changes, message, author)
            .await
    }

    /// Like [`GitHubClient::commit_tree`], and a change without content
    /// deletes its file.
    pub async fn commit_changes(
        &self,
        repo: &RepoName,
        branch: &str,
        changes: &[TreeChange],
        message: &str,
        author: &CommitAuthor,
    ) -> Result<CommitRef, ApiError> {
        if changes.is_empty() {
            return Err(ApiError::InvalidInput {
                call: "github.commit_tree",
                message: "no files to commit".to_owned(),
            });
        }
        let head = self.get_branch(repo, branch).await?.object.sha;
        let call = repo_call(
            "github.get_commit",
            Method::GET,
            repo,
            &["git", "commits", &head],
        );
        let base_tree = self.api.json::<CommitWithTree>(call).await?.tree.sha;
        let mut entries = Vec::with_capacity(changes.len());
        for change in changes {
            let Some(content) = &change.content else {
                entries.push(
                    json!({"path": change.path, "mode": "100644", "type": "blob", "sha": null}),
                );
                continue;
            };
            let call = repo_call("github.create_blob", Method::POST, repo, &["git", "blobs"]).json(
                json!({
                    "content": base64::engine::general_purpose::STANDARD.encode(content),
                    "encoding": "base64",
                }),
            );
            let blob: ShaOnly = self.api.json(call).await?;
            entries.push(
                json!({"path": change.path, "mode": "100644", "type": "blob", "sha": blob.sha}),
            );
        }
        let call = repo_call("github.create_tree", Method::POST, repo, &["git", "trees"])
            .json(json!({"base_tree": base_tree, "tree": entries}));
        let tree: ShaOnly = self.api.json(call).await?;
        let person = json!({"name": author.name, "email": author.email});
        let call = repo_call("github.create_commit", Method::POST, repo, &["git", "commits"]).json(
            json!({"message": message, "tree": tree.sha, "parents": [head], "author": person, "committer": person}),
        );
        let commit: CommitRef = self.api.json(call).await?;
        let call = repo_call(
            "github.update_branch",
            Method::PATCH,
            repo,
            &["git", "refs", "heads"],
        )
        .segments(branch.split('/'))
        .json(json!({"sha": commit.sha, "force": false}));
        self.api.json::<GitRef>(call).await?;
        Ok(commit)
    }

    /// The files that differ between two commits (or refs), and how many
    /// commits `head` has that `base` has not
    /// (`GET /repos/{o}/{r}/compare/{base}...{head}`).
    pub async fn compare(
        &self,
        repo: &RepoName,
        base: &str,
        head: &str,
    ) -> Result<Comparison, ApiError> {
        let range = format!("{base}...{head}");
        let call = repo_call("github.compare", Method::GET, repo, &["compare", &range]);
        self.api.json(call).await
    }

    /// The entries of a folder at a ref (`GET /repos/{o}/{r}/contents/{path}`
    /// answers an array for a folder); empty when the folder does not exist.
    /// GitHub lists at most 1,000 entries.
    pub async fn list_dir(
        &self,
        repo: &RepoName,
        path: &str,
        git_ref: &str,
    ) -> Result<Vec<DirEntry>, ApiError> {
        let call = repo_call("github.list_dir", Method::GET, repo, &["contents"])
            .segments(path.split('/').filter(|p| !p.is_empty()))
            .query("ref", git_ref);
        match self.api.json::<Vec<DirEntry>>(call).await {
            Ok(entries) => Ok(entries),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The content of a file at a ref (branch, tag or commit), or `None`
    /// when the file does not exist there.
    pub async fn file_at(
        &self,
        repo: &RepoName,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let call = repo_call("github.get_file", Method::GET, repo, &["contents"])
            .segments(path.split('/'))
            .query("ref", git_ref);
        let file = match self.api.json::<ContentsBody>(call).await {
            Ok(file) => file,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let packed: String = file
            .content
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(packed)
            .map(Some)
            .map_err(|e| ApiError::InvalidInput {
                call: "github.get_file",
                message: format!("the content of {path} is not base64: {e}"),
            })
    }

    /// Opens an issue (`POST /repos/{o}/{r}/issues`).
    pub async fn create_issue(
        &self,
        repo: &RepoName,
        title: &str,
        body: &str,
    ) -> Result<Issue, ApiError> {
        let call = repo_call("github.create_issue", Method::POST, repo, &["issues"])
            .json(json!({"title": title, "body": body}));
        self.api.json(call).await
    }

    /// Commits each file to `branch` through the contents API (one commit
    /// per file, in order) and returns the last commit.
    pub async fn commit_files(
        &self,
        repo: &RepoName,
        branch: &str,
        files: &[FileChange],
        message: &str,
        author: &CommitAuthor,
    ) -> Result<CommitRef, ApiError> {
        let mut last = None;
        for file in files {
            last = Some(self.put_file(repo, branch, file, message, author).await?);
        }
        last.ok_or_else(|| ApiError::InvalidInput {
            call: "github.commit_files",
            message: "no files to commit".to_owned(),
        })
    }

    /// Opens a pull request (`POST /repos/{o}/{r}/pulls`).
    pub async fn create_pull_request(
        &self,
        repo: &RepoName,
        pr: &NewPullRequest,
    ) -> Result<PullRequest, ApiError> {
        let call = repo_call("github.create_pull_request", Method::POST, repo, &["pulls"]).json(
            json!({"title": pr.title, "body": pr.body, "head": pr.head, "base": pr.base, "draft": pr.draft}),
        );
        self.api.json(call).await
    }

    /// Triggers a `workflow_dispatch` run of a workflow (its file name such as
    /// `deploy.yml`, or its id) on `git_ref`, asking GitHub to name the run
    /// it starts (`return_run_details`: `200` with `workflow_run_id`).
    /// A server that answers `204` without the run, or refuses the parameter
    /// (older GitHub Enterprise Server: a 400/422 naming it; nothing was
    /// dispatched then, so the dispatch is sent again without it), gives
    /// [`Dispatch::Unnamed`].
    pub async fn dispatch_workflow(
        &self,
        repo: &RepoName,
        workflow: &str,
        git_ref: &str,
        inputs: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Dispatch, ApiError> {
        let call = |details: bool| {
            let mut body = json!({"ref": git_ref, "inputs": inputs});
            if details {
                body["return_run_details"] = json!(true);
            }
            repo_call(
                "github.dispatch_workflow",
                Method::POST,
                repo,
                &["actions", "workflows", workflow, "dispatches"],
            )
            .json(body)
        };
        let first = call(true);
        let response = match self.api.send(&first).await {
            Ok(response) => response,
            Err(ApiError::Status {
                status: 400 | 422,
                message,
                ..
            }) if message.contains("return_run_details") => {
                tracing::info!(%repo, workflow, "the server does not know return_run_details; dispatching without it");
                let plain = call(false);
                let response = self.api.send(&plain).await?;
                self.api.read_body(&plain, response).await?;
                return Ok(Dispatch::Unnamed);
            }
            Err(e) => return Err(e),
        };
        let status = response.status();
        let body = self.api.read_body(&first, response).await?;
        if status == reqwest::StatusCode::NO_CONTENT || body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Dispatch::Unnamed);
        }
        let run: DispatchedRun = serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
            call: "github.dispatch_workflow",
            message: e.to_string(),
        })?;
        Ok(Dispatch::Run(run))
    }

    /// Runs of a workflow, newest first (first page).
    pub async fn list_workflow_runs(
        &self,
        repo: &RepoName,
        workflow: &str,
        filter: &RunFilter,
    ) -> Result<Vec<WorkflowRun>, ApiError> {
        let call = repo_call(
            "github.list_workflow_runs",
            Method::GET,
            repo,
            &["actions", "workflows", workflow, "runs"],
        )
        .query_opt("branch", filter.branch.as_deref())
        .query_opt("event", filter.event.as_deref())
        .query_opt(
            "created",
            filter
                .created_after
                .map(|t| format!(">={}", t.format("%Y-%m-%dT%H:%M:%SZ"))),
        )
        .query_opt("per_page", filter.per_page);
        let list: RunList = self.api.json(call).await?;
        Ok(list.workflow_runs)
    }

    /// Reads one workflow run.
    pub async fn get_workflow_run(
        &self,
        repo: &RepoName,
        run_id: u64,
    ) -> Result<WorkflowRun, ApiError> {
        let id = run_id.to_string();
        let call = repo_call(
            "github.get_workflow_run",
            Method::GET,
            repo,
            &["actions", "runs", &id],
        );
        self.api.json(call).await
    }

    /// Waits for the run a dispatch created when GitHub did not name it: the
    /// `workflow_dispatch` run on `branch`, created at or after
    /// `dispatched_after`, whose name ([`WorkflowRun::display_title`]) holds
    /// `marker` as a word. The marker is a unique value the dispatch passed
    /// in an input that the workflow's `run-name` shows, so it proves which
    /// run is which even for dispatches in the same second. Two runs showing
    /// the marker is an error, never a guess.
    pub async fn find_run_by_title(
        &self,
        repo: &RepoName,
        workflow: &str,
        branch: &str,
        dispatched_after: chrono::DateTime<chrono::Utc>,
        marker: &str,
        options: &FollowOptions,
    ) -> Result<WorkflowRun, FollowError> {
        let what = format!("github workflow {workflow} run named {marker} on {repo}@{branch}");
        let filter = RunFilter {
            branch: Some(branch.to_owned()),
            event: Some("workflow_dispatch".to_owned()),
            created_after: Some(dispatched_after),
            per_page: Some(100),
        };
        let found = follow_until_terminal(&what, options, None, || async {
            let runs = self.list_workflow_runs(repo, workflow, &filter).await?;
            let mut named: Vec<WorkflowRun> = runs
                .into_iter()
                .filter(|r| title_names(&r.display_title, marker))
                .collect();
            if named.len() > 1 {
                let ids: Vec<String> = named.iter().map(|r| r.id.to_string()).collect();
                return Err(ApiError::Decode {
                    call: "github.find_run_by_title",
                    message: format!(
                        "runs {} all show {marker} in their name; cannot tell which one this dispatch started",
                        ids.join(", ")
                    ),
                });
            }
            Ok(FoundRun(named.pop()))
        })
        .await?;
        Ok(found.0.expect("terminal FoundRun holds a run"))
    }

    /// Polls a workflow run until it is `completed`, sending each status change.
    pub async fn follow_workflow_run(
        &self,
        repo: &RepoName,
        run_id: u64,
        options: &FollowOptions,
        progress: Option<&mpsc::Sender<String>>,
    ) -> Result<WorkflowRun, FollowError> {
        let what = format!("github workflow run {run_id} of {repo}");
        follow_until_terminal(&what, options, progress, || {
            self.get_workflow_run(repo, run_id)
        })
        .await
    }
}

/// A run found (terminal for the search) or not yet.
struct FoundRun(Option<WorkflowRun>);

impl Observed for FoundRun {
    fn status_label(&self) -> String {
        match &self.0 {
            Some(run) => format!("run {} found", run.id),
            None => "waiting for the run to appear".to_owned(),
        }
    }
    fn is_terminal(&self) -> bool {
        self.0.is_some()
    }
}
