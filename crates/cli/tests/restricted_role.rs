//! `opsroom migrate --create-role NAME --password-stdin` on PostgreSQL: the
//! role it makes is neither a superuser nor BYPASSRLS, logs in with the
//! password read from stdin, and `opsroom migrate` run with its URL (as
//! `serve` does at start) finds everything applied. Refusals exit 2.

mod common;

use common::cli::text;
use opsroom_store::testing::TestStore;
use sqlx::Connection;
use std::process::Output;

async fn opsroom(args: &[&str], stdin: &str) -> Output {
    common::cli::opsroom(args).stdin(stdin).output().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_a_restricted_role_to_serve_as() {
    let t = TestStore::postgres().await;
    let name = format!(
        "opsroom_t_cli_role_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let password = "pa'ss\\word 1";
    let out = opsroom(
        &[
            "migrate",
            "--database-url",
            &t.url,
            "--create-role",
            &name,
            "--password-stdin",
        ],
        &format!("{password}\n"),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("role {name} created")),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stdout).contains(password) && !text(&out.stderr).contains(password),
        "the password is never printed"
    );
    let mut admin = sqlx::PgConnection::connect(&t.url).await.unwrap();
    let flags: (bool, bool, bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls, rolcanlogin, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1",
    )
    .bind(&name)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        flags,
        (false, false, true, true),
        "no SUPERUSER, no BYPASSRLS, LOGIN, a password"
    );

    // Its URL: the same database and schema, as the new role.
    let base = opsroom_store::testing::test_database_url();
    let user_at = base
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(user, _)| format!("{user}@"))
        .expect("the test URL names a user");
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let role_url = t.url.replacen(&user_at, &format!("{name}:{encoded}@"), 1);
    let out = opsroom(&["migrate", "--database-url", &role_url], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("database is up to date"));

    // Again: the role exists and is granted again.
    let out = opsroom(
        &["migrate", "--database-url", &t.url, "--create-role", &name],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("role {name} exists")));

    // Refused: a superuser's name, and SQLite.
    let out = opsroom(
        &[
            "migrate",
            "--database-url",
            &t.url,
            "--create-role",
            "postgres",
        ],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("BYPASSRLS"),
        "{}",
        text(&out.stderr)
    );
    let dir = std::env::temp_dir().join(format!("{name}.db"));
    let sqlite = format!("sqlite://{}", dir.display());
    let out = opsroom(
        &["migrate", "--database-url", &sqlite, "--create-role", "x"],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--create-role is for PostgreSQL"));
    assert!(!dir.exists(), "nothing was created for a refused command");

    for sql in [format!("DROP OWNED BY {name}"), format!("DROP ROLE {name}")] {
        sqlx::query(&sql).execute(&mut admin).await.unwrap();
    }
    drop(admin);
    t.cleanup().await;
}
