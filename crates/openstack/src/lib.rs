//! OpenStack API client (Keystone v3, Nova, Neutron, Cinder, Glance) and its wire types.
//!
//! [`wire`] holds the JSON bodies of the APIs, shared with `localcloud`.

pub mod secret;
pub mod wire;

pub use secret::Secret;
