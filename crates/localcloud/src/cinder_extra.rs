//! Cinder beyond volumes and snapshots, as `openstack volume qos|transfer request|service …`
//! call it: QoS specs and their volume type associations (admin), volume transfers (the volume
//! moves to the accepting project only when the auth key is given), the services list, the
//! `default` quota class, volume and snapshot metadata by key, and snapshot status actions.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put, MethodRouter};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::access::Scoped as _;
use crate::body;
use crate::error::{ApiError, ApiResult, Service};
use crate::model::{State as Db, VolumeStatus};
use crate::model_extra::{QosSpec, VolumeTransfer};
use crate::util::{self, new_id, now_micro, q, Ctx};
use crate::{AppState, Cloud};

const S: Service = Service::Volume;
/// The host of localcloud's Cinder services (its one back-end is `localcloud@local`).
const HOST: &str = "localcloud";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/volume/v3/{project}/qos-specs",
            get(list_qos).post(create_qos),
        )
        .route(
            "/volume/v3/{project}/qos-specs/{id}",
            get(show_qos).put(set_qos_keys).delete(delete_qos),
        )
        .route(
            "/volume/v3/{project}/qos-specs/{id}/delete_keys",
            put(delete_qos_keys),
        )
        .route(
            "/volume/v3/{project}/qos-specs/{id}/associations",
            get(qos_associations),
        )
        .route(
            "/volume/v3/{project}/qos-specs/{id}/associate",
            get(qos_associate),
        )
        .route(
            "/volume/v3/{project}/qos-specs/{id}/disassociate",
            get(qos_disassociate),
        )
        .route(
            "/volume/v3/{project}/qos-specs/{id}/disassociate_all",
            get(qos_disassociate_all),
        )
        .route(
            "/volume/v3/{project}/volume-transfers",
            get(list_transfers).post(create_transfer),
        )
        .route(
            "/volume/v3/{project}/volume-transfers/detail",
            get(list_transfers_detail),
        )
        .route(
            "/volume/v3/{project}/volume-transfers/{id}",
            get(show_transfer).delete(delete_transfer),
        )
        .route(
            "/volume/v3/{project}/volume-transfers/{id}/accept",
            post(accept_transfer),
        )
        .route(
            "/volume/v3/{project}/os-volume-transfer",
            get(list_transfers).post(create_transfer),
        )
        .route(
            "/volume/v3/{project}/os-volume-transfer/detail",
            get(list_transfers_detail),
        )
        .route(
            "/volume/v3/{project}/os-volume-transfer/{id}",
            get(show_transfer).delete(delete_transfer),
        )
        .route(
            "/volume/v3/{project}/os-volume-transfer/{id}/accept",
            post(accept_transfer),
        )
        .route("/volume/v3/{project}/os-services", get(list_services))
        .route(
            "/volume/v3/{project}/volumes/{id}/metadata/{key}",
            meta_by_key(MetaOwner::Volume),
        )
        .route(
            "/volume/v3/{project}/snapshots/{id}/action",
            post(snapshot_action),
        )
        .route(
            "/volume/v3/{project}/os-quota-class-sets/{class}",
            get(show_quota_class).put(update_quota_class),
        )
        .route(
            "/volume/v3/{project}/snapshots/{id}/metadata",
            get(snapshot_metadata)
                .post(update_snapshot_metadata)
                .put(replace_snapshot_metadata),
        )
        .route(
            "/volume/v3/{project}/snapshots/{id}/metadata/{key}",
            meta_by_key(MetaOwner::Snapshot),
        )
}

fn versioned(r: impl IntoResponse) -> Response {
    let mut r = r.into_response();
    r.headers_mut().insert(
        "openstack-api-version",
        HeaderValue::from_static("volume 3.70"),
    );
    r
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(S, msg)
}

fn admin_only(ctx: &Ctx, rule: &str) -> ApiResult<()> {
    if ctx.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            S,
            format!("Policy doesn't allow {rule} to be performed."),
        ))
    }
}

