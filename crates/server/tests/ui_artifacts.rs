//! The UI's rendered markdown artifacts (`/ui/runs/{id}/artifacts/{artifact}/html`)
//! against the real server: behind the token like the pages, sanitised HTML
//! for markdown, clear errors for anything else.

use opsroom_core::ArtifactKind;
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::CreateRun;
use opsroom_store::testing::TestStore;
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::Value;

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
    let client = ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(TOKEN.into()));
    let get = |path: String| client.request(Method::GET, &path);
    let (run, _) = client
        .create_run(&CreateRun {
            text: Some("check dev status".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = run.id;
    client.wait_final(id).await.unwrap();
    let artifacts = client.artifacts(id).await.unwrap();
    let id_of = |kind| artifacts.iter().find(|a| a.kind == kind).unwrap().id;
    let (report, json_artifact) = (id_of(ArtifactKind::Markdown), id_of(ArtifactKind::Json));

    let path = format!("/ui/runs/{id}/artifacts/{report}/html");
    let anonymous = reqwest::get(client.url(&path)).await.unwrap();
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
