//! Fake provider servers for tests (the `testing` feature): one fake each
//! of the Vercel, GitHub, DigitalOcean and Supabase APIs ([`vercel`],
//! [`github`], [`digitalocean`], [`supabase`]), modelling what the adapters'
//! clients and the engine's runbooks rely on, and the pieces they share:
//! bind on 127.0.0.1:0 before serving, check the bearer token ([`TOKEN`]),
//! record requests, and inject faults (error statuses with `Retry-After`,
//! slow answers). Also transport options and assertions for client tests.

pub mod digitalocean;
pub mod github;
pub mod supabase;
pub mod vercel;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{HttpOptions, RetryPolicy, Sleeper};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

/// The token the fakes accept.
pub const TOKEN: &str = "tok_SECRET_abc123";

/// How a provider shapes its error bodies.
pub type ErrorBody = fn(u16, &str) -> Value;

/// What the fake does instead of (or before) answering a request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status (and `Retry-After` if given).
    Status {
        status: u16,
        retry_after: Option<&'static str>,
        message: &'static str,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
}

impl Fault {
    /// Answer with `status` and the provider's error carrying `message`.
    pub fn status(status: u16, message: &'static str) -> Self {
        Fault::Status {
            status,
            retry_after: None,
            message,
        }
    }

    /// A 429 asking to retry after `retry_after` seconds.
    pub fn rate_limited(retry_after: &'static str) -> Self {
        Fault::Status {
            status: 429,
            retry_after: Some(retry_after),
            message: "rate limit exceeded",
        }
    }
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// The value of header `name`, any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Inner {
    error_body: ErrorBody,
    /// The status and message a request without [`TOKEN`] gets.
    refusal: (u16, &'static str),
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The common front of every fake provider.
#[derive(Clone)]
pub struct Fake {
    inner: Arc<Inner>,
}

impl Fake {
    /// A fake whose errors look like `error_body`; a request without
    /// [`TOKEN`] gets a 401 "Bad credentials".
    pub fn new(error_body: ErrorBody) -> Self {
        Self::refusing(error_body, 401, "Bad credentials")
    }

    /// Like [`Fake::new`], refusing a request without [`TOKEN`] as the
    /// provider does: with `status` and `message`.
    pub fn refusing(error_body: ErrorBody, status: u16, message: &'static str) -> Self {
        Self {
            inner: Arc::new(Inner {
                error_body,
                refusal: (status, message),
                faults: Mutex::new(VecDeque::new()),
                requests: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Queues faults; each is used by one request, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.faults.lock().unwrap().extend(faults);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.inner.requests.lock().unwrap().clear();
    }

    /// A provider-shaped error response.
    pub fn error(&self, status: u16, message: &str) -> Response {
        error_response(self.inner.error_body, status, message)
    }

    /// Serves `routes` behind the auth/fault gate; returns the base URL.
    pub async fn serve(&self, routes: Router) -> String {
        self.serve_with_open(routes, Router::new()).await
    }

    /// Serves `routes` behind the auth/fault gate and `open` without it
    /// (what the provider hosts, rather than its API); returns the base URL.
    pub async fn serve_with_open(&self, routes: Router, open: Router) -> String {
        let gated = routes.layer(axum::middleware::from_fn_with_state(self.clone(), gate));
        serve(gated.merge(open)).await
    }
}

/// `error_body`'s response for `status` and `message`.
pub fn error_response(error_body: ErrorBody, status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap();
    (code, axum::Json(error_body(status, message))).into_response()
}

/// Binds 127.0.0.1:0 first, then serves in the background.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

async fn gate(State(fake): State<Fake>, request: Request, next: Next) -> Response {
    let recorded = Recorded {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or("").to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
    };
    fake.inner.requests.lock().unwrap().push(recorded);
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {TOKEN}")) {
        let (status, message) = fake.inner.refusal;
        return fake.error(status, message);
    }
    let fault = fake.inner.faults.lock().unwrap().pop_front();
    match fault {
        Some(Fault::Status {
            status,
            retry_after,
            message,
        }) => {
            let mut response = fake.error(status, message);
            if let Some(after) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from_static(after));
            }
            response
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        None => next.run(request).await,
    }
}

/// Whether the `Authorization` header carries [`TOKEN`].
pub fn authorized(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"))
}

/// A sleeper that records what the client asked to wait, and returns at once.
pub fn recording_sleeper() -> (Sleeper, Arc<Mutex<Vec<Duration>>>) {
    let slept = Arc::new(Mutex::new(Vec::new()));
    let log = slept.clone();
    let sleeper = Sleeper::from_fn(move |d| {
        log.lock().unwrap().push(d);
        async {}
    });
    (sleeper, slept)
}

/// Transport options for tests: 3 attempts, 1 ms backoff, recorded sleeps,
/// a short timeout.
pub fn test_http() -> (HttpOptions, Arc<Mutex<Vec<Duration>>>) {
    let (sleeper, slept) = recording_sleeper();
    let options = HttpOptions {
        timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_retry_after: Duration::from_secs(60),
            sleeper,
        },
        user_agent: "opsroom-tests".to_owned(),
    };
    (options, slept)
}

/// Asserts an error's text names the call and the status and hides the token.
pub fn assert_error_text<E>(err: &E, call: &str, status: Option<u16>)
where
    E: std::fmt::Display + std::fmt::Debug,
{
    let text = err.to_string();
    assert!(
        text.contains(call),
        "error {text:?} should name the call {call}"
    );
    if let Some(status) = status {
        assert!(
            text.contains(&format!("HTTP {status}")),
            "error {text:?} should name HTTP {status}"
        );
    }
    assert!(!text.contains(TOKEN), "error {text:?} leaks the token");
    let debug = format!("{err:?}");
    assert!(
        !debug.contains(TOKEN),
        "debug form {debug:?} leaks the token"
    );
}

/// An empty body with a status.
pub fn empty(status: u16) -> Response {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .unwrap()
}

/// A fresh, uniquely named directory under the system temp dir.
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "opsroom-{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
