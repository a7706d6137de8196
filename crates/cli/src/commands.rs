//! Client subcommands: they talk to a server over the HTTP API.

use crate::client::{Api, CliError, CliResult};
use crate::follow::{follow, print_event};
use clap::Args;
use reqwest::Method;
use serde_json::{json, Map, Value};
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

pub async fn run(api: &Api, args: RunArgs) -> CliResult<ExitCode> {
    let mut body = Map::new();
    match (&args.text, &args.runbook) {
        (Some(t), None) => {
            body.insert("text".into(), json!(t));
        }
        (None, Some(r)) => {
            body.insert("runbook".into(), json!(r));
        }
        (Some(_), Some(_)) => {
            return Err(CliError::input("give either TEXT or --runbook, not both"))
        }
        (None, None) => {
            return Err(CliError::input(
                "say what to run: opsroom run \"check prod status\" (or --runbook NAME)",
            ))
        }
    }
    for (key, value) in [
        ("env", &args.env),
        ("target", &args.target),
        ("lane", &args.lane),
        ("idempotency_key", &args.idempotency_key),
    ] {
        if let Some(v) = value {
            body.insert(key.into(), json!(v));
        }
    }
    if let Some(s) = args.session {
        body.insert("session_id".into(), json!(s));
    }
    let params = parse_params(&args.params)?;
    if !params.is_empty() {
        body.insert("params".into(), Value::Object(params));
    }
    let run: Value = api
        .call(Method::POST, "/api/v1/runs", Some(&Value::Object(body)))
        .await?;
    let id = run["id"].as_i64().unwrap_or_default();
    let what = [
        run["runbook"].as_str(),
        run["env"].as_str(),
        run["target"].as_str(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    eprintln!(
        "run {id} ({what}) is {}",
        run["status"].as_str().unwrap_or("?")
    );
    if !args.follow {
        println!("{id}");
        return Ok(ExitCode::SUCCESS);
    }
    follow(api, id, 0).await
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    pub text: String,
    /// Print the parse as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn parse(api: &Api, args: ParseArgs) -> CliResult<ExitCode> {
    let parsed: Value = api
        .call(
            Method::POST,
            "/api/v1/parse",
            Some(&json!({"text": args.text})),
        )
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&parsed).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let s = |k: &str| parsed[k].as_str().unwrap_or("-").to_string();
    println!("intent      {}", s("intent"));
    println!("env         {}", s("env"));
    println!("target      {}", s("target"));
    println!(
        "confidence  {:.0} %",
        parsed["confidence"].as_f64().unwrap_or(0.0) * 100.0
    );
    if let Some(risk) = parsed["risk"].as_str() {
        let approval = if parsed["needs_approval"].as_bool() == Some(true) {
            ", needs approval"
        } else {
            ""
        };
        println!("risk        {risk}{approval}");
    }
    if let Some(params) = parsed["params"].as_object().filter(|p| !p.is_empty()) {
        println!("params      {}", Value::Object(params.clone()));
    }
    if let Some(plan) = parsed["plan"].as_array().filter(|p| !p.is_empty()) {
        println!("plan");
        for (i, phase) in plan.iter().enumerate() {
            println!("  {i} {}", phase["phase"].as_str().unwrap_or("?"));
            for step in phase["steps"].as_array().into_iter().flatten() {
                println!("      - {}", step.as_str().unwrap_or(""));
            }
        }
    }
    for q in parsed["questions"].as_array().into_iter().flatten() {
        println!("question    {}", q.as_str().unwrap_or(""));
    }
    for a in parsed["alternatives"].as_array().into_iter().flatten() {
        println!("did you mean {}", a.as_str().unwrap_or(""));
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

pub async fn runs(api: &Api, args: RunsArgs) -> CliResult<ExitCode> {
    let mut query = vec![format!("limit={}", args.limit)];
    for (k, v) in [
        ("status", &args.status),
        ("env", &args.env),
        ("runbook", &args.runbook),
    ] {
        if let Some(v) = v {
            query.push(format!("{k}={}", urlencode(v)));
        }
    }
    let runs: Vec<Value> = api
        .call(
            Method::GET,
            &format!("/api/v1/runs?{}", query.join("&")),
            None,
        )
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
            r["id"],
            r["status"].as_str().unwrap_or("?"),
            r["runbook"].as_str().unwrap_or("?"),
            r["env"].as_str().unwrap_or("-"),
            r["target"].as_str().unwrap_or("-"),
            r["created_at"]
                .as_str()
                .map(|t| t.get(..19).unwrap_or(t))
                .unwrap_or("?"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub id: i64,
    /// Keep streaming until the run ends; exit with its outcome.
    #[arg(long, short)]
    pub follow: bool,
}

pub async fn logs(api: &Api, args: LogsArgs) -> CliResult<ExitCode> {
    if args.follow {
        return follow(api, args.id, 0).await;
    }
    let mut after = 0;
    loop {
        let events: Vec<Value> = api
            .call(
                Method::GET,
                &format!("/api/v1/runs/{}/events?after={after}&limit=1000", args.id),
                None,
            )
            .await?;
        for e in &events {
            print_event(e);
            after = e["seq"].as_i64().unwrap_or(after);
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

pub async fn action(api: &Api, action: &str, args: ActionArgs) -> CliResult<ExitCode> {
    let body = match (&args.reason, action) {
        (Some(r), "cancel" | "approve" | "reject") => Some(json!({"reason": r})),
        (Some(_), _) => return Err(CliError::input(format!("{action} takes no --reason"))),
        (None, _) => None,
    };
    let run: Value = api
        .call(
            Method::POST,
            &format!("/api/v1/runs/{}/{action}", args.id),
            body.as_ref(),
        )
        .await?;
    match action {
        "retry" => println!(
            "run {} retried as run {} ({})",
            args.id,
            run["id"],
            run["status"].as_str().unwrap_or("?")
        ),
        _ => println!(
            "run {}: {}",
            run["id"],
            run["status"].as_str().unwrap_or("?")
        ),
    }
    Ok(ExitCode::SUCCESS)
}
