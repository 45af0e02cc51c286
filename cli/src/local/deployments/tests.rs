//! The model over time: each strategy's stages and each fault's ending.
//! (Helpers shared by the other test modules too.)

use serde_json::{Value, json};

use super::*;

pub(super) const USER: &str = "deltaship-sample/user-service";
pub(super) const PRODUCT: &str = "deltaship-sample/product-service";

/// A fixture of `tests/fixtures/aws/`.
pub(super) fn fixture(path: &str) -> Value {
    let path = format!("{}/../tests/fixtures/aws/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `value` with every leaf `null` and every array cut to its first element: the keys, nested.
pub(super) fn shape(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(fields.iter().map(|(key, value)| (key.clone(), shape(value))).collect()),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        _ => Value::Null,
    }
}

/// A model whose `service` runs `:6` on 2 tasks, configured with `configuration`, since 0.
pub(super) fn model(service: &str, configuration: Configuration) -> Deployments {
    let mut model = Deployments::new("us-east-1", "123456789012");
    model.create_service(service, configuration, "td:6", 2, 0.0);
    model
}

pub(super) fn update(task_definition: &str, duration_seconds: f64, fault: Fault) -> Update {
    Update {
        task_definition: task_definition.to_owned(),
        desired_count: None,
        configuration: None,
        duration_seconds,
        fault,
    }
}

pub(super) fn describe(model: &Deployments, arn: &str, now: f64) -> Value {
    let answer = model.describe_service_deployments(&[arn.to_owned()], now).unwrap();
    answer["serviceDeployments"][0].clone()
}

/// The configuration of a fixture's first deployment.
pub(super) fn configuration_of(path: &str) -> Configuration {
    Configuration::from_json(&fixture(path)["serviceDeployments"][0]["deploymentConfiguration"]).unwrap()
}

/// Each distinct state a describe shows from `from` to `to`, every 10 ms: status, stage, the
/// target's running tasks and (when shifting traffic) its test/production weights.
fn trace(model: &Deployments, arn: &str, from: f64, to: f64) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let times = (0..).map(|step: u32| from + f64::from(step) / 100.0).take_while(|at| *at <= to + 1e-9);
    for at in times {
        let shown = describe(model, arn, at);
        let target = &shown["targetServiceRevision"];
        let mut line = format!(
            "{} {} {}r",
            shown["status"].as_str().unwrap(),
            shown["lifecycleStage"].as_str().unwrap_or("-"),
            target["runningTaskCount"]
        );
        if let (Some(test), Some(production)) =
            (target["requestedTestTrafficWeight"].as_f64(), target["requestedProductionTrafficWeight"].as_f64())
        {
            line.push_str(&format!(" {test}/{production}"));
        }
        if seen.last() != Some(&line) {
            seen.push(line);
        }
    }
    seen
}

fn strategy(strategy: Strategy, tweak: impl FnOnce(&mut Configuration)) -> Configuration {
    let mut configuration = Configuration::new(strategy);
    tweak(&mut configuration);
    configuration
}

