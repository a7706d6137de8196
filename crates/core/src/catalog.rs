//! The runbook catalog: every runbook described as data. This one description
//! feeds the parser, the plan preview, parameter validation, the API and the UI.

use crate::run::Phase;
use serde::Serialize;
use serde_json::{Map, Value};

/// Whether a runbook only reads or also changes things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Read,
    Write,
}

/// The type of a runbook parameter and the values it allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    String,
    Integer { min: i64, max: i64 },
    Boolean,
    Enum { values: Vec<String> },
}

/// One typed parameter of a runbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    pub name: String,
    pub description: String,
    #[serde(flatten)]
    pub kind: ParamKind,
    pub required: bool,
    pub default: Option<Value>,
}

/// A runbook: what it is called, how people ask for it, what it takes and
/// the steps of each of the five phases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunbookSpec {
    pub name: String,
    pub description: String,
    /// Example phrases that ask for this runbook.
    pub triggers: Vec<String>,
    pub params: Vec<ParamSpec>,
    pub risk: Risk,
    /// Whether a run must name an environment.
    pub needs_env: bool,
    /// Step titles per phase, in pipeline order; `{env}` and `{target}` are
    /// filled in by [`RunbookSpec::plan`].
    pub phases: [Vec<String>; 5],
    /// Built-in (false) or loaded from a custom runbook file (true).
    pub custom: bool,
}

/// The concrete plan of a run: the steps of each phase for this env and target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedPhase {
    pub phase: Phase,
    pub steps: Vec<String>,
}

/// A parameter that does not fit its runbook's declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter `{name}` for runbook `{runbook}`; known: {known}")]
    Unknown {
        runbook: String,
        name: String,
        known: String,
    },
    #[error("parameter `{name}` is required by runbook `{runbook}`")]
    Missing { runbook: String, name: String },
    #[error("parameter `{name}` must be {expected}, got {got}")]
    Invalid {
        name: String,
        expected: String,
        got: String,
    },
}

impl RunbookSpec {
    /// Checks `given` against the declared params and returns them with
    /// defaults filled in.
    pub fn validate_params(
        &self,
        given: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ParamError> {
        for name in given.keys() {
            if !self.params.iter().any(|p| &p.name == name) {
                return Err(ParamError::Unknown {
                    runbook: self.name.clone(),
                    name: name.clone(),
                    known: if self.params.is_empty() {
                        "none".to_string()
                    } else {
                        self.params
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                });
            }
        }
        let mut out = Map::new();
        for spec in &self.params {
            let value = match given.get(&spec.name).or(spec.default.as_ref()) {
                Some(v) => v.clone(),
                None if spec.required => {
                    return Err(ParamError::Missing {
                        runbook: self.name.clone(),
                        name: spec.name.clone(),
                    })
                }
                None => continue,
            };
            check_kind(&spec.name, &spec.kind, &value)?;
            out.insert(spec.name.clone(), value);
        }
        Ok(out)
    }

    /// The steps of each phase with `{env}` and `{target}` filled in.
    pub fn plan(&self, env: Option<&str>, target: Option<&str>) -> Vec<PlannedPhase> {
        Phase::ALL
            .into_iter()
            .map(|phase| PlannedPhase {
                phase,
                steps: self.phases[phase.index()]
                    .iter()
                    .map(|s| {
                        s.replace("{env}", env.unwrap_or("-"))
                            .replace("{target}", target.unwrap_or("-"))
                    })
                    .collect(),
            })
            .collect()
    }
}

fn check_kind(name: &str, kind: &ParamKind, value: &Value) -> Result<(), ParamError> {
    let invalid = |expected: String| ParamError::Invalid {
        name: name.to_string(),
        expected,
        got: value.to_string(),
    };
    match kind {
        ParamKind::String => value
            .as_str()
            .map(|_| ())
            .ok_or_else(|| invalid("a string".into())),
        ParamKind::Boolean => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| invalid("true or false".into())),
        ParamKind::Integer { min, max } => match value.as_i64() {
            Some(n) if (*min..=*max).contains(&n) => Ok(()),
            _ => Err(invalid(format!("an integer from {min} to {max}"))),
        },
        ParamKind::Enum { values } => match value.as_str() {
            Some(s) if values.iter().any(|v| v == s) => Ok(()),
            _ => Err(invalid(format!("one of {}", values.join(", ")))),
        },
    }
}

/// All runbooks known to this process: built-ins plus loaded custom ones.
#[derive(Debug, Clone)]
pub struct Catalog {
    runbooks: Vec<RunbookSpec>,
}

impl Catalog {
    /// The built-in runbooks.
    pub fn builtin() -> Catalog {
        Catalog {
            runbooks: vec![noop(), healthcheck()],
        }
    }

