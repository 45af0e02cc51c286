//! `deltaship status`: per service and environment, what runs (task definition, image, the
//! commit and push it came from), the current service deployment and its state, the pushes
//! waiting for an approval there, and how the service's last execution ended, with console
//! links. Against AWS or a `deltaship local up` alike ([`super::resolve`]).
//!
//! Where each answer comes from:
//!
//! | what | read with |
//! |------|-----------|
//! | the running revision | ECS `DescribeServices` (its `taskDefinition`, `currentServiceDeployment`) |
//! | its image, commit, push time, execution | ECS `DescribeTaskDefinition` with its tags (`deltaship:commit`, `deltaship:pushed-at`, `deltaship:execution`: [`deltaship_core::races`]) |
//! | the deployment's state | ECS `DescribeServiceDeployments` of `currentServiceDeployment` |
//! | pending approvals | DynamoDB `Query` of the gate's records in the waits table ([`deltaship_aws::gates`]), those whose deadline has not passed and whose execution still runs |
//! | the last execution | the push ledger's newest pushes of each branch ([`deltaship_core::ledger`]), Step Functions `DescribeExecution` (input, status, output), and for an execution that failed its *Tally* state's output (`GetExecutionHistory`) |
//!
//! What the answers mean is decided by small pure functions (table-tested below); the AWS calls
//! only fetch.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::process::ExitCode;

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::TaskDefinitionField;
use deltaship_aws::gates::GateTable;
use deltaship_core::commit::short;
use deltaship_core::gates::{self, GateRecord};
use deltaship_core::ledger;
use deltaship_core::manifest::resource_name;
use deltaship_core::races::{TAG_COMMIT, TAG_EXECUTION, TAG_PUSHED_AT};
use deltaship_core::{CommitId, links};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

use super::{RepoArgs, Stack, StackArgs, Target, aws_failure, load_catalog, resolve, service_targets};
use crate::EXIT_OK;
use crate::local::history::TALLY_STATE;
use crate::output::{CliError, Format, write_report};

/// How many of a branch's newest pushes are looked through for each service's last execution.
pub const LEDGER_LOOKBACK: i32 = 20;

/// How many AWS calls run at once.
const CONCURRENT_CALLS: usize = 8;

/// `deltaship status`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Which deltaship.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Which repository's services.
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Only this service (repeatable). Default: every service the manifests name.
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// The branch whose pushes the last execution is looked for in (repeatable). Default: the
    /// branches deltaship.toml deploys (a pattern: the repository's local branches it matches),
    /// else main.
    #[arg(long = "branch", value_name = "BRANCH")]
    pub branches: Vec<String>,
    /// Output format: text, or one JSON document {"repository", "region", "revision",
    /// "services": [{"name", "environments": [{"name", "cluster", "service", "container",
    /// "approval", "ecs_status", "task_definition", "image", "commit", "pushed_at", "execution",
    /// "deployment": {"arn", "status", "status_reason"} | null, "pending_approvals":
    /// [{"execution", "commit", "image", "pushed_by", "pushed_at", "requested_at",
    /// "expires_at"}], "service_url"}], "last_execution": {"name", "status", "outcome",
    /// "environments", "branch", "commit", "execution_url"} | null}]}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The JSON document `deltaship status --format json` prints. Keys may be added, never removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// The CodeCommit repository the stack deploys.
    pub repository: String,
    /// The stack's region.
    pub region: String,
    /// The commit whose manifests named the services and environments.
    pub revision: String,
    /// Each service, by name.
    pub services: Vec<ServiceStatus>,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// Its name.
    pub name: String,
    /// Its environments, in pipeline order.
    pub environments: Vec<EnvironmentStatus>,
    /// The newest execution that deployed it (or tried), if the ledger's recent pushes have one.
    pub last_execution: Option<LastExecution>,
}

/// One service in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentStatus {
    /// The environment.
    pub name: String,
    /// The ECS cluster, as the manifest names it.
    pub cluster: String,
    /// The ECS service, as the manifest names it.
    pub service: String,
    /// The container deltaship deploys (its image is `image`).
    pub container: String,
    /// Whether promotion into it waits for an approval.
    pub approval: bool,
    /// The service's ECS status (`ACTIVE`, `DRAINING`, `INACTIVE`), or `MISSING` when ECS has
    /// no such service (or cluster).
    pub ecs_status: String,
    /// The task definition it runs (ARN).
    pub task_definition: Option<String>,
    /// The image of its deployed container.
    pub image: Option<String>,
    /// The commit the revision was deployed for (`deltaship:commit`), when deltaship registered it.
    pub commit: Option<String>,
    /// When that commit was pushed, seconds since the Unix epoch (`deltaship:pushed-at`).
    pub pushed_at: Option<i64>,
    /// The execution that registered the revision (`deltaship:execution`).
    pub execution: Option<String>,
    /// The service's current service deployment.
    pub deployment: Option<DeploymentStatus>,
    /// The pushes waiting for an approval into this environment, oldest first.
    pub pending_approvals: Vec<PendingApproval>,
    /// The service's deployments in the ECS console.
    pub service_url: String,
}

/// A service deployment and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentStatus {
    /// Its ARN.
    pub arn: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `ROLLBACK_IN_PROGRESS`,
    /// `ROLLBACK_SUCCESSFUL`, `ROLLBACK_FAILED`, ...; empty when ECS did not describe it.
    pub status: String,
    /// Why, when ECS says.
    pub status_reason: Option<String>,
}

