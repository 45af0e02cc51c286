//! What the Lambdas answer in the cost model, on its simulated clock: the execution input
//! detect-changes would start (a [`PipelineInput`] of alike services), and each Task's function,
//! named by its `Parameters.FunctionName` placeholder (`${StartBuildFunctionArn}`, ...).
//!
//! A stand-in judges as its Lambda does, with the core's own judges ([`judge_build`],
//! [`judge_rollout`]) and the scenario's [`WaitPolicy`](deltaship_core::WaitPolicy): a build is
//! done once it has run `build_seconds`, a rollout completes once it has run `rollout_seconds`
//! (or fails past its deadline). Answers are the handlers' own output types
//! ([`deltaship_core::payloads`]) serialized, so a renamed field breaks the build, not the
//! figures; a failure is an error name and cause for the state's `Catch`.

use deltaship_core::build::{BuildSnapshot, IMAGE_URI_VARIABLE, judge_build};
use deltaship_core::payloads::{
    BuildStatus, CheckBuildOutput, CheckRolloutOutput, RollbackAction, RollbackOutput, RolledBackBy, RolloutStatus,
};
use deltaship_core::rollout::{Expect, ServiceDeploymentSnapshot, judge_rollout};
use deltaship_core::{BuildVerdict, Failure, Origin, PipelineInput, RolloutVerdict, RolloutWatch, ServiceJob};
use serde::Serialize;
use serde_json::Value;

use super::walk::{AslError, Scenario, fail};

/// The build every stand-in build is.
const BUILD_ID: &str = "p:1";
/// Every console link.
const URL: &str = "u";
/// The image every build pushes.
const IMAGE: &str = "registry/service:commit";
/// The deployment deploy-service starts.
const DEPLOYMENT_ID: &str = "ecs-svc/1";
/// Its service deployment.
const SERVICE_DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/service/1";

/// A stand-in Lambda's answer: its payload, or an error name and cause.
pub(super) type Answer = Result<Value, (String, String)>;

/// What the stand-in Lambdas remember within one run (one service's iteration).
#[derive(Debug, Default)]
pub(super) struct World {
    build_started_ms: Option<u64>,
    rollout_started_ms: Option<u64>,
    /// check-build's invocations.
    pub(super) build_checks: u64,
    /// check-rollout's invocations.
    pub(super) rollout_checks: u64,
    /// When check-build first answered SUCCEEDED, in milliseconds.
    pub(super) build_seen_at_ms: Option<u64>,
}

/// The execution's input for a push of `services` alike services, as detect-changes starts it.
pub(super) fn execution_input(scenario: &Scenario, services: u64) -> Result<Value, AslError> {
    let commit = "0".repeat(40);
    let job = |index: u64| ServiceJob {
        name: format!("service-{index}"),
        repository: "monorepo".into(),
        branch: "main".into(),
        commit: commit.clone(),
        execution: "cost-model".into(),
        pushed_at: 0,
        project: format!("service-{index}"),
        cluster: "shop".into(),
        service: format!("service-{index}"),
        container: "app".into(),
        image_repository: format!("shop/service-{index}"),
        timeout_minutes: scenario.timeout_minutes,
        build_timeout_minutes: deltaship_core::manifest::DEFAULT_BUILD_TIMEOUT_MINUTES,
        reasons: Vec::new(),
        more_reasons: 0,
    };
    serialized(&PipelineInput {
        execution: "cost-model".into(),
        repository: "monorepo".into(),
        branch: "main".into(),
        commit: commit.clone(),
        base: None,
        pushed_by: None,
        pushed_at: 0,
        origin: Origin::Push,
        max_concurrency: 10,
        services: (0..services).map(job).collect(),
        part: 1,
        parts: 1,
        removed: Vec::new(),
    })
}

/// The stand-in for the Lambda the Task state `name` invokes, at `now_ms` on the clock.
pub(super) fn answer(
    name: &str,
    state: &Value,
    scenario: &Scenario,
    now_ms: u64,
    world: &mut World,
) -> Result<Answer, AslError> {
    let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
    if !resource.starts_with("arn:aws:states:::lambda:invoke") {
        return fail(format!("state {name:?}: the cost model knows Lambda tasks only, not {resource:?}"));
    }
    match state.pointer("/Parameters/FunctionName").and_then(Value::as_str).unwrap_or("") {
        "${StartBuildFunctionArn}" => start_build(scenario, now_ms, world),
        "${CheckBuildFunctionArn}" => check_build(scenario, now_ms, world),
        "${DeployServiceFunctionArn}" => deploy_service(scenario, now_ms, world),
        "${CheckRolloutFunctionArn}" => check_rollout(scenario, now_ms, world),
        "${RollbackServiceFunctionArn}" => answered(&RollbackOutput {
            action: RollbackAction::RolledBackByEcs,
            rolled_back_by: Some(RolledBackBy::Ecs),
            task_definition: "td:1".into(),
            rollout: None,
            message: "rolled back".into(),
            service_url: URL.into(),
        }),
        other => fail(format!("state {name:?}: the cost model has no stand-in for the function {other:?}")),
    }
}

