//! Configuration: the `*.tf` files of one folder, parsed by `vitrina-hcl` and arranged by what
//! the engine needs: variables, locals, resources and data sources (with their meta-arguments),
//! outputs and provider blocks, each with its references. Nothing here evaluates anything or
//! knows a provider.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vitrina_diagnostics::{Diagnostic, Diagnostics, SourceMap, Span};
use vitrina_hcl as hcl;

use crate::addr::{ResourceAddr, ResourceMode};
use crate::duration::parse_duration;

/// Stable diagnostic codes raised while reading a configuration (registered in
/// [`vitrina_diagnostics::codes`]).
pub mod codes {
    /// A file cannot be read.
    pub const READ: &str = vitrina_diagnostics::codes::TF_READ;
    /// Two blocks declare the same variable, local, resource, data source or output.
    pub const DUPLICATE: &str = vitrina_diagnostics::codes::TF_DUPLICATE;
    /// A block misses its labels or a meta-argument has the wrong shape.
    pub const BAD_BLOCK: &str = vitrina_diagnostics::codes::TF_BAD_BLOCK;
    /// A reference names something that is not declared.
    pub const UNDECLARED: &str = vitrina_diagnostics::codes::TF_UNDECLARED;
    /// References form a cycle.
    pub const CYCLE: &str = vitrina_diagnostics::codes::TF_CYCLE;
    /// `module` blocks are not supported yet.
    pub const UNSUPPORTED: &str = vitrina_diagnostics::codes::TF_UNSUPPORTED;
    /// A resource type no registered provider offers.
    pub const UNKNOWN_TYPE: &str = vitrina_diagnostics::codes::TF_UNKNOWN_RESOURCE_TYPE;
    /// An argument the resource's schema does not have.
    pub const UNKNOWN_ARGUMENT: &str = vitrina_diagnostics::codes::TF_UNSUPPORTED_ARGUMENT;
    /// A required argument is missing.
    pub const MISSING_ARGUMENT: &str = vitrina_diagnostics::codes::TF_MISSING_ARGUMENT;
    /// A literal argument value that does not convert to the argument's type.
    pub const ARGUMENT_TYPE: &str = vitrina_diagnostics::codes::TF_ARGUMENT_TYPE;
    /// A reference to an attribute the resource or data source type does not have.
    pub const UNKNOWN_ATTRIBUTE: &str = vitrina_diagnostics::codes::TF_UNKNOWN_ATTRIBUTE;
    /// The folder holds no `.tf` file.
    pub const EMPTY: &str = vitrina_diagnostics::codes::TF_NO_CONFIGURATION;
}

/// A `variable` block.
#[derive(Debug, Clone)]
pub struct VariableConfig {
    pub name: String,
    pub span: Span,
    pub ty: Option<hcl::Type>,
    pub default: Option<hcl::Attribute>,
    pub sensitive: bool,
    pub nullable: bool,
    pub validations: Vec<hcl::Validation>,
    pub description: Option<String>,
    pub file: String,
}

/// One local value.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub name: String,
    pub span: Span,
    pub expr: hcl::Expression,
    pub references: Vec<hcl::Reference>,
}

/// `ignore_changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IgnoreChanges {
    #[default]
    None,
    All,
    /// Top-level attribute or block names.
    Attributes(Vec<String>),
}

/// A `lifecycle` block.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub create_before_destroy: bool,
    pub prevent_destroy: bool,
    pub ignore_changes: IgnoreChanges,
    /// Expressions (one per list element) whose change replaces the resource.
    pub replace_triggered_by: Vec<hcl::Expression>,
}

/// A `timeouts` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub create: Option<Duration>,
    pub read: Option<Duration>,
    pub update: Option<Duration>,
    pub delete: Option<Duration>,
}

