//! `vitrina-agent`: registers with the config service, keeps a heartbeat, long-polls the exec
//! groups and checks meant for its host, runs steps with VK's semantics (see
//! `../shared/spec/ivkcs.md`) and reports results.
//!
//! Crash safety: a finished step's result is written to the [`journal`] before it is reported,
//! so a restart re-sends it instead of running the step again; a step cut off by a crash (its
//! process group is recorded) is killed and run again.

pub mod agent;
pub mod checks;
pub mod journal;
pub mod liveness;
pub mod runner;
pub mod script_token;

use std::path::PathBuf;

/// Where the agent finds its server, token and state.
#[derive(Clone, Debug)]
pub struct Settings {
    pub server: String,
    pub token_file: PathBuf,
    /// Journal, scripts, results (`result/` as VK's `/etc/sower/result`).
    pub state_dir: PathBuf,
    /// Emptied by every boot (`/run/vitrina-agent`): tells a restart after a death from a start.
    pub run_dir: PathBuf,
    /// `token_file_path` (and `token_rotate`, owner, group): the script token's file.
    pub script_token: Option<script_token::TokenFile>,
}

/// Errors that stop the agent (everything else is retried).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot read the token file {path}")]
    Token {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token file {0} is empty")]
    EmptyToken(PathBuf),
    #[error("cannot use the state folder {path}")]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] vitrina_agent_api::ClientError),
    #[error("cannot use the run folder {path}")]
    Run {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config service refused the agent's token (401): was the host's VM replaced?")]
    Refused,
}

/// A line on stderr with a UTC timestamp (journald adds its own; process VMs keep a log file).
pub fn log(msg: impl std::fmt::Display) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    eprintln!("[{now:.3}] vitrina-agent: {msg}");
}
