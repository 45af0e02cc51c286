//! rollback-service: puts a service back on the revision it ran before deltaship's deployment.
//!
//! It rolls back only a service that still runs the revision deltaship deployed. One that ECS's
//! circuit breaker already put back is left as it is (`ALREADY_ROLLED_BACK`), and one that runs a
//! revision someone deployed since is not touched (`LEFT_ALONE`): rolling it back would undo
//! their deployment.

use aws_config::SdkConfig;
use deltaship_core::payloads::{RollbackAction, RollbackInput, RollbackOutput};
use deltaship_core::rollout::decide_rollback;
use deltaship_core::{ErrorKind, Failure, RollbackDecision, Scope};

use crate::settings::{self, SettingsError, Source};
use crate::{Function, aws_error, ecs, input};

const FUNCTION: &str = "rollback-service";

/// The rollback-service function.
#[derive(Debug, Clone)]
pub struct RollbackService {
    ecs: aws_sdk_ecs::Client,
    scope: Scope,
}

impl RollbackService {
    /// The function with the given client.
    pub fn from_client(ecs: aws_sdk_ecs::Client) -> Self {
        Self { ecs, scope: Scope::default() }
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
    /// What it may touch.
    type Settings = Scope;
    type Output = RollbackOutput;

    fn read_settings(source: &dyn Source) -> Result<Scope, SettingsError> {
        Ok(settings::scope(source))
    }

    fn build(config: &SdkConfig, scope: &Scope) -> Self {
        Self::from_client(aws_sdk_ecs::Client::new(config)).with_scope(scope.clone())
    }

    /// Rolls one service back.
    async fn handle(&self, payload: serde_json::Value) -> Result<RollbackOutput, Failure> {
        let RollbackInput { watch, reason } = input::parse(FUNCTION, payload)?;
        for (field, value) in [
            ("cluster", &watch.cluster),
            ("service", &watch.service),
            ("task_definition", &watch.task_definition),
            ("previous_task_definition", &watch.previous_task_definition),
        ] {
            input::require(FUNCTION, field, value)?;
        }
        self.scope.check_service(&watch.cluster, &watch.service)?;
        let target = format!("{}/{}", watch.cluster, watch.service);
        let current = ecs::describe(&self.ecs, &watch.cluster, &watch.service).await?.task_definition;
        let service_url = ecs::service_url(&self.ecs, &watch.cluster, &watch.service);
        let because = reason.map(|reason| format!(" after: {reason}")).unwrap_or_default();
        let output = match decide_rollback(&watch.task_definition, &watch.previous_task_definition, &current) {
            RollbackDecision::AlreadyRolledBack => RollbackOutput {
                action: RollbackAction::AlreadyRolledBack,
                message: format!("{target} already runs the previous revision {current}{because}"),
                task_definition: current,
                deployment_id: None,
                service_url,
            },
            RollbackDecision::LeaveAlone { current } => RollbackOutput {
                action: RollbackAction::LeftAlone,
                message: format!(
                    "{target} runs {current}, deployed since {}; not rolled back so as not to undo it{because}",
                    watch.task_definition
                ),
                task_definition: current,
                deployment_id: None,
                service_url,
            },
            RollbackDecision::RollBack => {
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
                let deployment_id = updated
                    .service()
                    .into_iter()
                    .flat_map(|service| service.deployments())
                    .find(|deployment| deployment.status() == Some("PRIMARY"))
                    .and_then(|deployment| deployment.id())
                    .map(ToOwned::to_owned);
                RollbackOutput {
                    action: RollbackAction::RolledBack,
                    message: format!(
                        "{target} rolled back from {} to {}{because}",
                        watch.task_definition, watch.previous_task_definition
                    ),
                    task_definition: watch.previous_task_definition,
                    deployment_id,
                    service_url,
                }
            }
        };
        tracing::warn!(service = watch.name, action = ?output.action, "{}", output.message);
        Ok(output)
    }
}
