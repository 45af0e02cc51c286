//! The check-build Lambda: says whether a build runs, succeeded (with its image) or failed.
//!
//! See `deltaship_aws::check_build` for the input, the output and the errors.

use deltaship_aws::runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let wait = deltaship_aws::settings::build_wait(&deltaship_aws::settings::Environment)?;
    let function = &runtime::Lazy::new();
    runtime::serve(move |payload| async move {
        let build = || async { deltaship_aws::check_build::CheckBuild::new(&runtime::aws_config().await, wait) };
        function.get_or_init(build).await.handle(payload).await
    })
    .await
}
