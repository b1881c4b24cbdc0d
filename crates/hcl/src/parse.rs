//! Parsing Terraform-language files into a structured view with byte spans.

// The error of a parse is the diagnostic shown to the user; it is created once per file, so its
// size does not matter.
#![allow(clippy::result_large_err)]

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use vitrina_diagnostics::{Diagnostic, Span};

use crate::heredoc;
use crate::types::{parse_type_constraint, Type, TypeError};

/// Diagnostic code for text that is not valid HCL.
///
/// What: the manifest cannot be parsed (an unclosed brace, a stray character, a heredoc without
/// its closing marker). Why: nothing else about the file can be checked until it parses.
/// Example: `resource "a" "b" {` with no closing `}`. Fix: correct the syntax at the position shown.
pub const CODE_SYNTAX: &str = vitrina_diagnostics::codes::MANIFEST_SYNTAX;

/// Largest file [`parse`] accepts, in bytes; bigger inputs get a `manifest/syntax` diagnostic.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// Deepest bracket nesting (`(`, `[`, `{`, `${`) [`parse`] accepts; the parser is recursive.
pub const MAX_NESTING: usize = 256;

/// Checks size and nesting before handing text to the recursive parser.
fn check_limits(file: &str, text: &str, what: &str) -> Result<(), Diagnostic> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(
            CODE_SYNTAX,
            Span::file_start(file),
            format!(
                "{what} is too large to parse ({} bytes, the limit is {MAX_SOURCE_BYTES})",
                text.len()
            ),
        )
        .with_help("split the manifest into several smaller `.tf` files"));
    }
    let mut depth = 0usize;
    // Long runs of prefix operators recurse in the parser too.
    let mut unary_run = 0usize;
    // Separator comments (`# -----`) are not operators.
    let mut in_comment = false;
    for (i, b) in text.bytes().enumerate() {
        if in_comment {
            in_comment = b != b'\n';
            continue;
        }
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'#' => in_comment = true,
            _ => {}
        }
        match b {
            b'!' | b'-' => unary_run += 1,
            b' ' | b'\t' => {}
            _ => unary_run = 0,
        }
        if depth > MAX_NESTING || unary_run > MAX_NESTING {
            return Err(Diagnostic::error(
                CODE_SYNTAX,
                Span::new(file, i..i + 1),
                format!("{what} is nested more than {MAX_NESTING} levels deep"),
            )
            .with_help("simplify the expression, or move parts of it into `locals`"));
        }
    }
    Ok(())
}

/// An attribute `name = expr` with the spans of its name and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub name_span: Range<usize>,
    pub expr: Expression,
    /// Span of the value expression.
    pub expr_span: Range<usize>,
}

/// A block label with its span (the quotes included when it is quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub value: String,
    pub span: Range<usize>,
}

/// A block `kind "label" … { … }` with its attributes and nested blocks, in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: String,
    pub kind_span: Range<usize>,
    pub labels: Vec<Label>,
    /// The whole block, from its type keyword to the closing brace.
    pub span: Range<usize>,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
}

impl Block {
    /// The first attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Nested blocks of one kind, in source order.
    pub fn blocks_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.kind == kind)
    }

    /// The span of the first label, or of the block keyword when there is none.
    pub fn name_span(&self) -> Range<usize> {
        self.labels
            .first()
            .map_or_else(|| self.kind_span.clone(), |l| l.span.clone())
    }
}

/// A `validation { condition, error_message }` block of a variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub span: Range<usize>,
    pub condition: Option<Attribute>,
    pub error_message: Option<Attribute>,
}

/// A `variable "name" { … }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub name_span: Range<usize>,
    /// The `type` attribute as written.
    pub type_attr: Option<Attribute>,
    /// The parsed type constraint; `None` when there is no `type` attribute (any type).
    pub type_constraint: Option<Result<Type, TypeError>>,
    pub default: Option<Attribute>,
    pub description: Option<String>,
    /// `sensitive = true|false` when it is a literal; `None` when absent.
    pub sensitive: Option<bool>,
    /// `nullable = true|false` when it is a literal; `None` when absent (Terraform's default: true).
    pub nullable: Option<bool>,
    pub validations: Vec<Validation>,
    pub block: Block,
}

/// One entry of a `locals` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub name: String,
    pub name_span: Range<usize>,
    pub expr: Expression,
    pub expr_span: Range<usize>,
}

/// Whether a resource block is `resource` or `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceMode {
    Managed,
    Data,
}

/// A `resource "type" "name"` or `data "type" "name"` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub mode: ResourceMode,
    pub type_name: String,
    pub type_span: Range<usize>,
    pub name: String,
    pub name_span: Range<usize>,
    pub block: Block,
}

