//! The walk of a state machine definition, as Step Functions runs it: which state runs after
//! which (Task, Wait, Choice, Pass, Map, Succeed and Fail; `Catch`), at what time on the
//! simulated clock (Waits, `SecondsPath`, each invocation's duration, a Map's iterations side by
//! side), and what each state counts (transitions, invocations, history events). The data the
//! states read and write follows [`crate::asl`]'s paths; the Lambdas' answers are
//! [`super::stand_ins`]'.

use deltaship_core::WaitPolicy;
use serde::Serialize;
use serde_json::{Value, json};

use super::stand_ins::{self, World};
use crate::asl::{self, PathError};

/// The most transitions one Map iteration may take before the walk gives up (a loop that never
/// ends in the model would never end in AWS either).
const MAX_TRANSITIONS: u64 = 100_000;

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
    pub(super) fn plus(self, other: Self) -> Self {
        Self {
            transitions: self.transitions + other.transitions,
            lambda_invocations: self.lambda_invocations + other.lambda_invocations,
            history_events: self.history_events + other.history_events,
        }
    }

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
                    match stand_ins::answer(&name, state, self.scenario, clock, &mut world)? {
                        Ok(payload) => {
                            asl::apply_result(state, &mut data, json!({ "Payload": payload })).map_err(at(&name))?;
                            next_of(state, &name)?
                        }
                        Err((error, cause)) => {
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
                    let seconds = match (state.get("Seconds"), state.get("SecondsPath")) {
                        (Some(seconds), _) => seconds.as_u64(),
                        (None, Some(Value::String(path))) => {
                            asl::read(&data, path).map_err(at(&name))?.as_ref().and_then(Value::as_u64)
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
                        let result = asl::evaluate(parameters, &data).map_err(at(&name))?;
                        asl::set_result(&mut data, state.get("ResultPath"), result).map_err(at(&name))?;
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
                    let items = match asl::read(&data, items_path).map_err(at(&name))? {
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
                    asl::set_result(&mut data, state.get("ResultPath"), Value::Array(outputs)).map_err(at(&name))?;
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
        let value = asl::read(data, variable).map_err(at(name))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::definition;

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
}
