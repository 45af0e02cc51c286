//! The planner: which services a set of changed paths deploys, and why.
//!
//! Every service's `watch`, `depends_on` and `ignore` globs, and the repository's `deploy_all`
//! globs, are compiled into one matcher; each changed path is matched against it once, whatever
//! the number of services. A path deploys a service when it matches one of the service's `watch`,
//! `depends_on` or the repository's `deploy_all` globs and none of the service's `ignore` globs.
//!
//! The matcher splits each pattern into a literal folder and the rest: plain paths, `F/**` and
//! `F/**/<one component>` (such as every service's `**/*.md`) need no regex, and one component
//! glob is compiled once however many services repeat it. Other globs go into one
//! [`globset::GlobSet`] that only paths below their literal folder ask. `docs/PERFORMANCE.md`
//! has the figures.
//!
//! A service whose manifest was deleted (its folder removed or renamed) is not in the catalog at
//! the new commit, so it cannot be deployed; the plan reports it as removed.

use std::cmp::Ordering;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::manifest::{self, Service};
use crate::matcher::{FolderContext, Matcher, MatcherBuilder};
use crate::roots::service_name;
use crate::settings::{FirstPush, SETTINGS_FILE, Settings};
use crate::source::{ManifestError, SourceFile};

/// One changed file between two commits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// The file is new.
    Added(String),
    /// The file's content or mode changed.
    Modified(String),
    /// The file is gone.
    Deleted(String),
    /// The file moved: both its old and its new path are changes.
    Moved {
        /// The old path.
        from: String,
        /// The new path.
        to: String,
    },
}

impl Change {
    /// The change a diff reports as a path before and a path after; `None` if both are absent.
    pub fn from_sides(before: Option<String>, after: Option<String>) -> Option<Self> {
        match (before, after) {
            (None, None) => None,
            (None, Some(path)) => Some(Self::Added(path)),
            (Some(path), None) => Some(Self::Deleted(path)),
            (Some(from), Some(to)) if from == to => Some(Self::Modified(to)),
            (Some(from), Some(to)) => Some(Self::Moved { from, to }),
        }
    }

    /// Every path this change touches (both sides of a move).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        let (first, second) = match self {
            Self::Added(path) | Self::Modified(path) | Self::Deleted(path) => (path.as_str(), None),
            Self::Moved { from, to } => (from.as_str(), Some(to.as_str())),
        };
        std::iter::once(first).chain(second)
    }

    /// The path that no longer exists after this change, if any.
    fn gone(&self) -> Option<&str> {
        match self {
            Self::Deleted(path) | Self::Moved { from: path, .. } => Some(path),
            Self::Added(_) | Self::Modified(_) => None,
        }
    }
}

/// The services and settings of a repository at one commit, with their globs compiled.
#[derive(Debug, Clone)]
pub struct Catalog {
    settings: Settings,
    /// Sorted by name.
    services: Vec<Service>,
    /// Every pattern, with what it belongs to.
    matcher: Matcher<Owner>,
}

#[derive(Debug, Clone, Copy)]
enum Owner {
    /// A `watch` or `depends_on` glob of the service at this index.
    Include(usize),
    /// An `ignore` glob of the service at this index.
    Ignore(usize),
    /// A `deploy_all` glob.
    All,
}

/// Why a catalog could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// One or more files are invalid; every problem found is listed, one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ManifestError>),
    /// The globs, though each valid, could not be compiled together.
    #[error("the globs of all services could not be compiled together: {0}")]
    Matcher(String),
}

impl CatalogError {
    /// The individual problems (empty for [`CatalogError::Matcher`]).
    pub fn problems(&self) -> &[ManifestError] {
        match self {
            Self::Invalid(problems) => problems,
            Self::Matcher(_) => &[],
        }
    }
}

