//! Cinder v3: volumes (blank, from an image, from another volume, from a snapshot) with Cinder's
//! size checks against the image or snapshot, attach states, extend, retype, metadata; snapshots
//! (`force` for in-use volumes, cascade delete); volume types `ceph-ssd`, `ceph-hdd`,
//! `high-iops`; availability zones `GZ1`, `MS1`, `ME1`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vitrina_openstack::wire::volume as w;

use crate::access::Scoped as _;
use crate::body::{self, opt, req, Schema, Ty};
use crate::error::{ApiError, ApiResult, Service};
use crate::model::{
    Image, ImageStatus, Snapshot, SnapshotStatus, State as Db, Volume, VolumeStatus,
};
use crate::util::{self, get_str, get_str_map, new_id, now_micro, q, Ctx};
use crate::{AppState, Cloud};

const S: Service = Service::Volume;
const MAX_VERSION: (u32, u32) = (3, 70);
const GIB: u64 = 1 << 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/volume", get(versions))
        .route("/volume/", get(versions))
        .route("/volume/v3", get(versions))
        .route("/volume/v3/", get(versions))
        .route(
            "/volume/v3/{project}/volumes",
            get(list_volumes).post(create_volume),
        )
        .route(
            "/volume/v3/{project}/volumes/detail",
            get(list_volumes_detail),
        )
        .route(
            "/volume/v3/{project}/volumes/{id}",
            get(show_volume).put(update_volume).delete(delete_volume),
        )
        .route(
            "/volume/v3/{project}/volumes/{id}/action",
            post(volume_action),
        )
        .route(
            "/volume/v3/{project}/volumes/{id}/metadata",
            get(get_metadata).post(set_metadata).put(replace_metadata),
        )
        .route(
            "/volume/v3/{project}/snapshots",
            get(list_snapshots).post(create_snapshot),
        )
        .route(
            "/volume/v3/{project}/snapshots/detail",
            get(list_snapshots_detail),
        )
        .route(
            "/volume/v3/{project}/snapshots/{id}",
            get(show_snapshot)
                .put(update_snapshot)
                .delete(delete_snapshot),
        )
        .merge(crate::cinder_types::routes())
        .merge(crate::cinder_extra::routes())
        .route("/volume/v3/{project}/os-availability-zone", get(zones))
        .route("/volume/v3/{project}/limits", get(limits))
        .route(
            "/volume/v3/{project}/os-quota-sets/{target}",
            get(show_quotas).put(update_quotas),
        )
        .route(
            "/volume/v3/{project}/os-quota-sets/{target}/defaults",
            get(default_quotas),
        )
}

use crate::cinder_types::{type_id, type_json};

async fn versions(State(c): State<AppState>) -> Response {
    let body = json!({"versions": [{
        "id": "v3.0", "status": "CURRENT", "version": format!("{}.{}", MAX_VERSION.0, MAX_VERSION.1), "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z",
        "links": [{"href": c.url("/volume/v3/"), "rel": "self"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]
    }]});
    (StatusCode::MULTIPLE_CHOICES, Json(body)).into_response()
}

/// Authenticates and checks the project in the URL.
pub(crate) fn ctx(c: &Cloud, headers: &HeaderMap, project: &str) -> ApiResult<Ctx> {
    ctx_mv(c, headers, project).map(|(ctx, _)| ctx)
}

/// [`ctx`] plus the microversion the request asks for.
fn ctx_mv(c: &Cloud, headers: &HeaderMap, project: &str) -> ApiResult<(Ctx, (u32, u32))> {
    let ctx = c.auth(headers, S)?;
    let mv = util::microversion(headers, "volume", (3, 0), MAX_VERSION)?;
    if ctx.project_id != project {
        return Err(ApiError::not_found(
            S,
            format!("Project {project} could not be found."),
        ));
    }
    Ok((ctx, mv))
}

fn with_version(mut r: Response) -> Response {
    r.headers_mut().insert(
        "openstack-api-version",
        HeaderValue::from_static("volume 3.70"),
    );
    r
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Volume {id} could not be found."))
}

pub fn volume_view(c: &Cloud, v: &Volume) -> Value {
    let wv = w::Volume {
        id: v.id.clone(),
        name: v.name.clone(),
        description: v.description.clone(),
        status: v.status.to_string(),
        size: u64::try_from(v.size).unwrap_or(0),
        availability_zone: Some(v.availability_zone.clone()),
        bootable: if v.bootable {
            "true".into()
        } else {
            "false".into()
        },
        encrypted: false,
        multiattach: false,
        volume_type: Some(v.volume_type.clone()),
        snapshot_id: v.snapshot_id.clone(),
        source_volid: v.source_volid.clone(),
        metadata: v.metadata.clone(),
        attachments: v
            .attachments
            .iter()
            .map(|a| w::VolumeAttachment {
                id: v.id.clone(),
                attachment_id: a.id.clone(),
                volume_id: v.id.clone(),
                server_id: a.server_id.clone(),
                host_name: Some("localcloud".into()),
                device: Some(a.device.clone()),
                attached_at: Some(a.attached_at.clone()),
            })
            .collect(),
        created_at: v.created_at.clone(),
        updated_at: v.updated_at.clone(),
        user_id: v.user_id.clone(),
        tenant_id: Some(v.project_id.clone()),
        host: None,
        migration_status: None,
        volume_image_metadata: v.volume_image_metadata.clone(),
        replication_status: Some("disabled".into()),
        consistencygroup_id: None,
        group_id: None,
        volume_type_id: Some(type_id(&v.volume_type)),
        links: vec![vitrina_openstack::wire::Link {
            href: c.url(&format!("/volume/v3/{}/volumes/{}", v.project_id, v.id)),
            rel: "self".into(),
            media_type: None,
        }],
    };
    serde_json::to_value(wv).unwrap_or(Value::Null)
}

/// Cinder's checks of a volume created from an image; errors are 400s of `service`.
pub fn check_image_fits(service: Service, img: &Image, size: i64) -> ApiResult<()> {
    if img.status != ImageStatus::Active {
        return Err(ApiError::bad_request(
            service,
            format!("Invalid input received: Image {} is not active.", img.id),
        ));
    }
    let gb = |bytes: u64| i64::try_from(bytes.div_ceil(GIB)).unwrap_or(i64::MAX);
    if let Some(sz) = img.size {
        if gb(sz) > size {
            return Err(ApiError::bad_request(service, format!("Invalid input received: Size of specified image {}GB is larger than volume size {size}GB.", gb(sz))));
        }
    }
    if img.min_disk > size {
        return Err(ApiError::bad_request(service, format!("Invalid input received: Volume size {size}GB cannot be smaller than the image minDisk size {}GB.", img.min_disk)));
    }
    if let Some(vs) = img.virtual_size {
        if gb(vs) > size {
            return Err(ApiError::bad_request(service, format!("Invalid input received: Image virtual size is {}GB and doesn't fit in a volume of size {size}GB.", gb(vs))));
        }
    }
    Ok(())
}

fn image_meta(img: &Image) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("image_id".into(), img.id.clone());
    m.insert("image_name".into(), img.name.clone().unwrap_or_default());
    m.insert("checksum".into(), img.checksum.clone().unwrap_or_default());
    m.insert(
        "container_format".into(),
        img.container_format.clone().unwrap_or_default(),
    );
    m.insert(
        "disk_format".into(),
        img.disk_format.clone().unwrap_or_default(),
    );
    m.insert("min_disk".into(), img.min_disk.to_string());
    m.insert("min_ram".into(), img.min_ram.to_string());
    m.insert("size".into(), img.size.unwrap_or(0).to_string());
    for (k, v) in &img.properties {
        m.insert(
            k.clone(),
            match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        );
    }
    m
}

