//! `deltaship local run` as a command: its arguments, checked, then the local stack started, one
//! push run with its progress on stderr, the stack stopped, and the report printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::deployments::{Fault, Strategy};
use super::stack::Waits;
use super::{LocalError, LocalStack, Progress, RunRequest, RunStatus, StackOptions, report};
use crate::output::{CliError, Format, write_report};
use crate::{EXIT_FAILURE, EXIT_OK};

/// `deltaship local run`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The git repository (or any folder inside it); it plays the CodeCommit repository.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The commit before the push. Default: HEAD's first parent (a first push if it has none).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// The pushed commit; the branch is the one it names, else the one checked out.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub head: String,
    /// Output format: text (progress on stderr, the execution on stdout) or one JSON document
    /// {"execution", "executions", "status", "duration_seconds", "history_events", "aws_calls",
    /// "services": [{"name", "outcome", "task_definition", "image", "error", "strategy",
    /// "deployment", "rolled_back_by", "build_seconds", "rollout_seconds", "environments":
    /// [{"name", "outcome", "image", ...}]}]}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Make SERVICE's build fail, as CodeBuild reports a failed buildspec command (repeatable).
    #[arg(long, value_name = "SERVICE")]
    pub fail_build: Vec<String>,
    /// Make SERVICE's rollout fail, and how: the ECS deployment circuit breaker (the default),
    /// a CloudWatch alarm during bake time, or a lifecycle hook (repeatable); ECS rolls it back.
    #[arg(long, value_name = "SERVICE[=circuit-breaker|alarm|hook]", value_parser = parse_fault)]
    pub fail_rollout: Vec<(String, Fault)>,
    /// Deploy SERVICE with this ECS deployment strategy (repeatable; default ROLLING), progressing
    /// as ECS documents it: traffic shifts, canary and linear steps, bake time.
    #[arg(long, value_name = "SERVICE=ROLLING|BLUE_GREEN|LINEAR|CANARY", value_parser = parse_strategy)]
    pub strategy: Vec<(String, Strategy)>,
    /// Send no EventBridge events (builds' and deployments'): every wait then ends by its
    /// fallback timeout, as when AWS loses an event.
    #[arg(long)]
    pub drop_events: bool,
    /// The waits' fallback timeouts: `local` (the first after 1 s) or `deployed` (the template's
    /// defaults: a flat 600 s for builds and rollouts).
    #[arg(long, value_enum, default_value_t = Waits::Local)]
    pub waits: Waits,
    /// The state machine definition to run instead of the built-in pipeline.asl.json.
    #[arg(long, value_name = "FILE")]
    pub state_machine: Option<PathBuf>,
    /// The moto_server program. Default: $DELTASHIP_MOTO_SERVER, else the project venv's
    /// (make venv), else moto_server on PATH.
    #[arg(long, value_name = "PATH")]
    pub moto_server: Option<PathBuf>,
    /// Seconds each build takes on the local stack.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub build_seconds: f64,
    /// Seconds each rollout takes on the local stack.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub rollout_seconds: f64,
    /// Seconds the execution may take before it is stopped.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
    /// Approve SERVICE's promotion into ENV (every environment with an approval when no @ENV) as
    /// it reaches the gate (repeatable). A gate nobody answers waits: the command to answer it
    /// is printed.
    #[arg(long, value_name = "SERVICE[@ENV]")]
    pub approve: Vec<super::answers::GateRule>,
    /// Reject SERVICE's promotion into ENV (every environment with an approval when no @ENV):
    /// that environment keeps its revision, the outcome is `rejected` (repeatable).
    #[arg(long, value_name = "SERVICE[@ENV]")]
    pub reject: Vec<super::answers::GateRule>,
}

