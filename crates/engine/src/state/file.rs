//! The state on disk: one JSON file, rewritten atomically (temporary file in the same folder,
//! fsync, rename, fsync of the folder) under an exclusive lock on `FILE.lock` that the
//! operating system releases when the process dies, so a killed run leaves no stale lock.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{State, StateFormatError};

/// Errors reading, writing or locking the state file.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot read the state `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state `{path}` is unreadable")]
    Format {
        path: PathBuf,
        #[source]
        source: StateFormatError,
    },
    #[error("cannot write the state `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state `{path}` is locked by another vitrina run; wait for it to finish")]
    Locked { path: PathBuf },
    #[error("cannot lock the state `{path}`")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An open, locked state file. The lock is held until this is dropped.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    _lock: std::fs::File,
}

impl StateFile {
    /// Locks `path` (through `path.lock`) without waiting.
    pub fn lock(path: impl Into<PathBuf>) -> Result<StateFile, StateFileError> {
        let path = path.into();
        let lock_path = lock_path(&path);
        let lock = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StateFileError::Lock {
                path: lock_path.clone(),
                source,
            })?
            .into_parts()
            .0;
        // `File::try_lock` is an advisory `flock`, released by the kernel when the process
        // exits for any reason.
        #[allow(clippy::incompatible_msrv)]
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StateFileError::Locked { path }),
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StateFileError::Lock {
                    path: lock_path,
                    source,
                })
            }
        }
        Ok(StateFile { path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state; a missing file is an empty state with a new lineage.
    pub fn load(&self) -> Result<State, StateFileError> {
        read_state(&self.path)
    }

    /// Writes the state atomically.
    pub fn write(&self, state: &State) -> Result<(), StateFileError> {
        write_atomic(&self.path, &state.to_json()).map_err(|source| StateFileError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes bytes already produced by [`State::to_json`].
    pub fn write_bytes(&self, bytes: &[u8]) -> Result<(), StateFileError> {
        write_atomic(&self.path, bytes).map_err(|source| StateFileError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

/// Reads a state file without locking it (for `output`); missing means empty.
pub fn read_state(path: &Path) -> Result<State, StateFileError> {
    match fs_err::read(path) {
        Ok(bytes) => State::from_json(&bytes).map_err(|source| StateFileError::Format {
            path: path.to_owned(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::new()),
        Err(source) => Err(StateFileError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Temporary file beside the target, write, fsync, rename over the target, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = fs_err::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    if let Err(e) = fs_err::rename(&tmp, path) {
        let _ = fs_err::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.tfstate");
        let first = StateFile::lock(&path).expect("first lock");
        assert!(matches!(
            StateFile::lock(&path),
            Err(StateFileError::Locked { .. })
        ));
        drop(first);
        let again = StateFile::lock(&path).expect("lock after release");
        let mut s = again.load().expect("missing file is empty");
        s.serial = 7;
        again.write(&s).expect("write");
        assert_eq!(again.load().expect("read").serial, 7);
    }
}
