//! Evaluation for the orchestrator: the values known so far (variables, locals, resources),
//! contexts built from an expression's references, `count`/`for_each` expansion, and resource
//! bodies evaluated against their schema (with `dynamic` blocks).

use std::collections::BTreeMap;
use std::path::Path;

use vitrina_diagnostics::{Diagnostic, Span};
use vitrina_hcl as hcl;
use vitrina_hcl::eval::{evaluate, EvalContext};

use super::bridge::{from_hcl, hcl_type};
use super::graph::{classify_in, Target};
use super::run_codes;
use crate::addr::{InstanceKey, ResourceAddr, ResourceMode};
use crate::config::ResourceConfig;
use crate::provider::{Nesting, Schema};
use crate::value::{PathStep, Value};

/// Everything evaluated so far in a run.
#[derive(Debug, Clone)]
pub(crate) struct Values {
    pub vars: BTreeMap<String, hcl::Value>,
    pub locals: BTreeMap<String, hcl::Value>,
    /// The value of each resource: an object, a list (`count`) or a map (`for_each`).
    pub resources: BTreeMap<ResourceAddr, hcl::Value>,
    pub path: hcl::Value,
    pub terraform: hcl::Value,
    /// Module call instances and folders (from the expanded configuration).
    pub modules: std::sync::Arc<ModuleIndex>,
}

/// What expressions need to know about modules: the instances of each call and each
/// instance's folder.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleIndex {
    pub instances: BTreeMap<String, crate::config::ModuleInstances>,
    pub dirs: BTreeMap<String, String>,
}

impl ModuleIndex {
    pub fn of(config: &crate::config::Config) -> Self {
        ModuleIndex {
            instances: config.module_instances.clone(),
            dirs: config.module_dirs.clone(),
        }
    }
}

impl Values {
    /// `path.module` and `path.root` are `"."` and `path.cwd` is the folder's absolute path,
    /// as when Terraform runs in the folder (`terraform -chdir=DIR`): file functions resolve
    /// relative paths against the folder, so `file("${path.module}/x")` reads `DIR/x` whatever
    /// relative `DIR` the command was given.
    pub fn new(dir: &Path, workspace: &str, vars: BTreeMap<String, hcl::Value>) -> Self {
        let cwd = std::path::absolute(dir)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| dir.display().to_string());
        Values {
            vars,
            locals: BTreeMap::new(),
            resources: BTreeMap::new(),
            path: hcl::Value::object([
                ("module", hcl::Value::string(".")),
                ("root", hcl::Value::string(".")),
                ("cwd", hcl::Value::string(cwd)),
            ]),
            terraform: hcl::Value::object([("workspace", hcl::Value::string(workspace))]),
            modules: std::sync::Arc::default(),
        }
    }

    /// A context holding what `refs` read (and nothing else, so building it stays cheap).
    pub fn context(&self, refs: &[hcl::Reference], dir: &Path) -> EvalContext {
        self.context_in("", refs, dir)
    }

    /// [`Self::context`] for an expression in module instance `scope` (empty: the root).
    pub fn context_in(&self, scope: &str, refs: &[hcl::Reference], dir: &Path) -> EvalContext {
        let mut ctx = EvalContext::new();
        ctx.set_base_dir(dir);
        let mut locals = BTreeMap::new();
        let mut module_vars = BTreeMap::new();
        let mut modules: BTreeMap<String, hcl::Value> = BTreeMap::new();
        let mut managed: BTreeMap<String, BTreeMap<String, hcl::Value>> = BTreeMap::new();
        let mut data: BTreeMap<String, BTreeMap<String, hcl::Value>> = BTreeMap::new();
        let mut vars = false;
        for r in refs {
            match classify_in(scope, r) {
                Target::Var(_) => vars = true,
                Target::Local(key) => {
                    let (Some(v), Some(name)) = (self.locals.get(&key), r.attr(0)) else {
                        continue;
                    };
                    let into = if r.root == "var" {
                        &mut module_vars
                    } else {
                        &mut locals
                    };
                    into.entry(name.to_owned()).or_insert_with(|| v.clone());
                }
                Target::Module(path) => {
                    let (Some(mi), Some(name)) = (self.modules.instances.get(&path), r.attr(0))
                    else {
                        continue;
                    };
                    modules
                        .entry(name.to_owned())
                        .or_insert_with(|| self.module_value(mi));
                }
                Target::Resource(addr) => {
                    let Some(v) = self.resources.get(&addr) else {
                        continue;
                    };
                    let by_type = match addr.mode {
                        ResourceMode::Managed => managed.entry(addr.type_name.clone()).or_default(),
                        ResourceMode::Data => data.entry(addr.type_name.clone()).or_default(),
                    };
                    by_type
                        .entry(addr.name.clone())
                        .or_insert_with(|| v.clone());
                }
                Target::Builtin => match r.root.as_str() {
                    "path" if !scope.is_empty() => {
                        let mut p = self.path.clone();
                        if let (hcl::Value::Object(m), Some(d)) =
                            (&mut p, self.modules.dirs.get(scope))
                        {
                            m.insert("module".to_owned(), hcl::Value::string(d.clone()));
                        }
                        ctx.set_variable("path", p);
                    }
                    "path" => ctx.set_variable("path", self.path.clone()),
                    "terraform" => ctx.set_variable("terraform", self.terraform.clone()),
                    _ => {}
                },
                Target::Undeclared => {}
            }
        }
        if !scope.is_empty() {
            ctx.set_variable("var", hcl::Value::Object(module_vars));
        } else if vars {
            ctx.set_variable("var", hcl::Value::Object(self.vars.clone()));
        }
        if !modules.is_empty() {
            ctx.set_variable("module", hcl::Value::Object(modules));
        }
        ctx.set_variable("local", hcl::Value::Object(locals));
        for (t, names) in managed {
            ctx.set_variable(t, hcl::Value::Object(names));
        }
        if !data.is_empty() {
            ctx.set_variable(
                "data",
                hcl::Value::Object(
                    data.into_iter()
                        .map(|(t, n)| (t, hcl::Value::Object(n)))
                        .collect(),
                ),
            );
        }
        ctx
    }
}

