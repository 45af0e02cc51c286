//! `deltaship`: see what a push will deploy (`deltaship plan`), run it through the whole
//! pipeline on this machine (`deltaship local run`), and what it costs (`deltaship cost`).
//!
//! This file holds the arguments and the dispatch; each command ends through
//! [`deltaship::output`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use deltaship::EXIT_OK;
use deltaship::approvals::Decision;
use deltaship::output::{self, CliError, Format, write_report};
use deltaship::plan::{PlanRequest, plan};
use deltaship::{cost, local};

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
        /// The branch pushed to (deltaship.toml `branches` decides whether it deploys).
        /// Default: the branch HEAD names, when it names one.
        #[arg(long, value_name = "BRANCH")]
        branch: Option<String>,
        /// Output format: text, or one JSON document {"decision", "reason", "branch", "base",
        /// "head", "first_push", "changed_paths", "services": [{"name", "reasons", ...}],
        /// "removed"}.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Propose the service roots and a service.toml for each deployable folder (a Dockerfile, a
    /// buildspec) of an existing repository; write them with --write (never over a file).
    ///
    /// Exit status: 0, 1 when a file could not be written, 2 for bad input.
    Init(deltaship::init::InitArgs),
    /// Validate the manifests and deltaship.toml at a revision, show what triggers each service
    /// and which paths no service owns, and report conflicts.
    ///
    /// Exit status: 0 when nothing is wrong, 1 on problems, 2 for bad input.
    Check(deltaship::check::CheckArgs),
    /// Run pushes through the whole pipeline locally, on moto and deltaship's own handlers.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// What a push costs to orchestrate (Step Functions, Lambda, DynamoDB, EventBridge) beside
    /// CodePipeline V2, walked from the state machine with the Lambdas' wait policy, events
    /// flowing or lost.
    Cost(cost::CostArgs),
    /// Per service and environment: the revision, image and commit running, the current service
    /// deployment and its state, the pushes waiting for an approval, and the service's last
    /// execution, with console links; against the stack's outputs (--stack, --region) or a
    /// `deltaship local up` (--endpoint-url, or AWS_ENDPOINT_URL).
    ///
    /// Exit status: 0, 1 when an AWS call failed, 2 for bad input (no such stack, a bad
    /// repository, revision or service).
    Status(deltaship::ops::status::StatusArgs),
    /// Approve a service's promotion into an environment: the push waiting at the gate (the
    /// newest, or --execution's) deploys there, recorded as approved by the caller's identity.
    ///
    /// Exit status: 0 approved, 1 when an AWS call failed, 2 when nothing waits there (or bad
    /// input).
    Approve(deltaship::ops::answer::AnswerArgs),
    /// Reject a service's promotion into an environment: the environment keeps its revision, the
    /// service's outcome is `rejected`, recorded with the caller's identity and --comment.
    ///
    /// Exit status: 0 rejected, 1 when an AWS call failed, 2 when nothing waits there (or bad
    /// input).
    Reject(deltaship::ops::answer::AnswerArgs),
    /// Deploy the image an earlier push (--commit) built, to roll a service back or forward: a
    /// one-service execution with no build, judged and rolled back like any other; into one
    /// --environment (no approval), or every environment in order.
    ///
    /// Exit status: 0 started (with --wait: deployed), 1 when it failed or an AWS call failed, 2
    /// for bad input (no revision was deployed for the commit, an unknown service or environment).
    Redeploy(deltaship::ops::redeploy::RedeployArgs),
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Start the local stack, run one push (BASE..HEAD) through detect-changes and the pipeline
    /// state machine, print the execution, and stop the stack.
    ///
    /// Exit status: 0 when the execution succeeded or nothing was to deploy, 1 when it failed,
    /// 2 for bad input.
    Run(local::RunArgs),
    /// Start the local stack and keep it up until interrupted (Ctrl-C), serving the repository's
    /// checked-out head: print its endpoint and the environment for the AWS CLI, the SDKs and
    /// `sam local invoke` (it listens on 127.0.0.1 and the container bridge docker0).
    ///
    /// Exit status: 0 once stopped, 1 if the stack could not start, 2 for bad input.
    Up(local::UpArgs),
    /// Send one push (BASE..HEAD) to a running `deltaship local up` and follow it as `local run`
    /// does: the same report, the same exit status (0 succeeded or nothing to deploy, 1 failed,
    /// 2 bad input). The stack is the one AWS_ENDPOINT_URL (or --endpoint-url) names.
    Push(local::PushArgs),
}

fn main() -> ExitCode {
    output::exit(match Cli::parse().command {
        Command::Plan { repo, base, head, branch, format } => {
            plan_command(&PlanRequest { repo, base, head, branch }, format)
        }
        Command::Local { command: LocalCommand::Run(args) } => local::command::run(args),
        Command::Local { command: LocalCommand::Up(args) } => local::up::up(&args),
        Command::Local { command: LocalCommand::Push(args) } => local::push::push(&args),
        Command::Check(args) => deltaship::check::run(&args),
        Command::Init(args) => deltaship::init::run(&args),
        Command::Cost(args) => cost::run(&args),
        Command::Status(args) => deltaship::ops::status::run(&args),
        Command::Approve(args) => deltaship::ops::answer::answer(&args, Decision::Approve),
        Command::Reject(args) => deltaship::ops::answer::answer(&args, Decision::Reject),
        Command::Redeploy(args) => deltaship::ops::redeploy::redeploy(&args),
    })
}

fn plan_command(request: &PlanRequest, format: Format) -> Result<ExitCode, CliError> {
    let report = plan(request)?;
    let decision = report.decision();
    write_report(format, "the plan", &report.to_json(&decision), |mut out| report.write_text(&decision, &mut out))?;
    Ok(ExitCode::from(EXIT_OK))
}
