//! The UI's rendered markdown artifacts (`/ui/runs/{id}/artifacts/{artifact}/html`)
//! against the real server: behind the token like the pages, sanitised HTML
//! for markdown, clear errors for anything else.

use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::testing::TestStore;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cret-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_artifacts_render_behind_the_token() {
    let store = TestStore::sqlite().await;
    let app = TestApp::spawn(
        store.store.clone(),
        TestAppOptions {
            admin_token: Some(TOKEN.into()),
            ..Default::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let get = |path: String| http.get(format!("{}{path}", app.url)).bearer_auth(TOKEN);
    let run = json_of(
        http.post(format!("{}/api/v1/runs", app.url))
            .bearer_auth(TOKEN)
            .json(&json!({"text": "check dev status"})),
    )
    .await;
    let id = run["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = json_of(get(format!("/api/v1/runs/{id}"))).await;
        if run["finished_at"].is_string() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} still {}",
            run["status"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let artifacts = json_of(get(format!("/api/v1/runs/{id}/artifacts"))).await;
    let artifacts = artifacts.as_array().unwrap();
    let id_of = |kind: &str| {
        artifacts.iter().find(|a| a["kind"] == kind).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (report, json_artifact) = (id_of("markdown"), id_of("json"));

    let path = format!("/ui/runs/{id}/artifacts/{report}/html");
    let anonymous = http.get(format!("{}{path}", app.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let r = get(path).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("sandbox"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.starts_with("<h3>Healthcheck of dev</h3>"), "{html}");
    assert!(html.contains("<th scope=\"col\">service</th>"), "{html}");

    for (path, status, code) in [
        (
            format!("/ui/runs/{id}/artifacts/{json_artifact}/html"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            format!("/ui/runs/{id}/artifacts/99999/html"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            format!("/ui/runs/99999/artifacts/{report}/html"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            format!("/ui/runs/{id}/artifacts/report/html"),
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
    ] {
        let r = get(path.clone()).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{path}: {err}");
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
    app.stop().await;
    store.cleanup().await;
}

/// Sends the request and reads its JSON answer.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
