//! What deploy and rollback share besides the provider: the run's env and
//! target checked against the config, the env's health (services and smoke
//! URLs) probed after a change, and durations for summaries.

use crate::config::{DeployConfig, EnvConfig, ProbeConfig};
use crate::pipeline::{PhaseError, RunContext};
use crate::probe::{probe, ProbeResult};
use crate::Engine;
use opsroom_core::{EventLevel, Phase};
use opsroom_store::Run;
use serde_json::json;
use std::time::Duration;

/// Probes the env's services and smoke URLs, writing one event each;
/// returns every result (the caller decides what a failure means).
pub async fn check_health(ctx: &mut RunContext, env: &EnvConfig) -> Vec<ProbeResult> {
    let engine = ctx.engine().clone();
    let mut checks: Vec<(String, ProbeConfig)> = env
        .services
        .iter()
        .map(|s| (s.name.clone(), s.probe.clone()))
        .collect();
    for url in &env.smoke_urls {
        checks.push((
            format!("smoke {url}"),
            ProbeConfig::Http {
                url: url.clone(),
                expect_status: 200,
                expect_body: None,
                timeout_ms: 10_000,
                ca_file: None,
                tls_min_days: 0,
            },
        ));
    }
    let results =
        futures_util::future::join_all(checks.iter().map(|(name, p)| probe(name, p, &engine)))
            .await;
    for r in &results {
        let (level, verdict) = if r.ok {
            (EventLevel::Info, "ok")
        } else {
            (EventLevel::Error, "FAILED")
        };
        ctx.log_data(
            level,
            format!(
                "{}: {verdict} in {} ms — {}",
                r.service, r.latency_ms, r.detail
            ),
            json!({"kind": "probe", "result": r}),
        );
    }
    ctx.flush().await;
    results
}

/// `a (detail), b (detail)` of the failed checks.
pub fn failures(results: &[ProbeResult]) -> Option<String> {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{} ({})", r.service, r.detail))
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "{} of {} health checks failed: {}",
            failed.len(),
            results.len(),
            failed.join(", ")
        )
    })
}

/// Checks a run's target against the env: a service of the env, or the
/// name of what its provider deploys.
pub fn check_target(engine: &Engine, run: &Run) -> Result<(String, EnvConfig), PhaseError> {
    let env = run
        .env
        .as_deref()
        .ok_or_else(|| PhaseError::permanent(format!("{} needs an env", run.runbook)))?;
    let (name, config) = engine.config.env(env).ok_or_else(|| {
        PhaseError::permanent(format!(
            "unknown env `{env}`; configured: {}",
            engine.config.env_names().join(", ")
        ))
    })?;
    if let Some(target) = run.target.as_deref() {
        let mut known: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
        if let Some(n) = config.deploy.as_ref().and_then(|d| d.deployable_name()) {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(n)) {
                known.push(n);
            }
        }
        if !known.iter().any(|k| k.eq_ignore_ascii_case(target)) {
            return Err(PhaseError::permanent(format!(
                "unknown target `{target}` in env {name}; known: {}",
                if known.is_empty() {
                    "none (leave the target out to deploy the env's project)".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    Ok((name.to_string(), config.clone()))
}

/// The env's deploy table: an env without one can neither deploy nor roll
/// back (checked in validate, before anything is contacted).
pub fn deploy_config<'a>(name: &str, env: &'a EnvConfig) -> Result<&'a DeployConfig, PhaseError> {
    env.deploy.as_ref().ok_or_else(|| {
        PhaseError::permanent(format!(
            "env {name} has no deploy provider; add [environments.{name}.deploy] with provider = \"vercel\", \"github_actions\", \"digitalocean\" or \"shell\" to opsroom.toml"
        ))
    })
}

/// Milliseconds as `1.2 s` / `3 min 4 s` for summaries.
/// Keeps a run's first failure for its summary.
pub fn note_failure(error: &mut Option<String>, phase: Phase, result: &Result<(), PhaseError>) {
    if let Err(e) = result {
        error.get_or_insert_with(|| format!("phase {phase} failed: {}", e.message));
    }
}

/// The health results as a markdown section for a summary; empty if none.
pub fn health_markdown(after: &str, results: &[ProbeResult]) -> String {
    if results.is_empty() {
        return String::new();
    }
    let mut md =
        format!("\n## Health after the {after}\n\n| check | result | detail |\n|---|---|---|\n");
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            r.service,
            if r.ok { "✅ ok" } else { "❌ failed" },
            r.detail.replace('|', "\\|")
        ));
    }
    md
}

pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