    pub fn get(&self, name: &str) -> Option<&RunbookSpec> {
        self.runbooks.iter().find(|r| r.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &RunbookSpec> {
        self.runbooks.iter()
    }

    pub fn names(&self) -> Vec<&str> {
        self.runbooks.iter().map(|r| r.name.as_str()).collect()
    }
}

fn steps(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn noop() -> RunbookSpec {
    RunbookSpec {
        name: "noop".into(),
        description: "Does nothing but write events; for tests and benchmarks.".into(),
        triggers: vec!["noop".into()],
        params: vec![
            ParamSpec {
                name: "events".into(),
                description: "How many events the action phase writes.".into(),
                kind: ParamKind::Integer {
                    min: 0,
                    max: 100_000,
                },
                required: false,
                default: Some(Value::from(1)),
            },
            ParamSpec {
                name: "sleep_ms".into(),
                description: "How long the action phase sleeps, in milliseconds.".into(),
                kind: ParamKind::Integer {
                    min: 0,
                    max: 3_600_000,
                },
                required: false,
                default: Some(Value::from(0)),
            },
            ParamSpec {
                name: "fail_phase".into(),
                description: "Make this phase fail (for tests).".into(),
                kind: ParamKind::Enum {
                    values: Phase::ALL.iter().map(|p| p.as_str().to_string()).collect(),
                },
                required: false,
                default: None,
            },
        ],
        risk: Risk::Read,
        needs_env: false,
        phases: [
            steps(&["check params"]),
            steps(&["nothing to check"]),
            steps(&["write events", "sleep"]),
            steps(&["nothing to verify"]),
            steps(&["write summary"]),
        ],
        custom: false,
    }
}

fn healthcheck() -> RunbookSpec {
    RunbookSpec {
        name: "healthcheck".into(),
        description: "Probes every service configured for the environment. Read-only.".into(),
        triggers: vec!["check {env} status".into(), "is {env} up".into(), "health of {env}".into()],
        params: vec![],
        risk: Risk::Read,
        needs_env: true,
        phases: [
            steps(&["check environment {env} is configured"]),
            steps(&["list services of {env}"]),
            steps(&["probe each service of {env} (HTTP status, latency, TLS expiry; PostgreSQL connect + select 1)"]),
            steps(&["every probe passed"]),
            steps(&["write report artifact"]),
        ],
        custom: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_get_defaults_and_are_type_checked() {
        let cat = Catalog::builtin();
        let noop = cat.get("noop").unwrap();
        let p = noop.validate_params(&Map::new()).unwrap();
        assert_eq!(p["events"], json!(1));
        let bad = json!({"events": "ten"});
        let err = noop.validate_params(bad.as_object().unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("`events` must be an integer"),
            "{err}"
        );
        let unknown = json!({"colour": 1});
        let err = noop
            .validate_params(unknown.as_object().unwrap())
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown parameter `colour`"),
            "{err}"
        );
    }

    #[test]
    fn plan_fills_in_env() {
        let cat = Catalog::builtin();
        let plan = cat.get("healthcheck").unwrap().plan(Some("prod"), None);
        assert_eq!(plan.len(), 5);
        assert!(plan[0].steps[0].contains("prod"));
    }
}
