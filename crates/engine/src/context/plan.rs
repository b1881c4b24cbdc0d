//! Planning: refresh each resource's prior objects, evaluate its configuration per instance,
//! and diff (forces-new, `replace_triggered_by`, tainted, interrupted creates, orphans).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};
use vitrina_hcl as hcl;

use super::bridge::{from_hcl, object_to_hcl};
use super::eval::{eval_body, eval_expr, expand, Expansion, Values};
use super::graph::{ConfigGraph, NodeKind};
use super::{conditions, moves};
use super::{provider_local_name, run_codes, vars, Engine, PlannedRun, Schemas};
use crate::addr::{InstanceAddr, InstanceKey, ResourceAddr, ResourceMode};
use crate::config::{Config, IgnoreChanges, ResourceConfig};
use crate::plan::{Action, Plan, PlanMode, PlannedOutput, ResourceChange};
use crate::provider::{ConfiguredProvider, PlanRequest, ReadDataRequest, ReadRequest, Schema};
use crate::state::{InstanceState, ObjectStatus, State};
use crate::value::{path_to_string, PathStep, Value};

/// The failed assertions of a `check` block, as warnings (unknown ones are left for apply).
pub(crate) fn check_warnings(
    c: &crate::config::CheckConfig,
    ctx: &vitrina_hcl::eval::EvalContext,
) -> Vec<Diagnostic> {
    let what = format!("check `{}`", c.name);
    c.asserts
        .iter()
        .filter_map(|a| match conditions::evaluate(a, ctx, &what, &what, true) {
            conditions::Outcome::Fail(d) => Some(d),
            _ => None,
        })
        .collect()
}

pub(crate) async fn plan(
    engine: &Engine,
    config: &Config,
    inputs: &vars::VarInputs,
    mut state: State,
    mode: PlanMode,
) -> Result<PlannedRun, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut warnings = Diagnostics::new();
    let mut generated = state.generated.clone();
    // With modules, variables are resolved first: module `count`/`for_each` read them.
    let early_vars = if config.module_calls.is_empty() {
        None
    } else {
        Some(vars::resolve(
            config,
            inputs,
            &mut generated,
            &mut warnings,
        )?)
    };
    let flat = match &early_vars {
        Some(v) => super::modules::expand(config, v, false)?,
        None => std::borrow::Cow::Borrowed(config),
    };
    let config: &Config = &flat;
    let cg = ConfigGraph::build(config, &mut diags);
    super::strict::check(config, &mut diags);
    let schemas = engine.schemas(config, &mut diags);
    // The provider's own warnings: resource types and data sources it deprecates.
    for rc in config.resources.values() {
        if let Some(why) = schemas
            .resource_in(&rc.provider, &rc.addr)
            .and_then(|s| s.deprecated.as_deref())
        {
            warnings.push(
                Diagnostic::warning(
                    vitrina_diagnostics::codes::TF_DEPRECATED,
                    rc.span.clone(),
                    format!("`{}` is deprecated", rc.addr.type_name),
                )
                .with_help(why.to_owned()),
            );
        }
    }
    // The static checks of `validate` (unknown types are reported just above).
    let data = crate::schema_data::of_registry(&engine.registry);
    crate::static_check::check_bodies(config, &data, false, &mut diags);
    if diags.has_errors() {
        return Err(super::dedup(diags));
    }
    let moved = moves::apply_moves(config, &mut state, &mut warnings);
    let vars = match early_vars {
        Some(v) => v,
        None => vars::resolve(config, inputs, &mut generated, &mut warnings)?,
    };
    state.generated = generated;
    let order = cg.graph.topological_order().map_err(|_| diags.clone())?;

    let mut p = Planner {
        engine,
        config,
        schemas,
        values: {
            let mut v = Values::new(&config.dir, &engine.workspace, vars.clone());
            v.modules = Arc::new(super::eval::ModuleIndex::of(config));
            v
        },
        prior_values: BTreeMap::new(),
        providers: BTreeMap::new(),
        changes: Vec::new(),
        pending: BTreeSet::new(),
        diags: Diagnostics::new(),
        state,
        mode,
        semaphore: Arc::new(Semaphore::new(engine.parallelism.max(1))),
    };
    let mut outputs = BTreeMap::new();
    for node in order {
        match &cg.nodes[node] {
            NodeKind::Provider(addr) => {
                if let Err(d) = p.provider(addr).await {
                    p.diags.push(d);
                }
            }
            NodeKind::Local(name) => {
                let l = &config.locals[name];
                match super::eval::eval_local(&p.values, l, &config.dir) {
                    Ok(v) => {
                        p.values.locals.insert(name.clone(), v);
                    }
                    Err(d) => {
                        p.diags.push(d);
                        p.values.locals.insert(name.clone(), hcl::Value::unknown());
                    }
                }
            }
            NodeKind::Resource(addr) => {
                let rc = &config.resources[addr];
                if mode == PlanMode::Destroy {
                    p.prior_only(rc);
                } else if let Err(d) = p.resource(rc, &cg).await {
                    p.diags.push(d);
                    p.values
                        .resources
                        .insert(addr.clone(), hcl::Value::unknown());
                }
            }
            NodeKind::Output(name) => {
                if let Some(o) = p.output(name) {
                    outputs.insert(name.clone(), o);
                }
            }
            NodeKind::Check(name) if mode == PlanMode::Normal => {
                let c = &config.checks[name];
                let ctx = p.values.context(&c.references, &config.dir);
                p.diags.extend(check_warnings(c, &ctx));
            }
            NodeKind::Check(_) => {}
        }
    }
    p.orphans().await;
    for name in p.state.outputs.keys() {
        if !config.outputs.contains_key(name) || mode == PlanMode::Destroy {
            outputs.insert(
                name.clone(),
                PlannedOutput {
                    value: Value::Null,
                    sensitive: p.state.outputs[name].sensitive,
                    action: Action::Delete,
                },
            );
        }
    }
    if p.diags.has_errors() {
        return Err(super::dedup(p.diags));
    }
    warnings.extend(p.diags.iter().cloned());
    let mut changes = p.changes;
    changes.sort_by(|a, b| a.addr.cmp(&b.addr).then(a.deposed.cmp(&b.deposed)));
    Ok(PlannedRun {
        plan: Plan {
            mode,
            changes,
            outputs,
            moved: moved.into_iter().map(|m| (m.from, m.to)).collect(),
        },
        prior: p.state,
        warnings,
        vars,
    })
}