#[test]
fn each_strategy_shows_its_documented_stages_within_a_four_second_rollout() {
    let head = [
        "IN_PROGRESS PRE_SCALE_UP 0r 0/0",
        "IN_PROGRESS SCALE_UP 0r 0/0",
        "IN_PROGRESS POST_SCALE_UP 2r 0/0",
        "IN_PROGRESS TEST_TRAFFIC_SHIFT 2r 100/0",
        "IN_PROGRESS POST_TEST_TRAFFIC_SHIFT 2r 100/0",
    ];
    let tail = [
        "IN_PROGRESS POST_PRODUCTION_TRAFFIC_SHIFT 2r 100/100",
        "IN_PROGRESS BAKE_TIME 2r 100/100",
        "IN_PROGRESS CLEAN_UP 2r 100/100",
        "SUCCESSFUL - 2r 100/100",
    ];
    let shifts = |steps: &[(&str, &str)]| -> Vec<String> {
        steps
            .iter()
            .flat_map(|(before, after)| {
                [
                    format!("IN_PROGRESS PRE_PRODUCTION_TRAFFIC_SHIFT 2r 100/{before}"),
                    format!("IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT 2r 100/{after}"),
                ]
            })
            .collect()
    };
    let cases: Vec<(&str, Configuration, Vec<String>)> = vec![
        (
            "rolling",
            Configuration::new(Strategy::Rolling),
            vec![
                "IN_PROGRESS - 0r".into(),
                "IN_PROGRESS - 1r".into(),
                "IN_PROGRESS - 2r".into(),
                "SUCCESSFUL - 2r".into(),
            ],
        ),
        ("blue/green", Configuration::new(Strategy::BlueGreen), shifts(&[("0", "100")])),
        (
            "canary 10 %",
            strategy(Strategy::Canary, |c| {
                c.canary_configuration = Some(config::Canary { canary_percent: 10.0, canary_bake_time_in_minutes: 15 });
            }),
            shifts(&[("0", "10"), ("10", "100")]),
        ),
        (
            "linear 25 %",
            strategy(Strategy::Linear, |c| {
                c.linear_configuration = Some(config::Linear { step_percent: 25.0, step_bake_time_in_minutes: 5 });
            }),
            shifts(&[("0", "25"), ("25", "50"), ("50", "75"), ("75", "100")]),
        ),
        (
            "linear 30 % (last step 10)",
            strategy(Strategy::Linear, |c| {
                c.linear_configuration = Some(config::Linear { step_percent: 30.0, step_bake_time_in_minutes: 5 });
            }),
            shifts(&[("0", "30"), ("30", "60"), ("60", "90"), ("90", "100")]),
        ),
    ];
    for (name, configuration, middle) in cases {
        let rolling = configuration.strategy == Strategy::Rolling;
        let mut model = model(PRODUCT, configuration);
        let arn = model.update_service(PRODUCT, &update("td:7", 4.0, Fault::None), 10.0);
        let expected: Vec<String> = if rolling {
            middle
        } else {
            head.iter().map(|s| (*s).to_owned()).chain(middle).chain(tail.iter().map(|s| (*s).to_owned())).collect()
        };
        assert_eq!(trace(&model, &arn, 10.0, 15.0), expected, "{name}");
        assert_eq!(model.status(&arn, 13.99), Some(Status::InProgress), "{name}");
        assert_eq!(model.status(&arn, 14.0), Some(Status::Successful), "{name}: done at the duration");
    }
}

#[test]
fn a_deployment_that_starts_with_two_revisions_running_reconciles_them_first() {
    let mut model = model(PRODUCT, Configuration::new(Strategy::BlueGreen));
    let first = model.update_service(PRODUCT, &update("td:7", 10.0, Fault::None), 0.0);
    // POST_SCALE_UP: the green tasks of :7 run.
    let second = model.update_service(PRODUCT, &update("td:8", 10.0, Fault::None), 2.5);
    assert_eq!(describe(&model, &first, 2.5)["status"], "STOP_REQUESTED");
    let shown = describe(&model, &second, 2.5);
    assert_eq!(shown["lifecycleStage"], "RECONCILE_SERVICE");
    assert_eq!(shown["sourceServiceRevisions"].as_array().map(Vec::len), Some(2), "{shown}");
    assert_eq!(trace(&model, &second, 2.5, 13.0).get(1).map(String::as_str), Some("IN_PROGRESS PRE_SCALE_UP 0r 0/0"));
}

/// One fault's ending: the final status, and the events ECS sent (name and whose deployment).
struct Ending {
    name: &'static str,
    service: &'static str,
    configuration: Configuration,
    fault: Fault,
    status: &'static str,
    events: &'static [&'static str],
}

