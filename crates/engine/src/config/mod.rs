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
use crate::value::PathStep;

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
    /// A form Terraform still accepts but has deprecated (quoted `ignore_changes` references).
    pub const DEPRECATED: &str = vitrina_diagnostics::codes::TF_DEPRECATED;
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
    /// The module instance whose names the expression reads (empty: the root module).
    pub scope: String,
    /// `count.index` / `each` for a module input evaluated for one module instance.
    pub bind: Option<Bind>,
    /// The type a module input converts to (the child's `variable` type).
    pub ty: Option<hcl::Type>,
    /// For a module input: the child's `variable` block (`nullable`, `sensitive`, `validation`).
    pub input_of: Option<Box<VariableConfig>>,
    /// For a module output with `sensitive = true`: its value is marked sensitive.
    pub sensitive: bool,
}

/// The `count.index` or `each` of one module instance.
#[derive(Debug, Clone)]
pub enum Bind {
    Count(i64),
    Each(String, hcl::Value),
}

/// A `module` block with a local `source`, and the child module's configuration.
#[derive(Debug, Clone)]
pub struct ModuleCallConfig {
    pub name: String,
    pub span: Span,
    pub block: hcl::Block,
    pub count: Option<hcl::Attribute>,
    pub for_each: Option<hcl::Attribute>,
    /// `providers = { child = parent }`: the child's provider configuration addresses mapped
    /// to the caller's.
    pub providers: BTreeMap<String, String>,
    /// `depends_on` of the call: every resource of the module depends on these.
    pub depends_on: Vec<DependsOn>,
    /// The child's folder relative to the root folder (`modules/net`).
    pub dir: String,
    pub config: Config,
}

/// The instances of one module call, after expansion (see `context::modules`).
#[derive(Debug, Clone, Default)]
pub struct ModuleInstances {
    /// How the call expands: `None` for one instance, else `count` or `for_each` keys.
    pub keyed: Option<bool>,
    /// Each instance's key and module path (`module.a["x"]`).
    pub instances: Vec<(crate::addr::InstanceKey, String)>,
    /// The child's output names.
    pub outputs: Vec<String>,
}

/// `ignore_changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IgnoreChanges {
    #[default]
    None,
    All,
    /// Attribute paths: `triggers`, `tags["Name"]`, `network[0].name`.
    Attributes(Vec<Vec<PathStep>>),
}

/// A `lifecycle` block.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub create_before_destroy: bool,
    pub prevent_destroy: bool,
    pub ignore_changes: IgnoreChanges,
    /// Expressions (one per list element) whose change replaces the resource.
    pub replace_triggered_by: Vec<hcl::Expression>,
    /// `precondition` blocks: checked before each instance is planned and applied.
    pub preconditions: Vec<Condition>,
    /// `postcondition` blocks: checked on each planned and applied object (`self`).
    pub postconditions: Vec<Condition>,
}

/// A `precondition`, `postcondition` or `check` `assert` block.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The file and span of the `condition` expression (where a failure is reported).
    pub span: Span,
    pub condition: hcl::Expression,
    pub error_message: hcl::Expression,
}

/// A `check` block: its `assert`s are reported as warnings, never errors.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub name: String,
    pub span: Span,
    pub asserts: Vec<Condition>,
    pub references: Vec<hcl::Reference>,
}

/// A `moved` block: the object at `from` is now at `to`.
#[derive(Debug, Clone)]
pub struct MovedConfig {
    pub span: Span,
    pub from: MoveEndpoint,
    pub to: MoveEndpoint,
}

/// One side of a `moved` block: a resource, or one instance of it, in any module instance; or
/// a whole module instance (then `resource.type_name` is empty and `resource.module` is the
/// module path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveEndpoint {
    pub resource: ResourceAddr,
    /// `None` for the whole resource.
    pub key: Option<crate::addr::InstanceKey>,
}

impl MoveEndpoint {
    /// A whole module instance rather than a resource.
    pub fn is_module(&self) -> bool {
        self.resource.type_name.is_empty()
    }
}

