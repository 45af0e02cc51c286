//! `deltaship init`'s proposals ([`deltaship_core::adopt`]) on repository layouts, each checked
//! against the invariants every proposal must hold (`check`): every root valid, every service
//! folder matched by exactly one root at its depth, every name valid and unique, every proposed
//! manifest valid under the manifest's rules, and the proposed `deltaship.toml` valid TOML.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, HashSet};

use deltaship_core::Catalog;
use deltaship_core::SourceFile;
use deltaship_core::adopt::{Proposal, ProposedService, propose, settings_text};
use deltaship_core::manifest::parse_service;
use deltaship_core::paths::{is_glob, resolve_pattern};
use proptest::prelude::*;
use serde::Deserialize;

/// Proposes for a repository of `files` (path, text) and checks the invariants.
fn run(repository: &str, files: &[(&str, &str)]) -> Proposal {
    let contents: BTreeMap<String, String> =
        files.iter().map(|(path, text)| ((*path).to_owned(), (*text).to_owned())).collect();
    let paths: Vec<String> = contents.keys().cloned().collect();
    let proposal = propose(repository, &paths, |path| contents.get(path).cloned());
    check(&proposal, &paths);
    proposal
}

fn service<'p>(proposal: &'p Proposal, folder: &str) -> &'p ProposedService {
    proposal
        .services
        .iter()
        .find(|service| service.folder == folder)
        .unwrap_or_else(|| panic!("no {folder}: {proposal:#?}"))
}

fn folders(proposal: &Proposal) -> Vec<&str> {
    proposal.services.iter().map(|service| service.folder.as_str()).collect()
}

/// Whether a root (components folder names or `*`) matches a folder, at the root's depth.
fn root_matches(root: &str, folder: &str) -> bool {
    root.split('/').count() == folder.split('/').count()
        && root.split('/').zip(folder.split('/')).all(|(r, f)| r == "*" || r == f)
}

