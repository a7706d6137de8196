//! Hostile input against the real server, on both stores: SQL injection in
//! every filter and path parameter, oversized bodies, path traversal in
//! names, header injection, markup in every page, and the security headers
//! on every answer. Each refusal is a clean 4xx naming what is wrong, and
//! what is stored is the same afterwards, compared as a snapshot.

use opsroom_auth::MasterKey;
use opsroom_core::{EventLevel, Phase};
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::{DynStore, EventsAppendParams, NewEvent, RunId};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Classic injection payloads, unicode quotes, paths and a very long value.
fn payloads() -> Vec<String> {
    let mut p: Vec<String> = [
        "' OR 1=1--",
        "1 OR 1=1",
        "1; DROP TABLE runs",
        "1'; DROP TABLE runs; --",
        "\" OR \"\"=\"",
        "1) UNION SELECT name, sealed FROM secrets--",
        "\u{2019} OR 1=1--",
        "\u{FF07} OR \u{FF07}1\u{FF07}=\u{FF07}1",
        "\u{201C}; DELETE FROM run_events; --",
        "../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "/etc/passwd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "<script>alert(1)</script>",
        "prod\r\nX-Injected: 1",
    ]
    .map(String::from)
    .to_vec();
    p.push("9".repeat(400));
    p.push("a".repeat(10_000));
    p
}

/// Every byte but unreserved ones percent-encoded: the value arrives as
/// written, never reinterpreted by the client.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An answer read off the wire.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request_head` (the request line and headers, without the final
/// blank line) exactly as written: clients would normalise `..` and
/// `%2e%2e` in a path, this does not.
async fn raw(app: &TestApp, request_head: &str, body: &[u8]) -> Raw {
    let addr = app.url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("{request_head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut bytes = Vec::new();
    tcp.read_to_end(&mut bytes).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: body.to_string(),
    }
}

async fn get_raw(app: &TestApp, path: &str) -> Raw {
    raw(app, &format!("GET {path} HTTP/1.1"), b"").await
}

/// What the API shows of everything stored: runs, their events and
/// artifacts, the session, the secrets' metadata and the counts.
async fn snapshot(api: &ApiClient, store: &DynStore, session: i64) -> Value {
    let (_, runs) = api
        .send_json(Method::GET, "/api/v1/runs?limit=1000", None)
        .await
        .unwrap();
    let mut per_run = Vec::new();
    for run in runs.as_array().unwrap() {
        let id = run["id"].as_i64().unwrap();
        let (_, events) = api
            .send_json(Method::GET, &format!("/api/v1/runs/{id}/events"), None)
            .await
            .unwrap();
        let (_, artifacts) = api
            .send_json(Method::GET, &format!("/api/v1/runs/{id}/artifacts"), None)
            .await
            .unwrap();
        per_run.push(json!({"events": events, "artifacts": artifacts}));
    }
    let (_, session) = api
        .send_json(Method::GET, &format!("/api/v1/sessions/{session}"), None)
        .await
        .unwrap();
    let (_, secrets) = api
        .send_json(Method::GET, "/api/v1/secrets", None)
        .await
        .unwrap();
    let counts = store.runs_count_by_status().await.unwrap();
    json!({"runs": runs, "per_run": per_run, "session": session, "secrets": secrets,
           "counts": format!("{counts:?}")})
}

