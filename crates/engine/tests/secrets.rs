//! Secrets never reach what a run shows, through the API of a real server on
//! both stores: programs start from a clean environment (not the server's
//! admin token, database URL or `[secrets]` variables), whatever a program
//! prints of a known secret is hidden in every encoding (plain, base64 at
//! any alignment, percent-encoded) from events, artifacts and the run's
//! error, and URLs lose their userinfo and query values wherever they show.

#[macro_use]
mod support;

use axum::http::StatusCode;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use opsroom_adapters::testing::digitalocean::FakeDigitalOcean;
use opsroom_adapters::testing::github::FakeGitHub;
use opsroom_adapters::testing::supabase::{FakeSupabase, PROJECT_REF};
use opsroom_adapters::testing::vercel::FakeVercel;
use opsroom_adapters::testing::{serve, Fake, Fault};
use opsroom_core::RunStatus;
use opsroom_server::testing::TestAppOptions;
use opsroom_store::testing::TestStore;
use opsroom_store::DynStore;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Once;
use support::{secret_file, temp_dir, Api, Finished, NewRun, ADMIN, REQUESTER, TOKEN};

/// The server's database URL (never connected to: it is only in the
/// environment and the engine's knowledge), and its password decoded.
const DB_URL: &str = "postgres://opsroom:db%20p%40ss%3Aw0rd%2F42@127.0.0.1:1/opsroom";
const DB_PASSWORD: &str = "db p@ss:w0rd/42";
/// A `[secrets]` entry read from an environment variable of the server.
const API_SECRET: &str = "api_6f1e9d2c+SECRET/zz";
const API_SECRET_VAR: &str = "SECRETS_TEST_API_KEY";
/// A `[secrets]` entry read from a file, given to one step's program.
const STEP_SECRET: &str = "step-t0ken&x=1 y";
/// A query value nobody declared as a secret: only its place in a URL says so.
const QUERY_SECRET: &str = "QuErYsEcReT9";

/// The environment of a server started the usual way: its admin token and
/// database URL, and the variable a `[secrets]` entry names. Set once, before
/// this binary's first store or server starts.
fn server_environment() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("OPSROOM_ADMIN_TOKEN", ADMIN);
        std::env::set_var("OPSROOM_DATABASE_URL", DB_URL);
        std::env::set_var(API_SECRET_VAR, API_SECRET);
    });
}

/// Each test on SQLite and on PostgreSQL, the server's environment set first.
macro_rules! on_both_stores_in_server_environment {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::server_environment();
                let t = opsroom_store::testing::TestStore::sqlite().await;
                super::$name(t.store.clone()).await;
                t.cleanup().await;
            }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::server_environment();
                let t = opsroom_store::testing::TestStore::postgres().await;
                super::$name(t.store.clone()).await;
                t.cleanup().await;
            }
        )* }
    };
}

/// A server on `store` configured by `toml`, knowing its database URL.
async fn server(store: &DynStore, toml: &str) -> Api {
    Api::start_with(
        store,
        toml,
        TestAppOptions {
            workers: 1,
            database_url: Some(DB_URL.into()),
            ..TestAppOptions::default()
        },
    )
    .await
}

/// One attempt of `run` (a failure is final at once, not retried after a
/// backoff), read back through the API.
async fn run_once(store: &DynStore, toml: &str, run: NewRun<'_>) -> Finished {
    let api = server(store, toml).await;
    let body = json!({
        "runbook": run.runbook,
        "env": run.env,
        "target": run.target,
        "params": run.params,
        "max_attempts": 1,
    });
    let (status, created) = api.post("/api/v1/runs", REQUESTER, body).await;
    assert_eq!(status, 201, "POST /api/v1/runs: {created}");
    assert_eq!(created["status"], "queued", "{created}");
    let id = opsroom_store::RunId(created["id"].as_i64().expect("a created run has an id"));
    let done = Finished::load(&api, id).await;
    api.stop().await;
    done
}

