//! Contract tests between `state-machine/pipeline.asl.json`, `sam/template.yaml`, the Lambda bins
//! and the handlers' inputs, outputs and error names, so that none can drift from the others:
//!
//! - every `${...}` placeholder in the ASL has a `DefinitionSubstitutions` entry, and vice versa;
//! - every function in the template has a bin in the workspace, and every bin a function, and
//!   they are the functions of `deltaship_aws::FUNCTIONS`;
//! - every function builds from the variables the template gives it, reads each of them, and
//!   gets every wait bound it reads from the template's wait parameters, whose defaults are the
//!   core's wait policies (`WaitPolicy::BUILD`, `WaitPolicy::ROLLOUT`);
//! - every error name in a `Retry` or `Catch` is one the functions can return (or a Step
//!   Functions / Lambda service error), `Retry` names only retryable ones, and every task retries
//!   the Lambda service's transient errors;
//! - every path a state reads exists in the state's data at that point, following every branch
//!   of the state machine with the handlers' real output shapes (`deltaship_core::payloads`;
//!   paths read as `deltaship::asl` reads them, as `deltaship cost` does). Callback tasks
//!   (`lambda:invoke.waitForTaskToken`) send the task token, time out after a positive number of
//!   seconds from their input, and end with what their token is completed with (the function's
//!   answer itself), an error of the function, or `States.Timeout`, which leads to a look;
//! - every iteration ends with a `ServiceOutcome`, every outcome is reached, and each records
//!   what ops need (who rolled back; the service deployment and its strategy once deployed);
//!   one that got to an environment ends in "Service done", its outcome the last environment's
//!   and its environments the records their outcome states wrote, in pipeline order; each
//!   environment's deployment is sent that environment's target (a later one's from its
//!   promotion, which "Promote" makes the service's own) and the image by digest, and the record
//!   of an environment behind a gate carries the approval that let the service in;
//! - the template's EventBridge rules deliver the events AWS sends (`tests/fixtures/aws/events/`)
//!   that the waits need, and not another cluster's or project's; the `sam/events/` events are
//!   their functions' inputs and pass their rules.
//!
//! The walk is `contract/walk.rs`; the template's intrinsics are resolved by `contract/template.rs`;
//! event patterns are matched by `deltaship::event_pattern` (the local stack's matcher, checked
//! against moto's own in `cli/tests/event_patterns.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "contract/template.rs"]
mod template;
#[path = "contract/walk.rs"]
mod walk;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use deltaship_aws::settings::Source;
use deltaship_core::environments::Promotion;
use deltaship_core::{ErrorKind, Origin, PipelineInput, ServiceJob, WaitPolicy};
use serde_json::{Value, json};

use crate::template::Stack;
use crate::walk::{Walk, input_problem};

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

/// The template's functions: (logical id, bin, resource).
fn template_functions(template: &serde_norway::Value) -> Vec<(&str, &str, &serde_norway::Value)> {
    resources_of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(name, function)| {
            assert_eq!(function["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{name}");
            let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str();
            let binary = binary.unwrap_or_else(|| panic!("{name} names no Metadata.BuildProperties.Binary"));
            (name, binary, function)
        })
        .collect()
}

#[test]
fn the_template_the_bins_and_the_list_of_functions_agree() {
    let template = template();
    let named: BTreeSet<String> =
        template_functions(&template).into_iter().map(|(_, binary, _)| binary.to_owned()).collect();
    let bins = lambda_bins();
    assert_eq!(named, bins, "functions in sam/template.yaml vs bins under lambdas/");
    assert_eq!(bins.len(), 9);
    // The list the local stack builds and seeds from (the bins run the same types).
    let listed: BTreeSet<String> = deltaship_aws::function::names().iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(listed, bins, "deltaship_aws::FUNCTIONS vs bins under lambdas/");
}

// ---- each function's variables ---------------------------------------------------------------

/// Settings from a table, remembering which variables were read.
struct Recorder {
    variables: BTreeMap<String, String>,
    read: RefCell<BTreeSet<String>>,
}

impl Source for Recorder {
    fn get(&self, variable: &str) -> Option<String> {
        self.read.borrow_mut().insert(variable.to_owned());
        self.variables.get(variable).cloned()
    }
}

/// A configuration that needs no environment: building a function makes no call.
fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .build()
}

