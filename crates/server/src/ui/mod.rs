//! The web UI, served by the binary itself: server-rendered pages (a shared
//! layout with the navigation bar and the command bar), markdown artifacts
//! rendered to sanitised HTML, and a few hand-written scripts and one
//! stylesheet, all embedded with `include_str!`. The scripts fill in the
//! live parts from the JSON API; there is no front-end build.

mod assets;
mod catalog;
mod download;
mod login;
mod markdown;
mod pages;

use crate::AppState;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

/// The UI: sign-in and assets open to all, the pages behind sign-in.
pub fn router(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/runs", get(pages::history))
        .route("/runs/{id}", get(pages::run))
        .route("/runbooks", get(catalog::catalog))
        .route("/runboard", get(pages::runboard_start))
        .route("/runboard/{session}", get(pages::runboard))
        .route("/workers", get(pages::workers))
        .route("/approvals", get(pages::approvals))
        .route("/audit", get(pages::audit))
        .route("/notifications", get(pages::notifications))
        .route("/schedules", get(pages::schedules))
        .route(
            "/ui/runs/{id}/artifacts/{artifact}/html",
            get(markdown::artifact_html),
        )
        .route(
            "/ui/runs/{id}/artifacts/{artifact}/download",
            get(download::artifact_download),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            login::authorize_ui,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            login::token_from_query,
        ));
    Router::new()
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/ui/{file}", get(assets::asset))
        .merge(pages)
}

/// The page for a URL the UI does not have.
pub fn not_found_page() -> Response {
    pages::not_found("There is no page at this address.")
}
