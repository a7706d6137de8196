//! Client subcommands: they talk to a server over the HTTP API.

use crate::client::{CliError, CliResult};
use crate::follow::{follow, print_event};
use clap::Args;
use opsroom_core::{RunId, Seq};
use opsroom_server::client::{ApiClient, RunAction};
use opsroom_server::views::{CreateRun, EventsQuery, RunsQuery};
use serde_json::{Map, Value};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to do, in plain words ("check prod status").
    pub text: Option<String>,
    /// Run this runbook instead of parsing text.
    #[arg(long)]
    pub runbook: Option<String>,
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long)]
    pub target: Option<String>,
    /// A runbook parameter, KEY=VALUE (VALUE is JSON if it parses as JSON).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    #[arg(long)]
    pub session: Option<i64>,
    #[arg(long, requires = "session")]
    pub lane: Option<String>,
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Stream the run's events and exit with its outcome (0 succeeded, 1 otherwise).
    #[arg(long, short)]
    pub follow: bool,
}

fn parse_params(raw: &[String]) -> CliResult<Map<String, Value>> {
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
    eprintln!("run {} ({what}) is {}", run.id, run.status);
    if !args.follow {
        println!("{}", run.id);
        return Ok(ExitCode::SUCCESS);
    }
    follow(api, run.id, Seq(0)).await
}

#[derive(Debug, Args)]
pub struct ParseArgs {
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
        return Ok(ExitCode::SUCCESS);
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
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long)]
    pub runbook: Option<String>,
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
    println!(
        "{:>6}  {:<18}  {:<12}  {:<8}  {:<12}  {:<20}",
        "ID", "STATUS", "RUNBOOK", "ENV", "TARGET", "CREATED"
    );
    for r in &runs {
        println!(
            "{:>6}  {:<18}  {:<12}  {:<8}  {:<12}  {:<20}",
            r.id,
            r.status.as_str(),
            r.runbook,
            r.env.as_deref().unwrap_or("-"),
            r.target.as_deref().unwrap_or("-"),
            r.created_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub id: i64,
    /// Keep streaming until the run ends; exit with its outcome.
    #[arg(long, short)]
    pub follow: bool,
}

pub async fn logs(api: &ApiClient, args: LogsArgs) -> CliResult<ExitCode> {
    if args.follow {
        return follow(api, RunId(args.id), Seq(0)).await;
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
pub struct ActionArgs {
    pub id: i64,
    /// Why (kept in the run's events and the audit log).
    #[arg(long)]
    pub reason: Option<String>,
}

pub async fn action(api: &ApiClient, action: &str, args: ActionArgs) -> CliResult<ExitCode> {
    let act = match action {
        "cancel" => Some(RunAction::Cancel),
        _ => None,
    };
    let run = match (act, args.reason) {
        (Some(act), reason) => api.act(RunId(args.id), act, reason).await?,
        (None, Some(_)) => return Err(CliError::input(format!("{action} takes no --reason"))),
        (None, None) => api.retry(RunId(args.id)).await?,
    };
    match action {
        "retry" => println!("run {} retried as run {} ({})", args.id, run.id, run.status),
        _ => println!("run {}: {}", run.id, run.status),
    }
    Ok(ExitCode::SUCCESS)
}