/// The parameters of a new volume.
pub struct NewVolume {
    pub size: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub image_id: Option<String>,
    pub source_volid: Option<String>,
    pub snapshot_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// Validates and stores a new volume in status `status`; errors use `service`'s format.
pub fn new_volume(
    db: &mut Db,
    service: Service,
    ctx: &Ctx,
    p: NewVolume,
    status: VolumeStatus,
) -> ApiResult<Volume> {
    // A volume restored from a snapshot takes its type and zone unless the request names them.
    let snapshot = match &p.snapshot_id {
        None => None,
        Some(sid) => Some(
            db.snapshots
                .mine(ctx, sid)
                .cloned()
                .ok_or_else(|| snapshot_not_found(service, sid))?,
        ),
    };
    if let Some(snap) = &snapshot {
        if snap.status != SnapshotStatus::Available {
            return Err(ApiError::bad_request(
                service,
                "Invalid snapshot: Originating snapshot status must be one of 'available' values",
            ));
        }
    }
    let vtype = p
        .volume_type
        .clone()
        .or_else(|| snapshot.as_ref().map(|s| s.volume_type.clone()))
        .unwrap_or_else(|| crate::cinder_types::default_type(db));
    let vtype = crate::cinder_types::find(db, ctx, &vtype)
        .map(|t| t.name.clone())
        .ok_or_else(|| {
            ApiError::not_found(
                service,
                format!("Volume type with name {vtype} could not be found."),
            )
        })?;
    let zones = util::zones(db);
    let az = p
        .availability_zone
        .clone()
        .or_else(|| snapshot.as_ref().map(|s| s.availability_zone.clone()))
        .or_else(|| zones.first().cloned())
        .unwrap_or_default();
    if !zones.contains(&az) {
        return Err(ApiError::bad_request(
            service,
            format!("Invalid input received: Availability zone '{az}' is invalid."),
        ));
    }
    let mut bootable = false;
    let mut image_metadata = None;
    let mut size = p.size;
    if let Some(src) = &p.source_volid {
        let s = db.volumes.mine(ctx, src).ok_or_else(|| {
            ApiError::not_found(service, format!("Volume {src} could not be found."))
        })?;
        let sz = size.unwrap_or(s.size);
        if sz < s.size {
            return Err(ApiError::bad_request(service, format!("Invalid input received: Volume size '{sz}'GB cannot be smaller than original volume size  {}GB. They must be >= original volume size.", s.size)));
        }
        size = Some(sz);
        bootable = s.bootable;
        image_metadata = s.volume_image_metadata.clone();
    } else if let Some(snap) = &snapshot {
        let sz = size.unwrap_or(snap.size);
        if sz < snap.size {
            return Err(ApiError::bad_request(service, format!("Invalid input received: Volume size '{sz}'GB cannot be smaller than the snapshot size {}GB. They must be >= original snapshot size.", snap.size)));
        }
        if snap.availability_zone != az {
            return Err(ApiError::bad_request(
                service,
                "Invalid input received: Volume must be in the same availability zone as the snapshot",
            ));
        }
        size = Some(sz);
        bootable = snap.bootable;
        image_metadata = snap.volume_image_metadata.clone();
    }
    let size = size.ok_or_else(|| {
        ApiError::bad_request(
            service,
            "Invalid input received: Volume size must be specified.",
        )
    })?;
    if size < 1 {
        return Err(ApiError::bad_request(service, format!("Invalid input received: Volume size '{size}' must be an integer and greater than 0.")));
    }
    if let Some(iid) = &p.image_id {
        let img = db
            .images
            .get(iid)
            .filter(|i| crate::access::image_visible(i, ctx))
            .ok_or_else(|| {
                ApiError::bad_request(
                    service,
                    "Invalid image identifier or unable to access requested image.".to_string(),
                )
            })?;
        check_image_fits(service, img, size)?;
        bootable = true;
        image_metadata = Some(image_meta(img));
    }
    // Cinder's quotas, under the caller's store write together with the insert below.
    crate::cinder_quotas::check(db, service, &ctx.project_id, 1, 0, size)?;
    let v = Volume {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        user_id: ctx.user_id.clone(),
        name: p.name,
        description: p.description,
        size,
        status,
        volume_type: vtype,
        availability_zone: az,
        bootable,
        image_id: p.image_id,
        volume_image_metadata: image_metadata,
        source_volid: p.source_volid,
        snapshot_id: p.snapshot_id,
        attachments: vec![],
        metadata: p.metadata,
        created_at: now_micro(),
        updated_at: None,
    };
    db.volumes.insert(v.id.clone(), v.clone());
    Ok(v)
}

/// How long each background status step of a volume or snapshot takes.
const STEP: Duration = Duration::from_millis(30);

/// Runs `f` on the store one step from now, in the background.
fn later(c: &Cloud, f: impl FnOnce(&mut Db) + Send + 'static) {
    let store = c.store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(STEP).await;
        store.write(f);
    });
}

