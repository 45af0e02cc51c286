//! reconcile-pushes: finds pushes whose event never arrived, and plans them.
//!
//! EventBridge delivers CodeCommit events best effort: one can be lost, and then nothing deploys
//! the push. On a schedule (EventBridge Scheduler), for each branch of `BRANCHES`:
//!
//! 1. `GetBranch`: the branch's head, and the time it was seen there;
//! 2. the branch's latest execution: `ListExecutions` of the state machine (newest first, every
//!    page up to `RECONCILE_MAX_PAGES`), the first whose name is the branch's
//!    ([`deltaship_core::naming::is_branch_execution`]) and whose input names the branch
//!    (`DescribeExecution`);
//! 3. [`deltaship_core::deliveries::reconcile`]: the same commit is up to date; another commit
//!    means a push was missed, and detect-changes' planning runs for `latest..head` with the
//!    reconciler as origin. A branch without any execution (new, or idle for Step Functions' 90
//!    days) is reported, not deployed.
//!
//! The state is AWS's own: the executions (their deterministic names and their inputs). A late
//! event for a push the reconciler already started finds that execution and starts nothing, and
//! so does a second reconciler run (see [`deltaship_core::deliveries::covers`]).
//!
//! A push whose plan deploys nothing or that says `[skip deploy]` starts no execution, so the
//! branch's head stays "ahead" of its latest execution: each run plans it again (a few reads) and
//! again finds nothing to deploy.

use aws_config::SdkConfig;
use deltaship_core::deliveries::{Arrival, ReconcileDecision, RecordedPush, reconcile};
use deltaship_core::naming::is_branch_execution;
use deltaship_core::{ErrorKind, Failure, Push, Scope};

use crate::detect::DetectChanges;
use crate::settings::{self, DetectSettings, ReconcileSettings, SettingsError, Source};
use crate::{Clock, Function, aws_error, codecommit, input};
use deltaship_core::payloads::{BranchReport, BranchStatus, ReconcileInput, ReconcileOutput};

const FUNCTION: &str = "reconcile-pushes";

/// The latest execution of a branch.
struct Latest {
    name: String,
    started_ms: i64,
    push: RecordedPush,
}

/// The reconcile-pushes function.
#[derive(Debug, Clone)]
pub struct Reconcile {
    codecommit: aws_sdk_codecommit::Client,
    sfn: aws_sdk_sfn::Client,
    detect: DetectChanges,
    settings: ReconcileSettings,
    clock: Clock,
}

impl Reconcile {
    /// The function with the given clients and clock (tests pass mocks); `detect` configures the
    /// planning of missed pushes (its state machine must be the reconciler's).
    pub fn from_clients(
        codecommit: aws_sdk_codecommit::Client,
        sfn: aws_sdk_sfn::Client,
        detect: DetectSettings,
        settings: ReconcileSettings,
        clock: Clock,
    ) -> Self {
        let detect = DetectChanges::from_clients(codecommit.clone(), sfn.clone(), detect);
        Self { codecommit, sfn, detect, settings, clock }
    }

    /// The same function, planning within `scope` (the template's parameters).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.detect = self.detect.with_scope(scope);
        self
    }
}

impl Function for Reconcile {
    const NAME: &'static str = FUNCTION;
    /// detect-changes' settings (for planning missed pushes), its own, and what it may touch.
    type Settings = (DetectSettings, ReconcileSettings, Scope);
    type Output = ReconcileOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((DetectSettings::from_source(source)?, ReconcileSettings::from_source(source)?, settings::scope(source)))
    }

    fn build(config: &SdkConfig, (detect, own, scope): &Self::Settings) -> Self {
        let (codecommit, sfn) = (aws_sdk_codecommit::Client::new(config), aws_sdk_sfn::Client::new(config));
        Self::from_clients(codecommit, sfn, detect.clone(), own.clone(), crate::system_clock).with_scope(scope.clone())
    }

    /// Reconciles every configured branch. Fails (after looking at every branch) if any branch
    /// failed, so that the failure shows in the function's errors and the schedule retries it.
    async fn handle(&self, payload: serde_json::Value) -> Result<ReconcileOutput, Failure> {
        let _: ReconcileInput = input::parse(FUNCTION, payload)?;
        let mut latest = self.latest_executions().await?;
        let mut reports = Vec::with_capacity(self.settings.branches.len());
        let mut failures = Vec::new();
        for (branch, latest) in self.settings.branches.iter().zip(latest.iter_mut()) {
            let report = match self.branch(branch, latest.take()).await {
                Ok(report) => report,
                Err(failure) => {
                    let report = BranchReport {
                        branch: branch.clone(),
                        status: BranchStatus::Failed,
                        head: None,
                        latest_execution: None,
                        detect: None,
                        message: failure.to_string(),
                    };
                    failures.push(failure);
                    report
                }
            };
            if report.status == BranchStatus::UpToDate {
                tracing::info!(branch, "{}", report.message);
            } else {
                tracing::warn!(branch, status = ?report.status, "{}", report.message);
            }
            reports.push(report);
        }
        match failures.first() {
            None => Ok(ReconcileOutput { branches: reports }),
            Some(first) => Err(Failure::new(
                first.kind,
                format!(
                    "{FUNCTION}: {} of {} branches failed: {}",
                    failures.len(),
                    reports.len(),
                    failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                ),
            )),
        }
    }
}

