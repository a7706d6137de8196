//! PostgreSQL adapter: connect, `select 1` health with latency, ad-hoc
//! queries returning rows as JSON, and transactional migrations (also used by
//! the Supabase adapter).

mod migrate;

use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow, PgValueFormat};
use sqlx::{Column, Row, TypeInfo, ValueRef};

pub use migrate::{load_migrations_dir, AppliedMigration, Migration, MigrationReport};

use crate::secret::Secret;

/// How to connect.
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/db`; secret because of the password.
    pub url: Secret,
    /// Pool size.
    pub max_connections: u32,
    /// Time allowed to get a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one query or migration batch.
    pub query_timeout: Duration,
}

impl PgConfig {
    /// A small pool (2 connections) with 10 s connect and 60 s query timeouts.
    pub fn new(url: Secret) -> Self {
        Self {
            url,
            max_connections: 2,
            connect_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(60),
        }
    }
}

/// What went wrong talking to PostgreSQL. Messages never contain the
/// connection URL or its password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// No connection could be made.
    #[error("connecting to PostgreSQL failed: {message}")]
    Connect {
        /// Why.
        message: String,
    },
    /// A statement failed.
    #[error("{what} failed: {message}")]
    Query {
        /// What was being done.
        what: String,
        /// PostgreSQL's message.
        message: String,
    },
    /// A statement ran past the query timeout.
    #[error("{what} failed: timed out after {timeout:?}")]
    Timeout {
        /// What was being done.
        what: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// A migration failed; the whole batch was rolled back.
    #[error("migration {version} failed, no migration of this batch was applied: {message}")]
    Migration {
        /// The failing migration's version.
        version: String,
        /// PostgreSQL's message.
        message: String,
    },
    /// An applied migration's SQL differs from the one given now.
    #[error("migration {version} was already applied with different SQL (checksum {applied} in the database, {given} now); add a new migration instead of editing an applied one")]
    Drift {
        /// The migration's version.
        version: String,
        /// Checksum recorded when applied.
        applied: String,
        /// Checksum of the SQL given now.
        given: String,
    },
    /// Bad input, nothing was run.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// The result of a health check.
#[derive(Clone, Debug)]
pub struct PgHealth {
    /// Round trip of `select 1`, connection acquisition included.
    pub latency: Duration,
    /// `server_version`, e.g. `16.4`.
    pub server_version: String,
}

/// Rows of a query, each a JSON object keyed by column name.
#[derive(Clone, Debug, Default)]
pub struct QueryRows {
    /// Column names of the first row-returning statement.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Value>,
}

/// A connection pool with the adapter's operations.
#[derive(Clone, Debug)]
pub struct Postgres {
    pool: PgPool,
    query_timeout: Duration,
    url: Secret,
}

impl Postgres {
    /// Connects (lazily checking the first connection now).
    pub async fn connect(config: &PgConfig) -> Result<Self, PgError> {
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.connect_timeout)
            .connect(config.url.expose())
            .await
            .map_err(|e| PgError::Connect {
                message: redact_url(&config.url, &e.to_string()),
            })?;
        Ok(Self {
            pool,
            query_timeout: config.query_timeout,
            url: config.url.clone(),
        })
    }

    /// The underlying pool, for callers that need sqlx directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await
    }

    pub(crate) fn error(&self, what: &str, e: sqlx::Error) -> PgError {
        PgError::Query {
            what: what.to_owned(),
            message: redact_url(&self.url, &db_message(&e)),
        }
    }

    pub(crate) async fn timed<T, F>(&self, what: &str, fut: F) -> Result<T, PgError>
    where
        F: std::future::Future<Output = Result<T, PgError>>,
    {
        tokio::time::timeout(self.query_timeout, fut)
            .await
            .unwrap_or_else(|_| {
                Err(PgError::Timeout {
                    what: what.to_owned(),
                    timeout: self.query_timeout,
                })
            })
    }

    /// Runs `select 1` and reads the server version; measures the latency.
    pub async fn health(&self) -> Result<PgHealth, PgError> {
        let what = "postgres health check";
        self.timed(what, async {
            let started = Instant::now();
            let one: i32 = sqlx::query_scalar("select 1")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.error(what, e))?;
            let latency = started.elapsed();
            if one != 1 {
                return Err(PgError::Query {
                    what: what.to_owned(),
                    message: format!("select 1 returned {one}"),
                });
            }
            let server_version: String = sqlx::query_scalar("show server_version")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.error(what, e))?;
            Ok(PgHealth {
                latency,
                server_version,
            })
        })
        .await
    }

    /// Runs SQL text (one or more `;`-separated statements, no parameters)
    /// and returns the rows as JSON objects. Values keep their JSON type for
    /// booleans, integers, floats, numerics and json/jsonb; everything else
    /// is its PostgreSQL text form.
    pub async fn query_json(&self, sql: &str) -> Result<QueryRows, PgError> {
        let what = "postgres query";
        if sql.trim().is_empty() {
            return Err(PgError::InvalidInput("the SQL text is empty".to_owned()));
        }
        self.timed(what, async {
            let rows = sqlx::raw_sql(sql)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.error(what, e))?;
            let columns = rows
                .first()
                .map(|r| r.columns().iter().map(|c| c.name().to_owned()).collect())
                .unwrap_or_default();
            let rows = rows.iter().map(row_to_json).collect();
            Ok(QueryRows { columns, rows })
        })
        .await
    }

    /// Applies the migrations not yet recorded in `table`, in the given
    /// order, in one transaction; see [`MigrationReport`].
    pub async fn apply_migrations(
        &self,
        table: &str,
        migrations: &[Migration],
    ) -> Result<MigrationReport, PgError> {
        migrate::apply(self, table, migrations).await
    }

    /// The migrations recorded in `table`, oldest first (empty when the table
    /// does not exist yet).
    pub async fn applied_migrations(&self, table: &str) -> Result<Vec<AppliedMigration>, PgError> {
        migrate::applied(self, table).await
    }
}

fn row_to_json(row: &PgRow) -> Value {
    let mut object = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = match row.try_get_raw(i) {
            Ok(raw) if raw.is_null() => Value::Null,
            Ok(raw) => {
                let type_name = raw.type_info().name().to_owned();
                match (raw.format(), raw.as_str()) {
                    (PgValueFormat::Text, Ok(text)) => text_to_json(&type_name, text),
                    _ => Value::String(format!("<{type_name} value>")),
                }
            }
            Err(_) => Value::Null,
        };
        object.insert(column.name().to_owned(), value);
    }
    Value::Object(object)
}

/// Converts a value in PostgreSQL's text format to the closest JSON value.
fn text_to_json(type_name: &str, text: &str) -> Value {
    match type_name {
        "BOOL" => Value::Bool(text == "t"),
        "INT2" | "INT4" | "INT8" | "OID" => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
        "FLOAT4" | "FLOAT8" | "NUMERIC" => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.to_owned())),
        "JSON" | "JSONB" => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => Value::String(text.to_owned()),
    }
}

/// The database's own message (sqlx's Display adds a generic prefix).
fn db_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}

/// Hides the URL and its password if an error message repeats them.
fn redact_url(url: &Secret, message: &str) -> String {
    let mut secrets = vec![url.clone()];
    if let Ok(parsed) = reqwest::Url::parse(url.expose()) {
        if let Some(password) = parsed.password() {
            secrets.push(Secret::new(password));
        }
    }
    crate::secret::redact_all(message, &secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_keep_json_types() {
        assert_eq!(text_to_json("BOOL", "t"), Value::Bool(true));
        assert_eq!(text_to_json("INT8", "42"), Value::from(42));
        assert_eq!(text_to_json("NUMERIC", "1.5"), Value::from(1.5));
        assert_eq!(text_to_json("JSONB", r#"{"a":1}"#)["a"], 1);
        assert_eq!(
            text_to_json("TIMESTAMPTZ", "2024-01-01 00:00:00+00"),
            "2024-01-01 00:00:00+00"
        );
        assert_eq!(text_to_json("FLOAT8", "NaN"), "NaN");
    }

    #[test]
    fn url_password_is_redacted() {
        let url = Secret::new("postgres://app:hunter2@db/x");
        assert_eq!(redact_url(&url, "bad password hunter2"), "bad password ***");
    }
}
