//! The waits table (DynamoDB) and the task tokens it holds (Step Functions): what wait mode and
//! wake-waits share. The decisions (keys, what completes a wait) are
//! [`deltaship_core::waits`]'; this module only stores, finds, completes and forgets.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use deltaship_core::waits::{Completion, WaitKind, is_closed_token_error};
use deltaship_core::{ErrorKind, Failure};
use serde::Serialize;

use crate::{aws_error, table};

/// A wait, as stored: who waits (the token) on what (`resource`, `watch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// Partition key: `build#<ARN>` or `service#<ARN>`.
    pub(crate) resource: String,
    /// Sort key: `<execution>#<service>#<kind>`.
    pub(crate) waiter: String,
    /// The task token.
    pub(crate) token: String,
    /// What the wait is for.
    pub(crate) kind: WaitKind,
    /// What to look at: the look-mode input of check-build or check-rollout, as JSON.
    pub(crate) watch: String,
    /// TTL, seconds since the Unix epoch.
    pub(crate) expires_at: i64,
}

/// What a look found: the answer, and whether it ends the wait.
#[derive(Debug, Clone)]
pub(crate) struct Looked<O> {
    /// The function's answer.
    pub(crate) output: O,
    /// Whether the thing waited for is over (a success: failures are `Err`).
    pub(crate) done: bool,
}

/// What became of a completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Step Functions took it.
    Sent,
    /// The token was closed already (the other side completed it, or it timed out).
    Closed,
}

/// The waits table and the state machine's tokens.
#[derive(Debug, Clone)]
pub struct Waits {
    dynamodb: aws_sdk_dynamodb::Client,
    sfn: aws_sdk_sfn::Client,
    table: String,
}

impl Waits {
    /// The waits in `table`, completed through `sfn`.
    pub fn from_clients(dynamodb: aws_sdk_dynamodb::Client, sfn: aws_sdk_sfn::Client, table: String) -> Self {
        Self { dynamodb, sfn, table }
    }

    /// Stores `record`, replacing the waiter's earlier one (after a fallback timeout the same
    /// wait registers again, with a new token).
    pub(crate) async fn register(&self, record: &Record) -> Result<(), Failure> {
        let string = |value: &str| AttributeValue::S(value.to_owned());
        let item = HashMap::from([
            ("resource".to_owned(), string(&record.resource)),
            ("waiter".to_owned(), string(&record.waiter)),
            ("token".to_owned(), string(&record.token)),
            ("kind".to_owned(), string(record.kind.name())),
            ("watch".to_owned(), string(&record.watch)),
            ("expires_at".to_owned(), AttributeValue::N(record.expires_at.to_string())),
        ]);
        table::put(&self.dynamodb, &self.table, &record.resource, item).await
    }

    /// Every wait on `resource` that has not expired at `now`.
    pub(crate) async fn records(&self, resource: &str, now: i64) -> Result<Vec<Record>, Failure> {
        let query = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#resource = :resource")
            .expression_attribute_names("#resource", "resource")
            .expression_attribute_values(":resource", AttributeValue::S(resource.to_owned()));
        let read = |item: &table::Item| record_of(item).ok_or("waits record");
        let records = table::query_all(query, &self.table, resource, "waits record", read).await?;
        // DynamoDB deletes expired items lazily: they may still be read.
        Ok(records.into_iter().filter(|record| record.expires_at > now).collect())
    }

    /// Deletes the waiter's record if it still holds `token` (a newer registration stays).
    pub(crate) async fn forget(&self, record: &Record) -> Result<(), Failure> {
        table::delete_holding(&self.dynamodb, &self.table, &record.resource, &record.waiter, &record.token).await
    }

