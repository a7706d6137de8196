//! The UI's JavaScript and CSS, embedded in the binary.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Every embedded asset: (file name, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/app.css"),
    ),
    (
        "core.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/core.js"),
    ),
    (
        "card.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/card.js"),
    ),
    (
        "logview.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/logview.js"),
    ),
    (
        "render.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/render.js"),
    ),
    (
        "pages.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/pages.js"),
    ),
    (
        "schedules.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/schedules.js"),
    ),
];

/// The version string appended to asset URLs so a new binary busts caches.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /ui/{file}`: one embedded asset.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (CONTENT_TYPE, *content_type),
                (CACHE_CONTROL, "public, max-age=300"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// Total size in bytes of the page's own JavaScript and CSS.
#[cfg(test)]
pub fn total_size() -> usize {
    ASSETS.iter().map(|(_, _, body)| body.len()).sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn scripts_and_styles_stay_under_100_kb() {
        let size = super::total_size();
        assert!(size < 100 * 1024, "UI assets are {size} bytes");
    }
}
