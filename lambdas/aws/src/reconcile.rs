//! reconcile-pushes: finds pushes whose event never arrived, and plans them.
//!
//! EventBridge delivers CodeCommit events best effort: one can be lost, and then nothing deploys
//! the push. On a schedule (EventBridge Scheduler invokes the function asynchronously, so Lambda's
//! own retries of an asynchronous invocation cover a failed run), it:
//!
//! 1. lists the repository's branches (`ListBranches`) and keeps those a `BRANCHES` pattern
//!    matches ([`deltaship_core::wildcard`], as the push rule matches them);
//! 2. for each, reads its head (`GetBranch`) and its latest recorded push in the push ledger
//!    ([`deltaship_core::ledger`]);
//! 3. [`deltaship_core::deliveries::reconcile`]: the head is the latest recorded push, whatever
//!    became of it (started, nothing to deploy, skipped, ignored): up to date. Another commit
//!    means a push was missed, and detect-changes' planning runs for `latest..head` with the
//!    reconciler as origin, recording what it decides as any push. A branch with no recorded push
//!    (new, idle past the ledger's 90 days, or pushed before the ledger existed) is reported, not
//!    deployed.
//!
//! The state is the ledger: a push that deployed nothing or said `[skip deploy]` is recorded as
//! such, so it is not planned again on every run, and a missed push after it is planned from it,
//! never from an older commit (which would deploy a change no push asked for). A late event for a
//! push the reconciler already started finds that execution and starts nothing, and so does a
//! second reconciler run (see [`deltaship_core::deliveries::covers`]).

use aws_config::SdkConfig;
use deltaship_core::deliveries::{Arrival, ReconcileDecision, reconcile};
use deltaship_core::ledger::PushRecord;
use deltaship_core::wildcard;
use deltaship_core::{Failure, Push, Scope};

use crate::catalogs::Catalogs;
use crate::detect::DetectChanges;
use crate::ledger::Ledger;
use crate::settings::{self, DetectSettings, ReconcileSettings, SettingsError, Source};
use crate::{Clock, Function, codecommit, input};
use deltaship_core::payloads::{BranchReport, BranchStatus, ReconcileInput, ReconcileOutput};

const FUNCTION: &str = "reconcile-pushes";

/// The reconcile-pushes function.
#[derive(Debug, Clone)]
pub struct Reconcile {
    codecommit: aws_sdk_codecommit::Client,
    ledger: Ledger,
    detect: DetectChanges,
    settings: ReconcileSettings,
    clock: Clock,
}

impl Reconcile {
    /// The function with the given clients and clock (tests pass mocks); `detect` configures the
    /// planning of missed pushes, which `ledger` records.
    pub fn from_clients(
        codecommit: aws_sdk_codecommit::Client,
        sfn: aws_sdk_sfn::Client,
        ledger: Ledger,
        detect: DetectSettings,
        settings: ReconcileSettings,
        clock: Clock,
    ) -> Self {
        let detect = DetectChanges::from_clients(codecommit.clone(), sfn, Some(ledger.clone()), detect, clock);
        Self { codecommit, ledger, detect, settings, clock }
    }

    /// The same function, planning within `scope` (the template's parameters).
    #[must_use]
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.detect = self.detect.with_scope(scope);
        self
    }

    /// The same function, building each push's catalog from its base's in `catalogs`.
    #[must_use]
    pub fn with_catalogs(mut self, catalogs: Catalogs) -> Self {
        self.detect = self.detect.with_catalogs(catalogs);
        self
    }
}

