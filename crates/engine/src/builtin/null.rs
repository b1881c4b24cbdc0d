//! `null`: `null_resource` (does nothing; `triggers` replace it) and `data.null_data_source`.

use rand::Rng as _;

use super::{configure_self, rng_for, unknown_type};
use crate::provider::{
    ApplyError, AttrType, Attribute, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest,
    Provider, ProviderError, ProviderSchema, ReadDataRequest, Schema,
};
use crate::value::Value;

#[derive(Clone, Debug, Default)]
pub struct NullProvider;

impl Provider for NullProvider {
    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema::default();
        s.resources.insert(
            "null_resource".into(),
            Schema::new()
                .attr("id", Attribute::computed(AttrType::String))
                .attr(
                    "triggers",
                    Attribute::optional(AttrType::map(AttrType::String))
                        .force_new()
                        .describe("any change replaces the resource"),
                ),
        );
        s.data_sources.insert(
            "null_data_source".into(),
            Schema::new()
                .attr("id", Attribute::computed(AttrType::String))
                .attr(
                    "inputs",
                    Attribute::optional(AttrType::map(AttrType::String)),
                )
                .attr(
                    "outputs",
                    Attribute::computed(AttrType::map(AttrType::String)),
                )
                .attr("random", Attribute::computed(AttrType::String))
                .attr(
                    "has_computed_default",
                    Attribute::optional_computed(AttrType::String),
                ),
        );
        s
    }

    fn configure(
        &self,
        _config: Value,
    ) -> BoxFuture<'_, Result<std::sync::Arc<dyn ConfiguredProvider>, ProviderError>> {
        configure_self(self)
    }
}

impl ConfiguredProvider for NullProvider {
    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            if req.type_name != "null_resource" {
                return Err(unknown_type(&req.type_name).into());
            }
            let mut out = req.planned;
            let id: u64 =
                rng_for(&req.token, "id").gen_range(1_000_000_000_000_000_000..u64::MAX / 2);
            out.set("id", Value::string(id.to_string()));
            Ok(out)
        })
    }

    fn delete(&self, _req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async { Ok(()) })
    }

    fn read_data(&self, req: ReadDataRequest) -> BoxFuture<'_, Result<Value, ProviderError>> {
        Box::pin(async move {
            if req.type_name != "null_data_source" {
                return Err(unknown_type(&req.type_name));
            }
            let mut out = req.config.clone();
            let inputs = match req.config.get("inputs") {
                Value::Null => Value::Map(Default::default()),
                v => v.clone(),
            };
            out.set("outputs", inputs);
            out.set("id", Value::string("static"));
            let r: u64 = rand::thread_rng().gen();
            out.set("random", Value::string(r.to_string()));
            if out.get("has_computed_default").is_null() {
                out.set("has_computed_default", Value::string("default"));
            }
            Ok(out)
        })
    }
}
