//! request-approval: a service's promotion into an environment that needs an approval. The state
//! machine invokes it with `lambda:invoke.waitForTaskToken` and waits until `deltaship approve`
//! completes the token (`SendTaskSuccess` with the answer), `deltaship reject` fails it (error
//! `Rejected`), a newer push of the service reaching the same gate fails it (error `Superseded`),
//! or the task's `TimeoutSeconds` pass (`States.Timeout`: `not_promoted`). The gates and what ends
//! each wait are [`deltaship_core::gates`]'.
//!
//! In order:
//!
//! 1. it reads the gate's records (`Query` of `gate#<repository>#<service>#<environment>` in the
//!    waits table);
//! 2. a newer push of the service reached the gate already ([`gates::arrives_superseded`]): it
//!    fails with `Superseded`, so the task fails with that error at once (outcome `superseded`),
//!    and records nothing;
//! 3. else it records the wait (`PutItem`: the task token, the commit, the image, who pushed, when
//!    it expires), then ends each older wait this push supersedes ([`gates::superseded_by`]):
//!    `SendTaskFailure` error `Superseded` (a token closed already, `TaskTimedOut`,
//!    `TaskDoesNotExist` or `InvalidToken`, is nothing to do), then `DeleteItem`;
//! 4. it publishes one message to the approvals topic (`APPROVALS_TOPIC_ARN`): the service, the
//!    environment, the commit, who pushed, the image, the execution and its console link (with
//!    `STATE_MACHINE_ARN`), when the wait expires, and the two commands that answer it
//!    ([`deltaship_core::approval_notice`]).
//!
//! A failure at any step fails the invocation (`Throttled`, `AwsUnavailable`, `AccessDenied`,
//! `AwsError`), and the state machine's retry invokes it again with a new token. Every step is
//! safe to repeat: the `PutItem` replaces the record under the same key (the same push at the same
//! gate) with the new token, the older waits are ended (or found closed) and deleted again, and the
//! topic may get the notification twice (the same text: the commands name the execution, not the
//! token), which is better than none. The record is written before the notification so that the
//! commands it prints find the wait.

use aws_config::SdkConfig;
use deltaship_core::approval_notice;
use deltaship_core::commit::short;
use deltaship_core::gates::{self, GateRecord};
use deltaship_core::payloads::{ApprovalStatus, RequestApprovalInput, RequestApprovalOutput};
use deltaship_core::waits::{cause_of, is_closed_token_error};
use deltaship_core::{ErrorKind, Failure};

use crate::gates::GateTable;
use crate::settings::{self, SettingsError, Source};
use crate::{Clock, Function, aws_error, input};

const FUNCTION: &str = "request-approval";

/// The error a superseded wait's token fails with (and this function's, for a push that arrives
/// superseded): the state machine ends the service `superseded`.
pub const SUPERSEDED_ERROR: &str = "Superseded";

/// The `Publish` error codes this function understands (SNS's own names; others are classified as
/// every AWS error is).
const PUBLISH_ERRORS: [(&str, ErrorKind); 5] = [
    ("Throttled", ErrorKind::Throttled),
    ("KMSThrottling", ErrorKind::Throttled),
    ("AuthorizationError", ErrorKind::AccessDenied),
    ("KMSAccessDenied", ErrorKind::AccessDenied),
    ("NotFound", ErrorKind::AwsError),
];

/// request-approval's settings: the waits table, the approvals topic, and the state machine (for
/// the console link), if known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalSettings {
    /// `WAITS_TABLE`.
    pub table: String,
    /// `APPROVALS_TOPIC_ARN`.
    pub topic: String,
    /// `STATE_MACHINE_ARN`, optional.
    pub state_machine_arn: Option<String>,
}

/// The request-approval function.
#[derive(Debug, Clone)]
pub struct RequestApproval {
    gates: GateTable,
    sfn: aws_sdk_sfn::Client,
    sns: aws_sdk_sns::Client,
    topic: String,
    state_machine_arn: Option<String>,
    clock: Clock,
}

impl RequestApproval {
    /// The function with the given clients, topic and clock.
    pub fn from_clients(
        gates: GateTable,
        sfn: aws_sdk_sfn::Client,
        sns: aws_sdk_sns::Client,
        topic: String,
        clock: Clock,
    ) -> Self {
        Self { gates, sfn, sns, topic, state_machine_arn: None, clock }
    }

    /// The same function, linking each execution in its notifications to the console of
    /// `state_machine_arn` (the pipeline's).
    #[must_use]
    pub fn with_state_machine(mut self, state_machine_arn: Option<String>) -> Self {
        self.state_machine_arn = state_machine_arn;
        self
    }

