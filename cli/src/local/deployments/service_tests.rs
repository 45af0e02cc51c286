//! The model's service-level behaviour: supersession, StopServiceDeployment, events as they come
//! due, DescribeServiceDeployments failures and the DescribeServices view.

use serde_json::{Value, json};

use super::tests::{PRODUCT, USER, describe, fixture, model, shape, update};
use super::*;
#[test]
fn a_newer_update_supersedes_a_deployment_in_progress() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    let first = model.update_service(USER, &update("td:7", 10.0, Fault::None), 0.0);
    model.drain_events(0.0);
    let second = model.update_service(USER, &update("td:8", 10.0, Fault::None), 5.0);
    assert_eq!(model.current_service_deployment(USER), Some(second.as_str()));
    let stopping = describe(&model, &first, 5.0);
    assert_eq!(stopping["status"], "STOP_REQUESTED");
    let stopped = describe(&model, &first, 30.0);
    assert_eq!(stopped["status"], "STOPPED");
    assert_eq!(stopped["stoppedAt"], 6.0);
    assert!(stopped.get("finishedAt").is_none(), "{stopped}");
    assert_eq!(stopped["statusReason"], "Service deployment stopped because a new service deployment started.");
    let shown = describe(&model, &second, 5.0);
    let sources: Vec<&str> = shown["sourceServiceRevisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|source| source["arn"].as_str().unwrap())
        .collect();
    let first_target = describe(&model, &first, 5.0)["targetServiceRevision"]["arn"].clone();
    assert_eq!(sources.len(), 2, "the completed revision and the half-deployed one");
    assert_eq!(sources[1], first_target);
    assert_eq!(model.status(&second, 15.0), Some(Status::Successful));
    let names: Vec<Value> = model.drain_events(30.0).iter().map(|event| event["detail"]["eventName"].clone()).collect();
    assert_eq!(names, ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"], "nothing for STOPPED");
    let listed = model.list_service_deployments(USER, &["STOPPED".to_owned()], 30.0);
    assert_eq!(listed["serviceDeployments"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["serviceDeployments"][0]["serviceDeploymentArn"], first.as_str());
}

#[test]
fn a_rollback_in_progress_goes_on_under_a_newer_update() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    let failing = model.update_service(USER, &update("td:7", 10.0, Fault::CircuitBreaker), 0.0);
    assert_eq!(model.status(&failing, 4.0), Some(Status::RollbackInProgress));
    model.update_service(USER, &update("td:8", 10.0, Fault::None), 4.0);
    assert_eq!(model.status(&failing, 100.0), Some(Status::RollbackSuccessful));
}

#[test]
fn stop_service_deployment_rolls_back_what_runs_and_refuses_the_rest() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    let arn = model.update_service(USER, &update("td:7", 10.0, Fault::None), 0.0);
    assert_eq!(model.stop_service_deployment(&arn, "ROLLBACK", 2.0), Ok(json!({ "serviceDeploymentArn": arn })));
    let states: Vec<(f64, Option<Status>)> =
        [2.0, 4.0, 4.5, 6.9, 7.0, 20.0].into_iter().map(|at| (at, model.status(&arn, at))).collect();
    assert_eq!(
        states,
        [
            (2.0, Some(Status::RollbackRequested)),
            (4.0, Some(Status::RollbackRequested)),
            (4.5, Some(Status::RollbackInProgress)),
            (6.9, Some(Status::RollbackInProgress)),
            (7.0, Some(Status::RollbackSuccessful)),
            (20.0, Some(Status::RollbackSuccessful)),
        ]
    );
    let rolled_back = describe(&model, &arn, 7.0);
    assert_eq!(rolled_back["rollback"]["startedAt"], 2.0);
    assert!(
        rolled_back["rollback"]["serviceRevisionArn"].as_str().is_some_and(|arn| arn.contains(":service-revision/"))
    );
    assert_eq!(
        model.stop_service_deployment(&arn, "ROLLBACK", 3.0),
        Ok(json!({ "serviceDeploymentArn": arn })),
        "it goes on"
    );
    assert_eq!(model.status(&arn, 7.0), Some(Status::RollbackSuccessful), "unchanged");

    let refused = |model: &mut Deployments, arn: &str, stop_type: &str, at: f64| {
        model.stop_service_deployment(arn, stop_type, at).unwrap_err().code
    };
    assert_eq!(refused(&mut model, &arn, "ROLLBACK", 8.0), "ConflictException");
    assert_eq!(
        refused(&mut model, "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/x", "ROLLBACK", 8.0),
        "ServiceDeploymentNotFoundException"
    );
    let running = model.update_service(USER, &update("td:8", 10.0, Fault::None), 10.0);
    assert_eq!(refused(&mut model, &running, "ABORT", 11.0), "InvalidParameterException");
    assert_eq!(model.status(&running, 11.0), Some(Status::InProgress));
}

