//! check-rollout: judges the service deployment deltaship created (or its rollback), and in wait
//! mode waits for it by task token.
//!
//! The verdict is [`deltaship_core::rollout`]'s table, read from `DescribeServiceDeployments`
//! under every strategy (a deployment that ECS rolled back is a failure, however stable the
//! service is; one still baking is in progress).
//!
//! - **Look mode** (no `task_token`; the state machine's look after a fallback timeout): answers
//!   `IN_PROGRESS` with the next fallback timeout (never past the deadline), `COMPLETED`, or the
//!   verdict's error.
//! - **Wait mode** (`task_token` given; a `.waitForTaskToken` task): stores the token in the
//!   waits table under the service's ARN (what `ECS Deployment State Change` names), then looks
//!   once; a look that ends the wait completes it at once. Otherwise wake-waits completes it when
//!   an event of the service comes.

use aws_config::SdkConfig;
use deltaship_core::payloads::{CheckRolloutInput, CheckRolloutOutput, RolloutStatus};
use deltaship_core::rollout::{Expect, judge_rollout};
use deltaship_core::waits::{WaitKind, expires_at, service_resource, waiter};
use deltaship_core::{ErrorKind, Failure, RolloutVerdict, RolloutWatch, Scope, WaitPolicy};

use crate::settings::{self, SettingsError, Source};
use crate::waits::{Looked, Record, Waits};
use crate::{Clock, Function, ecs, input};

const FUNCTION: &str = "check-rollout";

/// The check-rollout function.
#[derive(Debug, Clone)]
pub struct CheckRollout {
    ecs: aws_sdk_ecs::Client,
    waits: Waits,
    wait: WaitPolicy,
    clock: Clock,
    scope: Scope,
}

impl CheckRollout {
    /// The function with the given clients and clock.
    pub fn from_clients(ecs: aws_sdk_ecs::Client, waits: Waits, wait: WaitPolicy, clock: Clock) -> Self {
        Self { ecs, waits, wait, clock, scope: Scope::default() }
    }

    /// The same function, refusing what `scope` does not allow (the template's `ClusterName`).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }
}

impl Function for CheckRollout {
    const NAME: &'static str = FUNCTION;
    /// The fallback timeouts of a rollout wait, the waits table, and what it may touch.
    type Settings = (WaitPolicy, String, Scope);
    type Output = CheckRolloutOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((settings::rollout_wait(source)?, settings::waits_table(source)?, settings::scope(source)))
    }

    fn build(config: &SdkConfig, (wait, table, scope): &Self::Settings) -> Self {
        let waits =
            Waits::from_clients(aws_sdk_dynamodb::Client::new(config), aws_sdk_sfn::Client::new(config), table.clone());
        Self::from_clients(aws_sdk_ecs::Client::new(config), waits, *wait, crate::system_clock)
            .with_scope(scope.clone())
    }

    /// Looks at one rollout, or waits for it (wait mode).
    async fn handle(&self, payload: serde_json::Value) -> Result<CheckRolloutOutput, Failure> {
        let CheckRolloutInput { watch, task_token } = input::parse(FUNCTION, payload)?;
        for (field, value) in [
            ("watch.cluster", &watch.cluster),
            ("watch.service", &watch.service),
            ("watch.service_deployment", &watch.service_deployment),
        ] {
            input::require(FUNCTION, field, value)?;
        }
        self.scope.check_service(&watch.cluster, &watch.service)?;
        let now = (self.clock)();
        let Some(token) = task_token else {
            return look(&self.ecs, &watch, now, self.wait).await.map(|looked| looked.output);
        };
        for (field, value) in [
            ("watch.service_arn", &watch.service_arn),
            ("watch.execution", &watch.execution),
            ("watch.name", &watch.name),
        ] {
            input::require(FUNCTION, field, value)?;
        }
        let kind = wait_kind(&watch);
        let look_input = CheckRolloutInput { watch: watch.clone(), task_token: None };
        let record = Record {
            resource: service_resource(&watch.service_arn),
            waiter: waiter(&watch.execution, &watch.name, kind),
            token,
            kind,
            watch: serde_json::to_string(&look_input)
                .map_err(|error| Failure::new(ErrorKind::AwsError, format!("{FUNCTION}: {error}")))?,
            expires_at: expires_at(watch.deadline.max(now), self.wait.max_seconds),
        };
        self.waits.register_then_look(record, look(&self.ecs, &watch, now, self.wait)).await
    }
}

/// What a wait on `watch` is for.
pub(crate) fn wait_kind(watch: &RolloutWatch) -> WaitKind {
    match watch.expect {
        Expect::Deployed => WaitKind::Rollout,
        Expect::RolledBack => WaitKind::Rollback,
    }
}

/// Looks at the watched service deployment once, at `now`: in progress (with the next fallback
/// timeout), done, or a failure.
pub(crate) async fn look(
    ecs: &aws_sdk_ecs::Client,
    watch: &RolloutWatch,
    now: i64,
    wait: WaitPolicy,
) -> Result<Looked<CheckRolloutOutput>, Failure> {
    let target = format!("{}/{}", watch.cluster, watch.service);
    let deployment = ecs::describe_service_deployment(ecs, &watch.service_deployment, &target).await?;
    // Whether another deployment replaced ours only matters once ours has stopped: only then is
    // the service read too.
    let current = if matches!(deployment.status.as_str(), "STOP_REQUESTED" | "STOPPED") {
        ecs::describe(ecs, &watch.cluster, &watch.service).await?.snapshot.current_service_deployment
    } else {
        None
    };
    let mut output = CheckRolloutOutput {
        status: RolloutStatus::InProgress,
        watch: watch.clone(),
        stage: deployment.lifecycle_stage.clone(),
        wait_seconds: 0,
        detail: String::new(),
        service_url: ecs::service_url(ecs, &watch.cluster, &watch.service),
    };
    match judge_rollout(watch, &deployment, current.as_deref(), now, wait) {
        RolloutVerdict::InProgress { wait_seconds, progress } => {
            output.wait_seconds = wait_seconds;
            output.detail = progress;
            Ok(Looked { output, done: false })
        }
        RolloutVerdict::Completed { note } => {
            tracing::info!(service = watch.name, service_deployment = watch.service_deployment, "{note}");
            output.status = RolloutStatus::Completed;
            output.detail = note;
            Ok(Looked { output, done: true })
        }
        RolloutVerdict::Failed(failure) => Err(failure),
    }
}
