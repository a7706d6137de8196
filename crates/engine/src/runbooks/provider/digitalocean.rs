//! A DigitalOcean App Platform app as a deploy provider: a deployment of the
//! app's spec, the app's deployments that went live, and DigitalOcean's own
//! rollback to one of them. Each is followed phase by phase, every phase
//! change written as a run event at once.

use super::{api_failure, follow_failure, DeployProvider, Deployment};
use crate::pipeline::{PhaseError, RunContext};
use opsroom_adapters::digitalocean::{AppDeployment, DeploymentPhase, DigitalOceanClient};
use opsroom_adapters::follow::FollowOptions;
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
    pub(super) async fn live(&self, p: &DeployProvider) -> Result<Option<Deployment>, PhaseError> {
        let app = self
            .client
            .get_app(&self.app_id)
            .await
            .map_err(|e| api_failure(&p.credential, "reading the app", &e))?;
        Ok(app
            .active_deployment
            .map(|d| recorded(d, app.live_url.clone())))
    }

    /// The app's deployments that went live, newest first, the one serving
    /// now first. DigitalOcean marks a replaced deployment `SUPERSEDED`, so
    /// only the live one is `ACTIVE`; earlier ones count when they finished.
    pub(super) async fn history(&self, p: &DeployProvider) -> Result<Vec<Deployment>, PhaseError> {
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

    /// Deploys the app's current spec and follows it to `ACTIVE`.
    pub(super) async fn deploy(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
    ) -> Result<Deployment, PhaseError> {
        let started = self
            .client
            .create_deployment(&self.app_id, self.force_build)
            .await
            .map_err(|e| api_failure(&p.credential, "digitalocean refused the deployment", &e))?;
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
    pub(super) async fn restore(
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
        id: d.id,
        url,
    }
}
