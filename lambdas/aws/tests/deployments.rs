//! deploy-service, check-rollout and rollback-service over a mocked ECS (and, for check-rollout's
//! wait mode, a mocked waits table and Step Functions): the revision deployed (checked field by
//! field against the one it replaces) and the service deployment it watches; every verdict on a
//! service deployment, read from the real `DescribeServiceDeployments` answers of
//! `tests/fixtures/aws/ecs/`; and when and how a rollback touches the service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::config::{Builder, Region};
use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsError;
use aws_sdk_ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::register_task_definition::{RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput};
use aws_sdk_ecs::operation::stop_service_deployment::StopServiceDeploymentInput;
use aws_sdk_ecs::operation::update_service::{UpdateServiceInput, UpdateServiceOutput};
use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::error::ClusterNotFoundException;
use aws_sdk_ecs::types::{
    ApplicationProtocol, Attribute, Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency,
    CpuArchitecture, Deployment, DeploymentConfiguration, DeploymentController, DeploymentControllerType,
    DeploymentRolloutState, DeploymentStrategy, EphemeralStorage, Failure as EcsFailure, FirelensConfiguration,
    FirelensConfigurationType, KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode, OsFamily, PidMode,
    PortMapping, RuntimePlatform, Service, StopServiceDeploymentStopType, Tag, TaskDefinition, TaskDefinitionField,
    TaskDefinitionPlacementConstraint, TaskDefinitionPlacementConstraintType, TaskDefinitionStatus, TransportProtocol,
    Volume,
};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use common::{CallLog, MockWaits, NOW, Recorder, TokenAnswer, aws_fixture, clock, json_response, meta, throttling};
use deltaship_aws::Function;
use deltaship_aws::check_rollout::CheckRollout;
use deltaship_aws::deploy::DeployService;
use deltaship_aws::rollback::RollbackService;
use deltaship_core::ledger::{PushRecord, PushStatus};
use deltaship_core::payloads::{
    CheckRolloutOutput, RollbackAction, RollbackOutput, RolledBackBy, RolloutStatus, RolloutWatch,
};
use deltaship_core::rollout::Expect;
use deltaship_core::{CommitId, ErrorKind, Origin, Scope, WaitPolicy, links};
use serde_json::{Value, json};

/// A back-off policy (a minimum below the maximum), so the answers' `wait_seconds` show how
/// long the thing has run; the defaults are flat (`WaitPolicy::ROLLOUT`).
const ROLLOUT_WAIT: WaitPolicy = WaitPolicy { min_seconds: 30, max_seconds: 300 };

/// The revision the service runs before the deployment.
const OLD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/users:6";
/// The revision deploy-service registers.
const NEW: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/users:7";
/// A revision someone else deployed.
const OTHER: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/users:8";
const OLD_IMAGE: &str =
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6";
const IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
/// The pushed commit, the tag of `IMAGE`.
const COMMIT: &str = "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
/// When it was pushed.
const PUSHED_AT: i64 = NOW - 600;
const EXECUTION: &str = "shop-monorepo-main-7f0103fa1b2c-0123456789";
const SERVICE_ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:service/shop/users";
/// The service deployment that put the service on `OLD`.
const SD_OLD: &str = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/shop/users/oOldDeploymentX6Ab3Cd";
/// The service deployment deploy-service's UpdateService creates.
const SD_NEW: &str = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/shop/users/nNewDeploymentQ7Rs9Tu";
/// A service deployment someone else started.
const SD_OTHER: &str = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/shop/users/xOtherDeploymentK2Lm4";

/// A client in `region` that tries each call at most `attempts` times, backing off a millisecond.
fn ecs_in(rules: &[&Rule], region: &'static str, attempts: u32) -> aws_sdk_ecs::Client {
    let configure = move |config: Builder| {
        config.region(Region::new(region)).retry_config(
            RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(1)),
        )
    };
    mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules, configure)
}

/// A client in eu-west-1 (the shop's) that tries each call once.
fn ecs(rules: &[&Rule]) -> aws_sdk_ecs::Client {
    ecs_in(rules, "eu-west-1", 1)
}

fn service_url() -> String {
    links::service("eu-west-1", "shop", "users")
}

// ---- ECS answers, built -------------------------------------------------------------------------

fn deployment(id: &str, status: &str, task_definition: &str, rollout: DeploymentRolloutState) -> Deployment {
    Deployment::builder()
        .id(id)
        .status(status)
        .task_definition(task_definition)
        .rollout_state(rollout)
        .desired_count(2)
        .running_count(1)
        .pending_count(1)
        .failed_tasks(0)
        .created_at(DateTime::from_secs(NOW - 60))
        .build()
}

/// A deployment with all its tasks running.
fn settled(id: &str, status: &str, task_definition: &str) -> Deployment {
    let mut deployment = deployment(id, status, task_definition, DeploymentRolloutState::Completed);
    deployment.running_count = 2;
    deployment.pending_count = 0;
    deployment.rollout_state_reason = Some(format!("ECS deployment {id} completed."));
    deployment
}

/// The ACTIVE service `shop/users` running `task_definition` with `deployments`, whose current
/// service deployment is `current`. No deployment controller or strategy named: ECS's ROLLING.
fn service(task_definition: &str, current: &str, deployments: Vec<Deployment>) -> Service {
    Service::builder()
        .service_arn(SERVICE_ARN)
        .service_name("users")
        .cluster_arn("arn:aws:ecs:eu-west-1:123456789012:cluster/shop")
        .status("ACTIVE")
        .desired_count(2)
        .running_count(2)
        .task_definition(task_definition)
        .current_service_deployment(current)
        .set_deployments(Some(deployments))
        .build()
}

/// DescribeServices of `shop/users`, answering `service`.
fn describe(service: Service) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|req| req.cluster() == Some("shop") && req.services() == ["users"])
        .then_output(move || DescribeServicesOutput::builder().services(service.clone()).build())
}

/// The service on `OLD`, settled.
fn on_old() -> Service {
    service(OLD, SD_OLD, vec![settled("ecs-svc/111", "PRIMARY", OLD)])
}

/// The service rolling out `NEW` (service deployment `SD_NEW`, deployment `ecs-svc/222`).
fn rolling() -> Service {
    service(
        NEW,
        SD_NEW,
        vec![
            deployment("ecs-svc/222", "PRIMARY", NEW, DeploymentRolloutState::InProgress),
            settled("ecs-svc/111", "ACTIVE", OLD),
        ],
    )
}

fn app(image: &str) -> ContainerDefinition {
    ContainerDefinition::builder()
        .name("app")
        .image(image)
        .essential(true)
        .cpu(192)
        .memory_reservation(384)
        .port_mappings(
            PortMapping::builder()
                .name("http")
                .container_port(8080)
                .host_port(8080)
                .protocol(TransportProtocol::Tcp)
                .app_protocol(ApplicationProtocol::Http)
                .build(),
        )
        .environment(KeyValuePair::builder().name("RUST_LOG").value("info").build())
        .environment(KeyValuePair::builder().name("PORT").value("8080").build())
        .mount_points(MountPoint::builder().source_volume("scratch").container_path("/tmp").read_only(false).build())
        .depends_on(
            ContainerDependency::builder()
                .container_name("log-router")
                .condition(ContainerCondition::Start)
                .build()
                .unwrap(),
        )
        .readonly_root_filesystem(true)
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awsfirelens)
                .options("Name", "cloudwatch_logs")
                .options("region", "eu-west-1")
                .options("log_group_name", "/shop/users")
                .build()
                .unwrap(),
        )
        .build()
}

fn log_router() -> ContainerDefinition {
    ContainerDefinition::builder()
        .name("log-router")
        .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
        .essential(true)
        .memory_reservation(50)
        .user("0")
        .firelens_configuration(
            FirelensConfiguration::builder()
                .r#type(FirelensConfigurationType::Fluentbit)
                .options("enable-ecs-log-metadata", "true")
                .build()
                .unwrap(),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/shop/firelens")
                .options("awslogs-region", "eu-west-1")
                .options("awslogs-stream-prefix", "firelens")
                .build()
                .unwrap(),
        )
        .build()
}

fn volume() -> Volume {
    Volume::builder().name("scratch").build()
}

fn placement() -> TaskDefinitionPlacementConstraint {
    TaskDefinitionPlacementConstraint::builder()
        .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
        .expression("attribute:ecs.cpu-architecture == arm64")
        .build()
}

fn platform() -> RuntimePlatform {
    RuntimePlatform::builder().cpu_architecture(CpuArchitecture::Arm64).operating_system_family(OsFamily::Linux).build()
}

fn storage() -> EphemeralStorage {
    EphemeralStorage::builder().size_in_gib(30).build()
}

const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/users-task";
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole";

