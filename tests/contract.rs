//! Contract tests between `state-machine/pipeline.asl.json`, `sam/template.yaml`, the Lambda bins
//! and the handlers' inputs, outputs and error names, so that none can drift from the others:
//!
//! - every `${...}` placeholder in the ASL has a `DefinitionSubstitutions` entry, and vice versa;
//! - every function in the template has a bin in the workspace, and every bin a function, and
//!   they are the functions of `deltaship_aws::FUNCTIONS`;
//! - every error name in a `Retry` or `Catch` is one the functions can return (or a Step
//!   Functions / Lambda service error), and `Retry` names only retryable ones;
//! - every path a state reads exists in the state's data at that point, following every branch
//!   of the state machine with the handlers' real output shapes (paths read as
//!   `deltaship::asl` reads them, as `deltaship cost` does);
//! - the template's wait parameters default to the core's wait policies
//!   (`WaitPolicy::BUILD`, `WaitPolicy::ROLLOUT`), and are what the functions' wait variables
//!   say.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use deltaship::asl;
use deltaship_core::payloads::{
    BuildStatus, CheckBuildInput, CheckBuildOutput, CheckRolloutOutput, DeployInput, DeployOutput, Outcome,
    RollbackAction, RollbackInput, RollbackOutput, RolloutStatus, ServiceOutcome, StartBuildOutput,
};
use deltaship_core::{ErrorKind, Origin, PipelineInput, RolloutWatch, ServiceJob, WaitPolicy};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn asl_text() -> String {
    std::fs::read_to_string(root().join("state-machine/pipeline.asl.json")).unwrap()
}

fn asl() -> Value {
    serde_json::from_str(&asl_text()).unwrap()
}

fn template() -> serde_norway::Value {
    serde_norway::from_str(&std::fs::read_to_string(root().join("sam/template.yaml")).unwrap()).unwrap()
}

fn resources_of_type<'a>(template: &'a serde_norway::Value, kind: &str) -> Vec<(&'a str, &'a serde_norway::Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(name, resource)| (name.as_str().unwrap(), resource))
        .collect()
}

/// The `${Name}` placeholders in a text.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("an unclosed placeholder");
        found.insert(after[..end].to_owned());
        rest = &after[end..];
    }
    found
}

#[test]
fn every_placeholder_has_a_substitution_and_every_substitution_a_placeholder() {
    let template = template();
    let machines = resources_of_type(&template, "AWS::Serverless::StateMachine");
    assert_eq!(machines.len(), 1, "one state machine in sam/template.yaml");
    let properties = &machines[0].1["Properties"];
    assert_eq!(properties["DefinitionUri"].as_str(), Some("../state-machine/pipeline.asl.json"));
    let substitutions: BTreeSet<String> = properties["DefinitionSubstitutions"]
        .as_mapping()
        .expect("DefinitionSubstitutions")
        .keys()
        .map(|key| key.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(placeholders(&asl_text()), substitutions);
    assert!(!substitutions.is_empty());
}

/// The bins of the workspace's Lambda packages: `lambdas/<name>` with a `[[bin]]`.
fn lambda_bins() -> BTreeSet<String> {
    let mut bins = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("lambdas")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let manifest: toml::Table = toml::from_str(&text).unwrap();
        for bin in manifest.get("bin").and_then(|bins| bins.as_array()).into_iter().flatten() {
            bins.insert(bin["name"].as_str().unwrap().to_owned());
        }
    }
    bins
}

#[test]
fn the_template_the_bins_and_the_list_of_functions_agree() {
    let template = template();
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    let mut named = BTreeSet::new();
    for (name, function) in &functions {
        assert_eq!(function["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{name}");
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str();
        let binary = binary.unwrap_or_else(|| panic!("{name} names no Metadata.BuildProperties.Binary"));
        named.insert(binary.to_owned());
    }
    let bins = lambda_bins();
    assert_eq!(named, bins, "functions in sam/template.yaml vs bins under lambdas/");
    assert_eq!(bins.len(), 7);
    // The list the local stack builds and seeds from (the bins run the same types).
    let listed: BTreeSet<String> = deltaship_aws::function::names().iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(listed, bins, "deltaship_aws::FUNCTIONS vs bins under lambdas/");
}

/// Error names a `Retry` or `Catch` may name besides ours: Step Functions' own, and the Lambda
/// service's errors of the `lambda:invoke` integration.
fn is_service_error(name: &str) -> bool {
    name.starts_with("States.") || name.starts_with("Lambda.")
}

fn visit_states(states: &Value, visit: &mut dyn FnMut(&str, &Value)) {
    for (name, state) in states.as_object().unwrap() {
        visit(name, state);
        if let Some(inner) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
            visit_states(&inner["States"], visit);
        }
    }
}

