//! `opsroom.toml`: environments and the services each one has. A bad file is
//! refused with an error naming the key (and line) and what is expected.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

mod deploy;
mod logs;
mod notifications;
mod probes;
mod slack;
pub use deploy::{
    DeployConfig, MigrationsConfig, MigrationsGitHubConfig, SecretError, SecretRef, SecretSource,
    SpecConfig, SpecGitHubConfig,
};
pub use logs::{vercel_project, IncidentConfig, LogSourceConfig, VercelLogsProject};
pub use notifications::{ChannelConfig, ChannelKind, HookConfig};
pub use slack::SlackConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Environments by name (dev, staging, prod, …).
    #[serde(default)]
    pub environments: BTreeMap<String, EnvConfig>,
    /// Folder of custom runbook files.
    #[serde(default)]
    pub runbooks_dir: Option<String>,
    /// PostgreSQL databases that custom runbooks' `sql` steps name
    /// (`[databases.NAME]`).
    #[serde(default)]
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// Named credentials: `name = "env:VARNAME"` or `name = "file:PATH"`.
    /// Providers refer to them by name (`token_secret = "vercel"`).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    /// Where the `spec` runbook commits its documents.
    #[serde(default)]
    pub spec: Option<SpecConfig>,
    /// Where the `incident_pr` runbook proposes its fixes (`[incident]`).
    #[serde(default)]
    pub incident: Option<IncidentConfig>,
    /// How approvals behave (`[approvals]`).
    #[serde(default)]
    pub approvals: ApprovalsConfig,
    /// Channels told about run events (`[[notifications]]`).
    #[serde(default)]
    pub notifications: Vec<ChannelConfig>,
    /// Signed triggers for CI (`[hooks.NAME]`).
    #[serde(default)]
    pub hooks: BTreeMap<String, HookConfig>,
    /// ChatOps from Slack (`[slack]`): slash commands and buttons.
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    /// The URL people reach this server at, for links in notifications
    /// (default `http://127.0.0.1:7300`).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The `secret:NAME` values read for the run this copy of the config
    /// serves, by stored name (see [`crate::stored_secrets`]); each is the
    /// value or why it could not be read.
    #[serde(skip)]
    pub(crate) stored_secrets: BTreeMap<String, Result<opsroom_adapters::Secret, String>>,
}

/// `[approvals]`: how long a run waits for approval.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// Seconds a run waits for someone to approve or reject it; after
    /// that it is rejected as expired. Default 86400 (24 h); the
    /// `OPSROOM_APPROVAL_EXPIRE_SECS` environment variable overrides it.
    #[serde(default = "default_approval_expire_secs")]
    pub expire_after_secs: u64,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig {
            expire_after_secs: default_approval_expire_secs(),
        }
    }
}

fn default_approval_expire_secs() -> u64 {
    86_400
}

/// The longest an approval may wait: a year.
pub const MAX_APPROVAL_EXPIRE_SECS: u64 = 366 * 86_400;

impl ApprovalsConfig {
    /// Checks a number of seconds for `expire_after_secs`.
    pub fn check_expire_secs(secs: u64) -> Result<u64, String> {
        if (1..=MAX_APPROVAL_EXPIRE_SECS).contains(&secs) {
            Ok(secs)
        } else {
            Err(format!(
                "approvals.expire_after_secs must be from 1 to {MAX_APPROVAL_EXPIRE_SECS} seconds, got {secs}"
            ))
        }
    }

    /// How long a run waits for approval.
    pub fn expire_after(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.expire_after_secs.min(MAX_APPROVAL_EXPIRE_SECS) as i64)
    }
}

/// A database custom runbooks may query, by name.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connection URL (`postgres://…`); or name an environment variable holding it.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub url_env: Option<String>,
    /// Or a `[secrets]` name holding it (`env:`, `file:` or a stored `secret:`).
    #[serde(default)]
    pub url_secret: Option<String>,
}

/// Debug never shows URLs (they may carry passwords).
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_ref().map(|_| "***"))
            .field("url_env", &self.url_env)
            .field("url_secret", &self.url_secret)
            .finish()
    }
}

