//! `spec`: writes constitution.md, prd.md, plan.md and tasks.md for a
//! feature, commits them on branch `spec/<slug>` and proposes them: a pull
//! request through the GitHub API when `[spec.github]` is configured, or a
//! push to the `[spec] remote` git repository otherwise. Artifacts: the PR
//! (or branch) link and the four documents.

use super::feature_spec_docs::{slugify, SpecInput};
use crate::config::{SpecConfig, SpecGitHubConfig};
use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::Engine;
use opsroom_adapters::git::{GitAuthor, GitFile, GitOptions, GitRepo};
use opsroom_adapters::github::{
    CommitAuthor, FileChange, GitHubClient, GitHubConfig, NewPullRequest, RepoName,
};
use opsroom_adapters::shell::{self, CommandSpec};
use opsroom_adapters::{ApiError, Secret};
use opsroom_core::ArtifactKind;
use opsroom_core::{EventLevel, Phase};
use opsroom_store::Run;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// Where a run's branch goes: GitHub through its API, or a git remote
/// (spec's documents, incident_pr's revert).
pub(super) enum Destination {
    GitHub {
        client: Box<GitHubClient>,
        repo: RepoName,
        credential: String,
        token: Secret,
    },
    Remote {
        url: String,
    },
}

/// One spec run.
pub struct Spec {
    feature: String,
    slug: String,
    base: String,
    config: SpecConfig,
    destination: Option<Destination>,
    base_sha: Option<String>,
    documents: Vec<(&'static str, String)>,
    commit: Option<String>,
    link: Option<String>,
}

impl Spec {
    /// Checks the params; the destination is set up in validate.
    pub fn new(
        engine: &Engine,
        _run: &Run,
        params: &Map<String, Value>,
    ) -> Result<Self, PhaseError> {
        let feature = params
            .get("feature")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        let slug = slugify(&feature);
        if slug.is_empty() {
            return Err(PhaseError::permanent(
                "param `feature` must name the feature in a few words (letters or digits), e.g. \"user authentication\"",
            ));
        }
        let config = engine.config.spec.clone().ok_or_else(|| {
            PhaseError::permanent(
                "spec needs a repository: add [spec] with remote = \"file:///path/to/repo.git\" (or a [spec.github] table with repo and token_secret) to opsroom.toml",
            )
        })?;
        Ok(Spec {
            feature,
            slug,
            base: params
                .get("base_branch")
                .and_then(Value::as_str)
                .unwrap_or("main")
                .to_string(),
            config,
            destination: None,
            base_sha: None,
            documents: Vec::new(),
            commit: None,
            link: None,
        })
    }

    fn branch(&self) -> String {
        format!("spec/{}", self.slug)
    }

    fn paths(&self) -> Vec<String> {
        self.documents
            .iter()
            .map(|(name, _)| {
                format!(
                    "{}/{}/{name}",
                    self.config.dir.trim_end_matches('/'),
                    self.slug
                )
            })
            .collect()
    }

    fn destination(&self) -> Result<&Destination, PhaseError> {
        self.destination
            .as_ref()
            .ok_or_else(|| PhaseError::permanent("the destination was not set up in validate"))
    }

    fn api_error(&self, what: &str, e: &ApiError) -> PhaseError {
        Destination::api_error(self.destination.as_ref(), what, e)
    }

    async fn run_phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        match phase {
            Phase::Validate => self.validate(ctx),
            Phase::Preflight => self.preflight(ctx).await,
            Phase::Action => self.action(ctx).await,
            Phase::Verify => self.verify(ctx).await,
            Phase::Summarize => {
                if let Some(link) = self.link.clone() {
                    ctx.artifact(ArtifactKind::Link, "pull request", link)
                        .await?;
                }
                for (name, content) in self.documents.clone() {
                    ctx.artifact(ArtifactKind::Markdown, name, content).await?;
                }
                Ok(())
            }
        }
    }

