//! detect-changes: the EventBridge target that plans a push and starts the pipeline.
//!
//! 1. The event becomes a [`Trigger`]; tags, deleted branches and merge-commit notices are
//!    ignored (logged, nothing started). A repository, cluster or project outside the
//!    function's [`Scope`] is refused (`OutOfScope`).
//! 2. What the push deploys is [`deltaship_core::decision`]'s to say, asked as soon as it can
//!    answer: a pushed commit whose message contains `[skip deploy]` (`GetCommit`) is skipped
//!    before anything else is read; then `deltaship.toml` and every service's `service.toml`
//!    are read at the pushed commit (the folders its service roots match), and a branch the
//!    settings do not deploy, or a commit with no service, deploys nothing.
//! 3. The changed paths come from `GetDifferences` between `oldCommitId` and `commitId` (every
//!    page); a branch's first push has no old commit and follows `first_push`.
//! 4. The plan decides; a push that changes no service starts nothing.
//! 5. `StartExecution` with the deterministic name and the plan as input. A duplicate delivery of
//!    the same push finds its execution already there: that is success, not an error. A later
//!    push of a commit that already has an execution on the branch (a reset, a force-push back)
//!    starts the next attempt, `<name>-r2`, ... (see [`deltaship_core::deliveries::covers`]).
//!    A plan whose worst-case history could pass what one execution may write (Step Functions
//!    stops an execution at 25,000 events, [`deltaship_core::budget`]) is split into parts, each
//!    its own execution: part 1 under the name above, the others `<name>-p2`, `<name>-p3`, ...,
//!    each idempotent by its name; the answer lists them all (`executions`).
//!
//! 6. What became of the push (started, nothing to deploy, skipped, ignored because
//!    `deltaship.toml` does not deploy the branch, out of scope) is recorded in the push ledger
//!    ([`deltaship_core::ledger`]), which the reconciler compares branch heads with. A duplicate
//!    delivery finds the first delivery's record: while the execution is open, `StartExecution`
//!    answers a duplicate with success (the same name and input), and it is the ledger that tells
//!    it answers `ALREADY_STARTED`.
//!
//! With `DRY_RUN=true` it stops before step 5 and returns the execution input it would start
//! (its first part's); it records nothing.

use aws_config::SdkConfig;
use deltaship_core::decision::{self, Decision};
use deltaship_core::deliveries::{Arrival, RecordedPush, SKIP_DEPLOY, covers};
use deltaship_core::ledger::{PushRecord, PushStatus};
use deltaship_core::naming::MAX_ATTEMPTS;
use deltaship_core::naming::execution_name_part;
use deltaship_core::payloads::{DetectOutput, DetectStatus};
use deltaship_core::pipeline::Limits;
use deltaship_core::settings::roots_of;
use deltaship_core::snapshot::{Next, Snapshot};
use deltaship_core::{
    Catalog, CatalogError, Change, ErrorKind, Failure, Origin, PipelineInput, Push, Scope, SourceFile, Trigger,
    execution_name_attempt, links,
};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::catalogs::Catalogs;
use crate::ledger::{Ledger, Recorded};
use crate::settings::{self, DetectSettings, SettingsError, Source};
use crate::{Clock, Function, aws_error, codecommit};

/// The function's name, in messages.
const FUNCTION: &str = "detect-changes";

/// The detect-changes function.
#[derive(Debug, Clone)]
pub struct DetectChanges {
    codecommit: aws_sdk_codecommit::Client,
    sfn: aws_sdk_sfn::Client,
    ledger: Option<Ledger>,
    catalogs: Option<Catalogs>,
    settings: DetectSettings,
    scope: Scope,
    clock: Clock,
}

impl DetectChanges {
    /// The function with the given clients (tests pass mocks), recording in `ledger` (`None`
    /// only in a dry run, which records nothing).
    pub fn from_clients(
        codecommit: aws_sdk_codecommit::Client,
        sfn: aws_sdk_sfn::Client,
        ledger: Option<Ledger>,
        settings: DetectSettings,
        clock: Clock,
    ) -> Self {
        Self { codecommit, sfn, ledger, catalogs: None, settings, scope: Scope::default(), clock }
    }

