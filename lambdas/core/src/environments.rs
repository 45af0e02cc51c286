//! Environments: where a push deploys, in order, and where each service runs in each.
//!
//! `deltaship.toml` lists them in pipeline order; promotion into one may need an approval, which
//! waits at most `approval_timeout_hours` (24 by default):
//!
//! ```toml
//! [[environments]]
//! name = "staging"
//!
//! [[environments]]
//! name = "production"
//! approval = true
//! approval_timeout_hours = 24
//! ```
//!
//! A manifest's `[deploy]` is its target in the first environment (so a repository without
//! `[[environments]]` is the one-environment case, [`DEFAULT_ENVIRONMENT`], and every manifest
//! keeps working unchanged); `[environments.<name>]` names its target in a later one. The
//! container and the rollout deadline default to `[deploy]`'s; the image is the one the push's
//! build produced, promoted as is:
//!
//! ```toml
//! [environments.production]
//! cluster = "shop-prod"
//! service = "users"
//! # container = "app"          # default: [deploy]'s
//! # timeout_minutes = 30       # default: [deploy]'s
//! ```
//!
//! A service without a target in a later environment is not promoted there (it ends in the
//! environments it names). Unknown environment names, a target for the first environment
//! outside `[deploy]`, and names that are not usable in keys and execution histories are
//! errors naming the file and the key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::source::ManifestError;

/// The name of the one environment of a repository whose `deltaship.toml` lists none.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// How long an approval waits when `approval_timeout_hours` is not set.
pub const DEFAULT_APPROVAL_TIMEOUT_HOURS: u32 = 24;

/// The longest an approval may wait: 30 days (an execution may last a year, but a promotion
/// that waited a month is better started again).
pub const MAX_APPROVAL_TIMEOUT_HOURS: u32 = 30 * 24;

/// The most environments a repository may list.
pub const MAX_ENVIRONMENTS: usize = 8;

/// One environment, from `deltaship.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Its name: 1 to 32 lower-case letters, digits or '-', starting with a letter.
    pub name: String,
    /// Whether promotion into it waits for an approval.
    pub approval: bool,
    /// How long an approval may wait before the service is `not_promoted`.
    pub approval_timeout_hours: u32,
}

impl Environment {
    /// The one environment of a repository that lists none: no approval.
    pub fn default_environment() -> Self {
        Self {
            name: DEFAULT_ENVIRONMENT.to_owned(),
            approval: false,
            approval_timeout_hours: DEFAULT_APPROVAL_TIMEOUT_HOURS,
        }
    }
}

/// A service's target in a later environment, from `[environments.<name>]` of its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The ECS cluster, by name or ARN.
    pub cluster: String,
    /// The ECS service, by name or ARN.
    pub service: String,
    /// The container whose image is replaced; `None`: `[deploy]`'s.
    pub container: Option<String>,
    /// The rollout deadline; `None`: `[deploy]`'s.
    pub timeout_minutes: Option<u32>,
}

/// `[[environments]]` of `deltaship.toml`, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    name: String,
    #[serde(default)]
    approval: bool,
    #[serde(default = "default_timeout")]
    approval_timeout_hours: u32,
}

/// `[environments.<name>]` of a manifest, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    cluster: String,
    service: String,
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    timeout_minutes: Option<u32>,
}

const fn default_timeout() -> u32 {
    DEFAULT_APPROVAL_TIMEOUT_HOURS
}

/// Whether `name` may name an environment: it goes into DynamoDB keys, execution histories and
/// commands (`--environment`).
pub fn valid_environment_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Validates `deltaship.toml`'s `[[environments]]` (in `file`); none listed is the one
/// [`DEFAULT_ENVIRONMENT`]. Problems go to `errors`, each under `environments[<index>]`.
pub fn environments(file: &str, raw: &[RawEnvironment], errors: &mut Vec<ManifestError>) -> Vec<Environment> {
    if raw.is_empty() {
        return vec![Environment::default_environment()];
    }
    if raw.len() > MAX_ENVIRONMENTS {
        let problem = format!("lists {} environments; at most {MAX_ENVIRONMENTS}", raw.len());
        errors.push(ManifestError::new(file, "environments".to_owned(), problem));
    }
    let mut listed: Vec<Environment> = Vec::with_capacity(raw.len());
    for (index, environment) in raw.iter().enumerate() {
        let key = |field: &str| format!("environments[{index}].{field}");
        if !valid_environment_name(&environment.name) {
            let problem = format!(
                "`{}` is not an environment name (1 to 32 lower-case letters, digits or '-', starting with a letter)",
                environment.name
            );
            errors.push(ManifestError::new(file, key("name"), problem));
        } else if listed.iter().any(|earlier| earlier.name == environment.name) {
            errors.push(ManifestError::new(file, key("name"), format!("`{}` is listed twice", environment.name)));
        }
        if !(1..=MAX_APPROVAL_TIMEOUT_HOURS).contains(&environment.approval_timeout_hours) {
            let problem = format!(
                "must be between 1 and {MAX_APPROVAL_TIMEOUT_HOURS} hours, got {}",
                environment.approval_timeout_hours
            );
            errors.push(ManifestError::new(file, key("approval_timeout_hours"), problem));
        }
        listed.push(Environment {
            name: environment.name.clone(),
            approval: environment.approval,
            approval_timeout_hours: environment.approval_timeout_hours,
        });
    }
    listed
}