/// Moves a volume through transitional statuses to `end` in the background, one step each.
fn transition(c: &Cloud, id: &str, steps: &[VolumeStatus], end: VolumeStatus) {
    let store = c.store.clone();
    let id = id.to_owned();
    let steps: Vec<VolumeStatus> = steps.iter().copied().chain([end]).collect();
    tokio::spawn(async move {
        for (n, s) in steps.iter().enumerate() {
            tokio::time::sleep(STEP).await;
            store.write(|db| {
                if let Some(v) = db.volumes.get_mut(&id) {
                    v.status = *s;
                    if n + 1 == steps.len() {
                        v.updated_at = Some(now_micro());
                    }
                }
            });
        }
    });
}

const CREATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("volume"),
    fields: &[
        opt("size", Ty::IntLike),
        opt("name", Ty::OptStr),
        opt("description", Ty::OptStr),
        opt("volume_type", Ty::OptStr),
        opt("availability_zone", Ty::OptStr),
        opt("imageRef", Ty::OptStr),
        opt("image_id", Ty::OptStr),
        opt("snapshot_id", Ty::OptStr),
        opt("source_volid", Ty::OptStr),
        opt("metadata", Ty::Any),
        opt("multiattach", Ty::Any),
        opt("consistencygroup_id", Ty::OptStr),
        opt("group_id", Ty::OptStr),
        opt("backup_id", Ty::OptStr),
        opt("display_name", Ty::OptStr),
        opt("display_description", Ty::OptStr),
    ],
    additional: false,
    siblings: &["OS-SCH-HNT:scheduler_hints"],
};

async fn create_volume(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    let m = body::check(&CREATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let size = match m.get("size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(body::int_like(v).ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!("Invalid input for field/attribute size. Value: {v}."),
            )
        })?),
    };
    let p = NewVolume {
        size,
        name: get_str(&m, "name").or_else(|| get_str(&m, "display_name")),
        description: get_str(&m, "description").or_else(|| get_str(&m, "display_description")),
        volume_type: get_str(&m, "volume_type"),
        availability_zone: get_str(&m, "availability_zone"),
        image_id: get_str(&m, "imageRef").or_else(|| get_str(&m, "image_id")),
        source_volid: get_str(&m, "source_volid"),
        snapshot_id: get_str(&m, "snapshot_id"),
        metadata: get_str_map(&m, "metadata", S)?,
    };
    let from_image = p.image_id.is_some();
    let v = c
        .store
        .write(|db| new_volume(db, S, &ctx, p, VolumeStatus::Creating))?;
    if from_image {
        transition(
            &c,
            &v.id,
            &[VolumeStatus::Downloading],
            VolumeStatus::Available,
        );
    } else {
        transition(&c, &v.id, &[], VolumeStatus::Available);
    }
    Ok(with_version(
        (
            StatusCode::ACCEPTED,
            Json(json!({"volume": volume_view(&c, &v)})),
        )
            .into_response(),
    ))
}

fn list(
    c: &Cloud,
    ctx: &Ctx,
    query: &util::Query,
    detail: bool,
    project: &str,
) -> ApiResult<Response> {
    let name = q(query, "name").map(str::to_owned);
    let status = q(query, "status").map(str::to_owned);
    // Admins list every project's volumes with `all_tenants` (narrowed by `project_id`);
    // Cinder ignores both from anyone else.
    let all = crate::access::wants_all_projects(query);
    let of_project = q(query, "project_id")
        .filter(|_| all && ctx.is_admin())
        .map(str::to_owned);
    let items: Vec<Volume> = c.store.read(|db| {
        db.volumes
            .listed(ctx, all)
            .filter(|v| of_project.as_ref().is_none_or(|p| &v.project_id == p))
            .filter(|v| name.as_ref().is_none_or(|n| v.name.as_ref() == Some(n)))
            .filter(|v| status.as_ref().is_none_or(|s| v.status.as_str() == s))
            .cloned()
            .collect()
    });
    paged(
        c,
        query,
        project,
        ("volumes", detail),
        items,
        |v| v.id.as_str(),
        |v| {
            if detail {
                volume_view(c, v)
            } else {
                json!({"id": v.id, "name": v.name, "links": [{"href": c.url(&format!("/volume/v3/{project}/volumes/{}", v.id)), "rel": "self"}]})
            }
        },
    )
}

