//! The server-rendered pages. Each is the shared layout (navigation bar,
//! skip link, scripts) around a body whose live parts the scripts fill in.

use super::assets::VERSION;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;
use std::fmt::Write;

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Home,
    Runs,
    Runboard,
    Workers,
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The layout every page shares; `page` names the script that drives it.
fn layout(title: &str, nav: Nav, page: &str, attrs: &str, body: &str) -> Html<String> {
    let mut links = String::new();
    for (href, label, which) in [
        ("/", "Command", Nav::Home),
        ("/runs", "History", Nav::Runs),
        ("/runboard", "Runboard", Nav::Runboard),
        ("/workers", "Workers", Nav::Workers),
    ] {
        let current = if which == nav {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(links, "<li><a href=\"{href}\"{current}>{label}</a></li>");
    }
    let scripts: String = ["core", "render", "logview", "card", "pages"]
        .iter()
        .map(|s| format!("<script src=\"/ui/{s}.js?v={VERSION}\" defer></script>"))
        .collect();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{title} · opsroom</title>\
<link rel=\"icon\" href=\"data:,\">\
<link rel=\"stylesheet\" href=\"/ui/app.css?v={VERSION}\">{scripts}</head>\
<body data-page=\"{page}\"{attrs}>\
<a class=\"skip\" href=\"#main\">Skip to content</a>\
<header class=\"top\"><nav aria-label=\"Main\"><a class=\"brand\" href=\"/\">opsroom</a><ul>{links}</ul></nav></header>\
<main id=\"main\" tabindex=\"-1\">{body}</main>\
<div id=\"toast\" role=\"status\" aria-live=\"polite\"></div></body></html>",
        title = esc(title),
    ))
}

/// The command bar; on the Runboard it also picks the lane.
fn command_bar(with_lane: bool) -> String {
    let lane = if with_lane {
        "<label class=\"lane-pick\">Lane <select id=\"cmd-lane\" name=\"lane\">\
<option>A</option><option>B</option><option>C</option><option>D</option></select></label>"
    } else {
        ""
    };
    format!(
        "<section class=\"cmdbar\" aria-label=\"Command bar\">\
<form id=\"cmd-form\" role=\"search\" autocomplete=\"off\">\
<label for=\"cmd\" class=\"sr-only\">Command</label>\
<input id=\"cmd\" name=\"text\" type=\"text\" spellcheck=\"false\" \
placeholder=\"Type a command, e.g. check prod status\" aria-describedby=\"cmd-hint\" \
aria-controls=\"preview\">{lane}<button type=\"submit\">Show card</button></form>\
<p id=\"cmd-hint\" class=\"hint\">Enter shows the runbook card · ↑ ↓ earlier commands · \
<kbd>/</kbd> or <kbd>Ctrl</kbd>+<kbd>K</kbd> focuses</p>\
<div id=\"preview\" class=\"preview\" aria-live=\"polite\"></div></section>\
<div id=\"card-area\"></div>"
    )
}

/// `/`: the command bar, the runbook card and recent runs.
pub async fn home() -> Html<String> {
    let body = format!(
        "<h1 class=\"sr-only\">Command</h1>{}<section class=\"recent\" aria-labelledby=\"recent-h\">\
<h2 id=\"recent-h\">Recent runs</h2><div id=\"recent\" class=\"runs-list\"></div></section>",
        command_bar(false)
    );
    layout("Command", Nav::Home, "home", "", &body)
}

/// `/runs/{id}`: one run's live view.
pub async fn run(Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found("There is no run with that id (run ids are whole numbers).");
    };
    let body = format!(
        "<div id=\"run-view\" class=\"run-view\" data-run=\"{id}\"><h1>Run #{id}</h1>\
<p class=\"muted\">Loading…</p></div>"
    );
    layout(&format!("Run #{id}"), Nav::Runs, "run", "", &body).into_response()
}

