//! A program as a deploy provider: run with the ref, env and target filled
//! into its arguments, its output streamed as run events. opsroom's own
//! record of the runs that deployed is the history.

use super::{Backend, DeployProvider, Deployment};
use crate::pipeline::{PhaseError, RunContext};
use opsroom_adapters::shell::{self, CommandSpec, OutputLine, ShellError};
use std::time::Duration;
use tokio::sync::mpsc;

/// The program an env deploys with.
pub(super) struct ShellDeploy {
    pub(super) argv: Vec<String>,
    /// Its environment: the configured variables and the secrets named in
    /// `secret_env`.
    pub(super) env: Vec<(String, String)>,
    pub(super) cwd: Option<String>,
    pub(super) default_ref: String,
    pub(super) url: Option<String>,
    pub(super) timeout: Duration,
}

#[async_trait::async_trait]
impl Backend for ShellDeploy {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn default_ref(&self) -> String {
        self.default_ref.clone()
    }

    /// Runs the program for `git_ref` (the default ref when `None`); the
    /// deployment is named after the run.
    async fn deploy(
        &self,
        p: &DeployProvider,
        ctx: &mut RunContext,
        git_ref: Option<&str>,
    ) -> Result<Deployment, PhaseError> {
        let git_ref = git_ref.unwrap_or(&self.default_ref);
        let fill = |s: &str| {
            s.replace("{ref}", git_ref)
                .replace("{env}", &p.env)
                .replace("{target}", p.target.as_deref().unwrap_or(""))
        };
        let mut spec =
            CommandSpec::new(fill(&self.argv[0]), self.argv[1..].iter().map(|a| fill(a)))
                .timeout(self.timeout)
                .clean_env();
        spec.env.clone_from(&self.env);
        spec.env.push(("OPSROOM_ENV".into(), p.env.clone()));
        spec.env.push(("OPSROOM_REF".into(), git_ref.to_string()));
        if let Some(dir) = &self.cwd {
            spec = spec.cwd(dir);
        }
        let (tx, mut rx) = mpsc::channel::<OutputLine>(256);
        let result = p
            .streamed(ctx, &mut rx, shell::run_checked(&spec, Some(&tx)), |l| {
                l.line.clone()
            })
            .await;
        result.map_err(|e| match e {
            ShellError::TimedOut { .. } => PhaseError::permanent(format!(
                "{e} (raise timeout_ms in the env's deploy table if deploys take longer)"
            )),
            other => PhaseError::permanent(other.to_string()),
        })?;
        Ok(Deployment {
            id: format!("run-{}", ctx.run().id),
            url: self.url.as_ref().map(|u| fill(u)),
            git_ref: Some(git_ref.to_string()),
            commit: super::looks_like_commit(git_ref).then(|| git_ref.to_string()),
        })
    }
}
