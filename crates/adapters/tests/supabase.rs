//! The Supabase Management API client against a fake Management API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::supabase::{Service, SupabaseClient, SupabaseConfig};
use opsroom_adapters::testing::supabase::{FakeSupabase, PROJECT_REF};
use opsroom_adapters::testing::{assert_error_text, test_http, Fault, TOKEN};
use opsroom_adapters::{ApiError, Secret};

/// The fake with its storage service down, and a client for it.
async fn harness() -> (FakeSupabase, SupabaseClient, Arc<Mutex<Vec<Duration>>>) {
    let fake = FakeSupabase::start().await;
    fake.set_service("storage", "UNHEALTHY", Some("storage API timed out"));
    let (http, slept) = test_http();
    let client = SupabaseClient::new(SupabaseConfig {
        base_url: fake.url.clone(),
        token: Secret::new(TOKEN),
        http,
    })
    .unwrap();
    (fake, client, slept)
}

#[tokio::test]
async fn reads_project_status() {
    let (_, client, _) = harness().await;
    let project = client.get_project(PROJECT_REF).await.unwrap();
    assert!(project.is_healthy());
    assert_eq!(
        project.database.unwrap().host,
        format!("db.{PROJECT_REF}.supabase.co")
    );
}

#[tokio::test]
async fn health_asks_for_the_services_and_reports_unhealthy_ones() {
    let (fake, client, _) = harness().await;
    let all = client.health(PROJECT_REF, &[]).await.unwrap();
    assert_eq!(all.len(), 6);
    let storage = all.iter().find(|s| s.name == "storage").unwrap();
    assert!(!storage.healthy);
    assert_eq!(storage.error.as_deref(), Some("storage API timed out"));
    let some = client
        .health(PROJECT_REF, &[Service::Db, Service::Auth])
        .await
        .unwrap();
    assert_eq!(
        some.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["db", "auth"]
    );
    assert_eq!(fake.gate.requests()[1].query, "services=db%2Cauth");
}

#[tokio::test]
async fn follows_a_restoring_project_until_healthy() {
    let (fake, client, _) = harness().await;
    fake.pass_through(&["RESTORING", "COMING_UP"]);
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let project = client
        .follow_project(PROJECT_REF, &opts, Some(&tx))
        .await
        .unwrap();
    assert!(project.is_healthy());
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        seen[2],
        format!("supabase project {PROJECT_REF}: ACTIVE_HEALTHY")
    );
}

#[tokio::test]
async fn error_statuses_are_typed_and_named() {
    let (fake, client, _) = harness().await;
    let err = client.get_project("nosuchproject000").await.unwrap_err();
    assert!(err.is_not_found());
    assert_error_text(&err, "supabase.get_project", Some(404));
    assert!(err.to_string().contains("Project not found"));
    let (http, _) = test_http();
    let stranger = SupabaseClient::new(SupabaseConfig {
        base_url: fake.url.clone(),
        token: Secret::new("sbp_wrong_token"),
        http,
    })
    .unwrap();
    let err = stranger.health(PROJECT_REF, &[]).await.unwrap_err();
    assert_error_text(&err, "supabase.health", Some(401));
    assert!(!err.to_string().contains("sbp_wrong_token"));
}

#[tokio::test]
async fn unprocessable_request_is_422() {
    let (fake, client, _) = harness().await;
    fake.gate.push_faults([Fault::status(
        422,
        "querystring/services must NOT have fewer than 1 items",
    )]);
    let err = client
        .health(PROJECT_REF, &[Service::Db])
        .await
        .unwrap_err();
    assert_error_text(&err, "supabase.health", Some(422));
    assert!(err.to_string().contains("fewer than 1 items"));
    assert_eq!(fake.gate.requests().len(), 1, "a 422 is not retried");
}

#[tokio::test]
async fn rate_limit_then_server_errors() {
    let (fake, client, slept) = harness().await;
    fake.gate.push_faults([Fault::rate_limited("60")]);
    assert!(client.get_project(PROJECT_REF).await.is_ok());
    assert_eq!(*slept.lock().unwrap(), [Duration::from_secs(60)]);
    fake.gate.push_faults([
        Fault::status(500, "a"),
        Fault::status(500, "b"),
        Fault::status(500, "internal error"),
    ]);
    let err = client.get_project(PROJECT_REF).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Status {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_error_text(&err, "supabase.get_project", Some(500));
}

#[tokio::test]
async fn slow_answer_is_a_timeout_error() {
    let (fake, client, _) = harness().await;
    fake.gate
        .push_faults([Fault::Delay(Duration::from_secs(3))]);
    let err = client.get_project(PROJECT_REF).await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_error_text(&err, "supabase.get_project", None);
}
