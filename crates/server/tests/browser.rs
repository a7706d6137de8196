//! End-to-end tests of the web UI in headless Chromium, driven over
//! WebDriver against the real server on port 0. Every test saves
//! screenshots to target/screenshots/ and fails on browser console errors.

#[path = "browser/support.rs"]
mod support;

use fantoccini::key::Key;
use serde_json::{json, Value};
use support::{Browser, BrowserOptions, Server};

const PHASES: [&str; 5] = ["validate", "preflight", "action", "verify", "summarize"];

/// Type "check prod status", see the card, Run, watch all five phases
/// stream in and the final status; then the run's own page and workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_bar_to_live_run() {
    let server = Server::start().await;
    let mut b = Browser::start("command-bar", BrowserOptions::default()).await;
    b.goto(&server.url("/")).await;
    b.wait(
        "command bar focused",
        "return document.activeElement && document.activeElement.id === 'cmd'",
    )
    .await;
    let first_paint = b
        .wait(
            "first paint",
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : 0",
        )
        .await;
    println!("first contentful paint of /: {first_paint} ms");

    let input = b.find("#cmd").await;
    input.send_keys("check prod status").await.unwrap();
    b.wait(
        "live preview",
        "const d = document.querySelector('[data-field=intent]'); return d && d.textContent === 'healthcheck' && document.querySelector('[data-field=env]').textContent === 'prod'",
    )
    .await;
    b.screenshot("preview").await;
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    b.wait(
        "runbook card",
        "return document.querySelector('.card[data-intent=healthcheck] [data-risk=read]')",
    )
    .await;
    let steps = b
        .js(
            "return document.querySelectorAll('.card ol.plan > li').length",
            vec![],
        )
        .await;
    assert_eq!(steps, json!(5), "the card shows the five phases' steps");
    b.screenshot("card").await;

    b.click("[data-action=run]").await;
    b.wait(
        "final status",
        "const r = document.querySelector('.run-live'); return r && ['succeeded','failed'].includes(r.dataset.status) && document.querySelector('.artifacts h3')",
    )
    .await;
    let phases = b
        .js(
            "return [...document.querySelectorAll('.phase')].map(p => [p.dataset.phase, p.dataset.status, p.querySelector('.ph-dur').textContent])",
            vec![],
        )
        .await;
    let phases = phases.as_array().unwrap();
    assert_eq!(phases.len(), 5);
    for (p, name) in phases.iter().zip(PHASES) {
        assert_eq!(p[0], json!(name));
        assert_eq!(p[1], json!("succeeded"), "phase {name}: {p}");
        assert!(p[2].as_str().unwrap().ends_with("ms") || p[2].as_str().unwrap().ends_with(" s"));
    }
    let log = b
        .js(
            "return document.querySelector('.run-live').runView.log.events.map(e => e.message)",
            vec![],
        )
        .await;
    for name in PHASES {
        assert!(
            log.as_array()
                .unwrap()
                .iter()
                .any(|m| m.as_str() == Some(&format!("phase {name} started"))),
            "the log streamed the start of {name}"
        );
    }
    let status = b
        .js(
            "return document.querySelector('.run-live .badge').dataset.status",
            vec![],
        )
        .await;
    assert_eq!(status, json!("succeeded"));
    b.wait(
        "report table rendered",
        "return document.querySelector('.artifact .md table')",
    )
    .await;
    b.screenshot("run-finished").await;

    // Ctrl-K focuses the bar again; arrow up recalls the last command.
    b.js(
        "document.activeElement.blur(); document.querySelector('#cmd').value = ''; return 1",
        vec![],
    )
    .await;
    b.find("body")
        .await
        .send_keys(&format!("{}k", Key::Control))
        .await
        .unwrap();
    b.wait("Ctrl-K focus", "return document.activeElement.id === 'cmd'")
        .await;
    input.send_keys(&Key::Up.to_string()).await.unwrap();
    b.wait(
        "recalled command",
        "return document.querySelector('#cmd').value === 'check prod status'",
    )
    .await;

    // The run's own page renders the same run, finished, with Retry.
    let id = b
        .js("return +document.querySelector('.run-live').querySelector('.run-title a').textContent.slice(5)", vec![])
        .await;
    b.goto(&server.url(&format!("/runs/{id}"))).await;
    b.wait(
        "run page",
        "const r = document.querySelector('#run-view'); return r.dataset.status === 'succeeded' && document.querySelector('[data-action=retry]') && document.querySelector('.artifact')",
    )
    .await;
    let nav = b
        .js(
            "return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd",
            vec![],
        )
        .await;
    println!("DOMContentLoaded of /runs/{id}: {nav} ms");
    b.screenshot("run-page").await;
    b.js(
        "document.querySelector('.artifact').scrollIntoView(); return 1",
        vec![],
    )
    .await;
    b.screenshot("artifacts").await;

    // A worker that stopped heartbeating long ago is marked stale.
    server
        .store
        .store
        .worker_heartbeat(opsroom_store::WorkerHeartbeatParams {
            worker_id: "gone-1".into(),
            host: "old-host".into(),
            pid: 1,
            state: opsroom_store::WorkerState::Busy,
            concurrency: 1,
            running: vec![],
            now: chrono::Utc::now() - chrono::Duration::minutes(10),
        })
        .await
        .unwrap();
    b.goto(&server.url("/workers")).await;
    b.wait(
        "worker rows",
        "return document.querySelectorAll('tr[data-worker]').length >= 3 && document.querySelector('tr.stale[data-worker=gone-1]') && !document.querySelector('tr.stale:not([data-worker=gone-1])')",
    )
    .await;
    b.screenshot("workers").await;

    // First render on a warm browser: the pages themselves, not Chromium's start.
    for path in ["/".to_string(), format!("/runs/{id}")] {
        b.goto(&server.url(&path)).await;
        let fcp = b
            .wait(
                "first paint",
                "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : 0",
            )
            .await;
        println!("first contentful paint of {path}: {fcp} ms");
        assert!(
            fcp.as_f64().unwrap() < 1000.0,
            "{path} painted after {fcp} ms"
        );
    }
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// A session on the Runboard: runs added to lanes A and B from the command
/// bar and the API show up and progress without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runboard_lanes_progress_live() {
    let server = Server::start().await;
    let mut b = Browser::start("runboard", BrowserOptions::default()).await;
    b.goto(&server.url("/runboard")).await;
    b.click("#new-session").await;
    let session = b
        .wait(
            "session page",
            "const m = location.pathname.match(/^\\/runboard\\/(\\d+)$/); return m && document.querySelectorAll('.lane').length === 4 && +m[1]",
        )
        .await;
    b.js("window.__noReload = true; return 1", vec![]).await;

    // Lane A from the command bar.
    let input = b.find("#cmd").await;
    input.send_keys("check dev status").await.unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    b.wait(
        "card",
        "return document.querySelector('.card [data-action=run]')",
    )
    .await;
    b.find(".card [data-action=run]")
        .await
        .click()
        .await
        .unwrap();
    b.wait(
        "run in lane A",
        "return document.querySelector('.lane[data-lane=A] .lane-run')",
    )
    .await;

    // Two slow runs in lane B: the second waits for the first.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let run = server
            .post(
                "/runs",
                json!({"runbook": "noop", "env": "dev", "params": {"events": 3, "sleep_ms": 1200},
                       "session_id": session, "lane": "B"}),
            )
            .await;
        slow.push(run["id"].as_i64().unwrap());
    }
    b.wait(
        "lane B: first running, second queued",
        &format!(
            "const s = id => (document.querySelector('.lane[data-lane=B] [data-run=\"' + id + '\"]') || {{dataset: {{}}}}).dataset.status; return s({}) === 'running' && s({}) === 'queued'",
            slow[0], slow[1]
        ),
    )
    .await;
    b.screenshot("lanes-running").await;
    b.wait(
        "lane B: both succeeded",
        "const l = [...document.querySelectorAll('.lane[data-lane=B] .lane-run')]; return l.length === 2 && l.every(r => r.dataset.status === 'succeeded')",
    )
    .await;
    b.wait(
        "lane A succeeded",
        "return document.querySelector('.lane[data-lane=A] .lane-run').dataset.status === 'succeeded'",
    )
    .await;
    let still = b.js("return window.__noReload === true", vec![]).await;
    assert_eq!(still, json!(true), "the board updated without a reload");
    // Lanes ran one after another: the second B run started after the first ended.
    let first = server.get(&format!("/runs/{}", slow[0])).await;
    let second = server.get(&format!("/runs/{}", slow[1])).await;
    assert!(second["started_at"].as_str() >= first["finished_at"].as_str());
    b.screenshot("lanes-done").await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// History: filters by status, env and text, pages with ?before=, links
