//! `deltaship plan`: what a push from one commit to another would deploy, and why: the same
//! decision detect-changes takes ([`deltaship_core::decision`]): `[skip deploy]` in the head
//! commit's message, the branch, no service defined, a first push, the plan.

use std::io::{self, Write};
use std::path::PathBuf;

use deltaship_core::decision::{self, Decision};
use deltaship_core::{Catalog, CatalogError, Change, CommitId};
use serde::Serialize;

use crate::git::{GitError, GitRepo};
use crate::output::CliError;

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The repository, or any folder inside it.
    pub repo: PathBuf,
    /// The commit before the push; `None` plans a branch's first push.
    pub base: Option<String>,
    /// The pushed commit.
    pub head: String,
    /// The branch pushed to; `None`: the branch `head` names, if it names one.
    pub branch: Option<String>,
}

/// What a plan is computed from: the resolved commits, the catalog at head and the diff.
/// [`PlanReport::decision`] decides what the push deploys, a view over these.
#[derive(Debug, Clone)]
pub struct PlanReport {
    /// The resolved base commit (`None` for a first push).
    pub base: Option<CommitId>,
    /// The resolved head commit.
    pub head: CommitId,
    /// The services and settings at head.
    pub catalog: Catalog,
    /// The changes between base and head (`None` for a first push).
    pub changes: Option<Vec<Change>>,
    /// The branch pushed to: `--branch`, else the branch `--head` names; `None` when neither
    /// names one (then no branch is ruled out).
    pub branch: Option<String>,
    /// The head commit's message (`[skip deploy]`).
    pub message: String,
}

/// Why there is no plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The repository or a revision could not be read.
    #[error(transparent)]
    Git(#[from] GitError),
    /// A manifest or `deltaship.toml` at the head commit is invalid: one line per problem, each
    /// naming the file, the key and the problem.
    #[error("{}", catalog_lines(head, error))]
    Catalog {
        /// The head commit, short.
        head: String,
        /// Every problem found.
        error: CatalogError,
    },
}

impl PlanError {
    /// Whether the caller's input (path, revision, manifests) is at fault, rather than the
    /// repository's own state.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Git(error) => error.is_bad_input(),
            Self::Catalog { .. } => true,
        }
    }
}

impl From<PlanError> for CliError {
    fn from(error: PlanError) -> Self {
        Self { bad_input: error.is_bad_input(), message: error.to_string() }
    }
}

fn catalog_lines(head: &str, error: &CatalogError) -> String {
    match error {
        CatalogError::Invalid(problems) => {
            problems.iter().map(|problem| format!("{problem} (at {head})")).collect::<Vec<_>>().join("\n")
        }
        CatalogError::Matcher(_) => format!("{error} (at {head})"),
    }
}

/// Resolves the revisions, diffs them and reads the manifests at head.
pub fn plan(request: &PlanRequest) -> Result<PlanReport, PlanError> {
    let repo = GitRepo::open(&request.repo)?;
    let head = repo.resolve(&request.head)?;
    let base = request.base.as_deref().map(|base| repo.resolve(base)).transpose()?;
    let (settings, manifests) = repo.manifests(&head)?;
    let catalog = Catalog::load(settings.as_ref(), &manifests)
        .map_err(|error| PlanError::Catalog { head: head.short().to_owned(), error })?;
    let changes = base.as_ref().map(|base| repo.changes(base, &head)).transpose()?;
    let branch = request.branch.clone().or_else(|| repo.branch_of(&request.head));
    let message = repo.message_of(&head)?;
    Ok(PlanReport { base, head, catalog, changes, branch, message })
}

/// The JSON document `deltaship plan --format json` prints. Keys may be added, never removed.
#[derive(Debug, Serialize)]
pub struct PlanJson<'a> {
    /// What the push does: `deploy`, `nothing_to_deploy`, `skip` (`[skip deploy]`),
    /// `branch_not_deployed` or `no_services` ([`Decision::name`]).
    pub decision: &'static str,
    /// Why it deploys nothing; `null` when it deploys.
    pub reason: Option<String>,
    /// The branch pushed to, when known.
    pub branch: Option<&'a str>,
    /// The base commit, or `null` for a first push.
    pub base: Option<&'a str>,
    /// The head commit.
    pub head: &'a str,
    /// Whether this is a first push (no base).
    pub first_push: bool,
    /// How many paths changed between base and head.
    pub changed_paths: usize,
    /// The services to deploy, sorted by name (none unless `decision` is `deploy`).
    pub services: Vec<ServiceJson<'a>>,
    /// Services whose manifest was deleted, sorted.
    pub removed: Vec<&'a str>,
}

