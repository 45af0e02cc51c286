//! The request-approval Lambda: records a service's wait for an approval at its gate, supersedes
//! older ones, announces it.
//!
//! See `deltaship_aws::request_approval` for the input, the output and the errors, and
//! `deltaship_aws::runtime` for how every bin runs its function.

fn main() -> Result<(), deltaship_aws::runtime::Error> {
    deltaship_aws::runtime::run::<deltaship_aws::request_approval::RequestApproval>()
}