struct Planner<'a> {
    engine: &'a Engine,
    config: &'a Config,
    schemas: Schemas,
    values: Values,
    /// Resource values as in the prior state, for `replace_triggered_by`.
    prior_values: BTreeMap<ResourceAddr, hcl::Value>,
    providers: BTreeMap<String, Arc<dyn ConfiguredProvider>>,
    changes: Vec<ResourceChange>,
    /// Resources with a change other than no-op.
    pending: BTreeSet<ResourceAddr>,
    diags: Diagnostics,
    state: State,
    mode: PlanMode,
    semaphore: Arc<Semaphore>,
}

/// Configures the provider `addr` (`vkcs`, `vkcs.second`) from its block, if any.
pub(crate) async fn configure_provider(
    engine: &Engine,
    config: &Config,
    values: &Values,
    addr: &str,
) -> Result<Arc<dyn ConfiguredProvider>, Diagnostic> {
    let local = provider_local_name(addr);
    let span = config
        .providers
        .get(addr)
        .map(|p| p.span.clone())
        .unwrap_or_else(|| Span::file_start(""));
    let Some(provider) = engine.registry.get(local) else {
        return Err(Diagnostic::error(
            run_codes::PROVIDER,
            span,
            format!("no provider `{local}` is available"),
        ));
    };
    let schema = provider.schema().provider;
    let mut errors = Vec::new();
    let cfg = match config.providers.get(addr) {
        Some(pc) => {
            let mut ctx = values.context(&pc.references, &config.dir);
            eval_body(&pc.block, &schema, &mut ctx, &pc.span.file, &mut errors).0
        }
        None => empty_object(&schema),
    };
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    provider.configure(cfg).await.map_err(|e| {
        Diagnostic::error(
            run_codes::PROVIDER,
            span,
            format!("cannot configure provider `{addr}`: {}", error_chain(&e)),
        )
    })
}