/// A string field of 1 to 255 characters without NUL.
fn name_field(field: &str, v: &Value) -> ApiResult<String> {
    match v {
        Value::String(s)
            if !s.trim().is_empty() && s.chars().count() <= 255 && !s.contains('\0') =>
        {
            Ok(s.clone())
        }
        other => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {other}. {other} is not valid"
        ))),
    }
}

/// Keys and values of specs or metadata: strings of at most 255 characters.
fn string_map(field: &str, m: &Map<String, Value>) -> ApiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let Value::String(s) = v else {
            return Err(bad(format!(
                "Invalid input for field/attribute {field}. Value: {v}. {v} is not of type 'string'"
            )));
        };
        if k.is_empty() || k.chars().count() > 255 || s.chars().count() > 255 || k.contains('\0') {
            return Err(bad(format!(
                "Invalid input for field/attribute {field}. Value: {k}. is not valid"
            )));
        }
        out.insert(k.clone(), s.clone());
    }
    Ok(out)
}

// QoS specs.

fn qos_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("QoS Specs {id} could not be found."))
}

fn qos_json(c: &Cloud, project: &str, q: &QosSpec) -> Value {
    json!({"id": q.id, "name": q.name, "consumer": q.consumer, "specs": q.specs,
           "created_at": q.created_at,
           "links": [{"rel": "self", "href": c.url(&format!("/volume/v3/{project}/qos-specs/{}", q.id))}]})
}

fn qos_ctx(c: &Cloud, headers: &HeaderMap, project: &str, rule: &str) -> ApiResult<Ctx> {
    let ctx = crate::cinder::ctx(c, headers, project)?;
    admin_only(&ctx, &format!("volume_extension:qos_specs_manage:{rule}"))?;
    Ok(ctx)
}

const CONSUMERS: &[&str] = &["front-end", "back-end", "both"];

async fn create_qos(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    qos_ctx(&c, &headers, &project, "create")?;
    let v = body::parse_json(S, &bytes)?;
    let mut m = v
        .get("qos_specs")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| bad("Missing required element 'qos_specs' in request body."))?;
    let name = name_field("name", &m.remove("name").unwrap_or(Value::Null))?;
    let consumer = match m.remove("consumer") {
        None | Some(Value::Null) => "back-end".to_owned(),
        Some(Value::String(s)) if CONSUMERS.contains(&s.as_str()) => s,
        Some(other) => {
            return Err(bad(format!(
                "Invalid input received: Invalid value '{other}' for consumer. Valid values are front-end, back-end, both."
            )))
        }
    };
    let specs = string_map("qos_specs", &m)?;
    let spec = QosSpec {
        id: new_id(),
        name: name.clone(),
        consumer,
        specs,
        volume_types: vec![],
        created_at: now_micro(),
    };
    c.store.write(|db| {
        if db.extra.qos_specs.values().any(|q| q.name == name) {
            return Err(ApiError::conflict(
                S,
                format!("QoS Specs {name} already exists."),
            ));
        }
        db.extra.qos_specs.insert(spec.id.clone(), spec.clone());
        Ok(())
    })?;
    let mut body = json!({"qos_specs": qos_json(&c, &project, &spec)});
    body["links"] = body["qos_specs"]["links"].clone();
    Ok(versioned(Json(body)))
}

async fn list_qos(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    qos_ctx(&c, &headers, &project, "get_all")?;
    let list: Vec<Value> = c.store.read(|db| {
        db.extra
            .qos_specs
            .values()
            .map(|q| qos_json(&c, &project, q))
            .collect()
    });
    Ok(versioned(Json(json!({"qos_specs": list}))))
}

fn get_qos(db: &Db, id: &str) -> ApiResult<QosSpec> {
    db.extra
        .qos_specs
        .get(id)
        .cloned()
        .ok_or_else(|| qos_not_found(id))
}

async fn show_qos(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    qos_ctx(&c, &headers, &project, "get")?;
    let q = c.store.read(|db| get_qos(db, &id))?;
    Ok(versioned(Json(
        json!({"qos_specs": qos_json(&c, &project, &q)}),
    )))
}

