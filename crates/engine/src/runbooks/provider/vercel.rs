//! A Vercel project as a deploy provider. What production serves is read
//! from Vercel itself (the project's `targets.production`), never guessed
//! from the newest deployment: after an instant rollback the newest READY
//! deployment is the one rolled away from, and Vercel stops pointing
//! production at new deployments until one is promoted. A deployment's
//! build log is streamed as run events while it builds.

use super::{api_failure, follow_failure, Backend, DeployProvider, Deployment};
use crate::pipeline::{PhaseError, RunContext};
use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::github::RepoName;
use opsroom_adapters::vercel::{
    BuildEvent, CreateDeployment, DeploymentSummary, GitSource, ListDeployments, Project,
    ProjectDeployment, ReadyState, VercelClient,
};
use opsroom_adapters::LiveDeployment;
use opsroom_core::EventLevel;
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use tokio::sync::mpsc;

/// Deployments read per page of the history.
const HISTORY_PAGE: u32 = 20;

/// Deployments read for [`Backend::went_live`].
const LIVE_LIST_MAX: usize = 50;

/// Build log lines quoted in the error of a failed build.
const FAILING_LINES: usize = 5;

/// The project an env deploys to.
pub(super) struct VercelProject {
    pub(super) client: VercelClient,
    pub(super) project: String,
    pub(super) repo: RepoName,
    pub(super) default_ref: String,
    pub(super) target: Option<String>,
    pub(super) follow: FollowOptions,
}

/// The git ref a deployment was built from, from its metadata.
fn git_ref_of(meta: &Map<String, Value>) -> Option<String> {
    ["githubCommitRef", "githubCommitSha"]
        .iter()
        .find_map(|k| meta.get(*k).and_then(Value::as_str))
        .map(String::from)
}

fn https(url: Option<String>) -> Option<String> {
    url.map(|u| format!("https://{u}"))
}

/// The commit a deployment was built from, from its metadata.
fn commit_of(meta: &Map<String, Value>) -> Option<String> {
    meta.get("githubCommitSha")
        .and_then(Value::as_str)
        .map(String::from)
}

fn from_project(d: &ProjectDeployment) -> Deployment {
    Deployment {
        id: d.id.clone(),
        url: https(d.url.clone()),
        git_ref: git_ref_of(&d.meta),
        commit: commit_of(&d.meta),
    }
}

fn from_summary(d: DeploymentSummary) -> Deployment {
    Deployment {
        git_ref: git_ref_of(&d.meta),
        commit: commit_of(&d.meta),
        url: https(d.url),
        id: d.uid,
    }
}

impl VercelProject {
    /// Whether the env deploys to production, the target whose domains
    /// Vercel tracks (`targets.production`).
    fn is_production(&self) -> bool {
        self.target.as_deref() == Some("production")
    }

    /// The project, refusing while Vercel is still moving its production
    /// domains (a rollback or promotion in progress): what is live is
    /// about to change.
    async fn project(&self, p: &DeployProvider) -> Result<Project, PhaseError> {
        let project = self
            .client
            .get_project(&self.project)
            .await
            .map_err(|e| api_failure(&p.credential, "reading the project", &e))?;
        if let Some(request) = project.alias_request_in_progress() {
            return Err(PhaseError::retryable(format!(
                "vercel is still moving production of {} ({} to {}, {}); try again once it is done",
                self.project,
                request.kind,
                request.to_deployment_id.as_deref().unwrap_or("?"),
                request.job_status
            )));
        }
        Ok(project)
    }

    /// What production serves now, as Vercel says; for other targets, the
    /// newest READY deployment.
    async fn live(&self, p: &DeployProvider) -> Result<Option<Deployment>, PhaseError> {
        if !self.is_production() {
            return Ok(self
                .ready(p, None)
                .await?
                .into_iter()
                .next()
                .map(from_summary));
        }
        Ok(self.project(p).await?.production().map(from_project))
    }

    /// READY deployments of the env's target, newest first, created before
    /// `until` (ms) when given.
    async fn ready(
        &self,
        p: &DeployProvider,
        until: Option<i64>,
    ) -> Result<Vec<DeploymentSummary>, PhaseError> {
        let query = ListDeployments {
            project_id: Some(self.project.clone()),
            target: self.target.clone(),
            state: Some("READY".into()),
            limit: Some(HISTORY_PAGE),
            until,
        };
        let list = self
            .client
            .list_all_deployments(&query, HISTORY_PAGE as usize)
            .await
            .map_err(|e| api_failure(&p.credential, "listing deployments", &e))?;
        Ok(list
            .into_iter()
            .filter(|d| d.status().is_none_or(|s| *s == ReadyState::Ready))
            .collect())
    }

