//! Where a run's state lives: behind [`StateStore`], so the same apply writes a locked file for
//! `vitrina tf` ([`super::file::StateFile`]) and a database row with a generation check for the
//! server (which implements the trait in its own room). [`super::sync::SyncState`] calls
//! [`StateStore::save`] after every resource operation; a store that finds its row taken by
//! another run answers [`StateStoreError::Conflict`], and the run stops at its next safe point.

use std::sync::Arc;

use super::file::{StateFile, StateFileError};
use super::State;
use crate::provider::BoxFuture;

/// Errors saving or loading a state through a [`StateStore`].
#[derive(Debug, thiserror::Error)]
pub enum StateStoreError {
    /// The state file could not be read, written or locked.
    #[error(transparent)]
    File(StateFileError),
    /// Another run owns the state now (its lease or generation moved on): nothing was written.
    #[error("the state of `{what}` belongs to another run now; this run stops without writing")]
    Conflict { what: String },
    /// The backend (a database) failed.
    #[error("cannot save the state of `{what}`")]
    Backend {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StateStoreError {
    /// True when another run owns the state: retrying this run cannot help.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StateStoreError::Conflict { .. })
    }
}

impl From<StateFileError> for StateStoreError {
    fn from(e: StateFileError) -> Self {
        StateStoreError::File(e)
    }
}

/// A place a state is loaded from and saved to. Saves come in increasing `serial` order from
/// one run; each must be durable when the future resolves.
pub trait StateStore: Send + Sync {
    /// The stored state (an empty one with a new lineage when there is none yet).
    fn load(&self) -> BoxFuture<'_, Result<State, StateStoreError>>;

    /// Saves `bytes`, the [`State::to_json`] of `state`.
    fn save<'a>(
        &'a self,
        state: &'a State,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StateStoreError>>;
}

impl StateStore for StateFile {
    fn load(&self) -> BoxFuture<'_, Result<State, StateStoreError>> {
        Box::pin(async move { StateFile::load(self).map_err(StateStoreError::File) })
    }

    fn save<'a>(
        &'a self,
        _state: &'a State,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StateStoreError>> {
        // A few blocking syscalls (write, fsync, rename). `SyncState` runs file saves on the
        // blocking pool itself; this path serves other callers of the trait.
        Box::pin(async move { self.write_bytes(&bytes).map_err(StateStoreError::File) })
    }
}

/// A state kept in memory only (plans, previews, tests): saves succeed and are kept.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: std::sync::Mutex<Option<State>>,
}

impl MemoryStore {
    pub fn new(state: State) -> Arc<Self> {
        Arc::new(MemoryStore {
            state: std::sync::Mutex::new(Some(state)),
        })
    }

    /// The last saved state.
    pub fn current(&self) -> Option<State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl StateStore for MemoryStore {
    fn load(&self) -> BoxFuture<'_, Result<State, StateStoreError>> {
        Box::pin(async move { Ok(self.current().unwrap_or_default()) })
    }

    fn save<'a>(
        &'a self,
        state: &'a State,
        _bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StateStoreError>> {
        Box::pin(async move {
            *self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(state.clone());
            Ok(())
        })
    }
}
