//! request-approval's payloads: a service's promotion into an environment that needs an approval,
//! as the state machine's `lambda:invoke.waitForTaskToken` task sends it, and what the function
//! answers once the wait is recorded at its gate ([`crate::gates`]).

use serde::{Deserialize, Serialize};

use crate::CommitId;

/// request-approval's input: the push, the service, the environment it waits to be promoted
/// into, the image the promotion would deploy, and the task token the execution waits on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestApprovalInput {
    /// The task token (`$$.Task.Token`): `deltaship approve` completes it with
    /// [`crate::gates::Answer::Approved`], `deltaship reject` fails it with `Rejected`.
    pub task_token: String,
    /// The repository pushed to.
    pub repository: String,
    /// The branch pushed to.
    pub branch: String,
    /// The service.
    pub name: String,
    /// The environment the promotion is into.
    pub environment: String,
    /// The pushed commit.
    pub commit: CommitId,
    /// When it was pushed, in seconds since the Unix epoch (orders the pushes at a gate).
    pub pushed_at: i64,
    /// Who pushed (the event's `callerUserArn`), if known.
    #[serde(default)]
    pub pushed_by: Option<String>,
    /// The execution's name.
    pub execution: String,
    /// The image to promote, by digest (`<repository>@sha256:...`).
    pub image: String,
    /// How long the wait may last: the environment's `approval_timeout_hours` in seconds, the
    /// task's `TimeoutSeconds` too.
    pub timeout_seconds: u32,
}

/// What request-approval answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApprovalStatus {
    /// The wait is recorded at its gate and announced: `deltaship approve` or `reject` ends it,
    /// or its timeout, or a newer push of the service reaching the gate.
    Waiting,
}

/// request-approval's answer (the task's result comes from the token, not from this: this is
/// what the function's log and a direct invocation show). Every field is always present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestApprovalOutput {
    /// `WAITING`.
    pub status: ApprovalStatus,
    /// The gate: the waits table's partition key `gate#<repository>#<service>#<environment>`.
    pub gate: String,
    /// The wait's sort key at the gate: `<pushed_at:012>#<commit>`.
    pub waiter: String,
    /// When the wait times out (`not_promoted`), seconds since the Unix epoch.
    pub expires_at: i64,
    /// The executions whose older waits at the gate this push superseded (their tokens failed
    /// with `Superseded`, or were closed already), oldest first.
    pub superseded: Vec<String>,
    /// Whether the approvals topic was sent the notification (the function fails rather than
    /// answer without it).
    pub notified: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_input_takes_the_state_machines_payload_and_refuses_a_short_commit() {
        let payload = json!({
            "task_token": "token",
            "repository": "shop",
            "branch": "main",
            "name": "users",
            "environment": "production",
            "commit": "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901",
            "pushed_at": 1_700_000_000,
            "pushed_by": null,
            "execution": "shop-main-7f0103fa1b2c-0123456789",
            "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:ab",
            "timeout_seconds": 86_400
        });
        let input: RequestApprovalInput = serde_json::from_value(payload.clone()).unwrap();
        assert_eq!((input.pushed_by, input.commit.short()), (None, "7f0103fa1b2c"));
        let mut without = payload.clone();
        without.as_object_mut().unwrap().remove("pushed_by");
        assert!(serde_json::from_value::<RequestApprovalInput>(without).is_ok(), "pushed_by may be left out");
        let mut short = payload;
        short["commit"] = json!("7f0103f");
        assert!(serde_json::from_value::<RequestApprovalInput>(short).is_err());
    }

    #[test]
    fn the_output_is_flat_with_every_field() {
        let output = RequestApprovalOutput {
            status: ApprovalStatus::Waiting,
            gate: "gate#shop#users#production".into(),
            waiter: "001700000000#7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901".into(),
            expires_at: 1_700_086_400,
            superseded: Vec::new(),
            notified: true,
        };
        let json = serde_json::to_value(&output).unwrap();
        assert_eq!(
            json,
            json!({
                "status": "WAITING",
                "gate": "gate#shop#users#production",
                "waiter": "001700000000#7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901",
                "expires_at": 1_700_086_400,
                "superseded": [],
                "notified": true
            })
        );
        assert_eq!(serde_json::from_value::<RequestApprovalOutput>(json).unwrap(), output);
    }
}
