//! Secrets set through the API, stored sealed: the store keeps the sealed
//! (encrypted) text and the id of the key that sealed it, never the value
//! nor the key (`opsroom-auth`'s `MasterKey` seals and opens them).
//!
//! The sequences (set, delete, re-seal: each with its audit entry in the
//! same transaction) are written once on top of each backend's [`SecretRows`].

use crate::rows::StoredTime;
use crate::sequences::{NewAudit, Primitives};
use crate::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

/// A secret's name: 1 to 100 of `A-Z a-z 0-9 _ . -`, not only dots.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SecretName(String);

/// Why a text is not a secret name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret name must be 1 to 100 characters of A-Z, a-z, 0-9, `_`, `.` and `-`; {0}")]
pub struct SecretNameError(String);

impl SecretName {
    /// Checks `name` against the rules; the error says what is wrong
    /// (without echoing a long or odd name in full).
    pub fn parse(name: &str) -> Result<SecretName, SecretNameError> {
        if name.is_empty() {
            return Err(SecretNameError("this one is empty".into()));
        }
        if name.chars().count() > 100 {
            return Err(SecretNameError(format!(
                "this one is {} characters long",
                name.chars().count()
            )));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(SecretNameError(format!("this one has {bad:?}")));
        }
        if name.chars().all(|c| c == '.') {
            // A URL path would drop or climb over `.` and `..`.
            return Err(SecretNameError("dots alone are not a name".into()));
        }
        Ok(SecretName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SecretName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is known of a stored secret, without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretMeta {
    pub workspace_id: String,
    pub name: String,
    /// The id of the master key that sealed it.
    pub key_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// A stored secret with its sealed text (still encrypted).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub meta: SecretMeta,
    pub sealed: String,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Sets (creates or replaces) a secret.
#[derive(Clone)]
pub struct SecretPutParams {
    pub workspace_id: String,
    pub name: SecretName,
    /// Sealed text (see `opsroom_auth::MasterKey::seal`), never a plaintext.
    pub sealed: String,
    pub key_id: String,
    pub actor: String,
    /// Where the request came from (the client's address), for the audit log.
    pub source: Option<String>,
    pub now: DateTime<Utc>,
}

/// What [`SecretStore::secret_put`] did.
#[derive(Debug, Clone)]
pub struct SecretPut {
    pub meta: SecretMeta,
    /// True when the secret did not exist before.
    pub created: bool,
}

/// Deletes a secret.
#[derive(Debug, Clone)]
pub struct SecretDeleteParams {
    pub workspace_id: String,
    pub name: SecretName,
    pub actor: String,
    /// Where the request came from (the client's address), for the audit log.
    pub source: Option<String>,
    pub now: DateTime<Utc>,
}

/// One secret sealed again under another key.
#[derive(Clone)]
pub struct SecretReseal {
    pub workspace_id: String,
    pub name: String,
    /// The sealed text read before: the row is only changed if it still
    /// holds exactly this.
    pub old_sealed: String,
    pub sealed: String,
    pub key_id: String,
}

/// Re-seals secrets (a master key rotation), all or none.
#[derive(Clone)]
pub struct SecretsResealParams {
    pub reseals: Vec<SecretReseal>,
    pub actor: String,
    pub now: DateTime<Utc>,
}

/// The secrets part of the storage interface (every [`Store`] has it).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Creates or replaces a secret, with an audit entry (name only).
    async fn secret_put(&self, params: SecretPutParams) -> StoreResult<SecretPut>;

    /// The secrets of a workspace, by name, without their sealed text.
    async fn secrets_list(&self, workspace_id: &str) -> StoreResult<Vec<SecretMeta>>;

    /// One secret of a workspace with its sealed text; `NotFound` if absent.
    async fn secret_get(&self, workspace_id: &str, name: &SecretName) -> StoreResult<SealedSecret>;

    /// Deletes a secret, with an audit entry; `NotFound` if absent.
    async fn secret_delete(&self, params: SecretDeleteParams) -> StoreResult<()>;

    /// Every secret of every workspace with its sealed text (for a key
    /// rotation).
    async fn secrets_sealed_all(&self) -> StoreResult<Vec<SealedSecret>>;

    /// Writes every re-sealed secret in one transaction, each with an audit
    /// entry. If any row changed since it was read (or is gone), nothing is
    /// written and the answer is `Conflict`. Returns how many were written.
    async fn secrets_reseal(&self, params: SecretsResealParams) -> StoreResult<usize>;
}

/// Which secrets to read.
pub(crate) enum SecretsQuery<'a> {
    One(&'a str, &'a str),
    Workspace(&'a str),
    All,
}

/// What each backend provides for secrets.
#[async_trait]
pub(crate) trait SecretRows: Primitives {
    async fn secrets_read(&self, query: SecretsQuery<'_>) -> StoreResult<Vec<SealedSecret>>;

    async fn secret_read_tx(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        name: &str,
    ) -> StoreResult<Option<SealedSecret>>;

    async fn secret_upsert(
        &self,
        tx: &mut Self::Tx,
        p: &SecretPutParams,
    ) -> StoreResult<SealedSecret>;

    /// Whether a row was deleted.
    async fn secret_remove(
        &self,
        tx: &mut Self::Tx,
        workspace_id: &str,
        name: &str,
    ) -> StoreResult<bool>;

    /// Whether the row still held `old_sealed` and was changed.
    async fn secret_reseal_row(&self, tx: &mut Self::Tx, r: &SecretReseal) -> StoreResult<bool>;
}

/// A `secrets` row, generic over how the backend stores a time.
#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow<T> {
    workspace_id: String,
    name: String,
    key_id: String,
    created_at: T,
    updated_at: T,
    updated_by: String,
    sealed: String,
}

impl<T: StoredTime> TryFrom<SecretRow<T>> for SealedSecret {
    type Error = StoreError;

    fn try_from(r: SecretRow<T>) -> StoreResult<SealedSecret> {
        let time = |column: &'static str, t: &T| {
            t.unix_micros()
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(|| StoreError::Corrupt {
                    what: format!("secret {}", r.name),
                    column,
                    reason: "time out of range".into(),
                })
        };
        Ok(SealedSecret {
            meta: SecretMeta {
                created_at: time("created_at", &r.created_at)?,
                updated_at: time("updated_at", &r.updated_at)?,
                workspace_id: r.workspace_id,
                name: r.name,
                key_id: r.key_id,
                updated_by: r.updated_by,
            },
            sealed: r.sealed,
        })
    }
}

pub(crate) fn not_found(name: &str) -> StoreError {
    StoreError::NotFound {
        what: "secret",
        id: name.to_string(),
    }
}

pub(crate) async fn get<B: SecretRows>(
    b: &B,
    workspace_id: &str,
    name: &SecretName,
) -> StoreResult<SealedSecret> {
    b.secrets_read(SecretsQuery::One(workspace_id, name.as_str()))
        .await?
        .pop()
        .ok_or_else(|| not_found(name.as_str()))
}

pub(crate) async fn list<B: SecretRows>(b: &B, workspace_id: &str) -> StoreResult<Vec<SecretMeta>> {
    Ok(b.secrets_read(SecretsQuery::Workspace(workspace_id))
        .await?
        .into_iter()
        .map(|s| s.meta)
        .collect())
}

pub(crate) async fn all<B: SecretRows>(b: &B) -> StoreResult<Vec<SealedSecret>> {
    b.secrets_read(SecretsQuery::All).await
}

pub(crate) async fn put<B: SecretRows>(b: &B, p: SecretPutParams) -> StoreResult<SecretPut> {
    let mut tx = b.begin(&p.workspace_id).await?;
    let before = b
        .secret_read_tx(&mut tx, &p.workspace_id, p.name.as_str())
        .await?;
    let stored = b.secret_upsert(&mut tx, &p).await?;
    b.audit_insert(
        &mut tx,
        NewAudit {
            workspace_id: &p.workspace_id,
            ts: p.now,
            actor: &p.actor,
            action: "secret.set",
            subject: &format!("secret:{}", p.name),
            source: p.source.as_deref(),
            details: &json!({"name": p.name.as_str(), "created": before.is_none()}),
        },
    )
    .await?;
    b.commit(tx, "committing a secret").await?;
    Ok(SecretPut {
        meta: stored.meta,
        created: before.is_none(),
    })
}

pub(crate) async fn delete<B: SecretRows>(b: &B, p: SecretDeleteParams) -> StoreResult<()> {
    let mut tx = b.begin(&p.workspace_id).await?;
    if !b
        .secret_remove(&mut tx, &p.workspace_id, p.name.as_str())
        .await?
    {
        b.rollback(tx).await;
        return Err(not_found(p.name.as_str()));
    }
    b.audit_insert(
        &mut tx,
        NewAudit {
            workspace_id: &p.workspace_id,
            ts: p.now,
            actor: &p.actor,
            action: "secret.deleted",
            subject: &format!("secret:{}", p.name),
            source: p.source.as_deref(),
            details: &json!({"name": p.name.as_str()}),
        },
    )
    .await?;
    b.commit(tx, "committing a secret's deletion").await
}

pub(crate) async fn reseal<B: SecretRows>(b: &B, p: SecretsResealParams) -> StoreResult<usize> {
    let Some(first) = p.reseals.first() else {
        return Ok(0);
    };
    // Each secret is written back in its own workspace.
    let mut tx = b.begin(&first.workspace_id).await?;
    for r in &p.reseals {
        b.workspace_enter(&mut tx, &r.workspace_id).await?;
        if !b.secret_reseal_row(&mut tx, r).await? {
            b.rollback(tx).await;
            return Err(StoreError::Conflict(format!(
                "secret {} of workspace {} changed or was deleted during the rotation; nothing was re-sealed, run it again",
                r.name, r.workspace_id
            )));
        }
        b.audit_insert(
            &mut tx,
            NewAudit {
                workspace_id: &r.workspace_id,
                ts: p.now,
                actor: &p.actor,
                action: "secret.resealed",
                subject: &format!("secret:{}", r.name),
                source: None,
                details: &json!({"name": r.name, "key_id": r.key_id}),
            },
        )
        .await?;
    }
    b.commit(tx, "committing re-sealed secrets").await?;
    Ok(p.reseals.len())
}

/// Implements [`SecretStore`] for a backend with the shared sequences.
macro_rules! impl_secret_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::SecretStore for $store {
            async fn secret_put(
                &self,
                p: $crate::SecretPutParams,
            ) -> $crate::StoreResult<$crate::SecretPut> {
                $crate::secrets::put(self, p).await
            }
            async fn secrets_list(
                &self,
                workspace_id: &str,
            ) -> $crate::StoreResult<Vec<$crate::SecretMeta>> {
                $crate::secrets::list(self, workspace_id).await
            }
            async fn secret_get(
                &self,
                workspace_id: &str,
                name: &$crate::SecretName,
            ) -> $crate::StoreResult<$crate::SealedSecret> {
                $crate::secrets::get(self, workspace_id, name).await
            }
            async fn secret_delete(
                &self,
                p: $crate::SecretDeleteParams,
            ) -> $crate::StoreResult<()> {
                $crate::secrets::delete(self, p).await
            }
            async fn secrets_sealed_all(&self) -> $crate::StoreResult<Vec<$crate::SealedSecret>> {
                $crate::secrets::all(self).await
            }
            async fn secrets_reseal(
                &self,
                p: $crate::SecretsResealParams,
            ) -> $crate::StoreResult<usize> {
                $crate::secrets::reseal(self, p).await
            }
        }
    };
}
pub(crate) use impl_secret_store;
