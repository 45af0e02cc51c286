//! The planner on real git repositories: commits written with gix, read back with the CLI's git
//! adapter, planned by the core, exactly as `deltaship plan` does.

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use deltaship::plan::{PlanError, PlanReport, PlanRequest, plan};
use deltaship_tests::{TestRepo, manifest, names_and_reasons};
use serde_json::{Value, json};

/// A shop with two services that share `services/common`, plus docs and a root lock file.
struct Shop {
    repo: TestRepo,
    root: String,
}

impl Shop {
    fn new(settings: Option<&str>) -> Self {
        let repo = TestRepo::new();
        let users = manifest("users", "ignore = [\"docs\", \"**/*.md\"]\ndepends_on = [\"../common\"]");
        let products = manifest("products", "depends_on = [\"../common\"]");
        let mut files = vec![
            ("services/users/service.toml", Some(users.as_str())),
            ("services/users/src/main.rs", Some("fn main() {}")),
            ("services/users/docs/api.txt", Some("users API")),
            ("services/products/service.toml", Some(products.as_str())),
            ("services/products/src/main.rs", Some("fn main() {}")),
            ("services/products/src/lib.rs", Some("pub fn f() {}")),
            ("services/common/src/lib.rs", Some("pub fn shared() {}")),
            ("docs/architecture.md", Some("# Shop")),
            ("Cargo.lock", Some("# lock")),
        ];
        if let Some(settings) = settings {
            files.push(("deltaship.toml", Some(settings)));
        }
        let root = repo.commit("HEAD", &[], &files);
        Self { repo, root }
    }

    /// Commits `edits` on `HEAD` and returns the commit.
    fn push(&self, parent: &str, edits: &[(&str, Option<&str>)]) -> String {
        self.repo.commit("HEAD", &[parent], edits)
    }

    fn plan(&self, base: Option<&str>, head: &str) -> Result<PlanReport, PlanError> {
        plan(&PlanRequest {
            repo: self.repo.path().to_owned(),
            base: base.map(str::to_owned),
            head: head.to_owned(),
            branch: None,
        })
    }

    /// `services` as (name, reasons) and `removed`, from the JSON document users see.
    fn planned(&self, base: Option<&str>, head: &str) -> (Value, Value) {
        let report = self.plan(base, head).unwrap();
        let json = serde_json::to_value(report.to_json(&report.decision())).unwrap();
        (names_and_reasons(&json), json["removed"].clone())
    }
}

#[test]
fn change_in_one_service_deploys_only_it() {
    let shop = Shop::new(None);
    let head = shop.push(&shop.root, &[("services/products/src/lib.rs", Some("pub fn g() {}"))]);
    let (services, removed) = shop.planned(Some(&shop.root), &head);
    assert_eq!(services, json!([{"name": "products", "reasons": ["services/products/src/lib.rs"]}]));
    assert_eq!(removed, json!([]));
}

#[test]
fn change_in_shared_library_deploys_every_dependent() {
    let shop = Shop::new(None);
    let head = shop.push(&shop.root, &[("services/common/src/lib.rs", Some("pub fn shared2() {}"))]);
    let (services, _) = shop.planned(Some(&shop.root), &head);
    assert_eq!(
        services,
        json!([
            {"name": "products", "reasons": ["services/common/src/lib.rs"]},
            {"name": "users", "reasons": ["services/common/src/lib.rs"]},
        ])
    );
}

