//! Vercel REST API client: deployments (create from a git ref, get, list,
//! build events), promote and rollback, runtime logs.
//!
//! Endpoints used (all accept `teamId`):
//! `POST /v13/deployments`, `GET /v13/deployments/{idOrUrl}`,
//! `GET /v3/deployments/{idOrUrl}/events` (read again with `since` while
//! a deployment builds), `GET /v6/deployments`
//! (paged with `until` = `pagination.next`; each entry's `ready` is when it
//! went live, its `meta` the git commit and ref), `GET /v9/projects/{idOrName}`
//! (`targets.production`: what production serves),
//! `POST /v10/projects/{projectId}/promote/{deploymentId}`,
//! `POST /v1/projects/{projectId}/rollback/{deploymentId}`,
//! `GET /v1/projects/{projectId}/deployments/{deploymentId}/runtime-logs`
//! (newline-delimited JSON stream).

use std::fmt;
use std::ops::ControlFlow;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::deployments::{newest_first, LiveDeployment};
use crate::follow::{follow_until_terminal, FollowError, FollowOptions, Observed};
use crate::http::{ApiClient, ApiError, Call, HttpOptions};
use crate::secret::Secret;

/// The public Vercel API.
pub const DEFAULT_BASE_URL: &str = "https://api.vercel.com";

/// How to reach Vercel.
#[derive(Clone, Debug)]
pub struct VercelConfig {
    /// API root, [`DEFAULT_BASE_URL`] unless testing.
    pub base_url: String,
    /// A Vercel access token.
    pub token: Secret,
    /// The team to act for (`teamId` query parameter), if any.
    pub team_id: Option<String>,
    /// Timeouts and retries.
    pub http: HttpOptions,
}

impl VercelConfig {
    /// Configuration for the public API with default transport settings.
    pub fn new(token: Secret) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token,
            team_id: None,
            http: HttpOptions::default(),
        }
    }
}

/// A deployment's lifecycle state (`readyState`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum ReadyState {
    /// Waiting for a build slot.
    Queued,
    /// Preparing the build.
    Initializing,
    /// Building.
    Building,
    /// Built and serving.
    Ready,
    /// The build or deployment failed.
    Error,
    /// Cancelled before it was ready.
    Canceled,
    /// A state this client does not know.
    Other(String),
}

impl From<String> for ReadyState {
    fn from(s: String) -> Self {
        match s.as_str() {
            "QUEUED" => Self::Queued,
            "INITIALIZING" => Self::Initializing,
            "BUILDING" => Self::Building,
            "READY" => Self::Ready,
            "ERROR" => Self::Error,
            "CANCELED" => Self::Canceled,
            _ => Self::Other(s),
        }
    }
}

impl fmt::Display for ReadyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Queued => "QUEUED",
            Self::Initializing => "INITIALIZING",
            Self::Building => "BUILDING",
            Self::Ready => "READY",
            Self::Error => "ERROR",
            Self::Canceled => "CANCELED",
            Self::Other(s) => s,
        })
    }
}

impl ReadyState {
    /// Whether the deployment will not change state any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Ready | Self::Error | Self::Canceled)
    }
}

/// One deployment as returned by `GET /v13/deployments/{id}` and `POST /v13/deployments`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The deployment id (`dpl_…`).
    pub id: String,
    /// Its unique URL, without scheme.
    #[serde(default)]
    pub url: Option<String>,
    /// The project name.
    #[serde(default)]
    pub name: Option<String>,
    /// Lifecycle state.
    pub ready_state: ReadyState,
    /// `production`, `staging`, or none for previews.
    #[serde(default)]
    pub target: Option<String>,
    /// The project id.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Creation time, milliseconds since the epoch.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Domains pointing at it.
    #[serde(default)]
    pub alias: Vec<String>,
    /// Why it failed, when `ready_state` is `ERROR`.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Link to the deployment in the Vercel dashboard.
    #[serde(default)]
    pub inspector_url: Option<String>,
}

