//! detect-changes over mocked CodeCommit and Step Functions: the push event in, the AWS calls it
//! makes (checked request by request), and what it answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use aws_sdk_codecommit::operation::get_branch::GetBranchOutput;
use aws_sdk_codecommit::operation::get_commit::GetCommitOutput;
use aws_sdk_codecommit::operation::get_differences::{GetDifferencesError, GetDifferencesOutput};
use aws_sdk_codecommit::operation::get_file::{GetFileError, GetFileOutput};
use aws_sdk_codecommit::operation::get_folder::{GetFolderError, GetFolderOutput};
use aws_sdk_codecommit::operation::list_branches::ListBranchesOutput;
use aws_sdk_codecommit::primitives::Blob;
use aws_sdk_codecommit::types::error::{
    CommitDoesNotExistException, FileDoesNotExistException, FolderDoesNotExistException,
    RepositoryDoesNotExistException,
};
use aws_sdk_codecommit::types::{
    BlobMetadata, BranchInfo, ChangeTypeEnum, Commit, Difference, FileModeTypeEnum, Folder,
};
use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionInput, DescribeExecutionOutput};
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionInput, StartExecutionOutput};
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sfn::types::error::ExecutionAlreadyExists;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use common::{LedgerTable, NOW, Recorder, event, meta};
use deltaship_aws::Function;
use deltaship_aws::detect::DetectChanges;
use deltaship_aws::reconcile::Reconcile;
use deltaship_aws::settings::{DetectSettings, ReconcileSettings};
use deltaship_core::budget::Waits;
use deltaship_core::ledger::{PushRecord, PushStatus};
use deltaship_core::payloads::{BranchStatus, DetectOutput, DetectStatus};
use deltaship_core::snapshot::{self, Snapshot};
use deltaship_core::{
    CommitId, ErrorKind, Origin, PipelineInput, Scope, SourceFile, WaitPolicy, execution_name, execution_name_attempt,
    links,
};
use serde_json::{Value, json};

const REPOSITORY: &str = "shop-monorepo";
/// `commitId` of the push fixtures.
const NEW: &str = "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
/// `oldCommitId` of the push fixture.
const OLD: &str = "3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6";
/// The push fixtures' `time`, 2026-11-23T10:23:43Z.
const PUSHED_AT: i64 = 1_795_429_423;
const PUSHER: &str = "arn:aws:iam::123456789012:user/Mary_Major";
const STATE_MACHINE: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:deltaship";

const USERS: &str = r#"
depends_on = ["../common"]

[build]
project = "users-build"

[deploy]
cluster = "shop"
service = "users"
container = "app"
image_repository = "shop/users"
timeout_minutes = 12
"#;

const PRODUCTS: &str = r#"
ignore = ["**/*.md"]

[build]
project = "products-build"

[deploy]
cluster = "shop"
service = "products"
container = "app"
image_repository = "shop/products"
"#;

/// `users` without its `[deploy]` table.
const USERS_BROKEN: &str = r#"
[build]
project = "users-build"
"#;

fn settings() -> DetectSettings {
    DetectSettings {
        state_machine_arn: Some(STATE_MACHINE.into()),
        dry_run: false,
        manifest_concurrency: 4,
        max_concurrency: 3,
        waits: Waits { build: WaitPolicy::BUILD, rollout: WaitPolicy::ROLLOUT },
        ledger_table: Some(common::TABLE.into()),
    }
}

/// detect-changes over these clients, recording in an empty ledger of its own.
fn detector(
    codecommit: aws_sdk_codecommit::Client,
    sfn: aws_sdk_sfn::Client,
    settings: DetectSettings,
) -> DetectChanges {
    detector_with(codecommit, sfn, settings, &LedgerTable::default())
}

/// detect-changes over these clients, recording in `ledger`.
fn detector_with(
    codecommit: aws_sdk_codecommit::Client,
    sfn: aws_sdk_sfn::Client,
    settings: DetectSettings,
    ledger: &LedgerTable,
) -> DetectChanges {
    DetectChanges::from_clients(codecommit, sfn, Some(ledger.ledger()), settings, common::clock)
}

fn push() -> Value {
    event("reference-updated-branch.json")
}

fn commit(id: &str) -> CommitId {
    CommitId::parse(id).unwrap()
}

fn name_of(branch: &str) -> String {
    execution_name(REPOSITORY, branch, &commit(NEW))
}

fn execution_arn(name: &str) -> String {
    links::execution_arn(STATE_MACHINE, name).unwrap()
}

// ---- CodeCommit ---------------------------------------------------------------------------------

/// What the repository holds at the pushed commit.
struct Tree {
    /// The pushed commit's message.
    message: &'static str,
    /// `deltaship.toml`, if any.
    settings: Option<&'static str>,
    /// `services/<folder>/service.toml` per folder under `services/`; `None` for a folder
    /// without a manifest (a shared library).
    folders: Vec<(&'static str, Option<&'static str>)>,
}

impl Tree {
    /// `users` and `products` with their manifests, and `common` without one; no settings.
    fn shop() -> Self {
        Self {
            message: "products: faster search",
            settings: None,
            folders: vec![("users", Some(USERS)), ("products", Some(PRODUCTS)), ("common", None)],
        }
    }

    fn with_message(mut self, message: &'static str) -> Self {
        self.message = message;
        self
    }

    fn with_settings(mut self, settings: &'static str) -> Self {
        self.settings = Some(settings);
        self
    }

    fn with_manifest(mut self, folder: &'static str, manifest: &'static str) -> Self {
        for entry in &mut self.folders {
            if entry.0 == folder {
                entry.1 = Some(manifest);
            }
        }
        self
    }

    /// The GetFile and GetFolder rules, each matching one path at the pushed commit only.
    fn rules(&self) -> Vec<Rule> {
        let mut rules = vec![file_rule("deltaship.toml".into(), self.settings)];
        for (folder, manifest) in &self.folders {
            rules.push(file_rule(format!("services/{folder}/service.toml"), *manifest));
        }
        let folders: Vec<&'static str> = self.folders.iter().map(|(folder, _)| *folder).collect();
        rules.push(
            mock!(aws_sdk_codecommit::Client::get_folder)
                .match_requests(|req| {
                    req.repository_name() == Some(REPOSITORY)
                        && req.commit_specifier() == Some(NEW)
                        && req.folder_path() == Some("services")
                })
                .then_output(move || {
                    let mut output = GetFolderOutput::builder().commit_id(NEW).folder_path("services").tree_id("tree");
                    for folder in &folders {
                        output = output.sub_folders(
                            Folder::builder()
                                .tree_id(format!("tree-{folder}"))
                                .absolute_path(format!("services/{folder}"))
                                .relative_path(*folder)
                                .build(),
                        );
                    }
                    output.build().unwrap()
                }),
        );
        let message = self.message;
        rules.push(
            mock!(aws_sdk_codecommit::Client::get_commit)
                .match_requests(|req| req.repository_name() == Some(REPOSITORY) && req.commit_id() == Some(NEW))
                .then_output(move || {
                    GetCommitOutput::builder().commit(Commit::builder().commit_id(NEW).message(message).build()).build()
                }),
        );
        rules
    }
}

