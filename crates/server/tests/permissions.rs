//! The permission matrix: every API route called with each role (viewer,
//! operator, approver, admin), an admin of another workspace, no token, a
//! wrong token, a revoked token and an expired token, on both stores. Each
//! cell's status is asserted against the table below (written out here, not
//! read from the server's own table) and the whole matrix is printed
//! (`cargo test -p opsroom-server --test permissions -- --nocapture`).

use chrono::Utc;
use opsroom_auth::token::digest;
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::CreateToken;
use opsroom_store::{AuditSource, DynStore, RunInsertParams, TokenCreateParams, DEFAULT_WORKSPACE};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

const ADMIN: &str = "matrix-admin-token";
const EXPIRED: &str = "opsroom_expired-token-of-the-matrix-test-0000000000000";

/// Who calls.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Caller {
    NoToken,
    WrongToken,
    Revoked,
    Expired,
    Viewer,
    Operator,
    Approver,
    Admin,
    /// Admin of workspace `other`, calling on `default`'s things.
    OtherAdmin,
}

const CALLERS: [Caller; 9] = [
    Caller::NoToken,
    Caller::WrongToken,
    Caller::Revoked,
    Caller::Expired,
    Caller::Viewer,
    Caller::Operator,
    Caller::Approver,
    Caller::Admin,
    Caller::OtherAdmin,
];

/// The lowest role a route needs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Need {
    Viewer,
    Operator,
    Approver,
    Admin,
    /// Signed in; the thing acted on must be the caller's own unless they
    /// are admin (revoking a token).
    OwnOrAdmin,
    /// No token: a request signature (a hook, Slack). The matrix sends none, so
    /// every caller, admin included, is refused.
    Signed,
}

/// What a route acts on: something of `default` (another workspace gets
/// 404), or only the caller's own workspace (always found).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    DefaultThing,
    OwnWorkspace,
}

struct Route {
    method: Method,
    template: &'static str,
    need: Need,
    scope: Scope,
}

fn route(method: Method, template: &'static str, need: Need, scope: Scope) -> Route {
    Route {
        method,
        template,
        need,
        scope,
    }
}