async fn set_qos_keys(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    qos_ctx(&c, &headers, &project, "update")?;
    let v = body::parse_json(S, &bytes)?;
    let m = v
        .get("qos_specs")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Missing required element 'qos_specs' in request body."))?;
    let mut specs = string_map("qos_specs", m)?;
    let consumer = specs.remove("consumer");
    if let Some(cons) = &consumer {
        if !CONSUMERS.contains(&cons.as_str()) {
            return Err(bad(format!("Invalid input received: Invalid value '{cons}' for consumer. Valid values are front-end, back-end, both.")));
        }
    }
    c.store.write(|db| {
        let q = db
            .extra
            .qos_specs
            .get_mut(&id)
            .ok_or_else(|| qos_not_found(&id))?;
        if let Some(cons) = consumer.clone() {
            q.consumer = cons;
        }
        q.specs.extend(specs.clone());
        Ok::<_, ApiError>(())
    })?;
    let mut out: Map<String, Value> = specs.into_iter().map(|(k, v)| (k, json!(v))).collect();
    if let Some(cons) = consumer {
        out.insert("consumer".into(), json!(cons));
    }
    Ok(versioned(Json(json!({"qos_specs": out}))))
}

async fn delete_qos_keys(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    qos_ctx(&c, &headers, &project, "delete_keys")?;
    let v = body::parse_json(S, &bytes)?;
    let keys: Vec<String> = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Missing required element 'keys' in request body."))?
        .iter()
        .map(|k| {
            k.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad("Invalid input received: keys must be strings."))
        })
        .collect::<ApiResult<_>>()?;
    c.store.write(|db| {
        let q = db
            .extra
            .qos_specs
            .get_mut(&id)
            .ok_or_else(|| qos_not_found(&id))?;
        if let Some(k) = keys.iter().find(|k| !q.specs.contains_key(*k)) {
            return Err(ApiError::not_found(
                S,
                format!("QoS spec {id} has no key {k}."),
            ));
        }
        for k in &keys {
            q.specs.remove(k);
        }
        Ok(())
    })?;
    Ok(versioned(StatusCode::ACCEPTED))
}

async fn delete_qos(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    qos_ctx(&c, &headers, &project, "delete")?;
    let force = q(&query, "force")
        .and_then(|f| body::bool_like(&Value::String(f.to_owned())))
        .unwrap_or(false);
    c.store.write(|db| {
        let spec = get_qos(db, &id)?;
        let in_use = spec
            .volume_types
            .iter()
            .any(|t| db.volume_types.contains_key(t));
        if in_use && !force {
            return Err(bad(format!("QoS Specs {id} is still in use.")));
        }
        db.extra.qos_specs.remove(&id);
        Ok(())
    })?;
    Ok(versioned(StatusCode::ACCEPTED))
}

async fn qos_associations(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    qos_ctx(&c, &headers, &project, "get_all")?;
    let list: Vec<Value> = c.store.read(|db| {
        let spec = get_qos(db, &id)?;
        Ok::<_, ApiError>(
            spec.volume_types
                .iter()
                .filter_map(|t| db.volume_types.get(t))
                .map(|t| json!({"association_type": "volume_type", "name": t.name, "id": t.id}))
                .collect(),
        )
    })?;
    Ok(versioned(Json(json!({"qos_associations": list}))))
}

fn type_param(query: &util::Query) -> ApiResult<String> {
    q(query, "vol_type_id")
        .map(str::to_owned)
        .ok_or_else(|| bad("Volume Type id must not be None."))
}

async fn qos_associate(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let ctx = qos_ctx(&c, &headers, &project, "update")?;
    let type_ref = type_param(&query)?;
    c.store.write(|db| {
        let t = crate::cinder_types::find(db, &ctx, &type_ref)
            .map(|t| t.id.clone())
            .ok_or_else(|| {
                ApiError::not_found(S, format!("Volume type {type_ref} could not be found."))
            })?;
        get_qos(db, &id)?;
        // A type has at most one QoS spec, as in Cinder.
        if let Some(other) = db
            .extra
            .qos_specs
            .values()
            .find(|q| q.id != id && q.volume_types.contains(&t))
        {
            return Err(bad(format!(
                "Type {t} is already associated with another qos specs: {}",
                other.id
            )));
        }
        if let Some(q) = db.extra.qos_specs.get_mut(&id) {
            if !q.volume_types.contains(&t) {
                q.volume_types.push(t);
            }
        }
        Ok(())
    })?;
    Ok(versioned(StatusCode::ACCEPTED))
}

