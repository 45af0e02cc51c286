//! The path matcher behind the planner: which values (service includes, ignores, `deploy_all`)
//! the resolved patterns of a catalog give one changed path.
//!
//! Compiling every pattern into one regex-based `GlobSet` costs a regex per glob, and a pattern
//! that every service repeats under its own folder (`services/<name>/**/*.md`) becomes one regex
//! per service that every Markdown path must run. Almost every pattern a manifest holds has one of
//! three shapes, which need no regex at all once split into a literal folder and the rest:
//!
//! | pattern | matches | kept as |
//! |---------|---------|---------|
//! | `F` (no wildcard) | `F` and everything below it | `F`'s values, looked up by path and by folder |
//! | `F/**`, `**` | everything below `F` (the root for `**`) | `F`'s values, looked up by folder |
//! | `F/**/C`, `**/C` (`C` one component) | below `F`, when a component below `F` matches `C` | `F`'s values, and `C` compiled once, shared by every folder |
//! | `F/**/C/**` | below `F`, when a folder below `F` matches `C` | as above |
//!
//! Every other pattern is compiled into one `GlobSet` that only paths below its literal folder ask.
//!
//! Paths are looked at folder by folder: a [`FolderContext`] keeps the folders on the way to the
//! last path's folder, each with what it contributes, and the next path only walks the folders
//! it does not share with the last one. Path-ordered input (as git and CodeCommit give it) costs
//! a comparison with the path before, a hash lookup per new folder and the few component matches
//! of the file name.

use std::cmp::Ordering;

use globset::{Candidate, GlobMatcher, GlobSet, GlobSetBuilder};

use crate::paths::{self, Shape, is_glob, shape};

/// Folder paths hash with foldhash: std's SipHash would be most of the time a path takes.
type HashMap<K, V> = foldhash::HashMap<K, V>;

/// What a literal folder (or file) path contributes.
#[derive(Debug, Clone)]
struct Folder<T> {
    /// `F`: the path itself and everything below.
    at_or_below: Vec<T>,
    /// `F/**`: everything below.
    below: Vec<T>,
    /// `F/**/C`: (component index, whether the file name may match, value).
    scoped: Vec<(usize, bool, T)>,
    /// Whether a general pattern lies below this folder.
    general: bool,
}

impl<T> Default for Folder<T> {
    fn default() -> Self {
        Self { at_or_below: Vec::new(), below: Vec::new(), scoped: Vec::new(), general: false }
    }
}

/// How one component glob is matched: most are a file extension or a name.
#[derive(Debug, Clone)]
enum Component {
    /// `*<suffix>` with a literal suffix, e.g. `*.md`.
    Suffix(String),
    /// A literal name, e.g. `node_modules`.
    Name(String),
    /// Anything else.
    Glob(GlobMatcher),
}

impl Component {
    fn compile(glob: &str) -> Result<Self, globset::Error> {
        // Parsed even when simple, so that it fails as it would anywhere else.
        let parsed = paths::compile_glob(glob)?;
        Ok(match glob.strip_prefix('*') {
            Some(suffix) if !is_glob(suffix) => Self::Suffix(suffix.to_owned()),
            _ if !is_glob(glob) => Self::Name(glob.to_owned()),
            _ => Self::Glob(parsed.compile_matcher()),
        })
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Self::Suffix(suffix) => name.ends_with(suffix.as_str()),
            Self::Name(literal) => name == literal,
            Self::Glob(matcher) => matcher.is_match(name),
        }
    }
}

/// Resolved patterns, each with a value, compiled for matching paths.
#[derive(Debug, Clone)]
pub(crate) struct Matcher<T> {
    /// A tree of literal folders by path component; `nodes[0]` is the root.
    nodes: Vec<Node<T>>,
    components: Vec<Component>,
    general: GlobSet,
    general_values: Vec<T>,
}

/// A literal folder (or file) path in the tree: what it contributes, and what is below it.
#[derive(Debug, Clone)]
struct Node<T> {
    folder: Folder<T>,
    children: HashMap<String, usize>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Self { folder: Folder::default(), children: HashMap::default() }
    }
}

