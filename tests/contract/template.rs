//! `sam/template.yaml`'s values as CloudFormation resolves them in a deployed stack, for the
//! intrinsics the template uses where the contract tests read values (environment variables,
//! event patterns, outputs): `!Ref` (a parameter, a pseudo parameter, a resource), `!Sub` (with or
//! without its variables), `!Join`, `!GetAtt`, `!FindInMap`, and `!If` on the template's
//! conditions (`!Equals`, `!Not`). Anything else is an error naming it, never a guess.
//!
//! The stack is named `deltaship`, in account `123456789012` of the region it is given (the AWS
//! fixtures' account). A parameter takes its default unless given; a `CommaDelimitedList` is a
//! list. A resource's `!Ref` is a stand-in: the state machine's ARN for the state machine (what
//! CloudFormation answers), the logical id for any other (its name or id, unknown before
//! deploying); `!GetAtt` is `<logical id>.<attribute>`.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use serde_norway::Value as Yaml;

/// The account of the stand-in stack (the AWS fixtures' account).
pub(crate) const ACCOUNT: &str = "123456789012";

/// The name of the stand-in stack.
pub(crate) const STACK: &str = "deltaship";

/// A deployed stand-in of the template.
pub(crate) struct Stack<'t> {
    template: &'t Yaml,
    /// Parameters and pseudo parameters, by name.
    values: BTreeMap<String, Json>,
}

impl<'t> Stack<'t> {
    /// `template` deployed in `region` with `parameters` (the others at their defaults).
    pub(crate) fn new(template: &'t Yaml, region: &str, parameters: &[(&str, &str)]) -> Self {
        let mut values = BTreeMap::new();
        for (name, parameter) in template["Parameters"].as_mapping().expect("Parameters").iter() {
            let name = name.as_str().expect("a parameter name");
            let given = parameters.iter().find(|(given, _)| *given == name).map(|(_, value)| (*value).to_owned());
            let value = given.unwrap_or_else(|| match &parameter["Default"] {
                Yaml::String(text) => text.clone(),
                Yaml::Number(number) => number.to_string(),
                other => panic!("parameter {name} has no default to stand for it: {other:?}"),
            });
            let value = if parameter["Type"].as_str() == Some("CommaDelimitedList") {
                Json::Array(value.split(',').map(|item| Json::String(item.trim().to_owned())).collect())
            } else {
                Json::String(value)
            };
            values.insert(name.to_owned(), value);
        }
        for (given, _) in parameters {
            assert!(values.contains_key(*given), "the template has no parameter {given}");
        }
        let partition = deltaship_core::partition::Partition::of_region(region);
        for (name, value) in [
            ("AWS::Partition", partition.name()),
            ("AWS::Region", region),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::StackName", STACK),
            ("AWS::URLSuffix", partition.dns_suffix()),
        ] {
            values.insert(name.to_owned(), Json::String(value.to_owned()));
        }
        Self { template, values }
    }

    /// `value` with every intrinsic resolved.
    pub(crate) fn resolve(&self, value: &Yaml) -> Json {
        match value {
            Yaml::Null => Json::Null,
            Yaml::Bool(flag) => Json::Bool(*flag),
            Yaml::Number(number) => serde_json::to_value(number).expect("a YAML number is a JSON number"),
            Yaml::String(text) => Json::String(text.clone()),
            Yaml::Sequence(items) => Json::Array(items.iter().map(|item| self.resolve(item)).collect()),
            Yaml::Mapping(fields) => {
                let mut out = Map::new();
                for (key, field) in fields {
                    let key = key.as_str().unwrap_or_else(|| panic!("a mapping key that is not a string: {key:?}"));
                    out.insert(key.to_owned(), self.resolve(field));
                }
                Json::Object(out)
            }
            Yaml::Tagged(tagged) => {
                let argument = &tagged.value;
                if tagged.tag == "Ref" {
                    self.reference(argument.as_str().expect("!Ref takes a name"))
                } else if tagged.tag == "Sub" {
                    match argument {
                        Yaml::String(text) => Json::String(self.substitute(text, &BTreeMap::new())),
                        _ => {
                            let text = argument[0].as_str().expect("!Sub's text");
                            let variables = argument[1].as_mapping().expect("!Sub's variables");
                            let locals = variables
                                .iter()
                                .map(|(name, value)| {
                                    let name = name.as_str().expect("a !Sub variable's name").to_owned();
                                    match self.resolve(value) {
                                        Json::String(value) => (name, value),
                                        other => panic!("!Sub variable {name} is {other}, not a string"),
                                    }
                                })
                                .collect();
                            Json::String(self.substitute(text, &locals))
                        }
                    }
                } else if tagged.tag == "Join" {
                    self.join(argument)
                } else if tagged.tag == "FindInMap" {
                    let key = |index: usize| match self.resolve(&argument[index]) {
                        Json::String(key) => key,
                        other => panic!("!FindInMap key {other}"),
                    };
                    let (map, first, second) = (key(0), key(1), key(2));
                    let found = &self.template["Mappings"][map.as_str()][first.as_str()][second.as_str()];
                    assert!(!found.is_null(), "!FindInMap [{map}, {first}, {second}]: no such entry");
                    self.resolve(found)
                } else if tagged.tag == "If" {
                    let condition = argument[0].as_str().expect("!If's condition is a name");
                    let definition = &self.template["Conditions"][condition];
                    self.resolve(if self.truth(definition) { &argument[1] } else { &argument[2] })
                } else if tagged.tag == "GetAtt" {
                    let target = argument.as_str().expect("!GetAtt in its dotted form");
                    Json::String(self.attribute(target))
                } else {
                    panic!("!{} is beyond the intrinsics these tests resolve", tagged.tag)
                }
            }
        }
    }

