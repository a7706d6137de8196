//! Git through the `git` program (run by [`crate::shell`]): clone or open a
//! repository (local path, `file://` or ssh remote), create a branch, write
//! files and commit them with a given author, push.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::secret::Secret;
use crate::shell::{self, CommandOutput, CommandSpec, OutputLine, ShellError};

/// How git commands are run.
#[derive(Clone, Debug)]
pub struct GitOptions {
    /// The git program.
    pub program: String,
    /// Timeout of each git command.
    pub timeout: Duration,
    /// `GIT_SSH_COMMAND`, e.g. `ssh -i /keys/deploy -o BatchMode=yes`.
    pub ssh_command: Option<String>,
    /// Values hidden from git's output (tokens inside remote URLs).
    pub redact: Vec<Secret>,
}

impl Default for GitOptions {
    fn default() -> Self {
        Self {
            program: "git".to_owned(),
            timeout: Duration::from_secs(300),
            ssh_command: None,
            redact: Vec::new(),
        }
    }
}

/// Who a commit is attributed to (author and committer).
#[derive(Clone, Debug)]
pub struct GitAuthor {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
}

/// A file to write in the working tree.
#[derive(Clone, Debug)]
pub struct GitFile {
    /// Path relative to the repository root, `/`-separated.
    pub path: String,
    /// Content.
    pub content: Vec<u8>,
}

impl GitFile {
    /// A text file.
    pub fn text(path: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            content: content.into().into_bytes(),
        }
    }
}

/// How [`GitRepo::revert_range`] went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reverted {
    /// Every commit was reverted; the branch's new head.
    Clean(String),
    /// A revert did not apply; these files conflicted, nothing was changed.
    Conflict(Vec<String>),
}

/// What went wrong with a git operation.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// A git command failed (its stderr is in the message).
    #[error("git {action} failed: {source}")]
    Command {
        /// The operation, e.g. `push`.
        action: &'static str,
        /// The command's failure.
        #[source]
        source: ShellError,
    },
    /// Bad input, nothing was run.
    #[error("git: {0}")]
    InvalidInput(String),
    /// Writing a file failed.
    #[error("git: writing {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
}

/// A working copy (or bare repository) on this machine.
#[derive(Clone, Debug)]
pub struct GitRepo {
    dir: PathBuf,
    options: GitOptions,
    lines: Option<mpsc::Sender<OutputLine>>,
}

fn refuse_option(what: &str, value: &str) -> Result<(), GitError> {
    if value.is_empty() || value.starts_with('-') {
        return Err(GitError::InvalidInput(format!(
            "{what} {value:?} must be non-empty and must not start with '-'"
        )));
    }
    Ok(())
}

fn command(options: &GitOptions, cwd: Option<&Path>, args: &[&str]) -> CommandSpec {
    let mut spec = CommandSpec::new(options.program.clone(), args.iter().copied())
        .timeout(options.timeout)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    if let Some(ssh) = &options.ssh_command {
        spec = spec.env("GIT_SSH_COMMAND", ssh.clone());
    }
    if let Some(cwd) = cwd {
        spec = spec.cwd(cwd);
    }
    spec.redact = options.redact.clone();
    spec
}

impl GitRepo {
    /// Clones `url` (a path, `file://…`, `ssh://…` or `user@host:path`) into
    /// `dest`, optionally checking out `branch`.
    pub async fn clone_from(
        url: &str,
        dest: &Path,
        branch: Option<&str>,
        options: GitOptions,
    ) -> Result<Self, GitError> {
        refuse_option("remote URL", url)?;
        let dest_text = dest.to_string_lossy().into_owned();
        let mut args = vec!["clone", "--no-progress"];
        if let Some(branch) = branch {
            refuse_option("branch", branch)?;
            args.extend(["--branch", branch]);
        }
        args.extend(["--", url, &dest_text]);
        let spec = command(&options, None, &args);
        shell::run_checked(&spec, None)
            .await
            .map_err(|source| GitError::Command {
                action: "clone",
                source,
            })?;
        Ok(Self {
            dir: dest.to_path_buf(),
            options,
            lines: None,
        })
    }

    /// Opens an existing repository (working copy or bare).
    pub async fn open(dir: &Path, options: GitOptions) -> Result<Self, GitError> {
        let repo = Self {
            dir: dir.to_path_buf(),
            options,
            lines: None,
        };
        repo.git("open", &["rev-parse", "--git-dir"]).await?;
        Ok(repo)
    }

