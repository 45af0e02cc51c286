//! ECS service deployments as the local stack models them, where moto has none: each service's
//! deployments (`DescribeServiceDeployments`, `ListServiceDeployments`,
//! `StopServiceDeployment`), the deployment view `DescribeServices` and `UpdateService` answer
//! with, and the `ECS Deployment State Change` events ECS sends.
//!
//! What the model decides, from the AWS documentation (notes: `ecs-deployments.md`):
//!
//! - An [`Update`] starts a service deployment, IN_PROGRESS at once, that runs its strategy's
//!   steps evenly over the update's duration and ends SUCCESSFUL, unless a [`Fault`]
//!   fails it: the circuit breaker trips after its threshold of failed tasks, an alarm goes off
//!   in BAKE_TIME, or a lifecycle hook answers FAILED. A failure rolls back to the service's last
//!   completed revision (ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL) when the detector's rollback
//!   option is on (hooks always roll back), else stops it (STOP_REQUESTED, STOPPED).
//! - A newer update supersedes a deployment still PENDING or IN_PROGRESS (STOP_REQUESTED, then
//!   STOPPED, as documented) or ROLLBACK_REQUESTED (STOPPED); a rollback in progress goes on.
//! - `StopServiceDeployment` ROLLBACK rolls a PENDING or IN_PROGRESS deployment back
//!   (ROLLBACK_REQUESTED first); on STOP_REQUESTED or a rollback it changes nothing, as
//!   documented.
//! - Events: SERVICE_DEPLOYMENT_IN_PROGRESS when a deployment or a rollback starts, _COMPLETED
//!   when either reaches steady state, _FAILED when the circuit breaker or an alarm fails one.
//!   None for STOPPED or ROLLBACK_FAILED (none is documented).
//!
//! Nothing here reads a clock or does I/O: every method takes the time as seconds since the
//! epoch, and a call sees each deployment as it is at that time.

mod answers;
pub mod config;
pub mod events;
mod ids;
mod plan;
mod state;

#[cfg(test)]
mod sdk_tests;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use deltaship_core::manifest::resource_name;
use serde_json::{Value, json};

pub use config::{Configuration, Fault, Strategy, Update};
pub use events::build_state_change;
use plan::{Cause, Plan};
use state::{Counts, Transition};
pub use state::{Stage, Status};

/// An ECS API error: the code (`__type`) the SDK model names and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DeploymentError {
    /// `ServiceDeploymentNotFoundException`, `ConflictException`, `InvalidParameterException`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl DeploymentError {
    fn new(code: &'static str, message: String) -> Self {
        Self { code, message }
    }
}

/// A service revision: a task definition as one deployment rolled it out.
#[derive(Debug, Clone, PartialEq)]
struct Revision {
    arn: String,
    task_definition: String,
    /// The `ecs-svc/...` id of the deployment (`DescribeServices` `deployments[].id`).
    ecs_id: String,
    created: f64,
}

/// A revision running when a deployment started, with its tasks then.
#[derive(Debug, Clone, PartialEq)]
struct Source {
    revision: Revision,
    counts: Counts,
}

/// One service deployment.
#[derive(Debug, Clone)]
struct ServiceDeployment {
    arn: String,
    service_arn: String,
    cluster_arn: String,
    created: f64,
    desired: u32,
    configuration: Configuration,
    target: Revision,
    sources: Vec<Source>,
    rollback_to: Option<Revision>,
    duration: f64,
    timeline: Vec<Transition>,
}

impl ServiceDeployment {
    /// Its state at `now`.
    fn at(&self, now: f64) -> Option<&state::Snapshot> {
        state::at(&self.timeline, now)
    }

    fn status(&self, now: f64) -> Status {
        self.at(now).map_or(Status::Pending, |snapshot| snapshot.status)
    }
}

/// One service: its configuration and deployments, oldest first.
#[derive(Debug, Clone)]
struct Service {
    cluster: String,
    name: String,
    configuration: Configuration,
    desired: u32,
    deployments: Vec<usize>,
}

/// Every service deployment of the local stack.
#[derive(Debug, Clone)]
pub struct Deployments {
    region: String,
    account: String,
    services: BTreeMap<String, Service>,
    deployments: Vec<ServiceDeployment>,
    by_arn: BTreeMap<String, usize>,
}

