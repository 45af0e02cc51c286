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

/// Issue 19's bookkeeping of environments (Built already?, Record environment, Record the first
/// environment, Next environment?, Service done: 10 history events) puts a deploy whose waits
/// end with their events over issue 15's history budgets per service (36 > 30) and per
/// one-service push (50 > 40); its cost is within its budget (see `cost::report`'s tests).
#[test]
fn a_deploy_whose_waits_end_with_their_events_is_the_normal_path() {
    cost()
        .args(["--build", "50s", "--rollout", "20s"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"state transitions\s+10\s+5\s+15\n").unwrap())
        .stdout(predicate::str::is_match(r"history events\s+36\s+14\s+50\n").unwrap())
        .stdout(predicate::str::contains("0 fallback timeouts"))
        .stdout(
            predicate::str::is_match(r"orchestration of a one-service push <= \$0.0004\s+\$0.000387  ok\n").unwrap(),
        )
        .stdout(predicate::str::is_match(r"history events per service <= 30\s+36  OVER BUDGET\n").unwrap())
        .stdout(predicate::str::is_match(r"history events of a one-service push <= 40\s+50  OVER BUDGET\n").unwrap())
        .stdout(predicate::str::is_match(r"history events of this push <= 25000\s+50  ok\n").unwrap());
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
        .stdout(predicate::str::is_match(r"state transitions\s+31\s+5\s+36\n").unwrap())
        .stdout(predicate::str::is_match(r"history events\s+127\s+14\s+141\n").unwrap())
        .stdout(predicate::str::is_match(r"history events per service <= 30\s+127  OVER BUDGET\n").unwrap());
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
        .stdout(predicate::str::is_match(r"history events\s+50\s+14\s+64\n").unwrap());
}

#[test]
fn json_has_the_counts_and_prices() {
    let output =
        cost().args(["--services", "100", "--repository-services", "100", "--format", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let estimate: Value = serde_json::from_slice(&output.stdout).unwrap();
    // 5 + 5 minutes with the default waits: the normal path, 2 registrations and 2 deletions.
    assert_eq!(estimate["simulation"]["service"]["counts"]["transitions"], 10);
    assert_eq!(estimate["simulation"]["total"]["transitions"], 1005);
    assert_eq!(estimate["simulation"]["total"]["history_events"], 3614);
    assert_eq!(estimate["simulation"]["total"]["wake_invocations"], 300);
    assert_eq!(estimate["simulation"]["service"]["counts"]["dynamodb_write_units"], 4 * 3);
    assert_eq!(estimate["codepipeline"]["pipelines"], 100);
    assert_eq!(estimate["scenario"]["build_wait"], serde_json::json!([600, 600]));
    assert_eq!(estimate["scenario"]["events"], "flowing");
    assert_eq!(estimate["prices"]["eventbridge_service_event"], 0.0);
    assert_eq!(estimate["scenario"]["environments"], 1);
    assert_eq!(
        estimate["simulation"]["service"]["environments"],
        serde_json::json!([{ "name": "default", "outcome": "deployed" }])
    );
}

#[test]
fn environments_are_promoted_in_order_after_their_approvals() {
    cost()
        .args(["--build", "5m", "--rollout", "5m", "--environments", "2", "--approvals", "--approval", "30m"])
        .assert()
        .success()
        .stdout(predicate::str::contains("environments   2 in order"))
        .stdout(predicate::str::contains("outcome deployed (env-1 deployed, env-2 deployed) at 45m01s"))
        .stdout(predicate::str::is_match(r"history events\s+67\s+14\s+81\n").unwrap())
        .stdout(predicate::str::contains("CodePipeline V2, same work: 16 action-minutes a pipeline"));
    cost()
        .args(["--environments", "2", "--approvals", "--approval", "24h"])
        .assert()
        .success()
        .stdout(predicate::str::contains("outcome not_promoted (env-1 deployed, env-2 not_promoted)"));
}

/// With the default waits, five-minute builds and rollouts end their waits by their events:
/// no fallback, the normal path alone.
#[test]
fn the_default_waits_need_no_fallback_with_five_minute_builds_and_rollouts() {
    cost()
        .args(["--build", "5m", "--rollout", "5m"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 fallback timeouts"))
        .stdout(predicate::str::is_match(r"history events\s+36\s+14\s+50\n").unwrap());
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let table: [(&[&str], &str); 7] = [
        (&["cost", "--asl", "/nonexistent/pipeline.asl.json"], "cannot read it"),
        (&["cost", "--asl", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")], "not JSON"),
        (&["cost", "--build", "5 minutes"], "not a duration"),
        (&["cost", "--build-wait", "0..10"], "need 1 <= min <= max"),
        (&["cost", "--events", "sometimes"], "invalid value 'sometimes'"),
        (&["cost", "--build-timeout-minutes", "4"], "not in 5..=2160"),
        (&["cost", "--environments", "9"], "not in 1..=8"),
    ];
    for (args, message) in table {
        Command::new(env!("CARGO_BIN_EXE_deltaship"))
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
}
