//! What moto does not model and the front adds to its answers: CodeBuild builds that take time,
//! carry their environment overrides, honour idempotency tokens and can be made to fail; and ECS
//! deployments, which moto never creates or progresses.
//!
//! The front proxies each call to moto first, so moto stays the source of truth for what exists
//! (projects, clusters, services, task definitions) and its errors (an unknown project or
//! service) reach the caller unchanged. This module only rewrites successful answers, the way
//! AWS would have answered:
//!
//! | call | moto answers | the emulator makes it |
//! |------|--------------|-----------------------|
//! | `StartBuild` | a build, ignoring `environmentVariablesOverride` and `idempotencyToken` | the build with the overrides in its environment; the same build again for a token seen before |
//! | `BatchGetBuilds` | every build `SUCCEEDED` at the first look | `IN_PROGRESS` for [`Emulator::build_seconds`], then `SUCCEEDED` exporting `IMAGE_URI` (as the sample buildspecs do), or `FAILED` in phase `BUILD` for a project in [`Faults::fail_build`] |
//! | `UpdateService` | the service with its first deployment unchanged | a new `PRIMARY` deployment of the new task definition, `IN_PROGRESS`; the previous one `ACTIVE` |
//! | `DescribeServices` | the same | after [`Emulator::rollout_seconds`], the `PRIMARY` deployment `COMPLETED` (older ones drained), or `FAILED` by the circuit breaker for a service in [`Faults::fail_rollout`] |
//!
//! Every method takes the time as seconds since the epoch, so the module is pure and
//! table-tested.

use std::collections::{BTreeMap, BTreeSet};

use deltaship_core::manifest::resource_name;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Failures to inject, by AWS resource name. Set per `deltaship local run`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// CodeBuild projects whose builds fail (in phase `BUILD`) while set.
    #[serde(default)]
    pub fail_build: BTreeSet<String>,
    /// ECS services (`cluster/service`, by name) whose next rollout the circuit breaker fails.
    /// Each is used once: the rollback that follows rolls out normally.
    #[serde(default)]
    pub fail_rollout: BTreeSet<String>,
}

/// The message a failed build's `BUILD` phase carries.
pub const BUILD_FAILURE: &str = "Error while executing command: cargo build --release --locked. Reason: exit status 101 \
                                 (injected by deltaship local --fail-build)";
/// The reason ECS gives a deployment its circuit breaker failed.
pub const ROLLOUT_FAILURE: &str = "ECS deployment circuit breaker: tasks failed to start. (injected by deltaship \
                                   local --fail-rollout)";

#[derive(Debug, Clone)]
struct Build {
    overrides: Vec<Value>,
    started: f64,
    /// Seconds it takes (the emulator's `build_seconds` when it started).
    takes: f64,
    fails: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Deployment {
    id: String,
    status: &'static str,
    task_definition: String,
    desired: i64,
    rollout: &'static str,
    reason: String,
    created: f64,
    updated: f64,
    /// Seconds it takes (the emulator's `rollout_seconds` when it started).
    takes: f64,
    fails: bool,
}

impl Deployment {
    /// Running, pending and failed tasks.
    fn counts(&self) -> (i64, i64, i64) {
        match self.rollout {
            "COMPLETED" => (self.desired, 0, 0),
            "FAILED" => (0, 0, self.desired.max(1)),
            _ => (0, self.desired, 0),
        }
    }

    fn to_json(&self) -> Value {
        let (running, pending, failed) = self.counts();
        json!({
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired,
            "runningCount": running,
            "pendingCount": pending,
            "failedTasks": failed,
            "launchType": "FARGATE",
            "rolloutState": self.rollout,
            "rolloutStateReason": self.reason,
            "createdAt": self.created,
            "updatedAt": self.updated,
        })
    }
}

/// The front's memory of builds and deployments.
#[derive(Debug, Clone)]
pub struct Emulator {
    /// How long a build takes, in seconds.
    pub build_seconds: f64,
    /// How long a rollout takes, in seconds.
    pub rollout_seconds: f64,
    faults: Faults,
    builds: BTreeMap<String, Build>,
    tokens: BTreeMap<String, Value>,
    services: BTreeMap<String, Vec<Deployment>>,
    deployments_created: u64,
}

impl Emulator {
    /// An emulator where builds take `build_seconds` and rollouts `rollout_seconds`.
    pub fn new(build_seconds: f64, rollout_seconds: f64) -> Self {
        Self {
            build_seconds,
            rollout_seconds,
            faults: Faults::default(),
            builds: BTreeMap::new(),
            tokens: BTreeMap::new(),
            services: BTreeMap::new(),
            deployments_created: 0,
        }
    }

