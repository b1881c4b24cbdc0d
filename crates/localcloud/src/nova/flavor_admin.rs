//! The admin side of flavors: create, delete, description updates (2.55), extra specs and the
//! project access of private flavors, as `openstack flavor create/delete/set/unset` call them.

use super::*;

fn admin_only(r: &Req, rule: &str) -> ApiResult<()> {
    if r.ctx.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            S,
            format!("Policy doesn't allow os_compute_api:{rule} to be performed."),
        ))
    }
}

fn int_field(
    m: &Map<String, Value>,
    key: &str,
    min: i64,
    required: bool,
) -> ApiResult<Option<i64>> {
    let v = match m.get(key) {
        None | Some(Value::Null) if !required => return Ok(None),
        None | Some(Value::Null) => {
            return Err(bad(format!(
            "Invalid input for field/attribute flavor. Value: {}. '{key}' is a required property",
            Value::Object(m.clone())
        )))
        }
        Some(v) => v,
    };
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= min && n <= i64::from(i32::MAX) => Ok(Some(n)),
        _ => Err(bad(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not a valid value (an integer from {min})"
        ))),
    }
}

pub(super) async fn create_flavor(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-flavor-manage:create")?;
    let v = body::parse_json(S, &bytes)?;
    let m = v
        .get("flavor")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute flavor. 'flavor' is a required property")
        })?
        .clone();
    let name = get_str(&m, "name").unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.len() > 255 || name.contains('\0') {
        return Err(bad(format!(
            "Invalid input for field/attribute name. Value: {name}. '{name}' is not a valid name"
        )));
    }
    let ram = int_field(&m, "ram", 1, true)?.unwrap_or(1);
    let vcpus = int_field(&m, "vcpus", 1, true)?.unwrap_or(1);
    let disk = int_field(&m, "disk", 0, true)?.unwrap_or(0);
    let swap = int_field(&m, "swap", 0, false)?.unwrap_or(0);
    let ephemeral = int_field(&m, "OS-FLV-EXT-DATA:ephemeral", 0, false)?.unwrap_or(0);
    let id = match m.get("id") {
        None | Some(Value::Null) => new_id(),
        Some(Value::String(s)) if s == "auto" => new_id(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 && !s.contains(['/', '\0']) => {
            s.clone()
        }
        Some(Value::Number(n)) => n.to_string(),
        Some(v) => {
            return Err(bad(format!(
                "Invalid input for field/attribute id. Value: {v}. {v} is not a valid flavor id"
            )))
        }
    };
    let is_public = match m.get("os-flavor-access:is_public") {
        None | Some(Value::Null) => true,
        Some(v) => body::bool_like(v).ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute os-flavor-access:is_public. Value: {v}. {v} is not of type 'boolean'"
            ))
        })?,
    };
    let rxtx = match m.get("rxtx_factor") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(1.0),
        _ => 1.0,
    };
    let description = if r.mv >= (2, 55) {
        get_str(&m, "description")
    } else {
        None
    };
    let to_u = |n: i64| u64::try_from(n).unwrap_or(0);
    let mut f = new_flavor(
        &id,
        &name,
        u32::try_from(vcpus).unwrap_or(u32::MAX),
        to_u(ram),
        to_u(disk),
    );
    f.swap = to_u(swap);
    f.ephemeral = to_u(ephemeral);
    f.is_public = is_public;
    f.rxtx_factor = rxtx;
    f.description = description;
    c.store.write(|db| {
        if db.flavors.values().any(|x| x.name == name) {
            return Err(ApiError::conflict(
                S,
                format!("Flavor with name {name} already exists."),
            ));
        }
        if db.flavors.contains_key(&id) {
            return Err(ApiError::conflict(
                S,
                format!("Flavor with ID {id} already exists."),
            ));
        }
        // A private flavor is usable by the project that made it, as in Nova.
        if !f.is_public {
            f.access.push(r.ctx.project_id.clone());
        }
        db.flavors.insert(id.clone(), f.clone());
        Ok(())
    })?;
    Ok(versioned(
        &r,
        Json(w::FlavorResponse {
            flavor: flavor_view(&c, &f, r.mv),
        }),
    ))
}

pub(super) async fn update_flavor(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    if r.mv < (2, 55) {
        return Err(ApiError::new(
            S,
            StatusCode::METHOD_NOT_ALLOWED,
            "Updating a flavor needs microversion 2.55 or later.",
        ));
    }
    admin_only(&r, "os-flavor-manage:update")?;
    let v = body::parse_json(S, &bytes)?;
    let description = v
        .get("flavor")
        .and_then(|f| f.get("description"))
        .ok_or_else(|| {
            bad("Invalid input for field/attribute flavor. 'description' is a required property")
        })?
        .as_str()
        .map(str::to_owned);
    let f = c.store.write(|db| {
        let f = db
            .flavors
            .get_mut(&id)
            .ok_or_else(|| flavor_not_found(&id))?;
        f.description = description;
        Ok::<_, ApiError>(f.clone())
    })?;
    Ok(versioned(
        &r,
        Json(w::FlavorResponse {
            flavor: flavor_view(&c, &f, r.mv),
        }),
    ))
}

pub(super) async fn delete_flavor(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-flavor-manage:delete")?;
    c.store.write(|db| {
        db.flavors
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| flavor_not_found(&id))
    })?;
    Ok(versioned(&r, StatusCode::ACCEPTED))
}

