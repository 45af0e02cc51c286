//! What is wrong with a repository's deltaship configuration at one commit, and what each path
//! deploys: the decision behind `deltaship check`.
//!
//! - **Problems**: every invalid manifest or setting ([`CatalogError`]: a key, a glob, a name, a
//!   manifest outside the service roots, two services on one ECS service), and two services
//!   that build with one CodeBuild project (their builds would be told apart only by the
//!   variables start-build sets).
//! - **Triggers**: for each service, the patterns that deploy it (its `watch` and `depends_on`,
//!   the repository's `deploy_all`) and those that never do (`ignore`), with how many of the
//!   commit's files each service owns.
//! - **Unowned paths**: the commit's files that no service owns: a change there deploys nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::planner::{Catalog, CatalogError, Change};
use crate::source::ManifestError;

/// What `deltaship check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport<'a> {
    /// Every problem, one per file and key.
    pub problems: Vec<ManifestError>,
    /// Each service's triggers, by name (none when the catalog is invalid).
    pub services: Vec<Triggers<'a>>,
    /// Files no service owns, sorted (none when the catalog is invalid).
    pub unowned: Vec<&'a str>,
}

/// What deploys one service (as `deltaship check --format json` prints it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Triggers<'a> {
    /// The service.
    pub name: &'a str,
    /// Its folder.
    pub folder: &'a str,
    /// Its own sources (`watch`), repository-relative.
    pub watch: &'a [String],
    /// What it depends on outside its folder (`depends_on`).
    pub depends_on: &'a [String],
    /// What deploys every service (`deploy_all` in `deltaship.toml`).
    pub deploy_all: &'a [String],
    /// What never deploys it (`ignore`).
    pub ignore: &'a [String],
    /// How many of the commit's files deploy it when they change.
    pub files: usize,
}

impl CheckReport<'_> {
    /// Whether anything is wrong.
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// Checks the catalog at a commit (`catalog`, or why it could not be built) against the commit's
/// `files` (every file path, in any order).
pub fn check<'a>(catalog: &'a Result<Catalog, CatalogError>, files: &'a [String]) -> CheckReport<'a> {
    let catalog = match catalog {
        Ok(catalog) => catalog,
        Err(error) => {
            let problems = match error {
                CatalogError::Invalid(problems) => problems.clone(),
                CatalogError::Matcher(_) => {
                    vec![ManifestError { file: String::new(), line: None, key: None, problem: error.to_string() }]
                }
            };
            return CheckReport { problems, services: Vec::new(), unowned: Vec::new() };
        }
    };

    let mut problems = Vec::new();
    let mut by_project: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for service in catalog.services() {
        by_project.entry(service.build.project.as_str()).or_default().push(service.manifest.as_str());
    }
    for (project, manifests) in by_project.into_iter().filter(|(_, manifests)| manifests.len() > 1) {
        for manifest in manifests.iter().skip(1) {
            problems.push(ManifestError {
                file: (*manifest).to_owned(),
                line: None,
                key: Some("build.project".to_owned()),
                problem: format!(
                    "CodeBuild project `{project}` already builds {}: give each service its own project",
                    manifests.first().copied().unwrap_or_default()
                ),
            });
        }
    }

    // Every file as a change: the plan then says which files deploy which service.
    let changes: Vec<Change> = files.iter().map(|path| Change::Modified(path.clone())).collect();
    let plan = catalog.plan(&changes);
    let mut owned: BTreeSet<&str> = BTreeSet::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for planned in &plan.services {
        counts.insert(planned.service.name.as_str(), planned.reasons.len());
        owned.extend(planned.reasons.iter().copied());
    }
    let mut unowned: Vec<&str> = files.iter().map(String::as_str).filter(|path| !owned.contains(path)).collect();
    unowned.sort_unstable();
    unowned.dedup();

    let deploy_all = catalog.settings().deploy_all();
    let services = catalog
        .services()
        .iter()
        .map(|service| Triggers {
            name: &service.name,
            folder: &service.folder,
            watch: &service.watch,
            depends_on: &service.depends_on,
            deploy_all,
            ignore: &service.ignore,
            files: counts.get(service.name.as_str()).copied().unwrap_or(0),
        })
        .collect();
    CheckReport { problems, services, unowned }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    fn manifest(folder: &str, project: &str, extra: &str) -> SourceFile {
        let name = folder.rsplit('/').next().unwrap_or(folder);
        SourceFile::new(
            format!("{folder}/service.toml"),
            format!(
                "{extra}\n[build]\nproject = \"{project}\"\n[deploy]\ncluster = \"c\"\nservice = \"{name}\"\ncontainer = \"app\"\nimage_repository = \"r/{name}\"\n"
            ),
        )
    }

    fn files(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|path| (*path).to_owned()).collect()
    }

    #[test]
    fn triggers_and_unowned_paths() {
        let settings = SourceFile::new("deltaship.toml", "services = [\"src/*\"]\ndeploy_all = [\"go.mod\"]");
        let catalog = Catalog::load(
            Some(&settings),
            &[
                manifest("src/api", "api", "depends_on = [\"../../libs/common\"]\nignore = [\"**/*.md\"]"),
                manifest("src/web", "web", ""),
            ],
        );
        let tree = files(&[
            "src/web/main.go",
            "src/api/main.go",
            "src/api/README.md",
            "src/api/service.toml",
            "src/web/service.toml",
            "libs/common/x.go",
            "libs/other/y.go",
            "go.mod",
            "docs/index.md",
            "deltaship.toml",
        ]);
        let report = check(&catalog, &tree);
        assert!(!report.has_problems(), "{report:?}");
        let api = &report.services[0];
        assert_eq!((api.name, api.folder), ("api", "src/api"));
        assert_eq!(api.depends_on, ["libs/common"]);
        assert_eq!(api.deploy_all, ["go.mod"]);
        assert_eq!(api.ignore, ["src/api/**/*.md"]);
        // main.go, service.toml, libs/common/x.go, go.mod; not the README.
        assert_eq!(api.files, 4);
        assert_eq!(report.services[1].files, 3);
        assert_eq!(report.unowned, ["deltaship.toml", "docs/index.md", "libs/other/y.go", "src/api/README.md"]);
    }

    #[test]
    fn conflicts_and_invalid_files_are_problems() {
        let shared = Catalog::load(None, &[manifest("services/a", "shared", ""), manifest("services/b", "shared", "")]);
        let report = check(&shared, &[]);
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert_eq!(report.problems[0].file, "services/b/service.toml");
        assert_eq!(report.problems[0].key.as_deref(), Some("build.project"));
        assert!(report.problems[0].problem.contains("already builds services/a/service.toml"));

        let mut same_target = manifest("services/b", "build-b", "");
        same_target.contents =
            String::from_utf8(same_target.contents).unwrap().replace("service = \"b\"", "service = \"a\"").into_bytes();
        let broken = Catalog::load(
            None,
            &[manifest("services/a", "build-a", ""), same_target, manifest("src/x", "build-x", "")],
        );
        let report = check(&broken, &[]);
        assert!(report.has_problems());
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert!(shown.iter().any(|line| line.contains("is not in a service folder")), "{shown:?}");
        assert!(shown.iter().any(|line| line.contains("is already deployed by services/a/service.toml")), "{shown:?}");
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(report.services.is_empty() && report.unowned.is_empty());
    }
}
