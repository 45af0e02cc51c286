//! deltaship's EventBridge pattern matcher (`deltaship::event_pattern`, what the local stack
//! delivers its events with) against moto's own (`moto.events.models.EventPattern`, what moto's
//! EventBridge matches rules with): the same answers on a table of patterns and events, the
//! template's rules and the real event fixtures among them.
//!
//! Needs moto's Python: the venv's (`make venv`; `make test` and CI set `DELTASHIP_MOTO_SERVER`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// The Python that runs moto_server (its first line).
fn moto_python() -> PathBuf {
    let server = deltaship::local::stack::find_moto_server(None)
        .unwrap_or_else(|error| panic!("these tests compare with moto's matcher: {error}"));
    let script = std::fs::read_to_string(&server).unwrap();
    let line = script.lines().next().unwrap_or_default();
    PathBuf::from(
        line.strip_prefix("#!").unwrap_or_else(|| panic!("{} is not a Python script", server.display())).trim(),
    )
}

/// What moto's matcher says of each (pattern, event).
fn moto_matches(cases: &[(Value, Value)]) -> Vec<bool> {
    let program = r#"
import json, sys
from moto.events.models import EventPattern
cases = json.load(sys.stdin)
print(json.dumps([EventPattern.load(json.dumps(p)).matches_event(e) for p, e in cases]))
"#;
    let mut child = Command::new(moto_python())
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("moto's Python starts");
    let input = serde_json::to_vec(&cases.iter().map(|(p, e)| json!([p, e])).collect::<Vec<_>>()).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "moto's matcher failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn fixture(name: &str) -> Value {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("..");
    serde_json::from_str(&std::fs::read_to_string(root.join("tests/fixtures/aws/events").join(name)).unwrap()).unwrap()
}

#[test]
fn deltaships_matcher_answers_as_motos() {
    let event = json!({
        "source": "aws.ecs",
        "resources": ["arn:aws:ecs:us-east-1:1:service/shop/users", "arn:aws:ecs:us-east-1:1:task/x"],
        "detail": { "status": "SUCCEEDED", "name": "users-build", "count": 3, "tags": ["a", "b"], "branch": "release/1.2" },
    });
    let patterns = [
        json!({ "source": ["aws.ecs"] }),
        json!({ "source": ["aws.codebuild", "aws.ecs"] }),
        json!({ "source": ["aws.codebuild"] }),
        json!({ "missing": ["x"] }),
        json!({ "resources": [{ "prefix": "arn:aws:ecs:us-east-1:1:service/shop/" }] }),
        json!({ "resources": [{ "prefix": "arn:aws:ecs:us-east-1:1:service/other/" }] }),
        json!({ "detail": { "status": [{ "anything-but": "IN_PROGRESS" }] } }),
        json!({ "detail": { "status": [{ "anything-but": "SUCCEEDED" }] } }),
        json!({ "detail": { "status": [{ "anything-but": ["FAILED", "SUCCEEDED"] }] } }),
        json!({ "detail": { "status": [{ "anything-but": { "prefix": "SUCC" } }] } }),
        json!({ "detail": { "name": [{ "prefix": "users-" }], "count": [3] } }),
        json!({ "detail": { "name": [{ "suffix": "-build" }] } }),
        json!({ "detail": { "name": [{ "equals-ignore-case": "USERS-BUILD" }] } }),
        json!({ "detail": { "count": [4] } }),
        json!({ "detail": { "tags": ["b"] } }),
        json!({ "detail": { "branch": [{ "wildcard": "release/*" }] } }),
        json!({ "detail": { "branch": [{ "wildcard": "hotfix/*" }] } }),
        json!({ "detail": { "missing": [{ "exists": false }] } }),
        json!({ "detail": { "status": [{ "exists": true }] } }),
    ];
    let mut cases: Vec<(Value, Value)> = patterns.iter().map(|pattern| (pattern.clone(), event.clone())).collect();
    // The template's rules, as the local stack resolves them, on the events AWS sends.
    let builds = json!({"source": ["aws.codebuild"], "detail-type": ["CodeBuild Build State Change"],
        "detail": {"build-status": [{"anything-but": "IN_PROGRESS"}], "project-name": [{"prefix": "deltaship-sample-"}]}});
    let deployments = json!({"source": ["aws.ecs"], "detail-type": ["ECS Deployment State Change"],
        "resources": [{"prefix": "arn:aws:ecs:us-east-1:123456789012:service/deltaship-sample/"}]});
    for name in [
        "codebuild-build-state-change-succeeded.json",
        "codebuild-build-state-change-failed.json",
        "codebuild-build-state-change-in-progress.json",
        "ecs-deployment-state-change-in-progress.json",
        "ecs-deployment-state-change-completed.json",
        "ecs-deployment-state-change-failed.json",
    ] {
        for pattern in [&builds, &deployments] {
            cases.push((pattern.clone(), fixture(name)));
        }
    }
    // The push rule, resolved from the template with branch patterns, on pushes to branches it
    // takes and branches it does not.
    let parameters: deltaship::local::eventbridge::Parameters = [
        ("AWS::Partition", "aws"),
        ("AWS::Region", "eu-west-1"),
        ("AWS::AccountId", "123456789012"),
        ("AWS::StackName", "deltaship"),
        ("Branches", "main,release/*"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    let rules = deltaship::local::eventbridge::rules(deltaship::local::eventbridge::TEMPLATE, &parameters).unwrap();
    let push_rule: Value =
        serde_json::from_str(&rules.iter().find(|rule| rule.name == "PushRule").unwrap().pattern).unwrap();
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("..");
    let pushed: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/fixtures/events/reference-updated-branch.json")).unwrap(),
    )
    .unwrap();
    for branch in ["main", "release/1.2", "feature/x", "mainline"] {
        let mut event = pushed.clone();
        event["resources"] = json!(["arn:aws:codecommit:eu-west-1:123456789012:deltaship"]);
        event["detail"]["referenceName"] = json!(branch);
        cases.push((push_rule.clone(), event));
    }
    let ours: Vec<bool> =
        cases.iter().map(|(pattern, event)| deltaship::event_pattern::matches(pattern, event).unwrap()).collect();
    let pushes = &ours[ours.len() - 4..];
    assert_eq!(pushes, [true, true, false, false], "the push rule takes main and release/*");
    assert!(ours.iter().any(|matched| *matched) && ours.iter().any(|matched| !matched), "the table has both");
    let theirs = moto_matches(&cases);
    for ((pattern, event), (ours, theirs)) in cases.iter().zip(ours.iter().zip(&theirs)) {
        assert_eq!(ours, theirs, "pattern {pattern} on {}", event.get("detail-type").unwrap_or(&Value::Null));
    }
}
