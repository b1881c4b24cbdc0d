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

use vitrina_diagnostics::{Diagnostic, Diagnostics};
use vitrina_hcl as hcl;

use crate::addr::{ResourceAddr, ResourceMode};
use crate::config::{codes, Config};
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
    pub const EVAL: &str = vitrina_diagnostics::codes::TF_EVAL;
    /// A variable has no value, the wrong type, or fails its validation.
    pub const VARIABLE: &str = vitrina_diagnostics::codes::TF_VARIABLE;
    /// `count` or `for_each` is invalid or not known during plan.
    pub const EXPANSION: &str = vitrina_diagnostics::codes::TF_EXPANSION;
    /// `lifecycle.prevent_destroy` stops the plan.
    pub const PREVENT_DESTROY: &str = vitrina_diagnostics::codes::TF_PREVENT_DESTROY;
    /// A provider failed.
    pub const PROVIDER: &str = vitrina_diagnostics::codes::TF_PROVIDER;
    /// An output is invalid.
    pub const OUTPUT: &str = vitrina_diagnostics::codes::TF_OUTPUT;
    /// The state could not be written.
    pub const STATE: &str = vitrina_diagnostics::codes::TF_STATE;
    /// A `precondition` or `postcondition` failed.
    pub const CONDITION: &str = vitrina_diagnostics::codes::TF_CONDITION;
    /// A `check` block's assertion failed (a warning).
    pub const CHECK: &str = vitrina_diagnostics::codes::TF_CHECK;
    /// A `moved` block could not be applied (a warning).
    pub const MOVED: &str = vitrina_diagnostics::codes::TF_MOVED;
    /// The run was cancelled before an operation started.
    pub const CANCELLED: &str = vitrina_diagnostics::codes::TF_CANCELLED;
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
    /// Looked at before each node and each provider operation; see [`crate::cancel`].
    pub cancel: crate::cancel::Cancel,
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
            cancel: crate::cancel::Cancel::new(),
        }
    }

    /// Stops runs of this engine at their next safe point when `cancel` is cancelled.
    #[must_use]
    pub fn with_cancel(mut self, cancel: crate::cancel::Cancel) -> Self {
        self.cancel = cancel;
        self
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
        self.validate_against(config, &crate::schema_data::of_registry(&self.registry))
    }

    /// [`Self::validate`] against given provider schemas (say, the registry's plus providers
    /// known only as data).
    pub fn validate_against(
        &self,
        config: &Config,
        schemas: &vitrina_hcl::schema::ProviderSchemas,
    ) -> Diagnostics {
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
        crate::static_check::check(config, schemas, &mut diags);
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
