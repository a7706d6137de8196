//! Client subcommands: they talk to a server over the HTTP API.

use crate::client::{CliError, CliResult};
use crate::follow::{follow, print_event, run_url};
use crate::term::{human_duration, paint, plural, run_duration, status_style};
use clap::Args;
use opsroom_core::RunStatus;
use opsroom_core::{RunId, Seq};
use opsroom_server::client::{ApiClient, RunAction};
use opsroom_server::views::{CreateRun, EventsQuery, RetryBody, RunView, RunsQuery};
use serde_json::{Map, Value};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to do, in plain words ("check prod status").
    pub text: Option<String>,
    /// Run this runbook instead of parsing text.
    #[arg(long)]
    pub runbook: Option<String>,
    /// Environment to run in (dev, staging, prod, …); with --runbook.
    #[arg(long)]
    pub env: Option<String>,
    /// Service or target within the environment; with --runbook.
    #[arg(long)]
    pub target: Option<String>,
    /// A runbook parameter, KEY=VALUE (VALUE is JSON if it parses as JSON).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Session to start the run in (see the Runboard).
    #[arg(long)]
    pub session: Option<i64>,
    /// Lane of the session, A to D: runs of one lane go one after another.
    #[arg(long, requires = "session")]
    pub lane: Option<String>,
    /// A key that makes a repeated request return the first run instead of a new one.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Stream the run's events and exit with its outcome (0 succeeded, 1 otherwise).
    #[arg(long, short)]
    pub follow: bool,
}

pub fn parse_params(raw: &[String]) -> CliResult<Map<String, Value>> {
    let mut out = Map::new();
    for p in raw {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| CliError::input(format!("--param `{p}` must look like KEY=VALUE")))?;
        if k.is_empty() {
            return Err(CliError::input(format!("--param `{p}` has an empty key")));
        }
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        out.insert(k.to_string(), value);
    }
    Ok(out)
}

pub async fn run(api: &ApiClient, args: RunArgs) -> CliResult<ExitCode> {
    match (&args.text, &args.runbook) {
        (Some(_), Some(_)) => {
            return Err(CliError::input("give either TEXT or --runbook, not both"))
        }
        (None, None) => {
            return Err(CliError::input(
                "say what to run: opsroom run \"check prod status\" (or --runbook NAME)",
            ))
        }
        _ => {}
    }
    let body = CreateRun {
        text: args.text,
        runbook: args.runbook,
        env: args.env,
        target: args.target,
        params: parse_params(&args.params)?,
        session_id: args.session,
        lane: args.lane,
        idempotency_key: args.idempotency_key,
        ..Default::default()
    };
    let (run, _) = api.create_run(&body).await?;
    let what = [
        Some(run.runbook.as_str()),
        run.env.as_deref(),
        run.target.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    anstream::eprintln!(
        "run {} ({what}) is {}: {}",
        run.id,
        paint(status_style(run.status), run.status.as_str()),
        run_url(api, run.id)
    );
    if !args.follow {
        println!("{}", run.id);
        return Ok(ExitCode::SUCCESS);
    }
    follow(api, run.id, Seq(0)).await
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The command, in plain words ("deploy web to staging").
    pub text: String,
    /// Print the parse as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn parse(api: &ApiClient, args: ParseArgs) -> CliResult<ExitCode> {
    let parsed = api.parse(&args.text).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&parsed).unwrap_or_default()
        );
        return Ok(if parsed.intent == "none" {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        });
    }
    let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    println!("intent      {}", parsed.intent);
    println!("env         {}", or_dash(&parsed.env));
    println!("target      {}", or_dash(&parsed.target));
    println!("confidence  {:.0} %", parsed.confidence * 100.0);
    if let Some(risk) = &parsed.risk {
        let approval = if parsed.needs_approval {
            ", needs approval"
        } else {
            ""
        };
        println!("risk        {risk}{approval}");
    }
    if !parsed.params.is_empty() {
        println!("params      {}", Value::Object(parsed.params.clone()));
    }
    if let Some(plan) = parsed.plan.as_array().filter(|p| !p.is_empty()) {
        println!("plan");
        for (i, phase) in plan.iter().enumerate() {
            println!("  {i} {}", phase["phase"].as_str().unwrap_or("?"));
            for step in phase["steps"].as_array().into_iter().flatten() {
                println!("      - {}", step.as_str().unwrap_or(""));
            }
        }
    }
    for q in &parsed.questions {
        println!("question    {q}");
    }
    for a in &parsed.alternatives {
        println!("did you mean {a}");
    }
    // Nothing matched is bad input to a script that goes on to `run` it.
    if parsed.intent == "none" {
        eprintln!("nothing to run: no runbook matches {:?}", args.text);
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs in this status (queued, running, awaiting_approval, succeeded, failed, cancelled, rejected).
    #[arg(long)]
    pub status: Option<String>,
    /// Only runs in this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// Only runs of this runbook.
    #[arg(long)]
    pub runbook: Option<String>,
    /// How many runs to list at most.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn runs(api: &ApiClient, args: RunsArgs) -> CliResult<ExitCode> {
    let runs = api
        .runs(&RunsQuery {
            status: args.status,
            env: args.env,
            runbook: args.runbook,
            limit: Some(args.limit.into()),
            ..Default::default()
        })
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    anstream::print!("{}", runs_table(&runs, chrono::Utc::now()));
    Ok(ExitCode::SUCCESS)
}

