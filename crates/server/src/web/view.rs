//! What the templates show, computed from a service's offers, the answers, the cloud's choices
//! and the tariffs. Rules live in `forms` and `pricing`; this only arranges their results.

use std::collections::BTreeMap;

use vitrina_forms::wizard::{parse_answer, EntityKind, ResolvedEntity};
use vitrina_forms::{Action, Field, FieldKind, Value};
use vitrina_package::wizard::PlanOffer;
use vitrina_pricing::{Disk, Entity, Money, Quote, Tariffs};

use super::choices::Choices;
use super::i18n::{t, Lang};
use super::shelf::{Listed, ServiceEntry};
use crate::products::RevisionState;

/// The catalogue as a map for templates: `{{ t.deploy }}`.
pub fn messages(lang: Lang) -> minijinja::Value {
    struct Messages(Lang);
    impl std::fmt::Debug for Messages {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("messages")
        }
    }
    impl minijinja::value::Object for Messages {
        fn get_value(
            self: &std::sync::Arc<Self>,
            key: &minijinja::Value,
        ) -> Option<minijinja::Value> {
            key.as_str().map(|k| minijinja::Value::from(t(self.0, k)))
        }
    }
    minijinja::Value::from_object(Messages(lang))
}

#[derive(serde::Serialize)]
pub struct Card {
    pub id: String,
    pub revision: String,
    pub name: String,
    pub short_description: String,
    pub test: bool,
    pub has_icon: bool,
    pub help: Option<String>,
    /// `from 990.00 ₽ per month`, or `Free`.
    pub price: String,
}

pub fn card(l: &Listed, tariffs: &Tariffs, lang: Lang) -> Card {
    let s = &l.entry;
    let paid = s.offers.iter().filter(|o| !o.free).map(|o| o.cost).min();
    let has_free = s.offers.iter().any(|o| o.free);
    let price = match (has_free, paid) {
        (_, None) => t(lang, "free").to_owned(),
        (free, Some(p)) => {
            let from = format!(
                "{} {} {}",
                t(lang, "from"),
                tariffs.currency.format(p),
                t(lang, "per_month")
            );
            if free {
                format!("{} · {from}", t(lang, "free"))
            } else {
                from
            }
        }
    };
    Card {
        id: s.id.clone(),
        revision: s.revision.clone(),
        name: s.name.clone(),
        short_description: s.short_description.clone(),
        test: l.state != RevisionState::Public,
        has_icon: s.icon.is_some(),
        help: s.help.clone(),
        price,
    }
}

#[derive(serde::Serialize)]
pub struct MatrixPlan {
    pub folder: String,
    pub name: String,
    pub description: String,
    pub price: String,
    pub cycle: String,
}

#[derive(serde::Serialize)]
pub struct MatrixRow {
    pub label: String,
    pub cells: Vec<String>,
}

#[derive(serde::Serialize)]
pub struct Matrix {
    pub plans: Vec<MatrixPlan>,
    pub rows: Vec<MatrixRow>,
}

fn plan_price(o: &PlanOffer, tariffs: &Tariffs, lang: Lang) -> String {
    if o.free {
        t(lang, "free").to_owned()
    } else {
        tariffs.currency.format(o.cost)
    }
}

/// A value as the matrix and the review show it: ✓/× for booleans, the unit for user steps.
fn show(field: &Field, v: &Value, billing: Option<&vitrina_pricing::OptionBilling>) -> String {
    match v {
        Value::Bool(true) => "✓".into(),
        Value::Bool(false) => "×".into(),
        _ => {
            let shown = field.effective_value(v).unwrap_or_else(|| v.clone());
            match billing.and_then(|b| b.measurement.as_deref()) {
                Some(m) => format!("{shown} {m}"),
                None => shown.to_string(),
            }
        }
    }
}

pub fn matrix(s: &ServiceEntry, tariffs: &Tariffs, lang: Lang) -> Matrix {
    let plans = s
        .offers
        .iter()
        .map(|o| MatrixPlan {
            folder: o.folder.clone(),
            name: if o.description.is_empty() {
                o.name.clone()
            } else {
                o.description.clone()
            },
            description: o.name.clone(),
            price: plan_price(o, tariffs, lang),
            cycle: o.billing_cycle.in_words(lang.code()),
        })
        .collect();
    let rows = s
        .preview
        .iter()
        .map(|name| {
            let label = s
                .offers
                .iter()
                .find_map(|o| o.form.fields.get(name))
                .map_or_else(|| name.clone(), |f| f.label.clone());
            let cells = s
                .offers
                .iter()
                .map(|o| match o.form.fields.get(name) {
                    Some(f) => f
                        .default_value()
                        .map_or_else(|| "—".into(), |v| show(f, &v, o.billing.get(name))),
                    None => "—".into(),
                })
                .collect();
            MatrixRow { label, cells }
        })
        .collect();
    Matrix { plans, rows }
}

