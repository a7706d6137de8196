//! SQLite's rows for people, workspaces, tokens and sign-in sessions (the
//! sequences are in `crate::identity`). One process owns the file, so the
//! workspace scoping is the queries' own `workspace_id` conditions.

use super::{us, SqliteStore};
use crate::identity::{
    impl_identity_store, IdentityRows, MembershipRow, TokenRow, UiSessionRow, UserRow, WorkspaceRow,
};
use crate::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsroom_auth::Role;
use sqlx::{Sqlite, Transaction};

type Tx = Transaction<'static, Sqlite>;
type Time = i64;

fn t(time: DateTime<Utc>) -> i64 {
    us(time)
}

#[async_trait]
impl IdentityRows for SqliteStore {
    async fn begin_read(&self) -> StoreResult<Tx> {
        self.reader.begin().await.doing("starting a transaction")
    }

    async fn scope_workspace(&self, _tx: &mut Tx, _workspace_id: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn scope_digest(&self, _tx: &mut Tx, _digest: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn users_any(&self, tx: &mut Tx) -> StoreResult<bool> {
        sqlx::query_scalar::<_, bool>(include_str!("queries/users_any.sql"))
            .fetch_one(&mut **tx)
            .await
            .doing("checking for users")
    }

    async fn workspace_insert(
        &self,
        tx: &mut Tx,
        name: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Workspace>> {
        sqlx::query_as::<_, WorkspaceRow<Time>>(include_str!("queries/workspace_insert.sql"))
            .bind(name)
            .bind(t(now))
            .bind(actor)
            .fetch_optional(&mut **tx)
            .await
            .doing("creating a workspace")?
            .map(Workspace::try_from)
            .transpose()
    }

    async fn workspace_read(&self, tx: &mut Tx, name: &str) -> StoreResult<Option<Workspace>> {
        sqlx::query_as::<_, WorkspaceRow<Time>>(include_str!("queries/workspace_get.sql"))
            .bind(name)
            .fetch_optional(&mut **tx)
            .await
            .doing("reading a workspace")?
            .map(Workspace::try_from)
            .transpose()
    }

    async fn user_insert(&self, tx: &mut Tx, p: &UserCreateParams) -> StoreResult<Option<User>> {
        Ok(
            sqlx::query_as::<_, UserRow<Time>>(include_str!("queries/user_insert.sql"))
                .bind(p.name.as_str())
                .bind(&p.password_hash)
                .bind(t(p.now))
                .bind(&p.source.actor)
                .fetch_optional(&mut **tx)
                .await
                .doing("creating a user")?
                .map(UserCredentials::try_from)
                .transpose()?
                .map(|c| c.user),
        )
    }

    async fn user_read(&self, tx: &mut Tx, name: &str) -> StoreResult<Option<UserCredentials>> {
        sqlx::query_as::<_, UserRow<Time>>(include_str!("queries/user_get.sql"))
            .bind(name)
            .fetch_optional(&mut **tx)
            .await
            .doing("reading a user")?
            .map(UserCredentials::try_from)
            .transpose()
    }

    async fn member_read(
        &self,
        tx: &mut Tx,
        workspace_id: &str,
        user: &str,
    ) -> StoreResult<Option<Membership>> {
        sqlx::query_as::<_, MembershipRow<Time>>(include_str!("queries/member_get.sql"))
            .bind(workspace_id)
            .bind(user)
            .fetch_optional(&mut **tx)
            .await
            .doing("reading a membership")?
            .map(Membership::try_from)
            .transpose()
    }

    async fn member_upsert(
        &self,
        tx: &mut Tx,
        workspace_id: &str,
        user: &str,
        role: Role,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Membership> {
        sqlx::query_as::<_, MembershipRow<Time>>(include_str!("queries/member_upsert.sql"))
            .bind(workspace_id)
            .bind(user)
            .bind(role.as_str())
            .bind(t(now))
            .bind(actor)
            .fetch_one(&mut **tx)
            .await
            .doing("setting a member's role")?
            .try_into()
    }

    async fn token_insert(&self, tx: &mut Tx, p: &TokenCreateParams) -> StoreResult<ApiToken> {
        sqlx::query_as::<_, TokenRow<Time>>(include_str!("queries/token_insert.sql"))
            .bind(&p.digest)
            .bind(&p.workspace_id)
            .bind(&p.user)
            .bind(&p.name)
            .bind(t(p.now))
            .bind(&p.source.actor)
            .bind(p.expires_at.map(t))
            .fetch_one(&mut **tx)
            .await
            .doing("creating a token")?
            .try_into()
    }

    async fn token_by_digest(&self, tx: &mut Tx, digest: &str) -> StoreResult<Option<ApiToken>> {
        sqlx::query_as::<_, TokenRow<Time>>(include_str!("queries/token_by_digest.sql"))
            .bind(digest)
            .fetch_optional(&mut **tx)
            .await
            .doing("looking up a token")?
            .map(ApiToken::try_from)
            .transpose()
    }

    async fn token_by_id(
        &self,
        tx: &mut Tx,
        workspace_id: &str,
        id: i64,
    ) -> StoreResult<Option<ApiToken>> {
        sqlx::query_as::<_, TokenRow<Time>>(include_str!("queries/token_by_id.sql"))
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .doing("reading a token")?
            .map(ApiToken::try_from)
            .transpose()
    }

    async fn token_mark_revoked(
        &self,
        tx: &mut Tx,
        workspace_id: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiToken>> {
        sqlx::query_as::<_, TokenRow<Time>>(include_str!("queries/token_revoke.sql"))
            .bind(workspace_id)
            .bind(id)
            .bind(t(now))
            .fetch_optional(&mut **tx)
            .await
            .doing("revoking a token")?
            .map(ApiToken::try_from)
            .transpose()
    }

    async fn ui_session_insert(&self, tx: &mut Tx, digest: &str, s: &UiSession) -> StoreResult<()> {
        sqlx::query(include_str!("queries/ui_session_insert.sql"))
            .bind(digest)
            .bind(&s.workspace_id)
            .bind(&s.user)
            .bind(s.bootstrap_admin)
            .bind(&s.csrf_token)
            .bind(t(s.created_at))
            .bind(t(s.expires_at))
            .execute(&mut **tx)
            .await
            .doing("storing a sign-in session")?;
        Ok(())
    }

    async fn ui_sessions_purge(
        &self,
        tx: &mut Tx,
        workspace_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let done = sqlx::query(include_str!("queries/ui_sessions_purge.sql"))
            .bind(workspace_id)
            .bind(t(now))
            .execute(&mut **tx)
            .await
            .doing("deleting expired sign-in sessions")?;
        Ok(done.rows_affected())
    }

    async fn ui_session_by_digest(
        &self,
        tx: &mut Tx,
        digest: &str,
    ) -> StoreResult<Option<UiSession>> {
        sqlx::query_as::<_, UiSessionRow<Time>>(include_str!("queries/ui_session_get.sql"))
            .bind(digest)
            .fetch_optional(&mut **tx)
            .await
            .doing("looking up a sign-in session")?
            .map(UiSession::try_from)
            .transpose()
    }

    async fn ui_session_remove(&self, tx: &mut Tx, digest: &str) -> StoreResult<Option<UiSession>> {
        sqlx::query_as::<_, UiSessionRow<Time>>(include_str!("queries/ui_session_delete.sql"))
            .bind(digest)
            .fetch_optional(&mut **tx)
            .await
            .doing("ending a sign-in session")?
            .map(UiSession::try_from)
            .transpose()
    }
}

impl_identity_store!(SqliteStore);
