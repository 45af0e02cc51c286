//! End to end on the local stack: pushes to a git repository run through detect-changes, the
//! real `pipeline.asl.json` executed by moto's ASL engine, and every Lambda handler, and what
//! they did is read back from the emulated AWS (task definition revisions, builds, executions).
//!
//! These tests need `moto_server` (`make venv` installs it; `make test` and CI point
//! `DELTASHIP_MOTO_SERVER` at it). Without it they fail, saying how to install it.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use deltaship::local::answers::GateRules;
use deltaship::local::deployments::{Fault, Strategy};
use deltaship::local::stack::Waits;
use deltaship::local::{LocalStack, RunReport, RunRequest, RunStatus, StackOptions};
use deltaship_core::ledger::PushStatus;
use deltaship_core::payloads::{BranchStatus, DetectStatus, ReconcileOutput, RolledBackBy};
use deltaship_tests::{TestRepo, manifest};

/// A shop: `users` and `products`, both built from `services/common`, and docs.
fn shop() -> (TestRepo, String) {
    let repo = TestRepo::new();
    let users = manifest("users", "depends_on = [\"../common\"]\nignore = [\"**/*.md\"]");
    let products = manifest("products", "depends_on = [\"../common\"]\nignore = [\"**/*.md\"]");
    let root = repo.commit(
        "HEAD",
        &[],
        &[
            ("services/users/service.toml", Some(users.as_str())),
            ("services/users/src/main.rs", Some("fn main() {}")),
            ("services/products/service.toml", Some(products.as_str())),
            ("services/products/src/main.rs", Some("fn main() {}")),
            ("services/common/src/lib.rs", Some("pub fn shared() {}")),
            ("docs/guide.md", Some("# Shop")),
        ],
    );
    (repo, root)
}

fn options(repo: &TestRepo, build_seconds: f64, rollout_seconds: f64) -> StackOptions {
    StackOptions {
        repo: repo.path().to_owned(),
        moto_server: None,
        build_seconds,
        rollout_seconds,
        waits: Waits::Local,
        listen: Vec::new(),
        port: 0,
    }
}

async fn start(repo: &TestRepo) -> LocalStack {
    match LocalStack::start(&options(repo, 0.5, 0.5)).await {
        Ok(stack) => stack,
        Err(error) => panic!("the local stack did not start: {error}"),
    }
}

fn push(head: &str) -> RunRequest {
    RunRequest {
        base: None,
        head: head.to_owned(),
        fail_build: Vec::new(),
        fail_rollout: Vec::new(),
        strategies: Vec::new(),
        drop_events: false,
        definition: None,
        timeout: Duration::from_secs(120),
        gates: GateRules::default(),
    }
}

async fn run(stack: &mut LocalStack, request: &RunRequest) -> RunReport {
    match stack.run(request, &mut |_| {}).await {
        Ok(report) => report,
        Err(error) => {
            let log = std::fs::read_to_string(stack.moto_log()).unwrap_or_default();
            panic!("the push did not run: {error}\nmoto's log:\n{log}")
        }
    }
}

/// The image the local stack's build of `service` at `commit` exports by digest (its emulator's
/// digest is a hash of the tagged reference), which every environment deploys.
fn built(service: &str, commit: &str) -> String {
    use sha2::Digest;
    let repository = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/{service}");
    let digest = sha2::Sha256::digest(format!("{repository}:{commit}").as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{repository}@sha256:{hex}")
}

fn outcomes(report: &RunReport) -> Vec<(String, String)> {
    let mut outcomes: Vec<(String, String)> =
        report.services.iter().map(|service| (service.name.clone(), service.outcome.to_string())).collect();
    outcomes.sort();
    outcomes
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(name, outcome)| ((*name).to_owned(), (*outcome).to_owned())).collect()
}

/// The task definition revisions registered for `family`.
async fn revisions(stack: &LocalStack, family: &str) -> usize {
    let ecs = aws_sdk_ecs::Client::new(&stack.config);
    let listed = ecs.list_task_definitions().family_prefix(family).send().await.unwrap();
    listed.task_definition_arns().len()
}

/// The task definition the service runs now.
async fn running(stack: &LocalStack, service: &str) -> String {
    let ecs = aws_sdk_ecs::Client::new(&stack.config);
    let described = ecs.describe_services().cluster("shop").services(service).send().await.unwrap();
    described.services()[0].task_definition().unwrap_or_default().to_owned()
}

