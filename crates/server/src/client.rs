//! A typed client of the HTTP API, answering with the API's own view types:
//! the CLI and the tests use it, so neither can drift from the server.

use crate::views::{
    ActionBody, ArtifactView, AuditQuery, CreateRun, CreateSession, CreateToken, CreateUser,
    CreateWorkspace, CreatedTokenView, DecisionBody, ErrorBody, EventView, EventsQuery, MeView,
    MemberView, ParseRequest, ParseView, RetryBody, RunView, RunsQuery, SecretView, SessionView,
    SetMember, SetSecret, StreamEnd, UserView, WorkerView, WorkspaceView,
};
use futures_util::StreamExt;
use opsroom_core::{RunId, Seq};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

mod schedules;

/// Why a call did not give the answer asked for.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the opsroom server at {base} ({cause})")]
    Unreachable { base: String, cause: String },
    /// The server answered with an error (`{"error": {"code", "message"}}`).
    #[error("{message}")]
    Api {
        status: StatusCode,
        message: String,
        /// The answer, as sent.
        body: String,
    },
    /// The answer was not what the API documents.
    #[error("unexpected answer from {base}: {cause}")]
    Unexpected { base: String, cause: String },
}

impl ClientError {
    /// The error body the server sent, when it sent one.
    pub fn error_body(&self) -> Option<ErrorBody> {
        match self {
            ClientError::Api { body, .. } => serde_json::from_str(body).ok(),
            _ => None,
        }
    }
}

/// The actions on a run that take an optional reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAction {
    Cancel,
    Approve,
    Reject,
}

impl RunAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RunAction::Cancel => "cancel",
            RunAction::Approve => "approve",
            RunAction::Reject => "reject",
        }
    }
}

