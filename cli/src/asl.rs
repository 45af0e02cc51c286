//! The subset of the Amazon States Language (JSONPath) deltaship's pipeline uses
//! (`state-machine/pipeline.asl.json`), over [`serde_json::Value`]: what a path reads, what a
//! payload template (`Parameters`, `ResultSelector`) makes, where a result goes (`ResultPath`),
//! what a state passes on (`OutputPath`), and which Choice rule holds ([`rule_holds`]).
//!
//! - A path is `$` (the whole data), `$.a.b` (a field of a field) or `$.list[*].b` (a field of
//!   each item; `[*]` may follow any field). Field names are letters, digits, `_` and `-`.
//! - A template's fields whose key ends in `.$` take a path, or an intrinsic function call
//!   (`States.Format`, `States.JsonToString`, `States.StringToJson`, `States.ArrayLength`,
//!   `States.ArrayGetItem`, `States.ArrayContains`, `States.MathAdd`, `States.JsonMerge`; nested,
//!   with paths and literals as arguments: the `intrinsics` module says how each behaves, after
//!   the AWS Step Functions developer guide); other fields are copied, objects recursively.
//! - A `ResultPath` is absent or `$` (the result replaces the data), `null` (the result is
//!   dropped) or `$.a.b` (the result is set there, objects made on the way).
//! - An `OutputPath` is absent or `$` (the data as it is), a path (the value there, which must
//!   exist), or `null` (`{}`: the Amazon States Language specification, "Filters": "If the value
//!   of OutputPath is null, that means the input and result are discarded, and the effective
//!   output from the state is an empty object").
//! - A Choice rule is `And`, `Or`, `Not`, or a `Variable` with a comparison (`IsPresent`,
//!   `IsNull`, `StringEquals`, `NumericLessThanPath`, ...): the `choice` module says which and how.
//!
//! It is as strict as Step Functions: a template reading a path that does not exist is an error
//! (Step Functions fails the state with `States.Runtime`), and so is a `ResultPath` through
//! something that is not an object (`States.ResultPathMatchFailure`), an intrinsic function
//! given what it does not take (`States.IntrinsicFailure`... or a definition Step Functions
//! refuses), and a Choice rule whose `Variable` does not exist (except under `IsPresent`).
//! Anything beyond the subset is an error naming it, never a guess. `deltaship cost` walks the
//! state machine with it, and the contract tests (`tests/contract.rs`) check with it that every
//! path the state machine reads exists.

use serde_json::{Map, Value};

mod choice;
mod intrinsics;

pub use choice::rule_holds;

/// Why a path, a template or a `ResultPath` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The text does not start with `$`.
    #[error("{0:?} is not a path")]
    NotAPath(String),
    /// A path beyond the subset (filters, indexes, `$$`, odd field names, `[*]` in a `ResultPath`).
    #[error("the path {0:?} is beyond the ASL paths deltaship knows ($, $.a.b, $.list[*].b)")]
    Unknown(String),
    /// A template reads a path that does not exist in the data.
    #[error("{0} does not exist")]
    Missing(String),
    /// A template field named `key.$` whose value is not a string.
    #[error("{0} must be a path")]
    NotAString(String),
    /// An intrinsic function call the model cannot evaluate: one it does not know, wrong
    /// arguments, or a value Step Functions would refuse.
    #[error("{expression}: {problem}")]
    Function {
        /// The expression, as written.
        expression: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An intrinsic function's list argument (a path or a call) that is not a list.
    #[error("{0} is not a list")]
    NotAList(String),
    /// A Choice rule the model cannot evaluate, or whose `Variable` does not exist.
    #[error("the Choice rule {rule}: {problem}")]
    Rule {
        /// The rule, as JSON.
        rule: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An `OutputPath` that is neither a path nor `null`.
    #[error("OutputPath {0} is not a path")]
    OutputPath(String),
    /// A `ResultPath` that is neither a path nor `null`.
    #[error("ResultPath {0} is not a path")]
    ResultPath(String),
    /// A `ResultPath` through something that is not an object.
    #[error("ResultPath {path:?}: {at} is not an object")]
    NotAnObject {
        /// The `ResultPath`.
        path: String,
        /// The part of it that is not an object.
        at: String,
    },
}

/// One step of a path: a field, and whether each of its items is taken (`field[*]`).
struct Step<'p> {
    field: &'p str,
    each: bool,
}

