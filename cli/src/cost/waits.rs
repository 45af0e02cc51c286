//! The waits table (DynamoDB, on-demand) and the EventBridge events of the cost model: what a
//! registration, a wake-up and a completion read and write, in request units, and which events a
//! build and a service deployment send to wake-waits, at what time.
//!
//! Records are the real ones ([`deltaship_core::waits`]): the same keys, kind, look-mode input
//! (`watch`, the JSON check-build or check-rollout would store) and TTL, so their size, and what
//! DynamoDB bills for them, follows from the payload types. DynamoDB's rules
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html>):
//!
//! | request | request units |
//! |---------|---------------|
//! | `PutItem` (a wait registers, or registers again after a fallback timeout: same keys) | one write unit per KB (rounded up) of the larger of the stored and the new item |
//! | `DeleteItem` (a completed wait forgets its record, `if token = :token`) | one write unit per KB of the deleted item (a failed condition consumes them too) |
//! | `Query` (wake-waits, every record under the event's resource, expired ones included) | half a read unit (eventually consistent) per 4 KB of all the items read together, at least half a unit |
//!
//! An item's size is the sum of its attributes' names and values (a string in UTF-8 bytes, a
//! number one byte per two digits and one more); the task token is counted as [`TOKEN_BYTES`].
//! Expired records (TTL passed) are still read, and ignored, as wake-waits does; TTL deletions
//! are free.
//!
//! Events, when they flow ([`super::walk::Events::Flowing`]; none when they are lost): a build
//! sends one `CodeBuild Build State Change` that reaches wake-waits, when it ends (the rule passes
//! terminal statuses only); a service deployment sends `ECS Deployment State Change`
//! `SERVICE_DEPLOYMENT_IN_PROGRESS` when it starts and `SERVICE_DEPLOYMENT_COMPLETED` when it
//! reaches steady state, and so does the rollback deltaship asks for (ECS documents the
//! in-progress event "for initial and rollback deployments"). A rollout that deltaship rolls back
//! never completes, so its completion event is not sent. Each event arrives the moment the status
//! changes (no delivery latency) and is one wake-waits invocation.

use std::collections::BTreeMap;

use deltaship_core::RolloutWatch;
use deltaship_core::WaitPolicy;
use deltaship_core::payloads::{CheckBuildInput, CheckRolloutInput};
use deltaship_core::rollout::Expect;
use deltaship_core::waits::{WaitKind, build_resource, expires_at, service_resource, waiter};

use super::walk::AslError;

/// The size the model counts for a task token: 2 KB, the longest a token may be
/// (`SendTaskSuccess`'s `taskToken`, 1 to 2,048 characters), so the write units are an upper
/// bound.
pub(super) const TOKEN_BYTES: u64 = 2048;

/// What a stored wait looks at: check-build's or check-rollout's look-mode input.
#[derive(Debug, Clone)]
pub(super) enum Watch {
    /// A build.
    Build(CheckBuildInput),
    /// A service deployment (a rollout, or deltaship's rollback of one).
    Rollout(RolloutWatch),
}

/// One record of the waits table.
#[derive(Debug, Clone)]
pub(super) struct Record {
    resource: String,
    waiter: String,
    /// The task token it completes.
    pub(super) token: String,
    /// What to look at.
    pub(super) watch: Watch,
    expires_at: i64,
    bytes: u64,
}

impl Record {
    /// The record check-build stores in wait mode at `now` (seconds), as it stores it; an error if
    /// the input lacks what wait mode needs (check-build refuses it too).
    pub(super) fn build(input: &CheckBuildInput, token: &str, now: i64, policy: WaitPolicy) -> Result<Self, AslError> {
        required(
            "check-build",
            [("build_arn", &input.build_arn), ("execution", &input.execution), ("name", &input.name)],
        )?;
        let look = CheckBuildInput { task_token: None, ..input.clone() };
        Ok(Self::new(
            build_resource(&input.build_arn),
            waiter(&input.execution, &input.name, WaitKind::Build),
            WaitKind::Build,
            token,
            &json(&look)?,
            expires_at(input.deadline.unwrap_or(now).max(now), policy.max_seconds),
            Watch::Build(look),
        ))
    }

