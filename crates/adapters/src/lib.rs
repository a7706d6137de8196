//! Adapters from opsroom to the systems it operates.
//!
//! Provider HTTP clients ([`vercel`], [`github`], [`digitalocean`], [`supabase`])
//! share one transport ([`http`]: base URL, bearer token, timeouts, retries
//! honouring `Retry-After`, [`ApiError`]). Local adapters run processes
//! ([`shell`], [`git`]) and talk to PostgreSQL ([`postgres`]). [`follow`] polls a
//! long-running operation until it settles, reporting each status change.
//! Each provider's deployment list is read into one shape,
//! [`LiveDeployment`]: what went live when, from which commit.
//!
//! Errors are typed per system ([`ApiError`], [`shell::ShellError`],
//! [`git::GitError`], [`postgres::PgError`], [`follow::FollowError`]); their
//! text names the operation and never contains a token or password.
//!
//! A deploy step, as the engine would run it (status changes arrive on the
//! channel and can be written as run events):
//!
//! ```no_run
//! use opsroom_adapters::follow::FollowOptions;
//! use opsroom_adapters::vercel::{CreateDeployment, GitSource, ReadyState, VercelClient, VercelConfig};
//! use opsroom_adapters::Secret;
//!
//! # async fn deploy() -> Result<(), Box<dyn std::error::Error>> {
//! let client = VercelClient::new(VercelConfig::new(Secret::new("token from the secret store")))?;
//! let started = client
//!     .create_deployment(&CreateDeployment {
//!         name: "web".into(),
//!         project: None,
//!         target: Some("production".into()),
//!         git_source: GitSource::GitHub {
//!             org: "acme".into(),
//!             repo: "web".into(),
//!             git_ref: "main".into(),
//!             sha: None,
//!         },
//!     })
//!     .await?;
//! let (events, mut received) = tokio::sync::mpsc::channel::<String>(64);
//! tokio::spawn(async move {
//!     while let Some(status) = received.recv().await {
//!         println!("{status}"); // e.g. "vercel deployment dpl_1: BUILDING"
//!     }
//! });
//! let done = client
//!     .follow_deployment(&started.id, &FollowOptions::default(), Some(&events))
//!     .await?;
//! assert_eq!(done.ready_state, ReadyState::Ready);
//! # Ok(())
//! # }
//! ```

pub mod deployments;
pub mod digitalocean;
pub mod follow;
pub mod git;
pub mod github;
pub mod http;
pub mod postgres;
pub mod secret;
pub mod shell;
pub mod supabase;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vercel;

pub use deployments::LiveDeployment;
pub use http::{ApiError, HttpOptions, RetryPolicy, Sleeper};
pub use secret::Secret;

/// Compile-time checks that the futures the engine spawns are `Send`.
#[cfg(test)]
#[allow(dead_code, clippy::extra_unused_type_parameters)]
mod send_checks {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    fn futures_are_send(
        db: &postgres::Postgres,
        vercel: &vercel::VercelClient,
        github: &github::GitHubClient,
        digitalocean: &digitalocean::DigitalOceanClient,
        supabase: &supabase::SupabaseClient,
        repo: &git::GitRepo,
        opts: &follow::FollowOptions,
    ) {
        assert_send(&db.apply_migrations("t", &[]));
        assert_send(&db.query_json("select 1"));
        assert_send(&db.health());
        assert_send(&shell::run(&shell::CommandSpec::new("true", [""; 0]), None));
        assert_send(&repo.push("origin", "main"));
        assert_send(&vercel.follow_deployment("d", opts, None));
        let (log, _) = tokio::sync::mpsc::channel(1);
        assert_send(&vercel.follow_deployment_with_build_log("d", opts, None, &log));
        assert_send(&vercel.wait_for_production("p", "d", opts, None));
        assert_send(&vercel.runtime_logs("p", "d", &vercel::RuntimeLogWindow::default()));
        assert_send(&github.follow_workflow_run(&github::RepoName::new("o", "r"), 1, opts, None));
        assert_send(&digitalocean.follow_deployment("a", "d", opts, None));
        assert_send(&digitalocean.list_all_deployments("a", 20, 5));
        assert_send(&digitalocean.rollback("a", "d", true));
        assert_send(&supabase.health("r", &[]));
    }
}
