//! The state on disk: one JSON file, rewritten atomically (temporary file in the same folder,
//! fsync, rename, fsync of the folder) under an exclusive lock on `FILE.lock` that the
//! operating system releases when the process dies, so a killed run leaves no stale lock.
//!
//! Neither the temporary file nor the lock file is ever opened through a symbolic link: the
//! temporary file has an unpredictable name and is created with `O_CREAT|O_EXCL|O_NOFOLLOW`,
//! and the lock file is opened with `O_NOFOLLOW` (a symbolic link there is refused), so a
//! prepared folder cannot make a run write through a link to a file elsewhere.

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
        let lock = open_no_follow(
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true),
            &lock_path,
        )
        .map_err(|source| StateFileError::Lock {
            path: lock_path.clone(),
            source,
        })?;
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

/// Opens `path` with `options`, never through a symbolic link (`O_NOFOLLOW`): a link is refused
/// with an error that says so.
fn open_no_follow(
    options: &mut std::fs::OpenOptions,
    path: &Path,
) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    options.custom_flags(libc::O_NOFOLLOW);
    options.open(path).map_err(|e| {
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "`{}` is a symbolic link; vitrina does not write state files through links (remove it)",
                    path.display()
                ),
            )
        } else {
            std::io::Error::new(e.kind(), format!("`{}`: {e}", path.display()))
        }
    })
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
    // An unpredictable name, created exclusively: an existing file or symbolic link of that
    // name makes the create fail instead of being written through.
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    {
        let mut f = open_no_follow(
            std::fs::OpenOptions::new().write(true).create_new(true),
            &tmp,
        )?;
        if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
            drop(f);
            let _ = fs_err::remove_file(&tmp);
            return Err(e);
        }
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

    /// Probe M6: the temporary file's name is not predictable and it is created exclusively
    /// without following links, so links planted at `.<name>.<pid>.tmp` are never written
    /// through.
    #[test]
    fn planted_temp_file_links_are_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        let path = dir.path().join("vitrina.tfstate");
        let me = std::process::id();
        for pid in me.saturating_sub(64)..=me.saturating_add(64) {
            std::os::unix::fs::symlink(
                &victim,
                dir.path().join(format!(".vitrina.tfstate.{pid}.tmp")),
            )
            .expect("plant");
        }
        let file = StateFile::lock(&path).expect("lock");
        let mut s = State::new();
        s.serial = 3;
        file.write(&s).expect("write");
        file.write(&s).expect("write again");
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "precious"
        );
        assert_eq!(read_state(&path).expect("state").serial, 3);
        assert!(!std::fs::symlink_metadata(&path)
            .expect("state")
            .file_type()
            .is_symlink());
        // No temporary file is left behind.
        let leftovers = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }

    /// Probe L12: a lock file that is a symbolic link is refused (with a message saying so)
    /// instead of creating or opening the link's target.
    #[test]
    fn symlinked_lock_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("elsewhere").join("created-by-lock");
        std::fs::create_dir(dir.path().join("elsewhere")).expect("dir");
        let path = dir.path().join("vitrina.tfstate");
        std::os::unix::fs::symlink(&target, dir.path().join("vitrina.tfstate.lock"))
            .expect("plant");
        let err = StateFile::lock(&path).expect_err("a linked lock file is refused");
        let text = format!(
            "{err}: {}",
            std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(text.contains("symbolic link"), "{text}");
        assert!(!target.exists(), "the link target must not be created");
    }
}
