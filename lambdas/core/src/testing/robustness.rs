//! Hostile input: the checks the fuzz targets (`fuzz/`) run on arbitrary bytes, and that
//! `cargo test` replays on every saved corpus entry and crasher (`lambdas/core/tests/fuzz_corpus.rs`).
//!
//! Each check feeds the bytes to a parser the way a Lambda would, and returns `Err` with what
//! broke when an invariant does not hold; a panic anywhere inside is a crash too. Neither takes
//! any time or memory beyond the input's size.

use crate::naming::MAX_EXECUTION_NAME_LEN;
use crate::pipeline::{PipelineInput, TARGET_INPUT_BYTES};
use crate::{Catalog, Change, Scope, SourceFile, Trigger, execution_name, parse_event, parse_event_value};

/// An EventBridge event (as detect-changes receives it, bytes or parsed JSON): parsing never
/// panics, both entry points agree, and a push yields a valid, deterministic execution name.
pub fn check_event(data: &[u8]) -> Result<(), String> {
    let from_bytes = parse_event(data);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let from_value = parse_event_value(value);
        if from_bytes.as_ref().ok() != from_value.as_ref().ok() {
            return Err(format!("parse_event and parse_event_value disagree: {from_bytes:?} vs {from_value:?}"));
        }
    }
    if let Ok(Trigger::Push(push)) = from_bytes {
        if push.head.is_null() {
            return Err("a push of the null commit".to_owned());
        }
        if push.repository.is_empty() || push.branch.is_empty() {
            return Err(format!("a push without repository or branch: {push:?}"));
        }
        let name = execution_name(&push.repository, &push.branch, &push.head);
        let valid = !name.is_empty()
            && name.len() <= MAX_EXECUTION_NAME_LEN
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid || name != execution_name(&push.repository, &push.branch, &push.head) {
            return Err(format!("bad execution name {name:?} for {push:?}"));
        }
    }
    Ok(())
}

/// Repository files: the bytes, split at NUL bytes, are `deltaship.toml` (the first part, unless
/// empty) and `services/s<i>/service.toml` (the others). Loading never panics; a catalog that
/// loads keeps its patterns inside the repository, plans the same whatever the order of the
/// changes, gives every planned service a reason among the changed paths, and fits a pipeline
/// input or says it is too large.
pub fn check_manifests(data: &[u8]) -> Result<(), String> {
    let mut parts = data.split(|&b| b == 0);
    let settings = parts.next().filter(|part| !part.is_empty()).map(|part| SourceFile::new("deltaship.toml", part));
    let manifests: Vec<SourceFile> = parts
        .take(16)
        .enumerate()
        .map(|(index, part)| SourceFile::new(format!("services/s{index}/service.toml"), part))
        .collect();
    let Ok(catalog) = Catalog::load(settings.as_ref(), &manifests) else {
        return Ok(());
    };

    let mut paths = vec!["Cargo.lock".to_owned(), "README.md".to_owned(), "services/common/src/lib.rs".to_owned()];
    for service in catalog.services() {
        for pattern in service.watch.iter().chain(&service.ignore).chain(&service.depends_on) {
            if pattern.starts_with('/') || pattern.split('/').any(|part| part == "..") {
                return Err(format!("{}: pattern {pattern:?} leaves the repository", service.manifest));
            }
            let literal: String = pattern.chars().map(|c| if "*?[]{}".contains(c) { 'x' } else { c }).collect();
            paths.push(format!("{literal}/f.rs"));
            paths.push(literal);
        }
        paths.push(format!("{}/src/main.rs", service.folder));
        paths.push(service.manifest.clone());
    }
    let changes: Vec<Change> = paths.iter().cloned().map(Change::Modified).collect();
    let mut reversed = changes.clone();
    reversed.reverse();

    let plan = catalog.plan(&changes);
    if plan != catalog.plan(&reversed) {
        return Err("the plan depends on the order of the changes".to_owned());
    }
    for planned in &plan.services {
        if planned.reasons.is_empty() || planned.reasons.iter().any(|reason| !paths.iter().any(|path| path == reason)) {
            return Err(format!("{} planned without a changed path as its reason", planned.service.name));
        }
    }
    let _ = Scope::default().check_services(catalog.services());
    let _ = catalog.plan_first_push();

    let Ok(head) = crate::CommitId::parse(&"a".repeat(40)) else {
        return Err("the test commit id does not parse".to_owned());
    };
    let push = crate::Push {
        repository: "shop".to_owned(),
        branch: "main".to_owned(),
        head,
        base: None,
        pushed_by: None,
        pushed_at: 0,
    };
    let input = PipelineInput::new(&push, "shop-main".to_owned(), &plan, 10);
    if let Ok((_, json)) = input.fit(TARGET_INPUT_BYTES)
        && json.len() > TARGET_INPUT_BYTES
    {
        return Err(format!("a fitted input of {} bytes", json.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_accept_garbage_and_good_input() {
        for data in [&b""[..], b"\0", b"{}", b"\0[build]\nproject=1", b"\xff\xfe"] {
            assert_eq!(check_event(data), Ok(()));
            assert_eq!(check_manifests(data), Ok(()));
        }
        let manifest =
            b"\0[build]\nproject = \"p1\"\n[deploy]\ncluster = \"c\"\nservice = \"s\"\ncontainer = \"app\"\n\
                         image_repository = \"r\"\n";
        assert_eq!(check_manifests(manifest), Ok(()));
    }
}
