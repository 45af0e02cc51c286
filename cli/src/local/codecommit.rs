//! CodeCommit, answered from a local git repository: the reads detect-changes and
//! reconcile-pushes make (`GetDifferences`, `GetFile`, `GetFolder`, `GetCommit`, `GetBranch`,
//! `ListBranches`), in
//! CodeCommit's JSON shapes and with its error codes, so the Lambdas run their real code paths
//! against the repository you work in. (`GetCommit` lists the first parent only.)

use std::path::PathBuf;

use deltaship_core::{Change, CommitId};
use serde_json::{Value, json};

use super::front::ApiError;
use crate::git::{GitError, GitRepo};

/// `GetDifferences`' page size when the caller does not say (as CodeCommit's).
const PAGE_SIZE: usize = 100;

/// The repository the local stack serves as CodeCommit.
#[derive(Debug, Clone)]
pub struct LocalRepository {
    /// Its CodeCommit name (events and calls must use it).
    pub name: String,
    /// Its folder.
    pub path: PathBuf,
}

impl LocalRepository {
    /// Answers the CodeCommit operation `operation` with `request`'s parameters.
    pub fn answer(&self, operation: &str, request: &Value) -> Result<Value, ApiError> {
        let text = |field: &str| request.get(field).and_then(Value::as_str);
        let asked = text("repositoryName").unwrap_or_default();
        if asked != self.name {
            return Err(ApiError::client(
                "RepositoryDoesNotExistException",
                format!("{asked} does not exist (the local stack serves only {})", self.name),
            ));
        }
        let git = GitRepo::open(&self.path).map_err(|error| git_error(&error))?;
        let commit = |field: &str| -> Result<CommitId, ApiError> {
            let revision = text(field).ok_or_else(|| {
                ApiError::client(&format!("{}RequiredException", capitalised(field)), format!("{field} is required"))
            })?;
            git.resolve(revision).map_err(|error| {
                ApiError::client("CommitDoesNotExistException", format!("{field} {revision}: {error}"))
            })
        };
        match operation {
            "GetDifferences" => {
                let after = commit("afterCommitSpecifier")?;
                let changes = match text("beforeCommitSpecifier") {
                    Some(_) => git.changes(&commit("beforeCommitSpecifier")?, &after).map_err(|e| git_error(&e))?,
                    None => Vec::new(),
                };
                differences_page(&changes, request)
            }
            "GetFile" => {
                let commit = commit("commitSpecifier")?;
                let path = text("filePath").unwrap_or_default().trim_matches('/');
                let file = git.file_at(&commit, path).map_err(|error| git_error(&error))?.ok_or_else(|| {
                    ApiError::client(
                        "FileDoesNotExistException",
                        format!("{path} does not exist at {}", commit.short()),
                    )
                })?;
                Ok(json!({
                    "commitId": commit.as_str(),
                    "blobId": "",
                    "filePath": path,
                    "fileMode": "NORMAL",
                    "fileSize": file.contents.len(),
                    "fileContent": aws_smithy_types::base64::encode(&file.contents),
                }))
            }
            "GetFolder" => {
                let commit = commit("commitSpecifier")?;
                let path = text("folderPath").unwrap_or_default().trim_matches('/');
                let folders = git.folders_at(&commit, path).map_err(|error| git_error(&error))?.ok_or_else(|| {
                    ApiError::client(
                        "FolderDoesNotExistException",
                        format!("{path} does not exist at {}", commit.short()),
                    )
                })?;
                let sub_folders: Vec<Value> = folders
                    .iter()
                    .map(|name| {
                        let absolute = if path.is_empty() { name.clone() } else { format!("{path}/{name}") };
                        json!({ "absolutePath": absolute, "relativePath": name })
                    })
                    .collect();
                Ok(json!({
                    "commitId": commit.as_str(),
                    "folderPath": path,
                    "subFolders": sub_folders,
                    "files": [],
                    "symbolicLinks": [],
                    "subModules": [],
                }))
            }
            "GetCommit" => {
                let commit = commit("commitId")?;
                let message = git.message_of(&commit).map_err(|error| git_error(&error))?;
                let parents: Vec<String> = git
                    .first_parent(&commit)
                    .map_err(|error| git_error(&error))?
                    .map(|parent| parent.as_str().to_owned())
                    .into_iter()
                    .collect();
                Ok(json!({ "commit": { "commitId": commit.as_str(), "message": message, "parents": parents } }))
            }
            "GetBranch" => {
                let branch = text("branchName").unwrap_or_default();
                let head = git.branch_head(branch).map_err(|error| git_error(&error))?.ok_or_else(|| {
                    ApiError::client("BranchDoesNotExistException", format!("there is no branch {branch:?}"))
                })?;
                Ok(json!({ "branch": { "branchName": branch, "commitId": head.as_str() } }))
            }
            // Every branch on one page: CodeCommit pages by 100, which a local repository
            // rarely passes, and the reconciler reads every page alike.
            "ListBranches" => Ok(json!({ "branches": git.branches().map_err(|error| git_error(&error))? })),
            other => Err(ApiError::client(
                "InvalidActionException",
                format!(
                    "the local stack's CodeCommit answers GetDifferences, GetFile, GetFolder, GetCommit, \
                     GetBranch and ListBranches, not {other}"
                ),
            )),
        }
    }
}