#[test]
fn a_service_without_a_completed_revision_fails_its_rollback() {
    let mut model = Deployments::new("us-east-1", "123456789012");
    let arn = model.update_service(USER, &update("td:1", 10.0, Fault::CircuitBreaker), 0.0);
    let done = describe(&model, &arn, 10.0);
    assert_eq!(done["status"], "ROLLBACK_FAILED");
    assert!(done["rollback"].get("serviceRevisionArn").is_none(), "{done}");
    let names: Vec<Value> = model.drain_events(10.0).iter().map(|event| event["detail"]["eventName"].clone()).collect();
    assert_eq!(names, ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_FAILED"]);
}

#[test]
fn events_come_once_in_order_when_due() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    assert!(model.drain_events(0.0).is_empty(), "a created service sends nothing");
    let arn = model.update_service(USER, &update("td:7", 4.0, Fault::None), 10.0);
    let first = model.drain_events(12.0);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["detail"]["eventName"], "SERVICE_DEPLOYMENT_IN_PROGRESS");
    assert_eq!(first[0]["time"], "1970-01-01T00:00:10Z");
    assert_eq!(first[0]["resources"], json!([describe(&model, &arn, 12.0)["serviceArn"]]));
    assert!(model.drain_events(12.0).is_empty());
    let last = model.drain_events(14.0);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["detail"]["eventName"], "SERVICE_DEPLOYMENT_COMPLETED");
    assert_ne!(first[0]["id"], last[0]["id"]);
}

#[test]
fn describe_reports_unknown_arns_as_missing_and_refuses_bad_counts() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    let arn = model.update_service(USER, &update("td:7", 4.0, Fault::None), 0.0);
    let unknown = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/nope".to_owned();
    let answer = model.describe_service_deployments(&[arn.clone(), unknown.clone()], 1.0).unwrap();
    assert_eq!(answer["serviceDeployments"].as_array().map(Vec::len), Some(1));
    assert_eq!(answer["failures"], json!([{ "arn": unknown, "reason": "MISSING" }]));
    for count in [0, 21] {
        let error = model.describe_service_deployments(&vec![arn.clone(); count], 1.0).unwrap_err();
        assert_eq!(error.code, "InvalidParameterException", "{count}");
    }
}

#[test]
fn describe_services_shows_the_deployments_as_ecs_does() {
    let mut model = model(USER, Configuration::new(Strategy::Rolling));
    let moto = json!({ "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/deltaship-sample", "serviceName": "user-service",
        "taskDefinition": "td:7", "launchType": "FARGATE", "deploymentController": { "type": "ECS" } });
    let complete = |model: &Deployments, now: f64| {
        let mut service = moto.clone();
        model.complete_service(&mut service, now);
        service
    };
    let arn = model.update_service(USER, &update("td:7", 10.0, Fault::CircuitBreaker), 0.0);
    let running = complete(&model, 1.0);
    assert_eq!(running["currentServiceDeployment"], arn.as_str());
    assert_eq!(running["deploymentConfiguration"]["strategy"], "ROLLING");
    assert_eq!(running["deploymentController"], json!({ "type": "ECS" }));
    let view = |service: &Value| -> Vec<String> {
        service["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}",
                    d["status"].as_str().unwrap(),
                    d["taskDefinition"].as_str().unwrap(),
                    d["rolloutState"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(view(&running), ["PRIMARY td:7 IN_PROGRESS", "ACTIVE td:6 COMPLETED"]);
    assert_eq!(view(&complete(&model, 6.0)), ["PRIMARY td:6 IN_PROGRESS", "ACTIVE td:7 FAILED"], "rolling back");
    let back = complete(&model, 10.0);
    assert_eq!(view(&back), ["PRIMARY td:6 COMPLETED"]);
    assert_eq!(back["taskDefinition"], "td:6", "the service runs the old revision again");
    assert_eq!((back["runningCount"].clone(), back["desiredCount"].clone()), (json!(2), json!(2)));

    let fixture = fixture("ecs/update-service-with-current-service-deployment.json");
    let allowed = shape(&fixture["service"]["deployments"][0]);
    for deployment in running["deployments"].as_array().unwrap() {
        for key in deployment.as_object().unwrap().keys() {
            assert!(allowed.get(key).is_some(), "deployments[].{key} is not in the fixture");
        }
    }
    for key in
        ["currentServiceDeployment", "currentServiceRevisions", "deploymentConfiguration", "deploymentController"]
    {
        assert_eq!(shape(&running[key]), shape(&fixture["service"][key]), "{key}");
    }

    let mut green = self::model(PRODUCT, Configuration::new(Strategy::BlueGreen));
    green.update_service(PRODUCT, &update("td:7", 10.0, Fault::None), 0.0);
    let mut service = json!({ "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/deltaship-sample", "serviceName": "product-service" });
    green.complete_service(&mut service, 1.0);
    assert!(service["deployments"][0].get("rolloutState").is_none(), "rolloutState is for ROLLING only");
    let mut unknown = json!({ "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/c", "serviceName": "other" });
    green.complete_service(&mut unknown, 1.0);
    assert_eq!(unknown.as_object().map(|o| o.len()), Some(2), "left as moto answered");
}
