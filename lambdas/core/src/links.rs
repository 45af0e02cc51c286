//! Console links that ops follow from an execution: a build's logs, a service's deployments, an
//! execution; each on the console of its region's partition (China and GovCloud have their own).

use crate::partition::Partition;

/// Escapes a path segment or query value for a console URL (RFC 3986 unreserved kept).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The console of the region's partition ([`crate::partition`]).
fn console(region: &str) -> String {
    Partition::of_region(region).console(&escape(region))
}

/// The CodeBuild console page of a build (`<project>:<uuid>`), which shows its logs.
pub fn build(region: &str, build_id: &str) -> String {
    let project = build_id.split_once(':').map_or(build_id, |(project, _)| project);
    format!(
        "{}/codesuite/codebuild/projects/{}/build/{}/?region={}",
        console(region),
        escape(project),
        escape(build_id),
        escape(region)
    )
}

/// The ECS console page of a service's deployments.
pub fn service(region: &str, cluster: &str, service: &str) -> String {
    format!(
        "{}/ecs/v2/clusters/{}/services/{}/deployments?region={}",
        console(region),
        escape(cluster),
        escape(service),
        escape(region)
    )
}

/// The ARN of the execution `name` of `state_machine_arn`, or `None` if that is not a state
/// machine ARN.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (prefix, machine) = state_machine_arn.split_once(":stateMachine:")?;
    (!machine.is_empty() && !machine.contains(':')).then(|| format!("{prefix}:execution:{machine}:{name}"))
}

/// The Step Functions console page of an execution.
pub fn execution(region: &str, execution_arn: &str) -> String {
    format!(
        "{}/states/home?region={}#/v2/executions/details/{}",
        console(region),
        escape(region),
        escape(execution_arn)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_links_escape_the_id() {
        assert_eq!(
            build("eu-west-1", "users-build:5b3c5e4c"),
            "https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/users-build/build/users-build%3A5b3c5e4c/?region=eu-west-1"
        );
    }

    #[test]
    fn service_links_name_cluster_and_service() {
        assert_eq!(
            service("us-east-1", "shop", "users"),
            "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/shop/services/users/deployments?region=us-east-1"
        );
    }

    #[test]
    fn execution_arns_come_from_the_state_machine_arn() {
        assert_eq!(
            execution_arn("arn:aws:states:eu-west-1:123456789012:stateMachine:deltaship", "shop-main-abc").as_deref(),
            Some("arn:aws:states:eu-west-1:123456789012:execution:deltaship:shop-main-abc")
        );
        for bad in
            ["", "deltaship", "arn:aws:states:eu-west-1:123456789012:stateMachine:", "arn:aws:states:x:1:activity:a"]
        {
            assert_eq!(execution_arn(bad, "n"), None, "{bad}");
        }
        assert!(
            execution("eu-west-1", "arn:aws:states:eu-west-1:1:execution:m:n")
                .ends_with("arn%3Aaws%3Astates%3Aeu-west-1%3A1%3Aexecution%3Am%3An")
        );
    }

    #[test]
    fn links_follow_the_partition() {
        assert!(
            service("cn-north-1", "shop", "users").starts_with("https://console.amazonaws.cn/ecs/v2/clusters/shop/")
        );
        assert!(build("us-gov-west-1", "p:1").starts_with("https://console.amazonaws-us-gov.com/codesuite/"));
        assert!(execution("eu-west-1", "x").starts_with("https://eu-west-1.console.aws.amazon.com/states/"));
    }
}
