//! The `vkcs` provider: VK Cloud's Terraform resources (schemas and replacement rules of
//! vk-cs/terraform-provider-vkcs v0.16.0) on any OpenStack cloud through `vitrina-openstack`.
//!
//! | resource | module |
//! |---|---|
//! | `vkcs_compute_instance`, `vkcs_compute_keypair`, `vkcs_compute_volume_attach`, `vkcs_compute_floatingip_associate`, data `vkcs_compute_flavor` | [`compute`] |
//! | `vkcs_networking_*`, data `vkcs_networking_network` / `vkcs_networking_subnet` | [`networking`] |
//! | `vkcs_blockstorage_volume`, data `vkcs_images_image` | [`storage`] |
//!
//! Plans follow VK's rules: schema `ForceNew` flags replace, `availability_zone` of an instance
//! replaces through plan customisation, `user_data` is stored as its SHA-1 hex, and attributes
//! VK leaves to the cloud are computed from what the API answers.

pub mod compute;
pub mod config;
pub mod networking;
pub mod storage;
pub(crate) mod util;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use vitrina_engine::provider::{
    ApplyError, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest, Nesting, PlanRequest,
    PlanResponse, Provider, ProviderError, ProviderSchema, ReadDataRequest, ReadRequest, Schema,
    UpdateRequest,
};
use vitrina_engine::{PathStep, Value};
use vitrina_openstack::{Client, ConfigSource};

use util::{s, vs};

/// The `vkcs` provider as registered with the engine.
#[derive(Debug, Clone, Default)]
pub struct VkcsProvider {
    source: Option<ConfigSource>,
}

impl VkcsProvider {
    /// Reads `OS_*` and clouds.yaml from this process when configured.
    pub fn new() -> Self {
        VkcsProvider { source: None }
    }

    /// Reads `OS_*` and clouds.yaml from an explicit source (tests).
    pub fn with_source(source: ConfigSource) -> Self {
        VkcsProvider {
            source: Some(source),
        }
    }
}

/// Every resource and data source schema, built once.
pub fn provider_schema() -> &'static ProviderSchema {
    static SCHEMA: OnceLock<ProviderSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut s = ProviderSchema {
            provider: config::provider_schema(),
            ..ProviderSchema::default()
        };
        compute::schemas(&mut s);
        networking::schemas(&mut s);
        storage::schemas(&mut s);
        s
    })
}

impl Provider for VkcsProvider {
    fn schema(&self) -> ProviderSchema {
        provider_schema().clone()
    }

    fn configure(
        &self,
        block: Value,
    ) -> BoxFuture<'_, Result<Arc<dyn ConfiguredProvider>, ProviderError>> {
        Box::pin(async move {
            let source = self
                .source
                .clone()
                .unwrap_or_else(ConfigSource::from_process);
            let cfg = config::cloud_config(&block, &source)?;
            let region = cfg
                .region_name
                .clone()
                .unwrap_or_else(|| config::DEFAULT_REGION.to_owned());
            let client = Client::new(cfg).map_err(config::ConfigError::Client)?;
            let p: Arc<dyn ConfiguredProvider> = Arc::new(Vkcs { client, region });
            Ok(p)
        })
    }
}

/// A configured `vkcs`: one client session shared by every resource.
#[derive(Debug, Clone)]
pub struct Vkcs {
    pub(crate) client: Client,
    pub(crate) region: String,
}

impl Vkcs {
    /// Neutron, with `X-SDN` when the resource names an SDN.
    pub(crate) fn network(&self, v: &Value) -> Result<vitrina_openstack::Network, ProviderError> {
        let n = self.client.network();
        match s(v, "sdn") {
            Some(sdn) => n
                .with_sdn(&sdn)
                .map_err(|e| crate::vkcs::util::perr(format!("invalid `sdn` `{sdn}`"), e)),
            None => Ok(n),
        }
    }

    /// Fills `region` (and `sdn` for networking resources) the way VK's provider computes them.
    pub(crate) fn stamp(&self, out: &mut Value, config: &Value) {
        if let Value::Map(m) = out {
            m.insert(
                "region".into(),
                vs(s(config, "region").unwrap_or_else(|| self.region.clone())),
            );
            if m.contains_key("sdn") {
                m.insert(
                    "sdn".into(),
                    vs(s(config, "sdn").unwrap_or_else(|| "neutron".into())),
                );
            }
        }
    }
}

fn unknown_type(kind: &str, type_name: &str) -> ProviderError {
    ProviderError::new(format!("`vkcs` has no {kind} `{type_name}`"))
}

