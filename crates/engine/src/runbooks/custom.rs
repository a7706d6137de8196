//! Custom runbooks (loaded from files, `spec.custom`): each phase runs its
//! [`StepAction`]s in order with the run's env, target and params filled into
//! their `{placeholders}`. A failing step fails its phase with a message
//! naming the step; the steps after it do not run.
//!
//! Placeholders are filled once, before the first phase, so a runbook that
//! needs a value the run does not have (no target, an optional param left
//! out) fails validation instead of half-way through. How a value is filled
//! in depends on where it goes:
//! - SQL queries get it as a quoted SQL literal (`where name = {target}`, no
//!   quotes around the placeholder), numbers and booleans as they are;
//! - shell arguments get it as it is, but an argument may not *start* with a
//!   value beginning with `-` (it would be read as an option);
//! - URLs, bodies, titles and database names get it as it is.

mod steps;

use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::Engine;
use opsroom_core::catalog::secret_name;
use opsroom_core::{EventLevel, Phase, RunbookSpec, StepAction};
use opsroom_store::{Run, RunId};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use tokio::time::Instant;

/// One step ready to run: its title and its action with placeholders filled.
#[derive(Debug, Clone)]
struct Step {
    title: String,
    action: StepAction,
}

/// The execution of one run of a custom runbook.
pub struct CustomRunbook {
    phases: [Vec<Step>; 5],
    runner: steps::StepRunner,
}

/// How a placeholder's value is written where it goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// As it is.
    Raw,
    /// A SQL literal.
    Sql,
    /// A program argument: as it is, but never an option by accident.
    Argument,
}

impl CustomRunbook {
    /// Fills every step's placeholders from `run` and the checked `params`;
    /// a value that is missing or unsafe where it goes is an error naming the
    /// step.
    pub fn new(
        engine: &Engine,
        run: &Run,
        spec: &RunbookSpec,
        params: &Map<String, Value>,
    ) -> Result<Self, PhaseError> {
        let actions = spec.actions.as_ref().ok_or_else(|| {
            PhaseError::permanent(format!("runbook `{}` has no steps to execute", spec.name))
        })?;
        let vars = Vars::new(run, params);
        let mut phases: [Vec<Step>; 5] = Default::default();
        for phase in Phase::ALL {
            let p = phase.index();
            for (i, action) in actions[p].iter().enumerate() {
                let title = spec.phases[p]
                    .get(i)
                    .map(|t| vars.fill_lenient(t))
                    .unwrap_or_else(|| action.describe());
                let action = vars
                    .fill_action(action)
                    .and_then(|a| declared_secrets(engine, &a).map(|()| a))
                    .map_err(|m| PhaseError::permanent(format!("{phase} step \"{title}\": {m}")))?;
                phases[p].push(Step { title, action });
            }
        }
        Ok(CustomRunbook {
            phases,
            runner: steps::StepRunner::new(engine, vars.env_vars())?,
        })
    }
}

#[async_trait::async_trait]
impl Execution for CustomRunbook {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let steps = self.phases[phase.index()].clone();
        let total = steps.len();
        for (i, step) in steps.iter().enumerate() {
            let n = i + 1;
            ctx.log_data(
                EventLevel::Info,
                format!("step {n}/{total}: {}", step.title),
                json!({"kind": "step_start", "step": step.title, "index": n}),
            );
            ctx.flush_if_due().await;
            let started = Instant::now();
            let result = self.runner.run(&step.title, &step.action, ctx).await;
            let ms = started.elapsed().as_millis() as i64;
            match result {
                Ok(()) => ctx.log_data(
                    EventLevel::Info,
                    format!("step \"{}\" succeeded in {ms} ms", step.title),
                    json!({"kind": "step_end", "step": step.title, "index": n, "status": "succeeded", "duration_ms": ms}),
                ),
                Err(e) => {
                    let message = format!("step \"{}\" failed: {}", step.title, e.message);
                    ctx.log_data(
                        EventLevel::Error,
                        message.clone(),
                        json!({"kind": "step_end", "step": step.title, "index": n, "status": "failed", "duration_ms": ms}),
                    );
                    ctx.flush().await;
                    return Err(PhaseError {
                        message,
                        retryable: e.retryable,
                    });
                }
            }
            ctx.flush_if_due().await;
        }
        if phase == Phase::Summarize {
            self.runner.close().await;
        }
        Ok(())
    }
}

