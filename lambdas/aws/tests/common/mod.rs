//! Helpers shared by the handler tests: error metadata as AWS sends it, a recorder for the
//! requests a mock answered (and one log of every call, across clients, in order), the fixed
//! clock, the event and AWS answer fixtures, and a mocked waits table.

// Each test crate uses only some of these helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
// Every SDK crate re-exports the same `aws_smithy_types` type.
use aws_sdk_ecs::error::ErrorMetadata;
use aws_sdk_sfn::operation::send_task_failure::{SendTaskFailureError, SendTaskFailureInput, SendTaskFailureOutput};
use aws_sdk_sfn::operation::send_task_success::{SendTaskSuccessError, SendTaskSuccessInput, SendTaskSuccessOutput};
use aws_sdk_sfn::types::error::{InvalidToken, TaskDoesNotExist, TaskTimedOut};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use deltaship_aws::waits::Waits;

/// The fixed "now" every handler's clock returns, in seconds since the Unix epoch.
pub(crate) const NOW: i64 = 1_700_000_000;

/// The clock the handlers get.
pub(crate) fn clock() -> i64 {
    NOW
}

/// The metadata AWS puts on every error it answers: the SDK reads the code from here, so a mocked
/// modelled error without it would not look like the real thing.
pub(crate) fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// A throttling error, which AWS does not model per operation.
pub(crate) fn throttling() -> ErrorMetadata {
    meta("ThrottlingException", "Rate exceeded")
}

/// Records the requests a mock rule saw, for assertions once the handler returned.
#[derive(Debug)]
pub(crate) struct Recorder<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Recorder<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Recorder<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T: Clone> Recorder<T> {
    /// Records `request`.
    pub(crate) fn record(&self, request: &T) {
        self.0.lock().unwrap().push(request.clone());
    }

    /// Every recorded request, oldest first.
    pub(crate) fn all(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }

    /// The only recorded request (fails the test if there are none or several).
    pub(crate) fn only(&self) -> T {
        let all = self.all();
        assert_eq!(all.len(), 1, "expected exactly one request, got {}", all.len());
        all.into_iter().next().unwrap()
    }
}

/// The calls the mocks answered, in order, across every client of a test: `"PutItem"`,
/// `"BatchGetBuilds"`, ...
pub(crate) type CallLog = Recorder<&'static str>;

/// An event fixture of `tests/fixtures/events/` (the workspace's), parsed.
pub(crate) fn event(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture_text(&format!("events/{name}"))).unwrap()
}

/// A fixture of `tests/fixtures/aws/` (`ecs/...json`, `events/...json`): what AWS answers or
/// sends, as text.
pub(crate) fn aws_fixture_text(name: &str) -> String {
    fixture_text(&format!("aws/{name}"))
}

/// A fixture of `tests/fixtures/aws/`, parsed.
pub(crate) fn aws_fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(&aws_fixture_text(name)).unwrap()
}

fn fixture_text(path: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// An HTTP 200 answer with `body` as its JSON: the SDK parses it as it would AWS's own.
pub(crate) fn json_response(body: &str) -> aws_sdk_ecs::config::http::HttpResponse {
    http_response(200, body.to_owned())
}

/// An error as a JSON protocol (ECS, DynamoDB, Step Functions, CodeBuild) answers it: HTTP
/// `status`, the error's code in `__type`.
pub(crate) fn json_error(status: u16, code: &str, message: &str) -> aws_sdk_ecs::config::http::HttpResponse {
    http_response(status, serde_json::json!({ "__type": code, "message": message }).to_string())
}

fn http_response(status: u16, body: String) -> aws_sdk_ecs::config::http::HttpResponse {
    let mut response = aws_sdk_ecs::config::http::HttpResponse::new(status.try_into().unwrap(), body.into());
    response.headers_mut().insert("content-type", "application/x-amz-json-1.1");
    response
}

// ---- the waits table and the tokens -------------------------------------------------------------

/// The waits table's name in the tests.
pub(crate) const TABLE: &str = "deltaship-waits";

/// The waits over a mocked DynamoDB and Step Functions, each call tried once.
pub(crate) fn waits(dynamodb: &[&Rule], sfn: &[&Rule]) -> Waits {
    let once = |attempts: u32| {
        aws_sdk_dynamodb::config::retry::RetryConfig::standard()
            .with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_millis(1))
    };
    let dynamodb =
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, dynamodb, |config: aws_sdk_dynamodb::config::Builder| {
            config.retry_config(once(1))
        });
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, sfn, |config: aws_sdk_sfn::config::Builder| {
        config.retry_config(once(1))
    });
    Waits::from_clients(dynamodb, sfn, TABLE.to_owned())
}

