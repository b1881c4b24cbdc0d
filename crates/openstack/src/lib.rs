//! OpenStack API client (Keystone v3, Nova, Neutron, Cinder, Glance) and its wire types.
//!
//! - [`wire`]: the JSON bodies of the APIs, shared with `localcloud`.
//! - [`CloudConfig`]: clouds.yaml and `OS_*`, read like python-openstackclient.
//! - [`Client`]: the session (Keystone v3 token, catalog, one re-authentication on 401), with
//!   [`Client::compute`], [`Client::network`], [`Client::block_storage`] and [`Client::image`].
//! - [`wait`]: polling with back-off and timeouts.
//!
//! ```no_run
//! # async fn demo() -> vitrina_openstack::Result<()> {
//! let client = vitrina_openstack::Client::from_env(None)?; // OS_CLOUD or OS_*
//! let images = client.image().list_images(&vec![("name".into(), "ubuntu".into())]).await?;
//! # let _ = images; Ok(()) }
//! ```

pub mod catalog;
pub mod client;
pub mod compute;
pub mod config;
pub mod error;
pub mod image;
pub mod limits;
pub mod network;
pub mod volume;
pub mod wait;
/// `Secret` moved to `vitrina-common`; this path keeps working.
pub mod secret {
    pub use vitrina_common::Secret;
}
pub mod wire;

pub use client::{AuthToken, Client, ClientOptions, ServiceType};
pub use compute::Compute;
pub use config::{AuthMethod, CloudConfig, ConfigSource, DomainSpec, ScopeSpec, UserSpec};
pub use error::{Error, Result};
pub use image::{ImageService, TransferOptions, TransferReport};
pub use limits::{ProjectQuotas, Quota};
pub use network::Network;
pub use vitrina_common::Secret;
pub use volume::BlockStorage;
pub use wait::{Poll, WaitOptions};

/// Query parameters of a listing: `(name, value)` pairs, repeated names allowed.
pub type Query = Vec<(String, String)>;