/// A server without workers (nothing changes unless a request changes it),
/// with two runs, events, an artifact, a session and a secret.
async fn seeded(store: &DynStore, options: TestAppOptions) -> (TestApp, ApiClient, i64, i64) {
    let (key, _) = MasterKey::generate();
    let token = options.admin_token.clone();
    let app = TestApp::spawn(
        store.clone(),
        TestAppOptions {
            workers: 0,
            secret_key: Some(key),
            ..options
        },
    )
    .await;
    let api = ApiClient::new(&app.url).unwrap().with_token(token);
    let (status, session) = api
        .send_json(
            Method::POST,
            "/api/v1/sessions",
            Some(&json!({"name": "s"})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let session = session["id"].as_i64().unwrap();
    let mut run = 0;
    for body in [
        json!({"runbook": "noop", "env": "dev"}),
        json!({"runbook": "noop", "env": "prod", "session_id": session, "lane": "A"}),
    ] {
        let (status, r) = api
            .send_json(Method::POST, "/api/v1/runs", Some(&body))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED, "{r}");
        run = r["id"].as_i64().unwrap();
    }
    api.secret_set("deploy_token", "v4lue").await.unwrap();
    (app, api, run, session)
}

/// The answer is a 4xx JSON error whose message names `field`, and no
/// header echoes the payload.
fn assert_refused(what: &str, status: StatusCode, body: &Value, field: &str) {
    assert!(status.is_client_error(), "{what}: {status} {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        body["error"]["code"].is_string() && message.contains(field),
        "{what}: the error names `{field}`: {body}"
    );
}

async fn injection_in_filters_and_paths_is_refused_and_changes_nothing(store: DynStore) {
    let (app, api, run, session) = seeded(&store, TestAppOptions::default()).await;
    let before = snapshot(&api, &store, session).await;
    assert_eq!(before["runs"].as_array().unwrap().len(), 2);
    let call = |method: Method, path: String| {
        let api = api.clone();
        async move {
            let r = api.request(method, &path).send().await.unwrap();
            let status = r.status();
            let headers = r.headers().clone();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, headers, body)
        }
    };
    let mut checked = 0;
    // Numbers that are not whole numbers, for the numeric parameters only
    // (as names they are fine).
    for p in ["1e3", "0x10", "1.5", "+-1", "9223372036854775808"] {
        let e = enc(p);
        for (path, field) in [
            (format!("/api/v1/runs?limit={e}"), "limit"),
            (format!("/api/v1/runs?before={e}"), "before"),
            (format!("/api/v1/runs?session_id={e}"), "session_id"),
            (format!("/api/v1/runs/{run}/events?after={e}"), "after"),
            (format!("/api/v1/runs/{e}"), "id"),
            (format!("/api/v1/sessions/{e}"), "id"),
        ] {
            let (status, _, body) = call(Method::GET, path.clone()).await;
            assert_refused(&path, status, &body, field);
            checked += 1;
        }
    }
    for p in payloads() {
        let e = enc(&p);
        // Filters: each names its parameter.
        let queries = [
            ("/api/v1/runs?status=", "status"),
            ("/api/v1/runs?env=", "env"),
            ("/api/v1/runs?runbook=", "runbook"),
            ("/api/v1/runs?limit=", "limit"),
            ("/api/v1/runs?before=", "before"),
            ("/api/v1/runs?session_id=", "session_id"),
            ("/api/v1/runs?limit=10&before=", "before"),
        ];
        let run_queries = [
            ("events?after=", "after"),
            ("events?limit=", "limit"),
            ("events/stream?after=", "after"),
        ];
        let mut calls: Vec<(Method, String, &str)> = queries
            .iter()
            .map(|(q, field)| (Method::GET, format!("{q}{e}"), *field))
            .collect();
        for (q, field) in run_queries {
            calls.push((Method::GET, format!("/api/v1/runs/{run}/{q}{e}"), field));
        }
        // Path parameters: run and session ids, secret names.
        for tail in ["", "/events", "/events/stream", "/artifacts"] {
            calls.push((Method::GET, format!("/api/v1/runs/{e}{tail}"), "id"));
        }
        for action in ["cancel", "retry", "approve", "reject"] {
            calls.push((Method::POST, format!("/api/v1/runs/{e}/{action}"), "id"));
        }
        calls.push((Method::GET, format!("/api/v1/sessions/{e}"), "id"));
        calls.push((Method::DELETE, format!("/api/v1/secrets/{e}"), "name"));
        calls.push((Method::GET, format!("/ui/runs/{e}/artifacts/1/html"), "id"));
        calls.push((
            Method::GET,
            format!("/ui/runs/{run}/artifacts/{e}/html"),
            "id",
        ));
        for (method, path, field) in calls {
            let (status, headers, body) = call(method.clone(), path.clone()).await;
            assert_refused(&format!("{method} {path}"), status, &body, field);
            for (name, value) in &headers {
                let v = value.to_str().unwrap_or_default();
                assert!(
                    p.len() < 4 || !v.contains(&p),
                    "{path}: header {name} echoes the payload"
                );
            }
            checked += 1;
        }
        // The same payloads as names in bodies.
        let secret = api
            .request(Method::PUT, &format!("/api/v1/secrets/{e}"))
            .json(&json!({"value": "x"}))
            .send()
            .await
            .unwrap();
        let status = secret.status();
        let body: Value = secret.json().await.unwrap_or_default();
        assert_refused(&format!("PUT secret {p:.40}"), status, &body, "name");
        for (body, field) in [
            (json!({"runbook": p, "env": "dev"}), "runbook"),
            (json!({"runbook": "noop", "env": p}), "env"),
        ] {
            let (status, answer) = api
                .send_json(Method::POST, "/api/v1/runs", Some(&body))
                .await
                .unwrap();
            assert_refused(
                &format!("POST /runs {field}={p:.40}"),
                status,
                &answer,
                field,
            );
        }
        checked += 3;
    }
    println!("{checked} hostile requests refused");
    let after = snapshot(&api, &store, session).await;
    assert_eq!(before, after, "nothing stored changed");
    app.stop().await;
}

