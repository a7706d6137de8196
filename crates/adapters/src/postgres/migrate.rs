//! SQL migrations applied in one transaction, recorded in a table.

use std::path::Path;

use sqlx::Executor as _;

use super::{PgError, Postgres};

/// One migration: a version (sorts in apply order), a name and its SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Unique version, e.g. `20240101120000` or `0003`.
    pub version: String,
    /// Human name, e.g. `add_users`.
    pub name: String,
    /// The SQL, possibly several statements.
    pub sql: String,
}

impl Migration {
    /// A migration from its parts.
    pub fn new(
        version: impl Into<String>,
        name: impl Into<String>,
        sql: impl Into<String>,
    ) -> Self {
        Self {
            version: version.into(),
            name: name.into(),
            sql: sql.into(),
        }
    }
}

/// What [`Postgres::apply_migrations`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied now, in order.
    pub applied: Vec<String>,
    /// Versions found already applied (with the same SQL) and skipped.
    pub already_applied: Vec<String>,
}

/// A migration recorded in the migrations table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    /// Its version.
    pub version: String,
    /// Its name.
    pub name: String,
    /// md5 of its SQL.
    pub checksum: String,
    /// When it was applied.
    pub applied_at: chrono::DateTime<chrono::Utc>,
}

/// Reads `VERSION_NAME.sql` files of a folder, sorted by file name.
pub fn load_migrations_dir(dir: &Path) -> Result<Vec<Migration>, PgError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        PgError::InvalidInput(format!(
            "cannot read migrations folder {}: {e}",
            dir.display()
        ))
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let (version, name) = stem.split_once('_').unwrap_or((stem, ""));
            let sql = std::fs::read_to_string(&path).map_err(|e| {
                PgError::InvalidInput(format!("cannot read migration {}: {e}", path.display()))
            })?;
            Ok(Migration::new(version, name, sql))
        })
        .collect()
}

/// Quotes `table` or `schema.table` after checking each part is a plain
/// identifier, so it can be spliced into SQL.
fn quoted_table(table: &str) -> Result<(Option<String>, String), PgError> {
    let valid = |part: &str| {
        let mut chars = part.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && part.len() <= 63
    };
    let parts: Vec<&str> = table.split('.').collect();
    if parts.is_empty() || parts.len() > 2 || !parts.iter().all(|p| valid(p)) {
        return Err(PgError::InvalidInput(format!(
            "migrations table {table:?} must be `name` or `schema.name` made of letters, digits and _"
        )));
    }
    let quoted = parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(".");
    let schema = (parts.len() == 2).then(|| format!("\"{}\"", parts[0]));
    Ok((schema, quoted))
}

fn check_versions(migrations: &[Migration]) -> Result<(), PgError> {
    let mut seen = std::collections::HashSet::new();
    for m in migrations {
        if m.version.trim().is_empty() {
            return Err(PgError::InvalidInput(format!(
                "migration {:?} has an empty version",
                m.name
            )));
        }
        if !seen.insert(m.version.as_str()) {
            return Err(PgError::InvalidInput(format!(
                "migration version {} appears twice",
                m.version
            )));
        }
    }
    Ok(())
}

pub(super) async fn apply(
    db: &Postgres,
    table: &str,
    migrations: &[Migration],
) -> Result<MigrationReport, PgError> {
    let (schema, table_sql) = quoted_table(table)?;
    check_versions(migrations)?;
    let lock_key = format!("opsroom.migrations:{table}");
    let work = apply_in_transaction(db, lock_key, schema, table_sql, migrations);
    // Boxed as `Send` so callers can run it inside spawned tasks (the
    // compiler cannot prove it for sqlx transaction futures otherwise).
    let work: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>> = Box::pin(work);
    db.timed("applying migrations", work).await
}

