//! The server-rendered pages. Each is the shared layout (navigation bar,
//! skip link, scripts) around a body whose live parts the scripts fill in.
//! Templates are `maud` macros: every value is escaped unless marked otherwise.

use super::assets::VERSION;
use crate::auth::Workspace;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use opsroom_core::Lane;
use opsroom_store::AuditListParams;
use std::collections::HashMap;

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Home,
    Runs,
    Runbooks,
    Approvals,
    Runboard,
    Workers,
    Audit,
    Notifications,
    Schedules,
}

/// The navigation bar's entries: (href, label, entry).
const NAV: &[(&str, &str, Nav)] = &[
    ("/", "Command", Nav::Home),
    ("/runs", "History", Nav::Runs),
    ("/runbooks", "Runbooks", Nav::Runbooks),
    ("/approvals", "Approvals", Nav::Approvals),
    ("/runboard", "Runboard", Nav::Runboard),
    ("/schedules", "Schedules", Nav::Schedules),
    ("/workers", "Workers", Nav::Workers),
    ("/audit", "Audit", Nav::Audit),
    ("/notifications", "Notifications", Nav::Notifications),
];

/// The page scripts, in load order.
const SCRIPTS: [&str; 6] = ["core", "render", "logview", "card", "pages", "schedules"];

/// What differs between pages in the shared layout.
pub(super) struct Page<'a> {
    title: &'a str,
    nav: Nav,
    /// The `data-page` value: which script part drives the page.
    script: &'a str,
    /// The Runboard session the page shows, as `data-session`.
    session: Option<i64>,
}

impl<'a> Page<'a> {
    pub(super) fn new(title: &'a str, nav: Nav, script: &'a str) -> Self {
        Page {
            title,
            nav,
            script,
            session: None,
        }
    }

    /// The layout every page shares, around `body`.
    pub(super) fn render(&self, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="color-scheme" content="light dark";
                    title { (self.title) " · opsroom" }
                    link rel="icon" href="data:,";
                    link rel="stylesheet" href={ "/ui/app.css?v=" (VERSION) };
                    @for script in SCRIPTS {
                        script src={ "/ui/" (script) ".js?v=" (VERSION) } defer {}
                    }
                }
                body data-page=(self.script) data-session=[self.session] {
                    a.skip href="#main" { "Skip to content" }
                    header.top {
                        nav aria-label="Main" {
                            a.brand href="/" { "opsroom" }
                            ul {
                                @for &(href, label, which) in NAV {
                                    li {
                                        a href=(href) aria-current=[(which == self.nav).then_some("page")] {
                                            (label)
                                            @if which == Nav::Approvals {
                                                // Filled in by core.js: how many runs wait.
                                                " "
                                                span #nav-approvals-count .count hidden aria-label="runs waiting" {}
                                            }
                                        }
                                    }
                                }
                            }
                            // Filled in by the scripts from /api/v1/me and the
                            // CSRF cookie; shown only when signed in.
                            form #signout method="post" action="/logout" hidden {
                                span #whoami {}
                                input type="hidden" name="csrf" value="";
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                    main #main tabindex="-1" { (body) }
                    #toast role="status" aria-live="polite" {}
                }
            }
        }
    }
}

/// The command bar; on the Runboard it also picks the lane.
pub(super) fn command_bar(with_lane: bool) -> Markup {
    html! {
        section.cmdbar aria-label="Command bar" {
            form #cmd-form role="search" autocomplete="off" {
                label.sr-only for="cmd" { "Command" }
                input #cmd name="text" type="text" spellcheck="false"
                    placeholder="Type a command, e.g. check prod status"
                    aria-describedby="cmd-hint" aria-controls="preview";
                @if with_lane {
                    label.lane-pick {
                        "Lane "
                        select #cmd-lane name="lane" {
                            @for lane in Lane::ALL { option { (lane) } }
                        }
                    }
                }
                button type="submit" { "Show card" }
            }
            p #cmd-hint .hint {
                "Enter shows the runbook card · ↑ ↓ earlier commands · "
                kbd { "/" } " or " kbd { "Ctrl" } "+" kbd { "K" } " focuses"
            }
            #preview .preview aria-live="polite" {}
        }
        #card-area {}
    }
}

