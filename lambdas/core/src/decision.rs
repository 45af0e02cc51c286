//! What a push deploys: the one decision behind `deltaship plan` and detect-changes alike.
//!
//! In order, the first that applies decides:
//!
//! | when | decision |
//! |------|----------|
//! | the pushed commit's message says `[skip deploy]` ([`crate::deliveries::skips_deploy`]) | [`Decision::Skip`]: nothing, whatever changed |
//! | `deltaship.toml`'s `branches` does not take the branch | [`Decision::BranchNotDeployed`] |
//! | no folder the service roots match holds a `service.toml` | [`Decision::NoServices`]: nothing is defined yet (`deltaship init` proposes manifests) |
//! | the branch's first push (no base commit) | [`Decision::Deploy`] of every service, or none (`first_push`) |
//! | otherwise | [`Decision::Deploy`] of the services the changed paths touch ([`Catalog::plan`]), maybe none |
//!
//! detect-changes asks as soon as it can answer: [`skip`] before it reads any manifest,
//! [`without_diff`] before it reads the changed paths, [`decide`] last. `deltaship plan` asks
//! [`decide`].

use crate::deliveries::{SKIP_DEPLOY, skips_deploy};
use crate::planner::{Catalog, Change, Plan};
use crate::settings::SETTINGS_FILE;

/// What a push deploys, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    /// The commit's message says [`SKIP_DEPLOY`].
    Skip {
        /// The message's first line.
        subject: String,
    },
    /// `deltaship.toml` does not deploy the branch.
    BranchNotDeployed {
        /// The branch.
        branch: String,
        /// The `branches` patterns.
        branches: Vec<String>,
    },
    /// No service is defined at the commit.
    NoServices {
        /// The service roots that were looked in.
        roots: Vec<String>,
    },
    /// The plan: the services to deploy (none when no changed path touches one).
    Deploy {
        /// What to deploy, and why.
        plan: Plan<'a>,
        /// Whether this is the branch's first push (every service or none, by `first_push`).
        first_push: bool,
        /// How many paths changed (0 for a first push).
        changed_paths: usize,
    },
}

/// The decision for a pushed commit whose message is `message`, if the message alone decides
/// (a skip). detect-changes asks this before it reads the manifests.
pub fn skip(message: &str) -> Option<Decision<'static>> {
    skips_deploy(message).then(|| Decision::Skip { subject: message.lines().next().unwrap_or_default().to_owned() })
}

/// The decision, if it is taken before the diff: a skip, a branch that does not deploy, no
/// service defined. detect-changes asks this before it reads the changed paths. `branch`:
/// the branch pushed to; `None` when it is not known (`deltaship plan` of two commits), which
/// rules out no branch.
pub fn without_diff(message: &str, branch: Option<&str>, catalog: &Catalog) -> Option<Decision<'static>> {
    if let Some(skip) = skip(message) {
        return Some(skip);
    }
    let settings = catalog.settings();
    if let Some(branch) = branch.filter(|branch| !settings.deploys_branch(branch)) {
        return Some(Decision::BranchNotDeployed { branch: branch.to_owned(), branches: settings.branches().to_vec() });
    }
    if catalog.services().is_empty() {
        return Some(Decision::NoServices { roots: settings.roots().patterns().to_vec() });
    }
    None
}

/// What a push of `branch` (see [`without_diff`]) deploys: its commit's `message`, the
/// `catalog` at the commit, and its `changes` (`None` for the branch's first push).
pub fn decide<'a>(
    message: &str,
    branch: Option<&str>,
    catalog: &'a Catalog,
    changes: Option<&'a [Change]>,
) -> Decision<'a> {
    if let Some(decision) = without_diff(message, branch, catalog) {
        return decision;
    }
    match changes {
        Some(changes) => Decision::Deploy {
            plan: catalog.plan(changes),
            first_push: false,
            changed_paths: changes.iter().map(|change| change.paths().count()).sum(),
        },
        None => Decision::Deploy { plan: catalog.plan_first_push(), first_push: true, changed_paths: 0 },
    }
}