impl Catalog {
    /// Reads `deltaship.toml` (if the repository has one) and every service's `service.toml`,
    /// validates them all, and compiles the matcher. Every problem in every file is reported;
    /// a manifest in a folder no service root matches is one ([`crate::roots`]).
    pub fn load(settings: Option<&SourceFile>, manifests: &[SourceFile]) -> Result<Self, CatalogError> {
        let mut problems = Vec::new();
        let settings = match settings {
            Some(file) => Settings::parse(file).unwrap_or_else(|errors| {
                problems.extend(errors);
                Settings::default()
            }),
            None => Settings::default(),
        };
        let mut services = Vec::with_capacity(manifests.len());
        for file in manifests {
            if settings.roots().manifest_folder(&file.path).is_none() {
                let problem = format!(
                    "is not in a service folder: no root of {SETTINGS_FILE} `services` ({}) matches its folder",
                    settings.roots().patterns().join(", ")
                );
                problems.push(ManifestError::new(&file.path, None, problem));
                continue;
            }
            match manifest::parse_service(file) {
                Ok(service) => {
                    problems.extend(crate::environments::unknown_environments(
                        &service.manifest,
                        &service.environments,
                        settings.environments(),
                    ));
                    services.push(service);
                }
                Err(errors) => problems.extend(errors),
            }
        }
        if !problems.is_empty() {
            // The conflicts among the valid ones too: every problem at once.
            problems.extend(conflicts(&mut services));
            return Err(CatalogError::Invalid(problems));
        }
        Self::new(settings, services)
    }

    /// A catalog of already validated services. Two services may not deploy to the same ECS
    /// service.
    pub fn new(settings: Settings, mut services: Vec<Service>) -> Result<Self, CatalogError> {
        let problems = conflicts(&mut services);
        if !problems.is_empty() {
            return Err(CatalogError::Invalid(problems));
        }

        let mut builder = MatcherBuilder::new();
        let mut add = |pattern: &str, owner: Owner, file: &str| -> Result<(), CatalogError> {
            builder.add(pattern, owner).map_err(|error| {
                CatalogError::Invalid(vec![ManifestError {
                    file: file.to_owned(),
                    line: None,
                    key: None,
                    problem: format!("`{pattern}` is not a valid glob: {error}"),
                }])
            })
        };
        for pattern in settings.deploy_all() {
            add(pattern, Owner::All, SETTINGS_FILE)?;
        }
        for (index, service) in services.iter().enumerate() {
            for pattern in service.watch.iter().chain(&service.depends_on) {
                add(pattern, Owner::Include(index), &service.manifest)?;
            }
            for pattern in &service.ignore {
                add(pattern, Owner::Ignore(index), &service.manifest)?;
            }
        }
        let matcher = builder.build().map_err(|error| CatalogError::Matcher(error.to_string()))?;
        Ok(Self { settings, services, matcher })
    }

