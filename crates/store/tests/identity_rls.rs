//! The identity tables under PostgreSQL row-level security, as a role
//! without BYPASSRLS (nor superuser, nor table owner) sees them: tokens and
//! sessions are found by their digest before their workspace is known,
//! memberships only in the transaction's workspace, and nothing without
//! the setting.

use chrono::{Duration, Utc};
use opsroom_auth::Role;
use opsroom_store::postgres::PgStore;
use opsroom_store::testing::test_database_url;
use opsroom_store::*;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::str::FromStr;

fn source() -> AuditSource {
    AuditSource {
        actor: "admin".into(),
        address: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_works_for_a_role_without_bypassrls() {
    let base = test_database_url();
    let suffix = format!("{}_{}", std::process::id(), Utc::now().timestamp_micros());
    let schema = format!("opsroom_rls_{suffix}");
    let role = format!("opsroom_rls_role_{suffix}");
    let mut admin = PgConnection::connect(&base)
        .await
        .expect("PostgreSQL is needed");
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {schema}; CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let owner_opts = PgConnectOptions::from_str(&base)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let owner = PgStore::connect_with(owner_opts.clone(), 2).await.unwrap();
    owner.migrate().await.unwrap();
    drop(owner);
    sqlx::raw_sql(&format!(
        "GRANT USAGE ON SCHEMA {schema} TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let restricted = PgStore::connect_with(owner_opts.clone().username(&role), 2)
        .await
        .unwrap();

    let now = Utc::now();
    restricted
        .user_create(UserCreateParams {
            name: Name::parse("rita").unwrap(),
            password_hash: None,
            workspace_id: DEFAULT_WORKSPACE.into(),
            role: Some(Role::Operator),
            source: source(),
            now,
        })
        .await
        .unwrap();
    restricted
        .workspace_create(WorkspaceCreateParams {
            name: Name::parse("other").unwrap(),
            admin: None,
            source: source(),
            now,
        })
        .await
        .unwrap();
    restricted
        .token_create(TokenCreateParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            user: "rita".into(),
            name: None,
            digest: "rls-digest".into(),
            expires_at: None,
            source: source(),
            now,
        })
        .await
        .unwrap();
    let found = restricted
        .token_lookup("rls-digest")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.token.user.as_str(), found.role),
        ("rita", Some(Role::Operator))
    );
    restricted
        .ui_session_create(UiSessionCreateParams {
            digest: "rls-session".into(),
            session: UiSession {
                workspace_id: DEFAULT_WORKSPACE.into(),
                user: "rita".into(),
                bootstrap_admin: false,
                csrf_token: "c".into(),
                created_at: now,
                expires_at: now + Duration::hours(1),
            },
            source: source(),
        })
        .await
        .unwrap();
    let s = restricted
        .ui_session_lookup("rls-session")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.role, Some(Role::Operator));
    assert_eq!(restricted.member_role("other", "rita").await.unwrap(), None);
    let token = found.token;
    assert!(matches!(
        restricted.token_get("other", token.id).await,
        Err(StoreError::NotFound { .. })
    ));
    restricted
        .token_revoke(TokenRevokeParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            id: token.id,
            source: source(),
            now,
        })
        .await
        .unwrap();

    // The bare role, without the settings, sees no row of any workspace.
    let mut bare = PgConnection::connect_with(&owner_opts.clone().username(&role))
        .await
        .unwrap();
    for table in ["memberships", "api_tokens", "ui_sessions"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut bare)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} without opsroom.workspace");
    }
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM memberships WHERE current_setting('opsroom.workspace', true) IS NULL OR true",
    )
    .fetch_one(&mut bare)
    .await
    .unwrap();
    assert_eq!(n, 0);
    let mut tx = bare.begin().await.unwrap();
    sqlx::query("SELECT set_config('opsroom.workspace', 'default', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1, "with the setting: that workspace's rows");
    tx.rollback().await.unwrap();
    drop(bare);
    drop(restricted);

    sqlx::raw_sql(&format!(
        "DROP SCHEMA {schema} CASCADE; DROP OWNED BY {role}; DROP ROLE {role}"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
}