/// One service of [`PlanJson`].
#[derive(Debug, Serialize)]
pub struct ServiceJson<'a> {
    /// The service name.
    pub name: &'a str,
    /// The changed paths that deploy it, sorted.
    pub reasons: Vec<&'a str>,
    /// Its CodeBuild project.
    pub build_project: &'a str,
    /// Its ECS cluster.
    pub cluster: &'a str,
    /// Its ECS service.
    pub ecs_service: &'a str,
}

impl PlanReport {
    /// What the push deploys, as detect-changes decides it (with no branch known, no branch is
    /// ruled out).
    pub fn decision(&self) -> Decision<'_> {
        decision::decide(&self.message, self.branch.as_deref(), &self.catalog, self.changes.as_deref())
    }

    /// How many paths differ between base and head (0 for a first push).
    pub fn changed_paths(&self) -> usize {
        self.changes.iter().flatten().map(|change| change.paths().count()).sum()
    }

    /// `decision` (computed by [`PlanReport::decision`]) as the JSON document of `--format json`.
    pub fn to_json<'a>(&'a self, decision: &Decision<'a>) -> PlanJson<'a> {
        let (services, removed) = match decision {
            Decision::Deploy { plan, .. } => (
                plan.services
                    .iter()
                    .map(|planned| ServiceJson {
                        name: &planned.service.name,
                        reasons: planned.reasons.clone(),
                        build_project: &planned.service.build.project,
                        cluster: &planned.service.deploy.cluster,
                        ecs_service: &planned.service.deploy.service,
                    })
                    .collect(),
                plan.removed.clone(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        PlanJson {
            decision: decision.name(),
            reason: decision.why_nothing(),
            branch: self.branch.as_deref(),
            base: self.base.as_ref().map(CommitId::as_str),
            head: self.head.as_str(),
            first_push: self.base.is_none(),
            changed_paths: self.changed_paths(),
            services,
            removed,
        }
    }

    /// Writes `decision` (computed by [`PlanReport::decision`]) for people.
    pub fn write_text(&self, decision: &Decision<'_>, out: &mut impl Write) -> io::Result<()> {
        let changed_paths = self.changed_paths();
        let on = self.branch.as_deref().map(|branch| format!(" on {branch}")).unwrap_or_default();
        match &self.base {
            Some(base) => writeln!(
                out,
                "{} → {}{on}: {} changed {}",
                base.short(),
                self.head.short(),
                changed_paths,
                plural(changed_paths, "path", "paths")
            )?,
            None => writeln!(out, "{}{on}: first push (no base commit)", self.head.short())?,
        }
        if let Some(why) = decision.why_nothing() {
            writeln!(out, "nothing to deploy: {why}.")?;
            if let Decision::BranchNotDeployed { branches, .. } = decision
                && let Some(deploying) = branches.iter().find(|branch| !deltaship_core::paths::is_glob(branch))
            {
                writeln!(out, "(`--branch {deploying}` plans it as a push to {deploying}.)")?;
            }
        }
        let Decision::Deploy { plan, .. } = decision else { return Ok(()) };
        if !plan.services.is_empty() {
            let count = plan.services.len();
            writeln!(out, "deploy {count} {}:", plural(count, "service", "services"))?;
            let width = plan.services.iter().map(|planned| planned.service.name.len()).max().unwrap_or(0);
            for planned in &plan.services {
                let service = &planned.service;
                writeln!(
                    out,
                    "  {:width$}  build {}, roll out {}/{}",
                    service.name, service.build.project, service.deploy.cluster, service.deploy.service
                )?;
                for reason in &planned.reasons {
                    writeln!(out, "  {:width$}    {reason}", "")?;
                }
            }
        }
        if !plan.removed.is_empty() {
            let count = plan.removed.len();
            writeln!(
                out,
                "removed {count} {} (manifest deleted; not deployed):",
                plural(count, "service", "services")
            )?;
            for name in &plan.removed {
                writeln!(out, "  {name}")?;
            }
        }
        Ok(())
    }
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}
