//! `POST /api/v1/parse` with bad input, against the real server on port 0:
//! every case is a clear 4xx `{"error": {"code", "message"}}`, never a 500
//! and never a hang.

use opsroom_engine::{Engine, OpsConfig, WorkerOptions};
use opsroom_server::client::ApiClient;
use opsroom_server::{Application, ServerOptions};
use opsroom_store::testing::TestStore;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::watch;

/// A server on port 0 without workers; stops when the sender drops.
struct Server {
    api: ApiClient,
    _stop: watch::Sender<bool>,
    store: TestStore,
}

async fn spawn() -> Server {
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
    let engine = Engine::new(store.store.clone(), OpsConfig::demo(&url));
    let app = Application::build(listener, engine, options);
    let (stop, rx) = watch::channel(false);
    tokio::spawn(app.run_until_stopped(rx));
    Server {
        api: ApiClient::new(&url).unwrap(),
        _stop: stop,
        store,
    }
}

impl Server {
    /// Posts raw bytes as JSON to /api/v1/parse; returns status and body.
    async fn parse_raw(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .parse_request()
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.expect("a JSON body");
        (status, body)
    }

    /// A POST to /api/v1/parse; a hang fails the test instead of blocking it.
    fn parse_request(&self) -> reqwest::RequestBuilder {
        self.api
            .request(reqwest::Method::POST, "/api/v1/parse")
            .timeout(Duration::from_secs(10))
    }

    async fn parse_text(&self, text: &str) -> (u16, Value) {
        self.parse_raw(serde_json::json!({ "text": text }).to_string())
            .await
    }
}

/// A 4xx with `{"error": {"code", "message"}}`; returns code and message.
fn client_error(case: &str, (status, body): (u16, Value), expected: u16) -> (String, String) {
    assert_eq!(status, expected, "{case}: {body}");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no error.code in {body}"));
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no error.message in {body}"));
    assert!(!message.is_empty(), "{case}");
    (code.to_string(), message.to_string())
}

#[tokio::test]
async fn bad_command_text_gets_a_clear_422() {
    let server = spawn().await;

    let (code, message) = client_error("empty", server.parse_text("").await, 422);
    assert_eq!(code, "invalid_text");
    assert!(message.contains("empty"), "{message}");
    let (_, message) = client_error("blank", server.parse_text(" \n\t ").await, 422);
    assert!(message.contains("empty"), "{message}");

    let long = "check prod status ".repeat(600); // about 10 KB
    assert!(long.len() > 10_000);
    let (code, message) = client_error("10 KB", server.parse_text(&long).await, 422);
    assert_eq!(code, "invalid_text");
    assert!(message.contains("limit"), "{message}");

    let (code, message) = client_error(
        "control character",
        server.parse_text("check prod\u{7} status").await,
        422,
    );
    assert_eq!(code, "invalid_text");
    assert!(message.contains("control character (U+0007)"), "{message}");
    let (_, message) = client_error("NUL", server.parse_text("check\0prod").await, 422);
    assert!(message.contains("U+0000"), "{message}");

    // Good text still parses after all of that.
    let (status, body) = server.parse_text("check prod status").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["intent"], "healthcheck");
    server.store.cleanup().await;
}

#[tokio::test]
async fn malformed_bodies_get_a_clear_400() {
    let server = spawn().await;

    let mut bytes = b"{\"text\": \"check ".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bytes.extend_from_slice(b" prod\"}");
    let (code, _) = client_error("non-UTF-8", server.parse_raw(bytes).await, 400);
    assert_eq!(code, "invalid_json");

    let (code, message) = client_error("number", server.parse_raw("{\"text\": 42}").await, 400);
    assert_eq!(code, "invalid_body");
    assert!(message.contains("text"), "{message}");

    for (case, body) in [
        ("truncated", "{\"text\": \"check prod"),
        ("not JSON", "check prod status"),
        ("trailing comma", "{\"text\": \"check\",}"),
        ("empty body", ""),
    ] {
        let (code, _) = client_error(case, server.parse_raw(body).await, 400);
        assert_eq!(code, "invalid_json", "{case}");
    }
    for (case, body) in [
        ("array", "[\"check prod status\"]"),
        ("missing text", "{}"),
        ("null text", "{\"text\": null}"),
        ("unknown field", "{\"text\": \"check prod\", \"colour\": 1}"),
    ] {
        let (code, _) = client_error(case, server.parse_raw(body).await, 400);
        assert_eq!(code, "invalid_body", "{case}");
    }

    let response = server
        .parse_request()
        .body("{\"text\": \"check prod status\"}")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let (code, _) = client_error("no content type", (status, body), 400);
    assert_eq!(code, "unsupported_media_type");
    server.store.cleanup().await;
}
