//! The PostgreSQL adapter (and Supabase migrations, which share its code)
//! against the local PostgreSQL. Each test works in its own schema or
//! database and drops it at the end, even when the test fails.

use std::future::Future;
use std::time::Duration;

use opsroom_adapters::postgres::{Migration, PgConfig, PgError, Postgres};
use opsroom_adapters::{supabase, Secret};
use serde_json::json;

fn database_url() -> String {
    std::env::var("OPSROOM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn unique(prefix: &str) -> String {
    let dir = opsroom_adapters::testing::temp_dir(prefix);
    std::fs::remove_dir(&dir).unwrap();
    let name = dir.file_name().unwrap().to_string_lossy().replace('-', "_");
    name.to_lowercase()
}

async fn connect(url: &str) -> Postgres {
    Postgres::connect(&PgConfig::new(Secret::new(url)))
        .await
        .unwrap()
}

/// Runs `body` with a fresh schema, then drops the schema whatever happened.
async fn with_schema<F, Fut>(body: F)
where
    F: FnOnce(Postgres, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = connect(&database_url()).await;
    let schema = unique("pg");
    db.query_json(&format!("create schema {schema}"))
        .await
        .unwrap();
    let outcome = tokio::spawn(body(db.clone(), schema.clone())).await;
    db.query_json(&format!("drop schema {schema} cascade"))
        .await
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

#[tokio::test]
async fn health_reports_latency_and_version() {
    let db = connect(&database_url()).await;
    let health = db.health().await.unwrap();
    assert!(health.latency > Duration::ZERO);
    assert!(health.latency < Duration::from_secs(5));
    assert!(
        health
            .server_version
            .chars()
            .next()
            .unwrap()
            .is_ascii_digit(),
        "{}",
        health.server_version
    );
}

#[tokio::test]
async fn query_returns_rows_as_typed_json() {
    with_schema(|db, s| async move {
        db.query_json(&format!(
            "create table {s}.svc (id int primary key, name text, up boolean, meta jsonb, cost numeric, seen timestamptz, note text);
             insert into {s}.svc values
               (1, 'web', true, '{{\"tier\":\"gold\"}}', 1.25, '2024-05-01 10:00:00+00', null),
               (2, 'api', false, '[1,2]', 3, '2024-05-02 11:30:00+00', 'x')"
        ))
        .await
        .unwrap();
        let result = db.query_json(&format!("select * from {s}.svc order by id")).await.unwrap();
        assert_eq!(result.columns, ["id", "name", "up", "meta", "cost", "seen", "note"]);
        assert_eq!(
            result.rows[0],
            json!({"id": 1, "name": "web", "up": true, "meta": {"tier": "gold"}, "cost": 1.25,
                   "seen": "2024-05-01 10:00:00+00", "note": null})
        );
        assert_eq!(result.rows[1]["meta"], json!([1, 2]));
        assert_eq!(result.rows[1]["up"], json!(false));
        let empty = db.query_json(&format!("select * from {s}.svc where id < 0")).await.unwrap();
        assert!(empty.rows.is_empty());
    })
    .await;
}

#[tokio::test]
async fn query_errors_say_what_failed() {
    with_schema(|db, s| async move {
        let err = db
            .query_json(&format!("select * from {s}.nope"))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, PgError::Query { .. }), "{err:?}");
        assert!(
            text.contains("does not exist") && text.contains("42P01"),
            "{text}"
        );
        assert!(matches!(
            db.query_json("  ").await,
            Err(PgError::InvalidInput(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn slow_query_times_out() {
    let mut config = PgConfig::new(Secret::new(database_url()));
    config.query_timeout = Duration::from_millis(200);
    let db = Postgres::connect(&config).await.unwrap();
    let err = db.query_json("select pg_sleep(3)").await.unwrap_err();
    assert!(matches!(err, PgError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn connect_failure_hides_the_password() {
    let mut config = PgConfig::new(Secret::new(
        "postgres://postgres:hunter2secret@127.0.0.1:1/test",
    ));
    config.connect_timeout = Duration::from_secs(2);
    let err = Postgres::connect(&config).await.unwrap_err();
    assert!(matches!(err, PgError::Connect { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
    assert!(!format!("{config:?}").contains("hunter2secret"));
}

#[tokio::test]
async fn migrations_apply_once_in_order_and_record_versions() {
    with_schema(|db, s| async move {
        let table = format!("{s}.schema_migrations");
        let migrations = vec![
            Migration::new("001", "create_users", format!("create table {s}.users (id serial primary key, email text not null)")),
            Migration::new("002", "seed", format!("insert into {s}.users (email) values ('a@x.io'); insert into {s}.users (email) values ('b@x.io')")),
        ];
        let report = db.apply_migrations(&table, &migrations).await.unwrap();
        assert_eq!(report.applied, ["001", "002"]);
        assert!(report.already_applied.is_empty());
        let again = db.apply_migrations(&table, &migrations).await.unwrap();
        assert!(again.applied.is_empty());
        assert_eq!(again.already_applied, ["001", "002"]);
        let count = db.query_json(&format!("select count(*) as n from {s}.users")).await.unwrap();
        assert_eq!(count.rows[0]["n"], 2, "seed ran exactly once");
        let applied = db.applied_migrations(&table).await.unwrap();
        assert_eq!(applied.iter().map(|m| m.version.as_str()).collect::<Vec<_>>(), ["001", "002"]);
        assert_eq!(applied[0].name, "create_users");
        assert_eq!(applied[0].checksum.len(), 32);
    })
    .await;
}

#[tokio::test]
async fn a_failing_migration_rolls_back_the_whole_batch() {
    with_schema(|db, s| async move {
        let table = format!("{s}.schema_migrations");
        db.apply_migrations(&table, &[Migration::new("001", "base", format!("create table {s}.a (x int)"))])
            .await
            .unwrap();
        let batch = vec![
            Migration::new("001", "base", format!("create table {s}.a (x int)")),
            Migration::new("002", "good", format!("create table {s}.b (x int)")),
            Migration::new("003", "bad", format!("create table {s}.c (x int); select no_such_function()")),
            Migration::new("004", "never", format!("create table {s}.d (x int)")),
        ];
        let err = db.apply_migrations(&table, &batch).await.unwrap_err();
        match &err {
            PgError::Migration { version, message } => {
                assert_eq!(version, "003");
                assert!(message.contains("no_such_function"), "{message}");
            }
            other => panic!("expected a migration error, got {other:?}"),
        }
        let tables = db
            .query_json(&format!("select table_name from information_schema.tables where table_schema = '{s}' order by 1"))
            .await
            .unwrap();
        let names: Vec<&str> = tables.rows.iter().map(|r| r["table_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "schema_migrations"], "002 and 003 were rolled back with the batch");
        assert_eq!(db.applied_migrations(&table).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn edited_applied_migration_is_drift() {
    with_schema(|db, s| async move {
        let table = format!("{s}.m");
        db.apply_migrations(
            &table,
            &[Migration::new(
                "1",
                "t",
                format!("create table {s}.t (x int)"),
            )],
        )
        .await
        .unwrap();
        let err = db
            .apply_migrations(
                &table,
                &[Migration::new(
                    "1",
                    "t",
                    format!("create table {s}.t (x bigint)"),
                )],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, PgError::Drift { .. }), "{err:?}");
        assert!(err.to_string().contains("add a new migration"), "{err}");
        let bad = db
            .apply_migrations("x; drop table y", &[])
            .await
            .unwrap_err();
        assert!(matches!(bad, PgError::InvalidInput(_)));
    })
    .await;
}

#[tokio::test]
async fn migrations_load_from_a_folder_in_name_order() {
    let dir = opsroom_adapters::testing::temp_dir("migrations");
    std::fs::write(dir.join("0002_add_index.sql"), "create index i on t (x);").unwrap();
    std::fs::write(dir.join("0001_create_t.sql"), "create table t (x int);").unwrap();
    std::fs::write(dir.join("README.md"), "not a migration").unwrap();
    let loaded = opsroom_adapters::postgres::load_migrations_dir(&dir).unwrap();
    assert_eq!(
        loaded,
        [
            Migration::new("0001", "create_t", "create table t (x int);"),
            Migration::new("0002", "add_index", "create index i on t (x);")
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Supabase migrations go through the same code, recorded in the Supabase
/// table; run in a throwaway database so `public` of the test database is untouched.
#[tokio::test]
async fn supabase_migrations_share_the_postgres_implementation() {
    let admin = connect(&database_url()).await;
    let name = unique("supa");
    admin
        .query_json(&format!("create database {name}"))
        .await
        .unwrap();
    let mut url = reqwest::Url::parse(&database_url()).unwrap();
    url.set_path(&format!("/{name}"));
    let outcome = tokio::spawn(async move {
        let db = connect(url.as_str()).await;
        let migrations = [Migration::new(
            "20240101000000",
            "profiles",
            "create table public.profiles (id uuid primary key)",
        )];
        let report = supabase::apply_migrations(&db, &migrations).await.unwrap();
        assert_eq!(report.applied, ["20240101000000"]);
        let recorded = db
            .applied_migrations(supabase::MIGRATIONS_TABLE)
            .await
            .unwrap();
        assert_eq!(recorded.len(), 1);
        db.close().await;
    })
    .await;
    admin
        .query_json(&format!("drop database {name} with (force)"))
        .await
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}
