//! start-build's and check-build's payloads.

use serde::{Deserialize, Serialize};

/// start-build's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartBuildOutput {
    /// The build id, `<project>:<uuid>`; check-build's input.
    pub build_id: String,
    /// The build's console page (phases and logs).
    pub build_url: String,
    /// Seconds the first wait for the build's event may take before the state machine looks
    /// itself (the fallback).
    pub wait_seconds: u32,
    /// When deltaship stops waiting for the build, in seconds since the Unix epoch (the
    /// manifest's `build.timeout_minutes` after the start).
    pub deadline: i64,
}

/// check-build's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBuildInput {
    /// The build, as start-build returned it.
    pub build_id: String,
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

/// check-build's answer, and what its wait completes with (failures are `BuildFailed` or
/// `DeadlineExceeded` errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBuildOutput {
    /// Running or done.
    pub status: BuildStatus,
    /// The build.
    pub build_id: String,
    /// Seconds to wait before the next look (0 when done).
    pub wait_seconds: u32,
    /// The phase a running build is in.
    pub phase: Option<String>,
    /// The image a successful build pushed.
    pub image: Option<String>,
    /// The build's console page.
    pub build_url: String,
    /// The build's CloudWatch logs, when CodeBuild gives the link.
    pub logs_url: Option<String>,
}
