//! DigitalOcean API client: App Platform apps and deployments, droplet status.
//!
//! Endpoints used: `GET /v2/apps` and `GET /v2/apps/{id}/deployments` (paged
//! with `page`/`per_page`, next page in `links.pages.next`),
//! `GET /v2/apps/{id}`, `PUT /v2/apps/{id}` (a new spec),
//! `POST /v2/apps/{id}/deployments`,
//! `GET /v2/apps/{app_id}/deployments/{deployment_id}`,
//! `POST /v2/apps/{id}/rollback`, `POST /v2/apps/{id}/rollback/commit`,
//! `GET /v2/droplets/{id}`.

use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};

use reqwest::Url;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::deployments::{newest_first, LiveDeployment};
use crate::follow::{follow_until_terminal, FollowError, FollowOptions, Observed};
use crate::http::{ApiClient, ApiError, Call, HttpOptions};
use crate::secret::Secret;

/// The public DigitalOcean API.
pub const DEFAULT_BASE_URL: &str = "https://api.digitalocean.com";

/// How to reach DigitalOcean.
#[derive(Clone, Debug)]
pub struct DigitalOceanConfig {
    /// API root, [`DEFAULT_BASE_URL`] unless testing.
    pub base_url: String,
    /// A personal access token.
    pub token: Secret,
    /// Timeouts and retries.
    pub http: HttpOptions,
}

impl DigitalOceanConfig {
    /// Configuration for the public API with default transport settings.
    pub fn new(token: Secret) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token,
            http: HttpOptions::default(),
        }
    }
}

/// An App Platform app.
#[derive(Clone, Debug, Deserialize)]
pub struct App {
    /// App id.
    pub id: String,
    /// The app spec (its `name` is the app's name).
    #[serde(default)]
    pub spec: serde_json::Value,
    /// Public URL of the live deployment.
    #[serde(default)]
    pub live_url: Option<String>,
    /// The deployment serving traffic.
    #[serde(default)]
    pub active_deployment: Option<AppDeployment>,
    /// A deployment being rolled out.
    #[serde(default)]
    pub in_progress_deployment: Option<AppDeployment>,
    /// A deployment waiting to be rolled out.
    #[serde(default)]
    pub pending_deployment: Option<AppDeployment>,
}

impl App {
    /// The app's name from its spec.
    pub fn name(&self) -> &str {
        self.spec.get("name").and_then(|n| n.as_str()).unwrap_or("")
    }

    /// Where each component of the app's spec gets its code, in spec order.
    pub fn component_sources(&self) -> Vec<ComponentSource> {
        let mut out = Vec::new();
        for list in COMPONENT_LISTS {
            let Some(components) = self.spec.get(list).and_then(|c| c.as_array()) else {
                continue;
            };
            for component in components {
                let name = component["name"].as_str().unwrap_or_default().to_owned();
                let git = GIT_SOURCES
                    .iter()
                    .find_map(|kind| component.get(*kind).map(|source| (*kind, source)));
                let source = match git {
                    Some((kind, source)) => ComponentSource {
                        component: name,
                        kind: kind.to_owned(),
                        repo: source["repo"]
                            .as_str()
                            .or(source["repo_clone_url"].as_str())
                            .map(str::to_owned),
                        branch: source["branch"].as_str().map(str::to_owned),
                    },
                    None => ComponentSource {
                        component: name,
                        kind: if component.get("image").is_some() {
                            "image".to_owned()
                        } else {
                            "none".to_owned()
                        },
                        repo: component["image"]["repository"].as_str().map(str::to_owned),
                        branch: None,
                    },
                };
                out.push(source);
            }
        }
        out
    }
}

/// The lists of components an app spec has.
const COMPONENT_LISTS: [&str; 5] = ["services", "static_sites", "workers", "jobs", "functions"];

/// The component sources that build from a git branch.
const GIT_SOURCES: [&str; 4] = ["github", "gitlab", "bitbucket", "git"];

/// Where one component of an app spec gets its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentSource {
    /// The component's name.
    pub component: String,
    /// `github`, `gitlab`, `bitbucket` or `git` (built from a branch),
    /// `image` (a container image), or `none`.
    pub kind: String,
    /// The repository (`owner/name`, a clone URL, or an image repository).
    pub repo: Option<String>,
    /// The branch it builds, for git sources.
    pub branch: Option<String>,
}

