//! Judging an ECS rollout by the **service deployment** deltaship's `UpdateService` created, and
//! deciding how to roll it back.
//!
//! "The service is stable" is not success: when ECS rolls a deployment back, the service becomes
//! stable again on the *old* revision; and under BLUE_GREEN, LINEAR and CANARY a deployment whose
//! tasks all run is still shifting traffic or baking, and can still be rolled back by an alarm.
//! `Deployment.rolloutState` exists for ROLLING only. The one record that holds the truth under
//! every strategy is the service deployment (`Service.currentServiceDeployment` in the
//! `UpdateService` answer, read back with `DescribeServiceDeployments`); deltaship keeps its ARN
//! and judges that ([`judge_rollout`]).
//!
//! | our service deployment's `status` | verdict |
//! |-----------------------------------|---------|
//! | `PENDING`, `IN_PROGRESS` (any `lifecycleStage`, `BAKE_TIME` included), before the deadline | in progress: look again later |
//! | `PENDING`, `IN_PROGRESS`, at or past the deadline | `DeadlineExceeded` (deltaship rolls it back) |
//! | `SUCCESSFUL` | completed |
//! | `ROLLBACK_REQUESTED`, `ROLLBACK_IN_PROGRESS` | in progress: ECS is rolling back; wait for its end |
//! | `ROLLBACK_SUCCESSFUL` | `RolloutFailed`, rolled back by ECS: the cause names the circuit breaker (failure count and threshold), the triggered alarms, the failed lifecycle hook, or else ECS's `statusReason` |
//! | `ROLLBACK_FAILED` | `RollbackFailed` |
//! | `STOP_REQUESTED`, `STOPPED`, and the service's current deployment is another one | `DeploymentReplaced` (superseded: a newer deployment stopped ours) |
//! | `STOP_REQUESTED`, `STOPPED`, and ours is still the current one | `RolloutFailed` (stopped: failed with no rollback configured, or stopped by hand) |
//! | anything else (a status this version does not know) | `RolloutFailed`, naming the status |
//!
//! A deployment ECS rolled back is never "superseded", even when ECS returned the service to an
//! older revision than the one ours replaced (the circuit breaker goes back to the last
//! *completed* deployment): its status is `ROLLBACK_*`, which the table reads first.
//!
//! The same table holds for ROLLING, BLUE_GREEN, LINEAR and CANARY: the strategies differ in the
//! stages an `IN_PROGRESS` deployment goes through (traffic shifts, bake time), not in how it
//! ends. The stage is reported as progress.
//!
//! When deltaship itself rolls back ([`decide_rollback`]), it waits on the same service
//! deployment for the rollback's end ([`Expect::RolledBack`]): `ROLLBACK_SUCCESSFUL` is then the
//! completion, `ROLLBACK_FAILED` is `RollbackFailed`, a newer deployment that stopped it
//! (`STOP_REQUESTED`/`STOPPED` while another is current) is `DeploymentReplaced` (superseded:
//! the newer one wins), and every other status is in progress.
//!
//! A service whose deployment controller is not ECS (`CODE_DEPLOY`, `EXTERNAL`) has no service
//! deployments deltaship can judge: [`check_controller`] refuses it before any change.

use crate::failure::{ErrorKind, Failure};
use crate::payloads::RolloutWatch;
use crate::wait::WaitPolicy;

/// A service as `DescribeServices` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSnapshot {
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// The service's ARN.
    pub arn: String,
    /// `deploymentController.type`: `ECS` (also when absent), `CODE_DEPLOY` or `EXTERNAL`.
    pub controller: Option<String>,
    /// `deploymentConfiguration.strategy`: `ROLLING` (also when absent), `BLUE_GREEN`, `LINEAR`,
    /// `CANARY`.
    pub strategy: Option<String>,
    /// `currentServiceDeployment`: the ARN of the service's latest service deployment.
    pub current_service_deployment: Option<String>,
    /// The task definition the service runs.
    pub task_definition: String,
    /// The service's desired task count.
    pub desired_count: i32,
}

