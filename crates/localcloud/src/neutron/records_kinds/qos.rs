//! QoS policies and their rules.

use super::*;

// --- QoS

pub(super) fn qos_policy_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    if m.get("is_default").and_then(Value::as_bool) == Some(true) {
        let project = s(m, "project_id");
        if others(db, "qos_policy", m).any(|p| {
            str_of(p, "project_id") == project
                && p.get("is_default").and_then(Value::as_bool) == Some(true)
        }) {
            return Err(conflict(
                format!("A default QoS policy exists for project {project}."),
                "QoSPolicyDefaultAlreadyExists",
            ));
        }
    }
    Ok(())
}

/// A QoS policy lists its rules with their `type`, as Neutron shows them.
pub(super) fn qos_policy_view(db: &Db, m: &mut Map<String, Value>) {
    let id = id_of(m).to_owned();
    let mut rules = Vec::new();
    for t in QOS_RULE_TYPES {
        let store = format!("qos_{t}_rule");
        for r in super::records::records(db, &store).filter(|r| str_of(r, "qos_policy_id") == id) {
            let mut r = r.as_object().cloned().unwrap_or_default();
            r.insert("type".into(), json!(t));
            r.remove("created_at");
            r.remove("updated_at");
            r.remove("revision_number");
            rules.push(Value::Object(r));
        }
    }
    m.insert("rules".into(), Value::Array(rules));
}

/// The rule type of a rule's store name (`qos_bandwidth_limit_rule` → `bandwidth_limit`).
pub(super) fn rule_type_of(m: &Map<String, Value>) -> Option<&'static str> {
    QOS_RULE_TYPES.iter().copied().find(|t| {
        m.contains_key(match *t {
            "bandwidth_limit" => "max_kbps",
            "dscp_marking" => "dscp_mark",
            "minimum_bandwidth" => "min_kbps",
            "minimum_packet_rate" => "min_kpps",
            _ => "max_kpps",
        })
    })
}

pub(super) const DSCP_MARKS: &[i64] = &[
    0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 46, 48, 56,
];

pub(super) fn qos_rule_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let Some(t) = rule_type_of(m) else {
        return Ok(());
    };
    let directions: &[&str] = if t == "minimum_packet_rate" {
        &["ingress", "egress", "any"]
    } else {
        &["ingress", "egress"]
    };
    if m.contains_key("direction") {
        let d = s(m, "direction");
        if !directions.contains(&d) {
            return Err(bad(format!(
                "Invalid input for direction. Reason: {d} is not in valid_values {directions:?}."
            )));
        }
    }
    for k in [
        "max_kbps",
        "max_burst_kbps",
        "min_kbps",
        "min_kpps",
        "max_kpps",
        "max_burst_kpps",
    ] {
        if let Some(v) = i(m, k) {
            if !(0..=2_147_483_647).contains(&v) {
                return Err(bad(format!(
                    "Invalid input for {k}. Reason: '{v}' is too large or negative."
                )));
            }
        }
    }
    if let Some(mark) = i(m, "dscp_mark") {
        if !DSCP_MARKS.contains(&mark) {
            return Err(bad(format!(
                "Invalid input for dscp_mark. Reason: {mark} is not in valid_values {DSCP_MARKS:?}."
            )));
        }
    }
    // One rule of a type (and direction) per policy.
    let policy = s(m, "qos_policy_id").to_owned();
    let direction = s(m, "direction").to_owned();
    let store = format!("qos_{t}_rule");
    if others(db, &store, m)
        .any(|r| str_of(r, "qos_policy_id") == policy && str_of(r, "direction") == direction)
    {
        return Err(conflict(
            format!("Rule {t} already exists in QoS Policy {policy}."),
            "QoSRulesConflict",
        ));
    }
    Ok(())
}

/// `GET /v2.0/qos/rule-types`: the rule types localcloud keeps (`all_rules` and
/// `all_supported` list the same: every type is stored and shown, none is enforced).
pub(in crate::neutron) async fn qos_rule_types(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    c.auth(&headers, S)?;
    let types: Vec<Value> = QOS_RULE_TYPES.iter().map(|t| json!({"type": t})).collect();
    Ok(Json(json!({"rule_types": types})))
}

pub(in crate::neutron) async fn qos_rule_type(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(t): Path<String>,
) -> ApiResult<Json<Value>> {
    c.auth(&headers, S)?;
    if !QOS_RULE_TYPES.contains(&t.as_str()) {
        return Err(ApiError::not_found(
            S,
            format!("QoS rule type {t} could not be found."),
        ));
    }
    let params: Vec<Value> = super::records_kinds::KINDS
        .iter()
        .filter(|k| k.store == format!("qos_{t}_rule"))
        .flat_map(|k| k.fields.iter())
        .map(|f| {
            let values = if f.name == "direction" {
                json!(["ingress", "egress"])
            } else if f.name == "dscp_mark" {
                json!(DSCP_MARKS)
            } else {
                json!({"start": 0, "end": 2_147_483_647})
            };
            let ptype = if f.name == "direction" || f.name == "dscp_mark" {
                "choices"
            } else {
                "range"
            };
            json!({"parameter_name": f.name, "parameter_type": ptype, "parameter_values": values})
        })
        .collect();
    Ok(Json(
        json!({"rule_type": {"type": t, "drivers": [{"name": "localcloud", "supported_parameters": params}]}}),
    ))
}
