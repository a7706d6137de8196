//! ChatOps in Slack: `POST /api/v1/integrations/slack/commands` (slash
//! commands) and `POST /api/v1/integrations/slack/interactions` (button
//! clicks). No token: each request is verified with the Slack app's signing
//! secret (`[slack] signing_secret`; `X-Slack-Signature: v0=HEX` over
//! `v0:timestamp:body`, timestamps more than 5 minutes away refused), and
//! the Slack user acts as the opsroom user `[slack.users]` maps them to,
//! with that user's role in `[slack] workspace`.
//!
//! A slash command never starts anything by itself: its text is read as the
//! command bar reads it (`POST /api/v1/parse`) and answered, within Slack's
//! 3 seconds, with the plan card and a Run button; the click starts the run
//! (as `POST /api/v1/runs` would) and the run's progress is posted to the
//! click's `response_url` (see [`follow`]). Approve and Reject buttons (on
//! the Slack notification of a run awaiting approval) decide as
//! `POST /api/v1/runs/{id}/approve` and `/reject` do.
//!
//! What the Slack user must read is answered with 200 (Slack shows only
//! those): an unmapped user, a role too low, a run that is not theirs to
//! approve. What no Slack app sends is refused with its status: 401 for a
//! bad signature, 400 for a malformed payload or an unknown action, 409 for
//! a click received twice.

mod blocks;
mod follow;

use crate::auth::{no_role, role_too_low};
use crate::error::ApiError;
use crate::resolve::{preview, resolve, RunRequest};
use crate::routes::runs::insert_params;
use crate::views::{ErrorBody, SlackCommandForm, SlackInteractionForm, SlackMessage};
use crate::{AppState, ClientAddr};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use blocks::RunButton;
use follow::ResponseUrl;
use opsroom_auth::signature::{
    slack_verify, SlackSignatureError, Verified, SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER,
};
use opsroom_auth::{Permission, Role};
use opsroom_core::new_run::RunWhat;
use opsroom_core::parser::NO_INTENT;
use opsroom_core::{NewRun, NewRunInput};
use opsroom_engine::config::SlackConfig;
use opsroom_store::{RunActionParams, RunId, StoreError};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Map;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/integrations/slack/commands", post(commands))
        .route("/integrations/slack/interactions", post(interactions))
}

