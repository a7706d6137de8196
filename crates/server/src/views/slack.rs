//! What Slack sends opsroom (slash commands, button clicks) and what opsroom
//! answers it (Block Kit messages).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A slash command as Slack posts it (`application/x-www-form-urlencoded`).
/// Only `user_id` is needed; other fields Slack adds are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SlackCommandForm {
    /// Slack's deprecated verification token: not read (the signature is).
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The Slack user who typed the command; `[slack.users]` maps it to an
    /// opsroom user.
    pub user_id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    /// The command as typed (`/ops`), for the usage text.
    #[serde(default)]
    pub command: Option<String>,
    /// What followed the command: parsed as the command bar parses it;
    /// empty or `help` answers with the usage.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub response_url: Option<String>,
    #[serde(default)]
    pub trigger_id: Option<String>,
}

/// A button click as Slack posts it (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SlackInteractionForm {
    /// A `block_actions` payload as JSON: `{"type": "block_actions",
    /// "user": {"id"}, "actions": [{"action_id", "value"}], "response_url",
    /// …}`. Actions: `run` (value: the plan card's request), `approve` and
    /// `reject` (value: the run id), `open` (a link: nothing to do).
    pub payload: String,
}

/// A Slack message in Block Kit, as opsroom answers Slack and posts to a
/// `response_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SlackMessage {
    /// `ephemeral` (only the person who asked sees it) or `in_channel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// Whether the message replaces the one whose button was clicked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
    /// The message as plain text (notifications and screen readers).
    pub text: String,
    /// Block Kit blocks.
    #[schema(value_type = Vec<Object>)]
    pub blocks: Vec<Value>,
}
