//! The start-build Lambda: starts a service's CodeBuild project on the pushed commit.
//!
//! See `deltaship_aws::start_build` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::start_build::StartBuild>()
}
