//! The front: one HTTP endpoint on 127.0.0.1 that every AWS call of the local stack goes to.
//!
//! | request | answered by |
//! |---------|-------------|
//! | Lambda `Invoke` (`POST /2015-03-31/functions/<name>/invocations`) | the function's handler, in process, with Lambda's error semantics (`200`, `X-Amz-Function-Error: Unhandled`, `{"errorType", "errorMessage"}`) |
//! | CodeCommit `GetDifferences`, `GetFile`, `GetFolder`, `GetCommit`, `GetBranch` | the local git repository ([`super::codecommit`]) |
//! | CodeBuild `StartBuild`, `BatchGetBuilds`; ECS `UpdateService`, `DescribeServices` | moto, with the answer completed by the [`Emulator`] |
//! | anything else | moto, unchanged |
//!
//! moto's Step Functions engine sends its Lambda invokes to `http://localhost:$MOTO_PORT`; the
//! stack starts moto with `MOTO_PORT` set to the front's port, so they come here too.
//!
//! The front counts the AWS calls it answers, by `<service>:<Operation>` (IAM's prefixes:
//! `codecommit:GetFile`, `lambda:Invoke`, ...), except those of a client that says it is the
//! stack's watcher (its user agent names the app [`WATCHER_APP`]: following an execution is not
//! part of a push). [`Front::take_calls`] reads and resets them; so does
//! `GET /deltaship/calls` for a `deltaship local push` in another process.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::codecommit::LocalRepository;
use super::emulator::Emulator;
use super::eventbridge::Rule;
use super::functions::Functions;

/// The app name (in the user agent) of the clients whose calls are not counted: the CLI's own,
/// following an execution or preparing the stack.
pub const WATCHER_APP: &str = "deltaship-watch";

/// The front's own path: the calls counted since the last read, as JSON, reset by the read.
pub const CALLS_PATH: &str = "/deltaship/calls";

/// The front's own path: which repository the stack serves and under which names
/// (`{"repository", "path", "state_machine_arn", "waits_table", "region"}`), for `deltaship local
/// push` and the ops commands ([`super::client::StackInfo`]).
pub const STACK_PATH: &str = "/deltaship/stack";

/// How many times an event is delivered to a target that keeps failing for a transient reason
/// (EventBridge retries for up to a day; the local stack's runs are minutes).
const DELIVERY_ATTEMPTS: u32 = 3;

/// An AWS error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The error code (`__type`).
    pub code: String,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// A 400: the caller's mistake.
    pub fn client(code: &str, message: String) -> Self {
        Self { status: 400, code: code.to_owned(), message }
    }

    /// A 500: the stack's.
    pub fn server(code: &str, message: String) -> Self {
        Self { status: 500, code: code.to_owned(), message }
    }
}

/// One Lambda invocation the front served, for progress output.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The function (`start-build`, ...).
    pub function: String,
    /// The payload's `name` (the service), when it has one.
    pub service: Option<String>,
    /// The output, or the failure's `errorType` and message.
    pub result: Result<Value, (String, String)>,
}

/// What the front needs.
pub struct Front {
    moto: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
    functions: Functions,
    function_prefix: String,
    repository: LocalRepository,
    emulator: Mutex<Emulator>,
    invocations: mpsc::UnboundedSender<Invocation>,
    /// The service of each build start-build started, for check-build's progress lines (its
    /// payload is the build id alone).
    build_services: Mutex<BTreeMap<String, String>>,
    /// The template's EventBridge rules that target deltaship's functions, resolved for the push
    /// that runs.
    rules: Mutex<Vec<Rule>>,
    /// Whether events are dropped instead of delivered (`--drop-events`): the waits then end by
    /// their fallback timeouts.
    drop_events: AtomicBool,
    /// The AWS calls answered since the last [`Front::take_calls`], by `<service>:<Operation>`.
    calls: Mutex<BTreeMap<String, u64>>,
}

