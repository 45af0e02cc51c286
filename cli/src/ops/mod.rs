//! The ops commands (`deltaship status`, and the approvals and redeploys built on the same
//! ground): a deployed deltaship operated from the terminal, against AWS or a `deltaship local
//! up` alike.
//!
//! What every ops command shares:
//!
//! - **the stack** ([`StackArgs`], [`resolve`]): the state machine, the waits table and the
//!   repository of one deltaship, and the AWS configuration that reaches them. Against a
//!   `deltaship local up` (the endpoint's front answers `GET /deltaship/stack`) the names come
//!   from the front, and the calls carry the watcher's user agent, so the front does not count
//!   them among a push's; against AWS (or any other endpoint) they are the CloudFormation
//!   stack's outputs `PipelineStateMachineArn`, `WaitsTableName` and `RepositoryName`.
//! - **the catalog** ([`RepoArgs`], [`load_catalog`], [`targets`]): the services and
//!   environments of the repository's `deltaship.toml` and manifests at a revision, and each
//!   service's ECS target in each environment, in pipeline order.
//! - how an AWS error ends a command ([`aws_failure`]: exit 1).
//!
//! - [`status`]: `deltaship status`, what runs where, what waits for an approval, how the last
//!   execution of each service ended.
//! - [`answer`]: `deltaship approve` and `deltaship reject` ([`crate::approvals`]).
//! - [`redeploy`]: `deltaship redeploy`, an earlier push's image deployed again.

pub mod answer;
pub mod redeploy;
pub mod status;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use deltaship_core::environments::{Environment, promotions};
use deltaship_core::{Catalog, CommitId, Service};
use serde::Serialize;

use crate::git::GitRepo;
use crate::local::client::{StackInfo, exchange};
use crate::local::front::STACK_PATH;
use crate::output::CliError;

/// The stack name `--stack` defaults to: `stack_name` of `sam/samconfig.toml`.
pub const DEFAULT_STACK: &str = "deltaship";

/// The stack output naming the pipeline state machine's ARN.
pub const OUTPUT_STATE_MACHINE: &str = "PipelineStateMachineArn";
/// The stack output naming the waits table (waits, push ledger, approval gates).
pub const OUTPUT_WAITS_TABLE: &str = "WaitsTableName";
/// The stack output naming the CodeCommit repository the stack deploys.
pub const OUTPUT_REPOSITORY: &str = "RepositoryName";

/// How long a `deltaship local up` front may take to say which stack it is.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which deltaship an ops command talks to.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct StackArgs {
    /// The deltaship stack's CloudFormation name (sam/samconfig.toml's `stack_name`). Not used
    /// against a `deltaship local up`, which is one stack.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_STACK)]
    pub stack: String,
    /// The AWS endpoint: a `deltaship local up` (the URL it prints), or any other endpoint for
    /// every service. Default: $AWS_ENDPOINT_URL; none: AWS itself.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The stack's region. Default: the AWS chain ($AWS_REGION, the profile's region).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

impl StackArgs {
    /// The endpoint to use: `--endpoint-url`, else `$AWS_ENDPOINT_URL`, without a trailing
    /// slash; `None` when neither names one.
    pub fn endpoint(&self) -> Option<String> {
        crate::local::client::endpoint_from(self.endpoint_url.as_deref())
    }
}

/// One deltaship, resolved: what to call and the names of what it is made of.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The AWS configuration that reaches it (region, endpoint, credentials).
    pub config: SdkConfig,
    /// Its region (console links name it).
    pub region: String,
    /// The pipeline state machine's ARN.
    pub state_machine_arn: String,
    /// The waits table: waits, the push ledger, the approval gates.
    pub waits_table: String,
    /// The CodeCommit repository whose pushes it deploys.
    pub repository: String,
    /// Whether it is a `deltaship local up`.
    pub local: bool,
}

impl Stack {
    /// The ARN of the pipeline's execution `name`, or `None` when the state machine ARN is not
    /// one (a stack output edited by hand).
    pub fn execution_arn(&self, name: &str) -> Option<String> {
        deltaship_core::links::execution_arn(&self.state_machine_arn, name)
    }
}