impl ComponentSource {
    /// Whether it builds from a git branch.
    pub fn is_git(&self) -> bool {
        GIT_SOURCES.contains(&self.kind.as_str())
    }
}

/// `spec` with every git-sourced component building `branch`.
pub fn spec_with_branch(spec: &serde_json::Value, branch: &str) -> serde_json::Value {
    let mut spec = spec.clone();
    for list in COMPONENT_LISTS {
        let Some(components) = spec.get_mut(list).and_then(|c| c.as_array_mut()) else {
            continue;
        };
        for component in components {
            for kind in GIT_SOURCES {
                if let Some(source) = component.get_mut(kind).and_then(|s| s.as_object_mut()) {
                    source.insert("branch".to_owned(), json!(branch));
                }
            }
        }
    }
    spec
}

/// A deployment's phase.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum DeploymentPhase {
    /// Waiting to build.
    PendingBuild,
    /// Building.
    Building,
    /// Waiting to deploy.
    PendingDeploy,
    /// Rolling out.
    Deploying,
    /// Live.
    Active,
    /// Replaced by a newer deployment.
    Superseded,
    /// Failed.
    Error,
    /// Cancelled.
    Canceled,
    /// A phase this client does not know (`UNKNOWN` included).
    Other(String),
}

impl From<String> for DeploymentPhase {
    fn from(s: String) -> Self {
        match s.as_str() {
            "PENDING_BUILD" => Self::PendingBuild,
            "BUILDING" => Self::Building,
            "PENDING_DEPLOY" => Self::PendingDeploy,
            "DEPLOYING" => Self::Deploying,
            "ACTIVE" => Self::Active,
            "SUPERSEDED" => Self::Superseded,
            "ERROR" => Self::Error,
            "CANCELED" => Self::Canceled,
            _ => Self::Other(s),
        }
    }
}

impl fmt::Display for DeploymentPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PendingBuild => "PENDING_BUILD",
            Self::Building => "BUILDING",
            Self::PendingDeploy => "PENDING_DEPLOY",
            Self::Deploying => "DEPLOYING",
            Self::Active => "ACTIVE",
            Self::Superseded => "SUPERSEDED",
            Self::Error => "ERROR",
            Self::Canceled => "CANCELED",
            Self::Other(s) => s,
        })
    }
}

/// Progress counters of a deployment.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DeploymentProgress {
    /// Steps done.
    #[serde(default)]
    pub success_steps: u32,
    /// Steps in all.
    #[serde(default)]
    pub total_steps: u32,
    /// Steps failed.
    #[serde(default)]
    pub error_steps: u32,
    /// The steps (build, deploy, …), with when each ended.
    #[serde(default)]
    pub steps: Vec<DeploymentStep>,
}

/// One step of a deployment's progress.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DeploymentStep {
    /// The step's name (`build`, `deploy`, …).
    #[serde(default)]
    pub name: String,
    /// `SUCCESS`, `ERROR`, `RUNNING`, …
    #[serde(default)]
    pub status: String,
    /// When it ended.
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
}

/// One component (service, static site, worker or job) of a deployment.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DeploymentComponent {
    /// The component's name in the app spec.
    #[serde(default)]
    pub name: String,
    /// The commit it was built from (git-sourced components only).
    #[serde(default)]
    pub source_commit_hash: Option<String>,
}

/// An App Platform deployment.
#[derive(Clone, Debug, Deserialize)]
pub struct AppDeployment {
    /// Deployment id.
    pub id: String,
    /// Its phase.
    pub phase: DeploymentPhase,
    /// What caused it.
    #[serde(default)]
    pub cause: Option<String>,
    /// Step counters.
    #[serde(default)]
    pub progress: Option<DeploymentProgress>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// When its phase last changed (for the `ACTIVE` one: when it went live).
    #[serde(default)]
    pub phase_last_updated_at: Option<DateTime<Utc>>,
    /// When it last changed.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Its services.
    #[serde(default)]
    pub services: Vec<DeploymentComponent>,
    /// Its static sites.
    #[serde(default)]
    pub static_sites: Vec<DeploymentComponent>,
    /// Its workers.
    #[serde(default)]
    pub workers: Vec<DeploymentComponent>,
    /// Its jobs.
    #[serde(default)]
    pub jobs: Vec<DeploymentComponent>,
}

