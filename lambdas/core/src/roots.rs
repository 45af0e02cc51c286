//! Service roots: which folders of a repository are service folders.
//!
//! `deltaship.toml`'s `services` lists the roots, globs of folders (`["services/*"]` by default;
//! `src/*`, `apps/*`, `teams/*/services/*` ...). **A service is a folder a root matches that
//! holds a `service.toml`**; its name is the folder's last component. A root's components are
//! each a literal folder name or a one-component glob (`*`, `svc-*`, `{api,web}`): a wildcard
//! never crosses a `/`, and `**` is refused, so that a root matches folders at one depth and
//! listing them reads only the folders on the way ([`ServiceRoots::step`]).
//!
//! Everything that looks for services asks this module: the catalog (which manifest declares a
//! service), the planner (which deleted manifest removed one), and the adapters that list the
//! manifests at a commit (the CLI's git reader, detect-changes' CodeCommit reads).

use globset::GlobMatcher;

use crate::manifest::MANIFEST_FILE;
use crate::paths::{compile_glob, is_glob, resolve_pattern};
use crate::source::ManifestError;

/// The roots when `deltaship.toml` sets none.
pub const DEFAULT_ROOTS: [&str; 1] = ["services/*"];

/// The most roots `services` may list (each is a walk of the repository's folders).
pub const MAX_ROOTS: usize = 64;

/// The folders that may be service folders, from `deltaship.toml`'s `services`.
#[derive(Debug, Clone)]
pub struct ServiceRoots {
    /// The roots as resolved (repository-relative, normalised), in the order written.
    patterns: Vec<String>,
    /// Each root's components.
    roots: Vec<Vec<Component>>,
}

#[derive(Debug, Clone)]
enum Component {
    Literal(String),
    Glob(GlobMatcher),
}

impl Component {
    fn matches(&self, name: &str) -> bool {
        match self {
            Self::Literal(literal) => literal == name,
            Self::Glob(glob) => glob.is_match(name),
        }
    }
}

/// What to do with a folder while listing the service folders ([`ServiceRoots::step`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    /// A root matches the folder: read its `service.toml`, if it has one.
    pub service: bool,
    /// Roots go deeper, and every next component is literal: these sub-folders (sorted), which
    /// need no listing of the folder.
    pub children: Vec<String>,
    /// A root goes deeper through a glob: list the folder's sub-folders, and step into those
    /// [`ServiceRoots::leads_to`] accepts.
    pub list: bool,
}

impl Default for ServiceRoots {
    fn default() -> Self {
        let entries: Vec<String> = DEFAULT_ROOTS.iter().map(|root| (*root).to_owned()).collect();
        // The default roots are valid: the table test below holds them to it.
        Self::parse("", &entries).unwrap_or(Self { patterns: Vec::new(), roots: Vec::new() })
    }
}

