//! The waits table's calls that its stores (the waits, the push ledger, the approval gates) make
//! alike: a `Query` of one partition read to its end, and a delete that leaves a newer
//! registration in place. The stores keep their own items and keys.

use std::collections::HashMap;
use std::fmt::Display;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use deltaship_core::Failure;

use crate::aws_error;

/// One item of the table.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Every item `query` (a `Query` of the partition `resource` of `table`) answers, page by page
/// (the SDK's paginator), read with `read`; an item `read` refuses is skipped with a warning
/// naming `what` and the problem.
pub(crate) async fn query_all<T, E: Display>(
    query: QueryFluentBuilder,
    table: &str,
    resource: &str,
    what: &str,
    read: impl Fn(&Item) -> Result<T, E>,
) -> Result<Vec<T>, Failure> {
    let mut pages = query.into_paginator().items().send();
    let mut found = Vec::new();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|err| aws_error::table_failure("Query", table, resource, &err))?;
        match read(&item) {
            Ok(value) => found.push(value),
            Err(problem) => tracing::warn!(resource, "skipping a malformed {what}: {problem}"),
        }
    }
    Ok(found)
}

/// Stores `item` (of the partition `resource`) in `table`, replacing the item under its key.
pub(crate) async fn put(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    resource: &str,
    item: Item,
) -> Result<(), Failure> {
    dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|err| aws_error::table_failure("PutItem", table, resource, &err))?;
    Ok(())
}

/// Deletes the item `resource`/`waiter` of `table` if it still holds `token`: a newer
/// registration under the same key (another token) stays, and an item already gone is no error.
pub(crate) async fn delete_holding(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    resource: &str,
    waiter: &str,
    token: &str,
) -> Result<(), Failure> {
    let result = dynamodb
        .delete_item()
        .table_name(table)
        .key("resource", AttributeValue::S(resource.to_owned()))
        .key("waiter", AttributeValue::S(waiter.to_owned()))
        .condition_expression("#token = :token")
        .expression_attribute_names("#token", "token")
        .expression_attribute_values(":token", AttributeValue::S(token.to_owned()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) if aws_error::code(&err) == Some("ConditionalCheckFailedException") => Ok(()),
        Err(err) => Err(aws_error::table_failure("DeleteItem", table, resource, &err)),
    }
}