    /// The repository settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Every service, sorted by name.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The service of this name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services
            .binary_search_by(|service| service.name.as_str().cmp(name))
            .ok()
            .and_then(|index| self.services.get(index))
    }

    /// The plan for a push whose diff is `changes`: a view that borrows the services from the
    /// catalog and the reasons from `changes`.
    pub fn plan<'a>(&'a self, changes: &'a [Change]) -> Plan<'a> {
        // Diffs come in path order (git's and CodeCommit's): one pass then plans them, each
        // path's bytes read once. Any other order is sorted first, which gives the same plan.
        let reasons = self.reasons(changes.iter().flat_map(Change::paths)).unwrap_or_else(|OutOfOrder| {
            let mut paths: Vec<&str> = changes.iter().flat_map(Change::paths).collect();
            paths.sort_unstable();
            // Sorted, so this pass cannot find the paths out of order.
            self.reasons(paths.into_iter()).unwrap_or_default()
        });

        let services = self
            .services
            .iter()
            .zip(reasons)
            .filter(|(_, reasons)| !reasons.is_empty())
            .map(|(service, reasons)| PlannedService { service, reasons })
            .collect();
        let removed: BTreeSet<&str> = changes
            .iter()
            .filter_map(Change::gone)
            .filter_map(|path| self.settings.roots().manifest_folder(path))
            .map(service_name)
            .filter(|name| self.service(name).is_none())
            .collect();
        Plan { services, removed: removed.into_iter().collect() }
    }

    /// Each service's reasons: the paths that deploy it, sorted and without repeats. `paths`
    /// must come sorted (repeats allowed); the first out of order stops the pass.
    ///
    /// One pass reads each path's bytes once, which is most of the time a path costs when
    /// 100,000 of them do not fit in the cache: the matcher compares a path with the one before
    /// as it walks to the path's folder (which orders it, and skips a repeat), and a path only
    /// walks the folders it does not share with the one before.
    fn reasons<'a>(&self, paths: impl Iterator<Item = &'a str>) -> Result<Vec<Vec<&'a str>>, OutOfOrder> {
        let count = self.services.len();
        let mut reasons: Vec<Vec<&str>> = vec![Vec::new(); count];
        // Per service, the index of the last path that ignored or recorded it (stamps avoid
        // clearing per-path state).
        let mut ignored_at = vec![usize::MAX; count];
        let mut recorded_at = vec![usize::MAX; count];
        let mut matches = Vec::new();
        let mut context = FolderContext::default();

        for (at, path) in paths.enumerate() {
            match self.matcher.matches_into(path, &mut context, &mut matches) {
                Some(Ordering::Equal) => continue,
                Some(Ordering::Greater) => return Err(OutOfOrder),
                Some(Ordering::Less) | None => {}
            }
            if matches.is_empty() {
                continue;
            }
            let mut deploys_all = false;
            for owner in &matches {
                match *owner {
                    Owner::Ignore(service) => set(&mut ignored_at, service, at),
                    Owner::All => deploys_all = true,
                    Owner::Include(_) => {}
                }
            }
            let mut record = |service: usize| {
                if ignored_at.get(service) != Some(&at) && recorded_at.get(service) != Some(&at) {
                    set(&mut recorded_at, service, at);
                    if let Some(list) = reasons.get_mut(service) {
                        list.push(path);
                    }
                }
            };
            if deploys_all {
                (0..count).for_each(&mut record);
            } else {
                for owner in &matches {
                    if let Owner::Include(service) = *owner {
                        record(service);
                    }
                }
            }
        }
        Ok(reasons)
    }

    /// The plan for a branch's first push, which has no earlier commit to diff against: every
    /// service (each with its manifest as the reason) or none, as `first_push` says.
    pub fn plan_first_push(&self) -> Plan<'_> {
        let services = match self.settings.first_push() {
            FirstPush::None => Vec::new(),
            FirstPush::All => self
                .services
                .iter()
                .map(|service| PlannedService { service, reasons: vec![service.manifest.as_str()] })
                .collect(),
        };
        Plan { services, removed: Vec::new() }
    }
}

