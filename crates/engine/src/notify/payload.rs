//! What each kind of channel is sent: a generic webhook gets the run as
//! JSON, Slack a Block Kit message, Discord an embed. Pure functions of the
//! delivery, tested without a network.

use chrono::{DateTime, Utc};
use opsroom_store::{NotificationDelivery, Run};
use serde_json::{json, Value};

use crate::config::ChannelKind;

/// The run as deliveries describe it: what a person or a consumer needs,
/// not the queue's bookkeeping (lease, worker, lane keys).
pub fn run_snapshot(run: &Run, link: &str) -> Value {
    json!({
        "id": run.id,
        "runbook": run.runbook,
        "env": run.env,
        "target": run.target,
        "params": run.params,
        "text": run.text,
        "status": run.status.as_str(),
        "risk": run.risk.as_str(),
        "plan": run.plan,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "created_by": run.created_by,
        "decided_by": run.approval.as_ref().and_then(|a| a.decided_by.as_deref()),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "url": link,
    })
}

/// The body posted to a channel of `kind` for `delivery`.
pub fn body(kind: ChannelKind, delivery: &NotificationDelivery, sent_at: DateTime<Utc>) -> Value {
    match kind {
        ChannelKind::Webhook => json!({
            "event": delivery.event,
            "run": delivery.run,
            "workspace": delivery.workspace_id,
            "sent_at": sent_at,
        }),
        ChannelKind::Slack => slack(delivery),
        ChannelKind::Discord => discord(delivery),
    }
}

fn text(run: &Value, key: &str) -> String {
    match &run[key] {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// "Run 42 failed", "Run 42 needs approval", …
fn headline(delivery: &NotificationDelivery) -> String {
    let what = match delivery.event.as_str() {
        "run.awaiting_approval" => "needs approval",
        "run.started" => "started",
        "run.succeeded" => "succeeded",
        "run.failed" => "failed",
        "run.rescued" => "was rescued after its worker stopped",
        other => other,
    };
    format!(
        "{} {} run {} {what}",
        text(&delivery.run, "runbook"),
        text(&delivery.run, "env"),
        delivery.run_id
    )
}

/// The plan's steps, one line each (`phase: step`), for approval requests
/// (and Slack's plan card).
pub fn plan_lines(plan: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(phases) = plan
        .get("phases")
        .and_then(Value::as_array)
        .or(plan.as_array())
    else {
        return lines;
    };
    for phase in phases {
        let name = phase
            .get("phase")
            .or_else(|| phase.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let steps = phase.get("steps").and_then(Value::as_array);
        for step in steps.into_iter().flatten() {
            let step = step
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    step.get("description")
                        .or_else(|| step.get("name"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| step.to_string());
            lines.push(if name.is_empty() {
                step
            } else {
                format!("{name}: {step}")
            });
        }
    }
    lines
}

/// Slack Block Kit: a header, the run's fields, a link to the run, and for
/// an approval request the plan with Approve/Reject buttons (their
/// `action_id`s `approve`/`reject` and the run id as `value` are what the
/// Slack interactions endpoint acts on).
fn slack(delivery: &NotificationDelivery) -> Value {
    let run = &delivery.run;
    let headline = headline(delivery);
    let link = text(run, "url");
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": headline, "emoji": false}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Runbook*\n{}", text(run, "runbook"))},
            {"type": "mrkdwn", "text": format!("*Env*\n{}", text(run, "env"))},
            {"type": "mrkdwn", "text": format!("*Status*\n{}", text(run, "status"))},
            {"type": "mrkdwn", "text": format!("*Who*\n{}", text(run, "created_by"))},
        ]}),
    ];
    if let Some(error) = run["error"].as_str() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Error*\n```{error}```")}}));
    }
    if delivery.event == "run.awaiting_approval" {
        let plan = plan_lines(&run["plan"]);
        let plan = if plan.is_empty() {
            "(no steps)".to_string()
        } else {
            plan.iter()
                .map(|l| format!("• {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Plan* (risk {})\n{plan}", text(run, "risk"))}}));
        let id = delivery.run_id.to_string();
        blocks.push(
            json!({"type": "actions", "block_id": format!("run-{id}"), "elements": [
                {"type": "button", "action_id": "approve", "style": "primary", "value": id,
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": "reject", "style": "danger", "value": id,
                 "text": {"type": "plain_text", "text": "Reject"}},
                {"type": "button", "action_id": "open", "url": link,
                 "text": {"type": "plain_text", "text": "Open run"}},
            ]}),
        );
    } else {
        blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("<{link}|Open run {}>", delivery.run_id)}
        ]}));
    }
    json!({"text": headline, "blocks": blocks})
}

