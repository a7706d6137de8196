//! What every response and request goes through, whatever the route: the
//! security headers (a Content-Security-Policy that lets only the server's
//! own scripts run, no framing, no MIME sniffing, no referrer to other
//! sites) and the request body limit (413 before a handler sees the body).

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    HeaderName, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The default request body limit: 1 MiB (`OPSROOM_MAX_BODY_BYTES`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The policy of the UI's pages: scripts, styles and requests only from
/// this server (the scripts are files under `/ui/`, never inline: no
/// `unsafe-inline`, no `unsafe-eval`), no plugins, no `<base>`, forms only
/// to this server, and no page may frame them. The Document
/// Picture-in-Picture window of the run view is opened by the page itself
/// and inherits this policy; it only receives the page's own stylesheet.
pub const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Anything that is not a page (JSON, event streams, scripts, metrics):
/// opened on its own in a browser, it may load and run nothing.
pub const RESOURCE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every answer. A route that set its own
/// Content-Security-Policy (the sandboxed markdown fragments) keeps it.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let is_page = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let h = response.headers_mut();
    let policy = if is_page {
        PAGE_POLICY
    } else {
        RESOURCE_POLICY
    };
    h.entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(policy));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // For browsers that predate `frame-ancestors`.
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The largest request body accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Refuses a body larger than the limit with 413 (`body_too_large`, naming
/// the limit): at once when its `Content-Length` says so, else once it has
/// grown past the limit while being read. Bodies are read here, so every
/// route, JSON or form, whatever its extractor, has the same limit.
pub async fn limit_body(
    State(BodyLimit(limit)): State<BodyLimit>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::PayloadTooLarge { limit }.into_response();
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) if is_length_limit(&e) => {
            return ApiError::PayloadTooLarge { limit }.into_response()
        }
        Err(e) => {
            return ApiError::bad_request(
                "invalid_body",
                format!("cannot read the request body: {e}"),
            )
            .into_response()
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether reading a body failed because it passed the limit.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// "1048576 bytes (1 MiB)".
pub fn describe_bytes(n: usize) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{n} bytes ({} MiB)", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{n} bytes ({} KiB)", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_policy_runs_only_own_scripts_and_refuses_framing() {
        let script = PAGE_POLICY
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap();
        assert_eq!(script, "script-src 'self'");
        assert!(!PAGE_POLICY.contains("unsafe"));
        assert!(PAGE_POLICY.contains("frame-ancestors 'none'"));
        assert!(RESOURCE_POLICY.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(describe_bytes(1024 * 1024), "1048576 bytes (1 MiB)");
        assert_eq!(describe_bytes(4096), "4096 bytes (4 KiB)");
        assert_eq!(describe_bytes(1000), "1000 bytes");
    }
}