/// Every attribute null, every block empty.
pub(crate) fn empty_object(schema: &Schema) -> Value {
    let mut m = BTreeMap::new();
    for n in schema.attributes.keys() {
        m.insert(n.clone(), Value::Null);
    }
    for (n, b) in &schema.blocks {
        m.insert(
            n.clone(),
            match b.nesting {
                crate::provider::Nesting::Single => Value::Null,
                _ => Value::List(Vec::new()),
            },
        );
    }
    Value::Map(m)
}

/// An error with its sources, on one line.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The value of a resource as recorded in a state, shaped like its expansion.
pub(crate) fn state_resource_value(
    state: &State,
    addr: &ResourceAddr,
    schema: &Schema,
) -> Option<hcl::Value> {
    let rs = state.resources.get(addr)?;
    let mut ints = Vec::new();
    let mut strs = BTreeMap::new();
    let mut single = None;
    for (k, inst) in &rs.instances {
        let Some(o) = &inst.current else { continue };
        let v = object_to_hcl(&o.attributes, schema, &o.sensitive_paths);
        match k {
            InstanceKey::None => single = Some(v),
            InstanceKey::Int(_) => ints.push(v),
            InstanceKey::Str(s) => {
                strs.insert(s.clone(), v);
            }
        }
    }
    Some(if let Some(v) = single {
        v
    } else if !strs.is_empty() {
        hcl::Value::Object(strs)
    } else {
        hcl::Value::Tuple(ints)
    })
}

/// The engine's proposal for a new object: configuration values, prior (or unknown) values for
/// computed attributes the configuration leaves unset, defaults, and ignored changes kept.
pub(crate) fn propose(
    schema: &Schema,
    prior: Option<&Value>,
    cfg: &Value,
    ignore: &IgnoreChanges,
) -> Value {
    let mut out = BTreeMap::new();
    for (n, a) in &schema.attributes {
        let c = cfg.get(n);
        let v = if !c.is_null() {
            c.clone()
        } else if a.computed {
            match prior {
                Some(p) => p.get(n).clone(),
                None => Value::Unknown,
            }
        } else {
            a.default.clone().unwrap_or(Value::Null)
        };
        out.insert(n.clone(), v);
    }
    for (n, b) in &schema.blocks {
        let c = cfg.get(n);
        let p = prior.map(|p| p.get(n));
        let v = match c {
            Value::List(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let pi = p.and_then(|p| p.as_list()).and_then(|l| l.get(i));
                        propose(&b.schema, pi, item, &IgnoreChanges::None)
                    })
                    .collect(),
            ),
            Value::Map(_) => propose(
                &b.schema,
                p.filter(|p| p.as_map().is_some()),
                c,
                &IgnoreChanges::None,
            ),
            other => other.clone(),
        };
        out.insert(n.clone(), v);
    }
    let mut out = Value::Map(out);
    if let Some(p) = prior {
        match ignore {
            IgnoreChanges::None => {}
            IgnoreChanges::All => {
                for n in schema.attributes.keys().chain(schema.blocks.keys()) {
                    out.set(n, p.get(n).clone());
                }
            }
            IgnoreChanges::Attributes(paths) => {
                for path in paths {
                    keep_prior_at(&mut out, p, path);
                }
            }
        }
    }
    out
}

/// `ignore_changes` for one path: the planned value at `path` becomes the prior one (a map key
/// the prior value does not have is removed), as Terraform's `processIgnoreChanges` does.
fn keep_prior_at(out: &mut Value, prior: &Value, path: &[PathStep]) {
    match prior.at(path) {
        Some(v) => {
            out.replace_at(path, v.clone());
        }
        None => {
            // The prior object lacks the path: a new map key stays absent.
            if let Some((PathStep::Key(k), parent)) = path.split_last() {
                if prior.at(parent).is_some() {
                    if let Some(Value::Map(m)) = out.at_mut(parent) {
                        m.remove(k);
                    }
                }
            }
        }
    }
}

