//! Answering an approval: what `deltaship approve` and `deltaship reject` do, and what
//! `deltaship local run --approve/--reject` does when a service reaches a gate.
//!
//! The wait answered is the one [`deltaship_core::gates::choose`] picks among the gate's records
//! (the named execution's, else the newest push's). The answer carries the caller's identity
//! (`sts:GetCallerIdentity`): an approval completes the task token with
//! [`Answer::Approved`](deltaship_core::gates::Answer) as its output (`SendTaskSuccess`), a
//! rejection fails it with the error `Rejected` and the answer as its cause
//! (`SendTaskFailure`); either way the execution's history records who answered, and the
//! service's outcome names them. The gate's record is deleted once answered.
//!
//! `SendTaskSuccess` and `SendTaskFailure` answer `TaskTimedOut` (or `TaskDoesNotExist`) for a
//! wait that ended already (timed out, superseded, or the execution stopped): the record is
//! deleted and the answer is refused, naming the push
//! (<https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html>).

use aws_config::SdkConfig;
use deltaship_aws::gates::GateTable;
use deltaship_core::gates::{self, Answer, GateError, GateRecord};
use deltaship_core::waits::is_closed_token_error;

/// The error a rejection fails the task token with: the state machine's *Wait for approval*
/// catches it (outcome `rejected`).
pub const REJECTED_ERROR: &str = "Rejected";

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Promote.
    Approve,
    /// Do not promote.
    Reject,
}

/// Why an answer was not given.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// No such wait: nothing to answer (bad input).
    #[error(transparent)]
    Gate(#[from] GateError),
    /// The wait ended before the answer came.
    #[error(
        "the wait of {execution} (commit {commit}) ended before the answer: it timed out, was superseded by a \
         newer push, or its execution stopped; nothing was promoted by this answer"
    )]
    Ended {
        /// The execution.
        execution: String,
        /// Its commit.
        commit: String,
    },
    /// An AWS call failed.
    #[error("{0}")]
    Aws(String),
}

/// The gate answered and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The wait answered.
    pub record: GateRecord,
    /// The answer sent.
    pub answer: Answer,
}

/// The gates of one stack, and the clients to answer them.
#[derive(Debug, Clone)]
pub struct Approvals {
    gates: GateTable,
    sfn: aws_sdk_sfn::Client,
    sts: aws_sdk_sts::Client,
    repository: String,
}

impl Approvals {
    /// The gates of `repository` in the waits table `table`, with clients from `config`.
    pub fn new(config: &SdkConfig, table: &str, repository: &str) -> Self {
        Self {
            gates: GateTable::from_client(aws_sdk_dynamodb::Client::new(config), table.to_owned()),
            sfn: aws_sdk_sfn::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            repository: repository.to_owned(),
        }
    }

    /// The pushes waiting at the gate of `service` into `environment` at `now`, oldest first.
    pub async fn waiting(&self, service: &str, environment: &str, now: i64) -> Result<Vec<GateRecord>, ApprovalError> {
        let records = self.gates.records(&self.repository, service, environment).await.map_err(aws)?;
        Ok(gates::waiting(&records, now).into_iter().cloned().collect())
    }

    /// Answers the wait of `service` into `environment` (`execution`'s, else the newest) with
    /// `decision`, signed with the caller's identity.
    pub async fn answer(
        &self,
        service: &str,
        environment: &str,
        execution: Option<&str>,
        decision: Decision,
        comment: Option<String>,
        now: i64,
    ) -> Result<Answered, ApprovalError> {
        let records = self.gates.records(&self.repository, service, environment).await.map_err(aws)?;
        let record = gates::choose(&records, service, environment, execution, now)?.clone();
        let by = caller(&self.sts).await?;
        let answer = match decision {
            Decision::Approve => Answer::Approved { by, comment },
            Decision::Reject => Answer::Rejected { by, comment },
        };
        let text = serde_json::to_string(&answer).map_err(|error| ApprovalError::Aws(error.to_string()))?;
        let sent = match decision {
            Decision::Approve => self
                .sfn
                .send_task_success()
                .task_token(&record.token)
                .output(text)
                .send()
                .await
                .err()
                .as_ref()
                .map(code_and_text),
            Decision::Reject => self
                .sfn
                .send_task_failure()
                .task_token(&record.token)
                .error(REJECTED_ERROR)
                .cause(text)
                .send()
                .await
                .err()
                .as_ref()
                .map(code_and_text),
        };
        match sent {
            None => {}
            Some((Some(code), _)) if is_closed_token_error(&code) => {
                self.gates.delete(&record).await.map_err(aws)?;
                return Err(ApprovalError::Ended { execution: record.execution, commit: record.commit });
            }
            Some((code, message)) => {
                return Err(ApprovalError::Aws(format!(
                    "could not answer the wait of {} ({}): {}",
                    record.execution,
                    code.unwrap_or_default(),
                    message
                )));
            }
        }
        self.gates.delete(&record).await.map_err(aws)?;
        Ok(Answered { record, answer })
    }
}

/// The caller's identity ARN (`sts:GetCallerIdentity`): who an answer, or a redeploy, is by.
pub async fn caller(sts: &aws_sdk_sts::Client) -> Result<String, ApprovalError> {
    let identity = sts.get_caller_identity().send().await.map_err(|error| {
        ApprovalError::Aws(format!("sts:GetCallerIdentity failed: {}", aws_sdk_sts::error::DisplayErrorContext(error)))
    })?;
    identity.arn().map(ToOwned::to_owned).ok_or_else(|| ApprovalError::Aws("sts:GetCallerIdentity named no ARN".into()))
}

/// A Step Functions error's code, if AWS gave one, and its text.
fn code_and_text<E: aws_sdk_sfn::error::ProvideErrorMetadata + std::fmt::Display>(
    error: &E,
) -> (Option<String>, String) {
    (error.code().map(str::to_owned), error.to_string())
}

fn aws(failure: deltaship_core::Failure) -> ApprovalError {
    ApprovalError::Aws(failure.message)
}
