//! `vitrina tf validate`'s schema checks, made by the shared implementation in
//! [`vitrina_hcl::schema`] (the `package` room makes the same ones on a plan's manifest).

use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};
use vitrina_hcl as hcl;
use vitrina_hcl::schema::{Declarations, Finding, FindingKind, ProviderSchemas};

use crate::addr::ResourceMode;
use crate::config::{codes, Config};

/// The `hcl` resource mode of an engine address.
pub fn hcl_mode(mode: ResourceMode) -> hcl::ResourceMode {
    match mode {
        ResourceMode::Managed => hcl::ResourceMode::Managed,
        ResourceMode::Data => hcl::ResourceMode::Data,
    }
}

/// What a configuration declares, for [`Declarations::check`].
pub fn declarations(config: &Config) -> Declarations {
    let mut d = Declarations::new();
    d.variables.extend(config.variables.keys().cloned());
    d.locals.extend(config.locals.keys().cloned());
    // `module.NAME` of the root module's calls (instances of a flattened configuration are keyed
    // by their path, `module.NAME` at the root).
    d.module_calls.extend(config.module_calls.keys().cloned());
    d.module_calls.extend(
        config
            .module_instances
            .keys()
            .filter_map(|p| p.strip_prefix("module."))
            .filter(|n| !n.contains('.'))
            .map(str::to_owned),
    );
    for (addr, rc) in &config.resources {
        d.add_resource(
            hcl_mode(addr.mode),
            &addr.type_name,
            &addr.name,
            crate::context::provider_local_name(&rc.provider).to_owned(),
        );
    }
    d
}

/// The engine's code for a finding of the shared checks.
pub fn code(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::UnknownType => codes::UNKNOWN_TYPE,
        FindingKind::UnknownArgument => codes::UNKNOWN_ARGUMENT,
        FindingKind::MissingArgument => codes::MISSING_ARGUMENT,
        FindingKind::WrongType => codes::ARGUMENT_TYPE,
        FindingKind::Undeclared => codes::UNDECLARED,
        FindingKind::UnknownAttribute => codes::UNKNOWN_ATTRIBUTE,
    }
}

/// A finding as a diagnostic in `file`.
pub fn diagnostic(file: &str, f: Finding) -> Diagnostic {
    Diagnostic::error(code(f.kind), Span::new(file, f.span), f.message).with_help(f.help)
}

/// Every resource block against its type's schema, and every attribute read from a resource
/// or data source against its type's schema.
pub fn check(config: &Config, schemas: &ProviderSchemas, diags: &mut Diagnostics) {
    check_bodies(config, schemas, true, diags);
    check_attributes(config, schemas, diags);
}

/// Every resource block against its type's schema; unknown types reported when
/// `unknown_types`.
pub fn check_bodies(
    config: &Config,
    schemas: &ProviderSchemas,
    unknown_types: bool,
    diags: &mut Diagnostics,
) {
    for rc in config.resources.values() {
        let type_span = rc
            .block
            .labels
            .first()
            .map_or_else(|| rc.block.kind_span.clone(), |l| l.span.clone());
        let findings = hcl::schema::check_resource_block(
            hcl_mode(rc.addr.mode),
            &rc.addr.type_name,
            type_span,
            crate::context::provider_local_name(&rc.provider),
            &rc.block,
            schemas,
        );
        diags.extend(
            findings
                .into_iter()
                .filter(|f| unknown_types || f.kind != FindingKind::UnknownType)
                .map(|f| diagnostic(&rc.file, f)),
        );
    }
}

/// Every attribute read from a resource or data source against its type's schema (undeclared
/// names are reported while the graph is built).
pub fn check_attributes(config: &Config, schemas: &ProviderSchemas, diags: &mut Diagnostics) {
    let decls = declarations(config);
    let mut attribute = |file: &str, refs: &[hcl::Reference]| {
        for r in refs {
            if let Some(f) = decls.check(r, Some(schemas)) {
                if f.kind == FindingKind::UnknownAttribute {
                    diags.push(diagnostic(file, f));
                }
            }
        }
    };
    for l in config.locals.values() {
        attribute(&l.span.file, &l.references);
    }
    for rc in config.resources.values() {
        attribute(&rc.file, &rc.references);
    }
    for o in config.outputs.values() {
        attribute(&o.span.file, &o.references);
    }
    for p in config.providers.values() {
        attribute(&p.span.file, &p.references);
    }
}
