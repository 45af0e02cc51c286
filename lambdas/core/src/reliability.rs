//! What deltaship does when AWS delivers an event twice, loses one, or two pushes race: the pure
//! decisions behind detect-changes, the reconciler and deploy-service (`docs/RELIABILITY.md` tells
//! the whole story).
//!
//! - **Skipped commits** ([`skips_deploy`]): a pushed commit whose message contains
//!   `[skip deploy]` (any case) deploys nothing; detect-changes logs why.
//! - **Duplicates** ([`covers`]): the execution name depends only on the repository, the branch
//!   and the commit, so a second delivery of an event finds the execution of the first. It is the
//!   same push when the recorded push time (the event's `time`) is the same; a later push of the
//!   same commit (the branch was reset back to it) is a new attempt with its own name.
//! - **Lost events** ([`reconcile`]): the reconciler compares a branch's head with the commit of
//!   the branch's latest execution, and plans the difference when they differ.
//! - **Races** ([`decide_deploy`]): each revision deploy-service registers carries tags naming
//!   the commit, the push time and the execution. An older push never deploys over a revision a
//!   newer push deployed: it ends that service as superseded. A service that already runs the
//!   image is not deployed twice (a retried call watches the deployment it made).

use serde::Deserialize;

use crate::failure::{ErrorKind, Failure};
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
    /// The reconciler, which found the branch's head without an execution. `since` is when the
    /// latest execution it saw on the branch started, in milliseconds since the Unix epoch.
    Reconciler {
        /// The start of the latest execution of the branch, when the reconciler looked.
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
/// | reconciler | any | it started after the latest execution the reconciler saw (the event, or another reconciler run, beat it) |
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
    /// The branch's head is the commit of its latest execution.
    UpToDate,
    /// No execution of the branch within Step Functions' 90 days: nothing to compare with. The
    /// reconciler does not deploy it (a first deployment of every service is not a repair).
    NoExecution,
    /// The latest execution's input is not a deltaship input (started by hand?): the reason.
    Unreadable(String),
    /// The head has no execution: plan `base..head`, `base` being the latest execution's commit.
    Missed {
        /// The commit of the branch's latest execution.
        base: CommitId,
    },
}

/// Compares a branch's `head` with its latest execution (`latest`, `None` if it has none).
pub fn reconcile(head: &CommitId, latest: Option<&RecordedPush>) -> ReconcileDecision {
    let Some(latest) = latest else {
        return ReconcileDecision::NoExecution;
    };
    match CommitId::parse(&latest.commit) {
        Ok(commit) if commit == *head => ReconcileDecision::UpToDate,
        Ok(base) => ReconcileDecision::Missed { base },
        Err(error) => ReconcileDecision::Unreadable(format!("the latest execution's commit: {error}")),
    }
}

/// The tag naming the commit a revision was registered for.
pub const TAG_COMMIT: &str = "deltaship:commit";
/// The tag holding the push time (seconds since the Unix epoch) of that commit.
pub const TAG_PUSHED_AT: &str = "deltaship:pushed-at";
/// The tag naming the execution that registered the revision.
pub const TAG_EXECUTION: &str = "deltaship:execution";
/// The tag naming the revision the service ran before (what a rollback returns to).
pub const TAG_PREVIOUS: &str = "deltaship:previous";

/// Whether a tag key is one deltaship writes (and so is not copied from one revision to the next).
pub fn is_deltaship_tag(key: &str) -> bool {
    key.starts_with("deltaship:")
}

/// Which push a task definition revision was registered for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployStamp {
    /// The commit.
    pub commit: String,
    /// When it was pushed, in seconds since the Unix epoch.
    pub pushed_at: i64,
    /// The execution that registered the revision.
    pub execution: String,
}

impl DeployStamp {
    /// The tags that record this stamp, and `previous`, on a new revision.
    pub fn tags(&self, previous: &str) -> Vec<(String, String)> {
        [
            (TAG_COMMIT, self.commit.clone()),
            (TAG_PUSHED_AT, self.pushed_at.to_string()),
            (TAG_EXECUTION, self.execution.clone()),
            (TAG_PREVIOUS, previous.to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// The stamp in a revision's tags, if it has a complete one.
    pub fn from_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let (mut commit, mut pushed_at, mut execution) = (None, None, None);
        for (key, value) in tags {
            match key {
                TAG_COMMIT => commit = Some(value.to_owned()),
                TAG_PUSHED_AT => pushed_at = value.parse::<i64>().ok(),
                TAG_EXECUTION => execution = Some(value.to_owned()),
                _ => {}
            }
        }
        Some(Self { commit: commit?, pushed_at: pushed_at?, execution: execution? })
    }
}

/// The revision a service runs when deploy-service looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRevision {
    /// Its ARN.
    pub arn: String,
    /// The image of the container deltaship deploys, if the revision has that container.
    pub image: Option<String>,
    /// Its stamp, if deltaship registered it.
    pub stamp: Option<DeployStamp>,
    /// Its `deltaship:previous` tag, if deltaship registered it.
    pub previous: Option<String>,
}

/// What deploy-service does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployDecision {
    /// Register a revision with the new image and update the service.
    Deploy,
    /// The service already runs a revision with this image (a retried call, or the same commit
    /// deployed by another execution): watch that deployment, register nothing.
    Reuse {
        /// What a rollback would return to.
        previous: String,
    },
    /// A newer push deployed the service: step aside ([`ErrorKind::Superseded`]).
    Superseded(Failure),
}

