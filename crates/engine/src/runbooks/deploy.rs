//! `deploy`: triggers a deployment through the env's provider, streams its
//! status until it is ready, verifies the env's health (services and smoke
//! URLs) and, when verify fails and the env allows it, rolls back to the
//! deployment that was live before. Writes a summary and a link artifact.

use super::deploy_checks::{
    check_health, check_target, deploy_config, failures, health_markdown, human_duration,
    note_failure,
};
use super::provider::{record_deployed, DeployProvider, Deployment};
use crate::config::EnvConfig;
use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::probe::ProbeResult;
use crate::Engine;
use opsroom_adapters::postgres::{load_migrations_dir, PgConfig, Postgres};
use opsroom_core::ArtifactKind;
use opsroom_core::{EventLevel, Phase};
use opsroom_store::Run;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::Path;
use tokio::time::Instant;

/// What happened when verify failed and a rollback was considered.
enum RollbackOutcome {
    /// Rolled back to this deployment.
    Done(Deployment),
    /// Tried and failed, with why.
    Failed(String),
    /// Not attempted, with why.
    Skipped(String),
}

/// One deploy run.
pub struct Deploy {
    env: String,
    config: EnvConfig,
    target: Option<String>,
    requested_ref: Option<String>,
    rollback_allowed: bool,
    run_migrations: bool,
    provider: Option<DeployProvider>,
    previous: Option<Deployment>,
    deployed: Option<Deployment>,
    git_ref: Option<String>,
    health: Vec<ProbeResult>,
    /// Versions applied by this run (`None`: no migrations configured).
    migrated: Option<Vec<String>>,
    rollback: Option<RollbackOutcome>,
    error: Option<String>,
    started: Instant,
}

/// The deploy runbook's params, as the catalog declares them (its defaults
/// are filled in before this is read, so none is repeated here).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployParams {
    /// Branch, tag or commit; the provider's default when unset or empty.
    #[serde(rename = "ref", default, deserialize_with = "non_empty")]
    git_ref: Option<String>,
    run_migrations: bool,
    rollback_on_failure: bool,
}

/// A runbook's validated params as its typed struct.
pub(super) fn typed_params<T: serde::de::DeserializeOwned>(
    params: &Map<String, Value>,
) -> Result<T, PhaseError> {
    serde_json::from_value(Value::Object(params.clone()))
        .map_err(|e| PhaseError::permanent(format!("params: {e}")))
}

/// An optional string where an empty one means unset.
pub(super) fn non_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

impl Deploy {
    /// Checks env and target; the provider is built in validate.
    pub fn new(
        engine: &Engine,
        run: &Run,
        params: &Map<String, Value>,
    ) -> Result<Self, PhaseError> {
        let (env, config) = check_target(engine, run)?;
        deploy_config(&env, &config)?;
        let params: DeployParams = typed_params(params)?;
        Ok(Deploy {
            env,
            config,
            target: run.target.clone(),
            requested_ref: params.git_ref,
            rollback_allowed: params.rollback_on_failure,
            run_migrations: params.run_migrations,
            provider: None,
            previous: None,
            deployed: None,
            git_ref: None,
            health: Vec::new(),
            migrated: None,
            rollback: None,
            error: None,
            started: Instant::now(),
        })
    }

    fn provider(&self) -> Result<&DeployProvider, PhaseError> {
        self.provider
            .as_ref()
            .ok_or_else(|| PhaseError::permanent("the provider was not set up in validate"))
    }

