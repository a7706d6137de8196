//! `healthcheck`: probes every service of an environment. Read-only; fails
//! when a probe fails (a degraded one, such as a deployment still rolling
//! out, is a warning); writes a report artifact with a table.

use crate::config::ServiceConfig;
use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::probe::{probe, ProbeResult};
use crate::Engine;
use opsroom_core::ArtifactKind;
use opsroom_core::{EventLevel, Phase};
use opsroom_store::Run;
use serde_json::json;

pub struct Healthcheck {
    env: String,
    services: Vec<ServiceConfig>,
    results: Vec<ProbeResult>,
}

impl Healthcheck {
    pub fn new(engine: &Engine, run: &Run) -> Result<Self, PhaseError> {
        let env = run
            .env
            .as_deref()
            .ok_or_else(|| PhaseError::permanent("healthcheck needs an env"))?;
        let (name, config) = engine.config.env(env).ok_or_else(|| {
            PhaseError::permanent(format!(
                "unknown env `{env}`; configured: {}",
                engine.config.env_names().join(", ")
            ))
        })?;
        Ok(Healthcheck {
            env: name.to_string(),
            services: config.services.clone(),
            results: Vec::new(),
        })
    }
}

#[async_trait::async_trait]
impl Execution for Healthcheck {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        match phase {
            Phase::Validate => {
                ctx.log(EventLevel::Info, format!("env {} is configured", self.env));
                Ok(())
            }
            Phase::Preflight => {
                if self.services.is_empty() {
                    return Err(PhaseError::permanent(format!(
                        "env {} has no services configured; add [[environments.{}.services]] to opsroom.toml",
                        self.env, self.env
                    )));
                }
                let names: Vec<_> = self.services.iter().map(|s| s.name.as_str()).collect();
                ctx.log(
                    EventLevel::Info,
                    format!("{} services to probe: {}", names.len(), names.join(", ")),
                );
                Ok(())
            }
            Phase::Action => {
                let engine = ctx.engine().clone();
                let probes = self
                    .services
                    .iter()
                    .map(|s| probe(&s.name, &s.probe, &engine));
                // Concurrently; results keep the configured order.
                self.results = futures_util::future::join_all(probes).await;
                for r in &self.results {
                    let (level, verdict) = match (r.ok, r.degraded) {
                        (true, false) => (EventLevel::Info, "ok"),
                        (true, true) => (EventLevel::Warn, "degraded"),
                        (false, _) => (EventLevel::Error, "FAILED"),
                    };
                    ctx.log_data(
                        level,
                        format!(
                            "{} ({}): {verdict} in {} ms — {}",
                            r.service, r.kind, r.latency_ms, r.detail
                        ),
                        json!({"kind": "probe", "result": r}),
                    );
                }
                Ok(())
            }
            Phase::Verify => {
                let failed: Vec<_> = self.results.iter().filter(|r| !r.ok).collect();
                if failed.is_empty() {
                    let degraded: Vec<_> = self
                        .results
                        .iter()
                        .filter(|r| r.degraded)
                        .map(|r| r.service.as_str())
                        .collect();
                    let note = if degraded.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} degraded: {})", degraded.len(), degraded.join(", "))
                    };
                    ctx.log(
                        EventLevel::Info,
                        format!("all {} probes passed{note}", self.results.len()),
                    );
                    Ok(())
                } else {
                    Err(PhaseError::retryable(format!(
                        "{} of {} probes failed: {}",
                        failed.len(),
                        self.results.len(),
                        failed
                            .iter()
                            .map(|r| format!("{} ({})", r.service, r.detail))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            }
            Phase::Summarize => {
                let report = report_markdown(&self.env, &self.results);
                ctx.artifact(ArtifactKind::Markdown, "healthcheck-report.md", report)
                    .await?;
                ctx.artifact(
                    ArtifactKind::Json,
                    "probes.json",
                    serde_json::to_string_pretty(&self.results).unwrap_or_default(),
                )
                .await
            }
        }
    }

    fn wants_summary_artifact(&self) -> bool {
        false
    }
}

fn report_markdown(env: &str, results: &[ProbeResult]) -> String {
    let passed = results.iter().filter(|r| r.ok).count();
    let degraded = match results.iter().filter(|r| r.degraded).count() {
        0 => String::new(),
        n => format!(" ({n} degraded)"),
    };
    let mut md = format!(
        "# Healthcheck of {env}\n\n{passed} of {} services healthy{degraded}.\n\n| service | kind | result | latency | HTTP | TLS days left | detail |\n|---|---|---|---|---|---|---|\n",
        results.len()
    );
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {} | {} ms | {} | {} | {} |\n",
            r.service,
            r.kind,
            match (r.ok, r.degraded) {
                (true, false) => "✅ ok",
                (true, true) => "⚠️ degraded",
                (false, _) => "❌ failed",
            },
            r.latency_ms,
            r.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            r.tls_days_left
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            r.detail.replace('|', "\\|")
        ));
    }
    md
}