/// One service deployment, as `DescribeServiceDeployments` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDeploymentSnapshot {
    /// `serviceDeploymentArn`.
    pub arn: String,
    /// `status`: `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `STOP_REQUESTED`,
    /// `ROLLBACK_REQUESTED`, `ROLLBACK_IN_PROGRESS`, `ROLLBACK_SUCCESSFUL`, `ROLLBACK_FAILED`.
    pub status: String,
    /// `statusReason`, ECS's words.
    pub status_reason: Option<String>,
    /// `lifecycleStage`, e.g. `SCALE_UP`, `BAKE_TIME`, `CLEAN_UP`.
    pub lifecycle_stage: Option<String>,
    /// `deploymentConfiguration.strategy`, when reported.
    pub strategy: Option<String>,
    /// `targetServiceRevision`: requested, running and pending tasks.
    pub target_tasks: Option<TaskCounts>,
    /// `rollback.reason`, when ECS rolled back.
    pub rollback_reason: Option<String>,
    /// `deploymentCircuitBreaker`: (status, failure count, threshold), when reported.
    pub circuit_breaker: Option<(String, i32, i32)>,
    /// `alarms.status` and `alarms.triggeredAlarmNames`, when reported.
    pub alarms: Option<(String, Vec<String>)>,
    /// `lifecycleHookDetails` whose `status` is `FAILED`: the hook's target (`targetArn`, else
    /// its `hookId`).
    pub failed_hooks: Vec<String>,
}

/// Tasks of a service revision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// `requestedTaskCount`.
    pub requested: i32,
    /// `runningTaskCount`.
    pub running: i32,
    /// `pendingTaskCount`.
    pub pending: i32,
}

/// What deltaship is waiting for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// The deployment to succeed (the rollout).
    #[default]
    Deployed,
    /// The rollback deltaship requested to end.
    RolledBack,
}

/// What a look at the service deployment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutVerdict {
    /// Still rolling out (or rolling back): look again after this many seconds.
    InProgress {
        /// The wait before the next look.
        wait_seconds: u32,
        /// The status, stage and task counts, for the log.
        progress: String,
    },
    /// What deltaship waited for happened: the deployment succeeded, or (when waiting for a
    /// rollback) the service is back on its previous revision.
    Completed {
        /// How it ended, in a sentence.
        note: String,
    },
    /// Failed, rolled back, replaced, or past the deadline (see the module's table).
    Failed(Failure),
}

/// The service deployment statuses that end a deployment.
pub const TERMINAL_STATUSES: [&str; 4] = ["SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"];

/// A [`ErrorKind::ServiceNotFound`] failure unless the service (`target`, `cluster/service`) is
/// ACTIVE: a DRAINING or INACTIVE service can be neither deployed, judged nor rolled back.
pub fn ensure_active(service: &ServiceSnapshot, target: &str) -> Result<(), Failure> {
    if service.status == "ACTIVE" {
        Ok(())
    } else {
        Err(Failure::new(ErrorKind::ServiceNotFound, format!("service {target} is {}, not ACTIVE", service.status)))
    }
}

/// Refuses a service whose deployment controller is not ECS: CodeDeploy and external
/// controllers deploy through task sets, which have no service deployment to judge.
pub fn check_controller(service: &ServiceSnapshot, target: &str) -> Result<(), Failure> {
    match service.controller.as_deref() {
        None | Some("ECS") => Ok(()),
        Some(other) => Err(Failure::new(
            ErrorKind::UnsupportedDeploymentController,
            format!(
                "service {target} uses the {other} deployment controller; deltaship deploys services whose \
                 deploymentController is ECS (any strategy: ROLLING, BLUE_GREEN, LINEAR, CANARY). Nothing was changed."
            ),
        )),
    }
}