/// A push waiting at a gate (its task token is not shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingApproval {
    /// The push's execution (what `deltaship approve --execution` names).
    pub execution: String,
    /// The pushed commit.
    pub commit: String,
    /// The image it would promote, by digest.
    pub image: String,
    /// Who pushed.
    pub pushed_by: String,
    /// When it was pushed, seconds since the Unix epoch.
    pub pushed_at: i64,
    /// When it started waiting, seconds since the Unix epoch.
    pub requested_at: i64,
    /// When the wait times out (the service is then `not_promoted`), seconds since the Unix epoch.
    pub expires_at: i64,
}

/// How a service's last execution went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastExecution {
    /// The execution's name.
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, ...
    pub status: String,
    /// The service's outcome (`deployed`, `rolled_back`, ...) once the execution wrote it.
    pub outcome: Option<String>,
    /// Its outcome in each environment it got to, in pipeline order (empty when the execution
    /// does not say).
    pub environments: Vec<EnvironmentOutcome>,
    /// The branch pushed.
    pub branch: String,
    /// The commit pushed.
    pub commit: String,
    /// The execution in the Step Functions console.
    pub execution_url: String,
}

/// A service's outcome in one environment, as an execution's output says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentOutcome {
    /// The environment.
    pub name: String,
    /// What became of the service there.
    pub outcome: String,
}

/// Runs `deltaship status`: exit 0 with the report; 2 for bad input (no stack, a bad
/// repository or service); 1 when an AWS call fails.
pub fn run(args: &StatusArgs) -> Result<ExitCode, CliError> {
    let repo = load_catalog(&args.repo)?;
    let mut services = service_targets(&repo.catalog);
    if !args.services.is_empty() {
        if let Some(unknown) = args.services.iter().find(|name| !services.iter().any(|(s, _)| &s.name == *name)) {
            let names: Vec<&str> = services.iter().map(|(service, _)| service.name.as_str()).collect();
            return Err(CliError::bad_input(format!("no service named {unknown} (the manifests name {names:?})")));
        }
        services.retain(|(service, _)| args.services.contains(&service.name));
    }
    let branches = if args.branches.is_empty() {
        let settings = repo.catalog.settings();
        let local = repo.git.branches().unwrap_or_default();
        default_branches(settings.branches(), &local, |branch| settings.deploys_branch(branch))
    } else {
        args.branches.clone()
    };
    let targets: Vec<(String, Vec<Target>)> =
        services.into_iter().map(|(service, targets)| (service.name.clone(), targets)).collect();

    let report = crate::runtime()?.block_on(async {
        let stack = resolve(&args.stack).await?;
        gather(&stack, repo.commit.as_str(), &targets, &branches, deltaship_aws::system_clock()).await
    })?;
    write_report(args.format, "the status", &report, |out| write_text(&report, out))?;
    Ok(ExitCode::from(EXIT_OK))
}

/// The branches to look for executions in: the literal names of `patterns`, and the `local`
/// branches `deploys` (a pattern matches them); `main` when that leaves none.
pub fn default_branches(patterns: &[String], local: &[String], deploys: impl Fn(&str) -> bool) -> Vec<String> {
    let literal = |pattern: &&String| !pattern.contains(['*', '?', '[', '{', '\\']);
    let mut branches: Vec<String> = patterns.iter().filter(literal).cloned().collect();
    branches.extend(local.iter().filter(|branch| deploys(branch)).cloned());
    branches.sort();
    branches.dedup();
    if branches.is_empty() {
        branches.push("main".to_owned());
    }
    branches
}

/// Everything the report says, read from the stack.
async fn gather(
    stack: &Stack,
    revision: &str,
    targets: &[(String, Vec<Target>)],
    branches: &[String],
    now: i64,
) -> Result<StatusReport, CliError> {
    let ecs = aws_sdk_ecs::Client::new(&stack.config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&stack.config);
    let sfn = aws_sdk_sfn::Client::new(&stack.config);

    let rows: Vec<(usize, &Target)> = targets
        .iter()
        .enumerate()
        .flat_map(|(index, (_, service_targets))| service_targets.iter().map(move |target| (index, target)))
        .collect();
    // The gates' records, as request-approval stores them (one item format: deltaship_aws::gates).
    let gate_table = GateTable::from_client(dynamodb.clone(), stack.waits_table.clone());
    let mut executions = Executions::new(&sfn, stack);
    let mut environments: Vec<Vec<EnvironmentStatus>> = vec![Vec::new(); targets.len()];
    let read: Vec<Result<Row, CliError>> = futures_util::stream::iter(rows.into_iter().map(|(index, target)| {
        let (ecs, gate_table) = (&ecs, &gate_table);
        let service = targets.get(index).map(|(name, _)| name.as_str()).unwrap_or_default();
        async move {
            let running = describe_running(ecs, target).await?;
            let gate = if target.approval {
                gate_table
                    .records(&stack.repository, service, &target.environment)
                    .await
                    .map_err(|failure| CliError::failure(failure.message))?
            } else {
                Vec::new()
            };
            Ok((index, environment_status(target, running, Vec::new(), &stack.region), gate))
        }
    }))
    .buffered(CONCURRENT_CALLS)
    .collect()
    .await;
    for row in read {
        let (index, mut status, records) = row?;
        let mut pending = Vec::new();
        for record in gates::waiting(&records, now) {
            // A record whose execution ended (aborted, failed) waits for nothing any more.
            if executions.status(&record.execution).await?.as_deref().is_some_and(|status| status == "RUNNING") {
                pending.push(pending_approval(record));
            }
        }
        status.pending_approvals = pending;
        if let Some(slot) = environments.get_mut(index) {
            slot.push(status);
        }
    }

    let names: Vec<&str> = targets.iter().map(|(name, _)| name.as_str()).collect();
    let ledger = deltaship_aws::ledger::Ledger::from_client(dynamodb.clone(), stack.waits_table.clone());
    let mut last = last_executions(&ledger, &mut executions, stack, &names, branches).await?;
    let services = targets
        .iter()
        .zip(environments)
        .map(|((name, _), environments)| ServiceStatus {
            name: name.clone(),
            environments,
            last_execution: last.remove(name.as_str()),
        })
        .collect();
    Ok(StatusReport {
        repository: stack.repository.clone(),
        region: stack.region.clone(),
        revision: revision.to_owned(),
        services,
    })
}

