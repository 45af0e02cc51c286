//! `deltaship cost`: what one push costs to orchestrate, from the state machine itself.
//!
//! The model walks `state-machine/pipeline.asl.json` the way Step Functions runs it: a Map over
//! the services, in each iteration Task, Wait, Choice and Pass states, `ResultSelector`,
//! `ResultPath`, `SecondsPath` and `Catch`. The Lambdas are stood in for by the same core
//! functions the real ones call ([`judge_build`], [`judge_rollout`]) with the real
//! [`WaitPolicy`], on a clock that a build and a rollout of the given durations run against. So a
//! change to the state machine or to the wait policy changes the figures.
//!
//! What it counts, for one service and for the whole push:
//! - state transitions (every state entered, as Step Functions Standard bills them),
//! - Lambda invocations (every `lambda:invoke` Task),
//! - execution history events (Step Functions' hard limit is 25,000 per execution): 5 per Task
//!   (entered, scheduled, started, succeeded or failed, exited), 2 per other state (entered,
//!   exited; a Fail state's second is the execution's own failure), 4 per Map state and 2 per
//!   Map iteration, 2 per execution (started, and succeeded or failed).
//!
//! Prices (us-east-1, without free tiers): [`Prices::US_EAST_1`]. CodePipeline V2 for the same
//! work: one pipeline per service (source, build, deploy), action time rounded up to whole
//! minutes, and with a CodeCommit monorepo every service's pipeline runs on every push.

use std::path::PathBuf;
use std::process::ExitCode;

use deltaship_core::build::{BuildSnapshot, IMAGE_URI_VARIABLE, judge_build};
use deltaship_core::rollout::{DeploymentSnapshot, ServiceSnapshot, judge_rollout};
use deltaship_core::{BuildVerdict, RolloutVerdict, RolloutWatch, WaitPolicy};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::EXIT_OK;
use crate::output::{CliError, Format, write_report};

/// The budget for orchestrating one service deploy (Step Functions and Lambda), in dollars.
pub const BUDGET_DOLLARS_PER_SERVICE: f64 = 0.001;
/// The budget of execution history events per service (25,000 / 200 = 125 services a push).
pub const BUDGET_EVENTS_PER_SERVICE: u64 = 200;
/// Step Functions' limit of history events in one execution.
pub const HISTORY_EVENT_LIMIT: u64 = 25_000;
/// The most transitions one Map iteration may take before the walk gives up (a loop that never
/// ends in the model would never end in AWS either).
const MAX_TRANSITIONS: u64 = 100_000;

/// Prices in dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prices {
    /// Step Functions Standard, per state transition ($0.025 per 1,000).
    pub state_transition: f64,
    /// Lambda, per request ($0.20 per million).
    pub lambda_request: f64,
    /// Lambda on arm64, per GB-second.
    pub lambda_gb_second: f64,
    /// CodePipeline V2, per action execution minute.
    pub codepipeline_action_minute: f64,
}

impl Prices {
    /// us-east-1 list prices, without free tiers.
    pub const US_EAST_1: Self = Self {
        state_transition: 0.025 / 1000.0,
        lambda_request: 0.20 / 1_000_000.0,
        lambda_gb_second: 0.000_013_333_4,
        codepipeline_action_minute: 0.002,
    };
}

/// `deltaship cost`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CostArgs {
    /// The state machine definition to walk.
    #[arg(long, value_name = "FILE", default_value = "state-machine/pipeline.asl.json")]
    pub asl: PathBuf,
    /// How long each build runs, e.g. 5m, 90s, 1h.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub build: u64,
    /// How long each rollout runs until ECS reports it COMPLETED.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub rollout: u64,
    /// Services the push deploys.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub services: u64,
    /// Services in the repository, each with its own CodePipeline pipeline (default: --services).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub repository_services: Option<u64>,
    /// Bounds of the wait between looks at a build, MIN..MAX seconds (default: the Lambdas').
    #[arg(long, value_name = "MIN..MAX", value_parser = parse_wait)]
    pub build_wait: Option<WaitPolicy>,
    /// Bounds of the wait between looks at a rollout, MIN..MAX seconds (default: the Lambdas').
    #[arg(long, value_name = "MIN..MAX", value_parser = parse_wait)]
    pub rollout_wait: Option<WaitPolicy>,
    /// The service's rollout deadline (`deploy.timeout_minutes`); a longer rollout is rolled back.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub timeout_minutes: u32,
    /// Billed duration of one Lambda invocation, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub lambda_ms: u64,
    /// The Lambdas' memory, in MB (sam/template.yaml: 128).
    #[arg(long, value_name = "MB", default_value_t = 128)]
    pub lambda_memory_mb: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// A duration: a whole number with `s`, `m` or `h`, e.g. `90s`, `5m`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("`{text}` is not a duration like 90s, 5m or 1h")),
    };
    let value: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90s, 5m or 1h"))?;
    match value.checked_mul(factor) {
        Some(seconds) if (1..=24 * 3600).contains(&seconds) => Ok(seconds),
        _ => Err(format!("`{text}`: a duration from 1s to 24h")),
    }
}

/// Wait bounds `MIN..MAX` in seconds, validated as the Lambdas validate them.
pub fn parse_wait(text: &str) -> Result<WaitPolicy, String> {
    let (min, max) = text.split_once("..").ok_or_else(|| format!("`{text}` is not MIN..MAX, e.g. 60..120"))?;
    let number = |part: &str| part.trim().parse::<u32>().map_err(|_| format!("`{text}` is not MIN..MAX, e.g. 60..120"));
    WaitPolicy::new(number(min)?, number(max)?)
}

