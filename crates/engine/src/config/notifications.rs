//! `[[notifications]]` (channels that hear about run events) and
//! `[hooks.NAME]` (signed triggers for CI) in `opsroom.toml`.
//!
//! Credentials (a channel's URL, a webhook's or hook's signing secret) are
//! given as a `[secrets]` name or directly as a reference (`env:VAR`,
//! `file:PATH`, `secret:NAME`); a direct reference is added to `[secrets]`
//! under its own text, so it is read, rotated and hidden from runs like
//! every other credential.

use super::{OpsConfig, SecretRef};
use opsroom_adapters::Secret;
use opsroom_store::{DEFAULT_WORKSPACE, RUN_NOTICE_EVENTS};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The kinds of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A JSON body signed with `X-Opsroom-Signature`.
    Webhook,
    /// A Slack incoming webhook (Block Kit).
    Slack,
    /// A Discord webhook (an embed).
    Discord,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Discord => "discord",
        }
    }
}

/// One `[[notifications]]` entry.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// How deliveries and the delivery log name it. Default: its kind
    /// (`webhook`), or `kind-N` when several channels have that kind.
    #[serde(default)]
    pub name: Option<String>,
    pub kind: ChannelKind,
    /// The URL to post to (a secret: never shown).
    #[serde(default)]
    pub url: Option<String>,
    /// Or where the URL is: a `[secrets]` name or a reference.
    #[serde(default)]
    pub url_secret: Option<String>,
    /// The run events it hears about (`run.failed`, …).
    pub events: Vec<String>,
    /// Only runs in these envs (none: every env).
    #[serde(default)]
    pub envs: Vec<String>,
    /// Only runs of these runbooks (none: every runbook).
    #[serde(default)]
    pub runbooks: Vec<String>,
    /// A webhook's signing secret: a `[secrets]` name or a reference.
    #[serde(default)]
    pub secret: Option<String>,
}

/// Debug never shows the URL.
impl fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url.as_ref().map(|_| "***"))
            .field("url_secret", &self.url_secret)
            .field("events", &self.events)
            .field("envs", &self.envs)
            .field("runbooks", &self.runbooks)
            .field("secret", &self.secret)
            .finish()
    }
}

impl ChannelConfig {
    /// The channel's name (set by [`check`] when the file gave none).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.as_str())
    }

    /// Whether a run event of this run is for this channel.
    pub fn wants(&self, event: &str, env: Option<&str>, runbook: &str) -> bool {
        self.events.iter().any(|e| e == event)
            && (self.envs.is_empty() || env.is_some_and(|env| self.envs.iter().any(|e| e == env)))
            && (self.runbooks.is_empty() || self.runbooks.iter().any(|r| r == runbook))
    }

    /// The URL to post to, read now (a rotated one is picked up).
    pub fn resolve_url(&self, config: &OpsConfig) -> Result<Secret, String> {
        match (&self.url, &self.url_secret) {
            (Some(url), _) => Ok(Secret::new(url)),
            (None, Some(name)) => config.secret(name).map_err(|e| e.to_string()),
            (None, None) => Err("the channel has no url".into()),
        }
    }

    /// The webhook's signing secret, read now.
    pub fn resolve_secret(&self, config: &OpsConfig) -> Result<Option<Secret>, String> {
        self.secret
            .as_ref()
            .map(|name| config.secret(name).map_err(|e| e.to_string()))
            .transpose()
    }
}

/// One `[hooks.NAME]` entry: a signed request starts this run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// The signing secret: a `[secrets]` name or a reference.
    pub secret: String,
    pub runbook: String,
    pub env: String,
    #[serde(default)]
    pub target: Option<String>,
    /// The params a caller may set in the body's `params`.
    #[serde(default)]
    pub allowed_params: Vec<String>,
    /// The workspace its runs are created in (default: `default`).
    #[serde(default = "default_workspace")]
    pub workspace: String,
}

fn default_workspace() -> String {
    DEFAULT_WORKSPACE.to_string()
}

impl HookConfig {
    /// The signing secret, read now.
    pub fn resolve_secret(&self, config: &OpsConfig) -> Result<Secret, String> {
        config.secret(&self.secret).map_err(|e| e.to_string())
    }
}

