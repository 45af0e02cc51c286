//! EventBridge, as the local stack plays it: the rules of `sam/template.yaml` that target
//! deltaship's functions, their event patterns (matched by [`crate::event_pattern`]), and
//! delivery to the target function in process ([`super::front::Front::deliver_due_events`]), as
//! EventBridge invokes a Lambda target: asynchronously, retried on error, at least once.
//!
//! The rules are read from the template this binary was built with, their parameters given the
//! local stack's values ([`Parameters`]), so a pattern that would not match an event on AWS does
//! not match it here either (and the wait it should have woken ends by its fallback timeout).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// deltaship's SAM template, as this binary was built with it.
pub const TEMPLATE: &str = include_str!("../../../sam/template.yaml");

/// One rule: its resource name, its event pattern (JSON, as `PutRule` takes it), and the function
/// its target invokes (a bin name, e.g. `wake-waits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule's logical id in the template.
    pub name: String,
    /// The event pattern, resolved.
    pub pattern: String,
    /// The target function's bin name.
    pub target: String,
}

/// The template's parameter values, and the pseudo parameters (`AWS::Region`, ...).
pub type Parameters = BTreeMap<String, String>;

/// The rules of `template` whose targets are functions of the template, with `parameters`
/// (parameters not given take their `Default`).
pub fn rules(template: &str, parameters: &Parameters) -> Result<Vec<Rule>, String> {
    let document: serde_norway::Value =
        serde_norway::from_str(template).map_err(|error| format!("the SAM template is not YAML: {error}"))?;
    let resources = document.get("Resources").and_then(serde_norway::Value::as_mapping).ok_or("no Resources")?;
    let mut values = parameters.clone();
    let mut lists = Vec::new();
    if let Some(declared) = document.get("Parameters").and_then(serde_norway::Value::as_mapping) {
        for (name, declaration) in declared {
            let Some(name) = name.as_str() else { continue };
            if declaration.get("Type").and_then(serde_norway::Value::as_str) == Some("CommaDelimitedList") {
                lists.push(name.to_owned());
            }
            let default = match declaration.get("Default") {
                Some(serde_norway::Value::String(text)) => text.clone(),
                Some(serde_norway::Value::Number(number)) => number.to_string(),
                _ => continue,
            };
            values.entry(name.to_owned()).or_insert(default);
        }
    }
    let conditions = document.get("Conditions").and_then(serde_norway::Value::as_mapping);
    let evaluator = Evaluator { parameters: &values, lists: &lists, conditions };
    let functions: BTreeMap<String, String> = resources
        .iter()
        .filter_map(|(name, resource)| {
            let binary = resource.get("Metadata")?.get("BuildProperties")?.get("Binary")?.as_str()?;
            Some((name.as_str()?.to_owned(), binary.to_owned()))
        })
        .collect();
    let mut rules = Vec::new();
    for (name, resource) in resources {
        let (Some(name), Some("AWS::Events::Rule")) =
            (name.as_str(), resource.get("Type").and_then(serde_norway::Value::as_str))
        else {
            continue;
        };
        let Some(properties) = resource.get("Properties") else { continue };
        let Some(pattern) = properties.get("EventPattern") else { continue };
        let pattern = match evaluator.resolve(pattern).map_err(|problem| format!("rule {name}: {problem}"))? {
            // A pattern given as a JSON string (CloudFormation's Json type takes either form).
            Value::String(text) => serde_json::from_str(&text)
                .map_err(|error| format!("rule {name}: its EventPattern is not JSON once resolved: {error}: {text}"))?,
            pattern => pattern,
        };
        let targets = properties.get("Targets").and_then(serde_norway::Value::as_sequence).into_iter().flatten();
        for target in targets {
            let function = target.get("Arn").and_then(get_att_resource).and_then(|resource| functions.get(&resource));
            if let Some(function) = function {
                rules.push(Rule { name: name.to_owned(), pattern: pattern.to_string(), target: function.clone() });
            }
        }
    }
    Ok(rules)
}