    /// Makes sure production serves `deployment_id`, a production
    /// deployment that just became READY: promotes it when Vercel did not
    /// point production at it (as after an instant rollback).
    async fn make_live(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        deployment_id: &str,
    ) -> Result<(), PhaseError> {
        let project = self.project(p).await?;
        let serving = project.production().map(|d| d.id.clone());
        if serving.as_deref() == Some(deployment_id) {
            return Ok(());
        }
        p.log(
            ctx,
            format!(
                "production of {} still serves {}: Vercel does not point production at new deployments after a rollback until one is promoted; promoting {deployment_id}",
                self.project,
                serving.as_deref().unwrap_or("nothing")
            ),
        );
        self.client
            .promote(&self.project, deployment_id)
            .await
            .map_err(|e| {
                api_failure(
                    &p.credential,
                    "vercel refused to promote the deployment",
                    &e,
                )
            })?;
        self.wait_until_serving(p, ctx, deployment_id, "promotion")
            .await
    }

    /// Follows the project until production serves `deployment_id`.
    async fn wait_until_serving(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        deployment_id: &str,
        what: &str,
    ) -> Result<(), PhaseError> {
        let (tx, mut rx) = mpsc::channel(64);
        let project = p
            .streamed(
                ctx,
                &mut rx,
                self.client.wait_for_production(
                    &self.project,
                    deployment_id,
                    &self.follow,
                    Some(&tx),
                ),
                String::clone,
            )
            .await
            .map_err(|e| follow_failure(&p.credential, &e))?;
        match project.production() {
            Some(live) if live.id == deployment_id => Ok(()),
            live => Err(PhaseError::permanent(format!(
                "vercel did not complete the {what}: production of {} serves {} instead of {deployment_id}{}",
                self.project,
                live.map_or("nothing", |d| d.id.as_str()),
                project
                    .last_alias_request
                    .as_ref()
                    .map(|r| format!(" ({} {})", r.kind, r.job_status))
                    .unwrap_or_default()
            ))),
        }
    }
}

/// The last lines of a build, its error lines first, for the error of a
/// failed deployment.
#[derive(Default)]
struct FailingLines {
    errors: VecDeque<String>,
    any: VecDeque<String>,
}

impl FailingLines {
    fn push(&mut self, line: &BuildEvent) {
        let text = line.text().trim_end().to_string();
        let keep = |lines: &mut VecDeque<String>| {
            if lines.len() == FAILING_LINES {
                lines.pop_front();
            }
            lines.push_back(text.clone());
        };
        if line.is_error() {
            keep(&mut self.errors);
        }
        keep(&mut self.any);
    }

    /// `; last build lines: a | b` or nothing when the build wrote none.
    fn describe(&self) -> String {
        let lines = if self.errors.is_empty() {
            &self.any
        } else {
            &self.errors
        };
        if lines.is_empty() {
            return String::new();
        }
        let joined: Vec<&str> = lines.iter().map(String::as_str).collect();
        format!("; last build lines: {}", joined.join(" | "))
    }
}

/// Writes one build log line as a run event.
fn build_line(
    p: &DeployProvider,
    ctx: &mut RunContext,
    deployment_id: &str,
    line: &BuildEvent,
    failing: &mut FailingLines,
) {
    let text = line.text().trim_end();
    if text.is_empty() {
        return;
    }
    failing.push(line);
    let level = if line.is_error() {
        EventLevel::Warn
    } else {
        EventLevel::Info
    };
    ctx.log_data(
        level,
        text,
        json!({"kind": "build_log", "provider": p.name(), "deployment": deployment_id, "stream": line.kind}),
    );
}

