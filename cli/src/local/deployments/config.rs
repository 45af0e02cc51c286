//! What a service's deployments are configured with — its `deploymentConfiguration`, read and
//! written in AWS's JSON shape — the faults the local stack can inject into one deployment, and
//! what an `UpdateService` asks for.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `deploymentConfiguration.strategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Strategy {
    /// Tasks replaced in place (the default).
    #[default]
    Rolling,
    /// A full green revision, test traffic, then all production traffic at once.
    BlueGreen,
    /// Production traffic moved in equal steps.
    Linear,
    /// A canary share of production traffic, then the rest.
    Canary,
}

impl Strategy {
    /// The name AWS gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rolling => "ROLLING",
            Self::BlueGreen => "BLUE_GREEN",
            Self::Linear => "LINEAR",
            Self::Canary => "CANARY",
        }
    }

    /// BLUE_GREEN, LINEAR and CANARY: lifecycle stages, traffic weights, bake time.
    pub fn shifts_traffic(self) -> bool {
        self != Self::Rolling
    }
}

/// `deploymentConfiguration.deploymentCircuitBreaker`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    /// Whether failed tasks are counted.
    #[serde(default)]
    pub enable: bool,
    /// Whether a tripped breaker rolls back (else the deployment stops).
    #[serde(default)]
    pub rollback: bool,
    /// Keys the model keeps but does not act on (`thresholdConfiguration`, `resetOnHealthyTask`).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `deploymentConfiguration.alarms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarms {
    /// The CloudWatch alarms watched.
    #[serde(default)]
    pub alarm_names: Vec<String>,
    /// Whether an alarm rolls back (else the deployment stops).
    #[serde(default)]
    pub rollback: bool,
    /// Whether the alarms are watched.
    #[serde(default)]
    pub enable: bool,
}

/// `deploymentConfiguration.canaryConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    /// The share of production traffic the canary step moves (0.1–100.0, default 5.0).
    #[serde(default = "Canary::default_percent")]
    pub canary_percent: f64,
    /// The wait after the canary step (0–1440, default 10).
    #[serde(default = "Canary::default_bake")]
    pub canary_bake_time_in_minutes: u32,
}

impl Canary {
    fn default_percent() -> f64 {
        5.0
    }
    fn default_bake() -> u32 {
        10
    }
}

impl Default for Canary {
    fn default() -> Self {
        Self { canary_percent: Self::default_percent(), canary_bake_time_in_minutes: Self::default_bake() }
    }
}

/// `deploymentConfiguration.linearConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linear {
    /// The share of production traffic each step moves (3.0–100.0, default 10.0).
    #[serde(default = "Linear::default_percent")]
    pub step_percent: f64,
    /// The wait between steps (0–1440, default 6).
    #[serde(default = "Linear::default_bake")]
    pub step_bake_time_in_minutes: u32,
}

impl Linear {
    fn default_percent() -> f64 {
        10.0
    }
    fn default_bake() -> u32 {
        6
    }
}

impl Default for Linear {
    fn default() -> Self {
        Self { step_percent: Self::default_percent(), step_bake_time_in_minutes: Self::default_bake() }
    }
}

/// `lifecycleHooks[].timeoutConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookTimeout {
    /// 1–1440 (default 1440).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_minutes: Option<u32>,
    /// `ROLLBACK` (default) or `CONTINUE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// `deploymentConfiguration.lifecycleHooks[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHook {
    /// `AWS_LAMBDA` (default) or `PAUSE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    /// The Lambda function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_target_arn: Option<String>,
    /// The role ECS invokes it with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The stages it runs at (`POST_TEST_TRAFFIC_SHIFT`, ...).
    #[serde(default)]
    pub lifecycle_stages: Vec<String>,
    /// Passed to the hook as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_details: Option<Value>,
    /// How long it may take, and what then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_configuration: Option<HookTimeout>,
}

