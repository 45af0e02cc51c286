//! request-approval over a mocked waits table, Step Functions and SNS: the wait it records at its
//! gate, the older waits a newer push supersedes (their tokens failed, their records deleted), a
//! push that arrives superseded (refused before anything is written), the notification, and the
//! errors (malformed input, a missing table, SNS failing after the record is written).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sns::operation::publish::{PublishError, PublishInput, PublishOutput};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use common::{CallLog, NOW, Recorder, TABLE, TokenAnswer, clock, meta};
use deltaship_aws::Function;
use deltaship_aws::gates::{GateTable, item};
use deltaship_aws::request_approval::RequestApproval;
use deltaship_core::ErrorKind;
use deltaship_core::gates::GateRecord;
use deltaship_core::payloads::{ApprovalStatus, RequestApprovalOutput};
use serde_json::{Value, json};

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:deltaship-approvals";
const MACHINE: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:deltaship-pipeline";
const GATE: &str = "gate#shop#users#production";
const COMMIT: &str = "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901";
const EXECUTION: &str = "shop-main-7f0103fa1b2c-0123456789";
const PUSHED_AT: i64 = NOW - 600;
const TOKEN: &str = "token-new";
/// A day: the environment's approval timeout.
const TIMEOUT: i64 = 86_400;

/// The state machine's payload for the push of `COMMIT`.
fn payload() -> Value {
    json!({
        "task_token": TOKEN,
        "repository": "shop",
        "branch": "main",
        "name": "users",
        "environment": "production",
        "commit": COMMIT,
        "pushed_at": PUSHED_AT,
        "pushed_by": "arn:aws:iam::123456789012:user/mary",
        "execution": EXECUTION,
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:ab12",
        "timeout_seconds": TIMEOUT
    })
}

/// Another push's record at the same gate.
fn other(execution: &str, pushed_at: i64, commit_digit: char, expires_at: i64) -> GateRecord {
    GateRecord {
        repository: "shop".into(),
        service: "users".into(),
        environment: "production".into(),
        commit: commit_digit.to_string().repeat(40),
        execution: execution.into(),
        pushed_at,
        pushed_by: String::new(),
        image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:cd34".into(),
        token: format!("token-{execution}"),
        requested_at: pushed_at + 60,
        expires_at,
    }
}

/// The mocks of one test and what they saw.
struct Mocks {
    log: CallLog,
    puts: Recorder<aws_sdk_dynamodb::operation::put_item::PutItemInput>,
    deletes: Recorder<aws_sdk_dynamodb::operation::delete_item::DeleteItemInput>,
    failures: Recorder<aws_sdk_sfn::operation::send_task_failure::SendTaskFailureInput>,
    publishes: Recorder<PublishInput>,
}

impl Mocks {
    fn new() -> Self {
        Self {
            log: CallLog::default(),
            puts: Recorder::default(),
            deletes: Recorder::default(),
            failures: Recorder::default(),
            publishes: Recorder::default(),
        }
    }

    /// The gate holding `records`; tokens answered as `tokens` says; SNS publishing.
    fn function(&self, records: &[GateRecord], tokens: TokenAnswer) -> RequestApproval {
        let items: Vec<HashMap<String, AttributeValue>> = records.iter().map(item).collect();
        let query = common::query(&self.log, GATE, items);
        self.with(&query, tokens, &self.publish())
    }

