//! Keystone's registered limits and limits.

use super::*;

// --- registered limits and limits -----------------------------------------------------------------

/// Validates and applies the fields of a registered limit (`registered`) or a project limit.
pub(super) fn limit_fields(
    c: &Cloud,
    s: &Db,
    registered: bool,
    m: &Map<String, Value>,
    base: &mut Map<String, Value>,
) -> ApiResult<()> {
    if let Some(sid) = string_in(m, "service_id")? {
        if !all_services(c, s).iter().any(|v| str_of(v, "id") == sid) {
            return Err(not_found("service", &sid));
        }
        base.insert("service_id".into(), json!(sid));
    }
    if m.contains_key("region_id") {
        match string_in(m, "region_id")? {
            Some(r) if !region_exists(c, s, &r) => return Err(not_found("region", &r)),
            r => {
                base.insert("region_id".into(), json!(r));
            }
        }
    }
    for k in ["resource_name", "description"] {
        if m.contains_key(k) {
            base.insert(k.into(), json!(string_in(m, k)?));
        }
    }
    let amount = if registered {
        "default_limit"
    } else {
        "resource_limit"
    };
    if let Some(n) = int_in(m, amount)? {
        base.insert(amount.into(), json!(n));
    }
    if !registered {
        if let Some(p) = string_in(m, "project_id")? {
            if !project_exists(s, &p) {
                return Err(not_found("project", &p));
            }
            base.insert("project_id".into(), json!(p));
            base.insert("domain_id".into(), Value::Null);
        }
    }
    Ok(())
}

/// The identity of a limit: Keystone keeps one per service, region, resource (and project).
pub(super) fn limit_key(v: &Value, registered: bool) -> (String, String, String, String) {
    (
        str_of(v, "service_id").to_owned(),
        str_of(v, "region_id").to_owned(),
        str_of(v, "resource_name").to_owned(),
        if registered {
            String::new()
        } else {
            str_of(v, "project_id").to_owned()
        },
    )
}

pub(super) fn check_limit(s: &Db, registered: bool, id: &str, v: &Value) -> ApiResult<()> {
    let kind = if registered { REGISTERED_LIMIT } else { LIMIT };
    let key = limit_key(v, registered);
    if records(s, kind)
        .into_iter()
        .any(|o| str_of(o, "id") != id && limit_key(o, registered) == key)
    {
        return Err(conflict(
            if registered {
                "registered_limit"
            } else {
                "limit"
            },
            "Duplicate entry.",
        ));
    }
    if !registered {
        // A project limit needs the registered limit of its service, region and resource.
        let reg = (key.0.clone(), key.1.clone(), key.2.clone(), String::new());
        if !records(s, REGISTERED_LIMIT)
            .into_iter()
            .any(|r| limit_key(r, true) == reg)
        {
            return Err(ApiError::forbidden(
                S,
                format!(
                    "The limit of {} of service {} needs a registered limit first.",
                    key.2, key.0
                ),
            ));
        }
    }
    Ok(())
}

pub(super) async fn create_limits(
    c: &Cloud,
    headers: &HeaderMap,
    bytes: &[u8],
    registered: bool,
) -> ApiResult<Response> {
    let (plural, path) = if registered {
        ("registered_limits", "registered_limits")
    } else {
        ("limits", "limits")
    };
    admin(c, headers, &format!("create_{plural}"))?;
    let Value::Array(items) = field(bytes, plural)? else {
        return Err(bad(format!(
            "Invalid input for field '{plural}': a JSON array is required"
        )));
    };
    if items.is_empty() {
        return Err(bad(format!(
            "Invalid input for field '{plural}': at least one is required"
        )));
    }
    let amount = if registered {
        "default_limit"
    } else {
        "resource_limit"
    };
    let out = c.store.write(|s| {
        let mut out = Vec::new();
        let mut staged: Vec<(String, Value)> = Vec::new();
        for item in items {
            let m = object_of(item, plural)?;
            let mut req_keys = vec!["service_id", "resource_name"];
            if !registered {
                req_keys.push("project_id");
            }
            for k in req_keys {
                required(string_in(&m, k)?, k)?;
            }
            if int_in(&m, amount)?.is_none() {
                return Err(bad(format!(
                    "Invalid input for field '{amount}': '{amount}' is a required property"
                )));
            }
            let id = new_hex_id();
            let mut base = Map::new();
            base.insert("id".into(), json!(id));
            base.insert("region_id".into(), Value::Null);
            base.insert("description".into(), Value::Null);
            limit_fields(c, s, registered, &m, &mut base)?;
            let v = Value::Object(base);
            check_limit(s, registered, &id, &v)?;
            staged.push((id, v));
        }
        let kind = if registered { REGISTERED_LIMIT } else { LIMIT };
        for (id, v) in staged {
            put_record(s, kind, &id, v.clone());
            out.push(with_links(c, path, v));
        }
        Ok(out)
    })?;
    Ok((StatusCode::CREATED, Json(json!({ plural: out }))).into_response())
}

