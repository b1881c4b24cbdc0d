//! Local modules (<https://developer.hashicorp.com/terraform/language/modules/syntax>): before a
//! plan or an apply, every `module` call is expanded by its `count` / `for_each` (which must be
//! known from variables and locals) into module instances, and the child's items join the
//! configuration under the instance's path: resources as `module.a["x"].null_resource.y`,
//! inputs as the local `module.a["x"].var.NAME` (evaluated in the caller, with the instance's
//! `each` / `count`), the child's locals as `module.a["x"].local.NAME` and its outputs as
//! `module.a["x"].output.NAME`. Expressions in a module instance read its names
//! (`graph::classify_in`), and `module.a` in the caller is the object (or tuple, or map) of its
//! instances' outputs. Providers are inherited by name or passed with `providers = {…}`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};
use vitrina_hcl as hcl;
use vitrina_hcl::eval::EvalContext;

use super::eval::eval_expr;
use super::run_codes;
use crate::addr::InstanceKey;
use crate::config::{
    codes, Bind, Config, DependsOn, LocalConfig, ModuleCallConfig, ModuleInstances,
};

/// Arguments of a `module` block that are not inputs.
const CALL_META: &[&str] = &[
    "source",
    "version",
    "count",
    "for_each",
    "providers",
    "depends_on",
];

/// The configuration with every module call expanded (borrowed unchanged when there is none).
/// `lenient` (for `validate`) expands a call whose `count`/`for_each` is not known as one
/// instance instead of failing.
pub(crate) fn expand<'c>(
    config: &'c Config,
    vars: &BTreeMap<String, hcl::Value>,
    lenient: bool,
) -> Result<Cow<'c, Config>, Diagnostics> {
    if config.module_calls.is_empty() {
        return Ok(Cow::Borrowed(config));
    }
    let mut flat = config.clone();
    flat.module_calls.clear();
    let mut diags = Diagnostics::new();
    let mut x = Expander {
        flat: &mut flat,
        diags: &mut diags,
        lenient,
        root: config,
    };
    x.calls(config, "", vars, &BTreeMap::new(), &[]);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Cow::Owned(flat))
}

struct Expander<'a> {
    flat: &'a mut Config,
    diags: &'a mut Diagnostics,
    lenient: bool,
    root: &'a Config,
}

/// The caller's locals that can be known before the run: those reading only variables, other
/// such locals, `path` and `terraform`.
fn static_locals(
    parent: &Config,
    vars: &hcl::Value,
    dir: &std::path::Path,
) -> BTreeMap<String, hcl::Value> {
    let mut known: BTreeMap<String, hcl::Value> = BTreeMap::new();
    loop {
        let mut progressed = false;
        for (name, l) in &parent.locals {
            if known.contains_key(name) {
                continue;
            }
            let ready = l.references.iter().all(|r| match r.root.as_str() {
                "var" | "path" | "terraform" => true,
                "local" => r.attr(0).is_some_and(|n| known.contains_key(n)),
                _ => false,
            });
            if !ready {
                continue;
            }
            let mut ctx = EvalContext::new();
            ctx.set_base_dir(dir);
            ctx.set_variable("var", vars.clone());
            ctx.set_variable("local", hcl::Value::Object(known.clone()));
            ctx.set_variable(
                "path",
                hcl::Value::object([("module", hcl::Value::string("."))]),
            );
            if let Ok(v) = hcl::evaluate(&l.expr, &ctx) {
                known.insert(name.clone(), v);
                progressed = true;
            }
        }
        if !progressed {
            return known;
        }
    }
}

