//! The files a catalog is built from at one commit (`deltaship.toml` and every service's
//! `service.toml`), kept between pushes so that detect-changes reads only what a push touched.
//!
//! Without a snapshot, a push costs one CodeCommit `GetFile` per service (and the `GetFolder`s
//! that find them): a repository of 1,000 services, 1,000 calls before anything starts. With
//! the snapshot of the push's base commit, the head's is the base's with the files the diff
//! touched read again ([`Snapshot::touched`], [`Snapshot::next`]):
//!
//! - a changed `deltaship.toml` is read again; if its service roots changed, every manifest is
//!   listed and read again ([`Next::ListEverything`]): the roots decide which folders are services;
//! - a manifest the diff adds, modifies or moves to (in a folder the roots match) is read again;
//!   one it deletes or moves away is dropped;
//! - everything else is the base's, unchanged: the diff says it is.
//!
//! A snapshot is stored as JSON ([`Snapshot::to_json`]); a version that this code does not know
//! reads as no snapshot, so that an upgrade falls back to reading everything once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::planner::Change;
use crate::settings::{SETTINGS_FILE, roots_of};
use crate::source::SourceFile;

/// The format of [`Snapshot::to_json`]: a snapshot of another version is not read.
pub const SNAPSHOT_VERSION: u32 = 1;

/// How long a stored snapshot is kept (the table's TTL), as the push ledger: a push whose base
/// is older reads everything once.
pub const RETENTION_SECONDS: i64 = 90 * 86_400;

/// The most bytes one stored part holds: DynamoDB items are at most 400 KB, keys and
/// attribute names included.
pub const MAX_PART_BYTES: usize = 350_000;

/// The partition key of a repository's snapshots in the waits table (beside the waits and the
/// push ledger, under keys of their own).
pub fn resource(repository: &str) -> String {
    format!("catalog#{repository}")
}

/// The sort key of part `part` (from 0) of `commit`'s snapshot.
pub fn waiter(commit: &str, part: usize) -> String {
    format!("{commit}#{part:04}")
}

/// What every part of `commit`'s snapshot's sort key starts with.
pub fn waiter_prefix(commit: &str) -> String {
    format!("{commit}#")
}

/// `deltaship.toml` and the manifests at one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The commit.
    pub commit: String,
    /// `deltaship.toml`, if the commit has one.
    pub settings: Option<String>,
    /// Every service manifest, by path.
    pub manifests: BTreeMap<String, String>,
}

/// What the head's snapshot needs read at the head commit, given the base's and the diff.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Touched {
    /// Whether `deltaship.toml` changed (read it again).
    pub settings: bool,
    /// The manifests to read again (each may turn out not to exist), sorted.
    pub read: Vec<String>,
    /// The manifests that are gone, sorted.
    pub gone: Vec<String>,
}

/// What the head's snapshot is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The base's, with the touched files applied.
    Snapshot(Snapshot),
    /// The service roots changed: list and read every manifest.
    ListEverything,
}

impl Snapshot {
    /// The snapshot of `commit` from its files; `None` if a file is not UTF-8 (the catalog
    /// refuses such a file anyway).
    pub fn of(commit: &str, settings: Option<&SourceFile>, manifests: &[SourceFile]) -> Option<Self> {
        let text = |file: &SourceFile| String::from_utf8(file.contents.clone()).ok();
        let settings = match settings {
            Some(file) => Some(text(file)?),
            None => None,
        };
        let mut kept = BTreeMap::new();
        for manifest in manifests {
            kept.insert(manifest.path.clone(), text(manifest)?);
        }
        Some(Self { version: SNAPSHOT_VERSION, commit: commit.to_owned(), settings, manifests: kept })
    }

    /// The files, as the catalog reads them.
    pub fn files(&self) -> (Option<SourceFile>, Vec<SourceFile>) {
        let settings = self.settings.as_ref().map(|text| SourceFile::new(SETTINGS_FILE, text.as_bytes()));
        let manifests =
            self.manifests.iter().map(|(path, text)| SourceFile::new(path.clone(), text.as_bytes())).collect();
        (settings, manifests)
    }

    /// What a push from this snapshot's commit that made `changes` needs read at its head.
    pub fn touched(&self, changes: &[Change]) -> Touched {
        let (settings, _) = self.files();
        let roots = roots_of(settings.as_ref());
        let mut touched = Touched::default();
        for change in changes {
            let (gone, new) = match change {
                Change::Added(path) | Change::Modified(path) => (None, Some(path)),
                Change::Deleted(path) => (Some(path), None),
                Change::Moved { from, to } => (Some(from), Some(to)),
            };
            for path in gone.into_iter().chain(new) {
                if path == SETTINGS_FILE {
                    touched.settings = true;
                }
            }
            if let Some(path) = gone.filter(|path| roots.manifest_folder(path).is_some()) {
                touched.gone.push(path.clone());
            }
            if let Some(path) = new.filter(|path| roots.manifest_folder(path).is_some()) {
                touched.read.push(path.clone());
            }
        }
        touched.read.sort_unstable();
        touched.read.dedup();
        touched.gone.sort_unstable();
        touched.gone.dedup();
        // A path both gone and read (moved away, another moved in) is read.
        touched.gone.retain(|path| touched.read.binary_search(path).is_err());
        touched
    }

