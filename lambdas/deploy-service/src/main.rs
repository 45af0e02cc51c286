//! The deploy-service Lambda: registers a task definition revision with the new image and updates the service.
//!
//! See `deltaship_aws::deploy` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::deploy::DeployService>()
}
