//! The broker catalog JSON (`vitrina package build`), in the VK broker's shape.
//!
//! Deterministic: keys are written in a fixed order, options in display order, and nothing
//! depends on time or hash-map iteration, so the same package gives byte-identical JSON.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::validate::{Model, PlanModel};
use crate::yaml::Node;

/// JSON-Schema keys copied from an option's `schema`, in this order.
const SCHEMA_KEYS: &[&str] = &[
    "description",
    "hint",
    "type",
    "default",
    "minimum",
    "maximum",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "datasource",
    "tag",
];

const DRAFT4: &str = "http://json-schema.org/draft-04/schema#";

/// The catalog of a validated package (call only when validation found no errors; missing
/// pieces are written as defaults rather than failing).
pub fn build(model: &Model) -> Value {
    let svc = model.service.as_ref();
    let get = |k: &str| svc.and_then(|s| s.get(k));
    let s = |k: &str| {
        get(k)
            .and_then(Node::as_str_lenient)
            .unwrap_or_default()
            .to_owned()
    };
    let b = |k: &str, d: bool| get(k).and_then(Node::as_bool).unwrap_or(d);
    let mut out = Map::new();
    out.insert("id".into(), s("id").into());
    out.insert("revision".into(), s("revision").into());
    out.insert("name".into(), s("name").into());
    out.insert("short_description".into(), s("short_description").into());
    out.insert(
        "full_description".into(),
        model.full_description.clone().into(),
    );
    out.insert("singleton".into(), b("singleton", false).into());
    out.insert("auto_bind".into(), b("auto_bind", false).into());
    if get("icon").is_some() {
        out.insert("icon".into(), s("icon").into());
    }
    if get("help").is_some() {
        out.insert("help".into(), s("help").into());
    }
    out.insert("bindable".into(), b("bindable", true).into());
    out.insert("plan_updateable".into(), b("plan_updateable", false).into());
    out.insert("deactivatable".into(), b("deactivatable", false).into());
    out.insert(
        "bindings_retrievable".into(),
        b("bindings_retrievable", false).into(),
    );
    out.insert(
        "instances_retrievable".into(),
        b("instances_retrievable", false).into(),
    );
    let preview: Vec<Value> = get("preview")
        .and_then(|p| p.get("parameters"))
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.get("name").and_then(Node::as_str_lenient))
        .map(|n| json!({ "name": n }))
        .collect();
    out.insert("preview".into(), json!({ "parameters": preview }));
    let plans: Vec<Value> = model.plans.iter().map(|p| plan(model, p)).collect();
    out.insert("plans".into(), plans.into());
    json!({ "services": [Value::Object(out)] })
}

/// The catalog as pretty JSON text with a final newline.
pub fn to_text(catalog: &Value) -> String {
    let mut s = serde_json::to_string_pretty(catalog).unwrap_or_default();
    s.push('\n');
    s
}

/// An option's tree as this plan sees it (after its `parameters_patch`).
fn option_node<'m>(model: &'m Model, plan: &'m PlanModel, name: &str) -> Option<&'m Node> {
    plan.patched
        .get(name)
        .or_else(|| model.options.get(name).map(|(n, _)| n))
}

