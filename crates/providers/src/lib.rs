//! Providers on the engine's interface: `vkcs` (VK Cloud's Terraform resources on any OpenStack
//! cloud, through the `openstack` client) and, later, `ivkcs` (the config service).
//!
//! The engine knows no cloud API and this room knows no HTTP server: each provider adapts the
//! engine's [`vitrina_engine::Value`]s to client calls and back.

pub mod ivkcs;
pub mod vkcs;

use std::sync::Arc;

use vitrina_engine::ProviderRegistry;

/// Adds every provider of this room to `registry` (`vkcs`, `ivkcs`).
pub fn register(registry: &mut ProviderRegistry) {
    registry.register("vkcs", Arc::new(vkcs::VkcsProvider::new()));
    registry.register("ivkcs", Arc::new(ivkcs::IvkcsProvider::new()));
}
