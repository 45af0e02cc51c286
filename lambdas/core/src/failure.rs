//! The one list of error names the Lambdas return, for the state machine's `Retry` and `Catch`.
//!
//! Every function error reaches Step Functions as `{"errorType": <name>, "errorMessage": ...}`; the
//! name is one of [`ErrorKind::name`], stable across releases (renaming one is a breaking change
//! for every deployed state machine). The message names the input and the problem.
//!
//! | name | retryable | meaning |
//! |------|-----------|---------|
//! | `InvalidInput` | no | the payload is not what the function takes (missing or malformed field) |
//! | `InvalidManifest` | no | a `service.toml` or `deltaship.toml` at the pushed commit is broken |
//! | `RepositoryNotFound` | no | the CodeCommit repository does not exist |
//! | `CommitNotFound` | no | a commit of the push is not in the repository |
//! | `ProjectNotFound` | no | the CodeBuild project does not exist |
//! | `BuildNotFound` | no | the build id is unknown to CodeBuild |
//! | `ServiceNotFound` | no | the ECS cluster or service does not exist or is not active |
//! | `ContainerNotFound` | no | the task definition has no container of the manifest's name |
//! | `TaskDefinitionNotFound` | no | the task definition to deploy or roll back to does not exist |
//! | `PlanTooLarge` | no | the plan does not fit in a Step Functions execution input |
//! | `ExecutionConflict` | no | an execution of the same name but other input already exists |
//! | `BuildFailed` | no | the build failed, faulted, was stopped or timed out |
//! | `RolloutFailed` | no | the deployment failed, or ECS rolled it back (circuit breaker, alarm, lifecycle hook) |
//! | `DeploymentReplaced` | no | another deployment replaced ours before it completed |
//! | `DeadlineExceeded` | no | the rollout did not complete before the service's deadline |
//! | `RollbackFailed` | no | the rollback (ECS's or deltaship's) failed: the service needs a person |
//! | `UnsupportedDeploymentController` | no | the service's deployment controller is not ECS (CODE_DEPLOY, EXTERNAL) |
//! | `Superseded` | no | a newer push already deployed the service; this older one steps aside |
//! | `OutOfScope` | no | a manifest names a repository, cluster, service or project this stack may not touch |
//! | `AccessDenied` | no | the function's role may not make the call (fix the IAM policy) |
//! | `AwsError` | no | AWS rejected the call for another reason (the message says which) |
//! | `Throttled` | yes | AWS throttled the call, after the SDK's own retries |
//! | `AwsUnavailable` | yes | AWS failed or could not be reached (5xx, timeout, connection) |
//!
//! `DeploymentReplaced` is kept apart from `RolloutFailed` because rolling back would overwrite
//! whoever replaced the deployment; `Superseded` is deploy-service's refusal to deploy over a newer
//! push's revision. The state machine ends both as the `superseded` outcome.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What went wrong, as a stable name for `Retry`/`Catch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The payload is not what the function takes.
    InvalidInput,
    /// A manifest or the settings file at the pushed commit is broken.
    InvalidManifest,
    /// The CodeCommit repository does not exist.
    RepositoryNotFound,
    /// A commit of the push is not in the repository.
    CommitNotFound,
    /// The CodeBuild project does not exist.
    ProjectNotFound,
    /// The build id is unknown to CodeBuild.
    BuildNotFound,
    /// The ECS cluster or service does not exist or is not active.
    ServiceNotFound,
    /// The task definition has no container of the manifest's name.
    ContainerNotFound,
    /// The task definition to deploy or roll back to does not exist.
    TaskDefinitionNotFound,
    /// The plan does not fit in a Step Functions execution input.
    PlanTooLarge,
    /// An execution of the same name but other input already exists.
    ExecutionConflict,
    /// The build failed, faulted, was stopped or timed out.
    BuildFailed,
    /// The deployment failed, or ECS rolled it back (circuit breaker, alarm, lifecycle hook).
    RolloutFailed,
    /// Another deployment replaced ours before it completed.
    DeploymentReplaced,
    /// The rollout did not complete before the service's deadline.
    DeadlineExceeded,
    /// The rollback (ECS's or deltaship's) failed.
    RollbackFailed,
    /// The service's deployment controller is not ECS.
    UnsupportedDeploymentController,
    /// A newer push already deployed the service; this older one steps aside.
    Superseded,
    /// A manifest names a repository, cluster, service or project this stack may not touch.
    OutOfScope,
    /// The function's role may not make the call.
    AccessDenied,
    /// AWS rejected the call for another reason.
    AwsError,
    /// AWS throttled the call (after the SDK's own retries).
    Throttled,
    /// AWS failed or could not be reached.
    AwsUnavailable,
}

impl ErrorKind {
    /// Every kind, in the order of the table above.
    pub const ALL: [Self; 23] = [
        Self::InvalidInput,
        Self::InvalidManifest,
        Self::RepositoryNotFound,
        Self::CommitNotFound,
        Self::ProjectNotFound,
        Self::BuildNotFound,
        Self::ServiceNotFound,
        Self::ContainerNotFound,
        Self::TaskDefinitionNotFound,
        Self::PlanTooLarge,
        Self::ExecutionConflict,
        Self::BuildFailed,
        Self::RolloutFailed,
        Self::DeploymentReplaced,
        Self::DeadlineExceeded,
        Self::RollbackFailed,
        Self::UnsupportedDeploymentController,
        Self::Superseded,
        Self::OutOfScope,
        Self::AccessDenied,
        Self::AwsError,
        Self::Throttled,
        Self::AwsUnavailable,
    ];