/// The stack `args` name. A `deltaship local up` at the endpoint names itself; otherwise the
/// CloudFormation stack `--stack`'s outputs do. Bad input (exit 2): an endpoint where nothing
/// answers, no region, no stack of that name in the region, an output missing. A failed AWS call
/// (credentials, network): a failure (exit 1).
pub async fn resolve(args: &StackArgs) -> Result<Stack, CliError> {
    let endpoint = args.endpoint();
    if let Some(endpoint) = &endpoint
        && endpoint.starts_with("http://")
        && let Some(info) = local_stack(endpoint).await?
    {
        let config = crate::local::stack::watcher_config_at(endpoint).await;
        return Ok(Stack {
            config,
            region: info.region,
            state_machine_arn: info.state_machine_arn,
            waits_table: info.waits_table,
            repository: info.repository,
            local: true,
        });
    }

    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    let region =
        config.region().map(ToString::to_string).filter(|region| !region.trim().is_empty()).ok_or_else(|| {
            CliError::bad_input(
                "no AWS region: give the stack's with --region, or set AWS_REGION (or a profile's region)",
            )
        })?;
    let described = aws_sdk_cloudformation::Client::new(&config)
        .describe_stacks()
        .stack_name(&args.stack)
        .send()
        .await
        .map_err(|error| {
            if error.code() == Some("ValidationError") && error.message().is_some_and(|m| m.contains("does not exist"))
            {
                CliError::bad_input(format!(
                    "no CloudFormation stack named {} in {region}: name deltaship's stack with --stack (sam deploy's \
                     stack_name) and its region with --region",
                    args.stack
                ))
            } else {
                aws_failure("DescribeStacks", &args.stack, &error)
            }
        })?;
    let found = described
        .stacks()
        .first()
        .ok_or_else(|| CliError::bad_input(format!("no CloudFormation stack named {} in {region}", args.stack)))?;
    let outputs: BTreeMap<String, String> = found
        .outputs()
        .iter()
        .filter_map(|output| Some((output.output_key()?.to_owned(), output.output_value()?.to_owned())))
        .collect();
    let status = found.stack_status().map(|status| status.as_str().to_owned()).unwrap_or_default();
    let names = stack_names(&args.stack, &region, &status, &outputs)?;
    Ok(Stack {
        config,
        region,
        state_machine_arn: names.state_machine_arn,
        waits_table: names.waits_table,
        repository: names.repository,
        local: false,
    })
}

/// What a deltaship stack's outputs name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackNames {
    /// [`OUTPUT_STATE_MACHINE`].
    pub state_machine_arn: String,
    /// [`OUTPUT_WAITS_TABLE`].
    pub waits_table: String,
    /// [`OUTPUT_REPOSITORY`].
    pub repository: String,
}

/// The names in the outputs of `stack` (in `region`, its status `status`): bad input naming
/// the first output missing or empty.
pub fn stack_names(
    stack: &str,
    region: &str,
    status: &str,
    outputs: &BTreeMap<String, String>,
) -> Result<StackNames, CliError> {
    let output = |key: &str| {
        outputs.get(key).map(|value| value.trim()).filter(|value| !value.is_empty()).map(ToOwned::to_owned).ok_or_else(
            || {
                let has: Vec<&str> = outputs.keys().map(String::as_str).collect();
                CliError::bad_input(format!(
                    "the stack {stack} in {region} ({status}) has no output {key} (its outputs: {has:?}): is it \
                     deltaship's stack, deployed from this version's sam/template.yaml? Name deltaship's stack with \
                     --stack, or deploy this version (sam deploy)"
                ))
            },
        )
    };
    Ok(StackNames {
        state_machine_arn: output(OUTPUT_STATE_MACHINE)?,
        waits_table: output(OUTPUT_WAITS_TABLE)?,
        repository: output(OUTPUT_REPOSITORY)?,
    })
}

/// What the `deltaship local up` at `endpoint` says of itself, `None` when the endpoint answers
/// but is not one (another AWS endpoint); bad input when nothing answers there.
async fn local_stack(endpoint: &str) -> Result<Option<StackInfo>, CliError> {
    let nothing = |reason: &dyn std::fmt::Display| {
        CliError::bad_input(format!(
            "nothing answers at {endpoint} ({reason}): start `deltaship local up` and use the endpoint it prints, or \
             give another --endpoint-url (or none, for AWS)"
        ))
    };
    let answered = tokio::time::timeout(PROBE_TIMEOUT, exchange(endpoint, STACK_PATH, None))
        .await
        .map_err(|_| nothing(&format!("no answer within {}s", PROBE_TIMEOUT.as_secs())))?
        .map_err(|error| nothing(&error))?;
    Ok(local_stack_of(answered.status, &answered.body))
}

/// The stack a front's answer to `GET /deltaship/stack` describes; `None` for any other answer.
fn local_stack_of(status: http::StatusCode, body: &[u8]) -> Option<StackInfo> {
    status.is_success().then(|| serde_json::from_slice(body).ok()).flatten()
}