async fn oversized_bodies_get_413_naming_the_limit(store: DynStore) {
    let limit = 4096;
    let (app, api, run, session) = seeded(
        &store,
        TestAppOptions {
            max_body_bytes: limit,
            ..Default::default()
        },
    )
    .await;
    let before = snapshot(&api, &store, session).await;
    let big = json!({"text": "x".repeat(limit + 10)}).to_string();
    // Every operation of the document that takes a body, with its path
    // parameters filled in (ids: the seeded run; names: a valid name).
    let (_, doc) = api
        .send_json(Method::GET, "/api/openapi.json", None)
        .await
        .unwrap();
    let mut routes = Vec::new();
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("requestBody").is_none() {
                continue;
            }
            assert!(
                op["responses"]["413"].is_object(),
                "{method} {template} documents 413"
            );
            let path = template
                .split('/')
                .map(|seg| match seg {
                    "{id}" => run.to_string(),
                    s if s.starts_with('{') => "big".to_string(),
                    s => s.to_string(),
                })
                .collect::<Vec<_>>()
                .join("/");
            routes.push((method.to_uppercase().parse::<Method>().unwrap(), path));
        }
    }
    let covered: Vec<String> = routes.iter().map(|(m, p)| format!("{m} {p}")).collect();
    for known in [
        "POST /api/v1/runs",
        "POST /api/v1/parse",
        "PUT /api/v1/secrets/big",
    ] {
        assert!(covered.iter().any(|c| c == known), "{known} in {covered:?}");
    }
    assert!(routes.len() >= 7, "{covered:?}");
    // A route that reads no body is limited all the same.
    routes.push((Method::POST, format!("/api/v1/runs/{run}/retry")));
    for (method, path) in &routes {
        // Declared with Content-Length: refused before it is read.
        let r = api
            .request(method.clone(), path)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "body_too_large", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("4096 bytes"), "{message}");
        // Streamed without a length: refused once it passes the limit.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
            .as_bytes()
            .chunks(1000)
            .map(|c| Ok(c.to_vec()))
            .collect();
        let r = api
            .request(method.clone(), path)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{method} {path} chunked"
        );
    }
    // A declared length that is a lie, and a huge one, on the wire.
    let r = raw(
        &app,
        "POST /api/v1/runs HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999",
        b"{}",
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.body);
    // Under the limit the same routes read the body as usual.
    let (status, body) = api
        .send_json(
            Method::POST,
            "/api/v1/parse",
            Some(&json!({"text": "check prod status"})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(before, snapshot(&api, &store, session).await);
    app.stop().await;
}

/// Paths that climb out (`../`, encoded, absolute, NUL) reach no file and
/// no other route: the assets are a fixed list, ids are numbers.
async fn path_traversal_reaches_nothing(store: DynStore) {
    let (app, api, run, session) = seeded(&store, TestAppOptions::default()).await;
    let before = snapshot(&api, &store, session).await;
    for path in [
        "/ui/../Cargo.toml",
        "/ui/..%2f..%2fCargo.toml",
        "/ui/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/ui/%2e%2e/%2e%2e/Cargo.toml",
        "/ui/..%5c..%5cCargo.toml",
        "/ui/%2fetc%2fpasswd",
        "/ui//etc/passwd",
        "/ui/app.css%00.js",
        "/ui/core.js%2f..%2f..%2fsrc%2flib.rs",
        "/ui/.%2e/.%2e/src/lib.rs",
        "/ui/%252e%252e%252fCargo.toml",
    ] {
        let r = get_raw(&app, path).await;
        assert!(
            (400..500).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.body
        );
        assert!(
            !r.body.contains("[package]")
                && !r.body.contains("root:")
                && !r.body.contains("pub mod"),
            "{path} leaked a file: {}",
            r.body
        );
    }
    for path in [
        format!("/ui/runs/{run}/artifacts/..%2f..%2fetc%2fpasswd/html"),
        format!("/ui/runs/{run}/artifacts/%2e%2e%2f1/html"),
        format!("/ui/runs/{run}/artifacts/1%00/html"),
        format!("/api/v1/runs/{run}%2f..%2f1"),
        format!("/api/v1/runs/%2e%2e%2f{run}/artifacts"),
        "/api/v1/secrets/..%2f..%2fetc%2fpasswd".to_string(),
        "/api/v1/secrets/%2e%2e".to_string(),
        "/api/v1/secrets/a%00b".to_string(),
        "/api/v1/runs?runbook=..%2f..%2fetc%2fpasswd".to_string(),
        "/api/v1/runs?runbook=%2fetc%2fpasswd".to_string(),
        "/api/v1/runs?runbook=noop%00".to_string(),
    ] {
        let method = if path.starts_with("/api/v1/secrets") {
            "DELETE"
        } else {
            "GET"
        };
        let r = raw(&app, &format!("{method} {path} HTTP/1.1"), b"").await;
        assert!(
            (400..500).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.body
        );
        let body: Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|_| panic!("{path}: a JSON error: {}", r.body));
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    for runbook in [
        "../../etc/passwd",
        "/etc/passwd",
        "..",
        "noop/../noop",
        "noop\0",
    ] {
        let (status, body) = api
            .send_json(
                Method::POST,
                "/api/v1/runs",
                Some(&json!({"runbook": runbook, "env": "dev"})),
            )
            .await
            .unwrap();
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{runbook}: {body}"
        );
    }
    assert_eq!(before, snapshot(&api, &store, session).await);
    app.stop().await;
}

