//! `terraform`: the built-in `terraform_data` resource
//! (<https://developer.hashicorp.com/terraform/language/resources/terraform-data>). It stores
//! `input` and returns it as `output`; a change of `input` updates it in place (with `output`
//! unknown until apply), a change of `triggers_replace` replaces it.

use rand::Rng as _;

use super::{configure_self, rng_for, unknown_type};
use crate::provider::{
    ApplyError, AttrType, Attribute, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest,
    PlanRequest, PlanResponse, Provider, ProviderError, ProviderSchema, Schema, UpdateRequest,
};
use crate::value::Value;

#[derive(Clone, Debug, Default)]
pub struct TerraformProvider;

const TYPE: &str = "terraform_data";

impl Provider for TerraformProvider {
    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema::default();
        s.resources.insert(
            TYPE.into(),
            Schema::new()
                .attr("id", Attribute::computed(AttrType::String))
                .attr(
                    "input",
                    Attribute::optional(AttrType::Dynamic)
                        .describe("stored, and returned as `output`; a change updates in place"),
                )
                .attr(
                    "output",
                    Attribute::computed(AttrType::Dynamic).describe("the value of `input`"),
                )
                .attr(
                    "triggers_replace",
                    Attribute::optional(AttrType::Dynamic)
                        .force_new()
                        .describe("any change replaces the resource"),
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

impl ConfiguredProvider for TerraformProvider {
    fn plan(&self, req: PlanRequest) -> BoxFuture<'_, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            if req.type_name != TYPE {
                return Err(unknown_type(&req.type_name));
            }
            let mut planned = req.proposed;
            let input = req.config.get("input").clone();
            let input_changes = req.prior.is_null() || req.prior.get("input") != &input;
            if input_changes {
                // `output` follows `input`; like Terraform, it is shown as known after apply
                // whenever `input` changes (a null input gives a null output).
                let output = if input.is_null() {
                    Value::Null
                } else {
                    Value::Unknown
                };
                planned.set("output", output);
            }
            Ok(PlanResponse {
                planned,
                requires_replace: Vec::new(),
            })
        })
    }

    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            if req.type_name != TYPE {
                return Err(unknown_type(&req.type_name).into());
            }
            let mut out = req.planned;
            let bytes: [u8; 16] = rng_for(&req.token, "id").gen();
            let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
            out.set("id", Value::string(id.to_string()));
            out.set("output", req.config.get("input").clone());
            Ok(out)
        })
    }

    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            let mut out = req.planned;
            out.set("id", req.prior.get("id").clone());
            out.set("output", req.config.get("input").clone());
            Ok(out)
        })
    }

    fn delete(&self, _req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async { Ok(()) })
    }
}
