//! What the sample services (`user-service`, `product-service`) share: the `GET /health` route,
//! JSON errors (`{"error": "..."}`) and a JSON body extractor that answers malformed input with
//! 400, an in-memory store, and the server itself (port from `PORT`, JSON logs, graceful shutdown
//! on SIGTERM).
//!
//! A service builds its routes and hands them to [`app`], then to [`run`]:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     deltaship_sample_common::init_tracing();
//!     let routes = Router::new().route("/things", get(|| async { "[]" }));
//!     deltaship_sample_common::run("thing-service", deltaship_sample_common::app(routes)).await
//! }
//! ```

mod error;
mod server;
mod store;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub use error::{ApiError, ErrorBody, JsonBody, parse_id};
pub use server::{DEFAULT_PORT, init_tracing, port_from, run, serve, shutdown_signal};
pub use store::{Store, StoreFull};

/// The body of `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok`: the process is up and serving requests.
    pub status: String,
}

/// `GET /health`: 200 `{"status":"ok"}`. The load balancer's health check, so it does no I/O.
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok".to_owned() })
}

/// The largest request body the services read, in bytes: their records are a few hundred bytes,
/// and they are on the internet.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A service's whole application: its `routes`, plus `GET /health`, JSON answers for unknown
/// paths (404) and methods a path does not support (405), and a body limit of
/// [`MAX_BODY_BYTES`] (413 `{"error": ...}` beyond it).
pub fn app(routes: Router) -> Router {
    routes
        .route("/health", get(health))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(format!("{} does not support {method}", uri.path()))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    async fn call(app: Router, method: &str, path: &str) -> (StatusCode, Value) {
        let request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn sample() -> Router {
        let made = |JsonBody(thing): JsonBody<serde_json::Value>| async move { Json(thing) };
        app(Router::new().route("/things", post(made)))
    }

    #[tokio::test]
    async fn health_is_ok() {
        assert_eq!(call(sample(), "GET", "/health").await, (StatusCode::OK, json!({"status": "ok"})));
    }

    #[tokio::test]
    async fn unknown_path_is_a_json_404() {
        let answer = call(sample(), "GET", "/nothing/here?x=1").await;
        assert_eq!(answer, (StatusCode::NOT_FOUND, json!({"error": "no route for GET /nothing/here"})));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_a_json_413() {
        let post = |size: usize| {
            let body = format!(r#"{{"name": "{}"}}"#, "x".repeat(size));
            let request = Request::post("/things").header("content-type", "application/json").body(Body::from(body));
            sample().oneshot(request.unwrap())
        };
        assert_eq!(post(MAX_BODY_BYTES - 100).await.unwrap().status(), StatusCode::OK);
        let response = post(MAX_BODY_BYTES).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(body["error"].as_str().unwrap().contains("length limit"), "{body}");
    }

    #[tokio::test]
    async fn unsupported_method_is_a_json_405() {
        let answer = call(sample(), "GET", "/things").await;
        assert_eq!(answer, (StatusCode::METHOD_NOT_ALLOWED, json!({"error": "/things does not support GET"})));
        let answer = call(sample(), "DELETE", "/health").await;
        assert_eq!(answer, (StatusCode::METHOD_NOT_ALLOWED, json!({"error": "/health does not support DELETE"})));
    }
}
