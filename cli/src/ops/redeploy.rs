//! `deltaship redeploy`: deploy the image an earlier push built, as a one-service execution
//! judged and rolled back like any other ([`deltaship_core::redeploy`]).
//!
//! The image is found in the revisions deltaship registered for the commit (their
//! `deltaship:commit` tag) in the service's task definition families, in any of its
//! environments, newest first: by digest when one ran by digest. A commit no revision was
//! registered for (its build failed, or it never deployed) cannot be redeployed: bad input.
//!
//! Exit status: 0 when the execution started (with `--wait`: when it succeeded); 1 when it failed
//! or an AWS call failed; 2 for bad input.

use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_ecs::types::{SortOrder, TaskDefinitionField};
use deltaship_core::payloads::{DetectOutput, DetectStatus};
use deltaship_core::redeploy::{Redeploy, Revision, image_of, redeploy_input};
use deltaship_core::{CommitId, PipelineInput};
use serde::Serialize;

use super::{RepoArgs, Stack, StackArgs, aws_failure, caller, load_catalog, resolve, targets};
use crate::local::answers::{Answers, GateRules};
use crate::local::follow::{Followed, RunStatus, follow};
use crate::local::report;
use crate::output::{CliError, Format, write_report};
use crate::{EXIT_FAILURE, EXIT_OK};

/// How many revisions of a family are looked at, newest first, for the commit's.
const REVISIONS_LOOKED_AT: usize = 100;

/// `deltaship redeploy`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RedeployArgs {
    /// The service (its manifest's name).
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// The earlier push's commit whose image to deploy (any revision the repository knows).
    #[arg(long, value_name = "COMMIT")]
    pub commit: String,
    /// Deploy into this environment only, without its approval (an operator's act). Default:
    /// every environment in order, approvals included, as a push.
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,
    /// The branch the execution is recorded under. Default: deltaship.toml's first branch.
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Wait for the execution to end and report it as `deltaship local run` does (exit 1 if the
    /// service did not deploy).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: seconds to wait before giving up (the execution runs on).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub timeout: u64,
    /// Output format: text, or one JSON document {"execution", "execution_arn", "service",
    /// "commit", "image", "environments"} (with --wait: `deltaship local run`'s report).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The repository whose manifests name the service and its environments.
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Which deltaship: its stack (or a `deltaship local up`).
    #[command(flatten)]
    pub stack: StackArgs,
}

/// The started execution.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// Its name.
    pub execution: String,
    /// Its ARN.
    pub execution_arn: String,
    /// The service.
    pub service: String,
    /// The commit redeployed.
    pub commit: String,
    /// The image deployed.
    pub image: String,
    /// The environments, in order.
    pub environments: Vec<String>,
}

/// Runs `deltaship redeploy`.
pub fn redeploy(args: &RedeployArgs) -> Result<ExitCode, CliError> {
    let repo = load_catalog(&args.repo)?;
    let commit = repo.git.resolve(&args.commit).map_err(CliError::bad_input)?;
    let service = repo.catalog.service(&args.service).ok_or_else(|| {
        let names: Vec<&str> = repo.catalog.services().iter().map(|service| service.name.as_str()).collect();
        CliError::bad_input(format!("no service named {} (the manifests name {names:?})", args.service))
    })?;
    let service_targets = targets(service, repo.catalog.settings().environments());
    let branch = args
        .branch
        .clone()
        .or_else(|| repo.catalog.settings().branches().first().cloned())
        .unwrap_or_else(|| "main".to_owned());
    let text = args.format == Format::Text;
    crate::runtime()?.block_on(async {
        let stack = resolve(&args.stack).await?;
        let mut image = None;
        for target in &service_targets {
            if text {
                eprintln!(
                    "deltaship: looking for {}'s revisions in {}/{}",
                    commit.short(),
                    target.cluster,
                    target.service
                );
            }
            image = find_image(&stack, &target.cluster, &target.service, &commit, &target.container).await?;
            if image.is_some() {
                break;
            }
        }
        let image = image.ok_or_else(|| {
            CliError::bad_input(format!(
                "no revision of {} was deployed for {} (in any of its environments): its build failed or it never \
                 deployed, so there is no image to redeploy",
                args.service,
                commit.short()
            ))
        })?;
        let by = caller(&stack).await.ok();
        let redeploy = Redeploy {
            service: &args.service,
            environment: args.environment.as_deref(),
            commit: &commit,
            image,
            repository: &stack.repository,
            branch: &branch,
            by,
            now: deltaship_aws::system_clock(),
        };
        let input = redeploy_input(&repo.catalog, &redeploy).map_err(|error| CliError::bad_input(error.to_string()))?;
        let started = start(&stack, &input).await?;
        if text {
            eprintln!("deltaship: started {} ({})", started.execution, started.execution_arn);
            eprintln!(
                "deltaship: console: {}",
                deltaship_core::links::execution(&stack.region, &started.execution_arn)
            );
        }
        if !args.wait {
            write_report(args.format, "the redeploy", &started, |out| {
                writeln!(
                    out,
                    "redeploying {} at {} ({}) into {}: execution {}",
                    started.service,
                    commit.short(),
                    started.image,
                    started.environments.join(", then "),
                    started.execution
                )
            })?;
            return Ok(ExitCode::from(EXIT_OK));
        }
        let detected = DetectOutput {
            status: DetectStatus::Started,
            message: format!("redeploy of {} at {}", args.service, commit.short()),
            execution: Some(started.execution.clone()),
            execution_arn: Some(started.execution_arn.clone()),
            executions: vec![started.execution.clone()],
            services: vec![args.service.clone()],
            removed: Vec::new(),
            input: Some(input),
        };
        let endpoint = args.stack.endpoint().unwrap_or_default();
        let mut answers =
            Answers::new(&stack.config, &endpoint, &stack.waits_table, &stack.repository, GateRules::default());
        let mut show = |followed: Followed| {
            if let (true, Followed::Gate(event)) = (text, followed) {
                eprintln!("{}", report::progress_line(&crate::local::Progress::Gate(event)));
            }
        };
        let ran = follow(
            &stack.config,
            &stack.state_machine_arn,
            detected,
            Duration::from_secs(args.timeout),
            &mut answers,
            &mut show,
        )
        .await
        .map_err(|error| CliError::failure(error.to_string()))?;
        write_report(args.format, "the report", &ran, |out| report::write_text(&ran, out))?;
        Ok(ExitCode::from(if ran.status == RunStatus::Failed { EXIT_FAILURE } else { EXIT_OK }))
    })
}

