//! check-build: looks at a build once, and in wait mode waits for it by task token.
//!
//! - **Look mode** (no `task_token`; the state machine's look after a fallback timeout): a
//!   running build answers `IN_PROGRESS` with the next fallback timeout (as long as the build has
//!   run so far, within the configured bounds, never past deltaship's build deadline); a
//!   successful one answers `SUCCEEDED` with the image it pushed. A failed build is a
//!   `BuildFailed` error naming the phase and CodeBuild's reason; a build still running at its
//!   deadline is `DeadlineExceeded`.
//! - **Wait mode** (`task_token` given; a `.waitForTaskToken` task): stores the token in the
//!   waits table under the build's ARN (what `CodeBuild Build State Change` names), then looks
//!   once; a look that ends the build completes the wait at once (so a build that ended before
//!   the token was stored cannot strand it). Otherwise wake-waits completes it when the build's
//!   event comes (see [`deltaship_core::waits`]).

use aws_config::SdkConfig;
use deltaship_core::build::{BuildSnapshot, PhaseSnapshot, judge_build};
use deltaship_core::payloads::{BuildStatus, CheckBuildInput, CheckBuildOutput};
use deltaship_core::waits::{WaitKind, build_resource, expires_at, waiter};
use deltaship_core::{BuildVerdict, ErrorKind, Failure, WaitPolicy};

use crate::settings::{self, SettingsError, Source};
use crate::waits::{Looked, Record, Waits};
use crate::{Clock, Function, aws_error, codebuild, input};

const FUNCTION: &str = "check-build";

/// The check-build function.
#[derive(Debug, Clone)]
pub struct CheckBuild {
    codebuild: aws_sdk_codebuild::Client,
    waits: Waits,
    wait: WaitPolicy,
    clock: Clock,
}

impl CheckBuild {
    /// The function with the given clients and clock (tests pass mocks and a fixed time).
    pub fn from_clients(codebuild: aws_sdk_codebuild::Client, waits: Waits, wait: WaitPolicy, clock: Clock) -> Self {
        Self { codebuild, waits, wait, clock }
    }
}

impl Function for CheckBuild {
    const NAME: &'static str = FUNCTION;
    /// The fallback timeouts of a build wait, and the waits table.
    type Settings = (WaitPolicy, String);
    type Output = CheckBuildOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((settings::build_wait(source)?, settings::waits_table(source)?))
    }

    fn build(config: &SdkConfig, (wait, table): &Self::Settings) -> Self {
        let waits =
            Waits::from_clients(aws_sdk_dynamodb::Client::new(config), aws_sdk_sfn::Client::new(config), table.clone());
        Self::from_clients(aws_sdk_codebuild::Client::new(config), waits, *wait, crate::system_clock)
    }

    /// Looks at one build, or waits for it (wait mode).
    async fn handle(&self, payload: serde_json::Value) -> Result<CheckBuildOutput, Failure> {
        let mut input: CheckBuildInput = input::parse(FUNCTION, payload)?;
        input::require(FUNCTION, "build_id", &input.build_id)?;
        let Some(token) = input.task_token.take() else {
            return look(&self.codebuild, &input, (self.clock)(), self.wait).await.map(|looked| looked.output);
        };
        for (field, value) in [("build_arn", &input.build_arn), ("execution", &input.execution), ("name", &input.name)]
        {
            input::require(FUNCTION, field, value)?;
        }
        let now = (self.clock)();
        let record = Record {
            resource: build_resource(&input.build_arn),
            waiter: waiter(&input.execution, &input.name, WaitKind::Build),
            token,
            kind: WaitKind::Build,
            watch: serde_json::to_string(&input)
                .map_err(|error| Failure::new(ErrorKind::AwsError, format!("{FUNCTION}: {error}")))?,
            expires_at: expires_at(input.deadline.unwrap_or(now).max(now), self.wait.max_seconds),
        };
        self.waits.register_then_look(record, look(&self.codebuild, &input, now, self.wait)).await
    }
}

/// Looks at the build of `input` once, at `now`: in progress (with the next fallback timeout),
/// succeeded (done), or a failure.
pub(crate) async fn look(
    codebuild: &aws_sdk_codebuild::Client,
    input: &CheckBuildInput,
    now: i64,
    wait: WaitPolicy,
) -> Result<Looked<CheckBuildOutput>, Failure> {
    let build_id = &input.build_id;
    let found = codebuild
        .batch_get_builds()
        .ids(build_id)
        .send()
        .await
        .map_err(|err| aws_error::failure("BatchGetBuilds", build_id, &err, &[]))?;
    let build = found.builds().iter().find(|build| build.id() == Some(build_id.as_str())).ok_or_else(|| {
        Failure::new(ErrorKind::BuildNotFound, format!("BatchGetBuilds {build_id}: CodeBuild knows no such build"))
    })?;

    let snapshot = snapshot(build, now);
    let mut output = CheckBuildOutput {
        status: BuildStatus::InProgress,
        build_id: build_id.clone(),
        build_arn: build.arn().unwrap_or(&input.build_arn).to_owned(),
        deadline: input.deadline,
        wait_seconds: 0,
        phase: None,
        image: None,
        image_by_digest: None,
        deploy_image: None,
        build_url: codebuild::build_url(codebuild, build, build_id),
        logs_url: build.logs().and_then(|logs| logs.deep_link()).map(ToOwned::to_owned),
    };
    match judge_build(&snapshot, wait) {
        BuildVerdict::InProgress { phase, .. } if input.deadline.is_some_and(|deadline| now >= deadline) => {
            Err(Failure::new(
                ErrorKind::DeadlineExceeded,
                format!(
                    "build {build_id} did not finish by deltaship's deadline for it (build.timeout_minutes in the \
                     manifest); it was in phase {}",
                    phase.as_deref().unwrap_or("unknown")
                ),
            ))
        }
        BuildVerdict::InProgress { wait_seconds, phase } => {
            let remaining = input.deadline.map_or(u64::MAX, |deadline| u64::try_from(deadline - now).unwrap_or(0));
            output.wait_seconds = wait_seconds.min(u32::try_from(remaining).unwrap_or(u32::MAX)).max(1);
            output.phase = phase;
            Ok(Looked { output, done: false })
        }
        BuildVerdict::Succeeded { image } => {
            tracing::info!(build_id = output.build_id, image, "build succeeded");
            output.image_by_digest = deltaship_core::build::image_by_digest(&snapshot, &image)?;
            output.status = BuildStatus::Succeeded;
            output.deploy_image = Some(output.image_by_digest.clone().unwrap_or_else(|| image.clone()));
            output.image = Some(image);
            Ok(Looked { output, done: true })
        }
        BuildVerdict::Failed(failure) => Err(failure),
    }
}

pub(crate) fn snapshot(build: &aws_sdk_codebuild::types::Build, now: i64) -> BuildSnapshot {
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
