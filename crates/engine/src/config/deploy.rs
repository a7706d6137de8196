//! The parts of `opsroom.toml` the deploy, rollback and spec runbooks read:
//! named credentials (`[secrets]`), each env's deploy provider
//! (`[environments.NAME.deploy]`) and where specs are committed (`[spec]`).

use super::OpsConfig;
use opsroom_adapters::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How a credential is referenced in `[secrets]`: `"env:VARNAME"`,
/// `"file:PATH"` or `"secret:NAME"`. Holds the reference, never the secret.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretRef(String);

/// Where a credential's value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of the opsroom process.
    Env(String),
    /// A file (its content, trimmed).
    File(PathBuf),
    /// A secret set through the API (`opsroom secrets set NAME`), stored
    /// sealed in the run's workspace.
    Stored(String),
}

impl SecretSource {
    /// `environment variable X` or `file P`, for messages.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(var) => format!("environment variable {var}"),
            SecretSource::File(path) => format!("file {}", path.display()),
            SecretSource::Stored(name) => format!("stored secret {name}"),
        }
    }
}

impl SecretRef {
    /// A reference from its text (`env:…` or `file:…`).
    pub fn new(text: impl Into<String>) -> Self {
        SecretRef(text.into())
    }

    /// Where the value is, or `None` when the reference is malformed.
    pub fn source(&self) -> Option<SecretSource> {
        if let Some(var) = self.0.strip_prefix("env:") {
            let ok = !var.is_empty()
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !var.starts_with(|c: char| c.is_ascii_digit());
            return ok.then(|| SecretSource::Env(var.to_string()));
        }
        if let Some(path) = self.0.strip_prefix("file:") {
            return (!path.is_empty()).then(|| SecretSource::File(PathBuf::from(path)));
        }
        if let Some(name) = self.0.strip_prefix("secret:") {
            return opsroom_store::SecretName::parse(name)
                .ok()
                .map(|_| SecretSource::Stored(name.to_string()));
        }
        None
    }
}

/// Debug shows where the value comes from only when the reference is well
/// formed (a malformed one may be a token pasted by mistake).
impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source() {
            Some(source) => write!(f, "SecretRef({})", source.describe()),
            None => f.write_str("SecretRef(***)"),
        }
    }
}

/// A credential that cannot be read. Names the credential, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No `[secrets]` entry of that name.
    #[error("credential `{0}` is not declared; add `{0} = \"env:VARNAME\"` (or \"file:PATH\") under [secrets] in opsroom.toml")]
    NotDeclared(String),
    /// Declared, but its value is not there.
    #[error("credential `{name}` is not available: {source_text}")]
    Missing {
        /// The credential's name.
        name: String,
        /// What was looked at and why it failed.
        source_text: String,
    },
}

impl OpsConfig {
    /// The value of the credential called `name`, read from where
    /// `[secrets]` says (at the time of the call, so a rotated token is
    /// picked up without a restart).
    pub fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        let source = self
            .secrets
            .get(name)
            .and_then(SecretRef::source)
            .ok_or_else(|| SecretError::NotDeclared(name.to_string()))?;
        let missing = |why: String| SecretError::Missing {
            name: name.to_string(),
            source_text: why,
        };
        let value = match &source {
            SecretSource::Env(var) => std::env::var(var)
                .map_err(|_| missing(format!("environment variable {var} is not set")))?,
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| missing(format!("cannot read file {}: {e}", path.display())))?,
            SecretSource::Stored(stored) => match self.stored_secrets.get(stored) {
                Some(Ok(secret)) => secret.expose().to_owned(),
                Some(Err(why)) => return Err(missing(why.clone())),
                None => {
                    return Err(missing(format!(
                        "stored secret {stored} is only read for a run"
                    )))
                }
            },
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(missing(format!("{} is empty", source.describe())));
        }
        Ok(Secret::new(value))
    }
}

fn default_ref() -> String {
    "main".into()
}
fn default_deploy_timeout_ms() -> u64 {
    30 * 60 * 1000
}
fn default_poll_interval_ms() -> u64 {
    5000
}
fn default_shell_timeout_ms() -> u64 {
    30 * 60 * 1000
}

