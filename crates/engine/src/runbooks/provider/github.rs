//! A GitHub Actions workflow as a deploy provider: a `workflow_dispatch`
//! followed to its conclusion. The run followed is the one the dispatch
//! started, as GitHub names it (`return_run_details`) or, where GitHub
//! does not, as a value unique to the dispatch shows it in the run's name;
//! never "the newest run", which two dispatches in one second share.

use super::{
    api_failure, follow_failure, recorded_history, redeploy, Backend, DeployProvider, Deployment,
};
use crate::pipeline::{PhaseError, RunContext};
use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::github::{Dispatch, GitHubClient, RepoName};
use opsroom_adapters::LiveDeployment;
use serde_json::Value;
use tokio::sync::mpsc;

/// The workflow an env deploys with.
pub(super) struct GitHubWorkflow {
    pub(super) client: GitHubClient,
    pub(super) repo: RepoName,
    pub(super) workflow: String,
    pub(super) branch: String,
    pub(super) ref_input: Option<String>,
    pub(super) inputs: serde_json::Map<String, Value>,
    pub(super) correlation_input: Option<String>,
    /// The GitHub environment whose deployments say what went live.
    pub(super) environment: String,
    pub(super) follow: FollowOptions,
}

/// Deployments of the environment read for [`Backend::went_live`].
const LIVE_LIST_MAX: u32 = 20;

/// A value no other dispatch carries: the opsroom run, its attempt and the
/// time, so retries and other opsroom installations differ too.
fn dispatch_marker(ctx: &RunContext) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or_default();
    format!("opsroom-{}-{}-{nanos:08x}", ctx.run().id, ctx.run().attempt)
}