impl Deployments {
    /// No services yet, in `region` and `account`.
    pub fn new(region: &str, account: &str) -> Self {
        Self {
            region: region.to_owned(),
            account: account.to_owned(),
            services: BTreeMap::new(),
            deployments: Vec::new(),
            by_arn: BTreeMap::new(),
        }
    }

    /// A `CreateService` of `service` (`cluster/service` or the service ARN) running
    /// `task_definition`: its first service deployment, SUCCESSFUL at once and without events
    /// (the stack's services are seeded before a push). Returns the deployment's ARN.
    pub fn create_service(
        &mut self,
        service: &str,
        configuration: Configuration,
        task_definition: &str,
        desired_count: u32,
        now: f64,
    ) -> String {
        let (cluster, name) = split_service(service);
        let key = format!("{cluster}/{name}");
        self.services.insert(
            key.clone(),
            Service { cluster, name, configuration, desired: desired_count, deployments: Vec::new() },
        );
        let update = Update {
            task_definition: task_definition.to_owned(),
            desired_count: None,
            configuration: None,
            duration_seconds: 0.0,
            fault: Fault::None,
        };
        let index = self.start(&key, &update, now);
        if let Some(deployment) = self.deployments.get_mut(index) {
            for transition in &mut deployment.timeline {
                transition.emitted = true;
            }
        }
        self.deployments.get(index).map(|deployment| deployment.arn.clone()).unwrap_or_default()
    }

    /// An `UpdateService` of `service` (`cluster/service` or the service ARN) that starts a
    /// deployment: supersedes the one in progress, starts the new one and returns its ARN (what
    /// `currentServiceDeployment` then names). A service not created through
    /// [`Deployments::create_service`] starts with no completed revision (nothing to roll back
    /// to) and, unless the update says, the ROLLING defaults of [`Configuration::new`].
    pub fn update_service(&mut self, service: &str, update: &Update, now: f64) -> String {
        let (cluster, name) = split_service(service);
        let key = format!("{cluster}/{name}");
        let known = self.services.entry(key.clone()).or_insert_with(|| Service {
            cluster,
            name,
            configuration: Configuration::new(Strategy::Rolling),
            desired: update.desired_count.unwrap_or(1),
            deployments: Vec::new(),
        });
        if let Some(configuration) = &update.configuration {
            known.configuration = configuration.clone();
        }
        let index = self.start(&key, update, now);
        self.deployments.get(index).map(|deployment| deployment.arn.clone()).unwrap_or_default()
    }

    /// Supersedes what runs on the service `key` and starts `update`'s deployment; its index.
    fn start(&mut self, key: &str, update: &Update, now: f64) -> usize {
        let index = self.deployments.len();
        let Some(service) = self.services.get(key) else { return index };
        let before = service.desired;
        let desired = update.desired_count.unwrap_or(before);
        let rollback_to = self.completed_revision(service, now);
        let mut sources: Vec<Source> =
            rollback_to.iter().map(|revision| Source { revision: revision.clone(), counts: running(before) }).collect();
        for &older in &service.deployments {
            let Some(deployment) = self.deployments.get_mut(older) else { continue };
            let Some(snapshot) = deployment.at(now).cloned() else { continue };
            let seconds = (update.duration_seconds / 10.0).min(1.0);
            match snapshot.status {
                Status::Pending | Status::InProgress => {
                    state::cut(&mut deployment.timeline, now);
                    plan::stop(&mut deployment.timeline, now, seconds, &Cause::Superseded);
                }
                Status::RollbackRequested => {
                    state::cut(&mut deployment.timeline, now);
                    plan::stop(&mut deployment.timeline, now, 0.0, &Cause::Superseded);
                }
                _ => continue,
            }
            if snapshot.target.running > 0 {
                sources.push(Source { revision: deployment.target.clone(), counts: running(snapshot.target.running) });
            }
        }

        let sequence = u64::try_from(index).unwrap_or_default();
        let (cluster, name) = (&service.cluster, &service.name);
        let prefix = format!("arn:aws:ecs:{}:{}", self.region, self.account);
        let target = Revision {
            arn: format!("{prefix}:service-revision/{cluster}/{name}/{}", ids::nineteen_digits(2 * sequence)),
            task_definition: update.task_definition.clone(),
            ecs_id: format!("ecs-svc/{}", ids::nineteen_digits(2 * sequence + 1)),
            created: now,
        };
        let id = ids::twenty_one_characters(sequence);
        let hook = format!("arn:aws:lambda:{}:{}:function:{name}-injected-hook", self.region, self.account);
        let configuration =
            service.configuration.with_detector_for(update.fault, &format!("{name}-injected-alarm"), &hook).effective();
        let timeline = plan::lay_out(&Plan {
            start: now,
            duration: update.duration_seconds.max(0.0),
            desired,
            configuration: &configuration,
            fault: update.fault,
            source: sources.first().map(|source| source.counts).unwrap_or_default(),
            reconcile: sources.len() > 1,
            own_id: &target.ecs_id,
            deployment: &id,
            rollback_to: rollback_to.as_ref().map(|revision| revision.ecs_id.as_str()),
        });
        let deployment = ServiceDeployment {
            arn: format!("{prefix}:service-deployment/{cluster}/{name}/{id}"),
            service_arn: format!("{prefix}:service/{cluster}/{name}"),
            cluster_arn: format!("{prefix}:cluster/{cluster}"),
            created: now,
            desired,
            configuration,
            target,
            sources,
            rollback_to,
            duration: update.duration_seconds.max(0.0),
            timeline,
        };
        self.by_arn.insert(deployment.arn.clone(), index);
        self.deployments.push(deployment);
        if let Some(service) = self.services.get_mut(key) {
            service.desired = desired;
            service.deployments.push(index);
        }
        index
    }