#[test]
fn every_error_name_is_one_the_functions_return_and_retries_are_only_retryable() {
    let mut seen = 0;
    visit_states(&asl()["States"], &mut |name, state| {
        for (field, retry) in [("Retry", true), ("Catch", false)] {
            for rule in state.get(field).and_then(Value::as_array).into_iter().flatten() {
                for error in rule["ErrorEquals"].as_array().unwrap() {
                    let error = error.as_str().unwrap();
                    seen += 1;
                    if is_service_error(error) {
                        continue;
                    }
                    let kind = ErrorKind::from_name(error)
                        .unwrap_or_else(|| panic!("state {name:?} {field} names {error:?}, which no function returns"));
                    if retry {
                        assert!(kind.is_retryable(), "state {name:?} retries {error}, which is not retryable");
                    }
                }
            }
        }
    });
    assert!(seen > 10, "the ASL names errors in Retry and Catch");
}

#[test]
fn every_retryable_error_is_retried_by_every_task() {
    let retryable: Vec<&str> =
        ErrorKind::ALL.into_iter().filter(|kind| kind.is_retryable()).map(ErrorKind::name).collect();
    let mut tasks = 0;
    visit_states(&asl()["States"], &mut |name, state| {
        if state["Type"] != "Task" {
            return;
        }
        tasks += 1;
        let retried: Vec<&str> = state["Retry"]
            .as_array()
            .unwrap_or_else(|| panic!("task {name:?} has no Retry"))
            .iter()
            .flat_map(|rule| rule["ErrorEquals"].as_array().unwrap())
            .map(|error| error.as_str().unwrap())
            .collect();
        for error in &retryable {
            assert!(retried.contains(error), "task {name:?} does not retry {error}");
        }
        assert!(state["Catch"].is_array(), "task {name:?} has no Catch: one failure would stop every service");
    });
    assert_eq!(tasks, 5);
}

/// The wait bounds the template's functions get: each wait variable names its parameter, and
/// the parameters' defaults, read as the Lambdas read their variables, are the core's policies.
#[test]
fn the_templates_wait_defaults_are_the_cores_wait_policies() {
    let template = template();
    let pairs = [
        (("BUILD_WAIT_MIN_SECONDS", "BuildWaitMinSeconds"), ("BUILD_WAIT_MAX_SECONDS", "BuildWaitMaxSeconds")),
        (("ROLLOUT_WAIT_MIN_SECONDS", "RolloutWaitMinSeconds"), ("ROLLOUT_WAIT_MAX_SECONDS", "RolloutWaitMaxSeconds")),
    ];
    let mut given = BTreeMap::new();
    for (function, resource) in resources_of_type(&template, "AWS::Serverless::Function") {
        let Some(variables) = resource["Properties"]["Environment"]["Variables"].as_mapping() else { continue };
        for ((min, min_parameter), (max, max_parameter)) in pairs {
            for (variable, parameter) in [(min, min_parameter), (max, max_parameter)] {
                let Some(value) = variables.get(variable) else { continue };
                let named = match value {
                    serde_norway::Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
                    _ => None,
                };
                assert_eq!(named, Some(parameter), "{function}'s {variable} is not !Ref {parameter}");
                *given.entry(variable).or_insert(0) += 1;
            }
            assert_eq!(variables.contains_key(min), variables.contains_key(max), "{function} has {min} or {max} alone");
        }
    }
    // start-build and check-build wait on builds, deploy-service and check-rollout on rollouts.
    assert_eq!(given.values().collect::<Vec<_>>(), [&2; 4], "functions given each wait variable: {given:?}");
    let default = |parameter: &str| -> u32 {
        let default = &template["Parameters"][parameter]["Default"];
        let seconds = default.as_u64().unwrap_or_else(|| panic!("parameter {parameter} defaults to {default:?}"));
        u32::try_from(seconds).unwrap()
    };
    let policy = |((_, min), (_, max)): ((&str, &str), (&str, &str))| WaitPolicy::new(default(min), default(max));
    assert_eq!(policy(pairs[0]), Ok(WaitPolicy::BUILD), "BuildWait*Seconds' defaults vs WaitPolicy::BUILD");
    assert_eq!(policy(pairs[1]), Ok(WaitPolicy::ROLLOUT), "RolloutWait*Seconds' defaults vs WaitPolicy::ROLLOUT");
}

