//! Subcommands that work on this machine: `serve`, `worker`, `migrate`.

use crate::client::{CliError, CliResult};
use clap::Args;
use opsroom_engine::{Engine, OpsConfig, WorkerOptions, WorkerPool};
use opsroom_server::{Application, ServerOptions};
use opsroom_store::{redact_url, DynStore};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;

const DEFAULT_DATABASE: &str = "sqlite://data/opsroom.db";

#[derive(Debug, Args)]
pub struct DbArgs {
    /// `postgres://…` or `sqlite://PATH` (default: SQLite in ./data).
    #[arg(long, env = "OPSROOM_DATABASE_URL", default_value = DEFAULT_DATABASE, hide_env_values = true)]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Configuration file (default: ./opsroom.toml if it exists, else the demo workspace).
    #[arg(long, env = "OPSROOM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Runs each worker executes at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seconds without a heartbeat after which a worker's runs are rescued.
    #[arg(long, env = "OPSROOM_HEARTBEAT_TIMEOUT", default_value_t = 30)]
    pub heartbeat_timeout: u64,
    /// Seconds current runs get to finish on shutdown before they are released.
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace: u64,
    /// Seconds a run waits for approval before it is rejected as expired
    /// (overrides `[approvals] expire_after_secs`; default 86400).
    #[arg(long, env = "OPSROOM_APPROVAL_EXPIRE_SECS")]
    pub approval_expire_secs: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, env = "OPSROOM_BIND", default_value = "127.0.0.1:7300")]
    pub bind: String,
    /// Workers inside the server process (0: only separate `opsroom worker`s).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// When set, API requests must carry `Authorization: Bearer <token>`.
    #[arg(long, env = "OPSROOM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Workers in this process.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// URL the demo config probes as "this server" (when there is no config file).
    #[arg(long, env = "OPSROOM_SERVER", default_value = "http://127.0.0.1:7300")]
    pub server: String,
    #[command(flatten)]
    pub engine: EngineArgs,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // A log line that cannot be written (stderr is a closed pipe, e.g. after
    // `opsroom serve 2>&1 | head -1`) is dropped. tracing-subscriber would
    // otherwise report it with `eprintln!`, which panics on that same closed
    // pipe and kills whichever task logged: the signal task, and with it
    // shutdown.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .try_init();
}

pub(crate) async fn open_store(url: &str) -> CliResult<DynStore> {
    let store = opsroom_store::connect(url)
        .await
        .map_err(|e| CliError::input(format!("cannot open database {}: {e}", redact_url(url))))?;
    let applied = store
        .migrate()
        .await
        .map_err(|e| CliError::server(format!("migrating {}: {e}", redact_url(url))))?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    Ok(store)
}

/// The config file (or the demo), then what the environment and flags
/// override: defaults → `opsroom.toml` → `OPSROOM_*`.
fn load_config(args: &EngineArgs, self_url: &str) -> CliResult<(OpsConfig, String)> {
    let (mut config, origin) = load_config_file(&args.config, self_url)?;
    if let Some(secs) = args.approval_expire_secs {
        config.approvals.expire_after_secs =
            opsroom_engine::config::ApprovalsConfig::check_expire_secs(secs).map_err(|e| {
                CliError::input(format!(
                    "OPSROOM_APPROVAL_EXPIRE_SECS (--approval-expire-secs): {e}"
                ))
            })?;
    }
    Ok((config, origin))
}

fn load_config_file(path: &Option<PathBuf>, self_url: &str) -> CliResult<(OpsConfig, String)> {
    let path = path.clone().or_else(|| {
        let default = PathBuf::from("opsroom.toml");
        default.exists().then_some(default)
    });
    match path {
        Some(p) => {
            let mut config = OpsConfig::load(&p).map_err(|e| CliError::input(e.to_string()))?;
            crate::runbooks_cmd::resolve_runbooks_dir(&mut config, &p);
            Ok((config, p.display().to_string()))
        }
        None => Ok((
            OpsConfig::demo(self_url),
            "demo workspace (no opsroom.toml)".into(),
        )),
    }
}

/// This process's own credentials, which no run may show: the admin token
/// and a PostgreSQL URL (with its password). A SQLite path is no secret.
fn process_secrets(database_url: &str, admin_token: Option<String>) -> Vec<String> {
    let mut values: Vec<String> = admin_token.into_iter().filter(|t| !t.is_empty()).collect();
    if !database_url.starts_with("sqlite://") {
        values.push(database_url.to_string());
    }
    values
}

