//! What each state of the state machine sees: a walk over every path of its `States`, with every
//! answer the functions can give (their real output types, `deltaship_core::payloads`), checking
//! every path a state reads (as `deltaship::asl` reads them), every payload a task sends, and how
//! each iteration ends. Callback tasks (`lambda:invoke.waitForTaskToken`) send their task token,
//! time out after a positive number of seconds read from their input, end with what their token
//! is completed with (the answer itself, not wrapped in `Payload`), an error, or `States.Timeout`,
//! which must lead to a look (a plain invocation of the same function); an approval's wait
//! (request-approval) ends with the answer `deltaship approve` sends, the error `deltaship reject`
//! or a newer push sends, or its timeout, which is an outcome (`not_promoted`), not a look.
//!
//! A Map walks every item of its input (a push's service and a redeploy's), and every state and
//! Choice rule must be reached by one of them. Each environment's outcome (a Pass state writing
//! [`LAST`]) must lead to "Record environment", say why when it is not ok, and, after deploy-service
//! answered in that environment, name the service deployment and its strategy. Each path keeps a
//! [`Trail`]: the environment records its outcome states wrote, each with the payload
//! deploy-service was sent there. Each iteration that got to an environment must end in "Service
//! done" with a `ServiceOutcome` whose `environments` are exactly those records, in pipeline order,
//! its outcome the last one's, and nothing of theirs repeated; deploy-service must have been sent
//! each environment's own target (the first from the service's job, a later one from its
//! promotion: cluster, service, container, deadline) with the image its record names, later
//! environments the first one's image by digest; and an environment's record must carry the
//! approval that let the service in there, and only there.

use std::collections::{BTreeMap, BTreeSet};

use deltaship::asl;
use deltaship_core::gates::Answer;
use deltaship_core::payloads::{
    BuildStatus, CheckBuildInput, CheckBuildOutput, CheckRolloutInput, CheckRolloutOutput, DeployInput,
    EnvironmentOutcome, Outcome, RequestApprovalInput, RollbackAction, RollbackInput, RollbackOutput, RolledBackBy,
    RolloutStatus, ServiceOutcome,
};
use deltaship_core::rollout::Expect;
use deltaship_core::{ErrorKind, RolloutWatch, ServiceJob};
use serde_json::{Value, json};

use crate::error_names;

/// The `lambda:invoke` integration: the task's result is `{"Payload": <the function's answer>}`.
const INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// The callback integration: the task's result is what its token is completed with.
const WAIT: &str = "arn:aws:states:::lambda:invoke.waitForTaskToken";

/// The only context object path the pipeline reads, and what stands for it.
const TASK_TOKEN: (&str, &str) = ("$$.Task.Token", "AQCEAAAAKgAAAA-token-of-the-task");

/// Where an environment's outcome state writes it ("Record environment" lists it, "Service done"
/// makes the service's outcome of it).
const LAST: &str = "$.last";

/// The function whose callback task is an approval's wait.
const APPROVAL: &str = "${RequestApprovalFunctionArn}";

/// The function whose answer starts a rollout (an environment's outcome after it names the
/// service deployment).
const DEPLOY: &str = "${DeployServiceFunctionArn}";

/// The digest a build exports, when it exports one.
const DIGEST: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// The answer `deltaship approve` completes an approval's wait with, in the walk.
fn approved() -> Answer {
    Answer::Approved { by: "arn:aws:iam::123456789012:user/mary".into(), comment: Some("canary looked fine".into()) }
}

/// A rollout in progress or done, of the watched deployment `watch`.
fn rollout(watch: RolloutWatch, done: bool) -> CheckRolloutOutput {
    CheckRolloutOutput {
        status: if done { RolloutStatus::Completed } else { RolloutStatus::InProgress },
        watch,
        stage: (!done).then(|| "BAKE_TIME".to_owned()),
        wait_seconds: if done { 0 } else { 60 },
        detail: "2 of 2 tasks running".into(),
        service_url: "https://console/users".into(),
    }
}

