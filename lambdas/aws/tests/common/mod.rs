//! Helpers shared by the handler tests: error metadata as AWS sends it, a recorder for the
//! requests a mock answered, the fixed clock, and the event fixtures.

// Each test crate uses only some of these helpers.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

// Every SDK crate re-exports the same `aws_smithy_types` type.
use aws_sdk_ecs::error::ErrorMetadata;

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

/// An event fixture of `tests/fixtures/events/` (the workspace's), parsed.
pub(crate) fn event(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}
