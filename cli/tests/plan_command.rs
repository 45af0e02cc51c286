//! `deltaship plan` as users run it: the binary, its output formats, its exit codes.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use assert_cmd::Command;
use deltaship_tests::{TestRepo, manifest, names_and_reasons};
use predicates::prelude::*;
use serde_json::{Value, json};

fn deltaship() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deltaship"))
}

/// Two services sharing `services/common`; returns the repository and its first two commits.
fn shop() -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    let users = manifest("users", "depends_on = [\"../common\"]");
    let products = manifest("products", "depends_on = [\"../common\"]");
    let first = repo.commit(
        "HEAD",
        &[],
        &[
            ("services/users/service.toml", Some(&users)),
            ("services/users/src/main.rs", Some("fn main() {}")),
            ("services/products/service.toml", Some(&products)),
            ("services/products/src/main.rs", Some("fn main() {}")),
            ("services/common/src/lib.rs", Some("pub fn a() {}")),
        ],
    );
    let second = repo.commit(
        "HEAD",
        &[&first],
        &[("services/common/src/lib.rs", Some("pub fn b() {}")), ("services/users/src/main.rs", Some("fn main() { }"))],
    );
    (repo, first, second)
}

#[test]
fn json_output_has_the_documented_shape() {
    let (repo, first, second) = shop();
    let output = deltaship()
        .args(["plan", "--repo"])
        .arg(repo.path())
        .args(["--base", &first, "--head", &second, "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["base"], json!(first));
    assert_eq!(plan["head"], json!(second));
    assert_eq!(plan["removed"], json!([]));
    assert_eq!(
        names_and_reasons(&plan),
        json!([
            {"name": "products", "reasons": ["services/common/src/lib.rs"]},
            {"name": "users", "reasons": ["services/common/src/lib.rs", "services/users/src/main.rs"]},
        ])
    );
}

#[test]
fn head_defaults_to_head_and_no_base_is_a_first_push() {
    let (repo, _, second) = shop();
    let output = deltaship().args(["plan", "--format", "json"]).current_dir(repo.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["base"], Value::Null);
    assert_eq!(plan["head"], json!(second));
    assert_eq!(plan["first_push"], json!(true));
    assert_eq!(plan["services"].as_array().unwrap().len(), 2);
}

#[test]
fn text_output_lists_services_and_reasons() {
    let (repo, first, _) = shop();
    deltaship()
        .args(["plan", "--base", &first])
        .current_dir(repo.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("deploy 2 services:"))
        .stdout(predicate::str::contains("users     build users-build, roll out shop/users"))
        .stdout(predicate::str::contains("services/users/src/main.rs"));
}

#[test]
fn broken_manifest_exits_2_naming_file_and_key() {
    let (repo, first, _) = shop();
    let broken = manifest("products", "").replace("[deploy]", "[deploy]\nreplicas = 3");
    let head = repo.commit("refs/heads/broken", &[&first], &[("services/products/service.toml", Some(&broken))]);
    let output = deltaship()
        .args(["plan", "--repo"])
        .arg(repo.path())
        .args(["--base", &first, "--head", &head, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing half-done on stdout");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("services/products/service.toml") && stderr.contains("key `deploy.replicas`"), "{stderr}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let (repo, first, _) = shop();
    let outside = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--base".into(), "v9.9.9".into()], "unknown revision `v9.9.9`"),
        (vec!["--head".into(), "0123456789abcdef0123456789abcdef01234567".into()], "unknown revision"),
        (
            vec!["--base".into(), first, "--repo".into(), outside.path().display().to_string()],
            "is not a git repository",
        ),
        (vec!["--repo".into(), "/definitely/not/here".into()], "is not a git repository"),
    ];
    for (args, expected) in cases {
        let output = deltaship().arg("plan").args(&args).current_dir(repo.path()).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn empty_repository_says_so() {
    let repo = TestRepo::new();
    let output = deltaship().arg("plan").current_dir(repo.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown revision `HEAD`") && stderr.contains("has no commits yet"), "{stderr}");
}

#[test]
fn bad_arguments_exit_2() {
    deltaship().args(["plan", "--format", "yaml"]).assert().code(2).stderr(predicate::str::contains("yaml"));
    deltaship().arg("deploy-everything").assert().code(2);
}

#[test]
fn a_branch_that_does_not_deploy_plans_nothing_and_says_how_to_plan_it() {
    let (repo, first, second) = shop();
    let feature =
        repo.commit("refs/heads/feature", &[&second], &[("services/users/src/main.rs", Some("fn main() {  }"))]);
    for head in ["feature", "refs/heads/feature"] {
        deltaship()
            .args(["plan", "--base", &second, "--head", head])
            .current_dir(repo.path())
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "nothing to deploy: branch feature does not deploy (deltaship.toml `branches` is [\"main\"]).",
            ))
            .stdout(predicate::str::contains("(`--branch main` plans it as a push to main.)"));
    }
    // As a push to main, or with no branch named (a commit id), it deploys.
    for args in [["--head", "feature", "--branch", "main"], ["--head", feature.as_str(), "--format", "text"]] {
        deltaship()
            .args(["plan", "--base", &second])
            .args(args)
            .current_dir(repo.path())
            .assert()
            .success()
            .stdout(predicate::str::contains("deploy 1 service:"));
    }
    let output = deltaship()
        .args(["plan", "--base", &second, "--head", "feature", "--format", "json"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["decision"], "branch_not_deployed");
    assert_eq!(plan["branch"], "feature");
    assert_eq!(plan["services"], json!([]));
    // `HEAD` on the deploying branch, or a branch in `branches`: no note, a plan.
    for head in ["HEAD", "main"] {
        deltaship()
            .args(["plan", "--base", &first, "--head", head])
            .current_dir(repo.path())
            .assert()
            .success()
            .stderr(predicate::str::is_empty())
            .stdout(predicate::str::contains("on main:"));
    }
}

#[test]
fn a_commit_that_says_skip_deploy_plans_nothing() {
    let (repo, _, second) = shop();
    let skipped = repo.commit_with_message(
        "HEAD",
        &[&second],
        &[("services/users/src/main.rs", Some("fn main() { /* v3 */ }"))],
        "users: tidy [skip deploy]",
    );
    let output =
        deltaship().args(["plan", "--base", &second, "--head", &skipped]).current_dir(repo.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("nothing to deploy: the commit says [skip deploy] (\"users: tidy [skip deploy]\")."),
        "{stdout}"
    );
    let output = deltaship()
        .args(["plan", "--base", &second, "--head", &skipped, "--format", "json"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((plan["decision"].as_str(), plan["services"].as_array().map(Vec::len)), (Some("skip"), Some(0)));
}

#[test]
fn a_repository_without_services_points_to_init() {
    let repo = TestRepo::new();
    let first = repo.commit("HEAD", &[], &[("src/api/Dockerfile", Some("FROM scratch")), ("README.md", Some("# x"))]);
    let second = repo.commit("HEAD", &[&first], &[("src/api/main.go", Some("package main"))]);
    let output =
        deltaship().args(["plan", "--base", &first, "--head", &second]).current_dir(repo.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("nothing to deploy: no service is defined"), "{stdout}");
    assert!(stdout.contains("`deltaship init` proposes them"), "{stdout}");
}
