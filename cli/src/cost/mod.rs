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
//!
//! The parts, one decision each:
//! - `args`: the command's arguments ([`CostArgs`]), durations and wait bounds
//!   ([`parse_duration`], [`parse_wait`]);
//! - `walk`: the walk of the definition ([`simulate`]): which states run, in what order, at what
//!   time, and what they count ([`Scenario`], [`Counts`], [`Simulation`]); its paths are
//!   [`crate::asl`]'s;
//! - `stand_ins`: what each Lambda answers on the simulated clock, as the handlers' own output
//!   types (`deltaship_core::payloads`);
//! - `prices`: what the counts cost, and CodePipeline V2 doing the same work ([`Prices`],
//!   [`Dollars`], [`CodePipeline`]);
//! - `report`: the estimate, its budgets, and the text and JSON `deltaship cost` prints
//!   ([`Estimate`]).
//!
//! [`judge_build`]: deltaship_core::build::judge_build
//! [`judge_rollout`]: deltaship_core::rollout::judge_rollout

use std::process::ExitCode;

use deltaship_core::WaitPolicy;
use serde_json::Value;

use crate::EXIT_OK;
use crate::output::{CliError, write_report};

mod args;
mod prices;
mod report;
mod stand_ins;
mod walk;

pub use args::{CostArgs, parse_duration, parse_wait};
pub use prices::{CodePipeline, Dollars, Prices};
pub use report::{BUDGET_DOLLARS_PER_SERVICE, BUDGET_EVENTS_PER_SERVICE, Estimate, HISTORY_EVENT_LIMIT};
pub use walk::{AslError, Counts, Scenario, ServiceWalk, Simulation, simulate};

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