/// What the server writes into a header never carries a line break or a
/// header of the client's making.
async fn nothing_injects_a_header(store: DynStore) {
    let store = &store;
    let token = "hdr-token";
    let (app, api, run, _) = seeded(
        store,
        TestAppOptions {
            admin_token: Some(token.into()),
            ..Default::default()
        },
    )
    .await;
    // The `?token=` redirect keeps the rest of the query, still encoded.
    for rest in [
        "next=%0d%0aSet-Cookie:%20pwned=1",
        "a=%0aX-Injected:%201&b=%0d",
        "x=%E5%98%8A%E5%98%8DX-Injected:1",
    ] {
        let r = get_raw(&app, &format!("/runs?token={token}&{rest}")).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("location"), Some(format!("/runs?{rest}").as_str()));
        assert!(
            r.headers
                .iter()
                .all(|(k, _)| !k.eq_ignore_ascii_case("x-injected") && !k.contains("pwned")),
            "{:?}",
            r.headers
        );
        let cookies: Vec<_> = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .collect();
        // The token is exchanged for a session: its cookie and the CSRF
        // cookie, neither holding the token.
        assert_eq!(cookies.len(), 2, "{cookies:?}");
        assert!(cookies[0].1.starts_with("opsroom_session="), "{cookies:?}");
        assert!(cookies[1].1.starts_with("opsroom_csrf="), "{cookies:?}");
        assert!(
            cookies.iter().all(|(_, v)| !v.contains(token)),
            "{cookies:?}"
        );
    }
    // A redirect stays on this server, whatever the path looks like.
    for path in [
        "//evil.example/runs",
        "/\\evil.example/runs",
        "/%2fevil.example",
    ] {
        let r = get_raw(&app, &format!("{path}?token={token}")).await;
        if let Some(location) = r.header("location") {
            assert!(
                location.starts_with('/')
                    && !location.starts_with("//")
                    && !location.starts_with("/\\"),
                "{path}: Location {location}"
            );
        }
    }
    // Last-Event-ID is read as a number and never echoed; a line break in
    // a header is refused by the HTTP layer before any route.
    for value in [
        "' OR 1=1--",
        "1; DROP TABLE run_events",
        "9".repeat(30).as_str(),
    ] {
        let r = raw(
            &app,
            &format!(
                "GET /api/v1/runs/{run}/events/stream HTTP/1.1\r\nAuthorization: Bearer {token}\r\nLast-Event-ID: {value}"
            ),
            b"",
        )
        .await;
        assert_eq!(r.status, 400, "{value}: {}", r.body);
        assert!(r.body.contains("Last-Event-ID"), "{}", r.body);
        assert!(r.headers.iter().all(|(_, v)| !v.contains(value)));
    }
    for head in [
        format!("GET /api/v1/runs/{run} HTTP/1.1\r\nLast-Event-ID: 1\r\n X-Injected: folded"),
        format!("GET /api/v1/runs/{run} HTTP/1.1\r\nIdempotency-Key: a\rX-Injected: 1"),
    ] {
        let r = raw(&app, &head, b"").await;
        assert_eq!(r.status, 400, "{head:?}");
        assert!(r.header("x-injected").is_none());
    }
    // An artifact's name is the download's file name: a plain name, one
    // header, whatever the runbook called it.
    for (name, filename) in [
        ("../../etc/passwd", "passwd"),
        ("/root/.ssh/id_rsa", "id_rsa"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("%2e%2e%2fx", "_2e_2e_2fx"),
        (
            "r.md\"\r\nSet-Cookie: pwned=1\r\nX-Injected: 1",
            "r.md_Set-Cookie: pwned=1X-Injected: 1",
        ),
        ("\u{202E}fdp.exe", "fdp.exe"),
        ("..", "artifact"),
    ] {
        let a = store
            .artifact_insert(opsroom_store::ArtifactInsertParams {
                workspace_id: opsroom_store::DEFAULT_WORKSPACE.into(),
                run_id: RunId(run),
                fence: None,
                kind: opsroom_store::ArtifactKind::Markdown,
                name: name.into(),
                content: "# x".into(),
                now: chrono::Utc::now(),
            })
            .await
            .unwrap();
        let r = api
            .request(
                Method::GET,
                &format!("/ui/runs/{run}/artifacts/{}/download", a.id),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name:?}");
        let disposition = r.headers()["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with(&format!(
                "attachment; filename=\"{filename}\"; filename*=UTF-8''"
            )),
            "{name:?}: {disposition}"
        );
        assert!(r.headers().get("set-cookie").is_none() && r.headers().get("x-injected").is_none());
        assert_eq!(r.text().await.unwrap(), "# x");
    }
    for path in [
        format!("/ui/runs/{run}/artifacts/..%2f..%2fetc%2fpasswd/download"),
        format!("/ui/runs/{run}/artifacts/999999/download"),
        "/ui/runs/%2e%2e/artifacts/1/download".to_string(),
    ] {
        let r = raw(
            &app,
            &format!("GET {path} HTTP/1.1\r\nAuthorization: Bearer {token}"),
            b"",
        )
        .await;
        assert!((400..500).contains(&r.status), "{path}: {}", r.status);
        assert!(r.header("content-disposition").is_none(), "{path}");
    }
    // An idempotency key with markup is stored as text, not echoed in headers.
    let r = api
        .request(Method::POST, "/api/v1/runs")
        .header("idempotency-key", "k\" onload=\"x")
        .json(&json!({"runbook": "noop", "env": "dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r
        .headers()
        .values()
        .all(|v| !v.to_str().unwrap_or_default().contains("onload")));
    app.stop().await;
}

/// Markup in run text, params, targets, events, artifacts, session names
/// and runbook names, stored as it came: the pages are shells filled in
/// as text by the scripts, and what the server itself writes into a page
/// (filters, ids, messages) is escaped.
async fn pages_carry_no_executable_markup(store: DynStore) {
    let (app, api, run, session) = seeded(&store, TestAppOptions::default()).await;
    let xss = "\"><script>window.pwned=1</script><img src=x onerror=window.pwned=1><svg onload=window.pwned=1>";
    store
        .events_append(EventsAppendParams {
            workspace_id: opsroom_store::DEFAULT_WORKSPACE.into(),
            run_id: RunId(run),
            fence: None,
            events: vec![NewEvent::new(
                chrono::Utc::now(),
                EventLevel::Info,
                Some(Phase::Action),
                xss,
            )],
            phases: None,
        })
        .await
        .unwrap();
    let (_, events) = api
        .send_json(Method::GET, &format!("/api/v1/runs/{run}/events"), None)
        .await
        .unwrap();
    assert!(events.to_string().contains("<script>window.pwned=1"));
    let pages = [
        "/".to_string(),
        "/runs".to_string(),
        format!(
            "/runs?env={}&runbook={}&status={}&q={}&before={}",
            enc(xss),
            enc(xss),
            enc(xss),
            enc(xss),
            enc(xss)
        ),
        format!("/runs/{run}"),
        format!("/runs/{}", enc(xss)),
        "/runboard".to_string(),
        format!("/runboard/{session}"),
        format!("/runboard/{}", enc(xss)),
        "/workers".to_string(),
        format!("/{}", enc(xss)),
        format!("/nothing?x={}", enc(xss)),
    ];
    for page in pages {
        let r = get_raw(&app, &page).await;
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{page}: {:?}",
            r.headers
        );
        assert_page_is_inert(&page, &r.body);
    }
    app.stop().await;
}

