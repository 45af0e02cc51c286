//! `deltaship check` as users run it: services under any roots, what triggers each, unowned
//! paths, conflicts, and its exit codes (0 fine, 1 problems, 2 bad input).

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use assert_cmd::Command;
use deltaship_tests::{TestRepo, manifest};
use predicates::prelude::*;
use serde_json::{Value, json};

fn deltaship() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deltaship"))
}

/// Services under `src/`, a shared library under `libs/`, and files nobody owns.
fn apps() -> (TestRepo, String) {
    let repo = TestRepo::new();
    let api = manifest("api", "depends_on = [\"../../libs/common\"]\nignore = [\"**/*.md\"]");
    let web = manifest("web", "");
    let first = repo.commit(
        "HEAD",
        &[],
        &[
            ("deltaship.toml", Some("services = [\"src/*\"]\ndeploy_all = [\"go.mod\"]\n")),
            ("src/api/service.toml", Some(&api)),
            ("src/api/main.go", Some("package main")),
            ("src/api/README.md", Some("# api")),
            ("src/web/service.toml", Some(&web)),
            ("src/web/index.ts", Some("export {}")),
            ("libs/common/util.go", Some("package common")),
            ("go.mod", Some("module shop")),
            ("docs/guide.md", Some("# guide")),
        ],
    );
    (repo, first)
}

fn json_of(repo: &TestRepo, args: &[&str]) -> (Option<i32>, Value) {
    let output =
        deltaship().arg("check").args(args).args(["--format", "json"]).current_dir(repo.path()).output().unwrap();
    let document = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code(), document)
}

#[test]
fn services_under_any_root_with_their_triggers_and_the_paths_nobody_owns() {
    let (repo, _) = apps();
    let (code, check) = json_of(&repo, &[]);
    assert_eq!(code, Some(0), "{check}");
    assert_eq!(check["ok"], true);
    assert_eq!(check["roots"], json!(["src/*"]));
    assert_eq!(check["problems"], json!([]));
    assert_eq!(
        check["services"],
        json!([
            {
                "name": "api", "folder": "src/api", "watch": ["src/api"], "depends_on": ["libs/common"],
                "deploy_all": ["go.mod"], "ignore": ["src/api/**/*.md"], "files": 4
            },
            {
                "name": "web", "folder": "src/web", "watch": ["src/web"], "depends_on": [],
                "deploy_all": ["go.mod"], "ignore": [], "files": 3
            }
        ])
    );
    assert_eq!(check["unowned"], json!(["deltaship.toml", "docs/guide.md", "src/api/README.md"]));

    deltaship()
        .arg("check")
        .current_dir(repo.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("2 services, and what deploys each:"))
        .stdout(predicate::str::contains("depends_on  libs/common"))
        .stdout(predicate::str::contains("3 paths no service owns"))
        .stdout(predicate::str::contains("ok: no problem found"));
}

#[test]
fn conflicts_and_broken_manifests_exit_1_naming_each() {
    let (repo, first) = apps();
    let head = repo.commit(
        "HEAD",
        &[&first],
        &[
            // Builds with api's project, and deploys to web's ECS service.
            ("src/api2/service.toml", Some(&manifest("api", "").replace("service = \"api\"", "service = \"other\""))),
            ("src/web2/service.toml", Some(&manifest("web2", "").replace("service = \"web2\"", "service = \"web\""))),
        ],
    );
    let (code, check) = json_of(&repo, &["--rev", &head]);
    assert_eq!(code, Some(1), "{check}");
    assert_eq!(check["ok"], false);
    let problems: Vec<String> = check["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {} {}", p["file"], p["key"], p["problem"]))
        .collect();
    assert!(
        problems.iter().any(|p| p.contains("src/web2/service.toml") && p.contains("already deployed by")),
        "{problems:?}"
    );

    // With the ECS conflict gone, the shared build project is the problem left.
    let fixed = repo.commit("HEAD", &[&head], &[("src/web2/service.toml", Some(&manifest("web2", "")))]);
    let (code, check) = json_of(&repo, &["--rev", &fixed]);
    assert_eq!(code, Some(1), "{check}");
    assert_eq!(check["problems"][0]["file"], "src/api2/service.toml");
    assert_eq!(check["problems"][0]["key"], "build.project");

    let broken =
        repo.commit("HEAD", &[&fixed], &[("src/web/service.toml", Some("[build]\nproject = \"web-build\"\n"))]);
    deltaship()
        .args(["check", "--rev", &broken])
        .current_dir(repo.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("src/web/service.toml:1: missing field `deploy`"));
}

#[test]
fn no_service_points_to_init() {
    let repo = TestRepo::new();
    repo.commit("HEAD", &[], &[("src/api/Dockerfile", Some("FROM scratch"))]);
    deltaship()
        .arg("check")
        .current_dir(repo.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no service is defined"))
        .stdout(predicate::str::contains("deltaship init"));
}

#[test]
fn bad_input_exits_2() {
    let (repo, _) = apps();
    deltaship().args(["check", "--rev", "no-such-rev"]).current_dir(repo.path()).assert().code(2);
    let outside = tempfile::tempdir().unwrap();
    deltaship().args(["check", "--repo"]).arg(outside.path()).assert().code(2);
}
