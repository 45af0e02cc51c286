//! `deltaship init`: which folders of an existing repository are services, which service roots
//! find them, and the `service.toml` proposed for each ([`propose`]).
//!
//! The decision works on the repository's file list alone (and the text of its Dockerfiles), so
//! that the CLI reads a tree, calls [`propose`], and prints or writes what comes back:
//!
//! 1. **Deployable folders.** A folder is deployable when it directly holds a build file: a
//!    `Dockerfile`, `Containerfile`, `Dockerfile.<anything>` (not `Dockerfile.dockerignore`),
//!    `buildspec.yml` or `buildspec.yaml`. Some are not services, and are reported in
//!    [`Proposal::skipped`]: the repository's root, folders with a hidden component
//!    (`.devcontainer`, `.github`), folders in [`NOT_SERVICES`] (`tests`, `node_modules`, `docs`
//!    ...), and folders whose path has a wildcard character (a root or a manifest would read it
//!    as a pattern).
//! 2. **Roots.** Deployable folders are grouped by their parent: `src/a` and `src/b` are the
//!    root `src/*`. Roots alike but for one folder name, followed by a literal folder, generalize
//!    (`teams/a/services/*` and `teams/b/services/*` are `teams/*/services/*`), as long as the
//!    general root matches no folder of another root. A root that groups two folders or more is
//!    *chosen*: its folders are services.
//! 3. **Lifting.** Any other deployable folder, shallowest first, joins the nearest folder above
//!    it that is already a service (a service's second Dockerfile: `src/x/tools/Dockerfile`), or
//!    that a chosen root with a literal component matches (GoogleCloudPlatform/microservices-demo
//!    keeps cartservice's Dockerfile in `src/cartservice/src/`: the service is
//!    `src/cartservice`, which `src/*` matches). A root of `*` alone does not lift: it matches
//!    the repository's top-level layout (`src`, `deploy`), not a collection of services.
//! 4. **Lone folders.** A deployable folder left over gets its own root, its parent plus `/*`
//!    (`*` at the top level). Each folder left over has a parent of its own (two with one parent
//!    would have been a chosen root), so every service folder is matched by exactly one root, at
//!    its depth.
//! 5. **Names.** A service is named after its folder's last component, made a valid name
//!    ([`crate::manifest`]'s rule: 1 to 63 letters, digits, '-', '_', '.', starting with a letter
//!    or digit). Names that clash (compared without case: they become lower-case ECR
//!    repositories) take their parent folder's name in front (`apps-web`, `tools-web`), then the
//!    grandparent's, and as a last resort a number.
//! 6. **Manifests.** Each proposed `service.toml` names placeholder resources derived from the
//!    repository's and the service's names, each valid under the manifest's rules, so that the
//!    file validates as is and only its values need editing. `watch` is left out (the default:
//!    the whole folder).
//! 7. **`depends_on`**, where the Dockerfiles show it: a `COPY`/`ADD` source that exists at the
//!    repository's root but not next to the Dockerfile nor in the service's folder can only mean
//!    the build context is the repository's root, so a source outside the service's folder is
//!    shared code the service depends on (`../../libs/common`). A source found in both places is
//!    ambiguous and left out, as are multi-stage copies (`--from`), URLs and sources with
//!    variables: a proposal says only what the files show.
//!
//! Nothing here reads or writes a file: `read` hands over a Dockerfile's text.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use crate::paths::{compile_globs, is_glob, resolve_pattern};

/// Folder names whose folders hold no services, whatever build files they have: tests and their
/// data, vendored or installed dependencies, examples and documentation (compared without case).
pub const NOT_SERVICES: [&str; 9] =
    ["node_modules", "vendor", "third_party", "test", "tests", "testdata", "fixtures", "examples", "docs"];

/// The longest service name ([`crate::manifest`]'s rule).
const MAX_NAME: usize = 63;

/// The longest part of a placeholder taken from the repository's name, so that every placeholder
/// stays within its AWS limit (the shortest: an ECR repository's 256 characters).
const MAX_REPOSITORY_PART: usize = 100;

/// What `deltaship init` proposes for a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proposal {
    /// The service roots for `deltaship.toml`'s `services`, sorted: each component a folder name
    /// or `*` (see [`settings_text`]).
    pub roots: Vec<String>,
    /// One service per service folder, sorted by folder.
    pub services: Vec<ProposedService>,
    /// Folders that hold a build file but are not proposed, and why, sorted by folder.
    pub skipped: Vec<Skipped>,
}

