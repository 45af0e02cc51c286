//! `deltaship`: see what a push will deploy (`deltaship plan`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use deltaship::plan::{PlanRequest, plan};
use deltaship::{EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK};

/// deltaship builds and rolls out only the services a push changed.
#[derive(Parser)]
#[command(name = "deltaship", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show which services a push from BASE to HEAD deploys, and the changed paths behind each.
    Plan {
        /// The git repository (or any folder inside it).
        #[arg(long, value_name = "DIR", default_value = ".")]
        repo: PathBuf,
        /// The commit before the push. Leave out to plan a branch's first push
        /// (`first_push` in deltaship.toml decides).
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        /// The pushed commit.
        #[arg(long, value_name = "REV", default_value = "HEAD")]
        head: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// What a push costs to orchestrate (Step Functions, Lambda) beside CodePipeline V2, walked
    /// from the state machine with the Lambdas' wait policy.
    Cost(deltaship::cost::CostArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// One JSON document: {"base", "head", "services": [{"name", "reasons"}], "removed"}.
    Json,
}

fn main() -> ExitCode {
    let (repo, base, head, format) = match Cli::parse().command {
        Command::Plan { repo, base, head, format } => (repo, base, head, format),
        Command::Cost(args) => return deltaship::cost::run(&args),
    };
    let report = match plan(&PlanRequest { repo, base, head }) {
        Ok(report) => report,
        Err(error) => {
            for line in error.to_string().lines() {
                eprintln!("deltaship: {line}");
            }
            return ExitCode::from(if error.is_bad_input() { EXIT_BAD_INPUT } else { EXIT_FAILURE });
        }
    };
    if let Some(note) = report.branch_note() {
        eprintln!("deltaship: {note}");
    }
    let plan = report.plan();
    let mut out = io::stdout().lock();
    let written = match format {
        Format::Text => report.write_text(&plan, &mut out),
        Format::Json => serde_json::to_writer_pretty(&mut out, &report.to_json(&plan))
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::from(EXIT_OK),
        // The reader went away (`deltaship plan | head`): not an error worth reporting.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_OK),
        Err(error) => {
            eprintln!("deltaship: could not write the plan: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
