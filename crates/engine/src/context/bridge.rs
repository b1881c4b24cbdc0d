//! Conversions between the language's values (`vitrina_hcl::Value`: typed, with sensitive
//! marks) and the provider boundary's [`Value`] (JSON-like, marks kept as paths beside it).

use std::collections::BTreeMap;

use vitrina_hcl as hcl;

use crate::provider::{AttrType, Nesting, Schema};
use crate::value::{PathStep, Value};

/// The language type of an attribute type.
pub fn hcl_type(t: &AttrType) -> hcl::Type {
    match t {
        AttrType::String => hcl::Type::String,
        AttrType::Number => hcl::Type::Number,
        AttrType::Bool => hcl::Type::Bool,
        AttrType::List(e) => hcl::Type::list(hcl_type(e)),
        AttrType::Set(e) => hcl::Type::set(hcl_type(e)),
        AttrType::Map(e) => hcl::Type::map(hcl_type(e)),
        AttrType::Object(attrs) => {
            hcl::Type::object(attrs.iter().map(|(k, v)| (k.clone(), hcl_type(v))))
        }
        AttrType::Dynamic => hcl::Type::Dynamic,
    }
}

/// Strips marks: the plain value and the paths that were marked sensitive.
pub fn from_hcl(v: &hcl::Value) -> (Value, Vec<Vec<PathStep>>) {
    let mut paths = Vec::new();
    let out = from_hcl_at(v, &mut Vec::new(), &mut paths);
    (out, paths)
}

fn from_hcl_at(v: &hcl::Value, path: &mut Vec<PathStep>, marks: &mut Vec<Vec<PathStep>>) -> Value {
    match v {
        hcl::Value::Null => Value::Null,
        hcl::Value::Bool(b) => Value::Bool(*b),
        hcl::Value::Number(n) => Value::float(*n),
        hcl::Value::String(s) => Value::String(s.clone()),
        hcl::Value::List(items) | hcl::Value::Tuple(items) | hcl::Value::Set(items) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    path.push(PathStep::Index(i));
                    let out = from_hcl_at(item, path, marks);
                    path.pop();
                    out
                })
                .collect(),
        ),
        hcl::Value::Map(m) | hcl::Value::Object(m) => Value::Map(
            m.iter()
                .map(|(k, item)| {
                    path.push(PathStep::Attr(k.clone()));
                    let out = from_hcl_at(item, path, marks);
                    path.pop();
                    (k.clone(), out)
                })
                .collect(),
        ),
        hcl::Value::Unknown(_) => Value::Unknown,
        hcl::Value::Sensitive(inner) => {
            marks.push(path.clone());
            let mut ignored = Vec::new();
            from_hcl_at(inner, path, &mut ignored)
        }
    }
}

/// A value of a known attribute type in the language's terms.
pub fn to_hcl(v: &Value, t: &AttrType) -> hcl::Value {
    match (v, t) {
        (Value::Null, _) => hcl::Value::Null,
        (Value::Unknown, t) => hcl::Value::Unknown(hcl_type(t)),
        (Value::List(items), AttrType::List(e)) => {
            hcl::Value::List(items.iter().map(|i| to_hcl(i, e)).collect())
        }
        (Value::List(items), AttrType::Set(e)) => {
            hcl::Value::set(items.iter().map(|i| to_hcl(i, e)))
        }
        (Value::Map(m), AttrType::Map(e)) => {
            hcl::Value::Map(m.iter().map(|(k, i)| (k.clone(), to_hcl(i, e))).collect())
        }
        (Value::Map(m), AttrType::Object(attrs)) => hcl::Value::Object(
            attrs
                .iter()
                .map(|(k, at)| (k.clone(), to_hcl(m.get(k).unwrap_or(&Value::Null), at)))
                .collect(),
        ),
        (v, _) => to_hcl_dynamic(v),
    }
}

/// A value without type information: lists become tuples, maps objects.
pub fn to_hcl_dynamic(v: &Value) -> hcl::Value {
    match v {
        Value::Null => hcl::Value::Null,
        Value::Unknown => hcl::Value::Unknown(hcl::Type::Dynamic),
        Value::Bool(b) => hcl::Value::Bool(*b),
        Value::Number(n) => hcl::Value::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => hcl::Value::String(s.clone()),
        Value::List(items) => hcl::Value::Tuple(items.iter().map(to_hcl_dynamic).collect()),
        Value::Map(m) => hcl::Value::Object(
            m.iter()
                .map(|(k, i)| (k.clone(), to_hcl_dynamic(i)))
                .collect(),
        ),
    }
}

