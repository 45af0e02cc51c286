//! What start-build and check-build share about CodeBuild.

use aws_sdk_codebuild::Client;
use deltaship_core::build::region_and_account;
use deltaship_core::links;

/// The console page of a build: in the region of its ARN, or the client's when it has none.
pub(crate) fn build_url(client: &Client, build: &aws_sdk_codebuild::types::Build, build_id: &str) -> String {
    let region = build
        .arn()
        .and_then(region_and_account)
        .map(|(region, _)| region.to_owned())
        .or_else(|| client.config().region().map(ToString::to_string))
        .unwrap_or_default();
    links::build(&region, build_id)
}
