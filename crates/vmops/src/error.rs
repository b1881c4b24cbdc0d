//! What `vmops` fails with: each variant says what was refused or failed and how to go on.

use std::path::PathBuf;

use serde::Serialize;

/// One resource that matched a name, for errors that list the matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    pub id: String,
    pub status: String,
}

/// Everything a `vmops` operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required setting is not set anywhere.
    #[error(
        "`{name}` is not set: set it in the environment, in the `.env` file or with `--{flag}`"
    )]
    MissingSetting {
        name: &'static str,
        flag: &'static str,
    },

    /// A setting has a value that cannot be used.
    #[error("`{name}` is `{value}`, which is not {expected}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        expected: &'static str,
    },

    /// A line of a `.env` file cannot be read.
    #[error("{}:{line}:{column}: {message}", path.display())]
    EnvSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// No resource of this kind has this name.
    #[error("no {kind} named `{name}`{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    NotFound {
        kind: &'static str,
        name: String,
        hint: Option<String>,
    },

    /// Several resources have this name: the operation needs exactly one.
    #[error("{} {kind}s are named `{name}`: {}; rename or delete all but one", matches.len(), list_matches(matches))]
    Ambiguous {
        kind: &'static str,
        name: String,
        matches: Vec<Match>,
    },

    /// A disk to boot from is attached or busy.
    #[error("disk `{name}` ({id}) is `{status}`, not `available`; stop the VM that uses it first")]
    DiskNotAvailable {
        name: String,
        id: String,
        status: String,
    },

    /// A disk to create already exists.
    #[error("a disk named `{name}` already exists ({id}, `{status}`); start from it with `--disk {name}`, delete it, or choose another name with `--disk-name`")]
    DiskExists {
        name: String,
        id: String,
        status: String,
    },

    /// A VM with this name already exists.
    #[error("a VM named `{name}` already exists ({id}); choose another name")]
    VmExists { name: String, id: String },

    /// An image with this name already exists.
    #[error("an image named `{name}` already exists ({}){}", list_matches(matches), if *force_allowed { "; pass `--force` to replace it" } else { "; delete it or choose another name" })]
    ImageExists {
        name: String,
        matches: Vec<Match>,
        force_allowed: bool,
    },

    /// The image is not ready for use.
    #[error("image `{name}` ({id}) is `{status}`, not `active`")]
    ImageNotActive {
        name: String,
        id: String,
        status: String,
    },

    /// The key pair in the cloud is not the local key.
    #[error("key pair `{name}` in the cloud has fingerprint {cloud}, but `{}` has {local}; use another `SSH_KEY_NAME` or delete the old key pair", path.display())]
    KeypairMismatch {
        name: String,
        path: PathBuf,
        cloud: String,
        local: String,
    },

    /// The local public key is not an OpenSSH public key.
    #[error("`{}` is not an OpenSSH public key (`ssh-ed25519 AAAA… comment`)", path.display())]
    PublicKey { path: PathBuf },

    /// A local file would be overwritten.
    #[error("`{}` exists; pass `--force` to overwrite it", path.display())]
    WouldOverwrite { path: PathBuf },

    /// Choosing needs a person at a terminal.
    #[error("{what}: not on a terminal, so nothing can be chosen; pass {flag}")]
    NeedsTerminal {
        what: &'static str,
        flag: &'static str,
    },

    /// The person at the terminal chose nothing.
    #[error("nothing chosen")]
    NotChosen,

    /// There is nothing to act on.
    #[error("{0}")]
    Nothing(String),

    /// A step of a multi-step operation failed; what the operation had created was removed.
    #[error("{step} failed; {}", cleanup_summary(cleaned, left))]
    RolledBack {
        step: String,
        #[source]
        source: Box<Error>,
        /// What was removed again.
        cleaned: Vec<String>,
        /// What could not be removed, with why.
        left: Vec<String>,
    },

    /// A call to the cloud failed.
    #[error("{what}")]
    Cloud {
        what: String,
        #[source]
        source: Box<vitrina_openstack::Error>,
    },

    /// A local file or folder could not be read or written.
    #[error("{action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps a client error with what was being done.
    pub fn cloud(what: impl Into<String>) -> impl FnOnce(vitrina_openstack::Error) -> Error {
        let what = what.into();
        move |source| Error::Cloud {
            what,
            source: Box::new(source),
        }
    }

    /// True when the fault is the user's files or usage (exit code 2), not the cloud or the
    /// input's content (exit code 1).
    pub fn is_usage_or_io(&self) -> bool {
        match self {
            Error::Io { .. } | Error::NeedsTerminal { .. } => true,
            Error::Cloud { source, .. } => matches!(
                source.as_ref(),
                vitrina_openstack::Error::Io { .. } | vitrina_openstack::Error::ConfigFile { .. }
            ),
            _ => false,
        }
    }
}

fn list_matches(matches: &[Match]) -> String {
    matches
        .iter()
        .map(|m| format!("{} ({})", m.id, m.status))
        .collect::<Vec<_>>()
        .join(", ")
}

fn cleanup_summary(cleaned: &[String], left: &[String]) -> String {
    let mut out = if cleaned.is_empty() {
        "nothing had been created".to_owned()
    } else {
        format!("cleaned up: {}", cleaned.join(", "))
    };
    if !left.is_empty() {
        out.push_str(&format!("; NOT cleaned up: {}", left.join(", ")));
    }
    out
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