    /// The stable name, the `errorType` the state machine sees.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidInput => "InvalidInput",
            Self::InvalidManifest => "InvalidManifest",
            Self::RepositoryNotFound => "RepositoryNotFound",
            Self::CommitNotFound => "CommitNotFound",
            Self::ProjectNotFound => "ProjectNotFound",
            Self::BuildNotFound => "BuildNotFound",
            Self::ServiceNotFound => "ServiceNotFound",
            Self::ContainerNotFound => "ContainerNotFound",
            Self::TaskDefinitionNotFound => "TaskDefinitionNotFound",
            Self::PlanTooLarge => "PlanTooLarge",
            Self::ExecutionConflict => "ExecutionConflict",
            Self::BuildFailed => "BuildFailed",
            Self::RolloutFailed => "RolloutFailed",
            Self::DeploymentReplaced => "DeploymentReplaced",
            Self::DeadlineExceeded => "DeadlineExceeded",
            Self::RollbackFailed => "RollbackFailed",
            Self::UnsupportedDeploymentController => "UnsupportedDeploymentController",
            Self::Superseded => "Superseded",
            Self::OutOfScope => "OutOfScope",
            Self::AccessDenied => "AccessDenied",
            Self::AwsError => "AwsError",
            Self::Throttled => "Throttled",
            Self::AwsUnavailable => "AwsUnavailable",
        }
    }

    /// The kind of a stable name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether trying the same call again later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Throttled | Self::AwsUnavailable)
    }

    /// The kind of an AWS error that no call site mapped to a more specific kind, from its error
    /// code and HTTP status. `None` for both means the request never got an answer (a timeout or
    /// a connection failure), which is transient.
    pub fn of_aws_error(code: Option<&str>, http_status: Option<u16>) -> Self {
        const THROTTLING: [&str; 10] = [
            "AccountLimitExceededException",
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottledException",
            "TooManyRequestsException",
            "RequestLimitExceeded",
            "RequestThrottled",
            "LimitExceededException",
            "PriorRequestNotComplete",
        ];
        const TRANSIENT: [&str; 6] = [
            "ServerException",
            "InternalServerError",
            "InternalFailure",
            "ServiceUnavailable",
            "ServiceUnavailableException",
            "RequestTimeout",
        ];
        const DENIED: [&str; 4] =
            ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"];
        match (code, http_status) {
            (Some(code), _) if THROTTLING.contains(&code) => Self::Throttled,
            (Some(code), _) if TRANSIENT.contains(&code) => Self::AwsUnavailable,
            (Some(code), _) if DENIED.contains(&code) => Self::AccessDenied,
            (_, Some(429)) => Self::Throttled,
            (_, Some(status)) if status >= 500 => Self::AwsUnavailable,
            (_, Some(403)) => Self::AccessDenied,
            (None, None) => Self::AwsUnavailable,
            _ => Self::AwsError,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A function's error: a stable [`ErrorKind`] and a message naming the input and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The stable kind.
    pub kind: ErrorKind,
    /// What failed, for people.
    pub message: String,
}

impl Failure {
    /// A failure of `kind`, saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A payload the function cannot take.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|kind| kind.name()).collect();
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(kind.name()), Some(kind));
            // The serde name is the stable name too (the front of issue 5 serialises kinds).
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert_eq!(ErrorKind::from_name("States.ALL"), None);
    }

    #[test]
    fn the_module_table_lists_every_name_with_its_retryability() {
        let docs = include_str!("failure.rs");
        for kind in ErrorKind::ALL {
            let retryable = if kind.is_retryable() { "yes" } else { "no" };
            let row = format!("| `{}` | {retryable} |", kind.name());
            assert!(docs.contains(&row), "the table in failure.rs lacks {row}");
        }
    }

    #[test]
    fn only_throttling_and_unavailability_are_retryable() {
        let retryable: Vec<_> = ErrorKind::ALL.into_iter().filter(|kind| kind.is_retryable()).collect();
        assert_eq!(retryable, [ErrorKind::Throttled, ErrorKind::AwsUnavailable]);
    }

    #[test]
    fn aws_errors_are_classified_by_code_then_status() {
        let cases: &[(Option<&str>, Option<u16>, ErrorKind)] = &[
            (Some("ThrottlingException"), Some(400), ErrorKind::Throttled),
            (Some("TooManyRequestsException"), Some(400), ErrorKind::Throttled),
            (Some("LimitExceededException"), Some(400), ErrorKind::Throttled),
            (Some("ServerException"), Some(500), ErrorKind::AwsUnavailable),
            (Some("ServiceUnavailable"), Some(503), ErrorKind::AwsUnavailable),
            (Some("AccessDeniedException"), Some(400), ErrorKind::AccessDenied),
            (Some("ValidationException"), Some(400), ErrorKind::AwsError),
            (Some("InvalidParameterException"), Some(400), ErrorKind::AwsError),
            (None, Some(429), ErrorKind::Throttled),
            (None, Some(502), ErrorKind::AwsUnavailable),
            (Some("SomethingNew"), Some(500), ErrorKind::AwsUnavailable),
            (None, Some(403), ErrorKind::AccessDenied),
            (None, Some(400), ErrorKind::AwsError),
            (None, None, ErrorKind::AwsUnavailable),
        ];
        for &(code, status, expected) in cases {
            assert_eq!(ErrorKind::of_aws_error(code, status), expected, "{code:?} {status:?}");
        }
    }

    #[test]
    fn a_failure_displays_its_kind_and_message() {
        let failure = Failure::invalid_input("field `build_id`: missing");
        assert_eq!(failure.to_string(), "InvalidInput: field `build_id`: missing");
    }
}
