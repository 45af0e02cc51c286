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
//! | detect-changes | [`detect`] | EventBridge CodeCommit event | [`detect::DetectOutput`] |
//! | start-build | [`start_build`] | [`deltaship_core::ServiceJob`] | [`start_build::StartBuildOutput`] |
//! | check-build | [`check_build`] | [`check_build::CheckBuildInput`] | [`check_build::CheckBuildOutput`] |
//! | deploy-service | [`deploy`] | [`deploy::DeployInput`] | [`deploy::DeployOutput`] |
//! | check-rollout | [`check_rollout`] | [`deltaship_core::RolloutWatch`] | [`check_rollout::CheckRolloutOutput`] |
//! | rollback-service | [`rollback`] | [`rollback::RollbackInput`] | [`rollback::RollbackOutput`] |
//! | reconcile-pushes | [`reconcile`] | any JSON object (the schedule sends `{}`) | [`reconcile::ReconcileOutput`] |
//!
//! Every output is a flat JSON object whose fields are always present (`null` when they do not
//! apply), so the state machine can select them without a missing-path error. Errors are
//! [`Failure`]s whose `errorType` is one of the stable names in [`deltaship_core::failure`].
//!
//! The SDK clients honour the usual configuration: credentials and region from the environment,
//! `AWS_ENDPOINT_URL` (and per-service `AWS_ENDPOINT_URL_ECS` etc.) for a local stack,
//! `AWS_MAX_ATTEMPTS` for the SDK's own retries (standard mode: throttling and transient errors
//! are retried with back-off before a function reports `Throttled` or `AwsUnavailable`).

pub mod check_build;
pub mod check_rollout;
pub mod codecommit;
pub mod deploy;
pub mod detect;
pub mod function;
pub mod reconcile;
pub mod rollback;
pub mod runtime;
pub mod settings;
pub mod start_build;

mod aws_error;
mod codebuild;
mod ecs;
mod input;

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
