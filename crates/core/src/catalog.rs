//! The runbook catalog: every runbook described as data. This one description
//! feeds the parser, the plan preview, parameter validation, the API and the UI.

mod action;
mod builtin;
mod template;

pub use action::{secret_name, StepAction};
pub use template::{load_custom_dir_entries, parse_custom_runbook, CustomRunbookError};

use crate::parser::Lexicon;
use crate::run::Phase;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::OnceLock;

crate::run::text_enum! {
    /// Whether a runbook only reads or also changes things.
    pub enum Risk ("risk") {
        /// Only reads and reports.
        Read = "read",
        /// Changes something (a deployment, a database, a repository).
        Write = "write",
    }
}

/// The type of a runbook parameter and the values it allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// Any string.
    String,
    /// An integer within `min..=max`.
    Integer { min: i64, max: i64 },
    /// `true` or `false`.
    Boolean,
    /// One of the listed strings.
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

/// A word or phrase that signals a runbook, with how strongly it does.
/// Words match their simple inflections too ("deploying" matches "deploy").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cue {
    /// Lowercase words separated by single spaces.
    pub phrase: String,
    /// 1 (a hint such as "check") to 5 (the runbook's own name).
    pub weight: u8,
}

impl Cue {
    /// A cue from a phrase and its weight.
    pub fn new(phrase: &str, weight: u8) -> Cue {
        Cue {
            phrase: phrase.to_string(),
            weight,
        }
    }
}

/// A runbook: what it is called, how people ask for it, what it takes and
/// the steps of each of the five phases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunbookSpec {
    /// Unique name, also the parser's intent (`deploy`).
    pub name: String,
    /// One or two sentences for the UI and the API.
    pub description: String,
    /// Example phrases that ask for this runbook. Slots in braces
    /// (`{env}`, `{service}`, `{ref}` or a parameter name) are filled from
    /// the text by the parser.
    pub triggers: Vec<String>,
    /// Words and phrases (synonyms, verbs people use) that signal this
    /// runbook to the parser, besides the triggers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cues: Vec<Cue>,
    /// Typed parameters, checked by [`RunbookSpec::validate_params`].
    pub params: Vec<ParamSpec>,
    /// Read-only or write; writes to some envs need approval.
    pub risk: Risk,
    /// Whether a run must name an environment.
    pub needs_env: bool,
    /// Whether the runbook acts on a target (a service or a git ref).
    pub takes_target: bool,
    /// Step titles per phase, in pipeline order; `{env}` and `{target}` are
    /// filled in by [`RunbookSpec::plan`].
    pub phases: [Vec<String>; 5],
    /// Built-in (false) or loaded from a custom runbook file (true).
    pub custom: bool,
    /// For custom runbooks: the adapter action of each step, parallel to
    /// `phases` (`actions[p][i]` executes `phases[p][i]`). Built-ins are
    /// executed by the engine's own code and have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<[Vec<StepAction>; 5]>,
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

/// A custom runbook that cannot join the catalog.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    /// Two runbooks with one name.
    #[error("runbook `{name}` is already defined (built-in runbooks and other files take precedence); rename it in its file")]
    Duplicate { name: String },
}

/// All runbooks known to this process: built-ins plus loaded custom ones.
#[derive(Debug, Clone)]
pub struct Catalog {
    runbooks: Vec<RunbookSpec>,
    /// The runbooks' vocabulary compiled for the parser on first use.
    lexicon: OnceLock<Lexicon>,
}

impl Catalog {
    /// The built-in runbooks.
    pub fn builtin() -> Catalog {
        Catalog {
            runbooks: builtin::all(),
            lexicon: OnceLock::new(),
        }
    }

    /// The built-ins plus `custom` runbooks (for example from
    /// [`load_custom_dir_entries`]); fails on a name used twice.
    pub fn with_custom(custom: Vec<RunbookSpec>) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::builtin();
        for spec in custom {
            catalog.insert(spec)?;
        }
        Ok(catalog)
    }

    /// Adds one runbook; a name already in the catalog is refused.
    pub fn insert(&mut self, spec: RunbookSpec) -> Result<(), CatalogError> {
        if self.get(&spec.name).is_some() {
            return Err(CatalogError::Duplicate { name: spec.name });
        }
        self.runbooks.push(spec);
        self.lexicon = OnceLock::new();
        Ok(())
    }

    /// The vocabulary the parser matches, compiled once.
    pub(crate) fn lexicon(&self) -> &Lexicon {
        self.lexicon.get_or_init(|| Lexicon::build(&self.runbooks))
    }

    /// The runbook called `name`.
    pub fn get(&self, name: &str) -> Option<&RunbookSpec> {
        self.runbooks.iter().find(|r| r.name == name)
    }

    /// Every runbook, built-ins first.
    pub fn iter(&self) -> impl Iterator<Item = &RunbookSpec> {
        self.runbooks.iter()
    }

    /// The names of every runbook, built-ins first.
    pub fn names(&self) -> Vec<&str> {
        self.runbooks.iter().map(|r| r.name.as_str()).collect()
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
