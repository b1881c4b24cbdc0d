//! Cinder volume types: the built-in ones seeded once, admins' create/update/delete, extra specs
//! and project access of private types, as `openstack volume type …` calls them.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::body;
use crate::error::{ApiError, ApiResult, Service};
use crate::model::{State as Db, VolumeType};
use crate::util::{self, Ctx};
use crate::AppState;

const S: Service = Service::Volume;
/// The built-in types (VK's names); the first is the default.
const BUILTIN: &[&str] = &["ceph-ssd", "ceph-hdd", "high-iops"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/volume/v3/{project}/types",
            get(list_types).post(create_type),
        )
        .route(
            "/volume/v3/{project}/types/{id}",
            get(show_type).put(update_type).delete(delete_type),
        )
        .route(
            "/volume/v3/{project}/types/{id}/extra_specs",
            get(list_specs).post(set_specs),
        )
        .route(
            "/volume/v3/{project}/types/{id}/extra_specs/{key}",
            get(show_spec).put(put_spec).delete(delete_spec),
        )
        .route(
            "/volume/v3/{project}/types/{id}/os-volume-type-access",
            get(list_access),
        )
        .route(
            "/volume/v3/{project}/types/{id}/action",
            axum::routing::post(type_action),
        )
}

/// The ID of a type by name (built-in types' IDs are derived from their names).
pub fn type_id(name: &str) -> String {
    util::stable_uuid(&format!("volume-type/{name}"))
}

/// A short description of a type by name, where no stored row is at hand.
pub fn type_json(name: &str) -> Value {
    json!({"id": type_id(name), "name": name, "is_public": true, "extra_specs": {},
           "os-volume-type-access:is_public": true, "qos_specs_id": null})
}

/// A new public type with `volume_backend_name` set to its name.
pub(crate) fn new_type(name: &str, description: Option<String>) -> VolumeType {
    VolumeType {
        id: type_id(name),
        name: name.to_owned(),
        description,
        is_public: true,
        extra_specs: BTreeMap::from([("volume_backend_name".to_owned(), name.to_owned())]),
        access: Vec::new(),
    }
}

/// Puts the built-in types into a state that never had them.
pub(crate) fn seed_types(db: &mut Db) {
    for name in BUILTIN {
        let t = new_type(name, Some(format!("{name} volumes")));
        db.volume_types.entry(t.id.clone()).or_insert(t);
    }
}

/// The default type's name.
pub fn default_type(db: &Db) -> String {
    db.default_volume_type
        .clone()
        .unwrap_or_else(|| BUILTIN[0].to_owned())
}

fn usable(t: &VolumeType, ctx: &Ctx) -> bool {
    t.is_public || ctx.is_admin() || t.access.contains(&ctx.project_id)
}

/// A type the caller may use, by ID or name.
pub fn find<'a>(db: &'a Db, ctx: &Ctx, r: &str) -> Option<&'a VolumeType> {
    db.volume_types
        .get(r)
        .or_else(|| db.volume_types.values().find(|t| t.name == r))
        .filter(|t| usable(t, ctx))
}

fn view(t: &VolumeType) -> Value {
    json!({"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public,
           "os-volume-type-access:is_public": t.is_public, "extra_specs": t.extra_specs,
           "qos_specs_id": null})
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Volume type {id} could not be found."))
}

fn forbid_unless_admin(ctx: &Ctx, action: &str) -> ApiResult<()> {
    if ctx.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            S,
            format!("Policy doesn't allow volume_extension:{action} to be performed."),
        ))
    }
}

async fn list_types(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    let wanted = util::q(&query, "is_public").and_then(|v| match v.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Some(true),
        "false" | "f" | "0" | "no" => Some(false),
        _ => None,
    });
    let types: Vec<Value> = c.store.read(|db| {
        db.volume_types
            .values()
            .filter(|t| usable(t, &ctx))
            .filter(|t| wanted.is_none_or(|w| t.is_public == w))
            .map(view)
            .collect()
    });
    Ok(Json(json!({"volume_types": types})))
}

async fn show_type(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    c.store.read(|db| {
        let id = if id == "default" {
            default_type(db)
        } else {
            id.clone()
        };
        let t = find(db, &ctx, &id).ok_or_else(|| not_found(&id))?;
        Ok(Json(json!({"volume_type": view(t)})))
    })
}

