//! What `deltaship cost` reports: the [`Estimate`] (the walk, priced, beside CodePipeline V2, and
//! the core's worst case for the same deadlines), the budgets it is held to (issue 15's targets
//! for a service deploy with events flowing: orchestration dollars and history events per
//! service and per one-service push; the execution's event limit), and the report for people
//! ([`Estimate::to_text`]); the JSON is the [`Estimate`] serialized.

use deltaship_core::budget::{self, EXECUTION_EVENTS, HISTORY_BUDGET, Waits};
use serde::Serialize;
use serde_json::Value;

use super::prices::{CodePipeline, Dollars, Prices};
use super::stand_ins;
use super::walk::{AslError, Counts, Events, Scenario, Simulation, simulate};

/// The budget for orchestrating a one-service push (Step Functions, Lambda, DynamoDB,
/// EventBridge), in dollars.
pub const BUDGET_DOLLARS_PER_SERVICE: f64 = 0.0004;
/// The budget of execution history events of one service's iteration.
pub const BUDGET_EVENTS_PER_SERVICE: u64 = 30;
/// The budget of execution history events of a one-service push (the iteration and the
/// execution around it).
pub const BUDGET_EVENTS_ONE_SERVICE_PUSH: u64 = 40;
/// Step Functions' limit of history events in one execution.
pub const HISTORY_EVENT_LIMIT: u64 = budget::HISTORY_LIMIT;

/// The core's worst case ([`deltaship_core::budget`]) for the scenario's deadlines and wait
/// policies: what detect-changes plans executions with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorstCase {
    /// One service: every event lost, the build's and the rollout's deadlines waited out, then
    /// the rollback's.
    pub per_service: u64,
    /// The push: its services and the execution around them.
    pub push: u64,
    /// The most such services one execution holds within [`HISTORY_BUDGET`].
    pub services_per_execution: u64,
}

