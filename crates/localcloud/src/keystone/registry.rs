//! Keystone's registries that admins keep but localcloud does not act on: the catalog admin
//! (regions, services, endpoints, endpoint groups and their project filters), policies,
//! registered limits and limits, and the federation registries (identity providers, mappings,
//! service providers). They are stored, validated, listed and changed as Keystone does; the
//! built-in services, their endpoints and the cloud's region are listed beside them (read-only).
//! Services admins add appear in the catalog with their endpoints. localcloud does not enforce
//! limits, policies or endpoint filters, and does not federate.

use axum::routing::put;

use super::*;

/// The kinds of record, keyed in `State::identity_records`.
const REGION: &str = "region";
const SERVICE: &str = "service";
const ENDPOINT: &str = "endpoint";
const ENDPOINT_GROUP: &str = "endpoint_group";
const POLICY: &str = "policy";
const REGISTERED_LIMIT: &str = "registered_limit";
const LIMIT: &str = "limit";
const IDP: &str = "identity_provider";
const MAPPING: &str = "mapping";
const SP: &str = "service_provider";
/// `<endpoint id>|<project id>` and `<endpoint group id>|<project id>`.
const ENDPOINT_PROJECT: &str = "endpoint_project";
const GROUP_PROJECT: &str = "endpoint_group_project";

const INTERFACES: &[&str] = &["public", "internal", "admin"];

fn admin(c: &Cloud, headers: &HeaderMap, action: &str) -> ApiResult<Token> {
    let t = caller(c, headers)?;
    if !is_admin(c, &t) {
        return Err(ApiError::forbidden(
            S,
            format!("You are not authorized to perform the requested action: identity:{action}."),
        ));
    }
    Ok(t)
}

fn not_found(kind: &str, id: &str) -> ApiError {
    ApiError::not_found(S, format!("Could not find {kind}: {id}."))
}

fn conflict(kind: &str, detail: &str) -> ApiError {
    ApiError::conflict(
        S,
        format!("Conflict occurred attempting to store {kind} - {detail}"),
    )
}

fn read_only(kind: &str, id: &str) -> ApiError {
    ApiError::forbidden(
        S,
        format!("The {kind} {id} is built into localcloud and cannot be changed."),
    )
}

/// The object (or, for limits, the list) under `key` of a JSON body.
fn field(bytes: &[u8], key: &str) -> ApiResult<Value> {
    let v = body::parse_json(S, bytes)?;
    v.get(key).cloned().ok_or_else(|| {
        bad(format!(
            "Invalid input for field '{key}': '{key}' is a required property"
        ))
    })
}

fn object_of(v: Value, key: &str) -> ApiResult<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(bad(format!(
            "Invalid input for field '{key}': a JSON object is required"
        ))),
    }
}

fn string_in(m: &Map<String, Value>, k: &str) -> ApiResult<Option<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.contains('\0') => Err(bad(format!(
            "Invalid input for field '{k}': NUL characters are not allowed"
        ))),
        Some(Value::String(s)) if s.chars().count() > 255 && k != "blob" && k != "url" => Err(bad(
            format!("Invalid input for field '{k}': longer than 255 characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(bad(format!(
            "Invalid input for field '{k}': {v} is not of type 'string'"
        ))),
    }
}

fn bool_in(m: &Map<String, Value>, k: &str) -> ApiResult<Option<bool>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(bad(format!(
            "Invalid input for field '{k}': {v} is not of type 'boolean'"
        ))),
    }
}

fn int_in(m: &Map<String, Value>, k: &str) -> ApiResult<Option<i64>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n))
            if n.as_i64()
                .is_some_and(|n| (-1..=i64::from(i32::MAX)).contains(&n)) =>
        {
            Ok(n.as_i64())
        }
        Some(v) => Err(bad(format!(
            "Invalid input for field '{k}': {v} is not an integer from -1 to 2147483647"
        ))),
    }
}

fn required(v: Option<String>, k: &str) -> ApiResult<String> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(bad(format!(
            "Invalid input for field '{k}': '{k}' is a required property"
        ))),
    }
}

