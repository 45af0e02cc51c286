//! Reading a push from CodeCommit: the changed paths between two commits, and the manifests at
//! the pushed commit.

use aws_sdk_codecommit::Client;
use deltaship_core::manifest::MANIFEST_FILE;
use deltaship_core::roots::ServiceRoots;
use deltaship_core::settings::SETTINGS_FILE;
use deltaship_core::{Change, CommitId, ErrorKind, Failure, SourceFile};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::aws_error;

/// Error codes every CodeCommit read shares.
const NOT_FOUND: [(&str, ErrorKind); 3] = [
    ("RepositoryDoesNotExistException", ErrorKind::RepositoryNotFound),
    ("CommitDoesNotExistException", ErrorKind::CommitNotFound),
    ("InvalidCommitException", ErrorKind::CommitNotFound),
];

/// Every changed path between `before` and `after`, over every page of `GetDifferences` (each
/// page asked with the same two commits). A move is one [`Change::Moved`], so both of its sides
/// count.
pub async fn changes(
    client: &Client,
    repository: &str,
    before: &CommitId,
    after: &CommitId,
) -> Result<Vec<Change>, Failure> {
    let target = format!("{repository} {}..{}", before.short(), after.short());
    let mut pages = client
        .get_differences()
        .repository_name(repository)
        .before_commit_specifier(before.as_str())
        .after_commit_specifier(after.as_str())
        .into_paginator()
        .send();
    let mut changes = Vec::new();
    let mut page_count = 0_usize;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| aws_error::failure("GetDifferences", &target, &err, &NOT_FOUND))?;
        page_count += 1;
        changes.extend(page.differences().iter().filter_map(|difference| {
            let path = |blob: Option<&aws_sdk_codecommit::types::BlobMetadata>| {
                blob.and_then(|blob| blob.path()).map(|path| path.trim_start_matches('/').to_owned())
            };
            Change::from_sides(path(difference.before_blob()), path(difference.after_blob()))
        }));
    }
    tracing::info!(repository, pages = page_count, changes = changes.len(), "read the differences of {target}");
    Ok(changes)
}

/// The file at `path` in `commit`, or `None` if there is no such file.
pub async fn file(
    client: &Client,
    repository: &str,
    commit: &CommitId,
    path: &str,
) -> Result<Option<SourceFile>, Failure> {
    let response =
        client.get_file().repository_name(repository).commit_specifier(commit.as_str()).file_path(path).send().await;
    match response {
        Ok(output) => Ok(Some(SourceFile::new(path, output.file_content().as_ref()))),
        Err(err) if aws_error::code(&err) == Some("FileDoesNotExistException") => Ok(None),
        Err(err) => {
            Err(aws_error::failure("GetFile", &format!("{repository}:{path} at {}", commit.short()), &err, &NOT_FOUND))
        }
    }
}

/// The settings file (`deltaship.toml`) at `commit`, if there is one.
pub async fn settings(client: &Client, repository: &str, commit: &CommitId) -> Result<Option<SourceFile>, Failure> {
    file(client, repository, commit, SETTINGS_FILE).await
}