/// A build in progress or done, as check-build answers `input`; done, by digest too when the
/// build exported one (`IMAGE_DIGEST`).
fn build(input: &CheckBuildInput, done: bool, digest: bool) -> CheckBuildOutput {
    CheckBuildOutput {
        status: if done { BuildStatus::Succeeded } else { BuildStatus::InProgress },
        build_id: input.build_id.clone(),
        build_arn: input.build_arn.clone(),
        deadline: input.deadline,
        wait_seconds: if done { 0 } else { 120 },
        phase: (!done).then(|| "BUILD".to_owned()),
        image: done.then(|| "registry/users:cccc".to_owned()),
        image_by_digest: (done && digest).then(|| format!("registry/users@{DIGEST}")),
        deploy_image: done
            .then(|| if digest { format!("registry/users@{DIGEST}") } else { "registry/users:cccc".to_owned() }),
        build_url: "https://console/build".into(),
        logs_url: None,
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

fn parsed<T: serde::de::DeserializeOwned>(state: &str, payload: &Value) -> T {
    serde_json::from_value(payload.clone())
        .unwrap_or_else(|error| panic!("state {state:?} sends {payload}, which its function does not take: {error}"))
}

/// Every answer the function behind `placeholder` may give `payload` (its real output types,
/// echoing what it echoes): all of them for a plain invocation, and for a callback task the
/// answers that complete the wait (a look that finds the build or the deployment over; for an
/// approval, `deltaship approve`'s answer).
fn answers(state: &str, placeholder: &str, payload: &Value, callback: bool) -> Vec<Value> {
    let answers: Vec<Value> = match placeholder {
        "${StartBuildFunctionArn}" => {
            let job: ServiceJob = parsed(state, payload);
            let started = CheckBuildInput {
                build_id: format!("{}:5b3c", job.project),
                build_arn: format!("arn:aws:codebuild:eu-west-1:123456789012:build/{}:5b3c", job.project),
                deadline: Some(job.pushed_at + i64::from(job.build_timeout_minutes) * 60),
                name: job.name,
                execution: job.execution,
                task_token: None,
            };
            vec![to_json(&build(&started, false, false))]
        }
        "${CheckBuildFunctionArn}" => {
            let input: CheckBuildInput = parsed(state, payload);
            let mut looks = vec![to_json(&build(&input, true, true)), to_json(&build(&input, true, false))];
            if !callback {
                looks.push(to_json(&build(&input, false, false)));
            }
            looks
        }
        APPROVAL => {
            assert!(callback, "state {state:?} invokes request-approval without waiting for its token");
            let _: RequestApprovalInput = parsed(state, payload);
            vec![to_json(&approved())]
        }
        "${DeployServiceFunctionArn}" => {
            let input: DeployInput = parsed(state, payload);
            let watch = RolloutWatch {
                name: input.name.clone(),
                execution: input.execution.clone(),
                cluster: input.cluster.clone(),
                service: input.service.clone(),
                service_arn: format!("arn:aws:ecs:eu-west-1:123456789012:service/{}/{}", input.cluster, input.service),
                service_deployment: format!(
                    "arn:aws:ecs:eu-west-1:123456789012:service-deployment/{}/{}/r9i43YFjvgF_xlg7m2eJ1r",
                    input.cluster, input.service
                ),
                deployment_id: "ecs-svc/7464310793147648152".into(),
                task_definition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/users:7".into(),
                previous_task_definition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/users:6".into(),
                strategy: "CANARY".into(),
                expect: Expect::Deployed,
                started_at: input.pushed_at + 600,
                deadline: input.pushed_at + 600 + i64::from(input.timeout_minutes) * 60,
            };
            vec![to_json(&rollout(watch, false))]
        }
        "${CheckRolloutFunctionArn}" => {
            let input: CheckRolloutInput = parsed(state, payload);
            let mut looks = vec![to_json(&rollout(input.watch.clone(), true))];
            if !callback {
                looks.push(to_json(&rollout(input.watch, false)));
            }
            looks
        }
        "${RollbackServiceFunctionArn}" => {
            let input: RollbackInput = parsed(state, payload);
            let rollback_watch = RolloutWatch { expect: Expect::RolledBack, ..input.watch.clone() };
            let actions = [
                RollbackAction::RollbackRequested,
                RollbackAction::EcsRollingBack,
                RollbackAction::RolledBackByEcs,
                RollbackAction::LeftAlone,
            ];
            actions
                .into_iter()
                .map(|action| {
                    let (rolled_back_by, waits) = match action {
                        RollbackAction::RollbackRequested => (Some(RolledBackBy::Deltaship), true),
                        RollbackAction::EcsRollingBack => (Some(RolledBackBy::Ecs), true),
                        RollbackAction::RolledBackByEcs => (Some(RolledBackBy::Ecs), false),
                        RollbackAction::LeftAlone => (None, false),
                    };
                    to_json(&RollbackOutput {
                        action,
                        rolled_back_by,
                        task_definition: input.watch.previous_task_definition.clone(),
                        rollout: waits.then(|| rollout(rollback_watch.clone(), false)),
                        message: format!("{action:?}"),
                        service_url: "https://console/users".into(),
                    })
                })
                .collect()
        }
        other => panic!("state {state:?} invokes {other}, which is no function of the state machine"),
    };
    assert!(!answers.is_empty());
    answers
}

/// Whether `payload` is the input of the function behind `placeholder`, or why not.
pub(crate) fn input_problem(placeholder: &str, payload: &Value) -> Option<String> {
    fn parse<T: serde::de::DeserializeOwned>(payload: &Value) -> Option<String> {
        serde_json::from_value::<T>(payload.clone()).err().map(|error| error.to_string())
    }
    match placeholder {
        "${StartBuildFunctionArn}" => parse::<ServiceJob>(payload),
        "${CheckBuildFunctionArn}" => parse::<CheckBuildInput>(payload),
        "${DeployServiceFunctionArn}" => parse::<DeployInput>(payload),
        "${CheckRolloutFunctionArn}" => parse::<CheckRolloutInput>(payload),
        "${RollbackServiceFunctionArn}" => parse::<RollbackInput>(payload),
        "${RequestApprovalFunctionArn}" => parse::<deltaship_core::payloads::RequestApprovalInput>(payload),
        other => Some(format!("{other} is no function of the state machine")),
    }
}

/// The payload a task sends is the input its function takes, and carries the task token exactly
/// when the task waits for it (wait mode stores the wait under what the events name); an
/// approval's is for the image by digest, and says how long the wait may last as the task's
/// timeout does (`timeout_seconds`).
fn check_input(state: &str, placeholder: &str, payload: &Value, callback: bool, timeout: Option<&Value>) {
    if let Some(problem) = input_problem(placeholder, payload) {
        panic!("state {state:?} sends {payload}, which its function does not take: {problem}");
    }
    let token = payload.get("task_token").and_then(Value::as_str);
    assert_eq!(
        token.is_some(),
        callback,
        "state {state:?}: a task token is sent exactly by a callback task: {payload}"
    );
    if callback {
        assert_eq!(token, Some(TASK_TOKEN.1), "state {state:?} sends another token than its own");
        if placeholder == "${CheckBuildFunctionArn}" {
            let input: CheckBuildInput = parsed(state, payload);
            for (field, value) in
                [("build_arn", &input.build_arn), ("name", &input.name), ("execution", &input.execution)]
            {
                assert!(!value.is_empty(), "state {state:?}: a build wait needs {field}");
            }
        }
        if placeholder == APPROVAL {
            let input: RequestApprovalInput = parsed(state, payload);
            assert!(input.image.contains("@sha256:"), "state {state:?} asks to promote {} by tag", input.image);
            assert_eq!(timeout, Some(&json!(input.timeout_seconds)), "state {state:?}: its timeout and the wait's");
        }
    }
}

/// A `Parameters` template with the task token's context path (`$$.Task.Token`, the only one the
/// pipeline may read) put in as its value; panics on any other context path.
fn with_task_token(state: &str, template: &Value) -> Value {
    let Some(fields) = template.as_object() else { return template.clone() };
    let mut out = serde_json::Map::new();
    for (key, value) in fields {
        match (key.strip_suffix(".$"), value.as_str()) {
            (Some(name), Some(path)) if path.starts_with("$$") => {
                assert_eq!(path, TASK_TOKEN.0, "state {state:?} reads the context path {path}");
                out.insert(name.to_owned(), json!(TASK_TOKEN.1));
            }
            _ => {
                out.insert(key.clone(), with_task_token(state, value));
            }
        }
    }
    Value::Object(out)
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

/// The error each `Catch` rule of a task catches first: a name it lists that no earlier rule
/// lists, or for `States.ALL` a function error no earlier rule lists. `States.Timeout` only where
/// the task has a timeout (elsewhere the rule could never catch it).
fn caught_errors(name: &str, state: &Value) -> Vec<(String, Value)> {
    let has_timeout =
        ["TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds"].iter().any(|key| state.get(key).is_some());
    let mut earlier: BTreeSet<&str> = BTreeSet::new();
    let mut caught = Vec::new();
    for rule in state["Catch"].as_array().unwrap_or_else(|| panic!("task {name:?} has no Catch")) {
        let names = error_names(rule);
        let error = match names.iter().find(|error| **error != "States.ALL" && !earlier.contains(**error)) {
            Some(error) => (*error).to_owned(),
            None if names.contains(&"States.ALL") => ErrorKind::ALL
                .into_iter()
                .map(ErrorKind::name)
                .find(|error| !earlier.contains(error))
                .expect("an error no earlier rule catches")
                .to_owned(),
            None => panic!("task {name:?}: the Catch of {names:?} catches nothing the rules before it do not"),
        };
        assert!(error != "States.Timeout" || has_timeout, "task {name:?} catches States.Timeout but never times out");
        earlier.extend(names);
        caught.push((error, rule.clone()));
    }
    caught
}

/// How one iteration (or the whole machine) ended: the final state and its output, the item the
/// walk started from (a Map iteration's service job), and the path's [`Trail`].
pub(crate) struct End {
    pub(crate) state: String,
    output: Value,
    item: Value,
    trail: Trail,
}

/// What one path did before the state it is at: each environment's outcome, as its outcome state
/// wrote it to [`LAST`], with the payload deploy-service was sent in that environment (none when
/// the service did not get to Deploy there); and the payload of the deployment whose outcome is
/// still to be written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trail {
    environments: Vec<(Value, Option<Value>)>,
    deploying: Option<Value>,
}

/// A walk over every path of a `States` map: each state with each data it can see.
pub(crate) struct Walk<'a> {
    states: &'a Value,
    /// The environment outcome states that come after deploy-service answered (before the next
    /// outcome is recorded): they name the service deployment.
    after_deploy: BTreeSet<String>,
    seen: BTreeSet<(String, String, String)>,
    reached: BTreeSet<String>,
    choices_taken: BTreeSet<(String, Option<usize>)>,
    ends: Vec<End>,
}

impl<'a> Walk<'a> {
    /// Walks `machine` (an object with `States` and `StartAt`) from its start with each of
    /// `inputs`, checks how the walks ended with `check_ends`, then that every state was reached
    /// and every choice rule taken, by one of them.
    pub(crate) fn run(machine: &'a Value, inputs: Vec<Value>, check_ends: fn(&[End])) -> Vec<End> {
        let states = &machine["States"];
        let mut walk = Walk {
            states,
            after_deploy: after_deploy(states),
            seen: BTreeSet::new(),
            reached: BTreeSet::new(),
            choices_taken: BTreeSet::new(),
            ends: Vec::new(),
        };
        for input in inputs {
            let walked = walk.ends.len();
            walk.state(machine["StartAt"].as_str().unwrap(), input.clone(), Trail::default());
            for end in &mut walk.ends[walked..] {
                end.item = input.clone();
            }
        }
        check_ends(&walk.ends);
        for (name, state) in walk.states.as_object().unwrap() {
            assert!(walk.reached.contains(name), "state {name:?} is never reached with the functions' answers");
            let rules = state.get("Choices").and_then(Value::as_array).map_or(0, Vec::len);
            for rule in (0..rules).map(Some).chain(state.get("Default").map(|_| None)) {
                let taken = walk.choices_taken.contains(&(name.clone(), rule));
                assert!(
                    taken,
                    "choice {name:?}: rule {rule:?} (None: Default) is never taken with the functions' answers"
                );
            }
        }
        walk.ends
    }

    /// Follows every transition from `name` with `data`, checking each path a state reads.
    fn state(&mut self, name: &str, data: Value, mut trail: Trail) {
        if !self.seen.insert((name.to_owned(), data.to_string(), format!("{trail:?}"))) {
            return;
        }
        self.reached.insert(name.to_owned());
        let states = self.states;
        let state = &states[name];
        let kind = state["Type"].as_str().unwrap_or_else(|| panic!("no state {name:?}"));
        assert!(state.get("InputPath").is_none(), "state {name:?}: InputPath is beyond what this test follows");
        match kind {
            "Task" => self.task(name, state, &data, trail),
            "Choice" => {
                let next = self.choose(name, state, &data);
                let output = pass_on(name, state, data);
                self.state(&next, output, trail);
            }
            "Pass" => {
                let mut output = data.clone();
                let result = match (state.get("Parameters"), state.get("Result")) {
                    (Some(parameters), _) => fill(name, parameters, &output),
                    (None, Some(result)) => result.clone(),
                    (None, None) => output.clone(),
                };
                if state.get("ResultPath").and_then(Value::as_str) == Some(LAST) {
                    self.check_environment_outcome(name, state, &result);
                    let deployed = trail.deploying.take();
                    trail.environments.push((result.clone(), deployed));
                }
                put(name, &mut output, state.get("ResultPath"), result);
                let output = pass_on(name, state, output);
                self.next(name, state, output, trail);
            }
            "Map" => self.map(name, state, &data, &trail),
            "Succeed" | "Fail" => self.end(name, data, trail),
            other => panic!("state {name:?} has type {other}, which this test does not follow"),
        }
    }

    fn next(&mut self, name: &str, state: &Value, output: Value, trail: Trail) {
        match state.get("Next").and_then(Value::as_str) {
            Some(next) => self.state(next, output, trail),
            None => self.end(name, output, trail),
        }
    }

    /// An end of the walk (its item is set once the walk from that item is over).
    fn end(&mut self, name: &str, output: Value, trail: Trail) {
        self.ends.push(End { state: name.to_owned(), output, item: Value::Null, trail });
    }

    fn task(&mut self, name: &str, state: &Value, data: &Value, mut trail: Trail) {
        let resource = state["Resource"].as_str().unwrap();
        let callback = match resource {
            INVOKE => false,
            WAIT => true,
            other => panic!("task {name:?} uses {other}, which this test does not follow"),
        };
        let parameters = fill(name, &with_task_token(name, &state["Parameters"]), data);
        let payload = &parameters["Payload"];
        assert!(payload.is_object(), "state {name:?} sends a payload that is not an object");
        let function = parameters["FunctionName"].as_str().unwrap();
        let mut timeout = None;
        if callback {
            assert!(state.get("TimeoutSeconds").is_none(), "callback task {name:?}: its timeout comes from its input");
            let path = state["TimeoutSecondsPath"]
                .as_str()
                .unwrap_or_else(|| panic!("callback task {name:?} has no TimeoutSecondsPath: it could wait a year"));
            let seconds = read(name, data, path);
            assert!(
                seconds.as_u64().is_some_and(|seconds| seconds > 0),
                "state {name:?}: {path} is {seconds}, not a positive number of seconds"
            );
            timeout = Some(seconds);
            self.check_fallback(name, state, function);
        }
        check_input(name, function, payload, callback, timeout.as_ref());
        if function == DEPLOY {
            trail.deploying = Some(payload.clone());
        }
        for (error, catch) in caught_errors(name, state) {
            let mut failed = data.clone();
            let cause = json!({ "errorType": error, "errorMessage": "..." }).to_string();
            put(name, &mut failed, catch.get("ResultPath"), json!({ "Error": error, "Cause": cause }));
            self.state(catch["Next"].as_str().unwrap(), failed, trail.clone());
        }
        for answer in answers(name, function, payload, callback) {
            let mut output = data.clone();
            let result = if callback { answer } else { json!({ "Payload": answer }) };
            asl::apply_result(state, &mut output, result)
                .unwrap_or_else(|error| panic!("state {name:?}: {error}, in {function}'s answer"));
            let output = pass_on(name, state, output);
            self.next(name, state, output, trail.clone());
        }
    }

    /// A callback task's timeout leads to a look: a plain invocation of the same function. An
    /// approval's wait has no look: its timeout is the environment's `not_promoted`, and a
    /// rejection (`deltaship reject`) and a newer push at the gate (`Superseded`) are caught as
    /// outcomes too.
    fn check_fallback(&self, name: &str, state: &Value, function: &str) {
        let rules = state["Catch"].as_array().unwrap();
        let catcher = |error: &str| {
            let rule = rules.iter().find(|rule| error_names(rule).contains(&error));
            let rule = rule.unwrap_or_else(|| panic!("callback task {name:?} does not catch {error}"));
            &self.states[rule["Next"].as_str().unwrap()]
        };
        if function == APPROVAL {
            for (error, outcome) in [
                ("States.Timeout", Outcome::NotPromoted),
                (deltaship::approvals::REJECTED_ERROR, Outcome::Rejected),
                ("Superseded", Outcome::Superseded),
            ] {
                let next = catcher(error);
                assert_eq!(
                    next["Parameters"]["outcome"].as_str(),
                    Some(outcome.name()),
                    "approval {name:?}: {error} does not end the environment {}",
                    outcome.name()
                );
            }
            return;
        }
        let look = catcher("States.Timeout");
        assert_eq!(look["Resource"].as_str(), Some(INVOKE), "callback task {name:?}: its timeout leads to no look");
        assert_eq!(
            look["Parameters"]["FunctionName"].as_str(),
            Some(function),
            "callback task {name:?}: its look asks another function"
        );
    }

    /// The rule of a Choice state that `data` takes (as Step Functions evaluates it,
    /// `deltaship::asl::rule_holds`), recorded as taken. A comparison of a value of another type
    /// than the comparison's, which Step Functions just does not match, fails the test: with the
    /// functions' answers it is a mistake.
    fn choose(&mut self, name: &str, state: &Value, data: &Value) -> String {
        for (index, choice) in state["Choices"].as_array().unwrap().iter().enumerate() {
            check_types(name, choice, data);
            let holds =
                asl::rule_holds(choice, data).unwrap_or_else(|error| panic!("state {name:?}: {error}, in {data}"));
            if holds {
                self.choices_taken.insert((name.to_owned(), Some(index)));
                return choice["Next"].as_str().unwrap().to_owned();
            }
        }
        self.choices_taken.insert((name.to_owned(), None));
        let default = state.get("Default").and_then(Value::as_str);
        default
            .unwrap_or_else(|| panic!("state {name:?}: no choice matches {data} (States.NoChoiceMatched)"))
            .to_owned()
    }

    /// Every item of the Map's input walked through its iteration, whose ends are checked; the
    /// state goes on with each end's output as the list of outcomes.
    fn map(&mut self, name: &str, state: &Value, data: &Value, trail: &Trail) {
        let items = read(name, data, state["ItemsPath"].as_str().unwrap());
        let items = items.as_array().unwrap().clone();
        if let Some(path) = state.get("MaxConcurrencyPath") {
            let limit = read(name, data, path.as_str().unwrap());
            assert!(limit.is_u64(), "MaxConcurrencyPath is a number");
        }
        let iteration_ends = Walk::run(&state["ItemProcessor"], items, check_outcomes);
        for end in iteration_ends {
            let mut output = data.clone();
            put(name, &mut output, state.get("ResultPath"), json!([end.output]));
            let output = pass_on(name, state, output);
            self.next(name, state, output, trail.clone());
        }
    }

    /// An environment's outcome, as the state `name` writes it to [`LAST`]: an
    /// `EnvironmentOutcome` whose `ok` is its outcome's, saying why when it is not ok, naming who
    /// rolled back a rolled back one, and the service deployment and its strategy after
    /// deploy-service answered; and the state leads to "Record environment".
    fn check_environment_outcome(&self, name: &str, state: &Value, record: &Value) {
        assert_eq!(state["Next"].as_str(), Some("Record environment"), "environment outcome {name:?}");
        let outcome: EnvironmentOutcome = serde_json::from_value(record.clone())
            .unwrap_or_else(|error| panic!("state {name:?} writes no environment outcome ({error}): {record}"));
        assert_eq!(record["ok"].as_bool(), Some(outcome.outcome.is_ok()), "state {name:?}: ok and outcome disagree");
        if !outcome.outcome.is_ok() {
            assert!(
                outcome.details.error.is_some() && outcome.details.cause.is_some(),
                "state {name:?} says no why: {record}"
            );
        }
        if outcome.outcome == Outcome::RolledBack {
            let by = serde_json::from_value::<RolledBackBy>(record["rolled_back_by"].clone());
            assert!(by.is_ok(), "state {name:?} does not say who rolled back: {record}");
        }
        if self.after_deploy.contains(name) {
            for field in ["deployment", "strategy"] {
                let value = record[field].as_str().unwrap_or_default();
                assert!(
                    !value.is_empty(),
                    "state {name:?} comes after the deployment but records no {field}: {record}"
                );
            }
        }
    }
}

/// What a state passes on: `data` through its `OutputPath` (`deltaship::asl::output`).
fn pass_on(name: &str, state: &Value, data: Value) -> Value {
    asl::output(data, state.get("OutputPath")).unwrap_or_else(|error| panic!("state {name:?}: {error}"))
}

/// The environment outcome states (writing [`LAST`]) that follow deploy-service's answer before
/// another outcome is recorded: from each Task invoking it, its `Next`, through every transition
/// (`Next`, `Choices`, `Default`, `Catch`), up to the first outcome state.
pub(crate) fn after_deploy(states: &Value) -> BTreeSet<String> {
    let states = states.as_object().unwrap();
    let mut found = BTreeSet::new();
    let mut queue: Vec<&str> = states
        .values()
        .filter(|state| state["Parameters"]["FunctionName"].as_str() == Some(DEPLOY))
        .filter_map(|state| state["Next"].as_str())
        .collect();
    let mut visited = BTreeSet::new();
    while let Some(name) = queue.pop() {
        if !visited.insert(name) {
            continue;
        }
        let state = &states[name];
        if state["ResultPath"].as_str() == Some(LAST) {
            found.insert(name.to_owned());
            continue;
        }
        let rules =
            state["Choices"].as_array().into_iter().flatten().chain(state["Catch"].as_array().into_iter().flatten());
        let next = [&state["Next"], &state["Default"]].into_iter().chain(rules.map(|rule| &rule["Next"]));
        queue.extend(next.filter_map(Value::as_str));
    }
    found
}

/// A comparison (in a rule, `And`, `Or` or `Not`) of a value of another type than its own.
fn check_types(name: &str, rule: &Value, data: &Value) {
    for nested in ["And", "Or"] {
        for inner in rule[nested].as_array().into_iter().flatten() {
            check_types(name, inner, data);
        }
    }
    if rule.get("Not").is_some() {
        check_types(name, &rule["Not"], data);
    }
    let Some(path) = rule["Variable"].as_str() else { return };
    let Ok(Some(value)) = asl::read(data, path) else { return };
    let fields = rule.as_object().unwrap();
    for (prefix, fits) in [
        ("String", Value::is_string as fn(&Value) -> bool),
        ("Numeric", Value::is_number),
        ("Boolean", Value::is_boolean),
    ] {
        if fields.keys().any(|key| key.starts_with(prefix)) {
            assert!(fits(&value), "state {name:?}: {path} is {value}, compared by {rule}");
        }
    }
}

/// Every iteration ends with the service's outcome: "Service done" when it got to an environment,
/// else a failed build's (its error and cause, no environment). "Service done"'s record names the
/// service, whether it is ok and its outcome, both its last environment's, its build, and lists
/// exactly the records the environments' outcome states wrote ([`Trail`]), in pipeline order
/// (every one before the last deployed; all of them when it deployed); it repeats nothing of
/// theirs (each record travels once through the execution's last states: `pipeline::Limits`
/// counts one record per environment). In each environment the service got to Deploy in,
/// deploy-service was sent that environment's target (the job's for the first, its promotion's
/// for a later one: cluster, service, container, deadline) and the image its record names: for a
/// later environment the first one's, by digest; for a redeploy the image it names. The record
/// of an environment behind a gate that the service got through carries the approval, and every
/// other environment's none. Every outcome is reached.
fn check_outcomes(ends: &[End]) {
    let mut outcomes = BTreeMap::new();
    for End { state, output, item, trail } in ends {
        let record: ServiceOutcome = serde_json::from_value(output.clone())
            .unwrap_or_else(|error| panic!("outcome state {state:?} writes no outcome record ({error}): {output}"));
        let job: ServiceJob = serde_json::from_value(item.clone()).unwrap();
        assert_eq!(record.ok, record.outcome.is_ok(), "state {state:?}: ok and outcome disagree");
        assert_eq!(record.name, job.name, "state {state:?} names another service");
        let Some((last, before)) = record.environments.split_last() else {
            assert_eq!(record.outcome, Outcome::BuildFailed, "state {state:?} ends with no environment: {output}");
            assert!(
                record.details.error.is_some() && record.details.cause.is_some(),
                "state {state:?} says no why: {output}"
            );
            assert!(trail.environments.is_empty(), "state {state:?} drops the environments recorded: {output}");
            outcomes.insert(record.outcome, state.clone());
            continue;
        };
        assert_eq!(state, "Service done", "an iteration that got to an environment ends elsewhere: {output}");
        let fields: BTreeSet<&str> = output.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            BTreeSet::from(["name", "ok", "outcome", "build_url", "environments"]),
            "state {state:?}: the service's record repeats or misses something: {output}"
        );
        let written: Vec<Value> = trail.environments.iter().map(|(written, _)| written.clone()).collect();
        assert_eq!(
            output["environments"],
            Value::Array(written),
            "state {state:?}: the environments listed are not the records written, in the order written"
        );
        assert_eq!(last.outcome, record.outcome, "state {state:?}: the outcome is the last environment's");
        if !record.ok {
            assert!(
                last.details.error.is_some() && last.details.cause.is_some(),
                "state {state:?}: its last says no why: {output}"
            );
        }
        if record.outcome == Outcome::RolledBack {
            assert!(last.details.rolled_back_by.is_some(), "state {state:?} does not say who rolled back: {output}");
        }
        let targets: Vec<(&str, &str, &str, &str, u32)> = std::iter::once((
            job.environment.as_str(),
            job.cluster.as_str(),
            job.service.as_str(),
            job.container.as_str(),
            job.timeout_minutes,
        ))
        .chain(job.promotions.iter().map(|promotion| {
            (
                promotion.environment.as_str(),
                promotion.cluster.as_str(),
                promotion.service.as_str(),
                promotion.container.as_str(),
                promotion.timeout_minutes,
            )
        }))
        .collect();
        let names: Vec<&str> = record.environments.iter().map(|environment| environment.name.as_str()).collect();
        let order: Vec<&str> = targets.iter().map(|target| target.0).collect();
        assert_eq!(names, order[..names.len()], "state {state:?}: the environments in pipeline order");
        assert!(
            before.iter().all(|environment| environment.outcome == Outcome::Deployed),
            "state {state:?}: promoted past an environment it did not deploy to: {output}"
        );
        if record.outcome == Outcome::Deployed {
            assert_eq!(names, order, "state {state:?}: a deployed service got to every environment");
        }
        let gates = std::iter::once(false).chain(job.promotions.iter().map(|promotion| promotion.approval));
        for ((environment, (_, deploy)), (target, gate)) in
            record.environments.iter().zip(&trail.environments).zip(targets.iter().zip(gates))
        {
            let name = &environment.name;
            let Some(deploy) = deploy else {
                assert!(
                    matches!(environment.outcome, Outcome::Rejected | Outcome::NotPromoted | Outcome::Superseded),
                    "{name}: {} with nothing sent to deploy-service: {output}",
                    environment.outcome.name()
                );
                assert_eq!(environment.details.approval, None, "{name}: an approval it did not get: {output}");
                continue;
            };
            let sent: DeployInput = serde_json::from_value(deploy.clone()).unwrap();
            let (_, cluster, service, container, timeout_minutes) = *target;
            assert_eq!(
                (sent.cluster.as_str(), sent.service.as_str(), sent.container.as_str(), sent.timeout_minutes),
                (cluster, service, container, timeout_minutes),
                "{name}: deploy-service was sent another environment's target: {deploy}"
            );
            assert_eq!(
                Some(&sent.image),
                environment.details.image.as_ref(),
                "{name}: deployed one image, recorded another"
            );
            if let Some(image) = &job.image {
                assert_eq!(&sent.image, image, "{name}: a redeploy deploys the image it names");
            }
            if name != job.environment.as_str() {
                assert!(sent.image.contains("@sha256:"), "{name}: promoted by tag {}: {output}", sent.image);
                let promoted = record.environments[0].details.image.as_ref();
                assert_eq!(Some(&sent.image), promoted, "{name}: promoted another image than the first deployed");
            }
            assert_eq!(
                environment.details.approval,
                gate.then(approved),
                "{name}: the approval that let it in, and only behind a gate: {output}"
            );
        }
        outcomes.insert(record.outcome, state.clone());
    }
    let reached: BTreeSet<Outcome> = outcomes.keys().copied().collect();
    assert_eq!(reached, Outcome::ALL.into_iter().collect(), "every outcome, and only these, ends an iteration");
}
