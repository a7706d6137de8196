//! A real server on port 0 for tests, with in-process workers.

use crate::{Application, ServerOptions};
use opsroom_core::Catalog;
use opsroom_engine::runbook_files::catalog_from_dir;
use opsroom_engine::{Engine, OpsConfig, WorkerOptions};
use opsroom_store::DynStore;
use std::path::Path;
use std::time::Duration;
use tokio::sync::watch;

/// A running server; dropping it stops it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub engine: Engine,
    shutdown: watch::Sender<bool>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A change made to a test server's config before it starts.
pub type Configure = std::sync::Arc<dyn Fn(&mut OpsConfig) + Send + Sync>;

/// How to start a test server.
pub struct TestAppOptions {
    /// None: the demo workspace probing this server.
    pub config: Option<OpsConfig>,
    pub admin_token: Option<String>,
    pub workers: usize,
    /// The database URL the CLI would have been given; the store itself is
    /// passed to [`TestApp::spawn`], this is only hidden from runs (with the
    /// admin token), as `opsroom serve` hides its own.
    pub database_url: Option<String>,
    /// The master key that seals stored secrets (none: setting one answers 409).
    pub secret_key: Option<opsroom_auth::MasterKey>,
    /// The request body limit, in bytes.
    pub max_body_bytes: usize,
    /// The engine's clock (none: the system clock), e.g. a
    /// [`opsroom_engine::ManualClock`] to expire approvals without waiting.
    pub clock: Option<std::sync::Arc<dyn opsroom_engine::Clock>>,
    /// Changes the config once it is made (e.g. adds hooks to the demo
    /// config, which names the server's own URL).
    pub configure: Option<Configure>,
}

impl Default for TestAppOptions {
    fn default() -> Self {
        TestAppOptions {
            config: None,
            admin_token: None,
            workers: 1,
            database_url: None,
            secret_key: None,
            max_body_bytes: crate::security::DEFAULT_MAX_BODY_BYTES,
            clock: None,
            configure: None,
        }
    }
}

impl TestApp {
    /// Starts a server on `store`; it answers as soon as this returns.
    pub async fn spawn(store: DynStore, options: TestAppOptions) -> TestApp {
        let server_options = ServerOptions {
            bind: "127.0.0.1:0".into(),
            admin_token: options.admin_token.clone(),
            secure_cookies: false,
            workers: options.workers,
            worker: WorkerOptions {
                concurrency: 4,
                heartbeat_interval: Duration::from_millis(200),
                shutdown_grace: Duration::from_millis(500),
                ..Default::default()
            },
            max_body_bytes: options.max_body_bytes,
        };
        let listener = Application::bind(server_options.clone())
            .await
            .expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let mut config = options.config.unwrap_or_else(|| OpsConfig::demo(&url));
        if let Some(configure) = &options.configure {
            configure(&mut config);
        }
        // The custom runbooks of the config's folder, as `opsroom serve` loads them.
        let catalog = match &config.runbooks_dir {
            Some(dir) => {
                let (catalog, errors) = catalog_from_dir(Path::new(dir));
                assert!(errors.is_empty(), "custom runbooks of {dir}: {errors:?}");
                catalog
            }
            None => Catalog::builtin(),
        };
        let mut engine = Engine::new(store, config);
        if let Some(clock) = options.clock {
            engine = engine.with_clock(clock);
        }
        let engine = engine
            .with_catalog(catalog)
            .with_secret_key(options.secret_key)
            .with_process_secrets(options.admin_token.iter().chain(&options.database_url));
        let app = Application::build(listener, engine.clone(), server_options);
        let (shutdown, rx) = watch::channel(false);
        let handle = tokio::spawn(app.run_until_stopped(rx));
        TestApp {
            url,
            engine,
            shutdown,
            handle: Some(handle),
        }
    }

    /// Stops the server and its workers and waits for them.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
