//! PostgreSQL's rows for secrets (the sequences are in `crate::secrets`).

use super::rows::PgTime;
use super::PgStore;
use crate::secrets::{impl_secret_store, SecretRow, SecretRows, SecretsQuery};
use crate::*;
use async_trait::async_trait;
use sqlx::{Postgres, Transaction};

type Row = SecretRow<PgTime>;

fn rows(rows: Vec<Row>) -> StoreResult<Vec<SealedSecret>> {
    rows.into_iter().map(SealedSecret::try_from).collect()
}

#[async_trait]
impl SecretRows for PgStore {
    async fn secrets_read(&self, query: SecretsQuery<'_>) -> StoreResult<Vec<SealedSecret>> {
        let found = match query {
            SecretsQuery::One(ws, name) => {
                let mut tx = self.begin_in(ws).await?;
                sqlx::query_as::<_, Row>(include_str!("queries/secret_get.sql"))
                    .bind(ws)
                    .bind(name)
                    .fetch_all(&mut *tx)
                    .await
            }
            SecretsQuery::Workspace(ws) => {
                let mut tx = self.begin_in(ws).await?;
                sqlx::query_as::<_, Row>(include_str!("queries/secrets_list.sql"))
                    .bind(ws)
                    .fetch_all(&mut *tx)
                    .await
            }
            SecretsQuery::All => {
                sqlx::query_as::<_, Row>(include_str!("queries/secrets_all.sql"))
                    .fetch_all(&self.pool)
                    .await
            }
        };
        rows(found.doing("reading secrets")?)
    }

    async fn secret_read_tx(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        workspace_id: &str,
        name: &str,
    ) -> StoreResult<Option<SealedSecret>> {
        sqlx::query_as::<_, Row>(include_str!("queries/secret_get.sql"))
            .bind(workspace_id)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await
            .doing("reading a secret")?
            .map(SealedSecret::try_from)
            .transpose()
    }

    async fn secret_upsert(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        p: &SecretPutParams,
    ) -> StoreResult<SealedSecret> {
        sqlx::query_as::<_, Row>(include_str!("queries/secret_upsert.sql"))
            .bind(&p.workspace_id)
            .bind(p.name.as_str())
            .bind(&p.sealed)
            .bind(&p.key_id)
            .bind(p.now)
            .bind(&p.actor)
            .fetch_one(&mut **tx)
            .await
            .doing("writing a secret")?
            .try_into()
    }

    async fn secret_remove(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        workspace_id: &str,
        name: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(include_str!("queries/secret_delete.sql"))
            .bind(workspace_id)
            .bind(name)
            .execute(&mut **tx)
            .await
            .doing("deleting a secret")?;
        Ok(done.rows_affected() == 1)
    }

    async fn secret_reseal_row(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        r: &SecretReseal,
    ) -> StoreResult<bool> {
        let done = sqlx::query(include_str!("queries/secret_reseal.sql"))
            .bind(&r.workspace_id)
            .bind(&r.name)
            .bind(&r.sealed)
            .bind(&r.key_id)
            .bind(&r.old_sealed)
            .execute(&mut **tx)
            .await
            .doing("re-sealing a secret")?;
        Ok(done.rows_affected() == 1)
    }
}

impl_secret_store!(PgStore);
