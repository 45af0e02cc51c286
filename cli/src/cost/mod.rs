//! `deltaship cost`: what one push costs to orchestrate, from the state machine itself.
//!
//! The model walks `state-machine/pipeline.asl.json` the way Step Functions runs it: a Map over
//! the services, in each iteration Task states (Lambda invocations, and callback tasks that wait
//! for a task token: `lambda:invoke.waitForTaskToken` with `TimeoutSecondsPath`), Choice, Pass
//! and Wait states, `ResultSelector`, `ResultPath` and `Catch` (`States.Timeout` included). The
//! Lambdas are stood in for by the same core functions the real ones call ([`judge_build`],
//! [`judge_rollout`], [`decide_rollback`]) with the real [`WaitPolicy`], on a clock that a build,
//! a rollout and a rollback of the given durations run against; the waits table and the
//! EventBridge events are modelled too, and whether the events flow or are lost is the scenario's
//! choice ([`Events`]). So a change to the state machine, to the payloads or to the wait policy
//! changes the figures.
//!
//! What it counts, for one service and for the whole push:
//! - state transitions: every state entered, as Step Functions Standard bills them;
//! - Lambda invocations: every Lambda Task (look or wait), and wake-waits once per EventBridge
//!   event delivered to it: with events flowing, a build's terminal `CodeBuild Build State
//!   Change`, and a service deployment's `SERVICE_DEPLOYMENT_IN_PROGRESS` and
//!   `SERVICE_DEPLOYMENT_COMPLETED`, the rollback's too;
//! - execution history events (Step Functions' hard limit is 25,000 per execution):
//!   - a Lambda Task: 5 (TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded or
//!     TaskFailed, TaskStateExited);
//!   - a callback task: 6 (TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted, then
//!     TaskSucceeded, TaskFailed or TaskTimedOut, TaskStateExited), however it ends;
//!   - any other state: 2 (entered, exited; a Fail state's second is the execution's own
//!     failure); a Map state 4, and 2 per iteration; the execution 2 (started, and succeeded or
//!     failed);
//! - DynamoDB request units of the waits table: a wait registering (`PutItem`) and completed
//!   (`DeleteItem`), wake-waits' `Query` (see `waits` for the units);
//! - EventBridge events delivered (the same as wake-waits' invocations).
//!
//! Prices (us-east-1, without free tiers): [`Prices::US_EAST_1`]. CodePipeline V2 for the same
//! work: one pipeline per service (source, build, deploy), action time rounded up to whole
//! minutes, and with a CodeCommit monorepo every service's pipeline runs on every push.
//!
//! The parts, one decision each:
//! - `args`: the command's arguments ([`CostArgs`]), durations and wait bounds
//!   ([`parse_duration`], [`parse_wait`]);
//! - `walk`: the walk of the definition ([`simulate`]): which states run, in what order, at what
//!   time, and what they count ([`Scenario`], [`Counts`], [`Simulation`]); its paths are
//!   [`crate::asl`]'s;
//! - `stand_ins`: what each Lambda (wake-waits included) answers on the simulated clock, from and
//!   as the handlers' own types (`deltaship_core::payloads`);
//! - `waits`: the waits table (what each request is billed) and the events on their way;
//! - `prices`: what the counts cost, and CodePipeline V2 doing the same work ([`Prices`],
//!   [`Dollars`], [`CodePipeline`]);
//! - `report`: the estimate, its budgets, the core's worst case, and the text and JSON
//!   `deltaship cost` prints ([`Estimate`]).
//!
//! A test here pins the core's history budget ([`deltaship_core::budget`]) to the walk.
//!
//! [`judge_build`]: deltaship_core::build::judge_build
//! [`judge_rollout`]: deltaship_core::rollout::judge_rollout
//! [`decide_rollback`]: deltaship_core::rollout::decide_rollback

use std::process::ExitCode;

use deltaship_core::WaitPolicy;
use serde_json::Value;

use crate::EXIT_OK;
use crate::output::{CliError, write_report};

mod args;
mod prices;
mod report;
mod stand_ins;
mod waits;
mod walk;

pub use args::{CostArgs, parse_duration, parse_wait};
pub use prices::{CodePipeline, Dollars, Prices};
pub use report::{
    BUDGET_DOLLARS_PER_SERVICE, BUDGET_EVENTS_ONE_SERVICE_PUSH, BUDGET_EVENTS_PER_SERVICE, Estimate,
    HISTORY_EVENT_LIMIT, WorstCase,
};
pub use walk::{AslError, Counts, Events, Scenario, ServiceWalk, Simulation, simulate};

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
        rollback_seconds: args.rollback,
        build_wait: args.build_wait.unwrap_or(WaitPolicy::BUILD),
        rollout_wait: args.rollout_wait.unwrap_or(WaitPolicy::ROLLOUT),
        timeout_minutes: args.timeout_minutes,
        build_timeout_minutes: args.build_timeout_minutes,
        events: args.events,
        lambda_ms: args.lambda_ms,
        lambda_memory_mb: args.lambda_memory_mb,
    };
    let repository = args.repository_services.unwrap_or(args.services);
    let estimate = match Estimate::new(&definition, &scenario, args.services, repository, &Prices::US_EAST_1) {
        Ok(estimate) => estimate,
        Err(error) => return bad(format!("{shown}: {error}")),
    };
    write_report(args.format, "the estimate", &estimate, |out| {
        std::io::Write::write_all(out, estimate.to_text(&shown).as_bytes())
    })?;
    Ok(ExitCode::from(EXIT_OK))
}

/// The repository's state machine, for the parts' tests.
#[cfg(test)]
fn definition() -> Value {
    serde_json::from_str(include_str!("../../../state-machine/pipeline.asl.json")).unwrap()
}