/// GetFile of `path` at the pushed commit: `contents`, or FileDoesNotExistException.
fn file_rule(path: String, contents: Option<&'static str>) -> Rule {
    let wanted = path.clone();
    let rule = mock!(aws_sdk_codecommit::Client::get_file).match_requests(move |req| {
        req.repository_name() == Some(REPOSITORY)
            && req.commit_specifier() == Some(NEW)
            && req.file_path() == Some(wanted.as_str())
    });
    match contents {
        Some(contents) => rule.then_output(move || {
            GetFileOutput::builder()
                .commit_id(NEW)
                .blob_id(format!("blob-{path}"))
                .file_path(&path)
                .file_mode(FileModeTypeEnum::Normal)
                .file_size(i64::try_from(contents.len()).unwrap())
                .file_content(Blob::new(contents))
                .build()
                .unwrap()
        }),
        None => rule.then_error(move || {
            let message = format!("The specified file {path} does not exist.");
            GetFileError::FileDoesNotExistException(
                FileDoesNotExistException::builder()
                    .message(&message)
                    .meta(meta("FileDoesNotExistException", &message))
                    .build(),
            )
        }),
    }
}

fn blob(path: &str) -> BlobMetadata {
    BlobMetadata::builder().blob_id(format!("blob-{path}")).path(path).mode("100644").build()
}

fn modified(path: &str) -> Difference {
    Difference::builder().before_blob(blob(path)).after_blob(blob(path)).change_type(ChangeTypeEnum::Modified).build()
}

fn added(path: &str) -> Difference {
    Difference::builder().after_blob(blob(path)).change_type(ChangeTypeEnum::Added).build()
}

fn deleted(path: &str) -> Difference {
    Difference::builder().before_blob(blob(path)).change_type(ChangeTypeEnum::Deleted).build()
}

/// One GetDifferences rule per page. Every rule matches only a request for `OLD..NEW` of the
/// repository with the page's token (none for the first page, `t<n>` for page n + 1), so a
/// request for other commits or the wrong token matches nothing and fails the test.
fn pages(pages: Vec<Vec<Difference>>) -> Vec<Rule> {
    let count = pages.len();
    pages
        .into_iter()
        .enumerate()
        .map(|(index, differences)| {
            let token = (index > 0).then(|| format!("t{index}"));
            let next = (index + 1 < count).then(|| format!("t{}", index + 1));
            mock!(aws_sdk_codecommit::Client::get_differences)
                .match_requests(move |req| {
                    req.repository_name() == Some(REPOSITORY)
                        && req.before_commit_specifier() == Some(OLD)
                        && req.after_commit_specifier() == Some(NEW)
                        && req.next_token() == token.as_deref()
                })
                .then_output(move || {
                    GetDifferencesOutput::builder()
                        .set_differences(Some(differences.clone()))
                        .set_next_token(next.clone())
                        .build()
                })
        })
        .collect()
}

fn codecommit(rules: &[&Rule]) -> aws_sdk_codecommit::Client {
    mock_client!(aws_sdk_codecommit, RuleMode::MatchAny, rules)
}

// ---- Step Functions -----------------------------------------------------------------------------

/// StartExecution of the pipeline under `name`, recording each request; answers the execution's
/// ARN.
fn start_rule(name: &str, seen: &Recorder<StartExecutionInput>) -> Rule {
    let (name, seen) = (name.to_owned(), seen.clone());
    let arn = execution_arn(&name);
    mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(move |req| {
            seen.record(req);
            req.state_machine_arn() == Some(STATE_MACHINE) && req.name() == Some(name.as_str())
        })
        .then_output(move || {
            StartExecutionOutput::builder().execution_arn(&arn).start_date(DateTime::from_secs(NOW)).build().unwrap()
        })
}

fn sfn(rules: &[&Rule]) -> aws_sdk_sfn::Client {
    mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules)
}

/// A handler whose clients answer nothing: any AWS call fails the test.
fn offline() -> DetectChanges {
    detector(codecommit(&[]), sfn(&[]), settings())
}

/// The execution input that deploys `products` alone, for the push fixture.
fn products_input() -> Value {
    json!({
        "execution": name_of("main"),
        "repository": REPOSITORY,
        "branch": "main",
        "commit": NEW,
        "base": OLD,
        "pushed_by": PUSHER,
        "pushed_at": PUSHED_AT,
        "origin": "push",
        "max_concurrency": 3,
        "services": [{
            "name": "products",
            "repository": REPOSITORY,
            "branch": "main",
            "commit": NEW,
            "execution": name_of("main"),
            "pushed_at": PUSHED_AT,
            "project": "products-build",
            "cluster": "shop",
            "service": "products",
            "container": "app",
            "image_repository": "shop/products",
            "timeout_minutes": 30,
            // The manifest sets no build.timeout_minutes: the default hour.
            "build_timeout_minutes": 60,
            "reasons": ["services/products/src/lib.rs"],
            "more_reasons": 0,
            // One environment (deltaship.toml lists none): no promotion, no gate.
            "environment": "default",
            "pushed_by": PUSHER,
            "promotions": [],
            "answer": null
        }],
        // One service: one execution.
        "part": 1,
        "parts": 1,
        "removed": []
    })
}

/// The three pages of case (a): only the third touches a service (`products`).
fn three_pages() -> Vec<Vec<Difference>> {
    vec![
        vec![modified("README.md"), added("docs/guide.md")],
        // Not `users`: a sibling folder whose name starts the same, and a Markdown file that
        // `products` ignores.
        vec![added("services/users-legacy/notes.txt"), modified("services/products/CHANGELOG.md")],
        vec![deleted("docs/old.md"), modified("services/products/src/lib.rs")],
    ]
}

#[tokio::test]
async fn a_change_on_the_third_page_of_the_diff_starts_the_pipeline_for_that_service() {
    let tree = Tree::shop().rules();
    let diff = pages(three_pages());
    let seen = Recorder::default();
    let start = start_rule(&name_of("main"), &seen);
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let handler = detector(codecommit(&rules), sfn(&[&start]), settings());

    let output = handler.handle(push()).await.unwrap();

    let name = name_of("main");
    assert_eq!(
        output,
        DetectOutput {
            status: DetectStatus::Started,
            message: format!("started {name} of shop-monorepo@main (7f0103fa1b2c): products"),
            execution: Some(name.clone()),
            execution_arn: Some(execution_arn(&name)),
            executions: vec![name.clone()],
            services: vec!["products".into()],
            removed: vec![],
            input: None,
        }
    );
    for (page, rule) in diff.iter().enumerate() {
        assert_eq!(rule.num_calls(), 1, "GetDifferences page {}", page + 1);
    }
    assert_eq!(start.num_calls(), 1);
    let request = seen.only();
    let input: Value = serde_json::from_str(request.input().unwrap()).unwrap();
    assert_eq!(input, products_input());
    // Every manifest was read once, the missing ones included.
    for (rule, what) in tree.iter().zip(["deltaship.toml", "users", "products", "common", "GetFolder"]) {
        assert_eq!(rule.num_calls(), 1, "{what}");
    }
}

