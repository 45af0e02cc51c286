//! `product-service`: serves the routes of [`product_service::app`] on `PORT` (default 8080)
//! until SIGTERM.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    deltaship_sample_common::init_tracing();
    deltaship_sample_common::run("product-service", product_service::app()).await
}
