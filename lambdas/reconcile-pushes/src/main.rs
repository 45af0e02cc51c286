//! The reconcile-pushes Lambda: on a schedule, plans the pushes whose event never arrived.
//!
//! See `deltaship_aws::reconcile` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::reconcile::Reconcile>()
}
