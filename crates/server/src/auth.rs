//! Who is asking, and may they: the one place where a request's credentials
//! become a [`Principal`] (user, workspace, role) and where each route's
//! [`Permission`] is checked against that role.
//!
//! Credentials, in order: `Authorization: Bearer` with `OPSROOM_ADMIN_TOKEN`
//! (admin of every workspace, acting in `default` unless
//! `X-Opsroom-Workspace: NAME`) or with an API token (its user, in its
//! workspace, with that user's current role there); else the UI's session
//! cookie (state-changing requests also need `X-CSRF-Token`). No header
//! names the user.
//!
//! **Local mode**: with no admin token configured and no user in the
//! database, a request without credentials acts as `operator`, admin of
//! `default` (and of any workspace it names). `opsroom serve` only allows
//! this on a loopback address. Creating the first user ends it (that user
//! is made admin of `default`, so the one who set it up can sign in).

use crate::error::ApiError;
use crate::{Actor, AppState};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use opsroom_auth::throttle::SignInThrottle;
use opsroom_auth::token::{digest, same_secret};
use opsroom_auth::{Permission, Role};
use opsroom_store::{IdentityStore, DEFAULT_WORKSPACE};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The UI's session cookie: a random id whose digest the store keeps.
pub const SESSION_COOKIE: &str = "opsroom_session";
/// The session's CSRF token, readable by the UI's scripts, which send it
/// back as `X-CSRF-Token` (the server compares it with the session's own).
pub const CSRF_COOKIE: &str = "opsroom_csrf";
/// The header naming the workspace the admin token acts in.
pub const WORKSPACE_HEADER: &str = "x-opsroom-workspace";
/// The bootstrap admin's name as an actor.
pub const ADMIN_ACTOR: &str = "admin";
/// The actor of local mode (no auth configured), as before users existed.
pub const LOCAL_ACTOR: &str = "operator";

/// What the server knows about authentication, shared by every request.
pub struct AuthState {
    pub admin_token: Option<Arc<str>>,
    /// Turns true once a user exists (it never turns back): local mode ends.
    users_exist: AtomicBool,
    pub throttle: Mutex<SignInThrottle>,
    /// Mark cookies `Secure` even without `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
}

impl AuthState {
    pub fn new(admin_token: Option<String>, secure_cookies: bool) -> AuthState {
        AuthState {
            admin_token: admin_token.map(Arc::from),
            users_exist: AtomicBool::new(false),
            throttle: Mutex::new(SignInThrottle::default()),
            secure_cookies,
        }
    }

    /// Whether requests without credentials act as local admin.
    pub async fn local_mode(&self, store: &dyn IdentityStore) -> Result<bool, ApiError> {
        if self.admin_token.is_some() || self.users_exist.load(Ordering::Relaxed) {
            return Ok(false);
        }
        if store.users_exist().await? {
            self.users_exist.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        Ok(true)
    }

    /// A user was created: local mode is over.
    pub fn user_created(&self) {
        self.users_exist.store(true, Ordering::Relaxed);
    }

    pub fn is_admin_token(&self, given: &str) -> bool {
        self.admin_token
            .as_deref()
            .is_some_and(|t| same_secret(given, t))
    }
}

/// How a request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No auth configured (local mode).
    Local,
    /// `OPSROOM_ADMIN_TOKEN`, or a UI session opened with it.
    AdminToken,
    /// An API token (its id).
    ApiToken(i64),
    /// A UI session, with the CSRF token its state-changing requests need.
    Session { csrf: String },
}

/// Who makes a request: a user, the workspace they act in and their role
/// there.
#[derive(Clone)]
pub struct Principal {
    pub user: String,
    pub workspace: String,
    pub role: Role,
    pub credential: Credential,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("user", &self.user)
            .field("workspace", &self.workspace)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// Admin of every workspace: the admin token, or local mode.
    pub fn admin_everywhere(&self) -> bool {
        matches!(self.credential, Credential::Local | Credential::AdminToken)
    }

