//! `deltaship status` as ops run it: against a `deltaship local up` after a push, the binary's
//! JSON document and text, and its exit codes.
//!
//! Needs moto_server (`make venv`; `make test` and CI set `DELTASHIP_MOTO_SERVER`).

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// staging, then production behind an approval; users is deployed to both.
const ENVIRONMENTS: &str = "[[environments]]\nname = \"staging\"\n\n[[environments]]\nname = \"production\"\n\
                            approval = true\n";

fn json(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn status_shows_a_push_waiting_for_its_approval_then_promoted() {
    let repo = TestRepo::new();
    let users =
        format!("{}[environments.production]\ncluster = \"shop-prod\"\nservice = \"users\"\n", manifest("users", ""));
    let root = repo.commit(
        "HEAD",
        &[],
        &[
            ("deltaship.toml", Some(ENVIRONMENTS)),
            ("services/users/service.toml", Some(&users)),
            ("services/users/src/main.rs", Some("fn main() {}")),
        ],
    );
    let head = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { /* 2 */ }"))]);
    let (child, stack) = up(&repo);
    let endpoint = stack["endpoint"].as_str().unwrap().to_owned();
    // The push waits at production's gate: followed in the background.
    let push = Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .args(["local", "push", "--format", "json", "--timeout", "120", "--base", &root, "--head", &head])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .current_dir(repo.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let waiting = loop {
        let document = json(&status(&repo, &["--endpoint-url", &endpoint, "--format", "json"]));
        if document["services"][0]["environments"][1]["pending_approvals"].as_array().is_some_and(|p| !p.is_empty()) {
            break document;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no approval pending: {document}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let users = &waiting["services"][0];
    let (staging, production) = (&users["environments"][0], &users["environments"][1]);
    assert_eq!((&staging["name"], &staging["approval"]), (&Value::from("staging"), &Value::from(false)));
    assert_eq!(staging["commit"], head.as_str(), "{staging}");
    assert_eq!(staging["deployment"]["status"], "SUCCESSFUL", "{staging}");
    let digest = staging["image"].as_str().unwrap().to_owned();
    assert!(digest.contains("@sha256:"), "staging runs the image by digest: {digest}");
    assert_eq!((&production["name"], &production["approval"]), (&Value::from("production"), &Value::from(true)));
    assert_eq!(production["cluster"], "shop-prod");
    assert_eq!(production["commit"], Value::Null, "production still runs what it ran: {production}");
    let pending = &production["pending_approvals"][0];
    assert_eq!(pending["commit"], head.as_str(), "{pending}");
    assert_eq!(pending["image"], digest.as_str(), "{pending}");
    assert_eq!(pending["execution"], users["last_execution"]["name"], "{users}");
    assert!(pending["expires_at"].as_i64().unwrap() > pending["requested_at"].as_i64().unwrap(), "{pending}");
    assert!(pending.get("token").is_none(), "{pending}");
    assert_eq!(users["last_execution"]["status"], "RUNNING", "{users}");
    let text = String::from_utf8_lossy(&status(&repo, &["--endpoint-url", &endpoint]).stdout).into_owned();
    assert!(text.contains(&format!("waiting    {} by ", &head[..12])), "{text}");

    // Approved: production runs the same digest, nothing waits, the execution ends.
    let approve = Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .args(["approve", "--service", "users", "--environment", "production", "--endpoint-url", &endpoint])
        .output()
        .unwrap();
    assert_eq!(approve.status.code(), Some(0), "{}", stderr(&approve));
    let pushed = push.wait_with_output().unwrap();
    assert_eq!(pushed.status.code(), Some(0), "{}", String::from_utf8_lossy(&pushed.stderr));

    let document = json(&status(&repo, &["--endpoint-url", &endpoint, "--format", "json"]));
    let users = &document["services"][0];
    let production = &users["environments"][1];
    assert_eq!(production["commit"], head.as_str(), "{production}");
    assert_eq!(production["image"], digest.as_str(), "{production}");
    assert_eq!(production["deployment"]["status"], "SUCCESSFUL", "{production}");
    assert_eq!(production["pending_approvals"], Value::Array(Vec::new()), "{production}");
    let last = &users["last_execution"];
    assert_eq!((&last["status"], &last["outcome"]), (&Value::from("SUCCEEDED"), &Value::from("deployed")), "{last}");
    let environments: Vec<(&str, &str)> = last["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|environment| (environment["name"].as_str().unwrap(), environment["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(environments, [("staging", "deployed"), ("production", "deployed")], "{last}");

    stop(child);
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
