//! Terraform values: primitives, collections and structural types, `null`, unknown values and
//! sensitive marks.
//!
//! Numbers are `f64`. Integers up to 2^53 are exact and print without a fraction (`3`, not
//! `3.0`); Terraform's arbitrary precision is not reproduced (listed in the crate README).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use crate::types::{ObjectType, Type};

/// A Terraform value.
///
/// Maps and objects keep their keys sorted (so iteration is in lexical key order, as in
/// Terraform). Sets keep their elements sorted by [`Value::total_cmp`] and deduplicated.
/// `Sensitive` wraps a value that must not be shown; operations on it give sensitive results.
///
/// `Debug` and `Display` never show what a `Sensitive` value holds.
#[derive(Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    /// A value known only after apply, of the given type (`Type::Dynamic` when even the type is
    /// not known).
    Unknown(Type),
    /// A value marked sensitive.
    Sensitive(Box<Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// An object from `(name, value)` pairs.
    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(items: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(items.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A set from elements: sorted and deduplicated.
    pub fn set(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Set(normalize_set(items.into_iter().collect()))
    }

    /// An unknown value of any type.
    pub fn unknown() -> Value {
        Value::Unknown(Type::Dynamic)
    }

    /// This value marked sensitive (idempotent).
    #[must_use]
    pub fn mark_sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            v => Value::Sensitive(Box::new(v)),
        }
    }

    /// Marks the value sensitive when `sensitive` is true.
    #[must_use]
    pub fn with_sensitive(self, sensitive: bool) -> Value {
        if sensitive {
            self.mark_sensitive()
        } else {
            self
        }
    }

    /// Removes the top-level mark: the inner value and whether it was marked.
    pub fn unmark(self) -> (Value, bool) {
        match self {
            Value::Sensitive(v) => (v.unmark().0, true),
            v => (v, false),
        }
    }

    /// The value without its top-level mark, by reference.
    pub fn unmarked(&self) -> &Value {
        match self {
            Value::Sensitive(v) => v.unmarked(),
            v => v,
        }
    }

    /// Removes every mark, at any depth: the plain value and whether any mark was found.
    pub fn unmark_deep(self) -> (Value, bool) {
        match self {
            Value::Sensitive(v) => (v.unmark_deep().0, true),
            Value::List(items) => {
                let (items, s) = unmark_vec(items);
                (Value::List(items), s)
            }
            Value::Tuple(items) => {
                let (items, s) = unmark_vec(items);
                (Value::Tuple(items), s)
            }
            Value::Set(items) => {
                let (items, s) = unmark_vec(items);
                (Value::Set(normalize_set(items)), s)
            }
            Value::Map(m) => {
                let (m, s) = unmark_map(m);
                (Value::Map(m), s)
            }
            Value::Object(m) => {
                let (m, s) = unmark_map(m);
                (Value::Object(m), s)
            }
            v => (v, false),
        }
    }

    /// True when this value or anything inside it is marked sensitive.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => {
                v.iter().any(Value::contains_sensitive)
            }
            Value::Map(m) | Value::Object(m) => m.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    pub fn is_sensitive(&self) -> bool {
        matches!(self, Value::Sensitive(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.unmarked(), Value::Null)
    }

    /// True unless the value itself (not its elements) is unknown.
    pub fn is_known(&self) -> bool {
        !matches!(self.unmarked(), Value::Unknown(_))
    }

    /// True when neither the value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self.unmarked() {
            Value::Unknown(_) => false,
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => {
                v.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// The value's type. `null` has type `any` here (Terraform's nulls are typed; ours are not).
    pub fn type_of(&self) -> Type {
        match self {
            Value::Null => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(items) => Type::list(common_element_type(items)),
            Value::Set(items) => Type::set(common_element_type(items)),
            Value::Tuple(items) => Type::Tuple(items.iter().map(Value::type_of).collect()),
            Value::Map(m) => Type::map(common_element_type(m.values())),
            Value::Object(m) => Type::Object(ObjectType::new(
                m.iter().map(|(k, v)| (k.clone(), v.type_of())).collect(),
            )),
            Value::Unknown(t) => t.clone(),
            Value::Sensitive(v) => v.type_of(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.unmarked() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.unmarked() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self.unmarked() {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Elements of a list, tuple or set.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self.unmarked() {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    /// Entries of a map or object.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self.unmarked() {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// Attribute or key lookup on a map or object.
    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        self.as_entries().and_then(|m| m.get(name))
    }

    /// A short name of the value's kind for messages: `string`, `list`, `object`, `null`.
    pub fn kind_name(&self) -> &'static str {
        match self.unmarked() {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
            Value::Unknown(_) => "unknown value",
            Value::Sensitive(_) => "sensitive value",
        }
    }

    /// A total order used for sets and sorting: by kind (null, bool, number, string, sequences,
    /// maps, unknown), then by content. Marks are ignored.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) => 1,
                Value::Number(_) => 2,
                Value::String(_) => 3,
                Value::List(_) | Value::Tuple(_) | Value::Set(_) => 4,
                Value::Map(_) | Value::Object(_) => 5,
                Value::Unknown(_) => 6,
                Value::Sensitive(v) => rank(v),
            }
        }
        let (a, b) = (self.unmarked(), other.unmarked());
        match (a, b) {
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::Number(x), Value::Number(y)) => x.total_cmp(y),
            (Value::String(x), Value::String(y)) => x.cmp(y),
            (
                Value::List(x) | Value::Tuple(x) | Value::Set(x),
                Value::List(y) | Value::Tuple(y) | Value::Set(y),
            ) => {
                for (p, q) in x.iter().zip(y) {
                    let c = p.total_cmp(q);
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                x.len().cmp(&y.len())
            }
            (Value::Map(x) | Value::Object(x), Value::Map(y) | Value::Object(y)) => {
                for ((ka, va), (kb, vb)) in x.iter().zip(y) {
                    let c = ka.cmp(kb).then_with(|| va.total_cmp(vb));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                x.len().cmp(&y.len())
            }
            _ => rank(a).cmp(&rank(b)),
        }
    }

    /// Terraform's equality (`==`) on known values: structural, ignoring marks, `1 == 1.0`;
    /// lists and tuples with equal elements are equal, as are maps and objects.
    pub fn equals(&self, other: &Value) -> bool {
        match (self.unmarked(), other.unmarked()) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => numbers_equal(*a, *b),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y))
            }
            (Value::List(a) | Value::Tuple(a), Value::List(b) | Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y))
            }
            (Value::Map(a) | Value::Object(a), Value::Map(b) | Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.equals(vb))
            }
            _ => false,
        }
    }

    /// The `==` operator: like [`Value::equals`], but values of different types are never equal,
    /// as in Terraform, where `==` compares type and value (cty's `Value.Equals`): a list is not
    /// equal to a tuple (`tolist([]) == []` is `false`), nor a map to an object. Types are
    /// compared as far as vitrina's values carry them (element types of empty collections are
    /// not tracked).
    pub fn equals_typed(&self, other: &Value) -> bool {
        match (self.unmarked(), other.unmarked()) {
            (Value::List(a), Value::List(b))
            | (Value::Tuple(a), Value::Tuple(b))
            | (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals_typed(y))
            }
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.equals_typed(vb))
            }
            (
                Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::Map(_) | Value::Object(_),
                _,
            )
            | (
                _,
                Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::Map(_) | Value::Object(_),
            ) => false,
            (a, b) => a.equals(b),
        }
    }

    /// Converts JSON into a value: objects become objects, arrays tuples (as `jsondecode` does).
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::Tuple(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts a wholly known value to JSON, marks removed. `None` when something is unknown.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self.unmarked() {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => {
                serde_json::Value::Array(v.iter().map(Value::to_json).collect::<Option<_>>()?)
            }
            Value::Map(m) | Value::Object(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
            Value::Unknown(_) | Value::Sensitive(_) => return None,
        })
    }
}