    /// Whether this principal is a user of the database (not the bootstrap
    /// admin nor local mode).
    pub fn is_user(&self) -> bool {
        matches!(
            self.credential,
            Credential::ApiToken(_) | Credential::Session { .. }
        )
    }

    /// Whether this principal administers `workspace`.
    pub fn administers(&self, workspace: &str) -> bool {
        self.admin_everywhere() || (self.workspace == workspace && self.role == Role::Admin)
    }
}

/// What each API route needs: viewer reads; operator starts, cancels and
/// retries; approver approves and rejects; admin manages members, tokens,
/// secrets and settings. Token routes need only a signed-in user here: the
/// handler lets users manage their own tokens and admins anyone's.
/// A route missing from this table needs admin.
pub const ROUTE_PERMISSIONS: &[(&str, &str, Permission)] = &[
    ("POST", "/api/v1/parse", Permission::Read),
    ("GET", "/api/v1/runbooks", Permission::Read),
    ("GET", "/api/v1/workers", Permission::Read),
    ("GET", "/api/v1/runs", Permission::Read),
    ("POST", "/api/v1/runs", Permission::Operate),
    ("GET", "/api/v1/runs/{id}", Permission::Read),
    ("GET", "/api/v1/runs/{id}/events", Permission::Read),
    ("GET", "/api/v1/runs/{id}/events/stream", Permission::Read),
    ("GET", "/api/v1/runs/{id}/log", Permission::Read),
    ("GET", "/api/v1/runs/{id}/artifacts", Permission::Read),
    ("POST", "/api/v1/runs/{id}/cancel", Permission::Operate),
    ("POST", "/api/v1/runs/{id}/retry", Permission::Operate),
    ("POST", "/api/v1/runs/{id}/approve", Permission::Approve),
    ("POST", "/api/v1/runs/{id}/reject", Permission::Approve),
    ("POST", "/api/v1/sessions", Permission::Operate),
    ("GET", "/api/v1/sessions", Permission::Read),
    ("GET", "/api/v1/sessions/{id}", Permission::Read),
    ("GET", "/api/v1/secrets", Permission::Administer),
    ("PUT", "/api/v1/secrets/{name}", Permission::Administer),
    ("DELETE", "/api/v1/secrets/{name}", Permission::Administer),
    ("POST", "/api/v1/workspaces", Permission::Administer),
    ("POST", "/api/v1/users", Permission::Administer),
    (
        "PUT",
        "/api/v1/workspaces/{ws}/members/{user}",
        Permission::Administer,
    ),
    ("POST", "/api/v1/tokens", Permission::Read),
    ("DELETE", "/api/v1/tokens/{id}", Permission::Read),
    ("GET", "/api/v1/me", Permission::Read),
    ("GET", "/api/v1/approvals", Permission::Read),
    ("GET", "/api/v1/audit", Permission::Administer),
    ("GET", "/api/v1/notifications/deliveries", Permission::Read),
    ("GET", "/api/v1/schedules", Permission::Read),
    ("POST", "/api/v1/schedules", Permission::Operate),
    ("POST", "/api/v1/schedules/{id}/pause", Permission::Operate),
    ("POST", "/api/v1/schedules/{id}/resume", Permission::Operate),
    ("DELETE", "/api/v1/schedules/{id}", Permission::Operate),
    // The UI's pages read, except the audit log.
    ("GET", "/", Permission::Read),
    ("GET", "/runs", Permission::Read),
    ("GET", "/runs/{id}", Permission::Read),
    ("GET", "/runbooks", Permission::Read),
    ("GET", "/runboard", Permission::Read),
    ("GET", "/runboard/{session}", Permission::Read),
    ("GET", "/workers", Permission::Read),
    ("GET", "/approvals", Permission::Read),
    ("GET", "/audit", Permission::Administer),
    ("GET", "/notifications", Permission::Read),
    ("GET", "/schedules", Permission::Read),
    (
        "GET",
        "/ui/runs/{id}/artifacts/{artifact}/html",
        Permission::Read,
    ),
    (
        "GET",
        "/ui/runs/{id}/artifacts/{artifact}/download",
        Permission::Read,
    ),
];

