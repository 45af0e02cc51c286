//! The check-build Lambda: says whether a build runs, succeeded (with its image) or failed.
//!
//! See `deltaship_aws::check_build` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::check_build::CheckBuild>()
}
