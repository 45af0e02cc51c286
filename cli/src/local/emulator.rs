//! What moto does not model and the front adds to its answers: CodeBuild builds that take time,
//! carry their environment overrides, honour idempotency tokens and can be made to fail; and ECS
//! service deployments ([`Deployments`]), which moto does not have.
//!
//! The front proxies each call to moto first, so moto stays the source of truth for what exists
//! (projects, clusters, services, task definitions) and its errors (an unknown project or
//! service) reach the caller unchanged. This module only rewrites successful answers, the way
//! AWS would have answered:
//!
//! | call | moto answers | the emulator makes it |
//! |------|--------------|-----------------------|
//! | `StartBuild` | a build, ignoring `environmentVariablesOverride` and `idempotencyToken` | the build with the overrides in its environment; the same build again for a token seen before |
//! | `BatchGetBuilds` | every build `SUCCEEDED` at the first look | `IN_PROGRESS` for [`Emulator::build_seconds`], then `SUCCEEDED` exporting `IMAGE_URI` and `IMAGE_DIGEST` (as the sample buildspecs do), or `FAILED` in phase `BUILD` for a project in [`Faults::fail_build`] |
//! | `CreateService`, `UpdateService`, `DescribeServices` | the service without its deployment configuration (moto drops it) and with deployments that never progress | the service as the [`Deployments`] model shows it: `currentServiceDeployment`, `deploymentConfiguration` (the strategy `--strategy` asks for), `deploymentController`, `deployments[]` |
//! | `DescribeServiceDeployments`, `ListServiceDeployments`, `StopServiceDeployment` | nothing (moto has none of them) | answered by the [`Deployments`] model: each strategy progresses as ECS documents it, a fault (`--fail-rollout`) ends in ECS's rollback |
//!
//! It also keeps the events EventBridge would deliver: `CodeBuild Build State Change` when a build
//! ends ([`Emulator::due_events`]) and the model's `ECS Deployment State Change`s.
//!
//! Every method takes the time as seconds since the epoch, so the module is pure and
//! table-tested.

use std::collections::{BTreeMap, BTreeSet};

use deltaship_core::manifest::resource_name;

use super::deployments::{self, Configuration, Deployments, Fault, Strategy, Update};
use super::stack::{ACCOUNT, REGION};
use serde_json::{Value, json};

/// Failures to inject and strategies to deploy with, by AWS resource name. Set per
/// `deltaship local run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// CodeBuild projects whose builds fail (in phase `BUILD`) while set.
    pub fail_build: BTreeSet<String>,
    /// ECS services (`cluster/service`, by name) whose next rollout fails, and how (the circuit
    /// breaker, an alarm in bake time, a lifecycle hook). Each is used once: the rollback that
    /// follows rolls out normally.
    pub fail_rollout: BTreeMap<String, Fault>,
    /// ECS services (`cluster/service`, by name) and the strategy their next rollouts use
    /// (ROLLING when not named).
    pub strategies: BTreeMap<String, Strategy>,
}

/// The message a failed build's `BUILD` phase carries.
pub const BUILD_FAILURE: &str = "Error while executing command: cargo build --release --locked. Reason: exit status 101 \
                                 (injected by deltaship local --fail-build)";

