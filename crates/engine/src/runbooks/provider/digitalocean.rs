//! A DigitalOcean App Platform app as a deploy provider: a deployment of the
//! app's spec (pointed at the branch a run names, when its sources are git
//! branches), the app's deployments that went live, and DigitalOcean's own
//! rollback to one of them. Each is followed phase by phase, every phase
//! change written as a run event at once.

use super::{api_failure, follow_failure, looks_like_commit, Backend, DeployProvider, Deployment};
use crate::pipeline::{PhaseError, RunContext};
use opsroom_adapters::digitalocean::{
    spec_with_branch, AppDeployment, ComponentSource, DeploymentPhase, DigitalOceanClient,
};
use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::LiveDeployment;
use tokio::sync::mpsc;

/// Deployments read per page, and pages read at most, for the history.
const HISTORY_PER_PAGE: u32 = 20;
const HISTORY_MAX_PAGES: u32 = 5;

/// The app an env deploys to.
pub(super) struct DigitalOceanApp {
    pub(super) client: DigitalOceanClient,
    pub(super) app_id: String,
    pub(super) force_build: bool,
    pub(super) follow: FollowOptions,
}

impl DigitalOceanApp {
    /// The deployment serving the app now.
    async fn live(&self, p: &DeployProvider) -> Result<Option<Deployment>, PhaseError> {
        let app = self
            .client
            .get_app(&self.app_id)
            .await
            .map_err(|e| api_failure(&p.credential, "reading the app", &e))?;
        Ok(app
            .active_deployment
            .map(|d| recorded(d, app.live_url.clone())))
    }

    async fn create_deployment(&self, p: &DeployProvider) -> Result<AppDeployment, PhaseError> {
        self.client
            .create_deployment(&self.app_id, self.force_build)
            .await
            .map_err(|e| api_failure(&p.credential, "digitalocean refused the deployment", &e))
    }

    /// Points the app's git sources at `branch` and starts the deployment
    /// of it: the one App Platform started for the new spec, or a new one.
    async fn deploy_branch(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        branch: &str,
    ) -> Result<AppDeployment, PhaseError> {
        let refuse = |why: String| {
            PhaseError::permanent(format!(
                "cannot deploy ref {branch} to digitalocean app {}: {why}",
                self.app_id
            ))
        };
        if looks_like_commit(branch) {
            return Err(refuse(
                "App Platform builds the newest commit of a branch named in the app spec and cannot deploy one commit; name a branch (or push a branch at that commit), or leave ref out to deploy the spec's branch".into(),
            ));
        }
        let app = self
            .client
            .get_app(&self.app_id)
            .await
            .map_err(|e| api_failure(&p.credential, "reading the app", &e))?;
        let sources = app.component_sources();
        let git: Vec<&ComponentSource> = sources.iter().filter(|s| s.is_git()).collect();
        if git.is_empty() {
            let kinds: Vec<String> = sources
                .iter()
                .map(|s| format!("{} ({})", s.component, s.kind))
                .collect();
            return Err(refuse(format!(
                "no component of its spec builds from a git branch (components: {}), so there is no branch to change; leave ref out to deploy the spec as it is",
                if kinds.is_empty() { "none".into() } else { kinds.join(", ") }
            )));
        }
        let mut repos: Vec<&str> = git.iter().filter_map(|s| s.repo.as_deref()).collect();
        repos.sort_unstable();
        repos.dedup();
        if repos.len() > 1 {
            return Err(refuse(format!(
                "its components build from {} repositories ({}); one ref cannot name a branch in each of them",
                repos.len(),
                repos.join(", ")
            )));
        }
        if git.iter().all(|s| s.branch.as_deref() == Some(branch)) {
            p.log(ctx, format!("the app spec already builds branch {branch}"));
            return self.create_deployment(p).await;
        }
        let was: Vec<&str> = git.iter().filter_map(|s| s.branch.as_deref()).collect();
        let before: Vec<String> = [&app.in_progress_deployment, &app.pending_deployment]
            .into_iter()
            .flatten()
            .map(|d| d.id.clone())
            .collect();
        let updated = self
            .client
            .update_app(&self.app_id, &spec_with_branch(&app.spec, branch), true)
            .await
            .map_err(|e| {
                api_failure(
                    &p.credential,
                    "digitalocean refused the app spec update",
                    &e,
                )
            })?;
        p.log(
            ctx,
            format!(
                "app spec of {} now builds branch {branch} (was {}); later deploys without a ref deploy {branch} too",
                self.app_id,
                if was.is_empty() { "unset".to_string() } else { was.join(", ") }
            ),
        );
        let rolled_out = [updated.in_progress_deployment, updated.pending_deployment]
            .into_iter()
            .flatten()
            .find(|d| !before.contains(&d.id));
        match rolled_out {
            Some(started) => Ok(started),
            None => self.create_deployment(p).await,
        }
    }