// ---- the data each state sees ----------------------------------------------------------------

/// Which function a task invokes, by its `FunctionName` placeholder, and what it answers.
fn function_output(placeholder: &str) -> Value {
    let watch = RolloutWatch {
        name: "users".into(),
        cluster: "shop".into(),
        service: "users".into(),
        deployment_id: "ecs-svc/2".into(),
        task_definition: "arn:aws:ecs:eu-west-1:1:task-definition/users:7".into(),
        previous_task_definition: "arn:aws:ecs:eu-west-1:1:task-definition/users:6".into(),
        started_at: 1,
        deadline: 901,
    };
    let output = match placeholder {
        "${StartBuildFunctionArn}" => serde_json::to_value(StartBuildOutput {
            build_id: "users-build:1".into(),
            build_url: "https://console".into(),
            wait_seconds: 30,
        }),
        "${CheckBuildFunctionArn}" => serde_json::to_value(CheckBuildOutput {
            status: BuildStatus::Succeeded,
            build_id: "users-build:1".into(),
            wait_seconds: 0,
            phase: None,
            image: Some("registry/users:abc".into()),
            build_url: "https://console".into(),
            logs_url: None,
        }),
        "${DeployServiceFunctionArn}" => serde_json::to_value(DeployOutput {
            watch,
            image: "registry/users:abc".into(),
            wait_seconds: 20,
            service_url: "https://console".into(),
        }),
        "${CheckRolloutFunctionArn}" => serde_json::to_value(CheckRolloutOutput {
            status: RolloutStatus::Completed,
            deployment_id: "ecs-svc/2".into(),
            task_definition: "arn:aws:ecs:eu-west-1:1:task-definition/users:7".into(),
            wait_seconds: 0,
            detail: "2 of 2 tasks running".into(),
            service_url: "https://console".into(),
        }),
        "${RollbackServiceFunctionArn}" => serde_json::to_value(RollbackOutput {
            action: RollbackAction::RolledBack,
            task_definition: "arn:aws:ecs:eu-west-1:1:task-definition/users:6".into(),
            deployment_id: Some("ecs-svc/3".into()),
            message: "rolled back".into(),
            service_url: "https://console".into(),
        }),
        other => panic!("a task invokes {other}, which is no function"),
    };
    output.unwrap()
}

/// The payload a task sends is the input its function takes (every required field, of its type).
fn check_input(state: &str, placeholder: &str, payload: &Value) {
    fn parse<T: serde::de::DeserializeOwned>(state: &str, payload: &Value) {
        if let Err(error) = serde_json::from_value::<T>(payload.clone()) {
            panic!("state {state:?} sends {payload}, which its function does not take: {error}");
        }
    }
    match placeholder {
        "${StartBuildFunctionArn}" => parse::<ServiceJob>(state, payload),
        "${CheckBuildFunctionArn}" => parse::<CheckBuildInput>(state, payload),
        "${DeployServiceFunctionArn}" => parse::<DeployInput>(state, payload),
        "${CheckRolloutFunctionArn}" => parse::<RolloutWatch>(state, payload),
        "${RollbackServiceFunctionArn}" => parse::<RollbackInput>(state, payload),
        other => panic!("a task invokes {other}, which is no function"),
    }
}

/// The value at `path` in the data state `state` sees; panics, naming the state, if the path is
/// absent or beyond the paths deltaship knows.
fn read(state: &str, data: &Value, path: &str) -> Value {
    match asl::read(data, path) {
        Ok(Some(value)) => value,
        Ok(None) => panic!("state {state:?} reads {path}, which does not exist in {data}"),
        Err(error) => panic!("state {state:?}: {error}"),
    }
}

/// A payload template (`Parameters`) filled from `data`; panics, naming the state, on a path that
/// does not exist.
fn fill(state: &str, template: &Value, data: &Value) -> Value {
    asl::evaluate(template, data).unwrap_or_else(|error| panic!("state {state:?}: {error}, in {data}"))
}

/// `result` put where `result_path` says; panics, naming the state, if it cannot be.
fn put(state: &str, data: &mut Value, result_path: Option<&Value>, result: Value) {
    asl::set_result(data, result_path, result).unwrap_or_else(|error| panic!("state {state:?}: {error}"));
}