/// Judges the watched service deployment at `now` (seconds since the Unix epoch), given the
/// service's current service deployment (`current`, `None` if ECS named none).
pub fn judge_rollout(
    watch: &RolloutWatch,
    deployment: &ServiceDeploymentSnapshot,
    current: Option<&str>,
    now: i64,
    wait: WaitPolicy,
) -> RolloutVerdict {
    let target = format!("{}/{}", watch.cluster, watch.service);
    let ours = short_arn(&watch.service_deployment);
    let progress = progress(deployment);
    let in_progress = || {
        let elapsed = u64::try_from(now - watch.started_at).unwrap_or(0);
        let remaining = u64::try_from(watch.deadline - now).unwrap_or(0);
        RolloutVerdict::InProgress { wait_seconds: wait.next_before(elapsed, remaining), progress: progress.clone() }
    };
    let past_deadline = || now >= watch.deadline;
    let minutes = (watch.deadline - watch.started_at).max(0) / 60;

    if watch.expect == Expect::RolledBack {
        return match deployment.status.as_str() {
            "ROLLBACK_SUCCESSFUL" => RolloutVerdict::Completed {
                note: format!("service deployment {ours} of {target} was rolled back: {}", why_rolled_back(deployment)),
            },
            "ROLLBACK_FAILED" => RolloutVerdict::Failed(rollback_failed(deployment, &ours, &target)),
            "STOP_REQUESTED" | "STOPPED" if current.is_some_and(|current| current != watch.service_deployment) => {
                RolloutVerdict::Failed(Failure::new(
                    ErrorKind::DeploymentReplaced,
                    format!(
                        "the rollback of service deployment {ours} of {target} was stopped: service deployment {} \
                         replaced it",
                        short_arn(current.unwrap_or_default())
                    ),
                ))
            }
            "SUCCESSFUL" | "STOPPED" => RolloutVerdict::Failed(Failure::new(
                ErrorKind::RollbackFailed,
                format!(
                    "service deployment {ours} of {target} ended {} instead of rolling back{}",
                    deployment.status,
                    reason_suffix(deployment.status_reason.as_deref())
                ),
            )),
            _ if past_deadline() => RolloutVerdict::Failed(Failure::new(
                ErrorKind::RollbackFailed,
                format!(
                    "the rollback of service deployment {ours} of {target} did not end within {minutes} minutes: {progress}"
                ),
            )),
            _ => in_progress(),
        };
    }

    match deployment.status.as_str() {
        "SUCCESSFUL" => {
            RolloutVerdict::Completed { note: format!("service deployment {ours} of {target} succeeded ({progress})") }
        }
        "PENDING" | "IN_PROGRESS" if past_deadline() => RolloutVerdict::Failed(Failure::new(
            ErrorKind::DeadlineExceeded,
            format!("service deployment {ours} of {target} did not complete within {minutes} minutes: {progress}"),
        )),
        "PENDING" | "IN_PROGRESS" | "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => in_progress(),
        "ROLLBACK_SUCCESSFUL" => RolloutVerdict::Failed(Failure::new(
            ErrorKind::RolloutFailed,
            format!("service deployment {ours} of {target} was rolled back by ECS: {}", why_rolled_back(deployment)),
        )),
        "ROLLBACK_FAILED" => RolloutVerdict::Failed(rollback_failed(deployment, &ours, &target)),
        "STOP_REQUESTED" | "STOPPED" => match current {
            Some(current) if current != watch.service_deployment => RolloutVerdict::Failed(Failure::new(
                ErrorKind::DeploymentReplaced,
                format!(
                    "service deployment {ours} of {target} was stopped: service deployment {} replaced it{}",
                    short_arn(current),
                    reason_suffix(deployment.status_reason.as_deref())
                ),
            )),
            _ => RolloutVerdict::Failed(Failure::new(
                ErrorKind::RolloutFailed,
                format!(
                    "service deployment {ours} of {target} was stopped before it completed{}",
                    reason_suffix(deployment.status_reason.as_deref())
                ),
            )),
        },
        other => RolloutVerdict::Failed(Failure::new(
            ErrorKind::RolloutFailed,
            format!("service deployment {ours} of {target} has status {other:?}, which deltaship does not know"),
        )),
    }
}

/// Why ECS rolled a deployment back, from the most specific record it keeps.
pub fn why_rolled_back(deployment: &ServiceDeploymentSnapshot) -> String {
    if let Some((status, failures, threshold)) = &deployment.circuit_breaker
        && status == "TRIGGERED"
    {
        return format!("the deployment circuit breaker tripped ({failures} failed tasks, threshold {threshold})");
    }
    if let Some((status, triggered)) = &deployment.alarms
        && (status == "TRIGGERED" || !triggered.is_empty())
    {
        return format!("CloudWatch alarms went off: {}", triggered.join(", "));
    }
    if !deployment.failed_hooks.is_empty() {
        let stage = deployment.lifecycle_stage.as_deref().map(|stage| format!(" at {stage}")).unwrap_or_default();
        return format!("the lifecycle hook {} failed{stage}", deployment.failed_hooks.join(", "));
    }
    deployment
        .rollback_reason
        .clone()
        .or_else(|| deployment.status_reason.clone())
        .unwrap_or_else(|| "ECS gave no reason".to_owned())
}

fn rollback_failed(deployment: &ServiceDeploymentSnapshot, ours: &str, target: &str) -> Failure {
    Failure::new(
        ErrorKind::RollbackFailed,
        format!(
            "the rollback of service deployment {ours} of {target} failed{}; the service needs a person",
            reason_suffix(deployment.status_reason.as_deref())
        ),
    )
}

