//! Custom runbooks through the API: listed like built-ins (`custom: true`),
//! understood by the parser, enqueued from text and run by a worker.

use opsroom_core::catalog::parse_custom_runbook;
use opsroom_core::Catalog;
use opsroom_engine::{Engine, OpsConfig, WorkerOptions, WorkerPool};
use opsroom_server::client::ApiClient;
use opsroom_server::views::CreateRun;
use opsroom_server::{Application, ServerOptions};
use opsroom_store::testing::TestStore;
use opsroom_store::Seq;
use serde_json::json;
use tokio::sync::watch;

const ROTATE_LOGS: &str = r#"name = "rotate_logs"
description = "Rotates the log files of an environment."
risk = "read"
triggers = ["rotate logs on {env}"]
keywords = ["rotate logs"]

[[steps.action]]
title = "rotate the logs of {env}"
shell = { argv = ["printf", "%s\n", "rotated {env}"] }
"#;

#[tokio::test]
async fn custom_runbooks_are_listed_parsed_and_run_through_the_api() {
    let store = TestStore::sqlite().await;
    let options = ServerOptions {
        bind: "127.0.0.1:0".into(),
        admin_token: None,
        secure_cookies: false,
        workers: 0,
        worker: WorkerOptions::default(),
        max_body_bytes: opsroom_server::security::DEFAULT_MAX_BODY_BYTES,
    };
    let listener = Application::bind(options.clone()).await.expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let spec = parse_custom_runbook("rotate_logs.toml", ROTATE_LOGS).expect("a good runbook");
    let catalog = Catalog::with_custom(vec![spec]).unwrap();
    let engine = Engine::new(store.store.clone(), OpsConfig::demo(&url)).with_catalog(catalog);
    let app = Application::build(listener, engine.clone(), options);
    let (_stop, rx) = watch::channel(false);
    tokio::spawn(app.run_until_stopped(rx));
    let api = ApiClient::new(&url).unwrap();

    let list = api.runbooks().await.unwrap();
    let custom = list.iter().find(|r| r["name"] == "rotate_logs").unwrap();
    assert_eq!(custom["custom"], true);
    assert_eq!(custom["available"], true);
    assert_eq!(custom["phases"][2], json!(["rotate the logs of {env}"]));
    let builtin = list.iter().find(|r| r["name"] == "healthcheck").unwrap();
    assert_eq!(builtin["custom"], false);

    let parsed = api.parse("rotate logs on staging").await.unwrap();
    assert_eq!(parsed.intent, "rotate_logs", "{parsed:?}");
    assert_eq!(parsed.env.as_deref(), Some("staging"));
    assert!(parsed.runnable);
    assert_eq!(
        parsed.plan[2]["steps"],
        json!(["rotate the logs of staging"])
    );

    let (run, created) = api
        .create_run(&CreateRun {
            text: Some("rotate logs on staging".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(created);
    let id = run.id;

    // Drain the queue in this task: no sleeping until a worker gets to it.
    assert_eq!(
        WorkerPool::new(engine.clone(), WorkerOptions::default())
            .run_batch()
            .await,
        1
    );
    let run = api.run(id).await.unwrap();
    assert_eq!(run.status.as_str(), "succeeded", "{run:?}");
    let events = api.all_events(id, Seq(0)).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.message == "rotated staging" && e.data["stream"] == "stdout"),
        "{events:#?}"
    );
    store.cleanup().await;
}

const PRINT_NUL: &str = r#"name = "print_nul"
description = "Prints a NUL byte between two words."
risk = "read"
triggers = ["print a nul"]
keywords = ["print a nul"]

[[steps.action]]
title = "print a NUL"
shell = { argv = ["/usr/bin/printf", "before\\000after\\n"] }
"#;

/// A step whose program prints a NUL: PostgreSQL text cannot hold it, so
/// before NUL was shown as `␀` the run's event write failed and the run
/// never became final. Now it succeeds on both stores with its output shown.
async fn a_step_printing_nul_finishes_with_its_output_shown(store: opsroom_store::DynStore) {
    let options = ServerOptions {
        bind: "127.0.0.1:0".into(),
        admin_token: None,
        secure_cookies: false,
        workers: 0,
        worker: WorkerOptions::default(),
        max_body_bytes: opsroom_server::security::DEFAULT_MAX_BODY_BYTES,
    };
    let listener = Application::bind(options.clone()).await.expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let spec = parse_custom_runbook("print_nul.toml", PRINT_NUL).expect("a good runbook");
    let catalog = Catalog::with_custom(vec![spec]).unwrap();
    let engine = Engine::new(store, OpsConfig::demo(&url)).with_catalog(catalog);
    let app = Application::build(listener, engine.clone(), options);
    let (stop, rx) = watch::channel(false);
    let server = tokio::spawn(app.run_until_stopped(rx));
    let api = ApiClient::new(&url).unwrap();
    let (run, created) = api
        .create_run(&CreateRun {
            runbook: Some("print_nul".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(created);
    let id = run.id;
    assert_eq!(
        WorkerPool::new(engine.clone(), WorkerOptions::default())
            .run_batch()
            .await,
        1
    );
    let run = api.run(id).await.unwrap();
    assert_eq!(run.status.as_str(), "succeeded", "{run:?}");
    let events = api.all_events(id, Seq(0)).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.message == "before␀after" && e.data["stream"] == "stdout"),
        "{events:#?}"
    );
    let seqs: Vec<i64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let _ = stop.send(true);
    server.await.unwrap().unwrap();
}

opsroom_store::on_both_stores!(a_step_printing_nul_finishes_with_its_output_shown);