/// `/runs`: history with filters; the filters are filled in from the query.
pub async fn history(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let get = |k: &str| esc(q.get(k).map(String::as_str).unwrap_or(""));
    let status = q.get("status").map(String::as_str).unwrap_or("");
    let mut options = String::from("<option value=\"\">any</option>");
    for s in [
        "awaiting_approval",
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "rejected",
    ] {
        let sel = if s == status { " selected" } else { "" };
        let _ = write!(
            options,
            "<option value=\"{s}\"{sel}>{}</option>",
            s.replace('_', " ")
        );
    }
    let body = format!(
        "<h1>Run history</h1>\
<form id=\"filters\" class=\"filters\" method=\"get\" action=\"/runs\">\
<label>Status <select name=\"status\">{options}</select></label>\
<label>Env <input name=\"env\" value=\"{env}\" size=\"8\" list=\"env-list\"></label>\
<datalist id=\"env-list\"><option>dev</option><option>staging</option><option>prod</option><option>preview</option></datalist>\
<label>Runbook <input name=\"runbook\" value=\"{runbook}\" size=\"10\"></label>\
<label>Text <input name=\"q\" type=\"search\" value=\"{text}\" size=\"14\" placeholder=\"target, command…\"></label>\
<button type=\"submit\">Filter</button><a href=\"/runs\" class=\"button ghost\">Clear</a></form>\
<div id=\"history\" class=\"runs-list\" data-before=\"{before}\" aria-live=\"polite\"></div>\
<nav class=\"pager\" aria-label=\"Pages\"><a id=\"newer\" class=\"button ghost\" href=\"/runs\">Newest</a>\
<a id=\"older\" class=\"button\" href=\"#\" hidden>Older runs</a></nav>",
        env = get("env"),
        runbook = get("runbook"),
        text = get("q"),
        before = get("before"),
    );
    layout("History", Nav::Runs, "history", "", &body)
}

/// `/runboard`: start a session in one click, or open one by id.
pub async fn runboard_start() -> Html<String> {
    let body = "<h1>Runboard</h1><p>A session groups runs in lanes A to D: runs in one lane \
run one after another, lanes run in parallel.</p>\
<p><button id=\"new-session\" type=\"button\" class=\"primary\">New session</button></p>\
<form id=\"open-session\" class=\"filters\"><label>Open session <input name=\"id\" inputmode=\"numeric\" size=\"6\" required pattern=\"[0-9]+\"></label>\
<button type=\"submit\">Open</button></form>";
    layout("Runboard", Nav::Runboard, "runboard-start", "", body)
}

/// `/runboard/{session}`: a session's lanes as columns, live.
pub async fn runboard(Path(session): Path<String>) -> Response {
    let Ok(id) = session.parse::<i64>() else {
        return not_found("There is no session with that id (session ids are whole numbers).");
    };
    let lanes: String = ["A", "B", "C", "D"]
        .iter()
        .map(|l| {
            format!(
                "<section class=\"lane\" data-lane=\"{l}\" aria-labelledby=\"lane-{l}\">\
<h2 id=\"lane-{l}\">Lane {l}</h2><ol class=\"lane-runs\"></ol></section>"
            )
        })
        .collect();
    let body = format!(
        "<h1>Runboard <span id=\"session-name\" class=\"muted\">session #{id}</span></h1>{}\
<div id=\"board\" class=\"board\">{lanes}</div>",
        command_bar(true)
    );
    layout(
        &format!("Runboard #{id}"),
        Nav::Runboard,
        "runboard",
        &format!(" data-session=\"{id}\""),
        &body,
    )
    .into_response()
}

/// `/workers`: worker health.
pub async fn workers() -> Html<String> {
    let body = "<h1>Workers</h1><p class=\"muted\">Refreshed every 2 seconds. A worker whose \
heartbeat is older than the timeout is marked stale; its runs get rescued.</p>\
<div id=\"workers\" aria-live=\"polite\"></div>";
    layout("Workers", Nav::Workers, "workers", "", body)
}

pub(super) fn not_found(message: &str) -> Response {
    let body = format!(
        "<h1>Not found</h1><p>{}</p><p><a href=\"/runs\">Run history</a></p>",
        esc(message)
    );
    (
        StatusCode::NOT_FOUND,
        layout("Not found", Nav::Home, "none", "", &body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_html() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
