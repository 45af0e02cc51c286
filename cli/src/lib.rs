//! The `deltaship` command line: ask what a push will deploy before you push.
//!
//! - [`asl`]: the subset of Amazon States Language paths deltaship's pipeline uses (reading a
//!   path, filling `Parameters`/`ResultSelector`, placing a result at `ResultPath`), shared by
//!   `deltaship cost` and the contract tests.
//! - [`check`]: `deltaship check`, the configuration at a revision validated, what triggers each
//!   service, which paths no service owns.
//! - [`cost`]: `deltaship cost`, what a push costs to orchestrate, walked from the state machine.
//! - [`event_pattern`]: EventBridge event patterns, as the local stack matches its events.
//! - [`git`]: a local git repository as a change source (revisions, tree diffs, manifests),
//!   read with gix.
//! - [`plan`]: `deltaship plan`, the same planner the detect-changes Lambda runs, on local
//!   commits.
//! - [`init`]: `deltaship init`, the service roots and manifests proposed for an existing
//!   repository, written with `--write`.
//! - [`local`]: `deltaship local run`, a push through the whole pipeline on a local stack (moto
//!   and deltaship's own handlers), with no AWS account.
//! - [`ops`]: the ops commands against a deployed stack or a `deltaship local up`: `deltaship
//!   status`, `approve`, `reject`, `redeploy` ([`ops::status`], ...), on the stack and catalog
//!   resolution they share.
//! - [`output`]: how every command ends: its report as text or JSON, or an error, and the exit
//!   code.
//!
//! Exit codes: 0 success, 1 an unexpected failure (e.g. a corrupt repository), 2 bad input
//! (not a repository, unknown revision, invalid manifest, bad arguments).

pub mod approvals;
pub mod asl;
pub mod check;
pub mod cost;
pub mod event_pattern;
pub mod git;
pub mod init;
pub mod local;
pub mod ops;
pub mod output;
pub mod plan;

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for a failure that is not the caller's input.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad input: arguments, paths, revisions, manifests.
pub const EXIT_BAD_INPUT: u8 = 2;

/// The async runtime a command's AWS calls and local stack run on (two workers: the machines
/// it runs on are small).
pub fn runtime() -> Result<tokio::runtime::Runtime, output::CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| output::CliError::failure(format!("could not start the async runtime: {error}")))
}
