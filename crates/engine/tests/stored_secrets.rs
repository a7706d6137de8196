//! `secret:NAME` references: a secret set through the API is opened with
//! the master key for a run of its workspace and hidden like every other
//! credential; a missing one or a missing key fails the run naming the
//! secret. The leak test prints a stored secret plainly, base64-encoded,
//! URL-encoded and split across two lines, and finds none of those forms in
//! events, artifacts, the error or the server's log (captured at debug level
//! for every target), nor the plaintext anywhere in the database (the SQLite
//! file, every PostgreSQL column).

// Not every helper of the shared support module is used here.
#[allow(unused_imports)]
#[macro_use]
mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use opsroom_auth::MasterKey;
use opsroom_core::RunStatus;
use opsroom_server::testing::TestAppOptions;
use opsroom_store::testing::TestStore;
use serde_json::json;
use sqlx::Connection;
use support::{temp_dir, Api, Finished, NewRun};

/// Printed by the step in several forms; only set through the API.
const VALUE: &str = "st0red-S3cret/value+42";

/// Everything every thread of this test binary logs, at debug level: the
/// servers run in-process, so this is their log.
static SERVER_LOG: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        SERVER_LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_server_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(|| LogSink)
            .init();
    });
}

fn runbook(dir: &std::path::Path) -> String {
    let script = dir.join("print.sh");
    std::fs::write(
        &script,
        concat!(
            "printf 'plain: %s\\n' \"$TOKEN\"\n",
            "printf 'b64: %s\\n' \"$(printf '%s' \"$TOKEN\" | base64)\"\n",
            "printf 'url: %s\\n' \"$(printf '%s' \"$TOKEN\" | od -An -tx1 | tr -d ' \\n' | sed 's/../%&/g')\"\n",
            "half=$(( ${#TOKEN} / 2 ))\n",
            "printf 'split: %s\\n' \"$(printf '%s' \"$TOKEN\" | cut -c1-$half)\"\n",
            "printf '%s\\n' \"$(printf '%s' \"$TOKEN\" | cut -c$((half + 1))-)\"\n",
            "echo \"fatal: $TOKEN refused\" >&2\nexit 3\n",
        ),
    )
    .unwrap();
    format!(
        r#"name = "print_stored"
description = "Prints a stored secret."
risk = "read"
triggers = ["print stored on {{env}}"]

[[steps.action]]
title = "print the token"
shell = {{ argv = ["sh", "{}"], env = {{ TOKEN = "secret:token" }} }}
"#,
        script.display()
    )
}

fn toml(dir: &std::path::Path, name: &str) -> String {
    format!(
        "runbooks_dir = \"{}\"\n\n[secrets]\ntoken = \"secret:{name}\"\n\n[environments.dev]\n",
        dir.display()
    )
}

async fn start(t: &TestStore, toml: &str, key: Option<MasterKey>) -> Api {
    Api::start_with(
        &t.store,
        toml,
        TestAppOptions {
            workers: 1,
            secret_key: key,
            ..TestAppOptions::default()
        },
    )
    .await
}

async fn run(api: &Api) -> Finished {
    let id = api
        .submit(NewRun {
            runbook: "print_stored",
            env: Some("dev"),
            target: None,
            params: json!({}),
        })
        .await;
    Finished::load(api, id).await
}

/// Every column of every table of the test database, as text.
async fn database_text(t: &TestStore) -> Vec<u8> {
    if let Some(path) = t.url.strip_prefix("sqlite://") {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            bytes.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
        }
        return bytes;
    }
    let mut conn = sqlx::PgConnection::connect(&t.url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(tables.contains(&"secrets".to_string()), "{tables:?}");
    let mut out = Vec::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in rows {
            out.extend(row.into_bytes());
            out.push(b'\n');
        }
    }
    out
}

async fn a_stored_secret_is_used_and_never_shown(t: &TestStore) {
    capture_server_log();
    let dir = temp_dir("stored");
    std::fs::write(dir.join("print_stored.toml"), runbook(&dir)).unwrap();
    let (key, _) = MasterKey::generate();
    let api = start(t, &toml(&dir, "deploy.token"), Some(key)).await;
    // Secrets are an admin's to set.
    let (_, created) = api.admin().secret_set("deploy.token", VALUE).await.unwrap();
    assert!(created);
    let done = run(&api).await;
    api.stop().await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    let log = done.log();
    assert!(
        log.contains("plain: ***"),
        "the program got the value: {log}"
    );
    assert!(
        log.contains("b64: ***") && log.contains("url: ***"),
        "{log}"
    );
    assert!(log.contains("split: ***\n***"), "{log}");
    assert!(
        done.error().contains("fatal: *** refused"),
        "{}",
        done.error()
    );

    let half = VALUE.len() / 2;
    let url: String = VALUE.bytes().map(|b| format!("%{b:02x}")).collect();
    for form in [
        VALUE,
        &STANDARD.encode(VALUE),
        &url,
        &VALUE[..half],
        &VALUE[half..],
    ] {
        done.assert_never_shows(form);
    }
    let log = String::from_utf8_lossy(&SERVER_LOG.lock().unwrap()).into_owned();
    assert!(
        log.contains("opsroom_engine::pipeline") && log.contains("opsroom_adapters::shell"),
        "the server's log is captured (the worker and the step's shell): {log}"
    );
    for form in [
        VALUE,
        &STANDARD.encode(VALUE),
        &url,
        &VALUE[..half],
        &VALUE[half..],
    ] {
        assert!(!log.contains(form), "the server log shows {form}");
    }
    let stored = database_text(t).await;
    for form in [
        VALUE.as_bytes(),
        STANDARD.encode(VALUE).as_bytes(),
        url.as_bytes(),
    ] {
        assert!(
            !stored.windows(form.len()).any(|w| w == form),
            "the database holds {}",
            String::from_utf8_lossy(form)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_missing_secret_or_key_fails_the_run_naming_it(t: &TestStore) {
    let dir = temp_dir("stored_missing");
    std::fs::write(dir.join("print_stored.toml"), runbook(&dir)).unwrap();
    let api = start(t, &toml(&dir, "never-set"), Some(MasterKey::generate().0)).await;
    let done = run(&api).await;
    api.stop().await;
    assert_eq!(done.run.status, RunStatus::Failed);
    let error = done.error();
    assert!(
        error.contains("never-set is not set in workspace default")
            && error.contains("opsroom secrets set never-set"),
        "{error}"
    );
    assert!(
        !done.log().contains("plain:"),
        "the program did not run: {}",
        done.log()
    );

    let api = start(t, &toml(&dir, "never-set"), None).await;
    let done = run(&api).await;
    api.stop().await;
    assert!(
        done.error().contains("no master key is configured")
            && done.error().contains("OPSROOM_SECRET_KEY"),
        "{}",
        done.error()
    );
    let _ = std::fs::remove_dir_all(dir);
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let t = opsroom_store::testing::TestStore::sqlite().await;
                super::$name(&t).await;
                t.cleanup().await;
            }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let t = opsroom_store::testing::TestStore::postgres().await;
                super::$name(&t).await;
                t.cleanup().await;
            }
        )* }
    };
}
on_both!(
    a_stored_secret_is_used_and_never_shown,
    a_missing_secret_or_key_fails_the_run_naming_it
);