    /// The record check-rollout stores in wait mode at `now` (seconds), as it stores it; an error
    /// if the watch lacks what wait mode needs (check-rollout refuses it too).
    pub(super) fn rollout(watch: &RolloutWatch, token: &str, now: i64, policy: WaitPolicy) -> Result<Self, AslError> {
        let fields = [
            ("watch.service_arn", &watch.service_arn),
            ("watch.execution", &watch.execution),
            ("watch.name", &watch.name),
        ];
        required("check-rollout", fields)?;
        let kind = match watch.expect {
            Expect::Deployed => WaitKind::Rollout,
            Expect::RolledBack => WaitKind::Rollback,
        };
        let look = CheckRolloutInput { watch: watch.clone(), task_token: None };
        Ok(Self::new(
            service_resource(&watch.service_arn),
            waiter(&watch.execution, &watch.name, kind),
            kind,
            token,
            &json(&look)?,
            expires_at(watch.deadline.max(now), policy.max_seconds),
            Watch::Rollout(look.watch),
        ))
    }

    fn new(
        resource: String,
        waiter: String,
        kind: WaitKind,
        token: &str,
        stored_watch: &str,
        expires_at: i64,
        watch: Watch,
    ) -> Self {
        let string = |name: &str, value: &str| (name.len() + value.len()) as u64;
        let digits = expires_at.unsigned_abs().to_string().len() as u64;
        let bytes = string("resource", &resource)
            + string("waiter", &waiter)
            + "token".len() as u64
            + TOKEN_BYTES
            + string("kind", kind.name())
            + string("watch", stored_watch)
            + "expires_at".len() as u64
            + digits.div_ceil(2)
            + 1;
        Self { resource, waiter, token: token.to_owned(), watch, expires_at, bytes }
    }
}

