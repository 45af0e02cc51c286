//! Service manifests: `<service folder>/service.toml`, validated strictly.
//!
//! A service is a folder that one of the repository's service roots matches (`services/*` by
//! default: [`crate::roots`]) holding a `service.toml`; its name is the folder's name:
//!
//! ```toml
//! name = "users"                     # default: the folder's name
//! # Paths and globs are relative to this folder; `..` may leave it but not the repository.
//! watch = ["."]                      # default: the whole folder
//! ignore = ["docs", "**/*.md"]       # never deploy for these
//! depends_on = ["../common"]         # shared code elsewhere in the repository
//!
//! [build]
//! project = "user-service"           # CodeBuild project
//! timeout_minutes = 60               # how long deltaship waits for a build (default 60)
//!
//! [deploy]
//! cluster = "shop"                   # ECS cluster (name or ARN)
//! service = "user-service"           # ECS service (name or ARN)
//! container = "app"                  # container whose image is replaced
//! image_repository = "user-service"  # ECR repository (name or URI)
//! timeout_minutes = 30               # rollout deadline (default 30)
//! ```
//!
//! An entry of `watch`, `ignore` or `depends_on` is a path or a glob, relative to the service's
//! folder (see [`crate::paths`] for what each stands for). Repository-wide settings are [`crate::settings`].
//!
//! Unknown keys, empty or malformed names, globs that do not compile, and paths that leave the
//! repository are errors that name the file, the key and the problem.

use serde::{Deserialize, Serialize};

use crate::paths::resolve_list;
use crate::source::{ManifestError, SourceFile, parse_toml};

/// The manifest's file name inside a service folder.
pub const MANIFEST_FILE: &str = "service.toml";
/// The rollout deadline when a manifest does not set `deploy.timeout_minutes`.
pub const DEFAULT_TIMEOUT_MINUTES: u32 = 30;
/// How long deltaship waits for a build when a manifest does not set `build.timeout_minutes`:
/// CodeBuild's default project timeout.
pub const DEFAULT_BUILD_TIMEOUT_MINUTES: u32 = 60;
/// The shortest and the longest build deadline a manifest may set: CodeBuild's own limits for a
/// project's timeout (5 minutes to 36 hours).
pub const BUILD_TIMEOUT_RANGE: (u32, u32) = (5, 36 * 60);
/// The longest rollout deadline a manifest may set (one day).
pub const MAX_TIMEOUT_MINUTES: u32 = 24 * 60;

/// One deployable service, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// The service's name: `name` in its manifest, else its folder's last component.
    pub name: String,
    /// Its folder, e.g. `services/user-service`.
    pub folder: String,
    /// Its manifest, e.g. `services/user-service/service.toml`.
    pub manifest: String,
    /// How it is built.
    pub build: Build,
    /// Where it runs.
    pub deploy: Deploy,
    /// Repository-relative patterns of its own sources.
    pub watch: Vec<String>,
    /// Repository-relative patterns that never deploy it.
    pub ignore: Vec<String>,
    /// Repository-relative patterns of what it depends on outside its folder.
    pub depends_on: Vec<String>,
    /// Its targets in the environments after the first, by environment (`[environments.<name>]`;
    /// [`crate::environments`]). `[deploy]` is its target in the first.
    #[serde(default)]
    pub environments: std::collections::BTreeMap<String, crate::environments::Target>,
}

/// How a service is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// The CodeBuild project.
    pub project: String,
    /// How long deltaship waits for a build before it counts as failed (it should be at least
    /// the project's own timeout); it also bounds the execution's worst-case history
    /// ([`crate::budget`]).
    pub timeout_minutes: u32,
}

/// Where a service runs on ECS, and how long its rollout may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    /// The ECS cluster, by name or ARN.
    pub cluster: String,
    /// The ECS service, by name or ARN.
    pub service: String,
    /// The container in the task definition whose image is replaced.
    pub container: String,
    /// The ECR repository the build pushes to, by name or URI.
    pub image_repository: String,
    /// How long a rollout may take before it counts as failed and is rolled back.
    pub timeout_minutes: u32,
}

impl Deploy {
    /// The ECS target as (cluster name, service name), with ARNs reduced to names, so that the same
    /// service written two ways is recognised as one.
    pub fn target(&self) -> (&str, &str) {
        (resource_name(&self.cluster), resource_name(&self.service))
    }
}

/// The name in a resource's name or ARN: an ARN (`arn:...:service/shop/users`) is reduced to its
/// last path segment (`users`); a name is itself.
pub fn resource_name(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") { name_or_arn.rsplit('/').next().unwrap_or(name_or_arn) } else { name_or_arn }
}

