//! deploy-service: registers a revision of the service's task definition with the new image, and
//! rolls the service onto it.
//!
//! The new revision is the service's current one with only the named container's `image`
//! replaced: every other setting (roles, network mode, CPU and memory, volumes, the other
//! containers, tags, ...) is kept, and the fields ECS sets itself (ARN, revision, status,
//! registration times, required attributes, compatibilities) are left out. Its tags are the
//! current one's that ECS accepts on a new revision, plus deltaship's stamp: `deltaship:commit`,
//! `deltaship:pushed-at`, `deltaship:execution` and `deltaship:previous`
//! ([`deltaship_core::tags`]).
//!
//! Before registering anything it reads the revision the service runs
//! ([`deltaship_core::races::decide_deploy`]):
//!
//! - the service already runs the image (a retried call, or the same commit deployed by another
//!   execution): nothing is registered or updated; the answer watches the service's current
//!   service deployment;
//! - the revision was registered for a newer push: `Superseded`, the service is not touched. Two
//!   pushes of one second (event times have one-second resolution) are ordered by the push
//!   ledger ([`deltaship_core::ledger::order_in_second`]), never by which deploys first;
//! - otherwise: a new revision, `UpdateService`, and the answer watches the service deployment
//!   that `UpdateService` created (`service.currentServiceDeployment`): the record
//!   check-rollout judges, under whatever strategy the service deploys with.
//!
//! A service whose deployment controller is not ECS (`CODE_DEPLOY`, `EXTERNAL`) is refused with
//! `UnsupportedDeploymentController` before anything is registered. The image must be tagged with
//! the pushed commit, and the cluster must be the function's [`Scope`]'s (`OutOfScope` before any
//! call otherwise).
use aws_config::SdkConfig;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types::{Tag, TaskDefinition, TaskDefinitionField};
use deltaship_core::ledger::order_in_second;
use deltaship_core::payloads::{CheckRolloutOutput, DeployInput, RolloutStatus};
use deltaship_core::races::{CurrentRevision, DeployDecision, DeployStamp, check_image, decide_deploy, needs_order};
use deltaship_core::rollout::{Expect, check_controller};
use deltaship_core::tags::revision_tags;
use deltaship_core::{CommitId, ErrorKind, Failure, RolloutWatch, Scope, WaitPolicy};

use crate::ledger::Ledger;
use crate::settings::{self, SettingsError, Source};
use crate::{Clock, Function, aws_error, ecs, input};

const FUNCTION: &str = "deploy-service";

/// The deploy-service function.
#[derive(Debug, Clone)]
pub struct DeployService {
    ecs: aws_sdk_ecs::Client,
    ledger: Ledger,
    wait: WaitPolicy,
    clock: Clock,
    scope: Scope,
}

impl DeployService {
    /// The function with the given clients and clock; `ledger` orders two pushes of one second.
    pub fn from_clients(ecs: aws_sdk_ecs::Client, ledger: Ledger, wait: WaitPolicy, clock: Clock) -> Self {
        Self { ecs, ledger, wait, clock, scope: Scope::default() }
    }

    /// The same function, refusing clusters outside `scope` (the template's `ClusterName`).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }
}

