//! detect-changes' and reconcile-pushes' payloads, and the per-service job the state machine maps
//! over (start-build's input).

use serde::{Deserialize, Serialize};

use crate::pipeline::PipelineInput;

const fn default_build_timeout() -> u32 {
    crate::manifest::DEFAULT_BUILD_TIMEOUT_MINUTES
}

/// One service's work: the item the state machine's Map runs over, and the input of
/// start-build and deploy-service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceJob {
    /// The service's name.
    pub name: String,
    /// The CodeCommit repository.
    pub repository: String,
    /// The pushed branch.
    pub branch: String,
    /// The commit to build and deploy.
    pub commit: String,
    /// The execution's name, recorded on the task definition revision deploy-service registers.
    pub execution: String,
    /// When the push happened (as [`PipelineInput::pushed_at`]): deploy-service refuses to roll
    /// a service back over a revision a newer push deployed.
    pub pushed_at: i64,
    /// The CodeBuild project.
    pub project: String,
    /// The ECS cluster (name or ARN).
    pub cluster: String,
    /// The ECS service (name or ARN).
    pub service: String,
    /// The container whose image is replaced.
    pub container: String,
    /// The ECR repository (name or URI) the build pushes to.
    pub image_repository: String,
    /// The rollout deadline, in minutes after the deployment starts.
    pub timeout_minutes: u32,
    /// The build deadline, in minutes after the build starts (the manifest's
    /// `build.timeout_minutes`).
    #[serde(default = "default_build_timeout")]
    pub build_timeout_minutes: u32,
    /// Changed paths that planned the service (at most [`crate::pipeline::MAX_REASONS`]).
    pub reasons: Vec<String>,
    /// How many more changed paths planned it than `reasons` lists.
    #[serde(default)]
    pub more_reasons: usize,
    /// The first environment (where `cluster`, `service` and `container` are): `default` in a
    /// repository that lists no environments.
    #[serde(default = "default_environment")]
    pub environment: String,
    /// Who pushed (the event's `callerUserArn`), for an approval's notification.
    #[serde(default)]
    pub pushed_by: Option<String>,
    /// The environments after the first it is promoted into, in order
    /// ([`crate::environments::promotions`]); empty in a one-environment repository. Always
    /// written: the state machine reads its length.
    #[serde(default)]
    pub promotions: Vec<crate::environments::Promotion>,
    /// The answer that let the service into `environment`: `null` in the input (the first
    /// environment has no gate); the state machine's *Promote* sets it with each later
    /// environment's target, and each environment's outcome records it.
    #[serde(default)]
    pub answer: Option<crate::gates::Answer>,
    /// The image to deploy instead of building one (by digest): set by `deltaship redeploy`,
    /// which deploys what an earlier push built. Absent for a push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl ServiceJob {
    /// The job of `service` for `push`, in the execution `execution`: its first environment's
    /// target, no reasons, no promotions ([`PipelineInput::promoted`] adds them), built from the
    /// push's commit.
    pub fn of(service: &crate::Service, push: &crate::Push, execution: &str) -> Self {
        Self {
            name: service.name.clone(),
            repository: push.repository.clone(),
            branch: push.branch.clone(),
            commit: push.head.to_string(),
            execution: execution.to_owned(),
            pushed_at: push.pushed_at,
            project: service.build.project.clone(),
            cluster: service.deploy.cluster.clone(),
            service: service.deploy.service.clone(),
            container: service.deploy.container.clone(),
            image_repository: service.deploy.image_repository.clone(),
            timeout_minutes: service.deploy.timeout_minutes,
            build_timeout_minutes: service.build.timeout_minutes,
            reasons: Vec::new(),
            more_reasons: 0,
            environment: crate::environments::DEFAULT_ENVIRONMENT.to_owned(),
            pushed_by: push.pushed_by.clone(),
            promotions: Vec::new(),
            answer: None,
            image: None,
        }
    }
}

fn default_environment() -> String {
    crate::environments::DEFAULT_ENVIRONMENT.to_owned()
}

/// What detect-changes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DetectStatus {
    /// It started the execution.
    Started,
    /// The execution for this push already exists (a duplicate delivery).
    AlreadyStarted,
    /// The push changes no service.
    NothingToDeploy,
    /// The pushed commit says `[skip deploy]`.
    Skipped,
    /// The event is not a push to deploy (a tag, a deleted branch, a branch `deltaship.toml` does
    /// not deploy, ...).
    Ignored,
    /// `DRY_RUN` is set: `input` is what it would have started.
    DryRun,
}

/// detect-changes' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectOutput {
    /// What it did.
    pub status: DetectStatus,
    /// The same in a sentence, also logged.
    pub message: String,
    /// The execution's name, when there is a plan.
    pub execution: Option<String>,
    /// The execution's ARN, when one was started or found.
    pub execution_arn: Option<String>,
    /// Every execution of the push, when its plan was split into parts ([`crate::budget`]):
    /// `execution` first. One name when it was not; none without a plan.
    #[serde(default)]
    pub executions: Vec<String>,
    /// The planned services.
    pub services: Vec<String>,
    /// Services whose manifest the push deleted.
    pub removed: Vec<String>,
    /// The execution input, in a dry run.
    pub input: Option<PipelineInput>,
}

impl DetectOutput {
    /// An answer with no plan: the push was ignored or deploys nothing.
    pub fn without_plan(status: DetectStatus, message: String) -> Self {
        Self {
            status,
            message,
            execution: None,
            execution_arn: None,
            executions: Vec::new(),
            services: Vec::new(),
            removed: Vec::new(),
            input: None,
        }
    }
}

/// What the reconciler found on a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BranchStatus {
    /// The head is the branch's latest recorded push, whatever became of it.
    UpToDate,
    /// The head is not the latest recorded push (its event was lost): detect-changes' planning
    /// ran for the difference (see `detect`).
    Reconciled,
    /// No push of the branch is recorded in the ledger: nothing to compare with; nothing was
    /// done.
    NoRecord,
    /// No branch matches the pattern (`branch` is the pattern), or the branch was deleted.
    NoBranch,
    /// Reading the branch or planning it failed (see `message`).
    Failed,
}

/// One branch's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchReport {
    /// The branch.
    pub branch: String,
    /// What was found.
    pub status: BranchStatus,
    /// The branch's head, when it exists.
    pub head: Option<String>,
    /// The commit of the branch's latest recorded push, if any.
    pub latest_commit: Option<String>,
    /// What became of that push.
    pub latest_status: Option<crate::ledger::PushStatus>,
    /// What detect-changes' planning did for a missed push.
    pub detect: Option<DetectOutput>,
    /// The same in a sentence, also logged.
    pub message: String,
}

/// reconcile-pushes' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileOutput {
    /// One report per branch a `BRANCHES` pattern matches, by name, then one per pattern that
    /// matches none.
    pub branches: Vec<BranchReport>,
}

/// reconcile-pushes' input: any JSON object (the schedule sends `{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileInput {}
