//! A local HTTP receiver (axum on port 0) standing in for a webhook
//! consumer, Slack (incoming webhooks, `response_url`) and Discord: it
//! records every request and answers from a script.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use opsroom_auth::signature::SIGNATURE_HEADER;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An answer a receiver gives: status and `Retry-After`.
pub type Answer = (u16, Option<&'static str>);

/// A local HTTP receiver: records every request and answers from a script
/// (status, `Retry-After`), then 200.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    count: Arc<watch::Sender<usize>>,
}

impl Receiver {
    pub async fn spawn(script: &[Answer]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}", listener.local_addr().unwrap()),
            got: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            count: Arc::new(watch::channel(0).0),
        };
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (at most 30 s) until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(std::time::Duration::from_secs(30), rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| panic!("expected {n} requests, got {:?}", self.got()))
            .unwrap();
        self.got()
    }
}

async fn receive(State(r): State<Receiver>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    r.got.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        signature: headers
            .get(SIGNATURE_HEADER)
            .map(|v| v.to_str().unwrap().to_string()),
        body: body.to_vec(),
    });
    let (status, retry_after) = r.script.lock().unwrap().pop_front().unwrap_or((200, None));
    r.count.send_modify(|c| *c += 1);
    let mut response = (StatusCode::from_u16(status).unwrap(), "ok").into_response();
    if let Some(wait) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", wait.parse().unwrap());
    }
    response
}
