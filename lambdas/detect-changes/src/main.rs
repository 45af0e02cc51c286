//! The detect-changes Lambda: plans a CodeCommit push and starts the pipeline's execution.
//!
//! See `deltaship_aws::detect` for the input, the output and the errors.

// The handler's future, built inside the runtime's future at the first invocation, nests deeper
// than the compiler's default limit for computing its layout.
#![recursion_limit = "256"]

use deltaship_aws::runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let settings = &deltaship_aws::settings::DetectSettings::from_env()?;
    let scope = &deltaship_aws::settings::scope(&deltaship_aws::settings::Environment);
    let function = &runtime::Lazy::new();
    runtime::serve(move |payload| async move {
        let build = || async {
            deltaship_aws::detect::DetectChanges::new(&runtime::aws_config().await, settings.clone())
                .with_scope(scope.clone())
        };
        function.get_or_init(build).await.handle(payload).await
    })
    .await
}
