//! Judging an ECS rollout by the deployment deltaship created, and deciding a rollback.
//!
//! "The service is stable" is not success: when the deployment circuit breaker rolls a
//! deployment back, the service becomes stable again on the *old* revision. So deltaship
//! judges the deployment its `UpdateService` created, by its id ([`judge_rollout`]):
//!
//! | what `DescribeServices` shows | verdict |
//! |-------------------------------|---------|
//! | ours is PRIMARY, `rolloutState` COMPLETED | completed |
//! | ours has `rolloutState` FAILED | `RolloutFailed`, with ECS's reason |
//! | ours is gone or no longer PRIMARY, the PRIMARY runs the previous revision | `RolloutFailed` (rolled back) |
//! | ours is gone or no longer PRIMARY, the PRIMARY runs another revision | `DeploymentReplaced` |
//! | ours is PRIMARY, IN_PROGRESS, before the deadline | in progress, look again later |
//! | ours is PRIMARY, not completed, at or past the deadline | `DeadlineExceeded` |
//! | ours is PRIMARY and alone, the service scaled to zero | completed (nothing to start) |
//! | ours is PRIMARY with no `rolloutState` (not the ECS controller) | completed once alone with all tasks running |
//! | the service is not ACTIVE | `ServiceNotFound` |
//!
//! [`decide_rollback`] makes the rollback safe: it rolls back only a service still running the
//! revision deltaship deployed, and leaves alone one that ECS already rolled back or that someone
//! else has deployed since.

use crate::failure::{ErrorKind, Failure};
use crate::payloads::RolloutWatch;
use crate::wait::WaitPolicy;

/// A service as `DescribeServices` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSnapshot {
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// The service's desired task count.
    pub desired_count: i32,
    /// Its deployments (PRIMARY, ACTIVE, and recently INACTIVE ones).
    pub deployments: Vec<DeploymentSnapshot>,
}

/// One deployment of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentSnapshot {
    /// The deployment id, `ecs-svc/<digits>`.
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// The task definition ARN it runs.
    pub task_definition: String,
    /// `rolloutState`: `COMPLETED`, `FAILED`, `IN_PROGRESS`; `None` when ECS does not report one.
    pub rollout_state: Option<String>,
    /// `rolloutStateReason`.
    pub rollout_state_reason: Option<String>,
    /// Tasks it wants.
    pub desired_count: i32,
    /// Tasks running.
    pub running_count: i32,
    /// Tasks pending.
    pub pending_count: i32,
    /// Tasks that failed to start.
    pub failed_tasks: i32,
}

/// What a look at the rollout found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutVerdict {
    /// Still rolling out: look again after this many seconds.
    InProgress {
        /// The wait before the next look.
        wait_seconds: u32,
        /// Tasks running / desired, for the log.
        progress: String,
    },
    /// Our deployment completed and serves the service.
    Completed {
        /// Anything worth saying about how it was judged.
        note: String,
    },
    /// Failed, rolled back, replaced, or past the deadline.
    Failed(Failure),
}

/// A [`ErrorKind::ServiceNotFound`] failure unless the service (`target`, `cluster/service`) is
/// ACTIVE: a DRAINING or INACTIVE service can be neither deployed, judged nor rolled back.
pub fn ensure_active(service: &ServiceSnapshot, target: &str) -> Result<(), Failure> {
    if service.status == "ACTIVE" {
        Ok(())
    } else {
        Err(Failure::new(ErrorKind::ServiceNotFound, format!("service {target} is {}, not ACTIVE", service.status)))
    }
}

/// Judges the watched deployment at `now` (seconds since the Unix epoch).
pub fn judge_rollout(watch: &RolloutWatch, service: &ServiceSnapshot, now: i64, wait: WaitPolicy) -> RolloutVerdict {
    let target = format!("{}/{}", watch.cluster, watch.service);
    if let Err(failure) = ensure_active(service, &target) {
        return RolloutVerdict::Failed(failure);
    }
    let ours = service.deployments.iter().find(|deployment| deployment.id == watch.deployment_id);
    let primary = service.deployments.iter().find(|deployment| deployment.status == "PRIMARY");

    if let Some(deployment) = ours {
        if deployment.rollout_state.as_deref() == Some("FAILED") {
            let reason = deployment.rollout_state_reason.as_deref().unwrap_or("ECS gave no reason");
            return RolloutVerdict::Failed(Failure::new(
                ErrorKind::RolloutFailed,
                format!(
                    "deployment {} of {target} failed ({} failed tasks): {reason}",
                    deployment.id, deployment.failed_tasks
                ),
            ));
        }
        if deployment.status == "PRIMARY" {
            return judge_primary(watch, service, deployment, now, wait, &target);
        }
    }
    RolloutVerdict::Failed(replaced(watch, primary, &target))
}