impl ConfiguredProvider for Vkcs {
    fn plan(&self, req: PlanRequest) -> BoxFuture<'_, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            let schema = provider_schema()
                .resources
                .get(&req.type_name)
                .ok_or_else(|| unknown_type("resource", &req.type_name))?;
            let mut planned = req.proposed.clone();
            keep_zero_values(schema, &req.prior, &req.config, &mut planned);
            let mut requires_replace = Vec::new();
            if req.type_name == "vkcs_compute_instance" {
                compute::plan_instance(&req, &mut planned, &mut requires_replace);
            }
            if req.type_name == "vkcs_networking_subnet" {
                computed_blocks(&req, &mut planned, &["allocation_pool"]);
            }
            if req.prior.is_null() {
                self.stamp_planned(&mut planned, &req.config);
            }
            Ok(PlanResponse {
                planned,
                requires_replace,
            })
        })
    }

    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            let mut out = match req.type_name.as_str() {
                "vkcs_compute_instance" => compute::create_instance(self, &req).await?,
                "vkcs_compute_keypair" => compute::create_keypair(self, &req).await?,
                "vkcs_compute_volume_attach" => compute::create_volume_attach(self, &req).await?,
                "vkcs_compute_floatingip_associate" => {
                    compute::create_fip_associate(self, &req).await?
                }
                "vkcs_blockstorage_volume" => storage::create_volume(self, &req).await?,
                t if t.starts_with("vkcs_networking_") => networking::create(self, &req).await?,
                t => return Err(unknown_type("resource", t).into()),
            };
            out = compute::known(&out);
            self.stamp(&mut out, &req.config);
            Ok(out)
        })
    }

    fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            let p = &req.prior;
            let found = match req.type_name.as_str() {
                "vkcs_compute_instance" => compute::read_instance(self, p).await?,
                "vkcs_compute_keypair" => compute::read_keypair(self, p).await?,
                "vkcs_compute_volume_attach" => compute::read_volume_attach(self, p).await?,
                "vkcs_compute_floatingip_associate" => compute::read_fip_associate(self, p).await?,
                "vkcs_blockstorage_volume" => storage::read_volume(self, p).await?,
                t if t.starts_with("vkcs_networking_") => networking::read(self, t, p).await?,
                t => return Err(unknown_type("resource", t)),
            };
            Ok(found.map(|mut v| {
                self.stamp(&mut v, p);
                v
            }))
        })
    }

    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            let mut out = match req.type_name.as_str() {
                "vkcs_compute_instance" => compute::update_instance(self, &req).await?,
                "vkcs_blockstorage_volume" => storage::update_volume(self, &req).await?,
                t if t.starts_with("vkcs_networking_") => networking::update(self, &req).await?,
                // Every other argument of these types forces replacement; only bookkeeping
                // attributes (timeouts, region-independent flags) change in place.
                _ => req.planned.clone(),
            };
            self.stamp(&mut out, &req.config);
            Ok(out)
        })
    }

    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async move {
            match req.type_name.as_str() {
                "vkcs_compute_instance" => compute::delete_instance(self, &req).await,
                "vkcs_compute_keypair" => compute::delete_keypair(self, &req).await,
                "vkcs_compute_volume_attach" => compute::delete_volume_attach(self, &req).await,
                "vkcs_compute_floatingip_associate" => {
                    compute::delete_fip_associate(self, &req).await
                }
                "vkcs_blockstorage_volume" => storage::delete_volume(self, &req).await,
                t if t.starts_with("vkcs_networking_") => networking::delete(self, &req).await,
                t => Err(unknown_type("resource", t)),
            }
            .map_err(ApplyError::from)
        })
    }

    fn read_data(&self, req: ReadDataRequest) -> BoxFuture<'_, Result<Value, ProviderError>> {
        Box::pin(async move {
            let schema = provider_schema()
                .data_sources
                .get(&req.type_name)
                .ok_or_else(|| unknown_type("data source", &req.type_name))?;
            let mut out = match req.type_name.as_str() {
                "vkcs_compute_flavor" => compute::read_flavor(self, &req.config).await?,
                "vkcs_images_image" => storage::read_image(self, &req.config).await?,
                "vkcs_networking_network" => {
                    networking::read_network_data(self, &req.config).await?
                }
                "vkcs_networking_subnet" => networking::read_subnet_data(self, &req.config).await?,
                t => return Err(unknown_type("data source", t)),
            };
            complete(schema, &req.config, &mut out);
            self.stamp(&mut out, &req.config);
            Ok(out)
        })
    }
}

impl Vkcs {
    fn stamp_planned(&self, planned: &mut Value, config: &Value) {
        if let Value::Map(m) = planned {
            if m.get("region")
                .is_some_and(|r| r.is_unknown() || r.is_null())
            {
                m.insert(
                    "region".into(),
                    vs(s(config, "region").unwrap_or_else(|| self.region.clone())),
                );
            }
            if m.get("sdn").is_some_and(|r| r.is_unknown() || r.is_null()) {
                m.insert(
                    "sdn".into(),
                    vs(s(config, "sdn").unwrap_or_else(|| "neutron".into())),
                );
            }
        }
    }
}

