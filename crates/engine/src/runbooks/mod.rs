//! Runbook implementations. The catalog (in `opsroom-core`) says what each
//! runbook is; this says how each one runs.

mod custom;
mod deploy;
mod deploy_checks;
mod feature_spec;
mod feature_spec_docs;
mod healthcheck;
mod noop;
pub mod provider;
mod rollback;

use crate::pipeline::{Execution, PhaseError};
use crate::Engine;
use opsroom_core::Catalog;
use opsroom_store::Run;

/// Runbooks this engine can execute.
pub const IMPLEMENTED: &[&str] = &["noop", "healthcheck", "deploy", "rollback", "spec"];

/// Whether this engine can execute the runbook `name` of `catalog`: a
/// built-in with an implementation, or a custom runbook with steps.
pub fn is_implemented(catalog: &Catalog, name: &str) -> bool {
    IMPLEMENTED.contains(&name)
        || catalog
            .get(name)
            .is_some_and(|spec| spec.custom && spec.actions.is_some())
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
    if spec.custom {
        return Ok(Box::new(custom::CustomRunbook::new(
            engine, run, spec, &params,
        )?));
    }
    match run.runbook.as_str() {
        "noop" => Ok(Box::new(noop::Noop::new(&params))),
        "healthcheck" => Ok(Box::new(healthcheck::Healthcheck::new(engine, run)?)),
        "deploy" => Ok(Box::new(deploy::Deploy::new(engine, run, &params)?)),
        "rollback" => Ok(Box::new(rollback::Rollback::new(engine, run, &params)?)),
        "spec" => Ok(Box::new(feature_spec::Spec::new(engine, run, &params)?)),
        other => Err(PhaseError::permanent(format!(
            "runbook `{other}` is in the catalog but this server cannot execute it yet"
        ))),
    }
}