/// The steps of `path`.
fn steps(path: &str) -> Result<Vec<Step<'_>>, PathError> {
    let Some(rest) = path.strip_prefix('$') else { return Err(PathError::NotAPath(path.to_owned())) };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let unknown = || PathError::Unknown(path.to_owned());
    let rest = rest.strip_prefix('.').ok_or_else(unknown)?;
    rest.split('.')
        .map(|segment| {
            let (field, each) = match segment.strip_suffix("[*]") {
                Some(field) => (field, true),
                None => (segment, false),
            };
            let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if field.is_empty() || !field.chars().all(plain) {
                return Err(unknown());
            }
            Ok(Step { field, each })
        })
        .collect()
}

/// The value at `path` in `data`, or `None` if it is absent (a field missing on the way, in any
/// item of a `[*]`, or a `[*]` on something that is not a list). A path with a `[*]` reads a list.
pub fn read(data: &Value, path: &str) -> Result<Option<Value>, PathError> {
    let mut found = vec![data];
    let mut each = false;
    for step in steps(path)? {
        let mut next = Vec::with_capacity(found.len());
        for value in found {
            let Some(inner) = value.get(step.field) else { return Ok(None) };
            if step.each {
                let Some(items) = inner.as_array() else { return Ok(None) };
                next.extend(items);
            } else {
                next.push(inner);
            }
        }
        each |= step.each;
        found = next;
    }
    if each {
        Ok(Some(Value::Array(found.into_iter().cloned().collect())))
    } else {
        Ok(found.first().map(|value| (*value).clone()))
    }
}

/// A payload template (`Parameters`, `ResultSelector`) filled from `data`: a `key.$` field takes
/// the value at its path (which must exist) or its intrinsic's result; other fields are copied,
/// objects filled recursively. A template that is not an object is copied.
pub fn evaluate(template: &Value, data: &Value) -> Result<Value, PathError> {
    let Some(fields) = template.as_object() else { return Ok(template.clone()) };
    let mut out = Map::new();
    for (key, value) in fields {
        match key.strip_suffix(".$") {
            Some(name) => {
                let Value::String(expression) = value else { return Err(PathError::NotAString(key.clone())) };
                out.insert(name.to_owned(), intrinsic_or_path(expression, data)?);
            }
            None => {
                out.insert(key.clone(), evaluate(value, data)?);
            }
        }
    }
    Ok(Value::Object(out))
}

/// The value of a `key.$` field's expression: an intrinsic function call (`States.` ...) or a
/// path, which must exist.
fn intrinsic_or_path(expression: &str, data: &Value) -> Result<Value, PathError> {
    if expression.starts_with("States.") {
        return intrinsics::evaluate(expression, data);
    }
    read(data, expression)?.ok_or_else(|| PathError::Missing(expression.to_owned()))
}

/// Puts `result` where a `ResultPath` (`result_path`, the field's value if present) says: the
/// whole data (absent or `$`), nowhere (`null`), or the field at `$.a.b`, making the objects on
/// the way that do not exist yet.
pub fn set_result(data: &mut Value, result_path: Option<&Value>, result: Value) -> Result<(), PathError> {
    let path = match result_path {
        None => "$",
        Some(Value::Null) => return Ok(()),
        Some(Value::String(path)) => path.as_str(),
        Some(other) => return Err(PathError::ResultPath(other.to_string())),
    };
    let steps = steps(path)?;
    if steps.iter().any(|step| step.each) {
        return Err(PathError::Unknown(path.to_owned()));
    }
    let Some((last, parents)) = steps.split_last() else {
        *data = result;
        return Ok(());
    };
    let not_an_object = |at: &str| PathError::NotAnObject { path: path.to_owned(), at: at.to_owned() };
    let mut target = data;
    let mut at = String::from("$");
    for step in parents {
        let fields = target.as_object_mut().ok_or_else(|| not_an_object(&at))?;
        target = fields.entry(step.field).or_insert_with(|| Value::Object(Map::new()));
        at.push('.');
        at.push_str(step.field);
    }
    target.as_object_mut().ok_or_else(|| not_an_object(&at))?.insert(last.field.to_owned(), result);
    Ok(())
}