fn worker_options(args: &EngineArgs) -> CliResult<WorkerOptions> {
    if args.concurrency == 0 || args.concurrency > 1024 {
        return Err(CliError::input("--concurrency must be from 1 to 1024"));
    }
    if args.heartbeat_timeout < 2 {
        return Err(CliError::input(
            "--heartbeat-timeout must be at least 2 seconds",
        ));
    }
    Ok(WorkerOptions {
        concurrency: args.concurrency,
        heartbeat_timeout: Duration::from_secs(args.heartbeat_timeout),
        heartbeat_interval: Duration::from_millis(
            (args.heartbeat_timeout * 1000 / 10).clamp(200, 1000),
        ),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        ..Default::default()
    })
}

/// Prints a line for the operator. A long-running process whose stdout was
/// closed (piped into `head`) goes on without it: `println!` would panic.
fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Turns SIGINT/SIGTERM into a shutdown flag. The handlers are in place
/// when this returns.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let _ = tx.send(true);
            tracing::info!("shutting down");
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = tx.send(true);
        tracing::info!("shutting down");
    });
    rx
}

pub async fn serve(args: ServeArgs) -> CliResult<ExitCode> {
    init_logging();
    let options = ServerOptions {
        bind: args.bind.clone(),
        admin_token: args.admin_token.clone().filter(|t| !t.is_empty()),
        workers: args.workers,
        worker: worker_options(&args.engine)?,
    };
    let listener = Application::bind(options.clone()).await.map_err(|e| {
        CliError::input(format!(
            "cannot listen on {}: {e} (set OPSROOM_BIND or --bind)",
            args.bind
        ))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::server(e.to_string()))?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let url = format!("http://{host}:{}", addr.port());
    let secret_key = crate::secrets_cmd::master_key_from_env()?;
    let (config, config_origin) = load_config(&args.engine, &url)?;
    let store = open_store(&args.engine.db.database_url).await?;
    let backend = store.backend();
    let catalog = crate::runbooks_cmd::startup_catalog(&config);
    let engine = Engine::new(store, config)
        .with_catalog(catalog)
        .with_secret_key(secret_key)
        .with_process_secrets(process_secrets(
            &args.engine.db.database_url,
            args.admin_token.clone(),
        ));
    let app = Application::build(listener, engine, options);
    // Signals are handled from before the server says it listens, so a
    // SIGTERM sent as soon as that line appears still shuts down cleanly.
    let shutdown = shutdown_signal();
    announce(format_args!(
        "opsroom listening on {url} (store: {backend} {}, {} workers, config: {config_origin})",
        redact_url(&args.engine.db.database_url),
        args.workers
    ));
    app.run_until_stopped(shutdown)
        .await
        .map_err(|e| CliError::server(format!("server failed: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn worker(args: WorkerArgs) -> CliResult<ExitCode> {
    init_logging();
    if args.workers == 0 {
        return Err(CliError::input("--workers must be at least 1"));
    }
    let options = worker_options(&args.engine)?;
    let secret_key = crate::secrets_cmd::master_key_from_env()?;
    let (config, config_origin) = load_config(&args.engine, &args.server)?;
    let store = open_store(&args.engine.db.database_url).await?;
    let catalog = crate::runbooks_cmd::startup_catalog(&config);
    // A worker does not use the admin token, but it may share the server's
    // environment: its runs must not show it either.
    let admin_token = std::env::var("OPSROOM_ADMIN_TOKEN").ok();
    let engine = Engine::new(store, config)
        .with_catalog(catalog)
        .with_secret_key(secret_key)
        .with_process_secrets(process_secrets(&args.engine.db.database_url, admin_token));
    let shutdown = shutdown_signal();
    let mut handles = Vec::new();
    for _ in 0..args.workers {
        let pool = WorkerPool::new(engine.clone(), options.clone());
        announce(format_args!(
            "worker {} started (config: {config_origin})",
            pool.id()
        ));
        handles.push(tokio::spawn(pool.run_until_stopped(shutdown.clone())));
    }
    for h in handles {
        let _ = h.await;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(args: DbArgs) -> CliResult<ExitCode> {
    init_logging();
    let store = opsroom_store::connect(&args.database_url)
        .await
        .map_err(|e| {
            CliError::input(format!(
                "cannot open database {}: {e}",
                redact_url(&args.database_url)
            ))
        })?;
    let applied = store
        .migrate()
        .await
        .map_err(|e| CliError::server(format!("migrating: {e}")))?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        println!("applied: {}", applied.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
