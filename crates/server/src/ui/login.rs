//! Signing in to the UI: `/login` (name, password, workspace) opens a
//! server-side session whose random id is the `HttpOnly` cookie (only its
//! digest is stored; the cookie never holds a token), `/logout` ends it.
//! Failed sign-ins are throttled per name and per address. A UI link with
//! `?token=ADMIN_TOKEN` is exchanged once for a session of the bootstrap
//! admin. The pages themselves are behind [`authorize_ui`].

use crate::auth::{
    self, ClientAddr, Principal, Refusal, Source, Workspace, CSRF_COOKIE, SESSION_COOKIE,
};
use crate::error::ApiError;
use crate::{Actor, AppState};
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use opsroom_auth::redirect::safe_next;
use opsroom_auth::{password, token};
use opsroom_store::{
    AuditAppendParams, AuditSource, StoreError, UiSession, UiSessionCreateParams,
    UiSessionDeleteParams, DEFAULT_WORKSPACE,
};
use serde::Deserialize;
use serde_json::json;
use std::time::Instant;

/// How long a sign-in lasts.
const SESSION_HOURS: i64 = 12;

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The sign-out form: its hidden field carries the CSRF token.
#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

fn login_page(next: &str, name: &str, workspace: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · opsroom" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href={ "/ui/app.css?v=" (super::assets::VERSION) };
            }
            body {
                main #main .login {
                    h1 { "Sign in to opsroom" }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    form method="post" action="/login" {
                        input type="hidden" name="next" value=(next);
                        p { label { "Name " input name="name" autocomplete="username" required value=(name); } }
                        p { label { "Password " input name="password" type="password" autocomplete="current-password" required; } }
                        p { label { "Workspace " input name="workspace" value=(workspace); } }
                        p { button type="submit" { "Sign in" } }
                    }
                }
            }
        }
    }
}

/// `GET /login`.
pub async fn login_form(Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    (
        [(CACHE_CONTROL, "no-store")],
        login_page(next, "", DEFAULT_WORKSPACE, None),
    )
        .into_response()
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.auth.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The two cookies of a session: the id (`HttpOnly`) and its CSRF token
/// (read by the UI's scripts, sent back as `X-CSRF-Token`).
fn session_cookies(id: &str, csrf: &str, secure: bool) -> [String; 2] {
    let max_age = SESSION_HOURS * 3600;
    let secure = if secure { "; Secure" } else { "" };
    [
        format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"),
        format!("{CSRF_COOKIE}={csrf}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}"),
    ]
}

fn cleared_cookies(secure: bool) -> [String; 2] {
    let secure = if secure { "; Secure" } else { "" };
    [
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        format!("{CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0{secure}"),
    ]
}

fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut r = (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, location.to_string()),
            (CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(SET_COOKIE, v);
        }
    }
    r
}

/// Opens a session; answers with its cookies.
async fn open_session(
    state: &AppState,
    user: &str,
    workspace: &str,
    bootstrap_admin: bool,
    source: AuditSource,
    secure: bool,
) -> Result<[String; 2], ApiError> {
    let id = token::new_session_id();
    let csrf = token::random_secret();
    let now = state.engine.clock.now();
    state
        .engine
        .store
        .ui_session_create(UiSessionCreateParams {
            digest: id.digest,
            session: UiSession {
                workspace_id: workspace.into(),
                user: user.into(),
                bootstrap_admin,
                csrf_token: csrf.clone(),
                created_at: now,
                expires_at: now + chrono::Duration::hours(SESSION_HOURS),
            },
            source,
        })
        .await?;
    Ok(session_cookies(&id.plain, &csrf, secure))
}