impl Observed for Deployment {
    fn status_label(&self) -> String {
        match (&self.ready_state, &self.error_message) {
            (ReadyState::Error, Some(m)) => format!("ERROR ({m})"),
            (state, _) => state.to_string(),
        }
    }
    fn is_terminal(&self) -> bool {
        self.ready_state.is_terminal()
    }
}

/// Where the source of a git deployment comes from (`gitSource`).
#[derive(Clone, Debug)]
pub enum GitSource {
    /// A GitHub repository by owner and name.
    GitHub {
        /// Owner (user or organisation).
        org: String,
        /// Repository name.
        repo: String,
        /// Branch or tag.
        git_ref: String,
        /// Exact commit, if pinned.
        sha: Option<String>,
    },
    /// A GitLab project by numeric id.
    GitLab {
        /// Project id.
        project_id: String,
        /// Branch or tag.
        git_ref: String,
        /// Exact commit, if pinned.
        sha: Option<String>,
    },
    /// A Bitbucket repository by owner and slug.
    Bitbucket {
        /// Workspace owner.
        owner: String,
        /// Repository slug.
        slug: String,
        /// Branch or tag.
        git_ref: String,
        /// Exact commit, if pinned.
        sha: Option<String>,
    },
}

impl GitSource {
    fn to_json(&self) -> serde_json::Value {
        let mut v = match self {
            GitSource::GitHub {
                org, repo, git_ref, ..
            } => {
                json!({"type": "github", "org": org, "repo": repo, "ref": git_ref})
            }
            GitSource::GitLab {
                project_id,
                git_ref,
                ..
            } => json!({"type": "gitlab", "projectId": project_id, "ref": git_ref}),
            GitSource::Bitbucket {
                owner,
                slug,
                git_ref,
                ..
            } => json!({"type": "bitbucket", "owner": owner, "slug": slug, "ref": git_ref}),
        };
        let sha = match self {
            GitSource::GitHub { sha, .. }
            | GitSource::GitLab { sha, .. }
            | GitSource::Bitbucket { sha, .. } => sha,
        };
        if let Some(sha) = sha {
            v["sha"] = json!(sha);
        }
        v
    }
}

/// A request to deploy a project from a git ref.
#[derive(Clone, Debug)]
pub struct CreateDeployment {
    /// The project name (Vercel's required `name`).
    pub name: String,
    /// The project id or name to deploy into, when it differs from `name`.
    pub project: Option<String>,
    /// `production`, `staging`, or `None` for a preview.
    pub target: Option<String>,
    /// The source to build.
    pub git_source: GitSource,
}

/// One entry of `GET /v6/deployments`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSummary {
    /// The deployment id.
    pub uid: String,
    /// The project name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its unique URL, without scheme.
    #[serde(default)]
    pub url: Option<String>,
    /// Creation time, milliseconds since the epoch.
    #[serde(default)]
    pub created: i64,
    /// Lifecycle state (`readyState`).
    #[serde(default)]
    pub ready_state: Option<ReadyState>,
    /// Lifecycle state (older `state` field).
    #[serde(default)]
    pub state: Option<ReadyState>,
    /// `production`, `staging`, or none for previews.
    #[serde(default)]
    pub target: Option<String>,
    /// Git metadata (`githubCommitSha`, `githubCommitRef`, …).
    #[serde(default)]
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// When it became ready to serve, milliseconds since the epoch.
    #[serde(default)]
    pub ready: Option<i64>,
    /// Its page in Vercel's dashboard.
    #[serde(default)]
    pub inspector_url: Option<String>,
}

impl DeploymentSummary {
    /// The lifecycle state, whichever field carried it.
    pub fn status(&self) -> Option<&ReadyState> {
        self.ready_state.as_ref().or(self.state.as_ref())
    }

    /// The git metadata value `key` (`githubCommitSha`, `githubCommitRef`).
    fn meta_str(&self, key: &str) -> Option<String> {
        self.meta
            .get(key)
            .and_then(serde_json::Value::as_str)
            .filter(|v| !v.is_empty())
            .map(String::from)
    }

