//! wake-waits over a mocked waits table, Step Functions, CodeBuild and ECS, fed the events AWS
//! sends (`tests/fixtures/aws/events/`): which waits an event finds, how each is looked at again
//! (the event is a wake-up call, never the verdict), and what is sent, kept or forgotten.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_codebuild::operation::batch_get_builds::BatchGetBuildsOutput;
use aws_sdk_codebuild::primitives::DateTime;
use aws_sdk_codebuild::types::{Build, BuildPhase, BuildPhaseType, ExportedEnvironmentVariable, StatusType};
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsError;
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use common::{
    CallLog, MockWaits, NOW, TokenAnswer, aws_fixture, clock, event, item, json_error, json_response, meta, query,
    throttling,
};
use deltaship_aws::Function;
use deltaship_aws::wake::WakeWaits;
use deltaship_core::payloads::{BuildStatus, CheckBuildOutput, RolloutWatch, WakeOutput, WokenWait};
use deltaship_core::rollout::Expect;
use deltaship_core::{ErrorKind, WaitPolicy, links};
use serde_json::{Value, json};

const EXECUTION: &str = "deltaship-main-7f0103fa1b2c-0123456789";
/// The build of the IN_PROGRESS and SUCCEEDED events.
const BUILD_ID: &str = "deltaship-sample-user-service:2a29bc42-aa6d-44b9-91e3-55669d3b1c69";
const BUILD_ARN: &str =
    "arn:aws:codebuild:us-east-1:123456789012:build/deltaship-sample-user-service:2a29bc42-aa6d-44b9-91e3-55669d3b1c69";
/// The build of the FAILED event.
const FAILED_BUILD_ID: &str = "deltaship-sample-user-service:e3b0904f-5b75-424c-ac93-357ca4fed8f7";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/deltaship-sample/user-service:7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
const SERVICE_RESOURCE: &str = "service#arn:aws:ecs:us-east-1:123456789012:service/deltaship-sample/user-service";
/// When the waits' records expire: an hour after the clock.
const EXPIRES: i64 = NOW + 3600;

fn build_resource(build_id: &str) -> String {
    format!("build#arn:aws:codebuild:us-east-1:123456789012:build/{build_id}")
}

fn waiter(service: &str, kind: &str) -> String {
    format!("{EXECUTION}#{service}#{kind}")
}

/// The wake-waits function over the mocked CodeBuild (`codebuild`), ECS (`ecs`), table (`table`)
/// and tokens (`tokens`), each call tried once.
fn wake(codebuild: &[&Rule], ecs: &[&Rule], table: &[&Rule], tokens: &[&Rule]) -> WakeWaits {
    let configure = |config: aws_sdk_codebuild::config::Builder| {
        config.region(aws_sdk_codebuild::config::Region::new("us-east-1")).retry_config(
            aws_sdk_codebuild::config::retry::RetryConfig::standard()
                .with_max_attempts(1)
                .with_initial_backoff(Duration::from_millis(1)),
        )
    };
    let codebuild = mock_client!(aws_sdk_codebuild, RuleMode::MatchAny, codebuild, configure);
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs, |config: aws_sdk_ecs::config::Builder| {
        config.region(aws_sdk_ecs::config::Region::new("us-east-1")).retry_config(
            aws_sdk_ecs::config::retry::RetryConfig::standard()
                .with_max_attempts(1)
                .with_initial_backoff(Duration::from_millis(1)),
        )
    });
    WakeWaits::from_clients(
        codebuild,
        ecs,
        common::waits(table, tokens),
        (WaitPolicy::BUILD, WaitPolicy::ROLLOUT),
        clock,
    )
}

/// The waits of `mock` (its tokens and its delete) with `query` for the table's reads.
fn wake_with(codebuild: &[&Rule], ecs: &[&Rule], query: &Rule, mock: &MockWaits) -> WakeWaits {
    wake(codebuild, ecs, &[query, &mock.delete], &[&mock.success, &mock.failure])
}

fn aws_event(name: &str) -> Value {
    aws_fixture(&format!("events/{name}.json"))
}

// ---- builds -------------------------------------------------------------------------------------

/// check-build's look-mode input for `build_id`, as a build wait stores it.
fn build_watch(build_id: &str) -> String {
    json!({
        "build_id": build_id,
        "build_arn": format!("arn:aws:codebuild:us-east-1:123456789012:build/{build_id}"),
        "deadline": NOW + 3000,
        "name": "user-service",
        "execution": EXECUTION,
        "task_token": null
    })
    .to_string()
}

