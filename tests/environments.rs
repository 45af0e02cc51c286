//! Environments on the local stack, end to end (issue "Environments: promote the same image,
//! approve per service, operate from the terminal"): moto runs `state-machine/pipeline.asl.json`,
//! deltaship's handlers (request-approval included) run in process, and the approvals are given
//! as `deltaship approve`/`reject` give them ([`deltaship::approvals`]).
//!
//! The shop: `users` deploys to staging, then to production behind an approval; `orders` deploys
//! to staging only (it has no production target), so it never waits on `users`' gate.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use deltaship::approvals::{Approvals, Decision};
use deltaship::local::answers::{GateRule, GateRules};
use deltaship::local::stack::{WAITS_TABLE, Waits};
use deltaship::local::{LocalStack, RunReport, RunRequest, RunStatus, ServiceReport, StackOptions};
use deltaship_core::Outcome;
use deltaship_tests::TestRepo;

const SETTINGS: &str =
    "[[environments]]\nname = \"staging\"\n\n[[environments]]\nname = \"production\"\napproval = true\n";

fn manifest(name: &str, production: bool) -> String {
    let mut text = format!(
        "[build]\nproject = \"{name}-build\"\n\n[deploy]\ncluster = \"shop-staging\"\nservice = \"{name}\"\n\
         container = \"app\"\nimage_repository = \"shop/{name}\"\n"
    );
    if production {
        text.push_str("\n[environments.production]\ncluster = \"shop-production\"\nservice = \"users-live\"\n");
    }
    text
}

/// The shop's first commit, and a change to both services on top of it.
fn shop() -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    let users = manifest("users", true);
    let orders = manifest("orders", false);
    let root = repo.commit(
        "HEAD",
        &[],
        &[
            ("deltaship.toml", Some(SETTINGS)),
            ("services/users/service.toml", Some(users.as_str())),
            ("services/users/main.rs", Some("fn main() {}")),
            ("services/orders/service.toml", Some(orders.as_str())),
            ("services/orders/main.rs", Some("fn main() {}")),
        ],
    );
    let change = repo.commit(
        "HEAD",
        &[&root],
        &[("services/users/main.rs", Some("fn main() { }")), ("services/orders/main.rs", Some("fn main() { }"))],
    );
    (repo, root, change)
}

async fn start(repo: &TestRepo) -> LocalStack {
    let options = StackOptions {
        repo: repo.path().to_owned(),
        moto_server: None,
        build_seconds: 0.5,
        rollout_seconds: 0.5,
        waits: Waits::Local,
        listen: Vec::new(),
        port: 0,
    };
    LocalStack::start(&options).await.unwrap_or_else(|error| panic!("the local stack did not start: {error}"))
}

fn push(head: &str, gates: GateRules) -> RunRequest {
    RunRequest {
        base: None,
        head: head.to_owned(),
        fail_build: Vec::new(),
        fail_rollout: Vec::new(),
        strategies: Vec::new(),
        drop_events: false,
        definition: None,
        timeout: Duration::from_secs(120),
        gates,
    }
}

fn rules(approve: &[&str], reject: &[&str]) -> GateRules {
    let parse = |texts: &[&str]| texts.iter().map(|text| text.parse::<GateRule>().unwrap()).collect();
    GateRules { approve: parse(approve), reject: parse(reject) }
}

fn service<'a>(report: &'a RunReport, name: &str) -> &'a ServiceReport {
    report.services.iter().find(|service| service.name == name).unwrap_or_else(|| panic!("no {name} in {report:?}"))
}

/// (environment, outcome, image) of each environment of `name`.
fn environments(report: &RunReport, name: &str) -> Vec<(String, Outcome, Option<String>)> {
    service(report, name)
        .environments
        .iter()
        .map(|environment| (environment.name.clone(), environment.outcome, environment.details.image.clone()))
        .collect()
}

/// The image the ECS service `cluster/service` runs.
async fn running_image(stack: &LocalStack, cluster: &str, service: &str) -> String {
    let ecs = aws_sdk_ecs::Client::new(&stack.watcher);
    let described = ecs.describe_services().cluster(cluster).services(service).send().await.unwrap();
    let task_definition = described.services()[0].task_definition().unwrap().to_owned();
    let definition = ecs.describe_task_definition().task_definition(task_definition).send().await.unwrap();
    definition.task_definition().unwrap().container_definitions()[0].image().unwrap().to_owned()
}