impl Decision<'_> {
    /// The plan, when the push deploys anything.
    pub fn plan(&self) -> Option<&Plan<'_>> {
        match self {
            Self::Deploy { plan, .. } if !plan.services.is_empty() => Some(plan),
            _ => None,
        }
    }

    /// A stable name for the decision, for JSON: `skip`, `branch_not_deployed`, `no_services`,
    /// `nothing_to_deploy` or `deploy`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Skip { .. } => "skip",
            Self::BranchNotDeployed { .. } => "branch_not_deployed",
            Self::NoServices { .. } => "no_services",
            Self::Deploy { plan, .. } if plan.services.is_empty() => "nothing_to_deploy",
            Self::Deploy { .. } => "deploy",
        }
    }

    /// Why the push deploys nothing, in a sentence; `None` when it deploys something.
    pub fn why_nothing(&self) -> Option<String> {
        Some(match self {
            Self::Skip { subject } => format!("the commit says {SKIP_DEPLOY} ({subject:?})"),
            Self::BranchNotDeployed { branch, branches } => {
                format!("branch {branch} does not deploy ({SETTINGS_FILE} `branches` is {branches:?})")
            }
            Self::NoServices { roots } => format!(
                "no service is defined: no folder that {SETTINGS_FILE} `services` ({}) matches holds a service.toml; \
                 `deltaship init` proposes them",
                roots.join(", ")
            ),
            Self::Deploy { plan, .. } if !plan.services.is_empty() => return None,
            Self::Deploy { first_push: true, .. } => {
                "first push of the branch and deltaship.toml says first_push = \"none\"".to_owned()
            }
            Self::Deploy { changed_paths: 0, .. } => "the two commits have the same files".to_owned(),
            Self::Deploy { changed_paths: 1, .. } => "the one changed path touches no service".to_owned(),
            Self::Deploy { changed_paths, .. } => {
                format!("none of the {changed_paths} changed paths touches a service (or each is ignored)")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    fn manifest(folder: &str) -> SourceFile {
        let name = folder.rsplit('/').next().unwrap_or(folder);
        SourceFile::new(
            format!("{folder}/service.toml"),
            format!(
                "[build]\nproject = \"build-{name}\"\n[deploy]\ncluster = \"c\"\nservice = \"{name}\"\ncontainer = \"app\"\nimage_repository = \"r/{name}\"\n"
            ),
        )
    }

    fn catalog(settings: Option<&str>, folders: &[&str]) -> Catalog {
        let settings = settings.map(|text| SourceFile::new(SETTINGS_FILE, text));
        let manifests: Vec<SourceFile> = folders.iter().map(|folder| manifest(folder)).collect();
        Catalog::load(settings.as_ref(), &manifests).unwrap()
    }

    #[test]
    fn the_first_rule_that_applies_decides() {
        let two = catalog(None, &["services/a", "services/b"]);
        let none = catalog(None, &[]);
        let src = catalog(Some("services = [\"src/*\"]\nfirst_push = \"none\""), &["src/a"]);
        let change_a = [Change::Modified("services/a/main.rs".into())];
        let change_docs = [Change::Modified("docs/x.md".into())];
        let change_src = [Change::Modified("src/a/main.rs".into())];
        // (message, branch, catalog, changes, decision name, services)
        type Case<'c> = (&'c str, Option<&'c str>, &'c Catalog, Option<&'c [Change]>, &'c str, &'c [&'c str]);
        let table: [Case<'_>; 11] = [
            ("fix\n\n[skip deploy]", Some("main"), &two, Some(&change_a), "skip", &[]),
            ("[SKIP DEPLOY] docs", Some("feature/x"), &none, None, "skip", &[]),
            ("fix", Some("feature/x"), &two, Some(&change_a), "branch_not_deployed", &[]),
            ("fix", None, &two, Some(&change_a), "deploy", &["a"]),
            ("fix", Some("main"), &none, Some(&change_a), "no_services", &[]),
            ("fix", Some("main"), &none, None, "no_services", &[]),
            ("fix", Some("main"), &two, Some(&change_a), "deploy", &["a"]),
            ("fix", Some("main"), &two, Some(&change_docs), "nothing_to_deploy", &[]),
            ("first", Some("main"), &two, None, "deploy", &["a", "b"]),
            ("first", Some("main"), &src, None, "nothing_to_deploy", &[]),
            ("fix", Some("main"), &src, Some(&change_src), "deploy", &["a"]),
        ];
        for (message, branch, catalog, changes, name, services) in table {
            let decision = decide(message, branch, catalog, changes);
            assert_eq!(decision.name(), name, "{message:?} {branch:?} {changes:?}");
            let planned: Vec<&str> = decision
                .plan()
                .map(|plan| plan.services.iter().map(|planned| planned.service.name.as_str()).collect())
                .unwrap_or_default();
            assert_eq!(planned, services, "{message:?} {branch:?} {changes:?}");
            assert_eq!(decision.why_nothing().is_none(), !services.is_empty(), "{decision:?}");
        }
    }

    #[test]
    fn each_nothing_says_why() {
        let none = catalog(None, &[]);
        let two = catalog(None, &["services/a", "services/b"]);
        let docs = [Change::Modified("docs/x.md".into()), Change::Modified("README.md".into())];
        let table: [(Decision<'_>, &str); 5] = [
            (decide("wip [skip deploy]\nmore", Some("main"), &two, None), "[skip deploy] (\"wip [skip deploy]\")"),
            (decide("x", Some("dev"), &two, None), "branch dev does not deploy"),
            (decide("x", Some("main"), &none, None), "`deltaship init` proposes them"),
            (decide("x", Some("main"), &two, Some(&docs)), "none of the 2 changed paths"),
            (decide("x", Some("main"), &two, Some(&[])), "the same files"),
        ];
        for (decision, expected) in table {
            let why = decision.why_nothing().unwrap();
            assert!(why.contains(expected), "{why}");
        }
        assert_eq!(skip("fine"), None);
        assert_eq!(without_diff("fine", Some("main"), &two), None);
        assert_eq!(without_diff("fine", None, &none).map(|decision| decision.name()), Some("no_services"));
    }
}
