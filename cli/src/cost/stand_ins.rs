//! What the Lambdas do in the cost model, on its simulated clock: the execution input
//! detect-changes would start (a [`PipelineInput`] of alike services), each Task's function
//! (named by its `Parameters.FunctionName` placeholder, `${StartBuildFunctionArn}`, ...) given
//! the payload the state sends it, and wake-waits given an EventBridge event.
//!
//! A stand-in judges as its Lambda does, with the core's own judges ([`judge_build`],
//! [`judge_rollout`], [`decide_rollback`]) and the scenario's wait policies, on what the
//! [`World`] says the build and the service deployment are at that time: a build succeeds once
//! it has run `build_seconds`; a service deployment succeeds once it has run `rollout_seconds`,
//! unless deltaship rolled it back before: then it rolls back for `rollback_seconds`, then is
//! rolled back. Inputs are parsed into, and answers serialized from, the handlers' own types
//! ([`deltaship_core::payloads`]), so a renamed field breaks the walk or the build, not the
//! figures; a failure is an error name and cause for the state's `Catch`.
//!
//! check-build and check-rollout run in the real ones' two modes, by their input:
//! - look mode (no `task_token`): look once and answer;
//! - wait mode (`task_token`): store the token in the waits table ([`super::waits`]), look once,
//!   and if the look ends the wait, complete the token (a success with the answer, a failure with
//!   the error, which the invocation returns too) and delete the record.
//!
//! wake-waits, for each event EventBridge delivers: queries the records under the event's
//! resource, looks again for each one, and completes and deletes those the look ends. A callback
//! task ends at its token's first completion ([`World::completion`]).
//!
//! A build exports its image by digest too (`IMAGE_DIGEST`), which the core turns into
//! `image_by_digest` ([`image_by_digest`]); check-build answers it as `deploy_image` too (as the
//! real one does: the image by tag only when the build exported no digest), which every
//! environment deploys.
//!
//! request-approval (the "Wait for approval" callback task, a gate before a later environment):
//! records the wait at its gate and notifies; in the model a person approves
//! `approval_seconds` after it (`deltaship approve`, which completes the token with
//! `{"decision": "approved", "by": ..., "comment": null}`, [`deltaship_core::gates::Answer`]).
//! Counted: its invocation and the task's history events, as for any callback task; the gate's
//! record in the waits table, the SNS notification and the `SendTaskSuccess` of `deltaship
//! approve` are not (they cost a few millionths of a dollar, and are not the state machine's).

use std::collections::BTreeMap;

use deltaship_core::build::{BuildSnapshot, IMAGE_DIGEST_VARIABLE, IMAGE_URI_VARIABLE, image_by_digest, judge_build};
use deltaship_core::environments::{DEFAULT_APPROVAL_TIMEOUT_HOURS, DEFAULT_ENVIRONMENT, Promotion};
use deltaship_core::gates::{self, GateRecord};
use deltaship_core::payloads::{
    ApprovalStatus, BuildStatus, CheckBuildInput, CheckBuildOutput, CheckRolloutInput, CheckRolloutOutput, DeployInput,
    RequestApprovalInput, RequestApprovalOutput, RollbackAction, RollbackInput, RollbackOutput, RolledBackBy,
    RolloutStatus,
};
use deltaship_core::rollout::{Expect, ServiceDeploymentSnapshot, decide_rollback, judge_rollout};
use deltaship_core::{
    BuildVerdict, ErrorKind, Failure, Origin, PipelineInput, RollbackDecision, RolloutVerdict, RolloutWatch, ServiceJob,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::waits::{Event, Kind, Record, Schedule, Table, Watch};
use super::walk::{AslError, Events, Scenario, fail};

/// Every console link.
const URL: &str = "u";
/// The image every build pushes.
const IMAGE: &str = "registry/service:commit";
/// The digest every build exports (`IMAGE_DIGEST`).
const DIGEST: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";
/// The placeholder of request-approval's ARN.
const APPROVAL_FUNCTION: &str = "${RequestApprovalFunctionArn}";
/// Who approves every promotion.
const APPROVER: &str = "arn:aws:iam::123456789012:user/ops";
/// The account and region of every ARN.
const ACCOUNT: &str = "us-east-1:123456789012";

/// A stand-in Lambda's answer: its payload, or an error name and cause.
pub(super) type Answer = Result<Value, (String, String)>;

/// The first completion of a task token.
#[derive(Debug, Clone)]
pub(super) struct Completion {
    /// When, in milliseconds.
    pub(super) at_ms: u64,
    /// The task's result (`SendTaskSuccess`'s output) or error (`SendTaskFailure`'s).
    pub(super) answer: Answer,
}

/// The service deployment deploy-service started.
#[derive(Debug, Clone, Copy)]
struct Deployment {
    started_ms: u64,
    /// When deltaship stopped it to roll it back.
    stopped_ms: Option<u64>,
}

impl Deployment {
    /// Its status at `at_ms`, as `DescribeServiceDeployments` would report it.
    fn status_at(self, at_ms: u64, scenario: &Scenario) -> &'static str {
        match self.stopped_ms {
            Some(stopped) if at_ms >= stopped => {
                if at_ms - stopped >= scenario.rollback_seconds * 1000 {
                    "ROLLBACK_SUCCESSFUL"
                } else {
                    "ROLLBACK_IN_PROGRESS"
                }
            }
            _ if at_ms.saturating_sub(self.started_ms) >= scenario.rollout_seconds * 1000 => "SUCCESSFUL",
            _ => "IN_PROGRESS",
        }
    }
}

