//! Manifest checks (`manifest/*`) on a plan's `deployment/*.tf`, through the `hcl` room: parse
//! with spans, declared names, references, variable types against the plan's options, resource
//! types, agent steps and sensitive outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use vitrina_diagnostics::{Applicability, Diagnostic, Diagnostics, Fix, Span};
use vitrina_forms::FieldKind;
use vitrina_hcl::schema::{Declarations, FindingKind, ProviderSchemas};
use vitrina_hcl::{Module, Reference, Type};

use crate::check::did_you_mean;
use crate::codes;
use crate::option::OptionDef;
use crate::validate::PlanModel;
use crate::yaml::Node;

/// Variables the deployment system fills itself.
pub const SPECIAL_VARIABLES: &[&str] = &["instance_uuid", "email"];
/// Providers vitrina serves: a resource type must start with `<provider>_`.
pub const PROVIDERS: &[&str] = &["vkcs", "ivkcs", "null", "random", "time"];
/// Resource types that still work but should not be used in new manifests.
pub const DEPRECATED: &[(&str, &str)] = &[
    (
        "ivkcs_agent_init",
        "use `ivkcs_user_data` to install the agent",
    ),
    (
        "ivkcs_agent_status",
        "use `ivkcs_agent_check` for health checks",
    ),
];
/// Options of an `ivkcs_agent_exec` step.
const STEP_OPTIONS: &[&str] = &[
    "environment_variables",
    "exit_codes",
    "halt_codes",
    "stop_signal",
    "stop_timeout",
    "cwd",
    "user",
    "group",
    "timeout",
    "attempts",
    "attempt_pause",
    "pause_before",
    "pause_after",
    "store_result",
    "structured_result_file",
    "once",
];
const DURATION_OPTIONS: &[&str] = &[
    "stop_timeout",
    "timeout",
    "attempt_pause",
    "pause_before",
    "pause_after",
];
/// Attribute names whose values are secrets.
const SECRET_ATTRS: &[&str] = &["private_key", "password", "secret"];

type Options = BTreeMap<String, (Node, Option<OptionDef>)>;

fn err(
    diags: &mut Diagnostics,
    code: &'static str,
    file: &str,
    at: Range<usize>,
    msg: String,
    help: impl Into<String>,
) {
    diags.push(Diagnostic::error(code, Span::new(file, at), msg).with_help(help));
}

fn warn(
    diags: &mut Diagnostics,
    code: &'static str,
    file: &str,
    at: Range<usize>,
    msg: String,
    help: impl Into<String>,
) {
    diags.push(Diagnostic::warning(code, Span::new(file, at), msg).with_help(help));
}

/// One manifest file's text, parsed, with what does not depend on the plan.
#[derive(Debug)]
struct Parsed {
    module: Module,
    /// Every reference outside `terraform` blocks and the spans that are not references.
    references: Vec<Reference>,
    /// Resource-type, agent-step and output diagnostics, with an empty file name.
    own: Vec<Diagnostic>,
}

impl Parsed {
    fn new(text: &str, schemas: Option<&ProviderSchemas>) -> Result<Parsed, Box<Diagnostic>> {
        let module = vitrina_hcl::parse("", text).map_err(Box::new)?;
        let mut references = Vec::new();
        for block in &module.blocks {
            if block.kind == "terraform" {
                continue;
            }
            let skip = not_references(block);
            references.extend(
                vitrina_hcl::block_references(block)
                    .into_iter()
                    .filter(|r| {
                        !skip
                            .iter()
                            .any(|s| s.start <= r.span.start && r.span.end <= s.end)
                    }),
            );
        }
        let mut own = Diagnostics::new();
        check_resource_types(&mut own, "", &module, schemas);
        check_agent_steps(&mut own, "", &module);
        check_outputs(&mut own, "", &module, text);
        Ok(Parsed {
            module,
            references,
            own: own.into_vec(),
        })
    }
}

/// Parsed manifests by their text: plans often share one manifest, which is parsed and checked
/// once.
#[derive(Debug, Default)]
pub struct ParseCache {
    parsed: BTreeMap<String, Result<Parsed, Box<Diagnostic>>>,
    /// The provider schemas manifests are checked against; without them, resource types are
    /// checked by their provider prefix only.
    pub schemas: Option<ProviderSchemas>,
}

impl ParseCache {
    pub fn new(schemas: Option<ProviderSchemas>) -> Self {
        ParseCache {
            parsed: BTreeMap::new(),
            schemas,
        }
    }
}