impl Front {
    /// A front that passes calls it does not answer to moto at `moto`, and reports every
    /// invocation to `invocations`. Function names are `<function_prefix><bin>`.
    pub fn new(
        moto: SocketAddr,
        functions: Functions,
        function_prefix: String,
        repository: LocalRepository,
        emulator: Emulator,
        invocations: mpsc::UnboundedSender<Invocation>,
    ) -> Self {
        Self {
            moto,
            client: Client::builder(TokioExecutor::new()).build_http(),
            functions,
            function_prefix,
            repository,
            emulator: Mutex::new(emulator),
            invocations,
            build_services: Mutex::new(BTreeMap::new()),
            rules: Mutex::new(Vec::new()),
            drop_events: AtomicBool::new(false),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// The AWS calls counted since the last take (see the module docs), and a fresh count.
    pub fn take_calls(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn count(&self, parts: &http::request::Parts, operation: String) {
        let agent = |name: &str| parts.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
        let watcher = format!("app/{WATCHER_APP}");
        if agent("x-amz-user-agent").contains(&watcher) || agent(header::USER_AGENT.as_str()).contains(&watcher) {
            return;
        }
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner).entry(operation).or_default() += 1;
    }

    /// Delivers events to the targets of `rules` from now on.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *self.rules.lock().unwrap_or_else(PoisonError::into_inner) = rules;
    }

    /// Drops (`true`) or delivers (`false`) the events from now on.
    pub fn set_drop_events(&self, drop: bool) {
        self.drop_events.store(drop, Ordering::Relaxed);
    }

    /// Delivers the events due now, as EventBridge would: each to the target of every rule whose
    /// pattern matches it ([`crate::event_pattern`]), asynchronously (the event is the
    /// target's payload; its answer goes nowhere) and retried while the target fails for a
    /// transient reason. With events dropped, nothing is delivered.
    pub async fn deliver_due_events(&self) {
        let events = self.with_emulator(|emulator| emulator.due_events(now()));
        let rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for event in events {
            for rule in &rules {
                let matched = serde_json::from_str::<Value>(&rule.pattern)
                    .map_err(|error| error.to_string())
                    .and_then(|pattern| crate::event_pattern::matches(&pattern, &event));
                match matched {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(problem) => {
                        tracing::warn!(rule = rule.name, "the rule's pattern cannot be matched: {problem}");
                        continue;
                    }
                }
                if self.drop_events.load(Ordering::Relaxed) {
                    continue;
                }
                for attempt in 1..=DELIVERY_ATTEMPTS {
                    match self.invoke(&rule.target, event.clone()).await {
                        Some(Err(failure)) if failure.kind.is_retryable() && attempt < DELIVERY_ATTEMPTS => {
                            tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
                        }
                        _ => break,
                    }
                }
            }
        }
    }

    /// Runs `change` on the emulator.
    pub fn with_emulator<T>(&self, change: impl FnOnce(&mut Emulator) -> T) -> T {
        change(&mut self.emulator.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Invokes a function by its bin name, reporting the invocation.
    pub async fn invoke(&self, function: &str, payload: Value) -> Option<Result<Value, deltaship_core::Failure>> {
        let text = |value: &Value, field: &str| value.get(field).and_then(Value::as_str).map(ToOwned::to_owned);
        let build_services = || self.build_services.lock().unwrap_or_else(PoisonError::into_inner);
        let service = text(&payload, "name")
            .or_else(|| payload.get("watch").and_then(|watch| text(watch, "name")))
            .or_else(|| text(&payload, "build_id").and_then(|build| build_services().get(&build).cloned()));
        let result = self.functions.invoke(function, payload).await?;
        if let (Some(service), Ok(output)) = (&service, &result)
            && let Some(build) = text(output, "build_id")
        {
            build_services().insert(build, service.clone());
        }
        let reported = match &result {
            Ok(output) => Ok(output.clone()),
            Err(failure) => Err((failure.kind.name().to_owned(), failure.message.clone())),
        };
        // The receiver is gone only when nobody watches any more; the invocation still counts.
        let _ = self.invocations.send(Invocation { function: function.to_owned(), service, result: reported });
        Some(result)
    }

    /// Serves connections on `listener` until the task is aborted.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, most likely: give the open connections time to end.
                    tracing::warn!("the front could not accept a connection: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let front = Arc::clone(&self);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let front = Arc::clone(&front);
                    async move { Ok::<_, Infallible>(front.answer(request).await) }
                });
                // A client that hangs up mid-request is no error of the stack's.
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) => return error_response(&ApiError::client("SerializationException", error.to_string())),
        };
        let path = parts.uri.path().to_owned();
        if path == CALLS_PATH {
            return json_response(&json!(self.take_calls()));
        }
        if path == STACK_PATH {
            return json_response(&json!({
                "repository": self.repository.name,
                "path": self.repository.path,
                "state_machine_arn": super::stack::state_machine_arn(),
                "waits_table": super::stack::WAITS_TABLE,
                "region": super::stack::REGION,
            }));
        }
        if let Some(function) = path.strip_prefix("/2015-03-31/functions/").and_then(|p| p.strip_suffix("/invocations"))
        {
            self.count(&parts, "lambda:Invoke".to_owned());
            return self.lambda_invoke(&percent_decode(function), &body).await;
        }
        let target = parts.headers.get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or_default();
        let (service, operation) = target.split_once('.').unwrap_or_default();
        let counted = if target.is_empty() {
            query_operation(&parts, &body)
        } else {
            format!("{}:{operation}", iam_prefix(service))
        };
        self.count(&parts, counted);
        let result = match (service, operation) {
            ("CodeCommit_20150413", operation) => json_request(&body)
                .and_then(|request| self.repository.answer(operation, &request))
                .map(|answer| json_response(&answer)),
            ("CodeBuild_20161006", "StartBuild") => self.start_build(&parts, body).await,
            ("CodeBuild_20161006", "BatchGetBuilds") => {
                self.rewritten(&parts, body, |emulator, _, response, now| emulator.got_builds(response, now)).await
            }
            ("AmazonEC2ContainerServiceV20141113", "CreateService") => {
                self.rewritten(&parts, body, |emulator, request, response, now| {
                    emulator.created_service(request, response, now);
                })
                .await
            }
            (
                "AmazonEC2ContainerServiceV20141113",
                operation @ ("DescribeServiceDeployments" | "ListServiceDeployments" | "StopServiceDeployment"),
            ) => json_request(&body).and_then(|request| {
                self.with_emulator(|emulator| emulator.service_deployments(operation, &request, now()))
                    .map(|answer| json_response(&answer))
                    .map_err(|(code, message)| ApiError::client(code, message))
            }),
            ("AmazonEC2ContainerServiceV20141113", "UpdateService") => {
                self.rewritten(&parts, body, |emulator, request, response, now| {
                    emulator.updated_service(request, response, now);
                })
                .await
            }
            ("AmazonEC2ContainerServiceV20141113", "DescribeServices") => {
                self.rewritten(&parts, body, |emulator, _, response, now| emulator.described_services(response, now))
                    .await
            }
            _ => self.proxy(&parts, body).await,
        };
        result.unwrap_or_else(|error| error_response(&error))
    }

    async fn lambda_invoke(&self, function: &str, body: &Bytes) -> Response<Full<Bytes>> {
        let name = function.rsplit_once(":function:").map_or(function, |(_, name)| name);
        let name = name.split(':').next().unwrap_or(name);
        let payload = if body.is_empty() { Ok(json!({})) } else { serde_json::from_slice::<Value>(body) };
        let bin = name.strip_prefix(self.function_prefix.as_str()).unwrap_or_default();
        let result = match payload {
            Ok(payload) => self.invoke(bin, payload).await,
            Err(error) => Some(Err(deltaship_core::Failure::invalid_input(format!("{name} input: {error}")))),
        };
        let mut response = match result {
            None => {
                let mut response = json_response(&json!({
                    "Type": "User",
                    "message": format!("Function not found: {function} (the local stack has {}<bin> for each of {:?})",
                        self.function_prefix, deltaship_aws::function::names()),
                }));
                *response.status_mut() = StatusCode::NOT_FOUND;
                response
                    .headers_mut()
                    .insert("x-amzn-errortype", HeaderValue::from_static("ResourceNotFoundException"));
                return response;
            }
            Some(Ok(output)) => json_response(&output),
            Some(Err(failure)) => {
                let mut response = json_response(&json!({
                    "errorType": failure.kind.name(),
                    "errorMessage": failure.message,
                }));
                response.headers_mut().insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
                response
            }
        };
        response.headers_mut().insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
        response
    }

    async fn start_build(&self, parts: &http::request::Parts, body: Bytes) -> Result<Response<Full<Bytes>>, ApiError> {
        let request = json_request(&body)?;
        if let Some(earlier) = self.with_emulator(|emulator| emulator.replay_start_build(&request)) {
            return Ok(json_response(&earlier));
        }
        self.rewritten(parts, body, |emulator, request, response, now| emulator.started_build(request, response, now))
            .await
    }

    /// Proxies to moto and, when moto succeeded, lets `rewrite` complete the JSON answer.
    async fn rewritten(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
        rewrite: impl FnOnce(&mut Emulator, &Value, &mut Value, f64),
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        let request = json_request(&body)?;
        let response = self.proxy(parts, body).await?;
        if response.status() != StatusCode::OK {
            return Ok(response);
        }
        let bytes = response.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
        let mut answer = json_request(&bytes)?;
        self.with_emulator(|emulator| rewrite(emulator, &request, &mut answer, now()));
        Ok(json_response(&answer))
    }

    async fn proxy(&self, parts: &http::request::Parts, body: Bytes) -> Result<Response<Full<Bytes>>, ApiError> {
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let mut request = Request::builder()
            .method(parts.method.clone())
            .uri(format!("http://{}{path}", self.moto))
            .body(Full::new(body))
            .map_err(|error| ApiError::server("InternalFailure", error.to_string()))?;
        for (name, value) in &parts.headers {
            if name != header::HOST {
                request.headers_mut().append(name, value.clone());
            }
        }
        let response = self.client.request(request).await.map_err(|error| {
            ApiError::server("ServiceUnavailable", format!("moto at {} did not answer: {error}", self.moto))
        })?;
        let (mut parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|error| ApiError::server("ServiceUnavailable", format!("moto's answer broke off: {error}")))?
            .to_bytes();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::TRANSFER_ENCODING);
        Ok(Response::from_parts(parts, Full::new(body)))
    }
}