/// Sorts `services` by name, and finds the conflicts among them: a name declared twice, two
/// services deploying one ECS service.
fn conflicts(services: &mut [Service]) -> Vec<ManifestError> {
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let mut problems = Vec::new();
    for pair in services.windows(2) {
        if let [a, b] = pair
            && a.name == b.name
        {
            let problem = format!("service `{}` is declared twice (also in {})", b.name, a.manifest);
            problems.push(ManifestError { file: b.manifest.clone(), line: None, key: None, problem });
        }
    }
    // Services are in name order, so each duplicate names the first service (by name) that
    // deploys the same target.
    let mut owners_by_target: BTreeMap<(&str, &str), &Service> = BTreeMap::new();
    for service in services.iter() {
        let (cluster, ecs_service) = service.deploy.target();
        match owners_by_target.entry((cluster, ecs_service)) {
            Entry::Vacant(slot) => {
                slot.insert(service);
            }
            Entry::Occupied(first) => problems.push(ManifestError {
                file: service.manifest.clone(),
                line: None,
                key: Some("deploy.service".to_owned()),
                problem: format!(
                    "ECS service `{ecs_service}` in cluster `{cluster}` is already deployed by {}",
                    first.get().manifest
                ),
            }),
        }
    }
    // The same in each later environment.
    let mut owners_by_target: BTreeMap<(&str, &str, &str), &Service> = BTreeMap::new();
    for service in services.iter() {
        for (environment, target) in &service.environments {
            let (cluster, ecs_service) =
                (manifest::resource_name(&target.cluster), manifest::resource_name(&target.service));
            match owners_by_target.entry((environment.as_str(), cluster, ecs_service)) {
                Entry::Vacant(slot) => {
                    slot.insert(service);
                }
                Entry::Occupied(first) => problems.push(ManifestError {
                    file: service.manifest.clone(),
                    line: None,
                    key: Some(format!("environments.{environment}.service")),
                    problem: format!(
                        "ECS service `{ecs_service}` in cluster `{cluster}` is already deployed in {environment} by {}",
                        first.get().manifest
                    ),
                }),
            }
        }
    }
    problems
}

/// Paths given to [`Catalog::reasons`] out of order.
struct OutOfOrder;

fn set(stamps: &mut [usize], index: usize, value: usize) {
    if let Some(stamp) = stamps.get_mut(index) {
        *stamp = value;
    }
}

/// What a push deploys: a view over a [`Catalog`] and the push's [`Change`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan<'a> {
    /// The services to build and roll out, sorted by name.
    pub services: Vec<PlannedService<'a>>,
    /// Services whose manifest the push deleted: not deployed, sorted.
    pub removed: Vec<&'a str>,
}

impl Plan<'_> {
    /// Whether the push deploys nothing.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}