async fn qos_disassociate(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let ctx = qos_ctx(&c, &headers, &project, "update")?;
    let type_ref = type_param(&query)?;
    c.store.write(|db| {
        let t = crate::cinder_types::find(db, &ctx, &type_ref)
            .map(|t| t.id.clone())
            .ok_or_else(|| {
                ApiError::not_found(S, format!("Volume type {type_ref} could not be found."))
            })?;
        let q = db
            .extra
            .qos_specs
            .get_mut(&id)
            .ok_or_else(|| qos_not_found(&id))?;
        q.volume_types.retain(|x| x != &t);
        Ok(())
    })?;
    Ok(versioned(StatusCode::ACCEPTED))
}

async fn qos_disassociate_all(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    qos_ctx(&c, &headers, &project, "update")?;
    c.store.write(|db| {
        let q = db
            .extra
            .qos_specs
            .get_mut(&id)
            .ok_or_else(|| qos_not_found(&id))?;
        q.volume_types.clear();
        Ok(())
    })?;
    Ok(versioned(StatusCode::ACCEPTED))
}

// Volume transfers.

fn transfer_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Transfer {id} could not be found."))
}

fn key_hash(salt: &str, key: &str) -> String {
    hex::encode(sha2::Sha256::digest(format!("{salt}{key}").as_bytes()))
}

fn transfer_json(c: &Cloud, project: &str, t: &VolumeTransfer, detail: bool) -> Value {
    let mut o = json!({"id": t.id, "name": t.name, "volume_id": t.volume_id,
        "links": [{"rel": "self", "href": c.url(&format!("/volume/v3/{project}/volume-transfers/{}", t.id))}]});
    if detail {
        o["created_at"] = json!(t.created_at);
        o["source_project_id"] = json!(t.project_id);
        o["destination_project_id"] = Value::Null;
        o["accepted"] = json!(false);
        o["no_snapshots"] = json!(false);
    }
    o
}

async fn create_transfer(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    let v = body::parse_json(S, &bytes)?;
    let m = v
        .get("transfer")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Missing required element 'transfer' in request body."))?;
    let volume_id = m
        .get("volume_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Incorrect request body format."))?
        .to_owned();
    let name = match m.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 255 && !s.contains('\0') => {
            Some(s.trim().to_owned())
        }
        Some(other) => {
            return Err(bad(format!(
                "Invalid input for field/attribute name. Value: {other}. {other} is not valid"
            )))
        }
    };
    // The key: 16 hex digits, as Cinder's default `volume_transfer_key_length`.
    let key = hex::encode(rand::random::<[u8; 8]>());
    let salt = hex::encode(rand::random::<[u8; 8]>());
    let t = VolumeTransfer {
        id: new_id(),
        name,
        volume_id: volume_id.clone(),
        project_id: ctx.project_id.clone(),
        key_hash: key_hash(&salt, &key),
        salt,
        created_at: now_micro(),
    };
    c.store.write(|db| {
        let vol = db.volumes.mine_mut(&ctx, &volume_id).ok_or_else(|| {
            ApiError::not_found(S, format!("Volume {volume_id} could not be found."))
        })?;
        if vol.status != VolumeStatus::Available {
            return Err(bad(format!(
                "Invalid volume: Status of volume must be available, but current status is: {}.",
                vol.status
            )));
        }
        vol.status = VolumeStatus::AwaitingTransfer;
        vol.updated_at = Some(now_micro());
        let mut t = t.clone();
        // The transfer belongs to the volume's project (an admin may give another project's).
        t.project_id = vol.project_id.clone();
        db.extra.transfers.insert(t.id.clone(), t);
        Ok(())
    })?;
    let mut body = transfer_json(&c, &project, &t, true);
    body["auth_key"] = json!(key);
    Ok(versioned((
        StatusCode::ACCEPTED,
        Json(json!({"transfer": body})),
    )))
}

