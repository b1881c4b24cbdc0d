//! Evaluating a form: which variables are active, what each holds, what is wrong with it; and
//! which changes a deployed application accepts (`is-volatile`).

use std::collections::BTreeMap;

use super::validators;
use super::{Choice, Flavor, Form, SdfValue, VarType, Variable};

/// What the user gave: values by variable name, and the confirmation typed for each password.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    pub values: BTreeMap<String, SdfValue>,
    pub confirmations: BTreeMap<String, String>,
}

impl Input {
    pub fn new() -> Self {
        Input::default()
    }

    #[must_use]
    pub fn set(mut self, name: &str, value: SdfValue) -> Self {
        self.values.insert(name.to_owned(), value);
        self
    }

    /// A password and its confirmation, typed the same.
    #[must_use]
    pub fn password(mut self, name: &str, value: &str) -> Self {
        self.values
            .insert(name.to_owned(), SdfValue::String(value.to_owned()));
        self.confirmations.insert(name.to_owned(), value.to_owned());
        self
    }
}

/// Why a variable's value is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldError {
    #[error("a value is required")]
    Required,
    #[error("expected {0}")]
    WrongType(&'static str),
    #[error("must be a whole number")]
    NotInteger,
    #[error("must be at least {0}")]
    BelowMinimum(f64),
    #[error("must be at most {0}")]
    AboveMaximum(f64),
    #[error("must have at least {0} characters")]
    TooShort(u64),
    #[error("must have at most {0} characters")]
    TooLong(u64),
    #[error("does not match `{0}`")]
    PatternMismatch(String),
    #[error("{0}")]
    Invalid(String),
    #[error("must be one of {0}")]
    NotAnOption(String),
    #[error("`{0}` is always selected and cannot be cleared")]
    MandatoryCleared(String),
    #[error("the confirmation differs from the password")]
    ConfirmationMismatch,
    #[error("no service offering of the cloud passes the filters")]
    NoOffering,
    #[error("`{0}` is not an offering the filters allow")]
    OfferingNotAllowed(String),
}

/// One variable after evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldState {
    pub active: bool,
    /// Null when inactive (the seed: inactive variables become YAML null).
    pub value: SdfValue,
    pub error: Option<FieldError>,
}

/// Every variable (in declaration order) after evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct FormState {
    pub fields: Vec<FieldState>,
}

impl FormState {
    pub fn is_valid(&self) -> bool {
        self.fields.iter().all(|f| f.error.is_none())
    }

    /// `(variable, error)` for every refused value, in declaration order.
    pub fn errors<'f>(&'f self, form: &'f Form) -> Vec<(&'f str, &'f FieldError)> {
        form.variables
            .iter()
            .zip(&self.fields)
            .filter_map(|(v, s)| s.error.as_ref().map(|e| (v.name.as_str(), e)))
            .collect()
    }

    pub fn field<'f>(&'f self, form: &Form, name: &str) -> Option<&'f FieldState> {
        form.position(name).and_then(|i| self.fields.get(i))
    }

    pub fn value<'f>(&'f self, form: &Form, name: &str) -> Option<&'f SdfValue> {
        self.field(form, name).map(|f| &f.value)
    }

    pub fn is_active(&self, form: &Form, name: &str) -> bool {
        self.field(form, name).is_some_and(|f| f.active)
    }
}

/// A change a deployed application refuses, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub variable: String,
    pub reason: String,
}

impl Form {
    /// Evaluates the form: sources before what they activate, so a default that activates
    /// further variables does so in the same pass (multi-level cascades). Service offerings
    /// are not checked against a cloud (see [`Form::evaluate_with`]).
    pub fn evaluate(&self, input: &Input) -> FormState {
        self.evaluate_with(input, None)
    }

