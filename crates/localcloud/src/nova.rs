//! Nova v2.1: VK-like flavors, availability zones `GZ1`/`MS1`/`ME1`, servers (BUILD → ACTIVE /
//! SHUTOFF / ERROR, deleted → 404) run by the hypervisor, boot from an image, from a volume or
//! from an image into a new volume (`block_device_mapping_v2`), actions, volume attachments,
//! keypairs (generated when no public key is given), console output.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::Digest as _;
use vitrina_openstack::wire::compute as w;
use vitrina_openstack::wire::{Link, NameRef};

use crate::body::{self, opt, req, Schema, Ty};
use crate::cinder::{self, NewVolume};
use crate::error::{ApiError, ApiResult, Service};
use crate::hypervisor::BootSpec;
use crate::model::{Fault, Keypair, Server, ServerVolume, State as Db, VolumeAttachment};
use crate::neutron;
use crate::util::{self, get_str, get_str_map, new_id, now, q, Ctx};
use crate::{AppState, Cloud};

const S: Service = Service::Compute;
const MIN_VERSION: (u32, u32) = (2, 1);
const MAX_VERSION: (u32, u32) = (2, 79);
pub const ZONES: &[&str] = cinder::ZONES;
const MAX_USER_DATA: usize = 65535;

/// A UUID derived from a name (stable flavor, image and type IDs).
pub fn stable_uuid(name: &str) -> String {
    let h = sha2::Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// A flavor of localcloud.
#[derive(Debug, Clone)]
pub struct Flavor {
    pub name: &'static str,
    pub vcpus: u32,
    pub ram: u64,
    pub disk: u64,
    pub extra_specs: &'static [(&'static str, &'static str)],
}

impl Flavor {
    pub fn id(&self) -> String {
        stable_uuid(&format!("flavor/{}", self.name))
    }
}

pub const FLAVORS: &[Flavor] = &[
    Flavor {
        name: "Basic-1-2-20",
        vcpus: 1,
        ram: 2048,
        disk: 20,
        extra_specs: &[("hw:cpu_type", "basic")],
    },
    Flavor {
        name: "Standard-2-4-40",
        vcpus: 2,
        ram: 4096,
        disk: 40,
        extra_specs: &[("hw:cpu_type", "standard")],
    },
    Flavor {
        name: "Standard-2-8-50",
        vcpus: 2,
        ram: 8192,
        disk: 50,
        extra_specs: &[("hw:cpu_type", "standard")],
    },
    Flavor {
        name: "Standard-4-16-50",
        vcpus: 4,
        ram: 16384,
        disk: 50,
        extra_specs: &[("hw:cpu_type", "standard")],
    },
    Flavor {
        name: "Advanced-8-32-100",
        vcpus: 8,
        ram: 32768,
        disk: 100,
        extra_specs: &[("hw:cpu_type", "advanced")],
    },
    Flavor {
        name: "GPU-A100-8-64-100",
        vcpus: 8,
        ram: 65536,
        disk: 100,
        extra_specs: &[
            ("gpu", "nvidia-a100:1"),
            ("hw:cpu_type", "gpu"),
            ("pci_passthrough:alias", "a100:1"),
        ],
    },
];

fn find_flavor(r: &str) -> Option<&'static Flavor> {
    // flavorRef may be an ID, a URL ending with the ID, or (leniently) a name.
    let id = r.rsplit('/').next().unwrap_or(r);
    FLAVORS.iter().find(|f| f.id() == id || f.name == id)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/compute", get(versions))
        .route("/compute/", get(versions))
        .route("/compute/v2.1", get(version))
        .route("/compute/v2.1/", get(version))
        .route("/compute/v2.1/flavors", get(list_flavors))
        .route("/compute/v2.1/flavors/detail", get(list_flavors_detail))
        .route("/compute/v2.1/flavors/{id}", get(show_flavor))
        .route(
            "/compute/v2.1/flavors/{id}/os-extra_specs",
            get(flavor_extra_specs),
        )
        .route("/compute/v2.1/os-availability-zone", get(zones))
        .route("/compute/v2.1/os-availability-zone/detail", get(zones))
        .route("/compute/v2.1/limits", get(limits))
        .route(
            "/compute/v2.1/os-keypairs",
            get(list_keypairs).post(create_keypair),
        )
        .route(
            "/compute/v2.1/os-keypairs/{name}",
            get(show_keypair).delete(delete_keypair),
        )
        .route(
            "/compute/v2.1/servers",
            get(list_servers).post(create_server),
        )
        .route("/compute/v2.1/servers/detail", get(list_servers_detail))
        .route(
            "/compute/v2.1/servers/{id}",
            get(show_server).put(update_server).delete(delete_server),
        )
        .route("/compute/v2.1/servers/{id}/action", post(server_action))
        .route("/compute/v2.1/servers/{id}/ips", get(server_ips))
        .route(
            "/compute/v2.1/servers/{id}/metadata",
            get(get_metadata)
                .post(update_metadata)
                .put(replace_metadata),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-volume_attachments",
            get(list_attachments).post(attach_volume),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-volume_attachments/{vol}",
            get(show_attachment).delete(detach_volume),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-security-groups",
            get(server_sgs),
        )
}

// ------------------------------------------------------------------------------------------
// Context, versions
// ------------------------------------------------------------------------------------------

struct Req {
    ctx: Ctx,
    mv: (u32, u32),
}

fn req_ctx(c: &Cloud, headers: &HeaderMap) -> ApiResult<Req> {
    let ctx = c.auth(headers, S)?;
    let mv = util::microversion(headers, "compute", MIN_VERSION, MAX_VERSION)?;
    Ok(Req { ctx, mv })
}

fn versioned(r: &Req, resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    let v = format!("{}.{}", r.mv.0, r.mv.1);
    if let Ok(h) = HeaderValue::from_str(&format!("compute {v}")) {
        resp.headers_mut().insert("openstack-api-version", h);
    }
    if let Ok(h) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert("x-openstack-nova-api-version", h);
    }
    resp.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
    resp
}

fn version_body(c: &Cloud) -> Value {
    json!({"id": "v2.1", "status": "CURRENT", "version": format!("{}.{}", MAX_VERSION.0, MAX_VERSION.1), "min_version": "2.1",
           "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": c.url("/compute/v2.1/")}],
           "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]})
}

async fn versions(State(c): State<AppState>) -> Json<Value> {
    Json(json!({"versions": [version_body(&c)]}))
}

async fn version(State(c): State<AppState>) -> Json<Value> {
    Json(json!({"version": version_body(&c)}))
}

// ------------------------------------------------------------------------------------------
// Flavors, zones, limits
// ------------------------------------------------------------------------------------------

fn flavor_view(c: &Cloud, f: &Flavor, mv: (u32, u32)) -> w::Flavor {
    let id = f.id();
    w::Flavor {
        id: id.clone(),
        name: f.name.into(),
        ram: f.ram,
        vcpus: f.vcpus,
        disk: f.disk,
        swap: 0,
        ephemeral: 0,
        disabled: false,
        is_public: true,
        rxtx_factor: 1.0,
        description: (mv >= (2, 55)).then(|| {
            format!(
                "{} vCPU, {} GB RAM, {} GB disk",
                f.vcpus,
                f.ram / 1024,
                f.disk
            )
        }),
        extra_specs: (mv >= (2, 61)).then(|| {
            f.extra_specs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        }),
        links: vec![
            Link {
                href: c.url(&format!("/compute/v2.1/flavors/{id}")),
                rel: "self".into(),
                media_type: None,
            },
            Link {
                href: c.url(&format!("/compute/flavors/{id}")),
                rel: "bookmark".into(),
                media_type: None,
            },
        ],
    }
}

fn flavor_list(c: &Cloud, r: &Req, query: &util::Query, detail: bool) -> ApiResult<Value> {
    let min_ram = q(query, "minRam")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let min_disk = q(query, "minDisk")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let items: Vec<&Flavor> = FLAVORS
        .iter()
        .filter(|f| f.ram >= min_ram && f.disk >= min_disk)
        .collect();
    let (limit, marker) = util::page_params(query, S)?;
    let ids: Vec<(String, &Flavor)> = items.into_iter().map(|f| (f.id(), f)).collect();
    let (page, more) = util::paginate(ids, |(id, _)| id.as_str(), limit, marker.as_deref(), S)?;
    let flavors: Vec<Value> = page
        .iter()
        .map(|(_, f)| {
            let v = flavor_view(c, f, r.mv);
            if detail {
                serde_json::to_value(v).unwrap_or(Value::Null)
            } else {
                json!({"id": v.id, "name": v.name, "links": v.links})
            }
        })
        .collect();
    let mut body = json!({"flavors": flavors});
    if more {
        if let (Some((last, _)), Some(o)) = (page.last(), body.as_object_mut()) {
            let path = if detail { "flavors/detail" } else { "flavors" };
            o.insert("flavors_links".into(), json!([{"rel": "next", "href": c.url(&format!("/compute/v2.1/{path}?{}", util::next_query(query, last)))}]));
        }
    }
    Ok(body)
}