fn transfers(
    c: &Cloud,
    headers: &HeaderMap,
    project: &str,
    query: &util::Query,
    detail: bool,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(c, headers, project)?;
    let all = ctx.is_admin() && crate::access::wants_all_projects(query);
    let list: Vec<Value> = c.store.read(|db| {
        db.extra
            .transfers
            .values()
            .filter(|t| all || t.project_id == ctx.project_id)
            .map(|t| transfer_json(c, project, t, detail))
            .collect()
    });
    Ok(versioned(Json(json!({"transfers": list}))))
}

async fn list_transfers(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    transfers(&c, &headers, &project, &query, false)
}

async fn list_transfers_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    transfers(&c, &headers, &project, &query, true)
}

async fn show_transfer(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    let t = c
        .store
        .read(|db| db.extra.transfers.get(&id).cloned())
        .filter(|t| ctx.is_admin() || t.project_id == ctx.project_id)
        .ok_or_else(|| transfer_not_found(&id))?;
    Ok(versioned(Json(
        json!({"transfer": transfer_json(&c, &project, &t, true)}),
    )))
}

async fn delete_transfer(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    c.store.write(|db| {
        let t = db
            .extra
            .transfers
            .get(&id)
            .filter(|t| ctx.is_admin() || t.project_id == ctx.project_id)
            .cloned()
            .ok_or_else(|| transfer_not_found(&id))?;
        db.extra.transfers.remove(&id);
        if let Some(v) = db.volumes.get_mut(&t.volume_id) {
            if v.status == VolumeStatus::AwaitingTransfer {
                v.status = VolumeStatus::Available;
                v.updated_at = Some(now_micro());
            }
        }
        Ok(())
    })?;
    Ok(versioned(StatusCode::ACCEPTED))
}

/// `POST …/volume-transfers/{id}/accept`: with the right auth key, the volume (and its
/// snapshots) move to the caller's project, within its quotas.
async fn accept_transfer(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    let v = body::parse_json(S, &bytes)?;
    let key = v
        .get("accept")
        .and_then(|a| a.get("auth_key"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Incorrect request body format"))?
        .to_owned();
    let t = c.store.write(|db| {
        let t = db
            .extra
            .transfers
            .get(&id)
            .cloned()
            .ok_or_else(|| transfer_not_found(&id))?;
        // Constant-time enough: both sides are hashes of equal length.
        if key_hash(&t.salt, &key) != t.key_hash {
            return Err(bad(format!(
                "Invalid auth key: Attempt to transfer {} with invalid auth key.",
                t.volume_id
            )));
        }
        let (size, snaps) = {
            let vol = db
                .volumes
                .get(&t.volume_id)
                .ok_or_else(|| transfer_not_found(&id))?;
            let snaps: Vec<(String, i64)> = db
                .snapshots
                .values()
                .filter(|s| s.volume_id == t.volume_id)
                .map(|s| (s.id.clone(), s.size))
                .collect();
            (vol.size, snaps)
        };
        if t.project_id != ctx.project_id {
            let n = i64::try_from(snaps.len()).unwrap_or(i64::MAX);
            let gb = snaps.iter().fold(size, |a, (_, s)| a.saturating_add(*s));
            crate::cinder_quotas::check(db, S, &ctx.project_id, 1, n, gb)?;
        }
        if let Some(vol) = db.volumes.get_mut(&t.volume_id) {
            vol.project_id = ctx.project_id.clone();
            vol.user_id = ctx.user_id.clone();
            vol.status = VolumeStatus::Available;
            vol.updated_at = Some(now_micro());
        }
        for (sid, _) in &snaps {
            if let Some(s) = db.snapshots.get_mut(sid) {
                s.project_id = ctx.project_id.clone();
                s.user_id = ctx.user_id.clone();
            }
        }
        db.extra.transfers.remove(&id);
        Ok(t)
    })?;
    Ok(versioned((
        StatusCode::ACCEPTED,
        Json(json!({"transfer": transfer_json(&c, &project, &t, false)})),
    )))
}

// Services.

async fn list_services(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    admin_only(&ctx, "volume_extension:services:index")?;
    let zone = c
        .store
        .read(|db| util::zones(db).first().cloned().unwrap_or_default());
    let t = now_micro();
    let volume_host = format!("{HOST}@local");
    let all = [
        ("cinder-scheduler", HOST),
        ("cinder-volume", volume_host.as_str()),
    ];
    let list: Vec<Value> = all
        .iter()
        .filter(|(binary, host)| {
            q(&query, "host").is_none_or(|h| h == *host || h == HOST)
                && q(&query, "binary").is_none_or(|b| b == *binary)
        })
        .map(|(binary, host)| {
            json!({"binary": binary, "host": host, "zone": zone, "status": "enabled",
                   "state": "up", "updated_at": t, "disabled_reason": null,
                   "frozen": false, "cluster": null, "replication_status": "disabled",
                   "active_backend_id": null, "backend_state": if *binary == "cinder-volume" { json!("up") } else { Value::Null }})
        })
        .collect();
    Ok(versioned(Json(json!({"services": list}))))
}

// Snapshot metadata.

fn snap_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Snapshot {id} could not be found."))
}

async fn snapshot_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    let m = c
        .store
        .read(|db| db.snapshots.mine(&ctx, &id).map(|s| s.metadata.clone()))
        .ok_or_else(|| snap_not_found(&id))?;
    Ok(versioned(Json(json!({"metadata": m}))))
}

