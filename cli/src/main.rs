//! `deltaship`: see what a push will deploy (`deltaship plan`), and run it through the whole
//! pipeline on this machine (`deltaship local run`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use deltaship::local;
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
    /// Run pushes through the whole pipeline locally, on moto and deltaship's own handlers.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// What a push costs to orchestrate (Step Functions, Lambda) beside CodePipeline V2, walked
    /// from the state machine with the Lambdas' wait policy.
    Cost(deltaship::cost::CostArgs),
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Start the local stack, run one push (BASE..HEAD) through detect-changes and the pipeline
    /// state machine, print the execution, and stop the stack.
    ///
    /// Exit status: 0 when the execution succeeded or nothing was to deploy, 1 when it failed,
    /// 2 for bad input.
    Run {
        /// The git repository (or any folder inside it); it plays the CodeCommit repository.
        #[arg(long, value_name = "DIR", default_value = ".")]
        repo: PathBuf,
        /// The commit before the push. Default: HEAD's first parent (a first push if it has none).
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        /// The pushed commit; the branch is the one it names, else the one checked out.
        #[arg(long, value_name = "REV", default_value = "HEAD")]
        head: String,
        /// Output format: text (progress on stderr, the execution on stdout) or one JSON document
        /// {"execution", "status", "services": [{"name", "outcome", "task_definition", "image"}]}.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Make SERVICE's build fail, as CodeBuild reports a failed buildspec command (repeatable).
        #[arg(long, value_name = "SERVICE")]
        fail_build: Vec<String>,
        /// Make SERVICE's rollout fail, as the ECS deployment circuit breaker reports it
        /// (repeatable); the rollback that follows succeeds.
        #[arg(long, value_name = "SERVICE")]
        fail_rollout: Vec<String>,
        /// The state machine definition to run instead of the built-in pipeline.asl.json.
        #[arg(long, value_name = "FILE")]
        state_machine: Option<PathBuf>,
        /// The moto_server program. Default: $DELTASHIP_MOTO_SERVER, else the project venv's
        /// (make venv), else moto_server on PATH.
        #[arg(long, value_name = "PATH")]
        moto_server: Option<PathBuf>,
        /// Seconds each build takes on the local stack.
        #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
        build_seconds: f64,
        /// Seconds each rollout takes on the local stack.
        #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
        rollout_seconds: f64,
        /// Seconds the execution may take before it is stopped.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        timeout: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// One JSON document: {"base", "head", "services": [{"name", "reasons"}], "removed"}.
    Json,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Plan { repo, base, head, format } => plan_command(&PlanRequest { repo, base, head }, format),
        Command::Local { command } => local_command(command),
        Command::Cost(args) => deltaship::cost::run(&args),
    }
}

fn plan_command(request: &PlanRequest, format: Format) -> ExitCode {
    let report = match plan(request) {
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

fn local_command(command: LocalCommand) -> ExitCode {
    let LocalCommand::Run {
        repo,
        base,
        head,
        format,
        fail_build,
        fail_rollout,
        state_machine,
        moto_server,
        build_seconds,
        rollout_seconds,
        timeout,
    } = command;
    let fail = |error: &dyn std::fmt::Display, bad_input: bool| {
        for line in error.to_string().lines() {
            eprintln!("deltaship: {line}");
        }
        ExitCode::from(if bad_input { EXIT_BAD_INPUT } else { EXIT_FAILURE })
    };
    let definition = match state_machine.as_deref().map(std::fs::read_to_string).transpose() {
        Ok(definition) => definition,
        Err(error) => {
            let path = state_machine.unwrap_or_default();
            return fail(&format!("--state-machine {}: {error}", path.display()), true);
        }
    };
    for (flag, seconds) in [("--build-seconds", build_seconds), ("--rollout-seconds", rollout_seconds)] {
        if !(seconds.is_finite() && (0.0..=600.0).contains(&seconds)) {
            return fail(&format!("{flag} {seconds}: give a number of seconds from 0 to 600"), true);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("could not start the async runtime: {error}"), false),
    };
    let options = local::StackOptions { repo, moto_server, build_seconds, rollout_seconds };
    let request = local::RunRequest {
        base,
        head,
        fail_build,
        fail_rollout,
        definition,
        timeout: std::time::Duration::from_secs(timeout),
    };
    let text = matches!(format, Format::Text);
    let outcome = runtime.block_on(async {
        if text {
            eprintln!("deltaship: starting the local stack (moto and the front on 127.0.0.1)");
        }
        let mut stack = local::LocalStack::start(&options).await?;
        if text {
            eprintln!(
                "deltaship: moto ({}) on {}, the front on {}",
                stack.moto_server.display(),
                stack.moto,
                stack.endpoint
            );
        }
        let mut show = |progress: &local::Progress| {
            if text {
                eprintln!("{}", local::report::progress_line(progress));
            }
        };
        let result = tokio::select! {
            result = stack.run(&request, &mut show) => result,
            _ = tokio::signal::ctrl_c() => Err(local::LocalError::Stack("interrupted".to_owned())),
        };
        let stopped = stack.stop().await;
        let report = result?;
        stopped?;
        Ok::<_, local::LocalError>(report)
    });
    let report = match outcome {
        Ok(report) => report,
        Err(error) => return fail(&error, error.is_bad_input()),
    };
    let mut out = io::stdout().lock();
    let written = match format {
        Format::Text => local::report::write_text(&report, &mut out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report).map_err(io::Error::from).and_then(|()| writeln!(out))
        }
    };
    if let Err(error) = written.and_then(|()| out.flush())
        && error.kind() != io::ErrorKind::BrokenPipe
    {
        return fail(&format!("could not write the report: {error}"), false);
    }
    ExitCode::from(if report.status == local::RunStatus::Failed { EXIT_FAILURE } else { EXIT_OK })
}