/// Checks the plan's manifest files against its options.
pub fn check_manifest(
    diags: &mut Diagnostics,
    cache: &mut ParseCache,
    plan: &PlanModel,
    options: &Options,
    broken: &BTreeSet<String>,
) {
    for (_, text) in &plan.manifest {
        if !cache.parsed.contains_key(text) {
            let parsed = Parsed::new(text, cache.schemas.as_ref());
            cache.parsed.insert(text.clone(), parsed);
        }
    }
    let mut modules: Vec<(&str, &Parsed)> = Vec::new();
    let mut parsed_all = true;
    for (path, text) in &plan.manifest {
        match cache.parsed.get(text) {
            Some(Ok(p)) => {
                for d in &p.own {
                    let mut d = d.clone();
                    d.span.file.clone_from(path);
                    if let Some(fix) = &mut d.fix {
                        for e in &mut fix.edits {
                            e.span.file.clone_from(path);
                        }
                    }
                    diags.push(d);
                }
                modules.push((path, p));
            }
            Some(Err(d)) => {
                parsed_all = false;
                let mut d = (**d).clone();
                d.span.file.clone_from(path);
                diags.push(d.with_help("correct the Terraform syntax at this position"));
            }
            None => parsed_all = false,
        }
    }
    let mut decls = Declarations::new();
    for (_, p) in &modules {
        decls.add_module(&p.module);
    }
    let variables = &decls.variables;
    for (file, p) in &modules {
        check_variables(diags, file, &p.module, plan, options, broken);
        for r in &p.references {
            if let Some(f) = decls.check(r, cache.schemas.as_ref()) {
                diags.push(finding(file, f));
            }
        }
    }
    // Options the manifest does not declare (only when every file parsed: otherwise the
    // variable may sit in the broken file).
    if parsed_all && !modules.is_empty() {
        for name in &plan.options {
            // An option without a file is reported where it is named.
            if !variables.contains(name) && options.contains_key(name) {
                let at = plan.option_spans.get(name).cloned().unwrap_or(0..0);
                warn(
                    diags,
                    codes::MANIFEST_UNUSED_OPTION,
                    &plan.display_file,
                    at,
                    format!("option `{name}` is not declared in the manifest"),
                    format!("declare `variable \"{name}\"` in deployment/*.tf, or remove the option from this plan"),
                );
            }
        }
    }
}

/// Spans inside a block where names are not references: a variable's `type`, `provider`
/// meta-arguments, and `lifecycle { ignore_changes }`.
fn not_references(block: &vitrina_hcl::Block) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if block.kind == "variable" {
        if let Some(a) = block.attribute("type") {
            out.push(a.expr_span.clone());
        }
    }
    if let Some(a) = block.attribute("provider") {
        out.push(a.expr_span.clone());
    }
    for l in block.blocks_of("lifecycle") {
        if let Some(a) = l.attribute("ignore_changes") {
            out.push(a.expr_span.clone());
        }
    }
    out
}

/// The package's code for a finding of the checks shared with the engine.
pub fn finding_code(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::UnknownType => codes::MANIFEST_UNKNOWN_RESOURCE_TYPE,
        FindingKind::UnknownArgument => codes::MANIFEST_UNKNOWN_ARGUMENT,
        FindingKind::MissingArgument => codes::MANIFEST_MISSING_ARGUMENT,
        FindingKind::WrongType => codes::MANIFEST_ARGUMENT_TYPE,
        FindingKind::Undeclared => codes::MANIFEST_UNKNOWN_REFERENCE,
        FindingKind::UnknownAttribute => codes::MANIFEST_UNKNOWN_ATTRIBUTE,
    }
}

/// A finding as a diagnostic; its did-you-mean is a safe fix.
fn finding(file: &str, f: vitrina_hcl::schema::Finding) -> Diagnostic {
    let span = Span::new(file, f.span);
    let mut d = Diagnostic::error(finding_code(f.kind), span.clone(), f.message).with_help(f.help);
    if let Some(r) = f.replacement {
        d = d.with_fix(Fix::replace(
            Applicability::Safe,
            format!("write `{r}`"),
            span,
            r,
        ));
    }
    d
}

/// The Terraform type a plan option's variable must have.
fn option_type(def: &OptionDef) -> (Type, &'static str) {
    match def.field.kind {
        FieldKind::IntegerConst(_)
        | FieldKind::IntegerEnum { .. }
        | FieldKind::IntegerRange { .. }
        | FieldKind::Number => (Type::Number, "number"),
        FieldKind::BooleanConst(_) | FieldKind::BooleanSwitch { .. } => (Type::Bool, "bool"),
        _ => (Type::String, "string"),
    }
}

