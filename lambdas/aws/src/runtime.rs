//! What every Lambda bin shares: logging, the AWS configuration, and the runtime loop.
//!
//! The bins build their AWS clients at their first invocation ([`Lazy`]), not before asking for
//! it: loading the configuration builds the HTTPS client, which reads and parses every root
//! certificate of the system, most of a cold start's time otherwise (`docs/PERFORMANCE.md`).
//! Settings are still read at start-up, so that a malformed variable stops the function there.

use std::future::Future;
use std::sync::OnceLock;

use deltaship_core::Failure;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;

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
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A value built at its first use, once: a function's AWS clients, built at its first invocation
/// and reused by every later one.
#[derive(Debug)]
pub struct Lazy<T>(OnceLock<T>);

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Lazy<T> {
    /// Not built yet.
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// The value, built by `init` if this is the first use. Lambda hands a process one
    /// invocation at a time; should two first uses race all the same, the first value built
    /// stays and the other is dropped.
    pub async fn get_or_init<Fut: Future<Output = T>>(&self, init: impl FnOnce() -> Fut) -> &T {
        if let Some(value) = self.0.get() {
            return value;
        }
        let value = init().await;
        self.0.get_or_init(|| value)
    }
}

/// Runs `handler` for every invocation until the runtime stops. The payload reaches the handler
/// as JSON, so a payload of the wrong shape is the handler's `InvalidInput` error, not a crash.
pub async fn serve<H, Fut, O>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(serde_json::Value) -> Fut,
    Fut: Future<Output = Result<O, Failure>>,
    O: Serialize,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        handler(event.payload).await.map_err(|failure| {
            tracing::error!(error_type = failure.kind.name(), "{}", failure.message);
            FunctionError(failure)
        })
    }))
    .await
}

#[cfg(test)]
mod tests {
    use deltaship_core::ErrorKind;

    use super::*;

    #[tokio::test]
    async fn lazy_values_are_built_once_at_first_use() {
        let built = std::sync::atomic::AtomicUsize::new(0);
        let lazy = Lazy::new();
        assert!(lazy.0.get().is_none(), "nothing is built before the first use");
        for _ in 0..3 {
            let value = lazy
                .get_or_init(|| async {
                    built.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    "clients"
                })
                .await;
            assert_eq!(*value, "clients");
        }
        assert_eq!(built.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn diagnostics_carry_the_stable_name() {
        let diagnostic = Diagnostic::from(FunctionError(Failure::new(ErrorKind::BuildFailed, "build x failed")));
        assert_eq!(diagnostic.error_type, "BuildFailed");
        assert_eq!(diagnostic.error_message, "build x failed");
    }
}