/// The runs as aligned columns; the widths follow the widest value, and
/// the status colour is painted after padding so escapes never shift a column.
fn runs_table(runs: &[RunView], now: chrono::DateTime<chrono::Utc>) -> String {
    let header = [
        "ID", "STATUS", "RUNBOOK", "ENV", "TARGET", "BY", "CREATED", "DURATION",
    ];
    let rows: Vec<[String; 8]> = runs
        .iter()
        .map(|r| {
            [
                r.id.to_string(),
                r.status.as_str().to_string(),
                r.runbook.clone(),
                r.env.clone().unwrap_or_else(|| "-".into()),
                r.target.clone().unwrap_or_else(|| "-".into()),
                r.created_by.clone(),
                r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                run_duration(r.started_at, r.finished_at, now)
                    .map(human_duration)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 8], status: Option<RunStatus>| {
        let mut out = format!("{:>w$}", cells[0], w = widths[0]);
        for (i, cell) in cells.iter().enumerate().skip(1) {
            let padded = format!("{cell:<w$}", w = widths[i]);
            out.push_str("  ");
            match (i, status) {
                (1, Some(s)) => out.push_str(&paint(status_style(s), &padded)),
                _ => out.push_str(&padded),
            }
        }
        out.truncate(out.trim_end().len());
        out + "\n"
    };
    let mut table = line(header, None);
    for (row, run) in rows.iter().zip(runs) {
        table += &line(row.each_ref().map(String::as_str), Some(run.status));
    }
    table
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run's id.
    pub id: i64,
    /// Keep streaming until the run ends; exit with its outcome.
    #[arg(long, short, conflicts_with = "raw")]
    pub follow: bool,
    /// Print the raw log as the server keeps it (UTC times, ANSI colours
    /// as the steps printed them): what the UI's Download gives.
    #[arg(long)]
    pub raw: bool,
}

pub async fn logs(api: &ApiClient, args: LogsArgs) -> CliResult<ExitCode> {
    if args.follow {
        return follow(api, RunId(args.id), Seq(0)).await;
    }
    if args.raw {
        print!("{}", api.raw_log(RunId(args.id)).await?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut after = Seq(0);
    loop {
        let events = api
            .events(
                RunId(args.id),
                &EventsQuery {
                    after: Some(after),
                    limit: Some(1000),
                },
            )
            .await?;
        for e in &events {
            print_event(e);
            after = e.seq;
        }
        if events.len() < 1000 {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run's id.
    pub id: i64,
    /// Why (kept in the run's events and the audit log).
    #[arg(long)]
    pub reason: Option<String>,
}

/// Cancels a run: a queued one at once, a running one at its next step
/// (so this says "cancel requested" until the worker stops it).
pub async fn cancel(api: &ApiClient, args: CancelArgs) -> CliResult<ExitCode> {
    let run = api
        .act(RunId(args.id), RunAction::Cancel, args.reason)
        .await?;
    if run.status.is_final() {
        anstream::println!(
            "run {}: {}",
            run.id,
            paint(status_style(run.status), run.status.as_str())
        );
    } else {
        println!(
            "run {}: cancel requested; it stops at its next step (follow it with `opsroom logs {} --follow`)",
            run.id, run.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The finished run to start again.
    pub id: i64,
    /// Change a param for the new run, KEY=VALUE (VALUE is JSON if it parses as JSON).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Follow the new run and exit with its outcome.
    #[arg(long, short)]
    pub follow: bool,
}

/// Starts a finished run again as a new run, as it was or with params changed.
pub async fn retry(api: &ApiClient, args: RetryArgs) -> CliResult<ExitCode> {
    let body = RetryBody {
        params: parse_params(&args.params)?,
    };
    let run = api.retry_with(RunId(args.id), &body).await?;
    anstream::eprintln!(
        "run {} retried as run {} ({}): {}",
        args.id,
        run.id,
        paint(status_style(run.status), run.status.as_str()),
        run_url(api, run.id)
    );
    if args.follow {
        return follow(api, run.id, Seq(0)).await;
    }
    println!("{}", run.id);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ArtifactsArgs {
    /// The run's id.
    pub id: i64,
    /// An artifact's name: print its content (or save it with --output).
    pub name: Option<String>,
    /// Save the artifact to this file instead of printing it; with NAME.
    #[arg(long, short, requires = "name", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// Lists a run's artifacts, or prints or saves one.
pub async fn artifacts(api: &ApiClient, args: ArtifactsArgs) -> CliResult<ExitCode> {
    let all = api.artifacts(RunId(args.id)).await?;
    let Some(name) = args.name else {
        if all.is_empty() {
            eprintln!("run {} has no artifacts", args.id);
        }
        let width = all.iter().map(|a| a.name.len()).max().unwrap_or(4).max(4);
        if !all.is_empty() {
            println!("{:<width$}  {:<8}  SIZE", "NAME", "KIND");
        }
        for a in &all {
            println!(
                "{:<width$}  {:<8}  {}",
                a.name,
                a.kind.as_str(),
                plural(a.content.len(), "byte")
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(artifact) = all.iter().find(|a| a.name == name) else {
        let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
        return Err(CliError::input(format!(
            "run {} has no artifact `{name}`; it has: {}",
            args.id,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    };
    match args.output {
        Some(path) => {
            std::fs::write(&path, &artifact.content)
                .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "saved {name} ({}) to {}",
                plural(artifact.content.len(), "byte"),
                path.display()
            );
        }
        None => {
            print!("{}", artifact.content);
            if !artifact.content.ends_with('\n') {
                println!();
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