async fn list_flavors(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = flavor_list(&c, &r, &query, false)?;
    Ok(versioned(&r, Json(body)))
}

async fn list_flavors_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = flavor_list(&c, &r, &query, true)?;
    Ok(versioned(&r, Json(body)))
}

fn flavor_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Flavor {id} could not be found."))
}

async fn show_flavor(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let f = FLAVORS
        .iter()
        .find(|f| f.id() == id)
        .ok_or_else(|| flavor_not_found(&id))?;
    Ok(versioned(
        &r,
        Json(w::FlavorResponse {
            flavor: flavor_view(&c, f, r.mv),
        }),
    ))
}

async fn flavor_extra_specs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let f = FLAVORS
        .iter()
        .find(|f| f.id() == id)
        .ok_or_else(|| flavor_not_found(&id))?;
    let specs = w::ExtraSpecs {
        extra_specs: f
            .extra_specs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    Ok(versioned(&r, Json(specs)))
}

async fn zones(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = w::AvailabilityZoneList {
        availability_zone_info: ZONES
            .iter()
            .map(|z| w::AvailabilityZone {
                zone_name: (*z).into(),
                zone_state: w::ZoneState { available: true },
                hosts: None,
            })
            .collect(),
    };
    Ok(versioned(&r, Json(body)))
}

async fn limits(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let used = c.store.read(|db| {
        db.servers
            .values()
            .filter(|s| s.project_id == r.ctx.project_id)
            .count()
    });
    Ok(versioned(
        &r,
        Json(json!({"limits": {"rate": [], "absolute": {
        "maxTotalInstances": 5000, "maxTotalCores": 20000, "maxTotalRAMSize": 51200000, "maxTotalKeypairs": 100,
        "maxServerMeta": 128, "maxImageMeta": 128, "maxPersonality": 5, "maxPersonalitySize": 10240,
        "maxServerGroups": 10, "maxServerGroupMembers": 10, "totalInstancesUsed": used, "totalCoresUsed": 0, "totalRAMUsed": 0,
        "totalServerGroupsUsed": 0, "maxTotalFloatingIps": -1, "maxSecurityGroups": -1, "maxSecurityGroupRules": -1,
        "totalFloatingIpsUsed": 0, "totalSecurityGroupsUsed": 0}}})),
    ))
}

// ------------------------------------------------------------------------------------------
// Keypairs
// ------------------------------------------------------------------------------------------

fn key_id(user: &str, name: &str) -> String {
    format!("{user}/{name}")
}

/// The MD5 fingerprint Nova shows for an OpenSSH public key (`aa:bb:…`).
pub fn fingerprint(public_key: &str) -> Option<String> {
    let mut parts = public_key.split_whitespace();
    let kind = parts.next()?;
    if !kind.starts_with("ssh-") && !kind.starts_with("ecdsa-") && !kind.starts_with("sk-") {
        return None;
    }
    let blob = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    // The blob starts with the key type as an SSH string.
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    if blob.get(4..4 + len)? != kind.as_bytes() {
        return None;
    }
    let d = md5::Md5::digest(&blob);
    Some(
        d.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn keypair_view(k: &Keypair, mv: (u32, u32), private: Option<String>) -> w::Keypair {
    w::Keypair {
        name: k.name.clone(),
        public_key: k.public_key.clone(),
        fingerprint: k.fingerprint.clone(),
        private_key: private.map(Into::into),
        user_id: Some(k.user_id.clone()),
        key_type: (mv >= (2, 2)).then(|| k.key_type.clone()),
        created_at: None,
        id: None,
        deleted: None,
    }
}

const KEYPAIR_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("keypair"),
    fields: &[
        req("name", Ty::Str),
        opt("public_key", Ty::Str),
        opt("type", Ty::Str),
        opt("user_id", Ty::Str),
    ],
    additional: false,
    siblings: &[],
};

/// Generates an OpenSSH key pair with `ssh-keygen` (what Nova's API does when no public key is
/// given, before microversion 2.92).
async fn generate_key(comment: &str) -> Result<(String, String), String> {
    let dir = tempfile_dir()?;
    let path = dir.join("id");
    let out = tokio::process::Command::new("ssh-keygen")
        .args([
            "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", comment, "-f",
        ])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("ssh-keygen cannot run ({e}); install openssh-client"))?;
    let result = if out.status.success() {
        let private = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| e.to_string());
        let public = tokio::fs::read_to_string(path.with_extension("pub"))
            .await
            .map_err(|e| e.to_string());
        match (private, public) {
            (Ok(a), Ok(b)) => Ok((a, b.trim().to_owned())),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let d = std::env::temp_dir().join(format!("localcloud-key-{}", new_id()));
    fs_err::create_dir_all(&d).map_err(|e| e.to_string())?;
    Ok(d)
}

async fn create_keypair(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&KEYPAIR_SCHEMA, body::parse_json(S, &bytes)?)?;
    let name = get_str(&m, "name").unwrap_or_default();
    if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_ .@".contains(ch))
    {
        return Err(ApiError::bad_request(S, format!("Invalid input for field/attribute name. Value: {name}. '{name}' does not match '^[a-zA-Z0-9 _.@-]+$'")));
    }
    let key_type = get_str(&m, "type").unwrap_or_else(|| "ssh".into());
    if key_type != "ssh" && key_type != "x509" {
        return Err(ApiError::bad_request(S, format!("Invalid input for field/attribute type. Value: {key_type}. '{key_type}' is not one of ['ssh', 'x509']")));
    }
    if c.store
        .read(|db| db.keypairs.contains_key(&key_id(&r.ctx.user_id, &name)))
    {
        return Err(ApiError::conflict(
            S,
            format!("Key pair '{name}' already exists."),
        ));
    }
    let (public, private) = match get_str(&m, "public_key") {
        Some(p) => (p.trim().to_owned(), None),
        None => {
            if r.mv >= (2, 92) {
                return Err(ApiError::bad_request(S, "Invalid input for field/attribute keypair. 'public_key' is a required property"));
            }
            let (private, public) = generate_key(&format!("Generated-by-Nova {name}"))
                .await
                .map_err(|e| {
                    ApiError::new(
                        S,
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("Key generation is not available: {e}"),
                    )
                })?;
            (public, Some(private))
        }
    };
    let fp = fingerprint(&public).ok_or_else(|| {
        ApiError::bad_request(S, "Keypair data is invalid: failed to generate fingerprint")
    })?;
    let k = Keypair {
        name: name.clone(),
        user_id: r.ctx.user_id.clone(),
        public_key: public,
        fingerprint: fp,
        key_type,
        created_at: now(),
    };
    let dup = c.store.write(|db| {
        let id = key_id(&r.ctx.user_id, &name);
        if db.keypairs.contains_key(&id) {
            return true;
        }
        db.keypairs.insert(id, k.clone());
        false
    });
    if dup {
        return Err(ApiError::conflict(
            S,
            format!("Key pair '{name}' already exists."),
        ));
    }
    let status = if r.mv >= (2, 2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = w::KeypairResponse {
        keypair: keypair_view(&k, r.mv, private),
    };
    Ok(versioned(&r, (status, Json(body))))
}

async fn list_keypairs(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let keypairs = c.store.read(|db| {
        db.keypairs
            .values()
            .filter(|k| k.user_id == r.ctx.user_id)
            .map(|k| {
                let mut v = keypair_view(k, r.mv, None);
                v.user_id = None;
                w::KeypairResponse { keypair: v }
            })
            .collect()
    });
    Ok(versioned(
        &r,
        Json(w::KeypairList {
            keypairs,
            keypairs_links: None,
        }),
    ))
}

fn keypair_not_found(name: &str) -> ApiError {
    ApiError::not_found(S, format!("Keypair {name} not found for user"))
}

async fn show_keypair(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let k = c
        .store
        .read(|db| db.keypairs.get(&key_id(&r.ctx.user_id, &name)).cloned())
        .ok_or_else(|| keypair_not_found(&name))?;
    let mut v = keypair_view(&k, r.mv, None);
    v.created_at = Some(k.created_at.clone());
    v.deleted = Some(false);
    v.id = Some(1);
    Ok(versioned(&r, Json(w::KeypairResponse { keypair: v })))
}

async fn delete_keypair(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let removed = c
        .store
        .write(|db| db.keypairs.remove(&key_id(&r.ctx.user_id, &name)));
    removed.ok_or_else(|| keypair_not_found(&name))?;
    let status = if r.mv >= (2, 2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    };
    Ok(versioned(&r, status))
}

// ------------------------------------------------------------------------------------------
// Server views
// ------------------------------------------------------------------------------------------

fn server_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Instance {id} could not be found."))
}