#[test]
fn docs_only_change_matched_by_ignore_deploys_nothing() {
    let shop = Shop::new(None);
    let head = shop.push(
        &shop.root,
        &[
            ("services/users/docs/api.txt", Some("users API v2")),
            ("services/users/README.md", Some("# users")),
            ("docs/architecture.md", Some("# Shop v2")),
        ],
    );
    let report = shop.plan(Some(&shop.root), &head).unwrap();
    assert!(report.decision().plan().is_none(), "{:?}", report.decision());
    assert_eq!(report.changed_paths(), 3);
    let mut text = Vec::new();
    report.write_text(&report.decision(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("nothing to deploy"), "{text}");
}

#[test]
fn file_moved_between_services_deploys_both() {
    let shop = Shop::new(None);
    let head = shop.push(
        &shop.root,
        &[("services/products/src/lib.rs", None), ("services/users/src/lib.rs", Some("pub fn f() {}"))],
    );
    let (services, _) = shop.planned(Some(&shop.root), &head);
    assert_eq!(
        services,
        json!([
            {"name": "products", "reasons": ["services/products/src/lib.rs"]},
            {"name": "users", "reasons": ["services/users/src/lib.rs"]},
        ])
    );
}

#[test]
fn deleted_service_folder_is_removed_not_deployed() {
    let shop = Shop::new(None);
    let head = shop.push(
        &shop.root,
        &[
            ("services/products/service.toml", None),
            ("services/products/src/main.rs", None),
            ("services/products/src/lib.rs", None),
        ],
    );
    let (services, removed) = shop.planned(Some(&shop.root), &head);
    assert_eq!(services, json!([]));
    assert_eq!(removed, json!(["products"]));
}

#[test]
fn merge_commit_deploys_what_the_merge_brought() {
    let shop = Shop::new(None);
    // main moves on (users), a feature branch changes products, then the feature is merged.
    let main_tip = shop.push(&shop.root, &[("services/users/src/main.rs", Some("fn main() { users() }"))]);
    let feature = shop.repo.commit(
        "refs/heads/feature",
        &[&shop.root],
        &[("services/products/src/main.rs", Some("fn main() { products() }"))],
    );
    // The merge's tree: main's tree plus the feature's change, as a merge would produce.
    let merge = shop.repo.commit(
        "HEAD",
        &[&main_tip, &feature],
        &[("services/products/src/main.rs", Some("fn main() { products() }"))],
    );
    let (services, _) = shop.planned(Some(&main_tip), &merge);
    assert_eq!(services, json!([{"name": "products", "reasons": ["services/products/src/main.rs"]}]));
    // The same push seen from the feature branch's side brings main's change to users.
    let (services, _) = shop.planned(Some(&feature), &merge);
    assert_eq!(services, json!([{"name": "users", "reasons": ["services/users/src/main.rs"]}]));
}

#[test]
fn first_push_follows_the_policy() {
    let shop = Shop::new(None);
    let report = shop.plan(None, "HEAD").unwrap();
    assert!(report.base.is_none());
    let (services, _) = shop.planned(None, "HEAD");
    assert_eq!(
        services,
        json!([
            {"name": "products", "reasons": ["services/products/service.toml"]},
            {"name": "users", "reasons": ["services/users/service.toml"]},
        ])
    );

    let cautious = Shop::new(Some("first_push = \"none\""));
    let report = cautious.plan(None, "HEAD").unwrap();
    assert!(report.decision().plan().is_none());
    assert_eq!(serde_json::to_value(report.to_json(&report.decision())).unwrap()["base"], Value::Null);
}

#[test]
fn global_path_deploys_every_service() {
    let shop = Shop::new(Some("deploy_all = [\"Cargo.lock\"]"));
    let head = shop.push(&shop.root, &[("Cargo.lock", Some("# lock v2"))]);
    let (services, _) = shop.planned(Some(&shop.root), &head);
    assert_eq!(
        services,
        json!([
            {"name": "products", "reasons": ["Cargo.lock"]},
            {"name": "users", "reasons": ["Cargo.lock"]},
        ])
    );
}

#[test]
fn manifests_are_read_at_the_head_commit() {
    let shop = Shop::new(None);
    // The push adds a dependency on a new proto folder and changes the proto in the same commit.
    let users = manifest("users", "depends_on = [\"../common\", \"../../proto\"]");
    let head = shop.push(
        &shop.root,
        &[("services/users/service.toml", Some(&users)), ("proto/users.proto", Some("syntax = \"proto3\";"))],
    );
    let (services, _) = shop.planned(Some(&shop.root), &head);
    assert_eq!(services, json!([{"name": "users", "reasons": ["proto/users.proto", "services/users/service.toml"]}]));
}

#[test]
fn a_folder_replaced_by_a_file_is_a_change_of_both() {
    let shop = Shop::new(None);
    let head =
        shop.push(&shop.root, &[("services/users/docs/api.txt", None), ("services/users/docs", Some("see the wiki"))]);
    let (services, _) = shop.planned(Some(&shop.root), &head);
    // `docs` is ignored by users, so neither side deploys it.
    assert_eq!(services, json!([]));
    let report = shop.plan(Some(&shop.root), &head).unwrap();
    assert_eq!(report.changed_paths(), 2);
}

#[test]
fn identical_commits_deploy_nothing() {
    let shop = Shop::new(None);
    let report = shop.plan(Some(&shop.root), &shop.root).unwrap();
    assert!(report.decision().plan().is_none());
    assert_eq!(report.changed_paths(), 0);
}

#[test]
fn bad_input_is_named() {
    let shop = Shop::new(None);
    let error = shop.plan(Some("no-such-branch"), "HEAD").unwrap_err();
    assert!(error.is_bad_input());
    assert!(error.to_string().contains("unknown revision `no-such-branch`"), "{error}");

    let broken = manifest("products", "").replace("cluster = \"shop\"", "cluster = \"\"");
    let head = shop.push(&shop.root, &[("services/products/service.toml", Some(&broken))]);
    let error = shop.plan(Some(&shop.root), &head).unwrap_err();
    assert!(error.is_bad_input());
    let message = error.to_string();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("services/products/service.toml: key `deploy.cluster`: must not be empty"),
        "{message}"
    );

    let outside = tempfile::tempdir().unwrap();
    let error =
        plan(&PlanRequest { repo: outside.path().to_owned(), base: None, head: "HEAD".to_owned(), branch: None })
            .unwrap_err();
    assert!(error.is_bad_input());
    assert!(error.to_string().contains("is not a git repository"), "{error}");
}

