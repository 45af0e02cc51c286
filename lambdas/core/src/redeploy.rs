//! `deltaship redeploy`: deploying the image an earlier push built (to roll a service back, or
//! forward, to any version that deployed before), as a one-service execution of the pipeline
//! that skips the build and is judged and rolled back like any other.
//!
//! - **Which image** ([`image_of`]): deploy-service stamps every revision it registers with the
//!   push's commit (`deltaship:commit`, [`crate::tags`]); the image is the service's container's
//!   in a revision stamped with the commit, by digest when one was deployed by digest (every
//!   environment since images are promoted by digest), else by its tag (the commit).
//! - **The execution input** ([`redeploy_input`]): the service's job with `image` set (the state
//!   machine's *Built already?* skips the build) and pushed "now", so that the redeploy is the
//!   newest intent for the service ([`crate::races`]: an older push still in flight is
//!   superseded by it rather than the reverse). With `--environment`, only that environment, no
//!   approval (an operator's explicit act); without it, every environment in order, gates
//!   included, as a push would.

use crate::environments::{Environment, promotions};
use crate::payloads::ServiceJob;
use crate::pipeline::{Origin, PipelineInput};
use crate::{Catalog, CommitId, Push};

/// One task definition revision of a service's family, as far as a redeploy needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Its ARN.
    pub arn: String,
    /// Its `deltaship:commit` tag, if deltaship registered it.
    pub commit: Option<String>,
    /// Its containers: (name, image).
    pub containers: Vec<(String, String)>,
}

/// The image of `container` that a revision stamped with `commit` runs: by digest when one
/// does, else the first by tag. `None` if no revision of `revisions` was deployed for `commit`.
pub fn image_of(revisions: &[Revision], commit: &CommitId, container: &str) -> Option<String> {
    let images: Vec<&str> = revisions
        .iter()
        .filter(|revision| revision.commit.as_deref() == Some(commit.as_str()))
        .flat_map(|revision| revision.containers.iter())
        .filter(|(name, _)| name == container)
        .map(|(_, image)| image.as_str())
        .collect();
    images.iter().find(|image| image.contains("@sha256:")).or_else(|| images.first()).map(|image| (*image).to_owned())
}

/// Why a redeploy cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedeployError {
    /// No such service in the catalog.
    #[error("no service named {service}: the manifests define {known:?}")]
    UnknownService {
        /// The name asked for.
        service: String,
        /// The services there are.
        known: Vec<String>,
    },
    /// The service has no target in that environment.
    #[error("{service} is not deployed in {environment}: its environments are {known:?}")]
    UnknownEnvironment {
        /// The service.
        service: String,
        /// The environment asked for.
        environment: String,
        /// Where it is deployed.
        known: Vec<String>,
    },
}

/// Everything a redeploy is made of besides the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeploy<'a> {
    /// The service.
    pub service: &'a str,
    /// One environment, or every one in order.
    pub environment: Option<&'a str>,
    /// The earlier push's commit.
    pub commit: &'a CommitId,
    /// Its image ([`image_of`]).
    pub image: String,
    /// The repository.
    pub repository: &'a str,
    /// The branch it is recorded under.
    pub branch: &'a str,
    /// Who asks (the caller's identity).
    pub by: Option<String>,
    /// Now, seconds since the Unix epoch.
    pub now: i64,
}

/// The execution name of a redeploy: `redeploy-<service>-<short commit>-<now>`, at most 80
/// characters of Step Functions' allowed set (the service name is cut if it must be).
pub fn execution_name(service: &str, commit: &CommitId, now: i64) -> String {
    let tail = format!("-{}-{now}", commit.short());
    let room = 80 - "redeploy-".len() - tail.len();
    let service: String = service
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(room)
        .collect();
    format!("redeploy-{service}{tail}")
}