fn server_links(c: &Cloud, id: &str) -> Vec<Link> {
    vec![
        Link {
            href: c.url(&format!("/compute/v2.1/servers/{id}")),
            rel: "self".into(),
            media_type: None,
        },
        Link {
            href: c.url(&format!("/compute/servers/{id}")),
            rel: "bookmark".into(),
            media_type: None,
        },
    ]
}

/// Addresses by network name, fixed then floating, in port order.
fn addresses(db: &Db, s: &Server) -> BTreeMap<String, Vec<w::ServerAddress>> {
    let mut out: BTreeMap<String, Vec<w::ServerAddress>> = BTreeMap::new();
    for pid in &s.ports {
        let Some(p) = db.ports.get(pid) else { continue };
        let net = db
            .networks
            .get(&p.network_id)
            .map(|n| n.name.clone())
            .unwrap_or_else(|| p.network_id.clone());
        let entry = out.entry(net).or_default();
        for f in &p.fixed_ips {
            entry.push(w::ServerAddress {
                version: 4,
                addr: f.ip_address.clone(),
                ip_type: Some("fixed".into()),
                mac_addr: Some(p.mac_address.clone()),
            });
        }
        for fip in db
            .floating_ips
            .values()
            .filter(|f| f.port_id.as_deref() == Some(pid.as_str()))
        {
            entry.push(w::ServerAddress {
                version: 4,
                addr: fip.floating_ip_address.clone(),
                ip_type: Some("floating".into()),
                mac_addr: Some(p.mac_address.clone()),
            });
        }
    }
    out
}

fn server_sg_names(db: &Db, s: &Server) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for pid in &s.ports {
        if let Some(p) = db.ports.get(pid) {
            for g in &p.security_groups {
                if let Some(sg) = db.security_groups.get(g) {
                    if !names.contains(&sg.name) {
                        names.push(sg.name.clone());
                    }
                }
            }
        }
    }
    if s.ports.is_empty() {
        names = s.security_groups.clone();
    }
    names
}