fn judge_primary(
    watch: &RolloutWatch,
    service: &ServiceSnapshot,
    ours: &DeploymentSnapshot,
    now: i64,
    wait: WaitPolicy,
    target: &str,
) -> RolloutVerdict {
    let alone =
        service.deployments.iter().all(|deployment| deployment.id == ours.id || deployment.status == "INACTIVE");
    let progress = format!(
        "{} of {} tasks running, {} pending, {} failed",
        ours.running_count, ours.desired_count, ours.pending_count, ours.failed_tasks
    );
    match ours.rollout_state.as_deref() {
        Some("COMPLETED") => return RolloutVerdict::Completed { note: progress },
        _ if ours.desired_count == 0 && alone => {
            return RolloutVerdict::Completed {
                note: format!(
                    "service {target} is scaled to zero: nothing to start; the new revision runs when it scales up"
                ),
            };
        }
        None if alone && ours.running_count >= ours.desired_count && ours.pending_count == 0 => {
            return RolloutVerdict::Completed {
                note: format!(
                    "no rolloutState reported (not the ECS deployment controller); judged by task counts: {progress}"
                ),
            };
        }
        _ => {}
    }
    if now >= watch.deadline {
        let minutes = (watch.deadline - watch.started_at).max(0) / 60;
        return RolloutVerdict::Failed(Failure::new(
            ErrorKind::DeadlineExceeded,
            format!("deployment {} of {target} did not complete within {minutes} minutes: {progress}", ours.id),
        ));
    }
    let elapsed = u64::try_from(now - watch.started_at).unwrap_or(0);
    let remaining = u64::try_from(watch.deadline - now).unwrap_or(0);
    RolloutVerdict::InProgress { wait_seconds: wait.next_before(elapsed, remaining), progress }
}

fn replaced(watch: &RolloutWatch, primary: Option<&DeploymentSnapshot>, target: &str) -> Failure {
    let id = &watch.deployment_id;
    match primary {
        Some(primary) if primary.task_definition == watch.previous_task_definition => Failure::new(
            ErrorKind::RolloutFailed,
            format!(
                "deployment {id} of {target} was rolled back: the service runs the previous revision {} again \
                 (deployment {}){}",
                watch.previous_task_definition,
                primary.id,
                primary.rollout_state_reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default()
            ),
        ),
        Some(primary) => Failure::new(
            ErrorKind::DeploymentReplaced,
            format!(
                "deployment {id} of {target} was replaced by deployment {} of {} before it completed",
                primary.id, primary.task_definition
            ),
        ),
        None => Failure::new(
            ErrorKind::RolloutFailed,
            format!("deployment {id} of {target} is gone and the service has no primary deployment"),
        ),
    }
}

/// What rollback-service should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackDecision {
    /// The service still runs our revision: update it to the previous one.
    RollBack,
    /// The service already runs the previous revision (the circuit breaker rolled it back).
    AlreadyRolledBack,
    /// The service runs a revision deltaship did not deploy here: someone deployed since, and
    /// rolling back would overwrite their work. Leave it.
    LeaveAlone {
        /// The revision the service runs now.
        current: String,
    },
}