#[derive(Deserialize)]
struct DependsOn {
    #[serde(default)]
    depends_on: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposedSettings {
    services: Option<Vec<String>>,
}

/// The invariants of every proposal.
fn check(proposal: &Proposal, paths: &[String]) {
    let Proposal { roots, services, skipped } = proposal;

    // Roots: sorted, unique, valid (each component a folder name or `*`; no `**`; not the root).
    assert!(roots.windows(2).all(|pair| pair[0] < pair[1]), "roots sorted and unique: {roots:?}");
    for root in roots {
        assert_eq!(resolve_pattern("", root).as_deref(), Ok(root.as_str()), "{root} is normalised");
        assert!(!root.is_empty() && !root.contains("**"), "{root}");
        for part in root.split('/') {
            assert!(
                part == "*" || (!part.is_empty() && !is_glob(part) && part != "." && part != ".."),
                "root {root}: component `{part}`"
            );
        }
        assert!(services.iter().any(|service| root_matches(root, &service.folder)), "{root} matches no service");
    }
    // No folder, service or not, is matched by two roots.
    for (index, a) in roots.iter().enumerate() {
        for b in roots.iter().skip(index + 1) {
            let overlap = a.split('/').count() == b.split('/').count()
                && a.split('/').zip(b.split('/')).all(|(x, y)| x == y || x == "*" || y == "*");
            assert!(!overlap, "{a} and {b} match the same folders");
        }
    }

    // Services: sorted by folder; each folder matched by exactly one root; names valid, unique.
    assert!(services.windows(2).all(|pair| pair[0].folder < pair[1].folder), "services sorted by folder");
    let mut names = HashSet::new();
    for service in services {
        let ProposedService { name, folder, evidence, depends_on, manifest } = service;
        let matching: Vec<&String> = roots.iter().filter(|root| root_matches(root, folder)).collect();
        assert_eq!(matching.len(), 1, "{folder} is matched by {matching:?}");
        assert!(
            (1..=63).contains(&name.len())
                && name.bytes().next().unwrap().is_ascii_alphanumeric()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
            "{name}"
        );
        assert!(names.insert(name.to_ascii_lowercase()), "{name} twice");

        assert!(!evidence.is_empty() && evidence.windows(2).all(|pair| pair[0] < pair[1]), "{evidence:?}");
        for file in evidence {
            assert!(paths.contains(file), "{file}");
            assert!(file.starts_with(&format!("{folder}/")), "{file} is not in {folder}");
            if !file.chars().any(char::is_control) {
                assert!(manifest.contains(file.as_str()), "{name}'s manifest names {file}:\n{manifest}");
            }
        }

        // depends_on: as written in the manifest, sorted, each resolving from the folder to a
        // path outside it.
        let written: DependsOn = toml::from_str(manifest).unwrap();
        assert_eq!(&written.depends_on, depends_on, "{name}");
        assert!(depends_on.windows(2).all(|pair| pair[0] < pair[1]), "{depends_on:?}");
        let resolved: Vec<String> = depends_on.iter().map(|entry| resolve_pattern(folder, entry).unwrap()).collect();
        for target in &resolved {
            assert!(*target != *folder && !target.starts_with(&format!("{folder}/")), "{target} is inside {folder}");
        }

        // The manifest validates as is, at its own folder, under its proposed name.
        let parsed = parse_service(&SourceFile::new(format!("{folder}/service.toml"), manifest.as_str()))
            .unwrap_or_else(|errors| panic!("{folder}: {errors:?}\n{manifest}"));
        assert_eq!(&parsed.name, name, "{folder}");
        assert_eq!(parsed.depends_on, resolved, "{name}");
        assert_eq!(parsed.watch, std::slice::from_ref(folder), "{name}: `watch` is left out");
        assert!(manifest.matches("# placeholder").count() == 5, "{manifest}");
    }

    // Skipped: sorted, not services.
    assert!(skipped.windows(2).all(|pair| pair[0].folder < pair[1].folder), "{skipped:?}");
    for skip in skipped {
        assert!(services.iter().all(|service| service.folder != skip.folder), "{}", skip.folder);
        assert!(!skip.reason.is_empty());
    }

    // The proposed deltaship.toml is valid TOML with these roots (none: the default holds).
    let settings: ProposedSettings = toml::from_str(&settings_text(roots)).unwrap();
    assert_eq!(settings.services, (!roots.is_empty()).then(|| roots.clone()));
    // And the whole proposal is a catalog deltaship accepts: every manifest under the roots.
    let settings = SourceFile::new("deltaship.toml", settings_text(roots));
    let manifests: Vec<SourceFile> = services
        .iter()
        .map(|service| SourceFile::new(format!("{}/service.toml", service.folder), service.manifest.as_str()))
        .collect();
    let catalog = Catalog::load(Some(&settings), &manifests).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(catalog.services().len(), services.len());
}

const GO_SERVICE: &str = "FROM golang:1.24 AS builder\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n\
                          COPY . .\nRUN go build -o /out/server .\n\nFROM gcr.io/distroless/static\n\
                          COPY --from=builder /out/server /server\nENTRYPOINT [\"/server\"]\n";
const PYTHON_SERVICE: &str = "FROM python:3.12-slim AS base\nWORKDIR /app\nCOPY requirements.txt .\n\
                              RUN pip install -r requirements.txt\nCOPY . .\nENTRYPOINT [\"python\", \"main.py\"]\n";
const NODE_SERVICE: &str = "FROM node:22-alpine\nWORKDIR /usr/src/app\nCOPY package*.json ./\nRUN npm ci\n\
                            COPY . .\nCMD [\"node\", \"server.js\"]\n";

/// GoogleCloudPlatform/microservices-demo: `src/*`, cartservice's Dockerfile one folder down.
#[test]
fn microservices_demo() {
    let mut files: Vec<(String, &str)> = Vec::new();
    let go = ["checkoutservice", "frontend", "productcatalogservice", "shippingservice"];
    let python = ["emailservice", "loadgenerator", "recommendationservice", "shoppingassistantservice"];
    let node = ["currencyservice", "paymentservice"];
    for name in go {
        files.push((format!("src/{name}/Dockerfile"), GO_SERVICE));
        files.extend(["go.mod", "go.sum", "main.go"].map(|file| (format!("src/{name}/{file}"), "")));
    }
    for name in python {
        files.push((format!("src/{name}/Dockerfile"), PYTHON_SERVICE));
        files.extend(["requirements.txt", "main.py"].map(|file| (format!("src/{name}/{file}"), "")));
    }
    for name in node {
        files.push((format!("src/{name}/Dockerfile"), NODE_SERVICE));
        files.extend(["package.json", "package-lock.json", "server.js"].map(|file| (format!("src/{name}/{file}"), "")));
    }
    let java = "FROM eclipse-temurin:21 AS builder\nWORKDIR /app\nCOPY [\"build.gradle\", \"gradlew\", \"./\"]\n\
                COPY gradle gradle\nRUN ./gradlew downloadRepos\nCOPY . .\nRUN ./gradlew installDist\n";
    let dotnet = "FROM mcr.microsoft.com/dotnet/sdk:9.0 AS builder\nWORKDIR /app\nCOPY cartservice.csproj .\n\
                  RUN dotnet restore cartservice.csproj\nCOPY . .\nRUN dotnet publish cartservice.csproj -o /cartservice\n\
                  FROM mcr.microsoft.com/dotnet/runtime-deps:9.0\nCOPY --from=builder /cartservice .\n";
    let devcontainer = "FROM mcr.microsoft.com/devcontainers/base\nCOPY src/frontend/go.mod /tmp/\n";
    files.extend(
        [
            ("src/adservice/Dockerfile", java),
            ("src/adservice/build.gradle", ""),
            ("src/adservice/gradlew", ""),
            ("src/adservice/gradle/wrapper/gradle-wrapper.properties", ""),
            ("src/adservice/src/main/java/hipstershop/AdService.java", ""),
            ("src/cartservice/cartservice.sln", ""),
            ("src/cartservice/src/Dockerfile", dotnet),
            ("src/cartservice/src/cartservice.csproj", ""),
            ("src/cartservice/src/Program.cs", ""),
            ("src/cartservice/tests/cartservice.tests.csproj", ""),
            ("src/cartservice/tests/CartServiceTests.cs", ""),
            (".github/workflows/ci.yaml", ""),
            (".devcontainer/Dockerfile", devcontainer),
            (".devcontainer/devcontainer.json", ""),
            ("kubernetes-manifests/adservice.yaml", ""),
            ("kubernetes-manifests/cartservice.yaml", ""),
            ("docs/img/x.png", ""),
            ("README.md", ""),
            ("skaffold.yaml", ""),
        ]
        .map(|(path, text)| (path.to_owned(), text)),
    );
    let files: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), *text)).collect();
    let proposal = run("microservices-demo", &files);

    assert_eq!(proposal.roots, ["src/*"]);
    let names: Vec<&str> = proposal.services.iter().map(|service| service.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "adservice",
            "cartservice",
            "checkoutservice",
            "currencyservice",
            "emailservice",
            "frontend",
            "loadgenerator",
            "paymentservice",
            "productcatalogservice",
            "recommendationservice",
            "shippingservice",
            "shoppingassistantservice",
        ]
    );
    for service in &proposal.services {
        assert_eq!(service.folder, format!("src/{}", service.name));
        assert_eq!(
            service.depends_on,
            Vec::<String>::new(),
            "{}: each service builds from its own folder",
            service.name
        );
    }
    assert_eq!(service(&proposal, "src/cartservice").evidence, ["src/cartservice/src/Dockerfile"]);
    let skipped: Vec<&str> = proposal.skipped.iter().map(|skip| skip.folder.as_str()).collect();
    assert_eq!(skipped, [".devcontainer"]);
    assert!(proposal.skipped[0].reason.contains("hidden"), "{:?}", proposal.skipped);

    let manifest = &service(&proposal, "src/cartservice").manifest;
    for line in [
        "project = \"microservices-demo-cartservice\"",
        "cluster = \"microservices-demo\"",
        "service = \"cartservice\"",
        "container = \"cartservice\"",
        "image_repository = \"microservices-demo/cartservice\"",
        "#   src/cartservice/src/Dockerfile",
        "deltaship init",
    ] {
        assert!(manifest.contains(line), "{line}:\n{manifest}");
    }
    assert!(!manifest.contains("depends_on") && !manifest.contains("watch ="), "{manifest}");
}