    /// The snapshot of `head`: this one with `touched` applied, given what was read at the head:
    /// `settings` (`Some` when `touched.settings`: the file, or `None` if it was deleted) and
    /// each manifest of `touched.read` (`None` for one that does not exist).
    pub fn next(
        &self,
        head: &str,
        touched: &Touched,
        settings: Option<Option<SourceFile>>,
        read: Vec<(String, Option<SourceFile>)>,
    ) -> Next {
        let mut next = self.clone();
        next.commit = head.to_owned();
        if let Some(settings) = settings {
            let (before, _) = self.files();
            if roots_of(before.as_ref()).patterns() != roots_of(settings.as_ref()).patterns() {
                return Next::ListEverything;
            }
            next.settings = match settings {
                Some(file) => match String::from_utf8(file.contents) {
                    Ok(text) => Some(text),
                    Err(_) => return Next::ListEverything,
                },
                None => None,
            };
        }
        for path in &touched.gone {
            next.manifests.remove(path);
        }
        for (path, file) in read {
            match file.map(|file| String::from_utf8(file.contents)) {
                Some(Ok(text)) => {
                    next.manifests.insert(path, text);
                }
                Some(Err(_)) => return Next::ListEverything,
                None => {
                    next.manifests.remove(&path);
                }
            }
        }
        Next::Snapshot(next)
    }

    /// The stored form.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings and maps of strings always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A stored snapshot, if it is one of this version.
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(bytes).ok().filter(|snapshot| snapshot.version == SNAPSHOT_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile::new(path, text.as_bytes())
    }

    fn base() -> Snapshot {
        Snapshot::of(
            "base",
            Some(&file(SETTINGS_FILE, "services = [\"src/*\"]")),
            &[file("src/a/service.toml", "a"), file("src/b/service.toml", "b")],
        )
        .unwrap()
    }

    #[test]
    fn only_what_the_diff_touched_is_read_again() {
        let base = base();
        // (changes, settings touched, read, gone)
        type Case<'c> = (Vec<Change>, bool, &'c [&'c str], &'c [&'c str]);
        let table: [Case<'_>; 6] = [
            (vec![Change::Modified("src/a/main.go".into())], false, &[], &[]),
            (vec![Change::Modified("src/a/service.toml".into())], false, &["src/a/service.toml"], &[]),
            (vec![Change::Added("src/c/service.toml".into())], false, &["src/c/service.toml"], &[]),
            (vec![Change::Deleted("src/b/service.toml".into())], false, &[], &["src/b/service.toml"]),
            (
                vec![Change::Moved { from: "src/b/service.toml".into(), to: "src/d/service.toml".into() }],
                false,
                &["src/d/service.toml"],
                &["src/b/service.toml"],
            ),
            (
                vec![Change::Modified(SETTINGS_FILE.into()), Change::Added("services/x/service.toml".into())],
                true,
                &[],
                &[],
            ),
        ];
        for (changes, settings, read, gone) in table {
            let touched = base.touched(&changes);
            assert_eq!(touched.settings, settings, "{changes:?}");
            assert_eq!(touched.read, read, "{changes:?}");
            assert_eq!(touched.gone, gone, "{changes:?}");
        }
    }

    #[test]
    fn the_next_snapshot_applies_what_was_read() {
        let base = base();
        let changes = [
            Change::Modified("src/a/service.toml".into()),
            Change::Deleted("src/b/service.toml".into()),
            Change::Added("src/c/service.toml".into()),
        ];
        let touched = base.touched(&changes);
        let read = vec![
            ("src/a/service.toml".to_owned(), Some(file("src/a/service.toml", "a2"))),
            ("src/c/service.toml".to_owned(), None),
        ];
        let Next::Snapshot(next) = base.next("head", &touched, None, read) else { panic!("a snapshot") };
        assert_eq!(next.commit, "head");
        assert_eq!(next.manifests.into_iter().collect::<Vec<_>>(), [("src/a/service.toml".into(), "a2".into())]);

        // New roots: everything is listed again. The same roots in a changed file: not.
        let moved_roots = Some(Some(file(SETTINGS_FILE, "services = [\"apps/*\"]")));
        assert_eq!(
            base.next("head", &Touched { settings: true, ..Touched::default() }, moved_roots, vec![]),
            Next::ListEverything
        );
        let same_roots = Some(Some(file(SETTINGS_FILE, "services = [\"src/*\"]\nbranches = [\"dev\"]")));
        let Next::Snapshot(next) =
            base.next("head", &Touched { settings: true, ..Touched::default() }, same_roots, vec![])
        else {
            panic!("a snapshot")
        };
        assert!(next.settings.unwrap().contains("dev"));
        assert_eq!(next.manifests.len(), 2);
        // Deleting deltaship.toml with default roots elsewhere is a change of roots.
        assert_eq!(
            base.next("head", &Touched { settings: true, ..Touched::default() }, Some(None), vec![]),
            Next::ListEverything
        );
    }

    #[test]
    fn keys() {
        assert_eq!(resource("shop"), "catalog#shop");
        assert_eq!(waiter("abc", 2), "abc#0002");
        assert!(waiter("abc", 2).starts_with(&waiter_prefix("abc")));
        assert!(!waiter("abcd", 0).starts_with(&waiter_prefix("abc")));
    }

    #[test]
    fn stored_and_read_back() {
        let base = base();
        assert_eq!(Snapshot::from_json(&base.to_json()), Some(base.clone()));
        let mut other = base;
        other.version = SNAPSHOT_VERSION + 1;
        assert_eq!(Snapshot::from_json(&other.to_json()), None);
        assert_eq!(Snapshot::from_json(b"not json"), None);
        assert!(Snapshot::of("x", None, &[SourceFile::new("src/a/service.toml", vec![0xff])]).is_none());
        let (settings, manifests) = Snapshot::of("x", None, &[file("services/a/service.toml", "t")]).unwrap().files();
        assert!(settings.is_none());
        assert_eq!(manifests, [file("services/a/service.toml", "t")]);
    }
}