    /// As a deployment that went live at its `ready` time: `None` unless
    /// it is READY with that time (a deployment still building, failed or
    /// cancelled never served).
    pub fn went_live(&self) -> Option<LiveDeployment> {
        if self.status().is_some_and(|s| *s != ReadyState::Ready) {
            return None;
        }
        let live_at = chrono::DateTime::from_timestamp_millis(self.ready?)?;
        Some(LiveDeployment {
            id: self.uid.clone(),
            url: self
                .url
                .as_ref()
                .map(|u| format!("https://{u}"))
                .or_else(|| self.inspector_url.clone()),
            git_ref: self.meta_str("githubCommitRef"),
            commit: self.meta_str("githubCommitSha"),
            live_at,
        })
    }
}

/// Filters of `GET /v6/deployments`.
#[derive(Clone, Debug, Default)]
pub struct ListDeployments {
    /// Only this project's deployments.
    pub project_id: Option<String>,
    /// Only this target (`production`, `preview`).
    pub target: Option<String>,
    /// Only these states, comma-separated (`READY`, `ERROR,CANCELED`).
    pub state: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Only deployments created before this time (ms); the pagination cursor.
    pub until: Option<i64>,
}

/// One page of deployments, newest first.
#[derive(Clone, Debug)]
pub struct DeploymentPage {
    /// The deployments of this page.
    pub deployments: Vec<DeploymentSummary>,
    /// The `until` value of the next page, if there is one.
    pub next: Option<i64>,
}

/// One build event (log line) of a deployment.
#[derive(Clone, Debug, Deserialize)]
pub struct BuildEvent {
    /// `stdout`, `stderr`, `command`, `delimiter`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Time, milliseconds since the epoch.
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    serial: Option<serde_json::Value>,
    #[serde(default)]
    payload: Option<BuildEventPayload>,
}

#[derive(Clone, Debug, Deserialize)]
struct BuildEventPayload {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    serial: Option<serde_json::Value>,
}

impl BuildEvent {
    /// The log text of the event (from `payload.text` or `text`).
    pub fn text(&self) -> &str {
        self.payload
            .as_ref()
            .and_then(|p| p.text.as_deref())
            .or(self.text.as_deref())
            .unwrap_or("")
    }

    /// Whether the line comes from the build's error stream (`stderr`, `fatal`).
    pub fn is_error(&self) -> bool {
        matches!(self.kind.as_str(), "stderr" | "fatal")
    }

    /// What tells this event apart from the others of its deployment: its
    /// id or serial, else its time, type and text.
    fn key(&self) -> String {
        let payload = self.payload.as_ref();
        payload
            .and_then(|p| p.id.as_ref().or(p.serial.as_ref()))
            .or(self.id.as_ref().or(self.serial.as_ref()))
            .filter(|v| !v.is_null())
            .map(|v| v.to_string())
            .unwrap_or_else(|| format!("{}/{}/{}", self.created, self.kind, self.text()))
    }
}

/// Where reading a deployment's build log got to, so each event is passed
/// on once however often the log is read.
#[derive(Debug, Default)]
struct BuildLogCursor {
    /// The newest `created` seen.
    since: Option<i64>,
    /// Keys of the events seen at exactly `since` (the next read starts there).
    seen_at_since: Vec<String>,
}

impl BuildLogCursor {
    /// The events of `batch` not passed on before, oldest first.
    fn fresh(&mut self, mut batch: Vec<BuildEvent>) -> Vec<BuildEvent> {
        batch.sort_by_key(|e| e.created);
        let mut out = Vec::new();
        for event in batch {
            let key = event.key();
            match self.since {
                Some(since) if event.created < since => continue,
                Some(since) if event.created == since => {
                    if self.seen_at_since.contains(&key) {
                        continue;
                    }
                    self.seen_at_since.push(key);
                }
                _ => {
                    self.since = Some(event.created);
                    self.seen_at_since = vec![key];
                }
            }
            out.push(event);
        }
        out
    }
}

