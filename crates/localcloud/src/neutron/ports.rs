//! HTTP handlers of ports.

use super::*;

pub(super) const PORT_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("port"),
    fields: &[
        req("network_id", Ty::Str),
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("admin_state_up", Ty::BoolLike),
        opt("mac_address", Ty::Str),
        opt("fixed_ips", Ty::Arr),
        opt("device_id", Ty::Str),
        opt("device_owner", Ty::Str),
        opt("security_groups", Ty::Arr),
        opt("port_security_enabled", Ty::BoolLike),
        opt("allowed_address_pairs", Ty::Arr),
        opt("extra_dhcp_opts", Ty::Arr),
        opt("dns_name", Ty::Str),
        opt("dns_domain", Ty::Str),
        opt("binding:vnic_type", Ty::Str),
        opt("binding:host_id", Ty::Str),
        opt("binding:profile", Ty::Obj),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("qos_policy_id", Ty::OptStr),
        opt("propagate_uplink_status", Ty::BoolLike),
        opt("numa_affinity_policy", Ty::OptStr),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

pub(super) const PORT_UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("port"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("admin_state_up", Ty::BoolLike),
        opt("fixed_ips", Ty::Arr),
        opt("device_id", Ty::Str),
        opt("device_owner", Ty::Str),
        opt("security_groups", Ty::Arr),
        opt("port_security_enabled", Ty::BoolLike),
        opt("allowed_address_pairs", Ty::Arr),
        opt("extra_dhcp_opts", Ty::Arr),
        opt("dns_name", Ty::Str),
        opt("binding:vnic_type", Ty::Str),
        opt("binding:host_id", Ty::Str),
        opt("binding:profile", Ty::Obj),
        opt("qos_policy_id", Ty::OptStr),
        opt("mac_address", Ty::Str),
    ],
    additional: false,
    siblings: &[],
};

pub(super) fn parse_fixed_ips(v: Option<&Value>) -> ApiResult<Option<FixedRequest>> {
    let Some(v) = v else { return Ok(None) };
    let arr = v.as_array().ok_or_else(|| {
        ApiError::bad_request(S, "Invalid input for fixed_ips. Reason: not a list.")
    })?;
    let mut out = Vec::new();
    for f in arr {
        let o = f.as_object().ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!("Invalid input for fixed_ips. Reason: '{f}' is not a dictionary."),
            )
        })?;
        for k in o.keys() {
            if k != "subnet_id" && k != "ip_address" {
                return Err(ApiError::bad_request(
                    S,
                    format!("Invalid input for fixed_ips. Reason: Unrecognized attribute '{k}'."),
                ));
            }
        }
        let sid = match o.get("subnet_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(x) => {
                return Err(ApiError::bad_request(
                    S,
                    format!("Invalid input for subnet_id. Reason: '{x}' is not a valid string."),
                ))
            }
        };
        let ipa = match o.get("ip_address") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(x) => {
                return Err(ApiError::bad_request(
                    S,
                    format!(
                        "Invalid input for ip_address. Reason: '{x}' is not a valid IP address."
                    ),
                ))
            }
        };
        out.push((sid, ipa));
    }
    Ok(Some(out))
}

pub(super) async fn list_ports(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.read(|db| {
        db.ports
            .values()
            .filter(|p| port_visible(p, &ctx))
            .map(port_view)
            .collect()
    });
    list_response(&c, "ports", items, &query)
}

pub(super) async fn show_port(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.ports
                .get(&id)
                .filter(|p| port_visible(p, &ctx))
                .map(|p| Json(json!({"port": port_view(p)})))
        })
        .ok_or_else(|| port_not_found(&id))
}

pub(super) fn check_sg_list(m: &Map<String, Value>) -> ApiResult<Option<Vec<String>>> {
    match m.get("security_groups") {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| ApiError::bad_request(S, format!("Invalid input for security_groups. Reason: '{x}' is not a valid string."))))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(x) => Err(ApiError::bad_request(S, format!("Invalid input for security_groups. Reason: '{x}' is not a list."))),
    }
}

pub(super) async fn create_port(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&PORT_SCHEMA, body::parse_json(S, &bytes)?)?;
    let ctx = on_behalf(ctx, &m)?;
    let fixed = parse_fixed_ips(m.get("fixed_ips"))?;
    let sgs = check_sg_list(&m)?;
    let network_id = get_str(&m, "network_id").unwrap_or_default();
    let v = c.store.write(|db| {
        let net = db.networks.get(&network_id).filter(|n| records::network_seen(db, n, &ctx) && !n.external).ok_or_else(|| net_not_found(&network_id))?;
        let pse = get_bool(&m, "port_security_enabled").unwrap_or(net.port_security_enabled);
        if !pse && sgs.as_ref().is_some_and(|g| !g.is_empty()) {
            return Err(ApiError::bad_request(S, "Port has security group associated. Cannot disable port security or ip address until security group is removed").kind("PortSecurityAndIPRequiredForSecurityGroups"));
        }
        let sgs = if pse { sgs.clone() } else { Some(vec![]) };
        let mut port = new_port(db, &ctx.project_id, &network_id, fixed.clone(), &get_str(&m, "device_id").unwrap_or_default(), &get_str(&m, "device_owner").unwrap_or_default(), sgs, &get_str(&m, "name").unwrap_or_default())?;
        port.description = get_str(&m, "description").unwrap_or_default();
        port.admin_state_up = get_bool(&m, "admin_state_up").unwrap_or(true);
        port.port_security_enabled = pse;
        if let Some(mac) = get_str(&m, "mac_address") { ipv6::rebase_eui64(db, &mut port.fixed_ips, &port.mac_address, &mac); port.mac_address = mac; }
        if let Some(Value::Array(a)) = m.get("allowed_address_pairs") { port.allowed_address_pairs = a.clone(); }
        port.dns_name = get_str(&m, "dns_name").unwrap_or_default();
        port.tags = parse_tags(m.get("tags"))?;
        db.ports.insert(port.id.clone(), port.clone());
        Ok(port_view(&port))
    })?;
    Ok(created("port", v))
}