/// The API of one server.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: Option<String>,
    workspace: Option<String>,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client of the server at `base` (`http://host:port`).
    pub fn new(base: &str) -> Result<ApiClient, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Unexpected {
                base: base.into(),
                cause: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_string(),
            token: None,
            workspace: None,
            http,
        })
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// Acts in `workspace` (`X-Opsroom-Workspace`): for the admin token,
    /// which is admin of every workspace.
    pub fn in_workspace(&self, workspace: &str) -> Self {
        let mut c = self.clone();
        c.workspace = Some(workspace.to_string());
        c
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with this client's credentials, for what the typed calls
    /// do not cover (raw bodies, headers).
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(ws) = &self.workspace {
            rb = rb.header("x-opsroom-workspace", ws);
        }
        rb
    }

    /// Sends a request and returns the status and the answer as JSON (null
    /// when it is not JSON), whatever the status.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let (status, text) = self.send(method, path, body).await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Sends a request and decodes a successful answer as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<(StatusCode, T), ClientError> {
        let (status, text) = self.send(method, path, body).await?;
        if !status.is_success() {
            return Err(api_error(status, text));
        }
        let value = serde_json::from_str(&text).map_err(|e| ClientError::Unexpected {
            base: self.base.clone(),
            cause: format!("{e}: {text}"),
        })?;
        Ok((status, value))
    }

    /// The status and the text of the answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<(StatusCode, String), ClientError> {
        let mut rb = self.request(method, path).timeout(Duration::from_secs(30));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let response = rb.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        Ok((status, text))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        Ok(self.call(Method::GET, path, None::<&()>).await?.1)
    }

    /// `GET /api/v1/runs/{id}/log`: the run's raw log as text, a line per
    /// event (UTC time, level, phase, message).
    pub async fn raw_log(&self, id: RunId) -> Result<String, ClientError> {
        let (status, text) = self
            .send(Method::GET, &format!("/api/v1/runs/{id}/log"), None::<&()>)
            .await?;
        if !status.is_success() {
            return Err(api_error(status, text));
        }
        Ok(text)
    }

    /// `POST /api/v1/runs`: the run, and whether it was created now (false:
    /// the run created earlier with the same idempotency key).
    pub async fn create_run(&self, body: &CreateRun) -> Result<(RunView, bool), ClientError> {
        let (status, run) = self.call(Method::POST, "/api/v1/runs", Some(body)).await?;
        Ok((run, status == StatusCode::CREATED))
    }

    /// `GET /api/v1/runs`.
    pub async fn runs(&self, query: &RunsQuery) -> Result<Vec<RunView>, ClientError> {
        let query = serde_urlencoded(query);
        self.get(&format!("/api/v1/runs{query}")).await
    }

    /// `GET /api/v1/runs/{id}`.
    pub async fn run(&self, id: RunId) -> Result<RunView, ClientError> {
        self.get(&format!("/api/v1/runs/{id}")).await
    }

    /// `GET /api/v1/runs/{id}/events`: one page.
    pub async fn events(
        &self,
        id: RunId,
        query: &EventsQuery,
    ) -> Result<Vec<EventView>, ClientError> {
        let query = serde_urlencoded(query);
        self.get(&format!("/api/v1/runs/{id}/events{query}")).await
    }

    /// Every event of run `id` after seq `after`, page by page.
    pub async fn all_events(
        &self,
        id: RunId,
        mut after: Seq,
    ) -> Result<Vec<EventView>, ClientError> {
        const PAGE: i64 = 1000;
        let mut events = Vec::new();
        loop {
            let page = self
                .events(
                    id,
                    &EventsQuery {
                        after: Some(after),
                        limit: Some(PAGE),
                    },
                )
                .await?;
            let full = page.len() as i64 == PAGE;
            if let Some(last) = page.last() {
                after = last.seq;
            }
            events.extend(page);
            if !full {
                return Ok(events);
            }
        }
    }

    /// `GET /api/v1/runs/{id}/artifacts`.
    pub async fn artifacts(&self, id: RunId) -> Result<Vec<ArtifactView>, ClientError> {
        self.get(&format!("/api/v1/runs/{id}/artifacts")).await
    }

    /// `POST /api/v1/runs/{id}/{cancel,approve,reject}`, with the reason
    /// of a cancel or the comment of an approval or a rejection.
    pub async fn act(
        &self,
        id: RunId,
        action: RunAction,
        text: Option<String>,
    ) -> Result<RunView, ClientError> {
        let path = format!("/api/v1/runs/{id}/{}", action.as_str());
        let body = match (action, text) {
            (_, None) => None,
            (RunAction::Cancel, Some(reason)) => Some(serde_json::to_value(ActionBody {
                reason: Some(reason),
            })),
            (_, Some(comment)) => Some(serde_json::to_value(DecisionBody {
                comment: Some(comment),
            })),
        }
        .transpose()
        .map_err(|e| ClientError::Unexpected {
            base: self.base.clone(),
            cause: e.to_string(),
        })?;
        Ok(self.call(Method::POST, &path, body.as_ref()).await?.1)
    }

    /// `GET /api/v1/approvals`: runs awaiting approval, oldest first.
    pub async fn approvals(&self) -> Result<Vec<RunView>, ClientError> {
        self.get("/api/v1/approvals").await
    }

    /// `GET /api/v1/audit`: streams the export into `sink` as it arrives;
    /// returns how many bytes were written.
    pub async fn audit_export(
        &self,
        query: &AuditQuery,
        sink: &mut (dyn std::io::Write + Send),
    ) -> Result<u64, ClientError> {
        let path = format!("/api/v1/audit{}", serde_urlencoded(query));
        let response = self
            .request(Method::GET, &path)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(api_error(status, text));
        }
        let mut body = response.bytes_stream();
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(&e))?;
            sink.write_all(&chunk)
                .map_err(|e| ClientError::Unexpected {
                    base: self.base.clone(),
                    cause: format!("cannot write the export: {e}"),
                })?;
            written += chunk.len() as u64;
        }
        Ok(written)
    }

    /// `POST /api/v1/runs/{id}/retry`: the new run.
    pub async fn retry(&self, id: RunId) -> Result<RunView, ClientError> {
        self.retry_with(id, &RetryBody::default()).await
    }

    /// `POST /api/v1/runs/{id}/retry` with params changed (merged over the
    /// old run's); empty params retry the run as it was.
    pub async fn retry_with(&self, id: RunId, body: &RetryBody) -> Result<RunView, ClientError> {
        let path = format!("/api/v1/runs/{id}/retry");
        let body = (!body.params.is_empty()).then_some(body);
        Ok(self.call(Method::POST, &path, body).await?.1)
    }

    /// `POST /api/v1/sessions`.
    pub async fn create_session(&self, name: Option<&str>) -> Result<SessionView, ClientError> {
        let body = CreateSession {
            name: name.map(String::from),
        };
        Ok(self
            .call(Method::POST, "/api/v1/sessions", Some(&body))
            .await?
            .1)
    }

    /// `GET /api/v1/sessions/{id}`.
    pub async fn session(&self, id: i64) -> Result<SessionView, ClientError> {
        self.get(&format!("/api/v1/sessions/{id}")).await
    }

    /// `POST /api/v1/parse`.
    pub async fn parse(&self, text: &str) -> Result<ParseView, ClientError> {
        let body = ParseRequest {
            text: text.into(),
            params: Default::default(),
        };
        Ok(self
            .call(Method::POST, "/api/v1/parse", Some(&body))
            .await?
            .1)
    }

    /// `GET /api/v1/runbooks`: the catalog as JSON.
    pub async fn runbooks(&self) -> Result<Vec<Value>, ClientError> {
        self.get("/api/v1/runbooks").await
    }

    /// `GET /api/v1/workers`.
    pub async fn workers(&self) -> Result<Vec<WorkerView>, ClientError> {
        self.get("/api/v1/workers").await
    }

    /// Opens run `id`'s live event stream after seq `after`.
    pub async fn stream(&self, id: RunId, after: Seq) -> Result<EventStream, ClientError> {
        self.stream_at(&format!("/api/v1/runs/{id}/events/stream"), Some(after))
            .await
    }

    /// Opens the event stream at `path` (which may carry `?after=`),
    /// resuming after `last_event_id` when given.
    pub async fn stream_at(
        &self,
        path: &str,
        last_event_id: Option<Seq>,
    ) -> Result<EventStream, ClientError> {
        let mut rb = self.request(Method::GET, path);
        if let Some(seq) = last_event_id {
            rb = rb.header("last-event-id", seq.to_string());
        }
        let response = rb.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(api_error(status, text));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if content_type != "text/event-stream" {
            return Err(ClientError::Unexpected {
                base: self.base.clone(),
                cause: format!("{path} answered `{content_type}`, not an event stream"),
            });
        }
        Ok(EventStream {
            body: Box::pin(response.bytes_stream().map(|r| r.map(|b| b.to_vec()))),
            buffer: String::new(),
        })
    }

    /// Follows run `id`'s stream to its `end`: every event from the start,
    /// and the end. Fails if the stream breaks before `end`.
    pub async fn wait_final(&self, id: RunId) -> Result<(Vec<EventView>, StreamEnd), ClientError> {
        self.stream(id, Seq(0)).await?.to_end().await
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            base: self.base.clone(),
            cause: root_cause(e),
        }
    }
}