impl LifecycleHook {
    /// `targetType`, defaulted.
    pub fn target_type(&self) -> &str {
        self.target_type.as_deref().unwrap_or("AWS_LAMBDA")
    }

    /// Minutes until the hook times out (`expiresAt`), defaulted.
    pub fn timeout_minutes(&self) -> u32 {
        self.timeout_configuration.as_ref().and_then(|timeout| timeout.timeout_in_minutes).unwrap_or(1440)
    }

    /// What happens on time-out, defaulted.
    pub fn timeout_action(&self) -> &str {
        self.timeout_configuration.as_ref().and_then(|timeout| timeout.action.as_deref()).unwrap_or("ROLLBACK")
    }
}

/// A service's `deploymentConfiguration`, in AWS's JSON shape (what `CreateService` and
/// `UpdateService` take and `DescribeServiceDeployments` shows). Keys the model does not act on
/// (`earlySuccessCriteria`, ...) are kept as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    /// The circuit breaker (documented for ROLLING only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_circuit_breaker: Option<CircuitBreaker>,
    /// Tasks allowed above the desired count, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_percent: Option<i32>,
    /// Tasks kept running during a deployment, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_healthy_percent: Option<i32>,
    /// The CloudWatch alarms watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<Alarms>,
    /// The strategy.
    #[serde(default)]
    pub strategy: Strategy,
    /// Bake time after the production shift (0–1440; 15 when omitted for the traffic-shifting
    /// strategies, as CloudFormation documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_time_in_minutes: Option<u32>,
    /// Lifecycle hooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_hooks: Vec<LifecycleHook>,
    /// LINEAR's steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_configuration: Option<Linear>,
    /// CANARY's steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_configuration: Option<Canary>,
    /// Keys kept as given.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Configuration {
    /// `strategy` with the configuration of the sample system's services
    /// (`sam/infrastructure.yaml`): 200/100 %, the circuit breaker with rollback, alarms off.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            deployment_circuit_breaker: Some(CircuitBreaker { enable: true, rollback: true, other: Map::new() }),
            maximum_percent: Some(200),
            minimum_healthy_percent: Some(100),
            alarms: Some(Alarms::default()),
            strategy,
            ..Self::default()
        }
    }

    /// A request's `deploymentConfiguration`, checked as ECS checks it.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let configuration = serde_json::from_value::<Self>(value.clone())
            .map_err(|error| format!("deploymentConfiguration is invalid: {error}"))?;
        let strategy = configuration.strategy;
        if configuration.canary_configuration.is_some() && strategy != Strategy::Canary {
            return Err(format!("canaryConfiguration is valid only with strategy CANARY, not {}", strategy.as_str()));
        }
        if configuration.linear_configuration.is_some() && strategy != Strategy::Linear {
            return Err(format!("linearConfiguration is valid only with strategy LINEAR, not {}", strategy.as_str()));
        }
        if let Some(canary) = &configuration.canary_configuration
            && !(0.1..=100.0).contains(&canary.canary_percent)
        {
            return Err(format!("canaryPercent must be 0.1 to 100.0, not {}", canary.canary_percent));
        }
        if let Some(linear) = &configuration.linear_configuration
            && !(3.0..=100.0).contains(&linear.step_percent)
        {
            return Err(format!("stepPercent must be 3.0 to 100.0, not {}", linear.step_percent));
        }
        Ok(configuration)
    }

    /// As a JSON object.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The configuration a deployment runs with: the strategy's defaults filled in
    /// (`canaryConfiguration`, `linearConfiguration`, `bakeTimeInMinutes`).
    pub fn effective(&self) -> Self {
        let mut effective = self.clone();
        match self.strategy {
            Strategy::Canary => effective.canary_configuration = Some(self.canary()),
            Strategy::Linear => effective.linear_configuration = Some(self.linear()),
            Strategy::Rolling | Strategy::BlueGreen => {}
        }
        if self.strategy.shifts_traffic() && self.bake_time_in_minutes.is_none() {
            effective.bake_time_in_minutes = Some(15);
        }
        effective
    }

    /// CANARY's steps, defaulted.
    pub fn canary(&self) -> Canary {
        self.canary_configuration.clone().unwrap_or_default()
    }

    /// LINEAR's steps, defaulted.
    pub fn linear(&self) -> Linear {
        self.linear_configuration.clone().unwrap_or_default()
    }

    /// The circuit breaker, when enabled.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.deployment_circuit_breaker.as_ref().filter(|breaker| breaker.enable)
    }

    /// The alarms, when enabled and naming at least one.
    pub fn watched_alarms(&self) -> Option<&Alarms> {
        self.alarms.as_ref().filter(|alarms| alarms.enable && !alarms.alarm_names.is_empty())
    }

    /// This configuration with the detector `fault` needs turned on (with rollback) when it is
    /// off: so an injected fault always fails the deployment, and the deployment's answer shows
    /// the detector that failed it. `hook_target` names the Lambda of an injected hook.
    pub fn with_detector_for(&self, fault: Fault, alarm_name: &str, hook_target: &str) -> Self {
        let mut configuration = self.clone();
        match fault {
            Fault::None => {}
            Fault::CircuitBreaker if self.circuit_breaker().is_none() => {
                configuration.deployment_circuit_breaker =
                    Some(CircuitBreaker { enable: true, rollback: true, other: Map::new() });
            }
            Fault::Alarm if self.watched_alarms().is_none() => {
                configuration.alarms =
                    Some(Alarms { alarm_names: vec![alarm_name.to_owned()], rollback: true, enable: true });
            }
            Fault::Hook if self.lifecycle_hooks.is_empty() => {
                let stage = if self.strategy.shifts_traffic() { "POST_TEST_TRAFFIC_SHIFT" } else { "POST_SCALE_UP" };
                configuration.lifecycle_hooks.push(LifecycleHook {
                    target_type: Some("AWS_LAMBDA".to_owned()),
                    hook_target_arn: Some(hook_target.to_owned()),
                    lifecycle_stages: vec![stage.to_owned()],
                    timeout_configuration: Some(HookTimeout {
                        timeout_in_minutes: Some(30),
                        action: Some("ROLLBACK".to_owned()),
                    }),
                    ..LifecycleHook::default()
                });
            }
            Fault::CircuitBreaker | Fault::Alarm | Fault::Hook => {}
        }
        configuration
    }
}