pub(super) async fn update_port(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&PORT_UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let sgs = check_sg_list(&m)?;
    let fixed = parse_fixed_ips(m.get("fixed_ips"))?;
    c.store.write(|db| {
        let port = db.ports.get(&id).filter(|p| port_visible(p, &ctx)).cloned().ok_or_else(|| port_not_found(&id))?;
        if let Some(list) = &sgs {
            for g in list {
                if db.security_groups.mine(&ctx, g).is_none() {
                    return Err(sg_not_found(g));
                }
            }
        }
        let mut port = port;
        if let Some(fixed) = fixed {
            // Re-allocate: drop the old addresses first so they can be kept.
            let old = std::mem::take(&mut port.fixed_ips);
            db.ports.insert(port.id.clone(), port.clone());
            let tmp = new_port(db, &port.project_id, &port.network_id, Some(fixed), "", "network:tmp", Some(vec![]), "");
            match tmp {
                Ok(t) => {
                    db.ports.remove(&t.id);
                    port.fixed_ips = t.fixed_ips;
                    ipv6::rebase_eui64(db, &mut port.fixed_ips, &t.mac_address, &port.mac_address);
                }
                Err(e) => {
                    port.fixed_ips = old;
                    db.ports.insert(port.id.clone(), port);
                    return Err(e);
                }
            }
        }
        if let Some(v) = get_str(&m, "name") { port.name = v; }
        if let Some(v) = get_str(&m, "description") { port.description = v; }
        if let Some(v) = get_bool(&m, "admin_state_up") { port.admin_state_up = v; }
        if let Some(v) = get_str(&m, "device_id") { port.device_id = v; }
        if let Some(v) = get_str(&m, "device_owner") { port.device_owner = v; }
        if let Some(v) = get_bool(&m, "port_security_enabled") { port.port_security_enabled = v; }
        if let Some(v) = sgs { port.security_groups = v; }
        if let Some(Value::Array(a)) = m.get("allowed_address_pairs") { port.allowed_address_pairs = a.clone(); }
        if let Some(v) = get_str(&m, "dns_name") { port.dns_name = v; }
        if let Some(mac) = get_str(&m, "mac_address") {
            port.mac_address = new_mac(db, &ctx, &port, &mac)?;
        }
        if !port.port_security_enabled && !port.security_groups.is_empty() {
            return Err(ApiError::conflict(S, "Port has security group associated. Cannot disable port security or ip address until security group is removed").kind("PortSecurityAndIPRequiredForSecurityGroups"));
        }
        port.status = if port.device_id.is_empty() { NetStatus::Down } else { NetStatus::Active };
        port.updated_at = now();
        db.ports.insert(port.id.clone(), port.clone());
        Ok(Json(json!({"port": port_view(&port)})))
    })
}

pub(super) async fn delete_port(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        let p = db
            .ports
            .get(&id)
            .filter(|p| port_visible(p, &ctx))
            .ok_or_else(|| port_not_found(&id))?;
        if p.device_owner == "network:router_interface"
            || p.device_owner == "network:router_gateway"
        {
            return Err(ApiError::conflict(
                S,
                format!(
                    "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                    p.device_owner
                ),
            )
            .kind("ServicePortInUse"));
        }
        let server = p.device_id.clone();
        remove_port(db, &id);
        if let Some(s) = db.servers.get_mut(&server) {
            s.ports.retain(|x| x != &id);
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- security groups

/// An admin's new MAC address for a port (Neutron's policy keeps it to admins): well-formed,
/// neither all zeros nor broadcast, not another port's on the network, and not while a server uses the port.
fn new_mac(db: &Db, ctx: &Ctx, port: &Port, mac: &str) -> ApiResult<String> {
    if !ctx.is_admin() {
        return Err(
            ApiError::forbidden(S, "rule:update_port:mac_address is disallowed by policy")
                .kind("PolicyNotAuthorized"),
        );
    }
    let octets: Vec<&str> = mac.split(':').collect();
    let valid = octets.len() == 6
        && octets
            .iter()
            .all(|o| o.len() == 2 && u8::from_str_radix(o, 16).is_ok());
    let all_same = |b: &str| octets.iter().all(|o| o.eq_ignore_ascii_case(b));
    if !valid || all_same("00") || all_same("ff") {
        return Err(ApiError::bad_request(
            S,
            format!("Invalid input for mac_address. Reason: '{mac}' is not a valid MAC address."),
        )
        .kind("InvalidInput"));
    }
    let mac = mac.to_ascii_lowercase();
    if mac == port.mac_address.to_ascii_lowercase() {
        return Ok(mac);
    }
    if port.device_owner.starts_with("compute:") && !port.device_id.is_empty() {
        return Err(ApiError::conflict(S, format!("Unable to complete operation on port {}, port is already bound, port type: ovs, old_mac {}, new_mac {mac}.", port.id, port.mac_address)).kind("PortBound"));
    }
    if db.ports.values().any(|p| {
        p.id != port.id
            && p.network_id == port.network_id
            && p.mac_address.eq_ignore_ascii_case(&mac)
    }) {
        return Err(ApiError::conflict(
            S,
            format!(
                "Unable to complete operation for network {}. The mac address {mac} is in use.",
                port.network_id
            ),
        )
        .kind("MacAddressInUse"));
    }
    Ok(mac)
}