/// Every way a program may print `secret`: as it is, percent-encoded three
/// ways, and base64 in four variants, alone and inside longer text at each
/// byte alignment.
fn printed_forms(secret: &str) -> Vec<String> {
    let percent = |lower: bool, plus_for_space: bool| {
        secret
            .bytes()
            .map(|b| match b {
                b if b.is_ascii_alphanumeric() => (b as char).to_string(),
                b' ' if plus_for_space => "+".to_string(),
                b if lower => format!("%{b:02x}"),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let mut forms = vec![
        secret.to_string(),
        percent(false, false),
        percent(true, false),
        percent(false, true),
    ];
    for (prefix, suffix) in base64_contexts() {
        let plain = format!("{prefix}{secret}{suffix}");
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            forms.push(engine.encode(&plain));
        }
    }
    forms
}

/// Text around a secret before it is base64-encoded: every alignment.
fn base64_contexts() -> [(&'static str, &'static str); 4] {
    [("", ""), ("a", "!"), ("ab", "\n"), ("user:", "@x")]
}

/// Pieces that must not survive of `secret` printed in any form: the plain
/// and percent-encoded forms whole, and every six characters of base64 that
/// encode the secret's bytes alone (the characters at its ends also carry
/// bits of the text around it).
fn forbidden_pieces(secret: &str) -> Vec<String> {
    let forms = printed_forms(secret);
    let mut pieces: Vec<String> = forms[..4].to_vec();
    for (prefix, suffix) in base64_contexts() {
        let plain = format!("{prefix}{secret}{suffix}");
        let first = (prefix.len() * 8).div_ceil(6);
        let last = (prefix.len() + secret.len()) * 8 / 6;
        for engine in [&STANDARD, &URL_SAFE] {
            let encoded = engine.encode(&plain);
            let inner = &encoded[first..last];
            for start in 0..=inner.len().saturating_sub(6) {
                pieces.push(inner[start..start + 6].to_string());
            }
        }
    }
    pieces
}

/// A runbook whose programs print their environment, every form of every
/// secret they know, and finally fail naming the admin token.
fn leaky_runbook(dir: &Path) -> String {
    let forms = dir.join("forms.txt");
    let mut text = String::new();
    for secret in [ADMIN, DB_PASSWORD, DB_URL, API_SECRET, STEP_SECRET] {
        for form in printed_forms(secret) {
            text.push_str(&form.replace('\n', ""));
            text.push('\n');
        }
    }
    std::fs::write(&forms, text).unwrap();
    let encode = dir.join("encode.sh");
    std::fs::write(
        &encode,
        "printf '%s' \"$STEP_TOKEN\" | base64\nprintf 'Basic %s\\n' \"$(printf 'user:%s' \"$STEP_TOKEN\" | base64)\"\n",
    )
    .unwrap();
    let fail = dir.join("fail.sh");
    std::fs::write(
        &fail,
        format!("echo \"fatal: token {ADMIN} refused for {DB_URL}\" >&2\nexit 3\n"),
    )
    .unwrap();
    format!(
        r#"name = "leaky_check"
description = "Prints its environment and every secret it knows."
risk = "read"
triggers = ["leaky check on {{env}}"]

[[steps.action]]
title = "print the environment"
shell = {{ argv = ["/usr/bin/env"], env = {{ STEP_TOKEN = "secret:step", REGION = "{{env}}" }} }}

[[steps.action]]
title = "print every form of the secrets"
shell = {{ argv = ["cat", "{forms}"] }}

[[steps.action]]
title = "encode the step's token"
shell = {{ argv = ["sh", "{encode}"], env = {{ STEP_TOKEN = "secret:step" }} }}

[[steps.action]]
title = "fail naming the admin token"
shell = {{ argv = ["sh", "{fail}"] }}
"#,
        forms = forms.display(),
        encode = encode.display(),
        fail = fail.display(),
    )
}

fn leaky_toml(runbooks: &Path) -> String {
    format!(
        r#"runbooks_dir = "{dir}"

[secrets]
api = "env:{API_SECRET_VAR}"
step = "{step}"

[environments.dev]
"#,
        dir = runbooks.display(),
        step = secret_file(STEP_SECRET),
    )
}

fn output_of(done: &Finished, step: &str) -> Vec<String> {
    done.events
        .iter()
        .filter(|e| e.data["kind"] == "output" && e.data["step"] == step)
        .map(|e| e.message.clone())
        .collect()
}

async fn programs_get_a_clean_environment_and_every_form_of_a_secret_is_hidden(store: DynStore) {
    let dir = temp_dir("leaky");
    std::fs::write(dir.join("leaky_check.toml"), leaky_runbook(&dir)).unwrap();
    let done = run_once(
        &store,
        &leaky_toml(&dir),
        NewRun {
            runbook: "leaky_check",
            env: Some("dev"),
            target: None,
            params: json!({}),
        },
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());

    let env = output_of(&done, "print the environment");
    let names: BTreeSet<&str> = env
        .iter()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .collect();
    let allowed = [
        "PATH",
        "HOME",
        "LANG",
        "STEP_TOKEN",
        "REGION",
        "OPSROOM_RUN_ID",
        "OPSROOM_RUNBOOK",
        "OPSROOM_ENV",
    ];
    assert!(
        names.iter().all(|n| allowed.contains(n)),
        "the program saw more than a clean environment: {names:?}"
    );
    assert!(
        names.contains("PATH") && names.contains("REGION"),
        "{names:?}"
    );
    assert!(env.contains(&"REGION=dev".to_string()), "{env:?}");
    assert!(env.contains(&"STEP_TOKEN=***".to_string()), "{env:?}");

    let forms = output_of(&done, "print every form of the secrets");
    assert_eq!(forms.len(), 5 * printed_forms(ADMIN).len());
    for line in &forms {
        assert!(
            line.contains("***"),
            "a printed form was not hidden: {line}"
        );
    }
    let encoded = output_of(&done, "encode the step's token");
    assert_eq!(encoded.len(), 2, "{encoded:?}");
    assert!(encoded.iter().all(|l| l.contains("***")), "{encoded:?}");

    let error = done.error();
    assert!(
        error.contains("fail naming the admin token") && error.contains("fatal: token *** refused"),
        "{error}"
    );
    let summary = &done.artifact("summary.md").content;
    assert!(summary.contains("fatal: token ***"), "{summary}");

    for secret in [ADMIN, DB_PASSWORD, DB_URL, API_SECRET, STEP_SECRET] {
        for piece in forbidden_pieces(secret) {
            done.assert_never_shows(&piece);
        }
    }
    for name in [
        "OPSROOM_ADMIN_TOKEN",
        "OPSROOM_DATABASE_URL",
        API_SECRET_VAR,
    ] {
        done.assert_never_shows(name);
    }
    let _ = std::fs::remove_dir_all(dir);
}

async fn the_deploy_shell_provider_gets_a_clean_environment(store: DynStore) {
    let toml = format!(
        r#"
[secrets]
api = "env:{API_SECRET_VAR}"
deploy = "{step}"

[environments.local.deploy]
provider = "shell"
argv = ["/usr/bin/env"]
secret_env = {{ DEPLOY_TOKEN = "deploy" }}
"#,
        step = secret_file(STEP_SECRET),
    );
    let done = run_once(
        &store,
        &toml,
        NewRun {
            runbook: "deploy",
            env: Some("local"),
            target: None,
            params: json!({"ref": "main"}),
        },
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let log = done.log();
    assert!(log.contains("DEPLOY_TOKEN=***"), "{log}");
    assert!(log.contains("OPSROOM_REF=main"), "{log}");
    for secret in [ADMIN, DB_PASSWORD, API_SECRET, STEP_SECRET] {
        done.assert_never_shows(secret);
    }
    for name in [
        "OPSROOM_ADMIN_TOKEN",
        "OPSROOM_DATABASE_URL",
        API_SECRET_VAR,
    ] {
        done.assert_never_shows(name);
    }
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A service whose every endpoint answers 500.
async fn broken_service() -> String {
    serve(axum::Router::new().fallback(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .await
}

async fn failing_healthchecks_hide_query_values_and_userinfo(store: DynStore) {
    let broken = broken_service().await;
    let closed = closed_port();
    let toml = format!(
        r#"
[[environments.prod.services]]
name = "refused"
kind = "http"
url = "http://127.0.0.1:{closed}/health?api_key={QUERY_SECRET}"

[[environments.prod.services]]
name = "broken"
kind = "http"
url = "{broken}/health?region=eu&api_key={QUERY_SECRET}"

[[environments.prod.services]]
name = "signed_in"
kind = "http"
url = "http://ops:{QUERY_SECRET}@127.0.0.1:{closed}/health"
"#
    );
    let done = run_once(
        &store,
        &toml,
        NewRun {
            runbook: "healthcheck",
            env: Some("prod"),
            target: None,
            params: json!({}),
        },
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    let error = done.error();
    assert!(
        error.contains("3 of 3 probes failed") && error.contains("refused ("),
        "{error}"
    );
    assert!(error.contains("HTTP 500"), "{error}");
    done.assert_never_shows(QUERY_SECRET);
    done.artifact("healthcheck-report.md");
}

async fn custom_http_steps_hide_query_values_in_events_and_errors(store: DynStore) {
    let broken = broken_service().await;
    let dir = temp_dir("query");
    std::fs::write(
        dir.join("query_check.toml"),
        format!(
            r#"name = "query_check"
description = "Calls an endpoint with a key in its query."
risk = "read"
triggers = ["query check on {{env}}"]

[[steps.action]]
title = "call with a key"
http = {{ url = "{broken}/status?api_key={QUERY_SECRET}&page=1" }}
"#
        ),
    )
    .unwrap();
    let toml = format!("runbooks_dir = \"{}\"\n[environments.dev]\n", dir.display());
    let done = run_once(
        &store,
        &toml,
        NewRun {
            runbook: "query_check",
            env: Some("dev"),
            target: None,
            params: json!({}),
        },
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    let error = done.error();
    assert!(
        error.contains("/status?api_key=***&page=***") && error.contains("500"),
        "{error}"
    );
    let http = done
        .events
        .iter()
        .find(|e| e.data["kind"] == "http")
        .expect("the request is an event");
    assert_eq!(http.data["status"], 500);
    done.assert_never_shows(QUERY_SECRET);
    let _ = std::fs::remove_dir_all(dir);
}

on_both_stores_in_server_environment!(
    programs_get_a_clean_environment_and_every_form_of_a_secret_is_hidden,
    the_deploy_shell_provider_gets_a_clean_environment,
    failing_healthchecks_hide_query_values_and_userinfo,
    every_provider_token_is_hidden_from_runs,
    custom_http_steps_hide_query_values_in_events_and_errors,
);

#[tokio::test]
async fn an_undeclared_secret_fails_validation_before_any_program_runs() {
    server_environment();
    let t = TestStore::sqlite().await;
    let dir = temp_dir("undeclared");
    let marker = dir.join("ran");
    std::fs::write(
        dir.join("undeclared.toml"),
        format!(
            r#"name = "undeclared_check"
description = "Names a credential nobody declared."
risk = "read"
triggers = ["undeclared check"]

[[steps.action]]
title = "touch a file"
shell = {{ argv = ["touch", "{marker}"] }}

[[steps.action]]
title = "use the token"
shell = {{ argv = ["true"], env = {{ TOKEN = "secret:nowhere" }} }}
"#,
            marker = marker.display()
        ),
    )
    .unwrap();
    let toml = format!("runbooks_dir = \"{}\"\n[environments.dev]\n", dir.display());
    let done = run_once(
        &t.store,
        &toml,
        NewRun {
            runbook: "undeclared_check",
            env: Some("dev"),
            target: None,
            params: json!({}),
        },
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Failed);
    let error = done.error();
    assert!(
        error.contains("phase validate failed")
            && error.contains("env variable TOKEN")
            && error.contains("credential `nowhere` is not declared"),
        "{error}"
    );
    assert!(!marker.exists(), "nothing ran");
    let _ = std::fs::remove_dir_all(dir);
    t.cleanup().await;
}

/// What a provider echoing its token says: the token as it is,
/// percent-encoded and in each base64 variant (short enough that the
/// adapters keep the whole provider message).
fn token_echo() -> String {
    let mut forms = printed_forms(TOKEN);
    forms.truncate(8);
    format!("token echoed: {}", forms.join(" "))
}

/// Makes `gate` answer the next request with a refusal echoing the token.
fn echo_token_next(gate: &Fake) {
    let message: &'static str = Box::leak(token_echo().into_boxed_str());
    gate.push_faults([Fault::status(422, message)]);
}

/// Every provider kind that takes a token (the deploy providers Vercel,
/// GitHub Actions, DigitalOcean and a shell program's `secret_env`, and
/// Supabase's health probe) echoes it in every printed form; the run shows
/// that it did, and none of the forms.
async fn every_provider_token_is_hidden_from_runs(store: DynStore) {
    let secret = secret_file(TOKEN);
    // The `[secrets]` entry `token`, and a table using it.
    let with_token = |table: &str, body: String| {
        format!("[secrets]\ntoken = \"{secret}\"\n\n{table}\n{body}\ntoken_secret = \"token\"\n")
    };
    let vercel = FakeVercel::start().await;
    echo_token_next(&vercel.gate);
    let github = FakeGitHub::start().await;
    echo_token_next(&github.gate);
    let digitalocean = FakeDigitalOcean::start().await;
    echo_token_next(&digitalocean.gate);
    let supabase = FakeSupabase::start().await;
    echo_token_next(&supabase.gate);
    let cases = [
        (
            "vercel",
            "deploy",
            with_token(
                "[environments.staging.deploy]",
                format!(
                    r#"provider = "vercel"
project = "web"
repo = "acme/web"
target = "production"
base_url = "{}""#,
                    vercel.url
                ),
            ),
        ),
        (
            "github_actions",
            "deploy",
            with_token(
                "[environments.staging.deploy]",
                format!(
                    r#"provider = "github_actions"
repo = "acme/web"
workflow = "deploy.yml"
base_url = "{}""#,
                    github.url
                ),
            ),
        ),
        (
            "digitalocean",
            "deploy",
            with_token(
                "[environments.staging.deploy]",
                format!(
                    r#"provider = "digitalocean"
app_id = "app-1"
base_url = "{}""#,
                    digitalocean.url
                ),
            ),
        ),
        (
            "supabase",
            "healthcheck",
            with_token(
                "[[environments.staging.services]]",
                format!(
                    r#"name = "backend"
kind = "supabase"
project_ref = "{PROJECT_REF}"
base_url = "{}""#,
                    supabase.url
                ),
            ),
        ),
        (
            "shell",
            "deploy",
            format!(
                r#"[secrets]
token = "{secret}"

[environments.staging.deploy]
provider = "shell"
argv = ["/bin/sh", "-c", "echo token echoed: $DEPLOY_TOKEN; printf %s \"$DEPLOY_TOKEN\" | base64; exit 1"]
secret_env = {{ DEPLOY_TOKEN = "token" }}
"#
            ),
        ),
    ];
    for (provider, runbook, toml) in cases {
        let done = run_once(
            &store,
            &toml,
            NewRun {
                runbook,
                env: Some("staging"),
                target: None,
                params: json!({}),
            },
        )
        .await;
        assert_eq!(
            done.run.status,
            RunStatus::Failed,
            "{provider}: {}",
            done.log()
        );
        let shown = format!("{}\n{}", done.error(), done.log());
        assert!(
            shown.contains("token echoed: ***"),
            "{provider}: the echo reached the run: {shown}"
        );
        for piece in forbidden_pieces(TOKEN) {
            done.assert_never_shows(&piece);
        }
    }
}
