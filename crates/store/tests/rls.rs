//! Row-level security on PostgreSQL (migration 0004_rls): every table with
//! a workspace_id has it forced, a role without BYPASSRLS sees only the
//! rows of the workspace its transaction names, and the whole store works
//! as such a role, workers across workspaces included. Each test makes its
//! own schema and its own uniquely named role, and drops both.

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsroom_core::{EventLevel, RunStatus};
use opsroom_store::testing::TestStore;
use opsroom_store::*;
use sqlx::Connection;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn run_in(workspace: &str) -> RunInsertParams {
    let mut p = RunInsertParams::new("noop", t0());
    p.workspace_id = workspace.into();
    p
}

/// The tables of the test's schema that have a workspace_id column, with
/// whether row-level security is enabled and forced on each.
async fn workspace_tables(t: &TestStore) -> Vec<(String, bool, bool)> {
    let mut conn = sqlx::PgConnection::connect(&t.url).await.unwrap();
    sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// Fails for any table, today's or a future migration's, that has a
/// workspace_id without forced row-level security and a policy on
/// `opsroom.workspace`.
#[tokio::test]
async fn every_table_with_a_workspace_has_forced_row_level_security() {
    let t = TestStore::postgres().await;
    let tables = workspace_tables(&t).await;
    let names: Vec<&str> = tables.iter().map(|(n, ..)| n.as_str()).collect();
    for known in [
        "artifacts",
        "audit_log",
        "run_events",
        "runs",
        "secrets",
        "sessions",
    ] {
        assert!(names.contains(&known), "{known} in {names:?}");
    }
    let unforced: Vec<&str> = tables
        .iter()
        .filter(|(_, enabled, forced)| !(*enabled && *forced))
        .map(|(n, ..)| n.as_str())
        .collect();
    assert!(
        unforced.is_empty(),
        "tables with workspace_id without ENABLE and FORCE ROW LEVEL SECURITY: {unforced:?}"
    );
    let mut conn = sqlx::PgConnection::connect(&t.url).await.unwrap();
    let without_policy: Vec<String> = sqlx::query_scalar(
        "SELECT t FROM unnest($1::text[]) t WHERE NOT EXISTS (SELECT 1 FROM pg_policies p
         WHERE p.schemaname = current_schema() AND p.tablename = t
         AND p.qual LIKE '%current_setting(''opsroom.workspace''%')",
    )
    .bind(&names)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        without_policy.is_empty(),
        "tables without a policy on opsroom.workspace: {without_policy:?}"
    );
    drop(conn);
    t.cleanup().await;
}

