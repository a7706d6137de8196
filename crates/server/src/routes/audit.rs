//! `/api/v1/audit`: the workspace's audit log, exported as JSON lines or
//! CSV, streamed page by page (an export of any size holds one page in
//! memory).
// roles: admin — behind the admin token like every route today; the
// identity work moves the check into the one place roles are checked.

use crate::auth::Workspace;
use crate::error::{ApiError, ApiQuery};
use crate::views::{AuditEntryView, AuditQuery};
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use futures_util::stream;
use opsroom_store::{AuditEntry, AuditListParams, DynStore};

/// Entries read from the store at a time.
const PAGE: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(export))
}

/// The two export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// One JSON object per line ([`AuditEntryView`]).
    Jsonl,
    /// A header line, then one quoted row per entry.
    Csv,
}

impl AuditFormat {
    fn parse(s: Option<&str>) -> Result<AuditFormat, ApiError> {
        match s {
            None | Some("jsonl") => Ok(AuditFormat::Jsonl),
            Some("csv") => Ok(AuditFormat::Csv),
            Some(other) => Err(ApiError::bad_request(
                "invalid_query",
                format!("format must be `jsonl` or `csv`, not `{other}`"),
            )),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            AuditFormat::Jsonl => "application/x-ndjson; charset=utf-8",
            AuditFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 8] = [
    "id",
    "ts",
    "workspace",
    "actor",
    "action",
    "subject",
    "source",
    "details",
];

/// One CSV cell: quoted when it holds a comma, quote or line break, and
/// kept from being read as a formula by a spreadsheet (a cell starting with
/// `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`).
pub fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) || guarded.starts_with(' ') {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn csv_row(cells: &[&str]) -> String {
    let mut row = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    row.push_str("\r\n");
    row
}

fn render(format: AuditFormat, entry: AuditEntry) -> String {
    let view = AuditEntryView::from(entry);
    match format {
        AuditFormat::Jsonl => {
            let mut line = serde_json::to_string(&view).unwrap_or_default();
            line.push('\n');
            line
        }
        AuditFormat::Csv => csv_row(&[
            &view.id.to_string(),
            &view.ts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            &view.workspace,
            &view.actor,
            &view.action,
            &view.subject,
            view.source.as_deref().unwrap_or(""),
            &view.details.to_string(),
        ]),
    }
}

/// Export the audit log, oldest entry first: JSON lines (default) or CSV,
/// filtered by time, action and actor. Streamed as it is read.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "One AuditEntry per line (`format=jsonl`), or CSV with a header row (`format=csv`): columns id, ts, workspace, actor, action, subject, source, details", content(
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
    )
)]
pub(crate) async fn export(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let format = AuditFormat::parse(q.format.as_deref())?;
    for (name, value) in [("action", &q.action), ("actor", &q.actor)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{name} must be at most 200 characters"),
            ));
        }
    }
    let params = AuditListParams {
        workspace_id: ws,
        since: q.since,
        action: q.action,
        actor: q.actor,
        newest_first: false,
        cursor: None,
        limit: PAGE,
    };
    // The first page is read before answering, so a failing store is a
    // 500 rather than a cut-off 200.
    let store = state.engine.store.clone();
    let first = store.audit_list(params.clone()).await?;
    let header = match format {
        AuditFormat::Csv => csv_row(&CSV_COLUMNS),
        AuditFormat::Jsonl => String::new(),
    };
    let body = stream::unfold(Some((store, params, first, header)), move |st| async move {
        let (store, mut params, page, mut out) = st?;
        let full = page.len() as i64 == PAGE;
        params.cursor = page.last().map(|e| e.id).or(params.cursor);
        for entry in page {
            out.push_str(&render(format, entry));
        }
        let next = if full {
            match next_page(&store, &params).await {
                Ok(page) => Some((store, params, page, String::new())),
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped");
                    return Some((Err(std::io::Error::other("audit export stopped")), None));
                }
            }
        } else {
            None
        };
        if out.is_empty() && next.is_none() {
            return None;
        }
        Some((Ok::<_, std::io::Error>(out), next))
    });
    Ok((
        [
            (CONTENT_TYPE, format.content_type()),
            (CACHE_CONTROL, "no-store"),
            (
                CONTENT_DISPOSITION,
                match format {
                    AuditFormat::Jsonl => "inline; filename=\"audit.jsonl\"",
                    AuditFormat::Csv => "inline; filename=\"audit.csv\"",
                },
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

async fn next_page(
    store: &DynStore,
    params: &AuditListParams,
) -> Result<Vec<AuditEntry>, opsroom_store::StoreError> {
    store.audit_list(params.clone()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("=1,2"), "\"'=1,2\"");
        assert_eq!(csv_cell(""), "");
    }
}
