//! An incident run followed from the CLI ends by printing its triage
//! report (`triage.md`) on stdout: `opsroom run … --follow` and
//! `opsroom logs ID -f` alike. A run without a report prints none.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_an_incident_prints_its_report() {
    let dir = std::env::temp_dir().join(format!("opsroom-incident-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("payments.log");
    let at = chrono::Utc::now() - chrono::Duration::minutes(2);
    std::fs::write(
        &log,
        format!(
            "{} ERROR refund re_1 failed: timeout\n{} ERROR refund re_2 failed: timeout\n",
            at.to_rfc3339(),
            at.to_rfc3339()
        ),
    )
    .unwrap();
    let toml = format!(
        "[[environments.staging.services]]\nname = \"payments\"\nkind = \"opsroom_db\"\nlogs = {{ kind = \"file\", path = \"{}\" }}\n",
        log.display()
    );
    let config = opsroom_engine::OpsConfig::parse("opsroom.toml", &toml).unwrap();
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            config: Some(config),
            ..Default::default()
        },
    )
    .await;
    let out = opsroom(
        &[
            "run",
            "--runbook",
            "incident",
            "--env",
            "staging",
            "--target",
            "payments",
            "--follow",
        ],
        &app.url,
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let report = stdout
        .find("# Triage of payments on staging")
        .unwrap_or_else(|| panic!("no report:\n{stdout}"));
    let tail = &stdout[report..];
    assert!(tail.contains("refund re_<*> failed: timeout"), "{tail}");
    assert!(tail.contains("## Proposed remediation"), "{tail}");
    assert!(
        stdout[..report].contains("[summarize]"),
        "the report comes after the events:\n{stdout}"
    );

    let again = opsroom(&["logs", "1", "-f"], &app.url).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("# Triage of payments on staging"),
        "{}",
        text(&again.stdout)
    );
    let plain = opsroom(&["run", "--runbook", "noop", "--follow"], &app.url).await;
    assert_eq!(plain.status.code(), Some(0));
    assert!(!text(&plain.stdout).contains("# Triage"));
    app.stop().await;
    t.cleanup().await;
    std::fs::remove_dir_all(dir).unwrap();
}