/// One proposed service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedService {
    /// Its name: a valid service name, unique in the proposal.
    pub name: String,
    /// Its folder, repository-relative, e.g. `src/adservice`.
    pub folder: String,
    /// The build files that made it deployable (repository-relative, sorted), e.g.
    /// `src/cartservice/src/Dockerfile`: its folder's own and those of folders lifted into it.
    pub evidence: Vec<String>,
    /// `depends_on` entries as written in the manifest, relative to the folder (sorted), e.g.
    /// `../../libs/common`.
    pub depends_on: Vec<String>,
    /// The full text of the proposed `service.toml`.
    pub manifest: String,
}

/// A folder holding a build file that is not proposed as a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The folder, repository-relative (`.` for the repository's root).
    pub folder: String,
    /// Why it is not proposed.
    pub reason: String,
}

/// Proposes service roots and a manifest per service for a repository (see the module's docs).
///
/// `repository` is the repository's name (e.g. its folder's name), from which placeholder
/// resource names are derived. `paths` is every file of the repository's tree ('/'-separated,
/// repository-relative). `read(path)` returns a file's text, or `None` when it cannot be read; it
/// is asked only for the Dockerfiles of proposed services.
pub fn propose(repository: &str, paths: &[String], read: impl Fn(&str) -> Option<String>) -> Proposal {
    let tree = Tree::new(paths);

    // Every folder holding a build file, with those files.
    let mut build_files: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for path in paths {
        if let Some(folder) = build_file_folder(path) {
            build_files.entry(folder).or_default().insert(path.as_str());
        }
    }
    let mut skipped = Vec::new();
    let mut deployable = BTreeMap::new();
    for (folder, files) in build_files {
        match not_a_service(folder) {
            Some(reason) => {
                let folder = if folder.is_empty() { ".".to_owned() } else { folder.to_owned() };
                skipped.push(Skipped { folder, reason });
            }
            None => {
                deployable.insert(folder, files);
            }
        }
    }

    // By folder as shown (the root, `.`, is not "" any more).
    skipped.sort_by(|a, b| a.folder.cmp(&b.folder));

    let layout = Layout::of(&deployable);
    let folders: Vec<&str> = layout.services.keys().copied().collect();
    let names = unique_names(&folders);
    let services = layout
        .services
        .iter()
        .zip(names)
        .map(|((folder, evidence), name)| {
            let evidence: Vec<String> = evidence.iter().map(|file| (*file).to_owned()).collect();
            let depends_on = depends_on(&tree, folder, &evidence, &read);
            let manifest = manifest_text(repository, &name, folder, &evidence, &depends_on);
            ProposedService { name, folder: (*folder).to_owned(), evidence, depends_on, manifest }
        })
        .collect();
    Proposal { roots: layout.roots, services, skipped }
}

/// A `deltaship.toml` proposing `roots` as its `services`, with comments on what they mean. With
/// no roots the `services` line is left commented out: the default roots hold.
pub fn settings_text(roots: &[String]) -> String {
    let mut lines = vec![
        "# deltaship.toml, proposed by `deltaship init`.".to_owned(),
        String::new(),
        "# Service roots: a service is a folder that one of these matches and that holds a".to_owned(),
        "# service.toml. Each component is a folder name or `*`, one folder (never across '/').".to_owned(),
    ];
    if roots.is_empty() {
        lines.push("# No deployable folder was found, so the default holds:".to_owned());
        lines.push("# services = [\"services/*\"]".to_owned());
    } else {
        let roots: Vec<String> = roots.iter().map(|root| toml_string(root)).collect();
        lines.push(format!("services = [{}]", roots.join(", ")));
    }
    lines.extend(
        [
            "",
            "# The other settings, at their defaults (see docs/manifests.md):",
            "# branches = [\"main\"]     # branches whose pushes deploy (globs)",
            "# deploy_all = []         # a change to any of these deploys every service",
            "# first_push = \"all\"      # a new branch deploys \"all\" services or \"none\"",
        ]
        .map(str::to_owned),
    );
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The repository's files and folders, to tell whether a path exists in it.
struct Tree<'p> {
    files: HashSet<&'p str>,
    folders: HashSet<&'p str>,
}

impl<'p> Tree<'p> {
    fn new(paths: &'p [String]) -> Self {
        let mut folders = HashSet::new();
        for path in paths {
            for (end, _) in path.match_indices('/') {
                folders.extend(path.get(..end));
            }
        }
        Self { files: paths.iter().map(String::as_str).collect(), folders }
    }

    /// Whether `path` is a file or a folder of the repository (`""`, the root, always is).
    fn exists(&self, path: &str) -> bool {
        path.is_empty() || self.files.contains(path) || self.folders.contains(path)
    }
}

