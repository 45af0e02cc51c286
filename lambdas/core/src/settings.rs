//! Repository settings: `deltaship.toml` at the repository root, validated strictly.
//!
//! ```toml
//! services = ["services/*"]          # service roots: folders that may be services (default)
//! branches = ["main", "release/*"]   # branches that deploy (globs; default ["main"])
//! deploy_all = ["Cargo.lock"]        # a change here deploys every service (default none)
//! first_push = "all"                 # a new branch deploys "all" services or "none" (default "all")
//! ```
//!
//! The file is optional: without it every default holds. Unknown keys, empty or malformed branch
//! patterns or roots ([`crate::roots`]), and `deploy_all` entries that leave the repository are
//! errors naming the key.

use globset::{GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::environments::Environment;
use crate::paths::{compile_glob, resolve_list};
use crate::roots::{DEFAULT_ROOTS, ServiceRoots};
use crate::source::{ManifestError, SourceFile, parse_toml};

/// The optional settings file at the repository root.
pub const SETTINGS_FILE: &str = "deltaship.toml";

/// What a new branch's first push deploys (it has no earlier commit to diff against).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirstPush {
    /// Every service: the branch's environment starts from exactly its commit.
    #[default]
    All,
    /// Nothing: only later pushes deploy.
    None,
}

/// Repository-wide settings from `deltaship.toml` (or the defaults when there is none).
#[derive(Debug, Clone)]
pub struct Settings {
    roots: ServiceRoots,
    environments: Vec<Environment>,
    branches: Vec<String>,
    branch_matcher: GlobSet,
    deploy_all: Vec<String>,
    first_push: FirstPush,
}

impl Default for Settings {
    fn default() -> Self {
        let branches = default_branches();
        let branch_matcher = compile_branch_globs("", &branches).unwrap_or_else(|_| GlobSet::empty());
        let roots = ServiceRoots::default();
        let environments = vec![Environment::default_environment()];
        Self { roots, environments, branches, branch_matcher, deploy_all: Vec::new(), first_push: FirstPush::All }
    }
}

impl Settings {
    /// Reads and validates `deltaship.toml`.
    pub fn parse(file: &SourceFile) -> Result<Self, Vec<ManifestError>> {
        let raw: RawSettings = parse_toml(file).map_err(|error| vec![error])?;
        let path = file.path.as_str();
        let mut errors = Vec::new();

        if raw.branches.is_empty() {
            errors.push(ManifestError::new(path, "branches".to_owned(), "must name at least one branch"));
        }
        for (index, branch) in raw.branches.iter().enumerate() {
            if branch.trim().is_empty() || branch.chars().any(|c| c.is_whitespace() || c.is_control()) {
                let problem = format!("`{branch}` is not a branch name or pattern");
                errors.push(ManifestError::new(path, format!("branches[{index}]"), problem));
            }
        }
        let branch_matcher = match compile_branch_globs(path, &raw.branches) {
            Ok(matcher) => Some(matcher),
            Err(error) => {
                errors.push(error);
                None
            }
        };
        let deploy_all = resolve_list(path, "", "deploy_all", &raw.deploy_all, &mut errors);
        let roots = ServiceRoots::parse(path, &raw.services).map_err(|problems| errors.extend(problems)).ok();
        let environments = crate::environments::environments(path, &raw.environments, &mut errors);

        match (roots, branch_matcher) {
            (Some(roots), Some(branch_matcher)) if errors.is_empty() => Ok(Self {
                roots,
                environments,
                branches: raw.branches,
                branch_matcher,
                deploy_all,
                first_push: raw.first_push,
            }),
            _ => Err(errors),
        }
    }

    /// Where the service folders are.
    pub fn roots(&self) -> &ServiceRoots {
        &self.roots
    }

    /// The environments, in pipeline order (one, [`crate::environments::DEFAULT_ENVIRONMENT`],
    /// when `deltaship.toml` lists none).
    pub fn environments(&self) -> &[Environment] {
        &self.environments
    }

    /// Whether a push to `branch` deploys.
    pub fn deploys_branch(&self, branch: &str) -> bool {
        self.branch_matcher.is_match(branch)
    }

    /// The branch patterns, as written.
    pub fn branches(&self) -> &[String] {
        &self.branches
    }

    /// Repository-relative patterns whose change deploys every service.
    pub fn deploy_all(&self) -> &[String] {
        &self.deploy_all
    }

