//! The acceptance table: expressions with the results Terraform's documentation gives for them
//! (`tests/acceptance.txt`, one case per line, each under the documentation section it cites).

use std::path::Path;

use vitrina_hcl::eval::{evaluate, evaluate_constant, EvalContext};
use vitrina_hcl::{parse_expression, Type, Value};

const TABLE: &str = include_str!("acceptance.txt");

fn context() -> EvalContext {
    let mut c = EvalContext::new();
    c.set_base_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    c.set_variable(
        "var",
        Value::object([
            ("s", Value::from("hello")),
            ("n", Value::from(5.0)),
            ("l", Value::List(vec!["a".into(), "b".into(), "c".into()])),
            (
                "m",
                Value::map([("a", Value::from(1.0)), ("b", Value::from(2.0))]),
            ),
            ("unk", Value::Unknown(Type::String)),
            ("unkl", Value::Unknown(Type::list(Type::String))),
            ("unkn", Value::Unknown(Type::Number)),
            ("secret", Value::from("s3cr3t").mark_sensitive()),
            ("sn", Value::from(7.0).mark_sensitive()),
            ("null", Value::Null),
            (
                "objs",
                Value::List(vec![
                    Value::object([("id", Value::from("x"))]),
                    Value::object([("id", Value::from("y"))]),
                ]),
            ),
        ]),
    );
    c
}

/// Structural equality where lists, tuples and sets compare alike, as do maps and objects
/// (Terraform's console prints them the same way). Marks must match exactly.
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Sensitive(x), Value::Sensitive(y)) => loose_eq(x, y),
        (Value::Sensitive(_), _) | (_, Value::Sensitive(_)) => false,
        (
            Value::List(x) | Value::Tuple(x) | Value::Set(x),
            Value::List(y) | Value::Tuple(y) | Value::Set(y),
        ) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| loose_eq(p, q)),
        (Value::Map(x) | Value::Object(x), Value::Map(y) | Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && loose_eq(va, vb))
        }
        (Value::Unknown(_), Value::Unknown(_)) => true,
        _ => a == b,
    }
}

enum Expected {
    Value(Value),
    Unknown(Option<Type>),
    Error(String),
}

fn parse_expected(text: &str, line: usize) -> (bool, Expected) {
    let (sensitive, rest) = match text.strip_prefix("sensitive ") {
        Some(r) => (true, r.trim()),
        None => (false, text),
    };
    if let Some(msg) = rest.strip_prefix("error ") {
        return (sensitive, Expected::Error(msg.trim().to_string()));
    }
    if rest == "unknown" {
        return (sensitive, Expected::Unknown(None));
    }
    if let Some(t) = rest.strip_prefix("unknown ") {
        let ty = match t.trim() {
            "string" => Type::String,
            "number" => Type::Number,
            "bool" => Type::Bool,
            other => panic!("line {line}: unknown type `{other}` in expectation"),
        };
        return (sensitive, Expected::Unknown(Some(ty)));
    }
    let e = parse_expression("expected", rest)
        .unwrap_or_else(|d| panic!("line {line}: expected value does not parse: {}", d.message));
    let v = evaluate_constant(&e)
        .unwrap_or_else(|err| panic!("line {line}: expected value does not evaluate: {err}"));
    (sensitive, Expected::Value(v))
}

#[test]
fn acceptance_table() {
    let ctx = context();
    let mut section: Option<&str> = None;
    let mut cases = 0usize;
    let mut failures = Vec::new();
    for (i, raw) in TABLE.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if let Some(s) = trimmed.strip_prefix("## ") {
            section = Some(s.trim());
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((expr_src, expected_src)) = trimmed.split_once("  =>  ") else {
            panic!("line {line}: no `  =>  ` separator");
        };
        let section =
            section.unwrap_or_else(|| panic!("line {line}: case before any `## section`"));
        cases += 1;
        // Heredocs are written on one line with `\n` for line breaks.
        let expr_src = if expr_src.starts_with("<<") {
            expr_src.replace("\\n", "\n")
        } else {
            expr_src.to_string()
        };
        let (sensitive, expected) = parse_expected(expected_src.trim(), line);
        let result = parse_expression("case", &expr_src)
            .map_err(|d| d.message)
            .and_then(|e| evaluate(&e, &ctx).map_err(|err| err.message));
        let ok = match (&result, &expected) {
            (Err(msg), Expected::Error(want)) => msg.contains(want.as_str()),
            (Ok(_), Expected::Error(_)) | (Err(_), _) => false,
            (Ok(v), Expected::Unknown(ty)) => {
                v.is_sensitive() == sensitive
                    && match v.unmarked() {
                        Value::Unknown(t) => ty.as_ref().is_none_or(|want| want == t),
                        _ => false,
                    }
            }
            (Ok(v), Expected::Value(want)) => {
                let want = want.clone().with_sensitive(sensitive);
                loose_eq(v, &want)
            }
        };
        if !ok {
            failures.push(format!(
                "line {line} [{section}]: {expr_src}\n    expected: {expected_src}\n    got:      {}",
                match &result {
                    Ok(v) => format!("{v:?}"),
                    Err(e) => format!("error: {e}"),
                }
            ));
        }
    }
    assert!(
        cases >= 300,
        "the table must hold at least 300 cases, it has {cases}"
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