/// A build wait on `build_id`, holding `token`.
fn build_record(build_id: &str, token: &str) -> HashMap<String, AttributeValue> {
    item(&build_resource(build_id), &waiter("user-service", "build"), token, "build", &build_watch(build_id), EXPIRES)
}

/// The build `build_id` in `status`, started 100 s ago.
fn build(build_id: &str, status: &StatusType) -> Build {
    let mut build = Build::builder()
        .id(build_id)
        .arn(format!("arn:aws:codebuild:us-east-1:123456789012:build/{build_id}"))
        .build_status(status.clone())
        .current_phase(if *status == StatusType::InProgress { "BUILD" } else { "COMPLETED" })
        .start_time(DateTime::from_secs(NOW - 100));
    if *status == StatusType::Failed {
        build =
            build.phases(BuildPhase::builder().phase_type(BuildPhaseType::Build).phase_status(status.clone()).build());
    }
    if *status == StatusType::Succeeded {
        build = build.exported_environment_variables(
            ExportedEnvironmentVariable::builder().name("IMAGE_URI").value(IMAGE).build(),
        );
    }
    build.build()
}

/// BatchGetBuilds of `build`'s id, answering it (logged).
fn lookup(log: &CallLog, build: Build) -> Rule {
    let log = log.clone();
    let id = build.id().unwrap().to_owned();
    mock!(aws_sdk_codebuild::Client::batch_get_builds)
        .match_requests(move |req| req.ids() == [id.as_str()])
        .then_compute_output(move |_| {
            log.record(&"BatchGetBuilds");
            BatchGetBuildsOutput::builder().builds(build.clone()).build()
        })
}

#[tokio::test]
async fn a_build_event_completes_the_wait_of_a_succeeded_build() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let query = query(&waits.log, &build_resource(BUILD_ID), vec![build_record(BUILD_ID, "token-1")]);
    let look = lookup(&waits.log, build(BUILD_ID, &StatusType::Succeeded));

    let output = wake_with(&[&look], &[], &query, &waits)
        .handle(aws_event("codebuild-build-state-change-succeeded"))
        .await
        .unwrap();

    let waiter = waiter("user-service", "build");
    assert_eq!(
        output,
        WakeOutput {
            resource: build_resource(BUILD_ID),
            waits: vec![WokenWait {
                waiter: waiter.clone(),
                result: "COMPLETED".into(),
                detail: "over: completed".into()
            }],
        }
    );
    assert_eq!(waits.log.all(), ["Query", "BatchGetBuilds", "SendTaskSuccess", "DeleteItem"]);
    let sent = waits.successes.only();
    assert_eq!(sent.task_token(), Some("token-1"));
    let sent: CheckBuildOutput = serde_json::from_str(sent.output().unwrap()).unwrap();
    assert_eq!(
        sent,
        CheckBuildOutput {
            status: BuildStatus::Succeeded,
            build_id: BUILD_ID.into(),
            build_arn: BUILD_ARN.into(),
            deadline: Some(NOW + 3000),
            wait_seconds: 0,
            phase: None,
            image: Some(IMAGE.into()),
            image_by_digest: None,
            deploy_image: Some(IMAGE.into()),
            build_url: links::build("us-east-1", BUILD_ID),
            logs_url: None,
        },
        "what check-build would have answered"
    );
    waits.assert_deleted(&build_resource(BUILD_ID), &waiter, "token-1");
}

#[tokio::test]
async fn a_build_event_fails_the_wait_of_a_failed_build() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let query = query(&waits.log, &build_resource(FAILED_BUILD_ID), vec![build_record(FAILED_BUILD_ID, "token-1")]);
    let look = lookup(&waits.log, build(FAILED_BUILD_ID, &StatusType::Failed));

    let output = wake_with(&[&look], &[], &query, &waits)
        .handle(aws_event("codebuild-build-state-change-failed"))
        .await
        .unwrap();

    let message = format!("build {FAILED_BUILD_ID} failed in phase BUILD");
    assert_eq!(
        output.waits,
        [WokenWait {
            waiter: waiter("user-service", "build"),
            result: "FAILED".into(),
            detail: format!("BuildFailed: {message}")
        }]
    );
    assert_eq!(waits.log.all(), ["Query", "BatchGetBuilds", "SendTaskFailure", "DeleteItem"]);
    let sent = waits.failures.only();
    assert_eq!((sent.task_token(), sent.error()), (Some("token-1"), Some("BuildFailed")));
    let cause: Value = serde_json::from_str(sent.cause().unwrap()).unwrap();
    assert_eq!(cause, json!({ "errorType": "BuildFailed", "errorMessage": message }));
    waits.assert_deleted(&build_resource(FAILED_BUILD_ID), &waiter("user-service", "build"), "token-1");
}

