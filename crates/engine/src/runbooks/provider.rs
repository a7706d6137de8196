//! An env's deploy provider, built from `[environments.NAME.deploy]` and the
//! credentials in `[secrets]`: what is live now, start a deployment and
//! follow it (each status change becomes a run event at once), the
//! deployments that succeeded before, and going back to one of them.
//!
//! Tokens live only inside the adapters' clients (as [`Secret`]); every text
//! written to a run goes through [`DeployProvider::redact`] first.

mod digitalocean;
mod github;
mod vercel;

use crate::config::DeployConfig;
use crate::pipeline::{PhaseError, RunContext};
use crate::Engine;
use digitalocean::DigitalOceanApp;
use github::GitHubWorkflow;
use opsroom_adapters::digitalocean::{DigitalOceanClient, DigitalOceanConfig};
use opsroom_adapters::follow::{FollowError, FollowOptions};
use opsroom_adapters::github::{GitHubClient, GitHubConfig, RepoName};
use opsroom_adapters::secret::redact_all;
use opsroom_adapters::shell::{self, CommandSpec, OutputLine, ShellError};
use opsroom_adapters::vercel::{VercelClient, VercelConfig};
use opsroom_adapters::{ApiError, Secret};
use opsroom_core::{EventLevel, RunStatus};
use opsroom_store::{EventsListParams, Run, RunListParams};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
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

enum Backend {
    Vercel(VercelProject),
    GitHub(GitHubWorkflow),
    DigitalOcean(DigitalOceanApp),
    Shell {
        argv: Vec<String>,
        env: Vec<(String, String)>,
        cwd: Option<String>,
        default_ref: String,
        url: Option<String>,
        timeout: Duration,
    },
}

