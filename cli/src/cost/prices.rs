//! What a walk costs: the list prices ([`Prices::US_EAST_1`]), a walk's counts in dollars
//! (Step Functions Standard transitions, Lambda requests and GB-seconds on arm64, DynamoDB
//! on-demand request units, EventBridge's AWS service events), and CodePipeline V2 doing the same
//! work, one pipeline per service (source, build, deploy) with each action's time rounded up to
//! whole minutes.

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
    /// DynamoDB on-demand, per write request unit.
    pub dynamodb_write_unit: f64,
    /// DynamoDB on-demand, per read request unit.
    pub dynamodb_read_unit: f64,
    /// EventBridge, per AWS service event delivered to a rule's target.
    pub eventbridge_service_event: f64,
    /// CodePipeline V2, per action execution minute.
    pub codepipeline_action_minute: f64,
}

impl Prices {
    /// us-east-1 list prices, without free tiers.
    ///
    /// - DynamoDB on-demand: $0.625 per million write request units and $0.125 per million read
    ///   request units (<https://aws.amazon.com/dynamodb/pricing/on-demand/>, since the
    ///   on-demand price cut of November 2024).
    /// - EventBridge: events that AWS services send to the default event bus (here `CodeBuild
    ///   Build State Change` and `ECS Deployment State Change`), matched by a rule and delivered
    ///   to a target in the same account, are not charged
    ///   (<https://aws.amazon.com/eventbridge/pricing/>: "AWS management events are ingested by
    ///   the event bus for free"; only custom, partner and cross-account events cost $1.00 per
    ///   million).
    pub const US_EAST_1: Self = Self {
        state_transition: 0.025 / 1000.0,
        lambda_request: 0.20 / 1_000_000.0,
        lambda_gb_second: 0.000_013_333_4,
        dynamodb_write_unit: 0.625 / 1_000_000.0,
        dynamodb_read_unit: 0.125 / 1_000_000.0,
        eventbridge_service_event: 0.0,
        codepipeline_action_minute: 0.002,
    };
}

/// Dollars, split by service.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dollars {
    /// Step Functions state transitions.
    pub step_functions: f64,
    /// Lambda requests and duration: the state machine's tasks and wake-waits.
    pub lambda: f64,
    /// DynamoDB request units of the waits table.
    pub dynamodb: f64,
    /// EventBridge events delivered to wake-waits.
    pub eventbridge: f64,
    /// All of them.
    pub total: f64,
}

impl Dollars {
    /// What `counts` cost at `prices`, with the scenario's Lambda duration and memory.
    pub(super) fn of(counts: Counts, scenario: &Scenario, prices: &Prices) -> Self {
        let step_functions = counts.transitions as f64 * prices.state_transition;
        let gb_seconds = scenario.lambda_memory_mb as f64 / 1024.0 * scenario.lambda_ms as f64 / 1000.0;
        let invocations = (counts.lambda_invocations + counts.wake_invocations) as f64;
        let lambda = invocations * (prices.lambda_request + gb_seconds * prices.lambda_gb_second);
        let dynamodb = counts.dynamodb_write_units as f64 * prices.dynamodb_write_unit
            + counts.dynamodb_read_units * prices.dynamodb_read_unit;
        let eventbridge = counts.wake_invocations as f64 * prices.eventbridge_service_event;
        Self { step_functions, lambda, dynamodb, eventbridge, total: step_functions + lambda + dynamodb + eventbridge }
    }

    /// `self` less `other`, part by part.
    pub(super) fn minus(self, other: Self) -> Self {
        Self {
            step_functions: self.step_functions - other.step_functions,
            lambda: self.lambda - other.lambda,
            dynamodb: self.dynamodb - other.dynamodb,
            eventbridge: self.eventbridge - other.eventbridge,
            total: self.total - other.total,
        }
    }
}

/// CodePipeline V2 doing the same work: a pipeline per service (source, build, a deploy per
/// environment). A manual approval action's wait is not counted: the comparison leaves it out,
/// in CodePipeline's favour if it is billed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CodePipeline {
    /// Action minutes of one pipeline run: source (1), build and a deploy per environment, each
    /// rounded up.
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
        let deploys = u64::from(scenario.environments.max(1)) * scenario.rollout_seconds.div_ceil(60);
        let action_minutes = 1 + scenario.build_seconds.div_ceil(60) + deploys;
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
        let promoted = Scenario { environments: 3, approvals: true, ..Scenario::new(300, 300) };
        assert_eq!(CodePipeline::of(&promoted, 1, 1, &Prices::US_EAST_1).action_minutes, 1 + 5 + 3 * 5);
    }

    #[test]
    fn dollars_are_transitions_invocations_and_request_units_at_list_prices() {
        let counts = Counts {
            transitions: 10,
            lambda_invocations: 6,
            wake_invocations: 3,
            history_events: 40,
            dynamodb_write_units: 12,
            dynamodb_read_units: 1.5,
        };
        let dollars = Dollars::of(counts, &Scenario::new(300, 300), &Prices::US_EAST_1);
        // 10 transitions; 9 invocations of 200 ms at 128 MB; 12 WRU and 1.5 RRU; free events.
        let lambda = 9.0 * (0.2e-6 + 0.125 * 0.2 * 0.000_013_333_4);
        let dynamodb = 12.0 * 0.625e-6 + 1.5 * 0.125e-6;
        assert!((dollars.step_functions - 10.0 * 0.000_025).abs() < 1e-12);
        assert!((dollars.lambda - lambda).abs() < 1e-12);
        assert!((dollars.dynamodb - dynamodb).abs() < 1e-12);
        assert!(dollars.eventbridge.abs() < 1e-12);
        assert!((dollars.total - (10.0 * 0.000_025 + lambda + dynamodb)).abs() < 1e-12);
        let none = dollars.minus(dollars);
        assert!(none.total.abs() < 1e-12 && none.dynamodb.abs() < 1e-12);
    }
}
