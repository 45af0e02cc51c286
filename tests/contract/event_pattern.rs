//! EventBridge event patterns, for the subset `sam/template.yaml`'s rules use, as the EventBridge
//! user guide describes it ("Creating event patterns", "Comparison operators", "Arrays in event
//! patterns"):
//!
//! - a pattern is an object; every field it names must be in the event (nested objects match
//!   nested objects), and fields it does not name are ignored;
//! - a field's matchers are a list: the field matches if one of its values (its value, or each
//!   item of an array) matches one of them;
//! - a matcher is an exact value (a string, number, boolean or null), `{"prefix": "text"}` (a
//!   string starting with it) or `{"anything-but": value or [values]}` (a value present and none
//!   of them).
//!
//! Any other operator (`suffix`, `wildcard`, `numeric`, `exists`, `equals-ignore-case`, `cidr`,
//! `$or`, `anything-but` with an operator inside) is an error naming it: the rules must stay
//! within what this file checks, or this file must grow.

use serde_json::Value;

/// Whether `event` matches `pattern`.
pub(crate) fn matches(pattern: &Value, event: &Value) -> bool {
    let Value::Object(fields) = pattern else { panic!("a pattern is an object, not {pattern}") };
    fields.iter().all(|(key, expected)| {
        assert!(!key.starts_with('$'), "pattern field {key}: beyond the operators this test knows");
        let Some(actual) = event.get(key) else { return false };
        match expected {
            Value::Object(_) => matches(expected, actual),
            Value::Array(matchers) => {
                let values: Vec<&Value> = match actual {
                    Value::Array(items) => items.iter().collect(),
                    value => vec![value],
                };
                values.iter().any(|value| matchers.iter().any(|matcher| matches_value(key, matcher, value)))
            }
            other => panic!("pattern field {key}: {other} is neither an object nor a list of matchers"),
        }
    })
}

/// Whether one value of the event's field `key` matches one matcher.
fn matches_value(key: &str, matcher: &Value, value: &Value) -> bool {
    let Value::Object(operator) = matcher else {
        assert!(!matcher.is_array(), "pattern field {key}: a list inside a list of matchers");
        return matcher == value;
    };
    let mut entries = operator.iter();
    let (Some((name, operand)), None) = (entries.next(), entries.next()) else {
        panic!("pattern field {key}: {matcher} is not one operator")
    };
    match name.as_str() {
        "prefix" => {
            let prefix = operand.as_str().unwrap_or_else(|| panic!("pattern field {key}: prefix {operand}"));
            value.as_str().is_some_and(|text| text.starts_with(prefix))
        }
        "anything-but" => match operand {
            Value::Array(excluded) => {
                assert!(excluded.iter().all(|item| !item.is_object()), "pattern field {key}: anything-but {operand}");
                !value.is_object() && !excluded.contains(value)
            }
            Value::Object(_) => panic!("pattern field {key}: anything-but {operand} is beyond this test's operators"),
            excluded => !value.is_object() && value != excluded,
        },
        other => panic!("pattern field {key}: the operator {other:?} is beyond this test's operators"),
    }
}

#[test]
fn patterns_match_as_eventbridge_documents() {
    use serde_json::json;

    let event = json!({
        "source": "aws.ecs",
        "resources": ["arn:aws:ecs:us-east-1:1:service/shop/users", "arn:aws:ecs:us-east-1:1:task/x"],
        "detail": { "status": "SUCCEEDED", "name": "users-build", "count": 3, "tags": ["a", "b"] },
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
        (json!({ "detail": { "missing": [{ "anything-but": "x" }] } }), false),
        (json!({ "detail": { "name": [{ "prefix": "users-" }], "count": [3] } }), true),
        (json!({ "detail": { "name": [{ "prefix": "orders-" }] } }), false),
        (json!({ "detail": { "count": [4] } }), false),
        (json!({ "detail": { "tags": ["b"] } }), true),
        (json!({ "detail": { "status": { "inner": ["x"] } } }), false),
    ];
    for (pattern, expected) in table {
        assert_eq!(matches(&pattern, &event), expected, "{pattern}");
    }
    for beyond in [
        json!({ "source": [{ "suffix": ".ecs" }] }),
        json!({ "source": [{ "wildcard": "aws.*" }] }),
        json!({ "source": [{ "anything-but": { "prefix": "aws." } }] }),
        json!({ "$or": [{ "source": ["aws.ecs"] }] }),
        json!({ "source": "aws.ecs" }),
    ] {
        let result = std::panic::catch_unwind(|| matches(&beyond, &event));
        assert!(result.is_err(), "{beyond} was read as if this test knew it");
    }
}
