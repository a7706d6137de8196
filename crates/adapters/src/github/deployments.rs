//! GitHub's deployments and their statuses: what a workflow with an
//! `environment:` (or any other tool) deployed, and when it went live.
//!
//! `GET /repos/{owner}/{repo}/deployments?environment=&per_page=` lists
//! deployments newest first (`id`, `sha`, `ref`, `environment`,
//! `created_at`); `GET /repos/{owner}/{repo}/deployments/{id}/statuses`
//! lists a deployment's statuses newest first (`state`: `error`,
//! `failure`, `inactive`, `in_progress`, `queued`, `pending`, `success`;
//! `created_at`, `environment_url`, `log_url`). A deployment went live at
//! its `success` status; a later `inactive` one says a newer deployment
//! replaced it, not that it never served.

use super::{repo_call, GitHubClient, RepoName};
use crate::deployments::{newest_first, LiveDeployment};
use crate::http::ApiError;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

/// One deployment of a repository.
#[derive(Clone, Debug, Deserialize)]
pub struct GitHubDeployment {
    /// Its id.
    pub id: u64,
    /// The commit deployed.
    #[serde(default)]
    pub sha: String,
    /// The ref asked for (branch, tag or commit).
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    /// The environment deployed to (`production`, `staging`, …).
    #[serde(default)]
    pub environment: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One status of a deployment.
#[derive(Clone, Debug, Deserialize)]
pub struct DeploymentStatus {
    /// `success`, `failure`, `error`, `inactive`, `in_progress`, `queued`, `pending`.
    pub state: String,
    /// When it was set.
    pub created_at: DateTime<Utc>,
    /// The URL of the deployed environment, when set.
    #[serde(default)]
    pub environment_url: Option<String>,
    /// The URL of the deployment's output (a workflow run), when set.
    #[serde(default)]
    pub log_url: Option<String>,
}

/// Statuses read per deployment (its newest ones; the `success` one is
/// among them unless the deployment was re-marked dozens of times).
const STATUSES_PER_DEPLOYMENT: u32 = 30;

impl GitHubClient {
    /// Deployments of `repo` to `environment`, newest first (first page of
    /// `per_page`, at most 100).
    pub async fn list_deployments(
        &self,
        repo: &RepoName,
        environment: &str,
        per_page: u32,
    ) -> Result<Vec<GitHubDeployment>, ApiError> {
        let call = repo_call(
            "github.list_deployments",
            Method::GET,
            repo,
            &["deployments"],
        )
        .query("environment", environment)
        .query("per_page", per_page.clamp(1, 100));
        self.api.json(call).await
    }

    /// Statuses of deployment `id`, newest first.
    pub async fn list_deployment_statuses(
        &self,
        repo: &RepoName,
        id: u64,
    ) -> Result<Vec<DeploymentStatus>, ApiError> {
        let id = id.to_string();
        let call = repo_call(
            "github.list_deployment_statuses",
            Method::GET,
            repo,
            &["deployments", &id, "statuses"],
        )
        .query("per_page", STATUSES_PER_DEPLOYMENT);
        self.api.json(call).await
    }

    /// The deployments of `repo` to `environment` that went live (have a
    /// `success` status), newest first by that status's time; the newest
    /// `max` deployments are read, one statuses call each.
    pub async fn live_deployments(
        &self,
        repo: &RepoName,
        environment: &str,
        max: u32,
    ) -> Result<Vec<LiveDeployment>, ApiError> {
        let mut live = Vec::new();
        for d in self.list_deployments(repo, environment, max).await? {
            let statuses = self.list_deployment_statuses(repo, d.id).await?;
            // Newest first: the last `success` is the oldest, when it went live.
            let Some(success) = statuses.iter().rev().find(|s| s.state == "success") else {
                continue;
            };
            live.push(LiveDeployment {
                id: d.id.to_string(),
                url: success
                    .environment_url
                    .clone()
                    .or_else(|| success.log_url.clone())
                    .filter(|u| !u.is_empty()),
                git_ref: Some(d.git_ref).filter(|r| !r.is_empty()),
                commit: Some(d.sha).filter(|s| !s.is_empty()),
                live_at: success.created_at,
            });
        }
        newest_first(&mut live);
        Ok(live)
    }
}