fn tags() -> Vec<Tag> {
    vec![Tag::builder().key("team").value("shop").build(), Tag::builder().key("service").value("users").build()]
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// deltaship's stamp on a revision: the push it was registered for, and the one before it.
fn stamp(commit: &str, pushed_at: i64, execution: &str, previous: &str) -> Vec<Tag> {
    vec![
        tag("deltaship:commit", commit),
        tag("deltaship:pushed-at", &pushed_at.to_string()),
        tag("deltaship:execution", execution),
        tag("deltaship:previous", previous),
    ]
}

/// Revision 6's tags: the team's, and the stamp of the older push that registered it.
fn tags_of_6() -> Vec<Tag> {
    let older = stamp("3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6", PUSHED_AT - 86_400, "older-execution", "users:5");
    [tags(), older].concat()
}

/// Revision 7's tags: this push's stamp (the older one dropped), and the team's (copied).
fn tags_of_7() -> Vec<Tag> {
    [stamp(COMMIT, PUSHED_AT, EXECUTION, OLD), tags()].concat()
}

/// Revision 6 as DescribeTaskDefinition returns it: every setting a revision carries, and the
/// fields ECS sets itself.
fn revision_6() -> TaskDefinition {
    TaskDefinition::builder()
        // Set by ECS: never sent back.
        .task_definition_arn(OLD)
        .revision(6)
        .status(TaskDefinitionStatus::Active)
        .requires_attributes(
            Attribute::builder().name("com.amazonaws.ecs.capability.logging-driver.awsfirelens").build().unwrap(),
        )
        .requires_attributes(Attribute::builder().name("ecs.capability.task-eni").build().unwrap())
        .compatibilities(Compatibility::Ec2)
        .compatibilities(Compatibility::Fargate)
        .registered_at(DateTime::from_secs(NOW - 86_400))
        .registered_by("arn:aws:sts::123456789012:assumed-role/deployer/ci")
        // Settings.
        .family("users")
        .task_role_arn(TASK_ROLE)
        .execution_role_arn(EXECUTION_ROLE)
        .network_mode(NetworkMode::Awsvpc)
        .container_definitions(app(OLD_IMAGE))
        .container_definitions(log_router())
        .volumes(volume())
        .placement_constraints(placement())
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .pid_mode(PidMode::Task)
        .runtime_platform(platform())
        .ephemeral_storage(storage())
        .enable_fault_injection(false)
        .build()
}

/// The one request that registers revision 7: revision 6 with the app's image replaced.
fn revision_7_request() -> RegisterTaskDefinitionInput {
    RegisterTaskDefinitionInput::builder()
        .family("users")
        .task_role_arn(TASK_ROLE)
        .execution_role_arn(EXECUTION_ROLE)
        .network_mode(NetworkMode::Awsvpc)
        .container_definitions(app(IMAGE))
        .container_definitions(log_router())
        .volumes(volume())
        .placement_constraints(placement())
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .set_tags(Some(tags_of_7()))
        .pid_mode(PidMode::Task)
        .ephemeral_storage(storage())
        .runtime_platform(platform())
        .enable_fault_injection(false)
        .build()
        .unwrap()
}

fn describe_revision_6() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|req| req.task_definition() == Some(OLD) && req.include() == [TaskDefinitionField::Tags])
        .then_output(|| {
            DescribeTaskDefinitionOutput::builder().task_definition(revision_6()).set_tags(Some(tags_of_6())).build()
        })
}

/// RegisterTaskDefinition, asserting the request is revision 6 with only the app's image changed.
fn register_revision_7() -> Rule {
    mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(|req| {
            let original = revision_6();
            let containers = req.container_definitions();
            assert_eq!(containers.len(), 2, "both containers, in order: {containers:?}");
            assert_eq!(containers[0].name(), Some("app"));
            assert_eq!(containers[0].image(), Some(IMAGE), "the app runs the new image");
            assert_eq!(containers[0], app(IMAGE), "nothing else of the app changes");
            assert_eq!(containers[1], original.container_definitions()[1], "the log router is untouched");
            assert_eq!(req.family(), original.family());
            assert_eq!(req.task_role_arn(), original.task_role_arn());
            assert_eq!(req.execution_role_arn(), original.execution_role_arn());
            assert_eq!(req.network_mode(), original.network_mode());
            assert_eq!((req.cpu(), req.memory()), (original.cpu(), original.memory()));
            assert_eq!(req.volumes(), original.volumes());
            assert_eq!(req.placement_constraints(), original.placement_constraints());
            assert_eq!(req.requires_compatibilities(), original.requires_compatibilities());
            assert_eq!(req.runtime_platform(), original.runtime_platform());
            assert_eq!(req.ephemeral_storage(), original.ephemeral_storage());
            assert_eq!(req.pid_mode(), original.pid_mode());
            assert_eq!(req.enable_fault_injection(), original.enable_fault_injection());
            assert_eq!(req.tags(), tags_of_7(), "the team's tags, and this push's stamp");
            // And nothing else: the whole request, field by field.
            assert_eq!(*req, revision_7_request());
            true
        })
        .then_output(|| {
            let mut registered = revision_6();
            registered.task_definition_arn = Some(NEW.into());
            registered.revision = 7;
            registered.container_definitions = Some(vec![app(IMAGE), log_router()]);
            RegisterTaskDefinitionOutput::builder().task_definition(registered).set_tags(Some(tags_of_7())).build()
        })
}

/// UpdateService of `shop/users` to `task_definition` (and nothing else), recording the request;
/// answers the service with `answer`'s deployments.
fn update(task_definition: &'static str, answer: Service, seen: &Recorder<UpdateServiceInput>) -> Rule {
    let seen = seen.clone();
    mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(move |req| {
            seen.record(req);
            req.cluster() == Some("shop")
                && req.service() == Some("users")
                && req.task_definition() == Some(task_definition)
        })
        .then_output(move || UpdateServiceOutput::builder().service(answer.clone()).build())
}

// ---- deploy-service -----------------------------------------------------------------------------

fn deploy_input(container: &str) -> Value {
    json!({
        "name": "users",
        "cluster": "shop",
        "service": "users",
        "container": container,
        "image": IMAGE,
        "timeout_minutes": 12,
        "commit": COMMIT,
        "pushed_at": PUSHED_AT,
        "execution": EXECUTION,
        "repository": "shop-monorepo",
        "branch": "main"
    })
}

fn deploy(rules: &[&Rule]) -> DeployService {
    deploy_with(rules, &common::LedgerTable::default())
}

fn deploy_with(rules: &[&Rule], ledger: &common::LedgerTable) -> DeployService {
    DeployService::from_clients(ecs(rules), ledger.ledger(), ROLLOUT_WAIT, clock)
}

/// What deploy-service answers once `UpdateService` put revision 7 in service deployment
/// `SD_NEW` under `strategy`.
fn deploying(strategy: &str) -> CheckRolloutOutput {
    CheckRolloutOutput {
        status: RolloutStatus::InProgress,
        watch: RolloutWatch {
            name: "users".into(),
            execution: EXECUTION.into(),
            cluster: "shop".into(),
            service: "users".into(),
            service_arn: SERVICE_ARN.into(),
            service_deployment: SD_NEW.into(),
            deployment_id: "ecs-svc/222".into(),
            task_definition: NEW.into(),
            previous_task_definition: OLD.into(),
            strategy: strategy.into(),
            expect: Expect::Deployed,
            started_at: NOW,
            deadline: NOW + 12 * 60,
        },
        stage: None,
        wait_seconds: ROLLOUT_WAIT.min_seconds,
        detail: format!("deploying {NEW} ({strategy})"),
        service_url: service_url(),
    }
}

#[tokio::test]
async fn deploy_registers_the_same_revision_with_the_new_image_and_watches_its_service_deployment() {
    let describe_service = describe(on_old());
    let describe_definition = describe_revision_6();
    let register = register_revision_7();
    let seen = Recorder::default();
    let update_service = update(NEW, rolling(), &seen);

    let output = deploy(&[&describe_service, &describe_definition, &register, &update_service])
        .handle(deploy_input("app"))
        .await
        .unwrap();

    assert_eq!(output, deploying("ROLLING"));
    // The state machine reads every field, null or not, and passes `watch` on as it is.
    assert_eq!(
        serde_json::to_value(&output).unwrap(),
        json!({
            "status": "IN_PROGRESS",
            "watch": {
                "name": "users",
                "execution": EXECUTION,
                "cluster": "shop",
                "service": "users",
                "service_arn": SERVICE_ARN,
                "service_deployment": SD_NEW,
                "deployment_id": "ecs-svc/222",
                "task_definition": NEW,
                "previous_task_definition": OLD,
                "strategy": "ROLLING",
                "expect": "deployed",
                "started_at": NOW,
                "deadline": NOW + 720
            },
            "stage": null,
            "wait_seconds": 30,
            "detail": format!("deploying {NEW} (ROLLING)"),
            "service_url": service_url()
        })
    );
    for (rule, call) in [
        (&describe_service, "DescribeServices"),
        (&describe_definition, "DescribeTaskDefinition"),
        (&register, "RegisterTaskDefinition"),
        (&update_service, "UpdateService"),
    ] {
        assert_eq!(rule.num_calls(), 1, "{call}");
    }
    let request = seen.only();
    assert_eq!(request.force_new_deployment(), None, "only the task definition changes");
    assert_eq!(request.desired_count(), None);
}

#[tokio::test]
async fn the_watch_names_the_services_strategy_rolling_when_ecs_names_none() {
    let strategies = [
        (None, "ROLLING"),
        (Some(DeploymentStrategy::Rolling), "ROLLING"),
        (Some(DeploymentStrategy::BlueGreen), "BLUE_GREEN"),
        (Some(DeploymentStrategy::Linear), "LINEAR"),
        (Some(DeploymentStrategy::Canary), "CANARY"),
    ];
    for (strategy, name) in strategies {
        let configuration =
            strategy.clone().map(|strategy| DeploymentConfiguration::builder().strategy(strategy).build());
        let ecs_controller = DeploymentController::builder().r#type(DeploymentControllerType::Ecs).build().unwrap();
        let mut before = on_old();
        before.deployment_configuration.clone_from(&configuration);
        before.deployment_controller = Some(ecs_controller.clone());
        let mut answer = rolling();
        answer.deployment_configuration = configuration;
        answer.deployment_controller = Some(ecs_controller);
        let (describe_service, describe_definition, register) =
            (describe(before), describe_revision_6(), register_revision_7());
        let update_service = update(NEW, answer, &Recorder::default());

        let output = deploy(&[&describe_service, &describe_definition, &register, &update_service])
            .handle(deploy_input("app"))
            .await
            .unwrap();

        assert_eq!(output, deploying(name), "{strategy:?}");
    }
}

