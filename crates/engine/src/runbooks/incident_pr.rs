//! `incident_pr`: the fix an incident run proposes besides a rollback. With
//! a suspect deploy, the commits between the previous deploy's commit and
//! the suspect's (`from..to`) are reverted on a branch `fix/<slug>` of the
//! `[incident]` repository, with the incident's `triage.md` as the pull
//! request's body: through the GitHub API when `[incident.github]` is
//! configured (a pull request), else with `git revert` in a clone of
//! `[incident] remote` (a pushed branch). A revert that does not apply
//! cleanly is not forced: the run fails naming the files in conflict.
//! Without a suspect (`from`/`to` not given) it opens a GitHub issue with
//! the report.

use super::deploy::typed_params;
use super::deploy_checks::check_target;
use super::feature_spec::{ls_remote, open_pull_request, work_dir, Destination};
use crate::config::IncidentConfig;
use crate::pipeline::{Execution, PhaseError, RunContext};
use crate::Engine;
use opsroom_adapters::git::{GitAuthor, GitOptions, GitRepo, Reverted};
use opsroom_adapters::github::{CommitAuthor, GitHubClient, NewPullRequest, RepoName, TreeChange};
use opsroom_adapters::ApiError;
use opsroom_core::{ArtifactKind, EventLevel, Phase, RunStatus};
use opsroom_store::{Run, RunId};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The runbook's params, as the catalog declares them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    incident_run: i64,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// What the run proposes.
#[derive(Debug, Clone, PartialEq)]
enum Proposal {
    /// Revert `from..to` on `branch`.
    Revert {
        from: String,
        to: String,
        branch: String,
    },
    /// Open an issue with the report.
    Issue,
}

/// One `incident_pr` run.
pub struct IncidentPr {
    env: String,
    incident_run: RunId,
    proposal: Proposal,
    config: IncidentConfig,
    destination: Option<Destination>,
    /// `triage.md` of the incident run.
    report: String,
    /// Its first line, for titles.
    title: String,
    base_sha: Option<String>,
    commit: Option<String>,
    link: Option<String>,
}

/// The branch a revert of `to` for incident run `incident` goes on.
pub fn fix_branch(incident: RunId, to: &str) -> String {
    let short: String = to
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect();
    format!("fix/incident-{incident}-revert-{short}")
}

