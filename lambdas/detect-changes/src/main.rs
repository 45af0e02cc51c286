//! The detect-changes Lambda: plans a CodeCommit push and starts the pipeline's execution.
//!
//! See `deltaship_aws::detect` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::detect::DetectChanges>()
}
