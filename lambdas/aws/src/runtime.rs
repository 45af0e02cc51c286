//! What every Lambda bin shares: logging, the AWS configuration, and the runtime loop.

use std::future::Future;

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

    #[test]
    fn diagnostics_carry_the_stable_name() {
        let diagnostic = Diagnostic::from(FunctionError(Failure::new(ErrorKind::BuildFailed, "build x failed")));
        assert_eq!(diagnostic.error_type, "BuildFailed");
        assert_eq!(diagnostic.error_message, "build x failed");
    }
}
