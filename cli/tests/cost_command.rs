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
fn a_deploy_whose_waits_end_with_their_events_meets_the_budgets() {
    cost()
        .args(["--build", "50s", "--rollout", "20s"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"state transitions\s+5\s+5\s+10\n").unwrap())
        .stdout(predicate::str::is_match(r"history events\s+26\s+14\s+40\n").unwrap())
        .stdout(predicate::str::contains("0 fallback timeouts"))
        .stdout(predicate::str::contains("orchestration of a one-service push <= $0.0004"))
        .stdout(predicate::str::contains("OVER BUDGET").not());
}

#[test]
fn first_waits_shorter_than_the_build_and_rollout_time_out_although_events_flow() {
    cost()
        .args(["--build", "5m", "--rollout", "5m", "--build-wait", "60..300", "--rollout-wait", "30..300"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "7 fallback timeouts; 7 check-build and 9 check-rollout invocations, 3 wake-ups",
        ))
        .stdout(predicate::str::is_match(r"state transitions\s+26\s+5\s+31\n").unwrap())
        .stdout(predicate::str::is_match(r"history events\s+117\s+14\s+131\n").unwrap())
        .stdout(predicate::str::is_match(r"history events per service <= 30\s+117  OVER BUDGET\n").unwrap());
}

#[test]
fn with_events_lost_every_wait_ends_by_its_timeout() {
    cost()
        .args(["--build", "5m", "--rollout", "5m", "--events", "lost"])
        .assert()
        .success()
        .stdout(predicate::str::contains("events lost"))
        .stdout(predicate::str::contains("2 fallback timeouts"))
        .stdout(predicate::str::is_match(r"wake-waits invocations \(events\)\s+0\s+0\s+0\n").unwrap())
        .stdout(predicate::str::is_match(r"history events\s+40\s+14\s+54\n").unwrap());
}

#[test]
fn json_has_the_counts_and_prices() {
    let output =
        cost().args(["--services", "100", "--repository-services", "100", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let estimate: Value = serde_json::from_slice(&output.stdout).unwrap();
    // 5 + 5 minutes with the default waits: the normal path, 2 registrations and 2 deletions.
    assert_eq!(estimate["simulation"]["service"]["counts"]["transitions"], 5);
    assert_eq!(estimate["simulation"]["total"]["transitions"], 505);
    assert_eq!(estimate["simulation"]["total"]["history_events"], 2614);
    assert_eq!(estimate["simulation"]["total"]["wake_invocations"], 300);
    assert_eq!(estimate["simulation"]["service"]["counts"]["dynamodb_write_units"], 4 * 3);
    assert_eq!(estimate["codepipeline"]["pipelines"], 100);
    assert_eq!(estimate["scenario"]["build_wait"], serde_json::json!([600, 600]));
    assert_eq!(estimate["scenario"]["events"], "flowing");
    assert_eq!(estimate["prices"]["eventbridge_service_event"], 0.0);
}

#[test]
fn the_default_waits_meet_the_budgets_with_five_minute_builds_and_rollouts() {
    cost()
        .args(["--build", "5m", "--rollout", "5m"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"history events\s+26\s+14\s+40\n").unwrap())
        .stdout(predicate::str::contains("OVER BUDGET").not());
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let table: [(&[&str], &str); 6] = [
        (&["cost", "--asl", "/nonexistent/pipeline.asl.json"], "cannot read it"),
        (&["cost", "--asl", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")], "not JSON"),
        (&["cost", "--build", "5 minutes"], "not a duration"),
        (&["cost", "--build-wait", "0..10"], "need 1 <= min <= max"),
        (&["cost", "--events", "sometimes"], "invalid value 'sometimes'"),
        (&["cost", "--build-timeout-minutes", "4"], "not in 5..=2160"),
    ];
    for (args, message) in table {
        Command::new(env!("CARGO_BIN_EXE_deltaship"))
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
}
