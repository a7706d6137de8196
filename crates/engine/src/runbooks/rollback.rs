//! `rollback`: finds the last successful deployment before the live one
//! (the provider says which is live where it can), or the one the `ref`
//! param names, refusing the live one itself; makes it live again through the
//! env's provider (Vercel's instant rollback, DigitalOcean's app rollback,
//! or a redeploy of its ref) and verifies the env's health.

use super::deploy::{non_empty, typed_params};
use super::deploy_checks::{
    check_health, check_target, deploy_config, failures, health_markdown, human_duration,
    note_failure,
};
use super::provider::{record_deployed, DeployProvider, Deployment};
use crate::config::EnvConfig;
use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::probe::ProbeResult;
use crate::Engine;
use opsroom_core::ArtifactKind;
use opsroom_core::{EventLevel, Phase};
use opsroom_store::Run;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

/// One rollback run.
pub struct Rollback {
    env: String,
    config: EnvConfig,
    target: Option<String>,
    wanted: Option<String>,
    provider: Option<DeployProvider>,
    current: Option<Deployment>,
    to: Option<Deployment>,
    restored: Option<Deployment>,
    health: Vec<ProbeResult>,
    error: Option<String>,
    started: Instant,
}

/// The rollback runbook's params, as the catalog declares them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackParams {
    /// The deployment or ref to go back to; the one before the live one when unset.
    #[serde(rename = "ref", default, deserialize_with = "non_empty")]
    git_ref: Option<String>,
}

impl Rollback {
    /// Checks env and target; the provider is built in validate.
    pub fn new(
        engine: &Engine,
        run: &Run,
        params: &Map<String, Value>,
    ) -> Result<Self, PhaseError> {
        let (env, config) = check_target(engine, run)?;
        deploy_config(&env, &config)?;
        let params: RollbackParams = typed_params(params)?;
        Ok(Rollback {
            env,
            config,
            target: run.target.clone(),
            wanted: params.git_ref,
            provider: None,
            current: None,
            to: None,
            restored: None,
            health: Vec::new(),
            error: None,
            started: Instant::now(),
        })
    }

    fn provider(&self) -> Result<&DeployProvider, PhaseError> {
        self.provider
            .as_ref()
            .ok_or_else(|| PhaseError::permanent("the provider was not set up in validate"))
    }