#[tokio::test]
async fn a_build_still_running_leaves_its_wait_pending_whatever_the_event_says() {
    // The IN_PROGRESS event, and a SUCCEEDED one the look does not confirm (the look wins).
    for name in ["codebuild-build-state-change-in-progress", "codebuild-build-state-change-succeeded"] {
        let waits = MockWaits::new(TokenAnswer::Ok, false);
        let query = query(&waits.log, &build_resource(BUILD_ID), vec![build_record(BUILD_ID, "token-1")]);
        let look = lookup(&waits.log, build(BUILD_ID, &StatusType::InProgress));

        let output = wake_with(&[&look], &[], &query, &waits).handle(aws_event(name)).await.unwrap();

        assert_eq!(
            output.waits,
            [WokenWait {
                waiter: waiter("user-service", "build"),
                result: "PENDING".into(),
                detail: "not over yet".into()
            }],
            "{name}"
        );
        assert_eq!(waits.log.all(), ["Query", "BatchGetBuilds"], "{name}: nothing sent, nothing forgotten");
    }
}

// ---- rollouts and rollbacks ---------------------------------------------------------------------

/// `describe-service-deployments-<name>.json`: its text, and the ARN of its first deployment.
fn deployments(name: &str) -> (String, String) {
    let json = aws_fixture(&format!("ecs/describe-service-deployments-{name}.json"));
    let arn = json["serviceDeployments"][0]["serviceDeploymentArn"].as_str().unwrap().to_owned();
    (json.to_string(), arn)
}

/// check-rollout's look-mode input for service deployment `arn` of user-service, as a rollout (or
/// rollback) wait stores it.
fn rollout_watch(arn: &str, expect: Expect) -> String {
    let watch = RolloutWatch {
        name: "user-service".into(),
        execution: EXECUTION.into(),
        cluster: "deltaship-sample".into(),
        service: "user-service".into(),
        service_arn: "arn:aws:ecs:us-east-1:123456789012:service/deltaship-sample/user-service".into(),
        service_deployment: arn.into(),
        deployment_id: "ecs-svc/7464310793147648152".into(),
        task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/deltaship-sample-user-service:7".into(),
        previous_task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/deltaship-sample-user-service:6"
            .into(),
        strategy: "ROLLING".into(),
        expect,
        started_at: NOW - 120,
        deadline: NOW + 480,
    };
    json!({ "watch": watch, "task_token": null }).to_string()
}

/// A rollout (or rollback, by `kind`) wait of `waiter_service` on deployment `arn`, holding `token`.
fn rollout_record(waiter_service: &str, kind: &str, arn: &str, token: &str) -> HashMap<String, AttributeValue> {
    let expect = if kind == "rollback" { Expect::RolledBack } else { Expect::Deployed };
    item(SERVICE_RESOURCE, &waiter(waiter_service, kind), token, kind, &rollout_watch(arn, expect), EXPIRES)
}

/// DescribeServiceDeployments of `arn` alone, answering `respond()` (logged).
fn describe(
    log: &CallLog,
    arn: &str,
    respond: impl Fn() -> MockResponse<
        aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput,
        DescribeServiceDeploymentsError,
    > + Send
    + Sync
    + 'static,
) -> Rule {
    let (log, arn) = (log.clone(), arn.to_owned());
    mock!(aws_sdk_ecs::Client::describe_service_deployments)
        .match_requests(move |req| req.service_deployment_arns() == [arn.as_str()])
        .then_compute_response(move |_| {
            log.record(&"DescribeServiceDeployments");
            respond()
        })
}

/// DescribeServiceDeployments of the fixture `name`'s first deployment, answering the fixture.
fn describe_fixture(log: &CallLog, name: &str) -> (Rule, String) {
    let (body, arn) = deployments(name);
    (describe(log, &arn, move || MockResponse::Http(json_response(&body))), arn)
}