impl Function for DeployService {
    const NAME: &'static str = FUNCTION;
    /// The wait before the first look at the rollout, what it may touch, and the ledger's table.
    type Settings = (WaitPolicy, Scope, String);
    type Output = CheckRolloutOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((settings::rollout_wait(source)?, settings::scope(source), settings::waits_table(source)?))
    }

    fn build(config: &SdkConfig, (wait, scope, table): &Self::Settings) -> Self {
        let ledger = Ledger::from_client(aws_sdk_dynamodb::Client::new(config), table.clone());
        Self::from_clients(aws_sdk_ecs::Client::new(config), ledger, *wait, crate::system_clock)
            .with_scope(scope.clone())
    }

    /// Deploys one service.
    async fn handle(&self, payload: serde_json::Value) -> Result<CheckRolloutOutput, Failure> {
        let input: DeployInput = input::parse(FUNCTION, payload)?;
        for (field, value) in [
            ("cluster", &input.cluster),
            ("service", &input.service),
            ("container", &input.container),
            ("image", &input.image),
            ("execution", &input.execution),
        ] {
            input::require(FUNCTION, field, value)?;
        }
        check_image(&input.image, &input.commit)?;
        self.scope.check_service(&input.cluster, &input.service)?;
        let target = format!("{}/{}", input.cluster, input.service);
        let current = ecs::describe(&self.ecs, &input.cluster, &input.service).await?;
        check_controller(&current.snapshot, &target)?;
        let previous = current.snapshot.task_definition.clone();

        let described = self
            .ecs
            .describe_task_definition()
            .task_definition(&previous)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|err| {
                aws_error::failure(
                    "DescribeTaskDefinition",
                    &previous,
                    &err,
                    &[("ClientException", ErrorKind::TaskDefinitionNotFound)],
                )
            })?;
        let definition = described.task_definition().ok_or_else(|| {
            Failure::new(
                ErrorKind::TaskDefinitionNotFound,
                format!("DescribeTaskDefinition {previous}: no task definition returned"),
            )
        })?;
        let tags = || described.tags().iter().filter_map(|tag| Some((tag.key()?, tag.value()?)));
        let running = CurrentRevision {
            arn: previous.clone(),
            image: definition
                .container_definitions()
                .iter()
                .find(|candidate| candidate.name() == Some(input.container.as_str()))
                .and_then(|container| container.image())
                .map(ToOwned::to_owned),
            stamp: DeployStamp::from_tags(tags()),
            previous: tags()
                .find(|(key, _)| *key == deltaship_core::races::TAG_PREVIOUS)
                .map(|(_, value)| value.to_owned()),
        };
        let ours = DeployStamp {
            commit: input.commit.clone(),
            pushed_at: input.pushed_at,
            execution: input.execution.clone(),
        };
        let order = if needs_order(&ours, &running) { self.order(&input, &running).await? } else { None };
        match decide_deploy(&ours, &input.image, &running, &target, order) {
            DeployDecision::Superseded(failure) => {
                tracing::warn!(service = input.name, "{}", failure.message);
                return Err(failure);
            }
            DeployDecision::Reuse { previous: before } => {
                tracing::info!(
                    service = input.name,
                    task_definition = previous,
                    image = input.image,
                    "already runs the image: watching its current service deployment, registering nothing"
                );
                return self.output(input, &current, previous, before, (self.clock)());
            }
            DeployDecision::Deploy => {}
        }

        let tags = revision_tags(tags(), &ours, &previous);
        if !tags.dropped.is_empty() {
            tracing::warn!(
                service = input.name,
                dropped = ?tags.dropped,
                "the revision carries at most 50 tags: these of the current revision's are not copied"
            );
        }
        let revision_tags: Vec<Tag> =
            tags.tags.into_iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect();
        let request = revision(self.ecs.register_task_definition(), definition, &input.container, &input.image)?
            .set_tags(non_empty(&revision_tags));
        let registered = request.send().await.map_err(|err| {
            aws_error::failure("RegisterTaskDefinition", definition.family().unwrap_or(&previous), &err, &[])
        })?;
        let task_definition = registered
            .task_definition()
            .and_then(TaskDefinition::task_definition_arn)
            .ok_or_else(|| {
                Failure::new(ErrorKind::AwsError, format!("RegisterTaskDefinition for {target}: no ARN returned"))
            })?
            .to_owned();

        let started_at = (self.clock)();
        let updated = self
            .ecs
            .update_service()
            .cluster(&input.cluster)
            .service(&input.service)
            .task_definition(&task_definition)
            .send()
            .await
            .map_err(|err| aws_error::failure("UpdateService", &target, &err, &ecs::NOT_FOUND))?;
        let Some(updated) = updated.service() else {
            return Err(Failure::new(
                ErrorKind::AwsError,
                format!("UpdateService {target}: the answer names no service"),
            ));
        };
        let updated = ecs::DescribedService::of(updated);
        tracing::info!(
            service = input.name,
            service_deployment = updated.snapshot.current_service_deployment,
            strategy = updated.strategy(),
            task_definition,
            previous,
            image = input.image,
            "deploying"
        );
        self.output(input, &updated, task_definition, previous, started_at)
    }
}

