//! The pipeline's data: the execution input detect-changes starts, and the shapes each step
//! function takes and returns.
//!
//! Step Functions caps every state's payload at 256 KiB, so the execution input carries ids and
//! names, never API responses, and [`PipelineInput::fit`] trims the reasons (the changed paths
//! that planned each service) until it fits, or says the plan is too large. Step Functions also
//! stops an execution at 25,000 history events, so [`PipelineInput::into_parts`] splits a plan
//! whose worst case could pass them into several executions ([`crate::budget`]).
//!
//! Every per-service shape is flat (no nested objects), so the state machine can pick fields
//! with plain `$.field` paths on AWS and on the local engine alike.

use serde::{Deserialize, Serialize};

use crate::budget::{EXECUTION_EVENTS, HISTORY_BUDGET, Waits, worst_case_service};
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
    /// Which part of the push's plan this execution holds (1 when the plan was not split).
    #[serde(default = "one")]
    pub part: u32,
    /// How many parts (executions) the push's plan was split into ([`PipelineInput::into_parts`]).
    #[serde(default = "one")]
    pub parts: u32,
    /// Services whose manifest the push deleted (not deployed; for the record).
    pub removed: Vec<String>,
}

const fn one() -> u32 {
    1
}

/// What one execution may hold: see [`PipelineInput::into_parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest execution input, in bytes.
    pub input_bytes: usize,
    /// The most environment outcomes (a service counts once per environment it may deploy to:
    /// every record travels together through the last states).
    pub services: usize,
    /// The most history events the execution may write at worst.
    pub history_events: u64,
    /// The Lambdas' wait policies, which the worst case is computed with.
    pub waits: Waits,
}

impl Limits {
    /// [`TARGET_INPUT_BYTES`], [`MAX_SERVICES_PER_EXECUTION`] services and
    /// [`crate::budget::HISTORY_BUDGET`] events, with `waits`.
    pub fn new(waits: Waits) -> Self {
        Self {
            input_bytes: TARGET_INPUT_BYTES,
            services: MAX_SERVICES_PER_EXECUTION,
            history_events: HISTORY_BUDGET,
            waits,
        }
    }
}

/// The most services one execution deploys, each counted once per environment it may deploy to:
/// every environment's outcome record (about 1 KiB, links included) travels with the others
/// through the execution's last states, whose payload is capped at 256 KiB.
pub const MAX_SERVICES_PER_EXECUTION: usize = 100;

/// The most iterations an inline Map state runs at once: "In this mode, the Map state supports up
/// to 40 concurrent iterations"
/// (<https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html>).
pub const MAX_MAP_CONCURRENCY: u32 = 40;