/// `!GetAtt X.Arn` → `X`.
fn get_att_resource(value: &serde_norway::Value) -> Option<String> {
    let serde_norway::Value::Tagged(tagged) = value else { return None };
    if tagged.tag.to_string().trim_start_matches('!') != "GetAtt" {
        return None;
    }
    let text = tagged.value.as_str()?;
    Some(text.split_once('.').map_or(text, |(resource, _)| resource).to_owned())
}

/// The few CloudFormation intrinsic functions an event pattern uses: `!Sub` (with or without its
/// variables), `!Join`, `!Ref`, `!If` (with `!Equals`, `!Not`, `!And`, `!Or` conditions) and
/// `AWS::NoValue`.
struct Evaluator<'a> {
    parameters: &'a Parameters,
    /// The parameters of type `CommaDelimitedList` (a `!Ref` of one is a list).
    lists: &'a [String],
    conditions: Option<&'a serde_norway::Mapping>,
}

impl Evaluator<'_> {
    /// `value` as JSON, intrinsic functions resolved; `None` for `AWS::NoValue`.
    fn resolve(&self, value: &serde_norway::Value) -> Result<Value, String> {
        self.resolve_optional(value)?.ok_or_else(|| "resolves to nothing".to_owned())
    }

    fn resolve_optional(&self, value: &serde_norway::Value) -> Result<Option<Value>, String> {
        use serde_norway::Value as Yaml;
        Ok(Some(match value {
            Yaml::Null => Value::Null,
            Yaml::Bool(flag) => json!(flag),
            Yaml::Number(number) => serde_json::from_str(&number.to_string()).unwrap_or(Value::Null),
            Yaml::String(text) => json!(text),
            Yaml::Sequence(items) => {
                let mut resolved = Vec::new();
                for item in items {
                    resolved.extend(self.resolve_optional(item)?);
                }
                Value::Array(resolved)
            }
            Yaml::Mapping(fields) => {
                let mut resolved = serde_json::Map::new();
                for (key, item) in fields {
                    let key = key.as_str().ok_or("a key that is not text")?;
                    if let Some(item) = self.resolve_optional(item)? {
                        resolved.insert(key.to_owned(), item);
                    }
                }
                Value::Object(resolved)
            }
            Yaml::Tagged(tagged) => match tagged.tag.to_string().trim_start_matches('!') {
                "Ref" if tagged.value.as_str() == Some("AWS::NoValue") => return Ok(None),
                "Ref" => {
                    let name = tagged.value.as_str().ok_or("!Ref of a non-name")?;
                    let value = self.parameter(name)?;
                    if self.lists.iter().any(|list| list == name) {
                        json!(value.split(',').map(str::trim).collect::<Vec<_>>())
                    } else {
                        json!(value)
                    }
                }
                "Sub" => match &tagged.value {
                    Yaml::String(text) => json!(self.substitute(text, &BTreeMap::new())?),
                    Yaml::Sequence(items) => {
                        let (Some(text), Some(variables)) = (items.first().and_then(Yaml::as_str), items.get(1)) else {
                            return Err("!Sub takes a text, or a text and its variables".to_owned());
                        };
                        let mut locals = BTreeMap::new();
                        for (name, value) in variables.as_mapping().ok_or("!Sub's variables are a mapping")? {
                            let name = name.as_str().ok_or("a !Sub variable's name is not text")?;
                            let Value::String(value) = self.resolve(value)? else {
                                return Err(format!("!Sub variable {name} is not text"));
                            };
                            locals.insert(name.to_owned(), value);
                        }
                        json!(self.substitute(text, &locals)?)
                    }
                    _ => return Err("!Sub takes a text, or a text and its variables".to_owned()),
                },
                "Join" => {
                    let items = tagged.value.as_sequence().ok_or("!Join takes a list")?;
                    let (Some(separator), Some(list)) = (items.first().and_then(Yaml::as_str), items.get(1)) else {
                        return Err("!Join takes a separator and a list".to_owned());
                    };
                    let Value::Array(list) = self.resolve(list)? else { return Err("!Join of a non-list".to_owned()) };
                    let texts: Option<Vec<&str>> = list.iter().map(Value::as_str).collect();
                    json!(texts.ok_or("!Join of a list that is not all text")?.join(separator))
                }
                "If" => {
                    let items = tagged.value.as_sequence().ok_or("!If takes a list")?;
                    let (Some(condition), Some(then), Some(otherwise)) = (items.first(), items.get(1), items.get(2))
                    else {
                        return Err("!If takes a condition and two values".to_owned());
                    };
                    let condition = condition.as_str().ok_or("!If's condition is a name")?;
                    return self.resolve_optional(if self.condition(condition)? { then } else { otherwise });
                }
                other => return Err(format!("the intrinsic function !{other} is not supported here")),
            },
        }))
    }

    fn parameter(&self, name: &str) -> Result<String, String> {
        self.parameters.get(name).cloned().ok_or_else(|| format!("no value for {name}"))
    }

    /// `text` with each `${name}` replaced by `locals`' value, else the parameter's.
    fn substitute(&self, text: &str, locals: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            let name = &after[..end];
            match locals.get(name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&self.parameter(name)?),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn condition(&self, name: &str) -> Result<bool, String> {
        let definition = self
            .conditions
            .and_then(|conditions| conditions.get(name))
            .ok_or_else(|| format!("no condition {name}"))?;
        self.truth(definition)
    }

    fn truth(&self, value: &serde_norway::Value) -> Result<bool, String> {
        let serde_norway::Value::Tagged(tagged) = value else {
            return Err("a condition that is not a function".to_owned());
        };
        let items = || tagged.value.as_sequence().ok_or_else(|| format!("!{} takes a list", tagged.tag));
        match tagged.tag.to_string().trim_start_matches('!') {
            "Equals" => {
                let items = items()?;
                let (Some(a), Some(b)) = (items.first(), items.get(1)) else { return Err("!Equals takes two".into()) };
                Ok(self.resolve(a)? == self.resolve(b)?)
            }
            "Not" => Ok(!self.truth(items()?.first().ok_or("!Not takes one")?)?),
            "And" => items()?.iter().try_fold(true, |all, item| Ok(all && self.truth(item)?)),
            "Or" => items()?.iter().try_fold(false, |any, item| Ok(any || self.truth(item)?)),
            "Condition" => self.condition(tagged.value.as_str().ok_or("!Condition takes a name")?),
            other => Err(format!("the condition function !{other} is not supported here")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Cluster: { Type: String, Default: "" }
Conditions:
  HasCluster: !Not [!Equals [!Ref Cluster, ""]]
Resources:
  Wake:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: wake-waits } }
  Other:
    Type: AWS::Serverless::Function
  Deployments:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.ecs]
        resources: !If
          - HasCluster
          - [{ prefix: !Sub "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${Cluster}/" }]
          - !Ref AWS::NoValue
      Targets:
        - { Id: wake, Arn: !GetAtt Wake.Arn }
        - { Id: queue, Arn: !GetAtt Queue.Arn }
"#;

    fn parameters(cluster: &str) -> Parameters {
        [("AWS::Partition", "aws"), ("AWS::Region", "us-east-1"), ("AWS::AccountId", "1"), ("Cluster", cluster)]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    #[test]
    fn rule_patterns_are_resolved_with_the_parameters() {
        let found = rules(TEMPLATE, &parameters("shop")).unwrap_or_default();
        assert_eq!(found.len(), 1, "only targets that are the template's functions: {found:?}");
        assert_eq!(found[0].target, "wake-waits");
        let pattern: Value = serde_json::from_str(&found[0].pattern).unwrap_or_default();
        assert_eq!(
            pattern,
            json!({"source": ["aws.ecs"], "resources": [{"prefix": "arn:aws:ecs:us-east-1:1:service/shop/"}]})
        );
        let open = rules(TEMPLATE, &parameters("")).unwrap_or_default();
        let pattern: Value = serde_json::from_str(&open[0].pattern).unwrap_or_default();
        assert_eq!(pattern, json!({"source": ["aws.ecs"]}), "AWS::NoValue drops the key");
    }

    #[test]
    fn the_real_template_has_rules() {
        let found = rules(super::TEMPLATE, &parameters("shop")).unwrap_or_else(|problem| panic!("{problem}"));
        eprintln!("{found:#?}");
        let targets: Vec<&str> = found.iter().map(|rule| rule.target.as_str()).collect();
        assert!(targets.contains(&"wake-waits") && targets.contains(&"detect-changes"), "{found:?}");
    }
}
