//! Adapter actions: what a custom runbook step does, as data the engine executes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One executable step of a custom runbook. Strings may hold placeholders
/// (`{env}`, `{target}` and `{param}` for any declared parameter) that the
/// engine fills in before running the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepAction {
    /// An HTTP request or probe; fails when the status differs from
    /// `expect_status` (any 2xx when unset).
    Http {
        method: String,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// A program run directly (never through a shell): `argv[0]` is the
    /// program, the rest its arguments, each passed as one argument. It
    /// starts from a clean environment: `PATH`, `HOME` and `LANG`, the
    /// run's own `OPSROOM_*` variables, and `env`.
    Shell {
        argv: Vec<String>,
        /// Variables the program gets. A value `"secret:NAME"` is the value
        /// of the `[secrets]` entry NAME, read when the step runs; any other
        /// value is text that may hold placeholders.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u64>,
    },
    /// A SQL statement on a database named in the configuration.
    Sql { database: String, query: String },
    /// A fixed pause.
    Wait { seconds: u64 },
    /// Repeats an HTTP request until it answers `expect_status` or the
    /// timeout passes.
    Poll {
        url: String,
        #[serde(default = "default_poll_status")]
        expect_status: u16,
        #[serde(default = "default_poll_interval")]
        interval_seconds: u64,
        timeout_seconds: u64,
    },
}

/// The `[secrets]` entry a step's variable names (`"secret:NAME"`), if it
/// names one.
pub fn secret_name(value: &str) -> Option<&str> {
    value.strip_prefix("secret:")
}

fn default_poll_status() -> u16 {
    200
}

fn default_poll_interval() -> u64 {
    5
}

impl StepAction {
    /// The strings of this action that may hold placeholders.
    pub fn templated_strings(&self) -> Vec<&str> {
        match self {
            StepAction::Http { url, body, .. } => {
                let mut out = vec![url.as_str()];
                out.extend(body.as_deref());
                out
            }
            StepAction::Shell { argv, cwd, env, .. } => {
                let mut out: Vec<&str> = argv.iter().map(String::as_str).collect();
                out.extend(cwd.as_deref());
                out.extend(
                    env.values()
                        .filter(|v| secret_name(v).is_none())
                        .map(String::as_str),
                );
                out
            }
            StepAction::Sql { database, query } => vec![database.as_str(), query.as_str()],
            StepAction::Wait { .. } => vec![],
            StepAction::Poll { url, .. } => vec![url.as_str()],
        }
    }

    /// A one-line description used as the step title when none is given.
    pub fn describe(&self) -> String {
        match self {
            StepAction::Http { method, url, .. } => format!("{method} {url}"),
            StepAction::Shell { argv, .. } => format!("run {}", argv.join(" ")),
            StepAction::Sql { database, .. } => format!("run SQL on {database}"),
            StepAction::Wait { seconds } => format!("wait {seconds}s"),
            StepAction::Poll {
                url, expect_status, ..
            } => format!("poll {url} until {expect_status}"),
        }
    }
}
