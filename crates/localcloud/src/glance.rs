//! Glance v2: image records, data stored in `DATA/images/<id>` with MD5 and SHA-512 checksums,
//! statuses (queued → saving → active, deactivated), `disk_format` checks against the data,
//! `Range` downloads, JSON-patch updates, tags, deactivate/reactivate. The bootable image
//! `vitrina-process-base` exists from the start.

use std::io::SeekFrom;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures::StreamExt as _;
use md5::Digest as _;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};
use vitrina_openstack::wire::image as w;

use crate::body::{self};
use crate::error::{ApiError, ApiResult, Service};
use crate::model::{Image, ImageStatus};
use crate::util::{self, new_id, now, q, Ctx};
use crate::{AppState, Cloud};

const S: Service = Service::Image;
pub const BASE_IMAGE: &str = "vitrina-process-base";
const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];
/// Attributes clients cannot set.
const READ_ONLY: &[&str] = &[
    "status",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "owner_specified",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "stores",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/image", get(versions))
        .route("/image/", get(versions))
        .route("/image/versions", get(versions))
        .route("/image/v2/images", get(list_images).post(create_image))
        .route(
            "/image/v2/images/{id}",
            get(show_image).patch(patch_image).delete(delete_image),
        )
        .route("/image/v2/images/{id}/file", put(upload).get(download))
        .route("/image/v2/images/{id}/actions/deactivate", post(deactivate))
        .route("/image/v2/images/{id}/actions/reactivate", post(reactivate))
        .route(
            "/image/v2/images/{id}/tags/{tag}",
            put(add_tag).delete(delete_tag),
        )
        .merge(crate::glance_members::routes())
        .route("/image/v2/schemas/image", get(schema_image))
        .route("/image/v2/schemas/images", get(schema_images))
}

use crate::access::image_visible as visible;

pub(crate) fn data_path(c: &Cloud, id: &str) -> std::path::PathBuf {
    c.cfg.data_dir.join("images").join(id)
}

/// Creates `vitrina-process-base` on first start.
pub fn bootstrap(c: &Cloud) -> std::io::Result<()> {
    process_image(c, BASE_IMAGE, true, &["vitrina"])
}

/// A public image of the process hypervisor named `name`, made once (the base image, and
/// devstack's CirrOS image with `--fixtures devstack`).
pub(crate) fn process_image(
    c: &Cloud,
    name: &str,
    protected: bool,
    tags: &[&str],
) -> std::io::Result<()> {
    let exists = c
        .store
        .read(|db| db.images.values().any(|i| i.name.as_deref() == Some(name)));
    if exists {
        return Ok(());
    }
    let data: &[u8] = b"vitrina process base image: a VM of the process hypervisor is a process tree in its instance folder\n";
    let id = crate::util::stable_uuid(&format!("image/{name}"));
    crate::store::write_atomic(&data_path(c, &id), data)?;
    let t = now();
    let owner = c.store.read(|db| {
        db.bootstrap
            .as_ref()
            .map(|b| b.admin_project_id.clone())
            .unwrap_or_default()
    });
    let img = Image {
        id: id.clone(),
        name: Some(name.into()),
        owner,
        status: ImageStatus::Active,
        visibility: "public".into(),
        disk_format: Some("raw".into()),
        container_format: Some("bare".into()),
        min_disk: 1,
        min_ram: 0,
        size: Some(data.len() as u64),
        virtual_size: Some(data.len() as u64),
        checksum: Some(hex::encode(md5::Md5::digest(data))),
        os_hash_algo: Some("sha512".into()),
        os_hash_value: Some(hex::encode(sha2::Sha512::digest(data))),
        protected,
        os_hidden: false,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        properties: [
            ("hypervisor_type".to_owned(), json!("process")),
            ("os_distro".to_owned(), json!("vitrina-process")),
            ("os_type".to_owned(), json!("linux")),
        ]
        .into_iter()
        .collect(),
        created_at: t.clone(),
        updated_at: t,
        members: vec![],
    };
    c.store.write(|db| db.images.insert(id, img));
    Ok(())
}

