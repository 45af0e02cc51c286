//! The sample system in this repository (`services/`, `sam/infrastructure.yaml`): its real
//! manifests, read from the working tree as the git reader would find them, planned by the core;
//! and the names the manifests, Dockerfiles, buildspecs and the template must agree on.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use deltaship_core::manifest::{MANIFEST_FILE, SERVICES_DIR};
use deltaship_core::settings::SETTINGS_FILE;
use deltaship_core::{Catalog, Change, SourceFile};

/// The repository's root (this crate is `tests/` in it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|error| panic!("read {path}: {error}"))
}

/// `deltaship.toml` (if any) and every `services/<name>/service.toml` there is, as the git reader
/// collects them: a folder without a manifest (the shared crate) is no service.
fn catalog() -> Catalog {
    let settings = fs::read(root().join(SETTINGS_FILE)).ok().map(|bytes| SourceFile::new(SETTINGS_FILE, bytes));
    let mut manifests = Vec::new();
    for entry in fs::read_dir(root().join(SERVICES_DIR)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if let Ok(bytes) = fs::read(entry.path().join(MANIFEST_FILE)) {
            manifests.push(SourceFile::new(format!("{SERVICES_DIR}/{name}/{MANIFEST_FILE}"), bytes));
        }
    }
    Catalog::load(settings.as_ref(), &manifests).unwrap_or_else(|error| panic!("the sample's manifests: {error}"))
}

/// The services a push that modifies `paths` deploys, by name.
fn planned(catalog: &Catalog, paths: &[&str]) -> Vec<String> {
    let changes: Vec<Change> = paths.iter().map(|path| Change::Modified((*path).to_owned())).collect();
    catalog.plan(&changes).services.iter().map(|planned| planned.service.name.clone()).collect()
}

const SERVICES: [&str; 2] = ["product-service", "user-service"];

#[test]
fn the_two_services_are_the_folders_with_a_manifest() {
    let catalog = catalog();
    let names: Vec<&str> = catalog.services().iter().map(|service| service.name.as_str()).collect();
    assert_eq!(names, SERVICES);
    assert!(root().join("services/common/Cargo.toml").is_file(), "the shared crate is there");
    assert!(catalog.service("common").is_none(), "and it is not a service");
}

#[test]
fn each_change_deploys_the_services_that_contain_or_depend_on_it() {
    let catalog = catalog();
    let both = vec!["product-service".to_owned(), "user-service".to_owned()];
    let cases: &[(&str, Vec<String>)] = &[
        ("services/common/src/lib.rs", both.clone()),
        ("services/common/Cargo.toml", both.clone()),
        ("services/user-service/src/main.rs", vec!["user-service".to_owned()]),
        ("services/user-service/buildspec.yml", vec!["user-service".to_owned()]),
        ("services/product-service/src/lib.rs", vec!["product-service".to_owned()]),
        ("services/product-service/Dockerfile", vec!["product-service".to_owned()]),
        // Documentation, here or in the shared crate, deploys nothing.
        ("services/user-service/README.md", vec![]),
        ("services/common/README.md", vec![]),
        // Nor does anything outside the services: the lock file included (see docs/manifests.md).
        ("Cargo.lock", vec![]),
        ("Cargo.toml", vec![]),
        ("sam/infrastructure.yaml", vec![]),
        ("lambdas/core/src/lib.rs", vec![]),
        ("README.md", vec![]),
    ];
    for (path, expected) in cases {
        assert_eq!(&planned(&catalog, &[path]), expected, "a change to {path}");
    }
    let together = planned(&catalog, &["services/user-service/src/lib.rs", "services/product-service/src/lib.rs"]);
    assert_eq!(together, both);
}

/// What `sam/infrastructure.yaml` creates with its default `SystemName`, and the manifests name.
#[test]
fn manifests_name_what_the_template_creates() {
    let template = read("sam/infrastructure.yaml");
    assert!(
        template.contains("  SystemName:\n    Type: String\n    Default: deltaship-sample\n"),
        "default SystemName"
    );
    assert!(template.contains("      ClusterName: !Ref SystemName\n"));
    let catalog = catalog();
    for name in SERVICES {
        let service = catalog.service(name).unwrap();
        assert_eq!(service.build.project, format!("deltaship-sample-{name}"));
        assert_eq!(service.deploy.cluster, "deltaship-sample");
        assert_eq!(service.deploy.service, name);
        assert_eq!(service.deploy.container, "app");
        assert_eq!(service.deploy.image_repository, format!("deltaship-sample/{name}"));
        for expected in [
            format!("      ServiceName: {name}\n"),
            format!("      Name: !Sub \"${{SystemName}}-{name}\"\n"),
            format!("      RepositoryName: !Sub \"${{SystemName}}/{name}\"\n"),
            format!("      Family: !Sub \"${{SystemName}}-{name}\"\n"),
            format!("        BuildSpec: services/{name}/buildspec.yml\n"),
        ] {
            assert!(template.contains(&expected), "the template has `{}`", expected.trim());
        }
    }
    // Both task definitions name the container `app`, and nothing else is a container name.
    assert_eq!(template.matches("        - Name: app\n").count(), 2);
    assert_eq!(template.matches("        - ContainerName: app\n").count(), 2);
}

/// Each service's package, Dockerfile and buildspec build the same thing, from the repository
/// root, for the same architecture the task definitions run.
#[test]
fn packages_dockerfiles_and_buildspecs_agree() {
    let template = read("sam/infrastructure.yaml");
    assert_eq!(template.matches("CpuArchitecture: X86_64").count(), 2);
    assert_eq!(template.matches("Image: aws/codebuild/amazonlinux-x86_64-standard:").count(), 2);
    let workspace = read("Cargo.toml");
    for name in SERVICES {
        assert!(read(&format!("services/{name}/Cargo.toml")).contains(&format!("name = \"{name}\"\n")));
        let member = workspace.contains("\"services/*\"") || workspace.contains(&format!("\"services/{name}\""));
        assert!(member, "{name} is a workspace member");
        let dockerfile = read(&format!("services/{name}/Dockerfile"));
        assert!(dockerfile.contains(&format!("cargo build --release --locked -p {name} ")), "{name}/Dockerfile");
        assert!(dockerfile.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{name}\"]")), "{name}/Dockerfile");
        assert!(dockerfile.contains("\nUSER 65532:65532\n"), "{name} runs as non-root");
        let buildspec = read(&format!("services/{name}/buildspec.yml"));
        assert!(buildspec.contains(&format!("    SERVICE_DIR: services/{name}\n")), "{name}/buildspec.yml");
        assert!(buildspec.contains("  exported-variables:\n    - IMAGE_URI\n"), "{name}/buildspec.yml");
    }
    let member = workspace.contains("\"services/*\"") || workspace.contains("\"services/common\"");
    assert!(member, "the shared crate is a workspace member");
}