/// Follows every transition from `name` with `data`, checking each path a state reads; collects
/// the outputs of the states that end the machine.
fn walk(
    states: &Value,
    name: &str,
    data: Value,
    visited: &mut BTreeSet<(String, String)>,
    ends: &mut Vec<(String, Value)>,
) {
    let shape = shape_of(&data);
    if !visited.insert((name.to_owned(), shape)) {
        return;
    }
    let state = &states[name];
    let kind = state["Type"].as_str().unwrap_or_else(|| panic!("no state {name:?}"));
    let next_or_end =
        |output: Value, ends: &mut Vec<(String, Value)>, visited: &mut BTreeSet<(String, String)>| match state
            .get("Next")
            .and_then(Value::as_str)
        {
            Some(next) => walk(states, next, output, visited, ends),
            None => ends.push((name.to_owned(), output)),
        };
    match kind {
        "Task" => {
            let parameters = fill(name, &state["Parameters"], &data);
            let payload = &parameters["Payload"];
            assert!(payload.is_object(), "state {name:?} sends a payload that is not an object");
            let function = parameters["FunctionName"].as_str().unwrap();
            check_input(name, function, payload);
            for (catch_index, catch) in state["Catch"].as_array().unwrap().iter().enumerate() {
                let mut failed = data.clone();
                let error = json!({"Error": format!("Catch{catch_index}"), "Cause": "{\"errorMessage\":\"...\"}"});
                put(name, &mut failed, catch.get("ResultPath"), error);
                walk(states, catch["Next"].as_str().unwrap(), failed, visited, ends);
            }
            let mut output = data;
            let answer = json!({"Payload": function_output(function)});
            asl::apply_result(state, &mut output, answer)
                .unwrap_or_else(|error| panic!("state {name:?}: {error}, in {function}'s answer"));
            next_or_end(output, ends, visited);
        }
        "Wait" => {
            let path = state["SecondsPath"].as_str().unwrap();
            let seconds = read(name, &data, path);
            assert!(seconds.is_u64(), "state {name:?}: {path} is {seconds}, not a number of seconds");
            next_or_end(data, ends, visited);
        }
        "Choice" => {
            for choice in state["Choices"].as_array().unwrap() {
                let path = choice["Variable"].as_str().unwrap();
                let value = read(name, &data, path);
                if let Some(expected) = choice.get("StringEquals") {
                    assert!(value.is_string(), "state {name:?}: {path} is {value}, compared with {expected}");
                }
                walk(states, choice["Next"].as_str().unwrap(), data.clone(), visited, ends);
            }
            walk(states, state["Default"].as_str().unwrap(), data, visited, ends);
        }
        "Pass" => {
            let mut output = data;
            if let Some(parameters) = state.get("Parameters") {
                let result = fill(name, parameters, &output);
                put(name, &mut output, state.get("ResultPath"), result);
            }
            next_or_end(output, ends, visited);
        }
        "Map" => {
            let items = read(name, &data, state["ItemsPath"].as_str().unwrap());
            let item = items.as_array().unwrap()[0].clone();
            if let Some(path) = state.get("MaxConcurrencyPath") {
                let limit = read(name, &data, path.as_str().unwrap());
                assert!(limit.is_u64(), "MaxConcurrencyPath is a number");
            }
            let processor = &state["ItemProcessor"];
            let mut iteration_ends = Vec::new();
            walk(
                &processor["States"],
                processor["StartAt"].as_str().unwrap(),
                item,
                &mut BTreeSet::new(),
                &mut iteration_ends,
            );
            check_outcomes(&iteration_ends);
            for (_, outcome) in iteration_ends {
                let mut output = data.clone();
                put(name, &mut output, state.get("ResultPath"), json!([outcome]));
                next_or_end(output, ends, visited);
            }
        }
        "Succeed" | "Fail" => ends.push((name.to_owned(), data)),
        other => panic!("state {name:?} has type {other}, which this test does not follow"),
    }
}

/// The keys of an object, recursively, to tell apart data shapes in a loop.
fn shape_of(data: &Value) -> String {
    match data {
        Value::Object(fields) => {
            let inner: Vec<String> = fields.iter().map(|(key, value)| format!("{key}:{}", shape_of(value))).collect();
            format!("{{{}}}", inner.join(","))
        }
        _ => String::new(),
    }
}

