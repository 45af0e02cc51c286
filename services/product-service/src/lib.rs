//! The product service's routes. The load balancer forwards `/products*` here unchanged.
//!
//! - `GET /health`: 200 `{"status":"ok"}`.
//! - `GET /products`: 200, every product, by id.
//! - `POST /products` with `{"name": "...", "price_cents": N}`: 201 with the product (its `id`
//!   added) and a `Location` header, or 400 `{"error": "..."}` for a blank name, a negative price
//!   or a malformed body.
//! - `GET /products/{id}`: 200 with the product, 404 if there is none, 400 if `id` is not a
//!   number.
//!
//! Products live in the task's memory (at most [`CAPACITY`]): each task has its own, and they
//! are gone when it stops. This is a sample of a deployable service, not a catalogue.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::routing::get;
use axum::{Json, Router};
use deltaship_sample_common::{ApiError, JsonBody, Store, parse_id};
use serde::{Deserialize, Serialize};

/// The most products a task keeps.
pub const CAPACITY: usize = 10_000;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Given by the service: 1, 2, 3, ...
    pub id: u64,
    /// The product's name, trimmed.
    pub name: String,
    /// The price in cents (an integer, so no rounding): 0 or more.
    pub price_cents: i64,
}

/// The body of `POST /products`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    /// Not blank, at most [`MAX_NAME_CHARS`] characters, no control characters (it is shown on
    /// one line).
    pub name: String,
    /// 0 or more.
    pub price_cents: i64,
}

impl NewProduct {
    /// The trimmed name and the price, or a 400 saying what is wrong.
    pub fn validate(&self) -> Result<(String, i64), ApiError> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(ApiError::bad_request("name must not be blank"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::bad_request(format!("name must be at most {MAX_NAME_CHARS} characters")));
        }
        if name.chars().any(char::is_control) {
            return Err(ApiError::bad_request("name must not contain control characters (line breaks, tabs, ...)"));
        }
        if self.price_cents < 0 {
            return Err(ApiError::bad_request(format!("price_cents must be 0 or more, got {}", self.price_cents)));
        }
        Ok((name.to_owned(), self.price_cents))
    }
}

/// The service with an empty store: its routes, `/health`, and JSON 404/405 answers.
pub fn app() -> Router {
    routes(Arc::new(Store::new(CAPACITY)))
}

/// The service over `products` (tests give it one they can look into).
pub fn routes(products: Arc<Store<Product>>) -> Router {
    deltaship_sample_common::app(
        Router::new()
            .route("/products", get(list_products).post(create_product))
            .route("/products/{id}", get(get_product))
            .with_state(products),
    )
}

async fn list_products(State(products): State<Arc<Store<Product>>>) -> Json<Vec<Product>> {
    Json(products.list())
}

async fn create_product(
    State(products): State<Arc<Store<Product>>>,
    JsonBody(new): JsonBody<NewProduct>,
) -> Result<(StatusCode, [(axum::http::HeaderName, String); 1], Json<Product>), ApiError> {
    let (name, price_cents) = new.validate()?;
    let product = products.insert_with(|id| Product { id, name, price_cents })?;
    Ok((StatusCode::CREATED, [(LOCATION, format!("/products/{}", product.id))], Json(product)))
}