impl AppDeployment {
    /// Whether it ever served the app: `ACTIVE` now, or `SUPERSEDED` after
    /// finishing every step. A deployment replaced before it finished is
    /// also `SUPERSEDED`, so the step counters tell the two apart.
    pub fn went_live(&self) -> bool {
        match self.phase {
            DeploymentPhase::Active => true,
            DeploymentPhase::Superseded => self.progress.as_ref().is_some_and(|p| {
                p.total_steps > 0 && p.success_steps >= p.total_steps && p.error_steps == 0
            }),
            _ => false,
        }
    }

    /// When it went live, for one that did ([`Self::went_live`]): the
    /// end of its last step, else for the `ACTIVE` one the time its phase
    /// became `ACTIVE`. A `SUPERSEDED` one's phase time is when it was
    /// replaced, so that one needs its steps.
    pub fn live_at(&self) -> Option<DateTime<Utc>> {
        if !self.went_live() {
            return None;
        }
        let steps_ended = self
            .progress
            .as_ref()
            .and_then(|p| p.steps.iter().filter_map(|s| s.ended_at).max());
        match self.phase {
            DeploymentPhase::Active => steps_ended
                .or(self.phase_last_updated_at)
                .or(self.updated_at),
            _ => steps_ended,
        }
    }

    /// As a deployment that went live ([`Self::live_at`]) of app `app_id`,
    /// its page in DigitalOcean's control panel as its URL.
    pub fn to_live(&self, app_id: &str) -> Option<LiveDeployment> {
        Some(LiveDeployment {
            id: self.id.clone(),
            url: Some(format!(
                "https://cloud.digitalocean.com/apps/{app_id}/deployments/{}",
                self.id
            )),
            git_ref: None,
            commit: self.source_commit().map(String::from),
            live_at: self.live_at()?,
        })
    }

    /// The commit its first git-sourced component was built from.
    pub fn source_commit(&self) -> Option<&str> {
        [
            &self.services,
            &self.static_sites,
            &self.workers,
            &self.jobs,
        ]
        .into_iter()
        .flatten()
        .find_map(|c| c.source_commit_hash.as_deref().filter(|h| !h.is_empty()))
    }
}

impl Observed for AppDeployment {
    fn status_label(&self) -> String {
        match &self.progress {
            Some(p) if p.total_steps > 0 => {
                format!(
                    "{} ({}/{} steps)",
                    self.phase, p.success_steps, p.total_steps
                )
            }
            _ => self.phase.to_string(),
        }
    }
    fn is_terminal(&self) -> bool {
        matches!(
            self.phase,
            DeploymentPhase::Active
                | DeploymentPhase::Error
                | DeploymentPhase::Canceled
                | DeploymentPhase::Superseded
        )
    }
}

/// A droplet's identity and state.
#[derive(Clone, Debug, Deserialize)]
pub struct Droplet {
    /// Droplet id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `new`, `active`, `off` or `archive`.
    pub status: String,
    /// Memory in MiB.
    #[serde(default)]
    pub memory: u64,
    /// Virtual CPUs.
    #[serde(default)]
    pub vcpus: u32,
}

/// One page of apps.
#[derive(Clone, Debug)]
pub struct AppPage {
    /// The apps of this page.
    pub apps: Vec<App>,
    /// The next page number, from `links.pages.next`.
    pub next_page: Option<u32>,
}

/// One page of an app's deployments, newest first.
#[derive(Clone, Debug)]
pub struct DeploymentPage {
    /// The deployments of this page.
    pub deployments: Vec<AppDeployment>,
    /// The next page number, from `links.pages.next`.
    pub next_page: Option<u32>,
    /// How many deployments the app has in all (`meta.total`).
    pub total: Option<u64>,
}

#[derive(Deserialize)]
struct AppsResponse {
    #[serde(default)]
    apps: Vec<App>,
    #[serde(default)]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct DeploymentsResponse {
    #[serde(default)]
    deployments: Vec<AppDeployment>,
    #[serde(default)]
    links: Option<Links>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    pages: Option<Pages>,
}