#[tokio::test]
async fn a_service_deployed_by_codedeploy_or_an_external_controller_is_refused_before_any_change() {
    for (controller, name) in
        [(DeploymentControllerType::CodeDeploy, "CODE_DEPLOY"), (DeploymentControllerType::External, "EXTERNAL")]
    {
        let mut service = on_old();
        service.deployment_controller = Some(DeploymentController::builder().r#type(controller).build().unwrap());
        let describe_service = describe(service);
        let describe_definition = describe_revision_6();
        let register = register_revision_7();
        let update_service = update(NEW, rolling(), &Recorder::default());

        let failure = deploy(&[&describe_service, &describe_definition, &register, &update_service])
            .handle(deploy_input("app"))
            .await
            .unwrap_err();

        assert_eq!(failure.kind, ErrorKind::UnsupportedDeploymentController, "{failure}");
        assert_eq!(
            failure.message,
            format!(
                "service shop/users uses the {name} deployment controller; deltaship deploys services whose \
                 deploymentController is ECS (any strategy: ROLLING, BLUE_GREEN, LINEAR, CANARY). Nothing was changed."
            )
        );
        assert_eq!(describe_service.num_calls(), 1);
        assert_eq!(
            (describe_definition.num_calls(), register.num_calls(), update_service.num_calls()),
            (0, 0, 0),
            "{name}: nothing read further, registered or updated"
        );
    }
}

#[tokio::test]
async fn an_update_service_answer_without_its_service_deployment_is_an_aws_error() {
    let mut unnamed = rolling();
    unnamed.current_service_deployment = None;
    let no_service = mock!(aws_sdk_ecs::Client::update_service).then_output(|| UpdateServiceOutput::builder().build());
    let no_deployment = update(NEW, unnamed, &Recorder::default());
    let cases = [
        (
            &no_deployment,
            "shop/users: ECS names no currentServiceDeployment for the service, so its rollout cannot be judged",
        ),
        (&no_service, "UpdateService shop/users: the answer names no service"),
    ];
    for (update_service, message) in cases {
        let (describe_service, describe_definition, register) =
            (describe(on_old()), describe_revision_6(), register_revision_7());
        let failure = deploy(&[&describe_service, &describe_definition, &register, update_service])
            .handle(deploy_input("app"))
            .await
            .unwrap_err();
        assert_eq!(failure.kind, ErrorKind::AwsError, "{failure}");
        assert_eq!(failure.message, message);
        assert_eq!(update_service.num_calls(), 1);
    }
}

#[tokio::test]
async fn deploy_watches_what_the_real_update_service_answer_names() {
    // The UpdateService answer of tests/fixtures/aws/ecs/, as ECS sends it over the wire.
    let updated = aws_fixture("ecs/update-service-with-current-service-deployment.json");
    let seven = updated["service"]["taskDefinition"].as_str().unwrap().to_owned();
    let six = seven.replace(":7", ":6");
    let log = CallLog::default();
    let describe_service = describe_sample(&log, USERS, &six, SD_OLD);
    let describe_definition = {
        let six = six.clone();
        mock!(aws_sdk_ecs::Client::describe_task_definition)
            .match_requests(move |req| req.task_definition() == Some(six.as_str()))
            .then_output(|| DescribeTaskDefinitionOutput::builder().task_definition(revision_6()).build())
    };
    let register = {
        let seven = seven.clone();
        mock!(aws_sdk_ecs::Client::register_task_definition)
            .match_requests(|req| req.container_definitions()[0].image() == Some(IMAGE))
            .then_output(move || {
                let mut registered = revision_6();
                registered.task_definition_arn = Some(seven.clone());
                RegisterTaskDefinitionOutput::builder().task_definition(registered).build()
            })
    };
    let body = updated.to_string();
    let update_service = {
        let seven = seven.clone();
        mock!(aws_sdk_ecs::Client::update_service)
            .match_requests(move |req| req.task_definition() == Some(seven.as_str()))
            .then_http_response(move || json_response(&body))
    };
    let mut input = deploy_input("app");
    input["cluster"] = json!(CLUSTER);
    input["service"] = json!(USERS);
    input["name"] = json!(USERS);

    let output = DeployService::from_clients(
        ecs_in(&[&describe_service, &describe_definition, &register, &update_service], "us-east-1", 1),
        common::LedgerTable::default().ledger(),
        ROLLOUT_WAIT,
        clock,
    )
    .handle(input)
    .await
    .unwrap();

    let watch = &output.watch;
    assert_eq!(watch.service_arn, "arn:aws:ecs:us-east-1:123456789012:service/deltaship-sample/user-service");
    assert_eq!(watch.service_deployment, updated["service"]["currentServiceDeployment"].as_str().unwrap());
    assert_eq!(watch.deployment_id, "ecs-svc/7464310793147648152", "the PRIMARY deployment, as events name it");
    assert_eq!((watch.strategy.as_str(), watch.expect), ("ROLLING", Expect::Deployed));
    assert_eq!(
        (watch.task_definition.as_str(), watch.previous_task_definition.as_str()),
        (seven.as_str(), six.as_str())
    );
    assert_eq!(output.service_url, links::service("us-east-1", CLUSTER, USERS));
}

#[tokio::test]
async fn deploy_to_a_container_the_task_definition_lacks_registers_nothing() {
    let describe_service = describe(on_old());
    let describe_definition = describe_revision_6();
    let register = register_revision_7();
    let update_service = update(NEW, rolling(), &Recorder::default());

    let failure = deploy(&[&describe_service, &describe_definition, &register, &update_service])
        .handle(deploy_input("web"))
        .await
        .unwrap_err();

    assert_eq!(failure.kind, ErrorKind::ContainerNotFound);
    assert_eq!(
        failure.message,
        format!(
            "task definition {OLD} has no container \"web\" (it has [\"app\", \"log-router\"]); fix `deploy.container` \
             in the service's manifest"
        )
    );
    assert_eq!((register.num_calls(), update_service.num_calls()), (0, 0));
}

#[tokio::test]
async fn deploy_to_a_missing_cluster_or_service_is_service_not_found() {
    let no_cluster = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|req| req.cluster() == Some("shop") && req.services() == ["users"])
        .then_error(|| {
            DescribeServicesError::ClusterNotFoundException(
                ClusterNotFoundException::builder()
                    .message("Cluster not found.")
                    .meta(meta("ClusterNotFoundException", "Cluster not found."))
                    .build(),
            )
        });
    let no_service = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|req| req.cluster() == Some("shop") && req.services() == ["users"])
        .then_output(|| {
            DescribeServicesOutput::builder()
                .failures(EcsFailure::builder().arn(SERVICE_ARN).reason("MISSING").build())
                .build()
        });
    let mut inactive = on_old();
    inactive.status = Some("INACTIVE".into());
    let inactive = describe(inactive);
    let cases = [
        (&no_cluster, "DescribeServices shop/users: ClusterNotFoundException: Cluster not found."),
        (&no_service, "DescribeServices shop/users: MISSING"),
        (&inactive, "service shop/users is INACTIVE, not ACTIVE"),
    ];
    for (describe_service, message) in cases {
        let describe_definition = describe_revision_6();
        let register = register_revision_7();
        let failure =
            deploy(&[describe_service, &describe_definition, &register]).handle(deploy_input("app")).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::ServiceNotFound, "{failure}");
        assert_eq!(failure.message, message);
        assert_eq!(describe_service.num_calls(), 1);
        assert_eq!((describe_definition.num_calls(), register.num_calls()), (0, 0));
    }
}

#[tokio::test]
async fn a_bad_deploy_input_is_invalid_and_calls_nothing() {
    let mut no_image = deploy_input("app");
    no_image.as_object_mut().unwrap().remove("image");
    let mut no_execution = deploy_input("app");
    no_execution["execution"] = json!("");
    for (payload, message) in [
        (no_image, "deploy-service input: missing field `image`"),
        (deploy_input(""), "deploy-service input, field `container`: must not be empty"),
        (no_execution, "deploy-service input, field `execution`: must not be empty"),
        (json!({"name": "users"}), "deploy-service input: missing field `cluster`"),
        (
            {
                let mut other_commit = deploy_input("app");
                other_commit["commit"] = json!("3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6");
                other_commit
            },
            "image \"123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901\" \
             is neither tagged with the pushed commit 3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6 nor named by its digest \
             (the buildspec must export IMAGE_URI=<repository>:<commit>, and IMAGE_DIGEST=sha256:...)",
        ),
    ] {
        let failure = deploy(&[]).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert_eq!(failure.message, message);
    }
}

/// DescribeTaskDefinition of `arn`: revision 6 renamed, running `image`, with `tags`.
fn describe_definition(arn: &'static str, image: &'static str, tags: Vec<Tag>) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(move |req| req.task_definition() == Some(arn))
        .then_output(move || {
            let mut definition = revision_6();
            definition.task_definition_arn = Some(arn.into());
            definition.container_definitions = Some(vec![app(image), log_router()]);
            DescribeTaskDefinitionOutput::builder().task_definition(definition).set_tags(Some(tags.clone())).build()
        })
}

#[tokio::test]
async fn a_retried_deploy_after_its_update_service_does_not_deploy_twice() {
    // The first call registers revision 7 and updates the service; its answer is lost (a Lambda
    // timeout, say), and the state machine calls again: the service then runs revision 7.
    let describe_service = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|req| req.cluster() == Some("shop") && req.services() == ["users"])
        .sequence()
        .output(|| DescribeServicesOutput::builder().services(on_old()).build())
        .output(|| DescribeServicesOutput::builder().services(rolling()).build())
        .repeatedly()
        .build();
    let describe_6 = describe_revision_6();
    let describe_7 = describe_definition(NEW, IMAGE, tags_of_7());
    let register = register_revision_7();
    let update_service = update(NEW, rolling(), &Recorder::default());
    let handler = deploy(&[&describe_service, &describe_6, &describe_7, &register, &update_service]);

    let first = handler.handle(deploy_input("app")).await.unwrap();
    let retried = handler.handle(deploy_input("app")).await.unwrap();

    assert_eq!(first, deploying("ROLLING"));
    assert_eq!(retried, first, "the retry watches the service deployment the first call created");
    assert_eq!(retried.watch.previous_task_definition, OLD, "from revision 7's deltaship:previous tag");
    assert_eq!((register.num_calls(), update_service.num_calls()), (1, 1), "deployed once");
    assert_eq!((describe_service.num_calls(), describe_6.num_calls(), describe_7.num_calls()), (2, 1, 1));
}