/// `/`: the command bar, the runbook card and recent runs.
pub async fn home() -> Markup {
    Page::new("Command", Nav::Home, "home").render(html! {
        h1.sr-only { "Command" }
        (command_bar(false))
        section.recent aria-labelledby="recent-h" {
            h2 #recent-h { "Recent runs" }
            #recent .runs-list {}
        }
    })
}

/// `/runs/{id}`: one run's live view.
pub async fn run(Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found("There is no run with that id (run ids are whole numbers).");
    };
    let title = format!("Run #{id}");
    Page::new(&title, Nav::Runs, "run")
        .render(html! {
            #run-view .run-view data-run=(id) {
                h1 { (title) }
                p.muted { "Loading…" }
            }
        })
        .into_response()
}

/// The statuses the history can be filtered by.
const STATUSES: [&str; 7] = [
    "awaiting_approval",
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "rejected",
];

/// `/runs`: history with filters; the filters are filled in from the query.
pub async fn history(Query(q): Query<HashMap<String, String>>) -> Markup {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    Page::new("History", Nav::Runs, "history").render(html! {
        h1 { "Run history" }
        form #filters .filters method="get" action="/runs" {
            label {
                "Status "
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES {
                        option value=(s) selected[s == get("status")] { (s.replace('_', " ")) }
                    }
                }
            }
            label { "Env " input name="env" value=(get("env")) size="8" list="env-list"; }
            datalist #env-list {
                @for env in ["dev", "staging", "prod", "preview"] { option { (env) } }
            }
            label { "Runbook " input name="runbook" value=(get("runbook")) size="10"; }
            label { "Requested by " input name="created_by" value=(get("created_by")) size="10"; }
            label { "From " input name="from" type="date" value=(get("from")); }
            label { "To " input name="to" type="date" value=(get("to")); }
            label {
                "Text "
                input name="q" type="search" value=(get("q")) size="14" placeholder="target, command, error…";
            }
            button type="submit" { "Filter" }
            a.button.ghost href="/runs" { "Clear" }
        }
        #history .runs-list data-before=(get("before")) aria-live="polite" {}
        nav.pager aria-label="Pages" {
            a #newer .button.ghost href="/runs" { "Newest" }
            a #older .button href="#" hidden { "Older runs" }
        }
    })
}

/// `/runboard`: start a session in one click, or open one by id.
pub async fn runboard_start() -> Markup {
    Page::new("Runboard", Nav::Runboard, "runboard-start").render(html! {
        h1 { "Runboard" }
        p {
            "A session groups runs in lanes A to D: runs in one lane run one after \
             another, lanes run in parallel."
        }
        p { button #new-session .primary type="button" { "New session" } }
        form #open-session .filters {
            label {
                "Open session "
                input name="id" inputmode="numeric" size="6" required pattern="[0-9]+";
            }
            button type="submit" { "Open" }
        }
        section aria-labelledby="sessions-h" {
            h2 #sessions-h { "Recent sessions" }
            #sessions .runs-list aria-live="polite" {}
        }
    })
}

/// `/runboard/{session}`: a session's lanes as columns, live.
pub async fn runboard(Path(session): Path<String>) -> Response {
    let Ok(id) = session.parse::<i64>() else {
        return not_found("There is no session with that id (session ids are whole numbers).");
    };
    let title = format!("Runboard #{id}");
    let page = Page {
        session: Some(id),
        ..Page::new(&title, Nav::Runboard, "runboard")
    };
    page.render(html! {
        h1 { "Runboard " span #session-name .muted { "session #" (id) } }
        (command_bar(true))
        #board .board {
            @for lane in Lane::ALL {
                section.lane data-lane=(lane) aria-labelledby={ "lane-" (lane) } {
                    h2 id={ "lane-" (lane) } { "Lane " (lane) }
                    ol.lane-runs {}
                }
            }
        }
    })
    .into_response()
}

/// `/approvals`: the runs waiting for someone to approve or reject them,
/// each with its plan; filled in (and kept current) by the page script.
pub async fn approvals() -> Markup {
    Page::new("Approvals", Nav::Approvals, "approvals").render(html! {
        h1 { "Approvals" }
        p.muted {
            "Runs that wait for a second person: check the plan, then approve or reject \
             it with a comment. You cannot decide on a run you requested."
        }
        #approvals aria-live="polite" {}
    })
}