/// `apps/*` built from the repository's root: what a Dockerfile copies from outside its service
/// is a dependency; the service's own folder is not.
#[test]
fn shared_folders_copied_from_the_root() {
    let api = "FROM node:22\nWORKDIR /app\nCOPY libs/common ./libs/common\nCOPY apps/api ./apps/api\nRUN npm ci\n";
    let web = "FROM node:22\nWORKDIR /app\nCOPY --chown=node:node --link libs/common/ libs/common/\n\
               COPY [\"apps/web\", \"./apps/web\"]\n";
    let worker = "FROM node:22\nCOPY apps/worker ./\n";
    let gateway = "FROM golang:1.24\nCOPY go.mod go.sum ./\nCOPY apps/gateway \\\n     ./apps/gateway\n\
                   COPY proto/*.proto ./proto/\nRUN go build ./apps/gateway\n";
    let proposal = run(
        "shop",
        &[
            ("apps/api/Dockerfile", api),
            ("apps/api/index.js", ""),
            ("apps/web/Dockerfile", web),
            ("apps/web/index.js", ""),
            ("apps/worker/Dockerfile", worker),
            ("apps/worker/index.js", ""),
            ("apps/gateway/Dockerfile", gateway),
            ("apps/gateway/main.go", ""),
            ("libs/common/index.js", ""),
            ("libs/common/package.json", ""),
            ("proto/shop.proto", ""),
            ("go.mod", ""),
            ("go.sum", ""),
            ("package.json", ""),
        ],
    );
    assert_eq!(proposal.roots, ["apps/*"]);
    assert_eq!(folders(&proposal), ["apps/api", "apps/gateway", "apps/web", "apps/worker"]);
    assert_eq!(service(&proposal, "apps/api").depends_on, ["../../libs/common"]);
    assert_eq!(service(&proposal, "apps/web").depends_on, ["../../libs/common"]);
    assert_eq!(service(&proposal, "apps/worker").depends_on, Vec::<String>::new());
    assert_eq!(service(&proposal, "apps/gateway").depends_on, ["../../go.mod", "../../go.sum", "../../proto/*.proto"]);
    assert!(service(&proposal, "apps/api").manifest.contains("depends_on = [\"../../libs/common\"]"));
}