#[tokio::test]
async fn an_older_push_does_not_deploy_over_a_newer_one() {
    // A newer push (pushed after ours) already deployed revision 8.
    const NEWER_IMAGE: &str =
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:9999999999999999999999999999999999999999";
    let newer = service(OTHER, SD_OTHER, vec![settled("ecs-svc/333", "PRIMARY", OTHER)]);
    let describe_service = describe(newer);
    let stamp_8 = stamp("9999999999999999999999999999999999999999", PUSHED_AT + 5, "newer-execution", NEW);
    let describe_8 = describe_definition(OTHER, NEWER_IMAGE, [tags(), stamp_8].concat());
    let register = register_revision_7();
    let update_service = update(NEW, rolling(), &Recorder::default());

    let failure = deploy(&[&describe_service, &describe_8, &register, &update_service])
        .handle(deploy_input("app"))
        .await
        .unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Superseded);
    assert!(failure.message.contains("newer-execution"), "{failure}");
    assert!(failure.message.starts_with(&format!("shop/users runs {OTHER} of commit 999999999999")), "{failure}");
    assert_eq!((register.num_calls(), update_service.num_calls()), (0, 0), "the service is not touched");
}

/// The push ledger of `shop-monorepo@main` with these pushes (base, commit), all of our second.
async fn pushed_in_our_second(pushes: &[(&str, &str)]) -> common::LedgerTable {
    let table = common::LedgerTable::default();
    for (base, commit) in pushes {
        let record = PushRecord {
            repository: "shop-monorepo".into(),
            branch: "main".into(),
            commit: CommitId::parse(commit).unwrap(),
            base: Some(CommitId::parse(base).unwrap()),
            pushed_at: PUSHED_AT,
            origin: Origin::Push,
            status: PushStatus::Started,
            execution: None,
            message: String::new(),
            recorded_at_ms: PUSHED_AT * 1000,
        };
        table.ledger().record(&record).await.unwrap();
    }
    table
}

#[tokio::test]
async fn pushes_of_one_second_deploy_in_push_order_not_in_deploy_order() {
    // Event times have one-second resolution: a push of 9999... in our very second, after ours
    // (its base is our commit), deployed revision 8 first.
    const LATER: &str = "9999999999999999999999999999999999999999";
    const LATER_IMAGE: &str =
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:9999999999999999999999999999999999999999";
    const BEFORE: &str = "1111111111111111111111111111111111111111";
    let later = service(OTHER, SD_OTHER, vec![settled("ecs-svc/333", "PRIMARY", OTHER)]);
    let describe_service = describe(later);
    let describe_8 =
        describe_definition(OTHER, LATER_IMAGE, [tags(), stamp(LATER, PUSHED_AT, "later-execution", NEW)].concat());
    let register = register_revision_7();
    let update_service = update(NEW, rolling(), &Recorder::default());
    let ledger = pushed_in_our_second(&[(BEFORE, COMMIT), (COMMIT, LATER)]).await;

    let failure = deploy_with(&[&describe_service, &describe_8, &register, &update_service], &ledger)
        .handle(deploy_input("app"))
        .await
        .unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Superseded);
    assert!(failure.message.contains("the same second, and before it by the push ledger"), "{failure}");
    assert_eq!((register.num_calls(), update_service.num_calls()), (0, 0), "the service is not touched");

    // The other way round: the running revision's push came first in that second (our base is
    // its commit), so ours deploys over it.
    let describe_service = describe(on_old());
    let describe_6 = describe_definition(
        OLD,
        OLD_IMAGE,
        [tags(), stamp(BEFORE, PUSHED_AT, "earlier-execution", "users:5")].concat(),
    );
    let ledger = pushed_in_our_second(&[(LATER, BEFORE), (BEFORE, COMMIT)]).await;
    let output = deploy_with(&[&describe_service, &describe_6, &register, &update_service], &ledger)
        .handle(deploy_input("app"))
        .await
        .unwrap();
    assert_eq!(output, deploying("ROLLING"));
    assert_eq!((register.num_calls(), update_service.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_cluster_outside_the_scope_is_refused_before_any_call() {
    let scope = Scope { cluster: Some("prod".into()), ..Scope::default() };
    let failure = deploy(&[]).with_scope(scope).handle(deploy_input("app")).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::OutOfScope);
    assert!(failure.message.contains("ClusterName"), "{failure}");
}

// ---- service deployments as ECS answers them (tests/fixtures/aws/ecs/) --------------------------

/// The sample system's cluster and services, as the fixtures name them.
const CLUSTER: &str = "deltaship-sample";
const USERS: &str = "user-service";
const PRODUCTS: &str = "product-service";
/// A service deployment of user-service the fixtures do not name (the redeploy's).
const SD_BACK: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/deltaship-sample/user-service/bBackDeploymentW3Xy5Z";
/// The callback task's token.
const TOKEN: &str = "AQB8AAAAKgAAAAMAAAAAAAAAAe2Q+rollout-token";

/// A DescribeServiceDeployments answer of the fixtures, and the deployment deltaship watches in it.
#[derive(Debug, Clone)]
struct Answer {
    /// The answer, as ECS sends it.
    body: String,
    /// The watched deployment's ARN.
    arn: String,
    /// Its service.
    service: String,
    service_arn: String,
    strategy: String,
}

/// `describe-service-deployments-<name>.json`, watching its deployment at `index`, edited by
/// `edit` (a stage or a status the fixtures do not show).
fn answer_at(name: &str, index: usize, edit: impl FnOnce(&mut Value)) -> Answer {
    let mut json = aws_fixture(&format!("ecs/describe-service-deployments-{name}.json"));
    edit(&mut json["serviceDeployments"][index]);
    let ours = &json["serviceDeployments"][index];
    let text = |field: &str| ours[field].as_str().unwrap().to_owned();
    let service_arn = text("serviceArn");
    Answer {
        arn: text("serviceDeploymentArn"),
        service: service_arn.rsplit('/').next().unwrap().to_owned(),
        strategy: ours["deploymentConfiguration"]["strategy"].as_str().unwrap().to_owned(),
        service_arn,
        body: json.to_string(),
    }
}

fn answer(name: &str) -> Answer {
    answer_at(name, 0, |_| {})
}

/// The watch deploy-service would have answered for `answer`'s deployment, started `elapsed`
/// seconds before the clock with a ten-minute deadline.
fn watch_of(answer: &Answer, elapsed: i64, expect: Expect) -> RolloutWatch {
    let revision = |number: u32| {
        format!("arn:aws:ecs:us-east-1:123456789012:task-definition/deltaship-sample-{}:{number}", answer.service)
    };
    RolloutWatch {
        name: answer.service.clone(),
        execution: EXECUTION.into(),
        cluster: CLUSTER.into(),
        service: answer.service.clone(),
        service_arn: answer.service_arn.clone(),
        service_deployment: answer.arn.clone(),
        deployment_id: "ecs-svc/7464310793147648152".into(),
        task_definition: revision(7),
        previous_task_definition: revision(6),
        strategy: answer.strategy.clone(),
        expect,
        started_at: NOW - elapsed,
        deadline: NOW - elapsed + 600,
    }
}

/// DescribeServiceDeployments of `answer`'s deployment alone, answering the fixture (logged).
fn describe_deployments(log: &CallLog, answer: &Answer) -> Rule {
    let (log, arn, body) = (log.clone(), answer.arn.clone(), answer.body.clone());
    mock!(aws_sdk_ecs::Client::describe_service_deployments)
        .match_requests(move |req| req.service_deployment_arns() == [arn.as_str()])
        .then_compute_response(move |_| {
            log.record(&"DescribeServiceDeployments");
            MockResponse::Http(json_response(&body))
        })
}

/// The service of the UpdateService fixture as `service` of the sample, running `task_definition`,
/// its current service deployment `current`.
fn sample_service(service: &str, task_definition: &str, current: &str) -> Value {
    let text = aws_fixture("ecs/update-service-with-current-service-deployment.json")["service"].to_string();
    let mut json: Value = serde_json::from_str(&text.replace(USERS, service)).unwrap();
    json["taskDefinition"] = json!(task_definition);
    json["currentServiceDeployment"] = json!(current);
    json
}

/// DescribeServices of `service` in the sample cluster, answering it on `task_definition`, its
/// current service deployment `current` (logged).
fn describe_sample(log: &CallLog, service: &'static str, task_definition: &str, current: &str) -> Rule {
    let log = log.clone();
    let body = json!({ "services": [sample_service(service, task_definition, current)], "failures": [] }).to_string();
    mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(move |req| req.cluster() == Some(CLUSTER) && req.services() == [service])
        .then_compute_response(move |_| {
            log.record(&"DescribeServices");
            MockResponse::Http(json_response(&body))
        })
}

/// The task definition the sample's `service` runs (`:7`, as in the UpdateService fixture).
fn sample_revision(service: &str) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/deltaship-sample-{service}:7")
}

fn sample_url(service: &str) -> String {
    links::service("us-east-1", CLUSTER, service)
}

// ---- check-rollout: look mode -------------------------------------------------------------------

fn checker(rules: &[&Rule], waits: deltaship_aws::waits::Waits) -> CheckRollout {
    CheckRollout::from_clients(ecs_in(rules, "us-east-1", 1), waits, ROLLOUT_WAIT, clock)
}

/// A check-rollout whose waits table is unused: a look-mode call that touched it would fail the
/// test.
fn look(rules: &[&Rule]) -> CheckRollout {
    checker(rules, common::waits(&[], &[]))
}

/// What a look wants.
enum Want {
    /// In progress: the stage, the detail, the next fallback timeout.
    Waits(Option<&'static str>, &'static str, u32),
    /// Done, with this detail.
    Completes(String),
    /// This error.
    Fails(ErrorKind, String),
}