/// PutItem into the waits table: logged, recorded, answered.
pub(crate) fn put_item(log: &CallLog, seen: &Recorder<PutItemInput>) -> Rule {
    let (log, seen) = (log.clone(), seen.clone());
    mock!(aws_sdk_dynamodb::Client::put_item).match_requests(|req| req.table_name() == Some(TABLE)).then_compute_output(
        move |req| {
            log.record(&"PutItem");
            seen.record(req);
            PutItemOutput::builder().build()
        },
    )
}

/// PutItem failing with `error` (logged).
pub(crate) fn put_item_failing(log: &CallLog, error: fn() -> PutItemError) -> Rule {
    let log = log.clone();
    mock!(aws_sdk_dynamodb::Client::put_item).then_compute_response(move |_| {
        log.record(&"PutItem");
        MockResponse::Error(error())
    })
}

/// DeleteItem from the waits table: logged, recorded, answered (or failed with the
/// conditional-check error when `condition_fails`: a newer registration holds the record).
pub(crate) fn delete_item(log: &CallLog, seen: &Recorder<DeleteItemInput>, condition_fails: bool) -> Rule {
    let (log, seen) = (log.clone(), seen.clone());
    mock!(aws_sdk_dynamodb::Client::delete_item)
        .match_requests(|req| req.table_name() == Some(TABLE))
        .then_compute_response(move |req| {
            log.record(&"DeleteItem");
            seen.record(req);
            if condition_fails {
                let message = "The conditional request failed";
                MockResponse::Error(DeleteItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder()
                        .message(message)
                        .meta(meta("ConditionalCheckFailedException", message))
                        .build(),
                ))
            } else {
                MockResponse::Output(DeleteItemOutput::builder().build())
            }
        })
}

/// DeleteItem failing with `error` (logged).
pub(crate) fn delete_item_failing(log: &CallLog, error: fn() -> DeleteItemError) -> Rule {
    let log = log.clone();
    mock!(aws_sdk_dynamodb::Client::delete_item).then_compute_response(move |_| {
        log.record(&"DeleteItem");
        MockResponse::Error(error())
    })
}

/// Query of the waits table for `resource`, answering `items` (logged).
pub(crate) fn query(log: &CallLog, resource: &str, items: Vec<HashMap<String, AttributeValue>>) -> Rule {
    let (log, resource) = (log.clone(), resource.to_owned());
    mock!(aws_sdk_dynamodb::Client::query)
        .match_requests(move |req: &QueryInput| {
            req.table_name() == Some(TABLE)
                && req.expression_attribute_values().and_then(|values| values.get(":resource"))
                    == Some(&AttributeValue::S(resource.clone()))
        })
        .then_compute_output(move |_| {
            log.record(&"Query");
            QueryOutput::builder().set_items(Some(items.clone())).build()
        })
}

/// A waits record as DynamoDB stores it.
pub(crate) fn item(
    resource: &str,
    waiter: &str,
    token: &str,
    kind: &str,
    watch: &str,
    expires_at: i64,
) -> HashMap<String, AttributeValue> {
    let string = |value: &str| AttributeValue::S(value.to_owned());
    HashMap::from([
        ("resource".to_owned(), string(resource)),
        ("waiter".to_owned(), string(waiter)),
        ("token".to_owned(), string(token)),
        ("kind".to_owned(), string(kind)),
        ("watch".to_owned(), string(watch)),
        ("expires_at".to_owned(), AttributeValue::N(expires_at.to_string())),
    ])
}

/// What SendTaskSuccess/SendTaskFailure answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenAnswer {
    /// Taken.
    Ok,
    /// `TaskTimedOut`: the task timed out or was completed already.
    TimedOut,
    /// `InvalidToken`.
    Invalid,
    /// `TaskDoesNotExist`: its execution ended.
    Gone,
    /// Throttled.
    Throttled,
    /// `AccessDeniedException`: the role may not complete tokens.
    Denied,
}

