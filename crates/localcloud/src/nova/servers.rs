//! HTTP handlers: server list, show, update and delete.

use super::*;

pub(super) fn name_matches(pattern: &str, name: &str) -> bool {
    // Nova matches `name` as a regular expression; support the common anchored/substring forms.
    let (start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

/// A time of a query (`changes-since`, `changes-before`): ISO 8601, with or without a zone
/// (UTC then), as Nova reads them.
fn time_param(query: &util::Query, key: &str) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    let Some(v) = q(query, key) else {
        return Ok(None);
    };
    let parsed = chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
        });
    match parsed {
        Ok(t) => Ok(Some(t)),
        Err(_) => Err(ApiError::bad_request(
            S,
            format!("Invalid input for query parameters {key}. Value: {v}. Not a valid date-time."),
        )),
    }
}

/// Whether a server's `updated` is within `changes-since` and `changes-before` (inclusive).
fn changed_within(
    updated: &str,
    since: Option<chrono::DateTime<chrono::Utc>>,
    before: Option<chrono::DateTime<chrono::Utc>>,
) -> bool {
    if since.is_none() && before.is_none() {
        return true;
    }
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(updated) else {
        return false;
    };
    since.is_none_or(|s| t >= s) && before.is_none_or(|b| t <= b)
}

pub(super) fn servers(c: &Cloud, r: &Req, query: &util::Query, detail: bool) -> ApiResult<Value> {
    let (limit, marker) = util::page_params(query, S)?;
    let since = time_param(query, "changes-since")?;
    let before = time_param(query, "changes-before")?;
    if let (Some(s), Some(b)) = (since, before) {
        if b < s {
            return Err(ApiError::bad_request(
                S,
                "The value of changes-since must be less than or equal to changes-before.",
            ));
        }
    }
    let limit = Some(limit.unwrap_or(1000).min(1000));
    let name = q(query, "name").map(str::to_owned);
    let status = q(query, "status").map(str::to_ascii_uppercase);
    let flavor = q(query, "flavor").map(str::to_owned);
    let image = q(query, "image").map(str::to_owned);
    // Admins list every project's servers with `all_tenants` (narrowed by `project_id` or
    // `tenant_id`); anyone else asking for them gets Nova's policy 403.
    let all = crate::access::wants_all_projects(query);
    if all && !r.ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.",
        ));
    }
    let of_project = q(query, "project_id")
        .or_else(|| q(query, "tenant_id"))
        .filter(|_| all)
        .map(str::to_owned);
    c.store.read(|db| {
        let items: Vec<&Server> = db
            .servers
            .listed(&r.ctx, all)
            .filter(|s| of_project.as_ref().is_none_or(|p| &s.project_id == p))
            .filter(|s| name.as_ref().is_none_or(|n| name_matches(n, &s.name)))
            .filter(|s| status.as_ref().is_none_or(|st| s.status.as_str() == st))
            .filter(|s| flavor.as_ref().is_none_or(|f| &s.flavor_id == f))
            .filter(|s| image.as_ref().is_none_or(|i| s.image_id.as_ref() == Some(i)))
            .filter(|s| changed_within(&s.updated, since, before))
            .collect();
        let (page, more) = util::paginate(items, |s| s.id.as_str(), limit, marker.as_deref(), S)?;
        let list: Vec<Value> = page
            .iter()
            .map(|s| if detail { server_json(c, db, s, r.mv) } else { json!({"id": s.id, "name": s.name, "links": server_links(c, &s.id)}) })
            .collect();
        let mut body = json!({"servers": list});
        if more {
            if let (Some(last), Some(o)) = (page.last(), body.as_object_mut()) {
                let path = if detail { "servers/detail" } else { "servers" };
                o.insert("servers_links".into(), json!([{"rel": "next", "href": c.url(&format!("/compute/v2.1/{path}?{}", util::next_query(query, &last.id)))}]));
            }
        }
        Ok(body)
    })
}

pub(super) async fn list_servers(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = servers(&c, &r, &query, false)?;
    Ok(versioned(&r, Json(body)))
}

pub(super) async fn list_servers_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = servers(&c, &r, &query, true)?;
    Ok(versioned(&r, Json(body)))
}

pub(super) async fn show_server(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let v = c.store.read(|db| {
        db.servers.mine(&r.ctx, &id).map(|s| {
            let mut v = server_json(&c, db, s, r.mv);
            // Nova shows the user data (base64, as given) to admins from microversion 2.3.
            if r.mv >= (2, 3) && r.ctx.is_admin() {
                if let Some(o) = v.as_object_mut() {
                    o.insert("OS-EXT-SRV-ATTR:user_data".into(), json!(s.user_data));
                }
            }
            v
        })
    });
    let v = v.ok_or_else(|| server_not_found(&id))?;
    Ok(versioned(&r, Json(json!({"server": v}))))
}

pub(super) const UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("server"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::OptStr),
        opt("accessIPv4", Ty::Str),
        opt("accessIPv6", Ty::Str),
        opt("OS-DCF:diskConfig", Ty::Str),
        opt("hostname", Ty::Str),
    ],
    additional: false,
    siblings: &[],
};

pub(super) async fn update_server(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let v = c.store.write(|db| {
        let s = db.servers.mine_mut(&r.ctx, &id).ok_or_else(|| server_not_found(&id))?;
        if let Some(n) = get_str(&m, "name") {
            if n.is_empty() || n.len() > 255 {
                return Err(ApiError::bad_request(S, format!("Invalid input for field/attribute name. Value: {n}. '{n}' is too short or too long")));
            }
            s.name = n;
        }
        s.updated = now();
        let s = s.clone();
        Ok(server_json(&c, db, &s, r.mv))
    })?;
    Ok(versioned(&r, Json(json!({"server": v}))))
}

pub(super) async fn delete_server(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    c.store.write(|db| {
        let s = db
            .servers
            .mine(&r.ctx, &id)
            .cloned()
            .ok_or_else(|| server_not_found(&id))?;
        if s.locked && !r.ctx.is_admin() {
            return Err(ApiError::conflict(S, format!("Instance {id} is locked")));
        }
        record(db, &id, &r.ctx, "delete");
        leave_groups(db, &id);
        for p in &s.nova_ports {
            neutron::remove_port(db, p);
        }
        for p in s.ports.iter().filter(|p| !s.nova_ports.contains(p)) {
            if let Some(port) = db.ports.get_mut(p) {
                port.device_id.clear();
                port.device_owner.clear();
                port.status = NetStatus::Down;
            }
        }
        for v in &s.volumes {
            // Cinder refuses to delete a volume with snapshots; Nova then only detaches it.
            let has_snapshots = db
                .snapshots
                .values()
                .any(|snap| snap.volume_id == v.volume_id);
            if v.delete_on_termination && !has_snapshots {
                db.volumes.remove(&v.volume_id);
            } else if let Some(vol) = db.volumes.get_mut(&v.volume_id) {
                vol.attachments.retain(|a| a.server_id != id);
                vol.status = VolumeStatus::Available;
                vol.updated_at = Some(util::now_micro());
            }
        }
        db.servers.remove(&id);
        Ok(())
    })?;
    let hv = c.hv.clone();
    tokio::spawn(async move {
        if let Err(e) = hv.destroy(&id).await {
            tracing::warn!("destroying instance {id}: {e}");
        }
    });
    Ok(versioned(&r, StatusCode::NO_CONTENT))
}