/// Each template function's bin, the variables the template gives it (resolved as in a stack
/// deployed with the defaults), and the variables its settings read.
fn variables_given_and_read() -> Vec<(String, BTreeMap<String, String>, BTreeSet<String>)> {
    let template = template();
    let stack = Stack::new(&template, "eu-west-1", &[]);
    let mut found = Vec::new();
    for (name, binary, function) in template_functions(&template) {
        let given = stack.resolve(&function["Properties"]["Environment"]["Variables"]);
        let given: BTreeMap<String, String> = given
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no Environment.Variables"))
            .iter()
            .map(|(variable, value)| {
                let value = value.as_str().unwrap_or_else(|| panic!("{name}'s {variable} is {value}, not a string"));
                (variable.clone(), value.to_owned())
            })
            .collect();
        let entry = deltaship_aws::function::named(binary).unwrap_or_else(|| panic!("no function {binary}"));
        let recorder = Recorder { variables: given.clone(), read: RefCell::default() };
        if let Err(error) = entry.build(&sdk_config(), &recorder) {
            panic!("{name} ({binary}) does not build from the variables the template gives it: {error}");
        }
        found.push((binary.to_owned(), given, recorder.read.into_inner()));
    }
    found
}

#[test]
fn every_function_builds_from_its_variables_and_reads_each_of_them() {
    let found = variables_given_and_read();
    assert_eq!(found.len(), deltaship_aws::FUNCTIONS.len());
    for (function, given, read) in &found {
        let unread: Vec<&String> = given.keys().filter(|variable| !read.contains(*variable)).collect();
        assert!(unread.is_empty(), "the template gives {function} {unread:?}, which it never reads");
    }
    // The waits table is required where waits are kept and where the push ledger is read or
    // written (a missing one stops the build above).
    let with_table: BTreeSet<&str> = found
        .iter()
        .filter(|(_, given, _)| given.contains_key("WAITS_TABLE"))
        .map(|(function, _, _)| function.as_str())
        .collect();
    assert_eq!(
        with_table,
        BTreeSet::from([
            "check-build",
            "check-rollout",
            "wake-waits",
            "detect-changes",
            "reconcile-pushes",
            "deploy-service",
            "request-approval"
        ])
    );
}

/// The wait bounds the template's functions get: every function that reads a wait variable gets
/// it from the template as `!Ref` of its parameter, and the parameters' defaults, read as the
/// Lambdas read their variables, are the core's policies.
#[test]
fn the_templates_wait_defaults_are_the_cores_wait_policies() {
    let template = template();
    let parameters = [
        ("BUILD_WAIT_MIN_SECONDS", "BuildWaitMinSeconds"),
        ("BUILD_WAIT_MAX_SECONDS", "BuildWaitMaxSeconds"),
        ("ROLLOUT_WAIT_MIN_SECONDS", "RolloutWaitMinSeconds"),
        ("ROLLOUT_WAIT_MAX_SECONDS", "RolloutWaitMaxSeconds"),
    ];
    let readers: BTreeMap<String, BTreeSet<String>> = variables_given_and_read()
        .into_iter()
        .map(|(function, _, read)| {
            (
                function,
                read.into_iter().filter(|variable| parameters.iter().any(|(name, _)| name == variable)).collect(),
            )
        })
        .collect();
    for (name, binary, function) in template_functions(&template) {
        let variables = &function["Properties"]["Environment"]["Variables"];
        for (variable, parameter) in parameters {
            let reads = readers[binary].contains(variable);
            let Some(value) = variables.get(variable) else {
                assert!(!reads, "{name} reads {variable}, which the template does not give it (a default would win)");
                continue;
            };
            let named = match value {
                serde_norway::Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
                _ => None,
            };
            assert_eq!(named, Some(parameter), "{name}'s {variable} is not !Ref {parameter}");
        }
    }
    let waiting = |prefix: &str| -> BTreeSet<&str> {
        readers
            .iter()
            .filter(|(_, read)| read.iter().any(|variable| variable.starts_with(prefix)))
            .map(|(function, _)| function.as_str())
            .collect()
    };
    // detect-changes and the reconciler compute a plan's worst case with both policies.
    let planners = ["detect-changes", "reconcile-pushes"];
    let build: BTreeSet<&str> = ["check-build", "start-build", "wake-waits"].into_iter().chain(planners).collect();
    let rollout: BTreeSet<&str> =
        ["check-rollout", "deploy-service", "rollback-service", "wake-waits"].into_iter().chain(planners).collect();
    assert_eq!(waiting("BUILD_WAIT_"), build);
    assert_eq!(waiting("ROLLOUT_WAIT_"), rollout);
    let default = |parameter: &str| -> u32 {
        let default = &template["Parameters"][parameter]["Default"];
        let seconds = default.as_u64().unwrap_or_else(|| panic!("parameter {parameter} defaults to {default:?}"));
        u32::try_from(seconds).unwrap()
    };
    let policy = |min: usize| WaitPolicy::new(default(parameters[min].1), default(parameters[min + 1].1));
    assert_eq!(policy(0), Ok(WaitPolicy::BUILD), "BuildWait*Seconds' defaults vs WaitPolicy::BUILD");
    assert_eq!(policy(2), Ok(WaitPolicy::ROLLOUT), "RolloutWait*Seconds' defaults vs WaitPolicy::ROLLOUT");
}

