//! The model's answers and events against AWS's: the same keys and values as the fixtures in
//! `tests/fixtures/aws/` for the same situations, and parsed by the real `aws-sdk-ecs` with
//! every field the verdicts read coming through.

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::types::ServiceDeploymentLifecycleStage;
use aws_smithy_mocks::{mock, mock_client};
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

use super::tests::{PRODUCT, USER, configuration_of, describe, fixture, model, shape, update};
use super::*;

/// An update at 1000 that takes 100 seconds, looked at `after` seconds later.
struct Case {
    fixture: &'static str,
    service: &'static str,
    configuration: Configuration,
    fault: Fault,
    after: f64,
}

fn cases() -> Vec<Case> {
    let rolling = || Configuration::new(Strategy::Rolling);
    let case = |fixture: &'static str, service, configuration, fault, after| Case {
        fixture,
        service,
        configuration,
        fault,
        after,
    };
    let of = |name: &str| configuration_of(&format!("ecs/describe-service-deployments-{name}.json"));
    vec![
        case("rolling-in-progress", USER, rolling(), Fault::None, 50.0),
        case("rolling-successful", USER, rolling(), Fault::None, 150.0),
        case("rolling-circuit-breaker-rollback", USER, rolling(), Fault::CircuitBreaker, 150.0),
        case("blue-green-bake-time", PRODUCT, of("blue-green-bake-time"), Fault::None, 85.0),
        case("canary-in-progress", PRODUCT, of("canary-in-progress"), Fault::None, 50.0),
        case("linear-in-progress", PRODUCT, of("linear-in-progress"), Fault::None, 50.0),
        case("alarms-rollback", PRODUCT, of("alarms-rollback"), Fault::Alarm, 150.0),
        case("lifecycle-hook-rollback", PRODUCT, of("lifecycle-hook-rollback"), Fault::Hook, 60.0),
    ]
}

impl Case {
    /// The model's `DescribeServiceDeployments` answer for the case.
    fn answer(&self) -> Value {
        let mut model = model(self.service, self.configuration.clone());
        let arn = model.update_service(self.service, &update("td:7", 100.0, self.fault), 1000.0);
        model.describe_service_deployments(&[arn], 1000.0 + self.after).unwrap()
    }
}

/// `deployment` without what differs by construction: ids, ARNs of revisions, times, free text.
fn comparable(deployment: &Value) -> Value {
    let mut value = deployment.clone();
    for pointer in [
        "/serviceDeploymentArn",
        "/createdAt",
        "/startedAt",
        "/updatedAt",
        "/finishedAt",
        "/stoppedAt",
        "/statusReason",
        "/rollback/reason",
        "/rollback/startedAt",
        "/rollback/serviceRevisionArn",
        "/targetServiceRevision/arn",
    ] {
        if let Some(field) = value.pointer_mut(pointer) {
            *field = Value::Null;
        }
    }
    for list in ["sourceServiceRevisions", "lifecycleHookDetails"] {
        for item in value.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            for key in ["arn", "hookId", "expiresAt"] {
                if let Some(field) = item.get_mut(key) {
                    *field = Value::Null;
                }
            }
        }
    }
    value
}

#[test]
fn answers_match_the_fixtures_of_the_same_situations() {
    for case in cases() {
        let expected = fixture(&format!("ecs/describe-service-deployments-{}.json", case.fixture));
        let answer = case.answer();
        assert_eq!(shape(&answer), shape(&expected), "{}: keys", case.fixture);
        let (mine, theirs) = (&answer["serviceDeployments"][0], &expected["serviceDeployments"][0]);
        assert_eq!(comparable(mine), comparable(theirs), "{}: values", case.fixture);
        if mine.get("rollback").is_some() {
            assert_eq!(
                mine["rollback"]["serviceRevisionArn"], mine["sourceServiceRevisions"][0]["arn"],
                "{}",
                case.fixture
            );
        }
    }
}

