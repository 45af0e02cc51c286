//! How `deltaship local run` shows a push: progress lines while it runs, then the execution as
//! ops would read it in the console.

use std::io::{self, Write};

use deltaship_core::manifest::resource_name;
use serde_json::Value;

use super::answers::GateEvent;
use super::follow::{RunReport, RunStatus};
use super::run::Progress;
use crate::approvals::Decision;

/// One line for a progress event.
pub fn progress_line(progress: &Progress) -> String {
    match progress {
        Progress::Push { branch, base, head } => match base {
            Some(base) => format!("push to {branch}: {}..{}", base.short(), head.short()),
            None => format!("first push of {branch}: {}", head.short()),
        },
        Progress::Detected(detected) => format!("detect-changes: {}", detected.message),
        Progress::Invoked(invocation) => {
            let service = invocation.service.as_deref().unwrap_or("-");
            let what = match &invocation.result {
                Ok(output) => summary(&invocation.function, output),
                Err((kind, message)) => format!("{kind}: {message}"),
            };
            format!("  {service:<20} {:<17} {what}", invocation.function)
        }
        Progress::Gate(GateEvent::Answered { service, environment, decision, by }) => {
            let what = match decision {
                Decision::Approve => "approved",
                Decision::Reject => "rejected",
            };
            format!("  {service:<20} {:<17} {what} into {environment} by {by}", "gate")
        }
        Progress::Gate(GateEvent::Waiting { service, environment, command }) => {
            format!("  {service:<20} {:<17} waits for an approval into {environment}: {command}", "gate")
        }
    }
}

/// What a function's output says, in a few words.
fn summary(function: &str, output: &Value) -> String {
    let field = |value: &Value, name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let watch = output.get("watch").cloned().unwrap_or_default();
    match function {
        "start-build" => format!("started build {}", field(output, "build_id")),
        "check-build" if field(output, "status") == "SUCCEEDED" => {
            format!("build succeeded: {}", field(output, "image"))
        }
        "check-build" => format!("build in progress ({})", field(output, "phase")),
        "deploy-service" => format!(
            "rolling out {} ({} service deployment {})",
            resource_name(&field(&watch, "task_definition")),
            field(&watch, "strategy"),
            resource_name(&field(&watch, "service_deployment"))
        ),
        "check-rollout" => {
            format!("{}: {}", field(output, "status").to_lowercase().replace('_', " "), field(output, "detail"))
        }
        "request-approval" => {
            let superseded: Vec<&str> = output
                .get("superseded")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let gate = field(output, "gate");
            let environment = gate.rsplit('#').next().unwrap_or_default().to_owned();
            match superseded.as_slice() {
                [] => format!("waits for an approval into {environment}"),
                older => format!("waits for an approval into {environment}; superseded {}", older.join(", ")),
            }
        }
        "rollback-service" => format!(
            "{} {}",
            field(output, "action").to_lowercase().replace('_', " "),
            resource_name(&field(output, "task_definition"))
        ),
        "wake-waits" => {
            let waits: Vec<String> = output
                .get("waits")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|wait| format!("{} {}", field(wait, "waiter"), field(wait, "result").to_lowercase()))
                .collect();
            if waits.is_empty() { format!("{}: nobody waits", field(output, "resource")) } else { waits.join(", ") }
        }
        _ => output.to_string(),
    }
}

/// The report, for people.
pub fn write_text(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    let Some(execution) = &report.execution else {
        let why = report.detect.as_ref().map_or("no service changed", |detected| detected.message.as_str());
        writeln!(out, "no execution: {why}")?;
        return write_calls(report, out);
    };
    let status = match report.status {
        RunStatus::Succeeded => "SUCCEEDED",
        RunStatus::Failed => "FAILED",
        RunStatus::None => "NONE",
    };
    writeln!(
        out,
        "execution {execution}: {status} in {:.1}s, {} history events",
        report.duration_seconds, report.history_events
    )?;
    if report.executions.len() > 1 {
        writeln!(out, "split into {} executions: {}", report.executions.len(), report.executions.join(", "))?;
    }
    if !report.steps.is_empty() {
        writeln!(out, "\nstates entered and exited (seconds from the start):")?;
        for step in &report.steps {
            let exited = step.exited.map_or_else(|| "-".to_owned(), |exited| format!("{exited:6.1}"));
            writeln!(out, "  {:<20} {:<28} {:6.1} → {exited}", step.service, step.state, step.entered)?;
        }
    }
    writeln!(out, "\nservices:")?;
    for service in &report.services {
        writeln!(out, "  {:<20} {}", service.name, service.outcome)?;
        if let Some(task_definition) = &service.task_definition {
            writeln!(out, "  {:<20}   task definition {}", "", resource_name(task_definition))?;
        }
        if let Some(image) = &service.image {
            writeln!(out, "  {:<20}   image {image}", "")?;
        }
        if let (Some(strategy), Some(deployment)) = (&service.strategy, &service.deployment) {
            writeln!(out, "  {:<20}   {strategy} service deployment {}", "", resource_name(deployment))?;
        }
        if let Some(by) = service.rolled_back_by {
            let by = match by {
                deltaship_core::payloads::RolledBackBy::Ecs => "ECS",
                deltaship_core::payloads::RolledBackBy::Deltaship => "deltaship (the rollout's deadline)",
            };
            writeln!(out, "  {:<20}   rolled back by {by}", "")?;
        }
        if let Some(error) = &service.error {
            writeln!(out, "  {:<20}   {error}", "")?;
        }
        // One environment is the service itself: its lines above say it all.
        if service.environments.len() > 1 {
            for environment in &service.environments {
                let image = environment.details.image.as_deref().unwrap_or("-");
                let by = match &environment.details.approval {
                    Some(deltaship_core::gates::Answer::Approved { by, .. }) => format!(", approved by {by}"),
                    _ => String::new(),
                };
                writeln!(out, "  {:<20}   {}: {} {image}{by}", "", environment.name, environment.outcome)?;
            }
        }
    }
    write_calls(report, out)
}

