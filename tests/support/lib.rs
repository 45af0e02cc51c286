//! Helpers shared by deltaship's tests: real git repositories in temporary folders, built with
//! gix, and the paths of the fixtures kept beside these tests.
//!
//! ```
//! use deltaship_tests::{TestRepo, manifest};
//!
//! let repo = TestRepo::new();
//! let first = repo.commit("HEAD", &[], &[("services/api/service.toml", Some(&manifest("api", "")))]);
//! let second = repo.commit("HEAD", &[&first], &[("services/api/src/main.rs", Some("fn main() {}"))]);
//! assert_ne!(first, second);
//! ```

// This is test scaffolding: when setting up a repository fails, the machine is broken and the
// test must stop there, so `expect` with a message is the right tool.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use gix::objs::tree::EntryKind;
use tempfile::TempDir;

/// The folder of fixtures (`tests/fixtures` of the workspace under test). Found from the package
/// cargo runs the tests of (its `CARGO_MANIFEST_DIR` at run time), so that a build kept in a
/// shared target folder from another checkout of the same sources still reads this checkout's
/// fixtures; the path this crate was compiled at is the fallback.
pub fn fixtures_dir() -> PathBuf {
    let running = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    running
        .iter()
        .flat_map(|package| package.ancestors())
        .map(|folder| folder.join("tests/fixtures"))
        .find(|fixtures| fixtures.is_dir())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
}

/// A git repository in a temporary folder, deleted when dropped.
pub struct TestRepo {
    dir: TempDir,
    repo: gix::Repository,
}

/// One edit of a commit: write `Some(contents)` at the path, or delete it (`None`).
pub type Edit<'a> = (&'a str, Option<&'a str>);

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRepo {
    /// An empty repository whose `HEAD` points to the unborn branch `main`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        let repo = gix::init(dir.path()).expect("initialise a git repository");
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").expect("point HEAD at main");
        Self { dir, repo }
    }

    /// The repository's folder (its work tree).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a commit whose tree is the first parent's tree (or the empty tree) with `edits`
    /// applied, moves `reference` (`HEAD` or `refs/heads/<branch>`) to it, and returns its id.
    pub fn commit(&self, reference: &str, parents: &[&str], edits: &[Edit<'_>]) -> String {
        self.commit_with_message(reference, parents, edits, &format!("commit {} edits", edits.len()))
    }

    /// As [`TestRepo::commit`], with `message` as the commit message.
    pub fn commit_with_message(&self, reference: &str, parents: &[&str], edits: &[Edit<'_>], message: &str) -> String {
        let parent_ids: Vec<gix::ObjectId> = parents
            .iter()
            .map(|id| gix::ObjectId::from_hex(id.as_bytes()).expect("parents are full commit ids"))
            .collect();
        let base_tree = match parent_ids.first() {
            Some(parent) => self.repo.find_commit(*parent).expect("parent exists").tree_id().expect("tree").detach(),
            None => gix::ObjectId::empty_tree(self.repo.object_hash()),
        };
        let mut editor = self.repo.edit_tree(base_tree).expect("edit the tree");
        for (path, contents) in edits {
            match contents {
                Some(contents) => {
                    let blob = self.repo.write_blob(contents.as_bytes()).expect("write a blob");
                    editor.upsert(*path, EntryKind::Blob, blob).expect("add a file");
                }
                None => {
                    editor.remove(*path).expect("remove a file");
                }
            }
        }
        let tree = editor.write().expect("write the tree");
        let signature = gix::actor::SignatureRef {
            name: "Test".into(),
            email: "test@example.com".into(),
            time: "1700000000 +0000",
        };
        self.repo
            .commit_as(signature, signature, reference, message, tree, parent_ids)
            .expect("write the commit")
            .to_string()
    }
}

/// The text of a valid `service.toml` for `name`, with `extra` top-level lines (watch, ignore,
/// depends_on) first.
pub fn manifest(name: &str, extra: &str) -> String {
    format!(
        "{extra}\n\n[build]\nproject = \"{name}-build\"\n\n[deploy]\ncluster = \"shop\"\nservice = \"{name}\"\n\
         container = \"app\"\nimage_repository = \"shop/{name}\"\n"
    )
}

/// The `services` of a `deltaship plan --format json` document, each cut down to its `name` and
/// `reasons`: what most tests compare.
pub fn names_and_reasons(plan: &serde_json::Value) -> serde_json::Value {
    let services = plan.get("services").and_then(serde_json::Value::as_array).expect("`services` is a list");
    services
        .iter()
        .map(|service| serde_json::json!({"name": service.get("name"), "reasons": service.get("reasons")}))
        .collect()
}