    /// The same function, keeping each planned commit's catalog in `catalogs` and building the
    /// next push's from it ([`deltaship_core::snapshot`]).
    #[must_use]
    pub fn with_catalogs(mut self, catalogs: Catalogs) -> Self {
        self.catalogs = Some(catalogs);
        self
    }

    /// The same function, refusing what `scope` does not allow (the template's parameters).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }
}

impl Function for DetectChanges {
    const NAME: &'static str = FUNCTION;
    /// Its settings, and what it may touch.
    type Settings = (DetectSettings, Scope);
    type Output = DetectOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((DetectSettings::from_source(source)?, settings::scope(source)))
    }

    fn build(config: &SdkConfig, (detect, scope): &Self::Settings) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::new(config);
        let ledger = detect.ledger_table.clone().map(|table| Ledger::from_client(dynamodb.clone(), table));
        let (codecommit, sfn) = (aws_sdk_codecommit::Client::new(config), aws_sdk_sfn::Client::new(config));
        let function =
            Self::from_clients(codecommit, sfn, ledger, detect.clone(), crate::system_clock).with_scope(scope.clone());
        match detect.ledger_table.clone() {
            Some(table) => function.with_catalogs(Catalogs::from_client(dynamodb, table)),
            None => function,
        }
    }

    /// Handles one EventBridge event.
    async fn handle(&self, payload: serde_json::Value) -> Result<DetectOutput, Failure> {
        let trigger = deltaship_core::parse_event_value(payload)
            .map_err(|error| Failure::invalid_input(format!("{FUNCTION} input: {error}")))?;
        let push = match trigger {
            Trigger::Push(push) => push,
            Trigger::Ignored(reason) => {
                let output = DetectOutput::without_plan(DetectStatus::Ignored, reason.to_string());
                tracing::info!(status = "IGNORED", "{}", output.message);
                return Ok(output);
            }
        };
        let output = self.detect(&push, Arrival::Event).await?;
        tracing::info!(
            repository = push.repository,
            branch = push.branch,
            commit = push.head.as_str(),
            execution = output.execution.as_deref(),
            "{}",
            output.message
        );
        Ok(output)
    }
}

impl DetectChanges {
    /// Plans `push` and starts its execution, unless an execution already covers it, and records
    /// what became of it in the ledger. The reconciler calls this for a push whose event never
    /// came.
    pub async fn detect(&self, push: &Push, arrival: Arrival) -> Result<DetectOutput, Failure> {
        let decided = self.decide(push, arrival).await;
        let status = match &decided {
            Ok(output) => match output.status {
                DetectStatus::Started | DetectStatus::AlreadyStarted => Some(PushStatus::Started),
                DetectStatus::NothingToDeploy => Some(PushStatus::NothingToDeploy),
                DetectStatus::Skipped => Some(PushStatus::Skipped),
                DetectStatus::Ignored => Some(PushStatus::Ignored),
                DetectStatus::DryRun => None,
            },
            Err(failure) if failure.kind == ErrorKind::OutOfScope => Some(PushStatus::OutOfScope),
            Err(_) => None,
        };
        let (Some(status), Some(ledger), false) = (status, &self.ledger, self.settings.dry_run) else {
            return decided;
        };
        let (execution, message) = match &decided {
            Ok(output) => (output.execution.clone(), output.message.clone()),
            Err(failure) => (None, failure.message.clone()),
        };
        let origin = match arrival {
            Arrival::Event => Origin::Push,
            Arrival::Reconciler { .. } => Origin::Reconciler,
        };
        let record = PushRecord::of(push, origin, status, execution, message, (self.clock)().saturating_mul(1000));
        let recorded = match (ledger.record(&record).await, decided) {
            (Ok(recorded), decided) => (recorded, decided),
            // The push's own failure says more than the ledger's (the reconciler will meet it again).
            (Err(failure), Err(refused)) => {
                tracing::error!("the push could not be recorded in the ledger: {failure}");
                return Err(refused);
            }
            (Err(failure), Ok(_)) => return Err(failure),
        };
        match recorded {
            (Recorded::Existing(existing), Ok(mut output))
                if output.status == DetectStatus::Started && existing.started_already(&record) =>
            {
                output.status = DetectStatus::AlreadyStarted;
                output.message =
                    summary(push, output.execution.as_deref().unwrap_or_default(), &output.services, ALREADY);
                Ok(output)
            }
            (_, decided) => decided,
        }
    }

