//! The start-build Lambda: starts a service's CodeBuild project on the pushed commit.
//!
//! See `deltaship_aws::start_build` for the input, the output and the errors.

use deltaship_aws::runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let wait = deltaship_aws::settings::build_wait(&deltaship_aws::settings::Environment)?;
    let scope = &deltaship_aws::settings::scope(&deltaship_aws::settings::Environment);
    let function = &runtime::Lazy::new();
    runtime::serve(move |payload| async move {
        let build = || async {
            deltaship_aws::start_build::StartBuild::new(&runtime::aws_config().await, wait).with_scope(scope.clone())
        };
        function.get_or_init(build).await.handle(payload).await
    })
    .await
}
