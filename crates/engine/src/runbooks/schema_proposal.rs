//! Where `schema_sync` proposes a migration: as the next `VERSION_name.sql`
//! of the target env's migrations folder (`[environments.TARGET.migrations]`),
//! written into `dir`, pushed on branch `schema-sync/TARGET-FINGERPRINT` of
//! a git `remote`, or put on that branch through the GitHub API (`github`)
//! and opened as a pull request whose body is the diff report. Never twice:
//! a branch or a file that already holds the fingerprint is "already
//! proposed".

use super::feature_spec::{ls_remote, push_to_remote, work_dir, Destination, PushParams};
use crate::config::{MigrationsConfig, MigrationsGitHubConfig};
use crate::pipeline::{PhaseError, RunContext};
use opsroom_adapters::git::{GitAuthor, GitFile};
use opsroom_adapters::github::{CommitAuthor, FileChange, NewPullRequest};
use opsroom_core::{ArtifactKind, EventLevel};
use opsroom_schema::Migration;
use serde_json::json;
use std::path::{Path, PathBuf};

/// A migration to propose.
pub(super) struct Proposal<'a> {
    /// The database whose schema is desired.
    pub source: &'a str,
    /// The database the migration changes.
    pub target: &'a str,
    pub migration: &'a Migration,
    pub print: &'a str,
    /// The diff report (`schema-diff.md`): a pull request's body.
    pub report: String,
}

/// The file a proposal writes: its name without the version, its content,
/// the branch it goes on and the commit message.
struct NewFile {
    name: String,
    content: String,
    branch: String,
    message: String,
}

const AUTHOR: &str = "opsroom";
const AUTHOR_EMAIL: &str = "opsroom@localhost";

/// Proposes `p` where `m` says.
pub(super) async fn propose(
    m: &MigrationsConfig,
    p: &Proposal<'_>,
    ctx: &mut RunContext,
) -> Result<(), PhaseError> {
    let print = p.print;
    let file = NewFile {
        name: format!("sync_{}_from_{}", file_word(p.target), file_word(p.source)),
        content: format!(
            "-- Written by opsroom (schema_sync run {}): makes `{}` match `{}`.\n-- Fingerprint {print}; review the hazards before merging.\n\n{}",
            ctx.run().id,
            p.target,
            p.source,
            p.migration
        ),
        branch: format!("schema-sync/{}-{print}", file_word(p.target)),
        message: format!(
            "Migration: make {} match {}\n\nWritten by opsroom schema_sync (fingerprint {print}).",
            p.target, p.source
        ),
    };
    match (&m.github, &m.remote) {
        (Some(gh), _) => on_github(m, gh, p, file, ctx).await,
        (None, Some(url)) => to_remote(m, url, print, file, ctx).await,
        (None, None) => into_folder(m, p, file, ctx),
    }
}

/// Writes the file into the migrations folder itself.
fn into_folder(
    m: &MigrationsConfig,
    p: &Proposal<'_>,
    file: NewFile,
    ctx: &mut RunContext,
) -> Result<(), PhaseError> {
    let dir = Path::new(&m.dir);
    if let Some(existing) = proposed_in(dir, p.print) {
        ctx.log(
            EventLevel::Info,
            format!(
                "this migration is already proposed as {}",
                existing.display()
            ),
        );
        return Ok(());
    }
    let path = dir.join(next_file(dir, &file.name, ctx.now())?);
    write_new(&path, &file.content)?;
    ctx.log_data(
        EventLevel::Info,
        format!(
            "wrote {}: the next deploy of {} applies it once it is reviewed",
            path.display(),
            p.target
        ),
        json!({"kind": "migration_file", "path": path.display().to_string()}),
    );
    Ok(())
}

