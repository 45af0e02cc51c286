//! detect-changes: the EventBridge target that plans a push and starts the pipeline.
//!
//! 1. The event becomes a [`Trigger`]; tags, deleted branches and merge-commit notices are
//!    ignored (logged, nothing started).
//! 2. `deltaship.toml` and every `services/<name>/service.toml` are read at the pushed commit;
//!    a branch the settings do not deploy is ignored.
//! 3. The changed paths come from `GetDifferences` between `oldCommitId` and `commitId` (every
//!    page); a branch's first push has no old commit and follows `first_push`.
//! 4. The core planner decides; a push that changes no service starts nothing.
//! 5. `StartExecution` with the deterministic name and the plan as input. A duplicate delivery of
//!    the same push finds its execution already there: that is success, not an error.
//!
//! With `DRY_RUN=true` it stops before step 5 and returns the execution input it would start.

use aws_config::SdkConfig;
use deltaship_core::pipeline::TARGET_INPUT_BYTES;
use deltaship_core::{Catalog, CatalogError, ErrorKind, Failure, PipelineInput, Push, Trigger, execution_name, links};
use serde::{Deserialize, Serialize};

use crate::aws_error;
use crate::codecommit;
use crate::settings::DetectSettings;

/// The function's name, in messages.
const FUNCTION: &str = "detect-changes";

/// What detect-changes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DetectStatus {
    /// It started the execution.
    Started,
    /// The execution for this push already exists (a duplicate delivery).
    AlreadyStarted,
    /// The push changes no service.
    NothingToDeploy,
    /// The event is not a push to deploy (a tag, a deleted branch, a branch not deployed, ...).
    Ignored,
    /// `DRY_RUN` is set: `input` is what it would have started.
    DryRun,
}

/// detect-changes' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectOutput {
    /// What it did.
    pub status: DetectStatus,
    /// The same in a sentence, also logged.
    pub message: String,
    /// The execution's name, when there is a plan.
    pub execution: Option<String>,
    /// The execution's ARN, when one was started or found.
    pub execution_arn: Option<String>,
    /// The planned services.
    pub services: Vec<String>,
    /// Services whose manifest the push deleted.
    pub removed: Vec<String>,
    /// The execution input, in a dry run.
    pub input: Option<PipelineInput>,
}

impl DetectOutput {
    fn without_plan(status: DetectStatus, message: String) -> Self {
        Self {
            status,
            message,
            execution: None,
            execution_arn: None,
            services: Vec::new(),
            removed: Vec::new(),
            input: None,
        }
    }
}

/// The detect-changes function.
#[derive(Debug, Clone)]
pub struct DetectChanges {
    codecommit: aws_sdk_codecommit::Client,
    sfn: aws_sdk_sfn::Client,
    settings: DetectSettings,
}

impl DetectChanges {
    /// The function with clients from `config`.
    pub fn new(config: &SdkConfig, settings: DetectSettings) -> Self {
        Self::from_clients(aws_sdk_codecommit::Client::new(config), aws_sdk_sfn::Client::new(config), settings)
    }

    /// The function with the given clients (tests pass mocks).
    pub fn from_clients(
        codecommit: aws_sdk_codecommit::Client,
        sfn: aws_sdk_sfn::Client,
        settings: DetectSettings,
    ) -> Self {
        Self { codecommit, sfn, settings }
    }

    /// Handles one EventBridge event.
    pub async fn handle(&self, payload: serde_json::Value) -> Result<DetectOutput, Failure> {
        let trigger = deltaship_core::parse_event_value(payload)
            .map_err(|error| Failure::invalid_input(format!("{FUNCTION} input: {error}")))?;
        let push = match trigger {
            Trigger::Push(push) => push,
            Trigger::Ignored(reason) => {
                let output = DetectOutput::without_plan(DetectStatus::Ignored, reason.to_string());
                tracing::info!(status = "IGNORED", "{}", output.message);
                return Ok(output);
            }
        };
        let output = self.plan_and_start(&push).await?;
        tracing::info!(
            repository = push.repository,
            branch = push.branch,
            commit = push.head.as_str(),
            execution = output.execution.as_deref(),
            "{}",
            output.message
        );
        Ok(output)
    }

