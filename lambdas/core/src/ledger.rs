//! The push ledger: every push deltaship sees, what became of it, and which push is each branch's
//! latest. detect-changes records each push it decides on; the reconciler compares a branch's head
//! with the branch's latest recorded push ([`crate::deliveries::reconcile`]); deploy-service
//! orders two pushes of one second by it ([`order_in_second`]).
//!
//! The ledger lives in the waits table (DynamoDB, on demand, TTL), beside the waits, under keys
//! of its own:
//!
//! | item | `resource` (partition key) | `waiter` (sort key) |
//! |------|----------------------------|---------------------|
//! | one push | `push#<repository>#<branch>` ([`resource`]) | `push#<pushed_at, 12 digits>#<commit>` ([`waiter`]): a duplicate delivery of an event is the same item |
//! | the branch's latest push | the same | `latest` ([`LATEST`]) |
//!
//! Both carry the push (`commit`, `base`, `pushed_at`, `origin`), what became of it (`status`,
//! `execution`, `message`), `recorded_at` (milliseconds) and `expires_at`, the TTL:
//! [`RETENTION_DAYS`] after the record, as long as Step Functions keeps an execution.
//!
//! | status ([`PushStatus`]) | the push |
//! |-------------------------|----------|
//! | `STARTED` | started its execution (`execution`: its first part's name) |
//! | `NOTHING_TO_DEPLOY` | changed no service |
//! | `SKIPPED` | its commit says `[skip deploy]` |
//! | `IGNORED` | is of a branch `deltaship.toml` does not deploy |
//! | `OUT_OF_SCOPE` | names what this deltaship may not touch |
//!
//! **Which push is the latest** ([`becomes_latest`]): the one pushed last. Event times have
//! one-second resolution, so two pushes of one branch can share a second; the branch then moved
//! from the first push's commit to the second's, so the second push's `base` (the event's
//! `oldCommitId`) is the first's commit, and following `base` links among the pushes of that
//! second orders them ([`order_in_second`]) whatever order their events arrive in.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::pipeline::Origin;
use crate::{CommitId, Push};

/// How long a record is kept: as long as Step Functions keeps a closed execution.
pub const RETENTION_DAYS: i64 = 90;

/// The sort key of a branch's latest push.
pub const LATEST: &str = "latest";

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PushStatus {
    /// Its execution was started.
    Started,
    /// It changed no service.
    NothingToDeploy,
    /// Its commit says `[skip deploy]`.
    Skipped,
    /// `deltaship.toml` does not deploy its branch.
    Ignored,
    /// Its repository or its manifests name what this deltaship may not touch.
    OutOfScope,
}

impl PushStatus {
    const ALL: [Self; 5] = [Self::Started, Self::NothingToDeploy, Self::Skipped, Self::Ignored, Self::OutOfScope];

    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Self::Started => "STARTED",
            Self::NothingToDeploy => "NOTHING_TO_DEPLOY",
            Self::Skipped => "SKIPPED",
            Self::Ignored => "IGNORED",
            Self::OutOfScope => "OUT_OF_SCOPE",
        }
    }

    /// The status of a stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.name() == name)
    }
}

/// One push, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRecord {
    /// The repository.
    pub repository: String,
    /// The branch.
    pub branch: String,
    /// The pushed commit.
    pub commit: CommitId,
    /// The commit the branch was at before; `None` for a branch's first push.
    pub base: Option<CommitId>,
    /// When the push happened (the event's `time`; for the reconciler, when it saw the head), in
    /// seconds since the Unix epoch.
    pub pushed_at: i64,
    /// Who saw it: detect-changes for an event, or the reconciler.
    pub origin: Origin,
    /// What became of it.
    pub status: PushStatus,
    /// The execution it started (its first part's name), if it started one.
    pub execution: Option<String>,
    /// What became of it, in a sentence (detect-changes' message).
    pub message: String,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub recorded_at_ms: i64,
}

impl PushRecord {
    /// The record of `push`.
    pub fn of(
        push: &Push,
        origin: Origin,
        status: PushStatus,
        execution: Option<String>,
        message: String,
        recorded_at_ms: i64,
    ) -> Self {
        Self {
            repository: push.repository.clone(),
            branch: push.branch.clone(),
            commit: push.head.clone(),
            base: push.base.clone(),
            pushed_at: push.pushed_at,
            origin,
            status,
            execution,
            message,
            recorded_at_ms,
        }
    }

