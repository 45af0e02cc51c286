//! The EventBridge "CodeCommit Repository State Change" event, and what it asks deltaship to do.
//!
//! EventBridge wraps the detail in its usual envelope ([`EventBridgeEvent`]); the detail shape
//! follows the CodeCommit user guide ("Monitoring CodeCommit events in Amazon EventBridge"):
//!
//! | `detail.event`                     | deltaship does                                        |
//! |------------------------------------|-------------------------------------------------------|
//! | `referenceCreated` (branch)        | first push of the branch: no `oldCommitId`, no base   |
//! | `referenceUpdated` (branch)        | push from `oldCommitId` to `commitId`                 |
//! | `referenceDeleted` (branch)        | nothing (there is no `commitId` to deploy)            |
//! | any reference event on a tag       | nothing: deltaship deploys branches                   |
//! | `unreferencedMergeCommitCreated`   | nothing: the merge commit is on no branch (yet)       |
//! | anything else of this detail-type  | nothing, with the event's name in the reason          |
//!
//! Events of another source or detail-type are errors, not "nothing": they mean the EventBridge
//! rule routes the wrong events here.

use std::fmt;

pub use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};

use crate::CommitId;
use crate::commit::clip;

/// The `source` of every CodeCommit event.
pub const SOURCE: &str = "aws.codecommit";
/// The `detail-type` of reference (push) events.
pub const DETAIL_TYPE: &str = "CodeCommit Repository State Change";

/// The whole event as EventBridge delivers it to a Lambda target.
pub type RepositoryStateChangeEvent = EventBridgeEvent<RepositoryStateChange>;

/// The `detail` of a "CodeCommit Repository State Change" event.
///
/// Only `event` and `repositoryName` are present in every variant; everything else depends on
/// the variant and is optional here, so that the decision about what is required is made (and
/// reported) by [`classify`]. Unknown fields are accepted: AWS adds fields over time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryStateChange {
    /// `referenceCreated`, `referenceUpdated`, `referenceDeleted` or `unreferencedMergeCommitCreated`.
    pub event: String,
    /// The CodeCommit repository name.
    pub repository_name: String,
    /// The CodeCommit repository id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_id: Option<String>,
    /// `branch` or `tag`, on reference events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_type: Option<String>,
    /// The short reference name, e.g. `main` or `feature/login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_name: Option<String>,
    /// The full reference name, e.g. `refs/heads/main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_full_name: Option<String>,
    /// The commit the reference points to now (absent when it was deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_id: Option<String>,
    /// The commit the reference pointed to before (absent when it was created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_commit_id: Option<String>,
    /// Who pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_user_arn: Option<String>,
    /// On merges: the merge base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit_id: Option<String>,
    /// On merges: the tip of the source branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_commit_id: Option<String>,
    /// On merges: the tip of the destination branch before the merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_commit_id: Option<String>,
    /// On merges: `FAST_FORWARD_MERGE`, `SQUASH_MERGE` or `THREE_WAY_MERGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_option: Option<String>,
    /// On merges: `FILE_LEVEL` or `LINE_LEVEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_details_level: Option<String>,
    /// On merges: e.g. `AUTOMERGE`, `ACCEPT_SOURCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution_strategy: Option<String>,
}

/// What an event asks deltaship to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A branch moved to a new commit: plan and deploy it.
    Push(Push),
    /// Nothing to deploy, for the reason given.
    Ignored(Ignored),
}

/// A push to a branch: the commits to diff and the commit to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The CodeCommit repository name.
    pub repository: String,
    /// The short branch name, e.g. `main`.
    pub branch: String,
    /// The pushed commit: what gets built and deployed.
    pub head: CommitId,
    /// The commit the branch pointed to before; `None` for the first push of a branch.
    pub base: Option<CommitId>,
    /// The IAM identity that pushed, when AWS says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_by: Option<String>,
    /// When the branch moved, in seconds since the Unix epoch: the event's `time`, the same in
    /// every delivery of one event. It orders pushes (a newer push supersedes an older one) and
    /// tells a duplicate delivery from a second push of the same commit.
    pub pushed_at: i64,
}