/// An env's deploy provider (`[environments.NAME.deploy]`, chosen by
/// `provider`). `base_url` points a client at another API root (GitHub
/// Enterprise, or a local fake in tests).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeployConfig {
    /// A Vercel project built from a GitHub repository.
    Vercel {
        /// The project id or name.
        project: String,
        /// The team the project belongs to (`teamId`), if any.
        #[serde(default)]
        team_id: Option<String>,
        /// The GitHub repository Vercel builds, `owner/name`.
        repo: String,
        /// Ref deployed when the run names none.
        #[serde(default = "default_ref")]
        default_ref: String,
        /// Vercel's deployment target (`production`, `staging`); a preview when unset.
        #[serde(default)]
        target: Option<String>,
        /// `[secrets]` entry holding the Vercel token.
        token_secret: String,
        #[serde(default)]
        base_url: Option<String>,
        #[serde(default = "default_deploy_timeout_ms")]
        timeout_ms: u64,
        #[serde(default = "default_poll_interval_ms")]
        poll_interval_ms: u64,
    },
    /// A GitHub Actions workflow started by `workflow_dispatch`.
    GithubActions {
        /// `owner/name`.
        repo: String,
        /// The workflow file (`deploy.yml`) or id.
        workflow: String,
        /// Branch the workflow is dispatched on.
        #[serde(default = "default_ref")]
        branch: String,
        /// Workflow input that receives the ref to deploy (needed to roll back).
        #[serde(default)]
        ref_input: Option<String>,
        /// Other inputs passed on every dispatch.
        #[serde(default)]
        inputs: BTreeMap<String, String>,
        /// Workflow input that receives a value unique to each dispatch,
        /// which the workflow shows in its `run-name`. Needed only where
        /// GitHub does not name the run a dispatch started (GitHub
        /// Enterprise Server before `return_run_details`): the run is then
        /// told apart by that value in its name.
        #[serde(default)]
        correlation_input: Option<String>,
        /// The GitHub environment the workflow's deploy job names
        /// (`environment:`): its deployments tell the incident runbook
        /// which commit went live when, even for runs opsroom did not
        /// start. Default: the opsroom env's name.
        #[serde(default)]
        environment: Option<String>,
        /// `[secrets]` entry holding the GitHub token.
        token_secret: String,
        #[serde(default)]
        base_url: Option<String>,
        #[serde(default = "default_deploy_timeout_ms")]
        timeout_ms: u64,
        #[serde(default = "default_poll_interval_ms")]
        poll_interval_ms: u64,
    },
    /// A DigitalOcean App Platform app.
    Digitalocean {
        /// The app id.
        app_id: String,
        /// Rebuild even when the source did not change.
        #[serde(default)]
        force_build: bool,
        /// `[secrets]` entry holding the DigitalOcean token.
        token_secret: String,
        #[serde(default)]
        base_url: Option<String>,
        #[serde(default = "default_deploy_timeout_ms")]
        timeout_ms: u64,
        #[serde(default = "default_poll_interval_ms")]
        poll_interval_ms: u64,
    },
    /// A local program. `{ref}`, `{env}` and `{target}` in `argv` are
    /// replaced; a non-zero exit fails the deploy. It starts from a clean
    /// environment: PATH, HOME, LANG, `OPSROOM_ENV`, `OPSROOM_REF`, `env`
    /// and `secret_env`, none of opsroom's own variables.
    Shell {
        /// The program and its arguments (no shell involved).
        argv: Vec<String>,
        /// Environment variables added for the program.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Environment variables filled from `[secrets]` (VAR = "secret name");
        /// their values are hidden from the streamed output.
        #[serde(default)]
        secret_env: BTreeMap<String, String>,
        /// Working directory.
        #[serde(default)]
        cwd: Option<String>,
        /// Ref deployed when the run names none.
        #[serde(default = "default_ref")]
        default_ref: String,
        /// Link shown as the deployment's URL (`{ref}` is replaced).
        #[serde(default)]
        url: Option<String>,
        #[serde(default = "default_shell_timeout_ms")]
        timeout_ms: u64,
    },
}