    async fn plan_and_start(&self, push: &Push) -> Result<DetectOutput, Failure> {
        let (repository, head) = (push.repository.as_str(), &push.head);
        let (settings, manifests) = futures_util::future::try_join(
            codecommit::settings(&self.codecommit, repository, head),
            codecommit::manifests(&self.codecommit, repository, head, self.settings.manifest_concurrency),
        )
        .await?;
        let catalog = Catalog::load(settings.as_ref(), &manifests).map_err(|error| invalid_manifest(push, &error))?;
        if !catalog.settings().deploys_branch(&push.branch) {
            return Ok(DetectOutput::without_plan(
                DetectStatus::Ignored,
                format!(
                    "branch {} of {repository} does not deploy: deltaship.toml `branches` is {:?}",
                    push.branch,
                    catalog.settings().branches()
                ),
            ));
        }

        let changes = match &push.base {
            Some(base) => codecommit::changes(&self.codecommit, repository, base, head).await?,
            None => Vec::new(),
        };
        let plan = if push.base.is_some() { catalog.plan(&changes) } else { catalog.plan_first_push() };
        let name = execution_name(repository, &push.branch, head);
        let input = PipelineInput::new(push, name.clone(), &plan, self.settings.max_concurrency);
        let services: Vec<String> = input.services.iter().map(|job| job.name.clone()).collect();
        let removed = input.removed.clone();
        let summary = |verb: &str| {
            format!("{verb} {} of {repository}@{} ({}): {}", name, push.branch, head.short(), services.join(", "))
        };

        if services.is_empty() {
            let why = match &push.base {
                Some(_) if changes.len() == 1 => "the one changed path touches no service".to_owned(),
                Some(_) => format!("none of the {} changed paths touches a service", changes.len()),
                None => "first push of the branch and deltaship.toml says first_push = \"none\"".to_owned(),
            };
            let mut output = DetectOutput::without_plan(
                DetectStatus::NothingToDeploy,
                format!("nothing to deploy for {repository}@{} {}: {why}", push.branch, head.short()),
            );
            output.removed = removed;
            return Ok(output);
        }

        let (input, json) = input.fit(TARGET_INPUT_BYTES)?;
        let mut output = DetectOutput {
            status: DetectStatus::DryRun,
            message: summary("would start"),
            execution: Some(name.clone()),
            execution_arn: None,
            services: services.clone(),
            removed,
            input: None,
        };
        let Some(state_machine) = self.settings.state_machine_arn.as_deref().filter(|_| !self.settings.dry_run) else {
            output.input = Some(input);
            return Ok(output);
        };

        let started = self.sfn.start_execution().state_machine_arn(state_machine).name(&name).input(&json).send().await;
        match started {
            Ok(started) => {
                output.status = DetectStatus::Started;
                output.message = summary("started");
                output.execution_arn = Some(started.execution_arn().to_owned());
            }
            Err(err) if aws_error::code(&err) == Some("ExecutionAlreadyExists") => {
                let arn = self.same_execution(state_machine, &name, &json).await?;
                output.status = DetectStatus::AlreadyStarted;
                output.message = summary("already started (a duplicate delivery of the push)");
                output.execution_arn = Some(arn);
            }
            Err(err) => {
                return Err(aws_error::failure(
                    "StartExecution",
                    &name,
                    &err,
                    &[
                        ("StateMachineDoesNotExist", ErrorKind::AwsError),
                        ("InvalidExecutionInput", ErrorKind::PlanTooLarge),
                    ],
                ));
            }
        }
        Ok(output)
    }

    /// The ARN of the existing execution `name` if its input is `json`; an `ExecutionConflict`
    /// failure if it was started with other input.
    async fn same_execution(&self, state_machine: &str, name: &str, json: &str) -> Result<String, Failure> {
        let arn = links::execution_arn(state_machine, name).ok_or_else(|| {
            Failure::new(ErrorKind::AwsError, format!("STATE_MACHINE_ARN {state_machine:?} is not a state machine ARN"))
        })?;
        let existing = self
            .sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|err| aws_error::failure("DescribeExecution", &arn, &err, &[]))?;
        let same = match (existing.input(), serde_json::from_str::<serde_json::Value>(json)) {
            (Some(existing), Ok(ours)) => {
                serde_json::from_str::<serde_json::Value>(existing).is_ok_and(|existing| existing == ours)
            }
            _ => false,
        };
        if same {
            Ok(arn)
        } else {
            Err(Failure::new(
                ErrorKind::ExecutionConflict,
                format!(
                    "execution {name} already exists with a different input (status {}); start the pipeline for this \
                     commit by hand with another name if it must run again",
                    existing.status().as_str()
                ),
            ))
        }
    }
}

fn invalid_manifest(push: &Push, error: &CatalogError) -> Failure {
    Failure::new(
        ErrorKind::InvalidManifest,
        format!("the manifests of {}@{} ({}) are invalid:\n{error}", push.repository, push.branch, push.head.short()),
    )
}
