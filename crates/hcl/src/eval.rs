//! The evaluator: Terraform's expression semantics over [`Value`]s.
//!
//! The caller (the engine) supplies every root name an expression may read in an
//! [`EvalContext`]: `var`, `local`, `count`, `each`, `path`, `terraform`, `self`, `data`, and one
//! object per resource type (`vkcs_compute_instance = { vm = [...] }`). The evaluator knows
//! nothing of resources; it looks names up, applies operators and calls functions.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use hcl_edit::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, TraversalOperator, UnaryOperator,
};
use hcl_edit::template::{Directive, Element, Template};

use crate::convert::{convert, unify};
use crate::funcs;
use crate::types::Type;
use crate::value::{format_number, Value};

/// Deepest expression nesting the evaluator follows before giving up with an error.
pub const MAX_DEPTH: usize = 200;

/// Largest string a template or function may build, in bytes.
pub const MAX_STRING_BYTES: usize = 64 * 1024 * 1024;

/// Largest number of elements a `for` expression or function may produce.
pub const MAX_COLLECTION_LEN: usize = 1_000_000;

/// Default budget of evaluation steps (sub-expressions evaluated) for one [`evaluate`] call.
pub const DEFAULT_STEP_LIMIT: u64 = 50_000_000;

/// Budget steps charged for each `templatefile` call (reading and parsing the file), on top of
/// the steps its template takes.
const TEMPLATEFILE_COST: u64 = 5_000;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// Byte range of the failing sub-expression in the parsed text, when known.
    pub span: Option<Range<usize>>,
    pub message: String,
    pub help: Option<String>,
}

impl EvalError {
    pub fn new(span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        EvalError {
            span,
            message: message.into(),
            help: None,
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// A diagnostic in `file` with the caller's stable `code`; `fallback` is used when the error
    /// has no span of its own (the span of the attribute being evaluated, say).
    pub fn to_diagnostic(
        &self,
        file: &str,
        code: &'static str,
        fallback: Range<usize>,
    ) -> vitrina_diagnostics::Diagnostic {
        let d = vitrina_diagnostics::Diagnostic::error(
            code,
            vitrina_diagnostics::Span::new(file, self.span.clone().unwrap_or(fallback)),
            self.message.clone(),
        );
        match &self.help {
            Some(h) => d.with_help(h.clone()),
            None => d,
        }
    }
}

/// What an expression can read: root variables, the folder file functions are relative to,
/// and the clock for `timestamp()`.
#[derive(Debug, Clone, Default)]
pub struct EvalContext {
    variables: BTreeMap<String, Value>,
    base_dir: Option<PathBuf>,
    now: Option<chrono::DateTime<chrono::Utc>>,
    impure_unknown: bool,
    template_depth: usize,
    step_limit: Option<u64>,
    /// Set in the context of a `templatefile` call: the steps spent so far by the evaluation
    /// that made the call, so nested templates share its budget.
    shared_steps: Option<Arc<AtomicU64>>,
}

impl EvalContext {
    /// An empty context: no variables, file functions disabled, the real clock.
    pub fn new() -> Self {
        EvalContext::default()
    }

    /// Sets a root variable (`var`, `local`, `count`, a resource type name, …).
    pub fn set_variable(&mut self, name: impl Into<String>, value: Value) {
        self.variables.insert(name.into(), value);
    }

    /// Builder form of [`EvalContext::set_variable`].
    #[must_use]
    pub fn with_variable(mut self, name: impl Into<String>, value: Value) -> Self {
        self.set_variable(name, value);
        self
    }

    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }

    /// Removes a root variable, returning it.
    pub fn remove_variable(&mut self, name: &str) -> Option<Value> {
        self.variables.remove(name)
    }

    /// Relative paths given to `file`, `fileexists`, `templatefile`, `filebase64` … resolve
    /// against this folder (the module folder). Without it those functions fail.
    pub fn set_base_dir(&mut self, dir: impl Into<PathBuf>) {
        self.base_dir = Some(dir.into());
    }

    pub fn base_dir(&self) -> Option<&Path> {
        self.base_dir.as_deref()
    }

    /// Fixes the time `timestamp()` returns (tests, reproducible plans).
    pub fn set_now(&mut self, now: chrono::DateTime<chrono::Utc>) {
        self.now = Some(now);
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.now.unwrap_or_else(chrono::Utc::now)
    }

    /// When true, `timestamp()` and `uuid()` return unknown values, as during a plan.
    pub fn set_impure_unknown(&mut self, yes: bool) {
        self.impure_unknown = yes;
    }

    pub fn impure_unknown(&self) -> bool {
        self.impure_unknown
    }

    /// Caps the number of sub-expressions one [`evaluate`] call may evaluate (default
    /// [`DEFAULT_STEP_LIMIT`]), so a hostile manifest cannot keep the evaluator busy forever.
    pub fn set_step_limit(&mut self, steps: u64) {
        self.step_limit = Some(steps);
    }

    pub fn step_limit(&self) -> u64 {
        self.step_limit.unwrap_or(DEFAULT_STEP_LIMIT)
    }

    /// How many `templatefile` calls deep this context is.
    pub(crate) fn template_depth(&self) -> usize {
        self.template_depth
    }

    /// A context for a template file: no variables, the same folder and clock, one level deeper.
    pub(crate) fn child_for_template(&self) -> EvalContext {
        EvalContext {
            variables: BTreeMap::new(),
            base_dir: self.base_dir.clone(),
            now: self.now,
            impure_unknown: self.impure_unknown,
            template_depth: self.template_depth + 1,
            step_limit: self.step_limit,
            shared_steps: self.shared_steps.clone(),
        }
    }

    /// A context for calling `templatefile` from an evaluation that has spent `steps`: no
    /// variables, the same folder, clock and depth, and the budget shared through `steps`.
    fn for_template_call(&self, steps: Arc<AtomicU64>) -> EvalContext {
        EvalContext {
            variables: BTreeMap::new(),
            base_dir: self.base_dir.clone(),
            now: self.now,
            impure_unknown: self.impure_unknown,
            template_depth: self.template_depth,
            step_limit: self.step_limit,
            shared_steps: Some(steps),
        }
    }
}

/// Evaluates an expression in a context.
pub fn evaluate(expr: &Expression, ctx: &EvalContext) -> Result<Value, EvalError> {
    Evaluator::new(ctx).expr(expr)
}

/// Evaluates a template (as read by `templatefile`) to a string value.
pub fn evaluate_template(template: &Template, ctx: &EvalContext) -> Result<Value, EvalError> {
    let mut ev = Evaluator::new(ctx);
    let result = ev.template_value(template, None);
    if let Some(shared) = &ctx.shared_steps {
        shared.store(ev.steps, AtomicOrdering::Relaxed);
    }
    result
}

/// Evaluates an expression with no variables (constants such as `optional()` defaults).
pub fn evaluate_constant(expr: &Expression) -> Result<Value, EvalError> {
    evaluate(expr, &EvalContext::new())
}

pub(crate) struct Evaluator<'c> {
    pub(crate) ctx: &'c EvalContext,
    scopes: Vec<(String, Value)>,
    depth: usize,
    steps: u64,
}

