//! Evaluator behaviour: operators, templates, for expressions, splats, unknowns, marks.

use vitrina_hcl::eval::{evaluate, EvalContext};
use vitrina_hcl::{parse, parse_expression, Type, Value};

fn ctx() -> EvalContext {
    let mut c = EvalContext::new();
    c.set_variable(
        "var",
        Value::object([
            ("name", Value::from("web")),
            ("n", Value::from(3.0)),
            ("ports", Value::List(vec![80.0.into(), 443.0.into()])),
            ("secret", Value::from("hunter2").mark_sensitive()),
            ("later", Value::Unknown(Type::String)),
            ("nothing", Value::Null),
            (
                "m",
                Value::map([("b", Value::from(1.0)), ("a", Value::from(2.0))]),
            ),
        ]),
    );
    c.set_variable(
        "vkcs_compute_instance",
        Value::object([(
            "vm",
            Value::Tuple(vec![
                Value::object([("id", Value::from("i-0")), ("ip", Value::from("10.0.0.1"))]),
                Value::object([("id", Value::from("i-1")), ("ip", Value::from("10.0.0.2"))]),
            ]),
        )]),
    );
    c.set_variable("count", Value::object([("index", Value::from(1.0))]));
    c
}

fn eval(src: &str) -> Value {
    let e = parse_expression("t", src).expect("parses");
    evaluate(&e, &ctx()).unwrap_or_else(|err| panic!("{src}: {err}"))
}

fn eval_err(src: &str) -> String {
    let e = parse_expression("t", src).expect("parses");
    evaluate(&e, &ctx()).expect_err(src).message
}

#[test]
fn arithmetic_and_conversion() {
    assert_eq!(eval("\"1\" + 2"), Value::from(3.0));
    assert_eq!(eval("-5 % 3"), Value::from(-2.0));
    assert_eq!(eval("1 == 1.0"), Value::Bool(true));
    assert_eq!(eval("0.1 + 0.2 == 0.3"), Value::Bool(true));
    assert_eq!(eval("\"${0.1 + 0.2}\""), Value::from(0.1 + 0.2));
    assert_eq!(eval("\"x${0.1 + 0.2}\""), Value::from("x0.3"));
    assert_eq!(eval("true ? 1 : \"x\""), Value::from("1"));
    assert!(eval_err("1 / 0").contains("division by zero"));
    assert!(eval_err("1 % 0").contains("modulo by zero"));
    assert_eq!(eval("!\"true\""), Value::Bool(false));
}

#[test]
fn references_and_indexing() {
    assert_eq!(eval("var.name"), Value::from("web"));
    assert_eq!(
        eval("vkcs_compute_instance.vm[count.index].ip"),
        Value::from("10.0.0.2")
    );
    assert_eq!(
        eval("vkcs_compute_instance.vm[*].id"),
        Value::Tuple(vec!["i-0".into(), "i-1".into()])
    );
    assert_eq!(
        eval("vkcs_compute_instance.vm.*.id"),
        Value::Tuple(vec!["i-0".into(), "i-1".into()])
    );
    assert_eq!(eval("var.nothing[*]"), Value::Tuple(vec![]));
    assert!(eval_err("var.ports[5]").contains("out of range"));
    assert!(eval_err("var.nope").contains("no attribute `nope`"));
    assert!(eval_err("nope.x").contains("unknown variable"));
}

#[test]
fn templates_and_heredocs() {
    assert_eq!(eval("\"${var.name}-${var.n}\""), Value::from("web-3"));
    assert_eq!(
        eval("\"${var.ports}\""),
        Value::List(vec![80.0.into(), 443.0.into()])
    );
    assert_eq!(
        eval("\"%{ for p in var.ports ~} ${p} %{~ endfor }\""),
        Value::from("80443")
    );
    assert_eq!(
        eval("\"%{ if var.n > 2 }big%{ else }small%{ endif }\""),
        Value::from("big")
    );
    assert_eq!(
        eval("<<-EOT\n    a\n      ${var.name}\n    EOT"),
        Value::from("a\n  web\n")
    );
    assert!(eval_err("\"x${var.nothing}\"").contains("null"));
    assert_eq!(eval("\"${var.nothing}\""), Value::Null);
}

#[test]
fn for_expressions() {
    assert_eq!(
        eval("[for k, v in var.m : \"${k}=${v}\"]"),
        Value::Tuple(vec!["a=2".into(), "b=1".into()])
    );
    assert_eq!(
        eval("{ for p in var.ports : tostring(p) => p if p > 100 }"),
        Value::object([("443", Value::from(443.0))])
    );
    assert_eq!(
        eval("{ for s in [\"a\", \"bb\", \"cc\"] : length(s) => s... }"),
        Value::object([
            ("1", Value::Tuple(vec!["a".into()])),
            ("2", Value::Tuple(vec!["bb".into(), "cc".into()])),
        ])
    );
    assert!(eval_err("{ for s in [\"a\", \"a\"] : s => s }").contains("duplicate key"));
}

#[test]
fn unknowns_propagate() {
    assert_eq!(eval("var.later"), Value::Unknown(Type::String));
    assert_eq!(eval("\"x-${var.later}\""), Value::Unknown(Type::String));
    assert_eq!(eval("var.later == \"a\""), Value::Unknown(Type::Bool));
    assert_eq!(eval("length(var.later)"), Value::Unknown(Type::Number));
    assert_eq!(eval("upper(var.later)"), Value::Unknown(Type::String));
    assert_eq!(
        eval("var.later != null ? 1 : 2"),
        Value::Unknown(Type::Number)
    );
    assert_eq!(eval("true || var.later == \"x\""), Value::Bool(true));
    assert_eq!(eval("length([var.later, 1])"), Value::from(2.0));
}

