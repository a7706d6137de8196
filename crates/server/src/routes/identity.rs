//! People, workspaces, roles and API tokens (PRODUCT.md §8). Who may call
//! each route is in `auth::ROUTE_PERMISSIONS`; the token routes narrow it
//! here: users manage their own tokens, admins anyone's.

use crate::auth::{Principal, Source};
use crate::error::{ApiError, ApiJson, IdPath};
use crate::views::{
    CreateToken, CreateUser, CreateWorkspace, CreatedTokenView, ErrorBody, MeView, MemberView,
    SetMember, UserView, WorkspaceView,
};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use opsroom_auth::{password, token, Role};
use opsroom_store::{
    AuditSource, MemberSetParams, Name, StoreError, TokenCreateParams, TokenRevokeParams,
    UserCreateParams, WorkspaceCreateParams,
};

/// The longest token lifetime accepted: ten years.
const MAX_EXPIRES_IN_S: i64 = 315_360_000;
/// The longest password accepted, in characters (at most 1024 bytes).
const MAX_PASSWORD_CHARS: usize = 256;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workspaces", post(create_workspace))
        .route("/workspaces/{ws}/members/{user}", put(set_member))
        .route("/users", post(create_user))
        .route("/tokens", post(create_token))
        .route("/tokens/{id}", delete(revoke_token))
        .route("/me", get(me))
}

fn name(what: &str, text: &str) -> Result<Name, ApiError> {
    Name::parse(text).map_err(|e| ApiError::unprocessable("invalid_name", format!("{what}: {e}")))
}

fn audit_source(principal: &Principal, source: &Source) -> AuditSource {
    AuditSource {
        actor: principal.user.clone(),
        address: source.0.clone(),
    }
}

