//! Turning an SDK error into a [`Failure`] with a stable kind.

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use deltaship_core::{ErrorKind, Failure};

/// The failure for `err` from `call` on `target`. `specific` maps the error codes this call site
/// understands (e.g. `ServiceNotFoundException`) to their kinds; other codes are classified by
/// [`ErrorKind::of_aws_error`] (throttling and 5xx are retryable, the rest are not).
pub(crate) fn failure<E>(
    call: &str,
    target: &str,
    err: &SdkError<E, HttpResponse>,
    specific: &[(&str, ErrorKind)],
) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code();
    let status = err.raw_response().map(|response| response.status().as_u16());
    let kind = match (err, code) {
        (SdkError::ConstructionFailure(_), _) => ErrorKind::AwsError,
        (_, Some(code)) => specific
            .iter()
            .find(|(known, _)| *known == code)
            .map_or_else(|| ErrorKind::of_aws_error(Some(code), status), |(_, kind)| *kind),
        (_, None) => ErrorKind::of_aws_error(None, status),
    };
    let detail = match (code, err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(err).to_string(),
    };
    Failure::new(kind, format!("{call} {target}: {detail}"))
}

/// A missing table is a setup problem, named as such.
pub(crate) const TABLE_NOT_FOUND: [(&str, ErrorKind); 1] = [("ResourceNotFoundException", ErrorKind::AwsError)];

/// [`failure`] of a DynamoDB call on `table`'s items under `resource` (the waits table: waits,
/// the push ledger, the stored catalogs).
pub(crate) fn table_failure<E>(call: &str, table: &str, resource: &str, err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    failure(call, &format!("{table} {resource}"), err, &TABLE_NOT_FOUND)
}

/// The code of an SDK error, if AWS answered with one.
pub(crate) fn code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    err.code()
}