/// A credential key: a `[secrets]` name, or a reference added to
/// `[secrets]` under its own text. Errors name the key.
pub(super) fn credential(
    secrets: &mut BTreeMap<String, SecretRef>,
    key: &str,
    value: &str,
) -> Result<(), String> {
    if secrets.contains_key(value) {
        return Ok(());
    }
    let reference = SecretRef::new(value);
    if reference.source().is_some() {
        secrets.insert(value.to_string(), reference);
        return Ok(());
    }
    // The value is not echoed: it may be the secret itself, pasted by mistake.
    Err(format!(
        "{key}: expected a [secrets] name or a reference (\"env:VARNAME\", \"file:PATH\", \"secret:NAME\"), not the secret itself"
    ))
}

fn is_http_url(url: &str) -> bool {
    super::is_http_url(url)
}

/// Checks the channels and hooks, names unnamed channels and registers
/// their credential references.
pub(super) fn check(config: &mut OpsConfig) -> Result<(), String> {
    let mut per_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    for c in &config.notifications {
        *per_kind.entry(c.kind.as_str()).or_default() += 1;
    }
    let mut seen_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut names = std::collections::HashSet::new();
    for (i, channel) in config.notifications.iter_mut().enumerate() {
        let at = format!("notifications[{i}]");
        let kind = channel.kind.as_str();
        let n = seen_kind.entry(kind).or_default();
        *n += 1;
        let name = match &channel.name {
            Some(name) => name.clone(),
            None if per_kind[kind] == 1 => kind.to_string(),
            None => format!("{kind}-{n}"),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "{at}.name: `{name}` must be letters, digits, `-`, `_` or `.`"
            ));
        }
        if !names.insert(name.clone()) {
            return Err(format!(
                "{at}.name: another channel is named `{name}`; give each a distinct `name`"
            ));
        }
        channel.name = Some(name);
        match (&channel.url, &channel.url_secret) {
            (Some(url), None) if is_http_url(url) => {}
            (Some(_), None) => {
                return Err(format!("{at}.url: expected an http:// or https:// URL"))
            }
            (None, Some(url_secret)) => {
                credential(&mut config.secrets, &format!("{at}.url_secret"), url_secret)?
            }
            _ => {
                return Err(format!(
                "{at}: give exactly one of `url` or `url_secret` (a [secrets] name or a reference)"
            ))
            }
        }
        if channel.events.is_empty() {
            return Err(format!(
                "{at}.events: name at least one of {}",
                RUN_NOTICE_EVENTS.join(", ")
            ));
        }
        for event in &channel.events {
            if !RUN_NOTICE_EVENTS.contains(&event.as_str()) {
                return Err(format!(
                    "{at}.events: unknown event `{event}`; expected one of {}",
                    RUN_NOTICE_EVENTS.join(", ")
                ));
            }
        }
        for env in &channel.envs {
            if !config.environments.contains_key(env) {
                return Err(format!(
                    "{at}.envs: unknown environment `{env}`; declared: {}",
                    config
                        .environments
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        match (channel.kind, &channel.secret) {
            (ChannelKind::Webhook, Some(secret)) => {
                credential(&mut config.secrets, &format!("{at}.secret"), secret)?
            }
            (ChannelKind::Webhook, None) => {
                return Err(format!(
                    "{at}.secret: a webhook needs a signing secret (a [secrets] name or a reference such as \"env:VARNAME\")"
                ))
            }
            (_, Some(_)) => {
                return Err(format!(
                    "{at}.secret: only a webhook is signed; {kind} channels have no `secret`"
                ))
            }
            (_, None) => {}
        }
    }
    for (name, hook) in &config.hooks {
        let at = format!("hooks.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "{at}: a hook name must be letters, digits, `-`, `_` or `.`"
            ));
        }
        credential(&mut config.secrets, &format!("{at}.secret"), &hook.secret)?;
        if !config.environments.contains_key(&hook.env) {
            return Err(format!(
                "{at}.env: unknown environment `{}`; declared: {}",
                hook.env,
                config
                    .environments
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if hook.runbook.is_empty() {
            return Err(format!("{at}.runbook: name the runbook the hook starts"));
        }
    }
    if let Some(url) = &config.public_url {
        if !is_http_url(url) {
            return Err("public_url: expected an http:// or https:// URL".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OpsConfig, String> {
        OpsConfig::parse("test.toml", text).map_err(|e| e.to_string())
    }

    const ENVS: &str = "[environments.prod]\n[environments.staging]\n";

    #[test]
    fn channels_and_hooks_parse_with_their_references() {
        let config = parse(&format!(
            r#"{ENVS}
[secrets]
slack_url = "env:SLACK_URL"

[[notifications]]
kind = "webhook"
url = "https://hooks.example.com/ops"
secret = "env:WEBHOOK_SECRET"
events = ["run.failed", "run.succeeded"]
envs = ["prod"]

[[notifications]]
kind = "slack"
url_secret = "slack_url"
events = ["run.awaiting_approval"]

[[notifications]]
kind = "slack"
url_secret = "file:/etc/opsroom/slack2"
events = ["run.failed"]
runbooks = ["deploy"]

[hooks.ci-deploy]
secret = "secret:ci_hook"
runbook = "deploy"
env = "staging"
allowed_params = ["ref"]
"#
        ))
        .unwrap();
        let names: Vec<&str> = config.notifications.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["webhook", "slack-1", "slack-2"]);
        assert!(config.secrets.contains_key("env:WEBHOOK_SECRET"));
        assert!(config.secrets.contains_key("file:/etc/opsroom/slack2"));
        assert!(config.secrets.contains_key("secret:ci_hook"));
        let hook = &config.hooks["ci-deploy"];
        assert_eq!(hook.workspace, "default");
        assert_eq!(hook.allowed_params, ["ref"]);
        let webhook = &config.notifications[0];
        assert!(webhook.wants("run.failed", Some("prod"), "healthcheck"));
        assert!(!webhook.wants("run.failed", Some("staging"), "healthcheck"));
        assert!(!webhook.wants("run.started", Some("prod"), "healthcheck"));
        assert!(config.notifications[2].wants("run.failed", None, "deploy"));
        assert!(!config.notifications[2].wants("run.failed", None, "noop"));
        assert!(!format!("{config:?}").contains("hooks.example.com"));
    }

    #[test]
    fn errors_name_the_bad_key() {
        let cases = [
            (
                r#"[[notifications]]
kind = "webhook"
url = "https://x.example"
events = ["run.failed"]"#,
                "notifications[0].secret",
            ),
            (
                r#"[[notifications]]
kind = "slack"
url = "https://x.example"
events = ["run.exploded"]"#,
                "notifications[0].events: unknown event `run.exploded`",
            ),
            (
                r#"[[notifications]]
kind = "slack"
events = ["run.failed"]"#,
                "notifications[0]: give exactly one of `url` or `url_secret`",
            ),
            (
                r#"[[notifications]]
kind = "discord"
url_secret = "https://discord.com/api/webhooks/1/tok"
events = ["run.failed"]"#,
                "notifications[0].url_secret: expected a [secrets] name",
            ),
            (
                r#"[[notifications]]
kind = "slack"
url = "https://x.example"
events = ["run.failed"]
envs = ["moon"]"#,
                "notifications[0].envs: unknown environment `moon`",
            ),
            (
                r#"[[notifications]]
kind = "pager"
url = "https://x.example"
events = ["run.failed"]"#,
                "unknown variant `pager`",
            ),
            (
                r#"[hooks.ci]
secret = "plain-text-secret"
runbook = "deploy"
env = "prod""#,
                "hooks.ci.secret: expected a [secrets] name",
            ),
            (
                r#"[hooks.ci]
secret = "env:CI_SECRET"
runbook = "deploy"
env = "nowhere""#,
                "hooks.ci.env: unknown environment `nowhere`",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&format!("{ENVS}\n{text}\n")).unwrap_err();
            assert!(err.contains(expected), "{expected:?} not in {err}");
            assert!(!err.contains("plain-text-secret"), "{err}");
            assert!(!err.contains("api/webhooks/1/tok"), "{err}");
        }
    }
}
