//! `opsroom users|members|tokens|workspaces|whoami` as a terminal user
//! meets them (a password from stdin, a token printed once), and `serve`
//! refusing a non-loopback address without any auth configured.

mod common;

use common::cli::text;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::testing::TestStore;
use std::process::Output;

const ADMIN: &str = "cli-identity-admin";

async fn opsroom(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    common::cli::opsroom(args)
        .envs(env)
        .stdin(stdin)
        .output()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_members_and_tokens_from_the_command_line() {
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            admin_token: Some(ADMIN.into()),
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let admin = [
        ("OPSROOM_SERVER", app.url.as_str()),
        ("OPSROOM_TOKEN", ADMIN),
    ];
    let add = opsroom(
        &["users", "add", "carol", "--password-stdin"],
        &admin,
        "carol's password\n",
    )
    .await;
    assert_eq!(add.status.code(), Some(0), "{}", text(&add.stderr));
    assert!(
        text(&add.stdout).contains("user carol created (can sign in"),
        "{}",
        text(&add.stdout)
    );
    let creds = t.store.user_credentials("carol").await.unwrap();
    assert!(creds.password_hash.unwrap().starts_with("$argon2id$"));
    let dup = opsroom(&["users", "add", "carol"], &admin, "").await;
    assert_eq!(dup.status.code(), Some(2), "a duplicate is refused");

    let ws = opsroom(&["workspaces", "create", "team-b"], &admin, "").await;
    assert_eq!(ws.status.code(), Some(0), "{}", text(&ws.stderr));
    let set = opsroom(
        &["members", "set", "default", "carol", "operator"],
        &admin,
        "",
    )
    .await;
    assert_eq!(set.status.code(), Some(0), "{}", text(&set.stderr));
    assert!(text(&set.stdout).contains("carol is now operator in default"));
    let bad = opsroom(&["members", "set", "default", "carol", "owner"], &admin, "").await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("viewer, operator, approver or admin"),
        "{}",
        text(&bad.stderr)
    );

    let created = opsroom(
        &["tokens", "create", "--user", "carol", "--name", "laptop"],
        &admin,
        "",
    )
    .await;
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let token = text(&created.stdout).trim().to_string();
    assert!(token.starts_with("opsroom_"), "{token}");
    let id: String = text(&created.stderr)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let as_carol = [
        ("OPSROOM_SERVER", app.url.as_str()),
        ("OPSROOM_TOKEN", token.as_str()),
    ];
    let who = opsroom(&["whoami"], &as_carol, "").await;
    assert_eq!(
        text(&who.stdout).trim(),
        "carol in default (operator)",
        "{}",
        text(&who.stderr)
    );
    let revoke = opsroom(&["tokens", "revoke", &id], &as_carol, "").await;
    assert_eq!(revoke.status.code(), Some(0), "{}", text(&revoke.stderr));
    let who = opsroom(&["whoami"], &as_carol, "").await;
    assert_eq!(who.status.code(), Some(2), "revoked: {}", text(&who.stdout));
    app.stop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_an_open_address_without_auth() {
    let dir = std::env::temp_dir().join(format!("opsroom-open-{}", std::process::id()));
    let db = format!("sqlite://{}/opsroom.db", dir.display());
    let out = opsroom(
        &["serve", "--bind", "0.0.0.0:0", "--database-url", &db],
        &[],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("refusing to serve on 0.0.0.0")
            && err.contains("OPSROOM_ADMIN_TOKEN")
            && err.contains("127.0.0.1"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