/// Why an event deploys nothing. [`fmt::Display`] gives the sentence to log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Ignored {
    /// The branch was deleted: there is no commit to deploy.
    BranchDeleted {
        /// Repository name.
        repository: String,
        /// The deleted branch.
        branch: String,
    },
    /// A tag was created, moved or deleted: deltaship deploys branches.
    Tag {
        /// Repository name.
        repository: String,
        /// The tag.
        tag: String,
    },
    /// A merge commit that no branch points to yet; the branch update that follows is its own event.
    UnreferencedMergeCommit {
        /// Repository name.
        repository: String,
    },
    /// A reference of a type other than `branch` or `tag`.
    OtherReferenceType {
        /// Repository name.
        repository: String,
        /// The `referenceType` sent.
        reference_type: String,
    },
    /// An event of this detail-type that deltaship does not act on.
    OtherEvent {
        /// Repository name.
        repository: String,
        /// The `event` sent.
        event: String,
    },
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BranchDeleted { repository, branch } => {
                write!(f, "branch `{branch}` of `{repository}` was deleted: there is no commit to deploy")
            }
            Self::Tag { repository, tag } => {
                write!(f, "`{tag}` in `{repository}` is a tag: deltaship deploys branches only")
            }
            Self::UnreferencedMergeCommit { repository } => write!(
                f,
                "an unreferenced merge commit was created in `{repository}`: it is on no branch yet, \
                 and the branch update that follows is deployed as its own push"
            ),
            Self::OtherReferenceType { repository, reference_type } => {
                write!(f, "reference type `{reference_type}` in `{repository}` is neither a branch nor a tag")
            }
            Self::OtherEvent { repository, event } => {
                write!(f, "event `{event}` in `{repository}` is not a push: nothing to deploy")
            }
        }
    }
}

/// Why an event could not be read. Every message names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON, or JSON of the wrong shape (missing envelope fields, wrong types, ...).
    #[error("malformed CodeCommit event: {0}")]
    Malformed(String),
    /// An event that this function should never have been sent.
    #[error(
        "not a CodeCommit push event: expected source `{SOURCE}` and detail-type `{DETAIL_TYPE}`, \
         got source `{event_source}` and detail-type `{detail_type}` (check the EventBridge rule)"
    )]
    UnexpectedEvent {
        /// The event's `source`.
        event_source: String,
        /// The event's `detail-type`.
        detail_type: String,
    },
    /// A field this event variant must carry is absent or empty.
    #[error("malformed CodeCommit event: `detail.{field}` is missing from a `{event}` event")]
    MissingField {
        /// The `detail.event` variant.
        event: String,
        /// The missing field's name in the event.
        field: &'static str,
    },
    /// A field is present but its value is not acceptable.
    #[error("malformed CodeCommit event: `detail.{field}`: {problem}")]
    InvalidField {
        /// The field's name in the event.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// Reads an event from JSON text and decides what it asks for.
///
/// The text is read into a [`serde_json::Value`] first, as the Lambda runtime does before
/// detect-changes sees it, so that both entry points decide alike: a key that appears twice in an
/// object keeps its last value in both. (Read straight into the event type, a repeated key was an
/// error here and not there; fuzzing found the difference, see `docs/RELIABILITY.md`.)
pub fn parse_event(json: &[u8]) -> Result<Trigger, EventError> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|error| EventError::Malformed(error.to_string()))?;
    parse_event_value(value)
}

/// Reads an event from an already parsed JSON value (what a Lambda receives) and decides what it
/// asks for.
pub fn parse_event_value(json: serde_json::Value) -> Result<Trigger, EventError> {
    let event: RepositoryStateChangeEvent =
        serde_path_to_error::deserialize(json).map_err(|error| malformed(&error))?;
    classify(&event)
}