fn record<'a>(s: &'a Db, kind: &str, id: &str) -> Option<&'a Value> {
    s.identity_records.get(kind).and_then(|m| m.get(id))
}

fn records<'a>(s: &'a Db, kind: &str) -> Vec<&'a Value> {
    s.identity_records
        .get(kind)
        .map(|m| m.values().collect())
        .unwrap_or_default()
}

fn put_record(s: &mut Db, kind: &str, id: &str, v: Value) {
    s.identity_records
        .entry(kind.to_owned())
        .or_default()
        .insert(id.to_owned(), v);
}

fn remove_record(s: &mut Db, kind: &str, id: &str) -> Option<Value> {
    s.identity_records.get_mut(kind).and_then(|m| m.remove(id))
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn with_links(c: &Cloud, path: &str, mut v: Value) -> Value {
    if let (Some(id), Some(m)) = (
        v.get("id").and_then(Value::as_str).map(str::to_owned),
        v.as_object_mut(),
    ) {
        m.insert(
            "links".into(),
            json!({"self": c.url(&format!("/identity/v3/{path}/{id}"))}),
        );
    }
    v
}

/// Keeps the items whose `keys` match the query.
fn filter(items: Vec<Value>, query: &[(String, String)], keys: &[&str]) -> Vec<Value> {
    let mut items = items;
    for (k, want) in query {
        if !keys.contains(&k.as_str()) {
            continue;
        }
        items.retain(|i| match i.get(k) {
            Some(Value::String(s)) => s == want,
            Some(Value::Bool(b)) => want.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            Some(Value::Number(n)) => n.to_string() == *want,
            _ => false,
        });
    }
    items
}

fn list(c: &Cloud, key: &str, path: &str, items: Vec<Value>) -> Json<Value> {
    Json(
        json!({key: items, "links": {"self": c.url(&format!("/identity/v3/{path}")), "previous": null, "next": null}}),
    )
}

fn created(key: &str, v: Value) -> Response {
    (StatusCode::CREATED, Json(json!({ key: v }))).into_response()
}

// --- the built-in catalog -----------------------------------------------------------------------

/// The built-in services (from the catalog localcloud serves) as Keystone's service records.
fn builtin_services(c: &Cloud) -> Vec<Value> {
    catalog_builtin(c, "{project_id}")
        .into_iter()
        .map(|e| {
            json!({"id": e.id, "type": e.service_type, "name": e.name, "enabled": true,
                   "description": format!("localcloud's built-in {} service", e.service_type)})
        })
        .collect()
}

fn builtin_endpoints(c: &Cloud) -> Vec<Value> {
    catalog_builtin(c, "$(project_id)s")
        .into_iter()
        .flat_map(|e| {
            let service_id = e.id.clone();
            e.endpoints.into_iter().map(move |ep| {
                json!({"id": ep.id, "interface": ep.interface, "region_id": ep.region_id,
                       "region": ep.region, "url": ep.url, "service_id": service_id,
                       "enabled": true})
            })
        })
        .collect()
}

fn builtin_region(c: &Cloud) -> Value {
    json!({"id": c.cfg.region, "description": "", "parent_region_id": null})
}

fn all_services(c: &Cloud, s: &Db) -> Vec<Value> {
    let mut v = builtin_services(c);
    v.extend(records(s, SERVICE).into_iter().cloned());
    v
}

fn all_endpoints(c: &Cloud, s: &Db) -> Vec<Value> {
    let mut v = builtin_endpoints(c);
    v.extend(records(s, ENDPOINT).into_iter().cloned());
    v
}

fn region_exists(c: &Cloud, s: &Db, id: &str) -> bool {
    id == c.cfg.region || record(s, REGION, id).is_some()
}

fn project_exists(s: &Db, id: &str) -> bool {
    s.projects.contains_key(id)
}

/// The services admins added, with their enabled endpoints, for the token's catalog.
pub(super) fn catalog_entries(s: &Db) -> Vec<w::CatalogEntry> {
    {
        records(s, SERVICE)
            .into_iter()
            .filter(|sv| sv.get("enabled").and_then(Value::as_bool).unwrap_or(true))
            .map(|sv| {
                let id = str_of(sv, "id");
                w::CatalogEntry {
                    service_type: str_of(sv, "type").to_owned(),
                    name: str_of(sv, "name").to_owned(),
                    id: id.to_owned(),
                    endpoints: records(s, ENDPOINT)
                        .into_iter()
                        .filter(|e| {
                            str_of(e, "service_id") == id
                                && e.get("enabled").and_then(Value::as_bool).unwrap_or(true)
                        })
                        .map(|e| w::CatalogEndpoint {
                            id: str_of(e, "id").to_owned(),
                            interface: str_of(e, "interface").to_owned(),
                            region_id: e
                                .get("region_id")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            region: e
                                .get("region_id")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            url: str_of(e, "url").to_owned(),
                        })
                        .collect(),
                }
            })
            .collect()
    }
}

// --- regions ------------------------------------------------------------------------------------

fn region_fields(
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

async fn create_region(
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

async fn list_regions(
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

async fn show_region(
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

async fn update_region(
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

async fn delete_region(
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

fn service_fields(m: &Map<String, Value>, base: &mut Map<String, Value>) -> ApiResult<()> {
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

async fn create_service(
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

async fn list_services(
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

async fn show_service(
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

async fn update_service(
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

async fn delete_service(
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

fn remove_endpoint(s: &mut Db, id: &str) {
    remove_record(s, ENDPOINT, id);
    if let Some(m) = s.identity_records.get_mut(ENDPOINT_PROJECT) {
        m.retain(|k, _| k.split('|').next() != Some(id));
    }
}

fn endpoint_fields(
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

async fn create_endpoint(
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

async fn list_endpoints(
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

async fn show_endpoint(
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

async fn update_endpoint(
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

async fn delete_endpoint(
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

// --- OS-EP-FILTER: endpoints and endpoint groups of projects --------------------------------------

fn project_json_of(c: &Cloud, s: &Db, id: &str) -> Option<Value> {
    s.projects.get(id).map(|p| {
        json!({"id": p.id, "name": p.name, "description": p.description,
               "domain_id": p.domain_id, "enabled": p.enabled, "is_domain": false,
               "parent_id": p.domain_id, "tags": [],
               "links": {"self": c.url(&format!("/identity/v3/projects/{}", p.id))}})
    })
}

fn associated(
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

async fn add_endpoint_project(
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

async fn check_endpoint_project(
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

async fn remove_endpoint_project(
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

async fn endpoint_projects(
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

async fn project_endpoints(
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

fn group_fields(m: &Map<String, Value>, base: &mut Map<String, Value>) -> ApiResult<()> {
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

const GROUPS: &str = "OS-EP-FILTER/endpoint_groups";

async fn create_group(
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

async fn list_groups(
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

async fn show_group(
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

async fn update_group(
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

async fn delete_group(
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

async fn add_group_project(
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

async fn check_group_project(
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

async fn remove_group_project(
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

async fn group_projects(
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
async fn group_endpoints(
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

async fn project_groups(
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

// --- policies -----------------------------------------------------------------------------------

fn policy_fields(m: &Map<String, Value>, base: &mut Map<String, Value>) -> ApiResult<()> {
    for k in ["blob", "type"] {
        if let Some(v) = string_in(m, k)? {
            base.insert(k.into(), json!(v));
        }
    }
    Ok(())
}

async fn create_policy(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_policy")?;
    let m = object_of(field(&bytes, "policy")?, "policy")?;
    required(string_in(&m, "blob")?, "blob")?;
    required(string_in(&m, "type")?, "type")?;
    let id = new_hex_id();
    let mut base = Map::new();
    base.insert("id".into(), json!(id));
    policy_fields(&m, &mut base)?;
    let v = Value::Object(base);
    c.store.write(|s| put_record(s, POLICY, &id, v.clone()));
    Ok(created("policy", with_links(&c, "policies", v)))
}

async fn list_policies(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_policies")?;
    let items = c
        .store
        .read(|s| records(s, POLICY).into_iter().cloned().collect());
    let items = filter(items, &q, &["type"])
        .into_iter()
        .map(|v| with_links(&c, "policies", v))
        .collect();
    Ok(list(&c, "policies", "policies", items))
}

async fn show_policy(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "get_policy")?;
    let v = c
        .store
        .read(|s| record(s, POLICY, &id).cloned())
        .ok_or_else(|| not_found("policy", &id))?;
    Ok(Json(json!({"policy": with_links(&c, "policies", v)})))
}

async fn update_policy(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_policy")?;
    let m = object_of(field(&bytes, "policy")?, "policy")?;
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, POLICY, &id).cloned() else {
            return Err(not_found("policy", &id));
        };
        policy_fields(&m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, POLICY, &id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({"policy": with_links(&c, "policies", v)})))
}

async fn delete_policy(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_policy")?;
    c.store.write(|s| {
        remove_record(s, POLICY, &id).ok_or_else(|| not_found("policy", &id))?;
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- registered limits and limits -----------------------------------------------------------------

/// Validates and applies the fields of a registered limit (`registered`) or a project limit.
fn limit_fields(
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
fn limit_key(v: &Value, registered: bool) -> (String, String, String, String) {
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

fn check_limit(s: &Db, registered: bool, id: &str, v: &Value) -> ApiResult<()> {
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

async fn create_limits(
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

fn list_limits(
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

fn show_limit(
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

fn update_limit(
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

fn delete_limit(
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

// --- federation registries ------------------------------------------------------------------------

struct Fed {
    kind: &'static str,
    key: &'static str,
    plural: &'static str,
    path: &'static str,
}

const FED_IDP: Fed = Fed {
    kind: IDP,
    key: "identity_provider",
    plural: "identity_providers",
    path: "OS-FEDERATION/identity_providers",
};
const FED_MAPPING: Fed = Fed {
    kind: MAPPING,
    key: "mapping",
    plural: "mappings",
    path: "OS-FEDERATION/mappings",
};
const FED_SP: Fed = Fed {
    kind: SP,
    key: "service_provider",
    plural: "service_providers",
    path: "OS-FEDERATION/service_providers",
};

fn fed_fields(
    fed: &Fed,
    s: &Db,
    m: &Map<String, Value>,
    base: &mut Map<String, Value>,
) -> ApiResult<()> {
    for (k, v) in m {
        match (fed.kind, k.as_str()) {
            (IDP, "description")
            | (SP, "description" | "auth_url" | "sp_url" | "relay_state_prefix") => {
                base.insert(k.clone(), json!(string_in(m, k)?));
            }
            (IDP | SP, "enabled") => {
                base.insert(k.clone(), json!(bool_in(m, k)?.unwrap_or(false)));
            }
            (IDP, "remote_ids") => match v {
                Value::Null => {
                    base.insert(k.clone(), json!([]));
                }
                Value::Array(a) if a.iter().all(Value::is_string) => {
                    base.insert(k.clone(), v.clone());
                }
                _ => {
                    return Err(bad(
                        "Invalid input for field 'remote_ids': a list of strings is required",
                    ))
                }
            },
            (IDP, "authorization_ttl") => {
                base.insert(k.clone(), json!(int_in(m, k)?));
            }
            (IDP, "domain_id") => {
                let d = required(string_in(m, k)?, k)?;
                if !s.domains.contains_key(&d) {
                    return Err(not_found("domain", &d));
                }
                base.insert(k.clone(), json!(d));
            }
            (MAPPING, "rules") => match v {
                Value::Array(_) => {
                    base.insert(k.clone(), v.clone());
                }
                _ => {
                    return Err(bad(
                        "Invalid input for field 'rules': a JSON array is required",
                    ))
                }
            },
            (MAPPING, "schema_version") => {
                base.insert(k.clone(), json!(string_in(m, k)?));
            }
            _ => {
                return Err(bad(format!(
                    "Invalid input for field '{k}': additional properties are not allowed"
                )))
            }
        }
    }
    Ok(())
}

async fn fed_create(
    c: &Cloud,
    headers: &HeaderMap,
    fed: &Fed,
    id: String,
    bytes: &[u8],
) -> ApiResult<Response> {
    admin(c, headers, &format!("create_{}", fed.key))?;
    if id.is_empty() || id.chars().count() > 64 || id.contains('\0') {
        return Err(bad("The ID must be 1 to 64 characters."));
    }
    let mut m = object_of(field(bytes, fed.key)?, fed.key)?;
    // openstackclient repeats the path's id in the body (`mapping create`): the same id is
    // accepted, another one refused.
    if let Some(body_id) = m.remove("id") {
        if body_id.as_str() != Some(id.as_str()) {
            return Err(bad(
                "Invalid input for field 'id': it must match the id in the URL",
            ));
        }
    }
    let v = c.store.write(|s| {
        if record(s, fed.kind, &id).is_some() {
            return Err(conflict(fed.key, &format!("Duplicate ID, {id}.")));
        }
        let mut base = Map::new();
        base.insert("id".into(), json!(id));
        match fed.kind {
            IDP => {
                base.insert("description".into(), Value::Null);
                base.insert("enabled".into(), json!(false));
                base.insert("remote_ids".into(), json!([]));
                base.insert("authorization_ttl".into(), Value::Null);
            }
            SP => {
                for k in ["auth_url", "sp_url"] {
                    required(string_in(&m, k)?, k)?;
                }
                base.insert("description".into(), Value::Null);
                base.insert("enabled".into(), json!(false));
                base.insert("relay_state_prefix".into(), json!("ss:mem:"));
            }
            _ => {
                if !matches!(m.get("rules"), Some(Value::Array(_))) {
                    return Err(bad(
                        "Invalid input for field 'rules': 'rules' is a required property",
                    ));
                }
                base.insert("schema_version".into(), json!("1.0"));
            }
        }
        fed_fields(fed, s, &m, &mut base)?;
        if fed.kind == IDP && !base.contains_key("domain_id") {
            // As Keystone does, an identity provider without a domain gets a domain of its own.
            let d = crate::model::Domain {
                id: new_hex_id(),
                name: id.clone(),
                description: "Auto generated federated domain for Identity Provider: ".to_owned()
                    + &id,
                enabled: true,
            };
            if s.domains.values().any(|x| x.name == d.name) {
                return Err(conflict(
                    "domain",
                    &format!("Duplicate entry found with name {}.", d.name),
                ));
            }
            base.insert("domain_id".into(), json!(d.id));
            s.domains.insert(d.id.clone(), d);
        }
        let v = Value::Object(base);
        put_record(s, fed.kind, &id, v.clone());
        Ok(v)
    })?;
    Ok(created(fed.key, with_links(c, fed.path, v)))
}

fn fed_list(
    c: &Cloud,
    headers: &HeaderMap,
    fed: &Fed,
    q: &[(String, String)],
) -> ApiResult<Json<Value>> {
    admin(c, headers, &format!("list_{}", fed.plural))?;
    let items = c
        .store
        .read(|s| records(s, fed.kind).into_iter().cloned().collect());
    let items = filter(items, q, &["id", "enabled"])
        .into_iter()
        .map(|v| with_links(c, fed.path, v))
        .collect();
    Ok(list(c, fed.plural, fed.path, items))
}

fn fed_show(c: &Cloud, headers: &HeaderMap, fed: &Fed, id: &str) -> ApiResult<Json<Value>> {
    admin(c, headers, &format!("get_{}", fed.key))?;
    let v = c
        .store
        .read(|s| record(s, fed.kind, id).cloned())
        .ok_or_else(|| not_found(fed.key, id))?;
    Ok(Json(json!({ fed.key: with_links(c, fed.path, v) })))
}

fn fed_update(
    c: &Cloud,
    headers: &HeaderMap,
    fed: &Fed,
    id: &str,
    bytes: &[u8],
) -> ApiResult<Json<Value>> {
    admin(c, headers, &format!("update_{}", fed.key))?;
    let mut m = object_of(field(bytes, fed.key)?, fed.key)?;
    if fed.kind == IDP && m.contains_key("domain_id") {
        return Err(bad(
            "Invalid input for field 'domain_id': an identity provider keeps its domain",
        ));
    }
    m.remove("id");
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, fed.kind, id).cloned() else {
            return Err(not_found(fed.key, id));
        };
        fed_fields(fed, s, &m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, fed.kind, id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({ fed.key: with_links(c, fed.path, v) })))
}

fn fed_delete(c: &Cloud, headers: &HeaderMap, fed: &Fed, id: &str) -> ApiResult<StatusCode> {
    admin(c, headers, &format!("delete_{}", fed.key))?;
    c.store.write(|s| {
        remove_record(s, fed.kind, id).ok_or_else(|| not_found(fed.key, id))?;
        Ok(StatusCode::NO_CONTENT)
    })
}

fn fed_routes(r: Router<AppState>, fed: &'static Fed) -> Router<AppState> {
    r.route(
        &format!("/identity/v3/{}", fed.path),
        get(move |State(c): State<AppState>, h: HeaderMap, Query(q): Query<Vec<(String, String)>>| async move {
            fed_list(&c, &h, fed, &q)
        }),
    )
    .route(
        &format!("/identity/v3/{}/{{id}}", fed.path),
        put(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            fed_create(&c, &h, fed, id, &b).await
        })
        .get(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            fed_show(&c, &h, fed, &id)
        })
        .patch(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            fed_update(&c, &h, fed, &id, &b)
        })
        .delete(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            fed_delete(&c, &h, fed, &id)
        }),
    )
}

static FEDS: [Fed; 3] = [FED_IDP, FED_MAPPING, FED_SP];

fn limit_routes(r: Router<AppState>, registered: bool) -> Router<AppState> {
    let path = if registered {
        "registered_limits"
    } else {
        "limits"
    };
    r.route(
        &format!("/identity/v3/{path}"),
        get(move |State(c): State<AppState>, h: HeaderMap, Query(q): Query<Vec<(String, String)>>| async move {
            list_limits(&c, &h, &q, registered)
        })
        .post(move |State(c): State<AppState>, h: HeaderMap, b: Bytes| async move {
            create_limits(&c, &h, &b, registered).await
        }),
    )
    .route(
        &format!("/identity/v3/{path}/{{id}}"),
        get(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            show_limit(&c, &h, &id, registered)
        })
        .patch(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            update_limit(&c, &h, &id, &b, registered)
        })
        .delete(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            delete_limit(&c, &h, &id, registered)
        }),
    )
}

pub(super) fn routes(r: Router<AppState>) -> Router<AppState> {
    let mut r = r
        .route(
            "/identity/v3/regions",
            get(list_regions).post(create_region),
        )
        .route(
            "/identity/v3/regions/{id}",
            get(show_region).patch(update_region).delete(delete_region),
        )
        .route(
            "/identity/v3/services",
            get(list_services).post(create_service),
        )
        .route(
            "/identity/v3/services/{id}",
            get(show_service)
                .patch(update_service)
                .delete(delete_service),
        )
        .route(
            "/identity/v3/endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/identity/v3/endpoints/{id}",
            get(show_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/projects/{p}/endpoints/{e}",
            put(add_endpoint_project)
                .head(check_endpoint_project)
                .get(check_endpoint_project)
                .delete(remove_endpoint_project),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/endpoints/{e}/projects",
            get(endpoint_projects),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/projects/{p}/endpoints",
            get(project_endpoints),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/projects/{p}/endpoint_groups",
            get(project_groups),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/endpoint_groups",
            get(list_groups).post(create_group),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/endpoint_groups/{g}",
            get(show_group).patch(update_group).delete(delete_group),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/endpoint_groups/{g}/projects",
            get(group_projects),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/endpoint_groups/{g}/endpoints",
            get(group_endpoints),
        )
        .route(
            "/identity/v3/OS-EP-FILTER/endpoint_groups/{g}/projects/{p}",
            put(add_group_project)
                .get(check_group_project)
                .head(check_group_project)
                .delete(remove_group_project),
        )
        .route(
            "/identity/v3/policies",
            get(list_policies).post(create_policy),
        )
        .route(
            "/identity/v3/policies/{id}",
            get(show_policy).patch(update_policy).delete(delete_policy),
        );
    r = limit_routes(r, true);
    r = limit_routes(r, false);
    for fed in &FEDS {
        r = fed_routes(r, fed);
    }
    r
}
