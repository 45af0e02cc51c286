//! Least privilege as a test: every IAM statement in `sam/template.yaml` names its actions one by
//! one (no `*` in an action, no `NotAction`), and names its resources, except for the few actions
//! that AWS does not scope to a resource, which are allowed `"*"` and listed here with the reason.
//! Each function's role grants exactly the calls its handler makes (listed here per role), the
//! waits table's actions only on the stack's table, and the service deployment actions only on
//! the service deployments of `ClusterName`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

use serde_norway::Value;

/// Actions allowed `Resource: "*"`: the Service Authorization Reference gives them no resource
/// type, so IAM accepts nothing narrower. A statement with `"*"` may list only these.
const STAR_RESOURCE_ACTIONS: &[(&str, &str)] = &[
    // X-Ray: the trace and sampling APIs have no resource type.
    ("xray:PutTraceSegments", "no resource type"),
    ("xray:PutTelemetryRecords", "no resource type"),
    ("xray:GetSamplingRules", "no resource type"),
    ("xray:GetSamplingTargets", "no resource type"),
    // ECS: DescribeTaskDefinition has no resource type.
    ("ecs:DescribeTaskDefinition", "no resource type"),
    // CloudWatch Logs vended-log deliveries (Step Functions logging): no resource type.
    ("logs:CreateLogDelivery", "no resource type"),
    ("logs:GetLogDelivery", "no resource type"),
    ("logs:UpdateLogDelivery", "no resource type"),
    ("logs:DeleteLogDelivery", "no resource type"),
    ("logs:ListLogDeliveries", "no resource type"),
    ("logs:PutResourcePolicy", "no resource type"),
    ("logs:DescribeResourcePolicies", "no resource type"),
    ("logs:DescribeLogGroups", "no resource type"),
    // Step Functions: completing a task token. The Service Authorization Reference gives
    // SendTaskSuccess and SendTaskFailure no resource type (so does cfn-lint's copy of it,
    // data/AdditionalSpecs/Policies.json), so only "*" is documented to work.
    ("states:SendTaskSuccess", "no resource type"),
    ("states:SendTaskFailure", "no resource type"),
];

/// Every IAM statement of a template: (where, statement). Role policies, the assume-role
/// policies, stand-alone policies, queue and topic policies.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let properties = &resource["Properties"];
        let mut documents: Vec<(String, &Value)> = Vec::new();
        for policy in properties["Policies"].as_sequence().into_iter().flatten() {
            let label = policy["PolicyName"].as_str().unwrap_or("?");
            documents.push((format!("{name} policy {label}"), &policy["PolicyDocument"]));
        }
        for key in ["PolicyDocument", "AssumeRolePolicyDocument"] {
            if properties.get(key).is_some() {
                documents.push((format!("{name} {key}"), &properties[key]));
            }
        }
        for (place, document) in documents {
            for (index, statement) in document["Statement"].as_sequence().into_iter().flatten().enumerate() {
                let sid = statement["Sid"].as_str().map_or_else(|| format!("#{index}"), ToOwned::to_owned);
                found.push((format!("{place} statement {sid}"), statement.clone()));
            }
        }
    }
    found
}

/// The plain strings of a field that is a string or a list (tagged values such as `!Sub` or
/// `!GetAtt` name a specific resource and are not strings here).
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Everything wrong with one statement.
fn problems(place: &str, statement: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for key in ["NotAction", "NotResource", "NotPrincipal"] {
        if statement.get(key).is_some() {
            problems.push(format!("{place}: {key} grants everything else"));
        }
    }
    if statement["Effect"].as_str() != Some("Allow") {
        return problems;
    }
    let actions = strings(&statement["Action"]);
    for action in &actions {
        if action.contains('*') {
            problems.push(format!("{place}: action {action:?} is a wildcard"));
        }
    }
    if strings(&statement["Resource"]).iter().any(|resource| resource == "*") {
        for action in &actions {
            if !STAR_RESOURCE_ACTIONS.iter().any(|(allowed, _)| allowed == action) {
                problems.push(format!(
                    "{place}: {action} on resource \"*\" (not in STAR_RESOURCE_ACTIONS: name the resource)"
                ));
            }
        }
    }
    problems
}

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sam/template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn no_statement_grants_a_wildcard_action_or_an_unlisted_wildcard_resource() {
    let template = template();
    let statements = statements(&template);
    assert!(statements.len() > 20, "found only {} statements", statements.len());
    let problems: Vec<String> = statements.iter().flat_map(|(place, statement)| problems(place, statement)).collect();
    assert!(problems.is_empty(), "sam/template.yaml:\n{}", problems.join("\n"));
}

