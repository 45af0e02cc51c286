//! Helpers the CLI's integration tests share: a `deltaship local up` on a test repository, and
//! `deltaship local push` to it, run as users run them (the binary).
//!
//! Needs moto_server (`make venv`; `make test` and CI set `DELTASHIP_MOTO_SERVER`).

// Each test binary uses some of them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use deltaship_tests::TestRepo;
use serde_json::Value;

/// `deltaship local up --loopback-only` on `repo`, and the JSON document it printed once up.
/// The caller stops and waits for it (a failed assertion here ends the test, and the child with
/// its stdout).
#[allow(clippy::zombie_processes)]
pub(crate) fn up(repo: &TestRepo) -> (Child, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .args(["local", "up", "--loopback-only", "--format", "json", "--repo"])
        .arg(repo.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "deltaship local up ended before it was up");
        text.push_str(&line);
        if let Ok(report) = serde_json::from_str(&text) {
            return (child, report);
        }
    }
}

/// Stops a `deltaship local up` as Ctrl-C does, and asserts it exited 0.
pub(crate) fn stop(mut child: Child) {
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

/// `deltaship local push ARGS --format json` against `endpoint`: its exit code and report.
pub(crate) fn local_push(repo: &TestRepo, endpoint: &str, args: &[&str]) -> (Option<i32>, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_deltaship"))
        .args(["local", "push", "--format", "json"])
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .current_dir(repo.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), serde_json::from_slice(&output.stdout).unwrap_or(Value::Null), stderr)
}