#[test]
fn sensitive_marks_propagate() {
    assert!(eval("var.secret").is_sensitive());
    assert!(eval("\"pw=${var.secret}\"").is_sensitive());
    assert!(eval("upper(var.secret)").is_sensitive());
    assert!(eval("[var.secret]").contains_sensitive());
    assert!(eval("length(var.secret) + 1").is_sensitive());
    assert!(!eval("nonsensitive(var.secret)").contains_sensitive());
}

#[test]
fn lazy_try_and_can() {
    assert_eq!(eval("try(var.ports[9], \"n/a\")"), Value::from("n/a"));
    assert_eq!(eval("try(var.later, \"n/a\")"), Value::unknown());
    assert_eq!(eval("can(var.ports[9])"), Value::Bool(false));
    assert_eq!(eval("can(var.ports[0])"), Value::Bool(true));
}

#[test]
fn function_errors_name_argument_and_position() {
    let msg = eval_err("substr(\"abc\", \"x\", 1)");
    assert!(msg.contains("`substr`"), "{msg}");
    assert!(msg.contains("argument 2 (`offset`)"), "{msg}");
    let msg = eval_err("upper()");
    assert!(msg.contains("takes 1 argument"), "{msg}");
}

#[test]
fn block_attributes_evaluate_from_a_module() {
    let text = "locals {\n  x = \"${var.name}-${count.index}\"\n}\n";
    let m = parse("m.tf", text).expect("parses");
    assert_eq!(
        evaluate(&m.locals[0].expr, &ctx()),
        Ok(Value::from("web-1"))
    );
}

#[test]
fn traversal_keeps_marks_and_does_not_copy_whole_collections() {
    let mut c = ctx();
    let instances: Vec<Value> = (0..3000)
        .map(|i| Value::object([("id", Value::from(format!("i-{i}")))]))
        .collect();
    c.set_variable(
        "null_resource",
        Value::object([("x", Value::Tuple(instances))]),
    );
    c.set_variable(
        "secret_obj",
        Value::object([("a", Value::from(1.0))]).mark_sensitive(),
    );
    let e = parse_expression("t", "null_resource.x[count.index + 1499].id").expect("parses");
    let started = std::time::Instant::now();
    for _ in 0..3000 {
        assert_eq!(evaluate(&e, &c), Ok(Value::from("i-1500")));
    }
    // Copying the 3000-element tuple per evaluation would take far longer than this.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let e = parse_expression("t", "secret_obj.a").expect("parses");
    assert_eq!(evaluate(&e, &c), Ok(Value::from(1.0).mark_sensitive()));
    let e = parse_expression("t", "secret_obj[\"a\"]").expect("parses");
    assert_eq!(evaluate(&e, &c), Ok(Value::from(1.0).mark_sensitive()));
    let e = parse_expression("t", "null_resource.x[\"1\"].id").expect("parses");
    assert_eq!(evaluate(&e, &c), Ok(Value::from("i-1")));
}

#[test]
fn error_spans_point_into_the_file() {
    let text = "locals {\n  a = upper(var.name)\n  b = 10 / (var.n - 3)\n  c = var.ports[7]\n}\n";
    let m = parse("deployment/main.tf", text).expect("parses");
    let err = evaluate(&m.locals[1].expr, &ctx()).expect_err("division by zero");
    let span = err.span.clone().expect("has a span");
    assert_eq!(&text[span], "10 / (var.n - 3)");
    let d = err.to_diagnostic("deployment/main.tf", "manifest/eval", 0..0);
    let mut sources = vitrina_diagnostics::SourceMap::new();
    sources.add("deployment/main.tf", text);
    assert_eq!(sources.line_col(&d.span), (3, 7));
    let err = evaluate(&m.locals[2].expr, &ctx()).expect_err("out of range");
    assert_eq!(&text[err.span.expect("span")], "[7]");
}

#[test]
fn indented_heredoc_with_directives_dedents_their_bodies() {
    let src = "<<-EOT\n    hosts:\n    %{ for p in var.ports ~}\n      - ${p}\n    %{ endfor ~}\n    end\n  EOT";
    // `~}` strips the newline and the indentation after it, as in HCL.
    assert_eq!(eval(src), Value::from("hosts:\n- 80\n- 443\nend\n"));
    let src = "<<-EOT\n    hosts:\n    %{ for p in var.ports }\n      - ${p}\n    %{ endfor }\n    end\n  EOT";
    assert_eq!(
        eval(src),
        Value::from("hosts:\n\n  - 80\n\n  - 443\n\nend\n")
    );
}

#[test]
fn errors_never_show_sensitive_values() {
    for src in [
        "var.secret + 1",
        "!var.secret",
        "var.secret ? 1 : 2",
        "tonumber(var.secret)",
        "parseint(var.secret, 10)",
        "var.m[var.secret]",
        "[for x in [1] : x if var.secret]",
    ] {
        let msg = eval_err(src);
        assert!(!msg.contains("hunter2"), "{src}: {msg}");
    }
}

#[test]
fn base64gzip_round_trips() {
    use std::io::Read as _;
    let v = eval("base64gzip(\"hello world\")");
    let b64 = v.as_str().expect("string");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .expect("gzip");
    assert_eq!(text, "hello world");
}