/// What the stand-ins share within one run (one service's iteration): the build and the service
/// deployment, the events on their way, the waits table, the tokens and their completions.
#[derive(Debug, Default)]
pub(super) struct World {
    build_started_ms: Option<u64>,
    deployment: Option<Deployment>,
    events: Schedule,
    /// The waits table.
    pub(super) table: Table,
    completions: BTreeMap<String, Completion>,
    tokens: u64,
    /// check-build's invocations.
    pub(super) build_checks: u64,
    /// check-rollout's invocations.
    pub(super) rollout_checks: u64,
    /// wake-waits' invocations (one per event delivered).
    pub(super) wakes: u64,
    /// When a look (check-build's or wake-waits') first saw the build done, in milliseconds.
    pub(super) build_seen_at_ms: Option<u64>,
}

impl World {
    /// A new task token (`$$.Task.Token` of a callback task).
    pub(super) fn new_token(&mut self) -> String {
        self.tokens += 1;
        format!("token-{}", self.tokens)
    }

    /// The first completion of `token`, if any.
    pub(super) fn completion(&self, token: &str) -> Option<&Completion> {
        self.completions.get(token)
    }

    /// When the next event arrives.
    pub(super) fn next_event_at(&self) -> Option<u64> {
        self.events.next_at()
    }

    /// Delivers every event that arrives by `until_ms` to wake-waits, in order.
    pub(super) fn deliver_until(&mut self, until_ms: u64, scenario: &Scenario) -> Result<(), AslError> {
        while let Some(event) = self.events.pop_by(until_ms) {
            wake_waits(&event, scenario, self)?;
        }
        Ok(())
    }

    /// Delivers every event still to come (they cost the same after the iteration ended).
    pub(super) fn drain(&mut self, scenario: &Scenario) -> Result<(), AslError> {
        self.deliver_until(u64::MAX, scenario)
    }

    fn complete(&mut self, token: &str, at_ms: u64, answer: Answer) {
        self.completions.entry(token.to_owned()).or_insert(Completion { at_ms, answer });
    }

    /// Sends `event` when events flow; nothing when they are lost.
    fn send(&mut self, scenario: &Scenario, event: Event) {
        if scenario.events == Events::Flowing {
            self.events.push(event);
        }
    }

    fn deployment(&self) -> Result<Deployment, AslError> {
        self.deployment.ok_or_else(|| AslError("a rollout was looked at before deploy-service started it".into()))
    }
}

/// The service job of service `index`, with the scenario's deadlines and environments.
pub(super) fn job(scenario: &Scenario, index: u64) -> ServiceJob {
    ServiceJob {
        name: format!("service-{index}"),
        repository: "monorepo".into(),
        branch: "main".into(),
        commit: "0".repeat(40),
        execution: "cost-model".into(),
        pushed_at: 0,
        project: format!("service-{index}"),
        cluster: "shop".into(),
        service: format!("service-{index}"),
        container: "app".into(),
        image_repository: format!("shop/service-{index}"),
        timeout_minutes: scenario.timeout_minutes,
        build_timeout_minutes: scenario.build_timeout_minutes,
        reasons: Vec::new(),
        more_reasons: 0,
        environment: environment_name(scenario, 0),
        pushed_by: None,
        promotions: (1..scenario.environments.max(1))
            .map(|at| {
                let environment = environment_name(scenario, at);
                Promotion {
                    cluster: format!("shop-{environment}"),
                    environment,
                    approval: scenario.approvals,
                    approval_timeout_seconds: DEFAULT_APPROVAL_TIMEOUT_HOURS * 3600,
                    service: format!("service-{index}"),
                    container: "app".into(),
                    timeout_minutes: scenario.timeout_minutes,
                    answer: None,
                }
            })
            .collect(),
        answer: None,
        image: None,
    }
}

