//! From what a client asked for (command text, or runbook + env) to a run
//! that can be enqueued: parse, look up the runbook, check env, target and
//! params, plan the phases, decide risk, approval and locks.

use crate::error::ApiError;
use crate::routes::runs::insert_params;
use crate::views::ValidationError;
use opsroom_core::new_run::{RunWhat, Target};
use opsroom_core::parser::{self, EnvInfo, ParseContext, Parsed};
use opsroom_core::{NewRun, NewRunError, Risk, RunbookSpec};
use opsroom_engine::{runbooks, Engine};
use serde_json::{json, Map, Value};

/// What to resolve: the parts of a checked [`NewRun`] that need this
/// server's catalog and config.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub what: RunWhat,
    pub env: Option<String>,
    pub target: Option<Target>,
    pub params: Map<String, Value>,
}

impl From<&NewRun> for RunRequest {
    fn from(run: &NewRun) -> Self {
        RunRequest {
            what: run.what.clone(),
            env: run.env.clone(),
            target: run.target.clone(),
            params: run.params.clone(),
        }
    }
}

impl From<NewRunError> for ApiError {
    fn from(e: NewRunError) -> Self {
        ApiError::unprocessable(e.code, e.message)
    }
}

/// A checked request: everything needed to enqueue or preview it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub runbook: String,
    pub env: Option<String>,
    pub target: Option<String>,
    pub params: Map<String, Value>,
    pub plan: Value,
    pub risk: Risk,
    pub needs_approval: bool,
    pub confidence: f64,
}

impl Resolved {
    /// The env lock of a write run: one at a time per env and target.
    pub fn lock_key(&self) -> Option<String> {
        (self.risk == Risk::Write).then(|| {
            format!(
                "{}/{}",
                self.env.as_deref().unwrap_or("-"),
                self.target.as_deref().unwrap_or("*")
            )
        })
    }

    /// Read-only runs may retry; write runs run once unless asked otherwise.
    pub fn default_max_attempts(&self) -> i32 {
        match self.risk {
            Risk::Read => 3,
            Risk::Write => 1,
        }
    }
}

/// The parser's view of this server's config.
pub struct ParseEnv {
    envs: Vec<EnvInfo>,
    services: Vec<String>,
}

impl ParseEnv {
    pub fn new(engine: &Engine) -> Self {
        let envs = engine
            .config
            .environments
            .iter()
            .map(|(name, e)| EnvInfo {
                name: name.clone(),
                aliases: e.aliases.iter().map(|a| a.to_ascii_lowercase()).collect(),
            })
            .collect();
        let mut services: Vec<String> = engine
            .config
            .environments
            .values()
            .flat_map(|e| e.services.iter().map(|s| s.name.to_ascii_lowercase()))
            .collect();
        services.sort();
        services.dedup();
        ParseEnv { envs, services }
    }

    pub fn parse(&self, engine: &Engine, text: &str) -> Result<Parsed, ApiError> {
        let ctx = ParseContext {
            catalog: &engine.catalog,
            envs: &self.envs,
            services: &self.services,
            default_env: None,
        };
        parser::parse(text, &ctx)
            .map_err(|e| ApiError::unprocessable("invalid_text", e.to_string()))
    }
}