#[test]
fn a_superseded_deployment_matches_the_stopped_fixture() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    let first = model.update_service(USER, &update("td:8", 100.0, Fault::None), 1000.0);
    let second = model.update_service(USER, &update("td:9", 100.0, Fault::None), 1050.0);
    let answer = model.describe_service_deployments(&[first, second], 1090.0).unwrap();
    let expected = fixture("ecs/describe-service-deployments-stopped.json");
    for index in 0..2 {
        let (mine, theirs) = (&answer["serviceDeployments"][index], &expected["serviceDeployments"][index]);
        assert_eq!(shape(mine), shape(theirs), "{index}: keys");
        assert_eq!(comparable(mine), comparable(theirs), "{index}: values");
    }
    let list = model.list_service_deployments(USER, &[], 1090.0);
    let listed = fixture("ecs/list-service-deployments.json");
    assert_eq!(shape(&list["serviceDeployments"][0]), shape(&listed["serviceDeployments"][0]), "an in-progress brief");
    assert_eq!(shape(&list["serviceDeployments"][1]), shape(&listed["serviceDeployments"][1]), "a stopped brief");
}

#[test]
fn events_have_the_fixtures_keys() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    model.update_service(USER, &update("td:7", 100.0, Fault::CircuitBreaker), 1000.0);
    let events = model.drain_events(2000.0);
    let names = ["in-progress", "failed", "rollback-in-progress", "completed"];
    assert_eq!(events.len(), names.len());
    for (event, name) in events.iter().zip(names) {
        let expected = fixture(&format!("events/ecs-deployment-state-change-{name}.json"));
        assert_eq!(shape(event), shape(&expected), "{name}");
        for pointer in
            ["/source", "/detail-type", "/account", "/region", "/resources", "/detail/eventType", "/detail/eventName"]
        {
            assert_eq!(event.pointer(pointer), expected.pointer(pointer), "{name}: {pointer}");
        }
    }
    assert_eq!(
        events[2]["detail"]["reason"],
        format!(
            "ECS deployment circuit breaker: rolling back to deploymentId {}.",
            events[3]["detail"]["deploymentId"].as_str().unwrap()
        )
    );
}

#[test]
fn build_events_have_the_fixtures_keys() {
    let arn = "arn:aws:codebuild:us-east-1:123456789012:build/deltaship-sample-user-service:2a29bc42-aa6d-44b9-91e3-55669d3b1c69";
    let full = json!({
        "id": "deltaship-sample-user-service:2a29bc42-aa6d-44b9-91e3-55669d3b1c69", "arn": arn, "buildNumber": 42,
        "projectName": "deltaship-sample-user-service", "startTime": 1795429430.0, "endTime": 1795429630.0, "currentPhase": "COMPLETED",
        "sourceVersion": "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901", "initiator": "deltaship-start-build", "timeoutInMinutes": 30,
        "queuedTimeoutInMinutes": 60, "artifacts": { "location": "" },
        "environment": { "type": "LINUX_CONTAINER", "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0", "computeType": "BUILD_GENERAL1_SMALL",
            "privilegedMode": true, "environmentVariables": [{ "name": "IMAGE_TAG", "value": "abc", "type": "PLAINTEXT" }] },
        "source": { "type": "CODECOMMIT", "location": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/deltaship", "buildspec": "b.yml" },
        "logs": { "groupName": "/codebuild/x", "streamName": "2a29bc42", "deepLink": "https://console.aws.amazon.com/cloudwatch" },
        "phases": [
            { "phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED", "startTime": 1795429430.0, "endTime": 1795429431.0, "durationInSeconds": 1 },
            { "phaseType": "BUILD", "phaseStatus": "FAILED", "startTime": 1795429431.0, "endTime": 1795429630.0, "durationInSeconds": 199,
              "contexts": [{ "statusCode": "COMMAND_EXECUTION_ERROR", "message": "exit status 1" }] },
            { "phaseType": "COMPLETED", "startTime": 1795429630.0 },
        ],
    });
    // As the emulator answers: no times, no numbers, no logs.
    let bare = json!({ "id": "p:1", "arn": arn, "buildStatus": "SUCCEEDED", "phases": [{ "phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED" }],
        "environment": { "environmentVariables": [{ "name": "IMAGE_TAG", "value": "abc" }] } });
    let with_status = |build: &Value, status: &str| {
        let mut build = build.clone();
        build["buildStatus"] = json!(status);
        build
    };
    let cases = [
        (with_status(&full, "SUCCEEDED"), "succeeded"),
        (with_status(&full, "FAILED"), "failed"),
        (with_status(&full, "IN_PROGRESS"), "in-progress"),
        (bare.clone(), "succeeded"),
        (with_status(&bare, "IN_PROGRESS"), "in-progress"),
    ];
    for (build, name) in cases {
        let event = build_state_change(&build, 1795429631.0);
        let expected = fixture(&format!("events/codebuild-build-state-change-{name}.json"));
        assert_eq!(shape(&event), shape(&expected), "{name}: {event}");
        assert_eq!(event["detail"]["build-id"], arn);
        assert_eq!(event["resources"], json!([arn]));
        assert_eq!(event["detail"]["build-status"], build["buildStatus"]);
    }
    let failed = build_state_change(&with_status(&full, "FAILED"), 1795429631.0);
    let phases = failed["detail"]["additional-information"]["phases"].as_array().unwrap();
    assert_eq!(phases[1]["phase-context"], json!(["COMMAND_EXECUTION_ERROR: exit status 1"]));
    assert_eq!(phases.last().unwrap()["phase-type"], "COMPLETED");
    assert_eq!(failed["detail"]["additional-information"]["build-start-time"], "Nov 23, 2026 10:23:50 AM");
}

/// A 200 answer with `body`, for the SDK to deserialize.
fn http(body: &Value) -> impl Fn() -> HttpResponse + Send + Sync + 'static {
    let text = body.to_string();
    move || HttpResponse::new(200.try_into().unwrap(), SdkBody::from(text.clone()))
}