fn denied() -> ErrorMetadata {
    meta("AccessDeniedException", "not authorized to perform: states:SendTaskSuccess")
}

fn closed_meta(code: &str) -> ErrorMetadata {
    meta(code, "Task Timed Out: 'Provided task does not exist anymore'")
}

/// SendTaskSuccess: logged, recorded, answered as `answer` says.
pub(crate) fn send_success(log: &CallLog, seen: &Recorder<SendTaskSuccessInput>, answer: TokenAnswer) -> Rule {
    let (log, seen) = (log.clone(), seen.clone());
    mock!(aws_sdk_sfn::Client::send_task_success).then_compute_response(move |req| {
        log.record(&"SendTaskSuccess");
        seen.record(req);
        let code = match answer {
            TokenAnswer::Ok => return MockResponse::Output(SendTaskSuccessOutput::builder().build()),
            TokenAnswer::TimedOut => "TaskTimedOut",
            TokenAnswer::Invalid => "InvalidToken",
            TokenAnswer::Gone => "TaskDoesNotExist",
            TokenAnswer::Throttled => return MockResponse::Error(SendTaskSuccessError::generic(throttling())),
            TokenAnswer::Denied => return MockResponse::Error(SendTaskSuccessError::generic(denied())),
        };
        let meta = closed_meta(code);
        MockResponse::Error(match answer {
            TokenAnswer::TimedOut => SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().meta(meta).build()),
            TokenAnswer::Invalid => SendTaskSuccessError::InvalidToken(InvalidToken::builder().meta(meta).build()),
            _ => SendTaskSuccessError::TaskDoesNotExist(TaskDoesNotExist::builder().meta(meta).build()),
        })
    })
}

/// SendTaskFailure: logged, recorded, answered as `answer` says.
pub(crate) fn send_failure(log: &CallLog, seen: &Recorder<SendTaskFailureInput>, answer: TokenAnswer) -> Rule {
    let (log, seen) = (log.clone(), seen.clone());
    mock!(aws_sdk_sfn::Client::send_task_failure).then_compute_response(move |req| {
        log.record(&"SendTaskFailure");
        seen.record(req);
        match answer {
            TokenAnswer::Ok => MockResponse::Output(SendTaskFailureOutput::builder().build()),
            TokenAnswer::TimedOut => MockResponse::Error(SendTaskFailureError::TaskTimedOut(
                TaskTimedOut::builder().meta(closed_meta("TaskTimedOut")).build(),
            )),
            TokenAnswer::Invalid => MockResponse::Error(SendTaskFailureError::InvalidToken(
                InvalidToken::builder().meta(closed_meta("InvalidToken")).build(),
            )),
            TokenAnswer::Gone => MockResponse::Error(SendTaskFailureError::TaskDoesNotExist(
                TaskDoesNotExist::builder().meta(closed_meta("TaskDoesNotExist")).build(),
            )),
            TokenAnswer::Throttled => MockResponse::Error(SendTaskFailureError::generic(throttling())),
            TokenAnswer::Denied => MockResponse::Error(SendTaskFailureError::generic(denied())),
        }
    })
}

/// The mocked waits of one test: the table's and the tokens' rules, what they saw, and the log
/// of every call (shared with the test's other mocks).
pub(crate) struct MockWaits {
    pub(crate) log: CallLog,
    pub(crate) puts: Recorder<PutItemInput>,
    pub(crate) deletes: Recorder<DeleteItemInput>,
    pub(crate) successes: Recorder<SendTaskSuccessInput>,
    pub(crate) failures: Recorder<SendTaskFailureInput>,
    pub(crate) put: Rule,
    pub(crate) delete: Rule,
    pub(crate) success: Rule,
    pub(crate) failure: Rule,
}

impl MockWaits {
    /// Every call answered: the put and the delete taken, the tokens as `tokens` says, the delete's
    /// condition failing when `condition_fails`.
    pub(crate) fn new(tokens: TokenAnswer, condition_fails: bool) -> Self {
        let log = CallLog::default();
        let (puts, deletes, successes, failures) =
            (Recorder::default(), Recorder::default(), Recorder::default(), Recorder::default());
        Self {
            put: put_item(&log, &puts),
            delete: delete_item(&log, &deletes, condition_fails),
            success: send_success(&log, &successes, tokens),
            failure: send_failure(&log, &failures, tokens),
            log,
            puts,
            deletes,
            successes,
            failures,
        }
    }

