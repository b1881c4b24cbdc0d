//! Apply: walk the configuration graph (plus a destroy node per resource that loses objects) in
//! parallel; every provider operation is bracketed by state commits, so a crash loses at most
//! the operations in flight, and a create interrupted by a crash is repeated with the same
//! idempotency token.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};
use vitrina_hcl as hcl;

use super::bridge::{object_to_hcl, type_json};
use super::conditions;
use super::eval::{eval_body, eval_expr, expand, Values};
use super::graph::{ConfigGraph, NodeKind};
use super::plan::{configure_provider, error_chain, propose, state_resource_value};
use super::{run_codes, vars, Engine, PlannedRun, Schemas};
use crate::addr::{InstanceAddr, InstanceKey, ResourceAddr, ResourceMode};
use crate::config::{Config, IgnoreChanges};
use crate::graph::Graph;
use crate::plan::{Action, PlanMode, ResourceChange};
use crate::provider::{
    ConfiguredProvider, CreateRequest, DeleteRequest, ErrorKind, PlanRequest, ReadDataRequest,
    Schema, UpdateRequest,
};
use crate::state::sync::SyncState;
use crate::state::{ObjectState, ObjectStatus, OutputState};
use crate::value::{PathStep, Value};
use crate::walk::walk;

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Errors (and warnings) met; the apply failed when any is an error.
    pub diagnostics: Diagnostics,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    /// The kind of every provider failure met (timeouts count as [`ErrorKind::Timeout`]).
    pub error_kinds: Vec<ErrorKind>,
    /// The run stopped early because its [`crate::cancel::Cancel`] was cancelled.
    pub cancelled: bool,
}

impl ApplyReport {
    pub fn is_success(&self) -> bool {
        !self.diagnostics.has_errors()
    }

    /// Whether running the same apply again may succeed: the run was cancelled, or every
    /// provider failure it met is of a retryable kind (a failure with no provider error — an
    /// expression, a condition — is not).
    pub fn retryable(&self) -> bool {
        self.is_success()
            || self.cancelled
            || (!self.error_kinds.is_empty() && self.error_kinds.iter().all(|k| k.retryable()))
    }
}