/// One environment's row (by its service's index) and the records at its gate.
type Row = (usize, EnvironmentStatus, Vec<GateRecord>);

/// What ECS says runs at a target: `None` for a service (or cluster) ECS does not have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Running {
    /// The service's status (`ACTIVE`, `DRAINING`, `INACTIVE`).
    pub status: String,
    /// Its task definition.
    pub task_definition: String,
    /// The images of the task definition's containers, by container name.
    pub images: Vec<(String, String)>,
    /// The task definition's tags.
    pub tags: Vec<(String, String)>,
    /// The current service deployment, as described (status empty when it could not be).
    pub deployment: Option<DeploymentStatus>,
}

/// The row of `target`, from what runs there (`None`: the service is missing) and the waiting
/// pushes.
pub fn environment_status(
    target: &Target,
    running: Option<Running>,
    pending_approvals: Vec<PendingApproval>,
    region: &str,
) -> EnvironmentStatus {
    let tag = |running: &Running, key: &str| {
        running.tags.iter().find(|(name, _)| name == key).map(|(_, value)| value.clone())
    };
    let (cluster, service) = (
        deltaship_core::manifest::resource_name(&target.cluster),
        deltaship_core::manifest::resource_name(&target.service),
    );
    let mut row = EnvironmentStatus {
        name: target.environment.clone(),
        cluster: target.cluster.clone(),
        service: target.service.clone(),
        container: target.container.clone(),
        approval: target.approval,
        ecs_status: "MISSING".to_owned(),
        task_definition: None,
        image: None,
        commit: None,
        pushed_at: None,
        execution: None,
        deployment: None,
        pending_approvals,
        service_url: links::service(region, cluster, service),
    };
    if let Some(running) = running {
        row.image = running.images.iter().find(|(name, _)| *name == target.container).map(|(_, image)| image.clone());
        row.commit = tag(&running, TAG_COMMIT);
        row.pushed_at = tag(&running, TAG_PUSHED_AT).and_then(|value| value.parse().ok());
        row.execution = tag(&running, TAG_EXECUTION);
        row.ecs_status = running.status;
        row.task_definition = Some(running.task_definition).filter(|arn| !arn.is_empty());
        row.deployment = running.deployment;
    }
    row
}

/// What runs at `target`, as ECS describes it; `None` when ECS has no such service or cluster.
async fn describe_running(ecs: &aws_sdk_ecs::Client, target: &Target) -> Result<Option<Running>, CliError> {
    let name = format!("{}/{}", target.cluster, target.service);
    let described = match ecs.describe_services().cluster(&target.cluster).services(&target.service).send().await {
        Ok(described) => described,
        Err(error) if error.code() == Some("ClusterNotFoundException") => return Ok(None),
        Err(error) => return Err(aws_failure("DescribeServices", &name, &error)),
    };
    let Some(service) = described.services().first() else { return Ok(None) };
    let mut running = Running {
        status: service.status().unwrap_or_default().to_owned(),
        task_definition: service.task_definition().unwrap_or_default().to_owned(),
        ..Running::default()
    };
    if !running.task_definition.is_empty() {
        let definition = ecs
            .describe_task_definition()
            .task_definition(&running.task_definition)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|error| aws_failure("DescribeTaskDefinition", &running.task_definition, &error))?;
        running.images = definition
            .task_definition()
            .map(|definition| definition.container_definitions())
            .unwrap_or_default()
            .iter()
            .filter_map(|container| Some((container.name()?.to_owned(), container.image()?.to_owned())))
            .collect();
        running.tags =
            definition.tags().iter().filter_map(|tag| Some((tag.key()?.to_owned(), tag.value()?.to_owned()))).collect();
    }
    if let Some(arn) = service.current_service_deployment() {
        let described = ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .map_err(|error| aws_failure("DescribeServiceDeployments", &name, &error))?;
        let found =
            described.service_deployments().iter().find(|deployment| deployment.service_deployment_arn() == Some(arn));
        running.deployment = Some(DeploymentStatus {
            arn: arn.to_owned(),
            status: found
                .and_then(|deployment| deployment.status())
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            status_reason: found.and_then(|deployment| deployment.status_reason()).map(ToOwned::to_owned),
        });
    }
    Ok(Some(running))
}