impl std::fmt::Display for MoveEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_module() {
            return f.write_str(&self.resource.module);
        }
        match &self.key {
            None => write!(f, "{}", self.resource),
            Some(k) => write!(f, "{}", self.resource.instance(k.clone())),
        }
    }
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
    /// `precondition` blocks, checked before the value is taken.
    pub preconditions: Vec<Condition>,
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
    pub checks: BTreeMap<String, CheckConfig>,
    /// `moved` blocks, in source order.
    pub moved: Vec<MovedConfig>,
    /// `module` blocks with a local source.
    pub module_calls: BTreeMap<String, ModuleCallConfig>,
    /// After expansion: the instances of every module call by its path in the caller
    /// (`module.a`, `module.a["x"].module.b`).
    pub module_instances: BTreeMap<String, ModuleInstances>,
    /// After expansion: each module instance's folder relative to the root (`path.module`).
    pub module_dirs: BTreeMap<String, String>,
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
        let (mut config, more) = Config::from_sources(dir, files);
        diags.extend(more.iter().cloned());
        let mut sources = std::mem::take(&mut config.sources);
        config.load_children(dir, "", 0, &mut diags, &mut sources);
        config.sources = sources;
        (config, diags)
    }

    /// Reads the folders of local `module` calls (recursively, at most 8 deep, never outside
    /// the root folder). Their files are named relative to the root (`modules/net/main.tf`).
    fn load_children(
        &mut self,
        root: &Path,
        rel: &str,
        depth: usize,
        diags: &mut Diagnostics,
        sources: &mut SourceMap,
    ) {
        let names: Vec<String> = self.module_calls.keys().cloned().collect();
        for name in names {
            let Some(call) = self.module_calls.get_mut(&name) else {
                continue;
            };
            if depth >= 8 {
                diags.push(Diagnostic::error(
                    codes::BAD_BLOCK,
                    call.span.clone(),
                    "modules are nested more than 8 deep (a module may be calling itself)",
                ));
                continue;
            }
            let source = call
                .block
                .attribute("source")
                .and_then(|a| literal_string(&a.expr))
                .unwrap_or_default();
            let joined = Path::new(rel).join(&source);
            let mut parts: Vec<String> = Vec::new();
            let mut outside = false;
            for c in joined.components() {
                match c {
                    std::path::Component::ParentDir => outside |= parts.pop().is_none(),
                    std::path::Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
                    _ => {}
                }
            }
            if outside || parts.is_empty() {
                diags.push(
                    Diagnostic::error(
                        codes::BAD_BLOCK,
                        call.span.clone(),
                        format!("module source {source:?} leads outside the manifest folder"),
                    )
                    .with_help("keep local modules in folders inside the manifest folder"),
                );
                continue;
            }
            let child_rel = parts.join("/");
            let child_dir = root.join(&child_rel);
            let mut files = Vec::new();
            match fs_err::read_dir(&child_dir) {
                Ok(entries) => {
                    let mut paths: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "tf") && p.is_file())
                        .collect();
                    paths.sort();
                    for p in paths {
                        let file = format!(
                            "{child_rel}/{}",
                            p.file_name()
                                .map(|n| n.to_string_lossy())
                                .unwrap_or_default()
                        );
                        match fs_err::read_to_string(&p) {
                            Ok(text) => files.push((file, text)),
                            Err(e) => diags.push(Diagnostic::error(
                                codes::READ,
                                Span::file_start(file),
                                e.to_string(),
                            )),
                        }
                    }
                }
                Err(e) => {
                    diags.push(Diagnostic::error(
                        codes::READ,
                        call.span.clone(),
                        format!("cannot read the module folder `{child_rel}`: {e}"),
                    ));
                    continue;
                }
            }
            for (file, text) in &files {
                sources.add(file.clone(), text.clone());
            }
            let (mut child, more) = Config::from_sources(&child_dir, files);
            diags.extend(more.iter().cloned());
            child.load_children(root, &child_rel, depth + 1, diags, sources);
            call.dir = child_rel;
            call.config = child;
        }
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
                scope: String::new(),
                bind: None,
                ty: None,
                input_of: None,
                sensitive: false,
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
                module: String::new(),
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
                preconditions: o
                    .block
                    .blocks_of("precondition")
                    .filter_map(|b| condition(b, &file, diags))
                    .collect(),
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
        for b in &m.blocks {
            match b.kind.as_str() {
                "check" => self.add_check(b, &file, diags),
                "moved" => {
                    if let Some(mc) = moved(b, &file, diags) {
                        self.moved.push(mc);
                    }
                }
                "import" | "removed" => diags.push(
                    Diagnostic::error(
                        codes::UNSUPPORTED,
                        span(b.kind_span.clone()),
                        format!("`{}` blocks are not supported yet", b.kind),
                    )
                    .with_help("see the engine's README for the differences from Terraform"),
                ),
                _ => {}
            }
        }
        for b in &m.module_calls {
            if let Some(call) = module_call(b, &file, diags) {
                if let Some(prev) = self.module_calls.get(&call.name) {
                    diags.push(duplicate(
                        "module",
                        &call.name,
                        call.span.clone(),
                        prev.span.clone(),
                    ));
                } else {
                    self.module_calls.insert(call.name.clone(), call);
                }
            }
        }
    }
}

