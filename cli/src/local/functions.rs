//! deltaship's Lambda functions, in process: the same handlers the Lambda bins serve, built
//! from the same settings, called by name.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use deltaship_aws::settings::{self, DetectSettings, ReconcileSettings, SettingsError, Source};
use deltaship_aws::{check_build, check_rollout, deploy, detect, reconcile, rollback, start_build};
use deltaship_core::Failure;
use serde::Serialize;
use serde_json::Value;

/// The functions, by the name of their bin (`lambdas/<name>`), in pipeline order.
pub const NAMES: [&str; 7] = [
    "detect-changes",
    "start-build",
    "check-build",
    "deploy-service",
    "check-rollout",
    "rollback-service",
    "reconcile-pushes",
];

/// Environment variables, as the SAM template would set them.
#[derive(Debug, Clone, Default)]
pub struct Variables(pub BTreeMap<String, String>);

impl Source for Variables {
    fn get(&self, variable: &str) -> Option<String> {
        self.0.get(variable).cloned()
    }
}

/// One instance of each function.
#[derive(Debug, Clone)]
pub struct Functions {
    detect: detect::DetectChanges,
    start_build: start_build::StartBuild,
    check_build: check_build::CheckBuild,
    deploy: deploy::DeployService,
    check_rollout: check_rollout::CheckRollout,
    rollback: rollback::RollbackService,
    reconcile: reconcile::Reconcile,
}

impl Functions {
    /// Every function with clients from `config` and settings from `variables`.
    pub fn new(config: &SdkConfig, variables: &Variables) -> Result<Self, SettingsError> {
        let build_wait = settings::build_wait(variables)?;
        let rollout_wait = settings::rollout_wait(variables)?;
        let detect_settings = DetectSettings::from_source(variables)?;
        let scope = settings::scope(variables);
        Ok(Self {
            detect: detect::DetectChanges::new(config, detect_settings.clone()).with_scope(scope.clone()),
            start_build: start_build::StartBuild::new(config, build_wait).with_scope(scope.clone()),
            check_build: check_build::CheckBuild::new(config, build_wait),
            deploy: deploy::DeployService::new(config, rollout_wait).with_scope(scope.clone()),
            check_rollout: check_rollout::CheckRollout::new(config, rollout_wait).with_scope(scope.clone()),
            rollback: rollback::RollbackService::new(config).with_scope(scope.clone()),
            reconcile: reconcile::Reconcile::new(config, detect_settings, ReconcileSettings::from_source(variables)?)
                .with_scope(scope),
        })
    }

    /// Invokes the function `name` (one of [`NAMES`]) with `payload`: its output, or its
    /// failure. `None` if there is no such function.
    pub async fn invoke(&self, name: &str, payload: Value) -> Option<Result<Value, Failure>> {
        Some(match name {
            "detect-changes" => to_json(self.detect.handle(payload).await),
            "start-build" => to_json(self.start_build.handle(payload).await),
            "check-build" => to_json(self.check_build.handle(payload).await),
            "deploy-service" => to_json(self.deploy.handle(payload).await),
            "check-rollout" => to_json(self.check_rollout.handle(payload).await),
            "rollback-service" => to_json(self.rollback.handle(payload).await),
            "reconcile-pushes" => to_json(self.reconcile.handle(payload).await),
            _ => return None,
        })
    }
}

fn to_json<T: Serialize>(result: Result<T, Failure>) -> Result<Value, Failure> {
    result.and_then(|output| {
        serde_json::to_value(output).map_err(|error| {
            Failure::new(deltaship_core::ErrorKind::AwsError, format!("could not serialise the output: {error}"))
        })
    })
}
