//! `opsroom secrets`: set, list and delete secrets through the API (values
//! read from stdin, never from the command line), print a new master key,
//! and rotate the master key against the database.

use crate::client::{CliError, CliResult};
use crate::local::DbArgs;
use clap::{Args, Subcommand};
use opsroom_auth::MasterKey;
use opsroom_engine::stored_secrets::{context, KEY_HELP};
use opsroom_server::client::ApiClient;
use opsroom_store::{SecretName, SecretReseal, SecretsResealParams};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Set a secret; its value is read from stdin (a final newline is dropped).
    Set {
        /// 1 to 100 of A-Z a-z 0-9 _ . -
        name: String,
    },
    /// List the secrets (names and when they changed; never values).
    List,
    /// Delete a secret.
    Delete {
        /// The secret's name.
        name: String,
    },
    /// Print a new random master key (for OPSROOM_SECRET_KEY or its file).
    NewKey,
    /// Re-seal every stored secret under a new master key, in one
    /// transaction. The old key comes from OPSROOM_SECRET_KEY or
    /// OPSROOM_SECRET_KEY_FILE; the new one from --new-key-file or stdin.
    RotateKey {
        /// A file holding the new key (default: read it from stdin).
        #[arg(long)]
        new_key_file: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs a `secrets` subcommand; `api` connects to the server when needed.
pub async fn run(
    args: SecretsArgs,
    api: impl FnOnce() -> CliResult<ApiClient>,
) -> CliResult<ExitCode> {
    match args.command {
        SecretsCommand::Set { name } => {
            check_name(&name)?;
            let value = read_stdin("the secret's value")?;
            let (meta, created) = api()?.secret_set(&name, &value).await?;
            let done = if created { "created" } else { "updated" };
            println!(
                "secret {} {done} at {}",
                meta.name,
                meta.updated_at.to_rfc3339()
            );
        }
        SecretsCommand::List => {
            for s in api()?.secrets().await? {
                println!(
                    "{}\tupdated {} by {}",
                    s.name,
                    s.updated_at.to_rfc3339(),
                    s.updated_by
                );
            }
        }
        SecretsCommand::Delete { name } => {
            check_name(&name)?;
            api()?.secret_delete(&name).await?;
            println!("secret {name} deleted");
        }
        SecretsCommand::NewKey => {
            let (_, text) = MasterKey::generate();
            println!("{text}");
        }
        SecretsCommand::RotateKey { new_key_file, db } => {
            return rotate(new_key_file, db).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_name(name: &str) -> CliResult<()> {
    SecretName::parse(name)
        .map(drop)
        .map_err(|e| CliError::input(e.to_string()))
}

pub(crate) fn read_stdin(what: &str) -> CliResult<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::input(format!("cannot read {what} from stdin: {e}")))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text)
        .to_string();
    if text.is_empty() {
        return Err(CliError::input(format!(
            "{what} is empty: pipe it on stdin"
        )));
    }
    Ok(text)
}

/// The master key of this process, from `OPSROOM_SECRET_KEY` (the key) or
/// `OPSROOM_SECRET_KEY_FILE` (a file holding it); `None` when neither is
/// set. A key that cannot be read stops the caller, saying why.
pub fn master_key_from_env() -> CliResult<Option<MasterKey>> {
    let text = match (
        std::env::var("OPSROOM_SECRET_KEY")
            .ok()
            .filter(|v| !v.is_empty()),
        std::env::var_os("OPSROOM_SECRET_KEY_FILE").filter(|v| !v.is_empty()),
    ) {
        (Some(_), Some(_)) => {
            return Err(CliError::input(
                "both OPSROOM_SECRET_KEY and OPSROOM_SECRET_KEY_FILE are set: set only one",
            ))
        }
        (Some(text), None) => text,
        (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
            CliError::input(format!(
                "cannot read OPSROOM_SECRET_KEY_FILE {}: {e}",
                PathBuf::from(&path).display()
            ))
        })?,
        (None, None) => return Ok(None),
    };
    MasterKey::parse(&text)
        .map(Some)
        .map_err(|e| CliError::input(format!("bad master key: {e}")))
}

async fn rotate(new_key_file: Option<PathBuf>, db: DbArgs) -> CliResult<ExitCode> {
    let old = master_key_from_env()?
        .ok_or_else(|| CliError::input(format!("rotate-key needs the current key: {KEY_HELP}")))?;
    let new_text = match &new_key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            CliError::input(format!(
                "cannot read --new-key-file {}: {e}",
                path.display()
            ))
        })?,
        None => read_stdin("the new key")?,
    };
    let new =
        MasterKey::parse(&new_text).map_err(|e| CliError::input(format!("bad new key: {e}")))?;
    let store = crate::local::open_store(&db.database_url).await?;
    let stored = store
        .secrets_sealed_all()
        .await
        .map_err(|e| CliError::server(format!("reading secrets: {e}")))?;
    // Every secret is opened before anything is written: one that does not
    // open with the old key aborts the rotation with nothing changed.
    let mut reseals = Vec::new();
    for s in &stored {
        let m = &s.meta;
        if m.key_id == new.id() {
            continue;
        }
        let ctx = context(&m.workspace_id, &m.name);
        let plain = old.open(&ctx, &s.sealed).map_err(|e| {
            CliError::input(format!(
                "secret {} of workspace {} does not open with the current key ({e}); nothing was changed",
                m.name, m.workspace_id
            ))
        })?;
        reseals.push(SecretReseal {
            workspace_id: m.workspace_id.clone(),
            name: m.name.clone(),
            old_sealed: s.sealed.clone(),
            sealed: new.seal(&ctx, &plain),
            key_id: new.id().to_string(),
        });
    }
    let count = store
        .secrets_reseal(SecretsResealParams {
            reseals,
            actor: "opsroom secrets rotate-key".into(),
            now: chrono::Utc::now(),
        })
        .await
        .map_err(|e| CliError::server(format!("re-sealing secrets: {e}")))?;
    println!(
        "re-sealed {count} secret{} with key {}; now set OPSROOM_SECRET_KEY (or _FILE) to the new key everywhere",
        if count == 1 { "" } else { "s" },
        new.id()
    );
    Ok(ExitCode::SUCCESS)
}