/// Roots that differ in one folder, followed by a literal folder, generalize.
#[test]
fn deeper_roots_generalize() {
    let x = "FROM alpine\nCOPY teams/a/lib ./lib\nCOPY teams/a/services/x .\n";
    let proposal = run(
        "org",
        &[
            ("teams/a/services/x/Dockerfile", x),
            ("teams/a/services/z/Dockerfile", ""),
            ("teams/b/services/y/buildspec.yml", ""),
            ("teams/a/lib/lib.go", ""),
            ("teams/a/README.md", ""),
        ],
    );
    assert_eq!(proposal.roots, ["teams/*/services/*"]);
    assert_eq!(folders(&proposal), ["teams/a/services/x", "teams/a/services/z", "teams/b/services/y"]);
    assert_eq!(service(&proposal, "teams/a/services/x").depends_on, ["../../lib"]);
    assert_eq!(service(&proposal, "teams/b/services/y").evidence, ["teams/b/services/y/buildspec.yml"]);

    // Without a literal folder after the varying one, roots stay apart: `*/*` would be any folder
    // two deep.
    let proposal = run("org", &[("apps/a/Dockerfile", ""), ("apps/b/Dockerfile", ""), ("tools/c/Dockerfile", "")]);
    assert_eq!(proposal.roots, ["apps/*", "tools/*"]);
}

