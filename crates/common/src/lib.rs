//! Shared vocabulary of every vitrina room that needs it (leaf: no vitrina dependencies):
//!
//! - [`Secret`]: a string that redacts itself in `Debug` and `Display`;
//! - [`ids`]: a newtype per kind of ID ([`DeploymentId`], [`HostName`]);
//! - [`fs::write_atomic`]: temp file, fsync, rename, fsync of the folder;
//! - [`env`]: the names of the environment variables vitrina reads or sets.

pub mod env;
pub mod fs;
pub mod ids;
pub mod secret;

pub use ids::{DeploymentId, HostName, IdError};
pub use secret::Secret;