#[tokio::test]
async fn every_service_deployment_status_gets_its_verdict() {
    use Want::{Completes, Fails, Waits};
    let short = |name: &str| answer(name).arn.rsplit('/').next().unwrap().to_owned();
    let stage = |stage: &'static str| move |deployment: &mut Value| deployment["lifecycleStage"] = json!(stage);
    let status = |status: &'static str| move |deployment: &mut Value| deployment["status"] = json!(status);
    let (rolling, stopped) = (short("rolling-in-progress"), short("stopped"));
    let newer = answer_at("stopped", 1, |_| {}).arn;
    let breaker = "the deployment circuit breaker tripped (3 failed tasks, threshold 3)";
    let stopped_reason = "Service deployment stopped because a new service deployment started.";
    let deployed = Expect::Deployed;
    let rolled_back = Expect::RolledBack;
    // (fixture, its edit, the service's current deployment when ours stopped, seconds since the
    // start, what is waited for, the verdict)
    let cases: Vec<(Answer, Option<String>, i64, Expect, Want)> = vec![
        (
            answer("rolling-in-progress"),
            None,
            5,
            deployed,
            Waits(None, "IN_PROGRESS: 1 of 2 tasks running, 1 pending", 30),
        ),
        (
            answer("rolling-in-progress"),
            None,
            60,
            deployed,
            Waits(None, "IN_PROGRESS: 1 of 2 tasks running, 1 pending", 60),
        ),
        // Ten seconds before the deadline: the next look is at the deadline.
        (
            answer("rolling-in-progress"),
            None,
            590,
            deployed,
            Waits(None, "IN_PROGRESS: 1 of 2 tasks running, 1 pending", 10),
        ),
        // Every task runs, but BLUE_GREEN, CANARY and LINEAR deployments still shift traffic or
        // bake (and can still be rolled back by an alarm).
        (
            answer("blue-green-bake-time"),
            None,
            400,
            deployed,
            Waits(Some("BAKE_TIME"), "IN_PROGRESS in BAKE_TIME: 2 of 2 tasks running, 0 pending", 200),
        ),
        (
            answer("canary-in-progress"),
            None,
            120,
            deployed,
            Waits(
                Some("PRODUCTION_TRAFFIC_SHIFT"),
                "IN_PROGRESS in PRODUCTION_TRAFFIC_SHIFT: 2 of 2 tasks running, 0 pending",
                120,
            ),
        ),
        (
            answer_at("canary-in-progress", 0, stage("BAKE_TIME")),
            None,
            120,
            deployed,
            Waits(Some("BAKE_TIME"), "IN_PROGRESS in BAKE_TIME: 2 of 2 tasks running, 0 pending", 120),
        ),
        (
            answer("linear-in-progress"),
            None,
            120,
            deployed,
            Waits(
                Some("PRODUCTION_TRAFFIC_SHIFT"),
                "IN_PROGRESS in PRODUCTION_TRAFFIC_SHIFT: 2 of 2 tasks running, 0 pending",
                120,
            ),
        ),
        (
            answer_at("linear-in-progress", 0, stage("BAKE_TIME")),
            None,
            120,
            deployed,
            Waits(Some("BAKE_TIME"), "IN_PROGRESS in BAKE_TIME: 2 of 2 tasks running, 0 pending", 120),
        ),
        // A stage the SDK's enum does not know (the docs list it, the model lacks it).
        (
            answer_at("linear-in-progress", 0, stage("PRE_PRODUCTION_TRAFFIC_SHIFT")),
            None,
            120,
            deployed,
            Waits(
                Some("PRE_PRODUCTION_TRAFFIC_SHIFT"),
                "IN_PROGRESS in PRE_PRODUCTION_TRAFFIC_SHIFT: 2 of 2 tasks running, 0 pending",
                120,
            ),
        ),
        (
            answer("blue-green-paused-hook"),
            None,
            120,
            deployed,
            Waits(
                Some("POST_PRODUCTION_TRAFFIC_SHIFT"),
                "IN_PROGRESS in POST_PRODUCTION_TRAFFIC_SHIFT: 2 of 2 tasks running, 0 pending",
                120,
            ),
        ),
        // ECS is rolling back: wait for the end, whatever the deadline.
        (
            answer("lifecycle-hook-rollback"),
            None,
            6000,
            deployed,
            Waits(None, "ROLLBACK_IN_PROGRESS: 2 of 2 tasks running, 0 pending", 1),
        ),
        (
            answer("rolling-successful"),
            None,
            120,
            deployed,
            Completes(format!(
                "service deployment {rolling} of deltaship-sample/user-service succeeded (SUCCESSFUL: 2 of 2 tasks running, 0 pending)"
            )),
        ),
        // Succeeded after the deadline: still deployed.
        (
            answer("rolling-successful"),
            None,
            6000,
            deployed,
            Completes(format!(
                "service deployment {rolling} of deltaship-sample/user-service succeeded (SUCCESSFUL: 2 of 2 tasks running, 0 pending)"
            )),
        ),
        (
            answer("rolling-in-progress"),
            None,
            600,
            deployed,
            Fails(
                ErrorKind::DeadlineExceeded,
                format!(
                    "service deployment {rolling} of deltaship-sample/user-service did not complete within 10 minutes: IN_PROGRESS: 1 of 2 tasks running, 1 pending"
                ),
            ),
        ),
        (
            answer("blue-green-bake-time"),
            None,
            700,
            deployed,
            Fails(
                ErrorKind::DeadlineExceeded,
                format!(
                    "service deployment {} of deltaship-sample/product-service did not complete within 10 minutes: IN_PROGRESS in BAKE_TIME: 2 of 2 tasks running, 0 pending",
                    short("blue-green-bake-time")
                ),
            ),
        ),
        (
            answer("rolling-circuit-breaker-rollback"),
            None,
            120,
            deployed,
            Fails(
                ErrorKind::RolloutFailed,
                format!(
                    "service deployment {} of deltaship-sample/user-service was rolled back by ECS: {breaker}",
                    short("rolling-circuit-breaker-rollback")
                ),
            ),
        ),
        (
            answer("alarms-rollback"),
            None,
            700,
            deployed,
            Fails(
                ErrorKind::RolloutFailed,
                format!(
                    "service deployment {} of deltaship-sample/product-service was rolled back by ECS: CloudWatch alarms went off: deltaship-sample-product-service-5xx",
                    short("alarms-rollback")
                ),
            ),
        ),
        (
            answer_at("lifecycle-hook-rollback", 0, status("ROLLBACK_SUCCESSFUL")),
            None,
            120,
            deployed,
            Fails(
                ErrorKind::RolloutFailed,
                format!(
                    "service deployment {} of deltaship-sample/product-service was rolled back by ECS: the lifecycle hook arn:aws:lambda:us-east-1:123456789012:function:deltaship-sample-smoke-test failed",
                    short("lifecycle-hook-rollback")
                ),
            ),
        ),
        (
            answer("rollback-failed"),
            None,
            120,
            deployed,
            Fails(
                ErrorKind::RollbackFailed,
                format!(
                    "the rollback of service deployment {} of deltaship-sample/user-service failed: Service deployment rollback failed: the tasks of the rollback revision failed to start.; the service needs a person",
                    short("rollback-failed")
                ),
            ),
        ),
        // Stopped: replaced by a newer deployment, or failed with no rollback configured.
        (
            answer("stopped"),
            Some(newer.clone()),
            120,
            deployed,
            Fails(
                ErrorKind::DeploymentReplaced,
                format!(
                    "service deployment {stopped} of deltaship-sample/user-service was stopped: service deployment l-hiQCnQ89bh6vBpZZE9d replaced it: {stopped_reason}"
                ),
            ),
        ),
        (
            answer_at("stopped", 0, status("STOP_REQUESTED")),
            Some(newer.clone()),
            120,
            deployed,
            Fails(
                ErrorKind::DeploymentReplaced,
                format!(
                    "service deployment {stopped} of deltaship-sample/user-service was stopped: service deployment l-hiQCnQ89bh6vBpZZE9d replaced it: {stopped_reason}"
                ),
            ),
        ),
        (
            answer("stopped"),
            Some(answer("stopped").arn),
            120,
            deployed,
            Fails(
                ErrorKind::RolloutFailed,
                format!(
                    "service deployment {stopped} of deltaship-sample/user-service was stopped before it completed: {stopped_reason}"
                ),
            ),
        ),
        // Waiting for deltaship's own rollback.
        (
            answer("rolling-in-progress"),
            None,
            60,
            rolled_back,
            Waits(None, "IN_PROGRESS: 1 of 2 tasks running, 1 pending", 60),
        ),
        (
            answer("lifecycle-hook-rollback"),
            None,
            60,
            rolled_back,
            Waits(None, "ROLLBACK_IN_PROGRESS: 2 of 2 tasks running, 0 pending", 60),
        ),
        (
            answer("rolling-circuit-breaker-rollback"),
            None,
            60,
            rolled_back,
            Completes(format!(
                "service deployment {} of deltaship-sample/user-service was rolled back: {breaker}",
                short("rolling-circuit-breaker-rollback")
            )),
        ),
        (
            answer("rollback-failed"),
            None,
            60,
            rolled_back,
            Fails(
                ErrorKind::RollbackFailed,
                format!(
                    "the rollback of service deployment {} of deltaship-sample/user-service failed: Service deployment rollback failed: the tasks of the rollback revision failed to start.; the service needs a person",
                    short("rollback-failed")
                ),
            ),
        ),
        (
            answer("rolling-successful"),
            None,
            60,
            rolled_back,
            Fails(
                ErrorKind::RollbackFailed,
                format!(
                    "service deployment {rolling} of deltaship-sample/user-service ended SUCCESSFUL instead of rolling back"
                ),
            ),
        ),
        // Our rollback stopped by a newer deployment: superseded, not a failed rollback.
        (
            answer("stopped"),
            Some(newer),
            60,
            rolled_back,
            Fails(
                ErrorKind::DeploymentReplaced,
                format!(
                    "the rollback of service deployment {stopped} of deltaship-sample/user-service was stopped: service deployment l-hiQCnQ89bh6vBpZZE9d replaced it"
                ),
            ),
        ),
        // Stopped, and still the service's current deployment: the rollback did not happen.
        (
            answer("stopped"),
            Some(answer("stopped").arn),
            60,
            rolled_back,
            Fails(
                ErrorKind::RollbackFailed,
                format!(
                    "service deployment {stopped} of deltaship-sample/user-service ended STOPPED instead of rolling back: {stopped_reason}"
                ),
            ),
        ),
        (
            answer("lifecycle-hook-rollback"),
            None,
            600,
            rolled_back,
            Fails(
                ErrorKind::RollbackFailed,
                format!(
                    "the rollback of service deployment {} of deltaship-sample/product-service did not end within 10 minutes: ROLLBACK_IN_PROGRESS: 2 of 2 tasks running, 0 pending",
                    short("lifecycle-hook-rollback")
                ),
            ),
        ),
    ];
    for (answer, current, elapsed, expect, want) in cases {
        let case = format!("{} {} at +{elapsed} s, {expect:?}", answer.service, answer.arn);
        let log = CallLog::default();
        let describe_deployment = describe_deployments(&log, &answer);
        let service: &'static str = if answer.service == USERS { USERS } else { PRODUCTS };
        // DescribeServices only when ours stopped; another call would find no rule and fail.
        let describe_service =
            current.as_deref().map(|current| describe_sample(&log, service, &sample_revision(service), current));
        let mut rules = vec![&describe_deployment];
        rules.extend(describe_service.as_ref());
        let watch = watch_of(&answer, elapsed, expect);

        let looked = look(&rules).handle(json!({ "watch": watch })).await;

        let expected_calls: &[&str] = if current.is_some() {
            &["DescribeServiceDeployments", "DescribeServices"]
        } else {
            &["DescribeServiceDeployments"]
        };
        assert_eq!(log.all(), expected_calls, "{case}");
        let output = |status, stage: Option<&str>, wait_seconds, detail: &str| CheckRolloutOutput {
            status,
            watch: watch.clone(),
            stage: stage.map(Into::into),
            wait_seconds,
            detail: detail.into(),
            service_url: sample_url(service),
        };
        match (want, looked) {
            (Waits(stage, detail, wait), Ok(looked)) => {
                assert_eq!(looked, output(RolloutStatus::InProgress, stage, wait, detail), "{case}");
            }
            (Completes(detail), Ok(looked)) => {
                let stage = looked.stage.clone();
                assert_eq!(looked, output(RolloutStatus::Completed, stage.as_deref(), 0, &detail), "{case}");
            }
            (Fails(kind, message), Err(failure)) => {
                assert_eq!((failure.kind, failure.message.as_str()), (kind, message.as_str()), "{case}");
            }
            (_, other) => panic!("{case}: got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unknown_service_deployment_is_service_not_found() {
    let ours = answer("rolling-in-progress");
    let missing = Answer {
        body: json!({ "serviceDeployments": [], "failures": [{ "arn": ours.arn, "reason": "MISSING" }] }).to_string(),
        ..ours.clone()
    };
    let log = CallLog::default();
    let rule = describe_deployments(&log, &missing);
    let failure = look(&[&rule]).handle(json!({ "watch": watch_of(&ours, 60, Expect::Deployed) })).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::ServiceNotFound);
    assert_eq!(
        failure.message,
        format!("DescribeServiceDeployments deltaship-sample/user-service: service deployment {}: MISSING", ours.arn)
    );

    let not_found = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_http_response(|| {
        common::json_error(400, "ServiceDeploymentNotFoundException", "The service deployment does not exist.")
    });
    let failure =
        look(&[&not_found]).handle(json!({ "watch": watch_of(&ours, 60, Expect::Deployed) })).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::ServiceNotFound);
    assert_eq!(
        failure.message,
        "DescribeServiceDeployments deltaship-sample/user-service: ServiceDeploymentNotFoundException: The service \
         deployment does not exist."
    );
}

#[tokio::test]
async fn a_throttled_look_is_retried_by_the_sdk_then_throttled() {
    let ours = answer("rolling-in-progress");
    let watch = json!({ "watch": watch_of(&ours, 60, Expect::Deployed) });
    let throttled_twice = || {
        let body = ours.body.clone();
        mock!(aws_sdk_ecs::Client::describe_service_deployments)
            .sequence()
            .error(|| DescribeServiceDeploymentsError::generic(throttling()))
            .times(2)
            .http_response(move || json_response(&body))
            .build()
    };

    let rule = throttled_twice();
    let handler =
        CheckRollout::from_clients(ecs_in(&[&rule], "us-east-1", 3), common::waits(&[], &[]), ROLLOUT_WAIT, clock);
    let output = handler.handle(watch.clone()).await.unwrap();
    assert_eq!((output.status, output.wait_seconds), (RolloutStatus::InProgress, 60));
    assert_eq!(rule.num_calls(), 3);

    // Without retries left, it is Throttled, which the state machine retries.
    let rule = throttled_twice();
    let failure = look(&[&rule]).handle(watch).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert_eq!(
        failure.message,
        "DescribeServiceDeployments deltaship-sample/user-service: ThrottlingException: Rate exceeded"
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_bad_watch_is_invalid_and_calls_nothing() {
    let watch = serde_json::to_value(watch_of(&answer("rolling-in-progress"), 60, Expect::Deployed)).unwrap();
    let with = |field: &str, value: Value| {
        let mut watch = watch.clone();
        watch[field] = value;
        json!({ "watch": watch })
    };
    for (payload, message) in [
        (json!({}), "check-rollout input: missing field `watch`"),
        (
            with("service_deployment", json!("")),
            "check-rollout input, field `watch.service_deployment`: must not be empty",
        ),
        (with("cluster", json!(" ")), "check-rollout input, field `watch.cluster`: must not be empty"),
        (with("deadline", json!("soon")), "check-rollout input, field `watch.deadline`: invalid type"),
        (with("expect", json!("luck")), "check-rollout input, field `watch.expect`: unknown variant `luck`"),
        (json!("ecs-svc/1"), "check-rollout input: expected a JSON object, got a string"),
    ] {
        let failure = look(&[]).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert!(failure.message.starts_with(message), "{failure}");
    }
    let scope = Scope { cluster: Some("prod".into()), ..Scope::default() };
    let failure = look(&[]).with_scope(scope).handle(json!({ "watch": watch })).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::OutOfScope, "{failure}");
}

// ---- check-rollout: wait mode -------------------------------------------------------------------

fn waiting(rules: &[&Rule], waits: &MockWaits) -> CheckRollout {
    checker(rules, waits.waits())
}

fn wait_input(watch: &RolloutWatch) -> Value {
    json!({ "watch": watch, "task_token": TOKEN })
}

const USERS_RESOURCE: &str = "service#arn:aws:ecs:us-east-1:123456789012:service/deltaship-sample/user-service";

#[tokio::test]
async fn a_rollout_wait_stores_its_token_under_the_service_before_it_looks() {
    for (expect, kind) in [(Expect::Deployed, "rollout"), (Expect::RolledBack, "rollback")] {
        let waits = MockWaits::new(TokenAnswer::Ok, false);
        let ours = answer("rolling-in-progress");
        let rule = describe_deployments(&waits.log, &ours);
        let watch = watch_of(&ours, 60, expect);

        let output = waiting(&[&rule], &waits).handle(wait_input(&watch)).await.unwrap();

        assert_eq!((output.status, output.wait_seconds), (RolloutStatus::InProgress, 60), "{kind}");
        assert_eq!(waits.log.all(), ["PutItem", "DescribeServiceDeployments"], "{kind}: stored first");
        let item = waits.put_item();
        assert_eq!(item["resource"], USERS_RESOURCE, "what the service's ECS events name in resources");
        assert_eq!(item["waiter"], format!("{EXECUTION}#user-service#{kind}"));
        assert_eq!((item["token"].as_str(), item["kind"].as_str()), (TOKEN, kind));
        assert_eq!(item["expires_at"], format!("N:{}", watch.deadline + 300 + 3600));
        let stored: Value = serde_json::from_str(&item["watch"]).unwrap();
        assert_eq!(stored, json!({ "watch": watch, "task_token": null }), "the look-mode input, without the token");
        assert_eq!((waits.success.num_calls(), waits.failure.num_calls(), waits.delete.num_calls()), (0, 0, 0));
    }
}

#[tokio::test]
async fn a_rollout_wait_completes_at_once_when_the_look_ends_it() {
    // Deployed, and a rollback waited for that ended.
    for (name, expect, kind) in [
        ("rolling-successful", Expect::Deployed, "rollout"),
        ("rolling-circuit-breaker-rollback", Expect::RolledBack, "rollback"),
    ] {
        let waits = MockWaits::new(TokenAnswer::Ok, false);
        let ours = answer(name);
        let rule = describe_deployments(&waits.log, &ours);

        let output = waiting(&[&rule], &waits).handle(wait_input(&watch_of(&ours, 60, expect))).await.unwrap();

        assert_eq!(output.status, RolloutStatus::Completed, "{name}");
        assert_eq!(waits.log.all(), ["PutItem", "DescribeServiceDeployments", "SendTaskSuccess", "DeleteItem"]);
        let sent = waits.successes.only();
        assert_eq!(sent.task_token(), Some(TOKEN));
        let sent: Value = serde_json::from_str(sent.output().unwrap()).unwrap();
        assert_eq!(sent, serde_json::to_value(&output).unwrap());
        waits.assert_deleted(USERS_RESOURCE, &format!("{EXECUTION}#user-service#{kind}"), TOKEN);
    }
}

#[tokio::test]
async fn a_failed_rollout_fails_its_wait_and_the_invocation() {
    let newer = answer_at("stopped", 1, |_| {}).arn;
    let cases = [
        ("rolling-circuit-breaker-rollback", 60, false, ErrorKind::RolloutFailed),
        ("rollback-failed", 60, false, ErrorKind::RollbackFailed),
        ("rolling-in-progress", 600, false, ErrorKind::DeadlineExceeded),
        ("stopped", 60, true, ErrorKind::DeploymentReplaced),
    ];
    for (name, elapsed, stopped, kind) in cases {
        let waits = MockWaits::new(TokenAnswer::Ok, false);
        let ours = answer(name);
        let describe_deployment = describe_deployments(&waits.log, &ours);
        let describe_service = describe_sample(&waits.log, USERS, &sample_revision(USERS), &newer);
        let watch = watch_of(&ours, elapsed, Expect::Deployed);

        let failure =
            waiting(&[&describe_deployment, &describe_service], &waits).handle(wait_input(&watch)).await.unwrap_err();

        assert_eq!(failure.kind, kind, "{name}: {failure}");
        let mut calls = vec!["PutItem", "DescribeServiceDeployments"];
        if stopped {
            calls.push("DescribeServices");
        }
        calls.extend(["SendTaskFailure", "DeleteItem"]);
        assert_eq!(waits.log.all(), calls, "{name}");
        let sent = waits.failures.only();
        assert_eq!((sent.task_token(), sent.error()), (Some(TOKEN), Some(kind.name())), "{name}");
        let cause: Value = serde_json::from_str(sent.cause().unwrap()).unwrap();
        assert_eq!(cause, json!({ "errorType": kind.name(), "errorMessage": failure.message }));
        waits.assert_deleted(USERS_RESOURCE, &format!("{EXECUTION}#user-service#rollout"), TOKEN);
    }
}

#[tokio::test]
async fn a_transient_failure_of_the_rollout_look_completes_nothing() {
    let waits = MockWaits::new(TokenAnswer::Ok, false);
    let log = waits.log.clone();
    let rule = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_compute_response(move |_| {
        log.record(&"DescribeServiceDeployments");
        MockResponse::Error(DescribeServiceDeploymentsError::generic(throttling()))
    });
    let watch = watch_of(&answer("rolling-in-progress"), 60, Expect::Deployed);

    let failure = waiting(&[&rule], &waits).handle(wait_input(&watch)).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert_eq!(waits.log.all(), ["PutItem", "DescribeServiceDeployments"]);
}

#[tokio::test]
async fn a_rollout_wait_without_what_names_it_is_invalid_input_before_any_call() {
    let watch = serde_json::to_value(watch_of(&answer("rolling-in-progress"), 60, Expect::Deployed)).unwrap();
    for field in ["service_arn", "execution", "name"] {
        let mut unnamed = watch.clone();
        unnamed[field] = json!("");
        let waits = MockWaits::new(TokenAnswer::Ok, false);
        // No ECS rules: a look would fail the test.
        let failure = waiting(&[], &waits).handle(json!({ "watch": unnamed, "task_token": TOKEN })).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert_eq!(failure.message, format!("check-rollout input, field `watch.{field}`: must not be empty"));
        assert!(waits.log.all().is_empty(), "{field}: {:?}", waits.log.all());
    }
}

// ---- rollback-service ---------------------------------------------------------------------------

/// Why the state machine rolls back: the failed check's cause.
const REASON: &str = r#"{"errorType":"DeadlineExceeded","errorMessage":"did not complete within 10 minutes"}"#;

fn rollbacker(rules: &[&Rule]) -> RollbackService {
    RollbackService::from_client(ecs_in(rules, "us-east-1", 1), ROLLOUT_WAIT, clock)
}

fn rollback_input(watch: &RolloutWatch) -> Value {
    json!({ "watch": watch, "reason": REASON })
}

/// StopServiceDeployment of `arn` (logged, recorded), answering `answer`.
fn stop(
    log: &CallLog,
    seen: &Recorder<StopServiceDeploymentInput>,
    answer: impl Fn() -> aws_sdk_ecs::config::http::HttpResponse + Send + Sync + 'static,
) -> Rule {
    let (log, seen) = (log.clone(), seen.clone());
    mock!(aws_sdk_ecs::Client::stop_service_deployment).then_compute_response(move |req| {
        log.record(&"StopServiceDeployment");
        seen.record(req);
        MockResponse::Http(answer())
    })
}

/// The rollback to wait for: `watch` from now on, for as long as the rollout had, expecting
/// `expect`.
fn awaiting(watch: RolloutWatch, expect: Expect, detail: &str) -> CheckRolloutOutput {
    CheckRolloutOutput {
        status: RolloutStatus::InProgress,
        watch: RolloutWatch { expect, started_at: NOW, deadline: NOW + 600, ..watch },
        stage: None,
        wait_seconds: 30,
        detail: detail.into(),
        service_url: sample_url(USERS),
    }
}

#[tokio::test]
async fn our_running_deployment_is_stopped_with_a_rollback() {
    // The in-progress deployment of the stop fixture, still the service's current one.
    let ours = answer_at("stopped", 1, |_| {});
    let stop_fixture = aws_fixture("ecs/stop-service-deployment.json");
    assert_eq!(stop_fixture["request"]["serviceDeploymentArn"], json!(ours.arn));
    let log = CallLog::default();
    let seen = Recorder::default();
    let describe_service = describe_sample(&log, USERS, &sample_revision(USERS), &ours.arn);
    let describe_deployment = describe_deployments(&log, &ours);
    let response = stop_fixture["response"].to_string();
    let stop_rule = stop(&log, &seen, move || json_response(&response));
    let watch = watch_of(&ours, 700, Expect::Deployed);

    let output = rollbacker(&[&describe_service, &describe_deployment, &stop_rule])
        .handle(rollback_input(&watch))
        .await
        .unwrap();

    let message = format!(
        "deltaship stopped service deployment {} of deltaship-sample/user-service to roll it back after: {REASON}",
        ours.arn
    );
    assert_eq!(
        output,
        RollbackOutput {
            action: RollbackAction::RollbackRequested,
            rolled_back_by: Some(RolledBackBy::Deltaship),
            task_definition: watch.previous_task_definition.clone(),
            rollout: Some(awaiting(watch.clone(), Expect::RolledBack, &message)),
            message,
            service_url: sample_url(USERS),
        }
    );
    let json = serde_json::to_value(&output).unwrap();
    assert_eq!(
        (json["action"].as_str(), json["rolled_back_by"].as_str()),
        (Some("ROLLBACK_REQUESTED"), Some("deltaship"))
    );
    assert_eq!(json["rollout"]["watch"]["expect"], "rolled_back");
    assert_eq!(log.all(), ["DescribeServices", "DescribeServiceDeployments", "StopServiceDeployment"]);
    let request = seen.only();
    assert_eq!(request.service_deployment_arn(), stop_fixture["request"]["serviceDeploymentArn"].as_str());
    assert_eq!(request.stop_type(), Some(&StopServiceDeploymentStopType::Rollback));
    assert_eq!(
        request.stop_type().map(StopServiceDeploymentStopType::as_str),
        stop_fixture["request"]["stopType"].as_str()
    );
}

#[tokio::test]
async fn a_refused_stop_is_a_stable_error() {
    let cases = [
        (400, "ServiceDeploymentNotFoundException", ErrorKind::ServiceNotFound),
        (400, "ConflictException", ErrorKind::AwsError),
        (400, "InvalidParameterException", ErrorKind::AwsError),
        (400, "AccessDeniedException", ErrorKind::AccessDenied),
        (400, "ThrottlingException", ErrorKind::Throttled),
        (500, "ServerException", ErrorKind::AwsUnavailable),
    ];
    for (status, code, kind) in cases {
        let ours = answer("rolling-in-progress");
        let log = CallLog::default();
        let describe_service = describe_sample(&log, USERS, &sample_revision(USERS), &ours.arn);
        let describe_deployment = describe_deployments(&log, &ours);
        let stop_rule = stop(&log, &Recorder::default(), move || common::json_error(status, code, "no"));

        let failure = rollbacker(&[&describe_service, &describe_deployment, &stop_rule])
            .handle(rollback_input(&watch_of(&ours, 700, Expect::Deployed)))
            .await
            .unwrap_err();

        assert_eq!(failure.kind, kind, "{code}: {failure}");
        assert_eq!(failure.message, format!("StopServiceDeployment deltaship-sample/user-service: {code}: no"));
        assert_eq!(stop_rule.num_calls(), 1);
    }
}

#[tokio::test]
async fn a_deployment_ecs_rolls_back_is_awaited_or_left_to_ecs() {
    // ECS is rolling back (a lifecycle hook failed): wait for its end, stop nothing.
    let ours = answer("lifecycle-hook-rollback");
    let log = CallLog::default();
    let describe_service = describe_sample(&log, PRODUCTS, &sample_revision(PRODUCTS), &ours.arn);
    let describe_deployment = describe_deployments(&log, &ours);
    let watch = watch_of(&ours, 700, Expect::Deployed);

    let output = rollbacker(&[&describe_service, &describe_deployment]).handle(rollback_input(&watch)).await.unwrap();

    let message = "ECS is rolling deltaship-sample/product-service back: the lifecycle hook \
                   arn:aws:lambda:us-east-1:123456789012:function:deltaship-sample-smoke-test failed";
    let mut rollout = awaiting(watch.clone(), Expect::RolledBack, message);
    rollout.service_url = sample_url(PRODUCTS);
    assert_eq!(
        output,
        RollbackOutput {
            action: RollbackAction::EcsRollingBack,
            rolled_back_by: Some(RolledBackBy::Ecs),
            task_definition: watch.previous_task_definition.clone(),
            rollout: Some(rollout),
            message: message.into(),
            service_url: sample_url(PRODUCTS),
        }
    );
    assert_eq!(log.all(), ["DescribeServices", "DescribeServiceDeployments"]);

    // ECS rolled back already (circuit breaker, alarm): nothing to do, nothing to wait for.
    for (name, service, why) in [
        (
            "rolling-circuit-breaker-rollback",
            USERS,
            "the deployment circuit breaker tripped (3 failed tasks, threshold 3)",
        ),
        ("alarms-rollback", PRODUCTS, "CloudWatch alarms went off: deltaship-sample-product-service-5xx"),
    ] {
        let ours = answer(name);
        let log = CallLog::default();
        let describe_service = describe_sample(&log, service, &sample_revision(service), SD_BACK);
        let describe_deployment = describe_deployments(&log, &ours);
        let watch = watch_of(&ours, 200, Expect::Deployed);

        let output =
            rollbacker(&[&describe_service, &describe_deployment]).handle(rollback_input(&watch)).await.unwrap();

        assert_eq!(
            output,
            RollbackOutput {
                action: RollbackAction::RolledBackByEcs,
                rolled_back_by: Some(RolledBackBy::Ecs),
                task_definition: watch.previous_task_definition.clone(),
                rollout: None,
                message: format!("ECS rolled deltaship-sample/{service} back: {why}"),
                service_url: sample_url(service),
            },
            "{name}"
        );
        assert_eq!(log.all(), ["DescribeServices", "DescribeServiceDeployments"]);
    }
}

#[tokio::test]
async fn a_failed_ecs_rollback_is_rollback_failed() {
    let ours = answer("rollback-failed");
    let log = CallLog::default();
    let describe_service = describe_sample(&log, USERS, &sample_revision(USERS), &ours.arn);
    let describe_deployment = describe_deployments(&log, &ours);

    let failure = rollbacker(&[&describe_service, &describe_deployment])
        .handle(rollback_input(&watch_of(&ours, 200, Expect::Deployed)))
        .await
        .unwrap_err();

    assert_eq!(failure.kind, ErrorKind::RollbackFailed);
    assert_eq!(
        failure.message,
        format!(
            "ECS's rollback of service deployment {} of deltaship-sample/user-service failed: Service deployment \
             rollback failed: the tasks of the rollback revision failed to start.; the service needs a person",
            ours.arn
        )
    );
    assert_eq!(log.all(), ["DescribeServices", "DescribeServiceDeployments"]);
}

#[tokio::test]
async fn a_service_deployed_since_is_left_alone() {
    let newer = answer_at("stopped", 1, |_| {}).arn;
    // Ours stopped by the newer one; ours still running while a newer one is current.
    for ours in [answer("stopped"), answer("rolling-in-progress")] {
        let log = CallLog::default();
        let describe_service = describe_sample(&log, USERS, &sample_revision(USERS), &newer);
        let describe_deployment = describe_deployments(&log, &ours);

        let output = rollbacker(&[&describe_service, &describe_deployment])
            .handle(rollback_input(&watch_of(&ours, 700, Expect::Deployed)))
            .await
            .unwrap();

        assert_eq!(
            output,
            RollbackOutput {
                action: RollbackAction::LeftAlone,
                rolled_back_by: None,
                task_definition: sample_revision(USERS),
                rollout: None,
                message: format!(
                    "deltaship-sample/user-service is being deployed by service deployment {newer} since ours; not \
                     rolled back so as not to undo it after: {REASON}"
                ),
                service_url: sample_url(USERS),
            }
        );
        // No StopServiceDeployment, no UpdateService: no rule for them, and none was called.
        assert_eq!(log.all(), ["DescribeServices", "DescribeServiceDeployments"]);
    }
}

/// UpdateService of the sample's user-service back to `previous` (logged, recorded), answering
/// the UpdateService fixture on it, its current service deployment `current` (none: `None`).
fn update_back(log: &CallLog, seen: &Recorder<UpdateServiceInput>, previous: &str, current: Option<&str>) -> Rule {
    let (log, seen, previous_arn) = (log.clone(), seen.clone(), previous.to_owned());
    let mut service = sample_service(USERS, previous, current.unwrap_or_default());
    if current.is_none() {
        service.as_object_mut().unwrap().remove("currentServiceDeployment");
    }
    let body = json!({ "service": service }).to_string();
    mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(move |req| {
            req.cluster() == Some(CLUSTER)
                && req.service() == Some(USERS)
                && req.task_definition() == Some(previous_arn.as_str())
        })
        .then_compute_response(move |req| {
            log.record(&"UpdateService");
            seen.record(req);
            MockResponse::Http(json_response(&body))
        })
}

#[tokio::test]
async fn a_deployment_that_ended_but_is_current_is_redeployed_to_the_previous_revision() {
    // Succeeded after its deadline; stopped with no rollback configured.
    for (name, status) in [("rolling-successful", "SUCCESSFUL"), ("stopped", "STOPPED")] {
        let ours = answer(name);
        let log = CallLog::default();
        let seen = Recorder::default();
        let watch = watch_of(&ours, 700, Expect::Deployed);
        let describe_service = describe_sample(&log, USERS, &sample_revision(USERS), &ours.arn);
        let describe_deployment = describe_deployments(&log, &ours);
        let update_service = update_back(&log, &seen, &watch.previous_task_definition, Some(SD_BACK));

        let output = rollbacker(&[&describe_service, &describe_deployment, &update_service])
            .handle(rollback_input(&watch))
            .await
            .unwrap();

        let message = format!(
            "deltaship deployed deltaship-sample/user-service back to {} (service deployment {} had ended {status}) \
             after: {REASON}",
            watch.previous_task_definition, ours.arn
        );
        let back = RolloutWatch {
            service_deployment: SD_BACK.into(),
            deployment_id: "ecs-svc/7464310793147648152".into(),
            task_definition: watch.previous_task_definition.clone(),
            ..watch.clone()
        };
        assert_eq!(
            output,
            RollbackOutput {
                action: RollbackAction::RollbackRequested,
                rolled_back_by: Some(RolledBackBy::Deltaship),
                task_definition: watch.previous_task_definition.clone(),
                rollout: Some(awaiting(back, Expect::Deployed, &message)),
                message,
                service_url: sample_url(USERS),
            },
            "{name}"
        );
        assert_eq!(log.all(), ["DescribeServices", "DescribeServiceDeployments", "UpdateService"]);
        let request = seen.only();
        assert_eq!(request.task_definition(), Some(watch.previous_task_definition.as_str()));
        assert_eq!(
            (request.force_new_deployment(), request.desired_count()),
            (None, None),
            "only the revision changes"
        );
    }
}

#[tokio::test]
async fn a_redeploy_ecs_does_not_name_or_refuses_is_a_rollback_failure() {
    let ours = answer("rolling-successful");
    let watch = watch_of(&ours, 700, Expect::Deployed);

    let log = CallLog::default();
    let describe_service = describe_sample(&log, USERS, &sample_revision(USERS), &ours.arn);
    let describe_deployment = describe_deployments(&log, &ours);
    let unnamed = update_back(&log, &Recorder::default(), &watch.previous_task_definition, None);
    let failure = rollbacker(&[&describe_service, &describe_deployment, &unnamed])
        .handle(rollback_input(&watch))
        .await
        .unwrap_err();
    assert_eq!(failure.kind, ErrorKind::RollbackFailed);
    assert_eq!(
        failure.message,
        format!(
            "UpdateService deltaship-sample/user-service back to {}: ECS names no service deployment",
            watch.previous_task_definition
        )
    );

    let refused = mock!(aws_sdk_ecs::Client::update_service)
        .then_http_response(|| common::json_error(400, "ClientException", "TaskDefinition is inactive"));
    let failure = rollbacker(&[&describe_service, &describe_deployment, &refused])
        .handle(rollback_input(&watch))
        .await
        .unwrap_err();
    assert_eq!(failure.kind, ErrorKind::TaskDefinitionNotFound);
    assert_eq!(
        failure.message,
        "UpdateService deltaship-sample/user-service: ClientException: TaskDefinition is inactive"
    );
}

#[tokio::test]
async fn a_bad_rollback_input_is_invalid_and_calls_nothing() {
    let watch = serde_json::to_value(watch_of(&answer("rolling-in-progress"), 700, Expect::Deployed)).unwrap();
    let mut missing = watch.clone();
    missing.as_object_mut().unwrap().remove("previous_task_definition");
    let mut empty = watch.clone();
    empty["previous_task_definition"] = json!(" ");
    for (payload, message) in [
        (
            json!({ "watch": missing }),
            "rollback-service input, field `watch`: missing field `previous_task_definition`",
        ),
        (
            json!({ "watch": empty }),
            "rollback-service input, field `watch.previous_task_definition`: must not be empty",
        ),
        (json!({ "reason": REASON }), "rollback-service input: missing field `watch`"),
    ] {
        // No rules: any call would fail the test.
        let failure = rollbacker(&[]).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert_eq!(failure.message, message);
    }
    let scope = Scope { cluster: Some("prod".into()), ..Scope::default() };
    let failure = rollbacker(&[]).with_scope(scope).handle(json!({ "watch": watch })).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::OutOfScope, "{failure}");
}

/// ECS refuses a revision with `aws:` tags or more than 50: the current revision's are copied
/// within what it accepts, the stamp always.
#[tokio::test]
async fn the_copied_tags_stay_within_what_ecs_accepts() {
    let describe_service = describe(on_old());
    let mut current: Vec<Tag> = vec![tag("aws:cloudformation:stack-name", "shop"), tag("AWS:Reserved", "x")];
    current.extend((0..60).map(|i| tag(&format!("team-{i:02}"), "shop")));
    current.extend(stamp("3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6", PUSHED_AT - 86_400, "older-execution", "users:5"));
    let many = current.clone();
    let describe_definition = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|req| req.task_definition() == Some(OLD))
        .then_output(move || {
            DescribeTaskDefinitionOutput::builder().task_definition(revision_6()).set_tags(Some(many.clone())).build()
        });
    let register = mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(|req| {
            let tags = req.tags();
            assert_eq!(tags.len(), 50, "{tags:?}");
            assert!(tags.iter().all(|tag| !tag.key().unwrap_or_default().to_ascii_lowercase().starts_with("aws:")));
            assert_eq!(tags[..4], stamp(COMMIT, PUSHED_AT, EXECUTION, OLD)[..], "the stamp first");
            assert_eq!(tags[4].key(), Some("team-00"));
            true
        })
        .then_output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(TaskDefinition::builder().task_definition_arn(NEW).build())
                .build()
        });
    let seen = Recorder::default();
    let update_service = update(NEW, rolling(), &seen);
    let output = deploy(&[&describe_service, &describe_definition, &register, &update_service])
        .handle(deploy_input("app"))
        .await
        .unwrap();
    assert_eq!(output, deploying("ROLLING"));
    assert_eq!(register.num_calls(), 1);
}