impl Expander<'_> {
    /// Expands the calls of `parent` (module instance `scope`, whose variables are `vars`);
    /// `pmap` maps the parent's provider addresses to the root's.
    fn calls(
        &mut self,
        parent: &Config,
        scope: &str,
        vars: &BTreeMap<String, hcl::Value>,
        pmap: &BTreeMap<String, String>,
        deps: &[DependsOn],
    ) {
        let var_obj = hcl::Value::Object(vars.clone());
        let locals = static_locals(parent, &var_obj, &self.root.dir);
        for (name, call) in &parent.module_calls {
            let path = if scope.is_empty() {
                format!("module.{name}")
            } else {
                format!("{scope}.module.{name}")
            };
            let mut ctx = EvalContext::new();
            ctx.set_base_dir(&self.root.dir);
            ctx.set_variable("var", var_obj.clone());
            ctx.set_variable("local", hcl::Value::Object(locals.clone()));
            let Some((keyed, keys)) = self.instances(call, &ctx) else {
                continue;
            };
            let mut mi = ModuleInstances {
                keyed,
                instances: Vec::new(),
                outputs: call.config.outputs.keys().cloned().collect(),
            };
            for (key, bind) in keys {
                let prefix = format!("{path}{key}");
                mi.instances.push((key.clone(), prefix.clone()));
                // The call's `depends_on` names the caller's resources.
                let mut call_deps = deps.to_vec();
                call_deps.extend(call.depends_on.iter().map(|d| match d {
                    DependsOn::Resource(a) => DependsOn::Resource(a.clone().in_module(scope)),
                    other => other.clone(),
                }));
                self.instance(call, scope, &prefix, &bind, &ctx, pmap, &call_deps);
            }
            self.flat.module_instances.insert(path, mi);
        }
    }

    /// The call's instances: (`keyed`, [(key, bind)]).
    #[allow(clippy::type_complexity)]
    fn instances(
        &mut self,
        call: &ModuleCallConfig,
        ctx: &EvalContext,
    ) -> Option<(Option<bool>, Vec<(InstanceKey, Option<Bind>)>)> {
        let file = call.span.file.clone();
        // `validate` without known keys: one instance with an unknown `each` / `count`.
        let unknown_one = |keyed: bool| {
            let bind = if keyed {
                Bind::Each(String::new(), hcl::Value::unknown())
            } else {
                Bind::Count(0)
            };
            Some((Some(keyed), vec![(InstanceKey::None, Some(bind))]))
        };
        if let Some(c) = &call.count {
            let at = Span::new(file.clone(), c.expr_span.clone());
            let v = match eval_expr(&c.expr, ctx, &file) {
                Ok(v) => v.unmark_deep().0,
                Err(_) if self.lenient => return unknown_one(false),
                Err(d) => {
                    self.diags.push(self.not_known(d, "count"));
                    return None;
                }
            };
            let n = match v {
                hcl::Value::Number(n) if n >= 0.0 && n.fract() == 0.0 && n <= 10_000.0 => n,
                hcl::Value::Unknown(_) if self.lenient => return unknown_one(false),
                other => {
                    self.diags.push(Diagnostic::error(
                        run_codes::EXPANSION,
                        at,
                        format!(
                            "a module's `count` must be a whole number from 0 to 10000 known before apply, got {}",
                            other.kind_name()
                        ),
                    ));
                    return None;
                }
            };
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = n as i64;
            return Some((
                Some(false),
                (0..n)
                    .map(|i| (InstanceKey::Int(i), Some(Bind::Count(i))))
                    .collect(),
            ));
        }
        if let Some(fe) = &call.for_each {
            let at = Span::new(file.clone(), fe.expr_span.clone());
            let v = match eval_expr(&fe.expr, ctx, &file) {
                Ok(v) => v.unmark_deep().0,
                Err(_) if self.lenient => return unknown_one(true),
                Err(d) => {
                    self.diags.push(self.not_known(d, "for_each"));
                    return None;
                }
            };
            let pairs: Vec<(String, hcl::Value)> = match v {
                hcl::Value::Map(m) | hcl::Value::Object(m) => m.into_iter().collect(),
                hcl::Value::Set(items) | hcl::Value::List(items) | hcl::Value::Tuple(items)
                    if items.iter().all(|i| i.as_str().is_some()) =>
                {
                    items
                        .into_iter()
                        .filter_map(|i| i.as_str().map(|s| (s.to_owned(), i.clone())))
                        .collect()
                }
                hcl::Value::Unknown(_) if self.lenient => return unknown_one(true),
                other => {
                    self.diags.push(
                        Diagnostic::error(
                            run_codes::EXPANSION,
                            at,
                            format!(
                                "a module's `for_each` must be a map or a set of strings known before apply, got {}",
                                other.kind_name()
                            ),
                        )
                        .with_help("build it from variables and locals"),
                    );
                    return None;
                }
            };
            return Some((
                Some(true),
                pairs
                    .into_iter()
                    .map(|(k, v)| (InstanceKey::Str(k.clone()), Some(Bind::Each(k, v))))
                    .collect(),
            ));
        }
        Some((None, vec![(InstanceKey::None, None)]))
    }

    fn not_known(&self, d: Diagnostic, what: &str) -> Diagnostic {
        Diagnostic {
            message: format!(
                "a module's `{what}` must be known before apply, from variables and locals: {}",
                d.message
            ),
            ..d
        }
    }

    /// Adds one module instance's items to the flat configuration.
    #[allow(clippy::too_many_arguments)]
    fn instance(
        &mut self,
        call: &ModuleCallConfig,
        scope: &str,
        prefix: &str,
        bind: &Option<Bind>,
        ctx: &EvalContext,
        pmap: &BTreeMap<String, String>,
        deps: &[DependsOn],
    ) {
        let child = &call.config;
        let file = call.span.file.clone();
        self.flat
            .module_dirs
            .insert(prefix.to_owned(), call.dir.clone());
        // Inputs: the call's arguments, else the child's defaults.
        let mut ctx = ctx.clone();
        match bind {
            Some(Bind::Count(i)) => {
                #[allow(clippy::cast_precision_loss)]
                let idx = *i as f64;
                ctx.set_variable(
                    "count",
                    hcl::Value::object([("index", hcl::Value::Number(idx))]),
                );
            }
            Some(Bind::Each(k, v)) => ctx.set_variable(
                "each",
                hcl::Value::object([("key", hcl::Value::string(k.clone())), ("value", v.clone())]),
            ),
            None => {}
        }
        let mut child_vars = BTreeMap::new();
        for a in &call.block.attributes {
            if !CALL_META.contains(&a.name.as_str()) && !child.variables.contains_key(&a.name) {
                self.diags.push(Diagnostic::error(
                    codes::UNKNOWN_ARGUMENT,
                    Span::new(file.clone(), a.name_span.clone()),
                    format!("module `{}` has no variable `{}`", call.name, a.name),
                ));
            }
        }
        for (vname, v) in &child.variables {
            let (expr, span, bound, in_scope) = match call.block.attribute(vname) {
                Some(a) => (
                    a.expr.clone(),
                    Span::new(file.clone(), a.expr_span.clone()),
                    bind.clone(),
                    scope.to_owned(),
                ),
                None => match &v.default {
                    Some(d) => (
                        d.expr.clone(),
                        Span::new(v.file.clone(), d.expr_span.clone()),
                        None,
                        String::new(),
                    ),
                    None => {
                        self.diags.push(
                            Diagnostic::error(
                                run_codes::VARIABLE,
                                Span::new(file.clone(), call.span.range.clone()),
                                format!("module `{}` needs the argument `{vname}`", call.name),
                            )
                            .with_label(v.span.clone(), "declared here"),
                        );
                        continue;
                    }
                },
            };
            // Known now when it reads only the caller's variables, locals and `each`/`count`
            // (for the expansion of nested calls); otherwise unknown until the run.
            let value = eval_expr(&expr, &ctx, &file)
                .ok()
                .map(|val| match &v.ty {
                    Some(t) if !val.is_null() => hcl::convert(&val, t).unwrap_or(val),
                    _ => val,
                })
                .unwrap_or_else(hcl::Value::unknown);
            child_vars.insert(vname.clone(), value);
            let key = format!("{prefix}.var.{vname}");
            self.flat.locals.insert(
                key.clone(),
                LocalConfig {
                    name: key,
                    span,
                    references: hcl::references(&expr),
                    expr,
                    scope: in_scope,
                    bind: bound,
                    ty: v.ty.clone(),
                    input_of: Some(Box::new(v.clone())),
                    sensitive: false,
                },
            );
        }
        for (lname, l) in &child.locals {
            let key = format!("{prefix}.local.{lname}");
            let mut l = l.clone();
            l.name = key.clone();
            l.scope = prefix.to_owned();
            self.flat.locals.insert(key, l);
        }
        for (oname, o) in &child.outputs {
            let Some(value) = &o.value else { continue };
            let key = format!("{prefix}.output.{oname}");
            self.flat.locals.insert(
                key.clone(),
                LocalConfig {
                    name: key,
                    span: o.span.clone(),
                    expr: value.expr.clone(),
                    references: o.references.clone(),
                    scope: prefix.to_owned(),
                    bind: None,
                    ty: None,
                    input_of: None,
                    sensitive: o.sensitive,
                },
            );
        }
        // Providers: the child's addresses as the root's.
        let mut child_pmap: BTreeMap<String, String> = BTreeMap::new();
        for (c, p) in &call.providers {
            child_pmap.insert(c.clone(), pmap.get(p).cloned().unwrap_or_else(|| p.clone()));
        }
        let resolve = |addr: &str| -> String {
            child_pmap
                .get(addr)
                .or_else(|| pmap.get(addr))
                .cloned()
                .unwrap_or_else(|| addr.to_owned())
        };
        for (addr, rc) in &child.resources {
            let mut rc = rc.clone();
            rc.addr = addr.clone().in_module(prefix);
            rc.provider = resolve(&rc.provider);
            for d in &mut rc.depends_on {
                if let DependsOn::Resource(a) = d {
                    *a = a.clone().in_module(prefix);
                }
            }
            rc.depends_on.extend(deps.iter().cloned());
            self.flat.resources.insert(rc.addr.clone(), rc);
        }
        for p in child.providers.values() {
            self.diags.push(
                Diagnostic::error(
                    codes::UNSUPPORTED,
                    p.span.clone(),
                    "`provider` blocks inside modules are not supported",
                )
                .with_help(
                    "configure providers in the root module and pass them with `providers = { … }`",
                ),
            );
        }
        let mut inherited = pmap.clone();
        inherited.extend(child_pmap);
        self.calls(child, prefix, &child_vars, &inherited, deps);
    }
}