#[test]
fn each_fault_ends_as_documented() {
    let no_rollback = |c: &mut Configuration| {
        c.deployment_circuit_breaker =
            Some(config::CircuitBreaker { enable: true, rollback: false, ..Default::default() });
    };
    let cases = [
        Ending {
            name: "rolling breaker",
            service: USER,
            configuration: Configuration::new(Strategy::Rolling),
            fault: Fault::CircuitBreaker,
            status: "ROLLBACK_SUCCESSFUL",
            events: &["IN_PROGRESS new", "FAILED new", "IN_PROGRESS old", "COMPLETED old"],
        },
        Ending {
            name: "rolling breaker, no rollback",
            service: USER,
            configuration: strategy(Strategy::Rolling, no_rollback),
            fault: Fault::CircuitBreaker,
            status: "STOPPED",
            events: &["IN_PROGRESS new", "FAILED new"],
        },
        Ending {
            name: "rolling alarm",
            service: USER,
            configuration: Configuration::new(Strategy::Rolling),
            fault: Fault::Alarm,
            status: "ROLLBACK_SUCCESSFUL",
            events: &["IN_PROGRESS new", "FAILED new", "IN_PROGRESS old", "COMPLETED old"],
        },
        Ending {
            name: "rolling hook",
            service: USER,
            configuration: Configuration::new(Strategy::Rolling),
            fault: Fault::Hook,
            status: "ROLLBACK_SUCCESSFUL",
            events: &["IN_PROGRESS new", "IN_PROGRESS old", "COMPLETED old"],
        },
        Ending {
            name: "blue/green alarm",
            service: PRODUCT,
            configuration: configuration_of("ecs/describe-service-deployments-alarms-rollback.json"),
            fault: Fault::Alarm,
            status: "ROLLBACK_SUCCESSFUL",
            events: &["IN_PROGRESS new", "FAILED new", "IN_PROGRESS old", "COMPLETED old"],
        },
        Ending {
            name: "blue/green alarm, no rollback",
            service: PRODUCT,
            configuration: strategy(Strategy::BlueGreen, |c| {
                c.alarms = Some(config::Alarms { alarm_names: vec!["a".into()], rollback: false, enable: true });
            }),
            fault: Fault::Alarm,
            status: "STOPPED",
            events: &["IN_PROGRESS new", "FAILED new"],
        },
        Ending {
            name: "blue/green hook",
            service: PRODUCT,
            configuration: configuration_of("ecs/describe-service-deployments-lifecycle-hook-rollback.json"),
            fault: Fault::Hook,
            status: "ROLLBACK_SUCCESSFUL",
            events: &["IN_PROGRESS new", "IN_PROGRESS old", "COMPLETED old"],
        },
        Ending {
            name: "canary alarm",
            service: PRODUCT,
            configuration: configuration_of("ecs/describe-service-deployments-canary-in-progress.json"),
            fault: Fault::Alarm,
            status: "ROLLBACK_SUCCESSFUL",
            events: &["IN_PROGRESS new", "FAILED new", "IN_PROGRESS old", "COMPLETED old"],
        },
        Ending {
            name: "linear hook",
            service: PRODUCT,
            configuration: configuration_of("ecs/describe-service-deployments-linear-in-progress.json"),
            fault: Fault::Hook,
            status: "ROLLBACK_SUCCESSFUL",
            events: &["IN_PROGRESS new", "IN_PROGRESS old", "COMPLETED old"],
        },
        Ending {
            name: "linear breaker",
            service: PRODUCT,
            configuration: Configuration::new(Strategy::Linear),
            fault: Fault::CircuitBreaker,
            status: "ROLLBACK_SUCCESSFUL",
            events: &["IN_PROGRESS new", "FAILED new", "IN_PROGRESS old", "COMPLETED old"],
        },
    ];
    for case in cases {
        let mut model = model(case.service, case.configuration);
        let old = model.list_service_deployments(case.service, &[], 0.0)["serviceDeployments"][0].clone();
        let arn = model.update_service(case.service, &update("td:7", 20.0, case.fault), 100.0);
        // A rollback takes half the duration: it ends by one and a half durations.
        let done = describe(&model, &arn, 130.0);
        assert_eq!(done["status"], case.status, "{}: {done}", case.name);
        assert_eq!(model.status(&arn, 1000.0).map(Status::as_str), Some(case.status), "{}: it stays", case.name);
        let ended = if case.status == "STOPPED" { "stoppedAt" } else { "finishedAt" };
        assert!(done[ended].as_f64().is_some_and(|at| at > 100.0 && at <= 130.0), "{}: {done}", case.name);

        let ids = (ecs_id(&model, &arn), ecs_id(&model, old["serviceDeploymentArn"].as_str().unwrap()));
        let events: Vec<String> = model
            .drain_events(1000.0)
            .iter()
            .map(|event| {
                let name =
                    event["detail"]["eventName"].as_str().unwrap().trim_start_matches("SERVICE_DEPLOYMENT_").to_owned();
                let whose = match event["detail"]["deploymentId"].as_str() {
                    Some(id) if id == ids.0 => "new",
                    Some(id) if id == ids.1 => "old",
                    other => panic!("{}: an event of {other:?}", case.name),
                };
                format!("{name} {whose}")
            })
            .collect();
        assert_eq!(events, case.events, "{}", case.name);

        match case.fault {
            Fault::CircuitBreaker => {
                assert_eq!(done["deploymentCircuitBreaker"]["status"], "TRIGGERED", "{}", case.name);
                assert_eq!(
                    done["deploymentCircuitBreaker"]["failureCount"], done["deploymentCircuitBreaker"]["threshold"],
                    "{}",
                    case.name
                );
            }
            Fault::Alarm => {
                let named = done["deploymentConfiguration"]["alarms"]["alarmNames"][0].clone();
                assert_eq!(done["alarms"]["status"], "TRIGGERED", "{}", case.name);
                assert_eq!(done["alarms"]["triggeredAlarmNames"], json!([named]), "{}", case.name);
            }
            Fault::Hook => assert_eq!(done["lifecycleHookDetails"][0]["status"], "FAILED", "{}: {done}", case.name),
            Fault::None => {}
        }
        if case.status == "ROLLBACK_SUCCESSFUL" {
            assert_eq!(
                done["rollback"]["serviceRevisionArn"], old["targetServiceRevisionArn"],
                "{}: back to :6",
                case.name
            );
            assert_eq!(done["targetServiceRevision"]["runningTaskCount"], 0, "{}", case.name);
        }
    }
}

