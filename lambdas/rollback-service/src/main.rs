//! The rollback-service Lambda: puts a service back on its previous task definition, safely.
//!
//! See `deltaship_aws::rollback` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::rollback::RollbackService>()
}
