//! Throwaway PostgreSQL databases for the schema tests: each scenario
//! creates its own pair (uniquely named), and drops them when it ends,
//! whether it passed or not.

#![allow(dead_code)]

use opsroom_schema::{connect, diff, introspect, Migration, Schema};
use sqlx::{Connection, PgConnection};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The server the tests use (`OPSROOM_TEST_DATABASE_URL`, like the store's).
pub fn base_url() -> String {
    std::env::var("OPSROOM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `url` with its database name replaced.
pub fn url_for(database: &str) -> String {
    let base = base_url();
    let (head, tail) = base.rsplit_once('/').expect("a database URL with a path");
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{head}/{database}{query}")
}

/// A database that exists until [`TempDb::drop_now`].
pub struct TempDb {
    pub name: String,
    pub url: String,
}

impl TempDb {
    pub async fn create(tag: &str) -> TempDb {
        let name = format!(
            "opsroom_schema_{}_{}_{}",
            tag,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = PgConnection::connect(&base_url())
            .await
            .expect("connect to the test server");
        sqlx::raw_sql(&format!("CREATE DATABASE {name} TEMPLATE template0"))
            .execute(&mut admin)
            .await
            .expect("create a throwaway database");
        TempDb {
            url: url_for(&name),
            name,
        }
    }

    pub async fn run(&self, sql: &str) -> Result<(), String> {
        let mut conn = PgConnection::connect(&self.url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    pub async fn text(&self, query: &str) -> Result<String, String> {
        let mut conn = PgConnection::connect(&self.url)
            .await
            .map_err(|e| e.to_string())?;
        let value: Option<String> = sqlx::query_scalar(query)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("{query}: {e}"))?;
        Ok(value.unwrap_or_default())
    }

    pub async fn schema(&self) -> Result<Schema, String> {
        let mut conn = connect(&self.url).await.map_err(|e| e.to_string())?;
        introspect(&mut conn).await.map_err(|e| e.to_string())
    }

    pub async fn drop_now(self) {
        let mut admin = PgConnection::connect(&base_url())
            .await
            .expect("connect to the test server");
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await
        .expect("drop the throwaway database");
    }
}

/// One round trip: CURRENT and DESIRED built from SQL; `keep` queries
/// (each returning one text value) must answer the same on CURRENT before
/// and after the migration.
pub struct Scenario<'a> {
    pub current: &'a str,
    pub desired: &'a str,
    pub keep: &'a [&'a str],
}

/// Builds both databases, diffs them, applies the migration to CURRENT in
/// one transaction, and checks that a second diff is empty and the kept
/// rows survived. Returns the migration for the caller's own checks.
pub async fn round_trip(tag: &str, scenario: Scenario<'_>) -> Migration {
    let current = TempDb::create(tag).await;
    let desired = TempDb::create(tag).await;
    let result = attempt(&current, &desired, &scenario).await;
    current.drop_now().await;
    desired.drop_now().await;
    match result {
        Ok(m) => m,
        Err(e) => panic!("scenario {tag}: {e}"),
    }
}

async fn attempt(
    current: &TempDb,
    desired: &TempDb,
    s: &Scenario<'_>,
) -> Result<Migration, String> {
    current
        .run(s.current)
        .await
        .map_err(|e| format!("building CURRENT: {e}"))?;
    desired
        .run(s.desired)
        .await
        .map_err(|e| format!("building DESIRED: {e}"))?;
    let mut before = vec![];
    for q in s.keep {
        before.push(current.text(q).await?);
    }
    let desired_schema = desired.schema().await?;
    let migration = diff(&current.schema().await?, &desired_schema);
    let sql = migration.to_string();
    current
        .run(&format!("BEGIN;\n{sql}\nCOMMIT;"))
        .await
        .map_err(|e| format!("applying the migration failed: {e}\n--- migration ---\n{sql}"))?;
    let again = diff(&current.schema().await?, &desired_schema);
    if !again.is_empty() {
        return Err(format!(
            "differences remain after the migration:\n{again}\n--- migration ---\n{sql}"
        ));
    }
    for (q, old) in s.keep.iter().zip(before) {
        let new = current.text(q).await?;
        if new != old {
            return Err(format!(
                "rows changed: {q}\nbefore: {old}\nafter:  {new}\n--- migration ---\n{sql}"
            ));
        }
    }
    Ok(migration)
}

/// The statement containing `needle` carries a hazard of `kind`.
pub fn assert_hazard(m: &Migration, needle: &str, kind: &str) {
    let st = m
        .statements
        .iter()
        .find(|s| s.sql.contains(needle))
        .unwrap_or_else(|| panic!("no statement contains {needle:?}:\n{m}"));
    assert!(
        st.hazards.iter().any(|h| h.kind == kind),
        "statement {:?} lacks hazard {kind}:\n{m}",
        st.sql
    );
}

/// No statement contains `needle`.
pub fn assert_absent(m: &Migration, needle: &str) {
    assert!(
        !m.statements.iter().any(|s| s.sql.contains(needle)),
        "unexpected {needle:?} in:\n{m}"
    );
}

/// A statement contains `needle`, without any hazard.
pub fn assert_safe(m: &Migration, needle: &str) {
    let st = m
        .statements
        .iter()
        .find(|s| s.sql.contains(needle))
        .unwrap_or_else(|| panic!("no statement contains {needle:?}:\n{m}"));
    assert!(
        st.hazards.is_empty(),
        "{:?} should carry no hazard:\n{m}",
        st.sql
    );
}

/// Position of the first statement containing `needle`.
pub fn position(m: &Migration, needle: &str) -> usize {
    m.statements
        .iter()
        .position(|s| s.sql.contains(needle))
        .unwrap_or_else(|| panic!("no statement contains {needle:?}:\n{m}"))
}

/// A role of the test server, named for one test (roles belong to the
/// whole server). Drop it with [`TestRole::drop_now`] once the databases
/// that name it are gone.
pub struct TestRole {
    pub name: String,
}

impl TestRole {
    pub async fn create(tag: &str) -> TestRole {
        let name = format!(
            "opsroom_role_{}_{}_{}",
            tag,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        admin(&format!(
            "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} NOLOGIN"
        ))
        .await;
        TestRole { name }
    }

    pub async fn drop_now(self) {
        admin(&format!("DROP ROLE IF EXISTS {}", self.name)).await;
    }
}

async fn admin(sql: &str) {
    let mut conn = PgConnection::connect(&base_url())
        .await
        .expect("connect to the test server");
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}