/// Number equality that ignores binary rounding noise on fractions (`0.1 + 0.2 == 0.3`, as with
/// Terraform's decimal arithmetic); integers compare exactly.
fn numbers_equal(a: f64, b: f64) -> bool {
    if a == b {
        return true;
    }
    if a.fract() == 0.0 && b.fract() == 0.0 {
        return false;
    }
    (a - b).abs() <= a.abs().max(b.abs()) * 4.0 * f64::EPSILON
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        // Exact: the integer part of an f64 below 2^53.
        #[allow(clippy::cast_possible_truncation)]
        let i = n as i64;
        serde_json::Value::from(i)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

fn unmark_vec(items: Vec<Value>) -> (Vec<Value>, bool) {
    let mut any = false;
    let items = items
        .into_iter()
        .map(|v| {
            let (v, s) = v.unmark_deep();
            any |= s;
            v
        })
        .collect();
    (items, any)
}

fn unmark_map(m: BTreeMap<String, Value>) -> (BTreeMap<String, Value>, bool) {
    let mut any = false;
    let m = m
        .into_iter()
        .map(|(k, v)| {
            let (v, s) = v.unmark_deep();
            any |= s;
            (k, v)
        })
        .collect();
    (m, any)
}

/// Sorts and deduplicates set elements.
pub(crate) fn normalize_set(mut items: Vec<Value>) -> Vec<Value> {
    items.sort_by(Value::total_cmp);
    items.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal && a.equals(b));
    items
}

