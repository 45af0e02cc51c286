//! EventBridge event patterns: whether an event matches a rule's pattern, as the EventBridge user
//! guide describes it (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html>,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>).
//!
//! - A pattern is an object; every field it names must be in the event (a nested object matches
//!   a nested object), and fields it does not name are ignored.
//! - A field's matchers are a list: the field matches when one of its values (its value, or each
//!   item of an array) matches one of them.
//! - A matcher is an exact value (string, number, boolean or null) or one operator:
//!   `{"prefix": s}`, `{"suffix": s}`, `{"wildcard": s}` (`*` matches any run of characters,
//!   `\*` a star), `{"equals-ignore-case": s}`, `{"exists": bool}`, or `{"anything-but": v}` where
//!   `v` is a value, a list of values, or one of `prefix`/`suffix`/`wildcard`.
//!
//! Anything else (`numeric`, `cidr`, `$or`) is an error naming it: deltaship's rules stay within
//! what this module matches. moto 5.2.5, the local stack's AWS, does not implement
//! `TestEventPattern`, so the local stack matches its events here; a test checks this module
//! against moto's own pattern matcher on a table of patterns and events.

use serde_json::{Map, Value};

/// Whether `event` matches `pattern`, or the operator of `pattern` this module does not know.
pub fn matches(pattern: &Value, event: &Value) -> Result<bool, String> {
    let Value::Object(fields) = pattern else { return Err(format!("a pattern is an object, not {pattern}")) };
    for (key, expected) in fields {
        if key.starts_with('$') {
            return Err(format!("pattern field {key}: not supported"));
        }
        let actual = event.get(key);
        let matched = match expected {
            Value::Object(_) => match actual {
                Some(actual @ Value::Object(_)) => matches(expected, actual)?,
                _ => false,
            },
            Value::Array(matchers) => field_matches(key, matchers, actual)?,
            other => return Err(format!("pattern field {key}: {other} is neither an object nor a list of matchers")),
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether the event's field `key` (its value `actual`, if present) matches one of `matchers`.
fn field_matches(key: &str, matchers: &[Value], actual: Option<&Value>) -> Result<bool, String> {
    let values: Vec<&Value> = match actual {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(value) => vec![value],
        None => Vec::new(),
    };
    for matcher in matchers {
        match matcher {
            Value::Object(operator) => {
                let (name, operand) = single(key, operator)?;
                if name == "exists" {
                    let wanted = operand.as_bool().ok_or_else(|| format!("pattern field {key}: exists {operand}"))?;
                    if wanted == actual.is_some() {
                        return Ok(true);
                    }
                    continue;
                }
                for value in &values {
                    if operator_matches(key, name, operand, value)? {
                        return Ok(true);
                    }
                }
            }
            Value::Array(_) => return Err(format!("pattern field {key}: a list inside a list of matchers")),
            exact => {
                if values.contains(&exact) {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

fn single<'a>(key: &str, operator: &'a Map<String, Value>) -> Result<(&'a str, &'a Value), String> {
    let mut entries = operator.iter();
    match (entries.next(), entries.next()) {
        (Some((name, operand)), None) => Ok((name.as_str(), operand)),
        _ => Err(format!("pattern field {key}: {} is not one operator", Value::Object(operator.clone()))),
    }
}

/// Whether one value matches one operator.
fn operator_matches(key: &str, name: &str, operand: &Value, value: &Value) -> Result<bool, String> {
    let text = |operand: &Value| {
        operand.as_str().map(ToOwned::to_owned).ok_or_else(|| format!("pattern field {key}: {name} {operand}"))
    };
    Ok(match name {
        "prefix" => {
            value.as_str().is_some_and(|value| value.starts_with(&text(operand).unwrap_or_default()))
                && operand.is_string()
        }
        "suffix" => {
            value.as_str().is_some_and(|value| value.ends_with(&text(operand).unwrap_or_default()))
                && operand.is_string()
        }
        "wildcard" => value
            .as_str()
            .is_some_and(|value| deltaship_core::wildcard::matches(&text(operand).unwrap_or_default(), value)),
        "equals-ignore-case" => {
            value.as_str().is_some_and(|value| value.eq_ignore_ascii_case(&text(operand).unwrap_or_default()))
        }
        "anything-but" => match operand {
            Value::Array(excluded) => !value.is_object() && !excluded.contains(value),
            Value::Object(inner) => {
                let (inner_name, inner_operand) = single(key, inner)?;
                if !matches!(inner_name, "prefix" | "suffix" | "wildcard") {
                    return Err(format!("pattern field {key}: anything-but {inner_name} is not supported"));
                }
                value.is_string() && !operator_matches(key, inner_name, inner_operand, value)?
            }
            excluded => !value.is_object() && value != excluded,
        },
        other => return Err(format!("pattern field {key}: the operator {other:?} is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operators_match_as_eventbridge_documents() {
        let event = json!({
            "source": "aws.ecs",
            "resources": ["arn:aws:ecs:us-east-1:1:service/shop/users", "arn:aws:ecs:us-east-1:1:task/x"],
            "detail": { "status": "SUCCEEDED", "name": "users-build", "count": 3, "tags": ["a", "b"], "branch": "release/1.2" },
        });
        let table = [
            (json!({}), true),
            (json!({ "source": ["aws.ecs"] }), true),
            (json!({ "source": ["aws.codebuild", "aws.ecs"] }), true),
            (json!({ "source": ["aws.codebuild"] }), false),
            (json!({ "missing": ["x"] }), false),
            (json!({ "resources": [{ "prefix": "arn:aws:ecs:us-east-1:1:service/shop/" }] }), true),
            (json!({ "resources": [{ "prefix": "arn:aws:ecs:us-east-1:1:service/other/" }] }), false),
            (json!({ "detail": { "status": [{ "anything-but": "IN_PROGRESS" }] } }), true),
            (json!({ "detail": { "status": [{ "anything-but": "SUCCEEDED" }] } }), false),
            (json!({ "detail": { "status": [{ "anything-but": ["FAILED", "SUCCEEDED"] }] } }), false),
            (json!({ "detail": { "status": [{ "anything-but": { "prefix": "SUCC" } }] } }), false),
            (json!({ "detail": { "missing": [{ "anything-but": "x" }] } }), false),
            (json!({ "detail": { "name": [{ "prefix": "users-" }], "count": [3] } }), true),
            (json!({ "detail": { "name": [{ "suffix": "-build" }] } }), true),
            (json!({ "detail": { "name": [{ "equals-ignore-case": "USERS-BUILD" }] } }), true),
            (json!({ "detail": { "count": [4] } }), false),
            (json!({ "detail": { "tags": ["b"] } }), true),
            (json!({ "detail": { "status": { "inner": ["x"] } } }), false),
            (json!({ "detail": { "branch": [{ "wildcard": "release/*" }] } }), true),
            (json!({ "detail": { "branch": [{ "wildcard": "release/*.3" }] } }), false),
            (json!({ "detail": { "branch": [{ "wildcard": "*" }] } }), true),
            (json!({ "detail": { "missing": [{ "exists": false }] } }), true),
            (json!({ "detail": { "status": [{ "exists": false }] } }), false),
            (json!({ "detail": { "status": [{ "exists": true }] } }), true),
        ];
        for (pattern, expected) in table {
            assert_eq!(matches(&pattern, &event), Ok(expected), "{pattern}");
        }
        for beyond in [
            json!({ "source": [{ "numeric": [">", 0] }] }),
            json!({ "$or": [{ "source": ["aws.ecs"] }] }),
            json!({ "source": "aws.ecs" }),
            json!({ "source": [{ "prefix": "a", "suffix": "b" }] }),
        ] {
            assert!(matches(&beyond, &event).is_err(), "{beyond} was read as if this module knew it");
        }
    }
}
