//! How every Lambda bin runs its [`Function`]: one generic runner, [`run`].
//!
//! 1. At cold start: logging is set up, and the function's settings are read from the
//!    environment ([`Function::read_settings`]). A malformed variable stops the function there,
//!    with a message naming the variable, rather than at its first invocation.
//! 2. The function asks the Lambda Runtime API for work at once. Its AWS configuration and
//!    clients are built at its first invocation ([`LazyFunction`], on a
//!    [`tokio::sync::OnceCell`]) and reused by every later one: loading the configuration builds
//!    the HTTPS client, which reads and parses every root certificate of the system, most of a
//!    cold start's time otherwise (`docs/PERFORMANCE.md`).
//! 3. Each invocation's payload reaches [`Function::handle`] as JSON, so a payload of the wrong
//!    shape is the function's `InvalidInput` error, not a crash. A failure is logged and answered
//!    as a [`Diagnostic`] whose `errorType` is the stable [`deltaship_core::ErrorKind`] name
//!    ([`FunctionError`]), which the state machine's `Retry` and `Catch` rules match.

use std::future::Future;

use aws_config::SdkConfig;
use deltaship_core::Failure;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::function::Function;
use crate::settings::{Environment, SettingsError, Source};

/// What a bin's `main` returns: a settings error at cold start, or the runtime's own.
pub type Error = lambda_runtime::Error;

/// Runs the function `F` as a Lambda bin: reads its settings, then serves invocations until the
/// runtime stops. The whole `main` of a bin.
pub fn run<F: Function>() -> Result<(), Error> {
    init_tracing();
    let function = LazyFunction::<F>::cold_start(&Environment)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(serve(&function))
}

/// A function error as the Lambda runtime reports it: `errorType` is the stable
/// [`deltaship_core::ErrorKind`] name, `errorMessage` the failure's message.
#[derive(Debug)]
pub struct FunctionError(pub Failure);

impl From<FunctionError> for Diagnostic {
    fn from(FunctionError(failure): FunctionError) -> Self {
        Self { error_type: failure.kind.name().to_owned(), error_message: failure.message }
    }
}

