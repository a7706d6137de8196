//! Where a service's logs are (`logs = { kind = … }` on a service in
//! `opsroom.toml`), read by the `incident` runbook: files (a path or a glob,
//! plain text or JSON lines, `.gz` too), a command's output (an argv, never
//! through a shell), an HTTP endpoint (`{since}` in the URL), or the
//! runtime logs of the env's Vercel project.

use super::deploy::{default_author_email, default_author_name};
use super::{DeployConfig, EnvConfig, ProbeConfig, SecretRef, SpecGitHubConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// One service's log source.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LogSourceConfig {
    /// Files: a path or a glob (`*`, `?`, `[…]` in the last part of the
    /// path); plain text or JSON lines, gzip when the name ends in `.gz`.
    File { path: String },
    /// A program's standard output (`journalctl`, `kubectl logs`,
    /// `docker logs`, …): `argv[0]` is run with the rest as its arguments.
    Command {
        argv: Vec<String>,
        /// Stop the program after this long (default 60 s).
        #[serde(default = "default_command_timeout_ms")]
        timeout_ms: u64,
    },
    /// An HTTP(S) endpoint answering JSON lines or text; `{since}` in the
    /// URL becomes the RFC 3339 time the read starts from.
    Http {
        url: String,
        /// `[secrets]` entry sent as `Authorization: Bearer …`.
        #[serde(default)]
        token_secret: Option<String>,
        #[serde(default = "default_http_timeout_ms")]
        timeout_ms: u64,
    },
    /// Runtime logs of the env's Vercel project (its `provider = "vercel"`
    /// deploy table, or a `kind = "vercel"` service of the env, gives the
    /// project, team and token).
    Vercel {},
}

impl LogSourceConfig {
    /// The kinds there are, as written in the config.
    pub const KINDS: [&'static str; 4] = ["file", "command", "http", "vercel"];

    /// The kind as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            LogSourceConfig::File { .. } => "file",
            LogSourceConfig::Command { .. } => "command",
            LogSourceConfig::Http { .. } => "http",
            LogSourceConfig::Vercel {} => "vercel",
        }
    }
}

/// Debug never shows URLs or arguments (they may carry credentials).
impl fmt::Debug for LogSourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogSourceConfig::{} {{ .. }}", self.kind())
    }
}

/// Where the `incident_pr` runbook proposes a fix (`[incident]`): the
/// commits a suspect deploy brought are reverted with git in a clone of
/// `remote` and pushed on a branch `fix/<slug>`; with `[incident.github]`
/// the revert is made through the GitHub API instead and opened as a pull
/// request, and an incident without a suspect deploy opens an issue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentConfig {
    /// Git remote cloned and pushed to when GitHub is not configured.
    #[serde(default)]
    pub remote: Option<String>,
    /// The GitHub repository of the code.
    #[serde(default)]
    pub github: Option<SpecGitHubConfig>,
    /// The branch fixes are proposed against.
    #[serde(default = "default_base_branch")]
    pub base_branch: String,
    /// Commit author name.
    #[serde(default = "default_author_name")]
    pub author_name: String,
    /// Commit author e-mail.
    #[serde(default = "default_author_email")]
    pub author_email: String,
}

fn default_base_branch() -> String {
    "main".into()
}

impl IncidentConfig {
    pub(super) fn check(&self, secrets: &BTreeMap<String, SecretRef>) -> Result<(), String> {
        if self.remote.is_none() && self.github.is_none() {
            return Err(
                "remote: expected a git remote URL, or an [incident.github] table with repo and token_secret"
                    .into(),
            );
        }
        if self
            .remote
            .as_deref()
            .is_some_and(|r| r.is_empty() || r.starts_with('-'))
        {
            return Err("remote: expected a git remote URL (file://, ssh:// or a path)".into());
        }
        if self.base_branch.is_empty() || self.base_branch.starts_with('-') {
            return Err("base_branch: expected a branch name".into());
        }
        if let Some(gh) = &self.github {
            gh.check(secrets).map_err(|e| format!("github.{e}"))?;
        }
        Ok(())
    }
}

