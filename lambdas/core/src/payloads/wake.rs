//! wake-waits' answer: what an event woke, and what became of each wait it found.

use serde::{Deserialize, Serialize};

/// wake-waits' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeOutput {
    /// The waits table's partition key the event named (`build#<ARN>`, `service#<ARN>`).
    pub resource: String,
    /// Every wait found under it.
    pub waits: Vec<WokenWait>,
}

/// One wait an event woke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WokenWait {
    /// Its sort key, `<execution>#<service>#<kind>`.
    pub waiter: String,
    /// `COMPLETED` (the look was terminal: the task token got its success), `FAILED` (its
    /// failure), `PENDING` (not over: the token waits on), `CLOSED` (the token was closed
    /// already), `SKIPPED` (a record it could not act on: its wait ends by its fallback timeout).
    pub result: String,
    /// What the look said, in a sentence.
    pub detail: String,
}