    /// What `detect` decides and does, before recording it.
    async fn decide(&self, push: &Push, arrival: Arrival) -> Result<DetectOutput, Failure> {
        let (repository, head) = (push.repository.as_str(), &push.head);
        self.scope.check_repository(repository)?;
        let message = codecommit::commit_message(&self.codecommit, repository, head).await?;
        if let Some(skip) = decision::skip(&message) {
            return Ok(nothing(push, &skip));
        }
        // With a stored catalog to start from, the diff says what to read again: read it first.
        // Without, the branch and the services are decided before the diff is read.
        let mut changes = match (&push.base, &self.catalogs) {
            (Some(base), Some(_)) => Some(codecommit::changes(&self.codecommit, repository, base, head).await?),
            _ => None,
        };
        let (settings, manifests, snapshot) = self.files(push, changes.as_deref()).await?;
        let catalog = Catalog::load(settings.as_ref(), &manifests).map_err(|error| invalid_manifest(push, &error))?;
        self.scope.check_services(catalog.services()).map_err(|failure| {
            Failure::new(
                failure.kind,
                format!(
                    "the manifests of {}@{} ({}) name what this deltaship may not touch:\n{}",
                    push.repository,
                    push.branch,
                    push.head.short(),
                    failure.message
                ),
            )
        })?;
        // The next push of the branch builds its catalog from this one's.
        if let (Some(catalogs), Some(snapshot), false) = (&self.catalogs, &snapshot, self.settings.dry_run)
            && let Err(failure) = catalogs.put(repository, snapshot, (self.clock)()).await
        {
            tracing::warn!(
                "the catalog of {} was not stored (the next push reads every manifest): {failure}",
                head.short()
            );
        }
        if let Some(decided) = decision::without_diff(&message, Some(&push.branch), &catalog) {
            return Ok(nothing(push, &decided));
        }
        if let (None, Some(base)) = (&changes, &push.base) {
            changes = Some(codecommit::changes(&self.codecommit, repository, base, head).await?);
        }
        let decided = decision::decide(&message, Some(&push.branch), &catalog, changes.as_deref());
        let Decision::Deploy { plan, .. } = &decided else { return Ok(nothing(push, &decided)) };
        let mut name = execution_name_attempt(repository, &push.branch, head, 1);
        let mut input = PipelineInput::new(push, name.clone(), plan, self.settings.max_concurrency).promoted(&catalog);
        if matches!(arrival, Arrival::Reconciler { .. }) {
            input.origin = Origin::Reconciler;
        }
        let services: Vec<String> = input.services.iter().map(|job| job.name.clone()).collect();
        let removed = input.removed.clone();
        let summary = |name: &str, verb: &str| summary(push, name, &services, verb);

        if services.is_empty() {
            let mut output = nothing(push, &decided);
            output.removed = removed;
            return Ok(output);
        }

        let parts_named = |input: &PipelineInput, attempt: u32| {
            let (repository, branch) = (repository.to_owned(), push.branch.clone());
            let head = head.clone();
            input.clone().into_parts(Limits::new(self.settings.waits), move |part| {
                execution_name_part(&repository, &branch, &head, attempt, part)
            })
        };
        let mut parts = parts_named(&input, 1)?;
        let names = |parts: &[(PipelineInput, String)]| -> Vec<String> {
            parts.iter().map(|(part, _)| part.execution.clone()).collect()
        };
        let mut output = DetectOutput {
            status: DetectStatus::DryRun,
            message: summary(&name, "would start"),
            execution: Some(name.clone()),
            execution_arn: None,
            executions: names(&parts),
            services: services.clone(),
            removed,
            input: None,
        };
        if parts.len() > 1 {
            output
                .message
                .push_str(&format!(" (split into {} executions: its worst case would not fit one)", parts.len()));
        }
        let Some(state_machine) = self.settings.state_machine_arn.as_deref().filter(|_| !self.settings.dry_run) else {
            output.input = parts.into_iter().next().map(|(first, _)| first);
            return Ok(output);
        };

        let mut attempt = 1;
        loop {
            let Some((_, json)) = parts.first() else {
                return Err(Failure::new(ErrorKind::AwsError, "the plan has no part to start"));
            };
            let started =
                self.sfn.start_execution().state_machine_arn(state_machine).name(&name).input(json).send().await;
            match started {
                Ok(started) => {
                    output.status = DetectStatus::Started;
                    output.message = summary(&name, "started");
                    output.execution_arn = Some(started.execution_arn().to_owned());
                }
                Err(err) if aws_error::code(&err) == Some("ExecutionAlreadyExists") => {
                    let (arn, covered) = self.covered_by(state_machine, &name, push, arrival).await?;
                    if covered {
                        output.status = DetectStatus::AlreadyStarted;
                        output.message = summary(&name, ALREADY);
                        output.execution_arn = Some(arn);
                    } else if attempt >= MAX_ATTEMPTS {
                        return Err(Failure::new(
                            ErrorKind::ExecutionConflict,
                            format!(
                                "commit {} of {repository}@{} already has {MAX_ATTEMPTS} executions, the last {name}; \
                                 start the pipeline for it by hand if it must run again",
                                head.short(),
                                push.branch
                            ),
                        ));
                    } else {
                        // A later push of a commit that already has an execution: the next attempt.
                        attempt += 1;
                        name = execution_name_attempt(repository, &push.branch, head, attempt);
                        parts = parts_named(&input, attempt)?;
                        continue;
                    }
                }
                Err(err) => return Err(start_failure(&name, &err)),
            }
            // The later parts: each is idempotent by name, so a duplicate delivery starts none again.
            for (part, json) in parts.iter().skip(1) {
                let started = self
                    .sfn
                    .start_execution()
                    .state_machine_arn(state_machine)
                    .name(&part.execution)
                    .input(json)
                    .send()
                    .await;
                match started {
                    Ok(_) => {}
                    Err(err) if aws_error::code(&err) == Some("ExecutionAlreadyExists") => {}
                    Err(err) => return Err(start_failure(&part.execution, &err)),
                }
            }
            output.executions = names(&parts);
            if parts.len() > 1 {
                output.message.push_str(&format!(
                    " (split into {} executions: {})",
                    parts.len(),
                    output.executions.join(", ")
                ));
            }
            output.execution = Some(name);
            return Ok(output);
        }
    }

