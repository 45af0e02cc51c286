//! What a Lambda function is, and the one list of them.
//!
//! A [`Function`] says everything that differs between two functions: its name (its bin's), the
//! settings it reads and how, how it is built from the AWS configuration and those settings, and
//! how it handles a payload. Everything else is the same for every function and is written once:
//! the Lambda runtime loop ([`crate::runtime::run`]) and the local stack's in-process calls
//! ([`AnyFunction`], built by name from [`FUNCTIONS`]). So a function cannot be wired one way in
//! its bin and another in the local stack.
//!
//! [`FUNCTIONS`] is the only list of the functions in the workspace: the local stack, its seeding
//! of the state machine, and the contract tests (which check it against the bins under
//! `lambdas/` and the functions of `sam/template.yaml`) read it.

use std::fmt;
use std::future::Future;

use aws_config::SdkConfig;
use deltaship_core::{ErrorKind, Failure};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::settings::{SettingsError, Source};
use crate::{check_build, check_rollout, deploy, detect, reconcile, request_approval, rollback, start_build, wake};

/// One Lambda function of deltaship.
pub trait Function: fmt::Debug + Send + Sync + Sized + 'static {
    /// The function's name: its bin (`lambdas/<name>`), and its `Binary` in `sam/template.yaml`.
    const NAME: &'static str;

    /// What the function reads from its environment variables ([`crate::settings`]).
    type Settings: Send + Sync;

    /// What it answers: a flat JSON object.
    type Output: Serialize + Send;

    /// Reads the settings from `source`: at cold start in a bin, a malformed variable is an error
    /// naming the variable.
    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError>;

    /// The function, with clients from `config`.
    fn build(config: &SdkConfig, settings: &Self::Settings) -> Self;

    /// Handles one invocation: parses `payload` into the function's input, and answers its output
    /// or a [`Failure`] with a stable `errorType`.
    fn handle(&self, payload: Value) -> impl Future<Output = Result<Self::Output, Failure>> + Send;
}

/// Any function, called with JSON and answering JSON: how the local stack calls a function by its
/// name. Every [`Function`] is one.
pub trait AnyFunction: fmt::Debug + Send + Sync {
    /// The function's name ([`Function::NAME`]).
    fn name(&self) -> &'static str;

    /// [`Function::handle`], its output as JSON.
    fn invoke(&self, payload: Value) -> BoxFuture<'_, Result<Value, Failure>>;
}

impl<F: Function> AnyFunction for F {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn invoke(&self, payload: Value) -> BoxFuture<'_, Result<Value, Failure>> {
        Box::pin(async move {
            let output = self.handle(payload).await?;
            serde_json::to_value(output).map_err(|error| {
                Failure::new(ErrorKind::AwsError, format!("{}: could not serialise the output: {error}", F::NAME))
            })
        })
    }
}

/// How an [`Entry`] builds its function.
type Build = fn(&SdkConfig, &dyn Source) -> Result<Box<dyn AnyFunction>, SettingsError>;

/// One function of [`FUNCTIONS`]: its name, and how to build it from settings in a [`Source`].
#[derive(Clone, Copy)]
pub struct Entry {
    /// The function's name ([`Function::NAME`]).
    pub name: &'static str,
    build: Build,
}

impl Entry {
    /// The entry of `F`.
    pub const fn of<F: Function>() -> Self {
        Self { name: F::NAME, build: build_any::<F> }
    }

    /// The function with clients from `config` and its settings read from `source`, the way its
    /// bin builds it from its environment.
    pub fn build(&self, config: &SdkConfig, source: &dyn Source) -> Result<Box<dyn AnyFunction>, SettingsError> {
        (self.build)(config, source)
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("Entry").field("name", &self.name).finish_non_exhaustive()
    }
}

fn build_any<F: Function>(config: &SdkConfig, source: &dyn Source) -> Result<Box<dyn AnyFunction>, SettingsError> {
    Ok(Box::new(F::build(config, &F::read_settings(source)?)))
}

/// Every function, in pipeline order: the one list of them.
pub const FUNCTIONS: [Entry; 9] = [
    Entry::of::<detect::DetectChanges>(),
    Entry::of::<start_build::StartBuild>(),
    Entry::of::<check_build::CheckBuild>(),
    Entry::of::<deploy::DeployService>(),
    Entry::of::<check_rollout::CheckRollout>(),
    Entry::of::<rollback::RollbackService>(),
    Entry::of::<request_approval::RequestApproval>(),
    Entry::of::<reconcile::Reconcile>(),
    Entry::of::<wake::WakeWaits>(),
];

/// The names of [`FUNCTIONS`], in their order.
pub fn names() -> [&'static str; FUNCTIONS.len()] {
    FUNCTIONS.map(|entry| entry.name)
}