fn image_view(i: &Image) -> Value {
    let v = w::Image {
        id: i.id.clone(),
        name: i.name.clone(),
        status: i.status.to_string(),
        visibility: i.visibility.clone(),
        protected: i.protected,
        os_hidden: i.os_hidden,
        checksum: i.checksum.clone(),
        os_hash_algo: i.os_hash_algo.clone(),
        os_hash_value: i.os_hash_value.clone(),
        owner: Some(i.owner.clone()),
        size: i.size,
        virtual_size: i.virtual_size,
        min_disk: u64::try_from(i.min_disk).unwrap_or(0),
        min_ram: u64::try_from(i.min_ram).unwrap_or(0),
        disk_format: i.disk_format.clone(),
        container_format: i.container_format.clone(),
        created_at: i.created_at.clone(),
        updated_at: i.updated_at.clone(),
        tags: i.tags.clone(),
        // Glance's links are relative to the image endpoint.
        self_link: format!("/v2/images/{}", i.id),
        file: format!("/v2/images/{}/file", i.id),
        schema: "/v2/schemas/image".into(),
        stores: if i.status == ImageStatus::Active || i.status == ImageStatus::Deactivated {
            Some("fs".into())
        } else {
            None
        },
        direct_url: None,
        locations: None,
        properties: i.properties.clone().into_iter().collect(),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("No image found with ID {id}"))
}

async fn versions(State(c): State<AppState>) -> Response {
    let v = |id: &str, status: &str| json!({"id": id, "status": status, "links": [{"rel": "self", "href": c.url("/image/v2/")}]});
    let body = json!({"versions": [v("v2.16", "CURRENT"), v("v2.15", "SUPPORTED"), v("v2.9", "SUPPORTED"), v("v2.0", "SUPPORTED")]});
    (StatusCode::MULTIPLE_CHOICES, Json(body)).into_response()
}

fn get_image(c: &Cloud, ctx: &Ctx, id: &str) -> ApiResult<Image> {
    c.store
        .read(|db| db.images.get(id).filter(|i| visible(i, ctx)).cloned())
        .ok_or_else(|| not_found(id))
}

fn own_image(c: &Cloud, ctx: &Ctx, id: &str) -> ApiResult<Image> {
    let i = get_image(c, ctx, id)?;
    if !ctx.owns(&i) && !ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            format!("You are not permitted to modify image {id}."),
        ));
    }
    Ok(i)
}

/// The marker error of an upload over the size cap.
const TOO_LARGE: &str = "the image is larger than the size cap";

/// Glance's defaults for custom properties and tags per image (`image_property_quota`,
/// `image_tag_quota`), and a property value's longest length (M2).
const MAX_PROPERTIES: usize = 128;
const MAX_TAGS: usize = 128;
const MAX_PROPERTY_LEN: usize = 65535;

fn too_many(what: &str, max: usize) -> ApiError {
    ApiError::new(
        S,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Attempted to add more {what} than allowed: an image has at most {max}."),
    )
}

/// Glance's per-image limits on custom properties and tags (413 beyond them, as Glance).
fn check_quotas(img: &Image) -> ApiResult<()> {
    if img.properties.len() > MAX_PROPERTIES {
        return Err(too_many("properties", MAX_PROPERTIES));
    }
    if img.tags.len() > MAX_TAGS {
        return Err(too_many("tags", MAX_TAGS));
    }
    Ok(())
}

