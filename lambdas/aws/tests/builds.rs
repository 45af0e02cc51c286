//! start-build and check-build over a mocked CodeBuild (and, for check-build's wait mode, a mocked
//! waits table and Step Functions): the build each starts (checked field by field), how each
//! state of a build is reported, and how a wait registers its token before it looks and
//! completes it when the look is terminal.

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
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use common::{CallLog, MockWaits, NOW, Recorder, TokenAnswer, clock, meta, throttling};
use deltaship_aws::Function;
use deltaship_aws::check_build::CheckBuild;
use deltaship_aws::start_build::StartBuild;
use deltaship_core::payloads::{BuildStatus, CheckBuildOutput};
use deltaship_core::{ErrorKind, WaitPolicy, links};
use serde_json::{Value, json};

/// A back-off policy (a minimum below the maximum), so the answers' `wait_seconds` show how
/// long the thing has run; the defaults are flat (`WaitPolicy::BUILD`).
const BUILD_WAIT: WaitPolicy = WaitPolicy { min_seconds: 60, max_seconds: 300 };

const NEW: &str = "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
const OTHER: &str = "26a8f2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5";
const ID: &str = "users-build:5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab";
const ARN: &str = "arn:aws:codebuild:eu-west-1:123456789012:build/users-build:5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab";
const IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
const LOGS: &str =
    "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logEvent:group=/aws/codebuild/users-build";
const EXECUTION: &str = "shop-monorepo-main-x";
/// deltaship's deadline for the build in the check tests: 50 minutes from the clock.
const DEADLINE: i64 = NOW + 3000;
/// The callback task's token.
const TOKEN: &str = "AQB8AAAAKgAAAAMAAAAAAAAAAe2Q+token";