/// Who started an execution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// detect-changes, for a push event.
    #[default]
    Push,
    /// The reconciler, for a push whose event never arrived.
    Reconciler,
    /// `deltaship redeploy`: an earlier push's image, deployed again ([`crate::redeploy`]).
    Redeploy,
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
                    reasons: planned.reasons.iter().take(kept).map(|reason| (*reason).to_owned()).collect(),
                    more_reasons: planned.reasons.len() - kept,
                    ..ServiceJob::of(service, push, &execution)
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
            part: 1,
            parts: 1,
            removed: plan.removed.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    /// The input split into as few executions as `limits` allow, in service order, each as
    /// JSON: a part holds services while its worst-case history ([`crate::budget`]) and its
    /// service count stay within the limits, and is then fitted to the input size ([`Self::fit`]).
    /// Part `k` of `n` is named `name(k)` (part 1 keeps the whole's name) and records `part: k`
    /// and `parts: n`. A part whose services do not fit its input even without reasons is a
    /// [`ErrorKind::PlanTooLarge`] failure, as is a single service whose worst case alone passes
    /// the history budget.
    pub fn into_parts(self, limits: Limits, name: impl Fn(u32) -> String) -> Result<Vec<(Self, String)>, Failure> {
        let mut groups: Vec<Vec<ServiceJob>> = Vec::new();
        let mut events = EXECUTION_EVENTS;
        let mut current: Vec<ServiceJob> = Vec::new();
        let mut outcomes = 0;
        for job in self.services.iter().cloned() {
            let records = 1 + job.promotions.len();
            let worst = worst_case_service(&job, limits.waits);
            if EXECUTION_EVENTS + worst > limits.history_events {
                return Err(Failure::new(
                    ErrorKind::PlanTooLarge,
                    format!(
                        "service {} could write {worst} history events at worst (its build and rollout deadlines \
                         with every event lost), more than one execution may ({}); shorten build.timeout_minutes or \
                         deploy.timeout_minutes in its manifest",
                        job.name, limits.history_events
                    ),
                ));
            }
            if !current.is_empty() && (events + worst > limits.history_events || outcomes + records > limits.services) {
                groups.push(std::mem::take(&mut current));
                events = EXECUTION_EVENTS;
                outcomes = 0;
            }
            events += worst;
            outcomes += records;
            current.push(job);
        }
        groups.push(current);
        let parts = u32::try_from(groups.len()).unwrap_or(u32::MAX);
        let removed = self.removed.clone();
        groups
            .into_iter()
            .zip(1..)
            .map(|(services, part)| {
                let input = Self {
                    services,
                    part,
                    parts,
                    // Every part records the whole push; the removed services once.
                    removed: if part == 1 { removed.clone() } else { Vec::new() },
                    ..self.clone()
                };
                input.renamed(&name(part)).fit(limits.input_bytes)
            })
            .collect()
    }

    /// The same input with each service's promotions into the environments after the first
    /// ([`crate::environments::promotions`]), as `catalog`'s settings and manifests name them.
    ///
    /// A service waiting at a gate holds one of the Map's iterations for as long as it waits, so
    /// each service with a gate adds one to `max_concurrency` (up to [`MAX_MAP_CONCURRENCY`]): the
    /// services without one keep the slots they had.
    #[must_use]
    pub fn promoted(mut self, catalog: &crate::Catalog) -> Self {
        let environments = catalog.settings().environments();
        for job in &mut self.services {
            if let Some(first) = environments.first() {
                first.name.clone_into(&mut job.environment);
            }
            if let Some(service) = catalog.service(&job.name) {
                job.promotions = crate::environments::promotions(service, environments);
            }
        }
        let gated =
            self.services.iter().filter(|job| job.promotions.iter().any(|promotion| promotion.approval)).count();
        let gated = u32::try_from(gated).unwrap_or(u32::MAX);
        self.max_concurrency = self.max_concurrency.saturating_add(gated).min(MAX_MAP_CONCURRENCY);
        self
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

    #[test]
    fn promotions_and_the_first_environment_ride_with_their_services() {
        use crate::{Catalog, Change, CommitId, SourceFile};
        let settings = SourceFile::new(
            "deltaship.toml",
            "[[environments]]\nname = \"staging\"\n[[environments]]\nname = \"production\"\napproval = true\n",
        );
        let manifest = |name: &str, extra: &str| {
            SourceFile::new(
                format!("services/{name}/service.toml"),
                format!(
                    "[build]\nproject = \"build-{name}\"\n[deploy]\ncluster = \"staging\"\nservice = \"{name}\"\n\
                     container = \"app\"\nimage_repository = \"shop/{name}\"\n{extra}"
                ),
            )
        };
        let promoted = "[environments.production]\ncluster = \"prod\"\nservice = \"users\"\n";
        let catalog = Catalog::load(Some(&settings), &[manifest("users", promoted), manifest("docs", "")]).unwrap();
        let changes = [Change::Modified("services/users/a".into()), Change::Modified("services/docs/b".into())];
        let plan = catalog.plan(&changes);
        let push = Push {
            repository: "shop".into(),
            branch: "main".into(),
            head: CommitId::parse(&"a".repeat(40)).unwrap(),
            base: None,
            pushed_by: None,
            pushed_at: 1,
        };
        let input = PipelineInput::new(&push, "x".into(), &plan, 1).promoted(&catalog);
        let by_name = |name: &str| input.services.iter().find(|job| job.name == name).unwrap();
        assert_eq!(by_name("users").promotions.len(), 1);
        assert_eq!(by_name("users").promotions[0].environment, "production");
        assert!(by_name("docs").promotions.is_empty());
        let json = serde_json::to_value(&input).unwrap();
        let docs = json["services"].as_array().unwrap().iter().find(|job| job["name"] == "docs").unwrap();
        assert_eq!(docs["promotions"], serde_json::json!([]), "always written: {docs}");
        assert_eq!(input.max_concurrency, 2, "users waits at a gate: one more iteration at once");
        let most = PipelineInput::new(&push, "x".into(), &plan, MAX_MAP_CONCURRENCY).promoted(&catalog);
        assert_eq!(most.max_concurrency, MAX_MAP_CONCURRENCY, "never past the inline Map's limit");
        assert_eq!(docs["environment"], "staging");
        assert!(docs.get("image").is_none(), "a push names no image: {docs}");
    }
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

    const WAITS: Waits = Waits { build: crate::WaitPolicy::BUILD, rollout: crate::WaitPolicy::ROLLOUT };

    fn wide_push(services: usize) -> PipelineInput {
        let names: Vec<String> = (0..services).map(|i| format!("service-{i:03}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let catalog = catalog(&names);
        let changes = [Change::Modified("services/common/lib.rs".into())];
        PipelineInput::new(&push(), "exec".into(), &catalog.plan(&changes), 10)
    }

    #[test]
    fn a_plan_that_fits_is_one_part_under_its_own_name() {
        let input = wide_push(3);
        let parts = input.into_parts(Limits::new(WAITS), |part| format!("exec-p{part}")).unwrap();
        assert_eq!(parts.len(), 1);
        let (only, json) = &parts[0];
        assert_eq!((only.part, only.parts, only.execution.as_str()), (1, 1, "exec-p1"));
        assert_eq!(only.services.len(), 3);
        assert_eq!(serde_json::from_str::<PipelineInput>(json).unwrap(), *only);
    }

    #[test]
    fn a_plan_is_split_by_worst_case_history_and_by_service_count() {
        let input = wide_push(300);
        let per_service = worst_case_service(&input.services[0], WAITS);
        let parts = input.clone().into_parts(Limits::new(WAITS), |part| format!("exec-p{part}")).unwrap();
        let fits = usize::try_from((HISTORY_BUDGET - EXECUTION_EVENTS) / per_service).unwrap();
        let size = fits.min(MAX_SERVICES_PER_EXECUTION);
        assert_eq!(parts.len(), 300_usize.div_ceil(size), "{size} services a part");
        let mut seen = Vec::new();
        for (index, (part, _)) in parts.iter().enumerate() {
            let k = u32::try_from(index + 1).unwrap();
            assert_eq!((part.part, part.parts), (k, u32::try_from(parts.len()).unwrap()));
            assert_eq!(part.execution, format!("exec-p{k}"));
            assert!(part.services.iter().all(|job| job.execution == part.execution));
            assert!(crate::budget::worst_case_execution(&part.services, WAITS) <= HISTORY_BUDGET);
            assert!(part.services.len() <= MAX_SERVICES_PER_EXECUTION);
            seen.extend(part.services.iter().map(|job| job.name.clone()));
        }
        let all: Vec<String> = input.services.iter().map(|job| job.name.clone()).collect();
        assert_eq!(seen, all, "every service once, in order");

        let tight = Limits { services: 7, ..Limits::new(WAITS) };
        assert_eq!(wide_push(15).into_parts(tight, |part| format!("x{part}")).unwrap().len(), 3);
    }

    #[test]
    fn a_service_counts_once_per_environment_it_may_deploy_to() {
        let promotion = |environment: &str| crate::environments::Promotion {
            environment: environment.into(),
            approval: false,
            approval_timeout_seconds: 3600,
            cluster: environment.into(),
            service: "s".into(),
            container: "app".into(),
            timeout_minutes: 1,
            answer: None,
        };
        let mut input = wide_push(10);
        for job in &mut input.services {
            job.timeout_minutes = 1;
            job.build_timeout_minutes = 1;
            job.promotions = vec![promotion("qa"), promotion("production")];
        }
        // Three records a service: at most three services in nine records.
        let limits = Limits { services: 9, ..Limits::new(WAITS) };
        let parts = input.into_parts(limits, |part| format!("x{part}")).unwrap();
        let sizes: Vec<usize> = parts.iter().map(|(part, _)| part.services.len()).collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
    }

    #[test]
    fn a_service_too_slow_for_any_execution_is_refused() {
        let mut input = wide_push(1);
        input.services[0].build_timeout_minutes = 36 * 60;
        input.services[0].timeout_minutes = 24 * 60;
        let tiny = Limits { history_events: 1_000, ..Limits::new(WAITS) };
        let failure = input.into_parts(tiny, |_| "x".into()).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::PlanTooLarge);
        assert!(failure.message.contains("service-000"), "{failure}");
    }
}
