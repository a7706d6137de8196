//! The Supabase Management API client against a fake Management API.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::{assert_error_text, test_http, Fake, Fault, TOKEN};
use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::supabase::{Service, SupabaseClient, SupabaseConfig};
use opsroom_adapters::{ApiError, Secret};
use serde_json::{json, Value};

fn supabase_error(_status: u16, message: &str) -> Value {
    json!({"message": message})
}

#[derive(Clone)]
struct AppState {
    fake: Fake,
    /// Statuses the restoring project shows, one per read.
    restoring: Arc<Mutex<Vec<&'static str>>>,
}

async fn project(State(s): State<AppState>, Path(project_ref): Path<String>) -> Response {
    let status = match project_ref.as_str() {
        "abcdefghijklmnop" => "ACTIVE_HEALTHY",
        "restoringproject" => {
            let mut left = s.restoring.lock().unwrap();
            if left.len() > 1 {
                left.remove(0)
            } else {
                left[0]
            }
        }
        _ => return s.fake.error(404, "Project not found"),
    };
    Json(json!({"id": project_ref, "organization_id": "org_1", "name": "prod-db", "region": "eu-west-1",
        "created_at": "2024-01-01T00:00:00Z", "status": status,
        "database": {"host": format!("db.{project_ref}.supabase.co"), "version": "15.8.1.044",
                     "postgres_engine": "15", "release_channel": "ga"}}))
    .into_response()
}

async fn health(
    State(s): State<AppState>,
    Path(project_ref): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if project_ref != "abcdefghijklmnop" {
        return s.fake.error(404, "Project not found");
    }
    let Some(services) = q.get("services") else {
        return s
            .fake
            .error(422, "querystring must have required property 'services'");
    };
    let known = ["auth", "db", "pooler", "realtime", "rest", "storage"];
    let mut out = Vec::new();
    for name in services.split(',') {
        if !known.contains(&name) {
            return s.fake.error(
                422,
                &format!(
                    "querystring/services/0 must be equal to one of the allowed values: {name}"
                ),
            );
        }
        out.push(if name == "storage" {
            json!({"name": name, "healthy": false, "status": "UNHEALTHY", "error": "storage API timed out"})
        } else {
            json!({"name": name, "healthy": true, "status": "ACTIVE_HEALTHY", "info": {"name": name, "version": "1", "description": ""}})
        });
    }
    Json(Value::Array(out)).into_response()
}

async fn harness() -> (Fake, SupabaseClient, Arc<Mutex<Vec<Duration>>>, String) {
    let fake = Fake::new(supabase_error);
    let state = AppState {
        fake: fake.clone(),
        restoring: Arc::new(Mutex::new(vec!["RESTORING", "COMING_UP", "ACTIVE_HEALTHY"])),
    };
    let routes = Router::new()
        .route("/v1/projects/{ref}", get(project))
        .route("/v1/projects/{ref}/health", get(health))
        .with_state(state);
    let base_url = fake.serve(routes).await;
    let (http, slept) = test_http();
    let client = SupabaseClient::new(SupabaseConfig {
        base_url: base_url.clone(),
        token: Secret::new(TOKEN),
        http,
    })
    .unwrap();
    (fake, client, slept, base_url)
}

#[tokio::test]
async fn reads_project_status() {
    let (_, client, _, _) = harness().await;
    let project = client.get_project("abcdefghijklmnop").await.unwrap();
    assert!(project.is_healthy());
    assert_eq!(
        project.database.unwrap().host,
        "db.abcdefghijklmnop.supabase.co"
    );
}

#[tokio::test]
async fn health_asks_for_the_services_and_reports_unhealthy_ones() {
    let (fake, client, _, _) = harness().await;
    let all = client.health("abcdefghijklmnop", &[]).await.unwrap();
    assert_eq!(all.len(), 6);
    let storage = all.iter().find(|s| s.name == "storage").unwrap();
    assert!(!storage.healthy);
    assert_eq!(storage.error.as_deref(), Some("storage API timed out"));
    let some = client
        .health("abcdefghijklmnop", &[Service::Db, Service::Auth])
        .await
        .unwrap();
    assert_eq!(
        some.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["db", "auth"]
    );
    assert_eq!(fake.requests()[1].query, "services=db%2Cauth");
}

#[tokio::test]
async fn follows_a_restoring_project_until_healthy() {
    let (_, client, _, _) = harness().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let project = client
        .follow_project("restoringproject", &opts, Some(&tx))
        .await
        .unwrap();
    assert!(project.is_healthy());
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[2], "supabase project restoringproject: ACTIVE_HEALTHY");
}

#[tokio::test]
async fn error_statuses_are_typed_and_named() {
    let (_, client, _, base_url) = harness().await;
    let err = client.get_project("nosuchproject000").await.unwrap_err();
    assert!(err.is_not_found());
    assert_error_text(&err, "supabase.get_project", Some(404));
    assert!(err.to_string().contains("Project not found"));
    let (http, _) = test_http();
    let stranger = SupabaseClient::new(SupabaseConfig {
        base_url,
        token: Secret::new("sbp_wrong_token"),
        http,
    })
    .unwrap();
    let err = stranger.health("abcdefghijklmnop", &[]).await.unwrap_err();
    assert_error_text(&err, "supabase.health", Some(401));
    assert!(!err.to_string().contains("sbp_wrong_token"));
}

#[tokio::test]
async fn unprocessable_request_is_422() {
    let (fake, client, _, _) = harness().await;
    fake.push_faults([Fault::status(
        422,
        "querystring/services must NOT have fewer than 1 items",
    )]);
    let err = client
        .health("abcdefghijklmnop", &[Service::Db])
        .await
        .unwrap_err();
    assert_error_text(&err, "supabase.health", Some(422));
    assert!(err.to_string().contains("fewer than 1 items"));
    assert_eq!(fake.requests().len(), 1, "a 422 is not retried");
}

#[tokio::test]
async fn rate_limit_then_server_errors() {
    let (fake, client, slept, _) = harness().await;
    fake.push_faults([Fault::rate_limited("60")]);
    assert!(client.get_project("abcdefghijklmnop").await.is_ok());
    assert_eq!(*slept.lock().unwrap(), [Duration::from_secs(60)]);
    fake.push_faults([
        Fault::status(500, "a"),
        Fault::status(500, "b"),
        Fault::status(500, "internal error"),
    ]);
    let err = client.get_project("abcdefghijklmnop").await.unwrap_err();
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
    let (fake, client, _, _) = harness().await;
    fake.push_faults([Fault::Delay(Duration::from_secs(3))]);
    let err = client.get_project("abcdefghijklmnop").await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_error_text(&err, "supabase.get_project", None);
}
