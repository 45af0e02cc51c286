//! The rollback-service Lambda: puts a service back on its previous task definition, safely.
//!
//! See `deltaship_aws::rollback` for the input, the output and the errors.

use deltaship_aws::runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let scope = &deltaship_aws::settings::scope(&deltaship_aws::settings::Environment);
    let function = &runtime::Lazy::new();
    runtime::serve(move |payload| async move {
        let build = || async {
            deltaship_aws::rollback::RollbackService::new(&runtime::aws_config().await).with_scope(scope.clone())
        };
        function.get_or_init(build).await.handle(payload).await
    })
    .await
}
