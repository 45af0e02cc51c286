//! Following a push on the local stack: waiting for its executions (one, or every part of a plan
//! split into several) to end, and reading the report from their histories.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use deltaship_core::payloads::{DetectOutput, DetectStatus, EnvironmentOutcome, RolledBackBy, ServiceOutcome};
use deltaship_core::{Outcome, PipelineInput};
use serde::Serialize;
use serde_json::Value;

use super::LocalError;
use super::answers::{Answers, GateEvent};
use super::history::{self, Event, Step};
use super::run::{Progress, Pushed};
use super::stack::LocalStack;

/// How the push ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Every planned service deployed.
    Succeeded,
    /// At least one did not.
    Failed,
    /// The push changed no service: no execution.
    None,
}

/// One service's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceReport {
    /// The service.
    pub name: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The task definition the service runs afterwards.
    pub task_definition: Option<String>,
    /// The image built.
    pub image: Option<String>,
    /// Why it did not deploy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The service's deployment strategy, once it deployed.
    pub strategy: Option<String>,
    /// The service deployment deltaship created (its ARN), once it deployed.
    pub deployment: Option<String>,
    /// Who rolled the deployment back, for `rolled_back`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolled_back_by: Option<RolledBackBy>,
    /// Seconds from the build's start to the end of its wait (the state machine's view).
    pub build_seconds: Option<f64>,
    /// Seconds from the deployment's start to the end of the wait for it.
    pub rollout_seconds: Option<f64>,
    /// Every environment the service got to, in pipeline order: `{"name", "outcome", "image",
    /// ...}` (the service's `outcome` is the last one's).
    pub environments: Vec<EnvironmentOutcome>,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The execution's name (`None` when nothing was to deploy); the first part's when the plan
    /// was split.
    pub execution: Option<String>,
    /// Every execution of the push (more than one when its plan was split).
    pub executions: Vec<String>,
    /// How it ended.
    pub status: RunStatus,
    /// Every planned service's outcome.
    pub services: Vec<ServiceReport>,
    /// Seconds from the first execution's start to the last one's end.
    pub duration_seconds: f64,
    /// The history events the executions wrote, all parts together.
    pub history_events: usize,
    /// The AWS calls the push made (detect-changes, the state machine, every function), by
    /// `<service>:<Operation>` (`codecommit:GetFile`): what the local stack's front answered from
    /// the push's delivery to the end of its executions.
    pub aws_calls: BTreeMap<String, u64>,
    /// What detect-changes said.
    #[serde(skip)]
    pub detect: Option<DetectOutput>,
    /// Each state every service's iteration went through.
    #[serde(skip)]
    pub steps: Vec<Step>,
}

impl RunReport {
    /// The report of a push that started no execution.
    fn nothing(detected: DetectOutput, aws_calls: BTreeMap<String, u64>) -> Self {
        Self {
            execution: None,
            executions: Vec::new(),
            status: RunStatus::None,
            services: Vec::new(),
            duration_seconds: 0.0,
            history_events: 0,
            aws_calls,
            detect: Some(detected),
            steps: Vec::new(),
        }
    }
}

/// The states of a build's wait, and of a rollout's (see `pipeline.asl.json`).
const BUILD_STATES: [&str; 4] = ["Start build", "Wait for build", "Look at build", "Build done?"];
const ROLLOUT_STATES: [&str; 4] = ["Deploy", "Wait for rollout", "Look at rollout", "Rollout done?"];

/// What [`follow`] tells its caller while it waits.
#[derive(Debug)]
pub enum Followed {
    /// It looked again: a moment to show what happened meanwhile.
    Tick,
    /// A service reached a gate.
    Gate(GateEvent),
}