/// The values placeholders are filled with.
struct Vars {
    values: BTreeMap<String, String>,
    /// Which values came from a string (SQL quotes them).
    strings: Vec<String>,
    run_id: RunId,
    runbook: String,
}

impl Vars {
    fn new(run: &Run, params: &Map<String, Value>) -> Vars {
        let mut values = BTreeMap::new();
        let mut strings = Vec::new();
        let mut put = |name: &str, value: String, is_string: bool| {
            if is_string {
                strings.push(name.to_string());
            }
            values.insert(name.to_string(), value);
        };
        if let Some(env) = &run.env {
            put("env", env.clone(), true);
        }
        if let Some(target) = &run.target {
            put("target", target.clone(), true);
            put("service", target.clone(), true);
            put("ref", target.clone(), true);
        }
        for (name, value) in params {
            match value {
                Value::String(s) => put(name, s.clone(), true),
                Value::Null => {}
                other => put(name, other.to_string(), false),
            }
        }
        Vars {
            values,
            strings,
            run_id: run.id,
            runbook: run.runbook.clone(),
        }
    }

    /// Variables every shell step gets (besides PATH, HOME, LANG and its
    /// own): `OPSROOM_RUN_ID`, `OPSROOM_RUNBOOK`, `OPSROOM_ENV`,
    /// `OPSROOM_TARGET` and `OPSROOM_PARAM_<NAME>`.
    fn env_vars(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("OPSROOM_RUN_ID".to_string(), self.run_id.to_string()),
            ("OPSROOM_RUNBOOK".to_string(), self.runbook.clone()),
        ];
        for (name, value) in &self.values {
            let key = match name.as_str() {
                "env" => "OPSROOM_ENV".to_string(),
                "target" => "OPSROOM_TARGET".to_string(),
                "service" | "ref" => continue,
                other => format!("OPSROOM_PARAM_{}", other.to_ascii_uppercase()),
            };
            out.push((key, value.clone()));
        }
        out
    }

    /// Fills `template`; a placeholder without a value is an error.
    fn fill(&self, template: &str, how: Fill) -> Result<String, String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(len) = rest[open + 1..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + 1 + len];
            out.push_str(&rest[..open]);
            let value = self.values.get(name).ok_or_else(|| missing(name))?;
            match how {
                Fill::Sql if self.strings.iter().any(|s| s == name) => {
                    out.push('\'');
                    out.push_str(&value.replace('\'', "''"));
                    out.push('\'');
                }
                Fill::Argument if out.is_empty() && value.starts_with('-') => {
                    return Err(format!(
                        "the value of {{{name}}} (`{value}`) starts with `-` and would be read as an option"
                    ));
                }
                _ => out.push_str(value),
            }
            rest = &rest[open + 1 + len + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Fills what it can and leaves unknown placeholders as they are (titles).
    fn fill_lenient(&self, template: &str) -> String {
        let mut out = template.to_string();
        for (name, value) in &self.values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    fn fill_action(&self, action: &StepAction) -> Result<StepAction, String> {
        let raw = |s: &str| self.fill(s, Fill::Raw);
        Ok(match action {
            StepAction::Http {
                method,
                url,
                expect_status,
                body,
            } => StepAction::Http {
                method: method.clone(),
                url: raw(url)?,
                expect_status: *expect_status,
                body: body.as_deref().map(raw).transpose()?,
            },
            StepAction::Shell {
                argv,
                env,
                cwd,
                timeout_seconds,
            } => StepAction::Shell {
                argv: argv
                    .iter()
                    .enumerate()
                    .map(|(i, a)| self.fill(a, if i == 0 { Fill::Raw } else { Fill::Argument }))
                    .collect::<Result<_, _>>()?,
                env: env
                    .iter()
                    .map(|(k, v)| {
                        let value = match secret_name(v) {
                            Some(_) => v.clone(),
                            None => raw(v)?,
                        };
                        Ok((k.clone(), value))
                    })
                    .collect::<Result<_, String>>()?,
                cwd: cwd.as_deref().map(raw).transpose()?,
                timeout_seconds: *timeout_seconds,
            },
            StepAction::Sql { database, query } => StepAction::Sql {
                database: raw(database)?,
                query: self.fill(query, Fill::Sql)?,
            },
            StepAction::Wait { seconds } => StepAction::Wait { seconds: *seconds },
            StepAction::Poll {
                url,
                expect_status,
                interval_seconds,
                timeout_seconds,
            } => StepAction::Poll {
                url: raw(url)?,
                expect_status: *expect_status,
                interval_seconds: *interval_seconds,
                timeout_seconds: *timeout_seconds,
            },
        })
    }
}

/// Fails when a program step's variable names a credential that `[secrets]`
/// does not declare (before anything runs, rather than half-way).
fn declared_secrets(engine: &Engine, action: &StepAction) -> Result<(), String> {
    if let StepAction::Shell { env, .. } = action {
        for (name, value) in env {
            if let Some(key) = secret_name(value) {
                if !engine.config.secrets.contains_key(key) {
                    let e = crate::config::SecretError::NotDeclared(key.to_string());
                    return Err(format!("env variable {name}: {e}"));
                }
                // A stored secret was read when the run started: one that
                // could not be (not set, no master key) fails validation.
                let stored = engine.config.secrets.get(key).and_then(|r| r.source());
                if let Some(crate::config::SecretSource::Stored(_)) = stored {
                    engine
                        .config
                        .secret(key)
                        .map_err(|e| format!("env variable {name}: {e}"))?;
                }
            }
        }
    }
    Ok(())
}

fn missing(name: &str) -> String {
    match name {
        "env" => "{env} has no value: give the run an env".to_string(),
        "target" | "service" | "ref" => {
            format!("{{{name}}} has no value: give the run a target")
        }
        param => format!("{{{param}}} has no value: give the run the parameter `{param}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut values = BTreeMap::new();
        values.insert("target".to_string(), "web".to_string());
        values.insert("who".to_string(), "o'brien".to_string());
        values.insert("flag".to_string(), "--force".to_string());
        values.insert("n".to_string(), "3".to_string());
        Vars {
            values,
            strings: vec!["target".into(), "who".into(), "flag".into()],
            run_id: RunId(1),
            runbook: "t".into(),
        }
    }

    #[test]
    fn sql_gets_quoted_literals() {
        let v = vars();
        assert_eq!(
            v.fill("select * from u where name = {who} limit {n}", Fill::Sql)
                .unwrap(),
            "select * from u where name = 'o''brien' limit 3"
        );
    }

    #[test]
    fn arguments_never_start_with_an_option_from_a_value() {
        let v = vars();
        assert_eq!(
            v.fill("--name={flag}", Fill::Argument).unwrap(),
            "--name=--force"
        );
        let err = v.fill("{flag}", Fill::Argument).unwrap_err();
        assert!(err.contains("read as an option"), "{err}");
    }

    #[test]
    fn missing_values_say_what_to_give() {
        let v = vars();
        let err = v.fill("https://{env}.example/", Fill::Raw).unwrap_err();
        assert!(err.contains("give the run an env"), "{err}");
        let err = v.fill("{mode}", Fill::Raw).unwrap_err();
        assert!(err.contains("parameter `mode`"), "{err}");
        assert_eq!(
            v.fill_lenient("restart {target} on {env}"),
            "restart web on {env}"
        );
    }
}