    /// Creates a repository (bare for a remote) with `initial_branch`.
    pub async fn init(
        dir: &Path,
        bare: bool,
        initial_branch: &str,
        options: GitOptions,
    ) -> Result<Self, GitError> {
        refuse_option("branch", initial_branch)?;
        std::fs::create_dir_all(dir).map_err(|e| GitError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let repo = Self {
            dir: dir.to_path_buf(),
            options,
            lines: None,
        };
        let branch_arg = format!("--initial-branch={initial_branch}");
        let mut args = vec!["init", "--quiet", branch_arg.as_str()];
        if bare {
            args.push("--bare");
        }
        repo.git("init", &args).await?;
        Ok(repo)
    }

    /// Streams the output of every later git command to `lines`.
    pub fn with_output(mut self, lines: mpsc::Sender<OutputLine>) -> Self {
        self.lines = Some(lines);
        self
    }

    /// The repository's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn git(&self, action: &'static str, args: &[&str]) -> Result<CommandOutput, GitError> {
        let spec = command(&self.options, Some(&self.dir), args);
        shell::run_checked(&spec, self.lines.as_ref())
            .await
            .map_err(|source| GitError::Command { action, source })
    }

    async fn check_branch_name(&self, name: &str) -> Result<(), GitError> {
        refuse_option("branch", name)?;
        let spec = command(
            &self.options,
            Some(&self.dir),
            &["check-ref-format", "--branch", name],
        );
        match shell::run(&spec, None).await {
            Ok(out) if out.success() => Ok(()),
            _ => Err(GitError::InvalidInput(format!(
                "{name:?} is not a valid branch name"
            ))),
        }
    }

    /// The commit `HEAD` points at, or `None` in a repository without commits.
    pub async fn head(&self) -> Result<Option<String>, GitError> {
        let spec = command(
            &self.options,
            Some(&self.dir),
            &["rev-parse", "--verify", "--quiet", "HEAD"],
        );
        let out = shell::run(&spec, None)
            .await
            .map_err(|source| GitError::Command {
                action: "rev-parse",
                source,
            })?;
        Ok(out.success().then(|| out.stdout.trim().to_owned()))
    }

    /// The checked-out branch.
    pub async fn current_branch(&self) -> Result<String, GitError> {
        let out = self
            .git("symbolic-ref", &["symbolic-ref", "--short", "HEAD"])
            .await?;
        Ok(out.stdout.trim().to_owned())
    }

    /// Creates `name` from `start` (a branch, tag or commit; `HEAD` when
    /// `None`) and checks it out.
    pub async fn create_branch(&self, name: &str, start: Option<&str>) -> Result<(), GitError> {
        self.check_branch_name(name).await?;
        let mut args = vec!["checkout", "--quiet", "-b", name];
        if let Some(start) = start {
            refuse_option("start point", start)?;
            args.push(start);
        }
        self.git("create branch", &args).await.map(drop)
    }

    /// Checks out an existing branch.
    pub async fn checkout(&self, name: &str) -> Result<(), GitError> {
        refuse_option("branch", name)?;
        self.git("checkout", &["checkout", "--quiet", name, "--"])
            .await
            .map(drop)
    }