/// A Glance boolean: JSON `true`/`false`, or the strings `true`/`false` in any case
/// (openstacksdk sends Python's `True`/`False`).
fn glance_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn check_attr(key: &str, v: &Value) -> ApiResult<()> {
    let bad = |t: &str| {
        ApiError::bad_request(S, format!("Provided object does not match schema 'image': {v} is not of type '{t}'\n\nFailed validating 'type' in schema['properties']['{key}']"))
    };
    match key {
        "name" => {
            if !(v.is_string() || v.is_null()) {
                return Err(bad("string"));
            }
            if v.as_str().is_some_and(|n| n.chars().count() > 255) {
                return Err(ApiError::bad_request(
                    S,
                    format!("Provided object does not match schema 'image': {v} is too long"),
                ));
            }
        }
        "min_disk" | "min_ram" => {
            if v.as_i64().is_none_or(|n| n < 0) {
                return Err(bad("integer"));
            }
        }
        "protected" | "os_hidden" => {
            if glance_bool(v).is_none() {
                return Err(bad("boolean"));
            }
        }
        "tags" => {
            if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                return Err(bad("array"));
            }
        }
        "disk_format" => {
            if !(v.is_null() || v.as_str().is_some_and(|s| DISK_FORMATS.contains(&s))) {
                return Err(ApiError::bad_request(
                    S,
                    format!(
                        "Invalid disk format '{}' for image.",
                        v.as_str().unwrap_or(&v.to_string())
                    ),
                ));
            }
        }
        "container_format" => {
            if !(v.is_null() || v.as_str().is_some_and(|s| CONTAINER_FORMATS.contains(&s))) {
                return Err(ApiError::bad_request(
                    S,
                    format!(
                        "Invalid container format '{}' for image.",
                        v.as_str().unwrap_or(&v.to_string())
                    ),
                ));
            }
        }
        "visibility" => {
            if !v
                .as_str()
                .is_some_and(|s| ["public", "private", "shared", "community"].contains(&s))
            {
                return Err(ApiError::bad_request(S, format!("Provided object does not match schema 'image': {v} is not one of ['community', 'public', 'private', 'shared']")));
            }
        }
        "id" => {
            if !v.as_str().is_some_and(util::is_uuid) {
                return Err(ApiError::bad_request(S, format!("Provided object does not match schema 'image': {v} does not match '^([0-9a-fA-F]){{8}}-([0-9a-fA-F]){{4}}-([0-9a-fA-F]){{4}}-([0-9a-fA-F]){{4}}-([0-9a-fA-F]){{12}}$'")));
            }
        }
        k if READ_ONLY.contains(&k) => {
            return Err(ApiError::forbidden(
                S,
                format!("Attribute '{k}' is read-only."),
            ))
        }
        k => {
            if k.len() > 255 {
                return Err(ApiError::bad_request(S, format!("Provided object does not match schema 'image': property name '{k}' is too long")));
            }
            if !v.is_string() {
                return Err(bad("string"));
            }
            if v.as_str().is_some_and(|x| x.len() > MAX_PROPERTY_LEN) {
                return Err(ApiError::bad_request(S, format!("Provided object does not match schema 'image': the value of '{k}' is longer than {MAX_PROPERTY_LEN} characters")));
            }
        }
    }
    Ok(())
}

async fn create_image(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let v = body::parse_json(S, &bytes)?;
    let m: Map<String, Value> = match v {
        Value::Object(m) => m,
        other => {
            return Err(ApiError::bad_request(
                S,
                format!(
                "Provided object does not match schema 'image': {other} is not of type 'object'"
            ),
            ))
        }
    };
    for (k, v) in &m {
        check_attr(k, v)?;
    }
    if m.get("visibility").and_then(Value::as_str) == Some("public") && !ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "You are not authorized to complete publicize_image action.",
        ));
    }
    // One spelling per UUID (I3): the id is stored in its canonical lower-case form.
    let id = m
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(new_id);
    let t = now();
    let mut img = Image {
        id: id.clone(),
        name: m.get("name").and_then(Value::as_str).map(str::to_owned),
        owner: ctx.project_id.clone(),
        status: ImageStatus::Queued,
        visibility: m
            .get("visibility")
            .and_then(Value::as_str)
            .unwrap_or("shared")
            .into(),
        disk_format: m
            .get("disk_format")
            .and_then(Value::as_str)
            .map(str::to_owned),
        container_format: m
            .get("container_format")
            .and_then(Value::as_str)
            .map(str::to_owned),
        min_disk: m.get("min_disk").and_then(Value::as_i64).unwrap_or(0),
        min_ram: m.get("min_ram").and_then(Value::as_i64).unwrap_or(0),
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        protected: m.get("protected").and_then(glance_bool).unwrap_or(false),
        os_hidden: m.get("os_hidden").and_then(glance_bool).unwrap_or(false),
        tags: m
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        properties: Default::default(),
        created_at: t.clone(),
        updated_at: t,
        members: vec![],
    };
    for (k, v) in m {
        if ![
            "id",
            "name",
            "visibility",
            "disk_format",
            "container_format",
            "min_disk",
            "min_ram",
            "protected",
            "os_hidden",
            "tags",
        ]
        .contains(&k.as_str())
        {
            img.properties.insert(k, v);
        }
    }
    check_quotas(&img)?;
    let view = c.store.write(|db| {
        if db.images.contains_key(&id) {
            return Err(ApiError::conflict(
                S,
                format!("Image with identifier {id} already exists!"),
            ));
        }
        db.images.insert(id.clone(), img.clone());
        Ok(image_view(&img))
    })?;
    let mut r = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(h) = HeaderValue::from_str(&c.url(&format!("/image/v2/images/{id}"))) {
        r.headers_mut().insert(header::LOCATION, h);
    }
    Ok(r)
}

