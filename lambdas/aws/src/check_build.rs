//! check-build: looks at a build once and says whether it is running, succeeded, or failed.
//!
//! A running build answers `IN_PROGRESS` with the seconds to wait before the next look (as long
//! as the build has run so far, within the configured bounds). A successful one answers
//! `SUCCEEDED` with the image it pushed. Anything else is a `BuildFailed` error naming the phase
//! and CodeBuild's reason.

use aws_config::SdkConfig;
use deltaship_core::build::{BuildSnapshot, PhaseSnapshot, judge_build};
use deltaship_core::payloads::{BuildStatus, CheckBuildInput, CheckBuildOutput};
use deltaship_core::{BuildVerdict, ErrorKind, Failure, WaitPolicy};

use crate::settings::{self, SettingsError, Source};
use crate::{Clock, Function, aws_error, codebuild, input};

const FUNCTION: &str = "check-build";

/// The check-build function.
#[derive(Debug, Clone)]
pub struct CheckBuild {
    codebuild: aws_sdk_codebuild::Client,
    wait: WaitPolicy,
    clock: Clock,
}

impl CheckBuild {
    /// The function with the given client and clock (tests pass a mock and a fixed time).
    pub fn from_client(codebuild: aws_sdk_codebuild::Client, wait: WaitPolicy, clock: Clock) -> Self {
        Self { codebuild, wait, clock }
    }
}

impl Function for CheckBuild {
    const NAME: &'static str = FUNCTION;
    /// The wait between looks at a build.
    type Settings = WaitPolicy;
    type Output = CheckBuildOutput;

    fn read_settings(source: &dyn Source) -> Result<WaitPolicy, SettingsError> {
        settings::build_wait(source)
    }

    fn build(config: &SdkConfig, wait: &WaitPolicy) -> Self {
        Self::from_client(aws_sdk_codebuild::Client::new(config), *wait, crate::system_clock)
    }

    /// Looks at one build.
    async fn handle(&self, payload: serde_json::Value) -> Result<CheckBuildOutput, Failure> {
        let CheckBuildInput { build_id } = input::parse(FUNCTION, payload)?;
        input::require(FUNCTION, "build_id", &build_id)?;
        let found = self
            .codebuild
            .batch_get_builds()
            .ids(&build_id)
            .send()
            .await
            .map_err(|err| aws_error::failure("BatchGetBuilds", &build_id, &err, &[]))?;
        let build = found.builds().iter().find(|build| build.id() == Some(build_id.as_str())).ok_or_else(|| {
            Failure::new(ErrorKind::BuildNotFound, format!("BatchGetBuilds {build_id}: CodeBuild knows no such build"))
        })?;

        let snapshot = snapshot(build, (self.clock)());
        let mut output = CheckBuildOutput {
            status: BuildStatus::InProgress,
            build_url: codebuild::build_url(&self.codebuild, build, &build_id),
            logs_url: build.logs().and_then(|logs| logs.deep_link()).map(ToOwned::to_owned),
            build_id,
            wait_seconds: 0,
            phase: None,
            image: None,
        };
        match judge_build(&snapshot, self.wait) {
            BuildVerdict::InProgress { wait_seconds, phase } => {
                output.wait_seconds = wait_seconds;
                output.phase = phase;
            }
            BuildVerdict::Succeeded { image } => {
                tracing::info!(build_id = output.build_id, image, "build succeeded");
                output.status = BuildStatus::Succeeded;
                output.image = Some(image);
            }
            BuildVerdict::Failed(failure) => return Err(failure),
        }
        Ok(output)
    }
}

fn snapshot(build: &aws_sdk_codebuild::types::Build, now: i64) -> BuildSnapshot {
    let pairs = |variables: &[aws_sdk_codebuild::types::EnvironmentVariable]| {
        variables
            .iter()
            .filter(|variable| {
                variable
                    .r#type()
                    .is_none_or(|kind| *kind == aws_sdk_codebuild::types::EnvironmentVariableType::Plaintext)
            })
            .map(|variable| (variable.name().to_owned(), variable.value().to_owned()))
            .collect()
    };
    BuildSnapshot {
        id: build.id().unwrap_or_default().to_owned(),
        arn: build.arn().map(ToOwned::to_owned),
        status: build.build_status().map(|status| status.as_str().to_owned()).unwrap_or_default(),
        current_phase: build.current_phase().map(ToOwned::to_owned),
        phases: build
            .phases()
            .iter()
            .map(|phase| PhaseSnapshot {
                name: phase.phase_type().map(|kind| kind.as_str().to_owned()).unwrap_or_default(),
                status: phase.phase_status().map(|status| status.as_str().to_owned()),
                messages: phase
                    .contexts()
                    .iter()
                    .map(|context| match (context.status_code(), context.message()) {
                        (Some(code), Some(message)) if !message.starts_with(code) => format!("{code}: {message}"),
                        (_, Some(message)) => message.to_owned(),
                        (Some(code), None) => code.to_owned(),
                        (None, None) => String::new(),
                    })
                    .collect(),
            })
            .collect(),
        exported: build
            .exported_environment_variables()
            .iter()
            .filter_map(|variable| Some((variable.name()?.to_owned(), variable.value()?.to_owned())))
            .collect(),
        environment: build
            .environment()
            .map(|environment| pairs(environment.environment_variables()))
            .unwrap_or_default(),
        elapsed_seconds: build.start_time().map_or(0, |start| u64::try_from(now - start.secs()).unwrap_or(0)),
    }
}
