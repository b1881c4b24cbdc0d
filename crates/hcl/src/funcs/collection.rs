//! Collection functions.

use std::collections::BTreeMap;

use super::{elements_arg, int_arg, num_arg, str_arg, FResult, FuncError};
use crate::convert::{convert, unify};
use crate::eval::{EvalContext, MAX_COLLECTION_LEN};
use crate::types::Type;
use crate::value::{normalize_set, Value};

fn bools(a: &[Value]) -> Result<Vec<bool>, FuncError> {
    elements_arg(a, 0)?
        .iter()
        .map(|v| match convert(v, &Type::Bool) {
            Ok(Value::Bool(b)) => Ok(b),
            _ => Err(FuncError::arg(0, "all elements must be bools")),
        })
        .collect()
}

pub(crate) fn alltrue(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::Bool(bools(&a)?.into_iter().all(|b| b)))
}

pub(crate) fn anytrue(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::Bool(bools(&a)?.into_iter().any(|b| b)))
}

pub(crate) fn chunklist(_: &EvalContext, a: Vec<Value>) -> FResult {
    let items = elements_arg(&a, 0)?;
    let size = int_arg(&a, 1)?;
    let size = usize::try_from(size).map_err(|_| FuncError::arg(1, "must not be negative"))?;
    if size == 0 {
        return Ok(Value::List(vec![Value::List(items.to_vec())]));
    }
    Ok(Value::List(
        items
            .chunks(size)
            .map(|c| Value::List(c.to_vec()))
            .collect(),
    ))
}

pub(crate) fn coalesce(_: &EvalContext, a: Vec<Value>) -> FResult {
    if a.is_empty() {
        return Err(FuncError::call("at least one argument is required"));
    }
    let ty = unify(a.iter()).unwrap_or(Type::Dynamic);
    for v in &a {
        if !v.is_known() {
            return Ok(Value::Unknown(ty));
        }
        if v.is_null() || v.as_str() == Some("") {
            continue;
        }
        return Ok(if ty.is_concrete() {
            convert(v, &ty).unwrap_or_else(|_| v.clone())
        } else {
            v.clone()
        });
    }
    Err(FuncError::call(
        "no non-null, non-empty-string arguments were given",
    ))
}

pub(crate) fn coalescelist(_: &EvalContext, a: Vec<Value>) -> FResult {
    if a.is_empty() {
        return Err(FuncError::call("at least one argument is required"));
    }
    for (i, v) in a.iter().enumerate() {
        let items = v
            .as_elements()
            .ok_or_else(|| FuncError::arg(i, "a list or tuple is required"))?;
        if !items.is_empty() {
            return Ok(v.clone());
        }
    }
    a.into_iter()
        .last()
        .ok_or_else(|| FuncError::call("at least one argument is required"))
}

pub(crate) fn compact(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::List(
        elements_arg(&a, 0)?
            .iter()
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
            .cloned()
            .collect(),
    ))
}

pub(crate) fn concat(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut out = Vec::new();
    let mut all_lists = true;
    for (i, v) in a.iter().enumerate() {
        match v {
            Value::List(items) => out.extend(items.iter().cloned()),
            Value::Tuple(items) => {
                all_lists = false;
                out.extend(items.iter().cloned());
            }
            _ => return Err(FuncError::arg(i, "a list or tuple is required")),
        }
        if out.len() > MAX_COLLECTION_LEN {
            return Err(FuncError::call("result is too large"));
        }
    }
    Ok(if all_lists {
        Value::List(out)
    } else {
        Value::Tuple(out)
    })
}

pub(crate) fn contains(_: &EvalContext, a: Vec<Value>) -> FResult {
    let items = elements_arg(&a, 0)?;
    let needle = a.get(1).cloned().unwrap_or(Value::Null);
    Ok(Value::Bool(items.iter().any(|v| v.equals(&needle))))
}

/// `distinct` in O(n log n): the elements are ordered by [`Value::total_cmp`] and the first of
/// each run of equal ones is kept, in the original order.
pub(crate) fn distinct(_: &EvalContext, a: Vec<Value>) -> FResult {
    let items = elements_arg(&a, 0)?;
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Stable: among equal elements the first stays first.
    order.sort_by(|&i, &j| items[i].total_cmp(&items[j]));
    let mut keep = vec![false; items.len()];
    let mut group: Option<&Value> = None;
    for &i in &order {
        let v = &items[i];
        match group {
            Some(g) if g.total_cmp(v) == std::cmp::Ordering::Equal && g.equals(v) => {}
            _ => {
                keep[i] = true;
                group = Some(v);
            }
        }
    }
    Ok(Value::List(
        items
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(v, _)| v.clone())
            .collect(),
    ))
}

