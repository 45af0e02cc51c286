//! Waiting by callback: where a build's or a rollout's task token is kept, which event wakes it,
//! and what completes it.
//!
//! The state machine waits for a build or a rollout in a `.waitForTaskToken` task. The function
//! it invokes (check-build, check-rollout in *wait mode*) first stores the task token in the
//! waits table under what the AWS events carry, then looks at the build or the service
//! deployment once: a build that ended before the token was stored still completes the wait.
//! Then EventBridge's `CodeBuild Build State Change` and `ECS Deployment State Change` events
//! wake wake-waits, which finds the tokens under the event's resource ([`WakeEvent::resource`])
//! and looks again. **An event is a wake-up call, never the verdict**: the look (the same judges,
//! [`crate::build`] and [`crate::rollout`]) decides, and only a terminal look completes the wait
//! ([`Completion`]).
//!
//! | record field | value |
//! |--------------|-------|
//! | `resource` (partition key) | `build#<build ARN>` ([`build_resource`]) or `service#<service ARN>` ([`service_resource`]) |
//! | `waiter` (sort key) | `<execution>#<service name>#<build, rollout or rollback>` ([`waiter`]): a wait registered again after a fallback timeout overwrites its own record |
//! | `token` | the task token |
//! | `kind` | [`WaitKind`] |
//! | `watch` | what to look at, as JSON: check-build's or check-rollout's look-mode input |
//! | `expires_at` | TTL, seconds since the Unix epoch ([`expires_at`]); DynamoDB deletes lazily, so readers skip expired records |
//!
//! Failure modes, and why none leaves an execution stuck:
//!
//! | what happens | what deltaship does |
//! |--------------|---------------------|
//! | the event comes before the token is stored | the look after storing it sees the end and completes the wait |
//! | the event is lost (EventBridge delivery is best effort) | the wait times out after its fallback interval; the state machine looks once and waits again |
//! | the event comes twice, or both the look and an event see the end | the second `SendTask*` finds the token closed (`TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`): nothing to do ([`is_closed_token_error`]) |
//! | an event names a resource nobody waits on (another stack's build) | nothing is found; nothing is done |
//! | an event says "completed" but the look disagrees | the look wins; the wait goes on |

use serde::Deserialize;

use crate::failure::{ErrorKind, Failure};

/// What a wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// A CodeBuild build to end.
    Build,
    /// A service deployment to succeed.
    Rollout,
    /// deltaship's (or ECS's) rollback of a service deployment to end.
    Rollback,
}

impl WaitKind {
    /// The name in records and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Build => "build",
            Self::Rollout => "rollout",
            Self::Rollback => "rollback",
        }
    }

    /// The kind of a stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Build, Self::Rollout, Self::Rollback].into_iter().find(|kind| kind.name() == name)
    }
}

/// The partition key of the waits on a build: its ARN, as `CodeBuild Build State Change` names it
/// in `detail.build-id`.
pub fn build_resource(build_arn: &str) -> String {
    format!("build#{build_arn}")
}

/// The partition key of the waits on a service's deployments: the service's ARN, as
/// `ECS Deployment State Change` names it in `resources` (its `detail.deploymentId` is the older
/// `ecs-svc/...` id, not the service deployment's ARN).
pub fn service_resource(service_arn: &str) -> String {
    format!("service#{service_arn}")
}

/// The sort key of one wait: one per execution, service and kind.
pub fn waiter(execution: &str, service: &str, kind: WaitKind) -> String {
    format!("{execution}#{service}#{}", kind.name())
}

/// When a wait's record may go, in seconds since the Unix epoch: after the longest the wait can
/// take (`longest_seconds`, its fallback timeout) and an hour's margin, so that a record always
/// outlives its token.
pub fn expires_at(now: i64, longest_seconds: u32) -> i64 {
    now + i64::from(longest_seconds) + 3600
}

/// What a look means for a wait.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// Not over: leave the token waiting.
    Pending,
    /// Over and good: `SendTaskSuccess` with this output.
    Success(serde_json::Value),
    /// Over and bad: `SendTaskFailure` with this error name and cause.
    Failure {
        /// The stable error name, as the state machine's `Catch` names it.
        error: String,
        /// `{"errorType", "errorMessage"}` as JSON: what a Lambda error's cause holds, so that
        /// both kinds of failure read alike.
        cause: String,
    },
}

impl Completion {
    /// The completion of a failed look.
    pub fn of_failure(failure: &Failure) -> Self {
        Self::Failure { error: failure.kind.name().to_owned(), cause: cause_of(failure) }
    }
}

/// A failure as a Lambda error's cause: `{"errorType": ..., "errorMessage": ...}`.
pub fn cause_of(failure: &Failure) -> String {
    serde_json::json!({ "errorType": failure.kind.name(), "errorMessage": failure.message }).to_string()
}

/// Whether a `SendTaskSuccess`/`SendTaskFailure` error code means the token is closed already
/// (completed by the other side, timed out, or its execution ended): nothing left to do.
pub fn is_closed_token_error(code: &str) -> bool {
    matches!(code, "TaskTimedOut" | "TaskDoesNotExist" | "InvalidToken")
}