/// Reads and validates a `service.toml`: the service's folder is the file's, and its name the
/// folder's last component. (Whether a root matches the folder is the catalog's to check.)
pub fn parse_service(file: &SourceFile) -> Result<Service, Vec<ManifestError>> {
    let path = file.path.as_str();
    let (folder_name, folder) =
        service_location(path).map_err(|problem| vec![ManifestError::new(path, None, problem)])?;
    let raw: RawManifest = parse_toml(file).map_err(|error| vec![error])?;
    let mut errors = Vec::new();
    let name = match &raw.name {
        Some(name) if !valid_service_name(name) => {
            errors.push(ManifestError::new(path, "name".to_owned(), name_problem(name)));
            name.clone()
        }
        Some(name) => name.clone(),
        None if !valid_service_name(&folder_name) => {
            let problem = format!(
                "{} (set `name` in the manifest, or rename the folder)",
                name_problem(&folder_name).replacen("service name", "service folder name", 1)
            );
            errors.push(ManifestError::new(path, None, problem));
            folder_name
        }
        None => folder_name,
    };
    let mut check = |key: &str, value: &str, rule: NameRule| {
        if let Err(problem) = rule.check(value) {
            errors.push(ManifestError::new(path, key.to_owned(), problem));
        }
    };
    check("build.project", &raw.build.project, NameRule::CodeBuildProject);
    check("deploy.cluster", &raw.deploy.cluster, NameRule::EcsNameOrArn);
    check("deploy.service", &raw.deploy.service, NameRule::EcsNameOrArn);
    check("deploy.container", &raw.deploy.container, NameRule::EcsName);
    check("deploy.image_repository", &raw.deploy.image_repository, NameRule::EcrRepository);
    if !(1..=MAX_TIMEOUT_MINUTES).contains(&raw.deploy.timeout_minutes) {
        let problem =
            format!("must be between 1 and {MAX_TIMEOUT_MINUTES} minutes, got {}", raw.deploy.timeout_minutes);
        errors.push(ManifestError::new(path, "deploy.timeout_minutes".to_owned(), problem));
    }
    let (shortest, longest) = BUILD_TIMEOUT_RANGE;
    if !(shortest..=longest).contains(&raw.build.timeout_minutes) {
        let problem = format!("must be between {shortest} and {longest} minutes, got {}", raw.build.timeout_minutes);
        errors.push(ManifestError::new(path, "build.timeout_minutes".to_owned(), problem));
    }

    let watch = match &raw.watch {
        Some(watch) if watch.is_empty() => {
            let problem = "must not be empty (leave `watch` out to watch the service's whole folder)";
            errors.push(ManifestError::new(path, "watch".to_owned(), problem));
            Vec::new()
        }
        Some(watch) => resolve_list(path, &folder, "watch", watch, &mut errors),
        None => vec![folder.clone()],
    };
    let ignore = resolve_list(path, &folder, "ignore", &raw.ignore, &mut errors);
    let depends_on = resolve_list(path, &folder, "depends_on", &raw.depends_on, &mut errors);
    let check_target = |field: &str, value: &str| {
        let rule = if field == "container" { NameRule::EcsName } else { NameRule::EcsNameOrArn };
        rule.check(value).err()
    };
    let environments = crate::environments::targets(path, &raw.environments, &check_target, &mut errors);

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Service {
        name,
        folder,
        manifest: path.to_owned(),
        build: Build { project: raw.build.project, timeout_minutes: raw.build.timeout_minutes },
        deploy: Deploy {
            cluster: raw.deploy.cluster,
            service: raw.deploy.service,
            container: raw.deploy.container,
            image_repository: raw.deploy.image_repository,
            timeout_minutes: raw.deploy.timeout_minutes,
        },
        watch,
        ignore,
        depends_on,
        environments,
    })
}

/// The service's folder from its manifest path, and the folder's name, the service's unless
/// the manifest says `name`.
fn service_location(path: &str) -> Result<(String, String), String> {
    let folder = path
        .strip_suffix(MANIFEST_FILE)
        .and_then(|folder| folder.strip_suffix('/'))
        .filter(|folder| !folder.is_empty())
        .ok_or_else(|| format!("a service manifest must be a service folder's {MANIFEST_FILE}"))?;
    Ok((crate::roots::service_name(folder).to_owned(), folder.to_owned()))
}

/// Whether `name` is usable everywhere a service's name goes (Step Functions, CodeBuild
/// environment, logs): 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit.
pub fn valid_service_name(name: &str) -> bool {
    name.len() <= 63
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

const fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MINUTES
}

