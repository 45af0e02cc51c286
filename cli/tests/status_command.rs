//! `deltaship status` as ops run it: against a `deltaship local up` after a push, the binary's
//! JSON document and text, and its exit codes.
//!
//! Needs moto_server (`make venv`; `make test` and CI set `DELTASHIP_MOTO_SERVER`).

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::process::{Command, Output};

use deltaship_tests::{TestRepo, manifest};
use serde_json::Value;

mod support;
use support::{local_push, stop, up};

/// `deltaship status ARGS` on `repo`, with no AWS endpoint from the environment.
fn status(repo: &TestRepo, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .arg("status")
        .args(args)
        .arg("--repo")
        .arg(repo.path())
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn status_shows_what_a_push_deployed_and_its_execution() {
    let repo = TestRepo::new();
    let root = repo.commit(
        "HEAD",
        &[],
        &[
            ("services/users/service.toml", Some(&manifest("users", ""))),
            ("services/users/src/main.rs", Some("fn main() {}")),
        ],
    );
    let head = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { /* 2 */ }"))]);
    let (child, stack) = up(&repo);
    let endpoint = stack["endpoint"].as_str().unwrap().to_owned();
    let (code, pushed, push_stderr) = local_push(&repo, &endpoint, &["--base", &root, "--head", &head]);
    assert_eq!(code, Some(0), "{push_stderr}");
    let deployed = &pushed["services"][0];
    assert_eq!(deployed["outcome"], "deployed", "{pushed}");

    // A service added since: its manifest names an ECS service the stack does not have.
    repo.commit(
        "HEAD",
        &[&head],
        &[
            ("services/orders/service.toml", Some(&manifest("orders", ""))),
            ("services/orders/src/main.rs", Some("fn main() {}")),
        ],
    );

    let output = status(&repo, &["--endpoint-url", &endpoint, "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["repository"], stack["repository"], "{document}");
    assert_eq!(document["region"], stack["region"], "{document}");
    let services = document["services"].as_array().unwrap();
    let names: Vec<&str> = services.iter().map(|service| service["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["orders", "users"], "{document}");

    let users = &services[1];
    let environments = users["environments"].as_array().unwrap();
    assert_eq!(environments.len(), 1, "one environment: {users}");
    let running = &environments[0];
    assert_eq!(running["name"], "default");
    assert_eq!((&running["cluster"], &running["service"]), (&Value::from("shop"), &Value::from("users")));
    assert_eq!(running["ecs_status"], "ACTIVE");
    assert_eq!(running["commit"], head.as_str(), "{running}");
    assert_eq!(running["image"], deployed["image"], "{running}");
    assert_eq!(running["task_definition"], deployed["task_definition"], "{running}");
    assert_eq!(running["execution"], pushed["execution"], "{running}");
    assert_eq!(running["deployment"]["arn"], deployed["deployment"], "{running}");
    assert_eq!(running["deployment"]["status"], "SUCCESSFUL", "{running}");
    assert_eq!(running["pending_approvals"], Value::Array(Vec::new()));
    assert!(running["service_url"].as_str().unwrap().contains("/clusters/shop/services/users/"), "{running}");

    let last = &users["last_execution"];
    assert_eq!(last["name"], pushed["execution"], "{last}");
    assert_eq!(last["status"], "SUCCEEDED", "{last}");
    assert_eq!(last["outcome"], "deployed", "{last}");
    assert_eq!((&last["branch"], &last["commit"]), (&Value::from("main"), &Value::from(head.as_str())), "{last}");
    assert!(last["execution_url"].as_str().unwrap().contains("/states/home"), "{last}");

    // Shown as missing, not a crash; no execution deployed it yet.
    let orders = &services[0];
    assert_eq!(orders["environments"][0]["ecs_status"], "MISSING", "{orders}");
    assert_eq!(orders["environments"][0]["deployment"], Value::Null, "{orders}");
    assert_eq!(orders["last_execution"], Value::Null, "{orders}");

    // The same, for people; one service with --service.
    let output = status(&repo, &["--endpoint-url", &endpoint, "--service", "users"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for part in [
        "\nusers\n",
        &format!("commit {}", &head[..12]),
        "deployment SUCCESSFUL",
        &format!("last execution  {}", pushed["execution"].as_str().unwrap()),
        ": SUCCEEDED, deployed",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }
    assert!(!text.contains("orders"), "{text}");

    // Bad input: a service the manifests do not name.
    let output = status(&repo, &["--endpoint-url", &endpoint, "--service", "payments"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no service named payments"), "{}", stderr(&output));

    stop(child);

    // Nothing answers there any more: bad input, naming the endpoint.
    let output = status(&repo, &["--endpoint-url", &endpoint]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains(&format!("nothing answers at {endpoint}")), "{}", stderr(&output));
}

#[test]
fn status_refuses_a_folder_that_is_not_a_repository() {
    let outside = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .args(["status", "--endpoint-url", "http://127.0.0.1:9", "--repo"])
        .arg(outside.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("is not a git repository"), "{}", stderr(&output));
}
