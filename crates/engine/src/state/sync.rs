//! The one synchronized way to change the state during a run. Every change bumps a version;
//! [`SyncState::persist`] makes sure the file on disk holds at least that version. Writes are
//! group-committed: whoever takes the writer lock writes the newest snapshot, covering every
//! change made before it, so many parallel operations share one `fsync` and none returns before
//! its change is durable. Where the state goes is a [`StateStore`]: a locked file, a database
//! row, or nowhere (memory).

use std::sync::{Arc, Mutex, MutexGuard};

use super::file::StateFile;
use super::store::{StateStore, StateStoreError};
use super::State;

/// Where [`SyncState`] writes.
enum Target {
    None,
    /// Written on the blocking pool.
    File(Arc<StateFile>),
    Store(Arc<dyn StateStore>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::None => f.write_str("None"),
            Target::File(file) => f.debug_tuple("File").field(&file.path()).finish(),
            Target::Store(_) => f.write_str("Store"),
        }
    }
}

/// A state shared by the tasks of a run, persisted after every change.
#[derive(Debug)]
pub struct SyncState {
    inner: Mutex<Inner>,
    writer: tokio::sync::Mutex<u64>,
    target: Target,
}

#[derive(Debug)]
struct Inner {
    state: State,
    version: u64,
}

/// Proof of a change: pass it to [`SyncState::persist`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "persist the change"]
pub struct Version(u64);

impl SyncState {
    /// `file: None` keeps the state in memory only (tests, `plan`).
    pub fn new(state: State, file: Option<StateFile>) -> Self {
        SyncState {
            inner: Mutex::new(Inner { state, version: 0 }),
            writer: tokio::sync::Mutex::new(0),
            target: file.map_or(Target::None, |f| Target::File(Arc::new(f))),
        }
    }

    /// A state saved through `store` after every change (a database row, …).
    pub fn with_store(state: State, store: Arc<dyn StateStore>) -> Self {
        SyncState {
            inner: Mutex::new(Inner { state, version: 0 }),
            writer: tokio::sync::Mutex::new(0),
            target: Target::Store(store),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent `State` (changes are single
        // assignments), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock().state)
    }

    /// Changes the state in memory and returns the version to persist.
    pub fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> (R, Version) {
        let mut g = self.lock();
        let r = f(&mut g.state);
        g.version += 1;
        (r, Version(g.version))
    }

    /// Returns once the store holds `version` or newer.
    pub async fn persist(&self, version: Version) -> Result<(), StateStoreError> {
        if matches!(self.target, Target::None) {
            return Ok(());
        }
        let mut persisted = self.writer.lock().await;
        if *persisted >= version.0 {
            return Ok(());
        }
        let (snapshot, bytes, v) = {
            let mut g = self.lock();
            g.state.serial += 1;
            let bytes = g.state.to_json();
            let snapshot = match self.target {
                Target::Store(_) => Some(g.state.clone()),
                _ => None,
            };
            (snapshot, bytes, g.version)
        };
        match &self.target {
            Target::None => {}
            Target::File(file) => {
                let file = file.clone();
                let path = file.path().to_owned();
                match tokio::task::spawn_blocking(move || file.write_bytes(&bytes)).await {
                    Ok(r) => r?,
                    Err(join) => {
                        return Err(StateStoreError::File(super::file::StateFileError::Write {
                            path,
                            source: std::io::Error::other(join.to_string()),
                        }))
                    }
                }
            }
            Target::Store(store) => {
                let state = snapshot.unwrap_or_default();
                store.save(&state, bytes).await?;
            }
        }
        *persisted = v;
        Ok(())
    }

    /// Changes the state and waits until the change is on disk.
    pub async fn commit<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, StateStoreError> {
        let (r, v) = self.update(f);
        self.persist(v).await?;
        Ok(r)
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> State {
        self.lock().state.clone()
    }

    /// The state, consuming the wrapper.
    pub fn into_state(self) -> State {
        self.inner
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_all_reach_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.tfstate");
        let file = StateFile::lock(&path).expect("lock");
        let sync = Arc::new(SyncState::new(State::new(), Some(file)));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let sync = sync.clone();
            tasks.push(tokio::spawn(async move {
                sync.commit(|s| {
                    s.generated.insert(format!("k{i:02}"), i.to_string());
                })
                .await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("commit");
        }
        let on_disk = super::super::file::read_state(&path).expect("read");
        assert_eq!(on_disk.generated.len(), 50);
        // Group commit: fewer writes than changes is allowed, never fewer changes.
        assert!(on_disk.serial >= 1 && on_disk.serial <= 50);
    }
}
