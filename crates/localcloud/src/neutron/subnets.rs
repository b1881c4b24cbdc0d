//! HTTP handlers of subnets.

use super::*;

pub(super) const SUBNET_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("subnet"),
    fields: &[
        req("network_id", Ty::Str),
        req("ip_version", Ty::IntLike),
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("cidr", Ty::Str),
        opt("prefixlen", Ty::IntLike),
        opt("gateway_ip", Ty::OptStr),
        opt("enable_dhcp", Ty::BoolLike),
        opt("allocation_pools", Ty::Arr),
        opt("dns_nameservers", Ty::Arr),
        opt("host_routes", Ty::Arr),
        opt("subnetpool_id", Ty::OptStr),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("ipv6_ra_mode", Ty::OptStr),
        opt("ipv6_address_mode", Ty::OptStr),
        opt("service_types", Ty::Arr),
        opt("segment_id", Ty::OptStr),
        opt("use_default_subnetpool", Ty::BoolLike),
        opt("dns_publish_fixed_ip", Ty::BoolLike),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

pub(super) const SUBNET_UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("subnet"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("gateway_ip", Ty::OptStr),
        opt("enable_dhcp", Ty::BoolLike),
        opt("allocation_pools", Ty::Arr),
        opt("dns_nameservers", Ty::Arr),
        opt("host_routes", Ty::Arr),
        opt("service_types", Ty::Arr),
        opt("segment_id", Ty::OptStr),
        opt("dns_publish_fixed_ip", Ty::BoolLike),
    ],
    additional: false,
    siblings: &[],
};

pub(super) fn parse_pools(v: Option<&Value>, cidr: &Cidr) -> ApiResult<Option<Vec<Pool>>> {
    let Some(v) = v else { return Ok(None) };
    let arr = v.as_array().ok_or_else(|| {
        ApiError::bad_request(S, "Invalid input for allocation_pools. Reason: not a list.")
    })?;
    let mut pools = Vec::new();
    for p in arr {
        let start = p.get("start").and_then(Value::as_str);
        let end = p.get("end").and_then(Value::as_str);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(ApiError::bad_request(S, format!("Invalid input for allocation_pools. Reason: Invalid data format for IP pool: '{p}'.")));
        };
        let (Some(s), Some(e)) = (ip(start), ip(end)) else {
            return Err(ApiError::bad_request(S, format!("Invalid input for allocation_pools. Reason: '{start}' is not a valid IP address.")));
        };
        if s > e || !cidr.contains(s) || !cidr.contains(e) {
            return Err(ApiError::bad_request(
                S,
                format!("The allocation pool {start}-{end} spans beyond the subnet cidr {cidr}."),
            )
            .kind("OutOfBoundsAllocationPool"));
        }
        pools.push(Pool {
            start: start.into(),
            end: end.into(),
        });
    }
    Ok(Some(pools))
}

/// `host_routes` of a subnet body: each `destination` an IPv4 CIDR, each `nexthop` an IPv4
/// address (Neutron's checks).
pub(super) fn parse_host_routes(v: Option<&Value>) -> ApiResult<Option<Vec<HostRoute>>> {
    let Some(v) = v else { return Ok(None) };
    let bad = |why: String| {
        ApiError::bad_request(S, format!("Invalid input for host_routes. Reason: {why}"))
    };
    let arr = v.as_array().ok_or_else(|| bad("not a list.".into()))?;
    let mut out: Vec<HostRoute> = Vec::new();
    for r in arr {
        let dest = r.get("destination").and_then(Value::as_str);
        let hop = r.get("nexthop").and_then(Value::as_str);
        let (Some(dest), Some(hop)) = (dest, hop) else {
            return Err(bad(format!("Validation of dictionary's keys failed. Expected keys: {{'destination', 'nexthop'}} Provided keys: {r}.")));
        };
        let cidr =
            Cidr::parse(dest).ok_or_else(|| bad(format!("'{dest}' is not a valid IP subnet.")))?;
        let hop_ip = ip(hop).ok_or_else(|| bad(format!("'{hop}' is not a valid IP address.")))?;
        let route = HostRoute {
            destination: cidr.to_string(),
            nexthop: ip_str(hop_ip),
        };
        if out.contains(&route) {
            return Err(bad(format!("Duplicate hostroute '{dest}'.")));
        }
        out.push(route);
    }
    Ok(Some(out))
}

