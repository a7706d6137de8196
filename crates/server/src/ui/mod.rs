//! The web UI, served by the binary itself: server-rendered pages (a shared
//! layout with the navigation bar and the command bar) and a few hand-written
//! scripts and one stylesheet, all embedded with `include_str!`. The scripts
//! fill in the live parts from the JSON API; there is no front-end build.

mod assets;
mod pages;

use crate::AppState;
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
        .route("/ui/{file}", get(assets::asset))
}
