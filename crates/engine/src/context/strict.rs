//! The checks `terraform validate` makes beyond references and schemas: `count.index` only where
//! `count` is set, `each` only where `for_each` is set, `self` only in postconditions,
//! provisioners and connections, and variable defaults that match their type. Each is an error
//! at its line, found before anything is evaluated or planned.

use std::ops::Range;

use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};
use vitrina_hcl as hcl;

use crate::config::{codes, Config};

/// Appends every problem to `diags`.
pub(crate) fn check(config: &Config, diags: &mut Diagnostics) {
    for rc in config.resources.values() {
        let allowed_self = self_spans(&rc.block);
        for r in &rc.references {
            match r.root.as_str() {
                "count" if rc.count.is_none() => diags.push(count_outside(&rc.file, r)),
                "each" if rc.for_each.is_none() => diags.push(each_outside(&rc.file, r)),
                "self" if !inside(&allowed_self, &r.span) => {
                    diags.push(self_outside(&rc.file, r));
                }
                _ => {}
            }
        }
    }
    let others = config
        .locals
        .values()
        .filter(|l| l.bind.is_none())
        .map(|l| (&l.span.file, &l.references))
        .chain(
            config
                .outputs
                .values()
                .map(|o| (&o.span.file, &o.references)),
        )
        .chain(
            config
                .providers
                .values()
                .map(|p| (&p.span.file, &p.references)),
        )
        .chain(
            config
                .checks
                .values()
                .map(|c| (&c.span.file, &c.references)),
        );
    for (file, refs) in others {
        for r in refs {
            match r.root.as_str() {
                "count" => diags.push(count_outside(file, r)),
                "each" => diags.push(each_outside(file, r)),
                "self" => diags.push(self_outside(file, r)),
                _ => {}
            }
        }
    }
    for v in config.variables.values() {
        let (Some(ty), Some(default)) = (&v.ty, &v.default) else {
            continue;
        };
        let at = Span::new(v.file.clone(), default.expr_span.clone());
        let value = match hcl::eval::evaluate_constant(&default.expr) {
            Ok(value) => value,
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        codes::BAD_BLOCK,
                        at,
                        format!(
                            "the default of variable `{}` is not a constant: {e}",
                            v.name
                        ),
                    )
                    .with_help("a variable's default cannot refer to other values"),
                );
                continue;
            }
        };
        if value.is_null() {
            continue;
        }
        if let Err(e) = hcl::convert(&value, ty) {
            diags.push(
                Diagnostic::error(
                    codes::BAD_BLOCK,
                    at,
                    format!("invalid default value for variable `{}`: {e}", v.name),
                )
                .with_help(format!(
                    "the default must be a {} (the variable's `type`)",
                    ty.friendly_name()
                )),
            );
        }
    }
}

/// Where `self` may be used in a resource block: `postcondition`, `provisioner` and
/// `connection` blocks.
fn self_spans(b: &hcl::Block) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for inner in &b.blocks {
        match inner.kind.as_str() {
            "provisioner" | "connection" => out.push(inner.span.clone()),
            "lifecycle" => out.extend(inner.blocks_of("postcondition").map(|p| p.span.clone())),
            _ => {}
        }
    }
    out
}

fn inside(spans: &[Range<usize>], r: &Range<usize>) -> bool {
    spans.iter().any(|s| s.start <= r.start && r.end <= s.end)
}

fn count_outside(file: &str, r: &hcl::Reference) -> Diagnostic {
    Diagnostic::error(
        codes::UNDECLARED,
        Span::new(file, r.span.clone()),
        "reference to `count` in a block without `count`",
    )
    .with_help("`count.index` is available only in `resource` and `data` blocks that set `count`")
}

fn each_outside(file: &str, r: &hcl::Reference) -> Diagnostic {
    Diagnostic::error(
        codes::UNDECLARED,
        Span::new(file, r.span.clone()),
        "reference to `each` in a block without `for_each`",
    )
    .with_help("`each.key` and `each.value` are available only in `resource` and `data` blocks that set `for_each`")
}

fn self_outside(file: &str, r: &hcl::Reference) -> Diagnostic {
    Diagnostic::error(
        codes::UNDECLARED,
        Span::new(file, r.span.clone()),
        "`self` is not available here",
    )
    .with_help("`self` can be used only in `postcondition`, `provisioner` and `connection` blocks")
}