/// Runs `deltaship local run`: exit 0 when the execution succeeded or nothing was to deploy, 1
/// when it failed; an error for bad input or a stack that could not run it.
pub fn run(args: RunArgs) -> Result<ExitCode, CliError> {
    let RunArgs {
        repo,
        base,
        head,
        format,
        fail_build,
        fail_rollout,
        strategy,
        drop_events,
        waits,
        state_machine,
        moto_server,
        build_seconds,
        rollout_seconds,
        timeout,
        approve,
        reject,
    } = args;
    let gates = super::answers::GateRules { approve, reject };
    gates.check().map_err(CliError::bad_input)?;
    let definition = match state_machine.as_deref().map(std::fs::read_to_string).transpose() {
        Ok(definition) => definition,
        Err(error) => {
            let path = state_machine.unwrap_or_default();
            return Err(CliError::bad_input(format!("--state-machine {}: {error}", path.display())));
        }
    };
    for (flag, seconds) in [("--build-seconds", build_seconds), ("--rollout-seconds", rollout_seconds)] {
        if !(seconds.is_finite() && (0.0..=600.0).contains(&seconds)) {
            return Err(CliError::bad_input(format!("{flag} {seconds}: give a number of seconds from 0 to 600")));
        }
    }
    let runtime = crate::runtime()?;
    let options =
        StackOptions { repo, moto_server, build_seconds, rollout_seconds, waits, listen: Vec::new(), port: 0 };
    let request = RunRequest {
        base,
        head,
        fail_build,
        fail_rollout,
        strategies: strategy,
        drop_events,
        definition,
        timeout: Duration::from_secs(timeout),
        gates,
    };
    let text = format == Format::Text;
    let report = runtime.block_on(async {
        if text {
            eprintln!("deltaship: starting the local stack (moto and the front on 127.0.0.1)");
        }
        let mut stack = LocalStack::start(&options).await?;
        if text {
            eprintln!(
                "deltaship: moto ({}) on {}, the front on {}",
                stack.moto_server.display(),
                stack.moto,
                stack.endpoint
            );
        }
        let mut show = |progress: &Progress| {
            if text {
                eprintln!("{}", report::progress_line(progress));
            }
        };
        let result = tokio::select! {
            result = stack.run(&request, &mut show) => result,
            _ = tokio::signal::ctrl_c() => Err(LocalError::Stack("interrupted".to_owned())),
        };
        let stopped = stack.stop().await;
        let report = result?;
        stopped?;
        Ok::<_, LocalError>(report)
    })?;
    write_report(format, "the report", &report, |out| report::write_text(&report, out))?;
    Ok(ExitCode::from(if report.status == RunStatus::Failed { EXIT_FAILURE } else { EXIT_OK }))
}

/// `SERVICE[=circuit-breaker|alarm|hook]`.
fn parse_fault(text: &str) -> Result<(String, Fault), String> {
    let (service, fault) = text.split_once('=').unwrap_or((text, "circuit-breaker"));
    let fault = match fault {
        "circuit-breaker" => Fault::CircuitBreaker,
        "alarm" => Fault::Alarm,
        "hook" => Fault::Hook,
        other => return Err(format!("{other:?} is not a way to fail a rollout: circuit-breaker, alarm or hook")),
    };
    named(service).map(|service| (service, fault))
}

/// `SERVICE=ROLLING|BLUE_GREEN|LINEAR|CANARY`.
fn parse_strategy(text: &str) -> Result<(String, Strategy), String> {
    let (service, strategy) =
        text.split_once('=').ok_or_else(|| format!("{text:?}: give SERVICE=ROLLING|BLUE_GREEN|LINEAR|CANARY"))?;
    let strategy = match strategy.to_ascii_uppercase().as_str() {
        "ROLLING" => Strategy::Rolling,
        "BLUE_GREEN" => Strategy::BlueGreen,
        "LINEAR" => Strategy::Linear,
        "CANARY" => Strategy::Canary,
        _ => {
            return Err(format!(
                "{strategy:?} is not an ECS deployment strategy: ROLLING, BLUE_GREEN, LINEAR or CANARY"
            ));
        }
    };
    named(service).map(|service| (service, strategy))
}

fn named(service: &str) -> Result<String, String> {
    if service.trim().is_empty() { Err("name a service".to_owned()) } else { Ok(service.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_and_strategies_are_read_with_their_defaults() {
        assert_eq!(parse_fault("users"), Ok(("users".into(), Fault::CircuitBreaker)));
        assert_eq!(parse_fault("users=alarm"), Ok(("users".into(), Fault::Alarm)));
        assert_eq!(parse_fault("users=hook"), Ok(("users".into(), Fault::Hook)));
        assert!(parse_fault("users=fire").is_err_and(|error| error.contains("circuit-breaker, alarm or hook")));
        assert!(parse_fault("=alarm").is_err());
        assert_eq!(parse_strategy("users=canary"), Ok(("users".into(), Strategy::Canary)));
        assert_eq!(parse_strategy("users=BLUE_GREEN"), Ok(("users".into(), Strategy::BlueGreen)));
        assert!(parse_strategy("users").is_err_and(|error| error.contains("SERVICE=")));
        assert!(
            parse_strategy("users=FAST").is_err_and(|error| error.contains("ROLLING, BLUE_GREEN, LINEAR or CANARY"))
        );
    }
}
