//! `opsroom schedules` as a terminal user meets it, on both stores: add
//! (with the next fires printed), a bad expression refused naming what is
//! wrong, list, pause, resume and rm.

use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::testing::TestStore;
use std::process::Output;

async fn opsroom(args: &[&str], server: &str) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_opsroom"))
        .args(args)
        .env_remove("OPSROOM_TOKEN")
        .env("OPSROOM_SERVER", server)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run opsroom")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn add_list_pause_resume_rm(t: TestStore) {
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let url = app.url.as_str();
    let add = opsroom(
        &[
            "schedules",
            "add",
            "*/5 * * * *",
            "check prod status",
            "--timezone",
            "Europe/Paris",
        ],
        url,
    )
    .await;
    assert_eq!(add.status.code(), Some(0), "{}", text(&add.stderr));
    let out = text(&add.stdout);
    assert!(out.starts_with("schedule "), "{out}");
    assert!(out.contains("added"), "{out}");
    assert!(out.contains("Europe/Paris"), "{out}");
    assert_eq!(out.matches("  next\t").count(), 5, "{out}");
    let id = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<i64>().ok())
        .expect("the new schedule's id");

    let bad = opsroom(&["schedules", "add", "* * *", "check prod status"], url).await;
    assert_ne!(bad.status.code(), Some(0));
    assert!(
        text(&bad.stderr).contains("3 fields"),
        "{}",
        text(&bad.stderr)
    );

    let by_runbook = opsroom(
        &[
            "schedules",
            "add",
            "0 0 9 * * *",
            "--runbook",
            "noop",
            "--json",
        ],
        url,
    )
    .await;
    assert_eq!(
        by_runbook.status.code(),
        Some(0),
        "{}",
        text(&by_runbook.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&by_runbook.stdout).unwrap();
    assert_eq!(json["request"], serde_json::json!({"runbook": "noop"}));
    assert_eq!(json["next_runs"].as_array().unwrap().len(), 5);

    let pause = opsroom(&["schedules", "pause", &id.to_string()], url).await;
    assert_eq!(pause.status.code(), Some(0), "{}", text(&pause.stderr));
    let list = text(&opsroom(&["schedules", "list"], url).await.stdout);
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("{id}\t")))
        .expect("the schedule is listed");
    assert!(line.contains("paused"), "{list}");
    assert!(line.contains("check prod status"), "{list}");

    let resume = opsroom(&["schedules", "resume", &id.to_string()], url).await;
    assert_eq!(resume.status.code(), Some(0), "{}", text(&resume.stderr));
    assert!(
        text(&resume.stdout).contains("active"),
        "{}",
        text(&resume.stdout)
    );

    let rm = opsroom(&["schedules", "rm", &id.to_string()], url).await;
    assert_eq!(rm.status.code(), Some(0), "{}", text(&rm.stderr));
    let again = opsroom(&["schedules", "rm", &id.to_string()], url).await;
    assert_ne!(again.status.code(), Some(0));
    assert!(
        text(&again.stderr).contains("not found"),
        "{}",
        text(&again.stderr)
    );
    let list = text(&opsroom(&["schedules", "list"], url).await.stdout);
    assert!(
        !list.lines().any(|l| l.starts_with(&format!("{id}\t"))),
        "{list}"
    );
    app.stop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_add_list_pause_resume_rm() {
    add_list_pause_resume_rm(TestStore::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_add_list_pause_resume_rm() {
    add_list_pause_resume_rm(TestStore::postgres().await).await;
}