/// The service job detect-changes puts in the execution input for `users` at `commit`.
fn job(commit: &str) -> Value {
    json!({
        "name": "users",
        "repository": "shop-monorepo",
        "branch": "main",
        "commit": commit,
        "execution": EXECUTION,
        "pushed_at": 1_700_000_000,
        "project": "users-build",
        "cluster": "shop",
        "service": "users",
        "container": "app",
        "image_repository": "shop/users",
        "timeout_minutes": 12,
        "build_timeout_minutes": 45,
        "reasons": ["services/users/src/main.rs"],
        "more_reasons": 0
    })
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

/// A client in eu-west-1 that tries each call once.
fn codebuild(rules: &[&Rule]) -> aws_sdk_codebuild::Client {
    codebuild_with(rules, "eu-west-1", 1)
}

// ---- start-build --------------------------------------------------------------------------------

/// The build StartBuild answers: `ID`, queued, started `started` (when given), with its ARN when
/// `with_arn`.
fn queued(with_arn: bool, started: Option<i64>) -> Build {
    Build::builder()
        .id(ID)
        .set_arn(with_arn.then(|| ARN.to_owned()))
        .build_status(StatusType::InProgress)
        .current_phase("QUEUED")
        .set_start_time(started.map(DateTime::from_secs))
        .build()
}

/// StartBuild of `users-build`, recording each request; answers `build`.
fn start_rule(seen: &Recorder<StartBuildInput>, build: Build) -> Rule {
    let seen = seen.clone();
    mock!(aws_sdk_codebuild::Client::start_build)
        .match_requests(move |req| {
            seen.record(req);
            req.project_name() == Some("users-build")
        })
        .then_output(move || StartBuildOutput::builder().build_value(build.clone()).build())
}

fn plaintext(name: &str, value: &str) -> EnvironmentVariable {
    EnvironmentVariable::builder().name(name).value(value).r#type(EnvironmentVariableType::Plaintext).build().unwrap()
}

fn starter(rules: &[&Rule]) -> StartBuild {
    StartBuild::from_client(codebuild(rules), BUILD_WAIT, clock)
}

#[tokio::test]
async fn start_build_pins_the_commit_and_answers_a_build_in_progress() {
    let seen = Recorder::default();
    let start = start_rule(&seen, queued(true, Some(NOW - 5)));
    // The client's region is not the build's: the link follows the build's ARN.
    let handler = StartBuild::from_client(codebuild_with(&[&start], "us-east-1", 1), BUILD_WAIT, clock);

    let output = handler.handle(job(NEW)).await.unwrap();

    // The deadline is the manifest's build.timeout_minutes (45) after the build's start.
    let deadline = NOW - 5 + 45 * 60;
    assert_eq!(
        output,
        CheckBuildOutput {
            status: BuildStatus::InProgress,
            build_id: ID.into(),
            build_arn: ARN.into(),
            deadline: Some(deadline),
            wait_seconds: BUILD_WAIT.min_seconds,
            phase: Some("QUEUED".into()),
            image: None,
            image_by_digest: None,
            deploy_image: None,
            build_url: links::build("eu-west-1", ID),
            logs_url: None,
        }
    );
    // The state machine reads every field, null or not.
    assert_eq!(
        serde_json::to_value(&output).unwrap(),
        json!({
            "status": "IN_PROGRESS",
            "build_id": ID,
            "build_arn": ARN,
            "deadline": deadline,
            "wait_seconds": 60,
            "phase": "QUEUED",
            "image": null,
            "image_by_digest": null,
            "deploy_image": null,
            "build_url": links::build("eu-west-1", ID),
            "logs_url": null
        })
    );
    assert!(output.build_url.starts_with("https://eu-west-1.console.aws.amazon.com/"), "{}", output.build_url);
    assert!(
        output.build_url.contains("/build/users-build%3A5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab/"),
        "{}",
        output.build_url
    );

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
async fn the_build_deadline_defaults_to_an_hour_and_caps_the_first_wait() {
    // No build.timeout_minutes in the job (an execution started before it existed), and CodeBuild
    // gives no start time: an hour from the clock.
    let mut old_job = job(NEW);
    old_job.as_object_mut().unwrap().remove("build_timeout_minutes");
    let start = start_rule(&Recorder::default(), queued(true, None));
    let output = starter(&[&start]).handle(old_job).await.unwrap();
    assert_eq!((output.deadline, output.wait_seconds), (Some(NOW + 3600), 60));

    // A one-minute build deadline, the build started 30 s ago: the first wait ends at the deadline.
    let mut short = job(NEW);
    short["build_timeout_minutes"] = json!(1);
    let start = start_rule(&Recorder::default(), queued(true, Some(NOW - 30)));
    let output = starter(&[&start]).handle(short).await.unwrap();
    assert_eq!((output.deadline, output.wait_seconds), (Some(NOW + 30), 30));
}

#[tokio::test]
async fn the_idempotency_token_is_the_same_for_the_same_job_only() {
    let seen = Recorder::default();
    let start = start_rule(&seen, queued(true, Some(NOW)));
    let handler = starter(&[&start]);

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
async fn an_answer_without_the_build_its_id_or_its_arn_is_an_aws_error() {
    let no_build = mock!(aws_sdk_codebuild::Client::start_build).then_output(|| StartBuildOutput::builder().build());
    let no_id = mock!(aws_sdk_codebuild::Client::start_build).then_output(|| {
        StartBuildOutput::builder()
            .build_value(Build::builder().arn(ARN).build_status(StatusType::InProgress).build())
            .build()
    });
    let no_arn = start_rule(&Recorder::default(), queued(false, Some(NOW)));
    let cases = [
        (&no_build, "StartBuild users-build: the answer names no build"),
        (&no_id, "StartBuild users-build: the build has no id"),
        (&no_arn, "StartBuild users-build: the build has no ARN"),
    ];
    for (rule, message) in cases {
        let failure = starter(&[rule]).handle(job(NEW)).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::AwsError, "{failure}");
        assert_eq!(failure.message, message);
        assert_eq!(rule.num_calls(), 1);
    }
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

    let failure = starter(&[&start]).handle(job(NEW)).await.unwrap_err();

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
        let failure = starter(&[]).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert!(failure.message.starts_with(message), "{failure}");
    }
}

// ---- check-build: look mode ---------------------------------------------------------------------

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

/// The build `ID` in `status`, started 90 seconds before the clock, in phase `current`.
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

fn running() -> Build {
    let phases = vec![
        done(BuildPhaseType::Submitted),
        done(BuildPhaseType::Provisioning),
        phase(BuildPhaseType::Build, None, &[]),
    ];
    build(StatusType::InProgress, "BUILD", phases)
}

fn succeeded() -> Build {
    let mut succeeded =
        build(StatusType::Succeeded, "COMPLETED", vec![done(BuildPhaseType::Build), done(BuildPhaseType::PostBuild)]);
    succeeded.exported_environment_variables =
        Some(vec![ExportedEnvironmentVariable::builder().name("IMAGE_URI").value(IMAGE).build()]);
    succeeded
}

fn failed() -> Build {
    build(
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
    )
}

const FAILED_MESSAGE: &str = "build users-build:5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab failed in phase BUILD: \
                              COMMAND_EXECUTION_ERROR: Error while executing command: docker build .. Reason: exit \
                              status 1";

/// BatchGetBuilds of `ID` alone, answering `build` (logged in `log`).
fn lookup_logged(log: &CallLog, build: Build) -> Rule {
    let log = log.clone();
    mock!(aws_sdk_codebuild::Client::batch_get_builds).match_requests(|req| req.ids() == [ID]).then_compute_output(
        move |_| {
            log.record(&"BatchGetBuilds");
            BatchGetBuildsOutput::builder().builds(build.clone()).build()
        },
    )
}

/// BatchGetBuilds of `ID` alone, answering `build`.
fn lookup(build: Build) -> Rule {
    lookup_logged(&CallLog::default(), build)
}

/// BatchGetBuilds of `ID` answering that CodeBuild knows no such build (logged in `log`).
fn unknown_logged(log: &CallLog) -> Rule {
    let log = log.clone();
    mock!(aws_sdk_codebuild::Client::batch_get_builds).match_requests(|req| req.ids() == [ID]).then_compute_output(
        move |_| {
            log.record(&"BatchGetBuilds");
            BatchGetBuildsOutput::builder().builds_not_found(ID).build()
        },
    )
}

/// BatchGetBuilds throttled (logged in `log`).
fn throttled_logged(log: &CallLog) -> Rule {
    let log = log.clone();
    mock!(aws_sdk_codebuild::Client::batch_get_builds).then_compute_response(move |_| {
        log.record(&"BatchGetBuilds");
        MockResponse::Error(BatchGetBuildsError::generic(throttling()))
    })
}

/// A check-build whose waits table is unused: a look-mode call that touched it would fail the
/// test (its rules answer nothing).
fn check(rules: &[&Rule]) -> CheckBuild {
    CheckBuild::from_clients(codebuild(rules), common::waits(&[], &[]), BUILD_WAIT, clock)
}

/// The look-mode input: start-build's answer as the state machine passes it on.
fn look_input(deadline: Option<i64>) -> Value {
    json!({ "build_id": ID, "build_arn": ARN, "deadline": deadline, "name": "users", "execution": EXECUTION })
}

/// What check-build answers for the build `ID` when it has not failed.
fn answer(status: BuildStatus, wait_seconds: u32, phase: Option<&str>, image: Option<&str>) -> CheckBuildOutput {
    CheckBuildOutput {
        status,
        build_id: ID.into(),
        build_arn: ARN.into(),
        deadline: Some(DEADLINE),
        wait_seconds,
        phase: phase.map(Into::into),
        image: image.map(Into::into),
        image_by_digest: None,
        // Without IMAGE_DIGEST, every environment's image is the tagged one.
        deploy_image: image.map(Into::into),
        build_url: links::build("eu-west-1", ID),
        logs_url: Some(LOGS.into()),
    }
}

#[tokio::test]
async fn a_running_build_waits_as_long_as_it_has_run_but_not_past_its_deadline() {
    let rule = lookup(running());

    let output = check(&[&rule]).handle(look_input(Some(DEADLINE))).await.unwrap();
    assert_eq!(output, answer(BuildStatus::InProgress, 90, Some("BUILD"), None));

    // Twenty seconds before the deadline: the next look is at the deadline.
    let output = check(&[&rule]).handle(look_input(Some(NOW + 20))).await.unwrap();
    assert_eq!((output.wait_seconds, output.deadline), (20, Some(NOW + 20)));

    // No deadline of deltaship's own (CodeBuild's timeout still ends the build).
    let output = check(&[&rule]).handle(json!({ "build_id": ID })).await.unwrap();
    assert_eq!((output.wait_seconds, output.deadline, output.build_arn.as_str()), (90, None, ARN));
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn a_build_without_an_arn_keeps_the_inputs_and_links_in_the_clients_region() {
    let mut anonymous = running();
    anonymous.arn = None;
    let rule = lookup(anonymous);
    let handler = CheckBuild::from_clients(
        codebuild_with(&[&rule], "ap-southeast-2", 1),
        common::waits(&[], &[]),
        BUILD_WAIT,
        clock,
    );

    let output = handler.handle(look_input(Some(DEADLINE))).await.unwrap();

    assert_eq!(output.build_arn, ARN, "the ARN start-build gave");
    assert_eq!(output.build_url, links::build("ap-southeast-2", ID));
}

#[tokio::test]
async fn a_successful_build_gives_the_image_it_exported_even_past_the_deadline() {
    let rule = lookup(succeeded());

    let output = check(&[&rule]).handle(look_input(Some(DEADLINE))).await.unwrap();
    assert_eq!(output, answer(BuildStatus::Succeeded, 0, None, Some(IMAGE)));

    // It ended after deltaship stopped waiting for it: it still deploys.
    let output = check(&[&rule]).handle(look_input(Some(NOW - 60))).await.unwrap();
    assert_eq!((output.status, output.image.as_deref()), (BuildStatus::Succeeded, Some(IMAGE)));
}

#[tokio::test]
async fn a_build_that_exports_its_digest_gives_the_image_by_digest_for_later_environments() {
    let digest = format!("sha256:{}", "5e".repeat(32));
    let mut with_digest = succeeded();
    with_digest.exported_environment_variables = Some(vec![
        ExportedEnvironmentVariable::builder().name("IMAGE_URI").value(IMAGE).build(),
        ExportedEnvironmentVariable::builder().name("IMAGE_DIGEST").value(&digest).build(),
    ]);
    let rule = lookup(with_digest);
    let output = check(&[&rule]).handle(look_input(Some(DEADLINE))).await.unwrap();
    let repository = IMAGE.rsplit_once(':').unwrap().0;
    assert_eq!(output.image_by_digest, Some(format!("{repository}@{digest}")));
    assert_eq!(output.image.as_deref(), Some(IMAGE), "the tag, as the buildspec exported it");
    assert_eq!(output.deploy_image, output.image_by_digest, "every environment deploys the digest");

    // A digest that is not one: the build is not taken as a success.
    let mut broken = succeeded();
    broken.exported_environment_variables = Some(vec![
        ExportedEnvironmentVariable::builder().name("IMAGE_URI").value(IMAGE).build(),
        ExportedEnvironmentVariable::builder().name("IMAGE_DIGEST").value("None").build(),
    ]);
    let rule = lookup(broken);
    let failure = check(&[&rule]).handle(look_input(Some(DEADLINE))).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::BuildFailed, "{failure}");
}

#[tokio::test]
async fn failed_stopped_and_timed_out_builds_are_build_failed_with_phase_and_reason() {
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
        (failed(), FAILED_MESSAGE.to_owned()),
        (stopped, format!("build {ID} was stopped in phase BUILD")),
        (timed_out, format!("build {ID} timed out in phase BUILD: BUILD_TIMED_OUT: Build has timed out.")),
    ];
    for (build, message) in cases {
        let rule = lookup(build);
        let failure = check(&[&rule]).handle(look_input(Some(DEADLINE))).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::BuildFailed, "{failure}");
        assert_eq!(failure.message, message);
        assert_eq!(rule.num_calls(), 1);
    }
}

