//! What one deltaship stack may touch, whatever the manifests say.
//!
//! A manifest is code from the repository: anyone who can push can write one. The SAM template's
//! parameters say what this deltaship deploys (`RepositoryName`, `ClusterName`,
//! `BuildProjectPrefix`); the functions get them as environment variables and refuse anything
//! outside them with [`ErrorKind::OutOfScope`] before making any call, so a crafted manifest
//! cannot steer a function elsewhere, even where IAM would let it (and the IAM policies say the
//! same again). An unset limit allows anything (the local stack, tests).

use crate::failure::{ErrorKind, Failure};
use crate::manifest::Service;

/// The limits, from the template's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The only CodeCommit repository (`REPOSITORY_NAME`).
    pub repository: Option<String>,
    /// The only ECS cluster, by name (`CLUSTER_NAME`).
    pub cluster: Option<String>,
    /// The start of every CodeBuild project name (`BUILD_PROJECT_PREFIX`).
    pub project_prefix: Option<String>,
}

fn out_of_scope(message: String) -> Failure {
    Failure::new(ErrorKind::OutOfScope, message)
}

/// ECS cluster and service names: 1 to 255 letters, digits, `-` or `_`.
fn is_ecs_name(name: &str) -> bool {
    (1..=255).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The resource part of an ECS ARN of `kind` (`arn:<partition>:ecs:<region>:<account>:<kind>/...`).
fn ecs_arn_resource<'a>(arn: &'a str, kind: &str) -> Option<&'a str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("ecs"), Some(_region), Some(_account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    resource.strip_prefix(kind)?.strip_prefix('/')
}

impl Scope {
    /// Checks the repository of a push.
    pub fn check_repository(&self, repository: &str) -> Result<(), Failure> {
        match &self.repository {
            Some(allowed) if allowed != repository => Err(out_of_scope(format!(
                "repository {repository:?} is not the one this deltaship deploys ({allowed:?}, the template's \
                 RepositoryName)"
            ))),
            _ => Ok(()),
        }
    }

