//! People, workspaces, memberships (roles), API tokens and UI sign-in
//! sessions. Passwords arrive hashed (Argon2id, `opsroom_auth::password`);
//! tokens and session ids arrive as digests (`opsroom_auth::token::digest`):
//! the store never sees a plain secret.
//!
//! The sequences (each write with its audit entry in the same transaction)
//! are written once on top of each backend's [`IdentityRows`]. On
//! PostgreSQL every transaction names its workspace (row-level security);
//! a token or session looked up before its workspace is known names its
//! digest instead.

mod impl_store;
mod rows;

use crate::sequences::{NewAudit, Primitives};
use crate::*;
use chrono::{DateTime, Utc};
pub(crate) use impl_store::impl_identity_store;
use opsroom_auth::Role;
pub(crate) use rows::{MembershipRow, TokenRow, UiSessionRow, UserRow, WorkspaceRow};
use serde::Serialize;
use serde_json::{json, Value};

/// A user's or a workspace's name: 1 to 64 of `A-Z a-z 0-9 _ . -`,
/// starting with a letter or a digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Name(String);

/// Why a text is not a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a name must be 1 to 64 characters of A-Z, a-z, 0-9, `_`, `.` and `-`, starting with a letter or a digit; {0}")]
pub struct NameError(String);