/// One page of a Cinder collection (`limit`, `marker`) as `{"<name>": [...]}`, with
/// `<name>_links` pointing at the next page when more items follow.
fn paged<T>(
    c: &Cloud,
    query: &util::Query,
    project: &str,
    (name, detail): (&str, bool),
    items: Vec<T>,
    id: impl Fn(&T) -> &str,
    view: impl Fn(&T) -> Value,
) -> ApiResult<Response> {
    let (limit, marker) = util::page_params(query, S)?;
    let (page, more) = util::paginate(items, &id, limit, marker.as_deref(), S)?;
    let mut body = serde_json::Map::new();
    body.insert(name.to_owned(), page.iter().map(&view).collect());
    if let (true, Some(last)) = (more, page.last()) {
        let path = if detail {
            format!("{name}/detail")
        } else {
            name.to_owned()
        };
        let next = c.url(&format!(
            "/volume/v3/{project}/{path}?{}",
            util::next_query(query, id(last))
        ));
        body.insert(
            format!("{name}_links"),
            json!([{"rel": "next", "href": next}]),
        );
    }
    Ok(with_version(Json(Value::Object(body)).into_response()))
}

async fn list_volumes(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    list(&c, &ctx, &query, false, &project)
}

async fn list_volumes_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    list(&c, &ctx, &query, true, &project)
}

fn get_volume(c: &Cloud, ctx: &Ctx, id: &str) -> ApiResult<Volume> {
    c.store
        .read(|db| db.volumes.mine(ctx, id).cloned())
        .ok_or_else(|| not_found(id))
}

async fn show_volume(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    let v = get_volume(&c, &ctx, &id)?;
    Ok(with_version(
        Json(json!({"volume": volume_view(&c, &v)})).into_response(),
    ))
}

const UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("volume"),
    fields: &[
        opt("name", Ty::OptStr),
        opt("description", Ty::OptStr),
        opt("metadata", Ty::Obj),
        opt("display_name", Ty::OptStr),
        opt("display_description", Ty::OptStr),
    ],
    additional: false,
    siblings: &[],
};

async fn update_volume(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    let m = body::check(&UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let meta = if m.contains_key("metadata") {
        Some(get_str_map(&m, "metadata", S)?)
    } else {
        None
    };
    let v = c.store.write(|db| {
        let v = db
            .volumes
            .mine_mut(&ctx, &id)
            .ok_or_else(|| not_found(&id))?;
        if m.contains_key("name") {
            v.name = get_str(&m, "name");
        }
        if m.contains_key("description") {
            v.description = get_str(&m, "description");
        }
        if let Some(meta) = meta {
            v.metadata = meta;
        }
        v.updated_at = Some(now_micro());
        Ok(v.clone())
    })?;
    Ok(with_version(
        Json(json!({"volume": volume_view(&c, &v)})).into_response(),
    ))
}

/// Snapshot statuses a cascading volume delete accepts without `force`.
const CASCADE_DELETABLE: &[SnapshotStatus] = &[
    SnapshotStatus::Available,
    SnapshotStatus::Error,
    SnapshotStatus::Deleting,
];

const DELETABLE: &[VolumeStatus] = &[
    VolumeStatus::Available,
    VolumeStatus::Error,
    VolumeStatus::ErrorRestoring,
    VolumeStatus::ErrorExtending,
    VolumeStatus::ErrorManaging,
];

async fn delete_volume(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    let flag = |k: &str| q(&query, k).and_then(|f| body::bool_like(&Value::String(f.to_owned())));
    let force = flag("force") == Some(true);
    let cascade = flag("cascade") == Some(true);
    // L2: as in Cinder, `force` is an admin action (policy `volume:force_delete`).
    if force && !ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "Policy doesn't allow volume:force_delete to be performed.",
        ));
    }
    c.store.write(|db| {
        let v = db.volumes.mine(&ctx, &id).ok_or_else(|| not_found(&id))?;
        let snapshots: Vec<&Snapshot> = db.snapshots.values().filter(|s| s.volume_id == id).collect();
        // As in Cinder, `force` skips the status checks but never the snapshot check; `cascade`
        // takes the snapshots along.
        if (!force && (!DELETABLE.contains(&v.status) || !v.attachments.is_empty()))
            || (!cascade && !snapshots.is_empty())
        {
            return Err(ApiError::bad_request(S, "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer."));
        }
        if !force && snapshots.iter().any(|s| !CASCADE_DELETABLE.contains(&s.status)) {
            return Err(ApiError::bad_request(S, "Invalid volume: Failed to update snapshot."));
        }
        db.snapshots.retain(|_, s| s.volume_id != id);
        db.volumes.remove(&id);
        db.extra.transfers.retain(|_, t| t.volume_id != id);
        // A forced delete of an attached volume leaves no attachment behind on its server.
        for server in db.servers.values_mut() {
            server.volumes.retain(|sv| sv.volume_id != id);
        }
        Ok(())
    })?;
    Ok(with_version(StatusCode::ACCEPTED.into_response()))
}