/// The function called `name`, if there is one.
pub fn named(name: &str) -> Option<&'static Entry> {
    FUNCTIONS.iter().find(|entry| entry.name == name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Settings every function accepts, as the SAM template would set them.
    const VARIABLES: [(&str, &str); 5] = [
        ("STATE_MACHINE_ARN", "arn:aws:states:eu-west-1:123456789012:stateMachine:deltaship"),
        ("REPOSITORY_NAME", "shop"),
        ("BRANCHES", "main"),
        ("WAITS_TABLE", "deltaship-waits"),
        ("APPROVALS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:deltaship-approvals"),
    ];

    /// A configuration that needs no environment: no call is made with it in these tests.
    fn config() -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build()
    }

    #[test]
    fn the_list_names_each_function_once() {
        let names = names();
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), FUNCTIONS.len(), "{names:?}");
        assert_eq!(names[0], "detect-changes");
        assert_eq!(
            names,
            [
                "detect-changes",
                "start-build",
                "check-build",
                "deploy-service",
                "check-rollout",
                "rollback-service",
                "request-approval",
                "reconcile-pushes",
                "wake-waits"
            ]
        );
        assert_eq!(named("deploy-service").map(|entry| entry.name), Some("deploy-service"));
        assert!(named("deploy").is_none());
        assert_eq!(format!("{:?}", FUNCTIONS[0]), r#"Entry { name: "detect-changes", .. }"#);
    }

    #[tokio::test]
    async fn every_function_builds_from_its_settings_and_answers_by_name() {
        for entry in &FUNCTIONS {
            let function = entry.build(&config(), &VARIABLES).unwrap();
            assert_eq!(function.name(), entry.name);
            // An array is no function's input: refused before any AWS call.
            let failure = function.invoke(serde_json::json!([])).await.unwrap_err();
            assert_eq!(failure.kind, ErrorKind::InvalidInput, "{}: {failure:?}", entry.name);
            assert!(failure.message.starts_with(entry.name), "{}: {}", entry.name, failure.message);
        }
    }

    #[tokio::test]
    async fn outputs_come_back_as_json() {
        let detect = named("detect-changes").unwrap().build(&config(), &[("DRY_RUN", "true")]).unwrap();
        let event = include_str!("../../../tests/fixtures/events/reference-deleted-branch.json");
        let output = detect.invoke(serde_json::from_str(event).unwrap()).await.unwrap();
        assert_eq!(output["status"], "IGNORED", "{output}");
    }

    #[test]
    fn a_malformed_setting_stops_the_build_naming_the_variable() {
        let error = named("check-build").unwrap().build(&config(), &[("BUILD_WAIT_MAX_SECONDS", "soon")]).unwrap_err();
        assert_eq!(error.variable, "BUILD_WAIT_MAX_SECONDS");
        let error = named("reconcile-pushes").unwrap().build(&config(), &[("DRY_RUN", "true")]).unwrap_err();
        assert_eq!(error.variable, "REPOSITORY_NAME");
    }

    #[test]
    fn the_functions_that_wait_or_read_the_ledger_need_the_waits_table() {
        let without: Vec<(&str, &str)> =
            VARIABLES.iter().copied().filter(|(variable, _)| *variable != "WAITS_TABLE").collect();
        let without = Table(without);
        for entry in &FUNCTIONS {
            let built = entry.build(&config(), &without);
            match entry.name {
                // The waits; the push ledger (detect-changes records pushes, reconcile-pushes
                // compares heads with it, deploy-service orders two pushes of one second by it);
                // the approval gates.
                "check-build" | "check-rollout" | "wake-waits" | "detect-changes" | "reconcile-pushes"
                | "deploy-service" | "request-approval" => {
                    let error = built.err().unwrap_or_else(|| panic!("{} built without WAITS_TABLE", entry.name));
                    assert_eq!(error.variable, "WAITS_TABLE", "{}", entry.name);
                    assert!(error.to_string().starts_with("environment variable WAITS_TABLE: not set"), "{error}");
                }
                _ => assert!(built.is_ok(), "{} needs no table", entry.name),
            }
        }
        // A dry run of detect-changes records nothing: it needs no table.
        let dry: Vec<(&str, &str)> = [("DRY_RUN", "true")].into_iter().collect();
        assert!(named("detect-changes").unwrap().build(&config(), &Table(dry)).is_ok());
    }

    /// Variables in a list.
    struct Table<'a>(Vec<(&'a str, &'a str)>);

    impl Source for Table<'_> {
        fn get(&self, variable: &str) -> Option<String> {
            self.0.iter().find(|(name, _)| *name == variable).map(|(_, value)| (*value).to_owned())
        }
    }
}