/// Checks a request and plans it. Text that is not understood is refused
/// with the parser's questions and alternatives.
pub fn resolve(
    engine: &Engine,
    parse_env: &ParseEnv,
    req: RunRequest,
) -> Result<Resolved, ApiError> {
    let (runbook, mut env, mut target, mut params, confidence) = match &req.what {
        RunWhat::Text(text) => {
            let parsed = parse_env.parse(engine, text)?;
            if parsed.intent == "none" || !parsed.questions.is_empty() {
                let message = if parsed.intent == "none" {
                    format!("could not understand {text:?}")
                } else {
                    format!("{text:?} needs more detail before it can run")
                };
                return Err(ApiError::Unprocessable {
                    code: "not_understood",
                    message,
                    extra: json!({"questions": parsed.questions, "alternatives": parsed.alternatives, "parsed": parsed}),
                });
            }
            (
                parsed.intent,
                parsed.env,
                parsed.target,
                parsed.params,
                parsed.confidence,
            )
        }
        RunWhat::Runbook(rb) => (rb.clone(), None, None, Map::new(), 1.0),
    };
    // Explicit fields win over what the text said.
    if req.env.is_some() {
        env = req.env.clone();
    }
    if let Some(t) = req.target {
        target = Some(t.into_inner());
    }
    params.extend(req.params);

    let spec: &RunbookSpec = engine.catalog.get(&runbook).ok_or_else(|| {
        ApiError::unprocessable(
            "unknown_runbook",
            format!(
                "unknown runbook `{runbook}`; known: {}",
                engine.catalog.names().join(", ")
            ),
        )
    })?;
    if !runbooks::is_implemented(&engine.catalog, &spec.name) {
        return Err(ApiError::unprocessable(
            "runbook_unavailable",
            format!(
                "runbook `{}` is in the catalog but this server cannot execute it yet; available: {}",
                spec.name,
                runbooks::IMPLEMENTED.join(", ")
            ),
        ));
    }
    let env = match env {
        Some(e) => Some(
            engine
                .config
                .env(&e)
                .map(|(name, _)| name.to_string())
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "unknown_env",
                        format!(
                            "unknown env `{e}`; configured: {}",
                            engine.config.env_names().join(", ")
                        ),
                    )
                })?,
        ),
        None if spec.needs_env => {
            return Err(ApiError::unprocessable(
                "missing_env",
                format!(
                    "runbook `{}` needs an env; configured: {}",
                    spec.name,
                    engine.config.env_names().join(", ")
                ),
            ))
        }
        None => None,
    };
    // A target read from the text obeys the same rule as an explicit one.
    let target = target
        .map(|t| Target::parse(t).map(Target::into_inner))
        .transpose()?;
    let params = spec
        .validate_params(&params)
        .map_err(|e| ApiError::unprocessable("invalid_params", e.to_string()))?;
    let risk = effective_risk(spec, &params);
    let needs_approval = needs_approval(engine, risk, env.as_deref());
    let plan =
        serde_json::to_value(spec.plan(env.as_deref(), target.as_deref())).unwrap_or(Value::Null);
    Ok(Resolved {
        runbook: spec.name.clone(),
        env,
        target,
        params,
        plan,
        risk,
        needs_approval,
        confidence,
    })
}

/// Whether a request would run, as `POST /api/v1/parse` and Slack's plan
/// card judge it before offering to: the checks of `POST /api/v1/runs`
/// ([`resolve`]), then those of the worker's validate phase on the run that
/// would be stored. `Ok(Err(_))` says what refuses it.
pub(crate) fn preview(
    engine: &Engine,
    parse_env: &ParseEnv,
    request: RunRequest,
) -> Result<Result<Resolved, ValidationError>, ApiError> {
    let refused = |code: &str, message: String| {
        Ok(Err(ValidationError {
            code: code.to_string(),
            message,
        }))
    };
    let resolved = match resolve(engine, parse_env, request) {
        Ok(r) => r,
        Err(ApiError::Unprocessable { code, message, .. }) => return refused(code, message),
        Err(e) => return Err(e),
    };
    let run = insert_params(engine, resolved.clone(), "preview".into(), None).unsaved_run();
    match runbooks::validate(engine, &run) {
        Ok(()) => Ok(Ok(resolved)),
        Err(e) => refused("invalid_run", e.message),
    }
}

/// A write runbook with an `apply` switch (schema_sync) only reads until
/// the run sets it: its diff is read-only, its apply is the write.
pub fn effective_risk(spec: &RunbookSpec, params: &serde_json::Map<String, Value>) -> Risk {
    let has_switch = spec.params.iter().any(|p| p.name == "apply");
    if spec.risk == Risk::Write && has_switch && params.get("apply") != Some(&Value::Bool(true)) {
        Risk::Read
    } else {
        spec.risk
    }
}

/// Whether a run waits for approval: a write to an env whose policy says
/// so, or a write with no env at all (no policy to lift the requirement).
pub fn needs_approval(engine: &Engine, risk: Risk, env: Option<&str>) -> bool {
    risk == Risk::Write && env.is_none_or(|e| engine.config.requires_approval(e))
}
