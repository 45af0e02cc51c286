//! rollback-service: rolls a failed or overdue service deployment back, safely
//! ([`deltaship_core::rollout::decide_rollback`]).
//!
//! | our service deployment | what it does | action |
//! |------------------------|--------------|--------|
//! | still the service's current one, `PENDING` or `IN_PROGRESS` | `StopServiceDeployment` `stopType` ROLLBACK (works even where no rollback was configured), then the state machine waits for the rollback's end | `ROLLBACK_REQUESTED` (by deltaship) |
//! | `ROLLBACK_REQUESTED`, `ROLLBACK_IN_PROGRESS` | nothing: ECS is rolling it back; the state machine waits for the end | `ECS_ROLLING_BACK` (by ECS) |
//! | `ROLLBACK_SUCCESSFUL` | nothing: ECS rolled it back | `ROLLED_BACK_BY_ECS` |
//! | `ROLLBACK_FAILED` | `RollbackFailed` error: the service needs a person | - |
//! | another deployment is the service's current one | nothing: rolling back would undo it | `LEFT_ALONE` |
//! | ended (`SUCCESSFUL` after its deadline, `STOPPED` without a rollback) and still current | `UpdateService` back to the previous revision, then the state machine waits for that deployment | `ROLLBACK_REQUESTED` (by deltaship) |

use aws_config::SdkConfig;
use aws_sdk_ecs::types::StopServiceDeploymentStopType;
use deltaship_core::payloads::{
    CheckRolloutOutput, RollbackAction, RollbackInput, RollbackOutput, RolledBackBy, RolloutStatus,
};
use deltaship_core::rollout::{Expect, RollbackDecision, decide_rollback};
use deltaship_core::{ErrorKind, Failure, RolloutWatch, Scope, WaitPolicy};

use crate::settings::{self, SettingsError, Source};
use crate::{Clock, Function, aws_error, ecs, input};

const FUNCTION: &str = "rollback-service";

/// The rollback-service function.
#[derive(Debug, Clone)]
pub struct RollbackService {
    ecs: aws_sdk_ecs::Client,
    wait: WaitPolicy,
    clock: Clock,
    scope: Scope,
}

impl RollbackService {
    /// The function with the given client and clock.
    pub fn from_client(ecs: aws_sdk_ecs::Client, wait: WaitPolicy, clock: Clock) -> Self {
        Self { ecs, wait, clock, scope: Scope::default() }
    }

    /// The same function, refusing what `scope` does not allow (the template's `ClusterName`).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }
}

