//! OS-EP-FILTER: endpoints and endpoint groups of projects.

use super::*;

// --- OS-EP-FILTER: endpoints and endpoint groups of projects --------------------------------------

pub(super) fn project_json_of(c: &Cloud, s: &Db, id: &str) -> Option<Value> {
    s.projects.get(id).map(|p| {
        json!({"id": p.id, "name": p.name, "description": p.description,
               "domain_id": p.domain_id, "enabled": p.enabled, "is_domain": false,
               "parent_id": p.domain_id, "tags": [],
               "links": {"self": c.url(&format!("/identity/v3/projects/{}", p.id))}})
    })
}

pub(super) fn associated(
    s: &Db,
    kind: &str,
    left: Option<&str>,
    right: Option<&str>,
) -> Vec<(String, String)> {
    s.identity_records
        .get(kind)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.split_once('|'))
                .filter(|(l, r)| left.is_none_or(|x| x == *l) && right.is_none_or(|x| x == *r))
                .map(|(l, r)| (l.to_owned(), r.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn add_endpoint_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((p, e)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "add_endpoint_to_project")?;
    c.store.write(|s| {
        if !project_exists(s, &p) {
            return Err(not_found("project", &p));
        }
        if !all_endpoints(&c, s).iter().any(|v| str_of(v, "id") == e) {
            return Err(not_found("endpoint", &e));
        }
        put_record(s, ENDPOINT_PROJECT, &format!("{e}|{p}"), json!({}));
        Ok(StatusCode::NO_CONTENT)
    })
}

pub(super) async fn check_endpoint_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((p, e)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "check_endpoint_in_project")?;
    c.store.read(|s| {
        if record(s, ENDPOINT_PROJECT, &format!("{e}|{p}")).is_some() {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(not_found("endpoint in project", &format!("{e} in {p}")))
        }
    })
}

pub(super) async fn remove_endpoint_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((p, e)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "remove_endpoint_from_project")?;
    c.store.write(|s| {
        if remove_record(s, ENDPOINT_PROJECT, &format!("{e}|{p}")).is_none() {
            return Err(not_found("endpoint in project", &format!("{e} in {p}")));
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

pub(super) async fn endpoint_projects(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(e): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_projects_for_endpoint")?;
    let items = c.store.read(|s| {
        associated(s, ENDPOINT_PROJECT, Some(&e), None)
            .into_iter()
            .filter_map(|(_, p)| project_json_of(&c, s, &p))
            .collect()
    });
    Ok(list(
        &c,
        "projects",
        &format!("OS-EP-FILTER/endpoints/{e}/projects"),
        items,
    ))
}

pub(super) async fn project_endpoints(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(p): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_endpoints_for_project")?;
    let items = c.store.read(|s| {
        let ids: Vec<String> = associated(s, ENDPOINT_PROJECT, None, Some(&p))
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        all_endpoints(&c, s)
            .into_iter()
            .filter(|v| ids.iter().any(|i| i == str_of(v, "id")))
            .map(|v| with_links(&c, "endpoints", v))
            .collect()
    });
    Ok(list(
        &c,
        "endpoints",
        &format!("OS-EP-FILTER/projects/{p}/endpoints"),
        items,
    ))
}

pub(super) fn group_fields(m: &Map<String, Value>, base: &mut Map<String, Value>) -> ApiResult<()> {
    for k in ["name", "description"] {
        if let Some(v) = string_in(m, k)? {
            base.insert(k.into(), json!(v));
        }
    }
    match m.get("filters") {
        None => {}
        Some(Value::Object(f)) => {
            for k in f.keys() {
                if !["interface", "service_id", "region_id"].contains(&k.as_str()) {
                    return Err(bad(format!(
                        "Invalid input for field 'filters': '{k}' is not one of interface, service_id, region_id"
                    )));
                }
            }
            base.insert("filters".into(), Value::Object(f.clone()));
        }
        Some(v) => {
            return Err(bad(format!(
                "Invalid input for field 'filters': {v} is not of type 'object'"
            )))
        }
    }
    Ok(())
}

pub(super) const GROUPS: &str = "OS-EP-FILTER/endpoint_groups";

pub(super) async fn create_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_endpoint_group")?;
    let m = object_of(field(&bytes, "endpoint_group")?, "endpoint_group")?;
    required(string_in(&m, "name")?, "name")?;
    if !m.contains_key("filters") {
        return Err(bad(
            "Invalid input for field 'filters': 'filters' is a required property",
        ));
    }
    let id = new_hex_id();
    let mut base = Map::new();
    base.insert("id".into(), json!(id));
    base.insert("description".into(), json!(""));
    group_fields(&m, &mut base)?;
    let v = Value::Object(base);
    c.store
        .write(|s| put_record(s, ENDPOINT_GROUP, &id, v.clone()));
    Ok(created("endpoint_group", with_links(&c, GROUPS, v)))
}

pub(super) async fn list_groups(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_endpoint_groups")?;
    let items = c
        .store
        .read(|s| records(s, ENDPOINT_GROUP).into_iter().cloned().collect());
    let items = filter(items, &q, &["name"])
        .into_iter()
        .map(|v| with_links(&c, GROUPS, v))
        .collect();
    Ok(list(&c, "endpoint_groups", GROUPS, items))
}

pub(super) async fn show_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "get_endpoint_group")?;
    let v = c
        .store
        .read(|s| record(s, ENDPOINT_GROUP, &id).cloned())
        .ok_or_else(|| not_found("endpoint group", &id))?;
    Ok(Json(json!({"endpoint_group": with_links(&c, GROUPS, v)})))
}