/// Case (b): the StartExecution of a duplicate delivery finds the execution there.
fn duplicate(
    describe_input: fn(&str) -> String,
    status: ExecutionStatus,
) -> (Vec<Rule>, Recorder<DescribeExecutionInput>) {
    let name = name_of("main");
    let seen_start = Recorder::<StartExecutionInput>::default();
    let start = {
        let (seen, name) = (seen_start.clone(), name.clone());
        mock!(aws_sdk_sfn::Client::start_execution)
            .match_requests(move |req| {
                seen.record(req);
                req.state_machine_arn() == Some(STATE_MACHINE) && req.name() == Some(name.as_str())
            })
            .then_error(move || {
                let message = format!("Execution Already Exists: '{}'", execution_arn(&name_of("main")));
                StartExecutionError::ExecutionAlreadyExists(
                    ExecutionAlreadyExists::builder()
                        .message(&message)
                        .meta(meta("ExecutionAlreadyExists", &message))
                        .build(),
                )
            })
    };
    let seen_describe = Recorder::<DescribeExecutionInput>::default();
    let describe = {
        let seen = seen_describe.clone();
        let arn = execution_arn(&name);
        mock!(aws_sdk_sfn::Client::describe_execution)
            .match_requests(move |req| {
                seen.record(req);
                req.execution_arn() == Some(arn.as_str())
            })
            .then_output(move || {
                // The input the execution was started with: what this StartExecution sent, as
                // the handler sent it or changed.
                let sent = seen_start.only();
                DescribeExecutionOutput::builder()
                    .execution_arn(execution_arn(&name_of("main")))
                    .state_machine_arn(STATE_MACHINE)
                    .name(name_of("main"))
                    .status(status.clone())
                    .start_date(DateTime::from_secs(NOW - 30))
                    .input(describe_input(sent.input().unwrap()))
                    .build()
                    .unwrap()
            })
    };
    (vec![start, describe], seen_describe)
}

#[tokio::test]
async fn a_duplicate_delivery_finds_its_execution_already_started() {
    // The same JSON, but not the same text: keys sorted and pretty-printed.
    let same = |sent: &str| serde_json::to_string_pretty(&serde_json::from_str::<Value>(sent).unwrap()).unwrap();
    let (sfn_rules, describes) = duplicate(same, ExecutionStatus::Running);
    let tree = Tree::shop().rules();
    let diff = pages(three_pages());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let handler = detector(codecommit(&rules), sfn(&sfn_rules.iter().collect::<Vec<_>>()), settings());

    let output = handler.handle(push()).await.unwrap();

    let name = name_of("main");
    assert_eq!(output.status, DetectStatus::AlreadyStarted);
    assert_eq!(
        output.message,
        format!(
            "already started (a duplicate delivery of the push) {name} of shop-monorepo@main (7f0103fa1b2c): products"
        )
    );
    assert_eq!(output.execution.as_deref(), Some(name.as_str()));
    assert_eq!(output.execution_arn, Some(execution_arn(&name)));
    assert_eq!(output.services, ["products"]);
    assert_eq!(output.input, None);
    assert_eq!((sfn_rules[0].num_calls(), sfn_rules[1].num_calls()), (1, 1));
    assert_eq!(describes.only().execution_arn(), Some(execution_arn(&name).as_str()));
}

#[tokio::test]
async fn a_second_push_of_the_same_commit_starts_the_next_attempt() {
    // The existing execution is of an earlier push of NEW (the branch was reset back to it since).
    let earlier = |sent: &str| {
        let mut input: Value = serde_json::from_str(sent).unwrap();
        input["pushed_at"] = json!(PUSHED_AT - 3600);
        input["base"] = json!("1".repeat(40));
        input.to_string()
    };
    let (sfn_rules, _) = duplicate(earlier, ExecutionStatus::Succeeded);
    let second = execution_name_attempt(REPOSITORY, "main", &commit(NEW), 2);
    let seen = Recorder::default();
    let start_second = start_rule(&second, &seen);
    let tree = Tree::shop().rules();
    let diff = pages(three_pages());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let sfn_rules: Vec<&Rule> = sfn_rules.iter().chain([&start_second]).collect();
    let handler = detector(codecommit(&rules), sfn(&sfn_rules), settings());

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(output.status, DetectStatus::Started);
    assert_eq!(output.execution.as_deref(), Some(second.as_str()));
    assert!(second.ends_with("-r2"), "{second}");
    assert_eq!(output.execution_arn, Some(execution_arn(&second)));
    let started = seen.all().into_iter().find(|req| req.name() == Some(second.as_str())).unwrap();
    let input: Value = serde_json::from_str(started.input().unwrap()).unwrap();
    let mut expected = products_input();
    expected["execution"] = json!(second);
    expected["services"][0]["execution"] = json!(second);
    assert_eq!(input, expected);
}

#[tokio::test]
async fn a_late_event_for_a_push_the_reconciler_started_starts_nothing() {
    // The reconciler saw the branch at NEW after the push, and started its execution.
    let reconciled = |sent: &str| {
        let mut input: Value = serde_json::from_str(sent).unwrap();
        input["pushed_at"] = json!(PUSHED_AT + 600);
        input["origin"] = json!("reconciler");
        input.to_string()
    };
    let (sfn_rules, _) = duplicate(reconciled, ExecutionStatus::Running);
    let tree = Tree::shop().rules();
    let diff = pages(three_pages());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let handler = detector(codecommit(&rules), sfn(&sfn_rules.iter().collect::<Vec<_>>()), settings());

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(output.status, DetectStatus::AlreadyStarted);
    assert_eq!(output.execution.as_deref(), Some(name_of("main").as_str()));
    assert_eq!((sfn_rules[0].num_calls(), sfn_rules[1].num_calls()), (1, 1));
}

/// The push fixture's ledger keys: its branch, and the push itself.
fn ledger_keys() -> (String, String) {
    (deltaship_core::ledger::resource(REPOSITORY, "main"), deltaship_core::ledger::waiter(PUSHED_AT, &commit(NEW)))
}

#[tokio::test]
async fn a_duplicate_delivery_while_its_execution_runs_is_already_started() {
    // StartExecution answers a duplicate of a running execution (the same name and input) with
    // success, as the first: only the ledger tells the second delivery it is one.
    let tree = Tree::shop().rules();
    let (diff, diff_again) = (pages(three_pages()), pages(three_pages()));
    let seen = Recorder::default();
    let start = start_rule(&name_of("main"), &seen);
    let ledger = LedgerTable::default();
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let first = detector_with(codecommit(&rules), sfn(&[&start]), settings(), &ledger).handle(push()).await.unwrap();
    let rules: Vec<&Rule> = tree.iter().chain(&diff_again).collect();
    let second = detector_with(codecommit(&rules), sfn(&[&start]), settings(), &ledger).handle(push()).await.unwrap();

    let name = name_of("main");
    assert_eq!(first.status, DetectStatus::Started);
    assert_eq!(second.status, DetectStatus::AlreadyStarted);
    assert_eq!(
        second.message,
        format!(
            "already started (a duplicate delivery of the push) {name} of shop-monorepo@main (7f0103fa1b2c): products"
        )
    );
    assert_eq!(
        (second.execution.as_deref(), second.execution_arn.clone()),
        (Some(name.as_str()), Some(execution_arn(&name)))
    );
    assert_eq!(start.num_calls(), 2, "both deliveries asked; Step Functions ran one execution");
    let (branch, push) = ledger_keys();
    assert_eq!(ledger.text(&branch, &push, "status").as_deref(), Some("STARTED"));
    assert_eq!(ledger.text(&branch, &push, "execution"), Some(name));
    assert_eq!(ledger.len(), 2, "the push and the branch's latest");
}

