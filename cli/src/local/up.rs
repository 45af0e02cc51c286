//! `deltaship local up`: the local stack as a server that stays up until interrupted, for the
//! AWS CLI, the SDKs, `sam local invoke` (containers on the local bridge) and pushes to talk to.
//!
//! It serves the repository's checked-out head: what its manifests name (cluster, services,
//! projects, repositories) and the pipeline state machine are created at start, with the SAM
//! template's event rules. The front listens on 127.0.0.1 and, so that containers reach it, on
//! the container bridge's address (`docker0`, when it exists), and nowhere else unless told
//! (`--listen`). It prints the endpoint and the environment to use it, then waits for Ctrl-C (or
//! SIGTERM) and stops moto and the front.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::stack::{ACCOUNT, REGION, Waits};
use super::{LocalError, LocalStack, StackOptions};
use crate::EXIT_OK;
use crate::output::{CliError, Format, write_report};

/// The container bridge `sam local invoke`'s containers are attached to (Docker's default).
pub const BRIDGE: &str = "docker0";

/// The dummy credentials the local stack takes (any would do: moto checks none).
const CREDENTIALS: &str = "deltaship-local";

/// `deltaship local up`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// The git repository (or any folder inside it) served as CodeCommit; its checked-out head's
    /// manifests name what the stack creates.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Listen on ADDRESS too, besides 127.0.0.1 (repeatable). Default: the address of the
    /// container bridge docker0, when there is one.
    #[arg(long, value_name = "ADDRESS")]
    pub listen: Vec<IpAddr>,
    /// Listen on 127.0.0.1 only.
    #[arg(long, conflicts_with = "listen")]
    pub loopback_only: bool,
    /// The port on every address (0: a free one).
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,
    /// Output format: text, or one JSON document {"endpoint", "endpoints", "region", "account",
    /// "environment", "variables", "state_machine_arn", "repository", "branch", "head"} once the
    /// stack is up.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The waits' fallback timeouts: `local` (the first after 1 s) or `deployed` (the template's).
    #[arg(long, value_enum, default_value_t = Waits::Local)]
    pub waits: Waits,
    /// Seconds a build takes.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub build_seconds: f64,
    /// Seconds a service deployment takes.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub rollout_seconds: f64,
    /// The moto_server program. Default: $DELTASHIP_MOTO_SERVER, else the project venv's
    /// (make venv), else moto_server on PATH.
    #[arg(long, value_name = "PATH")]
    pub moto_server: Option<PathBuf>,
}

/// What `deltaship local up` prints once the stack is up.
#[derive(Debug, Clone, Serialize)]
pub struct UpReport {
    /// The endpoint on 127.0.0.1.
    pub endpoint: String,
    /// Every endpoint: 127.0.0.1's first, then the bridge's (what containers use).
    pub endpoints: Vec<String>,
    /// The region every call must name.
    pub region: &'static str,
    /// The account of every ARN.
    pub account: &'static str,
    /// The environment that points the AWS CLI and the SDKs at the stack.
    pub environment: Vec<(String, String)>,
    /// The functions' environment, as the SAM template would set it for this stack.
    pub variables: Vec<(String, String)>,
    /// The pipeline state machine.
    pub state_machine_arn: String,
    /// The repository's CodeCommit name.
    pub repository: String,
    /// The branch checked out, which the stack deploys.
    pub branch: String,
    /// Its head.
    pub head: String,
}

/// Runs `deltaship local up` until interrupted: exit 0 once stopped; an error for bad input or a
/// stack that could not start.
pub fn up(args: &UpArgs) -> Result<ExitCode, CliError> {
    for (flag, seconds) in [("--build-seconds", args.build_seconds), ("--rollout-seconds", args.rollout_seconds)] {
        if !(seconds.is_finite() && (0.0..=600.0).contains(&seconds)) {
            return Err(CliError::bad_input(format!("{flag} {seconds}: give a number of seconds from 0 to 600")));
        }
    }
    let listen = if args.loopback_only || !args.listen.is_empty() { args.listen.clone() } else { bridge_addresses() };
    let options = StackOptions {
        repo: args.repo.clone(),
        moto_server: args.moto_server.clone(),
        build_seconds: args.build_seconds,
        rollout_seconds: args.rollout_seconds,
        waits: args.waits,
        listen,
        port: args.port,
    };
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let mut stack = LocalStack::start(&options).await?;
        let ready = async {
            let (branch, head) = stack.prepare_head().await?;
            Ok::<_, LocalError>(report(&stack, branch, head.to_string()))
        };
        let report = match ready.await {
            Ok(report) => report,
            Err(error) => {
                let _ = stack.stop().await;
                return Err(error.into());
            }
        };
        write_report(args.format, "the endpoint", &report, |out| write_text(&report, out))?;
        let stopped = stop_signal().await;
        eprintln!("deltaship local up: stopping ({stopped})");
        stack.stop().await?;
        eprintln!("deltaship local up: stopped");
        Ok::<_, CliError>(())
    })?;
    Ok(ExitCode::from(EXIT_OK))
}

/// The IPv4 addresses of the container bridge, if it exists.
fn bridge_addresses() -> Vec<IpAddr> {
    let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
    interfaces
        .into_iter()
        .filter(|interface| interface.name == BRIDGE && interface.ip().is_ipv4())
        .map(|i| i.ip())
        .collect()
}

fn report(stack: &LocalStack, branch: String, head: String) -> UpReport {
    let url = |address: &SocketAddr| format!("http://{address}");
    let endpoint = url(&stack.endpoint);
    UpReport {
        environment: [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", CREDENTIALS),
            ("AWS_SECRET_ACCESS_KEY", CREDENTIALS),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect(),
        endpoints: stack.endpoints.iter().map(url).collect(),
        endpoint,
        region: REGION,
        account: ACCOUNT,
        variables: stack.variables.0.iter().map(|(name, value)| (name.clone(), value.clone())).collect(),
        state_machine_arn: stack.state_machine_arn.clone(),
        repository: stack.repository.name.clone(),
        branch,
        head,
    }
}

fn write_text(report: &UpReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "deltaship local up: the local stack serves {}@{} ({})",
        report.repository,
        report.branch,
        deltaship_core::commit::short(&report.head)
    )?;
    writeln!(out, "  endpoint        {}", report.endpoint)?;
    for other in report.endpoints.iter().skip(1) {
        writeln!(out, "  also            {other} (for containers on the bridge)")?;
    }
    writeln!(out, "  state machine   {}", report.state_machine_arn)?;
    writeln!(out, "\nIn another shell:")?;
    let exports: Vec<String> = report.environment.iter().map(|(name, value)| format!("{name}={value}")).collect();
    writeln!(out, "  export {}", exports.join(" "))?;
    writeln!(out, "  aws stepfunctions list-state-machines")?;
    writeln!(out, "\nCtrl-C stops it.")
}

/// Waits for Ctrl-C or SIGTERM; which one came.
async fn stop_signal() -> &'static str {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        Some(()) = async { match terminate.as_mut() { Some(signal) => signal.recv().await, None => std::future::pending().await } } => "terminated",
    }
}