    fn validate(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let destination = match &self.config.github {
            Some(gh) => Destination::github(ctx, gh, "spec.github")?,
            None => Destination::Remote {
                url: self.config.remote.clone().unwrap_or_default(),
            },
        };
        let where_to = match &destination {
            Destination::GitHub { repo, .. } => format!("a pull request on {repo}"),
            Destination::Remote { url } => format!("a push to {url}"),
        };
        ctx.log(
            EventLevel::Info,
            format!(
                "spec for {:?} goes on branch {} into {} as {where_to}",
                self.feature,
                self.branch(),
                self.base
            ),
        );
        self.destination = Some(destination);
        Ok(())
    }

    async fn preflight(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let branch = self.branch();
        let base_sha = match self.destination()? {
            Destination::GitHub { client, repo, .. } => {
                let base = client.get_branch(repo, &self.base).await.map_err(|e| {
                    self.api_error(&format!("reading branch {} of {repo}", self.base), &e)
                })?;
                match client.get_branch(repo, &branch).await {
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(self.api_error(&format!("checking branch {branch}"), &e)),
                    Ok(_) => return Err(branch_exists(&branch)),
                }
                base.object.sha
            }
            Destination::Remote { url } => {
                let heads = ls_remote(url).await?;
                if heads.iter().any(|(_, b)| *b == branch) {
                    return Err(branch_exists(&branch));
                }
                heads
                    .into_iter()
                    .find(|(_, b)| *b == self.base)
                    .map(|(sha, _)| sha)
                    .ok_or_else(|| {
                        PhaseError::permanent(format!(
                            "base branch {} does not exist in {url}; pass base_branch",
                            self.base
                        ))
                    })?
            }
        };
        ctx.log(
            EventLevel::Info,
            format!(
                "base branch {} is at {base_sha}; branch {branch} is free",
                self.base
            ),
        );
        self.base_sha = Some(base_sha);
        Ok(())
    }

    async fn action(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let input = SpecInput {
            feature: &self.feature,
            slug: &self.slug,
            base_branch: &self.base,
            spec: &self.config,
            config: &ctx.engine().config,
            date: ctx.now().format("%Y-%m-%d").to_string(),
        };
        self.documents = input.documents();
        let paths = self.paths();
        ctx.log_data(
            EventLevel::Info,
            format!("wrote {}", paths.join(", ")),
            json!({"kind": "spec_documents", "paths": paths}),
        );
        ctx.flush().await;
        let branch = self.branch();
        let message = format!(
            "Spec: {}\n\nconstitution, PRD, plan and tasks written by opsroom.",
            self.feature
        );
        let base_sha = self.base_sha.clone().unwrap_or_default();
        let (commit, link) = match self.destination()? {
            Destination::GitHub { client, repo, .. } => {
                client
                    .create_branch(repo, &branch, &base_sha)
                    .await
                    .map_err(|e| self.api_error(&format!("creating branch {branch}"), &e))?;
                let files: Vec<FileChange> = self
                    .documents
                    .iter()
                    .zip(&paths)
                    .map(|((_, content), path)| FileChange {
                        path: path.clone(),
                        content: content.clone().into_bytes(),
                    })
                    .collect();
                let author = CommitAuthor {
                    name: self.config.author_name.clone(),
                    email: self.config.author_email.clone(),
                };
                let commit = client
                    .commit_tree(repo, &branch, &files, &message, &author)
                    .await
                    .map_err(|e| self.api_error("committing the documents", &e))?;
                ctx.log(
                    EventLevel::Info,
                    format!("committed {} on {branch}", commit.sha),
                );
                let pr = NewPullRequest {
                    title: format!("Spec: {}", self.feature),
                    body: pr_body(&self.feature, &paths),
                    head: branch.clone(),
                    base: self.base.clone(),
                    draft: false,
                };
                let url = open_pull_request(client, repo, &pr, ctx)
                    .await
                    .map_err(|e| self.api_error("opening the pull request", &e))?;
                (commit.sha, url)
            }
            Destination::Remote { url } => {
                let dir = work_dir(ctx.run());
                let _ = std::fs::remove_dir_all(&dir);
                let pushed = push_to_remote(PushParams {
                    url,
                    dir: &dir,
                    base: &self.base,
                    branch: &branch,
                    files: {
                        let files = self
                            .documents
                            .iter()
                            .zip(&paths)
                            .map(|((_, content), path)| {
                                GitFile::text(path.clone(), content.clone())
                            })
                            .collect();
                        Box::new(move |_| Ok(files))
                    },
                    message: &message,
                    author: GitAuthor {
                        name: self.config.author_name.clone(),
                        email: self.config.author_email.clone(),
                    },
                })
                .await;
                let _ = std::fs::remove_dir_all(&dir);
                let commit = pushed?;
                let link = format!("{url}#{branch}");
                ctx.log_data(
                    EventLevel::Info,
                    format!("pushed {commit} to {url} as branch {branch}"),
                    json!({"kind": "branch_pushed", "remote": url, "branch": branch, "commit": commit}),
                );
                (commit, link)
            }
        };
        self.commit = Some(commit);
        self.link = Some(link);
        Ok(())
    }

