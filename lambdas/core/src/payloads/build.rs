//! start-build's and check-build's payloads: a build, from its start to its end.

use serde::{Deserialize, Serialize};

/// check-build's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBuildInput {
    /// The build, as start-build returned it.
    pub build_id: String,
    /// The build's ARN, as start-build returned it: what its events name (required in wait mode).
    #[serde(default)]
    pub build_arn: String,
    /// When deltaship stops waiting (start-build's `deadline`); `None`: no deadline of its own
    /// (CodeBuild's project timeout still ends the build).
    #[serde(default)]
    pub deadline: Option<i64>,
    /// The service (names its wait in the waits table).
    #[serde(default)]
    pub name: String,
    /// The execution (names its wait in the waits table).
    #[serde(default)]
    pub execution: String,
    /// The callback task's token (`$$.Task.Token`): wait mode. Absent: look once (after a
    /// fallback timeout).
    #[serde(default)]
    pub task_token: Option<String>,
}

/// Where a build is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BuildStatus {
    /// Running: wait `wait_seconds` for its event, then look again.
    InProgress,
    /// Done: `image` is what it pushed.
    Succeeded,
}

/// Where a build is: start-build's answer (a build just started is one in progress),
/// check-build's answer, and what a build wait completes with. The state machine keeps the latest
/// at `$.build` and waits on `build_id` for at most `wait_seconds`. check-build's failures are
/// `BuildFailed` or `DeadlineExceeded` errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBuildOutput {
    /// Running or done.
    pub status: BuildStatus,
    /// The build, `<project>:<uuid>`.
    pub build_id: String,
    /// The build's ARN, what `CodeBuild Build State Change` names in `detail.build-id`.
    pub build_arn: String,
    /// When deltaship stops waiting for the build, in seconds since the Unix epoch (the
    /// manifest's `build.timeout_minutes` after the start; echoed from look to look).
    pub deadline: Option<i64>,
    /// Seconds the next wait for an event may take before the state machine looks itself (the
    /// fallback timeout; 0 when done).
    pub wait_seconds: u32,
    /// The phase a running build is in.
    pub phase: Option<String>,
    /// The image a successful build pushed.
    pub image: Option<String>,
    /// The same image by digest (`<repository>@sha256:...`), when the build exported
    /// `IMAGE_DIGEST`: what later environments deploy.
    #[serde(default)]
    pub image_by_digest: Option<String>,
    /// The image every environment deploys: `image_by_digest` when the build exported a digest,
    /// else `image` (an older buildspec: the first environment only).
    #[serde(default)]
    pub deploy_image: Option<String>,
    /// The build's console page.
    pub build_url: String,
    /// The build's CloudWatch logs, when CodeBuild gives the link.
    pub logs_url: Option<String>,
}
