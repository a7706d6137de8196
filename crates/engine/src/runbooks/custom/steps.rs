//! Running one custom runbook step: HTTP request, poll, program, SQL, wait.
//! Each writes what it did as run events; programs' output lines are
//! written as they come.

use crate::pipeline::{PhaseError, RunContext, FLUSH_INTERVAL};
use crate::Engine;
use opsroom_adapters::postgres::{PgConfig, Postgres};
use opsroom_adapters::shell::{self, CommandSpec, ShellError, Stream};
use opsroom_adapters::Secret;
use opsroom_core::catalog::secret_name;
use opsroom_core::redact::redact_url;
use opsroom_core::{EventLevel, StepAction};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// An HTTP step waits this long for an answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// A program without its own `timeout_seconds` is killed after this long.
const SHELL_TIMEOUT: Duration = Duration::from_secs(600);
/// Rows of a SQL result kept in the step's event.
const SQL_ROWS_SHOWN: usize = 20;

/// Runs steps for one run; keeps database pools open between steps.
pub(super) struct StepRunner {
    http: reqwest::Client,
    config: Arc<crate::OpsConfig>,
    env_vars: Vec<(String, String)>,
    databases: HashMap<String, Postgres>,
}

impl StepRunner {
    pub(super) fn new(
        engine: &Engine,
        env_vars: Vec<(String, String)>,
    ) -> Result<StepRunner, PhaseError> {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| PhaseError::permanent(format!("cannot build the HTTP client: {e}")))?;
        Ok(StepRunner {
            http,
            config: engine.config.clone(),
            env_vars,
            databases: HashMap::new(),
        })
    }

    /// Runs one step; the error says what went wrong (the caller names the step).
    pub(super) async fn run(
        &mut self,
        title: &str,
        action: &StepAction,
        ctx: &mut RunContext,
    ) -> Result<(), PhaseError> {
        match action {
            StepAction::Http {
                method,
                url,
                expect_status,
                body,
            } => {
                self.http(method, url, *expect_status, body.as_deref(), ctx)
                    .await
            }
            StepAction::Poll {
                url,
                expect_status,
                interval_seconds,
                timeout_seconds,
            } => {
                self.poll(
                    url,
                    *expect_status,
                    *interval_seconds,
                    *timeout_seconds,
                    ctx,
                )
                .await
            }
            StepAction::Shell {
                argv,
                env,
                cwd,
                timeout_seconds,
            } => {
                let program = Program {
                    argv,
                    env,
                    cwd: cwd.as_deref(),
                    timeout: timeout_seconds
                        .map(Duration::from_secs)
                        .unwrap_or(SHELL_TIMEOUT),
                };
                self.shell(title, program, ctx).await
            }
            StepAction::Sql { database, query } => self.sql(database, query, ctx).await,
            StepAction::Wait { seconds } => {
                ctx.log(EventLevel::Info, format!("waiting {seconds} s"));
                ctx.flush().await;
                tokio::time::sleep(Duration::from_secs(*seconds)).await;
                Ok(())
            }
        }
    }

    /// Closes database pools (at the end of the run).
    pub(super) async fn close(&mut self) {
        for (_, db) in self.databases.drain() {
            db.close().await;
        }
    }

    async fn http(
        &self,
        method: &str,
        url: &str,
        expect_status: Option<u16>,
        body: Option<&str>,
        ctx: &mut RunContext,
    ) -> Result<(), PhaseError> {
        let shown = redact_url(url);
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| PhaseError::permanent(format!("`{method}` is not an HTTP method")))?;
        let mut request = self.http.request(method.clone(), url);
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let started = Instant::now();
        let response = request.send().await.map_err(|e| {
            PhaseError::retryable(format!("{method} {shown} failed: {}", e.without_url()))
        })?;
        let status = response.status();
        let ms = started.elapsed().as_millis() as i64;
        let ok = match expect_status {
            Some(code) => status.as_u16() == code,
            None => status.is_success(),
        };
        ctx.log_data(
            if ok {
                EventLevel::Info
            } else {
                EventLevel::Error
            },
            format!("{method} {shown} answered {status} in {ms} ms"),
            json!({"kind": "http", "method": method.as_str(), "url": shown, "status": status.as_u16(), "latency_ms": ms}),
        );
        if ok {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let snippet: String = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        let expected = expect_status
            .map(|c| c.to_string())
            .unwrap_or_else(|| "a 2xx status".into());
        Err(PhaseError::retryable(format!(
            "{method} {shown} answered {status}, expected {expected}{}",
            if snippet.is_empty() {
                String::new()
            } else {
                format!(": {snippet}")
            }
        )))
    }

    async fn poll(
        &self,
        url: &str,
        expect_status: u16,
        interval_seconds: u64,
        timeout_seconds: u64,
        ctx: &mut RunContext,
    ) -> Result<(), PhaseError> {
        let shown = redact_url(url);
        let interval = Duration::from_secs(interval_seconds.max(1));
        let deadline = Instant::now() + Duration::from_secs(timeout_seconds);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request_timeout = deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_secs(1), HTTP_TIMEOUT);
            let last = match self.http.get(url).timeout(request_timeout).send().await {
                Ok(r) if r.status().as_u16() == expect_status => {
                    ctx.log_data(
                        EventLevel::Info,
                        format!("poll {attempt}: {shown} answered {}", r.status()),
                        json!({"kind": "poll", "attempt": attempt, "status": r.status().as_u16()}),
                    );
                    return Ok(());
                }
                Ok(r) => r.status().to_string(),
                Err(e) => e.without_url().to_string(),
            };
            ctx.log_data(
                EventLevel::Info,
                format!("poll {attempt}: {shown}: {last}; waiting for {expect_status}"),
                json!({"kind": "poll", "attempt": attempt}),
            );
            ctx.flush().await;
            if Instant::now() + interval > deadline {
                return Err(PhaseError::retryable(format!(
                    "{shown} did not answer {expect_status} within {timeout_seconds} s ({attempt} tries, last: {last})"
                )));
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Runs a program from a clean environment: PATH, HOME and LANG, the
    /// run's variables and the step's own, whose secrets the run hides from
    /// then on.
    async fn shell(
        &self,
        title: &str,
        step: Program<'_>,
        ctx: &mut RunContext,
    ) -> Result<(), PhaseError> {
        let (program, args) = step
            .argv
            .split_first()
            .ok_or_else(|| PhaseError::permanent("the step has no program to run"))?;
        let mut spec = CommandSpec::new(program.clone(), args.iter().cloned())
            .timeout(step.timeout)
            .clean_env();
        for (k, v) in &self.env_vars {
            spec = spec.env(k.clone(), v.clone());
        }
        for (name, value) in step.env {
            let value = match secret_name(value) {
                Some(key) => {
                    let secret = self
                        .config
                        .secret(key)
                        .map_err(|e| PhaseError::permanent(format!("env variable {name}: {e}")))?;
                    ctx.add_secret(&secret);
                    secret.expose().to_owned()
                }
                None => value.clone(),
            };
            spec = spec.env(name.clone(), value);
        }
        if let Some(dir) = step.cwd {
            spec = spec.cwd(dir);
        }
        let (tx, mut lines) = mpsc::channel(256);
        let program_run = async move { shell::run_checked(&spec, Some(&tx)).await };
        tokio::pin!(program_run);
        let mut result = None;
        let mut unflushed = false;
        let mut count = 0u64;
        // Until the program is done and every line it printed is written.
        loop {
            tokio::select! {
                line = lines.recv() => match line {
                    Some(line) => {
                        count += 1;
                        let stream = match line.stream {
                            Stream::Stdout => "stdout",
                            Stream::Stderr => "stderr",
                        };
                        ctx.log_data(
                            EventLevel::Info,
                            line.line,
                            json!({"kind": "output", "stream": stream, "step": title, "line": count}),
                        );
                        ctx.flush_if_due().await;
                        unflushed = true;
                    }
                    None => break,
                },
                r = &mut program_run, if result.is_none() => result = Some(r),
                // A quiet program: show its last lines without waiting for more.
                _ = tokio::time::sleep(FLUSH_INTERVAL), if unflushed => {
                    ctx.flush().await;
                    unflushed = false;
                }
            }
        }
        let result = match result {
            Some(r) => r,
            None => program_run.await,
        };
        match result {
            Ok(output) => {
                ctx.log_data(
                    EventLevel::Info,
                    format!(
                        "`{program}` exited with code 0 in {} ms",
                        output.duration.as_millis()
                    ),
                    json!({"kind": "exit", "exit_code": 0, "step": title}),
                );
                Ok(())
            }
            Err(e @ ShellError::Spawn { .. }) => Err(PhaseError::permanent(e.to_string())),
            Err(e) => Err(PhaseError::retryable(e.to_string())),
        }
    }

    async fn sql(
        &mut self,
        database: &str,
        query: &str,
        ctx: &mut RunContext,
    ) -> Result<(), PhaseError> {
        if !self.databases.contains_key(database) {
            let config = self.config.databases.get(database).ok_or_else(|| {
                let known: Vec<&str> = self.config.databases.keys().map(String::as_str).collect();
                PhaseError::permanent(format!(
                    "database `{database}` is not configured; add [databases.{database}] with `url` or `url_env` to opsroom.toml (configured: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ))
            })?;
            let url = config
                .resolve_url_with(&self.config)
                .map_err(|m| PhaseError::permanent(format!("database `{database}`: {m}")))?;
            let db = Postgres::connect(&PgConfig::new(Secret::new(url)))
                .await
                .map_err(|e| PhaseError::retryable(format!("database `{database}`: {e}")))?;
            self.databases.insert(database.to_string(), db);
        }
        let db = &self.databases[database];
        let started = Instant::now();
        let rows = db
            .query_json(query)
            .await
            .map_err(|e| PhaseError::retryable(format!("database `{database}`: {e}")))?;
        let ms = started.elapsed().as_millis() as i64;
        ctx.log_data(
            EventLevel::Info,
            format!("database `{database}`: {} rows in {ms} ms", rows.rows.len()),
            json!({
                "kind": "sql",
                "database": database,
                "columns": rows.columns,
                "rows": rows.rows.iter().take(SQL_ROWS_SHOWN).collect::<Vec<_>>(),
                "row_count": rows.rows.len(),
                "duration_ms": ms,
            }),
        );
        Ok(())
    }
}

/// A program step, placeholders filled.
struct Program<'a> {
    argv: &'a [String],
    env: &'a BTreeMap<String, String>,
    cwd: Option<&'a str>,
    timeout: Duration,
}