async fn volume_action(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    let v = body::parse_json(S, &bytes)?;
    let obj = v.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        ApiError::bad_request(
            S,
            "Invalid request body: an action body holds exactly one action.",
        )
    })?;
    let (action, arg) = obj
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .ok_or_else(|| ApiError::bad_request(S, "Invalid request body"))?;
    let vol = get_volume(&c, &ctx, &id)?;
    if let Some(r) = c
        .store
        .write(|db| crate::cinder_extra::image_metadata_action(db, &ctx, &id, &action, &arg))
    {
        return r;
    }
    match action.as_str() {
        "os-extend" => {
            let new_size = arg.get("new_size").and_then(body::int_like).ok_or_else(|| ApiError::bad_request(S, format!("Invalid input for field/attribute new_size. Value: {}. 'new_size' is a required property", arg)))?;
            if vol.status != VolumeStatus::Available && vol.status != VolumeStatus::InUse {
                return Err(ApiError::bad_request(S, format!("Invalid volume: Volume status must be available or in-use to extend, but current status is: {}.", vol.status)));
            }
            if new_size <= vol.size {
                return Err(ApiError::bad_request(S, format!("Invalid input received: New size for extend must be greater than current size. (current: {}, extended: {new_size}).", vol.size)));
            }
            let end = if vol.status == VolumeStatus::InUse {
                VolumeStatus::InUse
            } else {
                VolumeStatus::Available
            };
            c.store.write(|db| {
                crate::cinder_quotas::check(db, S, &vol.project_id, 0, 0, new_size - vol.size)?;
                if let Some(v) = db.volumes.get_mut(&id) {
                    v.status = VolumeStatus::Extending;
                    v.size = new_size;
                }
                Ok::<_, ApiError>(())
            })?;
            transition(&c, &id, &[], end);
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-retype" => {
            let new_type = arg.get("new_type").and_then(Value::as_str).ok_or_else(|| ApiError::bad_request(S, format!("Invalid input for field/attribute new_type. Value: {arg}. 'new_type' is a required property")))?;
            let name = c
                .store
                .read(|db| crate::cinder_types::find(db, &ctx, new_type).map(|t| t.name.clone()))
                .ok_or_else(|| {
                    ApiError::not_found(S, format!("Volume type {new_type} could not be found."))
                })?;
            if vol.status != VolumeStatus::Available && vol.status != VolumeStatus::InUse {
                return Err(ApiError::bad_request(S, format!("Invalid volume: Volume status must be available or in-use, but current status is: {}.", vol.status)));
            }
            if name == vol.volume_type {
                return Err(ApiError::bad_request(
                    S,
                    "Invalid input received: Retype cannot change to the same volume type.",
                ));
            }
            let end = if vol.status == VolumeStatus::InUse {
                VolumeStatus::InUse
            } else {
                VolumeStatus::Available
            };
            c.store.write(|db| {
                if let Some(v) = db.volumes.get_mut(&id) {
                    v.status = VolumeStatus::Retyping;
                    v.volume_type = name.clone();
                }
            });
            transition(&c, &id, &[], end);
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-set_bootable" => {
            let b = arg
                .get("bootable")
                .and_then(body::bool_like)
                .ok_or_else(|| {
                    ApiError::bad_request(S, "Invalid input received: bootable must be a boolean.")
                })?;
            c.store.write(|db| {
                if let Some(v) = db.volumes.get_mut(&id) {
                    v.bootable = b;
                }
            });
            Ok(StatusCode::OK.into_response())
        }
        "os-reset_status" => {
            if !ctx.is_admin() {
                return Err(ApiError::forbidden(S, "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be performed."));
            }
            let st = arg
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request(S, "Must specify 'status'"))?;
            let st = VolumeStatus::parse(st).ok_or_else(|| {
                ApiError::bad_request(
                    S,
                    format!("Invalid input for field/attribute status. Value: {st}."),
                )
            })?;
            c.store.write(|db| {
                if let Some(v) = db.volumes.get_mut(&id) {
                    v.status = st;
                }
            });
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-update_readonly_flag" => Ok(StatusCode::ACCEPTED.into_response()),
        "os-volume_upload_image" => upload_image(&c, &ctx, &vol, &arg),
        other => Err(ApiError::bad_request(
            S,
            format!("There is no such action: {other}"),
        )),
    }
}

async fn get_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ctx = ctx(&c, &headers, &project)?;
    let v = get_volume(&c, &ctx, &id)?;
    Ok(Json(json!({"metadata": v.metadata})))
}

const META_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("metadata"),
    fields: &[],
    additional: true,
    siblings: &[],
};

async fn set_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    write_metadata(&c, &headers, &project, &id, &bytes, false)
}

/// `PUT …/metadata` replaces the whole set, as in Cinder.
async fn replace_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    write_metadata(&c, &headers, &project, &id, &bytes, true)
}

fn write_metadata(
    c: &Cloud,
    headers: &HeaderMap,
    project: &str,
    id: &str,
    bytes: &[u8],
    replace: bool,
) -> ApiResult<Json<Value>> {
    let ctx = ctx(c, headers, project)?;
    let m = body::check(&META_SCHEMA, body::parse_json(S, bytes)?)?;
    let mut wrapped = serde_json::Map::new();
    wrapped.insert("metadata".into(), Value::Object(m));
    let meta = get_str_map(&wrapped, "metadata", S)?;
    c.store.write(|db| {
        let v = db.volumes.mine_mut(&ctx, id).ok_or_else(|| not_found(id))?;
        if replace {
            v.metadata.clear();
        }
        v.metadata.extend(meta);
        Ok(Json(json!({"metadata": v.metadata})))
    })
}

async fn zones(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    ctx(&c, &headers, &project)?;
    let zones = c.store.read(util::zones);
    Ok(Json(
        json!({"availabilityZoneInfo": zones.iter().map(|z| json!({"zoneName": z, "zoneState": {"available": true}})).collect::<Vec<_>>()}),
    ))
}

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

fn snapshot_not_found(service: Service, id: &str) -> ApiError {
    ApiError::not_found(service, format!("Snapshot {id} could not be found."))
}

/// Cinder's answer to `force: false` from microversion 3.66 on (its own spelling kept).
const SNAPSHOT_IN_USE_FLAG_MSG: &str = "Since microversion 3.66 the 'force' flag is invalid for this request.  For backward compatability, however, when the 'force' flag is passed with a value evaluating to True, it is silently ignored.";

/// A snapshot as Cinder shows it: `extended` adds the `os-extended-snapshot-attributes` of show
/// and detail; `user_id` comes with 3.41, `consumes_quota` with 3.65.
fn snapshot_view(s: &Snapshot, mv: (u32, u32), extended: bool) -> Value {
    let ws = w::Snapshot {
        id: s.id.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        status: s.status.to_string(),
        volume_id: s.volume_id.clone(),
        size: u64::try_from(s.size).unwrap_or(0),
        metadata: s.metadata.clone(),
        created_at: s.created_at.clone(),
        updated_at: s.updated_at.clone(),
        progress: extended.then(|| {
            if s.status == SnapshotStatus::Creating {
                "0%".to_owned()
            } else {
                "100%".to_owned()
            }
        }),
        project_id: extended.then(|| s.project_id.clone()),
        user_id: (mv >= (3, 41)).then(|| s.user_id.clone()),
        consumes_quota: (mv >= (3, 65)).then_some(true),
    };
    serde_json::to_value(ws).unwrap_or(Value::Null)
}