impl Reconcile {
    async fn branch(&self, branch: &str, latest: Option<Latest>) -> Result<BranchReport, Failure> {
        let repository = self.settings.repository.as_str();
        let head = codecommit::branch_head(&self.codecommit, repository, branch).await?;
        // The branch was at `head` no later than now: a push after this reads as newer.
        let seen_at = (self.clock)();
        let mut report = BranchReport {
            branch: branch.to_owned(),
            status: BranchStatus::NoBranch,
            head: head.as_ref().map(ToString::to_string),
            latest_execution: latest.as_ref().map(|latest| latest.name.clone()),
            detect: None,
            message: format!("branch {branch} of {repository} does not exist"),
        };
        let Some(head) = head else { return Ok(report) };
        match reconcile(&head, latest.as_ref().map(|latest| &latest.push)) {
            ReconcileDecision::UpToDate => {
                report.status = BranchStatus::UpToDate;
                report.message = format!("{repository}@{branch} is at {}, as its latest execution", head.short());
            }
            ReconcileDecision::NoExecution => {
                report.status = BranchStatus::NoExecution;
                report.message = format!(
                    "{repository}@{branch} at {} has no execution in Step Functions' 90 days: nothing to compare \
                     with, nothing done (push to deploy it)",
                    head.short()
                );
            }
            ReconcileDecision::Unreadable(why) => {
                report.status = BranchStatus::Unreadable;
                report.message = format!("{repository}@{branch}: {why}; nothing done");
            }
            ReconcileDecision::Missed { base } => {
                let since_ms = latest.as_ref().map_or(0, |latest| latest.started_ms);
                let push = Push {
                    repository: repository.to_owned(),
                    branch: branch.to_owned(),
                    head: head.clone(),
                    base: Some(base.clone()),
                    pushed_by: None,
                    pushed_at: seen_at,
                };
                let detected = self.detect.detect(&push, Arrival::Reconciler { since_ms }).await?;
                report.status = BranchStatus::Reconciled;
                report.message = format!(
                    "{repository}@{branch} is at {} but its latest execution is of {}: a push was missed; {}",
                    head.short(),
                    base.short(),
                    detected.message
                );
                report.detect = Some(detected);
            }
        }
        Ok(report)
    }

    /// The latest execution of each configured branch (in `branches` order), newest first.
    async fn latest_executions(&self) -> Result<Vec<Option<Latest>>, Failure> {
        let (repository, branches) = (self.settings.repository.as_str(), &self.settings.branches);
        let state_machine = self.settings.state_machine_arn.as_str();
        let mut found: Vec<Option<Latest>> = branches.iter().map(|_| None).collect();
        let mut pages =
            self.sfn.list_executions().state_machine_arn(state_machine).max_results(1000).into_paginator().send();
        let mut read = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                aws_error::failure(
                    "ListExecutions",
                    state_machine,
                    &err,
                    &[("StateMachineDoesNotExist", ErrorKind::AwsError)],
                )
            })?;
            read += 1;
            for item in page.executions() {
                for (index, branch) in branches.iter().enumerate() {
                    if found.get(index).is_some_and(Option::is_some)
                        || !is_branch_execution(item.name(), repository, branch)
                    {
                        continue;
                    }
                    let push = self.recorded(item.execution_arn()).await?;
                    if push.as_ref().is_some_and(|push| push.repository == repository && push.branch == *branch)
                        && let (Some(slot), Some(push)) = (found.get_mut(index), push)
                    {
                        let started_ms = item.start_date().to_millis().unwrap_or(0);
                        *slot = Some(Latest { name: item.name().to_owned(), started_ms, push });
                    }
                }
            }
            if found.iter().all(Option::is_some) || read >= self.settings.max_pages {
                break;
            }
        }
        Ok(found)
    }

    /// The push recorded in an execution's input.
    async fn recorded(&self, arn: &str) -> Result<Option<RecordedPush>, Failure> {
        let described = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|err| aws_error::failure("DescribeExecution", arn, &err, &[]))?;
        Ok(described.input().and_then(RecordedPush::from_input))
    }
}
