//! Provider schemas as data, and the static checks made with them.
//!
//! The engine's providers describe their resource types with `vitrina_engine::Schema`; the
//! `package` room must not depend on the engine, so both meet here: [`ProviderSchemas`] is plain
//! data (names, [`Type`]s, required/optional/computed, nested blocks) that the engine converts its
//! schemas into and the cli hands to the package validator. The checks below are the one
//! implementation both rooms use, so `vitrina package validate` and `vitrina tf validate` answer
//! the same for the same manifest:
//!
//! - [`check_resource`]: the resource or data source type exists (with a did-you-mean), its
//!   arguments and blocks exist, required arguments are present, literal argument values convert
//!   to the argument's type;
//! - [`Declarations::check`]: a reference names something declared, and an attribute read from
//!   a resource or data source exists in its type's schema.
//!
//! Findings carry no code: each room maps a [`FindingKind`] to its own stable code.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::parse::{Block, Module, Resource, ResourceMode};
use crate::refs::{Reference, Step};
use crate::types::Type;

/// One argument or attribute of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrSpec {
    pub ty: Type,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// Set by the provider (only, when neither required nor optional).
    pub computed: bool,
}

impl AttrSpec {
    pub fn required(ty: Type) -> Self {
        AttrSpec {
            ty,
            required: true,
            optional: false,
            computed: false,
        }
    }
    pub fn optional(ty: Type) -> Self {
        AttrSpec {
            ty,
            required: false,
            optional: true,
            computed: false,
        }
    }
    pub fn computed(ty: Type) -> Self {
        AttrSpec {
            ty,
            required: false,
            optional: false,
            computed: true,
        }
    }
    pub fn optional_computed(ty: Type) -> Self {
        AttrSpec {
            ty,
            required: false,
            optional: true,
            computed: true,
        }
    }
    /// Set by the provider only: configuration cannot set it.
    pub fn is_read_only(&self) -> bool {
        self.computed && !self.optional && !self.required
    }
}

/// How a nested block appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
}

/// A nested block type.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSpec {
    pub nesting: Nesting,
    pub min_items: usize,
    pub max_items: Option<usize>,
    pub body: BodySpec,
}

/// The body of a resource type, data source or nested block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BodySpec {
    pub attributes: BTreeMap<String, AttrSpec>,
    pub blocks: BTreeMap<String, BlockSpec>,
}

impl BodySpec {
    pub fn new() -> Self {
        BodySpec::default()
    }

    #[must_use]
    pub fn attr(mut self, name: &str, spec: AttrSpec) -> Self {
        self.attributes.insert(name.to_owned(), spec);
        self
    }

    #[must_use]
    pub fn block(self, name: &str, nesting: Nesting, body: BodySpec) -> Self {
        self.block_items(name, nesting, 0, None, body)
    }

    #[must_use]
    pub fn block_items(
        mut self,
        name: &str,
        nesting: Nesting,
        min_items: usize,
        max_items: Option<usize>,
        body: BodySpec,
    ) -> Self {
        self.blocks.insert(
            name.to_owned(),
            BlockSpec {
                nesting,
                min_items,
                max_items,
                body,
            },
        );
        self
    }
}

/// What one provider offers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderSpec {
    pub resources: BTreeMap<String, BodySpec>,
    pub data_sources: BTreeMap<String, BodySpec>,
}

impl ProviderSpec {
    pub fn of(&self, mode: ResourceMode, type_name: &str) -> Option<&BodySpec> {
        match mode {
            ResourceMode::Managed => self.resources.get(type_name),
            ResourceMode::Data => self.data_sources.get(type_name),
        }
    }
}

/// Every provider's schemas, by the provider's local name (`vkcs`, `random`, …).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderSchemas {
    pub providers: BTreeMap<String, ProviderSpec>,
}

impl ProviderSchemas {
    /// Only the built-in `terraform` provider (`terraform_data`).
    pub fn builtin() -> Self {
        let mut s = ProviderSchemas::default();
        let mut terraform = ProviderSpec::default();
        terraform.resources.insert(
            "terraform_data".to_owned(),
            BodySpec::new()
                .attr("id", AttrSpec::computed(Type::String))
                .attr("input", AttrSpec::optional(Type::Dynamic))
                .attr("output", AttrSpec::computed(Type::Dynamic))
                .attr("triggers_replace", AttrSpec::optional(Type::Dynamic)),
        );
        s.providers.insert("terraform".to_owned(), terraform);
        s
    }

