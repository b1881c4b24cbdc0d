//! The orchestrator: the one place where configuration, state, plans and providers meet.
//! [`Engine::validate`] checks a configuration without running anything, [`Engine::plan`]
//! refreshes and diffs, and [`Engine::apply`] carries out a plan in parallel with the state
//! persisted after every resource operation.

mod apply;
mod bridge;
mod conditions;
mod eval;
mod graph;
mod modules;
mod moves;
mod plan;
mod strict;
pub mod vars;

use std::collections::BTreeMap;
use std::sync::Arc;

use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};
use vitrina_hcl as hcl;

use crate::addr::{ResourceAddr, ResourceMode};
use crate::config::{codes, Config, META_ARGUMENTS};
use crate::hooks::{Hook, NoHook};
use crate::plan::{Plan, PlanMode};
use crate::provider::{ProviderRegistry, ProviderSchema, Schema};
use crate::state::State;

pub use apply::ApplyReport;
pub use bridge::{from_hcl, hcl_type, object_to_hcl, to_hcl, type_json};
pub use vars::VarInputs;

/// Stable diagnostic codes raised while planning and applying.
pub mod run_codes {
    /// An expression cannot be evaluated.
    pub const EVAL: &str = "tf/eval";
    /// A variable has no value, the wrong type, or fails its validation.
    pub const VARIABLE: &str = "tf/variable";
    /// `count` or `for_each` is invalid or not known during plan.
    pub const EXPANSION: &str = "tf/expansion";
    /// `lifecycle.prevent_destroy` stops the plan.
    pub const PREVENT_DESTROY: &str = "tf/prevent-destroy";
    /// A provider failed.
    pub const PROVIDER: &str = "tf/provider";
    /// An output is invalid.
    pub const OUTPUT: &str = "tf/output";
    /// The state could not be written.
    pub const STATE: &str = "tf/state";
    /// A `precondition` or `postcondition` failed.
    pub const CONDITION: &str = "tf/condition";
    /// A `check` block's assertion failed (a warning).
    pub const CHECK: &str = "tf/check";
    /// A `moved` block could not be applied (a warning).
    pub const MOVED: &str = "tf/moved";
}

/// Runs configurations with a set of providers.
#[derive(Clone)]
pub struct Engine {
    pub registry: ProviderRegistry,
    pub hooks: Arc<dyn Hook>,
    /// How many provider operations run at once (`--parallelism`, default 10).
    pub parallelism: usize,
    /// `terraform.workspace`.
    pub workspace: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.registry)
            .field("parallelism", &self.parallelism)
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
}

/// A plan together with what apply needs to carry it out.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub plan: Plan,
    /// The refreshed prior state; apply starts from it.
    pub prior: State,
    /// Warnings found while planning.
    pub warnings: Diagnostics,
    pub(crate) vars: BTreeMap<String, hcl::Value>,
}

impl Engine {
    /// An engine with the given providers, no hooks, parallelism 10, workspace `default`.
    pub fn new(registry: ProviderRegistry) -> Self {
        Engine {
            registry,
            hooks: Arc::new(NoHook),
            parallelism: 10,
            workspace: "default".to_owned(),
        }
    }

    #[must_use]
    pub fn with_hooks(mut self, hooks: Arc<dyn Hook>) -> Self {
        self.hooks = hooks;
        self
    }

    #[must_use]
    pub fn with_parallelism(mut self, n: usize) -> Self {
        self.parallelism = n.max(1);
        self
    }

    /// Checks references, cycles and every resource block against its provider's schema,
    /// without evaluating anything.
    pub fn validate(&self, config: &Config) -> Diagnostics {
        let mut diags = Diagnostics::new();
        // Modules expand with the variables' defaults (unknown without one).
        let defaults: BTreeMap<String, hcl::Value> = config
            .variables
            .iter()
            .map(|(n, v)| {
                let val = v
                    .default
                    .as_ref()
                    .and_then(|d| hcl::eval::evaluate_constant(&d.expr).ok())
                    .unwrap_or_else(hcl::Value::unknown);
                (n.clone(), val)
            })
            .collect();
        let flat = match modules::expand(config, &defaults, true) {
            Ok(f) => f,
            Err(d) => return d,
        };
        let config: &Config = &flat;
        let _ = graph::ConfigGraph::build(config, &mut diags);
        strict::check(config, &mut diags);
        let schemas = self.schemas(config, &mut diags);
        for rc in config.resources.values() {
            let Some(schema) = schemas.resource_in(&rc.provider, &rc.addr) else {
                continue;
            };
            check_block(&rc.block, schema, &rc.file, true, &mut diags);
        }
        dedup(diags)
    }