impl DatabaseConfig {
    /// The connection URL, read from the environment variable when the
    /// config names one.
    pub fn resolve_url(&self) -> Result<String, String> {
        match (&self.url, &self.url_env) {
            (Some(url), _) => Ok(url.clone()),
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| format!("environment variable {var} (url_env) is not set")),
            (None, None) => Err("neither `url` nor `url_env` is set".into()),
        }
    }

    /// The connection URL from `url`, `url_env` or `url_secret` (a
    /// `[secrets]` name read through `config`).
    pub fn resolve_url_with(&self, config: &OpsConfig) -> Result<String, String> {
        match &self.url_secret {
            Some(name) => config
                .secret(name)
                .map(|s| s.expose().to_string())
                .map_err(|e| e.to_string()),
            None => self.resolve_url(),
        }
    }
}

/// One environment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Other names people use for it ("production", "live").
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Whether write runs need an approval by someone other than the
    /// requester. Default: true for an env named `prod`, false elsewhere.
    #[serde(default)]
    pub requires_approval: Option<bool>,
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// How `deploy` and `rollback` reach this env's provider.
    #[serde(default)]
    pub deploy: Option<DeployConfig>,
    /// Whether a deploy whose verify fails redeploys the deployment that
    /// was live before it (a run may still opt out with its
    /// `rollback_on_failure` param).
    #[serde(default)]
    pub rollback_on_failure: bool,
    /// Extra URLs a deploy's verify expects a 2xx answer from.
    #[serde(default)]
    pub smoke_urls: Vec<String>,
    /// Database migrations a deploy applies once the deployment is ready.
    #[serde(default)]
    pub migrations: Option<MigrationsConfig>,
}

/// A service the healthcheck probes: its `name`, and the rest of its table
/// says how (`kind` and that kind's keys; unknown keys are refused).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub name: String,
    pub probe: ProbeConfig,
    /// Where its logs are, for the `incident` runbook (`logs = { kind = … }`).
    pub logs: Option<LogSourceConfig>,
}

/// Read by hand rather than through `#[serde(flatten)]`, so that a missing
/// or unknown `kind` is named as such, with the service and the known kinds.
impl<'de> Deserialize<'de> for ServiceConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let known = || ProbeConfig::KINDS.join(", ");
        let name = match table.remove("name") {
            Some(toml::Value::String(name)) => name,
            Some(_) => return Err(D::Error::custom("name: expected a string")),
            None => {
                return Err(D::Error::custom(
                    "missing field `name` (the service's name)",
                ))
            }
        };
        let logs = table
            .remove("logs")
            .map(logs::parse)
            .transpose()
            .map_err(|e| D::Error::custom(format!("service `{name}`: {e}")))?;
        match table.get("kind") {
            Some(toml::Value::String(kind)) if ProbeConfig::KINDS.contains(&kind.as_str()) => {}
            Some(toml::Value::String(kind)) => {
                return Err(D::Error::custom(format!(
                    "service `{name}`: kind: unknown kind `{kind}`; known kinds: {}",
                    known()
                )))
            }
            Some(_) => {
                return Err(D::Error::custom(format!(
                    "service `{name}`: kind: expected a string, one of: {}",
                    known()
                )))
            }
            None => {
                return Err(D::Error::custom(format!(
                    "service `{name}`: missing field `kind`; known kinds: {}",
                    known()
                )))
            }
        }
        let probe = ProbeConfig::deserialize(toml::Value::Table(table))
            .map_err(|e| D::Error::custom(format!("service `{name}`: {}", e.message())))?;
        Ok(ServiceConfig { name, probe, logs })
    }
}

