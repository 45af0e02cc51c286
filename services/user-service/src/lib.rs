//! The user service's routes. The load balancer forwards `/users*` here unchanged.
//!
//! - `GET /health`: 200 `{"status":"ok"}`.
//! - `GET /users`: 200, every user, by id.
//! - `POST /users` with `{"name": "...", "email": "..."}`: 201 with the user (its `id` added) and
//!   a `Location` header, or 400 `{"error": "..."}` for a blank name, an implausible email or a
//!   malformed body.
//! - `GET /users/{id}`: 200 with the user, 404 if there is none, 400 if `id` is not a number.
//!
//! Users live in the task's memory (at most [`CAPACITY`]): each task has its own, and they are
//! gone when it stops. This is a sample of a deployable service, not a user database.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::routing::get;
use axum::{Json, Router};
use deltaship_sample_common::{ApiError, JsonBody, Store, parse_id};
use serde::{Deserialize, Serialize};

/// The most users a task keeps.
pub const CAPACITY: usize = 10_000;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest email address, in bytes (RFC 5321's limit on a path).
pub const MAX_EMAIL_BYTES: usize = 254;

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Given by the service: 1, 2, 3, ...
    pub id: u64,
    /// The user's name, trimmed.
    pub name: String,
    /// The user's email address, trimmed, its domain in lower case.
    pub email: String,
}

/// The body of `POST /users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Not blank, at most [`MAX_NAME_CHARS`] characters.
    pub name: String,
    /// A plausible email address: `local@domain.tld`, no spaces.
    pub email: String,
}

impl NewUser {
    /// The trimmed name and email, or a 400 saying what is wrong.
    pub fn validate(&self) -> Result<(String, String), ApiError> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(ApiError::bad_request("name must not be blank"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::bad_request(format!("name must be at most {MAX_NAME_CHARS} characters")));
        }
        let email = self.email.trim();
        if !is_plausible_email(email) {
            return Err(ApiError::bad_request(format!(
                "email `{email}` is not a plausible email address (expected name@example.com)"
            )));
        }
        Ok((name.to_owned(), normalize_email(email)))
    }
}

/// `email` with its domain in lower case (domains are case-insensitive; the local part may not
/// be, so it is kept as given).
pub fn normalize_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => email.to_owned(),
    }
}

/// Whether `email` looks like `local@domain.tld`: one `@`, something before it, a domain of at
/// least two non-empty dot-separated labels after it, no whitespace, at most
/// [`MAX_EMAIL_BYTES`]. Deliverability is the mail server's business.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL_BYTES
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.is_empty()
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

/// The service with an empty store: its routes, `/health`, and JSON 404/405 answers.
pub fn app() -> Router {
    routes(Arc::new(Store::new(CAPACITY)))
}

/// The service over `users` (tests give it one they can look into).
pub fn routes(users: Arc<Store<User>>) -> Router {
    deltaship_sample_common::app(
        Router::new()
            .route("/users", get(list_users).post(create_user))
            .route("/users/{id}", get(get_user))
            .with_state(users),
    )
}

async fn list_users(State(users): State<Arc<Store<User>>>) -> Json<Vec<User>> {
    Json(users.list())
}

async fn create_user(
    State(users): State<Arc<Store<User>>>,
    JsonBody(new): JsonBody<NewUser>,
) -> Result<(StatusCode, [(axum::http::HeaderName, String); 1], Json<User>), ApiError> {
    let (name, email) = new.validate()?;
    let user = users.insert_with(|id| User { id, name, email })?;
    Ok((StatusCode::CREATED, [(LOCATION, format!("/users/{}", user.id))], Json(user)))
}

