//! An env's deploy provider, built from `[environments.NAME.deploy]` and the
//! credentials in `[secrets]`: what is live now, start a deployment and
//! follow it (each status change becomes a run event at once), the
//! deployments that succeeded before, and going back to one of them.
//!
//! Each provider has its own module implementing [`Backend`]; the env's
//! config picks one when the provider is built. Tokens live only inside the
//! adapters' clients (as [`Secret`](opsroom_adapters::Secret)); each one read
//! is handed to the run's [`RunContext`], which hides it from everything the
//! run writes.

mod digitalocean;
mod github;
mod shell;
mod vercel;

use crate::config::DeployConfig;
use crate::pipeline::{PhaseError, RunContext};
use digitalocean::DigitalOceanApp;
use github::GitHubWorkflow;
use opsroom_adapters::digitalocean::{DigitalOceanClient, DigitalOceanConfig};
use opsroom_adapters::follow::{FollowError, FollowOptions};
use opsroom_adapters::github::{GitHubClient, GitHubConfig, RepoName};
use opsroom_adapters::vercel::{VercelClient, VercelConfig};
use opsroom_adapters::{ApiError, LiveDeployment};
use opsroom_core::{EventLevel, RunStatus};
use opsroom_store::{EventsListParams, Run, RunListParams};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shell::ShellDeploy;
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;
use vercel::VercelProject;

/// One deployment as opsroom records it (in events, artifacts, history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// The provider's id (Vercel `dpl_…`, workflow run id, DO deployment
    /// id) or, for shell deploys, the opsroom run that made it.
    pub id: String,
    /// Where to see it: its URL, or the provider's page about it.
    #[serde(default)]
    pub url: Option<String>,
    /// The git ref (branch, tag or commit) it was built from, when known.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// The commit it was built from, when the provider says (a ref that
    /// is a branch moves on; this does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Whether `git_ref` is a commit id (7 to 40 hex digits, a digit among
/// them) rather than a branch name.
pub(crate) fn looks_like_commit(git_ref: &str) -> bool {
    (7..=40).contains(&git_ref.len())
        && git_ref.chars().all(|c| c.is_ascii_hexdigit())
        && git_ref.chars().any(|c| c.is_ascii_digit())
}

impl Deployment {
    /// `dpl_1 (main)` for messages.
    pub fn label(&self) -> String {
        match &self.git_ref {
            Some(r) => format!("{} ({r})", self.id),
            None => self.id.clone(),
        }
    }

    /// `[dpl_1](https://…)` for summaries; the bare id without a URL.
    pub fn markdown_link(&self) -> String {
        match &self.url {
            Some(u) => format!("[{}]({u})", self.id),
            None => self.id.clone(),
        }
    }
}

/// What every deploy provider does; [`DeployProvider`] holds one, chosen
/// from the env's config.
#[async_trait::async_trait]
trait Backend: Send + Sync {
    /// The provider's name, as in the config.
    fn name(&self) -> &'static str;

    /// The ref deployed when a run names none.
    fn default_ref(&self) -> String;

    /// What is live now (`None`: nothing deployed yet); by default the
    /// newest deployment of the history.
    async fn current(
        &self,
        p: &DeployProvider,
        ctx: &RunContext,
    ) -> Result<Option<Deployment>, PhaseError> {
        Ok(self.history(p, ctx).await?.into_iter().next())
    }

    /// Deployments that succeeded, newest first; by default the ones
    /// opsroom recorded.
    async fn history(
        &self,
        p: &DeployProvider,
        ctx: &RunContext,
    ) -> Result<Vec<Deployment>, PhaseError> {
        recorded_history(ctx, &p.env, p.target.as_deref()).await
    }

    /// Starts a deployment of `git_ref` (the default ref when `None`) and
    /// follows it until it is ready, failed or timed out.
    async fn deploy(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        git_ref: Option<&str>,
    ) -> Result<Deployment, PhaseError>;