/// Decides a deployment of `image` for the push `ours`, on a service running `current`.
///
/// The order of two pushes is their push time; at equal times (the same second) the later
/// deployment wins, as without deltaship.
pub fn decide_deploy(ours: &DeployStamp, image: &str, current: &CurrentRevision, target: &str) -> DeployDecision {
    if current.image.as_deref() == Some(image) {
        return DeployDecision::Reuse { previous: current.previous.clone().unwrap_or_else(|| current.arn.clone()) };
    }
    match &current.stamp {
        Some(theirs) if theirs.pushed_at > ours.pushed_at => DeployDecision::Superseded(Failure::new(
            ErrorKind::Superseded,
            format!(
                "{target} runs {} of commit {}, pushed at {} by execution {}, newer than this push of {} (pushed at \
                 {}): not deployed over it",
                current.arn,
                short(&theirs.commit),
                theirs.pushed_at,
                theirs.execution,
                short(&ours.commit),
                ours.pushed_at
            ),
        )),
        _ => DeployDecision::Deploy,
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Checks that `image` (what the build exported) is tagged with `commit`: deploy-service deploys
/// only the image built for the push, and compares images to recognise its own revisions.
pub fn check_image(image: &str, commit: &str) -> Result<(), Failure> {
    let tag_ok = image
        .rsplit_once(':')
        .is_some_and(|(repository, tag)| tag == commit && !repository.is_empty() && !repository.ends_with('/'));
    if tag_ok && !image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Ok(())
    } else {
        Err(Failure::invalid_input(format!(
            "image {image:?} is not tagged with the pushed commit {commit} (the buildspec must export \
             IMAGE_URI=<repository>:<commit>)"
        )))
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
    fn reconcile_compares_the_head_with_the_latest_execution() {
        let head = CommitId::parse(A).unwrap();
        assert_eq!(reconcile(&head, None), ReconcileDecision::NoExecution);
        assert_eq!(reconcile(&head, Some(&recorded(A, Some(1), None))), ReconcileDecision::UpToDate);
        assert_eq!(
            reconcile(&head, Some(&recorded(B, Some(1), None))),
            ReconcileDecision::Missed { base: CommitId::parse(B).unwrap() }
        );
        assert!(matches!(reconcile(&head, Some(&recorded("x", None, None))), ReconcileDecision::Unreadable(_)));
    }

    fn stamp(commit: &str, pushed_at: i64) -> DeployStamp {
        DeployStamp { commit: commit.into(), pushed_at, execution: format!("shop-main-{}", &commit[..12]) }
    }

    #[test]
    fn stamps_round_trip_through_tags() {
        let ours = stamp(A, 42);
        let tags = ours.tags("arn:prev");
        assert!(tags.iter().all(|(key, _)| is_deltaship_tag(key)));
        assert!(tags.contains(&(TAG_PREVIOUS.to_owned(), "arn:prev".to_owned())));
        let read = DeployStamp::from_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(read, Some(ours));
        assert_eq!(DeployStamp::from_tags([(TAG_COMMIT, A), (TAG_EXECUTION, "x")]), None, "no push time");
        assert_eq!(DeployStamp::from_tags([(TAG_COMMIT, A), (TAG_PUSHED_AT, "soon"), (TAG_EXECUTION, "x")]), None);
        assert!(!is_deltaship_tag("team"));
    }

    #[test]
    fn deploy_decisions() {
        let image = |commit: &str| format!("123.dkr.ecr.eu-west-1.amazonaws.com/shop/users:{commit}");
        let revision = |image: Option<String>, stamp: Option<DeployStamp>| CurrentRevision {
            arn: "arn:td/users:7".into(),
            image,
            stamp,
            previous: Some("arn:td/users:6".into()),
        };
        let ours = stamp(B, 200);
        let cases: Vec<(CurrentRevision, &str)> = vec![
            (revision(Some(image(A)), None), "deploy"),
            (revision(Some(image(A)), Some(stamp(A, 100))), "deploy"),
            (revision(Some(image(A)), Some(stamp(A, 200))), "deploy"),
            (revision(Some(image(A)), Some(stamp(A, 300))), "superseded"),
            (revision(None, Some(stamp(A, 300))), "superseded"),
            (revision(Some(image(B)), Some(stamp(B, 200))), "reuse"),
            (revision(Some(image(B)), Some(stamp(B, 900))), "reuse"),
        ];
        for (current, expected) in cases {
            let decision = decide_deploy(&ours, &image(B), &current, "shop/users");
            let got = match &decision {
                DeployDecision::Deploy => "deploy",
                DeployDecision::Reuse { previous } => {
                    assert_eq!(previous, "arn:td/users:6");
                    "reuse"
                }
                DeployDecision::Superseded(failure) => {
                    assert_eq!(failure.kind, ErrorKind::Superseded);
                    assert!(failure.message.contains("newer than this push"), "{failure}");
                    "superseded"
                }
            };
            assert_eq!(got, expected, "{current:?}");
        }
        let mut untagged = revision(Some(image(B)), None);
        untagged.previous = None;
        assert_eq!(
            decide_deploy(&ours, &image(B), &untagged, "shop/users"),
            DeployDecision::Reuse { previous: "arn:td/users:7".into() }
        );
    }

    #[test]
    fn images_must_carry_the_commit_tag() {
        assert!(check_image(&format!("123.dkr.ecr.eu-west-1.amazonaws.com/shop/users:{A}"), A).is_ok());
        assert!(check_image(&format!("localhost:5000/users:{A}"), A).is_ok());
        for bad in [
            format!("shop/users:{B}"),
            "shop/users:latest".to_owned(),
            "shop/users".to_owned(),
            format!(":{A}"),
            format!("shop/ users:{A}"),
            format!("shop/:{A}"),
        ] {
            let failure = check_image(&bad, A).unwrap_err();
            assert_eq!(failure.kind, ErrorKind::InvalidInput, "{bad}");
        }
    }
}