/// The execution input of `redeploy` in `catalog`'s terms.
pub fn redeploy_input(catalog: &Catalog, redeploy: &Redeploy<'_>) -> Result<PipelineInput, RedeployError> {
    let service = catalog.service(redeploy.service).ok_or_else(|| RedeployError::UnknownService {
        service: redeploy.service.to_owned(),
        known: catalog.services().iter().map(|service| service.name.clone()).collect(),
    })?;
    let environments: &[Environment] = catalog.settings().environments();
    let first = environments.first().map_or(crate::environments::DEFAULT_ENVIRONMENT, |first| first.name.as_str());
    let later = promotions(service, environments);
    let execution = execution_name(redeploy.service, redeploy.commit, redeploy.now);
    let push = Push {
        repository: redeploy.repository.to_owned(),
        branch: redeploy.branch.to_owned(),
        head: redeploy.commit.clone(),
        base: None,
        pushed_by: redeploy.by.clone(),
        pushed_at: redeploy.now,
    };
    let mut job = ServiceJob {
        reasons: vec![format!("redeploy of {}", redeploy.commit.short())],
        environment: first.to_owned(),
        promotions: later.clone(),
        image: Some(redeploy.image.clone()),
        ..ServiceJob::of(service, &push, &execution)
    };
    if let Some(environment) = redeploy.environment.filter(|environment| *environment != first) {
        let Some(target) = later.iter().find(|promotion| promotion.environment == environment) else {
            return Err(RedeployError::UnknownEnvironment {
                service: service.name.clone(),
                environment: environment.to_owned(),
                known: std::iter::once(first.to_owned()).chain(later.iter().map(|p| p.environment.clone())).collect(),
            });
        };
        job.environment = target.environment.clone();
        job.cluster = target.cluster.clone();
        job.service = target.service.clone();
        job.container = target.container.clone();
        job.timeout_minutes = target.timeout_minutes;
        job.promotions = Vec::new();
    } else if redeploy.environment.is_some() {
        job.promotions = Vec::new();
    }
    Ok(PipelineInput {
        execution,
        repository: redeploy.repository.to_owned(),
        branch: redeploy.branch.to_owned(),
        commit: redeploy.commit.to_string(),
        base: None,
        pushed_by: redeploy.by.clone(),
        pushed_at: redeploy.now,
        origin: Origin::Redeploy,
        max_concurrency: 1,
        services: vec![job],
        part: 1,
        parts: 1,
        removed: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    fn commit(digit: char) -> CommitId {
        CommitId::parse(&digit.to_string().repeat(40)).unwrap_or_else(|error| panic!("{error}"))
    }

    fn catalog() -> Catalog {
        let settings = SourceFile::new(
            "deltaship.toml",
            "[[environments]]\nname = \"staging\"\n[[environments]]\nname = \"production\"\napproval = true\n",
        );
        let manifest = SourceFile::new(
            "services/users/service.toml",
            "[build]\nproject = \"build-users\"\n[deploy]\ncluster = \"staging\"\nservice = \"users\"\n\
             container = \"app\"\nimage_repository = \"shop/users\"\n\
             [environments.production]\ncluster = \"prod\"\nservice = \"users-prod\"\n",
        );
        Catalog::load(Some(&settings), &[manifest]).unwrap_or_else(|error| panic!("{error}"))
    }

    fn revision(arn: &str, commit: Option<char>, image: &str) -> Revision {
        Revision {
            arn: arn.into(),
            commit: commit.map(|digit| digit.to_string().repeat(40)),
            containers: vec![("app".into(), image.into()), ("sidecar".into(), "envoy:1".into())],
        }
    }

    #[test]
    fn the_image_is_the_one_a_revision_of_the_commit_ran_by_digest_first() {
        let digest = format!("shop/users@sha256:{}", "0f".repeat(32));
        let revisions = vec![
            revision("td:1", Some('a'), &format!("shop/users:{}", "a".repeat(40))),
            revision("td:2", Some('b'), &format!("shop/users:{}", "b".repeat(40))),
            revision("td:3", Some('b'), &digest),
            revision("td:4", None, "shop/users:hand-made"),
        ];
        let table = [
            ('a', "app", Some(format!("shop/users:{}", "a".repeat(40)))),
            ('b', "app", Some(digest)),
            ('b', "sidecar", Some("envoy:1".to_owned())),
            ('c', "app", None),
            ('a', "missing", None),
        ];
        for (digit, container, expected) in table {
            assert_eq!(image_of(&revisions, &commit(digit), container), expected, "{digit} {container}");
        }
    }

    #[test]
    fn names_fit_step_functions() {
        let name = execution_name("users", &commit('a'), 1_700_000_000);
        assert_eq!(name, "redeploy-users-aaaaaaaaaaaa-1700000000");
        let long = execution_name(&"x".repeat(200), &commit('a'), 1_700_000_000);
        assert_eq!(long.len(), 80);
        assert!(long.ends_with("-aaaaaaaaaaaa-1700000000"));
        assert_eq!(execution_name("a.b", &commit('a'), 1), "redeploy-a-b-aaaaaaaaaaaa-1");
    }

    #[test]
    fn a_redeploy_skips_the_build_into_one_or_every_environment() {
        let catalog = catalog();
        let b = commit('b');
        let redeploy = |environment: Option<&'static str>| Redeploy {
            service: "users",
            environment,
            commit: &b,
            image: "shop/users@sha256:ff".into(),
            repository: "shop",
            branch: "main",
            by: Some("arn:aws:iam::123456789012:user/ops".into()),
            now: 1_700_000_000,
        };
        let every = redeploy_input(&catalog, &redeploy(None)).unwrap_or_else(|error| panic!("{error}"));
        let job = &every.services[0];
        assert_eq!((every.origin, every.pushed_at), (Origin::Redeploy, 1_700_000_000));
        assert_eq!(job.image.as_deref(), Some("shop/users@sha256:ff"));
        assert_eq!((job.environment.as_str(), job.cluster.as_str()), ("staging", "staging"));
        assert_eq!(job.promotions.len(), 1);
        assert!(job.promotions[0].approval, "every environment in order, gates included");

        let production = redeploy_input(&catalog, &redeploy(Some("production"))).unwrap_or_else(|e| panic!("{e}"));
        let job = &production.services[0];
        assert_eq!(
            (job.environment.as_str(), job.cluster.as_str(), job.service.as_str()),
            ("production", "prod", "users-prod")
        );
        assert!(job.promotions.is_empty(), "one environment, no gate");

        let staging = redeploy_input(&catalog, &redeploy(Some("staging"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((staging.services[0].cluster.as_str(), staging.services[0].promotions.len()), ("staging", 0));

        assert!(matches!(
            redeploy_input(&catalog, &redeploy(Some("qa"))),
            Err(RedeployError::UnknownEnvironment { .. })
        ));
        let unknown = Redeploy { service: "orders", ..redeploy(None) };
        assert!(matches!(redeploy_input(&catalog, &unknown), Err(RedeployError::UnknownService { .. })));
    }
}