/// Builds a [`Matcher`].
#[derive(Debug)]
pub(crate) struct MatcherBuilder<T> {
    nodes: Vec<Node<T>>,
    components: Vec<Component>,
    component_index: HashMap<String, usize>,
    general: GlobSetBuilder,
    general_values: Vec<T>,
}

impl<T: Copy> MatcherBuilder<T> {
    pub(crate) fn new() -> Self {
        Self {
            nodes: vec![Node::new()],
            components: Vec::new(),
            component_index: HashMap::default(),
            general: GlobSetBuilder::new(),
            general_values: Vec::new(),
        }
    }

    /// Adds a resolved pattern; an error if a glob in it does not compile.
    pub(crate) fn add(&mut self, pattern: &str, value: T) -> Result<(), globset::Error> {
        let shape = shape(pattern);
        let scoped = match shape {
            Shape::Scoped { component, .. } => Some(match self.component_index.get(component) {
                Some(&index) => index,
                None => {
                    let index = self.components.len();
                    self.components.push(Component::compile(component)?);
                    self.component_index.insert(component.to_owned(), index);
                    index
                }
            }),
            Shape::General { .. } => {
                for glob in paths::compile_globs(pattern)? {
                    self.general.add(glob);
                    self.general_values.push(value);
                }
                None
            }
            Shape::AtOrBelow(_) | Shape::Below(_) => None,
        };
        let (Shape::AtOrBelow(path)
        | Shape::Below(path)
        | Shape::Scoped { folder: path, .. }
        | Shape::General { folder: path }) = shape;
        let node = self.node(path);
        let Some(folder) = self.nodes.get_mut(node).map(|node| &mut node.folder) else { return Ok(()) };
        match shape {
            Shape::AtOrBelow(_) => folder.at_or_below.push(value),
            Shape::Below(_) => folder.below.push(value),
            Shape::Scoped { file, .. } => folder.scoped.extend(scoped.map(|index| (index, file, value))),
            Shape::General { .. } => folder.general = true,
        }
        Ok(())
    }

    /// The node of the folder at `path` (`""` is the root), added to the tree if new.
    fn node(&mut self, path: &str) -> usize {
        let mut node = 0;
        if path.is_empty() {
            return node;
        }
        for part in path.split('/') {
            let existing = self.nodes.get(node).and_then(|parent| parent.children.get(part).copied());
            node = match existing {
                Some(child) => child,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::new());
                    if let Some(parent) = self.nodes.get_mut(node) {
                        parent.children.insert(part.to_owned(), child);
                    }
                    child
                }
            };
        }
        node
    }

    /// The matcher; an error if the general globs cannot be compiled together.
    pub(crate) fn build(self) -> Result<Matcher<T>, globset::Error> {
        let general = if self.general_values.is_empty() { GlobSet::empty() } else { self.general.build()? };
        Ok(Matcher { nodes: self.nodes, components: self.components, general, general_values: self.general_values })
    }
}

/// One folder on the way from the root to the folder of the last path matched.
#[derive(Debug, Clone, Copy)]
struct Level {
    /// The folder's node in the tree; `None` once a component on the way is not there.
    node: Option<usize>,
    /// Where the folder's path ends in [`FolderContext::previous`] (0 for the root).
    end: usize,
    /// How many of [`FolderContext::values`] and [`FolderContext::scoped`] the folder and its
    /// ancestors contribute.
    values: usize,
    scoped: usize,
    /// Whether paths here must ask the general globs.
    general: bool,
}

/// An `F/**/C` pattern of a folder on the way.
#[derive(Debug, Clone, Copy)]
struct ScopedEntry<T> {
    component: usize,
    /// Whether the file name may match `C`.
    file: bool,
    value: T,
    /// The depth of the first folder below `F` whose name matches `C` (from there on the value
    /// holds for every path), or `usize::MAX`.
    matched: usize,
}