#[async_trait::async_trait]
impl Backend for VercelProject {
    fn name(&self) -> &'static str {
        "vercel"
    }

    fn default_ref(&self) -> String {
        self.default_ref.clone()
    }

    async fn current(
        &self,
        p: &DeployProvider,
        _ctx: &RunContext,
    ) -> Result<Option<Deployment>, PhaseError> {
        self.live(p).await
    }

    /// READY deployments, newest first, always reaching back to the one
    /// production serves (even when newer ones fill the first page).
    async fn history(
        &self,
        p: &DeployProvider,
        _ctx: &RunContext,
    ) -> Result<Vec<Deployment>, PhaseError> {
        let mut list = self.ready(p, None).await?;
        if self.is_production() {
            let project = self.project(p).await?;
            if let Some(live) = project.production() {
                if !list.iter().any(|d| d.uid == live.id) {
                    if let Some(created) = live.created_at {
                        let older = self.ready(p, Some(created + 1)).await?;
                        for d in older {
                            if !list.iter().any(|known| known.uid == d.uid) {
                                list.push(d);
                            }
                        }
                    }
                }
            }
        }
        list.sort_by_key(|d| std::cmp::Reverse(d.created));
        Ok(list.into_iter().map(from_summary).collect())
    }

    /// The project's READY deployments of the env's target, by their
    /// `ready` time: git pushes and CLI deploys as well as opsroom's.
    async fn went_live(
        &self,
        p: &DeployProvider,
    ) -> Result<Option<Vec<LiveDeployment>>, PhaseError> {
        self.client
            .live_deployments(&self.project, self.target.as_deref(), LIVE_LIST_MAX)
            .await
            .map(Some)
            .map_err(|e| api_failure(&p.credential, "listing deployments", &e))
    }

    /// Builds `git_ref`, streaming the build's status and log, and makes
    /// sure production serves it: Vercel does that by itself, except after
    /// a rollback, when it waits for a promotion.
    async fn deploy(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        git_ref: Option<&str>,
    ) -> Result<Deployment, PhaseError> {
        let git_ref = git_ref.unwrap_or(&self.default_ref);
        let started = self
            .client
            .create_deployment(&CreateDeployment {
                name: self.project.clone(),
                project: Some(self.project.clone()),
                target: self.target.clone(),
                git_source: GitSource::GitHub {
                    org: self.repo.owner.clone(),
                    repo: self.repo.name.clone(),
                    git_ref: git_ref.to_string(),
                    sha: None,
                },
            })
            .await
            .map_err(|e| api_failure(&p.credential, "vercel refused the deployment", &e))?;
        p.log(ctx, format!("vercel deployment {} created", started.id));
        let (status_tx, mut status_rx) = mpsc::channel(64);
        let (log_tx, mut log_rx) = mpsc::channel(256);
        let mut failing = FailingLines::default();
        let work = self.client.follow_deployment_with_build_log(
            &started.id,
            &self.follow,
            Some(&status_tx),
            &log_tx,
        );
        tokio::pin!(work);
        let done = loop {
            tokio::select! {
                biased;
                Some(status) = status_rx.recv() => {
                    p.log(ctx, status);
                    ctx.flush().await;
                }
                Some(line) = log_rx.recv() => {
                    build_line(p, ctx, &started.id, &line, &mut failing);
                    ctx.flush_if_due().await;
                }
                out = &mut work => {
                    while let Ok(status) = status_rx.try_recv() {
                        p.log(ctx, status);
                    }
                    while let Ok(line) = log_rx.try_recv() {
                        build_line(p, ctx, &started.id, &line, &mut failing);
                    }
                    ctx.flush().await;
                    break out;
                }
            }
        }
        .map_err(|e| follow_failure(&p.credential, &e))?;
        if done.ready_state != ReadyState::Ready {
            let reason = match &done.error_message {
                Some(m) => format!("{}: {m}", done.ready_state),
                None => done.ready_state.to_string(),
            };
            return Err(PhaseError::permanent(format!(
                "vercel deployment {} ended {reason}{}",
                done.id,
                failing.describe()
            )));
        }
        if self.is_production() {
            self.make_live(p, ctx, &done.id).await?;
        }
        Ok(Deployment {
            url: https(done.url).or(done.inspector_url),
            id: done.id,
            git_ref: Some(git_ref.to_string()),
            commit: None,
        })
    }

    /// Points production back at `to` with Vercel's instant rollback,
    /// refusing when production serves it already.
    async fn restore(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        to: &Deployment,
    ) -> Result<Deployment, PhaseError> {
        if self.is_production() {
            if let Some(live) = self.live(p).await? {
                if live.id == to.id {
                    return Err(PhaseError::permanent(format!(
                        "production of {} already serves {}; there is nothing to roll back",
                        self.project,
                        to.label()
                    )));
                }
            }
        }
        self.client
            .rollback(&self.project, &to.id, Some("opsroom rollback"))
            .await
            .map_err(|e| api_failure(&p.credential, "vercel refused the rollback", &e))?;
        p.log(
            ctx,
            format!("vercel rolls {} back to {}", self.project, to.label()),
        );
        if self.is_production() {
            self.wait_until_serving(p, ctx, &to.id, "rollback").await?;
        }
        let restored = self
            .client
            .get_deployment(&to.id)
            .await
            .map_err(|e| api_failure(&p.credential, "reading the restored deployment", &e))?;
        if restored.ready_state != ReadyState::Ready {
            return Err(PhaseError::permanent(format!(
                "deployment {} is {} after the rollback",
                to.id, restored.ready_state
            )));
        }
        Ok(to.clone())
    }
}
