//! Expression evaluation.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey, UnaryOperator};

use crate::value::Value;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub span: Option<std::ops::Range<usize>>,
    pub message: String,
}

/// Evaluates an expression made of literals only (used for `optional()` defaults).
pub fn evaluate_constant(expr: &Expression) -> Result<Value, EvalError> {
    let err = |m: &str| EvalError {
        span: hcl_edit::Span::span(expr),
        message: m.to_string(),
    };
    Ok(match expr {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(n) => Value::Number(n.value().as_f64().unwrap_or(0.0)),
        Expression::String(s) => Value::String(s.value().to_string()),
        Expression::Array(a) => {
            Value::Tuple(a.iter().map(evaluate_constant).collect::<Result<_, _>>()?)
        }
        Expression::Object(o) => {
            let mut m = BTreeMap::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(i) => i.value().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
                    ObjectKey::Expression(Expression::Variable(s)) => s.value().to_string(),
                    ObjectKey::Expression(_) => return Err(err("object keys must be constant")),
                };
                m.insert(key, evaluate_constant(v.expr())?);
            }
            Value::Object(m)
        }
        Expression::Parenthesis(p) => evaluate_constant(p.inner())?,
        Expression::UnaryOp(op) if *op.operator.value() == UnaryOperator::Neg => {
            match evaluate_constant(&op.expr)? {
                Value::Number(n) => Value::Number(-n),
                _ => return Err(err("a number is required")),
            }
        }
        _ => return Err(err("a constant value is required")),
    })
}