impl DeployConfig {
    /// The provider's name as written in the config.
    pub fn provider(&self) -> &'static str {
        match self {
            DeployConfig::Vercel { .. } => "vercel",
            DeployConfig::GithubActions { .. } => "github_actions",
            DeployConfig::Digitalocean { .. } => "digitalocean",
            DeployConfig::Shell { .. } => "shell",
        }
    }

    /// The `[secrets]` entries this provider needs.
    pub fn secret_names(&self) -> Vec<&str> {
        match self {
            DeployConfig::Vercel { token_secret, .. }
            | DeployConfig::GithubActions { token_secret, .. }
            | DeployConfig::Digitalocean { token_secret, .. } => vec![token_secret.as_str()],
            DeployConfig::Shell { secret_env, .. } => {
                secret_env.values().map(String::as_str).collect()
            }
        }
    }

    /// What a deploy target may be called besides the env's service names.
    pub fn deployable_name(&self) -> Option<&str> {
        match self {
            DeployConfig::Vercel { project, .. } => Some(project),
            DeployConfig::GithubActions { repo, .. } => repo.rsplit('/').next(),
            DeployConfig::Digitalocean { .. } | DeployConfig::Shell { .. } => None,
        }
    }

    /// Checks one deploy table; the error starts with the key at fault.
    fn check(&self, secrets: &BTreeMap<String, SecretRef>) -> Result<(), String> {
        for name in self.secret_names() {
            if !secrets.contains_key(name) {
                return Err(format!(
                    "{}: credential `{name}` is not declared; add `{name} = \"env:VARNAME\"` under [secrets]",
                    if matches!(self, DeployConfig::Shell { .. }) { "secret_env" } else { "token_secret" }
                ));
            }
        }
        let base_url = match self {
            DeployConfig::Vercel { base_url, .. }
            | DeployConfig::GithubActions { base_url, .. }
            | DeployConfig::Digitalocean { base_url, .. } => base_url.as_deref(),
            DeployConfig::Shell { .. } => None,
        };
        if let Some(url) = base_url {
            if !super::is_http_url(url) {
                return Err("base_url: expected an http:// or https:// URL".into());
            }
        }
        match self {
            DeployConfig::Vercel { repo, project, .. } => {
                check_repo(repo)?;
                if project.is_empty() {
                    return Err("project: expected the Vercel project id or name".into());
                }
            }
            DeployConfig::GithubActions {
                repo,
                workflow,
                ref_input,
                inputs,
                correlation_input,
                ..
            } => {
                check_repo(repo)?;
                if workflow.is_empty() {
                    return Err(
                        "workflow: expected the workflow file name (deploy.yml) or id".into(),
                    );
                }
                if let Some(name) = correlation_input {
                    if name.is_empty()
                        || ref_input.as_ref() == Some(name)
                        || inputs.contains_key(name)
                    {
                        return Err(format!(
                            "correlation_input: expected the name of a workflow input of its own (not ref_input nor one of inputs), got {name:?}"
                        ));
                    }
                }
            }
            DeployConfig::Digitalocean { app_id, .. } if app_id.is_empty() => {
                return Err("app_id: expected the App Platform app id".into());
            }
            DeployConfig::Shell { argv, .. } if argv.first().is_none_or(|p| p.is_empty()) => {
                return Err(
                    "argv: expected the program and its arguments, e.g. [\"./deploy.sh\", \"{ref}\"]"
                        .into(),
                );
            }
            _ => {}
        }
        Ok(())
    }
}

fn check_repo(repo: &str) -> Result<(), String> {
    opsroom_adapters::github::RepoName::parse(repo)
        .map(drop)
        .ok_or_else(|| format!("repo: expected `owner/name`, got {repo:?}"))
}

/// Migrations a deploy applies after the deployment is ready
/// (`[environments.NAME.migrations]`): `VERSION_NAME.sql` files of a
/// folder, applied in one transaction to a PostgreSQL database and
/// recorded in a table, so each runs once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationsConfig {
    /// Folder of `VERSION_NAME.sql` files.
    pub dir: String,
    /// `[secrets]` entry holding the `postgres://…` URL.
    pub database_url_secret: String,
    /// Table recording applied migrations.
    #[serde(default = "default_migrations_table")]
    pub table: String,
    /// The git repository the migrations live in (`file://…`, `https://…`,
    /// `git@…`): `schema_sync` proposes a new migration there on a branch
    /// instead of writing it into `dir`.
    #[serde(default)]
    pub remote: Option<String>,
    /// The branch that branch starts from.
    #[serde(default = "default_ref")]
    pub base_branch: String,
    /// The migrations' folder inside `remote` (default: `dir`).
    #[serde(default)]
    pub path: Option<String>,
    /// The GitHub repository the migrations live in: `schema_sync`
    /// proposes a new migration there as a pull request, through the API.
    #[serde(default)]
    pub github: Option<MigrationsGitHubConfig>,
}

