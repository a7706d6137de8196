//! DigitalOcean API client: App Platform apps and deployments, droplet status.
//!
//! Endpoints used: `GET /v2/apps` (paged with `page`/`per_page`, next page in
//! `links.pages.next`), `GET /v2/apps/{id}`, `POST /v2/apps/{id}/deployments`,
//! `GET /v2/apps/{app_id}/deployments/{deployment_id}`, `GET /v2/droplets/{id}`.

use std::fmt;

use reqwest::Url;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

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
}

impl App {
    /// The app's name from its spec.
    pub fn name(&self) -> &str {
        self.spec.get("name").and_then(|n| n.as_str()).unwrap_or("")
    }
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

#[derive(Deserialize)]
struct AppsResponse {
    #[serde(default)]
    apps: Vec<App>,
    #[serde(default)]
    links: Option<Links>,
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
        let next_page = response
            .links
            .and_then(|l| l.pages)
            .and_then(|p| p.next)
            .and_then(|n| page_number(&n));
        Ok(AppPage {
            apps: response.apps,
            next_page,
        })
    }

    /// All apps, following `links.pages.next` (at most `max_pages` pages).
    pub async fn list_all_apps(&self, per_page: u32, max_pages: u32) -> Result<Vec<App>, ApiError> {
        let mut apps = Vec::new();
        let mut page = 1;
        for _ in 0..max_pages.max(1) {
            let current = self.list_apps(page, per_page).await?;
            apps.extend(current.apps);
            match current.next_page {
                Some(next) if next > page => page = next,
                _ => break,
            }
        }
        Ok(apps)
    }

    /// Reads an app (`GET /v2/apps/{id}`).
    pub async fn get_app(&self, app_id: &str) -> Result<App, ApiError> {
        let call = Call::get("digitalocean.get_app", &["v2", "apps", app_id]);
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
}
