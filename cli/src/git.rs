//! A local git repository as a change source, read with gix (no `git` process).
//!
//! It answers the three questions the planner needs: which commit a revision names, which paths
//! differ between two commits (a tree-to-tree diff, as CodeCommit's `GetDifferences` computes
//! it), and what the manifests say at a commit.

use std::path::{Path, PathBuf};

use deltaship_core::manifest::MANIFEST_FILE;
use deltaship_core::settings::SETTINGS_FILE;
use deltaship_core::{Change, CommitId, SourceFile};
use gix::bstr::ByteSlice;
use gix::diff::tree::recorder;

/// An open git repository.
pub struct GitRepo {
    repo: gix::Repository,
    path: PathBuf,
}

/// Why the repository could not answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The path is not inside a git repository.
    #[error("`{}` is not a git repository (or inside one): {message}", path.display())]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// What gix reported.
        message: String,
    },
    /// The revision names nothing in the repository, or nothing that leads to a commit.
    #[error("unknown revision `{revision}` in `{}`: {message}", repo.display())]
    UnknownRevision {
        /// The revision as given.
        revision: String,
        /// The repository.
        repo: PathBuf,
        /// What gix reported.
        message: String,
    },
    /// The repository could not be read (a missing or corrupt object).
    #[error("could not read {what} in `{}`: {message}", repo.display())]
    Read {
        /// What was being read.
        what: String,
        /// The repository.
        repo: PathBuf,
        /// What gix reported.
        message: String,
    },
}

impl GitError {
    /// Whether the problem is the caller's input (a wrong path or revision) rather than the
    /// repository's state.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::NotARepository { .. } | Self::UnknownRevision { .. })
    }
}

impl GitRepo {
    /// Opens the repository containing `path` (like `git -C <path>`).
    pub fn open(path: &Path) -> Result<Self, GitError> {
        let repo = gix::discover(path)
            .map_err(|error| GitError::NotARepository { path: path.to_owned(), message: one_line(&error) })?;
        Ok(Self { repo, path: path.to_owned() })
    }

    /// Whether the repository has no work tree.
    pub fn is_bare(&self) -> bool {
        self.repo.workdir().is_none()
    }

    /// The repository's top folder (its work tree, or the git folder of a bare repository).
    pub fn root(&self) -> &Path {
        self.repo.workdir().unwrap_or_else(|| self.repo.git_dir())
    }

    /// The commit a revision (`HEAD`, a branch, a tag, a full or abbreviated id, `HEAD~2`, ...)
    /// names.
    pub fn resolve(&self, revision: &str) -> Result<CommitId, GitError> {
        let unknown = |message: String| GitError::UnknownRevision {
            revision: revision.to_owned(),
            repo: self.path.clone(),
            message,
        };
        let commit = self
            .repo
            .rev_parse_single(revision)
            .and_then(|id| id.object())
            .and_then(gix::Object::peel_to_commit)
            .map_err(|error| {
                let unborn = self.repo.head().is_ok_and(|head| head.is_unborn());
                if unborn && revision.starts_with("HEAD") {
                    unknown("the repository has no commits yet".to_owned())
                } else {
                    unknown(format!("no commit by that name ({})", one_line(&error)))
                }
            })?;
        CommitId::parse(&commit.id.to_string()).map_err(|error| unknown(error.to_string()))
    }

    /// The local branch a revision names: `HEAD` when it points to a branch, `main`, or
    /// `refs/heads/main`; `None` for anything else (an id, a tag, `HEAD~2`, a detached head).
    pub fn branch_of(&self, revision: &str) -> Option<String> {
        let full = if revision == "HEAD" {
            self.repo.head_name().ok().flatten()?.as_bstr().to_string()
        } else if revision.starts_with("refs/heads/") {
            revision.to_owned()
        } else {
            format!("refs/heads/{revision}")
        };
        let reference = self.repo.try_find_reference(full.as_str()).ok().flatten()?;
        reference.name().as_bstr().to_string().strip_prefix("refs/heads/").map(ToOwned::to_owned)
    }

    /// Every path that differs between the trees of `base` and `head`, in path order.
    ///
    /// No rename detection: a moved file is its old path deleted and its new path added, which
    /// is what the planner needs (both sides of a move are changes).
    pub fn changes(&self, base: &CommitId, head: &CommitId) -> Result<Vec<Change>, GitError> {
        let base_tree = self.tree(base)?;
        let head_tree = self.tree(head)?;
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            gix::objs::TreeRefIter::from_bytes(&base_tree.data, base_tree.id.kind()),
            gix::objs::TreeRefIter::from_bytes(&head_tree.data, head_tree.id.kind()),
            gix::diff::tree::State::default(),
            &self.repo.objects,
            &mut recorder,
        )
        .map_err(|error| self.read_error(format!("the diff of {} and {}", base.short(), head.short()), &error))?;