#[tokio::test]
async fn a_deployment_event_completes_a_rollout_that_succeeded() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let (look, arn) = describe_fixture(&waits.log, "rolling-successful");
    let query = query(&waits.log, SERVICE_RESOURCE, vec![rollout_record("user-service", "rollout", &arn, "token-1")]);

    let output = wake_with(&[], &[&look], &query, &waits)
        .handle(aws_event("ecs-deployment-state-change-completed"))
        .await
        .unwrap();

    assert_eq!(output.resource, SERVICE_RESOURCE, "keyed by the service, not the deployment id");
    assert_eq!(
        output.waits,
        [WokenWait {
            waiter: waiter("user-service", "rollout"),
            result: "COMPLETED".into(),
            detail: "over: completed".into()
        }]
    );
    assert_eq!(waits.log.all(), ["Query", "DescribeServiceDeployments", "SendTaskSuccess", "DeleteItem"]);
    let sent = waits.successes.only();
    assert_eq!(sent.task_token(), Some("token-1"));
    let sent: Value = serde_json::from_str(sent.output().unwrap()).unwrap();
    assert_eq!(
        (sent["status"].as_str(), sent["watch"]["service_deployment"].as_str()),
        (Some("COMPLETED"), Some(arn.as_str()))
    );
    waits.assert_deleted(SERVICE_RESOURCE, &waiter("user-service", "rollout"), "token-1");
}

#[tokio::test]
async fn a_deployment_event_fails_a_rollout_ecs_rolled_back() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let (look, arn) = describe_fixture(&waits.log, "rolling-circuit-breaker-rollback");
    let query = query(&waits.log, SERVICE_RESOURCE, vec![rollout_record("user-service", "rollout", &arn, "token-1")]);

    let output =
        wake_with(&[], &[&look], &query, &waits).handle(aws_event("ecs-deployment-state-change-failed")).await.unwrap();

    let message = format!(
        "service deployment {} of deltaship-sample/user-service was rolled back by ECS: the deployment circuit \
         breaker tripped (3 failed tasks, threshold 3)",
        arn.rsplit('/').next().unwrap()
    );
    assert_eq!(
        output.waits,
        [WokenWait {
            waiter: waiter("user-service", "rollout"),
            result: "FAILED".into(),
            detail: format!("RolloutFailed: {message}")
        }]
    );
    assert_eq!(waits.log.all(), ["Query", "DescribeServiceDeployments", "SendTaskFailure", "DeleteItem"]);
    let sent = waits.failures.only();
    assert_eq!((sent.task_token(), sent.error()), (Some("token-1"), Some("RolloutFailed")));
    let cause: Value = serde_json::from_str(sent.cause().unwrap()).unwrap();
    assert_eq!(cause, json!({ "errorType": "RolloutFailed", "errorMessage": message }));
}

#[tokio::test]
async fn every_wait_on_the_service_is_woken_each_by_its_own_look() {
    // One event of the service wakes a rollback that ended, a rollout still going, and (another
    // execution's) rollout that succeeded.
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let (rolled_back, rolled_back_arn) = describe_fixture(&waits.log, "rolling-circuit-breaker-rollback");
    let (going, going_arn) = describe_fixture(&waits.log, "canary-in-progress");
    let (done, done_arn) = describe_fixture(&waits.log, "rolling-successful");
    let records = vec![
        rollout_record("user-service", "rollback", &rolled_back_arn, "token-1"),
        rollout_record("user-service", "rollout", &going_arn, "token-2"),
        rollout_record("other", "rollout", &done_arn, "token-3"),
    ];
    let query = query(&waits.log, SERVICE_RESOURCE, records);

    let output = wake_with(&[], &[&rolled_back, &going, &done], &query, &waits)
        .handle(aws_event("ecs-deployment-state-change-rollback-in-progress"))
        .await
        .unwrap();

    let results: Vec<(&str, &str)> =
        output.waits.iter().map(|wait| (wait.waiter.as_str(), wait.result.as_str())).collect();
    let (first, second, third) =
        (waiter("user-service", "rollback"), waiter("user-service", "rollout"), waiter("other", "rollout"));
    assert_eq!(results, [(first.as_str(), "COMPLETED"), (second.as_str(), "PENDING"), (third.as_str(), "COMPLETED")]);
    let tokens: Vec<String> = waits.successes.all().iter().map(|sent| sent.task_token().unwrap().to_owned()).collect();
    assert_eq!(tokens, ["token-1", "token-3"]);
    assert_eq!(waits.deletes.all().len(), 2, "the pending wait keeps its record");
}