/// A manifest's `[environments.<name>]` (in `file`), validated on their own: the names, and
/// the names of the resources (by `check_name`, the manifest's own rules: `key` and value to a
/// problem). Whether each environment exists is the catalog's to check
/// ([`unknown_environments`]).
pub fn targets(
    file: &str,
    raw: &BTreeMap<String, RawTarget>,
    check_name: &dyn Fn(&str, &str) -> Option<String>,
    errors: &mut Vec<ManifestError>,
) -> BTreeMap<String, Target> {
    let mut targets = BTreeMap::new();
    for (name, target) in raw {
        let key = |field: &str| format!("environments.{name}.{field}");
        if !valid_environment_name(name) {
            let problem = format!("`{name}` is not an environment name");
            errors.push(ManifestError::new(file, format!("environments.{name}"), problem));
            continue;
        }
        for (field, value) in [
            ("cluster", Some(&target.cluster)),
            ("service", Some(&target.service)),
            ("container", target.container.as_ref()),
        ] {
            if let Some(problem) = value.and_then(|value| check_name(field, value)) {
                errors.push(ManifestError::new(file, key(field), problem));
            }
        }
        if let Some(minutes) = target.timeout_minutes
            && !(1..=crate::manifest::MAX_TIMEOUT_MINUTES).contains(&minutes)
        {
            let problem =
                format!("must be between 1 and {} minutes, got {minutes}", crate::manifest::MAX_TIMEOUT_MINUTES);
            errors.push(ManifestError::new(file, key("timeout_minutes"), problem));
        }
        targets.insert(
            name.clone(),
            Target {
                cluster: target.cluster.clone(),
                service: target.service.clone(),
                container: target.container.clone(),
                timeout_minutes: target.timeout_minutes,
            },
        );
    }
    targets
}

/// The problems of a manifest's targets against the repository's environments: a target for an
/// environment `deltaship.toml` does not list, or for the first one (which is `[deploy]`).
pub fn unknown_environments(
    manifest: &str,
    targets: &BTreeMap<String, Target>,
    environments: &[Environment],
) -> Vec<ManifestError> {
    let first = environments.first().map(|environment| environment.name.as_str());
    let names: Vec<&str> = environments.iter().map(|environment| environment.name.as_str()).collect();
    targets
        .keys()
        .filter_map(|name| {
            let problem = if Some(name.as_str()) == first {
                format!("`{name}` is the first environment: its target is [deploy]")
            } else if !names.contains(&name.as_str()) {
                format!("deltaship.toml lists no environment `{name}` (it lists {names:?})")
            } else {
                return None;
            };
            Some(ManifestError::new(manifest, format!("environments.{name}"), problem))
        })
        .collect()
}

/// One later environment a service is promoted into, as the execution input will carry it: in
/// pipeline order, with the gate's settings and the service's target there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// The environment.
    pub environment: String,
    /// Whether promotion into it waits for an approval.
    pub approval: bool,
    /// How long the approval may wait, in seconds.
    pub approval_timeout_seconds: u32,
    /// The ECS cluster there.
    pub cluster: String,
    /// The ECS service there.
    pub service: String,
    /// The container whose image is replaced.
    pub container: String,
    /// The rollout deadline there, in minutes.
    pub timeout_minutes: u32,
    /// The answer that let the service in: always `null` in the execution input; the state
    /// machine's *Wait for approval* sets it at the gate, and *Promote* makes it the service's
    /// [`crate::payloads::ServiceJob::answer`].
    #[serde(default)]
    pub answer: Option<crate::gates::Answer>,
}