impl DeployService {
    /// How our push compares with the push of the revision the service runs, both of one second,
    /// by the ledger's records of our branch for that second (`None` when they cannot tell: the
    /// revision's push was of another branch, or is not recorded).
    async fn order(
        &self,
        input: &DeployInput,
        running: &CurrentRevision,
    ) -> Result<Option<std::cmp::Ordering>, Failure> {
        let theirs = running.stamp.as_ref().and_then(|stamp| CommitId::parse(&stamp.commit).ok());
        let (Some(theirs), Ok(ours)) = (theirs, CommitId::parse(&input.commit)) else { return Ok(None) };
        if input.repository.is_empty() || input.branch.is_empty() {
            return Ok(None);
        }
        let records = self.ledger.second(&input.repository, &input.branch, input.pushed_at).await?;
        let order = order_in_second(&records, &ours, &theirs);
        tracing::info!(
            service = input.name,
            theirs = theirs.short(),
            ?order,
            "the running revision's push is of this push's second: ordered by the push ledger"
        );
        Ok(order)
    }

    /// The rollout to wait for: the service's current service deployment, as `service` (the
    /// `UpdateService` answer, or the service that already runs the image) names it.
    fn output(
        &self,
        input: DeployInput,
        service: &ecs::DescribedService,
        task_definition: String,
        previous: String,
        started_at: i64,
    ) -> Result<CheckRolloutOutput, Failure> {
        let target = format!("{}/{}", input.cluster, input.service);
        let service_deployment = service.snapshot.current_service_deployment.clone().ok_or_else(|| {
            Failure::new(
                ErrorKind::AwsError,
                format!(
                    "{target}: ECS names no currentServiceDeployment for the service, so its rollout cannot be judged"
                ),
            )
        })?;
        let deadline = started_at + i64::from(input.timeout_minutes) * 60;
        Ok(CheckRolloutOutput {
            status: RolloutStatus::InProgress,
            stage: None,
            detail: format!("deploying {task_definition} ({})", service.strategy()),
            wait_seconds: self.wait.next_before(0, u64::try_from(deadline - started_at).unwrap_or(0)),
            service_url: ecs::service_url(&self.ecs, &input.cluster, &input.service),
            watch: RolloutWatch {
                name: input.name,
                execution: input.execution,
                cluster: input.cluster,
                service: input.service,
                service_arn: service.snapshot.arn.clone(),
                service_deployment,
                deployment_id: service.primary.clone().unwrap_or_default(),
                task_definition,
                previous_task_definition: previous,
                strategy: service.strategy(),
                expect: Expect::Deployed,
                started_at,
                deadline,
            },
        })
    }
}

fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

/// The `RegisterTaskDefinition` request for `definition` with `container`'s image set to `image`:
/// every setting a revision can carry is copied; the fields ECS sets itself are not.
fn revision(
    request: RegisterTaskDefinitionFluentBuilder,
    definition: &TaskDefinition,
    container: &str,
    image: &str,
) -> Result<RegisterTaskDefinitionFluentBuilder, Failure> {
    let mut containers = definition.container_definitions().to_vec();
    let Some(target) = containers.iter_mut().find(|candidate| candidate.name() == Some(container)) else {
        let names: Vec<&str> = definition.container_definitions().iter().filter_map(|c| c.name()).collect();
        return Err(Failure::new(
            ErrorKind::ContainerNotFound,
            format!(
                "task definition {} has no container {container:?} (it has {names:?}); fix `deploy.container` in the \
                 service's manifest",
                definition.task_definition_arn().unwrap_or_default()
            ),
        ));
    };
    target.image = Some(image.to_owned());
    Ok(request
        .set_family(definition.family().map(ToOwned::to_owned))
        .set_task_role_arn(definition.task_role_arn().map(ToOwned::to_owned))
        .set_execution_role_arn(definition.execution_role_arn().map(ToOwned::to_owned))
        .set_network_mode(definition.network_mode().cloned())
        .set_container_definitions(Some(containers))
        .set_volumes(non_empty(definition.volumes()))
        .set_placement_constraints(non_empty(definition.placement_constraints()))
        .set_requires_compatibilities(non_empty(definition.requires_compatibilities()))
        .set_cpu(definition.cpu().map(ToOwned::to_owned))
        .set_memory(definition.memory().map(ToOwned::to_owned))
        .set_pid_mode(definition.pid_mode().cloned())
        .set_ipc_mode(definition.ipc_mode().cloned())
        .set_proxy_configuration(definition.proxy_configuration().cloned())
        .set_ephemeral_storage(definition.ephemeral_storage().cloned())
        .set_runtime_platform(definition.runtime_platform().cloned())
        .set_enable_fault_injection(definition.enable_fault_injection()))
}
