//! `schema_sync` ("sync prod schema with dev"): compares the schemas of two
//! databases named under `[databases.NAME]` — `source_env` is the desired
//! schema, `target_env` the current one — and writes the migration that
//! makes the target match (`schema-diff.sql`), a summary of its changes and
//! hazards (`schema-diff.md`) and the desired schema's ERD (`erd.svg`, and
//! `erd.mmd` drawn in the UI).
//!
//! With `apply = true` it is a write run (held for approval on protected
//! envs): it diffs again, refuses when the migration is not the one that was
//! reviewed (`fingerprint`, printed by the diff run), applies it in one
//! transaction under `lock_timeout` and `statement_timeout`, and verifies by
//! diffing once more, to empty.
//!
//! When the target env has a migrations folder
//! (`[environments.TARGET.migrations]`, which deploys apply), a diff run
//! also proposes its migration as the folder's next `VERSION_name.sql`:
//! committed on a branch `schema-sync/TARGET-FINGERPRINT` of the
//! migrations' git `remote`, or opened as a pull request through the GitHub
//! API (`github`), else written into `dir`, so the change goes through
//! review and the next deploy applies it (see `schema_proposal`).

use super::schema_proposal::{propose, Proposal};
use crate::config::MigrationsConfig;
use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::Engine;
use opsroom_core::ArtifactKind;
use opsroom_core::{EventLevel, Phase};
use opsroom_schema::{connect, diff, erd, introspect, IntrospectError, Migration, Schema};
use opsroom_store::Run;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::{Connection, Executor};

/// How long the apply waits for a lock before giving up (no queue of
/// blocked queries behind a migration on a busy table).
const LOCK_TIMEOUT: &str = "5s";
/// How long any one statement of the apply may run.
const STATEMENT_TIMEOUT: &str = "15min";

/// One schema_sync run.
pub struct SchemaSync {
    source: String,
    target: String,
    apply: bool,
    fingerprint: Option<String>,
    source_url: String,
    target_url: String,
    migration: Option<Migration>,
    applied: bool,
    /// The target env's migrations, where a diff is proposed.
    migrations: Option<MigrationsConfig>,
}