/// The name of environment `at` (from 0): `default` when there is one, else `env-1`, `env-2`, ...
fn environment_name(scenario: &Scenario, at: u32) -> String {
    if scenario.environments <= 1 { DEFAULT_ENVIRONMENT.to_owned() } else { format!("env-{}", at + 1) }
}

/// The execution's input for a push of `services` alike services, as detect-changes starts it.
pub(super) fn execution_input(scenario: &Scenario, services: u64) -> Result<Value, AslError> {
    serialized(&PipelineInput {
        execution: "cost-model".into(),
        repository: "monorepo".into(),
        branch: "main".into(),
        commit: "0".repeat(40),
        base: None,
        pushed_by: None,
        pushed_at: 0,
        origin: Origin::Push,
        max_concurrency: 10,
        services: (0..services).map(|index| job(scenario, index)).collect(),
        part: 1,
        parts: 1,
        removed: Vec::new(),
    })
}

/// The stand-in for the Lambda the Task state `name` invokes with `payload`, at `now_ms` on the
/// clock.
pub(super) fn answer(
    name: &str,
    state: &Value,
    payload: &Value,
    scenario: &Scenario,
    now_ms: u64,
    world: &mut World,
) -> Result<Answer, AslError> {
    let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
    if !resource.starts_with("arn:aws:states:::lambda:invoke") {
        return fail(format!("state {name:?}: the cost model knows Lambda tasks only, not {resource:?}"));
    }
    let function = state.pointer("/Parameters/FunctionName").and_then(Value::as_str).unwrap_or("");
    let input = || Input { state: name, function, payload };
    match function {
        "${StartBuildFunctionArn}" => start_build(&input().parse()?, scenario, now_ms, world),
        "${CheckBuildFunctionArn}" => check_build(&input().parse()?, scenario, now_ms, world),
        "${DeployServiceFunctionArn}" => deploy_service(input().parse()?, scenario, now_ms, world),
        "${CheckRolloutFunctionArn}" => check_rollout(&input().parse()?, scenario, now_ms, world),
        "${RollbackServiceFunctionArn}" => rollback_service(name, input().parse()?, scenario, now_ms, world),
        APPROVAL_FUNCTION => request_approval(&input().parse()?, scenario, now_ms, world),
        other => fail(format!("state {name:?}: the cost model has no stand-in for the function {other:?}")),
    }
}

/// Whether the Task `state` is an approval's wait (request-approval's callback task).
pub(super) fn is_approval(state: &Value) -> bool {
    state.pointer("/Parameters/FunctionName").and_then(Value::as_str) == Some(APPROVAL_FUNCTION)
}

/// A function's payload, to be read as its input type.
struct Input<'a> {
    state: &'a str,
    function: &'a str,
    payload: &'a Value,
}

impl Input<'_> {
    fn parse<T: DeserializeOwned>(&self) -> Result<T, AslError> {
        serde_json::from_value(self.payload.clone()).map_err(|error| {
            AslError(format!("state {:?}: {} cannot read its payload: {error}", self.state, self.function))
        })
    }
}

/// What a look found.
enum Looked {
    /// Not over: the answer in progress.
    Pending(Value),
    /// Over and good: the answer.
    Done(Value),
    /// Over and bad: the error name and cause.
    Failed(String, String),
}

impl Looked {
    fn of_failure(failure: &Failure) -> Self {
        Self::Failed(failure.kind.name().to_owned(), failure.message.clone())
    }

    /// Whether the look ends a wait (a success or a failure).
    fn ends_wait(&self) -> bool {
        !matches!(self, Self::Pending(_))
    }

    /// The look as the invocation's answer.
    fn answer(self) -> Answer {
        match self {
            Self::Pending(output) | Self::Done(output) => Ok(output),
            Self::Failed(error, cause) => Err((error, cause)),
        }
    }
}

/// start-build: the build starts now; it answers the build in progress, with deltaship's deadline
/// for it and the first fallback timeout (the policy's shortest, never past the deadline).
fn start_build(job: &ServiceJob, scenario: &Scenario, now_ms: u64, world: &mut World) -> Result<Answer, AslError> {
    world.build_started_ms = Some(now_ms);
    let now = seconds(now_ms);
    let deadline = now + i64::from(job.build_timeout_minutes) * 60;
    let build_arn = format!("arn:aws:codebuild:{ACCOUNT}:build/{}:1", job.project);
    world.send(scenario, Event::build_ended(now_ms + scenario.build_seconds * 1000, &build_arn));
    answered(&CheckBuildOutput {
        status: BuildStatus::InProgress,
        build_id: format!("{}:1", job.project),
        build_arn,
        deadline: Some(deadline),
        wait_seconds: scenario.build_wait.next_before(0, remaining(deadline, now)),
        phase: None,
        image: None,
        image_by_digest: None,
        deploy_image: None,
        build_url: URL.into(),
        logs_url: None,
    })
}

