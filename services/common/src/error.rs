//! Errors as JSON, and a JSON body extractor whose rejections are such errors.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An error answer: a status and `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What is wrong, for people.
    pub error: String,
}

impl ApiError {
    /// An error with this status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 400: the request is wrong (malformed JSON, a failed validation).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such record or route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 405: the path exists but not with this method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.message })).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    /// Every way a JSON body can be wrong (no `Content-Type: application/json`, broken syntax, a
    /// missing or mistyped field) is a 400 with axum's explanation; only a body over the size
    /// limit keeps its 413.
    fn from(rejection: JsonRejection) -> Self {
        let status = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, rejection.body_text())
    }
}

/// A JSON request body, like [`axum::Json`], but rejected with a JSON [`ApiError`] (400) instead
/// of axum's plain-text 415 or 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// A record id from a path segment: a positive integer, or a 400 that says so.
pub fn parse_id(raw: &str) -> Result<u64, ApiError> {
    match raw.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::bad_request(format!("id must be a positive integer, got `{raw}`"))),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::post;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Thing {
        name: String,
    }

    async fn post_thing(content_type: Option<&str>, body: &str) -> (StatusCode, Value) {
        let app = Router::new().route("/", post(|JsonBody(thing): JsonBody<Thing>| async move { Json(thing) }));
        let mut request = Request::builder().method("POST").uri("/");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = app.oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn error_of(answer: &(StatusCode, Value)) -> &str {
        answer.1["error"].as_str().unwrap()
    }

    #[tokio::test]
    async fn a_good_body_is_read() {
        let answer = post_thing(Some("application/json"), r#"{"name": "x"}"#).await;
        assert_eq!(answer, (StatusCode::OK, json!({"name": "x"})));
    }

    #[tokio::test]
    async fn broken_json_is_a_400_with_a_message() {
        let answer = post_thing(Some("application/json"), r#"{"name": "#).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST);
        assert!(error_of(&answer).contains("EOF"), "{answer:?}");
    }

    #[tokio::test]
    async fn a_wrong_shape_is_a_400_naming_the_field() {
        let answer = post_thing(Some("application/json"), r#"{"name": 3}"#).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST);
        assert!(error_of(&answer).contains("name"), "{answer:?}");
        let answer = post_thing(Some("application/json"), r#"{"name": "x", "colour": "red"}"#).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST);
        assert!(error_of(&answer).contains("colour"), "{answer:?}");
    }

    #[tokio::test]
    async fn a_missing_content_type_is_a_400() {
        let answer = post_thing(None, r#"{"name": "x"}"#).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST);
        assert!(error_of(&answer).contains("application/json"), "{answer:?}");
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(parse_id("42"), Ok(42));
        for raw in ["0", "-1", "x", "", "1.5", "99999999999999999999"] {
            let error = parse_id(raw).unwrap_err();
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
            assert_eq!(error.message(), format!("id must be a positive integer, got `{raw}`"));
        }
    }
}
