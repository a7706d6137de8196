//! `POST /api/v1/hooks/{name}`: signed triggers for CI. No token: the body
//! is signed with the hook's secret (`X-Opsroom-Signature`, as outgoing
//! webhooks are), so a CI system's logs hold nothing that starts a run by
//! itself. A refused request (bad, missing or old signature, replayed
//! request, params the hook does not allow) starts nothing.

use crate::error::ApiError;
use crate::resolve::{resolve, RunRequest};
use crate::views::{ErrorBody, HookBody, RunView};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use opsroom_auth::signature::{verify, SIGNATURE_HEADER};
use opsroom_core::{NewRun, NewRunInput};
use serde_json::{Map, Value};

pub fn router() -> Router<AppState> {
    Router::new().route("/hooks/{name}", post(trigger))
}

/// Start the run a hook is configured for; the body is signed.
#[utoipa::path(
    post,
    path = "/api/v1/hooks/{name}",
    params(
        ("name" = String, Path, description = "The hook's name (`[hooks.NAME]` in opsroom.toml)"),
        ("X-Opsroom-Signature" = String, Header, description = "`t=UNIX_SECONDS,v1=HEX`, HEX = HMAC-SHA256(secret, \"UNIX_SECONDS.\" + body)"),
    ),
    request_body = HookBody,
    security(()),
    responses(
        (status = 201, description = "The run the hook started", body = RunView),
        (status = 400, description = "The body is not a JSON object of the documented shape.", body = ErrorBody),
        (status = 401, description = "The signature is missing, malformed, older than 5 minutes or does not match.", body = ErrorBody),
        (status = 404, description = "No hook of that name.", body = ErrorBody),
        (status = 409, description = "This signed request was already received (a replay).", body = ErrorBody),
        (status = 422, description = "Params the hook does not allow, or params its runbook refuses.", body = ErrorBody),
    )
)]
pub(crate) async fn trigger(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let engine = &state.engine;
    let hook = engine
        .config
        .hooks
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no hook named `{name}` is configured")))?;
    // A `secret:NAME` reference is read from the hook's workspace.
    let with_secrets = opsroom_engine::stored_secrets::for_run(engine, &hook.workspace).await;
    let secret = hook.resolve_secret(&with_secrets.config).map_err(|e| {
        ApiError::Internal(format!(
            "the signing secret of hook {name} cannot be read: {e}"
        ))
    })?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or(""));
    let verified = verify(
        secret.expose().as_bytes(),
        signature,
        &body,
        engine.clock.now().timestamp(),
    )
    .map_err(|e| ApiError::unauthorized("bad_signature", e.to_string()))?;

    let params = hook_params(&body)?;
    let refused: Vec<&str> = params
        .keys()
        .filter(|k| !hook.allowed_params.contains(k))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        return Err(ApiError::unprocessable(
            "param_not_allowed",
            format!(
                "hook `{name}` does not allow the params {}; allowed: {}",
                refused.join(", "),
                if hook.allowed_params.is_empty() {
                    "none".to_string()
                } else {
                    hook.allowed_params.join(", ")
                }
            ),
        ));
    }
    let new_run = NewRun::parse(NewRunInput {
        runbook: Some(hook.runbook.clone()),
        env: Some(hook.env.clone()),
        target: hook.target.clone(),
        params,
        ..NewRunInput::default()
    })?;
    let resolved = resolve(engine, &state.parse_env, RunRequest::from(&new_run))?;
    let mut p = super::runs::insert_params(&state.engine, resolved, format!("hook:{name}"), None);
    p.workspace_id = hook.workspace.clone();
    // The same signed request sent again has the same digest: its run exists.
    p.idempotency_key = Some(format!("hook:{name}:{}", verified.digest));
    let (run, created) = engine.store.run_insert(p).await?;
    if !created {
        return Err(ApiError::Conflict(format!(
            "this signed request was already received (run {}); sign each request anew",
            run.id
        )));
    }
    Ok((StatusCode::CREATED, Json(run.into())))
}

/// The body's `params`: an empty body means none.
fn hook_params(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let malformed = |why: String| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body must be a JSON object `{{\"params\": {{…}}}}`: {why}"),
        )
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(malformed("it is not an object".into()));
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => return Err(malformed("`params` is not an object".into())),
    };
    if let Some(key) = object.keys().next() {
        return Err(malformed(format!("unknown field `{key}`")));
    }
    Ok(params)
}