/// How to probe a service.
#[derive(Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProbeConfig {
    /// An HTTP(S) endpoint.
    Http {
        url: String,
        #[serde(default = "default_status")]
        expect_status: u16,
        /// Text the body must contain.
        #[serde(default)]
        expect_body: Option<String>,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
        /// PEM file of an extra CA to trust (self-signed internal endpoints).
        #[serde(default)]
        ca_file: Option<String>,
        /// Fail when the certificate expires in fewer days than this.
        #[serde(default = "default_tls_min_days")]
        tls_min_days: i64,
    },
    /// A PostgreSQL database: connect and `select 1`.
    Postgres {
        /// Connection URL; or name an environment variable holding it.
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        url_env: Option<String>,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
    /// opsroom's own database.
    OpsroomDb,
    /// A Vercel project: the state of its latest deployment to `target`
    /// (READY is healthy; ERROR or CANCELED is not; one still building is
    /// degraded). Settings left out come from the env's
    /// `provider = "vercel"` deploy table.
    Vercel {
        /// The project id or name.
        #[serde(default)]
        project: Option<String>,
        /// The team the project belongs to (`teamId`), if any.
        #[serde(default)]
        team_id: Option<String>,
        /// The Vercel target whose deployments are read (default: the
        /// deploy table's `target`, else `production`).
        #[serde(default)]
        target: Option<String>,
        /// `[secrets]` entry holding the Vercel token.
        #[serde(default)]
        token_secret: Option<String>,
        #[serde(default)]
        base_url: Option<String>,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
    /// A DigitalOcean App Platform app: its active deployment and phase,
    /// and any deployment in progress (degraded while one rolls out).
    /// Settings left out come from the env's `provider = "digitalocean"`
    /// deploy table.
    Digitalocean {
        /// The app id.
        #[serde(default)]
        app_id: Option<String>,
        /// `[secrets]` entry holding the DigitalOcean token.
        #[serde(default)]
        token_secret: Option<String>,
        #[serde(default)]
        base_url: Option<String>,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
    /// A Supabase project: its status and the health of its services,
    /// through the Management API.
    Supabase {
        /// The project ref (the id in the dashboard's URL).
        #[serde(default)]
        project_ref: Option<String>,
        /// Services whose health is asked for (`auth`, `db`, `pooler`,
        /// `realtime`, `rest`, `storage`); all of them when empty.
        #[serde(default)]
        services: Vec<String>,
        /// `[secrets]` entry holding a personal access token (`sbp_…`).
        #[serde(default)]
        token_secret: Option<String>,
        #[serde(default)]
        base_url: Option<String>,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
}

impl ProbeConfig {
    /// The kinds a service may have, as written in the config.
    pub const KINDS: [&'static str; 6] = [
        "http",
        "postgres",
        "opsroom_db",
        "vercel",
        "digitalocean",
        "supabase",
    ];

    /// The kind as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeConfig::Http { .. } => "http",
            ProbeConfig::Postgres { .. } => "postgres",
            ProbeConfig::OpsroomDb => "opsroom_db",
            ProbeConfig::Vercel { .. } => "vercel",
            ProbeConfig::Digitalocean { .. } => "digitalocean",
            ProbeConfig::Supabase { .. } => "supabase",
        }
    }
}

/// Debug never shows URLs (they may carry passwords).
impl fmt::Debug for ProbeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeConfig::Http { .. } => f.write_str("Http { .. }"),
            ProbeConfig::Postgres { .. } => f.write_str("Postgres { .. }"),
            ProbeConfig::OpsroomDb => f.write_str("OpsroomDb"),
            ProbeConfig::Vercel { .. } => f.write_str("Vercel { .. }"),
            ProbeConfig::Digitalocean { .. } => f.write_str("Digitalocean { .. }"),
            ProbeConfig::Supabase { .. } => f.write_str("Supabase { .. }"),
        }
    }
}