/// The push's AWS calls, by service (the JSON report has them by operation).
fn write_calls(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    // Counted by a local stack only (`deltaship redeploy --wait` against AWS counts none).
    if report.aws_calls.is_empty() {
        return Ok(());
    }
    let mut by_service: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (operation, count) in &report.aws_calls {
        *by_service.entry(operation.split_once(':').map_or(operation.as_str(), |(service, _)| service)).or_default() +=
            count;
    }
    let total: u64 = by_service.values().sum();
    let parts: Vec<String> = by_service.iter().map(|(service, count)| format!("{service} {count}")).collect();
    writeln!(out, "\n{total} AWS calls: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::local::ServiceReport;
    use crate::local::front::Invocation;
    use crate::local::history::Step;

    #[test]
    fn an_approval_request_says_where_it_waits_and_what_it_superseded() {
        let line = |output: Value| summary("request-approval", &output);
        let asked = json!({"status": "WAITING", "gate": "gate#shop#users#production", "superseded": []});
        assert_eq!(line(asked), "waits for an approval into production");
        let newer = json!({"status": "WAITING", "gate": "gate#shop#users#production", "superseded": ["shop-main-a"]});
        assert_eq!(line(newer), "waits for an approval into production; superseded shop-main-a");
    }

    #[test]
    fn invocations_read_as_what_happened() {
        let line = progress_line(&Progress::Invoked(Invocation {
            function: "deploy-service".into(),
            service: Some("user-service".into()),
            result: Ok(json!({ "watch": {
                "task_definition": "arn:aws:ecs:r:1:task-definition/user-service:2",
                "strategy": "CANARY",
                "service_deployment": "arn:aws:ecs:r:1:service-deployment/c/user-service/abc",
            } })),
        }));
        assert!(
            line.contains("user-service")
                && line.contains("rolling out user-service:2 (CANARY service deployment abc)"),
            "{line}"
        );
        let failed = progress_line(&Progress::Invoked(Invocation {
            function: "check-build".into(),
            service: None,
            result: Err(("BuildFailed".into(), "build b failed in phase BUILD".into())),
        }));
        assert!(failed.contains("BuildFailed: build b failed in phase BUILD"), "{failed}");
    }

    #[test]
    fn the_report_lists_states_and_outcomes() {
        let report = RunReport {
            execution: Some("main-abc".into()),
            status: RunStatus::Failed,
            executions: vec!["main-abc".into()],
            services: vec![ServiceReport {
                name: "user-service".into(),
                outcome: deltaship_core::Outcome::RolledBack,
                task_definition: Some("arn:aws:ecs:r:1:task-definition/user-service:1".into()),
                image: Some("img:abc".into()),
                error: Some("RolloutFailed: circuit breaker".into()),
                strategy: Some("ROLLING".into()),
                deployment: Some("arn:aws:ecs:r:1:service-deployment/c/user-service/abc".into()),
                rolled_back_by: Some(deltaship_core::payloads::RolledBackBy::Ecs),
                build_seconds: Some(1.0),
                rollout_seconds: Some(2.0),
                environments: vec![
                    environment("staging", deltaship_core::Outcome::Deployed, None),
                    environment(
                        "production",
                        deltaship_core::Outcome::RolledBack,
                        Some(deltaship_core::gates::Answer::Approved { by: "arn:ops".into(), comment: None }),
                    ),
                ],
            }],
            duration_seconds: 4.25,
            history_events: 40,
            aws_calls: [
                ("codecommit:GetFile".to_owned(), 2),
                ("codecommit:GetCommit".to_owned(), 1),
                ("lambda:Invoke".to_owned(), 5),
            ]
            .into_iter()
            .collect(),
            detect: None,
            steps: vec![Step {
                service: "user-service".into(),
                state: "Start build".into(),
                entered: 0.0,
                exited: Some(0.2),
            }],
        };
        let mut out = Vec::new();
        assert!(write_text(&report, &mut out).is_ok());
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("execution main-abc: FAILED in 4.2s, 40 history events"), "{text}");
        assert!(text.contains("rolled back by ECS"), "{text}");
        assert!(text.contains("Start build"), "{text}");
        assert!(text.contains("rolled_back") && text.contains("task definition user-service:1"), "{text}");
        assert!(text.contains("RolloutFailed: circuit breaker"), "{text}");
        assert!(text.contains("8 AWS calls: codecommit 3, lambda 5"), "{text}");
        assert!(text.contains("staging: deployed img@sha256:1\n"), "{text}");
        assert!(text.contains("production: rolled_back img@sha256:1, approved by arn:ops\n"), "{text}");
    }

    fn environment(
        name: &str,
        outcome: deltaship_core::Outcome,
        approval: Option<deltaship_core::gates::Answer>,
    ) -> deltaship_core::payloads::EnvironmentOutcome {
        deltaship_core::payloads::EnvironmentOutcome {
            name: name.into(),
            outcome,
            details: deltaship_core::payloads::Details {
                image: Some("img@sha256:1".into()),
                approval,
                ..deltaship_core::payloads::Details::default()
            },
        }
    }
}
