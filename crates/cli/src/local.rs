//! Subcommands that work on this machine: `serve`, `worker`, `migrate`.

use crate::client::{CliError, CliResult};
use clap::Args;
use opsroom_engine::{Engine, OpsConfig, WorkerOptions, WorkerPool};
use opsroom_server::{Application, ServerOptions};
use opsroom_store::postgres::{PgStore, RoleCreateParams};
use opsroom_store::{redact_url, DynStore, StoreError};
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
    /// Address to listen on; anything but loopback needs OPSROOM_ADMIN_TOKEN.
    #[arg(long, env = "OPSROOM_BIND", default_value = "127.0.0.1:7300")]
    pub bind: String,
    /// Workers inside the server process (0: only separate `opsroom worker`s).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// The bootstrap admin's token (admin of every workspace), for
    /// automation and first setup; clients send `Authorization: Bearer …`.
    #[arg(long, env = "OPSROOM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Mark the session cookie `Secure` (always done when a proxy sends
    /// `X-Forwarded-Proto: https`).
    #[arg(long, env = "OPSROOM_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// The largest request body accepted, in bytes (larger ones get 413).
    #[arg(long, env = "OPSROOM_MAX_BODY_BYTES", default_value_t = opsroom_server::security::DEFAULT_MAX_BODY_BYTES, value_parser = parse_body_limit)]
    pub max_body_bytes: usize,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A body limit of at least 1 KiB (a smaller one would refuse ordinary requests).
fn parse_body_limit(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1024 => Ok(n),
        _ => Err(format!("`{s}` is not a byte count of at least 1024")),
    }
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
        secure_cookies: args.secure_cookies,
        workers: args.workers,
        worker: worker_options(&args.engine)?,
        max_body_bytes: args.max_body_bytes,
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
    refuse_open_server(&addr, options.admin_token.is_some(), store.as_ref()).await?;
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

/// A server reachable from other machines needs authentication: an admin
/// token, or users (who sign in). Without either, every request would act
/// as admin (local mode), which only loopback may have.
async fn refuse_open_server(
    addr: &std::net::SocketAddr,
    admin_token: bool,
    store: &dyn opsroom_store::Store,
) -> CliResult<()> {
    if addr.ip().is_loopback() || admin_token {
        return Ok(());
    }
    let users = store
        .users_exist()
        .await
        .map_err(|e| CliError::server(format!("reading users: {e}")))?;
    if users {
        return Ok(());
    }
    Err(CliError::input(format!(
        "refusing to serve on {addr} without authentication: anyone who can reach it would be admin. \
         Set OPSROOM_ADMIN_TOKEN (or --admin-token) to a long random value (e.g. `openssl rand -hex 32`), \
         then create users and tokens with it; or bind to 127.0.0.1 (OPSROOM_BIND)"
    )))
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

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// PostgreSQL: after migrating, create this LOGIN role without
    /// SUPERUSER or BYPASSRLS (or take the existing one) and grant it
    /// opsroom's tables, sequences and functions; serve with its URL.
    #[arg(long, value_name = "NAME")]
    pub create_role: Option<String>,
    /// Read the role's password from stdin (never from the command line).
    #[arg(long, requires = "create_role")]
    pub password_stdin: bool,
}

pub async fn migrate(args: MigrateArgs) -> CliResult<ExitCode> {
    init_logging();
    let password = if args.password_stdin {
        Some(crate::secrets_cmd::read_stdin("the role's password")?)
    } else {
        None
    };
    let is_postgres = args.db.database_url.starts_with("postgres://")
        || args.db.database_url.starts_with("postgresql://");
    if args.create_role.is_some() && !is_postgres {
        return Err(CliError::input(
            "--create-role is for PostgreSQL (row-level security); SQLite has no roles",
        ));
    }
    let args_db = args.db;
    let store = opsroom_store::connect(&args_db.database_url)
        .await
        .map_err(|e| {
            CliError::input(format!(
                "cannot open database {}: {e}",
                redact_url(&args_db.database_url)
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
    if let Some(name) = args.create_role {
        drop(store);
        let url = &args_db.database_url;
        let owner = PgStore::connect(url).await.map_err(|e| {
            CliError::input(format!("cannot open database {}: {e}", redact_url(url)))
        })?;
        let done = owner
            .role_create(&RoleCreateParams {
                name: name.clone(),
                password,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(why) => CliError::input(why),
                other => CliError::server(format!("creating role {name}: {other}")),
            })?;
        println!(
            "role {name} {} and granted schema {}: serve with its URL (no SUPERUSER, no BYPASSRLS)",
            if done.created { "created" } else { "exists" },
            done.schema
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_body_limit;

    #[test]
    fn body_limit_is_a_byte_count_of_at_least_1_kib() {
        assert_eq!(parse_body_limit("1048576"), Ok(1_048_576));
        assert_eq!(parse_body_limit("1024"), Ok(1024));
        for bad in ["1023", "0", "-5", "1MB", ""] {
            let e = parse_body_limit(bad).unwrap_err();
            assert!(e.contains("at least 1024"), "{bad}: {e}");
        }
    }
}