/// Whether the sorted `haystack` holds a value equal to `v`.
fn sorted_contains(haystack: &[Value], v: &Value) -> bool {
    haystack
        .binary_search_by(|h| h.total_cmp(v))
        .is_ok_and(|i| haystack[i].equals(v))
}

pub(crate) fn element(_: &EvalContext, a: Vec<Value>) -> FResult {
    let items = match a.first() {
        Some(Value::List(v) | Value::Tuple(v)) => v,
        _ => return Err(FuncError::arg(0, "a list or tuple is required")),
    };
    let i = int_arg(&a, 1)?;
    if items.is_empty() {
        return Err(FuncError::arg(0, "cannot use element on an empty list"));
    }
    if i < 0 {
        return Err(FuncError::arg(1, "a negative index is not allowed"));
    }
    let len = items.len();
    let i = usize::try_from(i).unwrap_or(0) % len;
    items
        .get(i)
        .cloned()
        .ok_or_else(|| FuncError::arg(1, "index out of range"))
}

fn flatten_into(v: &Value, out: &mut Vec<Value>, depth: usize) -> Result<bool, FuncError> {
    if depth > 64 {
        return Err(FuncError::arg(0, "list is nested too deeply"));
    }
    match v {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            for item in items {
                match item.unmarked() {
                    Value::List(_) | Value::Tuple(_) | Value::Set(_) => {
                        if !flatten_into(item.unmarked(), out, depth + 1)? {
                            return Ok(false);
                        }
                    }
                    Value::Unknown(t) if t.is_sequence() || *t == Type::Dynamic => {
                        return Ok(false)
                    }
                    _ => out.push(item.clone()),
                }
                if out.len() > MAX_COLLECTION_LEN {
                    return Err(FuncError::call("result is too large"));
                }
            }
            Ok(true)
        }
        _ => Err(FuncError::arg(0, "a list, set or tuple is required")),
    }
}

pub(crate) fn flatten(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut out = Vec::new();
    let v = a.first().cloned().unwrap_or(Value::Null);
    if !flatten_into(&v, &mut out, 0)? {
        return Ok(Value::unknown());
    }
    Ok(Value::Tuple(out))
}

pub(crate) fn index(_: &EvalContext, a: Vec<Value>) -> FResult {
    let items = match a.first() {
        Some(Value::List(v) | Value::Tuple(v)) => v,
        _ => return Err(FuncError::arg(0, "a list or tuple is required")),
    };
    let needle = a.get(1).cloned().unwrap_or(Value::Null);
    match items.iter().position(|v| v.equals(&needle)) {
        #[allow(clippy::cast_precision_loss)]
        Some(i) => Ok(Value::Number(i as f64)),
        None => Err(FuncError::arg(1, "the item was not found in the list")),
    }
}

pub(crate) fn keys(_: &EvalContext, a: Vec<Value>) -> FResult {
    match a.first() {
        Some(Value::Map(m)) => Ok(Value::List(m.keys().map(|k| k.as_str().into()).collect())),
        Some(Value::Object(m)) => Ok(Value::Tuple(m.keys().map(|k| k.as_str().into()).collect())),
        _ => Err(FuncError::arg(0, "a map or object is required")),
    }
}

pub(crate) fn values(_: &EvalContext, a: Vec<Value>) -> FResult {
    match a.first() {
        Some(Value::Map(m)) => Ok(Value::List(m.values().cloned().collect())),
        Some(Value::Object(m)) => Ok(Value::Tuple(m.values().cloned().collect())),
        _ => Err(FuncError::arg(0, "a map or object is required")),
    }
}

pub(crate) fn length(_: &EvalContext, a: Vec<Value>) -> FResult {
    let n = match a.first() {
        Some(Value::String(s)) => super::string::graphemes(s).len(),
        Some(Value::List(v) | Value::Tuple(v) | Value::Set(v)) => v.len(),
        Some(Value::Map(m) | Value::Object(m)) => m.len(),
        _ => {
            return Err(FuncError::arg(
                0,
                "a string, list, set, tuple, map or object is required",
            ))
        }
    };
    #[allow(clippy::cast_precision_loss)]
    Ok(Value::Number(n as f64))
}

pub(crate) fn lookup(_: &EvalContext, a: Vec<Value>) -> FResult {
    let m = match a.first() {
        Some(Value::Map(m) | Value::Object(m)) => m,
        _ => return Err(FuncError::arg(0, "a map or object is required")),
    };
    let key = str_arg(&a, 1)?;
    if a.len() > 3 {
        return Err(FuncError::call("takes at most three arguments"));
    }
    match (m.get(key), a.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(FuncError::arg(
            1,
            format!("the key {key:?} does not exist in the map"),
        )),
    }
}