impl IncidentPr {
    pub fn new(
        engine: &Engine,
        run: &Run,
        params: &Map<String, Value>,
    ) -> Result<Self, PhaseError> {
        let (env, _) = check_target(engine, run)?;
        let params: Params = typed_params(params)?;
        let clean = |what: &str, v: Option<String>| -> Result<Option<String>, PhaseError> {
            match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
                Some(s)
                    if s.starts_with('-')
                        || s.contains("..")
                        || s.contains(char::is_whitespace) =>
                {
                    Err(PhaseError::permanent(format!(
                        "param `{what}` must be a commit or tag, got {s:?}"
                    )))
                }
                other => Ok(other),
            }
        };
        let incident_run = RunId(params.incident_run);
        let proposal = match (clean("from", params.from)?, clean("to", params.to)?) {
            (Some(from), Some(to)) if from == to => {
                return Err(PhaseError::permanent(format!(
                    "params `from` and `to` are both {from}: there is nothing to revert"
                )))
            }
            (Some(from), Some(to)) => Proposal::Revert {
                branch: fix_branch(incident_run, &to),
                from,
                to,
            },
            (None, None) => Proposal::Issue,
            _ => {
                return Err(PhaseError::permanent(
                    "params `from` and `to` go together: the previous deploy's commit and the suspect deploy's (or neither, to open an issue)",
                ))
            }
        };
        let config = engine.config.incident.clone().ok_or_else(|| {
            PhaseError::permanent(
                "incident_pr needs the code's repository: add [incident] with remote = \"file:///path/to/repo.git\" (or an [incident.github] table with repo and token_secret) to opsroom.toml",
            )
        })?;
        if proposal == Proposal::Issue && config.github.is_none() {
            return Err(PhaseError::permanent(
                "without a suspect deploy incident_pr opens a GitHub issue: add an [incident.github] table with repo and token_secret to opsroom.toml",
            ));
        }
        Ok(IncidentPr {
            env,
            incident_run,
            proposal,
            config,
            destination: None,
            report: String::new(),
            title: String::new(),
            base_sha: None,
            commit: None,
            link: None,
        })
    }

    fn destination(&self) -> Result<&Destination, PhaseError> {
        self.destination
            .as_ref()
            .ok_or_else(|| PhaseError::permanent("the destination was not set up in validate"))
    }

    fn api_error(&self, what: &str, e: &ApiError) -> PhaseError {
        Destination::api_error(self.destination.as_ref(), what, e)
    }

    fn author(&self) -> (String, String) {
        (
            self.config.author_name.clone(),
            self.config.author_email.clone(),
        )
    }

    fn validate(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let destination = match &self.config.github {
            Some(gh) => Destination::github(ctx, gh, "incident.github")?,
            None => Destination::Remote {
                url: self.config.remote.clone().unwrap_or_default(),
            },
        };
        let place = match &destination {
            Destination::GitHub { repo, .. } => format!("{repo} on GitHub"),
            Destination::Remote { url } => url.clone(),
        };
        let what = match &self.proposal {
            Proposal::Revert { from, to, branch } => format!(
                "reverting {from}..{to} on branch {branch} into {} of {place}",
                self.config.base_branch
            ),
            Proposal::Issue => format!("opening an issue on {place}"),
        };
        ctx.log(
            EventLevel::Info,
            format!(
                "{what}, with the report of incident run {} on {}",
                self.incident_run, self.env
            ),
        );
        self.destination = Some(destination);
        Ok(())
    }

    /// Reads the incident run's report; checks the branch is free and the
    /// base exists.
    async fn preflight(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let store = &ctx.engine().store;
        let workspace = ctx.run().workspace_id.clone();
        let incident = store
            .run_get(&workspace, self.incident_run)
            .await
            .map_err(|e| {
                PhaseError::permanent(format!(
                    "param `incident_run`: cannot read run {}: {e}",
                    self.incident_run
                ))
            })?;
        if incident.runbook != "incident" || incident.status != RunStatus::Succeeded {
            return Err(PhaseError::permanent(format!(
                "param `incident_run`: run {} is a {} run that is {}, not a succeeded incident run",
                self.incident_run, incident.runbook, incident.status
            )));
        }
        let artifacts = store
            .artifacts_list(&workspace, self.incident_run)
            .await
            .map_err(|e| PhaseError::retryable(format!("reading the incident's report: {e}")))?;
        self.report = artifacts
            .into_iter()
            .find(|a| a.name == "triage.md")
            .map(|a| a.content)
            .ok_or_else(|| {
                PhaseError::permanent(format!(
                    "incident run {} has no triage.md",
                    self.incident_run
                ))
            })?;
        self.title = self
            .report
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches('#')
            .trim()
            .to_string();
        let Proposal::Revert { branch, .. } = &self.proposal else {
            return Ok(());
        };
        let base = &self.config.base_branch;
        let base_sha = match self.destination()? {
            Destination::GitHub { client, repo, .. } => {
                let head = client
                    .get_branch(repo, base)
                    .await
                    .map_err(|e| self.api_error(&format!("reading branch {base} of {repo}"), &e))?;
                match client.get_branch(repo, branch).await {
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(self.api_error(&format!("checking branch {branch}"), &e)),
                    Ok(_) => return Err(branch_exists(branch)),
                }
                head.object.sha
            }
            Destination::Remote { url } => {
                let heads = ls_remote(url).await?;
                if heads.iter().any(|(_, b)| b == branch) {
                    return Err(branch_exists(branch));
                }
                heads
                    .into_iter()
                    .find(|(_, b)| b == base)
                    .map(|(sha, _)| sha)
                    .ok_or_else(|| {
                        PhaseError::permanent(format!(
                            "base branch {base} does not exist in {url}; set base_branch under [incident]"
                        ))
                    })?
            }
        };
        ctx.log(
            EventLevel::Info,
            format!("base branch {base} is at {base_sha}; branch {branch} is free"),
        );
        self.base_sha = Some(base_sha);
        Ok(())
    }

    async fn action(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let proposal = self.proposal.clone();
        let Proposal::Revert { from, to, branch } = proposal else {
            let Destination::GitHub { client, repo, .. } = self.destination()? else {
                return Err(PhaseError::permanent(
                    "opening an issue needs [incident.github]",
                ));
            };
            let title = format!("Incident: {}", self.title);
            let issue = client
                .create_issue(repo, &title, &self.report)
                .await
                .map_err(|e| self.api_error("opening the issue", &e))?;
            ctx.log_data(
                EventLevel::Info,
                format!("opened issue #{}: {}", issue.number, issue.html_url),
                json!({"kind": "issue", "number": issue.number, "url": issue.html_url}),
            );
            self.link = Some(issue.html_url);
            return Ok(());
        };
        let message = format!(
            "Revert {from}..{to}\n\nThe commits deployed by the suspect deploy of incident run {} on {}, reverted by opsroom.",
            self.incident_run, self.env
        );
        let (commit, link) = match self.destination()? {
            Destination::GitHub { client, repo, .. } => {
                let changes = self
                    .revert_through_api(client, repo, &from, &to, ctx)
                    .await?;
                let base_sha = self.base_sha.clone().unwrap_or_default();
                client
                    .create_branch(repo, &branch, &base_sha)
                    .await
                    .map_err(|e| self.api_error(&format!("creating branch {branch}"), &e))?;
                let (name, email) = self.author();
                let commit = client
                    .commit_changes(
                        repo,
                        &branch,
                        &changes,
                        &message,
                        &CommitAuthor { name, email },
                    )
                    .await
                    .map_err(|e| self.api_error("committing the revert", &e))?;
                ctx.log(
                    EventLevel::Info,
                    format!("committed {} on {branch}", commit.sha),
                );
                let pr = NewPullRequest {
                    title: format!("Revert {from}..{to}: {}", self.title),
                    body: self.report.clone(),
                    head: branch.clone(),
                    base: self.config.base_branch.clone(),
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
                let pushed = self
                    .revert_with_git(url, &dir, &from, &to, &branch, ctx)
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

    /// The revert as file changes: each file the range changed goes back
    /// to its content at `from` (or is deleted, when `from` had none). A
    /// file changed again on the base branch since `to` is a conflict: the
    /// run fails naming every such file, nothing is written.
    async fn revert_through_api(
        &self,
        client: &GitHubClient,
        repo: &RepoName,
        from: &str,
        to: &str,
        ctx: &mut RunContext,
    ) -> Result<Vec<TreeChange>, PhaseError> {
        let range = client
            .compare(repo, from, to)
            .await
            .map_err(|e| self.api_error(&format!("comparing {from}...{to}"), &e))?;
        if range.ahead_by == 0 || range.files.is_empty() {
            return Err(PhaseError::permanent(format!(
                "{from}..{to} changes nothing in {repo}: there is nothing to revert"
            )));
        }
        let base = &self.config.base_branch;
        let mut paths: Vec<String> = Vec::new();
        for f in &range.files {
            paths.push(f.filename.clone());
            if let Some(old) = &f.previous_filename {
                paths.push(old.clone());
            }
        }
        paths.sort();
        paths.dedup();
        let mut changes = Vec::new();
        let mut conflicts = Vec::new();
        for path in paths {
            let read = |at: String| {
                let path = path.clone();
                async move {
                    client
                        .file_at(repo, &path, &at)
                        .await
                        .map_err(|e| self.api_error(&format!("reading {path} at {at}"), &e))
                }
            };
            let before = read(from.to_string()).await?;
            let after = read(to.to_string()).await?;
            let now = read(base.clone()).await?;
            if now == before {
                continue;
            }
            if now != after {
                conflicts.push(path);
                continue;
            }
            changes.push(TreeChange {
                path,
                content: before,
            });
        }
        if !conflicts.is_empty() {
            return Err(conflict(from, to, base, &conflicts, ctx));
        }
        if changes.is_empty() {
            return Err(PhaseError::permanent(format!(
                "{base} already has the content {from} had in every file {from}..{to} changed: there is nothing to revert"
            )));
        }
        Ok(changes)
    }

    /// Clones the remote at the base branch, reverts the range on a new
    /// branch and pushes it; returns the commit.
    async fn revert_with_git(
        &self,
        url: &str,
        dir: &std::path::Path,
        from: &str,
        to: &str,
        branch: &str,
        ctx: &mut RunContext,
    ) -> Result<String, PhaseError> {
        let fail = |what: &str, e: opsroom_adapters::git::GitError| {
            PhaseError::permanent(format!("{what}: {e}"))
        };
        let base = &self.config.base_branch;
        let repo = GitRepo::clone_from(url, dir, Some(base), GitOptions::default())
            .await
            .map_err(|e| fail("cloning the repository", e))?;
        let count = repo.count_commits(from, to).await.map_err(|e| {
            fail(
                &format!("reading {from}..{to} (are both commits in {url}?)"),
                e,
            )
        })?;
        if count == 0 {
            return Err(PhaseError::permanent(format!(
                "{from}..{to} holds no commit: there is nothing to revert"
            )));
        }
        repo.create_branch(branch, None)
            .await
            .map_err(|e| fail("creating the branch", e))?;
        let (name, email) = self.author();
        let reverted = repo
            .revert_range(from, to, &GitAuthor { name, email })
            .await
            .map_err(|e| fail("reverting", e))?;
        let head = match reverted {
            Reverted::Clean(head) => head,
            Reverted::Conflict(files) => return Err(conflict(from, to, base, &files, ctx)),
        };
        repo.push("origin", branch)
            .await
            .map_err(|e| fail("pushing the branch", e))?;
        Ok(head)
    }

    async fn verify(&mut self, ctx: &mut RunContext) -> Result<(), PhaseError> {
        let Proposal::Revert { branch, .. } = &self.proposal else {
            ctx.log(EventLevel::Info, "the issue is open");
            return Ok(());
        };
        let commit = self.commit.clone().unwrap_or_default();
        let head = match self.destination()? {
            Destination::GitHub { client, repo, .. } => {
                client
                    .get_branch(repo, branch)
                    .await
                    .map_err(|e| self.api_error(&format!("reading branch {branch}"), &e))?
                    .object
                    .sha
            }
            Destination::Remote { url } => ls_remote(url)
                .await?
                .into_iter()
                .find(|(_, b)| b == branch)
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
            format!("branch {branch} holds the revert at {commit}"),
        );
        Ok(())
    }

    async fn run_phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        match phase {
            Phase::Validate => self.validate(ctx),
            Phase::Preflight => self.preflight(ctx).await,
            Phase::Action => self.action(ctx).await,
            Phase::Verify => self.verify(ctx).await,
            Phase::Summarize => {
                if let Some(link) = self.link.clone() {
                    let name = match self.proposal {
                        Proposal::Revert { .. } => "pull request",
                        Proposal::Issue => "issue",
                    };
                    ctx.artifact(ArtifactKind::Link, name, link).await?;
                }
                Ok(())
            }
        }
    }
}

/// The error of a revert that does not apply, naming the files; the event
/// lists them for scripts.
fn conflict(
    from: &str,
    to: &str,
    base: &str,
    files: &[String],
    ctx: &mut RunContext,
) -> PhaseError {
    ctx.log_data(
        EventLevel::Error,
        format!("{} file(s) changed on {base} since {to}", files.len()),
        json!({"kind": "revert_conflict", "files": files}),
    );
    PhaseError::permanent(format!(
        "reverting {from}..{to} on {base} conflicts in {}: {base} changed them since; nothing was pushed, revert by hand",
        files.join(", ")
    ))
}

fn branch_exists(branch: &str) -> PhaseError {
    PhaseError::permanent(format!(
        "branch {branch} already exists: the fix was proposed already; merge or delete it"
    ))
}

#[async_trait::async_trait]
impl Execution for IncidentPr {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        self.run_phase(phase, ctx).await
    }
}