/// What the report shows of a waiting record.
pub fn pending_approval(record: &GateRecord) -> PendingApproval {
    PendingApproval {
        execution: record.execution.clone(),
        commit: record.commit.clone(),
        image: record.image.clone(),
        pushed_by: record.pushed_by.clone(),
        pushed_at: record.pushed_at,
        requested_at: record.requested_at,
        expires_at: record.expires_at,
    }
}

/// What an execution's input says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInput {
    /// The repository.
    pub repository: String,
    /// The branch.
    pub branch: String,
    /// The commit.
    pub commit: String,
    /// The services this part deploys.
    pub services: Vec<String>,
    /// How many parts the push's plan was split into.
    pub parts: u32,
}

/// The input of a pipeline execution, read defensively (only what status needs).
pub fn execution_input(input: &str) -> Option<ExecutionInput> {
    let input: Value = serde_json::from_str(input).ok()?;
    let field = |name: &str| input.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    Some(ExecutionInput {
        repository: field("repository"),
        branch: field("branch"),
        commit: field("commit"),
        services: input
            .get("services")?
            .as_array()?
            .iter()
            .filter_map(|job| job.get("name").and_then(Value::as_str).map(ToOwned::to_owned))
            .collect(),
        parts: input.get("parts").and_then(Value::as_u64).and_then(|parts| u32::try_from(parts).ok()).unwrap_or(1),
    })
}

/// The names of parts 2..=`parts` of the push whose first part is `first` (as detect-changes
/// names them: [`deltaship_core::naming::execution_name_part`], with the attempt `first`'s
/// `-r<n>` says).
pub fn later_parts(first: &str, input: &ExecutionInput) -> Vec<String> {
    let Ok(commit) = CommitId::parse(&input.commit) else { return Vec::new() };
    let attempt = first
        .rsplit_once('-')
        .and_then(|(_, last)| last.strip_prefix('r'))
        .and_then(|digits| digits.parse::<u32>().ok())
        .unwrap_or(1);
    (2..=input.parts.min(100))
        .map(|part| {
            deltaship_core::naming::execution_name_part(&input.repository, &input.branch, &commit, attempt, part)
        })
        .collect()
}

/// Each service's outcome in an execution's output (or its *Tally* state's): `services` of
/// `{"name", "outcome", "environments": [{"name", "outcome"}]}`, read defensively (an unknown
/// outcome is kept as written, `environments` may be absent).
pub fn service_outcomes(output: &str) -> BTreeMap<String, (String, Vec<EnvironmentOutcome>)> {
    let Ok(output) = serde_json::from_str::<Value>(output) else { return BTreeMap::new() };
    let name_and_outcome = |item: &Value| {
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(ToOwned::to_owned);
        Some((text("name")?, text("outcome")?))
    };
    output
        .get("services")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|service| {
            let (name, outcome) = name_and_outcome(service)?;
            let environments = service
                .get("environments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|environment| {
                    name_and_outcome(environment).map(|(name, outcome)| EnvironmentOutcome { name, outcome })
                })
                .collect();
            Some((name, (outcome, environments)))
        })
        .collect()
}

/// An execution, as `DescribeExecution` answered.
#[derive(Debug, Clone)]
struct Described {
    status: String,
    input: Option<ExecutionInput>,
    output: Option<String>,
}

/// The executions described so far, by name (each once).
struct Executions<'a> {
    sfn: &'a aws_sdk_sfn::Client,
    stack: &'a Stack,
    described: HashMap<String, Option<Described>>,
    outcomes: HashMap<String, BTreeMap<String, (String, Vec<EnvironmentOutcome>)>>,
}

impl<'a> Executions<'a> {
    fn new(sfn: &'a aws_sdk_sfn::Client, stack: &'a Stack) -> Self {
        Self { sfn, stack, described: HashMap::new(), outcomes: HashMap::new() }
    }

    fn arn(&self, execution: &str) -> String {
        if execution.starts_with("arn:") {
            execution.to_owned()
        } else {
            self.stack.execution_arn(execution).unwrap_or_else(|| execution.to_owned())
        }
    }

    /// The execution `name` (or ARN); `None` when Step Functions does not have it.
    async fn describe(&mut self, name: &str) -> Result<Option<Described>, CliError> {
        if let Some(described) = self.described.get(name) {
            return Ok(described.clone());
        }
        let arn = self.arn(name);
        let described = match self.sfn.describe_execution().execution_arn(&arn).send().await {
            Ok(described) => Some(Described {
                status: described.status().as_str().to_owned(),
                input: described.input().and_then(execution_input),
                output: described.output().map(ToOwned::to_owned),
            }),
            Err(error) if error.code() == Some("ExecutionDoesNotExist") => None,
            Err(error) => return Err(aws_failure("DescribeExecution", &arn, &error)),
        };
        self.described.insert(name.to_owned(), described.clone());
        Ok(described)
    }

    async fn status(&mut self, name: &str) -> Result<Option<String>, CliError> {
        Ok(self.describe(name).await?.map(|described| described.status))
    }