pub(crate) fn matchkeys(_: &EvalContext, a: Vec<Value>) -> FResult {
    let values = elements_arg(&a, 0)?;
    let keys = elements_arg(&a, 1)?;
    let search = elements_arg(&a, 2)?;
    if values.len() != keys.len() {
        return Err(FuncError::arg(
            1,
            "the lists of values and keys must have the same length",
        ));
    }
    Ok(Value::List(
        values
            .iter()
            .zip(keys)
            .filter(|(_, k)| search.iter().any(|s| s.equals(k)))
            .map(|(v, _)| v.clone())
            .collect(),
    ))
}

pub(crate) fn merge(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut out = BTreeMap::new();
    let mut any_object = false;
    let mut unknown = false;
    for (i, v) in a.iter().enumerate() {
        match v {
            Value::Null => {}
            Value::Map(m) => out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
            Value::Object(m) => {
                any_object = true;
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Value::Unknown(_) => unknown = true,
            _ => return Err(FuncError::arg(i, "a map or object is required")),
        }
    }
    if unknown {
        return Ok(Value::unknown());
    }
    Ok(if any_object {
        Value::Object(out)
    } else {
        Value::Map(out)
    })
}

pub(crate) fn one(_: &EvalContext, a: Vec<Value>) -> FResult {
    let items = elements_arg(&a, 0)?;
    match items {
        [] => Ok(Value::Null),
        [x] => Ok(x.clone()),
        _ => Err(FuncError::arg(
            0,
            format!("must have zero or one elements, got {}", items.len()),
        )),
    }
}

pub(crate) fn range(_: &EvalContext, a: Vec<Value>) -> FResult {
    let nums: Vec<f64> = (0..a.len())
        .map(|i| num_arg(&a, i))
        .collect::<Result<_, _>>()?;
    let (start, limit, step) = match nums.as_slice() {
        [limit] => (0.0, *limit, 1.0),
        [start, limit] => (*start, *limit, if start > limit { -1.0 } else { 1.0 }),
        [start, limit, step] => (*start, *limit, *step),
        _ => return Err(FuncError::call("takes one, two or three arguments")),
    };
    if step == 0.0 {
        return Err(FuncError::arg(2, "step must not be zero"));
    }
    if (step > 0.0 && start > limit) || (step < 0.0 && start < limit) {
        return Err(FuncError::arg(2, "step must point from start toward limit"));
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < limit) || (step < 0.0 && x > limit) {
        // Terraform's documented limit: the 1025th element is an error.
        if out.len() >= RANGE_LIMIT {
            return Err(FuncError::call(format!(
                "more than {RANGE_LIMIT} numbers would be produced; iterate over an existing collection instead"
            )));
        }
        out.push(Value::Number(x));
        x += step;
    }
    Ok(Value::List(out))
}

/// Most numbers `range` produces, as in Terraform.
const RANGE_LIMIT: usize = 1024;

pub(crate) fn reverse(_: &EvalContext, a: Vec<Value>) -> FResult {
    match a.into_iter().next() {
        Some(Value::List(mut v)) => {
            v.reverse();
            Ok(Value::List(v))
        }
        Some(Value::Tuple(mut v)) => {
            v.reverse();
            Ok(Value::Tuple(v))
        }
        Some(Value::Set(mut v)) => {
            v.reverse();
            Ok(Value::List(v))
        }
        _ => Err(FuncError::arg(0, "a list, set or tuple is required")),
    }
}

fn set_items(a: &[Value], i: usize) -> Result<Vec<Value>, FuncError> {
    Ok(elements_arg(a, i)?.to_vec())
}

fn unify_set(items: Vec<Value>) -> Value {
    let v = Value::Set(normalize_set(items));
    match v.type_of() {
        Type::Set(e) if e.is_concrete() => v,
        _ => convert(&v, &Type::set(Type::Dynamic)).unwrap_or(v),
    }
}

pub(crate) fn setintersection(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut acc = set_items(&a, 0)?;
    for i in 1..a.len() {
        let mut other = set_items(&a, i)?;
        other.sort_by(Value::total_cmp);
        acc.retain(|v| sorted_contains(&other, v));
    }
    Ok(unify_set(acc))
}

pub(crate) fn setunion(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut acc = Vec::new();
    for i in 0..a.len() {
        acc.extend(set_items(&a, i)?);
    }
    Ok(unify_set(acc))
}

pub(crate) fn setsubtract(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut acc = set_items(&a, 0)?;
    let mut other = set_items(&a, 1)?;
    other.sort_by(Value::total_cmp);
    acc.retain(|v| !sorted_contains(&other, v));
    Ok(unify_set(acc))
}

pub(crate) fn setproduct(_: &EvalContext, a: Vec<Value>) -> FResult {
    if a.len() < 2 {
        return Err(FuncError::call("at least two arguments are required"));
    }
    let mut any_set = false;
    let mut lists: Vec<&[Value]> = Vec::new();
    for (i, v) in a.iter().enumerate() {
        if matches!(v, Value::Set(_)) {
            any_set = true;
        }
        lists.push(elements_arg(&a, i)?);
    }
    let mut product: Vec<Vec<Value>> = vec![Vec::new()];
    for list in lists {
        let mut next = Vec::new();
        for prefix in &product {
            for item in list {
                let mut row = prefix.clone();
                row.push(item.clone());
                next.push(row);
                if next.len() > MAX_COLLECTION_LEN {
                    return Err(FuncError::call("would produce too many elements"));
                }
            }
        }
        product = next;
    }
    let rows: Vec<Value> = product.into_iter().map(Value::List).collect();
    Ok(if any_set {
        Value::Set(normalize_set(rows))
    } else {
        Value::List(rows)
    })
}

pub(crate) fn slice(_: &EvalContext, a: Vec<Value>) -> FResult {
    let (items, tuple) = match a.first() {
        Some(Value::List(v)) => (v, false),
        Some(Value::Tuple(v)) => (v, true),
        _ => return Err(FuncError::arg(0, "a list or tuple is required")),
    };
    let start = int_arg(&a, 1)?;
    let end = int_arg(&a, 2)?;
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    if start < 0 || start > len {
        return Err(FuncError::arg(1, "start index is out of range"));
    }
    if end < start || end > len {
        return Err(FuncError::arg(
            2,
            "end index must be between the start index and the length of the list",
        ));
    }
    let part = items
        .get(usize::try_from(start).unwrap_or(0)..usize::try_from(end).unwrap_or(0))
        .unwrap_or(&[])
        .to_vec();
    Ok(if tuple {
        Value::Tuple(part)
    } else {
        Value::List(part)
    })
}

pub(crate) fn sort(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut items: Vec<String> = Vec::new();
    for v in elements_arg(&a, 0)? {
        match v.as_str() {
            Some(s) => items.push(s.to_string()),
            None => return Err(FuncError::arg(0, "elements must not be null")),
        }
    }
    items.sort();
    Ok(Value::List(items.into_iter().map(Value::String).collect()))
}

pub(crate) fn transpose(_: &EvalContext, a: Vec<Value>) -> FResult {
    let m = match a.first() {
        Some(Value::Map(m) | Value::Object(m)) => m,
        _ => return Err(FuncError::arg(0, "a map of lists of strings is required")),
    };
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, list) in m {
        for v in list.as_elements().unwrap_or(&[]) {
            let s = v
                .as_str()
                .ok_or_else(|| FuncError::arg(0, "elements must be strings"))?;
            out.entry(s.to_string())
                .or_default()
                .push(Value::String(k.clone()));
        }
    }
    Ok(Value::Map(
        out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
    ))
}

