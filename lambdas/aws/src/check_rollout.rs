//! check-rollout: looks at the deployment deploy-service created and judges it by its id (see
//! [`deltaship_core::rollout`] for every case, including the circuit-breaker rollback that
//! "services stable" would report as success).

use aws_config::SdkConfig;
use deltaship_core::payloads::{CheckRolloutOutput, RolloutStatus};
use deltaship_core::rollout::judge_rollout;
use deltaship_core::{Failure, RolloutVerdict, RolloutWatch, Scope, WaitPolicy};

use crate::settings::{self, SettingsError, Source};
use crate::{Clock, Function, ecs, input};

const FUNCTION: &str = "check-rollout";

/// The check-rollout function.
#[derive(Debug, Clone)]
pub struct CheckRollout {
    ecs: aws_sdk_ecs::Client,
    wait: WaitPolicy,
    clock: Clock,
    scope: Scope,
}

impl CheckRollout {
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

impl Function for CheckRollout {
    const NAME: &'static str = FUNCTION;
    /// The wait between looks at a rollout, and what it may touch.
    type Settings = (WaitPolicy, Scope);
    type Output = CheckRolloutOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((settings::rollout_wait(source)?, settings::scope(source)))
    }

    fn build(config: &SdkConfig, (wait, scope): &Self::Settings) -> Self {
        Self::from_client(aws_sdk_ecs::Client::new(config), *wait, crate::system_clock).with_scope(scope.clone())
    }

    /// Looks at one rollout.
    async fn handle(&self, payload: serde_json::Value) -> Result<CheckRolloutOutput, Failure> {
        let watch: RolloutWatch = input::parse(FUNCTION, payload)?;
        for (field, value) in
            [("cluster", &watch.cluster), ("service", &watch.service), ("deployment_id", &watch.deployment_id)]
        {
            input::require(FUNCTION, field, value)?;
        }
        self.scope.check_service(&watch.cluster, &watch.service)?;
        let described = ecs::describe(&self.ecs, &watch.cluster, &watch.service).await?;
        let mut output = CheckRolloutOutput {
            status: RolloutStatus::InProgress,
            deployment_id: watch.deployment_id.clone(),
            task_definition: watch.task_definition.clone(),
            wait_seconds: 0,
            detail: String::new(),
            service_url: ecs::service_url(&self.ecs, &watch.cluster, &watch.service),
        };
        match judge_rollout(&watch, &described.snapshot, (self.clock)(), self.wait) {
            RolloutVerdict::InProgress { wait_seconds, progress } => {
                output.wait_seconds = wait_seconds;
                output.detail = progress;
            }
            RolloutVerdict::Completed { note } => {
                tracing::info!(service = watch.name, deployment_id = watch.deployment_id, "rollout completed: {note}");
                output.status = RolloutStatus::Completed;
                output.detail = note;
            }
            RolloutVerdict::Failed(failure) => return Err(failure),
        }
        Ok(output)
    }
}
