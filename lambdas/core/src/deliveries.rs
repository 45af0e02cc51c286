//! Which deliveries of a push start an execution: duplicates, lost events and `[skip deploy]`.
//! The pure decisions behind detect-changes and the reconciler (`docs/RELIABILITY.md` tells the
//! whole story; [`crate::races`] guards what happens once two executions run).
//!
//! - **Skipped commits** ([`skips_deploy`]): a pushed commit whose message contains
//!   `[skip deploy]` (any case) deploys nothing; detect-changes logs why.
//! - **Duplicates** ([`covers`]): the execution name depends only on the repository, the branch
//!   and the commit, so a second delivery of an event finds the execution of the first. It is the
//!   same push when the recorded push time (the event's `time`) is the same; a later push of the
//!   same commit (the branch was reset back to it) is a new attempt with its own name.
//! - **Lost events** ([`reconcile`]): the reconciler compares a branch's head with the branch's
//!   latest push in the [`crate::ledger`] (whatever became of it: started, nothing to deploy,
//!   skipped, ...), and plans the difference when they differ.

use serde::Deserialize;

use crate::ledger::{PushRecord, PushStatus};
use crate::pipeline::Origin;
use crate::{CommitId, Push};

/// The marker that keeps a commit from deploying.
pub const SKIP_DEPLOY: &str = "[skip deploy]";

/// Whether a commit message asks not to deploy (contains [`SKIP_DEPLOY`], in any case).
pub fn skips_deploy(message: &str) -> bool {
    message.to_ascii_lowercase().contains(SKIP_DEPLOY)
}

/// The push an existing execution was started for, read from its input (a
/// [`crate::PipelineInput`]); fields that an older deltaship did not write are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordedPush {
    /// The repository.
    pub repository: String,
    /// The branch.
    pub branch: String,
    /// The pushed commit.
    pub commit: String,
    /// The commit before the push.
    #[serde(default)]
    pub base: Option<String>,
    /// When the push happened, in seconds since the Unix epoch.
    #[serde(default)]
    pub pushed_at: Option<i64>,
    /// Who started the execution.
    #[serde(default)]
    pub origin: Option<Origin>,
}

impl RecordedPush {
    /// The push recorded in an execution's input, if the input is a deltaship pipeline input.
    pub fn from_input(input: &str) -> Option<Self> {
        serde_json::from_str(input).ok()
    }
}

/// How a push reached detect-changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// An EventBridge event, sent at `pushed_at` (the same in every delivery of the event).
    Event,
    /// The reconciler, which found the branch's head ahead of the branch's latest recorded push.
    /// `since_ms` is when that push was recorded, in milliseconds since the Unix epoch.
    Reconciler {
        /// When the branch's latest push was recorded, when the reconciler looked.
        since_ms: i64,
    },
}

/// Whether the existing execution `existing` (started at `existing_started_ms`, milliseconds
/// since the Unix epoch) already deploys `push`, which arrived as `arrival`. If it does, starting
/// another one would deploy the push twice; if not, the push is a new push of the same commit.
///
/// | arrival | existing | covers when |
/// |---------|----------|-------------|
/// | event | any | it records the same push time (a duplicate delivery) |
/// | event | started by the reconciler | the reconciler saw the branch at this commit after the push (a late event) |
/// | reconciler | any | it started after the latest push the reconciler saw was recorded (the event, or another reconciler run, beat it) |
pub fn covers(existing: &RecordedPush, existing_started_ms: Option<i64>, push: &Push, arrival: Arrival) -> bool {
    let same_commit = existing.repository == push.repository
        && existing.branch == push.branch
        && CommitId::parse(&existing.commit).is_ok_and(|commit| commit == push.head);
    if !same_commit {
        return false;
    }
    match arrival {
        Arrival::Event => match (existing.pushed_at, existing.origin) {
            (Some(at), _) if at == push.pushed_at => true,
            (Some(at), Some(Origin::Reconciler)) => push.pushed_at <= at,
            _ => false,
        },
        Arrival::Reconciler { since_ms } => existing_started_ms.is_some_and(|started| started >= since_ms),
    }
}

/// What the reconciler found on one branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconcileDecision {
    /// The branch's head is its latest recorded push's commit, whatever became of that push.
    UpToDate(PushStatus),
    /// No push of the branch is recorded (within the ledger's [`crate::ledger::RETENTION_DAYS`]):
    /// nothing to compare with. The reconciler does not deploy it (a first deployment of every
    /// service is not a repair).
    NoRecord,
    /// The head is not the latest recorded push: plan `base..head`, `base` being that push's
    /// commit.
    Missed {
        /// The commit of the branch's latest recorded push.
        base: CommitId,
    },
}

