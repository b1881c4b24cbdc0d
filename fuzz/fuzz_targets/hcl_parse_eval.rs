//! Fuzzes vitrina-hcl with untrusted text: parse it as a `.tf` file, walk every expression for
//! references and type constraints, and evaluate each one in a context with known, unknown and
//! sensitive values; then do the same with the text as a single expression. Any panic aborts
//! the run.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitrina_hcl::eval::{evaluate, EvalContext};
use vitrina_hcl::{
    block_references, parse, parse_expression, parse_type_constraint, references, Block, Type,
    Value,
};

fn context() -> EvalContext {
    let mut ctx = EvalContext::new();
    ctx.set_step_limit(20_000);
    ctx.set_impure_unknown(true);
    ctx.set_variable(
        "var",
        Value::object([
            ("s", Value::from("hello")),
            ("n", Value::from(3.0)),
            ("l", Value::List(vec!["a".into(), "b".into()])),
            ("m", Value::map([("k", Value::from(1.0))])),
            ("u", Value::Unknown(Type::String)),
            ("secret", Value::from("pw").mark_sensitive()),
            ("null", Value::Null),
        ]),
    );
    ctx.set_variable("local", Value::object([("x", Value::from(true))]));
    ctx.set_variable("count", Value::object([("index", Value::from(0.0))]));
    ctx.set_variable(
        "res",
        Value::object([(
            "vm",
            Value::Tuple(vec![Value::object([("id", Value::unknown())])]),
        )]),
    );
    ctx
}

fn walk(block: &Block, ctx: &EvalContext) {
    let _ = block_references(block);
    for a in &block.attributes {
        let _ = references(&a.expr);
        let _ = parse_type_constraint(&a.expr);
        if let Ok(v) = evaluate(&a.expr, ctx) {
            let _ = v.to_string();
            let _ = v.type_of();
        }
    }
    for b in &block.blocks {
        walk(b, ctx);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ctx = context();
    if let Ok(module) = parse("fuzz.tf", text) {
        for b in &module.blocks {
            walk(b, &ctx);
        }
        for a in &module.attributes {
            let _ = references(&a.expr);
            let _ = evaluate(&a.expr, &ctx);
        }
    }
    if let Ok(expr) = parse_expression("fuzz.tf", text) {
        let _ = references(&expr);
        let _ = parse_type_constraint(&expr);
        let _ = evaluate(&expr, &ctx);
    }
});
