//! Every CodeCommit event fixture through the core: the push it becomes or the reason it is
//! ignored; and every way of breaking a fixture gives an error, never a panic.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fs;

use deltaship_core::{CommitId, EventError, Ignored, Push, Trigger, parse_event, parse_event_value};
use deltaship_tests::fixtures_dir;
use serde_json::{Value, json};

const NEW: &str = "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
const OLD: &str = "3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6";
const REPOSITORY: &str = "shop-monorepo";

fn read(name: &str) -> Vec<u8> {
    fs::read(fixtures_dir().join("events").join(name)).unwrap()
}

fn push(branch: &str, base: Option<&str>) -> Trigger {
    Trigger::Push(Push {
        repository: REPOSITORY.to_owned(),
        branch: branch.to_owned(),
        head: CommitId::parse(NEW).unwrap(),
        base: base.map(|base| CommitId::parse(base).unwrap()),
        pushed_by: Some("arn:aws:iam::123456789012:user/Mary_Major".to_owned()),
        // The fixtures' `time`, 2026-11-23T10:23:43Z.
        pushed_at: 1_795_429_423,
    })
}

fn ignored(reason: Ignored) -> Trigger {
    Trigger::Ignored(reason)
}

fn expectations() -> Vec<(&'static str, Trigger)> {
    let tag = || Ignored::Tag { repository: REPOSITORY.into(), tag: "v1.4.0".into() };
    vec![
        ("reference-created-branch.json", push("feature/login", None)),
        ("reference-updated-branch.json", push("main", Some(OLD))),
        ("reference-updated-branch-merge.json", push("main", Some(OLD))),
        (
            "reference-deleted-branch.json",
            ignored(Ignored::BranchDeleted { repository: REPOSITORY.into(), branch: "feature/login".into() }),
        ),
        ("reference-created-tag.json", ignored(tag())),
        ("reference-updated-tag.json", ignored(tag())),
        ("reference-deleted-tag.json", ignored(tag())),
        (
            "unreferenced-merge-commit-created.json",
            ignored(Ignored::UnreferencedMergeCommit { repository: REPOSITORY.into() }),
        ),
    ]
}

#[test]
fn every_fixture_has_an_expectation() {
    let mut on_disk: Vec<String> = fs::read_dir(fixtures_dir().join("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = expectations().iter().map(|(name, _)| (*name).to_owned()).collect();
    expected.push("codecommit-trigger-legacy.json".to_owned());
    expected.sort();
    assert_eq!(on_disk, expected, "a fixture without a row in the table (or a row without its fixture)");
}

#[test]
fn fixtures_become_the_expected_push_or_reason() {
    for (name, expected) in expectations() {
        let bytes = read(name);
        assert_eq!(parse_event(&bytes), Ok(expected.clone()), "{name}");
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parse_event_value(value), Ok(expected), "{name} (as a Lambda receives it)");
    }
}

#[test]
fn ignored_fixtures_carry_a_readable_reason() {
    for (name, expected) in expectations() {
        if let Trigger::Ignored(reason) = expected {
            let text = reason.to_string();
            assert!(text.contains(REPOSITORY) && text.len() > 30, "{name}: {text}");
        }
    }
}

#[test]
fn the_legacy_trigger_format_is_rejected_clearly() {
    let error = parse_event(&read("codecommit-trigger-legacy.json")).unwrap_err();
    assert!(matches!(error, EventError::Malformed(_)), "{error:?}");
    assert!(error.to_string().contains("missing field `detail-type`"), "{error}");
}

/// Every way of breaking every fixture: each field removed, nulled, or given a wrong type; the
/// whole event replaced by an empty object or by other JSON. Nothing panics; a wrong type is
/// always an error; removing a field the variant needs is an error.
#[test]
fn broken_fixtures_give_errors_not_panics() {
    let wrong_values = [json!(5), json!(true), json!({"nested": 1}), json!(["list"])];
    for (name, expected) in expectations() {
        let event: Value = serde_json::from_slice(&read(name)).unwrap();
        let envelope_keys: Vec<String> = event.as_object().unwrap().keys().cloned().collect();
        let detail_keys: Vec<String> = event["detail"].as_object().unwrap().keys().cloned().collect();
        let mut cases: Vec<(String, Value)> = Vec::new();
        for key in &envelope_keys {
            for wrong in &wrong_values {
                // `resources` is a list and `detail` an object: those shapes are valid there.
                if (key == "resources" && wrong.is_array()) || (key == "detail" && wrong.is_object()) {
                    continue;
                }
                let mut broken = event.clone();
                broken[key.as_str()] = wrong.clone();
                cases.push((format!("{key} = {wrong}"), broken));
            }
        }
        for key in &detail_keys {
            for wrong in &wrong_values {
                let mut broken = event.clone();
                broken["detail"][key.as_str()] = wrong.clone();
                cases.push((format!("detail.{key} = {wrong}"), broken));
            }
        }
        for (case, broken) in cases {
            let result = parse_event(broken.to_string().as_bytes());
            assert!(result.is_err(), "{name}, {case}: accepted as {result:?}");
        }

        // Removing a field: an error exactly when this variant needs the field.
        for key in &detail_keys {
            let mut broken = event.clone();
            broken["detail"].as_object_mut().unwrap().remove(key);
            let result = parse_event(broken.to_string().as_bytes());
            let needed = needed_fields(&expected, &event["detail"]);
            if needed.contains(&key.as_str()) {
                assert!(result.is_err(), "{name}: without detail.{key} accepted as {result:?}");
            } else {
                assert!(result.is_ok(), "{name}: without detail.{key}: {result:?}");
            }
        }
    }
    // Fields AWS may add later are accepted, in the envelope and in the detail.
    for (name, expected) in expectations() {
        let mut event: Value = serde_json::from_slice(&read(name)).unwrap();
        event["replay-name"] = json!("future");
        event["detail"]["displayName"] = json!("Mary Major");
        event["detail"]["someFutureField"] = json!({"nested": [1, 2]});
        assert_eq!(parse_event(event.to_string().as_bytes()), Ok(expected), "{name} with unknown fields");
    }
    for whole in [json!({}), json!(null), json!([]), json!("push"), json!(42), json!({"detail": {}})] {
        let result = parse_event(whole.to_string().as_bytes());
        assert!(matches!(result, Err(EventError::Malformed(_))), "{whole}: {result:?}");
    }
}

/// The detail fields a variant cannot do without. `referenceName` and `referenceFullName` stand
/// in for each other, so neither alone is needed.
fn needed_fields(expected: &Trigger, detail: &Value) -> Vec<&'static str> {
    let mut needed = vec!["event", "repositoryName"];
    match expected {
        Trigger::Push(push) => {
            needed.extend(["referenceType", "commitId"]);
            if push.base.is_some() {
                needed.push("oldCommitId");
            }
        }
        Trigger::Ignored(Ignored::BranchDeleted { .. } | Ignored::Tag { .. }) => needed.push("referenceType"),
        Trigger::Ignored(_) => {}
    }
    if detail.get("referenceName").is_some() && detail.get("referenceFullName").is_none() {
        needed.push("referenceName");
    }
    needed
}
