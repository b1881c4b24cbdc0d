//! Views: the JSON of each resource, not-found errors, list filters, `fields` and pagination.

use super::*;

pub(super) fn net_view(db: &Db, n: &Network) -> Value {
    let subnets: Vec<String> = db
        .subnets
        .values()
        .filter(|s| s.network_id == n.id)
        .map(|s| s.id.clone())
        .collect();
    let v = w::Network {
        id: n.id.clone(),
        name: n.name.clone(),
        description: n.description.clone(),
        admin_state_up: n.admin_state_up,
        status: "ACTIVE".into(),
        subnets,
        shared: n.shared,
        project_id: n.project_id.clone(),
        tenant_id: n.project_id.clone(),
        router_external: n.external,
        mtu: u32::try_from(n.mtu).ok(),
        port_security_enabled: Some(n.port_security_enabled),
        dns_domain: Some(String::new()),
        availability_zones: Some(vec!["nova".into()]),
        availability_zone_hints: Some(vec![]),
        provider_network_type: None,
        provider_physical_network: None,
        provider_segmentation_id: None,
        tags: n.tags.clone(),
        created_at: Some(n.created_at.clone()),
        updated_at: Some(n.updated_at.clone()),
        revision_number: Some(1),
    };
    let mut v = serde_json::to_value(v).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("sdn".into(), json!(n.sdn));
        o.insert("is_default".into(), json!(false));
    }
    v
}