/// One page of `GetDifferences`: `MaxResults` (else [`PAGE_SIZE`]) differences from the offset
/// in `NextToken`.
fn differences_page(changes: &[Change], request: &Value) -> Result<Value, ApiError> {
    let start = match request.get("NextToken").and_then(Value::as_str) {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| ApiError::client("InvalidContinuationTokenException", format!("{token:?} is not a token")))?,
        None => 0,
    };
    let size = request
        .get("MaxResults")
        .and_then(Value::as_u64)
        .and_then(|size| usize::try_from(size).ok())
        .filter(|size| *size > 0)
        .unwrap_or(PAGE_SIZE);
    let blob = |path: &str| json!({ "path": path, "mode": "100644" });
    let page: Vec<Value> = changes
        .iter()
        .skip(start)
        .take(size)
        .map(|change| match change {
            Change::Added(path) => json!({ "afterBlob": blob(path), "changeType": "A" }),
            Change::Modified(path) => json!({ "beforeBlob": blob(path), "afterBlob": blob(path), "changeType": "M" }),
            Change::Deleted(path) => json!({ "beforeBlob": blob(path), "changeType": "D" }),
            Change::Moved { from, to } => json!({ "beforeBlob": blob(from), "afterBlob": blob(to), "changeType": "M" }),
        })
        .collect();
    Ok(if start + size < changes.len() {
        json!({ "differences": page, "NextToken": (start + size).to_string() })
    } else {
        json!({ "differences": page })
    })
}

fn capitalised(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn git_error(error: &GitError) -> ApiError {
    if error.is_bad_input() {
        ApiError::client("CommitDoesNotExistException", error.to_string())
    } else {
        ApiError::server("InternalFailure", error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(count: usize) -> Vec<Change> {
        (0..count).map(|index| Change::Modified(format!("services/s/file{index:03}"))).collect()
    }

    #[test]
    fn differences_come_in_pages_linked_by_next_token() {
        let all = changes(5);
        let first = differences_page(&all, &json!({ "MaxResults": 2 })).unwrap_or_default();
        assert_eq!(first["differences"].as_array().map(Vec::len), Some(2));
        assert_eq!(first["NextToken"], "2");
        let last = differences_page(&all, &json!({ "MaxResults": 2, "NextToken": "4" })).unwrap_or_default();
        assert_eq!(last["differences"][0]["afterBlob"]["path"], "services/s/file004");
        assert!(last.get("NextToken").is_none());
        let whole = differences_page(&all, &json!({})).unwrap_or_default();
        assert_eq!(whole["differences"].as_array().map(Vec::len), Some(5));
    }

    #[test]
    fn each_kind_of_change_has_codecommit_sides() {
        let all = vec![
            Change::Added("a".into()),
            Change::Deleted("d".into()),
            Change::Moved { from: "f".into(), to: "t".into() },
        ];
        let page = differences_page(&all, &json!({})).unwrap_or_default();
        assert_eq!(
            page["differences"][0],
            json!({ "afterBlob": { "path": "a", "mode": "100644" }, "changeType": "A" })
        );
        assert_eq!(
            page["differences"][1],
            json!({ "beforeBlob": { "path": "d", "mode": "100644" }, "changeType": "D" })
        );
        assert_eq!(page["differences"][2]["beforeBlob"]["path"], "f");
        assert_eq!(page["differences"][2]["afterBlob"]["path"], "t");
    }

    #[test]
    fn a_bad_token_is_the_callers_error() {
        let error = differences_page(&changes(1), &json!({ "NextToken": "x" })).err();
        assert_eq!(error.map(|error| error.code), Some("InvalidContinuationTokenException".to_owned()));
    }
}
