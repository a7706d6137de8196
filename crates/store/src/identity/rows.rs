//! The identity tables' rows as both backends read them, and their
//! conversions into the model (a value that does not read back is
//! [`StoreError::Corrupt`], naming the row and the column).

use super::{ApiToken, Membership, UiSession, UserCredentials, Workspace};
use crate::rows::StoredTime;
use crate::*;
use chrono::{DateTime, Utc};

/// Rows as both backends read them, generic over how a time is stored.
#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow<T> {
    name: String,
    created_at: T,
    created_by: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow<T> {
    name: String,
    password_hash: Option<String>,
    created_at: T,
    created_by: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MembershipRow<T> {
    workspace_id: String,
    user_name: String,
    role: String,
    updated_at: T,
    updated_by: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow<T> {
    id: i64,
    workspace_id: String,
    user_name: String,
    name: Option<String>,
    created_at: T,
    created_by: String,
    expires_at: Option<T>,
    revoked_at: Option<T>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct UiSessionRow<T> {
    workspace_id: String,
    user_name: String,
    bootstrap_admin: bool,
    csrf_token: String,
    created_at: T,
    expires_at: T,
}

fn time<T: StoredTime>(what: &str, column: &'static str, t: &T) -> StoreResult<DateTime<Utc>> {
    t.unix_micros()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| StoreError::Corrupt {
            what: what.to_string(),
            column,
            reason: "time out of range".into(),
        })
}

impl<T: StoredTime> TryFrom<WorkspaceRow<T>> for Workspace {
    type Error = StoreError;
    fn try_from(r: WorkspaceRow<T>) -> StoreResult<Workspace> {
        let what = format!("workspace {}", r.name);
        Ok(Workspace {
            created_at: time(&what, "created_at", &r.created_at)?,
            name: r.name,
            created_by: r.created_by,
        })
    }
}

impl<T: StoredTime> TryFrom<UserRow<T>> for UserCredentials {
    type Error = StoreError;
    fn try_from(r: UserRow<T>) -> StoreResult<UserCredentials> {
        let what = format!("user {}", r.name);
        Ok(UserCredentials {
            user: User {
                created_at: time(&what, "created_at", &r.created_at)?,
                has_password: r.password_hash.is_some(),
                name: r.name,
                created_by: r.created_by,
            },
            password_hash: r.password_hash,
        })
    }
}

impl<T: StoredTime> TryFrom<MembershipRow<T>> for Membership {
    type Error = StoreError;
    fn try_from(r: MembershipRow<T>) -> StoreResult<Membership> {
        let what = format!("membership {}/{}", r.workspace_id, r.user_name);
        Ok(Membership {
            role: r
                .role
                .parse()
                .map_err(|e: opsroom_auth::role::UnknownRole| StoreError::Corrupt {
                    what: what.clone(),
                    column: "role",
                    reason: e.to_string(),
                })?,
            updated_at: time(&what, "updated_at", &r.updated_at)?,
            workspace_id: r.workspace_id,
            user: r.user_name,
            updated_by: r.updated_by,
        })
    }
}

impl<T: StoredTime> TryFrom<TokenRow<T>> for ApiToken {
    type Error = StoreError;
    fn try_from(r: TokenRow<T>) -> StoreResult<ApiToken> {
        let what = format!("token {}", r.id);
        Ok(ApiToken {
            created_at: time(&what, "created_at", &r.created_at)?,
            expires_at: r
                .expires_at
                .as_ref()
                .map(|t| time(&what, "expires_at", t))
                .transpose()?,
            revoked_at: r
                .revoked_at
                .as_ref()
                .map(|t| time(&what, "revoked_at", t))
                .transpose()?,
            id: r.id,
            workspace_id: r.workspace_id,
            user: r.user_name,
            name: r.name,
            created_by: r.created_by,
        })
    }
}

impl<T: StoredTime> TryFrom<UiSessionRow<T>> for UiSession {
    type Error = StoreError;
    fn try_from(r: UiSessionRow<T>) -> StoreResult<UiSession> {
        let what = format!("session of {}", r.user_name);
        Ok(UiSession {
            created_at: time(&what, "created_at", &r.created_at)?,
            expires_at: time(&what, "expires_at", &r.expires_at)?,
            workspace_id: r.workspace_id,
            user: r.user_name,
            bootstrap_admin: r.bootstrap_admin,
            csrf_token: r.csrf_token,
        })
    }
}
