//! The walk of a state machine definition, as Step Functions runs it: which state runs after
//! which (Task, Wait, Choice, Pass, Map, Succeed and Fail; `Catch`), at what time on the
//! simulated clock (Waits, each invocation's duration, callback tasks waiting for their token or
//! their timeout, a Map's iterations side by side), and what each state counts (transitions,
//! invocations, history events). The data the states read and write follows [`crate::asl`]:
//! its paths and intrinsic functions (and the context object's `$$.Task.Token`), `ResultPath`,
//! then `OutputPath` (on a Pass, a Task that succeeded, a Map, a Choice, a Wait or a Succeed;
//! `InputPath` is beyond the model, an error), and its Choice rules. A caught error goes into the
//! state's input at the catcher's `ResultPath`, and that is what the catcher's `Next` gets (the
//! Step Functions developer guide, "Error handling in Step Functions", "Error output": the error
//! output "is added to the input ... Then, the entire input is sent to" the catcher's `Next`; the
//! state's `OutputPath` plays no part). The Lambdas' answers, the waits table and the events are
//! [`super::stand_ins`]' and [`super::waits`]'.
//!
//! A callback task (`arn:aws:states:::lambda:invoke.waitForTaskToken`) invokes its function with
//! a new token, then waits: it ends with the token's first completion (by the function itself,
//! or by wake-waits on an event), or fails with `States.Timeout` when its `TimeoutSeconds`
//! (or `TimeoutSecondsPath`), counted from its start, pass first; its `Catch` takes it from there.
//! A completion that comes too late finds the token closed and changes nothing. An approval
//! (request-approval's callback task) is completed by the person approving, `approval_seconds`
//! after it was asked for ([`Scenario::approval_seconds`]), unless its timeout (the environment's
//! `approval_timeout_hours`) passes first: `not_promoted`.

use deltaship_core::WaitPolicy;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::stand_ins::{self, Answer, World};
use crate::asl::{self, PathError};

/// The most transitions one Map iteration may take before the walk gives up (a loop that never
/// ends in the model would never end in AWS either).
const MAX_TRANSITIONS: u64 = 100_000;

/// The resource of a callback task: a Lambda invoked with a task token, waited for until the
/// token is completed.
const CALLBACK: &str = ".waitForTaskToken";

/// Whether the build's and the rollout's EventBridge events reach wake-waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Events {
    /// Every event arrives, when its build or deployment changes: a wait ends with its event,
    /// or by its fallback timeout if that comes first.
    Flowing,
    /// No event ever arrives: every wait ends by its fallback timeouts, and the looks after
    /// them.
    Lost,
}

/// What the model runs: durations, deadlines, wait policies, events and the Lambdas' size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scenario {
    /// Seconds each build runs.
    pub build_seconds: u64,
    /// Seconds each rollout runs until ECS reports it successful.
    pub rollout_seconds: u64,
    /// Seconds a rollback deltaship asks for runs until ECS reports it done.
    pub rollback_seconds: u64,
    /// The wait policy of start-build and check-build.
    #[serde(serialize_with = "policy")]
    pub build_wait: WaitPolicy,
    /// The wait policy of deploy-service, check-rollout and rollback-service.
    #[serde(serialize_with = "policy")]
    pub rollout_wait: WaitPolicy,
    /// The rollout deadline (`deploy.timeout_minutes`), in minutes.
    pub timeout_minutes: u32,
    /// The build deadline (`build.timeout_minutes`), in minutes.
    pub build_timeout_minutes: u32,
    /// Whether the events arrive.
    pub events: Events,
    /// Billed milliseconds of one Lambda invocation (the clock moves by it too).
    pub lambda_ms: u64,
    /// The Lambdas' memory in MB.
    pub lambda_memory_mb: u64,
    /// The environments each service deploys to, in order (1: the one-environment case); each
    /// after the first is a promotion of the image the build produced.
    pub environments: u32,
    /// Whether each environment after the first waits for an approval.
    pub approvals: bool,
    /// Seconds after it is asked for that each approval is given (`deltaship approve`).
    pub approval_seconds: u64,
}

fn policy<S: serde::Serializer>(policy: &WaitPolicy, serializer: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&[policy.min_seconds, policy.max_seconds], serializer)
}

impl Scenario {
    /// `build` and `rollout` seconds with the Lambdas' default wait policies, the manifest's
    /// default deadlines, 5-minute rollbacks, events flowing, 200 ms invocations at 128 MB, and
    /// one environment (approvals, where a scenario has later environments that need them,
    /// given after 10 minutes).
    pub fn new(build_seconds: u64, rollout_seconds: u64) -> Self {
        Self {
            build_seconds,
            rollout_seconds,
            rollback_seconds: 300,
            build_wait: WaitPolicy::BUILD,
            rollout_wait: WaitPolicy::ROLLOUT,
            timeout_minutes: deltaship_core::manifest::DEFAULT_TIMEOUT_MINUTES,
            build_timeout_minutes: deltaship_core::manifest::DEFAULT_BUILD_TIMEOUT_MINUTES,
            events: Events::Flowing,
            lambda_ms: 200,
            lambda_memory_mb: 128,
            environments: 1,
            approvals: false,
            approval_seconds: 600,
        }
    }

