//! People, workspaces, roles and tokens through the HTTP API (§8), UI
//! sign-in with its session cookie, CSRF and sign-out, sign-in throttling,
//! and local mode, on both stores.

use opsroom_auth::token::digest;
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::CreateToken;
use opsroom_store::{AuditListParams, DynStore, DEFAULT_WORKSPACE};
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ADMIN: &str = "identity-admin-token";

async fn app(store: DynStore, admin_token: Option<&str>) -> (TestApp, ApiClient) {
    let app = TestApp::spawn(
        store,
        TestAppOptions {
            admin_token: admin_token.map(String::from),
            workers: 0,
            ..Default::default()
        },
    )
    .await;
    let client = ApiClient::new(&app.url)
        .unwrap()
        .with_token(admin_token.map(String::from));
    (app, client)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn audit_actions(store: &DynStore, ws: &str) -> Vec<(String, Value)> {
    store
        .audit_list(AuditListParams::newest(ws, 200))
        .await
        .unwrap()
        .into_iter()
        .rev()
        // The source address has its own column; shown with the details here.
        .map(|e| {
            let mut details = e.details;
            details["source"] = serde_json::json!(e.source);
            (e.action, details)
        })
        .collect()
}

async fn people_workspaces_roles_and_tokens(store: DynStore) {
    let (app, admin) = app(store.clone(), Some(ADMIN)).await;
    let post = |c: &ApiClient, path: &str, body: Value| {
        let c = c.clone();
        let path = path.to_string();
        async move { c.send_json(Method::POST, &path, Some(&body)).await.unwrap() }
    };

    // The admin token acts as admin in default.
    let me = admin.me().await.unwrap();
    assert_eq!(
        (me.user.as_str(), me.workspace.as_str(), me.role.as_str()),
        ("admin", "default", "admin")
    );

    // Users: created once, bad names and passwords refused with a code.
    let (s, u) = post(
        &admin,
        "/api/v1/users",
        json!({"name": "alice", "password": "correct horse"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert_eq!(u["has_password"], true);
    assert!(!u.to_string().contains("correct horse"));
    let (s, e) = post(&admin, "/api/v1/users", json!({"name": "alice"})).await;
    assert_eq!((s, code(&e)), (StatusCode::CONFLICT, "conflict"), "{e}");
    let (s, e) = post(&admin, "/api/v1/users", json!({"name": "bad name"})).await;
    assert_eq!(
        (s, code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name")
    );
    let (s, e) = post(
        &admin,
        "/api/v1/users",
        json!({"name": "carl", "password": "short"}),
    )
    .await;
    assert_eq!(
        (s, code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_password")
    );
    let creds = store.user_credentials("alice").await.unwrap();
    assert!(creds.password_hash.unwrap().starts_with("$argon2id$"));
    assert!(
        store.user_credentials("carl").await.is_err(),
        "nothing stored"
    );
    admin.user_create("bob", None).await.unwrap();

    // Workspaces.
    let (s, w) = post(&admin, "/api/v1/workspaces", json!({"name": "team-a"})).await;
    assert_eq!(
        (s, w["name"].as_str()),
        (StatusCode::CREATED, Some("team-a"))
    );
    let (s, e) = post(&admin, "/api/v1/workspaces", json!({"name": "team-a"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = post(&admin, "/api/v1/workspaces", json!({"name": "../x"})).await;
    assert_eq!(
        (s, code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name")
    );
    let (s, e) = post(&admin, "/api/v1/workspaces", json!({"name": "default"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "default always exists: {e}");

    // Members.
    let m = admin
        .member_set("default", "alice", "operator")
        .await
        .unwrap();
    assert_eq!((m.role.as_str(), m.previous_role), ("operator", None));
    let m = admin
        .member_set("default", "alice", "approver")
        .await
        .unwrap();
    assert_eq!(m.previous_role.as_deref(), Some("operator"));
    admin.member_set("default", "bob", "viewer").await.unwrap();
    let (s, e) = admin
        .send_json(
            Method::PUT,
            "/api/v1/workspaces/default/members/alice",
            Some(&json!({"role": "owner"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (s, code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_role")
    );
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("viewer, operator, approver or admin"));
    for path in [
        "/api/v1/workspaces/nope/members/alice",
        "/api/v1/workspaces/default/members/nobody",
    ] {
        let (s, _) = admin
            .send_json(Method::PUT, path, Some(&json!({"role": "viewer"})))
            .await
            .unwrap();
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }

    // Tokens: shown once with the prefix, stored as a digest only.
    let created = admin
        .token_create(&CreateToken {
            user: Some("alice".into()),
            name: Some("laptop".into()),
            expires_in_s: Some(3600),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(created.token.starts_with("opsroom_"), "{}", created.token);
    assert_eq!(
        (created.user.as_str(), created.workspace.as_str()),
        ("alice", "default")
    );
    let expires = created.expires_at.unwrap() - created.created_at;
    assert_eq!(expires.num_seconds(), 3600);
    let stored = store.token_lookup(&digest(&created.token)).await.unwrap();
    assert_eq!(stored.unwrap().token.id, created.id, "found by its digest");
    let alice = ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(created.token.clone()));
    let me = alice.me().await.unwrap();
    assert_eq!((me.user.as_str(), me.role.as_str()), ("alice", "approver"));
    // The X-Opsroom-User header is gone: it names nobody.
    let (s, run) = alice
        .request(Method::POST, "/api/v1/runs")
        .header("x-opsroom-user", "mallory")
        .json(&json!({"runbook": "noop"}))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(s, StatusCode::CREATED);
    let run: Value = run.json().await.unwrap();
    assert_eq!(run["created_by"], "alice");

    // A user makes their own token; not someone else's.
    let own = alice.token_create(&CreateToken::default()).await.unwrap();
    assert_eq!(own.user, "alice");
    let bob = admin
        .token_create(&CreateToken {
            user: Some("bob".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let bob_client = ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(bob.token.clone()));
    let (s, e) = post(&bob_client, "/api/v1/tokens", json!({"user": "alice"})).await;
    assert_eq!((s, code(&e)), (StatusCode::FORBIDDEN, "forbidden"), "{e}");
    let (s, e) = post(
        &bob_client,
        "/api/v1/tokens",
        json!({"workspace": "team-a"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not bob's workspace: {e}");
    let (s, e) = post(&admin, "/api/v1/tokens", json!({})).await;
    assert_eq!(
        (s, code(&e)),
        (StatusCode::FORBIDDEN, "user_required"),
        "{e}"
    );
    let (s, e) = post(
        &admin,
        "/api/v1/tokens",
        json!({"user": "bob", "workspace": "team-a"}),
    )
    .await;
    assert_eq!(
        (s, code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_a_member"),
        "{e}"
    );
    for bad in [
        json!({"user": "bob", "expires_in_s": 0}),
        json!({"user": "bob", "expires_in_s": 315360001}),
    ] {
        let (s, e) = post(&admin, "/api/v1/tokens", bad).await;
        assert_eq!(
            (s, code(&e)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_expiry")
        );
    }
    let (s, e) = post(
        &admin,
        "/api/v1/tokens",
        json!({"user": "bob", "name": "a\nb"}),
    )
    .await;
    assert_eq!(
        (s, code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name")
    );

    // Revocation: by someone else (not admin) refused; by its user at once.
    let (s, _) = bob_client
        .send_json(Method::DELETE, &format!("/api/v1/tokens/{}", own.id), None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN);
    let own_client = ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(own.token.clone()));
    own_client.me().await.unwrap();
    own_client.token_revoke(own.id).await.unwrap();
    let (s, e) = own_client
        .send_json(Method::GET, "/api/v1/me", None)
        .await
        .unwrap();
    assert_eq!(
        (s, code(&e)),
        (StatusCode::UNAUTHORIZED, "unauthorized"),
        "revoked at once"
    );
    admin.token_revoke(bob.id).await.unwrap();
    let (s, _) = bob_client
        .send_json(Method::GET, "/api/v1/runs", None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED, "an admin revokes anyone's");

    // The admin token acts in another workspace when asked; an unknown
    // one is not found.
    let in_a = admin.in_workspace("team-a");
    assert_eq!(in_a.me().await.unwrap().workspace, "team-a");
    let (s, runs) = in_a
        .send_json(Method::GET, "/api/v1/runs", None)
        .await
        .unwrap();
    assert_eq!(
        (s, runs),
        (StatusCode::OK, json!([])),
        "team-a sees none of default's runs"
    );
    let id = run["id"].as_i64().unwrap();
    let (s, _) = in_a
        .send_json(Method::GET, &format!("/api/v1/runs/{id}"), None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::NOT_FOUND, "another workspace's run");
    let (s, _) = admin
        .in_workspace("nope")
        .send_json(Method::GET, "/api/v1/me", None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Every change was audited with actor and source address.
    let audit = audit_actions(&store, DEFAULT_WORKSPACE).await;
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    for want in [
        "user.created",
        "member.set",
        "token.created",
        "token.revoked",
    ] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    let (_, member) = audit
        .iter()
        .find(|(a, d)| a == "member.set" && d["before"] == "operator")
        .unwrap();
    assert_eq!(
        (member["after"].as_str(), member["source"].as_str()),
        (Some("approver"), Some("127.0.0.1"))
    );
    assert!(
        !format!("{audit:?}").contains(&created.token),
        "no token in the audit log"
    );
    let team = audit_actions(&store, "team-a").await;
    assert_eq!(team[0].0, "workspace.created");
    app.stop().await;
}

/// A client that keeps no cookies and follows no redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn cookie_named<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn value(cookie: &str) -> &str {
    cookie.split(';').next().unwrap().split_once('=').unwrap().1
}

async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    form: &[(&str, &str)],
    proto: Option<&str>,
) -> reqwest::Response {
    let mut rb = http.post(format!("{base}/login")).form(form);
    if let Some(p) = proto {
        rb = rb.header("x-forwarded-proto", p);
    }
    rb.send().await.unwrap()
}

async fn sign_in_csrf_and_sign_out(store: DynStore) {
    let (app, admin) = app(store.clone(), Some(ADMIN)).await;
    let base = app.url.clone();
    admin
        .user_create("alice", Some("correct horse"))
        .await
        .unwrap();
    admin
        .member_set("default", "alice", "operator")
        .await
        .unwrap();
    let http = browser();

    // A page without a session goes to the sign-in form, keeping the page.
    let r = http
        .get(format!("{base}/runs?status=failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login?next=/runs%3Fstatus%3Dfailed");
    // An open redirect is not followed: the form keeps `/`.
    let page = http
        .get(format!("{base}/login?next=https://evil.example"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"name="next" value="/""#), "{page}");
    assert!(!page.contains("evil.example"));

    // Wrong password: 401, the form again, no cookie, audited.
    let r = sign_in(
        &http,
        &base,
        &[
            ("name", "alice"),
            ("password", "wrong password"),
            ("workspace", "default"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_named(&r, "opsroom_session").is_none());
    // Right password, but no role in that workspace: the same refusal.
    let r = sign_in(
        &http,
        &base,
        &[
            ("name", "alice"),
            ("password", "correct horse"),
            ("workspace", "nope"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Signed in: the session cookie (HttpOnly, SameSite, Secure over TLS),
    // and a redirect that stays on this server.
    let r = sign_in(
        &http,
        &base,
        &[
            ("name", "alice"),
            ("password", "correct horse"),
            ("workspace", "default"),
            ("next", "https://evil.example"),
        ],
        Some("https"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/");
    let session = cookie_named(&r, "opsroom_session").unwrap().to_string();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Secure"),
        "{session}"
    );
    let r = sign_in(
        &http,
        &base,
        &[
            ("name", "alice"),
            ("password", "correct horse"),
            ("workspace", "default"),
            ("next", "/runs?status=failed"),
        ],
        None,
    )
    .await;
    assert_eq!(r.headers()[LOCATION], "/runs?status=failed");
    let session = cookie_named(&r, "opsroom_session").unwrap().to_string();
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    let csrf = value(cookie_named(&r, "opsroom_csrf").unwrap()).to_string();
    let sid = value(&session).to_string();
    assert!(
        store.token_lookup(&digest(&sid)).await.unwrap().is_none(),
        "a session id is no token"
    );
    let cookie = format!("opsroom_session={sid}; opsroom_csrf={csrf}");

    // The cookie opens the UI and the API.
    let r = http
        .get(format!("{base}/runs"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = http
        .get(format!("{base}/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({"user": "alice", "workspace": "default", "role": "operator"})
    );

    // A change made with the cookie needs the CSRF token.
    let r = http
        .post(format!("{base}/api/v1/runs"))
        .header("cookie", &cookie)
        .json(&json!({"runbook": "noop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let e: Value = r.json().await.unwrap();
    assert_eq!(code(&e), "csrf");
    let r = http
        .post(format!("{base}/api/v1/runs"))
        .header("cookie", &cookie)
        .header("x-csrf-token", "not-the-token")
        .json(&json!({"runbook": "noop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(format!("{base}/api/v1/runs"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"runbook": "noop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let run: Value = r.json().await.unwrap();
    assert_eq!(run["created_by"], "alice");
    let runs = admin.runs(&Default::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "the refused requests stored nothing");

    // Sign-out needs the CSRF token too (the form's hidden field).
    let r = http
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login");
    assert!(cookie_named(&r, "opsroom_session")
        .unwrap()
        .contains("Max-Age=0"));
    let r = http
        .get(format!("{base}/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the session is gone");
    let r = http
        .get(format!("{base}/runs"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let audit = audit_actions(&store, DEFAULT_WORKSPACE).await;
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "signin.failed").count(),
        2,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "signin").count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"signout"), "{actions:?}");
    let (_, failed) = audit.iter().find(|(a, _)| a == "signin.failed").unwrap();
    assert_eq!(failed["source"], "127.0.0.1");
    app.stop().await;
}

async fn failed_sign_ins_are_throttled(store: DynStore) {
    let (app, admin) = app(store, Some(ADMIN)).await;
    admin
        .user_create("dora", Some("the right one"))
        .await
        .unwrap();
    admin.member_set("default", "dora", "viewer").await.unwrap();
    let http = browser();
    let wrong = [
        ("name", "dora"),
        ("password", "a wrong one"),
        ("workspace", "default"),
    ];
    for attempt in 1..=5 {
        let r = sign_in(&http, &app.url, &wrong, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // Locked now: even the right password is refused for a while.
    let right = [
        ("name", "dora"),
        ("password", "the right one"),
        ("workspace", "default"),
    ];
    let r = sign_in(&http, &app.url, &right, None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert!(cookie_named(&r, "opsroom_session").is_none());
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));
    app.stop().await;
}

/// The admin token on a UI link is exchanged for a session once; the
/// session is the bootstrap admin's and needs the CSRF token for changes.
async fn admin_token_link_becomes_a_session(store: DynStore) {
    let (app, _) = app(store, Some(ADMIN)).await;
    let http = browser();
    let r = http
        .get(format!("{}/workers?token={ADMIN}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/workers");
    let sid = value(cookie_named(&r, "opsroom_session").unwrap()).to_string();
    let csrf = value(cookie_named(&r, "opsroom_csrf").unwrap()).to_string();
    assert_ne!(sid, ADMIN);
    let cookie = format!("opsroom_session={sid}");
    let me: Value = http
        .get(format!("{}/api/v1/me", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({"user": "admin", "workspace": "default", "role": "admin"})
    );
    let r = http
        .post(format!("{}/api/v1/sessions", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(format!("{}/api/v1/sessions", app.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    app.stop().await;
}

/// No admin token and no users: requests act as admin of default (on
/// loopback). The first user created becomes admin of default and ends
/// that mode.
async fn local_mode_ends_with_the_first_user(store: DynStore) {
    let (app, local) = app(store, None).await;
    let me = local.me().await.unwrap();
    assert_eq!((me.user.as_str(), me.role.as_str()), ("operator", "admin"));
    local
        .user_create("root", Some("root password"))
        .await
        .unwrap();
    let (s, _) = local
        .send_json(Method::GET, "/api/v1/me", None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED, "sign-in is required now");
    let http = browser();
    let r = sign_in(
        &http,
        &app.url,
        &[
            ("name", "root"),
            ("password", "root password"),
            ("workspace", "default"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let sid = value(cookie_named(&r, "opsroom_session").unwrap()).to_string();
    let me: Value = http
        .get(format!("{}/api/v1/me", app.url))
        .header("cookie", format!("opsroom_session={sid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({"user": "root", "workspace": "default", "role": "admin"})
    );
    app.stop().await;
}

opsroom_store::on_both_stores!(
    people_workspaces_roles_and_tokens,
    sign_in_csrf_and_sign_out,
    failed_sign_ins_are_throttled,
    admin_token_link_becomes_a_session,
    local_mode_ends_with_the_first_user,
);