pub(crate) fn zipmap(_: &EvalContext, a: Vec<Value>) -> FResult {
    let keys = elements_arg(&a, 0)?;
    let (values, tuple) = match a.get(1) {
        Some(Value::List(v)) => (v, false),
        Some(Value::Tuple(v)) => (v, true),
        _ => return Err(FuncError::arg(1, "a list or tuple is required")),
    };
    if keys.len() != values.len() {
        return Err(FuncError::arg(
            1,
            format!(
                "must have the same length as the keys ({}), got {}",
                keys.len(),
                values.len()
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in keys.iter().zip(values) {
        let k = k
            .as_str()
            .ok_or_else(|| FuncError::arg(0, "keys must be strings and not null"))?;
        out.insert(k.to_string(), v.clone());
    }
    Ok(if tuple {
        Value::Object(out)
    } else {
        Value::Map(out)
    })
}

pub(crate) fn removed_list(_: &EvalContext, _: Vec<Value>) -> FResult {
    Err(FuncError::call(
        "the `list` function was removed in Terraform 0.12; write `tolist([a, b])` or `[a, b]`",
    ))
}

pub(crate) fn removed_map(_: &EvalContext, _: Vec<Value>) -> FResult {
    Err(FuncError::call(
        "the `map` function was removed in Terraform 0.12; write `tomap({a = b})` or `{a = b}`",
    ))
}
