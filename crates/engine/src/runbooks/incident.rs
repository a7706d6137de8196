//! `incident`: reads the window's logs of the env's services (the target,
//! or every service with a `logs` source), mines them into patterns,
//! ranks the patterns most urgent first against a baseline of the same
//! length before the window, ties each to the deploy that went live just
//! before its first line (opsroom's deploy runs merged with the env
//! provider's own deployment list, so a git push is a suspect too; a list
//! that cannot be read is a note in the report), and writes `triage.md`
//! and `triage.json` with a proposed remediation (a rollback of the suspect deploy) and the
//! other runs that can follow (`remediations`: the rollback, and with
//! `[incident]` a pull request reverting the suspect's commits or an issue
//! with the report; see [`super::incident_pr`]).

pub mod suspects;
pub mod triage;

use super::deploy::typed_params;
use super::deploy_checks::check_target;
use super::provider::{DeployProvider, Deployment, DEPLOYED_EVENT};
use crate::config::{vercel_project, EnvConfig, LogSourceConfig};
use crate::logs::sources;
use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::Engine;
use opsroom_adapters::vercel::{VercelClient, VercelConfig};
use opsroom_adapters::{LiveDeployment, Secret};
use opsroom_core::{ArtifactKind, EventLevel, Phase, RunStatus};
use opsroom_store::{EventsListParams, Run, RunListParams};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Duration;
use triage::{Intake, SourceReport, Suspect, Triage, Window, WindowView};

/// How long Vercel's runtime log stream of one deployment is read at most.
const VERCEL_STREAM: Duration = Duration::from_secs(20);

/// The incident runbook's params, as the catalog declares them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentParams {
    since_minutes: i64,
    log_source: String,
    max_lines: u64,
}

/// One service's source, ready to read.
struct Source {
    service: String,
    config: LogSourceConfig,
    /// Files a `file` source's glob matched (in preflight).
    files: Vec<PathBuf>,
    /// The bearer token of an `http` source.
    token: Option<Secret>,
    vercel: Option<(VercelClient, crate::config::VercelLogsProject)>,
}

/// One incident run.
pub struct Incident {
    env: String,
    config: EnvConfig,
    target: Option<String>,
    params: IncidentParams,
    sources: Vec<Source>,
    deploys: Vec<Suspect>,
    /// What the triage went on without, for the report.
    notes: Vec<String>,
    triage: Option<Triage>,
    /// Window lines mined, by the intakes' count, to check the report.
    mined: u64,
}

impl Incident {
    pub fn new(
        engine: &Engine,
        run: &Run,
        params: &Map<String, Value>,
    ) -> Result<Self, PhaseError> {
        let (env, config) = check_target(engine, run)?;
        Ok(Incident {
            env,
            config,
            target: run.target.clone(),
            params: typed_params(params)?,
            sources: Vec::new(),
            deploys: Vec::new(),
            notes: Vec::new(),
            triage: None,
            mined: 0,
        })
    }

