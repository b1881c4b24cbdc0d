//! File functions with a relative module folder (probe I6): containment is checked on absolute
//! paths, so with the folder `.` an absolute path outside is refused whether it exists or not
//! (no existence oracle), while paths inside still work.

use vitrina_hcl::eval::{evaluate, EvalContext};
use vitrina_hcl::{parse_expression, Value};

fn eval(src: &str) -> Result<Value, String> {
    let mut ctx = EvalContext::new();
    // Tests run in the crate's folder.
    ctx.set_base_dir(".");
    let expr = parse_expression("t.tf", src).expect("parse");
    evaluate(&expr, &ctx).map_err(|e| e.message)
}

#[test]
fn relative_module_folder_refuses_outside_paths_whether_they_exist_or_not() {
    for src in [
        r#"fileexists("/etc/passwd")"#,
        r#"fileexists("/nonexistent-vitrina/x")"#,
        r#"file("/etc/passwd")"#,
        r#"fileexists("../../../../../../etc/passwd")"#,
    ] {
        let err = eval(src).expect_err(src);
        assert!(err.contains("outside the module folder"), "{src}: {err}");
    }
    assert_eq!(eval(r#"fileexists("Cargo.toml")"#), Ok(Value::Bool(true)));
    assert_eq!(
        eval(r#"fileexists("./missing.txt")"#),
        Ok(Value::Bool(false))
    );
    let cwd = std::env::current_dir().expect("cwd");
    let absolute_inside = format!(
        "fileexists({:?})",
        cwd.join("Cargo.toml").display().to_string()
    );
    assert_eq!(eval(&absolute_inside), Ok(Value::Bool(true)));
}