    /// The deployments the provider lists as gone live, whoever started
    /// them, newest first; `None` for a provider without such a list (a
    /// shell deploy: opsroom's own record is all there is).
    async fn went_live(
        &self,
        _p: &DeployProvider,
    ) -> Result<Option<Vec<LiveDeployment>>, PhaseError> {
        Ok(None)
    }

    /// Makes `to` live again; by default by redeploying its ref.
    async fn restore(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        to: &Deployment,
    ) -> Result<Deployment, PhaseError> {
        redeploy(p, ctx, to).await
    }
}

/// Deploys `to`'s recorded ref again.
async fn redeploy(
    p: &DeployProvider,
    ctx: &mut RunContext,
    to: &Deployment,
) -> Result<Deployment, PhaseError> {
    let git_ref = to.git_ref.as_deref().ok_or_else(|| {
        PhaseError::permanent(format!(
            "deployment {} has no recorded ref to redeploy",
            to.id
        ))
    })?;
    p.deploy(ctx, Some(git_ref)).await
}

/// An env's deploy provider, ready to use.
pub struct DeployProvider {
    env: String,
    target: Option<String>,
    /// The `[secrets]` entry the provider authenticates with (for messages).
    credential: String,
    backend: Box<dyn Backend>,
}

fn follow_options(timeout_ms: u64, poll_interval_ms: u64) -> FollowOptions {
    FollowOptions::new(
        Duration::from_millis(poll_interval_ms.max(1)),
        Duration::from_millis(timeout_ms.max(1)),
    )
}

/// What a phase says when an API call failed: the provider's own reason,
/// the credential's name (never its value) on 401/403, retryable when the
/// failure was transient.
fn api_failure(credential: &str, what: &str, e: &ApiError) -> PhaseError {
    if e.is_auth() {
        return PhaseError::permanent(format!(
            "{what}: the provider rejected credential `{credential}` ({e}); check the token that secrets.{credential} points at"
        ));
    }
    if e.is_transient() {
        PhaseError::retryable(format!("{what}: {e}"))
    } else {
        PhaseError::permanent(format!("{what}: {e}"))
    }
}

fn follow_failure(credential: &str, e: &FollowError) -> PhaseError {
    match e {
        FollowError::Api { what, source } => api_failure(credential, what, source),
        FollowError::TimedOut { .. } => PhaseError::permanent(format!(
            "{e} (raise timeout_ms in the env's deploy table if builds take longer)"
        )),
    }
}