fn reason_suffix(reason: Option<&str>) -> String {
    reason.map(|reason| format!(": {reason}")).unwrap_or_default()
}

/// The last part of a service deployment ARN (`.../service-deployment/<cluster>/<service>/<id>`).
fn short_arn(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

/// The status, stage and task counts of a deployment, for progress lines.
fn progress(deployment: &ServiceDeploymentSnapshot) -> String {
    let mut text = deployment.status.clone();
    if let Some(stage) = &deployment.lifecycle_stage {
        text.push_str(&format!(" in {stage}"));
    }
    if let Some(tasks) = deployment.target_tasks {
        text.push_str(&format!(": {} of {} tasks running, {} pending", tasks.running, tasks.requested, tasks.pending));
    }
    text
}

/// What rollback-service does with a deployment that failed or passed its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackDecision {
    /// Ours is still the service's current deployment and still running: stop it with
    /// `StopServiceDeployment` `stopType` ROLLBACK, then wait for the rollback.
    Stop,
    /// ECS is rolling ours back already: wait for the rollback.
    AwaitEcs,
    /// ECS rolled ours back: nothing to do.
    RolledBackByEcs,
    /// ECS's rollback failed: the service needs a person.
    RollbackFailed,
    /// Another deployment replaced ours: rolling back would undo it. Leave it.
    LeaveAlone {
        /// The service's current deployment.
        current: String,
    },
    /// Ours ended (succeeded late, or stopped) and is still current: put the service back on the
    /// previous revision with `UpdateService`, then wait for that deployment.
    Redeploy,
}

