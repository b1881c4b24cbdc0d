//! Conversion of values to a type or type constraint, as Terraform does for variables, function
//! arguments and operators: `"1"` ↔ `1`, `"true"` ↔ `true`, tuples to lists, objects to maps,
//! `optional(T, default)` attributes filled in.

use std::collections::BTreeMap;

use crate::types::{ObjectType, Type};
use crate::value::{format_number, normalize_set, Value};

/// Why a value does not convert to a type. `path` locates the offending part (`[1].name`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ConvertError {
    pub path: String,
    pub message: String,
}

impl ConvertError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        ConvertError {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Converts `value` to type `ty`. Unknown values become unknown values of the target type;
/// `null` stays `null`; sensitive marks are kept.
pub fn convert(value: &Value, ty: &Type) -> Result<Value, ConvertError> {
    convert_at(value, ty, "")
}

/// Parses a string as Terraform does when a number is expected: decimal notation with an
/// optional sign, fraction and exponent.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s;
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
        || !t.chars().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    let n: f64 = t.parse().ok()?;
    n.is_finite().then_some(n)
}

fn convert_at(value: &Value, ty: &Type, path: &str) -> Result<Value, ConvertError> {
    if let Value::Sensitive(inner) = value {
        // The message must not show the value.
        return match convert_at(inner, ty, path) {
            Ok(v) => Ok(v.mark_sensitive()),
            Err(e) => Err(ConvertError::new(
                &e.path,
                format!(
                    "{} is required, got a sensitive {} (not shown)",
                    article(&ty.friendly_name()),
                    inner.kind_name()
                ),
            )),
        };
    }
    match (value, ty) {
        (_, Type::Dynamic) => Ok(value.clone()),
        (Value::Null, _) => Ok(Value::Null),
        (Value::Unknown(_), _) => Ok(Value::Unknown(ty.clone())),
        (Value::String(_), Type::String)
        | (Value::Number(_), Type::Number)
        | (Value::Bool(_), Type::Bool) => Ok(value.clone()),
        (Value::Number(n), Type::String) => Ok(Value::String(format_number(*n))),
        (Value::Bool(b), Type::String) => Ok(Value::String(b.to_string())),
        (Value::String(s), Type::Number) => match parse_number(s) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(ConvertError::new(
                path,
                format!("a number is required, got the string {s:?}"),
            )),
        },
        (Value::String(s), Type::Bool) => match s.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(ConvertError::new(
                path,
                format!("a bool is required (`true` or `false`), got the string {s:?}"),
            )),
        },
        (Value::List(items) | Value::Tuple(items) | Value::Set(items), Type::List(elem)) => {
            Ok(Value::List(convert_elements(items, elem, path)?))
        }
        (Value::List(items) | Value::Tuple(items) | Value::Set(items), Type::Set(elem)) => Ok(
            Value::Set(normalize_set(convert_elements(items, elem, path)?)),
        ),
        (Value::List(items) | Value::Tuple(items), Type::Tuple(types)) => {
            if items.len() != types.len() {
                return Err(ConvertError::new(
                    path,
                    format!(
                        "a tuple of {} elements is required, got {}",
                        types.len(),
                        items.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (v, t)) in items.iter().zip(types).enumerate() {
                out.push(convert_at(v, t, &format!("{path}[{i}]"))?);
            }
            Ok(Value::Tuple(out))
        }
        (Value::Map(m) | Value::Object(m), Type::Map(elem)) => {
            let target = if **elem == Type::Dynamic {
                unify(m.values()).ok_or_else(|| {
                    ConvertError::new(path, "all map elements must have the same type")
                })?
            } else {
                (**elem).clone()
            };
            let mut out = BTreeMap::new();
            for (k, v) in m {
                out.insert(
                    k.clone(),
                    convert_at(v, &target, &format!("{path}[{k:?}]"))?,
                );
            }
            Ok(Value::Map(out))
        }
        (Value::Map(m) | Value::Object(m), Type::Object(o)) => convert_object(m, o, path),
        _ => Err(ConvertError::new(
            path,
            format!(
                "{} is required, got {}",
                article(&ty.friendly_name()),
                article(value.kind_name())
            ),
        )),
    }
}

fn article(name: &str) -> String {
    let vowel = name
        .chars()
        .next()
        .is_some_and(|c| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'));
    if name == "null" {
        "null".into()
    } else if vowel {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

fn convert_elements(items: &[Value], elem: &Type, path: &str) -> Result<Vec<Value>, ConvertError> {
    let target = if *elem == Type::Dynamic {
        unify(items)
            .ok_or_else(|| ConvertError::new(path, "all elements must have the same type"))?
    } else {
        elem.clone()
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| convert_at(v, &target, &format!("{path}[{i}]")))
        .collect()
}

fn convert_object(
    m: &BTreeMap<String, Value>,
    o: &ObjectType,
    path: &str,
) -> Result<Value, ConvertError> {
    let mut out = BTreeMap::new();
    for (name, t) in &o.attrs {
        let sub = format!("{path}.{name}");
        let given = m.get(name).filter(|v| !v.is_null());
        let v = match (given, o.optional.get(name)) {
            (Some(v), _) => convert_at(v, t, &sub)?,
            (None, Some(Some(default))) => convert_at(default, t, &sub)?,
            (None, Some(None)) => Value::Null,
            (None, None) if m.contains_key(name) => Value::Null,
            (None, None) => {
                return Err(ConvertError::new(
                    path,
                    format!("attribute `{name}` is required"),
                ))
            }
        };
        out.insert(name.clone(), v);
    }
    Ok(Value::Object(out))
}

/// The type all `values` can be converted to, as Terraform picks for `list(any)`/`map(any)`:
/// their common type, `string` for mixed primitives, a list for sequences of unifiable
/// elements, an object for objects with the same attributes, a map otherwise. `None` when
/// there is no such type.
pub fn unify<'a>(values: impl IntoIterator<Item = &'a Value>) -> Option<Type> {
    let types: Vec<Type> = values
        .into_iter()
        .filter(|v| !v.is_null())
        .map(Value::type_of)
        .collect();
    unify_types(&types)
}

/// [`unify`] over types.
pub fn unify_types(types: &[Type]) -> Option<Type> {
    let known: Vec<&Type> = types.iter().filter(|t| **t != Type::Dynamic).collect();
    let Some(first) = known.first() else {
        return Some(Type::Dynamic);
    };
    if known.iter().all(|t| *t == *first) {
        return Some((*first).clone());
    }
    if known.iter().all(|t| t.is_primitive()) {
        return Some(Type::String);
    }
    if known.iter().all(|t| t.is_sequence()) {
        let mut elems = Vec::new();
        let mut kind_set = true;
        for t in &known {
            match t {
                Type::List(e) => {
                    kind_set = false;
                    elems.push((**e).clone());
                }
                Type::Set(e) => elems.push((**e).clone()),
                Type::Tuple(ts) => {
                    kind_set = false;
                    elems.extend(ts.iter().cloned());
                }
                _ => return None,
            }
        }
        let e = unify_types(&elems)?;
        return Some(if kind_set {
            Type::set(e)
        } else {
            Type::list(e)
        });
    }
    if known
        .iter()
        .all(|t| matches!(t, Type::Map(_) | Type::Object(_)))
    {
        // Objects with identical attribute names unify attribute by attribute.
        let objects: Vec<&ObjectType> = known
            .iter()
            .filter_map(|t| match t {
                Type::Object(o) => Some(o),
                _ => None,
            })
            .collect();
        if objects.len() == known.len() {
            if let Some(first) = objects.first() {
                let same_keys = objects
                    .iter()
                    .all(|o| o.attrs.keys().eq(first.attrs.keys()));
                if same_keys {
                    let mut attrs = BTreeMap::new();
                    for k in first.attrs.keys() {
                        let ts: Vec<Type> = objects
                            .iter()
                            .filter_map(|o| o.attrs.get(k).cloned())
                            .collect();
                        attrs.insert(k.clone(), unify_types(&ts)?);
                    }
                    return Some(Type::Object(ObjectType::new(attrs)));
                }
            }
        }
        let mut elems = Vec::new();
        for t in &known {
            match t {
                Type::Map(e) => elems.push((**e).clone()),
                Type::Object(o) => elems.extend(o.attrs.values().cloned()),
                _ => return None,
            }
        }
        return Some(Type::map(unify_types(&elems)?));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives() {
        assert_eq!(convert(&"1".into(), &Type::Number), Ok(Value::Number(1.0)));
        assert_eq!(convert(&"true".into(), &Type::Bool), Ok(Value::Bool(true)));
        assert_eq!(convert(&2.5.into(), &Type::String), Ok("2.5".into()));
        assert_eq!(convert(&false.into(), &Type::String), Ok("false".into()));
        assert!(convert(&"yes".into(), &Type::Bool).is_err());
        assert!(convert(&"1x".into(), &Type::Number).is_err());
        assert!(convert(&1.0.into(), &Type::Bool).is_err());
    }

    #[test]
    fn collections() {
        let t = Value::Tuple(vec!["a".into(), 1.0.into(), true.into()]);
        assert_eq!(
            convert(&t, &Type::list(Type::Dynamic)),
            Ok(Value::List(vec!["a".into(), "1".into(), "true".into()]))
        );
        assert_eq!(
            convert(&t, &Type::set(Type::String)),
            Ok(Value::Set(vec!["1".into(), "a".into(), "true".into()]))
        );
        let bad = Value::Tuple(vec!["a".into(), Value::Tuple(vec![])]);
        assert!(convert(&bad, &Type::list(Type::Dynamic)).is_err());
    }

    #[test]
    fn objects_with_optional_attributes() {
        let mut o = ObjectType::default();
        o.attrs.insert("name".into(), Type::String);
        o.attrs.insert("size".into(), Type::Number);
        o.optional.insert("size".into(), Some(Value::Number(10.0)));
        let ty = Type::Object(o);
        let v = Value::object([("name", Value::from("x")), ("extra", Value::from(1.0))]);
        assert_eq!(
            convert(&v, &ty),
            Ok(Value::object([
                ("name", Value::from("x")),
                ("size", Value::from(10.0))
            ]))
        );
        let e = convert(&Value::object([("size", Value::from(1.0))]), &ty).expect_err("missing");
        assert!(e.to_string().contains("`name` is required"), "{e}");
    }

    #[test]
    fn unknown_and_sensitive() {
        assert_eq!(
            convert(&Value::unknown(), &Type::String),
            Ok(Value::Unknown(Type::String))
        );
        assert_eq!(
            convert(&Value::from("1").mark_sensitive(), &Type::Number),
            Ok(Value::from(1.0).mark_sensitive())
        );
        let e = convert(&Value::from("hunter2").mark_sensitive(), &Type::Number)
            .expect_err("not a number");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
