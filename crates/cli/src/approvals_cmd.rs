//! Two-person approvals and the audit log: `approve`, `reject`,
//! `approvals`, `audit export`.

use crate::client::{CliError, CliResult};
use clap::{Args, Subcommand};
use opsroom_core::RunId;
use opsroom_server::client::{ApiClient, RunAction};
use opsroom_server::views::AuditQuery;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// The run's id.
    pub id: i64,
    /// A comment kept with the run and shown with it.
    #[arg(long, visible_alias = "reason")]
    pub comment: Option<String>,
}

/// `opsroom approve ID` / `opsroom reject ID`.
pub async fn decide(api: &ApiClient, action: RunAction, args: DecisionArgs) -> CliResult<ExitCode> {
    let run = api.act(RunId(args.id), action, args.comment).await?;
    println!("run {}: {}", run.id, run.status);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// Print JSON (the runs, with their plans and approvals).
    #[arg(long)]
    pub json: bool,
}

/// `opsroom approvals`: what waits, oldest first, each with its plan.
pub async fn list(api: &ApiClient, args: ApprovalsArgs) -> CliResult<ExitCode> {
    let runs = api.approvals().await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("nothing waits for approval");
        return Ok(ExitCode::SUCCESS);
    }
    for r in &runs {
        let what = [
            Some(r.runbook.as_str()),
            r.env.as_deref(),
            r.target.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        let expires = r
            .approval
            .as_ref()
            .and_then(|a| a.expires_at)
            .map(|t| format!(", expires {}", t.format("%Y-%m-%dT%H:%M:%SZ")))
            .unwrap_or_default();
        println!(
            "run {} ({what}) requested by {} at {}{expires}",
            r.id,
            r.created_by,
            r.created_at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        if let Some(text) = &r.text {
            println!("  command: {text}");
        }
        for phase in r.plan.as_array().into_iter().flatten() {
            println!("  {}", phase["phase"].as_str().unwrap_or("?"));
            for step in phase["steps"].as_array().into_iter().flatten() {
                println!("    - {}", step.as_str().unwrap_or(""));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Export the audit log (oldest entry first) as JSON lines or CSV.
    Export(AuditExportArgs),
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Only entries at or after this time (RFC 3339, e.g. 2026-01-31T00:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// `jsonl` (one JSON object per line) or `csv`.
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
    pub format: String,
    /// Only entries with this action (e.g. run.approve).
    #[arg(long)]
    pub action: Option<String>,
    /// Only entries of this actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

/// `opsroom audit export`: streams the export to stdout or a file.
pub async fn audit(api: &ApiClient, args: AuditArgs) -> CliResult<ExitCode> {
    let AuditCommand::Export(args) = args.command;
    let since = args
        .since
        .as_deref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.to_utc())
                .map_err(|e| {
                    CliError::input(format!(
                        "--since `{s}` is not an RFC 3339 time such as 2026-01-31T00:00:00Z: {e}"
                    ))
                })
        })
        .transpose()?;
    let query = AuditQuery {
        since,
        format: Some(args.format),
        action: args.action,
        actor: args.actor,
    };
    let written = match &args.output {
        Some(path) => {
            // Written next to the target and renamed at the end: an export
            // that fails halfway leaves no partial file behind.
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp)
                .map_err(|e| CliError::input(format!("cannot create {}: {e}", tmp.display())))?;
            let mut out = std::io::BufWriter::new(file);
            let result = api.audit_export(&query, &mut out).await;
            let flushed = out.flush();
            match (result, flushed) {
                (Ok(n), Ok(())) => {
                    std::fs::rename(&tmp, path).map_err(|e| {
                        CliError::input(format!("cannot write {}: {e}", path.display()))
                    })?;
                    n
                }
                (Err(e), _) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.into());
                }
                (_, Err(e)) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(CliError::input(format!(
                        "cannot write {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        None => {
            let mut out = std::io::stdout();
            let n = api.audit_export(&query, &mut out).await?;
            let _ = out.flush();
            n
        }
    };
    if let Some(path) = &args.output {
        eprintln!("wrote {written} bytes to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
