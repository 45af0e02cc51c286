//! What tests, benchmarks and fuzz targets share, and the Lambdas never ship: compiled only for
//! this crate's own tests and with the `testing` feature (which the fuzz targets, the benchmark
//! and the integration tests turn on; the Lambda bins do not).
//!
//! - [`robustness`]: the invariants the fuzz targets check on arbitrary bytes.
//! - [`naive`]: the reference planner, every glob of every service matched one by one, that the
//!   planner's property tests and benchmark compare with.

pub mod naive;
pub mod robustness;
