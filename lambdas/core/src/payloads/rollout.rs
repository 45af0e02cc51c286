//! deploy-service's, check-rollout's and rollback-service's payloads: the deployment deltaship
//! watches, from the `UpdateService` that created it to its verdict or its rollback.

use serde::{Deserialize, Serialize};

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
}

/// The deployment deltaship is watching: what deploy-service returned, and check-rollout takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutWatch {
    /// The service's name (for messages).
    pub name: String,
    /// The ECS cluster.
    pub cluster: String,
    /// The ECS service.
    pub service: String,
    /// The deployment `UpdateService` created.
    pub deployment_id: String,
    /// The task definition revision deltaship registered and deployed.
    pub task_definition: String,
    /// The revision the service ran before.
    pub previous_task_definition: String,
    /// When the deployment started, in seconds since the Unix epoch.
    pub started_at: i64,
    /// When the rollout must have completed, in seconds since the Unix epoch.
    pub deadline: i64,
}

/// deploy-service's answer: the deployment to watch (check-rollout's input) and a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployOutput {
    /// What check-rollout watches.
    #[serde(flatten)]
    pub watch: RolloutWatch,
    /// The image deployed.
    pub image: String,
    /// Seconds to wait before the first look at the rollout.
    pub wait_seconds: u32,
    /// The service's deployments in the console.
    pub service_url: String,
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutStatus {
    /// Rolling out: wait `wait_seconds`, then look again.
    InProgress,
    /// Our deployment completed and serves the service.
    Completed,
}

/// check-rollout's answer (failures are `RolloutFailed`, `DeploymentReplaced`,
/// `DeadlineExceeded` or `ServiceNotFound` errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRolloutOutput {
    /// Rolling out or done.
    pub status: RolloutStatus,
    /// The deployment.
    pub deployment_id: String,
    /// The revision it rolls out.
    pub task_definition: String,
    /// Seconds to wait before the next look (0 when done).
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
    #[serde(flatten)]
    pub watch: RolloutWatch,
    /// Why (the check's error), for the record.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What rollback-service did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RollbackAction {
    /// It updated the service to the previous revision.
    RolledBack,
    /// The service already ran the previous revision.
    AlreadyRolledBack,
    /// The service runs a revision deployed since; it was not touched.
    LeftAlone,
}

/// rollback-service's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackOutput {
    /// What it did.
    pub action: RollbackAction,
    /// The revision the service runs (or is rolling back to).
    pub task_definition: String,
    /// The rollback's deployment, when it made one.
    pub deployment_id: Option<String>,
    /// The same in a sentence.
    pub message: String,
    /// The service's deployments in the console.
    pub service_url: String,
}