async fn list_images(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let mut items: Vec<Image> = c.store.read(|db| {
        db.images
            .values()
            .filter(|i| visible(i, &ctx))
            .cloned()
            .collect()
    });
    let f = |k: &str| q(&query, k).map(str::to_owned);
    let parse_in = |s: String| -> Vec<String> {
        s.strip_prefix("in:")
            .map(|x| x.split(',').map(str::to_owned).collect())
            .unwrap_or_else(|| vec![s])
    };
    if let Some(n) = f("name") {
        let n = parse_in(n);
        items.retain(|i| i.name.as_ref().is_some_and(|x| n.contains(x)));
    }
    if let Some(s) = f("status") {
        let s = parse_in(s);
        items.retain(|i| s.iter().any(|x| x == i.status.as_str()));
    }
    match f("visibility") {
        // M3: as in Glance, another project's community images are listed only when asked
        // for, so they never shadow public or own images in a name lookup.
        None => items.retain(|i| i.visibility != "community" || ctx.owns(i)),
        Some(v) if v == "all" => {}
        Some(v) => items.retain(|i| i.visibility == v),
    }
    // Another project's shared images are listed when this project accepted them (or in the
    // member status asked for), as in Glance.
    let member_status = f("member_status").unwrap_or_else(|| "accepted".into());
    items.retain(|i| {
        ctx.owns(i)
            || i.visibility != "shared"
            || i.members.iter().any(|m| {
                m.member_id == ctx.project_id
                    && (member_status == "all" || m.status == member_status)
            })
    });
    if let Some(o) = f("owner") {
        items.retain(|i| i.owner == o);
    }
    if let Some(d) = f("disk_format") {
        let d = parse_in(d);
        items.retain(|i| i.disk_format.as_ref().is_some_and(|x| d.contains(x)));
    }
    if let Some(d) = f("container_format") {
        let d = parse_in(d);
        items.retain(|i| i.container_format.as_ref().is_some_and(|x| d.contains(x)));
    }
    if let Some(n) = f("size_min").and_then(|s| s.parse::<u64>().ok()) {
        items.retain(|i| i.size.is_some_and(|x| x >= n));
    }
    if let Some(n) = f("size_max").and_then(|s| s.parse::<u64>().ok()) {
        items.retain(|i| i.size.is_some_and(|x| x <= n));
    }
    let query_bool = |k: &str| f(k).and_then(|v| glance_bool(&Value::String(v)));
    match query_bool("os_hidden") {
        Some(true) => items.retain(|i| i.os_hidden),
        _ => items.retain(|i| !i.os_hidden),
    }
    if let Some(p) = query_bool("protected") {
        items.retain(|i| i.protected == p);
    }
    for tag in query
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.clone())
    {
        items.retain(|i| i.tags.contains(&tag));
    }
    // Newest first, like Glance.
    items.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    let (limit, marker) = util::page_params(&query, S)?;
    let limit = Some(limit.unwrap_or(25).min(1000));
    let (page, more) = util::paginate(items, |i| i.id.as_str(), limit, marker.as_deref(), S)?;
    let first_q: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    let qs = first_q
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut body = json!({"images": page.iter().map(image_view).collect::<Vec<_>>(), "first": if qs.is_empty() { "/v2/images".to_owned() } else { format!("/v2/images?{qs}") }, "schema": "/v2/schemas/images"});
    if more {
        if let (Some(last), Some(o)) = (page.last(), body.as_object_mut()) {
            o.insert(
                "next".into(),
                json!(format!("/v2/images?{}", util::next_query(&query, &last.id))),
            );
        }
    }
    Ok(Json(body))
}

