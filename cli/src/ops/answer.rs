//! `deltaship approve` and `deltaship reject`: answer the approval a service's promotion into an
//! environment waits for ([`crate::approvals`]), as the notification's commands say.
//!
//! Exit status: 0 answered; 2 when nothing waits there (or not the named execution, or its wait
//! ended before the answer), or for bad input; 1 when an AWS call failed.

use std::process::ExitCode;

use serde::Serialize;

use super::{StackArgs, resolve};
use crate::EXIT_OK;
use crate::approvals::{ApprovalError, Approvals, Decision};
use crate::output::{CliError, Format, write_report};

/// `deltaship approve`'s and `deltaship reject`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AnswerArgs {
    /// The service (its manifest's name).
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// The environment its promotion waits to enter.
    #[arg(long, value_name = "ENV")]
    pub environment: String,
    /// The execution whose wait to answer (the notification names it). Default: the newest push
    /// waiting at the gate (older ones are superseded by it).
    #[arg(long, value_name = "EXECUTION")]
    pub execution: Option<String>,
    /// Why: recorded with the answer, in the execution's history and the service's outcome.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Output format: text, or one JSON document {"decision", "service", "environment",
    /// "execution", "commit", "image", "by", "comment"}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Which deltaship: its stack (or a `deltaship local up`).
    #[command(flatten)]
    pub stack: StackArgs,
}

/// What was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerReport {
    /// `approved` or `rejected`.
    pub decision: &'static str,
    /// The service.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// The execution answered.
    pub execution: String,
    /// Its commit.
    pub commit: String,
    /// The image it promotes (or would have).
    pub image: String,
    /// Who answered (the caller's identity).
    pub by: String,
    /// Why, if said.
    pub comment: Option<String>,
}

/// Runs `deltaship approve` (`decision` Approve) or `deltaship reject`.
pub fn answer(args: &AnswerArgs, decision: Decision) -> Result<ExitCode, CliError> {
    for (flag, value) in [("--service", &args.service), ("--environment", &args.environment)] {
        if value.trim().is_empty() {
            return Err(CliError::bad_input(format!("{flag} is empty: name one")));
        }
    }
    let report = crate::runtime()?.block_on(async {
        let stack = resolve(&args.stack).await?;
        let approvals = Approvals::new(&stack.config, &stack.waits_table, &stack.repository);
        let now = deltaship_aws::system_clock();
        let answered = approvals
            .answer(&args.service, &args.environment, args.execution.as_deref(), decision, args.comment.clone(), now)
            .await
            .map_err(|error| match error {
                ApprovalError::Gate(_) | ApprovalError::Ended { .. } => CliError::bad_input(error.to_string()),
                ApprovalError::Aws(message) => CliError::failure(message),
            })?;
        let (decision, by, comment) = match answered.answer {
            deltaship_core::gates::Answer::Approved { by, comment } => ("approved", by, comment),
            deltaship_core::gates::Answer::Rejected { by, comment } => ("rejected", by, comment),
        };
        Ok::<_, CliError>(AnswerReport {
            decision,
            service: answered.record.service,
            environment: answered.record.environment,
            execution: answered.record.execution,
            commit: answered.record.commit,
            image: answered.record.image,
            by,
            comment,
        })
    })?;
    write_report(args.format, "the answer", &report, |out| {
        let verb = if report.decision == "approved" { "promotes" } else { "keeps its revision: not promoted" };
        writeln!(
            out,
            "{} {} into {} (commit {}, execution {}), by {}",
            report.decision,
            report.service,
            report.environment,
            deltaship_core::commit::short(&report.commit),
            report.execution,
            report.by
        )?;
        match report.decision {
            "approved" => writeln!(out, "the execution {verb} {}", report.image),
            _ => writeln!(out, "{} {verb}", report.environment),
        }
    })?;
    Ok(ExitCode::from(EXIT_OK))
}