    /// Provider schemas for every provider the configuration uses, with a diagnostic for each
    /// resource type no provider offers.
    pub(crate) fn schemas(&self, config: &Config, diags: &mut Diagnostics) -> Schemas {
        let mut s = Schemas::default();
        for rc in config.resources.values() {
            let local = provider_local_name(&rc.provider);
            if !s.providers.contains_key(local) {
                if let Some(p) = self.registry.get(local) {
                    s.providers.insert(local.to_owned(), p.schema());
                }
            }
            let known = s.providers.get(local).is_some_and(|ps| match rc.addr.mode {
                ResourceMode::Managed => ps.resources.contains_key(&rc.addr.type_name),
                ResourceMode::Data => ps.data_sources.contains_key(&rc.addr.type_name),
            });
            if !known {
                let what = if rc.addr.mode == ResourceMode::Data {
                    "data source"
                } else {
                    "resource type"
                };
                let help = if self.registry.get(local).is_some() {
                    format!("provider `{local}` does not offer it; check the spelling")
                } else {
                    format!(
                        "no provider `{local}` is available; available: {}",
                        self.registry.names().collect::<Vec<_>>().join(", ")
                    )
                };
                diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_TYPE,
                        rc.span.clone(),
                        format!("unknown {what} `{}`", rc.addr.type_name),
                    )
                    .with_help(help),
                );
            }
        }
        for pc in config.providers.values() {
            if !s.providers.contains_key(&pc.name) {
                if let Some(p) = self.registry.get(&pc.name) {
                    s.providers.insert(pc.name.clone(), p.schema());
                }
            }
        }
        s
    }

    /// Plans a normal run (or, with [`PlanMode::Destroy`], destroying everything).
    pub async fn plan(
        &self,
        config: &Config,
        inputs: &VarInputs,
        state: State,
        mode: PlanMode,
    ) -> Result<PlannedRun, Diagnostics> {
        plan::plan(self, config, inputs, state, mode).await
    }

    /// Applies a plan. Every completed operation is persisted through `state` before its
    /// dependents start.
    pub async fn apply(
        &self,
        config: &Config,
        planned: &PlannedRun,
        state: Arc<crate::state::sync::SyncState>,
    ) -> ApplyReport {
        apply::apply(self, config, planned, state).await
    }
}

/// Each diagnostic once: the instances of a module share its blocks, so a problem in one block
/// is found once per instance.
pub(crate) fn dedup(diags: Diagnostics) -> Diagnostics {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Diagnostics::new();
    for d in diags.iter() {
        let key = (
            d.code,
            d.span.file.clone(),
            d.span.range.start,
            d.span.range.end,
            d.message.clone(),
        );
        if seen.insert(key) {
            out.push(d.clone());
        }
    }
    out
}

/// `vkcs.second` → `vkcs`.
pub(crate) fn provider_local_name(addr: &str) -> &str {
    addr.split_once('.').map_or(addr, |(n, _)| n)
}

/// Schemas of the providers in use, by local name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Schemas {
    pub providers: BTreeMap<String, ProviderSchema>,
}

impl Schemas {
    pub fn resource_in(&self, provider: &str, addr: &ResourceAddr) -> Option<&Schema> {
        self.providers.get(provider_local_name(provider))?.of(addr)
    }

    /// [`Self::resource_in`], else the schema straight from the registry (a provider that only
    /// the state still mentions).
    pub fn resource_or_registered(
        &self,
        registry: &ProviderRegistry,
        provider: &str,
        addr: &ResourceAddr,
    ) -> Option<Schema> {
        self.resource_in(provider, addr).cloned().or_else(|| {
            registry
                .get(provider_local_name(provider))?
                .schema()
                .of(addr)
                .cloned()
        })
    }
}

/// Static schema check of a block: unknown arguments and blocks, missing required arguments.
fn check_block(
    block: &hcl::Block,
    schema: &Schema,
    file: &str,
    top: bool,
    diags: &mut Diagnostics,
) {
    for a in &block.attributes {
        if top && META_ARGUMENTS.contains(&a.name.as_str()) {
            continue;
        }
        if !schema.attributes.contains_key(&a.name) {
            let help = if schema.blocks.contains_key(&a.name) {
                format!("`{}` is a block: write `{} {{ … }}`", a.name, a.name)
            } else {
                suggest(&a.name, schema.attributes.keys())
            };
            diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_ARGUMENT,
                    Span::new(file, a.name_span.clone()),
                    format!("unsupported argument `{}`", a.name),
                )
                .with_help(help),
            );
        } else if schema
            .attributes
            .get(&a.name)
            .is_some_and(|s| s.computed && !s.optional && !s.required)
        {
            diags.push(Diagnostic::error(
                codes::UNKNOWN_ARGUMENT,
                Span::new(file, a.name_span.clone()),
                format!(
                    "`{}` is set by the provider and cannot be configured",
                    a.name
                ),
            ));
        }
    }
    for (name, attr) in &schema.attributes {
        if attr.required && block.attribute(name).is_none() {
            diags.push(
                Diagnostic::error(
                    codes::MISSING_ARGUMENT,
                    Span::new(file, block.name_span()),
                    format!("the argument `{name}` is required"),
                )
                .with_help(format!("add `{name} = …` to this block")),
            );
        }
    }
    for b in &block.blocks {
        let (kind, inner) = if b.kind == "dynamic" {
            let Some(label) = b.labels.first() else {
                continue;
            };
            (label.value.as_str(), b.blocks_of("content").next())
        } else {
            (b.kind.as_str(), Some(b))
        };
        if top && matches!(kind, "lifecycle" | "connection" | "provisioner") {
            continue;
        }
        if top && kind == "timeouts" && !schema.blocks.contains_key("timeouts") {
            continue;
        }
        match schema.blocks.get(kind) {
            Some(nb) => {
                if let Some(inner) = inner {
                    check_block(inner, &nb.schema, file, false, diags);
                }
            }
            None => diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_ARGUMENT,
                    Span::new(file, b.kind_span.clone()),
                    format!("unsupported block `{kind}`"),
                )
                .with_help(suggest(kind, schema.blocks.keys())),
            ),
        }
    }
}

/// "did you mean" from a list of names (edit distance ≤ 2), else the list.
fn suggest<'a>(name: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&String> = names.collect();
    if let Some(best) = names
        .iter()
        .filter(|n| edit_distance(name, n) <= 2)
        .min_by_key(|n| edit_distance(name, n))
    {
        return format!("did you mean `{best}`?");
    }
    if names.is_empty() {
        "this block takes no such name".to_owned()
    } else {
        format!(
            "expected one of: {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