    /// Applies the env's pending migrations, once the deployment is ready.
    async fn migrate(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let Some(m) = self.config.migrations.clone() else {
            ctx.log(
                EventLevel::Info,
                format!(
                    "no migrations are configured for env {}; none run",
                    self.env
                ),
            );
            return Ok(());
        };
        let url = ctx
            .engine()
            .config
            .secret(&m.database_url_secret)
            .map_err(|e| PhaseError::permanent(e.to_string()))?;
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            PhaseError::permanent(url.redact(&format!("migrations: {what}: {e}")))
        };
        let migrations = load_migrations_dir(Path::new(&m.dir))
            .map_err(|e| fail("reading the migrations", &e))?;
        let db = Postgres::connect(&PgConfig::new(url.clone()))
            .await
            .map_err(|e| fail("connecting", &e))?;
        let report = db.apply_migrations(&m.table, &migrations).await;
        db.close().await;
        let report = report.map_err(|e| fail("none applied", &e))?;
        ctx.log_data(
            EventLevel::Info,
            format!(
                "migrations: {} applied{}, {} already applied",
                report.applied.len(),
                if report.applied.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", report.applied.join(", "))
                },
                report.already_applied.len()
            ),
            json!({"kind": "migrations", "applied": report.applied, "already_applied": report.already_applied}),
        );
        self.migrated = Some(report.applied);
        Ok(())
    }

    async fn verify(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        self.health = check_health(ctx, &self.config).await;
        if self.health.is_empty() {
            ctx.log(
                EventLevel::Warn,
                format!(
                    "env {} has no services or smoke_urls to check; the deployment is trusted as ready",
                    self.env
                ),
            );
        }
        let Some(problem) = failures(&self.health) else {
            ctx.log(EventLevel::Info, "the deployment is healthy");
            return Ok(());
        };
        let outcome = self.roll_back(ctx, &problem).await;
        let message = match &outcome {
            RollbackOutcome::Done(d) => format!("{problem}; rolled back to {}", d.label()),
            RollbackOutcome::Failed(why) => format!("{problem}; the rollback failed too: {why}"),
            RollbackOutcome::Skipped(why) => format!("{problem}; not rolled back: {why}"),
        };
        self.rollback = Some(outcome);
        Err(PhaseError::permanent(message))
    }

    async fn roll_back(&mut self, ctx: &mut RunContext, problem: &str) -> RollbackOutcome {
        if !self.config.rollback_on_failure {
            return RollbackOutcome::Skipped(format!(
                "environments.{}.rollback_on_failure is not true",
                self.env
            ));
        }
        if !self.rollback_allowed {
            return RollbackOutcome::Skipped("the run's rollback_on_failure param is false".into());
        }
        let Some(previous) = self.previous.clone() else {
            return RollbackOutcome::Skipped(
                "no earlier deployment was live before this one".into(),
            );
        };
        ctx.log_data(
            EventLevel::Warn,
            format!(
                "verify failed ({problem}); rolling back to {} because environments.{}.rollback_on_failure = true",
                previous.label(),
                self.env
            ),
            json!({"kind": "rollback_start", "to": previous}),
        );
        ctx.flush().await;
        let provider = match self.provider() {
            Ok(p) => p,
            Err(e) => return RollbackOutcome::Failed(e.message),
        };
        match provider.restore(ctx, &previous).await {
            Ok(restored) => {
                record_deployed(ctx, provider.name(), &restored);
                ctx.log_data(
                    EventLevel::Warn,
                    format!("rolled back to {}", restored.label()),
                    json!({"kind": "rollback_done", "to": restored}),
                );
                let after = check_health(ctx, &self.config).await;
                match failures(&after) {
                    None => ctx.log(EventLevel::Info, "healthy again after the rollback"),
                    Some(p) => ctx.log(
                        EventLevel::Error,
                        format!("still unhealthy after the rollback: {p}"),
                    ),
                }
                RollbackOutcome::Done(restored)
            }
            Err(e) => {
                ctx.log_data(
                    EventLevel::Error,
                    format!("rollback to {} failed: {}", previous.label(), e.message),
                    json!({"kind": "rollback_failed"}),
                );
                RollbackOutcome::Failed(e.message)
            }
        }
    }

    fn summary(&self) -> String {
        let provider = self.provider.as_ref().map(|p| p.name()).unwrap_or("-");
        let outcome = match (&self.error, &self.deployed) {
            (None, Some(_)) => "✅ deployed and healthy".to_string(),
            (Some(e), _) => format!("❌ {e}"),
            (None, None) => "not deployed".to_string(),
        };
        let what = self.target.as_deref().unwrap_or("the env's project");
        let mut md = format!("# Deploy of {what} to {}\n\n{outcome}\n\n", self.env);
        md.push_str("| | |\n|---|---|\n");
        md.push_str(&format!("| provider | {provider} |\n"));
        // Only what the provider reports as deployed counts as deployed.
        let git_ref = match (&self.deployed, &self.git_ref) {
            (Some(d), _) => d.git_ref.clone().unwrap_or_else(|| "-".into()),
            (None, Some(wanted)) => format!("{wanted} (not deployed)"),
            (None, None) => "-".into(),
        };
        md.push_str(&format!("| ref | {git_ref} |\n"));
        let link = Deployment::markdown_link;
        md.push_str(&format!(
            "| deployment | {} |\n",
            self.deployed
                .as_ref()
                .map(link)
                .unwrap_or_else(|| "-".into())
        ));
        md.push_str(&format!(
            "| previous deployment | {} |\n",
            self.previous
                .as_ref()
                .map(|d| format!("{} ({})", link(d), d.git_ref.as_deref().unwrap_or("-")))
                .unwrap_or_else(|| "none".into())
        ));
        md.push_str(&format!(
            "| duration | {} |\n",
            human_duration(self.started.elapsed())
        ));
        let migrations = match (&self.migrated, self.run_migrations) {
            (_, false) => "not requested".to_string(),
            (Some(v), _) if v.is_empty() => "none pending".to_string(),
            (Some(v), _) => format!("applied {}", v.join(", ")),
            (None, _) if self.config.migrations.is_some() => "not run".to_string(),
            (None, _) => "none configured for this env".to_string(),
        };
        md.push_str(&format!("| migrations | {migrations} |\n"));
        if let Some(r) = &self.rollback {
            let text = match r {
                RollbackOutcome::Done(d) => format!("rolled back to {}", link(d)),
                RollbackOutcome::Failed(why) => format!("rollback failed: {why}"),
                RollbackOutcome::Skipped(why) => format!("not rolled back: {why}"),
            };
            md.push_str(&format!("| rollback | {text} |\n"));
        }
        md.push_str(&health_markdown("deploy", &self.health));
        md
    }
}

