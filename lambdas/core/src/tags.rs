//! The tags of a task definition revision deltaship registers: the service's current revision's
//! tags that ECS accepts on a new one, and deltaship's stamp ([`crate::races::DeployStamp`]).
//!
//! ECS's limits on resource tags (Amazon ECS developer guide, "Tagging your Amazon ECS
//! resources", <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-using-tags.html>):
//! at most 50 tags per resource, keys of at most 128 characters and values of at most 256, and the
//! `aws:` prefix (any case) reserved for AWS's own tags, which a request may not set. A revision
//! that passes any of them is refused, and the deploy with it.
//!
//! | current revision's tag | on the new revision |
//! |------------------------|---------------------|
//! | `aws:*` (any case) | dropped: AWS sets its own |
//! | `deltaship:*` | replaced by this deploy's stamp |
//! | any other | copied, while the 50 allow it (the stamp's four come first; the rest in order) |
//! | the stamp's `deltaship:previous` | the previous revision's ARN, or `family:revision` when the ARN is longer than 256 characters, or left out when even that is |

use crate::races::{DeployStamp, TAG_PREVIOUS, is_deltaship_tag};

/// The most tags an ECS resource may carry.
pub const MAX_TAGS: usize = 50;
/// The longest tag key ECS accepts.
pub const MAX_KEY_LEN: usize = 128;
/// The longest tag value ECS accepts.
pub const MAX_VALUE_LEN: usize = 256;

/// What a new revision carries, and what of the current revision's tags it could not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionTags {
    /// The tags, in order: the stamp's, then the kept ones.
    pub tags: Vec<(String, String)>,
    /// Keys of the current revision's tags left out for the 50-tag limit.
    pub dropped: Vec<String>,
}

/// The tags of the revision deploying `stamp` after `previous` (an ARN), given the current
/// revision's `current` tags.
pub fn revision_tags<'a>(
    current: impl IntoIterator<Item = (&'a str, &'a str)>,
    stamp: &DeployStamp,
    previous: &str,
) -> RevisionTags {
    let mut tags: Vec<(String, String)> =
        stamp.tags(&shortened(previous)).into_iter().filter(|(_, value)| value.len() <= MAX_VALUE_LEN).collect();
    if tags.iter().any(|(key, value)| key == TAG_PREVIOUS && value.is_empty()) {
        tags.retain(|(key, _)| key != TAG_PREVIOUS);
    }
    let mut dropped = Vec::new();
    for (key, value) in current {
        let reserved = key.get(..4).is_some_and(|start| start.eq_ignore_ascii_case("aws:"));
        if reserved || is_deltaship_tag(key) || key.len() > MAX_KEY_LEN || value.len() > MAX_VALUE_LEN {
            continue;
        }
        if tags.len() < MAX_TAGS {
            tags.push((key.to_owned(), value.to_owned()));
        } else {
            dropped.push(key.to_owned());
        }
    }
    RevisionTags { tags, dropped }
}

/// A task definition ARN that fits a tag value: itself, else its `family:revision` (which ECS
/// takes wherever it takes the ARN), else nothing.
fn shortened(arn: &str) -> String {
    if arn.len() <= MAX_VALUE_LEN {
        return arn.to_owned();
    }
    let short = arn.rsplit('/').next().unwrap_or(arn);
    if short.len() <= MAX_VALUE_LEN { short.to_owned() } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> DeployStamp {
        DeployStamp { commit: "c".repeat(40), pushed_at: 1_700_000_000, execution: "shop-main-x".into() }
    }

    const PREVIOUS: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/users:6";

    fn keys(tags: &RevisionTags) -> Vec<&str> {
        tags.tags.iter().map(|(key, _)| key.as_str()).collect()
    }

    #[test]
    fn reserved_and_own_tags_are_not_copied() {
        let current = [
            ("team", "shop"),
            ("aws:cloudformation:stack-name", "x"),
            ("AWS:Other", "y"),
            ("deltaship:commit", "old"),
            ("awsome", "kept: only the aws: prefix is reserved"),
        ];
        let tags = revision_tags(current, &stamp(), PREVIOUS);
        assert_eq!(
            keys(&tags),
            ["deltaship:commit", "deltaship:pushed-at", "deltaship:execution", "deltaship:previous", "team", "awsome"]
        );
        assert!(tags.tags.contains(&("deltaship:commit".into(), "c".repeat(40))));
        assert!(tags.dropped.is_empty());
    }

    #[test]
    fn at_most_fifty_tags_and_the_stamp_first() {
        let many: Vec<(String, String)> = (0..60).map(|i| (format!("k{i:02}"), "v".to_owned())).collect();
        let tags = revision_tags(many.iter().map(|(k, v)| (k.as_str(), v.as_str())), &stamp(), PREVIOUS);
        assert_eq!(tags.tags.len(), MAX_TAGS);
        assert_eq!(
            keys(&tags)[..4],
            ["deltaship:commit", "deltaship:pushed-at", "deltaship:execution", "deltaship:previous"]
        );
        assert_eq!(tags.dropped, (46..60).map(|i| format!("k{i:02}")).collect::<Vec<_>>());
    }

    #[test]
    fn every_value_fits() {
        let long_family = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{}:6", "f".repeat(230));
        assert!(long_family.len() > MAX_VALUE_LEN);
        let tags = revision_tags([], &stamp(), &long_family);
        let previous = tags.tags.iter().find(|(key, _)| key == TAG_PREVIOUS).map(|(_, value)| value.clone());
        assert_eq!(previous, Some(format!("{}:6", "f".repeat(230))), "family:revision");
        let too_long = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{}:6", "f".repeat(255));
        let tags = revision_tags([], &stamp(), &too_long);
        assert!(!keys(&tags).contains(&TAG_PREVIOUS), "left out rather than refused");
        assert!(tags.tags.iter().all(|(key, value)| key.len() <= MAX_KEY_LEN && value.len() <= MAX_VALUE_LEN));
    }
}
