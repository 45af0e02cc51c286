//! `deltaship cost`: what one push costs to orchestrate, from the state machine itself.
//!
//! The model walks `state-machine/pipeline.asl.json` the way Step Functions runs it: a Map over
//! the services, in each iteration Task states (Lambda invocations, and callback tasks that wait
//! for a task token: `lambda:invoke.waitForTaskToken` with `TimeoutSecondsPath`), Choice (And,
//! IsPresent, IsNull, ...), Pass and Wait states, `ResultSelector`, `ResultPath`, `OutputPath`,
//! `Catch` (`States.Timeout` included), and the intrinsic functions the iteration keeps its
//! environments' outcomes with ([`crate::asl`]). Each service deploys to its environments in
//! order (`--environments`), the same image promoted into each after the first, through a gate
//! where `--approvals` says so: an approval is given `--approval` after it is asked for. The
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
//! A test here pins the core's history budget ([`deltaship_core::budget`]) to the walk: the
//! normal deploy, each fallback, the rollback, each promotion into a later environment and its
//! approval.
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
pub use walk::{AslError, Counts, EnvironmentReached, Events, Scenario, ServiceWalk, Simulation, simulate};

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
        environments: args.environments,
        approvals: args.approvals,
        approval_seconds: args.approval,
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

/// The core's history budget ([`deltaship_core::budget`]), pinned to the walk of the state
/// machine: the constants detect-changes splits plans with are what the ASL makes.
#[cfg(test)]
mod budget {
    use deltaship_core::budget::{
        APPROVAL_EVENTS, EXECUTION_EVENTS, FALLBACK_EVENTS, NORMAL_SERVICE_EVENTS, PROMOTION_EVENTS, ROLLBACK_EVENTS,
        Waits, fallbacks, worst_case_service,
    };

    use super::*;

    fn walk(scenario: &Scenario) -> Simulation {
        simulate(&definition(), scenario, 1).unwrap()
    }

    const SLOW: WaitPolicy = WaitPolicy { min_seconds: 10, max_seconds: 60 };

    /// With events flowing, a deploy whose waits end with their events is
    /// [`NORMAL_SERVICE_EVENTS`]; each wait that times out first adds [`FALLBACK_EVENTS`]; the
    /// execution around the iterations is [`EXECUTION_EVENTS`].
    #[test]
    fn a_deploy_is_the_normal_events_and_a_fallback_each() {
        let quick = walk(&Scenario::new(50, 20));
        assert_eq!((quick.service.timeouts, quick.service.counts.history_events), (0, NORMAL_SERVICE_EVENTS));
        assert_eq!(quick.overhead.history_events, EXECUTION_EVENTS);
        for scenario in [Scenario::backing_off(300, 300), Scenario::new(1300, 700), Scenario::new(3000, 1500)] {
            let walk = walk(&scenario).service;
            assert!(walk.timeouts > 0, "{scenario:?}");
            assert_eq!(walk.outcome.as_deref(), Some("deployed"));
            assert_eq!(
                walk.counts.history_events,
                NORMAL_SERVICE_EVENTS + FALLBACK_EVENTS * walk.timeouts,
                "{scenario:?}"
            );
        }
    }

    /// Each later environment is [`PROMOTION_EVENTS`], and its gate's approval
    /// [`APPROVAL_EVENTS`], on top of [`NORMAL_SERVICE_EVENTS`]: a job with one promotion through
    /// a gate, events flowing, approved in time, deploys to both environments in order.
    #[test]
    fn a_promotion_is_the_promotion_events_and_its_approval() {
        let scenario = Scenario { environments: 2, approvals: true, ..Scenario::new(50, 20) };
        let job = stand_ins::job(&scenario, 0);
        assert_eq!(job.promotions.len(), 1);
        assert!(job.promotions[0].approval);
        let walk = walk(&scenario).service;
        let environments: Vec<(&str, &str)> =
            walk.environments.iter().map(|reached| (reached.name.as_str(), reached.outcome.as_str())).collect();
        assert_eq!(environments, [("env-1", "deployed"), ("env-2", "deployed")]);
        assert_eq!((walk.outcome.as_deref(), walk.timeouts), (Some("deployed"), 0));
        assert_eq!(walk.counts.history_events, NORMAL_SERVICE_EVENTS + PROMOTION_EVENTS + APPROVAL_EVENTS);
        let ungated = self::walk(&Scenario { approvals: false, ..scenario }).service;
        assert_eq!(ungated.counts.history_events, NORMAL_SERVICE_EVENTS + PROMOTION_EVENTS);
    }