#[tokio::test]
async fn a_build_running_at_or_after_its_deadline_is_deadline_exceeded() {
    for deadline in [NOW, NOW - 100] {
        let rule = lookup(running());
        let failure = check(&[&rule]).handle(look_input(Some(deadline))).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::DeadlineExceeded, "{failure}");
        assert_eq!(
            failure.message,
            format!(
                "build {ID} did not finish by deltaship's deadline for it (build.timeout_minutes in the manifest); it \
                 was in phase BUILD"
            )
        );
    }
}

#[tokio::test]
async fn an_unknown_build_is_build_not_found() {
    let rule = unknown_logged(&CallLog::default());

    let failure = check(&[&rule]).handle(look_input(Some(DEADLINE))).await.unwrap_err();

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
        (json!({ "build_id": ID, "deadline": "soon" }), "check-build input, field `deadline`: invalid type"),
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
        .output(|| BatchGetBuildsOutput::builder().builds(running()).build())
        .build()
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let rule = throttled_twice();
    let handler =
        CheckBuild::from_clients(codebuild_with(&[&rule], "eu-west-1", 3), common::waits(&[], &[]), BUILD_WAIT, clock);

    let output = handler.handle(look_input(Some(DEADLINE))).await.unwrap();

    assert_eq!(output.status, BuildStatus::InProgress);
    assert_eq!(output.wait_seconds, 90);
    assert_eq!(rule.num_calls(), 3, "two throttled attempts and the one that answered");
}