async fn apply_in_transaction(
    db: &Postgres,
    lock_key: String,
    schema: Option<String>,
    table_sql: String,
    migrations: &[Migration],
) -> Result<MigrationReport, PgError> {
    const WHAT: &str = "applying migrations";
    let mut tx = db.pool.begin().await.map_err(|e| db.error(WHAT, e))?;
    // Serialises concurrent appliers of the same table (two workers
    // deploying at once); released at commit or rollback.
    sqlx::query("select pg_advisory_xact_lock(hashtext($1))")
        .bind(lock_key)
        .execute(&mut *tx)
        .await
        .map_err(|e| db.error(WHAT, e))?;
    if let Some(schema) = schema {
        let sql = format!("create schema if not exists {schema}");
        tx.execute(sql.as_str())
            .await
            .map_err(|e| db.error(WHAT, e))?;
    }
    let create = format!(
        "create table if not exists {table_sql} (
            version text primary key,
            name text not null,
            checksum text not null,
            applied_at timestamptz not null default now()
        )"
    );
    tx.execute(create.as_str())
        .await
        .map_err(|e| db.error(WHAT, e))?;
    let select = format!("select version, checksum from {table_sql}");
    let recorded: Vec<(String, String)> = sqlx::query_as(&select)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db.error(WHAT, e))?;
    let recorded: std::collections::HashMap<String, String> = recorded.into_iter().collect();
    let insert = format!("insert into {table_sql} (version, name, checksum) values ($1, $2, $3)");
    let mut report = MigrationReport::default();
    for m in migrations {
        let given: String = sqlx::query_scalar("select md5($1)")
            .bind(&m.sql)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| db.error(WHAT, e))?;
        if let Some(applied) = recorded.get(&m.version) {
            if *applied != given {
                return Err(PgError::Drift {
                    version: m.version.clone(),
                    applied: applied.clone(),
                    given,
                });
            }
            report.already_applied.push(m.version.clone());
            continue;
        }
        tx.execute(m.sql.as_str())
            .await
            .map_err(|e| PgError::Migration {
                version: m.version.clone(),
                message: super::db_message(&e),
            })?;
        sqlx::query(&insert)
            .bind(&m.version)
            .bind(&m.name)
            .bind(&given)
            .execute(&mut *tx)
            .await
            .map_err(|e| db.error(WHAT, e))?;
        tracing::info!(version = %m.version, name = %m.name, "migration applied");
        report.applied.push(m.version.clone());
    }
    tx.commit().await.map_err(|e| db.error(WHAT, e))?;
    Ok(report)
}

pub(super) async fn applied(db: &Postgres, table: &str) -> Result<Vec<AppliedMigration>, PgError> {
    let (_, table_sql) = quoted_table(table)?;
    let what = "reading applied migrations";
    db.timed(what, async {
        let exists: Option<String> = sqlx::query_scalar("select to_regclass($1)::text")
            .bind(&table_sql)
            .fetch_one(&db.pool)
            .await
            .map_err(|e| db.error(what, e))?;
        if exists.is_none() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            &format!("select version, name, checksum, applied_at from {table_sql} order by applied_at, version"),
        )
        .fetch_all(&db.pool)
        .await
        .map_err(|e| db.error(what, e))?;
        Ok(rows
            .into_iter()
            .map(|(version, name, checksum, applied_at)| AppliedMigration {
                version,
                name,
                checksum,
                applied_at,
            })
            .collect())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_checked_and_quoted() {
        assert_eq!(quoted_table("m").unwrap().1, "\"m\"");
        assert_eq!(
            quoted_table("s.m").unwrap(),
            (Some("\"s\"".to_owned()), "\"s\".\"m\"".to_owned())
        );
        assert!(quoted_table("x; drop table y").is_err());
        assert!(quoted_table("a.b.c").is_err());
        assert!(quoted_table("").is_err());
    }

    #[test]
    fn duplicate_versions_are_rejected() {
        let m = [
            Migration::new("1", "a", "select 1"),
            Migration::new("1", "b", "select 2"),
        ];
        assert!(check_versions(&m).is_err());
    }
}
