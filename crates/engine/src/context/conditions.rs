//! Custom conditions: `precondition` and `postcondition` blocks of resources, data sources and
//! outputs, and the `assert`s of `check` blocks
//! (<https://developer.hashicorp.com/terraform/language/expressions/custom-conditions>,
//! <https://developer.hashicorp.com/terraform/language/checks>).
//!
//! A failing precondition or postcondition is an error at its `condition`, with its
//! `error_message`; a condition whose value is not known yet is checked again during apply.
//! A failing `check` assertion is a warning and never stops a run.

use vitrina_diagnostics::Diagnostic;
use vitrina_hcl as hcl;
use vitrina_hcl::eval::EvalContext;

use super::eval::eval_expr;
use super::run_codes;
use crate::config::Condition;

/// The outcome of evaluating one condition.
pub(crate) enum Outcome {
    Pass,
    /// The condition is not known yet (it reads values known only after apply).
    Unknown,
    /// The condition is false: the diagnostic carries the error message.
    Fail(Diagnostic),
}

/// Evaluates one condition. `what` names the block for the message ("resource precondition",
/// "check `health`"); `warning` makes a failure a warning (check blocks).
pub(crate) fn evaluate(
    c: &Condition,
    ctx: &EvalContext,
    what: &str,
    subject: &str,
    warning: bool,
) -> Outcome {
    let file = c.span.file.as_str();
    let value = match eval_expr(&c.condition, ctx, file) {
        Ok(v) => v,
        Err(d) => {
            return Outcome::Fail(if warning { as_warning(d) } else { d });
        }
    };
    let (value, _) = value.unmark_deep();
    let ok = match value {
        hcl::Value::Bool(b) => b,
        hcl::Value::Unknown(_) => return Outcome::Unknown,
        hcl::Value::String(ref s) if s == "true" || s == "false" => s == "true",
        other => {
            let d = Diagnostic::error(
                run_codes::CONDITION,
                c.span.clone(),
                format!(
                    "the condition of a {what} must be true or false, got {}",
                    other.kind_name()
                ),
            );
            return Outcome::Fail(if warning { as_warning(d) } else { d });
        }
    };
    if ok {
        return Outcome::Pass;
    }
    let message = match eval_expr(&c.error_message, ctx, file) {
        Ok(m) => match m.unmark() {
            (hcl::Value::String(s), false) => s,
            (hcl::Value::String(_), true) => "(the error message is sensitive)".to_owned(),
            (hcl::Value::Unknown(_), _) => "(the error message is not known yet)".to_owned(),
            (other, _) => other.to_string(),
        },
        Err(d) => format!("(the error message cannot be evaluated: {})", d.message),
    };
    let text = format!("{what} failed for `{subject}`: {message}");
    Outcome::Fail(if warning {
        Diagnostic::warning(run_codes::CHECK, c.span.clone(), text)
            .with_help("`check` assertions are reported as warnings; the run goes on")
    } else {
        Diagnostic::error(run_codes::CONDITION, c.span.clone(), text).with_help(
            "this condition is checked by the configuration's author; fix the input it rejects",
        )
    })
}

fn as_warning(d: Diagnostic) -> Diagnostic {
    Diagnostic {
        severity: vitrina_diagnostics::Severity::Warning,
        ..d
    }
}

/// Evaluates every condition; the failures, and whether any was not known yet.
pub(crate) fn evaluate_all(
    conds: &[Condition],
    ctx: &EvalContext,
    what: &str,
    subject: &str,
) -> (Vec<Diagnostic>, bool) {
    let mut failures = Vec::new();
    let mut unknown = false;
    for c in conds {
        match evaluate(c, ctx, what, subject, false) {
            Outcome::Pass => {}
            Outcome::Unknown => unknown = true,
            Outcome::Fail(d) => failures.push(d),
        }
    }
    (failures, unknown)
}