#[tokio::test]
async fn throttling_past_the_sdks_retries_is_throttled() {
    let rule = throttled_twice();

    let failure = check(&[&rule]).handle(look_input(Some(DEADLINE))).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert!(failure.kind.is_retryable());
    assert_eq!(failure.message, format!("BatchGetBuilds {ID}: ThrottlingException: Rate exceeded"));
    assert_eq!(rule.num_calls(), 1);
}

// ---- check-build: wait mode ---------------------------------------------------------------------

/// The wait-mode input: the look's, with the callback task's token.
fn wait_input() -> Value {
    let mut input = look_input(Some(DEADLINE));
    input["task_token"] = json!(TOKEN);
    input
}

const RESOURCE: &str =
    "build#arn:aws:codebuild:eu-west-1:123456789012:build/users-build:5b3c5e4c-1f7e-4bd2-9a8b-0123456789ab";
const WAITER: &str = "shop-monorepo-main-x#users#build";

fn waiting(rules: &[&Rule], waits: &MockWaits) -> CheckBuild {
    CheckBuild::from_clients(codebuild(rules), waits.waits(), BUILD_WAIT, clock)
}

#[tokio::test]
async fn a_wait_stores_its_token_before_it_looks_and_leaves_a_running_build_waiting() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let rule = lookup_logged(&waits.log, running());

    let output = waiting(&[&rule], &waits).handle(wait_input()).await.unwrap();

    assert_eq!(output, answer(BuildStatus::InProgress, 90, Some("BUILD"), None));
    assert_eq!(waits.log.all(), ["PutItem", "BatchGetBuilds"], "stored first, so no end can be missed");
    let item = waits.put_item();
    assert_eq!(item["resource"], RESOURCE, "what the build's events name in detail.build-id");
    assert_eq!(item["waiter"], WAITER);
    assert_eq!(item["token"], TOKEN);
    assert_eq!(item["kind"], "build");
    // The record outlives the wait: the deadline, the longest fallback and an hour.
    assert_eq!(item["expires_at"], format!("N:{}", DEADLINE + 300 + 3600));
    assert_eq!(item.len(), 6, "{item:?}");
    // What wake-waits will look at: the look-mode input, without the token.
    assert!(!item["watch"].contains(TOKEN), "{}", item["watch"]);
    let watch: Value = serde_json::from_str(&item["watch"]).unwrap();
    let mut look = look_input(Some(DEADLINE));
    look["task_token"] = Value::Null;
    assert_eq!(watch, look);
    assert_eq!((waits.success.num_calls(), waits.failure.num_calls(), waits.delete.num_calls()), (0, 0, 0));
}