    /// Checks an ECS cluster and service, each a name or an ARN.
    pub fn check_service(&self, cluster: &str, service: &str) -> Result<(), Failure> {
        let cluster_name =
            if cluster.starts_with("arn:") { ecs_arn_resource(cluster, "cluster") } else { Some(cluster) };
        let Some(cluster_name) = cluster_name.filter(|name| is_ecs_name(name)) else {
            return Err(out_of_scope(format!("cluster {cluster:?} is not an ECS cluster name or ARN")));
        };
        if service.starts_with("arn:") {
            // New-format ARNs name the cluster: it must be the same one.
            let in_cluster = ecs_arn_resource(service, "service")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(arn_cluster, name)| arn_cluster == cluster_name && is_ecs_name(name));
            if !in_cluster {
                return Err(out_of_scope(format!(
                    "service {service:?} is not an ECS service ARN of cluster {cluster_name:?} \
                     (arn:<partition>:ecs:<region>:<account>:service/{cluster_name}/<name>)"
                )));
            }
        } else if !is_ecs_name(service) {
            return Err(out_of_scope(format!("service {service:?} is not an ECS service name")));
        }
        match &self.cluster {
            Some(allowed) if allowed != cluster_name => Err(out_of_scope(format!(
                "cluster {cluster:?} is not the one this deltaship deploys to ({allowed:?}, the template's \
                 ClusterName)"
            ))),
            _ => Ok(()),
        }
    }

    /// Checks a CodeBuild project name.
    pub fn check_project(&self, project: &str) -> Result<(), Failure> {
        let well_formed = (2..=255).contains(&project.len())
            && project.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && project.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(out_of_scope(format!("project {project:?} is not a CodeBuild project name")));
        }
        match &self.project_prefix {
            Some(prefix) if !project.starts_with(prefix.as_str()) => Err(out_of_scope(format!(
                "project {project:?} does not start with {prefix:?} (the template's BuildProjectPrefix)"
            ))),
            _ => Ok(()),
        }
    }

    /// Checks every service of a catalog; one failure lists every manifest out of scope.
    pub fn check_services(&self, services: &[Service]) -> Result<(), Failure> {
        let problems: Vec<String> = services
            .iter()
            .flat_map(|service| {
                let checks = [
                    self.check_project(&service.build.project),
                    self.check_service(&service.deploy.cluster, &service.deploy.service),
                ];
                checks
                    .into_iter()
                    .filter_map(Result::err)
                    .map(|failure| format!("{}: {}", service.manifest, failure.message))
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(out_of_scope(problems.join("\n"))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            repository: Some("shop".into()),
            cluster: Some("shop-cluster".into()),
            project_prefix: Some("shop-".into()),
        }
    }

    #[test]
    fn repositories() {
        assert!(scope().check_repository("shop").is_ok());
        let failure = scope().check_repository("other").unwrap_err();
        assert_eq!(failure.kind, ErrorKind::OutOfScope);
        assert!(failure.message.contains("RepositoryName"), "{failure}");
        assert!(Scope::default().check_repository("anything").is_ok());
    }

    #[test]
    fn clusters_and_services() {
        let arn = "arn:aws:ecs:eu-west-1:123456789012";
        let ok = [
            ("shop-cluster", "users".to_owned()),
            (&format!("{arn}:cluster/shop-cluster"), "users".to_owned()),
            ("shop-cluster", format!("{arn}:service/shop-cluster/users")),
        ];
        for (cluster, service) in &ok {
            assert!(scope().check_service(cluster, service).is_ok(), "{cluster} {service}");
        }
        let bad = [
            ("other", "users".to_owned(), "ClusterName"),
            (&format!("{arn}:cluster/other") as &str, "users".to_owned(), "ClusterName"),
            ("shop-cluster", format!("{arn}:service/other/users"), "not an ECS service ARN of cluster"),
            ("shop-cluster", format!("{arn}:service/users"), "not an ECS service ARN"),
            ("shop-cluster", "users/../x".to_owned(), "not an ECS service name"),
            ("shop-cluster", String::new(), "not an ECS service name"),
            ("arn:aws:iam::1:role/shop-cluster", "users".to_owned(), "not an ECS cluster"),
            ("shop cluster", "users".to_owned(), "not an ECS cluster"),
            (&format!("{arn}:cluster/"), "users".to_owned(), "not an ECS cluster"),
        ];
        for (cluster, service, expected) in &bad {
            let failure = scope().check_service(cluster, service).unwrap_err();
            assert_eq!(failure.kind, ErrorKind::OutOfScope);
            assert!(failure.message.contains(expected), "{cluster} {service}: {failure}");
        }
        assert!(Scope::default().check_service("any", "thing").is_ok());
        assert!(Scope::default().check_service("any", "thing/else").is_err(), "malformed even without limits");
    }

    #[test]
    fn projects() {
        assert!(scope().check_project("shop-users").is_ok());
        for (project, expected) in [
            ("users", "BuildProjectPrefix"),
            ("shop", "BuildProjectPrefix"),
            ("shop-users:1", "not a CodeBuild project name"),
            ("-shop-users", "not a CodeBuild project name"),
            ("arn:aws:codebuild:eu-west-1:1:project/shop-users", "not a CodeBuild project name"),
        ] {
            let failure = scope().check_project(project).unwrap_err();
            assert!(failure.message.contains(expected), "{project}: {failure}");
        }
        assert!(Scope::default().check_project("anything").is_ok());
    }

    #[test]
    fn a_catalog_check_lists_every_manifest_out_of_scope() {
        let manifest = |name: &str, project: &str, cluster: &str| {
            crate::SourceFile::new(
                format!("services/{name}/service.toml"),
                format!(
                    "[build]\nproject = \"{project}\"\n[deploy]\ncluster = \"{cluster}\"\nservice = \"{name}\"\n\
                     container = \"app\"\nimage_repository = \"shop/{name}\"\n"
                ),
            )
        };
        let catalog = crate::Catalog::load(
            None,
            &[
                manifest("users", "shop-users", "shop-cluster"),
                manifest("evil", "prod-deploy", "shop-cluster"),
                manifest("worse", "shop-worse", "prod"),
            ],
        )
        .unwrap();
        let failure = scope().check_services(catalog.services()).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::OutOfScope);
        assert_eq!(failure.message.lines().count(), 2, "{failure}");
        assert!(failure.message.contains("services/evil/service.toml: project \"prod-deploy\""), "{failure}");
        assert!(failure.message.contains("services/worse/service.toml: cluster \"prod\""), "{failure}");
    }
}