fn span_of(e: &impl hcl_edit::Span) -> Option<Range<usize>> {
    e.span()
}

/// Accumulates a template's output.
#[derive(Default)]
struct TemplateOut {
    text: String,
    unknown: bool,
    sensitive: bool,
}

impl TemplateOut {
    fn push(&mut self, s: &str, span: Option<Range<usize>>) -> Result<(), EvalError> {
        if self.text.len().saturating_add(s.len()) > MAX_STRING_BYTES {
            return Err(EvalError::new(span, "template result is too large"));
        }
        self.text.push_str(s);
        Ok(())
    }
}

fn strip_of_next(e: Option<&Element>) -> bool {
    match e {
        Some(Element::Interpolation(i)) => i.strip.strip_start(),
        Some(Element::Directive(d)) => match d.as_ref() {
            Directive::If(d) => d.if_expr.strip.strip_start(),
            Directive::For(d) => d.for_expr.strip.strip_start(),
        },
        _ => false,
    }
}

fn strip_of_prev(e: Option<&Element>) -> bool {
    match e {
        Some(Element::Interpolation(i)) => i.strip.strip_end(),
        Some(Element::Directive(d)) => match d.as_ref() {
            Directive::If(d) => d.endif_expr.strip.strip_end(),
            Directive::For(d) => d.endfor_expr.strip.strip_end(),
        },
        _ => false,
    }
}

/// Iteration over a collection: (key, value) pairs in Terraform's order.
fn iterate(
    collection: &Value,
    span: Option<Range<usize>>,
) -> Result<Vec<(Value, Value)>, EvalError> {
    match collection {
        // For a set, the key and the value are both the element.
        Value::Set(v) => Ok(v.iter().map(|x| (x.clone(), x.clone())).collect()),
        Value::List(v) | Value::Tuple(v) => Ok(v
            .iter()
            .enumerate()
            .map(|(i, x)| (index_value(i), x.clone()))
            .collect()),
        Value::Map(m) | Value::Object(m) => Ok(m
            .iter()
            .map(|(k, x)| (Value::String(k.clone()), x.clone()))
            .collect()),
        Value::Null => Err(EvalError::new(span, "cannot iterate over a null value")),
        other => Err(EvalError::new(
            span,
            format!(
                "a `for` expression needs a list, set, tuple, map or object, got {}",
                other.kind_name()
            ),
        )),
    }
}

