//! `rollback`: finds the last successful deployment before the live one
//! (or the one the `ref` param names), makes it live again through the
//! env's provider (Vercel's instant rollback, DigitalOcean's app rollback,
//! or a redeploy of its ref) and verifies the env's health.

use super::deploy_checks::{
    check_health, check_target, failures, health_markdown, human_duration, note_failure,
};
use super::provider::{record_deployed, DeployProvider, Deployment};
use crate::config::EnvConfig;
use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::probe::ProbeResult;
use crate::Engine;
use opsroom_core::{EventLevel, Phase};
use opsroom_store::Run;
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

impl Rollback {
    /// Checks env and target; the provider is built in validate.
    pub fn new(
        engine: &Engine,
        run: &Run,
        params: &Map<String, Value>,
    ) -> Result<Self, PhaseError> {
        let (env, config) = check_target(engine, run)?;
        Ok(Rollback {
            env,
            config,
            target: run.target.clone(),
            wanted: params
                .get("ref")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .map(String::from),
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

    /// The deployment to return to: the one `ref` names, or the newest
    /// successful one before the live one.
    fn choose(&self, history: &[Deployment]) -> Result<Deployment, PhaseError> {
        let earlier = history.get(1..).unwrap_or_default();
        let found = match &self.wanted {
            Some(w) => earlier
                .iter()
                .find(|d| d.id == *w || d.git_ref.as_deref() == Some(w.as_str())),
            None => earlier.first(),
        };
        found.cloned().ok_or_else(|| {
            let seen = history
                .iter()
                .map(Deployment::label)
                .collect::<Vec<_>>()
                .join(", ");
            PhaseError::permanent(match &self.wanted {
                Some(w) => format!(
                    "no earlier successful deployment matches `{w}`; successful deployments, newest first: {}",
                    if seen.is_empty() { "none".to_string() } else { seen }
                ),
                None => format!(
                    "no successful deployment before the live one to roll back to (found: {})",
                    if seen.is_empty() { "none".to_string() } else { seen }
                ),
            })
        })
    }

    async fn run_phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        match phase {
            Phase::Validate => {
                let provider =
                    DeployProvider::new(ctx.engine(), &self.env, self.target.as_deref())?;
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
                let history = self.provider()?.history(ctx).await?;
                self.current = history.first().cloned();
                let to = self.choose(&history)?;
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
                ctx.artifact("markdown", "rollback-summary.md", summary)
                    .await?;
                if let Some(url) = self.restored.as_ref().and_then(|d| d.url.clone()) {
                    ctx.artifact("link", "deployment", url).await?;
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
        match &self.provider {
            Some(p) => p.redact(&md),
            None => md,
        }
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
