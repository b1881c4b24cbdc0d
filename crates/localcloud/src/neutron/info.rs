//! Versions, extensions and `available-sdn`.

use super::*;

pub(super) fn sdn_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(w::SDN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase())
}

pub(super) async fn versions(State(c): State<AppState>) -> Json<Value> {
    Json(
        json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": c.url("/networking/v2.0/"), "rel": "self"}]}]}),
    )
}

pub(super) async fn version(State(c): State<AppState>) -> Json<Value> {
    let resources: Vec<Value> = ["network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule"]
        .iter()
        .map(|r| {
            let plural = if *r == "security_group" { "security-groups".to_owned() } else if *r == "security_group_rule" { "security-group-rules".to_owned() } else { format!("{r}s") };
            json!({"name": r, "collection": plural, "links": [{"href": c.url(&format!("/networking/v2.0/{plural}")), "rel": "self"}]})
        })
        .collect();
    Json(json!({"resources": resources}))
}

pub(super) const EXTENSIONS: &[(&str, &str)] = &[
    ("router", "Neutron L3 Router"),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode"),
    ("security-group", "security-group"),
    ("port-security", "Port Security"),
    ("external-net", "Neutron external network"),
    ("binding", "Port Binding"),
    ("standard-attr-description", "standard-attr-description"),
    ("standard-attr-timestamp", "Resource timestamps"),
    ("standard-attr-tag", "Tag support for resources with standard attribute: port, subnet, network, router, floatingip, security_group"),
    ("tag-creation", "Tag support for resources during creation"),
    ("allowed-address-pairs", "Allowed Address Pairs"),
    ("net-mtu", "Network MTU"),
    ("quotas", "Quota management support"),
    ("quota_details", "Quota details management support"),
    ("project-id", "project_id field enabled"),
    ("pagination", "Pagination support"),
    ("dns-integration", "DNS Integration"),
    // Optional extensions whose resources `records.rs` keeps.
    ("qos", "Quality of Service"),
    ("qos-bw-limit-direction", "Direction for QoS bandwidth limit rule"),
    ("qos-bw-minimum-ingress", "Ingress direction for QoS minimum bandwidth rule"),
    ("qos-default", "QoS default policy"),
    ("qos-rule-type-details", "Details of QoS rule types"),
    ("qos-rule-type-filter", "QoS rule type filter"),
    ("qos-pps-minimum", "QoS minimum packet rate rule"),
    ("qos-pps", "QoS packet rate limit rule"),
    ("address-scope", "Address scope"),
    ("subnet_allocation", "Subnet Allocation"),
    ("address-group", "Address group"),
    ("rbac-policies", "RBAC Policies"),
    ("rbac-address-scope", "Add address_scope type to RBAC"),
    ("rbac-subnetpool", "Add subnetpool type to RBAC"),
    ("rbac-address-group", "Add address_group type to RBAC"),
    ("segment", "Segment"),
    ("standard-attr-segment", "Standard attributes on segments"),
    ("network-segment-range", "Network Segment Range"),
    ("trunk", "Trunk Extension"),
    ("metering", "Neutron Metering"),
    ("flavors", "Neutron Service Flavors"),
    ("local-ip", "Local IP"),
    ("l3-conntrack-helper", "Router conntrack helpers"),
    ("expose-l3-conntrack-helper", "Expose CT target rules for routers"),
    ("security-groups-default-rules", "Default rules for security groups"),
    ("network-ip-availability", "Network IP Availability"),
    ("extraroute", "Neutron Extra Route"),
    ("extraroute-atomic", "Atomically add/remove extra routes"),
];

pub(super) fn ext_json(alias: &str, name: &str) -> Value {
    json!({"alias": alias, "name": name, "description": name, "updated": "2013-01-20T00:00:00-00:00", "links": []})
}

pub(super) async fn extensions() -> Json<Value> {
    Json(json!({"extensions": EXTENSIONS.iter().map(|(a, n)| ext_json(a, n)).collect::<Vec<_>>()}))
}

pub(super) async fn extension(Path(alias): Path<String>) -> ApiResult<Json<Value>> {
    EXTENSIONS
        .iter()
        .find(|(a, _)| *a == alias)
        .map(|(a, n)| Json(json!({"extension": ext_json(a, n)})))
        .ok_or_else(|| {
            ApiError::not_found(S, format!("Extension with alias {alias} does not exist"))
        })
}

pub(super) async fn available_sdn(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<w::AvailableSdn>> {
    c.auth(&headers, S)?;
    Ok(Json(vec!["neutron".into(), "sprut".into()]))
}

// --- networks
