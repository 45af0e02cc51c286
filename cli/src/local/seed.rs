//! Seeding the local stack from the repository: what AWS would already hold before a push.
//!
//! For every service manifest: its ECS cluster, a task definition (family = the ECS service's
//! name, the manifest's container, an image tagged `seed`), the ECS service running it, and its
//! CodeBuild project. Then the pipeline state machine, from `pipeline.asl.json` with its
//! `${<Function>FunctionArn}` placeholders replaced by the local functions' ARNs. What exists
//! already is left as it is (the state machine's definition is updated), so seeding again
//! before each run is safe.

use aws_config::SdkConfig;
use aws_sdk_codebuild::types::{
    ArtifactsType, ComputeType, EnvironmentType, ProjectArtifacts, ProjectEnvironment, ProjectSource, SourceType,
};
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, NetworkMode,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use deltaship_aws::function::{named, names};
use deltaship_core::Catalog;
use deltaship_core::manifest::resource_name;

use super::LocalError;
use super::stack::{ACCOUNT, PREFIX, REGION};

/// The pipeline definition this binary was built with.
pub const PIPELINE_ASL: &str = include_str!("../../../state-machine/pipeline.asl.json");

/// Replaces each `${<Function>FunctionArn}` in `definition` with the ARN of the local function
/// `<function>` (`${StartBuildFunctionArn}` → `...:function:deltaship-local-start-build`).
pub fn substitute(definition: &str) -> Result<String, String> {
    let mut out = String::with_capacity(definition.len());
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed placeholder at `{}`", &rest[start..]))?;
        let placeholder = &after[..end];
        let function = placeholder
            .strip_suffix("FunctionArn")
            .map(kebab)
            .filter(|function| named(function).is_some())
            .ok_or_else(|| {
                format!(
                    "unknown placeholder ${{{placeholder}}}: the local stack has a FunctionArn for each of {:?}",
                    names()
                )
            })?;
        out.push_str(&format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}{function}"));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `StartBuild` → `start-build`.
fn kebab(camel: &str) -> String {
    let mut out = String::new();
    for (index, character) in camel.chars().enumerate() {
        if character.is_ascii_uppercase() {
            if index > 0 {
                out.push('-');
            }
            out.push(character.to_ascii_lowercase());
        } else {
            out.push(character);
        }
    }
    out
}

/// Creates what `catalog` names and the state machine `arn` from `definition`.
pub async fn seed(
    config: &SdkConfig,
    catalog: &Catalog,
    repository: &str,
    arn: &str,
    definition: &str,
) -> Result<(), LocalError> {
    let ecs = aws_sdk_ecs::Client::new(config);
    let codebuild = aws_sdk_codebuild::Client::new(config);
    let failed = |what: String, error: &dyn std::fmt::Display| LocalError::Stack(format!("seeding {what}: {error}"));
    for service in catalog.services() {
        // Its ECS service in every environment: [deploy], then each [environments.<name>].
        let mut targets =
            vec![(service.deploy.cluster.as_str(), service.deploy.service.as_str(), &service.deploy.container)];
        targets.extend(service.environments.values().map(|target| {
            (
                target.cluster.as_str(),
                target.service.as_str(),
                target.container.as_ref().unwrap_or(&service.deploy.container),
            )
        }));
        for (cluster, name, container) in targets {
            let (cluster, name) = (resource_name(cluster), resource_name(name));
            let clusters = ecs
                .describe_clusters()
                .clusters(cluster)
                .send()
                .await
                .map_err(|e| failed(format!("cluster {cluster}"), &DisplayErrorContext(e)))?;
            if !clusters.clusters().iter().any(|found| found.status() == Some("ACTIVE")) {
                ecs.create_cluster()
                    .cluster_name(cluster)
                    .send()
                    .await
                    .map_err(|e| failed(format!("cluster {cluster}"), &DisplayErrorContext(e)))?;
            }
            let existing = ecs.describe_services().cluster(cluster).services(name).send().await;
            let running = existing.is_ok_and(|found| found.services().iter().any(|s| s.status() == Some("ACTIVE")));
            if !running {
                let image =
                    format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}:seed", service.deploy.image_repository);
                let registered = ecs
                    .register_task_definition()
                    .family(name)
                    .network_mode(NetworkMode::Awsvpc)
                    .requires_compatibilities(Compatibility::Fargate)
                    .cpu("256")
                    .memory("512")
                    .container_definitions(
                        ContainerDefinition::builder().name(container).image(image).essential(true).build(),
                    )
                    .send()
                    .await
                    .map_err(|e| failed(format!("task definition {name}"), &DisplayErrorContext(e)))?;
                let task_definition =
                    registered.task_definition().and_then(|td| td.task_definition_arn()).unwrap_or(name).to_owned();
                ecs.create_service()
                    .cluster(cluster)
                    .service_name(name)
                    .task_definition(task_definition)
                    .desired_count(1)
                    .launch_type(LaunchType::Fargate)
                    .deployment_configuration(
                        DeploymentConfiguration::builder()
                            .deployment_circuit_breaker(
                                DeploymentCircuitBreaker::builder().enable(true).rollback(false).build(),
                            )
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| failed(format!("service {cluster}/{name}"), &DisplayErrorContext(e)))?;
            }
        }

        let project = resource_name(&service.build.project);
        let projects = codebuild
            .batch_get_projects()
            .names(project)
            .send()
            .await
            .map_err(|e| failed(format!("project {project}"), &DisplayErrorContext(e)))?;
        if projects.projects().is_empty() {
            let build_error = |e: aws_sdk_codebuild::error::BuildError| failed(format!("project {project}"), &e);
            codebuild
                .create_project()
                .name(project)
                .source(
                    ProjectSource::builder()
                        .r#type(SourceType::Codecommit)
                        .location(format!("https://git-codecommit.{REGION}.amazonaws.com/v1/repos/{repository}"))
                        .buildspec(format!("{}/buildspec.yml", service.folder))
                        .build()
                        .map_err(build_error)?,
                )
                .artifacts(ProjectArtifacts::builder().r#type(ArtifactsType::NoArtifacts).build().map_err(build_error)?)
                .environment(
                    ProjectEnvironment::builder()
                        .r#type(EnvironmentType::ArmContainer)
                        .image("aws/codebuild/amazonlinux-aarch64-standard:3.0")
                        .compute_type(ComputeType::BuildGeneral1Small)
                        .privileged_mode(true)
                        .build()
                        .map_err(build_error)?,
                )
                .service_role(format!("arn:aws:iam::{ACCOUNT}:role/{PREFIX}build"))
                .send()
                .await
                .map_err(|e| failed(format!("project {project}"), &DisplayErrorContext(e)))?;
        }
    }

    let sfn = aws_sdk_sfn::Client::new(config);
    let definition =
        substitute(definition).map_err(|problem| LocalError::BadInput(format!("the state machine: {problem}")))?;
    let existing = sfn.describe_state_machine().state_machine_arn(arn).send().await.ok();
    let name = arn.rsplit(':').next().unwrap_or_default();
    let what = || format!("state machine {name}");
    if let Some(existing) = existing {
        // Update only a changed definition: every update is a new revision of the machine.
        if existing.definition() == definition {
            return Ok(());
        }
        sfn.update_state_machine()
            .state_machine_arn(arn)
            .definition(definition)
            .send()
            .await
            .map(drop)
            .map_err(|e| failed(what(), &DisplayErrorContext(e)))
    } else {
        sfn.create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{PREFIX}pipeline"))
            .send()
            .await
            .map(drop)
            .map_err(|e| failed(what(), &DisplayErrorContext(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_local_function_arns() {
        assert_eq!(
            substitute(r#"{"FunctionName": "${CheckRolloutFunctionArn}", "x": "$.y"}"#),
            Ok(format!(
                r#"{{"FunctionName": "arn:aws:lambda:{REGION}:{ACCOUNT}:function:deltaship-local-check-rollout", "x": "$.y"}}"#
            ))
        );
        assert_eq!(substitute("no placeholders"), Ok("no placeholders".to_owned()));
    }

    #[test]
    fn unknown_or_broken_placeholders_are_named() {
        let unknown = substitute("${QueueUrl}").err().unwrap_or_default();
        assert!(unknown.contains("${QueueUrl}"), "{unknown}");
        let unknown = substitute("${DeleteEverythingFunctionArn}").err().unwrap_or_default();
        assert!(unknown.contains("DeleteEverything"), "{unknown}");
        assert!(substitute("${StartBuild").is_err());
    }

    #[test]
    fn the_pipeline_substitutes_completely() {
        let definition = substitute(PIPELINE_ASL).unwrap_or_default();
        assert!(!definition.contains("${"), "every placeholder is replaced");
        assert!(serde_json::from_str::<serde_json::Value>(&definition).is_ok(), "still JSON");
    }
}