/// Clashing names take their parent's name; invalid characters become '-'; placeholders are
/// valid for the repository's name too.
#[test]
fn names_and_placeholders() {
    let proposal = run(
        "My.Repo",
        &[
            ("apps/web/Dockerfile", ""),
            ("tools/web/Dockerfile", ""),
            ("src/my app/Dockerfile", ""),
            ("src/-x_y/Containerfile", ""),
            ("src/api.v2/Dockerfile.prod", ""),
        ],
    );
    assert_eq!(proposal.roots, ["apps/*", "src/*", "tools/*"]);
    let names: Vec<(&str, &str)> =
        proposal.services.iter().map(|service| (service.folder.as_str(), service.name.as_str())).collect();
    assert_eq!(
        names,
        [
            ("apps/web", "apps-web"),
            ("src/-x_y", "x_y"),
            ("src/api.v2", "api.v2"),
            ("src/my app", "my-app"),
            ("tools/web", "tools-web"),
        ]
    );
    let manifest = &service(&proposal, "apps/web").manifest;
    for line in [
        "project = \"My-Repo-apps-web\"",
        "cluster = \"My-Repo\"",
        "service = \"apps-web\"",
        "image_repository = \"my-repo/apps-web\"",
        "The folder's name `web` is not a valid service name, or another folder's too: `name` says `apps-web`.",
        "\nname = \"apps-web\"\n",
    ] {
        assert!(manifest.contains(line), "{line}:\n{manifest}");
    }
    let manifest = &service(&proposal, "src/api.v2").manifest;
    assert!(manifest.contains("service = \"api-v2\"") && manifest.contains("\"my-repo/api-v2\""), "{manifest}");
    assert!(!manifest.contains("`name` says") && !manifest.contains("\nname = "), "{manifest}");
}

/// A Dockerfile whose context is its own folder copies nothing shared, even where the
/// repository's root has a file of the same name.
#[test]
fn context_of_its_own_folder() {
    let dockerfile = "FROM node:22\nWORKDIR /app\nCOPY package.json ./\nCOPY [\"src\", \"./src\"]\nCOPY . .\n\
                      COPY ./ /app/\nADD https://example.com/x.tgz /tmp/\nCOPY ${DIR}/x /x\n";
    let proposal = run(
        "repo",
        &[
            ("services/api/Dockerfile", dockerfile),
            ("services/api/package.json", ""),
            ("services/api/src/index.js", ""),
            ("services/web/Dockerfile", dockerfile),
            ("services/web/package.json", ""),
            ("services/web/src/index.js", ""),
            ("package.json", ""),
            ("src/shared.js", ""),
        ],
    );
    assert_eq!(proposal.roots, ["services/*"]);
    assert_eq!(folders(&proposal), ["services/api", "services/web"]);
    for service in &proposal.services {
        assert_eq!(service.depends_on, Vec::<String>::new(), "{}", service.folder);
    }
}

/// A second Dockerfile below a service is that service's; a lone top-level folder gets `*`, which
/// lifts nothing into the folders it matches.
#[test]
fn nested_and_lone_folders() {
    let tools = "FROM alpine\nCOPY src/x/tools.sh /\n";
    let proposal = run(
        "repo",
        &[
            ("src/x/Dockerfile", ""),
            ("src/x/tools/Dockerfile", tools),
            ("src/y/Dockerfile", ""),
            ("src/z/build/docker/Dockerfile", ""),
            ("tools/Dockerfile", ""),
            ("deploy/k8s/nginx/Dockerfile", ""),
            ("src/x/tools.sh", ""),
        ],
    );
    assert_eq!(proposal.roots, ["*", "deploy/k8s/*", "src/*"]);
    assert_eq!(folders(&proposal), ["deploy/k8s/nginx", "src/x", "src/y", "src/z", "tools"]);
    assert_eq!(service(&proposal, "src/x").evidence, ["src/x/Dockerfile", "src/x/tools/Dockerfile"]);
    assert_eq!(service(&proposal, "src/z").evidence, ["src/z/build/docker/Dockerfile"]);
    // tools.sh is copied from the service's own folder: no dependency.
    assert_eq!(service(&proposal, "src/x").depends_on, Vec::<String>::new());

    // With no root grouping two folders, a nested Dockerfile still joins the service above it.
    let proposal = run("repo", &[("apps/x/Dockerfile", ""), ("apps/x/tools/Dockerfile", "")]);
    assert_eq!(proposal.roots, ["apps/*"]);
    assert_eq!(folders(&proposal), ["apps/x"]);
    assert_eq!(service(&proposal, "apps/x").evidence, ["apps/x/Dockerfile", "apps/x/tools/Dockerfile"]);
}

