//! EventBridge events in the shapes AWS sends them: `ECS Deployment State Change` for service
//! deployments, and `CodeBuild Build State Change` made from a build as `BatchGetBuilds`
//! answers it (ecs_service_deployment_events.html, sample-build-notifications-ref.html; the
//! fixtures in `tests/fixtures/aws/events/`).

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value, json};

use super::ids::uuid;
use super::state::Notice;

/// An `ECS Deployment State Change` event for the service `service_arn`, sent at `at` about its
/// service deployment `deployment` (which the event does not name: it is in the id's seed).
pub(super) fn deployment_state_change(service_arn: &str, deployment: &str, notice: &Notice, at: f64) -> Value {
    let (region, account) = region_and_account(service_arn);
    let time = rfc3339(at);
    json!({
        "version": "0",
        "id": uuid(&format!("{deployment} {} {} {at}", notice.name, notice.deployment_id)),
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": account,
        "time": time,
        "region": region,
        "resources": [service_arn],
        "detail": {
            "eventType": notice.event_type(),
            "eventName": notice.name,
            "deploymentId": notice.deployment_id,
            "updatedAt": time,
            "reason": notice.reason,
        },
    })
}

/// The `CodeBuild Build State Change` event for `build` (one build of a `BatchGetBuilds`
/// answer) at `now`: with `build-status` IN_PROGRESS the shape of a build starting (no phases,
/// no `build-number`), else the shape of a build ending, its phases ending with COMPLETED.
pub fn build_state_change(build: &Value, now: f64) -> Value {
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let number = |value: &Value, key: &str, default: u64| value.get(key).and_then(Value::as_u64).unwrap_or(default);
    let arn = text(build, "arn");
    let (region, account) = region_and_account(&arn);
    let status = build.get("buildStatus").and_then(Value::as_str).unwrap_or("IN_PROGRESS");
    let ended = status != "IN_PROGRESS";
    let id = text(build, "id");
    let project = build
        .get("projectName")
        .and_then(Value::as_str)
        .map_or_else(|| id.split_once(':').map_or(id.as_str(), |(project, _)| project).to_owned(), ToOwned::to_owned);
    let started = build.get("startTime").and_then(Value::as_f64).unwrap_or(now);
    let finished = build.get("endTime").and_then(Value::as_f64).unwrap_or(now);
    let environment = build.get("environment").cloned().unwrap_or_default();
    let variables: Vec<Value> = environment
        .get("environmentVariables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| json!({ "name": text(v, "name"), "type": v.get("type").and_then(Value::as_str).unwrap_or("PLAINTEXT"), "value": text(v, "value") }))
        .collect();
    let source = build.get("source").cloned().unwrap_or_default();
    let logs = build.get("logs").cloned().unwrap_or_default();
    let stream = id.split_once(':').map_or(id.as_str(), |(_, stream)| stream).to_owned();
    let group = logs
        .get("groupName")
        .and_then(Value::as_str)
        .map_or_else(|| format!("/aws/codebuild/{project}"), ToOwned::to_owned);
    let deep_link = logs.get("deepLink").and_then(Value::as_str).map_or_else(
        || {
            format!(
                "https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group={group};stream={stream}"
            )
        },
        ToOwned::to_owned,
    );

    let mut information = Map::new();
    let mut put = |key: &str, value: Value| {
        information.insert(key.to_owned(), value);
    };
    put(
        "artifact",
        json!({ "location": build.pointer("/artifacts/location").and_then(Value::as_str).unwrap_or_default() }),
    );
    put(
        "environment",
        json!({
            "image": text(&environment, "image"),
            "privileged-mode": environment.get("privilegedMode").and_then(Value::as_bool).unwrap_or(false),
            "image-pull-credentials-type": environment.get("imagePullCredentialsType").and_then(Value::as_str).unwrap_or("CODEBUILD"),
            "compute-type": environment.get("computeType").and_then(Value::as_str).unwrap_or("BUILD_GENERAL1_SMALL"),
            "type": environment.get("type").and_then(Value::as_str).unwrap_or("LINUX_CONTAINER"),
            "environment-variables": variables,
        }),
    );
    put("timeout-in-minutes", json!(number(build, "timeoutInMinutes", 60)));
    put("build-complete", json!(ended));
    put("initiator", json!(text(build, "initiator")));
    put("build-start-time", json!(codebuild_time(started)));
    put(
        "source",
        json!({
            "buildspec": text(&source, "buildspec"),
            "location": text(&source, "location"),
            "git-clone-depth": number(&source, "gitCloneDepth", 1),
            "type": source.get("type").and_then(Value::as_str).unwrap_or("CODECOMMIT"),
        }),
    );
    put("source-version", json!(text(build, "sourceVersion")));
    put("queued-timeout-in-minutes", json!(number(build, "queuedTimeoutInMinutes", 480)));
    if ended {
        put("build-number", json!(number(build, "buildNumber", 1)));
        put("logs", json!({ "group-name": group, "stream-name": stream, "deep-link": deep_link }));
        put("phases", phases(build, started, finished));
    } else {
        put("cache", json!({ "type": build.pointer("/cache/type").and_then(Value::as_str).unwrap_or("NO_CACHE") }));
        put("logs", json!({ "deep-link": deep_link }));
    }
    let current = if ended { "COMPLETED".to_owned() } else { text(build, "currentPhase") };
    json!({
        "version": "0",
        "id": uuid(&format!("{arn} {status}")),
        "detail-type": "CodeBuild Build State Change",
        "source": "aws.codebuild",
        "account": account,
        "time": rfc3339(now),
        "region": region,
        "resources": [arn],
        "detail": {
            "build-status": status,
            "project-name": project,
            "build-id": arn,
            "additional-information": information,
            "current-phase": if current.is_empty() { "SUBMITTED" } else { current.as_str() },
            "current-phase-context": "[]",
            "version": "1",
        },
    })
}

/// A finished build's phases as the event writes them, ending with COMPLETED.
fn phases(build: &Value, started: f64, finished: f64) -> Value {
    let given = build.get("phases").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut phases: Vec<Value> = given
        .iter()
        .filter(|phase| phase.get("phaseType").and_then(Value::as_str) != Some("COMPLETED"))
        .map(|phase| {
            let start = phase.get("startTime").and_then(Value::as_f64).unwrap_or(started);
            let end = phase.get("endTime").and_then(Value::as_f64).unwrap_or(finished);
            let contexts: Vec<Value> = phase
                .get("contexts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|context| {
                    let field = |key| context.get(key).and_then(Value::as_str).unwrap_or_default();
                    json!(format!("{}: {}", field("statusCode"), field("message")))
                })
                .collect();
            json!({
                "phase-context": contexts,
                "start-time": codebuild_time(start),
                "end-time": codebuild_time(end),
                "duration-in-seconds": phase.get("durationInSeconds").and_then(Value::as_u64).unwrap_or_else(|| whole_seconds(end - start)),
                "phase-type": phase.get("phaseType").and_then(Value::as_str).unwrap_or_default(),
                "phase-status": phase.get("phaseStatus").and_then(Value::as_str).unwrap_or("SUCCEEDED"),
            })
        })
        .collect();
    phases.push(json!({ "start-time": codebuild_time(finished), "phase-type": "COMPLETED" }));
    Value::Array(phases)
}

