//! Supabase: project status and service health through the Management API,
//! and database migrations through a PostgreSQL connection (the shared
//! implementation in [`crate::postgres`]).
//!
//! Endpoints used: `GET /v1/projects/{ref}` and
//! `GET /v1/projects/{ref}/health?services=…`.

use serde::Deserialize;
use tokio::sync::mpsc;

use crate::follow::{follow_until_terminal, FollowError, FollowOptions, Observed};
use crate::http::{ApiClient, ApiError, Call, HttpOptions};
use crate::postgres::{Migration, MigrationReport, PgError, Postgres};
use crate::secret::Secret;

/// The public Management API.
pub const DEFAULT_BASE_URL: &str = "https://api.supabase.com";

/// The table where Supabase migrations applied by opsroom are recorded.
pub const MIGRATIONS_TABLE: &str = "public.opsroom_schema_migrations";

/// How to reach the Management API.
#[derive(Clone, Debug)]
pub struct SupabaseConfig {
    /// API root, [`DEFAULT_BASE_URL`] unless testing.
    pub base_url: String,
    /// A personal access token (`sbp_…`).
    pub token: Secret,
    /// Timeouts and retries.
    pub http: HttpOptions,
}

impl SupabaseConfig {
    /// Configuration for the public API with default transport settings.
    pub fn new(token: Secret) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token,
            http: HttpOptions::default(),
        }
    }
}

/// A service whose health can be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// GoTrue.
    Auth,
    /// The database.
    Db,
    /// Supavisor.
    Pooler,
    /// Realtime.
    Realtime,
    /// PostgREST.
    Rest,
    /// Storage.
    Storage,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 6] = [
        Service::Auth,
        Service::Db,
        Service::Pooler,
        Service::Realtime,
        Service::Rest,
        Service::Storage,
    ];

    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Auth => "auth",
            Service::Db => "db",
            Service::Pooler => "pooler",
            Service::Realtime => "realtime",
            Service::Rest => "rest",
            Service::Storage => "storage",
        }
    }

    /// The service the API calls `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A project (`GET /v1/projects/{ref}`).
#[derive(Clone, Debug, Deserialize)]
pub struct Project {
    /// The project ref.
    pub id: String,
    /// Name.
    pub name: String,
    /// Region, e.g. `us-east-1`.
    #[serde(default)]
    pub region: String,
    /// `ACTIVE_HEALTHY`, `COMING_UP`, `INACTIVE`, `RESTORING`, …
    pub status: String,
    /// Organisation id.
    #[serde(default)]
    pub organization_id: String,
    /// Database host and version.
    #[serde(default)]
    pub database: Option<ProjectDatabase>,
}

impl Project {
    /// Whether the project reports `ACTIVE_HEALTHY`.
    pub fn is_healthy(&self) -> bool {
        self.status == "ACTIVE_HEALTHY"
    }
}

impl Observed for Project {
    fn status_label(&self) -> String {
        self.status.clone()
    }
    /// A project is settled when healthy or in a state that needs a human
    /// (paused, failed); transitional states keep the follow going.
    fn is_terminal(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "COMING_UP"
                | "RESTORING"
                | "UPGRADING"
                | "PAUSING"
                | "RESTARTING"
                | "RESIZING"
                | "GOING_DOWN"
        )
    }
}

/// A project's database.
#[derive(Clone, Debug, Deserialize)]
pub struct ProjectDatabase {
    /// Host name.
    #[serde(default)]
    pub host: String,
    /// PostgreSQL version.
    #[serde(default)]
    pub version: String,
}

/// The health of one service.
#[derive(Clone, Debug, Deserialize)]
pub struct ServiceHealth {
    /// Service name (`auth`, `db`, …).
    pub name: String,
    /// Whether it is healthy.
    pub healthy: bool,
    /// `ACTIVE_HEALTHY`, `COMING_UP`, `UNHEALTHY`.
    pub status: String,
    /// Why it is unhealthy, when it is.
    #[serde(default)]
    pub error: Option<String>,
}

/// A Supabase Management API client.
#[derive(Clone, Debug)]
pub struct SupabaseClient {
    api: ApiClient,
}

impl SupabaseClient {
    /// Builds a client; fails on an invalid base URL or an empty token.
    pub fn new(config: SupabaseConfig) -> Result<Self, ApiError> {
        let api = ApiClient::new("supabase", &config.base_url, config.token, config.http, &[])?;
        Ok(Self { api })
    }

    /// Reads a project and its status.
    pub async fn get_project(&self, project_ref: &str) -> Result<Project, ApiError> {
        self.api
            .json(Call::get(
                "supabase.get_project",
                &["v1", "projects", project_ref],
            ))
            .await
    }

    /// The health of the given services (all of them when `services` is empty).
    pub async fn health(
        &self,
        project_ref: &str,
        services: &[Service],
    ) -> Result<Vec<ServiceHealth>, ApiError> {
        let services = if services.is_empty() {
            &Service::ALL[..]
        } else {
            services
        };
        let list = services
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let call = Call::get(
            "supabase.health",
            &["v1", "projects", project_ref, "health"],
        )
        .query("services", list);
        self.api.json(call).await
    }

    /// Polls a project until it leaves its transitional states (e.g. after a
    /// restore), sending each status change to `progress`.
    pub async fn follow_project(
        &self,
        project_ref: &str,
        options: &FollowOptions,
        progress: Option<&mpsc::Sender<String>>,
    ) -> Result<Project, FollowError> {
        let what = format!("supabase project {project_ref}");
        follow_until_terminal(&what, options, progress, || self.get_project(project_ref)).await
    }
}

/// Applies migrations to a Supabase database over its PostgreSQL connection
/// (one transaction, recorded in [`MIGRATIONS_TABLE`]).
pub async fn apply_migrations(
    db: &Postgres,
    migrations: &[Migration],
) -> Result<MigrationReport, PgError> {
    db.apply_migrations(MIGRATIONS_TABLE, migrations).await
}

/// The direct connection URL of a project's database
/// (`postgresql://postgres:PASSWORD@db.REF.supabase.co:5432/postgres`), with
/// the password percent-encoded.
pub fn direct_database_url(project_ref: &str, password: &Secret) -> Result<Secret, PgError> {
    let mut url = reqwest::Url::parse("postgresql://postgres@localhost:5432/postgres")
        .expect("static URL parses");
    url.set_host(Some(&format!("db.{project_ref}.supabase.co")))
        .map_err(|e| PgError::InvalidInput(format!("project ref {project_ref:?}: {e}")))?;
    url.set_password(Some(password.expose()))
        .map_err(|_| PgError::InvalidInput("cannot put the password in the URL".to_owned()))?;
    Ok(Secret::new(url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_found_by_their_api_names() {
        for service in Service::ALL {
            assert_eq!(Service::from_name(service.as_str()), Some(service));
        }
        assert_eq!(Service::from_name("graphql"), None);
        assert_eq!(
            Service::from_name("DB"),
            None,
            "the API's names are lower case"
        );
    }

    #[test]
    fn direct_url_encodes_password() {
        let url = direct_database_url("abcd", &Secret::new("p@ss/word")).unwrap();
        assert_eq!(
            url.expose(),
            "postgresql://postgres:p%40ss%2Fword@db.abcd.supabase.co:5432/postgres"
        );
    }
}
