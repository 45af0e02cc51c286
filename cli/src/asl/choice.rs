//! Choice rules (JSONPath), as the AWS Step Functions developer guide defines them ("Choice
//! workflow state", "Choice Rules (JSONPath)",
//! <https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html>):
//!
//! - `And` and `Or` take a non-empty list of rules, `Not` one rule (nested rules have no `Next`);
//! - any other rule has a `Variable` (a path) and one comparison: `IsPresent`, `IsNull`,
//!   `IsString`, `IsNumeric`, `IsBoolean` (each `true` or `false`), `StringEquals`,
//!   `StringLessThan`, `StringGreaterThan`, `StringLessThanEquals`, `StringGreaterThanEquals`,
//!   `NumericEquals`, `NumericLessThan`, `NumericGreaterThan`, `NumericLessThanEquals`,
//!   `NumericGreaterThanEquals`, `BooleanEquals`, each also as `...Path`: the value it compares
//!   with is read at that path of the state's input instead of written in the rule.
//!
//! As in Step Functions: a `Variable` (or a `...Path` value) that does not exist fails the state
//! (the guide: "If the state input doesn't contain the `$.type` field, the execution fails";
//! `States.Runtime`), except under `IsPresent`, which is there to ask; a value of another type
//! than the comparison's does not match ("Step Functions doesn't attempt to match a numeric field
//! to a string value"); strings compare as Java's `compareTo` does (UTF-16 code units, as the
//! guide says). `And` and `Or` evaluate every rule they hold, so a missing variable in any of them
//! is an error even where an earlier rule already decided: stricter than a short-circuit, never
//! more lenient. `StringMatches`, the timestamp comparisons and anything else are errors naming
//! them, never a guess.

use std::cmp::Ordering;

use serde_json::Value;

use super::{PathError, read};

/// How a comparison compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl Test {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Equals => ordering == Ordering::Equal,
            Self::LessThan => ordering == Ordering::Less,
            Self::GreaterThan => ordering == Ordering::Greater,
            Self::LessThanEquals => ordering != Ordering::Greater,
            Self::GreaterThanEquals => ordering != Ordering::Less,
        }
    }

    fn of(suffix: &str) -> Option<Self> {
        Some(match suffix {
            "Equals" => Self::Equals,
            "LessThan" => Self::LessThan,
            "GreaterThan" => Self::GreaterThan,
            "LessThanEquals" => Self::LessThanEquals,
            "GreaterThanEquals" => Self::GreaterThanEquals,
            _ => return None,
        })
    }
}

/// The type a comparison compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    String,
    Numeric,
    Boolean,
}

/// The fields of a rule that are not its comparison.
const NOT_COMPARISONS: [&str; 3] = ["Variable", "Next", "Comment"];