/// check-build, in either mode.
fn check_build(
    input: &CheckBuildInput,
    scenario: &Scenario,
    now_ms: u64,
    world: &mut World,
) -> Result<Answer, AslError> {
    world.build_checks += 1;
    let looked = look_at_build(input, scenario, now_ms, world)?;
    let record = |token: &str| Record::build(input, token, seconds(now_ms), scenario.build_wait);
    look_or_wait(world, input.task_token.as_deref(), record, looked, now_ms)
}

/// The build as CodeBuild would show it at `now_ms`, judged by [`judge_build`] against
/// deltaship's deadline, as check-build looks.
fn look_at_build(
    input: &CheckBuildInput,
    scenario: &Scenario,
    now_ms: u64,
    world: &mut World,
) -> Result<Looked, AslError> {
    let started_ms =
        world.build_started_ms.ok_or_else(|| AslError("a build was looked at before start-build started it".into()))?;
    let ran_ms = now_ms.saturating_sub(started_ms);
    let snapshot = BuildSnapshot {
        id: input.build_id.clone(),
        arn: Some(input.build_arn.clone()),
        status: if ran_ms >= scenario.build_seconds * 1000 { "SUCCEEDED" } else { "IN_PROGRESS" }.into(),
        exported: vec![(IMAGE_URI_VARIABLE.into(), IMAGE.into()), (IMAGE_DIGEST_VARIABLE.into(), DIGEST.into())],
        elapsed_seconds: ran_ms / 1000,
        ..BuildSnapshot::default()
    };
    let now = seconds(now_ms);
    let mut output = CheckBuildOutput {
        status: BuildStatus::InProgress,
        build_id: input.build_id.clone(),
        build_arn: input.build_arn.clone(),
        deadline: input.deadline,
        wait_seconds: 0,
        phase: None,
        image: None,
        image_by_digest: None,
        deploy_image: None,
        build_url: URL.into(),
        logs_url: None,
    };
    Ok(match judge_build(&snapshot, scenario.build_wait) {
        BuildVerdict::InProgress { .. } if input.deadline.is_some_and(|deadline| now >= deadline) => {
            Looked::of_failure(&Failure::new(
                ErrorKind::DeadlineExceeded,
                format!("build {} did not finish by its deadline", input.build_id),
            ))
        }
        BuildVerdict::InProgress { wait_seconds, phase } => {
            let left = input.deadline.map_or(u64::MAX, |deadline| remaining(deadline, now));
            output.wait_seconds = wait_seconds.min(u32::try_from(left).unwrap_or(u32::MAX)).max(1);
            output.phase = phase;
            Looked::Pending(serialized(&output)?)
        }
        BuildVerdict::Succeeded { image } => match image_by_digest(&snapshot, &image) {
            Ok(by_digest) => {
                world.build_seen_at_ms.get_or_insert(now_ms);
                output.status = BuildStatus::Succeeded;
                output.deploy_image = Some(by_digest.clone().unwrap_or_else(|| image.clone()));
                output.image = Some(image);
                output.image_by_digest = by_digest;
                Looked::Done(serialized(&output)?)
            }
            Err(failure) => Looked::of_failure(&failure),
        },
        BuildVerdict::Failed(failure) => Looked::of_failure(&failure),
    })
}

/// deploy-service: the service deployment starts now (ECS sends its in-progress event, and its
/// completion when it has run `rollout_seconds`); it answers the deployment in progress, with
/// the first fallback timeout.
fn deploy_service(input: DeployInput, scenario: &Scenario, now_ms: u64, world: &mut World) -> Result<Answer, AslError> {
    world.deployment = Some(Deployment { started_ms: now_ms, stopped_ms: None });
    let now = seconds(now_ms);
    let deadline = now + i64::from(input.timeout_minutes) * 60;
    let service_arn = format!("arn:aws:ecs:{ACCOUNT}:service/{}/{}", input.cluster, input.service);
    world.send(scenario, Event::deployment(now_ms, &service_arn, Kind::DeploymentStarted));
    let completed = now_ms + scenario.rollout_seconds * 1000;
    world.send(scenario, Event::deployment(completed, &service_arn, Kind::RolloutCompleted));
    let watch = RolloutWatch {
        service_deployment: format!("arn:aws:ecs:{ACCOUNT}:service-deployment/{}/{}/1", input.cluster, input.service),
        name: input.name,
        execution: input.execution,
        cluster: input.cluster,
        service: input.service,
        service_arn,
        deployment_id: "ecs-svc/1".into(),
        task_definition: "td:2".into(),
        previous_task_definition: "td:1".into(),
        strategy: "ROLLING".into(),
        expect: Expect::Deployed,
        started_at: now,
        deadline,
    };
    answered(&CheckRolloutOutput {
        status: RolloutStatus::InProgress,
        watch,
        stage: None,
        wait_seconds: scenario.rollout_wait.next_before(0, remaining(deadline, now)),
        detail: String::new(),
        service_url: URL.into(),
    })
}