/// A service to deploy, and the changed paths that made it so (sorted, no duplicates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedService<'a> {
    /// The service.
    pub service: &'a Service,
    /// The changed paths that deploy it.
    pub reasons: Vec<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest for `name` with the given extra top-level lines (watch, ignore, depends_on).
    fn manifest(name: &str, extra: &str) -> SourceFile {
        let text = format!(
            "{extra}\n[build]\nproject = \"{name}\"\n[deploy]\ncluster = \"shop\"\nservice = \"{name}\"\n\
             container = \"app\"\nimage_repository = \"shop/{name}\"\n"
        );
        SourceFile::new(format!("services/{name}/service.toml"), text.into_bytes())
    }

    fn catalog(settings: Option<&str>) -> Catalog {
        let settings = settings.map(|text| SourceFile::new(SETTINGS_FILE, text.as_bytes()));
        Catalog::load(
            settings.as_ref(),
            &[
                manifest(
                    "users",
                    r#"ignore = ["docs", "**/*.md"]
depends_on = ["../common", "../../proto/users.proto"]"#,
                ),
                manifest("products", r#"depends_on = ["../common"]"#),
                manifest("search", r#"watch = ["src/*.rs"]"#),
            ],
        )
        .unwrap()
    }

    fn planned<'a>(plan: &Plan<'a>) -> Vec<(&'a str, Vec<&'a str>)> {
        plan.services.iter().map(|s| (s.service.name.as_str(), s.reasons.clone())).collect()
    }

    fn modified(paths: &[&str]) -> Vec<Change> {
        paths.iter().map(|p| Change::Modified((*p).to_owned())).collect()
    }

    #[test]
    fn planner_table() {
        let catalog = catalog(Some(r#"deploy_all = ["Cargo.lock"]"#));
        let moved = |from: &str, to: &str| Change::Moved { from: from.into(), to: to.into() };
        type Row<'a> = (&'a str, Vec<Change>, Vec<(&'a str, Vec<&'a str>)>);
        let table: Vec<Row<'_>> = vec![
            ("nothing changed", vec![], vec![]),
            ("unwatched path", modified(&["README.md", "scripts/x.sh"]), vec![]),
            (
                "own folder",
                modified(&["services/users/src/main.rs"]),
                vec![("users", vec!["services/users/src/main.rs"])],
            ),
            (
                "manifest itself",
                modified(&["services/products/service.toml"]),
                vec![("products", vec!["services/products/service.toml"])],
            ),
            (
                "shared library",
                modified(&["services/common/src/lib.rs"]),
                vec![("products", vec!["services/common/src/lib.rs"]), ("users", vec!["services/common/src/lib.rs"])],
            ),
            ("depends_on a file", modified(&["proto/users.proto"]), vec![("users", vec!["proto/users.proto"])]),
            ("depends_on is not a prefix", modified(&["services/common-old/x.rs", "proto/users.proto.bak"]), vec![]),
            ("ignored docs", modified(&["services/users/docs/guide.txt", "services/users/src/README.md"]), vec![]),
            (
                "ignore is per service",
                modified(&["services/products/README.md"]),
                vec![("products", vec!["services/products/README.md"])],
            ),
            (
                "ignore only drops the ignored path",
                modified(&["services/users/README.md", "services/users/src/lib.rs"]),
                vec![("users", vec!["services/users/src/lib.rs"])],
            ),
            ("star does not cross /", modified(&["services/search/src/deep/mod.rs"]), vec![]),
            (
                "star matches one level",
                modified(&["services/search/src/lib.rs"]),
                vec![("search", vec!["services/search/src/lib.rs"])],
            ),
            ("outside watch, own folder", modified(&["services/search/Dockerfile"]), vec![]),
            ("similar folder name", modified(&["services/users2/x", "services/user/x"]), vec![]),
            (
                "deploy_all",
                modified(&["Cargo.lock"]),
                vec![("products", vec!["Cargo.lock"]), ("search", vec!["Cargo.lock"]), ("users", vec!["Cargo.lock"])],
            ),
            (
                "added",
                vec![Change::Added("services/products/src/new.rs".into())],
                vec![("products", vec!["services/products/src/new.rs"])],
            ),
            (
                "deleted",
                vec![Change::Deleted("services/products/src/old.rs".into())],
                vec![("products", vec!["services/products/src/old.rs"])],
            ),
            (
                "move between services touches both",
                vec![moved("services/users/src/util.rs", "services/products/src/util.rs")],
                vec![
                    ("products", vec!["services/products/src/util.rs"]),
                    ("users", vec!["services/users/src/util.rs"]),
                ],
            ),
            (
                "reasons sorted and unique",
                modified(&["services/users/src/z.rs", "services/users/src/a.rs", "services/users/src/z.rs"]),
                vec![("users", vec!["services/users/src/a.rs", "services/users/src/z.rs"])],
            ),
        ];
        for (name, changes, expected) in table {
            let plan = catalog.plan(&changes);
            assert_eq!(planned(&plan), expected, "{name}");
            assert!(plan.removed.is_empty(), "{name}");
        }
    }

    #[test]
    fn ignore_wins_over_deploy_all() {
        let settings = SourceFile::new(SETTINGS_FILE, b"deploy_all = [\"docs\"]".to_vec());
        let manifests = [manifest("users", r#"ignore = ["../../docs/internal"]"#), manifest("products", "")];
        let catalog = Catalog::load(Some(&settings), &manifests).unwrap();
        let changes = modified(&["docs/internal/notes.md", "docs/guide.md"]);
        let plan = catalog.plan(&changes);
        assert_eq!(
            planned(&plan),
            vec![("products", vec!["docs/guide.md", "docs/internal/notes.md"]), ("users", vec!["docs/guide.md"]),]
        );
    }

    #[test]
    fn result_does_not_depend_on_input_order() {
        let catalog = catalog(None);
        let changes = modified(&["services/common/a.rs", "services/users/b.rs", "services/products/c.rs", "x"]);
        let mut reversed = changes.clone();
        reversed.reverse();
        assert_eq!(catalog.plan(&reversed), catalog.plan(&changes));
    }

    #[test]
    fn deleted_service_is_removed_not_deployed() {
        let catalog = catalog(None); // at the new commit there is no `legacy` service
        let changes = vec![
            Change::Deleted("services/legacy/service.toml".into()),
            Change::Deleted("services/legacy/src/main.rs".into()),
            Change::Deleted("services/legacy/docs/service.toml".into()),
        ];
        let plan = catalog.plan(&changes);
        assert!(plan.services.is_empty());
        assert_eq!(plan.removed, ["legacy"]);

        // A service that exists at the new commit is never reported removed, even if the
        // changes (inconsistently) say its manifest was deleted.
        let inconsistent = vec![Change::Deleted("services/users/service.toml".into())];
        assert!(catalog.plan(&inconsistent).removed.is_empty());
    }

    #[test]
    fn renamed_service_folder_removes_the_old_name() {
        let catalog = catalog(None); // `products` exists at the new commit, `catalog` does not
        let changes = vec![Change::Moved {
            from: "services/catalog/service.toml".into(),
            to: "services/products/service.toml".into(),
        }];
        let plan = catalog.plan(&changes);
        assert_eq!(planned(&plan), vec![("products", vec!["services/products/service.toml"])]);
        assert_eq!(plan.removed, ["catalog"]);
    }

    #[test]
    fn first_push_policy() {
        let catalog_all = catalog(None);
        let all = catalog_all.plan_first_push();
        assert_eq!(
            planned(&all),
            vec![
                ("products", vec!["services/products/service.toml"]),
                ("search", vec!["services/search/service.toml"]),
                ("users", vec!["services/users/service.toml"]),
            ]
        );
        let catalog_none = catalog(Some(r#"first_push = "none""#));
        let none = catalog_none.plan_first_push();
        assert!(none.is_empty());
    }

    #[test]
    fn duplicate_ecs_targets_are_errors() {
        let retarget = |name: &str, service: &str| {
            let text = String::from_utf8(manifest(name, "").contents).unwrap();
            SourceFile::new(
                format!("services/{name}/service.toml"),
                text.replace(&format!("service = \"{name}\""), &format!("service = \"{service}\"")),
            )
        };
        let a = manifest("alpha", "");
        let b = retarget("beta", "alpha");
        let c = retarget("gamma", "arn:aws:ecs:eu-west-1:123456789012:service/shop/alpha");
        let error = Catalog::load(None, &[a, b, c]).unwrap_err();
        let shown: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        for line in &shown {
            assert!(line.contains("key `deploy.service`: ECS service `alpha` in cluster `shop` is already deployed by services/alpha/service.toml"), "{line}");
        }
    }

    #[test]
    fn load_reports_problems_of_every_file() {
        let broken = SourceFile::new("services/x/service.toml", b"[build]\n".to_vec());
        let settings = SourceFile::new(SETTINGS_FILE, b"first_push = \"maybe\"".to_vec());
        let error = Catalog::load(Some(&settings), &[broken, manifest("ok", "")]).unwrap_err();
        let files: Vec<&str> = error.problems().iter().map(|p| p.file.as_str()).collect();
        assert_eq!(files, [SETTINGS_FILE, "services/x/service.toml"]);
        assert_eq!(error.to_string().lines().count(), 2);
    }

    mod against_a_naive_planner {
        use proptest::prelude::*;

        use super::*;
        use crate::manifest::{Build, Deploy};

        const NAMES: [&str; 7] = ["services", "a", "b", "docs", "x.md", "y.rs", "Cargo.lock"];
        const WILDCARDS: [&str; 5] = ["*", "**", "*.md", "{a,b}", "?"];

        fn patterns() -> impl Strategy<Value = Vec<String>> {
            let part = prop_oneof![
                3 => prop::sample::select(NAMES.to_vec()),
                1 => prop::sample::select(WILDCARDS.to_vec()),
            ];
            let pattern = prop::collection::vec(part, 1..4).prop_map(|parts| parts.join("/"));
            prop::collection::vec(pattern, 0..3)
        }

        fn service(name: &str, watch: Vec<String>, ignore: Vec<String>) -> Service {
            Service {
                name: name.to_owned(),
                folder: format!("services/{name}"),
                manifest: format!("services/{name}/service.toml"),
                build: Build { project: name.to_owned(), timeout_minutes: 60 },
                deploy: Deploy {
                    cluster: "shop".into(),
                    service: name.to_owned(),
                    container: "app".into(),
                    image_repository: name.to_owned(),
                    timeout_minutes: 30,
                },
                watch,
                ignore,
                depends_on: Vec::new(),
                environments: std::collections::BTreeMap::new(),
            }
        }

        /// The reference planner's answer, as (service, reasons) for the services it deploys.
        fn naive<'a>(catalog: &Catalog, paths: &[&'a str]) -> Vec<(String, Vec<&'a str>)> {
            let mut sorted = paths.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            let reasons = crate::testing::naive::NaivePlanner::new(catalog).plan(&sorted);
            catalog
                .services()
                .iter()
                .zip(reasons)
                .filter(|(_, reasons)| !reasons.is_empty())
                .map(|(service, reasons)| (service.name.clone(), reasons))
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn plans_what_the_naive_planner_plans(
                specs in prop::collection::vec((patterns(), patterns()), 1..4),
                deploy_all in patterns(),
                paths in prop::collection::vec(
                    prop::collection::vec(prop::sample::select(NAMES.to_vec()), 1..5).prop_map(|p| p.join("/")),
                    0..16,
                ),
            ) {
                let all = specs.iter().flat_map(|(watch, ignore)| watch.iter().chain(ignore)).chain(&deploy_all);
                prop_assume!(all.clone().all(|pattern| crate::paths::compile_globs(pattern).is_ok()));
                let services = specs
                    .into_iter()
                    .enumerate()
                    .map(|(index, (watch, ignore))| service(&format!("s{index}"), watch, ignore))
                    .collect();
                let quoted: Vec<String> = deploy_all.iter().map(|pattern| format!("{pattern:?}")).collect();
                let text = format!("deploy_all = [{}]", quoted.join(", "));
                let Ok(settings) = Settings::parse(&SourceFile::new(SETTINGS_FILE, text.into_bytes())) else {
                    return Err(TestCaseError::reject("deploy_all the settings refuse"));
                };
                let catalog = Catalog::new(settings, services).unwrap();
                let changes = modified(&paths.iter().map(String::as_str).collect::<Vec<_>>());
                let plan = catalog.plan(&changes);
                let got: Vec<(String, Vec<&str>)> =
                    plan.services.iter().map(|s| (s.service.name.clone(), s.reasons.clone())).collect();
                let paths: Vec<&str> = changes.iter().flat_map(Change::paths).collect();
                prop_assert_eq!(got, naive(&catalog, &paths));
            }
        }
    }

    #[test]
    fn change_sides() {
        assert_eq!(Change::from_sides(None, None), None);
        assert_eq!(Change::from_sides(None, Some("a".into())), Some(Change::Added("a".into())));
        assert_eq!(Change::from_sides(Some("a".into()), None), Some(Change::Deleted("a".into())));
        assert_eq!(Change::from_sides(Some("a".into()), Some("a".into())), Some(Change::Modified("a".into())));
        let moved = Change::from_sides(Some("a".into()), Some("b".into())).unwrap();
        assert_eq!(moved.paths().collect::<Vec<_>>(), ["a", "b"]);
    }
}