#[derive(serde::Serialize)]
pub struct OptionView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(serde::Serialize)]
pub struct FieldView {
    pub name: String,
    pub id: String,
    pub label: String,
    pub hint: Option<String>,
    /// `const`, `select`, `stepper`, `text`, `switch`.
    pub widget: &'static str,
    pub value: String,
    pub checked: bool,
    pub options: Vec<OptionView>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub pattern: Option<String>,
    pub minlength: Option<u64>,
    pub maxlength: Option<u64>,
    pub read_only: bool,
    pub error: Option<String>,
    /// For user steps and paid options: what the number stands for (`= 21 дней`).
    pub caption: Option<String>,
}

#[derive(serde::Serialize)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub hidden: bool,
    pub fields: Vec<FieldView>,
}

#[derive(serde::Serialize)]
pub struct PageView {
    pub name: String,
    pub groups: Vec<GroupView>,
}

#[derive(serde::Serialize)]
pub struct PanelOption {
    pub label: String,
    pub detail: String,
    pub cost: String,
}

#[derive(serde::Serialize)]
pub struct PanelInfra {
    pub label: String,
    pub detail: String,
    pub cost: String,
}

#[derive(serde::Serialize)]
pub struct Panel {
    pub plan_name: String,
    pub plan_price: String,
    pub cycle: String,
    pub options: Vec<PanelOption>,
    pub infra: Vec<PanelInfra>,
    pub infra_incomplete: bool,
    pub total: String,
}

#[derive(serde::Serialize)]
pub struct Answered {
    pub label: String,
    pub value: String,
}

#[derive(serde::Serialize)]
pub struct WizardView {
    pub service_id: String,
    pub revision: String,
    pub plan: String,
    pub plan_name: String,
    pub pages: Vec<PageView>,
    pub errors: BTreeMap<String, String>,
    pub hidden_groups: Vec<String>,
    pub captions: BTreeMap<String, String>,
    pub panel: Panel,
    pub answered: Vec<Answered>,
}

