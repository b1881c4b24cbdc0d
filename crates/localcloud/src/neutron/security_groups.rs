//! HTTP handlers of security groups and their rules.

use super::*;

pub(super) const SG_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("security_group"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("stateful", Ty::BoolLike),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

pub(super) async fn list_sgs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.write(|db| {
        ensure_default_sg(db, &ctx.project_id);
        db.security_groups
            .listed(&ctx, true)
            .map(|g| sg_view(db, g))
            .collect()
    });
    list_response(&c, "security_groups", items, &query).map(|Json(mut v)| {
        // Collection key is `security_groups`.
        if let Some(o) = v.as_object_mut() {
            if let Some(l) = o.remove("security_groups_links") {
                o.insert("security_groups_links".into(), l);
            }
        }
        Json(v)
    })
}

pub(super) async fn show_sg(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.security_groups
                .mine(&ctx, &id)
                .map(|g| Json(json!({"security_group": sg_view(db, g)})))
        })
        .ok_or_else(|| sg_not_found(&id))
}

pub(super) async fn create_sg(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&SG_SCHEMA, body::parse_json(S, &bytes)?)?;
    let ctx = on_behalf(ctx, &m)?;
    let name = get_str(&m, "name").unwrap_or_default();
    if name == "default" {
        return Err(
            ApiError::conflict(S, "Default security group already exists.")
                .kind("SecurityGroupDefaultAlreadyExists"),
        );
    }
    let t = now();
    let g = SecurityGroup {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        name,
        description: get_str(&m, "description").unwrap_or_default(),
        tags: parse_tags(m.get("tags"))?,
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        ensure_default_sg(db, &ctx.project_id);
        check_quota(db, &ctx.project_id, "security_group", 1)?;
        check_quota(db, &ctx.project_id, "security_group_rule", 2)?;
        db.security_groups.insert(g.id.clone(), g.clone());
        add_rule(db, &ctx.project_id, &g.id, "egress", "IPv4", None);
        add_rule(db, &ctx.project_id, &g.id, "egress", "IPv6", None);
        Ok::<_, ApiError>(sg_view(db, &g))
    })?;
    Ok(created("security_group", v))
}

pub(super) async fn update_sg(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&SG_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        let g = db
            .security_groups
            .mine_mut(&ctx, &id)
            .ok_or_else(|| sg_not_found(&id))?;
        if let Some(v) = get_str(&m, "name") {
            g.name = v;
        }
        if let Some(v) = get_str(&m, "description") {
            g.description = v;
        }
        g.updated_at = now();
        let g = g.clone();
        Ok(Json(json!({"security_group": sg_view(db, &g)})))
    })
}

pub(super) async fn delete_sg(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.security_groups
            .mine(&ctx, &id)
            .ok_or_else(|| sg_not_found(&id))?;
        if db.ports.values().any(|p| p.security_groups.contains(&id)) {
            return Err(
                ApiError::conflict(S, format!("Security Group {id} in use."))
                    .kind("SecurityGroupInUse"),
            );
        }
        db.security_groups.remove(&id);
        db.sg_rules.retain(|_, r| r.security_group_id != id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- security group rules

pub(super) const RULE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("security_group_rule"),
    fields: &[
        req("security_group_id", Ty::Str),
        req("direction", Ty::Str),
        opt("ethertype", Ty::Str),
        opt("protocol", Ty::Any),
        opt("port_range_min", Ty::Any),
        opt("port_range_max", Ty::Any),
        opt("remote_ip_prefix", Ty::OptStr),
        opt("remote_group_id", Ty::OptStr),
        opt("remote_address_group_id", Ty::OptStr),
        opt("description", Ty::Str),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("normalized_cidr", Ty::OptStr),
    ],
    additional: false,
    siblings: &[],
};

pub(super) const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmpv6", 58),
    ("sctp", 132),
    ("ipv6-icmp", 58),
    ("vrrp", 112),
];

pub(super) fn opt_port(m: &Map<String, Value>, k: &str) -> ApiResult<Option<i64>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match crate::body::int_like(v) {
            Some(n) if (0..=65535).contains(&n) => Ok(Some(n)),
            _ => Err(
                ApiError::bad_request(S, format!("Invalid value for port {v}."))
                    .kind("SecurityGroupInvalidPortValue"),
            ),
        },
    }
}

pub(super) async fn list_rules(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c
        .store
        .read(|db| db.sg_rules.listed(&ctx, true).map(rule_view).collect());
    list_response(&c, "security_group_rules", items, &query)
}

pub(super) async fn show_rule(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.sg_rules
                .mine(&ctx, &id)
                .map(|r| Json(json!({"security_group_rule": rule_view(r)})))
        })
        .ok_or_else(|| rule_not_found(&id))
}