/// The claim function holds the same lane and env-lock condition as the
/// SQL SQLite claims with (`src/queries/keys_free.sql`).
#[tokio::test]
async fn the_claim_function_holds_the_shared_key_condition() {
    let t = TestStore::postgres().await;
    let mut conn = sqlx::PgConnection::connect(&t.url).await.unwrap();
    let body: String = sqlx::query_scalar(
        "SELECT prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = current_schema() AND p.proname = 'opsroom_runs_claim'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let squash = |s: &str| {
        s.lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .flat_map(|l| l.split_whitespace())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let keys_free = squash(include_str!("../src/queries/keys_free.sql"));
    assert!(
        squash(&body).contains(&keys_free),
        "opsroom_runs_claim lacks keys_free.sql's condition: a change to it needs a migration that redefines the function"
    );
    drop(conn);
    t.cleanup().await;
}

/// A role without BYPASSRLS: nothing without the setting, only its
/// workspace's rows with it, no write into another workspace, and the
/// definer switch does nothing for it.
#[tokio::test]
async fn a_restricted_role_sees_only_the_workspace_its_transaction_names() {
    let t = TestStore::postgres().await;
    for ws in ["alpha", "beta"] {
        let (r, _) = t.store.run_insert(run_in(ws)).await.unwrap();
        t.store
            .artifact_insert(ArtifactInsertParams {
                workspace_id: ws.into(),
                run_id: r.id,
                fence: None,
                kind: ArtifactKind::Markdown,
                name: format!("{ws}.md"),
                content: "x".into(),
                now: t0(),
            })
            .await
            .unwrap();
        t.store
            .session_create(SessionCreateParams {
                workspace_id: ws.into(),
                name: "s".into(),
                actor: "ana".into(),
                now: t0(),
            })
            .await
            .unwrap();
    }
    let tables: Vec<String> = workspace_tables(&t)
        .await
        .into_iter()
        .map(|(n, ..)| n)
        .collect();
    let role = t.restricted_role().await;
    let mut conn = role.connection().await;
    let (is_super, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!is_super && !bypass);
    for table in &tables {
        assert_eq!(
            workspaces_seen(&mut conn, table).await,
            Vec::<String>::new(),
            "{table} without the setting"
        );
    }
    // The definer switch is for the owner only.
    sqlx::query("SET opsroom.definer = 'on'")
        .execute(&mut conn)
        .await
        .unwrap();
    for table in &tables {
        assert!(
            workspaces_seen(&mut conn, table).await.is_empty(),
            "{table} with opsroom.definer set by the restricted role"
        );
    }
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('opsroom.workspace', 'alpha', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    for table in ["runs", "run_events", "artifacts", "sessions", "audit_log"] {
        assert_eq!(
            workspaces_seen(&mut tx, table).await,
            vec!["alpha".to_string()],
            "{table} in alpha"
        );
    }
    let beta_run: Option<i64> =
        sqlx::query_scalar("UPDATE runs SET priority = 9 WHERE workspace_id = 'beta' RETURNING id")
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
    assert_eq!(beta_run, None, "beta's run is not there to update");
    let smuggled = sqlx::query(
        "INSERT INTO audit_log (workspace_id, ts, actor, action, subject) VALUES ('beta', now(), 'x', 'y', 'z')",
    )
    .execute(&mut *tx)
    .await;
    let err = smuggled.expect_err("a row for another workspace is refused");
    assert!(
        err.to_string().contains("row-level security"),
        "refused by the policy: {err}"
    );
    tx.rollback().await.unwrap();
    // The setting ends with its transaction.
    for table in &tables {
        assert!(workspaces_seen(&mut conn, table).await.is_empty());
    }
    drop(conn);
    role.drop_role().await;
    t.cleanup().await;
}

/// The whole store as the restricted role: runs of two workspaces are
/// created, claimed by one worker, written to and ended; heartbeats,
/// rescue, metrics, the worker list and a key rotation cross workspaces;
/// a read or a worker write naming the wrong workspace finds nothing.
#[tokio::test]
async fn the_store_works_as_the_restricted_role() {
    let t = TestStore::postgres().await;
    let role = t.restricted_role().await;
    let store: DynStore = std::sync::Arc::new(role.store().await);
    assert!(
        store.migrate().await.unwrap().is_empty(),
        "migrate as the restricted role finds all applied and changes nothing"
    );
    let (a, _) = store.run_insert(run_in("alpha")).await.unwrap();
    let (b, _) = store.run_insert(run_in("beta")).await.unwrap();
    let batch = store
        .runs_insert_batch(vec![run_in("beta"), run_in("beta")])
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    assert!(matches!(
        store
            .runs_insert_batch(vec![run_in("alpha"), run_in("beta")])
            .await,
        Err(StoreError::Conflict(_))
    ));
    let claimed = store
        .run_claim(RunClaimParams {
            worker_id: "w1".into(),
            limit: 10,
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4, "a worker claims across workspaces");
    let a = claimed.iter().find(|r| r.id == a.id).unwrap().clone();
    let b = claimed.iter().find(|r| r.id == b.id).unwrap().clone();
    let batch: Vec<Run> = batch
        .iter()
        .map(|x| claimed.iter().find(|r| r.id == x.id).unwrap().clone())
        .collect();
    let append = |run: &Run, workspace: &str| EventsAppendParams {
        workspace_id: workspace.into(),
        run_id: run.id,
        fence: Some(run.fence()),
        events: vec![NewEvent::new(t0(), EventLevel::Info, None, "step")],
        phases: None,
    };
    assert_eq!(
        store.events_append(append(&a, "alpha")).await.unwrap(),
        Seq(3)
    );
    assert!(matches!(
        store.events_append(append(&a, "beta")).await,
        Err(StoreError::LeaseLost { .. })
    ));
    let artifact = |run: &Run, workspace: &str| ArtifactInsertParams {
        workspace_id: workspace.into(),
        run_id: run.id,
        fence: Some(run.fence()),
        kind: ArtifactKind::Markdown,
        name: "r.md".into(),
        content: "ok".into(),
        now: t0(),
    };
    store.artifact_insert(artifact(&b, "beta")).await.unwrap();
    assert!(matches!(
        store.artifact_insert(artifact(&b, "alpha")).await,
        Err(StoreError::LeaseLost { .. })
    ));
    let cancels = store
        .worker_heartbeat(WorkerHeartbeatParams {
            worker_id: "w1".into(),
            host: "h".into(),
            pid: 1,
            state: WorkerState::Busy,
            concurrency: 4,
            running: claimed.iter().map(|r| r.id).collect(),
            now: t0() + Duration::seconds(5),
        })
        .await
        .unwrap();
    assert!(cancels.is_empty());
    let workers = store.workers_list().await.unwrap();
    assert_eq!(
        workers[0].running.len(),
        4,
        "the worker list crosses workspaces"
    );
    let end = |run: &Run, workspace: &str| RunCompleteParams {
        workspace_id: workspace.into(),
        run_id: run.id,
        fence: run.fence(),
        status: RunStatus::Succeeded,
        error: None,
        retry_at: None,
        events: vec![NewEvent::new(t0(), EventLevel::Info, None, "done")],
        phases: None,
        now: t0(),
    };
    let ended = store
        .runs_complete(vec![
            end(&a, "alpha"),
            end(&b, "alpha"),
            end(&batch[0], "beta"),
        ])
        .await
        .unwrap();
    assert!(ended[0].is_ok() && ended[2].is_ok(), "{ended:?}");
    assert!(
        matches!(ended[1], Err(StoreError::LeaseLost { .. })),
        "a completion naming the wrong workspace ends nothing"
    );
    let ended = store.run_complete(end(&b, "beta")).await.unwrap();
    assert_eq!(ended.status, RunStatus::Succeeded);
    // The last claimed run's worker dies: the rescuer finds it across workspaces.
    let rescued = store
        .runs_rescue(RunsRescueParams {
            stale_before: t0() + Duration::seconds(60),
            now: t0() + Duration::seconds(60),
            retry_at: t0() + Duration::seconds(61),
        })
        .await
        .unwrap();
    assert_eq!(ids(&rescued), vec![batch[1].id]);
    assert_eq!(rescued[0].workspace_id, "beta");
    let counts: std::collections::HashMap<String, i64> = store
        .runs_count_by_status()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(counts.get("succeeded"), Some(&3), "{counts:?}");
    assert_eq!(counts.get("failed"), Some(&1), "{counts:?}");
    // Reads name a workspace and see only it.
    assert_eq!(
        store.run_get("alpha", a.id).await.unwrap().status,
        RunStatus::Succeeded
    );
    assert!(matches!(
        store.run_get("beta", a.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .events_list(EventsListParams::new("alpha", b.id, 10))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store
            .events_list(EventsListParams::new("beta", b.id, 10))
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(store
        .artifacts_list("alpha", b.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.artifacts_list("beta", b.id).await.unwrap().len(), 1);
    let listed = store
        .run_list(RunListParams {
            workspace_id: "beta".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|r| r.workspace_id == "beta"));
    assert!(store
        .audit_list(AuditListParams::newest("alpha", 10))
        .await
        .unwrap()
        .iter()
        .all(|e| e.workspace_id == "alpha"));
    let cancel = RunActionParams {
        workspace_id: "alpha".into(),
        run_id: b.id,
        actor: "ana".into(),
        reason: None,
        source: None,
        allow_self: false,
        now: t0(),
    };
    assert!(matches!(
        store.run_cancel(cancel).await,
        Err(StoreError::NotFound { .. })
    ));
    // Secrets: per workspace, and a rotation re-seals every workspace's.
    for ws in ["alpha", "beta"] {
        store
            .secret_put(SecretPutParams {
                workspace_id: ws.into(),
                name: SecretName::parse("token").unwrap(),
                sealed: format!("sealed-{ws}"),
                key_id: "k1".into(),
                actor: "ana".into(),
                source: None,
                now: t0(),
            })
            .await
            .unwrap();
    }
    assert_eq!(store.secrets_list("alpha").await.unwrap().len(), 1);
    let all = store.secrets_sealed_all().await.unwrap();
    assert_eq!(all.len(), 2);
    let reseals = all
        .iter()
        .map(|s| SecretReseal {
            workspace_id: s.meta.workspace_id.clone(),
            name: s.meta.name.clone(),
            old_sealed: s.sealed.clone(),
            sealed: format!("{}-v2", s.sealed),
            key_id: "k2".into(),
        })
        .collect();
    assert_eq!(
        store
            .secrets_reseal(SecretsResealParams {
                reseals,
                actor: "ana".into(),
                now: t0(),
            })
            .await
            .unwrap(),
        2
    );
    let beta_token = store
        .secret_get("beta", &SecretName::parse("token").unwrap())
        .await
        .unwrap();
    assert_eq!(beta_token.sealed, "sealed-beta-v2");
    drop(store);
    role.drop_role().await;
    t.cleanup().await;
}

/// The workspaces whose rows `table` shows this connection.
async fn workspaces_seen(conn: &mut sqlx::PgConnection, table: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT DISTINCT workspace_id FROM {table} ORDER BY 1"
    ))
    .fetch_all(conn)
    .await
    .unwrap()
}

fn ids(runs: &[Run]) -> Vec<RunId> {
    runs.iter().map(|r| r.id).collect()
}

/// `opsroom migrate --create-role` refuses roles RLS would not hold for.
#[tokio::test]
async fn role_creation_refuses_superusers_and_the_owner() {
    let t = TestStore::postgres().await;
    let owner = postgres::PgStore::connect(&t.url).await.unwrap();
    for name in ["postgres", ""] {
        let refused = owner
            .role_create(&postgres::RoleCreateParams {
                name: name.into(),
                password: None,
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{name:?}: {refused:?}"
        );
    }
    drop(owner);
    t.cleanup().await;
}
