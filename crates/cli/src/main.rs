//! `opsroom`: the server, workers and the command-line client.

mod approvals_cmd;
mod client;
mod commands;
mod follow;
mod identity_cmd;
mod local;
mod patterns_cmd;
mod runbooks_cmd;
mod schedules_cmd;
mod schema_cmd;
mod secrets_cmd;
mod term;

use clap::{Parser, Subcommand};
use opsroom_server::client::RunAction;
use std::process::ExitCode;

/// Exit codes: 0 success, 1 the run did not succeed, 2 bad input or a
/// refused request, 3 the server could not be reached or failed.
#[derive(Debug, Parser)]
#[command(
    name = "opsroom",
    version,
    about = "Ops control room: type what you want, see the plan, run it, watch it live."
)]
struct Cli {
    /// Server to talk to.
    #[arg(
        long,
        global = true,
        env = "OPSROOM_SERVER",
        default_value = "http://127.0.0.1:7300"
    )]
    server: String,
    /// API token (one made by `opsroom tokens create`, or the server's OPSROOM_ADMIN_TOKEN).
    #[arg(long, global = true, env = "OPSROOM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (API, UI, live streams) with workers inside.
    Serve(local::ServeArgs),
    /// Run workers in this process against the server's database.
    Worker(local::WorkerArgs),
    /// Apply database migrations and exit; on PostgreSQL, optionally create
    /// a restricted role to serve as (no SUPERUSER, no BYPASSRLS).
    Migrate(local::MigrateArgs),
    /// Start a run from a command ("check prod status") or a runbook.
    Run(commands::RunArgs),
    /// Show how a command is understood and the plan it becomes.
    Parse(commands::ParseArgs),
    /// List runs, newest first.
    Runs(commands::RunsArgs),
    /// Print a run's events; --follow streams them live.
    Logs(commands::LogsArgs),
    /// Cancel a run (a running one stops at its next step).
    Cancel(commands::CancelArgs),
    /// Start a finished run again as a new run.
    Retry(commands::RetryArgs),
    /// List a run's artifacts, or print or save one.
    Artifacts(commands::ArtifactsArgs),
    /// Approve a run that waits for approval (someone else requested it).
    Approve(approvals_cmd::DecisionArgs),
    /// Reject a run that waits for approval.
    Reject(approvals_cmd::DecisionArgs),
    /// List the runs waiting for approval, with their plans.
    Approvals(approvals_cmd::ApprovalsArgs),
    /// The audit log: `audit export [--since T] [--format jsonl|csv] [-o FILE]`.
    Audit(approvals_cmd::AuditArgs),
    /// Custom runbook files: `runbooks check DIR` validates them offline.
    Runbooks(runbooks_cmd::RunbooksArgs),
    /// Group log lines into patterns (templates with values as <*>), offline.
    Patterns(patterns_cmd::PatternsArgs),
    /// Users: add (password on stdin with --password-stdin).
    Users(identity_cmd::UsersArgs),
    /// Workspaces: create.
    Workspaces(identity_cmd::WorkspacesArgs),
    /// Members: set a user's role in a workspace.
    Members(identity_cmd::MembersArgs),
    /// API tokens: create (printed once), revoke.
    Tokens(identity_cmd::TokensArgs),
    /// Who the token acts as: user, workspace, role.
    Whoami,
    /// PostgreSQL schemas, offline: `schema diff CURRENT DESIRED` prints the
    /// migration SQL, `schema erd URL` the entity-relationship diagram.
    Schema(schema_cmd::SchemaArgs),
    /// Secrets: set (value on stdin), list, delete; new-key and rotate-key.
    Secrets(secrets_cmd::SecretsArgs),
    /// Cron schedules that enqueue runs: add, list, pause, resume, rm.
    Schedules(schedules_cmd::SchedulesArgs),
    /// Measure enqueue and end-to-end rates, SSE latency and memory on each store.
    #[cfg(feature = "bench")]
    Bench(opsroom_bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result = runtime.block_on(async move {
        let api = || client::connect(&cli.server, cli.token.clone());
        match cli.command {
            Command::Serve(args) => local::serve(args).await,
            Command::Worker(args) => local::worker(args).await,
            Command::Migrate(args) => local::migrate(args).await,
            Command::Run(args) => commands::run(&api()?, args).await,
            Command::Parse(args) => commands::parse(&api()?, args).await,
            Command::Runs(args) => commands::runs(&api()?, args).await,
            Command::Logs(args) => commands::logs(&api()?, args).await,
            Command::Cancel(args) => commands::cancel(&api()?, args).await,
            Command::Retry(args) => commands::retry(&api()?, args).await,
            Command::Artifacts(args) => commands::artifacts(&api()?, args).await,
            Command::Approve(args) => {
                approvals_cmd::decide(&api()?, RunAction::Approve, args).await
            }
            Command::Reject(args) => approvals_cmd::decide(&api()?, RunAction::Reject, args).await,
            Command::Approvals(args) => approvals_cmd::list(&api()?, args).await,
            Command::Audit(args) => approvals_cmd::audit(&api()?, args).await,
            Command::Runbooks(args) => runbooks_cmd::run(args),
            Command::Patterns(args) => patterns_cmd::run(args),
            Command::Schema(args) => schema_cmd::run(args).await,
            Command::Secrets(args) => secrets_cmd::run(args, api).await,
            Command::Schedules(args) => schedules_cmd::run(&api()?, args).await,
            Command::Users(args) => identity_cmd::users(&api()?, args).await,
            Command::Workspaces(args) => identity_cmd::workspaces(&api()?, args).await,
            Command::Members(args) => identity_cmd::members(&api()?, args).await,
            Command::Tokens(args) => identity_cmd::tokens(&api()?, args).await,
            Command::Whoami => identity_cmd::whoami(&api()?).await,
            #[cfg(feature = "bench")]
            Command::Bench(args) => bench(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.exit_code)
        }
    }
}

/// `opsroom bench`: bad arguments exit 2, a failed measurement 3.
#[cfg(feature = "bench")]
async fn bench(args: opsroom_bench::BenchArgs) -> client::CliResult<ExitCode> {
    use opsroom_bench::BenchError;
    match opsroom_bench::bench(args).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(BenchError::Input(m)) => Err(client::CliError::input(m)),
        Err(BenchError::Server(m)) => Err(client::CliError::server(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand, argument and flag says what it is for in `--help`.
    #[test]
    fn every_command_and_flag_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(format!("{here} (the command)"));
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "opsroom", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }
}