const fn default_build_timeout() -> u32 {
    DEFAULT_BUILD_TIMEOUT_MINUTES
}

/// Why `name` is not a service name.
fn name_problem(name: &str) -> String {
    format!("service name `{name}` must be 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    watch: Option<Vec<String>>,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    build: RawBuild,
    deploy: RawDeploy,
    #[serde(default)]
    environments: std::collections::BTreeMap<String, crate::environments::RawTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    project: String,
    #[serde(default = "default_build_timeout")]
    timeout_minutes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeploy {
    cluster: String,
    service: String,
    container: String,
    image_repository: String,
    #[serde(default = "default_timeout")]
    timeout_minutes: u32,
}

/// AWS naming rules for the resources a manifest names.
#[derive(Clone, Copy)]
enum NameRule {
    /// CodeBuild: 2 to 255 letters, digits, '-' or '_', starting with a letter or digit.
    CodeBuildProject,
    /// ECS cluster, service and container names: 1 to 255 letters, digits, '-' or '_'.
    EcsName,
    /// An ECS name, or the ARN of the resource.
    EcsNameOrArn,
    /// ECR repository: lower-case name segments, optionally behind a registry host.
    EcrRepository,
}

impl NameRule {
    fn check(self, value: &str) -> Result<(), String> {
        if value.is_empty() {
            return Err("must not be empty".to_owned());
        }
        let word = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
        let ok = match self {
            Self::CodeBuildProject => {
                (2..=255).contains(&value.len())
                    && value.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                    && value.bytes().all(word)
            }
            Self::EcsName => value.len() <= 255 && value.bytes().all(word),
            Self::EcsNameOrArn if value.starts_with("arn:") => {
                value.len() <= 1600
                    && value.split(':').nth(2) == Some("ecs")
                    && value.rsplit('/').next().is_some_and(|name| !name.is_empty() && name.bytes().all(word))
            }
            Self::EcsNameOrArn => value.len() <= 255 && value.bytes().all(word),
            Self::EcrRepository => is_ecr_repository(value),
        };
        if ok {
            return Ok(());
        }
        let rule = match self {
            Self::CodeBuildProject => "a CodeBuild project name (2 to 255 letters, digits, '-' or '_')",
            Self::EcsName => "an ECS name (1 to 255 letters, digits, '-' or '_')",
            Self::EcsNameOrArn => "an ECS name (1 to 255 letters, digits, '-' or '_') or an ECS ARN",
            Self::EcrRepository => "an ECR repository name (lower-case letters, digits, '.', '_', '-', '/') or URI",
        };
        Err(format!("`{value}` is not {rule}"))
    }
}

fn is_ecr_repository(value: &str) -> bool {
    // `<registry host>/<name>` or `<name>`; a host is recognised by its dots.
    let name = match value.split_once('/') {
        Some((host, rest)) if host.contains('.') => {
            if !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':')) {
                return false;
            }
            rest
        }
        _ => value,
    };
    let segment_ok = |segment: &str| {
        !segment.is_empty()
            && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
            && segment.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && segment.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
    };
    (2..=256).contains(&name.len()) && name.split('/').all(segment_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
watch = ["src", "Cargo.toml"]
ignore = ["docs", "**/*.md"]
depends_on = ["../common"]

[build]
project = "user-service"

[deploy]
cluster = "shop"
service = "user-service"
container = "app"
image_repository = "shop/user-service"
"#;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile::new(path, text.as_bytes())
    }

    #[test]
    fn parses_a_full_manifest() {
        let service = parse_service(&file("services/user-service/service.toml", GOOD)).unwrap();
        assert_eq!(service.name, "user-service");
        assert_eq!(service.folder, "services/user-service");
        assert_eq!(service.watch, ["services/user-service/src", "services/user-service/Cargo.toml"]);
        assert_eq!(service.ignore, ["services/user-service/docs", "services/user-service/**/*.md"]);
        assert_eq!(service.depends_on, ["services/common"]);
        assert_eq!(service.build.project, "user-service");
        assert_eq!(service.deploy.timeout_minutes, DEFAULT_TIMEOUT_MINUTES);
        assert_eq!(service.build.timeout_minutes, DEFAULT_BUILD_TIMEOUT_MINUTES);
        assert_eq!(service.manifest, "services/user-service/service.toml");
    }

    #[test]
    fn watch_defaults_to_the_service_folder() {
        let text = GOOD.replace(r#"watch = ["src", "Cargo.toml"]"#, "");
        let service = parse_service(&file("services/api/service.toml", &text)).unwrap();
        assert_eq!(service.watch, ["services/api"]);
    }

    /// Each broken manifest, and the key and words its error must carry.
    #[test]
    fn broken_manifests_name_file_key_and_problem() {
        let replace = |from: &str, to: &str| GOOD.replace(from, to);
        let table: Vec<(&str, String, Option<&str>, &str)> = vec![
            ("unknown top key", format!("colour = \"red\"\n{GOOD}"), Some("colour"), "unknown field `colour`"),
            (
                "unknown nested key",
                replace("container = \"app\"", "container = \"app\"\nclustr = \"x\""),
                Some("deploy.clustr"),
                "unknown field `clustr`",
            ),
            ("missing key", replace("cluster = \"shop\"", ""), Some("deploy"), "missing field `cluster`"),
            ("missing table", replace("[build]\nproject = \"user-service\"", ""), None, "missing field `build`"),
            (
                "wrong type",
                replace("cluster = \"shop\"", "cluster = 5"),
                Some("deploy.cluster"),
                "invalid type: integer `5`",
            ),
            (
                "wrong list type",
                replace(r#"ignore = ["docs", "**/*.md"]"#, "ignore = \"docs\""),
                Some("ignore"),
                "invalid type",
            ),
            (
                "empty project",
                replace("project = \"user-service\"", "project = \"\""),
                Some("build.project"),
                "must not be empty",
            ),
            (
                "empty cluster",
                replace("cluster = \"shop\"", "cluster = \"\""),
                Some("deploy.cluster"),
                "must not be empty",
            ),
            (
                "empty service",
                replace("service = \"user-service\"", "service = \"\""),
                Some("deploy.service"),
                "must not be empty",
            ),
            (
                "empty container",
                replace("container = \"app\"", "container = \"\""),
                Some("deploy.container"),
                "must not be empty",
            ),
            (
                "bad container",
                replace("container = \"app\"", "container = \"my app\""),
                Some("deploy.container"),
                "is not an ECS name",
            ),
            (
                "bad project",
                replace("project = \"user-service\"", "project = \"-x\""),
                Some("build.project"),
                "CodeBuild project",
            ),
            (
                "build deadline too short",
                replace("project = \"user-service\"", "project = \"user-service\"\ntimeout_minutes = 4"),
                Some("build.timeout_minutes"),
                "between 5 and 2160 minutes, got 4",
            ),
            (
                "build deadline too long",
                replace("project = \"user-service\"", "project = \"user-service\"\ntimeout_minutes = 2161"),
                Some("build.timeout_minutes"),
                "between 5 and 2160 minutes",
            ),
            (
                "bad repository",
                replace("image_repository = \"shop/user-service\"", "image_repository = \"Shop\""),
                Some("deploy.image_repository"),
                "ECR repository",
            ),
            (
                "bad cluster arn",
                replace("cluster = \"shop\"", "cluster = \"arn:aws:s3:::bucket\""),
                Some("deploy.cluster"),
                "ECS ARN",
            ),
            (
                "zero timeout",
                replace("container = \"app\"", "container = \"app\"\ntimeout_minutes = 0"),
                Some("deploy.timeout_minutes"),
                "between 1 and 1440",
            ),
            (
                "negative timeout",
                replace("container = \"app\"", "container = \"app\"\ntimeout_minutes = -3"),
                Some("deploy.timeout_minutes"),
                "invalid value",
            ),
            (
                "bad glob",
                replace(r#"ignore = ["docs", "**/*.md"]"#, r#"ignore = ["docs", "src/[a"]"#),
                Some("ignore[1]"),
                "not a valid glob",
            ),
            (
                "escaping path",
                replace(r#"depends_on = ["../common"]"#, r#"depends_on = ["../../../etc"]"#),
                Some("depends_on[0]"),
                "leaves the repository",
            ),
            (
                "absolute path",
                replace(r#"depends_on = ["../common"]"#, r#"depends_on = ["/etc/passwd"]"#),
                Some("depends_on[0]"),
                "is absolute",
            ),
            (
                "backslash",
                replace(r#"depends_on = ["../common"]"#, r#"depends_on = ["..\\common"]"#),
                Some("depends_on[0]"),
                "backslash",
            ),
            (
                "dotdot after glob",
                replace(r#"watch = ["src", "Cargo.toml"]"#, r#"watch = ["src/*/../x"]"#),
                Some("watch[0]"),
                "after a wildcard",
            ),
            (
                "empty entry",
                replace(r#"watch = ["src", "Cargo.toml"]"#, r#"watch = ["src", " "]"#),
                Some("watch[1]"),
                "must not be empty",
            ),
            (
                "empty watch",
                replace(r#"watch = ["src", "Cargo.toml"]"#, "watch = []"),
                Some("watch"),
                "must not be empty",
            ),
            ("syntax", replace("[deploy]", "[deploy"), None, "is not valid TOML"),
        ];
        for (name, text, key, problem) in table {
            let errors = parse_service(&file("services/user-service/service.toml", &text)).unwrap_err();
            let error = errors.first().unwrap();
            assert_eq!(error.file, "services/user-service/service.toml", "{name}");
            assert_eq!(error.key.as_deref(), key, "{name}: {error}");
            assert!(error.problem.contains(problem), "{name}: {error}");
            let shown = error.to_string();
            assert!(shown.starts_with("services/user-service/service.toml"), "{name}: {shown}");
            if let Some(key) = key {
                assert!(shown.contains(&format!("key `{key}`")), "{name}: {shown}");
            }
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text =
            GOOD.replace("cluster = \"shop\"", "cluster = \"\"").replace("container = \"app\"", "container = \"\"");
        let errors = parse_service(&file("services/user-service/service.toml", &text)).unwrap_err();
        let keys: Vec<_> = errors.iter().filter_map(|e| e.key.as_deref()).collect();
        assert_eq!(keys, ["deploy.cluster", "deploy.container"]);
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let errors = parse_service(&file("services/a/service.toml", "\n\n[deploy\n")).unwrap_err();
        assert_eq!(errors.first().unwrap().line, Some(3), "{errors:?}");
        assert!(errors.first().unwrap().to_string().starts_with("services/a/service.toml:3: "));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let errors = parse_service(&SourceFile::new("services/a/service.toml", vec![0xff, 0xfe])).unwrap_err();
        assert!(errors.first().unwrap().problem.contains("UTF-8"));
    }

    #[test]
    fn manifest_location_and_folder_names() {
        // Whether a root matches the folder is the catalog's question (`crate::roots`): here any
        // folder will do, and its last component is the name.
        for (path, name) in [
            ("services/api/service.toml", Some("api")),
            ("services/api.v2_x-y/service.toml", Some("api.v2_x-y")),
            ("services/a/b/service.toml", Some("b")),
            ("src/api/service.toml", Some("api")),
            ("teams/a/services/x/service.toml", Some("x")),
            ("service.toml", None),
            ("services/api/service.tom", None),
            ("services/my api/service.toml", None),
            ("services/-api/service.toml", None),
            ("services/.hidden/service.toml", None),
        ] {
            let result = parse_service(&file(path, GOOD));
            assert_eq!(result.as_ref().ok().map(|service| service.name.as_str()), name, "{path}: {result:?}");
            if let Ok(service) = result {
                assert_eq!(service.folder, path.trim_end_matches("/service.toml"));
            }
        }
        // `name` names it whatever the folder is called; a bad `name` is named as such.
        let named = format!("name = \"apps-web\"\n{GOOD}");
        let service = parse_service(&file("apps/my web/service.toml", &named)).unwrap();
        assert_eq!((service.name.as_str(), service.folder.as_str()), ("apps-web", "apps/my web"));
        let errors = parse_service(&file("apps/web/service.toml", &format!("name = \"-web\"\n{GOOD}"))).unwrap_err();
        assert_eq!(errors[0].key.as_deref(), Some("name"), "{errors:?}");
        let errors = parse_service(&file("apps/my web/service.toml", GOOD)).unwrap_err();
        assert!(errors[0].problem.contains("set `name` in the manifest"), "{errors:?}");
    }

    #[test]
    fn ecr_repository_names() {
        for ok in [
            "ab",
            "shop/user-service",
            "a.b_c-d",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api",
            "localhost.localdomain:5000/x1",
        ] {
            assert!(is_ecr_repository(ok), "{ok}");
        }
        for bad in ["a", "Upper", "a//b", "-a", "a-", "shop/", "host.com/", "ex ample"] {
            assert!(!is_ecr_repository(bad), "{bad}");
        }
    }

    #[test]
    fn targets_reduce_arns_to_names() {
        let deploy = Deploy {
            cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/shop".into(),
            service: "arn:aws:ecs:eu-west-1:123456789012:service/shop/api".into(),
            container: "app".into(),
            image_repository: "api".into(),
            timeout_minutes: 30,
        };
        assert_eq!(deploy.target(), ("shop", "api"));
    }
}