/// Every iteration ends with an outcome naming the service, whether it is ok, and what happened.
fn check_outcomes(ends: &[(String, Value)]) {
    let mut outcomes = BTreeMap::new();
    for (state, outcome) in ends {
        let record: ServiceOutcome = serde_json::from_value(outcome.clone())
            .unwrap_or_else(|error| panic!("outcome state {state:?} writes no outcome record ({error}): {outcome}"));
        assert_eq!(record.ok, record.outcome.is_ok(), "state {state:?}: ok and outcome disagree");
        if !record.ok {
            assert!(record.error.is_some() && record.cause.is_some(), "state {state:?} says no why");
        }
        outcomes.insert(record.outcome, state.clone());
    }
    let reached: BTreeSet<Outcome> = outcomes.keys().copied().collect();
    assert_eq!(reached, Outcome::ALL.into_iter().collect(), "every outcome, and only these, ends an iteration");
}

fn execution_input() -> Value {
    let job = ServiceJob {
        name: "users".into(),
        repository: "shop".into(),
        branch: "main".into(),
        commit: "c".repeat(40),
        execution: "shop-main-cccccccccccc-0123456789".into(),
        pushed_at: 1_700_000_000,
        project: "users-build".into(),
        cluster: "shop".into(),
        service: "users".into(),
        container: "app".into(),
        image_repository: "shop/users".into(),
        timeout_minutes: 15,
        reasons: vec!["services/users/src/main.rs".into()],
        more_reasons: 0,
    };
    serde_json::to_value(PipelineInput {
        execution: "shop-main-cccccccccccc-0123456789".into(),
        repository: "shop".into(),
        branch: "main".into(),
        commit: "c".repeat(40),
        base: None,
        pushed_by: None,
        pushed_at: 1_700_000_000,
        origin: Origin::Push,
        max_concurrency: 10,
        services: vec![job],
        removed: vec![],
    })
    .unwrap()
}

#[test]
fn every_path_a_state_reads_exists_on_every_branch() {
    let asl = asl();
    let mut ends = Vec::new();
    walk(&asl["States"], asl["StartAt"].as_str().unwrap(), execution_input(), &mut BTreeSet::new(), &mut ends);
    let finals: BTreeSet<&str> = ends.iter().map(|(state, _)| state.as_str()).collect();
    assert_eq!(finals, BTreeSet::from(["All services deployed", "Some services failed"]));
}

#[test]
fn the_walker_catches_a_path_no_handler_produces() {
    let mut asl = asl();
    let check_build = &mut asl["States"]["Deploy each service"]["ItemProcessor"]["States"]["Check build"];
    check_build["ResultSelector"]["image.$"] = json!("$.Payload.image_uri");
    let result = std::panic::catch_unwind(|| {
        walk(&asl["States"], "Deploy each service", execution_input(), &mut BTreeSet::new(), &mut Vec::new());
    });
    assert!(result.is_err(), "a ResultSelector reading a field check-build does not return must fail the walk");
}

#[test]
fn the_walker_catches_a_payload_its_function_does_not_take() {
    let mut asl = asl();
    let deploy = &mut asl["States"]["Deploy each service"]["ItemProcessor"]["States"]["Deploy"];
    deploy["Parameters"]["Payload"].as_object_mut().unwrap().remove("pushed_at.$");
    let result = std::panic::catch_unwind(|| {
        walk(&asl["States"], "Deploy each service", execution_input(), &mut BTreeSet::new(), &mut Vec::new());
    });
    assert!(result.is_err(), "a Deploy payload without pushed_at must fail the walk");
}

#[test]
fn every_invoke_fixture_is_its_functions_input() {
    let fixture = |name: &str| -> Value {
        let path = root().join("tests/fixtures/invoke").join(format!("{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    for (function, placeholder) in [
        ("start-build", "${StartBuildFunctionArn}"),
        ("check-build", "${CheckBuildFunctionArn}"),
        ("deploy-service", "${DeployServiceFunctionArn}"),
        ("check-rollout", "${CheckRolloutFunctionArn}"),
        ("rollback-service", "${RollbackServiceFunctionArn}"),
    ] {
        check_input(function, placeholder, &fixture(function));
    }
    assert!(matches!(
        deltaship_core::parse_event_value(fixture("detect-changes")),
        Ok(deltaship_core::Trigger::Push(_))
    ));
    assert!(serde_json::from_value::<deltaship_core::payloads::ReconcileInput>(fixture("reconcile-pushes")).is_ok());
}

#[test]
fn placeholders_are_found() {
    assert_eq!(placeholders("a ${X} b ${Y_z}"), BTreeSet::from(["X".to_owned(), "Y_z".to_owned()]));
    assert!(placeholders("no placeholders $ {here}").is_empty());
}