/// Decides a rollback from the service's PRIMARY revision.
pub fn decide_rollback(watch_task_definition: &str, previous_task_definition: &str, current: &str) -> RollbackDecision {
    if current == previous_task_definition {
        RollbackDecision::AlreadyRolledBack
    } else if current == watch_task_definition {
        RollbackDecision::RollBack
    } else {
        RollbackDecision::LeaveAlone { current: current.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/users:6";
    const NEW: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/users:7";
    const OTHER: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/users:8";
    const START: i64 = 1_700_000_000;

    fn watch() -> RolloutWatch {
        RolloutWatch {
            name: "users".into(),
            cluster: "shop".into(),
            service: "users".into(),
            deployment_id: "ecs-svc/222".into(),
            task_definition: NEW.into(),
            previous_task_definition: OLD.into(),
            started_at: START,
            deadline: START + 600,
        }
    }

    fn deployment(id: &str, status: &str, task_definition: &str, rollout: Option<&str>) -> DeploymentSnapshot {
        DeploymentSnapshot {
            id: id.into(),
            status: status.into(),
            task_definition: task_definition.into(),
            rollout_state: rollout.map(Into::into),
            rollout_state_reason: None,
            desired_count: 2,
            running_count: 1,
            pending_count: 1,
            failed_tasks: 0,
        }
    }

    fn service(deployments: Vec<DeploymentSnapshot>) -> ServiceSnapshot {
        ServiceSnapshot { status: "ACTIVE".into(), desired_count: 2, deployments }
    }

    fn judge(service: &ServiceSnapshot, now: i64) -> RolloutVerdict {
        judge_rollout(&watch(), service, now, WaitPolicy::ROLLOUT)
    }

    fn failure(verdict: RolloutVerdict) -> Failure {
        match verdict {
            RolloutVerdict::Failed(failure) => failure,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn completed_and_primary_is_success() {
        let mut ours = deployment("ecs-svc/222", "PRIMARY", NEW, Some("COMPLETED"));
        ours.running_count = 2;
        ours.pending_count = 0;
        let verdict = judge(&service(vec![ours]), START + 120);
        assert_eq!(verdict, RolloutVerdict::Completed { note: "2 of 2 tasks running, 0 pending, 0 failed".into() });
    }

    #[test]
    fn in_progress_waits_and_backs_off_but_not_past_the_deadline() {
        let current = service(vec![
            deployment("ecs-svc/222", "PRIMARY", NEW, Some("IN_PROGRESS")),
            deployment("ecs-svc/111", "ACTIVE", OLD, Some("COMPLETED")),
        ]);
        let cases = [(START + 5, 30), (START + 60, 60), (START + 300, 120), (START + 590, 10)];
        for (now, wait) in cases {
            match judge(&current, now) {
                RolloutVerdict::InProgress { wait_seconds, progress } => {
                    assert_eq!(wait_seconds, wait, "at {}", now - START);
                    assert_eq!(progress, "1 of 2 tasks running, 1 pending, 0 failed");
                }
                other => panic!("at {}: {other:?}", now - START),
            }
        }
    }

    #[test]
    fn past_the_deadline_is_deadline_exceeded() {
        let current = service(vec![deployment("ecs-svc/222", "PRIMARY", NEW, Some("IN_PROGRESS"))]);
        for now in [START + 600, START + 10_000] {
            let failure = failure(judge(&current, now));
            assert_eq!(failure.kind, ErrorKind::DeadlineExceeded);
            assert_eq!(
                failure.message,
                "deployment ecs-svc/222 of shop/users did not complete within 10 minutes: 1 of 2 tasks running, 1 \
                 pending, 0 failed"
            );
        }
    }

    #[test]
    fn a_failed_rollout_state_is_a_failure_with_the_ecs_reason() {
        let mut ours = deployment("ecs-svc/222", "PRIMARY", NEW, Some("FAILED"));
        ours.rollout_state_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
        ours.failed_tasks = 10;
        let failure = failure(judge(&service(vec![ours]), START + 60));
        assert_eq!(failure.kind, ErrorKind::RolloutFailed);
        assert_eq!(
            failure.message,
            "deployment ecs-svc/222 of shop/users failed (10 failed tasks): ECS deployment circuit breaker: tasks \
             failed to start."
        );
    }

    #[test]
    fn a_circuit_breaker_rollback_that_is_stable_again_is_a_failure() {
        // ECS rolled back: a new PRIMARY on the old revision, COMPLETED; ours is gone. The service is
        // "stable", which other tools report as success.
        let mut rollback = deployment("ecs-svc/333", "PRIMARY", OLD, Some("COMPLETED"));
        rollback.running_count = 2;
        rollback.pending_count = 0;
        rollback.rollout_state_reason = Some("ECS deployment ecs-svc/333 completed.".into());
        for deployments in
            [vec![rollback.clone()], vec![rollback, deployment("ecs-svc/222", "INACTIVE", NEW, Some("IN_PROGRESS"))]]
        {
            let failure = failure(judge(&service(deployments), START + 200));
            assert_eq!(failure.kind, ErrorKind::RolloutFailed);
            assert!(failure.message.contains("was rolled back"), "{failure}");
            assert!(failure.message.contains(OLD), "{failure}");
        }
    }

    #[test]
    fn a_deployment_replaced_by_another_is_not_success() {
        for ours_left in [vec![], vec![deployment("ecs-svc/222", "ACTIVE", NEW, Some("IN_PROGRESS"))]] {
            let mut deployments = vec![deployment("ecs-svc/444", "PRIMARY", OTHER, Some("IN_PROGRESS"))];
            deployments.extend(ours_left);
            let failure = failure(judge(&service(deployments), START + 60));
            assert_eq!(failure.kind, ErrorKind::DeploymentReplaced);
            assert_eq!(
                failure.message,
                format!(
                    "deployment ecs-svc/222 of shop/users was replaced by deployment ecs-svc/444 of {OTHER} before it completed"
                )
            );
        }
    }

    #[test]
    fn a_service_scaled_to_zero_completes_at_once() {
        let mut ours = deployment("ecs-svc/222", "PRIMARY", NEW, Some("IN_PROGRESS"));
        ours.desired_count = 0;
        ours.running_count = 0;
        ours.pending_count = 0;
        let mut scaled = service(vec![ours]);
        scaled.desired_count = 0;
        match judge(&scaled, START + 30) {
            RolloutVerdict::Completed { note } => assert!(note.contains("scaled to zero"), "{note}"),
            other => panic!("{other:?}"),
        }
        // Not alone yet: the old deployment is still draining, so wait.
        scaled.deployments.push(deployment("ecs-svc/111", "ACTIVE", OLD, Some("COMPLETED")));
        assert!(matches!(judge(&scaled, START + 30), RolloutVerdict::InProgress { .. }));
    }

    #[test]
    fn without_a_rollout_state_counts_decide() {
        let mut ours = deployment("ecs-svc/222", "PRIMARY", NEW, None);
        let mut old = deployment("ecs-svc/111", "ACTIVE", OLD, None);
        old.running_count = 1;
        assert!(matches!(judge(&service(vec![ours.clone(), old]), START + 30), RolloutVerdict::InProgress { .. }));
        assert!(matches!(judge(&service(vec![ours.clone()]), START + 30), RolloutVerdict::InProgress { .. }));
        ours.running_count = 2;
        ours.pending_count = 0;
        match judge(&service(vec![ours.clone()]), START + 30) {
            RolloutVerdict::Completed { note } => assert!(note.contains("no rolloutState"), "{note}"),
            other => panic!("{other:?}"),
        }
        // And past the deadline without completing, it is exceeded like any other.
        ours.running_count = 1;
        assert_eq!(failure(judge(&service(vec![ours]), START + 601)).kind, ErrorKind::DeadlineExceeded);
    }

    #[test]
    fn an_inactive_service_is_not_found() {
        let mut gone = service(vec![]);
        gone.status = "INACTIVE".into();
        let inactive = failure(judge(&gone, START));
        assert_eq!(inactive.kind, ErrorKind::ServiceNotFound);
        assert_eq!(inactive.message, "service shop/users is INACTIVE, not ACTIVE");
        let no_primary = failure(judge(&service(vec![]), START));
        assert_eq!(no_primary.kind, ErrorKind::RolloutFailed, "no primary at all: {no_primary}");
    }

    #[test]
    fn rollbacks_touch_only_a_service_still_on_our_revision() {
        assert_eq!(decide_rollback(NEW, OLD, NEW), RollbackDecision::RollBack);
        assert_eq!(decide_rollback(NEW, OLD, OLD), RollbackDecision::AlreadyRolledBack);
        assert_eq!(decide_rollback(NEW, OLD, OTHER), RollbackDecision::LeaveAlone { current: OTHER.into() });
    }
}