impl Values {
    /// The value of `module.NAME`: an object of outputs per instance, as a single object, a
    /// tuple (`count`) or an object by key (`for_each`).
    fn module_value(&self, mi: &crate::config::ModuleInstances) -> hcl::Value {
        let instance = |prefix: &str| {
            hcl::Value::Object(
                mi.outputs
                    .iter()
                    .map(|o| {
                        let v = self
                            .locals
                            .get(&format!("{prefix}.output.{o}"))
                            .cloned()
                            .unwrap_or_else(hcl::Value::unknown);
                        (o.clone(), v)
                    })
                    .collect(),
            )
        };
        match mi.keyed {
            None => mi
                .instances
                .first()
                .map_or(hcl::Value::Null, |(_, p)| instance(p)),
            Some(false) => {
                hcl::Value::Tuple(mi.instances.iter().map(|(_, p)| instance(p)).collect())
            }
            Some(true) => hcl::Value::Object(
                mi.instances
                    .iter()
                    .filter_map(|(k, p)| match k {
                        InstanceKey::Str(s) => Some((s.clone(), instance(p))),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }
}

/// Evaluates a local value (or a module input or output) in its module instance, with the
/// instance's `count`/`each` for inputs, converted to the input's type.
pub(crate) fn eval_local(
    values: &Values,
    l: &crate::config::LocalConfig,
    dir: &Path,
) -> Result<hcl::Value, Diagnostic> {
    let mut ctx = values.context_in(&l.scope, &l.references, dir);
    match &l.bind {
        Some(crate::config::Bind::Count(i)) => {
            #[allow(clippy::cast_precision_loss)]
            let idx = *i as f64;
            ctx.set_variable(
                "count",
                hcl::Value::object([("index", hcl::Value::Number(idx))]),
            );
        }
        Some(crate::config::Bind::Each(k, v)) => ctx.set_variable(
            "each",
            hcl::Value::object([("key", hcl::Value::string(k.clone())), ("value", v.clone())]),
        ),
        None => {}
    }
    let mut v = eval_expr(&l.expr, &ctx, &l.span.file)?;
    if let Some(var) = &l.input_of {
        // `nullable = false`: null takes the default, else it is an error.
        if v.is_null() && !var.nullable {
            v = match &var.default {
                Some(d) => eval_expr(&d.expr, &EvalContext::new(), &var.file)?,
                None => {
                    return Err(Diagnostic::error(
                        run_codes::VARIABLE,
                        l.span.clone(),
                        format!(
                            "module input `{}` cannot be null (`nullable = false`)",
                            var.name
                        ),
                    ))
                }
            };
        }
    }
    let v = match &l.ty {
        Some(t) if !v.is_null() => hcl::convert(&v, t).map_err(|e| {
            Diagnostic::error(
                run_codes::VARIABLE,
                l.span.clone(),
                format!("invalid value for module input `{}`: {e}", l.name),
            )
            .with_help(format!("it takes a {}", t.friendly_name()))
        })?,
        _ => v,
    };
    let Some(var) = &l.input_of else {
        return Ok(if l.sensitive { v.mark_sensitive() } else { v });
    };
    let v = if var.sensitive { v.mark_sensitive() } else { v };
    // The child's `validation` blocks see only this variable.
    for val in &var.validations {
        let (Some(cond), Some(msg)) = (&val.condition, &val.error_message) else {
            continue;
        };
        let mut vctx = EvalContext::new();
        vctx.set_variable("var", hcl::Value::object([(var.name.clone(), v.clone())]));
        if let Ok((hcl::Value::Bool(false), _)) =
            eval_expr(&cond.expr, &vctx, &var.file).map(hcl::Value::unmark_deep)
        {
            let text = eval_expr(&msg.expr, &vctx, &var.file)
                .ok()
                .and_then(|m| m.unmarked().as_str().map(str::to_owned))
                .unwrap_or_else(|| "the value is not valid".to_owned());
            return Err(Diagnostic::error(
                run_codes::VARIABLE,
                l.span.clone(),
                format!("invalid value for module input `{}`: {text}", var.name),
            )
            .with_label(
                Span::new(var.file.clone(), cond.expr_span.clone()),
                "the validation",
            ));
        }
    }
    Ok(v)
}

/// Evaluates an expression, turning an error into a diagnostic at the expression.
pub(crate) fn eval_expr(
    expr: &hcl::Expression,
    ctx: &EvalContext,
    file: &str,
) -> Result<hcl::Value, Diagnostic> {
    evaluate(expr, ctx).map_err(|e| {
        let fallback = hcl_edit::Span::span(expr).unwrap_or(0..0);
        e.to_diagnostic(file, run_codes::EVAL, fallback)
    })
}

/// How a resource expands into instances.
#[derive(Debug, Clone)]
pub(crate) enum Expansion {
    Single,
    Count(usize),
    /// Keys in order, with `each.value`.
    ForEach(BTreeMap<String, hcl::Value>),
}

/// Upper bound on instances of one resource, so a typo cannot exhaust memory.
pub(crate) const MAX_INSTANCES: usize = 100_000;

impl Expansion {
    pub fn keys(&self) -> Vec<InstanceKey> {
        match self {
            Expansion::Single => vec![InstanceKey::None],
            Expansion::Count(n) => (0..*n)
                .map(|i| InstanceKey::Int(i64::try_from(i).unwrap_or(i64::MAX)))
                .collect(),
            Expansion::ForEach(m) => m.keys().map(|k| InstanceKey::Str(k.clone())).collect(),
        }
    }

    /// Sets `count.index` or `each.key`/`each.value` for one instance.
    pub fn bind(&self, ctx: &mut EvalContext, key: &InstanceKey) {
        match (self, key) {
            (Expansion::Count(_), InstanceKey::Int(i)) => {
                #[allow(clippy::cast_precision_loss)]
                let idx = *i as f64;
                ctx.set_variable(
                    "count",
                    hcl::Value::object([("index", hcl::Value::Number(idx))]),
                );
            }
            (Expansion::ForEach(m), InstanceKey::Str(k)) => {
                let v = m.get(k).cloned().unwrap_or(hcl::Value::Null);
                ctx.set_variable(
                    "each",
                    hcl::Value::object([("key", hcl::Value::string(k.clone())), ("value", v)]),
                );
            }
            _ => {}
        }
    }

    /// The resource's value from its instances' values (in key order).
    pub fn assemble(&self, mut instances: BTreeMap<InstanceKey, hcl::Value>) -> hcl::Value {
        match self {
            Expansion::Single => instances
                .remove(&InstanceKey::None)
                .unwrap_or(hcl::Value::Null),
            Expansion::Count(_) => hcl::Value::Tuple(instances.into_values().collect()),
            Expansion::ForEach(_) => hcl::Value::Object(
                instances
                    .into_iter()
                    .filter_map(|(k, v)| match k {
                        InstanceKey::Str(s) => Some((s, v)),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }
}

/// Evaluates `count` / `for_each`. Their values must be known during plan.
pub(crate) fn expand(rc: &ResourceConfig, ctx: &EvalContext) -> Result<Expansion, Diagnostic> {
    let file = rc.file.as_str();
    if let Some(count) = &rc.count {
        let at = Span::new(file, count.expr_span.clone());
        let (v, _) = eval_expr(&count.expr, ctx, file)?.unmark_deep();
        let n = match &v {
            hcl::Value::Unknown(_) => {
                return Err(Diagnostic::error(run_codes::EXPANSION, at, "the `count` value depends on values known only after apply")
                    .with_help("compute `count` from variables and locals, or apply the resources it depends on first"))
            }
            hcl::Value::Number(n) if n.fract() == 0.0 && *n >= 0.0 => *n,
            hcl::Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.fract() == 0.0 && *n >= 0.0).ok_or_else(|| {
                Diagnostic::error(run_codes::EXPANSION, at.clone(), format!("`count` must be a whole number ≥ 0, got \"{s}\""))
            })?,
            hcl::Value::Null => return Err(Diagnostic::error(run_codes::EXPANSION, at, "`count` cannot be null")),
            other => {
                return Err(Diagnostic::error(run_codes::EXPANSION, at, format!("`count` must be a whole number ≥ 0, got {}", other.kind_name())))
            }
        };
        if n > MAX_INSTANCES as f64 {
            return Err(Diagnostic::error(
                run_codes::EXPANSION,
                at,
                format!("`count` is {n}; the limit is {MAX_INSTANCES}"),
            ));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Ok(Expansion::Count(n as usize));
    }
    if let Some(fe) = &rc.for_each {
        let at = Span::new(file, fe.expr_span.clone());
        let v = eval_expr(&fe.expr, ctx, file)?;
        if v.is_sensitive() {
            return Err(Diagnostic::error(
                run_codes::EXPANSION,
                at,
                "`for_each` cannot use sensitive values: they would appear in instance addresses",
            ));
        }
        let mut out = BTreeMap::new();
        match v {
            hcl::Value::Unknown(_) => {
                return Err(Diagnostic::error(
                    run_codes::EXPANSION,
                    at,
                    "the `for_each` value depends on values known only after apply",
                )
                .with_help("use keys known during plan (variables, locals)"))
            }
            hcl::Value::Map(m) | hcl::Value::Object(m) => {
                out = m;
            }
            hcl::Value::Set(items) => {
                for item in items {
                    match item.unmarked() {
                        hcl::Value::String(s) => {
                            out.insert(s.clone(), hcl::Value::String(s.clone()));
                        }
                        hcl::Value::Unknown(_) => {
                            return Err(Diagnostic::error(
                                run_codes::EXPANSION,
                                at,
                                "the `for_each` set holds values known only after apply",
                            ))
                        }
                        other => {
                            return Err(Diagnostic::error(
                                run_codes::EXPANSION,
                                at,
                                format!(
                                    "a `for_each` set must hold strings, not {}",
                                    other.kind_name()
                                ),
                            ))
                        }
                    }
                }
            }
            hcl::Value::Null => {
                return Err(Diagnostic::error(
                    run_codes::EXPANSION,
                    at,
                    "`for_each` cannot be null",
                ))
            }
            other => {
                return Err(Diagnostic::error(
                    run_codes::EXPANSION,
                    at,
                    format!(
                        "`for_each` must be a map or a set of strings, got {}",
                        other.kind_name()
                    ),
                )
                .with_help("convert a list with `toset(…)`"))
            }
        }
        if out.len() > MAX_INSTANCES {
            return Err(Diagnostic::error(
                run_codes::EXPANSION,
                at,
                format!(
                    "`for_each` has {} elements; the limit is {MAX_INSTANCES}",
                    out.len()
                ),
            ));
        }
        return Ok(Expansion::ForEach(out));
    }
    Ok(Expansion::Single)
}

/// A resource body evaluated against its schema: every attribute present (null when unset),
/// nested blocks as lists (or one object), and the paths marked sensitive on the way.
pub(crate) fn eval_body(
    block: &hcl::Block,
    schema: &Schema,
    ctx: &mut EvalContext,
    file: &str,
    errors: &mut Vec<Diagnostic>,
) -> (Value, Vec<Vec<PathStep>>) {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut marks: Vec<Vec<PathStep>> = Vec::new();
    for (name, attr) in &schema.attributes {
        let v = match block.attribute(name) {
            Some(a) => match eval_expr(&a.expr, ctx, file) {
                Ok(hv) => match hcl::convert(&hv, &hcl_type(&attr.ty)) {
                    Ok(converted) => {
                        let (v, m) = from_hcl(&converted);
                        for p in m {
                            let mut full = vec![PathStep::Attr(name.clone())];
                            full.extend(p);
                            marks.push(full);
                        }
                        v
                    }
                    Err(e) => {
                        errors.push(
                            Diagnostic::error(
                                run_codes::EVAL,
                                Span::new(file, a.expr_span.clone()),
                                format!("`{name}`: {e}"),
                            )
                            .with_help(format!(
                                "`{name}` takes a {}",
                                hcl_type(&attr.ty).friendly_name()
                            )),
                        );
                        Value::Null
                    }
                },
                Err(d) => {
                    errors.push(d);
                    Value::Null
                }
            },
            None => Value::Null,
        };
        out.insert(name.clone(), v);
    }
    for (name, nb) in &schema.blocks {
        let mut items: Vec<Value> = Vec::new();
        let mut unknown = false;
        for b in &block.blocks {
            if b.kind == *name {
                let (v, m) = eval_body(b, &nb.schema, ctx, file, errors);
                add_block_marks(&mut marks, name, nb.nesting, items.len(), m);
                items.push(v);
            } else if b.kind == "dynamic" && b.labels.first().is_some_and(|l| l.value == *name) {
                match eval_dynamic(b, &nb.schema, ctx, file, errors) {
                    Some(expanded) => {
                        for (v, m) in expanded {
                            add_block_marks(&mut marks, name, nb.nesting, items.len(), m);
                            items.push(v);
                        }
                    }
                    None => unknown = true,
                }
            }
        }
        let v = if unknown {
            Value::Unknown
        } else {
            match nb.nesting {
                Nesting::Single => items.into_iter().next().unwrap_or(Value::Null),
                Nesting::List => Value::List(items),
                Nesting::Set => {
                    items.sort_by_key(ToString::to_string);
                    items.dedup();
                    Value::List(items)
                }
            }
        };
        out.insert(name.clone(), v);
    }
    (Value::Map(out), marks)
}

fn add_block_marks(
    marks: &mut Vec<Vec<PathStep>>,
    name: &str,
    nesting: Nesting,
    index: usize,
    inner: Vec<Vec<PathStep>>,
) {
    for p in inner {
        let mut full = vec![PathStep::Attr(name.to_owned())];
        if nesting != Nesting::Single {
            full.push(PathStep::Index(index));
        }
        full.extend(p);
        marks.push(full);
    }
}

/// Expands a `dynamic` block; `None` when its `for_each` is unknown.
fn eval_dynamic(
    b: &hcl::Block,
    schema: &Schema,
    ctx: &mut EvalContext,
    file: &str,
    errors: &mut Vec<Diagnostic>,
) -> Option<Vec<(Value, Vec<Vec<PathStep>>)>> {
    let label = b
        .labels
        .first()
        .map(|l| l.value.clone())
        .unwrap_or_default();
    let iterator = b
        .attribute("iterator")
        .and_then(|a| hcl::references(&a.expr).first().map(|r| r.root.clone()))
        .unwrap_or(label);
    let Some(fe) = b.attribute("for_each") else {
        errors.push(Diagnostic::error(
            run_codes::EVAL,
            Span::new(file, b.kind_span.clone()),
            "a `dynamic` block needs `for_each`",
        ));
        return Some(Vec::new());
    };
    let Some(content) = b.blocks_of("content").next() else {
        errors.push(Diagnostic::error(
            run_codes::EVAL,
            Span::new(file, b.kind_span.clone()),
            "a `dynamic` block needs a `content` block",
        ));
        return Some(Vec::new());
    };
    let coll = match eval_expr(&fe.expr, ctx, file) {
        Ok(v) => v,
        Err(d) => {
            errors.push(d);
            return Some(Vec::new());
        }
    };
    let (coll, sensitive) = coll.unmark();
    let elements: Vec<(hcl::Value, hcl::Value)> = match coll {
        hcl::Value::Unknown(_) => return None,
        hcl::Value::Null => Vec::new(),
        hcl::Value::List(items) | hcl::Value::Tuple(items) | hcl::Value::Set(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                #[allow(clippy::cast_precision_loss)]
                let k = hcl::Value::Number(i as f64);
                (k, v)
            })
            .collect(),
        hcl::Value::Map(m) | hcl::Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| (hcl::Value::String(k), v))
            .collect(),
        other => {
            errors.push(Diagnostic::error(
                run_codes::EVAL,
                Span::new(file, fe.expr_span.clone()),
                format!(
                    "a `dynamic` block's `for_each` must be a collection, got {}",
                    other.kind_name()
                ),
            ));
            return Some(Vec::new());
        }
    };
    let saved = ctx.remove_variable(&iterator);
    let mut out = Vec::new();
    for (k, v) in elements {
        let v = v.with_sensitive(sensitive);
        ctx.set_variable(
            iterator.clone(),
            hcl::Value::object([("key", k), ("value", v)]),
        );
        out.push(eval_body(content, schema, ctx, file, errors));
    }
    ctx.remove_variable(&iterator);
    if let Some(s) = saved {
        ctx.set_variable(iterator, s);
    }
    Some(out)
}
