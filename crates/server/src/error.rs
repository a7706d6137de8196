//! The API's one error type: each variant knows its HTTP status; bodies are
//! `{"error": {"code", "message"}}`. Internal errors are logged and answered
//! with a generic message, never with database text.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use opsroom_store::StoreError;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::str::FromStr;

#[derive(Debug)]
pub enum ApiError {
    /// 400: the request itself is malformed.
    BadRequest { code: &'static str, message: String },
    /// 401: missing, wrong, revoked or expired credentials.
    Unauthorized,
    /// 401 with its own code and message (a refused request signature).
    UnauthorizedCode { code: &'static str, message: String },
    /// 403: known, but not allowed (a role too low, no CSRF token, or its
    /// own code such as `self_approval`).
    Forbidden { code: &'static str, message: String },
    /// 404
    NotFound(String),
    /// 405: the route exists, not with this method.
    MethodNotAllowed(String),
    /// 409: the action does not fit the current state.
    Conflict(String),
    /// 409 with its own code (e.g. `secret_key_missing`).
    ConflictCode { code: &'static str, message: String },
    /// 413: the request body is larger than the server's limit (bytes).
    PayloadTooLarge { limit: usize },
    /// 422: well-formed but not understood or not allowed; `extra` carries
    /// questions and alternatives for text that was not understood.
    Unprocessable {
        code: &'static str,
        message: String,
        extra: Value,
    },
    /// 500: logged, answered generically.
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::UnauthorizedCode {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Forbidden {
            code,
            message: message.into(),
        }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code,
            message: message.into(),
            extra: Value::Null,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::SelfApproval { .. } => ApiError::Forbidden {
                code: "self_approval",
                message: e.to_string(),
            },
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, extra) = match self {
            ApiError::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, code, message, Value::Null)
            }
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing, wrong, revoked or expired credentials: send `Authorization: Bearer <token>` or sign in at /login".to_string(),
                Value::Null,
            ),
            ApiError::UnauthorizedCode { code, message } => {
                (StatusCode::UNAUTHORIZED, code, message, Value::Null)
            }
            ApiError::Forbidden { code, message } => {
                (StatusCode::FORBIDDEN, code, message, Value::Null)
            }
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m, Value::Null),
            ApiError::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                m,
                Value::Null,
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m, Value::Null),
            ApiError::ConflictCode { code, message } => {
                (StatusCode::CONFLICT, code, message, Value::Null)
            }
            ApiError::PayloadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the request body is larger than this server's limit of {}; send less (the limit is OPSROOM_MAX_BODY_BYTES)",
                    crate::security::describe_bytes(limit)
                ),
                Value::Null,
            ),
            ApiError::Unprocessable {
                code,
                message,
                extra,
            } => (StatusCode::UNPROCESSABLE_ENTITY, code, message, extra),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log".to_string(),
                    Value::Null,
                )
            }
        };
        let mut error = json!({"code": code, "message": message});
        if let (Value::Object(extra), Some(obj)) = (extra, error.as_object_mut()) {
            obj.extend(extra);
        }
        (status, Json(json!({ "error": error }))).into_response()
    }
}

/// `Json<T>` whose rejections are API errors naming what is wrong.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // Read a value first: serde would happily take `["x"]` for a struct.
        let value = match Json::<Value>::from_request(req, state).await {
            Ok(Json(v)) => v,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        body_from_value(value).map(ApiJson)
    }
}

/// A checked JSON body as `T`: an object (serde would happily take
/// `["x"]` for a struct), no NUL anywhere, and errors name the field.
fn body_from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object ({\"name\": value, …}) with the fields listed in /api/openapi.json",
        ));
    }
    refuse_nul_in_body(&value)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        ApiError::bad_request(
            "invalid_body",
            format!("invalid request body{at}: {}", e.into_inner()),
        )
    })
}

/// PostgreSQL text cannot hold NUL (U+0000), so no store can keep it: the
/// API refuses it in every string it accepts, naming where it is.
fn nul_message(what: &str) -> String {
    format!("{what} contains a NUL character (U+0000), which opsroom does not accept: remove it")
}

/// A NUL in a well-formed body is refused like other content rules (422).
fn refuse_nul_in_body(value: &Value) -> Result<(), ApiError> {
    match nul_path(value, "") {
        Some(what) => Err(ApiError::unprocessable("nul_character", nul_message(&what))),
        None => Ok(()),
    }
}

/// Where the first NUL in `value` is: "`params.note`", or "a key of `params`".
fn nul_path(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(format!("`{path}`")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(if path.is_empty() {
                    "a field name of the body".to_string()
                } else {
                    format!("a key of `{path}`")
                });
            }
            let inner = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            nul_path(v, &inner)
        }),
        _ => None,
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let code = match &r {
        JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
        JsonRejection::JsonSyntaxError(_) => "invalid_json",
        JsonRejection::JsonDataError(_) => "invalid_body",
        _ => "invalid_body",
    };
    ApiError::bad_request(code, r.body_text())
}

/// `Query<T>` whose rejections are API errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Ok(axum::extract::Query(pairs)) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        {
            for (name, value) in pairs {
                let what = if name.contains('\0') {
                    "a query parameter name".to_string()
                } else if value.contains('\0') {
                    format!("query parameter `{name}`")
                } else {
                    continue;
                };
                return Err(ApiError::bad_request("invalid_query", nul_message(&what)));
            }
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(ApiError::bad_request("invalid_query", r.body_text()))
            }
            Err(r) => Err(ApiError::bad_request("invalid_query", r.body_text())),
        }
    }
}

/// An id from the path (a run's as `IdPath<RunId>`, a session's as
/// `IdPath<i64>`); a non-number gets a clear 400.
pub struct IdPath<T>(pub T);

impl<S: Send + Sync, T: FromStr> FromRequestParts<S> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
        parse_id(&raw).map(IdPath)
    }
}

/// An id from a path segment; a non-number gets a clear 400.
pub fn parse_id<T: FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_id",
            format!("`{raw}` is not an id: ids are whole numbers"),
        )
    })
}

/// An optional JSON body: an empty body is `None`, anything else must be
/// valid JSON of `T` (with no NUL in any string).
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
        // No body at all is "no options"; anything else must be JSON, so a
        // body of only spaces or newlines is refused like any invalid JSON.
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}"))
        })?;
        body_from_value(value).map(|v| OptionalJson(Some(v)))
    }
}