/// What the folders on the way to the last path's folder contribute, kept from path to path:
/// the next path only walks the folders it does not share with the last one.
#[derive(Debug)]
pub(crate) struct FolderContext<'a, T> {
    /// The last path matched.
    previous: Option<&'a str>,
    /// The root, then each folder down to `previous`'s; empty before the first path.
    levels: Vec<Level>,
    /// Values that hold for every path in `previous`'s folder.
    values: Vec<T>,
    /// The scoped patterns of the folders on the way.
    scoped: Vec<ScopedEntry<T>>,
    glob_matches: Vec<usize>,
}

impl<T> Default for FolderContext<'_, T> {
    fn default() -> Self {
        Self { previous: None, levels: Vec::new(), values: Vec::new(), scoped: Vec::new(), glob_matches: Vec::new() }
    }
}

/// How many leading bytes `a` and `b` share.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const WORD: usize = std::mem::size_of::<u64>();
    let mut shared = 0;
    for (x, y) in a.chunks_exact(WORD).zip(b.chunks_exact(WORD)) {
        let (Ok(x), Ok(y)) = (<[u8; WORD]>::try_from(x), <[u8; WORD]>::try_from(y)) else { break };
        let differ = u64::from_le_bytes(x) ^ u64::from_le_bytes(y);
        if differ != 0 {
            return shared + (differ.trailing_zeros() / 8) as usize;
        }
        shared += WORD;
    }
    let (a, b) = (a.get(shared..).unwrap_or_default(), b.get(shared..).unwrap_or_default());
    shared + a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl<T: Copy> Matcher<T> {
    /// Sets `found` to the values of the patterns that match `path`, in no particular order and
    /// possibly repeated, and returns how the previous path compares with `path` (`None` for the
    /// first), which a caller expecting paths in order needs and gets without reading them again.
    ///
    /// `context` carries the folders the previous path walked through: pass the same one for a
    /// run of paths (best in path order, where neighbours share most of their folders), starting
    /// from `FolderContext::default()`.
    pub(crate) fn matches_into<'a>(
        &self,
        path: &'a str,
        context: &mut FolderContext<'a, T>,
        found: &mut Vec<T>,
    ) -> Option<Ordering> {
        let (name_start, order) = self.walk_to(path, context);
        let name = path.get(name_start..).unwrap_or_default();
        found.clear();
        found.extend_from_slice(&context.values);
        let Some(&level) = context.levels.last() else { return order };
        if let Some(folder) = level.node.and_then(|node| self.nodes.get(node))
            && !folder.children.is_empty()
            && let Some(own) = folder.children.get(name).and_then(|&node| self.nodes.get(node))
        {
            found.extend_from_slice(&own.folder.at_or_below);
        }
        for entry in &context.scoped {
            if entry.file
                && entry.matched == usize::MAX
                && self.components.get(entry.component).is_some_and(|c| c.matches(name))
            {
                found.push(entry.value);
            }
        }
        if level.general {
            self.general.matches_candidate_into(&Candidate::new(path), &mut context.glob_matches);
            found.extend(context.glob_matches.iter().filter_map(|&glob| self.general_values.get(glob)));
        }
        order
    }

    /// Moves `context` to `path`'s folder: back up to the deepest folder on the way that holds
    /// `path`, then down through the rest of its folders. Returns where the file name starts, and
    /// how the previous path compares with `path`.
    fn walk_to<'a>(&self, path: &'a str, context: &mut FolderContext<'a, T>) -> (usize, Option<Ordering>) {
        if context.levels.is_empty() {
            let root = self.enter(false, context, Some(0), 0);
            context.levels.push(root);
        }
        let bytes = path.as_bytes();
        let previous = context.previous.unwrap_or_default().as_bytes();
        let shared = common_prefix(previous, bytes);
        let order = context.previous.map(|_| match (previous.get(shared), bytes.get(shared)) {
            (Some(before), Some(after)) => before.cmp(after),
            (before, after) => before.is_some().cmp(&after.is_some()),
        });
        // The root holds every path; another folder, when `path` starts with it and a `/`.
        let keep = context
            .levels
            .iter()
            .rposition(|level| level.end <= shared && bytes.get(level.end) == Some(&b'/'))
            .unwrap_or(0);
        context.leave(keep);
        let mut start = if keep == 0 { 0 } else { context.levels.get(keep).map_or(0, |level| level.end + 1) };
        let base = start;
        for end in memchr::memchr_iter(b'/', bytes.get(base..).unwrap_or_default()).map(move |offset| base + offset) {
            let part = path.get(start..end).unwrap_or_default();
            let Some(&parent) = context.levels.last() else { break };
            let depth = context.levels.len();
            // Scoped patterns of the folders above: from here on they hold if this name matches.
            for entry in &mut context.scoped {
                if entry.matched == usize::MAX && self.components.get(entry.component).is_some_and(|c| c.matches(part))
                {
                    entry.matched = depth;
                    context.values.push(entry.value);
                }
            }
            let node = parent.node.and_then(|node| self.nodes.get(node)?.children.get(part).copied());
            let level = self.enter(parent.general, context, node, end);
            context.levels.push(level);
            start = end + 1;
        }
        context.previous = Some(path);
        (start, order)
    }

    /// Adds what the folder at `node` contributes (its values, and its scoped patterns for the
    /// folders below it) and returns its level; `general` is whether its parent's paths ask the
    /// general globs.
    fn enter(&self, mut general: bool, context: &mut FolderContext<'_, T>, node: Option<usize>, end: usize) -> Level {
        if let Some(folder) = node.and_then(|node| self.nodes.get(node)).map(|node| &node.folder) {
            context.values.extend_from_slice(&folder.at_or_below);
            context.values.extend_from_slice(&folder.below);
            general |= folder.general;
            context.scoped.extend(folder.scoped.iter().map(|&(component, file, value)| ScopedEntry {
                component,
                file,
                value,
                matched: usize::MAX,
            }));
        }
        Level { node, end, values: context.values.len(), scoped: context.scoped.len(), general }
    }
}

