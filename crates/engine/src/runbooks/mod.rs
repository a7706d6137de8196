//! Runbook implementations. The catalog (in `opsroom-core`) says what each
//! runbook is; this says how each one runs.

mod deploy;
mod deploy_checks;
mod healthcheck;
mod noop;
pub mod provider;
mod rollback;
mod spec;
mod spec_docs;

use crate::pipeline::{Execution, PhaseError};
use crate::Engine;
use opsroom_store::Run;

/// Runbooks this engine can execute.
pub const IMPLEMENTED: &[&str] = &["noop", "healthcheck", "deploy", "rollback", "spec"];

pub fn is_implemented(name: &str) -> bool {
    IMPLEMENTED.contains(&name)
}

/// Prepares the execution of `run`; an error fails the validate phase.
pub fn start(engine: &Engine, run: &Run) -> Result<Box<dyn Execution>, PhaseError> {
    let spec = engine
        .catalog
        .get(&run.runbook)
        .ok_or_else(|| PhaseError::permanent(format!("unknown runbook `{}`", run.runbook)))?;
    let params = run.params.as_object().cloned().unwrap_or_default();
    let params = spec
        .validate_params(&params)
        .map_err(|e| PhaseError::permanent(e.to_string()))?;
    match run.runbook.as_str() {
        "noop" => Ok(Box::new(noop::Noop::new(&params))),
        "healthcheck" => Ok(Box::new(healthcheck::Healthcheck::new(engine, run)?)),
        "deploy" => Ok(Box::new(deploy::Deploy::new(engine, run, &params)?)),
        "rollback" => Ok(Box::new(rollback::Rollback::new(engine, run, &params)?)),
        "spec" => Ok(Box::new(spec::Spec::new(engine, run, &params)?)),
        other => Err(PhaseError::permanent(format!(
            "runbook `{other}` is in the catalog but this server cannot execute it yet"
        ))),
    }
}