/// Everything `deltaship cost` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Durations, deadlines, policies, events, Lambda size.
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
    /// The core's worst case.
    pub worst_case: WorstCase,
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
        let codepipeline = CodePipeline::of(scenario, services, repository_services, prices);
        let waits = Waits { build: scenario.build_wait, rollout: scenario.rollout_wait };
        let per_service = budget::worst_case_service(&stand_ins::job(scenario, 0), waits);
        let worst_case = WorstCase {
            per_service,
            push: EXECUTION_EVENTS + per_service * services,
            services_per_execution: HISTORY_BUDGET.saturating_sub(EXECUTION_EVENTS) / per_service.max(1),
        };
        Ok(Self {
            scenario: *scenario,
            services,
            repository_services: codepipeline.pipelines,
            detect_invocations: 1,
            per_service: Dollars::of(simulation.service.counts, scenario, prices),
            one_service_push: Dollars::of(
                simulation.service.counts.plus(simulation.overhead).plus(detect),
                scenario,
                prices,
            ),
            push: Dollars::of(simulation.total.plus(detect), scenario, prices),
            worst_case,
            codepipeline,
            simulation,
            prices: *prices,
        })
    }

    /// Whether every budget holds.
    pub fn within_budgets(&self) -> bool {
        self.budgets().iter().all(|(_, _, ok)| *ok)
    }

    /// Each budget: what it says, the figure, whether it holds.
    pub fn budgets(&self) -> Vec<(String, String, bool)> {
        let events = self.simulation.service.counts.history_events;
        let one_service = events + self.simulation.overhead.history_events;
        let total_events = self.simulation.total.history_events;
        vec![
            (
                format!("orchestration of a one-service push <= ${BUDGET_DOLLARS_PER_SERVICE:.4}"),
                format!("${:.6}", self.one_service_push.total),
                self.one_service_push.total <= BUDGET_DOLLARS_PER_SERVICE,
            ),
            (
                format!("history events per service <= {BUDGET_EVENTS_PER_SERVICE}"),
                events.to_string(),
                events <= BUDGET_EVENTS_PER_SERVICE,
            ),
            (
                format!("history events of a one-service push <= {BUDGET_EVENTS_ONE_SERVICE_PUSH}"),
                one_service.to_string(),
                one_service <= BUDGET_EVENTS_ONE_SERVICE_PUSH,
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
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        line(format!(
            "deltaship cost: build {}, rollout {}, events {}, {} service{} deployed, {} in the repository",
            clock(s.build_seconds),
            clock(s.rollout_seconds),
            match s.events {
                Events::Flowing => "flowing",
                Events::Lost => "lost",
            },
            self.services,
            plural(self.services),
            self.repository_services
        ));
        line(format!("  state machine  {asl} (walked, ended in {:?})", self.simulation.end));
        line(format!(
            "  deadlines      build {} min, rollout {} min; a rollback deltaship asks for runs {}",
            s.build_timeout_minutes,
            s.timeout_minutes,
            clock(s.rollback_seconds)
        ));
        line(format!(
            "  wait policy    fallback timeouts: build {}..{} s, rollout {}..{} s",
            s.build_wait.min_seconds, s.build_wait.max_seconds, s.rollout_wait.min_seconds, s.rollout_wait.max_seconds,
        ));
        if s.environments > 1 {
            line(format!(
                "  environments   {} in order, the same image promoted into each after the first{}",
                s.environments,
                if s.approvals {
                    format!(" once approved ({} after it is asked for)", clock(s.approval_seconds))
                } else {
                    ", without approvals".to_owned()
                }
            ));
        }
        let reached = if walk.environments.len() > 1 {
            let each: Vec<String> = walk
                .environments
                .iter()
                .map(|environment| format!("{} {}", environment.name, environment.outcome))
                .collect();
            format!(" ({})", each.join(", "))
        } else {
            String::new()
        };
        line(format!(
            "  one service    {} fallback timeout{}; {} check-build and {} check-rollout invocations, {} wake-up{}; \
             build done at {}, seen at {}; outcome {}{reached} at {}",
            walk.timeouts,
            plural(walk.timeouts),
            walk.build_checks,
            walk.rollout_checks,
            walk.counts.wake_invocations,
            plural(walk.counts.wake_invocations),
            clock(s.build_seconds),
            walk.build_seen_at.map_or_else(|| "never".to_owned(), clock),
            walk.outcome.as_deref().unwrap_or("none"),
            clock(walk.finished_at),
        ));
        let worst = &self.worst_case;
        line(format!(
            "  worst case     {} history events a service (every event lost, both deadlines waited out, then the \
             rollback's; deltaship_core::budget): {} services an execution at most",
            worst.per_service, worst.services_per_execution
        ));
        line(String::new());
        let push = format!("push ({} service{})", self.services, plural(self.services));
        let row = |label: &str, service: String, execution: String, push: String| {
            format!("  {label:<34}{service:>14}{execution:>16}{push:>20}")
        };
        line(row("", "per service".into(), "per execution".into(), push));
        let (c, o, t) = (&walk.counts, &self.simulation.overhead, &self.simulation.total);
        let count = |label: &str, pick: fn(&Counts) -> u64| {
            row(label, pick(c).to_string(), pick(o).to_string(), pick(t).to_string())
        };
        line(count("state transitions", |c| c.transitions));
        line(row(
            "Lambda invocations (tasks)",
            c.lambda_invocations.to_string(),
            format!("{} + 1 detect", o.lambda_invocations),
            (t.lambda_invocations + self.detect_invocations).to_string(),
        ));
        line(count("wake-waits invocations (events)", |c| c.wake_invocations));
        line(count("history events", |c| c.history_events));
        line(count("DynamoDB write request units", |c| c.dynamodb_write_units));
        line(row(
            "DynamoDB read request units",
            c.dynamodb_read_units.to_string(),
            o.dynamodb_read_units.to_string(),
            t.dynamodb_read_units.to_string(),
        ));
        let overhead = self.one_service_push.minus(self.per_service);
        let money = |label: String, pick: fn(&Dollars) -> f64| {
            let dollars = |d: &Dollars| format!("${:.6}", pick(d));
            row(&label, dollars(&self.per_service), dollars(&overhead), dollars(&self.push))
        };
        line(money("Step Functions (Standard)".into(), |d| d.step_functions));
        line(money(format!("Lambda ({} ms, {} MB, arm64)", s.lambda_ms, s.lambda_memory_mb), |d| d.lambda));
        line(money("DynamoDB (on-demand)".into(), |d| d.dynamodb));
        line(money("EventBridge (AWS service events)".into(), |d| d.eventbridge));
        line(money("orchestration".into(), |d| d.total));
        line(String::new());
        let cp = &self.codepipeline;
        let deploys = if s.environments > 1 {
            format!("a deploy in each of {} environments; approvals' waits not counted", s.environments)
        } else {
            "deploy".to_owned()
        };
        line(format!(
            "  CodePipeline V2, same work: {} action-minutes a pipeline (source 1, build, {deploys}) = ${:.6};",
            cp.action_minutes, cp.per_pipeline
        ));
        line(format!(
            "    the push runs {} pipeline{} (every service's, on every push to a CodeCommit monorepo): ${:.6}, {:.0}x deltaship",
            cp.pipelines,
            plural(cp.pipelines),
            cp.per_push,
            cp.per_push / self.push.total.max(f64::MIN_POSITIVE)
        ));
        line(String::new());
        line("budgets (issue 15: a service deploy, 5-minute build and rollout, events flowing)".to_owned());
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

#[cfg(test)]
mod tests {
    use deltaship_core::WaitPolicy;

    use super::*;
    use crate::cost::definition;

    fn estimate(scenario: &Scenario, services: u64) -> Estimate {
        Estimate::new(&definition(), scenario, services, services, &Prices::US_EAST_1).unwrap()
    }

    /// The budgets are held against the walk's figures. Issue 19's bookkeeping of environments
    /// (5 states more on a normal deploy: Built already?, Record environment, Record the first
    /// environment, Next environment?, Service done) puts even a one-environment deploy whose
    /// waits end with their events over issue 15's per-service and one-service-push history
    /// budgets: 36 history events a service (30), 50 a push (40); its cost, $0.000387, is within
    /// $0.0004. A walk whose fallbacks fire is further over.
    #[test]
    fn budgets_follow_the_walk() {
        let quick = estimate(&Scenario::new(50, 20), 1);
        assert_eq!(quick.simulation.service.timeouts, 0);
        // 10 transitions and the execution's five; four Lambda tasks, detect-changes and three
        // wake-ups of 200 ms at 128 MB; two waits registered and deleted (three units each), three
        // queries of half a unit.
        let counts = &quick.simulation.service.counts;
        assert_eq!((counts.dynamodb_write_units, counts.dynamodb_read_units), (12, 1.5));
        let lambda = 8.0 * (0.2e-6 + 0.125 * 0.2 * 0.000_013_333_4);
        let expected = 15.0 * 0.000_025 + lambda + 12.0 * 0.625e-6 + 1.5 * 0.125e-6;
        assert!((quick.one_service_push.total - expected).abs() < 1e-12, "{}", quick.one_service_push.total);
        let judged: Vec<(String, bool)> = quick.budgets().into_iter().map(|(_, figure, ok)| (figure, ok)).collect();
        let over = |figure: &str, ok: bool| (figure.to_owned(), ok);
        assert_eq!(judged, [over("$0.000387", true), over("36", false), over("50", false), over("50", true)]);
        assert!(!quick.within_budgets());

        let lost = estimate(&Scenario { events: Events::Lost, ..Scenario::new(50, 20) }, 1);
        assert_eq!(lost.simulation.service.timeouts, 2);
        assert!(!lost.within_budgets());
        let text = lost.to_text("asl");
        assert!(text.contains("events lost") && text.contains("OVER BUDGET"), "{text}");
        // A push of 100 services stays under the execution's event limit.
        assert!(estimate(&Scenario::new(50, 20), 100).budgets()[3].2);
    }

    /// With later environments the report says how many, and each one's outcome.
    #[test]
    fn the_report_names_the_environments() {
        let scenario = Scenario { environments: 2, approvals: true, ..Scenario::new(300, 300) };
        let text = estimate(&scenario, 1).to_text("asl");
        assert!(text.contains("environments   2 in order, the same image promoted into each after the first once approved (10m00s after it is asked for)"), "{text}");
        assert!(text.contains("outcome deployed (env-1 deployed, env-2 deployed) at 25m01s"), "{text}");
        assert!(text.contains("16 action-minutes a pipeline (source 1, build, a deploy in each of 2 environments; approvals' waits not counted)"), "{text}");
        let one = estimate(&Scenario::new(300, 300), 1).to_text("asl");
        assert!(!one.contains("environments ") && one.contains("outcome deployed at 10m00s"), "{one}");
    }

    #[test]
    fn the_worst_case_is_the_cores() {
        let scenario =
            Scenario { build_wait: WaitPolicy { min_seconds: 300, max_seconds: 300 }, ..Scenario::new(300, 300) };
        let worst = estimate(&scenario, 3).worst_case;
        // Build fallbacks every 5 minutes: 12 over the build's hour; rollout fallbacks every 10
        // minutes (the default): 3 over the rollout's half hour, and as many for the rollback.
        let fallbacks = 12 + 2 * 3;
        assert_eq!(
            worst.per_service,
            budget::NORMAL_SERVICE_EVENTS + budget::FALLBACK_EVENTS * fallbacks + budget::ROLLBACK_EVENTS
        );
        assert_eq!(worst.push, EXECUTION_EVENTS + 3 * worst.per_service);
        assert_eq!(worst.services_per_execution, (HISTORY_BUDGET - EXECUTION_EVENTS) / worst.per_service);
    }

    #[test]
    fn the_push_pays_for_every_services_pipeline() {
        let estimate = Estimate::new(&definition(), &Scenario::new(300, 300), 1, 20, &Prices::US_EAST_1).unwrap();
        assert_eq!((estimate.repository_services, estimate.codepipeline.pipelines), (20, 20));
        assert!((estimate.codepipeline.per_push - 0.44).abs() < 1e-12);
        assert!(estimate.to_text("asl").contains("the push runs 20 pipelines"), "{}", estimate.to_text("asl"));
    }
}
