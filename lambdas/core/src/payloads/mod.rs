//! Every payload a Lambda takes and returns, in one place: the contract between the state
//! machine (`state-machine/pipeline.asl.json`) and the handlers (`deltaship_aws`).
//!
//! | function | input | output |
//! |----------|-------|--------|
//! | detect-changes | the EventBridge CodeCommit event ([`crate::event`]) | [`DetectOutput`] |
//! | start-build | [`ServiceJob`] | [`CheckBuildOutput`] (in progress) |
//! | check-build | [`CheckBuildInput`] | [`CheckBuildOutput`] |
//! | deploy-service | [`DeployInput`] | [`CheckRolloutOutput`] (in progress) |
//! | check-rollout | [`CheckRolloutInput`] | [`CheckRolloutOutput`] |
//! | rollback-service | [`RollbackInput`] | [`RollbackOutput`] |
//! | reconcile-pushes | [`ReconcileInput`] (the schedule sends `{}`) | [`ReconcileOutput`] |
//! | wake-waits | `CodeBuild Build State Change`, `ECS Deployment State Change` ([`crate::waits`]) | [`WakeOutput`] |
//! | request-approval | [`RequestApprovalInput`] | [`RequestApprovalOutput`] (the task's result is the token's [`crate::gates::Answer`]) |
//!
//! The execution's own input is [`crate::PipelineInput`]; each service's iteration ends with a
//! [`ServiceOutcome`].
//!
//! Every output is a flat JSON object whose fields are always present (`null` when they do not
//! apply), so the state machine can select them without a missing-path error. Renaming a field
//! here is a change of contract: `tests/contract.rs` checks every path the state machine reads
//! against these types.

mod approval;
mod build;
mod outcome;
mod push;
mod rollout;
mod wake;

pub use approval::{ApprovalStatus, RequestApprovalInput, RequestApprovalOutput};
pub use build::{BuildStatus, CheckBuildInput, CheckBuildOutput};
pub use outcome::{Details, EnvironmentOutcome, Outcome, ServiceOutcome};
pub use push::{BranchReport, BranchStatus, DetectOutput, DetectStatus, ReconcileInput, ReconcileOutput, ServiceJob};
pub use rollout::{
    CheckRolloutInput, CheckRolloutOutput, DeployInput, RollbackAction, RollbackInput, RollbackOutput, RolledBackBy,
    RolloutStatus, RolloutWatch,
};
pub use wake::{WakeOutput, WokenWait};
