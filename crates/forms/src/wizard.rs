//! A plan's wizard: its pages and groups (from `display.yaml`), its fields, and the entities the
//! answers stand for. [`PlanForm::evaluate`] is what the web wizard, the API and the broker call
//! on every change: which groups show, which answers are wrong and why, and the infrastructure
//! the answers describe (priced by the `pricing` room).

use std::collections::{BTreeMap, BTreeSet};

use crate::when::Condition;
use crate::{Action, AnswerError, Field, FieldKind, Value};

/// A plan's wizard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanForm {
    pub pages: Vec<Page>,
    /// Every field of the plan by option name (after the plan's `parameters_patch`).
    pub fields: BTreeMap<String, Field>,
    pub entities: Vec<EntitySpec>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub name: String,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub name: String,
    pub when: Option<Condition>,
    /// Option names in display order.
    pub parameters: Vec<String>,
}

/// A value written in `display.yaml` or read from an option.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstOrParam {
    Const(Value),
    Param(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Vm,
    LoadBalancing,
    FloatingIp,
}

/// An entity of `display.yaml` before the answers are known.
#[derive(Debug, Clone, PartialEq)]
pub struct EntitySpec {
    pub kind: EntityKind,
    pub description: Option<String>,
    pub when: Option<Condition>,
    pub count: ConstOrParam,
    pub flavor: Option<ConstOrParam>,
    /// (type, size in GB).
    pub disks: Vec<(ConstOrParam, ConstOrParam)>,
}

/// An entity with the answers filled in; the caller looks the flavor up in its cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEntity {
    pub kind: EntityKind,
    pub description: Option<String>,
    pub count: u64,
    pub flavor: Option<String>,
    pub disks: Vec<(String, u64)>,
}

/// What one set of answers means for the wizard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// Options in groups that currently show, in display order.
    pub visible: Vec<String>,
    /// Groups hidden by their `when`: (page index, group index).
    pub hidden_groups: BTreeSet<(usize, usize)>,
    /// Options that cannot change under this action (shown read-only).
    pub read_only: BTreeSet<String>,
    /// Every visible, editable option's problem.
    pub errors: BTreeMap<String, AnswerError>,
    /// The answers with defaults filled in for unanswered options.
    pub answers: BTreeMap<String, Value>,
    pub entities: Vec<ResolvedEntity>,
}

impl PlanForm {
    /// The answers a new wizard starts with: every field's default.
    pub fn defaults(&self) -> BTreeMap<String, Value> {
        self.fields
            .iter()
            .filter_map(|(n, f)| Some((n.clone(), f.default_value()?)))
            .collect()
    }

    /// Evaluates `answers` for `action` (`Create` in a new wizard, `Update` when changing a
    /// deployment). Unanswered options take their defaults; hidden groups are not checked.
    pub fn evaluate(&self, answers: &BTreeMap<String, Value>, action: Action) -> Evaluation {
        let mut all = self.defaults();
        for (k, v) in answers {
            if self.fields.contains_key(k) {
                all.insert(k.clone(), v.clone());
            }
        }
        let lookup = |name: &str| all.get(name).cloned();
        let mut ev = Evaluation::default();
        for (pi, page) in self.pages.iter().enumerate() {
            for (gi, group) in page.groups.iter().enumerate() {
                if group.when.as_ref().is_some_and(|w| !w.evaluate(lookup)) {
                    ev.hidden_groups.insert((pi, gi));
                    continue;
                }
                for name in &group.parameters {
                    let Some(field) = self.fields.get(name) else {
                        continue;
                    };
                    ev.visible.push(name.clone());
                    if !field.actions.contains(&action) || is_const(&field.kind) {
                        ev.read_only.insert(name.clone());
                        continue;
                    }
                    match all.get(name) {
                        Some(v) => {
                            if let Err(e) = field.check_answer(v) {
                                ev.errors.insert(name.clone(), e);
                            }
                        }
                        None if !field.is_postpaid() => {
                            ev.errors.insert(
                                name.clone(),
                                AnswerError::WrongType {
                                    field: name.clone(),
                                    expected: "an answer",
                                },
                            );
                        }
                        None => {}
                    }
                }
            }
        }
        for spec in &self.entities {
            if spec.when.as_ref().is_some_and(|w| !w.evaluate(lookup)) {
                continue;
            }
            let value = |cp: &ConstOrParam| match cp {
                ConstOrParam::Const(v) => Some(v.clone()),
                ConstOrParam::Param(p) => {
                    let v = all.get(p)?;
                    self.fields
                        .get(p)
                        .and_then(|f| f.effective_value(v))
                        .or_else(|| Some(v.clone()))
                }
            };
            let count = value(&spec.count).and_then(|v| as_u64(&v)).unwrap_or(0);
            let flavor = spec.flavor.as_ref().and_then(value).map(|v| v.to_string());
            let disks = spec
                .disks
                .iter()
                .filter_map(|(t, s)| {
                    Some((value(t)?.to_string(), value(s).and_then(|v| as_u64(&v))?))
                })
                .collect();
            ev.entities.push(ResolvedEntity {
                kind: spec.kind,
                description: spec.description.clone(),
                count,
                flavor,
                disks,
            });
        }
        ev.answers = all;
        ev
    }
}