fn plan(model: &Model, p: &PlanModel) -> Value {
    let node = p.plan.as_ref();
    let get = |k: &str| node.and_then(|n| n.get(k));
    let s = |k: &str| {
        get(k)
            .and_then(Node::as_str_lenient)
            .unwrap_or_default()
            .to_owned()
    };
    let billing_node = get("billing");
    let mut out = Map::new();
    out.insert("id".into(), s("id").into());
    out.insert("revision".into(), s("revision").into());
    out.insert("name".into(), s("name").into());
    out.insert("description".into(), s("description").into());
    out.insert(
        "free".into(),
        get("free").and_then(Node::as_bool).unwrap_or(false).into(),
    );

    let mut billing = Map::new();
    billing.insert(
        "cost".into(),
        billing_node
            .and_then(|b| b.get("cost"))
            .map_or(json!(0), Node::to_json),
    );
    billing.insert(
        "refundable".into(),
        billing_node
            .and_then(|b| b.get("refundable"))
            .and_then(Node::as_bool)
            .unwrap_or(true)
            .into(),
    );
    billing.insert(
        "billing_cycle_flat".into(),
        p.billing_cycle.to_string().into(),
    );
    let mut options = Map::new();
    for name in p.options.iter().chain(&p.resource_usages) {
        if let Some(b) = option_node(model, p, name).and_then(|n| n.get("billing")) {
            options.insert(name.clone(), option_billing(b));
        }
    }
    billing.insert("options".into(), options.into());
    out.insert("billing".into(), billing.into());
    out.insert("display".into(), display(model, p));

    let mut create = Map::new();
    let mut update = Map::new();
    let mut usages = Map::new();
    for name in &p.options {
        let Some(opt) = option_node(model, p, name) else {
            continue;
        };
        let actions: Vec<&str> = opt
            .get("actions")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(Node::scalar_text)
            .collect();
        let prop = schema_property(opt);
        if actions.contains(&"create") {
            create.insert(name.clone(), prop.clone());
        }
        if actions.contains(&"update") {
            update.insert(name.clone(), prop.clone());
        }
        if actions.contains(&"resource_usages") {
            usages.insert(name.clone(), prop);
        }
    }
    for name in &p.resource_usages {
        if let Some(opt) = option_node(model, p, name) {
            usages.insert(name.clone(), schema_property(opt));
        }
    }
    let params = |props: Map<String, Value>| json!({ "parameters": { "$schema": DRAFT4, "type": "object", "properties": props } });
    out.insert(
        "schemas".into(),
        json!({
            "service_instance": {
                "create": params(create),
                "update": params(update),
                "resource_usages": params(usages),
            },
            "service_binding": {
                "create": { "parameters": { "type": "object", "properties": {} } }
            }
        }),
    );

    let manifest = p.manifest_text();
    let digest = hex::encode(Sha256::digest(manifest.as_bytes()));
    let mut settings = Map::new();
    if let Some(preset) = &p.preset {
        settings.insert("preset".into(), preset.clone().into());
    }
    settings.insert("retry".into(), p.retry.unwrap_or(true).into());
    out.insert(
        "x-deployment".into(),
        json!({
            "manifest": manifest_name(model, p),
            "sha256": digest,
            "settings": settings,
        }),
    );
    Value::Object(out)
}