pub(super) async fn update_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_endpoint_group")?;
    let m = object_of(field(&bytes, "endpoint_group")?, "endpoint_group")?;
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, ENDPOINT_GROUP, &id).cloned() else {
            return Err(not_found("endpoint group", &id));
        };
        group_fields(&m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, ENDPOINT_GROUP, &id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({"endpoint_group": with_links(&c, GROUPS, v)})))
}

pub(super) async fn delete_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_endpoint_group")?;
    c.store.write(|s| {
        if remove_record(s, ENDPOINT_GROUP, &id).is_none() {
            return Err(not_found("endpoint group", &id));
        }
        if let Some(m) = s.identity_records.get_mut(GROUP_PROJECT) {
            m.retain(|k, _| k.split('|').next() != Some(id.as_str()));
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

pub(super) async fn add_group_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((g, p)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "add_endpoint_group_to_project")?;
    c.store.write(|s| {
        if record(s, ENDPOINT_GROUP, &g).is_none() {
            return Err(not_found("endpoint group", &g));
        }
        if !project_exists(s, &p) {
            return Err(not_found("project", &p));
        }
        put_record(s, GROUP_PROJECT, &format!("{g}|{p}"), json!({}));
        Ok(StatusCode::NO_CONTENT)
    })
}

pub(super) async fn check_group_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((g, p)): Path<(String, String)>,
) -> ApiResult<Response> {
    admin(&c, &headers, "get_endpoint_group_in_project")?;
    c.store.read(|s| {
        if record(s, GROUP_PROJECT, &format!("{g}|{p}")).is_none() {
            return Err(not_found(
                "endpoint group in project",
                &format!("{g} in {p}"),
            ));
        }
        let v = json!({"project_endpoint_group": {"endpoint_group_id": g, "project_id": p}});
        Ok(Json(v).into_response())
    })
}

pub(super) async fn remove_group_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((g, p)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "remove_endpoint_group_from_project")?;
    c.store.write(|s| {
        if remove_record(s, GROUP_PROJECT, &format!("{g}|{p}")).is_none() {
            return Err(not_found(
                "endpoint group in project",
                &format!("{g} in {p}"),
            ));
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

pub(super) async fn group_projects(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(g): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_projects_associated_with_endpoint_group")?;
    let items = c.store.read(|s| {
        if record(s, ENDPOINT_GROUP, &g).is_none() {
            return Err(not_found("endpoint group", &g));
        }
        Ok(associated(s, GROUP_PROJECT, Some(&g), None)
            .into_iter()
            .filter_map(|(_, p)| project_json_of(&c, s, &p))
            .collect())
    })?;
    Ok(list(
        &c,
        "projects",
        &format!("{GROUPS}/{g}/projects"),
        items,
    ))
}

/// The endpoints an endpoint group's filters select.
pub(super) async fn group_endpoints(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(g): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(
        &c,
        &headers,
        "list_endpoints_associated_with_endpoint_group",
    )?;
    let items = c.store.read(|s| {
        let group = record(s, ENDPOINT_GROUP, &g).ok_or_else(|| not_found("endpoint group", &g))?;
        let filters = group
            .get("filters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Ok(all_endpoints(&c, s)
            .into_iter()
            .filter(|e| filters.iter().all(|(k, want)| e.get(k) == Some(want)))
            .map(|v| with_links(&c, "endpoints", v))
            .collect())
    })?;
    Ok(list(
        &c,
        "endpoints",
        &format!("{GROUPS}/{g}/endpoints"),
        items,
    ))
}

pub(super) async fn project_groups(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(p): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_endpoint_groups_for_project")?;
    let items = c.store.read(|s| {
        associated(s, GROUP_PROJECT, None, Some(&p))
            .into_iter()
            .filter_map(|(g, _)| record(s, ENDPOINT_GROUP, &g).cloned())
            .map(|v| with_links(&c, GROUPS, v))
            .collect()
    });
    Ok(list(
        &c,
        "endpoint_groups",
        &format!("OS-EP-FILTER/projects/{p}/endpoint_groups"),
        items,
    ))
}