pub(super) fn subnet_view(s: &Subnet) -> Value {
    let v = w::Subnet {
        id: s.id.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        network_id: s.network_id.clone(),
        cidr: s.cidr.clone(),
        ip_version: if s.ip_version == 6 { 6 } else { 4 },
        gateway_ip: s.gateway_ip.clone(),
        enable_dhcp: s.enable_dhcp,
        allocation_pools: s
            .allocation_pools
            .iter()
            .map(|p| w::AllocationPool {
                start: p.start.clone(),
                end: p.end.clone(),
            })
            .collect(),
        dns_nameservers: s.dns_nameservers.clone(),
        host_routes: s
            .host_routes
            .iter()
            .map(|r| w::HostRoute {
                destination: r.destination.clone(),
                nexthop: r.nexthop.clone(),
            })
            .collect(),
        subnetpool_id: None,
        ipv6_ra_mode: s.ipv6_ra_mode.clone(),
        ipv6_address_mode: s.ipv6_address_mode.clone(),
        project_id: s.project_id.clone(),
        tenant_id: s.project_id.clone(),
        service_types: vec![],
        tags: s.tags.clone(),
        created_at: Some(s.created_at.clone()),
        updated_at: Some(s.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn port_view(p: &Port) -> Value {
    let v = w::Port {
        id: p.id.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        network_id: p.network_id.clone(),
        admin_state_up: p.admin_state_up,
        status: p.status.to_string(),
        mac_address: p.mac_address.clone(),
        fixed_ips: p
            .fixed_ips
            .iter()
            .map(|f| w::FixedIp {
                subnet_id: Some(f.subnet_id.clone()),
                ip_address: Some(f.ip_address.clone()),
            })
            .collect(),
        device_id: p.device_id.clone(),
        device_owner: p.device_owner.clone(),
        security_groups: p.security_groups.clone(),
        port_security_enabled: Some(p.port_security_enabled),
        allowed_address_pairs: p
            .allowed_address_pairs
            .iter()
            .filter_map(|a| serde_json::from_value(a.clone()).ok())
            .collect(),
        extra_dhcp_opts: vec![],
        dns_name: Some(p.dns_name.clone()),
        dns_assignment: None,
        binding_vnic_type: Some("normal".into()),
        binding_host_id: None,
        project_id: p.project_id.clone(),
        tenant_id: p.project_id.clone(),
        tags: p.tags.clone(),
        created_at: Some(p.created_at.clone()),
        updated_at: Some(p.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub(super) fn rule_wire(r: &SgRule) -> w::SecurityGroupRule {
    w::SecurityGroupRule {
        id: r.id.clone(),
        security_group_id: r.security_group_id.clone(),
        direction: r.direction.clone(),
        ethertype: r.ethertype.clone(),
        protocol: r.protocol.clone(),
        port_range_min: r.port_range_min.and_then(|x| u32::try_from(x).ok()),
        port_range_max: r.port_range_max.and_then(|x| u32::try_from(x).ok()),
        remote_ip_prefix: r.remote_ip_prefix.clone(),
        remote_group_id: r.remote_group_id.clone(),
        remote_address_group_id: None,
        description: r.description.clone(),
        project_id: r.project_id.clone(),
        tenant_id: r.project_id.clone(),
        created_at: Some(r.created_at.clone()),
        updated_at: Some(r.updated_at.clone()),
        revision_number: Some(0),
    }
}

pub(super) fn rule_view(r: &SgRule) -> Value {
    serde_json::to_value(rule_wire(r)).unwrap_or(Value::Null)
}

pub(super) fn sg_view(db: &Db, g: &SecurityGroup) -> Value {
    let v = w::SecurityGroup {
        id: g.id.clone(),
        name: g.name.clone(),
        description: g.description.clone(),
        project_id: g.project_id.clone(),
        tenant_id: g.project_id.clone(),
        security_group_rules: db
            .sg_rules
            .values()
            .filter(|r| r.security_group_id == g.id)
            .map(rule_wire)
            .collect(),
        stateful: Some(true),
        shared: Some(false),
        tags: g.tags.clone(),
        created_at: Some(g.created_at.clone()),
        updated_at: Some(g.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub(super) fn router_view(r: &crate::model::Router) -> Value {
    let v = w::Router {
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        status: "ACTIVE".into(),
        admin_state_up: r.admin_state_up,
        external_gateway_info: r
            .external_gateway_info
            .as_ref()
            .map(|g| w::ExternalGatewayInfo {
                network_id: g.network_id.clone(),
                enable_snat: Some(g.enable_snat),
                external_fixed_ips: Some(
                    g.external_fixed_ips
                        .iter()
                        .map(|f| w::FixedIp {
                            subnet_id: Some(f.subnet_id.clone()),
                            ip_address: Some(f.ip_address.clone()),
                        })
                        .collect(),
                ),
            }),
        routes: vec![],
        project_id: r.project_id.clone(),
        tenant_id: r.project_id.clone(),
        distributed: Some(false),
        ha: Some(false),
        availability_zones: Some(vec!["nova".into()]),
        tags: r.tags.clone(),
        created_at: Some(r.created_at.clone()),
        updated_at: Some(r.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn fip_view(f: &FloatingIp) -> Value {
    let v = w::FloatingIp {
        id: f.id.clone(),
        floating_ip_address: f.floating_ip_address.clone(),
        floating_network_id: f.floating_network_id.clone(),
        router_id: f.router_id.clone(),
        port_id: f.port_id.clone(),
        fixed_ip_address: f.fixed_ip_address.clone(),
        status: f.status.to_string(),
        description: f.description.clone(),
        project_id: f.project_id.clone(),
        tenant_id: f.project_id.clone(),
        port_details: None,
        dns_name: None,
        dns_domain: None,
        qos_policy_id: None,
        tags: f.tags.clone(),
        created_at: Some(f.created_at.clone()),
        updated_at: Some(f.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub(super) fn net_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Network {id} could not be found.")).kind("NetworkNotFound")
}
pub(super) fn subnet_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Subnet {id} could not be found.")).kind("SubnetNotFound")
}
pub(super) fn port_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Port {id} could not be found.")).kind("PortNotFound")
}
pub(super) fn sg_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Security group {id} does not exist"))
        .kind("SecurityGroupNotFound")
}
pub(super) fn rule_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Security group rule {id} does not exist"))
        .kind("SecurityGroupRuleNotFound")
}
pub(super) fn router_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Router {id} could not be found")).kind("RouterNotFound")
}
pub(super) fn fip_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Floating IP {id} could not be found"))
        .kind("FloatingIPNotFound")
}

pub(super) const NON_FILTERS: &[&str] = &[
    "limit",
    "marker",
    "fields",
    "sort_key",
    "sort_dir",
    "page_reverse",
    "verbose",
];

pub(super) fn value_matches(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Bool(b) => want.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == want,
        Value::Null => want.is_empty() || want == "None",
        Value::Array(a) => a.iter().any(|x| value_matches(x, want)),
        Value::Object(_) => false,
    }
}

pub(super) fn matches_filters(item: &Value, query: &util::Query) -> bool {
    let mut keys: Vec<&str> = query
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !NON_FILTERS.contains(k))
        .collect();
    keys.dedup();
    keys.iter().all(|key| {
        let wants: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect();
        if let Some(pass) = super::tags::tag_filter(key, &wants, item) {
            return pass;
        }
        wants.iter().any(|want| {
            if *key == "fixed_ips" {
                // `fixed_ips=ip_address=10.0.0.5` or `fixed_ips=subnet_id=…`
                let (fk, fv) = want.split_once('=').unwrap_or(("ip_address", want));
                return item
                    .get("fixed_ips")
                    .and_then(Value::as_array)
                    .is_some_and(|a| {
                        a.iter()
                            .any(|f| f.get(fk).is_some_and(|x| value_matches(x, fv)))
                    });
            }
            if *key == "security_group_id"
                && item.get("security_groups").is_some()
                && item.get("security_group_id").is_none()
            {
                return item
                    .get("security_groups")
                    .is_some_and(|x| value_matches(x, want));
            }
            match item.get(*key) {
                Some(v) => value_matches(v, want),
                // Unknown attributes filter nothing out, as in Neutron.
                None => true,
            }
        })
    })
}

pub(super) fn list_response(
    c: &Cloud,
    plural: &str,
    items: Vec<Value>,
    query: &util::Query,
) -> ApiResult<Json<Value>> {
    let filtered: Vec<Value> = items
        .into_iter()
        .filter(|i| matches_filters(i, query))
        .collect();
    let (limit, marker) = util::page_params(query, S)?;
    let (page, more) = util::paginate(
        filtered,
        |v| v.get("id").and_then(Value::as_str).unwrap_or(""),
        limit,
        marker.as_deref(),
        S,
    )?;
    let fields: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "fields")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut links = Vec::new();
    if more {
        if let Some(last) = page
            .last()
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
        {
            links.push(json!({"rel": "next", "href": c.url(&format!("/networking/v2.0/{plural}?{}", util::next_query(query, last)))}));
        }
    }
    let page: Vec<Value> = if fields.is_empty() {
        page
    } else {
        page.into_iter()
            .map(|v| match v {
                Value::Object(m) => Value::Object(
                    m.into_iter()
                        .filter(|(k, _)| fields.contains(&k.as_str()))
                        .collect(),
                ),
                other => other,
            })
            .collect()
    };
    let mut out = Map::new();
    out.insert(plural.replace('-', "_"), Value::Array(page));
    if !links.is_empty() {
        out.insert(
            format!("{}_links", plural.replace('-', "_")),
            Value::Array(links),
        );
    }
    Ok(Json(Value::Object(out)))
}

pub(super) fn created(key: &str, v: Value) -> Response {
    (StatusCode::CREATED, Json(json!({key: v}))).into_response()
}

pub(super) fn iface_json(router: &crate::model::Router, port: &Port) -> Value {
    let subnet = port
        .fixed_ips
        .first()
        .map(|f| f.subnet_id.clone())
        .unwrap_or_default();
    json!({"id": router.id, "subnet_id": subnet, "subnet_ids": [subnet], "port_id": port.id, "network_id": port.network_id,
           "project_id": router.project_id, "tenant_id": router.project_id, "tags": []})
}
