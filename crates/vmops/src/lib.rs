//! Everyday VM work on any OpenStack cloud — the library behind `vitrina cloud` (seed 002):
//! GPU VMs started from a kept disk or from an image and deleted in the evening, images made
//! from disks, downloaded home and uploaded again, and the network they need. Each operation
//! checks what the seed's "implementation details" table asks (exactly one resource per name,
//! `available` disks, key pair fingerprints, `--force` before overwriting, waits by ID) and
//! undoes what it created when a later step fails.
//!
//! ```no_run
//! # async fn demo() -> vitrina_vmops::Result<()> {
//! use std::sync::Arc;
//! use vitrina_vmops::{Ops, Settings, Sources, StartSource, StartRequest};
//! let sources = Sources::default();
//! let settings = Settings::resolve(&sources)?;
//! let client = vitrina_openstack::Client::from_env(None).map_err(vitrina_vmops::Error::cloud("cloud configuration"))?;
//! let ops = Ops::new(client, settings, Arc::new(vitrina_vmops::report::Silent), Arc::new(vitrina_vmops::report::NoTerminal));
//! let vm = ops.vm_start(&StartRequest { source: StartSource::Image(Some("base-image".into())), ..Default::default() }).await?;
//! println!("{} {}", vm.name, vm.address);
//! # Ok(()) }
//! ```

pub mod error;
pub mod inventory;
pub mod keypair;
pub mod report;
pub mod settings;

mod image;
mod list;
mod network;
mod ops;
mod vm;

pub use error::{Error, Match, Result};
pub use image::{DownloadReport, ImageCreated, UploadReport};
pub use list::{
    DiskRow, FlavorRow, FloatingIpInfo, ImageRow, NamedId, NetworkInfo, RouterInfo,
    SecurityGroupInfo, SubnetInfo, VmRow,
};
pub use network::{SetupAction, SetupReport};
pub use ops::Ops;
pub use settings::{read_env_file, Settings, Sources};
pub use vm::{generated_name, StartRequest, StartSource, StartedVm, StoppedVm};
