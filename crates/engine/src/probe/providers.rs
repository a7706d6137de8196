//! What a provider says about a service, read through its API with a
//! credential from `[secrets]`: a Vercel project's latest deployment, a
//! DigitalOcean app's active and in-progress deployments, a Supabase
//! project's status and the health of its services.
//!
//! Tokens stay inside the adapters' clients; the texts written here come
//! from [`ApiError`] (which never holds a token) and the providers' answers.

use super::Outcome;
use crate::config::{OpsConfig, ProbeConfig};
use opsroom_adapters::digitalocean::{
    AppDeployment, DeploymentPhase, DigitalOceanClient, DigitalOceanConfig,
};
use opsroom_adapters::follow::Observed;
use opsroom_adapters::supabase::{Service, SupabaseClient, SupabaseConfig};
use opsroom_adapters::vercel::{
    DeploymentSummary, ListDeployments, ReadyState, VercelClient, VercelConfig,
};
use opsroom_adapters::{ApiError, HttpOptions, RetryPolicy, Secret};
use std::time::Duration;

/// How many of a Vercel project's deployments to `target` are read: the
/// latest one decides, the others tell which one was READY before it.
const VERCEL_DEPLOYMENTS_READ: u32 = 20;

/// Probes a `vercel`, `digitalocean` or `supabase` service; `ops` holds
/// the credentials. Any other kind is a failure (the caller routes those).
pub(super) async fn probe(config: &ProbeConfig, ops: &OpsConfig) -> Outcome {
    let result = match config {
        ProbeConfig::Vercel {
            project,
            team_id,
            target,
            token_secret,
            base_url,
            timeout_ms,
        } => {
            let access = Access::new(ops, token_secret, base_url, *timeout_ms);
            vercel(access, project, team_id, target).await
        }
        ProbeConfig::Digitalocean {
            app_id,
            token_secret,
            base_url,
            timeout_ms,
        } => {
            digitalocean(
                Access::new(ops, token_secret, base_url, *timeout_ms),
                app_id,
            )
            .await
        }
        ProbeConfig::Supabase {
            project_ref,
            services,
            token_secret,
            base_url,
            timeout_ms,
        } => {
            let access = Access::new(ops, token_secret, base_url, *timeout_ms);
            supabase(access, project_ref, services).await
        }
        other => Err(format!("{} is not a provider kind", other.kind())),
    };
    result.unwrap_or_else(Outcome::failed)
}

/// A provider's credential, API root and transport settings for one probe.
struct Access {
    /// The `[secrets]` entry, named in messages instead of its value.
    credential: String,
    token: Secret,
    base_url: Option<String>,
    http: HttpOptions,
}

impl Access {
    fn new(
        ops: &OpsConfig,
        token_secret: &Option<String>,
        base_url: &Option<String>,
        timeout_ms: u64,
    ) -> Result<Access, String> {
        let credential = token_secret
            .clone()
            .ok_or("no token_secret configured for this service")?;
        let token = ops.secret(&credential).map_err(|e| e.to_string())?;
        let timeout = Duration::from_millis(timeout_ms.max(1));
        Ok(Access {
            credential,
            token,
            base_url: base_url.clone(),
            http: HttpOptions {
                timeout,
                connect_timeout: timeout.min(Duration::from_secs(10)),
                // One retry: a health check answers for now, and a provider
                // still failing on the second try is what it reports.
                retry: RetryPolicy {
                    max_attempts: 2,
                    ..RetryPolicy::default()
                },
                user_agent: concat!("opsroom-healthcheck/", env!("CARGO_PKG_VERSION")).to_owned(),
            },
        })
    }

    /// What a failed call says: the provider's reason, and on 401/403 the
    /// credential to check.
    fn failure(&self, e: &ApiError) -> String {
        if e.is_auth() {
            format!(
                "{e}; the provider rejected credential `{0}`: check the token that secrets.{0} points at",
                self.credential
            )
        } else {
            e.to_string()
        }
    }
}

fn required<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, String> {
    value
        .as_deref()
        .ok_or_else(|| format!("no {what} configured for this service"))
}

