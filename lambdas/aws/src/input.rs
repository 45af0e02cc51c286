//! Parsing a function's payload into its input type.

use deltaship_core::Failure;
use serde::de::DeserializeOwned;

/// The payload as `T`, or an `InvalidInput` failure naming the function, the field and the problem.
pub(crate) fn parse<T: DeserializeOwned>(function: &str, payload: serde_json::Value) -> Result<T, Failure> {
    let kind = match &payload {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Null => Some("null"),
        serde_json::Value::Bool(_) => Some("a boolean"),
        serde_json::Value::Number(_) => Some("a number"),
        serde_json::Value::String(_) => Some("a string"),
        serde_json::Value::Array(_) => Some("an array"),
    };
    if let Some(kind) = kind {
        return Err(Failure::invalid_input(format!("{function} input: expected a JSON object, got {kind}")));
    }
    serde_path_to_error::deserialize(payload).map_err(|error| {
        let path = error.path().to_string();
        let problem = error.into_inner();
        if path == "." {
            Failure::invalid_input(format!("{function} input: {problem}"))
        } else {
            Failure::invalid_input(format!("{function} input, field `{path}`: {problem}"))
        }
    })
}

/// Checks that a required text field is not empty (or only spaces).
pub(crate) fn require(function: &str, field: &str, value: &str) -> Result<(), Failure> {
    if value.trim().is_empty() {
        Err(Failure::invalid_input(format!("{function} input, field `{field}`: must not be empty")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Input {
        build_id: String,
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        count: u32,
    }

    #[test]
    fn errors_name_the_function_and_the_field() {
        let cases = [
            (json!(["users-build:1"]), "check-build input: expected a JSON object, got an array"),
            (json!(null), "check-build input: expected a JSON object, got null"),
            (json!("users-build:1"), "check-build input: expected a JSON object, got a string"),
            (json!({}), "check-build input: missing field `build_id`"),
            (
                json!({"build_id": 5}),
                "check-build input, field `build_id`: invalid type: integer `5`, expected a string",
            ),
            (
                json!({"build_id": "x", "nested": {"count": -1}}),
                "check-build input, field `nested.count`: invalid value: integer `-1`, expected u32",
            ),
        ];
        for (payload, message) in cases {
            let failure = parse::<Input>("check-build", payload).unwrap_err();
            assert_eq!(failure.kind, deltaship_core::ErrorKind::InvalidInput);
            assert_eq!(failure.message, message);
        }
        assert!(require("f", "name", " ").is_err());
        assert!(require("f", "name", "x").is_ok());
    }
}