/// `github = { repo = "owner/name", token_secret = "…", path = "db/migrations",
/// base_branch = "main" }` in `[environments.NAME.migrations]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationsGitHubConfig {
    /// `owner/name`.
    pub repo: String,
    /// `[secrets]` entry holding the GitHub token.
    pub token_secret: String,
    #[serde(default)]
    pub base_url: Option<String>,
    /// The migrations' folder in the repository (default: the table's
    /// `path`, else `dir`).
    #[serde(default)]
    pub path: Option<String>,
    /// The branch pull requests go into (default: the table's `base_branch`).
    #[serde(default)]
    pub base_branch: Option<String>,
}

impl MigrationsGitHubConfig {
    /// The repository and credential, as every GitHub destination has them.
    pub fn api(&self) -> SpecGitHubConfig {
        SpecGitHubConfig {
            repo: self.repo.clone(),
            token_secret: self.token_secret.clone(),
            base_url: self.base_url.clone(),
        }
    }
}

fn default_migrations_table() -> String {
    "opsroom_migrations".into()
}

impl MigrationsConfig {
    fn check(&self, secrets: &BTreeMap<String, SecretRef>) -> Result<(), String> {
        if self.dir.is_empty() {
            return Err("dir: expected the folder of VERSION_NAME.sql migration files".into());
        }
        if !secrets.contains_key(&self.database_url_secret) {
            return Err(format!(
                "database_url_secret: credential `{}` is not declared; add it under [secrets] (it holds the postgres:// URL)",
                self.database_url_secret
            ));
        }
        let table_ok = !self.table.is_empty()
            && self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !table_ok {
            return Err("table: expected a table name (letters, digits, `_`, `.`)".into());
        }
        if self
            .remote
            .as_deref()
            .is_some_and(|r| r.trim().is_empty() || r.starts_with('-'))
        {
            return Err("remote: expected a git URL (file://, https:// or git@…)".into());
        }
        let inside =
            |folder: &str| !(folder.starts_with('/') || folder.split('/').any(|part| part == ".."));
        let folder = self.path.as_deref().unwrap_or(&self.dir);
        if self.remote.is_some() && !inside(folder) {
            return Err(format!(
                "path: `{folder}` must be a folder inside the repository (relative, no `..`)"
            ));
        }
        if let Some(gh) = &self.github {
            if self.remote.is_some() {
                return Err(
                    "github: a migration is proposed through GitHub or pushed to `remote`, not both; remove one".into(),
                );
            }
            gh.api().check(secrets).map_err(|e| format!("github.{e}"))?;
            let folder = gh.path.as_deref().unwrap_or(folder);
            if !inside(folder) || folder.trim_matches('/').is_empty() {
                return Err(format!(
                    "github.path: `{folder}` must be a folder inside the repository (relative, no `..`)"
                ));
            }
            if gh
                .base_branch
                .as_deref()
                .is_some_and(|b| b.is_empty() || b.starts_with('-'))
            {
                return Err("github.base_branch: expected a branch name".into());
            }
        }
        Ok(())
    }
}

/// Where `spec` commits the documents it writes (`[spec]`): a git remote
/// (pushed to), GitHub (a branch and a pull request through the API), or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecConfig {
    /// Git remote cloned and pushed to when GitHub is not configured
    /// (`file:///srv/git/app.git`, `git@host:org/app.git`).
    #[serde(default)]
    pub remote: Option<String>,
    /// Open a pull request on GitHub instead of pushing to `remote`.
    #[serde(default)]
    pub github: Option<SpecGitHubConfig>,
    /// Folder of the repository the documents go in (`specs/<slug>/…`).
    #[serde(default = "default_spec_dir")]
    pub dir: String,
    /// The product's name, used in the documents' text.
    #[serde(default)]
    pub product: Option<String>,
    /// One paragraph on what the product is, for the documents' context.
    #[serde(default)]
    pub description: Option<String>,
    /// The project's principles (constitution.md); sensible ones when empty.
    #[serde(default)]
    pub principles: Vec<String>,
    /// The technology the plan builds on ("Rust, axum, PostgreSQL").
    #[serde(default)]
    pub stack: Option<String>,
    /// Commit author name.
    #[serde(default = "default_author_name")]
    pub author_name: String,
    /// Commit author e-mail.
    #[serde(default = "default_author_email")]
    pub author_email: String,
}