/// The environments after the first that `service` is promoted into, in pipeline order: those
/// its manifest names a target for (the others are skipped: it is not deployed there). The
/// container and deadline default to its first environment's (`[deploy]`).
pub fn promotions(service: &crate::Service, environments: &[Environment]) -> Vec<Promotion> {
    environments
        .iter()
        .skip(1)
        .filter_map(|environment| {
            let target = service.environments.get(&environment.name)?;
            Some(Promotion {
                environment: environment.name.clone(),
                approval: environment.approval,
                approval_timeout_seconds: environment.approval_timeout_hours.saturating_mul(3600),
                cluster: target.cluster.clone(),
                service: target.service.clone(),
                container: target.container.clone().unwrap_or_else(|| service.deploy.container.clone()),
                timeout_minutes: target.timeout_minutes.unwrap_or(service.deploy.timeout_minutes),
                answer: None,
            })
        })
        .collect()
}

/// Whether `text` is an image digest as ECR gives it: `sha256:` and 64 lowercase hex digits.
pub fn is_digest(text: &str) -> bool {
    let hex = text.strip_prefix("sha256:").unwrap_or_default();
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The image a later environment deploys: the one the build pushed, by digest, so that every
/// environment runs the same bits whatever happens to the tag. `image` is the build's image
/// (`<registry>/<repository>:<tag>`), `digest` what the build exported as `IMAGE_DIGEST`
/// (`sha256:` and 64 hex digits). `None` without a digest; an error for one that is not a digest.
pub fn promoted_image(image: &str, digest: Option<&str>) -> Result<Option<String>, String> {
    let Some(digest) = digest.map(str::trim).filter(|digest| !digest.is_empty()) else { return Ok(None) };
    if !is_digest(digest) {
        return Err(format!("IMAGE_DIGEST {digest:?} is not a sha256 digest"));
    }
    // Strip the tag (after the last ':' that follows the last '/': a registry may have a port)
    // or an earlier digest.
    let repository = image.split('@').next().unwrap_or(image);
    let repository = match repository.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => repository,
    };
    Ok(Some(format!("{repository}@{digest}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_environments(text: &str) -> Vec<RawEnvironment> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            environments: Vec<RawEnvironment>,
        }
        toml::from_str::<File>(text).unwrap().environments
    }

    #[test]
    fn none_listed_is_the_one_default_environment() {
        let mut errors = Vec::new();
        assert_eq!(environments("deltaship.toml", &[], &mut errors), [Environment::default_environment()]);
        assert!(errors.is_empty());
    }

    #[test]
    fn environments_in_order_with_their_approvals() {
        let raw = raw_environments(
            "[[environments]]\nname = \"staging\"\n\n[[environments]]\nname = \"production\"\napproval = true\napproval_timeout_hours = 48\n",
        );
        let mut errors = Vec::new();
        let listed = environments("deltaship.toml", &raw, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            listed,
            [
                Environment { name: "staging".into(), approval: false, approval_timeout_hours: 24 },
                Environment { name: "production".into(), approval: true, approval_timeout_hours: 48 },
            ]
        );
    }

    #[test]
    fn bad_environments_are_named() {
        let table = [
            ("[[environments]]\nname = \"Prod\"\n", "environments[0].name", "not an environment name"),
            (
                "[[environments]]\nname = \"a\"\n[[environments]]\nname = \"a\"\n",
                "environments[1].name",
                "listed twice",
            ),
            (
                "[[environments]]\nname = \"a\"\napproval_timeout_hours = 0\n",
                "environments[0].approval_timeout_hours",
                "between 1",
            ),
            (
                "[[environments]]\nname = \"a\"\napproval_timeout_hours = 721\n",
                "environments[0].approval_timeout_hours",
                "between 1",
            ),
        ];
        for (text, key, problem) in table {
            let mut errors = Vec::new();
            environments("deltaship.toml", &raw_environments(text), &mut errors);
            assert!(
                errors.iter().any(|error| error.key.as_deref() == Some(key) && error.problem.contains(problem)),
                "{text}: {errors:?}"
            );
        }
        let many: Vec<RawEnvironment> = (0..=MAX_ENVIRONMENTS)
            .map(|index| RawEnvironment { name: format!("e{index}"), approval: false, approval_timeout_hours: 1 })
            .collect();
        let mut errors = Vec::new();
        environments("deltaship.toml", &many, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn targets_and_their_environments() {
        #[derive(Deserialize)]
        struct File {
            environments: BTreeMap<String, RawTarget>,
        }
        let raw = toml::from_str::<File>(
            "[environments.production]\ncluster = \"prod\"\nservice = \"users\"\n\n[environments.qa]\ncluster = \"bad name\"\nservice = \"users\"\ntimeout_minutes = 0\n",
        )
        .unwrap()
        .environments;
        let check = |_: &str, value: &str| value.contains(' ').then(|| format!("`{value}` has a space"));
        let mut errors = Vec::new();
        let targets = targets("s/service.toml", &raw, &check, &mut errors);
        let keys: Vec<&str> = errors.iter().filter_map(|error| error.key.as_deref()).collect();
        assert_eq!(keys, ["environments.qa.cluster", "environments.qa.timeout_minutes"]);
        assert_eq!(targets["production"].container, None);

        let listed = [
            Environment::default_environment(),
            Environment { name: "production".into(), approval: true, approval_timeout_hours: 24 },
        ];
        let problems = unknown_environments("s/service.toml", &targets, &listed);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].problem.contains("lists no environment `qa`"));
        let first = BTreeMap::from([("default".to_owned(), targets["production"].clone())]);
        let problems = unknown_environments("s/service.toml", &first, &listed);
        assert!(problems[0].problem.contains("its target is [deploy]"), "{problems:?}");
    }

    #[test]
    fn a_catalog_checks_targets_against_the_environments() {
        use crate::{Catalog, SourceFile};
        let settings = SourceFile::new(
            "deltaship.toml",
            "[[environments]]\nname = \"staging\"\n[[environments]]\nname = \"production\"\napproval = true\n",
        );
        let manifest = |name: &str, production: &str| {
            SourceFile::new(
                format!("services/{name}/service.toml"),
                format!(
                    "[build]\nproject = \"build-{name}\"\n[deploy]\ncluster = \"staging\"\nservice = \"{name}\"\n\
                     container = \"app\"\nimage_repository = \"shop/{name}\"\n{production}"
                ),
            )
        };
        let promoted = "[environments.production]\ncluster = \"prod\"\nservice = \"users\"\n";
        let catalog = Catalog::load(Some(&settings), &[manifest("users", promoted), manifest("docs", "")]).unwrap();
        let names: Vec<&str> = catalog.settings().environments().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["staging", "production"]);
        assert_eq!(catalog.service("users").unwrap().environments["production"].cluster, "prod");
        assert!(catalog.service("docs").unwrap().environments.is_empty(), "not promoted: staging only");

        // Two services on one production service; a target for an environment not listed.
        let error = Catalog::load(
            Some(&settings),
            &[
                manifest("users", promoted),
                manifest("admin", promoted),
                manifest("web", "[environments.qa]\ncluster = \"q\"\nservice = \"web\"\n"),
            ],
        )
        .unwrap_err();
        let shown = error.to_string();
        assert!(shown.contains("already deployed in production by services/admin/service.toml"), "{shown}");
        assert!(shown.contains("lists no environment `qa`"), "{shown}");
    }

    #[test]
    fn promotions_follow_the_environments_a_service_names() {
        use crate::{Catalog, SourceFile};
        let settings = SourceFile::new(
            "deltaship.toml",
            "[[environments]]\nname = \"staging\"\n[[environments]]\nname = \"qa\"\n\
             [[environments]]\nname = \"production\"\napproval = true\napproval_timeout_hours = 2\n",
        );
        let manifest = SourceFile::new(
            "services/users/service.toml",
            "[build]\nproject = \"build-users\"\n[deploy]\ncluster = \"staging\"\nservice = \"users\"\n\
             container = \"app\"\nimage_repository = \"shop/users\"\ntimeout_minutes = 20\n\
             [environments.production]\ncluster = \"prod\"\nservice = \"users-prod\"\ntimeout_minutes = 45\n",
        );
        let catalog = Catalog::load(Some(&settings), &[manifest]).unwrap();
        let service = catalog.service("users").unwrap();
        // Not qa (no target there); production with its gate, [deploy]'s container.
        assert_eq!(
            promotions(service, catalog.settings().environments()),
            [Promotion {
                environment: "production".into(),
                approval: true,
                approval_timeout_seconds: 7200,
                cluster: "prod".into(),
                service: "users-prod".into(),
                container: "app".into(),
                timeout_minutes: 45,
                answer: None,
            }]
        );
        assert!(promotions(service, &[Environment::default_environment()]).is_empty());
    }

    #[test]
    fn the_promoted_image_is_the_builds_by_digest() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let table = [
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users:7f01",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users",
            ),
            ("localhost:5000/shop/users:abc", "localhost:5000/shop/users"),
            ("localhost:5000/shop/users", "localhost:5000/shop/users"),
            ("registry.example.com/users@sha256:00", "registry.example.com/users"),
        ];
        for (image, repository) in table {
            assert_eq!(promoted_image(image, Some(&digest)), Ok(Some(format!("{repository}@{digest}"))), "{image}");
        }
        assert_eq!(promoted_image("shop/users:abc", None), Ok(None));
        assert_eq!(promoted_image("shop/users:abc", Some(" ")), Ok(None));
        assert!(promoted_image("shop/users:abc", Some("sha256:xyz")).is_err());
        assert!(promoted_image("shop/users:abc", Some(&"ab".repeat(32))).is_err());
    }
}