/// Waits until `execution` waits at `users`' production gate.
async fn reaches_the_gate(approvals: &Approvals, execution: &str) {
    let started = Instant::now();
    loop {
        let waiting = approvals.waiting("users", "production", deltaship_aws::system_clock()).await.unwrap();
        if waiting.iter().any(|record| record.execution == execution) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{execution} never reached the gate: {waiting:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_promotes_the_same_image_and_a_rejection_keeps_production() {
    let (repo, root, change) = shop();
    let mut stack = start(&repo).await;

    // The first push: staging, approved, production, by the digest the build exported.
    let first = stack.run(&push(&root, rules(&["users"], &[])), &mut |_| {}).await.unwrap();
    assert_eq!(first.status, RunStatus::Succeeded, "{first:?}");
    let users = environments(&first, "users");
    assert_eq!(
        users.iter().map(|(name, outcome, _)| (name.as_str(), *outcome)).collect::<Vec<_>>(),
        [("staging", Outcome::Deployed), ("production", Outcome::Deployed)]
    );
    let digest = users[0].2.clone().unwrap();
    assert!(digest.contains("/shop/users@sha256:"), "{digest}");
    assert_eq!(users[1].2.as_deref(), Some(digest.as_str()), "production gets staging's image");
    assert_eq!(running_image(&stack, "shop-production", "users-live").await, digest);
    assert_eq!(running_image(&stack, "shop-staging", "users").await, digest);
    assert!(
        matches!(&service(&first, "users").environments[1].details.approval,
            Some(deltaship_core::gates::Answer::Approved { by, .. }) if by.starts_with("arn:aws:")),
        "who approved is in the outcome: {first:?}"
    );
    assert_eq!(environments(&first, "orders").len(), 1, "orders has no production target");

    // The second push: rejected at production, which keeps the first push's image.
    let second = stack.run(&push(&change, rules(&[], &["users@production"])), &mut |_| {}).await.unwrap();
    assert_eq!(second.status, RunStatus::Failed);
    assert_eq!(service(&second, "users").outcome, Outcome::Rejected, "the last environment's outcome");
    assert_eq!(service(&second, "orders").outcome, Outcome::Deployed);
    let users = environments(&second, "users");
    assert_eq!((users[0].1, users[1].1), (Outcome::Deployed, Outcome::Rejected));
    assert_ne!(users[0].2.as_deref(), Some(digest.as_str()), "staging runs the new build");
    assert_eq!(running_image(&stack, "shop-production", "users-live").await, digest, "production is unchanged");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_push_supersedes_the_one_waiting_and_other_services_go_on() {
    let (repo, root, change) = shop();
    let mut stack = start(&repo).await;
    let approvals = Approvals::new(&stack.watcher, WAITS_TABLE, &stack.repository.name);

    // The first push waits at users' gate; orders, without one, has ended meanwhile.
    let first = stack.push(&push(&root, GateRules::default()), &mut |_| {}).await.unwrap();
    let first_execution = first.0.execution.clone().unwrap();
    reaches_the_gate(&approvals, &first_execution).await;

    // The second push reaches the same gate: the first ends superseded and never deploys there.
    let second = stack.push(&push(&change, GateRules::default()), &mut |_| {}).await.unwrap();
    let second_execution = second.0.execution.clone().unwrap();
    reaches_the_gate(&approvals, &second_execution).await;
    let mut none = stack.answers(GateRules::default());
    let older = stack.follow(first, Duration::from_secs(60), &mut none, &mut |_| {}).await.unwrap();
    assert_eq!(service(&older, "orders").outcome, Outcome::Deployed, "orders never waited on users' gate");
    assert_eq!(service(&older, "users").outcome, Outcome::Superseded);
    assert_eq!(environments(&older, "users")[1].1, Outcome::Superseded);
    let waiting = approvals.waiting("users", "production", deltaship_aws::system_clock()).await.unwrap();
    assert_eq!(waiting.iter().map(|record| record.execution.as_str()).collect::<Vec<_>>(), [second_execution.as_str()]);

    // Approving answers the newest push, the only one waiting.
    let answered = approvals.answer(
        "users",
        "production",
        None,
        Decision::Approve,
        Some("ship it".into()),
        deltaship_aws::system_clock(),
    );
    assert_eq!(answered.await.unwrap().record.execution, second_execution);
    let newer = stack.follow(second, Duration::from_secs(60), &mut none, &mut |_| {}).await.unwrap();
    assert_eq!(newer.status, RunStatus::Succeeded, "{newer:?}");
    let staging_image = environments(&newer, "users")[0].2.clone().unwrap();
    assert_eq!(running_image(&stack, "shop-production", "users-live").await, staging_image);

    // Nothing waits any more: an approval is refused, naming the gate.
    let refused =
        approvals.answer("users", "production", None, Decision::Approve, None, deltaship_aws::system_clock()).await;
    assert!(refused.unwrap_err().to_string().contains("no push of users waits for an approval into production"));
    stack.stop().await.unwrap();
}