/// GitHub repository specs are proposed to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecGitHubConfig {
    /// `owner/name`.
    pub repo: String,
    /// `[secrets]` entry holding the GitHub token.
    pub token_secret: String,
    #[serde(default)]
    pub base_url: Option<String>,
}

fn default_spec_dir() -> String {
    "specs".into()
}
pub(super) fn default_author_name() -> String {
    "opsroom".into()
}
pub(super) fn default_author_email() -> String {
    "opsroom@localhost".into()
}

impl SpecConfig {
    fn check(&self, secrets: &BTreeMap<String, SecretRef>) -> Result<(), String> {
        if self.remote.is_none() && self.github.is_none() {
            return Err(
                "remote: expected a git remote URL, or a [spec.github] table with repo and token_secret"
                    .into(),
            );
        }
        if self
            .remote
            .as_deref()
            .is_some_and(|r| r.is_empty() || r.starts_with('-'))
        {
            return Err("remote: expected a git remote URL (file://, ssh:// or a path)".into());
        }
        let dir_ok = !self.dir.is_empty()
            && !self.dir.starts_with('/')
            && !self.dir.split('/').any(|p| p == ".." || p == ".git");
        if !dir_ok {
            return Err(
                "dir: expected a relative folder inside the repository, e.g. \"specs\"".into(),
            );
        }
        if let Some(gh) = &self.github {
            gh.check(secrets).map_err(|e| format!("github.{e}"))?;
        }
        Ok(())
    }
}

impl SpecGitHubConfig {
    /// Checks the repository name, the credential and the URL; the error
    /// names the key at fault.
    pub(super) fn check(&self, secrets: &BTreeMap<String, SecretRef>) -> Result<(), String> {
        check_repo(&self.repo)?;
        if !secrets.contains_key(&self.token_secret) {
            return Err(format!(
                "token_secret: credential `{}` is not declared; add it under [secrets]",
                self.token_secret
            ));
        }
        if self
            .base_url
            .as_deref()
            .is_some_and(|u| !super::is_http_url(u))
        {
            return Err("base_url: expected an http:// or https:// URL".into());
        }
        Ok(())
    }
}

