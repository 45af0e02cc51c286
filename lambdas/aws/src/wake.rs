//! wake-waits: EventBridge's target for `CodeBuild Build State Change` and
//! `ECS Deployment State Change`. It completes the waits an event concerns, when (and only when)
//! a look says the build or the service deployment is over.
//!
//! For each wait stored under the event's resource ([`deltaship_core::waits::WakeEvent::resource`]):
//! it looks again, exactly as check-build or check-rollout would (an event is a wake-up call,
//! never the verdict), and
//! - the look ends the wait: `SendTaskSuccess` with the look's answer, or `SendTaskFailure` with
//!   its error (a token closed already is nothing to do), then the record is deleted;
//! - the look says "not over": the wait goes on (a later event, or the fallback timeout, ends it);
//! - the look fails for a transient reason: the invocation fails (`Throttled`,
//!   `AwsUnavailable`), so EventBridge's retry policy delivers the event again.
//!
//! An event nobody waits on (another stack's build, a deployment started by hand) finds no
//! record and does nothing.

use aws_config::SdkConfig;
use deltaship_core::payloads::{CheckBuildInput, CheckRolloutInput, WakeOutput, WokenWait};
use deltaship_core::waits::{Completion, WaitKind, parse_wake};
use deltaship_core::{Failure, WaitPolicy};
use serde::Serialize;

use crate::settings::{self, SettingsError, Source};
use crate::waits::{Looked, Record, Sent, Waits};
use crate::{Clock, Function, check_build, check_rollout};

const FUNCTION: &str = "wake-waits";

/// The wake-waits function.
#[derive(Debug, Clone)]
pub struct WakeWaits {
    codebuild: aws_sdk_codebuild::Client,
    ecs: aws_sdk_ecs::Client,
    waits: Waits,
    build_wait: WaitPolicy,
    rollout_wait: WaitPolicy,
    clock: Clock,
}

impl WakeWaits {
    /// The function with the given clients and clock.
    pub fn from_clients(
        codebuild: aws_sdk_codebuild::Client,
        ecs: aws_sdk_ecs::Client,
        waits: Waits,
        (build_wait, rollout_wait): (WaitPolicy, WaitPolicy),
        clock: Clock,
    ) -> Self {
        Self { codebuild, ecs, waits, build_wait, rollout_wait, clock }
    }

    /// Looks at what `record` waits on, and completes it if the look ends it.
    async fn wake(&self, record: &Record, now: i64) -> Result<WokenWait, Failure> {
        let looked = match record.kind {
            WaitKind::Build => {
                let input: CheckBuildInput = parse_watch(record)?;
                completion(check_build::look(&self.codebuild, &input, now, self.build_wait).await)?
            }
            WaitKind::Rollout | WaitKind::Rollback => {
                let input: CheckRolloutInput = parse_watch(record)?;
                completion(check_rollout::look(&self.ecs, &input.watch, now, self.rollout_wait).await)?
            }
        };
        let (completion, detail) = looked;
        let result = match &completion {
            Completion::Pending => "PENDING",
            completion => {
                let sent = self.waits.complete(&record.token, completion).await?;
                self.waits.forget(record).await?;
                match (sent, completion) {
                    (Sent::Closed, _) => "CLOSED",
                    (Sent::Sent, Completion::Success(_)) => "COMPLETED",
                    (Sent::Sent, _) => "FAILED",
                }
            }
        };
        Ok(WokenWait { waiter: record.waiter.clone(), result: result.to_owned(), detail })
    }
}

/// What a look means for the wait: its completion, and what it said. A transient failure is
/// returned as the error (the wait stays, the invocation fails and is retried).
fn completion<O: Serialize>(looked: Result<Looked<O>, Failure>) -> Result<(Completion, String), Failure> {
    match looked {
        Ok(Looked { done: false, .. }) => Ok((Completion::Pending, "not over yet".to_owned())),
        Ok(Looked { output, done: true }) => {
            let json = serde_json::to_value(output)
                .map_err(|error| Failure::new(deltaship_core::ErrorKind::AwsError, format!("{FUNCTION}: {error}")))?;
            Ok((Completion::Success(json), "over: completed".to_owned()))
        }
        Err(failure) if failure.kind.is_retryable() => Err(failure),
        Err(failure) => Ok((Completion::of_failure(&failure), failure.to_string())),
    }
}

fn parse_watch<T: serde::de::DeserializeOwned>(record: &Record) -> Result<T, Failure> {
    serde_json::from_str(&record.watch).map_err(|error| {
        Failure::invalid_input(format!("{FUNCTION}: the wait {} holds no readable watch: {error}", record.waiter))
    })
}

impl Function for WakeWaits {
    const NAME: &'static str = FUNCTION;
    /// The fallback timeouts (for the answers it completes waits with) and the waits table.
    type Settings = (WaitPolicy, WaitPolicy, String);
    type Output = WakeOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((settings::build_wait(source)?, settings::rollout_wait(source)?, settings::waits_table(source)?))
    }

    fn build(config: &SdkConfig, (build_wait, rollout_wait, table): &Self::Settings) -> Self {
        let waits =
            Waits::from_clients(aws_sdk_dynamodb::Client::new(config), aws_sdk_sfn::Client::new(config), table.clone());
        Self::from_clients(
            aws_sdk_codebuild::Client::new(config),
            aws_sdk_ecs::Client::new(config),
            waits,
            (*build_wait, *rollout_wait),
            crate::system_clock,
        )
    }

    /// Handles one EventBridge event.
    async fn handle(&self, payload: serde_json::Value) -> Result<WakeOutput, Failure> {
        let event = parse_wake(payload)?;
        let resource = event.resource();
        let now = (self.clock)();
        let records = self.waits.records(&resource, now).await?;
        let mut waits = Vec::with_capacity(records.len());
        let mut transient = None;
        for record in &records {
            match self.wake(record, now).await {
                Ok(woken) => waits.push(woken),
                // The others are still worth waking; the event comes again for this one.
                Err(failure) if failure.kind.is_retryable() => transient = Some(failure),
                // A record it cannot act on: its wait ends by its fallback timeout.
                Err(failure) => waits.push(WokenWait {
                    waiter: record.waiter.clone(),
                    result: "SKIPPED".to_owned(),
                    detail: failure.to_string(),
                }),
            }
        }
        tracing::info!(resource, waits = waits.len(), ?event, "woken");
        match transient {
            Some(failure) => Err(failure),
            None => Ok(WakeOutput { resource, waits }),
        }
    }
}
