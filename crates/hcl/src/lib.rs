//! Terraform language for vitrina: parse with spans, references, type constraints, values,
//! conversion, evaluation and the function library. Knows nothing of resources or providers.
//!
//! # Parsing
//!
//! - [`parse()`]`(file, text) -> Result<`[`Module`]`, Diagnostic>` parses a `.tf` file with
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
//! - [`function_calls`]`(expr)` lists the functions an expression calls, with spans and whether
//!   each is a built-in ([`funcs::is_builtin`]), so validators can flag typos before evaluation.
//!
//! # Types
//!
//! - [`parse_type_constraint`]`(expr) -> Result<`[`Type`]`, `[`TypeError`]`>` for `string`,
//!   `number`, `bool`, `any`, `list(T)`, `set(T)`, `map(T)`, `tuple([…])`, `object({…})` with
//!   `optional(T, default)`.
//! - [`Value`]: null, bool, number (`f64`), string, list, tuple, set, map, object,
//!   `Unknown(Type)`, and `Sensitive(Box<Value>)` marks.
//! - [`convert()`]`(value, type)` converts as Terraform does (`"1"` → `1`, `"true"` → `true`,
//!   tuples → lists, objects → maps, `optional` attributes filled in).
//!
//! Numbers are `f64`: integers are exact up to 2^53 and print without a fraction; Terraform's
//! arbitrary precision is not reproduced. Maps and objects iterate in lexical key order.
//!
//! # Evaluation
//!
//! ```
//! use vitrina_hcl::{eval::{evaluate, EvalContext}, parse_expression, Value};
//!
//! let mut ctx = EvalContext::new();
//! ctx.set_variable("var", Value::object([("n", Value::from(2.0))]));
//! let expr = parse_expression("example.tf", r#""x-${var.n + 1}""#).unwrap();
//! assert_eq!(evaluate(&expr, &ctx).unwrap(), Value::from("x-3"));
//! ```
//!
//! - [`eval::EvalContext`] holds the root names an expression may read (`var`, `local`,
//!   `count`, `each`, `path`, `terraform`, `self`, `data`, one object per resource type …), the
//!   module folder for file functions ([`eval::EvalContext::set_base_dir`]), the clock for
//!   `timestamp()` and whether impure functions return unknowns during a plan.
//! - [`eval::evaluate`]`(expr, ctx) -> Result<Value, `[`eval::EvalError`]`>`: operators with
//!   automatic conversion, conditionals, `for` expressions (`if`, grouping `...`), splats
//!   (`[*]`, `.*`, `null[*]` is `[]`), templates and heredocs with `%{for}`/`%{if}` and strip
//!   markers, index and attribute access, lazy `try`/`can`, and the function library
//!   ([`funcs`]). Unknown values propagate through every operator and function; sensitive marks
//!   are carried to every result computed from a sensitive value. Division or modulo by zero is
//!   an error. Errors carry the byte span of the failing sub-expression;
//!   [`eval::EvalError::to_diagnostic`] turns one into a diagnostic.
//! - [`eval::evaluate_template`] evaluates a parsed template (as `templatefile` does).
//! - Evaluation is bounded: nesting depth ([`eval::MAX_DEPTH`]), a step budget per call
//!   ([`eval::EvalContext::set_step_limit`]), string and collection sizes; exceeding a bound is an
//!   `EvalError`. Sensitive values never appear in `Debug`/`Display` output or error messages.
//!
//! Differences from Terraform are listed in the crate's `README.md`.
#![forbid(unsafe_code)]

pub mod convert;
pub mod duration;
pub mod eval;
pub mod funcs;
pub mod heredoc;
pub mod parse;
pub mod refs;
pub mod schema;
pub mod types;
pub mod value;

pub use convert::{convert, ConvertError};
pub use eval::{evaluate, EvalContext, EvalError};
pub use parse::{
    parse, parse_body, parse_expression, parse_template, Attribute, Block, Label, Local, Module,
    Output, Resource, ResourceMode, Validation, Variable, CODE_SYNTAX,
};
pub use refs::{
    block_references, function_calls, referenced_names, references, template_references,
    FunctionCall, Reference, Step,
};
pub use types::{parse_type_constraint, ObjectType, Type, TypeError};
pub use value::Value;

/// hcl-edit's expression type, re-exported so callers need not depend on hcl-edit directly.
pub use hcl_edit::expr::Expression;