/// Checks secrets, deploy tables, smoke URLs and `[spec]`; the error names
/// the key at fault and what is expected.
pub(super) fn check_config(config: &OpsConfig) -> Result<(), String> {
    for (name, value) in &config.secrets {
        if value.source().is_none() {
            // The value is not echoed: it may be a token pasted by mistake.
            return Err(format!(
                "secrets.{name}: expected \"env:VARNAME\" (read from the environment), \"file:PATH\" (read from a file) or \"secret:NAME\" (set with `opsroom secrets set NAME`; A-Z a-z 0-9 _ . -), not the secret itself"
            ));
        }
    }
    for (name, env) in &config.environments {
        for (i, url) in env.smoke_urls.iter().enumerate() {
            if !super::is_http_url(url) {
                return Err(format!(
                    "environments.{name}.smoke_urls[{i}]: expected an http:// or https:// URL"
                ));
            }
        }
        if let Some(deploy) = &env.deploy {
            deploy
                .check(&config.secrets)
                .map_err(|e| format!("environments.{name}.deploy.{e}"))?;
        }
        if let Some(migrations) = &env.migrations {
            migrations
                .check(&config.secrets)
                .map_err(|e| format!("environments.{name}.migrations.{e}"))?;
        }
    }
    if let Some(spec) = &config.spec {
        spec.check(&config.secrets)
            .map_err(|e| format!("spec.{e}"))?;
    }
    if let Some(incident) = &config.incident {
        incident
            .check(&config.secrets)
            .map_err(|e| format!("incident.{e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OpsConfig, String> {
        OpsConfig::parse("t.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn every_provider_parses_with_defaults() {
        let c = parse(
            r#"
            [secrets]
            vercel = "env:VERCEL_TOKEN"
            github = "file:/run/secrets/github"
            [environments.staging]
            rollback_on_failure = true
            smoke_urls = ["https://staging.example.test/"]
            [environments.staging.deploy]
            provider = "vercel"
            project = "web"
            repo = "acme/web"
            token_secret = "vercel"
            [environments.ci.deploy]
            provider = "github_actions"
            repo = "acme/web"
            workflow = "deploy.yml"
            ref_input = "ref"
            token_secret = "github"
            [environments.do.deploy]
            provider = "digitalocean"
            app_id = "app-1"
            token_secret = "github"
            [environments.local.deploy]
            provider = "shell"
            argv = ["./deploy.sh", "{ref}"]
            [spec]
            remote = "file:///srv/git/app.git"
            "#,
        )
        .unwrap();
        let (_, staging) = c.env("staging").unwrap();
        assert!(staging.rollback_on_failure);
        assert!(matches!(
            &staging.deploy,
            Some(DeployConfig::Vercel { default_ref, timeout_ms: 1_800_000, .. }) if default_ref == "main"
        ));
        assert_eq!(
            c.env("local")
                .unwrap()
                .1
                .deploy
                .as_ref()
                .unwrap()
                .provider(),
            "shell"
        );
        assert_eq!(c.spec.as_ref().unwrap().dir, "specs");
        assert!(!c.env("dev").is_some_and(|(_, e)| e.rollback_on_failure));
    }

    #[test]
    fn bad_deploy_and_secret_config_names_the_key() {
        let cases = [
            (
                "[environments.prod.deploy]\nprovider = \"heroku\"\n",
                "heroku",
            ),
            (
                "[environments.prod.deploy]\nprovider = \"vercel\"\nproject = \"w\"\nrepo = \"acme/web\"\ntoken_secret = \"nope\"\n",
                "environments.prod.deploy.token_secret: credential `nope` is not declared",
            ),
            (
                "[secrets]\nv = \"env:V\"\n[environments.prod.deploy]\nprovider = \"vercel\"\nproject = \"w\"\nrepo = \"web\"\ntoken_secret = \"v\"\n",
                "environments.prod.deploy.repo: expected `owner/name`",
            ),
            (
                "[environments.prod.deploy]\nprovider = \"shell\"\nargv = []\n",
                "environments.prod.deploy.argv: expected the program",
            ),
            (
                "[environments.prod.deploy]\nprovider = \"shell\"\nargv = [\"x\"]\nprojct = 1\n",
                "projct",
            ),
            (
                "[environments.prod]\nsmoke_urls = [\"ftp://x\"]\n",
                "environments.prod.smoke_urls[0]: expected an http:// or https:// URL",
            ),
            ("[spec]\ndir = \"specs\"\n", "spec.remote: expected a git remote URL"),
            (
                "[environments.prod.migrations]\ndir = \"m\"\ndatabase_url_secret = \"db\"\n",
                "environments.prod.migrations.database_url_secret: credential `db` is not declared",
            ),
            ("[spec]\nremote = \"file:///x\"\ndir = \"../up\"\n", "spec.dir"),
            (
                "[secrets]\ndb = \"env:DB\"\n[environments.prod.migrations]\ndir = \"m\"\ndatabase_url_secret = \"db\"\nremote = \"file:///r.git\"\npath = \"../m\"\n",
                "environments.prod.migrations.path: `../m` must be a folder inside the repository",
            ),
            (
                "[secrets]\ndb = \"env:DB\"\n[environments.prod.migrations]\ndir = \"m\"\ndatabase_url_secret = \"db\"\nremote = \"--upload-pack=x\"\n",
                "environments.prod.migrations.remote: expected a git URL",
            ),
            (
                "[secrets]\ndb = \"env:DB\"\n[environments.prod.migrations]\ndir = \"m\"\ndatabase_url_secret = \"db\"\ngithub = { repo = \"acme/web\", token_secret = \"gh\" }\n",
                "environments.prod.migrations.github.token_secret: credential `gh` is not declared",
            ),
            (
                "[secrets]\ndb = \"env:DB\"\n[environments.prod.migrations]\ndir = \"m\"\ndatabase_url_secret = \"db\"\ngithub = { repo = \"web\", token_secret = \"db\" }\n",
                "environments.prod.migrations.github.repo: expected `owner/name`",
            ),
            (
                "[secrets]\ndb = \"env:DB\"\n[environments.prod.migrations]\ndir = \"m\"\ndatabase_url_secret = \"db\"\ngithub = { repo = \"acme/web\", token_secret = \"db\", path = \"/etc\" }\n",
                "environments.prod.migrations.github.path: `/etc` must be a folder inside the repository",
            ),
            (
                "[secrets]\ndb = \"env:DB\"\n[environments.prod.migrations]\ndir = \"m\"\ndatabase_url_secret = \"db\"\nremote = \"file:///r.git\"\ngithub = { repo = \"acme/web\", token_secret = \"db\" }\n",
                "environments.prod.migrations.github: a migration is proposed through GitHub or pushed to `remote`, not both",
            ),
            (
                "[secrets]\ndb = \"env:DB\"\n[environments.prod.migrations]\ndir = \"m\"\ndatabase_url_secret = \"db\"\ngithub = { repo = \"acme/web\", token_secret = \"db\", branch = \"x\" }\n",
                "unknown field `branch`",
            ),
            (
                "[secrets]\ng = \"env:G\"\n[environments.prod.deploy]\nprovider = \"github_actions\"\nrepo = \"acme/web\"\nworkflow = \"deploy.yml\"\nref_input = \"ref\"\ncorrelation_input = \"ref\"\ntoken_secret = \"g\"\n",
                "environments.prod.deploy.correlation_input: expected the name of a workflow input of its own",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}\n=> {err}\nwanted {want}");
        }
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../../../README.md");
        let section = readme
            .split("## Configuring environments, providers and credentials")
            .nth(1)
            .expect("README has the configuration section");
        let example = section
            .split("```toml")
            .nth(1)
            .and_then(|s| s.split("```").next())
            .expect("the section has a toml example");
        let c = parse(example).unwrap();
        let provider = |env: &str| c.env(env).unwrap().1.deploy.as_ref().unwrap().provider();
        assert_eq!(
            [
                provider("live"),
                provider("stage"),
                provider("preview"),
                provider("dev")
            ],
            ["vercel", "github_actions", "digitalocean", "shell"]
        );
        assert!(c.spec.as_ref().unwrap().github.is_some());
    }

    #[test]
    fn a_token_pasted_as_a_secret_reference_is_refused_without_echoing_it() {
        let err = parse("[secrets]\nvercel = \"tok_live_123\"\n").unwrap_err();
        assert!(
            err.contains("secrets.vercel: expected \"env:VARNAME\""),
            "{err}"
        );
        assert!(!err.contains("tok_live_123"), "{err}");
        let c = parse("[secrets]\nvercel = \"env:OPSROOM_TEST_UNSET_VAR_1\"\n").unwrap();
        assert!(!format!("{c:?}").contains("tok_"));
    }

    #[test]
    fn secrets_resolve_from_env_and_file_and_errors_name_the_credential() {
        let dir = std::env::temp_dir().join(format!("opsroom-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tok");
        std::fs::write(&file, "file-token-value\n").unwrap();
        let c = parse(&format!(
            "[secrets]\nfrom_file = \"file:{}\"\nunset = \"env:OPSROOM_TEST_UNSET_VAR_2\"\nmissing_file = \"file:{}/nope\"\n",
            file.display(),
            dir.display()
        ))
        .unwrap();
        assert_eq!(c.secret("from_file").unwrap().expose(), "file-token-value");
        let err = c.secret("unset").unwrap_err().to_string();
        assert!(
            err.contains("credential `unset`") && err.contains("OPSROOM_TEST_UNSET_VAR_2"),
            "{err}"
        );
        assert!(c
            .secret("missing_file")
            .unwrap_err()
            .to_string()
            .contains("cannot read file"));
        assert!(c
            .secret("other")
            .unwrap_err()
            .to_string()
            .contains("not declared"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