    /// The services to read, with their sources; an error says how to
    /// configure one when there is none.
    fn plan(&self, ctx: &mut RunContext) -> Result<Vec<Source>, PhaseError> {
        let engine = ctx.engine().clone();
        let how = format!(
            "add logs = {{ kind = \"file\", path = \"/var/log/app/*.log\" }} (or kind = \"command\", \"http\", \"vercel\") to the service under [[environments.{}.services]] in opsroom.toml",
            self.env
        );
        let chosen: Vec<_> = match &self.target {
            Some(target) => {
                let svc = self
                    .config
                    .services
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(target));
                match svc {
                    Some(s) if s.logs.is_some() => vec![s],
                    _ => {
                        return Err(PhaseError::permanent(format!(
                            "service {target} on {} has no log source; {how}",
                            self.env
                        )))
                    }
                }
            }
            None => self
                .config
                .services
                .iter()
                .filter(|s| s.logs.is_some())
                .collect(),
        };
        let wanted = self.params.log_source.as_str();
        let chosen: Vec<_> = chosen
            .into_iter()
            .filter(|s| wanted == "auto" || s.logs.as_ref().is_some_and(|l| l.kind() == wanted))
            .collect();
        if chosen.is_empty() {
            return Err(PhaseError::permanent(if wanted == "auto" {
                format!("no service on {} has a log source; {how}", self.env)
            } else {
                format!(
                    "no service{} on {} has a log source of kind {wanted}",
                    self.target
                        .as_deref()
                        .map(|t| format!(" {t}"))
                        .unwrap_or_default(),
                    self.env
                )
            }));
        }
        let mut out = Vec::new();
        for svc in chosen {
            let config = svc.logs.clone().expect("filtered on logs");
            let mut source = Source {
                service: svc.name.clone(),
                config: config.clone(),
                files: Vec::new(),
                token: None,
                vercel: None,
            };
            let secret = |name: &str| {
                engine
                    .config
                    .secret(name)
                    .map_err(|e| PhaseError::permanent(format!("logs of {}: {e}", svc.name)))
            };
            match &config {
                LogSourceConfig::Http {
                    token_secret: Some(name),
                    ..
                } => {
                    let token = secret(name)?;
                    ctx.add_secret(&token);
                    source.token = Some(token);
                }
                LogSourceConfig::Vercel {} => {
                    let project = vercel_project(&self.config).ok_or_else(|| {
                        PhaseError::permanent(format!(
                            "logs of {}: env {} has no Vercel project",
                            svc.name, self.env
                        ))
                    })?;
                    let token = secret(&project.token_secret)?;
                    ctx.add_secret(&token);
                    let mut cfg = VercelConfig::new(token);
                    cfg.team_id.clone_from(&project.team_id);
                    if let Some(url) = &project.base_url {
                        cfg.base_url.clone_from(url);
                    }
                    let client = VercelClient::new(cfg).map_err(|e| {
                        PhaseError::permanent(format!("cannot set up the Vercel client: {e}"))
                    })?;
                    source.vercel = Some((client, project));
                }
                _ => {}
            }
            out.push(source);
        }
        Ok(out)
    }

    /// Deploy runs of this env that succeeded, newest first, with what
    /// each made live.
    async fn load_deploys(&self, ctx: &RunContext) -> Result<Vec<Suspect>, PhaseError> {
        let store = &ctx.engine().store;
        let workspace = &ctx.run().workspace_id;
        let runs = store
            .run_list(RunListParams {
                workspace_id: workspace.clone(),
                status: Some(RunStatus::Succeeded),
                env: Some(self.env.clone()),
                runbook: Some("deploy".into()),
                session_id: None,
                before: None,
                limit: 50,
                ..Default::default()
            })
            .await
            .map_err(|e| PhaseError::retryable(format!("reading deploy history: {e}")))?;
        let mut out = Vec::new();
        for run in runs {
            let Some(finished_at) = run.finished_at else {
                continue;
            };
            let events = store
                .events_list(EventsListParams::new(workspace, run.id, 10_000))
                .await
                .map_err(|e| PhaseError::retryable(format!("reading deploy history: {e}")))?;
            let deployed = events
                .iter()
                .rev()
                .find(|e| e.data["kind"] == DEPLOYED_EVENT)
                .and_then(|e| {
                    serde_json::from_value::<Deployment>(e.data["deployment"].clone()).ok()
                });
            let git_ref = deployed
                .as_ref()
                .and_then(|d| d.git_ref.clone())
                .or_else(|| run.params["ref"].as_str().map(String::from));
            let commit = deployed.as_ref().and_then(|d| d.commit.clone());
            let url = deployed.as_ref().and_then(|d| d.url.clone());
            out.push(Suspect {
                run_id: Some(run.id),
                deployment: deployed.map(|d| d.id),
                git_ref,
                finished_at,
                source: triage::FROM_OPSROOM.into(),
                commit,
                url,
                target: run.target.clone(),
                started_at: run.started_at,
            });
        }
        Ok(out)
    }

    /// The env's deploy provider's own list of what went live (git pushes
    /// and CI deploys included): `Ok(None)` when the env has no provider or
    /// one without a list; an error is a note for the report, never a
    /// failed triage.
    async fn provider_deploys(
        &self,
        ctx: &mut RunContext,
    ) -> Result<Option<(&'static str, Vec<LiveDeployment>)>, String> {
        let Some(deploy) = &self.config.deploy else {
            return Ok(None);
        };
        let name = deploy.provider();
        let failed = |e: PhaseError| {
            format!(
                "the {name} deployment list could not be read, so only deploys opsroom ran are suspects: {}",
                e.message
            )
        };
        let provider =
            DeployProvider::new(ctx, &self.env, self.target.as_deref()).map_err(failed)?;
        Ok(provider
            .went_live()
            .await
            .map_err(failed)?
            .map(|l| (name, l)))
    }

    /// Reads one source into `intake`; an error says what could not be read.
    async fn read(
        source: &Source,
        window: Window,
        mut intake: Intake,
    ) -> (Intake, Result<String, String>) {
        match &source.config {
            LogSourceConfig::File { .. } => {
                let files = source.files.clone();
                let joined = tokio::task::spawn_blocking(move || {
                    let result = sources::read_files(&files, &mut intake);
                    (intake, result.map(|()| files.len()))
                })
                .await;
                match joined {
                    Ok((intake, result)) => (
                        intake,
                        result.map(|n| format!("{n} file{}", if n == 1 { "" } else { "s" })),
                    ),
                    Err(e) => (
                        Intake::new(window, window.from, 0),
                        Err(format!("reading files: {e}")),
                    ),
                }
            }
            LogSourceConfig::Command { argv, timeout_ms } => {
                let result =
                    sources::read_command(argv, Duration::from_millis(*timeout_ms), &mut intake)
                        .await;
                (intake, result.map(|()| format!("`{}`", argv[0])))
            }
            LogSourceConfig::Http {
                url, timeout_ms, ..
            } => {
                let url = sources::http_url(url, window.baseline_from);
                let result = sources::read_http(
                    &url,
                    source.token.as_ref(),
                    Duration::from_millis(*timeout_ms),
                    &mut intake,
                )
                .await;
                (intake, result.map(|()| url))
            }
            LogSourceConfig::Vercel {} => {
                let Some((client, project)) = &source.vercel else {
                    return (intake, Err("the Vercel client was not set up".into()));
                };
                let result = sources::read_vercel(
                    client,
                    project,
                    window.baseline_from,
                    VERCEL_STREAM,
                    &mut intake,
                )
                .await;
                (
                    intake,
                    result
                        .map(|ids| format!("Vercel deployments {}", ids.join(", ")))
                        .map_err(|e| format!("Vercel runtime logs of {}: {e}", project.project)),
                )
            }
        }
    }

    async fn triage(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let window = Window::last(ctx.now(), self.params.since_minutes);
        let mut patterns = Vec::new();
        let mut reports = Vec::new();
        let mut next_id = 0u32;
        let (mut lines, mut skipped) = (0, 0);
        let per_source = (self.params.max_lines / self.sources.len() as u64).max(1);
        for source in &self.sources {
            // "New" is measured from the last deploy in the window, if any.
            let cutoff = triage::suspect_for(&self.deploys, &source.service, Some(window.to))
                .map(|d| d.finished_at)
                .filter(|t| *t > window.from)
                .unwrap_or(window.from);
            let intake = Intake::new(window, cutoff, per_source);
            let (intake, result) = Self::read(source, window, intake).await;
            let error = result.as_ref().err().map(|e| ctx.redact(e));
            match &result {
                Ok(what) => ctx.log(
                    EventLevel::Info,
                    format!(
                        "{}: {} lines in the window, {} in the baseline, {} skipped, {} outside both, from {what}{}",
                        source.service,
                        intake.lines,
                        intake.baseline_lines,
                        intake.skipped,
                        intake.outside,
                        if intake.truncated { " (stopped at the line limit)" } else { "" }
                    ),
                ),
                Err(e) => ctx.log(
                    EventLevel::Error,
                    format!("{}: cannot read its logs: {e}", source.service),
                ),
            }
            let (found, next) = intake.patterns(&source.service, next_id);
            next_id = next;
            lines += intake.lines;
            skipped += intake.skipped;
            self.mined += intake.lines;
            patterns.extend(found);
            reports.push(SourceReport {
                service: source.service.clone(),
                kind: source.config.kind(),
                lines: intake.lines,
                skipped: intake.skipped,
                truncated: intake.truncated,
                error,
            });
            ctx.flush().await;
        }
        if reports.iter().all(|r| r.error.is_some()) {
            let why: Vec<String> = reports
                .iter()
                .map(|r| format!("{}: {}", r.service, r.error.as_deref().unwrap_or_default()))
                .collect();
            return Err(PhaseError::permanent(format!(
                "no log source could be read ({})",
                why.join("; ")
            )));
        }
        triage::rank(&mut patterns);
        for p in &mut patterns {
            p.suspect = triage::suspect_for(&self.deploys, &p.service, p.first_seen);
        }
        let remediation =
            triage::remediation(&self.env, self.target.as_deref(), &patterns, &self.deploys);
        let repo = ctx
            .engine()
            .config
            .incident
            .as_ref()
            .map(|c| triage::FixRepo {
                github: c.github.is_some(),
            });
        let remediations = triage::remediations(
            &self.env,
            ctx.run().id,
            self.target.as_deref(),
            &patterns,
            &self.deploys,
            repo,
        );
        if let Some(top) = patterns.first() {
            ctx.log_data(
                EventLevel::Info,
                format!(
                    "most urgent: {} ×{} ({}{}): {}",
                    top.level.map(|l| l.as_str()).unwrap_or("-"),
                    top.count,
                    if top.new { "new" } else { "known" },
                    top.suspect
                        .as_ref()
                        .map(|s| format!(", after {}", s.label()))
                        .unwrap_or_default(),
                    top.template
                ),
                json!({"kind": "triage_top", "pattern": top.id}),
            );
        }
        self.triage = Some(Triage {
            window: WindowView {
                from: window.from,
                to: window.to,
            },
            env: self.env.clone(),
            target: self.target.clone(),
            lines,
            skipped,
            patterns,
            remediation,
            remediations,
            sources: reports,
            notes: self.notes.clone(),
        });
        Ok(())
    }

    async fn run_phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        match phase {
            Phase::Validate => {
                self.sources = self.plan(ctx)?;
                let names: Vec<String> = self
                    .sources
                    .iter()
                    .map(|s| format!("{} ({})", s.service, s.config.kind()))
                    .collect();
                ctx.log(
                    EventLevel::Info,
                    format!(
                        "reading the last {} minutes of {} on {}",
                        self.params.since_minutes,
                        names.join(", "),
                        self.env
                    ),
                );
                Ok(())
            }
            Phase::Preflight => {
                for source in &mut self.sources {
                    if let LogSourceConfig::File { path } = &source.config {
                        source.files = sources::expand_glob(path).map_err(|e| {
                            PhaseError::permanent(format!("logs of {}: {e}", source.service))
                        })?;
                        if let Some(missing) = source.files.iter().find(|f| !f.is_file()) {
                            return Err(PhaseError::permanent(format!(
                                "logs of {}: cannot open {}: no such file",
                                source.service,
                                missing.display()
                            )));
                        }
                    }
                }
                let ours = self.load_deploys(ctx).await?;
                ctx.log(
                    EventLevel::Info,
                    format!(
                        "{} successful deploy run{} of {} in opsroom's history",
                        ours.len(),
                        if ours.len() == 1 { "" } else { "s" },
                        self.env
                    ),
                );
                self.deploys = match self.provider_deploys(ctx).await {
                    Ok(Some((provider, listed))) => {
                        let merged = triage::merge_deploys(ours, provider, listed);
                        let outside = merged.iter().filter(|d| d.run_id.is_none()).count();
                        ctx.log(
                            EventLevel::Info,
                            format!(
                                "the {provider} deployment list adds {outside} deploy{} made outside opsroom",
                                if outside == 1 { "" } else { "s" }
                            ),
                        );
                        merged
                    }
                    Ok(None) => ours,
                    Err(note) => {
                        let note = ctx.redact(&note);
                        ctx.log(EventLevel::Warn, note.clone());
                        self.notes.push(note);
                        ours
                    }
                };
                Ok(())
            }
            Phase::Action => self.triage(ctx).await,
            Phase::Verify => {
                let triage = self
                    .triage
                    .as_ref()
                    .ok_or_else(|| PhaseError::permanent("no triage was made"))?;
                let covered: u64 = triage.patterns.iter().map(|p| p.count).sum();
                if covered != self.mined {
                    return Err(PhaseError::permanent(format!(
                        "the report covers {covered} of the {} lines mined",
                        self.mined
                    )));
                }
                let errors = triage
                    .patterns
                    .iter()
                    .filter(|p| p.level.is_some_and(|l| l >= opsroom_patterns::Level::Error))
                    .count();
                ctx.log(
                    EventLevel::Info,
                    format!(
                        "the report covers all {covered} lines: {} patterns, {errors} of them errors",
                        triage.patterns.len()
                    ),
                );
                Ok(())
            }
            Phase::Summarize => {
                let Some(triage) = &self.triage else {
                    return Ok(());
                };
                let json = serde_json::to_string_pretty(triage)
                    .map_err(|e| PhaseError::permanent(format!("writing triage.json: {e}")))?;
                ctx.artifact(ArtifactKind::Markdown, "triage.md", triage.markdown())
                    .await?;
                ctx.artifact(ArtifactKind::Json, "triage.json", json)
                    .await?;
                Ok(())
            }
        }
    }
}

#[async_trait::async_trait]
impl Execution for Incident {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        self.run_phase(phase, ctx).await
    }
}
