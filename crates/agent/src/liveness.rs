//! Whether the previous agent of this boot ended without being asked to.
//!
//! The agent keeps `RUN_DIR/agent.pid` while it runs and removes it only when it is stopped by
//! `SIGTERM`/`SIGINT` (`systemctl stop`, a shutdown). `RUN_DIR` is emptied by every boot
//! (`/run` is a tmpfs on a real VM; a `localcloud` process VM's supervisor empties its own at
//! start), so a file found at start-up means the agent before this one was killed or crashed in
//! this boot and its supervisor (systemd's `Restart=always`, or the process VM's loop) brought
//! it back. The agent says so when it registers, and the config service marks the host failed:
//! a host whose agent dies may have lost whatever the agent was doing, and VK's auto-recovery
//! replaces such a host.

use std::path::{Path, PathBuf};

const FILE: &str = "agent.pid";

/// The marker of the running agent.
pub struct Liveness {
    path: PathBuf,
}

impl Liveness {
    /// Reads what a previous agent left and puts this agent's own marker in place. Returns the
    /// note to report when the previous agent died.
    pub fn claim(run_dir: &Path) -> std::io::Result<(Liveness, Option<String>)> {
        std::fs::create_dir_all(run_dir)?;
        let path = run_dir.join(FILE);
        let previous = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let pid: String = text
                    .trim()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .take(12)
                    .collect();
                Some(if pid.is_empty() {
                    "the previous agent of this boot ended without being stopped".to_owned()
                } else {
                    format!("the previous agent of this boot (pid {pid}) ended without being stopped (killed or crashed)")
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        vitrina_common::fs::write_atomic(
            &path,
            format!("{}\n", std::process::id()).as_bytes(),
            Some(0o644),
        )?;
        Ok((Liveness { path }, previous))
    }

    /// An orderly stop: the next start in this boot is not a restart after a death.
    pub fn release(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
