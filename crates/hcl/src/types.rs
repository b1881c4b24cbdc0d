//! Terraform's type system: types and type constraints (`list(string)`, `object({…})` with
//! `optional(T, default)`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use hcl_edit::expr::{Expression, ObjectKey};

use crate::value::Value;

/// A Terraform type, or a type constraint when it contains [`Type::Dynamic`] (`any`) or object
/// attributes marked optional.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// `any`: a placeholder that any type satisfies (cty's dynamic pseudo-type).
    Dynamic,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    Object(ObjectType),
}

/// The attributes of an object type. `optional` lists attributes declared with `optional(T)` or
/// `optional(T, default)` (type constraints only), with their default when one was given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectType {
    pub attrs: BTreeMap<String, Type>,
    pub optional: BTreeMap<String, Option<Value>>,
}

impl ObjectType {
    /// An object type without optional attributes.
    pub fn new(attrs: BTreeMap<String, Type>) -> Self {
        ObjectType {
            attrs,
            optional: BTreeMap::new(),
        }
    }
}

impl Type {
    /// `object({…})` from attribute names and types.
    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Type)>) -> Type {
        Type::Object(ObjectType::new(
            attrs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        ))
    }

    /// `list(T)`.
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }

    /// `set(T)`.
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }

    /// `map(T)`.
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }

    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::String | Type::Number | Type::Bool)
    }

    /// True for list, set and tuple types (what `for`, `length`, splats treat as sequences).
    pub fn is_sequence(&self) -> bool {
        matches!(self, Type::List(_) | Type::Set(_) | Type::Tuple(_))
    }

    /// True when the type contains no `any`.
    pub fn is_concrete(&self) -> bool {
        match self {
            Type::Dynamic => false,
            Type::String | Type::Number | Type::Bool => true,
            Type::List(t) | Type::Set(t) | Type::Map(t) => t.is_concrete(),
            Type::Tuple(ts) => ts.iter().all(Type::is_concrete),
            Type::Object(o) => o.attrs.values().all(Type::is_concrete),
        }
    }

    /// A short name for messages: `string`, `list of number`, `object`.
    pub fn friendly_name(&self) -> String {
        match self {
            Type::Dynamic => "any".into(),
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::List(t) => format!("list of {}", t.friendly_name()),
            Type::Set(t) => format!("set of {}", t.friendly_name()),
            Type::Map(t) => format!("map of {}", t.friendly_name()),
            Type::Tuple(_) => "tuple".into(),
            Type::Object(_) => "object".into(),
        }
    }
}

impl fmt::Display for Type {
    /// Terraform's type-expression syntax: `list(string)`, `object({a=number})`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Dynamic => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Object(o) => {
                f.write_str("object({")?;
                for (i, (k, t)) in o.attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match o.optional.get(k) {
                        Some(Some(d)) => write!(f, "{k}=optional({t}, {d})")?,
                        Some(None) => write!(f, "{k}=optional({t})")?,
                        None => write!(f, "{k}={t}")?,
                    }
                }
                f.write_str("})")
            }
        }
    }
}

/// A type expression that is not a valid type constraint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TypeError {
    /// Byte range of the offending part of the type expression, in the parsed text.
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
}