impl EventStream {
    /// Every event until `end`, and the end. Fails if the stream closes first.
    pub async fn to_end(mut self) -> Result<(Vec<EventView>, StreamEnd), ClientError> {
        let mut events = Vec::new();
        loop {
            match self.next().await {
                Some(Ok(StreamItem::Event(e))) => events.push(e),
                Some(Ok(StreamItem::End(end))) => return Ok((events, end)),
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(ClientError::Unexpected {
                        base: "the event stream".into(),
                        cause: format!("closed before `end`, after {} events", events.len()),
                    })
                }
            }
        }
    }
}

/// `?a=1&b=x` from a query struct, or nothing when it is empty.
fn serde_urlencoded(query: &impl Serialize) -> String {
    let Ok(Value::Object(fields)) = serde_json::to_value(query) else {
        return String::new();
    };
    let pairs: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}={}", urlencode(&v))
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

/// An error answer as one line, with the questions and alternatives of
/// text that was not understood.
fn api_error(status: StatusCode, body: String) -> ClientError {
    let parsed: Option<ErrorBody> = serde_json::from_str(&body).ok();
    let message = match parsed {
        None => format!("server answered {status}"),
        Some(ErrorBody { error }) => {
            let mut extra = Vec::new();
            for (label, items) in [
                ("question", &error.questions),
                ("did you mean", &error.alternatives),
            ] {
                if let Some(items) = items.as_ref().filter(|i| !i.is_empty()) {
                    extra.push(format!("{label}: {}", items.join(" / ")));
                }
            }
            if extra.is_empty() {
                error.message
            } else {
                format!("{} ({})", error.message, extra.join("; "))
            }
        }
    };
    ClientError::Api {
        status,
        message,
        body,
    }
}

/// What a run's event stream brings.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Event(EventView),
    /// The run is final and every event was sent; the stream ends.
    End(StreamEnd),
}

type ByteStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>;

/// A run's live events, parsed from Server-Sent Events.
pub struct EventStream {
    body: ByteStream,
    buffer: String,
}