/// What each function's handler calls (`lambdas/aws/src`), besides its logs and traces: its role
/// must grant exactly these actions.
const CALLS: &[(&str, &[&str])] = &[
    (
        "DetectChangesRole",
        &[
            "codecommit:GetCommit",
            "codecommit:GetDifferences",
            "codecommit:GetFile",
            "codecommit:GetFolder",
            "states:StartExecution",
            "states:DescribeExecution",
            "sqs:SendMessage",
            // The push ledger.
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
    ),
    ("StartBuildRole", &["codebuild:StartBuild"]),
    (
        "CheckBuildRole",
        &[
            "codebuild:BatchGetBuilds",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "states:SendTaskSuccess",
            "states:SendTaskFailure",
        ],
    ),
    (
        "DeployServiceRole",
        &[
            "ecs:DescribeServices",
            "ecs:UpdateService",
            "ecs:DescribeTaskDefinition",
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
            "iam:PassRole",
            // The push ledger's pushes of one second.
            "dynamodb:Query",
        ],
    ),
    (
        "CheckRolloutRole",
        &[
            "ecs:DescribeServices",
            "ecs:DescribeServiceDeployments",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "states:SendTaskSuccess",
            "states:SendTaskFailure",
        ],
    ),
    (
        "RollbackServiceRole",
        &["ecs:DescribeServices", "ecs:UpdateService", "ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"],
    ),
    (
        "RequestApprovalRole",
        &["dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "states:SendTaskFailure", "sns:Publish"],
    ),
    (
        "ReconcilePushesRole",
        &[
            "codecommit:ListBranches",
            "codecommit:GetBranch",
            "codecommit:GetCommit",
            "codecommit:GetDifferences",
            "codecommit:GetFile",
            "codecommit:GetFolder",
            "states:StartExecution",
            "states:DescribeExecution",
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
    ),
    (
        "WakeWaitsRole",
        &[
            "dynamodb:Query",
            "dynamodb:DeleteItem",
            "codebuild:BatchGetBuilds",
            "ecs:DescribeServices",
            "ecs:DescribeServiceDeployments",
            "states:SendTaskSuccess",
            "states:SendTaskFailure",
            "sqs:SendMessage",
        ],
    ),
];

/// Every function's logs and traces.
const EVERY_FUNCTION: [&str; 4] =
    ["logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/// A resource as written: a string, or `!Tag value` for an intrinsic (`!GetAtt WaitsTable.Arn`).
fn written(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Sequence(items) => items.iter().flat_map(written).collect(),
        Value::Tagged(tagged) => {
            let inner = match &tagged.value {
                Value::String(text) => text.clone(),
                other => serde_norway::to_string(other).unwrap().trim().to_owned(),
            };
            vec![format!("{} {inner}", tagged.tag)]
        }
        other => vec![format!("{other:?}")],
    }
}

/// The actions a role's policies grant, each with the resources of its statement.
fn granted(template: &Value, role: &str) -> Vec<(String, Vec<String>)> {
    statements(template)
        .into_iter()
        .filter(|(place, _)| place.starts_with(&format!("{role} policy")))
        .flat_map(|(_, statement)| {
            let resources = written(&statement["Resource"]);
            strings(&statement["Action"]).into_iter().map(move |action| (action, resources.clone()))
        })
        .collect()
}

#[test]
fn every_function_role_grants_exactly_its_handlers_calls() {
    let template = template();
    let roles: Vec<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(name, resource)| {
            let role = &resource["Properties"]["Role"];
            let target = written(role).pop().unwrap_or_default();
            let role = target.strip_prefix("!GetAtt ").and_then(|target| target.strip_suffix(".Arn"));
            role.unwrap_or_else(|| panic!("{name:?} has no role of its own: {target}")).to_owned()
        })
        .collect();
    let mut listed: Vec<&str> = CALLS.iter().map(|(role, _)| *role).collect();
    let mut found: Vec<&str> = roles.iter().map(String::as_str).collect();
    listed.sort_unstable();
    found.sort_unstable();
    assert_eq!(found, listed, "every function has its own role, listed in CALLS");
    for (role, calls) in CALLS {
        let mut actions: Vec<String> = granted(&template, role).into_iter().map(|(action, _)| action).collect();
        actions.sort_unstable();
        let mut expected: Vec<String> =
            calls.iter().chain(&EVERY_FUNCTION).map(|action| (*action).to_owned()).collect();
        expected.sort_unstable();
        assert_eq!(actions, expected, "{role} grants other actions than its handler's calls");
    }
}

#[test]
fn waits_and_service_deployments_are_granted_on_the_stacks_own_resources() {
    let template = template();
    for (role, _) in CALLS {
        for (action, resources) in granted(&template, role) {
            if action.starts_with("dynamodb:") {
                assert_eq!(resources, ["!GetAtt WaitsTable.Arn"], "{role}: {action} on {resources:?}");
            }
            if action == "ecs:StopServiceDeployment" || action == "ecs:DescribeServiceDeployments" {
                let cluster = ":service-deployment/${ClusterName}/*";
                assert!(
                    resources.iter().any(|resource| resource.starts_with("!Sub ") && resource.ends_with(cluster)),
                    "{role}: {action} is not granted on the service deployments of ClusterName: {resources:?}"
                );
                let beyond = resources.iter().filter(|resource| !resource.contains("${ClusterName}/*"));
                assert_eq!(beyond.count(), 0, "{role}: {action} beyond ClusterName: {resources:?}");
            }
        }
    }
}

#[test]
fn the_check_catches_wildcards() {
    let statement = |yaml: &str| -> Value { serde_norway::from_str(yaml).unwrap() };
    let cases = [
        ("Effect: Allow\nAction: ecs:*\nResource: arn:x", "is a wildcard"),
        ("Effect: Allow\nAction: '*'\nResource: arn:x", "is a wildcard"),
        ("Effect: Allow\nAction: [ecs:Describe*]\nResource: arn:x", "is a wildcard"),
        ("Effect: Allow\nAction: ecs:UpdateService\nResource: '*'", "ecs:UpdateService on resource \"*\""),
        ("Effect: Allow\nAction: [xray:PutTraceSegments, s3:GetObject]\nResource: ['*']", "s3:GetObject on"),
        ("Effect: Allow\nNotAction: iam:*\nResource: arn:x", "NotAction"),
    ];
    for (yaml, expected) in cases {
        let found = problems("test", &statement(yaml));
        assert!(found.iter().any(|problem| problem.contains(expected)), "{yaml}: {found:?}");
    }
    let fine = [
        "Effect: Allow\nAction: xray:PutTraceSegments\nResource: '*'",
        "Effect: Allow\nAction: ecs:UpdateService\nResource: !Sub arn:${X}",
    ];
    for yaml in fine {
        assert!(problems("test", &statement(yaml)).is_empty(), "{yaml}");
    }
}
