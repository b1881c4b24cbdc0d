//! Instance parameters checked against a plan's form (the `forms` room, read by the package
//! room's `plan_form`), and answers carried over to another plan or revision.
//!
//! Answers are kept as OSB shows them: a user-step option holds its value (`base + n × size`),
//! which is what the manifest's variable receives; the form counts steps, so values are turned
//! into steps before the form checks them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use vitrina_forms::{Action, Field, FieldKind};

/// Option name → answer, as OSB shows it.
pub type Answers = BTreeMap<String, Value>;

/// One plan's options as this plan sees them.
#[derive(Debug, Clone, Default)]
pub struct PlanForm {
    pub fields: Vec<Field>,
}

impl PlanForm {
    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Options the user answers (postpaid ones are measured, not asked).
    fn asked(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.is_postpaid())
    }
}

fn steps_of(field: &Field) -> Option<vitrina_forms::Steps> {
    match &field.kind {
        FieldKind::IntegerRange { steps, .. } => *steps,
        _ => None,
    }
}

/// An OSB value as the form's value (steps for user-step options).
pub(crate) fn form_value(field: &Field, v: &Value) -> Result<vitrina_forms::Value, String> {
    use vitrina_forms::Value as F;
    if field.is_integer() {
        let n = v
            .as_i64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| format!("`{}` expects an integer", field.name))?;
        return match steps_of(field) {
            Some(s) if s.size > 0 => {
                let above = n.checked_sub(s.base).unwrap_or(-1);
                if above < 0 || above % s.size != 0 {
                    Err(format!(
                        "`{}` must be {} plus a multiple of {}",
                        field.name, s.base, s.size
                    ))
                } else {
                    Ok(F::Integer(above / s.size))
                }
            }
            _ => Ok(F::Integer(n)),
        };
    }
    if field.is_boolean() {
        return v
            .as_bool()
            .map(F::Bool)
            .ok_or_else(|| format!("`{}` expects true or false", field.name));
    }
    match (&field.kind, v) {
        (FieldKind::Number, _) => Err(format!(
            "`{}` is measured after the fact and is not asked",
            field.name
        )),
        (_, Value::String(s)) => Ok(F::String(s.clone())),
        _ => Err(format!("`{}` expects a string", field.name)),
    }
}

/// The form's value as OSB shows it.
fn osb_value(field: &Field, v: &vitrina_forms::Value) -> Option<Value> {
    use vitrina_forms::Value as F;
    Some(match field.effective_value(v)? {
        F::Integer(i) => Value::from(i),
        F::Number(n) => Value::from(n),
        F::String(s) => Value::from(s),
        F::Bool(b) => Value::from(b),
    })
}

/// Checks one answer; returns why it does not fit.
fn check(field: &Field, v: &Value) -> Result<(), String> {
    let fv = form_value(field, v)?;
    field.check_answer(&fv).map_err(|e| e.to_string())
}

fn default_of(field: &Field) -> Option<Value> {
    field.default_value().and_then(|d| osb_value(field, &d))
}

/// The answers of a new instance: given parameters checked, defaults for the rest. Every
/// problem is listed.
pub fn for_create(form: &PlanForm, params: &Map<String, Value>) -> Result<Answers, Vec<String>> {
    let mut reasons = Vec::new();
    for name in params.keys() {
        match form.field(name) {
            None => reasons.push(format!("`{name}` is not an option of this plan")),
            Some(f) if f.is_postpaid() => reasons.push(format!(
                "`{name}` is measured after the fact and is not asked"
            )),
            Some(f) if !f.actions.contains(&Action::Create) => reasons.push(format!(
                "`{name}` cannot be set when the instance is created"
            )),
            Some(_) => {}
        }
    }
    let mut answers = Answers::new();
    for field in form.asked() {
        match params.get(&field.name) {
            Some(v) => match check(field, v) {
                Ok(()) => {
                    answers.insert(field.name.clone(), v.clone());
                }
                Err(e) => reasons.push(e),
            },
            None => match default_of(field) {
                Some(d) => {
                    answers.insert(field.name.clone(), d);
                }
                None => reasons.push(format!(
                    "`{}` ({}) is required: it has no default",
                    field.name, field.label
                )),
            },
        }
    }
    if reasons.is_empty() {
        Ok(answers)
    } else {
        Err(reasons)
    }
}