    /// `deltaship.toml` and the manifests at the pushed commit, and their snapshot: from the
    /// base's stored snapshot and the files the diff touched when there is one, else read whole
    /// ([`deltaship_core::snapshot`]). The snapshot is `None` when a file is not UTF-8.
    async fn files(
        &self,
        push: &Push,
        changes: Option<&[Change]>,
    ) -> Result<(Option<SourceFile>, Vec<SourceFile>, Option<Snapshot>), Failure> {
        let (repository, head) = (push.repository.as_str(), &push.head);
        if let (Some(catalogs), Some(base), Some(changes)) = (&self.catalogs, &push.base, changes) {
            match catalogs.get(repository, base).await {
                Ok(Some(stored)) => {
                    let touched = stored.touched(changes);
                    let settings = match touched.settings {
                        true => Some(codecommit::settings(&self.codecommit, repository, head).await?),
                        false => None,
                    };
                    let read: Vec<(String, Option<SourceFile>)> = stream::iter(touched.read.iter().cloned())
                        .map(|path| async move {
                            let file = codecommit::file(&self.codecommit, repository, head, &path).await?;
                            Ok::<_, Failure>((path, file))
                        })
                        .buffer_unordered(self.settings.manifest_concurrency.max(1))
                        .try_collect()
                        .await?;
                    if let Next::Snapshot(next) = stored.next(head.as_str(), &touched, settings, read) {
                        tracing::info!(
                            repository,
                            read = touched.read.len(),
                            gone = touched.gone.len(),
                            settings = touched.settings,
                            "the catalog of {} from the stored one of {}",
                            head.short(),
                            base.short()
                        );
                        let (settings, manifests) = next.files();
                        return Ok((settings, manifests, Some(next)));
                    }
                }
                Ok(None) => tracing::info!(repository, "no stored catalog of {}: reading every manifest", base.short()),
                Err(failure) => tracing::warn!("the stored catalog of {} could not be read: {failure}", base.short()),
            }
        }
        let settings = codecommit::settings(&self.codecommit, repository, head).await?;
        let roots = roots_of(settings.as_ref());
        let manifests =
            codecommit::manifests(&self.codecommit, repository, head, &roots, self.settings.manifest_concurrency)
                .await?;
        let snapshot = Snapshot::of(head.as_str(), settings.as_ref(), &manifests);
        Ok((settings, manifests, snapshot))
    }