    /// Whether a condition holds (`!Equals`, `!Not`).
    fn truth(&self, condition: &Yaml) -> bool {
        let Yaml::Tagged(tagged) = condition else { panic!("a condition that is not a function: {condition:?}") };
        if tagged.tag == "Equals" {
            self.resolve(&tagged.value[0]) == self.resolve(&tagged.value[1])
        } else if tagged.tag == "Not" {
            !self.truth(&tagged.value[0])
        } else {
            panic!("the condition function !{} is beyond these tests", tagged.tag)
        }
    }

    /// What `!Ref name` is.
    fn reference(&self, name: &str) -> Json {
        if let Some(value) = self.values.get(name) {
            return value.clone();
        }
        let resource = &self.template["Resources"][name];
        match resource["Type"].as_str() {
            Some("AWS::Serverless::StateMachine") => {
                let region = self.values["AWS::Region"].as_str().unwrap_or_default();
                let partition = self.values["AWS::Partition"].as_str().unwrap_or_default();
                Json::String(format!("arn:{partition}:states:{region}:{ACCOUNT}:stateMachine:{STACK}-pipeline"))
            }
            // A topic's Ref is its ARN (its name generated from the stack's and the logical id).
            Some("AWS::SNS::Topic") => {
                let region = self.values["AWS::Region"].as_str().unwrap_or_default();
                let partition = self.values["AWS::Partition"].as_str().unwrap_or_default();
                Json::String(format!("arn:{partition}:sns:{region}:{ACCOUNT}:{STACK}-{name}"))
            }
            Some(_) => Json::String(name.to_owned()),
            None => panic!("!Ref {name}: no parameter, pseudo parameter or resource of that name"),
        }
    }

    /// What `!GetAtt resource.attribute` stands for.
    fn attribute(&self, target: &str) -> String {
        let (resource, _) = target.split_once('.').unwrap_or_else(|| panic!("!GetAtt {target} names no attribute"));
        assert!(self.template["Resources"].get(resource).is_some(), "!GetAtt {target}: no resource {resource}");
        target.to_owned()
    }

    /// `!Sub text`: every `${Name}` replaced by its variable in `locals`, else by what `!Ref Name`
    /// is (`${Resource.Attribute}` by `!GetAtt`), `${!Literal}` by `${Literal}`.
    fn substitute(&self, text: &str, locals: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').unwrap_or_else(|| panic!("!Sub {text:?}: an unclosed ${{"));
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(local) = locals.get(name) {
                out.push_str(local);
            } else if name.contains('.') {
                out.push_str(&self.attribute(name));
            } else {
                match self.reference(name) {
                    Json::String(value) => out.push_str(&value),
                    other => panic!("!Sub {text:?}: ${{{name}}} is {other}, not a string"),
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `!Join [separator, items]`, a list among the items joined item by item.
    fn join(&self, argument: &Yaml) -> Json {
        let separator = argument[0].as_str().expect("!Join's separator");
        let items = argument[1].as_sequence().map_or_else(
            || vec![self.resolve(&argument[1])],
            |items| items.iter().map(|item| self.resolve(item)).collect(),
        );
        let mut texts = Vec::new();
        for item in items {
            match item {
                Json::String(text) => texts.push(text),
                Json::Array(list) => {
                    texts.extend(list.iter().map(|text| text.as_str().expect("a list of strings").to_owned()));
                }
                other => panic!("!Join of {other}"),
            }
        }
        Json::String(texts.join(separator))
    }
}

#[test]
fn intrinsics_resolve_as_cloudformation_resolves_them() {
    let template: Yaml = serde_norway::from_str(
        "Parameters:
  Cluster: { Type: String, Default: shop }
  Branches: { Type: CommaDelimitedList, Default: 'main, release' }
  Seconds: { Type: Number, Default: 300 }
Resources:
  Machine: { Type: AWS::Serverless::StateMachine }
  Table: { Type: AWS::DynamoDB::Table }
Values:
  - !Ref Cluster
  - !Ref Branches
  - !Ref Seconds
  - !Ref Machine
  - !Ref Table
  - !Sub 'arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${Cluster}/ ${!Literal} ${Table.Arn}'
  - !Join [',', !Ref Branches]
  - { nested: [!Ref AWS::StackName] }
  - !Sub ['[${List}] in ${Cluster}', { List: !Join ['|', !Ref Branches] }]
",
    )
    .unwrap();
    let stack = Stack::new(&template, "eu-west-1", &[("Cluster", "other")]);
    let resolved = stack.resolve(&template["Values"]);
    let expected = serde_json::json!([
        "other",
        ["main", "release"],
        "300",
        "arn:aws:states:eu-west-1:123456789012:stateMachine:deltaship-pipeline",
        "Table",
        "arn:aws:ecs:eu-west-1:123456789012:service/other/ ${Literal} Table.Arn",
        "main,release",
        { "nested": ["deltaship"] },
        "[main|release] in other",
    ]);
    assert_eq!(resolved, expected);
    for beyond in ["!Select [0, [a]]", "!Ref Nothing", "!GetAtt Nothing.Arn", "!Sub '${Nothing}'"] {
        let value: Yaml = serde_norway::from_str(beyond).unwrap();
        let result = std::panic::catch_unwind(|| stack.resolve(&value));
        assert!(result.is_err(), "{beyond} resolved");
    }
}