    /// Replaces the faults to inject.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// The faults still armed.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The answer to a `StartBuild` request whose idempotency token was seen before, if any.
    pub fn replay_start_build(&self, request: &Value) -> Option<Value> {
        let token = request.get("idempotencyToken")?.as_str()?;
        self.tokens.get(token).cloned()
    }

    /// Completes moto's `StartBuild` answer to `request`.
    pub fn started_build(&mut self, request: &Value, response: &mut Value, now: f64) {
        let overrides = request.get("environmentVariablesOverride").and_then(Value::as_array).cloned();
        let project = request.get("projectName").and_then(Value::as_str).map(resource_name).unwrap_or_default();
        let Some(build) = response.get_mut("build") else { return };
        let Some(id) = build.get("id").and_then(Value::as_str).map(ToOwned::to_owned) else { return };
        let overrides = overrides.unwrap_or_default();
        merge_variables(build, &overrides);
        let fails = self.faults.fail_build.contains(project);
        self.builds.insert(id, Build { overrides, started: now, takes: self.build_seconds, fails });
        if let Some(token) = request.get("idempotencyToken").and_then(Value::as_str) {
            self.tokens.insert(token.to_owned(), response.clone());
        }
    }

    /// Rewrites moto's `BatchGetBuilds` answer: each build this front started is in progress
    /// until it settles, then succeeded or failed.
    pub fn got_builds(&self, response: &mut Value, now: f64) {
        let Some(builds) = response.get_mut("builds").and_then(Value::as_array_mut) else { return };
        for build in builds {
            let Some(known) = build.get("id").and_then(Value::as_str).and_then(|id| self.builds.get(id)) else {
                continue;
            };
            merge_variables(build, &known.overrides);
            let Some(fields) = build.as_object_mut() else { continue };
            if now - known.started < known.takes {
                fields.insert("buildStatus".into(), json!("IN_PROGRESS"));
                fields.insert("currentPhase".into(), json!("BUILD"));
                fields.insert("buildComplete".into(), json!(false));
                fields.remove("endTime");
                fields.insert("phases".into(), phases(&["SUBMITTED", "QUEUED", "PROVISIONING", "BUILD"], None));
                continue;
            }
            fields.insert("buildComplete".into(), json!(true));
            fields.insert("currentPhase".into(), json!("COMPLETED"));
            fields.insert("endTime".into(), json!(known.started + known.takes));
            if known.fails {
                fields.insert("buildStatus".into(), json!("FAILED"));
                fields.insert(
                    "phases".into(),
                    phases(
                        &["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD"],
                        Some("BUILD"),
                    ),
                );
                continue;
            }
            fields.insert("buildStatus".into(), json!("SUCCEEDED"));
            let variable = |name: &str| {
                known
                    .overrides
                    .iter()
                    .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
                    .and_then(|v| v.get("value").and_then(Value::as_str).map(ToOwned::to_owned))
            };
            let arn = fields.get("arn").and_then(Value::as_str).unwrap_or_default();
            let (region, account) = region_and_account(arn);
            if let (Some(repository), Some(tag)) = (variable("IMAGE_REPOSITORY"), variable("IMAGE_TAG")) {
                let uri = format!("{account}.dkr.ecr.{region}.amazonaws.com/{repository}:{tag}");
                fields.insert("exportedEnvironmentVariables".into(), json!([{ "name": "IMAGE_URI", "value": uri }]));
            }
        }
    }

    /// Rewrites moto's `UpdateService` answer to `request`: a new task definition (or a forced
    /// new deployment) starts a deployment.
    pub fn updated_service(&mut self, request: &Value, response: &mut Value, now: f64) {
        let redeploys = request.get("taskDefinition").and_then(Value::as_str).is_some()
            || request.get("forceNewDeployment").and_then(Value::as_bool) == Some(true);
        let Some(service) = response.get_mut("service") else { return };
        let Some(key) = service_key(service) else { return };
        let mut deployments = self.deployments_of(&key, service);
        if redeploys {
            for deployment in &mut deployments {
                deployment.status = "ACTIVE";
            }
            self.deployments_created += 1;
            let id = format!("ecs-svc/{:019}", 4_000_000_000_000_000_000_u64 + self.deployments_created);
            let fails = self.faults.fail_rollout.remove(&key);
            deployments.insert(
                0,
                Deployment {
                    reason: format!("ECS deployment {id} in progress."),
                    id,
                    status: "PRIMARY",
                    task_definition: service
                        .get("taskDefinition")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    desired: service.get("desiredCount").and_then(Value::as_i64).unwrap_or(1),
                    rollout: "IN_PROGRESS",
                    created: now,
                    updated: now,
                    takes: self.rollout_seconds,
                    fails,
                },
            );
        }
        write_deployments(service, &deployments);
        self.services.insert(key, deployments);
    }

