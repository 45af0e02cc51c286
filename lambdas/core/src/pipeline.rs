//! The pipeline's data: the execution input detect-changes starts, and the shapes each step
//! function takes and returns.
//!
//! Step Functions caps every state's payload at 256 KiB, so the execution input carries ids and
//! names, never API responses, and [`PipelineInput::fit`] trims the reasons (the changed paths
//! that planned each service) until it fits, or says the plan is too large.
//!
//! Every per-service shape is flat (no nested objects), so the state machine can pick fields
//! with plain `$.field` paths on AWS and on the local engine alike.

use serde::{Deserialize, Serialize};

use crate::failure::{ErrorKind, Failure};
use crate::payloads::ServiceJob;
use crate::planner::Plan;
use crate::{CommitId, Push};

/// The largest execution input Step Functions accepts, in bytes.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// What detect-changes aims for: well below [`MAX_INPUT_BYTES`], since each state adds its own
/// results to the payload it passes on.
pub const TARGET_INPUT_BYTES: usize = 64 * 1024;

/// How many reasons each service keeps at most in the execution input.
pub const MAX_REASONS: usize = 5;

/// The Step Functions execution input: one push, and the services it deploys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineInput {
    /// The execution's name (see [`crate::naming`]).
    pub execution: String,
    /// The CodeCommit repository.
    pub repository: String,
    /// The pushed branch.
    pub branch: String,
    /// The pushed commit, which every service is built from.
    pub commit: String,
    /// The commit before the push; `None` for the first push of a branch.
    pub base: Option<String>,
    /// Who pushed, when AWS says.
    pub pushed_by: Option<String>,
    /// When the push happened, in seconds since the Unix epoch (the event's `time`; for the
    /// reconciler, when it saw the branch at `commit`). Orders pushes: see [`crate::races`].
    pub pushed_at: i64,
    /// Who started the execution: an EventBridge push event, or the reconciler of lost pushes.
    pub origin: Origin,
    /// How many services the state machine works on at once (its Map's `MaxConcurrencyPath`).
    pub max_concurrency: u32,
    /// The services to build and roll out, sorted by name.
    pub services: Vec<ServiceJob>,
    /// Services whose manifest the push deleted (not deployed; for the record).
    pub removed: Vec<String>,
}

/// Who started an execution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// detect-changes, for a push event.
    #[default]
    Push,
    /// The reconciler, for a push whose event never arrived.
    Reconciler,
}

