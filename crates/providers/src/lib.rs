//! Providers on the engine's interface: `vkcs` (VK Cloud's Terraform resources on any OpenStack
//! cloud, through the `openstack` client) and, later, `ivkcs` (the config service).
//!
//! The engine knows no cloud API and this room knows no HTTP server: each provider adapts the
//! engine's [`vitrina_engine::Value`]s to client calls and back.

pub mod ivkcs;
pub mod ivkcs_schema;
pub mod vkcs;

use std::sync::Arc;

use vitrina_engine::ProviderRegistry;
use vitrina_hcl::schema::ProviderSchemas;

/// Adds every provider of this room to `registry` (`vkcs`, `ivkcs`).
pub fn register(registry: &mut ProviderRegistry) {
    registry.register("vkcs", Arc::new(vkcs::VkcsProvider::new()));
    registry.register("ivkcs", Arc::new(ivkcs::IvkcsProvider::new()));
}

/// What one run of a server gives its providers: the OpenStack cloud (as `OS_*` values and
/// where clouds.yaml would be looked for) and the config service. Nothing is read from the
/// process environment, so one process deploys for many projects and clouds at once.
#[derive(Clone, Debug)]
pub struct RunProviders {
    pub cloud: vitrina_openstack::ConfigSource,
    pub config_service: String,
    pub config_token: vitrina_common::Secret,
}

/// Adds every provider of this room, configured for one run only (see [`RunProviders`]).
pub fn register_for_run(registry: &mut ProviderRegistry, run: &RunProviders) {
    registry.register(
        "vkcs",
        Arc::new(vkcs::VkcsProvider::with_source(run.cloud.clone())),
    );
    registry.register(
        "ivkcs",
        Arc::new(ivkcs::IvkcsProvider::for_run(
            run.config_service.clone(),
            run.config_token.clone(),
            run.cloud.clone(),
        )),
    );
}

/// The schemas of every provider vitrina serves, as data (for `vitrina package validate` and
/// `vitrina tf validate`): the engine's built-ins (`null`, `random`, `time`, `terraform`),
/// `vkcs` and `ivkcs`. The `ivkcs` types the provider does not implement yet are still checked
/// against their schemas declared from VK's documentation ([`ivkcs_schema`]); the provider's own
/// schema wins for every type it implements.
pub fn schemas() -> ProviderSchemas {
    let mut registry = ProviderRegistry::with_builtins();
    register(&mut registry);
    let mut s = vitrina_engine::schema_data::of_registry(&registry);
    let documented = ivkcs_schema::ivkcs_schema();
    let ivkcs = s.providers.entry("ivkcs".to_owned()).or_default();
    for (name, body) in documented.resources {
        ivkcs.resources.entry(name).or_insert(body);
    }
    for (name, body) in documented.data_sources {
        ivkcs.data_sources.entry(name).or_insert(body);
    }
    s
}