/// Folders that are not services are reported, not proposed.
#[test]
fn skipped_folders() {
    let proposal = run(
        "repo",
        &[
            ("Dockerfile", ""),
            ("services/a/Dockerfile", ""),
            ("services/a/tests/Dockerfile", ""),
            ("node_modules/pkg/Dockerfile", ""),
            ("examples/demo/Dockerfile", ""),
            (".github/actions/x/Dockerfile", ""),
            ("services/[b]/Dockerfile", ""),
            ("services/c/Dockerfile.dockerignore", ""),
        ],
    );
    assert_eq!(proposal.roots, ["services/*"]);
    assert_eq!(folders(&proposal), ["services/a"]);
    assert_eq!(service(&proposal, "services/a").evidence, ["services/a/Dockerfile"]);
    let skipped: Vec<&str> = proposal.skipped.iter().map(|skip| skip.folder.as_str()).collect();
    assert_eq!(
        skipped,
        [".", ".github/actions/x", "examples/demo", "node_modules/pkg", "services/[b]", "services/a/tests"]
    );
}

/// No deployable folder: nothing proposed, and the settings leave the default roots.
#[test]
fn nothing_to_propose() {
    assert_eq!(run("repo", &[]), Proposal::default());
    assert_eq!(run("repo", &[("README.md", ""), ("src/main.rs", ""), ("Cargo.toml", "")]), Proposal::default());
    let proposal = run("repo", &[("Dockerfile", ""), ("src/main.rs", "")]);
    assert!(proposal.roots.is_empty() && proposal.services.is_empty());
    assert_eq!(proposal.skipped.len(), 1);
    assert!(settings_text(&[]).contains("# services = [\"services/*\"]"));
    assert!(settings_text(&["src/*".to_owned()]).contains("\nservices = [\"src/*\"]\n"));
}

/// Path components and Dockerfile lines that make for awkward repositories.
const PARTS: [&str; 26] = [
    "src",
    "apps",
    "a",
    "b",
    "web",
    "my app",
    "-x",
    "Ünï",
    "node_modules",
    ".github",
    "tests",
    "lib",
    "common",
    "services",
    "teams",
    "*",
    "[x]",
    "Dockerfile",
    "Dockerfile",
    "Dockerfile.dev",
    "buildspec.yml",
    "go.mod",
    "package.json",
    "",
    ".",
    "..",
];
const LINES: [&str; 18] = [
    "COPY a b",
    "COPY lib ./lib",
    "COPY src/a ./x",
    "ADD [\"common\", \"/x\"]",
    "copy go.mod ./",
    "COPY --from=b x y",
    "COPY \\",
    "  lib ./",
    "# c",
    "RUN <<EOF",
    "EOF",
    "COPY $X y",
    "COPY lib/* ./",
    "COPY ../x y",
    "COPY apps/web/my app ./",
    "COPY [\"a\\\"b\", \"c\\\\d\", \"e\"]",
    "COPY . .",
    "COPY teams/a/[x ./",
];

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(proptest::sample::select(PARTS.to_vec()), 1..6).prop_map(|parts| parts.join("/")),
        // Deeper layouts, where roots generalize (`teams/*/services/*`).
        2 => (
            proptest::sample::select(vec!["teams", "org"]),
            proptest::sample::select(vec!["a", "b", "c"]),
            proptest::sample::select(vec!["services", "apps"]),
            proptest::sample::select(vec!["x", "y", "my app", "lib"]),
            proptest::sample::select(vec!["Dockerfile", "buildspec.yml", "src/Dockerfile", "lib.go"]),
        )
            .prop_map(|(top, team, kind, name, file)| format!("{top}/{team}/{kind}/{name}/{file}")),
        1 => text(16),
    ]
}

fn dockerfile() -> impl Strategy<Value = String> {
    let line = prop_oneof![4 => proptest::sample::select(LINES.to_vec()).prop_map(str::to_owned), 1 => text(24)];
    proptest::collection::vec(line, 0..10).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the paths and the Dockerfiles, `propose` returns, and what it returns holds the
    /// invariants.
    #[test]
    fn any_repository(
        paths in proptest::collection::vec(path(), 0..40),
        dockerfiles in proptest::collection::vec(dockerfile(), 1..4),
        repository in prop_oneof![proptest::sample::select(vec!["shop", "My.Repo", "", "ü", "a/b"]).prop_map(str::to_owned), text(12)],
    ) {
        // Each Dockerfile reads one of the texts, by its path's length.
        let read = |path: &str| dockerfiles.get(path.len() % dockerfiles.len()).cloned();
        let proposal = propose(&repository, &paths, read);
        check(&proposal, &paths);
    }
}