/// A Task's `result` put in its `data`: through the state's `ResultSelector` if it has one, then
/// where its `ResultPath` says.
pub fn apply_result(state: &Value, data: &mut Value, result: Value) -> Result<(), PathError> {
    let selected = match state.get("ResultSelector") {
        Some(selector) => evaluate(selector, &result)?,
        None => result,
    };
    set_result(data, state.get("ResultPath"), selected)
}

/// What a state passes on: `data` filtered by its `OutputPath` (`output_path`, the field's value
/// if present): all of it (absent or `$`), the value at a path (which must exist: Step Functions
/// fails the state otherwise), or `{}` (`null`).
pub fn output(data: Value, output_path: Option<&Value>) -> Result<Value, PathError> {
    match output_path {
        None => Ok(data),
        Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(Value::String(path)) => read(&data, path)?.ok_or_else(|| PathError::Missing(path.clone())),
        Some(other) => Err(PathError::OutputPath(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data() -> Value {
        json!({
            "name": "users",
            "build": { "image": "registry/users:abc", "phase": null },
            "outcomes": [{ "ok": true, "name": "a" }, { "ok": false, "name": "b" }],
            "ragged": [{ "ok": true }, { "name": "c" }],
            "lists": [{ "tags": ["x", "y"] }, { "tags": ["z"] }],
        })
    }

    #[test]
    fn paths_read_fields_and_each_item() {
        let table = [
            ("$", Some(data())),
            ("$.name", Some(json!("users"))),
            ("$.build.image", Some(json!("registry/users:abc"))),
            ("$.build.phase", Some(Value::Null)),
            ("$.build.nothing", None),
            ("$.name.inner", None),
            ("$.outcomes[*].ok", Some(json!([true, false]))),
            ("$.outcomes[*]", Some(data()["outcomes"].clone())),
            ("$.lists[*].tags[*]", Some(json!(["x", "y", "z"]))),
            ("$.ragged[*].ok", None),
            ("$.name[*]", None),
        ];
        for (path, expected) in table {
            assert_eq!(read(&data(), path), Ok(expected), "{path}");
        }
    }

    #[test]
    fn paths_beyond_the_subset_are_errors() {
        assert_eq!(read(&data(), "name"), Err(PathError::NotAPath("name".into())));
        for path in ["$name", "$.", "$.a..b", "$.outcomes[0]", "$..name", "$$.Execution.Id", "$.a[?(@.ok)]", "$.a b"] {
            assert_eq!(read(&data(), path), Err(PathError::Unknown(path.into())), "{path}");
        }
    }

    #[test]
    fn templates_fill_paths_and_copy_the_rest() {
        let template = json!({
            "name.$": "$.name",
            "ok": true,
            "nested": { "image.$": "$.build.image", "list": ["$.name"] },
            "any_failed.$": "States.ArrayContains($.outcomes[*].ok, false)",
            "all_c.$": "States.ArrayContains( $.lists[*].tags[*] , 'c' )",
            "listed.$": "States.StringToJson(States.Format('[{}]', States.JsonToString($.build)))",
            "merged.$": "States.JsonMerge($.build, States.ArrayGetItem($.outcomes, 0), false)",
        });
        let expected = json!({
            "name": "users",
            "ok": true,
            "nested": { "image": "registry/users:abc", "list": ["$.name"] },
            "any_failed": true,
            "all_c": false,
            "listed": [{ "image": "registry/users:abc", "phase": null }],
            "merged": { "image": "registry/users:abc", "phase": null, "ok": true, "name": "a" },
        });
        assert_eq!(evaluate(&template, &data()), Ok(expected));
        assert_eq!(evaluate(&json!("as is"), &data()), Ok(json!("as is")));
    }

    #[test]
    fn templates_reading_what_is_not_there_are_errors() {
        let table = [
            (json!({ "image.$": "$.build.image_uri" }), PathError::Missing("$.build.image_uri".into())),
            (json!({ "deep": { "x.$": "$.nothing" } }), PathError::Missing("$.nothing".into())),
            (json!({ "n.$": 7 }), PathError::NotAString("n.$".into())),
            (json!({ "n.$": "name" }), PathError::NotAPath("name".into())),
            (json!({ "b.$": "States.ArrayContains($.name, 1)" }), PathError::NotAList("$.name".into())),
            (json!({ "b.$": "States.ArrayContains($.none, 1)" }), PathError::Missing("$.none".into())),
        ];
        for (template, error) in table {
            assert_eq!(evaluate(&template, &data()), Err(error), "{template}");
        }
        for expression in
            ["States.Format('{} {}', $.name)", "States.ArrayContains($.outcomes)", "States.ArrayContains($.o, x)"]
        {
            let error = evaluate(&json!({ "v.$": expression }), &data()).unwrap_err();
            assert!(matches!(error, PathError::Function { .. }), "{expression}: {error}");
        }
    }

    #[test]
    fn result_paths_replace_drop_or_set() {
        let result = json!({ "status": "SUCCEEDED" });
        let set = |result_path: Option<Value>| {
            let mut data = json!({ "name": "users", "build": { "id": "b:1" } });
            set_result(&mut data, result_path.as_ref(), result.clone()).map(|()| data)
        };
        assert_eq!(set(None), Ok(result.clone()));
        assert_eq!(set(Some(json!("$"))), Ok(result.clone()));
        assert_eq!(set(Some(Value::Null)), Ok(json!({ "name": "users", "build": { "id": "b:1" } })));
        assert_eq!(set(Some(json!("$.build"))), Ok(json!({ "name": "users", "build": result })));
        assert_eq!(
            set(Some(json!("$.build.check"))),
            Ok(json!({ "name": "users", "build": { "id": "b:1", "check": result } }))
        );
        assert_eq!(
            set(Some(json!("$.new.inner"))),
            Ok(json!({ "name": "users", "build": { "id": "b:1" }, "new": { "inner": result } }))
        );
        assert_eq!(
            set(Some(json!("$.name.inner"))),
            Err(PathError::NotAnObject { path: "$.name.inner".into(), at: "$.name".into() })
        );
        assert_eq!(set(Some(json!(3))), Err(PathError::ResultPath("3".into())));
        assert_eq!(set(Some(json!("$.builds[*]"))), Err(PathError::Unknown("$.builds[*]".into())));
        let mut text = json!("not an object");
        let error = set_result(&mut text, Some(&json!("$.x")), json!(1)).unwrap_err();
        assert_eq!(error, PathError::NotAnObject { path: "$.x".into(), at: "$".into() });
    }

    #[test]
    fn output_paths_pass_on_all_a_part_or_nothing() {
        let data = json!({ "outcome": { "ok": true }, "other": 1 });
        assert_eq!(output(data.clone(), None), Ok(data.clone()));
        assert_eq!(output(data.clone(), Some(&json!("$"))), Ok(data.clone()));
        assert_eq!(output(data.clone(), Some(&json!("$.outcome"))), Ok(json!({ "ok": true })));
        assert_eq!(output(data.clone(), Some(&Value::Null)), Ok(json!({})));
        assert_eq!(output(data.clone(), Some(&json!("$.none"))), Err(PathError::Missing("$.none".into())));
        assert_eq!(output(data, Some(&json!(1))), Err(PathError::OutputPath("1".into())));
    }

    #[test]
    fn a_tasks_result_is_selected_then_placed() {
        let state = json!({ "ResultSelector": { "image.$": "$.Payload.image" }, "ResultPath": "$.build" });
        let mut data = json!({ "name": "users" });
        apply_result(&state, &mut data, json!({ "Payload": { "image": "i", "other": 1 } })).unwrap();
        assert_eq!(data, json!({ "name": "users", "build": { "image": "i" } }));
        let mut whole = json!({ "name": "users" });
        apply_result(&json!({}), &mut whole, json!({ "Payload": 1 })).unwrap();
        assert_eq!(whole, json!({ "Payload": 1 }));
        let missing = apply_result(&state, &mut data, json!({ "Payload": {} })).unwrap_err();
        assert_eq!(missing, PathError::Missing("$.Payload.image".into()));
    }
}
