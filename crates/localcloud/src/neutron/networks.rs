//! HTTP handlers of networks.

use super::*;

pub(super) const NET_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("network"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("admin_state_up", Ty::BoolLike),
        opt("shared", Ty::BoolLike),
        opt("port_security_enabled", Ty::BoolLike),
        opt("router:external", Ty::BoolLike),
        opt("mtu", Ty::IntLike),
        opt("dns_domain", Ty::Str),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("availability_zone_hints", Ty::Arr),
        opt("qos_policy_id", Ty::OptStr),
        opt("is_default", Ty::BoolLike),
        opt("tags", Ty::Arr),
        opt("provider:network_type", Ty::Str),
        opt("provider:physical_network", Ty::Str),
        opt("provider:segmentation_id", Ty::IntLike),
    ],
    additional: false,
    siblings: &[],
};

pub(super) async fn list_networks(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let sdn = sdn_header(&headers);
    let items = c.store.read(|db| {
        db.networks
            .values()
            .filter(|n| records::network_seen(db, n, &ctx))
            .filter(|n| sdn.as_ref().is_none_or(|s| &n.sdn == s))
            .map(|n| net_view(db, n))
            .collect()
    });
    list_response(&c, "networks", items, &query)
}

pub(super) async fn show_network(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.networks
                .get(&id)
                .filter(|n| records::network_seen(db, n, &ctx))
                .map(|n| Json(json!({"network": net_view(db, n)})))
        })
        .ok_or_else(|| net_not_found(&id))
}

pub(super) async fn create_network(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&NET_SCHEMA, body::parse_json(S, &bytes)?)?;
    let ctx = on_behalf(ctx, &m)?;
    if (get_bool(&m, "router:external") == Some(true) || get_bool(&m, "shared") == Some(true))
        && !ctx.is_admin()
    {
        return Err(ApiError::forbidden(
            S,
            "(rule:create_network and rule:create_network:shared) is disallowed by policy",
        )
        .kind("PolicyNotAuthorized"));
    }
    let sdn = sdn_header(&headers).unwrap_or_else(|| "neutron".into());
    if sdn != "neutron" && sdn != "sprut" {
        return Err(ApiError::bad_request(
            S,
            format!("Invalid SDN `{sdn}`: use neutron or sprut"),
        ));
    }
    let t = now();
    let n = Network {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        name: get_str(&m, "name").unwrap_or_default(),
        description: get_str(&m, "description").unwrap_or_default(),
        admin_state_up: get_bool(&m, "admin_state_up").unwrap_or(true),
        shared: get_bool(&m, "shared").unwrap_or(false),
        external: get_bool(&m, "router:external").unwrap_or(false),
        mtu: get_int(&m, "mtu").unwrap_or(1500),
        port_security_enabled: get_bool(&m, "port_security_enabled").unwrap_or(true),
        sdn,
        tags: parse_tags(m.get("tags"))?,
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        check_quota(db, &ctx.project_id, "network", 1)?;
        ensure_default_sg(db, &ctx.project_id);
        db.networks.insert(n.id.clone(), n.clone());
        Ok::<_, ApiError>(net_view(db, &n))
    })?;
    Ok(created("network", v))
}

pub(super) async fn update_network(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&NET_SCHEMA, body::parse_json(S, &bytes)?)?;
    if (m.contains_key("shared") || m.contains_key("router:external")) && !ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "(rule:update_network and rule:update_network:shared) is disallowed by policy",
        )
        .kind("PolicyNotAuthorized"));
    }
    c.store.write(|db| {
        if get_bool(&m, "router:external") == Some(false)
            && (db.floating_ips.values().any(|f| f.floating_network_id == id)
                || db.routers.values().any(|r| {
                    r.external_gateway_info
                        .as_ref()
                        .is_some_and(|g| g.network_id == id)
                }))
        {
            return Err(ApiError::conflict(
                S,
                format!("External network {id} cannot be updated to be made non-external, since it has existing gateway ports or floating IPs."),
            )
            .kind("ExternalNetworkInUse"));
        }
        let n = db
            .networks
            .mine_mut(&ctx, &id)
            .ok_or_else(|| net_not_found(&id))?;
        // An admin makes a network shared or external after create, as with create.
        if let Some(v) = get_bool(&m, "shared") {
            n.shared = v;
        }
        if let Some(v) = get_bool(&m, "router:external") {
            n.external = v;
        }
        if let Some(v) = get_str(&m, "name") {
            n.name = v;
        }
        if let Some(v) = get_str(&m, "description") {
            n.description = v;
        }
        if let Some(v) = get_bool(&m, "admin_state_up") {
            n.admin_state_up = v;
        }
        if let Some(v) = get_bool(&m, "port_security_enabled") {
            n.port_security_enabled = v;
        }
        if let Some(v) = get_int(&m, "mtu") {
            n.mtu = v;
        }
        n.updated_at = now();
        let n = n.clone();
        Ok(Json(json!({"network": net_view(db, &n)})))
    })
}

pub(super) async fn delete_network(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.networks.mine(&ctx, &id).ok_or_else(|| net_not_found(&id))?;
        if db.ports.values().any(|p| p.network_id == id && p.device_owner != "network:dhcp") {
            return Err(ApiError::conflict(S, format!("Unable to complete operation on network {id}. There are one or more ports still in use on the network.")).kind("NetworkInUse"));
        }
        db.subnets.retain(|_, s| s.network_id != id);
        db.networks.remove(&id);
        records::remove_children(db, "network", &id);
        sync_dhcp_port(db, &id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- subnets
