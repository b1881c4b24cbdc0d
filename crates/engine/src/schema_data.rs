//! The providers' schemas as data ([`vitrina_hcl::schema`]): what the `package` room checks
//! manifests against, and what [`crate::context::Engine::validate`] checks a configuration
//! against, through the same shared checks.

use vitrina_hcl::schema::{AttrSpec, BlockSpec, BodySpec, Nesting as DataNesting};
use vitrina_hcl::schema::{ProviderSchemas, ProviderSpec};
use vitrina_hcl::Type;

use crate::provider::{AttrType, Nesting, ProviderRegistry, ProviderSchema, Schema};

/// An attribute type as an HCL type.
pub fn attr_type(t: &AttrType) -> Type {
    match t {
        AttrType::String => Type::String,
        AttrType::Number => Type::Number,
        AttrType::Bool => Type::Bool,
        AttrType::List(e) => Type::list(attr_type(e)),
        AttrType::Set(e) => Type::set(attr_type(e)),
        AttrType::Map(e) => Type::map(attr_type(e)),
        AttrType::Object(attrs) => {
            Type::object(attrs.iter().map(|(k, v)| (k.clone(), attr_type(v))))
        }
        AttrType::Dynamic => Type::Dynamic,
    }
}

/// A resource, data source or block schema as data.
pub fn body(s: &Schema) -> BodySpec {
    let mut out = BodySpec::new();
    for (name, a) in &s.attributes {
        out.attributes.insert(
            name.clone(),
            AttrSpec {
                ty: attr_type(&a.ty),
                required: a.required,
                optional: a.optional,
                computed: a.computed,
            },
        );
    }
    for (name, b) in &s.blocks {
        out.blocks.insert(
            name.clone(),
            BlockSpec {
                nesting: match b.nesting {
                    Nesting::Single => DataNesting::Single,
                    Nesting::List => DataNesting::List,
                    Nesting::Set => DataNesting::Set,
                },
                min_items: b.min_items,
                max_items: b.max_items,
                body: body(&b.schema),
            },
        );
    }
    out
}

/// A provider's resource types and data sources as data.
pub fn provider(p: &ProviderSchema) -> ProviderSpec {
    ProviderSpec {
        resources: p
            .resources
            .iter()
            .map(|(k, s)| (k.clone(), body(s)))
            .collect(),
        data_sources: p
            .data_sources
            .iter()
            .map(|(k, s)| (k.clone(), body(s)))
            .collect(),
    }
}

/// Every registered provider's schemas as data, plus the built-in `terraform` provider.
pub fn of_registry(registry: &ProviderRegistry) -> ProviderSchemas {
    let mut out = ProviderSchemas::builtin();
    for name in registry.names() {
        if let Some(p) = registry.get(name) {
            out.insert(name, provider(&p.schema()));
        }
    }
    out
}