#[tokio::test]
async fn every_push_is_recorded_with_what_became_of_it() {
    let (branch, push_key) = ledger_keys();
    let recorded = |ledger: &LedgerTable| {
        (ledger.text(&branch, &push_key, "status"), ledger.text(&branch, deltaship_core::ledger::LATEST, "commit"))
    };
    let latest = Some(NEW.to_owned());

    // Started: the record names the execution.
    let ledger = LedgerTable::default();
    let (tree, diff) = (Tree::shop().rules(), pages(three_pages()));
    let start = start_rule(&name_of("main"), &Recorder::default());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    detector_with(codecommit(&rules), sfn(&[&start]), settings(), &ledger).handle(push()).await.unwrap();
    assert_eq!(recorded(&ledger), (Some("STARTED".into()), latest.clone()));
    assert_eq!(ledger.text(&branch, &push_key, "base").as_deref(), Some(OLD));
    assert_eq!(ledger.text(&branch, &push_key, "origin").as_deref(), Some("push"));

    // Nothing to deploy.
    let ledger = LedgerTable::default();
    let diff = pages(vec![vec![modified("README.md")]]);
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    detector_with(codecommit(&rules), sfn(&[]), settings(), &ledger).handle(push()).await.unwrap();
    assert_eq!(recorded(&ledger), (Some("NOTHING_TO_DEPLOY".into()), latest.clone()));

    // [skip deploy].
    let ledger = LedgerTable::default();
    let skipped = Tree::shop().with_message("docs [skip deploy]").rules();
    detector_with(codecommit(&skipped.iter().collect::<Vec<_>>()), sfn(&[]), settings(), &ledger)
        .handle(push())
        .await
        .unwrap();
    assert_eq!(recorded(&ledger), (Some("SKIPPED".into()), latest.clone()));

    // A branch deltaship.toml does not deploy.
    let ledger = LedgerTable::default();
    let elsewhere = Tree::shop().with_settings("branches = [\"release/*\"]\n").rules();
    detector_with(codecommit(&elsewhere.iter().collect::<Vec<_>>()), sfn(&[]), settings(), &ledger)
        .handle(push())
        .await
        .unwrap();
    assert_eq!(recorded(&ledger), (Some("IGNORED".into()), latest.clone()));

    // Manifests out of the stack's scope: refused, and recorded.
    let ledger = LedgerTable::default();
    let scope = Scope { project_prefix: Some("users-".into()), ..Scope::default() };
    let failure = detector_with(codecommit(&tree.iter().collect::<Vec<_>>()), sfn(&[]), settings(), &ledger)
        .with_scope(scope)
        .handle(push())
        .await
        .unwrap_err();
    assert_eq!(failure.kind, ErrorKind::OutOfScope);
    assert_eq!(recorded(&ledger), (Some("OUT_OF_SCOPE".into()), latest));

    // A dry run records nothing; a tag push is no push.
    let ledger = LedgerTable::default();
    let diff = pages(three_pages());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let dry = DetectSettings { dry_run: true, ..settings() };
    detector_with(codecommit(&rules), sfn(&[]), dry, &ledger).handle(push()).await.unwrap();
    detector_with(codecommit(&[]), sfn(&[]), settings(), &ledger)
        .handle(event("reference-created-tag.json"))
        .await
        .unwrap();
    assert_eq!((ledger.len(), ledger.log.all().len()), (0, 0));
}

#[tokio::test]
async fn a_commit_that_says_skip_deploy_is_ignored_before_any_other_read() {
    let tree = Tree::shop().with_message("docs: typo\n\n[Skip Deploy] nothing to ship").rules();
    let handler = detector(codecommit(&tree.iter().collect::<Vec<_>>()), sfn(&[]), settings());

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(output.status, DetectStatus::Skipped);
    assert_eq!(
        output.message,
        "commit 7f0103fa1b2c of shop-monorepo@main says [skip deploy] (\"docs: typo\"): nothing deployed"
    );
    assert_eq!(output.execution, None);
    let commit_rule = tree.last().unwrap();
    assert_eq!(commit_rule.num_calls(), 1);
    assert!(tree[..tree.len() - 1].iter().all(|rule| rule.num_calls() == 0), "no manifest read");
}

#[tokio::test]
async fn manifests_outside_the_stacks_scope_start_nothing() {
    let scope = Scope {
        repository: Some(REPOSITORY.into()),
        cluster: Some("shop".into()),
        project_prefix: Some("users-".into()),
    };
    let tree = Tree::shop().rules();
    let handler =
        detector(codecommit(&tree.iter().collect::<Vec<_>>()), sfn(&[]), settings()).with_scope(scope.clone());

    let failure = handler.handle(push()).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::OutOfScope);
    assert!(
        failure.message.contains(
            "services/products/service.toml: project \"products-build\" does not start with \"users-\" (the \
             template's BuildProjectPrefix)"
        ),
        "{failure}"
    );

    // Another repository is refused before any call.
    let other =
        detector(codecommit(&[]), sfn(&[]), settings()).with_scope(Scope { repository: Some("other".into()), ..scope });
    let failure = other.handle(push()).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::OutOfScope);
    assert!(failure.message.contains("RepositoryName"), "{failure}");
}

