//! Replays the fuzz targets' saved inputs: every file of `fuzz/corpus/<target>/` (the inputs
//! libFuzzer kept for their coverage) and of `fuzz/artifacts/<target>/` (every crash it found,
//! fixed since), through the same checks as the targets ([`deltaship_core::testing::robustness`]). So
//! `cargo test` keeps what the fuzzing runs learnt without nightly or libFuzzer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use deltaship_core::testing::robustness::{check_event, check_manifests};

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz").join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).filter(|path| path.is_file()).collect();
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8]) -> Result<(), String>) -> usize {
    let mut count = 0;
    for kind in ["corpus", "artifacts"] {
        for path in inputs(kind, target) {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            match outcome {
                Ok(Ok(())) => count += 1,
                Ok(Err(broken)) => panic!("{}: {broken}", path.display()),
                Err(_) => panic!("{}: panicked", path.display()),
            }
        }
    }
    count
}

#[test]
fn the_event_corpus_and_crashers_pass() {
    let count = replay("event_parsing", check_event);
    assert!(count >= 10, "only {count} saved event inputs: is fuzz/corpus/event_parsing there?");
    assert!(!inputs("artifacts", "event_parsing").is_empty(), "the crasher found by fuzzing is kept");
}

#[test]
fn the_manifest_corpus_and_crashers_pass() {
    let count = replay("manifest_parsing", check_manifests);
    assert!(count >= 4, "only {count} saved manifest inputs: is fuzz/corpus/manifest_parsing there?");
}