/// `dns_nameservers` of a subnet body: IP addresses, no duplicates.
pub(super) fn parse_nameservers(m: &Map<String, Value>) -> ApiResult<Option<Vec<String>>> {
    if !m.contains_key("dns_nameservers") {
        return Ok(None);
    }
    let list = get_str_list(m, "dns_nameservers");
    let mut out: Vec<String> = Vec::new();
    for d in list {
        let Ok(a) = d.trim().parse::<std::net::IpAddr>() else {
            return Err(ApiError::bad_request(
                S,
                format!(
                    "Invalid input for dns_nameservers. Reason: '{d}' is not a valid nameserver."
                ),
            ));
        };
        let a = a.to_string();
        if out.contains(&a) {
            return Err(ApiError::bad_request(
                S,
                format!("Invalid input for dns_nameservers. Reason: Duplicate nameserver '{a}'."),
            ));
        }
        out.push(a);
    }
    Ok(Some(out))
}

pub(super) async fn list_subnets(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.read(|db| {
        db.subnets
            .values()
            .filter(|s| {
                ctx.owns(*s)
                    || db
                        .networks
                        .get(&s.network_id)
                        .is_some_and(|n| records::network_seen(db, n, &ctx))
            })
            .map(subnet_view)
            .collect()
    });
    list_response(&c, "subnets", items, &query)
}

pub(super) async fn show_subnet(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.subnets
                .get(&id)
                .filter(|s| subnet_visible(db, s, &ctx))
                .map(|s| Json(json!({"subnet": subnet_view(s)})))
        })
        .ok_or_else(|| subnet_not_found(&id))
}

pub(super) async fn create_subnet(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&SUBNET_SCHEMA, body::parse_json(S, &bytes)?)?;
    let ctx = on_behalf(ctx, &m)?;
    match get_int(&m, "ip_version") {
        Some(4) => ipv6::check_v4_body(&m)?,
        Some(6) => return ipv6::create_subnet(&c, &ctx, &m),
        v => {
            let shown = v.map_or_else(|| "None".to_owned(), |v| v.to_string());
            return Err(ApiError::bad_request(
                S,
                format!("Invalid input for ip_version. Reason: {shown} is not in [4, 6]."),
            ));
        }
    }
    let cidr_s = get_str(&m, "cidr").ok_or_else(|| {
        ApiError::bad_request(
            S,
            "Bad subnets request: a cidr must be specified in the absence of a subnet pool.",
        )
    })?;
    let cidr = Cidr::parse(&cidr_s).ok_or_else(|| {
        ApiError::bad_request(
            S,
            format!("Invalid input for cidr. Reason: '{cidr_s}' is not a valid IP subnet."),
        )
    })?;
    if cidr.prefix > 30 {
        return Err(ApiError::bad_request(
            S,
            format!("Invalid input for operation: Invalid CIDR {cidr_s} for IPv4 subnet."),
        )
        .kind("InvalidInput"));
    }
    let network_id = get_str(&m, "network_id").unwrap_or_default();
    let gateway = match m.get("gateway_ip") {
        Some(Value::Null) => None,
        Some(Value::String(g)) => {
            let n = ip(g).ok_or_else(|| {
                ApiError::bad_request(
                    S,
                    format!(
                        "Invalid input for gateway_ip. Reason: '{g}' is not a valid IP address."
                    ),
                )
            })?;
            if !cidr.contains(n) || n == cidr.net || n == cidr.broadcast() {
                return Err(ApiError::bad_request(
                    S,
                    format!(
                        "Invalid input for operation: Gateway is not valid on subnet {cidr_s}."
                    ),
                )
                .kind("InvalidInput"));
            }
            Some(n)
        }
        _ => Some(cidr.net + 1),
    };
    let pools = match parse_pools(m.get("allocation_pools"), &cidr)? {
        Some(p) => {
            if let Some(g) = gateway {
                for pool in &p {
                    if ip(&pool.start).is_some_and(|s| s <= g)
                        && ip(&pool.end).is_some_and(|e| g <= e)
                    {
                        return Err(ApiError::conflict(
                            S,
                            format!(
                                "Gateway ip {} conflicts with allocation pool {}-{}",
                                ip_str(g),
                                pool.start,
                                pool.end
                            ),
                        )
                        .kind("GatewayConflictWithAllocationPools"));
                    }
                }
            }
            p
        }
        None => {
            // The whole range minus network, broadcast and gateway (split around the gateway).
            let first = cidr.net + 1;
            let last = cidr.broadcast() - 1;
            let mut p = Vec::new();
            match gateway {
                Some(g) if g >= first && g <= last => {
                    if g > first {
                        p.push(Pool {
                            start: ip_str(first),
                            end: ip_str(g - 1),
                        });
                    }
                    if g < last {
                        p.push(Pool {
                            start: ip_str(g + 1),
                            end: ip_str(last),
                        });
                    }
                }
                _ => p.push(Pool {
                    start: ip_str(first),
                    end: ip_str(last),
                }),
            }
            p
        }
    };
    let t = now();
    let sub = Subnet {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        network_id: network_id.clone(),
        name: get_str(&m, "name").unwrap_or_default(),
        description: get_str(&m, "description").unwrap_or_default(),
        cidr: cidr.to_string(),
        gateway_ip: gateway.map(ip_str),
        allocation_pools: pools,
        enable_dhcp: get_bool(&m, "enable_dhcp").unwrap_or(true),
        dns_nameservers: parse_nameservers(&m)?.unwrap_or_default(),
        host_routes: parse_host_routes(m.get("host_routes"))?.unwrap_or_default(),
        ip_version: 4,
        ipv6_ra_mode: None,
        ipv6_address_mode: None,
        tags: parse_tags(m.get("tags"))?,
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        let net = db.networks.get(&network_id).filter(|n| ctx.reaches(*n) || n.shared).ok_or_else(|| net_not_found(&network_id))?;
        let _ = net;
        check_quota(db, &sub.project_id, "subnet", 1)?;
        for other in db.subnets.values().filter(|s| s.network_id == network_id) {
            if Cidr::parse(&other.cidr).is_some_and(|o| o.overlaps(&cidr)) {
                return Err(ApiError::bad_request(S, format!("Invalid input for operation: Requested subnet with cidr: {cidr} for network: {network_id} overlaps with another subnet.")).kind("InvalidInput"));
            }
        }
        db.subnets.insert(sub.id.clone(), sub.clone());
        sync_dhcp_port(db, &network_id);
        Ok(subnet_view(&sub))
    })?;
    Ok(created("subnet", v))
}

