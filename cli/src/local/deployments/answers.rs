//! The model's answers in ECS's JSON shapes (camelCase keys, timestamps as epoch seconds):
//! a `ServiceDeployment`, a `ServiceDeploymentBrief`, and the deployment fields of a `Service`.

use serde_json::{Map, Value, json};

use super::config::{Strategy, threshold};
use super::state::{Counts, Monitor, Snapshot, Status};
use super::{Revision, Service, ServiceDeployment};

/// Seconds since the epoch as AWS writes them: a number, to the millisecond.
fn time(at: f64) -> Value {
    json!((at * 1000.0).round() / 1000.0)
}

impl ServiceDeployment {
    /// `ServiceRevisionSummary` of `revision` with `counts` (weights only for the strategies that
    /// shift traffic).
    fn revision(&self, revision: &Revision, counts: Counts) -> Value {
        let mut summary = json!({
            "arn": revision.arn,
            "requestedTaskCount": counts.requested,
            "runningTaskCount": counts.running,
            "pendingTaskCount": counts.pending,
        });
        if self.configuration.strategy.shifts_traffic()
            && let Some(fields) = summary.as_object_mut()
        {
            fields.insert("requestedTestTrafficWeight".into(), json!(counts.test));
            fields.insert("requestedProductionTrafficWeight".into(), json!(counts.production));
        }
        summary
    }

    /// The source revisions and their tasks at `snapshot`: the first as the timeline says,
    /// others as they were until the old revisions are scaled in.
    fn sources(&self, snapshot: &Snapshot) -> impl Iterator<Item = (&Revision, Counts)> {
        self.sources.iter().enumerate().map(|(index, source)| {
            let counts = match (index, snapshot.drained) {
                (0, _) => snapshot.source,
                (_, true) => Counts::default(),
                (_, false) => source.counts,
            };
            (&source.revision, counts)
        })
    }

    /// `ServiceDeployment` at `now`.
    pub(super) fn describe(&self, now: f64) -> Value {
        let Some(snapshot) = self.at(now) else { return Value::Null };
        let mut fields = self.common(snapshot);
        let mut put = |key: &str, value: Value| {
            fields.insert(key.to_owned(), value);
        };
        put("updatedAt", time(snapshot.at));
        let sources = self.sources(snapshot).map(|(revision, counts)| self.revision(revision, counts)).collect();
        put("sourceServiceRevisions", Value::Array(sources));
        put("targetServiceRevision", self.revision(&self.target, snapshot.target));
        if let Some(stage) = snapshot.stage {
            put("lifecycleStage", json!(stage.as_str()));
        }
        put("deploymentConfiguration", self.configuration.to_json());
        if let Some(rollback) = &snapshot.rollback {
            let mut value = json!({ "reason": rollback.reason, "startedAt": time(rollback.started_at) });
            if let (Some(revision), Some(fields)) = (&self.rollback_to, value.as_object_mut()) {
                fields.insert("serviceRevisionArn".into(), json!(revision.arn));
            }
            put("rollback", value);
        }
        if let Some(breaker) = &self.configuration.deployment_circuit_breaker {
            let value = if breaker.enable {
                let threshold = threshold(self.desired);
                json!({ "status": snapshot.breaker.as_str(), "failureCount": snapshot.failures, "threshold": threshold })
            } else {
                json!({ "status": Monitor::Disabled.as_str() })
            };
            put("deploymentCircuitBreaker", value);
        }
        put("alarms", self.alarms(snapshot));
        if !snapshot.hooks.is_empty() {
            put("lifecycleHookDetails", Value::Array(self.hooks(snapshot)));
        }
        Value::Object(fields)
    }

    /// `ServiceDeploymentBrief` at `now` (the model has no `stoppedAt` there).
    pub(super) fn brief(&self, now: f64) -> Value {
        let Some(snapshot) = self.at(now) else { return Value::Null };
        let mut fields = self.common(snapshot);
        fields.remove("stoppedAt");
        fields.insert("targetServiceRevisionArn".into(), json!(self.target.arn));
        Value::Object(fields)
    }

    /// The keys a deployment and its brief share.
    fn common(&self, snapshot: &Snapshot) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("serviceDeploymentArn".into(), json!(self.arn));
        fields.insert("serviceArn".into(), json!(self.service_arn));
        fields.insert("clusterArn".into(), json!(self.cluster_arn));
        fields.insert("createdAt".into(), time(self.created));
        fields.insert("startedAt".into(), time(self.created));
        match snapshot.status {
            Status::Stopped => {
                fields.insert("stoppedAt".into(), time(snapshot.at));
            }
            status if status.is_terminal() => {
                fields.insert("finishedAt".into(), time(snapshot.at));
            }
            _ => {}
        }
        fields.insert("status".into(), json!(snapshot.status.as_str()));
        if let Some(reason) = &snapshot.reason {
            fields.insert("statusReason".into(), json!(reason));
        }
        fields
    }

    /// `alarms`: DISABLED unless alarms are watched.
    fn alarms(&self, snapshot: &Snapshot) -> Value {
        let Some(alarms) = self.configuration.watched_alarms() else {
            return json!({ "status": Monitor::Disabled.as_str() });
        };
        let mut value = json!({ "status": snapshot.alarms.as_str(), "alarmNames": alarms.alarm_names });
        if !snapshot.triggered.is_empty()
            && let Some(fields) = value.as_object_mut()
        {
            fields.insert("triggeredAlarmNames".into(), json!(snapshot.triggered));
        }
        value
    }

    /// `lifecycleHookDetails`.
    fn hooks(&self, snapshot: &Snapshot) -> Vec<Value> {
        let configured = &self.configuration.lifecycle_hooks;
        snapshot
            .hooks
            .iter()
            .filter_map(|run| {
                let hook = configured.get(run.hook)?;
                let expires = run.started + f64::from(hook.timeout_minutes()) * 60.0;
                let mut value = json!({
                    "hookId": run.id,
                    "targetType": hook.target_type(),
                    "status": run.status,
                    "expiresAt": time(expires),
                    "timeoutAction": hook.timeout_action(),
                });
                if let (Some(target), Some(fields)) = (&hook.hook_target_arn, value.as_object_mut())
                    && hook.target_type() != "PAUSE"
                {
                    fields.insert("targetArn".into(), json!(target));
                }
                Some(value)
            })
            .collect()
    }
}

