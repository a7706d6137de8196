//! People, workspaces, roles, tokens and sign-in sessions on both stores:
//! names are unique, digests (never secrets) are stored, roles are per
//! workspace, revocation is immediate, and each change has its audit entry.

use super::t0;
use chrono::Duration;
use opsroom_auth::Role;
use opsroom_store::*;

fn name(n: &str) -> Name {
    Name::parse(n).unwrap()
}

fn source(actor: &str) -> AuditSource {
    AuditSource {
        actor: actor.into(),
        address: Some("127.0.0.1".into()),
    }
}

fn user(n: &str, hash: Option<&str>) -> UserCreateParams {
    UserCreateParams {
        name: name(n),
        password_hash: hash.map(String::from),
        workspace_id: DEFAULT_WORKSPACE.into(),
        role: None,
        source: source("admin"),
        now: t0(),
    }
}

fn member(ws: &str, u: &str, role: Role) -> MemberSetParams {
    MemberSetParams {
        workspace_id: ws.into(),
        user: u.into(),
        role,
        source: source("admin"),
        now: t0(),
    }
}

fn token(ws: &str, u: &str, digest: &str) -> TokenCreateParams {
    TokenCreateParams {
        workspace_id: ws.into(),
        user: u.into(),
        name: Some("ci".into()),
        digest: digest.into(),
        expires_at: Some(t0() + Duration::hours(1)),
        source: source(u),
        now: t0(),
    }
}

async fn actions(store: &DynStore, ws: &str) -> Vec<String> {
    let mut a: Vec<String> = store
        .audit_list(AuditListParams::newest(ws, 100))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    a.reverse();
    a
}

