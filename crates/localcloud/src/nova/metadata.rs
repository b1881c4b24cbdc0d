//! HTTP handlers of a server's addresses, metadata and security groups.

use super::*;

pub(super) async fn server_ips(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let addrs = c.store.read(|db| addresses(db, &s));
    let simple: BTreeMap<String, Vec<Value>> = addrs
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.into_iter()
                    .map(|a| json!({"version": a.version, "addr": a.addr}))
                    .collect(),
            )
        })
        .collect();
    Ok(versioned(&r, Json(json!({"addresses": simple}))))
}

pub(super) async fn get_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    Ok(versioned(
        &r,
        Json(w::Metadata {
            metadata: s.metadata,
        }),
    ))
}

pub(super) const META_SCHEMA: Schema = Schema {
    service: S,
    wrapper: None,
    fields: &[req("metadata", Ty::Obj)],
    additional: false,
    siblings: &[],
};

pub(super) async fn set_meta(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    bytes: &[u8],
    replace: bool,
) -> ApiResult<Response> {
    let r = req_ctx(c, headers)?;
    let m = body::check(&META_SCHEMA, body::parse_json(S, bytes)?)?;
    let meta = get_str_map(&m, "metadata", S)?;
    let out = c.store.write(|db| {
        let s = db
            .servers
            .mine_mut(&r.ctx, id)
            .ok_or_else(|| server_not_found(id))?;
        if replace {
            s.metadata = meta;
        } else {
            s.metadata.extend(meta);
        }
        Ok(s.metadata.clone())
    })?;
    Ok(versioned(&r, Json(w::Metadata { metadata: out })))
}

pub(super) async fn update_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    set_meta(&c, &headers, &id, &bytes, false).await
}

pub(super) async fn replace_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    set_meta(&c, &headers, &id, &bytes, true).await
}

pub(super) async fn server_sgs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let list: Vec<Value> = c.store.read(|db| {
        server_sg_names(db, &s)
            .iter()
            .filter_map(|n| db.security_groups.values().find(|g| g.project_id == s.project_id && (&g.name == n || &g.id == n)))
            .map(|g| json!({"id": g.id, "name": g.name, "description": g.description, "tenant_id": g.project_id, "rules": []}))
            .collect()
    });
    Ok(versioned(&r, Json(json!({"security_groups": list}))))
}

fn meta_key_not_found() -> ApiError {
    ApiError::not_found(S, "Metadata item was not found")
}

/// `GET /servers/{id}/metadata/{key}`.
pub(super) async fn show_meta_item(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let v = s.metadata.get(&key).ok_or_else(meta_key_not_found)?;
    Ok(versioned(&r, Json(json!({"meta": {key: v}}))))
}

/// `PUT /servers/{id}/metadata/{key}` with `{"meta": {key: value}}`.
pub(super) async fn put_meta_item(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let v = body::parse_json(S, &bytes)?;
    let meta = v.get("meta").and_then(Value::as_object).ok_or_else(|| {
        bad("Invalid input for field/attribute meta. 'meta' is a required property")
    })?;
    if meta.len() != 1 {
        return Err(bad("Request body contains too many items"));
    }
    let Some((k, val)) = meta.iter().next() else {
        return Err(bad("Malformed request body"));
    };
    if k != &key {
        return Err(bad("Request body and URI mismatch"));
    }
    let Value::String(val) = val else {
        return Err(bad(format!(
            "Invalid input for field/attribute {k}. Value: {val}. {val} is not of type 'string'"
        )));
    };
    if k.is_empty() || k.chars().count() > 255 || val.chars().count() > 255 {
        return Err(bad(format!(
            "Invalid input for field/attribute meta. Value: {k}. is too long"
        )));
    }
    c.store.write(|db| {
        let s = db
            .servers
            .mine_mut(&r.ctx, &id)
            .ok_or_else(|| server_not_found(&id))?;
        s.metadata.insert(key.clone(), val.clone());
        s.updated = now();
        Ok::<_, ApiError>(())
    })?;
    Ok(versioned(&r, Json(json!({"meta": {key: val}}))))
}

/// `DELETE /servers/{id}/metadata/{key}` (`openstack server unset --property`).
pub(super) async fn delete_meta_item(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    c.store.write(|db| {
        let s = db
            .servers
            .mine_mut(&r.ctx, &id)
            .ok_or_else(|| server_not_found(&id))?;
        s.metadata.remove(&key).ok_or_else(meta_key_not_found)?;
        s.updated = now();
        Ok::<_, ApiError>(())
    })?;
    Ok(versioned(&r, StatusCode::NO_CONTENT))
}