fn metadata_body(bytes: &[u8]) -> ApiResult<BTreeMap<String, String>> {
    let v = body::parse_json(S, bytes)?;
    let m = v
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Malformed request body"))?;
    string_map("metadata", m)
}

fn write_snapshot_metadata(
    c: &Cloud,
    headers: &HeaderMap,
    project: &str,
    id: &str,
    bytes: &[u8],
    replace: bool,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(c, headers, project)?;
    let meta = metadata_body(bytes)?;
    let out = c.store.write(|db| {
        let s = db
            .snapshots
            .mine_mut(&ctx, id)
            .ok_or_else(|| snap_not_found(id))?;
        if replace {
            s.metadata = meta;
        } else {
            s.metadata.extend(meta);
        }
        s.updated_at = Some(now_micro());
        Ok::<_, ApiError>(s.metadata.clone())
    })?;
    Ok(versioned(Json(json!({"metadata": out}))))
}

async fn update_snapshot_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    write_snapshot_metadata(&c, &headers, &project, &id, &bytes, false)
}

async fn replace_snapshot_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    write_snapshot_metadata(&c, &headers, &project, &id, &bytes, true)
}

/// The image metadata actions of a volume (`os-set_image_metadata`,
/// `os-unset_image_metadata`, `os-show_image_metadata`); `None` for other actions.
pub fn image_metadata_action(
    db: &mut Db,
    ctx: &Ctx,
    id: &str,
    action: &str,
    arg: &Value,
) -> Option<ApiResult<Response>> {
    let result = match action {
        "os-set_image_metadata" => (|| {
            let m = arg
                .get("metadata")
                .and_then(Value::as_object)
                .ok_or_else(|| bad("Malformed request body."))?;
            let meta = string_map("metadata", m)?;
            let v = db.volumes.mine_mut(ctx, id).ok_or_else(|| {
                ApiError::not_found(S, format!("Volume {id} could not be found."))
            })?;
            let im = v.volume_image_metadata.get_or_insert_with(BTreeMap::new);
            im.extend(meta);
            Ok(versioned(Json(json!({"metadata": im}))))
        })(),
        "os-unset_image_metadata" => (|| {
            let key = arg
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("Malformed request body."))?;
            let v = db.volumes.mine_mut(ctx, id).ok_or_else(|| {
                ApiError::not_found(S, format!("Volume {id} could not be found."))
            })?;
            let removed = v.volume_image_metadata.as_mut().and_then(|m| m.remove(key));
            if removed.is_none() {
                return Err(ApiError::not_found(
                    S,
                    format!("Glance metadata for volume {id} cannot be found."),
                ));
            }
            Ok(versioned(StatusCode::OK))
        })(),
        "os-show_image_metadata" => db
            .volumes
            .mine(ctx, id)
            .map(|v| {
                versioned(Json(
                    json!({"metadata": v.volume_image_metadata.clone().unwrap_or_default()}),
                ))
            })
            .ok_or_else(|| ApiError::not_found(S, format!("Volume {id} could not be found."))),
        _ => return None,
    };
    Some(result)
}

