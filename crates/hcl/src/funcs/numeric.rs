//! Numeric functions.

use super::{elements_arg, int_arg, num_arg, str_arg, FResult, FuncError};
use crate::convert::convert;
use crate::eval::EvalContext;
use crate::types::Type;
use crate::value::Value;

fn finite(n: f64) -> FResult {
    if n.is_finite() {
        Ok(Value::Number(n))
    } else {
        Err(FuncError::call("the result is not a finite number"))
    }
}

pub(crate) fn abs(_: &EvalContext, a: Vec<Value>) -> FResult {
    finite(num_arg(&a, 0)?.abs())
}

pub(crate) fn ceil(_: &EvalContext, a: Vec<Value>) -> FResult {
    finite(num_arg(&a, 0)?.ceil())
}

pub(crate) fn floor(_: &EvalContext, a: Vec<Value>) -> FResult {
    finite(num_arg(&a, 0)?.floor())
}

pub(crate) fn signum(_: &EvalContext, a: Vec<Value>) -> FResult {
    let n = num_arg(&a, 0)?;
    Ok(Value::Number(if n > 0.0 {
        1.0
    } else if n < 0.0 {
        -1.0
    } else {
        0.0
    }))
}

pub(crate) fn log(_: &EvalContext, a: Vec<Value>) -> FResult {
    let n = num_arg(&a, 0)?;
    let base = num_arg(&a, 1)?;
    if n <= 0.0 {
        return Err(FuncError::arg(0, "must be greater than zero"));
    }
    if base <= 0.0 || base == 1.0 {
        return Err(FuncError::arg(1, "must be greater than zero and not 1"));
    }
    finite(n.ln() / base.ln())
}

pub(crate) fn pow(_: &EvalContext, a: Vec<Value>) -> FResult {
    finite(num_arg(&a, 0)?.powf(num_arg(&a, 1)?))
}

fn all_numbers(a: &[Value]) -> Result<Vec<f64>, FuncError> {
    if a.is_empty() {
        return Err(FuncError::call("at least one number is required"));
    }
    (0..a.len()).map(|i| num_arg(a, i)).collect()
}

pub(crate) fn max(_: &EvalContext, a: Vec<Value>) -> FResult {
    let ns = all_numbers(&a)?;
    Ok(Value::Number(
        ns.into_iter().fold(f64::NEG_INFINITY, f64::max),
    ))
}

pub(crate) fn min(_: &EvalContext, a: Vec<Value>) -> FResult {
    let ns = all_numbers(&a)?;
    Ok(Value::Number(ns.into_iter().fold(f64::INFINITY, f64::min)))
}

pub(crate) fn sum(_: &EvalContext, a: Vec<Value>) -> FResult {
    let items = elements_arg(&a, 0)?;
    if items.is_empty() {
        return Err(FuncError::arg(0, "cannot sum an empty list"));
    }
    let mut total = 0.0;
    for v in items {
        match convert(v, &Type::Number) {
            Ok(Value::Number(n)) => total += n,
            _ => {
                return Err(FuncError::arg(
                    0,
                    "all elements must be numbers and not null",
                ))
            }
        }
    }
    finite(total)
}

pub(crate) fn parseint(_: &EvalContext, a: Vec<Value>) -> FResult {
    let text = str_arg(&a, 0)?;
    let base = int_arg(&a, 1)?;
    if !(2..=62).contains(&base) {
        return Err(FuncError::arg(1, "the base must be between 2 and 62"));
    }
    let base = u32::try_from(base).unwrap_or(10);
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() {
        return Err(FuncError::arg(
            0,
            format!("cannot parse {text:?} as a base {base} integer"),
        ));
    }
    let mut acc: f64 = 0.0;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => u32::from(c) - u32::from('0'),
            'a'..='z' => u32::from(c) - u32::from('a') + 10,
            'A'..='Z' if base <= 36 => u32::from(c) - u32::from('A') + 10,
            'A'..='Z' => u32::from(c) - u32::from('A') + 36,
            _ => base,
        };
        if d >= base {
            return Err(FuncError::arg(
                0,
                format!("cannot parse {text:?} as a base {base} integer"),
            ));
        }
        acc = acc * f64::from(base) + f64::from(d);
    }
    finite(if neg { -acc } else { acc })
}