    /// The revision of the service's newest deployment that completed by `now`: its target if
    /// SUCCESSFUL, the one it went back to if ROLLBACK_SUCCESSFUL.
    fn completed_revision(&self, service: &Service, now: f64) -> Option<Revision> {
        service.deployments.iter().rev().filter_map(|&index| self.deployments.get(index)).find_map(|deployment| {
            match deployment.status(now) {
                Status::Successful => Some(deployment.target.clone()),
                Status::RollbackSuccessful => deployment.rollback_to.clone(),
                _ => None,
            }
        })
    }

    /// `StopServiceDeployment`: the answer (`{serviceDeploymentArn}`), or the error. ROLLBACK on
    /// a PENDING or IN_PROGRESS deployment rolls it back over half its duration; on
    /// STOP_REQUESTED, ROLLBACK_REQUESTED or ROLLBACK_IN_PROGRESS it changes nothing (documented:
    /// they go on). On a finished deployment AWS documents nothing: the model refuses with
    /// ConflictException ("conflict in the current state of the resource", the SDK model's
    /// closest error). `stopType` ABORT, in the SDK model but undocumented, is refused as
    /// invalid, as the docs' "valid values are ROLLBACK" says.
    pub fn stop_service_deployment(&mut self, arn: &str, stop_type: &str, now: f64) -> Result<Value, DeploymentError> {
        let deployment = self.by_arn.get(arn).and_then(|&index| self.deployments.get_mut(index)).ok_or_else(|| {
            DeploymentError::new(
                "ServiceDeploymentNotFoundException",
                format!("The service deployment {arn} does not exist."),
            )
        })?;
        if stop_type != "ROLLBACK" {
            return Err(DeploymentError::new(
                "InvalidParameterException",
                format!("stopType {stop_type:?} is not supported: the valid value is ROLLBACK."),
            ));
        }
        match deployment.status(now) {
            Status::Pending | Status::InProgress => {
                state::cut(&mut deployment.timeline, now);
                let back_to = deployment.rollback_to.as_ref().map(|revision| revision.ecs_id.as_str());
                plan::roll_back(&mut deployment.timeline, now, deployment.duration / 2.0, &Cause::Requested, back_to);
            }
            Status::StopRequested | Status::RollbackRequested | Status::RollbackInProgress => {}
            finished => {
                return Err(DeploymentError::new(
                    "ConflictException",
                    format!("The service deployment {arn} is {}: it cannot be stopped.", finished.as_str()),
                ));
            }
        }
        Ok(json!({ "serviceDeploymentArn": arn }))
    }

