//! `opsroom approvals`, `approve --comment`, `reject` and `audit export`
//! against a real server: what waits is listed with its plan, a decision
//! keeps its comment, your own run is refused (exit 2), and the export
//! writes JSON lines or CSV to stdout or a file.

mod common;

use common::cli::text;
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::{AuditEntryView, CreateRun};
use opsroom_store::testing::TestStore;
use std::process::Output;

const ADMIN: &str = "approvals-cli-admin-token";

/// The CLI, acting with the admin token (user `admin`).
async fn opsroom(args: &[&str], server: &str) -> Output {
    common::cli::opsroom(args)
        .token(ADMIN)
        .server(server)
        .output()
        .await
}

fn prod_deploy() -> CreateRun {
    CreateRun {
        runbook: Some("deploy".into()),
        env: Some("prod".into()),
        target: Some("opsroom".into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_decisions_and_audit_export() {
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            workers: 0,
            admin_token: Some(ADMIN.into()),
            ..Default::default()
        },
    )
    .await;
    let url = app.url.as_str();
    let empty = opsroom(&["approvals"], url).await;
    assert_eq!(empty.status.code(), Some(0));
    assert!(text(&empty.stdout).contains("nothing waits"));

    // Requested by alice over the API; the CLI acts as another user.
    let admin = ApiClient::new(url).unwrap().with_token(Some(ADMIN.into()));
    let alice = admin
        .member_with_token(opsroom_store::DEFAULT_WORKSPACE, "alice", "operator")
        .await
        .unwrap();
    let (first, _) = alice.create_run(&prod_deploy()).await.unwrap();
    let (second, _) = alice.create_run(&prod_deploy()).await.unwrap();
    let listed = opsroom(&["approvals"], url).await;
    let out = text(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    assert!(
        out.contains(&format!(
            "run {} (deploy prod opsroom) requested by alice",
            first.id
        )),
        "{out}"
    );
    assert!(
        out.contains("  verify\n") && out.contains("expires"),
        "{out}"
    );
    let json = opsroom(&["approvals", "--json"], url).await;
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["plan"], serde_json::to_value(&first.plan).unwrap());

    let id = first.id.to_string();
    let approved = opsroom(&["approve", &id, "--comment", "plan checked"], url).await;
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}",
        text(&approved.stderr)
    );
    assert!(text(&approved.stdout).contains("queued"));
    let run = alice.run(first.id).await.unwrap();
    let a = run.approval.unwrap();
    assert_eq!(a.comment.as_deref(), Some("plan checked"));
    assert_eq!(a.decided_by.as_deref(), Some("admin"));
    let rejected = opsroom(
        &["reject", &second.id.to_string(), "--comment", "not now"],
        url,
    )
    .await;
    assert_eq!(
        rejected.status.code(),
        Some(0),
        "{}",
        text(&rejected.stderr)
    );

    // The CLI's own run: approving it is refused, exit 2, one line.
    let (mine, _) = admin.create_run(&prod_deploy()).await.unwrap();
    let refused = opsroom(&["approve", &mine.id.to_string()], url).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("someone else must approve"),
        "{}",
        text(&refused.stderr)
    );

    // Export to stdout as JSON lines, and to a file as CSV.
    let exported = opsroom(&["audit", "export"], url).await;
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{}",
        text(&exported.stderr)
    );
    let entries: Vec<AuditEntryView> = text(&exported.stdout)
        .lines()
        .map(|l| serde_json::from_str::<AuditEntryView>(l).unwrap())
        // Before them: the admin's user, member and token entries for alice.
        .filter(|e| e.action.starts_with("run."))
        .collect();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "run.create",
            "run.create",
            "run.approve",
            "run.reject",
            "run.create"
        ]
    );
    let dir = std::env::temp_dir().join(format!("opsroom-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("audit.csv");
    let since = entries[2].ts.to_rfc3339();
    let to_file = opsroom(
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--since",
            &since,
            "-o",
            file.to_str().unwrap(),
        ],
        url,
    )
    .await;
    assert_eq!(to_file.status.code(), Some(0), "{}", text(&to_file.stderr));
    let csv = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,ts,workspace,actor,action,subject,source,details"
    );
    assert_eq!(lines.len(), 4, "header and the three entries since: {csv}");
    assert!(lines[1].contains(",run.approve,"), "{csv}");
    let bad = opsroom(&["audit", "export", "--since", "yesterday"], url).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("--since"),
        "{}",
        text(&bad.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    app.stop().await;
    t.cleanup().await;
}