impl TypeError {
    fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        TypeError {
            span,
            message: message.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// A diagnostic for this error in `file` with the caller's stable `code`.
    pub fn to_diagnostic(&self, file: &str, code: &'static str) -> vitrina_diagnostics::Diagnostic {
        let d = vitrina_diagnostics::Diagnostic::error(
            code,
            vitrina_diagnostics::Span::new(file, self.span.clone()),
            self.message.clone(),
        );
        match &self.help {
            Some(h) => d.with_help(h.clone()),
            None => d,
        }
    }
}

const TYPE_HELP: &str = "a type is `string`, `number`, `bool`, `any`, `list(T)`, `set(T)`, \
                         `map(T)`, `tuple([T, …])` or `object({name = T, …})`";

/// Maximum nesting depth of a type expression.
const MAX_TYPE_DEPTH: usize = 64;

/// Parses a type constraint expression such as `map(object({ size = optional(number, 10) }))`.
///
/// Defaults of `optional(T, default)` must be constant expressions; they are evaluated with no
/// variables and converted to `T`.
pub fn parse_type_constraint(expr: &Expression) -> Result<Type, TypeError> {
    parse_type(expr, false, 0)
}

fn span_of(e: &impl hcl_edit::Span) -> Range<usize> {
    e.span().unwrap_or(0..0)
}

fn parse_type(expr: &Expression, in_object: bool, depth: usize) -> Result<Type, TypeError> {
    let span = span_of(expr);
    if depth > MAX_TYPE_DEPTH {
        return Err(TypeError::new(span, "type expression is nested too deeply"));
    }
    match expr {
        Expression::Variable(v) => match v.value().as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Dynamic),
            name @ ("list" | "set" | "map" | "tuple" | "object") => Err(TypeError::new(
                span,
                format!("the `{name}` type constructor requires an argument"),
            )
            .help(format!(
                "write `{name}({})`",
                match name {
                    "tuple" => "[string, number]",
                    "object" => "{ name = string }",
                    _ => "string",
                }
            ))),
            other => Err(TypeError::new(span, format!("`{other}` is not a type"))
                .help(format!("{TYPE_HELP}{}", did_you_mean(other)))),
        },
        Expression::String(s) => Err(TypeError::new(
            span,
            format!("quoted type `\"{}\"` is not allowed", s.value()),
        )
        .help("remove the quotes: write `string`, not `\"string\"`")),
        Expression::Parenthesis(p) => parse_type(p.inner(), in_object, depth + 1),
        Expression::FuncCall(call) => {
            let name = call.name.name.value().as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let one_arg = |what: &str| -> Result<&Expression, TypeError> {
                match args.as_slice() {
                    [a] => Ok(*a),
                    _ => Err(TypeError::new(
                        span.clone(),
                        format!("the `{name}` type constructor takes exactly one argument, {what}"),
                    )
                    .help(TYPE_HELP)),
                }
            };
            match name {
                "list" | "set" | "map" => {
                    let inner = parse_type(one_arg("the element type")?, false, depth + 1)?;
                    Ok(match name {
                        "list" => Type::list(inner),
                        "set" => Type::set(inner),
                        _ => Type::map(inner),
                    })
                }
                "tuple" => {
                    let arg = one_arg("a list of element types")?;
                    let Expression::Array(items) = arg else {
                        return Err(TypeError::new(
                            span_of(arg),
                            "the `tuple` type constructor takes a list of types",
                        )
                        .help("write `tuple([string, number])`"));
                    };
                    let mut ts = Vec::new();
                    for item in items.iter() {
                        ts.push(parse_type(item, false, depth + 1)?);
                    }
                    Ok(Type::Tuple(ts))
                }
                "object" => {
                    let arg = one_arg("an object of attribute types")?;
                    let Expression::Object(obj) = arg else {
                        return Err(TypeError::new(
                            span_of(arg),
                            "the `object` type constructor takes an object of attribute types",
                        )
                        .help("write `object({ name = string, size = number })`"));
                    };
                    let mut out = ObjectType::default();
                    for (key, value) in obj.iter() {
                        let key_name = match key {
                            ObjectKey::Ident(id) => id.value().to_string(),
                            ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
                            ObjectKey::Expression(Expression::Variable(v)) => v.value().to_string(),
                            ObjectKey::Expression(e) => {
                                return Err(TypeError::new(
                                    span_of(e),
                                    "object type attribute names must be identifiers",
                                ))
                            }
                        };
                        let vexpr = value.expr();
                        if let Some((t, default)) = parse_optional(vexpr, depth)? {
                            out.optional.insert(key_name.clone(), default);
                            out.attrs.insert(key_name, t);
                        } else {
                            out.attrs
                                .insert(key_name, parse_type(vexpr, true, depth + 1)?);
                        }
                    }
                    Ok(Type::Object(out))
                }
                "optional" => Err(TypeError::new(
                    span,
                    if in_object {
                        "`optional` is only allowed directly as an object attribute's type"
                    } else {
                        "`optional` is only allowed inside `object({…})`"
                    },
                )
                .help("write `object({ size = optional(number, 10) })`")),
                other => Err(TypeError::new(
                    span_of(&call.name.name),
                    format!("`{other}` is not a type constructor"),
                )
                .help(TYPE_HELP)),
            }
        }
        _ => Err(TypeError::new(span, "invalid type expression").help(TYPE_HELP)),
    }
}