async fn get_product(
    State(products): State<Arc<Store<Product>>>,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    let id = parse_id(&id)?;
    products.get(id).map(Json).ok_or_else(|| ApiError::not_found(format!("no product with id {id}")))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    async fn get(app: &Router, path: &str) -> (StatusCode, Value) {
        send(app, Request::get(path).body(Body::empty()).unwrap()).await
    }

    async fn post(app: &Router, body: &str) -> (StatusCode, Value) {
        let request =
            Request::post("/products").header("content-type", "application/json").body(Body::from(body.to_owned()));
        send(app, request.unwrap()).await
    }

    fn error(message: &str) -> Value {
        json!({ "error": message })
    }

    #[tokio::test]
    async fn health_is_ok() {
        assert_eq!(get(&app(), "/health").await, (StatusCode::OK, json!({"status": "ok"})));
    }

    #[tokio::test]
    async fn a_new_service_has_no_products() {
        assert_eq!(get(&app(), "/products").await, (StatusCode::OK, json!([])));
    }

    #[tokio::test]
    async fn created_products_get_ids_and_are_listed_and_found() {
        let app = app();
        let tea = post(&app, r#"{"name": " Tea ", "price_cents": 350}"#).await;
        assert_eq!(tea, (StatusCode::CREATED, json!({"id": 1, "name": "Tea", "price_cents": 350})));
        let sample = post(&app, r#"{"name": "Free sample", "price_cents": 0}"#).await;
        assert_eq!(sample, (StatusCode::CREATED, json!({"id": 2, "name": "Free sample", "price_cents": 0})));

        assert_eq!(get(&app, "/products").await, (StatusCode::OK, json!([tea.1, sample.1])));
        assert_eq!(get(&app, "/products/1").await, (StatusCode::OK, tea.1));
    }

    #[tokio::test]
    async fn a_created_product_has_a_location() {
        let request = Request::post("/products")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"name": "Tea", "price_cents": 350}"#))
            .unwrap();
        let response = app().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[LOCATION], "/products/1");
    }

    #[tokio::test]
    async fn invalid_products_are_400s_that_say_why() {
        let app = app();
        let cases = [
            (r#"{"name": "", "price_cents": 1}"#, "name must not be blank"),
            (r#"{"name": "Tea", "price_cents": -1}"#, "price_cents must be 0 or more, got -1"),
            (
                r#"{"name": "Green\ntea", "price_cents": 1}"#,
                "name must not contain control characters (line breaks, tabs, ...)",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(post(&app, body).await, (StatusCode::BAD_REQUEST, error(message)), "{body}");
        }
        let long_name = format!(r#"{{"name": "{}", "price_cents": 1}}"#, "n".repeat(201));
        assert_eq!(
            post(&app, &long_name).await,
            (StatusCode::BAD_REQUEST, error("name must be at most 200 characters"))
        );
        assert_eq!(get(&app, "/products").await, (StatusCode::OK, json!([])), "nothing was stored");
    }

    #[tokio::test]
    async fn malformed_bodies_are_400s_with_a_message() {
        let app = app();
        let bodies = [
            "not json",
            r#"{"name": "Tea"}"#,
            r#"{"name": "Tea", "price_cents": 3.5}"#,
            r#"{"name": "Tea", "price_cents": "350"}"#,
            r#"{"name": "Tea", "price_cents": 350, "currency": "EUR"}"#,
        ];
        for body in bodies {
            let (status, answer) = post(&app, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(!answer["error"].as_str().unwrap().is_empty(), "{body}: {answer}");
        }
        let request = Request::post("/products").header("content-type", "text/plain").body(Body::from("{}"));
        let (status, answer) = send(&app, request.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "wrong content type");
        assert!(answer["error"].as_str().unwrap().contains("Content-Type"), "{answer}");
    }

    #[tokio::test]
    async fn unknown_or_malformed_ids() {
        let app = app();
        assert_eq!(get(&app, "/products/3").await, (StatusCode::NOT_FOUND, error("no product with id 3")));
        assert_eq!(
            get(&app, "/products/0").await,
            (StatusCode::BAD_REQUEST, error("id must be a positive integer, got `0`"))
        );
    }

    #[tokio::test]
    async fn other_paths_and_methods_are_json_errors() {
        let app = app();
        assert_eq!(get(&app, "/users").await, (StatusCode::NOT_FOUND, error("no route for GET /users")));
        let put = Request::put("/products/1").body(Body::empty()).unwrap();
        assert_eq!(send(&app, put).await, (StatusCode::METHOD_NOT_ALLOWED, error("/products/1 does not support PUT")));
    }
}