#[derive(Deserialize)]
struct Pages {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct AppResponse {
    app: App,
}

#[derive(Deserialize)]
struct DeploymentResponse {
    deployment: AppDeployment,
}

#[derive(Deserialize)]
struct DropletResponse {
    droplet: Droplet,
}

/// The page number of a `links.pages.next` URL. Only the number is kept: the
/// next request goes to the configured base URL, so the token is never sent
/// to a host named in a response.
fn page_number(next: &str) -> Option<u32> {
    let url = Url::parse(next).ok()?;
    let page = url.query_pairs().find(|(k, _)| k == "page")?.1;
    page.parse().ok()
}

/// The next page number named in a response's `links`.
fn next_page(links: Option<Links>) -> Option<u32> {
    links
        .and_then(|l| l.pages)
        .and_then(|p| p.next)
        .and_then(|n| page_number(&n))
}

/// Fetches page 1, then each next page `fetch` reports, at most `max_pages`
/// pages, and returns their items in order.
async fn collect_pages<T, F, Fut>(max_pages: u32, mut fetch: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<u32>), ApiError>>,
{
    let mut items = Vec::new();
    let mut page = 1;
    for _ in 0..max_pages.max(1) {
        let (current, next) = fetch(page).await?;
        items.extend(current);
        match next {
            Some(next) if next > page => page = next,
            _ => break,
        }
    }
    Ok(items)
}

/// A DigitalOcean API client.
#[derive(Clone, Debug)]
pub struct DigitalOceanClient {
    api: ApiClient,
}

impl DigitalOceanClient {
    /// Builds a client; fails on an invalid base URL or an empty token.
    pub fn new(config: DigitalOceanConfig) -> Result<Self, ApiError> {
        let api = ApiClient::new(
            "digitalocean",
            &config.base_url,
            config.token,
            config.http,
            &[],
        )?;
        Ok(Self { api })
    }

    /// One page of apps (`GET /v2/apps?page=&per_page=`).
    pub async fn list_apps(&self, page: u32, per_page: u32) -> Result<AppPage, ApiError> {
        let call = Call::get("digitalocean.list_apps", &["v2", "apps"])
            .query("page", page)
            .query("per_page", per_page);
        let response: AppsResponse = self.api.json(call).await?;
        Ok(AppPage {
            apps: response.apps,
            next_page: next_page(response.links),
        })
    }

    /// All apps, following `links.pages.next` (at most `max_pages` pages).
    pub async fn list_all_apps(&self, per_page: u32, max_pages: u32) -> Result<Vec<App>, ApiError> {
        collect_pages(max_pages, |page| async move {
            let current = self.list_apps(page, per_page).await?;
            Ok((current.apps, current.next_page))
        })
        .await
    }

    /// Reads an app (`GET /v2/apps/{id}`).
    pub async fn get_app(&self, app_id: &str) -> Result<App, ApiError> {
        let call = Call::get("digitalocean.get_app", &["v2", "apps", app_id]);
        Ok(self.api.json::<AppResponse>(call).await?.app)
    }

    /// Replaces the app's spec (`PUT /v2/apps/{id}`) and returns the app as
    /// updated. With `update_all_source_versions` every component's source
    /// is read again (the newest commit of its branch); without it only new
    /// sources are. App Platform rolls a changed spec out by itself; the
    /// returned app names that deployment (`in_progress_deployment` or
    /// `pending_deployment`) when it started one.
    pub async fn update_app(
        &self,
        app_id: &str,
        spec: &serde_json::Value,
        update_all_source_versions: bool,
    ) -> Result<App, ApiError> {
        let call = Call::new(
            "digitalocean.update_app",
            reqwest::Method::PUT,
            &["v2", "apps", app_id],
        )
        .json(json!({"spec": spec, "update_all_source_versions": update_all_source_versions}));
        Ok(self.api.json::<AppResponse>(call).await?.app)
    }

    /// Starts a deployment of the app's current spec
    /// (`POST /v2/apps/{id}/deployments`).
    pub async fn create_deployment(
        &self,
        app_id: &str,
        force_build: bool,
    ) -> Result<AppDeployment, ApiError> {
        let call = Call::post(
            "digitalocean.create_deployment",
            &["v2", "apps", app_id, "deployments"],
        )
        .json(json!({"force_build": force_build}));
        Ok(self.api.json::<DeploymentResponse>(call).await?.deployment)
    }