fn type_fields(v: &Value) -> ApiResult<&serde_json::Map<String, Value>> {
    v.get("volume_type")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::bad_request(S, "Missing required element 'volume_type' in request body.")
        })
}

fn specs_of(v: Option<&Value>) -> ApiResult<BTreeMap<String, String>> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let o = v.as_object().ok_or_else(|| {
        ApiError::bad_request(
            S,
            "Invalid input received: extra_specs must be a dictionary.",
        )
    })?;
    o.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Bool(_) | Value::Number(_) => v.to_string(),
                _ => {
                    return Err(ApiError::bad_request(
                        S,
                        format!(
                            "Invalid input received: the value of extra spec {k} must be a string."
                        ),
                    ))
                }
            };
            if k.is_empty() || k.len() > 255 || s.len() > 255 {
                return Err(ApiError::bad_request(
                    S,
                    "Invalid input received: extra spec keys and values are 1 to 255 characters.",
                ));
            }
            Ok((k.clone(), s))
        })
        .collect()
}

fn name_of(v: &Value) -> ApiResult<String> {
    let name = v.as_str().unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.len() > 255 || name.contains('\0') {
        return Err(ApiError::bad_request(
            S,
            "Invalid input received: Volume type name can not be empty.",
        ));
    }
    Ok(name)
}

async fn create_type(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    forbid_unless_admin(&ctx, "types_manage")?;
    let v = body::parse_json(S, &bytes)?;
    let f = type_fields(&v)?;
    let name = name_of(f.get("name").unwrap_or(&Value::Null))?;
    let mut t = new_type(
        &name,
        f.get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
    );
    t.extra_specs = specs_of(f.get("extra_specs"))?;
    if let Some(p) = f.get("os-volume-type-access:is_public") {
        t.is_public = body::bool_like(p).ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!("Invalid value '{p}' for is_public. Accepted values: True or False."),
            )
        })?;
    }
    c.store.write(|db| {
        if db.volume_types.values().any(|x| x.name == name) {
            return Err(ApiError::conflict(
                S,
                format!("Volume Type {name} already exists."),
            ));
        }
        if db.volume_types.contains_key(&t.id) {
            t.id = util::new_id();
        }
        db.volume_types.insert(t.id.clone(), t.clone());
        Ok(Json(json!({"volume_type": view(&t)})))
    })
}

async fn update_type(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    forbid_unless_admin(&ctx, "types_manage")?;
    let v = body::parse_json(S, &bytes)?;
    let f = type_fields(&v)?.clone();
    let new_name = f.get("name").map(name_of).transpose()?;
    c.store.write(|db| {
        let t = db
            .volume_types
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(&id))?;
        let mut t2 = t.clone();
        if let Some(n) = &new_name {
            if *n != t.name && db.volume_types.values().any(|x| x.name == *n) {
                return Err(ApiError::conflict(
                    S,
                    format!("Volume Type {n} already exists."),
                ));
            }
            t2.name = n.clone();
        }
        if let Some(d) = f.get("description") {
            t2.description = d.as_str().map(str::to_owned);
        }
        if let Some(p) = f
            .get("is_public")
            .or_else(|| f.get("os-volume-type-access:is_public"))
        {
            t2.is_public = body::bool_like(p).unwrap_or(t2.is_public);
        }
        // Volumes name their type: a renamed type keeps its volumes.
        if t2.name != t.name {
            for vol in db.volumes.values_mut().filter(|v| v.volume_type == t.name) {
                vol.volume_type = t2.name.clone();
            }
            if db.default_volume_type.as_deref() == Some(t.name.as_str()) {
                db.default_volume_type = Some(t2.name.clone());
            }
        }
        db.volume_types.insert(id.clone(), t2.clone());
        Ok(Json(json!({"volume_type": view(&t2)})))
    })
}

async fn delete_type(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    forbid_unless_admin(&ctx, "types_manage")?;
    c.store.write(|db| {
        let t = db
            .volume_types
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(&id))?;
        if default_type(db) == t.name {
            return Err(ApiError::bad_request(
                S,
                "Default volume type can not be deleted.",
            ));
        }
        if db.volumes.values().any(|v| v.volume_type == t.name) {
            return Err(ApiError::bad_request(
                S,
                "Target volume type is still in use.",
            ));
        }
        db.volume_types.remove(&id);
        Ok(StatusCode::ACCEPTED)
    })
}