/// `<service>_<plan>_<revision>`, with characters outside `[A-Za-z0-9_.-]` replaced by `_`
/// (the name is used in the deployment system's URL paths).
pub fn manifest_name(model: &Model, p: &PlanModel) -> String {
    let revision = p
        .plan
        .as_ref()
        .and_then(|n| n.get("revision"))
        .and_then(Node::as_str_lenient)
        .unwrap_or_default();
    format!("{}_{}_{}", model.service_name, p.folder, revision)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn option_billing(b: &Node) -> Value {
    let mut out = Map::new();
    if let Some(base) = b.get("base") {
        out.insert("base".into(), base.to_json());
    } else if b.get("unit").is_some() {
        out.insert("base".into(), json!(0));
    }
    if let Some(cost) = b.get("cost") {
        out.insert("cost".into(), cost.to_json());
    }
    if let Some(unit) = b.get("unit") {
        let mut u = Map::new();
        for k in ["size", "measurement"] {
            if let Some(v) = unit.get(k) {
                u.insert(k.into(), v.to_json());
            }
        }
        out.insert("unit".into(), u.into());
    }
    Value::Object(out)
}

/// An option's schema as a JSON-Schema property, keys in a fixed order.
fn schema_property(opt: &Node) -> Value {
    let mut out = Map::new();
    if let Some(schema) = opt.get("schema") {
        for k in SCHEMA_KEYS {
            if let Some(v) = schema.get(k) {
                out.insert((*k).to_owned(), v.to_json());
            }
        }
    }
    Value::Object(out)
}

/// Whether an option has `actions: []`: seed 003 table 5 says it is then shown inactive, and
/// users cannot change its value (it is in neither `create` nor `update`).
fn read_only(model: &Model, p: &PlanModel, name: &str) -> bool {
    option_node(model, p, name)
        .and_then(|o| o.get("actions"))
        .and_then(Node::as_seq)
        .is_some_and(<[Node]>::is_empty)
}

fn display(model: &Model, p: &PlanModel) -> Value {
    let Some(d) = p.display.as_ref() else {
        return json!({ "pages": [], "entities": [] });
    };
    let mut pages = Vec::new();
    for (pi, page) in d
        .get("pages")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let mut groups = Vec::new();
        for (gi, group) in page
            .get("groups")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let mut g = Map::new();
            g.insert(
                "name".into(),
                group
                    .get("name")
                    .and_then(Node::as_str_lenient)
                    .unwrap_or_default()
                    .into(),
            );
            g.insert("index".into(), gi.into());
            if let Some(w) = group.get("when") {
                g.insert("when".into(), w.to_json());
            }
            let params: Vec<Value> = group
                .get("parameters")
                .and_then(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .filter_map(|i| i.get("name").and_then(Node::as_str_lenient))
                .enumerate()
                .map(|(i, n)| {
                    if read_only(model, p, n) {
                        json!({ "name": n, "index": i, "read_only": true })
                    } else {
                        json!({ "name": n, "index": i })
                    }
                })
                .collect();
            g.insert("parameters".into(), params.into());
            groups.push(Value::Object(g));
        }
        pages.push(json!({
            "name": page.get("name").and_then(Node::as_str_lenient).unwrap_or_default(),
            "index": pi,
            "groups": groups,
        }));
    }
    let entities = d.get("entities").map_or(json!([]), Node::to_json);
    json!({ "pages": pages, "entities": entities })
}

/// The catalog as the OSB broker serves it on `/v2/catalog`: user-step options (those with
/// `billing.options.<opt>.unit.size`) have `default`/`minimum`/`maximum` converted from steps to
/// values (`base + n × size`) and get `multipleOf: size`, because other platforms read JSON
/// Schema literally. Everything else is unchanged.
pub fn to_osb(catalog: &Value) -> Value {
    let mut out = catalog.clone();
    let Some(services) = out.get_mut("services").and_then(Value::as_array_mut) else {
        return out;
    };
    for service in services {
        let Some(plans) = service.get_mut("plans").and_then(Value::as_array_mut) else {
            continue;
        };
        for plan in plans {
            let steps: Vec<(String, i64, i64)> = plan["billing"]["options"]
                .as_object()
                .map(|opts| {
                    opts.iter()
                        .filter_map(|(name, b)| {
                            let size = b["unit"]["size"].as_i64()?;
                            let base = b["base"].as_i64().unwrap_or(0);
                            Some((name.clone(), base, size))
                        })
                        .collect()
                })
                .unwrap_or_default();
            for section in ["create", "update"] {
                let Some(props) = plan
                    .get_mut("schemas")
                    .and_then(|v| v.get_mut("service_instance"))
                    .and_then(|v| v.get_mut(section))
                    .and_then(|v| v.get_mut("parameters"))
                    .and_then(|v| v.get_mut("properties"))
                else {
                    continue;
                };
                for (name, base, size) in &steps {
                    let Some(prop) = props.get_mut(name).and_then(Value::as_object_mut) else {
                        continue;
                    };
                    for key in ["default", "minimum", "maximum"] {
                        let value = prop
                            .get(key)
                            .and_then(Value::as_i64)
                            .and_then(|n| n.checked_mul(*size))
                            .and_then(|n| n.checked_add(*base));
                        if let Some(v) = value {
                            prop.insert(key.to_owned(), v.into());
                        }
                    }
                    prop.insert("multipleOf".to_owned(), (*size).into());
                }
            }
        }
    }
    out
}
