//! How `deltaship local run` shows a push: progress lines while it runs, then the execution as
//! ops would read it in the console.

use std::io::{self, Write};

use deltaship_core::manifest::resource_name;
use serde_json::Value;

use super::run::{Progress, RunReport, RunStatus};

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
    }
}

/// What a function's output says, in a few words.
fn summary(function: &str, output: &Value) -> String {
    let field = |name: &str| output.get(name).and_then(Value::as_str).unwrap_or_default();
    match function {
        "start-build" => format!("started build {}", field("build_id")),
        "check-build" if field("status") == "SUCCEEDED" => format!("build succeeded: {}", field("image")),
        "check-build" => format!("build in progress ({})", field("phase")),
        "deploy-service" => {
            format!("rolling out {} (deployment {})", resource_name(field("task_definition")), field("deployment_id"))
        }
        "check-rollout" => format!("{}: {}", field("status").to_lowercase().replace('_', " "), field("detail")),
        "rollback-service" => {
            format!("{} {}", field("action").to_lowercase().replace('_', " "), resource_name(field("task_definition")))
        }
        _ => output.to_string(),
    }
}

/// The report, for people.
pub fn write_text(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    let Some(execution) = &report.execution else {
        let why = report.detect.as_ref().map_or("no service changed", |detected| detected.message.as_str());
        return writeln!(out, "no execution: {why}");
    };
    let status = match report.status {
        RunStatus::Succeeded => "SUCCEEDED",
        RunStatus::Failed => "FAILED",
        RunStatus::None => "NONE",
    };
    writeln!(out, "execution {execution}: {status} in {:.1}s", report.seconds)?;
    if !report.steps.is_empty() {
        writeln!(out, "\nstates entered and exited (seconds from the start):")?;
        for step in &report.steps {
            let exited = step.exited.map_or_else(|| "-".to_owned(), |exited| format!("{exited:6.1}"));
            writeln!(out, "  {:<20} {:<24} {:6.1} → {exited}", step.service, step.state, step.entered)?;
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
        if let Some(error) = &service.error {
            writeln!(out, "  {:<20}   {error}", "")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::local::ServiceReport;
    use crate::local::front::Invocation;
    use crate::local::history::Step;

    #[test]
    fn invocations_read_as_what_happened() {
        let line = progress_line(&Progress::Invoked(Invocation {
            function: "deploy-service".into(),
            service: Some("user-service".into()),
            result: Ok(
                json!({ "task_definition": "arn:aws:ecs:r:1:task-definition/user-service:2", "deployment_id": "ecs-svc/9" }),
            ),
        }));
        assert!(
            line.contains("user-service") && line.contains("rolling out user-service:2 (deployment ecs-svc/9)"),
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
            services: vec![ServiceReport {
                name: "user-service".into(),
                outcome: deltaship_core::Outcome::RolledBack,
                task_definition: Some("arn:aws:ecs:r:1:task-definition/user-service:1".into()),
                image: Some("img:abc".into()),
                error: Some("RolloutFailed: circuit breaker".into()),
            }],
            detect: None,
            steps: vec![Step {
                service: "user-service".into(),
                state: "Start build".into(),
                entered: 0.0,
                exited: Some(0.2),
            }],
            seconds: 4.25,
        };
        let mut out = Vec::new();
        assert!(write_text(&report, &mut out).is_ok());
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("execution main-abc: FAILED in 4.2s"), "{text}");
        assert!(text.contains("Start build"), "{text}");
        assert!(text.contains("rolled_back") && text.contains("task definition user-service:1"), "{text}");
        assert!(text.contains("RolloutFailed: circuit breaker"), "{text}");
    }
}
