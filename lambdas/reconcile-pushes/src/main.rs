//! The reconcile-pushes Lambda: on a schedule, plans the pushes whose event never arrived.
//!
//! See `deltaship_aws::reconcile` for the input, the output and the errors.

use deltaship_aws::runtime;
use deltaship_aws::settings::{DetectSettings, Environment, ReconcileSettings, scope};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let (detect, settings) = &(DetectSettings::from_env()?, ReconcileSettings::from_env()?);
    let scope = &scope(&Environment);
    let function = &runtime::Lazy::new();
    runtime::serve(move |payload| async move {
        let build = || async {
            deltaship_aws::reconcile::Reconcile::new(&runtime::aws_config().await, detect.clone(), settings.clone())
                .with_scope(scope.clone())
        };
        function.get_or_init(build).await.handle(payload).await
    })
    .await
}