/// Whether the Choice rule `rule` holds for `data`.
pub fn rule_holds(rule: &Value, data: &Value) -> Result<bool, PathError> {
    let shown = || rule.to_string();
    let problem = |problem: String| PathError::Rule { rule: shown(), problem };
    let fields = rule.as_object().ok_or_else(|| problem("a rule is an object".into()))?;
    for combinator in ["And", "Or"] {
        if let Some(rules) = fields.get(combinator) {
            let rules = match rules.as_array() {
                Some(rules) if !rules.is_empty() => rules,
                _ => return Err(problem(format!("{combinator} takes a non-empty list of rules"))),
            };
            let held = rules.iter().map(|rule| rule_holds(rule, data)).collect::<Result<Vec<bool>, _>>()?;
            return Ok(if combinator == "And" { held.iter().all(|held| *held) } else { held.iter().any(|held| *held) });
        }
    }
    if let Some(inner) = fields.get("Not") {
        return rule_holds(inner, data).map(|held| !held);
    }
    let variable = fields
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or_else(|| problem("a rule has And, Or, Not, or a Variable and a comparison".into()))?;
    let mut comparisons = fields.iter().filter(|(key, _)| !NOT_COMPARISONS.contains(&key.as_str()));
    let (operator, operand) = match (comparisons.next(), comparisons.next()) {
        (Some(comparison), None) => comparison,
        (None, _) => return Err(problem("it has a Variable and no comparison".into())),
        (Some(_), Some(_)) => return Err(problem("it has more than one comparison".into())),
    };
    let value = read(data, variable)?;
    if operator == "IsPresent" {
        let wanted = boolean(operand, operator).map_err(problem)?;
        return Ok(value.is_some() == wanted);
    }
    let Some(value) = value else {
        return Err(problem(format!(
            "its Variable {variable} does not exist (Step Functions fails the execution: States.Runtime)"
        )));
    };
    let kind_test = |kind: &str| match kind {
        "IsNull" => Some(value.is_null()),
        "IsString" => Some(value.is_string()),
        "IsNumeric" => Some(value.is_number()),
        "IsBoolean" => Some(value.is_boolean()),
        _ => None,
    };
    if let Some(is) = kind_test(operator) {
        return Ok(is == boolean(operand, operator).map_err(problem)?);
    }
    let (base, by_path) = match operator.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (operator.as_str(), false),
    };
    let (kind, test) = if let Some(test) = base.strip_prefix("String").and_then(Test::of) {
        (Type::String, test)
    } else if let Some(test) = base.strip_prefix("Numeric").and_then(Test::of) {
        (Type::Numeric, test)
    } else if base == "BooleanEquals" {
        (Type::Boolean, Test::Equals)
    } else {
        return Err(problem(format!("the model does not know the comparison {operator}")));
    };
    let expected = if by_path {
        let path = operand.as_str().ok_or_else(|| problem(format!("{operator} must be a path")))?;
        read(data, path)?.ok_or_else(|| {
            problem(format!(
                "its {operator} {path} does not exist (Step Functions fails the execution: States.Runtime)"
            ))
        })?
    } else {
        let fits = match kind {
            Type::String => operand.is_string(),
            Type::Numeric => operand.is_number(),
            Type::Boolean => operand.is_boolean(),
        };
        if !fits {
            return Err(problem(format!("{operator} compares with {operand}, of another type")));
        }
        operand.clone()
    };
    let ordering = match (kind, &value, &expected) {
        (Type::String, Value::String(value), Value::String(expected)) => {
            Some(value.encode_utf16().cmp(expected.encode_utf16()))
        }
        (Type::Numeric, Value::Number(value), Value::Number(expected)) => {
            value.as_f64().zip(expected.as_f64()).and_then(|(value, expected)| value.partial_cmp(&expected))
        }
        (Type::Boolean, Value::Bool(value), Value::Bool(expected)) => Some(value.cmp(expected)),
        // Another type than the comparison's: no match.
        _ => None,
    };
    Ok(ordering.is_some_and(|ordering| test.holds(ordering)))
}