fn malformed(error: &serde_path_to_error::Error<serde_json::Error>) -> EventError {
    let path = error.path().to_string();
    if path == "." {
        EventError::Malformed(error.inner().to_string())
    } else {
        EventError::Malformed(format!("`{path}`: {}", error.inner()))
    }
}

/// Decides what a well-formed event asks for, checking every field the decision relies on.
pub fn classify(event: &RepositoryStateChangeEvent) -> Result<Trigger, EventError> {
    if event.source != SOURCE || event.detail_type != DETAIL_TYPE {
        return Err(EventError::UnexpectedEvent {
            event_source: clip(&event.source, 100),
            detail_type: clip(&event.detail_type, 100),
        });
    }
    let detail = &event.detail;
    let repository = validate_repository_name(&detail.repository_name)?;
    let missing = |field| EventError::MissingField { event: clip(&detail.event, 100), field };

    let created = match detail.event.as_str() {
        "referenceCreated" => true,
        "referenceUpdated" | "referenceDeleted" => false,
        "unreferencedMergeCommitCreated" => {
            return Ok(Trigger::Ignored(Ignored::UnreferencedMergeCommit { repository }));
        }
        other => {
            return Ok(Trigger::Ignored(Ignored::OtherEvent { repository, event: clip(other, 100) }));
        }
    };

    let reference_type = present(&detail.reference_type).ok_or_else(|| missing("referenceType"))?;
    match reference_type {
        "branch" => {}
        "tag" => {
            let tag = reference_name(detail, "refs/tags/").ok_or_else(|| missing("referenceName"))?;
            return Ok(Trigger::Ignored(Ignored::Tag { repository, tag: clip(&tag, 200) }));
        }
        other => {
            return Ok(Trigger::Ignored(Ignored::OtherReferenceType { repository, reference_type: clip(other, 100) }));
        }
    }

    let branch = reference_name(detail, "refs/heads/").ok_or_else(|| missing("referenceName"))?;
    validate_branch_name(&branch)?;
    if let Some(full) = present(&detail.reference_full_name)
        && full.strip_prefix("refs/heads/") != Some(branch.as_str())
    {
        return Err(EventError::InvalidField {
            field: "referenceFullName",
            problem: format!("`{}` does not name branch `{branch}` (expected `refs/heads/{branch}`)", clip(full, 200)),
        });
    }

    if detail.event == "referenceDeleted" {
        return Ok(Trigger::Ignored(Ignored::BranchDeleted { repository, branch }));
    }

    let head = commit_field("commitId", &detail.commit_id)?.ok_or_else(|| missing("commitId"))?;
    if head.is_null() {
        return Err(EventError::InvalidField {
            field: "commitId",
            problem: "is the null commit id on a branch that was not deleted".to_owned(),
        });
    }
    let base = commit_field("oldCommitId", &detail.old_commit_id)?.filter(|id| !id.is_null());
    if !created && base.is_none() {
        return Err(missing("oldCommitId"));
    }

    let pushed_at = event.time.map(|time| time.timestamp()).ok_or_else(|| {
        EventError::Malformed(
            "`time` is missing: EventBridge sets it on every event, and deltaship orders pushes by it".to_owned(),
        )
    })?;

    Ok(Trigger::Push(Push {
        repository,
        branch,
        head,
        base,
        pushed_by: present(&detail.caller_user_arn).map(|arn| clip(arn, 2048)),
        pushed_at,
    }))
}

fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|value| !value.is_empty())
}

/// The short reference name: `referenceName`, or `referenceFullName` without its prefix.
fn reference_name(detail: &RepositoryStateChange, prefix: &str) -> Option<String> {
    present(&detail.reference_name)
        .or_else(|| present(&detail.reference_full_name).and_then(|full| full.strip_prefix(prefix)))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

fn commit_field(field: &'static str, value: &Option<String>) -> Result<Option<CommitId>, EventError> {
    match present(value) {
        None => Ok(None),
        Some(text) => CommitId::parse(text)
            .map(Some)
            .map_err(|error| EventError::InvalidField { field, problem: error.to_string() }),
    }
}

/// CodeCommit repository names: 1 to 100 ASCII letters, digits, `.`, `_` or `-`.
fn validate_repository_name(name: &str) -> Result<String, EventError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(EventError::InvalidField {
            field: "repositoryName",
            problem: format!(
                "`{}` is not a CodeCommit repository name (1 to 100 letters, digits, '.', '_' or '-')",
                clip(name, 120)
            ),
        })
    }
}

