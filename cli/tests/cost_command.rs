//! `deltaship cost` as users run it: the binary on the repository's state machine, its formats
//! and its exit codes.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const ASL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../state-machine/pipeline.asl.json");

fn cost() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deltaship"));
    command.args(["cost", "--asl", ASL]);
    command
}

#[test]
fn the_pipeline_meets_its_budgets_for_five_minute_builds_and_rollouts() {
    cost()
        .args(["--build", "5m", "--rollout", "5m"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"state transitions\s+30\s+5\s+35\n").unwrap())
        .stdout(predicate::str::contains("orchestration of a one-service push <= $0.001"))
        .stdout(predicate::str::contains("OVER BUDGET").not());
}

#[test]
fn json_has_the_counts_and_prices() {
    let output =
        cost().args(["--services", "100", "--repository-services", "100", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let estimate: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(estimate["simulation"]["service"]["counts"]["transitions"], 30);
    assert_eq!(estimate["simulation"]["total"]["transitions"], 3005);
    assert_eq!(estimate["simulation"]["total"]["history_events"], 9514);
    assert_eq!(estimate["codepipeline"]["pipelines"], 100);
    assert_eq!(estimate["scenario"]["build_wait"], serde_json::json!([60, 120]));
}

#[test]
fn an_old_policy_is_shown_over_budget() {
    cost()
        .args(["--build-wait", "30..120", "--rollout-wait", "20..120"])
        .assert()
        .success()
        .stdout(predicate::str::contains("OVER BUDGET"))
        .stdout(predicate::str::contains("$0.001032"));
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let table: [(&[&str], &str); 4] = [
        (&["cost", "--asl", "/nonexistent/pipeline.asl.json"], "cannot read it"),
        (&["cost", "--asl", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")], "not JSON"),
        (&["cost", "--build", "5 minutes"], "not a duration"),
        (&["cost", "--build-wait", "0..10"], "need 1 <= min <= max"),
    ];
    for (args, message) in table {
        Command::new(env!("CARGO_BIN_EXE_deltaship"))
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
}