/// start-build: the build starts now; it answers its policy's first wait, which is `next(0)`.
fn start_build(scenario: &Scenario, now_ms: u64, world: &mut World) -> Result<Answer, AslError> {
    world.build_started_ms = Some(now_ms);
    answered(&build_output(BuildStatus::InProgress, scenario.build_wait.next(0), None, None))
}

/// check-build: the build as CodeBuild would show it, judged by [`judge_build`].
fn check_build(scenario: &Scenario, now_ms: u64, world: &mut World) -> Result<Answer, AslError> {
    world.build_checks += 1;
    let elapsed = seconds(now_ms.saturating_sub(world.build_started_ms.unwrap_or(now_ms)));
    let done = elapsed >= scenario.build_seconds;
    let snapshot = BuildSnapshot {
        id: BUILD_ID.into(),
        status: if done { "SUCCEEDED" } else { "IN_PROGRESS" }.into(),
        exported: vec![(IMAGE_URI_VARIABLE.into(), IMAGE.into())],
        elapsed_seconds: elapsed,
        ..BuildSnapshot::default()
    };
    let (status, wait_seconds, phase, image) = match judge_build(&snapshot, scenario.build_wait) {
        BuildVerdict::InProgress { wait_seconds, phase } => (BuildStatus::InProgress, wait_seconds, phase, None),
        BuildVerdict::Succeeded { image } => {
            world.build_seen_at_ms = Some(now_ms);
            (BuildStatus::Succeeded, 0, None, Some(image))
        }
        BuildVerdict::Failed(failure) => return Ok(failed(failure)),
    };
    answered(&build_output(status, wait_seconds, phase, image))
}

fn build_output(
    status: BuildStatus,
    wait_seconds: u32,
    phase: Option<String>,
    image: Option<String>,
) -> CheckBuildOutput {
    CheckBuildOutput {
        status,
        build_id: BUILD_ID.into(),
        build_arn: format!("arn:aws:codebuild:us-east-1:123456789012:build/{BUILD_ID}"),
        deadline: None,
        wait_seconds,
        phase,
        image,
        build_url: URL.into(),
        logs_url: None,
    }
}

/// deploy-service: the rollout starts now; it answers its policy's first wait, which is `next(0)`.
fn deploy_service(scenario: &Scenario, now_ms: u64, world: &mut World) -> Result<Answer, AslError> {
    world.rollout_started_ms = Some(now_ms);
    answered(&CheckRolloutOutput {
        status: RolloutStatus::InProgress,
        watch: watch(scenario, now_ms),
        stage: None,
        wait_seconds: scenario.rollout_wait.next(0),
        detail: String::new(),
        service_url: URL.into(),
    })
}

/// check-rollout: the service as ECS would show it, judged by [`judge_rollout`].
fn check_rollout(scenario: &Scenario, now_ms: u64, world: &mut World) -> Result<Answer, AslError> {
    world.rollout_checks += 1;
    let started_ms = world.rollout_started_ms.unwrap_or(now_ms);
    let done = seconds(now_ms.saturating_sub(started_ms)) >= scenario.rollout_seconds;
    let watch = watch(scenario, started_ms);
    let deployment = ServiceDeploymentSnapshot {
        arn: SERVICE_DEPLOYMENT.into(),
        status: if done { "SUCCESSFUL" } else { "IN_PROGRESS" }.into(),
        ..ServiceDeploymentSnapshot::default()
    };
    let now = i64::try_from(seconds(now_ms)).unwrap_or(i64::MAX);
    let (status, wait_seconds, detail) =
        match judge_rollout(&watch, &deployment, Some(SERVICE_DEPLOYMENT), now, scenario.rollout_wait) {
            RolloutVerdict::InProgress { wait_seconds, progress } => {
                (RolloutStatus::InProgress, wait_seconds, progress)
            }
            RolloutVerdict::Completed { note } => (RolloutStatus::Completed, 0, note),
            RolloutVerdict::Failed(failure) => return Ok(failed(failure)),
        };
    answered(&CheckRolloutOutput { status, watch, stage: None, wait_seconds, detail, service_url: URL.into() })
}