fn default_command_timeout_ms() -> u64 {
    60_000
}
fn default_http_timeout_ms() -> u64 {
    30_000
}

/// Reads a service's `logs` value, naming a missing or unknown kind with
/// the kinds there are; the error starts with the key at fault.
pub(super) fn parse(value: toml::Value) -> Result<LogSourceConfig, String> {
    let known = || LogSourceConfig::KINDS.join(", ");
    let toml::Value::Table(table) = &value else {
        return Err(format!(
            "logs: expected a table such as {{ kind = \"file\", path = \"/var/log/app/*.log\" }}; kinds: {}",
            known()
        ));
    };
    match table.get("kind") {
        Some(toml::Value::String(kind)) if LogSourceConfig::KINDS.contains(&kind.as_str()) => {}
        Some(toml::Value::String(kind)) => {
            return Err(format!(
                "logs.kind: unknown kind `{kind}`; known kinds: {}",
                known()
            ))
        }
        _ => return Err(format!("logs.kind: expected one of: {}", known())),
    }
    LogSourceConfig::deserialize(value).map_err(|e| format!("logs: {}", e.message()))
}

/// Checks a parsed source against the rest of the config; the error starts
/// with the key at fault (after `logs.`).
pub(super) fn check(
    env_name: &str,
    env: &EnvConfig,
    source: &LogSourceConfig,
    secrets: &BTreeMap<String, SecretRef>,
) -> Result<(), String> {
    match source {
        LogSourceConfig::File { path } => {
            if path.trim().is_empty() {
                return Err("logs.path: expected a file path or glob".into());
            }
            if path.contains('\0') {
                return Err("logs.path: contains a NUL character".into());
            }
        }
        LogSourceConfig::Command { argv, timeout_ms } => {
            if argv.first().is_none_or(|a| a.trim().is_empty()) {
                return Err(
                    "logs.argv: expected the program and its arguments, e.g. [\"journalctl\", \"-u\", \"payments\", \"-o\", \"cat\"]"
                        .into(),
                );
            }
            if *timeout_ms == 0 {
                return Err("logs.timeout_ms: expected a positive number of milliseconds".into());
            }
        }
        LogSourceConfig::Http {
            url, token_secret, ..
        } => {
            if !super::is_http_url(url) {
                return Err("logs.url: expected an http:// or https:// URL".into());
            }
            if let Some(name) = token_secret {
                if !secrets.contains_key(name) {
                    return Err(format!(
                        "logs.token_secret: credential `{name}` is not declared; add `{name} = \"env:VARNAME\"` (or \"secret:NAME\") under [secrets]"
                    ));
                }
            }
        }
        LogSourceConfig::Vercel {} => {
            if vercel_project(env).is_none() {
                return Err(format!(
                    "logs.kind: `vercel` reads the env's Vercel project, but env {env_name} has none; add [environments.{env_name}.deploy] with provider = \"vercel\" (or a service with kind = \"vercel\")"
                ));
            }
        }
    }
    Ok(())
}

/// Where the runtime logs of an env's Vercel project are read from.
#[derive(Clone, Debug, PartialEq)]
pub struct VercelLogsProject {
    pub project: String,
    pub team_id: Option<String>,
    /// The Vercel target whose deployments are read (`production` by default).
    pub target: String,
    pub token_secret: String,
    pub base_url: Option<String>,
}

