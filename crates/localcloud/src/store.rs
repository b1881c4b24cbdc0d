//! Persistence: the whole [`State`] lives in memory behind one lock and is written to
//! `DATA/state.json` atomically (temp file, fsync, rename, fsync of the folder).
//!
//! Why a JSON state file and not SQLite: localcloud's state is small (thousands of rows at most),
//! every request needs a consistent view across services (a server touches ports, volumes and
//! images at once), and a single lock plus one file gives that without a schema or a native
//! dependency; the file is readable when debugging. Writes are coalesced by a background writer
//! (a burst of 100 creates becomes a few writes), and [`Store::flush`] writes synchronously on
//! shutdown. The file carries a format version, a lineage and a serial; newer versions are refused.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::model::State;

/// The version of `state.json` this build writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the localcloud state `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the localcloud state `{path}` is not valid")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the localcloud state `{path}` has format version {found}, newer than {FORMAT_VERSION} which this build knows; use a newer vitrina")]
    TooNew { path: PathBuf, found: u32 },
    #[error("cannot write the localcloud state `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format_version: u32,
    lineage: String,
    serial: u64,
    state: State,
}

#[derive(Deserialize)]
struct Header {
    format_version: u32,
}

pub struct Store {
    path: PathBuf,
    lineage: String,
    serial: AtomicU64,
    state: Mutex<State>,
    dirty: AtomicBool,
    /// After [`Store::close`], nothing reaches the disk any more.
    closed: AtomicBool,
    notify: tokio::sync::Notify,
    /// Serializes file writes so an older snapshot never overwrites a newer one.
    write_lock: Mutex<()>,
    /// Bumped on every change (the data plane reconciles on it).
    changes: tokio::sync::watch::Sender<u64>,
}

impl Store {
    /// Opens `DIR/state.json`, or starts empty when it does not exist (`fresh` is then true).
    pub fn open(dir: &Path) -> Result<(Arc<Store>, bool), StoreError> {
        let path = dir.join("state.json");
        let (state, lineage, serial, fresh) = match fs_err::read(&path) {
            Ok(bytes) => {
                let header: Header =
                    serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                if header.format_version > FORMAT_VERSION {
                    return Err(StoreError::TooNew {
                        path,
                        found: header.format_version,
                    });
                }
                let file: StateFile =
                    serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                (file.state, file.lineage, file.serial, false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (State::default(), uuid::Uuid::new_v4().to_string(), 0, true)
            }
            Err(source) => return Err(StoreError::Read { path, source }),
        };
        Ok((
            Arc::new(Store {
                path,
                lineage,
                serial: AtomicU64::new(serial),
                state: Mutex::new(state),
                dirty: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                notify: tokio::sync::Notify::new(),
                write_lock: Mutex::new(()),
                changes: tokio::sync::watch::Sender::new(0),
            }),
            fresh,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as it was at that point; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the state and schedules a write.
    pub fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.lock());
        self.dirty.store(true, Ordering::SeqCst);
        self.notify.notify_one();
        self.changes.send_modify(|g| *g = g.wrapping_add(1));
        r
    }

    /// A receiver that sees every change of the state.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Writes the current state to disk now.
    pub fn flush(&self) -> Result<(), StoreError> {
        let _w = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.dirty.store(false, Ordering::SeqCst);
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        // Serialize a snapshot so requests do not wait for the encoder.
        let state = self.lock().clone();
        let bytes = {
            let file = StateFileRef {
                format_version: FORMAT_VERSION,
                lineage: &self.lineage,
                serial,
                state: &state,
            };
            serde_json::to_vec(&file).map_err(|e| StoreError::Write {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            })?
        };
        write_atomic(&self.path, &bytes).map_err(|source| StoreError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes the state a last time and stops writing (another localcloud may open the folder).
    pub fn close(&self) -> Result<(), StoreError> {
        let r = self.flush();
        self.closed.store(true, Ordering::SeqCst);
        self.notify.notify_one();
        r
    }

    /// The background writer: writes whenever the state changed, coalescing bursts.
    pub async fn run_writer(self: Arc<Self>) {
        loop {
            self.notify.notified().await;
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            if !self.dirty.load(Ordering::SeqCst) {
                continue;
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("{e}: {:?}", std::error::Error::source(&e)),
                Err(e) => tracing::error!("state writer panicked: {e}"),
            }
        }
    }
}

#[derive(Serialize)]
struct StateFileRef<'a> {
    format_version: u32,
    lineage: &'a str,
    serial: u64,
    state: &'a State,
}

/// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename, fsync of
/// the folder. The file is `0600` (L5: it holds passwords, tokens and secrets), and the temp file
/// is created new, never through a link left in its place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        let mut f = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs_err::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