/// The builds of `project`.
async fn builds(stack: &LocalStack, project: &str) -> usize {
    let codebuild = aws_sdk_codebuild::Client::new(&stack.config);
    match codebuild.list_builds_for_project().project_name(project).send().await {
        Ok(listed) => listed.ids().len(),
        // Only a project that was never seeded has no builds; any other error fails the test.
        Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => 0,
        Err(error) => {
            panic!("ListBuildsForProject {project}: {}", aws_sdk_codebuild::error::DisplayErrorContext(error))
        }
    }
}

async fn executions(stack: &LocalStack) -> usize {
    let sfn = aws_sdk_sfn::Client::new(&stack.config);
    match sfn.list_executions().state_machine_arn(&stack.state_machine_arn).send().await {
        Ok(listed) => listed.executions().len(),
        // Nothing was ever seeded, so nothing can have run.
        Err(error) if error.as_service_error().is_some_and(|e| e.is_state_machine_does_not_exist()) => 0,
        Err(error) => panic!("ListExecutions: {}", aws_sdk_sfn::error::DisplayErrorContext(error)),
    }
}

async fn stop_and_check_ports(stack: LocalStack) {
    let ports: [SocketAddr; 2] = [stack.endpoint, stack.moto];
    stack.stop().await.unwrap();
    for port in ports {
        assert!(tokio::net::TcpStream::connect(port).await.is_err(), "{port} still accepts connections after stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_deploy_exactly_what_they_touch_and_a_duplicate_runs_once() {
    let (repo, root) = shop();
    let mut stack = start(&repo).await;

    // One service changed: one build, one new revision, for that service only.
    let one = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { run() }"))]);
    let report = run(&mut stack, &push(&one)).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(outcomes(&report), pairs(&[("users", "deployed")]));
    let users = &report.services[0];
    assert_eq!(users.image.as_deref(), Some(built("users", &one).as_str()), "{users:?}");
    assert!(users.task_definition.as_deref().is_some_and(|td| td.ends_with("task-definition/users:2")), "{users:?}");
    assert_eq!((revisions(&stack, "users").await, revisions(&stack, "products").await), (2, 1));
    assert_eq!((builds(&stack, "users-build").await, builds(&stack, "products-build").await), (1, 0));
    assert!(running(&stack, "users").await.ends_with("users:2"));
    assert!(report.steps.iter().any(|step| step.service == "users" && step.state == "Deployed"), "{:?}", report.steps);

    // The same push again (EventBridge delivers at least once): the same execution, nothing new.
    let again = run(&mut stack, &push(&one)).await;
    assert_eq!(again.execution, report.execution);
    assert_eq!(again.status, RunStatus::Succeeded);
    assert_eq!(executions(&stack).await, 1);
    assert_eq!(builds(&stack, "users-build").await, 1);
    assert_eq!(revisions(&stack, "users").await, 2);

    // Documentation only: nothing to deploy, no execution.
    let docs = repo.commit(
        "HEAD",
        &[&one],
        &[("docs/guide.md", Some("# Shop\n\nMore.")), ("services/users/README.md", Some("hi"))],
    );
    let report = run(&mut stack, &push(&docs)).await;
    assert_eq!(report.status, RunStatus::None, "{report:?}");
    assert_eq!(report.execution, None);
    assert!(report.services.is_empty());
    assert_eq!(executions(&stack).await, 1);

    // The shared library: both services.
    let shared = repo.commit("HEAD", &[&docs], &[("services/common/src/lib.rs", Some("pub fn shared() -> u8 { 1 }"))]);
    let report = run(&mut stack, &push(&shared)).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(outcomes(&report), pairs(&[("products", "deployed"), ("users", "deployed")]));
    assert_eq!((revisions(&stack, "users").await, revisions(&stack, "products").await), (3, 2));
    assert_eq!(executions(&stack).await, 2);

    stop_and_check_ports(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_skipped_push_and_a_docs_only_push_the_reconciler_deploys_nothing() {
    let (repo, root) = shop();
    let mut stack = start(&repo).await;
    let users = "services/users/src/main.rs";
    let deployed = repo.commit("HEAD", &[&root], &[(users, Some("fn main() { run() }"))]);
    let report = run(&mut stack, &push(&deployed)).await;
    assert_eq!(outcomes(&report), pairs(&[("users", "deployed")]));

    // users changes, but the commit says [skip deploy]; then a docs-only push.
    let skipped = repo.commit_with_message(
        "HEAD",
        &[&deployed],
        &[(users, Some("fn main() { wip() }"))],
        "users: wip [skip deploy]",
    );
    let report = run(&mut stack, &push(&skipped)).await;
    assert_eq!(report.detect.as_ref().map(|detected| detected.status), Some(DetectStatus::Skipped), "{report:?}");
    let docs = repo.commit("HEAD", &[&skipped], &[("docs/guide.md", Some("# Shop\n\nMore."))]);
    let report = run(&mut stack, &push(&docs)).await;
    assert_eq!(report.detect.as_ref().map(|detected| detected.status), Some(DetectStatus::NothingToDeploy));

    // main is at its latest recorded push: the reconciler finds nothing missed.
    let reconciled = reconcile(&mut stack).await;
    let main = &reconciled.branches[0];
    assert_eq!((main.branch.as_str(), main.status), ("main", BranchStatus::UpToDate), "{}", main.message);
    assert_eq!(main.latest_status, Some(PushStatus::NothingToDeploy));

    // Another docs-only push whose event is lost: planned from the ledger's latest push (docs),
    // not from the latest execution's commit, which would deploy the skipped change.
    let lost = repo.commit("HEAD", &[&docs], &[("docs/guide.md", Some("# Shop\n\nEven more."))]);
    let reconciled = reconcile(&mut stack).await;
    let main = &reconciled.branches[0];
    assert_eq!(main.status, BranchStatus::Reconciled, "{}", main.message);
    assert_eq!(main.head.as_deref(), Some(lost.as_str()));
    assert_eq!(main.latest_commit.as_deref(), Some(docs.as_str()));
    assert_eq!(main.detect.as_ref().map(|detected| detected.status), Some(DetectStatus::NothingToDeploy));
    // ... and recorded: the next run plans nothing again.
    assert_eq!(reconcile(&mut stack).await.branches[0].status, BranchStatus::UpToDate);

    assert_eq!(executions(&stack).await, 1, "only the first push deployed");
    assert_eq!((revisions(&stack, "users").await, builds(&stack, "users-build").await), (2, 1));
    assert!(running(&stack, "users").await.ends_with("users:2"));
    stop_and_check_ports(stack).await;
}

async fn reconcile(stack: &mut LocalStack) -> ReconcileOutput {
    match stack.reconcile().await {
        Ok(output) => output,
        Err(error) => panic!("reconcile-pushes did not run: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_build_and_a_failed_rollout_take_the_failure_branches() {
    let (repo, root) = shop();
    let mut stack = start(&repo).await;

    // users' build fails: products still deploys, and the execution fails.
    let first = repo.commit("HEAD", &[&root], &[("services/common/src/lib.rs", Some("pub fn shared() -> u8 { 1 }"))]);
    let request = RunRequest { fail_build: vec!["users".to_owned()], ..push(&first) };
    let report = run(&mut stack, &request).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    assert_eq!(outcomes(&report), pairs(&[("products", "deployed"), ("users", "build_failed")]));
    let users = report.services.iter().find(|service| service.name == "users").unwrap();
    assert!(users.error.as_deref().is_some_and(|error| error.starts_with("BuildFailed")), "{users:?}");
    assert_eq!((revisions(&stack, "users").await, revisions(&stack, "products").await), (1, 2));

    // products' rollout fails: it is rolled back to the revision it ran before.
    let second = repo.commit("HEAD", &[&first], &[("services/common/src/lib.rs", Some("pub fn shared() -> u8 { 2 }"))]);
    let request = RunRequest { fail_rollout: vec![("products".to_owned(), Fault::CircuitBreaker)], ..push(&second) };
    let report = run(&mut stack, &request).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    assert_eq!(outcomes(&report), pairs(&[("products", "rolled_back"), ("users", "deployed")]));
    let products = report.services.iter().find(|service| service.name == "products").unwrap();
    assert!(products.task_definition.as_deref().is_some_and(|td| td.ends_with("products:2")), "{products:?}");
    assert!(products.error.as_deref().is_some_and(|error| error.starts_with("RolloutFailed")), "{products:?}");
    assert_eq!(revisions(&stack, "products").await, 3, "the failed revision was registered");
    assert!(running(&stack, "products").await.ends_with("products:2"), "rolled back to the previous revision");
    assert!(running(&stack, "users").await.ends_with("users:2"));
    assert!(report.steps.iter().any(|step| step.service == "products" && step.state == "Roll back"));

    stop_and_check_ports(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_named_and_starts_nothing() {
    let (repo, root) = shop();
    let mut stack = start(&repo).await;
    let error = stack.run(&push("no-such-revision"), &mut |_| {}).await.expect_err("an unknown revision fails");
    assert!(error.is_bad_input() && error.to_string().contains("no-such-revision"), "{error}");
    let one = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { run() }"))]);
    let request = RunRequest { fail_build: vec!["nobody".to_owned()], ..push(&one) };
    let error = stack.run(&request, &mut |_| {}).await.expect_err("an unknown service fails");
    assert!(error.is_bad_input() && error.to_string().contains("nobody"), "{error}");
    assert_eq!(executions(&stack).await, 0);
    stop_and_check_ports(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_push_supersedes_an_older_rollout_of_the_same_service() {
    let (repo, root) = shop();
    // Quick builds, slow rollouts: the newer push deploys while the older one still rolls out.
    let mut stack = LocalStack::start(&options(&repo, 0.5, 8.0)).await.expect("the local stack starts");
    let older = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { older() }"))]);
    let newer = repo.commit("HEAD", &[&older], &[("services/users/src/main.rs", Some("fn main() { newer() }"))]);

    let first = stack.push(&push(&older), &mut |_| {}).await.expect("the older push starts");
    let waited = std::time::Instant::now();
    while revisions(&stack, "users").await < 2 {
        assert!(waited.elapsed() < Duration::from_secs(60), "the older push never registered its revision");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = stack.push(&push(&newer), &mut |_| {}).await.expect("the newer push starts");
    let mut no_answers = stack.answers(GateRules::default());
    let older_report =
        stack.follow(first, Duration::from_secs(120), &mut no_answers, &mut |_| {}).await.expect("the older push ends");
    let newer_report = stack
        .follow(second, Duration::from_secs(120), &mut no_answers, &mut |_| {})
        .await
        .expect("the newer push ends");

    assert_eq!(outcomes(&older_report), pairs(&[("users", "superseded")]), "{older_report:?}");
    assert_eq!(outcomes(&newer_report), pairs(&[("users", "deployed")]), "{newer_report:?}");
    assert_eq!(newer_report.status, RunStatus::Succeeded);
    assert!(running(&stack, "users").await.ends_with("users:3"), "the newer revision serves");
    let image = newer_report.services[0].image.clone().unwrap_or_default();
    assert_eq!(image, built("users", &newer));
    assert_eq!(revisions(&stack, "users").await, 3, "one revision per push, and no other");
    stop_and_check_ports(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_push_that_finishes_building_last_does_not_deploy_over_a_newer_one() {
    let (repo, root) = shop();
    let mut stack = LocalStack::start(&options(&repo, 8.0, 0.5)).await.expect("the local stack starts");
    let older = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { older() }"))]);
    let newer = repo.commit("HEAD", &[&older], &[("services/users/src/main.rs", Some("fn main() { newer() }"))]);

    // The older push's build is slow; the newer push, a second or more later, builds quickly.
    let first = stack.push(&push(&older), &mut |_| {}).await.expect("the older push starts");
    let waited = std::time::Instant::now();
    while builds(&stack, "users-build").await < 1 {
        assert!(waited.elapsed() < Duration::from_secs(60), "the older push never started its build");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack.set_durations(0.5, 0.5);
    let second = stack.push(&push(&newer), &mut |_| {}).await.expect("the newer push starts");
    let mut no_answers = stack.answers(GateRules::default());
    let newer_report = stack
        .follow(second, Duration::from_secs(120), &mut no_answers, &mut |_| {})
        .await
        .expect("the newer push ends");
    let older_report =
        stack.follow(first, Duration::from_secs(120), &mut no_answers, &mut |_| {}).await.expect("the older push ends");

    assert_eq!(outcomes(&newer_report), pairs(&[("users", "deployed")]), "{newer_report:?}");
    assert_eq!(outcomes(&older_report), pairs(&[("users", "superseded")]), "{older_report:?}");
    assert!(
        older_report.steps.iter().any(|step| step.service == "users" && step.state == "Superseded before deploying"),
        "{:?}",
        older_report.steps
    );
    assert!(running(&stack, "users").await.ends_with("users:2"), "the newer revision serves");
    assert_eq!(revisions(&stack, "users").await, 2, "the older push registered nothing");
    stop_and_check_ports(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_deploys_and_every_fault_is_rolled_back_by_ecs_with_its_reason() {
    let (repo, root) = shop();
    let mut stack = start(&repo).await;
    let mut parent = root;
    let strategies = [
        (Strategy::Rolling, "ROLLING"),
        (Strategy::BlueGreen, "BLUE_GREEN"),
        (Strategy::Linear, "LINEAR"),
        (Strategy::Canary, "CANARY"),
    ];
    for (index, (strategy, name)) in strategies.into_iter().enumerate() {
        let code = format!("fn main() {{ version({index}) }}");
        let head = repo.commit("HEAD", &[&parent], &[("services/users/src/main.rs", Some(code.as_str()))]);
        let request = RunRequest { strategies: vec![("users".to_owned(), strategy)], ..push(&head) };
        let report = run(&mut stack, &request).await;
        assert_eq!(report.status, RunStatus::Succeeded, "{name}: {report:?}");
        let users = &report.services[0];
        assert_eq!(users.strategy.as_deref(), Some(name), "{users:?}");
        assert!(users.deployment.as_deref().is_some_and(|arn| arn.contains(":service-deployment/")), "{users:?}");
        parent = head;
    }
    let faults = [
        (Fault::CircuitBreaker, Strategy::Rolling, "circuit breaker tripped"),
        (Fault::Alarm, Strategy::Canary, "CloudWatch alarms went off"),
        (Fault::Hook, Strategy::BlueGreen, "lifecycle hook"),
    ];
    for (index, (fault, strategy, reason)) in faults.into_iter().enumerate() {
        let code = format!("fn main() {{ broken({index}) }}");
        let head = repo.commit("HEAD", &[&parent], &[("services/users/src/main.rs", Some(code.as_str()))]);
        let request = RunRequest {
            strategies: vec![("users".to_owned(), strategy)],
            fail_rollout: vec![("users".to_owned(), fault)],
            ..push(&head)
        };
        let report = run(&mut stack, &request).await;
        assert_eq!(outcomes(&report), pairs(&[("users", "rolled_back")]), "{fault:?}: {report:?}");
        let users = &report.services[0];
        assert_eq!(users.rolled_back_by, Some(RolledBackBy::Ecs), "{users:?}");
        let error = users.error.as_deref().unwrap_or_default();
        assert!(error.starts_with("RolloutFailed") && error.contains(reason), "{fault:?}: {error}");
        parent = head;
    }
    stop_and_check_ports(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_events_dropped_the_fallback_still_finishes_the_push() {
    let (repo, root) = shop();
    let mut stack = LocalStack::start(&options(&repo, 1.5, 1.5)).await.expect("the local stack starts");
    let head = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { quiet() }"))]);
    let report = run(&mut stack, &RunRequest { drop_events: true, ..push(&head) }).await;
    assert_eq!(outcomes(&report), pairs(&[("users", "deployed")]), "{report:?}");
    for state in ["Look at build", "Look at rollout"] {
        assert!(report.steps.iter().any(|step| step.state == state), "no event, so the fallback looked: {state}");
    }
    stop_and_check_ports(stack).await;
}

/// With the template's own waits (a fallback after a minute at the earliest), a push of builds and
/// rollouts of a few seconds ends within seconds: the events woke its waits, and its history is
/// the normal path's (`deltaship_core::budget`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_end_the_waits_long_before_the_deployed_fallbacks() {
    let (repo, root) = shop();
    let options = StackOptions { waits: Waits::Deployed, ..options(&repo, 3.0, 3.0) };
    let mut stack = LocalStack::start(&options).await.expect("the local stack starts");
    let head = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { woken() }"))]);
    let report = run(&mut stack, &push(&head)).await;
    assert_eq!(outcomes(&report), pairs(&[("users", "deployed")]), "{report:?}");
    assert!(report.duration_seconds < 30.0, "no fallback (the first is after 30 s): {}", report.duration_seconds);
    assert!(!report.steps.iter().any(|step| step.state.starts_with("Look at")), "{:?}", report.steps);
    let normal = deltaship_core::budget::EXECUTION_EVENTS + deltaship_core::budget::NORMAL_SERVICE_EVENTS;
    assert_eq!(report.history_events as u64, normal, "the normal path's history");
    stop_and_check_ports(stack).await;
}

/// A push of 300 services: its worst-case history would pass what one execution may write, so
/// detect-changes splits it into parts (`deltaship_core::budget`), and every part deploys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_300_services_is_split_into_parts_and_every_one_deploys() {
    let repo = TestRepo::new();
    let manifests: Vec<(String, String)> = (0..300)
        .map(|index| {
            let name = format!("s{index:03}");
            (format!("services/{name}/service.toml"), manifest(&name, "depends_on = [\"../common\"]"))
        })
        .collect();
    let mut files: Vec<(&str, Option<&str>)> =
        manifests.iter().map(|(path, text)| (path.as_str(), Some(text.as_str()))).collect();
    files.push(("services/common/src/lib.rs", Some("pub fn shared() {}")));
    let root = repo.commit("HEAD", &[], &files);
    let head = repo.commit("HEAD", &[&root], &[("services/common/src/lib.rs", Some("pub fn shared() -> u8 { 1 }"))]);
    let mut stack = LocalStack::start(&options(&repo, 0.3, 0.3)).await.expect("the local stack starts");
    let report = run(&mut stack, &RunRequest { timeout: Duration::from_secs(900), ..push(&head) }).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.detect);
    assert_eq!(report.services.len(), 300);
    assert!(report.services.iter().all(|service| service.outcome.to_string() == "deployed"));
    assert!(report.executions.len() > 1, "split into parts: {:?}", report.executions);
    assert!(report.executions.iter().skip(1).all(|name| name.contains("-p")), "{:?}", report.executions);
    stop_and_check_ports(stack).await;
}

/// The CodeCommit calls among a push's AWS calls.
fn codecommit_calls(report: &RunReport) -> u64 {
    report.aws_calls.iter().filter(|(operation, _)| operation.starts_with("codecommit:")).map(|(_, count)| count).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_under_other_roots_and_a_push_reads_only_the_manifests_it_touched() {
    const SERVICES: usize = 120;
    let repo = TestRepo::new();
    let manifests: Vec<(String, String)> = (0..SERVICES)
        .map(|index| {
            let name = format!("s{index:03}");
            (format!("src/{name}/service.toml"), manifest(&name, ""))
        })
        .collect();
    let mut files: Vec<(&str, Option<&str>)> =
        manifests.iter().map(|(path, text)| (path.as_str(), Some(text.as_str()))).collect();
    files.push(("deltaship.toml", Some("services = [\"src/*\"]\nfirst_push = \"none\"\n")));
    files.push(("src/s007/main.go", Some("package main")));
    let root = repo.commit("HEAD", &[], &files);
    let head = repo.commit("HEAD", &[&root], &[("src/s007/main.go", Some("package main // v2"))]);
    let mut stack = start(&repo).await;

    // The first push: no catalog stored, so every manifest is read (and this one is stored).
    let first = run(&mut stack, &push(&root)).await;
    assert_eq!(first.status, RunStatus::None, "{:?}", first.detect);
    let reads = first.aws_calls.get("codecommit:GetFile").copied().unwrap_or_default();
    assert!(reads > SERVICES as u64, "every manifest and deltaship.toml: {:?}", first.aws_calls);

    // The next push builds its catalog from the stored one: its CodeCommit calls do not grow
    // with the number of services.
    let second = run(&mut stack, &RunRequest { base: Some(root.clone()), ..push(&head) }).await;
    assert_eq!(outcomes(&second), pairs(&[("s007", "deployed")]));
    assert!(codecommit_calls(&second) <= 10, "{:?}", second.aws_calls);
    assert_eq!(second.aws_calls.get("codecommit:GetFolder"), None, "{:?}", second.aws_calls);
    assert!(second.aws_calls.get("states:StartExecution").is_some_and(|count| *count == 1), "{:?}", second.aws_calls);
    let json = serde_json::to_value(&second).unwrap();
    assert!(json["aws_calls"]["codecommit:GetCommit"].as_u64().is_some_and(|count| count >= 1), "{json}");
    stop_and_check_ports(stack).await;
}
