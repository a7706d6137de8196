//! `opsroom secrets` as a terminal user meets it, on both stores: values
//! from stdin, listing without values, a new key, and a rotation that
//! re-seals everything or, with a wrong old key, nothing.

mod common;

use common::cli::text;
use opsroom_auth::MasterKey;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::testing::TestStore;
use opsroom_store::{SecretName, DEFAULT_WORKSPACE};
use std::process::Output;

const VALUE: &str = "cl1-secret value/42";

async fn opsroom(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    common::cli::opsroom(args)
        .envs(env)
        .stdin(stdin)
        .output()
        .await
}

async fn sealed(t: &TestStore) -> String {
    t.store
        .secret_get(DEFAULT_WORKSPACE, &SecretName::parse("db.pass").unwrap())
        .await
        .unwrap()
        .sealed
}

async fn set_list_rotate_delete(t: TestStore) {
    let new_key = opsroom(&["secrets", "new-key"], &[], "").await;
    assert_eq!(new_key.status.code(), Some(0));
    let old_text = text(&new_key.stdout).trim().to_string();
    let old = MasterKey::parse(&old_text).expect("new-key prints a key");
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            secret_key: Some(old.clone()),
            ..Default::default()
        },
    )
    .await;
    let server = [("OPSROOM_SERVER", app.url.as_str())];

    let set = opsroom(
        &["secrets", "set", "db.pass"],
        &server,
        &format!("{VALUE}\n"),
    )
    .await;
    assert_eq!(set.status.code(), Some(0), "{}", text(&set.stderr));
    assert!(
        text(&set.stdout).contains("secret db.pass created"),
        "{}",
        text(&set.stdout)
    );
    let bad = opsroom(&["secrets", "set", "a/b"], &server, VALUE).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("1 to 100"),
        "{}",
        text(&bad.stderr)
    );
    let list = opsroom(&["secrets", "list"], &server, "").await;
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    assert!(
        text(&list.stdout).starts_with("db.pass\t"),
        "{}",
        text(&list.stdout)
    );
    assert!(!text(&list.stdout).contains(VALUE));
    assert_eq!(
        old.open("default/db.pass", &sealed(&t).await).unwrap(),
        VALUE.as_bytes()
    );
    app.stop().await;

    let (new, new_text) = MasterKey::generate();
    let db = ["--database-url", t.url.as_str()];
    // A wrong old key: nothing changes.
    let (_, wrong_text) = MasterKey::generate();
    let before = sealed(&t).await;
    let wrong = opsroom(
        &[&["secrets", "rotate-key"][..], &db].concat(),
        &[("OPSROOM_SECRET_KEY", wrong_text.as_str())],
        &new_text,
    )
    .await;
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stdout));
    assert!(
        text(&wrong.stderr).contains("db.pass")
            && text(&wrong.stderr).contains("nothing was changed"),
        "{}",
        text(&wrong.stderr)
    );
    assert_eq!(sealed(&t).await, before);

    // The right old key from a file, the new one from a file.
    let dir = std::env::temp_dir().join(format!("opsroom-rotate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (old_file, new_file) = (dir.join("old.key"), dir.join("new.key"));
    std::fs::write(&old_file, format!("{old_text}\n")).unwrap();
    std::fs::write(&new_file, &new_text).unwrap();
    let rotated = opsroom(
        &[
            &[
                "secrets",
                "rotate-key",
                "--new-key-file",
                new_file.to_str().unwrap(),
            ][..],
            &db,
        ]
        .concat(),
        &[("OPSROOM_SECRET_KEY_FILE", old_file.to_str().unwrap())],
        "",
    )
    .await;
    assert_eq!(rotated.status.code(), Some(0), "{}", text(&rotated.stderr));
    assert!(
        text(&rotated.stdout).contains("re-sealed 1 secret"),
        "{}",
        text(&rotated.stdout)
    );
    let after = sealed(&t).await;
    assert_eq!(
        new.open("default/db.pass", &after).unwrap(),
        VALUE.as_bytes()
    );
    assert!(
        old.open("default/db.pass", &after).is_err(),
        "the old key no longer opens it"
    );

    // The server, restarted with the new key, lists and deletes it.
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            secret_key: Some(new),
            ..Default::default()
        },
    )
    .await;
    let server = [("OPSROOM_SERVER", app.url.as_str())];
    let delete = opsroom(&["secrets", "delete", "db.pass"], &server, "").await;
    assert_eq!(delete.status.code(), Some(0), "{}", text(&delete.stderr));
    let again = opsroom(&["secrets", "delete", "db.pass"], &server, "").await;
    assert_eq!(again.status.code(), Some(2), "404 is bad input");
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_set_list_rotate_delete() {
    set_list_rotate_delete(TestStore::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_set_list_rotate_delete() {
    set_list_rotate_delete(TestStore::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_master_key_stops_serve_saying_how_to_make_one() {
    let out = opsroom(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            "sqlite://unused.db",
        ],
        &[("OPSROOM_SECRET_KEY", "too-short")],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad master key") && err.contains("opsroom secrets new-key"),
        "{err}"
    );
}