/// An error naming the first of `fields` that is empty: wait mode needs them all.
fn required(function: &str, fields: [(&str, &String); 3]) -> Result<(), AslError> {
    match fields.iter().find(|(_, value)| value.is_empty()) {
        Some((name, _)) => Err(AslError(format!("{function} in wait mode needs {name}, and the state sends none"))),
        None => Ok(()),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, AslError> {
    serde_json::to_string(value).map_err(|error| AslError(format!("a waits record's watch: {error}")))
}

/// Request units of an item (or items) of `bytes`, billed per `unit` bytes (at least one).
fn units(bytes: u64, unit: u64) -> u64 {
    bytes.div_ceil(unit).max(1)
}

/// The waits table of one service's iteration, and what it was billed.
#[derive(Debug, Default)]
pub(super) struct Table {
    records: BTreeMap<(String, String), Record>,
    /// Write request units consumed.
    pub(super) write_units: u64,
    /// Read request units consumed.
    pub(super) read_units: f64,
}

impl Table {
    /// `PutItem`: stores `record`, replacing the waiter's earlier one.
    pub(super) fn put(&mut self, record: Record) {
        let key = (record.resource.clone(), record.waiter.clone());
        let stored = self.records.get(&key).map_or(0, |old| old.bytes);
        self.write_units += units(stored.max(record.bytes), 1024);
        self.records.insert(key, record);
    }

    /// `DeleteItem` of `record`'s key if it still holds `record`'s token.
    pub(super) fn delete(&mut self, record: &Record) {
        let key = (record.resource.clone(), record.waiter.clone());
        if let Some(stored) = self.records.get(&key) {
            self.write_units += units(stored.bytes, 1024);
            if stored.token == record.token {
                self.records.remove(&key);
            }
        }
    }

    /// `Query` of `resource` at `now` (seconds): the records that have not expired.
    pub(super) fn query(&mut self, resource: &str, now: i64) -> Vec<Record> {
        let found: Vec<&Record> = self.records.values().filter(|record| record.resource == resource).collect();
        let bytes: u64 = found.iter().map(|record| record.bytes).sum();
        self.read_units += 0.5 * units(bytes, 4096) as f64;
        found.into_iter().filter(|record| record.expires_at > now).cloned().collect()
    }
}

/// What an event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `CodeBuild Build State Change`, a terminal status.
    BuildEnded,
    /// `ECS Deployment State Change` `SERVICE_DEPLOYMENT_IN_PROGRESS` (a rollout or a rollback started).
    DeploymentStarted,
    /// `SERVICE_DEPLOYMENT_COMPLETED` of deltaship's rollout.
    RolloutCompleted,
    /// `SERVICE_DEPLOYMENT_COMPLETED` of the rollback deltaship asked for.
    RollbackCompleted,
}

/// An EventBridge event on its way to wake-waits.
#[derive(Debug, Clone)]
pub(super) struct Event {
    /// When it arrives, in milliseconds on the model's clock.
    pub(super) at_ms: u64,
    /// The waits table's partition key it wakes ([`build_resource`], [`service_resource`]).
    pub(super) resource: String,
    /// What it says.
    pub(super) kind: Kind,
}

impl Event {
    /// A build's terminal event.
    pub(super) fn build_ended(at_ms: u64, build_arn: &str) -> Self {
        Self { at_ms, resource: build_resource(build_arn), kind: Kind::BuildEnded }
    }

    /// A service's deployment event.
    pub(super) fn deployment(at_ms: u64, service_arn: &str, kind: Kind) -> Self {
        Self { at_ms, resource: service_resource(service_arn), kind }
    }
}

/// The events still to come, earliest first (in the order sent, at the same time).
#[derive(Debug, Default)]
pub(super) struct Schedule {
    events: Vec<Event>,
}

impl Schedule {
    /// Sends `event` at its time.
    pub(super) fn push(&mut self, event: Event) {
        let at = self.events.partition_point(|queued| queued.at_ms <= event.at_ms);
        self.events.insert(at, event);
    }

    /// When the next event arrives.
    pub(super) fn next_at(&self) -> Option<u64> {
        self.events.first().map(|event| event.at_ms)
    }

    /// The next event, if it arrives by `until_ms`.
    pub(super) fn pop_by(&mut self, until_ms: u64) -> Option<Event> {
        (self.next_at()? <= until_ms).then(|| self.events.remove(0))
    }

    /// Takes back the events of `kind` not sent yet (a rollout that is rolled back never completes).
    pub(super) fn cancel(&mut self, kind: Kind) {
        self.events.retain(|event| event.kind != kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_input() -> CheckBuildInput {
        CheckBuildInput {
            build_id: "service-0:1".into(),
            build_arn: "arn:aws:codebuild:us-east-1:123456789012:build/service-0:1".into(),
            deadline: Some(3600),
            name: "service-0".into(),
            execution: "cost-model".into(),
            task_token: Some("token-1".into()),
        }
    }

    #[test]
    fn writes_are_billed_by_the_kilobyte_and_queries_by_four() {
        let mut table = Table::default();
        let first = Record::build(&build_input(), "token-1", 0, WaitPolicy::BUILD).unwrap();
        let bytes = first.bytes;
        // The token alone is 2 KB: a record takes three write units.
        assert!((2 * 1024 + 1..=3 * 1024).contains(&bytes), "{bytes} bytes");
        table.put(first.clone());
        assert_eq!(table.write_units, 3);
        let again = Record::build(&build_input(), "token-2", 60, WaitPolicy::BUILD).unwrap();
        table.put(again.clone());
        assert_eq!(table.write_units, 6, "registering again overwrites the same item");
        table.delete(&first);
        assert_eq!(
            (table.write_units, table.query(&first.resource, 0).len()),
            (9, 1),
            "an older token deletes nothing"
        );
        assert!((table.read_units - 0.5).abs() < f64::EPSILON);
        table.delete(&again);
        assert!(table.query(&first.resource, 0).is_empty());
        assert!((table.read_units - 1.0).abs() < f64::EPSILON, "an empty query still reads half a unit");
        let expired = Record::build(&build_input(), "token-3", 0, WaitPolicy::BUILD).unwrap();
        table.put(expired.clone());
        assert!(table.query(&expired.resource, 3600 + 600 + 3600).is_empty(), "past its TTL");
    }

    #[test]
    fn events_come_in_time_order() {
        let mut schedule = Schedule::default();
        let arn = "arn:aws:ecs:us-east-1:123456789012:service/shop/service-0";
        schedule.push(Event::deployment(300_000, arn, Kind::RolloutCompleted));
        schedule.push(Event::deployment(0, arn, Kind::DeploymentStarted));
        schedule.push(Event::deployment(300_000, arn, Kind::DeploymentStarted));
        assert_eq!(schedule.next_at(), Some(0));
        assert_eq!(schedule.pop_by(0).map(|event| event.kind), Some(Kind::DeploymentStarted));
        assert!(schedule.pop_by(299_999).is_none());
        schedule.cancel(Kind::RolloutCompleted);
        assert_eq!(schedule.pop_by(300_000).map(|event| event.kind), Some(Kind::DeploymentStarted));
        assert_eq!(schedule.next_at(), None);
    }
}