fn check_variables(
    diags: &mut Diagnostics,
    file: &str,
    m: &Module,
    plan: &PlanModel,
    options: &Options,
    broken: &BTreeSet<String>,
) {
    for v in &m.variables {
        let is_option = plan.options.contains(&v.name);
        let ty = match (&v.type_attr, &v.type_constraint) {
            (None, _) | (_, None) => {
                err(
                    diags,
                    codes::MANIFEST_MISSING_TYPE,
                    file,
                    v.name_span.clone(),
                    format!("variable `{}` has no `type`", v.name),
                    "add `type = string` (or number, bool)",
                );
                None
            }
            (Some(attr), Some(Err(e))) => {
                err(
                    diags,
                    codes::MANIFEST_MISSING_TYPE,
                    file,
                    attr.expr_span.clone(),
                    format!("variable `{}` has an invalid type: {e}", v.name),
                    "use a type such as `string`, `number`, `bool`, `list(string)`",
                );
                None
            }
            (Some(attr), Some(Ok(t))) => Some((attr, t)),
        };
        if is_option {
            // A broken option's errors are reported in its file.
            let def = options
                .get(&v.name)
                .and_then(|(_, d)| d.as_ref())
                .filter(|_| !broken.contains(&v.name));
            if let (Some(def), Some((attr, t))) = (def, ty) {
                let (want, want_name) = option_type(def);
                if *t != Type::Dynamic && *t != want {
                    diags.push(
                        Diagnostic::error(
                            codes::MANIFEST_TYPE_MISMATCH,
                            Span::new(file, attr.expr_span.clone()),
                            format!("variable `{}` is not of type `{want_name}`, but option `{}` gives a {want_name}", v.name, v.name),
                        )
                        .with_help(format!("write `type = {want_name}`"))
                        // Unsafe: expressions using the variable may rely on its type.
                        .with_fix(Fix::replace(
                            Applicability::Unsafe,
                            format!("write `type = {want_name}`"),
                            Span::new(file, attr.expr_span.clone()),
                            want_name,
                        )),
                    );
                }
            }
        } else if SPECIAL_VARIABLES.contains(&v.name.as_str()) {
            if let Some((attr, t)) = ty {
                if *t != Type::Dynamic && *t != Type::String {
                    err(
                        diags,
                        codes::MANIFEST_TYPE_MISMATCH,
                        file,
                        attr.expr_span.clone(),
                        format!(
                            "variable `{}` is filled by the deployment system with a string",
                            v.name
                        ),
                        "write `type = string`",
                    );
                }
            }
        } else if v.default.is_none() && !plan.options_incomplete {
            err(
                diags,
                codes::MANIFEST_UNBOUND_VARIABLE,
                file,
                v.name_span.clone(),
                format!(
                    "variable `{}` has no default and is neither a plan option nor special",
                    v.name
                ),
                format!(
                    "add a `default`, or an option `{}` to this plan (special variables: {})",
                    v.name,
                    SPECIAL_VARIABLES.join(", ")
                ),
            );
        }
    }
}

fn check_resource_types(
    diags: &mut Diagnostics,
    file: &str,
    m: &Module,
    schemas: Option<&ProviderSchemas>,
) {
    for r in &m.resources {
        if let Some(schemas) = schemas {
            for f in vitrina_hcl::schema::check_resource(r, schemas) {
                diags.push(finding(file, f));
            }
        } else {
            check_resource_prefix(diags, file, r);
        }
        if let Some((_, instead)) = DEPRECATED.iter().find(|(t, _)| *t == r.type_name) {
            warn(
                diags,
                codes::MANIFEST_DEPRECATED_RESOURCE,
                file,
                r.type_span.clone(),
                format!("`{}` is deprecated", r.type_name),
                *instead,
            );
        }
    }
}