impl ServiceRoots {
    /// Validates the roots `entries` of `file` (key `services`): each is a repository-relative
    /// folder glob with no `**`, inside the repository, not the repository itself.
    pub fn parse(file: &str, entries: &[String]) -> Result<Self, Vec<ManifestError>> {
        let mut errors = Vec::new();
        let error = |index: usize, problem: String| ManifestError::new(file, format!("services[{index}]"), problem);
        if entries.is_empty() {
            let problem = "must name at least one root (the default is [\"services/*\"])";
            errors.push(ManifestError::new(file, "services".to_owned(), problem));
        }
        if entries.len() > MAX_ROOTS {
            let problem = format!("lists {} roots; at most {MAX_ROOTS}", entries.len());
            errors.push(ManifestError::new(file, "services".to_owned(), problem));
        }
        let mut patterns = Vec::with_capacity(entries.len());
        let mut roots = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let pattern = match resolve_pattern("", entry) {
                Ok(pattern) if pattern.is_empty() => {
                    errors.push(error(
                        index,
                        format!(
                            "`{entry}` is the repository itself; name the folders of services, e.g. \"services/*\""
                        ),
                    ));
                    continue;
                }
                Ok(pattern) => pattern,
                Err(problem) => {
                    errors.push(error(index, problem));
                    continue;
                }
            };
            let mut components = Vec::new();
            for part in pattern.split('/') {
                if part.contains("**") {
                    errors.push(error(
                        index,
                        format!("`{entry}` has `**`: a root names folders at one depth; write each level (`teams/*/services/*`)"),
                    ));
                    components.clear();
                    break;
                }
                if is_glob(part) {
                    match compile_glob(part) {
                        Ok(glob) => components.push(Component::Glob(glob.compile_matcher())),
                        Err(problem) => {
                            errors.push(error(index, format!("`{entry}` is not a valid glob: {problem}")));
                            components.clear();
                            break;
                        }
                    }
                } else {
                    components.push(Component::Literal(part.to_owned()));
                }
            }
            if components.is_empty() {
                continue;
            }
            if patterns.contains(&pattern) {
                errors.push(error(index, format!("`{entry}` is listed twice")));
                continue;
            }
            patterns.push(pattern);
            roots.push(components);
        }
        if errors.is_empty() { Ok(Self { patterns, roots }) } else { Err(errors) }
    }

    /// The roots, resolved, in the order written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether a root matches `folder` (repository-relative, no trailing `/`).
    pub fn matches(&self, folder: &str) -> bool {
        let parts: Vec<&str> = folder.split('/').collect();
        !folder.is_empty()
            && self.roots.iter().any(|root| {
                root.len() == parts.len() && root.iter().zip(&parts).all(|(component, part)| component.matches(part))
            })
    }

    /// Whether some root matches `folder` or a folder below it, so that a walk steps into it.
    pub fn leads_to(&self, folder: &str) -> bool {
        let parts: Vec<&str> = folder.split('/').filter(|part| !part.is_empty()).collect();
        self.roots.iter().any(|root| {
            root.len() >= parts.len() && root.iter().zip(&parts).all(|(component, part)| component.matches(part))
        })
    }

    /// If `path` is a manifest (`<folder>/service.toml`) whose folder a root matches: the
    /// service's folder.
    pub fn manifest_folder<'p>(&self, path: &'p str) -> Option<&'p str> {
        let folder = path.strip_suffix(MANIFEST_FILE)?.strip_suffix('/')?;
        self.matches(folder).then_some(folder)
    }

    /// What a walk of the service folders does at `folder` (`""` for the repository's root),
    /// which [`ServiceRoots::leads_to`] accepted. Listing the service folders from `""` reads
    /// only the folders on the way to them: a literal component is stepped into by name.
    pub fn step(&self, folder: &str) -> Step {
        let parts: Vec<&str> = folder.split('/').filter(|part| !part.is_empty()).collect();
        let mut step = Step::default();
        for root in &self.roots {
            let on_the_way =
                root.len() >= parts.len() && root.iter().zip(&parts).all(|(component, part)| component.matches(part));
            if !on_the_way {
                continue;
            }
            match root.get(parts.len()) {
                None => step.service = true,
                Some(Component::Literal(name)) => {
                    let child = if folder.is_empty() { name.clone() } else { format!("{folder}/{name}") };
                    step.children.push(child);
                }
                Some(Component::Glob(_)) => step.list = true,
            }
        }
        step.children.sort_unstable();
        step.children.dedup();
        if step.list {
            // Listing finds the literal children too.
            step.children.clear();
        }
        step
    }
}