    /// The function over `query` for the table's reads, `publish` for SNS.
    fn with(&self, query: &Rule, tokens: TokenAnswer, publish: &Rule) -> RequestApproval {
        let put = common::put_item(&self.log, &self.puts);
        let delete = common::delete_item(&self.log, &self.deletes, false);
        let failure = common::send_failure(&self.log, &self.failures, tokens);
        let dynamodb = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            &[query, &put, &delete],
            |config: aws_sdk_dynamodb::config::Builder| {
                config.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(1))
            }
        );
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&failure], |config: aws_sdk_sfn::config::Builder| {
            config.retry_config(aws_sdk_sfn::config::retry::RetryConfig::standard().with_max_attempts(1))
        });
        let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[publish], |config: aws_sdk_sns::config::Builder| {
            config.retry_config(aws_sdk_sns::config::retry::RetryConfig::standard().with_max_attempts(1))
        });
        RequestApproval::from_clients(
            GateTable::from_client(dynamodb, TABLE.to_owned()),
            sfn,
            sns,
            TOPIC.to_owned(),
            clock,
        )
        .with_state_machine(Some(MACHINE.to_owned()))
    }

    /// Publish: logged, recorded, answered.
    fn publish(&self) -> Rule {
        let (log, seen) = (self.log.clone(), self.publishes.clone());
        mock!(aws_sdk_sns::Client::publish).then_compute_output(move |req| {
            log.record(&"Publish");
            seen.record(req);
            PublishOutput::builder().message_id("message-1").build()
        })
    }

    /// The only item put, as text.
    fn put(&self) -> HashMap<String, String> {
        let request = self.puts.only();
        assert_eq!(request.table_name(), Some(TABLE));
        assert_eq!(request.condition_expression(), None, "the same push's retry replaces its record");
        common::item_text(request.item().unwrap())
    }
}