/// If `path` is a build file: its folder (`""` for the root). Paths that are not a tree's (with
/// empty, `.` or `..` components) are left alone.
fn build_file_folder(path: &str) -> Option<&str> {
    if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return None;
    }
    let (folder, file) = path.rsplit_once('/').unwrap_or(("", path));
    let build_file = matches!(file, "buildspec.yml" | "buildspec.yaml") || is_dockerfile(file);
    build_file.then_some(folder)
}

/// Whether a file name is a Dockerfile: `Dockerfile`, `Containerfile` or `Dockerfile.<anything>`,
/// except `Dockerfile.dockerignore` (the ignore file of a Dockerfile named `Dockerfile`).
fn is_dockerfile(file: &str) -> bool {
    matches!(file, "Dockerfile" | "Containerfile")
        || file.strip_prefix("Dockerfile.").is_some_and(|rest| !rest.is_empty() && rest != "dockerignore")
}

/// Why a deployable-looking folder is not a service, if it is not.
fn not_a_service(folder: &str) -> Option<String> {
    if folder.is_empty() {
        return Some("the repository's root: a service is a folder below it".to_owned());
    }
    if let Some(hidden) = folder.split('/').find(|part| part.starts_with('.')) {
        return Some(format!("in the hidden folder `{hidden}`: tooling, not a service"));
    }
    if let Some(part) = folder.split('/').find(|part| NOT_SERVICES.iter().any(|name| name.eq_ignore_ascii_case(part))) {
        return Some(format!("under `{part}`: tests, dependencies, examples and documentation are not services"));
    }
    if is_glob(folder) {
        return Some(
            "its path has a wildcard character (`*?[]{}\\`), which a root or a manifest would read as a pattern"
                .to_owned(),
        );
    }
    None
}

/// A root as its components: folder names and `*`.
type Root<'p> = Vec<&'p str>;

/// Which roots, and which service folders with which build files.
struct Layout<'p> {
    /// The roots, as written, sorted.
    roots: Vec<String>,
    /// Each service folder and its build files.
    services: BTreeMap<&'p str, BTreeSet<&'p str>>,
}

impl<'p> Layout<'p> {
    /// Steps 2 to 4 of the module's docs.
    fn of(deployable: &BTreeMap<&'p str, BTreeSet<&'p str>>) -> Self {
        // Group by parent: the folder with its last component replaced by `*`.
        let mut candidates: BTreeMap<Root<'p>, BTreeSet<&'p str>> = BTreeMap::new();
        for folder in deployable.keys() {
            let mut root: Root<'p> = folder.split('/').collect();
            if let Some(last) = root.last_mut() {
                *last = "*";
            }
            candidates.entry(root).or_default().insert(folder);
        }
        generalize(&mut candidates);
        let chosen: BTreeMap<Root<'p>, BTreeSet<&'p str>> =
            candidates.into_iter().filter(|(_, folders)| folders.len() >= 2).collect();
        // Roots that lift: those with a literal component (not `*`, `*/*` ...).
        let lifting: Vec<&Root<'p>> = chosen.keys().filter(|root| root.iter().any(|part| *part != "*")).collect();

        let files_of = |folder: &str| deployable.get(folder).into_iter().flatten().copied();
        let mut services: BTreeMap<&'p str, BTreeSet<&'p str>> = BTreeMap::new();
        for folder in chosen.values().flatten() {
            services.entry(folder).or_default().extend(files_of(folder));
        }
        // The others, shallowest first, so that a folder lifted into or proposed alone is a
        // service before the folders below it are looked at.
        let mut others: Vec<&'p str> =
            deployable.keys().copied().filter(|folder| !services.contains_key(folder)).collect();
        others.sort_by_key(|folder| (folder.matches('/').count(), *folder));
        let mut lone: BTreeSet<Root<'p>> = BTreeSet::new();
        for folder in others {
            let into = ancestors(folder)
                .find(|above| services.contains_key(above) || lifting.iter().any(|root| root_matches(root, above)));
            match into {
                Some(above) => services.entry(above).or_default().extend(files_of(folder)),
                None => {
                    let mut root: Root<'p> = folder.split('/').collect();
                    if let Some(last) = root.last_mut() {
                        *last = "*";
                    }
                    lone.insert(root);
                    services.entry(folder).or_default().extend(files_of(folder));
                }
            }
        }
        let mut roots: Vec<String> = chosen.into_keys().chain(lone).map(|root| root.join("/")).collect();
        roots.sort();
        roots.dedup();
        Self { roots, services }
    }
}