/// A `resource` or `data` block.
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    pub addr: ResourceAddr,
    pub span: Span,
    pub file: String,
    /// The whole block; meta-arguments are read from it into the fields below and skipped
    /// when the body is evaluated.
    pub block: hcl::Block,
    pub count: Option<hcl::Attribute>,
    pub for_each: Option<hcl::Attribute>,
    /// Addresses named in `depends_on`.
    pub depends_on: Vec<DependsOn>,
    /// Provider configuration address: `vkcs` or `vkcs.alias`.
    pub provider: String,
    pub lifecycle: Lifecycle,
    pub timeouts: Timeouts,
    /// Every reference in the block (body and meta-arguments).
    pub references: Vec<hcl::Reference>,
}

/// One element of `depends_on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependsOn {
    Resource(ResourceAddr),
    /// Any other reference (`local.x`, `var.y`); kept for ordering.
    Other(String),
}

/// An `output` block.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub name: String,
    pub span: Span,
    pub value: Option<hcl::Attribute>,
    pub sensitive: bool,
    pub description: Option<String>,
    pub depends_on: Vec<DependsOn>,
    pub references: Vec<hcl::Reference>,
}

/// A `provider` block.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `vkcs` or `vkcs.alias`.
    pub addr: String,
    pub name: String,
    pub span: Span,
    pub block: hcl::Block,
    pub references: Vec<hcl::Reference>,
}

/// A folder's configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The folder (`path.module`).
    pub dir: PathBuf,
    /// The text of every file, by its name relative to `dir` (for rendering diagnostics).
    pub sources: SourceMap,
    pub variables: BTreeMap<String, VariableConfig>,
    pub locals: BTreeMap<String, LocalConfig>,
    pub resources: BTreeMap<ResourceAddr, ResourceConfig>,
    pub outputs: BTreeMap<String, OutputConfig>,
    pub providers: BTreeMap<String, ProviderConfig>,
}

/// Names of meta-arguments and engine-handled blocks in resource bodies.
pub const META_ARGUMENTS: &[&str] = &[
    "count",
    "for_each",
    "depends_on",
    "provider",
    "lifecycle",
    "timeouts",
    "connection",
    "provisioner",
];