impl LocalStack {
    /// The second half of [`LocalStack::run`]: waits (at most `timeout`) for the push's
    /// executions to end, answering the gates it reaches as `answers` say, and reads their
    /// histories.
    pub async fn follow(
        &mut self,
        pushed: Pushed,
        timeout: Duration,
        answers: &mut Answers,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RunReport, LocalError> {
        let Pushed(detected) = pushed;
        let invocations = &mut self.invocations;
        let mut show = |followed: Followed| match followed {
            Followed::Tick => {
                while let Ok(invocation) = invocations.try_recv() {
                    progress(&Progress::Invoked(invocation));
                }
            }
            Followed::Gate(event) => progress(&Progress::Gate(event)),
        };
        let mut report = follow(&self.watcher, &self.state_machine_arn, detected, timeout, answers, &mut show).await?;
        report.aws_calls = self.front.take_calls();
        Ok(report)
    }
}

/// How often the gates are looked at while an execution runs.
const GATE_LOOKS: Duration = Duration::from_millis(500);

/// Waits (at most `timeout`) for the executions `detected` started on the state machine
/// `state_machine_arn` to end, telling `show` between looks and at each gate reached (answered
/// as `answers` say), and reads their histories. The report's `aws_calls` is left empty for the
/// caller, who knows where the calls were counted.
pub async fn follow(
    watcher: &SdkConfig,
    state_machine_arn: &str,
    detected: DetectOutput,
    timeout: Duration,
    answers: &mut Answers,
    show: &mut dyn FnMut(Followed),
) -> Result<RunReport, LocalError> {
    let arns = match (&detected.status, &detected.execution_arn) {
        (DetectStatus::Started | DetectStatus::AlreadyStarted, Some(first)) => {
            let mut arns = vec![first.clone()];
            arns.extend(
                detected
                    .executions
                    .iter()
                    .skip(1)
                    .filter_map(|name| deltaship_core::links::execution_arn(state_machine_arn, name)),
            );
            arns
        }
        _ => return Ok(RunReport::nothing(detected, BTreeMap::new())),
    };
    let sfn = aws_sdk_sfn::Client::new(watcher);
    let started = Instant::now();
    let mut status = RunStatus::Succeeded;
    for arn in &arns {
        let mut gates_looked = None::<Instant>;
        // The execution's input, read at the first look, when one of its services has a gate.
        let mut gated: Option<Option<PipelineInput>> = None;
        let ended = loop {
            show(Followed::Tick);
            let described = sfn.describe_execution().execution_arn(arn).send().await.map_err(|error| {
                LocalError::Stack(format!(
                    "DescribeExecution {arn}: {}",
                    aws_sdk_sfn::error::DisplayErrorContext(error)
                ))
            })?;
            let gated = gated.get_or_insert_with(|| {
                described
                    .input()
                    .and_then(|input| serde_json::from_str::<PipelineInput>(input).ok())
                    .filter(|input| input.services.iter().any(|job| job.promotions.iter().any(|p| p.approval)))
            });
            if let Some(input) = gated.as_ref()
                && gates_looked.is_none_or(|at| at.elapsed() >= GATE_LOOKS)
            {
                gates_looked = Some(Instant::now());
                for event in answers.look(&input.execution, &input.services).await? {
                    show(Followed::Gate(event));
                }
            }
            match described.status().as_str() {
                "RUNNING" | "PENDING_REDRIVE" => {}
                "SUCCEEDED" => break RunStatus::Succeeded,
                _ => break RunStatus::Failed,
            }
            if started.elapsed() > timeout {
                for arn in &arns {
                    let cause = "deltaship local run timed out";
                    let _ = sfn.stop_execution().execution_arn(arn).cause(cause).send().await;
                }
                return Err(LocalError::Timeout { execution: arn.clone(), seconds: timeout.as_secs() });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if ended == RunStatus::Failed {
            status = RunStatus::Failed;
        }
    }
    show(Followed::Tick);

    let mut services = Vec::new();
    let mut steps = Vec::new();
    let mut history_events = 0;
    let (mut first_at, mut last_at) = (f64::MAX, f64::MIN);
    for arn in &arns {
        let (events, names) = execution_history(&sfn, arn).await?;
        history_events += events.len();
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            first_at = first_at.min(first.at);
            last_at = last_at.max(last.at);
        }
        let part_steps = history::steps(&events, &names);
        services.extend(
            history::outcomes(&events).unwrap_or_default().into_iter().map(|outcome| report(outcome, &part_steps)),
        );
        steps.extend(part_steps);
    }
    Ok(RunReport {
        execution: detected.execution.clone(),
        executions: detected.executions.clone(),
        status,
        services,
        duration_seconds: if last_at >= first_at { ((last_at - first_at) * 1000.0).round() / 1000.0 } else { 0.0 },
        history_events,
        aws_calls: BTreeMap::new(),
        detect: Some(detected),
        steps,
    })
}

/// One service's report: its outcome, and how long its phases took from its steps.
fn report(outcome: ServiceOutcome, steps: &[Step]) -> ServiceReport {
    let phase = |states: &[&str]| {
        let ours: Vec<&Step> =
            steps.iter().filter(|step| step.service == outcome.name && states.contains(&step.state.as_str())).collect();
        let start = ours.iter().map(|step| step.entered).reduce(f64::min)?;
        let end = ours.iter().filter_map(|step| step.exited).reduce(f64::max)?;
        Some(((end - start) * 1000.0).round() / 1000.0)
    };
    // The details are the last environment's (an execution from before environments has them on
    // the service itself; a failed build has no environment).
    let details = outcome.details();
    ServiceReport {
        build_seconds: phase(&BUILD_STATES),
        rollout_seconds: phase(&ROLLOUT_STATES),
        task_definition: details.task_definition,
        image: details.image,
        error: details.error.map(|error| match details.cause {
            Some(cause) => format!("{error}: {}", cause_message(&cause)),
            None => error,
        }),
        strategy: details.strategy,
        deployment: details.deployment,
        rolled_back_by: details.rolled_back_by,
        name: outcome.name,
        outcome: outcome.outcome,
        environments: outcome.environments,
    }
}

/// A Lambda error's cause is its `{"errorType", "errorMessage"}` as JSON: the message is enough.
pub(super) fn cause_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|value| value.get("errorMessage").and_then(Value::as_str).map(ToOwned::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}

/// An execution's history, and the services of its iterations (from its input), in order.
async fn execution_history(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<(Vec<Event>, Vec<String>), LocalError> {
    let failed = |call: &str, error: String| LocalError::Stack(format!("{call} {arn}: {error}"));
    let described = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|error| failed("DescribeExecution", aws_sdk_sfn::error::DisplayErrorContext(error).to_string()))?;
    let names = described
        .input()
        .and_then(|input| serde_json::from_str::<PipelineInput>(input).ok())
        .map(|input| input.services.into_iter().map(|job| job.name).collect())
        .unwrap_or_default();
    let mut pages = sfn.get_execution_history().execution_arn(arn).into_paginator().send();
    let mut events = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            failed("GetExecutionHistory", aws_sdk_sfn::error::DisplayErrorContext(error).to_string())
        })?;
        events.extend(page.events().iter().map(|event| {
            let entered = event.state_entered_event_details();
            let exited = event.state_exited_event_details();
            Event {
                id: event.id(),
                previous: event.previous_event_id(),
                kind: event.r#type().as_str().to_owned(),
                at: event.timestamp().as_secs_f64(),
                state: entered.map(|d| d.name().to_owned()).or_else(|| exited.map(|d| d.name().to_owned())),
                output: exited.and_then(|d| d.output()).map(ToOwned::to_owned),
                iteration: event.map_iteration_started_event_details().and_then(|d| usize::try_from(d.index()).ok()),
            }
        }));
    }
    events.sort_by_key(|event| event.id);
    Ok((events, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(state: &str, entered: f64, exited: f64) -> Step {
        Step { service: "users".into(), state: state.into(), entered, exited: Some(exited) }
    }

    #[test]
    fn phases_are_measured_from_the_states() {
        let steps = vec![
            step("Start build", 0.0, 0.1),
            step("Wait for build", 0.1, 4.2),
            step("Deploy", 4.2, 4.3),
            step("Wait for rollout", 4.3, 8.5),
            step("Deployed", 8.5, 8.5),
        ];
        let outcome: ServiceOutcome =
            serde_json::from_str(r#"{"name":"users","ok":true,"outcome":"deployed","strategy":"CANARY"}"#)
                .unwrap_or_else(|error| panic!("{error}"));
        let report = report(outcome, &steps);
        assert_eq!((report.build_seconds, report.rollout_seconds), (Some(4.2), Some(4.3)));
        assert_eq!(report.strategy.as_deref(), Some("CANARY"));
    }

    #[test]
    fn lambda_causes_read_as_their_message() {
        assert_eq!(cause_message(r#"{"errorType":"BuildFailed","errorMessage":"build x failed"}"#), "build x failed");
        assert_eq!(cause_message("plain"), "plain");
    }
}