/// Top-level attributes and blocks whose planned value differs from the prior one.
pub(crate) fn changed_names(schema: &Schema, prior: &Value, planned: &Value) -> Vec<String> {
    schema
        .attributes
        .keys()
        .chain(schema.blocks.keys())
        .filter(|n| prior.get(n) != planned.get(n))
        .cloned()
        .collect()
}

fn is_force_new(schema: &Schema, name: &str) -> bool {
    schema.attributes.get(name).is_some_and(|a| a.force_new)
        || schema.blocks.get(name).is_some_and(|b| b.force_new)
}

impl Planner<'_> {
    async fn provider(&mut self, addr: &str) -> Result<Arc<dyn ConfiguredProvider>, Diagnostic> {
        if let Some(p) = self.providers.get(addr) {
            return Ok(p.clone());
        }
        let p = configure_provider(self.engine, self.config, &self.values, addr).await?;
        self.providers.insert(addr.to_owned(), p.clone());
        Ok(p)
    }

    fn schema(&self, provider: &str, addr: &ResourceAddr) -> Option<Schema> {
        self.schemas
            .resource_or_registered(&self.engine.registry, provider, addr)
    }

    /// Destroy mode: only make the prior values available to locals and providers.
    fn prior_only(&mut self, rc: &ResourceConfig) {
        if let Some(schema) = self.schema(&rc.provider, &rc.addr) {
            let v =
                state_resource_value(&self.state, &rc.addr, &schema).unwrap_or(hcl::Value::Null);
            self.values.resources.insert(rc.addr.clone(), v);
        }
    }

    /// Refreshes the ready objects of a resource in parallel; gone objects leave the state.
    async fn refresh(
        &mut self,
        addr: &ResourceAddr,
        provider: &Arc<dyn ConfiguredProvider>,
    ) -> Result<(), Diagnostic> {
        let Some(rs) = self.state.resources.get(addr) else {
            return Ok(());
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (key, inst) in &rs.instances {
            let Some(o) = &inst.current else { continue };
            if o.status != ObjectStatus::Ready {
                continue;
            }
            let req = ReadRequest {
                type_name: addr.type_name.clone(),
                prior: o.attributes.clone(),
            };
            let provider = provider.clone();
            let sem = self.semaphore.clone();
            let ia = addr.instance(key.clone());
            self.engine.hooks.pre_refresh(&ia);
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (ia, provider.read(req).await)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((ia, result)) = joined else { continue };
            match result {
                Ok(Some(v)) => {
                    if let Some(o) = self
                        .state
                        .resources
                        .get_mut(addr)
                        .and_then(|r| r.instances.get_mut(&ia.key))
                        .and_then(|i| i.current.as_mut())
                    {
                        o.attributes = v;
                    }
                }
                Ok(None) => {
                    let provider = self
                        .state
                        .resources
                        .get(addr)
                        .map(|r| r.provider.clone())
                        .unwrap_or_default();
                    self.state.set_current(&ia, &provider, None);
                }
                Err(e) => {
                    let span = self
                        .config
                        .resources
                        .get(addr)
                        .map(|r| r.span.clone())
                        .unwrap_or_else(|| Span::file_start(""));
                    return Err(Diagnostic::error(
                        run_codes::PROVIDER,
                        span,
                        format!("cannot refresh `{ia}`: {}", error_chain(&e)),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn resource(&mut self, rc: &ResourceConfig, cg: &ConfigGraph) -> Result<(), Diagnostic> {
        let addr = &rc.addr;
        let schema = self.schema(&rc.provider, addr).ok_or_else(|| {
            Diagnostic::error(
                run_codes::PROVIDER,
                rc.span.clone(),
                format!("no schema for `{addr}`"),
            )
        })?;
        let provider = self.provider(&rc.provider).await?;
        if addr.mode == ResourceMode::Managed {
            self.refresh(addr, &provider).await?;
            if let Some(v) = state_resource_value(&self.state, addr, &schema) {
                self.prior_values.insert(addr.clone(), v);
            }
        }
        let mut ctx = self
            .values
            .context_in(&rc.addr.module, &rc.references, &self.config.dir);
        let expansion = expand(rc, &ctx)?;
        let keys = expansion.keys();
        let needs_prior_ctx = !rc.lifecycle.replace_triggered_by.is_empty();
        let mut prior_ctx = if needs_prior_ctx {
            let mut pv = self.values.clone();
            for (a, v) in &self.prior_values {
                pv.resources.insert(a.clone(), v.clone());
            }
            Some(pv.context_in(&rc.addr.module, &rc.references, &self.config.dir))
        } else {
            None
        };
        let deps_pending = cg
            .resource_deps
            .get(addr)
            .is_some_and(|deps| deps.iter().any(|d| self.pending.contains(d)));
        let prior_instances: BTreeMap<InstanceKey, InstanceState> = self
            .state
            .resources
            .get(addr)
            .map(|r| r.instances.clone())
            .unwrap_or_default();
        let mut inst_values = BTreeMap::new();
        let mut any_change = false;
        for key in &keys {
            expansion.bind(&mut ctx, key);
            if !rc.lifecycle.preconditions.is_empty() {
                let ia = addr.instance(key.clone());
                let (failures, _) = conditions::evaluate_all(
                    &rc.lifecycle.preconditions,
                    &ctx,
                    "resource precondition",
                    &ia.to_string(),
                );
                if !failures.is_empty() {
                    self.diags.extend(failures);
                    inst_values.insert(key.clone(), hcl::Value::unknown());
                    continue;
                }
            }
            let mut errors = Vec::new();
            let (cfg, marks) = eval_body(&rc.block, &schema, &mut ctx, &rc.file, &mut errors);
            if !errors.is_empty() {
                self.diags.extend(errors);
                inst_values.insert(key.clone(), hcl::Value::unknown());
                continue;
            }
            let ia = addr.instance(key.clone());
            let change = if addr.mode == ResourceMode::Data {
                self.plan_data(rc, &ia, &schema, &provider, cfg, marks, deps_pending)
                    .await?
            } else {
                let trigger = match prior_ctx.as_mut() {
                    Some(pctx) => {
                        expansion.bind(pctx, key);
                        self.trigger(rc, &ctx, pctx)
                    }
                    None => None,
                };
                let prior = prior_instances.get(key).and_then(|i| i.current.as_ref());
                self.plan_managed(rc, &ia, &schema, &provider, cfg, marks, prior, trigger)
                    .await?
            };
            let shown = if change.action == Action::NoOp && addr.mode == ResourceMode::Managed {
                &change.before
            } else {
                &change.after
            };
            if !rc.lifecycle.postconditions.is_empty() && change.action != Action::Delete {
                // `self` is the planned object; parts known only after apply make the
                // condition unknown, and it is checked again then.
                let mut pctx = ctx.clone();
                pctx.set_variable(
                    "self",
                    object_to_hcl(shown, &schema, &change.sensitive_paths),
                );
                let (failures, _) = conditions::evaluate_all(
                    &rc.lifecycle.postconditions,
                    &pctx,
                    "resource postcondition",
                    &change.addr.to_string(),
                );
                self.diags.extend(failures);
            }
            inst_values.insert(
                key.clone(),
                object_to_hcl(shown, &schema, &change.sensitive_paths),
            );
            any_change |= change.action != Action::NoOp;
            self.changes.push(change);
        }
        self.values
            .resources
            .insert(addr.clone(), expansion.assemble(inst_values));
        if addr.mode == ResourceMode::Managed {
            let wanted: BTreeSet<&InstanceKey> = keys.iter().collect();
            for (key, inst) in &prior_instances {
                let ia = addr.instance(key.clone());
                if let Some(o) = &inst.current {
                    if !wanted.contains(key) {
                        let reason = match (&expansion, key) {
                            (Expansion::Count(_), InstanceKey::Int(i)) => {
                                format!("`count` no longer includes index {i}")
                            }
                            (Expansion::ForEach(_), InstanceKey::Str(k)) => {
                                format!("`for_each` no longer has the key \"{k}\"")
                            }
                            _ => "the instance key no longer matches `count`/`for_each`".to_owned(),
                        };
                        if rc.lifecycle.prevent_destroy {
                            return Err(prevent_destroy(rc, &ia, &reason));
                        }
                        self.changes
                            .push(delete_change(&ia, &rc.provider, o, reason, None));
                        any_change = true;
                    }
                }
                for d in &inst.deposed {
                    self.changes.push(delete_change(
                        &ia,
                        &rc.provider,
                        d,
                        "a deposed object left by a create-before-destroy replacement".into(),
                        Some(d.create_token.clone()),
                    ));
                    any_change = true;
                }
            }
        }
        if any_change {
            self.pending.insert(addr.clone());
        }
        Ok(())
    }

    /// Whether a `replace_triggered_by` expression changes between the prior and planned values.
    fn trigger(
        &self,
        rc: &ResourceConfig,
        ctx: &vitrina_hcl::eval::EvalContext,
        prior_ctx: &vitrina_hcl::eval::EvalContext,
    ) -> Option<String> {
        for expr in &rc.lifecycle.replace_triggered_by {
            let name = hcl::references(expr)
                .first()
                .map(ToString::to_string)
                .unwrap_or_else(|| "expression".into());
            let new = eval_expr(expr, ctx, &rc.file).map(|v| v.unmark_deep().0);
            let old = eval_expr(expr, prior_ctx, &rc.file).map(|v| v.unmark_deep().0);
            match (new, old) {
                (Ok(n), Ok(o)) if n.is_wholly_known() && n.equals(&o) => {}
                _ => return Some(format!("`replace_triggered_by`: `{name}` changes")),
            }
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_managed(
        &mut self,
        rc: &ResourceConfig,
        ia: &InstanceAddr,
        schema: &Schema,
        provider: &Arc<dyn ConfiguredProvider>,
        cfg: Value,
        marks: Vec<Vec<PathStep>>,
        prior: Option<&crate::state::ObjectState>,
        trigger: Option<String>,
    ) -> Result<ResourceChange, Diagnostic> {
        let plan_err = |e: crate::provider::ProviderError| {
            Diagnostic::error(
                run_codes::PROVIDER,
                rc.span.clone(),
                format!("cannot plan `{ia}`: {}", error_chain(&e)),
            )
        };
        let plan_create = |cfg: Value| {
            let proposed = propose(schema, None, &cfg, &IgnoreChanges::None);
            provider.plan(PlanRequest {
                type_name: ia.resource.type_name.clone(),
                prior: Value::Null,
                config: cfg,
                proposed,
            })
        };
        let sensitive = |v: &Value| {
            let mut s = schema.sensitive_paths(v);
            for m in &marks {
                if !s.contains(m) {
                    s.push(m.clone());
                }
            }
            s
        };
        let mut change = ResourceChange {
            addr: ia.clone(),
            provider: rc.provider.clone(),
            action: Action::Create,
            reasons: Vec::new(),
            before: Value::Null,
            after: Value::Null,
            sensitive_paths: Vec::new(),
            replace_paths: Vec::new(),
            create_before_destroy: rc.lifecycle.create_before_destroy,
            deposed: None,
        };
        let prior = match prior {
            Some(o) if o.status == ObjectStatus::Creating => {
                change.reasons.push("a previous create did not finish; it is repeated with the same idempotency token".into());
                None
            }
            other => other,
        };
        let Some(prior) = prior else {
            let resp = plan_create(cfg).await.map_err(plan_err)?;
            change.sensitive_paths = sensitive(&resp.planned);
            change.after = resp.planned;
            return Ok(change);
        };
        change.before = prior.attributes.clone();
        let proposed = propose(
            schema,
            Some(&prior.attributes),
            &cfg,
            &rc.lifecycle.ignore_changes,
        );
        let resp = provider
            .plan(PlanRequest {
                type_name: ia.resource.type_name.clone(),
                prior: prior.attributes.clone(),
                config: cfg.clone(),
                proposed,
            })
            .await
            .map_err(plan_err)?;
        let changed = changed_names(schema, &prior.attributes, &resp.planned);
        for n in &changed {
            if is_force_new(schema, n) {
                change.replace_paths.push(vec![PathStep::Attr(n.clone())]);
                change.reasons.push(format!("`{n}` forces replacement"));
            }
        }
        for p in &resp.requires_replace {
            if !change.replace_paths.contains(p) && prior.attributes.at(p) != resp.planned.at(p) {
                change.replace_paths.push(p.clone());
                change
                    .reasons
                    .push(format!("`{}` forces replacement", path_to_string(p)));
            }
        }
        if prior.status == ObjectStatus::Tainted {
            change
                .reasons
                .insert(0, "tainted: a previous apply failed part-way".into());
            change.action = Action::Replace;
        } else if let Some(t) = trigger {
            change.reasons.push(t);
            change.action = Action::Replace;
        } else if !change.replace_paths.is_empty() {
            change.action = Action::Replace;
        } else if !changed.is_empty() {
            change.action = Action::Update;
            change
                .reasons
                .extend(changed.iter().map(|n| format!("`{n}` changes")));
        } else {
            change.action = Action::NoOp;
        }
        match change.action {
            Action::Replace => {
                if rc.lifecycle.prevent_destroy {
                    return Err(prevent_destroy(rc, ia, &change.reasons.join("; ")));
                }
                let resp = plan_create(cfg).await.map_err(plan_err)?;
                change.after = resp.planned;
            }
            _ => change.after = resp.planned,
        }
        let mut s = sensitive(&change.after);
        for p in &prior.sensitive_paths {
            if !s.contains(p) {
                s.push(p.clone());
            }
        }
        change.sensitive_paths = s;
        Ok(change)
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_data(
        &mut self,
        rc: &ResourceConfig,
        ia: &InstanceAddr,
        schema: &Schema,
        provider: &Arc<dyn ConfiguredProvider>,
        cfg: Value,
        marks: Vec<Vec<PathStep>>,
        deps_pending: bool,
    ) -> Result<ResourceChange, Diagnostic> {
        let mut change = ResourceChange {
            addr: ia.clone(),
            provider: rc.provider.clone(),
            action: Action::NoOp,
            reasons: Vec::new(),
            before: Value::Null,
            after: Value::Null,
            sensitive_paths: Vec::new(),
            replace_paths: Vec::new(),
            create_before_destroy: false,
            deposed: None,
        };
        if cfg.is_wholly_known() && !deps_pending {
            let _permit = self.semaphore.acquire().await;
            let v = provider
                .read_data(ReadDataRequest {
                    type_name: ia.resource.type_name.clone(),
                    config: cfg,
                })
                .await
                .map_err(|e| {
                    Diagnostic::error(
                        run_codes::PROVIDER,
                        rc.span.clone(),
                        format!("cannot read `{ia}`: {}", error_chain(&e)),
                    )
                })?;
            change.after = v;
        } else {
            change.action = Action::Read;
            change.reasons.push(if deps_pending {
                "a resource it depends on has changes pending".into()
            } else {
                "its configuration holds values known only after apply".into()
            });
            change.after = propose(schema, None, &cfg, &IgnoreChanges::None);
        }
        let mut s = schema.sensitive_paths(&change.after);
        s.extend(marks);
        change.sensitive_paths = s;
        Ok(change)
    }

    fn output(&mut self, name: &str) -> Option<PlannedOutput> {
        let o = &self.config.outputs[name];
        let expr = &o.value.as_ref()?.expr;
        let ctx = self.values.context(&o.references, &self.config.dir);
        if self.mode == PlanMode::Destroy {
            return None;
        }
        if !o.preconditions.is_empty() {
            let (failures, _) = conditions::evaluate_all(
                &o.preconditions,
                &ctx,
                "output precondition",
                &format!("output.{name}"),
            );
            if !failures.is_empty() {
                self.diags.extend(failures);
                return None;
            }
        }
        let v = match eval_expr(expr, &ctx, &o.span.file) {
            Ok(v) => v,
            Err(d) => {
                self.diags.push(d);
                return None;
            }
        };
        if v.contains_sensitive() && !o.sensitive {
            self.diags.push(
                Diagnostic::error(
                    run_codes::OUTPUT,
                    o.span.clone(),
                    format!("output `{name}` holds sensitive values"),
                )
                .with_help("add `sensitive = true` to the output block"),
            );
            return None;
        }
        let (plain, _) = from_hcl(&v);
        // A root output whose value is null is not stored: Terraform removes null root outputs
        // from the state ("Null root outputs are removed entirely", `setValue` in
        // hashicorp/terraform `internal/terraform/node_output.go`), so `output` does not list
        // them; planning one removes an earlier value.
        if plain.is_null() {
            return self.state.outputs.get(name).map(|prev| PlannedOutput {
                value: Value::Null,
                sensitive: prev.sensitive,
                action: Action::Delete,
            });
        }
        let action = match self.state.outputs.get(name) {
            None => Action::Create,
            Some(prev)
                if plain.is_wholly_known()
                    && Value::from_json(&prev.value) == plain
                    && prev.sensitive == o.sensitive =>
            {
                Action::NoOp
            }
            Some(_) => Action::Update,
        };
        Some(PlannedOutput {
            value: plain,
            sensitive: o.sensitive,
            action,
        })
    }

    /// Deletes for resources in the state that are no longer configured (and, in destroy mode,
    /// for everything).
    async fn orphans(&mut self) {
        let addrs: Vec<ResourceAddr> = self.state.resources.keys().cloned().collect();
        for addr in addrs {
            if addr.mode == ResourceMode::Data {
                continue;
            }
            let in_config = self.config.resources.get(&addr);
            if in_config.is_some() && self.mode == PlanMode::Normal {
                continue;
            }
            let Some(rs) = self.state.resources.get(&addr).cloned() else {
                continue;
            };
            if in_config.is_none() {
                if let Ok(provider) = self.provider(&rs.provider).await {
                    if let Err(d) = self.refresh(&addr, &provider).await {
                        self.diags.push(d);
                    }
                }
            }
            let Some(rs) = self.state.resources.get(&addr).cloned() else {
                continue;
            };
            for (key, inst) in &rs.instances {
                let ia = addr.instance(key.clone());
                if let Some(o) = &inst.current {
                    let reason = if self.mode == PlanMode::Destroy {
                        "destroying everything".to_owned()
                    } else {
                        format!("`{addr}` is no longer in the configuration")
                    };
                    if let Some(rc) = in_config.filter(|rc| rc.lifecycle.prevent_destroy) {
                        self.diags.push(prevent_destroy(rc, &ia, &reason));
                        continue;
                    }
                    self.changes
                        .push(delete_change(&ia, &rs.provider, o, reason, None));
                }
                for d in &inst.deposed {
                    self.changes.push(delete_change(
                        &ia,
                        &rs.provider,
                        d,
                        "a deposed object left by a create-before-destroy replacement".into(),
                        Some(d.create_token.clone()),
                    ));
                }
            }
        }
    }
}

fn delete_change(
    ia: &InstanceAddr,
    provider: &str,
    o: &crate::state::ObjectState,
    reason: String,
    deposed: Option<String>,
) -> ResourceChange {
    ResourceChange {
        addr: ia.clone(),
        provider: provider.to_owned(),
        action: Action::Delete,
        reasons: vec![reason],
        before: o.attributes.clone(),
        after: Value::Null,
        sensitive_paths: o.sensitive_paths.clone(),
        replace_paths: Vec::new(),
        create_before_destroy: false,
        deposed,
    }
}

fn prevent_destroy(rc: &ResourceConfig, ia: &InstanceAddr, reason: &str) -> Diagnostic {
    Diagnostic::error(
        run_codes::PREVENT_DESTROY,
        rc.span.clone(),
        format!("`{ia}` has `lifecycle.prevent_destroy` set, but the plan would destroy it ({reason})"),
    )
    .with_help("remove `prevent_destroy` first if destroying it is intended, or undo the change that replaces it")
}