    /// Reads a deployment (`GET /v2/apps/{app_id}/deployments/{deployment_id}`).
    pub async fn get_deployment(
        &self,
        app_id: &str,
        deployment_id: &str,
    ) -> Result<AppDeployment, ApiError> {
        let call = Call::get(
            "digitalocean.get_deployment",
            &["v2", "apps", app_id, "deployments", deployment_id],
        );
        Ok(self.api.json::<DeploymentResponse>(call).await?.deployment)
    }

    /// One page of an app's deployments, newest first
    /// (`GET /v2/apps/{id}/deployments?page=&per_page=`).
    pub async fn list_deployments(
        &self,
        app_id: &str,
        page: u32,
        per_page: u32,
    ) -> Result<DeploymentPage, ApiError> {
        let call = Call::get(
            "digitalocean.list_deployments",
            &["v2", "apps", app_id, "deployments"],
        )
        .query("page", page)
        .query("per_page", per_page);
        let response: DeploymentsResponse = self.api.json(call).await?;
        Ok(DeploymentPage {
            deployments: response.deployments,
            next_page: next_page(response.links),
            total: response.meta.and_then(|m| m.total),
        })
    }

    /// An app's deployments, newest first, following `links.pages.next`
    /// (at most `max_pages` pages).
    pub async fn list_all_deployments(
        &self,
        app_id: &str,
        per_page: u32,
        max_pages: u32,
    ) -> Result<Vec<AppDeployment>, ApiError> {
        collect_pages(max_pages, |page| async move {
            let current = self.list_deployments(app_id, page, per_page).await?;
            Ok((current.deployments, current.next_page))
        })
        .await
    }

    /// The app's deployments that went live, newest first by the time they
    /// did ([`AppDeployment::live_at`]), from at most `max_pages` pages.
    pub async fn live_deployments(
        &self,
        app_id: &str,
        per_page: u32,
        max_pages: u32,
    ) -> Result<Vec<LiveDeployment>, ApiError> {
        let mut live: Vec<LiveDeployment> = self
            .list_all_deployments(app_id, per_page, max_pages)
            .await?
            .iter()
            .filter_map(|d| d.to_live(app_id))
            .collect();
        newest_first(&mut live);
        Ok(live)
    }

    /// Rolls the app back to an earlier deployment
    /// (`POST /v2/apps/{id}/rollback`). DigitalOcean makes a new deployment
    /// of the earlier one's code and spec; it is returned, to be followed
    /// with [`Self::follow_deployment`]. With `skip_pin` the rollback is
    /// committed at once; without it the app is pinned (no new deployments,
    /// auto-deploy included) until [`Self::commit_rollback`] or a revert.
    pub async fn rollback(
        &self,
        app_id: &str,
        deployment_id: &str,
        skip_pin: bool,
    ) -> Result<AppDeployment, ApiError> {
        const NAME: &str = "digitalocean.rollback";
        if deployment_id.trim().is_empty() {
            return Err(ApiError::InvalidInput {
                call: NAME,
                message: "the deployment id to roll back to is empty; give the id of an earlier deployment of the app".to_owned(),
            });
        }
        let call = Call::post(NAME, &["v2", "apps", app_id, "rollback"])
            .json(json!({"deployment_id": deployment_id, "skip_pin": skip_pin}));
        Ok(self.api.json::<DeploymentResponse>(call).await?.deployment)
    }

    /// Makes a pinned rollback permanent and unpins the app
    /// (`POST /v2/apps/{id}/rollback/commit`).
    pub async fn commit_rollback(&self, app_id: &str) -> Result<(), ApiError> {
        let call = Call::post(
            "digitalocean.commit_rollback",
            &["v2", "apps", app_id, "rollback", "commit"],
        );
        self.api.no_content(call).await
    }