    /// The waits over these rules.
    pub(crate) fn waits(&self) -> Waits {
        waits(&[&self.put, &self.delete], &[&self.success, &self.failure])
    }

    /// The only item put, as strings (`expires_at` as its number's text).
    pub(crate) fn put_item(&self) -> HashMap<String, String> {
        let request = self.puts.only();
        assert_eq!(request.table_name(), Some(TABLE));
        item_text(request.item().unwrap())
    }

    /// Asserts the only delete removes (`resource`, `waiter`) only if it still holds `token`.
    pub(crate) fn assert_deleted(&self, resource: &str, waiter: &str, token: &str) {
        let request = self.deletes.only();
        assert_eq!(request.table_name(), Some(TABLE));
        let key = request.key().unwrap();
        assert_eq!(key.len(), 2, "{key:?}");
        assert_eq!(key.get("resource"), Some(&AttributeValue::S(resource.to_owned())));
        assert_eq!(key.get("waiter"), Some(&AttributeValue::S(waiter.to_owned())));
        assert_eq!(request.condition_expression(), Some("#token = :token"));
        assert_eq!(request.expression_attribute_names().unwrap().get("#token").map(String::as_str), Some("token"));
        assert_eq!(
            request.expression_attribute_values().unwrap().get(":token"),
            Some(&AttributeValue::S(token.to_owned()))
        );
    }
}

// ---- the push ledger ----------------------------------------------------------------------------

/// The push ledger's items in memory, behind mocked `PutItem`, `GetItem` and `Query` calls that
/// keep DynamoDB's semantics for the expressions `deltaship_aws::ledger` sends, and only those:
/// any other condition or key expression fails the test, so the ledger cannot change its
/// expressions without these tests noticing. (The real semantics run on moto in the local-stack
/// tests.)
#[derive(Clone, Default)]
pub(crate) struct LedgerTable {
    items: Arc<Mutex<std::collections::BTreeMap<(String, String), Item>>>,
    /// Every call, in order.
    pub(crate) log: CallLog,
}

type Item = HashMap<String, AttributeValue>;

fn text_of(item: &Item, name: &str) -> String {
    item.get(name).and_then(|value| value.as_s().ok()).cloned().unwrap_or_default()
}

impl LedgerTable {
    /// A table holding `items` (as `deltaship_aws::ledger` stores them).
    pub(crate) fn with(items: Vec<Item>) -> Self {
        let table = Self::default();
        for item in items {
            let key = (text_of(&item, "resource"), text_of(&item, "waiter"));
            table.items.lock().unwrap().insert(key, item);
        }
        table
    }

    /// The ledger over this table, each call tried once.
    pub(crate) fn ledger(&self) -> deltaship_aws::ledger::Ledger {
        deltaship_aws::ledger::Ledger::from_client(self.client(), TABLE.to_owned())
    }

    /// The stored catalogs over this table, each call tried once.
    pub(crate) fn catalogs(&self) -> deltaship_aws::catalogs::Catalogs {
        deltaship_aws::catalogs::Catalogs::from_client(self.client(), TABLE.to_owned())
    }