impl<T> FolderContext<'_, T> {
    /// Backs up to the folder at depth `keep`, forgetting what the folders below it added.
    fn leave(&mut self, keep: usize) {
        let Some(&level) = self.levels.get(keep) else { return };
        self.levels.truncate(keep + 1);
        self.values.truncate(level.values);
        self.scoped.truncate(level.scoped);
        for entry in &mut self.scoped {
            // Matched by the name of a folder just left.
            if entry.matched > keep {
                entry.matched = usize::MAX;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(patterns: &[&str], path: &str) -> Vec<usize> {
        let mut builder = MatcherBuilder::new();
        for (index, pattern) in patterns.iter().enumerate() {
            builder.add(pattern, index).unwrap();
        }
        let matcher = builder.build().unwrap();
        let mut found = Vec::new();
        matcher.matches_into(path, &mut FolderContext::default(), &mut found);
        found.sort_unstable();
        found.dedup();
        found
    }

    #[test]
    fn matches_table() {
        let patterns = [
            "docs",                    // 0
            "services/a/**",           // 1
            "services/a/**/*.md",      // 2
            "**/target/**",            // 3
            "services/a/src/*.rs",     // 4
            "Cargo.lock",              // 5
            "**",                      // 6
            "services/a/**/gen.*/**",  // 7
            "services/a/**/README.md", // 8
        ];
        let table: [(&str, &[usize]); 14] = [
            ("docs", &[0, 6]),
            ("docs/x/y.txt", &[0, 6]),
            ("docs2/x", &[6]),
            ("services/a", &[6]),
            ("services/a/x.rs", &[1, 6]),
            ("services/a/x.md", &[1, 2, 6]),
            ("services/a/deep/er/x.md", &[1, 2, 6]),
            ("services/a/x.md/y.rs", &[1, 2, 6]),
            ("services/a/src/lib.rs", &[1, 4, 6]),
            ("services/a/src/deep/lib.rs", &[1, 6]),
            ("services/a/target/debug/x", &[1, 3, 6]),
            ("services/a/gen.v1/x/y", &[1, 7, 6]),
            ("services/a/gen.v1", &[1, 6]),
            ("services/a/docs/README.md", &[1, 2, 6, 8]),
        ];
        for (path, expected) in table {
            let mut expected = expected.to_vec();
            expected.sort_unstable();
            assert_eq!(matches(&patterns, path), expected, "{path}");
        }
        assert_eq!(matches(&["Cargo.lock"], "Cargo.lock"), [0]);
        assert_eq!(matches(&["Cargo.lock"], "a/Cargo.lock"), Vec::<usize>::new());
        assert_eq!(matches(&["**/target/**"], "target"), Vec::<usize>::new());
        assert_eq!(matches(&["**/target/**"], "target/x"), [0]);
        assert_eq!(matches(&["**/*.md"], "x.md"), [0]);
    }

    use crate::testing::naive::{matches_any, pattern_matchers};
    use proptest::prelude::*;

    /// Path components, and pattern components (the same names, and wildcards).
    const NAMES: [&str; 8] = ["services", "a", "b", "docs", "x.md", "y.rs", "gen.v1", "target"];
    const WILDCARDS: [&str; 8] = ["*", "**", "*.md", "*.rs", "gen.*", "{a,b}", "?", "[ab]"];

    fn path_strategy() -> impl Strategy<Value = String> {
        // Now and then an empty component (`a//b`, `/a`, `a/`), which no diff has but the walk
        // from folder to folder must survive.
        let part = prop_oneof![12 => prop::sample::select(NAMES.to_vec()), 1 => Just("")];
        prop::collection::vec(part, 1..6).prop_map(|parts| parts.join("/"))
    }

    fn pattern_strategy() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            3 => prop::sample::select(NAMES.to_vec()),
            2 => prop::sample::select(WILDCARDS.to_vec()),
        ];
        prop::collection::vec(part, 1..5).prop_map(|parts| parts.join("/"))
    }

    /// The reference: every glob of every pattern on its own, as globset matches it.
    fn naive(patterns: &[Vec<GlobMatcher>], path: &str) -> Vec<usize> {
        let path = Candidate::new(path);
        let matching = |(index, globs): (usize, &Vec<GlobMatcher>)| matches_any(globs, &path).then_some(index);
        patterns.iter().enumerate().filter_map(matching).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the patterns and however the paths are ordered (the folder context is
        /// carried from path to path), the matcher finds what globset finds glob by glob, and
        /// tells how each path compares with the one before.
        #[test]
        fn agrees_with_every_glob_matched_alone(
            patterns in prop::collection::vec(pattern_strategy(), 1..8),
            mut paths in prop::collection::vec(path_strategy(), 1..24),
            sorted in any::<bool>(),
        ) {
            prop_assume!(patterns.iter().all(|pattern| pattern_matchers(pattern).is_some()));
            let mut builder = MatcherBuilder::new();
            for (index, pattern) in patterns.iter().enumerate() {
                builder.add(pattern, index).unwrap();
            }
            let matcher = builder.build().unwrap();
            let reference: Vec<Vec<GlobMatcher>> = patterns
                .iter()
                .map(|pattern| pattern_matchers(pattern).unwrap())
                .collect();
            if sorted {
                paths.sort();
            }
            let mut context = FolderContext::default();
            let mut found = Vec::new();
            let mut previous: Option<&str> = None;
            for path in &paths {
                let order = matcher.matches_into(path, &mut context, &mut found);
                prop_assert_eq!(order, previous.map(|previous| previous.cmp(path)), "after {:?}: {}", previous, path);
                previous = Some(path);
                found.sort_unstable();
                found.dedup();
                prop_assert_eq!(&found, &naive(&reference, path), "path {} patterns {:?}", path, patterns);
            }
        }
    }

    #[test]
    fn bad_component_globs_are_errors() {
        let mut builder = MatcherBuilder::new();
        assert!(builder.add("services/a/**/[x", 0).is_err());
    }
}