    /// Polls a deployment until `ACTIVE`, `ERROR`, `CANCELED` or `SUPERSEDED`,
    /// sending each phase change to `progress`.
    pub async fn follow_deployment(
        &self,
        app_id: &str,
        deployment_id: &str,
        options: &FollowOptions,
        progress: Option<&mpsc::Sender<String>>,
    ) -> Result<AppDeployment, FollowError> {
        let what = format!("digitalocean app {app_id} deployment {deployment_id}");
        follow_until_terminal(&what, options, progress, || {
            self.get_deployment(app_id, deployment_id)
        })
        .await
    }

    /// Reads a droplet's status (`GET /v2/droplets/{id}`).
    pub async fn get_droplet(&self, droplet_id: u64) -> Result<Droplet, ApiError> {
        let id = droplet_id.to_string();
        let call = Call::get("digitalocean.get_droplet", &["v2", "droplets", &id]);
        Ok(self.api.json::<DropletResponse>(call).await?.droplet)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_page_number_from_link() {
        assert_eq!(
            super::page_number("https://api.digitalocean.com/v2/apps?page=3&per_page=20"),
            Some(3)
        );
        assert_eq!(super::page_number("not a url"), None);
    }

    fn deployment(value: serde_json::Value) -> super::AppDeployment {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_finished_superseded_deployments_went_live() {
        let steps = |done: u32, errors: u32| serde_json::json!({"success_steps": done, "total_steps": 6, "error_steps": errors});
        let live = |phase: &str, progress| {
            deployment(serde_json::json!({"id": "d", "phase": phase, "progress": progress}))
                .went_live()
        };
        assert!(live("ACTIVE", serde_json::Value::Null));
        assert!(live("SUPERSEDED", steps(6, 0)));
        assert!(!live("SUPERSEDED", steps(2, 0)), "replaced while building");
        assert!(!live("SUPERSEDED", serde_json::Value::Null));
        assert!(!live("ERROR", steps(5, 1)));
        assert!(!live("CANCELED", steps(6, 0)));
    }

    #[test]
    fn component_sources_and_branch_changes_cover_every_git_kind() {
        let spec = serde_json::json!({"name": "shop",
            "services": [{"name": "api", "gitlab": {"repo": "acme/shop", "branch": "main"}}],
            "static_sites": [{"name": "web", "git": {"repo_clone_url": "https://git.example/shop.git", "branch": "main"}}],
            "workers": [{"name": "queue", "image": {"registry_type": "DOCR", "repository": "queue", "tag": "v1"}}],
            "jobs": [{"name": "migrate", "bitbucket": {"repo": "acme/shop", "branch": "dev"}}]});
        let app = |spec| super::App {
            id: "a".into(),
            spec,
            live_url: None,
            active_deployment: None,
            in_progress_deployment: None,
            pending_deployment: None,
        };
        let sources = app(spec.clone()).component_sources();
        let summary: Vec<(&str, &str, Option<&str>, bool)> = sources
            .iter()
            .map(|s| {
                (
                    s.component.as_str(),
                    s.kind.as_str(),
                    s.branch.as_deref(),
                    s.is_git(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("api", "gitlab", Some("main"), true),
                ("web", "git", Some("main"), true),
                ("queue", "image", None, false),
                ("migrate", "bitbucket", Some("dev"), true),
            ]
        );
        assert_eq!(
            sources[1].repo.as_deref(),
            Some("https://git.example/shop.git")
        );
        let moved = super::spec_with_branch(&spec, "release-2");
        let branches: Vec<Option<String>> = app(moved.clone())
            .component_sources()
            .into_iter()
            .map(|s| s.branch)
            .collect();
        let release = Some("release-2".to_string());
        assert_eq!(branches, [release.clone(), release.clone(), None, release]);
        assert_eq!(moved["workers"], spec["workers"], "images are left alone");
        assert_eq!(moved["services"][0]["gitlab"]["repo"], "acme/shop");
    }

    #[test]
    fn source_commit_of_the_first_git_component() {
        let d = deployment(serde_json::json!({"id": "d", "phase": "ACTIVE",
            "services": [{"name": "db-proxy"}],
            "static_sites": [{"name": "web", "source_commit_hash": "9a4df0b"}]}));
        assert_eq!(d.source_commit(), Some("9a4df0b"));
        let none = deployment(serde_json::json!({"id": "d", "phase": "ACTIVE"}));
        assert_eq!(none.source_commit(), None);
    }
}