    /// A DynamoDB client answered by this table, each call tried once.
    fn client(&self) -> aws_sdk_dynamodb::Client {
        let rules = [self.put_item(), self.get_item(), self.query()];
        mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            &rules.iter().collect::<Vec<_>>(),
            |config: aws_sdk_dynamodb::config::Builder| config
                .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(1))
        )
    }

    /// The keys of the items under `resource`.
    pub(crate) fn waiters(&self, resource: &str) -> Vec<String> {
        self.items.lock().unwrap().keys().filter(|(r, _)| r == resource).map(|(_, waiter)| waiter.clone()).collect()
    }

    /// The item under `resource` and `waiter`.
    pub(crate) fn item(&self, resource: &str, waiter: &str) -> Option<Item> {
        self.items.lock().unwrap().get(&(resource.to_owned(), waiter.to_owned())).cloned()
    }

    /// The text attribute `name` of the item under `resource` and `waiter`.
    pub(crate) fn text(&self, resource: &str, waiter: &str, name: &str) -> Option<String> {
        self.item(resource, waiter).map(|item| text_of(&item, name))
    }

    /// How many items the table holds.
    pub(crate) fn len(&self) -> usize {
        self.items.lock().unwrap().len()
    }

    fn put_item(&self) -> Rule {
        let table = self.clone();
        mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|req| req.table_name() == Some(TABLE))
            .then_compute_response(move |req: &PutItemInput| {
                table.log.record(&"PutItem");
                let item = req.item().cloned().unwrap_or_default();
                let key = (text_of(&item, "resource"), text_of(&item, "waiter"));
                let mut items = table.items.lock().unwrap();
                let existing = items.get(&key);
                let holds = match req.condition_expression() {
                    None => true,
                    Some("attribute_not_exists(#waiter)") => existing.is_none(),
                    Some("#push = :push") => {
                        let wanted = req.expression_attribute_values().and_then(|values| values.get(":push"));
                        existing.and_then(|item| item.get("push")) == wanted
                    }
                    Some(other) => panic!("the ledger table does not know the condition {other:?}"),
                };
                if !holds {
                    let message = "The conditional request failed";
                    return MockResponse::Error(PutItemError::ConditionalCheckFailedException(
                        ConditionalCheckFailedException::builder()
                            .message(message)
                            .meta(meta("ConditionalCheckFailedException", message))
                            .build(),
                    ));
                }
                items.insert(key, item);
                MockResponse::Output(PutItemOutput::builder().build())
            })
    }

    fn get_item(&self) -> Rule {
        let table = self.clone();
        mock!(aws_sdk_dynamodb::Client::get_item)
            .match_requests(|req| req.table_name() == Some(TABLE))
            .then_compute_output(move |req| {
                table.log.record(&"GetItem");
                let key = req.key().cloned().unwrap_or_default();
                let found = table.item(&text_of(&key, "resource"), &text_of(&key, "waiter"));
                aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().set_item(found).build()
            })
    }

    fn query(&self) -> Rule {
        let table = self.clone();
        mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|req| req.table_name() == Some(TABLE))
            .then_compute_output(move |req: &QueryInput| {
                table.log.record(&"Query");
                // The ledger's one key condition, and the stored catalogs'.
                let prefix = match req.key_condition_expression() {
                    Some("#resource = :resource AND begins_with(#waiter, :second)") => ":second",
                    Some("#resource = :resource AND begins_with(#waiter, :commit)") => ":commit",
                    other => panic!("the ledger table does not know the key condition {other:?}"),
                };
                let values = req.expression_attribute_values().cloned().unwrap_or_default();
                let (resource, second) = (text_of(&values, ":resource"), text_of(&values, prefix));
                let items: Vec<Item> = table
                    .items
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|((r, waiter), _)| *r == resource && waiter.starts_with(&second))
                    .map(|(_, item)| item.clone())
                    .collect();
                QueryOutput::builder().set_items(Some(items)).build()
            })
    }
}

/// One whole part (of one) of a stored catalog of `commit`, its data for the test to set.
pub(crate) fn catalog_item(repository: &str, commit: &str) -> Item {
    HashMap::from([
        ("resource".to_owned(), AttributeValue::S(deltaship_core::snapshot::resource(repository))),
        ("waiter".to_owned(), AttributeValue::S(deltaship_core::snapshot::waiter(commit, 0))),
        ("part".to_owned(), AttributeValue::N("0".to_owned())),
        ("parts".to_owned(), AttributeValue::N("1".to_owned())),
        ("data".to_owned(), AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(Vec::new()))),
    ])
}

/// An item as text: strings as they are, numbers as `N:<number>`.
pub(crate) fn item_text(item: &HashMap<String, AttributeValue>) -> HashMap<String, String> {
    item.iter()
        .map(|(name, value)| {
            let text = match value {
                AttributeValue::S(text) => text.clone(),
                AttributeValue::N(number) => format!("N:{number}"),
                other => panic!("{name}: unexpected {other:?}"),
            };
            (name.clone(), text)
        })
        .collect()
}
