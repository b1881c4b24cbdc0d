//! Keystone's registries that admins keep but localcloud does not act on: the catalog admin
//! (regions, services, endpoints, endpoint groups and their project filters), policies,
//! registered limits and limits, and the federation registries (identity providers, mappings,
//! service providers). They are stored, validated, listed and changed as Keystone does; the
//! built-in services, their endpoints and the cloud's region are listed beside them (read-only).
//! Services admins add appear in the catalog with their endpoints. localcloud does not enforce
//! limits, policies or endpoint filters, and does not federate.

use axum::routing::put;

use super::*;

mod catalog;
mod ep_filter;
mod federation;
mod limits;
mod policies;

use catalog::*;
use ep_filter::*;
use federation::*;
use limits::*;
use policies::*;

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
