//! The git adapter against local repositories (a bare remote in a temp dir).

use std::path::Path;
use std::time::Duration;

use opsroom_adapters::git::{GitAuthor, GitError, GitFile, GitOptions, GitRepo};
use opsroom_adapters::shell::{run_checked, CommandSpec};

fn author() -> GitAuthor {
    GitAuthor {
        name: "Ops Bot".to_owned(),
        email: "ops-bot@example.com".to_owned(),
    }
}

fn options() -> GitOptions {
    GitOptions {
        timeout: Duration::from_secs(60),
        ..GitOptions::default()
    }
}

/// Reads from a repository with plain git, independently of the adapter.
async fn git_out(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["-C".to_owned(), dir.display().to_string()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    run_checked(&CommandSpec::new("git", all), None)
        .await
        .unwrap()
        .stdout
        .trim()
        .to_owned()
}

/// A bare remote whose `main` has one commit with a README.
async fn remote_with_main(root: &Path) -> GitRepo {
    let remote = GitRepo::init(&root.join("remote.git"), true, "main", options())
        .await
        .unwrap();
    let seed = GitRepo::init(&root.join("seed"), false, "main", options())
        .await
        .unwrap();
    seed.commit_files(
        &[GitFile::text("README.md", "# web\n")],
        "Initial commit",
        &author(),
    )
    .await
    .unwrap();
    seed.add_remote("origin", &remote.dir().display().to_string())
        .await
        .unwrap();
    seed.push("origin", "main").await.unwrap();
    remote
}

#[tokio::test]
async fn clone_branch_commit_and_push_over_file_url() {
    let root = opsroom_adapters::testing::temp_dir("git-flow");
    let remote = remote_with_main(&root).await;
    let url = format!("file://{}", remote.dir().display());
    let work = GitRepo::clone_from(&url, &root.join("work"), None, options())
        .await
        .unwrap();
    assert_eq!(work.current_branch().await.unwrap(), "main");
    let main_head = work.head().await.unwrap().unwrap();

    work.create_branch("spec/user-auth", Some("main"))
        .await
        .unwrap();
    assert_eq!(work.current_branch().await.unwrap(), "spec/user-auth");
    let files = [
        GitFile::text("specs/user-auth/prd.md", "# PRD\n"),
        GitFile::text("specs/user-auth/plan.md", "# Plan\n"),
    ];
    let sha = work
        .commit_files(&files, "Add spec for user auth", &author())
        .await
        .unwrap();
    assert_ne!(sha, main_head);
    work.push("origin", "spec/user-auth").await.unwrap();

    let bare = remote.dir();
    assert_eq!(
        git_out(bare, &["rev-parse", "refs/heads/spec/user-auth"]).await,
        sha
    );
    assert_eq!(
        git_out(
            bare,
            &[
                "log",
                "-1",
                "--format=%an <%ae> | %cn <%ce> | %s",
                "spec/user-auth"
            ]
        )
        .await,
        "Ops Bot <ops-bot@example.com> | Ops Bot <ops-bot@example.com> | Add spec for user auth"
    );
    assert_eq!(
        git_out(bare, &["show", "spec/user-auth:specs/user-auth/plan.md"]).await,
        "# Plan"
    );
    assert_eq!(
        git_out(bare, &["rev-parse", "refs/heads/main"]).await,
        main_head,
        "main is untouched"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn clone_a_branch_and_open_an_existing_repository() {
    let root = opsroom_adapters::testing::temp_dir("git-open");
    let remote = remote_with_main(&root).await;
    let path = remote.dir().display().to_string();
    let work = GitRepo::clone_from(&path, &root.join("work"), Some("main"), options())
        .await
        .unwrap();
    let reopened = GitRepo::open(work.dir(), options()).await.unwrap();
    assert_eq!(reopened.head().await.unwrap(), work.head().await.unwrap());
    let err = GitRepo::open(&root.join("nowhere"), options())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GitError::Command { action: "open", .. }),
        "{err:?}"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn empty_repository_has_no_head() {
    let root = opsroom_adapters::testing::temp_dir("git-empty");
    let repo = GitRepo::init(&root.join("r"), false, "main", options())
        .await
        .unwrap();
    assert_eq!(repo.head().await.unwrap(), None);
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn unsafe_input_is_refused_before_running_git() {
    let root = opsroom_adapters::testing::temp_dir("git-input");
    let repo = GitRepo::init(&root.join("r"), false, "main", options())
        .await
        .unwrap();
    for bad in ["bad..name", "-delete", "with space", ""] {
        let err = repo.create_branch(bad, None).await.unwrap_err();
        assert!(matches!(err, GitError::InvalidInput(_)), "{bad}: {err:?}");
    }
    let err = repo
        .write_files(&[GitFile::text("../escape.txt", "x")])
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::InvalidInput(_)), "{err:?}");
    assert!(!root.join("escape.txt").exists());
    let err = repo
        .write_files(&[GitFile::text(".git/config", "x")])
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::InvalidInput(_)), "{err:?}");
    let err = GitRepo::clone_from(
        "--upload-pack=touch /tmp/pwned",
        &root.join("c"),
        None,
        options(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, GitError::InvalidInput(_)), "{err:?}");
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn failed_push_names_the_action_and_git_message() {
    let root = opsroom_adapters::testing::temp_dir("git-push");
    let repo = GitRepo::init(&root.join("r"), false, "main", options())
        .await
        .unwrap();
    repo.commit_files(&[GitFile::text("a.txt", "a")], "a", &author())
        .await
        .unwrap();
    repo.add_remote("origin", &root.join("missing.git").display().to_string())
        .await
        .unwrap();
    let err = repo.push("origin", "main").await.unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("git push failed"), "{text}");
    assert!(
        text.contains("does not appear to be a git repository"),
        "{text}"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn nothing_to_commit_is_an_error() {
    let root = opsroom_adapters::testing::temp_dir("git-nothing");
    let repo = GitRepo::init(&root.join("r"), false, "main", options())
        .await
        .unwrap();
    repo.commit_files(&[GitFile::text("a.txt", "same")], "first", &author())
        .await
        .unwrap();
    let err = repo
        .commit_files(&[GitFile::text("a.txt", "same")], "again", &author())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GitError::Command {
                action: "commit",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("nothing to commit"), "{err}");
    std::fs::remove_dir_all(root).unwrap();
}

/// An ssh remote goes through `GIT_SSH_COMMAND`; a stand-in ssh program
/// records how git called it (no network is used) and refuses.
#[tokio::test]
async fn ssh_remotes_use_the_configured_ssh_command() {
    let root = opsroom_adapters::testing::temp_dir("git-ssh");
    let log = root.join("ssh-calls.log");
    let fake_ssh = root.join("fake-ssh");
    std::fs::write(
        &fake_ssh,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\necho 'Permission denied (publickey).' >&2\nexit 255\n",
            log.display()
        ),
    )
    .unwrap();
    run_checked(
        &CommandSpec::new("chmod", ["+x", &fake_ssh.display().to_string()]),
        None,
    )
    .await
    .unwrap();
    let opts = GitOptions {
        ssh_command: Some(fake_ssh.display().to_string()),
        ..options()
    };
    let err = GitRepo::clone_from(
        "ssh://git@git.example.invalid/acme/web.git",
        &root.join("w"),
        None,
        opts,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("Permission denied (publickey)"),
        "{err}"
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("git@git.example.invalid"), "{calls}");
    assert!(calls.contains("git-upload-pack '/acme/web.git'"), "{calls}");
    std::fs::remove_dir_all(root).unwrap();
}
