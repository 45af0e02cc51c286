//! Reading an ECS service, shared by deploy-service, check-rollout and rollback-service.

use aws_sdk_ecs::Client;
use deltaship_core::manifest::resource_name;
use deltaship_core::rollout::{DeploymentSnapshot, ServiceSnapshot, ensure_active};
use deltaship_core::{ErrorKind, Failure, links};

use crate::aws_error;

/// Error codes that mean the cluster or the service is not there.
pub(crate) const NOT_FOUND: [(&str, ErrorKind); 3] = [
    ("ClusterNotFoundException", ErrorKind::ServiceNotFound),
    ("ServiceNotFoundException", ErrorKind::ServiceNotFound),
    ("ServiceNotActiveException", ErrorKind::ServiceNotFound),
];

/// A service as `DescribeServices` returned it.
pub(crate) struct DescribedService {
    /// The judged view.
    pub(crate) snapshot: ServiceSnapshot,
    /// The task definition the service runs (its PRIMARY deployment's).
    pub(crate) task_definition: String,
    /// The PRIMARY deployment's id and creation time (seconds since the Unix epoch), if any.
    pub(crate) primary: Option<(String, Option<i64>)>,
}

/// Describes `service` in `cluster`: a `ServiceNotFound` failure if either is missing.
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
    let snapshot = ServiceSnapshot {
        status: found.status().unwrap_or_default().to_owned(),
        desired_count: found.desired_count(),
        deployments: found.deployments().iter().map(deployment).collect(),
    };
    ensure_active(&snapshot, &target)?;
    let task_definition = found.task_definition().unwrap_or_default().to_owned();
    let primary = found
        .deployments()
        .iter()
        .find(|deployment| deployment.status() == Some("PRIMARY"))
        .and_then(|deployment| Some((deployment.id()?.to_owned(), deployment.created_at().map(|at| at.secs()))));
    Ok(DescribedService { snapshot, task_definition, primary })
}

pub(crate) fn deployment(deployment: &aws_sdk_ecs::types::Deployment) -> DeploymentSnapshot {
    DeploymentSnapshot {
        id: deployment.id().unwrap_or_default().to_owned(),
        status: deployment.status().unwrap_or_default().to_owned(),
        task_definition: deployment.task_definition().unwrap_or_default().to_owned(),
        rollout_state: deployment.rollout_state().map(|state| state.as_str().to_owned()),
        rollout_state_reason: deployment.rollout_state_reason().map(ToOwned::to_owned),
        desired_count: deployment.desired_count(),
        running_count: deployment.running_count(),
        pending_count: deployment.pending_count(),
        failed_tasks: deployment.failed_tasks(),
    }
}

/// The console page of a service's deployments, in the client's region.
pub(crate) fn service_url(client: &Client, cluster: &str, service: &str) -> String {
    let region = client.config().region().map(ToString::to_string).unwrap_or_default();
    links::service(&region, resource_name(cluster), resource_name(service))
}