    /// As [`Scenario::new`], with back-off policies (what a minimum below the maximum gives):
    /// fallback timeouts of 60..300 s for builds and 30..300 s for rollouts, each as long as the
    /// thing has run. The tests that exercise the back-off use it.
    #[cfg(test)]
    pub(crate) fn backing_off(build_seconds: u64, rollout_seconds: u64) -> Self {
        Self {
            build_wait: WaitPolicy { min_seconds: 60, max_seconds: 300 },
            rollout_wait: WaitPolicy { min_seconds: 30, max_seconds: 300 },
            ..Self::new(build_seconds, rollout_seconds)
        }
    }
}

/// Counts for one walk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    /// States entered.
    pub transitions: u64,
    /// Lambda Tasks run (`lambda:invoke` and `lambda:invoke.waitForTaskToken`).
    pub lambda_invocations: u64,
    /// wake-waits' invocations: one per EventBridge event delivered to it.
    pub wake_invocations: u64,
    /// Execution history events.
    pub history_events: u64,
    /// DynamoDB write request units (the waits table).
    pub dynamodb_write_units: u64,
    /// DynamoDB read request units (the waits table).
    pub dynamodb_read_units: f64,
}

impl Counts {
    /// Each count of `self` with the same of `other`.
    fn each(self, other: Self, whole: impl Fn(u64, u64) -> u64, units: impl Fn(f64, f64) -> f64) -> Self {
        Self {
            transitions: whole(self.transitions, other.transitions),
            lambda_invocations: whole(self.lambda_invocations, other.lambda_invocations),
            wake_invocations: whole(self.wake_invocations, other.wake_invocations),
            history_events: whole(self.history_events, other.history_events),
            dynamodb_write_units: whole(self.dynamodb_write_units, other.dynamodb_write_units),
            dynamodb_read_units: units(self.dynamodb_read_units, other.dynamodb_read_units),
        }
    }

    pub(super) fn plus(self, other: Self) -> Self {
        self.each(other, |a, b| a + b, |a, b| a + b)
    }

    fn minus(self, other: Self) -> Self {
        self.each(other, u64::saturating_sub, |a, b| (a - b).max(0.0))
    }

    /// `n` times each count.
    fn times(self, n: u64) -> Self {
        self.each(self, |a, _| a * n, |a, _| a * n as f64)
    }
}

/// One service's iteration of the Map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceWalk {
    /// What it took.
    pub counts: Counts,
    /// check-build's invocations (waits and looks).
    pub build_checks: u64,
    /// check-rollout's invocations (waits and looks, the rollback's included).
    pub rollout_checks: u64,
    /// Callback waits that ended by their fallback timeout (`States.Timeout`); an approval that
    /// times out is not one (it ends the environment `not_promoted`, no look follows).
    pub timeouts: u64,
    /// When the build was seen done, in seconds after the iteration started.
    pub build_seen_at: Option<u64>,
    /// When the iteration ended, in seconds after it started.
    pub finished_at: u64,
    /// The states entered, in order.
    pub path: Vec<String>,
    /// The outcome the iteration ended with (`deployed`, `rolled_back`, ...), if it set one.
    pub outcome: Option<String>,
    /// Each environment's outcome, in pipeline order, as the iteration's outcome lists them
    /// (`environments`; empty when the build failed).
    pub environments: Vec<EnvironmentReached>,
}

/// One environment of a service's outcome: its name and what became of the service there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentReached {
    /// The environment.
    pub name: String,
    /// Its outcome (`deployed`, `rejected`, `not_promoted`, ...).
    pub outcome: String,
}

impl EnvironmentReached {
    /// The `environments` of an iteration's output (entries without a name and an outcome are
    /// left out: a changed definition may write anything).
    fn of(output: &Value) -> Vec<Self> {
        let entries = output.get("environments").and_then(Value::as_array).into_iter().flatten();
        entries
            .filter_map(|entry| {
                let field = |key: &str| entry.get(key).and_then(Value::as_str).map(ToOwned::to_owned);
                Some(Self { name: field("name")?, outcome: field("outcome")? })
            })
            .collect()
    }
}

/// A whole execution for a push of some services, all alike.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

pub(super) fn fail<T>(message: impl Into<String>) -> Result<T, AslError> {
    Err(AslError(message.into()))
}

/// A path error of state `name`, as an [`AslError`] naming the state.
fn at(name: &str) -> impl Fn(PathError) -> AslError + '_ {
    move |error| AslError(format!("state {name:?}: {error}"))
}