impl Function for RollbackService {
    const NAME: &'static str = FUNCTION;
    /// The fallback timeouts of the wait for the rollback, and what it may touch.
    type Settings = (WaitPolicy, Scope);
    type Output = RollbackOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((settings::rollout_wait(source)?, settings::scope(source)))
    }

    fn build(config: &SdkConfig, (wait, scope): &Self::Settings) -> Self {
        Self::from_client(aws_sdk_ecs::Client::new(config), *wait, crate::system_clock).with_scope(scope.clone())
    }

    /// Rolls one service deployment back.
    async fn handle(&self, payload: serde_json::Value) -> Result<RollbackOutput, Failure> {
        let RollbackInput { watch, reason } = input::parse(FUNCTION, payload)?;
        for (field, value) in [
            ("watch.cluster", &watch.cluster),
            ("watch.service", &watch.service),
            ("watch.service_deployment", &watch.service_deployment),
            ("watch.previous_task_definition", &watch.previous_task_definition),
        ] {
            input::require(FUNCTION, field, value)?;
        }
        self.scope.check_service(&watch.cluster, &watch.service)?;
        let target = format!("{}/{}", watch.cluster, watch.service);
        let service = ecs::describe(&self.ecs, &watch.cluster, &watch.service).await?;
        let ours = ecs::describe_service_deployment(&self.ecs, &watch.service_deployment, &target).await?;
        let because = reason.map(|reason| format!(" after: {reason}")).unwrap_or_default();
        let current = service.snapshot.current_service_deployment.as_deref();
        let output = match decide_rollback(&ours, current) {
            RollbackDecision::RollbackFailed => {
                return Err(Failure::new(
                    ErrorKind::RollbackFailed,
                    format!(
                        "ECS's rollback of service deployment {} of {target} failed{}; the service needs a person",
                        watch.service_deployment,
                        ours.status_reason.map(|reason| format!(": {reason}")).unwrap_or_default()
                    ),
                ));
            }
            RollbackDecision::RolledBackByEcs => RollbackOutput {
                action: RollbackAction::RolledBackByEcs,
                rolled_back_by: Some(RolledBackBy::Ecs),
                task_definition: watch.previous_task_definition.clone(),
                rollout: None,
                message: format!("ECS rolled {target} back: {}", deltaship_core::rollout::why_rolled_back(&ours)),
                service_url: ecs::service_url(&self.ecs, &watch.cluster, &watch.service),
            },
            RollbackDecision::LeaveAlone { current } => RollbackOutput {
                action: RollbackAction::LeftAlone,
                rolled_back_by: None,
                task_definition: service.snapshot.task_definition.clone(),
                rollout: None,
                message: format!(
                    "{target} is being deployed by service deployment {current} since ours; not rolled back so as not \
                     to undo it{because}"
                ),
                service_url: ecs::service_url(&self.ecs, &watch.cluster, &watch.service),
            },
            RollbackDecision::AwaitEcs => self.await_rollback(
                RollbackAction::EcsRollingBack,
                RolledBackBy::Ecs,
                watch.clone(),
                Expect::RolledBack,
                format!("ECS is rolling {target} back: {}", deltaship_core::rollout::why_rolled_back(&ours)),
            ),
            RollbackDecision::Stop => {
                self.ecs
                    .stop_service_deployment()
                    .service_deployment_arn(&watch.service_deployment)
                    .stop_type(StopServiceDeploymentStopType::Rollback)
                    .send()
                    .await
                    .map_err(|err| {
                        aws_error::failure(
                            "StopServiceDeployment",
                            &target,
                            &err,
                            &[("ServiceDeploymentNotFoundException", ErrorKind::ServiceNotFound)],
                        )
                    })?;
                self.await_rollback(
                    RollbackAction::RollbackRequested,
                    RolledBackBy::Deltaship,
                    watch.clone(),
                    Expect::RolledBack,
                    format!(
                        "deltaship stopped service deployment {} of {target} to roll it back{because}",
                        watch.service_deployment
                    ),
                )
            }
            RollbackDecision::Redeploy => {
                let updated = self
                    .ecs
                    .update_service()
                    .cluster(&watch.cluster)
                    .service(&watch.service)
                    .task_definition(&watch.previous_task_definition)
                    .send()
                    .await
                    .map_err(|err| {
                        let mut specific = ecs::NOT_FOUND.to_vec();
                        specific.push(("ClientException", ErrorKind::TaskDefinitionNotFound));
                        aws_error::failure("UpdateService", &target, &err, &specific)
                    })?;
                let redeployed = updated.service().map(ecs::DescribedService::of).and_then(|service| {
                    let arn = service.snapshot.current_service_deployment.clone()?;
                    Some((arn, service))
                });
                let Some((service_deployment, described)) = redeployed else {
                    return Err(Failure::new(
                        ErrorKind::RollbackFailed,
                        format!(
                            "UpdateService {target} back to {}: ECS names no service deployment",
                            watch.previous_task_definition
                        ),
                    ));
                };
                let back = RolloutWatch {
                    service_deployment,
                    deployment_id: described.primary.unwrap_or_default(),
                    task_definition: watch.previous_task_definition.clone(),
                    expect: Expect::Deployed,
                    ..watch.clone()
                };
                self.await_rollback(
                    RollbackAction::RollbackRequested,
                    RolledBackBy::Deltaship,
                    back,
                    Expect::Deployed,
                    format!(
                        "deltaship deployed {target} back to {} (service deployment {} had ended {}){because}",
                        watch.previous_task_definition, watch.service_deployment, ours.status
                    ),
                )
            }
        };
        tracing::warn!(service = watch.name, action = ?output.action, "{}", output.message);
        Ok(output)
    }
}

impl RollbackService {
    /// The answer when the state machine waits for a rollback: `watch`, expecting `expect` (the
    /// rollback's end, or the success of a redeploy of the previous revision), with a deadline as
    /// long as the rollout's own.
    fn await_rollback(
        &self,
        action: RollbackAction,
        by: RolledBackBy,
        watch: RolloutWatch,
        expect: Expect,
        message: String,
    ) -> RollbackOutput {
        let now = (self.clock)();
        let seconds = (watch.deadline - watch.started_at).max(60);
        let watch = RolloutWatch { expect, started_at: now, deadline: now + seconds, ..watch };
        let service_url = ecs::service_url(&self.ecs, &watch.cluster, &watch.service);
        RollbackOutput {
            action,
            rolled_back_by: Some(by),
            task_definition: watch.previous_task_definition.clone(),
            rollout: Some(CheckRolloutOutput {
                status: RolloutStatus::InProgress,
                stage: None,
                wait_seconds: self.wait.next_before(0, u64::try_from(seconds).unwrap_or(0)),
                detail: message.clone(),
                service_url: service_url.clone(),
                watch,
            }),
            message,
            service_url,
        }
    }
}
