//! Type constraints and conversion, with the examples of Terraform's documentation
//! (language/expressions/type-constraints, "Optional Object Type Attributes" and "Conversion of
//! Primitive Types").

use vitrina_hcl::eval::{evaluate_constant, EvalContext};
use vitrina_hcl::{convert, evaluate, parse, parse_expression, parse_type_constraint, Type, Value};

fn ty(src: &str) -> Type {
    let e = parse_expression("t", src).expect("parses");
    parse_type_constraint(&e).expect("valid type")
}

fn value(src: &str) -> Value {
    let e = parse_expression("v", src).expect("parses");
    evaluate_constant(&e).expect("evaluates")
}

#[test]
fn optional_attribute_defaults() {
    // type-constraints#optional-object-type-attributes, first example.
    let t = ty("object({ a = string, b = optional(string), c = optional(number, 127) })");
    assert_eq!(
        convert(&value("{ a = \"foo\" }"), &t),
        Ok(value("{ a = \"foo\", b = null, c = 127 }"))
    );
}

#[test]
fn nested_optional_defaults_from_the_documentation() {
    // type-constraints#example-nested-structures-with-optional-attributes-and-defaults
    let text = r#"
variable "buckets" {
  type = list(object({
    name    = string
    enabled = optional(bool, true)
    website = optional(object({
      index_document = optional(string, "index.html")
      error_document = optional(string, "error.html")
      routing_rules  = optional(string)
    }), {})
  }))
}
"#;
    let m = parse("variables.tf", text).expect("parses");
    let t = m.variables[0]
        .type_constraint
        .clone()
        .expect("has a type")
        .expect("valid");
    let given = value(
        r#"[
          { name = "production", website = { routing_rules = "[{\"Condition\": 1}]" } },
          { name = "archived", enabled = false },
          { name = "docs", website = { index_document = "index.txt", error_document = "error.txt" } },
        ]"#,
    );
    let want = value(
        r#"[
          { name = "production", enabled = true, website = { index_document = "index.html", error_document = "error.html", routing_rules = "[{\"Condition\": 1}]" } },
          { name = "archived", enabled = false, website = { index_document = "index.html", error_document = "error.html", routing_rules = null } },
          { name = "docs", enabled = true, website = { index_document = "index.txt", error_document = "error.txt", routing_rules = null } },
        ]"#,
    );
    let got = convert(&given, &t).expect("converts");
    assert!(got.equals(&want), "got {got}\nwant {want}");
}

#[test]
fn primitive_conversions() {
    // type-constraints#conversion-of-primitive-types
    assert_eq!(
        convert(&value("true"), &Type::String),
        Ok(Value::from("true"))
    );
    assert_eq!(
        convert(&value("\"false\""), &Type::Bool),
        Ok(Value::Bool(false))
    );
    assert_eq!(convert(&value("15"), &Type::String), Ok(Value::from("15")));
    assert_eq!(
        convert(&value("\"15\""), &Type::Number),
        Ok(Value::from(15.0))
    );
    assert!(convert(&value("\"yes\""), &Type::Bool).is_err());
}

#[test]
fn collection_conversions() {
    // type-constraints#conversion-of-complex-types
    let t = ty("list(string)");
    assert_eq!(
        convert(&value("[\"a\", 15, true]"), &t),
        Ok(Value::List(vec!["a".into(), "15".into(), "true".into()]))
    );
    let t = ty("map(number)");
    assert_eq!(
        convert(&value("{ a = \"1\", b = 2 }"), &t),
        Ok(Value::map([
            ("a", Value::from(1.0)),
            ("b", Value::from(2.0))
        ]))
    );
    let t = ty("set(string)");
    assert_eq!(
        convert(&value("[\"b\", \"a\", \"b\"]"), &t),
        Ok(Value::Set(vec!["a".into(), "b".into()]))
    );
    let t = ty("tuple([string, number, bool])");
    assert_eq!(
        convert(&value("[\"a\", \"2\", \"true\"]"), &t),
        Ok(Value::Tuple(vec!["a".into(), 2.0.into(), true.into()]))
    );
    assert!(convert(&value("[\"a\"]"), &t).is_err());
    let t = ty("object({ name = string, port = number })");
    let e = convert(&value("{ name = \"x\" }"), &t).expect_err("port missing");
    assert!(e.to_string().contains("`port` is required"), "{e}");
}

#[test]
fn unknown_and_sensitive_values_convert() {
    let t = ty("list(number)");
    assert_eq!(
        convert(&Value::unknown(), &t),
        Ok(Value::Unknown(t.clone()))
    );
    let secret = Value::Tuple(vec!["1".into()]).mark_sensitive();
    assert_eq!(
        convert(&secret, &t),
        Ok(Value::List(vec![1.0.into()]).mark_sensitive())
    );
    // A converted variable feeds expressions as usual.
    let mut ctx = EvalContext::new();
    ctx.set_variable(
        "var",
        Value::object([(
            "ports",
            convert(&value("[\"80\", 443]"), &t).expect("converts"),
        )]),
    );
    let e = parse_expression("t", "var.ports[0] + 1").expect("parses");
    assert_eq!(evaluate(&e, &ctx), Ok(Value::from(81.0)));
}
