//! start-build: starts the service's CodeBuild project on the pushed commit.
//!
//! The build is pinned to the commit (`sourceVersion`), never to the branch, so a later push
//! cannot change what this execution deploys. It gets the variables the buildspec uses
//! (`DELTASHIP_SERVICE`, `DELTASHIP_COMMIT`, `IMAGE_REPOSITORY`, `IMAGE_TAG` = the commit), and an
//! idempotency token derived from the service and the commit, so that a retried call within
//! CodeBuild's five-minute window returns the same build instead of starting a second one.
//!
//! It answers the build as a look would, in progress (see [`crate::check_build`]): its id and ARN,
//! deltaship's deadline for it (the manifest's `build.timeout_minutes` after its start) and the
//! first fallback timeout of the wait for its event.

use aws_config::SdkConfig;
use aws_sdk_codebuild::types::{EnvironmentVariable, EnvironmentVariableType};
use deltaship_core::build::{COMMIT_VARIABLE, IMAGE_REPOSITORY_VARIABLE, IMAGE_TAG_VARIABLE, SERVICE_VARIABLE};
use deltaship_core::naming::build_token;
use deltaship_core::payloads::{BuildStatus, CheckBuildOutput};
use deltaship_core::{CommitId, ErrorKind, Failure, Scope, ServiceJob, WaitPolicy};

use crate::settings::{self, SettingsError, Source};
use crate::{Clock, Function, aws_error, codebuild, input};

const FUNCTION: &str = "start-build";

/// The start-build function.
#[derive(Debug, Clone)]
pub struct StartBuild {
    codebuild: aws_sdk_codebuild::Client,
    wait: WaitPolicy,
    scope: Scope,
    clock: Clock,
}

impl StartBuild {
    /// The function with the given client and clock (tests pass a mock and a fixed time).
    pub fn from_client(codebuild: aws_sdk_codebuild::Client, wait: WaitPolicy, clock: Clock) -> Self {
        Self { codebuild, wait, scope: Scope::default(), clock }
    }

    /// The same function, refusing what `scope` does not allow (the template's `BuildProjectPrefix`).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }
}

impl Function for StartBuild {
    const NAME: &'static str = FUNCTION;
    /// The wait before the first look at the build, and what it may touch.
    type Settings = (WaitPolicy, Scope);
    type Output = CheckBuildOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((settings::build_wait(source)?, settings::scope(source)))
    }

    fn build(config: &SdkConfig, (wait, scope): &Self::Settings) -> Self {
        Self::from_client(aws_sdk_codebuild::Client::new(config), *wait, crate::system_clock).with_scope(scope.clone())
    }

    /// Starts the build of one [`ServiceJob`].
    async fn handle(&self, payload: serde_json::Value) -> Result<CheckBuildOutput, Failure> {
        let job: ServiceJob = input::parse(FUNCTION, payload)?;
        input::require(FUNCTION, "project", &job.project)?;
        input::require(FUNCTION, "image_repository", &job.image_repository)?;
        self.scope.check_project(&job.project)?;
        let commit = CommitId::parse(&job.commit)
            .map_err(|error| Failure::invalid_input(format!("{FUNCTION} input, field `commit`: {error}")))?;

        let variables = [
            (SERVICE_VARIABLE, job.name.as_str()),
            (COMMIT_VARIABLE, commit.as_str()),
            (IMAGE_REPOSITORY_VARIABLE, job.image_repository.as_str()),
            (IMAGE_TAG_VARIABLE, commit.as_str()),
        ]
        .into_iter()
        .map(|(name, value)| {
            EnvironmentVariable::builder()
                .name(name)
                .value(value)
                .r#type(EnvironmentVariableType::Plaintext)
                .build()
                .map_err(|error| Failure::invalid_input(format!("{FUNCTION}: variable {name}: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;

        let token = build_token(&job.project, &job.name, &commit);
        let started = self
            .codebuild
            .start_build()
            .project_name(&job.project)
            .source_version(commit.as_str())
            .set_environment_variables_override(Some(variables))
            .idempotency_token(token)
            .send()
            .await
            .map_err(|err| {
                aws_error::failure(
                    "StartBuild",
                    &format!("{} at {}", job.project, commit.short()),
                    &err,
                    &[("ResourceNotFoundException", ErrorKind::ProjectNotFound)],
                )
            })?;
        let build = started.build_value().ok_or_else(|| {
            Failure::new(ErrorKind::AwsError, format!("StartBuild {}: the answer names no build", job.project))
        })?;
        let build_id = build
            .id()
            .ok_or_else(|| {
                Failure::new(ErrorKind::AwsError, format!("StartBuild {}: the build has no id", job.project))
            })?
            .to_owned();
        let build_arn = build
            .arn()
            .ok_or_else(|| {
                Failure::new(ErrorKind::AwsError, format!("StartBuild {}: the build has no ARN", job.project))
            })?
            .to_owned();
        tracing::info!(service = job.name, build_id, commit = commit.as_str(), "started build");
        let started_at = build.start_time().map_or_else(self.clock, |at| at.secs());
        let deadline = started_at + i64::from(job.build_timeout_minutes) * 60;
        Ok(CheckBuildOutput {
            status: BuildStatus::InProgress,
            build_url: codebuild::build_url(&self.codebuild, build, &build_id),
            build_id,
            build_arn,
            deadline: Some(deadline),
            wait_seconds: self.wait.next_before(0, u64::try_from(deadline - (self.clock)()).unwrap_or(0)),
            phase: build.current_phase().map(ToOwned::to_owned),
            image: None,
            image_by_digest: None,
            deploy_image: None,
            logs_url: None,
        })
    }
}