/// Non-negative whole seconds of `seconds`.
#[allow(clippy::cast_possible_truncation, reason = "clamped at 0 and floored; `as` saturates past u64::MAX")]
fn whole_seconds(seconds: f64) -> u64 {
    seconds.max(0.0).floor() as u64
}

/// `at` as EventBridge writes `time`: RFC 3339, whole seconds, UTC.
pub(super) fn rfc3339(at: f64) -> String {
    DateTime::from_secs_f64(at.floor()).fmt(Format::DateTime).unwrap_or_default()
}

/// `at` as CodeBuild's events write times: `Nov 23, 2026 10:23:52 AM`.
fn codebuild_time(at: f64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let text = rfc3339(at);
    let field =
        |range: std::ops::Range<usize>| text.get(range).and_then(|part| part.parse::<usize>().ok()).unwrap_or(0);
    let (year, month, day, hour) = (field(0..4), field(5..7), field(8..10), field(11..13));
    let minutes_seconds = text.get(13..19).unwrap_or(":00:00");
    let month = MONTHS.get(month.saturating_sub(1)).copied().unwrap_or("Jan");
    let (hour, noon) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!("{month} {day}, {year} {hour}{minutes_seconds} {noon}")
}

/// The region and account of an ARN (`arn:aws:SERVICE:REGION:ACCOUNT:...`).
fn region_and_account(arn: &str) -> (&str, &str) {
    let mut parts = arn.split(':').skip(3);
    (parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_aws_writes_them() {
        // 2026-11-23T10:23:52Z.
        let at = 1_795_429_432.6;
        assert_eq!(rfc3339(at), "2026-11-23T10:23:52Z");
        assert_eq!(codebuild_time(at), "Nov 23, 2026 10:23:52 AM");
        assert_eq!(codebuild_time(at + 3.0 * 3600.0), "Nov 23, 2026 1:23:52 PM");
        assert_eq!(codebuild_time(at - 10.0 * 3600.0), "Nov 23, 2026 12:23:52 AM");
        assert_eq!(codebuild_time(at + 2.0 * 3600.0), "Nov 23, 2026 12:23:52 PM");
        assert_eq!(whole_seconds(69.7), 69);
        assert_eq!(whole_seconds(-1.0), 0);
    }
}