#[tokio::test]
async fn expired_records_and_no_records_wake_nothing() {
    // An expired record DynamoDB has not deleted yet (its TTL is lazy), and none at all.
    for records in [vec![item(SERVICE_RESOURCE, "x#user-service#rollout", "token-1", "rollout", "{}", NOW)], vec![]] {
        let waits = MockWaits::new(TokenAnswer::Ok, false);
        let query = query(&waits.log, SERVICE_RESOURCE, records);

        // No ECS rules: a look would fail the test.
        let output = wake_with(&[], &[], &query, &waits)
            .handle(aws_event("ecs-deployment-state-change-completed"))
            .await
            .unwrap();

        assert_eq!(output, WakeOutput { resource: SERVICE_RESOURCE.into(), waits: vec![] });
        assert_eq!(waits.log.all(), ["Query"], "no call but the Query");
    }
}

#[tokio::test]
async fn a_token_closed_already_is_closed_and_its_record_forgotten() {
    for (name, answer) in [("rolling-successful", TokenAnswer::TimedOut), ("rollback-failed", TokenAnswer::Gone)] {
        let waits = MockWaits::new(answer, false);
        let (look, arn) = describe_fixture(&waits.log, name);
        let query =
            query(&waits.log, SERVICE_RESOURCE, vec![rollout_record("user-service", "rollout", &arn, "token-1")]);

        let output = wake_with(&[], &[&look], &query, &waits)
            .handle(aws_event("ecs-deployment-state-change-completed"))
            .await
            .unwrap();

        assert_eq!(output.waits[0].result, "CLOSED", "{name}");
        assert_eq!(output.waits.len(), 1);
        waits.assert_deleted(SERVICE_RESOURCE, &waiter("user-service", "rollout"), "token-1");
    }
}

#[tokio::test]
async fn a_wait_whose_token_cannot_be_completed_is_skipped_and_kept() {
    // The role may not complete tokens: a setup problem no retry of the event fixes. The wait ends
    // by its fallback timeout; its record stays.
    let waits = MockWaits::new(TokenAnswer::Denied, false);
    let (look, arn) = describe_fixture(&waits.log, "rolling-successful");
    let query = query(&waits.log, SERVICE_RESOURCE, vec![rollout_record("user-service", "rollout", &arn, "token-1")]);

    let output = wake_with(&[], &[&look], &query, &waits)
        .handle(aws_event("ecs-deployment-state-change-completed"))
        .await
        .unwrap();

    assert_eq!(
        output.waits,
        [WokenWait {
            waiter: waiter("user-service", "rollout"),
            result: "SKIPPED".into(),
            detail: "AccessDenied: SendTaskSuccess a wait: AccessDeniedException: not authorized to perform: \
                     states:SendTaskSuccess"
                .into()
        }]
    );
    assert_eq!(waits.log.all(), ["Query", "DescribeServiceDeployments", "SendTaskSuccess"], "not forgotten");
}

#[tokio::test]
async fn a_transient_failure_fails_the_invocation_after_the_other_waits_are_woken() {
    let cases = [
        (
            (|| MockResponse::Error(DescribeServiceDeploymentsError::generic(throttling()))) as fn() -> _,
            ErrorKind::Throttled,
        ),
        (|| MockResponse::Http(json_error(500, "ServerException", "internal error")), ErrorKind::AwsUnavailable),
    ];
    for (transient, kind) in cases {
        let waits = MockWaits::new(TokenAnswer::Ok, false);
        let (_, stuck_arn) = deployments("rolling-in-progress");
        let stuck = describe(&waits.log, &stuck_arn, transient);
        let (done, done_arn) = describe_fixture(&waits.log, "stopped");
        // The stopped fixture's deployment was replaced: the service names the newer one.
        let stopped = aws_fixture("ecs/describe-service-deployments-stopped.json");
        let service =
            describe_service(&waits.log, stopped["serviceDeployments"][1]["serviceDeploymentArn"].as_str().unwrap());
        let records = vec![
            rollout_record("user-service", "rollout", &stuck_arn, "token-1"),
            rollout_record("other", "rollout", &done_arn, "token-2"),
        ];
        let query = query(&waits.log, SERVICE_RESOURCE, records);

        let failure = wake_with(&[], &[&stuck, &done, &service], &query, &waits)
            .handle(aws_event("ecs-deployment-state-change-in-progress"))
            .await
            .unwrap_err();

        assert_eq!(failure.kind, kind, "{failure}");
        assert!(failure.kind.is_retryable(), "EventBridge delivers the event again");
        // The second wait was still woken: failed as replaced, its record forgotten.
        assert_eq!(
            waits.log.all(),
            [
                "Query",
                "DescribeServiceDeployments",
                "DescribeServiceDeployments",
                "DescribeServices",
                "SendTaskFailure",
                "DeleteItem"
            ]
        );
        let sent = waits.failures.only();
        assert_eq!((sent.task_token(), sent.error()), (Some("token-2"), Some("DeploymentReplaced")));
        waits.assert_deleted(SERVICE_RESOURCE, &waiter("other", "rollout"), "token-2");
    }
}

