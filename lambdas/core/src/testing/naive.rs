//! The reference planner: each path against each service's globs, one glob at a time, as
//! [`crate::paths`] defines them and as a per-path loop over glob filters would run. Slow on
//! purpose and obviously right: the planner's property tests must agree with it, and the
//! benchmark times the planner against it.

use globset::{Candidate, GlobMatcher};

use crate::Catalog;
use crate::paths::compile_globs;

/// The globs a resolved pattern stands for, each compiled on its own; `None` if one does not
/// compile.
pub fn pattern_matchers(pattern: &str) -> Option<Vec<GlobMatcher>> {
    compile_globs(pattern).ok().map(|globs| globs.iter().map(globset::Glob::compile_matcher).collect())
}

/// Whether any of `globs` matches `path`.
pub fn matches_any(globs: &[GlobMatcher], path: &Candidate<'_>) -> bool {
    globs.iter().any(|glob| glob.is_match_candidate(path))
}

/// Every service of a catalog, its globs compiled one by one: a service's ignore globs, then its
/// own (`watch`, `depends_on`) and the `deploy_all` globs.
#[derive(Debug, Clone)]
pub struct NaivePlanner {
    /// Per service, in the catalog's order: (includes, ignores).
    services: Vec<(Vec<GlobMatcher>, Vec<GlobMatcher>)>,
    deploy_all: Vec<GlobMatcher>,
}

impl NaivePlanner {
    /// The reference for `catalog`. Its patterns compiled when the catalog was built, so none
    /// fails here; one that did would match nothing.
    pub fn new(catalog: &Catalog) -> Self {
        let compile = |patterns: &mut dyn Iterator<Item = &String>| -> Vec<GlobMatcher> {
            patterns.flat_map(|pattern| pattern_matchers(pattern).unwrap_or_default()).collect()
        };
        let services = catalog
            .services()
            .iter()
            .map(|service| {
                (compile(&mut service.watch.iter().chain(&service.depends_on)), compile(&mut service.ignore.iter()))
            })
            .collect();
        Self { services, deploy_all: compile(&mut catalog.settings().deploy_all().iter()) }
    }

    /// Per service, in the catalog's order, the paths that deploy it, in the order given.
    pub fn plan<'a>(&self, paths: &[&'a str]) -> Vec<Vec<&'a str>> {
        let mut reasons = vec![Vec::new(); self.services.len()];
        for &path in paths {
            // The path is prepared once; then every glob of every service is asked in turn.
            let candidate = Candidate::new(path);
            for ((include, ignore), reasons) in self.services.iter().zip(reasons.iter_mut()) {
                if matches_any(ignore, &candidate) {
                    continue;
                }
                if matches_any(include, &candidate) || matches_any(&self.deploy_all, &candidate) {
                    reasons.push(path);
                }
            }
        }
        reasons
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    #[test]
    fn plans_by_every_glob_in_turn() {
        let manifest = SourceFile::new(
            "services/api/service.toml",
            "ignore = [\"**/*.md\"]\ndepends_on = [\"../common\"]\n[build]\nproject = \"api\"\n[deploy]\n\
             cluster = \"shop\"\nservice = \"api\"\ncontainer = \"app\"\nimage_repository = \"shop/api\"\n",
        );
        let settings = SourceFile::new("deltaship.toml", "deploy_all = [\"Cargo.lock\"]");
        let catalog = Catalog::load(Some(&settings), &[manifest]).unwrap_or_else(|error| panic!("{error}"));
        let naive = NaivePlanner::new(&catalog);
        let paths = ["services/api/src/main.rs", "services/api/README.md", "services/common/x", "Cargo.lock", "docs/a"];
        assert_eq!(
            naive.plan(&paths),
            [vec!["services/api/src/main.rs", "services/common/x", "Cargo.lock"]],
            "the Markdown is ignored, the docs watched by nobody"
        );
        assert_eq!(pattern_matchers("docs").map(|globs| globs.len()), Some(2), "the path and what is below");
        assert!(pattern_matchers("[x").is_none());
    }
}