/// Whether the SDK's time is the JSON's (to the microsecond: the SDK keeps nanoseconds).
fn same_time(parsed: Option<&aws_smithy_types::DateTime>, json: &Value) -> bool {
    match (parsed, json.as_f64()) {
        (Some(parsed), Some(json)) => (parsed.as_secs_f64() - json).abs() < 1e-6,
        (parsed, json) => parsed.is_none() && json.is_none(),
    }
}

#[tokio::test]
async fn describe_answers_parse_with_the_sdk() {
    for case in cases() {
        let answer = case.answer();
        let rule = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_http_response(http(&answer));
        let client = mock_client!(aws_sdk_ecs, [&rule]);
        let parsed = client.describe_service_deployments().service_deployment_arns("any").send().await.unwrap();
        let json = &answer["serviceDeployments"][0];
        let deployment = &parsed.service_deployments()[0];
        let name = case.fixture;
        assert_eq!(deployment.service_deployment_arn(), json["serviceDeploymentArn"].as_str(), "{name}");
        assert_eq!(deployment.status().map(|s| s.as_str()), json["status"].as_str(), "{name}");
        assert_eq!(deployment.lifecycle_stage().map(|s| s.as_str()), json["lifecycleStage"].as_str(), "{name}");
        assert!(same_time(deployment.updated_at(), &json["updatedAt"]), "{name}");
        assert!(same_time(deployment.finished_at(), &json["finishedAt"]), "{name}");
        let target = deployment.target_service_revision().unwrap();
        assert_eq!(
            i64::from(target.running_task_count()),
            json["targetServiceRevision"]["runningTaskCount"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            target.requested_production_traffic_weight(),
            json["targetServiceRevision"]["requestedProductionTrafficWeight"].as_f64(),
            "{name}"
        );
        assert_eq!(deployment.source_service_revisions().len(), 1, "{name}");
        let strategy = deployment.deployment_configuration().and_then(|c| c.strategy()).map(|s| s.as_str());
        assert_eq!(strategy, json["deploymentConfiguration"]["strategy"].as_str(), "{name}");
        assert_eq!(
            deployment.rollback().and_then(|r| r.service_revision_arn()),
            json["rollback"]["serviceRevisionArn"].as_str(),
            "{name}"
        );
        assert!(
            same_time(deployment.rollback().and_then(|r| r.started_at()), &json["rollback"]["startedAt"]),
            "{name}"
        );
        let breaker = deployment.deployment_circuit_breaker();
        assert_eq!(
            breaker.and_then(|b| b.status()).map(|s| s.as_str()),
            json["deploymentCircuitBreaker"]["status"].as_str(),
            "{name}"
        );
        assert_eq!(
            breaker.map(|b| i64::from(b.failure_count())),
            json["deploymentCircuitBreaker"]["failureCount"].as_i64(),
            "{name}"
        );
        assert_eq!(
            breaker.map(|b| i64::from(b.threshold())),
            json["deploymentCircuitBreaker"]["threshold"].as_i64(),
            "{name}"
        );
        let alarms = deployment.alarms().unwrap();
        assert_eq!(alarms.status().map(|s| s.as_str()), json["alarms"]["status"].as_str(), "{name}");
        let triggered: Vec<&str> =
            json["alarms"]["triggeredAlarmNames"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        assert_eq!(alarms.triggered_alarm_names(), triggered, "{name}");
        let hooks: Vec<&str> =
            deployment.lifecycle_hook_details().iter().filter_map(|h| h.status()).map(|s| s.as_str()).collect();
        let expected: Vec<&str> = json["lifecycleHookDetails"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["status"].as_str())
            .collect();
        assert_eq!(hooks, expected, "{name}");
    }
}

#[tokio::test]
async fn the_sdk_does_not_know_pre_production_traffic_shift() {
    let mut model = model(PRODUCT, Configuration::new(Strategy::BlueGreen));
    let arn = model.update_service(PRODUCT, &update("td:7", 10.0, Fault::None), 0.0);
    let answer = model.describe_service_deployments(std::slice::from_ref(&arn), 5.5).unwrap();
    assert_eq!(describe(&model, &arn, 5.5)["lifecycleStage"], "PRE_PRODUCTION_TRAFFIC_SHIFT");
    let rule = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_http_response(http(&answer));
    let client = mock_client!(aws_sdk_ecs, [&rule]);
    let parsed = client.describe_service_deployments().service_deployment_arns(arn).send().await.unwrap();
    let stage = parsed.service_deployments()[0].lifecycle_stage().unwrap();
    assert_eq!(stage.as_str(), "PRE_PRODUCTION_TRAFFIC_SHIFT", "kept as an unknown value");
    assert!(
        !ServiceDeploymentLifecycleStage::values().contains(&"PRE_PRODUCTION_TRAFFIC_SHIFT"),
        "the SDK learnt it: update the notes"
    );
}

#[tokio::test]
async fn list_stop_and_describe_services_answers_parse_with_the_sdk() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    let arn = model.update_service(USER, &update("td:7", 10.0, Fault::None), 0.0);
    let stopped = model.stop_service_deployment(&arn, "ROLLBACK", 1.0).unwrap();
    let listed = model.list_service_deployments(USER, &[], 2.0);
    let mut service = json!({ "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/deltaship-sample/user-service",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/deltaship-sample", "serviceName": "user-service" });
    model.complete_service(&mut service, 2.0);
    let services = json!({ "services": [service], "failures": [] });

    let rules = [
        mock!(aws_sdk_ecs::Client::stop_service_deployment).then_http_response(http(&stopped)),
        mock!(aws_sdk_ecs::Client::list_service_deployments).then_http_response(http(&listed)),
        mock!(aws_sdk_ecs::Client::describe_services).then_http_response(http(&services)),
    ];
    let client = mock_client!(aws_sdk_ecs, aws_smithy_mocks::RuleMode::MatchAny, rules.iter());
    let stop = client.stop_service_deployment().service_deployment_arn(&arn).send().await.unwrap();
    assert_eq!(stop.service_deployment_arn(), Some(arn.as_str()));

    let list = client.list_service_deployments().service("user-service").send().await.unwrap();
    let briefs = list.service_deployments();
    assert_eq!(briefs.len(), 2, "the rolled-back one and the creation");
    assert_eq!(briefs[0].service_deployment_arn(), Some(arn.as_str()), "newest first");
    assert_eq!(briefs[0].status().map(|s| s.as_str()), Some("ROLLBACK_REQUESTED"));
    assert_eq!(briefs[1].status().map(|s| s.as_str()), Some("SUCCESSFUL"));
    assert!(briefs[1].finished_at().is_some() && briefs[0].finished_at().is_none());

    let described = client.describe_services().services("user-service").send().await.unwrap();
    let service = &described.services()[0];
    assert_eq!(service.current_service_deployment(), Some(arn.as_str()));
    assert_eq!(service.deployment_configuration().and_then(|c| c.strategy()).map(|s| s.as_str()), Some("ROLLING"));
    assert_eq!(service.deployment_controller().map(|c| c.r#type().as_str()), Some("ECS"));
    let states: Vec<(&str, &str)> = service
        .deployments()
        .iter()
        .map(|d| (d.status().unwrap_or_default(), d.rollout_state().map(|s| s.as_str()).unwrap_or_default()))
        .collect();
    assert_eq!(states, [("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "FAILED")], "rolling back to :6");
    assert_eq!(service.task_definition(), Some("td:6"));
    assert_eq!(service.current_service_revisions().len(), 2);
}
