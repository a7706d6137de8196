//! Isolated stores for tests: a fresh SQLite file, or a fresh schema in the
//! PostgreSQL named by `OPSROOM_TEST_DATABASE_URL` (default: the local
//! `postgres://postgres@127.0.0.1:5432/test`). A PostgreSQL that cannot be
//! reached fails the test: the PostgreSQL half is never skipped.

use crate::postgres::{PgStore, RoleCreateParams};
use crate::sqlite::SqliteStore;
use crate::{DynStore, Store};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL server tests use.
pub fn test_database_url() -> String {
    std::env::var("OPSROOM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A store of its own for one test; call [`TestStore::cleanup`] at the end.
pub struct TestStore {
    pub store: DynStore,
    /// The URL a separate process can use to reach the same data.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema(String),
}

fn unique_name(prefix: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!(
        "{prefix}_{secs}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestStore {
    pub async fn sqlite() -> TestStore {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("opsroom_t")));
        let store = SqliteStore::open(path.to_str().unwrap())
            .await
            .expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        TestStore {
            store: Arc::new(store),
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::File(path),
        }
    }

    pub async fn postgres() -> TestStore {
        let base = test_database_url();
        let mut admin = PgConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is needed by this test: {e}",
                crate::redact_url(&base)
            )
        });
        sweep_old_schemas(&mut admin).await;
        let schema = unique_name("opsroom_t");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .expect("create schema");
        let options = PgConnectOptions::from_str(&base)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let store = PgStore::connect_with(options, 8)
            .await
            .expect("connect postgres");
        store.migrate().await.expect("migrate postgres");
        let sep = if base.contains('?') { '&' } else { '?' };
        TestStore {
            store: Arc::new(store),
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            cleanup: Cleanup::Schema(schema),
        }
    }

    /// Runs SQL (several statements allowed) on the test's database from a
    /// connection of its own, e.g. to add a trigger that injects a fault.
    pub async fn execute(&self, sql: &str) {
        match &self.cleanup {
            Cleanup::File(_) => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect sqlite");
                sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
            }
            Cleanup::Schema(_) => {
                let mut conn = PgConnection::connect(&self.url)
                    .await
                    .expect("connect postgres");
                sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
            }
        }
    }

    /// Like [`TestStore::execute`], answering the database's error as text
    /// instead of panicking (to check that a statement is refused).
    pub async fn try_execute(&self, sql: &str) -> Result<(), String> {
        let result = match &self.cleanup {
            Cleanup::File(_) => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect sqlite");
                sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ())
            }
            Cleanup::Schema(_) => {
                let mut conn = PgConnection::connect(&self.url)
                    .await
                    .expect("connect postgres");
                sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ())
            }
        };
        result.map_err(|e| e.to_string())
    }

    /// Which backend this is: "postgres" or "sqlite".
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// A role made by [`PgStore::role_create`] on this test's schema: no
    /// SUPERUSER, no BYPASSRLS. Roles are shared by the whole PostgreSQL
    /// server, so its name is unique; call [`TestRole::drop_role`] at the end.
    pub async fn restricted_role(&self) -> TestRole {
        let owner = PgStore::connect(&self.url).await.expect("connect as owner");
        let name = unique_name("opsroom_t_role");
        let password = format!("pw-{name}");
        owner
            .role_create(&RoleCreateParams {
                name: name.clone(),
                password: Some(password.clone()),
            })
            .await
            .expect("create the restricted role");
        let Cleanup::Schema(schema) = &self.cleanup else {
            panic!("a restricted role is for PostgreSQL");
        };
        let options = PgConnectOptions::from_str(&test_database_url())
            .unwrap()
            .username(&name)
            .password(&password)
            .options([("search_path", schema.as_str())]);
        TestRole { name, options }
    }

    /// Removes the test's file or schema.
    pub async fn cleanup(self) {
        drop(self.store);
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Schema(schema) => {
                if let Ok(mut admin) = PgConnection::connect(&test_database_url()).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut admin)
                        .await;
                }
            }
        }
    }
}

/// A restricted role of a test (see [`TestStore::restricted_role`]).
pub struct TestRole {
    pub name: String,
    /// How to connect as it, to the test's schema.
    pub options: PgConnectOptions,
}

impl TestRole {
    /// A store connected as this role (not migrated: the owner did that).
    pub async fn store(&self) -> PgStore {
        PgStore::connect_with(self.options.clone(), 8)
            .await
            .expect("connect as the restricted role")
    }

    /// A single connection as this role.
    pub async fn connection(&self) -> PgConnection {
        PgConnection::connect_with(&self.options)
            .await
            .expect("connect as the restricted role")
    }

    /// Drops the role and what it was granted (before the schema goes).
    pub async fn drop_role(self) {
        let mut admin = PgConnection::connect(&test_database_url())
            .await
            .expect("connect to drop a role");
        for sql in [
            format!("DROP OWNED BY {}", self.name),
            format!("DROP ROLE {}", self.name),
        ] {
            sqlx::query(&sql).execute(&mut admin).await.expect(&sql);
        }
    }
}

/// Drops schemas left by tests that panicked more than an hour ago.
async fn sweep_old_schemas(admin: &mut PgConnection) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'opsroom_t_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    for name in names {
        let secs: Option<u64> = name.split('_').nth(2).and_then(|s| s.parse().ok());
        if secs.is_some_and(|s| s + 3600 < now) {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// Turns each named `async fn(DynStore)` of the calling module into two
/// tests: `sqlite::NAME` on a fresh SQLite file and `postgres::NAME` on a
/// fresh PostgreSQL schema, each cleaned up afterwards.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $crate::on_sqlite!($($name),*);
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let t = $crate::testing::TestStore::postgres().await;
                super::$name(t.store.clone()).await;
                t.cleanup().await;
            }
        )* }
    };
}

/// Like [`on_both_stores!`], on SQLite only: `sqlite::NAME`.
#[macro_export]
macro_rules! on_sqlite {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let t = $crate::testing::TestStore::sqlite().await;
                super::$name(t.store.clone()).await;
                t.cleanup().await;
            }
        )* }
    };
}