#[tokio::test]
async fn a_push_that_touches_no_service_starts_nothing() {
    let tree = Tree::shop().rules();
    let diff = pages(vec![vec![modified("README.md")]]);
    let start = start_rule(&name_of("main"), &Recorder::default());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let handler = detector(codecommit(&rules), sfn(&[&start]), settings());

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(
        output,
        DetectOutput {
            status: DetectStatus::NothingToDeploy,
            message: "nothing to deploy for shop-monorepo@main 7f0103fa1b2c: the one changed path touches no service"
                .into(),
            execution: None,
            execution_arn: None,
            executions: vec![],
            services: vec![],
            removed: vec![],
            input: None,
        }
    );
    assert_eq!(diff[0].num_calls(), 1);
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_dry_run_returns_the_input_it_would_start() {
    let tree = Tree::shop().rules();
    let diff = pages(three_pages());
    let start = start_rule(&name_of("main"), &Recorder::default());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let dry = DetectSettings { state_machine_arn: None, dry_run: true, ..settings() };
    let handler = detector(codecommit(&rules), sfn(&[&start]), dry);

    let output = handler.handle(push()).await.unwrap();

    let name = name_of("main");
    let expected: PipelineInput = serde_json::from_value(products_input()).unwrap();
    assert_eq!(
        output,
        DetectOutput {
            status: DetectStatus::DryRun,
            message: format!("would start {name} of shop-monorepo@main (7f0103fa1b2c): products"),
            executions: vec![name.clone()],
            execution: Some(name),
            execution_arn: None,
            services: vec!["products".into()],
            removed: vec![],
            input: Some(expected),
        }
    );
    assert_eq!(start.num_calls(), 0);

    // DRY_RUN wins over a configured state machine too.
    let diff = pages(three_pages());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let dry = DetectSettings { dry_run: true, ..settings() };
    let output = detector(codecommit(&rules), sfn(&[&start]), dry).handle(push()).await.unwrap();
    assert_eq!(output.status, DetectStatus::DryRun);
    assert!(output.input.is_some());
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn tags_deleted_branches_and_merge_notices_are_ignored_without_a_call() {
    let cases = [
        ("reference-created-tag.json", "`v1.4.0` in `shop-monorepo` is a tag: deltaship deploys branches only"),
        ("reference-updated-tag.json", "`v1.4.0` in `shop-monorepo` is a tag: deltaship deploys branches only"),
        ("reference-deleted-tag.json", "`v1.4.0` in `shop-monorepo` is a tag: deltaship deploys branches only"),
        (
            "reference-deleted-branch.json",
            "branch `feature/login` of `shop-monorepo` was deleted: there is no commit to deploy",
        ),
        ("unreferenced-merge-commit-created.json", "an unreferenced merge commit was created in `shop-monorepo`"),
    ];
    for (fixture, message) in cases {
        // No rules: a call to CodeCommit or Step Functions would fail the test.
        let output = offline().handle(event(fixture)).await.unwrap();
        assert_eq!(output.status, DetectStatus::Ignored, "{fixture}");
        assert!(output.message.starts_with(message), "{fixture}: {}", output.message);
        assert_eq!((output.execution, output.execution_arn, output.input), (None, None, None), "{fixture}");
        assert!(output.services.is_empty() && output.removed.is_empty(), "{fixture}");
    }
}

#[tokio::test]
async fn a_malformed_event_is_invalid_input() {
    let mut without_commit = push();
    without_commit["detail"].as_object_mut().unwrap().remove("commitId");
    let mut short_commit = push();
    short_commit["detail"]["commitId"] = json!("7f0103f");
    let cases = [
        (json!({"hello": 1}), "detect-changes input: malformed CodeCommit event: missing field `"),
        (
            without_commit,
            "detect-changes input: malformed CodeCommit event: `detail.commitId` is missing from a `referenceUpdated` event",
        ),
        (short_commit, "detect-changes input: malformed CodeCommit event: `detail.commitId`: `7f0103f`"),
        (event("codecommit-trigger-legacy.json"), "detect-changes input: malformed CodeCommit event"),
    ];
    for (payload, message) in cases {
        let failure = offline().handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{failure}");
        assert!(failure.message.starts_with(message), "{failure}");
    }
}

#[tokio::test]
async fn a_broken_manifest_is_invalid_and_starts_nothing() {
    // No GetDifferences rule: the manifests are judged before the diff is read.
    let tree = Tree::shop().with_manifest("users", USERS_BROKEN).rules();
    let start = start_rule(&name_of("main"), &Recorder::default());
    let handler = detector(codecommit(&tree.iter().collect::<Vec<_>>()), sfn(&[&start]), settings());

    let failure = handler.handle(push()).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::InvalidManifest);
    assert!(
        failure.message.starts_with("the manifests of shop-monorepo@main (7f0103fa1b2c) are invalid:\n"),
        "{failure}"
    );
    assert!(failure.message.contains("services/users/service.toml"), "{failure}");
    assert!(failure.message.contains("deploy"), "names the missing table: {failure}");
    assert!(!failure.message.contains("services/products/service.toml"), "products is fine: {failure}");
    assert_eq!(start.num_calls(), 0);
}

/// A GetDifferences error, the kind it becomes, and the detail the message gives.
type DiffErrorCase = (fn() -> GetDifferencesError, ErrorKind, &'static str);

#[tokio::test]
async fn a_missing_commit_or_repository_in_the_diff_is_named() {
    let cases: [DiffErrorCase; 2] = [
        (
            || {
                let message = "Could not find commit 3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6";
                GetDifferencesError::CommitDoesNotExistException(
                    CommitDoesNotExistException::builder()
                        .message(message)
                        .meta(meta("CommitDoesNotExistException", message))
                        .build(),
                )
            },
            ErrorKind::CommitNotFound,
            "CommitDoesNotExistException: Could not find commit 3e5983d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6",
        ),
        (
            || {
                let message = "shop-monorepo does not exist";
                GetDifferencesError::RepositoryDoesNotExistException(
                    RepositoryDoesNotExistException::builder()
                        .message(message)
                        .meta(meta("RepositoryDoesNotExistException", message))
                        .build(),
                )
            },
            ErrorKind::RepositoryNotFound,
            "RepositoryDoesNotExistException: shop-monorepo does not exist",
        ),
    ];
    for (error, kind, detail) in cases {
        let tree = Tree::shop().rules();
        let diff = mock!(aws_sdk_codecommit::Client::get_differences)
            .match_requests(|req| {
                req.before_commit_specifier() == Some(OLD) && req.after_commit_specifier() == Some(NEW)
            })
            .then_error(error);
        let start = start_rule(&name_of("main"), &Recorder::default());
        let rules: Vec<&Rule> = tree.iter().chain([&diff]).collect();
        let handler = detector(codecommit(&rules), sfn(&[&start]), settings());

        let failure = handler.handle(push()).await.unwrap_err();

        assert_eq!(failure.kind, kind, "{failure}");
        assert_eq!(failure.message, format!("GetDifferences shop-monorepo 3e5983d2c1b0..7f0103fa1b2c: {detail}"));
        assert_eq!(diff.num_calls(), 1);
        assert_eq!(start.num_calls(), 0);
    }
}

#[tokio::test]
async fn a_first_push_plans_every_service_without_a_diff() {
    // The fixture creates `feature/login`, which this repository deploys.
    let tree = Tree::shop().with_settings("branches = [\"main\", \"feature/*\"]\n").rules();
    let seen = Recorder::default();
    let name = name_of("feature/login");
    let start = start_rule(&name, &seen);
    // No GetDifferences rule: a diff request would fail the test.
    let handler = detector(codecommit(&tree.iter().collect::<Vec<_>>()), sfn(&[&start]), settings());

    let output = handler.handle(event("reference-created-branch.json")).await.unwrap();

    assert_eq!(output.status, DetectStatus::Started);
    assert_eq!(output.services, ["products", "users"]);
    assert_eq!(output.execution.as_deref(), Some(name.as_str()));
    assert_eq!(output.execution_arn, Some(execution_arn(&name)));
    assert_eq!(start.num_calls(), 1);
    let input: PipelineInput = serde_json::from_str(seen.only().input().unwrap()).unwrap();
    assert_eq!((input.branch.as_str(), input.commit.as_str(), input.base), ("feature/login", NEW, None));
    let reasons: Vec<(&str, &[String])> =
        input.services.iter().map(|job| (job.name.as_str(), job.reasons.as_slice())).collect();
    assert_eq!(
        reasons,
        [
            ("products", &["services/products/service.toml".to_owned()][..]),
            ("users", &["services/users/service.toml".to_owned()][..]),
        ]
    );
    assert!(input.services.iter().all(|job| job.branch == "feature/login" && job.commit == NEW));
}

#[tokio::test]
async fn a_first_push_with_first_push_none_deploys_nothing() {
    let tree = Tree::shop().with_settings("branches = [\"feature/*\"]\nfirst_push = \"none\"\n").rules();
    let start = start_rule(&name_of("feature/login"), &Recorder::default());
    let handler = detector(codecommit(&tree.iter().collect::<Vec<_>>()), sfn(&[&start]), settings());

    let output = handler.handle(event("reference-created-branch.json")).await.unwrap();

    assert_eq!(output.status, DetectStatus::NothingToDeploy);
    assert_eq!(
        output.message,
        "nothing to deploy for shop-monorepo@feature/login 7f0103fa1b2c: first push of the branch and deltaship.toml \
         says first_push = \"none\""
    );
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_branch_the_settings_do_not_deploy_is_ignored() {
    let tree = Tree::shop().with_settings("branches = [\"release/*\"]\n").rules();
    let start = start_rule(&name_of("main"), &Recorder::default());
    // No GetDifferences rule: the branch is checked before the diff is read.
    let handler = detector(codecommit(&tree.iter().collect::<Vec<_>>()), sfn(&[&start]), settings());

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(
        output,
        DetectOutput {
            status: DetectStatus::Ignored,
            message: "branch main of shop-monorepo does not deploy: deltaship.toml `branches` is [\"release/*\"]"
                .into(),
            execution: None,
            execution_arn: None,
            executions: vec![],
            services: vec![],
            removed: vec![],
            input: None,
        }
    );
    assert_eq!(start.num_calls(), 0);
    assert_eq!(tree[0].num_calls(), 1, "deltaship.toml was read");
}

#[tokio::test]
async fn a_push_that_deletes_a_manifest_reports_the_removed_service() {
    // `users` is gone at the pushed commit: its folder is no longer listed.
    let mut tree = Tree::shop();
    tree.folders.retain(|(folder, _)| *folder != "users");
    let tree = tree.rules();
    let diff = pages(vec![vec![deleted("services/users/service.toml"), deleted("services/users/src/main.rs")]]);
    let start = start_rule(&name_of("main"), &Recorder::default());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let handler = detector(codecommit(&rules), sfn(&[&start]), settings());

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(output.status, DetectStatus::NothingToDeploy);
    assert_eq!(output.removed, ["users"]);
    assert!(output.services.is_empty());
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_repository_without_a_services_folder_deploys_nothing() {
    let no_settings = file_rule("deltaship.toml".into(), None);
    let folder = mock!(aws_sdk_codecommit::Client::get_folder)
        .match_requests(|req| req.commit_specifier() == Some(NEW) && req.folder_path() == Some("services"))
        .then_error(|| {
            let message = "The specified folder services does not exist.";
            GetFolderError::FolderDoesNotExistException(
                FolderDoesNotExistException::builder()
                    .message(message)
                    .meta(meta("FolderDoesNotExistException", message))
                    .build(),
            )
        });
    let diff = pages(vec![vec![modified("services/users/src/main.rs")]]);
    let start = start_rule(&name_of("main"), &Recorder::default());
    let message = Tree::shop().rules().pop().unwrap();
    let rules: Vec<&Rule> = [&no_settings, &folder, &message].into_iter().chain(&diff).collect();
    let handler = detector(codecommit(&rules), sfn(&[&start]), settings());

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(output.status, DetectStatus::NothingToDeploy);
    assert_eq!(
        output.message,
        "nothing to deploy for shop-monorepo@main 7f0103fa1b2c: no service is defined: no folder that deltaship.toml \
         `services` (services/*) matches holds a service.toml; `deltaship init` proposes them"
    );
    assert_eq!(
        (folder.num_calls(), diff[0].num_calls(), start.num_calls()),
        (1, 0, 0),
        "no service: the diff is not read"
    );
}

#[tokio::test]
async fn services_are_found_under_the_roots_deltaship_toml_names() {
    const X: &str = r#"
[build]
project = "x-build"

[deploy]
cluster = "shop"
service = "x"
container = "app"
image_repository = "shop/x"
"#;
    let roots = file_rule("deltaship.toml".into(), Some("services = [\"teams/*/services/*\"]\n"));
    let folder = |path: &'static str, subfolders: &'static [&'static str]| {
        mock!(aws_sdk_codecommit::Client::get_folder)
            .match_requests(move |req| req.commit_specifier() == Some(NEW) && req.folder_path() == Some(path))
            .then_output(move || {
                let mut output = GetFolderOutput::builder().commit_id(NEW).folder_path(path).tree_id("tree");
                for name in subfolders {
                    output = output.sub_folders(
                        Folder::builder().absolute_path(format!("{path}/{name}")).relative_path(*name).build(),
                    );
                }
                output.build().unwrap()
            })
    };
    let teams = folder("teams", &["a", "b"]);
    let a = folder("teams/a/services", &["x"]);
    let b = mock!(aws_sdk_codecommit::Client::get_folder)
        .match_requests(|req| req.folder_path() == Some("teams/b/services"))
        .then_error(|| {
            let message = "The specified folder teams/b/services does not exist.";
            GetFolderError::FolderDoesNotExistException(
                FolderDoesNotExistException::builder()
                    .message(message)
                    .meta(meta("FolderDoesNotExistException", message))
                    .build(),
            )
        });
    let x = file_rule("teams/a/services/x/service.toml".into(), Some(X));
    let message = Tree::shop().rules().pop().unwrap();
    let diff = pages(vec![vec![modified("teams/a/services/x/src/main.go"), modified("services/users/src/main.rs")]]);
    let start = start_rule(&name_of("main"), &Recorder::default());
    let rules: Vec<&Rule> = [&roots, &teams, &a, &b, &x, &message].into_iter().chain(&diff).collect();
    let handler = detector(codecommit(&rules), sfn(&[&start]), settings());

    let output = handler.handle(push()).await.unwrap();

    // `services/users` is no service here: only the roots' folders are.
    assert_eq!(output.services, ["x"], "{}", output.message);
    assert_eq!((teams.num_calls(), a.num_calls(), b.num_calls(), x.num_calls()), (1, 1, 1, 1));
}

// ---- stored catalogs ------------------------------------------------------------------------------

/// detect-changes recording in `table` and keeping its catalogs there.
fn detector_with_catalogs(
    codecommit: aws_sdk_codecommit::Client,
    sfn: aws_sdk_sfn::Client,
    table: &LedgerTable,
) -> DetectChanges {
    DetectChanges::from_clients(codecommit, sfn, Some(table.ledger()), settings(), common::clock)
        .with_catalogs(table.catalogs())
}

/// The shop's files at `commit`, as detect-changes stores them.
fn shop_snapshot(commit: &str, settings: Option<&str>) -> Snapshot {
    let manifests = [
        SourceFile::new("services/products/service.toml", PRODUCTS),
        SourceFile::new("services/users/service.toml", USERS),
    ];
    let settings = settings.map(|text| SourceFile::new("deltaship.toml", text));
    Snapshot::of(commit, settings.as_ref(), &manifests).unwrap()
}

/// The number of calls of each of the shop tree's rules: deltaship.toml, users, products,
/// common, GetFolder.
fn reads(tree: &[Rule]) -> Vec<usize> {
    tree.iter().take(5).map(Rule::num_calls).collect()
}

#[tokio::test]
async fn without_a_stored_catalog_every_manifest_is_read_and_the_heads_is_stored() {
    let table = LedgerTable::default();
    let tree = Tree::shop().rules();
    let diff = pages(vec![vec![modified("services/products/src/lib.rs")]]);
    let start = start_rule(&name_of("main"), &Recorder::default());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let handler = detector_with_catalogs(codecommit(&rules), sfn(&[&start]), &table);

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(output.status, DetectStatus::Started, "{}", output.message);
    assert_eq!(output.services, ["products"]);
    assert_eq!(reads(&tree), [1, 1, 1, 1, 1], "every manifest, and the folder listed");
    // The head's catalog, stored whole and read back as detect-changes made it.
    assert_eq!(table.waiters(&snapshot::resource(REPOSITORY)), [format!("{NEW}#0000")]);
    let stored = table.catalogs().get(REPOSITORY, &commit(NEW)).await.unwrap().unwrap();
    assert_eq!(stored, shop_snapshot(NEW, None));
}

#[tokio::test]
async fn with_the_bases_catalog_only_what_the_push_touched_is_read() {
    // (diff, the reads of deltaship.toml/users/products/common/GetFolder, services started)
    let cases: Vec<(Vec<Difference>, [usize; 5], Vec<&str>)> = vec![
        // Code only: no manifest is read.
        (vec![modified("services/products/src/lib.rs")], [0, 0, 0, 0, 0], vec!["products"]),
        // One manifest changed: that one is read.
        (vec![modified("services/users/service.toml")], [0, 1, 0, 0, 0], vec!["users"]),
        // A file added in the shared library that is where a manifest would be: read alone (the
        // tree has none there, so no service), and `users`, which depends on the library, deploys.
        (vec![added("services/common/service.toml")], [0, 0, 0, 1, 0], vec!["users"]),
    ];
    for (differences, expected_reads, services) in cases {
        let table = LedgerTable::default();
        table.catalogs().put(REPOSITORY, &shop_snapshot(OLD, None), NOW).await.unwrap();
        let tree = Tree::shop().rules();
        let diff = pages(vec![differences.clone()]);
        let start = start_rule(&name_of("main"), &Recorder::default());
        let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
        let handler = detector_with_catalogs(codecommit(&rules), sfn(&[&start]), &table);

        let output = handler.handle(push()).await;

        assert_eq!(reads(&tree), expected_reads, "{differences:?}");
        match output {
            Ok(output) => assert_eq!(output.services, services, "{differences:?}: {}", output.message),
            // `common` has no manifest in the tree: its GetFile says so, and it is no service.
            Err(failure) => panic!("{differences:?}: {failure}"),
        }
        assert!(table.catalogs().get(REPOSITORY, &commit(NEW)).await.unwrap().is_some(), "{differences:?}");
    }
}

#[tokio::test]
async fn new_service_roots_read_every_manifest_again() {
    let table = LedgerTable::default();
    table.catalogs().put(REPOSITORY, &shop_snapshot(OLD, Some("services = [\"apps/*\"]")), NOW).await.unwrap();
    // At the head, deltaship.toml is gone: the default roots, services/*.
    let tree = Tree::shop().rules();
    let diff = pages(vec![vec![deleted("deltaship.toml"), modified("services/products/src/lib.rs")]]);
    let start = start_rule(&name_of("main"), &Recorder::default());
    let rules: Vec<&Rule> = tree.iter().chain(&diff).collect();
    let handler = detector_with_catalogs(codecommit(&rules), sfn(&[&start]), &table);

    let output = handler.handle(push()).await.unwrap();

    assert_eq!(output.services, ["products"], "{}", output.message);
    // deltaship.toml read for the new roots, then again with every manifest.
    assert_eq!(reads(&tree), [2, 1, 1, 1, 1]);
}

#[tokio::test]
async fn a_stored_catalog_that_does_not_decode_is_no_catalog() {
    let mut broken = common::catalog_item(REPOSITORY, OLD);
    broken.insert(
        "data".into(),
        aws_sdk_dynamodb::types::AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new("not gzip")),
    );
    let table = LedgerTable::with(vec![broken]);
    assert_eq!(table.catalogs().get(REPOSITORY, &commit(OLD)).await.unwrap(), None);
    // A part missing: none either.
    let mut first_of_two = common::catalog_item(REPOSITORY, OLD);
    first_of_two.insert("parts".into(), aws_sdk_dynamodb::types::AttributeValue::N("2".into()));
    let table = LedgerTable::with(vec![first_of_two]);
    assert_eq!(table.catalogs().get(REPOSITORY, &commit(OLD)).await.unwrap(), None);
}

// ---- reconcile-pushes -----------------------------------------------------------------------------

fn reconcile_settings(branches: &[&str]) -> ReconcileSettings {
    ReconcileSettings {
        repository: REPOSITORY.into(),
        branches: branches.iter().map(|branch| (*branch).to_owned()).collect(),
    }
}

/// GetBranch of `branch`: `head`.
fn branch_rule(branch: &'static str, head: &'static str) -> Rule {
    mock!(aws_sdk_codecommit::Client::get_branch)
        .match_requests(move |req| req.repository_name() == Some(REPOSITORY) && req.branch_name() == Some(branch))
        .then_output(move || {
            GetBranchOutput::builder().branch(BranchInfo::builder().branch_name(branch).commit_id(head).build()).build()
        })
}

/// ListBranches of the repository: `branches`, over two pages.
fn list_branches_rules(branches: &'static [&'static str]) -> Vec<Rule> {
    let (first, second) = branches.split_at(branches.len() / 2);
    vec![
        mock!(aws_sdk_codecommit::Client::list_branches)
            .match_requests(|req| req.repository_name() == Some(REPOSITORY) && req.next_token().is_none())
            .then_output(move || {
                ListBranchesOutput::builder()
                    .set_branches(Some(first.iter().map(|b| (*b).to_owned()).collect()))
                    .next_token("page-2")
                    .build()
            }),
        mock!(aws_sdk_codecommit::Client::list_branches)
            .match_requests(|req| req.repository_name() == Some(REPOSITORY) && req.next_token() == Some("page-2"))
            .then_output(move || {
                ListBranchesOutput::builder()
                    .set_branches(Some(second.iter().map(|b| (*b).to_owned()).collect()))
                    .build()
            }),
    ]
}

/// A ledger whose latest push of `branch` is `commit`, with `status`, recorded an hour ago.
async fn ledger_at(pushes: &[(&str, &str, PushStatus)]) -> LedgerTable {
    let table = LedgerTable::default();
    for (branch, commit_id, status) in pushes {
        let record = PushRecord {
            repository: REPOSITORY.into(),
            branch: (*branch).to_owned(),
            commit: commit(commit_id),
            base: None,
            pushed_at: NOW - 3600,
            origin: Origin::Push,
            status: *status,
            execution: None,
            message: String::new(),
            recorded_at_ms: (NOW - 3600) * 1000,
        };
        table.ledger().record(&record).await.unwrap();
    }
    table
}

fn reconciler(codecommit_rules: &[&Rule], sfn_rules: &[&Rule], ledger: &LedgerTable, branches: &[&str]) -> Reconcile {
    Reconcile::from_clients(
        codecommit(codecommit_rules),
        sfn(sfn_rules),
        ledger.ledger(),
        settings(),
        reconcile_settings(branches),
        common::clock,
    )
}

#[tokio::test]
async fn the_reconciler_plans_a_push_whose_event_was_lost() {
    // main moved OLD -> NEW, but the event never came: main's latest recorded push is OLD's.
    // release has no recorded push: reported, not deployed. feature-x is not watched.
    let ledger = ledger_at(&[("main", OLD, PushStatus::Started), ("feature-x", NEW, PushStatus::Started)]).await;
    let seen = Recorder::default();
    let start = start_rule(&name_of("main"), &seen);
    let listed = list_branches_rules(&["feature-x", "main", "release"]);
    let heads = [branch_rule("main", NEW), branch_rule("release", OLD)];
    let tree = Tree::shop().rules();
    let diff = pages(three_pages());
    let codecommit_rules: Vec<&Rule> = tree.iter().chain(&diff).chain(&heads).chain(&listed).collect();
    let output =
        reconciler(&codecommit_rules, &[&start], &ledger, &["main", "release"]).handle(json!({})).await.unwrap();

    let [main, release] = &output.branches[..] else { panic!("{output:?}") };
    assert_eq!(main.status, BranchStatus::Reconciled, "{}", main.message);
    assert_eq!(main.head.as_deref(), Some(NEW));
    assert_eq!((main.latest_commit.as_deref(), main.latest_status), (Some(OLD), Some(PushStatus::Started)));
    let detected = main.detect.as_ref().unwrap();
    assert_eq!(detected.status, DetectStatus::Started);
    assert_eq!(detected.services, ["products"]);
    assert_eq!(release.status, BranchStatus::NoRecord, "{}", release.message);
    assert_eq!(release.detect, None);

    // One execution for NEW, planned from main's latest recorded push (OLD), marked as the
    // reconciler's, with the time it saw the branch as its push time.
    let request = seen.only();
    let input: Value = serde_json::from_str(request.input().unwrap()).unwrap();
    let mut expected = products_input();
    expected["origin"] = json!("reconciler");
    expected["pushed_at"] = json!(NOW);
    expected["services"][0]["pushed_at"] = json!(NOW);
    expected["pushed_by"] = Value::Null;
    expected["services"][0]["pushed_by"] = Value::Null;
    assert_eq!(input, expected);
    assert!(diff.iter().all(|page| page.num_calls() == 1), "the diff OLD..NEW was read");
    // The missed push is recorded as the reconciler's: the next run finds main up to date.
    let branch = deltaship_core::ledger::resource(REPOSITORY, "main");
    assert_eq!(ledger.text(&branch, deltaship_core::ledger::LATEST, "commit").as_deref(), Some(NEW));
    assert_eq!(ledger.text(&branch, deltaship_core::ledger::LATEST, "origin").as_deref(), Some("reconciler"));
}

#[tokio::test]
async fn the_reconciler_leaves_a_branch_at_its_latest_recorded_push_alone() {
    // Whatever became of the push of the head (here: nothing to deploy), it was seen.
    let ledger = ledger_at(&[("main", NEW, PushStatus::NothingToDeploy)]).await;
    let listed = list_branches_rules(&["main"]);
    let heads = [branch_rule("main", NEW)];
    let rules: Vec<&Rule> = heads.iter().chain(&listed).collect();
    let reconciler = reconciler(&rules, &[], &ledger, &["main"]);

    let output = reconciler.handle(json!({})).await.unwrap();

    assert_eq!(output.branches[0].status, BranchStatus::UpToDate);
    assert_eq!(
        output.branches[0].message,
        "shop-monorepo@main is at 7f0103fa1b2c, its latest recorded push (NOTHING_TO_DEPLOY)"
    );
    assert_eq!(output.branches[0].detect, None);
    let failure = reconciler.handle(json!([])).await.unwrap_err();
    assert_eq!(failure.kind, ErrorKind::InvalidInput);
}

#[tokio::test]
async fn after_a_skipped_push_the_reconciler_plans_only_what_came_after_it() {
    // main: an older deployed commit, then OLD says [skip deploy] (recorded SKIPPED), then a
    // docs-only push to NEW whose event was lost. The reconciler plans OLD..NEW (the GetDifferences
    // rules answer nothing else), which changes no service: the skipped change is not deployed.
    let ledger = ledger_at(&[("main", OLD, PushStatus::Skipped)]).await;
    let listed = list_branches_rules(&["main"]);
    let heads = [branch_rule("main", NEW)];
    let tree = Tree::shop().rules();
    let diff = pages(vec![vec![modified("README.md")]]);
    let rules: Vec<&Rule> = tree.iter().chain(&diff).chain(&heads).chain(&listed).collect();
    let start = start_rule(&name_of("main"), &Recorder::default());

    let output = reconciler(&rules, &[&start], &ledger, &["main"]).handle(json!({})).await.unwrap();

    let main = &output.branches[0];
    assert_eq!(main.status, BranchStatus::Reconciled, "{}", main.message);
    assert_eq!(main.detect.as_ref().map(|detected| detected.status), Some(DetectStatus::NothingToDeploy));
    assert_eq!(start.num_calls(), 0);
    // Recorded, so the next run does not plan it again.
    let branch = deltaship_core::ledger::resource(REPOSITORY, "main");
    assert_eq!(ledger.text(&branch, deltaship_core::ledger::LATEST, "status").as_deref(), Some("NOTHING_TO_DEPLOY"));
}

#[tokio::test]
async fn the_reconciler_watches_the_branches_its_patterns_match() {
    let ledger = ledger_at(&[("release/1.2", NEW, PushStatus::Started)]).await;
    let listed = list_branches_rules(&["feature/x", "main", "release/1.2", "release/2.0"]);
    let heads = [branch_rule("release/1.2", NEW), branch_rule("release/2.0", OLD)];
    let rules: Vec<&Rule> = heads.iter().chain(&listed).collect();

    let output = reconciler(&rules, &[], &ledger, &["release/*", "hotfix/*"]).handle(json!({})).await.unwrap();

    let found: Vec<(&str, BranchStatus)> =
        output.branches.iter().map(|report| (report.branch.as_str(), report.status)).collect();
    assert_eq!(
        found,
        [
            ("release/1.2", BranchStatus::UpToDate),
            ("release/2.0", BranchStatus::NoRecord),
            ("hotfix/*", BranchStatus::NoBranch),
        ]
    );
    assert_eq!(output.branches[2].message, "no branch of shop-monorepo matches \"hotfix/*\"");
    assert!(listed.iter().all(|page| page.num_calls() == 1), "every page of ListBranches");
}