/// The rules of `git check-ref-format` that a branch name must follow.
fn validate_branch_name(branch: &str) -> Result<(), EventError> {
    let problem = if branch.len() > 1024 {
        Some("is longer than 1024 bytes")
    } else if branch.chars().any(|c| c.is_control() || c == ' ') {
        Some("contains a space or a control character")
    } else if branch.chars().any(|c| matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')) {
        Some("contains one of ~ ^ : ? * [ \\")
    } else if branch.contains("..") || branch.contains("@{") || branch.contains("//") {
        Some("contains `..`, `@{` or `//`")
    } else if branch.starts_with(['/', '-', '.']) || branch.ends_with(['/', '.']) || branch.ends_with(".lock") {
        Some("starts with '/', '-' or '.', or ends with '/', '.' or '.lock'")
    } else if branch.split('/').any(|part| part.starts_with('.')) {
        Some("has a path component starting with '.'")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(EventError::InvalidField {
            field: "referenceName",
            problem: format!("`{}` is not a valid branch name: it {problem}", clip(branch, 200)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const OLD: &str = "26a8f2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5";
    const NEW: &str = "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
    /// The fixtures' `time`, 2026-11-23T10:23:43Z.
    const PUSHED_AT: i64 = 1_795_429_423;

    fn event(detail: &Value) -> Value {
        json!({
            "version": "0",
            "id": "01234567-0123-0123-0123-012345678901",
            "detail-type": DETAIL_TYPE,
            "source": SOURCE,
            "account": "123456789012",
            "time": "2026-11-23T10:23:43Z",
            "region": "eu-west-1",
            "resources": ["arn:aws:codecommit:eu-west-1:123456789012:monorepo"],
            "detail": detail
        })
    }

    fn reference(event_name: &str, reference_type: &str, name: &str) -> Value {
        let prefix = if reference_type == "tag" { "refs/tags/" } else { "refs/heads/" };
        json!({
            "event": event_name,
            "repositoryName": "monorepo",
            "repositoryId": "12345678-1234-5678-abcd-12345678abcd",
            "referenceType": reference_type,
            "referenceName": name,
            "referenceFullName": format!("{prefix}{name}"),
            "callerUserArn": "arn:aws:iam::123456789012:user/dev"
        })
    }

    fn with(mut value: Value, key: &str, field: Value) -> Value {
        if let Value::Object(map) = &mut value {
            if field.is_null() {
                map.remove(key);
            } else {
                map.insert(key.to_owned(), field);
            }
        }
        value
    }

    fn push(branch: &str, base: Option<&str>) -> Trigger {
        Trigger::Push(Push {
            repository: "monorepo".to_owned(),
            branch: branch.to_owned(),
            head: CommitId::parse(NEW).unwrap(),
            base: base.map(|b| CommitId::parse(b).unwrap()),
            pushed_by: Some("arn:aws:iam::123456789012:user/dev".to_owned()),
            pushed_at: PUSHED_AT,
        })
    }

    #[test]
    fn decisions() {
        let updated = with(reference("referenceUpdated", "branch", "main"), "commitId", json!(NEW));
        let updated = with(updated, "oldCommitId", json!(OLD));
        let created = with(reference("referenceCreated", "branch", "feature/login"), "commitId", json!(NEW));
        let created_null_old = with(created.clone(), "oldCommitId", json!("0".repeat(40)));
        let deleted = with(reference("referenceDeleted", "branch", "old"), "oldCommitId", json!(OLD));
        let tag = with(reference("referenceCreated", "tag", "v1.0"), "commitId", json!(NEW));
        let short_name_only =
            with(with(updated.clone(), "referenceFullName", Value::Null), "referenceName", json!("main"));
        let full_name_only = with(updated.clone(), "referenceName", Value::Null);
        let upper = with(updated.clone(), "commitId", json!(NEW.to_ascii_uppercase()));
        let merge = json!({
            "event": "unreferencedMergeCommitCreated", "repositoryName": "monorepo",
            "commitId": NEW, "baseCommitId": OLD, "sourceCommitId": OLD,
            "destinationCommitId": OLD, "mergeOption": "SQUASH_MERGE"
        });
        let future = json!({"event": "referenceRenamed", "repositoryName": "monorepo"});
        let note = with(reference("referenceUpdated", "note", "x"), "commitId", json!(NEW));

        let table: Vec<(&str, Value, Trigger)> = vec![
            ("updated branch", updated, push("main", Some(OLD))),
            ("created branch", created, push("feature/login", None)),
            ("created branch, null old", created_null_old, push("feature/login", None)),
            ("short name only", short_name_only, push("main", Some(OLD))),
            ("full name only", full_name_only, push("main", Some(OLD))),
            ("upper-case ids", upper, push("main", Some(OLD))),
            (
                "deleted branch",
                deleted,
                Trigger::Ignored(Ignored::BranchDeleted { repository: "monorepo".into(), branch: "old".into() }),
            ),
            ("tag", tag, Trigger::Ignored(Ignored::Tag { repository: "monorepo".into(), tag: "v1.0".into() })),
            ("merge", merge, Trigger::Ignored(Ignored::UnreferencedMergeCommit { repository: "monorepo".into() })),
            (
                "unknown event",
                future,
                Trigger::Ignored(Ignored::OtherEvent {
                    repository: "monorepo".into(),
                    event: "referenceRenamed".into(),
                }),
            ),
            (
                "unknown reference type",
                note,
                Trigger::Ignored(Ignored::OtherReferenceType {
                    repository: "monorepo".into(),
                    reference_type: "note".into(),
                }),
            ),
        ];
        for (name, detail, expected) in table {
            let json = event(&detail);
            assert_eq!(parse_event(json.to_string().as_bytes()), Ok(expected.clone()), "{name}");
            assert_eq!(parse_event_value(json), Ok(expected), "{name} (value)");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let updated = with(reference("referenceUpdated", "branch", "main"), "commitId", json!(NEW));
        let updated = with(updated, "oldCommitId", json!(OLD));
        let table: Vec<(&str, Value, &str)> = vec![
            (
                "no oldCommitId on update",
                with(updated.clone(), "oldCommitId", Value::Null),
                "`detail.oldCommitId` is missing",
            ),
            ("no commitId", with(updated.clone(), "commitId", Value::Null), "`detail.commitId` is missing"),
            ("empty commitId", with(updated.clone(), "commitId", json!("")), "`detail.commitId` is missing"),
            (
                "short commitId",
                with(updated.clone(), "commitId", json!("7f0103f")),
                "`detail.commitId`: `7f0103f` is not a full commit id",
            ),
            (
                "doc placeholder",
                with(updated.clone(), "oldCommitId", json!("3e5983DESTINATION")),
                "`detail.oldCommitId`",
            ),
            ("null head", with(updated.clone(), "commitId", json!("0".repeat(40))), "null commit id"),
            (
                "commitId number",
                with(updated.clone(), "commitId", json!(5)),
                "`detail.commitId`: invalid type: integer `5`",
            ),
            (
                "no reference type",
                with(updated.clone(), "referenceType", Value::Null),
                "`detail.referenceType` is missing",
            ),
            (
                "no reference name",
                with(with(updated.clone(), "referenceName", Value::Null), "referenceFullName", Value::Null),
                "`detail.referenceName` is missing",
            ),
            (
                "bad branch",
                with(with(updated.clone(), "referenceName", json!("a..b")), "referenceFullName", Value::Null),
                "not a valid branch name",
            ),
            (
                "mismatched full name",
                with(updated.clone(), "referenceFullName", json!("refs/heads/other")),
                "`detail.referenceFullName`",
            ),
            ("bad repository", with(updated.clone(), "repositoryName", json!("my repo")), "`detail.repositoryName`"),
            ("empty repository", with(updated.clone(), "repositoryName", json!("")), "`detail.repositoryName`"),
            ("no repository", with(updated.clone(), "repositoryName", Value::Null), "missing field `repositoryName`"),
            ("no event", with(updated, "event", Value::Null), "missing field `event`"),
        ];
        for (name, detail, expected) in table {
            let error = parse_event(event(&detail).to_string().as_bytes()).unwrap_err();
            assert!(error.to_string().contains(expected), "{name}: {error}");
        }
    }

    #[test]
    fn envelope_problems_are_errors() {
        let detail = with(reference("referenceUpdated", "branch", "main"), "commitId", json!(NEW));
        let mut wrong_source = event(&detail);
        wrong_source["source"] = json!("aws.codebuild");
        let mut wrong_type = event(&detail);
        wrong_type["detail-type"] = json!("CodeCommit Pull Request State Change");
        let mut no_detail = event(&detail);
        no_detail.as_object_mut().unwrap().remove("detail");
        let mut bad_time = event(&detail);
        bad_time["time"] = json!("yesterday");
        let mut no_time = event(&with(detail, "oldCommitId", json!(OLD)));
        no_time.as_object_mut().unwrap().remove("time");

        let table: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty object", b"{}".to_vec(), "malformed CodeCommit event"),
            ("not json", b"push!".to_vec(), "malformed CodeCommit event"),
            ("empty input", Vec::new(), "malformed CodeCommit event"),
            ("array", b"[]".to_vec(), "malformed CodeCommit event"),
            ("null", b"null".to_vec(), "malformed CodeCommit event"),
            ("wrong source", wrong_source.to_string().into_bytes(), "got source `aws.codebuild`"),
            ("wrong detail-type", wrong_type.to_string().into_bytes(), "CodeCommit Pull Request State Change"),
            ("no detail", no_detail.to_string().into_bytes(), "missing field `detail`"),
            ("bad time", bad_time.to_string().into_bytes(), "`time`"),
            ("a push without time", no_time.to_string().into_bytes(), "`time` is missing"),
        ];
        for (name, json, expected) in table {
            let error = parse_event(&json).unwrap_err();
            assert!(error.to_string().contains(expected), "{name}: {error}");
        }
    }

    #[test]
    fn a_repeated_key_reads_the_same_from_bytes_and_from_a_value() {
        // fuzz/artifacts/event_parsing/crash-72e28329c8334435b76fd7ac9fa5a1cbae8aee22, reduced.
        let mut text =
            event(&with(reference("referenceUpdated", "branch", "main"), "commitId", json!(NEW))).to_string();
        text = text.replacen("\"event\":", "\"event\":\"referenceDeleted\",\"event\":", 1);
        let from_bytes = parse_event(text.as_bytes());
        let from_value = parse_event_value(serde_json::from_str(&text).unwrap());
        assert_eq!(from_bytes, from_value);
        assert!(from_bytes.is_err(), "the last `event` wins: a referenceUpdated without oldCommitId");
    }

    #[test]
    fn branch_names() {
        for ok in ["main", "feature/login", "release-1.2", "user/jo_doe/fix", "ünïcode"] {
            assert!(validate_branch_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a b", "a..b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "/a", "a/", "-a", "a.lock", "a/.b", "a@{1}",
            "a//b", "a\u{7}",
        ] {
            assert!(validate_branch_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ignored_reasons_read_as_sentences() {
        let reason = Ignored::BranchDeleted { repository: "r".into(), branch: "b".into() }.to_string();
        assert_eq!(reason, "branch `b` of `r` was deleted: there is no commit to deploy");
        let reason = Ignored::Tag { repository: "r".into(), tag: "v1".into() }.to_string();
        assert!(reason.contains("deploys branches only"), "{reason}");
    }
}