impl Config {
    fn add_check(&mut self, b: &hcl::Block, file: &str, diags: &mut Diagnostics) {
        let Some(name) = b.labels.first().map(|l| l.value.clone()) else {
            diags.push(Diagnostic::error(
                codes::BAD_BLOCK,
                Span::new(file, b.kind_span.clone()),
                "a `check` block needs its name as a label",
            ));
            return;
        };
        for inner in &b.blocks {
            if inner.kind != "assert" {
                diags.push(
                    Diagnostic::error(
                        codes::UNSUPPORTED,
                        Span::new(file, inner.kind_span.clone()),
                        format!("`{}` blocks inside `check` are not supported", inner.kind),
                    )
                    .with_help(
                        "a `check` block here holds `assert` blocks only (no scoped data sources)",
                    ),
                );
            }
        }
        let asserts: Vec<Condition> = b
            .blocks_of("assert")
            .filter_map(|a| condition(a, file, diags))
            .collect();
        let cc = CheckConfig {
            span: Span::new(file, b.name_span()),
            references: hcl::block_references(b),
            asserts,
            name: name.clone(),
        };
        if let Some(prev) = self.checks.get(&name) {
            diags.push(duplicate(
                "check",
                &name,
                cc.span.clone(),
                prev.span.clone(),
            ));
        } else {
            self.checks.insert(name, cc);
        }
    }
}

/// A `precondition`, `postcondition` or `assert` block: `condition` and `error_message`.
fn condition(b: &hcl::Block, file: &str, diags: &mut Diagnostics) -> Option<Condition> {
    let (Some(c), Some(m)) = (b.attribute("condition"), b.attribute("error_message")) else {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            Span::new(file, b.kind_span.clone()),
            format!("a `{}` block needs `condition` and `error_message`", b.kind),
        ));
        return None;
    };
    Some(Condition {
        span: Span::new(file, c.expr_span.clone()),
        condition: c.expr.clone(),
        error_message: m.expr.clone(),
    })
}

/// A `moved` block: `from` and `to` are resource or resource-instance addresses of the same
/// resource type (<https://developer.hashicorp.com/terraform/language/modules/develop/refactoring>).
fn moved(b: &hcl::Block, file: &str, diags: &mut Diagnostics) -> Option<MovedConfig> {
    let at = Span::new(file, b.kind_span.clone());
    let (Some(from), Some(to)) = (b.attribute("from"), b.attribute("to")) else {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            at,
            "a `moved` block needs `from` and `to`",
        ));
        return None;
    };
    let endpoint = |a: &hcl::Attribute, diags: &mut Diagnostics| -> Option<MoveEndpoint> {
        let e = move_endpoint(&a.expr);
        if e.is_none() {
            diags.push(
                Diagnostic::error(
                    codes::BAD_BLOCK,
                    Span::new(file, a.expr_span.clone()),
                    format!("`{}` must be an address such as `null_resource.a`, `null_resource.a[0]` or `module.a`", a.name),
                )
                .with_help("`moved` takes resources, resource instances and module instances (`module.a[\"x\"]`)"),
            );
        }
        e
    };
    let from_e = endpoint(from, diags);
    let to_e = endpoint(to, diags);
    let (from_e, to_e) = (from_e?, to_e?);
    if from_e.is_module() != to_e.is_module() {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            Span::new(file, to.expr_span.clone()),
            "`from` and `to` must both be module instances or both be resources",
        ));
        return None;
    }
    if from_e.resource.type_name != to_e.resource.type_name
        || from_e.resource.mode != to_e.resource.mode
    {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            Span::new(file, to.expr_span.clone()),
            format!("`moved` cannot change the resource type: `{from_e}` → `{to_e}`"),
        ));
        return None;
    }
    if from_e.key.is_some() != to_e.key.is_some() {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            Span::new(file, to.expr_span.clone()),
            "`from` and `to` must both be whole resources or both be instances",
        ));
        return None;
    }
    if from_e == to_e {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            Span::new(file, to.expr_span.clone()),
            "`from` and `to` are the same address",
        ));
        return None;
    }
    Some(MovedConfig {
        span: Span::new(file, from.expr_span.clone()),
        from: from_e,
        to: to_e,
    })
}

