//! The evaluation budget counts real work (probe M4): elements and bytes that functions read
//! and build, and every step of the templates `templatefile` includes, so hostile expressions
//! stop with an error instead of running for minutes. `distinct` is O(n log n).

use std::path::Path;
use std::time::{Duration, Instant};

use vitrina_hcl::eval::{evaluate, EvalContext};
use vitrina_hcl::{parse_expression, Value};

/// Generous: these finish in well under a second in a release build; debug builds of the
/// hashing and parsing crates are several times slower on a loaded machine.
const LIMIT: Duration = Duration::from_secs(if cfg!(debug_assertions) { 60 } else { 5 });

fn eval_in(
    dir: Option<&Path>,
    src: &str,
    vars: &[(&str, Value)],
) -> (Result<Value, String>, Duration) {
    let mut ctx = EvalContext::new();
    if let Some(d) = dir {
        ctx.set_base_dir(d);
    }
    ctx.set_variable(
        "local",
        Value::object(vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone()))),
    );
    let expr = parse_expression("t.tf", src).expect("parse");
    let start = Instant::now();
    let r = evaluate(&expr, &ctx).map_err(|e| e.message);
    (r, start.elapsed())
}

#[test]
fn distinct_of_a_hundred_thousand_elements_is_fast() {
    let (r, took) = eval_in(
        None,
        "length(distinct(flatten([for i in range(100): [for j in range(1000): i*1000+j]])))",
        &[],
    );
    assert_eq!(r, Ok(Value::from(100_000.0)));
    assert!(took < LIMIT, "took {took:?}");
    let (r, _) = eval_in(
        None,
        "length(distinct(flatten([for i in range(100): [for j in range(1000): j % 10]])))",
        &[],
    );
    assert_eq!(r, Ok(Value::from(10.0)));
}

#[test]
fn hashing_a_large_string_in_a_loop_runs_out_of_budget() {
    let big = Value::String("x".repeat(16 * 1024 * 1024));
    let (r, took) = eval_in(
        None,
        "length([for i in range(1024): sha512(local.s)])",
        &[("s", big.clone())],
    );
    let err = r.expect_err("budget");
    assert!(err.contains("too many steps"), "{err}");
    assert!(took < LIMIT, "took {took:?}");
    // A few hashes are fine.
    let (r, _) = eval_in(
        None,
        "length([for i in range(4): sha512(local.s)])",
        &[("s", big)],
    );
    assert_eq!(r, Ok(Value::from(4.0)));
}

#[test]
fn contains_over_a_large_list_in_a_loop_runs_out_of_budget() {
    let list = Value::List((0..200_000).map(|i| Value::from(f64::from(i))).collect());
    let (r, took) = eval_in(
        None,
        "length([for i in range(1024): contains(local.l, -1)])",
        &[("l", list)],
    );
    assert!(r.expect_err("budget").contains("too many steps"));
    assert!(took < LIMIT, "took {took:?}");
}

/// The probe's fan-out: each template includes itself ten times until `d` reaches 8; from
/// `d = 1` that is 10^7 leaves (about 7 minutes before, at the probe's 41 s per 10^6). All
/// nested calls share one budget. (From `d = 0` the nesting limit of 8 stops it at once.)
#[test]
fn templatefile_fan_out_shares_one_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let call = "${templatefile(\"t.tpl\", {d = d + 1})}";
    let body = format!(
        "%{{ if d < 8 }}{}%{{ else }}x%{{ endif }}",
        std::iter::repeat_n(call, 10).collect::<String>()
    );
    std::fs::write(dir.path().join("t.tpl"), body).expect("write");
    // Small fan-outs still work: 10^3 leaves.
    let (r, _) = eval_in(
        Some(dir.path()),
        "length(templatefile(\"t.tpl\", {d = 5}))",
        &[],
    );
    assert_eq!(r, Ok(Value::from(1000.0)));
    let (r, took) = eval_in(
        Some(dir.path()),
        "length(templatefile(\"t.tpl\", {d = 1}))",
        &[],
    );
    let err = r.expect_err("budget");
    assert!(err.contains("too many steps"), "{err}");
    assert!(took < LIMIT, "took {took:?}");
}