#[tokio::test]
async fn a_push_records_its_wait_and_announces_it() {
    let mocks = Mocks::new();
    let expired = other("long-ago", PUSHED_AT - 90_000, 'a', NOW - 1);

    let output = mocks.function(&[expired], TokenAnswer::Ok).handle(payload()).await.unwrap();

    let waiter = format!("{PUSHED_AT:012}#{COMMIT}");
    assert_eq!(
        output,
        RequestApprovalOutput {
            status: ApprovalStatus::Waiting,
            gate: GATE.into(),
            waiter: waiter.clone(),
            expires_at: NOW + TIMEOUT,
            superseded: Vec::new(),
            notified: true,
        }
    );
    assert_eq!(mocks.log.all(), ["Query", "PutItem", "Publish"], "an expired wait is left alone");
    let put = mocks.put();
    let expected: HashMap<String, String> = [
        ("resource", GATE.to_owned()),
        ("waiter", waiter),
        ("repository", "shop".into()),
        ("service", "users".into()),
        ("environment", "production".into()),
        ("commit", COMMIT.into()),
        ("execution", EXECUTION.into()),
        ("image", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:ab12".into()),
        ("token", TOKEN.into()),
        ("pushed_by", "arn:aws:iam::123456789012:user/mary".into()),
        ("pushed_at", format!("N:{PUSHED_AT}")),
        ("requested_at", format!("N:{NOW}")),
        ("deadline", format!("N:{}", NOW + TIMEOUT)),
        ("expires_at", format!("N:{}", NOW + TIMEOUT + 7 * 86_400)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    assert_eq!(put, expected);

    let published = mocks.publishes.only();
    assert_eq!(published.topic_arn(), Some(TOPIC));
    assert_eq!(published.subject(), Some("deltaship: approve users 7f0103fa1b2c into production?"));
    let body = published.message().unwrap();
    for line in [
        "Pushed by:    arn:aws:iam::123456789012:user/mary\n",
        "Image:        123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:ab12\n",
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/",
        "Expires:      2023-11-15 22:13:20 UTC (waits 24 h)\n",
        "  deltaship approve --service users --environment production --execution shop-main-7f0103fa1b2c-0123456789\n",
        "  deltaship reject --service users --environment production --execution shop-main-7f0103fa1b2c-0123456789 \
         --comment \"...\"\n",
    ] {
        assert!(body.contains(line), "the body lacks {line:?}:\n{body}");
    }
}

#[tokio::test]
async fn a_push_that_arrives_after_a_newer_one_is_superseded_and_records_nothing() {
    let mocks = Mocks::new();
    let newer = other("shop-main-bbbbbbbbbbbb-1", PUSHED_AT + 30, 'b', NOW + 3600);

    let failure = mocks.function(&[newer], TokenAnswer::Ok).handle(payload()).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Superseded);
    assert_eq!(
        failure.message,
        "request-approval: users 7f0103fa1b2c (execution shop-main-7f0103fa1b2c-0123456789) is not promoted into \
         production: a newer push of it (bbbbbbbbbbbb, execution shop-main-bbbbbbbbbbbb-1) reached the approval gate \
         first"
    );
    assert_eq!(mocks.log.all(), ["Query"], "no record, no token failed, no notification");
}

#[tokio::test]
async fn a_newer_push_ends_the_older_wait_and_deletes_its_record() {
    let mocks = Mocks::new();
    let older = other("shop-main-aaaaaaaaaaaa-1", PUSHED_AT - 300, 'a', NOW + 3600);
    // A retry of this very push (the same execution, an earlier token) is replaced, not superseded.
    let mut retried = other(EXECUTION, PUSHED_AT, '7', NOW + 3600);
    retried.commit = COMMIT.into();

    let output = mocks.function(&[older.clone(), retried], TokenAnswer::Ok).handle(payload()).await.unwrap();

    assert_eq!(output.superseded, ["shop-main-aaaaaaaaaaaa-1"]);
    assert_eq!(mocks.log.all(), ["Query", "PutItem", "SendTaskFailure", "DeleteItem", "Publish"]);
    let failed = mocks.failures.only();
    assert_eq!(failed.task_token(), Some("token-shop-main-aaaaaaaaaaaa-1"));
    assert_eq!(failed.error(), Some("Superseded"));
    let cause: Value = serde_json::from_str(failed.cause().unwrap()).unwrap();
    assert_eq!(
        cause,
        json!({
            "errorType": "Superseded",
            "errorMessage": "users aaaaaaaaaaaa (execution shop-main-aaaaaaaaaaaa-1) is not promoted into production: a \
                             newer push of it, 7f0103fa1b2c (execution shop-main-7f0103fa1b2c-0123456789), reached the \
                             approval gate"
        })
    );
    let deleted = mocks.deletes.only();
    let key = deleted.key().unwrap();
    assert_eq!(key.get("resource"), Some(&AttributeValue::S(GATE.into())));
    assert_eq!(key.get("waiter"), Some(&AttributeValue::S(older.waiter())));
    assert_eq!(deleted.condition_expression(), Some("#token = :token"));
    assert_eq!(
        deleted.expression_attribute_values().unwrap().get(":token"),
        Some(&AttributeValue::S("token-shop-main-aaaaaaaaaaaa-1".into()))
    );
}

#[tokio::test]
async fn an_older_wait_that_ended_already_is_only_deleted() {
    for tokens in [TokenAnswer::TimedOut, TokenAnswer::Gone, TokenAnswer::Invalid] {
        let mocks = Mocks::new();
        let older = other("shop-main-aaaaaaaaaaaa-1", PUSHED_AT - 300, 'a', NOW + 3600);

        let output = mocks.function(&[older], tokens).handle(payload()).await.unwrap();

        assert_eq!(output.superseded, ["shop-main-aaaaaaaaaaaa-1"], "{tokens:?}");
        assert_eq!(mocks.log.all(), ["Query", "PutItem", "SendTaskFailure", "DeleteItem", "Publish"], "{tokens:?}");
    }
}

#[tokio::test]
async fn a_token_that_cannot_be_failed_fails_the_invocation_before_the_record_is_forgotten() {
    let mocks = Mocks::new();
    let older = other("shop-main-aaaaaaaaaaaa-1", PUSHED_AT - 300, 'a', NOW + 3600);

    let failure = mocks.function(&[older], TokenAnswer::Throttled).handle(payload()).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::Throttled);
    assert!(
        failure.message.starts_with("SendTaskFailure the wait of execution shop-main-aaaaaaaaaaaa-1: "),
        "{failure}"
    );
    assert_eq!(mocks.log.all(), ["Query", "PutItem", "SendTaskFailure"], "a retry finds the older record again");
}

#[tokio::test]
async fn malformed_input_is_refused_naming_the_field() {
    let mut missing = payload();
    missing.as_object_mut().unwrap().remove("task_token");
    let mut empty = payload();
    empty["environment"] = json!(" ");
    let mut short = payload();
    short["commit"] = json!("7f0103f");
    let mut never = payload();
    never["timeout_seconds"] = json!(0);
    let mut anonymous = payload();
    anonymous.as_object_mut().unwrap().remove("pushed_by");
    let cases = [
        (json!([]), "request-approval input: expected a JSON object, got an array"),
        (missing, "request-approval input: missing field `task_token`"),
        (empty, "request-approval input, field `environment`: must not be empty"),
        (
            short,
            "request-approval input, field `commit`: `7f0103f` is not a full commit id (expected 40 or 64 hexadecimal \
             digits)",
        ),
        (never, "request-approval input, field `timeout_seconds`: must be at least 1"),
    ];
    for (payload, message) in cases {
        let mocks = Mocks::new();
        let failure = mocks.function(&[], TokenAnswer::Ok).handle(payload).await.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput, "{message}");
        assert_eq!(failure.message, message);
        assert!(mocks.log.all().is_empty(), "refused before any call");
    }
    // Who pushed may be unknown.
    let mocks = Mocks::new();
    mocks.function(&[], TokenAnswer::Ok).handle(anonymous).await.unwrap();
    assert!(!mocks.put().contains_key("pushed_by"));
    assert!(mocks.publishes.only().message().unwrap().contains("Pushed by:    unknown\n"));
}