/// check-rollout, in either mode.
fn check_rollout(
    input: &CheckRolloutInput,
    scenario: &Scenario,
    now_ms: u64,
    world: &mut World,
) -> Result<Answer, AslError> {
    world.rollout_checks += 1;
    let looked = look_at_rollout(&input.watch, scenario, now_ms, world)?;
    let record = |token: &str| Record::rollout(&input.watch, token, seconds(now_ms), scenario.rollout_wait);
    look_or_wait(world, input.task_token.as_deref(), record, looked, now_ms)
}

/// The watched service deployment as ECS would show it at `now_ms`, judged by [`judge_rollout`]
/// (the service's current deployment is ours: nothing else deploys it in the model).
fn look_at_rollout(watch: &RolloutWatch, scenario: &Scenario, now_ms: u64, world: &World) -> Result<Looked, AslError> {
    let snapshot = ServiceDeploymentSnapshot {
        arn: watch.service_deployment.clone(),
        status: world.deployment()?.status_at(now_ms, scenario).into(),
        ..ServiceDeploymentSnapshot::default()
    };
    let current = Some(watch.service_deployment.as_str());
    let (status, wait_seconds, detail) =
        match judge_rollout(watch, &snapshot, current, seconds(now_ms), scenario.rollout_wait) {
            RolloutVerdict::InProgress { wait_seconds, progress } => {
                (RolloutStatus::InProgress, wait_seconds, progress)
            }
            RolloutVerdict::Completed { note } => (RolloutStatus::Completed, 0, note),
            RolloutVerdict::Failed(failure) => return Ok(Looked::of_failure(&failure)),
        };
    let output = serialized(&CheckRolloutOutput {
        status,
        watch: watch.clone(),
        stage: None,
        wait_seconds,
        detail,
        service_url: URL.into(),
    })?;
    Ok(if status == RolloutStatus::Completed { Looked::Done(output) } else { Looked::Pending(output) })
}

/// rollback-service: decides with [`decide_rollback`]; a deployment still in progress is stopped
/// with a rollback (ECS sends the rollback's in-progress event, and its completion when it has run
/// `rollback_seconds`; ours will never complete), and the answer is the rollback to wait for,
/// with a deadline as long as the rollout's own.
fn rollback_service(
    name: &str,
    input: RollbackInput,
    scenario: &Scenario,
    now_ms: u64,
    world: &mut World,
) -> Result<Answer, AslError> {
    let deployment = world.deployment()?;
    let ours = ServiceDeploymentSnapshot {
        arn: input.watch.service_deployment.clone(),
        status: deployment.status_at(now_ms, scenario).into(),
        ..ServiceDeploymentSnapshot::default()
    };
    let decision = decide_rollback(&ours, Some(&input.watch.service_deployment));
    if decision != RollbackDecision::Stop {
        return fail(format!(
            "state {name:?}: the cost model rolls back deployments in progress only, not {decision:?}"
        ));
    }
    world.deployment = Some(Deployment { stopped_ms: Some(now_ms), ..deployment });
    world.events.cancel(Kind::RolloutCompleted);
    world.send(scenario, Event::deployment(now_ms, &input.watch.service_arn, Kind::DeploymentStarted));
    let rolled_back = now_ms + scenario.rollback_seconds * 1000;
    world.send(scenario, Event::deployment(rolled_back, &input.watch.service_arn, Kind::RollbackCompleted));
    let now = seconds(now_ms);
    let length = (input.watch.deadline - input.watch.started_at).max(60);
    let watch = RolloutWatch { expect: Expect::RolledBack, started_at: now, deadline: now + length, ..input.watch };
    let message = format!("deltaship stopped {} to roll it back", watch.service_deployment);
    answered(&RollbackOutput {
        action: RollbackAction::RollbackRequested,
        rolled_back_by: Some(RolledBackBy::Deltaship),
        task_definition: watch.previous_task_definition.clone(),
        rollout: Some(CheckRolloutOutput {
            status: RolloutStatus::InProgress,
            stage: None,
            wait_seconds: scenario.rollout_wait.next_before(0, remaining(now + length, now)),
            detail: message.clone(),
            service_url: URL.into(),
            watch,
        }),
        message,
        service_url: URL.into(),
    })
}

