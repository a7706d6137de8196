//! `opsroom schema diff` and `opsroom schema erd` on the built binary,
//! against throwaway databases on the test PostgreSQL: output, and the exit
//! codes every command uses (0, 2 bad input, 3 unreachable).

use sqlx::{Connection, PgConnection};
use std::process::Command;

fn base_url() -> String {
    std::env::var("OPSROOM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn url_for(database: &str) -> String {
    let base = base_url();
    let (head, _) = base.rsplit_once('/').expect("a database URL with a path");
    format!("{head}/{database}")
}

async fn create_db(tag: &str, sql: &str) -> String {
    let name = format!("opsroom_schema_cli_{tag}_{}", std::process::id());
    let mut admin = PgConnection::connect(&base_url()).await.unwrap();
    // One statement per call: DROP/CREATE DATABASE refuse an implicit transaction.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name} TEMPLATE template0"),
    ] {
        sqlx::raw_sql(&sql).execute(&mut admin).await.unwrap();
    }
    let mut conn = PgConnection::connect(&url_for(&name)).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    name
}

async fn drop_db(name: &str) {
    let mut admin = PgConnection::connect(&base_url()).await.unwrap();
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

fn opsroom(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opsroom"))
        .args(args)
        .output()
        .expect("run opsroom");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn diff_prints_the_migration_and_nothing_for_equal_schemas() {
    let cur = create_db("cur", "CREATE TABLE t (id int PRIMARY KEY, gone text);").await;
    let des = create_db("des", "CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE u (id int PRIMARY KEY, t_id int REFERENCES t (id));").await;
    let (code, out, err) = opsroom(&["schema", "diff", &url_for(&cur), &url_for(&des)]);
    let (same_code, same_out, _) = opsroom(&["schema", "diff", &url_for(&des), &url_for(&des)]);
    let (erd_code, erd, _) = opsroom(&["schema", "erd", &url_for(&des)]);
    let (svg_code, svg, _) = opsroom(&["schema", "erd", &url_for(&des), "--format", "svg"]);
    let (bad_format, _, _) = opsroom(&["schema", "erd", &url_for(&des), "--format", "png"]);
    drop_db(&cur).await;
    drop_db(&des).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("-- hazard: data_loss: drops column gone of public.t"),
        "{out}"
    );
    assert!(out.contains("CREATE TABLE public.u"), "{out}");
    assert_eq!((same_code, same_out.as_str()), (0, ""));
    assert_eq!(erd_code, 0);
    assert!(erd.starts_with("erDiagram\n"), "{erd}");
    assert!(erd.contains("t |o--o{ u : \"u_t_id_fkey\""), "{erd}");
    assert_eq!(svg_code, 0);
    assert!(
        svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert_eq!(bad_format, 2);
}

#[test]
fn bad_urls_exit_2_and_unreachable_databases_exit_3_without_echoing_passwords() {
    let (code, _, err) = opsroom(&["schema", "diff", "mysql://u:pw@localhost/x", &base_url()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("CURRENT: invalid database URL"), "{err}");

    let (code, _, err) = opsroom(&["schema", "erd", "postgres://u:sekrit@127.0.0.1:1/app"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("cannot reach the database"), "{err}");
    assert!(!err.contains("sekrit"), "{err}");

    let (code, _, err) = opsroom(&[
        "schema",
        "diff",
        &base_url(),
        &url_for("opsroom_no_such_database"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("DESIRED: the database refused the connection"),
        "{err}"
    );

    let (code, _, _) = opsroom(&["schema", "diff", &base_url()]);
    assert_eq!(code, 2);
}
