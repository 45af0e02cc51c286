//! Snapshots of the catalog's files per planned commit ([`deltaship_core::snapshot`]) in the
//! waits table (DynamoDB): detect-changes stores the head's after it plans a push, and the next
//! push of the branch reads its base's instead of every manifest.
//!
//! A snapshot is stored as gzip-compressed JSON in one or more parts (items of at most
//! [`MAX_PART_BYTES`]), under `catalog#<repository>` / `<commit>#<part>`, each with the number of
//! parts and a TTL ([`RETENTION_SECONDS`]). Reading is one `Query` (paginated); a snapshot with a
//! part missing, or that does not decompress or decode, reads as none, and the push reads every
//! manifest instead: the store is an optimization, never a source of truth.

use std::collections::HashMap;
use std::io::{Read, Write};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use deltaship_core::snapshot::{self, MAX_PART_BYTES, RETENTION_SECONDS, Snapshot};
use deltaship_core::{CommitId, ErrorKind, Failure};

use crate::{aws_error, table};

/// The snapshots in a DynamoDB table (the stack's waits table).
#[derive(Debug, Clone)]
pub struct Catalogs {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Catalogs {
    /// The snapshots in `table`.
    pub fn from_client(dynamodb: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { dynamodb, table }
    }

    /// The snapshot of `commit`, if one is stored whole. A call that fails is an error; a
    /// snapshot that cannot be read back is none (logged).
    pub async fn get(&self, repository: &str, commit: &CommitId) -> Result<Option<Snapshot>, Failure> {
        let resource = snapshot::resource(repository);
        let mut pages = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#resource = :resource AND begins_with(#waiter, :commit)")
            .expression_attribute_names("#resource", "resource")
            .expression_attribute_names("#waiter", "waiter")
            .expression_attribute_values(":resource", AttributeValue::S(resource.clone()))
            .expression_attribute_values(":commit", AttributeValue::S(snapshot::waiter_prefix(commit.as_str())))
            .into_paginator()
            .items()
            .send();
        let mut parts: Vec<(usize, usize, Vec<u8>)> = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|err| aws_error::table_failure("Query", &self.table, &resource, &err))?;
            let number = |name: &str| item.get(name).and_then(|value| value.as_n().ok()).and_then(|n| n.parse().ok());
            let data = item.get("data").and_then(|value| value.as_b().ok()).map(|blob| blob.as_ref().to_vec());
            match (number("part"), number("parts"), data) {
                (Some(part), Some(count), Some(data)) => parts.push((part, count, data)),
                _ => tracing::warn!(
                    resource,
                    commit = commit.as_str(),
                    "a snapshot part is malformed: reading every manifest"
                ),
            }
        }
        if parts.is_empty() {
            return Ok(None);
        }
        parts.sort_by_key(|(part, _, _)| *part);
        let count = parts.first().map_or(0, |(_, count, _)| *count);
        let whole = parts.len() == count
            && parts.iter().enumerate().all(|(index, (part, parts, _))| index == *part && *parts == count);
        if !whole {
            tracing::warn!(resource, commit = commit.as_str(), "a snapshot has parts missing: reading every manifest");
            return Ok(None);
        }
        let compressed: Vec<u8> = parts.into_iter().flat_map(|(_, _, data)| data).collect();
        let mut json = Vec::new();
        let decoded = flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut json)
            .ok()
            .and_then(|_| Snapshot::from_json(&json))
            .filter(|snapshot| snapshot.commit == commit.as_str());
        if decoded.is_none() {
            tracing::warn!(resource, commit = commit.as_str(), "a snapshot does not decode: reading every manifest");
        }
        Ok(decoded)
    }

    /// Stores `snapshot` (of `repository`), expiring [`RETENTION_SECONDS`] after `now` (seconds
    /// since the Unix epoch). Storing one again writes the same items.
    pub async fn put(&self, repository: &str, snapshot: &Snapshot, now: i64) -> Result<(), Failure> {
        let resource = snapshot::resource(repository);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let compressed = encoder.write_all(&snapshot.to_json()).and_then(|()| encoder.finish()).map_err(|error| {
            Failure::new(ErrorKind::AwsError, format!("compressing the snapshot of {resource}: {error}"))
        })?;
        let chunks: Vec<&[u8]> = compressed.chunks(MAX_PART_BYTES).collect();
        let count = chunks.len().to_string();
        for (part, chunk) in chunks.into_iter().enumerate() {
            let item = HashMap::from([
                ("resource".to_owned(), AttributeValue::S(resource.clone())),
                ("waiter".to_owned(), AttributeValue::S(snapshot::waiter(&snapshot.commit, part))),
                ("part".to_owned(), AttributeValue::N(part.to_string())),
                ("parts".to_owned(), AttributeValue::N(count.clone())),
                ("data".to_owned(), AttributeValue::B(Blob::new(chunk))),
                ("expires_at".to_owned(), AttributeValue::N(now.saturating_add(RETENTION_SECONDS).to_string())),
            ]);
            table::put(&self.dynamodb, &self.table, &resource, item).await?;
        }
        Ok(())
    }
}
