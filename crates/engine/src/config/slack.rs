//! `[slack]` in `opsroom.toml`: ChatOps from Slack. The signing secret
//! verifies Slack's requests (slash commands and button clicks);
//! `[slack.users]` maps Slack user ids to opsroom users, who act with their
//! own role in the workspace Slack's runs are created in.
//!
//! ```toml
//! [slack]
//! signing_secret = "secret:slack_signing"   # or "env:SLACK_SIGNING_SECRET"
//! workspace = "default"                      # as for [hooks.NAME]
//!
//! [slack.users]
//! U024BE7LH = "alice"
//! ```

use super::OpsConfig;
use opsroom_adapters::Secret;
use opsroom_store::{Name, DEFAULT_WORKSPACE};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The `[slack]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The Slack app's signing secret: a `[secrets]` name or a reference.
    pub signing_secret: String,
    /// The workspace runs started from Slack are created in, and whose
    /// roles apply (default: `default`).
    #[serde(default = "default_workspace")]
    pub workspace: String,
    /// Slack user id → opsroom user name.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
}

fn default_workspace() -> String {
    DEFAULT_WORKSPACE.to_string()
}

impl SlackConfig {
    /// The signing secret, read now (a rotated one is picked up).
    pub fn resolve_signing_secret(&self, config: &OpsConfig) -> Result<Secret, String> {
        config
            .secret(&self.signing_secret)
            .map_err(|e| e.to_string())
    }

    /// The opsroom user a Slack user id is mapped to.
    pub fn user(&self, slack_user_id: &str) -> Option<&str> {
        self.users.get(slack_user_id).map(String::as_str)
    }
}

/// Whether `id` looks like a Slack user id (`U024BE7LH`, `W012A3CDE`).
fn is_slack_user_id(id: &str) -> bool {
    id.len() >= 2
        && id.len() <= 32
        && id.starts_with(['U', 'W'])
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Checks `[slack]` and registers its signing secret's reference.
pub(super) fn check(config: &mut OpsConfig) -> Result<(), String> {
    let Some(slack) = &config.slack else {
        return Ok(());
    };
    if Name::parse(&slack.workspace).is_err() {
        return Err(format!(
            "slack.workspace: `{}` is not a workspace name (letters, digits, `_`, `.` and `-`)",
            slack.workspace
        ));
    }
    for (id, user) in &slack.users {
        if !is_slack_user_id(id) {
            return Err(format!(
                "slack.users: `{id}` is not a Slack user id (upper-case letters and digits starting with U or W, such as U024BE7LH; Slack shows it in a member's profile)"
            ));
        }
        if let Err(e) = Name::parse(user) {
            return Err(format!(
                "slack.users.{id}: `{user}` is not an opsroom user name: {e}"
            ));
        }
    }
    let signing_secret = slack.signing_secret.clone();
    super::notifications::credential(&mut config.secrets, "slack.signing_secret", &signing_secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OpsConfig, String> {
        OpsConfig::parse("test.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn slack_parses_with_its_users_and_secret_reference() {
        let config = parse(
            r#"
[slack]
signing_secret = "secret:slack_signing"

[slack.users]
U024BE7LH = "alice"
W012A3CDE = "bob"
"#,
        )
        .unwrap();
        let slack = config.slack.as_ref().unwrap();
        assert_eq!(slack.workspace, "default");
        assert_eq!(slack.user("U024BE7LH"), Some("alice"));
        assert_eq!(slack.user("W012A3CDE"), Some("bob"));
        assert_eq!(slack.user("U999"), None);
        assert!(config.secrets.contains_key("secret:slack_signing"));
        assert!(parse("").unwrap().slack.is_none());
    }

    #[test]
    fn bad_slack_config_names_the_key() {
        let cases = [
            (
                "[slack]\nsigning_secret = \"xoxb-plain-secret\"\n",
                "slack.signing_secret: expected a [secrets] name",
            ),
            ("[slack]\n", "missing field `signing_secret`"),
            (
                "[slack]\nsigning_secret = \"env:S\"\nchannel = \"#ops\"\n",
                "unknown field `channel`",
            ),
            (
                "[slack]\nsigning_secret = \"env:S\"\n[slack.users]\nalice = \"alice\"\n",
                "slack.users: `alice` is not a Slack user id",
            ),
            (
                "[slack]\nsigning_secret = \"env:S\"\n[slack.users]\nU1 = \"no one\"\n",
                "slack.users.U1: `no one` is not an opsroom user name",
            ),
            (
                "[slack]\nsigning_secret = \"env:S\"\nworkspace = \"\"\n",
                "slack.workspace",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{expected:?} not in {err}");
            assert!(!err.contains("xoxb-plain-secret"), "{err}");
        }
    }
}