/// The IAM prefix of the service a JSON-protocol `X-Amz-Target` names (`CodeCommit_20150413` →
/// `codecommit`); the target's own prefix for a service the stack does not expect.
fn iam_prefix(target_service: &str) -> &str {
    match target_service {
        "CodeCommit_20150413" => "codecommit",
        "CodeBuild_20161006" => "codebuild",
        "AmazonEC2ContainerServiceV20141113" => "ecs",
        "DynamoDB_20120810" => "dynamodb",
        "AWSStepFunctions" => "states",
        "AWSEvents" => "events",
        "AmazonEC2ContainerRegistry_V20150921" => "ecr",
        "" => "unknown",
        other => other,
    }
}

/// `<service>:<Action>` of a query-protocol request (SNS, STS: a form body `Action=Publish&...`),
/// the service from the signature's credential scope (`Credential=<key>/<date>/<region>/sns/...`,
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>); `unknown`
/// for what it cannot tell.
fn query_operation(parts: &http::request::Parts, body: &[u8]) -> String {
    let authorization =
        parts.headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let service = authorization
        .split_once("Credential=")
        .and_then(|(_, credential)| credential.split('/').nth(3))
        .filter(|service| !service.is_empty() && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or("unknown");
    let action = std::str::from_utf8(body)
        .ok()
        .and_then(|form| form.split('&').find_map(|pair| pair.strip_prefix("Action=")))
        .filter(|action| !action.is_empty() && action.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default();
    format!("{service}:{action}")
}

/// Seconds since the epoch, as AWS JSON timestamps are.
fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

fn json_request(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::client("SerializationException", format!("the request is not JSON: {error}")))
}

fn json_response(value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    response
}

fn error_response(error: &ApiError) -> Response<Full<Bytes>> {
    let mut response = json_response(&json!({ "__type": error.code, "message": error.message }));
    *response.status_mut() = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(code) = HeaderValue::from_str(&error.code) {
        response.headers_mut().insert("x-amzn-errortype", code);
    }
    response
}

/// `%XX` escapes decoded (function names in Invoke paths are ARNs with `%3A`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_named_by_iam_prefix() {
        assert_eq!(iam_prefix("CodeCommit_20150413"), "codecommit");
        assert_eq!(iam_prefix("AWSStepFunctions"), "states");
        assert_eq!(iam_prefix("DynamoDB_20120810"), "dynamodb");
        assert_eq!(iam_prefix("Logs_20140328"), "Logs_20140328");
        assert_eq!(iam_prefix(""), "unknown");
    }

    #[test]
    fn query_calls_are_named_by_their_credential_scope_and_action() {
        let parts = |authorization: &str| {
            let request =
                http::Request::builder().header(header::AUTHORIZATION, authorization).body(()).unwrap_or_default();
            request.into_parts().0
        };
        let signed =
            "AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=x";
        let table = [
            (signed, "Action=Publish&Version=2010-03-31&TopicArn=arn", "sns:Publish"),
            (signed, "Version=2010-03-31&Action=CreateTopic", "sns:CreateTopic"),
            (signed, "Version=2010-03-31", "sns:"),
            ("", "Action=GetCallerIdentity", "unknown:GetCallerIdentity"),
            ("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/s n s/aws4_request", "Action=X", "unknown:X"),
        ];
        for (authorization, body, expected) in table {
            assert_eq!(query_operation(&parts(authorization), body.as_bytes()), expected, "{authorization} {body}");
        }
    }

    #[test]
    fn function_names_in_paths_are_decoded() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ax"),
            "arn:aws:lambda:us-east-1:123456789012:function:x"
        );
        assert_eq!(percent_decode("plain-name"), "plain-name");
        assert_eq!(percent_decode("bad%zzescape%4"), "bad%zzescape%4");
    }

    #[test]
    fn errors_carry_their_code_in_body_and_header() {
        let response = error_response(&ApiError::client("FileDoesNotExistException", "gone".into()));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()),
            Some("FileDoesNotExistException")
        );
    }
}