/// A project (`GET /v9/projects/{idOrName}`), with what its production
/// domains serve.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The project id (`prj_…`).
    pub id: String,
    /// The project name.
    #[serde(default)]
    pub name: String,
    /// The deployment each target serves (`targets.production`).
    #[serde(default)]
    pub targets: Option<ProjectTargets>,
    /// The last rollback or promotion asked for, and how it went.
    #[serde(default)]
    pub last_alias_request: Option<LastAliasRequest>,
}

impl Project {
    /// The deployment production serves now, if any.
    pub fn production(&self) -> Option<&ProjectDeployment> {
        self.targets.as_ref().and_then(|t| t.production.as_ref())
    }

    /// A rollback or promotion still moving the production domains, if any.
    pub fn alias_request_in_progress(&self) -> Option<&LastAliasRequest> {
        self.last_alias_request
            .as_ref()
            .filter(|r| matches!(r.job_status.as_str(), "pending" | "in-progress"))
    }
}

/// The targets of a project.
#[derive(Clone, Debug, Deserialize)]
pub struct ProjectTargets {
    /// The deployment production domains point at.
    #[serde(default)]
    pub production: Option<ProjectDeployment>,
}

/// A deployment as a project names it (`targets.production`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDeployment {
    /// The deployment id (`dpl_…`).
    pub id: String,
    /// Its unique URL, without scheme.
    #[serde(default)]
    pub url: Option<String>,
    /// Creation time, milliseconds since the epoch.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Lifecycle state.
    #[serde(default)]
    pub ready_state: Option<ReadyState>,
    /// Domains pointing at it.
    #[serde(default)]
    pub alias: Vec<String>,
    /// Git metadata (`githubCommitRef`, `githubCommitSha`, …).
    #[serde(default)]
    pub meta: serde_json::Map<String, serde_json::Value>,
}

/// A rollback or promotion of a project's production domains
/// (`lastAliasRequest`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastAliasRequest {
    /// `rollback` or `promote`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `pending`, `in-progress`, `succeeded`, `failed` or `skipped`.
    #[serde(default)]
    pub job_status: String,
    /// The deployment production served before.
    #[serde(default)]
    pub from_deployment_id: Option<String>,
    /// The deployment production is moved to.
    #[serde(default)]
    pub to_deployment_id: Option<String>,
}

/// Waiting for a project's production domains to serve one deployment.
struct ProductionWait {
    project: Project,
    wanted: String,
}

impl Observed for ProductionWait {
    fn status_label(&self) -> String {
        let live = self
            .project
            .production()
            .map_or("nothing", |d| d.id.as_str());
        match &self.project.last_alias_request {
            Some(r) if !r.job_status.is_empty() => {
                format!("production serves {live} ({} {})", r.kind, r.job_status)
            }
            _ => format!("production serves {live}"),
        }
    }
    fn is_terminal(&self) -> bool {
        let serves = self.project.production().map(|d| d.id.as_str()) == Some(&self.wanted);
        let given_up = self.project.last_alias_request.as_ref().is_some_and(|r| {
            r.to_deployment_id.as_deref() == Some(&self.wanted)
                && matches!(r.job_status.as_str(), "failed" | "skipped")
        });
        serves || given_up
    }
}

/// One runtime log line of a deployment.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeLog {
    /// `info`, `warning`, `error`, …
    #[serde(default)]
    pub level: String,
    /// The log message.
    #[serde(default)]
    pub message: String,
    /// Where it came from (`serverless`, `edge-function`, `request`, …).
    #[serde(default)]
    pub source: String,
    /// Time, milliseconds since the epoch.
    #[serde(default)]
    pub timestamp_in_ms: i64,
    /// The request path, for request logs.
    #[serde(default)]
    pub request_path: Option<String>,
    /// The response status, for request logs.
    #[serde(default)]
    pub response_status_code: Option<i64>,
    /// The request method, for request logs.
    #[serde(default)]
    pub request_method: Option<String>,
    /// The domain the request came to.
    #[serde(default)]
    pub domain: Option<String>,
    /// The row's id in Vercel's log store.
    #[serde(default)]
    pub row_id: Option<String>,
    /// Whether Vercel cut the message.
    #[serde(default)]
    pub message_truncated: bool,
}

