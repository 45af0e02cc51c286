//! deltaship's Lambda handlers and their thin adapters over the AWS SDK.
//!
//! Each function is a struct built once, at its first invocation ([`runtime::Lazy`]), from the
//! shared AWS configuration and its [`settings`] (read at cold start), with one method, `handle(payload) -> Result<Output, Failure>`: it parses the
//! payload into the function's input type, makes its AWS calls, and hands every decision to
//! [`deltaship_core`]. The Lambda bins (`lambdas/<function>/`) only wire a handler to
//! [`runtime::serve`]; the local pipeline calls the same `handle` methods in process.
//!
//! | function | module |
//! |----------|--------|
//! | detect-changes | [`detect`] |
//! | start-build | [`start_build`] |
//! | check-build | [`check_build`] |
//! | deploy-service | [`deploy`] |
//! | check-rollout | [`check_rollout`] |
//! | rollback-service | [`rollback`] |
//! | reconcile-pushes | [`reconcile`] |
//!
//! Their inputs and outputs are [`deltaship_core::payloads`]' types, one place for the contract
//! between the state machine and the handlers.
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

/// Seconds since the Unix epoch; handlers take a clock so that tests can fix the time.
pub type Clock = fn() -> i64;

/// The system clock.
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}