    /// Each service's outcome in the execution `name`: its output once it succeeded, else its
    /// *Tally* state's output (there whether it succeeded or failed); none while it runs.
    async fn outcomes(&mut self, name: &str) -> Result<BTreeMap<String, (String, Vec<EnvironmentOutcome>)>, CliError> {
        if let Some(outcomes) = self.outcomes.get(name) {
            return Ok(outcomes.clone());
        }
        let Some(described) = self.describe(name).await? else { return Ok(BTreeMap::new()) };
        let outcomes = match (described.status.as_str(), &described.output) {
            ("RUNNING" | "PENDING_REDRIVE", _) => BTreeMap::new(),
            ("SUCCEEDED", Some(output)) => service_outcomes(output),
            _ => self.tally(name).await?.as_deref().map(service_outcomes).unwrap_or_default(),
        };
        self.outcomes.insert(name.to_owned(), outcomes.clone());
        Ok(outcomes)
    }

    /// The output of the execution's last *Tally* state, newest events first (AWS; an emulator
    /// that ignores the order is read whole).
    async fn tally(&self, name: &str) -> Result<Option<String>, CliError> {
        let arn = self.arn(name);
        let mut pages =
            self.sfn.get_execution_history().execution_arn(&arn).reverse_order(true).into_paginator().send();
        let mut found: Option<(i64, String)> = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| aws_failure("GetExecutionHistory", &arn, &error))?;
            for event in page.events() {
                let Some(exited) = event.state_exited_event_details() else { continue };
                if exited.name() == TALLY_STATE
                    && let Some(output) = exited.output()
                    && found.as_ref().is_none_or(|(id, _)| event.id() > *id)
                {
                    found = Some((event.id(), output.to_owned()));
                }
            }
            if found.is_some() {
                break;
            }
        }
        Ok(found.map(|(_, output)| output))
    }
}

/// A service's newest execution on one branch.
struct Candidate {
    pushed_at: i64,
    execution: String,
    branch: String,
    commit: String,
}

/// Each service's last execution: per branch, the ledger's newest pushes that started one,
/// newest first, until every service has its own (or [`LEDGER_LOOKBACK`] pushes were read);
/// across branches, the newest push.
async fn last_executions(
    ledger: &deltaship_aws::ledger::Ledger,
    executions: &mut Executions<'_>,
    stack: &Stack,
    services: &[&str],
    branches: &[String],
) -> Result<BTreeMap<String, LastExecution>, CliError> {
    let mut newest: BTreeMap<String, Candidate> = BTreeMap::new();
    for branch in branches {
        let pushes = ledger
            .newest(&stack.repository, branch, LEDGER_LOOKBACK)
            .await
            .map_err(|failure| CliError::failure(failure.message))?;
        let mut found: BTreeMap<&str, Candidate> = BTreeMap::new();
        for push in pushes {
            if found.len() == services.len() {
                break;
            }
            let Some(first) = push.execution.filter(|_| push.status == ledger::PushStatus::Started) else {
                continue;
            };
            let Some(described) = executions.describe(&first).await? else { continue };
            let Some(input) = described.input else { continue };
            let mut parts = vec![(first.clone(), input.services.clone())];
            for part in later_parts(&first, &input) {
                if let Some(Described { input: Some(later), .. }) = executions.describe(&part).await? {
                    parts.push((part, later.services));
                }
            }
            for (execution, names) in parts {
                for name in names {
                    if let Some(service) = services.iter().find(|service| **service == name)
                        && !found.contains_key(service)
                    {
                        found.insert(
                            service,
                            Candidate {
                                pushed_at: push.pushed_at,
                                execution: execution.clone(),
                                branch: branch.clone(),
                                commit: push.commit.to_string(),
                            },
                        );
                    }
                }
            }
        }
        for (service, candidate) in found {
            if newest.get(service).is_none_or(|known| candidate.pushed_at > known.pushed_at) {
                newest.insert(service.to_owned(), candidate);
            }
        }
    }

    let mut last = BTreeMap::new();
    for (service, candidate) in newest {
        let Some(described) = executions.describe(&candidate.execution).await? else { continue };
        let outcomes = executions.outcomes(&candidate.execution).await?;
        let (outcome, environments) = match outcomes.get(&service) {
            Some((outcome, environments)) => (Some(outcome.clone()), environments.clone()),
            None => (None, Vec::new()),
        };
        let arn = executions.arn(&candidate.execution);
        last.insert(
            service,
            LastExecution {
                name: candidate.execution,
                status: described.status,
                outcome,
                environments,
                branch: candidate.branch,
                commit: candidate.commit,
                execution_url: links::execution(&stack.region, &arn),
            },
        );
    }
    Ok(last)
}

/// A time as `2026-05-01T10:00:00Z`.
fn time(seconds: i64) -> String {
    aws_smithy_types::DateTime::from_secs(seconds)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| seconds.to_string())
}