/// What the model runs: durations, wait policies and the Lambdas' size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scenario {
    /// Seconds each build runs.
    pub build_seconds: u64,
    /// Seconds each rollout runs.
    pub rollout_seconds: u64,
    /// The wait policy of start-build and check-build.
    #[serde(serialize_with = "policy")]
    pub build_wait: WaitPolicy,
    /// The wait policy of deploy-service and check-rollout.
    #[serde(serialize_with = "policy")]
    pub rollout_wait: WaitPolicy,
    /// The rollout deadline, in minutes.
    pub timeout_minutes: u32,
    /// Billed milliseconds of one Lambda invocation (the clock moves by it too).
    pub lambda_ms: u64,
    /// The Lambdas' memory in MB.
    pub lambda_memory_mb: u64,
}

fn policy<S: serde::Serializer>(policy: &WaitPolicy, serializer: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&[policy.min_seconds, policy.max_seconds], serializer)
}

impl Scenario {
    /// `build` and `rollout` seconds with the Lambdas' default wait policies, a 30-minute
    /// deadline and 200 ms invocations at 128 MB.
    pub fn new(build_seconds: u64, rollout_seconds: u64) -> Self {
        Self {
            build_seconds,
            rollout_seconds,
            build_wait: WaitPolicy::BUILD,
            rollout_wait: WaitPolicy::ROLLOUT,
            timeout_minutes: deltaship_core::manifest::DEFAULT_TIMEOUT_MINUTES,
            lambda_ms: 200,
            lambda_memory_mb: 128,
        }
    }
}

/// Counts for one walk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// States entered.
    pub transitions: u64,
    /// `lambda:invoke` Tasks run.
    pub lambda_invocations: u64,
    /// Execution history events.
    pub history_events: u64,
}

impl Counts {
    fn minus(self, other: Self) -> Self {
        Self {
            transitions: self.transitions.saturating_sub(other.transitions),
            lambda_invocations: self.lambda_invocations.saturating_sub(other.lambda_invocations),
            history_events: self.history_events.saturating_sub(other.history_events),
        }
    }
}

/// One service's iteration of the Map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceWalk {
    /// What it took.
    pub counts: Counts,
    /// Looks at the build (check-build invocations).
    pub build_checks: u64,
    /// Looks at the rollout (check-rollout invocations).
    pub rollout_checks: u64,
    /// When the build was seen done, in seconds after the iteration started.
    pub build_seen_at: Option<u64>,
    /// When the iteration ended, in seconds after it started.
    pub finished_at: u64,
    /// The states entered, in order.
    pub path: Vec<String>,
    /// The outcome the iteration ended with (`deployed`, `rolled_back`, ...), if it set one.
    pub outcome: Option<String>,
}

/// A whole execution for a push of some services, all alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Simulation {
    /// One service's iteration.
    pub service: ServiceWalk,
    /// What the execution costs besides its iterations (the Map, the summary, start and end).
    pub overhead: Counts,
    /// The whole execution.
    pub total: Counts,
    /// The state the execution ended in.
    pub end: String,
}

/// Why the model could not walk the definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AslError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, AslError> {
    Err(AslError(message.into()))
}

/// Walks `definition` for a push of `services` services under `scenario`.
pub fn simulate(definition: &Value, scenario: &Scenario, services: u64) -> Result<Simulation, AslError> {
    let jobs: Vec<Value> = (0..services)
        .map(|index| {
            json!({
                "name": format!("service-{index}"), "project": format!("service-{index}"),
                "cluster": "shop", "service": format!("service-{index}"), "container": "app",
                "image_repository": format!("shop/service-{index}"),
                "timeout_minutes": scenario.timeout_minutes, "commit": "0".repeat(40),
            })
        })
        .collect();
    let input = json!({
        "execution": "cost-model", "repository": "monorepo", "branch": "main", "commit": "0".repeat(40),
        "max_concurrency": 10, "services": jobs,
    });
    let mut walker = Walker { scenario, counts: Counts::default(), iterations: Vec::new() };
    walker.counts.history_events += 2; // ExecutionStarted, and ExecutionSucceeded or ExecutionFailed
    let run = walker.run(definition, input, "the state machine", 0)?;
    let service = walker.iterations.first().cloned().ok_or_else(|| AslError("no Map state ran an iteration".into()))?;
    let iterations = Counts {
        transitions: service.counts.transitions * services,
        lambda_invocations: service.counts.lambda_invocations * services,
        history_events: service.counts.history_events * services,
    };
    Ok(Simulation { overhead: walker.counts.minus(iterations), total: walker.counts, service, end: run.end })
}

struct Walker<'s> {
    scenario: &'s Scenario,
    counts: Counts,
    iterations: Vec<ServiceWalk>,
}

/// How one run of a list of states ended.
struct Run {
    /// The last state.
    end: String,
    /// Its output.
    output: Value,
    /// The clock then, in milliseconds.
    clock_ms: u64,
    /// Every state entered, in order.
    path: Vec<String>,
    /// What the stand-in Lambdas saw.
    world: World,
}

/// A stand-in Lambda's answer: its payload, or an error name and cause.
type Answer = Result<Value, (String, String)>;

/// What the stand-in Lambdas remember within one run (one service's iteration).
#[derive(Debug, Default)]
struct World {
    build_started_ms: Option<u64>,
    rollout_started_ms: Option<u64>,
    build_checks: u64,
    rollout_checks: u64,
    build_seen_at_ms: Option<u64>,
}

