//! `scripts/demo` (`make demo`) writes plain text when its output is not a terminal: no escape
//! codes in `make demo > file`. `true` stands in for deltaship, so only the script's own
//! headings are printed.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;

#[test]
fn the_headings_are_plain_text_when_stdout_is_not_a_terminal() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/demo");
    let output = Command::new(script).arg("true").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("\n==> Push 1: a change to user-service only\n"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "escape codes in {stdout:?}");
}
