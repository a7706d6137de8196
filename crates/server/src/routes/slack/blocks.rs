//! The Block Kit messages opsroom answers Slack with: usage, refusals, the
//! plan card with its Run button, and a run's progress. Pure functions.

use crate::resolve::Resolved;
use crate::views::SlackMessage;
use opsroom_core::parser::Parsed;
use opsroom_engine::notify::payload::plan_lines;
use opsroom_store::Run;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Slack's limit on a button's `value`.
pub const MAX_BUTTON_VALUE: usize = 2000;
/// Slack's limit on a header's text.
const MAX_HEADER_TEXT: usize = 150;
/// Slack's limit on a section's text (kept under it).
const MAX_SECTION_TEXT: usize = 2900;

/// What a Run button carries: the checked request of the plan card, so the
/// click starts exactly the plan that was shown (re-checked at the click,
/// as `POST /api/v1/runs` checks it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunButton {
    pub runbook: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// The command text, kept with the run (left out when the value would
    /// pass Slack's limit with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `text` as Slack's mrkdwn shows it literally: `&`, `<` and `>` escaped,
/// so echoed input cannot mention `<!channel>` or forge a link.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A section of mrkdwn `text` (escaped, and cut to Slack's limit).
fn section(text: &str) -> Value {
    let text = escape(text);
    let text: String = if text.chars().count() > MAX_SECTION_TEXT {
        text.chars().take(MAX_SECTION_TEXT).chain(['…']).collect()
    } else {
        text.to_string()
    };
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// A message only the person who asked sees.
pub fn ephemeral(text: impl Into<String>) -> SlackMessage {
    let text = text.into();
    SlackMessage {
        response_type: Some("ephemeral".into()),
        replace_original: Some(false),
        blocks: vec![section(&text)],
        text: escape(&text),
    }
}

/// How to use the command.
pub fn usage(command: &str) -> SlackMessage {
    let text = format!(
        "*{command}* does what opsroom's command bar does. Type what you want done:\n\
         • `{command} check prod status`\n\
         • `{command} deploy web to staging`\n\
         • `{command} rollback web on prod`\n\
         opsroom answers with the plan (runbook, env, target, steps, risk) and a *Run* button; \
         nothing starts until you press it. Writes to envs that need approval wait for an approver, \
         who can approve or reject from Slack."
    );
    ephemeral(text)
}

/// An unmapped Slack user: what to ask for.
pub fn not_mapped(slack_user_id: &str) -> SlackMessage {
    ephemeral(format!(
        "Your Slack user `{slack_user_id}` is not mapped to an opsroom user, so opsroom does nothing for you. \
         Ask an opsroom admin to add `{slack_user_id} = \"your-opsroom-user\"` under `[slack.users]` in opsroom.toml."
    ))
}

/// Text the parser did not understand, or needs more of: its questions,
/// never a guess.
pub fn questions(text: &str, parsed: &Parsed) -> SlackMessage {
    let mut out = if parsed.intent == opsroom_core::parser::NO_INTENT {
        format!("opsroom did not understand `{text}`; nothing was started.")
    } else {
        format!("`{text}` needs more detail before it can run; nothing was started.")
    };
    for q in &parsed.questions {
        out.push_str(&format!("\n• {q}"));
    }
    if !parsed.alternatives.is_empty() {
        out.push_str(&format!(
            "\nDid you mean: {}?",
            parsed
                .alternatives
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    ephemeral(out)
}

/// A request that cannot run as asked: why.
pub fn refused(text: &str, why: &str) -> SlackMessage {
    ephemeral(format!("`{text}` cannot run: {why}. Nothing was started."))
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("—")
}

/// The plan card: intent, env, target, steps and risk, and a Run button
/// unless `cannot_run` says why the asker may not start it. Err: the request
/// does not fit in a button (Slack's limit).
pub fn plan_card(
    text: &str,
    resolved: &Resolved,
    cannot_run: Option<String>,
) -> Result<SlackMessage, SlackMessage> {
    let mut button = RunButton {
        runbook: resolved.runbook.clone(),
        env: resolved.env.clone(),
        target: resolved.target.clone(),
        params: resolved.params.clone(),
        text: Some(text.to_string()),
    };
    let mut value = serde_json::to_string(&button).expect("JSON serialises");
    if value.len() > MAX_BUTTON_VALUE {
        button.text = None;
        value = serde_json::to_string(&button).expect("JSON serialises");
    }
    if value.len() > MAX_BUTTON_VALUE {
        return Err(refused(
            text,
            &format!(
                "its params are too long to carry in a Slack button ({MAX_BUTTON_VALUE} characters); start it from opsroom's command bar"
            ),
        ));
    }
    let title = format!(
        "{} · {} · {}",
        resolved.runbook,
        or_dash(resolved.env.as_deref()),
        or_dash(resolved.target.as_deref())
    );
    let approval = if resolved.needs_approval {
        " (waits for an approver)"
    } else {
        ""
    };
    let steps = plan_lines(&resolved.plan)
        .iter()
        .map(|l| format!("• {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let params = if resolved.params.is_empty() {
        "—".to_string()
    } else {
        Value::Object(resolved.params.clone()).to_string()
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": false,
            "text": title.chars().take(MAX_HEADER_TEXT).collect::<String>()}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Intent*\n{}", escape(&resolved.runbook))},
            {"type": "mrkdwn", "text": format!("*Env*\n{}", escape(or_dash(resolved.env.as_deref())))},
            {"type": "mrkdwn", "text": format!("*Target*\n{}", escape(or_dash(resolved.target.as_deref())))},
            {"type": "mrkdwn", "text": format!("*Risk*\n{}{approval}", resolved.risk.as_str())},
            {"type": "mrkdwn", "text": format!("*Params*\n`{}`", escape(&params))},
            {"type": "mrkdwn", "text": format!("*Understood from*\n`{}`", escape(text))},
        ]}),
        section(&format!("*Steps*\n{steps}")),
    ];
    match cannot_run {
        None => blocks.push(
            json!({"type": "actions", "block_id": "opsroom-plan", "elements": [
                {"type": "button", "action_id": "run", "style": "primary", "value": value,
                 "text": {"type": "plain_text", "text": "Run"}},
            ]}),
        ),
        Some(why) => blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("No Run button: {}.", escape(&why))}
        ]})),
    }
    Ok(SlackMessage {
        response_type: Some("ephemeral".into()),
        replace_original: None,
        text: escape(&format!(
            "Plan: {title}, risk {}{approval}. Press Run to start it.",
            resolved.risk.as_str()
        )),
        blocks,
    })
}