impl Config {
    /// Reads every `*.tf` file of `dir` (sorted by name). Returns the configuration and every
    /// problem found; the configuration is usable only when there is no error.
    pub fn load_dir(dir: &Path) -> (Config, Diagnostics) {
        let mut diags = Diagnostics::new();
        let mut files: Vec<(String, String)> = Vec::new();
        match fs_err::read_dir(dir) {
            Ok(entries) => {
                let mut names: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "tf") && p.is_file())
                    .collect();
                names.sort();
                for p in names {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    match fs_err::read_to_string(&p) {
                        Ok(text) => files.push((name, text)),
                        Err(e) => diags.push(Diagnostic::error(
                            codes::READ,
                            Span::file_start(name),
                            e.to_string(),
                        )),
                    }
                }
            }
            Err(e) => diags.push(Diagnostic::error(
                codes::READ,
                Span::file_start(dir.display().to_string()),
                e.to_string(),
            )),
        }
        if files.is_empty() && !diags.has_errors() {
            diags.push(
                Diagnostic::error(
                    codes::EMPTY,
                    Span::file_start(dir.display().to_string()),
                    "the folder holds no `.tf` file",
                )
                .with_help("point the command at the folder of the manifest"),
            );
        }
        let (config, more) = Config::from_sources(dir, files);
        diags.extend(more.iter().cloned());
        (config, diags)
    }

    /// Builds a configuration from `(file name, text)` pairs.
    pub fn from_sources(dir: &Path, files: Vec<(String, String)>) -> (Config, Diagnostics) {
        let mut diags = Diagnostics::new();
        let mut cfg = Config {
            dir: dir.to_owned(),
            ..Config::default()
        };
        for (name, text) in files {
            match hcl::parse(&name, &text) {
                Ok(module) => cfg.add_module(&module, &mut diags),
                Err(d) => diags.push(d),
            }
            cfg.sources.add(name, text);
        }
        (cfg, diags)
    }

    fn add_module(&mut self, m: &hcl::Module, diags: &mut Diagnostics) {
        let file = m.file.clone();
        let span = |r: Range<usize>| Span::new(file.clone(), r);
        for v in &m.variables {
            let ty = match &v.type_constraint {
                Some(Ok(t)) => Some(t.clone()),
                Some(Err(e)) => {
                    diags.push(e.to_diagnostic(&file, codes::BAD_BLOCK));
                    None
                }
                None => None,
            };
            let vc = VariableConfig {
                name: v.name.clone(),
                span: span(v.name_span.clone()),
                ty,
                default: v.default.clone(),
                sensitive: v.sensitive.unwrap_or(false),
                nullable: v.nullable.unwrap_or(true),
                validations: v.validations.clone(),
                description: v.description.clone(),
                file: file.clone(),
            };
            if let Some(prev) = self.variables.get(&v.name) {
                diags.push(duplicate(
                    "variable",
                    &v.name,
                    vc.span.clone(),
                    prev.span.clone(),
                ));
            } else {
                self.variables.insert(v.name.clone(), vc);
            }
        }
        for l in &m.locals {
            let lc = LocalConfig {
                name: l.name.clone(),
                span: span(l.name_span.clone()),
                references: hcl::references(&l.expr),
                expr: l.expr.clone(),
            };
            if let Some(prev) = self.locals.get(&l.name) {
                diags.push(duplicate(
                    "local value",
                    &l.name,
                    lc.span.clone(),
                    prev.span.clone(),
                ));
            } else {
                self.locals.insert(l.name.clone(), lc);
            }
        }
        for r in &m.resources {
            let addr = ResourceAddr {
                mode: match r.mode {
                    hcl::ResourceMode::Managed => ResourceMode::Managed,
                    hcl::ResourceMode::Data => ResourceMode::Data,
                },
                type_name: r.type_name.clone(),
                name: r.name.clone(),
            };
            let rc = resource_config(addr.clone(), &file, r, diags);
            if let Some(prev) = self.resources.get(&addr) {
                diags.push(duplicate(
                    "resource",
                    &addr.to_string(),
                    rc.span.clone(),
                    prev.span.clone(),
                ));
            } else {
                self.resources.insert(addr, rc);
            }
        }
        for o in &m.outputs {
            let references = hcl::block_references(&o.block);
            let oc = OutputConfig {
                name: o.name.clone(),
                span: span(o.name_span.clone()),
                value: o.value.clone(),
                sensitive: o.sensitive,
                description: o.description.clone(),
                depends_on: depends_on(&o.block, &file, diags),
                references,
            };
            if oc.value.is_none() {
                diags.push(Diagnostic::error(
                    codes::BAD_BLOCK,
                    oc.span.clone(),
                    format!("output `{}` has no `value`", o.name),
                ));
            }
            if let Some(prev) = self.outputs.get(&o.name) {
                diags.push(duplicate(
                    "output",
                    &o.name,
                    oc.span.clone(),
                    prev.span.clone(),
                ));
            } else {
                self.outputs.insert(o.name.clone(), oc);
            }
        }
        for p in &m.providers {
            let Some(name) = p.labels.first().map(|l| l.value.clone()) else {
                diags.push(Diagnostic::error(
                    codes::BAD_BLOCK,
                    span(p.kind_span.clone()),
                    "a `provider` block needs its name as a label",
                ));
                continue;
            };
            let alias = p.attribute("alias").and_then(|a| literal_string(&a.expr));
            let addr = match alias {
                Some(a) => format!("{name}.{a}"),
                None => name.clone(),
            };
            let pc = ProviderConfig {
                addr: addr.clone(),
                name,
                span: span(p.name_span()),
                references: hcl::block_references(p),
                block: p.clone(),
            };
            if let Some(prev) = self.providers.get(&addr) {
                diags.push(duplicate(
                    "provider configuration",
                    &addr,
                    pc.span.clone(),
                    prev.span.clone(),
                ));
            } else {
                self.providers.insert(addr, pc);
            }
        }
        for b in &m.module_calls {
            diags.push(
                Diagnostic::error(
                    codes::UNSUPPORTED,
                    span(b.name_span()),
                    "`module` blocks are not supported yet",
                )
                .with_help("inline the module's resources into this folder"),
            );
        }
    }
}