/// Merges roots alike but for one literal component, followed by a literal component, into one
/// with `*` there: `teams/a/services/*` and `teams/b/services/*` into `teams/*/services/*`. The
/// literal after it is what makes the folders a pattern (each team's `services`); without one,
/// `apps/*` and `tools/*` would become `*/*`, any folder two deep. A merge that would match a
/// folder another root matches (at the same depth) is not made, so that a folder never has two
/// roots. The biggest group merges first; repeated until nothing merges.
fn generalize<'p>(candidates: &mut BTreeMap<Root<'p>, BTreeSet<&'p str>>) {
    loop {
        // (position, general root) → the roots that merge into it.
        let mut groups: BTreeMap<(usize, Root<'p>), Vec<Root<'p>>> = BTreeMap::new();
        for root in candidates.keys() {
            for (position, part) in root.iter().enumerate() {
                let literal_after = root.iter().skip(position + 1).any(|later| *later != "*");
                if *part == "*" || !literal_after {
                    continue;
                }
                let mut general = root.clone();
                if let Some(slot) = general.get_mut(position) {
                    *slot = "*";
                }
                groups.entry((position, general)).or_default().push(root.clone());
            }
        }
        let best = groups
            .into_iter()
            .filter(|((_, general), group)| {
                group.len() >= 2
                    && !candidates.keys().any(|other| !group.contains(other) && roots_overlap(other, general))
            })
            // The biggest group; among equals, the first in order (`max_by` keeps the last).
            .max_by(|(a_key, a), (b_key, b)| a.len().cmp(&b.len()).then_with(|| b_key.cmp(a_key)));
        let Some(((_, general), group)) = best else {
            return;
        };
        let mut folders = BTreeSet::new();
        for root in &group {
            folders.extend(candidates.remove(root).into_iter().flatten());
        }
        candidates.entry(general).or_default().extend(folders);
    }
}

/// Whether some folder matches both roots: same depth, and each component equal or `*` in one.
fn roots_overlap(a: &[&str], b: &[&str]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || *x == "*" || *y == "*")
}

/// Whether `root` matches `folder` (at the root's depth: `*` never crosses '/').
fn root_matches(root: &[&str], folder: &str) -> bool {
    folder.split('/').count() == root.len() && root.iter().zip(folder.split('/')).all(|(r, f)| *r == "*" || *r == f)
}

/// The folders above `folder`, nearest first, without the repository's root.
fn ancestors(folder: &str) -> impl Iterator<Item = &str> {
    folder.rmatch_indices('/').filter_map(move |(end, _)| folder.get(..end))
}

/// Each folder's service name, unique without regard to case (step 5 of the module's docs).
fn unique_names(folders: &[&str]) -> Vec<String> {
    let parts: Vec<Vec<&str>> = folders.iter().map(|folder| folder.split('/').collect()).collect();
    // How many of its last components each name is made of.
    let mut levels = vec![1_usize; folders.len()];
    let name_of = |parts: &[&str], level: usize| {
        let start = parts.len().saturating_sub(level);
        service_name(&parts.get(start..).unwrap_or_default().join("-"))
    };
    loop {
        let names: Vec<String> = parts.iter().zip(&levels).map(|(parts, level)| name_of(parts, *level)).collect();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for name in &names {
            *counts.entry(name.to_ascii_lowercase()).or_default() += 1;
        }
        let mut longer = false;
        for ((name, level), parts) in names.iter().zip(levels.iter_mut()).zip(&parts) {
            if counts.get(&name.to_ascii_lowercase()).is_some_and(|count| *count > 1) && *level < parts.len() {
                *level += 1;
                longer = true;
            }
        }
        if !longer {
            return numbered(names);
        }
    }
}

/// Makes names still clashing unique with a number (`web-2`): the first, in folder order, keeps
/// its name.
fn numbered(names: Vec<String>) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for name in &names {
        *counts.entry(name.to_ascii_lowercase()).or_default() += 1;
    }
    let mut taken: HashSet<String> = counts.iter().filter(|(_, count)| **count == 1).map(|(n, _)| n.clone()).collect();
    let mut unique = Vec::with_capacity(names.len());
    for name in names {
        let mut candidate = name.clone();
        let mut number = 1_usize;
        while taken.contains(&candidate.to_ascii_lowercase())
            && counts.get(&name.to_ascii_lowercase()).is_some_and(|count| *count > 1)
        {
            number += 1;
            let suffix = format!("-{number}");
            let base: String = name.chars().take(MAX_NAME.saturating_sub(suffix.len())).collect();
            candidate = format!("{base}{suffix}");
        }
        taken.insert(candidate.to_ascii_lowercase());
        unique.push(candidate);
    }
    unique
}

/// `text` made a valid service name: characters other than letters, digits, '-', '_' and '.'
/// become '-', anything before the first letter or digit is dropped, and the rest is cut to 63
/// characters. Nothing left is `service`.
fn service_name(text: &str) -> String {
    let replaced: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' }).collect();
    let name: String =
        replaced.trim_start_matches(|c: char| !c.is_ascii_alphanumeric()).chars().take(MAX_NAME).collect();
    if name.is_empty() { "service".to_owned() } else { name }
}