    /// Completes the wait of `token` as `completion` says (nothing for `Pending`).
    pub(crate) async fn complete(&self, token: &str, completion: &Completion) -> Result<Sent, Failure> {
        let result = match completion {
            Completion::Pending => return Ok(Sent::Sent),
            Completion::Success(output) => self
                .sfn
                .send_task_success()
                .task_token(token)
                .output(output.to_string())
                .send()
                .await
                .map(drop)
                .map_err(|err| {
                    closed_or(aws_error::code(&err), || aws_error::failure("SendTaskSuccess", "a wait", &err, &[]))
                }),
            Completion::Failure { error, cause } => {
                self.sfn.send_task_failure().task_token(token).error(error).cause(cause).send().await.map(drop).map_err(
                    |err| {
                        closed_or(aws_error::code(&err), || aws_error::failure("SendTaskFailure", "a wait", &err, &[]))
                    },
                )
            }
        };
        match result {
            Ok(()) => Ok(Sent::Sent),
            Err(None) => Ok(Sent::Closed),
            Err(Some(failure)) => Err(failure),
        }
    }

    /// Wait mode: stores `record`, then looks once (so an end that came before the token was
    /// stored is not missed), and completes the wait if the look ends it: a success sends the
    /// output, a failure that is not transient sends the failure (and is returned too, so the
    /// invocation reports it). A transient failure keeps the record: the state machine retries
    /// the task, whose new registration replaces it.
    pub(crate) async fn register_then_look<O, Fut>(&self, record: Record, look: Fut) -> Result<O, Failure>
    where
        O: Serialize,
        Fut: Future<Output = Result<Looked<O>, Failure>>,
    {
        self.register(&record).await?;
        match look.await {
            Ok(Looked { output, done: false }) => Ok(output),
            Ok(Looked { output, done: true }) => {
                let json = serde_json::to_value(&output).map_err(|error| {
                    Failure::new(ErrorKind::AwsError, format!("could not encode the output: {error}"))
                })?;
                self.complete(&record.token, &Completion::Success(json)).await?;
                self.forget(&record).await?;
                Ok(output)
            }
            Err(failure) if failure.kind.is_retryable() => Err(failure),
            Err(failure) => {
                self.complete(&record.token, &Completion::of_failure(&failure)).await?;
                self.forget(&record).await?;
                Err(failure)
            }
        }
    }
}

/// `None` (the token is closed: nothing to do) for the codes that mean so, else the failure.
fn closed_or(code: Option<&str>, failure: impl FnOnce() -> Failure) -> Option<Failure> {
    if code.is_some_and(is_closed_token_error) { None } else { Some(failure()) }
}

fn record_of(item: &HashMap<String, AttributeValue>) -> Option<Record> {
    let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok()).cloned();
    Some(Record {
        resource: text("resource")?,
        waiter: text("waiter")?,
        token: text("token")?,
        kind: WaitKind::from_name(&text("kind")?)?,
        watch: text("watch")?,
        expires_at: item.get("expires_at").and_then(|value| value.as_n().ok()).and_then(|n| n.parse().ok())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_what_was_stored_and_nothing_less() {
        let string = |value: &str| AttributeValue::S(value.to_owned());
        let mut item = HashMap::from([
            ("resource".to_owned(), string("build#arn:aws:codebuild:us-east-1:1:build/p:1")),
            ("waiter".to_owned(), string("exec#users#build")),
            ("token".to_owned(), string("token")),
            ("kind".to_owned(), string("build")),
            ("watch".to_owned(), string("{}")),
            ("expires_at".to_owned(), AttributeValue::N("1700000000".into())),
        ]);
        let record = record_of(&item).unwrap_or_else(|| panic!("a complete record reads"));
        assert_eq!((record.kind, record.expires_at), (WaitKind::Build, 1_700_000_000));
        item.insert("kind".to_owned(), string("cake"));
        assert_eq!(record_of(&item), None, "an unknown kind");
        item.insert("kind".to_owned(), string("rollout"));
        item.remove("token");
        assert_eq!(record_of(&item), None, "no token");
    }

    #[test]
    fn closed_tokens_are_not_failures() {
        let failure = || Failure::new(ErrorKind::AwsUnavailable, "x");
        assert_eq!(closed_or(Some("TaskTimedOut"), failure), None);
        assert_eq!(closed_or(Some("InvalidToken"), failure), None);
        assert!(closed_or(Some("ThrottlingException"), failure).is_some());
        assert!(closed_or(None, failure).is_some());
    }
}
