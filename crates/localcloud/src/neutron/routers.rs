//! HTTP handlers of routers and their interfaces.

use super::*;

pub(super) const ROUTER_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("router"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("admin_state_up", Ty::BoolLike),
        opt("external_gateway_info", Ty::Any),
        opt("distributed", Ty::BoolLike),
        opt("ha", Ty::BoolLike),
        opt("availability_zone_hints", Ty::Arr),
        opt("flavor_id", Ty::OptStr),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("routes", Ty::Arr),
        opt("enable_ndp_proxy", Ty::BoolLike),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

pub(super) async fn list_routers(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.read(|db| {
        db.routers
            .listed(&ctx, true)
            .map(|r| router_full(db, r))
            .collect()
    });
    list_response(&c, "routers", items, &query)
}

pub(super) async fn show_router(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.routers
                .mine(&ctx, &id)
                .map(|r| Json(json!({"router": router_full(db, r)})))
        })
        .ok_or_else(|| router_not_found(&id))
}

pub(super) async fn create_router(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&ROUTER_SCHEMA, body::parse_json(S, &bytes)?)?;
    let ctx = on_behalf(ctx, &m)?;
    let t = now();
    let r = crate::model::Router {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        name: get_str(&m, "name").unwrap_or_default(),
        description: get_str(&m, "description").unwrap_or_default(),
        admin_state_up: get_bool(&m, "admin_state_up").unwrap_or(true),
        external_gateway_info: None,
        routes: Vec::new(),
        tags: parse_tags(m.get("tags"))?,
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        check_quota(db, &r.project_id, "router", 1)?;
        db.routers.insert(r.id.clone(), r.clone());
        if let Some(info) = m.get("external_gateway_info") {
            if let Err(e) = set_gateway(db, &r.id, info) {
                db.routers.remove(&r.id);
                return Err(e);
            }
        }
        Ok(db
            .routers
            .get(&r.id)
            .map(|r| router_full(db, r))
            .unwrap_or(Value::Null))
    })?;
    Ok(created("router", v))
}

pub(super) async fn update_router(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&ROUTER_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        db.routers
            .mine(&ctx, &id)
            .ok_or_else(|| router_not_found(&id))?;
        if let Some(info) = m.get("external_gateway_info") {
            set_gateway(db, &id, info)?;
        }
        let routes = match m.get("routes") {
            Some(v) => {
                let routes = parse_routes(Some(v))?;
                check_nexthops(db, &id, &routes)?;
                Some(routes)
            }
            None => None,
        };
        let r = db
            .routers
            .get_mut(&id)
            .ok_or_else(|| router_not_found(&id))?;
        if let Some(v) = get_str(&m, "name") {
            r.name = v;
        }
        if let Some(v) = get_str(&m, "description") {
            r.description = v;
        }
        if let Some(v) = get_bool(&m, "admin_state_up") {
            r.admin_state_up = v;
        }
        if let Some(routes) = routes {
            r.routes = routes;
        }
        r.updated_at = now();
        let r = r.clone();
        Ok(Json(json!({"router": router_full(db, &r)})))
    })
}

pub(super) async fn delete_router(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.routers
            .mine(&ctx, &id)
            .ok_or_else(|| router_not_found(&id))?;
        if db
            .ports
            .values()
            .any(|p| p.device_id == id && p.device_owner == "network:router_interface")
        {
            return Err(
                ApiError::conflict(S, format!("Router {id} still has ports")).kind("RouterInUse"),
            );
        }
        set_gateway(db, &id, &Value::Null)?;
        db.routers.remove(&id);
        records::remove_children(db, "router", &id);
        Ok(StatusCode::NO_CONTENT)
    })
}

pub(super) const IFACE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: None,
    fields: &[opt("subnet_id", Ty::Str), opt("port_id", Ty::Str)],
    additional: false,
    siblings: &[],
};

