//! An artifact as a file to save (`/ui/runs/{id}/artifacts/{artifact}/download`).
//! Its name comes from a runbook and is written into `Content-Disposition`,
//! so it is reduced to a plain file name there: no folders (`../`, `/etc/`,
//! `C:\`), no control or direction-changing characters, no quotes.

use crate::auth::Workspace;
use crate::error::{parse_id, ApiError};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use opsroom_store::RunId;

/// `GET /ui/runs/{id}/artifacts/{artifact}/download`: the artifact's
/// content as an attachment named after it.
pub async fn artifact_download(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Path((run, artifact)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (run_id, artifact_id): (RunId, i64) = (parse_id(&run)?, parse_id(&artifact)?);
    let store = &state.engine.store;
    store.run_get(&ws, run_id).await?;
    let Some(a) = store
        .artifacts_list(&ws, run_id)
        .await?
        .into_iter()
        .find(|a| a.id == artifact_id)
    else {
        return Err(ApiError::NotFound(format!(
            "run {run_id} has no artifact {artifact_id}"
        )));
    };
    let content_type = match a.kind.as_str() {
        "json" => "application/json",
        "markdown" => "text/markdown; charset=utf-8",
        "diff" => "text/x-diff; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CONTENT_DISPOSITION, attachment(&a.name)),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        a.content,
    )
        .into_response())
}

/// `attachment; filename="…"; filename*=UTF-8''…` for an artifact name:
/// its last path component, without control, invisible or bidirectional
/// characters and leading dots, at most 100 characters; an ASCII fallback
/// for old clients and the UTF-8 name percent-encoded (RFC 6266, 8187).
pub fn attachment(name: &str) -> HeaderValue {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(100)
        .collect();
    let clean = if clean.trim().is_empty() {
        "artifact".to_string()
    } else {
        clean
    };
    let ascii: String = clean
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != ';' && c != '%' => c,
            _ => '_',
        })
        .collect();
    let encoded: String = clean
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"artifact\""))
}

/// Zero-width and direction-changing characters, which would make a name
/// look like another (`gpj.exe` shown as `exe.jpg`).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::attachment;

    #[test]
    fn names_become_plain_file_names() {
        for (name, expected) in [
            ("schema-diff.sql", "attachment; filename=\"schema-diff.sql\"; filename*=UTF-8''schema-diff.sql"),
            ("../../etc/passwd", "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"),
            ("C:\\Windows\\win.ini", "attachment; filename=\"win.ini\"; filename*=UTF-8''win.ini"),
            ("..", "attachment; filename=\"artifact\"; filename*=UTF-8''artifact"),
            ("/", "attachment; filename=\"artifact\"; filename*=UTF-8''artifact"),
            (".hidden", "attachment; filename=\"hidden\"; filename*=UTF-8''hidden"),
            (
                "a\"; filename=evil.sh\r\nSet-Cookie: x=1",
                "attachment; filename=\"a__ filename=evil.shSet-Cookie: x=1\"; filename*=UTF-8''a%22%3B%20filename%3Devil.shSet-Cookie%3A%20x%3D1",
            ),
            ("rapport é.md", "attachment; filename=\"rapport _.md\"; filename*=UTF-8''rapport%20%C3%A9.md"),
            ("\u{202E}gpj.exe", "attachment; filename=\"gpj.exe\"; filename*=UTF-8''gpj.exe"),
            ("a\0b%41", "attachment; filename=\"ab_41\"; filename*=UTF-8''ab%2541"),
        ] {
            assert_eq!(attachment(name).to_str().unwrap(), expected, "{name:?}");
        }
    }
}
