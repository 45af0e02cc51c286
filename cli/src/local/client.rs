//! The CLI's side of a running `deltaship local up`: plain HTTP requests to its front, for what
//! the AWS SDKs do not ask (which stack it is, `GET /deltaship/stack`; the calls it counted,
//! `GET /deltaship/calls`) and for Lambda `Invoke` with its function-error header.
//!
//! Every request names the watcher app in its user agent ([`super::front::WATCHER_APP`]): the
//! front does not count them among a push's calls.

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;

use super::LocalError;
use super::front::WATCHER_APP;
use super::stack;

/// The endpoint a command talks to: `flag` (`--endpoint-url`), else `$AWS_ENDPOINT_URL`, trimmed
/// and without a trailing slash; `None` when neither names one.
pub fn endpoint_from(flag: Option<&str>) -> Option<String> {
    flag.map(ToOwned::to_owned)
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .map(|url| url.trim().trim_end_matches('/').to_owned())
        .filter(|url| !url.is_empty())
}

/// What the front says of the stack it is (`GET` [`super::front::STACK_PATH`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StackInfo {
    /// The repository's CodeCommit name.
    pub repository: String,
    /// Its folder.
    pub path: PathBuf,
    /// The pipeline state machine's ARN.
    #[serde(default = "stack::state_machine_arn")]
    pub state_machine_arn: String,
    /// The waits table (the push ledger and the approval gates are in it too).
    #[serde(default = "waits_table")]
    pub waits_table: String,
    /// The region every call names.
    #[serde(default = "region")]
    pub region: String,
}

// A front that does not say (an older `deltaship local up`) has the local stack's fixed names.
fn waits_table() -> String {
    stack::WAITS_TABLE.to_owned()
}

fn region() -> String {
    stack::REGION.to_owned()
}

/// What the front answered, before it is read as JSON.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The HTTP status.
    pub status: http::StatusCode,
    /// Whether Lambda said the function failed (`X-Amz-Function-Error`).
    pub function_error: bool,
    /// The body.
    pub body: Bytes,
}

/// One request to `endpoint` (`http://host:port`, no trailing slash) at `path`: GET without a
/// body, POST with one. `Err` when nothing answers there (the reason).
pub async fn exchange(endpoint: &str, path: &str, body: Option<String>) -> Result<Exchange, String> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let method = if body.is_some() { http::Method::POST } else { http::Method::GET };
    let request = http::Request::builder()
        .method(method)
        .uri(format!("{endpoint}{path}"))
        .header(http::header::USER_AGENT, format!("app/{WATCHER_APP}"))
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|error| error.to_string())?;
    let response = client.request(request).await.map_err(|error| error.to_string())?;
    let status = response.status();
    let function_error = response.headers().contains_key("x-amz-function-error");
    let body = response.into_body().collect().await.map_err(|error| error.to_string())?.to_bytes();
    Ok(Exchange { status, function_error, body })
}

/// [`exchange`], read as the front's JSON answer: whether the function failed, and the answer.
/// Nothing answering is bad input (no stack there); an error status or an answer that is not
/// JSON, the stack's problem.
pub async fn request(endpoint: &str, path: &str, body: Option<String>) -> Result<(bool, Value), LocalError> {
    let answered = exchange(endpoint, path, body)
        .await
        .map_err(|error| LocalError::BadInput(format!("no `deltaship local up` answers at {endpoint}: {error}")))?;
    if !answered.status.is_success() {
        return Err(LocalError::Stack(format!(
            "{path} answered {}: {}",
            answered.status,
            String::from_utf8_lossy(&answered.body)
        )));
    }
    let answer = serde_json::from_slice(&answered.body)
        .map_err(|error| LocalError::Stack(format!("{path} answered with something not JSON: {error}")))?;
    Ok((answered.function_error, answer))
}

/// `GET path` of the front at `endpoint`, as JSON ([`request`]).
pub async fn get(endpoint: &str, path: &str) -> Result<Value, LocalError> {
    request(endpoint, path, None).await.map(|(_, answer)| answer)
}
