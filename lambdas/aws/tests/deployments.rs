//! deploy-service, check-rollout and rollback-service over a mocked ECS: the revision deployed
//! (checked field by field against the one it replaces), each way a rollout ends, and when a
//! rollback touches the service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::config::{Builder, Region};
use aws_sdk_ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::register_task_definition::{RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput};
use aws_sdk_ecs::operation::update_service::{UpdateServiceInput, UpdateServiceOutput};
use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::error::ClusterNotFoundException;
use aws_sdk_ecs::types::{
    ApplicationProtocol, Attribute, Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency,
    CpuArchitecture, Deployment, DeploymentRolloutState, EphemeralStorage, Failure as EcsFailure,
    FirelensConfiguration, FirelensConfigurationType, KeyValuePair, LogConfiguration, LogDriver, MountPoint,
    NetworkMode, OsFamily, PidMode, PortMapping, RuntimePlatform, Service, Tag, TaskDefinition, TaskDefinitionField,
    TaskDefinitionPlacementConstraint, TaskDefinitionPlacementConstraintType, TaskDefinitionStatus, TransportProtocol,
    Volume,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use common::{NOW, Recorder, clock, meta, throttling};
use deltaship_aws::Function;
use deltaship_aws::check_rollout::CheckRollout;
use deltaship_aws::deploy::DeployService;
use deltaship_aws::rollback::RollbackService;
use deltaship_core::payloads::{CheckRolloutOutput, DeployOutput, RollbackAction, RollbackOutput, RolloutStatus};
use deltaship_core::{ErrorKind, RolloutWatch, Scope, WaitPolicy, links};
use serde_json::{Value, json};

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
const ROLLBACK_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";

/// A client in eu-west-1 that tries each call at most `attempts` times, backing off a millisecond.
fn ecs_with(rules: &[&Rule], attempts: u32) -> aws_sdk_ecs::Client {
    let configure = move |config: Builder| {
        config.region(Region::new("eu-west-1")).retry_config(
            RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(1)),
        )
    };
    mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules, configure)
}

fn ecs(rules: &[&Rule]) -> aws_sdk_ecs::Client {
    ecs_with(rules, 1)
}

fn service_url() -> String {
    links::service("eu-west-1", "shop", "users")
}

// ---- ECS fixtures -------------------------------------------------------------------------------

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

/// The ACTIVE service `shop/users` running `task_definition` with `deployments`.
fn service(task_definition: &str, deployments: Vec<Deployment>) -> Service {
    Service::builder()
        .service_arn("arn:aws:ecs:eu-west-1:123456789012:service/shop/users")
        .service_name("users")
        .cluster_arn("arn:aws:ecs:eu-west-1:123456789012:cluster/shop")
        .status("ACTIVE")
        .desired_count(2)
        .running_count(2)
        .task_definition(task_definition)
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
    service(OLD, vec![settled("ecs-svc/111", "PRIMARY", OLD)])
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

/// Revision 7's tags: the team's (copied), and this push's stamp (the older one dropped).
fn tags_of_7() -> Vec<Tag> {
    [tags(), stamp(COMMIT, PUSHED_AT, EXECUTION, OLD)].concat()
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
        "execution": EXECUTION
    })
}

fn deploy(rules: &[&Rule]) -> DeployService {
    DeployService::from_client(ecs(rules), WaitPolicy::ROLLOUT, clock)
}