/// Sets up logging the way Lambda's logging controls ask (`AWS_LAMBDA_LOG_FORMAT`,
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`).
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// The shared AWS configuration (credentials, region, endpoint overrides) from the environment.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A function as a cold start leaves it: its settings read, its clients not built until its first
/// invocation.
#[derive(Debug)]
pub struct LazyFunction<F: Function> {
    settings: F::Settings,
    function: OnceCell<F>,
}

impl<F: Function> LazyFunction<F> {
    /// Reads the function's settings from `source`; builds nothing.
    pub fn cold_start(source: &dyn Source) -> Result<Self, SettingsError> {
        Ok(Self { settings: F::read_settings(source)?, function: OnceCell::new() })
    }

    /// Whether the function has been built.
    pub fn is_built(&self) -> bool {
        self.function.initialized()
    }

    /// The function, built with the configuration `config` loads if this is the first use. Lambda
    /// hands a process one invocation at a time; should two first uses race all the same, one
    /// builds and the other waits for it.
    pub async fn get<Fut: Future<Output = SdkConfig>>(&self, config: impl FnOnce() -> Fut) -> &F {
        self.function.get_or_init(|| async { F::build(&config().await, &self.settings) }).await
    }

    /// Handles one invocation with the function (built first with the configuration `config`
    /// loads, if this is the first): its output, or its failure, logged.
    pub async fn invoke<Fut: Future<Output = SdkConfig>>(
        &self,
        config: impl FnOnce() -> Fut,
        payload: Value,
    ) -> Result<F::Output, FunctionError> {
        self.get(config).await.handle(payload).await.map_err(|failure| {
            tracing::error!(error_type = failure.kind.name(), "{}", failure.message);
            FunctionError(failure)
        })
    }
}

/// Serves every invocation with `function` until the runtime stops, loading the AWS
/// configuration from the environment at the first.
pub async fn serve<F: Function>(function: &LazyFunction<F>) -> Result<(), Error> {
    // Boxed: the function's future inside the runtime's would otherwise nest deeper than the
    // compiler's default limit for computing its layout (detect-changes' does).
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| Box::pin(function.invoke(aws_config, event.payload))))
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use deltaship_core::ErrorKind;

    use super::*;
    use crate::{check_build, deploy, detect, reconcile, rollback};

    /// A function that counts how often it is built, and fails on request.
    #[derive(Debug)]
    struct Probe {
        answer: u32,
    }

    /// The probe's settings: `ANSWER`, and the count of builds.
    #[derive(Debug)]
    struct ProbeSettings {
        answer: u32,
        builds: Arc<AtomicUsize>,
    }

    impl Function for Probe {
        const NAME: &'static str = "probe";
        type Settings = ProbeSettings;
        type Output = Value;

        fn read_settings(source: &dyn Source) -> Result<ProbeSettings, SettingsError> {
            let answer = source.get("ANSWER").unwrap_or_default();
            let answer = answer
                .parse()
                .map_err(|_| SettingsError { variable: "ANSWER", problem: format!("{answer:?} is not a number") })?;
            Ok(ProbeSettings { answer, builds: Arc::default() })
        }

        fn build(_: &SdkConfig, settings: &ProbeSettings) -> Self {
            settings.builds.fetch_add(1, Ordering::SeqCst);
            Self { answer: settings.answer }
        }

        async fn handle(&self, payload: Value) -> Result<Value, Failure> {
            match payload.as_str() {
                Some("fail") => Err(Failure::new(ErrorKind::BuildFailed, "build x failed")),
                _ => Ok(serde_json::json!({ "answer": self.answer })),
            }
        }
    }

    fn offline_config() -> SdkConfig {
        SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build()
    }

    #[tokio::test]
    async fn the_function_is_built_once_at_its_first_invocation() {
        let function = LazyFunction::<Probe>::cold_start(&[("ANSWER", "42")]).unwrap();
        assert!(!function.is_built(), "nothing is built at cold start");
        let loads = AtomicUsize::new(0);
        let config = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            offline_config()
        };
        for _ in 0..3 {
            let output = function.invoke(config, serde_json::json!({})).await.unwrap();
            assert_eq!(output, serde_json::json!({ "answer": 42 }));
            assert!(function.is_built());
        }
        assert_eq!(function.settings.builds.load(Ordering::SeqCst), 1, "built once");
        assert_eq!(loads.load(Ordering::SeqCst), 1, "the configuration is loaded once");
    }

    #[test]
    fn a_malformed_setting_stops_the_cold_start_naming_the_variable() {
        let error = LazyFunction::<Probe>::cold_start(&[("ANSWER", "many")]).unwrap_err();
        assert_eq!(error.to_string(), "environment variable ANSWER: \"many\" is not a number");

        // The real functions, each with a variable it reads set wrong.
        let errors = [
            LazyFunction::<detect::DetectChanges>::cold_start(&[("DRY_RUN", "maybe")]).err(),
            LazyFunction::<check_build::CheckBuild>::cold_start(&[("BUILD_WAIT_MIN_SECONDS", "0")]).err(),
            LazyFunction::<deploy::DeployService>::cold_start(&[("ROLLOUT_WAIT_MAX_SECONDS", "soon")]).err(),
            LazyFunction::<reconcile::Reconcile>::cold_start(&[("DRY_RUN", "true"), ("REPOSITORY_NAME", "shop")]).err(),
        ];
        let variables = errors.map(|error| error.map(|error| error.variable));
        assert_eq!(
            variables,
            [Some("DRY_RUN"), Some("BUILD_WAIT_MIN_SECONDS"), Some("ROLLOUT_WAIT_MAX_SECONDS"), Some("BRANCHES")]
        );
        assert!(LazyFunction::<rollback::RollbackService>::cold_start(&[("CLUSTER_NAME", "")]).is_ok());
    }

    #[tokio::test]
    async fn failures_become_diagnostics_with_the_stable_name() {
        let function = LazyFunction::<Probe>::cold_start(&[("ANSWER", "1")]).unwrap();
        let error = function.invoke(|| async { offline_config() }, serde_json::json!("fail")).await.unwrap_err();
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "BuildFailed");
        assert_eq!(diagnostic.error_message, "build x failed");

        let diagnostic = Diagnostic::from(FunctionError(Failure::new(ErrorKind::OutOfScope, "cluster prod")));
        assert_eq!((diagnostic.error_type.as_str(), diagnostic.error_message.as_str()), ("OutOfScope", "cluster prod"));
    }
}