#[tokio::test]
async fn a_missing_table_is_named() {
    let mocks = Mocks::new();
    let query = mock!(aws_sdk_dynamodb::Client::query).then_error(|| {
        QueryError::ResourceNotFoundException(
            aws_sdk_dynamodb::types::error::ResourceNotFoundException::builder()
                .message("Requested resource not found")
                .meta(meta("ResourceNotFoundException", "Requested resource not found"))
                .build(),
        )
    });

    let failure = mocks.with(&query, TokenAnswer::Ok, &mocks.publish()).handle(payload()).await.unwrap_err();

    assert_eq!(failure.kind, ErrorKind::AwsError);
    assert_eq!(
        failure.message,
        format!("Query {TABLE} {GATE}: ResourceNotFoundException: Requested resource not found")
    );
    assert!(mocks.log.all().is_empty());
}

#[tokio::test]
async fn sns_failing_after_the_record_is_written_fails_the_invocation() {
    let cases = [
        ("Throttled", "Rate exceeded", ErrorKind::Throttled),
        ("AuthorizationError", "not authorized to perform: SNS:Publish", ErrorKind::AccessDenied),
        ("NotFound", "Topic does not exist", ErrorKind::AwsError),
    ];
    for (code, message, kind) in cases {
        let mocks = Mocks::new();
        let log = mocks.log.clone();
        let publish = mock!(aws_sdk_sns::Client::publish).then_compute_response(move |_| {
            log.record(&"Publish");
            MockResponse::Error(PublishError::generic(meta(code, message)))
        });
        let query = common::query(&mocks.log, GATE, Vec::new());

        let failure = mocks.with(&query, TokenAnswer::Ok, &publish).handle(payload()).await.unwrap_err();

        assert_eq!(failure.kind, kind, "{code}");
        assert_eq!(failure.message, format!("Publish {TOPIC}: {code}: {message}"));
        assert_eq!(mocks.log.all(), ["Query", "PutItem", "Publish"], "a retry puts the same record again");
    }
}
