//! deploy-service's, check-rollout's and rollback-service's payloads: the deployment deltaship
//! watches, from the `UpdateService` that created it to its verdict or its rollback.

use serde::{Deserialize, Serialize};

use crate::rollout::Expect;

/// deploy-service's input: the service (as in its [`super::ServiceJob`]), the push, and
/// the image its build pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployInput {
    /// The service's name.
    pub name: String,
    /// The ECS cluster.
    pub cluster: String,
    /// The ECS service.
    pub service: String,
    /// The container whose image is replaced.
    pub container: String,
    /// The image to run, from check-build: tagged with `commit`.
    pub image: String,
    /// The rollout deadline, in minutes from now.
    pub timeout_minutes: u32,
    /// The pushed commit.
    pub commit: String,
    /// When it was pushed, in seconds since the Unix epoch (orders pushes).
    pub pushed_at: i64,
    /// The execution deploying it.
    pub execution: String,
    /// The repository pushed to (the push ledger orders two pushes of one second by it); empty
    /// from an execution started before it was passed.
    #[serde(default)]
    pub repository: String,
    /// The branch pushed to.
    #[serde(default)]
    pub branch: String,
}

/// The service deployment deltaship is watching: what deploy-service (or rollback-service)
/// returned, and what check-rollout judges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutWatch {
    /// The service's name (for messages).
    pub name: String,
    /// The execution deploying it (names its wait in the waits table).
    #[serde(default)]
    pub execution: String,
    /// The ECS cluster.
    pub cluster: String,
    /// The ECS service.
    pub service: String,
    /// The service's ARN: what `ECS Deployment State Change` events name in `resources`.
    pub service_arn: String,
    /// The service deployment `UpdateService` created (`service.currentServiceDeployment`): the
    /// record deltaship judges.
    pub service_deployment: String,
    /// The deployment's older id (`ecs-svc/...`), as events and `DescribeServices` name it.
    pub deployment_id: String,
    /// The task definition revision deltaship registered and deployed.
    pub task_definition: String,
    /// The revision the service ran before.
    pub previous_task_definition: String,
    /// The service's deployment strategy: `ROLLING`, `BLUE_GREEN`, `LINEAR` or `CANARY`.
    pub strategy: String,
    /// What the wait is for: the deployment to succeed, or deltaship's rollback to end.
    #[serde(default)]
    pub expect: Expect,
    /// When the deployment started, in seconds since the Unix epoch.
    pub started_at: i64,
    /// When it must have ended, in seconds since the Unix epoch.
    pub deadline: i64,
}

/// check-rollout's input: the deployment, and in wait mode the task token to complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRolloutInput {
    /// The service deployment to judge.
    pub watch: RolloutWatch,
    /// The callback task's token (`$$.Task.Token`): wait mode. Absent: look once (after a
    /// fallback timeout).
    #[serde(default)]
    pub task_token: Option<String>,
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutStatus {
    /// Rolling out (or rolling back): wait `wait_seconds` for an event, then look again.
    InProgress,
    /// What the wait was for happened: our deployment succeeded, or our rollback ended.
    Completed,
}

/// Where a watched service deployment is: deploy-service's answer (a deployment just started is
/// one in progress), check-rollout's answer, and what a rollout wait completes with. The state
/// machine keeps the latest at `$.rollout` and waits on `watch` for at most `wait_seconds`.
/// check-rollout's failures are `RolloutFailed`, `DeploymentReplaced`, `DeadlineExceeded`,
/// `RollbackFailed` or `ServiceNotFound` errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRolloutOutput {
    /// Rolling out or done.
    pub status: RolloutStatus,
    /// What is watched (echoed, so the next wait finds it where the last one left it).
    pub watch: RolloutWatch,
    /// Its lifecycle stage when last seen (`BAKE_TIME`, ...), if ECS reports one.
    pub stage: Option<String>,
    /// Seconds the next wait for an event may take before the state machine looks itself (the
    /// fallback timeout; 0 when done).
    pub wait_seconds: u32,
    /// Task counts, or how completion was judged.
    pub detail: String,
    /// The service's deployments in the console.
    pub service_url: String,
}

/// rollback-service's input: the watched deployment, and why it is rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackInput {
    /// The deployment that failed.
    pub watch: RolloutWatch,
    /// Why (the check's error), for the record.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What rollback-service did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RollbackAction {
    /// deltaship rolled back (`StopServiceDeployment` ROLLBACK, or `UpdateService` to the
    /// previous revision): wait on `watch` for the rollback's end.
    RollbackRequested,
    /// ECS is rolling back already (circuit breaker, alarm, lifecycle hook): wait on `watch`.
    EcsRollingBack,
    /// ECS rolled the deployment back: nothing left to do.
    RolledBackByEcs,
    /// Another deployment replaced ours; it was not touched.
    LeftAlone,
}

/// Who rolled a deployment back, as the `rolled_back` outcome records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolledBackBy {
    /// ECS: its circuit breaker, a CloudWatch alarm or a lifecycle hook.
    Ecs,
    /// deltaship: the rollout passed its deadline.
    Deltaship,
}

/// rollback-service's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackOutput {
    /// What it did.
    pub action: RollbackAction,
    /// Who rolls (or rolled) the deployment back; `None` when it was left alone.
    pub rolled_back_by: Option<RolledBackBy>,
    /// The revision the service runs (or is rolling back to).
    pub task_definition: String,
    /// The rollback to wait for (for `ROLLBACK_REQUESTED` and `ECS_ROLLING_BACK`), as a rollout
    /// in progress whose `watch` expects the rollback's end; `None` otherwise. The state machine
    /// keeps the latest look at `$.rollback.rollout`.
    pub rollout: Option<CheckRolloutOutput>,
    /// The same in a sentence.
    pub message: String,
    /// The service's deployments in the console.
    pub service_url: String,
}