/// Compares a branch's `head` with its latest recorded push (`latest`, `None` if none is).
pub fn reconcile(head: &CommitId, latest: Option<&PushRecord>) -> ReconcileDecision {
    match latest {
        None => ReconcileDecision::NoRecord,
        Some(latest) if latest.commit == *head => ReconcileDecision::UpToDate(latest.status),
        Some(latest) => ReconcileDecision::Missed { base: latest.commit.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn skip_deploy_is_found_in_any_case_anywhere() {
        for message in ["docs [skip deploy]", "[SKIP DEPLOY] bump", "fix\n\nBody [Skip Deploy]\n"] {
            assert!(skips_deploy(message), "{message:?}");
        }
        for message in ["skip deploy", "[skip-deploy]", "[skip ci]", "", "[skip  deploy]"] {
            assert!(!skips_deploy(message), "{message:?}");
        }
    }

    fn push(commit: &str, pushed_at: i64) -> Push {
        Push {
            repository: "shop".into(),
            branch: "main".into(),
            head: CommitId::parse(commit).unwrap(),
            base: None,
            pushed_by: None,
            pushed_at,
        }
    }

    fn recorded(commit: &str, pushed_at: Option<i64>, origin: Option<Origin>) -> RecordedPush {
        RecordedPush {
            repository: "shop".into(),
            branch: "main".into(),
            commit: commit.into(),
            base: None,
            pushed_at,
            origin,
        }
    }

    #[test]
    fn what_an_existing_execution_covers() {
        let event = Arrival::Event;
        let reconciler = Arrival::Reconciler { since_ms: 5_000 };
        let (by_push, by_reconciler) = (Some(Origin::Push), Some(Origin::Reconciler));
        type Case = (RecordedPush, Option<i64>, Push, Arrival, bool, &'static str);
        let cases: Vec<Case> = vec![
            (recorded(A, Some(100), by_push), Some(1), push(A, 100), event, true, "a duplicate delivery"),
            (recorded(A, Some(100), by_push), Some(1), push(A, 900), event, false, "a second push of the commit"),
            (recorded(A, None, None), Some(1), push(A, 100), event, false, "an execution of an older deltaship"),
            (recorded(B, Some(100), by_push), Some(1), push(A, 100), event, false, "another commit"),
            (recorded(A, Some(200), by_reconciler), Some(1), push(A, 150), event, true, "a late event"),
            (recorded(A, Some(200), by_reconciler), Some(1), push(A, 250), event, false, "a push after reconciling"),
            (recorded(A, Some(100), by_push), Some(6_000), push(A, 300), reconciler, true, "the event beat it"),
            (recorded(A, Some(300), by_reconciler), Some(5_000), push(A, 301), reconciler, true, "a twin run"),
            (recorded(A, Some(100), by_push), Some(4_000), push(A, 300), reconciler, false, "an older push"),
            (recorded(A, Some(100), by_push), None, push(A, 300), reconciler, false, "no start time"),
            (recorded("not a commit", Some(100), by_push), Some(1), push(A, 100), event, false, "garbage"),
        ];
        for (existing, started, push, arrival, expected, what) in cases {
            assert_eq!(covers(&existing, started, &push, arrival), expected, "{what}");
        }
        let mut other_branch = recorded(A, Some(100), by_push);
        other_branch.branch = "release".into();
        assert!(!covers(&other_branch, Some(1), &push(A, 100), event));
    }

    #[test]
    fn recorded_pushes_are_read_from_inputs() {
        let input = r#"{"repository":"shop","branch":"main","commit":"x","base":null,"pushed_at":7,"origin":"reconciler","services":[]}"#;
        let push = RecordedPush::from_input(input).unwrap();
        assert_eq!((push.pushed_at, push.origin), (Some(7), Some(Origin::Reconciler)));
        let old = RecordedPush::from_input(r#"{"repository":"shop","branch":"main","commit":"x"}"#).unwrap();
        assert_eq!((old.pushed_at, old.origin), (None, None));
        assert_eq!(RecordedPush::from_input("{}"), None);
        assert_eq!(RecordedPush::from_input("not json"), None);
    }

    #[test]
    fn reconcile_compares_the_head_with_the_latest_recorded_push() {
        let (head, other) = (CommitId::parse(A).unwrap(), CommitId::parse(B).unwrap());
        let latest = |commit: &CommitId, status| PushRecord {
            repository: "shop".into(),
            branch: "main".into(),
            commit: commit.clone(),
            base: None,
            pushed_at: 1,
            origin: Origin::Push,
            status,
            execution: None,
            message: String::new(),
            recorded_at_ms: 1_000,
        };
        assert_eq!(reconcile(&head, None), ReconcileDecision::NoRecord);
        // Whatever became of the push of the head, it was seen: nothing was missed.
        for status in [PushStatus::Started, PushStatus::NothingToDeploy, PushStatus::Skipped, PushStatus::Ignored] {
            assert_eq!(reconcile(&head, Some(&latest(&head, status))), ReconcileDecision::UpToDate(status));
        }
        // A skipped push, then a push whose event was lost: only what came after the skipped one.
        assert_eq!(
            reconcile(&head, Some(&latest(&other, PushStatus::Skipped))),
            ReconcileDecision::Missed { base: other.clone() }
        );
    }
}