/// Moves a snapshot to `available` in the background.
fn snapshot_ready(c: &Cloud, id: &str) {
    let id = id.to_owned();
    later(c, move |db| {
        if let Some(s) = db.snapshots.get_mut(&id) {
            if s.status == SnapshotStatus::Creating {
                s.status = SnapshotStatus::Available;
                s.updated_at = Some(now_micro());
            }
        }
    });
}

/// Removes a `deleting` snapshot in the background. While a volume restored from it is still
/// being created the snapshot is busy and goes back to `available`, as Cinder's volume manager
/// does when the back-end reports `SnapshotIsBusy`.
fn snapshot_gone(c: &Cloud, id: &str) {
    let id = id.to_owned();
    later(c, move |db| {
        let busy = db.volumes.values().any(|v| {
            v.snapshot_id.as_deref() == Some(id.as_str())
                && (v.status == VolumeStatus::Creating || v.status == VolumeStatus::Downloading)
        });
        if busy {
            if let Some(s) = db.snapshots.get_mut(&id) {
                s.status = SnapshotStatus::Available;
                s.updated_at = Some(now_micro());
            }
        } else {
            db.snapshots.remove(&id);
        }
    });
}

/// Cinder's `maxLength: 255` on names and descriptions.
fn check_length(m: &serde_json::Map<String, Value>, fields: &[&str]) -> ApiResult<()> {
    for f in fields {
        if let Some(v) = m.get(*f).and_then(Value::as_str) {
            if v.chars().count() > 255 {
                return Err(ApiError::bad_request(
                    S,
                    format!("Invalid input for field/attribute {f}. Value: {v}. '{v}' is too long"),
                ));
            }
        }
    }
    Ok(())
}

const SNAPSHOT_CREATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("snapshot"),
    fields: &[
        req("volume_id", Ty::OptStr),
        opt("name", Ty::OptStr),
        opt("display_name", Ty::OptStr),
        opt("description", Ty::OptStr),
        opt("force", Ty::BoolLike),
        opt("metadata", Ty::Any),
    ],
    additional: false,
    siblings: &[],
};

async fn create_snapshot(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let (ctx, mv) = ctx_mv(&c, &headers, &project)?;
    let m = body::check(&SNAPSHOT_CREATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    check_length(&m, &["name", "display_name", "description"])?;
    // `volume_id` may be null by Cinder's schema; the lookup then fails like Cinder's does.
    let volume_id = get_str(&m, "volume_id").unwrap_or_else(|| "None".to_owned());
    if m.get("volume_id").is_some_and(Value::is_string) && !util::is_uuid(&volume_id) {
        return Err(ApiError::bad_request(
            S,
            format!("Invalid input for field/attribute volume_id. Value: {volume_id}. '{volume_id}' is not a 'uuid'"),
        ));
    }
    let metadata = get_str_map(&m, "metadata", S)?;
    let force = m.get("force").and_then(body::bool_like);
    if mv >= (3, 66) && force == Some(false) {
        return Err(ApiError::bad_request(S, SNAPSHOT_IN_USE_FLAG_MSG));
    }
    let allow_in_use = force == Some(true) || mv >= (3, 66);
    let name = get_str(&m, "name").or_else(|| get_str(&m, "display_name"));
    let description = get_str(&m, "description");
    let snap = c.store.write(|db| {
        let vol = db
            .volumes
            .mine(&ctx, &volume_id)
            .ok_or_else(|| not_found(&volume_id))?;
        if vol.status == VolumeStatus::Error {
            return Err(ApiError::bad_request(
                S,
                "Invalid volume: The snapshot cannot be created when the volume is in error status.",
            ));
        }
        let valid: &[VolumeStatus] = if allow_in_use {
            &[VolumeStatus::Available, VolumeStatus::InUse]
        } else {
            &[VolumeStatus::Available]
        };
        if !valid.contains(&vol.status) {
            return Err(ApiError::bad_request(
                S,
                format!(
                    "Invalid volume: Volume {} status must be {}, but current status is: {}.",
                    vol.id,
                    valid.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                    vol.status
                ),
            ));
        }
        crate::cinder_quotas::check(db, S, &ctx.project_id, 0, 1, vol.size)?;
        let s = Snapshot {
            id: new_id(),
            project_id: ctx.project_id.clone(),
            user_id: ctx.user_id.clone(),
            volume_id: vol.id.clone(),
            name,
            description,
            status: SnapshotStatus::Creating,
            size: vol.size,
            metadata,
            created_at: now_micro(),
            updated_at: None,
            volume_type: vol.volume_type.clone(),
            availability_zone: vol.availability_zone.clone(),
            bootable: vol.bootable,
            volume_image_metadata: vol.volume_image_metadata.clone(),
        };
        db.snapshots.insert(s.id.clone(), s.clone());
        Ok(s)
    })?;
    snapshot_ready(&c, &snap.id);
    Ok(with_version(
        (
            StatusCode::ACCEPTED,
            Json(json!({"snapshot": snapshot_view(&snap, mv, false)})),
        )
            .into_response(),
    ))
}

fn list_snaps(
    c: &Cloud,
    ctx: &Ctx,
    mv: (u32, u32),
    query: &util::Query,
    detail: bool,
    project: &str,
) -> ApiResult<Response> {
    let name = q(query, "name").map(str::to_owned);
    let status = q(query, "status").map(str::to_owned);
    let volume_id = q(query, "volume_id").map(str::to_owned);
    let all = crate::access::wants_all_projects(query);
    let of_project = q(query, "project_id")
        .filter(|_| all && ctx.is_admin())
        .map(str::to_owned);
    let items: Vec<Snapshot> = c.store.read(|db| {
        db.snapshots
            .listed(ctx, all)
            .filter(|s| of_project.as_ref().is_none_or(|p| &s.project_id == p))
            .filter(|s| name.as_ref().is_none_or(|n| s.name.as_ref() == Some(n)))
            .filter(|s| status.as_ref().is_none_or(|st| s.status.as_str() == st))
            .filter(|s| volume_id.as_ref().is_none_or(|v| &s.volume_id == v))
            .cloned()
            .collect()
    });
    paged(
        c,
        query,
        project,
        ("snapshots", detail),
        items,
        |s| s.id.as_str(),
        |s| snapshot_view(s, mv, detail),
    )
}

async fn list_snapshots(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let (ctx, mv) = ctx_mv(&c, &headers, &project)?;
    list_snaps(&c, &ctx, mv, &query, false, &project)
}

async fn list_snapshots_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let (ctx, mv) = ctx_mv(&c, &headers, &project)?;
    list_snaps(&c, &ctx, mv, &query, true, &project)
}