impl EventStream {
    /// The next event or the end; None when the connection closed first
    /// (resume from the last seq seen).
    pub async fn next(&mut self) -> Option<Result<StreamItem, ClientError>> {
        loop {
            while let Some(pos) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..pos + 2).collect();
                if let Some(item) = parse_block(&block) {
                    return Some(item);
                }
            }
            match self.body.next().await {
                Some(Ok(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// One SSE block: the `end` event, a run event (its `id` is its seq), or
/// nothing for a comment.
fn parse_block(block: &str) -> Option<Result<StreamItem, ClientError>> {
    let mut name = None;
    let mut id = None;
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if data.is_empty() {
        return None;
    }
    let data = data.join("\n");
    let unexpected = |cause: String| ClientError::Unexpected {
        base: "the event stream".into(),
        cause,
    };
    Some(if name == Some("end") {
        serde_json::from_str(&data)
            .map(StreamItem::End)
            .map_err(|e| unexpected(format!("end event: {e}: {data}")))
    } else {
        serde_json::from_str::<EventView>(&data)
            .map_err(|e| unexpected(format!("event: {e}: {data}")))
            .and_then(|e| {
                if id == Some(e.seq.to_string().as_str()) {
                    Ok(StreamItem::Event(e))
                } else {
                    Err(unexpected(format!(
                        "event id {id:?} is not its seq {}",
                        e.seq
                    )))
                }
            })
    })
}

/// Secrets (`/api/v1/secrets`): values go in, only metadata comes out.
impl ApiClient {
    /// `PUT /api/v1/secrets/{name}`: the metadata, and whether it was created.
    pub async fn secret_set(
        &self,
        name: &str,
        value: &str,
    ) -> Result<(SecretView, bool), ClientError> {
        let body = SetSecret {
            value: value.to_string(),
        };
        let (status, view) = self
            .call(Method::PUT, &format!("/api/v1/secrets/{name}"), Some(&body))
            .await?;
        Ok((view, status == StatusCode::CREATED))
    }

    /// `GET /api/v1/secrets`.
    pub async fn secrets(&self) -> Result<Vec<SecretView>, ClientError> {
        self.get("/api/v1/secrets").await
    }

    /// `DELETE /api/v1/secrets/{name}`.
    pub async fn secret_delete(&self, name: &str) -> Result<(), ClientError> {
        let (status, text) = self
            .send(
                Method::DELETE,
                &format!("/api/v1/secrets/{name}"),
                None::<&()>,
            )
            .await?;
        if !status.is_success() {
            return Err(api_error(status, text));
        }
        Ok(())
    }
}

/// People, workspaces, roles and tokens (PRODUCT.md §8).
impl ApiClient {
    /// `POST /api/v1/workspaces`.
    pub async fn workspace_create(&self, name: &str) -> Result<WorkspaceView, ClientError> {
        let body = CreateWorkspace { name: name.into() };
        Ok(self
            .call(Method::POST, "/api/v1/workspaces", Some(&body))
            .await?
            .1)
    }

    /// `POST /api/v1/users`.
    pub async fn user_create(
        &self,
        name: &str,
        password: Option<&str>,
    ) -> Result<UserView, ClientError> {
        let body = CreateUser {
            name: name.into(),
            password: password.map(String::from),
        };
        Ok(self
            .call(Method::POST, "/api/v1/users", Some(&body))
            .await?
            .1)
    }

    /// `PUT /api/v1/workspaces/{ws}/members/{user}`.
    pub async fn member_set(
        &self,
        workspace: &str,
        user: &str,
        role: &str,
    ) -> Result<MemberView, ClientError> {
        let body = SetMember { role: role.into() };
        let path = format!("/api/v1/workspaces/{workspace}/members/{user}");
        Ok(self.call(Method::PUT, &path, Some(&body)).await?.1)
    }

    /// `POST /api/v1/tokens`: the token, shown this once.
    pub async fn token_create(&self, body: &CreateToken) -> Result<CreatedTokenView, ClientError> {
        Ok(self
            .call(Method::POST, "/api/v1/tokens", Some(body))
            .await?
            .1)
    }

    /// `DELETE /api/v1/tokens/{id}`.
    pub async fn token_revoke(&self, id: i64) -> Result<(), ClientError> {
        let (status, text) = self
            .send(Method::DELETE, &format!("/api/v1/tokens/{id}"), None::<&()>)
            .await?;
        if !status.is_success() {
            return Err(api_error(status, text));
        }
        Ok(())
    }

    /// `GET /api/v1/me`.
    pub async fn me(&self) -> Result<MeView, ClientError> {
        self.get("/api/v1/me").await
    }

    /// A user with `role` in `workspace` and a token of theirs there (as
    /// an admin): a client acting as them. For tests and first setup.
    pub async fn member_with_token(
        &self,
        workspace: &str,
        user: &str,
        role: &str,
    ) -> Result<ApiClient, ClientError> {
        match self.user_create(user, None).await {
            Ok(_) => {}
            Err(ClientError::Api { status, .. }) if status == StatusCode::CONFLICT => {}
            Err(e) => return Err(e),
        }
        self.member_set(workspace, user, role).await?;
        let created = self
            .token_create(&CreateToken {
                user: Some(user.into()),
                workspace: Some(workspace.into()),
                ..Default::default()
            })
            .await?;
        let mut c = self.clone().with_token(Some(created.token));
        c.workspace = None;
        Ok(c)
    }
}
