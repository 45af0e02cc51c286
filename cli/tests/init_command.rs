//! `deltaship init` as a new user runs it on an existing monorepo: what it proposes, what it
//! writes (never over a file), and that `check` and `plan` then work on what it wrote.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use assert_cmd::Command;
use deltaship_tests::TestRepo;
use predicates::prelude::*;
use serde_json::{Value, json};

fn deltaship() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deltaship"))
}

/// The services of GoogleCloudPlatform/microservices-demo, each under `src/`.
const DEMO: [&str; 12] = [
    "adservice",
    "cartservice",
    "checkoutservice",
    "currencyservice",
    "emailservice",
    "frontend",
    "loadgenerator",
    "paymentservice",
    "productcatalogservice",
    "recommendationservice",
    "shippingservice",
    "shoppingassistantservice",
];

/// A dozen Dockerfile services as microservices-demo lays them out (cartservice's Dockerfile one
/// folder down), with the folders around them that are not services.
fn demo() -> (TestRepo, String) {
    let repo = TestRepo::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for name in DEMO {
        let dockerfile = if name == "cartservice" { "src/cartservice/src/Dockerfile" } else { "" };
        let dockerfile = if dockerfile.is_empty() { format!("src/{name}/Dockerfile") } else { dockerfile.to_owned() };
        files.push((dockerfile, "FROM scratch\nCOPY . .\n".to_owned()));
        files.push((format!("src/{name}/main.go"), "package main\n".to_owned()));
    }
    files.push(("src/cartservice/tests/CartServiceTests.cs".into(), "// tests\n".into()));
    files.push((".devcontainer/Dockerfile".into(), "FROM scratch\n".into()));
    files.push((".github/workflows/ci.yaml".into(), "on: push\n".into()));
    files.push(("kubernetes-manifests/adservice.yaml".into(), "kind: Deployment\n".into()));
    files.push(("docs/img/architecture.png".into(), "png\n".into()));
    files.push(("README.md".into(), "# Online Boutique\n".into()));
    let edits: Vec<(&str, Option<&str>)> =
        files.iter().map(|(path, text)| (path.as_str(), Some(text.as_str()))).collect();
    let first = repo.commit("HEAD", &[], &edits);
    (repo, first)
}

#[test]
fn a_dozen_dockerfile_services_are_proposed_and_nothing_else() {
    let (repo, _) = demo();
    let output = deltaship().args(["init", "--format", "json"]).current_dir(repo.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let proposal: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(proposal["roots"], json!(["src/*"]));
    let names: Vec<&str> =
        proposal["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, DEMO);
    let cart = proposal["services"].as_array().unwrap().iter().find(|s| s["name"] == "cartservice").unwrap();
    assert_eq!(cart["folder"], "src/cartservice");
    assert_eq!(cart["evidence"], json!(["src/cartservice/src/Dockerfile"]));
    assert!(
        proposal["skipped"].as_array().unwrap().iter().any(|s| s["folder"] == ".devcontainer"),
        "{}",
        proposal["skipped"]
    );
    // Without --write: nothing on disk, every file "would_write".
    let files = proposal["files"].as_array().unwrap();
    assert_eq!(files.len(), 13, "deltaship.toml and 12 manifests");
    assert!(files.iter().all(|file| file["action"] == "would_write"));
    assert!(!repo.path().join("deltaship.toml").exists());
    assert!(!repo.path().join("src/adservice/service.toml").exists());
}

#[test]
fn written_files_are_a_configuration_check_and_plan_accept() {
    let (repo, first) = demo();
    // A manifest the team already wrote is left alone.
    std::fs::create_dir_all(repo.path().join("src/frontend")).unwrap();
    std::fs::write(repo.path().join("src/frontend/service.toml"), "# ours\n").unwrap();
    deltaship()
        .args(["init", "--write"])
        .current_dir(repo.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("deltaship init: 12 services under the root src/*"))
        .stdout(predicate::str::contains("wrote deltaship.toml"))
        .stdout(predicate::str::contains("wrote src/adservice/service.toml"))
        .stdout(predicate::str::contains("src/frontend/service.toml exists: left as it is"));
    assert_eq!(std::fs::read_to_string(repo.path().join("src/frontend/service.toml")).unwrap(), "# ours\n");

    // Commit what init wrote (the team's frontend manifest replaced by the proposal), then check
    // and plan as a user would.
    std::fs::remove_file(repo.path().join("src/frontend/service.toml")).unwrap();
    deltaship().args(["init", "--write"]).current_dir(repo.path()).assert().code(0);
    let mut written: Vec<(String, String)> =
        vec![("deltaship.toml".to_owned(), std::fs::read_to_string(repo.path().join("deltaship.toml")).unwrap())];
    for name in DEMO {
        let path = format!("src/{name}/service.toml");
        written.push((path.clone(), std::fs::read_to_string(repo.path().join(&path)).unwrap()));
    }
    let edits: Vec<(&str, Option<&str>)> =
        written.iter().map(|(path, text)| (path.as_str(), Some(text.as_str()))).collect();
    let configured = repo.commit("HEAD", &[&first], &edits);
    let output = deltaship().args(["check", "--format", "json"]).current_dir(repo.path()).output().unwrap();
    let check: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{check}");
    assert_eq!(check["services"].as_array().unwrap().len(), 12);

    let change = repo.commit("HEAD", &[&configured], &[("src/adservice/main.go", Some("package main // v2\n"))]);
    let output = deltaship()
        .args(["plan", "--base", &configured, "--head", &change, "--format", "json"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["decision"], "deploy", "{plan}");
    assert_eq!(plan["services"][0]["name"], "adservice");
    assert_eq!(plan["services"].as_array().unwrap().len(), 1);
}

#[test]
fn nothing_deployable_says_so_and_bad_input_exits_2() {
    let repo = TestRepo::new();
    repo.commit("HEAD", &[], &[("README.md", Some("# docs only"))]);
    deltaship()
        .arg("init")
        .current_dir(repo.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no deployable folder found"));
    deltaship().args(["init", "--rev", "nope"]).current_dir(repo.path()).assert().code(2);
    let outside = tempfile::tempdir().unwrap();
    deltaship().args(["init", "--repo"]).arg(outside.path()).assert().code(2);
}