/// The `ecs-svc/...` id of a deployment (the `deploymentId` of its events).
fn ecs_id(model: &Deployments, arn: &str) -> String {
    model.by_arn.get(arn).and_then(|&index| model.deployments.get(index)).unwrap().target.ecs_id.clone()
}

#[test]
fn alarms_go_off_in_bake_time_and_hooks_fail_at_their_stage() {
    let cases = [
        (Fault::Alarm, "BAKE_TIME", "ecs/describe-service-deployments-alarms-rollback.json"),
        (Fault::Hook, "POST_TEST_TRAFFIC_SHIFT", "ecs/describe-service-deployments-lifecycle-hook-rollback.json"),
    ];
    for (fault, stage, path) in cases {
        let mut model = model(PRODUCT, configuration_of(path));
        let arn = model.update_service(PRODUCT, &update("td:7", 10.0, fault), 0.0);
        let states = trace(&model, &arn, 0.0, 11.0);
        let failed = states.iter().position(|line| line.starts_with("ROLLBACK_IN_PROGRESS")).unwrap();
        assert!(states[failed - 1].contains(stage), "{stage}: {states:?}");
        assert!(states.iter().all(|line| !line.contains("CLEAN_UP")), "{states:?}");
    }
}

#[test]
fn the_breaker_trips_at_half_the_desired_count() {
    for (desired, threshold) in [(2, 3), (25, 13), (500, 200)] {
        let mut model = model(USER, Configuration::new(Strategy::Rolling));
        let update = Update { desired_count: Some(desired), ..update("td:7", 20.0, Fault::CircuitBreaker) };
        let arn = model.update_service(USER, &update, 0.0);
        let counts: Vec<u64> = (0..=2000)
            .map(|step| {
                describe(&model, &arn, f64::from(step) / 100.0)["deploymentCircuitBreaker"]["failureCount"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(counts.iter().max(), Some(&threshold), "desired {desired}");
        assert!(counts.windows(2).all(|pair| pair[1] >= pair[0] && pair[1] - pair[0] <= 1), "one failure at a time");
        assert_eq!(describe(&model, &arn, 20.0)["deploymentCircuitBreaker"]["threshold"], threshold);
    }
}