/// What the service's Dockerfiles copy from outside its folder, as `depends_on` entries (step 7
/// of the module's docs).
fn depends_on(
    tree: &Tree<'_>,
    folder: &str,
    evidence: &[String],
    read: &impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut entries = BTreeSet::new();
    for file in evidence {
        let (dockerfile_folder, name) = file.rsplit_once('/').unwrap_or(("", file));
        if !is_dockerfile(name) {
            continue;
        }
        let Some(text) = read(file) else { continue };
        for source in copy_sources(&text) {
            entries.extend(dependency(tree, folder, dockerfile_folder, &source));
        }
    }
    entries.into_iter().collect()
}

/// The `depends_on` entry for one `COPY`/`ADD` source of a Dockerfile in `dockerfile_folder`, if
/// the source can only be read from the repository's root and lies outside the service's folder.
fn dependency(tree: &Tree<'_>, folder: &str, dockerfile_folder: &str, source: &str) -> Option<String> {
    if source.is_empty() || source.contains('$') || source.contains("://") || source.starts_with("<<") {
        return None;
    }
    // Docker reads every source relative to the context, a leading '/' included.
    let source = source.trim_start_matches('/');
    let at_root = resolve_pattern("", source).ok()?;
    // A glob is looked up by the literal folder before its first wildcard.
    let literal = literal_prefix(&at_root);
    // `.`, or a glob at the top: the whole context, whichever it is.
    if literal.is_empty() || !tree.exists(literal) {
        return None;
    }
    let found_beside = [dockerfile_folder, folder]
        .iter()
        .any(|base| resolve_pattern(base, source).is_ok_and(|relative| tree.exists(literal_prefix(&relative))));
    if found_beside || is_inside(literal, folder) {
        return None;
    }
    // The source as written (a glob stays one), or its literal folder if the manifest would not
    // take it.
    [at_root.as_str(), literal].into_iter().find_map(|target| {
        let entry = relative_path(folder, target);
        let valid =
            resolve_pattern(folder, &entry).is_ok_and(|resolved| resolved == target) && compile_globs(target).is_ok();
        valid.then_some(entry)
    })
}

/// The part of a repository-relative pattern before its first wildcard component.
fn literal_prefix(pattern: &str) -> &str {
    let mut end = 0;
    let mut offset = 0;
    for part in pattern.split('/') {
        if is_glob(part) {
            break;
        }
        offset += part.len();
        end = offset;
        offset += 1;
    }
    pattern.get(..end).unwrap_or("")
}

/// Whether `path` is `folder` or below it.
fn is_inside(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `target` written relative to `from` (both repository-relative): `../../libs/common`.
fn relative_path(from: &str, target: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|part| !part.is_empty()).collect();
    let target: Vec<&str> = target.split('/').filter(|part| !part.is_empty()).collect();
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let ups = std::iter::repeat_n("..", from.len().saturating_sub(common));
    ups.chain(target.iter().skip(common).copied()).collect::<Vec<_>>().join("/")
}

/// The sources of a Dockerfile's `COPY` and `ADD` instructions, as written: all arguments but the
/// destination, without those of multi-stage copies (`--from`).
fn copy_sources(dockerfile: &str) -> Vec<String> {
    instructions(dockerfile, escape_character(dockerfile)).iter().flat_map(|line| instruction_sources(line)).collect()
}

/// The line-continuation character: `\`, or what an `# escape=` parser directive at the top says.
fn escape_character(dockerfile: &str) -> char {
    for line in dockerfile.lines() {
        // Directives are `# key=value` comments before anything else.
        let Some((key, value)) = line.trim().strip_prefix('#').and_then(|directive| directive.split_once('=')) else {
            break;
        };
        if key.trim().eq_ignore_ascii_case("escape") && value.trim() == "`" {
            return '`';
        }
    }
    '\\'
}

/// A Dockerfile's instructions, one string each: continued lines joined, comments and blank lines
/// dropped (Docker drops them inside a continuation too), here-document bodies skipped.
fn instructions(dockerfile: &str, escape: char) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    let mut heredoc_ends: VecDeque<String> = VecDeque::new();
    for line in dockerfile.lines() {
        if let Some(end) = heredoc_ends.front() {
            if line.trim() == end {
                heredoc_ends.pop_front();
            }
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.strip_suffix(escape) {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                let instruction = std::mem::take(&mut current);
                heredoc_ends.extend(heredoc_terminators(&instruction));
                instructions.push(instruction);
            }
        }
    }
    if !current.trim().is_empty() {
        instructions.push(current);
    }
    instructions
}