pub(super) async fn create_rule(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&RULE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let ctx = on_behalf(ctx, &m)?;
    let direction = get_str(&m, "direction").unwrap_or_default();
    if direction != "ingress" && direction != "egress" {
        return Err(ApiError::bad_request(S, format!("Invalid input for direction. Reason: {direction} is not in valid_values ['ingress', 'egress'].")));
    }
    let ethertype = get_str(&m, "ethertype").unwrap_or_else(|| "IPv4".into());
    if ethertype != "IPv4" && ethertype != "IPv6" {
        return Err(ApiError::bad_request(S, format!("Invalid input for ethertype. Reason: {ethertype} is not in valid_values ['IPv4', 'IPv6'].")));
    }
    let protocol = match m.get("protocol") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.is_empty() || p == "any" => None,
        Some(v) => {
            let s = match v {
                Value::String(s) => s.to_ascii_lowercase(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            let ok = PROTOCOLS.iter().any(|(n, _)| *n == s) || s.parse::<u8>().is_ok();
            if !ok {
                return Err(ApiError::bad_request(S, format!("Security group rule protocol {v} not supported. Only protocol values [None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'icmp', 'icmpv6', 'igmp', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'] and integer representations [0 to 255] are supported.")).kind("SecurityGroupRuleInvalidProtocol"));
            }
            Some(s)
        }
    };
    let pmin = opt_port(&m, "port_range_min")?;
    let pmax = opt_port(&m, "port_range_max")?;
    if let (Some(a), Some(b)) = (pmin, pmax) {
        if a > b && protocol.as_deref() != Some("icmp") {
            return Err(ApiError::bad_request(
                S,
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )
            .kind("SecurityGroupInvalidPortRange"));
        }
    }
    if (pmin.is_some() || pmax.is_some()) && protocol.is_none() {
        return Err(
            ApiError::bad_request(S, "Must also specify protocol if port range is given.")
                .kind("SecurityGroupProtocolRequiredWithPorts"),
        );
    }
    let remote_ip = get_str(&m, "remote_ip_prefix");
    let remote_group = get_str(&m, "remote_group_id");
    if remote_ip.is_some() && remote_group.is_some() {
        return Err(ApiError::bad_request(
            S,
            "Only remote_ip_prefix or remote_group_id may be provided.",
        )
        .kind("SecurityGroupRemoteGroupAndRemoteIpPrefix"));
    }
    let remote_ip = match remote_ip {
        Some(p) => {
            let norm = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/32")
            };
            match Cidr::parse(&norm) {
                Some(c) => Some(c.to_string()),
                None if ethertype == "IPv6" => Some(p),
                None => return Err(ApiError::bad_request(S, format!("Invalid input for remote_ip_prefix. Reason: '{p}' is not a valid IP subnet."))),
            }
        }
        None => None,
    };
    let sg_id = get_str(&m, "security_group_id").unwrap_or_default();
    let t = now();
    let r = SgRule {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        security_group_id: sg_id.clone(),
        direction,
        ethertype,
        protocol,
        port_range_min: pmin,
        port_range_max: pmax,
        remote_ip_prefix: remote_ip,
        remote_group_id: remote_group.clone(),
        description: get_str(&m, "description").unwrap_or_default(),
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        check_quota(db, &r.project_id, "security_group_rule", 1)?;
        db.security_groups
            .mine(&ctx, &sg_id)
            .ok_or_else(|| sg_not_found(&sg_id))?;
        if let Some(g) = &remote_group {
            db.security_groups
                .mine(&ctx, g)
                .ok_or_else(|| sg_not_found(g))?;
        }
        if let Some(dup) = db.sg_rules.values().find(|x| {
            x.security_group_id == r.security_group_id
                && x.direction == r.direction
                && x.ethertype == r.ethertype
                && x.protocol == r.protocol
                && x.port_range_min == r.port_range_min
                && x.port_range_max == r.port_range_max
                && x.remote_ip_prefix == r.remote_ip_prefix
                && x.remote_group_id == r.remote_group_id
        }) {
            return Err(ApiError::conflict(
                S,
                format!("Security group rule already exists. Rule id is {}.", dup.id),
            )
            .kind("SecurityGroupRuleExists"));
        }
        db.sg_rules.insert(r.id.clone(), r.clone());
        Ok(rule_view(&r))
    })?;
    Ok(created("security_group_rule", v))
}

pub(super) async fn delete_rule(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.sg_rules
            .mine(&ctx, &id)
            .ok_or_else(|| rule_not_found(&id))?;
        db.sg_rules.remove(&id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- routers