/// `POST /login`: checks name, password and membership of the workspace;
/// every failure answers the same, counts towards the throttle and is
/// audited.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddr(address): ClientAddr,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = safe_next(form.next.as_deref()).to_string();
    let workspace = if form.workspace.trim().is_empty() {
        DEFAULT_WORKSPACE.to_string()
    } else {
        form.workspace.trim().to_string()
    };
    let keys = [
        format!("user:{}", form.name),
        format!("addr:{}", address.as_deref().unwrap_or("-")),
    ];
    let now = Instant::now();
    let locked = {
        let throttle = state
            .auth
            .throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        keys.iter().find_map(|k| throttle.check(k, now).err())
    };
    if let Some(wait) = locked {
        let secs = wait.as_secs().max(1);
        let page = login_page(
            &next,
            &form.name,
            &workspace,
            Some(&format!(
                "Too many failed sign-ins: try again in {secs} seconds."
            )),
        );
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(RETRY_AFTER, secs.to_string())],
            page,
        )
            .into_response());
    }
    let store = state.engine.store.clone();
    let hash = match store.user_credentials(&form.name).await {
        Ok(c) => c.password_hash,
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let given = form.password.clone();
    let password_ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => password::verify_password(&given, &h),
        None => password::verify_nobody(&given),
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verifying a password: {e}")))?;
    let role = if password_ok {
        match store.member_role(&workspace, &form.name).await {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let source = AuditSource {
        actor: form.name.clone(),
        address,
    };
    if role.is_none() {
        {
            let mut throttle = state
                .auth
                .throttle
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for k in &keys {
                throttle.record_failure(k, now);
            }
        }
        // The audit entry goes to the workspace asked for if it exists.
        let audit_ws = match store.workspace_get(&workspace).await {
            Ok(w) => w.name,
            Err(_) => DEFAULT_WORKSPACE.to_string(),
        };
        store
            .audit_append(AuditAppendParams {
                workspace_id: audit_ws,
                ts: state.engine.clock.now(),
                actor: source.actor,
                action: "signin.failed".into(),
                subject: format!("user:{}", form.name),
                source: source.address,
                details: json!({"user": form.name, "workspace": workspace}),
            })
            .await?;
        let page = login_page(
            &next,
            &form.name,
            &workspace,
            Some("Wrong name, password or workspace."),
        );
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    }
    {
        let mut throttle = state
            .auth
            .throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for k in &keys {
            throttle.record_success(k);
        }
    }
    let cookies = open_session(
        &state,
        &form.name,
        &workspace,
        false,
        source,
        secure(&state, &headers),
    )
    .await?;
    Ok(see_other(&next, &cookies))
}

/// `POST /logout`: ends the session (with its CSRF token, from the form's
/// hidden field or `X-CSRF-Token`) and clears the cookies.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddr(address): ClientAddr,
    Form(form): Form<LogoutForm>,
) -> Result<Response, ApiError> {
    let cleared = cleared_cookies(secure(&state, &headers));
    let Some(id) = auth::cookie(&headers, SESSION_COOKIE) else {
        return Ok(see_other("/login", &cleared));
    };
    let digest = token::digest(id);
    let Some(found) = state.engine.store.ui_session_lookup(&digest).await? else {
        return Ok(see_other("/login", &cleared));
    };
    let given = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&form.csrf);
    if !token::same_secret(given, &found.session.csrf_token) {
        return Err(ApiError::forbidden(
            "csrf",
            "signing out needs the session's CSRF token",
        ));
    }
    state
        .engine
        .store
        .ui_session_delete(UiSessionDeleteParams {
            digest,
            source: AuditSource {
                actor: found.session.user,
                address,
            },
            now: state.engine.clock.now(),
        })
        .await?;
    Ok(see_other("/login", &cleared))
}

/// The URL's path with its query minus `token`, and the decoded token.
fn split_token(uri: &Uri) -> (Option<String>, String) {
    let query = uri.query().unwrap_or_default();
    let token = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .ok()
        .and_then(|Query(pairs)| pairs.into_iter().find(|(k, _)| k == "token"))
        .map(|(_, v)| v);
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("token"))
        .collect();
    let location = if rest.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), rest.join("&"))
    };
    (token, location)
}

/// A UI link with `?token=ADMIN_TOKEN` (handed to an operator for the
/// first setup): the token is exchanged once for a session of the bootstrap
/// admin, and the browser is sent to the same URL without it, so the token
/// stays out of the address bar, history, logs and cookies. A wrong token is
/// refused like a missing one.
pub async fn token_from_query(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (given, location) = split_token(req.uri());
    let Some(given) = given else {
        return next.run(req).await;
    };
    if state.auth.admin_token.is_none() {
        // Nothing to exchange: only the URL to clean.
        return see_other(&location, &[]);
    }
    if !state.auth.is_admin_token(&given) {
        return ApiError::Unauthorized.into_response();
    }
    let source = AuditSource {
        actor: auth::ADMIN_ACTOR.into(),
        address: auth::source_address(req.extensions()),
    };
    let secure = secure(&state, req.headers());
    match open_session(
        &state,
        auth::ADMIN_ACTOR,
        DEFAULT_WORKSPACE,
        true,
        source,
        secure,
    )
    .await
    {
        Ok(cookies) => see_other(&location, &cookies),
        Err(e) => e.into_response(),
    }
}

/// The pages' authentication: a request without (good) credentials goes
/// to `/login?next=…`; a role too low gets a 403 page.
pub async fn authorize_ui(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let principal: Principal = match auth::principal(&state, req.headers()).await {
        Ok(p) => p,
        // What the pages' scripts fetch (`/ui/…`) is refused, not redirected.
        Err(Refusal::Missing | Refusal::Bad) if req.uri().path().starts_with("/ui/") => {
            return ApiError::Unauthorized.into_response();
        }
        Err(Refusal::Missing | Refusal::Bad) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let location = format!("/login?next={}", url_encode(safe_next(Some(target))));
            return see_other(&location, &[]);
        }
        Err(Refusal::NoRole { user, workspace }) => {
            return super::pages::message(
                StatusCode::FORBIDDEN,
                "No access",
                &format!("{user} has no role in workspace {workspace}."),
            )
        }
        Err(Refusal::NoWorkspace(ws)) => {
            return super::pages::message(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("There is no workspace {ws}."),
            )
        }
        Err(Refusal::Store(e)) => return e.into_response(),
    };
    let need = matched
        .as_ref()
        .map(|m| auth::permission_for(req.method(), m.as_str()))
        .unwrap_or(opsroom_auth::Permission::Administer);
    if !principal.role.allows(need) {
        return super::pages::message(
            StatusCode::FORBIDDEN,
            "No access",
            &format!(
                "{} is {} in workspace {}; this page needs {}.",
                principal.user,
                principal.role,
                principal.workspace,
                need.least_role()
            ),
        );
    }
    let source = auth::source_address(req.extensions());
    req.extensions_mut().insert(Actor(principal.user.clone()));
    req.extensions_mut().insert(Source(source));
    req.extensions_mut()
        .insert(Workspace(principal.workspace.clone()));
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// Percent-encodes a path and query for a `next=` parameter.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