/// A Discord embed, coloured by outcome.
fn discord(delivery: &NotificationDelivery) -> Value {
    let run = &delivery.run;
    let color = match delivery.event.as_str() {
        "run.succeeded" => 0x2e_b8_86,
        "run.failed" | "run.rescued" => 0xd9_3f_3f,
        "run.awaiting_approval" => 0xe0_a0_2f,
        _ => 0x4a_7b_d0,
    };
    let mut fields = vec![
        json!({"name": "Runbook", "value": text(run, "runbook"), "inline": true}),
        json!({"name": "Env", "value": text(run, "env"), "inline": true}),
        json!({"name": "Status", "value": text(run, "status"), "inline": true}),
        json!({"name": "Who", "value": text(run, "created_by"), "inline": true}),
    ];
    if let Some(error) = run["error"].as_str() {
        fields
            .push(json!({"name": "Error", "value": error.chars().take(1000).collect::<String>()}));
    }
    if delivery.event == "run.awaiting_approval" {
        let plan = plan_lines(&run["plan"]).join("\n");
        if !plan.is_empty() {
            fields.push(
                json!({"name": "Plan", "value": plan.chars().take(1000).collect::<String>()}),
            );
        }
    }
    json!({"embeds": [{
        "title": headline(delivery),
        "url": text(run, "url"),
        "color": color,
        "fields": fields,
        "timestamp": delivery.created_at,
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsroom_store::RunId;

    fn delivery(event: &str) -> NotificationDelivery {
        NotificationDelivery {
            id: 1,
            workspace_id: "default".into(),
            channel: "slack".into(),
            event: event.into(),
            run_id: RunId(42),
            run: json!({
                "id": 42, "runbook": "deploy", "env": "prod", "status": "awaiting_approval",
                "created_by": "alice", "risk": "high", "url": "http://ops.example/runs/42",
                "plan": {"phases": [{"phase": "act", "steps": ["deploy web to prod"]}]},
                "error": null,
            }),
            attempts: 0,
            created_at: Utc::now(),
            locked_until: None,
        }
    }

    #[test]
    fn slack_approval_has_plan_and_buttons() {
        let body = body(
            ChannelKind::Slack,
            &delivery("run.awaiting_approval"),
            Utc::now(),
        );
        let blocks = body["blocks"].as_array().unwrap();
        let text = body.to_string();
        assert!(text.contains("act: deploy web to prod"), "{text}");
        assert!(
            text.contains("alice") && text.contains("*Env*\\nprod"),
            "{text}"
        );
        let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
        assert_eq!(actions["elements"][0]["action_id"], "approve");
        assert_eq!(actions["elements"][0]["value"], "42");
        assert_eq!(actions["elements"][1]["action_id"], "reject");
        assert_eq!(actions["elements"][2]["url"], "http://ops.example/runs/42");
    }

    #[test]
    fn slack_outcome_links_to_the_run_without_buttons() {
        let body = body(ChannelKind::Slack, &delivery("run.failed"), Utc::now());
        assert!(!body.to_string().contains("\"approve\""));
        assert!(body
            .to_string()
            .contains("<http://ops.example/runs/42|Open run 42>"));
    }

    #[test]
    fn discord_is_an_embed() {
        let body = body(
            ChannelKind::Discord,
            &delivery("run.awaiting_approval"),
            Utc::now(),
        );
        let embed = &body["embeds"][0];
        assert_eq!(embed["url"], "http://ops.example/runs/42");
        assert!(embed["title"].as_str().unwrap().contains("needs approval"));
        assert!(embed["fields"].to_string().contains("deploy web to prod"));
    }
}