/// Reads posted text answers into typed values (fields the plan does not have are ignored).
pub fn answers_from_post(
    offer: &PlanOffer,
    posted: &[(String, String)],
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (k, v) in posted {
        if let Some(field) = offer.form.fields.get(k) {
            if let Some(value) = parse_answer(field, v) {
                out.insert(k.clone(), value);
            }
        }
    }
    // An unchecked switch posts nothing: it is `false`.
    for (name, field) in &offer.form.fields {
        if matches!(field.kind, FieldKind::BooleanSwitch { .. }) && !out.contains_key(name) {
            out.insert(name.clone(), Value::Bool(false));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub fn wizard(
    s: &ServiceEntry,
    offer: &PlanOffer,
    answers: &BTreeMap<String, Value>,
    action: Action,
    choices: &Choices,
    tariffs: &Tariffs,
    lang: Lang,
    show_errors: bool,
) -> WizardView {
    // A picker with no answer and no default starts at its first entry, so the price shows.
    let mut answers = answers.clone();
    for (name, field) in &offer.form.fields {
        if let (FieldKind::Datasource(ds), None) = (&field.kind, answers.get(name)) {
            let first = ds
                .default
                .clone()
                .or_else(|| choices.offer(ds).first().map(|c| c.value.clone()));
            if let Some(v) = first {
                answers.insert(name.clone(), Value::String(v));
            }
        }
    }
    let ev = offer.form.evaluate(&answers, action);
    let errors: BTreeMap<String, String> = if show_errors {
        ev.errors
            .iter()
            .map(|(k, e)| (k.clone(), error_text(offer, k, e)))
            .collect()
    } else {
        BTreeMap::new()
    };
    let mut captions = BTreeMap::new();
    let mut pages = Vec::new();
    let mut hidden_groups = Vec::new();
    for (pi, page) in offer.form.pages.iter().enumerate() {
        let mut groups = Vec::new();
        for (gi, group) in page.groups.iter().enumerate() {
            let id = format!("g-{pi}-{gi}");
            let hidden = ev.hidden_groups.contains(&(pi, gi));
            if hidden {
                hidden_groups.push(id.clone());
            }
            let fields = group
                .parameters
                .iter()
                .filter_map(|name| {
                    let field = offer.form.fields.get(name)?;
                    let value = ev.answers.get(name);
                    let caption = caption(offer, name, field, value);
                    if let Some(c) = &caption {
                        captions.insert(name.clone(), c.clone());
                    }
                    Some(field_view(
                        field,
                        value,
                        choices,
                        ev.read_only.contains(name),
                        errors.get(name).cloned(),
                        caption,
                    ))
                })
                .collect();
            groups.push(GroupView {
                id,
                name: group.name.clone(),
                hidden,
                fields,
            });
        }
        pages.push(PageView {
            name: page.name.clone(),
            groups,
        });
    }
    let answered = ev
        .visible
        .iter()
        .filter_map(|name| {
            let f = offer.form.fields.get(name)?;
            let v = ev.answers.get(name)?;
            let value = match &f.kind {
                FieldKind::Datasource(ds) => choices
                    .offer(ds)
                    .into_iter()
                    .find(|c| c.value == v.to_string())
                    .map_or_else(|| v.to_string(), |c| c.label),
                _ => show(f, v, offer.billing.get(name)),
            };
            Some(Answered {
                label: f.label.clone(),
                value,
            })
        })
        .collect();
    WizardView {
        service_id: s.id.clone(),
        revision: s.revision.clone(),
        plan: offer.folder.clone(),
        plan_name: if offer.description.is_empty() {
            offer.name.clone()
        } else {
            offer.description.clone()
        },
        pages,
        errors,
        hidden_groups,
        captions,
        panel: panel(
            offer,
            &ev.answers,
            &ev.visible,
            &ev.entities,
            choices,
            tariffs,
            lang,
        ),
        answered,
    }
}

fn error_text(offer: &PlanOffer, name: &str, e: &vitrina_forms::AnswerError) -> String {
    // The message names the option by its file name; people know it by its label.
    let label = offer
        .form
        .fields
        .get(name)
        .map_or(name, |f| f.label.as_str());
    e.to_string()
        .replacen(&format!("`{name}`"), &format!("«{label}»"), 1)
}

fn caption(offer: &PlanOffer, name: &str, field: &Field, value: Option<&Value>) -> Option<String> {
    let b = offer.billing.get(name)?;
    let v = value?;
    let eff = field.effective_value(v)?;
    let unit = b.measurement.as_deref().unwrap_or_default();
    Some(format!("= {eff} {unit}").trim_end().to_owned())
}

fn field_view(
    field: &Field,
    value: Option<&Value>,
    choices: &Choices,
    read_only: bool,
    error: Option<String>,
    caption: Option<String>,
) -> FieldView {
    let text = value.map(ToString::to_string).unwrap_or_default();
    let mut v = FieldView {
        name: field.name.clone(),
        id: format!("f-{}", field.name),
        label: field.label.clone(),
        hint: field.hint.clone(),
        widget: "text",
        value: text.clone(),
        checked: matches!(value, Some(Value::Bool(true))),
        options: Vec::new(),
        min: None,
        max: None,
        pattern: None,
        minlength: None,
        maxlength: None,
        read_only,
        error,
        caption,
    };
    let opts = |values: Vec<(String, String)>| {
        values
            .into_iter()
            .map(|(value, label)| OptionView {
                selected: value == text,
                value,
                label,
            })
            .collect()
    };
    match &field.kind {
        FieldKind::IntegerConst(_) | FieldKind::StringConst(_) | FieldKind::BooleanConst(_) => {
            v.widget = "const";
            v.read_only = true;
        }
        FieldKind::IntegerEnum { values, .. } => {
            v.widget = "select";
            v.options = opts(
                values
                    .iter()
                    .map(|i| (i.to_string(), i.to_string()))
                    .collect(),
            );
        }
        FieldKind::StringEnum { values, .. } => {
            v.widget = "select";
            v.options = opts(values.iter().map(|s| (s.clone(), s.clone())).collect());
        }
        FieldKind::IntegerRange {
            minimum, maximum, ..
        } => {
            v.widget = "stepper";
            v.min = *minimum;
            v.max = *maximum;
        }
        FieldKind::Number => {
            v.widget = "const";
            v.read_only = true;
        }
        FieldKind::StringInput {
            pattern,
            min_length,
            max_length,
            ..
        } => {
            v.pattern.clone_from(pattern);
            v.minlength = *min_length;
            v.maxlength = *max_length;
        }
        FieldKind::BooleanSwitch { .. } => v.widget = "switch",
        FieldKind::Datasource(ds) => {
            v.widget = "select";
            v.options = opts(
                choices
                    .offer(ds)
                    .into_iter()
                    .map(|c| (c.value, c.label))
                    .collect(),
            );
        }
    }
    v
}

fn panel(
    offer: &PlanOffer,
    answers: &BTreeMap<String, Value>,
    visible: &[String],
    entities: &[ResolvedEntity],
    choices: &Choices,
    tariffs: &Tariffs,
    lang: Lang,
) -> Panel {
    let cur = &tariffs.currency;
    // Paid options count when they show; a hidden one keeps its base (no steps).
    let paid: Vec<(&str, &vitrina_pricing::OptionBilling, i64)> = offer
        .billing
        .iter()
        .filter(|(name, _)| visible.contains(name))
        .filter_map(|(name, b)| {
            let field = offer.form.fields.get(name)?;
            let v = match field.effective_value(answers.get(name)?)? {
                Value::Integer(i) => i,
                Value::Bool(true) => b.base + 1,
                _ => b.base,
            };
            Some((name.as_str(), b, v))
        })
        .collect();
    let mut incomplete = false;
    let priced: Vec<Entity> = entities
        .iter()
        .map(|e| match e.kind {
            EntityKind::Vm => {
                let flavor = e.flavor.as_deref().and_then(|f| choices.flavor(f));
                if flavor.is_none() {
                    incomplete = true;
                }
                Entity::Vm {
                    description: e.description.clone(),
                    count: e.count,
                    vcpus: flavor.map_or(0, |f| f.vcpus),
                    ram_mb: flavor.map_or(0, |f| f.ram_mb),
                    gpus: flavor.map_or(0, |f| f.gpus),
                    disks: e
                        .disks
                        .iter()
                        .map(|(t, s)| Disk {
                            volume_type: t.clone(),
                            size_gb: *s,
                        })
                        .collect(),
                }
            }
            EntityKind::LoadBalancing => Entity::LoadBalancer {
                description: e.description.clone(),
                count: e.count,
            },
            EntityKind::FloatingIp => Entity::FloatingIp {
                description: e.description.clone(),
                count: e.count,
            },
        })
        .collect();
    let infra = tariffs.infra_cost(&priced).ok();
    let quote = Quote::new(
        if offer.free { Money::ZERO } else { offer.cost },
        offer.billing_cycle,
        paid,
        infra,
    );
    let Ok(q) = quote else {
        return Panel {
            plan_name: offer.name.clone(),
            plan_price: plan_price(offer, tariffs, lang),
            cycle: offer.billing_cycle.in_words(lang.code()),
            options: Vec::new(),
            infra: Vec::new(),
            infra_incomplete: true,
            total: "—".into(),
        };
    };
    let options = q
        .options
        .iter()
        .map(|o| PanelOption {
            label: offer
                .form
                .fields
                .get(&o.option)
                .map_or_else(|| o.option.clone(), |f| f.label.clone()),
            detail: format!("{} × {}", o.steps, cur.format(o.step_cost)),
            cost: cur.format(o.cost),
        })
        .collect();
    let infra = q
        .infra
        .as_ref()
        .map(|i| {
            i.lines
                .iter()
                .map(|l| {
                    let parts: Vec<String> = l
                        .parts
                        .iter()
                        .filter(|p| p.quantity > 0)
                        .map(|p| {
                            let what = match p.what {
                                vitrina_pricing::PartKind::Vcpu => t(lang, "vcpu").to_owned(),
                                vitrina_pricing::PartKind::RamGb => t(lang, "ram_gb").to_owned(),
                                vitrina_pricing::PartKind::Gpu => t(lang, "gpu").to_owned(),
                                vitrina_pricing::PartKind::DiskGb => format!(
                                    "{} {}",
                                    t(lang, "disk_gb"),
                                    p.volume_type.as_deref().unwrap_or_default()
                                ),
                                vitrina_pricing::PartKind::LoadBalancer
                                | vitrina_pricing::PartKind::FloatingIp => String::new(),
                            };
                            format!("{} {what}", p.quantity).trim().to_owned()
                        })
                        .collect();
                    let kind = t(lang, l.entity);
                    PanelInfra {
                        label: match &l.description {
                            Some(d) => format!("{d} ({kind})"),
                            None => kind.to_owned(),
                        },
                        detail: format!("{} × {}", l.count, parts.join(", ")),
                        cost: cur.format(l.monthly),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Panel {
        plan_name: offer.name.clone(),
        plan_price: plan_price(offer, tariffs, lang),
        cycle: offer.billing_cycle.in_words(lang.code()),
        options,
        infra,
        infra_incomplete: incomplete,
        total: cur.format(q.total_monthly),
    }
}
