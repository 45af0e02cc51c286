//! The check-rollout Lambda: judges the deployment deploy-service created, by its id.
//!
//! See `deltaship_aws::check_rollout` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::check_rollout::CheckRollout>()
}