fn routes() -> Vec<Route> {
    use Need::*;
    use Scope::*;
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    vec![
        route(post.clone(), "/api/v1/parse", Viewer, OwnWorkspace),
        route(get.clone(), "/api/v1/runbooks", Viewer, OwnWorkspace),
        route(get.clone(), "/api/v1/workers", Viewer, OwnWorkspace),
        route(get.clone(), "/api/v1/runs", Viewer, OwnWorkspace),
        route(post.clone(), "/api/v1/runs", Operator, OwnWorkspace),
        route(get.clone(), "/api/v1/runs/{id}", Viewer, DefaultThing),
        route(
            get.clone(),
            "/api/v1/runs/{id}/events",
            Viewer,
            DefaultThing,
        ),
        route(
            get.clone(),
            "/api/v1/runs/{id}/events/stream",
            Viewer,
            DefaultThing,
        ),
        route(get.clone(), "/api/v1/runs/{id}/log", Viewer, DefaultThing),
        route(
            get.clone(),
            "/api/v1/runs/{id}/artifacts",
            Viewer,
            DefaultThing,
        ),
        route(
            post.clone(),
            "/api/v1/runs/{id}/cancel",
            Operator,
            DefaultThing,
        ),
        route(
            post.clone(),
            "/api/v1/runs/{id}/retry",
            Operator,
            DefaultThing,
        ),
        route(
            post.clone(),
            "/api/v1/runs/{id}/approve",
            Approver,
            DefaultThing,
        ),
        route(
            post.clone(),
            "/api/v1/runs/{id}/reject",
            Approver,
            DefaultThing,
        ),
        route(post.clone(), "/api/v1/sessions", Operator, OwnWorkspace),
        route(get.clone(), "/api/v1/sessions", Viewer, OwnWorkspace),
        route(get.clone(), "/api/v1/sessions/{id}", Viewer, DefaultThing),
        route(get.clone(), "/api/v1/secrets", Admin, OwnWorkspace),
        route(put.clone(), "/api/v1/secrets/{name}", Admin, OwnWorkspace),
        route(
            delete.clone(),
            "/api/v1/secrets/{name}",
            Admin,
            DefaultThing,
        ),
        route(post.clone(), "/api/v1/workspaces", Admin, OwnWorkspace),
        route(post.clone(), "/api/v1/users", Admin, OwnWorkspace),
        route(
            put.clone(),
            "/api/v1/workspaces/{ws}/members/{user}",
            Admin,
            DefaultThing,
        ),
        route(post.clone(), "/api/v1/tokens", Viewer, OwnWorkspace),
        route(
            delete.clone(),
            "/api/v1/tokens/{id}",
            OwnOrAdmin,
            DefaultThing,
        ),
        route(get.clone(), "/api/v1/me", Viewer, OwnWorkspace),
        route(get.clone(), "/api/v1/approvals", Viewer, OwnWorkspace),
        route(get.clone(), "/api/v1/audit", Admin, OwnWorkspace),
        route(
            get.clone(),
            "/api/v1/notifications/deliveries",
            Viewer,
            OwnWorkspace,
        ),
        route(post.clone(), "/api/v1/hooks/{name}", Signed, OwnWorkspace),
        route(
            post.clone(),
            "/api/v1/integrations/slack/commands",
            Signed,
            OwnWorkspace,
        ),
        route(
            post.clone(),
            "/api/v1/integrations/slack/interactions",
            Signed,
            OwnWorkspace,
        ),
        route(get.clone(), "/api/v1/schedules", Viewer, OwnWorkspace),
        route(post.clone(), "/api/v1/schedules", Operator, OwnWorkspace),
        route(
            post.clone(),
            "/api/v1/schedules/{id}/pause",
            Operator,
            DefaultThing,
        ),
        route(
            post.clone(),
            "/api/v1/schedules/{id}/resume",
            Operator,
            DefaultThing,
        ),
        route(
            delete.clone(),
            "/api/v1/schedules/{id}",
            Operator,
            DefaultThing,
        ),
    ]
}

/// The status a caller must get: exact, or any 2xx.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Status(u16),
    Success,
}

fn expected(route: &Route, caller: Caller) -> Expect {
    if route.need == Need::Signed {
        return Expect::Status(401);
    }
    let role = match caller {
        Caller::NoToken | Caller::WrongToken | Caller::Revoked | Caller::Expired => {
            return Expect::Status(401)
        }
        Caller::OtherAdmin => {
            return if route.scope == Scope::DefaultThing {
                Expect::Status(404)
            } else {
                Expect::Success
            };
        }
        Caller::Viewer => Need::Viewer,
        Caller::Operator => Need::Operator,
        Caller::Approver => Need::Approver,
        Caller::Admin => Need::Admin,
    };
    match route.need {
        // The token revoked in that cell is the viewer's own.
        Need::OwnOrAdmin if matches!(caller, Caller::Viewer | Caller::Admin) => Expect::Success,
        Need::OwnOrAdmin => Expect::Status(403),
        need if role >= need => Expect::Success,
        _ => Expect::Status(403),
    }
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", UNIQUE.fetch_add(1, Ordering::Relaxed))
}

/// Callers' clients and the admin's, and the store for fixtures.
struct World {
    app: TestApp,
    admin: ApiClient,
    callers: Vec<(Caller, ApiClient)>,
    store: DynStore,
}