/// The report for people: each service, then each environment in pipeline order.
pub fn write_text(report: &StatusReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "repository {} ({}), services as the manifests at {} name them",
        report.repository,
        report.region,
        short(&report.revision)
    )?;
    for service in &report.services {
        writeln!(out)?;
        writeln!(out, "{}", service.name)?;
        for environment in &service.environments {
            write_environment(environment, out)?;
        }
        match &service.last_execution {
            None => writeln!(out, "  last execution  none among the ledger's recent pushes")?,
            Some(last) => {
                let outcome = last.outcome.as_deref().map_or_else(String::new, |outcome| format!(", {outcome}"));
                writeln!(
                    out,
                    "  last execution  {} ({} {}): {}{outcome}",
                    last.name,
                    last.branch,
                    short(&last.commit),
                    last.status
                )?;
                if !last.environments.is_empty() {
                    let each: Vec<String> =
                        last.environments.iter().map(|e| format!("{} {}", e.name, e.outcome)).collect();
                    writeln!(out, "                  {}", each.join(", "))?;
                }
                writeln!(out, "                  {}", last.execution_url)?;
            }
        }
    }
    Ok(())
}

fn write_environment(environment: &EnvironmentStatus, out: &mut dyn Write) -> io::Result<()> {
    let gate = if environment.approval { ", approval required" } else { "" };
    writeln!(
        out,
        "  {:<12} {}/{}  {}{gate}",
        environment.name, environment.cluster, environment.service, environment.ecs_status
    )?;
    let field = |out: &mut dyn Write, label: &str, value: &str| writeln!(out, "    {label:<11}{value}");
    if environment.ecs_status == "MISSING" {
        field(out, "missing", "ECS has no such service (or cluster)")?;
    }
    if let Some(task_definition) = &environment.task_definition {
        let name = resource_name(task_definition);
        let running = match (&environment.commit, environment.pushed_at) {
            (Some(commit), Some(at)) => format!("{name}, commit {} pushed {}", short(commit), time(at)),
            (Some(commit), None) => format!("{name}, commit {}", short(commit)),
            _ => format!("{name}, not deployed by deltaship"),
        };
        field(out, "running", &running)?;
    }
    match (&environment.image, &environment.task_definition) {
        (Some(image), _) => field(out, "image", image)?,
        (None, Some(_)) => {
            field(out, "image", &format!("none: the revision has no container {}", environment.container))?;
        }
        (None, None) => {}
    }
    if let Some(deployment) = &environment.deployment {
        let status = if deployment.status.is_empty() { "(not described)" } else { &deployment.status };
        let reason = deployment.status_reason.as_deref().map_or_else(String::new, |reason| format!(": {reason}"));
        field(out, "deployment", &format!("{status} {}{reason}", deployment.arn))?;
    }
    if environment.approval && environment.pending_approvals.is_empty() {
        field(out, "waiting", "no push waits for an approval")?;
    }
    for pending in &environment.pending_approvals {
        let by = if pending.pushed_by.is_empty() { String::new() } else { format!(" by {}", pending.pushed_by) };
        field(
            out,
            "waiting",
            &format!(
                "{}{by}, since {}, until {} (execution {})",
                short(&pending.commit),
                time(pending.requested_at),
                time(pending.expires_at),
                pending.execution
            ),
        )?;
    }
    field(out, "console", &environment.service_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(approval: bool) -> Target {
        Target {
            environment: "production".into(),
            cluster: "arn:aws:ecs:eu-west-1:1:cluster/shop-prod".into(),
            service: "users".into(),
            container: "app".into(),
            approval,
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn a_row_reads_the_deployed_container_and_the_stamp() {
        let deployment = DeploymentStatus { arn: "arn:d".into(), status: "SUCCESSFUL".into(), status_reason: None };
        let stamped = Running {
            status: "ACTIVE".into(),
            task_definition: "arn:aws:ecs:eu-west-1:1:task-definition/users:7".into(),
            images: tags(&[("sidecar", "envoy:1"), ("app", "1.dkr.ecr/shop/users@sha256:ab")]),
            tags: tags(&[
                (TAG_COMMIT, "c0ffee"),
                (TAG_PUSHED_AT, "1700000000"),
                (TAG_EXECUTION, "shop-main-x"),
                ("team", "a"),
            ]),
            deployment: Some(deployment),
        };
        let cases = [
            // (what ECS says, image, commit, pushed_at, execution, ecs_status)
            (
                Some(stamped.clone()),
                Some("1.dkr.ecr/shop/users@sha256:ab"),
                Some("c0ffee"),
                Some(1_700_000_000),
                Some("shop-main-x"),
                "ACTIVE",
            ),
            // Registered by hand: no stamp; a bad push time is no push time.
            (
                Some(Running { tags: tags(&[(TAG_COMMIT, "c0ffee"), (TAG_PUSHED_AT, "soon")]), ..stamped.clone() }),
                Some("1.dkr.ecr/shop/users@sha256:ab"),
                Some("c0ffee"),
                None,
                None,
                "ACTIVE",
            ),
            // The container the manifest names is not in the revision.
            (
                Some(Running { images: tags(&[("web", "x")]), tags: Vec::new(), ..stamped.clone() }),
                None,
                None,
                None,
                None,
                "ACTIVE",
            ),
            (
                Some(Running { status: "DRAINING".into(), ..stamped }),
                Some("1.dkr.ecr/shop/users@sha256:ab"),
                Some("c0ffee"),
                Some(1_700_000_000),
                Some("shop-main-x"),
                "DRAINING",
            ),
            (None, None, None, None, None, "MISSING"),
        ];
        for (running, image, commit, pushed_at, execution, ecs_status) in cases {
            let missing = running.is_none();
            let row = environment_status(&target(true), running, Vec::new(), "eu-west-1");
            assert_eq!(row.image.as_deref(), image, "{row:?}");
            assert_eq!(row.commit.as_deref(), commit, "{row:?}");
            assert_eq!((row.pushed_at, row.execution.as_deref()), (pushed_at, execution), "{row:?}");
            assert_eq!(row.ecs_status, ecs_status);
            assert_eq!(row.deployment.is_none(), missing);
            assert_eq!(row.task_definition.is_none(), missing);
            assert_eq!((row.name.as_str(), row.approval), ("production", true));
            // The console link names the cluster by name, in the stack's region.
            assert!(
                row.service_url.contains("/clusters/shop-prod/services/users/")
                    && row.service_url.contains("eu-west-1"),
                "{}",
                row.service_url
            );
        }
    }

    #[test]
    fn waiting_records_show_their_deadline_and_never_their_token() {
        // As request-approval stores them: the deadline in `deadline`, the TTL (a week later) in
        // `expires_at`.
        let record = |commit: &str, execution: &str, pushed_at: i64, deadline: i64| GateRecord {
            repository: "shop".into(),
            service: "users".into(),
            environment: "production".into(),
            commit: commit.into(),
            execution: execution.into(),
            pushed_at,
            pushed_by: "arn:aws:iam::1:user/ana".into(),
            image: "1.dkr.ecr/shop/users@sha256:ab".into(),
            token: "secret-token".into(),
            requested_at: 1000,
            expires_at: deadline,
        };
        let stored = [
            record("bbb", "exec-b", 200, 5000),
            record("aaa", "exec-a", 100, 5000),
            // Its deadline passed: no longer waiting, though the item stays until its TTL.
            record("old", "exec-old", 50, 1500),
        ];
        let records: Vec<GateRecord> = stored
            .iter()
            .map(|record| deltaship_aws::gates::record_of(&deltaship_aws::gates::item(record)).unwrap())
            .collect();
        let shown: Vec<PendingApproval> = gates::waiting(&records, 2000).into_iter().map(pending_approval).collect();
        assert_eq!(
            shown,
            [
                PendingApproval {
                    execution: "exec-a".into(),
                    commit: "aaa".into(),
                    image: "1.dkr.ecr/shop/users@sha256:ab".into(),
                    pushed_by: "arn:aws:iam::1:user/ana".into(),
                    pushed_at: 100,
                    requested_at: 1000,
                    expires_at: 5000,
                },
                PendingApproval {
                    execution: "exec-b".into(),
                    commit: "bbb".into(),
                    image: "1.dkr.ecr/shop/users@sha256:ab".into(),
                    pushed_by: "arn:aws:iam::1:user/ana".into(),
                    pushed_at: 200,
                    requested_at: 1000,
                    expires_at: 5000,
                },
            ],
            "oldest push first, until the deadline (not the TTL)"
        );
        let json = serde_json::to_string(&shown).unwrap();
        assert!(!json.contains("token") && !json.contains("secret"), "{json}");
    }

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn an_execution_input_names_its_services_and_parts() {
        let input = format!(
            r#"{{"execution":"x","repository":"shop","branch":"main","commit":"{COMMIT}","services":[{{"name":"users"}},{{"name":"products"}}],"parts":3,"unknown":1}}"#
        );
        let read = execution_input(&input).unwrap();
        assert_eq!(read.services, ["users", "products"]);
        assert_eq!(read.parts, 3);
        // One part when it does not say; not an input without services.
        assert_eq!(execution_input(r#"{"services":[]}"#).map(|input| input.parts), Some(1));
        assert_eq!(execution_input(r#"{"commit":"x"}"#), None);
        assert_eq!(execution_input("not json"), None);
    }

    #[test]
    fn later_parts_are_named_as_detect_changes_names_them() {
        let commit = CommitId::parse(COMMIT).unwrap();
        let input = ExecutionInput {
            repository: "shop".into(),
            branch: "main".into(),
            commit: COMMIT.into(),
            services: Vec::new(),
            parts: 3,
        };
        for attempt in [1, 2, 12] {
            let first = deltaship_core::naming::execution_name_part("shop", "main", &commit, attempt, 1);
            let expected: Vec<String> = (2..=3)
                .map(|part| deltaship_core::naming::execution_name_part("shop", "main", &commit, attempt, part))
                .collect();
            assert_eq!(later_parts(&first, &input), expected, "attempt {attempt}");
        }
        assert!(later_parts("x", &ExecutionInput { parts: 1, ..input.clone() }).is_empty());
        assert!(later_parts("x", &ExecutionInput { commit: "not a commit".into(), ..input }).is_empty());
    }

    #[test]
    fn outcomes_are_read_per_service_with_their_environments() {
        let output = r#"{"execution":"x","services":[
            {"name":"users","ok":true,"outcome":"deployed","environments":[
                {"name":"staging","outcome":"deployed","image":"i"},{"name":"production","outcome":"not_promoted"}]},
            {"name":"products","ok":false,"outcome":"some_new_outcome"},
            {"outcome":"deployed"}
        ]}"#;
        let outcomes = service_outcomes(output);
        assert_eq!(outcomes.len(), 2);
        let (outcome, environments) = &outcomes["users"];
        assert_eq!(outcome, "deployed");
        assert_eq!(
            environments,
            &[
                EnvironmentOutcome { name: "staging".into(), outcome: "deployed".into() },
                EnvironmentOutcome { name: "production".into(), outcome: "not_promoted".into() },
            ]
        );
        assert_eq!(outcomes["products"], ("some_new_outcome".to_owned(), Vec::new()));
        assert!(service_outcomes("{}").is_empty());
        assert!(service_outcomes("null").is_empty());
    }

    #[test]
    fn the_default_branches_are_the_literal_ones_and_the_local_ones_patterns_match() {
        let patterns = |list: &[&str]| list.iter().map(|pattern| (*pattern).to_owned()).collect::<Vec<_>>();
        let local = patterns(&["feature/x", "main", "release/1"]);
        let release = |branch: &str| branch == "main" || branch.starts_with("release/");
        assert_eq!(default_branches(&patterns(&["main", "release/*"]), &local, release), ["main", "release/1"]);
        assert_eq!(default_branches(&patterns(&["release/*"]), &[], |_| false), ["main"]);
        assert_eq!(default_branches(&patterns(&["trunk"]), &[], |_| false), ["trunk"]);
    }

    fn report() -> StatusReport {
        let running = Running {
            status: "ACTIVE".into(),
            task_definition: "arn:aws:ecs:eu-west-1:1:task-definition/users:7".into(),
            images: tags(&[("app", "1.dkr.ecr/shop/users@sha256:ab")]),
            tags: tags(&[(TAG_COMMIT, COMMIT), (TAG_PUSHED_AT, "1700000000"), (TAG_EXECUTION, "shop-main-x")]),
            deployment: Some(DeploymentStatus {
                arn: "arn:d".into(),
                status: "IN_PROGRESS".into(),
                status_reason: Some("rolling".into()),
            }),
        };
        let staging = environment_status(
            &Target { environment: "staging".into(), approval: false, ..target(false) },
            Some(running),
            Vec::new(),
            "eu-west-1",
        );
        let pending = PendingApproval {
            execution: "shop-main-y".into(),
            commit: COMMIT.into(),
            image: "i".into(),
            pushed_by: "arn:aws:iam::1:user/ana".into(),
            pushed_at: 1_700_000_000,
            requested_at: 1_700_000_100,
            expires_at: 1_700_086_500,
        };
        let production = environment_status(&target(true), None, vec![pending], "eu-west-1");
        StatusReport {
            repository: "shop".into(),
            region: "eu-west-1".into(),
            revision: COMMIT.into(),
            services: vec![ServiceStatus {
                name: "users".into(),
                environments: vec![staging, production],
                last_execution: Some(LastExecution {
                    name: "shop-main-y".into(),
                    status: "RUNNING".into(),
                    outcome: None,
                    environments: Vec::new(),
                    branch: "main".into(),
                    commit: COMMIT.into(),
                    execution_url: "https://console/x".into(),
                }),
            }],
        }
    }

    #[test]
    fn the_json_document_has_the_documented_keys() {
        let json = serde_json::to_value(report()).unwrap();
        // Sorted: the order serde_json keeps depends on its features.
        let keys = |value: &Value| {
            let mut keys = value.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
            keys.sort();
            keys
        };
        assert_eq!(keys(&json), ["region", "repository", "revision", "services"]);
        let service = &json["services"][0];
        assert_eq!(keys(service), ["environments", "last_execution", "name"]);
        assert_eq!(
            keys(&service["environments"][0]),
            [
                "approval",
                "cluster",
                "commit",
                "container",
                "deployment",
                "ecs_status",
                "execution",
                "image",
                "name",
                "pending_approvals",
                "pushed_at",
                "service",
                "service_url",
                "task_definition"
            ]
        );
        assert_eq!(keys(&service["environments"][0]["deployment"]), ["arn", "status", "status_reason"]);
        assert_eq!(service["environments"][1]["deployment"], Value::Null);
        assert_eq!(
            keys(&service["environments"][1]["pending_approvals"][0]),
            ["commit", "execution", "expires_at", "image", "pushed_at", "pushed_by", "requested_at"]
        );
        assert_eq!(
            keys(&service["last_execution"]),
            ["branch", "commit", "environments", "execution_url", "name", "outcome", "status"]
        );
    }

    #[test]
    fn the_text_groups_environments_under_their_service() {
        let mut out = Vec::new();
        write_text(&report(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in [
            "repository shop (eu-west-1), services as the manifests at 0123456789ab name them",
            "\nusers\n",
            "  staging      arn:aws:ecs:eu-west-1:1:cluster/shop-prod/users  ACTIVE\n",
            "    running    users:7, commit 0123456789ab pushed 2023-11-14T22:13:20Z\n",
            "    image      1.dkr.ecr/shop/users@sha256:ab\n",
            "    deployment IN_PROGRESS arn:d: rolling\n",
            "  production   arn:aws:ecs:eu-west-1:1:cluster/shop-prod/users  MISSING, approval required\n",
            "    missing    ECS has no such service (or cluster)\n",
            "    waiting    0123456789ab by arn:aws:iam::1:user/ana, since 2023-11-14T22:15:00Z, until 2023-11-15T22:15:00Z (execution shop-main-y)\n",
            "  last execution  shop-main-y (main 0123456789ab): RUNNING\n",
            "                  https://console/x\n",
        ] {
            assert!(text.contains(line), "{line:?} in:\n{text}");
        }
        assert!(!text.contains("token"));
    }
}