async fn show_snapshot(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (ctx, mv) = ctx_mv(&c, &headers, &project)?;
    let s = c
        .store
        .read(|db| db.snapshots.mine(&ctx, &id).cloned())
        .ok_or_else(|| snapshot_not_found(S, &id))?;
    Ok(with_version(
        Json(json!({"snapshot": snapshot_view(&s, mv, true)})).into_response(),
    ))
}

const SNAPSHOT_UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("snapshot"),
    fields: &[
        opt("name", Ty::OptStr),
        opt("description", Ty::OptStr),
        opt("display_name", Ty::OptStr),
        opt("display_description", Ty::OptStr),
    ],
    additional: false,
    siblings: &[],
};

async fn update_snapshot(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let (ctx, mv) = ctx_mv(&c, &headers, &project)?;
    let m = body::check(&SNAPSHOT_UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    if m.is_empty() {
        return Err(ApiError::bad_request(
            S,
            "Invalid input for field/attribute snapshot. Value: {}. {} is not valid under any of the given schemas",
        ));
    }
    check_length(
        &m,
        &["name", "description", "display_name", "display_description"],
    )?;
    let s = c.store.write(|db| {
        let s = db
            .snapshots
            .mine_mut(&ctx, &id)
            .ok_or_else(|| snapshot_not_found(S, &id))?;
        for (field, legacy) in [
            ("name", "display_name"),
            ("description", "display_description"),
        ] {
            let value = if m.contains_key(field) {
                Some(get_str(&m, field))
            } else if m.contains_key(legacy) {
                Some(get_str(&m, legacy))
            } else {
                None
            };
            if let Some(value) = value {
                if field == "name" {
                    s.name = value;
                } else {
                    s.description = value;
                }
            }
        }
        s.updated_at = Some(now_micro());
        Ok(s.clone())
    })?;
    Ok(with_version(
        Json(json!({"snapshot": snapshot_view(&s, mv, false)})).into_response(),
    ))
}

async fn delete_snapshot(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    c.store.write(|db| {
        let s = db
            .snapshots
            .mine_mut(&ctx, &id)
            .ok_or_else(|| snapshot_not_found(S, &id))?;
        if s.status != SnapshotStatus::Available && s.status != SnapshotStatus::Error {
            return Err(ApiError::bad_request(
                S,
                "Invalid snapshot: Snapshot status must be available or error and must not be part of a group.",
            ));
        }
        s.status = SnapshotStatus::Deleting;
        s.updated_at = Some(now_micro());
        Ok(())
    })?;
    snapshot_gone(&c, &id);
    Ok(with_version(StatusCode::ACCEPTED.into_response()))
}

/// `GET /limits`: Cinder's absolute limits with the project's use.
async fn limits(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    let p = ctx.project_id.clone();
    let (used, lim) = c.store.read(|db| {
        let l = |n| crate::cinder_quotas::limit(db, &p, n);
        (
            crate::cinder_quotas::usage(db, &p),
            [l("volumes"), l("gigabytes"), l("snapshots")],
        )
    });
    let [(_, n), (_, gb), (_, snaps)] = used;
    let [max_n, max_gb, max_snaps] = lim;
    Ok(with_version(
        Json(json!({"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": max_n, "maxTotalVolumeGigabytes": max_gb, "maxTotalSnapshots": max_snaps,
            "maxTotalBackups": 10, "maxTotalBackupGigabytes": 1000,
            "totalVolumesUsed": n, "totalGigabytesUsed": gb, "totalSnapshotsUsed": snaps,
            "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}}}))
        .into_response(),
    ))
}

/// A project's quota set; with `usage`, each quota as `{limit, in_use, reserved, allocated}`.
fn quota_set(db: &Db, target: &str, usage: bool) -> Value {
    use crate::cinder_quotas as cq;
    let used = cq::usage(db, target);
    let mut set = serde_json::Map::new();
    set.insert("id".into(), json!(target));
    for (name, _) in cq::ENFORCED.iter().chain(cq::SHOWN) {
        let l = cq::limit(db, target, name);
        let in_use = used.iter().find(|(n, _)| n == name).map_or(0, |(_, u)| *u);
        let v = if usage {
            json!({"limit": l, "in_use": in_use, "reserved": 0, "allocated": 0})
        } else {
            json!(l)
        };
        set.insert((*name).into(), v);
    }
    json!({"quota_set": set})
}

/// `GET /os-quota-sets/{target}[?usage=True]`: the project's own (or any, for an admin).
async fn show_quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, target)): Path<(String, String)>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let ctx = ctx(&c, &headers, &project)?;
    if target != ctx.project_id && !ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "Policy doesn't allow volume_extension:quotas:show to be performed.",
        ));
    }
    let usage = q(&query, "usage").is_some_and(|u| u.eq_ignore_ascii_case("true"));
    let v = c.store.read(|db| quota_set(db, &target, usage));
    Ok(with_version(Json(v).into_response()))
}

