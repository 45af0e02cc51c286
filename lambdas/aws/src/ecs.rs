//! Reading ECS services and service deployments, shared by deploy-service, check-rollout,
//! rollback-service and wake-waits.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Service, ServiceDeployment};
use deltaship_core::manifest::resource_name;
use deltaship_core::rollout::{ServiceDeploymentSnapshot, ServiceSnapshot, TaskCounts, ensure_active};
use deltaship_core::{ErrorKind, Failure, links};

use crate::aws_error;

/// Error codes that mean the cluster or the service is not there.
pub(crate) const NOT_FOUND: [(&str, ErrorKind); 3] = [
    ("ClusterNotFoundException", ErrorKind::ServiceNotFound),
    ("ServiceNotFoundException", ErrorKind::ServiceNotFound),
    ("ServiceNotActiveException", ErrorKind::ServiceNotFound),
];

/// A service as `DescribeServices` (or `UpdateService`) returned it.
#[derive(Debug, Clone)]
pub(crate) struct DescribedService {
    /// The judged view.
    pub(crate) snapshot: ServiceSnapshot,
    /// The PRIMARY deployment's id (`ecs-svc/...`), if any.
    pub(crate) primary: Option<String>,
}

impl DescribedService {
    /// The view of `service`, as ECS answered it.
    pub(crate) fn of(service: &Service) -> Self {
        let configuration = service.deployment_configuration();
        Self {
            snapshot: ServiceSnapshot {
                status: service.status().unwrap_or_default().to_owned(),
                arn: service.service_arn().unwrap_or_default().to_owned(),
                controller: service.deployment_controller().map(|controller| controller.r#type().as_str().to_owned()),
                strategy: configuration.and_then(|c| c.strategy()).map(|strategy| strategy.as_str().to_owned()),
                current_service_deployment: service.current_service_deployment().map(ToOwned::to_owned),
                task_definition: service.task_definition().unwrap_or_default().to_owned(),
                desired_count: service.desired_count(),
            },
            primary: service
                .deployments()
                .iter()
                .find(|deployment| deployment.status() == Some("PRIMARY"))
                .and_then(|deployment| deployment.id())
                .map(ToOwned::to_owned),
        }
    }

    /// The strategy, `ROLLING` when ECS names none.
    pub(crate) fn strategy(&self) -> String {
        self.snapshot.strategy.clone().unwrap_or_else(|| "ROLLING".to_owned())
    }
}

/// Describes `service` in `cluster`: a `ServiceNotFound` failure if either is missing or the
/// service is not ACTIVE.
pub(crate) async fn describe(client: &Client, cluster: &str, service: &str) -> Result<DescribedService, Failure> {
    let target = format!("{cluster}/{service}");
    let described = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|err| aws_error::failure("DescribeServices", &target, &err, &NOT_FOUND))?;
    let Some(found) = described.services().first() else {
        let reason = described.failures().first().and_then(|failure| failure.reason()).unwrap_or("not returned");
        return Err(Failure::new(ErrorKind::ServiceNotFound, format!("DescribeServices {target}: {reason}")));
    };
    let described = DescribedService::of(found);
    ensure_active(&described.snapshot, &target)?;
    Ok(described)
}

/// Describes one service deployment by its ARN (`target` names its service in messages): a
/// `ServiceNotFound` failure if ECS does not know it.
pub(crate) async fn describe_service_deployment(
    client: &Client,
    arn: &str,
    target: &str,
) -> Result<ServiceDeploymentSnapshot, Failure> {
    let described = client.describe_service_deployments().service_deployment_arns(arn).send().await.map_err(|err| {
        aws_error::failure(
            "DescribeServiceDeployments",
            target,
            &err,
            &[("ServiceDeploymentNotFoundException", ErrorKind::ServiceNotFound)],
        )
    })?;
    let found =
        described.service_deployments().iter().find(|deployment| deployment.service_deployment_arn() == Some(arn));
    let Some(found) = found else {
        let reason = described.failures().first().and_then(|failure| failure.reason()).unwrap_or("not returned");
        return Err(Failure::new(
            ErrorKind::ServiceNotFound,
            format!("DescribeServiceDeployments {target}: service deployment {arn}: {reason}"),
        ));
    };
    Ok(service_deployment(found))
}

/// The judged view of a service deployment.
pub(crate) fn service_deployment(deployment: &ServiceDeployment) -> ServiceDeploymentSnapshot {
    let text = |value: Option<&str>| value.map(ToOwned::to_owned);
    ServiceDeploymentSnapshot {
        arn: deployment.service_deployment_arn().unwrap_or_default().to_owned(),
        status: deployment.status().map(|status| status.as_str().to_owned()).unwrap_or_default(),
        status_reason: text(deployment.status_reason()),
        lifecycle_stage: deployment.lifecycle_stage().map(|stage| stage.as_str().to_owned()),
        strategy: deployment.deployment_configuration().and_then(|c| c.strategy()).map(|s| s.as_str().to_owned()),
        target_tasks: deployment.target_service_revision().map(|revision| TaskCounts {
            requested: revision.requested_task_count(),
            running: revision.running_task_count(),
            pending: revision.pending_task_count(),
        }),
        rollback_reason: deployment.rollback().and_then(|rollback| text(rollback.reason())),
        circuit_breaker: deployment.deployment_circuit_breaker().map(|breaker| {
            (
                breaker.status().map(|status| status.as_str().to_owned()).unwrap_or_default(),
                breaker.failure_count(),
                breaker.threshold(),
            )
        }),
        alarms: deployment.alarms().map(|alarms| {
            (
                alarms.status().map(|status| status.as_str().to_owned()).unwrap_or_default(),
                alarms.triggered_alarm_names().to_vec(),
            )
        }),
        failed_hooks: deployment
            .lifecycle_hook_details()
            .iter()
            .filter(|hook| hook.status().is_some_and(|status| status.as_str() == "FAILED"))
            .filter_map(|hook| hook.target_arn().or(hook.hook_id()).map(ToOwned::to_owned))
            .collect(),
    }
}

/// The console page of a service's deployments, in the client's region.
pub(crate) fn service_url(client: &Client, cluster: &str, service: &str) -> String {
    let region = client.config().region().map(ToString::to_string).unwrap_or_default();
    links::service(&region, resource_name(cluster), resource_name(service))
}
