//! Secrets on both stores: sealed text in, metadata out, audit entries with
//! the name only, and re-sealing all or nothing.

use super::t0;
use chrono::Duration;
use opsroom_store::*;

fn name(n: &str) -> SecretName {
    SecretName::parse(n).unwrap()
}

fn put(ws: &str, n: &str, sealed: &str, minutes: i64) -> SecretPutParams {
    SecretPutParams {
        workspace_id: ws.into(),
        name: name(n),
        sealed: sealed.into(),
        key_id: "k1".into(),
        actor: "alice".into(),
        source: None,
        now: t0() + Duration::minutes(minutes),
    }
}

async fn secrets_are_set_listed_replaced_and_deleted(store: DynStore) {
    let first = store
        .secret_put(put(DEFAULT_WORKSPACE, "db.password", "v1.k1.AAA", 0))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.meta.name, "db.password");
    assert_eq!(first.meta.created_at, t0());
    store
        .secret_put(put(DEFAULT_WORKSPACE, "api-key", "v1.k1.BBB", 1))
        .await
        .unwrap();
    store
        .secret_put(put("other", "api-key", "v1.k1.CCC", 1))
        .await
        .unwrap();
    let replaced = store
        .secret_put(put(DEFAULT_WORKSPACE, "db.password", "v1.k1.DDD", 2))
        .await
        .unwrap();
    assert!(!replaced.created, "a second put replaces");
    assert_eq!(replaced.meta.created_at, t0(), "creation time kept");
    assert_eq!(replaced.meta.updated_at, t0() + Duration::minutes(2));

    let listed = store.secrets_list(DEFAULT_WORKSPACE).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["api-key", "db.password"],
        "by name, this workspace only"
    );
    let got = store
        .secret_get(DEFAULT_WORKSPACE, &name("db.password"))
        .await
        .unwrap();
    assert_eq!(got.sealed, "v1.k1.DDD");
    assert_eq!(got.meta.updated_by, "alice");
    assert!(
        !format!("{got:?}").contains("DDD"),
        "Debug hides the sealed text"
    );
    assert_eq!(
        store
            .secret_get("other", &name("api-key"))
            .await
            .unwrap()
            .sealed,
        "v1.k1.CCC"
    );
    assert!(matches!(
        store.secret_get("other", &name("db.password")).await,
        Err(StoreError::NotFound { what: "secret", .. })
    ));

    let delete = |ws: &str, n: &str| SecretDeleteParams {
        workspace_id: ws.into(),
        name: name(n),
        actor: "bob".into(),
        source: Some("192.0.2.7".into()),
        now: t0(),
    };
    store
        .secret_delete(delete(DEFAULT_WORKSPACE, "api-key"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .secret_delete(delete(DEFAULT_WORKSPACE, "api-key"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store.secrets_list("other").await.unwrap().len(),
        1,
        "other workspace untouched"
    );

    let audit = store
        .audit_list(AuditListParams::newest(DEFAULT_WORKSPACE, 10))
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|a| (a.action.as_str(), a.subject.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("secret.deleted", "secret:api-key"),
            ("secret.set", "secret:db.password"),
            ("secret.set", "secret:api-key"),
            ("secret.set", "secret:db.password"),
        ]
    );
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains("v1.k1"), "no sealed text in the audit log");
}

async fn reseal_is_all_or_nothing(store: DynStore) {
    store
        .secret_put(put(DEFAULT_WORKSPACE, "a", "v1.k1.A", 0))
        .await
        .unwrap();
    store
        .secret_put(put("w2", "b", "v1.k1.B", 0))
        .await
        .unwrap();
    let all = store.secrets_sealed_all().await.unwrap();
    assert_eq!(all.len(), 2);
    let reseal = |s: &SealedSecret, old: &str| SecretReseal {
        workspace_id: s.meta.workspace_id.clone(),
        name: s.meta.name.clone(),
        old_sealed: old.into(),
        sealed: format!("v1.k2.{}", s.meta.name),
        key_id: "k2".into(),
    };
    let params = |reseals| SecretsResealParams {
        reseals,
        actor: "cli".into(),
        now: t0(),
    };
    // The second row no longer holds what was read: nothing changes.
    let stale = vec![
        reseal(&all[0], &all[0].sealed),
        reseal(&all[1], "v1.k1.changed"),
    ];
    assert!(matches!(
        store.secrets_reseal(params(stale)).await,
        Err(StoreError::Conflict(_))
    ));
    let unchanged = store.secrets_sealed_all().await.unwrap();
    assert_eq!(unchanged, all, "a failed rotation writes nothing");

    let fresh: Vec<_> = all.iter().map(|s| reseal(s, &s.sealed)).collect();
    assert_eq!(store.secrets_reseal(params(fresh)).await.unwrap(), 2);
    let after = store.secrets_sealed_all().await.unwrap();
    assert!(after
        .iter()
        .all(|s| s.meta.key_id == "k2" && s.sealed.starts_with("v1.k2.")));
}

#[test]
fn secret_names_follow_the_rules() {
    for ok in ["a", "DB_PASSWORD", "api.key-2", &"x".repeat(100)] {
        assert!(SecretName::parse(ok).is_ok(), "{ok}");
    }
    for (bad, why) in [
        ("", "empty"),
        (&"x".repeat(101) as &str, "101 characters"),
        ("a b", "' '"),
        ("a/b", "'/'"),
        ("é", "'é'"),
        ("..", "alone"),
    ] {
        let err = SecretName::parse(bad).unwrap_err().to_string();
        assert!(
            err.contains(why) && err.contains("1 to 100"),
            "{bad:?}: {err}"
        );
    }
}

opsroom_store::on_both_stores!(
    secrets_are_set_listed_replaced_and_deleted,
    reseal_is_all_or_nothing,
);
