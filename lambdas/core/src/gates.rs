//! Approval gates: where a service's promotion into an environment that needs an approval
//! waits, per service and environment, and what ends each wait.
//!
//! A push that reaches a gate records itself there (its task token, commit, image, who pushed)
//! under `gate#<repository>#<service>#<environment>`, sorted by push time, in the waits table.
//! The CLI finds the waiting record to approve or reject ([`choose`]); only that service's
//! promotion waits, the other services of the push go on.
//!
//! Newer push wins, as everywhere in deltaship ([`crate::races`]): when a push of the same
//! service reaches the gate, every older one still waiting there ends `superseded` and never
//! deploys ([`superseded_by`]); a push that arrives after a newer one reached the gate is
//! superseded at once ([`arrives_superseded`]). An approval not given within the environment's
//! `approval_timeout_hours` ends `not_promoted`.

use serde::{Deserialize, Serialize};

/// One push waiting (or that waited) at a gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRecord {
    /// The repository.
    pub repository: String,
    /// The service.
    pub service: String,
    /// The environment the promotion is into.
    pub environment: String,
    /// The pushed commit.
    pub commit: String,
    /// The push's execution.
    pub execution: String,
    /// When the push happened, seconds since the Unix epoch.
    pub pushed_at: i64,
    /// Who pushed (the event's `callerUserArn`).
    pub pushed_by: String,
    /// The image the push's build produced, by digest: what the promotion deploys.
    pub image: String,
    /// The task token the execution waits on.
    pub token: String,
    /// When the wait started, seconds since the Unix epoch.
    pub requested_at: i64,
    /// When the wait times out (`not_promoted`), seconds since the Unix epoch.
    pub expires_at: i64,
}

/// How long a record stays in the waits table after its wait expired, before DynamoDB's TTL
/// deletes it: long enough for an older push that arrives late to find the newer one (and be
/// superseded, [`arrives_superseded`]), and for `deltaship status` to show a recent timeout.
pub const KEPT_AFTER_EXPIRY_SECONDS: i64 = 7 * 24 * 3600;

impl GateRecord {
    /// Its TTL in the waits table (`expires_at`, seconds since the Unix epoch): a week after its
    /// wait expires ([`KEPT_AFTER_EXPIRY_SECONDS`]).
    pub fn ttl(&self) -> i64 {
        self.expires_at.saturating_add(KEPT_AFTER_EXPIRY_SECONDS)
    }

    /// The partition key of its gate.
    pub fn resource(&self) -> String {
        resource(&self.repository, &self.service, &self.environment)
    }

    /// Its sort key: the push time (zero-padded, so that keys sort as times do), then the commit.
    pub fn waiter(&self) -> String {
        format!("{:012}#{}", self.pushed_at.max(0), self.commit)
    }

    /// Whether this push is newer than `other` at the same gate: a later push time, or in the same
    /// second the later commit in key order (stable, so two deliveries decide alike).
    fn newer_than(&self, other: &Self) -> bool {
        (self.pushed_at, self.commit.as_str()) > (other.pushed_at, other.commit.as_str())
    }
}

/// The partition key of the gate of `service` into `environment`.
pub fn resource(repository: &str, service: &str, environment: &str) -> String {
    format!("gate#{repository}#{service}#{environment}")
}

/// The records still waiting at a gate, at `now`: not expired, oldest first.
pub fn waiting(records: &[GateRecord], now: i64) -> Vec<&GateRecord> {
    let mut waiting: Vec<&GateRecord> = records.iter().filter(|record| record.expires_at > now).collect();
    waiting.sort_by(|a, b| (a.pushed_at, &a.commit).cmp(&(b.pushed_at, &b.commit)));
    waiting
}

/// The records at a gate that `arriving` supersedes: the older pushes still waiting there.
pub fn superseded_by<'a>(records: &'a [GateRecord], arriving: &GateRecord, now: i64) -> Vec<&'a GateRecord> {
    waiting(records, now)
        .into_iter()
        .filter(|record| record.execution != arriving.execution && arriving.newer_than(record))
        .collect()
}

/// Whether `arriving` is superseded as it reaches the gate: a newer push of the service has
/// reached it already (waiting or past it).
pub fn arrives_superseded(records: &[GateRecord], arriving: &GateRecord) -> bool {
    records.iter().any(|record| record.execution != arriving.execution && record.newer_than(arriving))
}

/// Why an approval or a rejection found no wait to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// Nothing waits at the gate.
    #[error("no push of {service} waits for an approval into {environment}")]
    NoneWaiting {
        /// The service.
        service: String,
        /// The environment.
        environment: String,
    },
    /// The named execution does not wait there.
    #[error(
        "execution {execution} does not wait for an approval of {service} into {environment}; waiting: {waiting:?}"
    )]
    NotWaiting {
        /// The execution asked for.
        execution: String,
        /// The service.
        service: String,
        /// The environment.
        environment: String,
        /// The executions that do.
        waiting: Vec<String>,
    },
}