    /// Whether the existing execution `name` already deploys `push` (see [`covers`]), and its ARN.
    async fn covered_by(
        &self,
        state_machine: &str,
        name: &str,
        push: &Push,
        arrival: Arrival,
    ) -> Result<(String, bool), Failure> {
        let arn = links::execution_arn(state_machine, name).ok_or_else(|| {
            Failure::new(ErrorKind::AwsError, format!("STATE_MACHINE_ARN {state_machine:?} is not a state machine ARN"))
        })?;
        let existing = self
            .sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|err| aws_error::failure("DescribeExecution", &arn, &err, &[]))?;
        let recorded = existing.input().and_then(RecordedPush::from_input);
        let started_ms = existing.start_date().to_millis().ok();
        let covered = recorded.is_some_and(|recorded| covers(&recorded, started_ms, push, arrival));
        if !covered {
            tracing::info!(
                execution = name,
                status = existing.status().as_str(),
                "execution {name} is of an earlier push of the same commit: this push runs as the next attempt"
            );
        }
        Ok((arn, covered))
    }
}

/// The answer for a push that deploys nothing, as `decided` says why.
fn nothing(push: &Push, decided: &Decision<'_>) -> DetectOutput {
    let (repository, branch, head) = (&push.repository, &push.branch, push.head.short());
    let why = decided.why_nothing().unwrap_or_default();
    match decided {
        Decision::Skip { subject } => DetectOutput::without_plan(
            DetectStatus::Skipped,
            format!("commit {head} of {repository}@{branch} says {SKIP_DEPLOY} ({subject:?}): nothing deployed"),
        ),
        Decision::BranchNotDeployed { branches, .. } => DetectOutput::without_plan(
            DetectStatus::Ignored,
            format!("branch {branch} of {repository} does not deploy: deltaship.toml `branches` is {branches:?}"),
        ),
        Decision::NoServices { .. } | Decision::Deploy { .. } => DetectOutput::without_plan(
            DetectStatus::NothingToDeploy,
            format!("nothing to deploy for {repository}@{branch} {head}: {why}"),
        ),
    }
}

/// The verb of a duplicate delivery's message.
const ALREADY: &str = "already started (a duplicate delivery of the push)";

/// What was done with `push`'s execution `name` of `services`, in a sentence.
fn summary(push: &Push, name: &str, services: &[String], verb: &str) -> String {
    format!("{verb} {name} of {}@{} ({}): {}", push.repository, push.branch, push.head.short(), services.join(", "))
}

fn start_failure<E>(
    name: &str,
    err: &aws_sdk_sfn::error::SdkError<E, aws_sdk_sfn::config::http::HttpResponse>,
) -> Failure
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    aws_error::failure(
        "StartExecution",
        name,
        err,
        &[("StateMachineDoesNotExist", ErrorKind::AwsError), ("InvalidExecutionInput", ErrorKind::PlanTooLarge)],
    )
}

fn invalid_manifest(push: &Push, error: &CatalogError) -> Failure {
    Failure::new(
        ErrorKind::InvalidManifest,
        format!("the manifests of {}@{} ({}) are invalid:\n{error}", push.repository, push.branch, push.head.short()),
    )
}