    /// Adds (or replaces) a provider's schemas.
    pub fn insert(&mut self, name: impl Into<String>, spec: ProviderSpec) {
        self.providers.insert(name.into(), spec);
    }

    /// The schema of a type, looked up in `provider` (a local name).
    pub fn of(&self, provider: &str, mode: ResourceMode, type_name: &str) -> Option<&BodySpec> {
        self.providers.get(provider)?.of(mode, type_name)
    }

    /// Every type of `mode` of every provider.
    fn type_names(&self, mode: ResourceMode) -> Vec<&str> {
        self.providers
            .values()
            .flat_map(|p| match mode {
                ResourceMode::Managed => p.resources.keys(),
                ResourceMode::Data => p.data_sources.keys(),
            })
            .map(String::as_str)
            .collect()
    }
}

/// Meta-arguments every resource and data source accepts.
pub const META_ARGUMENTS: &[&str] = &["count", "for_each", "depends_on", "provider"];
/// Blocks the engine handles in every resource (`timeouts` only when the schema has none).
pub const META_BLOCKS: &[&str] = &["lifecycle", "connection", "provisioner", "timeouts"];

/// What a finding is about; each room maps it to its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// A resource or data source type no provider offers.
    UnknownType,
    /// An argument or block the schema does not have, or one only the provider sets.
    UnknownArgument,
    /// A required argument (or required block) is missing, or too many of a block.
    MissingArgument,
    /// A literal value that does not convert to the argument's type.
    WrongType,
    /// A reference to something not declared.
    Undeclared,
    /// A reference to an attribute the resource or data source type does not have.
    UnknownAttribute,
}

/// One problem found with a schema or in the declarations.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    pub span: Range<usize>,
    pub message: String,
    pub help: String,
    /// The name to write instead (a did-you-mean), replacing the text at `span`.
    pub replacement: Option<String>,
}

/// The closest of `known` to `name` when it is a likely typo: at most 2 edits, or at most a
/// fifth of the name's length for long names.
pub fn did_you_mean<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let limit = (name.chars().count() / 5).max(2);
    known
        .into_iter()
        .filter(|k| *k != name)
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, k)| k)
}

fn help_for(suggestion: Option<&str>, fallback: impl FnOnce() -> String) -> String {
    suggestion.map_or_else(fallback, |s| format!("did you mean `{s}`?"))
}

/// The provider local name a resource uses: its `provider` meta-argument's first name, else
/// the type's prefix (`vkcs_compute_instance` → `vkcs`).
pub fn provider_of(r: &Resource) -> String {
    if let Some(a) = r.block.attribute("provider") {
        if let Some(first) = crate::refs::references(&a.expr).first() {
            return first.root.clone();
        }
    }
    r.type_name
        .split_once('_')
        .map_or(r.type_name.as_str(), |(p, _)| p)
        .to_owned()
}

/// Checks one resource or data source block against the schemas.
pub fn check_resource(r: &Resource, schemas: &ProviderSchemas) -> Vec<Finding> {
    check_resource_block(
        r.mode,
        &r.type_name,
        r.type_span.clone(),
        &provider_of(r),
        &r.block,
        schemas,
    )
}