#[async_trait::async_trait]
impl Execution for Deploy {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let result = self.run_phase(phase, ctx).await;
        note_failure(&mut self.error, phase, &result);
        result
    }

    fn wants_summary_artifact(&self) -> bool {
        false
    }
}

impl Deploy {
    async fn run_phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        match phase {
            Phase::Validate => {
                let provider = DeployProvider::new(ctx, &self.env, self.target.as_deref())?;
                ctx.log(
                    EventLevel::Info,
                    format!(
                        "deploying {} to {} through {}; credentials present",
                        self.target.as_deref().unwrap_or("the env's project"),
                        self.env,
                        provider.name()
                    ),
                );
                self.provider = Some(provider);
                if let Some(m) = self
                    .config
                    .migrations
                    .as_ref()
                    .filter(|_| self.run_migrations)
                {
                    ctx.engine()
                        .config
                        .secret(&m.database_url_secret)
                        .map_err(|e| PhaseError::permanent(e.to_string()))?;
                }
                Ok(())
            }
            Phase::Preflight => {
                match ctx.run().lock_key.clone() {
                    Some(key) => ctx.log(
                        EventLevel::Info,
                        format!("env lock {key} is held by this run; other writes to it wait"),
                    ),
                    None => ctx.log(EventLevel::Warn, "this run holds no env lock"),
                }
                let current = self.provider()?.current(ctx).await?;
                match &current {
                    Some(d) => ctx.log_data(
                        EventLevel::Info,
                        format!("provider reachable; live now: {}", d.label()),
                        json!({"kind": "current_deployment", "deployment": d}),
                    ),
                    None => ctx.log(
                        EventLevel::Info,
                        "provider reachable; no earlier successful deployment found",
                    ),
                }
                self.previous = current;
                Ok(())
            }
            Phase::Action => {
                let provider = self.provider.as_ref().ok_or_else(|| {
                    PhaseError::permanent("the provider was not set up in validate")
                })?;
                let git_ref = self
                    .requested_ref
                    .clone()
                    .unwrap_or_else(|| provider.default_ref());
                self.git_ref = Some(git_ref.clone());
                ctx.log(
                    EventLevel::Info,
                    format!("starting a {} deployment of {git_ref}", provider.name()),
                );
                ctx.flush().await;
                let deployed = provider.deploy(ctx, self.requested_ref.as_deref()).await?;
                record_deployed(ctx, provider.name(), &deployed);
                self.deployed = Some(deployed);
                if self.run_migrations {
                    self.migrate(ctx).await?;
                }
                Ok(())
            }
            Phase::Verify => self.verify(ctx).await,
            Phase::Summarize => {
                let summary = self.summary();
                ctx.artifact(ArtifactKind::Markdown, "deploy-summary.md", summary)
                    .await?;
                if let Some(url) = self.deployed.as_ref().and_then(|d| d.url.clone()) {
                    ctx.artifact(ArtifactKind::Link, "deployment", url).await?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsroom_core::Catalog;

    fn validated(runbook: &str, given: Value) -> Map<String, Value> {
        Catalog::builtin()
            .get(runbook)
            .unwrap()
            .validate_params(given.as_object().unwrap())
            .unwrap()
    }

    /// The catalog's declared defaults are the only ones: the typed params
    /// read what validation filled in.
    #[test]
    fn deploy_params_take_the_catalog_defaults() {
        let p: DeployParams = typed_params(&validated("deploy", json!({}))).unwrap();
        assert_eq!(p.git_ref, None);
        assert!(p.run_migrations && p.rollback_on_failure);
        let p: DeployParams = typed_params(&validated(
            "deploy",
            json!({"ref": "", "rollback_on_failure": false}),
        ))
        .unwrap();
        assert_eq!(p.git_ref, None, "an empty ref means the provider's default");
        assert!(!p.rollback_on_failure);
        let p: DeployParams = typed_params(&validated("deploy", json!({"ref": "v1.2"}))).unwrap();
        assert_eq!(p.git_ref.as_deref(), Some("v1.2"));
    }

    #[test]
    fn params_the_runbook_does_not_take_are_named() {
        let mut params = validated("deploy", json!({}));
        params.insert("surprise".into(), json!(1));
        let err = typed_params::<DeployParams>(&params).unwrap_err();
        assert!(err.message.contains("surprise"), "{}", err.message);
    }
}