    /// Its partition key: the branch's ([`resource`]).
    pub fn resource(&self) -> String {
        resource(&self.repository, &self.branch)
    }

    /// Its sort key as one push ([`waiter`]).
    pub fn waiter(&self) -> String {
        waiter(self.pushed_at, &self.commit)
    }

    /// Its TTL, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.recorded_at_ms.div_euclid(1000) + RETENTION_DAYS * 86_400
    }

    /// Whether `self`, found under the same key as `ours`, means `ours` is a duplicate delivery
    /// of a push that was started already: it then answers `ALREADY_STARTED`, not `STARTED`.
    pub fn started_already(&self, ours: &Self) -> bool {
        self.status == PushStatus::Started && ours.status == PushStatus::Started && self.execution == ours.execution
    }
}

/// The partition key of a branch's pushes.
pub fn resource(repository: &str, branch: &str) -> String {
    format!("push#{repository}#{branch}")
}

/// The sort key of one push: the second it was pushed in ([`second_prefix`]), then its commit.
/// Keys sort by push time.
pub fn waiter(pushed_at: i64, commit: &CommitId) -> String {
    format!("{}{}", second_prefix(pushed_at), commit.as_str())
}

/// The start of every push's sort key (the branch's `latest` item is not one).
pub const PUSH_PREFIX: &str = "push#";

/// The start of the sort keys of every push of one second (a `begins_with` query).
pub fn second_prefix(pushed_at: i64) -> String {
    format!("{PUSH_PREFIX}{:012}#", pushed_at.max(0))
}

/// Whether `new` (just recorded) becomes its branch's latest push in place of `latest`, given the
/// branch's pushes recorded in `new`'s second (`same_second`; read only when the two share it).
///
/// | `latest` | `new` becomes the latest when |
/// |----------|-------------------------------|
/// | none | always |
/// | pushed in another second | it was pushed later |
/// | the same commit, the same second | never (a duplicate) |
/// | another commit, the same second | its `base` links lead to `latest`'s commit; if neither leads to the other (a push between them not recorded yet), the one recorded last |
pub fn becomes_latest(new: &PushRecord, latest: Option<&PushRecord>, same_second: &[PushRecord]) -> bool {
    let Some(latest) = latest else { return true };
    if new.pushed_at != latest.pushed_at {
        return new.pushed_at > latest.pushed_at;
    }
    if new.commit == latest.commit {
        return false;
    }
    let mut known: Vec<PushRecord> = same_second.to_vec();
    known.extend([new.clone(), latest.clone()]);
    order_in_second(&known, &new.commit, &latest.commit) != Some(Ordering::Less)
}