fn spec_map(v: Option<&Value>) -> ApiResult<BTreeMap<String, String>> {
    let o = v.and_then(Value::as_object).ok_or_else(|| {
        bad("Invalid input for field/attribute extra_specs. 'extra_specs' is a required property")
    })?;
    o.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => {
                    return Err(bad(format!(
                        "Invalid input for field/attribute {k}. Value: {v}. {v} is not of type 'string', 'integer', 'number', 'boolean'"
                    )))
                }
            };
            if k.is_empty() || k.len() > 255 || s.len() > 255 {
                return Err(bad(format!(
                    "Invalid input for field/attribute extra_specs. Key or value of {k} is not 1 to 255 characters"
                )));
            }
            Ok((k.clone(), s))
        })
        .collect()
}

pub(super) async fn set_extra_specs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-flavor-extra-specs:create")?;
    let v = body::parse_json(S, &bytes)?;
    let specs = spec_map(v.get("extra_specs"))?;
    c.store.write(|db| {
        let f = db
            .flavors
            .get_mut(&id)
            .ok_or_else(|| flavor_not_found(&id))?;
        f.extra_specs.extend(specs.clone());
        Ok::<_, ApiError>(())
    })?;
    Ok(versioned(&r, Json(json!({ "extra_specs": specs }))))
}

fn spec_not_found(id: &str, key: &str) -> ApiError {
    ApiError::not_found(S, format!("Flavor {id} has no extra specs with key {key}."))
}

pub(super) async fn show_extra_spec(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let value = c.store.read(|db| {
        let f = db
            .flavors
            .get(&id)
            .filter(|f| flavor_usable(f, &r.ctx))
            .ok_or_else(|| flavor_not_found(&id))?;
        f.extra_specs
            .get(&key)
            .cloned()
            .ok_or_else(|| spec_not_found(&id, &key))
    })?;
    Ok(versioned(&r, Json(json!({ key: value }))))
}

pub(super) async fn put_extra_spec(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-flavor-extra-specs:update")?;
    let v = body::parse_json(S, &bytes)?;
    let specs = spec_map(Some(&v))?;
    let value = match (specs.len(), specs.get(&key)) {
        (1, Some(v)) => v.clone(),
        _ => return Err(bad("Request body and URI mismatch")),
    };
    c.store.write(|db| {
        let f = db
            .flavors
            .get_mut(&id)
            .ok_or_else(|| flavor_not_found(&id))?;
        f.extra_specs.insert(key.clone(), value.clone());
        Ok::<_, ApiError>(())
    })?;
    Ok(versioned(&r, Json(json!({ key: value }))))
}

pub(super) async fn delete_extra_spec(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-flavor-extra-specs:delete")?;
    c.store.write(|db| {
        let f = db
            .flavors
            .get_mut(&id)
            .ok_or_else(|| flavor_not_found(&id))?;
        f.extra_specs
            .remove(&key)
            .map(|_| ())
            .ok_or_else(|| spec_not_found(&id, &key))
    })?;
    Ok(versioned(&r, StatusCode::OK))
}

fn access_body(f: &Flavor) -> Value {
    let list: Vec<Value> = f
        .access
        .iter()
        .map(|p| json!({"flavor_id": f.id, "tenant_id": p}))
        .collect();
    json!({ "flavor_access": list })
}

pub(super) async fn list_flavor_access(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-flavor-access")?;
    let f = c
        .store
        .read(|db| db.flavors.get(&id).cloned())
        .ok_or_else(|| flavor_not_found(&id))?;
    if f.is_public {
        return Err(ApiError::not_found(
            S,
            "Access list not available for public flavors.",
        ));
    }
    Ok(versioned(&r, Json(access_body(&f))))
}

pub(super) async fn flavor_action(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let v = body::parse_json(S, &bytes)?;
    let (add, arg) = match (v.get("addTenantAccess"), v.get("removeTenantAccess")) {
        (Some(a), None) => (true, a),
        (None, Some(a)) => (false, a),
        _ => return Err(bad(
            "There is no such action on a flavor: expected addTenantAccess or removeTenantAccess",
        )),
    };
    admin_only(
        &r,
        if add {
            "os-flavor-access:add_tenant_access"
        } else {
            "os-flavor-access:remove_tenant_access"
        },
    )?;
    let tenant = arg
        .get("tenant")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            bad("Invalid input for field/attribute tenant. 'tenant' is a required property")
        })?
        .to_owned();
    let f = c.store.write(|db| {
        let f = db.flavors.get_mut(&id).ok_or_else(|| flavor_not_found(&id))?;
        if f.is_public {
            return Err(ApiError::conflict(
                S,
                "Can not add access to a public flavor.",
            ));
        }
        let has = f.access.contains(&tenant);
        match (add, has) {
            (true, true) => {
                return Err(ApiError::conflict(
                    S,
                    format!("Flavor access already exists for flavor {id} and project {tenant} combination."),
                ))
            }
            (false, false) => {
                return Err(ApiError::not_found(
                    S,
                    format!("Flavor access not found for {id} / {tenant} combination."),
                ))
            }
            (true, false) => f.access.push(tenant.clone()),
            (false, true) => f.access.retain(|p| *p != tenant),
        }
        Ok(f.clone())
    })?;
    Ok(versioned(&r, Json(access_body(&f))))
}
