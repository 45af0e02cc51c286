//! The sample system in this repository (`services/`, `sam/infrastructure.yaml`): its real
//! manifests, read from the working tree as the git reader would find them, planned by the core;
//! the names the manifests, Dockerfiles, buildspecs and the template must agree on; and how the
//! template deploys each service (user-service ROLLING, product-service CANARY behind the ALB).

// Test code: a panic here is a failed assertion, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use deltaship_core::manifest::MANIFEST_FILE;
use deltaship_core::settings::SETTINGS_FILE;
use deltaship_core::{Catalog, Change, SourceFile};
use serde_norway::Value;

/// The repository's root (this crate is `tests/` in it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|error| panic!("read {path}: {error}"))
}

/// `deltaship.toml` (if any) and every `services/<name>/service.toml` there is, as the git reader
/// collects them: a folder without a manifest (the shared crate) is no service.
fn catalog() -> Catalog {
    let settings = fs::read(root().join(SETTINGS_FILE)).ok().map(|bytes| SourceFile::new(SETTINGS_FILE, bytes));
    let mut manifests = Vec::new();
    // The sample keeps the default service roots.
    for entry in fs::read_dir(root().join("services")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if let Ok(bytes) = fs::read(entry.path().join(MANIFEST_FILE)) {
            manifests.push(SourceFile::new(format!("services/{name}/{MANIFEST_FILE}"), bytes));
        }
    }
    Catalog::load(settings.as_ref(), &manifests).unwrap_or_else(|error| panic!("the sample's manifests: {error}"))
}

/// The services a push that modifies `paths` deploys, by name.
fn planned(catalog: &Catalog, paths: &[&str]) -> Vec<String> {
    let changes: Vec<Change> = paths.iter().map(|path| Change::Modified((*path).to_owned())).collect();
    catalog.plan(&changes).services.iter().map(|planned| planned.service.name.clone()).collect()
}

const SERVICES: [&str; 2] = ["product-service", "user-service"];

#[test]
fn the_two_services_are_the_folders_with_a_manifest() {
    let catalog = catalog();
    let names: Vec<&str> = catalog.services().iter().map(|service| service.name.as_str()).collect();
    assert_eq!(names, SERVICES);
    assert!(root().join("services/common/Cargo.toml").is_file(), "the shared crate is there");
    assert!(catalog.service("common").is_none(), "and it is not a service");
}

#[test]
fn each_change_deploys_the_services_that_contain_or_depend_on_it() {
    let catalog = catalog();
    let both = vec!["product-service".to_owned(), "user-service".to_owned()];
    let cases: &[(&str, Vec<String>)] = &[
        ("services/common/src/lib.rs", both.clone()),
        ("services/common/Cargo.toml", both.clone()),
        ("services/user-service/src/main.rs", vec!["user-service".to_owned()]),
        ("services/user-service/buildspec.yml", vec!["user-service".to_owned()]),
        ("services/product-service/src/lib.rs", vec!["product-service".to_owned()]),
        ("services/product-service/Dockerfile", vec!["product-service".to_owned()]),
        // Documentation, here or in the shared crate, deploys nothing.
        ("services/user-service/README.md", vec![]),
        ("services/common/README.md", vec![]),
        // Nor does anything outside the services: the lock file included (see docs/manifests.md).
        ("Cargo.lock", vec![]),
        ("Cargo.toml", vec![]),
        ("sam/infrastructure.yaml", vec![]),
        ("lambdas/core/src/lib.rs", vec![]),
        ("README.md", vec![]),
    ];
    for (path, expected) in cases {
        assert_eq!(&planned(&catalog, &[path]), expected, "a change to {path}");
    }
    let together = planned(&catalog, &["services/user-service/src/lib.rs", "services/product-service/src/lib.rs"]);
    assert_eq!(together, both);
}

/// What `sam/infrastructure.yaml` creates with its default `SystemName`, and the manifests name.
#[test]
fn manifests_name_what_the_template_creates() {
    let template = read("sam/infrastructure.yaml");
    assert!(
        template.contains("  SystemName:\n    Type: String\n    Default: deltaship-sample\n"),
        "default SystemName"
    );
    assert!(template.contains("      ClusterName: !Ref SystemName\n"));
    let catalog = catalog();
    for name in SERVICES {
        let service = catalog.service(name).unwrap();
        assert_eq!(service.build.project, format!("deltaship-sample-{name}"));
        assert_eq!(service.deploy.cluster, "deltaship-sample");
        assert_eq!(service.deploy.service, name);
        assert_eq!(service.deploy.container, "app");
        assert_eq!(service.deploy.image_repository, format!("deltaship-sample/{name}"));
        for expected in [
            format!("      ServiceName: {name}\n"),
            format!("      Name: !Sub \"${{SystemName}}-{name}\"\n"),
            format!("      RepositoryName: !Sub \"${{SystemName}}/{name}\"\n"),
            format!("      Family: !Sub \"${{SystemName}}-{name}\"\n"),
            format!("        BuildSpec: services/{name}/buildspec.yml\n"),
        ] {
            assert!(template.contains(&expected), "the template has `{}`", expected.trim());
        }
    }
    // Both task definitions name the container `app`, and nothing else is a container name.
    assert_eq!(template.matches("        - Name: app\n").count(), 2);
    assert_eq!(template.matches("        - ContainerName: app\n").count(), 2);
}

