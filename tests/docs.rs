//! The manual against what it describes: docs/development.md lists every step `.ci/run` takes,
//! in order, and the README's test command is the one CI runs.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The labels `.ci/run` prints for its steps (`step "..."`), in order.
fn ci_steps() -> Vec<String> {
    read(".ci/run")
        .lines()
        .filter_map(|line| line.trim().strip_prefix("step \"")?.strip_suffix('"').map(ToOwned::to_owned))
        .collect()
}

/// The numbered list of docs/development.md's "CI" section: one entry per item.
fn documented_steps() -> Vec<String> {
    let manual = read("docs/development.md");
    let section = manual.split("\n## CI\n").nth(1).unwrap_or_else(|| panic!("docs/development.md has no CI section"));
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut items: Vec<String> = Vec::new();
    for line in section.lines() {
        let numbered = line.split_once(". ").filter(|(number, _)| number.parse::<u32>().is_ok());
        match numbered {
            Some((_, text)) => items.push(text.to_owned()),
            None if line.starts_with("   ") => {
                if let Some(last) = items.last_mut() {
                    last.push(' ');
                    last.push_str(line.trim());
                }
            }
            None => {}
        }
    }
    items
}

#[test]
fn the_manual_lists_every_ci_step_in_order() {
    let steps = ci_steps();
    let documented = documented_steps();
    assert!(steps.len() >= 10, "{steps:?}");
    assert_eq!(documented.len(), steps.len(), "docs/development.md lists {documented:#?}\n.ci/run steps {steps:#?}");
    // A step that is a command is named in its item (its first words).
    for (step, item) in steps.iter().zip(&documented) {
        let command: Vec<&str> = step.split_whitespace().take(2).collect();
        let is_command = ["cargo", "make", "cfn-lint", "statelint", "sam", "scripts/invoke-lambdas"]
            .iter()
            .any(|tool| command.first() == Some(tool));
        if is_command {
            assert!(item.contains(&command.join(" ")), "step {step:?} is not item {item:?}");
        }
    }
}

#[test]
fn the_readme_test_command_is_what_ci_runs() {
    let readme = read("README.md");
    assert!(readme.contains("\nmake test "), "the README's test command");
    assert!(ci_steps().contains(&"make test".to_owned()), ".ci/run runs make test");
    assert!(read(".ci/run").contains("\nmake test VENV="), ".ci/run runs it");
}