/// A service's name: its folder's last component.
pub fn service_name(folder: &str) -> &str {
    folder.rsplit('/').next().unwrap_or(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(entries: &[&str]) -> ServiceRoots {
        let entries: Vec<String> = entries.iter().map(|entry| (*entry).to_owned()).collect();
        ServiceRoots::parse("deltaship.toml", &entries).unwrap()
    }

    #[test]
    fn the_default_is_services_star() {
        let default = ServiceRoots::default();
        assert_eq!(default.patterns(), ["services/*"]);
        assert!(default.matches("services/api"));
        assert_eq!(roots(&["src/*"]).patterns(), ["src/*"]);
    }

    #[test]
    fn which_folders_are_service_folders() {
        let table: [(&[&str], &str, bool); 14] = [
            (&["services/*"], "services/api", true),
            (&["services/*"], "services", false),
            (&["services/*"], "services/api/src", false),
            (&["services/*"], "src/api", false),
            (&["src/*", "apps/*"], "apps/web", true),
            (&["teams/*/services/*"], "teams/a/services/x", true),
            (&["teams/*/services/*"], "teams/a/x", false),
            (&["teams/*/services/*"], "teams/a/services", false),
            (&["svc-*"], "svc-users", true),
            (&["svc-*"], "users", false),
            (&["apps/{api,web}"], "apps/web", true),
            (&["apps/{api,web}"], "apps/cli", false),
            (&["deploy/api"], "deploy/api", true),
            (&["services/*"], "", false),
        ];
        for (entries, folder, expected) in table {
            assert_eq!(roots(entries).matches(folder), expected, "{entries:?} {folder}");
        }
    }

    #[test]
    fn manifests_of_services() {
        let roots = roots(&["src/*", "teams/*/services/*"]);
        assert_eq!(roots.manifest_folder("src/api/service.toml"), Some("src/api"));
        assert_eq!(roots.manifest_folder("teams/a/services/x/service.toml"), Some("teams/a/services/x"));
        assert_eq!(roots.manifest_folder("src/api/docs/service.toml"), None);
        assert_eq!(roots.manifest_folder("services/api/service.toml"), None);
        assert_eq!(roots.manifest_folder("src/api/service.tom"), None);
        assert_eq!(roots.manifest_folder("service.toml"), None);
        assert_eq!(service_name("teams/a/services/x"), "x");
        assert_eq!(service_name("x"), "x");
    }

    #[test]
    fn a_walk_reads_only_the_folders_on_the_way() {
        let roots = roots(&["services/*", "teams/*/services/*", "deploy/api"]);
        let step = roots.step("");
        assert_eq!(
            step,
            Step { service: false, children: vec!["deploy".into(), "services".into(), "teams".into()], list: false }
        );
        assert_eq!(roots.step("deploy"), Step { service: false, children: vec!["deploy/api".into()], list: false });
        assert_eq!(roots.step("deploy/api"), Step { service: true, children: vec![], list: false });
        assert_eq!(roots.step("services"), Step { service: false, children: vec![], list: true });
        assert_eq!(roots.step("services/x"), Step { service: true, children: vec![], list: false });
        assert_eq!(roots.step("teams"), Step { service: false, children: vec![], list: true });
        assert_eq!(
            roots.step("teams/a"),
            Step { service: false, children: vec!["teams/a/services".into()], list: false }
        );
        assert!(roots.leads_to("teams/a") && roots.leads_to("teams/a/services/x") && !roots.leads_to("docs"));
        assert!(!roots.leads_to("services/x/src"));
        // A root at the top level lists the repository's root.
        assert_eq!(super::tests::roots(&["*"]).step(""), Step { service: false, children: vec![], list: true });
    }

    #[test]
    fn bad_roots_are_named() {
        let table: [(&[&str], &str); 7] = [
            (&[], "at least one root"),
            (&["."], "the repository itself"),
            (&["**/services/*"], "has `**`"),
            (&["services/**"], "has `**`"),
            (&["../x/*"], "leaves the repository"),
            (&["/abs/*"], "absolute"),
            (&["src/*", "src/*/"], "listed twice"),
        ];
        for (entries, problem) in table {
            let entries: Vec<String> = entries.iter().map(|entry| (*entry).to_owned()).collect();
            let errors = ServiceRoots::parse("deltaship.toml", &entries).unwrap_err();
            assert!(
                errors.iter().any(|error| error.to_string().contains(problem) && error.file == "deltaship.toml"),
                "{entries:?}: {errors:?}"
            );
        }
        let broken = ServiceRoots::parse("deltaship.toml", &["src/[a".to_owned()]).unwrap_err();
        assert_eq!(broken[0].key.as_deref(), Some("services[0]"), "{broken:?}");
        let many: Vec<String> = (0..=MAX_ROOTS).map(|index| format!("r{index}/*")).collect();
        assert!(ServiceRoots::parse("deltaship.toml", &many).is_err());
    }
}