    async fn verify(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let branch = self.branch();
        let commit = self.commit.clone().unwrap_or_default();
        let head = match self.destination()? {
            Destination::GitHub { client, repo, .. } => {
                client
                    .get_branch(repo, &branch)
                    .await
                    .map_err(|e| self.api_error(&format!("reading branch {branch}"), &e))?
                    .object
                    .sha
            }
            Destination::Remote { url } => ls_remote(url)
                .await?
                .into_iter()
                .find(|(_, b)| *b == branch)
                .map(|(sha, _)| sha)
                .unwrap_or_default(),
        };
        if head != commit {
            return Err(PhaseError::permanent(format!(
                "branch {branch} points at {}, not at the commit {commit} this run made",
                if head.is_empty() { "nothing" } else { &head }
            )));
        }
        ctx.log(
            EventLevel::Info,
            format!("branch {branch} has the four documents at {commit}"),
        );
        Ok(())
    }
}

/// Opens `pr` on `repo` and logs its number and link; returns the link.
pub(super) async fn open_pull_request(
    client: &GitHubClient,
    repo: &RepoName,
    pr: &NewPullRequest,
    ctx: &mut RunContext,
) -> Result<String, ApiError> {
    let pr = client.create_pull_request(repo, pr).await?;
    ctx.log_data(
        EventLevel::Info,
        format!("opened pull request #{}: {}", pr.number, pr.html_url),
        json!({"kind": "pull_request", "number": pr.number, "url": pr.html_url}),
    );
    Ok(pr.html_url)
}

impl Destination {
    /// GitHub as configured by `gh` (the table at `key`): its token read
    /// and kept out of the run's log.
    pub(super) fn github(
        ctx: &mut RunContext,
        gh: &SpecGitHubConfig,
        key: &str,
    ) -> Result<Destination, PhaseError> {
        let token = ctx
            .engine()
            .config
            .secret(&gh.token_secret)
            .map_err(|e| PhaseError::permanent(e.to_string()))?;
        ctx.add_secret(&token);
        let mut cfg = GitHubConfig::new(token.clone());
        if let Some(url) = &gh.base_url {
            cfg.base_url.clone_from(url);
        }
        Ok(Destination::GitHub {
            client: GitHubClient::new(cfg)
                .map(Box::new)
                .map_err(|e| PhaseError::permanent(format!("cannot set up GitHub: {e}")))?,
            repo: RepoName::parse(&gh.repo).ok_or_else(|| {
                PhaseError::permanent(format!("{key}.repo {:?} is not owner/name", gh.repo))
            })?,
            credential: gh.token_secret.clone(),
            token,
        })
    }

