//! `/api/v1/secrets` on both stores: values go in sealed and never come
//! out; names are checked; without a master key nothing is stored.

use opsroom_auth::MasterKey;
use opsroom_server::client::{ApiClient, ClientError};
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::{DynStore, SecretName, DEFAULT_WORKSPACE};
use reqwest::{Method, StatusCode};
use serde_json::json;

const VALUE: &str = "pl41n-s3cret-VALUE";

async fn app(store: &DynStore, key: Option<MasterKey>) -> (TestApp, ApiClient) {
    let app = TestApp::spawn(
        store.clone(),
        TestAppOptions {
            secret_key: key,
            ..Default::default()
        },
    )
    .await;
    let api = ApiClient::new(&app.url).unwrap();
    (app, api)
}

async fn secrets_are_write_only(store: DynStore) {
    let (key, _) = MasterKey::generate();
    let (app, api) = app(&store, Some(key.clone())).await;
    let (meta, created) = api.secret_set("db.password", VALUE).await.unwrap();
    assert!(created);
    assert_eq!(meta.name, "db.password");
    let (again, created) = api.secret_set("db.password", "other-value").await.unwrap();
    assert!(!created, "a second PUT replaces");
    assert!(again.updated_at >= meta.updated_at);
    api.secret_set("api_key", VALUE).await.unwrap();

    let (status, listed) = api
        .send_json(Method::GET, "/api/v1/secrets", None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api_key", "db.password"]);
    assert!(!listed.to_string().contains(VALUE) && !listed.to_string().contains("other-value"));
    assert!(listed[0].get("value").is_none(), "{listed}");

    // Stored sealed under the key, bound to its workspace and name.
    let stored = store
        .secret_get(
            DEFAULT_WORKSPACE,
            &SecretName::parse("db.password").unwrap(),
        )
        .await
        .unwrap();
    assert!(!stored.sealed.contains("other-value"));
    assert_eq!(stored.meta.key_id, key.id());
    assert_eq!(
        key.open("default/db.password", &stored.sealed).unwrap(),
        b"other-value"
    );

    api.secret_delete("api_key").await.unwrap();
    match api.secret_delete("api_key").await {
        Err(ClientError::Api { status, .. }) => assert_eq!(status, StatusCode::NOT_FOUND),
        other => panic!("deleting twice: {other:?}"),
    }
    let audit = store
        .audit_list(opsroom_store::AuditListParams::newest(
            DEFAULT_WORKSPACE,
            10,
        ))
        .await
        .unwrap();
    let text = serde_json::to_string(&audit).unwrap();
    assert!(text.contains("secret.deleted") && text.contains("secret.set"));
    assert!(!text.contains(VALUE) && !text.contains("other-value"));

    for (path, body, status, code) in [
        (
            "/api/v1/secrets/a%20b",
            json!({"value": "x"}),
            422,
            "invalid_secret_name",
        ),
        (
            "/api/v1/secrets/..x%2F",
            json!({"value": "x"}),
            422,
            "invalid_secret_name",
        ),
        (
            &format!("/api/v1/secrets/{}", "n".repeat(101)),
            json!({"value": "x"}),
            422,
            "invalid_secret_name",
        ),
        (
            "/api/v1/secrets/ok",
            json!({"value": ""}),
            422,
            "invalid_value",
        ),
        (
            "/api/v1/secrets/ok",
            json!({"value": 1}),
            400,
            "invalid_body",
        ),
        (
            "/api/v1/secrets/ok",
            json!({"value": "x", "other": 1}),
            400,
            "invalid_body",
        ),
    ] {
        let (got, answer) = api.send_json(Method::PUT, path, Some(&body)).await.unwrap();
        assert_eq!(got.as_u16(), status, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{path} {body}: {answer}");
    }
    app.stop().await;
}

async fn without_a_master_key_nothing_is_stored(store: DynStore) {
    let (app, api) = app(&store, None).await;
    let (status, answer) = api
        .send_json(
            Method::PUT,
            "/api/v1/secrets/token",
            Some(&json!({"value": VALUE})),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "secret_key_missing");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("OPSROOM_SECRET_KEY") && message.contains("opsroom secrets new-key"),
        "{message}"
    );
    assert!(store
        .secrets_list(DEFAULT_WORKSPACE)
        .await
        .unwrap()
        .is_empty());
    app.stop().await;
}

opsroom_store::on_both_stores!(
    secrets_are_write_only,
    without_a_master_key_nothing_is_stored
);