#[tokio::test]
async fn a_wait_on_a_finished_build_sends_its_answer_then_forgets_the_token() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let rule = lookup_logged(&waits.log, succeeded());

    let output = waiting(&[&rule], &waits).handle(wait_input()).await.unwrap();

    assert_eq!(output, answer(BuildStatus::Succeeded, 0, None, Some(IMAGE)));
    assert_eq!(waits.log.all(), ["PutItem", "BatchGetBuilds", "SendTaskSuccess", "DeleteItem"]);
    let sent = waits.successes.only();
    assert_eq!(sent.task_token(), Some(TOKEN));
    let sent: Value = serde_json::from_str(sent.output().unwrap()).unwrap();
    assert_eq!(sent, serde_json::to_value(&output).unwrap(), "the task's result is the look's answer");
    waits.assert_deleted(RESOURCE, WAITER, TOKEN);
}

#[tokio::test]
async fn a_wait_on_a_failed_build_sends_the_failure_forgets_the_token_and_fails() {
    let overdue = || look_input(Some(NOW - 1));
    /// How BatchGetBuilds answers (logged in the test's log), the input, the error.
    type Case = (fn(&CallLog) -> Rule, fn() -> Value, ErrorKind);
    let cases: [Case; 3] = [
        (|log| lookup_logged(log, failed()), wait_input, ErrorKind::BuildFailed),
        (|log| lookup_logged(log, running()), overdue, ErrorKind::DeadlineExceeded),
        (unknown_logged, wait_input, ErrorKind::BuildNotFound),
    ];
    for (rule, input, kind) in cases {
        let waits = MockWaits::new(TokenAnswer::Ok, false);
        let rule = rule(&waits.log);
        let mut input = input();
        input["task_token"] = json!(TOKEN);

        let failure = waiting(&[&rule], &waits).handle(input).await.unwrap_err();

        assert_eq!(failure.kind, kind, "{failure}");
        assert_eq!(waits.log.all(), ["PutItem", "BatchGetBuilds", "SendTaskFailure", "DeleteItem"], "{kind}");
        let sent = waits.failures.only();
        assert_eq!(sent.task_token(), Some(TOKEN));
        assert_eq!(sent.error(), Some(kind.name()), "the name the state machine's Catch matches");
        let cause: Value = serde_json::from_str(sent.cause().unwrap()).unwrap();
        assert_eq!(cause, json!({ "errorType": kind.name(), "errorMessage": failure.message }));
        waits.assert_deleted(RESOURCE, WAITER, TOKEN);
    }
}