fn default_status() -> u16 {
    200
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_tls_min_days() -> i64 {
    7
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
}

impl OpsConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<OpsConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<OpsConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_string(),
            message,
        };
        let mut config: OpsConfig =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim().replace('\n', " ")))?;
        for env in config.environments.values_mut() {
            probes::inherit_from_deploy(env);
        }
        for (name, env) in &config.environments {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(format!(
                    "environment name `{name}` must be letters, digits, `-` or `_`"
                )));
            }
            let mut seen = std::collections::HashSet::new();
            for svc in &env.services {
                if !seen.insert(svc.name.as_str()) {
                    return Err(invalid(format!(
                        "environments.{name}.services: service `{}` is declared twice",
                        svc.name
                    )));
                }
                match &svc.probe {
                    ProbeConfig::Http { url, .. } if !(url.starts_with("http://") || url.starts_with("https://")) => {
                        return Err(invalid(format!(
                            "environments.{name}.services.{}.url: expected an http:// or https:// URL",
                            svc.name
                        )))
                    }
                    ProbeConfig::Postgres { url, url_env, .. } if url.is_some() == url_env.is_some() => {
                        return Err(invalid(format!(
                            "environments.{name}.services.{}: give exactly one of `url` or `url_env`",
                            svc.name
                        )))
                    }
                    _ => {}
                }
                probes::check(name, &svc.probe, &config.secrets).map_err(|e| {
                    invalid(format!("environments.{name}.services.{}.{e}", svc.name))
                })?;
                if let Some(source) = &svc.logs {
                    logs::check(name, env, source, &config.secrets).map_err(|e| {
                        invalid(format!("environments.{name}.services.{}.{e}", svc.name))
                    })?;
                }
            }
        }
        for (name, db) in &config.databases {
            let ok = match (&db.url, &db.url_env, &db.url_secret) {
                (Some(url), None, None) => {
                    url.starts_with("postgres://") || url.starts_with("postgresql://")
                }
                (None, Some(var), None) => !var.is_empty(),
                (None, None, Some(secret)) => config.secrets.contains_key(secret),
                _ => false,
            };
            if !ok {
                return Err(invalid(format!(
                    "databases.{name}: give exactly one of `url` (a postgres:// URL), `url_env` (the name of an environment variable holding it) or `url_secret` (a [secrets] name)"
                )));
            }
        }
        deploy::check_config(&config).map_err(invalid)?;
        notifications::check(&mut config).map_err(invalid)?;
        slack::check(&mut config).map_err(invalid)?;
        ApprovalsConfig::check_expire_secs(config.approvals.expire_after_secs).map_err(invalid)?;
        Ok(config)
    }

    /// The config used when there is no file: dev, staging, prod and preview,
    /// each probing this server's own `/healthz` and its database. dev and
    /// staging also have a `web` service with a `shell` deploy provider that
    /// runs a harmless local script, so deploy and rollback can be tried on
    /// first start ("deploy web to staging").
    pub fn demo(self_url: &str) -> OpsConfig {
        let healthz = |name: &str| ServiceConfig {
            name: name.into(),
            probe: ProbeConfig::Http {
                url: format!("{}/healthz", self_url.trim_end_matches('/')),
                expect_status: 200,
                expect_body: Some("ok".into()),
                timeout_ms: 5000,
                ca_file: None,
                tls_min_days: default_tls_min_days(),
            },
            logs: None,
        };
        let database = || ServiceConfig {
            name: "database".into(),
            probe: ProbeConfig::OpsroomDb,
            logs: None,
        };
        let env = |aliases: &[&str]| EnvConfig {
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            requires_approval: None,
            services: vec![healthz("opsroom"), database()],
            ..EnvConfig::default()
        };
        let deployable = |aliases: &[&str]| {
            let mut e = env(aliases);
            e.services.push(healthz("web"));
            e.deploy = Some(demo_deploy());
            e
        };
        OpsConfig {
            environments: BTreeMap::from([
                ("dev".to_string(), deployable(&["development"])),
                ("staging".to_string(), deployable(&["stage"])),
                ("prod".to_string(), env(&["production", "live"])),
                ("preview".to_string(), env(&[])),
            ]),
            runbooks_dir: None,
            databases: BTreeMap::new(),
            secrets: BTreeMap::new(),
            spec: None,
            incident: None,
            approvals: ApprovalsConfig::default(),
            notifications: Vec::new(),
            hooks: BTreeMap::new(),
            slack: None,
            public_url: Some(self_url.trim_end_matches('/').to_string()),
            stored_secrets: BTreeMap::new(),
        }
    }

    /// The environment called `name` (or one of its aliases).
    pub fn env(&self, name: &str) -> Option<(&str, &EnvConfig)> {
        let lower = name.to_ascii_lowercase();
        self.environments
            .iter()
            .find(|(n, e)| **n == lower || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(&lower)))
            .map(|(n, e)| (n.as_str(), e))
    }

    pub fn env_names(&self) -> Vec<&str> {
        self.environments.keys().map(|s| s.as_str()).collect()
    }

    /// The link to a run in the UI, for notifications and Slack messages
    /// (`public_url`, default `http://127.0.0.1:7300`).
    pub fn run_link(&self, run_id: opsroom_store::RunId) -> String {
        let base = self
            .public_url
            .as_deref()
            .unwrap_or("http://127.0.0.1:7300");
        format!("{}/runs/{run_id}", base.trim_end_matches('/'))
    }

    /// Whether a write run to `env` needs approval.
    pub fn requires_approval(&self, env: &str) -> bool {
        self.env(env)
            .map(|(name, e)| e.requires_approval.unwrap_or(name == "prod"))
            .unwrap_or(true)
    }
}