/// Starts the execution of `input`.
async fn start(stack: &Stack, input: &PipelineInput) -> Result<Started, CliError> {
    let text = serde_json::to_string(input).map_err(|error| CliError::failure(error.to_string()))?;
    let started = aws_sdk_sfn::Client::new(&stack.config)
        .start_execution()
        .state_machine_arn(&stack.state_machine_arn)
        .name(&input.execution)
        .input(text)
        .send()
        .await
        .map_err(|error| aws_failure("StartExecution", &stack.state_machine_arn, &error))?;
    let job = input.services.first();
    Ok(Started {
        execution: input.execution.clone(),
        execution_arn: started.execution_arn().to_owned(),
        service: job.map(|job| job.name.clone()).unwrap_or_default(),
        commit: input.commit.clone(),
        image: job.and_then(|job| job.image.clone()).unwrap_or_default(),
        environments: job
            .map(|job| {
                std::iter::once(job.environment.clone())
                    .chain(job.promotions.iter().map(|p| p.environment.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The image of `container` that a revision of the ECS service's family registered for `commit`
/// ran, looking at the newest [`REVISIONS_LOOKED_AT`] revisions; `None` if none was. A service
/// that does not exist has no revisions.
async fn find_image(
    stack: &Stack,
    cluster: &str,
    service: &str,
    commit: &CommitId,
    container: &str,
) -> Result<Option<String>, CliError> {
    let ecs = aws_sdk_ecs::Client::new(&stack.config);
    let target = format!("{cluster}/{service}");
    let described = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|error| aws_failure("DescribeServices", &target, &error))?;
    let Some(family) = described
        .services()
        .first()
        .and_then(|service| service.task_definition())
        .and_then(family_of)
        .map(ToOwned::to_owned)
    else {
        return Ok(None);
    };
    let mut pages =
        ecs.list_task_definitions().family_prefix(&family).sort(SortOrder::Desc).into_paginator().items().send();
    let mut looked = 0;
    let mut by_tag = None;
    while let Some(arn) = pages.next().await {
        let arn = arn.map_err(|error| aws_failure("ListTaskDefinitions", &family, &error))?;
        // A family prefix also matches longer family names.
        if family_of(&arn) != Some(family.as_str()) {
            continue;
        }
        looked += 1;
        if looked > REVISIONS_LOOKED_AT {
            break;
        }
        let described = ecs
            .describe_task_definition()
            .task_definition(&arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|error| aws_failure("DescribeTaskDefinition", &arn, &error))?;
        let commit_tag = described
            .tags()
            .iter()
            .find(|tag| tag.key() == Some(deltaship_core::races::TAG_COMMIT))
            .and_then(|tag| tag.value())
            .map(ToOwned::to_owned);
        let containers = described
            .task_definition()
            .map(|definition| {
                definition
                    .container_definitions()
                    .iter()
                    .filter_map(|container| Some((container.name()?.to_owned(), container.image()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let revision = Revision { arn, commit: commit_tag, containers };
        match image_of(std::slice::from_ref(&revision), commit, container) {
            Some(image) if image.contains("@sha256:") => return Ok(Some(image)),
            Some(image) => by_tag = by_tag.or(Some(image)),
            None => {}
        }
    }
    Ok(by_tag)
}

/// The family of a task definition revision's ARN (`...:task-definition/<family>:<revision>`).
fn family_of(arn: &str) -> Option<&str> {
    let (_, name) = arn.rsplit_once('/')?;
    name.rsplit_once(':').map(|(family, _)| family)
}