    /// Writes files into the working tree (creating folders). Paths must be
    /// relative, without `..`, and outside `.git`.
    pub async fn write_files(&self, files: &[GitFile]) -> Result<(), GitError> {
        for file in files {
            let relative = safe_relative_path(&file.path)?;
            let target = self.dir.join(relative);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| GitError::Io {
                        path: file.path.clone(),
                        message: e.to_string(),
                    })?;
            }
            tokio::fs::write(&target, &file.content)
                .await
                .map_err(|e| GitError::Io {
                    path: file.path.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// Stages `paths` and commits them as `author`; returns the new commit.
    pub async fn commit(
        &self,
        paths: &[&str],
        message: &str,
        author: &GitAuthor,
    ) -> Result<String, GitError> {
        if paths.is_empty() {
            return Err(GitError::InvalidInput(
                "nothing to commit: no paths given".to_owned(),
            ));
        }
        if message.trim().is_empty() {
            return Err(GitError::InvalidInput(
                "the commit message is empty".to_owned(),
            ));
        }
        let mut add = vec!["add", "--"];
        add.extend_from_slice(paths);
        self.git("add", &add).await?;
        let spec = command(
            &self.options,
            Some(&self.dir),
            &["commit", "--quiet", "--no-verify", "-m", message],
        )
        .env("GIT_AUTHOR_NAME", author.name.clone())
        .env("GIT_AUTHOR_EMAIL", author.email.clone())
        .env("GIT_COMMITTER_NAME", author.name.clone())
        .env("GIT_COMMITTER_EMAIL", author.email.clone());
        shell::run_checked(&spec, self.lines.as_ref())
            .await
            .map_err(|source| GitError::Command {
                action: "commit",
                source,
            })?;
        self.head()
            .await?
            .ok_or_else(|| GitError::InvalidInput("commit made no HEAD".to_owned()))
    }

    /// Writes the files and commits them in one commit; returns the commit.
    pub async fn commit_files(
        &self,
        files: &[GitFile],
        message: &str,
        author: &GitAuthor,
    ) -> Result<String, GitError> {
        self.write_files(files).await?;
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        self.commit(&paths, message, author).await
    }

    /// Commits in `from..to` (reachable from `to`, not from `from`).
    pub async fn count_commits(&self, from: &str, to: &str) -> Result<u64, GitError> {
        refuse_option("commit", from)?;
        refuse_option("commit", to)?;
        let range = format!("{from}..{to}");
        let out = self
            .git("rev-list", &["rev-list", "--count", &range, "--"])
            .await?;
        out.stdout
            .trim()
            .parse()
            .map_err(|_| GitError::InvalidInput(format!("git rev-list answered {:?}", out.stdout)))
    }

    /// Reverts the commits of `from..to`, newest first, one revert commit
    /// each, on the checked-out branch as `author`; returns the new head.
    /// When a revert does not apply cleanly nothing is forced: the revert
    /// is aborted (the branch is left as it was) and the files in conflict
    /// are returned.
    pub async fn revert_range(
        &self,
        from: &str,
        to: &str,
        author: &GitAuthor,
    ) -> Result<Reverted, GitError> {
        refuse_option("commit", from)?;
        refuse_option("commit", to)?;
        let range = format!("{from}..{to}");
        let spec = command(
            &self.options,
            Some(&self.dir),
            &["revert", "--no-edit", &range],
        )
        .env("GIT_AUTHOR_NAME", author.name.clone())
        .env("GIT_AUTHOR_EMAIL", author.email.clone())
        .env("GIT_COMMITTER_NAME", author.name.clone())
        .env("GIT_COMMITTER_EMAIL", author.email.clone());
        let out = shell::run(&spec, self.lines.as_ref())
            .await
            .map_err(|source| GitError::Command {
                action: "revert",
                source,
            })?;
        if out.success() {
            let head = self
                .head()
                .await?
                .ok_or_else(|| GitError::InvalidInput("revert made no HEAD".to_owned()))?;
            return Ok(Reverted::Clean(head));
        }
        let unmerged = self
            .git("diff", &["diff", "--name-only", "--diff-filter=U", "--"])
            .await?;
        let files: Vec<String> = unmerged
            .stdout
            .lines()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect();
        if files.is_empty() {
            // Not a conflict: report git's own words.
            let _ = self.git("revert --abort", &["revert", "--abort"]).await;
            return Err(GitError::InvalidInput(format!(
                "git revert {range} failed: {}",
                out.stderr.trim()
            )));
        }
        self.git("revert --abort", &["revert", "--abort"]).await?;
        Ok(Reverted::Conflict(files))
    }

    /// Adds a remote.
    pub async fn add_remote(&self, name: &str, url: &str) -> Result<(), GitError> {
        refuse_option("remote", name)?;
        refuse_option("remote URL", url)?;
        self.git("remote add", &["remote", "add", name, url])
            .await
            .map(drop)
    }

    /// Pushes `branch` to `remote` and sets it as upstream.
    pub async fn push(&self, remote: &str, branch: &str) -> Result<(), GitError> {
        refuse_option("remote", remote)?;
        self.check_branch_name(branch).await?;
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        self.git(
            "push",
            &["push", "--quiet", "--set-upstream", remote, &refspec],
        )
        .await
        .map(drop)
    }
}

fn safe_relative_path(path: &str) -> Result<PathBuf, GitError> {
    let candidate = Path::new(path);
    let mut clean = PathBuf::new();
    for component in candidate.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            _ => {
                return Err(GitError::InvalidInput(format!(
                    "file path {path:?} must be relative and stay inside the repository"
                )))
            }
        }
    }
    let first = clean.components().next();
    if first.is_none() || first == Some(Component::Normal(".git".as_ref())) {
        return Err(GitError::InvalidInput(format!(
            "file path {path:?} must name a file outside .git"
        )));
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_stay_inside_the_repository() {
        assert_eq!(
            safe_relative_path("docs/a.md").unwrap(),
            PathBuf::from("docs/a.md")
        );
        assert!(safe_relative_path("../x").is_err());
        assert!(safe_relative_path("/etc/passwd").is_err());
        assert!(safe_relative_path(".git/hooks/pre-commit").is_err());
        assert!(safe_relative_path("").is_err());
    }
}