    /// `DescribeServiceDeployments` of `arns` (1 to 20): the deployments, and a failure with
    /// reason `MISSING` for each ARN the model does not know.
    pub fn describe_service_deployments(&self, arns: &[String], now: f64) -> Result<Value, DeploymentError> {
        if arns.is_empty() || arns.len() > 20 {
            return Err(DeploymentError::new(
                "InvalidParameterException",
                format!("serviceDeploymentArns must name 1 to 20 service deployments, not {}.", arns.len()),
            ));
        }
        let mut found = Vec::new();
        let mut failures = Vec::new();
        for arn in arns {
            match self.by_arn.get(arn).and_then(|&index| self.deployments.get(index)) {
                Some(deployment) => found.push(deployment.describe(now)),
                None => failures.push(json!({ "arn": arn, "reason": "MISSING" })),
            }
        }
        Ok(json!({ "serviceDeployments": found, "failures": failures }))
    }

    /// `ListServiceDeployments` of `service` (`cluster/service` or the service ARN), newest first,
    /// only those whose status is in `statuses` when it names any. One page, every deployment
    /// (no `maxResults`/`nextToken`); a service the model does not know has none.
    pub fn list_service_deployments(&self, service: &str, statuses: &[String], now: f64) -> Value {
        let (cluster, name) = split_service(service);
        let indexes =
            self.services.get(&format!("{cluster}/{name}")).map(|s| s.deployments.as_slice()).unwrap_or_default();
        let briefs: Vec<Value> = indexes
            .iter()
            .rev()
            .filter_map(|&index| self.deployments.get(index))
            .filter(|deployment| statuses.is_empty() || statuses.iter().any(|s| s == deployment.status(now).as_str()))
            .map(|deployment| deployment.brief(now))
            .collect();
        json!({ "serviceDeployments": briefs })
    }

    /// Completes a service of moto's `DescribeServices` or `UpdateService` answer with what the
    /// model knows of it: `currentServiceDeployment`, `currentServiceRevisions`,
    /// `deploymentConfiguration`, `deploymentController`, `deployments`, the task definition and
    /// task counts. A service the model does not know is left as it is.
    pub fn complete_service(&self, service: &mut Value, now: f64) {
        let cluster = service.get("clusterArn").and_then(Value::as_str).map(resource_name).unwrap_or("default");
        let Some(name) = service.get("serviceName").and_then(Value::as_str) else { return };
        let Some(known) = self.services.get(&format!("{cluster}/{name}")) else { return };
        let Some(latest) = known.deployments.last().and_then(|&index| self.deployments.get(index)) else { return };
        answers::complete_service(service, known, latest, now);
    }

    /// The events due by `now` that earlier calls have not returned, in the order ECS sent them.
    pub fn drain_events(&mut self, now: f64) -> Vec<Value> {
        let mut due = Vec::new();
        for deployment in &mut self.deployments {
            for transition in &mut deployment.timeline {
                if transition.emitted || transition.snapshot.at > now {
                    continue;
                }
                transition.emitted = true;
                let at = transition.snapshot.at;
                due.extend(transition.notices.iter().map(|notice| {
                    (at, events::deployment_state_change(&deployment.service_arn, &deployment.arn, notice, at))
                }));
            }
        }
        // Stable: deployments in creation order, each one's events in timeline order.
        due.sort_by(|a, b| a.0.total_cmp(&b.0));
        due.into_iter().map(|(_, event)| event).collect()
    }

    /// The status of the deployment `arn` at `now`.
    pub fn status(&self, arn: &str, now: f64) -> Option<Status> {
        self.by_arn.get(arn).and_then(|&index| self.deployments.get(index)).map(|deployment| deployment.status(now))
    }

    /// The ARN `currentServiceDeployment` names for `service` (its newest deployment).
    pub fn current_service_deployment(&self, service: &str) -> Option<&str> {
        let (cluster, name) = split_service(service);
        let known = self.services.get(&format!("{cluster}/{name}"))?;
        known
            .deployments
            .last()
            .and_then(|&index| self.deployments.get(index))
            .map(|deployment| deployment.arn.as_str())
    }
}

/// `count` tasks, all running.
fn running(count: u32) -> Counts {
    Counts { requested: count, running: count, ..Counts::default() }
}

/// The cluster and service names of `cluster/service`, a service ARN
/// (`arn:aws:ecs:...:service/cluster/service`) or a bare name (cluster `default`).
fn split_service(service: &str) -> (String, String) {
    let path = service.rsplit_once(":service/").map_or(service, |(_, path)| path);
    match path.rsplit_once('/') {
        Some((cluster, name)) => (resource_name(cluster).to_owned(), name.to_owned()),
        None => ("default".to_owned(), path.to_owned()),
    }
}
