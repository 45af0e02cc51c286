//! What `deltaship cost` reports: the [`Estimate`] (the walk, priced, beside CodePipeline V2),
//! the budgets it is held to (dollars of orchestration for a one-service push, history events per
//! service and per execution), and the report for people ([`Estimate::to_text`]); the JSON is
//! the [`Estimate`] serialized.

use serde::Serialize;
use serde_json::Value;

use super::prices::{CodePipeline, Dollars, Prices};
use super::walk::{AslError, Counts, Scenario, Simulation, simulate};

/// The budget for orchestrating one service deploy (Step Functions and Lambda), in dollars.
pub const BUDGET_DOLLARS_PER_SERVICE: f64 = 0.001;
/// The budget of execution history events per service (25,000 / 200 = 125 services a push).
pub const BUDGET_EVENTS_PER_SERVICE: u64 = 200;
/// Step Functions' limit of history events in one execution.
pub const HISTORY_EVENT_LIMIT: u64 = 25_000;
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
        let codepipeline = CodePipeline::of(scenario, services, repository_services, prices);
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
            codepipeline,
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

#[cfg(test)]
mod tests {
    use deltaship_core::WaitPolicy;

    use super::*;
    use crate::cost::definition;

    fn scenario(build: u64, rollout: u64) -> Scenario {
        Scenario::new(build, rollout)
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
    fn the_push_pays_for_every_services_pipeline() {
        let estimate = Estimate::new(&definition(), &scenario(300, 300), 1, 20, &Prices::US_EAST_1).unwrap();
        assert_eq!((estimate.repository_services, estimate.codepipeline.pipelines), (20, 20));
        assert!((estimate.codepipeline.per_push - 0.44).abs() < 1e-12);
        assert!(estimate.to_text("asl").contains("the push runs 20 pipelines"), "{}", estimate.to_text("asl"));
    }
}