/// Walks `definition` for a push of `services` services under `scenario`.
pub fn simulate(definition: &Value, scenario: &Scenario, services: u64) -> Result<Simulation, AslError> {
    let input = stand_ins::execution_input(scenario, services)?;
    let mut walker = Walker { scenario, counts: Counts::default(), iterations: Vec::new() };
    walker.counts.history_events += 2; // ExecutionStarted, and ExecutionSucceeded or ExecutionFailed
    let run = walker.run(definition, input, "the state machine", 0)?;
    let service = walker.iterations.first().cloned().ok_or_else(|| AslError("no Map state ran an iteration".into()))?;
    let iterations = service.counts.times(services);
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
    /// Callback waits that timed out.
    timeouts: u64,
    /// What the stand-in Lambdas saw.
    world: World,
}

impl Walker<'_> {
    /// Runs the states of `machine` (it has `StartAt` and `States`) from `clock_ms`; then delivers
    /// the events still to come, and adds what the stand-ins counted.
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
        let mut timeouts = 0;
        loop {
            let state = states.get(&name).ok_or_else(|| AslError(format!("{label}: no state named {name:?}")))?;
            self.counts.transitions += 1;
            path.push(name.clone());
            if path.len() as u64 > MAX_TRANSITIONS {
                return fail(format!("{label}: more than {MAX_TRANSITIONS} transitions; does it ever end?"));
            }
            world.deliver_until(clock, self.scenario)?;
            if state.get("InputPath").is_some() {
                return fail(format!("state {name:?}: the cost model does not know InputPath"));
            }
            let kind = state.get("Type").and_then(Value::as_str).unwrap_or("");
            let next = match kind {
                "Task" => {
                    let (result, ended_ms) = self.task(&name, state, &data, clock, &mut world)?;
                    clock = ended_ms;
                    match result {
                        Ok(result) => {
                            asl::apply_result(state, &mut data, result).map_err(at(&name))?;
                            data = asl::output(data, state.get("OutputPath")).map_err(at(&name))?;
                            next_of(state, &name)?
                        }
                        Err((error, cause)) => {
                            // An approval's timeout is its end (not_promoted), not a fallback.
                            timeouts += u64::from(error == "States.Timeout" && !stand_ins::is_approval(state));
                            let catcher = catcher(state, &error).ok_or_else(|| {
                                AslError(format!("state {name:?}: nothing catches {error} ({cause})"))
                            })?;
                            let caught = json!({ "Error": error, "Cause": cause });
                            asl::set_result(&mut data, catcher.get("ResultPath"), caught).map_err(at(&name))?;
                            Some(text(catcher, "Next", &name)?.to_owned())
                        }
                    }
                }
                "Wait" => {
                    self.counts.history_events += 2;
                    let seconds = seconds_of(state, &data, "Seconds", &name)?
                        .ok_or_else(|| AslError(format!("state {name:?}: no whole number of seconds to wait")))?;
                    clock += seconds * 1000;
                    data = asl::output(data, state.get("OutputPath")).map_err(at(&name))?;
                    next_of(state, &name)?
                }
                "Choice" => {
                    self.counts.history_events += 2;
                    let next = choose(state, &data, &name)?;
                    data = asl::output(data, state.get("OutputPath")).map_err(at(&name))?;
                    Some(next)
                }
                "Pass" => {
                    self.counts.history_events += 2;
                    // Its result: Parameters filled in, else its Result, else its input as it is.
                    let result = match (state.get("Parameters"), state.get("Result")) {
                        (Some(parameters), _) => asl::evaluate(parameters, &data).map_err(at(&name))?,
                        (None, Some(result)) => result.clone(),
                        (None, None) => data.clone(),
                    };
                    asl::set_result(&mut data, state.get("ResultPath"), result).map_err(at(&name))?;
                    data = asl::output(data, state.get("OutputPath")).map_err(at(&name))?;
                    next_of(state, &name)?
                }
                "Map" => {
                    self.counts.history_events += 4;
                    let (outputs, finished) = self.map(&name, state, &data, clock)?;
                    clock = finished;
                    asl::set_result(&mut data, state.get("ResultPath"), Value::Array(outputs)).map_err(at(&name))?;
                    data = asl::output(data, state.get("OutputPath")).map_err(at(&name))?;
                    next_of(state, &name)?
                }
                "Succeed" => {
                    self.counts.history_events += 2;
                    data = asl::output(data, state.get("OutputPath")).map_err(at(&name))?;
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
            if kind == "Fail" && state.get("OutputPath").is_some() {
                return fail(format!("state {name:?}: a Fail state has no OutputPath"));
            }
            if let Some(next) = next {
                name = next;
                continue;
            }
            world.drain(self.scenario)?;
            self.counts.wake_invocations += world.wakes;
            self.counts.dynamodb_write_units += world.table.write_units;
            self.counts.dynamodb_read_units += world.table.read_units;
            return Ok(Run { end: name, output: data, clock_ms: clock, path, timeouts, world });
        }
    }

    /// A Task state: its Lambda invoked with the state's payload (and, for a callback task, a new
    /// token, then the wait for it). Its result (the payload as `{"Payload": ...}`, a callback's
    /// completion as it was sent) or error, and the clock when it ended.
    fn task(
        &mut self,
        name: &str,
        state: &Value,
        data: &Value,
        started_ms: u64,
        world: &mut World,
    ) -> Result<(Answer, u64), AslError> {
        let callback =
            state.get("Resource").and_then(Value::as_str).is_some_and(|resource| resource.ends_with(CALLBACK));
        // TaskStateEntered, TaskScheduled, TaskStarted, [TaskSubmitted,] TaskSucceeded or
        // TaskFailed or TaskTimedOut, TaskStateExited.
        self.counts.history_events += if callback { 6 } else { 5 };
        self.counts.lambda_invocations += 1;
        let token = callback.then(|| world.new_token());
        let payload = payload_of(state, data, token.as_deref(), name)?;
        let invoked_ms = started_ms + self.scenario.lambda_ms;
        world.deliver_until(invoked_ms, self.scenario)?;
        let answer = stand_ins::answer(name, state, &payload, self.scenario, invoked_ms, world)?;
        match (token, answer) {
            (None, Ok(payload)) => Ok((Ok(json!({ "Payload": payload })), invoked_ms)),
            // A failed invocation fails the task at once, callback or not.
            (_, Err(error)) => Ok((Err(error), invoked_ms)),
            (Some(token), Ok(_)) => {
                let timeout = seconds_of(state, data, "TimeoutSeconds", name)?;
                let (answer, ended_ms) = self.wait_for(&token, started_ms, timeout, world, name)?;
                Ok((answer, ended_ms.max(invoked_ms)))
            }
        }
    }

    /// A callback task's wait for `token`, from `started_ms`: events are delivered in order until
    /// one completes the token before the timeout; else the task times out.
    fn wait_for(
        &self,
        token: &str,
        started_ms: u64,
        timeout_seconds: Option<u64>,
        world: &mut World,
        name: &str,
    ) -> Result<(Answer, u64), AslError> {
        let timeout_ms = timeout_seconds.map(|seconds| started_ms + seconds * 1000);
        loop {
            if let Some(done) = world.completion(token).filter(|done| timeout_ms.is_none_or(|at| done.at_ms < at)) {
                let (answer, at_ms) = (done.answer.clone(), done.at_ms);
                // A completion set ahead (an approval) comes after the events due before it.
                world.deliver_until(at_ms, self.scenario)?;
                return Ok((answer, at_ms));
            }
            match (world.next_event_at(), timeout_ms) {
                (Some(next), _) if timeout_ms.is_none_or(|at| next < at) => {
                    world.deliver_until(next, self.scenario)?;
                }
                (_, Some(at)) => {
                    let seconds = timeout_seconds.unwrap_or(0);
                    let cause = format!("no completion of the task token within its timeout of {seconds} s");
                    return Ok((Err(("States.Timeout".to_owned(), cause)), at));
                }
                (_, None) => {
                    return fail(format!(
                        "state {name:?} waits for a token that nothing completes, with no TimeoutSeconds: \
                         it would wait until the execution's one-year limit"
                    ));
                }
            }
        }
    }

    /// A Map state's iterations, side by side from `clock`: their outputs and when the slowest
    /// ended.
    fn map(&mut self, name: &str, state: &Value, data: &Value, clock: u64) -> Result<(Vec<Value>, u64), AslError> {
        let processor = state
            .get("ItemProcessor")
            .or_else(|| state.get("Iterator"))
            .ok_or_else(|| AslError(format!("state {name:?}: a Map without ItemProcessor")))?;
        let items_path = state.get("ItemsPath").and_then(Value::as_str).unwrap_or("$");
        let items = match asl::read(data, items_path).map_err(at(name))? {
            Some(Value::Array(items)) => items,
            _ => return fail(format!("state {name:?}: {items_path} is not a list")),
        };
        let mut outputs = Vec::with_capacity(items.len());
        let mut finished = clock;
        for (index, item) in items.into_iter().enumerate() {
            let before = self.counts;
            self.counts.history_events += 2; // MapIterationStarted, MapIterationSucceeded
            let run = self.run(processor, item, &format!("iteration {index} of {name:?}"), clock)?;
            finished = finished.max(run.clock_ms);
            let elapsed = |at: u64| at.saturating_sub(clock) / 1000;
            self.iterations.push(ServiceWalk {
                counts: self.counts.minus(before),
                build_checks: run.world.build_checks,
                rollout_checks: run.world.rollout_checks,
                timeouts: run.timeouts,
                build_seen_at: run.world.build_seen_at_ms.map(elapsed),
                finished_at: elapsed(run.clock_ms),
                outcome: run.output.get("outcome").and_then(Value::as_str).map(ToOwned::to_owned),
                environments: EnvironmentReached::of(&run.output),
                path: run.path,
            });
            outputs.push(run.output);
        }
        Ok((outputs, finished))
    }
}