async fn list_specs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    c.store.read(|db| {
        let t = find(db, &ctx, &id).ok_or_else(|| not_found(&id))?;
        Ok(Json(json!({"extra_specs": t.extra_specs})))
    })
}

async fn set_specs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    forbid_unless_admin(&ctx, "types_extra_specs:create")?;
    let v = body::parse_json(S, &bytes)?;
    let specs = specs_of(Some(v.get("extra_specs").unwrap_or(&Value::Null)))?;
    c.store.write(|db| {
        let t = db.volume_types.get_mut(&id).ok_or_else(|| not_found(&id))?;
        t.extra_specs.extend(specs.clone());
        Ok(Json(json!({"extra_specs": specs})))
    })
}

async fn show_spec(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    c.store.read(|db| {
        let t = find(db, &ctx, &id).ok_or_else(|| not_found(&id))?;
        let v = t.extra_specs.get(&key).ok_or_else(|| {
            ApiError::not_found(
                S,
                format!("Volume Type {id} has no extra specs with key {key}."),
            )
        })?;
        Ok(Json(json!({ key.clone(): v })))
    })
}

async fn put_spec(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id, key)): Path<(String, String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    forbid_unless_admin(&ctx, "types_extra_specs:update")?;
    let v = body::parse_json(S, &bytes)?;
    let specs = specs_of(Some(&v))?;
    let value = specs
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::bad_request(S, "Request body and URI mismatch"))?;
    c.store.write(|db| {
        let t = db.volume_types.get_mut(&id).ok_or_else(|| not_found(&id))?;
        t.extra_specs.insert(key.clone(), value.clone());
        Ok(Json(json!({ key.clone(): value })))
    })
}

async fn delete_spec(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    forbid_unless_admin(&ctx, "types_extra_specs:delete")?;
    c.store.write(|db| {
        let t = db.volume_types.get_mut(&id).ok_or_else(|| not_found(&id))?;
        t.extra_specs.remove(&key).ok_or_else(|| {
            ApiError::not_found(
                S,
                format!("Volume Type {id} has no extra specs with key {key}."),
            )
        })?;
        Ok(StatusCode::ACCEPTED)
    })
}

async fn list_access(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    forbid_unless_admin(&ctx, "volume_type_access")?;
    c.store.read(|db| {
        let t = db.volume_types.get(&id).ok_or_else(|| not_found(&id))?;
        if t.is_public {
            return Err(ApiError::not_found(
                S,
                "Access list not available for public volume types.",
            ));
        }
        let access: Vec<Value> = t
            .access
            .iter()
            .map(|p| json!({"volume_type_id": t.id, "project_id": p}))
            .collect();
        Ok(Json(json!({"volume_type_access": access})))
    })
}

async fn type_action(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    forbid_unless_admin(&ctx, "volume_type_access")?;
    let v = body::parse_json(S, &bytes)?;
    let (add, arg) = match (v.get("addProjectAccess"), v.get("removeProjectAccess")) {
        (Some(a), None) => (true, a),
        (None, Some(a)) => (false, a),
        _ => {
            return Err(ApiError::bad_request(
                S,
                "There is no such action: expected addProjectAccess or removeProjectAccess.",
            ))
        }
    };
    let p = arg
        .get("project")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(S, "Missing required element 'project' in request body.")
        })?
        .to_owned();
    c.store.write(|db| {
        let t = db.volume_types.get_mut(&id).ok_or_else(|| not_found(&id))?;
        if t.is_public {
            return Err(ApiError::bad_request(
                S,
                "Invalid volume type: Type access modification is not applicable to public volume type.",
            ));
        }
        let has = t.access.contains(&p);
        match (add, has) {
            (true, true) => Err(ApiError::conflict(
                S,
                format!("Volume type access for {id}/{p} combination already exists."),
            )),
            (false, false) => Err(ApiError::not_found(
                S,
                format!("Volume type access not found for {id}/{p} combination."),
            )),
            (true, false) => {
                t.access.push(p.clone());
                Ok(StatusCode::ACCEPTED.into_response())
            }
            (false, true) => {
                t.access.retain(|x| *x != p);
                Ok(StatusCode::ACCEPTED.into_response())
            }
        }
    })
}