/// Answer a Slack slash command with the plan card of its text.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/slack/commands",
    params(
        ("X-Slack-Signature" = String, Header, description = "`v0=HEX`, HEX = HMAC-SHA256(signing secret, \"v0:\" + X-Slack-Request-Timestamp + \":\" + body)"),
        ("X-Slack-Request-Timestamp" = String, Header, description = "Unix seconds; more than 5 minutes away from the server's time is refused"),
    ),
    request_body(content = SlackCommandForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "A message for the person who typed the command (`ephemeral`): the plan card (intent, env, target, steps, risk) with a Run button (`action_id` `run`) — nothing starts until it is pressed; the parser's questions for text it does not understand; why the text cannot run; the usage for empty text or `help`; or, for a Slack user `[slack.users]` does not map, how to get mapped.", body = SlackMessage),
        (status = 400, description = "The body is not a slash command form (no `user_id`).", body = ErrorBody),
        (status = 401, description = "X-Slack-Signature or X-Slack-Request-Timestamp is missing, malformed, more than 5 minutes old or does not match.", body = ErrorBody),
        (status = 404, description = "Slack is not configured on this server (no `[slack]` in opsroom.toml).", body = ErrorBody),
    )
)]
pub(crate) async fn commands(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SlackMessage>, ApiError> {
    let engine = &state.engine;
    let (slack, _) = verify(&state, &headers, &body).await?;
    let form: SlackCommandForm = form(&body, "a slash command")?;
    let (user, role) = match acting_user(&state, &slack, &form.user_id).await? {
        Ok(acting) => acting,
        Err(refusal) => return Ok(Json(refusal)),
    };
    let text = form.text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("help") {
        return Ok(Json(blocks::usage(
            form.command.as_deref().unwrap_or("/ops"),
        )));
    }
    let parsed = match state.parse_env.parse(engine, text) {
        Ok(parsed) => parsed,
        Err(ApiError::Unprocessable { message, .. }) => {
            return Ok(Json(blocks::refused(text, &message)))
        }
        Err(e) => return Err(e),
    };
    if parsed.intent == NO_INTENT || !parsed.questions.is_empty() {
        return Ok(Json(blocks::questions(text, &parsed)));
    }
    let request = RunRequest {
        what: RunWhat::Text(text.to_string()),
        env: None,
        target: None,
        params: Map::new(),
    };
    let resolved = match preview(engine, &state.parse_env, request)? {
        Ok(resolved) => resolved,
        Err(refusal) => return Ok(Json(blocks::refused(text, &refusal.message))),
    };
    let cannot_run = (!role.allows(Permission::Operate))
        .then(|| role_too_low(&user, role, &slack.workspace, Permission::Operate));
    Ok(Json(
        blocks::plan_card(text, &resolved, cannot_run).unwrap_or_else(|refusal| refusal),
    ))
}

/// Act on a button pressed in a Slack message opsroom sent.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/slack/interactions",
    params(
        ("X-Slack-Signature" = String, Header, description = "`v0=HEX`, HEX = HMAC-SHA256(signing secret, \"v0:\" + X-Slack-Request-Timestamp + \":\" + body)"),
        ("X-Slack-Request-Timestamp" = String, Header, description = "Unix seconds; more than 5 minutes away from the server's time is refused"),
    ),
    request_body(content = SlackInteractionForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "Done, or refused with the reason (Slack shows only 200 answers); the same message goes to the payload's `response_url`. `run` starts the plan card's run as the mapped user (a write to an env that needs approval waits for it) and posts its start and outcome to `response_url`; `approve` and `reject` decide a run awaiting approval as the API does (an approver or admin, not the run's requester) and update the message; `open` (a link button) needs nothing. An unmapped Slack user, a role too low or a run that cannot be decided: nothing is done and the message says why.", body = SlackMessage),
        (status = 400, description = "The body has no `payload`, the payload is not a `block_actions` JSON of the documented shape, or its action is unknown.", body = ErrorBody),
        (status = 401, description = "X-Slack-Signature or X-Slack-Request-Timestamp is missing, malformed, more than 5 minutes old or does not match.", body = ErrorBody),
        (status = 404, description = "Slack is not configured on this server (no `[slack]` in opsroom.toml).", body = ErrorBody),
        (status = 409, description = "This signed Run click was already received (a replay): its run exists, no second one starts.", body = ErrorBody),
    )
)]
pub(crate) async fn interactions(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SlackMessage>, ApiError> {
    let (slack, verified) = verify(&state, &headers, &body).await?;
    let form: SlackInteractionForm = form(&body, "an interaction")?;
    let click = Click::parse(&form.payload)?;
    let to = ResponseUrl::parse(state.http.clone(), &click.response_url).ok_or_else(|| {
        invalid_payload("`response_url` must be an http:// or https:// URL".into())
    })?;
    let (user, role) = match acting_user(&state, &slack, &click.user_id).await? {
        Ok(acting) => acting,
        Err(refusal) => {
            to.post_later(refusal.clone());
            return Ok(Json(refusal));
        }
    };
    let actor = Actor {
        user,
        role,
        workspace: slack.workspace.clone(),
        source,
    };
    let answer = match click.action {
        // Slack reports link clicks too; the link did what was needed.
        Action::Open => {
            return Ok(Json(blocks::ephemeral(
                "Nothing to do: the link opens the run.",
            )))
        }
        Action::Run(button) => match run(&state, &actor, button, &verified, to.clone()).await? {
            Ok(started) => return Ok(Json(started)),
            Err(refusal) => refusal,
        },
        Action::Decide { run_id, approve } => {
            match decide(&state, &actor, run_id, approve, to.clone()).await? {
                Ok(decided) => return Ok(Json(decided)),
                Err(refusal) => refusal,
            }
        }
    };
    to.post_later(answer.clone());
    Ok(Json(answer))
}

/// `[slack]` and the checked signature of this request.
async fn verify(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(SlackConfig, Verified), ApiError> {
    let engine = &state.engine;
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let (signature, timestamp) = (
        header(SLACK_SIGNATURE_HEADER),
        header(SLACK_TIMESTAMP_HEADER),
    );
    // Unsigned is refused as such, whether or not Slack is configured.
    if signature.is_none() || timestamp.is_none() {
        let missing = SlackSignatureError::Missing.to_string();
        return Err(ApiError::unauthorized("bad_signature", missing));
    }
    let slack = engine.config.slack.clone().ok_or_else(|| {
        ApiError::NotFound(
            "Slack is not configured on this server: add `[slack] signing_secret = \"secret:NAME\"` to opsroom.toml".into(),
        )
    })?;
    // A `secret:NAME` reference is read from Slack's workspace.
    let with_secrets = opsroom_engine::stored_secrets::for_run(engine, &slack.workspace).await;
    let secret = slack
        .resolve_signing_secret(&with_secrets.config)
        .map_err(|e| ApiError::Internal(format!("the Slack signing secret cannot be read: {e}")))?;
    let verified = slack_verify(
        secret.expose().as_bytes(),
        signature,
        timestamp,
        body,
        engine.clock.now().timestamp(),
    )
    .map_err(|e| ApiError::unauthorized("bad_signature", e.to_string()))?;
    Ok((slack, verified))
}

/// The form Slack posted; `what` names it in the error.
fn form<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body must be {what} as Slack posts it (a form): {e}"),
        )
    })
}