impl DeployProvider {
    /// Builds the provider of `env`; fails when the env has no deploy table
    /// or a credential cannot be read (the error names the credential).
    /// Every credential read is handed to `ctx`, which hides it from
    /// everything the run writes.
    pub fn new(ctx: &mut RunContext, env: &str, target: Option<&str>) -> Result<Self, PhaseError> {
        let engine = ctx.engine();
        let (name, env_config) = engine
            .config
            .env(env)
            .ok_or_else(|| PhaseError::permanent(format!("unknown env `{env}`")))?;
        let deploy = super::deploy_checks::deploy_config(name, env_config)?;
        let secret = |key: &str| {
            engine
                .config
                .secret(key)
                .map_err(|e| PhaseError::permanent(e.to_string()))
        };
        let mut secrets = Vec::new();
        let mut credential = String::new();
        let built = |e: ApiError| PhaseError::permanent(format!("cannot set up the provider: {e}"));
        let backend: Box<dyn Backend> = match deploy {
            DeployConfig::Vercel {
                project,
                team_id,
                repo,
                default_ref,
                target,
                token_secret,
                base_url,
                timeout_ms,
                poll_interval_ms,
            } => {
                let token = secret(token_secret)?;
                credential.clone_from(token_secret);
                secrets.push(token.clone());
                let mut cfg = VercelConfig::new(token);
                cfg.team_id.clone_from(team_id);
                if let Some(url) = base_url {
                    cfg.base_url.clone_from(url);
                }
                Box::new(VercelProject {
                    client: VercelClient::new(cfg).map_err(built)?,
                    project: project.clone(),
                    repo: RepoName::parse(repo).ok_or_else(|| {
                        PhaseError::permanent(format!("repo {repo:?} is not owner/name"))
                    })?,
                    default_ref: default_ref.clone(),
                    target: target.clone(),
                    follow: follow_options(*timeout_ms, *poll_interval_ms),
                })
            }
            DeployConfig::GithubActions {
                repo,
                workflow,
                branch,
                ref_input,
                inputs,
                correlation_input,
                environment,
                token_secret,
                base_url,
                timeout_ms,
                poll_interval_ms,
            } => {
                let token = secret(token_secret)?;
                credential.clone_from(token_secret);
                secrets.push(token.clone());
                let mut cfg = GitHubConfig::new(token);
                if let Some(url) = base_url {
                    cfg.base_url.clone_from(url);
                }
                Box::new(GitHubWorkflow {
                    client: GitHubClient::new(cfg).map_err(built)?,
                    repo: RepoName::parse(repo).ok_or_else(|| {
                        PhaseError::permanent(format!("repo {repo:?} is not owner/name"))
                    })?,
                    workflow: workflow.clone(),
                    branch: branch.clone(),
                    ref_input: ref_input.clone(),
                    inputs: inputs
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                        .collect(),
                    correlation_input: correlation_input.clone(),
                    environment: environment.clone().unwrap_or_else(|| name.to_string()),
                    follow: follow_options(*timeout_ms, *poll_interval_ms),
                })
            }
            DeployConfig::Digitalocean {
                app_id,
                force_build,
                token_secret,
                base_url,
                timeout_ms,
                poll_interval_ms,
            } => {
                let token = secret(token_secret)?;
                credential.clone_from(token_secret);
                secrets.push(token.clone());
                let mut cfg = DigitalOceanConfig::new(token);
                if let Some(url) = base_url {
                    cfg.base_url.clone_from(url);
                }
                Box::new(DigitalOceanApp {
                    client: DigitalOceanClient::new(cfg).map_err(built)?,
                    app_id: app_id.clone(),
                    force_build: *force_build,
                    follow: follow_options(*timeout_ms, *poll_interval_ms),
                })
            }
            DeployConfig::Shell {
                argv,
                env,
                secret_env,
                cwd,
                default_ref,
                url,
                timeout_ms,
            } => {
                let mut vars: Vec<(String, String)> =
                    env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                for (var, key) in secret_env {
                    let value = secret(key)?;
                    vars.push((var.clone(), value.expose().to_string()));
                    secrets.push(value);
                }
                credential = secret_env.values().cloned().collect::<Vec<_>>().join(", ");
                Box::new(ShellDeploy {
                    argv: argv.clone(),
                    env: vars,
                    cwd: cwd.clone(),
                    default_ref: default_ref.clone(),
                    url: url.clone(),
                    timeout: Duration::from_millis(*timeout_ms),
                })
            }
        };
        let env = name.to_string();
        for secret in &secrets {
            ctx.add_secret(secret);
        }
        Ok(DeployProvider {
            env,
            target: target.map(String::from),
            credential,
            backend,
        })
    }