/// The events that wake waits, as EventBridge delivers them to wake-waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WakeEvent {
    /// `CodeBuild Build State Change`.
    Build {
        /// `detail.build-id`: the build's ARN.
        build_arn: String,
        /// `detail.build-status`.
        status: String,
    },
    /// `ECS Deployment State Change`.
    Deployment {
        /// `resources[0]`: the service's ARN.
        service_arn: String,
        /// `detail.eventName`, e.g. `SERVICE_DEPLOYMENT_COMPLETED`.
        event_name: String,
        /// `detail.deploymentId` (`ecs-svc/...`).
        deployment_id: Option<String>,
    },
}

impl WakeEvent {
    /// The waits table's partition key the event wakes.
    pub fn resource(&self) -> String {
        match self {
            Self::Build { build_arn, .. } => build_resource(build_arn),
            Self::Deployment { service_arn, .. } => service_resource(service_arn),
        }
    }
}

/// The EventBridge envelope, with only what deltaship reads (every other field, and every field
/// AWS adds later, is ignored).
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    detail: serde_json::Value,
}

/// Reads a wake-up event: an `InvalidInput` failure naming the problem if it is not an event
/// wake-waits handles, or lacks what it needs.
pub fn parse_wake(payload: serde_json::Value) -> Result<WakeEvent, Failure> {
    let envelope: Envelope = serde_json::from_value(payload)
        .map_err(|error| Failure::invalid_input(format!("wake-waits input: not an EventBridge event: {error}")))?;
    let text = |field: &str| envelope.detail.get(field).and_then(serde_json::Value::as_str).map(ToOwned::to_owned);
    match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.codebuild", "CodeBuild Build State Change") => {
            let build_arn = text("build-id").filter(|arn| arn.starts_with("arn:")).ok_or_else(|| {
                Failure::invalid_input("wake-waits input: a CodeBuild event without a build ARN in detail.build-id")
            })?;
            Ok(WakeEvent::Build { build_arn, status: text("build-status").unwrap_or_default() })
        }
        ("aws.ecs", "ECS Deployment State Change") => {
            let service_arn = envelope
                .resources
                .iter()
                .find(|resource| resource.starts_with("arn:") && resource.contains(":service/"))
                .cloned()
                .ok_or_else(|| {
                    Failure::invalid_input(
                        "wake-waits input: an ECS deployment event without a service ARN in resources",
                    )
                })?;
            Ok(WakeEvent::Deployment {
                service_arn,
                event_name: text("eventName").unwrap_or_default(),
                deployment_id: text("deploymentId"),
            })
        }
        (source, detail_type) => Err(Failure::new(
            ErrorKind::InvalidInput,
            format!(
                "wake-waits input: {detail_type:?} from {source:?} is not an event deltaship waits on (CodeBuild Build \
                 State Change, ECS Deployment State Change)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/../../tests/fixtures/aws/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn the_events_aws_sends_wake_the_right_resource() {
        for name in [
            "codebuild-build-state-change-succeeded",
            "codebuild-build-state-change-failed",
            "codebuild-build-state-change-in-progress",
        ] {
            match parse_wake(fixture(name)) {
                Ok(event @ WakeEvent::Build { .. }) => {
                    assert!(event.resource().starts_with("build#arn:aws:codebuild:"), "{name}: {event:?}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        for name in [
            "ecs-deployment-state-change-in-progress",
            "ecs-deployment-state-change-completed",
            "ecs-deployment-state-change-failed",
            "ecs-deployment-state-change-rollback-in-progress",
        ] {
            match parse_wake(fixture(name)) {
                Ok(event @ WakeEvent::Deployment { .. }) => {
                    assert!(event.resource().starts_with("service#arn:aws:ecs:"), "{name}: {event:?}");
                    assert!(!event.resource().contains("service-deployment"), "{name}: keyed by the service");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn other_events_and_broken_ones_are_invalid_input() {
        let cases = [
            (json!([]), "not an EventBridge event"),
            (
                json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
                "is not an event deltaship",
            ),
            (
                json!({"detail-type": "CodeBuild Build State Change", "source": "aws.codebuild", "detail": {"build-id": "x:1"}}),
                "without a build ARN",
            ),
            (
                json!({"detail-type": "ECS Deployment State Change", "source": "aws.ecs", "resources": [], "detail": {}}),
                "without a service ARN",
            ),
        ];
        for (payload, problem) in cases {
            let failure = parse_wake(payload).unwrap_err();
            assert_eq!(failure.kind, ErrorKind::InvalidInput);
            assert!(failure.message.contains(problem), "{failure}");
        }
    }

    #[test]
    fn keys_and_completions() {
        assert_eq!(waiter("shop-main-abc", "users", WaitKind::Rollback), "shop-main-abc#users#rollback");
        for kind in [WaitKind::Build, WaitKind::Rollout, WaitKind::Rollback] {
            assert_eq!(WaitKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(expires_at(1_000, 120), 1_000 + 120 + 3600);
        let failure = Failure::new(ErrorKind::BuildFailed, "build x failed");
        let Completion::Failure { error, cause } = Completion::of_failure(&failure) else {
            panic!("a failure completes as one")
        };
        assert_eq!(error, "BuildFailed");
        let cause: serde_json::Value = serde_json::from_str(&cause).unwrap_or_default();
        assert_eq!(cause, json!({"errorType": "BuildFailed", "errorMessage": "build x failed"}));
        for closed in ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"] {
            assert!(is_closed_token_error(closed), "{closed}");
        }
        for open in ["ThrottlingException", "AccessDeniedException", ""] {
            assert!(!is_closed_token_error(open), "{open}");
        }
    }
}