fn text<'v>(value: &'v Value, key: &str, name: &str) -> Result<&'v str, AslError> {
    value.get(key).and_then(Value::as_str).ok_or_else(|| AslError(format!("{name}: no {key}")))
}

/// A whole number of seconds that `state` gives as `field` or reads at `fieldPath` (`Seconds`,
/// `TimeoutSeconds`), if it gives any.
fn seconds_of(state: &Value, data: &Value, field: &str, name: &str) -> Result<Option<u64>, AslError> {
    let value = match (state.get(field), state.get(format!("{field}Path").as_str())) {
        (Some(value), _) => Some(value.clone()),
        (None, Some(Value::String(path))) => asl::read(data, path).map_err(at(name))?,
        (None, Some(_)) => return fail(format!("state {name:?}: {field}Path is not a path")),
        (None, None) => return Ok(None),
    };
    match value.as_ref().and_then(Value::as_u64) {
        Some(seconds) if seconds > 0 || field == "Seconds" => Ok(Some(seconds)),
        _ => fail(format!("state {name:?}: {field} is not a positive whole number of seconds ({value:?})")),
    }
}

/// The payload a Task sends its Lambda: its `Parameters.Payload`, filled from `data`, with the
/// context object's `$$.Task.Token` (the only context field the model knows) as `token`.
fn payload_of(state: &Value, data: &Value, token: Option<&str>, name: &str) -> Result<Value, AslError> {
    let parameters = state.get("Parameters").ok_or_else(|| AslError(format!("state {name:?}: no Parameters")))?;
    let filled = asl::evaluate(&with_token(parameters, token, name)?, data).map_err(at(name))?;
    filled.get("Payload").cloned().ok_or_else(|| AslError(format!("state {name:?}: no Parameters.Payload")))
}