/// The demo's deploy: `sh` prints what a deploy does and waits a moment.
/// The ref, env and target arrive as positional arguments (`$1`…`$3`), never
/// inside the script text, so no input can change what the script does.
fn demo_deploy() -> DeployConfig {
    const SCRIPT: &str = r#"echo "building $3 at $1"; sleep 1; echo "releasing $3 to $2"; sleep 1; echo "$3 is live on $2 at $1""#;
    DeployConfig::Shell {
        argv: [
            "sh",
            "-c",
            SCRIPT,
            "opsroom-demo-deploy",
            "{ref}",
            "{env}",
            "{target}",
        ]
        .map(String::from)
        .to_vec(),
        env: BTreeMap::new(),
        secret_env: BTreeMap::new(),
        cwd: None,
        default_ref: "main".into(),
        url: None,
        timeout_ms: 60_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let c = OpsConfig::parse(
            "t.toml",
            r#"
            [environments.prod]
            aliases = ["production"]
            [[environments.prod.services]]
            name = "web"
            kind = "http"
            url = "https://example.test/healthz"
            expect_body = "ok"
            [[environments.prod.services]]
            name = "db"
            kind = "postgres"
            url_env = "PROD_DATABASE_URL"
            [environments.dev]
            requires_approval = false
            "#,
        )
        .unwrap();
        assert_eq!(c.env("production").unwrap().0, "prod");
        assert!(c.requires_approval("prod"));
        assert!(!c.requires_approval("dev"));
        assert_eq!(c.env("prod").unwrap().1.services.len(), 2);
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let err = OpsConfig::parse("bad.toml", "[environments.prod]\nrequires_aproval = true\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.toml") && err.contains("requires_aproval") && err.contains("line 2"),
            "{err}"
        );
        let err = OpsConfig::parse(
            "bad.toml",
            "[[environments.prod.services]]\nname = \"web\"\nkind = \"http\"\nurl = \"ftp://x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("environments.prod.services.web.url"), "{err}");
        let err = OpsConfig::parse(
            "bad.toml",
            "[[environments.prod.services]]\nname = \"db\"\nkind = \"mysql\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("mysql"), "{err}");
    }

    #[test]
    fn approvals_expire_after_a_day_unless_configured() {
        let c = OpsConfig::parse("t.toml", "").unwrap();
        assert_eq!(c.approvals.expire_after(), chrono::Duration::hours(24));
        let c = OpsConfig::parse("t.toml", "[approvals]\nexpire_after_secs = 600\n").unwrap();
        assert_eq!(c.approvals.expire_after(), chrono::Duration::minutes(10));
        let err = OpsConfig::parse("t.toml", "[approvals]\nexpire_after_secs = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("approvals.expire_after_secs"), "{err}");
        let err = OpsConfig::parse("t.toml", "[approvals]\nexpire_after = 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expire_after"), "{err}");
    }

    #[test]
    fn databases_need_a_postgres_url_or_an_env_var() {
        let c = OpsConfig::parse(
            "t.toml",
            "[databases.main]\nurl = \"postgres://u:pw@db/app\"\n[databases.other]\nurl_env = \"OTHER_DB\"\n",
        )
        .unwrap();
        assert_eq!(c.databases.len(), 2);
        assert!(!format!("{c:?}").contains("pw@"), "Debug hides the URL");
        let err = OpsConfig::parse("t.toml", "[databases.main]\nurl = \"mysql://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("databases.main"), "{err}");
    }

    #[test]
    fn demo_has_four_envs_probing_this_server() {
        let c = OpsConfig::demo("http://127.0.0.1:7300");
        assert_eq!(c.env_names(), ["dev", "preview", "prod", "staging"]);
        let (_, prod) = c.env("live").unwrap();
        assert!(
            matches!(&prod.services[0].probe, ProbeConfig::Http { url, .. } if url == "http://127.0.0.1:7300/healthz")
        );
        assert!(prod.deploy.is_none(), "prod has no demo deploy");
        for name in ["dev", "staging"] {
            let (_, env) = c.env(name).unwrap();
            assert_eq!(
                env.deploy.as_ref().map(DeployConfig::provider),
                Some("shell")
            );
            assert!(
                env.services.iter().any(|s| s.name == "web"),
                "{name} has web"
            );
        }
        deploy::check_config(&c).expect("the demo config passes the checks a file gets");
    }
}