/// An `output "name"` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub name_span: Range<usize>,
    pub value: Option<Attribute>,
    pub description: Option<String>,
    /// `sensitive = true` written as a literal.
    pub sensitive: bool,
    pub block: Block,
}

/// A parsed Terraform-language file.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// The file name given to [`parse`]; used in every [`Span`] this module hands out.
    pub file: String,
    /// Every top-level block, in source order.
    pub blocks: Vec<Block>,
    /// Top-level attributes (Terraform allows none; kept so a validator can report them).
    pub attributes: Vec<Attribute>,
    pub variables: Vec<Variable>,
    pub locals: Vec<Local>,
    /// Managed resources and data sources, in source order.
    pub resources: Vec<Resource>,
    pub outputs: Vec<Output>,
    /// `provider` blocks.
    pub providers: Vec<Block>,
    /// `terraform` blocks.
    pub terraform: Vec<Block>,
    /// `module` blocks.
    pub module_calls: Vec<Block>,
}

impl Module {
    /// A diagnostics span in this file.
    pub fn span(&self, range: Range<usize>) -> Span {
        Span::new(self.file.clone(), range)
    }

    /// Managed resources only.
    pub fn managed_resources(&self) -> impl Iterator<Item = &Resource> {
        self.resources
            .iter()
            .filter(|r| r.mode == ResourceMode::Managed)
    }

    /// Data sources only.
    pub fn data_sources(&self) -> impl Iterator<Item = &Resource> {
        self.resources
            .iter()
            .filter(|r| r.mode == ResourceMode::Data)
    }
}

/// Parses a Terraform-language file.
///
/// `file` is the name used in diagnostics (relative path with `/`), `text` its content. A syntax
/// error gives one `manifest/syntax` diagnostic at the parser's error position. Indented heredocs
/// (`<<-EOT`) are dedented by HCL's rule (see [`crate::heredoc`]), fixing hcl-edit 0.10's bug.
pub fn parse(file: &str, text: &str) -> Result<Module, Diagnostic> {
    let body = parse_body(file, text)?;
    Ok(build_module(file, &body))
}

/// Parses a file into hcl-edit's body, with heredocs fixed. Most callers want [`parse`].
pub fn parse_body(file: &str, text: &str) -> Result<Body, Diagnostic> {
    check_limits(file, text, "file")?;
    let parsed = catch_unwind(AssertUnwindSafe(|| hcl_edit::parser::parse_body(text)));
    match parsed {
        Ok(Ok(mut body)) => {
            heredoc::fix_body(&mut body, text);
            Ok(body)
        }
        Ok(Err(err)) => Err(syntax_diagnostic(file, text, &err)),
        Err(_) => Err(Diagnostic::error(
            CODE_SYNTAX,
            Span::file_start(file),
            "the HCL parser failed on this file",
        )
        .with_help("this is a bug in vitrina's HCL parser; please report it with the file")),
    }
}

/// Parses a single expression (as in `terraform console`); spans are relative to `text`.
pub fn parse_expression(file: &str, text: &str) -> Result<Expression, Diagnostic> {
    check_limits(file, text, "expression")?;
    // Trailing whitespace (a final newline) is not part of the expression; trimming the end keeps
    // every span valid.
    let trimmed = text.trim_end();
    let parsed = catch_unwind(AssertUnwindSafe(|| hcl_edit::parser::parse_expr(trimmed)));
    match parsed {
        Ok(Ok(mut expr)) => {
            heredoc::fix_expr(&mut expr, text);
            Ok(expr)
        }
        Ok(Err(err)) => Err(syntax_diagnostic(file, text, &err)),
        Err(_) => Err(Diagnostic::error(
            CODE_SYNTAX,
            Span::file_start(file),
            "the HCL parser failed on this expression",
        )),
    }
}

/// Parses a template file's text (as `templatefile` reads it); spans are relative to `text`.
pub fn parse_template(file: &str, text: &str) -> Result<hcl_edit::template::Template, Diagnostic> {
    check_limits(file, text, "template")?;
    let parsed = catch_unwind(AssertUnwindSafe(|| hcl_edit::parser::parse_template(text)));
    match parsed {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(err)) => Err(syntax_diagnostic(file, text, &err)),
        Err(_) => Err(Diagnostic::error(
            CODE_SYNTAX,
            Span::file_start(file),
            "the HCL parser failed on this template",
        )),
    }
}

