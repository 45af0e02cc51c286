//! deltaship's Lambda handlers and their thin adapters over the AWS SDK.
//!
//! Each function is a struct that implements [`Function`]: its name (its bin's), the settings it
//! reads from its environment ([`settings`]), how it is built from the shared AWS configuration
//! and those settings, and one method, `handle(payload) -> Result<Output, Failure>`: it parses the
//! payload into the function's input type, makes its AWS calls, and hands every decision to
//! [`deltaship_core`]. [`FUNCTIONS`] lists them all, once.
//!
//! Two things run a function, both through the trait, so that they cannot wire it differently:
//!
//! - its Lambda bin (`lambdas/<function>/`), whose whole `main` is
//!   `deltaship_aws::runtime::run::<deltaship_aws::deploy::DeployService>()` (say): the generic
//!   [`runtime`] reads the settings at cold start, builds the function at its first invocation,
//!   and serves invocations;
//! - the local stack (`deltaship local`), which builds every function of [`FUNCTIONS`] from one
//!   table of variables and calls it by name, in process ([`AnyFunction`]).
//!
//! | function | module | input | output |
//! |----------|--------|-------|--------|
//! | detect-changes | [`detect`] | EventBridge CodeCommit event | [`DetectOutput`](deltaship_core::payloads::DetectOutput) |
//! | start-build | [`start_build`] | [`deltaship_core::ServiceJob`] | [`CheckBuildOutput`](deltaship_core::payloads::CheckBuildOutput), in progress |
//! | check-build | [`check_build`] | [`CheckBuildInput`](deltaship_core::payloads::CheckBuildInput) | [`CheckBuildOutput`](deltaship_core::payloads::CheckBuildOutput) |
//! | deploy-service | [`deploy`] | [`DeployInput`](deltaship_core::payloads::DeployInput) | [`CheckRolloutOutput`](deltaship_core::payloads::CheckRolloutOutput), in progress |
//! | check-rollout | [`check_rollout`] | [`CheckRolloutInput`](deltaship_core::payloads::CheckRolloutInput) | [`CheckRolloutOutput`](deltaship_core::payloads::CheckRolloutOutput) |
//! | rollback-service | [`rollback`] | [`RollbackInput`](deltaship_core::payloads::RollbackInput) | [`RollbackOutput`](deltaship_core::payloads::RollbackOutput) |
//! | request-approval | [`request_approval`] | [`RequestApprovalInput`](deltaship_core::payloads::RequestApprovalInput), with a task token | [`RequestApprovalOutput`](deltaship_core::payloads::RequestApprovalOutput); the task's result is the token's answer |
//! | reconcile-pushes | [`reconcile`] | any JSON object (the schedule sends `{}`) | [`ReconcileOutput`](deltaship_core::payloads::ReconcileOutput) |
//! | wake-waits | [`wake`] | `CodeBuild Build State Change`, `ECS Deployment State Change` | [`WakeOutput`](deltaship_core::payloads::WakeOutput) |
//!
//! The inputs and outputs are [`deltaship_core::payloads`]. Every output is a flat JSON object
//! whose fields are always present (`null` when they do not apply), so the state machine can
//! select them without a missing-path error. Errors are [`Failure`]s whose `errorType` is one of
//! the stable names in [`deltaship_core::failure`].
//!
//! The SDK clients honour the usual configuration: credentials and region from the environment,
//! `AWS_ENDPOINT_URL` (and per-service `AWS_ENDPOINT_URL_ECS` etc.) for a local stack,
//! `AWS_MAX_ATTEMPTS` for the SDK's own retries (standard mode: throttling and transient errors
//! are retried with back-off before a function reports `Throttled` or `AwsUnavailable`).

pub mod catalogs;
pub mod check_build;
pub mod check_rollout;
pub mod codecommit;
pub mod deploy;
pub mod detect;
pub mod function;
pub mod gates;
pub mod ledger;
pub mod reconcile;
pub mod request_approval;
pub mod rollback;
pub mod runtime;
pub mod settings;
pub mod start_build;
pub mod waits;
pub mod wake;

mod aws_error;
mod codebuild;
mod ecs;
mod input;
mod table;

pub use deltaship_core::{ErrorKind, Failure};
pub use function::{AnyFunction, FUNCTIONS, Function};

/// Seconds since the Unix epoch; handlers take a clock so that tests can fix the time.
pub type Clock = fn() -> i64;

/// The system clock.
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}
