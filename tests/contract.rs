//! Contract tests between `state-machine/pipeline.asl.json`, `sam/template.yaml`, the Lambda bins
//! and the handlers' inputs, outputs and error names, so that none can drift from the others:
//!
//! - every `${...}` placeholder in the ASL has a `DefinitionSubstitutions` entry, and vice versa;
//! - every function in the template has a bin in the workspace, and every bin a function, and
//!   they are the functions of `deltaship_aws::FUNCTIONS`;
//! - every error name in a `Retry` or `Catch` is one the functions can return (or a Step
//!   Functions / Lambda service error), and `Retry` names only retryable ones;
//! - every path a state reads exists in the state's data at that point, following every branch
//!   of the state machine with the handlers' real output shapes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use deltaship_core::payloads::{
    BuildStatus, CheckBuildInput, CheckBuildOutput, CheckRolloutOutput, DeployInput, DeployOutput, Outcome,
    RollbackAction, RollbackInput, RollbackOutput, RolloutStatus, ServiceOutcome, StartBuildOutput,
};
use deltaship_core::{ErrorKind, Origin, PipelineInput, RolloutWatch, ServiceJob};
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

/// The value at a JSONPath of the forms `$`, `$.a.b` and `$.a[*].b`, or `None` if absent.
fn lookup(data: &Value, path: &str) -> Option<Value> {
    let rest = path.strip_prefix('$')?;
    let mut current = vec![data.clone()];
    let mut wildcard = false;
    for segment in rest.split('.').skip(1) {
        let (key, all) = match segment.strip_suffix("[*]") {
            Some(key) => (key, true),
            None => (segment, false),
        };
        let mut next = Vec::new();
        for value in current {
            let inner = value.get(key)?.clone();
            if all {
                next.extend(inner.as_array()?.iter().cloned());
            } else {
                next.push(inner);
            }
        }
        wildcard |= all;
        current = next;
    }
    if wildcard { Some(Value::Array(current)) } else { current.into_iter().next() }
}

/// A payload template (`Parameters`, `ResultSelector`) evaluated against `data`; panics, naming
/// the state, on a path that does not exist.
fn evaluate(state: &str, template: &Value, data: &Value) -> Value {
    match template {
        Value::Object(fields) => {
            let mut out = serde_json::Map::new();
            for (key, value) in fields {
                match (key.strip_suffix(".$"), value.as_str()) {
                    (Some(key), Some(path)) if path.starts_with("States.") => {
                        let open = path.find('(').unwrap();
                        for argument in path[open + 1..path.len() - 1].split(',').map(str::trim) {
                            if argument.starts_with('$') {
                                assert!(lookup(data, argument).is_some(), "state {state:?}: {argument} does not exist");
                            }
                        }
                        out.insert(key.to_owned(), json!(true));
                    }
                    (Some(key), Some(path)) => {
                        let found = lookup(data, path)
                            .unwrap_or_else(|| panic!("state {state:?} reads {path}, which does not exist in {data}"));
                        out.insert(key.to_owned(), found);
                    }
                    _ => {
                        out.insert(key.clone(), evaluate(state, value, data));
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn set_path(data: &mut Value, path: &str, value: Value) {
    if path == "$" {
        *data = value;
        return;
    }
    let mut current = data;
    let segments: Vec<&str> = path.strip_prefix("$.").unwrap().split('.').collect();
    for segment in &segments[..segments.len() - 1] {
        current = current.as_object_mut().unwrap().entry(*segment).or_insert_with(|| json!({}));
    }
    current.as_object_mut().unwrap().insert(segments[segments.len() - 1].to_owned(), value);
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
            let parameters = &state["Parameters"];
            let payload = match parameters.get("Payload.$") {
                Some(path) => lookup(&data, path.as_str().unwrap())
                    .unwrap_or_else(|| panic!("state {name:?} sends {path}, which does not exist")),
                None => evaluate(name, &parameters["Payload"], &data),
            };
            assert!(payload.is_object(), "state {name:?} sends a payload that is not an object");
            check_input(name, parameters["FunctionName"].as_str().unwrap(), &payload);
            let answer = json!({"Payload": function_output(parameters["FunctionName"].as_str().unwrap())});
            let selected = evaluate(name, &state["ResultSelector"], &answer);
            for (catch_index, catch) in state["Catch"].as_array().unwrap().iter().enumerate() {
                let mut failed = data.clone();
                let error = json!({"Error": format!("Catch{catch_index}"), "Cause": "{\"errorMessage\":\"...\"}"});
                set_path(&mut failed, catch["ResultPath"].as_str().unwrap(), error);
                walk(states, catch["Next"].as_str().unwrap(), failed, visited, ends);
            }
            let mut output = data;
            set_path(&mut output, state["ResultPath"].as_str().unwrap(), selected);
            next_or_end(output, ends, visited);
        }
        "Wait" => {
            let path = state["SecondsPath"].as_str().unwrap();
            let seconds =
                lookup(&data, path).unwrap_or_else(|| panic!("state {name:?} waits {path}, which does not exist"));
            assert!(seconds.is_u64(), "state {name:?}: {path} is {seconds}, not a number of seconds");
            next_or_end(data, ends, visited);
        }
        "Choice" => {
            for choice in state["Choices"].as_array().unwrap() {
                let path = choice["Variable"].as_str().unwrap();
                let value =
                    lookup(&data, path).unwrap_or_else(|| panic!("state {name:?} tests {path}, which does not exist"));
                if let Some(expected) = choice.get("StringEquals") {
                    assert!(value.is_string(), "state {name:?}: {path} is {value}, compared with {expected}");
                }
                walk(states, choice["Next"].as_str().unwrap(), data.clone(), visited, ends);
            }
            walk(states, state["Default"].as_str().unwrap(), data, visited, ends);
        }
        "Pass" => {
            let output = match state.get("Parameters") {
                Some(parameters) => evaluate(name, parameters, &data),
                None => data,
            };
            next_or_end(output, ends, visited);
        }
        "Map" => {
            let items = lookup(&data, state["ItemsPath"].as_str().unwrap()).unwrap();
            let item = items.as_array().unwrap()[0].clone();
            if let Some(path) = state.get("MaxConcurrencyPath") {
                let limit = lookup(&data, path.as_str().unwrap()).expect("MaxConcurrencyPath exists");
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
                set_path(&mut output, state["ResultPath"].as_str().unwrap(), json!([outcome]));
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
