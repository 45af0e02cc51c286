//! What a walk costs: the list prices ([`Prices::US_EAST_1`]), a walk's counts in dollars
//! (Step Functions Standard transitions, Lambda requests and GB-seconds on arm64), and
//! CodePipeline V2 doing the same work, one pipeline per service (source, build, deploy) with
//! each action's time rounded up to whole minutes.

use serde::Serialize;

use super::walk::{Counts, Scenario};

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
    /// What `counts` cost at `prices`, with the scenario's Lambda duration and memory.
    pub(super) fn of(counts: Counts, scenario: &Scenario, prices: &Prices) -> Self {
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

impl CodePipeline {
    /// CodePipeline V2 for a push deploying `services` of the repository's `repository_services`
    /// (at least `services`): every service's pipeline runs, each action rounded up to a minute.
    pub(super) fn of(scenario: &Scenario, services: u64, repository_services: u64, prices: &Prices) -> Self {
        let action_minutes = 1 + scenario.build_seconds.div_ceil(60) + scenario.rollout_seconds.div_ceil(60);
        let per_pipeline = action_minutes as f64 * prices.codepipeline_action_minute;
        let pipelines = repository_services.max(services);
        Self { action_minutes, per_pipeline, pipelines, per_push: per_pipeline * pipelines as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codepipeline_runs_every_services_pipeline() {
        let pipeline = CodePipeline::of(&Scenario::new(300, 300), 1, 20, &Prices::US_EAST_1);
        assert_eq!(pipeline.action_minutes, 11);
        assert!((pipeline.per_pipeline - 0.022).abs() < 1e-12);
        assert_eq!(pipeline.pipelines, 20);
        assert!((pipeline.per_push - 0.44).abs() < 1e-12);
        let rounded = CodePipeline::of(&Scenario::new(61, 1), 1, 1, &Prices::US_EAST_1);
        assert_eq!(rounded.action_minutes, 1 + 2 + 1, "each action rounded up to a minute");
        assert_eq!(CodePipeline::of(&Scenario::new(61, 1), 5, 1, &Prices::US_EAST_1).pipelines, 5);
    }

    #[test]
    fn dollars_are_transitions_and_invocations_at_list_prices() {
        let counts = Counts { transitions: 35, lambda_invocations: 12, history_events: 109 };
        let dollars = Dollars::of(counts, &Scenario::new(300, 300), &Prices::US_EAST_1);
        // 35 transitions and 12 invocations of 200 ms at 128 MB.
        let lambda = 12.0 * (0.2e-6 + 0.125 * 0.2 * 0.000_013_333_4);
        assert!((dollars.step_functions - 35.0 * 0.000_025).abs() < 1e-12);
        assert!((dollars.lambda - lambda).abs() < 1e-12);
        assert!((dollars.total - (35.0 * 0.000_025 + lambda)).abs() < 1e-12);
    }
}
