//! The push ledger in the waits table (DynamoDB): records a push, moves the branch's latest push,
//! reads it back, and reads one second's pushes. What a record holds and which push is the latest
//! are [`deltaship_core::ledger`]'s decisions; this module only stores and reads.
//!
//! Writes are conditional, so concurrent deliveries cannot lose one another:
//!
//! - a push is stored only if its key is new (`attribute_not_exists`); a duplicate delivery finds
//!   the first delivery's record instead ([`Recorded::Existing`]);
//! - the branch's latest push is replaced only if it is still the one read (`#push = :push`, or
//!   absent); if another push moved it meanwhile, it is read and decided again.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use deltaship_core::ledger::{self, LATEST, PushRecord, PushStatus, becomes_latest};
use deltaship_core::{CommitId, ErrorKind, Failure, Origin};

use crate::{aws_error, table};

/// How many times the latest push is read and written again when concurrent pushes move it.
const LATEST_ATTEMPTS: usize = 5;

/// What recording a push found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The push was not recorded before: this is its record.
    New,
    /// The push was recorded already (a duplicate delivery of its event): the record found.
    Existing(Box<PushRecord>),
}

/// The push ledger in a DynamoDB table (the stack's waits table).
#[derive(Debug, Clone)]
pub struct Ledger {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Ledger {
    /// The ledger in `table`.
    pub fn from_client(dynamodb: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { dynamodb, table }
    }