/// Every service's `service.toml` at `commit`, sorted by path: the folders `roots` match
/// ([`ServiceRoots::step`]), found level by level with `GetFolder` where a root has a glob (and
/// by name where it is literal), then each folder's manifest with `GetFile`, at most
/// `concurrency` calls at once. A matched folder without a manifest (a shared library) is not a
/// service. The default roots (`services/*`) cost one `GetFolder` and one `GetFile` a service.
pub async fn manifests(
    client: &Client,
    repository: &str,
    commit: &CommitId,
    roots: &ServiceRoots,
    concurrency: usize,
) -> Result<Vec<SourceFile>, Failure> {
    let concurrency = concurrency.max(1);
    let mut services = Vec::new();
    let mut level = vec![String::new()];
    while !level.is_empty() {
        let mut next = Vec::new();
        let mut to_list = Vec::new();
        for folder in level {
            let step = roots.step(&folder);
            if step.service {
                services.push(folder.clone());
            }
            next.extend(step.children);
            if step.list {
                to_list.push(folder);
            }
        }
        let listed: Vec<Vec<String>> = stream::iter(to_list)
            .map(|folder| async move { sub_folders(client, repository, commit, &folder).await })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        next.extend(listed.into_iter().flatten().filter(|folder| roots.leads_to(folder)));
        level = next;
    }
    let mut manifests: Vec<SourceFile> = stream::iter(services)
        .map(|folder| async move { file(client, repository, commit, &format!("{folder}/{MANIFEST_FILE}")).await })
        .buffer_unordered(concurrency)
        .try_filter_map(|manifest| async move { Ok(manifest) })
        .try_collect()
        .await?;
    manifests.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(manifests)
}

/// The folders directly inside `folder` (`""`: the root) at `commit` (`GetFolder`), as
/// repository-relative paths; none if there is no such folder.
async fn sub_folders(
    client: &Client,
    repository: &str,
    commit: &CommitId,
    folder: &str,
) -> Result<Vec<String>, Failure> {
    // CodeCommit names the root `/`.
    let asked = if folder.is_empty() { "/" } else { folder };
    let answer = client
        .get_folder()
        .repository_name(repository)
        .commit_specifier(commit.as_str())
        .folder_path(asked)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) if aws_error::code(&err) == Some("FolderDoesNotExistException") => return Ok(Vec::new()),
        Err(err) => {
            let target = format!("{repository}:{asked} at {}", commit.short());
            return Err(aws_error::failure("GetFolder", &target, &err, &NOT_FOUND));
        }
    };
    Ok(answer
        .sub_folders()
        .iter()
        .filter_map(|sub_folder| sub_folder.relative_path())
        .map(|name| {
            let name = name.trim_matches('/');
            if folder.is_empty() { name.to_owned() } else { format!("{folder}/{name}") }
        })
        .collect())
}

/// The message of `commit` (`GetCommit`), for `[skip deploy]`.
pub async fn commit_message(client: &Client, repository: &str, commit: &CommitId) -> Result<String, Failure> {
    let answer =
        client.get_commit().repository_name(repository).commit_id(commit.as_str()).send().await.map_err(|err| {
            aws_error::failure("GetCommit", &format!("{repository} {}", commit.short()), &err, &NOT_FOUND)
        })?;
    Ok(answer.commit().and_then(|commit| commit.message()).unwrap_or_default().to_owned())
}

/// The commit `branch` points to (`GetBranch`), or `None` if the branch does not exist.
pub async fn branch_head(client: &Client, repository: &str, branch: &str) -> Result<Option<CommitId>, Failure> {
    let target = format!("{repository}@{branch}");
    let answer = match client.get_branch().repository_name(repository).branch_name(branch).send().await {
        Ok(answer) => answer,
        Err(err) if aws_error::code(&err) == Some("BranchDoesNotExistException") => return Ok(None),
        Err(err) => return Err(aws_error::failure("GetBranch", &target, &err, &NOT_FOUND)),
    };
    let Some(id) = answer.branch().and_then(|branch| branch.commit_id()) else {
        return Ok(None);
    };
    CommitId::parse(id)
        .map(Some)
        .map_err(|error| Failure::new(ErrorKind::AwsError, format!("GetBranch {target}: {error}")))
}

/// Every branch of `repository` (`ListBranches`, every page), sorted by name.
pub async fn branches(client: &Client, repository: &str) -> Result<Vec<String>, Failure> {
    let mut pages = client.list_branches().repository_name(repository).into_paginator().send();
    let mut branches = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| aws_error::failure("ListBranches", repository, &err, &NOT_FOUND))?;
        branches.extend(page.branches().iter().cloned());
    }
    branches.sort();
    Ok(branches)
}