/// No script but the server's own files, no event handler attribute, no
/// `javascript:` or `data:` URL but the blank favicon, no markup the
/// payload brought.
fn assert_page_is_inert(page: &str, html: &str) {
    let lower = html.to_ascii_lowercase();
    for (i, _) in lower.match_indices("<script") {
        let tag = &lower[i..i + lower[i..].find('>').unwrap()];
        assert!(
            tag.contains(" src=\"/ui/"),
            "{page}: a script that is not one of the server's files: {tag}"
        );
        assert!(
            lower[i..].starts_with(&format!("{tag}></script>")),
            "{page}: script with inline content"
        );
    }
    for bad in [
        "<img",
        "<svg",
        "javascript:",
        "<iframe",
        "<object",
        "<embed",
    ] {
        assert!(!lower.contains(bad), "{page} contains `{bad}`: {html}");
    }
    assert_eq!(
        lower.matches("data:").count(),
        1,
        "{page}: only the favicon"
    );
    let attrs = regex_free_event_attributes(&lower);
    assert!(
        attrs.is_empty(),
        "{page}: event handler attributes {attrs:?}"
    );
}

/// ` on…=` attributes inside tags.
fn regex_free_event_attributes(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let (mut in_tag, mut in_value) = (false, false);
    let chars: Vec<char> = html.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        match c {
            '"' if in_tag => in_value = !in_value,
            '<' if !in_value => in_tag = true,
            '>' if !in_value => in_tag = false,
            ' ' if in_tag && !in_value => {
                let rest: String = chars[i + 1..].iter().take(20).collect();
                if rest.starts_with("on")
                    && rest
                        .find('=')
                        .is_some_and(|eq| rest[2..eq].chars().all(|c| c.is_ascii_alphabetic()))
                {
                    found.push(rest);
                }
            }
            _ => {}
        }
    }
    found
}

