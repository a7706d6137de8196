//! The CLI as a terminal user meets it: exit codes, one-line errors, and
//! `run --follow` streaming a run to its outcome.

mod common;

use common::cli::text;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::testing::TestStore;
use std::process::Output;

async fn opsroom(args: &[&str], server: Option<&str>) -> Output {
    let cli = common::cli::opsroom(args);
    match server {
        Some(url) => cli.server(url),
        None => cli,
    }
    .output()
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_follow_streams_phases_and_exits_with_the_outcome() {
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(t.store.clone(), TestAppOptions::default()).await;
    let ok = opsroom(&["run", "check prod status", "--follow"], Some(&app.url)).await;
    let out = text(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{out}\n{}", text(&ok.stderr));
    for phase in [
        "[validate]",
        "[preflight]",
        "[action]",
        "[verify]",
        "[summarize]",
    ] {
        assert!(out.contains(phase), "{phase} missing:\n{out}");
    }
    assert!(
        text(&ok.stderr).contains("succeeded"),
        "{}",
        text(&ok.stderr)
    );

    let failed = opsroom(
        &[
            "run",
            "--runbook",
            "noop",
            "--param",
            "fail_phase=verify",
            "--follow",
        ],
        Some(&app.url),
    )
    .await;
    assert_eq!(failed.status.code(), Some(1), "a failed run exits 1");
    assert!(
        text(&failed.stderr).contains("failed"),
        "{}",
        text(&failed.stderr)
    );

    let listed = opsroom(&["runs", "--limit", "5"], Some(&app.url)).await;
    assert_eq!(listed.status.code(), Some(0));
    assert!(text(&listed.stdout).contains("healthcheck"));
    let logs = opsroom(&["logs", "1"], Some(&app.url)).await;
    assert!(
        text(&logs.stdout).contains("run succeeded"),
        "{}",
        text(&logs.stdout)
    );
    let parse = opsroom(&["parse", "check prod status"], Some(&app.url)).await;
    assert!(
        text(&parse.stdout).contains("intent      healthcheck"),
        "{}",
        text(&parse.stdout)
    );
    app.stop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_line_and_exit_code_2() {
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run"], "say what to run"),
        (
            vec!["run", "--runbook", "teleport"],
            "unknown runbook `teleport`",
        ),
        (
            vec!["run", "--runbook", "noop", "--param", "events"],
            "KEY=VALUE",
        ),
        (vec!["run", "delete everything"], "could not understand"),
        (vec!["runs", "--status", "done"], "unknown status `done`"),
        (vec!["cancel", "4242"], "run 4242 not found"),
        (vec!["logs", "abc"], "invalid value 'abc'"),
        (
            vec!["run", "--runbook", "healthcheck", "--env", "mars"],
            "unknown env `mars`",
        ),
    ];
    for (args, needle) in cases {
        let out = opsroom(&args, Some(&app.url)).await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: {err:?} should mention {needle:?}"
        );
        if !args.contains(&"logs") {
            assert_eq!(
                err.trim().lines().count(),
                1,
                "{args:?}: one line, got {err:?}"
            );
        }
    }
    app.stop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_and_bad_config_say_what_is_wrong() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = opsroom(&["runs"], Some(&format!("http://{closed}"))).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("cannot reach the opsroom server"),
        "{}",
        text(&out.stderr)
    );

    let dir = std::env::temp_dir().join(format!("opsroom-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("bad.toml");
    std::fs::write(&config, "[environments.prod]\nrequires_aproval = true\n").unwrap();
    let db = format!("sqlite://{}/x.db", dir.display());
    let out = opsroom(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
            "--database-url",
            &db,
        ],
        None,
    )
    .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.toml") && err.contains("requires_aproval") && err.contains("line 2"),
        "{err}"
    );
    let out = opsroom(
        &["serve", "--bind", "nonsense", "--database-url", &db],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot listen on nonsense"),
        "{}",
        text(&out.stderr)
    );
    let out = opsroom(&["migrate", "--database-url", "mysql://x"], None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("neither postgres://"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `opsroom bench` at tiny sizes on both stores: every measurement prints
/// its row, and the scratch schema and files are gone afterwards.
#[cfg(feature = "bench")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_prints_every_measurement_on_both_stores() {
    let pg = opsroom_store::testing::test_database_url();
    let out = opsroom(
        &[
            "bench",
            "--store",
            "both",
            "--postgres-url",
            &pg,
            "--runs",
            "40",
            "--api-runs",
            "32",
            "--bulk-runs",
            "1500",
            "--samples",
            "3",
            "--load-rate",
            "100",
        ],
        None,
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for store in ["## sqlite", "## postgres"] {
        assert!(stdout.contains(store), "{store} missing:\n{stdout}");
    }
    for row in [
        "| enqueue through the API, 1 run per request, 32 clients | ",
        "| enqueue in batches of 1,000 | ",
        "| end to end, 40 no-op runs, 2 workers × 32 concurrent, 14 events per run | ",
        "| enqueue → first SSE event, idle | p50 ",
        "| enqueue → first SSE event, under load (",
        "| server RSS peak under load | ",
    ] {
        assert_eq!(
            stdout.matches(row).count(),
            2,
            "{row} not once per store:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("saw nothing within 5 s"),
        "every latency sample saw its event:\n{stdout}"
    );
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&pg).await.unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'opsroom_bench_%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(left, 0, "bench schemas are dropped");

    let bad = opsroom(&["bench", "--store", "mysql"], None).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("--store must be sqlite, postgres or both, got `mysql`"),
        "{}",
        text(&bad.stderr)
    );
}