fn invalid_payload(why: String) -> ApiError {
    ApiError::bad_request(
        "invalid_payload",
        format!("the `payload` must be a Slack block_actions JSON: {why}"),
    )
}

/// The opsroom user a Slack user acts as, and their role in Slack's
/// workspace; Err: the message telling them why they can do nothing.
async fn acting_user(
    state: &AppState,
    slack: &SlackConfig,
    slack_user_id: &str,
) -> Result<Result<(String, Role), SlackMessage>, ApiError> {
    let Some(user) = slack.user(slack_user_id) else {
        return Ok(Err(blocks::not_mapped(slack_user_id)));
    };
    let role = state
        .engine
        .store
        .member_role(&slack.workspace, user)
        .await?;
    Ok(match role {
        Some(role) => Ok((user.to_string(), role)),
        None => Err(blocks::ephemeral(format!(
            "Your Slack user is mapped to opsroom user {}: {}.",
            user,
            no_role(user, &slack.workspace)
        ))),
    })
}

/// Who acts on a click.
struct Actor {
    user: String,
    role: Role,
    workspace: String,
    source: Option<String>,
}

impl Actor {
    /// Err: the message saying this user's role does not allow `need`.
    fn may(&self, need: Permission) -> Result<(), SlackMessage> {
        if self.role.allows(need) {
            Ok(())
        } else {
            Err(blocks::ephemeral(format!(
                "{}. Nothing was done.",
                role_too_low(&self.user, self.role, &self.workspace, need)
            )))
        }
    }
}

/// A `block_actions` payload: who clicked what, and where to answer.
struct Click {
    user_id: String,
    response_url: String,
    action: Action,
}

/// The buttons opsroom's messages have.
enum Action {
    /// The plan card's Run button.
    Run(RunButton),
    /// Approve or Reject on a run awaiting approval.
    Decide { run_id: RunId, approve: bool },
    /// A link button (Slack reports those clicks too).
    Open,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: PayloadUser,
    actions: Vec<PayloadAction>,
    response_url: String,
}

#[derive(Deserialize)]
struct PayloadUser {
    id: String,
}