// ---- error names ------------------------------------------------------------------------------

/// Step Functions' own error names (the Amazon States Language's predefined errors).
const STATES_ERRORS: [&str; 15] = [
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
];

/// The Lambda service's errors of the `lambda:invoke` integration, all transient and retried by
/// every task: the service's 500s, throttling, and what Lambda reports for a function that crashed
/// or timed out (`Lambda.Unknown`, and `Sandbox.Timedout` as the function's `errorType`; with
/// `Lambda.ClientExecutionTimeoutException`, the three issue 15 added to every task's retries).
const LAMBDA_ERRORS: [&str; 7] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
];

/// Errors no function returns, which the state machine catches: sent with `SendTaskFailure` on a
/// task token by the CLI. `Rejected` is what `deltaship reject` fails an approval's wait with
/// (`deltaship::approvals::REJECTED_ERROR`); it is not an `ErrorKind`, as no Lambda returns it.
const SENT_BY_THE_CLI: [&str; 1] = [deltaship::approvals::REJECTED_ERROR];

/// Errors a `Retry` must not name: retrying them would hide a failure or, for a callback task's
/// timeout, skip the look that follows it.
const NEVER_RETRIED: [&str; 4] = ["States.ALL", "States.TaskFailed", "States.Timeout", "States.HeartbeatTimeout"];

fn visit_states(states: &Value, visit: &mut dyn FnMut(&str, &Value)) {
    for (name, state) in states.as_object().unwrap() {
        visit(name, state);
        if let Some(inner) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
            visit_states(&inner["States"], visit);
        }
    }
}

fn error_names(rule: &Value) -> Vec<&str> {
    rule["ErrorEquals"].as_array().unwrap().iter().map(|error| error.as_str().unwrap()).collect()
}

