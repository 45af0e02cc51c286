//! start-build and check-build over a mocked CodeBuild: the build each starts (checked field by
//! field), and how each state of a build is reported.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use aws_sdk_codebuild::config::retry::RetryConfig;
use aws_sdk_codebuild::config::{Builder, Region};
use aws_sdk_codebuild::operation::batch_get_builds::{BatchGetBuildsError, BatchGetBuildsOutput};
use aws_sdk_codebuild::operation::start_build::{StartBuildError, StartBuildInput, StartBuildOutput};
use aws_sdk_codebuild::primitives::DateTime;
use aws_sdk_codebuild::types::error::ResourceNotFoundException;
use aws_sdk_codebuild::types::{
    Build, BuildPhase, BuildPhaseType, EnvironmentVariable, EnvironmentVariableType, ExportedEnvironmentVariable,
    LogsLocation, PhaseContext, StatusType,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use common::{NOW, Recorder, clock, meta, throttling};
use deltaship_aws::Function;
use deltaship_aws::check_build::CheckBuild;
use deltaship_aws::start_build::StartBuild;
use deltaship_core::payloads::{BuildStatus, CheckBuildOutput, StartBuildOutput as Started};
use deltaship_core::{ErrorKind, WaitPolicy, links};
use serde_json::{Value, json};

const NEW: &str = "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
const OTHER: &str = "26a8f2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5";
const ID: &str = "users-build:5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab";
const ARN: &str = "arn:aws:codebuild:eu-west-1:123456789012:build/users-build:5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab";
const IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
const LOGS: &str =
    "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logEvent:group=/aws/codebuild/users-build";

/// The service job detect-changes puts in the execution input for `users` at `commit`.
fn job(commit: &str) -> Value {
    json!({
        "name": "users",
        "repository": "shop-monorepo",
        "branch": "main",
        "commit": commit,
        "execution": "shop-monorepo-main-x",
        "pushed_at": 1_700_000_000,
        "project": "users-build",
        "cluster": "shop",
        "service": "users",
        "container": "app",
        "image_repository": "shop/users",
        "timeout_minutes": 12,
        "reasons": ["services/users/src/main.rs"],
        "more_reasons": 0
    })
}

fn codebuild(rules: &[&Rule]) -> aws_sdk_codebuild::Client {
    mock_client!(aws_sdk_codebuild, RuleMode::MatchAny, rules)
}

/// A client in `region` that tries each call at most `attempts` times, backing off a millisecond.
fn codebuild_with(rules: &[&Rule], region: &'static str, attempts: u32) -> aws_sdk_codebuild::Client {
    let configure = move |config: Builder| {
        config.region(Region::new(region)).retry_config(
            RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(1)),
        )
    };
    mock_client!(aws_sdk_codebuild, RuleMode::MatchAny, rules, configure)
}

// ---- start-build --------------------------------------------------------------------------------

/// StartBuild of `users-build`, recording each request; answers the build `ID`, with its ARN
/// when `with_arn`.
fn start_rule(seen: &Recorder<StartBuildInput>, with_arn: bool) -> Rule {
    let seen = seen.clone();
    mock!(aws_sdk_codebuild::Client::start_build)
        .match_requests(move |req| {
            seen.record(req);
            req.project_name() == Some("users-build")
        })
        .then_output(move || {
            let build = Build::builder()
                .id(ID)
                .set_arn(with_arn.then(|| ARN.to_owned()))
                .build_status(StatusType::InProgress)
                .current_phase("QUEUED")
                .start_time(DateTime::from_secs(NOW))
                .build();
            StartBuildOutput::builder().build_value(build).build()
        })
}

fn plaintext(name: &str, value: &str) -> EnvironmentVariable {
    EnvironmentVariable::builder().name(name).value(value).r#type(EnvironmentVariableType::Plaintext).build().unwrap()
}

