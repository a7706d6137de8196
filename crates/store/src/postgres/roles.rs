//! A restricted role to run opsroom as: it may log in and read and write
//! opsroom's tables, but is neither a superuser nor BYPASSRLS, so
//! row-level security holds for it. Made by `opsroom migrate --create-role`.

use super::PgStore;
use crate::*;

/// Which role to create (or grant to, when it exists).
#[derive(Clone)]
pub struct RoleCreateParams {
    pub name: String,
    /// None: a role that logs in without a password where `pg_hba.conf`
    /// lets it (or a password is set later by an administrator).
    pub password: Option<String>,
}

impl std::fmt::Debug for RoleCreateParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCreateParams")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What [`PgStore::role_create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCreated {
    /// False when the role existed and was only granted access.
    pub created: bool,
    /// The schema it was granted.
    pub schema: String,
}

impl PgStore {
    /// Creates `name` as a LOGIN role without SUPERUSER, BYPASSRLS,
    /// CREATEDB or CREATEROLE (or takes the existing one, refused if it is
    /// a superuser, BYPASSRLS or the role connected now), and grants it
    /// what `opsroom serve` and `opsroom worker` need on the current
    /// schema: its tables (the migrations table read-only), sequences and
    /// opsroom's functions. Run it after [`Store::migrate`], as the owner.
    /// Names and the password are quoted by PostgreSQL's own `format`.
    pub async fn role_create(&self, p: &RoleCreateParams) -> StoreResult<RoleCreated> {
        if p.name.is_empty() || p.name.len() > 63 || p.name.contains('\0') {
            return Err(StoreError::Conflict(format!(
                "role name must be 1 to 63 bytes without NUL; {:?} is not",
                p.name
            )));
        }
        if p.password.as_deref().is_some_and(|pw| pw.contains('\0')) {
            return Err(StoreError::Conflict("password holds NUL".into()));
        }
        let mut tx = self.pool().begin().await.doing("starting role creation")?;
        let existing: Option<(bool, bool, bool)> = sqlx::query_as(
            "SELECT rolsuper, rolbypassrls, rolname = current_user FROM pg_roles WHERE rolname = $1",
        )
        .bind(&p.name)
        .fetch_optional(&mut *tx)
        .await
        .doing("looking up the role")?;
        match existing {
            Some((true, _, _)) | Some((_, true, _)) => {
                return Err(StoreError::Conflict(format!(
                    "role {} exists and is a superuser or BYPASSRLS: row-level security would not hold for it; pick another name",
                    p.name
                )))
            }
            Some((_, _, true)) => {
                return Err(StoreError::Conflict(format!(
                    "role {} is the role migrating (the tables' owner); create another one",
                    p.name
                )))
            }
            _ => {}
        }
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&mut *tx)
            .await
            .doing("reading the current schema")?;
        let mut statements: Vec<String> = Vec::new();
        let built = |sql: &'static str| {
            sqlx::query_scalar::<_, String>(sql)
                .bind(&p.name)
                .bind(&schema)
                .bind(&p.password)
        };
        if existing.is_none() {
            statements.push(
                built(
                    "SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', $1)",
                )
                .fetch_one(&mut *tx)
                .await
                .doing("building CREATE ROLE")?,
            );
        }
        for sql in [
            "SELECT format('ALTER ROLE %I PASSWORD %L', $1, $3) WHERE $3 IS NOT NULL",
            "SELECT format('GRANT USAGE ON SCHEMA %I TO %I', $2, $1)",
            "SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', $2, $1)",
            "SELECT format('REVOKE INSERT, UPDATE, DELETE ON %I.opsroom_migrations FROM %I', $2, $1)",
            "SELECT format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', $2, $1)",
            "SELECT format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', $2, $1)",
        ] {
            if let Some(s) = built(sql)
                .fetch_optional(&mut *tx)
                .await
                .doing("building a GRANT")?
            {
                statements.push(s);
            }
        }
        for s in &statements {
            sqlx::raw_sql(s.as_str())
                .execute(&mut *tx)
                .await
                .doing("creating and granting the role")?;
        }
        tx.commit().await.doing("committing the role")?;
        Ok(RoleCreated {
            created: existing.is_none(),
            schema,
        })
    }
}