#[derive(Deserialize)]
struct PayloadAction {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

impl Click {
    fn parse(payload: &str) -> Result<Click, ApiError> {
        let payload: Payload =
            serde_json::from_str(payload).map_err(|e| invalid_payload(e.to_string()))?;
        if payload.kind != "block_actions" {
            return Err(invalid_payload(format!(
                "`type` is `{}`; opsroom only handles `block_actions`",
                payload.kind
            )));
        }
        let Some(action) = payload.actions.into_iter().next() else {
            return Err(invalid_payload("`actions` is empty".into()));
        };
        let value = || {
            action.value.clone().ok_or_else(|| {
                invalid_payload(format!("action `{}` has no `value`", action.action_id))
            })
        };
        let action = match action.action_id.as_str() {
            "run" => Action::Run(serde_json::from_str(&value()?).map_err(|e| {
                invalid_payload(format!("the Run button's value is not a plan card's: {e}"))
            })?),
            id @ ("approve" | "reject") => Action::Decide {
                run_id: value()?.parse::<i64>().map(RunId).map_err(|_| {
                    invalid_payload(format!("the {id} button's value must be a run id"))
                })?,
                approve: id == "approve",
            },
            "open" => Action::Open,
            other => {
                return Err(ApiError::bad_request(
                    "unknown_action",
                    format!(
                    "unknown action `{other}`; opsroom's buttons are run, approve, reject and open"
                ),
                ))
            }
        };
        Ok(Click {
            user_id: payload.user.id,
            response_url: payload.response_url,
            action,
        })
    }
}

/// The Run button: starts the plan card's run as `actor`, and follows it.
/// Ok(Err): why it did not start.
async fn run(
    state: &AppState,
    actor: &Actor,
    button: RunButton,
    verified: &Verified,
    to: ResponseUrl,
) -> Result<Result<SlackMessage, SlackMessage>, ApiError> {
    if let Err(refusal) = actor.may(Permission::Operate) {
        return Ok(Err(refusal));
    }
    let engine = &state.engine;
    let text = button
        .text
        .clone()
        .unwrap_or_else(|| button.runbook.clone());
    let checked = NewRun::parse(NewRunInput {
        runbook: Some(button.runbook),
        env: button.env,
        target: button.target,
        params: button.params,
        ..NewRunInput::default()
    })
    .map_err(ApiError::from)
    .and_then(|new_run| resolve(engine, &state.parse_env, RunRequest::from(&new_run)));
    // The config may have changed since the card was shown.
    let resolved = match checked {
        Ok(resolved) => resolved,
        Err(ApiError::Unprocessable { message, .. }) => {
            return Ok(Err(blocks::refused(&text, &message)))
        }
        Err(e) => return Err(e),
    };
    let mut p = insert_params(engine, resolved, actor.user.clone(), actor.source.clone());
    p.workspace_id = actor.workspace.clone();
    p.text = button.text;
    // The same signed click sent again has the same digest: its run exists.
    p.idempotency_key = Some(format!("slack:{}", verified.digest));
    let (run, created) = engine.store.run_insert(p).await?;
    if !created {
        return Err(ApiError::Conflict(format!(
            "this signed Slack request was already received (run {}); no second run starts",
            run.id
        )));
    }
    let message = blocks::requested(&run, &engine.config.run_link(run.id));
    follow::follow(state, actor.workspace.clone(), run.id, to, message.clone());
    Ok(Ok(message))
}

/// Approve or Reject: decides as `POST /api/v1/runs/{id}/approve` and
/// `/reject` do, as `actor`; an approved run is followed. Ok(Err): why
/// nothing was decided.
async fn decide(
    state: &AppState,
    actor: &Actor,
    run_id: RunId,
    approve: bool,
    to: ResponseUrl,
) -> Result<Result<SlackMessage, SlackMessage>, ApiError> {
    if let Err(refusal) = actor.may(Permission::Approve) {
        return Ok(Err(refusal));
    }
    let engine = &state.engine;
    let p = RunActionParams {
        workspace_id: actor.workspace.clone(),
        run_id,
        actor: actor.user.clone(),
        reason: None,
        source: actor.source.clone(),
        allow_self: false,
        now: engine.clock.now(),
    };
    let decided = if approve {
        engine.store.run_approve(p).await
    } else {
        engine.store.run_reject(p).await
    };
    let run = match decided {
        Ok(run) => run,
        Err(StoreError::SelfApproval { .. }) => {
            return Ok(Err(blocks::ephemeral(format!(
            "You requested run {run_id}: someone else must approve or reject it. Nothing was done."
        ))))
        }
        Err(StoreError::NotFound { .. }) => {
            return Ok(Err(blocks::ephemeral(format!(
                "Run {run_id} is not in workspace {}. Nothing was done.",
                actor.workspace
            ))))
        }
        Err(StoreError::Conflict(why)) => {
            return Ok(Err(blocks::ephemeral(format!("{why}. Nothing was done."))))
        }
        Err(e) => return Err(e.into()),
    };
    let message = blocks::decided(&run, approve, &actor.user, &engine.config.run_link(run.id));
    if approve {
        follow::follow(state, actor.workspace.clone(), run.id, to, message.clone());
    } else {
        to.post_later(message.clone());
    }
    Ok(Ok(message))
}