#[tokio::test]
async fn start_build_pins_the_commit_and_passes_the_image_variables() {
    let seen = Recorder::default();
    let start = start_rule(&seen, true);
    // The client's region is not the build's: the link follows the build's ARN.
    let handler = StartBuild::from_client(codebuild_with(&[&start], "us-east-1", 1), WaitPolicy::BUILD);

    let output = handler.handle(job(NEW)).await.unwrap();

    assert_eq!(
        output,
        Started {
            build_id: ID.into(),
            build_url: links::build("eu-west-1", ID),
            wait_seconds: WaitPolicy::BUILD.min_seconds
        }
    );
    assert_eq!(output.wait_seconds, 60);
    assert!(output.build_url.starts_with("https://eu-west-1.console.aws.amazon.com/"), "{}", output.build_url);
    assert!(
        output.build_url.contains("/build/users-build%3A5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab/"),
        "{}",
        output.build_url
    );
    assert!(output.build_url.ends_with("?region=eu-west-1"), "{}", output.build_url);

    let request = seen.only();
    assert_eq!(request.project_name(), Some("users-build"));
    assert_eq!(request.source_version(), Some(NEW), "the full commit, never the branch");
    assert_eq!(
        request.environment_variables_override(),
        [
            plaintext("DELTASHIP_SERVICE", "users"),
            plaintext("DELTASHIP_COMMIT", NEW),
            plaintext("IMAGE_REPOSITORY", "shop/users"),
            plaintext("IMAGE_TAG", NEW),
        ]
    );
    let token = request.idempotency_token().unwrap();
    assert!(!token.trim().is_empty());
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn the_idempotency_token_is_the_same_for_the_same_job_only() {
    let seen = Recorder::default();
    let start = start_rule(&seen, true);
    let handler = StartBuild::from_client(codebuild(&[&start]), WaitPolicy::BUILD);

    handler.handle(job(NEW)).await.unwrap();
    // A retry of the state: the same job again.
    handler.handle(job(NEW)).await.unwrap();
    // Uppercase hex is the same commit.
    handler.handle(job(&NEW.to_ascii_uppercase())).await.unwrap();
    handler.handle(job(OTHER)).await.unwrap();
    let mut other_service = job(NEW);
    other_service["name"] = json!("products");
    other_service["image_repository"] = json!("shop/products");
    handler.handle(other_service).await.unwrap();

    let tokens: Vec<String> =
        seen.all().iter().map(|request| request.idempotency_token().unwrap().to_owned()).collect();
    assert_eq!(tokens.len(), 5);
    assert!(!tokens[0].is_empty());
    assert_eq!(tokens[0], tokens[1], "a retry must not start a second build");
    assert_eq!(tokens[0], tokens[2]);
    assert_ne!(tokens[0], tokens[3], "another commit is another build");
    assert_ne!(tokens[0], tokens[4], "another service is another build");
    assert_ne!(tokens[3], tokens[4]);
    assert_eq!(seen.all()[2].source_version(), Some(NEW), "the commit is normalised");
}

#[tokio::test]
async fn without_a_build_arn_the_link_uses_the_clients_region() {
    let start = start_rule(&Recorder::default(), false);
    let handler = StartBuild::from_client(
        codebuild_with(&[&start], "ap-southeast-2", 1),
        WaitPolicy { min_seconds: 10, max_seconds: 60 },
    );

    let output = handler.handle(job(NEW)).await.unwrap();

    assert_eq!(output.build_url, links::build("ap-southeast-2", ID));
    assert_eq!(output.wait_seconds, 10, "the policy's minimum");
}

#[tokio::test]
async fn a_missing_project_is_project_not_found() {
    let start = mock!(aws_sdk_codebuild::Client::start_build)
        .match_requests(|req| req.project_name() == Some("users-build"))
        .then_error(|| {
            let message = "Project cannot be found: arn:aws:codebuild:eu-west-1:123456789012:project/users-build";
            StartBuildError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message(message)
                    .meta(meta("ResourceNotFoundException", message))
                    .build(),
            )
        });
    let handler = StartBuild::from_client(codebuild(&[&start]), WaitPolicy::BUILD);

    let failure = handler.handle(job(NEW)).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::ProjectNotFound);
    assert_eq!(
        failure.message,
        "StartBuild users-build at 7f0103fa1b2c: ResourceNotFoundException: Project cannot be found: \
         arn:aws:codebuild:eu-west-1:123456789012:project/users-build"
    );
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn a_bad_job_is_invalid_input_and_starts_nothing() {
    let mut no_project = job(NEW);
    no_project["project"] = json!(" ");
    let mut no_commit = job(NEW);
    no_commit.as_object_mut().unwrap().remove("commit");
    let cases = [
        (job("main"), "start-build input, field `commit`: `main` is not a full commit id"),
        (job("7f0103f"), "start-build input, field `commit`: `7f0103f` is not a full commit id"),
        (no_project, "start-build input, field `project`: must not be empty"),
        (no_commit, "start-build input: missing field `commit`"),
        (json!("users"), "start-build input: expected a JSON object, got a string"),
    ];
    for (payload, message) in cases {
        // No rules: a StartBuild would fail the test.
        let failure = StartBuild::from_client(codebuild(&[]), WaitPolicy::BUILD).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert!(failure.message.starts_with(message), "{failure}");
    }
}