/// request-approval: the wait is recorded at its gate and announced; the person approving
/// completes its token `approval_seconds` from now (the callback task times out first if that
/// is past the environment's `approval_timeout_hours`: `not_promoted`). It answers the recorded
/// wait; the task's result is the token's completion.
fn request_approval(
    input: &RequestApprovalInput,
    scenario: &Scenario,
    now_ms: u64,
    world: &mut World,
) -> Result<Answer, AslError> {
    let now = seconds(now_ms);
    let record = GateRecord {
        repository: input.repository.clone(),
        service: input.name.clone(),
        environment: input.environment.clone(),
        commit: input.commit.to_string(),
        execution: input.execution.clone(),
        pushed_at: input.pushed_at,
        pushed_by: input.pushed_by.clone().unwrap_or_default(),
        image: input.image.clone(),
        token: input.task_token.clone(),
        requested_at: now,
        expires_at: now + i64::from(input.timeout_seconds),
    };
    let approved = gates::Answer::Approved { by: APPROVER.into(), comment: None };
    let approved_ms = now_ms.saturating_add(scenario.approval_seconds.saturating_mul(1000));
    world.complete(&input.task_token, approved_ms, Ok(serialized(&approved)?));
    answered(&RequestApprovalOutput {
        status: ApprovalStatus::Waiting,
        gate: record.resource(),
        waiter: record.waiter(),
        expires_at: record.expires_at,
        superseded: Vec::new(),
        notified: true,
    })
}

/// check-build's and check-rollout's answer: the look in look mode (no `token`); in wait mode the
/// wait's record (made from the token) is stored, and the look settles the wait if it ends it.
fn look_or_wait(
    world: &mut World,
    token: Option<&str>,
    record: impl FnOnce(&str) -> Result<Record, AslError>,
    looked: Looked,
    now_ms: u64,
) -> Result<Answer, AslError> {
    match token {
        None => Ok(looked.answer()),
        Some(token) => Ok(wait_mode(world, &record(token)?, looked, now_ms)),
    }
}

/// Wait mode after the look: the record is stored (before the look, in the real function; the
/// order does not change what is billed), and a look that ends the wait settles it now. The
/// invocation answers the look (a failure as its error).
fn wait_mode(world: &mut World, record: &Record, looked: Looked, now_ms: u64) -> Answer {
    world.table.put(record.clone());
    let ends = looked.ends_wait();
    let answer = looked.answer();
    if ends {
        settle(world, record, answer.clone(), now_ms);
    }
    answer
}

/// Completes `record`'s token at `at_ms` with `answer` (`SendTaskSuccess` or `SendTaskFailure`;
/// a token closed already takes nothing), and deletes the record.
fn settle(world: &mut World, record: &Record, answer: Answer, at_ms: u64) {
    world.complete(&record.token, at_ms, answer);
    world.table.delete(record);
}

/// wake-waits for one event: queries the waits under its resource, looks again for each, and
/// completes (after its own invocation) and deletes those the look ends.
fn wake_waits(event: &Event, scenario: &Scenario, world: &mut World) -> Result<(), AslError> {
    world.wakes += 1;
    for record in world.table.query(&event.resource, seconds(event.at_ms)) {
        let looked = match &record.watch {
            Watch::Build(input) => look_at_build(input, scenario, event.at_ms, world)?,
            Watch::Rollout(watch) => look_at_rollout(watch, scenario, event.at_ms, world)?,
        };
        // A wait the look does not end goes on: nothing to do.
        if looked.ends_wait() {
            settle(world, &record, looked.answer(), event.at_ms + scenario.lambda_ms);
        }
    }
    Ok(())
}

/// Whole seconds of the clock, as the functions' `now`.
fn seconds(ms: u64) -> i64 {
    i64::try_from(ms / 1000).unwrap_or(i64::MAX)
}