    /// deltaship's rollback is [`ROLLBACK_EVENTS`] (Roll back, the choice, the wait for the
    /// rollback) and its fallbacks, in place of the rollout's last wait and the choice after its
    /// last look (6 + 2), which do not happen: the rollout's last look fails.
    #[test]
    fn a_rollback_is_the_rollback_events() {
        let late = Scenario { timeout_minutes: 5, rollback_seconds: 60, ..Scenario::new(300, 600) };
        let walk = walk(&late).service;
        assert_eq!(walk.outcome.as_deref(), Some("rolled_back"));
        let skipped = 6 + 2;
        assert_eq!(
            walk.counts.history_events,
            NORMAL_SERVICE_EVENTS + FALLBACK_EVENTS * walk.timeouts + ROLLBACK_EVENTS - skipped,
            "{:?}",
            walk.path
        );
        let failed = simulate(&definition(), &late, 1).unwrap();
        assert_eq!(failed.end, "Some services failed");
        assert_eq!(failed.overhead.history_events, EXECUTION_EVENTS - 1, "a Fail state writes one event, not two");
    }

    /// With every event lost, the longest walk for given deadlines (a build that ends just
    /// before its deadline, a rollout and a rollback that never end) makes every fallback the core
    /// counts, and stays within [`worst_case_service`], 22 events short: the bound counts, for
    /// each of the three waits, a last wait ended by its event (6), and a choice after the
    /// rollout's and the rollback's last looks (2 each), which fail instead.
    #[test]
    fn the_worst_case_walk_is_within_the_cores_bound() {
        let table = [
            (60, 30, WaitPolicy::BUILD, WaitPolicy::ROLLOUT),
            (5, 5, WaitPolicy::BUILD, WaitPolicy::ROLLOUT),
            (120, 60, WaitPolicy::BUILD, WaitPolicy::ROLLOUT),
            (60, 30, SLOW, SLOW),
        ];
        for (build_minutes, rollout_minutes, build_wait, rollout_wait) in table {
            let scenario = Scenario {
                events: Events::Lost,
                build_timeout_minutes: build_minutes,
                timeout_minutes: rollout_minutes,
                build_wait,
                rollout_wait,
                rollback_seconds: 24 * 3600,
                ..Scenario::new(u64::from(build_minutes) * 60 - 1, 24 * 3600)
            };
            let walk = walk(&scenario).service;
            let label = format!("{build_minutes} + {rollout_minutes} min, {build_wait:?}, {rollout_wait:?}");
            assert_eq!(walk.outcome.as_deref(), Some("rollback_failed"), "{label}");
            let build = fallbacks(u64::from(build_minutes) * 60, build_wait);
            let rollout = fallbacks(u64::from(rollout_minutes) * 60, rollout_wait);
            assert_eq!(walk.timeouts, build + 2 * rollout, "{label}");
            let bound =
                worst_case_service(&stand_ins::job(&scenario, 0), Waits { build: build_wait, rollout: rollout_wait });
            assert_eq!(walk.counts.history_events, bound - (3 * 6 + 2 * 2), "{label}");
        }
    }

    /// Whatever happens, a service's walk stays within the normal events, a fallback for each
    /// timeout, and the rollback if there was one: less when a wait ends by a look rather than by
    /// its event (every event lost, or a timeout that comes the moment the event does).
    #[test]
    fn every_walk_is_within_the_normal_events_and_its_fallbacks() {
        let lost = |scenario: Scenario| Scenario { events: Events::Lost, ..scenario };
        let table = [
            Scenario { build_wait: SLOW, rollout_wait: SLOW, ..Scenario::new(50, 20) },
            lost(Scenario::new(50, 20)),
            lost(Scenario::new(300, 300)),
            lost(Scenario { build_timeout_minutes: 5, ..Scenario::new(600, 60) }),
            lost(Scenario { timeout_minutes: 5, ..Scenario::new(60, 600) }),
            Scenario { timeout_minutes: 5, rollback_seconds: 900, ..Scenario::new(60, 600) },
            Scenario { environments: 3, approvals: true, ..lost(Scenario::new(300, 300)) },
            Scenario { environments: 2, approvals: true, approval_seconds: 24 * 3600, ..Scenario::new(50, 20) },
            Scenario { environments: 2, ..lost(Scenario { timeout_minutes: 5, ..Scenario::new(60, 600) }) },
        ];
        for scenario in table {
            let walk = walk(&scenario).service;
            let rolled_back = walk.path.iter().any(|state| state == "Roll back");
            let promoted = walk.path.iter().filter(|state| *state == "Next environment").count() as u64;
            let approvals = walk.path.iter().filter(|state| *state == "Wait for approval").count() as u64;
            let bound = NORMAL_SERVICE_EVENTS
                + FALLBACK_EVENTS * walk.timeouts
                + ROLLBACK_EVENTS * u64::from(rolled_back)
                + PROMOTION_EVENTS * promoted
                + APPROVAL_EVENTS * approvals;
            assert!(
                walk.counts.history_events <= bound,
                "{scenario:?}: {} > {bound}: {:?}",
                walk.counts.history_events,
                walk.path
            );
            let worst = worst_case_service(
                &stand_ins::job(&scenario, 0),
                Waits { build: scenario.build_wait, rollout: scenario.rollout_wait },
            );
            assert!(walk.counts.history_events <= worst, "{scenario:?}: {} > {worst}", walk.counts.history_events);
        }
    }
}