/// An env's deploy provider, ready to use.
pub struct DeployProvider {
    env: String,
    target: Option<String>,
    /// The `[secrets]` entry the provider authenticates with (for messages).
    credential: String,
    secrets: Vec<Secret>,
    backend: Backend,
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
    pub fn new(engine: &Engine, env: &str, target: Option<&str>) -> Result<Self, PhaseError> {
        let (name, env_config) = engine
            .config
            .env(env)
            .ok_or_else(|| PhaseError::permanent(format!("unknown env `{env}`")))?;
        let deploy = env_config.deploy.as_ref().ok_or_else(|| {
            PhaseError::permanent(format!(
                "env {name} has no deploy provider; add [environments.{name}.deploy] with provider = \"vercel\", \"github_actions\", \"digitalocean\" or \"shell\" to opsroom.toml"
            ))
        })?;
        let secret = |key: &str| {
            engine
                .config
                .secret(key)
                .map_err(|e| PhaseError::permanent(e.to_string()))
        };
        let mut secrets = Vec::new();
        let mut credential = String::new();
        let built = |e: ApiError| PhaseError::permanent(format!("cannot set up the provider: {e}"));
        let backend = match deploy {
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
                Backend::Vercel(VercelProject {
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
                Backend::GitHub(GitHubWorkflow {
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
                Backend::DigitalOcean(DigitalOceanApp {
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
                Backend::Shell {
                    argv: argv.clone(),
                    env: vars,
                    cwd: cwd.clone(),
                    default_ref: default_ref.clone(),
                    url: url.clone(),
                    timeout: Duration::from_millis(*timeout_ms),
                }
            }
        };
        Ok(DeployProvider {
            env: name.to_string(),
            target: target.map(String::from),
            credential,
            secrets,
            backend,
        })
    }

    /// The provider's name, as in the config.
    pub fn name(&self) -> &'static str {
        match self.backend {
            Backend::Vercel(_) => "vercel",
            Backend::GitHub(_) => "github_actions",
            Backend::DigitalOcean(_) => "digitalocean",
            Backend::Shell { .. } => "shell",
        }
    }

    /// Hides every credential of this provider in `text`.
    pub fn redact(&self, text: &str) -> String {
        redact_all(text, &self.secrets)
    }

    /// The ref deployed when a run names none.
    pub fn default_ref(&self) -> String {
        match &self.backend {
            Backend::Vercel(project) => project.default_ref.clone(),
            Backend::Shell { default_ref, .. } => default_ref.clone(),
            Backend::GitHub(w) => w.branch.clone(),
            Backend::DigitalOcean(_) => "the app spec's branch".into(),
        }
    }

    /// What is live now (`None`: nothing deployed yet), as the provider
    /// says where it can (Vercel's production target, DigitalOcean's active
    /// deployment), else as opsroom recorded it. Also proves the provider is
    /// reachable and the credential works.
    pub async fn current(&self, ctx: &RunContext) -> Result<Option<Deployment>, PhaseError> {
        match &self.backend {
            Backend::Vercel(project) => project.live(self).await,
            Backend::GitHub(w) => {
                w.client
                    .get_repo(&w.repo)
                    .await
                    .map_err(|e| api_failure(&self.credential, "reading the repository", &e))?;
                Ok(self.history(ctx).await?.into_iter().next())
            }
            Backend::DigitalOcean(app) => app.live(self).await,
            Backend::Shell { .. } => Ok(self.history(ctx).await?.into_iter().next()),
        }
    }

    /// Deployments that succeeded, newest first. The live one (see
    /// [`DeployProvider::current`]) is among them, not always first: on
    /// Vercel, deployments rolled away from are newer than the live one.
    pub async fn history(&self, ctx: &RunContext) -> Result<Vec<Deployment>, PhaseError> {
        match &self.backend {
            Backend::Vercel(project) => project.history(self).await,
            Backend::GitHub(GitHubWorkflow {
                client,
                repo,
                workflow,
                ..
            }) => {
                // opsroom's own record knows which ref each run deployed;
                // the provider's runs are the fallback for older history.
                let recorded = recorded_history(ctx, &self.env, self.target.as_deref()).await?;
                if !recorded.is_empty() {
                    return Ok(recorded);
                }
                let runs = client
                    .list_workflow_runs(repo, workflow, &Default::default())
                    .await
                    .map_err(|e| api_failure(&self.credential, "listing workflow runs", &e))?;
                Ok(runs
                    .into_iter()
                    .filter(|r| r.succeeded())
                    .map(|r| Deployment {
                        id: r.id.to_string(),
                        url: Some(r.html_url),
                        git_ref: Some(r.head_sha),
                    })
                    .collect())
            }
            Backend::DigitalOcean(app) => app.history(self).await,
            Backend::Shell { .. } => recorded_history(ctx, &self.env, self.target.as_deref()).await,
        }
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
        let default_ref = self.default_ref();
        let wanted = git_ref.unwrap_or(&default_ref);
        match &self.backend {
            Backend::Vercel(project) => project.deploy(self, ctx, wanted).await,
            Backend::GitHub(w) => w.deploy(self, ctx, wanted).await,
            Backend::DigitalOcean(app) => app.deploy(self, ctx, git_ref).await,
            Backend::Shell {
                argv,
                env,
                cwd,
                url,
                timeout,
                ..
            } => {
                let git_ref = wanted;
                let fill = |s: &str| {
                    s.replace("{ref}", git_ref)
                        .replace("{env}", &self.env)
                        .replace("{target}", self.target.as_deref().unwrap_or(""))
                };
                let mut spec = CommandSpec::new(fill(&argv[0]), argv[1..].iter().map(|a| fill(a)))
                    .timeout(*timeout)
                    .clean_env();
                spec.env.clone_from(env);
                spec.env.push(("OPSROOM_ENV".into(), self.env.clone()));
                spec.env.push(("OPSROOM_REF".into(), git_ref.to_string()));
                spec.redact.clone_from(&self.secrets);
                if let Some(dir) = cwd {
                    spec = spec.cwd(dir);
                }
                let (tx, mut rx) = mpsc::channel::<OutputLine>(256);
                let result = self
                    .streamed(ctx, &mut rx, shell::run_checked(&spec, Some(&tx)), |l| {
                        l.line.clone()
                    })
                    .await;
                result.map_err(|e| match e {
                    ShellError::TimedOut { .. } => PhaseError::permanent(format!(
                        "{} (raise timeout_ms in the env's deploy table if deploys take longer)",
                        self.redact(&e.to_string())
                    )),
                    other => PhaseError::permanent(self.redact(&other.to_string())),
                })?;
                Ok(Deployment {
                    id: format!("run-{}", ctx.run().id),
                    url: url.as_ref().map(|u| fill(u)),
                    git_ref: Some(git_ref.to_string()),
                })
            }
        }
    }

    /// Makes `to` (an earlier successful deployment) live again: Vercel's
    /// instant rollback, DigitalOcean's app rollback, or a redeploy of its
    /// ref elsewhere.
    pub async fn restore(
        &self,
        ctx: &mut RunContext,
        to: &Deployment,
    ) -> Result<Deployment, PhaseError> {
        match &self.backend {
            Backend::Vercel(project) => project.restore(self, ctx, to).await,
            Backend::GitHub(GitHubWorkflow { ref_input: None, .. }) => Err(PhaseError::permanent(
                "cannot redeploy an earlier ref: set ref_input in the env's deploy table to the workflow input that takes the ref",
            )),
            Backend::DigitalOcean(app) => app.restore(self, ctx, to).await,
            Backend::GitHub(_) | Backend::Shell { .. } => {
                let git_ref = to.git_ref.as_deref().ok_or_else(|| {
                    PhaseError::permanent(format!("deployment {} has no recorded ref to redeploy", to.id))
                })?;
                self.deploy(ctx, Some(git_ref)).await
            }
        }
    }

    fn log(&self, ctx: &mut RunContext, message: String) {
        ctx.log_data(
            EventLevel::Info,
            self.redact(&message),
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