    /// [`Form::evaluate`], checking `ServiceOffering` values against the cloud's flavors.
    pub fn evaluate_with(&self, input: &Input, flavors: Option<&[Flavor]>) -> FormState {
        let mut fields: Vec<FieldState> = vec![
            FieldState {
                active: false,
                value: SdfValue::Null,
                error: None,
            };
            self.variables.len()
        ];
        for &i in &self.order {
            let Some(var) = self.variables.get(i) else {
                continue;
            };
            let active = self.is_active_now(i, var, &fields);
            let state = if active {
                let (value, error) = value_of(var, input, flavors);
                FieldState {
                    active,
                    value,
                    error,
                }
            } else {
                FieldState {
                    active,
                    value: SdfValue::Null,
                    error: None,
                }
            };
            if let Some(slot) = fields.get_mut(i) {
                *slot = state;
            }
        }
        FormState { fields }
    }

    fn is_active_now(&self, i: usize, var: &Variable, fields: &[FieldState]) -> bool {
        let Some(cond) = &var.active_if else {
            return true;
        };
        let sources = self.sources.get(i).map(Vec::as_slice).unwrap_or_default();
        // A source that names no variable is never true.
        let unknown = cond.sources.len() - sources.len();
        let hit = |(s, values): &(usize, Vec<SdfValue>)| {
            let Some(f) = fields.get(*s) else {
                return false;
            };
            f.active && matches_any(&f.value, values)
        };
        match cond.predicate {
            super::Predicate::And => unknown == 0 && sources.iter().all(hit),
            super::Predicate::Or => sources.iter().any(hit),
        }
    }