fn server_view(c: &Cloud, db: &Db, s: &Server, mv: (u32, u32)) -> w::Server {
    let flavor = FLAVORS.iter().find(|f| f.id() == s.flavor_id);
    let server_flavor = if mv >= (2, 47) {
        w::ServerFlavor {
            id: None,
            links: vec![],
            original_name: flavor.map(|f| f.name.to_owned()),
            vcpus: flavor.map(|f| f.vcpus),
            ram: flavor.map(|f| f.ram),
            disk: flavor.map(|f| f.disk),
            ephemeral: Some(0),
            swap: Some(0),
            extra_specs: flavor.map(|f| {
                f.extra_specs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
        }
    } else {
        w::ServerFlavor {
            id: Some(s.flavor_id.clone()),
            links: vec![Link {
                href: c.url(&format!("/compute/flavors/{}", s.flavor_id)),
                rel: "bookmark".into(),
                media_type: None,
            }],
            ..Default::default()
        }
    };
    let image = match &s.image_id {
        Some(i) => w::ServerImage::Image {
            id: i.clone(),
            links: vec![Link {
                href: c.url(&format!("/compute/images/{i}")),
                rel: "bookmark".into(),
                media_type: None,
            }],
        },
        None => w::ServerImage::None(String::new()),
    };
    let sgs = server_sg_names(db, s);
    let addrs = addresses(db, s);
    let access = addrs
        .values()
        .flatten()
        .find(|a| a.ip_type.as_deref() == Some("fixed"))
        .map(|a| a.addr.clone())
        .unwrap_or_default();
    let _ = access;
    w::Server {
        id: s.id.clone(),
        name: s.name.clone(),
        status: s.status.clone(),
        tenant_id: s.project_id.clone(),
        user_id: s.user_id.clone(),
        metadata: s.metadata.clone(),
        host_id: hex::encode(
            &sha2::Sha224::digest(format!("{}localcloud", s.project_id).as_bytes())[..],
        ),
        image,
        flavor: server_flavor,
        created: s.created.clone(),
        updated: s.updated.clone(),
        addresses: addrs,
        access_ipv4: String::new(),
        access_ipv6: String::new(),
        links: server_links(c, &s.id),
        key_name: s.key_name.clone(),
        disk_config: "MANUAL".into(),
        availability_zone: s.availability_zone.clone(),
        power_state: i32::try_from(s.power_state).unwrap_or(0),
        task_state: s.task_state.clone(),
        vm_state: s.vm_state.clone(),
        host: None,
        hypervisor_hostname: None,
        instance_name: None,
        launched_at: s.launched_at.clone(),
        terminated_at: None,
        volumes_attached: s
            .volumes
            .iter()
            .map(|v| w::AttachedVolume {
                id: v.volume_id.clone(),
                delete_on_termination: (mv >= (2, 3)).then_some(v.delete_on_termination),
            })
            .collect(),
        security_groups: if sgs.is_empty() {
            None
        } else {
            Some(sgs.into_iter().map(|name| NameRef { name }).collect())
        },
        progress: (s.status == "BUILD").then_some(0),
        config_drive: s.config_drive.clone(),
        fault: s.fault.as_ref().map(|f| w::ServerFault {
            code: u16::try_from(f.code).unwrap_or(500),
            message: f.message.clone(),
            created: f.created.clone(),
            details: None,
        }),
        tags: (mv >= (2, 26)).then(|| s.tags.clone()),
        description: (mv >= (2, 19)).then_some(None).flatten(),
        locked: (mv >= (2, 9)).then_some(false),
    }
}

fn server_json(c: &Cloud, db: &Db, s: &Server, mv: (u32, u32)) -> Value {
    let mut v = serde_json::to_value(server_view(c, db, s, mv)).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        if mv >= (2, 19) {
            o.insert("description".into(), Value::Null);
        }
        if mv >= (2, 16) {
            o.insert("host_status".into(), json!(s.host_status));
        }
        if mv >= (2, 73) {
            o.insert("locked_reason".into(), Value::Null);
        }
    }
    v
}

fn get_server(c: &Cloud, ctx: &Ctx, id: &str) -> ApiResult<Server> {
    c.store
        .read(|db| {
            db.servers
                .get(id)
                .filter(|s| s.project_id == ctx.project_id)
                .cloned()
        })
        .ok_or_else(|| server_not_found(id))
}

// ------------------------------------------------------------------------------------------
// Server list and show
// ------------------------------------------------------------------------------------------

fn name_matches(pattern: &str, name: &str) -> bool {
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

fn servers(c: &Cloud, r: &Req, query: &util::Query, detail: bool) -> ApiResult<Value> {
    let (limit, marker) = util::page_params(query, S)?;
    let limit = Some(limit.unwrap_or(1000).min(1000));
    let name = q(query, "name").map(str::to_owned);
    let status = q(query, "status").map(str::to_ascii_uppercase);
    let flavor = q(query, "flavor").map(str::to_owned);
    let image = q(query, "image").map(str::to_owned);
    c.store.read(|db| {
        let items: Vec<&Server> = db
            .servers
            .values()
            .filter(|s| s.project_id == r.ctx.project_id)
            .filter(|s| name.as_ref().is_none_or(|n| name_matches(n, &s.name)))
            .filter(|s| status.as_ref().is_none_or(|st| &s.status == st))
            .filter(|s| flavor.as_ref().is_none_or(|f| &s.flavor_id == f))
            .filter(|s| image.as_ref().is_none_or(|i| s.image_id.as_ref() == Some(i)))
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

async fn list_servers(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = servers(&c, &r, &query, false)?;
    Ok(versioned(&r, Json(body)))
}

async fn list_servers_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = servers(&c, &r, &query, true)?;
    Ok(versioned(&r, Json(body)))
}

async fn show_server(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let v = c.store.read(|db| {
        db.servers
            .get(&id)
            .filter(|s| s.project_id == r.ctx.project_id)
            .map(|s| server_json(&c, db, s, r.mv))
    });
    let v = v.ok_or_else(|| server_not_found(&id))?;
    Ok(versioned(&r, Json(json!({"server": v}))))
}

const UPDATE_SCHEMA: Schema = Schema {
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

async fn update_server(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let v = c.store.write(|db| {
        let s = db.servers.get_mut(&id).filter(|s| s.project_id == r.ctx.project_id).ok_or_else(|| server_not_found(&id))?;
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

// ------------------------------------------------------------------------------------------
// Server create
// ------------------------------------------------------------------------------------------

const CREATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("server"),
    fields: &[
        req("name", Ty::Str),
        req("flavorRef", Ty::Any),
        opt("imageRef", Ty::Str),
        opt("key_name", Ty::Str),
        opt("user_data", Ty::OptStr),
        opt("availability_zone", Ty::Str),
        opt("networks", Ty::Any),
        opt("security_groups", Ty::Arr),
        opt("block_device_mapping_v2", Ty::Arr),
        opt("block_device_mapping", Ty::Arr),
        opt("metadata", Ty::Obj),
        opt("config_drive", Ty::Any),
        opt("adminPass", Ty::Str),
        opt("accessIPv4", Ty::Str),
        opt("accessIPv6", Ty::Str),
        opt("personality", Ty::Arr),
        opt("min_count", Ty::IntLike),
        opt("max_count", Ty::IntLike),
        opt("return_reservation_id", Ty::BoolLike),
        opt("description", Ty::OptStr),
        opt("tags", Ty::Arr),
        opt("trusted_image_certificates", Ty::Any),
        opt("host", Ty::Str),
        opt("hypervisor_hostname", Ty::Str),
        opt("hostname", Ty::Str),
        opt("OS-DCF:diskConfig", Ty::Str),
    ],
    additional: false,
    siblings: &["os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"],
};

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(S, msg)
}

struct Bdm {
    source_type: String,
    destination_type: String,
    uuid: Option<String>,
    boot_index: Option<i64>,
    volume_size: Option<i64>,
    delete_on_termination: bool,
    volume_type: Option<String>,
}

fn parse_bdms(v: Option<&Value>) -> ApiResult<Vec<Bdm>> {
    let Some(v) = v else { return Ok(vec![]) };
    let arr = v.as_array().ok_or_else(|| {
        bad("Invalid input for field/attribute block_device_mapping_v2: not an array")
    })?;
    let allowed = [
        "source_type",
        "destination_type",
        "uuid",
        "boot_index",
        "volume_size",
        "delete_on_termination",
        "volume_type",
        "device_name",
        "guest_format",
        "disk_bus",
        "device_type",
        "tag",
        "no_device",
        "volume_id",
        "snapshot_id",
        "image_id",
        "connection_info",
        "encrypted",
        "encryption_secret_uuid",
        "encryption_format",
        "encryption_options",
    ];
    arr.iter()
        .map(|b| {
            let o = b.as_object().ok_or_else(|| bad(format!("Invalid input for field/attribute block_device_mapping_v2. Value: {b}. {b} is not of type 'object'")))?;
            for k in o.keys() {
                if !allowed.contains(&k.as_str()) {
                    return Err(bad(format!("Invalid input for field/attribute block_device_mapping_v2. Value: {b}. Additional properties are not allowed ('{k}' was unexpected)")));
                }
            }
            let source_type = o.get("source_type").and_then(Value::as_str).ok_or_else(|| bad(format!("Invalid input for field/attribute block_device_mapping_v2. Value: {b}. 'source_type' is a required property")))?.to_owned();
            if !["image", "volume", "snapshot", "blank"].contains(&source_type.as_str()) {
                return Err(bad(format!("Invalid input for field/attribute source_type. Value: {source_type}. '{source_type}' is not one of ['volume', 'image', 'snapshot', 'blank']")));
            }
            let destination_type = o.get("destination_type").and_then(Value::as_str).unwrap_or(if source_type == "volume" { "volume" } else { "local" }).to_owned();
            let boot_index = match o.get("boot_index") {
                None | Some(Value::Null) => None,
                Some(v) => Some(body::int_like(v).ok_or_else(|| bad(format!("Invalid input for field/attribute boot_index. Value: {v}. {v} is not of type 'integer', 'string'")))?),
            };
            let volume_size = match o.get("volume_size") {
                None | Some(Value::Null) => None,
                Some(v) => Some(body::int_like(v).ok_or_else(|| bad(format!("Invalid input for field/attribute volume_size. Value: {v}. {v} is not of type 'integer', 'string'")))?),
            };
            Ok(Bdm {
                uuid: o.get("uuid").and_then(Value::as_str).map(str::to_owned),
                source_type,
                destination_type,
                boot_index,
                volume_size,
                delete_on_termination: o.get("delete_on_termination").and_then(body::bool_like).unwrap_or(false),
                volume_type: o.get("volume_type").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

enum NetReq {
    Auto,
    None,
    List(Vec<(Option<String>, Option<String>, Option<String>)>),
}

fn parse_networks(v: Option<&Value>, mv: (u32, u32)) -> ApiResult<NetReq> {
    match v {
        None => {
            if mv >= (2, 37) {
                return Err(bad("Invalid input for field/attribute server. Value: {}. 'networks' is a required property"));
            }
            Ok(NetReq::Auto)
        }
        Some(Value::String(s)) if s == "auto" => Ok(NetReq::Auto),
        Some(Value::String(s)) if s == "none" => Ok(NetReq::None),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for n in a {
                let o = n.as_object().ok_or_else(|| bad(format!("Invalid input for field/attribute networks. Value: {n}. {n} is not of type 'object'")))?;
                for k in o.keys() {
                    if !["uuid", "port", "fixed_ip", "tag"].contains(&k.as_str()) {
                        return Err(bad(format!("Invalid input for field/attribute networks. Value: {n}. Additional properties are not allowed ('{k}' was unexpected)")));
                    }
                }
                let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
                if s("uuid").is_none() && s("port").is_none() {
                    return Err(bad("Bad networks format: network uuid is not in proper format (None)"));
                }
                out.push((s("uuid"), s("port"), s("fixed_ip")));
            }
            Ok(NetReq::List(out))
        }
        Some(other) => Err(bad(format!("Invalid input for field/attribute networks. Value: {other}. {other} is not valid under any of the given schemas"))),
    }
}

async fn create_server(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&CREATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let name = get_str(&m, "name").unwrap_or_default();
    if name.trim().is_empty() || name.len() > 255 {
        return Err(bad(format!("Invalid input for field/attribute name. Value: {name}. '{name}' does not match '^(?! )[a-zA-Z0-9. _-]*(?<! )$'")));
    }
    let flavor_ref = match m.get("flavorRef") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(v) => return Err(bad(format!("Invalid input for field/attribute flavorRef. Value: {v}. {v} is not of type 'string', 'integer'"))),
        None => String::new(),
    };
    let flavor = find_flavor(&flavor_ref).ok_or_else(|| bad("Invalid flavorRef provided."))?;
    let user_data = match get_str(&m, "user_data") {
        None => None,
        Some(ud) => {
            if ud.len() > MAX_USER_DATA {
                return Err(bad(format!(
                    "Invalid input for field/attribute user_data. Value: {}…. is too long",
                    &ud.chars().take(20).collect::<String>()
                )));
            }
            let clean: String = ud.chars().filter(|ch| !ch.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(&clean).map_err(|_| bad(format!("Invalid input for field/attribute user_data. Value: {}. '{}' is not a 'base64'", ud.chars().take(40).collect::<String>(), ud.chars().take(40).collect::<String>())))?;
            Some(clean)
        }
    };
    let az = get_str(&m, "availability_zone").unwrap_or_else(|| ZONES[0].into());
    let az = az.split(':').next().unwrap_or("").to_owned();
    if !ZONES.contains(&az.as_str()) {
        return Err(bad(
            "The requested availability zone is not available".to_string()
        ));
    }
    let metadata = get_str_map(&m, "metadata", S)?;
    let bdms = parse_bdms(m.get("block_device_mapping_v2"))?;
    let nets = parse_networks(m.get("networks"), r.mv)?;
    let sg_names: Vec<String> = match m.get("security_groups") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|g| g.get("name").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| bad(format!("Invalid input for field/attribute security_groups. Value: {g}. 'name' is a required property"))))
            .collect::<ApiResult<_>>()?,
        _ => vec!["default".into()],
    };
    let key_name = get_str(&m, "key_name");
    let image_ref = get_str(&m, "imageRef").filter(|s| !s.is_empty());
    let count = crate::util::get_int(&m, "min_count").unwrap_or(1);
    if count != 1 || crate::util::get_int(&m, "max_count").unwrap_or(1) != 1 {
        return Err(bad(
            "localcloud creates one server per request: min_count and max_count must be 1",
        ));
    }
    let server_id = new_id();
    let ctx = r.ctx.clone();
    let tags = util::get_str_list(&m, "tags");
    let config_drive = match m.get("config_drive") {
        Some(v) if body::bool_like(v) == Some(true) => "True".to_owned(),
        _ => String::new(),
    };

    let created = c.store.write(|db| -> ApiResult<Server> {
        // Key pair.
        let mut public_keys = vec![];
        if let Some(k) = &key_name {
            let kp = db.keypairs.get(&key_id(&ctx.user_id, k)).ok_or_else(|| bad("Invalid key_name provided.".to_string()))?;
            public_keys.push(kp.public_key.clone());
        }
        // Boot source.
        let boot_bdm = bdms.iter().find(|b| b.boot_index == Some(0)).or_else(|| if bdms.len() == 1 && image_ref.is_none() { bdms.first() } else { None });
        let mut image_id = None;
        if let Some(iid) = &image_ref {
            let img = db.images.get(iid).filter(|i| crate::glance::visible(i, &ctx)).ok_or_else(|| bad(format!("Image {iid} could not be found.")))?;
            if img.status != "active" {
                return Err(bad(format!("Image {iid} is not active.")));
            }
            let boots_from_volume = boot_bdm.is_some_and(|b| b.destination_type == "volume");
            if !boots_from_volume {
                let disk_bytes = flavor.disk << 30;
                if img.min_disk > 0 && u64::try_from(img.min_disk).unwrap_or(0) > flavor.disk {
                    return Err(bad("Flavor's disk is too small for requested image. Flavor disk is {disk_bytes} bytes, image is {img_bytes} bytes.".replace("{disk_bytes}", &disk_bytes.to_string()).replace("{img_bytes}", &(u64::try_from(img.min_disk).unwrap_or(0) << 30).to_string())));
                }
                if img.size.is_some_and(|s| s > disk_bytes) {
                    return Err(bad(format!("Flavor's disk is too small for requested image. Flavor disk is {disk_bytes} bytes, image is {} bytes.", img.size.unwrap_or(0))));
                }
                if u64::try_from(img.min_ram).unwrap_or(0) > flavor.ram {
                    return Err(bad("Flavor's memory is too small for requested image."));
                }
                image_id = Some(iid.clone());
            }
        }
        // Check volumes before creating anything.
        for b in &bdms {
            if b.source_type == "volume" {
                let vid = b.uuid.clone().ok_or_else(|| bad("Block Device Mapping is Invalid: volume source needs a uuid."))?;
                let v = db.volumes.get(&vid).filter(|v| v.project_id == ctx.project_id).ok_or_else(|| bad(format!("Block Device Mapping is Invalid: failed to get volume {vid}.")))?;
                if v.status != "available" {
                    return Err(bad(format!("Invalid volume: volume '{vid}' status must be 'available'. Currently in '{}'", v.status)));
                }
            }
            if b.source_type == "image" && b.destination_type == "volume" && b.volume_size.unwrap_or(0) < 1 {
                return Err(bad("Images with destination_type 'volume' need to have a non-zero size specified"));
            }
            if b.source_type == "snapshot" {
                let sid = b.uuid.clone().unwrap_or_default();
                if db.snapshots.get(&sid).is_none_or(|s| s.project_id != ctx.project_id) {
                    return Err(bad(format!("Block Device Mapping is Invalid: failed to get snapshot {sid}.")));
                }
                if b.destination_type != "volume" {
                    return Err(bad("Block Device Mapping is Invalid: localcloud boots snapshots only as volumes (destination_type 'volume')."));
                }
            }
        }
        if image_id.is_none() && !bdms.iter().any(|b| b.boot_index == Some(0) || bdms.len() == 1) {
            return Err(bad("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid."));
        }
        // Security groups by name (or id) in the project.
        neutron::ensure_default_sg(db, &ctx.project_id);
        let mut sg_ids = Vec::new();
        for n in &sg_names {
            let g = db.security_groups.values().find(|g| g.project_id == ctx.project_id && (g.name == *n || g.id == *n)).ok_or_else(|| bad(format!("Security group {n} not found for project {}.", ctx.project_id)))?;
            sg_ids.push(g.id.clone());
        }
        // Networks → ports (undone on any later failure).
        let mut created_ports: Vec<String> = Vec::new();
        let mut user_ports: Vec<String> = Vec::new();
        let undo_ports = |db: &mut Db, created: &[String], user: &[String]| {
            for p in created {
                neutron::remove_port(db, p);
            }
            for p in user {
                if let Some(port) = db.ports.get_mut(p) {
                    port.device_id.clear();
                    port.device_owner.clear();
                    port.status = "DOWN".into();
                }
            }
        };
        let plan: Vec<(Option<String>, Option<String>, Option<String>)> = match nets {
            NetReq::None => vec![],
            NetReq::List(l) => l,
            NetReq::Auto => {
                let own: Vec<String> = db.networks.values().filter(|n| n.project_id == ctx.project_id && !n.external).map(|n| n.id.clone()).collect();
                match own.len() {
                    0 => vec![],
                    1 => vec![(own.first().cloned(), None, None)],
                    _ => return Err(ApiError::conflict(S, "Multiple possible networks found, use a Network ID to be more specific.")),
                }
            }
        };
        for (net, port, fixed) in plan {
            let result = if let Some(pid) = port {
                match db.ports.get_mut(&pid).filter(|p| p.project_id == ctx.project_id) {
                    None => Err(ApiError::not_found(S, format!("Port id {pid} could not be found."))),
                    Some(p) if !p.device_id.is_empty() => Err(ApiError::conflict(S, format!("Port {pid} is still in use."))),
                    Some(p) => {
                        p.device_id = server_id.clone();
                        p.device_owner = format!("compute:{az}");
                        p.status = "ACTIVE".into();
                        user_ports.push(pid.clone());
                        Ok(())
                    }
                }
            } else {
                let nid = net.unwrap_or_default();
                let visible = db.networks.get(&nid).is_some_and(|n| (n.project_id == ctx.project_id || n.shared) && !n.external);
                if !visible {
                    Err(bad(format!("Network {nid} could not be found.")))
                } else {
                    let fixed = fixed.map(|f| vec![(None, Some(f))]);
                    neutron::new_port(db, &ctx.project_id, &nid, fixed, &server_id, &format!("compute:{az}"), Some(sg_ids.clone()), "")
                        .map(|p| created_ports.push(p.id))
                        .map_err(|e| ApiError { service: S, ..e })
                }
            };
            if let Err(e) = result {
                undo_ports(db, &created_ports, &user_ports);
                return Err(e);
            }
        }
        // Volumes: existing ones attach, image/blank/snapshot ones are created.
        let mut volumes: Vec<ServerVolume> = Vec::new();
        let mut made_volumes: Vec<String> = Vec::new();
        let mut letter = b'a';
        for b in &bdms {
            if b.destination_type != "volume" {
                continue;
            }
            let vid = match b.source_type.as_str() {
                "volume" => b.uuid.clone().unwrap_or_default(),
                "image" | "blank" | "snapshot" => {
                    let from_snapshot = b.source_type == "snapshot";
                    let p = NewVolume {
                        // From a snapshot: its size unless the mapping gives one (0 counts as
                        // none, as in Nova).
                        size: if from_snapshot { b.volume_size.filter(|s| *s != 0) } else { b.volume_size },
                        name: Some(String::new()),
                        description: None,
                        volume_type: b.volume_type.clone(),
                        // Nova passes no zone for a snapshot (cross_az_attach): the volume stays
                        // in the snapshot's zone.
                        availability_zone: if from_snapshot { None } else { Some(az.clone()) },
                        image_id: if b.source_type == "image" { b.uuid.clone() } else { None },
                        source_volid: None,
                        snapshot_id: if from_snapshot { b.uuid.clone() } else { None },
                        metadata: BTreeMap::new(),
                    };
                    match cinder::new_volume(db, S, &ctx, p, "in-use") {
                        Ok(v) => {
                            made_volumes.push(v.id.clone());
                            v.id
                        }
                        Err(e) => {
                            undo_ports(db, &created_ports, &user_ports);
                            for v in &made_volumes {
                                db.volumes.remove(v);
                            }
                            return Err(e);
                        }
                    }
                }
                _ => continue,
            };
            let device = format!("/dev/vd{}", char::from(letter));
            letter = letter.saturating_add(1);
            let att_id = new_id();
            if let Some(v) = db.volumes.get_mut(&vid) {
                v.status = "in-use".into();
                v.attachments = vec![VolumeAttachment { id: att_id.clone(), server_id: server_id.clone(), device: device.clone(), attached_at: util::now_micro() }];
            }
            volumes.push(ServerVolume { volume_id: vid, attachment_id: att_id, device, delete_on_termination: b.delete_on_termination });
        }
        let t = now();
        let mut ports = user_ports.clone();
        ports.extend(created_ports.iter().cloned());
        let s = Server {
            id: server_id.clone(),
            project_id: ctx.project_id.clone(),
            user_id: ctx.user_id.clone(),
            name: name.clone(),
            status: "BUILD".into(),
            task_state: Some("spawning".into()),
            vm_state: "building".into(),
            power_state: 0,
            flavor_id: flavor.id(),
            old_flavor_id: None,
            image_id,
            key_name: key_name.clone(),
            security_groups: sg_names.clone(),
            metadata: metadata.clone(),
            availability_zone: az.clone(),
            user_data: user_data.clone(),
            config_drive: config_drive.clone(),
            ports,
            nova_ports: created_ports,
            volumes,
            fault: None,
            tags: tags.clone(),
            created: t.clone(),
            updated: t,
            launched_at: None,
            host_status: "UP".into(),
            public_keys,
        };
        db.servers.insert(s.id.clone(), s.clone());
        Ok(s)
    })?;
    spawn_boot(&c, &created.id, None);
    let body = w::ServerCreateResponse {
        server: w::CreatedServer {
            id: created.id.clone(),
            links: server_links(&c, &created.id),
            disk_config: Some("MANUAL".into()),
            security_groups: Some(
                created
                    .security_groups
                    .iter()
                    .map(|n| NameRef { name: n.clone() })
                    .collect(),
            ),
            admin_pass: Some(keystone_like_password().into()),
        },
    };
    let mut resp = versioned(&r, (StatusCode::ACCEPTED, Json(body)));
    if let Ok(h) = HeaderValue::from_str(&c.url(&format!("/compute/v2.1/servers/{}", created.id))) {
        resp.headers_mut().insert(header::LOCATION, h);
    }
    Ok(resp)
}

fn keystone_like_password() -> String {
    let b: [u8; 9] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn boot_spec(db: &Db, s: &Server) -> BootSpec {
    let ipv4 = s
        .ports
        .iter()
        .filter_map(|p| db.ports.get(p))
        .flat_map(|p| p.fixed_ips.iter().map(|f| f.ip_address.clone()))
        .collect();
    BootSpec {
        id: s.id.clone(),
        name: s.name.clone(),
        hostname: hostname(&s.name),
        project_id: s.project_id.clone(),
        availability_zone: s.availability_zone.clone(),
        ipv4,
        user_data: s
            .user_data
            .as_ref()
            .and_then(|u| base64::engine::general_purpose::STANDARD.decode(u).ok()),
        metadata: s.metadata.clone(),
        public_keys: s.public_keys.clone(),
        netns: None,
        loopback_ipv4: None,
        dns: s
            .ports
            .iter()
            .filter_map(|p| db.ports.get(p))
            .flat_map(|p| p.fixed_ips.iter())
            .filter_map(|f| db.subnets.get(&f.subnet_id))
            .flat_map(|sub| sub.dns_nameservers.iter().cloned())
            .collect(),
    }
}

/// A hostname from a server name, as Nova sanitizes it.
pub fn hostname(name: &str) -> String {
    let h: String = name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '-' {
                ch.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let h = h.trim_matches('-');
    let h: String = h.chars().take(63).collect();
    if h.is_empty() {
        "instance".into()
    } else {
        h
    }
}

/// Boots a server in the background; it ends ACTIVE (or `final_status`) or ERROR with a fault.
fn spawn_boot(c: &Cloud, id: &str, final_status: Option<&'static str>) {
    let hv = c.hv.clone();
    let store = c.store.clone();
    let net = c.net.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        let spec = store.read(|db| db.servers.get(&id).map(|s| boot_spec(db, s)));
        let Some(mut spec) = spec else { return };
        // The data plane makes the server's namespace and ports before its processes start.
        let shared = matches!(net.mode(), crate::NetworkMode::Shared { .. });
        let result = match net.plug_server(&id).await {
            Ok(ns) => {
                spec.netns = ns;
                if shared {
                    spec.loopback_ipv4 = Some(crate::dataplane::loopback_address(&id));
                }
                hv.boot(&spec)
            }
            Err(e) => Err(e.into()),
        };
        store.write(|db| {
            let Some(s) = db.servers.get_mut(&id) else {
                return;
            };
            let t = now();
            match &result {
                Ok(()) => {
                    if shared {
                        s.metadata
                            .insert("localcloud:network_mode".into(), "shared".into());
                        if let Some(lo) = &spec.loopback_ipv4 {
                            s.metadata
                                .insert("localcloud:loopback_ipv4".into(), lo.clone());
                        }
                    }
                    s.status = final_status.unwrap_or("ACTIVE").into();
                    s.vm_state = if final_status == Some("VERIFY_RESIZE") {
                        "resized".into()
                    } else {
                        "active".into()
                    };
                    s.power_state = 1;
                    s.task_state = None;
                    s.fault = None;
                    if s.launched_at.is_none() {
                        s.launched_at = Some(util::now_micro());
                    }
                }
                Err(e) => {
                    s.status = "ERROR".into();
                    s.vm_state = "error".into();
                    s.power_state = 0;
                    s.task_state = None;
                    let mut msg = e.to_string();
                    let mut src = std::error::Error::source(e);
                    while let Some(cause) = src {
                        msg.push_str(&format!(": {cause}"));
                        src = cause.source();
                    }
                    s.fault = Some(Fault {
                        code: 500,
                        message: msg,
                        created: t.clone(),
                    });
                }
            }
            s.updated = t;
        });
    });
}

/// After a restart: adopt servers whose processes still run; boot those that should run.
pub async fn resume(c: &Cloud) {
    let store = c.store.clone();
    c.hv.set_exit_listener(std::sync::Arc::new(move |id: &str| {
        store.write(|db| {
            if let Some(s) = db.servers.get_mut(id) {
                if s.status == "ACTIVE" && s.task_state.is_none() {
                    s.status = "SHUTOFF".into();
                    s.vm_state = "stopped".into();
                    s.power_state = 4;
                    s.updated = now();
                }
            }
        });
    }));
    let list: Vec<(String, String)> = c.store.read(|db| {
        db.servers
            .values()
            .map(|s| (s.id.clone(), s.status.clone()))
            .collect()
    });
    for (id, status) in list {
        match status.as_str() {
            "ACTIVE" | "BUILD" | "REBOOT" | "HARD_REBOOT" | "VERIFY_RESIZE" | "RESIZE" => {
                if c.hv.adopt(&id) {
                    if status == "BUILD" || status.ends_with("REBOOT") {
                        c.store.write(|db| {
                            if let Some(s) = db.servers.get_mut(&id) {
                                s.status = "ACTIVE".into();
                                s.task_state = None;
                            }
                        });
                    }
                } else {
                    let fin = if status == "VERIFY_RESIZE" || status == "RESIZE" {
                        Some("VERIFY_RESIZE")
                    } else {
                        None
                    };
                    spawn_boot(c, &id, fin);
                }
            }
            _ => {}
        }
    }
}

// ------------------------------------------------------------------------------------------
// Delete
// ------------------------------------------------------------------------------------------

async fn delete_server(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    c.store.write(|db| {
        let s = db
            .servers
            .get(&id)
            .filter(|s| s.project_id == r.ctx.project_id)
            .cloned()
            .ok_or_else(|| server_not_found(&id))?;
        for p in &s.nova_ports {
            neutron::remove_port(db, p);
        }
        for p in s.ports.iter().filter(|p| !s.nova_ports.contains(p)) {
            if let Some(port) = db.ports.get_mut(p) {
                port.device_id.clear();
                port.device_owner.clear();
                port.status = "DOWN".into();
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
                vol.status = "available".into();
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

// ------------------------------------------------------------------------------------------
// Actions
// ------------------------------------------------------------------------------------------

fn conflict_state(action: &str, s: &Server) -> ApiError {
    ApiError::conflict(
        S,
        format!(
            "Cannot '{action}' instance {} while it is in vm_state {}",
            s.id, s.vm_state
        ),
    )
}

fn set_state(c: &Cloud, id: &str, status: &str, vm: &str, power: i64, task: Option<&str>) {
    c.store.write(|db| {
        if let Some(s) = db.servers.get_mut(id) {
            s.status = status.into();
            s.vm_state = vm.into();
            s.power_state = power;
            s.task_state = task.map(str::to_owned);
            s.updated = now();
        }
    });
}

/// Stops the server's processes, then sets the state (and optionally boots again).
fn spawn_stop(c: &AppState, id: &str, then_boot: Option<Option<&'static str>>) {
    let c2 = c.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        let _ = c2.hv.stop(&id).await;
        match then_boot {
            None => set_state(&c2, &id, "SHUTOFF", "stopped", 4, None),
            Some(fin) => spawn_boot(&c2, &id, fin),
        }
    });
}

fn arg_obj<'a>(action: &str, arg: &'a Value) -> ApiResult<&'a Map<String, Value>> {
    arg.as_object().ok_or_else(|| bad(format!("Invalid input for field/attribute {action}. Value: {arg}. {arg} is not of type 'object'")))
}

fn arg_str(action: &str, o: &Map<String, Value>, key: &str) -> ApiResult<String> {
    match o.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Err(bad(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not of type 'string'"
        ))),
        None => Err(bad(format!(
            "Invalid input for field/attribute {action}. Value: {}. '{key}' is a required property",
            Value::Object(o.clone())
        ))),
    }
}

async fn server_action(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let v = body::parse_json(S, &bytes)?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("Malformed request body: an action is a JSON object"))?;
    if obj.len() != 1 {
        return Err(bad(
            "Malformed request body: an action body holds exactly one action",
        ));
    }
    let Some((action, arg)) = obj.iter().next() else {
        return Err(bad("Malformed request body"));
    };
    let s = get_server(&c, &r.ctx, &id)?;
    let accepted = || versioned(&r, StatusCode::ACCEPTED);
    match action.as_str() {
        "os-stop" => {
            if s.status != "ACTIVE" && s.status != "ERROR" {
                return Err(conflict_state("stop", &s));
            }
            set_state(
                &c,
                &id,
                &s.status,
                &s.vm_state,
                s.power_state,
                Some("powering-off"),
            );
            spawn_stop(&c, &id, None);
            Ok(accepted())
        }
        "os-start" => {
            if s.status != "SHUTOFF" {
                return Err(conflict_state("start", &s));
            }
            set_state(&c, &id, "SHUTOFF", "stopped", 4, Some("powering-on"));
            spawn_boot(&c, &id, None);
            Ok(accepted())
        }
        "reboot" => {
            let o = arg_obj(action, arg)?;
            let kind = arg_str(action, o, "type")?.to_ascii_uppercase();
            if kind != "SOFT" && kind != "HARD" {
                return Err(bad(format!("Invalid input for field/attribute type. Value: {kind}. '{kind}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']")));
            }
            let ok = s.status == "ACTIVE"
                || (kind == "HARD" && (s.status == "SHUTOFF" || s.status == "ERROR"));
            if !ok {
                return Err(conflict_state("reboot", &s));
            }
            let status = if kind == "HARD" {
                "HARD_REBOOT"
            } else {
                "REBOOT"
            };
            let task = if kind == "HARD" {
                "reboot_started_hard"
            } else {
                "reboot_started"
            };
            set_state(&c, &id, status, &s.vm_state, s.power_state, Some(task));
            spawn_stop(&c, &id, Some(None));
            Ok(accepted())
        }
        "resize" => {
            let o = arg_obj(action, arg)?;
            let fref = match o.get("flavorRef") {
                Some(Value::String(x)) => x.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(bad(format!("Invalid input for field/attribute resize. Value: {arg}. 'flavorRef' is a required property"))),
            };
            let f = find_flavor(&fref).ok_or_else(|| bad("Invalid flavorRef provided."))?;
            if f.id() == s.flavor_id {
                return Err(bad("When resizing, instances must change flavor!"));
            }
            if s.status != "ACTIVE" && s.status != "SHUTOFF" {
                return Err(conflict_state("resize", &s));
            }
            let was_active = s.status == "ACTIVE";
            c.store.write(|db| {
                if let Some(x) = db.servers.get_mut(&id) {
                    x.old_flavor_id = Some(x.flavor_id.clone());
                    x.flavor_id = f.id();
                    x.status = "RESIZE".into();
                    x.task_state = Some("resize_prep".into());
                    x.updated = now();
                }
            });
            if was_active {
                spawn_stop(&c, &id, Some(Some("VERIFY_RESIZE")));
            } else {
                set_state(&c, &id, "VERIFY_RESIZE", "resized", 4, None);
            }
            Ok(accepted())
        }
        "confirmResize" => {
            if s.status != "VERIFY_RESIZE" {
                return Err(conflict_state("confirmResize", &s));
            }
            let running = c.hv.is_running(&id);
            c.store.write(|db| {
                if let Some(x) = db.servers.get_mut(&id) {
                    x.old_flavor_id = None;
                    x.status = if running {
                        "ACTIVE".into()
                    } else {
                        "SHUTOFF".into()
                    };
                    x.vm_state = if running {
                        "active".into()
                    } else {
                        "stopped".into()
                    };
                    x.task_state = None;
                    x.updated = now();
                }
            });
            Ok(versioned(&r, StatusCode::NO_CONTENT))
        }
        "revertResize" => {
            if s.status != "VERIFY_RESIZE" {
                return Err(conflict_state("revertResize", &s));
            }
            c.store.write(|db| {
                if let Some(x) = db.servers.get_mut(&id) {
                    if let Some(old) = x.old_flavor_id.take() {
                        x.flavor_id = old;
                    }
                    x.status = "REVERT_RESIZE".into();
                    x.task_state = Some("resize_reverting".into());
                }
            });
            spawn_stop(&c, &id, Some(None));
            Ok(accepted())
        }
        "addFloatingIp" => {
            let o = arg_obj(action, arg)?;
            let address = arg_str(action, o, "address")?;
            let fixed = o
                .get("fixed_address")
                .and_then(Value::as_str)
                .map(str::to_owned);
            c.store.write(|db| {
                let fip = db
                    .floating_ips
                    .values()
                    .find(|f| f.floating_ip_address == address && f.project_id == r.ctx.project_id)
                    .cloned();
                let fip =
                    fip.ok_or_else(|| ApiError::not_found(S, "floating IP not found".to_string()))?;
                let port = s
                    .ports
                    .iter()
                    .find(|p| {
                        db.ports.get(*p).is_some_and(|port| {
                            fixed
                                .as_ref()
                                .is_none_or(|fa| port.fixed_ips.iter().any(|f| &f.ip_address == fa))
                        })
                    })
                    .cloned();
                let port = port.ok_or_else(|| {
                    bad(if fixed.is_some() {
                        "Specified fixed address not assigned to instance"
                    } else {
                        "No nw_info cache associated with instance"
                    })
                })?;
                if fip.port_id.is_some() && fip.port_id.as_deref() != Some(port.as_str()) {
                    neutron::disassociate(db, &fip.id);
                }
                neutron::associate(db, &fip.id, &port, fixed.as_deref()).map_err(|e| {
                    match e.status {
                        StatusCode::NOT_FOUND => bad(e.message),
                        _ => ApiError { service: S, ..e },
                    }
                })
            })?;
            Ok(accepted())
        }
        "removeFloatingIp" => {
            let o = arg_obj(action, arg)?;
            let address = arg_str(action, o, "address")?;
            c.store.write(|db| {
                let fip = db
                    .floating_ips
                    .values()
                    .find(|f| f.floating_ip_address == address && f.project_id == r.ctx.project_id)
                    .cloned();
                let fip =
                    fip.ok_or_else(|| ApiError::not_found(S, "floating IP not found".to_string()))?;
                if !fip.port_id.as_ref().is_some_and(|p| s.ports.contains(p)) {
                    return Err(ApiError::conflict(
                        S,
                        format!("Floating IP {address} is not associated with instance {id}."),
                    ));
                }
                neutron::disassociate(db, &fip.id);
                Ok(())
            })?;
            Ok(accepted())
        }
        "addSecurityGroup" | "removeSecurityGroup" => {
            let o = arg_obj(action, arg)?;
            let name = arg_str(action, o, "name")?;
            let add = action == "addSecurityGroup";
            c.store.write(|db| {
                let sg = db
                    .security_groups
                    .values()
                    .find(|g| g.project_id == r.ctx.project_id && (g.name == name || g.id == name))
                    .cloned();
                let sg = sg.ok_or_else(|| {
                    ApiError::not_found(
                        S,
                        format!(
                            "Security group {name} not found for project {}.",
                            r.ctx.project_id
                        ),
                    )
                })?;
                if s.ports.is_empty() {
                    return Err(bad(format!(
                        "Unable to {} security group {name}: the instance {id} has no ports",
                        if add { "add" } else { "remove" }
                    )));
                }
                let has = s.ports.iter().any(|p| {
                    db.ports
                        .get(p)
                        .is_some_and(|p| p.security_groups.contains(&sg.id))
                });
                if add && has {
                    return Err(bad(format!(
                        "Security group {name} is already associated with the instance {id}"
                    )));
                }
                if !add && !has {
                    return Err(bad(format!(
                        "Security group {name} not associated with the instance {id}"
                    )));
                }
                for p in &s.ports {
                    if let Some(port) = db.ports.get_mut(p) {
                        if add {
                            port.security_groups.push(sg.id.clone());
                        } else {
                            port.security_groups.retain(|g| g != &sg.id);
                        }
                    }
                }
                if let Some(x) = db.servers.get_mut(&id) {
                    if add {
                        x.security_groups.push(sg.name.clone());
                    } else {
                        x.security_groups.retain(|g| g != &sg.name);
                    }
                }
                Ok(())
            })?;
            Ok(accepted())
        }
        "os-getConsoleOutput" => {
            let o = arg_obj(action, arg)?;
            let length = match o.get("length") {
                None | Some(Value::Null) => None,
                Some(v) => match body::int_like(v) {
                    Some(n) if n >= -1 => usize::try_from(n).ok(),
                    _ => return Err(bad(format!("Invalid input for field/attribute length. Value: {v}. {v} is not valid under any of the given schemas"))),
                },
            };
            let output =
                c.hv.console_output(&id, length)
                    .map_err(|e| ApiError::internal(S, e.to_string()))?;
            Ok(versioned(&r, Json(w::ConsoleOutput { output })))
        }
        "changePassword" => {
            let o = arg_obj(action, arg)?;
            arg_str(action, o, "adminPass")?;
            Ok(accepted())
        }
        "lock" | "unlock" => Ok(accepted()),
        other => Err(bad(format!("There is no such action: {other}"))),
    }
}

// ------------------------------------------------------------------------------------------
// IPs, metadata, security groups of a server
// ------------------------------------------------------------------------------------------

async fn server_ips(
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

async fn get_metadata(
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

const META_SCHEMA: Schema = Schema {
    service: S,
    wrapper: None,
    fields: &[req("metadata", Ty::Obj)],
    additional: false,
    siblings: &[],
};

async fn set_meta(
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
            .get_mut(id)
            .filter(|s| s.project_id == r.ctx.project_id)
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

async fn update_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    set_meta(&c, &headers, &id, &bytes, false).await
}

async fn replace_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    set_meta(&c, &headers, &id, &bytes, true).await
}

async fn server_sgs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let list: Vec<Value> = c.store.read(|db| {
        server_sg_names(db, &s)
            .iter()
            .filter_map(|n| db.security_groups.values().find(|g| g.project_id == s.project_id && &g.name == n))
            .map(|g| json!({"id": g.id, "name": g.name, "description": g.description, "tenant_id": g.project_id, "rules": []}))
            .collect()
    });
    Ok(versioned(&r, Json(json!({"security_groups": list}))))
}

// ------------------------------------------------------------------------------------------
// Volume attachments
// ------------------------------------------------------------------------------------------

fn attachment_view(server_id: &str, v: &ServerVolume, mv: (u32, u32)) -> w::VolumeAttachment {
    w::VolumeAttachment {
        id: v.volume_id.clone(),
        server_id: server_id.into(),
        volume_id: v.volume_id.clone(),
        device: Some(v.device.clone()),
        tag: None,
        delete_on_termination: (mv >= (2, 79)).then_some(v.delete_on_termination),
    }
}

async fn list_attachments(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let list = s
        .volumes
        .iter()
        .map(|v| attachment_view(&id, v, r.mv))
        .collect();
    Ok(versioned(
        &r,
        Json(w::VolumeAttachmentList {
            volume_attachments: list,
        }),
    ))
}

async fn show_attachment(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, vol)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let v = s
        .volumes
        .iter()
        .find(|v| v.volume_id == vol)
        .ok_or_else(|| ApiError::not_found(S, format!("Volume {vol} is not attached to {id}")))?;
    Ok(versioned(
        &r,
        Json(w::VolumeAttachmentResponse {
            volume_attachment: attachment_view(&id, v, r.mv),
        }),
    ))
}

const ATTACH_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("volumeAttachment"),
    fields: &[
        req("volumeId", Ty::Str),
        opt("device", Ty::OptStr),
        opt("tag", Ty::Str),
        opt("delete_on_termination", Ty::Bool),
    ],
    additional: false,
    siblings: &[],
};

async fn attach_volume(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&ATTACH_SCHEMA, body::parse_json(S, &bytes)?)?;
    let vol = get_str(&m, "volumeId").unwrap_or_default();
    let dot = m
        .get("delete_on_termination")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let sv = c.store.write(|db| {
        let s = db
            .servers
            .get(&id)
            .filter(|s| s.project_id == r.ctx.project_id)
            .cloned()
            .ok_or_else(|| server_not_found(&id))?;
        if s.status != "ACTIVE" && s.status != "SHUTOFF" {
            return Err(conflict_state("attach_volume", &s));
        }
        let v = db
            .volumes
            .get(&vol)
            .filter(|v| v.project_id == r.ctx.project_id)
            .ok_or_else(|| ApiError::not_found(S, format!("Volume {vol} could not be found.")))?;
        if v.status != "available" {
            return Err(bad(format!(
                "Invalid volume: volume '{vol}' status must be 'available'. Currently in '{}'",
                v.status
            )));
        }
        let used: Vec<&str> = s.volumes.iter().map(|v| v.device.as_str()).collect();
        let device = (b'a'..=b'z')
            .map(|l| format!("/dev/vd{}", char::from(l)))
            .find(|d| !used.contains(&d.as_str()))
            .ok_or_else(|| bad("No free disk device names for prefix 'vd'"))?;
        let sv = ServerVolume {
            volume_id: vol.clone(),
            attachment_id: new_id(),
            device,
            delete_on_termination: dot,
        };
        if let Some(v) = db.volumes.get_mut(&vol) {
            v.status = "in-use".into();
            v.attachments = vec![VolumeAttachment {
                id: sv.attachment_id.clone(),
                server_id: id.clone(),
                device: sv.device.clone(),
                attached_at: util::now_micro(),
            }];
        }
        if let Some(s) = db.servers.get_mut(&id) {
            s.volumes.push(sv.clone());
        }
        Ok(sv)
    })?;
    Ok(versioned(
        &r,
        Json(w::VolumeAttachmentResponse {
            volume_attachment: attachment_view(&id, &sv, r.mv),
        }),
    ))
}

async fn detach_volume(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, vol)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    c.store.write(|db| {
        let s = db
            .servers
            .get(&id)
            .filter(|s| s.project_id == r.ctx.project_id)
            .cloned()
            .ok_or_else(|| server_not_found(&id))?;
        let sv = s
            .volumes
            .iter()
            .find(|v| v.volume_id == vol)
            .ok_or_else(|| {
                ApiError::not_found(S, format!("Volume {vol} is not attached to {id}"))
            })?;
        if s.image_id.is_none() && s.volumes.first().is_some_and(|f| f.volume_id == vol) {
            return Err(bad("Can't detach root device volume"));
        }
        let _ = sv;
        if let Some(v) = db.volumes.get_mut(&vol) {
            v.status = "available".into();
            v.attachments.clear();
        }
        if let Some(s) = db.servers.get_mut(&id) {
            s.volumes.retain(|v| v.volume_id != vol);
        }
        Ok(())
    })?;
    Ok(versioned(&r, StatusCode::ACCEPTED))
}