/// Without schemas: the type's provider prefix is one vitrina serves.
fn check_resource_prefix(diags: &mut Diagnostics, file: &str, r: &vitrina_hcl::Resource) {
    let provider = r.type_name.split('_').next().unwrap_or_default();
    let builtin = r.type_name == "terraform_data";
    if !builtin && (!PROVIDERS.contains(&provider) || !r.type_name.contains('_')) {
        err(
            diags,
            codes::MANIFEST_UNKNOWN_RESOURCE_TYPE,
            file,
            r.type_span.clone(),
            format!(
                "`{}` is not a type of a provider vitrina serves",
                r.type_name
            ),
            format!(
                "use a type of {}",
                PROVIDERS
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

/// A non-negative Go duration (`5s`, `1m`, `1h30m`, `500ms`, `2.5s`, `0`), read by the
/// project's one parser ([`vitrina_hcl::duration::parse_go_duration`]), as the agent reads it.
pub fn is_duration(s: &str) -> bool {
    vitrina_hcl::duration::parse_go_duration(s).is_ok_and(|d| d.nanos >= 0)
}

/// The value of a written-out constant; nothing else is evaluated here (the engine evaluates
/// manifests), so validation costs at most what the text does (probes H4, M5).
fn literal(expr: &vitrina_hcl::Expression) -> Option<vitrina_hcl::Value> {
    if !vitrina_hcl::schema::is_constant(expr) {
        return None;
    }
    vitrina_hcl::evaluate(expr, &vitrina_hcl::EvalContext::new()).ok()
}

fn check_agent_steps(diags: &mut Diagnostics, file: &str, m: &Module) {
    for r in m
        .managed_resources()
        .filter(|r| r.type_name == "ivkcs_agent_exec")
    {
        let mut indices: BTreeMap<i64, Range<usize>> = BTreeMap::new();
        for step in r.block.blocks_of("step") {
            if let Some(attr) = step.attribute("index") {
                if let Some(n) = literal(&attr.expr).and_then(|v| v.as_number()) {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = n as i64;
                    if let std::collections::btree_map::Entry::Vacant(slot) = indices.entry(i) {
                        slot.insert(attr.expr_span.clone());
                    } else {
                        err(
                            diags,
                            codes::MANIFEST_BAD_AGENT_STEP,
                            file,
                            attr.expr_span.clone(),
                            format!(
                                "step index {i} is used twice in `ivkcs_agent_exec.{}`",
                                r.name
                            ),
                            "give every step of a resource its own index",
                        );
                    }
                }
            }
            if let Some(attr) = step.attribute("type") {
                if let Some(v) = literal(&attr.expr) {
                    let s = v.as_str().unwrap_or_default();
                    if s != "bash" && s != "python" {
                        err(
                            diags,
                            codes::MANIFEST_BAD_AGENT_STEP,
                            file,
                            attr.expr_span.clone(),
                            format!("step type `{s}` is not `bash` or `python`"),
                            "use `type = \"bash\"` or `type = \"python\"`",
                        );
                    }
                }
            }
            for opts in step.blocks_of("options") {
                for a in &opts.attributes {
                    if !STEP_OPTIONS.contains(&a.name.as_str()) {
                        let help = did_you_mean(&a.name, STEP_OPTIONS).map_or_else(
                            || format!("known options: {}", STEP_OPTIONS.join(", ")),
                            |s| format!("did you mean `{s}`?"),
                        );
                        err(
                            diags,
                            codes::MANIFEST_BAD_AGENT_STEP,
                            file,
                            a.name_span.clone(),
                            format!("unknown step option `{}`", a.name),
                            help,
                        );
                    } else if DURATION_OPTIONS.contains(&a.name.as_str()) {
                        if let Some(v) = literal(&a.expr) {
                            let text = match &v {
                                vitrina_hcl::Value::String(s) => s.clone(),
                                vitrina_hcl::Value::Number(n) if *n == 0.0 => "0".to_owned(),
                                _ => String::new(),
                            };
                            if !is_duration(&text) {
                                err(
                                    diags,
                                    codes::MANIFEST_BAD_AGENT_STEP,
                                    file,
                                    a.expr_span.clone(),
                                    format!("`{}` is not a duration", a.name),
                                    "write a duration such as \"5s\", \"1m\" or \"1h\"",
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether a reference reads a secret.
fn is_secret(r: &Reference) -> bool {
    if r.root == "random_password"
        && r.steps
            .iter()
            .any(|s| matches!(s, vitrina_hcl::Step::Attr { name, .. } if name == "result"))
    {
        return true;
    }
    r.steps
        .iter()
        .any(|s| matches!(s, vitrina_hcl::Step::Attr { name, .. } if SECRET_ATTRS.contains(&name.as_str())))
}

fn check_outputs(diags: &mut Diagnostics, file: &str, m: &Module, text: &str) {
    for o in &m.outputs {
        if o.sensitive {
            continue;
        }
        let Some(value) = &o.value else { continue };
        if let Some(r) = vitrina_hcl::references(&value.expr)
            .into_iter()
            .find(is_secret)
        {
            let mut d = Diagnostic::error(
                codes::MANIFEST_SENSITIVE_OUTPUT,
                Span::new(file, o.name_span.clone()),
                format!(
                    "output `{}` carries the secret `{r}` but is not sensitive",
                    o.name
                ),
            )
            .with_help("add `sensitive = true` to the output");
            // Before the block's closing brace when it is alone on its line.
            let close = o.block.span.end.saturating_sub(1);
            let line_start = text.get(..close).and_then(|t| t.rfind('\n')).map(|i| i + 1);
            if let Some(start) = line_start {
                if text.get(close..=close) == Some("}")
                    && text.get(start..close).is_some_and(|l| l.trim().is_empty())
                {
                    d = d.with_fix(Fix::replace(
                        Applicability::Safe,
                        "add `sensitive = true`",
                        Span::new(file, start..start),
                        "  sensitive = true\n",
                    ));
                }
            }
            diags.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for ok in [
            "5s", "1m", "1h", "1h30m", "500ms", "0", "20m", "1.5s", "2.5s",
        ] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "5", "m", "5x", "-1s"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