/// `/schedules`: cron schedules with their next five fires and the fires
/// they skipped; create, pause, resume and delete (filled in by schedules.js).
pub async fn schedules() -> Markup {
    Page::new("Schedules", Nav::Schedules, "schedules").render(html! {
        h1 { "Schedules" }
        p.muted {
            "Each fire enqueues one run. Five fields (minute hour day month weekday) or six \
             with seconds first; times are in the schedule's time zone. Fires missed while \
             no server was running are skipped, and shown here."
        }
        form #schedule-form {
            label { "Cron " input #schedule-cron name="cron" required placeholder="*/5 * * * *" autocomplete="off"; }
            label { "Time zone " input #schedule-tz name="timezone" placeholder="UTC" autocomplete="off"; }
            label { "Command " input #schedule-text name="text" required placeholder="check prod status" autocomplete="off"; }
            button type="submit" { "Add schedule" }
            p #schedule-error .error role="alert" hidden {}
        }
        #schedules aria-live="polite" {}
    })
}

/// `/audit`: the audit log, newest first, filtered by action, actor and time.
pub async fn audit(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("").trim();
    let since = match get("since") {
        "" => Ok(None),
        s => parse_since(s).map(Some),
    };
    let filter = |v: &str| (!v.is_empty()).then(|| v.to_string());
    let entries = match &since {
        Ok(since) => state
            .engine
            .store
            .audit_list(AuditListParams {
                since: *since,
                action: filter(get("action")),
                actor: filter(get("actor")),
                ..AuditListParams::newest(&ws, AUDIT_PAGE)
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "reading the audit log for its page");
                "The audit log cannot be read right now; see the server log.".to_string()
            }),
        Err(e) => Err(e.clone()),
    };
    let export = {
        let mut pairs = vec![];
        for k in ["since", "action", "actor"] {
            let bad_since = k == "since" && since.is_err();
            if !get(k).is_empty() && !bad_since {
                pairs.push(format!("{k}={}", url_encode(get(k))));
            }
        }
        pairs.join("&")
    };
    Page::new("Audit log", Nav::Audit, "audit")
        .render(html! {
            h1 { "Audit log" }
            form #audit-filters .filters method="get" action="/audit" {
                label { "Action " input name="action" value=(get("action")) size="14" list="audit-actions"; }
                datalist #audit-actions {
                    @for a in AUDIT_ACTIONS { option { (a) } }
                }
                label { "Actor " input name="actor" value=(get("actor")) size="10"; }
                label {
                    "Since "
                    input name="since" value=(get("since")) size="22" placeholder="2026-01-31 or 2026-01-31T08:00:00Z";
                }
                button type="submit" { "Filter" }
                a.button.ghost href="/audit" { "Clear" }
            }
            p.muted {
                "Newest first, at most " (AUDIT_PAGE) " entries. Export everything that matches: "
                a href={ "/api/v1/audit?format=csv&" (export) } download="audit.csv" { "CSV" }
                " · "
                a href={ "/api/v1/audit?format=jsonl&" (export) } download="audit.jsonl" { "JSON lines" }
            }
            @match entries {
                Err(message) => { p.error role="alert" { (message) } }
                Ok(entries) if entries.is_empty() => { p.muted.empty { "No audit entries match these filters." } }
                Ok(entries) => { div.table-wrap {
                    table.audit {
                        thead { tr {
                            @for c in ["Time", "Actor", "Action", "Subject", "Source", "Details"] {
                                th scope="col" { (c) }
                            }
                        } }
                        tbody {
                            @for e in &entries {
                                tr data-action=(e.action) {
                                    td { time datetime=(e.ts.to_rfc3339()) { (e.ts.format("%Y-%m-%d %H:%M:%S UTC")) } }
                                    td { (e.actor) }
                                    td { code { (e.action) } }
                                    td {
                                        @if let Some(id) = e.subject.strip_prefix("run:").filter(|id| id.parse::<i64>().is_ok()) {
                                            a href={ "/runs/" (id) } { (e.subject) }
                                        } @else {
                                            (e.subject)
                                        }
                                    }
                                    td { (e.source.as_deref().unwrap_or("")) }
                                    td.details { code { (e.details.to_string()) } }
                                }
                            }
                        }
                    }
                } }
            }
        })
        .into_response()
}