    /// A failed GitHub call as a phase error: the credential named when
    /// GitHub refused it, the token never shown, transient failures retried.
    pub(super) fn api_error(dest: Option<&Destination>, what: &str, e: &ApiError) -> PhaseError {
        let message = match dest {
            Some(Destination::GitHub {
                credential, token, ..
            }) => {
                let text = token.redact(&e.to_string());
                if e.is_auth() {
                    format!("{what}: GitHub rejected credential `{credential}` ({text}); check the token that secrets.{credential} points at")
                } else {
                    format!("{what}: {text}")
                }
            }
            _ => format!("{what}: {e}"),
        };
        if e.is_transient() {
            PhaseError::retryable(message)
        } else {
            PhaseError::permanent(message)
        }
    }
}

fn branch_exists(branch: &str) -> PhaseError {
    PhaseError::permanent(format!(
        "branch {branch} already exists; merge or delete it, or describe the feature differently"
    ))
}

fn pr_body(feature: &str, paths: &[String]) -> String {
    let mut body = format!("Spec for **{feature}**, written by opsroom for review.\n\n");
    for p in paths {
        body.push_str(&format!("- `{p}`\n"));
    }
    body.push_str("\nReview the principles, goals, acceptance criteria and task order; edit freely before merging.\n");
    body
}

/// A scratch folder for this attempt of `run`.
pub(super) fn work_dir(run: &Run) -> PathBuf {
    std::env::temp_dir().join(format!(
        "opsroom-{}-{}-{}-{}",
        run.runbook,
        std::process::id(),
        run.id,
        run.attempt
    ))
}

/// The branches of a remote: (sha, branch name).
pub(super) async fn ls_remote(url: &str) -> Result<Vec<(String, String)>, PhaseError> {
    let options = GitOptions::default();
    let spec = CommandSpec::new(options.program.clone(), ["ls-remote", "--heads", "--", url])
        .timeout(options.timeout)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    let out = shell::run_checked(&spec, None)
        .await
        .map_err(|e| PhaseError::retryable(format!("reading branches of {url}: {e}")))?;
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| {
            let (sha, name) = l.split_once('\t')?;
            Some((
                sha.to_string(),
                name.strip_prefix("refs/heads/")?.to_string(),
            ))
        })
        .collect())
}

/// What a run commits to a git remote on a branch of its own.
pub(super) struct PushParams<'a> {
    pub url: &'a str,
    /// Where the remote is cloned (emptied by the caller).
    pub dir: &'a std::path::Path,
    pub base: &'a str,
    pub branch: &'a str,
    /// The files to commit, given the clone (to look at what is there).
    #[allow(clippy::type_complexity)]
    pub files: Box<dyn FnOnce(&std::path::Path) -> Result<Vec<GitFile>, PhaseError> + Send + 'a>,
    pub message: &'a str,
    pub author: GitAuthor,
}

/// Clones the remote at `base`, commits the files on a new branch and
/// pushes it; returns the commit.
pub(super) async fn push_to_remote(p: PushParams<'_>) -> Result<String, PhaseError> {
    let fail = |what: &str, e: opsroom_adapters::git::GitError| {
        PhaseError::permanent(format!("{what}: {e}"))
    };
    let repo = GitRepo::clone_from(p.url, p.dir, Some(p.base), GitOptions::default())
        .await
        .map_err(|e| fail("cloning the repository", e))?;
    repo.create_branch(p.branch, None)
        .await
        .map_err(|e| fail("creating the branch", e))?;
    let files = (p.files)(p.dir)?;
    let commit = repo
        .commit_files(&files, p.message, &p.author)
        .await
        .map_err(|e| fail("committing the documents", e))?;
    repo.push("origin", p.branch)
        .await
        .map_err(|e| fail("pushing the branch", e))?;
    Ok(commit)
}

#[async_trait::async_trait]
impl Execution for Spec {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        self.run_phase(phase, ctx).await
    }
}
