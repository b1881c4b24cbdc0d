//! Conditions of VK display files (`groups[].when`, `entities[].when`): one implementation that
//! the wizard, the API and `package validate` all use.
//!
//! ```yaml
//! when: {in: {key: {param: tier}, values: [{const: pro}, {param: other}]}}
//! ```
//! `in` holds when the key's value equals one of the values; `not_in` when it equals none.
//! Values compare by meaning: `1` equals `1.0`, and a string equals a number or boolean whose
//! text it is (`"true"` equals `true`), because YAML authors quote freely.

use std::fmt;

use crate::Value;

/// `in` or `not_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    In,
    NotIn,
}

/// One side of a comparison: an option's current answer or a constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Param(String),
    Const(Value),
}

/// A parsed `when`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub op: Op,
    pub key: Operand,
    pub values: Vec<Operand>,
}

/// Why a `when` is not a condition. `package validate` reports the same cases with spans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("`when` must be a mapping with exactly one of `in`, `not_in`")]
    Shape,
    #[error("`{0}` is not a condition; use `in` or `not_in`")]
    Op(String),
    #[error("a condition needs `key` and a non-empty list `values`")]
    Body,
    #[error("an operand is `{{param: OPTION}}` or `{{const: VALUE}}`")]
    Operand,
}

impl Condition {
    /// Reads a condition from its JSON form (as the catalog JSON and the YAML loader give it).
    pub fn from_json(v: &serde_json::Value) -> Result<Condition, WhenError> {
        let map = v.as_object().ok_or(WhenError::Shape)?;
        let mut entries = map.iter();
        let (Some((op, body)), None) = (entries.next(), entries.next()) else {
            return Err(WhenError::Shape);
        };
        let op = match op.as_str() {
            "in" => Op::In,
            "not_in" => Op::NotIn,
            other => return Err(WhenError::Op(other.to_owned())),
        };
        let body = body.as_object().ok_or(WhenError::Body)?;
        if body.keys().any(|k| k != "key" && k != "values") {
            return Err(WhenError::Body);
        }
        let key = operand(body.get("key").ok_or(WhenError::Body)?)?;
        let values = body
            .get("values")
            .and_then(|v| v.as_array())
            .filter(|a| !a.is_empty())
            .ok_or(WhenError::Body)?
            .iter()
            .map(operand)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Condition { op, key, values })
    }

    /// The options this condition reads.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.key)
            .chain(&self.values)
            .filter_map(|o| match o {
                Operand::Param(p) => Some(p.as_str()),
                Operand::Const(_) => None,
            })
    }

    /// Whether the condition holds, given each option's current answer (`None`: unanswered,
    /// which equals nothing, so `in` is false and `not_in` true).
    pub fn evaluate(&self, answer: impl Fn(&str) -> Option<Value>) -> bool {
        let resolve = |o: &Operand| match o {
            Operand::Param(p) => answer(p),
            Operand::Const(v) => Some(v.clone()),
        };
        let found = resolve(&self.key).is_some_and(|k| {
            self.values
                .iter()
                .filter_map(resolve)
                .any(|v| same_value(&k, &v))
        });
        match self.op {
            Op::In => found,
            Op::NotIn => !found,
        }
    }
}

impl fmt::Display for Condition {
    /// `tier in [pro, enterprise]`, for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |o: &Operand| match o {
            Operand::Param(p) => p.clone(),
            Operand::Const(v) => format!("{v:?}").replace("Value::", ""),
        };
        let op = match self.op {
            Op::In => "in",
            Op::NotIn => "not in",
        };
        let values: Vec<String> = self.values.iter().map(show).collect();
        write!(f, "{} {op} [{}]", show(&self.key), values.join(", "))
    }
}

fn operand(v: &serde_json::Value) -> Result<Operand, WhenError> {
    let map = v.as_object().ok_or(WhenError::Operand)?;
    let mut entries = map.iter();
    let (Some((k, v)), None) = (entries.next(), entries.next()) else {
        return Err(WhenError::Operand);
    };
    match (k.as_str(), v) {
        ("param", serde_json::Value::String(p)) => Ok(Operand::Param(p.clone())),
        ("const", c) => Ok(Operand::Const(json_value(c).ok_or(WhenError::Operand)?)),
        _ => Err(WhenError::Operand),
    }
}

/// A JSON scalar as a form value; `None` for null, arrays and objects.
pub fn json_value(v: &serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Integer)
            .or_else(|| n.as_f64().map(Value::Number)),
        serde_json::Value::String(s) => Some(Value::String(s.clone())),
        _ => None,
    }
}

/// Equality by meaning (see the module's documentation).
pub fn same_value(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Integer(x), Integer(y)) => x == y,
        (Integer(i), Number(n)) | (Number(n), Integer(i)) => (*i as f64) == *n,
        (Number(x), Number(y)) => x == y,
        (Bool(x), Bool(y)) => x == y,
        (String(x), String(y)) => x == y,
        (String(s), other) | (other, String(s)) => match other {
            Bool(b) => s.trim() == if *b { "true" } else { "false" },
            Integer(i) => s.trim().parse::<i64>().is_ok_and(|p| p == *i),
            Number(n) => s.trim().parse::<f64>().is_ok_and(|p| p == *n),
            String(_) => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answers<'a>(pairs: &'a [(&'a str, Value)]) -> impl Fn(&str) -> Option<Value> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn in_and_not_in_by_meaning() {
        let c = Condition::from_json(&json!(
            {"in": {"key": {"param": "tier"}, "values": [{"const": "pro"}, {"const": "max"}]}}
        ))
        .unwrap();
        assert_eq!(c.params().collect::<Vec<_>>(), ["tier"]);
        assert!(c.evaluate(answers(&[("tier", Value::String("pro".into()))])));
        assert!(!c.evaluate(answers(&[("tier", Value::String("free".into()))])));
        assert!(!c.evaluate(answers(&[])));
        let n = Condition::from_json(&json!(
            {"not_in": {"key": {"param": "ha"}, "values": [{"const": "true"}]}}
        ))
        .unwrap();
        assert!(!n.evaluate(answers(&[("ha", Value::Bool(true))])));
        assert!(n.evaluate(answers(&[("ha", Value::Bool(false))])));
        assert!(n.evaluate(answers(&[])));
    }

    #[test]
    fn values_may_be_params_and_numbers_compare_by_value() {
        let c = Condition::from_json(&json!(
            {"in": {"key": {"const": 3}, "values": [{"param": "nodes"}]}}
        ))
        .unwrap();
        assert_eq!(c.params().collect::<Vec<_>>(), ["nodes"]);
        assert!(c.evaluate(answers(&[("nodes", Value::Number(3.0))])));
        assert!(c.evaluate(answers(&[("nodes", Value::String("3".into()))])));
        assert!(!c.evaluate(answers(&[("nodes", Value::Integer(5))])));
    }

    #[test]
    fn malformed_conditions_are_refused() {
        for bad in [
            json!([]),
            json!({}),
            json!({"in": {}, "not_in": {}}),
            json!({"equals": {"key": {"param": "a"}, "values": [{"const": 1}]}}),
            json!({"in": {"key": {"param": "a"}, "values": []}}),
            json!({"in": {"key": {"param": "a"}}}),
            json!({"in": {"key": {"name": "a"}, "values": [{"const": 1}]}}),
            json!({"in": {"key": {"param": "a"}, "values": [{"const": [1]}]}}),
            json!({"in": {"key": {"param": "a"}, "values": [{"const": 1}], "x": 1}}),
        ] {
            assert!(Condition::from_json(&bad).is_err(), "{bad}");
        }
    }
}