// The `default` quota class: the limits of projects that have none of their own.

fn class_body(db: &Db, class: &str) -> Value {
    let mut set = Map::new();
    set.insert("id".into(), json!(class));
    for (name, _) in crate::cinder_quotas::ENFORCED
        .iter()
        .chain(crate::cinder_quotas::SHOWN)
    {
        set.insert(
            (*name).into(),
            json!(crate::cinder_quotas::class_limit(db, name)),
        );
    }
    json!({"quota_class_set": set})
}

fn default_class(class: &str) -> ApiResult<()> {
    if class == "default" {
        Ok(())
    } else {
        Err(ApiError::not_found(
            S,
            format!("Class {class} could not be found."),
        ))
    }
}

async fn show_quota_class(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, class)): Path<(String, String)>,
) -> ApiResult<Response> {
    crate::cinder::ctx(&c, &headers, &project)?;
    default_class(&class)?;
    Ok(versioned(Json(c.store.read(|db| class_body(db, &class)))))
}

async fn update_quota_class(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, class)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    admin_only(&ctx, "volume_extension:quota_classes:update")?;
    default_class(&class)?;
    let v = body::parse_json(S, &bytes)?;
    let set = v
        .get("quota_class_set")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Missing required element 'quota_class_set' in request body."))?;
    let mut changes = Vec::new();
    for (k, val) in set {
        if k == "id" {
            continue;
        }
        let known = crate::cinder_quotas::ENFORCED
            .iter()
            .chain(crate::cinder_quotas::SHOWN)
            .any(|(n, _)| n == k);
        if !known {
            return Err(bad(format!(
                "Invalid input received: Bad key(s) in quota set: {k}"
            )));
        }
        let n = body::int_like(val).filter(|n| *n >= -1).ok_or_else(|| {
            bad(format!(
                "Invalid input received: Quota limit {val} for {k} must be -1 or greater."
            ))
        })?;
        changes.push((k.clone(), n));
    }
    let out = c.store.write(|db| {
        for (k, n) in changes {
            db.extra.volume_quota_class.insert(k, n);
        }
        class_body(db, &class)
    });
    Ok(versioned(Json(out)))
}

// Metadata by key, of volumes and of snapshots.

fn vol_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Volume {id} could not be found."))
}

/// Whose metadata a by-key route reads and writes.
#[derive(Clone, Copy)]
enum MetaOwner {
    Volume,
    Snapshot,
}

impl MetaOwner {
    fn not_found(self, id: &str) -> ApiError {
        match self {
            MetaOwner::Volume => vol_not_found(id),
            MetaOwner::Snapshot => snap_not_found(id),
        }
    }

    fn metadata(self, db: &Db, ctx: &Ctx, id: &str) -> ApiResult<BTreeMap<String, String>> {
        let m = match self {
            MetaOwner::Volume => db.volumes.mine(ctx, id).map(|v| v.metadata.clone()),
            MetaOwner::Snapshot => db.snapshots.mine(ctx, id).map(|s| s.metadata.clone()),
        };
        m.ok_or_else(|| self.not_found(id))
    }