async fn show_image(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    Ok(Json(image_view(&get_image(&c, &ctx, &id)?)))
}

async fn patch_image(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with(w::JSON_PATCH_MEDIA_TYPE)
        && !ct.starts_with("application/openstack-images-v2.0-json-patch")
    {
        return Err(ApiError::new(
            S,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported Content-Type: use {}", w::JSON_PATCH_MEDIA_TYPE),
        ));
    }
    let ops = match body::parse_json(S, &bytes)? {
        Value::Array(a) => a,
        _ => {
            return Err(ApiError::bad_request(
                S,
                "Request body must be a JSON array of operation objects.",
            ))
        }
    };
    let mut img = own_image(&c, &ctx, &id)?;
    for op in &ops {
        let o = op
            .as_object()
            .ok_or_else(|| ApiError::bad_request(S, "Operations must be JSON objects."))?;
        let kind = o.get("op").and_then(Value::as_str).ok_or_else(|| ApiError::bad_request(S, "Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace."))?;
        let path = o.get("path").and_then(Value::as_str).ok_or_else(|| {
            ApiError::bad_request(S, "Unable to find 'path' in JSON Schema change")
        })?;
        let key = path
            .strip_prefix('/')
            .filter(|k| !k.is_empty() && !k.contains('/'))
            .ok_or_else(|| {
                ApiError::bad_request(
                    S,
                    format!("Invalid JSON pointer for this resource: '{path}'"),
                )
            })?;
        let key = key.replace("~1", "/").replace("~0", "~");
        match kind {
            "add" | "replace" => {
                let v = o.get("value").ok_or_else(|| ApiError::bad_request(S, "Operation objects must contain exactly one member named \"value\"."))?;
                if key == "id" || key == "owner" && !ctx.is_admin() {
                    return Err(ApiError::forbidden(S, format!("Attribute '{key}' is read-only.")));
                }
                check_attr(&key, v)?;
                match key.as_str() {
                    "name" => img.name = v.as_str().map(str::to_owned),
                    "min_disk" => img.min_disk = v.as_i64().unwrap_or(0),
                    "min_ram" => img.min_ram = v.as_i64().unwrap_or(0),
                    "protected" => img.protected = glance_bool(v).unwrap_or(false),
                    "os_hidden" => img.os_hidden = glance_bool(v).unwrap_or(false),
                    "visibility" => {
                        if v.as_str() == Some("public") && !ctx.is_admin() {
                            return Err(ApiError::forbidden(S, "You are not authorized to complete publicize_image action."));
                        }
                        img.visibility = v.as_str().unwrap_or("shared").into();
                    }
                    "tags" => img.tags = v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default(),
                    "disk_format" | "container_format" => {
                        if img.status != ImageStatus::Queued {
                            return Err(ApiError::forbidden(S, format!("Attribute {key} can be only replaced for a queued image.")));
                        }
                        if key == "disk_format" { img.disk_format = v.as_str().map(str::to_owned) } else { img.container_format = v.as_str().map(str::to_owned) }
                    }
                    _ => {
                        if kind == "replace" && !img.properties.contains_key(&key) {
                            return Err(ApiError::conflict(S, format!("Property {key} does not exist.")));
                        }
                        img.properties.insert(key.clone(), v.clone());
                    }
                }
            }
            "remove" => {
                if img.properties.remove(&key).is_none() {
                    return Err(ApiError::conflict(S, format!("Property {key} does not exist.")));
                }
            }
            other => return Err(ApiError::bad_request(S, format!("Invalid operation: `{other}`. It must be one of the following: add, remove, replace."))),
        }
    }
    img.updated_at = now();
    check_quotas(&img)?;
    let v = image_view(&img);
    c.store.write(|db| db.images.insert(id, img));
    Ok(Json(v))
}