/// Commits the file on a new branch of a clone of `url` and pushes it.
async fn to_remote(
    m: &MigrationsConfig,
    url: &str,
    print: &str,
    file: NewFile,
    ctx: &mut RunContext,
) -> Result<(), PhaseError> {
    let branch = file.branch;
    if ls_remote(url).await?.iter().any(|(_, b)| *b == branch) {
        ctx.log(
            EventLevel::Info,
            format!("this migration is already proposed on branch {branch} of {url} (fingerprint {print})"),
        );
        return Ok(());
    }
    let dir = work_dir(ctx.run());
    let _ = std::fs::remove_dir_all(&dir);
    let written = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let chosen = written.clone();
    let folder = m.path.clone().unwrap_or_else(|| m.dir.clone());
    let folder_in_repo = folder.trim_end_matches('/').to_string();
    let now = ctx.now();
    let (name, content) = (file.name, file.content);
    let pushed = push_to_remote(PushParams {
        url,
        dir: &dir,
        base: &m.base_branch,
        branch: &branch,
        files: Box::new(move |clone| {
            let file = next_file(&clone.join(&folder_in_repo), &name, now)?;
            let path = format!("{folder_in_repo}/{file}");
            *chosen.lock().unwrap() = path.clone();
            Ok(vec![GitFile::text(path, content)])
        }),
        message: &file.message,
        author: GitAuthor {
            name: AUTHOR.into(),
            email: AUTHOR_EMAIL.into(),
        },
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let commit = pushed?;
    let path = written.lock().unwrap().clone();
    ctx.log_data(
        EventLevel::Info,
        format!("proposed {path} on branch {branch} of {url} ({commit}): merge it to have the next deploy apply it"),
        json!({"kind": "branch_pushed", "remote": url, "branch": branch, "commit": commit, "path": path}),
    );
    ctx.artifact(
        ArtifactKind::Link,
        "migration-branch",
        format!("{url}#{branch}"),
    )
    .await?;
    Ok(())
}

/// Through the GitHub API: the folder of the base branch is listed to
/// number the file (and to find one that already holds the fingerprint,
/// merged but not deployed yet), then the branch is created, the file put
/// on it and the pull request opened with the diff report as its body.
async fn on_github(
    m: &MigrationsConfig,
    gh: &MigrationsGitHubConfig,
    p: &Proposal<'_>,
    file: NewFile,
    ctx: &mut RunContext,
) -> Result<(), PhaseError> {
    let key = format!("environments.{}.migrations.github", p.target);
    let destination = Destination::github(ctx, &gh.api(), &key)?;
    let Destination::GitHub { client, repo, .. } = &destination else {
        return Err(PhaseError::permanent(format!(
            "{key}: not a GitHub destination"
        )));
    };
    let api_error = |what: &str, e: &opsroom_adapters::ApiError| {
        Destination::api_error(Some(&destination), what, e)
    };
    let folder = gh
        .path
        .as_deref()
        .or(m.path.as_deref())
        .unwrap_or(&m.dir)
        .trim_matches('/')
        .to_string();
    let base = gh
        .base_branch
        .clone()
        .unwrap_or_else(|| m.base_branch.clone());
    let branch = &file.branch;
    match client.get_branch(repo, branch).await {
        Ok(_) => {
            ctx.log(
                EventLevel::Info,
                format!("this migration is already proposed on branch {branch} of {repo} (fingerprint {})", p.print),
            );
            return Ok(());
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            return Err(api_error(
                &format!("checking branch {branch} of {repo}"),
                &e,
            ))
        }
    }
    let base_sha = client
        .get_branch(repo, &base)
        .await
        .map_err(|e| api_error(&format!("reading branch {base} of {repo}"), &e))?
        .object
        .sha;
    let entries = client
        .list_dir(repo, &folder, &base)
        .await
        .map_err(|e| api_error(&format!("listing {folder} on {base} of {repo}"), &e))?;
    let files: Vec<_> = entries.iter().filter(|e| e.kind == "file").collect();
    let marker = format!("-- Fingerprint {};", p.print);
    let ours = format!("_{}.sql", file.name);
    for entry in files.iter().filter(|e| e.name.ends_with(&ours)) {
        let text = client
            .file_at(repo, &entry.path, &base)
            .await
            .map_err(|e| api_error(&format!("reading {} on {base}", entry.path), &e))?
            .unwrap_or_default();
        if String::from_utf8_lossy(&text).contains(&marker) {
            ctx.log(
                EventLevel::Info,
                format!(
                    "this migration is already proposed as {} on {base} of {repo}",
                    entry.path
                ),
            );
            return Ok(());
        }
    }
    let version = next_version(files.iter().map(|e| e.name.as_str()), &file.name, ctx.now());
    let path = format!("{folder}/{version}");
    client
        .create_branch(repo, branch, &base_sha)
        .await
        .map_err(|e| api_error(&format!("creating branch {branch} of {repo}"), &e))?;
    let change = FileChange {
        path: path.clone(),
        content: file.content.into_bytes(),
    };
    let author = CommitAuthor {
        name: AUTHOR.into(),
        email: AUTHOR_EMAIL.into(),
    };
    let commit = client
        .put_file(repo, branch, &change, &file.message, &author)
        .await
        .map_err(|e| api_error(&format!("writing {path} on {branch}"), &e))?;
    let pr = client
        .create_pull_request(
            repo,
            &NewPullRequest {
                title: format!("Migration: make {} match {}", p.target, p.source),
                body: p.report.clone(),
                head: branch.clone(),
                base: base.clone(),
                draft: false,
            },
        )
        .await
        .map_err(|e| api_error("opening the pull request", &e))?;
    ctx.log_data(
        EventLevel::Info,
        format!(
            "proposed {path} on branch {branch} of {repo} ({}) as pull request #{}: merge it to have the next deploy apply it",
            commit.sha, pr.number
        ),
        json!({"kind": "pull_request", "number": pr.number, "url": pr.html_url, "branch": branch, "path": path, "commit": commit.sha}),
    );
    ctx.artifact(ArtifactKind::Link, "pull request", pr.html_url.clone())
        .await?;
    Ok(())
}

/// `name` reduced to what a file name can hold: lower-case letters,
/// digits and `_`.
fn file_word(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The next `VERSION_name.sql` after the files `names` of a migrations
/// folder: the largest numeric version plus one, as wide as it (`0007` →
/// `0008`), or the time (`YYYYMMDDHHMMSS`) where versions are timestamps;
/// `0001` in an empty folder.
fn next_version<'n>(
    names: impl IntoIterator<Item = &'n str>,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let versions: Vec<&str> = names
        .into_iter()
        .filter(|f| f.ends_with(".sql"))
        .filter_map(|f| f.split(['_', '.']).next())
        .filter(|v| !v.is_empty() && v.len() <= 18 && v.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    let Some(last) = versions
        .iter()
        .max_by_key(|v| v.parse::<u64>().unwrap_or(0))
    else {
        return format!("0001_{name}.sql");
    };
    let number: u64 = last.parse().unwrap_or(0);
    let version = if last.len() >= 12 {
        let stamp: u64 = now.format("%Y%m%d%H%M%S").to_string().parse().unwrap_or(0);
        stamp.max(number + 1).to_string()
    } else {
        format!("{:0width$}", number + 1, width = last.len())
    };
    format!("{version}_{name}.sql")
}

/// The next `VERSION_name.sql` of the folder `dir` (see [`next_version`]);
/// a missing folder is empty.
fn next_file(
    dir: &Path,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, PhaseError> {
    let names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(PhaseError::permanent(format!(
                "cannot read the migrations folder {}: {e}",
                dir.display()
            )))
        }
    };
    Ok(next_version(names.iter().map(String::as_str), name, now))
}

/// A file of `dir` that already holds the migration with this fingerprint.
fn proposed_in(dir: &Path, print: &str) -> Option<PathBuf> {
    let marker = format!("-- Fingerprint {print};");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .find(|p| std::fs::read_to_string(p).is_ok_and(|text| text.contains(&marker)))
}

/// Writes a new file, never over an existing one.
fn write_new(path: &Path, content: &str) -> Result<(), PhaseError> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            PhaseError::permanent(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| PhaseError::permanent(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(content.as_bytes())
        .map_err(|e| PhaseError::permanent(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::{next_file, next_version};

    fn folder(files: &[&str]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "opsroom-next-file-{}-{}",
            std::process::id(),
            files.join("+").len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), "select 1;").unwrap();
        }
        dir
    }

    #[test]
    fn the_next_version_follows_the_folder() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let missing = std::env::temp_dir().join("opsroom-next-file-missing");
        assert_eq!(next_file(&missing, "s", now).unwrap(), "0001_s.sql");
        let numbered = folder(&[
            "0001_init.sql",
            "0009_users.sql",
            "0010_orders.sql",
            "notes.md",
        ]);
        assert_eq!(next_file(&numbered, "s", now).unwrap(), "0011_s.sql");
        let stamped = folder(&["20250101120000_init.sql"]);
        assert_eq!(
            next_file(&stamped, "s", now).unwrap(),
            "20261201100000_s.sql"
        );
        let narrow = folder(&["1_a.sql", "2_b.sql"]);
        assert_eq!(next_file(&narrow, "s", now).unwrap(), "3_s.sql");
        for dir in [numbered, stamped, narrow] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn a_listing_numbers_the_next_file_as_a_folder_does() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(next_version([], "s", now), "0001_s.sql");
        assert_eq!(
            next_version(["0007_a.sql", "README.md", "0002_b.sql"], "s", now),
            "0008_s.sql"
        );
        assert_eq!(
            next_version(["20250101120000_init.sql"], "s", now),
            "20261201100000_s.sql"
        );
    }
}
