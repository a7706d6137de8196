//! What the operator's views read, against the real server on both stores:
//! the preview runs the validate phase's checks, the raw log, history
//! filters and server-side search, retry with changed params and its
//! links, and the runbook catalog page.

use opsroom_engine::OpsConfig;
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::{DynStore, RunId};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `dev` can deploy `web` (a shell provider); `prod` has the service but
/// no provider.
const CONFIG: &str = r#"
[environments.dev]
[[environments.dev.services]]
name = "web"
kind = "http"
url = "http://127.0.0.1:9/healthz"

[environments.dev.deploy]
provider = "shell"
argv = ["true"]

[environments.prod]
[[environments.prod.services]]
name = "web"
kind = "http"
url = "http://127.0.0.1:9/healthz"
"#;

async fn spawn(store: DynStore) -> (TestApp, ApiClient) {
    let config = OpsConfig::parse("test config", CONFIG).unwrap();
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            config: Some(config),
            ..Default::default()
        },
    )
    .await;
    let api = ApiClient::new(&app.url).unwrap();
    (app, api)
}

async fn call(api: &ApiClient, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, v) = api.send_json(method, path, body.as_ref()).await.unwrap();
    (status.as_u16(), v)
}

async fn parse(api: &ApiClient, body: Value) -> Value {
    let (status, v) = call(api, Method::POST, "/api/v1/parse", Some(body)).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn create(api: &ApiClient, body: Value) -> i64 {
    let (status, v) = call(api, Method::POST, "/api/v1/runs", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_i64().unwrap()
}

async fn wait_final(api: &ApiClient, id: i64) -> Value {
    api.wait_final(RunId(id)).await.unwrap();
    call(api, Method::GET, &format!("/api/v1/runs/{id}"), None)
        .await
        .1
}

async fn run_count(api: &ApiClient) -> usize {
    let (_, runs) = call(api, Method::GET, "/api/v1/runs?limit=1000", None).await;
    runs.as_array().unwrap().len()
}

/// The preview offers Run only when the validate phase would pass, and
/// says what it would refuse; a run created anyway fails with that message.
async fn preview_runs_the_validate_phase(store: DynStore) {
    let (app, api) = spawn(store).await;
    let ok = parse(&api, json!({"text": "deploy web to dev"})).await;
    assert_eq!(ok["runnable"], json!(true), "{ok}");
    assert!(ok.get("validation_error").is_none(), "{ok}");

    let bad_target = parse(&api, json!({"text": "deploy main to dev"})).await;
    assert_eq!(bad_target["intent"], json!("deploy"));
    assert_eq!(bad_target["runnable"], json!(false), "{bad_target}");
    let message = bad_target["validation_error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("unknown target `main`"), "{message}");

    let no_provider = parse(&api, json!({"text": "deploy web to prod"})).await;
    assert_eq!(no_provider["runnable"], json!(false));
    assert!(
        no_provider["validation_error"]["message"]
            .as_str()
            .unwrap()
            .contains("has no deploy provider"),
        "{no_provider}"
    );

    let nothing = parse(&api, json!({"text": "make me a sandwich"})).await;
    assert_eq!(nothing["intent"], json!("none"));
    assert_eq!(nothing["runnable"], json!(false));

    // Edited params are checked as a run would check them.
    let edited = parse(&api, json!({"text": "noop", "params": {"events": 3}})).await;
    assert_eq!(edited["runnable"], json!(true), "{edited}");
    assert_eq!(edited["params"]["events"], json!(3));
    let refused = parse(&api, json!({"text": "noop", "params": {"events": -1}})).await;
    assert_eq!(refused["runnable"], json!(false));
    assert_eq!(
        refused["validation_error"]["code"],
        json!("invalid_params"),
        "{refused}"
    );
    let (status, body) = call(
        &api,
        Method::POST,
        "/api/v1/parse",
        Some(json!({"text": "noop", "params": [1]})),
    )
    .await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("params"));

    // The worker's validate phase refuses exactly what the preview said.
    let id = create(&api, json!({"text": "deploy main to dev"})).await;
    let run = wait_final(&api, id).await;
    assert_eq!(run["status"], json!("failed"));
    assert!(
        run["error"].as_str().unwrap().contains(&message),
        "{} vs {message}",
        run["error"]
    );
    app.stop().await;
}

/// `GET /runs/{id}/log`: the raw log as text, one line per event.
async fn raw_log_is_plain_text(store: DynStore) {
    let (app, api) = spawn(store).await;
    let id = create(&api, json!({"runbook": "noop", "params": {"events": 3}})).await;
    wait_final(&api, id).await;
    let r = api
        .request(Method::GET, &format!("/api/v1/runs/{id}/log"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    let (_, events) = call(
        &api,
        Method::GET,
        &format!("/api/v1/runs/{id}/events?limit=10000"),
        None,
    )
    .await;
    let events = events.as_array().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), events.len(), "{text}");
    for (line, e) in lines.iter().zip(events) {
        let ts = line.split(' ').next().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{line}");
        assert!(line.ends_with(e["message"].as_str().unwrap()), "{line}");
        assert!(
            line.contains(&e["level"].as_str().unwrap().to_uppercase()),
            "{line}"
        );
    }
    let (status, body) = call(&api, Method::GET, "/api/v1/runs/999999/log", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], json!("not_found"));
    app.stop().await;
}

/// History: text search by the server (every word, any case, `#ID`),
/// requester and date range; bad filters are refused naming them.
async fn history_search_and_filters(store: DynStore) {
    let (app, api) = spawn(store).await;
    let billing = create(
        &api,
        json!({"runbook": "noop", "target": "billing", "params": {"events": 1}}),
    )
    .await;
    let other = create(&api, json!({"text": "check dev status"})).await;
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let search = |q: &str| format!("/api/v1/runs?q={}", urlencode(q));
    let (status, found) = call(&api, Method::GET, &search("billing"), None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(ids(&found), vec![billing]);
    let (_, found) = call(&api, Method::GET, &search("NOOP  Billing"), None).await;
    assert_eq!(ids(&found), vec![billing], "every word, any case");
    let (_, found) = call(&api, Method::GET, &search("noop dev-status"), None).await;
    assert!(ids(&found).is_empty(), "a word that is in no run");
    let (_, found) = call(&api, Method::GET, &search("check dev status"), None).await;
    assert_eq!(ids(&found), vec![other], "the command text");
    let (_, found) = call(&api, Method::GET, &search(&format!("#{other}")), None).await;
    assert_eq!(ids(&found), vec![other], "the run's id");
    let (_, found) = call(&api, Method::GET, &search("100%_"), None).await;
    assert!(ids(&found).is_empty(), "LIKE wildcards are text");

    let (_, run) = call(&api, Method::GET, &format!("/api/v1/runs/{billing}"), None).await;
    let by = run["created_by"].as_str().unwrap();
    let (_, mine) = call(
        &api,
        Method::GET,
        &format!("/api/v1/runs?created_by={}", urlencode(by)),
        None,
    )
    .await;
    assert_eq!(ids(&mine), vec![other, billing]);
    let (_, nobody) = call(&api, Method::GET, "/api/v1/runs?created_by=nobody", None).await;
    assert!(ids(&nobody).is_empty());

    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);
    let range = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| {
        format!(
            "/api/v1/runs?from={}&to={}",
            urlencode(&from.to_rfc3339()),
            urlencode(&to.to_rfc3339())
        )
    };
    let (_, today) = call(&api, Method::GET, &range(now - hour, now + hour), None).await;
    assert_eq!(ids(&today), vec![other, billing]);
    let (_, later) = call(&api, Method::GET, &range(now + hour, now + hour * 2), None).await;
    assert!(ids(&later).is_empty());
    // `from` after `to`: a well-formed range with nothing in it.
    let (status, reversed) = call(&api, Method::GET, &range(now + hour, now - hour), None).await;
    assert_eq!(status, 200);
    assert!(ids(&reversed).is_empty());

    let before = run_count(&api).await;
    for bad in [
        format!("/api/v1/runs?q={}", "x".repeat(201)),
        "/api/v1/runs?q=a%00b".to_string(),
        "/api/v1/runs?from=yesterday".to_string(),
    ] {
        let (status, body) = call(&api, Method::GET, &bad, None).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(run_count(&api).await, before);
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Retry as it was or with changed params; the runs link to each other.
async fn retry_with_changes_and_links(store: DynStore) {
    let (app, api) = spawn(store).await;
    let old = create(&api, json!({"runbook": "noop", "params": {"events": 1}})).await;
    wait_final(&api, old).await;
    let (status, new) = call(
        &api,
        Method::POST,
        &format!("/api/v1/runs/{old}/retry"),
        Some(json!({"params": {"events": 4}})),
    )
    .await;
    assert_eq!(status, 201, "{new}");
    assert_eq!(new["params"]["events"], json!(4));
    let new_id = new["id"].as_i64().unwrap();
    let (status, same) = call(
        &api,
        Method::POST,
        &format!("/api/v1/runs/{old}/retry"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{same}");
    assert_eq!(same["params"]["events"], json!(1), "as it was");
    let same_id = same["id"].as_i64().unwrap();

    let (_, read_new) = call(&api, Method::GET, &format!("/api/v1/runs/{new_id}"), None).await;
    assert_eq!(read_new["retry_of"], json!(old));
    let (_, read_old) = call(&api, Method::GET, &format!("/api/v1/runs/{old}"), None).await;
    assert_eq!(read_old["retried_as"], json!([new_id, same_id]));
    assert!(read_old.get("retry_of").is_none());
    assert!(read_old["worker_id"].is_string(), "{read_old}");

    let before = run_count(&api).await;
    for body in [
        json!({"params": {"events": "many"}}),
        json!({"params": {"nope": 1}}),
        json!({"param": {}}),
    ] {
        let (status, err) = call(
            &api,
            Method::POST,
            &format!("/api/v1/runs/{old}/retry"),
            Some(body.clone()),
        )
        .await;
        assert!((400..500).contains(&status), "{body}: {status} {err}");
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        run_count(&api).await,
        before,
        "a refused retry stores nothing"
    );
    app.stop().await;
}

/// `/runbooks` lists every runbook with where it can run: deploy only in
/// the env with a provider, healthcheck in both.
async fn catalog_page_says_where_runbooks_run(store: DynStore) {
    let (app, api) = spawn(store).await;
    let page = api
        .request(Method::GET, "/runbooks")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let card = |name: &str| -> String {
        let start = page
            .find(&format!("data-runbook=\"{name}\""))
            .unwrap_or_else(|| panic!("no card for {name}"));
        let end = page[start..].find("</article>").unwrap();
        page[start..start + end].to_string()
    };
    let envs = |name: &str| -> String {
        let c = card(name);
        let start = c.find("data-field=\"envs\"").unwrap();
        let end = c[start..].find("</dd>").unwrap();
        c[start..start + end].to_string()
    };
    for name in [
        "noop",
        "healthcheck",
        "deploy",
        "rollback",
        "spec",
        "incident",
        "schema_sync",
    ] {
        card(name);
    }
    let deploy = envs("deploy");
    assert!(
        deploy.contains(">dev<") && !deploy.contains(">prod<"),
        "{deploy}"
    );
    let health = envs("healthcheck");
    assert!(
        health.contains(">dev<") && health.contains(">prod<"),
        "{health}"
    );
    assert!(
        card("deploy").contains("data-try=\"deploy web to dev\""),
        "{}",
        card("deploy")
    );
    assert!(card("spec").contains("not set up here"), "{}", card("spec"));
    app.stop().await;
}

/// A queued run says what it waits for: the run ahead in its lane, or
/// the write holding (or first in line for) its env and target's lock.
async fn a_queued_run_says_what_it_waits_for(store: DynStore) {
    let config = OpsConfig::parse("test config", CONFIG).unwrap();
    // No workers: everything stays queued.
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            config: Some(config),
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let api = ApiClient::new(&app.url).unwrap();
    let deploy = json!({"runbook": "deploy", "env": "dev", "target": "web"});
    let first = create(&api, deploy.clone()).await;
    let second = create(&api, deploy).await;
    let check = create(&api, json!({"runbook": "healthcheck", "env": "dev"})).await;
    let read = |id: i64| {
        let api = &api;
        async move {
            call(api, Method::GET, &format!("/api/v1/runs/{id}"), None)
                .await
                .1
        }
    };
    assert_eq!(
        read(second).await["waits_for"],
        json!({"run_id": first, "status": "queued", "runbook": "deploy", "reason": "env_lock"})
    );
    assert!(read(first).await.get("waits_for").is_none());
    assert!(
        read(check).await.get("waits_for").is_none(),
        "a read run takes no lock"
    );

    let (_, session) = call(&api, Method::POST, "/api/v1/sessions", Some(json!({}))).await;
    let in_lane = json!({"runbook": "noop", "session_id": session["id"], "lane": "A"});
    let a1 = create(&api, in_lane.clone()).await;
    let a2 = create(&api, in_lane).await;
    assert_eq!(
        read(a2).await["waits_for"],
        json!({"run_id": a1, "status": "queued", "runbook": "noop", "reason": "lane"})
    );
    // Listed runs do not carry it (one query per run would cost the list).
    let (_, list) = call(&api, Method::GET, "/api/v1/runs", None).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r.get("waits_for").is_none()));
    app.stop().await;
}

opsroom_store::on_both_stores!(
    a_queued_run_says_what_it_waits_for,
    preview_runs_the_validate_phase,
    raw_log_is_plain_text,
    history_search_and_filters,
    retry_with_changes_and_links,
    catalog_page_says_where_runbooks_run,
);