/// `GET /os-quota-sets/{target}/defaults`.
async fn default_quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, target)): Path<(String, String)>,
) -> ApiResult<Response> {
    ctx(&c, &headers, &project)?;
    let mut set = serde_json::Map::new();
    set.insert("id".into(), json!(target));
    c.store.read(|db| {
        for (name, _) in crate::cinder_quotas::ENFORCED
            .iter()
            .chain(crate::cinder_quotas::SHOWN)
        {
            set.insert(
                (*name).into(),
                json!(crate::cinder_quotas::class_limit(db, name)),
            );
        }
    });
    Ok(with_version(
        Json(json!({"quota_set": set})).into_response(),
    ))
}

/// `PUT /os-quota-sets/{target}` (admin): sets the project's limits (those of volumes,
/// gigabytes and snapshots are enforced; per-type ones are accepted and not kept).
async fn update_quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((project, target)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    use crate::cinder_quotas as cq;
    let ctx = ctx(&c, &headers, &project)?;
    if !ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "Policy doesn't allow volume_extension:quotas:update to be performed.",
        ));
    }
    let v = body::parse_json(S, &bytes)?;
    let set = v
        .get("quota_set")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::bad_request(S, "Missing required element 'quota_set' in request body.")
        })?;
    let mut changes = Vec::new();
    for (k, val) in set {
        if k == "tenant_id" || k == "id" {
            continue;
        }
        let known = cq::ENFORCED.iter().chain(cq::SHOWN).any(|(n, _)| n == k)
            || k.starts_with("volumes_")
            || k.starts_with("gigabytes_")
            || k.starts_with("snapshots_");
        if !known {
            return Err(ApiError::bad_request(
                S,
                format!("Invalid input received: Bad key(s) in quota set: {k}"),
            ));
        }
        let n = body::int_like(val).filter(|n| *n >= -1).ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!("Invalid input received: Quota limit {val} for {k} must be -1 or greater."),
            )
        })?;
        if cq::ENFORCED.iter().chain(cq::SHOWN).any(|(e, _)| e == k) {
            changes.push((k.clone(), n));
        }
    }
    let out = c.store.write(|db| {
        let q = db.volume_quotas.entry(target.clone()).or_default();
        for (k, n) in changes {
            q.insert(k, n);
        }
        quota_set(db, &target, false)
    });
    Ok(with_version(Json(out).into_response()))
}

/// `os-volume_upload_image`: a new Glance image whose data is the volume's bytes. The volume is
/// `uploading` until the copy ends, then back to its status; the image `queued`, then `active`.
fn upload_image(c: &Cloud, ctx: &Ctx, vol: &Volume, arg: &Value) -> ApiResult<Response> {
    let bad = |m: String| ApiError::bad_request(S, m);
    let name = match arg.get("image_name") {
        Some(Value::String(n)) if !n.is_empty() => n.clone(),
        _ => return Err(bad(format!("Invalid input for field/attribute image_name. Value: {arg}. 'image_name' is a required property"))),
    };
    let force = arg.get("force").and_then(body::bool_like).unwrap_or(false);
    let back = vol.status;
    if !(back == VolumeStatus::Available || (force && back == VolumeStatus::InUse)) {
        return Err(bad(format!(
            "Invalid volume: Volume {} status must be available{}, but current status is: {}.",
            vol.id,
            if force { " or in-use" } else { "" },
            back.as_str()
        )));
    }
    let text = |k: &str, d: &str| -> ApiResult<String> {
        match arg.get(k) {
            None | Some(Value::Null) => Ok(d.to_owned()),
            Some(Value::String(v)) => Ok(v.clone()),
            Some(v) => Err(bad(format!(
                "Invalid input for field/attribute {k}. Value: {v}. {v} is not of type 'string'"
            ))),
        }
    };
    let disk_format = text("disk_format", "raw")?;
    let container_format = text("container_format", "bare")?;
    let visibility = text("visibility", "private")?;
    if !["raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "ploop"].contains(&disk_format.as_str()) {
        return Err(bad(format!("Invalid input received: Invalid disk-format '{disk_format}' is specified. Allowed disk-formats are raw, qcow2, vmdk, vdi, vhd, vhdx, ploop.")));
    }
    if !["private", "public", "shared", "community"].contains(&visibility.as_str()) {
        return Err(bad(format!(
            "Invalid input for field/attribute visibility. Value: {visibility}."
        )));
    }
    let protected = arg
        .get("protected")
        .and_then(body::bool_like)
        .unwrap_or(false);
    let mut img = crate::disks::queued_image(
        &ctx.project_id,
        &name,
        &disk_format,
        &container_format,
        &visibility,
        BTreeMap::new(),
    );
    img.protected = protected;
    img.min_disk = vol.size;
    let image_id = img.id.clone();
    let vid = vol.id.clone();
    let source = c.store.write(|db| {
        db.images.insert(image_id.clone(), img);
        if let Some(v) = db.volumes.get_mut(&vid) {
            v.status = VolumeStatus::Uploading;
            v.updated_at = Some(now_micro());
        }
        crate::disks::volume_source(c, db, &vid)
    });
    crate::disks::fill_image(c, &image_id, source, move |db| {
        if let Some(v) = db.volumes.get_mut(&vid) {
            if v.status == VolumeStatus::Uploading {
                v.status = back;
                v.updated_at = Some(now_micro());
            }
        }
    });
    let body = json!({"os-volume_upload_image": {
        "id": vol.id, "updated_at": now_micro(), "status": "uploading",
        "display_description": vol.description, "size": vol.size,
        "volume_type": type_json(&vol.volume_type), "image_id": image_id,
        "container_format": container_format, "disk_format": disk_format,
        "image_name": name, "protected": protected, "visibility": visibility,
    }});
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