/// The repository an ops command reads the services and environments from.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct RepoArgs {
    /// The git repository deltaship deploys (or any folder inside it): its deltaship.toml and
    /// manifests name the services, their environments and targets.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The revision whose deltaship.toml and manifests are read.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
}

/// The repository and its catalog at a revision.
pub struct RepoCatalog {
    /// The repository.
    pub git: GitRepo,
    /// The revision read.
    pub commit: CommitId,
    /// Its services, environments and settings.
    pub catalog: Catalog,
}

/// The catalog of `args.repo` at `args.rev`: bad input for a path that is not a repository, an
/// unknown revision or invalid manifests; a failure for a repository that cannot be read.
pub fn load_catalog(args: &RepoArgs) -> Result<RepoCatalog, CliError> {
    let git = GitRepo::open(&args.repo).map_err(CliError::bad_input)?;
    let commit = git.resolve(&args.rev).map_err(CliError::bad_input)?;
    let (settings, manifests) = git.manifests(&commit).map_err(CliError::failure)?;
    let catalog = Catalog::load(settings.as_ref(), &manifests).map_err(|error| {
        CliError::bad_input(format!(
            "the manifests at {} are invalid (`deltaship check --rev {}` shows them):\n{error}",
            commit.short(),
            commit.short()
        ))
    })?;
    Ok(RepoCatalog { git, commit, catalog })
}

/// Where a service runs in one environment, and whether promotion there waits for an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The environment.
    pub environment: String,
    /// The ECS cluster, as the manifest names it.
    pub cluster: String,
    /// The ECS service, as the manifest names it.
    pub service: String,
    /// The container whose image deltaship replaces.
    pub container: String,
    /// Whether promotion into it waits for an approval (never the first environment's: the
    /// push itself deploys there).
    pub approval: bool,
}

/// `service`'s targets in pipeline order: its `[deploy]` in the first environment, then each
/// later environment its manifest names a target for ([`promotions`]; the others it is not
/// deployed to).
pub fn targets(service: &Service, environments: &[Environment]) -> Vec<Target> {
    let first = environments
        .first()
        .map_or(deltaship_core::environments::DEFAULT_ENVIRONMENT, |environment| environment.name.as_str());
    let mut targets = vec![Target {
        environment: first.to_owned(),
        cluster: service.deploy.cluster.clone(),
        service: service.deploy.service.clone(),
        container: service.deploy.container.clone(),
        approval: false,
    }];
    targets.extend(promotions(service, environments).into_iter().map(|promotion| Target {
        environment: promotion.environment,
        cluster: promotion.cluster,
        service: promotion.service,
        container: promotion.container,
        approval: promotion.approval,
    }));
    targets
}

/// Every service of `catalog` (by name) with its [`targets`].
pub fn service_targets(catalog: &Catalog) -> Vec<(&Service, Vec<Target>)> {
    let environments = catalog.settings().environments();
    catalog.services().iter().map(|service| (service, targets(service, environments))).collect()
}

/// The failure (exit 1) of AWS call `call` on `target`: the error's code and message when AWS
/// answered, else what went wrong on the way (credentials, network).
pub fn aws_failure<E>(call: &str, target: &str, error: &SdkError<E, HttpResponse>) -> CliError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(error).to_string(),
    };
    CliError::failure(format!("{call} {target}: {detail}"))
}

