//! `opsroom schedules`: add, list, pause, resume and remove cron schedules
//! through the API.

use crate::client::CliResult;
use clap::{Args, Subcommand};
use opsroom_server::client::ApiClient;
use opsroom_server::views::{CreateSchedule, ScheduleView};
use serde_json::Value;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SchedulesArgs {
    #[command(subcommand)]
    pub command: SchedulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Add a schedule: `schedules add "*/5 * * * *" "check prod status"`,
    /// or `--runbook NAME --env ENV` instead of the command text.
    Add {
        /// Five fields (minute hour day month weekday), or six with seconds first.
        cron: String,
        /// The command each fire runs (or give --runbook).
        text: Option<String>,
        /// IANA time zone of the expression (default UTC).
        #[arg(long, short = 'z')]
        timezone: Option<String>,
        /// Run this runbook on each fire instead of the command text.
        #[arg(long)]
        runbook: Option<String>,
        /// Environment of the runbook's runs; with --runbook.
        #[arg(long)]
        env: Option<String>,
        /// Service or target within the environment; with --runbook.
        #[arg(long)]
        target: Option<String>,
        /// A runbook param, `name=value` (value read as JSON when it parses).
        #[arg(long = "param", short = 'p')]
        params: Vec<String>,
        /// Print the schedule as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the schedules with their next fires and skipped fires.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause a schedule.
    Pause {
        /// The schedule's id.
        id: i64,
    },
    /// Resume a paused schedule.
    Resume {
        /// The schedule's id.
        id: i64,
    },
    /// Remove a schedule (its runs stay).
    Rm {
        /// The schedule's id.
        id: i64,
    },
}

/// Runs a `schedules` subcommand.
pub async fn run(api: &ApiClient, args: SchedulesArgs) -> CliResult<ExitCode> {
    match args.command {
        SchedulesCommand::Add {
            cron,
            text,
            timezone,
            runbook,
            env,
            target,
            params,
            json,
        } => {
            let body = CreateSchedule {
                cron,
                timezone,
                text,
                runbook,
                env,
                target,
                params: crate::commands::parse_params(&params)?,
            };
            let s = api.schedule_create(&body).await?;
            if json {
                print_json(&s);
            } else {
                println!("schedule {} added", s.id);
                print_schedule(&s);
            }
        }
        SchedulesCommand::List { json } => {
            let all = api.schedules().await?;
            if json {
                print_json(&all);
            } else if all.is_empty() {
                println!("no schedules");
            } else {
                for s in &all {
                    print_schedule(s);
                }
            }
        }
        SchedulesCommand::Pause { id } => {
            api.schedule_set_paused(id, true).await?;
            println!("schedule {id} paused");
        }
        SchedulesCommand::Resume { id } => {
            let s = api.schedule_set_paused(id, false).await?;
            println!("schedule {id} resumed");
            print_schedule(&s);
        }
        SchedulesCommand::Rm { id } => {
            api.schedule_delete(id).await?;
            println!("schedule {id} removed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn print_schedule(s: &ScheduleView) {
    let what = match s.request.get("text").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => s.request.to_string(),
    };
    let state = if s.paused { "paused" } else { "active" };
    println!("{}\t{}\t{}\t{state}\t{what}", s.id, s.cron, s.timezone);
    for t in &s.next_runs {
        println!("  next\t{}", t.to_rfc3339());
    }
    if s.skipped_count > 0 {
        println!("  skipped\t{} fire(s) found too late", s.skipped_count);
        for k in &s.skipped {
            println!(
                "  skipped\t{} from {} to {}",
                k.count,
                k.first.to_rfc3339(),
                k.last.to_rfc3339()
            );
        }
    }
    if let Some(e) = &s.last_error {
        println!("  last error\t{e}");
    }
}