/// [`check_resource`] from the pieces: the mode, the type and its span, the provider's local
/// name and the block.
pub fn check_resource_block(
    mode: ResourceMode,
    type_name: &str,
    type_span: Range<usize>,
    provider: &str,
    block: &Block,
    schemas: &ProviderSchemas,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let what = match mode {
        ResourceMode::Managed => "resource type",
        ResourceMode::Data => "data source",
    };
    let Some(body) = schemas.of(provider, mode, type_name) else {
        let names = schemas.type_names(mode);
        let suggestion = did_you_mean(type_name, names.iter().copied());
        let help = help_for(suggestion, || {
            if schemas.providers.contains_key(provider) {
                format!("provider `{provider}` does not offer it; check the spelling")
            } else {
                format!(
                    "use a type of a provider vitrina serves: {}",
                    schemas
                        .providers
                        .keys()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        });
        out.push(Finding {
            kind: FindingKind::UnknownType,
            span: type_span,
            message: format!("unknown {what} `{type_name}`"),
            help,
            // The label's span holds its quotes.
            replacement: suggestion.map(|s| format!("\"{s}\"")),
        });
        return out;
    };
    check_body(block, body, true, &mut out);
    out
}

/// Static check of a block body: unknown arguments and blocks, read-only arguments, missing
/// required arguments and blocks, literal values of the wrong type.
pub fn check_body(block: &Block, body: &BodySpec, top: bool, out: &mut Vec<Finding>) {
    for a in &block.attributes {
        if top && META_ARGUMENTS.contains(&a.name.as_str()) {
            continue;
        }
        let Some(spec) = body.attributes.get(&a.name) else {
            let suggestion = if body.blocks.contains_key(&a.name) {
                None
            } else {
                did_you_mean(
                    &a.name,
                    body.attributes
                        .iter()
                        .filter(|(_, s)| !s.is_read_only())
                        .map(|(n, _)| n.as_str()),
                )
            };
            let help = if body.blocks.contains_key(&a.name) {
                format!("`{}` is a block: write `{} {{ … }}`", a.name, a.name)
            } else {
                help_for(suggestion, || expected(settable(body)))
            };
            out.push(Finding {
                kind: FindingKind::UnknownArgument,
                span: a.name_span.clone(),
                message: format!("unsupported argument `{}`", a.name),
                help,
                replacement: suggestion.map(str::to_owned),
            });
            continue;
        };
        if spec.is_read_only() {
            out.push(Finding {
                kind: FindingKind::UnknownArgument,
                span: a.name_span.clone(),
                message: format!(
                    "`{}` is set by the provider and cannot be configured",
                    a.name
                ),
                help: format!("remove `{}`", a.name),
                replacement: None,
            });
            continue;
        }
        if let Some(found) = wrong_type(&a.expr, &spec.ty) {
            out.push(Finding {
                kind: FindingKind::WrongType,
                span: a.expr_span.clone(),
                message: format!(
                    "`{}` must be {}, not {found}",
                    a.name,
                    spec.ty.friendly_name()
                ),
                help: format!("write {} here", spec.ty.friendly_name()),
                replacement: None,
            });
        }
    }
    let dynamic_kinds: BTreeSet<&str> = block
        .blocks_of("dynamic")
        .filter_map(|b| b.labels.first().map(|l| l.value.as_str()))
        .collect();
    for (name, spec) in &body.attributes {
        if spec.required && block.attribute(name).is_none() {
            out.push(Finding {
                kind: FindingKind::MissingArgument,
                span: block.name_span(),
                message: format!("the argument `{name}` is required"),
                help: format!("add `{name} = …` to this block"),
                replacement: None,
            });
        }
    }
    let mut counts: BTreeMap<&str, (usize, Range<usize>)> = BTreeMap::new();
    for b in &block.blocks {
        let (kind, inner) = if b.kind == "dynamic" {
            let Some(label) = b.labels.first() else {
                continue;
            };
            (label.value.as_str(), b.blocks_of("content").next())
        } else {
            (b.kind.as_str(), Some(b))
        };
        if top && META_BLOCKS.contains(&kind) && !body.blocks.contains_key(kind) {
            continue;
        }
        match body.blocks.get(kind) {
            Some(spec) => {
                let c = counts.entry(kind).or_insert((0, b.kind_span.clone()));
                c.0 += 1;
                if c.0 > 1 {
                    c.1 = b.kind_span.clone();
                }
                if let Some(inner) = inner {
                    check_body(inner, &spec.body, false, out);
                }
            }
            None => {
                let suggestion = did_you_mean(kind, body.blocks.keys().map(String::as_str));
                let help = if body.attributes.contains_key(kind) {
                    format!("`{kind}` is an argument: write `{kind} = …`")
                } else {
                    help_for(suggestion, || {
                        expected(body.blocks.keys().map(String::as_str).collect())
                    })
                };
                out.push(Finding {
                    kind: FindingKind::UnknownArgument,
                    span: b.kind_span.clone(),
                    message: format!("unsupported block `{kind}`"),
                    help,
                    replacement: suggestion.map(str::to_owned),
                });
            }
        }
    }
    for (name, spec) in &body.blocks {
        if dynamic_kinds.contains(name.as_str()) {
            continue;
        }
        let (n, at) = counts
            .get(name.as_str())
            .cloned()
            .unwrap_or((0, block.name_span()));
        if n < spec.min_items {
            out.push(Finding {
                kind: FindingKind::MissingArgument,
                span: block.name_span(),
                message: if spec.min_items == 1 {
                    format!("a `{name}` block is required")
                } else {
                    format!("at least {} `{name}` blocks are required", spec.min_items)
                },
                help: format!("add `{name} {{ … }}` to this block"),
                replacement: None,
            });
        }
        let max = match spec.nesting {
            Nesting::Single => Some(1),
            _ => spec.max_items,
        };
        if let Some(max) = max.filter(|m| n > *m) {
            out.push(Finding {
                kind: FindingKind::MissingArgument,
                span: at,
                message: format!("at most {max} `{name}` block(s) are allowed, found {n}"),
                help: format!("remove the extra `{name}` blocks"),
                replacement: None,
            });
        }
    }
}

fn settable(body: &BodySpec) -> Vec<&str> {
    body.attributes
        .iter()
        .filter(|(_, s)| !s.is_read_only())
        .map(|(n, _)| n.as_str())
        .collect()
}

fn expected(names: Vec<&str>) -> String {
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

/// Whether `expr` is a constant written out: null, bools, numbers, plain strings, and arrays,
/// objects, parentheses and unary operators of them. Only such expressions are evaluated by
/// static checks, so their cost is bounded by their text (no `for`, no function, no template).
pub fn is_constant(expr: &crate::Expression) -> bool {
    use hcl_edit::expr::{Expression as E, ObjectKey};
    match expr {
        E::Null(_) | E::Bool(_) | E::Number(_) | E::String(_) => true,
        E::Array(items) => items.iter().all(is_constant),
        E::Object(obj) => obj.iter().all(|(k, v)| {
            matches!(k, ObjectKey::Ident(_)) || matches!(k, ObjectKey::Expression(e) if is_constant(e))
        } && is_constant(v.expr())),
        E::Parenthesis(p) => is_constant(p.inner()),
        E::UnaryOp(u) => is_constant(&u.expr),
        _ => false,
    }
}

/// When `expr` is a written-out constant ([`is_constant`]) whose value does not convert to
/// `ty`: what it is instead.
fn wrong_type(expr: &crate::Expression, ty: &Type) -> Option<String> {
    if *ty == Type::Dynamic || !is_constant(expr) {
        return None;
    }
    let value = crate::eval::evaluate(expr, &crate::eval::EvalContext::new()).ok()?;
    if value.is_null() || !value.is_known() {
        return None;
    }
    match crate::convert::convert(&value, ty) {
        Ok(_) => None,
        Err(_) => Some(value.type_of().friendly_name()),
    }
}

/// A reference that stops before naming anything (`var`, `data.vkcs_images`).
fn incomplete(r: &Reference, form: &str) -> Finding {
    Finding {
        kind: FindingKind::Undeclared,
        span: r.span.clone(),
        message: format!("`{r}` is not a complete reference"),
        help: format!("write `{form}`"),
        replacement: None,
    }
}

/// What a configuration declares, for reference checks.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    pub variables: BTreeSet<String>,
    pub locals: BTreeSet<String>,
    /// (mode, type, name) of every resource and data source.
    pub resources: BTreeSet<(ResourceMode, String, String)>,
    /// The provider local name of each resource, by (mode, type, name).
    pub providers: BTreeMap<(ResourceMode, String, String), String>,
    pub module_calls: BTreeSet<String>,
}

impl Declarations {
    pub fn new() -> Self {
        Declarations::default()
    }

    /// Adds everything a parsed file declares.
    pub fn add_module(&mut self, m: &Module) {
        self.variables
            .extend(m.variables.iter().map(|v| v.name.clone()));
        self.locals.extend(m.locals.iter().map(|l| l.name.clone()));
        for r in &m.resources {
            self.add_resource(r.mode, &r.type_name, &r.name, provider_of(r));
        }
        self.module_calls.extend(
            m.module_calls
                .iter()
                .filter_map(|b| b.labels.first())
                .map(|l| l.value.clone()),
        );
    }

    pub fn add_resource(
        &mut self,
        mode: ResourceMode,
        type_name: &str,
        name: &str,
        provider: String,
    ) {
        let key = (mode, type_name.to_owned(), name.to_owned());
        self.providers.insert(key.clone(), provider);
        self.resources.insert(key);
    }

    /// Whether a resource `name` of `mode` is declared with a type close to `type_name`: a
    /// reference to `type_name.name` then names that declaration, and one of the two has a typo
    /// reported on its own (one report per mistake).
    fn declared_with_typo(&self, mode: ResourceMode, type_name: &str, name: &str) -> bool {
        self.resources
            .iter()
            .any(|(m, t, n)| *m == mode && n == name && did_you_mean(t, [type_name]).is_some())
    }

    fn names_of(&self, mode: ResourceMode, type_name: &str) -> Vec<&str> {
        self.resources
            .iter()
            .filter(|(m, t, _)| *m == mode && t == type_name)
            .map(|(_, _, n)| n.as_str())
            .collect()
    }

    /// Whether `r` names something declared; with `schemas`, also whether an attribute read
    /// from a resource or data source exists in its type's schema.
    pub fn check(&self, r: &Reference, schemas: Option<&ProviderSchemas>) -> Option<Finding> {
        let undeclared = |what: String, span: Range<usize>, known: Vec<&str>, last: &str| {
            let suggestion = did_you_mean(last, known.iter().copied());
            Finding {
                kind: FindingKind::Undeclared,
                span,
                message: format!("`{what}` is not declared"),
                help: help_for(suggestion, || "declare it, or correct the name".to_owned()),
                replacement: suggestion.map(|s| match what.rsplit_once('.') {
                    Some((head, _)) => format!("{head}.{s}"),
                    None => s.to_owned(),
                }),
            }
        };
        match r.root.as_str() {
            "count" | "each" | "path" | "self" | "terraform" => None,
            "var" | "local" | "module" => {
                let Some(name) = r.attr(0) else {
                    return Some(incomplete(r, &format!("{}.NAME", r.root)));
                };
                let set = match r.root.as_str() {
                    "var" => &self.variables,
                    "local" => &self.locals,
                    _ => &self.module_calls,
                };
                if set.contains(name) {
                    return None;
                }
                Some(undeclared(
                    format!("{}.{name}", r.root),
                    r.span_through(0),
                    set.iter().map(String::as_str).collect(),
                    name,
                ))
            }
            "data" => {
                let (Some(t), Some(n)) = (r.attr(0), r.attr(1)) else {
                    return Some(incomplete(r, "data.TYPE.NAME"));
                };
                if !self
                    .resources
                    .contains(&(ResourceMode::Data, t.to_owned(), n.to_owned()))
                {
                    if self.declared_with_typo(ResourceMode::Data, t, n) {
                        return None;
                    }
                    return Some(undeclared(
                        format!("data.{t}.{n}"),
                        r.span_through(1),
                        self.names_of(ResourceMode::Data, t),
                        n,
                    ));
                }
                self.check_attribute(r, ResourceMode::Data, t, n, 2, schemas)
            }
            t => {
                let Some(n) = r.attr(0) else {
                    return Some(undeclared(t.to_owned(), r.root_span.clone(), Vec::new(), t));
                };
                if !self
                    .resources
                    .contains(&(ResourceMode::Managed, t.to_owned(), n.to_owned()))
                {
                    if self.declared_with_typo(ResourceMode::Managed, t, n) {
                        return None;
                    }
                    return Some(undeclared(
                        format!("{t}.{n}"),
                        r.span_through(0),
                        self.names_of(ResourceMode::Managed, t),
                        n,
                    ));
                }
                self.check_attribute(r, ResourceMode::Managed, t, n, 1, schemas)
            }
        }
    }

    /// The attribute read after a resource's name (skipping one instance index or key).
    fn check_attribute(
        &self,
        r: &Reference,
        mode: ResourceMode,
        t: &str,
        n: &str,
        first: usize,
        schemas: Option<&ProviderSchemas>,
    ) -> Option<Finding> {
        let schemas = schemas?;
        let provider = self.providers.get(&(mode, t.to_owned(), n.to_owned()))?;
        let body = schemas.of(provider, mode, t)?;
        let mut i = first;
        if matches!(r.steps.get(i), Some(Step::Index { .. } | Step::Key { .. })) {
            i += 1;
        }
        let Some(Step::Attr { name, span }) = r.steps.get(i) else {
            return None;
        };
        if body.attributes.contains_key(name)
            || body.blocks.contains_key(name)
            || (mode == ResourceMode::Managed && name == "id")
        {
            return None;
        }
        let known: Vec<&str> = body
            .attributes
            .keys()
            .chain(body.blocks.keys())
            .map(String::as_str)
            .collect();
        let suggestion = did_you_mean(name, known.iter().copied());
        Some(Finding {
            kind: FindingKind::UnknownAttribute,
            // The step's span may include the `.`: point at the name.
            span: span.end.saturating_sub(name.len()).max(span.start)..span.end,
            message: format!("`{t}` has no attribute `{name}`"),
            help: help_for(suggestion, || expected(known.clone())),
            replacement: suggestion.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_typos() {
        let types = ["vkcs_compute_instance", "vkcs_networking_network"];
        assert_eq!(
            did_you_mean("vkcs_compute_instanse", types),
            Some("vkcs_compute_instance")
        );
        assert_eq!(
            did_you_mean("flavour_id", ["flavor_id", "name"]),
            Some("flavor_id")
        );
        assert_eq!(did_you_mean("zzz", ["flavor_id"]), None);
    }

    fn schemas() -> ProviderSchemas {
        let mut s = ProviderSchemas::builtin();
        let mut p = ProviderSpec::default();
        p.resources.insert(
            "vkcs_blockstorage_volume".into(),
            BodySpec::new()
                .attr("id", AttrSpec::computed(Type::String))
                .attr("size", AttrSpec::required(Type::Number))
                .attr("name", AttrSpec::optional(Type::String))
                .block(
                    "timeouts",
                    Nesting::Single,
                    BodySpec::new().attr("create", AttrSpec::optional(Type::String)),
                ),
        );
        s.insert("vkcs", p);
        s
    }

    fn findings(text: &str) -> Vec<(FindingKind, String, Option<String>)> {
        let m = crate::parse("main.tf", text).expect("parses");
        let s = schemas();
        let mut out = Vec::new();
        let mut decls = Declarations::new();
        decls.add_module(&m);
        for r in &m.resources {
            for f in check_resource(r, &s) {
                out.push((f.kind, text[f.span.clone()].to_owned(), f.replacement));
            }
        }
        for b in &m.blocks {
            for r in crate::refs::block_references(b) {
                if let Some(f) = decls.check(&r, Some(&s)) {
                    out.push((f.kind, text[f.span.clone()].to_owned(), f.replacement));
                }
            }
        }
        out
    }

    #[test]
    fn one_finding_per_mistake_with_its_span_and_replacement() {
        use FindingKind as K;
        let ok = "resource \"vkcs_blockstorage_volume\" \"v\" {\n  size = 10\n  name = \"x\"\n}\noutput \"id\" {\n  value = vkcs_blockstorage_volume.v.id\n}\n";
        assert_eq!(findings(ok), vec![]);
        let typo = ok.replace(
            "\"vkcs_blockstorage_volume\" \"v\"",
            "\"vkcs_blockstorage_volum\" \"v\"",
        );
        assert_eq!(
            findings(&typo),
            vec![(
                K::UnknownType,
                "\"vkcs_blockstorage_volum\"".to_owned(),
                Some("\"vkcs_blockstorage_volume\"".to_owned())
            )],
            "the output's reference follows the typo and is not reported again"
        );
        let arg = ok.replace("  name = ", "  nmae = ");
        assert_eq!(
            findings(&arg),
            vec![(
                K::UnknownArgument,
                "nmae".to_owned(),
                Some("name".to_owned())
            )]
        );
        let missing = ok.replace("  size = 10\n", "");
        assert_eq!(findings(&missing)[0].0, K::MissingArgument);
        let wrong = ok.replace("size = 10", "size = \"ten\"");
        assert_eq!(
            findings(&wrong),
            vec![(K::WrongType, "\"ten\"".to_owned(), None)]
        );
        // A string that converts to a number is fine, as in Terraform; a function is not run.
        assert_eq!(findings(&ok.replace("size = 10", "size = \"10\"")), vec![]);
        assert_eq!(
            findings(&ok.replace("size = 10", "size = length(\"ten\")")),
            vec![]
        );
        let attr = ok.replace("v.id", "v.sise");
        assert_eq!(
            findings(&attr),
            vec![(
                K::UnknownAttribute,
                "sise".to_owned(),
                Some("size".to_owned())
            )]
        );
        let undeclared = ok.replace("v.id", "w.id");
        assert_eq!(findings(&undeclared)[0].0, K::Undeclared);
        let computed = ok.replace("  name = ", "  id = ");
        assert_eq!(findings(&computed)[0].0, K::UnknownArgument);
    }

    #[test]
    fn only_written_out_constants_are_evaluated() {
        let e = |t: &str| crate::parse_expression("x.tf", t).expect("parses");
        assert!(is_constant(&e("[1, \"a\", {b = true}, -2, (3)]")));
        assert!(!is_constant(&e("[for i in [1, 2]: i]")));
        assert!(!is_constant(&e("length([1])")));
        assert!(!is_constant(&e("\"a-${1}\"")));
        assert!(!is_constant(&e("var.x")));
    }
}