/// The wait an approval or a rejection of `service` into `environment` answers: the one of
/// `execution` when given, else the newest waiting (older ones are about to be superseded by it
/// anyway, and approving an older commit over a newer one is what gates per service prevent).
pub fn choose<'a>(
    records: &'a [GateRecord],
    service: &str,
    environment: &str,
    execution: Option<&str>,
    now: i64,
) -> Result<&'a GateRecord, GateError> {
    let waiting = waiting(records, now);
    match execution {
        Some(execution) => {
            waiting.iter().copied().find(|record| record.execution == execution).ok_or_else(|| GateError::NotWaiting {
                execution: execution.to_owned(),
                service: service.to_owned(),
                environment: environment.to_owned(),
                waiting: waiting.iter().map(|record| record.execution.clone()).collect(),
            })
        }
        None => waiting
            .last()
            .copied()
            .ok_or_else(|| GateError::NoneWaiting { service: service.to_owned(), environment: environment.to_owned() }),
    }
}

/// An answer to a wait, as the task token's output or error carries it into the execution's
/// history (and the service's outcome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Answer {
    /// Promote: the execution deploys the image into the environment.
    Approved {
        /// Who approved (the caller's identity ARN).
        by: String,
        /// Why, if they said.
        comment: Option<String>,
    },
    /// Do not promote: the service's outcome is `rejected`.
    Rejected {
        /// Who rejected.
        by: String,
        /// Why, if they said.
        comment: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(execution: &str, pushed_at: i64, commit: &str, expires_at: i64) -> GateRecord {
        GateRecord {
            repository: "shop".into(),
            service: "users".into(),
            environment: "production".into(),
            commit: commit.into(),
            execution: execution.into(),
            pushed_at,
            pushed_by: "arn:aws:iam::123456789012:user/mary".into(),
            image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:ab".into(),
            token: format!("token-{execution}"),
            requested_at: pushed_at + 60,
            expires_at,
        }
    }

    #[test]
    fn keys_sort_by_push_time() {
        let early = record("e1", 1_700_000_000, "bbb", 1);
        let late = record("e2", 1_700_000_100, "aaa", 1);
        assert_eq!(early.resource(), "gate#shop#users#production");
        assert!(early.waiter() < late.waiter(), "{} {}", early.waiter(), late.waiter());
        assert_eq!(early.waiter(), "001700000000#bbb");
        assert_eq!(early.ttl(), 1 + 7 * 24 * 3600);
    }

    #[test]
    fn a_newer_push_supersedes_the_older_waiting_ones_and_never_the_reverse() {
        let now = 1_700_000_500;
        let records = vec![
            record("old", 1_700_000_000, "a1", now + 3600),
            record("expired", 1_699_000_000, "a0", now - 1),
            record("newest", 1_700_000_200, "a3", now + 3600),
        ];
        let arriving = record("middle", 1_700_000_100, "a2", now + 3600);
        let superseded: Vec<&str> =
            superseded_by(&records, &arriving, now).iter().map(|record| record.execution.as_str()).collect();
        assert_eq!(superseded, ["old"], "the expired one timed out already; the newest is newer");
        assert!(arrives_superseded(&records, &arriving), "a newer push reached the gate first");
        let latest = record("latest", 1_700_000_300, "a4", now + 3600);
        assert!(!arrives_superseded(&records, &latest));
        assert_eq!(superseded_by(&records, &latest, now).len(), 2);
        // The same second: the commit orders them, the same way every time.
        let twin = record("twin", 1_700_000_200, "a2", now + 3600);
        assert!(arrives_superseded(&records, &twin));
        // A duplicate of the push itself never supersedes it.
        assert!(!arrives_superseded(&records[..1], &records[0]));
    }

    #[test]
    fn approvals_answer_the_newest_wait_or_the_named_one() {
        let now = 1_700_000_500;
        let records = vec![record("old", 1_700_000_000, "a1", now + 60), record("new", 1_700_000_200, "a2", now + 60)];
        assert_eq!(choose(&records, "users", "production", None, now).unwrap().execution, "new");
        assert_eq!(choose(&records, "users", "production", Some("old"), now).unwrap().execution, "old");
        let error = choose(&records, "users", "production", Some("gone"), now).unwrap_err();
        assert!(error.to_string().contains("waiting: [\"old\", \"new\"]"), "{error}");
        let error = choose(&records, "users", "production", None, now + 61).unwrap_err();
        assert_eq!(error.to_string(), "no push of users waits for an approval into production");
    }

    #[test]
    fn answers_carry_who_and_why() {
        let approved = Answer::Approved { by: "arn:aws:iam::1:user/ops".into(), comment: Some("LGTM".into()) };
        let json = serde_json::to_value(&approved).unwrap();
        assert_eq!(json["decision"], "approved");
        assert_eq!(json["by"], "arn:aws:iam::1:user/ops");
        let back: Answer = serde_json::from_value(json).unwrap();
        assert_eq!(back, approved);
    }
}