fn duplicate(what: &str, name: &str, here: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE,
        here,
        format!("{what} `{name}` is declared twice"),
    )
    .with_label(first, "first declared here")
    .with_help("rename or remove one of them")
}

/// A string literal (`"x"`) or a bare name (`x`).
fn literal_string(e: &hcl::Expression) -> Option<String> {
    match e {
        hcl::Expression::String(s) => Some(s.value().to_string()),
        hcl::Expression::Variable(v) => Some(v.value().to_string()),
        hcl::Expression::StringTemplate(t) => {
            let mut out = String::new();
            for el in t.iter() {
                match el {
                    hcl_edit::template::Element::Literal(l) => out.push_str(l.value()),
                    _ => return None,
                }
            }
            Some(out)
        }
        _ => None,
    }
}

fn literal_bool(e: &hcl::Expression) -> Option<bool> {
    match e {
        hcl::Expression::Bool(b) => Some(*b.value()),
        _ => None,
    }
}

fn expr_span(e: &hcl::Expression) -> Range<usize> {
    hcl_edit::Span::span(e).unwrap_or(0..0)
}

/// The reference behind a traversal expression such as `null_resource.a`, `data.x.y` or
/// `module.m`, as a resource address when it is one.
pub fn reference_to_resource(r: &hcl::Reference) -> Option<ResourceAddr> {
    match r.root.as_str() {
        "var" | "local" | "count" | "each" | "path" | "self" | "terraform" | "module" => None,
        "data" => match (r.attr(0), r.attr(1)) {
            (Some(t), Some(n)) => Some(ResourceAddr::data(t, n)),
            _ => None,
        },
        t => r.attr(0).map(|n| ResourceAddr::managed(t, n)),
    }
}

fn depends_on(block: &hcl::Block, file: &str, diags: &mut Diagnostics) -> Vec<DependsOn> {
    let Some(attr) = block.attribute("depends_on") else {
        return Vec::new();
    };
    let hcl::Expression::Array(items) = &attr.expr else {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            Span::new(file, attr.expr_span.clone()),
            "`depends_on` must be a list of references",
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let refs = hcl::references(item);
        match refs.first() {
            Some(r)
                if refs.len() == 1
                    && matches!(
                        item,
                        hcl::Expression::Traversal(_) | hcl::Expression::Variable(_)
                    ) =>
            {
                out.push(match reference_to_resource(r) {
                    Some(a) => DependsOn::Resource(a),
                    None => DependsOn::Other(r.to_string()),
                });
            }
            _ => diags.push(Diagnostic::error(
                codes::BAD_BLOCK,
                Span::new(file, expr_span(item)),
                "each `depends_on` element must be a reference such as `null_resource.a`",
            )),
        }
    }
    out
}