#[tokio::test]
async fn a_transient_failure_of_the_look_completes_nothing_and_fails() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let rule = throttled_logged(&waits.log);

    let failure = waiting(&[&rule], &waits).handle(wait_input()).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert_eq!(failure.message, format!("BatchGetBuilds {ID}: ThrottlingException: Rate exceeded"));
    // The record stays: the state machine retries the task, whose registration replaces it.
    assert_eq!(waits.log.all(), ["PutItem", "BatchGetBuilds"]);
}

#[tokio::test]
async fn a_token_closed_already_is_done_and_its_record_forgotten() {
    for answer_of_sfn in [TokenAnswer::TimedOut, TokenAnswer::Invalid, TokenAnswer::Gone] {
        // Success: the answer, no error.
        let waits = MockWaits::new(answer_of_sfn, false);
        let rule = lookup_logged(&waits.log, succeeded());
        let output = waiting(&[&rule], &waits).handle(wait_input()).await.unwrap();
        assert_eq!(output.status, BuildStatus::Succeeded, "{answer_of_sfn:?}");
        assert_eq!(waits.log.all(), ["PutItem", "BatchGetBuilds", "SendTaskSuccess", "DeleteItem"]);
        waits.assert_deleted(RESOURCE, WAITER, TOKEN);

        // Failure: the build's error still, not the token's.
        let waits = MockWaits::new(answer_of_sfn, false);
        let rule = lookup_logged(&waits.log, failed());
        let failure = waiting(&[&rule], &waits).handle(wait_input()).await.unwrap_err();
        assert_eq!((failure.kind, failure.message.as_str()), (ErrorKind::BuildFailed, FAILED_MESSAGE));
        assert_eq!(waits.log.all(), ["PutItem", "BatchGetBuilds", "SendTaskFailure", "DeleteItem"]);
    }
}