/// An object of a schema (a resource instance) in the language's terms, with sensitive
/// attributes marked. Attributes the schema does not know are kept untyped.
pub fn object_to_hcl(v: &Value, schema: &Schema, sensitive: &[Vec<PathStep>]) -> hcl::Value {
    let mut out = object_unmarked(v, schema);
    for p in sensitive {
        mark_at(&mut out, p);
    }
    out
}

fn object_unmarked(v: &Value, schema: &Schema) -> hcl::Value {
    let Value::Map(m) = v else {
        return match v {
            Value::Unknown => hcl::Value::Unknown(hcl::Type::Dynamic),
            _ => hcl::Value::Null,
        };
    };
    let mut out: BTreeMap<String, hcl::Value> = BTreeMap::new();
    for (k, item) in m {
        let hv = if let Some(a) = schema.attributes.get(k) {
            to_hcl(item, &a.ty)
        } else if let Some(b) = schema.blocks.get(k) {
            match (b.nesting, item) {
                (Nesting::Single, item) => object_unmarked(item, &b.schema),
                (Nesting::List, Value::List(items)) => hcl::Value::List(
                    items
                        .iter()
                        .map(|i| object_unmarked(i, &b.schema))
                        .collect(),
                ),
                (Nesting::Set, Value::List(items)) => {
                    hcl::Value::set(items.iter().map(|i| object_unmarked(i, &b.schema)))
                }
                (_, other) => to_hcl_dynamic(other),
            }
        } else {
            to_hcl_dynamic(item)
        };
        out.insert(k.clone(), hv);
    }
    hcl::Value::Object(out)
}

fn mark_at(v: &mut hcl::Value, path: &[PathStep]) {
    let Some((first, rest)) = path.split_first() else {
        let inner = std::mem::replace(v, hcl::Value::Null);
        *v = inner.mark_sensitive();
        return;
    };
    match (first, v) {
        (PathStep::Attr(k) | PathStep::Key(k), hcl::Value::Object(m) | hcl::Value::Map(m)) => {
            if let Some(child) = m.get_mut(k) {
                mark_at(child, rest);
            }
        }
        (
            PathStep::Index(i),
            hcl::Value::List(items) | hcl::Value::Tuple(items) | hcl::Value::Set(items),
        ) => {
            if let Some(child) = items.get_mut(*i) {
                mark_at(child, rest);
            }
        }
        _ => {}
    }
}

/// Terraform's JSON spelling of a type (`"string"`, `["list","number"]`), for `output --json`.
pub fn type_json(t: &hcl::Type) -> serde_json::Value {
    use serde_json::json;
    match t {
        hcl::Type::Dynamic => json!("dynamic"),
        hcl::Type::String => json!("string"),
        hcl::Type::Number => json!("number"),
        hcl::Type::Bool => json!("bool"),
        hcl::Type::List(e) => json!(["list", type_json(e)]),
        hcl::Type::Set(e) => json!(["set", type_json(e)]),
        hcl::Type::Map(e) => json!(["map", type_json(e)]),
        hcl::Type::Tuple(items) => {
            json!(["tuple", items.iter().map(type_json).collect::<Vec<_>>()])
        }
        hcl::Type::Object(o) => {
            let attrs: serde_json::Map<String, serde_json::Value> = o
                .attrs
                .iter()
                .map(|(k, v)| (k.clone(), type_json(v)))
                .collect();
            json!(["object", attrs])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_paths_and_back() {
        let v = hcl::Value::object([
            ("a", hcl::Value::string("x").mark_sensitive()),
            ("b", hcl::Value::Number(2.0)),
        ]);
        let (plain, marks) = from_hcl(&v);
        assert_eq!(
            plain,
            Value::map([("a", Value::string("x")), ("b", Value::int(2))])
        );
        assert_eq!(marks, vec![vec![PathStep::Attr("a".into())]]);
        let schema = Schema::new()
            .attr("a", crate::provider::Attribute::optional(AttrType::String))
            .attr("b", crate::provider::Attribute::optional(AttrType::Number));
        let back = object_to_hcl(&plain, &schema, &marks);
        assert_eq!(back, v);
    }
}
