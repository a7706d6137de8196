//! The operator's views in headless Chromium: a card that offers Run only
//! when the run would pass validation (params editable), focus on the log
//! after Run, the run page's who/what/when header, a log you can read
//! (wrap, expand, ANSI colours, time modes, line links, download), retry
//! with changes, the runbook catalog's "try it", history as cards on a
//! narrow screen, and a Runboard run that says what it waits for.
//! Screenshots at 1440 px light and 390 px dark go to target/screenshots/.

#[allow(dead_code)]
#[path = "browser/support.rs"]
mod support;

use fantoccini::key::Key;
use serde_json::{json, Value};
use support::{Browser, BrowserOptions, Server};

fn wide() -> BrowserOptions {
    BrowserOptions {
        width: 1440,
        height: 900,
        dark: false,
    }
}

fn narrow_dark() -> BrowserOptions {
    BrowserOptions {
        width: 390,
        height: 844,
        dark: true,
    }
}

/// Types `text` into the emptied command bar and presses Enter.
async fn command(b: &Browser, text: &str) {
    b.js(
        "const i = document.querySelector('#cmd'); i.value = ''; i.focus(); return 1",
        vec![],
    )
    .await;
    let input = b.find("#cmd").await;
    input.send_keys(text).await.unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_offers_run_only_when_the_run_would_pass() {
    let server = Server::start().await;
    let mut b = Browser::start("card-validate", wide()).await;
    b.goto(&server.url("/")).await;
    // The demo's preview has no deploy provider: validate would refuse it.
    command(&b, "deploy opsroom to preview").await;
    let why = b
        .wait(
            "refused card",
            "const c = document.querySelector('.card[data-intent=deploy]'); const w = c && c.querySelector('.not-runnable');
             return c && c.dataset.runnable === 'false' && !w.hidden && c.querySelector('[data-action=run]').hidden
               && document.activeElement === c && w.textContent",
        )
        .await;
    assert!(
        why.as_str().unwrap().contains("no deploy provider"),
        "{why}"
    );
    b.screenshot("refused").await;

    // Nothing matched: no Run either.
    command(&b, "make me a sandwich").await;
    b.wait(
        "no runbook",
        "const c = document.querySelector('.card[data-intent=none]'); return c && c.querySelector('[data-action=run]').hidden",
    )
    .await;

    // A runnable card; an edited param that would fail hides Run, a good one brings it back.
    command(&b, "noop").await;
    b.wait(
        "runnable card with params",
        "const c = document.querySelector('.card[data-intent=noop]'); return c && c.dataset.runnable === 'true' && c.querySelector('[data-param=events]')",
    )
    .await;
    b.click(".edit-params summary").await;
    let set = |v: &str| {
        format!("const i = document.querySelector('.card [data-param=events]'); i.value = '{v}'; i.dispatchEvent(new Event('input')); return 1")
    };
    b.js(&set("-1"), vec![]).await;
    b.wait(
        "refused param",
        "const c = document.querySelector('.card'); return c.dataset.runnable === 'false' && c.querySelector('[data-action=run]').hidden && c.querySelector('.not-runnable').textContent.includes('events')",
    )
    .await;
    b.screenshot("bad-param").await;
    b.js(&set("3"), vec![]).await;
    b.wait(
        "runnable again",
        "const c = document.querySelector('.card'); return c.dataset.runnable === 'true' && !c.querySelector('[data-action=run]').hidden",
    )
    .await;
    b.click(".card [data-action=run]").await;
    // After Run the focus is on the run's log, and the run has the edited param.
    b.wait(
        "focus on the log",
        "return document.activeElement && document.activeElement.classList.contains('log-viewport')",
    )
    .await;
    let events = b
        .wait(
            "params table",
            "const r = document.querySelector('.run-live'); const td = r && r.querySelector('tr[data-param=events] td'); return r && r.dataset.status === 'succeeded' && td && td.textContent",
        )
        .await;
    assert_eq!(events, json!("3"));
    b.screenshot("ran").await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// The run page: header facts, the log's reading aids, and retry with changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_page_header_log_and_retry_with_changes() {
    let server = Server::start().await;
    let run = server
        .post(
            "/runs",
            json!({"runbook": "noop", "params": {"events": 40}}),
        )
        .await;
    let id = run["id"].as_i64().unwrap();
    let done = server.wait_final(id).await;
    let mut b = Browser::start("run-page", wide()).await;
    b.goto(&server.url(&format!("/runs/{id}#L7"))).await;
    // The line link scrolls to line 7 and highlights it.
    b.wait(
        "line 7 highlighted",
        "const r = document.querySelector('.log-row.hl'); if (!r || r.dataset.seq !== '7') return false;
         const v = document.querySelector('.log-viewport').getBoundingClientRect(); const b = r.getBoundingClientRect();
         return b.top >= v.top && b.bottom <= v.bottom",
    )
    .await;
    let facts = b
        .wait(
            "header facts",
            "const f = (n) => { const d = document.querySelector('[data-field=' + n + ']'); return d && d.textContent; };
             const t = document.querySelector('[data-field=started_at] time');
             return document.querySelector('#run-view').dataset.status === 'succeeded' && t && {
               requested: f('requested_by'), approved: f('approved_by'), attempt: f('attempt'), worker: f('worker'),
               duration: f('duration'), head: document.querySelector('.run-dur').textContent,
               started_title: t.title, started: t.textContent, ended: f('finished_at'),
               events: document.querySelector('tr[data-param=events] td').textContent }",
        )
        .await;
    assert_eq!(
        facts["requested"].as_str().unwrap().split(' ').next(),
        done["created_by"].as_str(),
        "{facts}"
    );
    assert!(facts["approved"].as_str().unwrap().contains("not needed"));
    assert_eq!(
        facts["attempt"],
        json!(format!("1 of {}", done["max_attempts"]))
    );
    assert!(
        !facts["worker"].as_str().unwrap().contains("none"),
        "{facts}"
    );
    assert!(facts["started_title"].as_str().unwrap().ends_with("UTC"));
    assert!(
        facts["started"].as_str().unwrap().starts_with("20"),
        "{facts}"
    );
    assert_eq!(facts["events"], json!("40"));
    // The header's duration is the run's: the same figure in both places.
    assert_eq!(
        facts["head"].as_str().unwrap(),
        format!("took {}", facts["duration"].as_str().unwrap())
    );
    b.screenshot("header").await;

    // Long lines wrap; with wrap off they scroll sideways and expand;
    // ANSI colours are drawn and left out of copies.
    let shown = b
        .js(
            "const log = document.querySelector('#run-view').runView.log;
             log.setWrap(true);
             log.add([{seq: log.lastSeq + 1, ts: new Date().toISOString(), level: 'error', phase: 'action',
               message: '\\u001b[31mred\\u001b[0m and \\u001b[1;32mbold green\\u001b[0m ' + 'long '.repeat(120), data: {}}]);
             log.follow = true; log.render();
             const row = log.rows.lastChild;
             return {height: row.getBoundingClientRect().height, red: row.querySelector('.ansi-31').textContent,
                     green: row.querySelector('.ansi-32.ansi-bold').textContent, copy: log.text().includes('\\u001b'),
                     text: log.text().split('\\n').pop().slice(0, 60)}",
            vec![],
        )
        .await;
    assert!(shown["height"].as_f64().unwrap() > 40.0, "wrapped: {shown}");
    assert_eq!(shown["red"], json!("red"));
    assert_eq!(shown["green"], json!("bold green"));
    assert_eq!(shown["copy"], json!(false), "copies hold no escape codes");
    assert!(shown["text"]
        .as_str()
        .unwrap()
        .contains("ERROR action red and bold green"));
    b.screenshot("wrapped").await;
    b.click("[data-action=wrap]").await;
    let unwrapped = b
        .wait(
            "one row with a more button",
            "const row = document.querySelector('#run-view').runView.log.rows.lastChild;
             const more = row && row.querySelector('.log-expand');
             return more && row.getBoundingClientRect().height <= 21 && more.textContent",
        )
        .await;
    assert_eq!(unwrapped, json!("more"));
    b.click(".log-rows .log-row:last-child .log-expand").await;
    b.wait(
        "expanded line",
        "const row = document.querySelector('#run-view').runView.log.rows.lastChild;
         return row.classList.contains('expanded') && row.getBoundingClientRect().height > 40",
    )
    .await;
    b.screenshot("expanded").await;

    // Times: local with the zone named, UTC, relative to the start.
    let modes = b
        .js(
            "const log = document.querySelector('#run-view').runView.log; const out = [];
             for (const m of ['local', 'utc', 'relative']) { log.setTimeMode(m); log.render();
               out.push([log.timeBtn.textContent, log.rows.querySelector('.log-row[data-seq=\"1\"]') ? 1 : 0]); }
             log.setTimeMode('utc'); log.goto(1);
             const r = log.rows.querySelector('[data-seq=\"1\"]');
             const utc = r.querySelector('.log-ts').textContent; const iso = r.querySelector('.log-ts').title;
             log.setTimeMode('relative'); log.render();
             return {modes: out, utc, iso, rel: log.rows.querySelector('[data-seq=\"1\"] .log-ts').textContent}",
            vec![],
        )
        .await;
    assert!(
        modes["modes"][0][0]
            .as_str()
            .unwrap()
            .starts_with("Time: local ("),
        "{modes}"
    );
    assert_eq!(modes["modes"][1][0], json!("Time: UTC"));
    assert_eq!(
        modes["utc"].as_str().unwrap(),
        &modes["iso"].as_str().unwrap()[11..23]
    );
    assert!(modes["rel"].as_str().unwrap().starts_with('+'), "{modes}");

    // The download link is the raw log.
    let href = b
        .js(
            "return document.querySelector('[data-action=download-log]').getAttribute('href')",
            vec![],
        )
        .await;
    assert_eq!(href, json!(format!("/api/v1/runs/{id}/log")));

    // Retry with changes: a form of the runbook's params, filled in.
    b.click("[data-action=retry-edit]").await;
    b.wait(
        "retry dialog",
        "const d = document.querySelector('dialog.retry-dialog[open]'); return d && d.querySelector('[data-param=events]').value === '40'",
    )
    .await;
    b.screenshot("retry-dialog").await;
    b.js(
        "const i = document.querySelector('dialog [data-param=events]'); i.value = '5'; return 1",
        vec![],
    )
    .await;
    b.click("[data-action=retry-send]").await;
    let retried = b
        .wait(
            "the new run's page links back",
            &format!(
                "const m = location.pathname.match(/^\\/runs\\/(\\d+)$/); const of = document.querySelector('[data-field=retry_of] a');
                 return m && +m[1] !== {id} && of && of.textContent === '#{id}' && +m[1]"
            ),
        )
        .await;
    let new_run = server.get(&format!("/runs/{retried}")).await;
    assert_eq!(new_run["params"]["events"], json!(5));
    b.goto(&server.url(&format!("/runs/{id}"))).await;
    b.wait(
        "retried as",
        &format!("const a = document.querySelector('[data-field=retried_as] a'); return a && a.textContent === '#{retried}'"),
    )
    .await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// The catalog lists every runbook; "try it" fills the command bar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_try_it_fills_the_command_bar() {
    let server = Server::start().await;
    let runbooks = server.get("/runbooks").await;
    let mut b = Browser::start("catalog", wide()).await;
    b.goto(&server.url("/runbooks")).await;
    let names = b
        .js(
            "return [...document.querySelectorAll('article[data-runbook]')].map(a => a.dataset.runbook)",
            vec![],
        )
        .await;
    let expected: Vec<Value> = runbooks
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, Value::Array(expected));
    b.screenshot("catalog").await;
    b.click("#rb-healthcheck button[data-try]").await;
    let text = b
        .wait(
            "filled and previewed",
            "const i = document.querySelector('#cmd'); const d = document.querySelector('[data-field=intent]');
             return document.activeElement === i && d && d.textContent === 'healthcheck' && i.value",
        )
        .await;
    assert!(text.as_str().unwrap().contains("status"), "{text}");
    b.assert_clean_console().await;
    b.close().await;

    let mut b = Browser::start("catalog-narrow", narrow_dark()).await;
    b.goto(&server.url("/runbooks")).await;
    let fits = b
        .js(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await;
    assert_eq!(fits, json!(true), "the catalog fits 390 px");
    b.screenshot("catalog").await;
    b.close().await;
    server.stop().await;
}

/// History at 390 px: rows are cards with labels, requester and duration;
/// the text search is the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_cards_on_a_narrow_screen() {
    let server = Server::start().await;
    let billing = server
        .post(
            "/runs",
            json!({"runbook": "noop", "target": "billing", "params": {"events": 1}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let other = server
        .post("/runs", json!({"text": "check dev status"}))
        .await["id"]
        .as_i64()
        .unwrap();
    server.wait_final(billing).await;
    server.wait_final(other).await;
    let mut b = Browser::start("history-narrow", narrow_dark()).await;
    b.goto(&server.url("/runs?q=NOOP+billing")).await;
    let row = b
        .wait(
            "one card",
            "const r = [...document.querySelectorAll('tr[data-run]')];
             return r.length === 1 && {id: +r[0].dataset.run, display: getComputedStyle(r[0]).display,
               by: r[0].querySelector('[data-field=created_by]').textContent,
               dur: r[0].querySelector('[data-field=duration]').textContent,
               fits: document.documentElement.scrollWidth <= window.innerWidth}",
        )
        .await;
    assert_eq!(row["id"], json!(billing));
    assert_eq!(row["display"], json!("grid"), "a card, not a table row");
    assert!(!row["by"].as_str().unwrap().is_empty());
    assert!(row["dur"].as_str().unwrap().ends_with('s'), "{row}");
    assert_eq!(row["fits"], json!(true));
    b.screenshot("cards").await;
    b.goto(&server.url("/runs")).await;
    b.wait(
        "both",
        "return document.querySelectorAll('tr[data-run]').length === 2",
    )
    .await;
    b.screenshot("all").await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// A run queued behind another in its lane says which and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runboard_says_what_a_run_waits_for() {
    let server = Server::start().await;
    let session = server.post("/sessions", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let first = server
        .post(
            "/runs",
            json!({"text": "deploy opsroom to prod", "session_id": session, "lane": "A"}),
        )
        .await;
    assert_eq!(first["status"], json!("awaiting_approval"));
    let second = server
        .post(
            "/runs",
            json!({"runbook": "noop", "session_id": session, "lane": "A"}),
        )
        .await;
    let mut b = Browser::start("runboard-waits", wide()).await;
    b.goto(&server.url(&format!("/runboard/{session}"))).await;
    let waits = b
        .wait(
            "waits for",
            &format!(
                "const c = document.querySelector('.lane-run[data-run=\"{}\"] [data-field=waits-for]'); return c && c.textContent",
                second["id"]
            ),
        )
        .await;
    assert_eq!(
        waits,
        json!(format!("waits for #{} (awaiting approval)", first["id"]))
    );
    b.screenshot("board").await;
    // The run's own page says it too.
    b.goto(&server.url(&format!("/runs/{}", second["id"])))
        .await;
    let row = b
        .wait(
            "run page waits for",
            "const d = document.querySelector('[data-field=waits_for]'); return d && d.textContent",
        )
        .await;
    assert_eq!(
        row,
        json!(format!(
            "#{} (deploy, awaiting approval) ahead of it in its lane",
            first["id"]
        ))
    );
    b.screenshot("run-waits").await;
    // The Runboard's start page lists sessions, newest first, with lane states.
    server.post("/sessions", json!({"name": "newer"})).await;
    b.goto(&server.url("/runboard")).await;
    let listed = b
        .wait(
            "sessions list",
            "const s = [...document.querySelectorAll('ul.sessions > li')]; return s.length === 2 && s.map(li => [+li.dataset.session, li.querySelector('.lane-state[data-lane=A]').textContent])",
        )
        .await;
    assert_eq!(listed[1][0], json!(session));
    assert_eq!(
        listed[1][1],
        json!(format!("A: #{} awaiting approval of 2 runs", first["id"]))
    );
    assert!(listed[0][1].as_str().unwrap().contains("empty"));
    b.screenshot("sessions").await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}