#[tokio::test]
async fn a_record_a_newer_registration_replaced_is_left_to_it() {
    // The delete's condition fails: the record holds a newer token now.
    let waits = MockWaits::new(TokenAnswer::Ok, true);
    let rule = lookup_logged(&waits.log, succeeded());

    let output = waiting(&[&rule], &waits).handle(wait_input()).await.unwrap();

    assert_eq!(output.status, BuildStatus::Succeeded);
    waits.assert_deleted(RESOURCE, WAITER, TOKEN);
}

#[tokio::test]
async fn failures_of_the_table_and_the_token_are_reported() {
    // The table is missing: nothing is looked at.
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let missing = common::put_item_failing(&waits.log, || {
        PutItemError::generic(meta("ResourceNotFoundException", "Requested resource not found"))
    });
    let rule = lookup_logged(&waits.log, succeeded());
    let handler =
        CheckBuild::from_clients(codebuild(&[&rule]), common::waits(&[&missing], &[&waits.success]), BUILD_WAIT, clock);
    let failure = handler.handle(wait_input()).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::AwsError);
    assert_eq!(
        failure.message,
        format!("PutItem deltaship-waits {RESOURCE}: ResourceNotFoundException: Requested resource not found")
    );
    assert_eq!(waits.log.all(), ["PutItem"], "no look without a stored token");

    // Step Functions throttles the success: retryable, and the record stays for the retry.
    let waits = MockWaits::new(TokenAnswer::Throttled, false);
    let rule = lookup_logged(&waits.log, succeeded());
    let failure = waiting(&[&rule], &waits).handle(wait_input()).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert_eq!(failure.message, "SendTaskSuccess a wait: ThrottlingException: Rate exceeded");
    assert_eq!(waits.log.all(), ["PutItem", "BatchGetBuilds", "SendTaskSuccess"]);

    // The delete fails after the token got its answer: reported.
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let broken = common::delete_item_failing(&waits.log, || DeleteItemError::generic(throttling()));
    let rule = lookup_logged(&waits.log, succeeded());
    let handler = CheckBuild::from_clients(
        codebuild(&[&rule]),
        common::waits(&[&waits.put, &broken], &[&waits.success]),
        BUILD_WAIT,
        clock,
    );
    let failure = handler.handle(wait_input()).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert_eq!(failure.message, format!("DeleteItem deltaship-waits {RESOURCE}: ThrottlingException: Rate exceeded"));
    assert_eq!(waits.log.all(), ["PutItem", "BatchGetBuilds", "SendTaskSuccess", "DeleteItem"]);
}

#[tokio::test]
async fn a_wait_without_what_names_it_is_invalid_input_before_any_call() {
    for field in ["build_arn", "execution", "name"] {
        for value in [json!(""), Value::Null] {
            let mut input = wait_input();
            if value.is_null() {
                input.as_object_mut().unwrap().remove(field);
            } else {
                input[field] = value;
            }
            let waits = MockWaits::new(TokenAnswer::Ok, false);
            // No CodeBuild rules: a look would fail the test.
            let failure = waiting(&[], &waits).handle(input).await.unwrap_err();
            assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
            assert_eq!(failure.message, format!("check-build input, field `{field}`: must not be empty"));
            assert!(waits.log.all().is_empty(), "{field}: {:?}", waits.log.all());
        }
    }
}