/// The latest deployment of a Vercel project to `target` (production
/// unless set): READY is healthy, ERROR and CANCELED are not, one still
/// queued or building is degraded (the one before it keeps serving).
async fn vercel(
    access: Result<Access, String>,
    project: &Option<String>,
    team_id: &Option<String>,
    target: &Option<String>,
) -> Result<Outcome, String> {
    let project = required(project, "Vercel project")?;
    let target = target.as_deref().unwrap_or("production");
    let access = access?;
    let mut config = VercelConfig::new(access.token.clone());
    config.team_id.clone_from(team_id);
    config.http = access.http.clone();
    if let Some(url) = &access.base_url {
        config.base_url.clone_from(url);
    }
    let client = VercelClient::new(config).map_err(|e| e.to_string())?;
    let query = ListDeployments {
        project_id: Some(project.to_string()),
        target: Some(target.to_string()),
        limit: Some(VERCEL_DEPLOYMENTS_READ),
        ..ListDeployments::default()
    };
    let mut deployments = client
        .list_deployments(&query)
        .await
        .map_err(|e| access.failure(&e))?
        .deployments;
    // The API lists newest first; sorting keeps that if it ever does not.
    deployments.sort_by_key(|d| std::cmp::Reverse(d.created));
    let Some(latest) = deployments.first() else {
        return Ok(Outcome::failed(format!(
            "project {project} has no {target} deployment"
        )));
    };
    let state = latest
        .status()
        .cloned()
        .unwrap_or_else(|| ReadyState::Other("UNKNOWN".into()));
    let about = format!("latest {target} deployment {}", vercel_label(latest));
    let before = match deployments[1..]
        .iter()
        .find(|d| d.status() == Some(&ReadyState::Ready))
    {
        Some(ready) => format!("; the newest READY one is {}", vercel_label(ready)),
        None => format!("; none of the {} before it is READY", deployments.len() - 1),
    };
    let outcome = match &state {
        ReadyState::Ready => Outcome::ok(format!("{about} is READY")),
        ReadyState::Error => {
            // The list does not say why; the deployment itself does.
            let reason = client
                .get_deployment(&latest.uid)
                .await
                .ok()
                .and_then(|d| d.error_message)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            Outcome::failed(format!("{about} is ERROR{reason}{before}"))
        }
        ReadyState::Canceled => Outcome::failed(format!("{about} was CANCELED{before}")),
        ReadyState::Queued | ReadyState::Initializing | ReadyState::Building => {
            Outcome::degraded(format!("{about} is {state}, not live yet{before}"))
        }
        ReadyState::Other(s) => Outcome::degraded(format!(
            "{about} is in a state opsroom does not know ({s}){before}"
        )),
    };
    Ok(outcome.with_state(state.to_string()))
}

/// `dpl_1 (main)`: the id and the git ref it was built from, when known.
fn vercel_label(d: &DeploymentSummary) -> String {
    let git_ref = d
        .meta
        .iter()
        .find(|(key, _)| key.ends_with("CommitRef"))
        .and_then(|(_, v)| v.as_str());
    match git_ref {
        Some(r) => format!("{} ({r})", d.uid),
        None => d.uid.clone(),
    }
}

/// A DigitalOcean app: healthy when its active deployment is ACTIVE,
/// degraded while a newer deployment is in progress.
async fn digitalocean(
    access: Result<Access, String>,
    app_id: &Option<String>,
) -> Result<Outcome, String> {
    let app_id = required(app_id, "DigitalOcean app_id")?;
    let access = access?;
    let mut config = DigitalOceanConfig::new(access.token.clone());
    config.http = access.http.clone();
    if let Some(url) = &access.base_url {
        config.base_url.clone_from(url);
    }
    let client = DigitalOceanClient::new(config).map_err(|e| e.to_string())?;
    let app = client
        .get_app(app_id)
        .await
        .map_err(|e| access.failure(&e))?;
    let name = match app.name() {
        "" => app_id,
        name => name,
    };
    let newer = app
        .in_progress_deployment
        .as_ref()
        .map(in_progress_text)
        .unwrap_or_default();
    let Some(active) = &app.active_deployment else {
        return Ok(Outcome::failed(format!(
            "app {name} has no active deployment{newer}"
        )));
    };
    let commit = active
        .source_commit()
        .map(|c| format!(", commit {c}"))
        .unwrap_or_default();
    let about = format!(
        "app {name}: active deployment {}{commit} is {}",
        active.id,
        active.status_label()
    );
    let outcome = if active.phase != DeploymentPhase::Active {
        Outcome::failed(format!("{about}, not ACTIVE{newer}"))
    } else if app.in_progress_deployment.is_some() {
        Outcome::degraded(format!("{about}{newer}"))
    } else {
        Outcome::ok(about)
    };
    Ok(outcome.with_state(active.phase.to_string()))
}