async fn get_user(State(users): State<Arc<Store<User>>>, Path(id): Path<String>) -> Result<Json<User>, ApiError> {
    let id = parse_id(&id)?;
    users.get(id).map(Json).ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::response::Response;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
        let response: Response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    async fn get(app: &Router, path: &str) -> (StatusCode, Value) {
        send(app, Request::get(path).body(Body::empty()).unwrap()).await
    }

    async fn post(app: &Router, body: &str) -> (StatusCode, Value) {
        let request =
            Request::post("/users").header("content-type", "application/json").body(Body::from(body.to_owned()));
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
    async fn a_new_service_has_no_users() {
        assert_eq!(get(&app(), "/users").await, (StatusCode::OK, json!([])));
    }

    #[tokio::test]
    async fn created_users_get_ids_and_are_listed_and_found() {
        let app = app();
        let ada = post(&app, r#"{"name": " Ada Lovelace ", "email": "ada@example.com"}"#).await;
        assert_eq!(ada, (StatusCode::CREATED, json!({"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"})));
        let alan = post(&app, r#"{"name": "Alan", "email": " alan@Turing.Example.ORG "}"#).await;
        assert_eq!(alan, (StatusCode::CREATED, json!({"id": 2, "name": "Alan", "email": "alan@turing.example.org"})));

        assert_eq!(get(&app, "/users").await, (StatusCode::OK, json!([ada.1, alan.1])));
        assert_eq!(get(&app, "/users/2").await, (StatusCode::OK, alan.1));
    }

    #[tokio::test]
    async fn a_created_user_has_a_location() {
        let request = Request::post("/users")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"name": "Ada", "email": "ada@example.com"}"#))
            .unwrap();
        let response = app().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[LOCATION], "/users/1");
    }

    #[tokio::test]
    async fn invalid_users_are_400s_that_say_why() {
        let app = app();
        let cases = [
            (r#"{"name": "  ", "email": "a@example.com"}"#, "name must not be blank"),
            (
                r#"{"name": "Ada", "email": "ada"}"#,
                "email `ada` is not a plausible email address (expected name@example.com)",
            ),
            (
                r#"{"name": "Ada", "email": "ada@localhost"}"#,
                "email `ada@localhost` is not a plausible email address (expected name@example.com)",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(post(&app, body).await, (StatusCode::BAD_REQUEST, error(message)), "{body}");
        }
        let long_name = format!(r#"{{"name": "{}", "email": "a@example.com"}}"#, "n".repeat(201));
        assert_eq!(
            post(&app, &long_name).await,
            (StatusCode::BAD_REQUEST, error("name must be at most 200 characters"))
        );
        assert_eq!(get(&app, "/users").await, (StatusCode::OK, json!([])), "nothing was stored");
    }

    #[tokio::test]
    async fn malformed_bodies_are_400s_with_a_message() {
        let app = app();
        for body in [r#"{"name": "Ada""#, r#"{"name": "Ada"}"#, r#"{"name": "Ada", "email": 1}"#, "[]"] {
            let (status, answer) = post(&app, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(!answer["error"].as_str().unwrap().is_empty(), "{body}: {answer}");
        }
        let request = Request::post("/users").body(Body::from(r#"{"name": "Ada", "email": "ada@example.com"}"#));
        let (status, answer) = send(&app, request.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "no content type");
        assert!(answer["error"].as_str().unwrap().contains("Content-Type"), "{answer}");
    }

    #[tokio::test]
    async fn unknown_or_malformed_ids() {
        let app = app();
        assert_eq!(get(&app, "/users/7").await, (StatusCode::NOT_FOUND, error("no user with id 7")));
        assert_eq!(
            get(&app, "/users/seven").await,
            (StatusCode::BAD_REQUEST, error("id must be a positive integer, got `seven`"))
        );
    }

    #[tokio::test]
    async fn other_paths_and_methods_are_json_errors() {
        let app = app();
        assert_eq!(get(&app, "/products").await, (StatusCode::NOT_FOUND, error("no route for GET /products")));
        let delete = Request::delete("/users").body(Body::empty()).unwrap();
        assert_eq!(send(&app, delete).await, (StatusCode::METHOD_NOT_ALLOWED, error("/users does not support DELETE")));
    }

    #[tokio::test]
    async fn a_full_store_is_a_507() {
        let app = routes(Arc::new(Store::new(1)));
        assert_eq!(post(&app, r#"{"name": "Ada", "email": "ada@example.com"}"#).await.0, StatusCode::CREATED);
        let (status, answer) = post(&app, r#"{"name": "Alan", "email": "alan@example.com"}"#).await;
        assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);
        assert!(answer["error"].as_str().unwrap().starts_with("the store is full"), "{answer}");
    }

    #[test]
    fn email_domains_are_lower_cased_local_parts_kept() {
        assert_eq!(normalize_email("Ada.L@Example.COM"), "Ada.L@example.com");
        assert_eq!(normalize_email("ada@example.com"), "ada@example.com");
    }

    #[test]
    fn plausible_emails() {
        for good in ["a@b.c", "first.last+tag@mail.example.co.uk", "x_y@sub-domain.example"] {
            assert!(is_plausible_email(good), "{good}");
        }
        let too_long = format!("{}@example.com", "a".repeat(250));
        for bad in ["", "a", "@b.c", "a@", "a@b", "a@.c", "a@b.", "a@@b.c", "a@b@c.d", "a b@c.d", "a@b .c", &too_long] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}