/// The circuit breaker's threshold for `desired` tasks: half, rounded up, at least 3, at most 200
/// (deployment-circuit-breaker.html; `thresholdConfiguration` is kept but not modeled).
pub fn threshold(desired: u32) -> u32 {
    desired.div_ceil(2).clamp(3, 200)
}

/// A failure to inject into one deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The deployment succeeds.
    #[default]
    None,
    /// The new tasks fail to start until the circuit breaker trips.
    CircuitBreaker,
    /// A CloudWatch alarm goes into ALARM while the deployment is watched (BAKE_TIME for the
    /// traffic-shifting strategies).
    Alarm,
    /// A Lambda lifecycle hook answers FAILED.
    Hook,
}

/// What an `UpdateService` that starts a deployment asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The task definition to roll out.
    pub task_definition: String,
    /// The new desired count; `None` keeps the service's.
    pub desired_count: Option<u32>,
    /// The new `deploymentConfiguration`; `None` keeps the service's.
    pub configuration: Option<Configuration>,
    /// Seconds a successful rollout takes, every stage included (a rollback takes half).
    pub duration_seconds: f64,
    /// What fails, if anything.
    pub fault: Fault,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn thresholds_follow_the_documented_rule() {
        for (desired, expected) in [(0, 3), (1, 3), (2, 3), (6, 3), (7, 4), (25, 13), (400, 200), (800, 200)] {
            assert_eq!(threshold(desired), expected, "desired {desired}");
        }
    }

    #[test]
    fn a_fixture_configuration_round_trips() {
        let text =
            include_str!("../../../../tests/fixtures/aws/ecs/describe-service-deployments-canary-in-progress.json");
        let fixture: Value = serde_json::from_str(text).unwrap();
        let given = &fixture["serviceDeployments"][0]["deploymentConfiguration"];
        let configuration = Configuration::from_json(given).unwrap();
        assert_eq!(configuration.strategy, Strategy::Canary);
        assert_eq!(configuration.canary().canary_percent, 10.0);
        assert_eq!(configuration.lifecycle_hooks[0].lifecycle_stages, ["POST_TEST_TRAFFIC_SHIFT"]);
        assert_eq!(&configuration.to_json(), given);
    }

    #[test]
    fn invalid_configurations_are_refused_with_the_reason() {
        let cases = [
            (json!({ "strategy": "SIDEWAYS" }), "deploymentConfiguration is invalid"),
            (json!({ "strategy": "LINEAR", "canaryConfiguration": {} }), "valid only with strategy CANARY"),
            (json!({ "strategy": "CANARY", "linearConfiguration": {} }), "valid only with strategy LINEAR"),
            (json!({ "strategy": "CANARY", "canaryConfiguration": { "canaryPercent": 0.0 } }), "canaryPercent"),
            (json!({ "strategy": "LINEAR", "linearConfiguration": { "stepPercent": 2.0 } }), "stepPercent"),
        ];
        for (given, expected) in cases {
            let error = Configuration::from_json(&given).unwrap_err();
            assert!(error.contains(expected), "{given}: {error}");
        }
    }

    #[test]
    fn defaults_fill_in_per_strategy() {
        let canary = Configuration::new(Strategy::Canary).effective();
        assert_eq!(canary.canary_configuration, Some(Canary { canary_percent: 5.0, canary_bake_time_in_minutes: 10 }));
        assert_eq!(canary.bake_time_in_minutes, Some(15));
        let linear = Configuration::new(Strategy::Linear).effective();
        assert_eq!(linear.linear_configuration, Some(Linear { step_percent: 10.0, step_bake_time_in_minutes: 6 }));
        let rolling = Configuration::new(Strategy::Rolling).effective();
        assert_eq!((rolling.bake_time_in_minutes, rolling.canary_configuration), (None, None));
        assert_eq!(Configuration::from_json(&json!({})).unwrap().strategy, Strategy::Rolling);
    }

    #[test]
    fn a_fault_turns_on_its_detector_only_when_it_is_off() {
        let off = Configuration { alarms: None, deployment_circuit_breaker: None, ..Configuration::default() };
        let breaker = off.with_detector_for(Fault::CircuitBreaker, "a", "h");
        assert_eq!(breaker.circuit_breaker().map(|b| b.rollback), Some(true));
        let alarm = off.with_detector_for(Fault::Alarm, "a", "h");
        assert_eq!(alarm.watched_alarms().map(|a| a.alarm_names.clone()), Some(vec!["a".to_owned()]));
        let hook = Configuration::new(Strategy::BlueGreen).with_detector_for(Fault::Hook, "a", "h");
        assert_eq!(hook.lifecycle_hooks[0].lifecycle_stages, ["POST_TEST_TRAFFIC_SHIFT"]);
        assert_eq!(hook.lifecycle_hooks[0].hook_target_arn.as_deref(), Some("h"));

        let mut stopping = Configuration::new(Strategy::Rolling);
        stopping.deployment_circuit_breaker =
            Some(CircuitBreaker { enable: true, rollback: false, ..CircuitBreaker::default() });
        let kept = stopping.with_detector_for(Fault::CircuitBreaker, "a", "h");
        assert_eq!(kept, stopping, "a configured breaker without rollback stays as it is");
        assert_eq!(off.with_detector_for(Fault::None, "a", "h"), off);
    }
}