    /// The deployment to return to: the one `ref` names (by id, or by the
    /// ref it was built from), or the newest successful one created before
    /// the one live now. Never the live one: that is refused, so a rollback
    /// never reports success for changing nothing.
    fn choose(
        &self,
        live: Option<&Deployment>,
        history: &[Deployment],
    ) -> Result<Deployment, PhaseError> {
        let is_live = |d: &Deployment| live.is_some_and(|l| l.id == d.id);
        let already_live = |l: &Deployment| {
            PhaseError::permanent(format!(
                "{} is what {} serves now; there is nothing to roll back to. Name an earlier deployment with ref, or leave ref out to return to the one before it",
                l.label(),
                self.env
            ))
        };
        let found = match &self.wanted {
            Some(w) => {
                if let Some(l) = live.filter(|l| l.id == *w) {
                    return Err(already_live(l));
                }
                let others = || history.iter().filter(|d| !is_live(d));
                let found = others()
                    .find(|d| d.id == *w)
                    .or_else(|| others().find(|d| d.git_ref.as_deref() == Some(w.as_str())));
                if found.is_none() {
                    if let Some(l) = live.filter(|l| l.git_ref.as_deref() == Some(w.as_str())) {
                        return Err(already_live(l));
                    }
                }
                found
            }
            None => {
                let earlier: &[Deployment] = match live {
                    None => history,
                    Some(l) => match history.iter().position(|d| d.id == l.id) {
                        Some(i) => &history[i + 1..],
                        None => &[],
                    },
                };
                earlier.first()
            }
        };
        found.cloned().ok_or_else(|| {
            let seen = history
                .iter()
                .map(|d| {
                    if is_live(d) {
                        format!("{} (live)", d.label())
                    } else {
                        d.label()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let seen = if seen.is_empty() { "none".to_string() } else { seen };
            PhaseError::permanent(match &self.wanted {
                Some(w) => format!(
                    "no earlier successful deployment matches `{w}`; successful deployments, newest first: {seen}"
                ),
                None => format!(
                    "no successful deployment before the live one {} to roll back to (found: {seen})",
                    live.map(Deployment::label).unwrap_or_else(|| "-".into())
                ),
            })
        })
    }

    async fn run_phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        match phase {
            Phase::Validate => {
                let provider = DeployProvider::new(ctx, &self.env, self.target.as_deref())?;
                ctx.log(
                    EventLevel::Info,
                    format!(
                        "rolling back {} through {}; credentials present",
                        self.env,
                        provider.name()
                    ),
                );
                self.provider = Some(provider);
                Ok(())
            }
            Phase::Preflight => {
                if let Some(key) = ctx.run().lock_key.clone() {
                    ctx.log(
                        EventLevel::Info,
                        format!("env lock {key} is held by this run"),
                    );
                }
                let provider = self.provider()?;
                let live = provider.current(ctx).await?;
                let history = provider.history(ctx).await?;
                self.current = live;
                let to = self.choose(self.current.as_ref(), &history)?;
                ctx.log_data(
                    EventLevel::Info,
                    format!(
                        "live now: {}; rolling back to {}",
                        self.current
                            .as_ref()
                            .map(Deployment::label)
                            .unwrap_or_default(),
                        to.label()
                    ),
                    json!({"kind": "rollback_plan", "from": self.current, "to": to}),
                );
                self.to = Some(to);
                Ok(())
            }
            Phase::Action => {
                let to = self
                    .to
                    .clone()
                    .ok_or_else(|| PhaseError::permanent("no deployment chosen in preflight"))?;
                let provider = self.provider()?;
                ctx.flush().await;
                let restored = provider.restore(ctx, &to).await?;
                record_deployed(ctx, provider.name(), &restored);
                self.restored = Some(restored);
                Ok(())
            }
            Phase::Verify => {
                self.health = check_health(ctx, &self.config).await;
                match failures(&self.health) {
                    None => {
                        ctx.log(EventLevel::Info, "healthy after the rollback");
                        Ok(())
                    }
                    Some(problem) => Err(PhaseError::permanent(format!(
                        "{problem} after rolling back"
                    ))),
                }
            }
            Phase::Summarize => {
                let summary = self.summary();
                ctx.artifact(ArtifactKind::Markdown, "rollback-summary.md", summary)
                    .await?;
                if let Some(url) = self.restored.as_ref().and_then(|d| d.url.clone()) {
                    ctx.artifact(ArtifactKind::Link, "deployment", url).await?;
                }
                Ok(())
            }
        }
    }

    fn summary(&self) -> String {
        let outcome = match (&self.error, &self.restored) {
            (None, Some(_)) => "✅ rolled back and healthy".to_string(),
            (Some(e), _) => format!("❌ {e}"),
            (None, None) => "not rolled back".to_string(),
        };
        let link = |d: &Deployment| {
            format!(
                "{} ({})",
                d.markdown_link(),
                d.git_ref.as_deref().unwrap_or("-")
            )
        };
        let mut md = format!(
            "# Rollback of {} on {}\n\n{outcome}\n\n| | |\n|---|---|\n",
            self.target.as_deref().unwrap_or("the env's project"),
            self.env
        );
        md.push_str(&format!(
            "| provider | {} |\n",
            self.provider.as_ref().map(|p| p.name()).unwrap_or("-")
        ));
        md.push_str(&format!(
            "| was live | {} |\n",
            self.current
                .as_ref()
                .map(link)
                .unwrap_or_else(|| "-".into())
        ));
        md.push_str(&format!(
            "| now live | {} |\n",
            self.restored
                .as_ref()
                .map(link)
                .unwrap_or_else(|| "-".into())
        ));
        md.push_str(&format!(
            "| duration | {} |\n",
            human_duration(self.started.elapsed())
        ));
        md.push_str(&health_markdown("rollback", &self.health));
        md
    }
}

#[async_trait::async_trait]
impl Execution for Rollback {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let result = self.run_phase(phase, ctx).await;
        note_failure(&mut self.error, phase, &result);
        result
    }

    fn wants_summary_artifact(&self) -> bool {
        false
    }
}
