//! The record kinds of Neutron's optional extensions (see `records.rs`) and their rules:
//! validation, derived attributes and in-use checks, as Neutron applies them.

use std::net::IpAddr;

use super::records::{f, req, str_of, Kind, Parent, F, T};
use super::*;

const NAME: F = f("name", T::Str, "\"\"", true);
const DESCRIPTION: F = f("description", T::Str, "\"\"", true);

/// The QoS rule kinds: (rule type, store, JSON key, plural, fields).
const QOS_RULE_TYPES: &[&str] = &[
    "bandwidth_limit",
    "dscp_marking",
    "minimum_bandwidth",
    "minimum_packet_rate",
    "packet_rate_limit",
];

pub(super) static KINDS: &[Kind] = &[
    Kind {
        store: "qos_policy",
        key: "policy",
        plural: "policies",
        path: "qos/policies",
        label: "QoS policy",
        not_found: "QosPolicyNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            f("shared", T::Bool, "false", true),
            f("is_default", T::Bool, "false", true),
        ],
        owned: true,
        admin_only: false,
        tagged: true,
        parent: None,
        hook: Some(qos_policy_hook),
        delete_check: None,
        view: Some(qos_policy_view),
    },
    qos_rule(
        "qos_bandwidth_limit_rule",
        "bandwidth_limit_rule",
        "bandwidth_limit_rules",
        &[
            req("max_kbps", T::Int, true),
            f("max_burst_kbps", T::Int, "0", true),
            f("direction", T::Str, "\"egress\"", true),
        ],
    ),
    qos_rule(
        "qos_dscp_marking_rule",
        "dscp_marking_rule",
        "dscp_marking_rules",
        &[req("dscp_mark", T::Int, true)],
    ),
    qos_rule(
        "qos_minimum_bandwidth_rule",
        "minimum_bandwidth_rule",
        "minimum_bandwidth_rules",
        &[
            req("min_kbps", T::Int, true),
            f("direction", T::Str, "\"egress\"", true),
        ],
    ),
    qos_rule(
        "qos_minimum_packet_rate_rule",
        "minimum_packet_rate_rule",
        "minimum_packet_rate_rules",
        &[
            req("min_kpps", T::Int, true),
            f("direction", T::Str, "\"egress\"", true),
        ],
    ),
    qos_rule(
        "qos_packet_rate_limit_rule",
        "packet_rate_limit_rule",
        "packet_rate_limit_rules",
        &[
            req("max_kpps", T::Int, true),
            f("max_burst_kpps", T::Int, "0", true),
            f("direction", T::Str, "\"egress\"", true),
        ],
    ),
    Kind {
        store: "address_scope",
        key: "address_scope",
        plural: "address_scopes",
        path: "address-scopes",
        label: "Address scope",
        not_found: "AddressScopeNotFound",
        fields: &[
            NAME,
            req("ip_version", T::Int, false),
            f("shared", T::Bool, "false", true),
        ],
        owned: true,
        admin_only: false,
        tagged: false,
        parent: None,
        hook: Some(address_scope_hook),
        delete_check: Some(address_scope_in_use),
        view: None,
    },
    Kind {
        store: "subnetpool",
        key: "subnetpool",
        plural: "subnetpools",
        path: "subnetpools",
        label: "Subnet pool",
        not_found: "SubnetPoolNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            req("prefixes", T::List, true),
            f("default_prefixlen", T::OptInt, "null", true),
            f("min_prefixlen", T::OptInt, "null", true),
            f("max_prefixlen", T::OptInt, "null", true),
            f("default_quota", T::OptInt, "null", true),
            f("shared", T::Bool, "false", false),
            f("is_default", T::Bool, "false", true),
            f("address_scope_id", T::OptStr, "null", true),
        ],
        owned: true,
        admin_only: false,
        tagged: true,
        parent: None,
        hook: Some(subnetpool_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "address_group",
        key: "address_group",
        plural: "address_groups",
        path: "address-groups",
        label: "Address group",
        not_found: "AddressGroupNotFound",
        fields: &[NAME, DESCRIPTION, f("addresses", T::List, "[]", false)],
        owned: true,
        admin_only: false,
        tagged: false,
        parent: None,
        hook: Some(address_group_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "rbac_policy",
        key: "rbac_policy",
        plural: "rbac_policies",
        path: "rbac-policies",
        label: "RBAC policy",
        not_found: "RbacPolicyNotFound",
        fields: &[
            req("object_type", T::Str, false),
            req("object_id", T::Str, false),
            req("action", T::Str, false),
            req("target_tenant", T::Str, true),
        ],
        owned: true,
        admin_only: false,
        tagged: false,
        parent: None,
        hook: Some(rbac_hook),
        delete_check: None,
        view: Some(rbac_view),
    },
    Kind {
        store: "segment",
        key: "segment",
        plural: "segments",
        path: "segments",
        label: "Segment",
        not_found: "SegmentNotFound",
        fields: &[
            req("network_id", T::Str, false),
            req("network_type", T::Str, false),
            f("physical_network", T::OptStr, "null", false),
            f("segmentation_id", T::OptInt, "null", false),
            f("name", T::OptStr, "null", true),
            DESCRIPTION,
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: Some(Parent {
            kind: "network",
            field: "network_id",
            nested: false,
        }),
        hook: Some(segment_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "network_segment_range",
        key: "network_segment_range",
        plural: "network_segment_ranges",
        path: "network_segment_ranges",
        label: "Network segment range",
        not_found: "NetworkSegmentRangeNotFound",
        fields: &[
            NAME,
            f("shared", T::Bool, "true", false),
            req("network_type", T::Str, false),
            f("physical_network", T::OptStr, "null", false),
            req("minimum", T::Int, true),
            req("maximum", T::Int, true),
        ],
        owned: true,
        admin_only: true,
        tagged: true,
        parent: None,
        hook: Some(segment_range_hook),
        delete_check: None,
        view: Some(segment_range_view),
    },
    Kind {
        store: "trunk",
        key: "trunk",
        plural: "trunks",
        path: "trunks",
        label: "Trunk",
        not_found: "TrunkNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            req("port_id", T::Str, false),
            f("admin_state_up", T::Bool, "true", true),
            f("sub_ports", T::List, "[]", false),
        ],
        owned: true,
        admin_only: false,
        tagged: true,
        parent: None,
        hook: Some(trunk_hook),
        delete_check: None,
        view: Some(trunk_view),
    },
    Kind {
        store: "metering_label",
        key: "metering_label",
        plural: "metering_labels",
        path: "metering/metering-labels",
        label: "Metering label",
        not_found: "MeteringLabelNotFound",
        fields: &[NAME, DESCRIPTION, f("shared", T::Bool, "false", false)],
        owned: true,
        admin_only: true,
        tagged: false,
        parent: None,
        hook: None,
        delete_check: None,
        view: None,
    },
    Kind {
        store: "metering_label_rule",
        key: "metering_label_rule",
        plural: "metering_label_rules",
        path: "metering/metering-label-rules",
        label: "Metering label rule",
        not_found: "MeteringLabelRuleNotFound",
        fields: &[
            req("metering_label_id", T::Str, false),
            f("direction", T::Str, "\"ingress\"", false),
            f("remote_ip_prefix", T::OptStr, "null", false),
            f("source_ip_prefix", T::OptStr, "null", false),
            f("destination_ip_prefix", T::OptStr, "null", false),
            f("excluded", T::Bool, "false", false),
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: Some(Parent {
            kind: "metering_label",
            field: "metering_label_id",
            nested: false,
        }),
        hook: Some(metering_rule_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "network_flavor",
        key: "flavor",
        plural: "flavors",
        path: "flavors",
        label: "Flavor",
        not_found: "FlavorNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            req("service_type", T::Str, false),
            f("enabled", T::Bool, "true", true),
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: None,
        hook: Some(flavor_hook),
        delete_check: None,
        view: Some(flavor_view),
    },
    Kind {
        store: "service_profile",
        key: "service_profile",
        plural: "service_profiles",
        path: "service_profiles",
        label: "Service Profile",
        not_found: "ServiceProfileNotFound",
        fields: &[
            DESCRIPTION,
            f("driver", T::Str, "\"\"", true),
            f("metainfo", T::Str, "\"\"", true),
            f("enabled", T::Bool, "true", true),
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: None,
        hook: Some(service_profile_hook),
        delete_check: Some(service_profile_in_use),
        view: None,
    },
    Kind {
        store: "local_ip",
        key: "local_ip",
        plural: "local_ips",
        path: "local_ips",
        label: "Local IP",
        not_found: "LocalIPNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            f("network_id", T::OptStr, "null", false),
            f("local_port_id", T::OptStr, "null", false),
            f("local_ip_address", T::OptStr, "null", false),
            f("ip_mode", T::Str, "\"translate\"", false),
        ],
        owned: true,
        admin_only: false,
        tagged: false,
        parent: None,
        hook: Some(local_ip_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "conntrack_helper",
        key: "conntrack_helper",
        plural: "conntrack_helpers",
        path: "conntrack_helpers",
        label: "Conntrack helper",
        not_found: "ConntrackHelperNotFound",
        fields: &[
            req("protocol", T::Str, true),
            req("port", T::Int, true),
            req("helper", T::Str, true),
        ],
        owned: false,
        admin_only: false,
        tagged: false,
        parent: Some(Parent {
            kind: "router",
            field: "router_id",
            nested: true,
        }),
        hook: Some(conntrack_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "default_security_group_rule",
        key: "default_security_group_rule",
        plural: "default_security_group_rules",
        path: "default-security-group-rules",
        label: "Default Security Group Rule",
        not_found: "DefaultSecurityGroupRuleNotFound",
        fields: &[
            req("direction", T::Str, false),
            f("ethertype", T::Str, "\"IPv4\"", false),
            f("protocol", T::OptStr, "null", false),
            f("port_range_min", T::OptInt, "null", false),
            f("port_range_max", T::OptInt, "null", false),
            f("remote_ip_prefix", T::OptStr, "null", false),
            f("remote_group_id", T::OptStr, "null", false),
            f("remote_address_group_id", T::OptStr, "null", false),
            f("description", T::Str, "\"\"", false),
            f("used_in_default_sg", T::Bool, "false", false),
            f("used_in_non_default_sg", T::Bool, "true", false),
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: None,
        hook: Some(default_sg_rule_hook),
        delete_check: None,
        view: None,
    },
];

const fn qos_rule(
    store: &'static str,
    key: &'static str,
    plural: &'static str,
    fields: &'static [F],
) -> Kind {
    Kind {
        store,
        key,
        plural,
        path: plural,
        label: "QoS rule",
        not_found: "QosRuleNotFound",
        fields,
        owned: false,
        admin_only: false,
        tagged: false,
        parent: Some(Parent {
            kind: "qos_policy",
            field: "qos_policy_id",
            nested: true,
        }),
        hook: Some(qos_rule_hook),
        delete_check: None,
        view: None,
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    super::records::invalid(msg)
}

fn conflict(msg: impl Into<String>, kind: &'static str) -> ApiError {
    ApiError::conflict(S, msg).kind(kind)
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn i(m: &Map<String, Value>, k: &str) -> Option<i64> {
    m.get(k).and_then(Value::as_i64)
}

fn id_of(m: &Map<String, Value>) -> &str {
    s(m, "id")
}

fn others<'a>(
    db: &'a Db,
    store: &'a str,
    m: &'a Map<String, Value>,
) -> impl Iterator<Item = &'a Value> + 'a {
    let id = id_of(m).to_owned();
    super::records::records(db, store).filter(move |r| str_of(r, "id") != id)
}

// --- QoS

fn qos_policy_hook(
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
fn qos_policy_view(db: &Db, m: &mut Map<String, Value>) {
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
fn rule_type_of(m: &Map<String, Value>) -> Option<&'static str> {
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

const DSCP_MARKS: &[i64] = &[
    0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 46, 48, 56,
];

fn qos_rule_hook(db: &Db, _: &Ctx, m: &mut Map<String, Value>, _: Option<&Value>) -> ApiResult<()> {
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
pub(super) async fn qos_rule_types(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    c.auth(&headers, S)?;
    let types: Vec<Value> = QOS_RULE_TYPES.iter().map(|t| json!({"type": t})).collect();
    Ok(Json(json!({"rule_types": types})))
}

pub(super) async fn qos_rule_type(
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

// --- address scopes, subnet pools, address groups

fn address_scope_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    let v = i(m, "ip_version").unwrap_or(0);
    if v != 4 && v != 6 {
        return Err(bad(format!(
            "Invalid input for ip_version. Reason: {v} is not in valid_values [4, 6]."
        )));
    }
    if let Some(old) = old {
        if old.get("shared").and_then(Value::as_bool) == Some(true)
            && m.get("shared").and_then(Value::as_bool) == Some(false)
        {
            return Err(bad("Unable to complete operation on address scope: a shared address scope cannot be unshared."));
        }
    }
    let _ = db;
    Ok(())
}

fn address_scope_in_use(db: &Db, r: &Value) -> ApiResult<()> {
    let id = str_of(r, "id");
    if super::records::records(db, "subnetpool").any(|p| str_of(p, "address_scope_id") == id) {
        return Err(conflict(
            format!("Unable to complete operation on address scope {id}. There are one or more subnet pools in use on the address scope."),
            "AddressScopeInUse",
        ));
    }
    Ok(())
}

/// A prefix in canonical form (host bits cleared) and its version and length.
pub(super) fn parse_prefix(p: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = p.split_once('/').unwrap_or((p, ""));
    let addr: IpAddr = a.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len: u8 = if l.is_empty() {
        max
    } else {
        l.trim().parse().ok()?
    };
    if len > max {
        return None;
    }
    let net = match addr {
        IpAddr::V4(v) => {
            let bits = u32::from(v);
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(v) => {
            let bits = u128::from(v);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            IpAddr::V6((bits & mask).into())
        }
    };
    Some((net, len))
}

fn prefix_list(m: &Map<String, Value>, key: &str) -> ApiResult<Vec<(IpAddr, u8)>> {
    m.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| {
            let p = v.as_str().unwrap_or("");
            parse_prefix(p).ok_or_else(|| {
                bad(format!(
                    "Invalid input for {key}. Reason: '{p}' is not a valid IP subnet."
                ))
            })
        })
        .collect()
}

fn subnetpool_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    let prefixes = prefix_list(m, "prefixes")?;
    let Some(first) = prefixes.first() else {
        return Err(bad(
            "Invalid input for prefixes. Reason: a subnet pool needs at least one prefix.",
        ));
    };
    let v4 = first.0.is_ipv4();
    if prefixes.iter().any(|p| p.0.is_ipv4() != v4) {
        return Err(bad("Illegal subnetpool: prefixes of both IP versions."));
    }
    if let Some(old) = old {
        // An update may add prefixes, not take them away.
        let before = old
            .as_object()
            .map(|o| prefix_list(o, "prefixes"))
            .transpose()?
            .unwrap_or_default();
        if before
            .iter()
            .any(|b| !prefixes.iter().any(|p| covers(p, b)))
        {
            return Err(bad("Illegal update to prefixes: the prefixes of a subnet pool can be added to, not taken away."));
        }
    }
    let max_len: i64 = if v4 { 32 } else { 128 };
    let min = i(m, "min_prefixlen").unwrap_or(if v4 { 8 } else { 64 });
    let max = i(m, "max_prefixlen").unwrap_or(max_len);
    let default = i(m, "default_prefixlen").unwrap_or(min);
    if !(0..=max_len).contains(&min)
        || !(0..=max_len).contains(&max)
        || min > max
        || default < min
        || default > max
    {
        return Err(bad(format!(
            "Illegal prefix bounds: min_prefixlen={min}, max_prefixlen={max}, default_prefixlen={default}."
        )));
    }
    if let Some(q) = i(m, "default_quota") {
        if q < 0 {
            return Err(bad(
                "Invalid input for default_quota. Reason: it must be 0 or more.",
            ));
        }
    }
    let canonical: Vec<Value> = prefixes
        .iter()
        .map(|(a, l)| json!(format!("{a}/{l}")))
        .collect();
    m.insert("prefixes".into(), Value::Array(canonical));
    m.insert("ip_version".into(), json!(if v4 { 4 } else { 6 }));
    m.insert("min_prefixlen".into(), json!(min));
    m.insert("max_prefixlen".into(), json!(max));
    m.insert("default_prefixlen".into(), json!(default));
    let scope = s(m, "address_scope_id").to_owned();
    if !scope.is_empty() {
        let sc = super::records::record(db, "address_scope", &scope).ok_or_else(|| {
            ApiError::not_found(S, format!("Address scope {scope} could not be found."))
                .kind("AddressScopeNotFound")
        })?;
        if sc.get("ip_version").and_then(Value::as_i64) != Some(if v4 { 4 } else { 6 }) {
            return Err(bad(format!("Illegal subnetpool association: subnetpool cannot be associated with address scope {scope} because subnetpool ip_version is not {}.", sc.get("ip_version").and_then(Value::as_i64).unwrap_or(0))));
        }
        // Pools of one address scope do not overlap.
        for other in others(db, "subnetpool", m).filter(|p| str_of(p, "address_scope_id") == scope)
        {
            let theirs = other
                .as_object()
                .map(|o| prefix_list(o, "prefixes"))
                .transpose()?
                .unwrap_or_default();
            if prefixes
                .iter()
                .any(|p| theirs.iter().any(|t| covers(p, t) || covers(t, p)))
            {
                return Err(bad(format!("Illegal subnetpool association: subnetpool {} cannot be associated with address scope {scope}: its prefixes overlap another pool's in the scope.", id_of(m))));
            }
        }
    }
    if m.get("is_default").and_then(Value::as_bool) == Some(true) {
        let version = if v4 { 4 } else { 6 };
        if others(db, "subnetpool", m).any(|p| {
            p.get("is_default").and_then(Value::as_bool) == Some(true)
                && p.get("ip_version").and_then(Value::as_i64) == Some(version)
        }) {
            return Err(bad(format!("Invalid input for operation: A default subnetpool for this IP family {version} already exists.")));
        }
    }
    Ok(())
}

/// Whether prefix `a` contains prefix `b`.
pub(super) fn covers(a: &(IpAddr, u8), b: &(IpAddr, u8)) -> bool {
    if a.1 > b.1 {
        return false;
    }
    match (parse_prefix(&format!("{}/{}", b.0, a.1)), a) {
        (Some(x), a) => x.0 == a.0,
        (None, _) => false,
    }
}

fn normalize_addresses(m: &Map<String, Value>, key: &str) -> ApiResult<Vec<String>> {
    Ok(prefix_list(m, key)?
        .into_iter()
        .map(|(a, l)| format!("{a}/{l}"))
        .collect())
}

fn address_group_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let mut list = normalize_addresses(m, "addresses")?;
    list.sort();
    list.dedup();
    m.insert("addresses".into(), json!(list));
    Ok(())
}

/// `PUT /v2.0/address-groups/{id}/add_addresses` and `remove_addresses`.
pub(super) fn address_group_action(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    bytes: &[u8],
    add: bool,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(headers, S)?;
    let body = body::parse_json(S, bytes)?;
    let asked = body
        .as_object()
        .map(|o| normalize_addresses(o, "addresses"))
        .transpose()?
        .unwrap_or_default();
    let k = super::records::kind_of("address_group")
        .ok_or_else(|| ApiError::internal(S, "address group kind"))?;
    c.store.write(|db| {
        let r = super::records::record(db, k.store, id)
            .filter(|r| {
                super::records::visible(db, &ctx, k, r)
                    && (ctx.is_admin() || str_of(r, "project_id") == ctx.project_id)
            })
            .cloned()
            .ok_or_else(|| super::records::not_found(k, id))?;
        let mut have: Vec<String> = r
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        for a in asked {
            if add {
                if !have.contains(&a) {
                    have.push(a);
                }
            } else if let Some(pos) = have.iter().position(|h| *h == a) {
                have.remove(pos);
            } else {
                return Err(ApiError::not_found(
                    S,
                    format!("Address {a} does not exist in address group {id}."),
                )
                .kind("AddressesNotFound"));
            }
        }
        have.sort();
        let mut m = r.as_object().cloned().unwrap_or_default();
        m.insert("addresses".into(), json!(have));
        m.insert("updated_at".into(), json!(now()));
        let v = Value::Object(m);
        db.network_records
            .entry(k.store.into())
            .or_default()
            .insert(id.to_owned(), v.clone());
        Ok(Json(json!({"address_group": v})))
    })
}

// --- RBAC

/// The object types and actions RBAC policies take, with the record store of each type.
const RBAC: &[(&str, &[&str])] = &[
    ("network", &["access_as_shared", "access_as_external"]),
    ("qos_policy", &["access_as_shared"]),
    ("address_scope", &["access_as_shared"]),
    ("subnetpool", &["access_as_shared"]),
    ("address_group", &["access_as_shared"]),
];

fn rbac_hook(db: &Db, ctx: &Ctx, m: &mut Map<String, Value>, old: Option<&Value>) -> ApiResult<()> {
    let t = s(m, "object_type").to_owned();
    let action = s(m, "action").to_owned();
    let object = s(m, "object_id").to_owned();
    let Some((_, actions)) = RBAC.iter().find(|(ty, _)| *ty == t) else {
        return Err(bad(format!(
            "Invalid input for object_type. Reason: '{t}' is not in {:?}.",
            RBAC.iter().map(|(t, _)| *t).collect::<Vec<_>>()
        )));
    };
    if !actions.contains(&action.as_str()) {
        return Err(bad(format!(
            "Invalid input for action. Reason: '{action}' is not in {actions:?}."
        )));
    }
    if old.is_none() {
        // The object must exist and be the caller's (any for an admin).
        let owner = if t == "network" {
            db.networks.get(&object).map(|n| n.project_id.clone())
        } else {
            super::records::record(db, &t, &object).map(|r| str_of(r, "project_id").to_owned())
        };
        match owner {
            Some(p) if ctx.is_admin() || p == ctx.project_id => {}
            _ => {
                return Err(ApiError::not_found(
                    S,
                    format!("The resource could not be found: {t} {object}."),
                )
                .kind("NotFound"))
            }
        }
    }
    let target = s(m, "target_tenant").to_owned();
    if target.is_empty() {
        return Err(bad(
            "Invalid input for target_tenant. Reason: it must not be empty.",
        ));
    }
    if others(db, "rbac_policy", m).any(|r| {
        str_of(r, "object_type") == t
            && str_of(r, "object_id") == object
            && str_of(r, "action") == action
            && str_of(r, "target_tenant") == target
    }) {
        return Err(conflict(
            format!("An RBAC policy on {t} {object} with action {action} for target {target} already exists."),
            "DuplicateRbacPolicy",
        ));
    }
    Ok(())
}

fn rbac_view(_: &Db, m: &mut Map<String, Value>) {
    let t = m.get("target_tenant").cloned().unwrap_or(Value::Null);
    m.insert("target_project".into(), t);
}

// --- segments and segment ranges

const NETWORK_TYPES: &[&str] = &["flat", "vlan", "vxlan", "geneve", "gre", "local"];

fn network_type(m: &Map<String, Value>) -> ApiResult<String> {
    let t = s(m, "network_type").to_owned();
    if !NETWORK_TYPES.contains(&t.as_str()) {
        return Err(bad(format!(
            "Invalid input for network_type. Reason: '{t}' is not in {NETWORK_TYPES:?}."
        )));
    }
    Ok(t)
}

fn segment_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    let t = network_type(m)?;
    if old.is_some() {
        return Ok(());
    }
    if let Some(id) = i(m, "segmentation_id") {
        let max = match t.as_str() {
            "vlan" => 4094,
            "flat" | "local" => {
                return Err(bad(format!(
                    "segmentation_id requires a vlan, vxlan, geneve or gre network, not {t}."
                )))
            }
            _ => 16_777_215,
        };
        if !(1..=max).contains(&id) {
            return Err(bad(format!(
                "Invalid input for segmentation_id. Reason: {id} is out of range 1..{max}."
            )));
        }
        let phys = m.get("physical_network").cloned().unwrap_or(Value::Null);
        if others(db, "segment", m).any(|r| {
            str_of(r, "network_type") == t
                && r.get("segmentation_id").and_then(Value::as_i64) == Some(id)
                && r.get("physical_network").cloned().unwrap_or(Value::Null) == phys
        }) {
            return Err(conflict(
                format!("Unable to create the network. The {t} segmentation id {id} is in use."),
                "SegmentationIdInUse",
            ));
        }
    }
    Ok(())
}

fn segment_range_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let t = network_type(m)?;
    let (min, max) = (i(m, "minimum").unwrap_or(0), i(m, "maximum").unwrap_or(0));
    let limit = if t == "vlan" { 4094 } else { 16_777_215 };
    if min < 1 || max > limit || min > max {
        return Err(bad(format!(
            "Invalid input for operation: network segment range {min}..{max} is not valid for {t} (1..{limit}, minimum not above maximum)."
        )));
    }
    let _ = db;
    Ok(())
}

fn segment_range_view(db: &Db, m: &mut Map<String, Value>) {
    let t = s(m, "network_type").to_owned();
    let (min, max) = (i(m, "minimum").unwrap_or(0), i(m, "maximum").unwrap_or(-1));
    let mut used = Map::new();
    for seg in super::records::records(db, "segment").filter(|r| str_of(r, "network_type") == t) {
        if let Some(id) = seg.get("segmentation_id").and_then(Value::as_i64) {
            if (min..=max).contains(&id) {
                used.insert(id.to_string(), json!(str_of(seg, "network_id")));
            }
        }
    }
    let available: Vec<Value> = (min..=max)
        .filter(|n| !used.contains_key(&n.to_string()))
        .take(4096)
        .map(|n| json!(n))
        .collect();
    m.insert("default".into(), json!(false));
    m.insert("used".into(), Value::Object(used));
    m.insert("available".into(), Value::Array(available));
}

// --- trunks

fn trunk_ports(db: &Db, except: &str) -> Vec<String> {
    super::records::records(db, "trunk")
        .filter(|t| str_of(t, "id") != except)
        .flat_map(|t| {
            let mut ids = vec![str_of(t, "port_id").to_owned()];
            ids.extend(
                t.get("sub_ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|s| str_of(s, "port_id").to_owned()),
            );
            ids
        })
        .collect()
}

/// Checks sub-ports (`port_id`, `segmentation_type`, `segmentation_id`) against the ports, the
/// trunk's own and the other trunks'.
fn check_subports(
    db: &Db,
    ctx: &Ctx,
    trunk_id: &str,
    parent: &str,
    subs: &[Value],
) -> ApiResult<Vec<Value>> {
    let taken = trunk_ports(db, trunk_id);
    let mut out: Vec<Value> = Vec::new();
    for sp in subs {
        let port = str_of(sp, "port_id").to_owned();
        if db.ports.mine(ctx, &port).is_none() {
            return Err(
                ApiError::not_found(S, format!("Port {port} could not be found."))
                    .kind("PortNotFound"),
            );
        }
        if port == parent
            || taken.contains(&port)
            || out.iter().any(|o| str_of(o, "port_id") == port)
        {
            return Err(conflict(
                format!(
                    "Port {port} is currently in use and is not eligible for use as a subport."
                ),
                "PortInUseAsSubPort",
            ));
        }
        let seg_type = sp
            .get("segmentation_type")
            .and_then(Value::as_str)
            .unwrap_or("vlan");
        let seg_id = sp.get("segmentation_id").and_then(crate::body::int_like);
        if seg_type != "vlan" && seg_type != "inherit" {
            return Err(bad(format!("Invalid input for segmentation_type. Reason: '{seg_type}' is not in ['vlan', 'inherit'].")));
        }
        let seg_id = match (seg_type, seg_id) {
            ("vlan", Some(n)) if (1..=4094).contains(&n) => json!(n),
            ("vlan", _) => return Err(bad("Invalid input for segmentation_id. Reason: a vlan sub-port needs a segmentation_id from 1 to 4094.")),
            _ => Value::Null,
        };
        if !seg_id.is_null()
            && out
                .iter()
                .any(|o| o.get("segmentation_id") == Some(&seg_id))
        {
            return Err(conflict(
                format!("Segmentation ID {seg_id} is already in use in the trunk."),
                "DuplicateSubPort",
            ));
        }
        out.push(
            json!({"port_id": port, "segmentation_type": seg_type, "segmentation_id": seg_id}),
        );
    }
    Ok(out)
}

fn trunk_hook(
    db: &Db,
    ctx: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    if old.is_some() {
        return Ok(());
    }
    let port = s(m, "port_id").to_owned();
    if db.ports.mine(ctx, &port).is_none() {
        return Err(
            ApiError::not_found(S, format!("Port {port} could not be found.")).kind("PortNotFound"),
        );
    }
    if trunk_ports(db, id_of(m)).contains(&port) {
        return Err(conflict(
            format!(
                "Port {port} is currently in use and is not eligible for use as a parent port."
            ),
            "ParentPortInUse",
        ));
    }
    let subs: Vec<Value> = m
        .get("sub_ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let subs = check_subports(db, ctx, id_of(m), &port, &subs)?;
    m.insert("sub_ports".into(), Value::Array(subs));
    Ok(())
}

fn trunk_view(db: &Db, m: &mut Map<String, Value>) {
    // A trunk is ACTIVE when its parent port is bound to a device, DOWN otherwise.
    let bound = db
        .ports
        .get(s(m, "port_id"))
        .is_some_and(|p| !p.device_id.is_empty());
    m.insert(
        "status".into(),
        json!(if bound { "ACTIVE" } else { "DOWN" }),
    );
}

/// `PUT /v2.0/trunks/{id}/add_subports`, `remove_subports` and `GET get_subports`.
pub(super) fn trunk_subports(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    bytes: Option<&[u8]>,
    add: bool,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(headers, S)?;
    let k = super::records::kind_of("trunk").ok_or_else(|| ApiError::internal(S, "trunk kind"))?;
    let asked: Vec<Value> = match bytes {
        Some(b) => body::parse_json(S, b)?
            .get("sub_ports")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| bad("Invalid input for operation: 'sub_ports' is a required list."))?,
        None => {
            return c.store.read(|db| {
                let t = super::records::record(db, k.store, id)
                    .filter(|r| super::records::visible(db, &ctx, k, r))
                    .ok_or_else(|| super::records::not_found(k, id))?;
                Ok(Json(
                    json!({"sub_ports": t.get("sub_ports").cloned().unwrap_or(json!([]))}),
                ))
            })
        }
    };
    c.store.write(|db| {
        let t = super::records::record(db, k.store, id)
            .filter(|r| ctx.is_admin() || str_of(r, "project_id") == ctx.project_id)
            .cloned()
            .ok_or_else(|| super::records::not_found(k, id))?;
        let mut subs: Vec<Value> = t
            .get("sub_ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if add {
            let mut all = subs.clone();
            all.extend(asked);
            subs = check_subports(db, &ctx, id, str_of(&t, "port_id"), &all)?;
        } else {
            for a in &asked {
                let port = str_of(a, "port_id");
                let Some(pos) = subs.iter().position(|s| str_of(s, "port_id") == port) else {
                    return Err(ApiError::not_found(
                        S,
                        format!("SubPort {port} could not be found in trunk {id}."),
                    )
                    .kind("SubPortNotFound"));
                };
                subs.remove(pos);
            }
        }
        let mut m = t.as_object().cloned().unwrap_or_default();
        m.insert("sub_ports".into(), Value::Array(subs));
        m.insert("updated_at".into(), json!(now()));
        let rev = t
            .get("revision_number")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        m.insert("revision_number".into(), json!(rev + 1));
        let v = Value::Object(m);
        db.network_records
            .entry(k.store.into())
            .or_default()
            .insert(id.to_owned(), v.clone());
        Ok(Json(super::records::view(db, k, &v)))
    })
}

// --- metering

fn metering_rule_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let d = s(m, "direction");
    if d != "ingress" && d != "egress" {
        return Err(bad(format!(
            "Invalid input for direction. Reason: '{d}' is not in ['ingress', 'egress']."
        )));
    }
    let mut any = false;
    for k in [
        "remote_ip_prefix",
        "source_ip_prefix",
        "destination_ip_prefix",
    ] {
        if let Some(p) = m.get(k).and_then(Value::as_str) {
            let (a, l) = parse_prefix(p).ok_or_else(|| {
                bad(format!(
                    "Invalid input for {k}. Reason: '{p}' is not a valid IP subnet."
                ))
            })?;
            m.insert(k.into(), json!(format!("{a}/{l}")));
            any = true;
        }
    }
    if !any {
        return Err(bad(
            "You must specify one of remote_ip_prefix, source_ip_prefix or destination_ip_prefix.",
        ));
    }
    Ok(())
}

// --- network flavors and service profiles

const SERVICE_TYPES: &[&str] = &[
    "L3_ROUTER_NAT",
    "FIREWALL",
    "VPN",
    "LOADBALANCERV2",
    "METERING",
    "QOS",
];

fn flavor_hook(_: &Db, _: &Ctx, m: &mut Map<String, Value>, old: Option<&Value>) -> ApiResult<()> {
    let t = s(m, "service_type");
    if old.is_none() && !SERVICE_TYPES.contains(&t) {
        return Err(
            ApiError::not_found(S, format!("Service type {t} is not supported."))
                .kind("InvalidServiceType"),
        );
    }
    if !m.contains_key("service_profiles") {
        m.insert("service_profiles".into(), json!([]));
    }
    Ok(())
}

fn flavor_view(_: &Db, m: &mut Map<String, Value>) {
    if !m.contains_key("service_profiles") {
        m.insert("service_profiles".into(), json!([]));
    }
}

fn service_profile_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    if s(m, "driver").is_empty() && s(m, "metainfo").is_empty() {
        return Err(bad("A metainfo or driver must be specified."));
    }
    Ok(())
}

fn profiles_of(f: &Value) -> Vec<String> {
    f.get("service_profiles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn service_profile_in_use(db: &Db, r: &Value) -> ApiResult<()> {
    let id = str_of(r, "id");
    if super::records::records(db, "network_flavor").any(|f| profiles_of(f).iter().any(|p| p == id))
    {
        return Err(conflict(
            format!("Service Profile {id} is used by some service instance."),
            "ServiceProfileInUse",
        ));
    }
    Ok(())
}

/// `POST /v2.0/flavors/{id}/service_profiles` (`add`) and `DELETE …/service_profiles/{profile}`.
pub(super) fn flavor_profile(
    c: &Cloud,
    headers: &HeaderMap,
    flavor: &str,
    profile: Option<&str>,
    bytes: Option<&[u8]>,
) -> ApiResult<Response> {
    let ctx = c.auth(headers, S)?;
    let k = super::records::kind_of("network_flavor")
        .ok_or_else(|| ApiError::internal(S, "flavor kind"))?;
    if !ctx.is_admin() {
        return Err(super::records::policy_denied(
            "create_flavor_service_profile",
            k,
        ));
    }
    let profile = match (profile, bytes) {
        (Some(p), _) => p.to_owned(),
        (None, Some(b)) => body::parse_json(S, b)?
            .get("service_profile")
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad("Invalid input for operation: service_profile.id is required."))?,
        (None, None) => {
            return Err(bad(
                "Invalid input for operation: service_profile.id is required.",
            ))
        }
    };
    let adding = bytes.is_some();
    c.store.write(|db| {
        let f = super::records::record(db, k.store, flavor)
            .cloned()
            .ok_or_else(|| super::records::not_found(k, flavor))?;
        if super::records::record(db, "service_profile", &profile).is_none() {
            return Err(ApiError::not_found(
                S,
                format!("Service Profile {profile} could not be found."),
            )
            .kind("ServiceProfileNotFound"));
        }
        let mut list = profiles_of(&f);
        if adding {
            if list.contains(&profile) {
                return Err(conflict(
                    format!(
                        "Service Profile {profile} is already associated with flavor {flavor}."
                    ),
                    "FlavorServiceProfileBindingExists",
                ));
            }
            list.push(profile.clone());
        } else if let Some(pos) = list.iter().position(|p| *p == profile) {
            list.remove(pos);
        } else {
            return Err(ApiError::not_found(
                S,
                format!("Service Profile {profile} is not associated with flavor {flavor}."),
            )
            .kind("FlavorServiceProfileBindingNotFound"));
        }
        let mut m = f.as_object().cloned().unwrap_or_default();
        m.insert("service_profiles".into(), json!(list));
        db.network_records
            .entry(k.store.into())
            .or_default()
            .insert(flavor.to_owned(), Value::Object(m));
        Ok(if adding {
            created("service_profile", json!({"id": profile}))
        } else {
            StatusCode::NO_CONTENT.into_response()
        })
    })
}

// --- local IPs

fn local_ip_hook(
    db: &Db,
    ctx: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    if old.is_some() {
        return Ok(());
    }
    let mode = s(m, "ip_mode");
    if mode != "translate" && mode != "passthrough" {
        return Err(bad(format!(
            "Invalid input for ip_mode. Reason: '{mode}' is not in ['translate', 'passthrough']."
        )));
    }
    let port = s(m, "local_port_id").to_owned();
    if !port.is_empty() {
        let p = db.ports.mine(ctx, &port).ok_or_else(|| {
            ApiError::not_found(S, format!("Port {port} could not be found.")).kind("PortNotFound")
        })?;
        let addr = p.fixed_ips.first().map(|f| f.ip_address.clone());
        let net = p.network_id.clone();
        if !m.get("local_ip_address").is_some_and(Value::is_string) {
            m.insert("local_ip_address".into(), json!(addr));
        }
        m.insert("network_id".into(), json!(net));
    }
    let net = s(m, "network_id").to_owned();
    if !net.is_empty()
        && !db
            .networks
            .get(&net)
            .is_some_and(|n| crate::access::network_visible(n, ctx))
    {
        return Err(
            ApiError::not_found(S, format!("Network {net} could not be found."))
                .kind("NetworkNotFound"),
        );
    }
    if let Some(a) = m.get("local_ip_address").and_then(Value::as_str) {
        if a.parse::<IpAddr>().is_err() {
            return Err(bad(format!(
                "Invalid input for local_ip_address. Reason: '{a}' is not a valid IP address."
            )));
        }
    }
    Ok(())
}

// --- L3 conntrack helpers

/// Neutron's default `allowed_conntrack_helpers`: (helper, protocol).
const CONNTRACK_HELPERS: &[(&str, &str)] = &[
    ("amanda", "tcp"),
    ("ftp", "tcp"),
    ("tftp", "udp"),
    ("h323", "udp"),
    ("h323", "tcp"),
    ("irc", "tcp"),
    ("netbios-ns", "udp"),
    ("pptp", "tcp"),
    ("sane", "tcp"),
    ("sip", "udp"),
    ("sip", "tcp"),
    ("snmp", "udp"),
];

fn conntrack_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let (helper, proto) = (s(m, "helper").to_owned(), s(m, "protocol").to_owned());
    if !CONNTRACK_HELPERS.contains(&(helper.as_str(), proto.as_str())) {
        return Err(bad(format!(
            "The conntrack helper '{helper}' with protocol '{proto}' is not allowed (allowed: {}).",
            CONNTRACK_HELPERS
                .iter()
                .map(|(h, p)| format!("{h}:{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let port = i(m, "port").unwrap_or(0);
    if !(1..=65535).contains(&port) {
        return Err(bad(format!(
            "Invalid input for port. Reason: {port} is not in the range 1..65535."
        )));
    }
    let router = s(m, "router_id").to_owned();
    if others(db, "conntrack_helper", m).any(|r| {
        str_of(r, "router_id") == router
            && str_of(r, "helper") == helper
            && str_of(r, "protocol") == proto
            && r.get("port").and_then(Value::as_i64) == Some(port)
    }) {
        return Err(bad(format!("A duplicate conntrack helper entry with same attributes already exists, conflicting values are {{'router_id': '{router}', 'protocol': '{proto}', 'port': {port}, 'helper': '{helper}'}}")));
    }
    Ok(())
}

/// The conntrack helpers of a router, as `expose-l3-conntrack-helper` shows them on it.
pub(super) fn router_helpers(db: &Db, router: &str) -> Value {
    Value::Array(
        super::records::records(db, "conntrack_helper")
            .filter(|r| str_of(r, "router_id") == router)
            .map(|r| json!({"id": r.get("id"), "protocol": r.get("protocol"), "port": r.get("port"), "helper": r.get("helper")}))
            .collect(),
    )
}

// --- default security group rules

fn default_sg_rule_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let d = s(m, "direction");
    if d != "ingress" && d != "egress" {
        return Err(bad(format!(
            "Invalid input for direction. Reason: '{d}' is not in ['ingress', 'egress']."
        )));
    }
    let e = s(m, "ethertype");
    if e != "IPv4" && e != "IPv6" {
        return Err(bad(format!(
            "Invalid input for ethertype. Reason: '{e}' is not in ['IPv4', 'IPv6']."
        )));
    }
    let (lo, hi) = (i(m, "port_range_min"), i(m, "port_range_max"));
    for p in [lo, hi].into_iter().flatten() {
        if !(0..=65535).contains(&p) {
            return Err(bad(format!("Invalid value for port {p}.")));
        }
    }
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if lo > hi {
            return Err(
                bad("For TCP/UDP protocols, port_range_min must be <= port_range_max")
                    .kind("SecurityGroupInvalidPortRange"),
            );
        }
    }
    if let Some(p) = m.get("remote_ip_prefix").and_then(Value::as_str) {
        let (a, l) = parse_prefix(p).ok_or_else(|| {
            bad(format!(
                "Invalid input for remote_ip_prefix. Reason: '{p}' is not a valid IP subnet."
            ))
        })?;
        m.insert("remote_ip_prefix".into(), json!(format!("{a}/{l}")));
    }
    Ok(())
}