fn resource_config(
    addr: ResourceAddr,
    file: &str,
    r: &hcl::Resource,
    diags: &mut Diagnostics,
) -> ResourceConfig {
    let b = &r.block;
    let span = Span::new(file, r.name_span.clone());
    let count = b.attribute("count").cloned();
    let for_each = b.attribute("for_each").cloned();
    if count.is_some() && for_each.is_some() {
        diags.push(
            Diagnostic::error(
                codes::BAD_BLOCK,
                span.clone(),
                format!("`{addr}` sets both `count` and `for_each`"),
            )
            .with_help("use one of them"),
        );
    }
    let provider = match b.attribute("provider") {
        None => addr.implied_provider().to_owned(),
        Some(a) => {
            let refs = hcl::references(&a.expr);
            match refs.first() {
                Some(r) if refs.len() == 1 => r.to_string(),
                _ => {
                    diags.push(Diagnostic::error(
                        codes::BAD_BLOCK,
                        Span::new(file, a.expr_span.clone()),
                        "`provider` must name a provider configuration, such as `vkcs` or `vkcs.second`",
                    ));
                    addr.implied_provider().to_owned()
                }
            }
        }
    };
    let mut lifecycle = Lifecycle::default();
    for lc in b.blocks_of("lifecycle") {
        for a in &lc.attributes {
            let at = Span::new(file, a.expr_span.clone());
            match a.name.as_str() {
                "create_before_destroy" => {
                    lifecycle.create_before_destroy = literal_bool(&a.expr).unwrap_or_else(|| {
                        diags.push(Diagnostic::error(
                            codes::BAD_BLOCK,
                            at.clone(),
                            "`create_before_destroy` must be `true` or `false`",
                        ));
                        false
                    })
                }
                "prevent_destroy" => {
                    lifecycle.prevent_destroy = literal_bool(&a.expr).unwrap_or_else(|| {
                        diags.push(Diagnostic::error(
                            codes::BAD_BLOCK,
                            at.clone(),
                            "`prevent_destroy` must be `true` or `false`",
                        ));
                        false
                    })
                }
                "ignore_changes" => {
                    lifecycle.ignore_changes = match &a.expr {
                        hcl::Expression::Variable(v) if v.value().as_str() == "all" => {
                            IgnoreChanges::All
                        }
                        hcl::Expression::Array(items) => {
                            let mut names = Vec::new();
                            for i in items.iter() {
                                match hcl::references(i)
                                    .first()
                                    .map(|r| r.root.clone())
                                    .or_else(|| literal_string(i))
                                {
                                    Some(n) => names.push(n),
                                    None => diags.push(Diagnostic::error(
                                        codes::BAD_BLOCK,
                                        Span::new(file, expr_span(i)),
                                        "`ignore_changes` lists attribute names",
                                    )),
                                }
                            }
                            IgnoreChanges::Attributes(names)
                        }
                        _ => {
                            diags.push(Diagnostic::error(
                                codes::BAD_BLOCK,
                                at,
                                "`ignore_changes` must be `all` or a list of attribute names",
                            ));
                            IgnoreChanges::None
                        }
                    }
                }
                "replace_triggered_by" => match &a.expr {
                    hcl::Expression::Array(items) => {
                        lifecycle.replace_triggered_by = items.iter().cloned().collect()
                    }
                    _ => diags.push(Diagnostic::error(
                        codes::BAD_BLOCK,
                        at,
                        "`replace_triggered_by` must be a list of references",
                    )),
                },
                other => diags.push(Diagnostic::error(
                    codes::BAD_BLOCK,
                    Span::new(file, a.name_span.clone()),
                    format!("`lifecycle` has no argument `{other}`"),
                )),
            }
        }
    }
    let mut timeouts = Timeouts::default();
    for t in b.blocks_of("timeouts") {
        for a in &t.attributes {
            let d = literal_string(&a.expr).and_then(|s| parse_duration(&s));
            let Some(d) = d else {
                diags.push(Diagnostic::error(
                    codes::BAD_BLOCK,
                    Span::new(file, a.expr_span.clone()),
                    format!(
                        "`timeouts.{}` must be a duration such as \"10m\" or \"1h30m\"",
                        a.name
                    ),
                ));
                continue;
            };
            match a.name.as_str() {
                "create" => timeouts.create = Some(d),
                "read" => timeouts.read = Some(d),
                "update" => timeouts.update = Some(d),
                "delete" => timeouts.delete = Some(d),
                other => diags.push(Diagnostic::error(
                    codes::BAD_BLOCK,
                    Span::new(file, a.name_span.clone()),
                    format!("`timeouts` has no argument `{other}`"),
                )),
            }
        }
    }
    ResourceConfig {
        span,
        file: file.to_owned(),
        count,
        for_each,
        depends_on: depends_on(b, file, diags),
        provider,
        lifecycle,
        timeouts,
        references: hcl::block_references(b),
        block: b.clone(),
        addr,
    }
}
