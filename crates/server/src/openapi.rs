//! The OpenAPI document, generated from the handlers' annotations and the
//! view types, so it cannot drift from what the server does. Served at
//! `/api/openapi.json`.

use crate::routes::{
    approvals, audit, hooks, identity, meta, notifications, runs, schedules, secrets, sessions,
    slack,
};
use crate::sse;
use crate::views::ErrorBody;
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as Document, Ref, RefOr, Response, SecurityRequirement,
};
use utoipa::{Modify, OpenApi, PartialSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "opsroom API",
        version = "1",
        description = "Ops control room: parse commands, enqueue runs, stream their events. Errors are {\"error\":{\"code\",\"message\"}}. Send Authorization: Bearer <token> (an API token, or OPSROOM_ADMIN_TOKEN, which acts in `default` unless X-Opsroom-Workspace names another workspace); a server with no auth configured serves loopback only and needs none."
    ),
    servers((url = "/")),
    paths(
        meta::healthz,
        meta::metrics,
        meta::parse,
        meta::runbooks,
        meta::workers,
        runs::create,
        runs::list,
        runs::read,
        runs::events,
        sse::stream,
        runs::log,
        runs::artifacts,
        runs::cancel,
        runs::approve,
        runs::reject,
        runs::retry,
        sessions::create,
        sessions::read,
        sessions::list,
        secrets::put,
        secrets::list,
        secrets::delete,
        identity::create_workspace,
        identity::create_user,
        identity::set_member,
        identity::create_token,
        identity::revoke_token,
        identity::me,
        approvals::list,
        audit::export,
        notifications::list,
        hooks::trigger,
        slack::commands,
        slack::interactions,
        schedules::create,
        schedules::list,
        schedules::pause,
        schedules::resume,
        schedules::delete,
    ),
    components(schemas(crate::views::StreamEnd, crate::views::RoleName)),
    modifiers(&Auth, &ApiErrors, &Links)
)]
struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
        serde_json::to_string_pretty(&openapi_3_0(doc)).expect("JSON serializes")
    })
}

/// utoipa writes OpenAPI 3.1, whose JSON Schema counts `1.0` as an integer;
/// the API reads integers strictly (serde refuses `1.0` for an `i64`), which
/// OpenAPI 3.0's schemas say exactly. So the document is served as 3.0.3:
/// nullable types become `nullable: true`, an optional body is a body that is
/// not required (not a body that may be `null`), 64-bit integers get their
/// range, and links get the field name 3.0 spells `operationRef`.
fn openapi_3_0(mut doc: Value) -> Value {
    doc["openapi"] = json!("3.0.3");
    if let Some(paths) = doc["paths"].as_object_mut() {
        for op in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|ops| ops.values_mut())
        {
            let Some(body) = op.get_mut("requestBody") else {
                continue;
            };
            let mut optional = false;
            for media in body["content"]
                .as_object_mut()
                .into_iter()
                .flat_map(|c| c.values_mut())
            {
                if let Some(inner) = without_null(&media["schema"]) {
                    media["schema"] = inner;
                    optional = true;
                }
            }
            if optional || body.get("required").is_none() {
                body["required"] = json!(false);
            }
        }
    }
    schemas_3_0(&mut doc);
    doc
}

/// `X` of a schema `oneOf: [{type: null}, X]`.
fn without_null(schema: &Value) -> Option<Value> {
    let options = schema["oneOf"].as_array().filter(|o| o.len() == 2)?;
    let null = json!({"type": "null"});
    options.contains(&null).then(|| {
        options
            .iter()
            .find(|o| **o != null)
            .cloned()
            .unwrap_or_default()
    })
}

fn schemas_3_0(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(schemas_3_0),
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type") {
                let mut types: Vec<Value> = types.clone();
                if types.contains(&json!("null")) {
                    types.retain(|t| t != "null");
                    map.insert("nullable".into(), json!(true));
                }
                if types.len() == 1 {
                    map.insert("type".into(), types.remove(0));
                }
            }
            let object = Value::Object(map.clone());
            if let Some(inner) = without_null(&object) {
                map.remove("oneOf");
                map.insert("allOf".into(), json!([inner]));
                map.insert("nullable".into(), json!(true));
            }
            if map.get("type") == Some(&json!("integer"))
                && map.get("format") == Some(&json!("int64"))
            {
                map.entry("minimum").or_insert(json!(i64::MIN));
                map.entry("maximum").or_insert(json!(i64::MAX));
            }
            if let Some(Value::Array(examples)) = map.get("examples") {
                if let Some(first) = examples.first().cloned() {
                    map.insert("example".into(), first);
                }
                map.remove("examples");
            }
            if let Some(target) = map.remove("operation_ref") {
                map.insert("operationRef".into(), target);
            }
            map.values_mut().for_each(schemas_3_0);
        }
        _ => {}
    }
}

