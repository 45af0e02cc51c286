//! The pure domain of deltaship: everything it decides, with no AWS SDK, no async runtime and no
//! I/O, so that every decision is a plain function that tests can call with a table of cases.
//!
//! Each module is one decision, named for it:
//!
//! | module | decides |
//! |--------|---------|
//! | [`event`] | what an EventBridge "CodeCommit Repository State Change" event asks for: a [`Push`] to plan, or an [`Ignored`] reason |
//! | [`paths`] | which paths a `watch`/`ignore`/`depends_on`/`deploy_all` entry stands for (globs, "a path and everything below") |
//! | [`roots`] | which folders are service folders (`deltaship.toml`'s `services`), and how to list them |
//! | [`manifest`] | what a service's `service.toml` says, validated strictly |
//! | [`settings`] | what `deltaship.toml` says: service roots, branches, `deploy_all`, `first_push`, environments |
//! | [`environments`] | the environments in pipeline order, their approvals, and each service's target in each |
//! | [`gates`] | where a promotion waits for its approval, which wait an approval answers, and which waits a newer push supersedes |
//! | [`approval_notice`] | what the notification of a wait at a gate says: the question, the push, and the commands that answer it |
//! | [`snapshot`] | the files a catalog is built from, kept between pushes: what a push needs read again |
//! | [`adopt`] | which folders of an existing repository are services: the roots and manifests `deltaship init` proposes |
//! | [`planner`] | which services a set of [`Change`]s deploys, and why ([`Catalog`], [`Plan`]) |
//! | [`decision`] | what a push deploys: `[skip deploy]`, the branch, no service defined, first push, the plan |
//! | [`check`] | what is wrong with a repository's configuration, what triggers each service, which paths no service owns |
//! | [`naming`] | the deterministic Step Functions execution name of a push |
//! | [`pipeline`] | the execution input (one [`ServiceJob`] per planned service), fitted to Step Functions' payload limit |
//! | [`payloads`] | every Lambda's input and output, and each service's [`Outcome`] |
//! | [`build`] | whether a CodeBuild build runs, succeeded (with its image) or failed |
//! | [`wait`] | how long to wait before looking at a build or a rollout again ([`WaitPolicy`]) |
//! | [`rollout`] | whether the service deployment deltaship created succeeded (every strategy), and how to roll it back |
//! | [`waits`] | where a wait's task token is kept, which event wakes it, what completes it |
//! | [`budget`] | how many history events a plan can write at worst, and so how it is split into executions |
//! | [`deliveries`] | which deliveries of a push start an execution: duplicates, lost events, `[skip deploy]` |
//! | [`ledger`] | what became of each push, which push is a branch's latest, how two pushes of one second are ordered |
//! | [`wildcard`] | which branches the template's `Branches` patterns take (EventBridge's `wildcard`) |
//! | [`races`] | newer push wins: an older push never deploys over a newer one |
//! | [`tags`] | the tags of a revision deltaship registers, within what ECS accepts |
//! | [`scope`] | what one deltaship stack may touch, whatever the manifests say |
//! | [`failure`] | the stable error names ([`ErrorKind`]) every Lambda returns |
//! | [`links`] | console links for builds, services and executions |
//! | [`partition`] | which console and which domain a region uses (`aws`, `aws-cn`, `aws-us-gov`) |
//! | [`source`] | files read at a commit, and the problems found in them ([`ManifestError`]) |
//!
//! `testing` (tests, benchmarks and fuzz targets only, behind the `testing` feature) holds the
//! fuzz targets' checks and the reference planner.
//!
//! Adapters (the Lambdas' AWS clients, the CLI's git reader) fetch the changed paths and the
//! manifest files, hand them to this crate, and act on its answer.
//!
//! ```
//! use deltaship_core::{Catalog, Change, SourceFile};
//!
//! let manifest = SourceFile::new(
//!     "services/api/service.toml",
//!     r#"
//!     depends_on = ["../common"]
//!     [build]
//!     project = "api"
//!     [deploy]
//!     cluster = "shop"
//!     service = "api"
//!     container = "app"
//!     image_repository = "shop/api"
//!     "#,
//! );
//! let catalog = Catalog::load(None, &[manifest]).unwrap();
//! let changes = [Change::Modified("services/common/src/lib.rs".into())];
//! let plan = catalog.plan(&changes);
//! assert_eq!(plan.services[0].service.name, "api");
//! assert_eq!(plan.services[0].reasons, ["services/common/src/lib.rs"]);
//! ```

pub mod adopt;
pub mod approval_notice;
pub mod budget;
pub mod build;
pub mod check;
pub mod commit;
pub mod decision;
pub mod deliveries;
pub mod environments;
pub mod event;
pub mod failure;
pub mod gates;
pub mod ledger;
pub mod links;
pub mod manifest;
mod matcher;
pub mod naming;
pub mod partition;
pub mod paths;
pub mod payloads;
pub mod pipeline;
pub mod planner;
pub mod races;
pub mod redeploy;
pub mod rollout;
pub mod roots;
pub mod scope;
pub mod settings;
pub mod snapshot;
pub mod source;
pub mod tags;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wait;
pub mod waits;
pub mod wildcard;

pub use build::BuildVerdict;
pub use commit::{CommitId, InvalidCommitId};
pub use event::{EventError, Ignored, Push, Trigger, parse_event, parse_event_value};
pub use failure::{ErrorKind, Failure};
pub use manifest::Service;
pub use naming::{execution_name, execution_name_attempt};
pub use payloads::{Outcome, RolloutWatch, ServiceJob};
pub use pipeline::{Origin, PipelineInput};
pub use planner::{Catalog, CatalogError, Change, Plan, PlannedService};
pub use rollout::{Expect, RollbackDecision, RolloutVerdict};
pub use scope::Scope;
pub use settings::{FirstPush, Settings};
pub use source::{ManifestError, SourceFile};
pub use wait::WaitPolicy;
