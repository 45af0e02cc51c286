//! The reconcile-pushes Lambda: on a schedule, plans the pushes whose event never arrived.
//!
//! See `deltaship_aws::reconcile` for the input, the output and the errors.

use deltaship_aws::runtime;
use deltaship_aws::settings::{DetectSettings, Environment, ReconcileSettings, scope};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let (detect, settings) = (DetectSettings::from_env()?, ReconcileSettings::from_env()?);
    let function = deltaship_aws::reconcile::Reconcile::new(&runtime::aws_config().await, detect, settings)
        .with_scope(scope(&Environment));
    runtime::serve(|payload| function.handle(payload)).await
}