/// Seconds from `now` to `deadline` (none once past it).
fn remaining(deadline: i64, now: i64) -> u64 {
    u64::try_from(deadline - now).unwrap_or(0)
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
    use serde_json::json;

    use super::*;

    fn parsed<T: DeserializeOwned>(answer: Answer) -> T {
        serde_json::from_value(answer.unwrap()).unwrap()
    }

    fn task(function: &str) -> Value {
        json!({ "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": { "FunctionName": function } })
    }

    /// Each stand-in answers as its function does, on the clock: waits from the policy, a build
    /// done after `build_seconds`, a rollout after `rollout_seconds`, a rollback after
    /// `rollback_seconds`; in wait mode the token is stored and completed when the look ends it.
    #[test]
    fn answers_are_the_functions_outputs_on_the_clock() {
        let scenario = Scenario::backing_off(300, 300);
        let mut world = World::default();
        let mut ask = |function: &str, payload: Value, now_ms: u64| {
            answer("t", &task(function), &payload, &scenario, now_ms, &mut world).unwrap()
        };

        let started: CheckBuildOutput = parsed(ask("${StartBuildFunctionArn}", json!(job(&scenario, 0)), 1_000));
        assert_eq!((started.status, started.wait_seconds, started.deadline), (BuildStatus::InProgress, 60, Some(3601)));
        let look = |build: &CheckBuildOutput, token: Option<&str>| {
            json!(CheckBuildInput {
                build_id: build.build_id.clone(),
                build_arn: build.build_arn.clone(),
                deadline: build.deadline,
                name: "service-0".into(),
                execution: "cost-model".into(),
                task_token: token.map(Into::into),
            })
        };
        let running: CheckBuildOutput = parsed(ask("${CheckBuildFunctionArn}", look(&started, None), 121_000));
        assert_eq!((running.status, running.wait_seconds, running.image), (BuildStatus::InProgress, 120, None));
        let waiting: CheckBuildOutput =
            parsed(ask("${CheckBuildFunctionArn}", look(&started, Some("token-1")), 122_000));
        assert_eq!(waiting.status, BuildStatus::InProgress);
        let built: CheckBuildOutput = parsed(ask("${CheckBuildFunctionArn}", look(&started, Some("token-2")), 301_000));
        assert_eq!((built.status, built.image.as_deref()), (BuildStatus::Succeeded, Some(IMAGE)));
        assert_eq!(built.image_by_digest, Some(format!("registry/service@{DIGEST}")));
        assert_eq!(built.deploy_image, built.image_by_digest, "every environment deploys the image by digest");
        let deploy = json!(DeployInput {
            name: "service-0".into(),
            cluster: "shop".into(),
            service: "service-0".into(),
            container: "app".into(),
            image: IMAGE.into(),
            timeout_minutes: 30,
            commit: "0".repeat(40),
            pushed_at: 0,
            execution: "cost-model".into(),
            repository: "shop".into(),
            branch: "main".into(),
        });
        let deployed: CheckRolloutOutput = parsed(ask("${DeployServiceFunctionArn}", deploy, 302_000));
        assert_eq!((deployed.watch.started_at, deployed.watch.deadline, deployed.wait_seconds), (302, 302 + 1800, 30));
        let rollout = |token: Option<&str>| {
            json!(CheckRolloutInput { watch: deployed.watch.clone(), task_token: token.map(Into::into) })
        };
        let rolling: CheckRolloutOutput = parsed(ask("${CheckRolloutFunctionArn}", rollout(None), 362_000));
        assert_eq!((rolling.status, rolling.wait_seconds), (RolloutStatus::InProgress, 60));
        let done: CheckRolloutOutput = parsed(ask("${CheckRolloutFunctionArn}", rollout(Some("token-3")), 602_000));
        assert_eq!(done.status, RolloutStatus::Completed);
        assert_eq!((world.build_checks, world.rollout_checks, world.build_seen_at_ms), (3, 2, Some(301_000)));
        // Looks that end a wait complete its token then; a look in progress leaves it waiting.
        assert!(world.completion("token-1").is_none());
        assert_eq!(world.completion("token-2").map(|done| done.at_ms), Some(301_000));
        assert_eq!(world.completion("token-3").map(|done| done.at_ms), Some(602_000));
        // Three registrations of three write units, two deletions.
        assert_eq!(world.table.write_units, 5 * 3);

        let input: PipelineInput = serde_json::from_value(execution_input(&scenario, 2).unwrap()).unwrap();
        let names: Vec<&str> = input.services.iter().map(|job| job.name.as_str()).collect();
        assert_eq!(names, ["service-0", "service-1"]);
        assert_eq!((input.services[1].timeout_minutes, input.services[1].build_timeout_minutes), (30, 60));
    }

    /// request-approval records the wait and answers it recorded; the token is completed with
    /// `deltaship approve`'s answer `approval_seconds` later.
    #[test]
    fn an_approval_is_given_after_the_scenarios_delay() {
        let scenario = Scenario { environments: 2, approvals: true, approval_seconds: 900, ..Scenario::new(60, 60) };
        let job = job(&scenario, 3);
        assert_eq!((job.environment.as_str(), job.promotions[0].environment.as_str()), ("env-1", "env-2"));
        let payload = json!({
            "task_token": "token-9",
            "repository": job.repository,
            "branch": job.branch,
            "name": job.name,
            "environment": "env-2",
            "commit": job.commit,
            "pushed_at": 1_700_000_000,
            "pushed_by": null,
            "execution": job.execution,
            "image": format!("registry/service@{DIGEST}"),
            "timeout_seconds": 86_400,
        });
        let mut world = World::default();
        let state = json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": { "FunctionName": APPROVAL_FUNCTION }
        });
        assert!(is_approval(&state));
        let waiting: RequestApprovalOutput =
            parsed(answer("Wait for approval", &state, &payload, &scenario, 5_000, &mut world).unwrap());
        assert_eq!(waiting.gate, "gate#monorepo#service-3#env-2");
        assert_eq!(waiting.waiter, format!("001700000000#{}", "0".repeat(40)));
        assert_eq!((waiting.status, waiting.expires_at), (ApprovalStatus::Waiting, 5 + 86_400));
        let done = world.completion("token-9").unwrap();
        assert_eq!(done.at_ms, 5_000 + 900_000);
        let approved = json!({ "decision": "approved", "by": "arn:aws:iam::123456789012:user/ops", "comment": null });
        assert_eq!(done.answer, Ok(approved));
        let error = answer("t", &state, &json!({ "task_token": "t" }), &scenario, 0, &mut world).unwrap_err();
        assert!(error.0.contains("cannot read its payload"), "{error}");
    }

    /// Past its deadline a rollout is a `DeadlineExceeded` error; rollback-service stops it with a
    /// rollback, whose events and completion follow, and the rollout's completion never comes.
    #[test]
    fn a_rollout_past_its_deadline_is_rolled_back() {
        let scenario = Scenario { timeout_minutes: 5, rollback_seconds: 120, ..Scenario::backing_off(300, 600) };
        let mut world = World { deployment: Some(Deployment { started_ms: 0, stopped_ms: None }), ..World::default() };
        let watch = RolloutWatch {
            name: "service-0".into(),
            execution: "cost-model".into(),
            cluster: "shop".into(),
            service: "service-0".into(),
            service_arn: format!("arn:aws:ecs:{ACCOUNT}:service/shop/service-0"),
            service_deployment: "sd".into(),
            deployment_id: "ecs-svc/1".into(),
            task_definition: "td:2".into(),
            previous_task_definition: "td:1".into(),
            strategy: "ROLLING".into(),
            expect: Expect::Deployed,
            started_at: 0,
            deadline: 300,
        };
        world.send(&scenario, Event::deployment(600_000, &watch.service_arn, Kind::RolloutCompleted));
        let mut ask = |function: &str, payload: Value, now_ms: u64| {
            answer("t", &task(function), &payload, &scenario, now_ms, &mut world).unwrap()
        };
        let (error, _) = ask("${CheckRolloutFunctionArn}", json!({ "watch": watch }), 301_000).unwrap_err();
        assert_eq!(error, "DeadlineExceeded");
        let reason = json!(RollbackInput { watch, reason: Some("late".into()) });
        let rollback: RollbackOutput = parsed(ask("${RollbackServiceFunctionArn}", reason, 302_000));
        assert_eq!(
            (rollback.action, rollback.rolled_back_by),
            (RollbackAction::RollbackRequested, Some(RolledBackBy::Deltaship))
        );
        let waiting = rollback.rollout.unwrap();
        assert_eq!(
            (waiting.watch.expect, waiting.watch.deadline, waiting.wait_seconds),
            (Expect::RolledBack, 302 + 300, 30)
        );
        let mut back = |now_ms| ask("${CheckRolloutFunctionArn}", json!({ "watch": waiting.watch }), now_ms);
        assert_eq!(parsed::<CheckRolloutOutput>(back(421_000)).status, RolloutStatus::InProgress);
        assert_eq!(parsed::<CheckRolloutOutput>(back(422_000)).status, RolloutStatus::Completed);
        // In progress at 302 s, done at 422 s; the rollout's own completion was taken back.
        assert_eq!(world.next_event_at(), Some(302_000));
        world.drain(&scenario).unwrap();
        assert_eq!(world.wakes, 2);

        let other = json!({ "Resource": "arn:aws:states:::sqs:sendMessage" });
        let error = answer("t", &other, &json!({}), &scenario, 0, &mut world).unwrap_err();
        assert!(error.0.contains("knows Lambda tasks only"), "{error}");
        let error = answer("t", &task("${CheckRolloutFunctionArn}"), &json!({ "watch": 1 }), &scenario, 0, &mut world)
            .unwrap_err();
        assert!(error.0.contains("cannot read its payload"), "{error}");
    }
}