impl Name {
    pub fn parse(name: &str) -> Result<Name, NameError> {
        let count = name.chars().count();
        if count == 0 {
            return Err(NameError("this one is empty".into()));
        }
        if count > 64 {
            return Err(NameError(format!("this one is {count} characters long")));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(NameError(format!("this one has {bad:?}")));
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(NameError("this one starts with a symbol".into()));
        }
        Ok(Name(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// A user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// A user with the stored password hash, for sign-in.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCredentials {
    pub user: User,
    /// Argon2id PHC string; `None`: the user signs in with tokens only.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A user's role in a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub workspace_id: String,
    pub user: String,
    pub role: Role,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// An API token's record (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub workspace_id: String,
    pub user: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token may be used at `now`: not revoked, not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A token found by its digest, with its user's current role in the
/// token's workspace (`None`: no longer a member).
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub token: ApiToken,
    pub role: Option<Role>,
}

/// A UI sign-in session (the id is only known to the browser's cookie).
#[derive(Clone, PartialEq, Eq)]
pub struct UiSession {
    pub workspace_id: String,
    /// The user, or `admin` for the bootstrap admin.
    pub user: String,
    /// Opened with `OPSROOM_ADMIN_TOKEN`: admin of every workspace, whatever
    /// the memberships say.
    pub bootstrap_admin: bool,
    /// Sent back with every state-changing request (`X-CSRF-Token`).
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for UiSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiSession")
            .field("workspace_id", &self.workspace_id)
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A session found by its digest, with the user's current role.
#[derive(Debug, Clone)]
pub struct UiSessionAuth {
    pub session: UiSession,
    pub role: Option<Role>,
}

/// Who made a change and from where, for its audit entry.
#[derive(Debug, Clone, Default)]
pub struct AuditSource {
    pub actor: String,
    /// The client's address, when known.
    pub address: Option<String>,
}

/// Creates a workspace.
#[derive(Debug, Clone)]
pub struct WorkspaceCreateParams {
    pub name: Name,
    /// Made admin of the new workspace (the user who asked for it).
    pub admin: Option<String>,
    pub source: AuditSource,
    pub now: DateTime<Utc>,
}

/// Creates a user.
#[derive(Clone)]
pub struct UserCreateParams {
    pub name: Name,
    /// An Argon2id PHC string, never a password.
    pub password_hash: Option<String>,
    /// The workspace the request was made in (where the audit entry goes).
    pub workspace_id: String,
    /// Made a member of `workspace_id` with this role at once.
    pub role: Option<Role>,
    pub source: AuditSource,
    pub now: DateTime<Utc>,
}

/// Sets a user's role in a workspace.
#[derive(Debug, Clone)]
pub struct MemberSetParams {
    pub workspace_id: String,
    pub user: String,
    pub role: Role,
    pub source: AuditSource,
    pub now: DateTime<Utc>,
}

/// What [`IdentityStore::member_set`] did.
#[derive(Debug, Clone)]
pub struct MemberSet {
    pub membership: Membership,
    /// The role before, `None` when the user was not a member.
    pub before: Option<Role>,
}

/// Creates an API token.
#[derive(Clone)]
pub struct TokenCreateParams {
    pub workspace_id: String,
    pub user: String,
    pub name: Option<String>,
    /// `opsroom_auth::token::digest` of the token, never the token.
    pub digest: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub source: AuditSource,
    pub now: DateTime<Utc>,
}

/// Revokes an API token of a workspace.
#[derive(Debug, Clone)]
pub struct TokenRevokeParams {
    pub workspace_id: String,
    pub id: i64,
    pub source: AuditSource,
    pub now: DateTime<Utc>,
}

/// Creates a UI session at sign-in (with its `signin` audit entry).
#[derive(Clone)]
pub struct UiSessionCreateParams {
    /// Digest of the cookie's session id.
    pub digest: String,
    pub session: UiSession,
    pub source: AuditSource,
}

/// Ends a UI session (sign-out).
#[derive(Debug, Clone)]
pub struct UiSessionDeleteParams {
    pub digest: String,
    pub source: AuditSource,
    pub now: DateTime<Utc>,
}

/// The identity part of the storage interface (every [`Store`] has it).
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Whether any user exists (sign-in is then required).
    async fn users_exist(&self) -> StoreResult<bool>;

    /// Creates a workspace, with an audit entry; `Conflict` if it exists.
    async fn workspace_create(&self, params: WorkspaceCreateParams) -> StoreResult<Workspace>;

    /// A workspace by name; `NotFound` if absent.
    async fn workspace_get(&self, name: &str) -> StoreResult<Workspace>;

    /// Creates a user, with an audit entry; `Conflict` if the name is taken.
    async fn user_create(&self, params: UserCreateParams) -> StoreResult<User>;

    /// A user with the password hash, for sign-in; `NotFound` if absent.
    async fn user_credentials(&self, name: &str) -> StoreResult<UserCredentials>;

    /// Sets a user's role in a workspace, with an audit entry (before and
    /// after); `NotFound` when the workspace or the user does not exist.
    async fn member_set(&self, params: MemberSetParams) -> StoreResult<MemberSet>;

    /// A user's role in a workspace, `None` when not a member.
    async fn member_role(&self, workspace_id: &str, user: &str) -> StoreResult<Option<Role>>;

    /// Stores a new token's digest, with an audit entry.
    async fn token_create(&self, params: TokenCreateParams) -> StoreResult<ApiToken>;

    /// The token with this digest and its user's role in its workspace,
    /// whatever its state (the caller checks [`ApiToken::is_live`]).
    async fn token_lookup(&self, digest: &str) -> StoreResult<Option<TokenAuth>>;

    /// A token of a workspace by id; `NotFound` otherwise.
    async fn token_get(&self, workspace_id: &str, id: i64) -> StoreResult<ApiToken>;

    /// Revokes a token of a workspace at once, with an audit entry; a token
    /// revoked before stays as it was. `NotFound` otherwise.
    async fn token_revoke(&self, params: TokenRevokeParams) -> StoreResult<ApiToken>;

    /// Stores a sign-in session, with a `signin` audit entry.
    async fn ui_session_create(&self, params: UiSessionCreateParams) -> StoreResult<()>;

    /// The session with this digest and the user's current role, whatever
    /// its expiry (the caller checks it).
    async fn ui_session_lookup(&self, digest: &str) -> StoreResult<Option<UiSessionAuth>>;

    /// Deletes a session (sign-out), with a `signout` audit entry; whether
    /// there was one.
    async fn ui_session_delete(&self, params: UiSessionDeleteParams) -> StoreResult<bool>;
}

/// What each backend provides for identity: single reads and writes in a
/// transaction of its kind.
#[async_trait]
pub(crate) trait IdentityRows: Primitives {
    /// A transaction for reads only (SQLite: on its reader pool).
    async fn begin_read(&self) -> StoreResult<Self::Tx>;

    /// Names the transaction's workspace (PostgreSQL: row-level security).
    async fn scope_workspace(&self, tx: &mut Self::Tx, workspace_id: &str) -> StoreResult<()>;

    /// Names the token or session digest the transaction may read before
    /// its workspace is known.
    async fn scope_digest(&self, tx: &mut Self::Tx, digest: &str) -> StoreResult<()>;

    async fn users_any(&self, tx: &mut Self::Tx) -> StoreResult<bool>;

    /// `None` when the name is taken.
    async fn workspace_insert(
        &self,
        tx: &mut Self::Tx,
        name: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Workspace>>;

    async fn workspace_read(&self, tx: &mut Self::Tx, name: &str)
        -> StoreResult<Option<Workspace>>;

    /// `None` when the name is taken.
    async fn user_insert(
        &self,
        tx: &mut Self::Tx,
        p: &UserCreateParams,
    ) -> StoreResult<Option<User>>;

    async fn user_read(
        &self,
        tx: &mut Self::Tx,
        name: &str,
    ) -> StoreResult<Option<UserCredentials>>;

    async fn member_read(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        user: &str,
    ) -> StoreResult<Option<Membership>>;

    async fn member_upsert(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        user: &str,
        role: Role,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Membership>;

    async fn token_insert(&self, tx: &mut Self::Tx, p: &TokenCreateParams)
        -> StoreResult<ApiToken>;

    async fn token_by_digest(
        &self,
        tx: &mut Self::Tx,
        digest: &str,
    ) -> StoreResult<Option<ApiToken>>;

    async fn token_by_id(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        id: i64,
    ) -> StoreResult<Option<ApiToken>>;

    /// Sets `revoked_at` if it is not set; the token as it is then.
    async fn token_mark_revoked(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiToken>>;

    async fn ui_session_insert(
        &self,
        tx: &mut Self::Tx,
        digest: &str,
        s: &UiSession,
    ) -> StoreResult<()>;

    /// Deletes the workspace's sessions that expired by `now`; how many.
    async fn ui_sessions_purge(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    async fn ui_session_by_digest(
        &self,
        tx: &mut Self::Tx,
        digest: &str,
    ) -> StoreResult<Option<UiSession>>;

    /// The session deleted, if there was one.
    async fn ui_session_remove(
        &self,
        tx: &mut Self::Tx,
        digest: &str,
    ) -> StoreResult<Option<UiSession>>;
}

/// An identity change's audit entry.
struct Entry<'a> {
    workspace_id: &'a str,
    source: &'a AuditSource,
    now: DateTime<Utc>,
    action: &'a str,
    subject: String,
    details: Value,
}

async fn audit<B: IdentityRows>(b: &B, tx: &mut B::Tx, e: Entry<'_>) -> StoreResult<()> {
    b.scope_workspace(tx, e.workspace_id).await?;
    b.audit_insert(
        tx,
        NewAudit {
            workspace_id: e.workspace_id,
            ts: e.now,
            actor: &e.source.actor,
            action: e.action,
            subject: &e.subject,
            source: e.source.address.as_deref(),
            details: &e.details,
        },
    )
    .await
    .map(|_| ())
}

fn not_found(what: &'static str, id: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_string(),
    }
}

pub(crate) async fn users_exist<B: IdentityRows>(b: &B) -> StoreResult<bool> {
    let mut tx = b.begin_read().await?;
    let any = b.users_any(&mut tx).await?;
    b.rollback(tx).await;
    Ok(any)
}

pub(crate) async fn workspace_create<B: IdentityRows>(
    b: &B,
    p: WorkspaceCreateParams,
) -> StoreResult<Workspace> {
    let name = p.name.as_str();
    let mut tx = b.begin(name).await?;
    let Some(ws) = b
        .workspace_insert(&mut tx, name, &p.source.actor, p.now)
        .await?
    else {
        b.rollback(tx).await;
        return Err(StoreError::Conflict(format!(
            "workspace {name} already exists"
        )));
    };
    if let Some(admin) = &p.admin {
        if b.user_read(&mut tx, admin).await?.is_none() {
            b.rollback(tx).await;
            return Err(not_found("user", admin));
        }
        b.member_upsert(&mut tx, name, admin, Role::Admin, &p.source.actor, p.now)
            .await?;
    }
    audit(
        b,
        &mut tx,
        Entry {
            workspace_id: name,
            source: &p.source,
            now: p.now,
            action: "workspace.created",
            subject: format!("workspace:{name}"),
            details: json!({"name": name, "admin": p.admin}),
        },
    )
    .await?;
    b.commit(tx, "committing a new workspace").await?;
    Ok(ws)
}

pub(crate) async fn workspace_get<B: IdentityRows>(b: &B, name: &str) -> StoreResult<Workspace> {
    let mut tx = b.begin_read().await?;
    let ws = b.workspace_read(&mut tx, name).await?;
    b.rollback(tx).await;
    ws.ok_or_else(|| not_found("workspace", name))
}

pub(crate) async fn user_create<B: IdentityRows>(b: &B, p: UserCreateParams) -> StoreResult<User> {
    let mut tx = b.begin(&p.workspace_id).await?;
    let Some(user) = b.user_insert(&mut tx, &p).await? else {
        b.rollback(tx).await;
        return Err(StoreError::Conflict(format!(
            "user {} already exists",
            p.name
        )));
    };
    if let Some(role) = p.role {
        if b.workspace_read(&mut tx, &p.workspace_id).await?.is_none() {
            b.rollback(tx).await;
            return Err(not_found("workspace", &p.workspace_id));
        }
        b.member_upsert(
            &mut tx,
            &p.workspace_id,
            p.name.as_str(),
            role,
            &p.source.actor,
            p.now,
        )
        .await?;
    }
    audit(
        b,
        &mut tx,
        Entry {
            workspace_id: &p.workspace_id,
            source: &p.source,
            now: p.now,
            action: "user.created",
            subject: format!("user:{}", p.name),
            details: json!({"name": p.name.as_str(), "password": p.password_hash.is_some(), "role": p.role}),
        },
    )
    .await?;
    b.commit(tx, "committing a new user").await?;
    Ok(user)
}

pub(crate) async fn user_credentials<B: IdentityRows>(
    b: &B,
    name: &str,
) -> StoreResult<UserCredentials> {
    let mut tx = b.begin_read().await?;
    let user = b.user_read(&mut tx, name).await?;
    b.rollback(tx).await;
    user.ok_or_else(|| not_found("user", name))
}

pub(crate) async fn member_set<B: IdentityRows>(
    b: &B,
    p: MemberSetParams,
) -> StoreResult<MemberSet> {
    let mut tx = b.begin(&p.workspace_id).await?;
    if b.workspace_read(&mut tx, &p.workspace_id).await?.is_none() {
        b.rollback(tx).await;
        return Err(not_found("workspace", &p.workspace_id));
    }
    if b.user_read(&mut tx, &p.user).await?.is_none() {
        b.rollback(tx).await;
        return Err(not_found("user", &p.user));
    }
    let before = b
        .member_read(&mut tx, &p.workspace_id, &p.user)
        .await?
        .map(|m| m.role);
    let membership = b
        .member_upsert(
            &mut tx,
            &p.workspace_id,
            &p.user,
            p.role,
            &p.source.actor,
            p.now,
        )
        .await?;
    audit(
        b,
        &mut tx,
        Entry {
            workspace_id: &p.workspace_id,
            source: &p.source,
            now: p.now,
            action: "member.set",
            subject: format!("user:{}", p.user),
            details: json!({"user": p.user, "before": before, "after": p.role}),
        },
    )
    .await?;
    b.commit(tx, "committing a member's role").await?;
    Ok(MemberSet { membership, before })
}

pub(crate) async fn member_role<B: IdentityRows>(
    b: &B,
    workspace_id: &str,
    user: &str,
) -> StoreResult<Option<Role>> {
    let mut tx = b.begin_read().await?;
    b.scope_workspace(&mut tx, workspace_id).await?;
    let m = b.member_read(&mut tx, workspace_id, user).await?;
    b.rollback(tx).await;
    Ok(m.map(|m| m.role))
}

pub(crate) async fn token_create<B: IdentityRows>(
    b: &B,
    p: TokenCreateParams,
) -> StoreResult<ApiToken> {
    let mut tx = b.begin(&p.workspace_id).await?;
    if b.workspace_read(&mut tx, &p.workspace_id).await?.is_none() {
        b.rollback(tx).await;
        return Err(not_found("workspace", &p.workspace_id));
    }
    if b.user_read(&mut tx, &p.user).await?.is_none() {
        b.rollback(tx).await;
        return Err(not_found("user", &p.user));
    }
    let token = b.token_insert(&mut tx, &p).await?;
    audit(
        b,
        &mut tx,
        Entry {
            workspace_id: &p.workspace_id,
            source: &p.source,
            now: p.now,
            action: "token.created",
            subject: format!("token:{}", token.id),
            details: json!({"id": token.id, "user": token.user, "name": token.name, "expires_at": token.expires_at}),
        },
    )
    .await?;
    b.commit(tx, "committing a new token").await?;
    Ok(token)
}

pub(crate) async fn token_lookup<B: IdentityRows>(
    b: &B,
    digest: &str,
) -> StoreResult<Option<TokenAuth>> {
    let mut tx = b.begin_read().await?;
    b.scope_digest(&mut tx, digest).await?;
    let Some(token) = b.token_by_digest(&mut tx, digest).await? else {
        b.rollback(tx).await;
        return Ok(None);
    };
    b.scope_workspace(&mut tx, &token.workspace_id).await?;
    let role = b
        .member_read(&mut tx, &token.workspace_id, &token.user)
        .await?
        .map(|m| m.role);
    b.rollback(tx).await;
    Ok(Some(TokenAuth { token, role }))
}

pub(crate) async fn token_get<B: IdentityRows>(
    b: &B,
    workspace_id: &str,
    id: i64,
) -> StoreResult<ApiToken> {
    let mut tx = b.begin_read().await?;
    b.scope_workspace(&mut tx, workspace_id).await?;
    let token = b.token_by_id(&mut tx, workspace_id, id).await?;
    b.rollback(tx).await;
    token.ok_or_else(|| not_found("token", id))
}

pub(crate) async fn token_revoke<B: IdentityRows>(
    b: &B,
    p: TokenRevokeParams,
) -> StoreResult<ApiToken> {
    let mut tx = b.begin(&p.workspace_id).await?;
    let Some(before) = b.token_by_id(&mut tx, &p.workspace_id, p.id).await? else {
        b.rollback(tx).await;
        return Err(not_found("token", p.id));
    };
    if before.revoked_at.is_some() {
        b.rollback(tx).await;
        return Ok(before);
    }
    let token = b
        .token_mark_revoked(&mut tx, &p.workspace_id, p.id, p.now)
        .await?
        .ok_or_else(|| not_found("token", p.id))?;
    audit(
        b,
        &mut tx,
        Entry {
            workspace_id: &p.workspace_id,
            source: &p.source,
            now: p.now,
            action: "token.revoked",
            subject: format!("token:{}", token.id),
            details: json!({"id": token.id, "user": token.user, "name": token.name}),
        },
    )
    .await?;
    b.commit(tx, "committing a token's revocation").await?;
    Ok(token)
}

pub(crate) async fn ui_session_create<B: IdentityRows>(
    b: &B,
    p: UiSessionCreateParams,
) -> StoreResult<()> {
    let s = &p.session;
    let mut tx = b.begin(&s.workspace_id).await?;
    // Each sign-in sweeps its workspace's expired sessions, so the table
    // holds live sessions only, without a janitor.
    b.ui_sessions_purge(&mut tx, &s.workspace_id, s.created_at)
        .await?;
    b.ui_session_insert(&mut tx, &p.digest, s).await?;
    audit(
        b,
        &mut tx,
        Entry {
            workspace_id: &s.workspace_id,
            source: &p.source,
            now: s.created_at,
            action: "signin",
            subject: format!("user:{}", s.user),
            details: json!({"user": s.user, "expires_at": s.expires_at}),
        },
    )
    .await?;
    b.commit(tx, "committing a sign-in").await
}

pub(crate) async fn ui_session_lookup<B: IdentityRows>(
    b: &B,
    digest: &str,
) -> StoreResult<Option<UiSessionAuth>> {
    let mut tx = b.begin_read().await?;
    b.scope_digest(&mut tx, digest).await?;
    let Some(session) = b.ui_session_by_digest(&mut tx, digest).await? else {
        b.rollback(tx).await;
        return Ok(None);
    };
    b.scope_workspace(&mut tx, &session.workspace_id).await?;
    let role = b
        .member_read(&mut tx, &session.workspace_id, &session.user)
        .await?
        .map(|m| m.role);
    b.rollback(tx).await;
    Ok(Some(UiSessionAuth { session, role }))
}

pub(crate) async fn ui_session_delete<B: IdentityRows>(
    b: &B,
    p: UiSessionDeleteParams,
) -> StoreResult<bool> {
    // The session's workspace is known once its row is found by digest.
    let mut tx = b.begin(DEFAULT_WORKSPACE).await?;
    b.scope_digest(&mut tx, &p.digest).await?;
    let Some(s) = b.ui_session_remove(&mut tx, &p.digest).await? else {
        b.rollback(tx).await;
        return Ok(false);
    };
    b.workspace_enter(&mut tx, &s.workspace_id).await?;
    audit(
        b,
        &mut tx,
        Entry {
            workspace_id: &s.workspace_id,
            source: &p.source,
            now: p.now,
            action: "signout",
            subject: format!("user:{}", s.user),
            details: json!({"user": s.user}),
        },
    )
    .await?;
    b.commit(tx, "committing a sign-out").await?;
    Ok(true)
}