impl Function for Reconcile {
    const NAME: &'static str = FUNCTION;
    /// detect-changes' settings (for planning missed pushes), its own, what it may touch, and the
    /// ledger's table.
    type Settings = (DetectSettings, ReconcileSettings, Scope, String);
    type Output = ReconcileOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok((
            DetectSettings::from_source(source)?,
            ReconcileSettings::from_source(source)?,
            settings::scope(source),
            settings::waits_table(source)?,
        ))
    }

    fn build(config: &SdkConfig, (detect, own, scope, table): &Self::Settings) -> Self {
        let (codecommit, sfn) = (aws_sdk_codecommit::Client::new(config), aws_sdk_sfn::Client::new(config));
        let dynamodb = aws_sdk_dynamodb::Client::new(config);
        let ledger = Ledger::from_client(dynamodb.clone(), table.clone());
        Self::from_clients(codecommit, sfn, ledger, detect.clone(), own.clone(), crate::system_clock)
            .with_scope(scope.clone())
            .with_catalogs(Catalogs::from_client(dynamodb, table.clone()))
    }

    /// Reconciles every branch a pattern matches. Fails (after looking at every branch) if any
    /// branch failed, so that the failure shows in the function's errors and is retried.
    async fn handle(&self, payload: serde_json::Value) -> Result<ReconcileOutput, Failure> {
        let _: ReconcileInput = input::parse(FUNCTION, payload)?;
        let repository = self.settings.repository.as_str();
        let patterns = &self.settings.branches;
        let branches: Vec<String> = codecommit::branches(&self.codecommit, repository)
            .await?
            .into_iter()
            .filter(|branch| wildcard::any_matches(patterns, branch))
            .collect();
        let mut reports = Vec::with_capacity(branches.len());
        let mut failures = Vec::new();
        for branch in &branches {
            let report = match self.branch(branch).await {
                Ok(report) => report,
                Err(failure) => {
                    let report = BranchReport { message: failure.to_string(), ..report(branch, BranchStatus::Failed) };
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
        for pattern in patterns.iter().filter(|pattern| !branches.iter().any(|b| wildcard::matches(pattern, b))) {
            let message = format!("no branch of {repository} matches {pattern:?}");
            tracing::warn!(pattern, "{message}");
            reports.push(BranchReport { message, ..report(pattern, BranchStatus::NoBranch) });
        }
        match failures.first() {
            None => Ok(ReconcileOutput { branches: reports }),
            Some(first) => Err(Failure::new(
                first.kind,
                format!(
                    "{FUNCTION}: {} of {} branches failed: {}",
                    failures.len(),
                    branches.len(),
                    failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                ),
            )),
        }
    }
}

/// A report with nothing found yet.
fn report(branch: &str, status: BranchStatus) -> BranchReport {
    BranchReport {
        branch: branch.to_owned(),
        status,
        head: None,
        latest_commit: None,
        latest_status: None,
        detect: None,
        message: String::new(),
    }
}

impl Reconcile {
    async fn branch(&self, branch: &str) -> Result<BranchReport, Failure> {
        let repository = self.settings.repository.as_str();
        let head = codecommit::branch_head(&self.codecommit, repository, branch).await?;
        // The branch was at `head` no later than now: a push after this reads as newer.
        let seen_at = (self.clock)();
        let Some(head) = head else {
            let message = format!("branch {branch} of {repository} was deleted");
            return Ok(BranchReport { message, ..report(branch, BranchStatus::NoBranch) });
        };
        let latest = self.ledger.latest(repository, branch).await?;
        let mut report = BranchReport {
            head: Some(head.to_string()),
            latest_commit: latest.as_ref().map(|latest| latest.commit.to_string()),
            latest_status: latest.as_ref().map(|latest| latest.status),
            ..report(branch, BranchStatus::UpToDate)
        };
        match reconcile(&head, latest.as_ref()) {
            ReconcileDecision::UpToDate(status) => {
                report.message = format!(
                    "{repository}@{branch} is at {}, its latest recorded push ({})",
                    head.short(),
                    status.name()
                );
            }
            ReconcileDecision::NoRecord => {
                report.status = BranchStatus::NoRecord;
                report.message = format!(
                    "{repository}@{branch} at {} has no push recorded in the ledger: nothing to compare with, \
                     nothing done (push to deploy it)",
                    head.short()
                );
            }
            ReconcileDecision::Missed { base } => {
                let since_ms = latest.as_ref().map_or(0, |latest: &PushRecord| latest.recorded_at_ms);
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
                    "{repository}@{branch} is at {} but its latest recorded push is of {}: a push was missed; {}",
                    head.short(),
                    base.short(),
                    detected.message
                );
                report.detect = Some(detected);
            }
        }
        Ok(report)
    }
}