/// How the push of commit `a` compares with the push of commit `b`, both pushed in the same
/// second on one branch, by the `base` links of `records` (that second's pushes of the branch):
/// `Greater` when `a` was pushed after `b` (its links lead to `b`), `Less` when before, `Equal`
/// for the same commit, `None` when the records cannot tell (a push between them, or one of
/// them, is not recorded).
pub fn order_in_second(records: &[PushRecord], a: &CommitId, b: &CommitId) -> Option<Ordering> {
    if a == b {
        return Some(Ordering::Equal);
    }
    let base_of: HashMap<&CommitId, &CommitId> =
        records.iter().filter_map(|record| Some((&record.commit, record.base.as_ref()?))).collect();
    // Each step follows one link; more steps than links would be a loop (a branch reset back
    // and forth within the second), which orders nothing.
    let reaches = |from: &CommitId, to: &CommitId| {
        let mut at = from;
        for _ in 0..base_of.len() {
            match base_of.get(at) {
                Some(base) if *base == to => return true,
                Some(base) => at = base,
                None => return false,
            }
        }
        false
    };
    match (reaches(a, b), reaches(b, a)) {
        (true, false) => Some(Ordering::Greater),
        (false, true) => Some(Ordering::Less),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(c: char) -> CommitId {
        CommitId::parse(&c.to_string().repeat(40)).unwrap()
    }

    /// The push `base` -> `head` at second `at`, recorded at `recorded` ms.
    fn record(base: Option<char>, head: char, at: i64) -> PushRecord {
        PushRecord {
            repository: "shop".into(),
            branch: "main".into(),
            commit: commit(head),
            base: base.map(commit),
            pushed_at: at,
            origin: Origin::Push,
            status: PushStatus::Started,
            execution: Some(format!("shop-main-{head}")),
            message: String::new(),
            recorded_at_ms: at * 1000,
        }
    }

    #[test]
    fn keys_sort_by_push_time_and_group_a_second() {
        let early = record(None, 'a', 999);
        let late = record(None, 'b', 1_700_000_000);
        assert_eq!(early.resource(), "push#shop#main");
        assert_eq!(early.waiter(), format!("push#000000000999#{}", "a".repeat(40)));
        assert!(early.waiter() < late.waiter());
        assert!(late.waiter().starts_with(&second_prefix(1_700_000_000)));
        assert!(!late.waiter().starts_with(&second_prefix(1_700_000_001)));
        assert_eq!(second_prefix(-5), "push#000000000000#");
        assert_eq!(late.expires_at(), 1_700_000_000 + 90 * 86_400);
    }

    #[test]
    fn statuses_round_trip_by_name() {
        for status in PushStatus::ALL {
            assert_eq!(PushStatus::from_name(status.name()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.name());
        }
        assert_eq!(PushStatus::from_name("started"), None);
    }

    #[test]
    fn pushes_of_one_second_are_ordered_by_their_base_links() {
        // a -> b -> c -> d, all in one second.
        let chain = [record(Some('a'), 'b', 7), record(Some('b'), 'c', 7), record(Some('c'), 'd', 7)];
        let table = [
            ('c', 'b', Some(Ordering::Greater)),
            ('b', 'c', Some(Ordering::Less)),
            ('d', 'b', Some(Ordering::Greater)),
            ('b', 'd', Some(Ordering::Less)),
            ('c', 'c', Some(Ordering::Equal)),
            ('b', 'e', None),
        ];
        for (a, b, expected) in table {
            assert_eq!(order_in_second(&chain, &commit(a), &commit(b)), expected, "{a} vs {b}");
        }
        // The middle push not recorded (yet): the ends cannot be ordered.
        let gap = [record(Some('a'), 'b', 7), record(Some('c'), 'd', 7)];
        assert_eq!(order_in_second(&gap, &commit('d'), &commit('b')), None);
        // Reset back and forth within the second: a loop orders nothing, and ends.
        let this_way = [record(Some('a'), 'b', 7), record(Some('b'), 'a', 7)];
        assert_eq!(order_in_second(&this_way, &commit('a'), &commit('b')), None);
    }

    #[test]
    fn the_latest_push_is_the_last_pushed_whatever_the_arrival_order() {
        let (b, c, d) = (record(Some('a'), 'b', 7), record(Some('b'), 'c', 7), record(Some('c'), 'd', 7));
        type Case<'a> = (&'a str, &'a PushRecord, Option<&'a PushRecord>, &'a [PushRecord], bool);
        let cases: [Case<'_>; 8] = [
            ("first record of the branch", &b, None, &[], true),
            ("a later second", &record(Some('e'), 'f', 8), Some(&d), &[], true),
            ("an earlier second, arriving late", &record(Some('e'), 'f', 6), Some(&b), &[], false),
            ("a duplicate", &b, Some(&b), &[], false),
            ("the next push of the second", &c, Some(&b), &[], true),
            ("the previous push of the second, arriving late", &b, Some(&c), &[], false),
            ("two steps behind, the middle one recorded", &b, Some(&d), std::slice::from_ref(&c), false),
            ("two steps ahead, the middle one not recorded yet: the last recorded", &d, Some(&b), &[], true),
        ];
        for (name, new, latest, same_second, expected) in cases {
            assert_eq!(becomes_latest(new, latest, same_second), expected, "{name}");
        }
    }

    #[test]
    fn a_duplicate_of_a_started_push_is_started_already() {
        let ours = record(Some('a'), 'b', 7);
        assert!(ours.started_already(&ours.clone()));
        let other_execution = PushRecord { execution: Some("shop-main-b-r2".into()), ..ours.clone() };
        assert!(!other_execution.started_already(&ours));
        let nothing = PushRecord { status: PushStatus::NothingToDeploy, execution: None, ..ours };
        assert!(!nothing.started_already(&PushRecord { execution: None, ..nothing.clone() }));
    }
}