fn is_const(kind: &FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::IntegerConst(_) | FieldKind::StringConst(_) | FieldKind::BooleanConst(_)
    )
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        Value::Number(n) if n.fract() == 0.0 && *n >= 0.0 && *n < 1e15 => Some(*n as u64),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads an answer given as text (a form post) into the field's type: integers for integer
/// fields, `true`/`on`/`false` for booleans, text otherwise. `None` for empty text.
pub fn parse_answer(field: &Field, text: &str) -> Option<Value> {
    let t = text.trim();
    if field.is_integer() {
        if t.is_empty() {
            return None;
        }
        return Some(
            t.parse::<i64>()
                .map(Value::Integer)
                .unwrap_or_else(|_| Value::String(t.to_owned())),
        );
    }
    if field.is_boolean() {
        return Some(Value::Bool(matches!(t, "true" | "on" | "1" | "yes")));
    }
    if t.is_empty() && !matches!(field.kind, FieldKind::StringInput { .. }) {
        return None;
    }
    Some(Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Steps;
    use serde_json::json;

    fn form() -> PlanForm {
        let field = |name: &str, kind| Field {
            name: name.into(),
            label: name.into(),
            hint: None,
            tag: None,
            actions: vec![Action::Create],
            kind,
        };
        let mut fields = BTreeMap::new();
        fields.insert(
            "ha".into(),
            field("ha", FieldKind::BooleanSwitch { default: false }),
        );
        fields.insert(
            "replicas".into(),
            field(
                "replicas",
                FieldKind::IntegerRange {
                    default: 0,
                    minimum: Some(0),
                    maximum: Some(4),
                    steps: Some(Steps { base: 1, size: 2 }),
                },
            ),
        );
        PlanForm {
            pages: vec![Page {
                name: "p".into(),
                groups: vec![
                    Group {
                        name: "main".into(),
                        when: None,
                        parameters: vec!["ha".into()],
                    },
                    Group {
                        name: "cluster".into(),
                        when: Some(
                            Condition::from_json(&json!({"in": {"key": {"param": "ha"}, "values": [{"const": true}]}}))
                                .unwrap(),
                        ),
                        parameters: vec!["replicas".into()],
                    },
                ],
            }],
            fields,
            entities: vec![EntitySpec {
                kind: EntityKind::Vm,
                description: None,
                when: None,
                count: ConstOrParam::Param("replicas".into()),
                flavor: Some(ConstOrParam::Const(Value::String("m1".into()))),
                disks: vec![(
                    ConstOrParam::Const(Value::String("ceph-ssd".into())),
                    ConstOrParam::Const(Value::Integer(10)),
                )],
            }],
        }
    }

    #[test]
    fn when_hides_a_group_and_its_errors() {
        let f = form();
        let mut a = BTreeMap::new();
        a.insert("replicas".to_owned(), Value::Integer(9));
        let ev = f.evaluate(&a, Action::Create);
        assert_eq!(ev.visible, ["ha"]);
        assert!(ev.errors.is_empty());
        a.insert("ha".to_owned(), Value::Bool(true));
        let ev = f.evaluate(&a, Action::Create);
        assert_eq!(ev.visible, ["ha", "replicas"]);
        assert!(matches!(
            ev.errors.get("replicas"),
            Some(AnswerError::AboveMaximum { .. })
        ));
    }

    #[test]
    fn entities_use_effective_values_and_update_makes_create_only_fields_read_only() {
        let f = form();
        let mut a = BTreeMap::new();
        a.insert("ha".to_owned(), Value::Bool(true));
        a.insert("replicas".to_owned(), Value::Integer(2));
        let ev = f.evaluate(&a, Action::Create);
        // base 1 + 2 steps × 2 = 5 VMs.
        assert_eq!(ev.entities[0].count, 5);
        assert_eq!(ev.entities[0].flavor.as_deref(), Some("m1"));
        assert_eq!(ev.entities[0].disks, [("ceph-ssd".to_owned(), 10)]);
        let ev = f.evaluate(&a, Action::Update);
        assert!(ev.read_only.contains("replicas"));
    }

    #[test]
    fn answers_from_form_text() {
        let f = form();
        assert_eq!(
            parse_answer(&f.fields["replicas"], " 3 "),
            Some(Value::Integer(3))
        );
        assert_eq!(
            parse_answer(&f.fields["replicas"], "x"),
            Some(Value::String("x".into()))
        );
        assert_eq!(parse_answer(&f.fields["ha"], "on"), Some(Value::Bool(true)));
        assert_eq!(parse_answer(&f.fields["replicas"], ""), None);
    }
}
