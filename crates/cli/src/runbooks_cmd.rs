//! `opsroom runbooks check DIR`: validates custom runbook files without a
//! server, the way `serve` and `worker` load them at startup.

use crate::client::CliResult;
use clap::{Args, Subcommand};
use opsroom_core::Catalog;
use opsroom_engine::runbook_files::{catalog_from_dir, load_runbooks_dir};
use opsroom_engine::OpsConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RunbooksArgs {
    #[command(subcommand)]
    pub command: RunbooksCommand,
}

#[derive(Debug, Subcommand)]
pub enum RunbooksCommand {
    /// Check every *.toml runbook file of a folder: prints each runbook OK or
    /// each error as FILE:LINE: message; exits 0 when all are good, 2 otherwise.
    Check {
        /// The folder of runbook files (opsroom.toml's `runbooks_dir`).
        dir: PathBuf,
    },
}

/// Runs a `runbooks` subcommand.
pub fn run(args: RunbooksArgs) -> CliResult<ExitCode> {
    match args.command {
        RunbooksCommand::Check { dir } => Ok(check(&dir)),
    }
}

fn check(dir: &Path) -> ExitCode {
    let (specs, errors) = load_runbooks_dir(dir);
    for spec in &specs {
        let steps: usize = spec.phases.iter().map(Vec::len).sum();
        println!(
            "OK {} ({} risk, {} trigger{}, {steps} step{})",
            spec.name,
            match spec.risk {
                opsroom_core::Risk::Read => "read",
                opsroom_core::Risk::Write => "write",
            },
            spec.triggers.len(),
            plural(spec.triggers.len()),
            plural(steps),
        );
    }
    for error in &errors {
        println!("{error}");
    }
    if specs.is_empty() && errors.is_empty() {
        println!(
            "{}: no runbook files (*.toml) found; give the folder that holds them",
            dir.display()
        );
        return ExitCode::from(2);
    }
    println!(
        "{} runbook{} OK, {} error{}",
        specs.len(),
        plural(specs.len()),
        errors.len(),
        plural(errors.len())
    );
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The catalog a server or worker runs with: the built-ins plus the custom
/// runbooks of the config's `runbooks_dir` (already resolved against the
/// config file's folder). Each bad file is a warning; the others still load.
pub fn startup_catalog(config: &OpsConfig) -> Catalog {
    let Some(dir) = &config.runbooks_dir else {
        return Catalog::builtin();
    };
    let (catalog, errors) = catalog_from_dir(Path::new(dir));
    for error in &errors {
        tracing::warn!("custom runbook not loaded: {error}");
    }
    let custom: Vec<&str> = catalog
        .iter()
        .filter(|r| r.custom)
        .map(|r| r.name.as_str())
        .collect();
    tracing::info!(
        dir = %dir,
        loaded = custom.len(),
        failed = errors.len(),
        "custom runbooks: {}",
        if custom.is_empty() {
            "none".to_string()
        } else {
            custom.join(", ")
        }
    );
    catalog
}

/// Makes a relative `runbooks_dir` relative to the config file's folder.
pub fn resolve_runbooks_dir(config: &mut OpsConfig, config_path: &Path) {
    if let Some(dir) = &config.runbooks_dir {
        let path = Path::new(dir);
        if path.is_relative() {
            let base = config_path.parent().unwrap_or(Path::new(""));
            config.runbooks_dir = Some(base.join(path).display().to_string());
        }
    }
}