/// Every answer, page or API, success or error, carries the headers.
async fn security_headers_on_every_answer(store: DynStore) {
    let (app, _api, run, session) = seeded(&store, TestAppOptions::default()).await;
    let pages = [
        "/".to_string(),
        "/runs".to_string(),
        format!("/runs/{run}"),
        "/runs/nope".to_string(),
        "/runboard".to_string(),
        format!("/runboard/{session}"),
        "/workers".to_string(),
        "/no/such/page".to_string(),
    ];
    let others = [
        "/ui/app.css".to_string(),
        "/ui/core.js".to_string(),
        "/ui/nothing.js".to_string(),
        "/healthz".to_string(),
        "/metrics".to_string(),
        "/api/openapi.json".to_string(),
        "/api/v1/runs".to_string(),
        format!("/api/v1/runs/{run}"),
        "/api/v1/runs/x".to_string(),
        "/api/v1/nothing".to_string(),
        "/api/v1/workers".to_string(),
    ];
    for (path, is_page) in pages
        .iter()
        .map(|p| (p, true))
        .chain(others.iter().map(|p| (p, false)))
    {
        let r = get_raw(&app, path).await;
        assert_security_headers(path, &r, is_page);
    }
    // Refusals by a method, a body and an action have them too.
    for (head, body) in [
        ("DELETE /api/v1/runs HTTP/1.1".to_string(), &b""[..]),
        (
            "POST /api/v1/runs HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2"
                .to_string(),
            &b"{}"[..],
        ),
        (
            format!("POST /api/v1/runs/{run}/retry HTTP/1.1\r\nContent-Length: 0"),
            &b""[..],
        ),
    ] {
        let r = raw(&app, &head, body).await;
        assert!(r.status >= 400, "{head}: {}", r.status);
        assert_security_headers(&head, &r, false);
    }
    app.stop().await;
}

fn assert_security_headers(what: &str, r: &Raw, is_page: bool) {
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{what}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    if is_page {
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{what}"
        );
        assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{what}: {csp}");
        assert!(csp.contains("base-uri 'none'"), "{what}: {csp}");
    } else {
        assert!(
            csp.contains("default-src 'none'") || csp.contains("script-src 'self'"),
            "{what}: {csp}"
        );
    }
}

opsroom_store::on_both_stores!(
    injection_in_filters_and_paths_is_refused_and_changes_nothing,
    oversized_bodies_get_413_naming_the_limit,
    path_traversal_reaches_nothing,
    nothing_injects_a_header,
    pages_carry_no_executable_markup,
    security_headers_on_every_answer,
);