/// API routes that take no credentials at all: each checks its own request
/// signature instead (a signed hook, Slack's signed requests), so no token
/// has to sit in a CI system's or Slack app's settings or logs.
pub const SIGNED_ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/hooks/{name}"),
    ("POST", "/api/v1/integrations/slack/commands"),
    ("POST", "/api/v1/integrations/slack/interactions"),
];

/// Whether a route is one of [`SIGNED_ROUTES`].
pub fn is_signed_route(method: &Method, path: &str) -> bool {
    SIGNED_ROUTES
        .iter()
        .any(|(m, p)| *m == method.as_str() && *p == path)
}

/// The permission a route needs (admin for a route not in the table).
pub fn permission_for(method: &Method, path: &str) -> Permission {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    ROUTE_PERMISSIONS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, need)| *need)
        .unwrap_or(Permission::Administer)
}

/// Why a request has no principal.
#[derive(Debug)]
pub enum Refusal {
    /// No credentials (and auth is on).
    Missing,
    /// Wrong, revoked or expired credentials.
    Bad,
    /// Good credentials, but no role in the workspace.
    NoRole {
        user: String,
        workspace: String,
    },
    /// The workspace named by `X-Opsroom-Workspace` does not exist (or is
    /// not this token's).
    NoWorkspace(String),
    Store(ApiError),
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::Missing | Refusal::Bad => ApiError::Unauthorized,
            Refusal::NoRole { user, workspace } => {
                ApiError::forbidden("no_role", no_role(&user, &workspace))
            }
            Refusal::NoWorkspace(ws) => ApiError::NotFound(format!("workspace {ws} not found")),
            Refusal::Store(e) => e,
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Store(e)
    }
}

impl From<opsroom_store::StoreError> for Refusal {
    fn from(e: opsroom_store::StoreError) -> Refusal {
        Refusal::Store(e.into())
    }
}

/// The value of the `name` cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

fn named_workspace(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    match headers.get(WORKSPACE_HEADER) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) if !s.is_empty() => Ok(Some(s.to_string())),
            _ => Err(Refusal::NoWorkspace("(unreadable)".into())),
        },
    }
}

/// An admin everywhere, acting in the workspace the request names.
async fn admin_in(
    state: &AppState,
    headers: &HeaderMap,
    user: &str,
    credential: Credential,
    default_ws: &str,
) -> Result<Principal, Refusal> {
    let workspace = match named_workspace(headers)? {
        Some(ws) => {
            match state.engine.store.workspace_get(&ws).await {
                Ok(_) => {}
                Err(opsroom_store::StoreError::NotFound { .. }) => {
                    return Err(Refusal::NoWorkspace(ws))
                }
                Err(e) => return Err(e.into()),
            }
            ws
        }
        None => default_ws.to_string(),
    };
    Ok(Principal {
        user: user.into(),
        workspace,
        role: Role::Admin,
        credential,
    })
}