async fn delete_image(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    let img = own_image(&c, &ctx, &id)?;
    if img.protected {
        return Err(ApiError::forbidden(
            S,
            format!("Image {id} is protected and cannot be deleted."),
        ));
    }
    c.store.write(|db| db.images.remove(&id));
    let _ = tokio::fs::remove_file(data_path(&c, &id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The format of image data, from its first bytes.
fn detect_format(head: &[u8]) -> &'static str {
    if head.starts_with(b"QFI\xfb") {
        "qcow2"
    } else if head.starts_with(b"KDMV") || head.starts_with(b"# Disk DescriptorFile") {
        "vmdk"
    } else if head.starts_with(b"conectix") {
        "vhd"
    } else if head.starts_with(b"vhdxfile") {
        "vhdx"
    } else if head.len() > 0x44 && head[0x40..0x44] == [0x7f, 0x10, 0xda, 0xbe] {
        "vdi"
    } else if head.len() > 0x8006 && &head[0x8001..0x8006] == b"CD001" {
        "iso"
    } else {
        "raw"
    }
}

fn qcow2_virtual_size(head: &[u8]) -> Option<u64> {
    let b: [u8; 8] = head.get(24..32)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

async fn upload(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let img = own_image(&c, &ctx, &id)?;
    // queued → saving; anything else is a status conflict.
    c.store.write(|db| {
        let i = db.images.get_mut(&id).ok_or_else(|| not_found(&id))?;
        if i.status != ImageStatus::Queued {
            return Err(ApiError::conflict(
                S,
                format!(
                    "Image status transition from {} to saving is not allowed",
                    i.status
                ),
            ));
        }
        i.status = ImageStatus::Saving;
        Ok(())
    })?;
    let back_to_queued = |c: &Cloud| {
        c.store.write(|db| {
            if let Some(i) = db.images.get_mut(&id) {
                i.status = ImageStatus::Queued;
            }
        })
    };
    // M2: an upload larger than the cap is refused (413), up front when it says its size.
    let cap = c.cfg.image_size_cap;
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > cap) {
        back_to_queued(&c);
        return Err(ApiError::new(
            S,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Image exceeds the storage quota: the image size cap is {cap} bytes."),
        ));
    }
    let tmp = data_path(&c, &format!(".{id}.upload"));
    let result: Result<(u64, String, String, Vec<u8>), String> = async {
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| e.to_string())?;
        let mut md5 = md5::Md5::new();
        let mut sha = sha2::Sha512::new();
        let mut size: u64 = 0;
        let mut head: Vec<u8> = Vec::new();
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("reading the request body: {e}"))?;
            if size + chunk.len() as u64 > cap {
                return Err(TOO_LARGE.to_owned());
            }
            if head.len() < 0x8010 {
                let take = (0x8010 - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            md5.update(&chunk);
            sha.update(&chunk);
            size += chunk.len() as u64;
            f.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        f.sync_all().await.map_err(|e| e.to_string())?;
        Ok((
            size,
            hex::encode(md5.finalize()),
            hex::encode(sha.finalize()),
            head,
        ))
    }
    .await;
    let (size, md5, sha, head) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            back_to_queued(&c);
            if e == TOO_LARGE {
                return Err(ApiError::new(
                    S,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Image exceeds the storage quota: the image size cap is {cap} bytes."),
                ));
            }
            return Err(ApiError::bad_request(
                S,
                format!("Error in store configuration or while reading the image data: {e}"),
            ));
        }
    };
    let found = detect_format(&head);
    let declared = img.disk_format.clone().unwrap_or_else(|| "raw".into());
    let checked = ["raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"];
    if checked.contains(&declared.as_str())
        && declared != found
        && !(declared == "raw" && found == "iso")
    {
        let _ = tokio::fs::remove_file(&tmp).await;
        back_to_queued(&c);
        return Err(ApiError::new(
            S,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Image disk_format {declared} does not match stream data {found}"),
        ));
    }
    let virtual_size = if found == "qcow2" {
        qcow2_virtual_size(&head).unwrap_or(size)
    } else {
        size
    };
    // L1: the data is stored only while the image still exists and waits for it, checked and
    // renamed under the state lock, so a delete during the upload leaves no orphan file.
    let dest = data_path(&c, &id);
    c.store.write(|db| {
        let Some(i) = db.images.get_mut(&id).filter(|i| i.status == ImageStatus::Saving) else {
            let _ = std::fs::remove_file(&tmp);
            return Err(ApiError::new(
                S,
                StatusCode::GONE,
                format!("Image {id} could not be found after upload. The image may have been deleted during the upload."),
            ));
        };
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            let _ = std::fs::remove_file(&tmp);
            i.status = ImageStatus::Queued;
            return Err(ApiError::internal(S, format!("storing image data: {e}")));
        }
        Ok(())
    })?;
    c.store.write(|db| {
        if let Some(i) = db.images.get_mut(&id) {
            i.status = ImageStatus::Active;
            i.size = Some(size);
            i.virtual_size = Some(virtual_size);
            i.checksum = Some(md5);
            i.os_hash_algo = Some("sha512".into());
            i.os_hash_value = Some(sha);
            i.updated_at = now();
            if i.disk_format.is_none() {
                i.disk_format = Some(found.into());
            }
            if i.container_format.is_none() {
                i.container_format = Some("bare".into());
            }
        }
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What a `Range` header asks of a body of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// Not one `bytes` range this server reads (another unit, several ranges, bad syntax):
    /// ignored, as RFC 9110 says, so the whole body is sent.
    Ignore,
    /// A byte range, inclusive.
    Bytes(u64, u64),
    /// A byte range that misses the body: 416.
    Unsatisfiable,
}

/// A decimal position; one too large for `u64` reads as `u64::MAX` (it is past any body).
fn position(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

fn parse_range(h: &str, size: u64) -> RangeAsk {
    let Some(spec) = h.strip_prefix("bytes=") else {
        return RangeAsk::Ignore;
    };
    if spec.contains(',') {
        return RangeAsk::Ignore;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAsk::Ignore;
    };
    let last = size.checked_sub(1);
    if a.is_empty() {
        let Some(n) = position(b) else {
            return RangeAsk::Ignore;
        };
        return match last {
            Some(last) if n > 0 => RangeAsk::Bytes(size.saturating_sub(n), last),
            _ => RangeAsk::Unsatisfiable,
        };
    }
    let Some(start) = position(a) else {
        return RangeAsk::Ignore;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match position(b) {
            Some(e) => e,
            None => return RangeAsk::Ignore,
        }
    };
    if end < start {
        return RangeAsk::Ignore;
    }
    match last {
        Some(last) if start <= last => RangeAsk::Bytes(start, end.min(last)),
        _ => RangeAsk::Unsatisfiable,
    }
}

async fn download(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let img = get_image(&c, &ctx, &id)?;
    match img.status {
        ImageStatus::Queued | ImageStatus::Saving => {
            return Ok(StatusCode::NO_CONTENT.into_response())
        }
        ImageStatus::Deactivated if !ctx.is_admin() => {
            return Err(ApiError::forbidden(
                S,
                "The requested image has been deactivated. Image data download is forbidden.",
            ))
        }
        _ => {}
    }
    let path = data_path(&c, &id);
    let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
        ApiError::internal(S, format!("opening image data {}: {e}", path.display()))
    })?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    // Several Range headers are ignored like any range this server does not read (I4).
    let ranges: Vec<&str> = headers
        .get_all(header::RANGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let ask = match ranges.as_slice() {
        [one] => parse_range(one, size),
        _ => RangeAsk::Ignore,
    };
    let (status, start, len, range) = match ask {
        RangeAsk::Ignore => (StatusCode::OK, 0, size, None),
        RangeAsk::Bytes(s, e) => (
            StatusCode::PARTIAL_CONTENT,
            s,
            e - s + 1,
            Some(format!("bytes {s}-{e}/{size}")),
        ),
        RangeAsk::Unsatisfiable => {
            let mut resp = ApiError::new(
                S,
                StatusCode::RANGE_NOT_SATISFIABLE,
                "Requested range not satisfiable",
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|e| ApiError::internal(S, format!("seeking image data: {e}")))?;
    let stream = futures::stream::unfold((file, len), |(mut f, left)| async move {
        if left == 0 {
            return None;
        }
        let want = usize::try_from(left.min(256 * 1024)).unwrap_or(256 * 1024);
        let mut buf = vec![0u8; want];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((
                    Ok::<Bytes, std::io::Error>(Bytes::from(buf)),
                    (f, left - n as u64),
                ))
            }
            Err(e) => Some((Err(e), (f, 0))),
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Some(r) = range.and_then(|r| HeaderValue::from_str(&r).ok()) {
        h.insert(header::CONTENT_RANGE, r);
    } else if let Some(sum) = img
        .checksum
        .as_deref()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        h.insert("content-md5", sum);
    }
    Ok(resp)
}

async fn deactivate(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    own_image(&c, &ctx, &id)?;
    c.store.write(|db| {
        let i = db.images.get_mut(&id).ok_or_else(|| not_found(&id))?;
        match i.status {
            ImageStatus::Active | ImageStatus::Deactivated => {
                i.status = ImageStatus::Deactivated;
                Ok(StatusCode::NO_CONTENT)
            }
            s => Err(ApiError::forbidden(
                S,
                format!("Not allowed to deactivate image in status '{s}'"),
            )),
        }
    })
}

async fn reactivate(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    own_image(&c, &ctx, &id)?;
    c.store.write(|db| {
        let i = db.images.get_mut(&id).ok_or_else(|| not_found(&id))?;
        match i.status {
            ImageStatus::Active | ImageStatus::Deactivated => {
                i.status = ImageStatus::Active;
                Ok(StatusCode::NO_CONTENT)
            }
            s => Err(ApiError::forbidden(
                S,
                format!("Not allowed to reactivate image in status '{s}'"),
            )),
        }
    })
}

async fn add_tag(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    own_image(&c, &ctx, &id)?;
    c.store.write(|db| {
        if let Some(i) = db.images.get_mut(&id) {
            if !i.tags.contains(&tag) {
                if i.tags.len() >= MAX_TAGS {
                    return Err(too_many("tags", MAX_TAGS));
                }
                i.tags.push(tag);
            }
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_tag(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    own_image(&c, &ctx, &id)?;
    c.store.write(|db| {
        let i = db.images.get_mut(&id).ok_or_else(|| not_found(&id))?;
        if !i.tags.contains(&tag) {
            return Err(ApiError::not_found(S, format!("Tag {tag} not found")));
        }
        i.tags.retain(|t| t != &tag);
        Ok(StatusCode::NO_CONTENT)
    })
}

async fn schema_image() -> Json<Value> {
    Json(
        json!({"name": "image", "additionalProperties": {"type": "string"}, "properties": {
        "id": {"type": "string"}, "name": {"type": ["null", "string"]}, "status": {"type": "string"},
        "visibility": {"type": "string", "enum": ["community", "public", "private", "shared"]},
        "protected": {"type": "boolean"}, "os_hidden": {"type": "boolean"}, "tags": {"type": "array"},
        "disk_format": {"type": ["null", "string"], "enum": [null, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]},
        "container_format": {"type": ["null", "string"], "enum": [null, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]},
        "min_ram": {"type": "integer"}, "min_disk": {"type": "integer"}}}),
    )
}

async fn schema_images() -> Json<Value> {
    Json(json!({"name": "images", "properties": {"images": {"type": "array"}}}))
}
