//! An error tied to the entry that raised it, carrying whether the whole transaction may be
//! run again (a lost race) through `Store::write`'s retry loop.

use super::super::error::RestError;
use crate::interaction::InteractionError;
use crate::store::{Retryable, StoreError};

#[derive(Debug)]
pub struct EntryError {
    /// The entry, or `None` when the failure is the bundle's as a whole.
    pub index: Option<usize>,
    pub error: RestError,
    retry: bool,
}

impl EntryError {
    pub fn new(index: usize, error: RestError) -> EntryError {
        EntryError {
            index: Some(index),
            error,
            retry: false,
        }
    }

    /// A failure of the bundle as a whole, not to be run again here.
    pub fn whole(error: RestError) -> EntryError {
        EntryError {
            index: None,
            error,
            retry: false,
        }
    }

    /// The error as the client sees it, naming the entry.
    pub fn into_rest(self) -> RestError {
        match self.index {
            Some(index) => RestError::InEntry {
                index,
                inner: Box::new(self.error),
            },
            None => self.error,
        }
    }
}

/// Ties an interaction's error to entry `index`.
pub fn at(index: usize) -> impl Fn(InteractionError) -> EntryError {
    move |e| EntryError {
        index: Some(index),
        retry: e.is_retryable(),
        error: e.into(),
    }
}

impl From<StoreError> for EntryError {
    fn from(e: StoreError) -> Self {
        EntryError {
            index: None,
            retry: e.is_retryable(),
            error: e.into(),
        }
    }
}

impl Retryable for EntryError {
    fn is_retryable(&self) -> bool {
        self.retry
    }
}
