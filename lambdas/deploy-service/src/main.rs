//! The deploy-service Lambda: registers a task definition revision with the new image and updates the service.
//!
//! See `deltaship_aws::deploy` for the input, the output and the errors.

use deltaship_aws::runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let wait = deltaship_aws::settings::rollout_wait(&deltaship_aws::settings::Environment)?;
    let scope = &deltaship_aws::settings::scope(&deltaship_aws::settings::Environment);
    let function = &runtime::Lazy::new();
    runtime::serve(move |payload| async move {
        let build = || async {
            deltaship_aws::deploy::DeployService::new(&runtime::aws_config().await, wait).with_scope(scope.clone())
        };
        function.get_or_init(build).await.handle(payload).await
    })
    .await
}
