//! Type conversion functions and sensitivity functions.

use super::{FResult, FuncError};
use crate::convert::convert;
use crate::eval::EvalContext;
use crate::types::Type;
use crate::value::Value;

fn first(a: Vec<Value>) -> Value {
    a.into_iter().next().unwrap_or(Value::Null)
}

fn to(a: Vec<Value>, ty: &Type) -> FResult {
    let v = first(a);
    if !v.is_known() {
        return Ok(Value::Unknown(ty.clone()));
    }
    convert(&v, ty).map_err(|e| FuncError::arg(0, format!("cannot convert: {e}")))
}

pub(crate) fn tostring(_: &EvalContext, a: Vec<Value>) -> FResult {
    to(a, &Type::String)
}

pub(crate) fn tonumber(_: &EvalContext, a: Vec<Value>) -> FResult {
    to(a, &Type::Number)
}

pub(crate) fn tobool(_: &EvalContext, a: Vec<Value>) -> FResult {
    to(a, &Type::Bool)
}

pub(crate) fn tolist(_: &EvalContext, a: Vec<Value>) -> FResult {
    to(a, &Type::list(Type::Dynamic))
}

pub(crate) fn toset(_: &EvalContext, a: Vec<Value>) -> FResult {
    to(a, &Type::set(Type::Dynamic))
}

pub(crate) fn tomap(_: &EvalContext, a: Vec<Value>) -> FResult {
    to(a, &Type::map(Type::Dynamic))
}

pub(crate) fn sensitive(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(first(a).mark_sensitive())
}

pub(crate) fn nonsensitive(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(first(a).unmark_deep().0)
}

pub(crate) fn issensitive(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::Bool(first(a).is_sensitive()))
}

pub(crate) fn type_of(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::String(first(a).type_of().to_string()))
}