pub(super) async fn update_subnet(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&SUBNET_UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let nameservers = parse_nameservers(&m)?;
    // Checked against the subnet's version once it is known.
    let host_routes = parse_host_routes(m.get("host_routes"));
    c.store.write(|db| {
        let s = db
            .subnets
            .mine_mut(&ctx, &id)
            .ok_or_else(|| subnet_not_found(&id))?;
        let host_routes = if s.ip_version == 6 {
            ipv6::update_routes(&m)?
        } else {
            host_routes?
        };
        if let Some(v) = get_str(&m, "name") {
            s.name = v;
        }
        if let Some(v) = get_str(&m, "description") {
            s.description = v;
        }
        if let Some(v) = get_bool(&m, "enable_dhcp") {
            s.enable_dhcp = v;
        }
        if let Some(v) = nameservers {
            s.dns_nameservers = v;
        }
        if let Some(v) = host_routes {
            s.host_routes = v;
        }
        if s.ip_version == 6 {
            if let Some(p) = ipv6::update_pools(s, &m)? {
                s.allocation_pools = p;
            }
        } else if let Some(cidr) = Cidr::parse(&s.cidr) {
            if let Some(p) = parse_pools(m.get("allocation_pools"), &cidr)? {
                s.allocation_pools = p;
            }
        }
        match m.get("gateway_ip") {
            Some(Value::Null) => s.gateway_ip = None,
            Some(Value::String(g)) => s.gateway_ip = Some(g.clone()),
            _ => {}
        }
        s.updated_at = now();
        let view = subnet_view(s);
        let net = s.network_id.clone();
        sync_dhcp_port(db, &net);
        Ok(Json(json!({"subnet": view})))
    })
}

pub(super) async fn delete_subnet(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        let net = db.subnets.mine(&ctx, &id).ok_or_else(|| subnet_not_found(&id))?.network_id.clone();
        // The DHCP port's address does not keep a subnet (Neutron removes it with the subnet).
        if db.ports.values().any(|p| p.device_owner != DHCP_OWNER && p.fixed_ips.iter().any(|f| f.subnet_id == id)) {
            return Err(ApiError::conflict(S, format!("Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet.")).kind("SubnetInUse"));
        }
        db.subnets.remove(&id);
        sync_dhcp_port(db, &net);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- ports