    /// The provider's name, as in the config.
    pub fn name(&self) -> &'static str {
        self.backend.name()
    }

    /// The ref deployed when a run names none.
    pub fn default_ref(&self) -> String {
        self.backend.default_ref()
    }

    /// What is live now (`None`: nothing deployed yet), as the provider
    /// says where it can (Vercel's production target, DigitalOcean's active
    /// deployment), else as opsroom recorded it. Also proves the provider is
    /// reachable and the credential works.
    pub async fn current(&self, ctx: &RunContext) -> Result<Option<Deployment>, PhaseError> {
        self.backend.current(self, ctx).await
    }

    /// Deployments that succeeded, newest first. The live one (see
    /// [`DeployProvider::current`]) is among them, not always first: on
    /// Vercel, deployments rolled away from are newer than the live one.
    pub async fn history(&self, ctx: &RunContext) -> Result<Vec<Deployment>, PhaseError> {
        self.backend.history(self, ctx).await
    }

    /// Starts a deployment of `git_ref` (the provider's default when
    /// `None`) and follows it until it is ready, failed or timed out,
    /// writing each status change as an event. The deployment returned says
    /// what was really deployed.
    pub async fn deploy(
        &self,
        ctx: &mut RunContext,
        git_ref: Option<&str>,
    ) -> Result<Deployment, PhaseError> {
        self.backend.deploy(self, ctx, git_ref).await
    }

    /// The deployments the provider's own list says went live, with when
    /// and from which commit, including those made outside opsroom (a git
    /// push, a CI job), newest first; `None` when the provider keeps no
    /// such list (shell deploys).
    pub async fn went_live(&self) -> Result<Option<Vec<LiveDeployment>>, PhaseError> {
        self.backend.went_live(self).await
    }

    /// Makes `to` (an earlier successful deployment) live again: Vercel's
    /// instant rollback, DigitalOcean's app rollback, or a redeploy of its
    /// ref elsewhere.
    pub async fn restore(
        &self,
        ctx: &mut RunContext,
        to: &Deployment,
    ) -> Result<Deployment, PhaseError> {
        self.backend.restore(self, ctx, to).await
    }

    fn log(&self, ctx: &mut RunContext, message: String) {
        ctx.log_data(
            EventLevel::Info,
            message,
            json!({"kind": "provider_status", "provider": self.name()}),
        );
    }

    /// Runs `work` while writing what it reports on `rx` as events, each
    /// flushed at once so it shows live.
    async fn streamed<T, M>(
        &self,
        ctx: &mut RunContext,
        rx: &mut mpsc::Receiver<M>,
        work: impl Future<Output = T>,
        text: impl Fn(&M) -> String,
    ) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                Some(message) = rx.recv() => {
                    self.log(ctx, text(&message));
                    ctx.flush().await;
                }
                out = &mut work => {
                    while let Ok(message) = rx.try_recv() {
                        self.log(ctx, text(&message));
                    }
                    ctx.flush().await;
                    return out;
                }
            }
        }
    }
}

/// The deployments opsroom itself made live in `env` (and `target`),
/// newest first, read from the `deployed` events of succeeded deploy and
/// rollback runs.
async fn recorded_history(
    ctx: &RunContext,
    env: &str,
    target: Option<&str>,
) -> Result<Vec<Deployment>, PhaseError> {
    let store = &ctx.engine().store;
    let mut runs: Vec<Run> = Vec::new();
    for runbook in ["deploy", "rollback"] {
        let list = store
            .run_list(RunListParams {
                workspace_id: ctx.run().workspace_id.clone(),
                status: Some(RunStatus::Succeeded),
                env: Some(env.to_string()),
                runbook: Some(runbook.to_string()),
                session_id: None,
                before: None,
                limit: 20,
                ..Default::default()
            })
            .await
            .map_err(|e| PhaseError::retryable(format!("reading deploy history: {e}")))?;
        runs.extend(list.into_iter().filter(|r| r.target.as_deref() == target));
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.id));
    let mut out = Vec::new();
    for run in runs.iter().take(20) {
        let events = store
            .events_list(EventsListParams::new(&run.workspace_id, run.id, 10_000))
            .await
            .map_err(|e| PhaseError::retryable(format!("reading deploy history: {e}")))?;
        if let Some(d) = events
            .iter()
            .rev()
            .find(|e| e.data["kind"] == DEPLOYED_EVENT)
            .and_then(|e| serde_json::from_value::<Deployment>(e.data["deployment"].clone()).ok())
        {
            out.push(d);
        }
    }
    Ok(out)
}

/// `data.kind` of the event that records what a run made live.
pub const DEPLOYED_EVENT: &str = "deployed";

/// Records in the run's events what it made live (read back by
/// [`DeployProvider::history`] for shell and GitHub Actions deploys).
pub fn record_deployed(ctx: &mut RunContext, provider: &str, d: &Deployment) {
    ctx.log_data(
        EventLevel::Info,
        format!(
            "{} is live{}",
            d.label(),
            d.url
                .as_deref()
                .map(|u| format!(": {u}"))
                .unwrap_or_default()
        ),
        json!({"kind": DEPLOYED_EVENT, "provider": provider, "deployment": d}),
    );
}