/// The kind of a provider's error (an [`ApplyError`](crate::provider::ApplyError) or a
/// [`ProviderError`](crate::provider::ProviderError)); anything else is `Unknown`.
pub(crate) fn kind_of(e: &(dyn std::error::Error + 'static)) -> ErrorKind {
    if let Some(a) = e.downcast_ref::<crate::provider::ApplyError>() {
        return a.error.kind;
    }
    if let Some(p) = e.downcast_ref::<crate::provider::ProviderError>() {
        return p.kind;
    }
    ErrorKind::Unknown
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ApplyNode {
    Config(NodeKind),
    Destroy(ResourceAddr),
}

struct Shared {
    engine: Engine,
    config: Arc<Config>,
    planned: Arc<PlannedRun>,
    schemas: Schemas,
    cg: ConfigGraph,
    values: RwLock<Values>,
    providers: tokio::sync::Mutex<BTreeMap<String, Arc<dyn ConfiguredProvider>>>,
    sync: Arc<SyncState>,
    sem: Arc<Semaphore>,
    diags: Mutex<Vec<Diagnostic>>,
    counts: Mutex<(usize, usize, usize)>,
    kinds: Mutex<Vec<ErrorKind>>,
    /// Index of `planned.plan.changes` by resource.
    by_resource: BTreeMap<ResourceAddr, Vec<usize>>,
}

pub(crate) async fn apply(
    engine: &Engine,
    config: &Config,
    planned: &PlannedRun,
    sync: Arc<SyncState>,
) -> ApplyReport {
    let mut report = ApplyReport::default();
    let mut diags = Diagnostics::new();
    let flat = match super::modules::expand(config, &planned.vars, false) {
        Ok(f) => f,
        Err(d) => {
            report.diagnostics = d;
            return report;
        }
    };
    let config: &Config = &flat;
    let cg = ConfigGraph::build(config, &mut diags);
    let schemas = engine.schemas(config, &mut diags);
    if diags.has_errors() {
        report.diagnostics = diags;
        return report;
    }
    let mut by_resource: BTreeMap<ResourceAddr, Vec<usize>> = BTreeMap::new();
    for (i, c) in planned.plan.changes.iter().enumerate() {
        by_resource
            .entry(c.addr.resource.clone())
            .or_default()
            .push(i);
    }
    let generated = planned.prior.generated.clone();
    let (_, v) = sync.update(|s| vars::keep_generated(s, &generated));
    if let Err(e) = sync.persist(v).await {
        report.diagnostics.push(state_error(&e));
        return report;
    }

    // Nodes: the configuration's, plus one destroy node per resource losing objects.
    let mut nodes: Vec<ApplyNode> = cg.nodes.iter().cloned().map(ApplyNode::Config).collect();
    let mut destroy_index: BTreeMap<ResourceAddr, usize> = BTreeMap::new();
    for (addr, idxs) in &by_resource {
        let destroys = idxs.iter().any(|&i| {
            let c = &planned.plan.changes[i];
            c.action == Action::Delete || (c.action == Action::Replace && !c.create_before_destroy)
        });
        if destroys {
            destroy_index.insert(addr.clone(), nodes.len());
            nodes.push(ApplyNode::Destroy(addr.clone()));
        }
    }
    let mut graph = Graph::with_nodes(nodes.len());
    for from in 0..cg.graph.len() {
        for &to in cg.graph.dependencies(from) {
            graph.add_edge(from, to);
        }
    }
    // Who depends on whom, from the configuration and from the state.
    let mut depends: BTreeMap<ResourceAddr, BTreeSet<ResourceAddr>> = cg.resource_deps.clone();
    for (addr, rs) in &planned.prior.resources {
        for inst in rs.instances.values() {
            for o in inst.current.iter().chain(inst.deposed.iter()) {
                depends
                    .entry(addr.clone())
                    .or_default()
                    .extend(o.dependencies.iter().cloned());
            }
        }
    }
    for (addr, &dn) in &destroy_index {
        if let Some(&an) = cg.index.get(&NodeKind::Resource(addr.clone())) {
            graph.add_edge(an, dn);
        }
        let provider = planned
            .prior
            .resources
            .get(addr)
            .map(|r| r.provider.clone())
            .or_else(|| config.resources.get(addr).map(|r| r.provider.clone()));
        if let Some(p) = provider.and_then(|p| cg.index.get(&NodeKind::Provider(p)).copied()) {
            graph.add_edge(dn, p);
        }
        for (dependent, deps) in &depends {
            if dependent == addr || !deps.contains(addr) {
                continue;
            }
            if let Some(&dd) = destroy_index.get(dependent) {
                graph.add_edge(dn, dd);
            }
            // An orphan is destroyed after the configured resources that used it are updated.
            if !config.resources.contains_key(addr) {
                if let Some(&an) = cg.index.get(&NodeKind::Resource(dependent.clone())) {
                    graph.add_edge(dn, an);
                }
            }
        }
    }
    if let Err(cycles) = graph.topological_order() {
        for c in cycles {
            let names: Vec<String> = c.iter().map(|&n| describe(&nodes[n])).collect();
            report.diagnostics.push(Diagnostic::error(
                crate::config::codes::CYCLE,
                Span::file_start(""),
                format!("the apply order has a cycle: {}", names.join(" → ")),
            ));
        }
        return report;
    }

    let mut values = Values::new(&config.dir, &engine.workspace, planned.vars.clone());
    values.modules = Arc::new(super::eval::ModuleIndex::of(config));
    if planned.plan.mode == PlanMode::Destroy {
        for rc in config.resources.values() {
            if let Some(schema) = schemas.resource_in(&rc.provider, &rc.addr) {
                let v = state_resource_value(&planned.prior, &rc.addr, schema)
                    .unwrap_or(hcl::Value::Null);
                values.resources.insert(rc.addr.clone(), v);
            }
        }
    }
    let shared = Arc::new(Shared {
        engine: engine.clone(),
        config: Arc::new(config.clone()),
        planned: Arc::new(planned.clone()),
        schemas,
        cg,
        values: RwLock::new(values),
        providers: tokio::sync::Mutex::new(BTreeMap::new()),
        sync,
        sem: Arc::new(Semaphore::new(engine.parallelism.max(1))),
        diags: Mutex::new(Vec::new()),
        counts: Mutex::new((0, 0, 0)),
        kinds: Mutex::new(Vec::new()),
        by_resource,
    });
    let nodes = Arc::new(nodes);
    let s2 = shared.clone();
    let n2 = nodes.clone();
    let _outcome = walk(&graph, move |n| {
        let shared = s2.clone();
        let node = n2[n].clone();
        Box::pin(async move {
            if shared.engine.cancel.is_cancelled() {
                lock(&shared.diags).push(cancelled(&describe(&node)));
                return Err(());
            }
            let result = match &node {
                ApplyNode::Config(kind) => shared.visit(kind).await,
                ApplyNode::Destroy(addr) => shared.destroy(addr).await,
            };
            result.map_err(|errs| {
                lock(&shared.diags).extend(errs);
            })
        })
    })
    .await;

    // Outputs and data sources that are no longer configured leave the state.
    let destroy = planned.plan.mode == PlanMode::Destroy;
    let config_outputs: BTreeSet<String> = config.outputs.keys().cloned().collect();
    let config_resources: BTreeSet<ResourceAddr> = config.resources.keys().cloned().collect();
    let result = shared
        .sync
        .commit(|s| {
            s.outputs
                .retain(|k, _| !destroy && config_outputs.contains(k));
            s.resources.retain(|a, _| {
                a.mode == ResourceMode::Managed || (!destroy && config_resources.contains(a))
            });
        })
        .await;
    if let Err(e) = result {
        lock(&shared.diags).push(state_error(&e));
    }
    let (added, changed, destroyed) = *lock(&shared.counts);
    report.added = added;
    report.changed = changed;
    report.destroyed = destroyed;
    report.error_kinds = std::mem::take(&mut *lock(&shared.kinds));
    report.cancelled = engine.cancel.is_cancelled();
    report
        .diagnostics
        .extend(std::mem::take(&mut *lock(&shared.diags)));
    report
}

fn cancelled(what: &str) -> Diagnostic {
    Diagnostic::error(
        run_codes::CANCELLED,
        Span::file_start(""),
        format!("the run was cancelled before `{what}`"),
    )
}

fn describe(n: &ApplyNode) -> String {
    match n {
        ApplyNode::Config(k) => k.to_string(),
        ApplyNode::Destroy(a) => format!("{a} (destroy)"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn state_error(e: &crate::state::store::StateStoreError) -> Diagnostic {
    Diagnostic::error(run_codes::STATE, Span::file_start(""), error_chain(e))
}

/// Whether every known part of `planned` is equal in `actual`.
fn compatible(planned: &Value, actual: &Value) -> bool {
    match (planned, actual) {
        (Value::Unknown, _) => true,
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| compatible(x, y))
        }
        (Value::Map(a), Value::Map(b)) => a
            .iter()
            .all(|(k, x)| compatible(x, b.get(k).unwrap_or(&Value::Null))),
        (a, b) => a == b,
    }
}

/// Runs a provider call under an optional timeout, reporting "still …" every ten seconds.
async fn timed<T>(
    shared: &Shared,
    ia: &InstanceAddr,
    action: Action,
    timeout: Option<Duration>,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Duration> {
    let start = Instant::now();
    let deadline = timeout.map(|d| tokio::time::Instant::now() + d);
    tokio::pin!(fut);
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(10),
        Duration::from_secs(10),
    );
    loop {
        tokio::select! {
            r = &mut fut => return Ok(r),
            _ = ticker.tick() => shared.engine.hooks.still_applying(ia, action, start.elapsed()),
            () = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            } => return Err(timeout.unwrap_or_else(|| start.elapsed())),
        }
    }
}

impl Shared {
    fn config_span(&self, addr: &ResourceAddr) -> Span {
        self.config
            .resources
            .get(addr)
            .map(|r| r.span.clone())
            .unwrap_or_else(|| Span::file_start(""))
    }

    async fn provider(&self, addr: &str) -> Result<Arc<dyn ConfiguredProvider>, Diagnostic> {
        let mut map = self.providers.lock().await;
        if let Some(p) = map.get(addr) {
            return Ok(p.clone());
        }
        let values = self
            .values
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let p = configure_provider(&self.engine, &self.config, &values, addr).await?;
        map.insert(addr.to_owned(), p.clone());
        Ok(p)
    }

    fn schema(&self, provider: &str, addr: &ResourceAddr) -> Option<Schema> {
        self.schemas
            .resource_or_registered(&self.engine.registry, provider, addr)
    }

    fn count(&self, action: Action) {
        let mut c = lock(&self.counts);
        match action {
            Action::Create => c.0 += 1,
            Action::Update => c.1 += 1,
            Action::Replace => {
                c.0 += 1;
                c.2 += 1;
            }
            Action::Delete => c.2 += 1,
            Action::NoOp | Action::Read => {}
        }
    }

    async fn visit(self: &Arc<Self>, kind: &NodeKind) -> Result<(), Vec<Diagnostic>> {
        let destroy = self.planned.plan.mode == PlanMode::Destroy;
        match kind {
            NodeKind::Provider(addr) => {
                self.provider(addr).await.map_err(|d| vec![d])?;
                Ok(())
            }
            NodeKind::Local(name) => {
                let l = &self.config.locals[name];
                let v = super::eval::eval_local(&self.read_values(), l, &self.config.dir)
                    .map_err(|d| vec![d])?;
                self.write_values().locals.insert(name.clone(), v);
                Ok(())
            }
            NodeKind::Resource(_) if destroy => Ok(()),
            NodeKind::Resource(addr) => self.resource(addr).await,
            NodeKind::Check(_) if destroy => Ok(()),
            NodeKind::Check(name) => {
                let c = &self.config.checks[name];
                let ctx = self.read_values().context(&c.references, &self.config.dir);
                let warnings = super::plan::check_warnings(c, &ctx);
                lock(&self.diags).extend(warnings);
                Ok(())
            }
            NodeKind::Output(_) if destroy => Ok(()),
            NodeKind::Output(name) => {
                let o = &self.config.outputs[name];
                let Some(attr) = &o.value else { return Ok(()) };
                let ctx = self.read_values().context(&o.references, &self.config.dir);
                let (failures, _) = conditions::evaluate_all(
                    &o.preconditions,
                    &ctx,
                    "output precondition",
                    &format!("output.{name}"),
                );
                if !failures.is_empty() {
                    return Err(failures);
                }
                let v = eval_expr(&attr.expr, &ctx, &o.span.file).map_err(|d| vec![d])?;
                let name = name.clone();
                if v.unmarked().is_null() {
                    // Null root outputs are left out of the state (see `plan::output`).
                    self.sync
                        .commit(move |s| {
                            s.outputs.remove(&name);
                        })
                        .await
                        .map_err(|e| vec![state_error(&e)])?;
                    return Ok(());
                }
                let ty = type_json(&v.type_of());
                let Some(json) = v.to_json() else {
                    return Err(vec![Diagnostic::error(
                        run_codes::OUTPUT,
                        o.span.clone(),
                        format!("output `{name}` is still unknown after apply"),
                    )]);
                };
                let state = OutputState {
                    value: json,
                    sensitive: o.sensitive,
                    type_: ty,
                };
                self.sync
                    .commit(move |s| {
                        s.outputs.insert(name, state);
                    })
                    .await
                    .map_err(|e| vec![state_error(&e)])?;
                Ok(())
            }
        }
    }

    fn read_values(&self) -> std::sync::RwLockReadGuard<'_, Values> {
        self.values
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_values(&self) -> std::sync::RwLockWriteGuard<'_, Values> {
        self.values
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn change_for(&self, ia: &InstanceAddr) -> Option<&ResourceChange> {
        self.by_resource
            .get(&ia.resource)?
            .iter()
            .map(|&i| &self.planned.plan.changes[i])
            .find(|c| c.addr.key == ia.key && c.deposed.is_none())
    }

    async fn resource(self: &Arc<Self>, addr: &ResourceAddr) -> Result<(), Vec<Diagnostic>> {
        let rc = &self.config.resources[addr];
        let schema = self.schema(&rc.provider, addr).ok_or_else(|| {
            vec![Diagnostic::error(
                run_codes::PROVIDER,
                rc.span.clone(),
                format!("no schema for `{addr}`"),
            )]
        })?;
        let provider = self.provider(&rc.provider).await.map_err(|d| vec![d])?;
        let mut ctx =
            self.read_values()
                .context_in(&rc.addr.module, &rc.references, &self.config.dir);
        let expansion = expand(rc, &ctx).map_err(|d| vec![d])?;
        let deps: Vec<ResourceAddr> = self
            .cg
            .resource_deps
            .get(addr)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default();
        let mut results: BTreeMap<InstanceKey, hcl::Value> = BTreeMap::new();
        let mut errors = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for key in expansion.keys() {
            let ia = addr.instance(key.clone());
            let Some(change) = self.change_for(&ia).cloned() else {
                errors.push(Diagnostic::error(
                    run_codes::EVAL,
                    rc.span.clone(),
                    format!("`{ia}` was not in the plan: `count`/`for_each` changed between plan and apply"),
                ));
                continue;
            };
            if change.action == Action::NoOp && addr.mode == ResourceMode::Managed {
                let current = self.sync.read(|s| s.current(&ia).cloned());
                let v = match current {
                    Some(o) => object_to_hcl(&o.attributes, &schema, &o.sensitive_paths),
                    None => object_to_hcl(&change.before, &schema, &change.sensitive_paths),
                };
                results.insert(key, v);
                continue;
            }
            if change.action == Action::NoOp {
                // A data source read during plan: record it.
                let obj = data_object(&change.after, &schema, &change.sensitive_paths, &deps);
                results.insert(
                    key,
                    object_to_hcl(&change.after, &schema, &obj.sensitive_paths),
                );
                let (_, v) = self
                    .sync
                    .update(|s| s.set_current(&ia, &rc.provider, Some(obj)));
                self.sync
                    .persist(v)
                    .await
                    .map_err(|e| vec![state_error(&e)])?;
                continue;
            }
            expansion.bind(&mut ctx, &key);
            let (failures, _) = conditions::evaluate_all(
                &rc.lifecycle.preconditions,
                &ctx,
                "resource precondition",
                &ia.to_string(),
            );
            if !failures.is_empty() {
                errors.extend(failures);
                continue;
            }
            let mut errs = Vec::new();
            let (cfg, marks) = eval_body(&rc.block, &schema, &mut ctx, &rc.file, &mut errs);
            if !errs.is_empty() {
                errors.extend(errs);
                continue;
            }
            if !cfg.is_wholly_known() {
                errors.push(Diagnostic::error(
                    run_codes::EVAL,
                    rc.span.clone(),
                    format!("the configuration of `{ia}` is still unknown during apply"),
                ));
                continue;
            }
            let shared = self.clone();
            let provider = provider.clone();
            let schema = schema.clone();
            let deps = deps.clone();
            let rc_addr = addr.clone();
            let post_ctx = (!rc.lifecycle.postconditions.is_empty()).then(|| ctx.clone());
            tasks.spawn(async move {
                let r = shared
                    .apply_instance(&rc_addr, &ia, &schema, &provider, &change, cfg, marks, deps)
                    .await;
                let r = r.map(|(v, s)| object_to_hcl(&v, &schema, &s));
                // Postconditions see the new object as `self`; a failure stops the
                // resource's dependents (the object itself stays in the state).
                let r = match (r, post_ctx) {
                    (Ok(v), Some(mut pctx)) => {
                        pctx.set_variable("self", v.clone());
                        let rc = &shared.config.resources[&rc_addr];
                        let (mut failures, _) = conditions::evaluate_all(
                            &rc.lifecycle.postconditions,
                            &pctx,
                            "resource postcondition",
                            &ia.to_string(),
                        );
                        if failures.is_empty() {
                            Ok(v)
                        } else {
                            Err(failures.remove(0))
                        }
                    }
                    (r, _) => r,
                };
                (ia.key.clone(), r)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((key, Ok(v))) => {
                    results.insert(key, v);
                }
                Ok((_, Err(d))) => errors.push(d),
                Err(e) => errors.push(Diagnostic::error(
                    run_codes::PROVIDER,
                    rc.span.clone(),
                    format!("an operation on `{addr}` crashed: {e}"),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.write_values()
            .resources
            .insert(addr.clone(), expansion.assemble(results));
        Ok(())
    }

    /// Creates, updates or replaces one instance; returns the new object and its sensitive paths.
    #[allow(clippy::too_many_arguments)]
    async fn apply_instance(
        &self,
        addr: &ResourceAddr,
        ia: &InstanceAddr,
        schema: &Schema,
        provider: &Arc<dyn ConfiguredProvider>,
        change: &ResourceChange,
        cfg: Value,
        marks: Vec<Vec<PathStep>>,
        deps: Vec<ResourceAddr>,
    ) -> Result<(Value, Vec<Vec<PathStep>>), Diagnostic> {
        let rc = &self.config.resources[addr];
        let span = rc.span.clone();
        let perr = |what: &str, e: &(dyn std::error::Error + 'static)| {
            lock(&self.kinds).push(kind_of(e));
            Diagnostic::error(
                run_codes::PROVIDER,
                span.clone(),
                format!("{what} `{ia}` failed: {}", error_chain(e)),
            )
        };
        let provider_addr = rc.provider.clone();
        let sensitive = |v: &Value| {
            let mut s = schema.sensitive_paths(v);
            for m in &marks {
                if !s.contains(m) {
                    s.push(m.clone());
                }
            }
            s
        };

        if addr.mode == ResourceMode::Data {
            let _permit = self.sem.acquire().await;
            self.engine.hooks.pre_apply(ia, Action::Read);
            let start = Instant::now();
            let r = provider
                .read_data(ReadDataRequest {
                    type_name: addr.type_name.clone(),
                    config: cfg,
                })
                .await;
            let err = r.as_ref().err().map(|e| error_chain(e));
            self.engine
                .hooks
                .post_apply(ia, Action::Read, None, start.elapsed(), err.as_deref());
            let v = r.map_err(|e| perr("reading", &e))?;
            let obj = data_object(&v, schema, &sensitive(&v), &deps);
            let paths = obj.sensitive_paths.clone();
            self.sync
                .commit(|s| s.set_current(ia, &provider_addr, Some(obj)))
                .await
                .map_err(|e| state_error(&e))?;
            return Ok((v, paths));
        }

        let current = self.sync.read(|s| s.current(ia).cloned());
        let updating = change.action == Action::Update;
        let prior = if updating {
            current.as_ref().map(|o| o.attributes.clone())
        } else {
            None
        };
        let proposed = propose(
            schema,
            prior.as_ref(),
            &cfg,
            &if updating {
                rc.lifecycle.ignore_changes.clone()
            } else {
                IgnoreChanges::None
            },
        );
        let resp = provider
            .plan(PlanRequest {
                type_name: addr.type_name.clone(),
                prior: prior.clone().unwrap_or(Value::Null),
                config: cfg.clone(),
                proposed,
            })
            .await
            .map_err(|e| perr("planning", &e))?;
        if !compatible(&change.after, &resp.planned) {
            return Err(Diagnostic::error(
                run_codes::PROVIDER,
                span,
                format!(
                    "the final plan for `{ia}` differs from the plan: planned {}, now {}",
                    change.after, resp.planned
                ),
            )
            .with_help("run the plan again"));
        }
        let planned = resp.planned;

        if updating {
            let Some(cur) = current else {
                return Err(Diagnostic::error(
                    run_codes::PROVIDER,
                    span,
                    format!("`{ia}` is gone from the state; plan again"),
                ));
            };
            let permit = self.sem.acquire().await;
            if self.engine.cancel.is_cancelled() {
                return Err(cancelled(&ia.to_string()));
            }
            self.engine.hooks.pre_apply(ia, Action::Update);
            let start = Instant::now();
            let r = timed(
                self,
                ia,
                Action::Update,
                rc.timeouts.update,
                provider.update(UpdateRequest {
                    type_name: addr.type_name.clone(),
                    prior: cur.attributes.clone(),
                    config: cfg,
                    planned,
                    timeout: rc.timeouts.update,
                }),
            )
            .await;
            drop(permit);
            let (result, err) = match r {
                Ok(Ok(v)) => (Ok(v), None),
                Ok(Err(e)) => {
                    let msg = error_chain(&e);
                    let d = perr("updating", &e);
                    (Err((e.partial, d)), Some(msg))
                }
                Err(after) => {
                    lock(&self.kinds).push(ErrorKind::Timeout);
                    let d = Diagnostic::error(
                        run_codes::PROVIDER,
                        span.clone(),
                        format!(
                            "updating `{ia}` timed out after {}",
                            crate::duration::format_duration(after)
                        ),
                    );
                    (Err((None, d)), Some("timed out".to_owned()))
                }
            };
            let id = result
                .as_ref()
                .ok()
                .and_then(|v| v.get("id").as_str().map(str::to_owned));
            self.engine.hooks.post_apply(
                ia,
                Action::Update,
                id.as_deref(),
                start.elapsed(),
                err.as_deref(),
            );
            return match result {
                Ok(v) => {
                    let obj = ObjectState {
                        status: ObjectStatus::Ready,
                        sensitive_paths: sensitive(&v),
                        attributes: v.clone(),
                        dependencies: deps,
                        ..cur
                    };
                    let paths = obj.sensitive_paths.clone();
                    self.sync
                        .commit(|s| s.set_current(ia, &provider_addr, Some(obj)))
                        .await
                        .map_err(|e| state_error(&e))?;
                    self.engine.hooks.persisted(ia, Action::Update);
                    self.count(Action::Update);
                    Ok((v, paths))
                }
                Err((Some(partial), d)) => {
                    let obj = ObjectState {
                        status: ObjectStatus::Tainted,
                        sensitive_paths: sensitive(&partial),
                        attributes: partial,
                        dependencies: deps,
                        ..cur
                    };
                    self.sync
                        .commit(|s| s.set_current(ia, &provider_addr, Some(obj)))
                        .await
                        .map_err(|e| state_error(&e))?;
                    Err(d)
                }
                Err((None, d)) => Err(d),
            };
        }

        // Create (or the create half of a replace).
        let action = change.action;
        let cbd = action == Action::Replace && change.create_before_destroy;
        let resume = current
            .as_ref()
            .filter(|o| o.status == ObjectStatus::Creating)
            .map(|o| o.create_token.clone());
        let token = resume.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let deposed_token = if cbd {
            current
                .as_ref()
                .filter(|o| o.status != ObjectStatus::Creating)
                .map(|o| o.create_token.clone())
        } else {
            None
        };
        let creating = ObjectState {
            status: ObjectStatus::Creating,
            attributes: Value::from_json(&planned.to_json_lossy()),
            sensitive_paths: sensitive(&planned),
            dependencies: deps.clone(),
            create_token: token.clone(),
            schema_version: schema.version,
            create_before_destroy: rc.lifecycle.create_before_destroy,
        };
        self.sync
            .commit(|s| {
                if deposed_token.is_some() {
                    s.depose_current(ia, &provider_addr);
                }
                s.set_current(ia, &provider_addr, Some(creating.clone()));
            })
            .await
            .map_err(|e| state_error(&e))?;
        let permit = self.sem.acquire().await;
        if self.engine.cancel.is_cancelled() {
            return Err(cancelled(&ia.to_string()));
        }
        self.engine.hooks.pre_apply(ia, action);
        let start = Instant::now();
        let r = timed(
            self,
            ia,
            action,
            rc.timeouts.create,
            provider.create(CreateRequest {
                type_name: addr.type_name.clone(),
                config: cfg,
                planned,
                token: token.clone(),
                timeout: rc.timeouts.create,
            }),
        )
        .await;
        drop(permit);
        let (result, err) = match r {
            Ok(Ok(v)) => (Ok(v), None),
            Ok(Err(e)) => {
                let msg = error_chain(&e);
                let d = perr("creating", &e);
                (Err((e.partial, d, false)), Some(msg))
            }
            Err(after) => {
                lock(&self.kinds).push(ErrorKind::Timeout);
                let d = Diagnostic::error(
                    run_codes::PROVIDER,
                    span.clone(),
                    format!("creating `{ia}` timed out after {}", crate::duration::format_duration(after)),
                )
                .with_help("the next apply repeats the create with the same token, finding the object if it was made");
                (Err((None, d, true)), Some("timed out".to_owned()))
            }
        };
        let id = result
            .as_ref()
            .ok()
            .and_then(|v| v.get("id").as_str().map(str::to_owned));
        self.engine
            .hooks
            .post_apply(ia, action, id.as_deref(), start.elapsed(), err.as_deref());
        match result {
            Ok(v) => {
                let obj = ObjectState {
                    status: ObjectStatus::Ready,
                    sensitive_paths: sensitive(&v),
                    attributes: v.clone(),
                    ..creating
                };
                let paths = obj.sensitive_paths.clone();
                self.sync
                    .commit(|s| s.set_current(ia, &provider_addr, Some(obj)))
                    .await
                    .map_err(|e| state_error(&e))?;
                self.engine.hooks.persisted(ia, action);
                self.count(action);
                if let Some(dt) = deposed_token {
                    self.delete_deposed(addr, ia, provider, &dt).await?;
                }
                Ok((v, paths))
            }
            Err((partial, d, timed_out)) => {
                let next = match (partial, timed_out) {
                    (Some(p), _) => Some(ObjectState {
                        status: ObjectStatus::Tainted,
                        sensitive_paths: sensitive(&p),
                        attributes: p,
                        ..creating
                    }),
                    // The object may exist: keep the record, so the next apply repeats the create
                    // with the same token.
                    (None, true) => Some(creating),
                    (None, false) => None,
                };
                self.sync
                    .commit(|s| s.set_current(ia, &provider_addr, next))
                    .await
                    .map_err(|e| state_error(&e))?;
                Err(d)
            }
        }
    }

    async fn delete_deposed(
        &self,
        addr: &ResourceAddr,
        ia: &InstanceAddr,
        provider: &Arc<dyn ConfiguredProvider>,
        token: &str,
    ) -> Result<(), Diagnostic> {
        let obj = self.sync.read(|s| {
            s.instance(ia)
                .and_then(|i| i.deposed.iter().find(|o| o.create_token == token).cloned())
        });
        let Some(obj) = obj else { return Ok(()) };
        self.delete_object(addr, ia, provider, &obj, Some(token))
            .await
    }

    async fn delete_object(
        &self,
        addr: &ResourceAddr,
        ia: &InstanceAddr,
        provider: &Arc<dyn ConfiguredProvider>,
        obj: &ObjectState,
        deposed: Option<&str>,
    ) -> Result<(), Diagnostic> {
        let timeout = self
            .config
            .resources
            .get(addr)
            .and_then(|r| r.timeouts.delete);
        let permit = self.sem.acquire().await;
        if self.engine.cancel.is_cancelled() {
            return Err(cancelled(&ia.to_string()));
        }
        self.engine.hooks.pre_apply(ia, Action::Delete);
        let start = Instant::now();
        let r = timed(
            self,
            ia,
            Action::Delete,
            timeout,
            provider.delete(DeleteRequest {
                type_name: addr.type_name.clone(),
                prior: obj.attributes.clone(),
                timeout,
            }),
        )
        .await;
        drop(permit);
        let err = match &r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                lock(&self.kinds).push(e.error.kind);
                Some(error_chain(e))
            }
            Err(after) => {
                lock(&self.kinds).push(ErrorKind::Timeout);
                Some(format!(
                    "timed out after {}",
                    crate::duration::format_duration(*after)
                ))
            }
        };
        let id = obj.attributes.get("id").as_str().map(str::to_owned);
        self.engine.hooks.post_apply(
            ia,
            Action::Delete,
            id.as_deref(),
            start.elapsed(),
            err.as_deref(),
        );
        if let Some(e) = err {
            return Err(Diagnostic::error(
                run_codes::PROVIDER,
                self.config_span(addr),
                format!("destroying `{ia}` failed: {e}"),
            ));
        }
        let provider_addr = self
            .sync
            .read(|s| s.resources.get(addr).map(|r| r.provider.clone()))
            .unwrap_or_default();
        self.sync
            .commit(|s| match deposed {
                Some(t) => s.remove_deposed(ia, t),
                None => s.set_current(ia, &provider_addr, None),
            })
            .await
            .map_err(|e| state_error(&e))?;
        self.engine.hooks.persisted(ia, Action::Delete);
        Ok(())
    }

    async fn destroy(self: &Arc<Self>, addr: &ResourceAddr) -> Result<(), Vec<Diagnostic>> {
        let Some(idxs) = self.by_resource.get(addr) else {
            return Ok(());
        };
        let mut tasks = tokio::task::JoinSet::new();
        for &i in idxs {
            let change = self.planned.plan.changes[i].clone();
            let deletes = change.action == Action::Delete
                || (change.action == Action::Replace && !change.create_before_destroy);
            if !deletes {
                continue;
            }
            let obj = self.sync.read(|s| match &change.deposed {
                Some(t) => s
                    .instance(&change.addr)
                    .and_then(|inst| inst.deposed.iter().find(|o| &o.create_token == t).cloned()),
                None => s.current(&change.addr).cloned(),
            });
            // Already gone (a rerun after a crash), or a create that never finished.
            let Some(obj) = obj else { continue };
            if obj.status == ObjectStatus::Creating && change.action == Action::Replace {
                continue;
            }
            let shared = self.clone();
            let addr = addr.clone();
            tasks.spawn(async move {
                let provider = shared.provider(&change.provider).await?;
                shared
                    .delete_object(
                        &addr,
                        &change.addr,
                        &provider,
                        &obj,
                        change.deposed.as_deref(),
                    )
                    .await?;
                if change.action == Action::Delete {
                    shared.count(Action::Delete);
                }
                Ok::<(), Diagnostic>(())
            });
        }
        let mut errors = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(d)) => errors.push(d),
                Err(e) => errors.push(Diagnostic::error(
                    run_codes::PROVIDER,
                    self.config_span(addr),
                    format!("destroying `{addr}` crashed: {e}"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn data_object(
    v: &Value,
    schema: &Schema,
    marks: &[Vec<PathStep>],
    deps: &[ResourceAddr],
) -> ObjectState {
    let mut paths = schema.sensitive_paths(v);
    for m in marks {
        if !paths.contains(m) {
            paths.push(m.clone());
        }
    }
    ObjectState {
        status: ObjectStatus::Ready,
        attributes: v.clone(),
        sensitive_paths: paths,
        dependencies: deps.to_vec(),
        create_token: String::new(),
        schema_version: schema.version,
        create_before_destroy: false,
    }
}