/// The budget cost of reading or building a value: one step per element of a collection and
/// one per 2 bytes of a string (the work hashing, searching or copying it takes).
fn value_cost(v: &Value) -> u64 {
    let n = match v.unmarked() {
        Value::List(v) | Value::Tuple(v) | Value::Set(v) => v.len(),
        Value::Map(m) | Value::Object(m) => m.len(),
        Value::String(s) => s.len() / 2,
        _ => 0,
    };
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[allow(clippy::cast_precision_loss)]
fn index_value(i: usize) -> Value {
    Value::Number(i as f64)
}

impl<'c> Evaluator<'c> {
    pub(crate) fn new(ctx: &'c EvalContext) -> Self {
        Evaluator {
            ctx,
            scopes: Vec::new(),
            depth: 0,
            steps: ctx
                .shared_steps
                .as_ref()
                .map_or(0, |s| s.load(AtomicOrdering::Relaxed)),
        }
    }

    /// Adds `cost` steps to the budget; an error once it is spent.
    fn charge(&mut self, cost: u64, span: Option<Range<usize>>) -> Result<(), EvalError> {
        self.steps = self.steps.saturating_add(cost);
        if self.steps > self.ctx.step_limit() {
            return Err(EvalError::new(
                span,
                "evaluation takes too many steps (the values read or built are too large)",
            )
            .with_help(
                "a function called on large values in a loop does that much work each time",
            ));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        self.scopes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .or_else(|| self.ctx.variables.get(name))
    }

    pub(crate) fn expr(&mut self, expr: &Expression) -> Result<Value, EvalError> {
        if self.depth >= MAX_DEPTH {
            return Err(EvalError::new(
                span_of(expr),
                "expression is nested too deeply",
            ));
        }
        self.steps += 1;
        if self.steps > self.ctx.step_limit() {
            return Err(EvalError::new(
                span_of(expr),
                "evaluation takes too many steps (a `for` expression over a huge collection?)",
            ));
        }
        self.depth += 1;
        let r = self.expr_inner(expr);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, expr: &Expression) -> Result<Value, EvalError> {
        let span = span_of(expr);
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => match n.value().as_f64() {
                Some(f) if f.is_finite() => Ok(Value::Number(f)),
                _ => Err(EvalError::new(span, "number literal is out of range")),
            },
            Expression::String(s) => Ok(Value::String(s.value().to_string())),
            Expression::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for e in items.iter() {
                    out.push(self.expr(e)?);
                }
                Ok(Value::Tuple(out))
            }
            Expression::Object(obj) => {
                let mut out = BTreeMap::new();
                let mut unknown = false;
                let mut sensitive = false;
                for (k, v) in obj.iter() {
                    let key = match k {
                        ObjectKey::Ident(id) => Value::String(id.value().to_string()),
                        // `{ a = 1 }` parses the key `a` as a variable; Terraform treats a bare
                        // identifier key as a literal name.
                        ObjectKey::Expression(Expression::Variable(id)) => {
                            Value::String(id.value().to_string())
                        }
                        ObjectKey::Expression(e) => self.expr(e)?,
                    };
                    let key_span = span_of(k);
                    let (key, marked) = key.unmark();
                    sensitive |= marked;
                    let value = self.expr(v.expr())?;
                    match key {
                        Value::Unknown(_) => unknown = true,
                        Value::Null => {
                            return Err(EvalError::new(key_span, "object key must not be null"))
                        }
                        other => match convert(&other, &Type::String) {
                            Ok(Value::String(s)) => {
                                out.insert(s, value);
                            }
                            _ => {
                                return Err(EvalError::new(
                                    key_span,
                                    format!(
                                        "object key must be a string, got {}",
                                        other.kind_name()
                                    ),
                                ))
                            }
                        },
                    }
                }
                let v = if unknown {
                    Value::Unknown(Type::Dynamic)
                } else {
                    Value::Object(out)
                };
                Ok(v.with_sensitive(sensitive))
            }
            Expression::StringTemplate(t) => {
                // `"${x}"` alone yields x itself, not its string form.
                let elements: Vec<&Element> = t.iter().collect();
                if let [Element::Interpolation(i)] = elements.as_slice() {
                    return self.expr(&i.expr);
                }
                let mut out = TemplateOut::default();
                self.template_elements(&elements, false, false, &mut out)?;
                Ok(finish_template(out))
            }
            Expression::HeredocTemplate(h) => self.template_value(&h.template, span),
            Expression::Parenthesis(p) => self.expr(p.inner()),
            Expression::Variable(v) => {
                let name = v.value().as_str();
                self.lookup(name).cloned().ok_or_else(|| {
                    EvalError::new(span, format!("unknown variable `{name}`")).with_help(
                        "only `var`, `local`, `count`, `each`, `path`, `terraform`, `self`, \
                         `data`, resource types and names bound by `for` can be referenced here",
                    )
                })
            }
            Expression::Conditional(c) => self.conditional(c),
            Expression::FuncCall(call) => self.call(call),
            Expression::Traversal(t) => {
                let ops: Vec<&TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
                let spans: Vec<Option<Range<usize>>> = t.operators.iter().map(span_of).collect();
                // Fast path: walk a context variable by reference, cloning only what is read
                // (`aws_instance.vm[3].id` must not copy every instance of `aws_instance`).
                if let Expression::Variable(v) = &t.expr {
                    let name = v.value().as_str();
                    let ctx: &'c EvalContext = self.ctx;
                    if !self.scopes.iter().any(|(n, _)| n == name) {
                        if let Some(root) = ctx.variables.get(name) {
                            return self.traverse_borrowed(root, &ops, &spans, span);
                        }
                    }
                }
                let base = self.expr(&t.expr)?;
                self.traverse(base, &ops, &spans, span)
            }
            Expression::UnaryOp(op) => {
                let v = self.expr(&op.expr)?;
                let (v, sensitive) = v.unmark_deep();
                let r = match op.operator.value() {
                    UnaryOperator::Neg => match v {
                        Value::Unknown(_) => Value::Unknown(Type::Number),
                        other => Value::Number(-self.number_operand(
                            &other,
                            span_of(&op.expr),
                            sensitive,
                        )?),
                    },
                    UnaryOperator::Not => match v {
                        Value::Unknown(_) => Value::Unknown(Type::Bool),
                        other => {
                            Value::Bool(!self.bool_operand(&other, span_of(&op.expr), sensitive)?)
                        }
                    },
                };
                Ok(r.with_sensitive(sensitive))
            }
            Expression::BinaryOp(op) => {
                let lhs = self.expr(&op.lhs_expr)?;
                let rhs = self.expr(&op.rhs_expr)?;
                self.binary(
                    *op.operator.value(),
                    lhs,
                    rhs,
                    span_of(&op.lhs_expr),
                    span_of(&op.rhs_expr),
                    span,
                )
            }
            Expression::ForExpr(f) => self.for_expr(f, span),
        }
    }

    /// `v` as a number; `hide` keeps a sensitive value out of the error message.
    fn number_operand(
        &self,
        v: &Value,
        span: Option<Range<usize>>,
        hide: bool,
    ) -> Result<f64, EvalError> {
        match convert(v, &Type::Number) {
            Ok(Value::Number(n)) => Ok(n),
            Ok(Value::Null) => Err(EvalError::new(span, "a number is required, got null")),
            Ok(other) => Err(EvalError::new(
                span,
                format!("a number is required, got {}", other.kind_name()),
            )),
            Err(_) if hide => Err(EvalError::new(
                span,
                format!(
                    "a number is required, got a sensitive {} (not shown)",
                    v.kind_name()
                ),
            )),
            Err(e) => Err(EvalError::new(span, e.message)),
        }
    }

    /// `v` as a bool; `hide` keeps a sensitive value out of the error message.
    fn bool_operand(
        &self,
        v: &Value,
        span: Option<Range<usize>>,
        hide: bool,
    ) -> Result<bool, EvalError> {
        match convert(v, &Type::Bool) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(Value::Null) => Err(EvalError::new(span, "a bool is required, got null")),
            Ok(other) => Err(EvalError::new(
                span,
                format!("a bool is required, got {}", other.kind_name()),
            )),
            Err(_) if hide => Err(EvalError::new(
                span,
                format!(
                    "a bool is required, got a sensitive {} (not shown)",
                    v.kind_name()
                ),
            )),
            Err(e) => Err(EvalError::new(span, e.message)),
        }
    }

    fn binary(
        &mut self,
        op: BinaryOperator,
        lhs: Value,
        rhs: Value,
        lspan: Option<Range<usize>>,
        rspan: Option<Range<usize>>,
        span: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        use BinaryOperator as B;
        if matches!(op, B::Eq | B::NotEq) {
            let sensitive = lhs.contains_sensitive() || rhs.contains_sensitive();
            let result = if !lhs.is_wholly_known() || !rhs.is_wholly_known() {
                Value::Unknown(Type::Bool)
            } else {
                let eq = lhs.equals_typed(&rhs);
                Value::Bool(if op == B::Eq { eq } else { !eq })
            };
            return Ok(result.with_sensitive(sensitive));
        }
        let (lhs, ls) = lhs.unmark_deep();
        let (rhs, rs) = rhs.unmark_deep();
        let sensitive = ls || rs;
        let result = match op {
            B::And | B::Or => {
                let l = match &lhs {
                    Value::Unknown(_) => None,
                    v => Some(self.bool_operand(v, lspan, ls)?),
                };
                let r = match &rhs {
                    Value::Unknown(_) => None,
                    v => Some(self.bool_operand(v, rspan, rs)?),
                };
                let is_and = op == B::And;
                match (l, r) {
                    (Some(a), Some(b)) => Value::Bool(if is_and { a && b } else { a || b }),
                    (Some(x), None) | (None, Some(x)) if x != is_and => Value::Bool(x),
                    _ => Value::Unknown(Type::Bool),
                }
            }
            _ => {
                if !lhs.is_known() || !rhs.is_known() {
                    let t = if matches!(op, B::Plus | B::Minus | B::Mul | B::Div | B::Mod) {
                        Type::Number
                    } else {
                        Type::Bool
                    };
                    // Still check the known side's type.
                    if lhs.is_known() {
                        self.number_operand(&lhs, lspan, ls)?;
                    }
                    if rhs.is_known() {
                        self.number_operand(&rhs, rspan, rs)?;
                    }
                    Value::Unknown(t)
                } else {
                    let a = self.number_operand(&lhs, lspan, ls)?;
                    let b = self.number_operand(&rhs, rspan.clone(), rs)?;
                    let n = match op {
                        B::Plus => a + b,
                        B::Minus => a - b,
                        B::Mul => a * b,
                        B::Div => {
                            if b == 0.0 {
                                return Err(EvalError::new(span, "division by zero")
                                    .with_help("check the divisor before dividing"));
                            }
                            a / b
                        }
                        B::Mod => {
                            if b == 0.0 {
                                return Err(EvalError::new(span, "modulo by zero")
                                    .with_help("check the divisor before using `%`"));
                            }
                            a % b
                        }
                        B::Less => return Ok(Value::Bool(a < b).with_sensitive(sensitive)),
                        B::LessEq => return Ok(Value::Bool(a <= b).with_sensitive(sensitive)),
                        B::Greater => return Ok(Value::Bool(a > b).with_sensitive(sensitive)),
                        B::GreaterEq => return Ok(Value::Bool(a >= b).with_sensitive(sensitive)),
                        B::Eq | B::NotEq | B::And | B::Or => 0.0,
                    };
                    if !n.is_finite() {
                        return Err(EvalError::new(span, "arithmetic result is out of range"));
                    }
                    Value::Number(n)
                }
            }
        };
        Ok(result.with_sensitive(sensitive))
    }

    fn conditional(&mut self, c: &hcl_edit::expr::Conditional) -> Result<Value, EvalError> {
        let cond = self.expr(&c.cond_expr)?;
        let (cond, sensitive) = cond.unmark_deep();
        let cond_span = span_of(&c.cond_expr);
        let chosen = match &cond {
            Value::Unknown(_) => None,
            Value::Null => {
                return Err(EvalError::new(
                    cond_span,
                    "the condition of a conditional must not be null",
                ))
            }
            v => Some(self.bool_operand(v, cond_span, sensitive)?),
        };
        // Both results are evaluated so that the result has their common type, as in Terraform;
        // errors count only from the chosen branch.
        let t = self.expr(&c.true_expr);
        let f = self.expr(&c.false_expr);
        let result = match chosen {
            None => {
                let ty = match (&t, &f) {
                    (Ok(a), Ok(b)) => unify([a, b]).unwrap_or(Type::Dynamic),
                    (Ok(a), Err(_)) => a.type_of(),
                    (Err(_), Ok(b)) => b.type_of(),
                    (Err(e), Err(_)) => return Err(e.clone()),
                };
                let s = matches!(&t, Ok(v) if v.contains_sensitive())
                    || matches!(&f, Ok(v) if v.contains_sensitive());
                return Ok(Value::Unknown(ty).with_sensitive(sensitive || s));
            }
            Some(true) => {
                let v = t?;
                match &f {
                    Ok(other) => unify_result(v, other),
                    Err(_) => v,
                }
            }
            Some(false) => {
                let v = f?;
                match &t {
                    Ok(other) => unify_result(v, other),
                    Err(_) => v,
                }
            }
        };
        Ok(result.with_sensitive(sensitive))
    }

    fn for_expr(&mut self, f: &ForExpr, span: Option<Range<usize>>) -> Result<Value, EvalError> {
        let coll_span = span_of(&f.intro.collection_expr);
        let collection = self.expr(&f.intro.collection_expr)?;
        let (collection, sensitive) = collection.unmark();
        if !collection.is_known() {
            return Ok(Value::Unknown(Type::Dynamic).with_sensitive(sensitive));
        }
        let items = iterate(&collection, coll_span)?;
        let key_var = f.intro.key_var.as_ref().map(|k| k.value().to_string());
        let value_var = f.intro.value_var.value().to_string();
        let mut tuple = Vec::new();
        let mut object: BTreeMap<String, Value> = BTreeMap::new();
        let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut unknown = false;
        let mut extra_sensitive = false;
        for (k, v) in items {
            let before = self.scopes.len();
            if let Some(kv) = &key_var {
                self.scopes.push((kv.clone(), k));
            }
            self.scopes.push((value_var.clone(), v));
            let step = self.for_step(f, &mut tuple, &mut object, &mut grouped);
            self.scopes.truncate(before);
            match step? {
                ForStep::Done => {}
                ForStep::Unknown(s) => {
                    unknown = true;
                    extra_sensitive |= s;
                }
            }
            if tuple.len() > MAX_COLLECTION_LEN || object.len() > MAX_COLLECTION_LEN {
                return Err(EvalError::new(span, "`for` expression result is too large"));
            }
        }
        let sensitive = sensitive || extra_sensitive;
        if unknown {
            return Ok(Value::Unknown(Type::Dynamic).with_sensitive(sensitive));
        }
        let result = if f.key_expr.is_some() {
            if f.grouping {
                Value::Object(
                    grouped
                        .into_iter()
                        .map(|(k, vs)| (k, Value::Tuple(vs)))
                        .collect(),
                )
            } else {
                Value::Object(object)
            }
        } else {
            Value::Tuple(tuple)
        };
        Ok(result.with_sensitive(sensitive))
    }

    fn for_step(
        &mut self,
        f: &ForExpr,
        tuple: &mut Vec<Value>,
        object: &mut BTreeMap<String, Value>,
        grouped: &mut BTreeMap<String, Vec<Value>>,
    ) -> Result<ForStep, EvalError> {
        if let Some(cond) = &f.cond {
            let c = self.expr(&cond.expr)?;
            let (c, s) = c.unmark_deep();
            match c {
                Value::Unknown(_) => return Ok(ForStep::Unknown(s)),
                other => {
                    if !self.bool_operand(&other, span_of(&cond.expr), s)? {
                        return Ok(ForStep::Done);
                    }
                }
            }
        }
        match &f.key_expr {
            None => tuple.push(self.expr(&f.value_expr)?),
            Some(key_expr) => {
                let key = self.expr(key_expr)?;
                let (key, s) = key.unmark_deep();
                let key_span = span_of(key_expr);
                let key = match key {
                    Value::Unknown(_) => return Ok(ForStep::Unknown(s)),
                    Value::Null => {
                        return Err(EvalError::new(
                            key_span,
                            "the key of a `for` expression must not be null",
                        ))
                    }
                    other => match convert(&other, &Type::String) {
                        Ok(Value::String(k)) => k,
                        _ => {
                            return Err(EvalError::new(
                                key_span,
                                format!(
                                    "the key of a `for` expression must be a string, got {}",
                                    other.kind_name()
                                ),
                            ))
                        }
                    },
                };
                let value = self.expr(&f.value_expr)?;
                if f.grouping {
                    grouped.entry(key).or_default().push(value);
                } else {
                    match object.entry(key) {
                        std::collections::btree_map::Entry::Occupied(e) => {
                            return Err(EvalError::new(
                                key_span,
                                format!("duplicate key {:?} in `for` expression result", e.key()),
                            )
                            .with_help(
                                "add `...` after the value expression to group values with the \
                                 same key",
                            ));
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(value);
                        }
                    }
                }
            }
        }
        Ok(ForStep::Done)
    }

    /// Follows attribute and index steps on a borrowed value as far as they lead to an existing
    /// element, then continues on a copy with [`Evaluator::traverse`] (splats, unknowns, errors).
    fn traverse_borrowed(
        &mut self,
        root: &'c Value,
        ops: &[&TraversalOperator],
        spans: &[Option<Range<usize>>],
        whole: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        let mut cur: &'c Value = root;
        let mut sensitive = false;
        let mut i = 0;
        while let Some(op) = ops.get(i) {
            if let Value::Sensitive(inner) = cur {
                sensitive = true;
                cur = inner;
                continue;
            }
            let next: Option<&'c Value> = match op {
                TraversalOperator::GetAttr(name) => match cur {
                    Value::Object(m) | Value::Map(m) => m.get(name.value().as_str()),
                    _ => None,
                },
                TraversalOperator::LegacyIndex(k) => match cur {
                    Value::List(v) | Value::Tuple(v) => {
                        usize::try_from(*k.value()).ok().and_then(|k| v.get(k))
                    }
                    _ => None,
                },
                TraversalOperator::Index(e) if cur.is_known() && !cur.is_null() => {
                    let span = spans.get(i).cloned().flatten().or_else(|| whole.clone());
                    let key = self.expr(e)?;
                    let found = match (cur, key.unmarked()) {
                        (Value::List(v) | Value::Tuple(v), Value::Number(n))
                            if n.fract() == 0.0 && *n >= 0.0 =>
                        {
                            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                            v.get(*n as usize)
                        }
                        (Value::Map(m) | Value::Object(m), Value::String(k)) => m.get(k.as_str()),
                        _ => None,
                    };
                    Some(match found {
                        Some(v) if !key.is_sensitive() => v,
                        _ => {
                            // Conversions, marks and errors: the general path.
                            let v = index(cur.clone(), key, span)?.with_sensitive(sensitive);
                            let rest_ops = ops.get(i + 1..).unwrap_or(&[]);
                            let rest_spans = spans.get(i + 1..).unwrap_or(&[]);
                            return self.traverse(v, rest_ops, rest_spans, whole);
                        }
                    })
                }
                _ => None,
            };
            match next {
                Some(n) => {
                    cur = n;
                    i += 1;
                }
                None => break,
            }
        }
        let v = cur.clone().with_sensitive(sensitive);
        let rest_ops = ops.get(i..).unwrap_or(&[]);
        let rest_spans = spans.get(i..).unwrap_or(&[]);
        self.traverse(v, rest_ops, rest_spans, whole)
    }

    fn traverse(
        &mut self,
        mut value: Value,
        ops: &[&TraversalOperator],
        spans: &[Option<Range<usize>>],
        whole: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        let mut i = 0;
        while let Some(op) = ops.get(i) {
            let span = spans.get(i).cloned().flatten().or_else(|| whole.clone());
            match op {
                TraversalOperator::GetAttr(name) => {
                    value = get_attr(value, name.value().as_str(), span)?;
                }
                TraversalOperator::LegacyIndex(n) => {
                    #[allow(clippy::cast_precision_loss)]
                    let key = Value::Number(*n.value() as f64);
                    value = index(value, key, span)?;
                }
                TraversalOperator::Index(e) => {
                    let key = self.expr(e)?;
                    value = index(value, key, span)?;
                }
                TraversalOperator::FullSplat(_) | TraversalOperator::AttrSplat(_) => {
                    let full = matches!(op, TraversalOperator::FullSplat(_));
                    // The operators the splat applies to each element.
                    let mut end = i + 1;
                    while let Some(next) = ops.get(end) {
                        let applies = if full {
                            !matches!(
                                next,
                                TraversalOperator::FullSplat(_) | TraversalOperator::AttrSplat(_)
                            )
                        } else {
                            matches!(next, TraversalOperator::GetAttr(_))
                        };
                        if !applies {
                            break;
                        }
                        end += 1;
                    }
                    let sub_ops = ops.get(i + 1..end).unwrap_or(&[]);
                    let sub_spans = spans.get(i + 1..end).unwrap_or(&[]);
                    value = self.splat(value, sub_ops, sub_spans, span)?;
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        Ok(value)
    }

    fn splat(
        &mut self,
        value: Value,
        ops: &[&TraversalOperator],
        spans: &[Option<Range<usize>>],
        span: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        let (value, sensitive) = value.unmark();
        let result = match value {
            Value::Null => Value::Tuple(Vec::new()),
            Value::Unknown(_) => Value::Unknown(Type::Dynamic),
            Value::List(items) | Value::Set(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.traverse(item, ops, spans, span.clone())?);
                }
                Value::List(out)
            }
            Value::Tuple(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.traverse(item, ops, spans, span.clone())?);
                }
                Value::Tuple(out)
            }
            // A single value splats as a one-element tuple.
            other => Value::Tuple(vec![self.traverse(other, ops, spans, span)?]),
        };
        Ok(result.with_sensitive(sensitive))
    }

    fn call(&mut self, call: &FuncCall) -> Result<Value, EvalError> {
        let span = span_of(call);
        let name = call.name.name.value().as_str();
        if call.name.is_namespaced() {
            return Err(EvalError::new(
                span,
                "provider-defined functions (`provider::…::…`) are not supported",
            ));
        }
        let args: Vec<&Expression> = call.args.iter().collect();
        match name {
            "try" => return self.try_fn(&args, span),
            "can" => return self.can_fn(&args, span),
            _ => {}
        }
        let mut values = Vec::with_capacity(args.len());
        let mut arg_spans = Vec::with_capacity(args.len());
        for a in &args {
            values.push(self.expr(a)?);
            arg_spans.push(span_of(*a));
        }
        if call.args.expand_final() {
            let last = values.pop();
            let last_span = arg_spans.pop().flatten();
            match last.map(Value::unmark) {
                Some((Value::List(items) | Value::Tuple(items) | Value::Set(items), s)) => {
                    for item in items {
                        values.push(item.with_sensitive(s));
                        arg_spans.push(last_span.clone());
                    }
                }
                Some((Value::Unknown(_), _)) => return Ok(Value::unknown()),
                Some((other, _)) => {
                    return Err(EvalError::new(
                        last_span,
                        format!(
                            "`...` expands a list, set or tuple, got {}",
                            other.kind_name()
                        ),
                    ))
                }
                None => {}
            }
        }
        // Functions do work in proportion to what they read: charge the size of the arguments
        // (elements and bytes) before the call, so a loop over an expensive call stops early.
        if !matches!(
            name,
            "length" | "element" | "lookup" | "type" | "one" | "coalesce"
        ) {
            let input: u64 = values.iter().map(value_cost).sum();
            self.charge(input, span.clone())?;
        }
        let result = if name == "templatefile" {
            // Reading and parsing the file is work the steps inside the template do not count.
            self.charge(TEMPLATEFILE_COST, span.clone())?;
            // Templates share this evaluation's budget (and so do the templates they include).
            let shared = Arc::new(AtomicU64::new(self.steps));
            let tctx = self.ctx.for_template_call(shared.clone());
            let r = funcs::call(name, values, &arg_spans, span.clone(), &tctx);
            self.steps = self.steps.max(shared.load(AtomicOrdering::Relaxed));
            if self.steps > self.ctx.step_limit() {
                return Err(EvalError::new(
                    span,
                    "evaluation takes too many steps (templates included by `templatefile`)",
                ));
            }
            r?
        } else {
            funcs::call(name, values, &arg_spans, span.clone(), self.ctx)?
        };
        // Functions can build large values in one step; charge their size to the budget.
        let cost = value_cost(&result);
        self.steps = self.steps.saturating_add(cost);
        if self.steps > self.ctx.step_limit() {
            return Err(EvalError::new(
                span,
                "evaluation takes too many steps (the values built are too large)",
            ));
        }
        Ok(result)
    }

    fn try_fn(
        &mut self,
        args: &[&Expression],
        span: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        if args.is_empty() {
            return Err(EvalError::new(span, "`try` needs at least one argument"));
        }
        let mut last_err = None;
        for a in args {
            match self.expr(a) {
                Ok(v) if !v.is_wholly_known() => return Ok(Value::unknown()),
                Ok(v) => return Ok(v),
                Err(e) => last_err = Some(e),
            }
        }
        let detail = last_err.map(|e| e.message).unwrap_or_default();
        Err(EvalError::new(
            span,
            format!("no argument of `try` could be evaluated; the last error was: {detail}"),
        ))
    }

    fn can_fn(
        &mut self,
        args: &[&Expression],
        span: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        let [a] = args else {
            return Err(EvalError::new(span, "`can` takes exactly one argument"));
        };
        Ok(match self.expr(a) {
            Ok(v) if !v.is_wholly_known() => Value::Unknown(Type::Bool),
            Ok(_) => Value::Bool(true),
            Err(_) => Value::Bool(false),
        })
    }

    pub(crate) fn template_value(
        &mut self,
        t: &Template,
        _span: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        let elements: Vec<&Element> = t.iter().collect();
        let mut out = TemplateOut::default();
        self.template_elements(&elements, false, false, &mut out)?;
        Ok(finish_template(out))
    }

    fn template_elements(
        &mut self,
        elements: &[&Element],
        strip_first: bool,
        strip_last: bool,
        out: &mut TemplateOut,
    ) -> Result<(), EvalError> {
        let last = elements.len().saturating_sub(1);
        for (i, e) in elements.iter().enumerate() {
            match e {
                Element::Literal(lit) => {
                    let mut s = lit.value().as_str();
                    let prev = i.checked_sub(1).and_then(|p| elements.get(p)).copied();
                    if (i == 0 && strip_first) || strip_of_prev(prev) {
                        s = s.trim_start();
                    }
                    if (i == last && strip_last) || strip_of_next(elements.get(i + 1).copied()) {
                        s = s.trim_end();
                    }
                    out.push(s, span_of(lit))?;
                }
                Element::Interpolation(interp) => {
                    let v = self.expr(&interp.expr)?;
                    self.append_value(v, span_of(&interp.expr), out)?;
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        let cond_span = span_of(&d.if_expr.cond_expr);
                        let c = self.expr(&d.if_expr.cond_expr)?;
                        let (c, s) = c.unmark_deep();
                        out.sensitive |= s;
                        let branch = match c {
                            Value::Unknown(_) => {
                                out.unknown = true;
                                continue;
                            }
                            Value::Null => {
                                return Err(EvalError::new(
                                    cond_span,
                                    "the condition of `%{if}` must not be null",
                                ))
                            }
                            other => self.bool_operand(&other, cond_span, s)?,
                        };
                        let endif_strip = d.endif_expr.strip.strip_start();
                        if branch {
                            let body: Vec<&Element> = d.if_expr.template.iter().collect();
                            let trail = d
                                .else_expr
                                .as_ref()
                                .map_or(endif_strip, |e| e.strip.strip_start());
                            self.template_elements(&body, d.if_expr.strip.strip_end(), trail, out)?;
                        } else if let Some(else_expr) = &d.else_expr {
                            let body: Vec<&Element> = else_expr.template.iter().collect();
                            self.template_elements(
                                &body,
                                else_expr.strip.strip_end(),
                                endif_strip,
                                out,
                            )?;
                        }
                    }
                    Directive::For(d) => {
                        let f = &d.for_expr;
                        let coll_span = span_of(&f.collection_expr);
                        let coll = self.expr(&f.collection_expr)?;
                        let (coll, s) = coll.unmark();
                        out.sensitive |= s;
                        if !coll.is_known() {
                            out.unknown = true;
                            continue;
                        }
                        let items = iterate(&coll, coll_span)?;
                        let body: Vec<&Element> = f.template.iter().collect();
                        let key_var = f.key_var.as_ref().map(|k| k.value().to_string());
                        let value_var = f.value_var.value().to_string();
                        for (k, v) in items {
                            let before = self.scopes.len();
                            if let Some(kv) = &key_var {
                                self.scopes.push((kv.clone(), k));
                            }
                            self.scopes.push((value_var.clone(), v));
                            let r = self.template_elements(
                                &body,
                                f.strip.strip_end(),
                                d.endfor_expr.strip.strip_start(),
                                out,
                            );
                            self.scopes.truncate(before);
                            r?;
                        }
                    }
                },
            }
        }
        Ok(())
    }

    fn append_value(
        &mut self,
        v: Value,
        span: Option<Range<usize>>,
        out: &mut TemplateOut,
    ) -> Result<(), EvalError> {
        let (v, s) = v.unmark_deep();
        out.sensitive |= s;
        match v {
            Value::Unknown(_) => out.unknown = true,
            Value::Null => {
                return Err(EvalError::new(
                    span,
                    "cannot include a null value in a string template",
                )
                .with_help("use a conditional or `coalesce` to give a default"))
            }
            Value::String(x) => out.push(&x, span)?,
            Value::Number(n) => out.push(&format_number(n), span)?,
            Value::Bool(b) => out.push(if b { "true" } else { "false" }, span)?,
            other => {
                return Err(EvalError::new(
                    span,
                    format!(
                        "cannot include a {} in a string template: a string is required",
                        other.kind_name()
                    ),
                )
                .with_help("use `join`, `jsonencode` or an index to turn it into a string"))
            }
        }
        Ok(())
    }
}