async fn workspaces_and_users_are_unique_and_default_exists(store: DynStore) {
    let default = store.workspace_get(DEFAULT_WORKSPACE).await.unwrap();
    assert_eq!(default.name, "default");
    assert!(!store.users_exist().await.unwrap(), "no users at first");

    let alice = store
        .user_create(user("alice", Some("$argon2id$v=19$fake")))
        .await
        .unwrap();
    assert_eq!(
        (alice.name.as_str(), alice.has_password, alice.created_at),
        ("alice", true, t0())
    );
    assert!(store.users_exist().await.unwrap());
    let again = store.user_create(user("alice", None)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let creds = store.user_credentials("alice").await.unwrap();
    assert_eq!(creds.password_hash.as_deref(), Some("$argon2id$v=19$fake"));
    assert!(
        !format!("{creds:?}").contains("argon2id"),
        "Debug hides the hash"
    );
    assert!(matches!(
        store.user_credentials("nobody").await,
        Err(StoreError::NotFound { what: "user", .. })
    ));

    let ws = store
        .workspace_create(WorkspaceCreateParams {
            name: name("team-a"),
            admin: Some("alice".into()),
            source: source("alice"),
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!(
        (ws.name.as_str(), ws.created_by.as_str()),
        ("team-a", "alice")
    );
    assert_eq!(
        store.member_role("team-a", "alice").await.unwrap(),
        Some(Role::Admin),
        "who creates a workspace administers it"
    );
    let dup = store
        .workspace_create(WorkspaceCreateParams {
            name: name("team-a"),
            admin: None,
            source: source("alice"),
            now: t0(),
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert!(matches!(
        store.workspace_get("team-b").await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(actions(&store, DEFAULT_WORKSPACE).await, ["user.created"]);
    assert_eq!(actions(&store, "team-a").await, ["workspace.created"]);

    for bad in ["", "-x", "a b", "é", &"x".repeat(65), "a/b"] {
        assert!(Name::parse(bad).is_err(), "{bad:?}");
    }
    assert!(Name::parse("ops.team_1-x").is_ok());
}

async fn roles_are_per_workspace_with_before_and_after(store: DynStore) {
    store.user_create(user("bob", None)).await.unwrap();
    let mut first = user("carol", None);
    first.role = Some(Role::Admin);
    store.user_create(first).await.unwrap();
    assert_eq!(
        store.member_role(DEFAULT_WORKSPACE, "carol").await.unwrap(),
        Some(Role::Admin)
    );
    assert_eq!(
        store.member_role(DEFAULT_WORKSPACE, "bob").await.unwrap(),
        None
    );
    let set = store
        .member_set(member(DEFAULT_WORKSPACE, "bob", Role::Viewer))
        .await
        .unwrap();
    assert_eq!((set.before, set.membership.role), (None, Role::Viewer));
    let set = store
        .member_set(member(DEFAULT_WORKSPACE, "bob", Role::Approver))
        .await
        .unwrap();
    assert_eq!(set.before, Some(Role::Viewer));
    assert_eq!(
        store.member_role(DEFAULT_WORKSPACE, "bob").await.unwrap(),
        Some(Role::Approver)
    );
    store
        .workspace_create(WorkspaceCreateParams {
            name: name("other"),
            admin: None,
            source: source("admin"),
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!(
        store.member_role("other", "bob").await.unwrap(),
        None,
        "a role holds in its workspace only"
    );
    assert!(matches!(
        store.member_set(member("nope", "bob", Role::Viewer)).await,
        Err(StoreError::NotFound {
            what: "workspace",
            ..
        })
    ));
    assert!(matches!(
        store
            .member_set(member(DEFAULT_WORKSPACE, "nobody", Role::Viewer))
            .await,
        Err(StoreError::NotFound { what: "user", .. })
    ));
    let audit = store
        .audit_list(AuditListParams::newest(DEFAULT_WORKSPACE, 10))
        .await
        .unwrap();
    let last = &audit[0];
    assert_eq!(last.action, "member.set");
    assert_eq!(last.details["before"], "viewer");
    assert_eq!(last.details["after"], "approver");
    assert_eq!(last.source.as_deref(), Some("127.0.0.1"));
    assert_eq!(last.actor, "admin");
}

async fn tokens_are_found_by_digest_and_revoked_at_once(store: DynStore) {
    store.user_create(user("dave", None)).await.unwrap();
    store
        .member_set(member(DEFAULT_WORKSPACE, "dave", Role::Operator))
        .await
        .unwrap();
    let created = store
        .token_create(token(DEFAULT_WORKSPACE, "dave", "d1"))
        .await
        .unwrap();
    assert_eq!(created.user, "dave");
    assert_eq!(created.name.as_deref(), Some("ci"));
    assert_eq!(created.expires_at, Some(t0() + Duration::hours(1)));
    assert!(created.is_live(t0()));
    assert!(!created.is_live(t0() + Duration::hours(1)), "expired");

    let found = store.token_lookup("d1").await.unwrap().unwrap();
    assert_eq!(found.token, created);
    assert_eq!(found.role, Some(Role::Operator));
    assert!(store.token_lookup("d2").await.unwrap().is_none());

    // A token of a user who is not (or no longer) a member has no role.
    store.user_create(user("erin", None)).await.unwrap();
    store
        .token_create(token(DEFAULT_WORKSPACE, "erin", "e1"))
        .await
        .unwrap();
    assert_eq!(store.token_lookup("e1").await.unwrap().unwrap().role, None);

    assert!(matches!(
        store.token_get("other", created.id).await,
        Err(StoreError::NotFound { what: "token", .. })
    ));
    let revoke = |ws: &str, minutes: i64| TokenRevokeParams {
        workspace_id: ws.into(),
        id: created.id,
        source: source("dave"),
        now: t0() + Duration::minutes(minutes),
    };
    assert!(matches!(
        store.token_revoke(revoke("other", 1)).await,
        Err(StoreError::NotFound { .. })
    ));
    let revoked = store
        .token_revoke(revoke(DEFAULT_WORKSPACE, 1))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(t0() + Duration::minutes(1)));
    assert!(!revoked.is_live(t0() + Duration::minutes(2)));
    let again = store
        .token_revoke(revoke(DEFAULT_WORKSPACE, 5))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at, "revoked once");
    let found = store.token_lookup("d1").await.unwrap().unwrap();
    assert!(found.token.revoked_at.is_some());
    let dup = store
        .token_create(token(DEFAULT_WORKSPACE, "dave", "d1"))
        .await;
    assert!(dup.is_err(), "digests are unique");
    assert!(matches!(
        store.token_create(token("nope", "dave", "x9")).await,
        Err(StoreError::NotFound { .. })
    ));
    let acts = actions(&store, DEFAULT_WORKSPACE).await;
    assert_eq!(
        acts.iter().filter(|a| *a == "token.revoked").count(),
        1,
        "{acts:?}"
    );
    assert_eq!(
        acts.iter().filter(|a| *a == "token.created").count(),
        2,
        "{acts:?}"
    );
}

async fn ui_sessions_sign_in_and_out_with_audit(store: DynStore) {
    store.user_create(user("fay", None)).await.unwrap();
    store
        .member_set(member(DEFAULT_WORKSPACE, "fay", Role::Viewer))
        .await
        .unwrap();
    let session = UiSession {
        workspace_id: DEFAULT_WORKSPACE.into(),
        user: "fay".into(),
        bootstrap_admin: false,
        csrf_token: "csrf-1".into(),
        created_at: t0(),
        expires_at: t0() + Duration::hours(12),
    };
    store
        .ui_session_create(UiSessionCreateParams {
            digest: "s1".into(),
            session: session.clone(),
            source: source("fay"),
        })
        .await
        .unwrap();
    let found = store.ui_session_lookup("s1").await.unwrap().unwrap();
    assert_eq!(found.session, session);
    assert_eq!(found.role, Some(Role::Viewer));
    assert!(!format!("{found:?}").contains("csrf-1"));
    assert!(store.ui_session_lookup("s2").await.unwrap().is_none());
    store
        .audit_append(AuditAppendParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            ts: t0(),
            actor: "fay".into(),
            action: "signin.failed".into(),
            subject: "user:fay".into(),
            source: Some("10.0.0.7".into()),
            details: serde_json::json!({"user": "fay"}),
        })
        .await
        .unwrap();
    let out = UiSessionDeleteParams {
        digest: "s1".into(),
        source: source("fay"),
        now: t0(),
    };
    assert!(store.ui_session_delete(out.clone()).await.unwrap());
    assert!(!store.ui_session_delete(out).await.unwrap());
    assert!(store.ui_session_lookup("s1").await.unwrap().is_none());
    let acts = actions(&store, DEFAULT_WORKSPACE).await;
    assert_eq!(
        &acts[acts.len() - 3..],
        ["signin", "signin.failed", "signout"]
    );

    // A sign-in sweeps the workspace's sessions that expired by then; a
    // live one stays.
    for (digest, hours) in [("old", 1), ("live", 48)] {
        let s = UiSession {
            expires_at: t0() + Duration::hours(hours),
            ..session.clone()
        };
        store
            .ui_session_create(UiSessionCreateParams {
                digest: digest.into(),
                session: s,
                source: source("fay"),
            })
            .await
            .unwrap();
    }
    let later = UiSession {
        created_at: t0() + Duration::hours(2),
        expires_at: t0() + Duration::hours(14),
        ..session.clone()
    };
    store
        .ui_session_create(UiSessionCreateParams {
            digest: "next".into(),
            session: later,
            source: source("fay"),
        })
        .await
        .unwrap();
    assert!(
        store.ui_session_lookup("old").await.unwrap().is_none(),
        "an expired session is deleted by the next sign-in"
    );
    assert!(store.ui_session_lookup("live").await.unwrap().is_some());
    assert!(store.ui_session_lookup("next").await.unwrap().is_some());
}

opsroom_store::on_both_stores!(
    workspaces_and_users_are_unique_and_default_exists,
    roles_are_per_workspace_with_before_and_after,
    tokens_are_found_by_digest_and_revoked_at_once,
    ui_sessions_sign_in_and_out_with_audit,
);