/// `/notifications`: each configured channel (never its URL) with its
/// latest delivery attempts, newest first.
pub async fn notifications(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
) -> Response {
    let channels = &state.engine.config.notifications;
    let mut logs = Vec::new();
    for channel in channels {
        let attempts = crate::routes::notifications::deliveries(
            &state,
            ws.clone(),
            crate::views::DeliveriesQuery {
                channel: Some(channel.name().to_string()),
                limit: Some(NOTIFICATIONS_PAGE),
                before: None,
            },
        )
        .await
        .map_err(|e| {
            tracing::error!(error = ?e, "reading delivery attempts for their page");
            "The delivery log cannot be read right now; see the server log.".to_string()
        });
        logs.push((channel, attempts));
    }
    Page::new("Notifications", Nav::Notifications, "notifications")
        .render(html! {
            h1 { "Notifications" }
            p.muted {
                "Channels configured under [[notifications]] in opsroom.toml, each with its latest "
                (NOTIFICATIONS_PAGE) " delivery attempts, newest first. A failed attempt is retried with backoff."
            }
            @if logs.is_empty() { p.muted.empty { "No notification channels are configured." } }
            @for (channel, attempts) in &logs {
                section.channel data-channel=(channel.name()) {
                    h2 { (channel.name()) " " span.muted { "(" (channel.kind.as_str()) ")" } }
                    p.muted {
                        "Events: " (channel.events.join(", "))
                        @if !channel.envs.is_empty() { " · envs: " (channel.envs.join(", ")) }
                        @if !channel.runbooks.is_empty() { " · runbooks: " (channel.runbooks.join(", ")) }
                    }
                    @match attempts {
                        Err(message) => { p.error role="alert" { (message) } }
                        Ok(attempts) if attempts.is_empty() => { p.muted.empty { "Nothing sent yet." } }
                        Ok(attempts) => { div.table-wrap { table.deliveries {
                            thead { tr {
                                @for c in ["Time", "Event", "Run", "Attempt", "Status", "Error"] { th scope="col" { (c) } }
                            } }
                            tbody { @for a in attempts {
                                tr {
                                    td { time datetime=(a.at.to_rfc3339()) { (a.at.format("%Y-%m-%d %H:%M:%S UTC")) } }
                                    td { code { (a.event) } }
                                    td { a href={ "/runs/" (a.run_id) } { (a.run_id) } }
                                    td { (a.attempt) }
                                    td { (a.status_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())) }
                                    td { (a.error.as_deref().unwrap_or("")) }
                                }
                            } }
                        } } }
                    }
                }
            }
        })
        .into_response()
}

/// The most attempts the notifications page shows per channel.
const NOTIFICATIONS_PAGE: i64 = 50;

/// The most entries the audit page shows.
const AUDIT_PAGE: i64 = 200;

/// The actions the audit filter suggests.
const AUDIT_ACTIONS: [&str; 10] = [
    "run.create",
    "run.retry",
    "run.approve",
    "run.reject",
    "run.expire",
    "run.cancel",
    "run.create_batch",
    "secret.set",
    "secret.deleted",
    "secret.resealed",
];

/// A time for the audit filter: RFC 3339, or a date (midnight UTC).
fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(format!(
        "“{s}” is not a time: write a date (2026-01-31) or an RFC 3339 time (2026-01-31T08:00:00Z)."
    ))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/workers`: worker health.
pub async fn workers() -> Markup {
    Page::new("Workers", Nav::Workers, "workers").render(html! {
        h1 { "Workers" }
        p.muted {
            "Refreshed every 2 seconds. A worker whose heartbeat is older than the \
             timeout is marked stale; its runs get rescued."
        }
        #workers aria-live="polite" {}
    })
}

/// A page saying what was not found, answered with 404.
pub(super) fn not_found(text: &str) -> Response {
    message(StatusCode::NOT_FOUND, "Not found", text)
}

/// A page with a title and a message, answered with `status`.
pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let page = Page::new(title, Nav::Home, "none").render(html! {
        h1 { (title) }
        p { (text) }
        p { a href="/runs" { "Run history" } }
    });
    (status, page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn query_values_are_escaped_in_the_filters() {
        let q = HashMap::from([
            ("env".to_string(), "\"><script>x</script>".to_string()),
            ("before".to_string(), "1&2".to_string()),
        ]);
        let page = history(Query(q)).await.into_string();
        assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(page.contains("data-before=\"1&amp;2\""));
        assert!(!page.contains("<script>x"));
    }

    #[tokio::test]
    async fn not_found_escapes_its_message() {
        let r = not_found("<b>no</b>");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains("<p>&lt;b&gt;no&lt;/b&gt;</p>"), "{page}");
    }
}