#[tokio::test]
async fn deploy_registers_the_same_revision_with_the_new_image_and_rolls_it_out() {
    let describe_service = describe(on_old());
    let describe_definition = describe_revision_6();
    let register = register_revision_7();
    let seen = Recorder::default();
    let rolling = service(
        NEW,
        vec![
            deployment("ecs-svc/222", "PRIMARY", NEW, DeploymentRolloutState::InProgress),
            settled("ecs-svc/111", "ACTIVE", OLD),
        ],
    );
    let update_service = update(NEW, rolling, &seen);

    let output = deploy(&[&describe_service, &describe_definition, &register, &update_service])
        .handle(deploy_input("app"))
        .await
        .unwrap();

    let expected = DeployOutput {
        watch: RolloutWatch {
            name: "users".into(),
            cluster: "shop".into(),
            service: "users".into(),
            deployment_id: "ecs-svc/222".into(),
            task_definition: NEW.into(),
            previous_task_definition: OLD.into(),
            started_at: NOW,
            deadline: NOW + 12 * 60,
        },
        image: IMAGE.into(),
        wait_seconds: WaitPolicy::ROLLOUT.min_seconds,
        service_url: service_url(),
    };
    assert_eq!(output, expected);
    // The state machine reads flat fields.
    assert_eq!(
        serde_json::to_value(&output).unwrap(),
        json!({
            "name": "users",
            "cluster": "shop",
            "service": "users",
            "deployment_id": "ecs-svc/222",
            "task_definition": NEW,
            "previous_task_definition": OLD,
            "started_at": NOW,
            "deadline": NOW + 720,
            "image": IMAGE,
            "wait_seconds": 30,
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
async fn deploy_to_a_container_the_task_definition_lacks_registers_nothing() {
    let describe_service = describe(on_old());
    let describe_definition = describe_revision_6();
    let register = register_revision_7();
    let update_service = update(NEW, on_old(), &Recorder::default());

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
                .failures(
                    EcsFailure::builder()
                        .arn("arn:aws:ecs:eu-west-1:123456789012:service/shop/users")
                        .reason("MISSING")
                        .build(),
                )
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
    for (payload, message) in [
        (no_image, "deploy-service input: missing field `image`"),
        (deploy_input(""), "deploy-service input, field `container`: must not be empty"),
        (json!({"name": "users"}), "deploy-service input: missing field `cluster`"),
        (
            {
                let mut other_commit = deploy_input("app");
                other_commit["commit"] = json!("3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6");
                other_commit
            },
            "image \"123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901\" \
             is not tagged with the pushed commit 3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6 (the buildspec must export \
             IMAGE_URI=<repository>:<commit>)",
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
async fn a_retried_deploy_watches_the_deployment_it_made_and_registers_nothing() {
    // The first call registered revision 7 and updated the service; its answer was lost, and the
    // state machine calls again.
    let rolling = service(
        NEW,
        vec![
            deployment("ecs-svc/222", "PRIMARY", NEW, DeploymentRolloutState::InProgress),
            settled("ecs-svc/111", "ACTIVE", OLD),
        ],
    );
    let describe_service = describe(rolling);
    let describe_7 = describe_definition(NEW, IMAGE, tags_of_7());
    let register = register_revision_7();
    let update_service = update(NEW, on_old(), &Recorder::default());

    let output = deploy(&[&describe_service, &describe_7, &register, &update_service])
        .handle(deploy_input("app"))
        .await
        .unwrap();

    assert_eq!(output.watch.deployment_id, "ecs-svc/222");
    assert_eq!(output.watch.task_definition, NEW);
    assert_eq!(output.watch.previous_task_definition, OLD, "from the revision's deltaship:previous tag");
    assert_eq!((output.watch.started_at, output.watch.deadline), (NOW - 60, NOW - 60 + 12 * 60));
    assert_eq!((register.num_calls(), update_service.num_calls()), (0, 0), "deployed once");
}

#[tokio::test]
async fn an_older_push_does_not_deploy_over_a_newer_one() {
    // A newer push (pushed after ours) already deployed revision 8.
    const NEWER_IMAGE: &str =
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:9999999999999999999999999999999999999999";
    let newer = service(OTHER, vec![settled("ecs-svc/333", "PRIMARY", OTHER)]);
    let describe_service = describe(newer);
    let stamp_8 = stamp("9999999999999999999999999999999999999999", PUSHED_AT + 5, "newer-execution", NEW);
    let describe_8 = describe_definition(OTHER, NEWER_IMAGE, [tags(), stamp_8].concat());
    let register = register_revision_7();
    let update_service = update(NEW, on_old(), &Recorder::default());

    let failure = deploy(&[&describe_service, &describe_8, &register, &update_service])
        .handle(deploy_input("app"))
        .await
        .unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Superseded);
    assert!(failure.message.contains("newer-execution"), "{failure}");
    assert!(failure.message.starts_with(&format!("shop/users runs {OTHER} of commit 999999999999")), "{failure}");
    assert_eq!((register.num_calls(), update_service.num_calls()), (0, 0), "the service is not touched");
}

#[tokio::test]
async fn a_cluster_outside_the_scope_is_refused_before_any_call() {
    let scope = Scope { cluster: Some("prod".into()), ..Scope::default() };
    let failure = deploy(&[]).with_scope(scope).handle(deploy_input("app")).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::OutOfScope);
    assert!(failure.message.contains("ClusterName"), "{failure}");
}

// ---- check-rollout ------------------------------------------------------------------------------

/// What deploy-service returned for deployment `ecs-svc/222`, started `elapsed` seconds before
/// the clock, with a ten-minute deadline.
fn watch(elapsed: i64) -> Value {
    let started_at = NOW - elapsed;
    json!({
        "name": "users",
        "cluster": "shop",
        "service": "users",
        "deployment_id": "ecs-svc/222",
        "task_definition": NEW,
        "previous_task_definition": OLD,
        "started_at": started_at,
        "deadline": started_at + 600,
        // check-rollout gets deploy-service's whole output.
        "image": IMAGE,
        "wait_seconds": 30,
        "service_url": service_url()
    })
}

fn check(rules: &[&Rule]) -> CheckRollout {
    CheckRollout::from_client(ecs(rules), WaitPolicy::ROLLOUT, clock)
}

fn rollout_output(status: RolloutStatus, wait_seconds: u32, detail: &str) -> CheckRolloutOutput {
    CheckRolloutOutput {
        status,
        deployment_id: "ecs-svc/222".into(),
        task_definition: NEW.into(),
        wait_seconds,
        detail: detail.into(),
        service_url: service_url(),
    }
}

fn in_progress() -> Service {
    service(
        NEW,
        vec![
            deployment("ecs-svc/222", "PRIMARY", NEW, DeploymentRolloutState::InProgress),
            settled("ecs-svc/111", "ACTIVE", OLD),
        ],
    )
}

#[tokio::test]
async fn a_completed_primary_deployment_is_completed() {
    let rule = describe(service(NEW, vec![settled("ecs-svc/222", "PRIMARY", NEW)]));

    let output = check(&[&rule]).handle(watch(120)).await.unwrap();

    assert_eq!(output, rollout_output(RolloutStatus::Completed, 0, "2 of 2 tasks running, 0 pending, 0 failed"));
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_rollout_in_progress_waits_but_not_past_the_deadline() {
    let rule = describe(in_progress());
    let cases = [(5, 30), (60, 60), (300, 120), (590, 10)];
    for (elapsed, wait) in cases {
        let output = check(&[&rule]).handle(watch(elapsed)).await.unwrap();
        assert_eq!(
            output,
            rollout_output(RolloutStatus::InProgress, wait, "1 of 2 tasks running, 1 pending, 0 failed"),
            "after {elapsed} s"
        );
    }
    assert_eq!(rule.num_calls(), cases.len());
}

#[tokio::test]
async fn a_rollout_in_progress_at_the_deadline_is_deadline_exceeded() {
    for elapsed in [600, 3_600] {
        let rule = describe(in_progress());
        let failure = check(&[&rule]).handle(watch(elapsed)).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::DeadlineExceeded);
        assert_eq!(
            failure.message,
            "deployment ecs-svc/222 of shop/users did not complete within 10 minutes: 1 of 2 tasks running, 1 \
             pending, 0 failed"
        );
    }
}

#[tokio::test]
async fn a_circuit_breaker_rollback_is_a_failure_though_the_service_is_stable() {
    // ECS rolled back: a new PRIMARY on the previous revision, COMPLETED, and the service stable
    // on it. Ours failed, went INACTIVE, or is gone.
    let rolled_back = || settled("ecs-svc/333", "PRIMARY", OLD);
    let mut failed = deployment("ecs-svc/222", "ACTIVE", NEW, DeploymentRolloutState::Failed);
    failed.rollout_state_reason = Some(ROLLBACK_REASON.into());
    failed.failed_tasks = 4;
    failed.running_count = 0;
    let inactive = deployment("ecs-svc/222", "INACTIVE", NEW, DeploymentRolloutState::InProgress);
    let was_rolled_back = format!(
        "deployment ecs-svc/222 of shop/users was rolled back: the service runs the previous revision {OLD} again \
         (deployment ecs-svc/333): ECS deployment ecs-svc/333 completed."
    );
    let cases = [
        (
            vec![rolled_back(), failed],
            format!("deployment ecs-svc/222 of shop/users failed (4 failed tasks): {ROLLBACK_REASON}"),
        ),
        (vec![rolled_back(), inactive], was_rolled_back.clone()),
        (vec![rolled_back()], was_rolled_back),
    ];
    for (deployments, message) in cases {
        let rule = describe(service(OLD, deployments));
        let failure = check(&[&rule]).handle(watch(200)).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::RolloutFailed, "{failure}");
        assert_eq!(failure.message, message);
    }
}

#[tokio::test]
async fn a_deployment_replaced_by_another_revision_is_deployment_replaced() {
    for ours in [Some(deployment("ecs-svc/222", "ACTIVE", NEW, DeploymentRolloutState::InProgress)), None] {
        let mut deployments = vec![deployment("ecs-svc/444", "PRIMARY", OTHER, DeploymentRolloutState::InProgress)];
        deployments.extend(ours);
        let rule = describe(service(OTHER, deployments));
        let failure = check(&[&rule]).handle(watch(60)).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::DeploymentReplaced);
        assert_eq!(
            failure.message,
            format!(
                "deployment ecs-svc/222 of shop/users was replaced by deployment ecs-svc/444 of {OTHER} before it completed"
            )
        );
    }
}

#[tokio::test]
async fn a_throttled_look_is_retried_by_the_sdk() {
    let rule = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|req| req.cluster() == Some("shop") && req.services() == ["users"])
        .sequence()
        .error(|| DescribeServicesError::generic(throttling()))
        .times(2)
        .output(|| DescribeServicesOutput::builder().services(in_progress()).build())
        .build();
    let handler = CheckRollout::from_client(ecs_with(&[&rule], 3), WaitPolicy::ROLLOUT, clock);

    let output = handler.handle(watch(60)).await.unwrap();

    assert_eq!(output, rollout_output(RolloutStatus::InProgress, 60, "1 of 2 tasks running, 1 pending, 0 failed"));
    assert_eq!(rule.num_calls(), 3);

    // Without retries left, it is Throttled, which the state machine retries.
    let rule = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .error(|| DescribeServicesError::generic(throttling()))
        .times(2)
        .build();
    let failure = CheckRollout::from_client(ecs_with(&[&rule], 2), WaitPolicy::ROLLOUT, clock)
        .handle(watch(60))
        .await
        .unwrap_err();
    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert_eq!(failure.message, "DescribeServices shop/users: ThrottlingException: Rate exceeded");
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn a_bad_watch_is_invalid_and_calls_nothing() {
    let mut no_deployment = watch(60);
    no_deployment["deployment_id"] = json!("");
    let mut text_deadline = watch(60);
    text_deadline["deadline"] = json!("soon");
    for (payload, message) in [
        (no_deployment, "check-rollout input, field `deployment_id`: must not be empty"),
        (text_deadline, "check-rollout input"),
        (json!({}), "check-rollout input: missing field `name`"),
    ] {
        let failure = check(&[]).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert!(failure.message.starts_with(message), "{failure}");
    }
}

// ---- rollback-service ---------------------------------------------------------------------------

const REASON: &str = "DeadlineExceeded: deployment ecs-svc/222 of shop/users did not complete within 10 minutes";

fn rollback_input() -> Value {
    let mut input = watch(700);
    input["reason"] = json!(REASON);
    input
}

fn rollback(rules: &[&Rule]) -> RollbackService {
    RollbackService::from_client(ecs(rules))
}

#[tokio::test]
async fn a_service_still_on_our_revision_is_rolled_back_to_the_previous_one() {
    let describe_service = describe(in_progress());
    let seen = Recorder::default();
    let rolling_back = service(
        OLD,
        vec![
            deployment("ecs-svc/333", "PRIMARY", OLD, DeploymentRolloutState::InProgress),
            deployment("ecs-svc/222", "ACTIVE", NEW, DeploymentRolloutState::InProgress),
        ],
    );
    let update_service = update(OLD, rolling_back, &seen);

    let output = rollback(&[&describe_service, &update_service]).handle(rollback_input()).await.unwrap();

    assert_eq!(
        output,
        RollbackOutput {
            action: RollbackAction::RolledBack,
            task_definition: OLD.into(),
            deployment_id: Some("ecs-svc/333".into()),
            message: format!("shop/users rolled back from {NEW} to {OLD} after: {REASON}"),
            service_url: service_url(),
        }
    );
    let request = seen.only();
    assert_eq!(request.task_definition(), Some(OLD));
    assert_eq!((request.cluster(), request.service()), (Some("shop"), Some("users")));
    assert_eq!((describe_service.num_calls(), update_service.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_service_already_on_the_previous_revision_is_not_touched() {
    let describe_service = describe(service(OLD, vec![settled("ecs-svc/333", "PRIMARY", OLD)]));
    let update_service = update(OLD, on_old(), &Recorder::default());

    let output = rollback(&[&describe_service, &update_service]).handle(rollback_input()).await.unwrap();

    assert_eq!(
        output,
        RollbackOutput {
            action: RollbackAction::AlreadyRolledBack,
            task_definition: OLD.into(),
            deployment_id: None,
            message: format!("shop/users already runs the previous revision {OLD} after: {REASON}"),
            service_url: service_url(),
        }
    );
    assert_eq!(update_service.num_calls(), 0);
}

#[tokio::test]
async fn a_service_deployed_since_is_left_alone() {
    let describe_service =
        describe(service(OTHER, vec![deployment("ecs-svc/444", "PRIMARY", OTHER, DeploymentRolloutState::InProgress)]));
    let update_service = update(OLD, on_old(), &Recorder::default());

    let output = rollback(&[&describe_service, &update_service]).handle(rollback_input()).await.unwrap();

    assert_eq!(
        output,
        RollbackOutput {
            action: RollbackAction::LeftAlone,
            task_definition: OTHER.into(),
            deployment_id: None,
            message: format!(
                "shop/users runs {OTHER}, deployed since {NEW}; not rolled back so as not to undo it after: {REASON}"
            ),
            service_url: service_url(),
        }
    );
    assert_eq!(update_service.num_calls(), 0);
}

#[tokio::test]
async fn a_rollback_without_the_previous_revision_is_invalid_input() {
    let mut missing = rollback_input();
    missing.as_object_mut().unwrap().remove("previous_task_definition");
    let mut empty = rollback_input();
    empty["previous_task_definition"] = json!(" ");
    for (payload, message) in [
        (missing, "missing field `previous_task_definition`"),
        (empty, "rollback-service input, field `previous_task_definition`: must not be empty"),
    ] {
        // No rules: DescribeServices or UpdateService would fail the test.
        let failure = rollback(&[]).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert!(failure.message.starts_with("rollback-service input"), "{failure}");
        assert!(failure.message.contains(message), "{failure}");
    }
}
