//! `deltaship local push`: one push sent to a running `deltaship local up` and followed exactly as
//! `deltaship local run` follows its own (the same report, the same exit codes), so that several
//! pushes run on one stack, its ledger and stored catalogs carried from one to the next.
//!
//! It asks the stack which repository it serves (`GET /deltaship/stack`), creates what the head
//! commit's manifests name that the stack lacks (a service added since), resets the front's
//! count of AWS calls, invokes detect-changes with the CodeCommit event AWS would send (Lambda's
//! `Invoke`, as EventBridge does), follows the executions, and reads the push's calls back
//! (`GET /deltaship/calls`). The CLI's own calls (preparing, following) are not counted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use deltaship_core::payloads::DetectOutput;
use deltaship_core::{Catalog, ErrorKind, Failure};
use serde_json::Value;

use super::answers::{Answers, GateRules};
use super::client::{StackInfo, get, request};
use super::follow::{Followed, RunReport, follow};
use super::front::{CALLS_PATH, STACK_PATH};
use super::run::push_event;
use super::stack::{PREFIX, state_machine_arn, watcher_config_at};
use super::{LocalError, Progress, RunStatus, report, seed};
use crate::git::GitRepo;
use crate::output::{CliError, Format, write_report};
use crate::{EXIT_FAILURE, EXIT_OK};

/// `deltaship local push`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct PushArgs {
    /// The git repository: the one `deltaship local up` serves (or any folder inside it).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The commit before the push. Default: HEAD's first parent (a first push if it has none).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// The pushed commit; the branch is the one it names, else the one checked out.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub head: String,
    /// Output format: as `deltaship local run`'s.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The stack's endpoint, as `deltaship local up` prints it. Default: $AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Seconds the execution may take before it is stopped.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
}

/// Runs `deltaship local push`: exit 0 when the execution succeeded or nothing was to deploy, 1
/// when it failed; 2 for bad input (no stack to send to, another repository, a revision).
pub fn push(args: &PushArgs) -> Result<ExitCode, CliError> {
    let endpoint = super::client::endpoint_from(args.endpoint_url.as_deref()).ok_or_else(|| {
        CliError::bad_input(
            "no stack to push to: start `deltaship local up` and export the AWS_ENDPOINT_URL it prints, or give \
                 --endpoint-url",
        )
    })?;
    if !endpoint.starts_with("http://") {
        return Err(CliError::bad_input(format!(
            "--endpoint-url {endpoint}: give the http:// URL `deltaship local up` prints"
        )));
    }
    let runtime = crate::runtime()?;
    let text = args.format == Format::Text;
    let report = runtime.block_on(async {
        let mut show = |progress: &Progress| {
            if text {
                eprintln!("{}", report::progress_line(progress));
            }
        };
        tokio::select! {
            result = send(args, &endpoint, &mut show) => result,
            _ = tokio::signal::ctrl_c() => Err(LocalError::Stack("interrupted".to_owned())),
        }
    })?;
    write_report(args.format, "the report", &report, |out| report::write_text(&report, out))?;
    Ok(ExitCode::from(if report.status == RunStatus::Failed { EXIT_FAILURE } else { EXIT_OK }))
}

async fn send(args: &PushArgs, endpoint: &str, progress: &mut dyn FnMut(&Progress)) -> Result<RunReport, LocalError> {
    let info: StackInfo = serde_json::from_value(get(endpoint, STACK_PATH).await?).map_err(|error| {
        LocalError::BadInput(format!("{endpoint} is not a `deltaship local up` (its {STACK_PATH} answered: {error})"))
    })?;
    let git = GitRepo::open(&args.repo)?;
    if !same_folder(git.root(), &info.path) {
        return Err(LocalError::BadInput(format!(
            "the stack at {endpoint} serves {}, not {}: push from that repository (--repo)",
            info.path.display(),
            git.root().display()
        )));
    }
    let (branch, base, head) = git.push_of(&args.head, args.base.as_deref())?;

    // What the head's manifests name and the stack lacks (a service added since it started).
    let watcher = watcher_config_at(endpoint).await;
    let state_machine_arn = state_machine_arn();
    let (settings, manifests) = git.manifests(&head)?;
    let catalog = Catalog::load(settings.as_ref(), &manifests)
        .map_err(|error| LocalError::BadInput(format!("the manifests at {} are invalid:\n{error}", head.short())))?;
    seed::seed(&watcher, &catalog, &info.repository, &state_machine_arn, seed::PIPELINE_ASL).await?;

    get(endpoint, CALLS_PATH).await?;
    progress(&Progress::Push { branch: branch.clone(), base: base.clone(), head: head.clone() });
    let detected = detect(endpoint, &push_event(&info.repository, &branch, base.as_ref(), &head)).await?;
    progress(&Progress::Detected(Box::new(detected.clone())));
    // Gates are announced (with the command to answer them), never answered, by a push.
    let mut answers =
        Answers::new(&watcher, endpoint, super::stack::WAITS_TABLE, &info.repository, GateRules::default());
    let mut show = |followed: Followed| {
        if let Followed::Gate(event) = followed {
            progress(&Progress::Gate(event));
        }
    };
    let mut report =
        follow(&watcher, &state_machine_arn, detected, Duration::from_secs(args.timeout), &mut answers, &mut show)
            .await?;
    report.aws_calls = serde_json::from_value(get(endpoint, CALLS_PATH).await?)
        .map_err(|error| LocalError::Stack(format!("{CALLS_PATH} answered oddly: {error}")))?;
    Ok(report)
}

/// detect-changes' answer to `event`, through the stack's Lambda `Invoke` (as EventBridge
/// delivers it), not counted among the push's calls.
async fn detect(endpoint: &str, event: &Value) -> Result<DetectOutput, LocalError> {
    let path = format!("/2015-03-31/functions/{PREFIX}detect-changes/invocations");
    let (function_error, answer) = request(endpoint, &path, Some(event.to_string())).await?;
    if function_error {
        let field = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let kind = ErrorKind::from_name(&field("errorType")).unwrap_or(ErrorKind::AwsError);
        return Err(LocalError::Detect(Failure::new(kind, field("errorMessage"))));
    }
    serde_json::from_value(answer).map_err(|error| LocalError::Stack(format!("detect-changes answered oddly: {error}")))
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