/// The env's Vercel project: its deploy table when the provider is Vercel,
/// else its first `kind = "vercel"` service with a project and a token.
pub fn vercel_project(env: &EnvConfig) -> Option<VercelLogsProject> {
    if let Some(DeployConfig::Vercel {
        project,
        team_id,
        target,
        token_secret,
        base_url,
        ..
    }) = &env.deploy
    {
        return Some(VercelLogsProject {
            project: project.clone(),
            team_id: team_id.clone(),
            target: target.clone().unwrap_or_else(|| "production".into()),
            token_secret: token_secret.clone(),
            base_url: base_url.clone(),
        });
    }
    env.services.iter().find_map(|s| match &s.probe {
        ProbeConfig::Vercel {
            project: Some(project),
            team_id,
            target,
            token_secret: Some(token_secret),
            base_url,
            ..
        } => Some(VercelLogsProject {
            project: project.clone(),
            team_id: team_id.clone(),
            target: target.clone().unwrap_or_else(|| "production".into()),
            token_secret: token_secret.clone(),
            base_url: base_url.clone(),
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{LogSourceConfig, OpsConfig};

    fn parse(text: &str) -> Result<OpsConfig, String> {
        OpsConfig::parse("t.toml", text).map_err(|e| e.to_string())
    }

    const SERVICE: &str =
        "[[environments.prod.services]]\nname = \"payments\"\nkind = \"opsroom_db\"\n";

    #[test]
    fn each_kind_parses() {
        let c = parse(&format!(
            "[secrets]\nlogs = \"env:LOGS_TOKEN\"\n{SERVICE}logs = {{ kind = \"file\", path = \"/var/log/payments/*.log\" }}\n\
             [[environments.prod.services]]\nname = \"api\"\nkind = \"opsroom_db\"\nlogs = {{ kind = \"command\", argv = [\"journalctl\", \"-u\", \"api\"] }}\n\
             [[environments.prod.services]]\nname = \"edge\"\nkind = \"opsroom_db\"\nlogs = {{ kind = \"http\", url = \"https://logs.example.com/x?since={{since}}\", token_secret = \"logs\" }}\n"
        ))
        .unwrap();
        let services = &c.env("prod").unwrap().1.services;
        assert_eq!(
            services[0].logs,
            Some(LogSourceConfig::File {
                path: "/var/log/payments/*.log".into()
            })
        );
        assert!(
            matches!(&services[1].logs, Some(LogSourceConfig::Command { argv, timeout_ms: 60_000 }) if argv.len() == 3)
        );
        assert!(
            matches!(&services[2].logs, Some(LogSourceConfig::Http { token_secret: Some(t), .. }) if t == "logs")
        );
    }

    #[test]
    fn errors_name_the_service_and_the_key() {
        for (logs, want) in [
            (
                "{ kind = \"syslog\" }",
                "logs.kind: unknown kind `syslog`; known kinds: file, command, http, vercel",
            ),
            (
                "{ path = \"/x\" }",
                "logs.kind: expected one of: file, command, http, vercel",
            ),
            ("\"/var/log/x\"", "logs: expected a table"),
            ("{ kind = \"file\" }", "logs: missing field `path`"),
            (
                "{ kind = \"file\", path = \"/x\", paht = 1 }",
                "logs: unknown field `paht`",
            ),
            (
                "{ kind = \"command\", argv = [] }",
                "logs.argv: expected the program",
            ),
            (
                "{ kind = \"http\", url = \"ftp://x\" }",
                "logs.url: expected an http:// or https:// URL",
            ),
            (
                "{ kind = \"http\", url = \"https://x\", token_secret = \"nope\" }",
                "logs.token_secret: credential `nope` is not declared",
            ),
            (
                "{ kind = \"vercel\" }",
                "logs.kind: `vercel` reads the env's Vercel project, but env prod has none",
            ),
        ] {
            let err = parse(&format!("{SERVICE}logs = {logs}\n")).unwrap_err();
            assert!(
                err.contains(want) && err.contains("payments") && err.contains("t.toml"),
                "{logs}: {err}"
            );
        }
    }

    #[test]
    fn vercel_logs_take_the_deploy_tables_project() {
        let c = parse(&format!(
            "[secrets]\nvercel = \"env:VERCEL_TOKEN\"\n[environments.prod.deploy]\nprovider = \"vercel\"\nproject = \"pay\"\nrepo = \"acme/pay\"\ntoken_secret = \"vercel\"\n{SERVICE}logs = {{ kind = \"vercel\" }}\n"
        ))
        .unwrap();
        let env = c.env("prod").unwrap().1;
        let project = super::vercel_project(env).unwrap();
        assert_eq!(project.project, "pay");
        assert_eq!(project.target, "production");
        assert_eq!(project.token_secret, "vercel");
    }
}
