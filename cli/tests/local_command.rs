//! `deltaship local run` as users run it: the binary, its JSON document and its exit codes. The
//! pipeline's behaviour itself is tested end to end in `tests/local_stack.rs`.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use assert_cmd::Command;
use deltaship_tests::{TestRepo, manifest};
use predicates::prelude::*;
use serde_json::{Value, json};

fn deltaship() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deltaship"))
}

/// One service and a docs folder; returns the repository and its two commits (the second only
/// touches the docs).
fn docs_push() -> (TestRepo, String) {
    let repo = TestRepo::new();
    let users = manifest("users", "");
    let first = repo.commit(
        "HEAD",
        &[],
        &[("services/users/service.toml", Some(&users)), ("services/users/src/main.rs", Some("fn main() {}"))],
    );
    let second = repo.commit("HEAD", &[&first], &[("docs/guide.md", Some("# Guide"))]);
    (repo, second)
}

#[test]
fn a_push_that_changes_no_service_is_status_none_and_exit_0() {
    let (repo, head) = docs_push();
    let output = deltaship()
        .args(["local", "run", "--format", "json", "--head", &head, "--repo"])
        .arg(repo.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut document: Value = serde_json::from_slice(&output.stdout).unwrap();
    // What detect-changes read to decide: the commit, the diff, the service folders, the
    // settings and the one manifest (no catalog stored on a fresh stack).
    let calls = document.as_object_mut().unwrap().remove("aws_calls").unwrap();
    for (operation, count) in [
        ("codecommit:GetCommit", 1),
        ("codecommit:GetDifferences", 1),
        ("codecommit:GetFolder", 1),
        ("codecommit:GetFile", 2),
    ] {
        assert_eq!(calls[operation], count, "{operation}: {calls}");
    }
    assert_eq!(calls.get("states:StartExecution"), None, "{calls}");
    assert_eq!(
        document,
        json!({
            "execution": null, "executions": [], "status": "NONE", "services": [],
            "duration_seconds": 0.0, "history_events": 0,
        })
    );
}

#[test]
fn bad_input_is_exit_2_naming_the_input() {
    let outside = tempfile::tempdir().unwrap();
    deltaship()
        .args(["local", "run", "--repo"])
        .arg(outside.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a git repository"));

    let (repo, head) = docs_push();
    deltaship()
        .args(["local", "run", "--fail-rollout", "nobody", "--head", &head, "--repo"])
        .arg(repo.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no service \"nobody\" in the manifests"));
    deltaship()
        .args(["local", "run", "--strategy", "users=FAST", "--head", &head, "--repo"])
        .arg(repo.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ROLLING, BLUE_GREEN, LINEAR or CANARY"));
    deltaship()
        .args(["local", "run", "--rollout-seconds=-1", "--repo"])
        .arg(repo.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--rollout-seconds"));
}

#[test]
fn a_missing_moto_server_says_how_to_install_it() {
    let (repo, head) = docs_push();
    deltaship()
        .args(["local", "run", "--moto-server", "/nonexistent/moto_server", "--head", &head, "--repo"])
        .arg(repo.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("make venv"));
}