    /// Follows a deployment, streaming its phases, and fails unless it ends
    /// `ACTIVE`.
    async fn follow_to_active(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        deployment_id: &str,
        what: &str,
    ) -> Result<AppDeployment, PhaseError> {
        let (tx, mut rx) = mpsc::channel(64);
        let done = p
            .streamed(
                ctx,
                &mut rx,
                self.client
                    .follow_deployment(&self.app_id, deployment_id, &self.follow, Some(&tx)),
                String::clone,
            )
            .await
            .map_err(|e| follow_failure(&p.credential, &e))?;
        if done.phase != DeploymentPhase::Active {
            return Err(PhaseError::permanent(format!(
                "digitalocean {what} {} ended {}",
                done.id, done.phase
            )));
        }
        Ok(done)
    }

    /// The app's public URL, when it can be read.
    async fn live_url(&self) -> Option<String> {
        self.client
            .get_app(&self.app_id)
            .await
            .ok()
            .and_then(|a| a.live_url)
    }
}

/// How opsroom records an app deployment: its id, the commit it was built
/// from, and the app's URL when it is the one serving.
fn recorded(d: AppDeployment, url: Option<String>) -> Deployment {
    Deployment {
        git_ref: d.source_commit().map(String::from),
        commit: d.source_commit().map(String::from),
        id: d.id,
        url,
    }
}

#[async_trait::async_trait]
impl Backend for DigitalOceanApp {
    fn name(&self) -> &'static str {
        "digitalocean"
    }

    fn default_ref(&self) -> String {
        "the app spec's branch".into()
    }

    async fn current(
        &self,
        p: &DeployProvider,
        _ctx: &RunContext,
    ) -> Result<Option<Deployment>, PhaseError> {
        self.live(p).await
    }

    /// The app's deployments that went live, newest first, the one serving
    /// now first. DigitalOcean marks a replaced deployment `SUPERSEDED`, so
    /// only the live one is `ACTIVE`; earlier ones count when they finished.
    async fn history(
        &self,
        p: &DeployProvider,
        _ctx: &RunContext,
    ) -> Result<Vec<Deployment>, PhaseError> {
        let app = self
            .client
            .get_app(&self.app_id)
            .await
            .map_err(|e| api_failure(&p.credential, "reading the app", &e))?;
        let mut served: Vec<AppDeployment> = self
            .client
            .list_all_deployments(&self.app_id, HISTORY_PER_PAGE, HISTORY_MAX_PAGES)
            .await
            .map_err(|e| api_failure(&p.credential, "listing the app's deployments", &e))?
            .into_iter()
            .filter(AppDeployment::went_live)
            .collect();
        // The API lists newest first; sorting keeps that if it ever does not.
        served.sort_by_key(|d| std::cmp::Reverse(d.created_at));
        let mut history: Vec<Deployment> = Vec::with_capacity(served.len() + 1);
        if let Some(active) = app.active_deployment {
            served.retain(|d| d.id != active.id);
            history.push(recorded(active, app.live_url.clone()));
        }
        history.extend(served.into_iter().map(|d| recorded(d, None)));
        Ok(history)
    }

    /// The app's deployments that went live, by when they did.
    async fn went_live(
        &self,
        p: &DeployProvider,
    ) -> Result<Option<Vec<LiveDeployment>>, PhaseError> {
        self.client
            .live_deployments(&self.app_id, HISTORY_PER_PAGE, HISTORY_MAX_PAGES)
            .await
            .map(Some)
            .map_err(|e| api_failure(&p.credential, "listing the app's deployments", &e))
    }

    /// Deploys the app and follows it to `ACTIVE`. Without `git_ref` the
    /// app's spec goes out as it is. With one, every git-sourced component
    /// is pointed at that branch first (the spec is updated, so later
    /// deploys without a ref deploy it too); a ref App Platform cannot
    /// build (a commit, or an app without git sources) is refused before
    /// anything changes.
    async fn deploy(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        git_ref: Option<&str>,
    ) -> Result<Deployment, PhaseError> {
        let started = match git_ref {
            None => self.create_deployment(p).await?,
            Some(branch) => self.deploy_branch(p, ctx, branch).await?,
        };
        p.log(
            ctx,
            format!("digitalocean deployment {} created", started.id),
        );
        let done = self
            .follow_to_active(p, ctx, &started.id, "deployment")
            .await?;
        Ok(recorded(done, self.live_url().await))
    }

    /// Rolls the app back to `to` (a deployment that went live before) and
    /// follows the deployment DigitalOcean makes for it to `ACTIVE`. The
    /// rollback is committed at once (`skip_pin`): a pinned app refuses every
    /// new deployment until someone commits or reverts, which a failed or
    /// killed run would leave to an operator to notice.
    async fn restore(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        to: &Deployment,
    ) -> Result<Deployment, PhaseError> {
        let started = self
            .client
            .rollback(&self.app_id, &to.id, true)
            .await
            .map_err(|e| api_failure(&p.credential, "digitalocean refused the rollback", &e))?;
        p.log(
            ctx,
            format!(
                "digitalocean deployment {} rolls app {} back to {}",
                started.id,
                self.app_id,
                to.label()
            ),
        );
        let done = self
            .follow_to_active(p, ctx, &started.id, "rollback deployment")
            .await?;
        let mut restored = recorded(done, self.live_url().await);
        if restored.git_ref.is_none() {
            restored.git_ref.clone_from(&to.git_ref);
        }
        Ok(restored)
    }
}