fn syntax_diagnostic(file: &str, text: &str, err: &hcl_edit::parser::Error) -> Diagnostic {
    let mut offset = err.location().offset().min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let end = text
        .get(offset..)
        .and_then(|rest| rest.chars().next())
        .map_or(offset, |c| offset + c.len_utf8());
    let message = err.message().replace('\n', " ");
    let message = if message.trim().is_empty() {
        "invalid HCL syntax".to_string()
    } else {
        format!("invalid HCL syntax: {}", message.trim())
    };
    Diagnostic::error(CODE_SYNTAX, Span::new(file, offset..end), message).with_help(
        "check for a missing `}`, `]`, `)` or `\"`, or a heredoc without its closing marker, \
         near this position",
    )
}

fn span_of(x: &impl hcl_edit::Span) -> Range<usize> {
    x.span().unwrap_or(0..0)
}

fn convert_attr(attr: &hcl_edit::structure::Attribute) -> Attribute {
    Attribute {
        name: attr.key.value().to_string(),
        name_span: span_of(&attr.key),
        expr: attr.value.clone(),
        expr_span: span_of(&attr.value),
    }
}

fn convert_block(block: &hcl_edit::structure::Block) -> Block {
    let mut attributes = Vec::new();
    let mut blocks = Vec::new();
    for s in block.body.iter() {
        match s {
            Structure::Attribute(a) => attributes.push(convert_attr(a)),
            Structure::Block(b) => blocks.push(convert_block(b)),
        }
    }
    Block {
        kind: block.ident.value().to_string(),
        kind_span: span_of(&block.ident),
        labels: block
            .labels
            .iter()
            .map(|l| Label {
                value: l.as_str().to_string(),
                span: span_of(l),
            })
            .collect(),
        span: span_of(block),
        attributes,
        blocks,
    }
}

fn literal_bool(attr: Option<&Attribute>) -> Option<bool> {
    match attr.map(|a| &a.expr) {
        Some(Expression::Bool(b)) => Some(*b.value()),
        _ => None,
    }
}

fn literal_string(attr: Option<&Attribute>) -> Option<String> {
    match attr.map(|a| &a.expr) {
        Some(Expression::String(s)) => Some(s.value().to_string()),
        Some(Expression::StringTemplate(t)) => {
            let mut out = String::new();
            for e in t.iter() {
                out.push_str(e.as_literal()?.value());
            }
            Some(out)
        }
        Some(Expression::HeredocTemplate(h)) => {
            let mut out = String::new();
            for e in h.template.iter() {
                out.push_str(e.as_literal()?.value());
            }
            Some(out)
        }
        _ => None,
    }
}