impl Walker<'_> {
    /// Runs the states of `machine` (it has `StartAt` and `States`) from `clock_ms`.
    fn run(&mut self, machine: &Value, input: Value, label: &str, clock_ms: u64) -> Result<Run, AslError> {
        let states = machine
            .get("States")
            .and_then(Value::as_object)
            .ok_or_else(|| AslError(format!("{label} has no States")))?;
        let mut name = text(machine, "StartAt", label)?.to_owned();
        let mut data = input;
        let mut clock = clock_ms;
        let mut world = World::default();
        let mut path = Vec::new();
        loop {
            let state = states.get(&name).ok_or_else(|| AslError(format!("{label}: no state named {name:?}")))?;
            self.counts.transitions += 1;
            path.push(name.clone());
            if path.len() as u64 > MAX_TRANSITIONS {
                return fail(format!("{label}: more than {MAX_TRANSITIONS} transitions; does it ever end?"));
            }
            let next = match state.get("Type").and_then(Value::as_str).unwrap_or("") {
                "Task" => {
                    self.counts.history_events += 5;
                    self.counts.lambda_invocations += 1;
                    clock += self.scenario.lambda_ms;
                    match self.invoke(&name, state, clock, &mut world)? {
                        Ok(payload) => {
                            let result = json!({ "Payload": payload });
                            let result = match state.get("ResultSelector") {
                                Some(selector) => evaluate(selector, &result, &name)?,
                                None => result,
                            };
                            set(&mut data, state.get("ResultPath"), result, &name)?;
                            next_of(state, &name)?
                        }
                        Err((error, cause)) => {
                            let catcher = catcher(state, &error).ok_or_else(|| {
                                AslError(format!("state {name:?}: nothing catches {error} ({cause})"))
                            })?;
                            let caught = json!({ "Error": error, "Cause": cause });
                            set(&mut data, catcher.get("ResultPath"), caught, &name)?;
                            Some(text(catcher, "Next", &name)?.to_owned())
                        }
                    }
                }
                "Wait" => {
                    self.counts.history_events += 2;
                    let seconds = match (state.get("Seconds"), state.get("SecondsPath")) {
                        (Some(seconds), _) => seconds.as_u64(),
                        (None, Some(Value::String(path))) => {
                            lookup(&data, path, &name)?.as_ref().and_then(Value::as_u64)
                        }
                        _ => None,
                    };
                    let seconds = seconds
                        .ok_or_else(|| AslError(format!("state {name:?}: no whole number of seconds to wait")))?;
                    clock += seconds * 1000;
                    next_of(state, &name)?
                }
                "Choice" => {
                    self.counts.history_events += 2;
                    Some(choose(state, &data, &name)?)
                }
                "Pass" => {
                    self.counts.history_events += 2;
                    if let Some(parameters) = state.get("Parameters") {
                        let result = evaluate(parameters, &data, &name)?;
                        set(&mut data, state.get("ResultPath"), result, &name)?;
                    }
                    next_of(state, &name)?
                }
                "Map" => {
                    self.counts.history_events += 4;
                    let processor = state
                        .get("ItemProcessor")
                        .or_else(|| state.get("Iterator"))
                        .ok_or_else(|| AslError(format!("state {name:?}: a Map without ItemProcessor")))?;
                    let items_path = state.get("ItemsPath").and_then(Value::as_str).unwrap_or("$");
                    let items = match lookup(&data, items_path, &name)? {
                        Some(Value::Array(items)) => items,
                        _ => return fail(format!("state {name:?}: {items_path} is not a list")),
                    };
                    let mut outputs = Vec::with_capacity(items.len());
                    let mut finished = clock;
                    for (index, item) in items.into_iter().enumerate() {
                        let before = self.counts;
                        self.counts.history_events += 2; // MapIterationStarted, MapIterationSucceeded
                        let run = self.run(processor, item, &format!("iteration {index} of {name:?}"), clock)?;
                        // Iterations run side by side: the Map ends with the slowest.
                        finished = finished.max(run.clock_ms);
                        let elapsed = |at: u64| at.saturating_sub(clock) / 1000;
                        self.iterations.push(ServiceWalk {
                            counts: self.counts.minus(before),
                            build_checks: run.world.build_checks,
                            rollout_checks: run.world.rollout_checks,
                            build_seen_at: run.world.build_seen_at_ms.map(elapsed),
                            finished_at: elapsed(run.clock_ms),
                            outcome: run.output.get("outcome").and_then(Value::as_str).map(ToOwned::to_owned),
                            path: run.path,
                        });
                        outputs.push(run.output);
                    }
                    clock = finished;
                    set(&mut data, state.get("ResultPath"), Value::Array(outputs), &name)?;
                    next_of(state, &name)?
                }
                "Succeed" => {
                    self.counts.history_events += 2;
                    None
                }
                "Fail" => {
                    self.counts.history_events += 1;
                    None
                }
                other => {
                    return fail(format!("state {name:?}: the cost model does not know states of type {other:?}"));
                }
            };
            match next {
                Some(next) => name = next,
                None => return Ok(Run { end: name, output: data, clock_ms: clock, path, world }),
            }
        }
    }

    /// The stand-in for the Lambda a Task invokes, named by the function placeholder in its
    /// `Parameters.FunctionName` (`${StartBuildFunctionArn}`, ...).
    fn invoke(&self, name: &str, state: &Value, now_ms: u64, world: &mut World) -> Result<Answer, AslError> {
        let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
        if !resource.starts_with("arn:aws:states:::lambda:invoke") {
            return fail(format!("state {name:?}: the cost model knows Lambda tasks only, not {resource:?}"));
        }
        let function = state.pointer("/Parameters/FunctionName").and_then(Value::as_str).unwrap_or("");
        let scenario = self.scenario;
        let seconds = |ms: u64| ms / 1000;
        Ok(match function {
            "${StartBuildFunctionArn}" => {
                world.build_started_ms = Some(now_ms);
                // start-build answers its policy's first wait, which is `next(0)`.
                Ok(json!({ "build_id": "p:1", "build_url": "u", "wait_seconds": scenario.build_wait.next(0) }))
            }
            "${CheckBuildFunctionArn}" => {
                world.build_checks += 1;
                let elapsed = seconds(now_ms.saturating_sub(world.build_started_ms.unwrap_or(now_ms)));
                let done = elapsed >= scenario.build_seconds;
                let snapshot = BuildSnapshot {
                    id: "p:1".into(),
                    status: if done { "SUCCEEDED" } else { "IN_PROGRESS" }.into(),
                    exported: vec![(IMAGE_URI_VARIABLE.into(), "registry/service:commit".into())],
                    elapsed_seconds: elapsed,
                    ..BuildSnapshot::default()
                };
                match judge_build(&snapshot, scenario.build_wait) {
                    BuildVerdict::InProgress { wait_seconds, phase } => Ok(json!({
                        "status": "IN_PROGRESS", "build_id": "p:1", "wait_seconds": wait_seconds, "phase": phase,
                        "image": null, "build_url": "u", "logs_url": null,
                    })),
                    BuildVerdict::Succeeded { image } => {
                        world.build_seen_at_ms = Some(now_ms);
                        Ok(json!({
                            "status": "SUCCEEDED", "build_id": "p:1", "wait_seconds": 0, "phase": null,
                            "image": image, "build_url": "u", "logs_url": null,
                        }))
                    }
                    BuildVerdict::Failed(failure) => Err((failure.kind.name().to_owned(), failure.message)),
                }
            }
            "${DeployServiceFunctionArn}" => {
                world.rollout_started_ms = Some(now_ms);
                let started = seconds(now_ms);
                let deadline = started + u64::from(scenario.timeout_minutes) * 60;
                // deploy-service answers its policy's first wait, which is `next(0)`.
                Ok(json!({
                    "name": "service", "cluster": "shop", "service": "service", "deployment_id": "ecs-svc/1",
                    "task_definition": "td:2", "previous_task_definition": "td:1", "started_at": started,
                    "deadline": deadline, "image": "registry/service:commit",
                    "wait_seconds": scenario.rollout_wait.next(0), "service_url": "u",
                }))
            }
            "${CheckRolloutFunctionArn}" => {
                world.rollout_checks += 1;
                let started_ms = world.rollout_started_ms.unwrap_or(now_ms);
                let done = seconds(now_ms.saturating_sub(started_ms)) >= scenario.rollout_seconds;
                let started = i64::try_from(seconds(started_ms)).unwrap_or(i64::MAX);
                let watch = RolloutWatch {
                    name: "service".into(),
                    cluster: "shop".into(),
                    service: "service".into(),
                    deployment_id: "ecs-svc/1".into(),
                    task_definition: "td:2".into(),
                    previous_task_definition: "td:1".into(),
                    started_at: started,
                    deadline: started + i64::from(scenario.timeout_minutes) * 60,
                };
                let deployment = |id: &str, status: &str, rollout: &str| DeploymentSnapshot {
                    id: id.into(),
                    status: status.into(),
                    rollout_state: Some(rollout.into()),
                    desired_count: 2,
                    running_count: 2,
                    ..DeploymentSnapshot::default()
                };
                let mut deployments =
                    vec![deployment("ecs-svc/1", "PRIMARY", if done { "COMPLETED" } else { "IN_PROGRESS" })];
                if !done {
                    deployments.push(deployment("ecs-svc/0", "ACTIVE", "COMPLETED"));
                }
                let service = ServiceSnapshot { status: "ACTIVE".into(), desired_count: 2, deployments };
                let now = i64::try_from(seconds(now_ms)).unwrap_or(i64::MAX);
                match judge_rollout(&watch, &service, now, scenario.rollout_wait) {
                    RolloutVerdict::InProgress { wait_seconds, progress } => {
                        Ok(json!({ "status": "IN_PROGRESS", "wait_seconds": wait_seconds, "detail": progress }))
                    }
                    RolloutVerdict::Completed { note } => {
                        Ok(json!({ "status": "COMPLETED", "wait_seconds": 0, "detail": note }))
                    }
                    RolloutVerdict::Failed(failure) => Err((failure.kind.name().to_owned(), failure.message)),
                }
            }
            "${RollbackServiceFunctionArn}" => Ok(json!({
                "action": "ROLLED_BACK", "task_definition": "td:1", "deployment_id": "ecs-svc/2", "message": "rolled back",
            })),
            other => return fail(format!("state {name:?}: the cost model has no stand-in for the function {other:?}")),
        })
    }
}