    /// Fails the token of `older`, superseded by `record`: a token closed already is nothing to do.
    async fn supersede(&self, older: &GateRecord, record: &GateRecord) -> Result<(), Failure> {
        let failure = Failure::new(
            ErrorKind::Superseded,
            format!(
                "{} {} (execution {}) is not promoted into {}: a newer push of it, {} (execution {}), reached the \
                 approval gate",
                older.service,
                short(&older.commit),
                older.execution,
                older.environment,
                short(&record.commit),
                record.execution
            ),
        );
        let sent = self
            .sfn
            .send_task_failure()
            .task_token(&older.token)
            .error(SUPERSEDED_ERROR)
            .cause(cause_of(&failure))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(err) if aws_error::code(&err).is_some_and(is_closed_token_error) => Ok(()),
            Err(err) => Err(aws_error::failure(
                "SendTaskFailure",
                &format!("the wait of execution {}", older.execution),
                &err,
                &[],
            )),
        }
    }
}

impl Function for RequestApproval {
    const NAME: &'static str = FUNCTION;
    type Settings = ApprovalSettings;
    type Output = RequestApprovalOutput;

    fn read_settings(source: &dyn Source) -> Result<Self::Settings, SettingsError> {
        Ok(ApprovalSettings {
            table: settings::waits_table(source)?,
            topic: settings::approvals_topic(source)?,
            state_machine_arn: settings::state_machine_arn(source)?,
        })
    }

    fn build(config: &SdkConfig, settings: &Self::Settings) -> Self {
        let gates = GateTable::from_client(aws_sdk_dynamodb::Client::new(config), settings.table.clone());
        Self::from_clients(
            gates,
            aws_sdk_sfn::Client::new(config),
            aws_sdk_sns::Client::new(config),
            settings.topic.clone(),
            crate::system_clock,
        )
        .with_state_machine(settings.state_machine_arn.clone())
    }

    /// Records one wait for an approval, ends the older ones it supersedes, and announces it.
    async fn handle(&self, payload: serde_json::Value) -> Result<RequestApprovalOutput, Failure> {
        let input: RequestApprovalInput = input::parse(FUNCTION, payload)?;
        for (field, value) in [
            ("task_token", &input.task_token),
            ("repository", &input.repository),
            ("name", &input.name),
            ("environment", &input.environment),
            ("execution", &input.execution),
            ("image", &input.image),
        ] {
            input::require(FUNCTION, field, value)?;
        }
        if input.timeout_seconds == 0 {
            return Err(Failure::invalid_input(format!(
                "{FUNCTION} input, field `timeout_seconds`: must be at least 1"
            )));
        }
        let now = (self.clock)();
        let record = GateRecord {
            repository: input.repository,
            service: input.name,
            environment: input.environment,
            commit: input.commit.as_str().to_owned(),
            execution: input.execution,
            pushed_at: input.pushed_at,
            pushed_by: input.pushed_by.map(|by| by.trim().to_owned()).unwrap_or_default(),
            image: input.image,
            token: input.task_token,
            requested_at: now,
            expires_at: now.saturating_add(i64::from(input.timeout_seconds)),
        };
        let records = self.gates.records(&record.repository, &record.service, &record.environment).await?;

        if gates::arrives_superseded(&records, &record) {
            let newer = records
                .iter()
                .filter(|other| other.execution != record.execution)
                .max_by(|a, b| (a.pushed_at, &a.commit).cmp(&(b.pushed_at, &b.commit)))
                .map(|newer| format!(" ({}, execution {})", short(&newer.commit), newer.execution))
                .unwrap_or_default();
            return Err(Failure::new(
                ErrorKind::Superseded,
                format!(
                    "{FUNCTION}: {} {} (execution {}) is not promoted into {}: a newer push of it{newer} reached the \
                     approval gate first",
                    record.service,
                    short(&record.commit),
                    record.execution,
                    record.environment
                ),
            ));
        }

        self.gates.put(&record).await?;
        let mut superseded = Vec::new();
        for older in gates::superseded_by(&records, &record, now) {
            self.supersede(older, &record).await?;
            self.gates.delete(older).await?;
            superseded.push(older.execution.clone());
        }

        let notice = approval_notice::notice(&record, self.state_machine_arn.as_deref());
        self.sns
            .publish()
            .topic_arn(&self.topic)
            .subject(notice.subject)
            .message(notice.body)
            .send()
            .await
            .map_err(|err| aws_error::failure("Publish", &self.topic, &err, &PUBLISH_ERRORS))?;

        tracing::info!(
            service = record.service,
            environment = record.environment,
            commit = record.commit,
            execution = record.execution,
            ?superseded,
            "waiting for an approval"
        );
        Ok(RequestApprovalOutput {
            status: ApprovalStatus::Waiting,
            gate: record.resource(),
            waiter: record.waiter(),
            expires_at: record.expires_at,
            superseded,
            notified: true,
        })
    }
}