pub(super) fn list_limits(
    c: &Cloud,
    headers: &HeaderMap,
    q: &[(String, String)],
    registered: bool,
) -> ApiResult<Json<Value>> {
    caller(c, headers)?;
    let (kind, path) = if registered {
        (REGISTERED_LIMIT, "registered_limits")
    } else {
        (LIMIT, "limits")
    };
    let items = c
        .store
        .read(|s| records(s, kind).into_iter().cloned().collect());
    let items = filter(
        items,
        q,
        &["service_id", "region_id", "resource_name", "project_id"],
    )
    .into_iter()
    .map(|v| with_links(c, path, v))
    .collect();
    Ok(list(c, path, path, items))
}

pub(super) fn show_limit(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    registered: bool,
) -> ApiResult<Json<Value>> {
    caller(c, headers)?;
    let (kind, key, path) = if registered {
        (REGISTERED_LIMIT, "registered_limit", "registered_limits")
    } else {
        (LIMIT, "limit", "limits")
    };
    let v = c
        .store
        .read(|s| record(s, kind, id).cloned())
        .ok_or_else(|| not_found(key, id))?;
    Ok(Json(json!({ key: with_links(c, path, v) })))
}

pub(super) fn update_limit(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    bytes: &[u8],
    registered: bool,
) -> ApiResult<Json<Value>> {
    let (kind, key, path) = if registered {
        (REGISTERED_LIMIT, "registered_limit", "registered_limits")
    } else {
        (LIMIT, "limit", "limits")
    };
    admin(c, headers, &format!("update_{key}"))?;
    let mut m = object_of(field(bytes, key)?, key)?;
    if !registered {
        // Only the amount and the description of a project limit change.
        m.retain(|k, _| k == "resource_limit" || k == "description");
    }
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, kind, id).cloned() else {
            return Err(not_found(key, id));
        };
        limit_fields(c, s, registered, &m, &mut base)?;
        let v = Value::Object(base);
        check_limit(s, registered, id, &v)?;
        put_record(s, kind, id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({ key: with_links(c, path, v) })))
}

pub(super) fn delete_limit(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    registered: bool,
) -> ApiResult<StatusCode> {
    let (kind, key) = if registered {
        (REGISTERED_LIMIT, "registered_limit")
    } else {
        (LIMIT, "limit")
    };
    admin(c, headers, &format!("delete_{key}"))?;
    c.store.write(|s| {
        let v = record(s, kind, id)
            .cloned()
            .ok_or_else(|| not_found(key, id))?;
        if registered {
            let reg = limit_key(&v, true);
            let used = records(s, LIMIT).into_iter().any(|l| {
                let k = limit_key(l, false);
                (k.0, k.1, k.2) == (reg.0.clone(), reg.1.clone(), reg.2.clone())
            });
            if used {
                return Err(ApiError::forbidden(
                    S,
                    format!("The registered limit {id} has project limits; delete them first."),
                ));
            }
        }
        remove_record(s, kind, id);
        Ok(StatusCode::NO_CONTENT)
    })
}