/// Each service's package, Dockerfile and buildspec build the same thing, from the repository
/// root, for the same architecture the task definitions run.
#[test]
fn packages_dockerfiles_and_buildspecs_agree() {
    let template = read("sam/infrastructure.yaml");
    assert_eq!(template.matches("CpuArchitecture: X86_64").count(), 2);
    assert_eq!(template.matches("Image: aws/codebuild/amazonlinux-x86_64-standard:").count(), 2);
    let workspace = read("Cargo.toml");
    for name in SERVICES {
        assert!(read(&format!("services/{name}/Cargo.toml")).contains(&format!("name = \"{name}\"\n")));
        let member = workspace.contains("\"services/*\"") || workspace.contains(&format!("\"services/{name}\""));
        assert!(member, "{name} is a workspace member");
        let dockerfile = read(&format!("services/{name}/Dockerfile"));
        assert!(dockerfile.contains(&format!("cargo build --release --locked -p {name} ")), "{name}/Dockerfile");
        assert!(dockerfile.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{name}\"]")), "{name}/Dockerfile");
        assert!(dockerfile.contains("\nUSER 65532:65532\n"), "{name} runs as non-root");
        let buildspec = read(&format!("services/{name}/buildspec.yml"));
        assert!(buildspec.contains(&format!("    SERVICE_DIR: services/{name}\n")), "{name}/buildspec.yml");
        assert!(buildspec.contains("  exported-variables:\n    - IMAGE_URI\n"), "{name}/buildspec.yml");
    }
    let member = workspace.contains("\"services/*\"") || workspace.contains("\"services/common\"");
    assert!(member, "the shared crate is a workspace member");
}

/// `sam/infrastructure.yaml`, parsed (CloudFormation's short tags such as `!Ref` become tagged
/// values).
fn template() -> Value {
    serde_norway::from_str(&read("sam/infrastructure.yaml")).unwrap_or_else(|error| panic!("the template: {error}"))
}

/// The resource a logical id names, checked to be of `kind`.
fn resource<'a>(template: &'a Value, name: &str, kind: &str) -> &'a Value {
    let resource = &template["Resources"][name];
    assert_eq!(resource["Type"].as_str(), Some(kind), "resource {name}");
    &resource["Properties"]
}

/// The logical id of a `!Ref X` (else `None`).
fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// `X.Attribute` of a `!GetAtt X.Attribute` (else `None`).
fn attribute(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => tagged.value.as_str(),
        _ => None,
    }
}

/// The `AWS::ECS::Service` whose `ServiceName` is `name`: (logical id, properties).
fn ecs_service<'a>(template: &'a Value, name: &str) -> (&'a str, &'a Value) {
    let found: Vec<(&str, &Value)> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| {
            resource["Type"].as_str() == Some("AWS::ECS::Service")
                && resource["Properties"]["ServiceName"].as_str() == Some(name)
        })
        .map(|(id, resource)| (id.as_str().unwrap(), &resource["Properties"]))
        .collect();
    assert_eq!(found.len(), 1, "one ECS service named {name}");
    found[0]
}

/// The target groups a listener rule forwards to, with their weights (a plain `TargetGroupArn`
/// counts as weight 1); the rule must forward and do nothing else (ECS fails blue/green
/// deployments on rules mixing forward with other actions).
fn forwards_to(rule: &Value) -> Vec<(&str, u64)> {
    let actions = rule["Actions"].as_sequence().unwrap();
    assert!(actions.iter().all(|action| action["Type"].as_str() == Some("forward")), "only forward: {actions:?}");
    let mut targets = Vec::new();
    for action in actions {
        if let Some(group) = reference(&action["TargetGroupArn"]) {
            targets.push((group, 1));
        }
        for tuple in action["ForwardConfig"]["TargetGroups"].as_sequence().into_iter().flatten() {
            targets.push((reference(&tuple["TargetGroupArn"]).unwrap(), tuple["Weight"].as_u64().unwrap()));
        }
    }
    targets
}