/// A runtime log line longer than this is dropped unread (Vercel cuts
/// messages far shorter and says so in `messageTruncated`).
const MAX_RUNTIME_LOG_LINE: usize = 1 << 20;

/// How much of the runtime log stream to read.
#[derive(Clone, Debug)]
pub struct RuntimeLogWindow {
    /// Stop after this many lines.
    pub max_lines: usize,
    /// Stop reading the (possibly endless) stream after this long.
    pub max_duration: Duration,
}

impl Default for RuntimeLogWindow {
    fn default() -> Self {
        Self {
            max_lines: 1000,
            max_duration: Duration::from_secs(10),
        }
    }
}

#[derive(Deserialize)]
struct ListResponse {
    deployments: Vec<DeploymentSummary>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct Pagination {
    #[serde(default)]
    next: Option<i64>,
}

/// A Vercel API client.
#[derive(Clone, Debug)]
pub struct VercelClient {
    api: ApiClient,
    team_id: Option<String>,
}

impl VercelClient {
    /// Builds a client; fails on an invalid base URL or an empty token.
    pub fn new(config: VercelConfig) -> Result<Self, ApiError> {
        let api = ApiClient::new("vercel", &config.base_url, config.token, config.http, &[])?;
        Ok(Self {
            api,
            team_id: config.team_id,
        })
    }

    fn team(&self, call: Call) -> Call {
        call.query_opt("teamId", self.team_id.as_deref())
    }

    /// Starts a deployment of a git ref (`POST /v13/deployments`).
    pub async fn create_deployment(&self, req: &CreateDeployment) -> Result<Deployment, ApiError> {
        let mut body = json!({"name": req.name, "gitSource": req.git_source.to_json()});
        if let Some(project) = &req.project {
            body["project"] = json!(project);
        }
        if let Some(target) = &req.target {
            body["target"] = json!(target);
        }
        let call = Call::post("vercel.create_deployment", &["v13", "deployments"]).json(body);
        self.api.json(self.team(call)).await
    }

    /// Reads a deployment by id or URL (`GET /v13/deployments/{idOrUrl}`).
    pub async fn get_deployment(&self, id_or_url: &str) -> Result<Deployment, ApiError> {
        let call = Call::get("vercel.get_deployment", &["v13", "deployments", id_or_url]);
        self.api.json(self.team(call)).await
    }

    /// The build log of a deployment, oldest first (`GET /v3/deployments/{id}/events`).
    pub async fn deployment_events(&self, id_or_url: &str) -> Result<Vec<BuildEvent>, ApiError> {
        self.deployment_events_since(id_or_url, None).await
    }

    /// The build log of a deployment from time `since` (ms, included) on,
    /// oldest first; the whole log without `since`.
    pub async fn deployment_events_since(
        &self,
        id_or_url: &str,
        since: Option<i64>,
    ) -> Result<Vec<BuildEvent>, ApiError> {
        let call = Call::get(
            "vercel.deployment_events",
            &["v3", "deployments", id_or_url, "events"],
        )
        .query("direction", "forward")
        .query("limit", -1)
        .query_opt("since", since);
        self.api.json(self.team(call)).await
    }

    /// Reads a project with the deployment its production domains serve
    /// (`GET /v9/projects/{idOrName}`).
    pub async fn get_project(&self, id_or_name: &str) -> Result<Project, ApiError> {
        let call = Call::get("vercel.get_project", &["v9", "projects", id_or_name]);
        self.api.json(self.team(call)).await
    }

    /// One page of deployments, newest first (`GET /v6/deployments`).
    pub async fn list_deployments(
        &self,
        query: &ListDeployments,
    ) -> Result<DeploymentPage, ApiError> {
        let call = Call::get("vercel.list_deployments", &["v6", "deployments"])
            .query_opt("projectId", query.project_id.as_deref())
            .query_opt("target", query.target.as_deref())
            .query_opt("state", query.state.as_deref())
            .query_opt("limit", query.limit)
            .query_opt("until", query.until);
        let page: ListResponse = self.api.json(self.team(call)).await?;
        Ok(DeploymentPage {
            deployments: page.deployments,
            next: page.pagination.and_then(|p| p.next),
        })
    }