    /// Rewrites moto's `DescribeServices` answer: deployments progress with time.
    pub fn described_services(&mut self, response: &mut Value, now: f64) {
        let Some(services) = response.get_mut("services").and_then(Value::as_array_mut) else { return };
        for service in services {
            let Some(key) = service_key(service) else { continue };
            let mut deployments = self.deployments_of(&key, service);
            let settled =
                |d: &&mut Deployment| d.status == "PRIMARY" && d.rollout == "IN_PROGRESS" && now - d.created >= d.takes;
            if let Some(primary) = deployments.iter_mut().find(settled) {
                primary.updated = now;
                if primary.fails {
                    primary.rollout = "FAILED";
                    primary.reason = ROLLOUT_FAILURE.to_owned();
                } else {
                    primary.rollout = "COMPLETED";
                    primary.reason = format!("ECS deployment {} completed.", primary.id);
                }
            }
            if deployments.first().is_some_and(|primary| primary.rollout == "COMPLETED") {
                deployments.truncate(1);
            }
            write_deployments(service, &deployments);
            self.services.insert(key, deployments);
        }
    }

    /// The deployments the front keeps for `key`, or, for a service it has not seen, moto's one
    /// deployment, settled (a service created before the push runs its tasks).
    fn deployments_of(&self, key: &str, service: &Value) -> Vec<Deployment> {
        if let Some(known) = self.services.get(key) {
            return known.clone();
        }
        let task_definition = service.get("taskDefinition").and_then(Value::as_str).unwrap_or_default().to_owned();
        let first = service.get("deployments").and_then(Value::as_array).and_then(|all| all.first());
        let id = first.and_then(|d| d.get("id")).and_then(Value::as_str).unwrap_or("ecs-svc/0").to_owned();
        let created = first.and_then(|d| d.get("createdAt")).and_then(Value::as_f64).unwrap_or(0.0);
        vec![Deployment {
            reason: format!("ECS deployment {id} completed."),
            id,
            status: "PRIMARY",
            task_definition,
            desired: service.get("desiredCount").and_then(Value::as_i64).unwrap_or(1),
            rollout: "COMPLETED",
            created,
            updated: created,
            takes: 0.0,
            fails: false,
        }]
    }
}

/// `cluster/service` by name, from a service in an ECS answer.
fn service_key(service: &Value) -> Option<String> {
    let cluster = resource_name(service.get("clusterArn")?.as_str()?);
    let name = service.get("serviceName")?.as_str()?;
    Some(service_key_of(cluster, name))
}

/// `cluster/service` by name, from names or ARNs.
pub fn service_key_of(cluster: &str, service: &str) -> String {
    format!("{}/{}", resource_name(cluster), resource_name(service))
}

fn write_deployments(service: &mut Value, deployments: &[Deployment]) {
    let Some(fields) = service.as_object_mut() else { return };
    let running = deployments.iter().map(|d| d.counts().0).sum::<i64>();
    let pending = deployments.iter().map(|d| d.counts().1).sum::<i64>();
    fields.insert("deployments".into(), Value::Array(deployments.iter().map(Deployment::to_json).collect()));
    fields.insert("runningCount".into(), json!(running));
    fields.insert("pendingCount".into(), json!(pending));
}

/// Puts `overrides` into `build.environment.environmentVariables`, replacing by name.
fn merge_variables(build: &mut Value, overrides: &[Value]) {
    if overrides.is_empty() {
        return;
    }
    let Some(fields) = build.as_object_mut() else { return };
    let environment = fields.entry("environment").or_insert_with(|| json!({}));
    let Some(environment) = environment.as_object_mut() else { return };
    let variables = environment.entry("environmentVariables").or_insert_with(|| json!([]));
    let Some(variables) = variables.as_array_mut() else { return };
    for variable in overrides {
        let name = variable.get("name");
        variables.retain(|existing| existing.get("name") != name);
        let mut variable = variable.clone();
        if let Some(fields) = variable.as_object_mut() {
            fields.entry("type").or_insert_with(|| json!("PLAINTEXT"));
        }
        variables.push(variable);
    }
}

/// Phases `names`, each succeeded except the last, which is in progress, or `failed`.
fn phases(names: &[&str], failed: Option<&str>) -> Value {
    let last = names.len().saturating_sub(1);
    Value::Array(
        names
            .iter()
            .enumerate()
            .map(|(index, name)| match (index == last, failed) {
                (true, Some(failed)) if failed == *name => json!({
                    "phaseType": name,
                    "phaseStatus": "FAILED",
                    "contexts": [{ "statusCode": "COMMAND_EXECUTION_ERROR", "message": BUILD_FAILURE }],
                }),
                (true, None) => json!({ "phaseType": name }),
                _ => json!({ "phaseType": name, "phaseStatus": "SUCCEEDED" }),
            })
            .collect(),
    )
}

/// The region and account of an ARN (`arn:aws:codebuild:REGION:ACCOUNT:...`).
fn region_and_account(arn: &str) -> (&str, &str) {
    let mut parts = arn.split(':').skip(3);
    (parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILD_ARN: &str = "arn:aws:codebuild:us-east-1:123456789012:build/p:1";

    fn start(emulator: &mut Emulator, token: Option<&str>, now: f64) -> Value {
        let mut request = json!({
            "projectName": "p",
            "environmentVariablesOverride": [
                { "name": "IMAGE_REPOSITORY", "value": "sample/p" },
                { "name": "IMAGE_TAG", "value": "abc" },
            ],
        });
        if let Some(token) = token {
            request["idempotencyToken"] = json!(token);
        }
        let mut response = json!({ "build": { "id": "p:1", "arn": BUILD_ARN, "buildStatus": "IN_PROGRESS",
            "environment": { "environmentVariables": [{ "name": "IMAGE_TAG", "value": "old", "type": "PLAINTEXT" }] } } });
        emulator.started_build(&request, &mut response, now);
        response
    }

    fn look(emulator: &Emulator, now: f64) -> Value {
        let mut response = json!({ "builds": [{ "id": "p:1", "arn": BUILD_ARN, "buildStatus": "SUCCEEDED" }, { "id": "other:9", "buildStatus": "SUCCEEDED" }] });
        emulator.got_builds(&mut response, now);
        response
    }

    #[test]
    fn builds_carry_their_overrides_and_take_time() {
        let mut emulator = Emulator::new(2.0, 0.0);
        let started = start(&mut emulator, None, 100.0);
        let variables = &started["build"]["environment"]["environmentVariables"];
        assert_eq!(variables.as_array().map(Vec::len), Some(2), "{variables}");
        assert!(variables.as_array().into_iter().flatten().any(|v| v["name"] == "IMAGE_TAG" && v["value"] == "abc"));

        let early = look(&emulator, 101.0);
        assert_eq!(early["builds"][0]["buildStatus"], "IN_PROGRESS");
        assert_eq!(early["builds"][0]["currentPhase"], "BUILD");
        assert_eq!(early["builds"][1]["buildStatus"], "SUCCEEDED", "builds the front did not start are moto's");

        let done = look(&emulator, 102.0);
        assert_eq!(done["builds"][0]["buildStatus"], "SUCCEEDED");
        assert_eq!(
            done["builds"][0]["exportedEnvironmentVariables"],
            json!([{ "name": "IMAGE_URI", "value": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sample/p:abc" }])
        );
    }

    #[test]
    fn a_faulted_project_fails_in_the_build_phase() {
        let mut emulator = Emulator::new(0.0, 0.0);
        emulator.set_faults(Faults { fail_build: BTreeSet::from(["p".to_owned()]), ..Faults::default() });
        start(&mut emulator, None, 0.0);
        let done = look(&emulator, 0.0);
        let build = &done["builds"][0];
        assert_eq!(build["buildStatus"], "FAILED");
        let last = build["phases"].as_array().and_then(|phases| phases.last()).cloned().unwrap_or_default();
        assert_eq!(last["phaseType"], "BUILD");
        assert_eq!(last["phaseStatus"], "FAILED");
        assert!(build.get("exportedEnvironmentVariables").is_none());
    }

    #[test]
    fn an_idempotency_token_returns_the_first_build() {
        let mut emulator = Emulator::new(0.0, 0.0);
        let request = json!({ "projectName": "p", "idempotencyToken": "t" });
        assert_eq!(emulator.replay_start_build(&request), None);
        let first = start(&mut emulator, Some("t"), 0.0);
        assert_eq!(emulator.replay_start_build(&request), Some(first));
        assert_eq!(emulator.replay_start_build(&json!({ "idempotencyToken": "other" })), None);
    }

    fn service(task_definition: &str) -> Value {
        json!({ "service": {
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/c",
            "serviceName": "s",
            "taskDefinition": task_definition,
            "desiredCount": 2,
            "deployments": [{ "id": "ecs-svc/1", "status": "PRIMARY", "createdAt": 5.0 }],
        } })
    }

    fn describe(emulator: &mut Emulator, task_definition: &str, now: f64) -> Value {
        let mut response = json!({ "services": [service(task_definition)["service"].clone()] });
        emulator.described_services(&mut response, now);
        response["services"][0].clone()
    }

    fn update(emulator: &mut Emulator, task_definition: &str, now: f64) -> Value {
        let mut response = service(task_definition);
        emulator.updated_service(
            &json!({ "cluster": "c", "service": "s", "taskDefinition": task_definition }),
            &mut response,
            now,
        );
        response["service"].clone()
    }

    #[test]
    fn an_update_starts_a_deployment_that_completes_after_settling() {
        let mut emulator = Emulator::new(0.0, 3.0);
        let before = describe(&mut emulator, "td:1", 10.0);
        assert_eq!(before["deployments"][0]["rolloutState"], "COMPLETED", "a seeded service runs");
        assert_eq!(before["runningCount"], 2);

        let updated = update(&mut emulator, "td:2", 20.0);
        let deployments = updated["deployments"].as_array().cloned().unwrap_or_default();
        assert_eq!(deployments.len(), 2);
        assert_eq!(deployments[0]["status"], "PRIMARY");
        assert_eq!(deployments[0]["taskDefinition"], "td:2");
        assert_eq!(deployments[0]["rolloutState"], "IN_PROGRESS");
        assert_ne!(deployments[0]["id"], "ecs-svc/1");
        assert_eq!(deployments[1]["status"], "ACTIVE");
        assert_eq!(deployments[1]["taskDefinition"], "td:1");

        assert_eq!(describe(&mut emulator, "td:2", 22.0)["deployments"][0]["rolloutState"], "IN_PROGRESS");
        let done = describe(&mut emulator, "td:2", 23.0);
        assert_eq!(done["deployments"].as_array().map(Vec::len), Some(1), "the old deployment drained");
        assert_eq!(done["deployments"][0]["rolloutState"], "COMPLETED");
        assert_eq!(done["deployments"][0]["id"], deployments[0]["id"]);
    }

    #[test]
    fn a_faulted_rollout_fails_once_and_the_rollback_completes() {
        let mut emulator = Emulator::new(0.0, 0.0);
        emulator.set_faults(Faults { fail_rollout: BTreeSet::from([service_key_of("c", "s")]), ..Faults::default() });
        update(&mut emulator, "td:2", 0.0);
        let failed = describe(&mut emulator, "td:2", 1.0);
        assert_eq!(failed["deployments"][0]["rolloutState"], "FAILED");
        assert_eq!(failed["deployments"][0]["rolloutStateReason"], ROLLOUT_FAILURE);
        assert_eq!(failed["deployments"][1]["status"], "ACTIVE", "nothing drains while the rollout failed");
        assert!(emulator.faults().fail_rollout.is_empty(), "the fault is used up");

        update(&mut emulator, "td:1", 2.0);
        let rolled_back = describe(&mut emulator, "td:1", 3.0);
        assert_eq!(rolled_back["deployments"][0]["rolloutState"], "COMPLETED");
        assert_eq!(rolled_back["deployments"][0]["taskDefinition"], "td:1");
    }

    #[test]
    fn an_update_without_a_new_revision_starts_nothing() {
        let mut emulator = Emulator::new(0.0, 0.0);
        let mut response = service("td:1");
        emulator.updated_service(&json!({ "cluster": "c", "service": "s", "desiredCount": 2 }), &mut response, 1.0);
        assert_eq!(response["service"]["deployments"].as_array().map(Vec::len), Some(1));
        assert_eq!(response["service"]["deployments"][0]["id"], "ecs-svc/1");
    }
}