fn text<'v>(value: &'v Value, key: &str, name: &str) -> Result<&'v str, AslError> {
    value.get(key).and_then(Value::as_str).ok_or_else(|| AslError(format!("{name}: no {key}")))
}

/// The state after `state`: its `Next`, or `None` if it is an end.
fn next_of(state: &Value, name: &str) -> Result<Option<String>, AslError> {
    if state.get("End").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    text(state, "Next", &format!("state {name:?}")).map(|next| Some(next.to_owned()))
}

/// The first `Catch` of `state` that catches `error`.
fn catcher<'v>(state: &'v Value, error: &str) -> Option<&'v Value> {
    state.get("Catch").and_then(Value::as_array)?.iter().find(|catcher| {
        catcher
            .get("ErrorEquals")
            .and_then(Value::as_array)
            .is_some_and(|names| names.iter().any(|n| n.as_str() == Some(error) || n.as_str() == Some("States.ALL")))
    })
}

/// A Choice state's next state for `data`.
fn choose(state: &Value, data: &Value, name: &str) -> Result<String, AslError> {
    for rule in state.get("Choices").and_then(Value::as_array).into_iter().flatten() {
        let variable = text(rule, "Variable", &format!("a choice of {name:?}"))?;
        let value = lookup(data, variable, name)?;
        let matched = if let Some(expected) = rule.get("StringEquals").or_else(|| rule.get("BooleanEquals")) {
            value.as_ref() == Some(expected)
        } else if let Some(expected) = rule.get("NumericEquals") {
            value.as_ref().and_then(Value::as_f64).is_some_and(|value| Some(value) == expected.as_f64())
        } else {
            return fail(format!(
                "state {name:?}: the cost model knows StringEquals, BooleanEquals and NumericEquals only"
            ));
        };
        if matched {
            return text(rule, "Next", &format!("a choice of {name:?}")).map(ToOwned::to_owned);
        }
    }
    text(state, "Default", &format!("state {name:?}")).map(ToOwned::to_owned)
}

