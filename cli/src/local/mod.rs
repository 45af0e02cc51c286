//! `deltaship local`: the whole pipeline on this machine, with no AWS account.
//!
//! The local stack is a [moto](https://github.com/getmoto/moto) server, which executes the
//! real `pipeline.asl.json` with its Amazon States Language engine and holds the ECS, CodeBuild
//! and Step Functions resources, and a [`front`] on 127.0.0.1 that every AWS call goes to. The
//! front answers Lambda `Invoke` with deltaship's own handlers (in process, the same code the
//! Lambda bins run), CodeCommit from the local git repository, and completes moto's CodeBuild
//! and ECS answers where moto does not model builds and deployments ([`emulator`]).
//!
//! ```text
//! deltaship local run ──▶ detect-changes ──StartExecution──▶ front ──▶ moto (ASL engine)
//!                                                              ▲          │ Lambda Invoke
//!                              handlers' ECS/CodeBuild/SFN ────┘◀─────────┘ (MOTO_PORT)
//! ```
//!
//! - [`command`]: `deltaship local run`'s arguments, and the run with its progress and report.
//! - [`up`]: `deltaship local up`, the stack as a server that stays up until interrupted.
//! - [`push`]: `deltaship local push`, one push sent to a running `local up`, followed as `local
//!   run` follows its own.
//! - [`stack`]: starts and stops moto and the front.
//! - [`client`]: the CLI's requests to a running `local up`'s front (which stack it is, its
//!   counted calls, Lambda `Invoke`).
//! - [`seed`]: creates what the manifests name, and the state machine.
//! - [`run`]: one push, end to end, read back from the execution's [`history`].
//! - [`deployments`]: ECS service deployments (every strategy, faults, rollbacks, events), as a
//!   pure model the [`emulator`] answers from.
//! - [`eventbridge`]: the template's rules, which the front delivers the events by.
//! - [`follow`]: waiting for a push's executions, and the report read from their histories.

pub mod answers;
pub mod client;
pub mod codecommit;
pub mod command;
pub mod deployments;
pub mod emulator;
pub mod eventbridge;
pub mod follow;
pub mod front;
pub mod functions;
pub mod history;
pub mod push;
pub mod report;
pub mod run;
pub mod seed;
pub mod stack;
pub mod up;

pub use command::RunArgs;
pub use follow::{RunReport, RunStatus, ServiceReport};
pub use push::PushArgs;
pub use run::{Progress, Pushed, RunRequest};
pub use stack::{LocalStack, StackOptions};
pub use up::UpArgs;

use deltaship_core::Failure;

use crate::output::CliError;

/// Why a local run could not finish.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The caller's input: a path, a revision, a manifest, a service name.
    #[error("{0}")]
    BadInput(String),
    /// `moto_server` is not installed where it was looked for.
    #[error(
        "moto_server not found (looked at: {0}); run `make venv` to install it into the project venv, or name it \
         with --moto-server or DELTASHIP_MOTO_SERVER"
    )]
    MotoMissing(String),
    /// The stack could not start or answer.
    #[error("local stack: {0}")]
    Stack(String),
    /// detect-changes failed.
    #[error("detect-changes failed with {}: {}", .0.kind.name(), .0.message)]
    Detect(Failure),
    /// The execution did not finish in time.
    #[error("execution {execution} did not finish within {seconds}s; it was stopped")]
    Timeout {
        /// The execution's ARN.
        execution: String,
        /// The limit.
        seconds: u64,
    },
}

impl From<crate::git::GitError> for LocalError {
    /// A wrong path or revision is bad input; an unreadable repository is the stack's problem.
    fn from(error: crate::git::GitError) -> Self {
        if error.is_bad_input() { Self::BadInput(error.to_string()) } else { Self::Stack(error.to_string()) }
    }
}

impl LocalError {
    /// Whether the caller's input is at fault.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::BadInput(_) => true,
            Self::Detect(failure) => {
                matches!(
                    failure.kind,
                    deltaship_core::ErrorKind::InvalidManifest | deltaship_core::ErrorKind::InvalidInput
                )
            }
            _ => false,
        }
    }
}

impl From<LocalError> for CliError {
    fn from(error: LocalError) -> Self {
        Self { bad_input: error.is_bad_input(), message: error.to_string() }
    }
}