/// Decides the rollback of `ours` on a service whose current service deployment is `current`.
pub fn decide_rollback(ours: &ServiceDeploymentSnapshot, current: Option<&str>) -> RollbackDecision {
    match ours.status.as_str() {
        "ROLLBACK_SUCCESSFUL" => return RollbackDecision::RolledBackByEcs,
        "ROLLBACK_FAILED" => return RollbackDecision::RollbackFailed,
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => return RollbackDecision::AwaitEcs,
        _ => {}
    }
    match current {
        Some(current) if current != ours.arn => RollbackDecision::LeaveAlone { current: current.to_owned() },
        _ if matches!(ours.status.as_str(), "PENDING" | "IN_PROGRESS") => RollbackDecision::Stop,
        _ => RollbackDecision::Redeploy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/users/ours";
    const NEWER: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/users/newer";
    const START: i64 = 1_700_000_000;

    fn watch(expect: Expect) -> RolloutWatch {
        RolloutWatch {
            name: "users".into(),
            execution: "shop-main-x".into(),
            cluster: "shop".into(),
            service: "users".into(),
            service_arn: "arn:aws:ecs:us-east-1:123456789012:service/shop/users".into(),
            service_deployment: ARN.into(),
            deployment_id: "ecs-svc/222".into(),
            task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/users:7".into(),
            previous_task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/users:6".into(),
            strategy: "ROLLING".into(),
            expect,
            started_at: START,
            deadline: START + 600,
        }
    }

    fn deployment(status: &str) -> ServiceDeploymentSnapshot {
        ServiceDeploymentSnapshot {
            arn: ARN.into(),
            status: status.into(),
            target_tasks: Some(TaskCounts { requested: 2, running: 1, pending: 1 }),
            ..ServiceDeploymentSnapshot::default()
        }
    }

    const WAIT: WaitPolicy = WaitPolicy { min_seconds: 30, max_seconds: 120 };

    fn judge(deployment: &ServiceDeploymentSnapshot, current: Option<&str>, now: i64) -> RolloutVerdict {
        judge_rollout(&watch(Expect::Deployed), deployment, current, now, WAIT)
    }

    fn failure(verdict: RolloutVerdict) -> Failure {
        match verdict {
            RolloutVerdict::Failed(failure) => failure,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// Every status, under the deadline and past it: the module's table, row by row.
    #[test]
    fn a_verdict_for_every_status() {
        enum Want {
            Waits,
            Completes,
            Fails(ErrorKind),
        }
        use Want::{Completes, Fails, Waits};
        let table = [
            ("PENDING", START + 60, Some(ARN), Waits),
            ("IN_PROGRESS", START + 60, Some(ARN), Waits),
            ("PENDING", START + 600, Some(ARN), Fails(ErrorKind::DeadlineExceeded)),
            ("IN_PROGRESS", START + 601, Some(ARN), Fails(ErrorKind::DeadlineExceeded)),
            ("SUCCESSFUL", START + 60, Some(ARN), Completes),
            ("SUCCESSFUL", START + 6000, Some(ARN), Completes),
            ("ROLLBACK_REQUESTED", START + 60, Some(ARN), Waits),
            ("ROLLBACK_IN_PROGRESS", START + 6000, Some(ARN), Waits),
            ("ROLLBACK_SUCCESSFUL", START + 60, Some(ARN), Fails(ErrorKind::RolloutFailed)),
            ("ROLLBACK_SUCCESSFUL", START + 60, Some(NEWER), Fails(ErrorKind::RolloutFailed)),
            ("ROLLBACK_FAILED", START + 60, Some(ARN), Fails(ErrorKind::RollbackFailed)),
            ("STOPPED", START + 60, Some(NEWER), Fails(ErrorKind::DeploymentReplaced)),
            ("STOP_REQUESTED", START + 60, Some(NEWER), Fails(ErrorKind::DeploymentReplaced)),
            ("STOPPED", START + 60, Some(ARN), Fails(ErrorKind::RolloutFailed)),
            ("STOPPED", START + 60, None, Fails(ErrorKind::RolloutFailed)),
            ("PAUSED_FOREVER", START + 60, Some(ARN), Fails(ErrorKind::RolloutFailed)),
        ];
        for (status, now, current, want) in table {
            let verdict = judge(&deployment(status), current, now);
            match (want, &verdict) {
                (Waits, RolloutVerdict::InProgress { .. }) | (Completes, RolloutVerdict::Completed { .. }) => {}
                (Fails(kind), RolloutVerdict::Failed(failure)) if failure.kind == kind => {}
                (_, other) => panic!("{status} at +{} with current {current:?}: got {other:?}", now - START),
            }
        }
    }

    #[test]
    fn every_strategy_is_judged_by_the_same_record_bake_time_included() {
        for strategy in ["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"] {
            let mut baking = deployment("IN_PROGRESS");
            baking.strategy = Some(strategy.into());
            baking.lifecycle_stage = Some("BAKE_TIME".into());
            baking.target_tasks = Some(TaskCounts { requested: 2, running: 2, pending: 0 });
            match judge(&baking, Some(ARN), START + 120) {
                RolloutVerdict::InProgress { wait_seconds, progress } => {
                    assert_eq!(wait_seconds, 120, "{strategy}");
                    assert_eq!(progress, "IN_PROGRESS in BAKE_TIME: 2 of 2 tasks running, 0 pending");
                }
                other => panic!("{strategy}: every task runs, but it still bakes: {other:?}"),
            }
        }
    }

    #[test]
    fn waits_back_off_and_never_pass_the_deadline() {
        let running = deployment("IN_PROGRESS");
        for (now, wait) in [(START + 5, 30), (START + 60, 60), (START + 300, 120), (START + 590, 10)] {
            match judge(&running, Some(ARN), now) {
                RolloutVerdict::InProgress { wait_seconds, .. } => assert_eq!(wait_seconds, wait, "at {}", now - START),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_rollback_says_why() {
        let mut breaker = deployment("ROLLBACK_SUCCESSFUL");
        breaker.circuit_breaker = Some(("TRIGGERED".into(), 3, 3));
        breaker.rollback_reason = Some("circuit breaker threshold exceeded".into());
        let mut alarm = deployment("ROLLBACK_SUCCESSFUL");
        alarm.alarms = Some(("TRIGGERED".into(), vec!["users-5xx".into(), "users-latency".into()]));
        alarm.circuit_breaker = Some(("DISABLED".into(), 0, 0));
        let mut hook = deployment("ROLLBACK_SUCCESSFUL");
        hook.failed_hooks = vec!["arn:aws:lambda:us-east-1:123456789012:function:smoke".into()];
        hook.lifecycle_stage = Some("POST_TEST_TRAFFIC_SHIFT".into());
        let mut plain = deployment("ROLLBACK_SUCCESSFUL");
        plain.status_reason = Some("rolled back by a user".into());
        let table = [
            (breaker, "the deployment circuit breaker tripped (3 failed tasks, threshold 3)"),
            (alarm, "CloudWatch alarms went off: users-5xx, users-latency"),
            (
                hook,
                "the lifecycle hook arn:aws:lambda:us-east-1:123456789012:function:smoke failed at POST_TEST_TRAFFIC_SHIFT",
            ),
            (plain, "rolled back by a user"),
        ];
        for (rolled_back, why) in table {
            let failure = failure(judge(&rolled_back, Some(NEWER), START + 60));
            assert_eq!(failure.kind, ErrorKind::RolloutFailed);
            assert_eq!(failure.message, format!("service deployment ours of shop/users was rolled back by ECS: {why}"));
        }
    }

    #[test]
    fn superseded_only_when_stopped_by_another_deployment() {
        let mut stopped = deployment("STOPPED");
        stopped.status_reason = Some("a new deployment started".into());
        let replaced = failure(judge(&stopped, Some(NEWER), START + 60));
        assert_eq!(
            replaced.message,
            "service deployment ours of shop/users was stopped: service deployment newer replaced it: a new deployment started"
        );
        // ECS rolled back to a revision older than the one ours replaced, and a new deployment is
        // current: still a rollback, not a replacement.
        let rolled_back = failure(judge(&deployment("ROLLBACK_SUCCESSFUL"), Some(NEWER), START + 60));
        assert_eq!(rolled_back.kind, ErrorKind::RolloutFailed);
    }

    #[test]
    fn waiting_for_our_own_rollback() {
        let judge_rollback = |status: &str, now: i64| {
            judge_rollout(&watch(Expect::RolledBack), &deployment(status), Some(ARN), now, WAIT)
        };
        assert!(matches!(judge_rollback("ROLLBACK_REQUESTED", START + 10), RolloutVerdict::InProgress { .. }));
        assert!(matches!(judge_rollback("ROLLBACK_IN_PROGRESS", START + 10), RolloutVerdict::InProgress { .. }));
        assert!(matches!(judge_rollback("IN_PROGRESS", START + 10), RolloutVerdict::InProgress { .. }));
        assert!(matches!(judge_rollback("ROLLBACK_SUCCESSFUL", START + 10), RolloutVerdict::Completed { .. }));
        let replaced = judge_rollout(&watch(Expect::RolledBack), &deployment("STOPPED"), Some(NEWER), START + 10, WAIT);
        assert_eq!(failure(replaced).kind, ErrorKind::DeploymentReplaced, "a newer push stopped our rollback");
        for (status, now) in
            [("ROLLBACK_FAILED", START + 10), ("SUCCESSFUL", START + 10), ("ROLLBACK_IN_PROGRESS", START + 600)]
        {
            assert_eq!(failure(judge_rollback(status, now)).kind, ErrorKind::RollbackFailed, "{status}");
        }
    }

    #[test]
    fn rollbacks_touch_only_our_running_deployment() {
        let table = [
            ("IN_PROGRESS", Some(ARN), RollbackDecision::Stop),
            ("PENDING", None, RollbackDecision::Stop),
            ("ROLLBACK_IN_PROGRESS", Some(ARN), RollbackDecision::AwaitEcs),
            ("ROLLBACK_REQUESTED", Some(NEWER), RollbackDecision::AwaitEcs),
            ("ROLLBACK_SUCCESSFUL", Some(NEWER), RollbackDecision::RolledBackByEcs),
            ("ROLLBACK_FAILED", Some(ARN), RollbackDecision::RollbackFailed),
            ("IN_PROGRESS", Some(NEWER), RollbackDecision::LeaveAlone { current: NEWER.into() }),
            ("STOPPED", Some(NEWER), RollbackDecision::LeaveAlone { current: NEWER.into() }),
            ("SUCCESSFUL", Some(ARN), RollbackDecision::Redeploy),
            ("STOPPED", Some(ARN), RollbackDecision::Redeploy),
        ];
        for (status, current, decision) in table {
            assert_eq!(decide_rollback(&deployment(status), current), decision, "{status} with current {current:?}");
        }
    }

    #[test]
    fn only_the_ecs_controller_is_deployed() {
        let mut service = ServiceSnapshot { status: "ACTIVE".into(), ..ServiceSnapshot::default() };
        for ok in [None, Some("ECS")] {
            service.controller = ok.map(Into::into);
            assert!(check_controller(&service, "shop/users").is_ok());
        }
        for refused in ["CODE_DEPLOY", "EXTERNAL"] {
            service.controller = Some(refused.into());
            let failure = check_controller(&service, "shop/users").unwrap_err();
            assert_eq!(failure.kind, ErrorKind::UnsupportedDeploymentController);
            assert!(failure.message.contains(refused), "{failure}");
        }
        service.status = "DRAINING".into();
        assert_eq!(ensure_active(&service, "shop/users").unwrap_err().kind, ErrorKind::ServiceNotFound);
    }
}