/// A listener rule's condition values of `field` (`path-pattern`, `http-header`).
fn condition<'a>(rule: &'a Value, field: &str) -> Option<&'a Value> {
    rule["Conditions"].as_sequence().unwrap().iter().find(|condition| condition["Field"].as_str() == Some(field))
}

#[test]
fn user_service_deploys_rolling_with_the_circuit_breaker_rolling_back() {
    let template = template();
    let (_, service) = ecs_service(&template, "user-service");
    assert_eq!(service["DeploymentController"]["Type"].as_str(), Some("ECS"));
    let deployment = &service["DeploymentConfiguration"];
    let strategy = deployment["Strategy"].as_str().unwrap_or("ROLLING");
    assert_eq!(strategy, "ROLLING", "ECS's default strategy is ROLLING");
    assert_eq!(deployment["DeploymentCircuitBreaker"]["Enable"].as_bool(), Some(true));
    assert_eq!(deployment["DeploymentCircuitBreaker"]["Rollback"].as_bool(), Some(true));
    assert_eq!(
        (deployment["MinimumHealthyPercent"].as_u64(), deployment["MaximumPercent"].as_u64()),
        (Some(100), Some(200))
    );
    for blue_green_only in ["CanaryConfiguration", "LinearConfiguration", "BakeTimeInMinutes"] {
        assert!(deployment.get(blue_green_only).is_none(), "user-service has no {blue_green_only}");
    }
    let balancers = service["LoadBalancers"].as_sequence().unwrap();
    assert!(
        balancers.iter().all(|balancer| balancer.get("AdvancedConfiguration").is_none()),
        "no alternate target group"
    );
}