    /// What a branch's first push deploys.
    pub fn first_push(&self) -> FirstPush {
        self.first_push
    }
}

/// The service roots `file` (`deltaship.toml`, if the repository has one) sets, for listing the
/// manifests before the catalog is built: the default when there is no file or a broken one (the
/// catalog then reports what is wrong with it).
pub fn roots_of(file: Option<&SourceFile>) -> ServiceRoots {
    file.and_then(|file| parse_toml::<RawSettings>(file).ok())
        .and_then(|raw| ServiceRoots::parse(SETTINGS_FILE, &raw.services).ok())
        .unwrap_or_default()
}

fn default_branches() -> Vec<String> {
    vec!["main".to_owned()]
}

fn default_roots() -> Vec<String> {
    DEFAULT_ROOTS.iter().map(|root| (*root).to_owned()).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(default = "default_roots")]
    services: Vec<String>,
    #[serde(default = "default_branches")]
    branches: Vec<String>,
    #[serde(default)]
    deploy_all: Vec<String>,
    #[serde(default)]
    first_push: FirstPush,
    #[serde(default)]
    environments: Vec<crate::environments::RawEnvironment>,
}

fn compile_branch_globs(file: &str, branches: &[String]) -> Result<GlobSet, ManifestError> {
    let mut builder = GlobSetBuilder::new();
    for (index, branch) in branches.iter().enumerate() {
        let glob = compile_glob(branch).map_err(|error| {
            ManifestError::new(file, format!("branches[{index}]"), format!("`{branch}` is not a valid glob: {error}"))
        })?;
        builder.add(glob);
    }
    builder.build().map_err(|error| ManifestError::new(file, "branches".to_owned(), error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile::new(path, text.as_bytes())
    }

    #[test]
    fn settings_defaults_and_parsing() {
        let defaults = Settings::default();
        assert!(defaults.deploys_branch("main"));
        assert!(!defaults.deploys_branch("dev"));
        assert_eq!(defaults.first_push(), FirstPush::All);
        assert_eq!(defaults.roots().patterns(), ["services/*"]);

        let text = r#"
services = ["src/*", "teams/*/services/*"]
branches = ["main", "release/*"]
deploy_all = ["Cargo.lock", "rust-toolchain.toml"]
first_push = "none"
"#;
        let settings = Settings::parse(&file(SETTINGS_FILE, text)).unwrap();
        assert!(settings.deploys_branch("release/1.2"));
        assert!(!settings.deploys_branch("release/1.2/hotfix"), "`*` must not cross '/'");
        assert!(!settings.deploys_branch("feature/x"));
        assert_eq!(settings.deploy_all(), ["Cargo.lock", "rust-toolchain.toml"]);
        assert_eq!(settings.first_push(), FirstPush::None);
        assert_eq!(settings.branches(), ["main", "release/*"]);
        assert_eq!(settings.roots().patterns(), ["src/*", "teams/*/services/*"]);
        assert!(settings.roots().matches("teams/a/services/x"));
    }

    #[test]
    fn broken_settings_name_the_key() {
        let table = [
            ("brnaches = [\"main\"]", Some("brnaches"), "unknown field `brnaches`"),
            ("branches = []", Some("branches"), "at least one branch"),
            ("branches = [\"\"]", Some("branches[0]"), "not a branch name"),
            ("branches = [\"rel[\"]", Some("branches[0]"), "not a valid glob"),
            ("first_push = \"some\"", Some("first_push"), "unknown variant `some`"),
            ("deploy_all = [\"../x\"]", Some("deploy_all[0]"), "leaves the repository"),
            ("deploy_all = [\"{a\"]", Some("deploy_all[0]"), "not a valid glob"),
            ("services = []", Some("services"), "at least one root"),
            ("services = [\"**/svc/*\"]", Some("services[0]"), "has `**`"),
            ("services = \"src/*\"", Some("services"), "expected a sequence"),
        ];
        for (text, key, problem) in table {
            let errors = Settings::parse(&file(SETTINGS_FILE, text)).unwrap_err();
            let error = errors.first().unwrap();
            assert_eq!(error.file, SETTINGS_FILE);
            assert_eq!(error.key.as_deref(), key, "{text}: {error}");
            assert!(error.problem.contains(problem), "{text}: {error}");
        }
    }
}
