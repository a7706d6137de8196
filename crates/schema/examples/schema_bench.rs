//! Times `opsroom-schema` on two databases: introspect both at once (as the
//! CLI and the runbook do), then diff.
//! `cargo run --release -p opsroom-schema --example schema_bench -- CURRENT_URL DESIRED_URL [ROUNDS]`
//! (bench/schema_bench.sh builds a 2,000-table pair and runs it beside migra).

use opsroom_schema::{connect, diff, introspect};
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(current_url), Some(desired_url)) = (args.first(), args.get(1)) else {
        eprintln!("usage: schema_bench CURRENT_URL DESIRED_URL [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut best = f64::MAX;
    for round in 1..=rounds {
        let started = Instant::now();
        // Both databases are read at once, as `opsroom schema diff` and the
        // schema_sync runbook read them.
        let read = |url: String| async move {
            let mut conn = connect(&url).await.expect("connect");
            introspect(&mut conn).await.expect("introspect")
        };
        let (current, desired) = tokio::join!(read(current_url.clone()), read(desired_url.clone()));
        let introspected = started.elapsed().as_secs_f64();
        let migration = diff(&current, &desired);
        let sql = migration.to_string();
        let total = started.elapsed().as_secs_f64();
        best = best.min(total);
        println!(
            "round {round}: connect+introspect both at once {:.3} s ({} tables, {} indexes each), diff {:.3} s, total {:.3} s; {} statements, {} bytes of SQL",
            introspected,
            current.tables.len(),
            current.indexes.len(),
            total - introspected,
            total,
            migration.statements.len(),
            sql.len()
        );
    }
    println!("best total: {best:.3} s");
}
