//! `deltaship redeploy` against a `deltaship local up`, as ops run it: an earlier push's image
//! deployed again (a roll back) into one environment, judged like any other execution; a commit
//! that never deployed, and a service that does not exist, are bad input.
//!
//! Needs moto_server (`make venv`; `make test` and CI set `DELTASHIP_MOTO_SERVER`).

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::process::{Command, Output};

use deltaship_tests::{TestRepo, manifest};
use serde_json::Value;
use support::{local_push, stop, up};

const ENVIRONMENTS: &str = "[[environments]]\nname = \"staging\"\n\n[[environments]]\nname = \"production\"\n";

fn deltaship(repo: &TestRepo, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deltaship")).args(args).arg("--repo").arg(repo.path()).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// (commit, image) each environment of users runs, as `deltaship status` reads them.
fn running(repo: &TestRepo, endpoint: &str) -> Vec<(String, String)> {
    let output = deltaship(repo, &["status", "--endpoint-url", endpoint, "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    document["services"][0]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|environment| {
            (
                environment["commit"].as_str().unwrap_or_default().to_owned(),
                environment["image"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn redeploy_rolls_one_environment_back_to_an_earlier_push() {
    let repo = TestRepo::new();
    let users = format!(
        "{}[environments.production]\ncluster = \"shop-prod\"\nservice = \"users-live\"\n",
        manifest("users", "")
    );
    let root = repo.commit(
        "HEAD",
        &[],
        &[
            ("deltaship.toml", Some(ENVIRONMENTS)),
            ("services/users/service.toml", Some(&users)),
            ("services/users/src/main.rs", Some("fn main() {}")),
        ],
    );
    let (child, stack) = up(&repo);
    let endpoint = stack["endpoint"].as_str().unwrap().to_owned();

    // Two pushes, each deployed to staging then production.
    let (code, report, err) = local_push(&repo, &endpoint, &["--head", &root]);
    assert_eq!(code, Some(0), "{err}\n{report}");
    let first = running(&repo, &endpoint);
    let head = repo.commit("HEAD", &[&root], &[("services/users/src/main.rs", Some("fn main() { /* 2 */ }"))]);
    let (code, report, err) = local_push(&repo, &endpoint, &["--base", &root, "--head", &head]);
    assert_eq!(code, Some(0), "{err}\n{report}");
    let second = running(&repo, &endpoint);
    assert!(second.iter().all(|(commit, _)| *commit == head), "{second:?}");
    assert_ne!(first[1].1, second[1].1, "the second push built another image");

    // Production back to the first push's image, staging left alone.
    let output = deltaship(
        &repo,
        &[
            "redeploy",
            "--service",
            "users",
            "--commit",
            &root[..12],
            "--environment",
            "production",
            "--wait",
            "--format",
            "json",
            "--endpoint-url",
            &endpoint,
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    let service = &report["services"][0];
    assert_eq!((&service["name"], &service["outcome"]), (&Value::from("users"), &Value::from("deployed")), "{report}");
    assert_eq!(service["environments"][0]["name"], "production", "one environment: {report}");
    assert_eq!(service["image"], first[1].1.as_str(), "the first push's image, by digest: {report}");
    assert_eq!(service["build_seconds"], Value::Null, "no build: {report}");
    let now = running(&repo, &endpoint);
    assert_eq!(now[0], second[0], "staging is left alone");
    assert_eq!(now[1], first[1], "production runs the first push's commit and image again");

    // A commit no revision was deployed for, and a service that does not exist: bad input.
    let never = repo.commit("HEAD", &[&head], &[("services/users/src/main.rs", Some("fn main() { /* 3 */ }"))]);
    let output = deltaship(&repo, &["redeploy", "--service", "users", "--commit", &never, "--endpoint-url", &endpoint]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no revision of users was deployed for"), "{}", stderr(&output));
    let output = deltaship(&repo, &["redeploy", "--service", "orders", "--commit", &root, "--endpoint-url", &endpoint]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no service named orders"), "{}", stderr(&output));

    stop(child);
}