    /// Deployments across pages (following `pagination.next`), newest first,
    /// up to `max` of them.
    pub async fn list_all_deployments(
        &self,
        query: &ListDeployments,
        max: usize,
    ) -> Result<Vec<DeploymentSummary>, ApiError> {
        let mut query = query.clone();
        let mut all = Vec::new();
        loop {
            let page = self.list_deployments(&query).await?;
            let empty = page.deployments.is_empty();
            all.extend(page.deployments);
            match page.next {
                Some(next) if !empty && all.len() < max && Some(next) != query.until => {
                    query.until = Some(next)
                }
                _ => break,
            }
        }
        all.truncate(max);
        Ok(all)
    }

    /// The READY deployments of `project_id` (of `target` when given) that
    /// went live, however they were started (a git push, the CLI,
    /// opsroom), newest first by their `ready` time; at most `max`, read
    /// across pages.
    pub async fn live_deployments(
        &self,
        project_id: &str,
        target: Option<&str>,
        max: usize,
    ) -> Result<Vec<LiveDeployment>, ApiError> {
        let query = ListDeployments {
            project_id: Some(project_id.to_owned()),
            target: target.map(String::from),
            state: Some("READY".into()),
            limit: Some(max.clamp(1, 100) as u32),
            until: None,
        };
        let mut live: Vec<LiveDeployment> = self
            .list_all_deployments(&query, max)
            .await?
            .iter()
            .filter_map(DeploymentSummary::went_live)
            .collect();
        newest_first(&mut live);
        Ok(live)
    }

    /// Points production at an existing deployment without rebuilding it
    /// (`POST /v10/projects/{projectId}/promote/{deploymentId}`).
    pub async fn promote(&self, project_id: &str, deployment_id: &str) -> Result<(), ApiError> {
        let call = Call::post(
            "vercel.promote",
            &["v10", "projects", project_id, "promote", deployment_id],
        )
        .idempotent();
        self.api.no_content(self.team(call)).await
    }

    /// Rolls production back to an earlier production deployment
    /// (`POST /v1/projects/{projectId}/rollback/{deploymentId}`).
    pub async fn rollback(
        &self,
        project_id: &str,
        deployment_id: &str,
        description: Option<&str>,
    ) -> Result<(), ApiError> {
        let call = Call::post(
            "vercel.rollback",
            &["v1", "projects", project_id, "rollback", deployment_id],
        )
        .idempotent()
        .query_opt("description", description);
        self.api.no_content(self.team(call)).await
    }