fn common_element_type<'a>(items: impl IntoIterator<Item = &'a Value>) -> Type {
    let mut out: Option<Type> = None;
    for v in items {
        if v.is_null() {
            continue;
        }
        let t = v.type_of();
        match &out {
            None => out = Some(t),
            Some(o) if *o == t => {}
            Some(_) => return Type::Dynamic,
        }
    }
    out.unwrap_or(Type::Dynamic)
}

/// Formats a number as Terraform prints it: integers without a fraction, others in the shortest
/// decimal form that reads back to the same number.
///
/// Fractions are rounded to 15 significant digits when that changes the value by no more than
/// binary floating point's own error, so `0.1 + 0.2` prints `0.3` (Terraform computes in decimal
/// with high precision and prints `0.3` too). Integers are printed exactly.
pub fn format_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    let shortest = format!("{n}");
    if n.fract() == 0.0 || !n.is_finite() {
        return shortest;
    }
    let digits = shortest.chars().filter(char::is_ascii_digit).count();
    if digits <= 15 {
        return shortest;
    }
    let rounded: f64 = format!("{n:.14e}").parse().unwrap_or(n);
    if (rounded - n).abs() <= n.abs() * 4.0 * f64::EPSILON {
        format!("{rounded}")
    } else {
        shortest
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Value::Number(n) => f.debug_tuple("Number").field(n).finish(),
            Value::String(s) => f.debug_tuple("String").field(s).finish(),
            Value::List(v) => f.debug_tuple("List").field(v).finish(),
            Value::Tuple(v) => f.debug_tuple("Tuple").field(v).finish(),
            Value::Set(v) => f.debug_tuple("Set").field(v).finish(),
            Value::Map(m) => f.debug_tuple("Map").field(m).finish(),
            Value::Object(m) => f.debug_tuple("Object").field(m).finish(),
            Value::Unknown(t) => f.debug_tuple("Unknown").field(t).finish(),
            Value::Sensitive(_) => f.write_str("Sensitive(<redacted>)"),
        }
    }
}

impl fmt::Display for Value {
    /// Terraform-console-like rendering: strings quoted, sensitive values as `(sensitive value)`,
    /// unknowns as `(known after apply)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(&format_number(*n)),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) | Value::Object(m) => {
                f.write_str("{")?;
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?} = {x}")?;
                }
                f.write_str("}")
            }
            Value::Unknown(_) => f.write_str("(known after apply)"),
            Value::Sensitive(_) => f.write_str("(sensitive value)"),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<i64> for Value {
    #[allow(clippy::cast_precision_loss)]
    fn from(n: i64) -> Self {
        Value::Number(n as f64)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_terraform() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!(format_number(1e21), "1000000000000000000000");
        assert_eq!(format_number(2.5), "2.5");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(format_number(9_007_199_254_740_992.0), "9007199254740992");
    }

    #[test]
    fn sets_are_sorted_and_deduplicated() {
        let s = Value::set(["b".into(), "a".into(), "b".into()]);
        assert_eq!(s, Value::Set(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn marks() {
        let v = Value::List(vec![Value::from("a").mark_sensitive(), "b".into()]);
        assert!(v.contains_sensitive());
        assert!(!v.is_sensitive());
        let (plain, marked) = v.unmark_deep();
        assert!(marked);
        assert!(!plain.contains_sensitive());
        assert_eq!(
            Value::from(1.0).mark_sensitive().to_string(),
            "(sensitive value)"
        );
    }

    #[test]
    fn unknowns() {
        let v = Value::Tuple(vec![1.0.into(), Value::Unknown(Type::String)]);
        assert!(v.is_known());
        assert!(!v.is_wholly_known());
        assert_eq!(v.type_of(), Type::Tuple(vec![Type::Number, Type::String]));
    }

    #[test]
    fn equality_ignores_marks_and_structure_kind() {
        assert!(Value::from(1.0).equals(&Value::from(1.0).mark_sensitive()));
        assert!(Value::List(vec!["a".into()]).equals(&Value::Tuple(vec!["a".into()])));
        assert!(!Value::from("1").equals(&Value::from(1.0)));
        assert!(Value::from(0.1 + 0.2).equals(&Value::from(0.3)));
        assert!(!Value::from(9_007_199_254_740_992.0).equals(&Value::from(9_007_199_254_740_994.0)));
    }
}
