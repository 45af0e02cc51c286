//! The pure domain of deltaship: everything it decides, with no AWS SDK, no async runtime and no
//! I/O, so that every decision is a plain function that tests can call with a table of cases.
//!
//! - [`event`]: the EventBridge "CodeCommit Repository State Change" event and what it asks for
//!   (a [`Push`] to plan, or an [`Ignored`] reason).
//! - [`manifest`]: `services/<name>/service.toml` and `deltaship.toml`, validated strictly.
//! - [`planner`]: a [`Catalog`] of services compiled into one glob set, and the [`Plan`] for a
//!   set of [`Change`]s.
//! - [`naming`]: the deterministic Step Functions execution name of a push.
//! - [`pipeline`]: the execution input (one [`ServiceJob`] per planned service), fitted to Step
//!   Functions' payload limit.
//! - [`build`]: judging a CodeBuild build, and the back-off between looks ([`WaitPolicy`]).
//! - [`rollout`]: judging an ECS rollout by its deployment id, and deciding a safe rollback.
//! - [`failure`]: the stable error names ([`ErrorKind`]) every Lambda returns.
//! - [`links`]: console links for builds, services and executions.
//! - [`reliability`]: duplicate deliveries, lost events, racing pushes, `[skip deploy]`.
//! - [`scope`]: what one deltaship stack may touch, whatever the manifests say.
//! - [`robustness`]: the invariants the fuzz targets check on arbitrary bytes.
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

pub mod build;
pub mod commit;
pub mod event;
pub mod failure;
pub mod links;
pub mod manifest;
mod matcher;
pub mod naming;
pub mod pipeline;
pub mod planner;
pub mod reliability;
pub mod robustness;
pub mod rollout;
pub mod scope;

pub use build::{BuildVerdict, WaitPolicy};
pub use commit::{CommitId, InvalidCommitId};
pub use event::{EventError, Ignored, Push, Trigger, parse_event, parse_event_value};
pub use failure::{ErrorKind, Failure};
pub use manifest::{FirstPush, ManifestError, Service, Settings, SourceFile};
pub use naming::{execution_name, execution_name_attempt};
pub use pipeline::{Origin, PipelineInput, ServiceJob};
pub use planner::{Catalog, CatalogError, Change, Plan, PlannedService};
pub use rollout::{RollbackDecision, RolloutVerdict, RolloutWatch};
pub use scope::Scope;