/// The first 16 hex digits of the migration text's SHA-256: what a person
/// reviewed, to compare with what is about to run.
pub fn fingerprint(migration: &Migration) -> String {
    let digest = Sha256::digest(migration.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn text_param(params: &Map<String, Value>, name: &str, default: &str) -> String {
    params
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
        .to_string()
}

impl SchemaSync {
    pub fn new(
        engine: &Engine,
        _run: &Run,
        params: &Map<String, Value>,
    ) -> Result<Self, PhaseError> {
        let source = text_param(params, "source_env", "dev");
        let target = text_param(params, "target_env", "prod");
        if source == target {
            return Err(PhaseError::permanent(format!(
                "source_env and target_env are both `{source}`: name two different databases"
            )));
        }
        let url = |name: &str| {
            let known: Vec<&str> = engine.config.databases.keys().map(String::as_str).collect();
            let db = engine.config.databases.get(name).ok_or_else(|| {
                PhaseError::permanent(format!(
                    "database `{name}` is not configured; add [databases.{name}] with `url`, `url_env` or `url_secret` to opsroom.toml (configured: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ))
            })?;
            db.resolve_url_with(&engine.config)
                .map_err(|m| PhaseError::permanent(format!("database `{name}`: {m}")))
        };
        let migrations = engine
            .config
            .env(&target)
            .and_then(|(_, env)| env.migrations.clone());
        Ok(SchemaSync {
            migrations,
            source_url: url(&source)?,
            target_url: url(&target)?,
            source,
            target,
            apply: params
                .get("apply")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            fingerprint: params
                .get("fingerprint")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
            migration: None,
            applied: false,
        })
    }

    fn fail(&self, which: &str, e: IntrospectError) -> PhaseError {
        let message = format!("database `{which}`: {e}");
        match e {
            IntrospectError::Unreachable(_) | IntrospectError::Query { .. } => {
                PhaseError::retryable(message)
            }
            _ => PhaseError::permanent(message),
        }
    }

    async fn read(&self, which: &str, url: &str) -> Result<Schema, PhaseError> {
        spawned(read_schema(url.to_string()))
            .await?
            .map_err(|e| self.fail(which, e))
    }

    async fn preflight(&self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        for (which, url, role) in [
            (&self.source, &self.source_url, "desired"),
            (&self.target, &self.target_url, "current"),
        ] {
            spawned(ping(url.clone()))
                .await?
                .map_err(|e| self.fail(which, e))?;
            ctx.log(
                EventLevel::Info,
                format!("database `{which}` ({role} schema) is reachable"),
            );
        }
        Ok(())
    }

    async fn action(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        // Both databases are read at once, on two connections.
        let (desired, current) = tokio::try_join!(
            self.read(&self.source, &self.source_url),
            self.read(&self.target, &self.target_url)
        )?;
        ctx.log(
            EventLevel::Info,
            format!(
                "introspected `{}` ({} objects, desired) and `{}` ({} objects, current)",
                self.source,
                desired.object_count(),
                self.target,
                current.object_count()
            ),
        );
        let migration = diff(&current, &desired);
        let print = fingerprint(&migration);
        let hazards = migration.hazards().count();
        ctx.log_data(
            EventLevel::Info,
            format!(
                "{} statement(s), {hazards} hazard(s); fingerprint {print}",
                migration.statements.len()
            ),
            json!({"kind": "schema_diff", "statements": migration.statements.len(), "hazards": hazards, "fingerprint": print}),
        );
        for (statement, hazard) in migration.hazards() {
            let first_line = statement.sql.lines().next().unwrap_or_default();
            ctx.log(
                EventLevel::Warn,
                format!(
                    "hazard {}: {} ({first_line})",
                    hazard.kind, hazard.explanation
                ),
            );
        }
        for statement in &migration.skipped {
            let first_line = statement.sql.lines().next().unwrap_or_default();
            for hazard in &statement.hazards {
                ctx.log(
                    EventLevel::Warn,
                    format!("skipped ({first_line}): {}", hazard.explanation),
                );
            }
        }
        ctx.artifact(ArtifactKind::File, "schema-diff.sql", migration.to_string())
            .await?;
        ctx.artifact(
            ArtifactKind::Markdown,
            "schema-diff.md",
            self.report(&migration, &print),
        )
        .await?;
        ctx.artifact(ArtifactKind::File, "erd.svg", erd::svg(&desired))
            .await?;
        ctx.artifact(ArtifactKind::Mermaid, "erd.mmd", erd::mermaid(&desired))
            .await?;
        if self.apply {
            self.apply_migration(&migration, &print, ctx).await?;
        } else if let Some(m) = self.migrations.clone().filter(|_| !migration.is_empty()) {
            let proposal = Proposal {
                source: &self.source,
                target: &self.target,
                migration: &migration,
                print: &print,
                report: self.report(&migration, &print),
            };
            propose(&m, &proposal, ctx).await?;
        }
        self.migration = Some(migration);
        Ok(())
    }

    async fn apply_migration(
        &mut self,
        migration: &Migration,
        print: &str,
        ctx: &mut RunContext,
    ) -> Result<(), PhaseError> {
        if let Some(expected) = &self.fingerprint {
            if expected != print {
                return Err(PhaseError::permanent(format!(
                    "`{}` changed since the reviewed diff: its migration's fingerprint is now {print}, not {expected}; review the new schema-diff.sql and run again with fingerprint={print}",
                    self.target
                )));
            }
        }
        if migration.is_empty() {
            ctx.log(EventLevel::Info, "nothing to apply: the schemas are equal");
            return Ok(());
        }
        let script = format!(
            "BEGIN;\nSET LOCAL lock_timeout = '{LOCK_TIMEOUT}';\nSET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}';\n{migration}COMMIT;\n"
        );
        ctx.log(
            EventLevel::Info,
            format!(
                "applying {} statement(s) to `{}` in one transaction (lock_timeout {LOCK_TIMEOUT}, statement_timeout {STATEMENT_TIMEOUT})",
                migration.statements.len(),
                self.target
            ),
        );
        match spawned(run_script(self.target_url.clone(), script)).await? {
            Err(ScriptError::Connect(e)) => Err(self.fail(&self.target, e)),
            Ok(()) => {
                self.applied = true;
                ctx.log(
                    EventLevel::Info,
                    format!("migration committed on `{}`", self.target),
                );
                Ok(())
            }
            Err(ScriptError::Failed(e)) => Err(PhaseError::permanent(format!(
                "the migration failed on `{}` and was rolled back: {e}",
                self.target
            ))),
        }
    }

    async fn verify(&self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        if !self.applied {
            let pending = self.migration.as_ref().map_or(0, |m| m.statements.len());
            ctx.log(
                EventLevel::Info,
                match pending {
                    0 => format!("`{}` already matches `{}`", self.target, self.source),
                    n if self.apply => format!("{n} statement(s) not applied"),
                    n => format!("diff only: {n} statement(s) to review in schema-diff.sql; nothing was changed"),
                },
            );
            return Ok(());
        }
        let desired = self.read(&self.source, &self.source_url).await?;
        let current = self.read(&self.target, &self.target_url).await?;
        let left = diff(&current, &desired);
        if left.is_empty() {
            ctx.log(
                EventLevel::Info,
                format!(
                    "`{}` now matches `{}`: a second diff is empty",
                    self.target, self.source
                ),
            );
            Ok(())
        } else {
            ctx.artifact(
                ArtifactKind::File,
                "schema-diff-remaining.sql",
                left.to_string(),
            )
            .await?;
            Err(PhaseError::permanent(format!(
                "{} difference(s) remain after the migration (see schema-diff-remaining.sql)",
                left.statements.len() + left.skipped.len()
            )))
        }
    }

    fn report(&self, migration: &Migration, print: &str) -> String {
        let mut md = format!(
            "# Schema diff: `{}` → `{}`\n\nDesired schema: `{}`. Current schema: `{}`.\n\n",
            self.source, self.target, self.source, self.target
        );
        if migration.is_empty() {
            md += "The schemas are equal: nothing to change.\n";
            return md;
        }
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for s in &migration.statements {
            let words: Vec<&str> = s.sql.split_whitespace().take(2).collect();
            *counts.entry(words.join(" ")).or_default() += 1;
        }
        md += &format!(
            "{} statement(s), fingerprint `{print}`.\n\n| statement | count |\n|---|---|\n",
            migration.statements.len()
        );
        for (kind, n) in &counts {
            md += &format!("| `{kind}` | {n} |\n");
        }
        let hazards: Vec<_> = migration.hazards().collect();
        md += &format!("\n## Hazards ({})\n\n", hazards.len());
        if hazards.is_empty() {
            md += "None: no statement loses data, rewrites a table or holds a long lock.\n";
        }
        for (statement, hazard) in hazards {
            let first = statement.sql.lines().next().unwrap_or_default();
            md += &format!(
                "- **{}**: {} — `{}`\n",
                hazard.kind,
                hazard.explanation,
                first.replace('`', "'")
            );
        }
        if !migration.skipped.is_empty() {
            md += &format!(
                "\n## Skipped ({}): roles missing on `{}`\n\n",
                migration.skipped.len(),
                self.target
            );
            for statement in &migration.skipped {
                let explanation = statement
                    .hazards
                    .first()
                    .map_or("", |h| h.explanation.as_str());
                md += &format!("- `{}` — {explanation}\n", statement.sql.replace('`', "'"));
            }
        }
        md += &format!(
            "\n## Apply\n\nAfter review: `opsroom run --runbook schema_sync --param source_env={} --param target_env={} --param apply=true --param fingerprint={print}` (a write, held for approval on protected envs; refused if `{}` changed since this diff).\n",
            self.source, self.target, self.target
        );
        md
    }
}

/// Runs database work on its own task: sqlx's futures are `Send` only for
/// concrete lifetimes, which an `async_trait` method cannot name.
async fn spawned<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, PhaseError> {
    tokio::spawn(work)
        .await
        .map_err(|e| PhaseError::retryable(format!("the schema task stopped: {e}")))
}

async fn ping(url: String) -> Result<(), IntrospectError> {
    let conn = connect(&url).await?;
    let _ = conn.close().await;
    Ok(())
}

async fn read_schema(url: String) -> Result<Schema, IntrospectError> {
    let mut conn = connect(&url).await?;
    let schema = introspect(&mut conn).await;
    let _ = conn.close().await;
    schema
}

enum ScriptError {
    Connect(IntrospectError),
    Failed(String),
}

/// Runs `script` (which holds its own BEGIN and COMMIT) on one connection.
async fn run_script(url: String, script: String) -> Result<(), ScriptError> {
    let mut conn = connect(&url).await.map_err(ScriptError::Connect)?;
    let result = conn.execute(sqlx::raw_sql(&script)).await;
    let _ = conn.close().await;
    result
        .map(|_| ())
        .map_err(|e| ScriptError::Failed(e.to_string()))
}

#[async_trait::async_trait]
impl Execution for SchemaSync {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        match phase {
            Phase::Validate => {
                ctx.log(
                    EventLevel::Info,
                    format!(
                        "`{}` is the desired schema, `{}` the current one{}",
                        self.source,
                        self.target,
                        if self.apply {
                            "; the migration will be applied"
                        } else {
                            "; diff only"
                        }
                    ),
                );
                Ok(())
            }
            Phase::Preflight => self.preflight(ctx).await,
            Phase::Action => self.action(ctx).await,
            Phase::Verify => self.verify(ctx).await,
            Phase::Summarize => Ok(()),
        }
    }
}