/// The admin token as a bearer token, or the UI's cookie; every operation
/// needs one unless it says otherwise (`/healthz`, `/metrics`).
struct Auth;

impl Modify for Auth {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "opsroom_session",
                "The UI's session cookie, set by signing in at /login (or once by opening a UI page with `?token=ADMIN_TOKEN`); a request with it that changes something needs `X-CSRF-Token`. The API never reads a token from the URL.",
            ))),
        );
        doc.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("cookie", Vec::<String>::new()),
        ]);
    }
}

/// Every `/api/v1` operation can answer 400 (a malformed request) and 401
/// (no or wrong credentials): its extractors and the authentication layer
/// do, whatever the handler; one that takes a body also 413 (too large).
struct ApiErrors;

const BAD_REQUEST: &str = "Malformed request: a path id that is not a whole number, a query parameter that is unknown, of the wrong type, out of range or holds a NUL character, a body that is not JSON or not an object, an unknown body field or a field of the wrong type. The message names what is wrong.";
const PAYLOAD_TOO_LARGE: &str = "The request body is larger than the server's limit (OPSROOM_MAX_BODY_BYTES, 1 MiB by default); the message names the limit (`body_too_large`).";
const UNAUTHORIZED: &str =
    "No, wrong, revoked or expired credentials: send `Authorization: Bearer <token>` (the UI uses its session cookie).";
const FORBIDDEN: &str = "Signed in, but the role in this workspace is too low (`forbidden`), the user has no role there (`no_role`), or a request made with the session cookie lacks `X-CSRF-Token` (`csrf`).";

impl Modify for ApiErrors {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert("ErrorBody".into(), ErrorBody::schema());
        for (name, description) in [
            ("BadRequest", BAD_REQUEST),
            ("Unauthorized", UNAUTHORIZED),
            ("Forbidden", FORBIDDEN),
            ("PayloadTooLarge", PAYLOAD_TOO_LARGE),
        ] {
            components
                .responses
                .insert(name.into(), RefOr::T(error_response(description)));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") {
                continue;
            }
            for op in operations(item) {
                let with_body = op.request_body.is_some();
                for (status, name) in [
                    ("400", "BadRequest"),
                    ("401", "Unauthorized"),
                    ("403", "Forbidden"),
                    ("413", "PayloadTooLarge"),
                ] {
                    if op.responses.responses.contains_key(status)
                        || (status == "413" && !with_body)
                    {
                        continue;
                    }
                    op.responses.responses.insert(
                        status.into(),
                        RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))),
                    );
                }
            }
        }
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Where a created run or session leads: the operations on it, for clients
/// and for schemathesis' stateful tests.
struct Links;

impl Modify for Links {
    fn modify(&self, doc: &mut Document) {
        let run_links = [
            ("GetRun", "/api/v1/runs/{id}", "get", "The run just created"),
            ("RunEvents", "/api/v1/runs/{id}/events", "get", "Its events"),
            (
                "RunEventStream",
                "/api/v1/runs/{id}/events/stream",
                "get",
                "Its live events",
            ),
            (
                "RunArtifacts",
                "/api/v1/runs/{id}/artifacts",
                "get",
                "Its artifacts",
            ),
            ("CancelRun", "/api/v1/runs/{id}/cancel", "post", "Cancel it"),
            (
                "ApproveRun",
                "/api/v1/runs/{id}/approve",
                "post",
                "Approve it (someone else than the requester)",
            ),
            ("RejectRun", "/api/v1/runs/{id}/reject", "post", "Reject it"),
            (
                "RetryRun",
                "/api/v1/runs/{id}/retry",
                "post",
                "Retry it once it is final",
            ),
        ];
        let session_links = [(
            "GetSession",
            "/api/v1/sessions/{id}",
            "get",
            "The session just created",
        )];
        add_links(doc, "/api/v1/runs", &["200", "201"], &run_links);
        add_links(doc, "/api/v1/sessions", &["201"], &session_links);
    }
}

fn add_links(
    doc: &mut Document,
    path: &str,
    statuses: &[&str],
    links: &[(&str, &str, &str, &str)],
) {
    let Some(op) = doc.paths.paths.get_mut(path).and_then(|i| i.post.as_mut()) else {
        return;
    };
    for status in statuses {
        let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else {
            continue;
        };
        for (name, target, method, description) in links {
            let pointer = target.replace('~', "~0").replace('/', "~1");
            let link = LinkBuilder::new()
                .operation_ref(format!("#/paths/{pointer}/{method}"))
                .parameter("id", "$response.body#/id")
                .description(*description)
                .build();
            response.links.insert((*name).into(), RefOr::T(link));
        }
    }
}