fn in_progress_text(d: &AppDeployment) -> String {
    match d.phase {
        DeploymentPhase::Error | DeploymentPhase::Canceled => {
            format!("; the newer deployment {} ended {}", d.id, d.status_label())
        }
        _ => format!("; deployment {} is rolling out: {}", d.id, d.status_label()),
    }
}

/// A Supabase project: its status, then the health of its services.
/// Paused, removed or failed projects are unhealthy without asking the
/// services; a project in transition (coming up, restoring, resizing) is
/// at best degraded.
async fn supabase(
    access: Result<Access, String>,
    project_ref: &Option<String>,
    services: &[String],
) -> Result<Outcome, String> {
    let project_ref = required(project_ref, "Supabase project_ref")?;
    let asked = services
        .iter()
        .map(|name| {
            Service::from_name(name).ok_or_else(|| format!("unknown Supabase service `{name}`"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let access = access?;
    let mut config = SupabaseConfig::new(access.token.clone());
    config.http = access.http.clone();
    if let Some(url) = &access.base_url {
        config.base_url.clone_from(url);
    }
    let client = SupabaseClient::new(config).map_err(|e| e.to_string())?;
    let project = client
        .get_project(project_ref)
        .await
        .map_err(|e| access.failure(&e))?;
    let region = match project.region.as_str() {
        "" => String::new(),
        region => format!(" ({region})"),
    };
    let about = format!("project {}{region} is {}", project.name, project.status);
    let unsettled = !project.is_terminal();
    let answering = project.is_healthy() || project.status == "ACTIVE_UNHEALTHY" || unsettled;
    if !answering {
        let hint = if project.status == "INACTIVE" {
            " (paused: restore it from the Supabase dashboard)"
        } else {
            ""
        };
        return Ok(Outcome::failed(format!("{about}{hint}")).with_state(project.status));
    }
    let health = client
        .health(project_ref, &asked)
        .await
        .map_err(|e| access.failure(&e))?;
    let mut healthy = Vec::new();
    let mut coming_up = Vec::new();
    let mut unhealthy = Vec::new();
    for s in &health {
        if s.healthy {
            healthy.push(s.name.clone());
        } else if s.status == "COMING_UP" {
            coming_up.push(s.name.clone());
        } else {
            unhealthy.push(match &s.error {
                Some(e) => format!("{} {}: {e}", s.name, s.status),
                None => format!("{} {}", s.name, s.status),
            });
        }
    }
    let asked = if asked.is_empty() {
        Service::ALL.to_vec()
    } else {
        asked
    };
    for service in asked {
        if !health.iter().any(|s| s.name == service.as_str()) {
            unhealthy.push(format!("{} not reported", service.as_str()));
        }
    }
    let mut parts = vec![about];
    if !unhealthy.is_empty() {
        parts.push(format!("unhealthy: {}", unhealthy.join("; ")));
    }
    if !coming_up.is_empty() {
        parts.push(format!("coming up: {}", coming_up.join(", ")));
    }
    if !healthy.is_empty() {
        parts.push(format!("healthy: {}", healthy.join(", ")));
    }
    let detail = parts.join("; ");
    let outcome = if !unhealthy.is_empty() || project.status == "ACTIVE_UNHEALTHY" {
        Outcome::failed(detail)
    } else if !coming_up.is_empty() || unsettled {
        Outcome::degraded(detail)
    } else {
        Outcome::ok(detail)
    };
    Ok(outcome.with_state(project.status))
}