/// `Parameters` or `ResultSelector` against `data`: `key.$` fields take a path (or
/// `States.ArrayContains(path, value)`), other fields are copied, objects recursively.
fn evaluate(template: &Value, data: &Value, name: &str) -> Result<Value, AslError> {
    let Some(fields) = template.as_object() else { return Ok(template.clone()) };
    let mut out = Map::new();
    for (key, value) in fields {
        match (key.strip_suffix(".$"), value) {
            (Some(key), Value::String(expression)) => {
                let result = if let Some(arguments) =
                    expression.strip_prefix("States.ArrayContains(").and_then(|rest| rest.strip_suffix(')'))
                {
                    let (path, wanted) = arguments
                        .split_once(',')
                        .ok_or_else(|| AslError(format!("state {name:?}: {expression} needs two arguments")))?;
                    let wanted: Value = serde_json::from_str(wanted.trim())
                        .map_err(|_| AslError(format!("state {name:?}: {expression}: a literal second argument")))?;
                    let list = match lookup(data, path.trim(), name)? {
                        Some(Value::Array(list)) => list,
                        _ => Vec::new(),
                    };
                    Value::Bool(list.contains(&wanted))
                } else if expression.starts_with("States.") {
                    return fail(format!("state {name:?}: the cost model does not know {expression}"));
                } else {
                    lookup(data, expression, name)?.unwrap_or(Value::Null)
                };
                out.insert(key.to_owned(), result);
            }
            (Some(_), _) => return fail(format!("state {name:?}: {key} must be a path")),
            (None, value) => {
                out.insert(key.clone(), evaluate(value, data, name)?);
            }
        }
    }
    Ok(Value::Object(out))
}

/// The value at a path (`$`, `$.a.b`, `$.list[*].field`), `None` if absent.
fn lookup(data: &Value, path: &str, name: &str) -> Result<Option<Value>, AslError> {
    let Some(rest) = path.strip_prefix('$') else {
        return fail(format!("state {name:?}: {path:?} is not a path"));
    };
    let field = |value: &Value, dotted: &str| -> Option<Value> {
        dotted.split('.').filter(|part| !part.is_empty()).try_fold(value, |value, part| value.get(part)).cloned()
    };
    if let Some((list, each)) = rest.split_once("[*]") {
        let Some(Value::Array(items)) = field(data, list) else { return Ok(None) };
        return Ok(Some(Value::Array(items.iter().filter_map(|item| field(item, each)).collect())));
    }
    if rest.contains(['[', '*', '@']) {
        return fail(format!("state {name:?}: the cost model does not know the path {path:?}"));
    }
    Ok(field(data, rest))
}

/// Puts `value` where `ResultPath` says: the whole state (absent or `$`), nowhere (`null`), or a
/// field `$.a.b`.
fn set(data: &mut Value, result_path: Option<&Value>, value: Value, name: &str) -> Result<(), AslError> {
    let path = match result_path {
        None => "$",
        Some(Value::Null) => return Ok(()),
        Some(Value::String(path)) => path.as_str(),
        Some(other) => return fail(format!("state {name:?}: ResultPath {other} is not a path")),
    };
    let Some(rest) = path.strip_prefix('$') else {
        return fail(format!("state {name:?}: ResultPath {path:?} is not a path"));
    };
    let parts: Vec<&str> = rest.split('.').filter(|part| !part.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else {
        *data = value;
        return Ok(());
    };
    let mut target = data;
    for part in parents {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        target = target
            .as_object_mut()
            .map(|fields| fields.entry((*part).to_owned()).or_insert_with(|| Value::Object(Map::new())))
            .ok_or_else(|| AslError(format!("state {name:?}: ResultPath {path:?}")))?;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Some(fields) = target.as_object_mut() {
        fields.insert((*last).to_owned(), value);
    }
    Ok(())
}

/// Dollars, split by service.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dollars {
    /// Step Functions state transitions.
    pub step_functions: f64,
    /// Lambda requests and duration.
    pub lambda: f64,
    /// Both.
    pub total: f64,
}

impl Dollars {
    fn of(counts: Counts, scenario: &Scenario, prices: &Prices) -> Self {
        let step_functions = counts.transitions as f64 * prices.state_transition;
        let gb_seconds = scenario.lambda_memory_mb as f64 / 1024.0 * scenario.lambda_ms as f64 / 1000.0;
        let lambda = counts.lambda_invocations as f64 * (prices.lambda_request + gb_seconds * prices.lambda_gb_second);
        Self { step_functions, lambda, total: step_functions + lambda }
    }
}

/// CodePipeline V2 doing the same work: a pipeline per service (source, build, deploy).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CodePipeline {
    /// Action minutes of one pipeline run: source (1), build and deploy, each rounded up.
    pub action_minutes: u64,
    /// One pipeline run.
    pub per_pipeline: f64,
    /// Pipelines a push runs: every service's, with a CodeCommit monorepo.
    pub pipelines: u64,
    /// The push.
    pub per_push: f64,
}

/// Everything `deltaship cost` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Durations, policies, Lambda size.
    pub scenario: Scenario,
    /// Services the push deploys.
    pub services: u64,
    /// Services in the repository.
    pub repository_services: u64,
    /// The walk.
    pub simulation: Simulation,
    /// detect-changes, once per push (outside the state machine).
    pub detect_invocations: u64,
    /// One service's iteration.
    pub per_service: Dollars,
    /// A push of one service: its iteration, the execution's overhead and detect-changes.
    pub one_service_push: Dollars,
    /// The whole push.
    pub push: Dollars,
    /// CodePipeline V2 for the same push.
    pub codepipeline: CodePipeline,
    /// The prices used.
    pub prices: Prices,
}

