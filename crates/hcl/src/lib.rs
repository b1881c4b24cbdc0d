//! Terraform language for vitrina: parse with spans, references, type constraints, values,
//! conversion, evaluation and the function library. Knows nothing of resources or providers.
//!
//! # Parsing
//!
//! - [`parse`]`(file, text) -> Result<`[`Module`]`, Diagnostic>` parses a `.tf` file with
//!   hcl-edit and gives a structured view: [`Module::variables`] (name, type constraint, default,
//!   `sensitive`, `nullable`, validations), [`Module::locals`], [`Module::resources`] (managed
//!   and data), [`Module::outputs`], providers, `terraform` and `module` blocks, and every block
//!   as a generic [`Block`] tree of [`Attribute`]s. Every item carries byte spans into `text`, so
//!   `vitrina_diagnostics::SourceMap` gives line:col. A syntax error gives one diagnostic with
//!   code [`CODE_SYNTAX`] (`manifest/syntax`) at the parser's error position; no input panics.
//! - [`parse_expression`] parses one expression (`terraform console` style).
//! - Indented heredocs (`<<-EOT`) are dedented by HCL's rule, fixing hcl-edit 0.10's bug where a
//!   column-0 line with a later mid-line `${…}` lost characters (see [`heredoc`]).
//!
//! # References
//!
//! - [`references`]`(expr)` / [`block_references`]`(block)` list the [`Reference`]s an
//!   expression or block reads (`var.x`, `local.y`, `vkcs_compute_instance.vm[0].id`,
//!   `data.t.n.attr`, `count.index`, `each.key`, `path.module`, `self`,
//!   `terraform.workspace`), with byte spans. They descend into templates, heredocs, `for`
//!   expressions (their iteration variables are not references), function calls, conditionals
//!   and splats; in `dynamic` blocks the iterator is not a reference.
//!
//! # Types
//!
//! - [`parse_type_constraint`]`(expr) -> Result<`[`Type`]`, `[`TypeError`]`>` for `string`,
//!   `number`, `bool`, `any`, `list(T)`, `set(T)`, `map(T)`, `tuple([…])`, `object({…})` with
//!   `optional(T, default)`.
//! - [`Value`]: null, bool, number (`f64`), string, list, tuple, set, map, object,
//!   `Unknown(Type)`, and `Sensitive(Box<Value>)` marks.
//! - [`convert`]`(value, type)` converts as Terraform does.
#![forbid(unsafe_code)]

pub mod convert;
pub mod eval;
pub mod heredoc;
pub mod parse;
pub mod refs;
pub mod types;
pub mod value;

pub use convert::{convert, ConvertError};
pub use parse::{
    parse, parse_body, parse_expression, parse_template, Attribute, Block, Label, Local, Module,
    Output, Resource, ResourceMode, Validation, Variable, CODE_SYNTAX,
};
pub use refs::{
    block_references, referenced_names, references, template_references, Reference, Step,
};
pub use types::{parse_type_constraint, ObjectType, Type, TypeError};
pub use value::Value;

/// hcl-edit's expression type, re-exported so callers need not depend on hcl-edit directly.
pub use hcl_edit::expr::Expression;