/// The answers after an update to `new` (the same plan and revision, or another plan or a newer
/// revision of the service). Answers carry over by option name and must fit the new form; new
/// options take their defaults; an option the new form lacks may be dropped only while it holds
/// its default (it is not in use). `params` are the user's changes: only options asked on
/// update may change. Every reason is listed.
pub fn for_update(
    old: &PlanForm,
    new: &PlanForm,
    current: &Answers,
    params: &Map<String, Value>,
) -> Result<Answers, Vec<String>> {
    let mut reasons = Vec::new();
    for name in params.keys() {
        match new.field(name) {
            None => reasons.push(format!("`{name}` is not an option of this plan")),
            Some(f) if f.is_postpaid() => reasons.push(format!(
                "`{name}` is measured after the fact and is not asked"
            )),
            Some(f) => {
                let unchanged = current.get(name) == params.get(name);
                if !f.actions.contains(&Action::Update) && !unchanged {
                    reasons.push(format!(
                        "`{name}` can only be set when the instance is created"
                    ));
                }
            }
        }
    }
    for (name, value) in current {
        if new.field(name).is_some() {
            continue;
        }
        let default = old.field(name).and_then(default_of);
        if default.as_ref() != Some(value) {
            reasons.push(format!(
                "option `{name}` is in use (its value is {value}) and the new plan or revision has no such option"
            ));
        }
    }
    let mut answers = Answers::new();
    for field in new.asked() {
        if let Some(v) = params.get(&field.name) {
            match check(field, v) {
                Ok(()) => {
                    answers.insert(field.name.clone(), v.clone());
                }
                Err(e) => reasons.push(e),
            }
        } else if let Some(v) = current.get(&field.name) {
            match check(field, v) {
                Ok(()) => {
                    answers.insert(field.name.clone(), v.clone());
                }
                Err(e) => reasons.push(format!(
                    "the current value {v} of `{}` does not fit the new plan or revision: {e}",
                    field.name
                )),
            }
        } else {
            match default_of(field) {
                Some(d) => {
                    answers.insert(field.name.clone(), d);
                }
                None => reasons.push(format!(
                    "new option `{}` ({}) has no default: give it in `parameters`",
                    field.name, field.label
                )),
            }
        }
    }
    if reasons.is_empty() {
        Ok(answers)
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vitrina_forms::Steps;

    fn field(name: &str, kind: FieldKind, actions: &[Action]) -> Field {
        Field {
            name: name.into(),
            label: name.to_uppercase(),
            hint: None,
            tag: None,
            actions: actions.to_vec(),
            kind,
        }
    }

    fn form() -> PlanForm {
        PlanForm {
            fields: vec![
                field(
                    "days",
                    FieldKind::IntegerRange {
                        default: 0,
                        minimum: Some(0),
                        maximum: Some(3),
                        steps: Some(Steps { base: 7, size: 7 }),
                    },
                    &[Action::Create, Action::Update],
                ),
                field(
                    "zone",
                    FieldKind::StringInput {
                        default: None,
                        pattern: None,
                        min_length: None,
                        max_length: None,
                    },
                    &[Action::Create],
                ),
            ],
        }
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn create_checks_every_answer() {
        let a = for_create(&form(), &map(json!({"zone": "z1", "days": 21}))).unwrap();
        assert_eq!(a["days"], json!(21));
        let a = for_create(&form(), &map(json!({"zone": "z1"}))).unwrap();
        assert_eq!(a["days"], json!(7));
        let e = for_create(&form(), &map(json!({"days": 22, "nope": 1}))).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        let e = for_create(&form(), &map(json!({"zone": "z", "days": 35}))).unwrap_err();
        assert!(e[0].contains("at most"), "{e:?}");
    }

    #[test]
    fn updates_carry_answers_over() {
        let f = form();
        let cur = for_create(&f, &map(json!({"zone": "z1", "days": 14}))).unwrap();
        let a = for_update(&f, &f, &cur, &map(json!({"days": 28}))).unwrap();
        assert_eq!(a["days"], json!(28));
        let e = for_update(&f, &f, &cur, &map(json!({"zone": "z2"}))).unwrap_err();
        assert!(e[0].contains("only be set when"), "{e:?}");
        // A new revision without `days`: refused while `days` is not its default.
        let smaller = PlanForm {
            fields: vec![f.fields[1].clone()],
        };
        let e = for_update(&f, &smaller, &cur, &Map::new()).unwrap_err();
        assert!(e[0].contains("`days` is in use"), "{e:?}");
        let at_default = for_create(&f, &map(json!({"zone": "z1"}))).unwrap();
        assert!(for_update(&f, &smaller, &at_default, &Map::new()).is_ok());
        // A new option takes its default.
        let a = for_update(
            &smaller,
            &f,
            &for_create(&smaller, &map(json!({"zone": "z"}))).unwrap(),
            &Map::new(),
        )
        .unwrap();
        assert_eq!(a["days"], json!(7));
    }
}
