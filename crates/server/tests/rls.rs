//! The whole server run as a PostgreSQL role without SUPERUSER or
//! BYPASSRLS (made by `PgStore::role_create`, as `opsroom migrate
//! --create-role` makes it): a run is created, claimed and completed by the
//! server's workers, with its events, artifacts and live stream; a run of
//! another workspace, its events, artifacts and stream answer 404.
//!
//! The HTTP API acts in the `default` workspace today (no route names
//! another yet), so the other workspace's run is written through the store.

use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::testing::TestStore;
use opsroom_store::{ArtifactInsertParams, RunId, RunInsertParams, Seq};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_as_a_restricted_role_and_keeps_workspaces_apart() {
    let t = TestStore::postgres().await;
    let role = t.restricted_role().await;
    let store = Arc::new(role.store().await);
    let app = TestApp::spawn(store.clone(), TestAppOptions::default()).await;
    let api = ApiClient::new(&app.url).unwrap();

    let (status, run) = api
        .send_json(
            Method::POST,
            "/api/v1/runs",
            Some(&json!({"text": "check prod status"})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let id = RunId(run["id"].as_i64().unwrap());
    let (streamed, end) = tokio::time::timeout(Duration::from_secs(60), api.wait_final(id))
        .await
        .expect("the run ends in time")
        .unwrap();
    assert_eq!(end.status.as_str(), "succeeded", "{streamed:?}");
    assert!(
        streamed.len() > 10,
        "the live stream carries the run's events"
    );
    let done = api.run(id).await.unwrap();
    assert_eq!(done.status.as_str(), "succeeded");
    let (status, events) = api
        .send_json(Method::GET, &format!("/api/v1/runs/{id}/events"), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events.as_array().unwrap().len(), streamed.len());
    let (status, artifacts) = api
        .send_json(Method::GET, &format!("/api/v1/runs/{id}/artifacts"), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(artifacts
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "healthcheck-report.md"));
    let (status, workers) = api
        .send_json(Method::GET, "/api/v1/workers", None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{workers}");
    assert!(!workers.as_array().unwrap().is_empty());
    let metrics = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("succeeded") && l.ends_with(" 1")),
        "metrics count runs across workspaces as the restricted role: {metrics}"
    );

    // A run of another workspace, with an event and an artifact.
    let mut p = RunInsertParams::new("noop", chrono::Utc::now());
    p.workspace_id = "other".into();
    p.needs_approval = true;
    let (theirs, _) = opsroom_store::Store::run_insert(&*store, p).await.unwrap();
    opsroom_store::Store::artifact_insert(
        &*store,
        ArtifactInsertParams {
            workspace_id: "other".into(),
            run_id: theirs.id,
            fence: None,
            kind: opsroom_store::ArtifactKind::Markdown,
            name: "theirs.md".into(),
            content: "not yours".into(),
            now: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    let theirs = theirs.id;
    for path in [
        format!("/api/v1/runs/{theirs}"),
        format!("/api/v1/runs/{theirs}/events"),
        format!("/api/v1/runs/{theirs}/artifacts"),
        format!("/api/v1/runs/{theirs}/events/stream"),
    ] {
        let (status, body) = api.send_json(Method::GET, &path, None).await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    assert!(
        api.stream_at(
            &format!("/api/v1/runs/{theirs}/events/stream"),
            Some(Seq(0))
        )
        .await
        .is_err(),
        "no stream of another workspace's run"
    );
    let (status, _) = api
        .send_json(
            Method::POST,
            &format!("/api/v1/runs/{theirs}/approve"),
            Some(&json!({})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = api
        .send_json(Method::GET, "/api/v1/runs?limit=50", None)
        .await
        .unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != theirs.0 && r["workspace_id"] == "default"));

    app.stop().await;
    drop(store);
    role.drop_role().await;
    t.cleanup().await;
}
