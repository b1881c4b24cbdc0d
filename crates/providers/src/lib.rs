//! Providers on the engine's interface: `vkcs` (VK Cloud's Terraform resources on any OpenStack
//! cloud, through the `openstack` client) and, later, `ivkcs` (the config service).
//!
//! The engine knows no cloud API and this room knows no HTTP server: each provider adapts the
//! engine's [`vitrina_engine::Value`]s to client calls and back.

pub mod ivkcs_schema;
pub mod vkcs;

use std::sync::Arc;

use vitrina_engine::ProviderRegistry;
use vitrina_hcl::schema::ProviderSchemas;

/// Adds every provider of this room to `registry` (`vkcs`).
pub fn register(registry: &mut ProviderRegistry) {
    registry.register("vkcs", Arc::new(vkcs::VkcsProvider::new()));
}

/// The schemas of every provider vitrina serves, as data (for `vitrina package validate` and
/// `vitrina tf validate`): the engine's built-ins (`null`, `random`, `time`, `terraform`),
/// `vkcs`, and `ivkcs` (declared from VK's documentation; not implemented yet).
pub fn schemas() -> ProviderSchemas {
    let mut registry = ProviderRegistry::with_builtins();
    register(&mut registry);
    let mut s = vitrina_engine::schema_data::of_registry(&registry);
    s.insert("ivkcs", ivkcs_schema::ivkcs_schema());
    s
}