    /// Reads a deployment's runtime logs from the stream until it ends or the
    /// window is used up; lines that are not log objects are skipped.
    pub async fn runtime_logs(
        &self,
        project_id: &str,
        deployment_id: &str,
        window: &RuntimeLogWindow,
    ) -> Result<Vec<RuntimeLog>, ApiError> {
        let mut logs = Vec::new();
        if window.max_lines > 0 {
            self.runtime_logs_each(project_id, deployment_id, window.max_duration, |log| {
                logs.push(log);
                if logs.len() >= window.max_lines {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .await?;
        }
        Ok(logs)
    }

    /// Streams a deployment's runtime logs
    /// (`GET /v1/projects/{projectId}/deployments/{deploymentId}/runtime-logs`,
    /// `application/stream+json`) to `each`, one log at a time, until the
    /// stream ends, `each` breaks, or `max_duration` has passed (Vercel may
    /// keep the stream open). Lines that are not log objects are skipped;
    /// memory holds one line at a time.
    pub async fn runtime_logs_each(
        &self,
        project_id: &str,
        deployment_id: &str,
        max_duration: Duration,
        mut each: impl FnMut(RuntimeLog) -> ControlFlow<()>,
    ) -> Result<(), ApiError> {
        let call = Call::get(
            "vercel.runtime_logs",
            &[
                "v1",
                "projects",
                project_id,
                "deployments",
                deployment_id,
                "runtime-logs",
            ],
        )
        .timeout(max_duration + Duration::from_secs(30));
        let call = self.team(call);
        let mut response = self.api.send(&call).await?;
        let deadline = tokio::time::Instant::now() + max_duration;
        let mut pending: Vec<u8> = Vec::new();
        let parse = |line: &[u8]| {
            let line = String::from_utf8_lossy(line);
            let line = line.trim();
            (!line.is_empty())
                .then(|| serde_json::from_str::<RuntimeLog>(line).ok())
                .flatten()
        };
        loop {
            let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
                Err(_) => return Ok(()),
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => {
                    if let Some(log) = parse(&pending) {
                        let _ = each(log);
                    }
                    return Ok(());
                }
                Ok(Err(e)) => return Err(self.api.body_error(&call, e)),
            };
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(pos) = pending[start..].iter().position(|b| *b == b'\n') {
                let line = &pending[start..start + pos];
                start += pos + 1;
                if let Some(log) = parse(line) {
                    if each(log).is_break() {
                        return Ok(());
                    }
                }
            }
            pending.drain(..start);
            if pending.len() > MAX_RUNTIME_LOG_LINE {
                // One line longer than any log Vercel sends: not a log.
                pending.clear();
            }
        }
    }

    /// Polls a deployment until it is `READY`, `ERROR` or `CANCELED`, sending
    /// each state change to `progress`.
    pub async fn follow_deployment(
        &self,
        id: &str,
        options: &FollowOptions,
        progress: Option<&mpsc::Sender<String>>,
    ) -> Result<Deployment, FollowError> {
        let what = format!("vercel deployment {id}");
        follow_until_terminal(&what, options, progress, || self.get_deployment(id)).await
    }

    /// [`Self::follow_deployment`], also sending each new line of the
    /// deployment's build log to `build_log` as it is written, the last ones
    /// (read once the deployment settled) included. The build log is read
    /// beside the status: a failure to read it is reported on `progress` and
    /// does not stop the following.
    pub async fn follow_deployment_with_build_log(
        &self,
        id: &str,
        options: &FollowOptions,
        progress: Option<&mpsc::Sender<String>>,
        build_log: &mpsc::Sender<BuildEvent>,
    ) -> Result<Deployment, FollowError> {
        let cursor = std::sync::Mutex::new(BuildLogCursor::default());
        let pass_on = || async {
            let since = cursor.lock().unwrap_or_else(|e| e.into_inner()).since;
            match self.deployment_events_since(id, since).await {
                Ok(batch) => {
                    let fresh = cursor
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .fresh(batch);
                    for event in fresh {
                        let _ = build_log.send(event).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(deployment = id, error = %e, "cannot read the build log");
                    if let Some(tx) = progress {
                        let _ = tx
                            .send(format!(
                                "vercel deployment {id}: build log not readable ({e})"
                            ))
                            .await;
                    }
                }
            }
        };
        let what = format!("vercel deployment {id}");
        let done = follow_until_terminal(&what, options, progress, || async {
            let current = self.get_deployment(id).await;
            if current.is_ok() {
                pass_on().await;
            }
            current
        })
        .await?;
        // Lines written between the last read and the final state.
        pass_on().await;
        Ok(done)
    }

    /// Polls the project until its production domains serve `deployment_id`
    /// (after a promotion or rollback, which Vercel carries out in the
    /// background), or until Vercel reports that request failed. Returns the
    /// project as last read; the caller checks what it serves.
    pub async fn wait_for_production(
        &self,
        project: &str,
        deployment_id: &str,
        options: &FollowOptions,
        progress: Option<&mpsc::Sender<String>>,
    ) -> Result<Project, FollowError> {
        let what = format!("vercel project {project}");
        let wait = follow_until_terminal(&what, options, progress, || async {
            Ok(ProductionWait {
                project: self.get_project(project).await?,
                wanted: deployment_id.to_owned(),
            })
        })
        .await?;
        Ok(wait.project)
    }
}