#[test]
fn services_under_src_plan_as_services_under_services_do() {
    let repo = TestRepo::new();
    let api = manifest("api", "depends_on = [\"../../libs/common\"]");
    let web = manifest("web", "");
    let root = repo.commit(
        "HEAD",
        &[],
        &[
            ("deltaship.toml", Some("services = [\"src/*\"]\n")),
            ("src/api/service.toml", Some(&api)),
            ("src/api/main.go", Some("package main")),
            ("src/web/service.toml", Some(&web)),
            ("src/web/index.ts", Some("export {}")),
            // Not a service: a folder under the root without a manifest, and a manifest outside it.
            ("src/shared/util.go", Some("package shared")),
            ("libs/common/lib.go", Some("package common")),
        ],
    );
    let head = repo.commit(
        "HEAD",
        &[&root],
        &[
            ("libs/common/lib.go", Some("package common // 2")),
            ("src/web/service.toml", None),
            ("src/web/index.ts", None),
        ],
    );
    let report = plan(&PlanRequest { repo: repo.path().to_owned(), base: Some(root), head, branch: None }).unwrap();
    let json = serde_json::to_value(report.to_json(&report.decision())).unwrap();
    assert_eq!(names_and_reasons(&json), json!([{"name": "api", "reasons": ["libs/common/lib.go"]}]));
    assert_eq!(json["removed"], json!(["web"]));

    // A manifest in a folder no root matches is no service: the git reader lists only the
    // roots' folders.
    let stray =
        repo.commit("HEAD", &[report.head.as_str()], &[("services/old/service.toml", Some(&manifest("old", "")))]);
    let report = plan(&PlanRequest { repo: repo.path().to_owned(), base: None, head: stray, branch: None }).unwrap();
    let names: Vec<&str> = report.catalog.services().iter().map(|service| service.name.as_str()).collect();
    assert_eq!(names, ["api"]);
}