    /// Records `record` unless its push is recorded already, then makes it its branch's latest
    /// push if it is ([`becomes_latest`]).
    pub async fn record(&self, record: &PushRecord) -> Result<Recorded, Failure> {
        let resource = record.resource();
        let waiter = record.waiter();
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(record, &waiter)))
            .condition_expression("attribute_not_exists(#waiter)")
            .expression_attribute_names("#waiter", "waiter")
            .send()
            .await;
        let recorded = match put {
            Ok(_) => Recorded::New,
            Err(err) if aws_error::code(&err) == Some("ConditionalCheckFailedException") => {
                match self.get(&resource, &waiter).await? {
                    Some(existing) => Recorded::Existing(Box::new(existing)),
                    // Recorded, then gone (deleted past its TTL): nothing to compare with.
                    None => Recorded::New,
                }
            }
            Err(err) => return Err(aws_error::table_failure("PutItem", &self.table, &resource, &err)),
        };
        self.advance_latest(record).await?;
        Ok(recorded)
    }

    /// The branch's latest recorded push, if any. (A record past its TTL that DynamoDB has not
    /// deleted yet is still read: what it says stays true.)
    pub async fn latest(&self, repository: &str, branch: &str) -> Result<Option<PushRecord>, Failure> {
        self.get(&ledger::resource(repository, branch), LATEST).await
    }

    /// The `limit` newest pushes recorded for `branch` of `repository`, newest first (what
    /// `deltaship status` reads for each service's last execution). A malformed record is
    /// skipped with a warning.
    pub async fn newest(&self, repository: &str, branch: &str, limit: i32) -> Result<Vec<PushRecord>, Failure> {
        let resource = ledger::resource(repository, branch);
        let answer = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#resource = :resource AND begins_with(#waiter, :push)")
            .expression_attribute_names("#resource", "resource")
            .expression_attribute_names("#waiter", "waiter")
            .expression_attribute_values(":resource", AttributeValue::S(resource.clone()))
            .expression_attribute_values(":push", AttributeValue::S(ledger::PUSH_PREFIX.to_owned()))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(|err| aws_error::table_failure("Query", &self.table, &resource, &err))?;
        let mut records = Vec::new();
        for item in answer.items() {
            match record_of(item) {
                Ok(record) => records.push(record),
                Err(problem) => tracing::warn!(resource, "skipping a malformed ledger record: {problem}"),
            }
        }
        Ok(records)
    }

    /// The branch's pushes recorded for second `pushed_at`.
    pub async fn second(&self, repository: &str, branch: &str, pushed_at: i64) -> Result<Vec<PushRecord>, Failure> {
        let resource = ledger::resource(repository, branch);
        let query = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#resource = :resource AND begins_with(#waiter, :second)")
            .expression_attribute_names("#resource", "resource")
            .expression_attribute_names("#waiter", "waiter")
            .expression_attribute_values(":resource", AttributeValue::S(resource.clone()))
            .expression_attribute_values(":second", AttributeValue::S(ledger::second_prefix(pushed_at)))
            .consistent_read(true);
        table::query_all(query, &self.table, &resource, "ledger record", record_of).await
    }

    /// Makes `record` the branch's latest push if it is, retrying when another push moved the
    /// latest between the read and the write.
    async fn advance_latest(&self, record: &PushRecord) -> Result<(), Failure> {
        let resource = record.resource();
        for _ in 0..LATEST_ATTEMPTS {
            let latest = self.get(&resource, LATEST).await?;
            let same_second = match &latest {
                Some(latest) if latest.pushed_at == record.pushed_at => {
                    self.second(&record.repository, &record.branch, record.pushed_at).await?
                }
                _ => Vec::new(),
            };
            if !becomes_latest(record, latest.as_ref(), &same_second) {
                return Ok(());
            }
            let mut put = self.dynamodb.put_item().table_name(&self.table).set_item(Some(item(record, LATEST)));
            // DynamoDB refuses a name or value the condition does not use.
            put = match &latest {
                None => put
                    .condition_expression("attribute_not_exists(#waiter)")
                    .expression_attribute_names("#waiter", "waiter"),
                Some(latest) => put
                    .condition_expression("#push = :push")
                    .expression_attribute_names("#push", "push")
                    .expression_attribute_values(":push", AttributeValue::S(latest.waiter())),
            };
            match put.send().await {
                Ok(_) => return Ok(()),
                Err(err) if aws_error::code(&err) == Some("ConditionalCheckFailedException") => {}
                Err(err) => return Err(aws_error::table_failure("PutItem", &self.table, &resource, &err)),
            }
        }
        Err(Failure::new(
            ErrorKind::Throttled,
            format!(
                "the ledger's latest push of {}@{} kept moving under {LATEST_ATTEMPTS} attempts to record {}",
                record.repository,
                record.branch,
                record.commit.short()
            ),
        ))
    }

    /// The item under `resource` and `waiter`, read consistently; `None` if there is none. A
    /// malformed item is an error naming what is wrong with it.
    async fn get(&self, resource: &str, waiter: &str) -> Result<Option<PushRecord>, Failure> {
        let got = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("resource", AttributeValue::S(resource.to_owned()))
            .key("waiter", AttributeValue::S(waiter.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| aws_error::table_failure("GetItem", &self.table, resource, &err))?;
        let Some(item) = got.item() else { return Ok(None) };
        let record = record_of(item).map_err(|problem| {
            Failure::new(
                ErrorKind::AwsError,
                format!("the ledger record {resource} {waiter} in {} is malformed: {problem}", self.table),
            )
        })?;
        Ok(Some(record))
    }
}

/// The item of `record` under sort key `waiter` (its own, or [`LATEST`]); `push` names the push's
/// own key in both, which the latest's conditional write compares.
fn item(record: &PushRecord, waiter: &str) -> HashMap<String, AttributeValue> {
    let string = |value: &str| AttributeValue::S(value.to_owned());
    let number = |value: i64| AttributeValue::N(value.to_string());
    let mut item = HashMap::from([
        ("resource".to_owned(), string(&record.resource())),
        ("waiter".to_owned(), string(waiter)),
        ("push".to_owned(), string(&record.waiter())),
        ("repository".to_owned(), string(&record.repository)),
        ("branch".to_owned(), string(&record.branch)),
        ("commit".to_owned(), string(record.commit.as_str())),
        ("pushed_at".to_owned(), number(record.pushed_at)),
        ("origin".to_owned(), string(origin_name(record.origin))),
        ("status".to_owned(), string(record.status.name())),
        ("message".to_owned(), string(&record.message)),
        ("recorded_at".to_owned(), number(record.recorded_at_ms)),
        ("expires_at".to_owned(), number(record.expires_at())),
    ]);
    if let Some(base) = &record.base {
        item.insert("base".to_owned(), string(base.as_str()));
    }
    if let Some(execution) = &record.execution {
        item.insert("execution".to_owned(), string(execution));
    }
    item
}

fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::Push => "push",
        Origin::Reconciler => "reconciler",
        Origin::Redeploy => "redeploy",
    }
}

/// The record in `item`, or what is wrong with it.
fn record_of(item: &HashMap<String, AttributeValue>) -> Result<PushRecord, String> {
    let text = |name: &str| -> Result<String, String> {
        item.get(name).and_then(|value| value.as_s().ok()).cloned().ok_or_else(|| format!("no {name}"))
    };
    let optional = |name: &str| item.get(name).and_then(|value| value.as_s().ok()).cloned();
    let number = |name: &str| -> Result<i64, String> {
        item.get(name)
            .and_then(|value| value.as_n().ok())
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("no {name} number"))
    };
    let commit = |value: &str| CommitId::parse(value).map_err(|error| error.to_string());
    let status = text("status")?;
    let origin = match text("origin")?.as_str() {
        "push" => Origin::Push,
        "reconciler" => Origin::Reconciler,
        "redeploy" => Origin::Redeploy,
        other => return Err(format!("origin {other:?}")),
    };
    Ok(PushRecord {
        repository: text("repository")?,
        branch: text("branch")?,
        commit: commit(&text("commit")?)?,
        base: optional("base").as_deref().map(commit).transpose()?,
        pushed_at: number("pushed_at")?,
        origin,
        status: PushStatus::from_name(&status).ok_or_else(|| format!("status {status:?}"))?,
        execution: optional("execution"),
        message: optional("message").unwrap_or_default(),
        recorded_at_ms: number("recorded_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> PushRecord {
        PushRecord {
            repository: "shop".into(),
            branch: "release/1.2".into(),
            commit: CommitId::parse(&"b".repeat(40)).unwrap_or_else(|error| panic!("{error}")),
            base: Some(CommitId::parse(&"a".repeat(40)).unwrap_or_else(|error| panic!("{error}"))),
            pushed_at: 1_700_000_000,
            origin: Origin::Reconciler,
            status: PushStatus::NothingToDeploy,
            execution: None,
            message: "nothing to deploy".into(),
            recorded_at_ms: 1_700_000_000_123,
        }
    }

    #[test]
    fn records_read_back_what_was_stored() {
        let record = record();
        let stored = item(&record, LATEST);
        assert_eq!(stored.get("waiter").and_then(|v| v.as_s().ok()).map(String::as_str), Some(LATEST));
        assert_eq!(stored.get("push").and_then(|v| v.as_s().ok()), Some(&record.waiter()));
        assert_eq!(record_of(&stored), Ok(record.clone()));
        let first_push = PushRecord { base: None, execution: Some("shop-x".into()), ..record };
        assert_eq!(record_of(&item(&first_push, &first_push.waiter())), Ok(first_push));
    }

    #[test]
    fn a_malformed_record_says_what_is_wrong() {
        let record = record();
        let table: [(&str, AttributeValue, &str); 4] = [
            ("status", AttributeValue::S("DONE".into()), "status \"DONE\""),
            ("commit", AttributeValue::S("abc".into()), "abc"),
            ("pushed_at", AttributeValue::S("soon".into()), "no pushed_at number"),
            ("origin", AttributeValue::S("hand".into()), "origin \"hand\""),
        ];
        for (name, value, problem) in table {
            let mut stored = item(&record, LATEST);
            stored.insert(name.to_owned(), value);
            let error = record_of(&stored).err().unwrap_or_default();
            assert!(error.contains(problem), "{name}: {error}");
        }
        let mut stored = item(&record, LATEST);
        stored.remove("branch");
        assert_eq!(record_of(&stored), Err("no branch".to_owned()));
    }
}