/// The deployment deploy-service starts at `started_ms`, with the scenario's deadline.
fn watch(scenario: &Scenario, started_ms: u64) -> RolloutWatch {
    let started = i64::try_from(seconds(started_ms)).unwrap_or(i64::MAX);
    RolloutWatch {
        name: "service".into(),
        execution: "cost-model".into(),
        cluster: "shop".into(),
        service: "service".into(),
        service_arn: "arn:aws:ecs:us-east-1:123456789012:service/shop/service".into(),
        service_deployment: SERVICE_DEPLOYMENT.into(),
        deployment_id: DEPLOYMENT_ID.into(),
        task_definition: "td:2".into(),
        previous_task_definition: "td:1".into(),
        strategy: "ROLLING".into(),
        expect: Expect::Deployed,
        started_at: started,
        deadline: started.saturating_add(i64::from(scenario.timeout_minutes) * 60),
    }
}

fn seconds(ms: u64) -> u64 {
    ms / 1000
}

/// A failure as the Lambda raises it: its error name, and its message as the cause.
fn failed(failure: Failure) -> Answer {
    Err((failure.kind.name().to_owned(), failure.message))
}

/// An output as the Lambda returns it: its JSON.
fn answered<T: Serialize>(output: &T) -> Result<Answer, AslError> {
    serialized(output).map(Ok)
}

fn serialized<T: Serialize>(value: &T) -> Result<Value, AslError> {
    serde_json::to_value(value).map_err(|error| AslError(format!("a stand-in's payload: {error}")))
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;

    use super::*;

    /// Each stand-in answers as its function does, on the clock: waits from the policy, a build
    /// done after `build_seconds`, a rollout after `rollout_seconds`.
    #[test]
    fn answers_are_the_functions_outputs_on_the_clock() {
        fn parsed<T: DeserializeOwned>(answer: Answer) -> T {
            serde_json::from_value(answer.unwrap()).unwrap()
        }
        let scenario = Scenario::new(300, 300);
        let task = |function: &str| {
            serde_json::json!({
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": function },
            })
        };
        let mut world = World::default();
        let mut ask =
            |function: &str, now_ms: u64| answer("t", &task(function), &scenario, now_ms, &mut world).unwrap();

        let start: CheckBuildOutput = parsed(ask("${StartBuildFunctionArn}", 1_000));
        assert_eq!(start.wait_seconds, 60);
        let running: CheckBuildOutput = parsed(ask("${CheckBuildFunctionArn}", 121_000));
        assert_eq!((running.status, running.wait_seconds, running.image), (BuildStatus::InProgress, 120, None));
        let built: CheckBuildOutput = parsed(ask("${CheckBuildFunctionArn}", 301_000));
        assert_eq!((built.status, built.image.as_deref()), (BuildStatus::Succeeded, Some(IMAGE)));
        let deployed: CheckRolloutOutput = parsed(ask("${DeployServiceFunctionArn}", 302_000));
        assert_eq!((deployed.watch.started_at, deployed.watch.deadline, deployed.wait_seconds), (302, 302 + 1800, 30));
        let rolling: CheckRolloutOutput = parsed(ask("${CheckRolloutFunctionArn}", 362_000));
        assert_eq!((rolling.status, rolling.wait_seconds), (RolloutStatus::InProgress, 60));
        let done: CheckRolloutOutput = parsed(ask("${CheckRolloutFunctionArn}", 602_000));
        assert_eq!(done.status, RolloutStatus::Completed);
        let rollback: RollbackOutput = parsed(ask("${RollbackServiceFunctionArn}", 603_000));
        assert_eq!(rollback.action, RollbackAction::RolledBackByEcs);
        assert_eq!((world.build_checks, world.rollout_checks, world.build_seen_at_ms), (2, 2, Some(301_000)));

        let input = execution_input(&scenario, 2).unwrap();
        let input: PipelineInput = serde_json::from_value(input).unwrap();
        let names: Vec<&str> = input.services.iter().map(|job| job.name.as_str()).collect();
        assert_eq!(names, ["service-0", "service-1"]);
        assert_eq!(input.services[1].timeout_minutes, 30);
    }

    #[test]
    fn a_rollout_past_its_deadline_is_a_deadline_error() {
        let scenario = Scenario { timeout_minutes: 5, ..Scenario::new(300, 600) };
        let task = serde_json::json!({
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": { "FunctionName": "${CheckRolloutFunctionArn}" },
        });
        let mut world = World { rollout_started_ms: Some(0), ..World::default() };
        let (error, _) = answer("t", &task, &scenario, 301_000, &mut world).unwrap().unwrap_err();
        assert_eq!(error, "DeadlineExceeded");
        let other = serde_json::json!({ "Resource": "arn:aws:states:::sqs:sendMessage" });
        let error = answer("t", &other, &scenario, 0, &mut world).unwrap_err();
        assert!(error.0.contains("knows Lambda tasks only"), "{error}");
    }
}