/// each row to its run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_filters_and_pages() {
    let server = Server::start().await;
    let failed = server
        .post(
            "/runs",
            json!({"runbook": "noop", "env": "staging", "target": "billing", "params": {"fail_phase": "action"}, "max_attempts": 1}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    for env in ["dev", "prod"] {
        server
            .post("/runs", json!({"text": format!("check {env} status")}))
            .await;
    }
    for i in 0..26 {
        server
            .post("/runs", json!({"runbook": "noop", "env": "dev", "params": {"events": 1}, "priority": -(i % 2)}))
            .await;
    }
    server.wait_final(failed).await;

    let mut b = Browser::start("history", BrowserOptions::default()).await;
    b.goto(&server.url("/runs")).await;
    b.wait(
        "first page",
        "return document.querySelectorAll('tr[data-run]').length === 25",
    )
    .await;
    b.wait(
        "older link",
        "return !document.querySelector('#older').hidden",
    )
    .await;
    b.screenshot("all").await;
    b.click("#older").await;
    b.wait(
        "second page",
        "return location.search.includes('before=') && document.querySelectorAll('tr[data-run]').length === 4",
    )
    .await;

    // Status filter through the form.
    b.goto(&server.url("/runs")).await;
    b.wait(
        "rows",
        "return document.querySelectorAll('tr[data-run]').length > 0",
    )
    .await;
    b.js(
        "const f = document.querySelector('#filters'); f.status.value = 'failed'; f.requestSubmit(); return 1",
        vec![],
    )
    .await;
    let rows = b
        .wait(
            "failed runs only",
            "const r = [...document.querySelectorAll('tr[data-run]')]; return location.search.includes('status=failed') && r.length > 0 && r.map(x => [+x.dataset.run, x.dataset.status])",
        )
        .await;
    assert_eq!(rows, json!([[failed, "failed"]]));
    b.screenshot("failed").await;

    // Env filter typed in, and text search.
    b.goto(&server.url("/runs?env=prod")).await;
    let envs = b
        .wait(
            "prod runs",
            "const r = [...document.querySelectorAll('tr[data-run] td:nth-child(4)')]; return r.length && r.map(x => x.textContent)",
        )
        .await;
    assert_eq!(envs, json!(["prod"]));
    b.goto(&server.url("/runs?q=billing")).await;
    let found = b
        .wait(
            "text search",
            "const r = [...document.querySelectorAll('tr[data-run]')]; return r.length && r.map(x => +x.dataset.run)",
        )
        .await;
    assert_eq!(found, json!([failed]));

    // The row links to its run; Retry there makes a new run.
    b.find(&format!("tr[data-run=\"{failed}\"] a"))
        .await
        .click()
        .await
        .unwrap();
    b.wait(
        "failed run view",
        "return document.querySelector('#run-view').dataset.status === 'failed' && document.querySelector('.phase[data-phase=action][data-status=failed]')",
    )
    .await;
    b.screenshot("failed-run").await;
    b.click("[data-action=retry]").await;
    let retried = b
        .wait(
            "retried run page",
            &format!("const m = location.pathname.match(/^\\/runs\\/(\\d+)$/); return m && +m[1] !== {failed} && +m[1]"),
        )
        .await;
    assert!(retried.as_i64().unwrap() > failed);
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// The log stream is cut twice mid-run; the viewer resumes with exactly the
/// events the API has: no gap, no repeat. The viewer follows, stops
/// following when scrolled up, filters by level and searches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_stream_resumes_without_gaps_or_repeats() {
    let server = Server::start().await;
    let mut b = Browser::start("log-resume", BrowserOptions::default()).await;
    // The stream is cut right after seqs 300 and 1100 (a test hook in the
    // page), as a dropped connection would be.
    b.goto(&server.url("/workers")).await;
    b.js(
        "sessionStorage.setItem('opsroom.test.cuts', '300,1100'); return 1",
        vec![],
    )
    .await;
    let run = server
        .post(
            "/runs",
            json!({"runbook": "noop", "env": "dev", "params": {"events": 2000, "sleep_ms": 1500}}),
        )
        .await;
    let id = run["id"].as_i64().unwrap();
    b.goto(&server.url(&format!("/runs/{id}"))).await;
    let lines = "return (document.querySelector('#run-view').runView || {log: {events: []}}).log.events.length";
    b.wait("every line of the action", &format!("{lines} > 2000"))
        .await;
    b.wait("two resumes", "return opsroom.test.reconnects() === 2")
        .await;
    b.wait(
        "the run ended",
        "return document.querySelector('#run-view').dataset.status === 'succeeded'",
    )
    .await;
    let reconnects = b.js("return opsroom.test.reconnects()", vec![]).await;
    assert_eq!(reconnects, json!(2));
    let seen = b
        .js(
            "return document.querySelector('#run-view').runView.log.seqs()",
            vec![],
        )
        .await;
    let api: Vec<Value> = server
        .get(&format!("/runs/{id}/events?limit=10000"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].clone())
        .collect();
    assert!(api.len() > 2000);
    assert_eq!(
        seen,
        Value::Array(api),
        "the viewer has every event once, in order"
    );
    b.screenshot("resumed").await;

    // Scrolling up stops following; level filter and search narrow the view.
    b.js(
        "const v = document.querySelector('.log-viewport'); v.scrollTop = 0; v.dispatchEvent(new Event('scroll')); return 1",
        vec![],
    )
    .await;
    b.wait(
        "follow off",
        "return !document.querySelector('.follow input').checked",
    )
    .await;
    b.js(
        "const s = document.querySelector('.log-tools input[type=search]'); s.value = 'event 1999 '; s.dispatchEvent(new Event('input')); return 1",
        vec![],
    )
    .await;
    b.wait(
        "search",
        "return document.querySelectorAll('.log-row').length === 1",
    )
    .await;
    b.js(
        "const s = document.querySelector('.log-tools input[type=search]'); s.value = ''; s.dispatchEvent(new Event('input')); const l = document.querySelector('.log-tools select'); l.value = '3'; l.dispatchEvent(new Event('change')); return 1",
        vec![],
    )
    .await;
    b.wait("no error lines", "return document.querySelectorAll('.log-row').length === 0 && document.querySelector('.log-count').textContent.startsWith('0 of')").await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// 50,000 lines stay responsive: only the visible rows are in the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_viewer_keeps_50000_lines_responsive() {
    let server = Server::start().await;
    let mut b = Browser::start("log-50k", BrowserOptions::default()).await;
    let run = server
        .post(
            "/runs",
            json!({"runbook": "noop", "env": "dev", "params": {"events": 2, "sleep_ms": 20000}}),
        )
        .await;
    let id = run["id"].as_i64().unwrap();
    b.goto(&server.url(&format!("/runs/{id}"))).await;
    // A running run's log pops out: a Picture-in-Picture window where the
    // browser has one, else a floating panel.
    b.wait(
        "pop out button",
        "return document.querySelector('#run-view').runView && document.querySelector('[data-action=popout]')",
    )
    .await;
    b.click("[data-action=popout]").await;
    let mode = b
        .wait(
            "log popped out",
            "return document.querySelector('.popped') && (document.querySelector('.logview.floating') ? 'floating' : 'pip')",
        )
        .await;
    println!("pop out mode: {mode}");
    if mode == json!("pip") {
        // Under the page's Content-Security-Policy the window gets the
        // page's stylesheet and shows the log's rows.
        b.wait(
            "PiP window styled, with the log",
            "const w = documentPictureInPicture.window; const d = w && w.document;
             return d && d.querySelector('.logview') && [...d.styleSheets].some(s => s.cssRules.length > 10)
               && w.getComputedStyle(d.querySelector('.logview')).display === 'flex'",
        )
        .await;
        // Closing the window puts the log back; without the API the log
        // floats on the page instead.
        b.js("documentPictureInPicture.window.close(); return 1", vec![])
            .await;
        b.wait(
            "log back in the page",
            "return !document.querySelector('.popped') && document.querySelector('#run-view .logview')",
        )
        .await;
        b.js(
            "Object.defineProperty(window, 'documentPictureInPicture', {value: undefined}); return 1",
            vec![],
        )
        .await;
        b.click("[data-action=popout]").await;
        b.wait(
            "floating log",
            "return document.querySelector('.popped') && document.querySelector('body > .logview.floating')",
        )
        .await;
    }
    let took = b
        .js(
            "const log = document.querySelector('#run-view').runView.log; const t0 = performance.now();
             const base = log.lastSeq; const batch = [];
             for (let i = 1; i <= 50000; i++) batch.push({seq: base + i, ts: new Date().toISOString(), level: i % 97 ? 'info' : 'warn', phase: 'action', message: 'synthetic line ' + i, data: {}});
             log.add(batch); log.render(); return performance.now() - t0",
            vec![],
        )
        .await;
    println!("adding and drawing 50,000 lines took {took} ms");
    let rows = b
        .js(
            "return document.querySelector('#run-view').runView.log.rows.children.length",
            vec![],
        )
        .await;
    assert!(
        rows.as_i64().unwrap() < 100,
        "only visible rows are drawn: {rows}"
    );
    let scroll = b
        .js(
            "const log = document.querySelector('#run-view').runView.log; const t0 = performance.now();
             log.viewport.scrollTop = 25000 * 20; log.onScroll(); log.render(); return [performance.now() - t0, log.rows.firstChild.dataset.seq]",
            vec![],
        )
        .await;
    println!("scrolling to the middle took {} ms", scroll[0]);
    let middle: i64 = scroll[1].as_str().unwrap().parse().unwrap();
    assert!(
        (24_000..26_000).contains(&middle),
        "the middle of the log is drawn: seq {middle}"
    );
    assert!(
        scroll[0].as_f64().unwrap() < 250.0,
        "scrolling stays fast: {scroll}"
    );
    assert!(
        took.as_f64().unwrap() < 5000.0,
        "adding 50,000 lines took {took} ms"
    );
    b.screenshot("50k").await;
    // Cancel from the run view.
    b.click("[data-action=cancel]").await;
    b.wait(
        "cancelled",
        "return document.querySelector('#run-view').dataset.status === 'cancelled' && document.querySelector('[data-action=retry]')",
    )
    .await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// Narrow (390 px) and dark: the card, the board and history stay usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_dark_layout() {
    let server = Server::start().await;
    let mut b = Browser::start(
        "narrow-dark",
        BrowserOptions {
            width: 390,
            height: 844,
            dark: true,
        },
    )
    .await;
    b.goto(&server.url("/")).await;
    let dark = b
        .js(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await;
    assert_eq!(dark, json!(true));
    let input = b.find("#cmd").await;
    input.send_keys("deploy web to prod").await.unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    b.wait("write card", "return document.querySelector('.card [data-risk=write]') && document.querySelector('.card .approval')").await;
    let overflow = b
        .js(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await;
    assert_eq!(overflow, json!(true), "no sideways scrolling at 390 px");
    b.screenshot("card").await;
    // Vague text gets its questions and no Run button.
    b.js(
        "const i = document.querySelector('#cmd'); i.value = ''; return 1",
        vec![],
    )
    .await;
    input.send_keys("deploy").await.unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    b.wait(
        "card for vague text, without Run",
        "const c = document.querySelector('.card'); return c && c.querySelector('.questions li') && c.querySelector('[data-action=run]').hidden && !c.querySelector('.not-runnable').hidden",
    )
    .await;
    b.screenshot("refused").await;
    b.assert_clean_console().await;
    let run = server
        .post("/runs", json!({"text": "check dev status"}))
        .await;
    server.wait_final(run["id"].as_i64().unwrap()).await;
    b.goto(&server.url("/runs")).await;
    b.wait(
        "history row, no pager",
        "return document.querySelector('tr[data-run][data-status=succeeded]') && getComputedStyle(document.querySelector('#older')).display === 'none'",
    )
    .await;
    let fits = b
        .js(
            "return document.documentElement.scrollWidth <= window.innerWidth && window.innerWidth",
            vec![],
        )
        .await;
    assert_eq!(fits, json!(390), "history fits 390 px");
    b.screenshot("history").await;
    b.goto(&server.url(&format!("/runs/{}", run["id"]))).await;
    b.wait(
        "run view",
        "return document.querySelector('#run-view').dataset.status === 'succeeded' && document.querySelector('.artifact')",
    )
    .await;
    b.screenshot("run").await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// Artifact renderers: markdown comes rendered from the server (the
/// healthcheck report's table) and a hostile report runs nothing and links
/// nowhere unsafe; diffs are coloured by line, and a Mermaid `erDiagram`
/// becomes an SVG.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_renderers_are_safe_and_draw() {
    let server = Server::start().await;
    let run = server
        .post("/runs", json!({"text": "check dev status"}))
        .await;
    let id = run["id"].as_i64().unwrap();
    server.wait_final(id).await;
    server
        .store
        .store
        .artifact_insert(opsroom_store::ArtifactInsertParams {
            workspace_id: opsroom_store::DEFAULT_WORKSPACE.into(),
            run_id: opsroom_store::RunId(id),
            fence: None,
            kind: opsroom_store::ArtifactKind::Markdown,
            name: "hostile.md".into(),
            content: [
                "# Report <script>window.pwned=1</script>",
                "<img src=x onerror=\"window.pwned=1\">",
                "<style>body { display: none }</style>",
                "| a | b |\n|---|---|\n| `x<y` | [ok](https://example.com) |",
                "- [bad](javascript:window.pwned=1)\n\
                 - <a href=\"#\" onclick=\"window.pwned=1\">raw</a>\n\
                 - **bold** and https://example.org/x",
                "```sql\nselect 1 < 2;\n```",
            ]
            .join("\n\n"),
            now: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let mut b = Browser::start("renderers", BrowserOptions::default()).await;
    b.goto(&server.url(&format!("/runs/{id}"))).await;
    b.wait(
        "markdown artifacts drawn",
        "return document.querySelector('.artifact[data-kind=markdown] .md table th') && [...document.querySelectorAll('.artifact summary')].some(s => s.textContent.endsWith('hostile.md'))",
    )
    .await;
    let checks = b
        .js(
            r#"const md = (name) => [...document.querySelectorAll('.artifact')].find(a => a.querySelector('summary').textContent.endsWith(name)).querySelector('.md');
               const report = md('healthcheck-report.md');
               const hostile = md('hostile.md');
               const diff = opsroom.diff('--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n same');
               const erd = opsroom.mermaid('erDiagram\n  USERS {\n    int id PK\n    text email\n  }\n  ORDERS {\n    int id PK\n    int user_id FK\n  }\n  USERS ||--o{ ORDERS : places');
               document.querySelector('main').append(diff, erd);
               return {
                 report: [report.querySelector('h3').textContent, [...report.querySelectorAll('th')].map(th => th.textContent)],
                 unsafe: hostile.querySelectorAll('script, img, style, [onerror], [onclick]').length,
                 text: hostile.querySelector('h3').textContent,
                 hrefs: [...hostile.querySelectorAll('a')].map(a => a.getAttribute('href')),
                 cells: [...hostile.querySelectorAll('td')].map(td => td.textContent),
                 code: hostile.querySelector('pre.code code').textContent,
                 visible: getComputedStyle(document.body).display,
                 diff: [...diff.children].map(s => s.className),
                 boxes: erd.querySelectorAll('svg rect').length,
                 lines: erd.querySelectorAll('svg line').length,
                 pwned: window.pwned === 1,
               };"#,
            vec![],
        )
        .await;
    assert_eq!(
        checks["report"],
        json!([
            "Healthcheck of dev",
            [
                "service",
                "kind",
                "result",
                "latency",
                "HTTP",
                "TLS days left",
                "detail"
            ]
        ]),
        "{checks}"
    );
    assert_eq!(checks["unsafe"], json!(0), "{checks}");
    assert_eq!(
        checks["text"],
        json!("Report <script>window.pwned=1</script>")
    );
    assert_eq!(
        checks["hrefs"],
        json!(["https://example.com", "https://example.org/x"]),
        "javascript: links are not clickable"
    );
    assert_eq!(checks["cells"], json!(["x<y", "ok"]));
    assert_eq!(checks["code"], json!("select 1 < 2;\n"));
    assert_eq!(
        checks["visible"],
        json!("block"),
        "no style from the report"
    );
    assert_eq!(
        checks["diff"],
        json!(["d-file", "d-file", "d-hunk", "d-del", "d-add", "d-ctx"])
    );
    assert_eq!(checks["boxes"], json!(2));
    assert_eq!(checks["lines"], json!(1));
    assert_eq!(checks["pwned"], json!(false));
    b.js(
        "document.querySelector('.artifact[data-kind=markdown]').scrollIntoView(); return 1",
        vec![],
    )
    .await;
    b.screenshot("artifacts").await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// Signing in through the form, the UI's own scripts sending the CSRF token
/// (a request without it refused), and signing out with the nav's button.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_csrf_and_sign_out_in_the_browser() {
    let server = Server::start().await;
    // The first user of a server without auth becomes admin; sign-in is
    // required from then on.
    server
        .api
        .user_create("ivy", Some("ivy's password"))
        .await
        .unwrap();
    let mut b = Browser::start("sign-in", BrowserOptions::default()).await;
    b.goto(&server.url("/runs")).await;
    b.wait(
        "the sign-in form",
        "return location.pathname === '/login' && document.querySelector('input[name=next]').value === '/runs'",
    )
    .await;
    b.find("input[name=name]")
        .await
        .send_keys("ivy")
        .await
        .unwrap();
    b.find("input[name=password]")
        .await
        .send_keys("ivy's password")
        .await
        .unwrap();
    b.click("button[type=submit]").await;
    b.wait("back on the page", "return location.pathname === '/runs'")
        .await;
    b.wait(
        "who is signed in",
        "return document.getElementById('whoami').textContent.includes('ivy') && !document.getElementById('signout').hidden",
    )
    .await;
    let statuses = b
        .js(
            "return Promise.all([
                fetch('/api/v1/sessions', {method: 'POST'}).then(r => r.status),
                opsroom.api('POST', '/sessions', {name: 'from the UI'}).then(r => r.status),
                fetch('/api/v1/me').then(r => r.json()).then(m => m.user),
             ])",
            vec![],
        )
        .await;
    assert_eq!(statuses, serde_json::json!([403, 201, "ivy"]));
    assert_eq!(
        b.js("return document.cookie.includes('opsroom_session')", vec![])
            .await,
        serde_json::json!(false),
        "the session cookie is HttpOnly"
    );
    b.screenshot("signed-in").await;
    b.click("#signout button").await;
    b.wait("signed out", "return location.pathname === '/login'")
        .await;
    let after = b
        .js("return fetch('/api/v1/me').then(r => r.status)", vec![])
        .await;
    assert_eq!(after, serde_json::json!(401));
    b.assert_clean_console_except(&["403", "401"]).await;
}

/// Markup everywhere a page shows stored data (run text, params, target,
/// runbook and env names, event messages, artifact names and markdown,
/// `javascript:` links, a session name, a worker's host, command text):
/// every page shows it as text and runs none of it; the pages' own
/// scripts run under a Content-Security-Policy without `unsafe-inline`,
/// which the browser enforces (an inline script added on purpose is
/// refused) without any other violation in the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_data_runs_no_script_on_any_page() {
    const XSS: &str = "\"><script>window.pwned=1</script><img src=x onerror=window.pwned=1><svg onload=window.pwned=1></svg>";
    let server = Server::start().await;
    let store = &server.store.store;
    let now = chrono::Utc::now();
    let session = server.post("/sessions", json!({ "name": XSS })).await["id"]
        .as_i64()
        .unwrap();
    // A finished run with hostile events and artifacts.
    let done = server
        .post("/runs", json!({"runbook": "noop", "env": "dev", "target": XSS, "session_id": session, "lane": "B"}))
        .await["id"]
        .as_i64()
        .unwrap();
    server.wait_final(done).await;
    store
        .events_append(opsroom_store::EventsAppendParams {
            workspace_id: opsroom_store::DEFAULT_WORKSPACE.into(),
            run_id: opsroom_store::RunId(done),
            fence: None,
            events: vec![opsroom_store::NewEvent {
                ts: now,
                level: opsroom_core::EventLevel::Error,
                phase: Some(opsroom_core::Phase::Action),
                message: format!("failed: {XSS}"),
                data: json!({ "html": XSS }),
            }],
            phases: None,
        })
        .await
        .unwrap();
    for (kind, name, content) in [
        (
            "markdown",
            format!("{XSS}.md"),
            format!(
                "# {XSS}\n\n[js](javascript:window.pwned=1) [data](data:text/html;base64,PHNjcmlwdD53aW5kb3cucHduZWQ9MTwvc2NyaXB0Pg==) \
                 <a href=\"javascript:window.pwned=1\">raw</a>\n\n<svg onload=\"window.pwned=1\"><circle r=1 /></svg>\n\n\
                 <iframe src=\"javascript:window.pwned=1\"></iframe>\n\n![x](javascript:window.pwned=1)"
            ),
        ),
        ("link", "link".into(), "javascript:window.pwned=1".into()),
        ("link", "data link".into(), "data:text/html,<script>window.pwned=1</script>".into()),
        ("json", XSS.into(), json!({ "x": XSS }).to_string()),
        ("diff", "d".into(), format!("+{XSS}\n-{XSS}")),
        ("mermaid", "m".into(), format!("erDiagram\n  A {{\n    text {XSS}\n  }}\n  A ||--o{{ B : \"{XSS}\"")),
    ] {
        store
            .artifact_insert(opsroom_store::ArtifactInsertParams {
                workspace_id: opsroom_store::DEFAULT_WORKSPACE.into(),
                run_id: opsroom_store::RunId(done),
                fence: None,
                kind: kind.parse().unwrap(),
                name,
                content,
                now,
            })
            .await
            .unwrap();
    }
    // A run whose every field is markup, as if it had got past the API's
    // checks: its worker fails it, naming the runbook.
    let mut p = opsroom_store::RunInsertParams::new(XSS, now);
    p.env = Some(XSS.into());
    p.target = Some(XSS.into());
    p.text = Some(XSS.into());
    p.params = json!({ "note": XSS, XSS: XSS });
    p.session_id = Some(session);
    p.lane = Some(opsroom_store::Lane::A);
    p.actor = XSS.into();
    let (hostile, _) = store.run_insert(p).await.unwrap();
    let hostile = hostile.id.0;
    server.wait_final(hostile).await;
    store
        .worker_heartbeat(opsroom_store::WorkerHeartbeatParams {
            worker_id: XSS.into(),
            host: XSS.into(),
            pid: 1,
            state: opsroom_store::WorkerState::Idle,
            concurrency: 1,
            running: vec![],
            now,
        })
        .await
        .unwrap();

    let mut b = Browser::start("hostile", BrowserOptions::default()).await;
    // Nothing injected may exist or have run; the payload shows as text.
    let inert = "return window.pwned === undefined
        && !document.querySelector('img, iframe, object, embed, svg [onload], svg:not(.erd), [onerror], [onload], [onclick], [onmouseover], a[href^=javascript], a[href^=data]')
        && [...document.scripts].every(s => s.src && new URL(s.src).pathname.startsWith('/ui/'))
        && document.body.textContent.includes('<script>window.pwned=1</script>')";
    let pages = [
        ("/".to_string(), "return document.querySelector('#recent tr[data-run]')"),
        (
            format!("/runs?env={0}&runbook={0}&q=%3Cimg%20src%3Dx%20onerror%3Dwindow.pwned%3D1%3E", "%22%3E%3Cscript%3Ewindow.pwned%3D1%3C%2Fscript%3E"),
            "return document.querySelector('#history .error')",
        ),
        ("/runs".to_string(), "return document.querySelectorAll('#history tr[data-run]').length >= 2"),
        (
            format!("/runs/{hostile}"),
            "return ['failed','succeeded'].includes(document.querySelector('#run-view').dataset.status) && document.querySelector('.logview')",
        ),
        (
            format!("/runs/{done}"),
            "return document.querySelectorAll('.artifact').length === 6 && document.querySelector('.artifact[data-kind=markdown] .md h3')",
        ),
        (
            format!("/runboard/{session}"),
            "return document.querySelectorAll('.lane-run').length === 2 && document.querySelector('#session-name').textContent.includes('<script>')",
        ),
        ("/workers".to_string(), "return document.querySelector('tr[data-worker]')"),
    ];
    for (path, ready) in &pages {
        b.goto(&server.url(path)).await;
        b.wait(&format!("page {} drawn", path.replace('/', "_")), ready)
            .await;
        // The log view is drawn lazily: scroll through all of it.
        b.js("const v = document.querySelector('#run-view'); if (v && v.runView) { v.runView.log.render(); } return 1", vec![]).await;
        let safe = b.js(inert, vec![]).await;
        if safe != json!(true) && !path.starts_with("/runs?") {
            b.screenshot("unsafe").await;
        }
        if path.starts_with("/runs?") {
            // The filters hold the payload as values; the page shows the API's refusal.
            let values = b
                .js(
                    "return [...document.querySelectorAll('#filters input')].map(i => i.value)",
                    vec![],
                )
                .await;
            assert_eq!(
                values[0],
                json!("\"><script>window.pwned=1</script>"),
                "{path}"
            );
            let ok = b
                .js("return window.pwned === undefined && !document.querySelector('img, [onerror]')", vec![])
                .await;
            assert_eq!(ok, json!(true), "{path}");
        } else {
            assert_eq!(safe, json!(true), "{path}: injected markup exists or ran");
        }
        b.screenshot(&format!(
            "page-{}",
            path.split('?').next().unwrap().replace('/', "_")
        ))
        .await;
    }
    // The log shows the event's message as text.
    b.goto(&server.url(&format!("/runs/{done}"))).await;
    b.wait(
        "hostile event in the log",
        "const v = document.querySelector('#run-view'); return v && v.runView && v.runView.log.events.some(e => e.message.startsWith('failed: \"><script>'))",
    )
    .await;
    let links = b
        .js(
            "return [...document.querySelectorAll('.artifact a')].map(a => a.getAttribute('href'))",
            vec![],
        )
        .await;
    assert!(
        links.as_array().unwrap().iter().all(|h| {
            let h = h.as_str().unwrap_or("");
            h.starts_with("http") || h.starts_with('/') || h.starts_with('#')
        }),
        "only safe links: {links}"
    );
    // Every artifact but links can be saved, under a plain file name (the
    // part of the name after its last `/`).
    let saved = b
        .js(
            "const links = [...document.querySelectorAll('.artifact [data-action=download]')];
             const r = await fetch(links.find(a => a.closest('.artifact').dataset.kind === 'markdown').href);
             return [links.length, r.headers.get('content-disposition')]",
            vec![],
        )
        .await;
    assert_eq!(saved[0], json!(4), "{saved}");
    assert!(
        saved[1]
            .as_str()
            .unwrap()
            .starts_with("attachment; filename=\"svg>.md\""),
        "{saved}"
    );
    // The command bar's preview and card show typed markup as text.
    b.goto(&server.url("/")).await;
    let input = b.find("#cmd").await;
    input
        .send_keys(&format!("check {XSS} status"))
        .await
        .unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    b.wait("card for markup", "return document.querySelector('.card')")
        .await;
    assert_eq!(
        b.js(
            &inert.replace(
                "&& document.body.textContent.includes('<script>window.pwned=1</script>')",
                ""
            ),
            vec![]
        )
        .await,
        json!(true)
    );
    b.assert_clean_console_except(&[
        // The history page's refused filters.
        "/api/v1/runs?",
        // Markup typed in the command bar is not understood.
        "/api/v1/parse - Failed to load resource: the server responded with a status of 422",
    ])
    .await;
    // The policy is enforced: an inline script added now does not run,
    // and the browser says why.
    let ran = b
        .js(
            "const s = document.createElement('script'); s.textContent = 'window.inlineRan = 1'; document.body.append(s); return window.inlineRan === 1",
            vec![],
        )
        .await;
    assert_eq!(ran, json!(false), "an inline script ran despite the policy");
    let console = b.console().await;
    assert!(
        console.iter().any(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .contains("Content Security Policy")),
        "the refusal is reported: {console:?}"
    );
    b.close().await;
    server.stop().await;
}
