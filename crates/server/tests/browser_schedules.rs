//! The Schedules page in headless Chromium: a schedule added through the
//! form shows its next five fires, a cron the server refuses is explained
//! next to the form and nothing is stored, pause and resume change what
//! the card says, and delete removes it. Screenshots go to
//! target/screenshots/.

#[allow(dead_code)]
#[path = "browser/support.rs"]
mod support;

use support::{Browser, BrowserOptions, Server};

/// Fills the form and submits it.
async fn add(b: &Browser, cron: &str, timezone: &str, text: &str) {
    b.js(
        "const f = document.getElementById('schedule-form');
         f.cron.value = arguments[0]; f.timezone.value = arguments[1]; f.text.value = arguments[2];
         f.requestSubmit(); return 1",
        vec![cron.into(), timezone.into(), text.into()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_added_paused_resumed_and_deleted_from_the_page() {
    let server = Server::start().await;
    let mut b = Browser::start(
        "schedules",
        BrowserOptions {
            width: 1280,
            height: 900,
            dark: false,
        },
    )
    .await;
    b.goto(&server.url("/schedules")).await;
    b.wait(
        "empty list",
        "return document.querySelector('#schedules .empty')",
    )
    .await;

    // Refused by the server: the reason is shown and nothing is stored.
    add(&b, "61 * * * *", "", "check prod status").await;
    let why = b
        .wait(
            "cron error",
            "const e = document.getElementById('schedule-error'); return !e.hidden && e.textContent",
        )
        .await;
    assert!(why.as_str().unwrap().contains("cron"), "{why}");
    assert_eq!(server.get("/schedules").await, serde_json::json!([]));

    add(&b, "0 3 * * *", "America/New_York", "check prod status").await;
    let fires = b
        .wait(
            "schedule card",
            "const c = document.querySelector('.card.schedule');
             return c && c.dataset.paused === 'false' && document.getElementById('schedule-error').hidden
               && c.querySelectorAll('.next-runs li').length",
        )
        .await;
    assert_eq!(fires, 5, "the next five fires are listed");
    let stored = server.get("/schedules").await;
    assert_eq!(stored.as_array().unwrap().len(), 1);
    assert_eq!(stored[0]["timezone"], "America/New_York");
    // 03:00 in New York is 07:00 or 08:00 UTC, whichever DST says.
    for t in stored[0]["next_runs"].as_array().unwrap() {
        let t = t.as_str().unwrap();
        assert!(
            t.contains("T07:00:00") || t.contains("T08:00:00"),
            "{t} is not 03:00 in New York"
        );
    }
    // Each fire also reads as the schedule's own zone says it.
    let local = b
        .js(
            "return document.querySelector('.next-runs li [data-zone-time]').textContent",
            vec![],
        )
        .await;
    assert!(
        local.as_str().unwrap().ends_with("03:00 America/New_York"),
        "{local}"
    );
    let id = stored[0]["id"].as_i64().unwrap();
    b.screenshot("added").await;

    b.click("[data-action=pause]").await;
    b.wait(
        "paused card",
        "const c = document.querySelector('.card.schedule'); return c && c.dataset.paused === 'true'
           && c.textContent.includes('Paused: no fires until resumed.')",
    )
    .await;
    assert_eq!(server.get("/schedules").await[0]["paused"], true);

    b.click("[data-action=resume]").await;
    b.wait(
        "resumed card",
        "const c = document.querySelector('.card.schedule'); return c && c.dataset.paused === 'false'
           && c.querySelectorAll('.next-runs li').length === 5",
    )
    .await;

    // The page asks before deleting; the test answers yes.
    b.js("window.confirm = () => true; return 1", vec![]).await;
    b.click(&format!("[data-schedule='{id}'] [data-action=delete]"))
        .await;
    b.wait(
        "list empty again",
        "return document.querySelector('#schedules .empty')",
    )
    .await;
    assert_eq!(server.get("/schedules").await, serde_json::json!([]));
    b.assert_clean_console_except(&["422"]).await;
    b.close().await;
    server.stop().await;
}