/// DescribeServices of the sample's user-service, its current service deployment `current`
/// (logged).
fn describe_service(log: &CallLog, current: &str) -> Rule {
    let log = log.clone();
    let mut service = aws_fixture("ecs/update-service-with-current-service-deployment.json")["service"].clone();
    service["currentServiceDeployment"] = json!(current);
    let body = json!({ "services": [service], "failures": [] }).to_string();
    mock!(aws_sdk_ecs::Client::describe_services).then_compute_response(move |_| {
        log.record(&"DescribeServices");
        MockResponse::Http(json_response(&body))
    })
}

#[tokio::test]
async fn a_record_it_cannot_read_is_skipped() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let mut no_token = build_record(BUILD_ID, "token-0");
    no_token.remove("token");
    let records = vec![
        // Not JSON.
        item(&build_resource(BUILD_ID), "x#a#build", "token-1", "build", "not json", EXPIRES),
        // A build's watch on a rollout wait.
        item(&build_resource(BUILD_ID), "x#b#rollout", "token-2", "rollout", &build_watch(BUILD_ID), EXPIRES),
        // No token: not a record at all, left out.
        no_token,
        // An unknown kind: left out too.
        item(&build_resource(BUILD_ID), "x#c#deploy", "token-3", "deploy", &build_watch(BUILD_ID), EXPIRES),
    ];
    let query = query(&waits.log, &build_resource(BUILD_ID), records);

    // No CodeBuild or ECS rules: a look would fail the test.
    let output =
        wake_with(&[], &[], &query, &waits).handle(aws_event("codebuild-build-state-change-succeeded")).await.unwrap();

    let results: Vec<(&str, &str)> =
        output.waits.iter().map(|wait| (wait.waiter.as_str(), wait.result.as_str())).collect();
    assert_eq!(results, [("x#a#build", "SKIPPED"), ("x#b#rollout", "SKIPPED")]);
    for wait in &output.waits {
        assert!(
            wait.detail
                .starts_with(&format!("InvalidInput: wake-waits: the wait {} holds no readable watch", wait.waiter)),
            "{}",
            wait.detail
        );
    }
    assert_eq!(waits.log.all(), ["Query"], "nothing looked at, sent or forgotten");
}

#[tokio::test]
async fn an_event_it_does_not_handle_is_invalid_input_before_any_call() {
    let mut no_build_id = aws_event("codebuild-build-state-change-succeeded");
    no_build_id["detail"].as_object_mut().unwrap().remove("build-id");
    let cases = [
        (event("reference-updated-branch.json"), "is not an event deltaship waits on"),
        (json!([]), "wake-waits input: not an EventBridge event"),
        (no_build_id, "a CodeBuild event without a build ARN in detail.build-id"),
    ];
    for (payload, problem) in cases {
        // No rules anywhere: any call would fail the test.
        let failure = wake(&[], &[], &[], &[]).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert!(failure.message.starts_with("wake-waits input"), "{failure}");
        assert!(failure.message.contains(problem), "{failure}");
    }
}

#[tokio::test]
async fn a_missing_waits_table_is_an_aws_error() {
    let query = mock!(aws_sdk_dynamodb::Client::query)
        .then_error(|| QueryError::generic(meta("ResourceNotFoundException", "Requested resource not found")));

    let failure =
        wake(&[], &[], &[&query], &[]).handle(aws_event("ecs-deployment-state-change-completed")).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::AwsError);
    assert_eq!(
        failure.message,
        format!("Query deltaship-waits {SERVICE_RESOURCE}: ResourceNotFoundException: Requested resource not found")
    );
}