    /// Checks a change of a deployed application: every variable whose value would change
    /// must be volatile. Returns the new state, or the refusals with their reasons.
    ///
    /// # Errors
    /// One [`Refusal`] per non-volatile variable whose value the change alters (directly, or by
    /// activating or deactivating it through a volatile one), or per invalid value.
    pub fn check_update(
        &self,
        deployed: &FormState,
        input: &Input,
    ) -> Result<FormState, Vec<Refusal>> {
        let next = self.evaluate(input);
        let mut refusals = Vec::new();
        for (i, var) in self.variables.iter().enumerate() {
            let (Some(old), Some(new)) = (deployed.fields.get(i), next.fields.get(i)) else {
                continue;
            };
            if let Some(e) = &new.error {
                refusals.push(Refusal {
                    variable: var.name.clone(),
                    reason: format!("`{}`: {e}", var.name),
                });
                continue;
            }
            if var.volatile || old.value.same(&new.value) {
                continue;
            }
            let how = if var.ty.is_secret() {
                String::from("a new value")
            } else {
                format!("`{}` (was `{}`)", new.value, old.value)
            };
            let through = if old.active == new.active {
                String::new()
            } else {
                let what = if new.active { "activate" } else { "deactivate" };
                let by = var
                    .active_if
                    .as_ref()
                    .map(|c| {
                        c.sources
                            .iter()
                            .map(|(s, _)| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                format!(" (the change of {by} would {what} it)")
            };
            refusals.push(Refusal {
                variable: var.name.clone(),
                reason: format!(
                    "`{}` is not volatile: it is set once at deployment and cannot become {how}{through}; mark it `is-volatile: true` in the app to allow changes",
                    var.name
                ),
            });
        }
        if refusals.is_empty() {
            Ok(next)
        } else {
            Err(refusals)
        }
    }
}

/// Whether a source's value is among the activating values (a `Some` source: any selection).
fn matches_any(value: &SdfValue, values: &[SdfValue]) -> bool {
    match value {
        SdfValue::Null => false,
        SdfValue::List(items) => items.iter().any(|it| values.iter().any(|v| v.same(it))),
        v => values.iter().any(|w| w.same(v)),
    }
}

/// The value of an active variable (the answer, else the default) and what is wrong with it.
fn value_of(
    var: &Variable,
    input: &Input,
    flavors: Option<&[Flavor]>,
) -> (SdfValue, Option<FieldError>) {
    let given = input.values.get(&var.name).filter(|v| !v.is_null());
    match &var.ty {
        VarType::Section => (
            given
                .or(var.default.as_ref())
                .cloned()
                .unwrap_or(SdfValue::Bool(true)),
            None,
        ),
        VarType::Some { options } => {
            let mut chosen: Vec<SdfValue> = match given.or(var.default.as_ref()) {
                Some(SdfValue::List(items)) => items.clone(),
                Some(v) => vec![v.clone()],
                None => Vec::new(),
            };
            let mut error = None;
            let mut typed = Vec::with_capacity(chosen.len());
            for c in chosen.drain(..) {
                match find_option(options, &c) {
                    Some(o) => {
                        if !typed.iter().any(|t: &SdfValue| t.same(&o.value)) {
                            typed.push(o.value.clone());
                        }
                    }
                    None => error = Some(FieldError::NotAnOption(option_list(options))),
                }
            }
            for o in options.iter().filter(|o| o.mandatory) {
                if !typed.iter().any(|t| t.same(&o.value)) {
                    if given.is_some() && error.is_none() {
                        error = Some(FieldError::MandatoryCleared(o.value.to_string()));
                    }
                    typed.push(o.value.clone());
                }
            }
            // Options' order, whatever order they were ticked in.
            typed.sort_by_key(|t| options.iter().position(|o| o.value.same(t)));
            (SdfValue::List(typed), error)
        }
        VarType::OneOf { options, .. } => match given.or(var.default.as_ref()) {
            None => (SdfValue::Null, Some(FieldError::Required)),
            Some(v) => match find_option(options, v) {
                Some(o) => (o.value.clone(), None),
                None => (
                    v.clone(),
                    Some(FieldError::NotAnOption(option_list(options))),
                ),
            },
        },
        _ => {
            let Some(v) = given.or(var.default.as_ref()) else {
                return (SdfValue::Null, Some(FieldError::Required));
            };
            let v = coerce(&var.ty, v);
            let mut error = validators::check(&var.ty, &v).err();
            if error.is_none() {
                if let VarType::Password { .. } = var.ty {
                    // A password the user typed needs the same confirmation; a default does not.
                    if given.is_some() {
                        let confirmed = input.confirmations.get(&var.name).map(String::as_str);
                        if confirmed != v.as_str() {
                            error = Some(FieldError::ConfirmationMismatch);
                        }
                    }
                }
            }
            if error.is_none() {
                if let (VarType::ServiceOffering { filters }, Some(flavors)) = (&var.ty, flavors) {
                    error = check_offering(filters, flavors, &v);
                }
            }
            (v, error)
        }
    }
}

fn check_offering(
    filters: &[super::OfferingFilter],
    flavors: &[Flavor],
    v: &SdfValue,
) -> Option<FieldError> {
    let allowed = super::matching_flavors(filters, flavors);
    if allowed.is_empty() {
        return Some(FieldError::NoOffering);
    }
    let chosen = v.key().unwrap_or_default();
    if allowed.iter().any(|f| f.id == chosen || f.name == chosen) {
        None
    } else {
        Some(FieldError::OfferingNotAllowed(chosen))
    }
}

fn find_option<'o>(options: &'o [Choice], v: &SdfValue) -> Option<&'o Choice> {
    options.iter().find(|o| o.value.same(v))
}

fn option_list(options: &[Choice]) -> String {
    options
        .iter()
        .map(|o| format!("`{}`", o.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text typed into a number field becomes a number; numbers given to text fields become text.
fn coerce(ty: &VarType, v: &SdfValue) -> SdfValue {
    match (ty, v) {
        (VarType::Number { .. }, SdfValue::String(s)) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                SdfValue::Int(i)
            } else if let Ok(f) = t.parse::<f64>() {
                SdfValue::Float(f)
            } else {
                v.clone()
            }
        }
        (VarType::Number { .. } | VarType::Section | VarType::OneOf { .. }, _) => v.clone(),
        (_, SdfValue::Int(_) | SdfValue::Float(_) | SdfValue::Bool(_)) => {
            SdfValue::String(v.key().unwrap_or_default())
        }
        _ => v.clone(),
    }
}