#[derive(Debug, Clone)]
struct Build {
    arn: String,
    project: String,
    overrides: Vec<Value>,
    started: f64,
    /// Seconds it takes (the emulator's `build_seconds` when it started).
    takes: f64,
    fails: bool,
    /// Whether its `CodeBuild Build State Change` has been sent.
    announced: bool,
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
    deployments: Deployments,
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
            deployments: Deployments::new(REGION, ACCOUNT),
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
        let arn = build.get("arn").and_then(Value::as_str).unwrap_or_default().to_owned();
        let build = Build {
            arn,
            project: project.to_owned(),
            overrides,
            started: now,
            takes: self.build_seconds,
            fails,
            announced: false,
        };
        self.builds.insert(id, build);
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
                // As the sample buildspecs export them: the image, and its digest (here a hash of
                // the reference: the same build of the same tag, the same digest).
                let digest = format!("sha256:{}", sha256_hex(uri.as_bytes()));
                fields.insert(
                    "exportedEnvironmentVariables".into(),
                    json!([{ "name": "IMAGE_URI", "value": uri }, { "name": "IMAGE_DIGEST", "value": digest }]),
                );
            }
        }
    }

    /// Completes moto's `CreateService` answer to `request`: the service's first service
    /// deployment, with the `deploymentConfiguration` moto dropped.
    pub fn created_service(&mut self, request: &Value, response: &mut Value, now: f64) {
        let Some(service) = response.get_mut("service") else { return };
        let Some(key) = service_key(service) else { return };
        let configuration = request
            .get("deploymentConfiguration")
            .and_then(|value| Configuration::from_json(value).ok())
            .unwrap_or_else(|| Configuration::new(Strategy::Rolling));
        let task_definition = service.get("taskDefinition").and_then(Value::as_str).unwrap_or_default().to_owned();
        let desired = service.get("desiredCount").and_then(Value::as_u64).unwrap_or(1);
        self.deployments.create_service(
            &key,
            configuration,
            &task_definition,
            u32::try_from(desired).unwrap_or(1),
            now,
        );
        self.deployments.complete_service(service, now);
    }

    /// Completes moto's `UpdateService` answer to `request`: a new task definition (or a forced
    /// new deployment) starts a service deployment, with the strategy and the fault this run asks
    /// for the service.
    pub fn updated_service(&mut self, request: &Value, response: &mut Value, now: f64) {
        let redeploys = request.get("taskDefinition").and_then(Value::as_str).is_some()
            || request.get("forceNewDeployment").and_then(Value::as_bool) == Some(true);
        let Some(service) = response.get_mut("service") else { return };
        let Some(key) = service_key(service) else { return };
        if redeploys {
            let strategy = self.faults.strategies.get(&key).copied().unwrap_or(Strategy::Rolling);
            let update = Update {
                task_definition: service.get("taskDefinition").and_then(Value::as_str).unwrap_or_default().to_owned(),
                desired_count: request.get("desiredCount").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()),
                configuration: Some(self.configuration_of(&key, strategy)),
                duration_seconds: self.rollout_seconds,
                fault: self.faults.fail_rollout.remove(&key).unwrap_or(Fault::None),
            };
            self.deployments.update_service(&key, &update, now);
        }
        self.deployments.complete_service(service, now);
    }

    /// The service's configuration with `strategy`: its own when it deploys that way already.
    fn configuration_of(&self, key: &str, strategy: Strategy) -> Configuration {
        let mut service = json!({ "clusterArn": key, "serviceName": key });
        self.deployments.complete_service(&mut service, 0.0);
        match service.get("deploymentConfiguration").map(Configuration::from_json) {
            Some(Ok(current)) if current.strategy == strategy => current,
            _ => Configuration::new(strategy),
        }
    }

    /// Rewrites moto's `DescribeServices` answer: every service as the model shows it.
    pub fn described_services(&mut self, response: &mut Value, now: f64) {
        let Some(services) = response.get_mut("services").and_then(Value::as_array_mut) else { return };
        for service in services {
            self.deployments.complete_service(service, now);
        }
    }

    /// The answer to a service-deployment call moto does not have (`operation` of ECS's API),
    /// or its error (code, message).
    pub fn service_deployments(
        &mut self,
        operation: &str,
        request: &Value,
        now: f64,
    ) -> Result<Value, (&'static str, String)> {
        let text = |key: &str| request.get(key).and_then(Value::as_str).unwrap_or_default();
        let texts = |key: &str| -> Vec<String> {
            request
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(ToOwned::to_owned)
                .collect()
        };
        let result = match operation {
            "DescribeServiceDeployments" => {
                self.deployments.describe_service_deployments(&texts("serviceDeploymentArns"), now)
            }
            "ListServiceDeployments" => {
                let service = service_key_of(text("cluster"), text("service"));
                Ok(self.deployments.list_service_deployments(&service, &texts("status"), now))
            }
            "StopServiceDeployment" => {
                self.deployments.stop_service_deployment(text("serviceDeploymentArn"), text("stopType"), now)
            }
            other => return Err(("UnknownOperationException", format!("the local stack does not answer ECS {other}"))),
        };
        result.map_err(|error| (error.code, error.message))
    }

    /// The events EventBridge would deliver since the last call, in order: `CodeBuild Build State
    /// Change` for every build that ended, and the deployments' `ECS Deployment State Change`s.
    pub fn due_events(&mut self, now: f64) -> Vec<Value> {
        let mut events = Vec::new();
        for (id, build) in &mut self.builds {
            let end = build.started + build.takes;
            if build.announced || now < end {
                continue;
            }
            build.announced = true;
            let status = if build.fails { "FAILED" } else { "SUCCEEDED" };
            let answer = json!({
                "id": id, "arn": build.arn, "projectName": build.project, "buildStatus": status,
                "currentPhase": "COMPLETED", "startTime": build.started, "endTime": end,
            });
            events.push((end, deployments::build_state_change(&answer, end)));
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut events: Vec<Value> = events.into_iter().map(|(_, event)| event).collect();
        events.extend(self.deployments.drain_events(now));
        events
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

/// The lower-case hex SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
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
        let exported = &done["builds"][0]["exportedEnvironmentVariables"];
        assert_eq!(
            exported[0],
            json!({ "name": "IMAGE_URI", "value": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sample/p:abc" })
        );
        assert_eq!(exported[1]["name"], "IMAGE_DIGEST");
        let digest = exported[1]["value"].as_str().unwrap();
        assert!(digest.len() == 71 && digest.starts_with("sha256:"), "{digest}");
        assert_eq!(look(&emulator, 103.0)["builds"][0]["exportedEnvironmentVariables"][1]["value"], digest, "stable");
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

    #[test]
    fn an_ended_build_is_announced_once() {
        let mut emulator = Emulator::new(2.0, 0.0);
        start(&mut emulator, None, 100.0);
        assert!(emulator.due_events(101.0).is_empty(), "still running");
        let events = emulator.due_events(102.5);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["detail-type"], "CodeBuild Build State Change");
        assert_eq!(events[0]["detail"]["build-status"], "SUCCEEDED");
        assert_eq!(events[0]["detail"]["build-id"], BUILD_ARN);
        assert!(emulator.due_events(110.0).is_empty(), "once");
    }

    fn service(task_definition: &str) -> Value {
        json!({ "service": {
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/c",
            "serviceName": "s",
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/c/s",
            "taskDefinition": task_definition,
            "desiredCount": 2,
            "deployments": [{ "id": "ecs-svc/1", "status": "PRIMARY", "createdAt": 5.0 }],
        } })
    }

    #[test]
    fn updates_start_service_deployments_with_the_runs_strategy_and_fault() {
        let mut emulator = Emulator::new(0.0, 4.0);
        let mut created = service("td:1");
        emulator.created_service(&json!({}), &mut created, 0.0);
        let first = created["service"]["currentServiceDeployment"].as_str().unwrap_or_default().to_owned();
        assert!(first.contains(":service-deployment/c/s/"), "{first}");

        let mut faults = Faults::default();
        faults.strategies.insert(service_key_of("c", "s"), Strategy::Canary);
        faults.fail_rollout.insert(service_key_of("c", "s"), Fault::Alarm);
        emulator.set_faults(faults);
        let mut updated = service("td:2");
        emulator.updated_service(&json!({ "taskDefinition": "td:2" }), &mut updated, 10.0);
        let ours = updated["service"]["currentServiceDeployment"].as_str().unwrap_or_default().to_owned();
        assert_ne!(ours, first);
        assert_eq!(updated["service"]["deploymentConfiguration"]["strategy"], "CANARY");
        assert!(emulator.faults().fail_rollout.is_empty(), "the fault is used once");

        let described = emulator
            .service_deployments("DescribeServiceDeployments", &json!({ "serviceDeploymentArns": [ours] }), 20.0)
            .unwrap_or_default();
        let status = described["serviceDeployments"][0]["status"].as_str().unwrap_or_default().to_owned();
        assert!(status.starts_with("ROLLBACK"), "an alarm in bake time rolls back: {described}");
        let events = emulator.due_events(20.0);
        assert!(events.iter().all(|event| event["source"] == "aws.ecs"), "{events:?}");
        assert!(!events.is_empty());

        let unknown = emulator.service_deployments(
            "StopServiceDeployment",
            &json!({ "serviceDeploymentArn": "nope", "stopType": "ROLLBACK" }),
            21.0,
        );
        assert_eq!(unknown.err().map(|(code, _)| code), Some("ServiceDeploymentNotFoundException"));
    }

    #[test]
    fn an_update_without_a_new_revision_starts_nothing() {
        let mut emulator = Emulator::new(0.0, 0.0);
        let mut created = service("td:1");
        emulator.created_service(&json!({}), &mut created, 0.0);
        let mut response = service("td:1");
        emulator.updated_service(&json!({ "cluster": "c", "service": "s", "desiredCount": 2 }), &mut response, 1.0);
        assert_eq!(response["service"]["currentServiceDeployment"], created["service"]["currentServiceDeployment"]);
    }
}