// ---- check-build --------------------------------------------------------------------------------

fn phase(kind: BuildPhaseType, status: Option<StatusType>, contexts: &[(&str, &str)]) -> BuildPhase {
    let mut phase = BuildPhase::builder().phase_type(kind).set_phase_status(status);
    for (code, message) in contexts {
        phase = phase.contexts(PhaseContext::builder().status_code(*code).message(*message).build());
    }
    phase.build()
}

fn done(kind: BuildPhaseType) -> BuildPhase {
    phase(kind, Some(StatusType::Succeeded), &[])
}

/// The build `ID` in `status`, started 50 seconds before the clock, in phase `current`.
fn build(status: StatusType, current: &str, phases: Vec<BuildPhase>) -> Build {
    Build::builder()
        .id(ID)
        .arn(ARN)
        .build_status(status)
        .current_phase(current)
        .start_time(DateTime::from_secs(NOW - 90))
        .set_phases(Some(phases))
        .logs(LogsLocation::builder().deep_link(LOGS).build())
        .build()
}

/// BatchGetBuilds of `ID` alone, answering `build`.
fn lookup(build: Build) -> Rule {
    mock!(aws_sdk_codebuild::Client::batch_get_builds)
        .match_requests(|req| req.ids() == [ID])
        .then_output(move || BatchGetBuildsOutput::builder().builds(build.clone()).build())
}

fn check(rules: &[&Rule]) -> CheckBuild {
    CheckBuild::from_client(codebuild(rules), WaitPolicy::BUILD, clock)
}

fn input() -> Value {
    json!({ "build_id": ID })
}

