//! An execution's history, read as ops read it in the console: which state each service's
//! iteration entered and left, when, and the outcome each iteration ended with.
//!
//! Events of concurrent Map iterations interleave in the history; each event names the one
//! before it in its own thread (`previousEventId`), so following those links back to a
//! `MapIterationStarted` tells which iteration, and so which service, an event belongs to.

use std::collections::BTreeMap;

use deltaship_core::payloads::ServiceOutcome;
use serde::Serialize;
use serde_json::Value;

/// The state whose output lists every service's outcome (see `pipeline.asl.json`).
pub const TALLY_STATE: &str = "Tally";

/// One history event, reduced to what the report needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its id.
    pub id: i64,
    /// The event before it in its thread (0 for none).
    pub previous: i64,
    /// Its type, e.g. `TaskStateEntered`.
    pub kind: String,
    /// Seconds since the epoch.
    pub at: f64,
    /// The state entered or left, for state events.
    pub state: Option<String>,
    /// The state's output, for `*StateExited` events.
    pub output: Option<String>,
    /// The iteration's index, for `MapIterationStarted`.
    pub iteration: Option<usize>,
}

/// A state one service's iteration went through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The service.
    pub service: String,
    /// The state's name.
    pub state: String,
    /// Seconds from the execution's start to entering it.
    pub entered: f64,
    /// Seconds from the execution's start to leaving it, if it did.
    pub exited: Option<f64>,
}

/// The steps of every service, in the order they were entered. `services[i]` is the service of
/// iteration `i`.
pub fn steps(events: &[Event], services: &[String]) -> Vec<Step> {
    let start = events.first().map_or(0.0, |event| event.at);
    let by_id: BTreeMap<i64, &Event> = events.iter().map(|event| (event.id, event)).collect();
    let mut iteration_of: BTreeMap<i64, Option<usize>> = BTreeMap::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut open: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for event in events {
        let iteration = iteration_for(event, &by_id, &mut iteration_of);
        let (Some(iteration), Some(state)) = (iteration, &event.state) else { continue };
        let Some(service) = services.get(iteration) else { continue };
        if event.kind.ends_with("StateEntered") {
            open.insert((iteration, state.clone()), steps.len());
            steps.push(Step {
                service: service.clone(),
                state: state.clone(),
                entered: event.at - start,
                exited: None,
            });
        } else if event.kind.ends_with("StateExited")
            && let Some(step) = open.remove(&(iteration, state.clone())).and_then(|index| steps.get_mut(index))
        {
            step.exited = Some(event.at - start);
        }
    }
    steps
}

/// The iteration an event belongs to: its own index for `MapIterationStarted`, else its
/// predecessor's (memoised; the links always point to earlier events).
fn iteration_for(
    event: &Event,
    by_id: &BTreeMap<i64, &Event>,
    memo: &mut BTreeMap<i64, Option<usize>>,
) -> Option<usize> {
    let mut chain = Vec::new();
    let mut current = Some(event);
    let found = loop {
        let Some(at) = current else { break None };
        if let Some(known) = memo.get(&at.id) {
            break *known;
        }
        if at.kind == "MapIterationStarted" {
            break at.iteration;
        }
        if at.kind.starts_with("Map") && at.kind != "MapIterationStarted" && at.kind.contains("State") {
            // The Map state's own events belong to no iteration.
            break None;
        }
        chain.push(at.id);
        current = (at.previous < at.id).then(|| by_id.get(&at.previous).copied()).flatten();
    };
    for id in chain {
        memo.insert(id, found);
    }
    memo.insert(event.id, found);
    found
}

/// Every service's outcome, from the output of the [`TALLY_STATE`] (there whether the execution
/// succeeded or failed). `None` if the execution never got there.
pub fn outcomes(events: &[Event]) -> Option<Vec<ServiceOutcome>> {
    let output = events
        .iter()
        .rev()
        .find(|event| event.kind.ends_with("StateExited") && event.state.as_deref() == Some(TALLY_STATE))?
        .output
        .as_deref()?;
    let tally: Value = serde_json::from_str(output).ok()?;
    serde_json::from_value(tally.get("services")?.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, previous: i64, kind: &str, at: f64, state: Option<&str>) -> Event {
        Event { id, previous, kind: kind.into(), at, state: state.map(Into::into), output: None, iteration: None }
    }

    fn iteration(id: i64, previous: i64, index: usize) -> Event {
        Event { iteration: Some(index), ..event(id, previous, "MapIterationStarted", 1.0, None) }
    }

    /// Two iterations interleaved, as moto and AWS write them.
    fn history() -> Vec<Event> {
        vec![
            event(1, 0, "ExecutionStarted", 100.0, None),
            event(2, 0, "MapStateEntered", 100.0, Some("Deploy each service")),
            event(3, 2, "MapStateStarted", 100.0, None),
            iteration(4, 3, 0),
            event(5, 4, "TaskStateEntered", 101.0, Some("Start build")),
            iteration(6, 3, 1),
            event(7, 6, "TaskStateEntered", 101.5, Some("Start build")),
            event(8, 7, "TaskStateExited", 102.0, Some("Start build")),
            event(9, 5, "TaskStateExited", 103.0, Some("Start build")),
            event(10, 9, "WaitStateEntered", 103.0, Some("Wait for build")),
            event(11, 8, "PassStateEntered", 104.0, Some("Build failed")),
            event(12, 11, "PassStateExited", 104.0, Some("Build failed")),
            event(13, 12, "MapIterationSucceeded", 104.0, None),
        ]
    }

    #[test]
    fn each_state_is_put_on_its_iterations_service() {
        let services = vec!["user-service".to_owned(), "product-service".to_owned()];
        let steps = steps(&history(), &services);
        let seen: Vec<(&str, &str, Option<f64>)> =
            steps.iter().map(|step| (step.service.as_str(), step.state.as_str(), step.exited)).collect();
        assert_eq!(
            seen,
            vec![
                ("user-service", "Start build", Some(3.0)),
                ("product-service", "Start build", Some(2.0)),
                ("user-service", "Wait for build", None),
                ("product-service", "Build failed", Some(4.0)),
            ]
        );
        assert!((steps[1].entered - 1.5).abs() < f64::EPSILON);
    }

    #[test]
    fn outcomes_come_from_the_tally() {
        let mut events = history();
        assert_eq!(outcomes(&events), None);
        events.push(Event {
            output: Some(
                r#"{"services":[{"name":"a","ok":true,"outcome":"deployed","task_definition":"td:2","image":"i"}],"any_failed":false}"#
                    .into(),
            ),
            ..event(20, 19, "PassStateExited", 110.0, Some(TALLY_STATE))
        });
        let found = outcomes(&events).unwrap_or_default();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].outcome, deltaship_core::Outcome::Deployed);
        assert_eq!(found[0].details.task_definition.as_deref(), Some("td:2"));
        assert_eq!(found[0].details.error, None);
    }
}