/// "deploy staging web run 42"
fn run_name(run: &Run) -> String {
    let mut name = run.runbook.clone();
    for part in [run.env.as_deref(), run.target.as_deref()]
        .into_iter()
        .flatten()
    {
        name.push(' ');
        name.push_str(part);
    }
    format!("{name} (run {})", run.id)
}

/// A message about `run` in the channel, with a link to it; it replaces
/// the message whose button was clicked, or is posted below it.
fn about_run(text: String, link: &str, run: &Run, replace_original: bool) -> SlackMessage {
    let blocks = vec![
        section(&text),
        json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("<{link}|Open run {}>", run.id)}
        ]}),
    ];
    SlackMessage {
        response_type: Some("in_channel".into()),
        replace_original: Some(replace_original),
        text: escape(&text),
        blocks,
    }
}

/// What replaces the plan card once Run was pressed (the button goes, so
/// it is not pressed twice).
pub fn requested(run: &Run, link: &str) -> SlackMessage {
    let what = if run.status == opsroom_core::RunStatus::AwaitingApproval {
        "waits for approval: an approver can approve or reject it from its notification or the Approvals page"
    } else {
        "is queued"
    };
    let text = format!(
        "{} requested by {}: it {what}.",
        run_name(run),
        run.created_by
    );
    about_run(text, link, run, true)
}

/// What replaces an approval request once someone decided (the buttons go).
pub fn decided(run: &Run, approved: bool, by: &str, link: &str) -> SlackMessage {
    let decision = if approved { "approved" } else { "rejected" };
    let text = format!("{} {decision} by {by}.", run_name(run));
    about_run(text, link, run, true)
}

/// A run has started.
pub fn started(run: &Run, link: &str) -> SlackMessage {
    about_run(format!("{} started.", run_name(run)), link, run, false)
}

/// A run has ended: its final status, and its error if it failed.
pub fn outcome(run: &Run, link: &str) -> SlackMessage {
    let what = match &run.error {
        Some(error) => format!("{}: {error}", run.status),
        None => run.status.to_string(),
    };
    about_run(format!("{} {what}.", run_name(run)), link, run, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsroom_core::Risk;

    fn resolved(params: Map<String, Value>) -> Resolved {
        Resolved {
            runbook: "deploy".into(),
            env: Some("staging".into()),
            target: Some("web".into()),
            params,
            plan: json!([{"phase": "action", "steps": ["deploy web to staging"]}]),
            risk: Risk::Write,
            needs_approval: false,
            confidence: 0.9,
        }
    }

    #[test]
    fn the_plan_card_carries_its_request_in_the_run_button() {
        let card = plan_card("deploy web to staging", &resolved(Map::new()), None).unwrap();
        let text = serde_json::to_string(&card).unwrap();
        assert!(text.contains("action: deploy web to staging"), "{text}");
        let actions = card.blocks.iter().find(|b| b["type"] == "actions").unwrap();
        let button = &actions["elements"][0];
        assert_eq!(button["action_id"], "run");
        let value: RunButton = serde_json::from_str(button["value"].as_str().unwrap()).unwrap();
        assert_eq!(
            value,
            RunButton {
                runbook: "deploy".into(),
                env: Some("staging".into()),
                target: Some("web".into()),
                params: Map::new(),
                text: Some("deploy web to staging".into()),
            }
        );
        let viewer =
            plan_card("x", &resolved(Map::new()), Some("you are a viewer".into())).unwrap();
        assert!(viewer.blocks.iter().all(|b| b["type"] != "actions"));
    }

    #[test]
    fn echoed_text_cannot_mention_the_channel() {
        let message = ephemeral("did not understand `<!channel> & <http://x|y>`");
        let shown = serde_json::to_string(&message).unwrap();
        assert!(
            !shown.contains("<!channel>") && !shown.contains("<http"),
            "{shown}"
        );
        assert!(
            shown.contains("&lt;!channel&gt; &amp; &lt;http://x|y&gt;"),
            "{shown}"
        );
    }

    #[test]
    fn a_value_past_slacks_limit_drops_the_text_then_refuses() {
        let long = "x".repeat(1990);
        let card = plan_card(&long, &resolved(Map::new()), None).unwrap();
        let actions = card.blocks.iter().find(|b| b["type"] == "actions").unwrap();
        let value = actions["elements"][0]["value"].as_str().unwrap();
        assert!(value.len() <= MAX_BUTTON_VALUE && !value.contains(&long));
        let mut params = Map::new();
        params.insert("ref".into(), json!("y".repeat(2100)));
        let refused = plan_card("deploy", &resolved(params), None).unwrap_err();
        assert!(refused.text.contains("too long"), "{}", refused.text);
    }
}
