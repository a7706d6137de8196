//! The web UI, served by the binary itself: server-rendered pages (a shared
//! layout with the navigation bar and the command bar), markdown artifacts
//! rendered to sanitised HTML, and a few hand-written scripts and one
//! stylesheet, all embedded with `include_str!`. The scripts fill in the
//! live parts from the JSON API; there is no front-end build.

mod assets;
mod markdown;
mod pages;

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Query, Request, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The UI's pages and its embedded assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/runs", get(pages::history))
        .route("/runs/{id}", get(pages::run))
        .route("/runboard", get(pages::runboard_start))
        .route("/runboard/{session}", get(pages::runboard))
        .route("/workers", get(pages::workers))
        .route("/approvals", get(pages::approvals))
        .route("/audit", get(pages::audit))
        .route("/ui/{file}", get(assets::asset))
        .route(
            "/ui/runs/{id}/artifacts/{artifact}/html",
            get(markdown::artifact_html),
        )
}

/// The page for a URL the UI does not have.
pub fn not_found_page() -> Response {
    pages::not_found("There is no page at this address.")
}

/// A first visit with `?token=` (a link handed to an operator): the token
/// goes into the UI's cookie and the browser is sent to the same URL without
/// it, so it stays out of the address bar, history and later logs. A wrong
/// token is refused like a missing one.
pub async fn token_from_query(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (token, rest) = split_token(req.uri());
    let Some(given) = token else {
        return next.run(req).await;
    };
    let cookie = match &state.admin_token {
        Some(t) if crate::token_matches(&given, t) => {
            Some(format!("opsroom_token={t}; Path=/; HttpOnly; SameSite=Lax"))
        }
        Some(_) => return ApiError::Unauthorized.into_response(),
        // No token is configured: nothing to keep, only the URL to clean.
        None => None,
    };
    let location = if rest.is_empty() {
        req.uri().path().to_string()
    } else {
        format!("{}?{rest}", req.uri().path())
    };
    let mut response = (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, location),
            (CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response();
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(SET_COOKIE, c);
    }
    response
}

/// The decoded value of the query's `token` parameter, and the query's
/// other parameters exactly as they were written.
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
    (token, rest.join("&"))
}
