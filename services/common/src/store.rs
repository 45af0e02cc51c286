//! An in-memory store of records with sequential ids. Each task has its own: the sample keeps no
//! database, so records live as long as the task and are not shared between tasks.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use axum::http::StatusCode;

use crate::ApiError;

/// Records of type `T` by id (1, 2, 3, ...), at most a fixed number of them.
#[derive(Debug)]
pub struct Store<T> {
    capacity: usize,
    inner: RwLock<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    last_id: u64,
    records: BTreeMap<u64, T>,
}

/// The store holds as many records as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFull {
    /// How many records it holds.
    pub capacity: usize,
}

impl From<StoreFull> for ApiError {
    /// 507 Insufficient Storage: the service is on the public internet, so its memory is bounded.
    fn from(full: StoreFull) -> Self {
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            format!("the store is full ({} records); this sample keeps records in memory", full.capacity),
        )
    }
}

impl<T: Clone> Store<T> {
    /// An empty store that holds at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, inner: RwLock::new(Inner { last_id: 0, records: BTreeMap::new() }) }
    }

    /// Adds the record `make` builds from the next id, and returns it.
    pub fn insert_with(&self, make: impl FnOnce(u64) -> T) -> Result<T, StoreFull> {
        // A panic while holding the lock cannot leave a half-written map (each write is one
        // `insert`), so a poisoned lock is still good to use.
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if inner.records.len() >= self.capacity {
            return Err(StoreFull { capacity: self.capacity });
        }
        inner.last_id += 1;
        let id = inner.last_id;
        let record = make(id);
        inner.records.insert(id, record.clone());
        Ok(record)
    }

    /// Every record, by id.
    pub fn list(&self) -> Vec<T> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).records.values().cloned().collect()
    }

    /// The record with this id.
    pub fn get(&self, id: u64) -> Option<T> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).records.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sequential_from_one_and_records_listed_by_id() {
        let store = Store::new(10);
        assert_eq!(store.list(), Vec::<(u64, &str)>::new());
        assert_eq!(store.insert_with(|id| (id, "a")), Ok((1, "a")));
        assert_eq!(store.insert_with(|id| (id, "b")), Ok((2, "b")));
        assert_eq!(store.list(), vec![(1, "a"), (2, "b")]);
        assert_eq!(store.get(2), Some((2, "b")));
        assert_eq!(store.get(3), None);
    }

    #[test]
    fn a_full_store_refuses_more() {
        let store = Store::new(1);
        assert!(store.insert_with(|id| id).is_ok());
        assert_eq!(store.insert_with(|id| id), Err(StoreFull { capacity: 1 }));
        assert_eq!(store.list(), vec![1]);
        let error = ApiError::from(StoreFull { capacity: 1 });
        assert_eq!(error.status(), StatusCode::INSUFFICIENT_STORAGE);
    }
}