/// `optional(T)` / `optional(T, default)`: the type and the evaluated default.
fn parse_optional(
    expr: &Expression,
    depth: usize,
) -> Result<Option<(Type, Option<Value>)>, TypeError> {
    let Expression::FuncCall(call) = expr else {
        return Ok(None);
    };
    if call.name.name.value().as_str() != "optional" || call.name.is_namespaced() {
        return Ok(None);
    }
    let args: Vec<&Expression> = call.args.iter().collect();
    match args.as_slice() {
        [t] => Ok(Some((parse_type(t, false, depth + 1)?, None))),
        [t, d] => {
            let ty = parse_type(t, false, depth + 1)?;
            let value = crate::eval::evaluate_constant(d).map_err(|e| {
                TypeError::new(
                    span_of(*d),
                    format!("invalid default value for optional attribute: {e}"),
                )
            })?;
            let value = crate::convert::convert(&value, &ty).map_err(|e| {
                TypeError::new(
                    span_of(*d),
                    format!("invalid default value for optional attribute: {e}"),
                )
            })?;
            Ok(Some((ty, Some(value))))
        }
        _ => Err(TypeError::new(
            span_of(expr),
            "`optional` takes a type and an optional default value",
        )
        .help("write `optional(number)` or `optional(number, 10)`")),
    }
}

fn did_you_mean(name: &str) -> String {
    const NAMES: [&str; 9] = [
        "string", "number", "bool", "any", "list", "set", "map", "tuple", "object",
    ];
    NAMES
        .iter()
        .find(|n| close(name, n))
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default()
}

fn close(a: &str, b: &str) -> bool {
    // Cheap similarity: same length ±1 and at most two differing characters by position, or a
    // case-insensitive match.
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let common_prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let common_suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    common_prefix + common_suffix + 1 >= a.len().max(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(src: &str) -> Result<Type, TypeError> {
        let e = crate::parse::parse_expression("t", src).expect("parses");
        parse_type_constraint(&e)
    }

    #[test]
    fn primitives_and_collections() {
        assert_eq!(ty("string"), Ok(Type::String));
        assert_eq!(ty("any"), Ok(Type::Dynamic));
        assert_eq!(ty("list(number)"), Ok(Type::list(Type::Number)));
        assert_eq!(ty("map(set(bool))"), Ok(Type::map(Type::set(Type::Bool))));
        assert_eq!(
            ty("tuple([string, number])"),
            Ok(Type::Tuple(vec![Type::String, Type::Number]))
        );
        assert_eq!(
            ty("object({a = string, b = list(any)})"),
            Ok(Type::object([
                ("a", Type::String),
                ("b", Type::list(Type::Dynamic))
            ]))
        );
    }

    #[test]
    fn optional_attributes() {
        let t =
            ty("object({ size = optional(number, 10), name = optional(string) })").expect("valid");
        let Type::Object(o) = &t else {
            panic!("object expected")
        };
        assert_eq!(o.optional.get("size"), Some(&Some(Value::Number(10.0))));
        assert_eq!(o.optional.get("name"), Some(&None));
        assert_eq!(
            t.to_string(),
            "object({name=optional(string), size=optional(number, 10)})"
        );
    }

    #[test]
    fn errors_have_spans_and_help() {
        let src = "list(strng)";
        let e = ty(src).expect_err("invalid");
        assert_eq!(&src[e.span.clone()], "strng");
        assert!(e
            .help
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `string`"));
        assert!(ty("\"string\"").is_err());
        assert!(ty("list").is_err());
        assert!(ty("list(string, number)").is_err());
        assert!(ty("optional(string)").is_err());
        assert!(ty("tuple(string)").is_err());
        assert!(ty("object({a = optional(number, \"x\")})").is_err());
    }
}