fn build_module(file: &str, body: &Body) -> Module {
    let mut module = Module {
        file: file.to_string(),
        blocks: Vec::new(),
        attributes: Vec::new(),
        variables: Vec::new(),
        locals: Vec::new(),
        resources: Vec::new(),
        outputs: Vec::new(),
        providers: Vec::new(),
        terraform: Vec::new(),
        module_calls: Vec::new(),
    };
    for s in body.iter() {
        let block = match s {
            Structure::Attribute(a) => {
                module.attributes.push(convert_attr(a));
                continue;
            }
            Structure::Block(b) => convert_block(b),
        };
        match block.kind.as_str() {
            "variable" => {
                if let Some(label) = block.labels.first() {
                    let type_attr = block.attribute("type").cloned();
                    let type_constraint =
                        type_attr.as_ref().map(|a| parse_type_constraint(&a.expr));
                    module.variables.push(Variable {
                        name: label.value.clone(),
                        name_span: label.span.clone(),
                        type_attr,
                        type_constraint,
                        default: block.attribute("default").cloned(),
                        description: literal_string(block.attribute("description")),
                        sensitive: literal_bool(block.attribute("sensitive")),
                        nullable: literal_bool(block.attribute("nullable")),
                        validations: block
                            .blocks_of("validation")
                            .map(|v| Validation {
                                span: v.span.clone(),
                                condition: v.attribute("condition").cloned(),
                                error_message: v.attribute("error_message").cloned(),
                            })
                            .collect(),
                        block: block.clone(),
                    });
                }
            }
            "locals" => {
                for a in &block.attributes {
                    module.locals.push(Local {
                        name: a.name.clone(),
                        name_span: a.name_span.clone(),
                        expr: a.expr.clone(),
                        expr_span: a.expr_span.clone(),
                    });
                }
            }
            "resource" | "data" => {
                if let [ty, name, ..] = block.labels.as_slice() {
                    module.resources.push(Resource {
                        mode: if block.kind == "data" {
                            ResourceMode::Data
                        } else {
                            ResourceMode::Managed
                        },
                        type_name: ty.value.clone(),
                        type_span: ty.span.clone(),
                        name: name.value.clone(),
                        name_span: name.span.clone(),
                        block: block.clone(),
                    });
                }
            }
            "output" => {
                if let Some(label) = block.labels.first() {
                    module.outputs.push(Output {
                        name: label.value.clone(),
                        name_span: label.span.clone(),
                        value: block.attribute("value").cloned(),
                        description: literal_string(block.attribute("description")),
                        sensitive: literal_bool(block.attribute("sensitive")).unwrap_or(false),
                        block: block.clone(),
                    });
                }
            }
            "provider" => module.providers.push(block.clone()),
            "terraform" => module.terraform.push(block.clone()),
            "module" => module.module_calls.push(block.clone()),
            _ => {}
        }
        module.blocks.push(block);
    }
    module
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
variable "ds-az" {
  type    = string
  default = "ME1"
}

variable "ports" {
  type      = list(number)
  sensitive = true
  nullable  = false
  validation {
    condition     = length(var.ports) > 0
    error_message = "At least one port."
  }
}

locals {
  short_name = substr(var.instance_uuid, 0, 8)
}

locals {
  fqdn = "${local.short_name}.example.com"
}

resource "vkcs_compute_instance" "vm" {
  count = 2
  name  = "vm-${count.index}"
  network {
    port = vkcs_networking_port.p[count.index].id
  }
}

data "vkcs_networking_subnet" "sub" {
  subnet_id = var.subnet
}

output "password" {
  value     = random_password.p.result
  sensitive = true
}

provider "vkcs" {}
terraform {
  required_providers {}
}
"#;

    #[test]
    fn structured_view() {
        let m = parse("deployment/main.tf", SAMPLE).expect("parses");
        assert_eq!(m.variables.len(), 2);
        let az = &m.variables[0];
        assert_eq!(az.name, "ds-az");
        assert_eq!(&SAMPLE[az.name_span.clone()], "\"ds-az\"");
        assert_eq!(az.type_constraint, Some(Ok(Type::String)));
        assert!(az.default.is_some());
        let ports = &m.variables[1];
        assert_eq!(
            ports.type_constraint,
            Some(Ok(Type::List(Box::new(Type::Number))))
        );
        assert_eq!(ports.sensitive, Some(true));
        assert_eq!(ports.nullable, Some(false));
        assert_eq!(ports.validations.len(), 1);
        assert!(ports.validations[0].condition.is_some());

        assert_eq!(
            m.locals.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["short_name", "fqdn"]
        );
        assert_eq!(&SAMPLE[m.locals[0].name_span.clone()], "short_name");
        assert_eq!(
            &SAMPLE[m.locals[0].expr_span.clone()],
            "substr(var.instance_uuid, 0, 8)"
        );

        assert_eq!(m.resources.len(), 2);
        let vm = &m.resources[0];
        assert_eq!(vm.mode, ResourceMode::Managed);
        assert_eq!(vm.type_name, "vkcs_compute_instance");
        assert_eq!(vm.name, "vm");
        assert_eq!(vm.block.blocks_of("network").count(), 1);
        let port = vm.block.blocks[0].attribute("port").expect("port attr");
        assert_eq!(
            &SAMPLE[port.expr_span.clone()],
            "vkcs_networking_port.p[count.index].id"
        );
        assert_eq!(m.data_sources().count(), 1);
        assert_eq!(m.outputs.len(), 1);
        assert!(m.outputs[0].sensitive);
        assert_eq!(m.providers.len(), 1);
        assert_eq!(m.terraform.len(), 1);
        assert_eq!(m.blocks.len(), 9);
    }

    #[test]
    fn syntax_error_is_a_diagnostic() {
        let text = "resource \"a\" \"b\" {\n  x = \n}\n";
        let d = parse("main.tf", text).expect_err("must fail");
        assert_eq!(d.code, CODE_SYNTAX);
        assert!(d.help.is_some());
        assert!(d.span.range.start <= text.len());
        assert!(d.span.range.start >= 20, "points into line 2: {:?}", d.span);
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "{",
            "}}}}",
            "a = <<EOT\n",
            "a = <<-EOT\n  ${\nEOT",
            "a = \"\\u{zz}\"",
            "\u{feff}x = 1",
            "a = \"é\n",
            "x = 1 / / 2",
            "block \"é\" { a = [ }",
        ] {
            let _ = parse("f.tf", text);
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowing() {
        let text = format!("a = {}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let d = parse("f.tf", &text).expect_err("too deep");
        assert!(d.message.contains("nested"), "{}", d.message);
        let text = format!("a = {}1", "-".repeat(100_000));
        assert!(parse("f.tf", &text).is_err());
    }

    #[test]
    fn bad_type_constraint_is_reported() {
        let m = parse("main.tf", "variable \"x\" {\n  type = list(strin)\n}\n").expect("parses");
        let err = m.variables[0]
            .type_constraint
            .clone()
            .expect("has type")
            .expect_err("bad type");
        assert!(err.message.contains("strin"), "{}", err.message);
    }
}