impl Estimate {
    /// Walks `definition` and prices the result.
    pub fn new(
        definition: &Value,
        scenario: &Scenario,
        services: u64,
        repository_services: u64,
        prices: &Prices,
    ) -> Result<Self, AslError> {
        let simulation = simulate(definition, scenario, services)?;
        let detect = Counts { lambda_invocations: 1, ..Counts::default() };
        let plus = |a: Counts, b: Counts| Counts {
            transitions: a.transitions + b.transitions,
            lambda_invocations: a.lambda_invocations + b.lambda_invocations,
            history_events: a.history_events + b.history_events,
        };
        let action_minutes = 1 + scenario.build_seconds.div_ceil(60) + scenario.rollout_seconds.div_ceil(60);
        let per_pipeline = action_minutes as f64 * prices.codepipeline_action_minute;
        let pipelines = repository_services.max(services);
        Ok(Self {
            scenario: *scenario,
            services,
            repository_services: pipelines,
            detect_invocations: 1,
            per_service: Dollars::of(simulation.service.counts, scenario, prices),
            one_service_push: Dollars::of(
                plus(plus(simulation.service.counts, simulation.overhead), detect),
                scenario,
                prices,
            ),
            push: Dollars::of(plus(simulation.total, detect), scenario, prices),
            codepipeline: CodePipeline {
                action_minutes,
                per_pipeline,
                pipelines,
                per_push: per_pipeline * pipelines as f64,
            },
            simulation,
            prices: *prices,
        })
    }

    /// Whether every budget holds: orchestration of a one-service push, history events per
    /// service and of the push.
    pub fn within_budgets(&self) -> bool {
        self.budgets().iter().all(|(_, _, ok)| *ok)
    }

    /// Each budget: what it says, the figure, whether it holds.
    pub fn budgets(&self) -> Vec<(String, String, bool)> {
        let events = self.simulation.service.counts.history_events;
        let total_events = self.simulation.total.history_events;
        vec![
            (
                format!("orchestration of a one-service push <= ${BUDGET_DOLLARS_PER_SERVICE:.3}"),
                format!("${:.6}", self.one_service_push.total),
                self.one_service_push.total <= BUDGET_DOLLARS_PER_SERVICE,
            ),
            (
                format!("history events per service <= {BUDGET_EVENTS_PER_SERVICE}"),
                events.to_string(),
                events <= BUDGET_EVENTS_PER_SERVICE,
            ),
            (
                format!("history events of this push <= {HISTORY_EVENT_LIMIT}"),
                total_events.to_string(),
                total_events <= HISTORY_EVENT_LIMIT,
            ),
        ]
    }

    /// The report for people.
    pub fn to_text(&self, asl: &str) -> String {
        let s = &self.scenario;
        let walk = &self.simulation.service;
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!(
            "deltaship cost: build {}, rollout {}, {} service{} deployed, {} in the repository",
            clock(s.build_seconds),
            clock(s.rollout_seconds),
            self.services,
            if self.services == 1 { "" } else { "s" },
            self.repository_services
        ));
        line(format!("  state machine  {asl} (walked, ended in {:?})", self.simulation.end));
        line(format!(
            "  wait policy    build {}..{} s, rollout {}..{} s; rollout deadline {} min",
            s.build_wait.min_seconds,
            s.build_wait.max_seconds,
            s.rollout_wait.min_seconds,
            s.rollout_wait.max_seconds,
            s.timeout_minutes
        ));
        line(format!(
            "  one service    {} looks at the build (done at {}, seen at {}), {} at the rollout; outcome {} at {}",
            walk.build_checks,
            clock(s.build_seconds),
            walk.build_seen_at.map_or_else(|| "never".to_owned(), clock),
            walk.rollout_checks,
            walk.outcome.as_deref().unwrap_or("none"),
            clock(walk.finished_at),
        ));
        line(String::new());
        let push = format!("push ({} service{})", self.services, if self.services == 1 { "" } else { "s" });
        line(format!("  {:<28}{:>14}{:>16}{:>20}", "", "per service", "per execution", push));
        let o = &self.simulation.overhead;
        let t = &self.simulation.total;
        let c = &walk.counts;
        line(format!("  {:<28}{:>14}{:>16}{:>20}", "state transitions", c.transitions, o.transitions, t.transitions));
        line(format!(
            "  {:<28}{:>14}{:>16}{:>20}",
            "Lambda invocations",
            c.lambda_invocations,
            format!("{} + 1 detect", o.lambda_invocations),
            t.lambda_invocations + self.detect_invocations
        ));
        line(format!(
            "  {:<28}{:>14}{:>16}{:>20}",
            "history events", c.history_events, o.history_events, t.history_events
        ));
        let overhead = Dollars {
            step_functions: self.one_service_push.step_functions - self.per_service.step_functions,
            lambda: self.one_service_push.lambda - self.per_service.lambda,
            total: self.one_service_push.total - self.per_service.total,
        };
        let money = |label: String, pick: fn(&Dollars) -> f64| {
            format!(
                "  {:<28}{:>14}{:>16}{:>20}",
                label,
                format!("${:.6}", pick(&self.per_service)),
                format!("${:.6}", pick(&overhead)),
                format!("${:.6}", pick(&self.push))
            )
        };
        line(money("Step Functions (Standard)".into(), |d| d.step_functions));
        line(money(format!("Lambda ({} ms, {} MB, arm64)", s.lambda_ms, s.lambda_memory_mb), |d| d.lambda));
        line(money("orchestration".into(), |d| d.total));
        line(String::new());
        let cp = &self.codepipeline;
        line(format!(
            "  CodePipeline V2, same work: {} action-minutes a pipeline (source 1, build, deploy) = ${:.6};",
            cp.action_minutes, cp.per_pipeline
        ));
        line(format!(
            "    the push runs {} pipeline{} (every service's, on every push to a CodeCommit monorepo): ${:.6}, {:.0}x deltaship",
            cp.pipelines,
            if cp.pipelines == 1 { "" } else { "s" },
            cp.per_push,
            cp.per_push / self.push.total.max(f64::MIN_POSITIVE)
        ));
        line(String::new());
        line("budgets".to_owned());
        for (budget, figure, ok) in self.budgets() {
            line(format!("  {budget:<56}{figure:>12}  {}", if ok { "ok" } else { "OVER BUDGET" }));
        }
        out
    }
}