/// The terminators of an instruction's here-documents (`<<EOF`, `<<-EOF`, `<<"EOF"`), in order.
fn heredoc_terminators(instruction: &str) -> Vec<String> {
    instruction
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("<<"))
        .map(|word| {
            let word = word.strip_prefix('-').unwrap_or(word).trim_start_matches(['"', '\'']);
            word.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect()
}

/// The sources of one instruction, if it is a `COPY` or `ADD` without `--from`.
fn instruction_sources(instruction: &str) -> Vec<String> {
    let Some((keyword, mut rest)) = instruction.trim().split_once(char::is_whitespace) else {
        return Vec::new();
    };
    if !keyword.eq_ignore_ascii_case("COPY") && !keyword.eq_ignore_ascii_case("ADD") {
        return Vec::new();
    }
    // Flags come first: `--chown=..`, `--chmod=..`, `--link` ...; `--from` copies from another
    // stage or image, not from the context.
    loop {
        rest = rest.trim_start();
        if !rest.starts_with("--") {
            break;
        }
        let (flag, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if flag.to_ascii_lowercase().starts_with("--from") {
            return Vec::new();
        }
        rest = after;
    }
    // The JSON form, `["a", "b", "/dst/"]`; Docker reads anything else as words.
    let words = || rest.split_whitespace().map(str::to_owned).collect();
    let arguments: Vec<String> =
        if rest.starts_with('[') { serde_json::from_str(rest.trim()).unwrap_or_else(|_| words()) } else { words() };
    arguments.split_last().map(|(_, sources)| sources.to_vec()).unwrap_or_default()
}

/// The text of a proposed `service.toml`.
fn manifest_text(repository: &str, name: &str, folder: &str, evidence: &[String], depends_on: &[String]) -> String {
    let mut lines = vec![format!("# Service `{name}`, proposed by `deltaship init`: this folder holds")];
    lines.extend(evidence.iter().map(|file| format!("#   {}", comment(file))));
    let folder_name = folder.rsplit('/').next().unwrap_or(folder);
    let renamed = folder_name != name;
    if renamed {
        lines.push(format!(
            "# The folder's name `{}` is not a valid service name, or another folder's too: `name` says `{name}`.",
            comment(folder_name)
        ));
    }
    lines.extend(
        [
            "# Each value marked \"placeholder\" is a guess from the repository's and the service's names:",
            "# edit it to name your own CodeBuild project, ECS cluster, service and container, and ECR",
            "# repository. `watch` is left out: the whole folder is watched.",
        ]
        .map(str::to_owned),
    );
    if renamed {
        lines.push(String::new());
        lines.push(format!("name = {}", toml_string(name)));
    }
    if !depends_on.is_empty() {
        let entries: Vec<String> = depends_on.iter().map(|entry| toml_string(entry)).collect();
        lines.push(String::new());
        lines.push(
            "# What its Dockerfiles copy from outside this folder (they build from the repository's root).".to_owned(),
        );
        lines.push(format!("depends_on = [{}]", entries.join(", ")));
    }

    let repository_word = resource_word(repository);
    let name_word = resource_word(name);
    let values = [
        ("project", format!("{repository_word}-{name_word}"), "the CodeBuild project that builds the image"),
        ("cluster", repository_word, "the ECS cluster"),
        ("service", name_word.clone(), "the ECS service"),
        ("container", name_word, "the container whose image the build replaces"),
        (
            "image_repository",
            format!("{}/{}", ecr_segment(repository), ecr_segment(name)),
            "the ECR repository the build pushes to",
        ),
    ];
    let assignments: Vec<(String, &str)> =
        values.iter().map(|(key, value, what)| (format!("{key} = {}", toml_string(value)), *what)).collect();
    let width = assignments.iter().map(|(assignment, _)| assignment.len()).max().unwrap_or(0);
    let mut assignments =
        assignments.into_iter().map(|(assignment, what)| format!("{assignment:<width$}  # placeholder: {what}"));
    lines.push(String::new());
    lines.push("[build]".to_owned());
    lines.extend(assignments.next());
    lines.push(String::new());
    lines.push("[deploy]".to_owned());
    lines.extend(assignments);
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// `text` made a name CodeBuild and ECS accept (letters, digits, '-', '_', starting with a letter
/// or digit): other characters become '-'. Nothing left is `app`.
fn resource_word(text: &str) -> String {
    let replaced: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '-' }).collect();
    let word: String =
        replaced.trim_start_matches(|c: char| !c.is_ascii_alphanumeric()).chars().take(MAX_REPOSITORY_PART).collect();
    if word.is_empty() { "app".to_owned() } else { word }
}

/// `text` made one segment of an ECR repository name: lower-case letters and digits, runs of
/// anything else one '-' (ECR takes one separator between letters or digits), none at the ends
/// (and no '.', which would make a first segment read as a registry's host). Nothing left is `app`.
fn ecr_segment(text: &str) -> String {
    let mut segment = String::new();
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            segment.push(c);
        } else if !segment.is_empty() && !segment.ends_with('-') {
            segment.push('-');
        }
        if segment.len() >= MAX_REPOSITORY_PART {
            break;
        }
    }
    let segment = segment.trim_end_matches('-');
    if segment.is_empty() { "app".to_owned() } else { segment.to_owned() }
}