impl PipelineInput {
    /// The input for `plan`, the plan of `push`, keeping at most [`MAX_REASONS`] reasons each;
    /// the state machine works on at most `max_concurrency` services at once.
    pub fn new(push: &Push, execution: String, plan: &Plan<'_>, max_concurrency: u32) -> Self {
        let services = plan
            .services
            .iter()
            .map(|planned| {
                let service = planned.service;
                let kept = planned.reasons.len().min(MAX_REASONS);
                ServiceJob {
                    name: service.name.clone(),
                    repository: push.repository.clone(),
                    branch: push.branch.clone(),
                    commit: push.head.to_string(),
                    execution: execution.clone(),
                    pushed_at: push.pushed_at,
                    project: service.build.project.clone(),
                    cluster: service.deploy.cluster.clone(),
                    service: service.deploy.service.clone(),
                    container: service.deploy.container.clone(),
                    image_repository: service.deploy.image_repository.clone(),
                    timeout_minutes: service.deploy.timeout_minutes,
                    reasons: planned.reasons.iter().take(kept).map(|reason| (*reason).to_owned()).collect(),
                    more_reasons: planned.reasons.len() - kept,
                }
            })
            .collect();
        Self {
            execution,
            repository: push.repository.clone(),
            branch: push.branch.clone(),
            commit: push.head.to_string(),
            base: push.base.as_ref().map(CommitId::to_string),
            pushed_by: push.pushed_by.clone(),
            pushed_at: push.pushed_at,
            origin: Origin::Push,
            max_concurrency,
            services,
            removed: plan.removed.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    /// The same input under another execution name (a later attempt, see
    /// [`crate::naming::execution_name_attempt`]).
    pub fn renamed(mut self, execution: &str) -> Self {
        execution.clone_into(&mut self.execution);
        for job in &mut self.services {
            execution.clone_into(&mut job.execution);
        }
        self
    }

    /// The input as JSON, trimmed to at most `budget` bytes: first each service's reasons are cut
    /// to one, then to none (their count stays in `more_reasons`). A plan whose services alone
    /// exceed the budget is a [`ErrorKind::PlanTooLarge`] failure.
    pub fn fit(mut self, budget: usize) -> Result<(Self, String), Failure> {
        for keep in [MAX_REASONS, 1, 0] {
            for job in &mut self.services {
                if job.reasons.len() > keep {
                    job.more_reasons += job.reasons.len() - keep;
                    job.reasons.truncate(keep);
                }
            }
            let json = serde_json::to_string(&self)
                .map_err(|error| Failure::new(ErrorKind::PlanTooLarge, format!("cannot encode the plan: {error}")))?;
            if json.len() <= budget {
                return Ok((self, json));
            }
        }
        Err(Failure::new(
            ErrorKind::PlanTooLarge,
            format!(
                "the plan of {} services does not fit in {budget} bytes of Step Functions input even without \
                 reasons; split the push or raise the budget",
                self.services.len()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, Change, SourceFile};

    fn catalog(names: &[&str]) -> Catalog {
        let manifests: Vec<_> = names
            .iter()
            .map(|name| {
                SourceFile::new(
                    format!("services/{name}/service.toml"),
                    format!(
                        "depends_on = [\"../common\"]\n[build]\nproject = \"{name}-build\"\n[deploy]\ncluster = \
                         \"shop\"\nservice = \"{name}\"\ncontainer = \"app\"\nimage_repository = \"shop/{name}\"\n\
                         timeout_minutes = 12\n"
                    ),
                )
            })
            .collect();
        Catalog::load(None, &manifests).unwrap()
    }

    fn push() -> Push {
        Push {
            repository: "shop".into(),
            branch: "main".into(),
            head: CommitId::parse(&"b".repeat(40)).unwrap(),
            base: Some(CommitId::parse(&"a".repeat(40)).unwrap()),
            pushed_by: Some("arn:aws:iam::123456789012:user/dev".into()),
            pushed_at: 1_700_000_000,
        }
    }

    #[test]
    fn each_job_carries_its_manifest_and_the_push() {
        let catalog = catalog(&["users"]);
        let changes = [Change::Modified("services/users/src/main.rs".into())];
        let input = PipelineInput::new(&push(), "exec".into(), &catalog.plan(&changes), 10);
        assert_eq!(input.commit, "b".repeat(40));
        assert_eq!(input.base.as_deref(), Some("a".repeat(40).as_str()));
        let job = &input.services[0];
        assert_eq!(
            (job.name.as_str(), job.project.as_str(), job.cluster.as_str(), job.service.as_str()),
            ("users", "users-build", "shop", "users")
        );
        assert_eq!((job.container.as_str(), job.image_repository.as_str()), ("app", "shop/users"));
        assert_eq!(
            (job.commit.as_str(), job.repository.as_str(), job.branch.as_str()),
            (input.commit.as_str(), "shop", "main")
        );
        assert_eq!(job.timeout_minutes, 12);
        assert_eq!((job.execution.as_str(), job.pushed_at), ("exec", 1_700_000_000));
        assert_eq!((input.pushed_at, input.origin), (1_700_000_000, Origin::Push));
        let renamed = input.clone().renamed("exec-r2");
        assert_eq!(renamed.execution, "exec-r2");
        assert!(renamed.services.iter().all(|job| job.execution == "exec-r2"));
        assert_eq!(job.reasons, ["services/users/src/main.rs"]);
        assert_eq!(job.more_reasons, 0);
    }

    #[test]
    fn reasons_are_capped_and_counted() {
        let catalog = catalog(&["users"]);
        let changes: Vec<_> = (0..8).map(|i| Change::Added(format!("services/users/src/{i}.rs"))).collect();
        let input = PipelineInput::new(&push(), "exec".into(), &catalog.plan(&changes), 10);
        assert_eq!(input.services[0].reasons.len(), MAX_REASONS);
        assert_eq!(input.services[0].more_reasons, 8 - MAX_REASONS);
    }

    #[test]
    fn fit_trims_reasons_before_giving_up() {
        let names: Vec<String> = (0..50).map(|i| format!("service-{i:03}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let catalog = catalog(&names);
        let changes: Vec<_> = (0..5).map(|i| Change::Added(format!("services/common/{i}.rs"))).collect();
        let input = PipelineInput::new(&push(), "exec".into(), &catalog.plan(&changes), 10);
        let full = serde_json::to_string(&input).unwrap().len();

        let (same, json) = input.clone().fit(full).unwrap();
        assert_eq!(same, input, "an input within budget is unchanged");
        assert_eq!(json.len(), full);

        let (trimmed, json) = input.clone().fit(full - 1).unwrap();
        assert!(json.len() < full);
        assert!(trimmed.services.iter().all(|job| job.reasons.len() <= 1 && job.reasons.len() + job.more_reasons == 5));
        assert_eq!(serde_json::from_str::<PipelineInput>(&json).unwrap(), trimmed);

        let failure = input.fit(1000).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::PlanTooLarge);
        assert!(failure.message.contains("50 services"), "{failure}");
    }
}