/// Seconds as `5m00s`.
fn clock(seconds: u64) -> String {
    format!("{}m{:02}s", seconds / 60, seconds % 60)
}

/// Runs `deltaship cost`: exit 0 with the report; bad input (2) when the definition cannot be
/// read or walked.
pub fn run(args: &CostArgs) -> Result<ExitCode, CliError> {
    let bad = |message: String| Err(CliError::bad_input(message));
    let shown = args.asl.display().to_string();
    let definition: Value = match std::fs::read(&args.asl) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(definition) => definition,
            Err(error) => return bad(format!("{shown}: not JSON: {error}")),
        },
        Err(error) => return bad(format!("{shown}: cannot read it: {error}")),
    };
    let scenario = Scenario {
        build_seconds: args.build,
        rollout_seconds: args.rollout,
        build_wait: args.build_wait.unwrap_or(WaitPolicy::BUILD),
        rollout_wait: args.rollout_wait.unwrap_or(WaitPolicy::ROLLOUT),
        timeout_minutes: args.timeout_minutes,
        lambda_ms: args.lambda_ms,
        lambda_memory_mb: args.lambda_memory_mb,
    };
    let repository = args.repository_services.unwrap_or(args.services);
    let estimate = match Estimate::new(&definition, &scenario, args.services, repository, &Prices::US_EAST_1) {
        Ok(estimate) => estimate,
        Err(error) => return bad(format!("{shown}: {error}")),
    };
    write_report(args.format, "the estimate", &estimate, |out| out.write_all(estimate.to_text(&shown).as_bytes()))?;
    Ok(ExitCode::from(EXIT_OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASL: &str = include_str!("../../state-machine/pipeline.asl.json");

    fn definition() -> Value {
        serde_json::from_str(ASL).unwrap()
    }

    fn scenario(build: u64, rollout: u64) -> Scenario {
        Scenario::new(build, rollout)
    }

    /// Hand-counted walks of the pipeline. With the default policy (build 60..120 s, rollout
    /// 30..120 s), 5+5 minutes: build looks at 1, 2, 4, 6 min; rollout looks at 0.5, 1, 2, 4,
    /// 6 min. Transitions: Start build + 4 × (Wait, Check, Choice) = 13; Deploy + Wait + 5 ×
    /// (Check, Choice) + 4 × Wait again = 16; Deployed = 1.
    #[test]
    fn walks_table() {
        let old = |build, rollout| Scenario {
            build_wait: WaitPolicy { min_seconds: 30, max_seconds: 120 },
            rollout_wait: WaitPolicy { min_seconds: 20, max_seconds: 120 },
            ..scenario(build, rollout)
        };
        let short_deadline = Scenario { timeout_minutes: 5, ..scenario(300, 600) };
        // (name, scenario, transitions, invocations, events, build looks, rollout looks, outcome)
        type Row<'a> = (&'a str, Scenario, u64, u64, u64, u64, u64, &'a str);
        let table: Vec<Row<'_>> = vec![
            ("5+5 min, default policy", scenario(300, 300), 30, 11, 95, 4, 5, "deployed"),
            ("5+5 min, the policy before (30..120, 20..120)", old(300, 300), 36, 13, 113, 5, 6, "deployed"),
            ("quick build and rollout", scenario(30, 20), 9, 4, 32, 1, 1, "deployed"),
            ("20 min build, 10 min rollout", scenario(1200, 600), 57, 20, 176, 11, 7, "deployed"),
            // Looks at 0.5, 1, 2, 4 min, then at the 5-minute deadline: Roll back, Left alone?,
            // Rolled back.
            ("rollout past its deadline", short_deadline, 31, 12, 100, 4, 5, "rolled_back"),
        ];
        for (name, scenario, transitions, invocations, events, build_looks, rollout_looks, outcome) in table {
            let simulation = simulate(&definition(), &scenario, 1).unwrap();
            let walk = &simulation.service;
            assert_eq!(walk.counts.transitions, transitions, "{name}: {:?}", walk.path);
            assert_eq!(walk.counts.lambda_invocations, invocations, "{name}");
            assert_eq!(walk.counts.history_events, events, "{name}");
            assert_eq!((walk.build_checks, walk.rollout_checks), (build_looks, rollout_looks), "{name}");
            assert_eq!(walk.outcome.as_deref(), Some(outcome), "{name}");
        }
    }

    #[test]
    fn the_execution_around_the_iterations() {
        let one = simulate(&definition(), &scenario(300, 300), 1).unwrap();
        // The Map, Summarize, Tally, the Choice and the Succeed state; their events and the
        // execution's start and end.
        assert_eq!(one.overhead, Counts { transitions: 5, lambda_invocations: 0, history_events: 14 });
        assert_eq!(one.end, "All services deployed");
        let hundred = simulate(&definition(), &scenario(300, 300), 100).unwrap();
        assert_eq!(hundred.overhead, one.overhead);
        assert_eq!(hundred.total.transitions, 100 * 30 + 5);
        assert_eq!(hundred.total.history_events, 100 * 95 + 14);
        let failed = simulate(&definition(), &Scenario { timeout_minutes: 5, ..scenario(300, 600) }, 2).unwrap();
        assert_eq!(failed.end, "Some services failed");
    }

    #[test]
    fn the_default_policy_meets_the_budgets_and_the_old_one_did_not() {
        let estimate = |scenario: &Scenario| Estimate::new(&definition(), scenario, 1, 1, &Prices::US_EAST_1).unwrap();
        let now = estimate(&scenario(300, 300));
        assert!(now.within_budgets(), "{}", now.to_text("asl"));
        // 35 transitions and 12 invocations of 200 ms at 128 MB.
        let lambda = 12.0 * (0.2e-6 + 0.125 * 0.2 * 0.000_013_333_4);
        assert!((now.one_service_push.total - (35.0 * 0.000_025 + lambda)).abs() < 1e-12);
        let before = Scenario {
            build_wait: WaitPolicy { min_seconds: 30, max_seconds: 120 },
            rollout_wait: WaitPolicy { min_seconds: 20, max_seconds: 120 },
            ..scenario(300, 300)
        };
        let before = estimate(&before);
        assert_eq!(before.simulation.service.counts.transitions + before.simulation.overhead.transitions, 41);
        assert!(!before.within_budgets());
        assert!(before.to_text("asl").contains("OVER BUDGET"));
        // A push of 100 services stays under the execution's event limit.
        let big = Estimate::new(&definition(), &scenario(300, 300), 100, 100, &Prices::US_EAST_1).unwrap();
        assert!(big.within_budgets());
    }

    #[test]
    fn codepipeline_runs_every_services_pipeline() {
        let estimate = Estimate::new(&definition(), &scenario(300, 300), 1, 20, &Prices::US_EAST_1).unwrap();
        assert_eq!(estimate.codepipeline.action_minutes, 11);
        assert!((estimate.codepipeline.per_pipeline - 0.022).abs() < 1e-12);
        assert_eq!(estimate.codepipeline.pipelines, 20);
        assert!((estimate.codepipeline.per_push - 0.44).abs() < 1e-12);
        let rounded = Estimate::new(&definition(), &scenario(61, 1), 1, 1, &Prices::US_EAST_1).unwrap();
        assert_eq!(rounded.codepipeline.action_minutes, 1 + 2 + 1, "each action rounded up to a minute");
    }

    /// The figures come from the definition: change it, and they change.
    #[test]
    fn a_changed_definition_changes_the_figures() {
        let mut fixed = definition();
        let wait =
            fixed.pointer_mut("/States/Deploy each service/ItemProcessor/States/Wait for rollout again").unwrap();
        *wait = json!({ "Type": "Wait", "Seconds": 10, "Next": "Check rollout" });
        let walk = simulate(&fixed, &scenario(300, 300), 1).unwrap().service;
        // Looks at 30 s, then every 10.2 s (the wait and a 200 ms invocation) until 5 min.
        assert_eq!(walk.rollout_checks, 28);
        assert_eq!(walk.counts.transitions, 13 + 1 + 1 + 28 * 2 + 27 + 1);

        let mut extra = definition();
        let states = extra.pointer_mut("/States/Deploy each service/ItemProcessor/States").unwrap();
        states["Deployed"]["End"] = json!(false);
        states["Deployed"]["Next"] = json!("Note");
        states["Note"] = json!({ "Type": "Pass", "End": true });
        let walk = simulate(&extra, &scenario(300, 300), 1).unwrap().service;
        assert_eq!(walk.counts.transitions, 31);
        assert_eq!(walk.path.last().map(String::as_str), Some("Note"));
    }

    #[test]
    fn definitions_it_cannot_walk_are_errors() {
        let edit = |pointer: &str, value: Value| {
            let mut definition = definition();
            *definition.pointer_mut(pointer).unwrap() = value;
            simulate(&definition, &scenario(300, 300), 1).unwrap_err().to_string()
        };
        let processor = "/States/Deploy each service/ItemProcessor/States";
        let table = [
            (format!("{processor}/Wait for build/Next"), json!("Nowhere"), "no state named \"Nowhere\""),
            (format!("{processor}/Deployed/Type"), json!("Parallel"), "does not know states of type \"Parallel\""),
            (
                format!("{processor}/Check build/Parameters/FunctionName"),
                json!("${Other}"),
                "no stand-in for the function \"${Other}\"",
            ),
            (format!("{processor}/Wait for build/SecondsPath"), json!("$.nothing"), "no whole number of seconds"),
            ("/StartAt".to_owned(), json!(7), "no StartAt"),
        ];
        for (pointer, value, message) in table {
            let error = edit(&pointer, value);
            assert!(error.contains(message), "{pointer}: {error}");
        }
        let mut uncaught = definition();
        uncaught.pointer_mut(&format!("{processor}/Check rollout/Catch")).map(|catch| *catch = json!([])).unwrap();
        let deadline = Scenario { timeout_minutes: 5, ..scenario(300, 600) };
        let error = simulate(&uncaught, &deadline, 1).unwrap_err().to_string();
        assert!(error.contains("nothing catches DeadlineExceeded"), "{error}");

        let mut looping = definition();
        let states = looping.pointer_mut(processor).unwrap();
        states["Build done?"]["Choices"] = json!([]);
        let error = simulate(&looping, &scenario(300, 300), 1).unwrap_err().to_string();
        assert!(error.contains("does it ever end?"), "{error}");
    }

    #[test]
    fn durations_and_waits_parse_strictly() {
        for (text, seconds) in [("90s", Some(90)), ("5m", Some(300)), ("1h", Some(3600)), ("0s", None), ("5", None)] {
            assert_eq!(parse_duration(text).ok(), seconds, "{text}");
        }
        for bad in ["m", "1.5m", "-1m", "25h", "5 min"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_wait("60..120"), Ok(WaitPolicy { min_seconds: 60, max_seconds: 120 }));
        for bad in ["60", "0..10", "20..10", "a..b", "1..3601"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }
}