/// Terraform's SDK treats an unset optional string, list or map like its empty value: when the
/// configuration leaves such an attribute unset and the cloud reports it empty, keep the prior
/// value instead of planning a change from `""` to null.
fn keep_zero_values(schema: &Schema, prior: &Value, config: &Value, planned: &mut Value) {
    if prior.is_null() {
        return;
    }
    for (name, attr) in &schema.attributes {
        if attr.computed || !config.get(name).is_null() || !planned.get(name).is_null() {
            continue;
        }
        let p = prior.get(name);
        let zero = match p {
            Value::String(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Map(m) => m.is_empty(),
            _ => false,
        };
        if zero {
            planned.set(name, p.clone());
        }
    }
}

/// Nested blocks that VK marks Optional+Computed: left out of the configuration, they keep what
/// the cloud reported (unknown until created).
pub(crate) fn computed_blocks(req: &PlanRequest, planned: &mut Value, names: &[&str]) {
    for name in names {
        let configured = req
            .config
            .get(name)
            .as_list()
            .is_some_and(|l| !l.is_empty());
        if configured {
            continue;
        }
        let v = if req.prior.is_null() {
            Value::Unknown
        } else {
            req.prior.get(name).clone()
        };
        planned.set(name, v);
    }
}

/// Makes a data source's result carry every schema attribute: configured values where the
/// reader left them out, null otherwise.
fn complete(schema: &Schema, config: &Value, out: &mut Value) {
    let Value::Map(m) = out else {
        return;
    };
    for name in schema.attributes.keys() {
        let entry = m.entry(name.clone()).or_insert(Value::Null);
        if entry.is_null() {
            *entry = config.get(name).clone();
        }
    }
    for (name, block) in &schema.blocks {
        m.entry(name.clone())
            .or_insert_with(|| match block.nesting {
                Nesting::Single => Value::Null,
                _ => Value::List(Vec::new()),
            });
    }
}

/// The prior object with `changes` applied: the base of a read result that keeps what the API
/// does not report (arguments VK's provider also keeps from the configuration).
pub(crate) fn with(
    prior: &Value,
    changes: impl IntoIterator<Item = (&'static str, Value)>,
) -> Value {
    let mut out = match prior {
        Value::Map(m) => m.clone(),
        _ => BTreeMap::new(),
    };
    for (k, v) in changes {
        out.insert(k.to_owned(), v);
    }
    Value::Map(out)
}

/// A path to a top-level attribute.
pub(crate) fn attr_path(name: &str) -> Vec<PathStep> {
    vec![PathStep::Attr(name.to_owned())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use util::{vlist, vs};

    fn req(prior: Value, config: Value) -> PlanRequest {
        PlanRequest {
            type_name: "vkcs_networking_subnet".into(),
            prior,
            proposed: config.clone(),
            config,
        }
    }

    #[test]
    fn unset_optional_strings_reported_empty_plan_no_change() {
        let schema = &provider_schema().resources["vkcs_networking_subnet"];
        let prior = Value::map([
            ("name", vs("")),
            ("description", vs("old")),
            ("dns_nameservers", vlist(Vec::<String>::new())),
        ]);
        let config = Value::map([
            ("name", Value::Null),
            ("description", Value::Null),
            ("dns_nameservers", Value::Null),
        ]);
        let mut planned = config.clone();
        keep_zero_values(schema, &prior, &config, &mut planned);
        assert_eq!(planned.get("name"), &vs(""));
        assert_eq!(planned.get("dns_nameservers"), &vlist(Vec::<String>::new()));
        // A real value the configuration dropped is still a change.
        assert!(planned.get("description").is_null());
    }

    #[test]
    fn computed_blocks_keep_what_the_cloud_reported() {
        let pools = Value::List(vec![Value::map([
            ("start", vs("10.0.0.2")),
            ("end", vs("10.0.0.254")),
        ])]);
        let prior = Value::map([("allocation_pool", pools.clone())]);
        let config = Value::map([("allocation_pool", Value::List(Vec::new()))]);
        let r = req(prior, config.clone());
        let mut planned = config.clone();
        computed_blocks(&r, &mut planned, &["allocation_pool"]);
        assert_eq!(planned.get("allocation_pool"), &pools);
        let r = req(Value::Null, config.clone());
        let mut planned = config;
        computed_blocks(&r, &mut planned, &["allocation_pool"]);
        assert!(planned.get("allocation_pool").is_unknown());
    }

    #[test]
    fn data_source_results_carry_every_attribute() {
        let schema = &provider_schema().data_sources["vkcs_images_image"];
        let mut out = Value::map([("id", vs("img"))]);
        complete(
            schema,
            &Value::map([("visibility", vs("public"))]),
            &mut out,
        );
        let m = out.as_map().map(|m| m.len()).unwrap_or(0);
        assert_eq!(m, schema.attributes.len());
        assert_eq!(out.get("visibility"), &vs("public"));
    }

    #[test]
    fn every_resource_and_data_source_has_id_and_region() {
        let s = provider_schema();
        assert_eq!(s.resources.len(), 14);
        assert_eq!(s.data_sources.len(), 4);
        for (name, schema) in s.resources.iter().chain(&s.data_sources) {
            assert!(schema.attributes.contains_key("id"), "{name}");
            assert!(schema.attributes.contains_key("region"), "{name}");
        }
        assert!(s.provider.attributes["password"].sensitive);
    }
}