/// The principal of a request, from its headers.
pub async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, Refusal> {
    let store = &state.engine.store;
    let now = state.engine.clock.now();
    if let Some(given) = bearer(headers) {
        if state.auth.is_admin_token(given) {
            return admin_in(
                state,
                headers,
                ADMIN_ACTOR,
                Credential::AdminToken,
                DEFAULT_WORKSPACE,
            )
            .await;
        }
        let found = store.token_lookup(&digest(given)).await?;
        let Some(found) = found.filter(|f| f.token.is_live(now)) else {
            return Err(Refusal::Bad);
        };
        let token = found.token;
        if named_workspace(headers)?.is_some_and(|ws| ws != token.workspace_id) {
            return Err(Refusal::NoWorkspace(
                named_workspace(headers)?.unwrap_or_default(),
            ));
        }
        let Some(role) = found.role else {
            return Err(Refusal::NoRole {
                user: token.user,
                workspace: token.workspace_id,
            });
        };
        return Ok(Principal {
            user: token.user,
            workspace: token.workspace_id,
            role,
            credential: Credential::ApiToken(token.id),
        });
    }
    if let Some(id) = cookie(headers, SESSION_COOKIE) {
        let found = store.ui_session_lookup(&digest(id)).await?;
        let Some(found) = found.filter(|f| now < f.session.expires_at) else {
            return Err(Refusal::Bad);
        };
        let s = found.session;
        let credential = Credential::Session { csrf: s.csrf_token };
        if s.bootstrap_admin {
            // The admin token may have been changed or removed since.
            if state.auth.admin_token.is_none() {
                return Err(Refusal::Bad);
            }
            return admin_in(state, headers, &s.user, credential, &s.workspace_id).await;
        }
        let Some(role) = found.role else {
            return Err(Refusal::NoRole {
                user: s.user,
                workspace: s.workspace_id,
            });
        };
        return Ok(Principal {
            user: s.user,
            workspace: s.workspace_id,
            role,
            credential,
        });
    }
    if state.auth.local_mode(store.as_ref()).await? {
        return admin_in(
            state,
            headers,
            LOCAL_ACTOR,
            Credential::Local,
            DEFAULT_WORKSPACE,
        )
        .await;
    }
    Err(Refusal::Missing)
}

/// Whether a request changes state (and so needs the CSRF token when made
/// with the session cookie).
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks a request made with the session cookie: a state-changing one
/// must carry the session's CSRF token in `X-CSRF-Token`.
pub fn check_csrf(
    principal: &Principal,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Credential::Session { csrf } = &principal.credential else {
        return Ok(());
    };
    if !changes_state(method) {
        return Ok(());
    }
    let given = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if given.is_some_and(|g| same_secret(g, csrf)) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "csrf",
            "a request made with the session cookie that changes something needs the session's CSRF token in `X-CSRF-Token`",
        ))
    }
}

/// The client's address, when the server knows it.
pub fn source_address(req_extensions: &axum::http::Extensions) -> Option<String> {
    req_extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The API's authentication and authorization layer: resolves the
/// principal, checks CSRF and the route's permission, and hands the
/// principal (and its [`Actor`]) to the handler.
pub async fn authorize_api(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if matched
        .as_ref()
        .is_some_and(|m| is_signed_route(req.method(), m.as_str()))
    {
        return Ok(next.run(req).await);
    }
    let principal = principal(&state, req.headers()).await?;
    check_csrf(&principal, req.method(), req.headers())?;
    let need = matched
        .as_ref()
        .map(|m| permission_for(req.method(), m.as_str()))
        .unwrap_or(Permission::Administer);
    if !principal.role.allows(need) {
        return Err(ApiError::forbidden(
            "forbidden",
            role_too_low(&principal.user, principal.role, &principal.workspace, need),
        ));
    }
    let source = source_address(req.extensions());
    req.extensions_mut().insert(Actor(principal.user.clone()));
    req.extensions_mut().insert(Source(source));
    req.extensions_mut()
        .insert(Workspace(principal.workspace.clone()));
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// Why `user` can do nothing in `workspace`, and how an admin changes that.
pub fn no_role(user: &str, workspace: &str) -> String {
    format!("{user} has no role in workspace {workspace}; an admin can give one with PUT /api/v1/workspaces/{workspace}/members/{user}")
}

/// Why `user`, `role` in `workspace`, may not do what needs `need`.
pub fn role_too_low(user: &str, role: Role, workspace: &str, need: Permission) -> String {
    format!(
        "{user} is {role} in workspace {workspace}; this needs {}",
        need.least_role()
    )
}

/// The client's address (for audit entries), when known.
#[derive(Debug, Clone)]
pub struct Source(pub Option<String>);

/// The workspace a request acts in (the principal's): every read and write
/// of a handler names it, so another workspace's things are not found.
#[derive(Debug, Clone)]
pub struct Workspace(pub String);

/// The client's address, for handlers outside the API layer (sign-in).
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(source_address(&parts.extensions)))
    }
}