/// The caller's identity (`sts:GetCallerIdentity`): the ARN an approval, a rejection or a
/// redeploy records ([`crate::approvals::caller`]).
pub async fn caller(stack: &Stack) -> Result<String, CliError> {
    crate::approvals::caller(&aws_sdk_sts::Client::new(&stack.config))
        .await
        .map_err(|error| CliError::failure(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltaship_core::SourceFile;

    fn outputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn a_stack_names_what_its_outputs_say_and_a_missing_output_is_bad_input() {
        let complete = outputs(&[
            (OUTPUT_STATE_MACHINE, "arn:aws:states:eu-west-1:1:stateMachine:deltaship-pipeline"),
            (OUTPUT_WAITS_TABLE, "deltaship-WaitsTable-1"),
            (OUTPUT_REPOSITORY, "shop"),
            ("PushRuleArn", "arn:x"),
        ]);
        let names = stack_names("deltaship", "eu-west-1", "UPDATE_COMPLETE", &complete).unwrap();
        assert_eq!(
            names,
            StackNames {
                state_machine_arn: "arn:aws:states:eu-west-1:1:stateMachine:deltaship-pipeline".into(),
                waits_table: "deltaship-WaitsTable-1".into(),
                repository: "shop".into(),
            }
        );
        for (missing, blank) in [(OUTPUT_STATE_MACHINE, false), (OUTPUT_WAITS_TABLE, false), (OUTPUT_REPOSITORY, true)]
        {
            let mut partial = complete.clone();
            if blank {
                partial.insert(missing.to_owned(), " ".to_owned());
            } else {
                partial.remove(missing);
            }
            let error = stack_names("deltaship", "eu-west-1", "UPDATE_COMPLETE", &partial).unwrap_err();
            assert!(error.bad_input, "{error:?}");
            for part in [missing, "deltaship in eu-west-1 (UPDATE_COMPLETE)", "--stack"] {
                assert!(error.message.contains(part), "{part}: {}", error.message);
            }
        }
    }

    #[test]
    fn only_a_local_up_front_answer_is_a_local_stack() {
        let ok = http::StatusCode::OK;
        let full = br#"{"repository":"shop","path":"/r","state_machine_arn":"arn:sm","waits_table":"t","region":"r"}"#;
        let info = local_stack_of(ok, full).unwrap();
        assert_eq!((info.repository.as_str(), info.waits_table.as_str(), info.region.as_str()), ("shop", "t", "r"));
        // An older front: the local stack's fixed names.
        let older = local_stack_of(ok, br#"{"repository":"shop","path":"/r"}"#).unwrap();
        assert_eq!(older.state_machine_arn, crate::local::stack::state_machine_arn());
        assert_eq!(older.waits_table, crate::local::stack::WAITS_TABLE);
        // Another endpoint (LocalStack, a proxy): not a local up.
        assert_eq!(local_stack_of(http::StatusCode::NOT_FOUND, full), None);
        assert_eq!(local_stack_of(ok, b"<html/>"), None);
        assert_eq!(local_stack_of(ok, br#"{"status":"running"}"#), None);
    }

    #[test]
    fn the_endpoint_is_the_flag_trimmed() {
        let args = StackArgs { endpoint_url: Some(" http://127.0.0.1:4566/ ".into()), ..StackArgs::default() };
        assert_eq!(args.endpoint().as_deref(), Some("http://127.0.0.1:4566"));
    }

    fn catalog(settings: Option<&str>, manifests: &[(&str, &str)]) -> Catalog {
        let settings = settings.map(|text| SourceFile::new("deltaship.toml", text));
        let manifests: Vec<SourceFile> = manifests.iter().map(|(path, text)| SourceFile::new(*path, *text)).collect();
        Catalog::load(settings.as_ref(), &manifests).unwrap()
    }

    const USERS: &str = "[build]\nproject = \"users\"\n[deploy]\ncluster = \"shop\"\nservice = \"users\"\n\
                         container = \"app\"\nimage_repository = \"shop/users\"\n";

    #[test]
    fn targets_are_in_pipeline_order_with_their_gates() {
        let environments = "[[environments]]\nname = \"staging\"\n[[environments]]\nname = \"qa\"\n\
                            [[environments]]\nname = \"production\"\napproval = true\n";
        let users = format!(
            "{USERS}[environments.production]\ncluster = \"shop-prod\"\nservice = \"users\"\ncontainer = \"web\"\n"
        );
        let products = USERS.replace("users", "products");
        let catalog = catalog(
            Some(environments),
            &[("services/users/service.toml", &users), ("services/products/service.toml", &products)],
        );
        let target = |environment: &str, cluster: &str, service: &str, container: &str, approval: bool| Target {
            environment: environment.into(),
            cluster: cluster.into(),
            service: service.into(),
            container: container.into(),
            approval,
        };
        let all: Vec<(String, Vec<Target>)> =
            service_targets(&catalog).into_iter().map(|(service, targets)| (service.name.clone(), targets)).collect();
        assert_eq!(
            all,
            [
                // No target in qa nor production: it stays in staging.
                ("products".to_owned(), vec![target("staging", "shop", "products", "app", false)]),
                (
                    "users".to_owned(),
                    vec![
                        target("staging", "shop", "users", "app", false),
                        target("production", "shop-prod", "users", "web", true),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn a_repository_without_environments_has_the_default_one() {
        let catalog = catalog(None, &[("services/users/service.toml", USERS)]);
        let all = service_targets(&catalog);
        let environments: Vec<&str> = all[0].1.iter().map(|target| target.environment.as_str()).collect();
        assert_eq!(environments, [deltaship_core::environments::DEFAULT_ENVIRONMENT]);
    }
}