/// `template` with its `key.$: "$$.Task.Token"` fields made `key: token`.
fn with_token(template: &Value, token: Option<&str>, name: &str) -> Result<Value, AslError> {
    let Some(fields) = template.as_object() else { return Ok(template.clone()) };
    let mut out = Map::new();
    for (key, value) in fields {
        match (key.strip_suffix(".$"), value.as_str()) {
            (Some(field), Some(path)) if path.starts_with("$$") => {
                if path != "$$.Task.Token" {
                    return fail(format!("state {name:?}: the cost model knows $$.Task.Token only, not {path}"));
                }
                let token = token.ok_or_else(|| {
                    AslError(format!("state {name:?}: $$.Task.Token outside a {CALLBACK} task has no token"))
                })?;
                out.insert(field.to_owned(), Value::String(token.to_owned()));
            }
            _ => {
                out.insert(key.clone(), with_token(value, token, name)?);
            }
        }
    }
    Ok(Value::Object(out))
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

/// A Choice state's next state for `data`: the `Next` of its first rule that holds
/// ([`asl::rule_holds`]), or its `Default`.
fn choose(state: &Value, data: &Value, name: &str) -> Result<String, AslError> {
    let rules = state
        .get("Choices")
        .and_then(Value::as_array)
        .filter(|rules| !rules.is_empty())
        .ok_or_else(|| AslError(format!("state {name:?}: a Choice state needs a non-empty Choices list")))?;
    for rule in rules {
        if asl::rule_holds(rule, data).map_err(at(name))? {
            return text(rule, "Next", &format!("a choice of {name:?}")).map(ToOwned::to_owned);
        }
    }
    // No Default and no rule that holds: Step Functions fails the execution (States.NoChoiceMatched).
    text(state, "Default", &format!("state {name:?} (States.NoChoiceMatched)")).map(ToOwned::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::definition;

    /// The walks below exercise the back-off; [`walks_with_the_default_waits`] the defaults.
    fn scenario(build: u64, rollout: u64) -> Scenario {
        Scenario::backing_off(build, rollout)
    }

    fn lost(scenario: Scenario) -> Scenario {
        Scenario { events: Events::Lost, ..scenario }
    }

    /// Hand-counted walks of the pipeline with the back-off policies (fallback timeouts: builds
    /// 60..300 s, rollouts 30..300 s, each as long as the thing has run).
    ///
    /// 5 + 5 minutes, events flowing: the build's waits time out at 60, 120 and 240 s, the fourth
    /// (240 s long) ends with the build's event at 300 s; the rollout's at 30, 60, 120 and 240 s,
    /// the fifth with its event. Transitions: Built already?, Start build, 4 waits, 3 looks, 3
    /// choices; Deploy, 5 waits, 4 looks, 4 choices; Deployed, Record environment, Record the
    /// first environment, Next environment?, Service done: 31. Lambda tasks: 1 + 7 + 1 + 9.
    /// Events: 3. History: 2 + 2 + 5 + (4 × 6 + 3 × 5 + 3 × 2) + 5 + (5 × 6 + 4 × 5 + 4 × 2) +
    /// 5 × 2 = 127.
    ///
    /// Events lost: every wait times out (the build's fourth at 8m01s, whose look sees it done;
    /// the rollout's fifth at 16m03s): 9 × (wait, look, choice), 141 history events.
    ///
    /// A rollout past its 5-minute deadline (events flowing): its waits time out at 30, 60, 120,
    /// 240 s and at the deadline; the look then fails (`DeadlineExceeded`): Roll back, Rolled
    /// back?, 5 waits for the rollback (its deadline 5 minutes on), the look at that deadline
    /// sees it rolled back: Rollback done?, Rolled back; then the outcome is recorded as a
    /// deployed one's is.
    ///
    /// A build past its 5-minute deadline: Built already?, 4 waits, 4 looks (the last fails), 3
    /// choices, Build failed; its event comes later, finds the stale record and deletes it.
    #[test]
    fn walks_table() {
        let late_rollout = Scenario { timeout_minutes: 5, ..scenario(300, 600) };
        let late_build = Scenario { build_timeout_minutes: 5, ..scenario(600, 300) };
        // (name, scenario, transitions, Lambda tasks, wake-ups, events, timeouts, build looks,
        // rollout looks, outcome, done at)
        type Row<'a> = (&'a str, Scenario, [u64; 8], &'a str, &'a str);
        let table: Vec<Row<'_>> = vec![
            ("5+5 min, events flowing", scenario(300, 300), [31, 18, 3, 127, 7, 7, 9, 600], "deployed", "10m00s"),
            ("5+5 min, events lost", lost(scenario(300, 300)), [35, 20, 0, 141, 9, 8, 10, 963], "deployed", "16m03s"),
            ("50 s build, 20 s rollout", scenario(50, 20), [10, 4, 3, 36, 0, 1, 1, 70], "deployed", "1m10s"),
            ("the same, events lost", lost(scenario(50, 20)), [14, 6, 0, 50, 2, 2, 2, 90], "deployed", "1m30s"),
            ("rollout past its deadline", late_rollout, [49, 30, 4, 204, 13, 7, 20, 900], "rolled_back", ""),
            ("build past its deadline", late_build, [14, 9, 1, 61, 4, 8, 0, 301], "build_failed", ""),
        ];
        for (name, scenario, expected, outcome, _) in table {
            let walk = simulate(&definition(), &scenario, 1).unwrap().service;
            assert_eq!(figures(&walk), expected, "{name}: {:?}", walk.path);
            assert_eq!(walk.outcome.as_deref(), Some(outcome), "{name}");
        }
    }

    /// A walk's figures, in the tables' order: transitions, Lambda tasks, wake-ups, history
    /// events, timeouts, build looks, rollout looks, done at.
    fn figures(walk: &ServiceWalk) -> [u64; 8] {
        let c = &walk.counts;
        [
            c.transitions,
            c.lambda_invocations,
            c.wake_invocations,
            c.history_events,
            walk.timeouts,
            walk.build_checks,
            walk.rollout_checks,
            walk.finished_at,
        ]
    }

    /// With the default policies (a flat 600 s), a build and a rollout that end within 10
    /// minutes are seen by their events alone: no fallback, the normal path's 10 transitions and
    /// 36 history events. A longer one is looked at once per 10 minutes; with events lost, each
    /// wait ends at its first timeout.
    #[test]
    fn walks_with_the_default_waits() {
        let defaults = |build, rollout| Scenario::new(build, rollout);
        // (name, scenario, [transitions, Lambda tasks, wake-ups, events, timeouts, build looks,
        // rollout looks, done at])
        let table = [
            ("5+5 min, events flowing", defaults(300, 300), [10, 4, 3, 36, 0, 1, 1, 600]),
            ("5+5 min, events lost", lost(defaults(300, 300)), [14, 6, 0, 50, 2, 2, 2, 1200]),
            ("25 min build, events flowing", defaults(1500, 300), [16, 8, 3, 62, 2, 5, 1, 1800]),
        ];
        for (name, scenario, expected) in table {
            let walk = simulate(&definition(), &scenario, 1).unwrap().service;
            assert_eq!(figures(&walk), expected, "{name}: {:?}", walk.path);
            assert_eq!(walk.outcome.as_deref(), Some("deployed"), "{name}");
        }
    }

    /// What the waits table is billed: a record (its 2 KB token and its watch) is three write
    /// units; each registration writes one, each completion deletes one; each event is a query
    /// of half a read unit.
    #[test]
    fn the_waits_table_is_billed_per_request() {
        let flowing = simulate(&definition(), &scenario(300, 300), 1).unwrap().service.counts;
        // 9 registrations and 2 deletions; 3 events.
        assert_eq!((flowing.dynamodb_write_units, flowing.dynamodb_read_units), (11 * 3, 1.5));
        let lost = simulate(&definition(), &lost(scenario(300, 300)), 1).unwrap().service.counts;
        assert_eq!((lost.dynamodb_write_units, lost.dynamodb_read_units), (9 * 3, 0.0));
    }

    #[test]
    fn the_execution_around_the_iterations() {
        let one = simulate(&definition(), &scenario(300, 300), 1).unwrap();
        // The Map, Summarize, Tally, the Choice and the Succeed state; their events and the
        // execution's start and end.
        assert_eq!(one.overhead, Counts { transitions: 5, history_events: 14, ..Counts::default() });
        assert_eq!(one.end, "All services deployed");
        let hundred = simulate(&definition(), &scenario(300, 300), 100).unwrap();
        assert_eq!(hundred.overhead, one.overhead);
        assert_eq!(hundred.total.transitions, 100 * 31 + 5);
        assert_eq!(hundred.total.history_events, 100 * 127 + 14);
        assert_eq!(hundred.total.wake_invocations, 100 * 3);
        let failed = simulate(&definition(), &Scenario { timeout_minutes: 5, ..scenario(300, 600) }, 2).unwrap();
        assert_eq!(failed.end, "Some services failed");
    }

    /// The figures come from the definition: change it, and they change.
    #[test]
    fn a_changed_definition_changes_the_figures() {
        let states = "/States/Deploy each service/ItemProcessor/States";
        let mut fixed = definition();
        let wait = fixed.pointer_mut(&format!("{states}/Wait for build")).unwrap().as_object_mut().unwrap();
        wait.remove("TimeoutSecondsPath");
        wait.insert("TimeoutSeconds".into(), json!(600));
        let walk = simulate(&fixed, &scenario(300, 300), 1).unwrap().service;
        // The build's wait outlasts the build: only the rollout's 4 fallbacks are left.
        assert_eq!((walk.timeouts, walk.build_checks), (4, 1));
        assert_eq!(walk.counts.history_events, 127 - 3 * 13);

        let mut extra = definition();
        let states = extra.pointer_mut(states).unwrap();
        states["Service done"].as_object_mut().unwrap().remove("End");
        states["Service done"]["Next"] = json!("Note");
        states["Note"] = json!({ "Type": "Pass", "End": true });
        let walk = simulate(&extra, &scenario(300, 300), 1).unwrap().service;
        assert_eq!(walk.counts.transitions, 32);
        assert_eq!(walk.path.last().map(String::as_str), Some("Note"));
        assert_eq!(walk.outcome.as_deref(), Some("deployed"), "a Pass passes its input on");
    }

    #[test]
    fn definitions_it_cannot_walk_are_errors() {
        let processor = "/States/Deploy each service/ItemProcessor/States";
        let walked =
            |definition: &Value, scenario: &Scenario| simulate(definition, scenario, 1).unwrap_err().to_string();
        let edit = |pointer: &str, value: Value, scenario: &Scenario| {
            let mut definition = definition();
            *definition.pointer_mut(pointer).unwrap() = value;
            walked(&definition, scenario)
        };
        let normal = scenario(300, 300);
        let table = [
            (format!("{processor}/Wait for build/Next"), json!("Nowhere"), "no state named \"Nowhere\""),
            (format!("{processor}/Deployed/Type"), json!("Parallel"), "does not know states of type \"Parallel\""),
            (
                format!("{processor}/Look at build/Parameters/FunctionName"),
                json!("${Other}"),
                "no stand-in for the function \"${Other}\"",
            ),
            (
                format!("{processor}/Wait for build/TimeoutSecondsPath"),
                json!("$.nothing"),
                "TimeoutSeconds is not a positive whole number of seconds",
            ),
            (
                format!("{processor}/Wait for build/Parameters/Payload/task_token.$"),
                json!("$$.Execution.Id"),
                "knows $$.Task.Token only",
            ),
            (
                format!("{processor}/Look at build/Parameters/Payload/build_id.$"),
                json!("$$.Task.Token"),
                "outside a .waitForTaskToken task",
            ),
            (format!("{processor}/Deploy/Parameters/Payload"), json!({ "name": 1 }), "cannot read its payload"),
            (
                format!("{processor}/Next environment?/Choices/0/And/0/Variable"),
                json!("$.last.missing"),
                "its Variable $.last.missing does not exist (Step Functions fails the execution: States.Runtime)",
            ),
            (
                format!("{processor}/Record the first environment/Parameters/count.$"),
                json!("States.ArrayLenght($.promotions)"),
                "deltaship knows no States.ArrayLenght",
            ),
            (format!("{processor}/Record environment/Choices"), json!([]), "needs a non-empty Choices list"),
            ("/StartAt".to_owned(), json!(7), "no StartAt"),
        ];
        for (pointer, value, message) in table {
            let error = edit(&pointer, value, &normal);
            assert!(error.contains(message), "{pointer}: {error}");
        }
        // Promote passes on the merged state alone (its OutputPath): a second environment walks it.
        let promoted = Scenario { environments: 2, ..normal };
        let output_path = format!("{processor}/Promote/OutputPath");
        for (value, message) in
            [(json!("$.nothing"), "$.nothing does not exist"), (json!(3), "OutputPath 3 is not a path")]
        {
            let error = edit(&output_path, value, &promoted);
            assert!(error.contains(message), "{output_path}: {error}");
        }
        let mut endless = definition();
        endless
            .pointer_mut(&format!("{processor}/Wait for build"))
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("TimeoutSecondsPath");
        let error = walked(&endless, &lost(normal));
        assert!(error.contains("nothing completes, with no TimeoutSeconds"), "{error}");

        let mut nameless = definition();
        let payload = nameless.pointer_mut(&format!("{processor}/Wait for build/Parameters/Payload")).unwrap();
        payload.as_object_mut().unwrap().remove("name.$");
        let error = walked(&nameless, &normal);
        assert!(error.contains("check-build in wait mode needs name"), "{error}");

        let mut uncaught = definition();
        *uncaught.pointer_mut(&format!("{processor}/Look at rollout/Catch")).unwrap() = json!([]);
        let error = walked(&uncaught, &Scenario { timeout_minutes: 5, ..scenario(300, 600) });
        assert!(error.contains("nothing catches DeadlineExceeded"), "{error}");

        let mut filtered = definition();
        let deployed = filtered.pointer_mut(&format!("{processor}/Deployed")).unwrap();
        deployed["InputPath"] = json!("$.rollout");
        let error = walked(&filtered, &normal);
        assert!(error.contains("does not know InputPath"), "{error}");

        let mut looping = definition();
        *looping.pointer_mut(&format!("{processor}/Deploy/Next")).unwrap() = json!("Start build");
        let error = walked(&looping, &scenario(30, 30));
        assert!(error.contains("does it ever end?"), "{error}");
    }

    /// A service promoted into later environments: the same deploy states again for each, after
    /// its approval when it has a gate (given `approval_seconds` after it is asked for); an
    /// approval that does not come within the environment's timeout ends it `not_promoted`, and
    /// the service with it.
    #[test]
    fn promotions_walk_the_deploy_again_after_their_approval() {
        let promoted = |environments: u32, approvals: bool, approval_seconds: u64| Scenario {
            environments,
            approvals,
            approval_seconds,
            ..Scenario::new(50, 20)
        };
        let reached = |walk: &ServiceWalk| -> Vec<(String, String)> {
            walk.environments.iter().map(|reached| (reached.name.clone(), reached.outcome.clone())).collect()
        };
        let pair = |name: &str, outcome: &str| (name.to_owned(), outcome.to_owned());

        let one = simulate(&definition(), &Scenario::new(50, 20), 1).unwrap().service;
        assert_eq!(reached(&one), [pair("default", "deployed")]);

        // Two environments, the second through a gate approved after 10 minutes: the build, a
        // rollout, the approval, a rollout.
        let gated = simulate(&definition(), &promoted(2, true, 600), 1).unwrap().service;
        assert_eq!(reached(&gated), [pair("env-1", "deployed"), pair("env-2", "deployed")]);
        assert_eq!(gated.outcome.as_deref(), Some("deployed"));
        assert_eq!(figures(&gated), [10 + 10, 4 + 3, 3 + 2, 36 + 25 + 6, 0, 1, 2, 50 + 20 + 600 + 20 + 1]);
        let approval = gated.path.iter().position(|state| state == "Wait for approval").unwrap();
        assert_eq!(gated.path[approval + 1], "Promote");

        // Without a gate: straight on.
        let ungated = simulate(&definition(), &promoted(3, false, 600), 1).unwrap().service;
        assert_eq!(
            reached(&ungated),
            [pair("env-1", "deployed"), pair("env-2", "deployed"), pair("env-3", "deployed")]
        );
        assert_eq!(ungated.counts.history_events, 36 + 2 * 25);
        assert!(!ungated.path.iter().any(|state| state == "Wait for approval"));

        // An approval past the 24-hour timeout: not promoted, and not a fallback.
        let late = simulate(&definition(), &promoted(3, true, 24 * 3600), 1).unwrap();
        assert_eq!(reached(&late.service), [pair("env-1", "deployed"), pair("env-2", "not_promoted")]);
        assert_eq!(late.service.outcome.as_deref(), Some("not_promoted"));
        assert_eq!(late.service.timeouts, 0);
        assert_eq!(late.service.finished_at, 50 + 20 + 24 * 3600);
        assert_eq!(late.end, "Some services failed");
    }
}