#[test]
fn product_service_deploys_canary_with_alarms_rolling_back() {
    let template = template();
    let (_, service) = ecs_service(&template, "product-service");
    assert_eq!(service["DeploymentController"]["Type"].as_str(), Some("ECS"));
    let deployment = &service["DeploymentConfiguration"];
    assert_eq!(deployment["Strategy"].as_str(), Some("CANARY"));
    // The circuit breaker is for ROLLING deployments only; alarms detect a failed canary.
    assert!(deployment.get("DeploymentCircuitBreaker").is_none(), "no circuit breaker on a CANARY service");
    let parameters = [
        (&deployment["CanaryConfiguration"]["CanaryPercent"], "ProductServiceCanaryPercent", 10.0, (0.1, 100.0)),
        (
            &deployment["CanaryConfiguration"]["CanaryBakeTimeInMinutes"],
            "ProductServiceCanaryBakeTimeInMinutes",
            2.0,
            (0.0, 1440.0),
        ),
        (&deployment["BakeTimeInMinutes"], "ProductServiceBakeTimeInMinutes", 5.0, (0.0, 1440.0)),
    ];
    for (value, name, default, (min, max)) in parameters {
        assert_eq!(reference(value), Some(name), "{name} sets it");
        let parameter = &template["Parameters"][name];
        assert_eq!(parameter["Type"].as_str(), Some("Number"), "{name}");
        assert_eq!(parameter["Default"].as_f64(), Some(default), "{name}'s default");
        // The ranges AWS documents for these properties.
        assert_eq!((parameter["MinValue"].as_f64(), parameter["MaxValue"].as_f64()), (Some(min), Some(max)), "{name}");
    }

    let alarms = &deployment["Alarms"];
    assert_eq!((alarms["Enable"].as_bool(), alarms["Rollback"].as_bool()), (Some(true), Some(true)));
    let watched: Vec<&str> = alarms["AlarmNames"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|name| {
            let alarm = resource(&template, reference(name).unwrap(), "AWS::CloudWatch::Alarm");
            assert_eq!(alarm["MetricName"].as_str(), Some("HTTPCode_Target_5XX_Count"));
            assert_eq!(alarm["Namespace"].as_str(), Some("AWS/ApplicationELB"));
            let dimensions = alarm["Dimensions"].as_sequence().unwrap();
            let group = dimensions.iter().find(|dimension| dimension["Name"].as_str() == Some("TargetGroup")).unwrap();
            attribute(&group["Value"]).unwrap().strip_suffix(".TargetGroupFullName").unwrap()
        })
        .collect();

    let balancers = service["LoadBalancers"].as_sequence().unwrap();
    assert_eq!(balancers.len(), 1);
    let primary = reference(&balancers[0]["TargetGroupArn"]).unwrap();
    let advanced = &balancers[0]["AdvancedConfiguration"];
    let alternate = reference(&advanced["AlternateTargetGroupArn"]).unwrap();
    assert_ne!(primary, alternate, "an alternate target group of its own");
    // Either target group may hold the new revision: an alarm watches each.
    assert_eq!(watched.len(), 2);
    assert!(watched.contains(&primary) && watched.contains(&alternate), "alarms on {watched:?}");

    // The two target groups are alike: same port, protocol, target type and health check.
    let (primary_group, alternate_group) = (
        resource(&template, primary, "AWS::ElasticLoadBalancingV2::TargetGroup"),
        resource(&template, alternate, "AWS::ElasticLoadBalancingV2::TargetGroup"),
    );
    for key in [
        "TargetType",
        "Protocol",
        "ProtocolVersion",
        "Port",
        "VpcId",
        "HealthCheckProtocol",
        "HealthCheckPath",
        "HealthCheckIntervalSeconds",
        "HealthCheckTimeoutSeconds",
        "HealthyThresholdCount",
        "UnhealthyThresholdCount",
        "Matcher",
        "TargetGroupAttributes",
    ] {
        assert!(primary_group.get(key).is_some(), "{primary} sets {key}");
        assert_eq!(primary_group[key], alternate_group[key], "{primary} and {alternate} differ in {key}");
    }

    // Production: the existing /products* rule, all traffic to the serving group, the other at 0.
    let production = resource(
        &template,
        reference(&advanced["ProductionListenerRule"]).unwrap(),
        "AWS::ElasticLoadBalancingV2::ListenerRule",
    );
    let products = Value::Sequence(vec![Value::String("/products*".to_owned())]);
    assert_eq!(condition(production, "path-pattern").unwrap()["PathPatternConfig"]["Values"], products);
    assert!(condition(production, "http-header").is_none(), "production traffic is not told apart by a header");
    assert_eq!(forwards_to(production), [(primary, 100), (alternate, 0)]);

    // Test: on the same listener, /products* with a header, evaluated first, to the alternate group.
    let test = resource(
        &template,
        reference(&advanced["TestListenerRule"]).unwrap(),
        "AWS::ElasticLoadBalancingV2::ListenerRule",
    );
    assert_eq!(test["ListenerArn"], production["ListenerArn"]);
    assert!(test["Priority"].as_u64().unwrap() < production["Priority"].as_u64().unwrap(), "the test rule goes first");
    assert_eq!(condition(test, "path-pattern").unwrap()["PathPatternConfig"]["Values"], products);
    let header = &condition(test, "http-header").expect("the test rule matches a header")["HttpHeaderConfig"];
    assert_eq!(
        (header["HttpHeaderName"].as_str(), &header["Values"]),
        (Some("X-Environment"), &Value::Sequence(vec![Value::String("test".to_owned())]))
    );
    assert_eq!(forwards_to(test), [(alternate, 1)]);

    // ECS's infrastructure role for load balancers, with AWS's managed policy.
    let role_name = attribute(&advanced["RoleArn"]).unwrap().strip_suffix(".Arn").unwrap();
    let role = resource(&template, role_name, "AWS::IAM::Role");
    let trust = role["AssumeRolePolicyDocument"]["Statement"].as_sequence().unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Principal"]["Service"].as_str(), Some("ecs.amazonaws.com"));
    assert_eq!(trust[0]["Action"].as_str(), Some("sts:AssumeRole"));
    let policies: Vec<&str> = role["ManagedPolicyArns"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|arn| match arn {
            Value::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str().unwrap(),
            other => panic!("{role_name}'s managed policy is not a partition-aware !Sub: {other:?}"),
        })
        .collect();
    assert_eq!(policies, ["arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"]);
}

/// Each build role may do everything the ECR user guide lists for pushing an image ("Pushing an
/// image", IAM permissions) on its service's repository: a client that reads the manifest back
/// (`BatchGetImage`) must not fail the build.
#[test]
fn build_roles_may_push_with_every_client() {
    let template = template();
    let push = [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:CompleteLayerUpload",
        "ecr:InitiateLayerUpload",
        "ecr:PutImage",
        "ecr:UploadLayerPart",
    ];
    for (role, repository) in
        [("UserServiceBuildRole", "UserServiceRepository"), ("ProductServiceBuildRole", "ProductServiceRepository")]
    {
        let policies = resource(&template, role, "AWS::IAM::Role")["Policies"].as_sequence().unwrap();
        let granted: Vec<&str> = policies
            .iter()
            .flat_map(|policy| policy["PolicyDocument"]["Statement"].as_sequence().unwrap())
            .filter(|statement| attribute(&statement["Resource"]) == Some(&format!("{repository}.Arn")))
            .flat_map(|statement| match &statement["Action"] {
                Value::Sequence(actions) => actions.iter().filter_map(Value::as_str).collect(),
                action => action.as_str().into_iter().collect::<Vec<_>>(),
            })
            .collect();
        for action in push {
            assert!(granted.contains(&action), "{role} lacks {action} on {repository}: {granted:?}");
        }
    }
}