    /// Changes the metadata with `f` and stamps `updated_at`.
    fn change<T>(
        self,
        db: &mut Db,
        ctx: &Ctx,
        id: &str,
        f: impl FnOnce(&mut BTreeMap<String, String>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let (meta, updated) = match self {
            MetaOwner::Volume => db
                .volumes
                .mine_mut(ctx, id)
                .map(|v| (&mut v.metadata, &mut v.updated_at)),
            MetaOwner::Snapshot => db
                .snapshots
                .mine_mut(ctx, id)
                .map(|s| (&mut s.metadata, &mut s.updated_at)),
        }
        .ok_or_else(|| self.not_found(id))?;
        let out = f(meta)?;
        *updated = Some(now_micro());
        Ok(out)
    }
}

fn item_not_found(key: &str) -> ApiError {
    ApiError::not_found(S, format!("Metadata item was not found: {key}"))
}

fn show_meta(
    owner: MetaOwner,
    c: &Cloud,
    headers: &HeaderMap,
    (project, id, key): (String, String, String),
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(c, headers, &project)?;
    let m = c.store.read(|db| owner.metadata(db, &ctx, &id))?;
    let v = m.get(&key).ok_or_else(|| item_not_found(&key))?;
    Ok(versioned(Json(json!({"meta": {key: v}}))))
}

fn put_meta(
    owner: MetaOwner,
    c: &Cloud,
    headers: &HeaderMap,
    (project, id, key): (String, String, String),
    bytes: &[u8],
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(c, headers, &project)?;
    let v = body::parse_json(S, bytes)?;
    let m = v
        .get("meta")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Malformed request body"))?;
    let meta = string_map("meta", m)?;
    if meta.len() != 1 || !meta.contains_key(&key) {
        return Err(bad("Request body and URI mismatch"));
    }
    c.store.write(|db| {
        owner.change(db, &ctx, &id, |m| {
            m.extend(meta.clone());
            Ok(())
        })
    })?;
    Ok(versioned(Json(json!({"meta": meta}))))
}

fn delete_meta(
    owner: MetaOwner,
    c: &Cloud,
    headers: &HeaderMap,
    (project, id, key): (String, String, String),
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(c, headers, &project)?;
    c.store.write(|db| {
        owner.change(db, &ctx, &id, |m| {
            m.remove(&key).map(drop).ok_or_else(|| item_not_found(&key))
        })
    })?;
    Ok(versioned(StatusCode::OK))
}

/// `GET`, `PUT` and `DELETE …/{id}/metadata/{key}` of a volume or a snapshot.
fn meta_by_key(owner: MetaOwner) -> MethodRouter<AppState> {
    type KeyPath = Path<(String, String, String)>;
    get(
        move |State(c): State<AppState>, headers: HeaderMap, Path(p): KeyPath| async move {
            show_meta(owner, &c, &headers, p)
        },
    )
    .put(
        move |State(c): State<AppState>, headers: HeaderMap, Path(p): KeyPath, bytes: Bytes| async move {
            put_meta(owner, &c, &headers, p, &bytes)
        },
    )
    .delete(
        move |State(c): State<AppState>, headers: HeaderMap, Path(p): KeyPath| async move {
            delete_meta(owner, &c, &headers, p)
        },
    )
}

/// `POST …/snapshots/{id}/action`: `os-reset_status` (admin) sets any of Cinder's snapshot
/// statuses.
async fn snapshot_action(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = crate::cinder::ctx(&c, &headers, &project)?;
    let v = body::parse_json(S, &bytes)?;
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad("Invalid request body: an action body holds exactly one action."))?;
    let Some((action, arg)) = obj.iter().next() else {
        return Err(bad("Invalid request body"));
    };
    if action != "os-reset_status" {
        return Err(bad(format!("There is no such action: {action}")));
    }
    admin_only(&ctx, "volume_extension:snapshot_admin_actions:reset_status")?;
    let st = arg
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Must specify 'status'"))?;
    let st = crate::model::SnapshotStatus::parse(st).ok_or_else(|| {
        bad(format!(
            "Invalid input for field/attribute status. Value: {st}."
        ))
    })?;
    c.store.write(|db| {
        let s = db
            .snapshots
            .mine_mut(&ctx, &id)
            .ok_or_else(|| snap_not_found(&id))?;
        s.status = st;
        s.updated_at = Some(now_micro());
        Ok::<_, ApiError>(())
    })?;
    Ok(versioned(StatusCode::ACCEPTED))
}