/// Create a workspace. A user who creates one becomes its admin.
#[utoipa::path(
    post,
    path = "/api/v1/workspaces",
    request_body = CreateWorkspace,
    responses(
        (status = 201, description = "The workspace", body = WorkspaceView),
        (status = 409, description = "A workspace of that name exists.", body = ErrorBody),
        (status = 422, description = "A bad name (`invalid_name`).", body = ErrorBody),
    )
)]
pub(crate) async fn create_workspace(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(source): Extension<Source>,
    ApiJson(body): ApiJson<CreateWorkspace>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let name = name("workspace", &body.name)?;
    let ws = state
        .engine
        .store
        .workspace_create(WorkspaceCreateParams {
            name,
            admin: principal.is_user().then(|| principal.user.clone()),
            source: audit_source(&principal, &source),
            now: state.engine.clock.now(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(ws.into())))
}

/// Create a user. The first user created on a server without any auth
/// configured becomes admin of `default`, and sign-in is required from then on.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    request_body = CreateUser,
    responses(
        (status = 201, description = "The user", body = UserView),
        (status = 409, description = "A user of that name exists.", body = ErrorBody),
        (status = 422, description = "A bad name (`invalid_name`) or password (`invalid_password`).", body = ErrorBody),
    )
)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(source): Extension<Source>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let name = name("user", &body.name)?;
    let password_hash = match body.password {
        Some(p) if p.chars().count() > MAX_PASSWORD_CHARS => {
            return Err(ApiError::unprocessable(
                "invalid_password",
                format!("password is too long: use at most {MAX_PASSWORD_CHARS} characters"),
            ))
        }
        Some(p) => Some(
            tokio::task::spawn_blocking(move || password::hash_password(&p))
                .await
                .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))?
                .map_err(|e| ApiError::unprocessable("invalid_password", e.to_string()))?,
        ),
        None => None,
    };
    let first_local = principal.credential == crate::auth::Credential::Local;
    let user = state
        .engine
        .store
        .user_create(UserCreateParams {
            name,
            password_hash,
            workspace_id: principal.workspace.clone(),
            role: first_local.then_some(Role::Admin),
            source: audit_source(&principal, &source),
            now: state.engine.clock.now(),
        })
        .await?;
    state.auth.user_created();
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Set a user's role in a workspace (admin of that workspace).
#[utoipa::path(
    put,
    path = "/api/v1/workspaces/{ws}/members/{user}",
    params(
        ("ws" = String, Path, description = "The workspace", min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
        ("user" = String, Path, description = "The user", min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
    ),
    request_body = SetMember,
    responses(
        (status = 200, description = "The membership", body = MemberView),
        (status = 404, description = "No such workspace (or not the caller's) or user.", body = ErrorBody),
        (status = 422, description = "A bad role (`invalid_role`).", body = ErrorBody),
    )
)]
pub(crate) async fn set_member(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(source): Extension<Source>,
    Path((ws, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<SetMember>,
) -> Result<Json<MemberView>, ApiError> {
    if !principal.administers(&ws) {
        return Err(ApiError::NotFound(format!("workspace {ws} not found")));
    }
    let role: Role = body
        .role
        .parse()
        .map_err(|e: opsroom_auth::role::UnknownRole| {
            ApiError::unprocessable("invalid_role", e.to_string())
        })?;
    let set = state
        .engine
        .store
        .member_set(MemberSetParams {
            workspace_id: ws,
            user,
            role,
            source: audit_source(&principal, &source),
            now: state.engine.clock.now(),
        })
        .await?;
    Ok(Json(MemberView {
        workspace: set.membership.workspace_id,
        user: set.membership.user,
        role: set.membership.role.to_string(),
        previous_role: set.before.map(|r| r.to_string()),
    }))
}

/// Create an API token, shown this once (only its digest is stored): for
/// yourself, or as an admin for a member of your workspace.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    request_body(content = Option<CreateToken>, description = "Optional"),
    responses(
        (status = 201, description = "The token, shown this once", body = CreatedTokenView),
        (status = 403, description = "Another user's token, and the caller is no admin (`forbidden`); the admin token, which is no user, named no `user` (`user_required`).", body = ErrorBody),
        (status = 404, description = "No such workspace (or not the caller's) or user.", body = ErrorBody),
        (status = 422, description = "A bad expiry (`invalid_expiry`) or name (`invalid_name`); the user is no member of the workspace (`not_a_member`).", body = ErrorBody),
    )
)]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(source): Extension<Source>,
    crate::error::OptionalJson(body): crate::error::OptionalJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedTokenView>), ApiError> {
    let body = body.unwrap_or_default();
    let workspace = body
        .workspace
        .clone()
        .unwrap_or_else(|| principal.workspace.clone());
    if workspace != principal.workspace && !principal.admin_everywhere() {
        return Err(ApiError::NotFound(format!(
            "workspace {workspace} not found"
        )));
    }
    let user = match (&body.user, principal.is_user()) {
        (Some(u), _) => u.clone(),
        (None, true) => principal.user.clone(),
        // The bootstrap admin holds no tokens of its own.
        (None, false) => {
            return Err(ApiError::forbidden(
                "user_required",
                "the admin token is no user: name the token's `user`",
            ))
        }
    };
    if user != principal.user && !principal.administers(&workspace) {
        return Err(ApiError::forbidden(
            "forbidden",
            format!(
                "only an admin creates tokens for someone else; {} is {}",
                principal.user, principal.role
            ),
        ));
    }
    if let Some(s) = body.expires_in_s {
        if !(1..=MAX_EXPIRES_IN_S).contains(&s) {
            return Err(ApiError::unprocessable(
                "invalid_expiry",
                format!("expires_in_s must be from 1 to {MAX_EXPIRES_IN_S} (ten years)"),
            ));
        }
    }
    if let Some(n) = &body.name {
        if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
            return Err(ApiError::unprocessable(
                "invalid_name",
                "a token's name must be 1 to 100 printable characters",
            ));
        }
    }
    let store = &state.engine.store;
    name("user", &user)?;
    match store.workspace_get(&workspace).await {
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::NotFound(format!(
                "workspace {workspace} not found"
            )))
        }
        other => other?,
    };
    if store.member_role(&workspace, &user).await?.is_none() {
        return match store.user_credentials(&user).await {
            Ok(_) => Err(ApiError::unprocessable(
                "not_a_member",
                format!("{user} has no role in workspace {workspace}: give one first with PUT /api/v1/workspaces/{workspace}/members/{user}"),
            )),
            Err(StoreError::NotFound { .. }) => {
                Err(ApiError::NotFound(format!("user {user} not found")))
            }
            Err(e) => Err(e.into()),
        };
    }
    let now = state.engine.clock.now();
    let secret = token::new_api_token();
    let created = store
        .token_create(TokenCreateParams {
            workspace_id: workspace,
            user,
            name: body.name,
            digest: secret.digest.clone(),
            expires_at: body
                .expires_in_s
                .map(|s| now + chrono::Duration::seconds(s)),
            source: audit_source(&principal, &source),
            now,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenView {
            id: created.id,
            token: secret.plain,
            user: created.user,
            workspace: created.workspace_id,
            name: created.name,
            created_at: created.created_at,
            expires_at: created.expires_at,
        }),
    ))
}

/// Revoke an API token at once: your own, or as an admin any of your
/// workspace's.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    params(("id" = i64, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked (or revoked before)"),
        (status = 403, description = "Another user's token, and the caller is no admin (`forbidden`); the admin token, which is no user, named no `user` (`user_required`).", body = ErrorBody),
        (status = 404, description = "No such token in the caller's workspace.", body = ErrorBody),
    )
)]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(source): Extension<Source>,
    IdPath(id): IdPath<i64>,
) -> Result<StatusCode, ApiError> {
    let store = &state.engine.store;
    let found = store.token_get(&principal.workspace, id).await?;
    if found.user != principal.user && !principal.administers(&principal.workspace) {
        return Err(ApiError::forbidden(
            "forbidden",
            "only the token's user or an admin revokes it",
        ));
    }
    store
        .token_revoke(TokenRevokeParams {
            workspace_id: principal.workspace.clone(),
            id,
            source: audit_source(&principal, &source),
            now: state.engine.clock.now(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is: user, workspace and role there.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    responses((status = 200, description = "The caller", body = MeView))
)]
pub(crate) async fn me(Extension(principal): Extension<Principal>) -> Json<MeView> {
    Json(MeView {
        user: principal.user,
        workspace: principal.workspace,
        role: principal.role.to_string(),
    })
}
