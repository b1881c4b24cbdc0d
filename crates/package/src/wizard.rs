//! What the marketplace shows of a package's plans: the offer (names, prices, billing) and the
//! wizard ([`vitrina_forms::wizard::PlanForm`]) of each plan, read from a validated model.
//! The server renders and evaluates these; this module only reads files already checked.

use std::collections::BTreeMap;

use vitrina_forms::when::{json_value, Condition};
use vitrina_forms::wizard::{ConstOrParam, EntityKind, EntitySpec, Group, Page, PlanForm};
use vitrina_pricing::{BillingCycle, Money, OptionBilling};

use crate::validate::{Model, PlanModel};
use crate::yaml::Node;

/// One plan as the catalog, the tariff matrix and the wizard show it.
#[derive(Debug, Clone)]
pub struct PlanOffer {
    /// The plan's folder name (`plans/<folder>`).
    pub folder: String,
    pub id: String,
    pub name: String,
    pub description: String,
    pub free: bool,
    /// The price per billing cycle.
    pub cost: Money,
    pub billing_cycle: BillingCycle,
    pub form: PlanForm,
    /// Paid options' prices by option name.
    pub billing: BTreeMap<String, OptionBilling>,
    /// Postpaid options (measured, not asked).
    pub resource_usages: Vec<String>,
}

/// Every plan of a package that validated without errors, in the model's order.
pub fn offers(model: &Model) -> Vec<PlanOffer> {
    model.plans.iter().map(|p| offer(model, p)).collect()
}

fn text(n: Option<&Node>) -> String {
    n.and_then(|n| n.as_str_lenient())
        .unwrap_or_default()
        .to_owned()
}

fn offer(model: &Model, plan: &PlanModel) -> PlanOffer {
    let p = plan.plan.as_ref();
    let get = |k: &str| p.and_then(|p| p.get(k));
    let cost = p
        .and_then(|p| p.get("billing"))
        .and_then(|b| b.get("cost"))
        .and_then(Node::scalar_text)
        .and_then(|t| t.parse::<Money>().ok())
        .unwrap_or(Money::ZERO);
    let mut fields = BTreeMap::new();
    let mut billing = BTreeMap::new();
    // The plan's option forms after its `parameters_patch`: the same reading the broker uses.
    for def in crate::plan_form::plan_options(model, plan) {
        let name = def.field.name.clone();
        if let Some(b) = def.billing {
            billing.insert(name.clone(), b);
        }
        fields.insert(name, def.field);
    }
    let display = plan.display.as_ref();
    let pages = display
        .and_then(|d| d.get("pages"))
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|page| Page {
            name: text(page.get("name")),
            groups: page
                .get("groups")
                .and_then(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .map(|g| Group {
                    name: text(g.get("name")),
                    when: when(g),
                    parameters: g
                        .get("parameters")
                        .and_then(Node::as_seq)
                        .unwrap_or_default()
                        .iter()
                        .map(|p| text(p.get("name")))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let entities = display
        .and_then(|d| d.get("entities"))
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(entity)
        .collect();
    PlanOffer {
        folder: plan.folder.clone(),
        id: text(get("id")),
        name: text(get("name")),
        description: text(get("description")),
        free: get("free").and_then(Node::as_bool).unwrap_or(false),
        cost,
        billing_cycle: plan.billing_cycle,
        form: PlanForm {
            pages,
            fields,
            entities,
        },
        billing,
        resource_usages: plan.resource_usages.clone(),
    }
}

fn when(n: &Node) -> Option<Condition> {
    n.get("when")
        .and_then(|w| Condition::from_json(&w.to_json()).ok())
}

fn const_or_param(n: Option<&Node>) -> Option<ConstOrParam> {
    let n = n?;
    if let Some(p) = n.get("param") {
        return p
            .as_str_lenient()
            .map(|s| ConstOrParam::Param(s.to_owned()));
    }
    n.get("const")
        .and_then(|c| json_value(&c.to_json()))
        .map(ConstOrParam::Const)
}

fn entity(e: &Node) -> Option<EntitySpec> {
    let kind = match e.get("entity")?.as_str_lenient()? {
        "vm" => EntityKind::Vm,
        "load_balancing" => EntityKind::LoadBalancing,
        "floating_ip" => EntityKind::FloatingIp,
        _ => return None,
    };
    Some(EntitySpec {
        kind,
        description: e
            .get("description")
            .and_then(Node::as_str_lenient)
            .map(str::to_owned),
        when: when(e),
        count: const_or_param(e.get("count"))
            .unwrap_or(ConstOrParam::Const(vitrina_forms::Value::Integer(1))),
        flavor: const_or_param(e.get("flavor")),
        disks: e
            .get("disks")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|d| {
                Some((
                    const_or_param(d.get("type"))?,
                    const_or_param(d.get("size"))?,
                ))
            })
            .collect(),
    })
}
