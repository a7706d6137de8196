//! People, workspaces, roles and tokens through the API: `opsroom users
//! add`, `opsroom workspaces create`, `opsroom members set`, `opsroom
//! tokens create|revoke`, `opsroom whoami`. A password is read from stdin,
//! never from the command line.

use crate::client::CliResult;
use crate::secrets_cmd::read_stdin;
use clap::{Args, Subcommand};
use opsroom_server::client::ApiClient;
use opsroom_server::views::CreateToken;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user (admin). With --password-stdin, the password for
    /// signing in to the UI is read from stdin.
    Add {
        /// The user's name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// Read a password for UI sign-in from stdin (never on the command line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Args)]
pub struct WorkspacesArgs {
    #[command(subcommand)]
    pub command: WorkspacesCommand,
}

#[derive(Debug, Subcommand)]
pub enum WorkspacesCommand {
    /// Create a workspace (admin).
    Create {
        /// The new workspace's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct MembersArgs {
    #[command(subcommand)]
    pub command: MembersCommand,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Give a user a role in a workspace: viewer, operator, approver or admin.
    Set {
        /// The workspace (`default` always exists).
        workspace: String,
        /// The user's name.
        user: String,
        /// viewer, operator, approver or admin.
        role: String,
    },
}

#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub command: TokensCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token and print it (shown this once).
    Create {
        /// Whose token (default: yours; someone else's needs admin).
        #[arg(long)]
        user: Option<String>,
        /// Where it acts (default: your workspace).
        #[arg(long)]
        workspace: Option<String>,
        /// Seconds until it expires (default: never).
        #[arg(long)]
        expires_in: Option<i64>,
        /// A label, e.g. what uses it.
        #[arg(long)]
        name: Option<String>,
    },
    /// Revoke a token at once.
    Revoke {
        /// The token's id, as `tokens create` printed it.
        id: i64,
    },
}

pub async fn users(api: &ApiClient, args: UsersArgs) -> CliResult<ExitCode> {
    match args.command {
        UsersCommand::Add {
            name,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_stdin("the password")?)
            } else {
                None
            };
            let user = api.user_create(&name, password.as_deref()).await?;
            let how = if user.has_password {
                "can sign in with the password"
            } else {
                "uses API tokens only"
            };
            println!("user {} created ({how})", user.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn workspaces(api: &ApiClient, args: WorkspacesArgs) -> CliResult<ExitCode> {
    match args.command {
        WorkspacesCommand::Create { name } => {
            let ws = api.workspace_create(&name).await?;
            println!("workspace {} created", ws.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn members(api: &ApiClient, args: MembersArgs) -> CliResult<ExitCode> {
    match args.command {
        MembersCommand::Set {
            workspace,
            user,
            role,
        } => {
            let m = api.member_set(&workspace, &user, &role).await?;
            match m.previous_role {
                Some(before) => println!(
                    "{} is now {} in {} (was {before})",
                    m.user, m.role, m.workspace
                ),
                None => println!("{} is now {} in {}", m.user, m.role, m.workspace),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn tokens(api: &ApiClient, args: TokensArgs) -> CliResult<ExitCode> {
    match args.command {
        TokensCommand::Create {
            user,
            workspace,
            expires_in,
            name,
        } => {
            let created = api
                .token_create(&CreateToken {
                    user,
                    workspace,
                    expires_in_s: expires_in,
                    name,
                })
                .await?;
            // The token alone on stdout (for scripts); what it is on stderr.
            eprintln!(
                "token {} for {} in {}{} (shown this once; keep it safe)",
                created.id,
                created.user,
                created.workspace,
                created
                    .expires_at
                    .map(|e| format!(", expires {}", e.to_rfc3339()))
                    .unwrap_or_default()
            );
            println!("{}", created.token);
        }
        TokensCommand::Revoke { id } => {
            api.token_revoke(id).await?;
            println!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn whoami(api: &ApiClient) -> CliResult<ExitCode> {
    let me = api.me().await?;
    println!("{} in {} ({})", me.user, me.workspace, me.role);
    Ok(ExitCode::SUCCESS)
}
