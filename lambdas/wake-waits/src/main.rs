//! The wake-waits Lambda: on a build's or a service deployment's event, completes the waits it
//! ends.
//!
//! See `deltaship_aws::wake` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::wake::WakeWaits>()
}
