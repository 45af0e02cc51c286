//! `deltaship local up` as users run it: the binary serves until interrupted, and the AWS SDK,
//! pointed at the endpoint it prints, sees the pipeline and what the manifests name.
//!
//! Needs moto_server (`make venv`; `make test` and CI set `DELTASHIP_MOTO_SERVER`).

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deltaship_tests::{TestRepo, manifest};
use serde_json::Value;

mod support;
use support::{local_push, up};

#[test]
fn local_up_serves_the_pipeline_until_interrupted() {
    let repo = TestRepo::new();
    let users = manifest("users", "");
    repo.commit(
        "HEAD",
        &[],
        &[("services/users/service.toml", Some(&users)), ("services/users/src/main.rs", Some("fn main() {}"))],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .args(["local", "up", "--loopback-only", "--format", "json", "--repo"])
        .arg(repo.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The JSON document, once the stack is up.
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    let report: Value = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "deltaship local up ended before it was up");
        text.push_str(&line);
        if let Ok(report) = serde_json::from_str(&text) {
            break report;
        }
    };
    let endpoint = report["endpoint"].as_str().unwrap().to_owned();
    assert_eq!(report["endpoints"].as_array().unwrap().len(), 1, "--loopback-only: {report}");
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    let environment: Vec<(String, String)> = serde_json::from_value(report["environment"].clone()).unwrap();
    assert!(environment.contains(&("AWS_ENDPOINT_URL".to_owned(), endpoint.clone())), "{environment:?}");
    let variables: Vec<(String, String)> = serde_json::from_value(report["variables"].clone()).unwrap();
    assert!(variables.iter().any(|(name, _)| name == "WAITS_TABLE"), "{variables:?}");

    // The SDK, pointed at it, sees the pipeline and the manifests' service.
    let address: SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let config = deltaship::local::stack::sdk_config(address).await;
        let machines = aws_sdk_sfn::Client::new(&config).list_state_machines().send().await.unwrap();
        let arns: Vec<&str> = machines.state_machines().iter().map(|machine| machine.state_machine_arn()).collect();
        assert_eq!(arns, [report["state_machine_arn"].as_str().unwrap()]);
        let services = aws_sdk_ecs::Client::new(&config).list_services().cluster("shop").send().await.unwrap();
        assert_eq!(services.service_arns().len(), 1, "{services:?}");
    });

    // Ctrl-C stops it: exit 0, the port closed.
    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "deltaship local up did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("deltaship local up: stopped"), "{stderr}");
    assert!(TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err(), "{address} still answers");
}

#[test]
fn local_push_runs_pushes_one_after_another_on_a_running_stack() {
    let repo = TestRepo::new();
    let root = repo.commit(
        "HEAD",
        &[],
        &[
            ("services/users/service.toml", Some(&manifest("users", ""))),
            ("services/users/src/main.rs", Some("fn main() {}")),
            ("services/products/service.toml", Some(&manifest("products", ""))),
            ("services/products/src/main.rs", Some("fn main() {}")),
        ],
    );
    let second = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { /* 2 */ }"))]);
    let third = repo.commit("HEAD", &[&second], &[("services/products/src/main.rs", Some("fn main() { /* 3 */ }"))]);
    let (mut child, report) = up(&repo);
    let endpoint = report["endpoint"].as_str().unwrap().to_owned();

    // The first push on the stack reads every manifest, and stores the catalog of its head.
    let (code, first, stderr) = local_push(&repo, &endpoint, &["--base", &root, "--head", &second]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    assert_eq!(first["services"][0]["name"], "users");
    assert_eq!(first["services"][0]["outcome"], "deployed");
    assert!(first["aws_calls"]["codecommit:GetFile"].as_u64().is_some_and(|reads| reads >= 2), "{first}");
    // The next builds its catalog from that one: no manifest read.
    let (code, next, stderr) = local_push(&repo, &endpoint, &["--base", &second, "--head", &third]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(next["services"][0]["name"], "products", "{next}");
    assert_eq!(next["aws_calls"]["codecommit:GetFile"], Value::Null, "{next}");
    assert!(next["aws_calls"]["states:StartExecution"].as_u64() == Some(1), "{next}");

    // Another repository, or no stack at all: bad input.
    let other = TestRepo::new();
    other.commit("HEAD", &[], &[("README.md", Some("x"))]);
    let (code, _, stderr) = local_push(&other, &endpoint, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("serves"), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .args(["local", "push"])
        .env_remove("AWS_ENDPOINT_URL")
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("deltaship local up"));

    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn local_up_refuses_bad_input_with_exit_2() {
    let outside = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .args(["local", "up", "--repo"])
        .arg(outside.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a git repository"));
    let output =
        Command::new(env!("CARGO_BIN_EXE_deltaship")).args(["local", "up", "--build-seconds", "-1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
