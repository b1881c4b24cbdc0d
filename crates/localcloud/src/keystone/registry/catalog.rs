//! Keystone's regions, services and endpoints.

use super::*;

// --- regions ------------------------------------------------------------------------------------

pub(super) fn region_fields(
    c: &Cloud,
    s: &Db,
    id: &str,
    m: &Map<String, Value>,
    base: &mut Map<String, Value>,
) -> ApiResult<()> {
    if let Some(d) = string_in(m, "description")? {
        base.insert("description".into(), json!(d));
    }
    if m.contains_key("parent_region_id") {
        match string_in(m, "parent_region_id")? {
            Some(p) => {
                if p == id {
                    return Err(bad("A region cannot be its own parent."));
                }
                if !region_exists(c, s, &p) {
                    return Err(not_found("region", &p));
                }
                // No cycles: walk up from the new parent.
                let mut at = Some(p.clone());
                while let Some(r) = at {
                    if r == id {
                        return Err(bad(format!(
                            "Region {id} cannot have {p} as its parent: a cycle."
                        )));
                    }
                    at = record(s, REGION, &r)
                        .and_then(|v| v.get("parent_region_id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                base.insert("parent_region_id".into(), json!(p));
            }
            None => {
                base.insert("parent_region_id".into(), Value::Null);
            }
        }
    }
    Ok(())
}

pub(super) async fn create_region(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_region")?;
    let m = object_of(field(&bytes, "region")?, "region")?;
    let id = string_in(&m, "id")?.unwrap_or_else(new_hex_id);
    let v = c.store.write(|s| {
        if region_exists(&c, s, &id) {
            return Err(conflict("region", &format!("Duplicate ID, {id}.")));
        }
        let mut base = Map::new();
        base.insert("id".into(), json!(id));
        base.insert("description".into(), json!(""));
        base.insert("parent_region_id".into(), Value::Null);
        region_fields(&c, s, &id, &m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, REGION, &id, v.clone());
        Ok(v)
    })?;
    Ok(created("region", with_links(&c, "regions", v)))
}

pub(super) async fn list_regions(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    caller(&c, &headers)?;
    let mut items = vec![builtin_region(&c)];
    c.store
        .read(|s| items.extend(records(s, REGION).into_iter().cloned()));
    let items = filter(items, &q, &["parent_region_id"])
        .into_iter()
        .map(|v| with_links(&c, "regions", v))
        .collect();
    Ok(list(&c, "regions", "regions", items))
}

pub(super) async fn show_region(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller(&c, &headers)?;
    let v = if id == c.cfg.region {
        builtin_region(&c)
    } else {
        c.store
            .read(|s| record(s, REGION, &id).cloned())
            .ok_or_else(|| not_found("region", &id))?
    };
    Ok(Json(json!({"region": with_links(&c, "regions", v)})))
}

pub(super) async fn update_region(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_region")?;
    if id == c.cfg.region {
        return Err(read_only("region", &id));
    }
    let m = object_of(field(&bytes, "region")?, "region")?;
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, REGION, &id).cloned() else {
            return Err(not_found("region", &id));
        };
        region_fields(&c, s, &id, &m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, REGION, &id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({"region": with_links(&c, "regions", v)})))
}

pub(super) async fn delete_region(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_region")?;
    if id == c.cfg.region {
        return Err(read_only("region", &id));
    }
    c.store.write(|s| {
        if record(s, REGION, &id).is_none() {
            return Err(not_found("region", &id));
        }
        let has_children = records(s, REGION)
            .iter()
            .any(|r| r.get("parent_region_id").and_then(Value::as_str) == Some(id.as_str()));
        if has_children {
            return Err(ApiError::forbidden(
                S,
                format!("Unable to delete region {id} because it or its child regions have associated endpoints."),
            ));
        }
        remove_record(s, REGION, &id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- services -----------------------------------------------------------------------------------

pub(super) fn service_fields(
    m: &Map<String, Value>,
    base: &mut Map<String, Value>,
) -> ApiResult<()> {
    for k in ["type", "name", "description"] {
        if let Some(v) = string_in(m, k)? {
            if k == "type" && v.trim().is_empty() {
                return Err(bad("Invalid input for field 'type': must not be empty"));
            }
            base.insert(k.into(), json!(v));
        }
    }
    if let Some(e) = bool_in(m, "enabled")? {
        base.insert("enabled".into(), json!(e));
    }
    Ok(())
}

pub(super) async fn create_service(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_service")?;
    let m = object_of(field(&bytes, "service")?, "service")?;
    required(string_in(&m, "type")?, "type")?;
    let id = new_hex_id();
    let mut base = Map::new();
    base.insert("id".into(), json!(id));
    base.insert("enabled".into(), json!(true));
    base.insert("name".into(), json!(""));
    base.insert("description".into(), json!(""));
    service_fields(&m, &mut base)?;
    let v = Value::Object(base);
    c.store.write(|s| put_record(s, SERVICE, &id, v.clone()));
    Ok(created("service", with_links(&c, "services", v)))
}

pub(super) async fn list_services(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_services")?;
    let items = c.store.read(|s| all_services(&c, s));
    let items = filter(items, &q, &["name", "type", "enabled"])
        .into_iter()
        .map(|v| with_links(&c, "services", v))
        .collect();
    Ok(list(&c, "services", "services", items))
}

pub(super) async fn show_service(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "get_service")?;
    let v = c
        .store
        .read(|s| {
            all_services(&c, s)
                .into_iter()
                .find(|v| str_of(v, "id") == id)
        })
        .ok_or_else(|| not_found("service", &id))?;
    Ok(Json(json!({"service": with_links(&c, "services", v)})))
}

pub(super) async fn update_service(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_service")?;
    let m = object_of(field(&bytes, "service")?, "service")?;
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, SERVICE, &id).cloned() else {
            if builtin_services(&c).iter().any(|v| str_of(v, "id") == id) {
                return Err(read_only("service", &id));
            }
            return Err(not_found("service", &id));
        };
        service_fields(&m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, SERVICE, &id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({"service": with_links(&c, "services", v)})))
}

pub(super) async fn delete_service(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_service")?;
    c.store.write(|s| {
        if remove_record(s, SERVICE, &id).is_none() {
            if builtin_services(&c).iter().any(|v| str_of(v, "id") == id) {
                return Err(read_only("service", &id));
            }
            return Err(not_found("service", &id));
        }
        // As in Keystone, a service's endpoints go with it.
        let gone: Vec<String> = records(s, ENDPOINT)
            .into_iter()
            .filter(|e| str_of(e, "service_id") == id)
            .map(|e| str_of(e, "id").to_owned())
            .collect();
        for e in gone {
            remove_endpoint(s, &e);
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- endpoints ----------------------------------------------------------------------------------

pub(super) fn remove_endpoint(s: &mut Db, id: &str) {
    remove_record(s, ENDPOINT, id);
    if let Some(m) = s.identity_records.get_mut(ENDPOINT_PROJECT) {
        m.retain(|k, _| k.split('|').next() != Some(id));
    }
}

pub(super) fn endpoint_fields(
    c: &Cloud,
    s: &Db,
    m: &Map<String, Value>,
    base: &mut Map<String, Value>,
) -> ApiResult<()> {
    if let Some(sid) = string_in(m, "service_id")? {
        if !all_services(c, s).iter().any(|v| str_of(v, "id") == sid) {
            return Err(not_found("service", &sid));
        }
        base.insert("service_id".into(), json!(sid));
    }
    if let Some(i) = string_in(m, "interface")? {
        if !INTERFACES.contains(&i.as_str()) {
            return Err(bad(format!(
                "Invalid input for field 'interface': '{i}' is not one of public, internal, admin"
            )));
        }
        base.insert("interface".into(), json!(i));
    }
    if let Some(u) = string_in(m, "url")? {
        if u.trim().is_empty() {
            return Err(bad("Invalid input for field 'url': must not be empty"));
        }
        base.insert("url".into(), json!(u));
    }
    let region = match string_in(m, "region_id")? {
        Some(r) => Some(r),
        None => string_in(m, "region")?,
    };
    if let Some(r) = region {
        if !region_exists(c, s, &r) {
            return Err(not_found("region", &r));
        }
        base.insert("region_id".into(), json!(r));
        base.insert("region".into(), json!(r));
    }
    if let Some(e) = bool_in(m, "enabled")? {
        base.insert("enabled".into(), json!(e));
    }
    Ok(())
}

pub(super) async fn create_endpoint(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_endpoint")?;
    let m = object_of(field(&bytes, "endpoint")?, "endpoint")?;
    for k in ["service_id", "interface", "url"] {
        required(string_in(&m, k)?, k)?;
    }
    let id = new_hex_id();
    let v = c.store.write(|s| {
        let mut base = Map::new();
        base.insert("id".into(), json!(id));
        base.insert("enabled".into(), json!(true));
        base.insert("region_id".into(), Value::Null);
        base.insert("region".into(), Value::Null);
        endpoint_fields(&c, s, &m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, ENDPOINT, &id, v.clone());
        Ok(v)
    })?;
    Ok(created("endpoint", with_links(&c, "endpoints", v)))
}

pub(super) async fn list_endpoints(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_endpoints")?;
    let items = c.store.read(|s| all_endpoints(&c, s));
    let items = filter(items, &q, &["service_id", "interface", "region_id"])
        .into_iter()
        .map(|v| with_links(&c, "endpoints", v))
        .collect();
    Ok(list(&c, "endpoints", "endpoints", items))
}

pub(super) async fn show_endpoint(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "get_endpoint")?;
    let v = c
        .store
        .read(|s| {
            all_endpoints(&c, s)
                .into_iter()
                .find(|v| str_of(v, "id") == id)
        })
        .ok_or_else(|| not_found("endpoint", &id))?;
    Ok(Json(json!({"endpoint": with_links(&c, "endpoints", v)})))
}

pub(super) async fn update_endpoint(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_endpoint")?;
    let m = object_of(field(&bytes, "endpoint")?, "endpoint")?;
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, ENDPOINT, &id).cloned() else {
            if builtin_endpoints(&c).iter().any(|v| str_of(v, "id") == id) {
                return Err(read_only("endpoint", &id));
            }
            return Err(not_found("endpoint", &id));
        };
        endpoint_fields(&c, s, &m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, ENDPOINT, &id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({"endpoint": with_links(&c, "endpoints", v)})))
}

pub(super) async fn delete_endpoint(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_endpoint")?;
    c.store.write(|s| {
        if record(s, ENDPOINT, &id).is_none() {
            if builtin_endpoints(&c).iter().any(|v| str_of(v, "id") == id) {
                return Err(read_only("endpoint", &id));
            }
            return Err(not_found("endpoint", &id));
        }
        remove_endpoint(s, &id);
        Ok(StatusCode::NO_CONTENT)
    })
}