#[tokio::test]
async fn a_running_build_waits_as_long_as_it_has_run() {
    let phases = vec![
        done(BuildPhaseType::Submitted),
        done(BuildPhaseType::Provisioning),
        phase(BuildPhaseType::Build, None, &[]),
    ];
    let rule = lookup(build(StatusType::InProgress, "BUILD", phases));

    let output = check(&[&rule]).handle(input()).await.unwrap();

    assert_eq!(
        output,
        CheckBuildOutput {
            status: BuildStatus::InProgress,
            build_id: ID.into(),
            wait_seconds: 90,
            phase: Some("BUILD".into()),
            image: None,
            build_url: links::build("eu-west-1", ID),
            logs_url: Some(LOGS.into()),
        }
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_successful_build_gives_the_image_it_exported() {
    let mut succeeded =
        build(StatusType::Succeeded, "COMPLETED", vec![done(BuildPhaseType::Build), done(BuildPhaseType::PostBuild)]);
    succeeded.exported_environment_variables =
        Some(vec![ExportedEnvironmentVariable::builder().name("IMAGE_URI").value(IMAGE).build()]);
    let rule = lookup(succeeded);

    let output = check(&[&rule]).handle(input()).await.unwrap();

    assert_eq!(
        output,
        CheckBuildOutput {
            status: BuildStatus::Succeeded,
            build_id: ID.into(),
            wait_seconds: 0,
            phase: None,
            image: Some(IMAGE.into()),
            build_url: links::build("eu-west-1", ID),
            logs_url: Some(LOGS.into()),
        }
    );
}

#[tokio::test]
async fn failed_stopped_and_timed_out_builds_are_build_failed_with_phase_and_reason() {
    let failed = build(
        StatusType::Failed,
        "COMPLETED",
        vec![
            done(BuildPhaseType::Install),
            phase(
                BuildPhaseType::Build,
                Some(StatusType::Failed),
                &[("COMMAND_EXECUTION_ERROR", "Error while executing command: docker build .. Reason: exit status 1")],
            ),
            done(BuildPhaseType::PostBuild),
        ],
    );
    let stopped = build(
        StatusType::Stopped,
        "COMPLETED",
        vec![done(BuildPhaseType::Install), phase(BuildPhaseType::Build, Some(StatusType::Stopped), &[])],
    );
    let timed_out = build(
        StatusType::TimedOut,
        "COMPLETED",
        vec![phase(BuildPhaseType::Build, Some(StatusType::TimedOut), &[("BUILD_TIMED_OUT", "Build has timed out. ")])],
    );
    let cases = [
        (
            failed,
            format!(
                "build {ID} failed in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: docker \
                 build .. Reason: exit status 1"
            ),
        ),
        (stopped, format!("build {ID} was stopped in phase BUILD")),
        (timed_out, format!("build {ID} timed out in phase BUILD: BUILD_TIMED_OUT: Build has timed out.")),
    ];
    for (build, message) in cases {
        let rule = lookup(build);
        let failure = check(&[&rule]).handle(input()).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::BuildFailed, "{failure}");
        assert_eq!(failure.message, message);
        assert_eq!(rule.num_calls(), 1);
    }
}

#[tokio::test]
async fn an_unknown_build_is_build_not_found() {
    let rule = mock!(aws_sdk_codebuild::Client::batch_get_builds)
        .match_requests(|req| req.ids() == [ID])
        .then_output(|| BatchGetBuildsOutput::builder().builds_not_found(ID).build());

    let failure = check(&[&rule]).handle(input()).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::BuildNotFound);
    assert_eq!(failure.message, format!("BatchGetBuilds {ID}: CodeBuild knows no such build"));
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_bad_check_input_is_invalid_and_calls_nothing() {
    for (payload, message) in [
        (json!({}), "check-build input: missing field `build_id`"),
        (json!({ "build_id": "" }), "check-build input, field `build_id`: must not be empty"),
        (json!({ "build_id": 7 }), "check-build input, field `build_id`: invalid type: integer `7`"),
    ] {
        let failure = check(&[]).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert!(failure.message.starts_with(message), "{failure}");
    }
}

/// BatchGetBuilds throttled twice, then answering a running build.
fn throttled_twice() -> Rule {
    mock!(aws_sdk_codebuild::Client::batch_get_builds)
        .match_requests(|req| req.ids() == [ID])
        .sequence()
        .error(|| BatchGetBuildsError::generic(throttling()))
        .times(2)
        .output(|| BatchGetBuildsOutput::builder().builds(build(StatusType::InProgress, "BUILD", vec![])).build())
        .build()
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let rule = throttled_twice();
    let handler = CheckBuild::from_client(codebuild_with(&[&rule], "eu-west-1", 3), WaitPolicy::BUILD, clock);

    let output = handler.handle(input()).await.unwrap();

    assert_eq!(output.status, BuildStatus::InProgress);
    assert_eq!(output.wait_seconds, 90);
    assert_eq!(rule.num_calls(), 3, "two throttled attempts and the one that answered");
}

#[tokio::test]
async fn throttling_past_the_sdks_retries_is_throttled() {
    let rule = throttled_twice();
    let handler = CheckBuild::from_client(codebuild_with(&[&rule], "eu-west-1", 1), WaitPolicy::BUILD, clock);

    let failure = handler.handle(input()).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert!(failure.kind.is_retryable());
    assert_eq!(failure.message, format!("BatchGetBuilds {ID}: ThrottlingException: Rate exceeded"));
    assert_eq!(rule.num_calls(), 1);
}