pub(super) async fn add_interface(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&IFACE_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        let router = db
            .routers
            .mine(&ctx, &id)
            .cloned()
            .ok_or_else(|| router_not_found(&id))?;
        let port = match (get_str(&m, "subnet_id"), get_str(&m, "port_id")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    S,
                    "Bad router request: Cannot specify both subnet-id and port-id.",
                ))
            }
            (None, None) => {
                return Err(ApiError::bad_request(
                    S,
                    "Bad router request: Either subnet_id or port_id must be specified.",
                ))
            }
            (Some(sid), None) => {
                let sub = db
                    .subnets
                    .get(&sid)
                    .filter(|s| subnet_visible(db, s, &ctx))
                    .cloned()
                    .ok_or_else(|| subnet_not_found(&sid))?;
                let gw = sub.gateway_ip.clone().ok_or_else(|| {
                    ApiError::bad_request(
                        S,
                        format!("Bad router request: Subnet {sid} does not have a gateway IP."),
                    )
                })?;
                if db
                    .ports
                    .values()
                    .any(|p| p.device_id == id && p.fixed_ips.iter().any(|f| f.subnet_id == sid))
                {
                    return Err(ApiError::bad_request(
                        S,
                        format!("Bad router request: Router already has a port on subnet {sid}."),
                    ));
                }
                // The interface belongs to the router's project, also when an admin adds it.
                new_port(
                    db,
                    &router.project_id,
                    &sub.network_id,
                    Some(vec![(Some(sid), Some(gw))]),
                    &id,
                    "network:router_interface",
                    Some(vec![]),
                    "",
                )?
            }
            (None, Some(pid)) => {
                let p = db
                    .ports
                    .mine_mut(&ctx, &pid)
                    .ok_or_else(|| port_not_found(&pid))?;
                if !p.device_id.is_empty() {
                    return Err(ApiError::conflict(
                        S,
                        format!("Port {pid} is in use by device {}.", p.device_id),
                    )
                    .kind("PortInUse"));
                }
                p.device_id = id.clone();
                p.device_owner = "network:router_interface".into();
                p.status = NetStatus::Active;
                p.clone()
            }
        };
        Ok(Json(iface_json(&router, &port)))
    })
}

pub(super) async fn remove_interface(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&IFACE_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        let router = db.routers.mine(&ctx, &id).cloned().ok_or_else(|| router_not_found(&id))?;
        let port = match (get_str(&m, "subnet_id"), get_str(&m, "port_id")) {
            (_, Some(pid)) => db.ports.get(&pid).filter(|p| p.device_id == id).cloned().ok_or_else(|| {
                ApiError::not_found(S, format!("Router {id} does not have an interface with id {pid}")).kind("RouterInterfaceNotFound")
            })?,
            (Some(sid), None) => db.ports.values().find(|p| p.device_id == id && p.device_owner == "network:router_interface" && p.fixed_ips.iter().any(|f| f.subnet_id == sid)).cloned().ok_or_else(|| {
                ApiError::not_found(S, format!("Router {id} has no interface on subnet {sid}")).kind("RouterInterfaceNotFoundForSubnet")
            })?,
            (None, None) => return Err(ApiError::bad_request(S, "Bad router request: Either subnet_id or port_id must be specified.")),
        };
        let subnet = port.fixed_ips.first().map(|f| f.subnet_id.clone()).unwrap_or_default();
        if db.floating_ips.values().any(|f| f.router_id.as_deref() == Some(id.as_str()) && f.port_id.as_ref().and_then(|p| db.ports.get(p)).is_some_and(|p| p.fixed_ips.iter().any(|x| x.subnet_id == subnet))) {
            return Err(ApiError::conflict(S, format!("Router interface for subnet {subnet} on router {id} cannot be deleted, as it is required by one or more floating IPs.")).kind("RouterInterfaceInUseByFloatingIP"));
        }
        db.ports.remove(&port.id);
        Ok(Json(iface_json(&router, &port)))
    })
}

// --- floating IPs
