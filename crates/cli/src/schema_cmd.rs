//! `opsroom schema diff CURRENT_URL DESIRED_URL` and `opsroom schema erd
//! URL`: straight to the databases, no server involved. A bad URL or a
//! database that refuses us exits 2, one that cannot be reached exits 3;
//! messages never repeat a URL (it may hold a password).

use crate::client::{CliError, CliResult};
use clap::{Args, Subcommand, ValueEnum};
use opsroom_schema::{connect, diff, erd, introspect, IntrospectError, Schema};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub command: SchemaCommand,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print the SQL that, applied to CURRENT in one transaction, makes its
    /// schema equal DESIRED's (migra's argument order). Risky statements are
    /// preceded by `-- hazard: KIND: explanation`; equal schemas print nothing.
    Diff {
        /// The database to change (postgres://…).
        current: String,
        /// The database whose schema is wanted (postgres://…).
        desired: String,
    },
    /// Print the schema's entity-relationship diagram.
    Erd {
        /// The database (postgres://…).
        url: String,
        /// `mermaid` (erDiagram text) or `svg` (drawn by opsroom).
        #[arg(long, value_enum, default_value_t = ErdFormat::Mermaid)]
        format: ErdFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ErdFormat {
    /// Mermaid `erDiagram` text.
    Mermaid,
    /// An SVG image.
    Svg,
}

pub async fn run(args: SchemaArgs) -> CliResult<ExitCode> {
    let out = match args.command {
        SchemaCommand::Diff { current, desired } => {
            // Both databases are read at once, on two connections.
            let (current, desired) =
                tokio::try_join!(read("CURRENT", &current), read("DESIRED", &desired))?;
            diff(&current, &desired).to_string()
        }
        SchemaCommand::Erd { url, format } => {
            let schema = read("URL", &url).await?;
            match format {
                ErdFormat::Mermaid => erd::mermaid(&schema),
                ErdFormat::Svg => erd::svg(&schema),
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush());
    Ok(ExitCode::SUCCESS)
}

async fn read(which: &str, url: &str) -> CliResult<Schema> {
    let classify = |e: IntrospectError| match e {
        IntrospectError::InvalidUrl(_) | IntrospectError::Refused(_) => {
            CliError::input(format!("{which}: {e}"))
        }
        IntrospectError::Unreachable(_) | IntrospectError::Query { .. } => {
            CliError::server(format!("{which}: {e}"))
        }
    };
    let mut conn = connect(url).await.map_err(classify)?;
    introspect(&mut conn).await.map_err(classify)
}
