//! opsroom's HTTP server: the JSON API under `/api/v1`, live event streams
//! (SSE), metrics, the OpenAPI document and the web UI, plus the workers
//! that run inside the server process.

pub mod auth;
#[cfg(feature = "client")]
pub mod client;
pub mod error;
mod openapi;
mod resolve;
mod routes;
pub mod scheduler;
pub mod security;
mod sse;
#[cfg(feature = "testing")]
pub mod testing;
mod ui;
pub mod views;

pub use resolve::{resolve, ParseEnv, Resolved, RunRequest};

use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::ApiError;
use opsroom_engine::{Engine, WorkerOptions, WorkerPool};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: String,
    /// `OPSROOM_ADMIN_TOKEN`: the bootstrap admin, admin of every workspace.
    pub admin_token: Option<String>,
    /// Mark the session cookie `Secure` even when no proxy says the request
    /// came over TLS (`X-Forwarded-Proto: https` always does).
    pub secure_cookies: bool,
    /// Workers inside the server process (0: none, use `opsroom worker`).
    pub workers: usize,
    pub worker: WorkerOptions,
    /// The largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub parse_env: Arc<ParseEnv>,
    pub auth: Arc<auth::AuthState>,
    heartbeat_timeout: Duration,
    /// Posts to the URLs Slack hands out (`response_url`).
    http: reqwest::Client,
    /// Turns true when the server shuts down: live streams end so the
    /// graceful shutdown is not held open by them (clients resume elsewhere).
    closing: watch::Receiver<bool>,
}

/// Who is making a request, by name: the [`auth::Principal`]'s user.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// Where a request came from, for the audit log: the client's IP address
/// as the socket shows it. `X-Forwarded-For` is not read: without a
/// trusted-proxy setting any client could write what it likes there.
#[derive(Debug, Clone, Default)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

/// A bound, not yet serving server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    engine: Engine,
    options: ServerOptions,
    closing: watch::Sender<bool>,
}

impl Application {
    /// Binds the address; the engine's config must already name this server's URL.
    pub async fn bind(options: ServerOptions) -> std::io::Result<TcpListener> {
        TcpListener::bind(&options.bind).await
    }

    pub fn build(listener: TcpListener, engine: Engine, options: ServerOptions) -> Application {
        let (closing, closing_rx) = watch::channel(false);
        let state = AppState {
            closing: closing_rx,
            parse_env: Arc::new(ParseEnv::new(&engine)),
            engine: engine.clone(),
            auth: Arc::new(auth::AuthState::new(
                options.admin_token.clone(),
                options.secure_cookies,
            )),
            heartbeat_timeout: options.worker.heartbeat_timeout,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(10))
                // A redirect could lead the message elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("opsroom/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the HTTP client builds"),
        };
        Application {
            listener,
            router: router(state, security::BodyLimit(options.max_body_bytes)),
            engine,
            options,
            closing,
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until `shutdown` turns true; then stops the in-process workers
    /// (letting their runs finish within the grace period).
    pub async fn run_until_stopped(self, shutdown: watch::Receiver<bool>) -> std::io::Result<()> {
        let mut workers = Vec::new();
        for _ in 0..self.options.workers {
            let pool = WorkerPool::new(self.engine.clone(), self.options.worker.clone());
            workers.push(tokio::spawn(pool.run_until_stopped(shutdown.clone())));
        }
        // Every server fires schedules; each fire still enqueues one run.
        let scheduler = scheduler::Scheduler::new(self.engine.clone());
        workers.push(tokio::spawn(scheduler.run_until_stopped(shutdown.clone())));
        let mut stop = shutdown.clone();
        let closing = self.closing.clone();
        let mut forward = shutdown.clone();
        tokio::spawn(async move {
            opsroom_engine::worker::until_true(&mut forward).await;
            let _ = closing.send(true);
        });
        // No Nagle: live events are small writes that must leave at once.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(listener, service)
            .with_graceful_shutdown(
                async move { opsroom_engine::worker::until_true(&mut stop).await },
            )
            .into_future();
        // A client that keeps a request open must not keep the server alive
        // past the workers' grace period.
        let mut late = shutdown.clone();
        let grace = self.options.worker.shutdown_grace + Duration::from_secs(5);
        tokio::select! {
            r = serve => r?,
            _ = async move {
                opsroom_engine::worker::until_true(&mut late).await;
                tokio::time::sleep(grace).await;
            } => tracing::warn!("connections still open after the grace period; closing them"),
        }
        for w in workers {
            let _ = w.await;
        }
        Ok(())
    }
}

fn router(state: AppState, body_limit: security::BodyLimit) -> Router {
    let api = Router::new()
        .merge(routes::runs::router())
        .merge(routes::sessions::router())
        .merge(routes::secrets::router())
        .merge(routes::identity::router())
        .merge(routes::approvals::router())
        .merge(routes::audit::router())
        .merge(routes::notifications::router())
        .merge(routes::hooks::router())
        .merge(routes::slack::router())
        .merge(routes::schedules::router())
        .merge(routes::meta::api_router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize_api,
        ));
    Router::new()
        .nest("/api/v1", api)
        .merge(routes::meta::open_router())
        .merge(ui::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            security::limit_body,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit.0))
        .layer(axum::middleware::from_fn(security::headers))
}

/// No route: the API answers with its JSON error, the UI with a page.
async fn not_found(uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        ApiError::NotFound(format!(
            "no API route `{path}`; the routes are listed in /api/openapi.json"
        ))
        .into_response()
    } else {
        ui::not_found_page()
    }
}

/// The route exists without this method (axum adds the `Allow` header).
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed on `{}`; the `Allow` header lists what is",
        uri.path()
    ))
}