/// One `deployments[]` entry (`Deployment`).
struct Entry<'a> {
    revision: &'a Revision,
    primary: bool,
    counts: Counts,
    failed: u32,
    rollout: &'static str,
    reason: String,
    created: f64,
}

/// Writes `latest` (the service's newest deployment) into the service JSON: see
/// [`super::Deployments::complete_service`]. `deployments[]` shows the PRIMARY deployment (the
/// new revision, or the one a rollback went back to) and the ACTIVE ones still running;
/// `rolloutState` only for ROLLING, as documented.
pub(super) fn complete_service(json: &mut Value, service: &Service, latest: &ServiceDeployment, now: f64) {
    let Some(snapshot) = latest.at(now) else { return };
    let entries = entries(latest, snapshot);
    let launch_type = json.get("launchType").cloned();
    let Some(fields) = json.as_object_mut() else { return };
    let rolling = latest.configuration.strategy == Strategy::Rolling;
    let deployments: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let mut value = json!({
                "id": entry.revision.ecs_id,
                "status": if entry.primary { "PRIMARY" } else { "ACTIVE" },
                "taskDefinition": entry.revision.task_definition,
                "desiredCount": entry.counts.requested,
                "pendingCount": entry.counts.pending,
                "runningCount": entry.counts.running,
                "failedTasks": entry.failed,
                "createdAt": time(entry.created),
                "updatedAt": time(snapshot.at),
            });
            if let Some(object) = value.as_object_mut() {
                if let Some(launch_type) = &launch_type {
                    object.insert("launchType".into(), launch_type.clone());
                }
                if rolling {
                    object.insert("rolloutState".into(), json!(entry.rollout));
                    object.insert("rolloutStateReason".into(), json!(entry.reason));
                }
            }
            value
        })
        .collect();
    let revisions: Vec<Value> = entries.iter().map(|entry| latest.revision(entry.revision, entry.counts)).collect();
    if let Some(primary) = entries.first() {
        fields.insert("taskDefinition".into(), json!(primary.revision.task_definition));
    }
    fields.insert("desiredCount".into(), json!(service.desired));
    fields.insert("runningCount".into(), json!(entries.iter().map(|entry| entry.counts.running).sum::<u32>()));
    fields.insert("pendingCount".into(), json!(entries.iter().map(|entry| entry.counts.pending).sum::<u32>()));
    fields.insert("deployments".into(), Value::Array(deployments));
    fields.insert("deploymentConfiguration".into(), service.configuration.to_json());
    fields.insert("deploymentController".into(), json!({ "type": "ECS" }));
    fields.insert("currentServiceDeployment".into(), json!(latest.arn));
    fields.insert("currentServiceRevisions".into(), Value::Array(revisions));
}

/// The `deployments[]` of a service whose newest deployment is `latest`, at `snapshot`.
fn entries<'a>(latest: &'a ServiceDeployment, snapshot: &Snapshot) -> Vec<Entry<'a>> {
    let started = |revision: &Revision| format!("ECS deployment {} in progress.", revision.ecs_id);
    let completed = |revision: &Revision| format!("ECS deployment {} completed.", revision.ecs_id);
    let reason = snapshot.reason.clone().unwrap_or_default();
    let target = |rollout, reason| Entry {
        revision: &latest.target,
        primary: true,
        counts: snapshot.target,
        failed: snapshot.failures,
        rollout,
        reason,
        created: latest.created,
    };
    let mut out = Vec::new();
    match (snapshot.status, &latest.rollback_to) {
        (Status::Successful, _) => out.push(target("COMPLETED", completed(&latest.target))),
        (Status::Pending | Status::InProgress | Status::StopRequested, _) => {
            out.push(target("IN_PROGRESS", started(&latest.target)));
        }
        (Status::Stopped, _) => out.push(target("FAILED", reason)),
        (
            Status::RollbackRequested
            | Status::RollbackInProgress
            | Status::RollbackSuccessful
            | Status::RollbackFailed,
            Some(back_to),
        ) => {
            let done = snapshot.status == Status::RollbackSuccessful;
            let (rollout, text) = match snapshot.status {
                Status::RollbackSuccessful => ("COMPLETED", completed(back_to)),
                Status::RollbackFailed => ("FAILED", reason.clone()),
                _ => ("IN_PROGRESS", started(back_to)),
            };
            let created = back_to.created;
            out.push(Entry {
                revision: back_to,
                primary: true,
                counts: snapshot.source,
                failed: 0,
                rollout,
                reason: text,
                created,
            });
            if !done {
                out.push(Entry { primary: false, ..target("FAILED", reason) });
            }
            return out;
        }
        (_, None) => out.push(target("FAILED", reason)),
    }
    for (revision, counts) in latest.sources(snapshot) {
        if counts.requested > 0 || counts.running > 0 {
            let reason = completed(revision);
            out.push(Entry {
                revision,
                primary: false,
                counts,
                failed: 0,
                rollout: "COMPLETED",
                reason,
                created: revision.created,
            });
        }
    }
    out
}
