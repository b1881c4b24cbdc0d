//! The agent's journal in `STATE/journal/`: one file per step run, written atomically.
//! A `Finished` entry is written before the result is reported; `acked` turns true once the
//! config service has stored it. A `Running` entry records the step's process group.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vitrina_agent_api::wire::{Status, StepReport};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Entry {
    Running {
        revision: i64,
        pgid: i32,
    },
    Finished {
        report: Box<StepReport>,
        acked: bool,
    },
}

pub struct Journal {
    dir: PathBuf,
}

fn key(group: &str, index: i64, hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(group.as_bytes());
    h.update([0]);
    h.update(index.to_le_bytes());
    h.update(hash.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn once_key(group: &str, index: i64) -> String {
    key(group, index, "once")
}

impl Journal {
    pub fn open(state: &Path) -> std::io::Result<Self> {
        let dir = state.join("journal");
        std::fs::create_dir_all(&dir)?;
        Ok(Journal { dir })
    }

    fn path(&self, k: &str) -> PathBuf {
        self.dir.join(format!("{k}.json"))
    }

    pub fn get(&self, group: &str, index: i64, hash: &str) -> Option<Entry> {
        let text = std::fs::read(self.path(&key(group, index, hash))).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Whether a `once` step already finished `ok` on this host (any content).
    pub fn once_done(&self, group: &str, index: i64) -> bool {
        self.path(&once_key(group, index)).exists()
    }

    pub fn put(&self, group: &str, index: i64, hash: &str, entry: &Entry) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        vitrina_common::fs::write_atomic(
            &self.path(&key(group, index, hash)),
            &bytes,
            Some(0o600),
        )?;
        if let Entry::Finished { report, .. } = entry {
            if report.status == Status::Ok {
                vitrina_common::fs::write_atomic(
                    &self.path(&once_key(group, index)),
                    b"ok",
                    Some(0o600),
                )?;
            }
        }
        Ok(())
    }

    /// Every finished entry not yet stored by the config service.
    pub fn unacked(&self) -> Vec<StepReport> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for e in rd.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                if let Ok(Entry::Finished {
                    report,
                    acked: false,
                }) = serde_json::from_slice(&bytes)
                {
                    out.push(*report);
                }
            }
        }
        out
    }

    /// Every step cut off while running (process groups to kill).
    pub fn running(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for e in rd.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                if let Ok(Entry::Running { pgid, .. }) = serde_json::from_slice(&bytes) {
                    out.push(pgid);
                }
            }
        }
        out
    }

    pub fn forget(&self, group: &str, index: i64, hash: &str) {
        let _ = std::fs::remove_file(self.path(&key(group, index, hash)));
    }
}