fn move_endpoint(e: &hcl::Expression) -> Option<MoveEndpoint> {
    if !matches!(e, hcl::Expression::Traversal(_)) {
        return None;
    }
    let refs = hcl::references(e);
    let [r] = refs.as_slice() else {
        return None;
    };
    if r.span != expr_span(e) {
        return None;
    }
    // The root and the steps as one list: `module.a["x"].null_resource.b[0]`.
    enum Tok<'a> {
        Name(&'a str),
        Key(crate::addr::InstanceKey),
    }
    let mut toks = vec![Tok::Name(r.root.as_str())];
    for s in &r.steps {
        toks.push(match s {
            hcl::Step::Attr { name, .. } => Tok::Name(name),
            hcl::Step::Index { index, .. } => {
                Tok::Key(crate::addr::InstanceKey::Int(i64::try_from(*index).ok()?))
            }
            hcl::Step::Key { key, .. } => Tok::Key(crate::addr::InstanceKey::Str(key.clone())),
        });
    }
    let mut i = 0;
    let mut module = String::new();
    while matches!(toks.get(i), Some(Tok::Name("module"))) {
        let Some(Tok::Name(name)) = toks.get(i + 1) else {
            return None;
        };
        if !module.is_empty() {
            module.push('.');
        }
        module.push_str("module.");
        module.push_str(name);
        i += 2;
        if let Some(Tok::Key(k)) = toks.get(i) {
            module.push_str(&k.to_string());
            i += 1;
        }
    }
    if i == toks.len() {
        // A whole module instance (or call): `module.a`, `module.a["x"]`.
        return (!module.is_empty()).then(|| MoveEndpoint {
            resource: ResourceAddr::managed("", "").in_module(module),
            key: None,
        });
    }
    let (resource, next) = match (toks.get(i), toks.get(i + 1), toks.get(i + 2)) {
        (Some(Tok::Name("data")), Some(Tok::Name(t)), Some(Tok::Name(n))) => {
            (ResourceAddr::data(*t, *n), i + 3)
        }
        (Some(Tok::Name(t)), Some(Tok::Name(n)), _) => (ResourceAddr::managed(*t, *n), i + 2),
        _ => return None,
    };
    let key = match toks.get(next) {
        None => None,
        Some(Tok::Key(k)) => Some(k.clone()),
        Some(Tok::Name(_)) => return None,
    };
    if toks.len() > next + usize::from(key.is_some()) {
        return None;
    }
    Some(MoveEndpoint {
        resource: resource.in_module(module),
        key,
    })
}

