//! HTTP handlers of floating IPs.

use super::*;

pub(super) const FIP_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("floatingip"),
    fields: &[
        req("floating_network_id", Ty::Str),
        opt("floating_ip_address", Ty::Str),
        opt("subnet_id", Ty::OptStr),
        opt("port_id", Ty::OptStr),
        opt("fixed_ip_address", Ty::OptStr),
        opt("description", Ty::Str),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("dns_name", Ty::Str),
        opt("dns_domain", Ty::Str),
        opt("qos_policy_id", Ty::OptStr),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

pub(super) const FIP_UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("floatingip"),
    fields: &[
        opt("port_id", Ty::OptStr),
        opt("fixed_ip_address", Ty::OptStr),
        opt("description", Ty::Str),
        opt("qos_policy_id", Ty::OptStr),
    ],
    additional: false,
    siblings: &[],
};

pub(super) async fn list_fips(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c
        .store
        .read(|db| db.floating_ips.listed(&ctx, true).map(fip_view).collect());
    list_response(&c, "floatingips", items, &query)
}

pub(super) async fn show_fip(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.floating_ips
                .mine(&ctx, &id)
                .map(|f| Json(json!({"floatingip": fip_view(f)})))
        })
        .ok_or_else(|| fip_not_found(&id))
}

pub(super) async fn create_fip(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&FIP_SCHEMA, body::parse_json(S, &bytes)?)?;
    let ctx = on_behalf(ctx, &m)?;
    let net = get_str(&m, "floating_network_id").unwrap_or_default();
    let tags = parse_tags(m.get("tags"))?;
    let v = c.store.write(|db| {
        let f = allocate_fip(
            db,
            &ctx.project_id,
            &net,
            get_str(&m, "floating_ip_address").as_deref(),
            &get_str(&m, "description").unwrap_or_default(),
        )?;
        if let Some(x) = db.floating_ips.get_mut(&f.id) {
            x.tags = tags;
        }
        if let Some(port) = get_str(&m, "port_id") {
            if let Err(e) = associate(db, &f.id, &port, get_str(&m, "fixed_ip_address").as_deref())
            {
                release_fip(db, &f.id);
                return Err(e);
            }
        }
        Ok(db
            .floating_ips
            .get(&f.id)
            .map(fip_view)
            .unwrap_or(Value::Null))
    })?;
    Ok(created("floatingip", v))
}

pub(super) async fn update_fip(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&FIP_UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        db.floating_ips.mine(&ctx, &id).ok_or_else(|| fip_not_found(&id))?;
        match m.get("port_id") {
            Some(Value::Null) => disassociate(db, &id),
            Some(Value::String(p)) => {
                let current = db.floating_ips.get(&id).and_then(|f| f.port_id.clone());
                if current.as_deref().is_some_and(|cp| cp != p) {
                    return Err(ApiError::conflict(S, format!("Cannot associate floating IP {id} with port {p}: it is already associated with port {}.", current.unwrap_or_default())).kind("FloatingIPPortAlreadyAssociated"));
                }
                associate(db, &id, p, get_str(&m, "fixed_ip_address").as_deref())?;
            }
            _ => {}
        }
        let f = db.floating_ips.get_mut(&id).ok_or_else(|| fip_not_found(&id))?;
        if let Some(d) = get_str(&m, "description") {
            f.description = d;
        }
        Ok(Json(json!({"floatingip": fip_view(f)})))
    })
}

pub(super) async fn delete_fip(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.floating_ips
            .mine(&ctx, &id)
            .ok_or_else(|| fip_not_found(&id))?;
        release_fip(db, &id);
        Ok(StatusCode::NO_CONTENT)
    })
}
