//! Properties of the planner over generated repositories and pushes (proptest), checked against an
//! oracle written without globs:
//!
//! - every changed path inside a service's folder (its default `watch`) or its `depends_on`
//!   folders, and not ignored, plans that service, with the path among its reasons;
//! - every reason of a planned service is a changed path that the oracle says deploys it (no
//!   service without a reason, no reason made up);
//! - the plan does not depend on the order of the changes (or on repeated changes).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;

use deltaship_core::{Catalog, Change, SourceFile};
use proptest::prelude::*;

const NAMES: [&str; 5] = ["users", "products", "orders", "api-gateway", "users_v2"];
const SHARED: [&str; 3] = ["common", "proto", "libs/auth"];

/// One generated service: its name, whether it ignores `docs` and Markdown, what it depends on.
#[derive(Debug, Clone)]
struct Spec {
    name: &'static str,
    ignores: bool,
    depends_on: Vec<&'static str>,
}

impl Spec {
    fn manifest(&self) -> SourceFile {
        let ignore = if self.ignores { r#"ignore = ["docs", "**/*.md"]"# } else { "" };
        let depends: Vec<String> = self.depends_on.iter().map(|shared| format!("\"../../{shared}\"")).collect();
        let (name, depends) = (self.name, depends.join(", "));
        SourceFile::new(
            format!("services/{name}/service.toml"),
            format!(
                "{ignore}\ndepends_on = [{depends}]\n[build]\nproject = \"{name}-build\"\n[deploy]\n\
                 cluster = \"shop\"\nservice = \"{name}\"\ncontainer = \"app\"\nimage_repository = \"shop/{name}\"\n"
            ),
        )
    }

    /// The oracle: whether a change of `path` deploys this service.
    fn deploys(&self, path: &str) -> bool {
        let folder = format!("services/{}", self.name);
        let inside = |dir: &str| path == dir || path.starts_with(&format!("{dir}/"));
        let watched = inside(&folder) || self.depends_on.iter().any(|shared| inside(shared));
        let file = path.rsplit('/').next().unwrap();
        // `ignore` is relative to the service's folder: `**/*.md` is Markdown inside it only.
        let ignored = self.ignores && (inside(&format!("{folder}/docs")) || (inside(&folder) && file.ends_with(".md")));
        watched && !ignored
    }
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    proptest::sample::subsequence(NAMES.to_vec(), 1..=NAMES.len()).prop_flat_map(|names| {
        let count = names.len();
        (
            Just(names),
            proptest::collection::vec(any::<bool>(), count),
            proptest::collection::vec(proptest::sample::subsequence(SHARED.to_vec(), 0..=SHARED.len()), count),
        )
            .prop_map(|(names, ignores, depends)| {
                names
                    .into_iter()
                    .zip(ignores)
                    .zip(depends)
                    .map(|((name, ignores), depends_on)| Spec { name, ignores, depends_on })
                    .collect()
            })
    })
}

/// A path anywhere a push might touch: in a service (known or not), a shared folder, or elsewhere.
fn path() -> impl Strategy<Value = String> {
    let top = prop_oneof![
        proptest::sample::select(NAMES.to_vec()).prop_map(|name| format!("services/{name}")),
        Just("services/unknown".to_owned()),
        Just("services/users-old".to_owned()),
        proptest::sample::select(SHARED.to_vec()).prop_map(ToOwned::to_owned),
        Just("libs".to_owned()),
        Just(String::new()),
    ];
    let middle = proptest::collection::vec(proptest::sample::select(vec!["src", "docs", "deep", "a.b", "x y"]), 0..3);
    let file = proptest::sample::select(vec!["main.rs", "README.md", "Dockerfile", "service.toml", "x.MD", "docs"]);
    (top, middle, file).prop_map(|(top, middle, file)| {
        let mut parts: Vec<String> = Vec::new();
        if !top.is_empty() {
            parts.push(top);
        }
        parts.extend(middle.into_iter().map(ToOwned::to_owned));
        parts.push(file.to_owned());
        parts.join("/")
    })
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        path().prop_map(Change::Added),
        path().prop_map(Change::Modified),
        path().prop_map(Change::Deleted),
        (path(), path()).prop_map(|(from, to)| Change::Moved { from, to }),
    ]
}

fn catalog(specs: &[Spec]) -> Catalog {
    let manifests: Vec<SourceFile> = specs.iter().map(Spec::manifest).collect();
    Catalog::load(None, &manifests).unwrap_or_else(|error| panic!("generated manifests are valid: {error}"))
}

/// (service, reasons) of a plan.
fn summary(catalog: &Catalog, changes: &[Change]) -> Vec<(String, Vec<String>)> {
    catalog
        .plan(changes)
        .services
        .iter()
        .map(|planned| {
            (planned.service.name.clone(), planned.reasons.iter().map(|reason| (*reason).to_owned()).collect())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_watched_and_not_ignored_path_plans_its_service(
        specs in specs(),
        changes in proptest::collection::vec(change(), 0..12),
    ) {
        let catalog = catalog(&specs);
        let plan = summary(&catalog, &changes);
        let paths: BTreeSet<&str> = changes.iter().flat_map(Change::paths).collect();
        for spec in &specs {
            let expected: Vec<String> =
                paths.iter().filter(|path| spec.deploys(path)).map(|path| (*path).to_owned()).collect();
            let planned = plan.iter().find(|(name, _)| name == spec.name);
            match planned {
                None => prop_assert!(expected.is_empty(), "{} not planned for {:?}", spec.name, expected),
                Some((_, reasons)) => prop_assert_eq!(reasons, &expected, "reasons of {}", spec.name),
            }
        }
        for (name, reasons) in &plan {
            prop_assert!(!reasons.is_empty(), "{} planned without a reason", name);
            prop_assert!(specs.iter().any(|spec| spec.name == name), "{} is no service", name);
        }
    }

    #[test]
    fn the_plan_does_not_depend_on_the_order_or_repetition_of_changes(
        specs in specs(),
        (changes, shuffled) in proptest::collection::vec(change(), 0..12)
            .prop_flat_map(|changes| (Just(changes.clone()), Just(changes).prop_shuffle())),
        repeat in any::<bool>(),
    ) {
        let catalog = catalog(&specs);
        let mut other = shuffled;
        if repeat {
            other.extend(other.clone());
        }
        prop_assert_eq!(summary(&catalog, &changes), summary(&catalog, &other));
        prop_assert_eq!(catalog.plan(&changes).removed, catalog.plan(&other).removed);
    }
}
