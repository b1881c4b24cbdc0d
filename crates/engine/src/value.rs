//! Values at the provider boundary and in the state: JSON-like data plus `Unknown` (known after
//! apply). The language's own value type (with types and marks) lives in `vitrina-hcl`; the
//! orchestrator converts at the edge, like Terraform's wire `DynamicValue`.
//!
//! Numbers are normalised: an integral number that fits `i64` is stored as an integer, so
//! structural equality is value equality (`1 == 1.0`).

use std::collections::BTreeMap;
use std::fmt;

/// A resource attribute value as providers and the state see it.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    /// Not known until apply.
    Unknown,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    /// Lists, sets and tuples (a set is kept sorted and deduplicated by the orchestrator).
    List(Vec<Value>),
    /// Maps and objects, keys sorted.
    Map(BTreeMap<String, Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Number(i.into())
    }

    /// A number from an `f64`; non-finite numbers become null (JSON cannot hold them).
    pub fn float(f: f64) -> Value {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            // Exact: |f| < 2^53 so the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation)]
            return Value::int(f as i64);
        }
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when no part of the value is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| {
                        #[allow(clippy::cast_possible_truncation)]
                        let i = f as i64;
                        i
                    })
            }),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The attribute `name` of an object; `Null` when absent or when `self` is not an object.
    pub fn get(&self, name: &str) -> &Value {
        const NULL: Value = Value::Null;
        match self {
            Value::Map(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Sets attribute `name` when `self` is an object (no-op otherwise).
    pub fn set(&mut self, name: &str, value: Value) {
        if let Value::Map(m) = self {
            m.insert(name.to_owned(), value);
        }
    }

    /// The value at `path`, if every step exists.
    pub fn at(&self, path: &[PathStep]) -> Option<&Value> {
        let mut cur = self;
        for step in path {
            cur = match (step, cur) {
                (PathStep::Attr(k) | PathStep::Key(k), Value::Map(m)) => m.get(k)?,
                (PathStep::Index(i), Value::List(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The value at `path`, mutably, if every step exists.
    pub fn at_mut(&mut self, path: &[PathStep]) -> Option<&mut Value> {
        let mut cur = self;
        for step in path {
            cur = match (step, cur) {
                (PathStep::Attr(k) | PathStep::Key(k), Value::Map(m)) => m.get_mut(k)?,
                (PathStep::Index(i), Value::List(items)) => items.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Replaces the value at `path` when it exists; returns whether it did.
    pub fn replace_at(&mut self, path: &[PathStep], value: Value) -> bool {
        let Some((last, parents)) = path.split_last() else {
            *self = value;
            return true;
        };
        let mut cur = self;
        for step in parents {
            cur = match (step, cur) {
                (PathStep::Attr(k) | PathStep::Key(k), Value::Map(m)) => match m.get_mut(k) {
                    Some(v) => v,
                    None => return false,
                },
                (PathStep::Index(i), Value::List(items)) => match items.get_mut(*i) {
                    Some(v) => v,
                    None => return false,
                },
                _ => return false,
            };
        }
        match (last, cur) {
            (PathStep::Attr(k) | PathStep::Key(k), Value::Map(m)) => {
                m.insert(k.clone(), value);
                true
            }
            (PathStep::Index(i), Value::List(items)) => match items.get_mut(*i) {
                Some(slot) => {
                    *slot = value;
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// JSON, or `None` if some part is unknown.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Null => serde_json::Value::Null,
            Value::Unknown => return None,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(Value::to_json)
                    .collect::<Option<Vec<_>>>()?,
            ),
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<serde_json::Map<_, _>>>()?,
            ),
        })
    }

    /// JSON with unknown parts written as `null` (for display-only data).
    pub fn to_json_lossy(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json_lossy).collect())
            }
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json_lossy()))
                    .collect(),
            ),
        }
    }

    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::int(i),
                None => n.as_f64().map_or(Value::Number(n.clone()), Value::float),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Every path (depth-first) whose value is unknown.
    pub fn unknown_paths(&self) -> Vec<Vec<PathStep>> {
        let mut out = Vec::new();
        fn go(v: &Value, path: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
            match v {
                Value::Unknown => out.push(path.clone()),
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        path.push(PathStep::Index(i));
                        go(item, path, out);
                        path.pop();
                    }
                }
                Value::Map(m) => {
                    for (k, item) in m {
                        path.push(PathStep::Attr(k.clone()));
                        go(item, path, out);
                        path.pop();
                    }
                }
                _ => {}
            }
        }
        go(self, &mut Vec::new(), &mut out);
        out
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::int(i)
    }
}

/// Renders in HCL-like syntax; unknown parts read `(known after apply)`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Unknown => f.write_str("(known after apply)"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => {
                write!(f, "{}", serde_json::Value::String(s.clone()))
            }
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// One step into a value: an object attribute, a list index or a map key.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(untagged)]
pub enum PathStep {
    Index(usize),
    Attr(String),
    /// A map key (stored like an attribute name).
    Key(String),
}

/// Renders a path as `a.b[0]["k"]`.
pub fn path_to_string(path: &[PathStep]) -> String {
    let mut out = String::new();
    for (i, step) in path.iter().enumerate() {
        match step {
            PathStep::Attr(a) => {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(a);
            }
            PathStep::Index(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
            PathStep::Key(k) => {
                out.push('[');
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(Value::float(1.0), Value::int(1));
        assert_eq!(Value::from_json(&serde_json::json!(2.0)), Value::int(2));
    }

    #[test]
    fn unknown_parts_block_json() {
        let v = Value::map([("a", Value::Unknown), ("b", Value::int(1))]);
        assert!(v.to_json().is_none());
        assert_eq!(v.unknown_paths(), vec![vec![PathStep::Attr("a".into())]]);
        assert_eq!(v.to_string(), "{a = (known after apply), b = 1}");
    }

    #[test]
    fn paths_render_like_terraform() {
        let p = vec![
            PathStep::Attr("triggers".into()),
            PathStep::Key("x".into()),
            PathStep::Index(0),
        ];
        assert_eq!(path_to_string(&p), "triggers[\"x\"][0]");
    }
}