        let mut changes: Vec<Change> = recorder
            .records
            .into_iter()
            .filter_map(|record| match record {
                recorder::Change::Addition { entry_mode, path, .. } if !entry_mode.is_tree() => {
                    Some(Change::Added(path.to_str_lossy().into_owned()))
                }
                recorder::Change::Deletion { entry_mode, path, .. } if !entry_mode.is_tree() => {
                    Some(Change::Deleted(path.to_str_lossy().into_owned()))
                }
                recorder::Change::Modification { previous_entry_mode, entry_mode, path, .. } => {
                    let path = path.to_str_lossy().into_owned();
                    match (previous_entry_mode.is_tree(), entry_mode.is_tree()) {
                        (false, false) => Some(Change::Modified(path)),
                        // A folder became a file or the other way round: the file side is the
                        // change; what was inside the folder is reported entry by entry.
                        (true, false) => Some(Change::Added(path)),
                        (false, true) => Some(Change::Deleted(path)),
                        (true, true) => None,
                    }
                }
                _ => None,
            })
            .collect();
        // Path order (not tree order, where `a/` sorts after `a.b`), so that the planner's own
        // sort of the paths finds them already in order.
        changes.sort_unstable_by(|a, b| a.paths().cmp(b.paths()));
        Ok(changes)
    }

    /// `deltaship.toml` (if any) and every service's `service.toml` at `commit`, sorted by path:
    /// the folders its service roots match ([`deltaship_core::roots::ServiceRoots::step`]), reading only the trees on
    /// the way to them.
    pub fn manifests(&self, commit: &CommitId) -> Result<(Option<SourceFile>, Vec<SourceFile>), GitError> {
        let tree = self.tree(commit)?;
        let settings = self.file_in(&tree, SETTINGS_FILE, SETTINGS_FILE)?;
        let roots = deltaship_core::settings::roots_of(settings.as_ref());

        let mut manifests = Vec::new();
        let mut frontier = vec![(String::new(), tree)];
        while let Some((folder, tree)) = frontier.pop() {
            let what = || format!("`{folder}` at {}", commit.short());
            let step = roots.step(&folder);
            if step.service {
                let path = format!("{folder}/{MANIFEST_FILE}");
                if let Some(file) = self.file_in(&tree, MANIFEST_FILE, &path)? {
                    manifests.push(file);
                }
            }
            let mut children = Vec::new();
            if step.list {
                for entry in tree.iter() {
                    let entry = entry.map_err(|error| self.read_error(what(), &error))?;
                    let child = join(&folder, &entry.filename().to_str_lossy());
                    if entry.mode().is_tree() && roots.leads_to(&child) {
                        let object = entry.object().map_err(|error| self.read_error(what(), &error))?;
                        children.push((child, object));
                    }
                }
            } else {
                for child in step.children {
                    let name = deltaship_core::roots::service_name(&child);
                    if let Some(entry) = tree.find_entry(name).filter(|entry| entry.mode().is_tree()) {
                        let object = entry.object().map_err(|error| self.read_error(what(), &error))?;
                        children.push((child, object));
                    }
                }
            }
            for (child, object) in children {
                let subtree = object.peel_to_tree().map_err(|error| self.read_error(format!("`{child}`"), &error))?;
                frontier.push((child, subtree));
            }
        }
        manifests.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((settings, manifests))
    }

    /// Every file (and symlink) in `commit`, repository-relative, sorted.
    pub fn files_at(&self, commit: &CommitId) -> Result<Vec<String>, GitError> {
        let tree = self.tree(commit)?;
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut recorder)
            .map_err(|error| self.read_error(format!("the files at {}", commit.short()), &error))?;
        let mut files: Vec<String> = recorder
            .records
            .into_iter()
            .filter(|entry| entry.mode.is_blob_or_symlink())
            .map(|entry| entry.filepath.to_str_lossy().into_owned())
            .collect();
        files.sort_unstable();
        Ok(files)
    }

    /// The file at `path` (repository-relative, `/`-separated) in `commit`, if there is a file
    /// (or symlink) there.
    pub fn file_at(&self, commit: &CommitId, path: &str) -> Result<Option<SourceFile>, GitError> {
        let tree = self.tree(commit)?;
        let entry = tree
            .lookup_entry_by_path(path)
            .map_err(|error| self.read_error(format!("`{path}` at {}", commit.short()), &error))?;
        let Some(entry) = entry.filter(|entry| entry.mode().is_blob_or_symlink()) else { return Ok(None) };
        let blob = entry.object().map_err(|error| self.read_error(format!("`{path}`"), &error))?;
        Ok(Some(SourceFile::new(path, blob.detach().data)))
    }

    /// The names of the folders directly inside the folder `path` in `commit` (the root for an
    /// empty path), sorted; `None` if there is no such folder.
    pub fn folders_at(&self, commit: &CommitId, path: &str) -> Result<Option<Vec<String>>, GitError> {
        let what = || format!("`{path}` at {}", commit.short());
        let root = self.tree(commit)?;
        let folder = if path.is_empty() {
            root
        } else {
            let entry = root.lookup_entry_by_path(path).map_err(|error| self.read_error(what(), &error))?;
            let Some(entry) = entry.filter(|entry| entry.mode().is_tree()) else { return Ok(None) };
            entry.object().and_then(gix::Object::peel_to_tree).map_err(|error| self.read_error(what(), &error))?
        };
        let mut names = Vec::new();
        for entry in folder.iter() {
            let entry = entry.map_err(|error| self.read_error(what(), &error))?;
            if entry.mode().is_tree() {
                names.push(entry.filename().to_str_lossy().into_owned());
            }
        }
        names.sort();
        Ok(Some(names))
    }

    /// The message of `commit`.
    pub fn message_of(&self, commit: &CommitId) -> Result<String, GitError> {
        let what = || format!("the message of commit {}", commit.short());
        let found = self.commit(commit, what)?;
        let message = found.message_raw().map_err(|error| self.read_error(what(), &error))?;
        Ok(message.to_str_lossy().into_owned())
    }

    /// The commit the local branch `branch` points to, if there is such a branch.
    pub fn branch_head(&self, branch: &str) -> Result<Option<CommitId>, GitError> {
        let name = format!("refs/heads/{branch}");
        let found = self
            .repo
            .try_find_reference(name.as_str())
            .map_err(|error| self.read_error(format!("branch {branch}"), &error))?;
        match found {
            Some(_) => self.resolve(&name).map(Some),
            None => Ok(None),
        }
    }

    /// The names of the repository's local branches, sorted.
    pub fn branches(&self) -> Result<Vec<String>, GitError> {
        let references = self.repo.references().map_err(|error| self.read_error("the branches".into(), &error))?;
        let iter = references.local_branches().map_err(|error| self.read_error("the branches".into(), &error))?;
        let mut branches = Vec::new();
        for reference in iter {
            let reference = reference.map_err(|error| self.read_error("a branch".into(), &error))?;
            branches.push(reference.name().shorten().to_string());
        }
        branches.sort();
        Ok(branches)
    }

    /// A push as `deltaship local run` and `local push` make one, as
    /// (branch, base, head): `head` resolved; `base` resolved, or `head`'s first parent when not
    /// given (none for a root commit: a first push); the branch the `head` revision names, else
    /// the one checked out, else `main`.
    pub fn push_of(&self, head: &str, base: Option<&str>) -> Result<(String, Option<CommitId>, CommitId), GitError> {
        let commit = self.resolve(head)?;
        let base = match base {
            Some(base) => Some(self.resolve(base)?),
            None => self.first_parent(&commit)?,
        };
        let branch = self.branch_of(head).or_else(|| self.branch_of("HEAD")).unwrap_or_else(|| "main".to_owned());
        Ok((branch, base, commit))
    }

    /// The first parent of `commit`; `None` for a root commit.
    pub fn first_parent(&self, commit: &CommitId) -> Result<Option<CommitId>, GitError> {
        let what = || format!("the parents of commit {}", commit.short());
        let found = self.commit(commit, what)?;
        let Some(parent) = found.parent_ids().next() else { return Ok(None) };
        CommitId::parse(&parent.to_string()).map(Some).map_err(|error| self.read_error(what(), &error))
    }

    fn tree(&self, commit: &CommitId) -> Result<gix::Tree<'_>, GitError> {
        let what = || format!("the tree of commit {}", commit.short());
        self.commit(commit, what)?.tree().map_err(|error| self.read_error(what(), &error))
    }

    /// The commit object of `commit`; `what` names the read in an error.
    fn commit(&self, commit: &CommitId, what: impl Fn() -> String) -> Result<gix::Commit<'_>, GitError> {
        let id =
            gix::ObjectId::from_hex(commit.as_str().as_bytes()).map_err(|error| self.read_error(what(), &error))?;
        self.repo.find_commit(id).map_err(|error| self.read_error(what(), &error))
    }

    /// The file `name` directly in `tree`, if there is a file (or symlink) there, as the
    /// repository-relative `path`.
    fn file_in(&self, tree: &gix::Tree<'_>, name: &str, path: &str) -> Result<Option<SourceFile>, GitError> {
        let Some(entry) = tree.find_entry(name).filter(|entry| entry.mode().is_blob_or_symlink()) else {
            return Ok(None);
        };
        let blob = entry.object().map_err(|error| self.read_error(format!("`{path}`"), &error))?;
        Ok(Some(SourceFile::new(path, blob.detach().data)))
    }

    fn read_error(&self, what: String, error: &dyn std::fmt::Display) -> GitError {
        GitError::Read { what, repo: self.path.clone(), message: one_line(error) }
    }
}

/// `folder/name`, or `name` at the root.
fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() { name.to_owned() } else { format!("{folder}/{name}") }
}

/// gix errors can span several lines; messages here are one line.
fn one_line(error: &dyn std::fmt::Display) -> String {
    error.to_string().lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(": ")
}
