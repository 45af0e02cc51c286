//! The approval gates in the waits table (DynamoDB): one item per push waiting (or that waited)
//! at a gate, read, stored and forgotten here; what they mean is [`deltaship_core::gates`]'.
//! request-approval records a wait and deletes the ones it supersedes; `deltaship approve` and
//! `deltaship reject` read a gate's records and delete the one they answer ([`GateTable`]).
//!
//! An item, as stored:
//!
//! | attribute | type | value |
//! |-----------|------|-------|
//! | `resource` | S | partition key: `gate#<repository>#<service>#<environment>` ([`GateRecord::resource`]) |
//! | `waiter` | S | sort key: `<pushed_at:012>#<commit>` ([`GateRecord::waiter`]) |
//! | `repository`, `service`, `environment`, `commit`, `execution`, `image`, `token` | S | the record's fields |
//! | `pushed_by` | S | who pushed; absent when unknown |
//! | `pushed_at`, `requested_at` | N | seconds since the Unix epoch |
//! | `deadline` | N | when the wait times out ([`GateRecord::expires_at`]) |
//! | `expires_at` | N | the table's TTL: a week after the deadline ([`GateRecord::ttl`]) |

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use deltaship_core::Failure;
use deltaship_core::gates::{self, GateRecord};

use crate::table;

/// The gates in a DynamoDB table (the stack's waits table).
#[derive(Debug, Clone)]
pub struct GateTable {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl GateTable {
    /// The gates in `table`.
    pub fn from_client(dynamodb: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { dynamodb, table }
    }

    /// Every record at the gate of `service` into `environment` (expired ones too, until DynamoDB
    /// deletes them: [`gates::waiting`] tells the waiting ones), read consistently. A malformed
    /// item is skipped with a warning.
    pub async fn records(
        &self,
        repository: &str,
        service: &str,
        environment: &str,
    ) -> Result<Vec<GateRecord>, Failure> {
        let resource = gates::resource(repository, service, environment);
        let query = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#resource = :resource")
            .expression_attribute_names("#resource", "resource")
            .expression_attribute_values(":resource", AttributeValue::S(resource.clone()))
            .consistent_read(true);
        table::query_all(query, &self.table, &resource, "gate record", record_of).await
    }

    /// Stores `record`, replacing the one under its key (the same push at the same gate: a retried
    /// task, with a new token).
    pub async fn put(&self, record: &GateRecord) -> Result<(), Failure> {
        table::put(&self.dynamodb, &self.table, &record.resource(), item(record)).await
    }

    /// Deletes `record` if it still holds its token (a newer registration of the same push, with
    /// another token, stays; so does nothing, when it is gone already).
    pub async fn delete(&self, record: &GateRecord) -> Result<(), Failure> {
        table::delete_holding(&self.dynamodb, &self.table, &record.resource(), &record.waiter(), &record.token).await
    }
}

/// The item of `record` (see the table above).
pub fn item(record: &GateRecord) -> HashMap<String, AttributeValue> {
    let string = |value: &str| AttributeValue::S(value.to_owned());
    let number = |value: i64| AttributeValue::N(value.to_string());
    let mut item = HashMap::from([
        ("resource".to_owned(), string(&record.resource())),
        ("waiter".to_owned(), string(&record.waiter())),
        ("repository".to_owned(), string(&record.repository)),
        ("service".to_owned(), string(&record.service)),
        ("environment".to_owned(), string(&record.environment)),
        ("commit".to_owned(), string(&record.commit)),
        ("execution".to_owned(), string(&record.execution)),
        ("image".to_owned(), string(&record.image)),
        ("token".to_owned(), string(&record.token)),
        ("pushed_at".to_owned(), number(record.pushed_at)),
        ("requested_at".to_owned(), number(record.requested_at)),
        ("deadline".to_owned(), number(record.expires_at)),
        ("expires_at".to_owned(), number(record.ttl())),
    ]);
    if !record.pushed_by.is_empty() {
        item.insert("pushed_by".to_owned(), string(&record.pushed_by));
    }
    item
}

/// The record an item holds, or what is wrong with it.
pub fn record_of(item: &HashMap<String, AttributeValue>) -> Result<GateRecord, String> {
    let text = |name: &str| -> Result<String, String> {
        match item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            Some(_) => Err(format!("`{name}` is not a string")),
            None => Err(format!("no `{name}`")),
        }
    };
    let number = |name: &str| -> Result<i64, String> {
        match item.get(name) {
            Some(AttributeValue::N(value)) => {
                value.parse().map_err(|_| format!("`{name}` is {value:?}, not a whole number"))
            }
            Some(_) => Err(format!("`{name}` is not a number")),
            None => Err(format!("no `{name}`")),
        }
    };
    let record = GateRecord {
        repository: text("repository")?,
        service: text("service")?,
        environment: text("environment")?,
        commit: text("commit")?,
        execution: text("execution")?,
        pushed_at: number("pushed_at")?,
        pushed_by: item.get("pushed_by").and_then(|value| value.as_s().ok()).cloned().unwrap_or_default(),
        image: text("image")?,
        token: text("token")?,
        requested_at: number("requested_at")?,
        expires_at: number("deadline")?,
    };
    let (resource, waiter) = (text("resource")?, text("waiter")?);
    if resource != record.resource() || waiter != record.waiter() {
        return Err(format!(
            "its key ({resource}, {waiter}) is not its record's ({}, {})",
            record.resource(),
            record.waiter()
        ));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> GateRecord {
        GateRecord {
            repository: "shop".into(),
            service: "users".into(),
            environment: "production".into(),
            commit: "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901".into(),
            execution: "shop-main-7f0103fa1b2c-0123456789".into(),
            pushed_at: 1_700_000_000,
            pushed_by: "arn:aws:iam::123456789012:user/mary".into(),
            image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:ab".into(),
            token: "token".into(),
            requested_at: 1_700_000_600,
            expires_at: 1_700_087_000,
        }
    }

    #[test]
    fn items_read_back_what_was_stored_and_nothing_less() {
        let stored = item(&record());
        assert_eq!(
            stored.get("resource").and_then(|v| v.as_s().ok()).map(String::as_str),
            Some("gate#shop#users#production")
        );
        assert_eq!(stored.get("deadline").and_then(|v| v.as_n().ok()).map(String::as_str), Some("1700087000"));
        assert_eq!(stored.get("expires_at").and_then(|v| v.as_n().ok()).map(String::as_str), Some("1700691800"));
        assert_eq!(record_of(&stored), Ok(record()));

        let mut anonymous = record();
        anonymous.pushed_by = String::new();
        let stored = item(&anonymous);
        assert!(!stored.contains_key("pushed_by"), "no empty attribute");
        assert_eq!(record_of(&stored), Ok(anonymous));

        let mut broken = item(&record());
        broken.remove("token");
        assert_eq!(record_of(&broken), Err("no `token`".to_owned()));
        let mut broken = item(&record());
        broken.insert("pushed_at".into(), AttributeValue::N("soon".into()));
        assert_eq!(record_of(&broken), Err("`pushed_at` is \"soon\", not a whole number".to_owned()));
        let mut moved = item(&record());
        moved.insert("service".into(), AttributeValue::S("orders".into()));
        assert!(record_of(&moved).is_err(), "a record under another gate's key");
    }
}
