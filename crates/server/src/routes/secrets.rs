//! `/api/v1/secrets`: values set here are sealed with the master key before
//! they reach the store, and no route ever answers with one.
// Every route here needs the workspace's admin role (auth::ROUTE_PERMISSIONS).

use crate::auth::Workspace;
use crate::error::{ApiError, ApiJson};
use crate::views::{ErrorBody, SecretView, SetSecret};
use crate::{Actor, AppState, ClientAddr};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put as put_route};
use axum::{Extension, Json, Router};
use opsroom_engine::stored_secrets::{context, KEY_HELP};
use opsroom_store::{SecretDeleteParams, SecretName, SecretPutParams};

/// The longest value accepted, in characters.
const MAX_VALUE_CHARS: usize = 65536;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/secrets", get(list))
        .route("/secrets/{name}", put_route(put).delete(delete))
}

fn secret_name(name: &str) -> Result<SecretName, ApiError> {
    SecretName::parse(name)
        .map_err(|e| ApiError::unprocessable("invalid_secret_name", e.to_string()))
}

/// Set a secret (create or replace). The value is write-only.
#[utoipa::path(
    put,
    path = "/api/v1/secrets/{name}",
    params(("name" = String, Path, description = "1 to 100 of A-Z a-z 0-9 _ . -, not only dots", pattern = r"^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$", min_length = 1, max_length = 100)),
    request_body = SetSecret,
    responses(
        (status = 200, description = "Replaced; the secret's metadata, not its value", body = SecretView),
        (status = 201, description = "Created; the secret's metadata, not its value", body = SecretView),
        (status = 409, description = "No master key is configured (`secret_key_missing`).", body = ErrorBody),
        (status = 422, description = "A bad name, or an empty or too long value.", body = ErrorBody),
    )
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<SetSecret>,
) -> Result<(StatusCode, Json<SecretView>), ApiError> {
    let name = secret_name(&name)?;
    if body.value.is_empty() || body.value.chars().count() > MAX_VALUE_CHARS {
        return Err(ApiError::unprocessable(
            "invalid_value",
            format!("value must be 1 to {MAX_VALUE_CHARS} characters"),
        ));
    }
    let engine = &state.engine;
    let Some(key) = &engine.secret_key else {
        return Err(ApiError::ConflictCode {
            code: "secret_key_missing",
            message: format!("secrets cannot be stored without a master key: {KEY_HELP}"),
        });
    };
    let workspace_id = ws;
    let sealed = key.seal(
        &context(&workspace_id, name.as_str()),
        body.value.as_bytes(),
    );
    let stored = engine
        .store
        .secret_put(SecretPutParams {
            workspace_id,
            name,
            sealed,
            key_id: key.id().to_string(),
            actor,
            source,
            now: engine.clock.now(),
        })
        .await?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored.meta.into())))
}

/// The workspace's secrets, by name: metadata only, never values.
#[utoipa::path(
    get,
    path = "/api/v1/secrets",
    responses((status = 200, description = "The secrets' metadata", body = Vec<SecretView>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
) -> Result<Json<Vec<SecretView>>, ApiError> {
    let secrets = state.engine.store.secrets_list(&ws).await?;
    Ok(Json(secrets.into_iter().map(SecretView::from).collect()))
}

/// Delete a secret.
#[utoipa::path(
    delete,
    path = "/api/v1/secrets/{name}",
    params(("name" = String, Path, description = "1 to 100 of A-Z a-z 0-9 _ . -, not only dots", pattern = r"^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$", min_length = 1, max_length = 100)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such secret.", body = ErrorBody),
        (status = 422, description = "A bad name.", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = secret_name(&name)?;
    let engine = &state.engine;
    engine
        .store
        .secret_delete(SecretDeleteParams {
            workspace_id: ws,
            name,
            actor,
            source,
            now: engine.clock.now(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