#[test]
fn every_error_name_is_one_the_functions_return_and_retries_are_only_retryable() {
    let mut seen = 0;
    visit_states(&asl()["States"], &mut |name, state| {
        for (field, retry) in [("Retry", true), ("Catch", false)] {
            for rule in state.get(field).and_then(Value::as_array).into_iter().flatten() {
                for error in error_names(rule) {
                    seen += 1;
                    if retry {
                        assert!(!NEVER_RETRIED.contains(&error), "state {name:?} retries {error}");
                        assert!(!SENT_BY_THE_CLI.contains(&error), "state {name:?} retries {error}, an answer");
                    }
                    if STATES_ERRORS.contains(&error) || LAMBDA_ERRORS.contains(&error) {
                        continue;
                    }
                    if SENT_BY_THE_CLI.contains(&error) {
                        // Only where the CLI sends it: on an approval's wait.
                        let function = state["Parameters"]["FunctionName"].as_str();
                        assert_eq!(function, Some("${RequestApprovalFunctionArn}"), "state {name:?} catches {error}");
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
fn every_task_retries_the_transient_errors_and_catches_the_rest() {
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
            .flat_map(error_names)
            .collect();
        for error in retryable.iter().chain(&LAMBDA_ERRORS) {
            assert!(retried.contains(error), "task {name:?} does not retry {error}");
        }
        assert!(state["Catch"].is_array(), "task {name:?} has no Catch: one failure would stop every service");
    });
    // Start build, Wait for build, Look at build, Deploy, Wait for rollout, Look at rollout,
    // Roll back, Wait for rollback, Look at rollback, Wait for approval.
    assert_eq!(tasks, 10);
}

/// A promotion of `service` into `environment`, with a gate or not: a target of its own there
/// (another cluster, ECS service, container and deadline than the first environment's), so that
/// the walk sees which one each deployment was sent.
fn promotion(service: &str, environment: &str, approval: bool) -> Promotion {
    Promotion {
        environment: environment.into(),
        approval,
        approval_timeout_seconds: 86_400,
        cluster: format!("shop-{environment}"),
        service: format!("{service}-{environment}"),
        container: "main".into(),
        timeout_minutes: 45,
        answer: None,
    }
}

/// A push's execution input with two services: one pushed, built and promoted from staging into
/// production through a gate; one redeployed (`deltaship redeploy`: an earlier push's image, no
/// build), promoted into qa through a gate, then into production without one (the answer that
/// let it into qa is not production's). Between them they take every state and every choice.
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
        build_timeout_minutes: 60,
        reasons: vec!["services/users/src/main.rs".into()],
        more_reasons: 0,
        environment: "staging".into(),
        pushed_by: Some("arn:aws:iam::123456789012:user/mary".into()),
        promotions: vec![promotion("users", "production", true)],
        answer: None,
        image: None,
    };
    let redeploy = ServiceJob {
        name: "orders".into(),
        project: "orders-build".into(),
        service: "orders".into(),
        image_repository: "shop/orders".into(),
        reasons: Vec::new(),
        promotions: vec![promotion("orders", "qa", true), promotion("orders", "production", false)],
        answer: None,
        image: Some(format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/orders@sha256:{}", "b".repeat(64))),
        ..job.clone()
    };
    serde_json::to_value(PipelineInput {
        execution: "shop-main-cccccccccccc-0123456789".into(),
        repository: "shop".into(),
        branch: "main".into(),
        commit: "c".repeat(40),
        base: None,
        pushed_by: Some("arn:aws:iam::123456789012:user/mary".into()),
        pushed_at: 1_700_000_000,
        origin: Origin::Push,
        max_concurrency: 10,
        services: vec![job, redeploy],
        part: 1,
        parts: 1,
        removed: vec![],
    })
    .unwrap()
}

/// The whole machine walked: the states that end it.
fn walk_machine(asl: &Value) -> BTreeSet<String> {
    Walk::run(asl, vec![execution_input()], |_| {}).into_iter().map(|end| end.state).collect()
}

#[test]
fn every_path_a_state_reads_exists_on_every_branch() {
    let finals = walk_machine(&asl());
    assert_eq!(finals, BTreeSet::from(["All services deployed".to_owned(), "Some services failed".to_owned()]));
}

/// The walk over `asl` changed by `change` (a state of the iteration, by name) fails: what it
/// says.
fn walk_failure(state: &str, change: impl FnOnce(&mut Value), why: &str) -> String {
    let mut asl = asl();
    change(&mut asl["States"]["Deploy each service"]["ItemProcessor"]["States"][state]);
    let result = std::panic::catch_unwind(|| walk_machine(&asl));
    let Err(panic) = result else { panic!("{why}") };
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_default()
}

/// The walk over `asl` changed by `change` (a state of the iteration, by name) fails.
fn assert_walk_fails(state: &str, change: impl FnOnce(&mut Value), why: &str) {
    walk_failure(state, change, why);
}

/// The walk over `asl` changed by `change` fails, and the check that catches it says `says`.
fn assert_walk_fails_saying(state: &str, change: impl FnOnce(&mut Value), says: &str, why: &str) {
    let failure = walk_failure(state, change, why);
    assert!(failure.contains(says), "{why}: the walk failed, but not saying {says:?}: {failure}");
}

#[test]
fn the_walker_catches_a_path_no_handler_produces() {
    assert_walk_fails(
        "Look at build",
        |state| state["ResultSelector"]["image.$"] = json!("$.Payload.image_uri"),
        "a ResultSelector reading a field check-build does not return must fail the walk",
    );
    assert_walk_fails(
        "Wait for build",
        |state| state["ResultSelector"]["status.$"] = json!("$.Payload.status"),
        "a callback task's result is the completion itself, not wrapped in Payload",
    );
}

#[test]
fn the_walker_catches_a_payload_its_function_does_not_take() {
    assert_walk_fails(
        "Deploy",
        |state| {
            state["Parameters"]["Payload"].as_object_mut().unwrap().remove("pushed_at.$");
        },
        "a Deploy payload without pushed_at must fail the walk",
    );
    assert_walk_fails(
        "Wait for rollout",
        |state| {
            state["Parameters"]["Payload"].as_object_mut().unwrap().remove("task_token.$");
        },
        "a callback task that does not send its token must fail the walk",
    );
    assert_walk_fails(
        "Look at rollout",
        |state| state["Parameters"]["Payload"]["task_token.$"] = json!("$$.Task.Token"),
        "a plain invocation that sends a token (wait mode without a wait) must fail the walk",
    );
    assert_walk_fails(
        "Wait for build",
        |state| state["Parameters"]["Payload"]["execution.$"] = json!("$$.Execution.Name"),
        "a context path other than the task token must fail the walk",
    );
}

#[test]
fn the_walker_catches_a_wait_without_a_fallback() {
    assert_walk_fails(
        "Wait for rollback",
        |state| state["TimeoutSecondsPath"] = json!("$.rollback.rollout.stage"),
        "a timeout read from something that is not a positive number must fail the walk",
    );
    assert_walk_fails(
        "Wait for build",
        |state| {
            state.as_object_mut().unwrap().remove("TimeoutSecondsPath");
        },
        "a callback task without a timeout must fail the walk",
    );
    assert_walk_fails(
        "Wait for rollout",
        |state| {
            state["Catch"].as_array_mut().unwrap().remove(0);
        },
        "a callback task whose timeout is not caught must fail the walk",
    );
    assert_walk_fails(
        "Look at build",
        |state| {
            state["Catch"]
                .as_array_mut()
                .unwrap()
                .insert(0, json!({ "ErrorEquals": ["States.Timeout"], "Next": "Build failed" }));
        },
        "catching a timeout on a task that never times out must fail the walk",
    );
}

#[test]
fn the_walker_catches_a_choice_no_answer_takes() {
    assert_walk_fails(
        "Rollout done?",
        |state| state["Choices"][0]["StringEquals"] = json!("SUCCEEDED"),
        "a choice on a status check-rollout never answers must fail the walk",
    );
}

#[test]
fn the_outcome_check_catches_a_record_that_says_too_little() {
    assert_walk_fails(
        "Rolled back",
        |state| {
            state["Parameters"].as_object_mut().unwrap().remove("rolled_back_by.$");
        },
        "a rolled_back outcome without rolled_back_by must fail the walk",
    );
    assert_walk_fails(
        "Superseded",
        |state| {
            state["Parameters"].as_object_mut().unwrap().remove("strategy.$");
        },
        "an outcome after the deployment without its strategy must fail the walk",
    );
}

/// The environment outcome states that follow deploy-service's answer, which must name the
/// service deployment: found from the definition, so that a new one is checked too.
#[test]
fn the_outcomes_after_a_deployment_are_found_from_the_definition() {
    let found = walk::after_deploy(&asl()["States"]["Deploy each service"]["ItemProcessor"]["States"]);
    let expected = ["Deployed", "Rolled back", "Rollback failed", "Superseded"];
    assert_eq!(found, expected.into_iter().map(ToOwned::to_owned).collect::<BTreeSet<_>>());
}

#[test]
fn the_environment_checks_catch_a_promotion_gone_wrong() {
    assert_walk_fails_saying(
        "Rejected",
        |state| state["Next"] = json!("Service done"),
        "environment outcome \"Rejected\"",
        "an environment's outcome that is not recorded must fail the walk",
    );
    assert_walk_fails_saying(
        "Service done",
        |state| {
            let parameters = state["Parameters"].as_object_mut().unwrap();
            parameters.remove("ok.$");
            parameters.insert("ok".into(), json!(true));
        },
        "ok and outcome disagree",
        "a service whose ok is not its last environment's must fail the walk",
    );
    assert_walk_fails_saying(
        "Service done",
        |state| state["Parameters"]["last.$"] = json!("$.last"),
        "the service's record repeats or misses something",
        "a service's record that repeats its last environment's must fail the walk",
    );
    assert_walk_fails_saying(
        "Record a later environment",
        |state| state["Parameters"]["environments.$"] = json!("States.JsonToString($.last)"),
        "the environments listed are not the records written",
        "a later environment's record that drops the earlier ones must fail the walk",
    );
    assert_walk_fails_saying(
        "Promote",
        |state| state["Parameters"]["state.$"] = json!("States.JsonMerge($.promotion.target, $, false)"),
        "the environments in pipeline order",
        "a promotion that keeps the first environment's target must fail the walk",
    );
    assert_walk_fails_saying(
        "Deploy",
        |state| state["Parameters"]["Payload"]["service.$"] = json!("$.name"),
        "deploy-service was sent another environment's target",
        "a deployment sent another ECS service than its environment's must fail the walk",
    );
    assert_walk_fails_saying(
        "Deploy",
        |state| state["Parameters"]["Payload"]["image.$"] = json!("$.build.image"),
        "deployed one image, recorded another",
        "a deployment by tag of an image built by digest must fail the walk",
    );
    assert_walk_fails_saying(
        "Next environment",
        |state| state["Parameters"]["target.$"] = json!("States.ArrayGetItem($.promotions, 0)"),
        "the environments in pipeline order",
        "promoting into the first promotion's environment again must fail the walk",
    );
    assert_walk_fails_saying(
        "Wait for approval",
        |state| state["ResultPath"] = json!("$.promotion.answer"),
        "the approval that let it in",
        "an approval that the promoted environment's record does not carry must fail the walk",
    );
    assert_walk_fails_saying(
        "Next environment?",
        |state| {
            let both = state["Choices"][0]["And"].as_array().unwrap().clone();
            state["Choices"][0] = json!({ "And": [both[1]], "Next": "Next environment" });
        },
        "promoted past an environment it did not deploy to",
        "promoting a service that did not deploy must fail the walk",
    );
    assert_walk_fails(
        "Next environment?",
        |state| state["Choices"][0]["And"][1]["NumericLessThanPath"] = json!("$.record.missing"),
        "a Choice rule reading a path that does not exist must fail the walk",
    );
    assert_walk_fails(
        "Approval needed?",
        |state| {
            state["Choices"].as_array_mut().unwrap().remove(1);
        },
        "a gate that is never waited at must fail the walk",
    );
    assert_walk_fails(
        "Wait for approval",
        |state| state["Catch"][1]["Next"] = json!("Not promoted"),
        "a rejection that is not the rejected outcome must fail the walk",
    );
    assert_walk_fails(
        "Wait for approval",
        |state| state["TimeoutSecondsPath"] = json!("$.timeout_minutes"),
        "an approval that times out at another time than it says must fail the walk",
    );
    assert_walk_fails(
        "Record the first environment",
        |state| state["Parameters"]["count.$"] = json!("States.ArrayLength($.promotion)"),
        "an intrinsic function over what does not exist must fail the walk",
    );
}

// ---- inputs from outside the state machine ----------------------------------------------------

/// Whether `payload` is what the function `name` takes, or why not.
fn function_input_problem(name: &str, payload: Value) -> Option<String> {
    let placeholder = match name {
        "start-build" => "${StartBuildFunctionArn}",
        "check-build" => "${CheckBuildFunctionArn}",
        "deploy-service" => "${DeployServiceFunctionArn}",
        "check-rollout" => "${CheckRolloutFunctionArn}",
        "rollback-service" => "${RollbackServiceFunctionArn}",
        "request-approval" => "${RequestApprovalFunctionArn}",
        "detect-changes" => {
            return match deltaship_core::parse_event_value(payload) {
                Ok(_) => None,
                Err(error) => Some(error.to_string()),
            };
        }
        "reconcile-pushes" => {
            let parsed = serde_json::from_value::<deltaship_core::payloads::ReconcileInput>(payload);
            return parsed.err().map(|error| error.to_string());
        }
        "wake-waits" => return deltaship_core::waits::parse_wake(payload).err().map(|failure| failure.to_string()),
        other => return Some(format!("no function {other}")),
    };
    input_problem(placeholder, &payload)
}

fn json_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn every_invoke_fixture_is_its_functions_input() {
    let fixtures = deltaship_tests::fixtures_dir().join("invoke");
    for name in deltaship_aws::function::names() {
        let fixture = json_file(&fixtures.join(format!("{name}.json")));
        if let Some(problem) = function_input_problem(name, fixture) {
            panic!("tests/fixtures/invoke/{name}.json is not {name}'s input: {problem}");
        }
    }
    let detect = json_file(&fixtures.join("detect-changes.json"));
    assert!(matches!(deltaship_core::parse_event_value(detect), Ok(deltaship_core::Trigger::Push(_))));
}

// ---- the EventBridge rules ---------------------------------------------------------------------

/// The event patterns of the template's rules, by logical id, in a stack deployed in `region`
/// with `parameters`; and which function each rule targets.
fn rules(region: &str, parameters: &[(&str, &str)]) -> BTreeMap<String, (Value, String)> {
    let template = template();
    let stack = Stack::new(&template, region, parameters);
    let bins: BTreeMap<&str, &str> =
        template_functions(&template).into_iter().map(|(name, binary, _)| (name, binary)).collect();
    resources_of_type(&template, "AWS::Events::Rule")
        .into_iter()
        .map(|(name, rule)| {
            let targets = rule["Properties"]["Targets"].as_sequence().unwrap();
            assert_eq!(targets.len(), 1, "rule {name} has one target");
            let target = stack.resolve(&targets[0]["Arn"]);
            let function = target.as_str().and_then(|arn| arn.strip_suffix(".Arn")).unwrap_or_default();
            let binary = bins.get(function).unwrap_or_else(|| panic!("rule {name} targets {target}, no function"));
            for key in ["RetryPolicy", "DeadLetterConfig"] {
                assert!(targets[0].get(key).is_some(), "rule {name}'s target has no {key}");
            }
            let pattern = match stack.resolve(&rule["Properties"]["EventPattern"]) {
                // CloudFormation's Json type takes a JSON string too.
                Value::String(text) => serde_json::from_str(&text)
                    .unwrap_or_else(|error| panic!("rule {name}'s EventPattern is not JSON: {error}: {text}")),
                pattern => pattern,
            };
            (name.to_owned(), (pattern, (*binary).to_owned()))
        })
        .collect()
}

/// The AWS event fixtures (`tests/fixtures/aws/events/`), by file name without `.json`.
fn aws_events() -> BTreeMap<String, Value> {
    let folder = deltaship_tests::fixtures_dir().join("aws/events");
    let mut events = BTreeMap::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        events.insert(name, json_file(&path));
    }
    events
}

/// The rules (by target function) an event reaches.
fn reached_by(rules: &BTreeMap<String, (Value, String)>, event: &Value) -> BTreeSet<String> {
    rules
        .iter()
        .filter(|(name, (pattern, _))| {
            deltaship::event_pattern::matches(pattern, event).unwrap_or_else(|problem| panic!("rule {name}: {problem}"))
        })
        .map(|(_, (_, function))| function.clone())
        .collect()
}

/// The CodeCommit event fixture `name` (`tests/fixtures/events/`), pushed to `branch` of the
/// sample's repository (`deltaship`, the template's default) in `eu-west-1`.
fn push_event(name: &str, branch: &str) -> Value {
    let mut event = json_file(&deltaship_tests::fixtures_dir().join("events").join(name));
    event["resources"] = json!(["arn:aws:codecommit:eu-west-1:123456789012:deltaship"]);
    event["detail"]["repositoryName"] = json!("deltaship");
    event["detail"]["referenceName"] = json!(branch);
    event["detail"]["referenceFullName"] = json!(format!("refs/heads/{branch}"));
    event
}

#[test]
fn the_push_rule_takes_branch_patterns() {
    let detect = BTreeSet::from(["detect-changes".to_owned()]);
    let patterns = rules("eu-west-1", &[("Branches", "main,release/*")]);
    for fixture in ["reference-updated-branch.json", "reference-created-branch.json"] {
        for (branch, delivered) in [
            ("main", true),
            ("release/1.2", true),
            ("release/1.2/hotfix", true),
            ("feature/x", false),
            ("mainline", false),
        ] {
            let wanted = if delivered { detect.clone() } else { BTreeSet::new() };
            assert_eq!(reached_by(&patterns, &push_event(fixture, branch)), wanted, "{fixture} to {branch}");
        }
    }
    // Exact names stay exact; tags and deleted branches are never delivered.
    let exact = rules("eu-west-1", &[("Branches", "main,release")]);
    assert!(reached_by(&exact, &push_event("reference-updated-branch.json", "release/1.2")).is_empty());
    assert_eq!(reached_by(&exact, &push_event("reference-updated-branch.json", "release")), detect);
    let everything = rules("eu-west-1", &[("Branches", "*")]);
    for fixture in ["reference-created-tag.json", "reference-deleted-branch.json"] {
        assert!(reached_by(&everything, &push_event(fixture, "main")).is_empty(), "{fixture}");
    }
}

#[test]
fn the_rules_wake_the_waits_on_every_event_that_can_end_them() {
    // The fixtures' region and the sample's cluster and projects: the parameters' defaults.
    let rules = rules("us-east-1", &[]);
    let events = aws_events();
    assert_eq!(events.len(), 7, "{:?}", events.keys());
    for (name, event) in &events {
        let expected: BTreeSet<String> = if name == "codebuild-build-state-change-in-progress" {
            BTreeSet::new() // not an end: it would only cost an invocation
        } else {
            BTreeSet::from(["wake-waits".to_owned()])
        };
        assert_eq!(reached_by(&rules, event), expected, "{name}");
        assert!(deltaship_core::waits::parse_wake(event.clone()).is_ok(), "{name} is no wake-waits input");
    }
}

#[test]
fn the_rules_leave_other_clusters_projects_regions_and_accounts_alone() {
    let events = aws_events();
    let build = &events["codebuild-build-state-change-succeeded"];
    let deployment = &events["ecs-deployment-state-change-completed"];
    let defaults = rules("us-east-1", &[]);
    assert_eq!(reached_by(&defaults, build).len(), 1);
    assert_eq!(reached_by(&defaults, deployment).len(), 1);

    // The same events, from another stack's project and cluster.
    let other_stack = rules("us-east-1", &[("BuildProjectPrefix", "shop-"), ("ClusterName", "shop")]);
    assert!(reached_by(&other_stack, build).is_empty(), "another project prefix");
    assert!(reached_by(&other_stack, deployment).is_empty(), "another cluster");
    assert!(reached_by(&rules("eu-west-1", &[]), deployment).is_empty(), "another region");

    // Events of another project, cluster or account, with the defaults.
    let mut other_project = build.clone();
    other_project["detail"]["project-name"] = json!("billing-api");
    let mut other_cluster = deployment.clone();
    other_cluster["resources"] = json!(["arn:aws:ecs:us-east-1:123456789012:service/deltaship-sample-2/user-service"]);
    let mut other_account = deployment.clone();
    other_account["resources"] = json!(["arn:aws:ecs:us-east-1:210987654321:service/deltaship-sample/user-service"]);
    for (what, event) in [("project", other_project), ("cluster", other_cluster), ("account", other_account)] {
        assert!(reached_by(&defaults, &event).is_empty(), "an event of another {what}");
    }
}

#[test]
fn every_sam_event_is_its_functions_input_and_passes_its_rule() {
    let folder = root().join("sam/events");
    let events: BTreeMap<String, Value> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .filter(|path| path.file_name().is_some_and(|name| name != "env.json"))
        .map(|path| (path.file_name().unwrap().to_str().unwrap().to_owned(), json_file(&path)))
        .collect();
    // The sample's stack: eu-west-1, the parameters' defaults (repository deltaship, branch main).
    let rules = rules("eu-west-1", &[]);
    // (file, function, whether a rule delivers it): the EventBridge events, then the state
    // machine's payloads and the schedule's, which no rule delivers. Every function has one.
    let expected = [
        ("push.json", "detect-changes", true),
        ("branch-deleted.json", "detect-changes", false),
        ("build-succeeded.json", "wake-waits", true),
        ("start-build.json", "start-build", false),
        ("check-build.json", "check-build", false),
        ("deploy-service.json", "deploy-service", false),
        ("check-rollout.json", "check-rollout", false),
        ("rollback-service.json", "rollback-service", false),
        ("request-approval.json", "request-approval", false),
        ("reconcile-pushes.json", "reconcile-pushes", false),
    ];
    let functions: BTreeSet<&str> = expected.iter().map(|(_, function, _)| *function).collect();
    assert_eq!(
        functions,
        deltaship_aws::function::names().into_iter().collect::<BTreeSet<_>>(),
        "one event per function"
    );
    assert_eq!(events.keys().collect::<Vec<_>>(), {
        let mut names: Vec<&str> = expected.iter().map(|(name, _, _)| *name).collect();
        names.sort_unstable();
        names
    });
    for (name, function, delivered) in expected {
        let event = &events[name];
        if let Some(problem) = function_input_problem(function, event.clone()) {
            panic!("sam/events/{name} is not {function}'s input: {problem}");
        }
        let reached = reached_by(&rules, event);
        let wanted = if delivered { BTreeSet::from([function.to_owned()]) } else { BTreeSet::new() };
        assert_eq!(reached, wanted, "sam/events/{name}: the rules that deliver it");
    }
}

/// EventBridge rules and EventBridge Scheduler invoke their Lambda targets asynchronously: a
/// target's `RetryPolicy` covers only delivering the invocation, and a function error is retried
/// by Lambda's asynchronous invocation ("Lambda asynchronous invocation", "Error handling and
/// automatic retries" in the Lambda developer guide; EventBridge Scheduler user guide, "Configuring
/// a dead-letter queue": the schedule's retry policy is for failed deliveries). So every function
/// such a source invokes says how Lambda retries it.
#[test]
fn every_function_invoked_asynchronously_sets_its_retries() {
    let template = template();
    let rule_targets: BTreeSet<String> = resources_of_type(&template, "AWS::Events::Rule")
        .into_iter()
        .flat_map(|(_, rule)| rule["Properties"]["Targets"].as_sequence().unwrap().clone())
        .filter_map(|target| match &target["Arn"] {
            serde_norway::Value::Tagged(tagged) => {
                tagged.value.as_str().and_then(|text| text.strip_suffix(".Arn")).map(ToOwned::to_owned)
            }
            _ => None,
        })
        .collect();
    let mut checked = Vec::new();
    for (name, _, function) in template_functions(&template) {
        let scheduled =
            function["Properties"]["Events"].as_mapping().into_iter().flatten().any(|(_, event)| {
                matches!(event["Type"].as_str(), Some("ScheduleV2" | "Schedule" | "EventBridgeRule"))
            });
        if !scheduled && !rule_targets.contains(name) {
            continue;
        }
        let config = &function["Properties"]["EventInvokeConfig"];
        for key in ["MaximumRetryAttempts", "MaximumEventAgeInSeconds"] {
            assert!(config.get(key).is_some(), "{name} is invoked asynchronously but sets no EventInvokeConfig {key}");
        }
        checked.push(name);
    }
    checked.sort_unstable();
    assert_eq!(checked, ["DetectChangesFunction", "ReconcilePushesFunction", "WakeWaitsFunction"]);
}

/// The console link the stack outputs follows its partition, as the Lambdas' links do
/// (`deltaship_core::partition`): `<region>.console.aws.amazon.com`, `console.amazonaws.cn`,
/// `console.amazonaws-us-gov.com`.
#[test]
fn the_console_output_follows_the_partition() {
    let template = template();
    for region in ["eu-west-1", "cn-north-1", "us-gov-west-1"] {
        let stack = Stack::new(&template, region, &[]);
        let url = stack.resolve(&template["Outputs"]["PipelineConsoleUrl"]["Value"]);
        let console = deltaship_core::partition::Partition::of_region(region).console(region);
        let machine = stack.resolve(&serde_norway::from_str("!Ref PipelineStateMachine").unwrap());
        let expected =
            format!("{console}/states/home?region={region}#/statemachines/view/{}", machine.as_str().unwrap());
        assert_eq!(url, json!(expected), "{region}");
    }
}

#[test]
fn placeholders_are_found() {
    assert_eq!(placeholders("a ${X} b ${Y_z}"), BTreeSet::from(["X".to_owned(), "Y_z".to_owned()]));
    assert!(placeholders("no placeholders $ {here}").is_empty());
}