impl World {
    async fn new(store: DynStore) -> World {
        let (key, _) = opsroom_auth::MasterKey::generate();
        let app = TestApp::spawn(
            store.clone(),
            TestAppOptions {
                admin_token: Some(ADMIN.into()),
                workers: 0,
                secret_key: Some(key),
                configure: Some(std::sync::Arc::new(|config| {
                    let hooks = opsroom_engine::OpsConfig::parse(
                        "hooks.toml",
                        "[environments.dev]\n[hooks.matrix]\nsecret = \"file:/etc/hostname\"\nrunbook = \"noop\"\nenv = \"dev\"\n[slack]\nsigning_secret = \"file:/etc/hostname\"\n",
                    )
                    .unwrap();
                    config.hooks = hooks.hooks;
                    config.slack = hooks.slack;
                    config.secrets.extend(hooks.secrets);
                })),
                ..Default::default()
            },
        )
        .await;
        let base = ApiClient::new(&app.url).unwrap();
        let admin = base.clone().with_token(Some(ADMIN.into()));
        let mut callers = vec![
            (Caller::NoToken, base.clone()),
            (
                Caller::WrongToken,
                base.clone()
                    .with_token(Some("opsroom_not-a-token-anyone-has".into())),
            ),
        ];
        admin.user_create("revoked-op", None).await.unwrap();
        admin
            .member_set(DEFAULT_WORKSPACE, "revoked-op", "operator")
            .await
            .unwrap();
        let token = admin
            .token_create(&CreateToken {
                user: Some("revoked-op".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let revoked = base.clone().with_token(Some(token.token.clone()));
        assert_eq!(
            revoked.me().await.unwrap().user,
            "revoked-op",
            "works before"
        );
        admin.token_revoke(token.id).await.unwrap();
        callers.push((Caller::Revoked, revoked));
        admin
            .member_with_token(DEFAULT_WORKSPACE, "expired-op", "operator")
            .await
            .unwrap();
        let now = Utc::now();
        store
            .token_create(TokenCreateParams {
                workspace_id: DEFAULT_WORKSPACE.into(),
                user: "expired-op".into(),
                name: None,
                digest: digest(EXPIRED),
                expires_at: Some(now - chrono::Duration::minutes(1)),
                source: AuditSource {
                    actor: "test".into(),
                    address: None,
                },
                now: now - chrono::Duration::hours(1),
            })
            .await
            .unwrap();
        callers.push((
            Caller::Expired,
            base.clone().with_token(Some(EXPIRED.into())),
        ));
        for (caller, name) in [
            (Caller::Viewer, "viewer"),
            (Caller::Operator, "operator"),
            (Caller::Approver, "approver"),
            (Caller::Admin, "admin-user"),
        ] {
            let role = if name == "admin-user" { "admin" } else { name };
            let c = admin
                .member_with_token(DEFAULT_WORKSPACE, name, role)
                .await
                .unwrap();
            callers.push((caller, c));
        }
        admin.workspace_create("other").await.unwrap();
        let other = admin
            .member_with_token("other", "outsider", "admin")
            .await
            .unwrap();
        assert_eq!(other.me().await.unwrap().workspace, "other");
        callers.push((Caller::OtherAdmin, other));
        World {
            app,
            admin,
            callers,
            store,
        }
    }

    /// A fresh path and body for one call of `route` (things of `default`
    /// made by the admin, so each cell can succeed on its own).
    async fn fixture(&self, route: &Route) -> (String, Option<Value>) {
        let a = &self.admin;
        let run = || async {
            let (s, r) = a
                .send_json(
                    Method::POST,
                    "/api/v1/runs",
                    Some(&json!({"runbook": "noop"})),
                )
                .await
                .unwrap();
            assert_eq!(s.as_u16(), 201, "{r}");
            r["id"].as_i64().unwrap()
        };
        let waiting = || async {
            let mut p = RunInsertParams::new("noop", Utc::now());
            p.needs_approval = true;
            p.actor = "someone else".into();
            self.store.run_insert(p).await.unwrap().0.id
        };
        match route.template {
            "/api/v1/parse" => (
                route.template.into(),
                Some(json!({"text": "check prod status"})),
            ),
            "/api/v1/runs" if route.method == Method::POST => {
                (route.template.into(), Some(json!({"runbook": "noop"})))
            }
            "/api/v1/runs/{id}/retry" => {
                let id = run().await;
                a.send_json(Method::POST, &format!("/api/v1/runs/{id}/cancel"), None)
                    .await
                    .unwrap();
                (format!("/api/v1/runs/{id}/retry"), None)
            }
            "/api/v1/runs/{id}/approve" | "/api/v1/runs/{id}/reject" => {
                let id = waiting().await;
                (route.template.replace("{id}", &id.to_string()), None)
            }
            t if t.starts_with("/api/v1/runs/{id}") => {
                let id = run().await;
                (t.replace("{id}", &id.to_string()), None)
            }
            "/api/v1/sessions" if route.method == Method::POST => {
                (route.template.into(), Some(json!({"name": "matrix"})))
            }
            "/api/v1/sessions/{id}" => {
                let (_, s) = a
                    .send_json(Method::POST, "/api/v1/sessions", Some(&json!({})))
                    .await
                    .unwrap();
                (format!("/api/v1/sessions/{}", s["id"]), None)
            }
            "/api/v1/secrets/{name}" => {
                let name = unique("secret");
                if route.method == Method::DELETE {
                    a.secret_set(&name, "value").await.unwrap();
                    (format!("/api/v1/secrets/{name}"), None)
                } else {
                    (
                        format!("/api/v1/secrets/{name}"),
                        Some(json!({"value": "v"})),
                    )
                }
            }
            "/api/v1/schedules" if route.method == Method::POST => (
                route.template.into(),
                Some(json!({"cron": "*/5 * * * *", "runbook": "noop"})),
            ),
            t if t.starts_with("/api/v1/schedules/{id}") => {
                let (s, body) = a
                    .send_json(
                        Method::POST,
                        "/api/v1/schedules",
                        Some(&json!({"cron": "0 3 * * *", "runbook": "noop"})),
                    )
                    .await
                    .unwrap();
                assert_eq!(s.as_u16(), 201, "{body}");
                (t.replace("{id}", &body["id"].to_string()), None)
            }
            "/api/v1/workspaces" => (route.template.into(), Some(json!({"name": unique("ws")}))),
            "/api/v1/users" => (route.template.into(), Some(json!({"name": unique("u")}))),
            "/api/v1/workspaces/{ws}/members/{user}" => {
                let user = unique("m");
                a.user_create(&user, None).await.unwrap();
                (
                    format!("/api/v1/workspaces/default/members/{user}"),
                    Some(json!({"role": "viewer"})),
                )
            }
            "/api/v1/tokens" => (route.template.into(), Some(json!({"name": "mine"}))),
            "/api/v1/hooks/{name}" => ("/api/v1/hooks/matrix".into(), Some(json!({}))),
            "/api/v1/tokens/{id}" => {
                let created = a
                    .token_create(&CreateToken {
                        user: Some("viewer".into()),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                (format!("/api/v1/tokens/{}", created.id), None)
            }
            t => (t.into(), None),
        }
    }
}

async fn every_route_by_every_caller(store: DynStore) {
    let world = World::new(store).await;
    let routes = routes();

    // The table covers every API operation the server documents.
    let doc: Value = reqwest::get(format!("{}/api/openapi.json", world.app.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/"))
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    let tested: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.to_string(), r.template.to_string()))
        .collect();
    assert_eq!(
        documented.difference(&tested).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "API routes missing from the matrix"
    );

    let mut failures = Vec::new();
    let mut table = String::new();
    table.push_str(&format!("{:<48}", "route"));
    for c in CALLERS {
        table.push_str(&format!("{:>11}", format!("{c:?}")));
    }
    table.push('\n');
    for route in &routes {
        table.push_str(&format!(
            "{:<48}",
            format!("{} {}", route.method, route.template)
        ));
        for (caller, client) in &world.callers {
            let (path, body) = world.fixture(route).await;
            let mut request = client.request(route.method.clone(), &path);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            drop(response);
            let want = expected(route, *caller);
            let ok = match want {
                Expect::Status(s) => status == s,
                Expect::Success => (200..300).contains(&status),
            };
            table.push_str(&format!(
                "{:>11}",
                format!("{status}{}", if ok { "" } else { "!" })
            ));
            if !ok {
                failures.push(format!(
                    "{} {} as {caller:?}: got {status}, expected {want:?}",
                    route.method, path
                ));
            }
        }
        table.push('\n');
    }
    println!(
        "permission matrix ({} store; `!` marks a cell that differs from the table):\n{table}",
        world.store.backend()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    world.app.stop().await;
}

opsroom_store::on_both_stores!(every_route_by_every_caller);
