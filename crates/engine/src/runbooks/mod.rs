//! Runbook implementations. The catalog (in `opsroom-core`) says what each
//! runbook is; this says how each one runs.

mod custom;
mod deploy;
mod deploy_checks;
mod feature_spec;
mod feature_spec_docs;
mod healthcheck;
pub mod incident;
mod incident_pr;
mod noop;
pub mod provider;
mod rollback;
mod schema_proposal;
mod schema_sync;

use crate::pipeline::{Execution, PhaseError};
use crate::Engine;
use opsroom_core::Catalog;
use opsroom_store::Run;
use serde_json::{Map, Value};

/// Prepares one built-in runbook's execution from its run and validated
/// params; an error fails the validate phase.
type Starter = fn(&Engine, &Run, &Map<String, Value>) -> Result<Box<dyn Execution>, PhaseError>;

/// A built-in runbook this engine can execute, and how to start it.
struct Builtin {
    name: &'static str,
    start: Starter,
}

/// The one registry of built-in runbooks: [`IMPLEMENTED`] and [`start`]
/// both read it.
const BUILTINS: [Builtin; 8] = [
    Builtin {
        name: "noop",
        start: |_, _, params| Ok(Box::new(noop::Noop::new(params))),
    },
    Builtin {
        name: "healthcheck",
        start: |engine, run, _| Ok(Box::new(healthcheck::Healthcheck::new(engine, run)?)),
    },
    Builtin {
        name: "deploy",
        start: |engine, run, params| Ok(Box::new(deploy::Deploy::new(engine, run, params)?)),
    },
    Builtin {
        name: "rollback",
        start: |engine, run, params| Ok(Box::new(rollback::Rollback::new(engine, run, params)?)),
    },
    Builtin {
        name: "spec",
        start: |engine, run, params| Ok(Box::new(feature_spec::Spec::new(engine, run, params)?)),
    },
    Builtin {
        name: "incident",
        start: |engine, run, params| Ok(Box::new(incident::Incident::new(engine, run, params)?)),
    },
    Builtin {
        name: "incident_pr",
        start: |engine, run, params| {
            Ok(Box::new(incident_pr::IncidentPr::new(engine, run, params)?))
        },
    },
    Builtin {
        name: "schema_sync",
        start: |engine, run, params| {
            Ok(Box::new(schema_sync::SchemaSync::new(engine, run, params)?))
        },
    },
];

/// Built-in runbooks this engine can execute.
pub const IMPLEMENTED: &[&str] = &builtin_names();

const fn builtin_names() -> [&'static str; BUILTINS.len()] {
    let mut names = [""; BUILTINS.len()];
    let mut i = 0;
    while i < BUILTINS.len() {
        names[i] = BUILTINS[i].name;
        i += 1;
    }
    names
}

/// Whether this engine can execute the runbook `name` of `catalog`: a
/// built-in with an implementation, or a custom runbook with steps.
pub fn is_implemented(catalog: &Catalog, name: &str) -> bool {
    IMPLEMENTED.contains(&name)
        || catalog
            .get(name)
            .is_some_and(|spec| spec.custom && spec.actions.is_some())
}

/// The validate phase's checks of `run` (runbook, params, env, target and
/// what the runbook needs configured), without running anything: the
/// preview of a command runs exactly what the worker's validate phase will.
pub fn validate(engine: &Engine, run: &Run) -> Result<(), PhaseError> {
    start(engine, run).map(drop)
}

/// Prepares the execution of `run`; an error fails the validate phase.
/// Preparing only reads the config: nothing is contacted or written.
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
    match BUILTINS.iter().find(|b| b.name == run.runbook) {
        Some(builtin) => (builtin.start)(engine, run, &params),
        None => Err(PhaseError::permanent(format!(
            "runbook `{}` is in the catalog but this server cannot execute it yet",
            run.runbook
        ))),
    }
}