/// `text` as a TOML basic string: quoted, with quotes, backslashes and control characters escaped.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `text` fit for a TOML comment: control characters (a newline would end it) become '?'.
fn comment(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_files() {
        for (path, folder) in [
            ("src/a/Dockerfile", Some("src/a")),
            ("src/a/Containerfile", Some("src/a")),
            ("src/a/Dockerfile.dev", Some("src/a")),
            ("src/a/buildspec.yml", Some("src/a")),
            ("a/buildspec.yaml", Some("a")),
            ("Dockerfile", Some("")),
            ("src/a/Dockerfile.dockerignore", None),
            ("src/a/Dockerfile.", None),
            ("src/a/dockerfile", None),
            ("src/a/Dockerfile/x", None),
            ("src/a/api.Dockerfile", None),
            ("src//Dockerfile", None),
            ("../Dockerfile", None),
            ("./Dockerfile", None),
        ] {
            assert_eq!(build_file_folder(path), folder, "{path}");
        }
    }

    #[test]
    fn folders_that_are_not_services() {
        for (folder, reason) in [
            ("", Some("root")),
            (".devcontainer", Some("hidden folder `.devcontainer`")),
            ("src/.x/y", Some("hidden folder `.x`")),
            ("src/a/tests", Some("under `tests`")),
            ("node_modules/pkg", Some("under `node_modules`")),
            ("Docs/site", Some("under `Docs`")),
            ("src/a[1]", Some("wildcard")),
            ("src/{a}", Some("wildcard")),
            ("src/testing", None),
            ("src/my api", None),
        ] {
            let got = not_a_service(folder);
            match reason {
                Some(reason) => assert!(got.as_ref().is_some_and(|got| got.contains(reason)), "{folder}: {got:?}"),
                None => assert_eq!(got, None, "{folder}"),
            }
        }
    }

    #[test]
    fn copy_sources_table() {
        let table: [(&str, &str, &[&str]); 16] = [
            ("plain", "COPY a b /dst/", &["a", "b"]),
            ("add, lower case", "add lib ./lib\ncopy go.mod ./", &["lib", "go.mod"]),
            ("one argument", "COPY a", &[]),
            ("flags", "COPY --chown=1:1 --chmod=644 --link a /dst", &["a"]),
            ("from", "COPY --from=build /out /app\nCOPY --link --from=x a b", &[]),
            ("json", r#"COPY ["a b", "c", "/dst/"]"#, &["a b", "c"]),
            ("json after flags", r#"COPY --chown=x ["a", "/dst/"]"#, &["a"]),
            ("broken json reads as words", r#"COPY ["a", /dst"#, &[r#"["a","#]),
            ("continuation", "COPY a \\\n  # comment\n\n  b \\\n  /dst", &["a", "b"]),
            ("escape directive", "# escape=`\nCOPY a `\n  b C:\\dst", &["a", "b"]),
            ("comments", "# COPY x y\n  # COPY z w\nRUN x", &[]),
            ("heredoc body", "RUN <<EOF\nCOPY inside heredoc\nEOF\nCOPY a b", &["a"]),
            ("heredoc dash", "RUN <<-'END' cat\n\tCOPY x y\n\tEND\nCOPY c d", &["c"]),
            ("other instructions", "FROM x\nRUN cp a b\nWORKDIR /app\nONBUILD COPY a b", &[]),
            ("crlf", "COPY a b\r\nCOPY c \\\r\n d\r\n", &["a", "c"]),
            ("unfinished continuation", "COPY a b \\", &["a"]),
        ];
        for (what, dockerfile, expected) in table {
            assert_eq!(copy_sources(dockerfile), expected, "{what}");
        }
    }

    #[test]
    fn dependencies_of_one_source() {
        let paths: Vec<String> = [
            "libs/common/a.go",
            "go.mod",
            "package.json",
            "apps/api/package.json",
            "apps/api/src/main.go",
            "apps/api/build/Dockerfile",
            "apps/web/x",
            "proto/a.proto",
            "src/tool.go",
        ]
        .map(str::to_owned)
        .to_vec();
        let tree = Tree::new(&paths);
        let table: [(&str, Option<&str>); 17] = [
            ("libs/common", Some("../../libs/common")),
            ("./libs/common/", Some("../../libs/common")),
            ("/libs/common", Some("../../libs/common")),
            ("go.mod", Some("../../go.mod")),
            ("proto/*.proto", Some("../../proto/*.proto")),
            ("apps/web", Some("../web")),
            // Ambiguous: the service has its own.
            ("package.json", None),
            // Inside the service's folder.
            ("apps/api/src", None),
            ("apps/api", None),
            // Relative to the Dockerfile's folder (`src` is the service folder's).
            ("src", None),
            (".", None),
            ("*.json", None),
            ("missing", None),
            ("$DIR/x", None),
            ("https://example.com/x", None),
            ("../x", None),
            ("<<EOF", None),
        ];
        for (source, expected) in table {
            let got = dependency(&tree, "apps/api", "apps/api/build", source);
            assert_eq!(got.as_deref(), expected, "{source}");
        }
    }

    #[test]
    fn relative_paths() {
        for (from, target, expected) in [
            ("apps/api", "libs/common", "../../libs/common"),
            ("apps/api", "apps/web", "../web"),
            ("apps/api", "go.mod", "../../go.mod"),
            ("a", "a/b", "b"),
            ("teams/a/services/x", "teams/a/lib", "../../lib"),
        ] {
            assert_eq!(relative_path(from, target), expected, "{from} → {target}");
        }
    }

    #[test]
    fn names_are_valid_and_unique() {
        let table: [(&[&str], &[&str]); 7] = [
            (&["apps/web", "tools/web", "apps/api"], &["apps-web", "tools-web", "api"]),
            (&["src/my api", "src/-x", "src/.ok", "src/Ünï"], &["my-api", "x", "ok", "n-"]),
            (&["a/--", "b/***"], &["a---", "b----"]),
            (&["web", "apps/web"], &["web", "apps-web"]),
            (&["a b/c", "a-b/c"], &["a-b-c", "a-b-c-2"]),
            (&["apps/Web", "tools/web"], &["apps-Web", "tools-web"]),
            (&["a b/c", "a-b/c", "q/a-b-c-2"], &["a-b-c", "a-b-c-3", "a-b-c-2"]),
        ];
        for (folders, expected) in table {
            assert_eq!(unique_names(folders), expected, "{folders:?}");
        }
        let long = "a".repeat(100);
        let names = unique_names(&[&format!("x/{long}"), &format!("y/{long}")]);
        assert!(names.iter().all(|name| name.len() <= MAX_NAME), "{names:?}");
        assert_ne!(names.first(), names.get(1));
    }

    #[test]
    fn placeholder_words() {
        assert_eq!(resource_word("My Shop.v2"), "My-Shop-v2");
        assert_eq!(resource_word("--x"), "x");
        assert_eq!(resource_word("ü"), "app");
        assert_eq!(ecr_segment("My Shop..v2-"), "my-shop-v2");
        assert_eq!(ecr_segment("-._"), "app");
        assert_eq!(ecr_segment(&"A".repeat(300)).len(), MAX_REPOSITORY_PART);
        assert_eq!(toml_string("a\"b\\c\nd"), r#""a\"b\\c\u000Ad""#);
    }

    #[test]
    fn generalizing_needs_a_literal_after_and_no_overlap() {
        let generalized = |folders: &[&'static str]| {
            let deployable: BTreeMap<&str, BTreeSet<&str>> =
                folders.iter().map(|folder| (*folder, BTreeSet::new())).collect();
            Layout::of(&deployable).roots
        };
        assert_eq!(generalized(&["teams/a/services/x", "teams/b/services/y"]), ["teams/*/services/*"]);
        assert_eq!(generalized(&["apps/x", "tools/y"]), ["apps/*", "tools/*"]);
        assert_eq!(generalized(&["src/a/src", "src/b/src"]), ["src/a/*", "src/b/*"]);
        // Two levels of variation: one after the other.
        assert_eq!(
            generalized(&["org/a/t/services/x", "org/a/u/services/y", "org/b/t/services/z", "org/b/u/services/w"]),
            ["org/*/*/services/*"]
        );
        // `*/a/s/*` merges first (same size, first in order); `x/*/s/*` would then match
        // `x/a/s/..` too, so `x/b/s/*` and `x/c/s/*` stay apart.
        assert_eq!(generalized(&["y/a/s/p", "z/a/s/q", "x/b/s/r", "x/c/s/t"]), ["*/a/s/*", "x/b/s/*", "x/c/s/*"]);
    }
}