/// A provider configuration address written as an expression: `vkcs`, `vkcs.second`, and
/// `null` / `null.other` (which the parser reads as the null literal).
fn provider_ref(e: &hcl::Expression) -> Option<String> {
    match e {
        hcl::Expression::Variable(v) => Some(v.value().to_string()),
        hcl::Expression::Null(_) => Some("null".to_owned()),
        hcl::Expression::Traversal(t) => {
            let mut out = provider_ref(&t.expr)?;
            for op in t.operators.iter() {
                match op.value() {
                    hcl_edit::expr::TraversalOperator::GetAttr(name) => {
                        out.push('.');
                        out.push_str(name.value());
                    }
                    _ => return None,
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// A `module` block: local sources (`./…`, `../…`) are read by [`Config::load_dir`]; remote
/// sources are refused (a run never downloads anything).
fn module_call(b: &hcl::Block, file: &str, diags: &mut Diagnostics) -> Option<ModuleCallConfig> {
    let Some(name) = b.labels.first().map(|l| l.value.clone()) else {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            Span::new(file, b.kind_span.clone()),
            "a `module` block needs its name as a label",
        ));
        return None;
    };
    let span = Span::new(file, b.name_span());
    let source = b.attribute("source");
    let Some(src) = source.and_then(|a| literal_string(&a.expr)) else {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            span,
            format!("module `{name}` needs a literal `source`"),
        ));
        return None;
    };
    if !(src.starts_with("./") || src.starts_with("../")) {
        let at = source.map_or_else(|| b.name_span(), |a| a.expr_span.clone());
        diags.push(
            Diagnostic::error(
                codes::UNSUPPORTED,
                Span::new(file, at),
                format!("module source {src:?} is not a local folder; vitrina does not download modules (no network during a run)"),
            )
            .with_help("copy the module into a folder inside the manifest folder and use `source = \"./modules/NAME\"`"),
        );
        return None;
    }
    let count = b.attribute("count").cloned();
    let for_each = b.attribute("for_each").cloned();
    if count.is_some() && for_each.is_some() {
        diags.push(Diagnostic::error(
            codes::BAD_BLOCK,
            span.clone(),
            format!("module `{name}` sets both `count` and `for_each`"),
        ));
    }
    let mut providers = BTreeMap::new();
    if let Some(a) = b.attribute("providers") {
        match &a.expr {
            hcl::Expression::Object(o) => {
                for (k, v) in o.iter() {
                    let key = match k {
                        hcl_edit::expr::ObjectKey::Ident(i) => Some(i.value().to_string()),
                        hcl_edit::expr::ObjectKey::Expression(e) => provider_ref(e),
                    };
                    let value = provider_ref(v.expr());
                    match (key, value) {
                        (Some(k), Some(v)) => {
                            providers.insert(k, v);
                        }
                        _ => diags.push(Diagnostic::error(
                            codes::BAD_BLOCK,
                            Span::new(file, a.expr_span.clone()),
                            "`providers` maps provider configurations: `{ null = null.other }`",
                        )),
                    }
                }
            }
            _ => diags.push(Diagnostic::error(
                codes::BAD_BLOCK,
                Span::new(file, a.expr_span.clone()),
                "`providers` must be an object such as `{ null = null.other }`",
            )),
        }
    }
    Some(ModuleCallConfig {
        name,
        span,
        block: b.clone(),
        count,
        for_each,
        depends_on: depends_on(b, file, diags),
        providers,
        dir: String::new(),
        config: Config::default(),
    })
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

/// How many steps of a reference name the object itself: `null_resource.a` (2),
/// `data.t.n` (3), `var.x` / `local.y` (2), `module.m` (2); one instance key may follow a
/// resource, data source or module (`null_resource.a[0]`).
fn object_steps(r: &hcl::Reference) -> (usize, bool) {
    match r.root.as_str() {
        "data" => (2, true),
        "var" | "local" | "count" | "each" | "path" | "self" | "terraform" => (1, false),
        _ => (1, true),
    }
}

/// `depends_on` accepts whole objects only ("References in depends_on must be to a whole object
/// (resource, etc), not to an attribute of an object", Terraform's "Invalid depends_on reference";
/// <https://developer.hashicorp.com/terraform/language/meta-arguments/depends_on>):
/// the first step past the object, as text, when there is one.
fn attribute_step(r: &hcl::Reference) -> Option<String> {
    let (n, keyed) = object_steps(r);
    let mut rest = r.steps.iter().skip(n);
    let first = rest.next()?;
    let extra = match first {
        hcl::Step::Index { .. } | hcl::Step::Key { .. } if keyed => rest.next()?,
        other => other,
    };
    Some(match extra {
        hcl::Step::Attr { name, .. } => format!(".{name}"),
        hcl::Step::Index { index, .. } => format!("[{index}]"),
        hcl::Step::Key { key, .. } => format!("[{key:?}]"),
    })
}

/// The whole-object part of a reference, as text.
fn whole_object(r: &hcl::Reference) -> String {
    let (n, _) = object_steps(r);
    let mut s = r.root.clone();
    for step in r.steps.iter().take(n) {
        if let hcl::Step::Attr { name, .. } = step {
            s.push('.');
            s.push_str(name);
        }
    }
    s
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
                if let Some(extra) = attribute_step(r) {
                    diags.push(
                        Diagnostic::error(
                            codes::BAD_BLOCK,
                            Span::new(file, r.span.clone()),
                            "`depends_on` takes whole objects, not attributes",
                        )
                        .with_help(format!("write `{}` without `{extra}`", whole_object(r))),
                    );
                    continue;
                }
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

/// `lifecycle.ignore_changes`: `all`, or a list of attribute references relative to the
/// resource (`triggers`, `tags["Name"]`, `rule[0].port`), or (deprecated since Terraform 0.12,
/// with a warning) the same as quoted strings
/// (<https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#ignore_changes>).
fn ignore_changes(
    expr: &hcl::Expression,
    file: &str,
    at: Span,
    diags: &mut Diagnostics,
) -> IgnoreChanges {
    let items = match expr {
        hcl::Expression::Variable(v) if v.value().as_str() == "all" => return IgnoreChanges::All,
        hcl::Expression::Array(items) => items,
        _ => {
            diags.push(
                Diagnostic::error(
                    codes::BAD_BLOCK,
                    at,
                    "`ignore_changes` must be `all` or a list of attribute references",
                )
                .with_help("write `ignore_changes = [tags]` or `ignore_changes = all`"),
            );
            return IgnoreChanges::None;
        }
    };
    let mut paths = Vec::new();
    for item in items.iter() {
        let span = Span::new(file, expr_span(item));
        let path = match literal_string(item) {
            Some(text) if !matches!(item, hcl::Expression::Variable(_)) => {
                let path = hcl::parse_expression(file, &text)
                    .ok()
                    .and_then(|e| attribute_path(&e));
                if let Some(p) = &path {
                    diags.push(
                        Diagnostic::warning(
                            codes::DEPRECATED,
                            span.clone(),
                            "quoted references in `ignore_changes` are deprecated",
                        )
                        .with_help(format!(
                            "write the reference without quotes: `{}`",
                            crate::value::path_to_string(p)
                        )),
                    );
                }
                path
            }
            _ => attribute_path(item),
        };
        match path {
            Some(p) => paths.push(p),
            None => diags.push(
                Diagnostic::error(
                    codes::BAD_BLOCK,
                    span,
                    "each `ignore_changes` element must be an attribute of this resource, such as `tags` or `tags[\"Name\"]`",
                )
                .with_help("use literal keys and indexes only"),
            ),
        }
    }
    IgnoreChanges::Attributes(paths)
}

/// An expression that is one static traversal (`tags`, `tags["a"]`, `rule[0].port`) as a path.
fn attribute_path(e: &hcl::Expression) -> Option<Vec<PathStep>> {
    if !matches!(
        e,
        hcl::Expression::Traversal(_) | hcl::Expression::Variable(_)
    ) {
        return None;
    }
    let refs = hcl::references(e);
    let [r] = refs.as_slice() else {
        return None;
    };
    if r.span != expr_span(e) {
        return None;
    }
    let mut path = vec![PathStep::Attr(r.root.clone())];
    for step in &r.steps {
        path.push(match step {
            hcl::Step::Attr { name, .. } => PathStep::Attr(name.clone()),
            hcl::Step::Index { index, .. } => PathStep::Index(usize::try_from(*index).ok()?),
            hcl::Step::Key { key, .. } => PathStep::Key(key.clone()),
        });
    }
    Some(path)
}

/// Every reference of a resource block except the attribute names in
/// `lifecycle.ignore_changes`, which name the resource's own attributes.
fn body_references(b: &hcl::Block) -> Vec<hcl::Reference> {
    let ignored: Vec<Range<usize>> = b
        .blocks_of("lifecycle")
        .filter_map(|lc| lc.attribute("ignore_changes"))
        .map(|a| a.expr_span.clone())
        .collect();
    let mut refs = hcl::block_references(b);
    if !ignored.is_empty() {
        refs.retain(|r| {
            !ignored
                .iter()
                .any(|s| s.start <= r.span.start && r.span.end <= s.end)
        });
    }
    refs
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
        Some(a) => match provider_ref(&a.expr) {
            Some(p) => p,
            None => {
                diags.push(Diagnostic::error(
                        codes::BAD_BLOCK,
                        Span::new(file, a.expr_span.clone()),
                        "`provider` must name a provider configuration, such as `vkcs` or `vkcs.second`",
                    ));
                addr.implied_provider().to_owned()
            }
        },
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
                    lifecycle.ignore_changes = ignore_changes(&a.expr, file, at, diags);
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
    for lc in b.blocks_of("lifecycle") {
        for inner in &lc.blocks {
            match inner.kind.as_str() {
                "precondition" => lifecycle
                    .preconditions
                    .extend(condition(inner, file, diags)),
                "postcondition" => lifecycle
                    .postconditions
                    .extend(condition(inner, file, diags)),
                other => diags.push(Diagnostic::error(
                    codes::BAD_BLOCK,
                    Span::new(file, inner.kind_span.clone()),
                    format!("`lifecycle` has no block `{other}`"),
                )),
            }
        }
    }
    for p in b.blocks_of("provisioner") {
        diags.push(
            Diagnostic::warning(
                codes::UNSUPPORTED,
                Span::new(file, p.kind_span.clone()),
                "provisioners are not run by vitrina",
            )
            .with_help("use the `ivkcs` agent resources to run scripts on VMs"),
        );
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
        references: body_references(b),
        block: b.clone(),
        addr,
    }
}