fn boolean(operand: &Value, operator: &str) -> Result<bool, String> {
    operand.as_bool().ok_or_else(|| format!("{operator} must be true or false"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data() -> Value {
        json!({
            "status": "SUCCEEDED",
            "digest": null,
            "ok": true,
            "record": { "next": 0, "count": 1, "name": "b" },
            "big": 3.5,
            "other": "a",
        })
    }

    fn holds(rule: &Value) -> Result<bool, PathError> {
        rule_holds(rule, &data())
    }

    #[test]
    fn each_comparison_as_the_guide_defines_it() {
        let table = [
            (json!({ "Variable": "$.status", "StringEquals": "SUCCEEDED" }), true),
            (json!({ "Variable": "$.status", "StringEquals": "FAILED" }), false),
            (json!({ "Variable": "$.record.name", "StringGreaterThan": "a" }), true),
            (json!({ "Variable": "$.record.name", "StringLessThanEquals": "b" }), true),
            (json!({ "Variable": "$.record.name", "StringGreaterThanPath": "$.other" }), true),
            (json!({ "Variable": "$.record.name", "StringEqualsPath": "$.other" }), false),
            (json!({ "Variable": "$.ok", "BooleanEquals": true }), true),
            (json!({ "Variable": "$.ok", "BooleanEqualsPath": "$.ok" }), true),
            (json!({ "Variable": "$.record.next", "NumericEquals": 0 }), true),
            (json!({ "Variable": "$.record.next", "NumericLessThanPath": "$.record.count" }), true),
            (json!({ "Variable": "$.record.count", "NumericLessThanPath": "$.record.count" }), false),
            (json!({ "Variable": "$.record.count", "NumericLessThanEqualsPath": "$.record.count" }), true),
            (json!({ "Variable": "$.record.count", "NumericGreaterThanEqualsPath": "$.record.next" }), true),
            (json!({ "Variable": "$.big", "NumericGreaterThan": 3 }), true),
            (json!({ "Variable": "$.big", "NumericLessThanEquals": 3.5 }), true),
            (json!({ "Variable": "$.digest", "IsNull": true }), true),
            (json!({ "Variable": "$.status", "IsNull": true }), false),
            (json!({ "Variable": "$.status", "IsNull": false }), true),
            (json!({ "Variable": "$.status", "IsString": true }), true),
            (json!({ "Variable": "$.big", "IsNumeric": true }), true),
            (json!({ "Variable": "$.ok", "IsBoolean": false }), false),
            (json!({ "Variable": "$.record", "IsPresent": true }), true),
            (json!({ "Variable": "$.image", "IsPresent": true }), false),
            (json!({ "Variable": "$.image", "IsPresent": false }), true),
            (json!({ "Variable": "$.record.none.deeper", "IsPresent": true }), false),
            // Another type than the comparison's does not match.
            (json!({ "Variable": "$.status", "NumericEquals": 0 }), false),
            (json!({ "Variable": "$.record.next", "StringEquals": "0" }), false),
            (json!({ "Variable": "$.digest", "BooleanEquals": false }), false),
            (json!({ "Variable": "$.record.next", "NumericLessThanPath": "$.status" }), false),
            // And, Or, Not.
            (
                json!({ "And": [
                    { "Variable": "$.ok", "BooleanEquals": true },
                    { "Variable": "$.record.next", "NumericLessThanPath": "$.record.count" }
                ], "Next": "x" }),
                true,
            ),
            (
                json!({ "And": [
                    { "Variable": "$.ok", "BooleanEquals": false },
                    { "Variable": "$.record.next", "NumericLessThanPath": "$.record.count" }
                ] }),
                false,
            ),
            (
                json!({ "Or": [{ "Variable": "$.ok", "BooleanEquals": false }, { "Variable": "$.digest", "IsNull": true }] }),
                true,
            ),
            (json!({ "Not": { "Variable": "$.ok", "BooleanEquals": true } }), false),
            (json!({ "Variable": "$.ok", "BooleanEquals": true, "Next": "x", "Comment": "c" }), true),
        ];
        for (rule, expected) in table {
            assert_eq!(holds(&rule), Ok(expected), "{rule}");
        }
    }

    /// Java's `compareTo` compares UTF-16 code units: U+FF61 sorts after U+10000 (a surrogate
    /// pair, 0xD800...), where code points would sort it before.
    #[test]
    fn strings_compare_as_utf16() {
        let data = json!({ "a": "\u{FF61}" });
        let rule = json!({ "Variable": "$.a", "StringGreaterThan": "\u{10000}" });
        assert_eq!(rule_holds(&rule, &data), Ok(true));
    }

    #[test]
    fn a_missing_variable_is_an_error_except_under_is_present() {
        let table = [
            (json!({ "Variable": "$.image", "IsNull": true }), "its Variable $.image does not exist"),
            (json!({ "Variable": "$.image", "StringEquals": "x" }), "States.Runtime"),
            (
                json!({ "Variable": "$.ok", "NumericLessThanPath": "$.none" }),
                "its NumericLessThanPath $.none does not exist",
            ),
            (
                json!({ "And": [{ "Variable": "$.ok", "BooleanEquals": false }, { "Variable": "$.none", "BooleanEquals": true }] }),
                "$.none does not exist",
            ),
            (
                json!({ "Variable": "$.ok", "TimestampEquals": "2026-01-01T00:00:00Z" }),
                "does not know the comparison TimestampEquals",
            ),
            (json!({ "Variable": "$.status", "StringMatches": "S*" }), "does not know the comparison StringMatches"),
            (json!({ "Variable": "$.ok" }), "no comparison"),
            (json!({ "Variable": "$.ok", "BooleanEquals": true, "IsNull": false }), "more than one comparison"),
            (json!({ "Variable": "$.ok", "BooleanEquals": "true" }), "of another type"),
            (json!({ "Variable": "$.ok", "IsPresent": "yes" }), "IsPresent must be true or false"),
            (json!({ "And": [] }), "non-empty list"),
            (json!({ "Next": "x" }), "a Variable and a comparison"),
            (json!("rule"), "a rule is an object"),
        ];
        for (rule, message) in table {
            let error = holds(&rule).unwrap_err();
            assert!(error.to_string().contains(message), "{rule}: {error}");
        }
        assert_eq!(holds(&json!({ "Variable": "$..x", "IsPresent": true })), Err(PathError::Unknown("$..x".into())));
    }
}