enum ForStep {
    Done,
    /// The key or condition was unknown; bool: it was sensitive.
    Unknown(bool),
}

fn finish_template(out: TemplateOut) -> Value {
    let v = if out.unknown {
        Value::Unknown(Type::String)
    } else {
        Value::String(out.text)
    };
    v.with_sensitive(out.sensitive)
}

/// Converts a conditional's chosen result to the common type of both results when there is one
/// (Terraform: `true ? 1 : "x"` is `"1"`).
fn unify_result(chosen: Value, other: &Value) -> Value {
    if chosen.is_null() || other.is_null() {
        return chosen;
    }
    match unify([&chosen, other]) {
        Some(t) if t != chosen.type_of() && t.is_concrete() => {
            convert(&chosen, &t).unwrap_or(chosen)
        }
        _ => chosen,
    }
}

/// `value.name`.
pub(crate) fn get_attr(
    value: Value,
    name: &str,
    span: Option<Range<usize>>,
) -> Result<Value, EvalError> {
    let (value, sensitive) = value.unmark();
    let result = match value {
        Value::Object(mut m) => match m.remove(name) {
            Some(v) => v,
            None => {
                let known: Vec<&String> = m.keys().take(10).collect();
                let mut err =
                    EvalError::new(span, format!("this object has no attribute `{name}`"));
                if !known.is_empty() {
                    err = err.with_help(format!(
                        "its attributes are: {}",
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                return Err(err);
            }
        },
        Value::Map(mut m) => match m.remove(name) {
            Some(v) => v,
            None => {
                return Err(EvalError::new(
                    span,
                    format!("this map has no element with the key {name:?}"),
                ))
            }
        },
        Value::Unknown(t) => Value::Unknown(match t {
            Type::Object(o) => o.attrs.get(name).cloned().unwrap_or(Type::Dynamic),
            Type::Map(e) => *e,
            _ => Type::Dynamic,
        }),
        Value::Null => {
            return Err(EvalError::new(
                span,
                format!("cannot read attribute `{name}` of a null value"),
            ))
        }
        other => {
            let hint = if other.as_elements().is_some() {
                "; use an index such as `[0]` or a splat `[*]`"
            } else {
                ""
            };
            return Err(EvalError::new(
                span,
                format!(
                    "cannot read attribute `{name}` of a {}{hint}",
                    other.kind_name()
                ),
            ));
        }
    };
    Ok(result.with_sensitive(sensitive))
}

/// `value[key]`.
pub(crate) fn index(
    value: Value,
    key: Value,
    span: Option<Range<usize>>,
) -> Result<Value, EvalError> {
    let (value, s1) = value.unmark();
    let (key, s2) = key.unmark_deep();
    let sensitive = s1 || s2;
    let result = match (value, key) {
        (Value::Null, _) => {
            return Err(EvalError::new(span, "cannot index a null value"));
        }
        (_, Value::Null) => return Err(EvalError::new(span, "the index must not be null")),
        (Value::Unknown(t), _) => Value::Unknown(match t {
            Type::List(e) | Type::Map(e) => *e,
            _ => Type::Dynamic,
        }),
        (Value::List(items) | Value::Tuple(items), key) => {
            if !key.is_known() {
                Value::unknown()
            } else {
                let n = match convert(&key, &Type::Number) {
                    Ok(Value::Number(n)) => n,
                    _ => {
                        return Err(EvalError::new(
                            span,
                            format!(
                                "a list or tuple index must be a number, got {}",
                                key.kind_name()
                            ),
                        ))
                    }
                };
                let shown = if s2 {
                    "(sensitive)".to_string()
                } else {
                    format_number(n)
                };
                if n.fract() != 0.0 || n < 0.0 {
                    return Err(EvalError::new(
                        span,
                        format!("invalid index {shown}: an index must be a whole number ≥ 0"),
                    ));
                }
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let i = n as usize;
                let len = items.len();
                match items.into_iter().nth(i) {
                    Some(v) => v,
                    None => {
                        return Err(EvalError::new(
                            span,
                            format!(
                                "index {shown} is out of range: the collection has {len} elements"
                            ),
                        ))
                    }
                }
            }
        }
        (Value::Map(mut m) | Value::Object(mut m), key) => {
            if !key.is_known() {
                Value::unknown()
            } else {
                let k = match convert(&key, &Type::String) {
                    Ok(Value::String(k)) => k,
                    _ => {
                        return Err(EvalError::new(
                            span,
                            format!("a map key must be a string, got {}", key.kind_name()),
                        ))
                    }
                };
                match m.remove(&k) {
                    Some(v) => v,
                    None => {
                        let shown = if s2 {
                            "(sensitive)".to_string()
                        } else {
                            format!("{k:?}")
                        };
                        return Err(EvalError::new(
                            span,
                            format!("the key {shown} does not exist"),
                        ));
                    }
                }
            }
        }
        (Value::Set(_), _) => {
            return Err(EvalError::new(span, "elements of a set cannot be indexed")
                .with_help("convert it with `tolist(…)` first, or iterate over it with `for`"))
        }
        (other, _) => {
            return Err(EvalError::new(
                span,
                format!("cannot index a {}", other.kind_name()),
            ))
        }
    };
    Ok(result.with_sensitive(sensitive))
}