#[async_trait::async_trait]
impl Backend for GitHubWorkflow {
    fn name(&self) -> &'static str {
        "github_actions"
    }

    fn default_ref(&self) -> String {
        self.branch.clone()
    }

    /// The newest deployment of the history, once the repository has been
    /// read (which proves the credential works).
    async fn current(
        &self,
        p: &DeployProvider,
        ctx: &RunContext,
    ) -> Result<Option<Deployment>, PhaseError> {
        self.client
            .get_repo(&self.repo)
            .await
            .map_err(|e| api_failure(&p.credential, "reading the repository", &e))?;
        Ok(self.history(p, ctx).await?.into_iter().next())
    }

    /// opsroom's own record knows which ref each run deployed; the
    /// workflow's successful runs are the fallback for older history.
    async fn history(
        &self,
        p: &DeployProvider,
        ctx: &RunContext,
    ) -> Result<Vec<Deployment>, PhaseError> {
        let recorded = recorded_history(ctx, &p.env, p.target.as_deref()).await?;
        if !recorded.is_empty() {
            return Ok(recorded);
        }
        let runs = self
            .client
            .list_workflow_runs(&self.repo, &self.workflow, &Default::default())
            .await
            .map_err(|e| api_failure(&p.credential, "listing workflow runs", &e))?;
        Ok(runs
            .into_iter()
            .filter(|r| r.succeeded())
            .map(|r| Deployment {
                id: r.id.to_string(),
                url: Some(r.html_url),
                commit: Some(r.head_sha.clone()),
                git_ref: Some(r.head_sha),
            })
            .collect())
    }

    /// The environment's GitHub deployments that reached `success`.
    async fn went_live(
        &self,
        p: &DeployProvider,
    ) -> Result<Option<Vec<LiveDeployment>>, PhaseError> {
        self.client
            .live_deployments(&self.repo, &self.environment, LIVE_LIST_MAX)
            .await
            .map(Some)
            .map_err(|e| {
                api_failure(
                    &p.credential,
                    &format!(
                        "listing the deployments of environment {}",
                        self.environment
                    ),
                    &e,
                )
            })
    }

    /// Dispatches the workflow for `git_ref` and follows the run it started
    /// until it completes, writing each status change as an event.
    async fn deploy(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        git_ref: Option<&str>,
    ) -> Result<Deployment, PhaseError> {
        let git_ref = git_ref.unwrap_or(&self.branch);
        let (client, repo, workflow, branch) =
            (&self.client, &self.repo, &self.workflow, &self.branch);
        let mut inputs = self.inputs.clone();
        if let Some(name) = &self.ref_input {
            inputs.insert(name.clone(), Value::from(git_ref));
        } else if git_ref != branch {
            return Err(PhaseError::permanent(format!(
                "cannot deploy ref {git_ref}: set ref_input in the env's deploy table to the workflow input that takes the ref (the workflow runs on {branch})"
            )));
        }
        let marker = self.correlation_input.as_ref().map(|name| {
            let marker = dispatch_marker(ctx);
            inputs.insert(name.clone(), Value::from(marker.clone()));
            marker
        });
        // GitHub's clock, not ours, stamps the run: allow for skew.
        let dispatched_after = chrono::Utc::now() - chrono::Duration::seconds(10);
        let dispatch = client
            .dispatch_workflow(repo, workflow, branch, &inputs)
            .await
            .map_err(|e| api_failure(&p.credential, "github refused the workflow dispatch", &e))?;
        let run_id = match (dispatch, marker) {
            (Dispatch::Run(run), _) => {
                p.log(
                    ctx,
                    format!(
                        "github workflow {workflow} dispatched on {repo}@{branch}; workflow run {} started: {}",
                        run.workflow_run_id, run.html_url
                    ),
                );
                run.workflow_run_id
            }
            (Dispatch::Unnamed, Some(marker)) => {
                p.log(
                    ctx,
                    format!(
                        "github workflow {workflow} dispatched on {repo}@{branch}; GitHub did not name the run, looking for the one named {marker}"
                    ),
                );
                let run = client
                    .find_run_by_title(repo, workflow, branch, dispatched_after, &marker, &self.follow)
                    .await
                    .map_err(|e| {
                        let mut failure = follow_failure(&p.credential, &e);
                        failure.message.push_str(&format!(
                            " (the workflow's run-name must show the `{}` input, e.g. `run-name: deploy ${{{{ inputs.{} }}}}`)",
                            self.correlation_input.as_deref().unwrap_or_default(),
                            self.correlation_input.as_deref().unwrap_or_default()
                        ));
                        failure
                    })?;
                p.log(
                    ctx,
                    format!("workflow run {} started: {}", run.id, run.html_url),
                );
                run.id
            }
            (Dispatch::Unnamed, None) => {
                return Err(PhaseError::permanent(format!(
                    "github accepted the dispatch of {workflow} on {repo}@{branch} but did not say which run it started (this GitHub predates return_run_details), and opsroom does not guess: that run goes on unfollowed. To let opsroom find its run, give the workflow an input that only names the run and show it in the run's name:\n  on:\n    workflow_dispatch:\n      inputs:\n        opsroom_run: {{ required: false }}\n  run-name: deploy ${{{{ inputs.opsroom_run }}}}\nthen set correlation_input = \"opsroom_run\" in [environments.{}.deploy]",
                    p.env
                )));
            }
        };
        let (tx, mut rx) = mpsc::channel(64);
        let done = p
            .streamed(
                ctx,
                &mut rx,
                client.follow_workflow_run(repo, run_id, &self.follow, Some(&tx)),
                String::clone,
            )
            .await
            .map_err(|e| follow_failure(&p.credential, &e))?;
        if !done.succeeded() {
            return Err(PhaseError::permanent(format!(
                "github workflow run {} ended {}: {}",
                done.id,
                done.conclusion.as_deref().unwrap_or(&done.status),
                done.html_url
            )));
        }
        Ok(Deployment {
            id: done.id.to_string(),
            url: Some(done.html_url),
            git_ref: Some(git_ref.to_string()),
            commit: Some(done.head_sha).filter(|s| !s.is_empty()),
        })
    }

    /// Redeploys `to`'s ref through the workflow's ref input.
    async fn restore(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        to: &Deployment,
    ) -> Result<Deployment, PhaseError> {
        if self.ref_input.is_none() {
            return Err(PhaseError::permanent(
                "cannot redeploy an earlier ref: set ref_input in the env's deploy table to the workflow input that takes the ref",
            ));
        }
        redeploy(p, ctx, to).await
    }
}
