//! Flavors, availability zones and limits.

use super::*;

/// A built-in flavor: name, vCPUs, RAM (MiB), disk (GiB), extra specs.
type Builtin = (
    &'static str,
    u32,
    u64,
    u64,
    &'static [(&'static str, &'static str)],
);

/// The built-in flavors (VK's names), seeded once into the state.
const BUILTIN: &[Builtin] = &[
    ("Basic-1-2-20", 1, 2048, 20, &[("hw:cpu_type", "basic")]),
    (
        "Standard-2-4-40",
        2,
        4096,
        40,
        &[("hw:cpu_type", "standard")],
    ),
    (
        "Standard-2-8-50",
        2,
        8192,
        50,
        &[("hw:cpu_type", "standard")],
    ),
    (
        "Standard-4-16-50",
        4,
        16384,
        50,
        &[("hw:cpu_type", "standard")],
    ),
    (
        "Advanced-8-32-100",
        8,
        32768,
        100,
        &[("hw:cpu_type", "advanced")],
    ),
    (
        "GPU-A100-8-64-100",
        8,
        65536,
        100,
        &[
            ("gpu", "nvidia-a100:1"),
            ("hw:cpu_type", "gpu"),
            ("pci_passthrough:alias", "a100:1"),
        ],
    ),
];

/// A public flavor with Nova's defaults for what is not given.
pub(crate) fn new_flavor(id: &str, name: &str, vcpus: u32, ram: u64, disk: u64) -> Flavor {
    Flavor {
        id: id.to_owned(),
        name: name.to_owned(),
        vcpus,
        ram,
        disk,
        swap: 0,
        ephemeral: 0,
        rxtx_factor: 1.0,
        is_public: true,
        description: None,
        extra_specs: BTreeMap::new(),
        access: Vec::new(),
        created_at: now(),
    }
}

/// Puts the built-in flavors into a state that never had them (a new cloud, or a state file
/// older than stored flavors; the IDs are the ones those files' servers refer to).
pub(crate) fn seed_flavors(db: &mut Db) {
    for (name, vcpus, ram, disk, specs) in BUILTIN {
        let id = stable_uuid(&format!("flavor/{name}"));
        let mut f = new_flavor(&id, name, *vcpus, *ram, *disk);
        f.description = Some(format!(
            "{vcpus} vCPU, {} GB RAM, {disk} GB disk",
            ram / 1024
        ));
        f.extra_specs = specs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        db.flavors.entry(id).or_insert(f);
    }
}

/// Whether the caller may use a flavor: public ones, private ones its project was given, and
/// every one for admins.
pub(super) fn flavor_usable(f: &Flavor, ctx: &Ctx) -> bool {
    f.is_public || ctx.is_admin() || f.access.contains(&ctx.project_id)
}

/// A flavor by `flavorRef`: an ID, a URL ending with the ID, or (leniently) a name.
pub(super) fn find_flavor(db: &Db, ctx: &Ctx, r: &str) -> Option<Flavor> {
    let id = r.rsplit('/').next().unwrap_or(r);
    db.flavors
        .get(id)
        .or_else(|| db.flavors.values().find(|f| f.name == id))
        .filter(|f| flavor_usable(f, ctx))
        .cloned()
}

/// The flavor a server runs with: its own copy, or the stored flavor for servers made before
/// copies were kept.
pub(super) fn server_flavor<'a>(db: &'a Db, s: &'a Server) -> Option<&'a Flavor> {
    s.flavor.as_ref().or_else(|| db.flavors.get(&s.flavor_id))
}

pub(super) fn flavor_view(c: &Cloud, f: &Flavor, mv: (u32, u32)) -> w::Flavor {
    let id = f.id.clone();
    w::Flavor {
        id: id.clone(),
        name: f.name.clone(),
        ram: f.ram,
        vcpus: f.vcpus,
        disk: f.disk,
        swap: f.swap,
        ephemeral: f.ephemeral,
        disabled: false,
        is_public: f.is_public,
        rxtx_factor: f.rxtx_factor,
        description: if mv >= (2, 55) {
            Some(f.description.clone().unwrap_or_default())
        } else {
            None
        },
        extra_specs: (mv >= (2, 61)).then(|| f.extra_specs.clone()),
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

pub(super) fn flavor_list(
    c: &Cloud,
    r: &Req,
    query: &util::Query,
    detail: bool,
) -> ApiResult<Value> {
    let min_ram = q(query, "minRam")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let min_disk = q(query, "minDisk")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    // Nova: `is_public` defaults to true; admins may ask for private ones (`false`) or all
    // (`none`); others see public flavors and the private ones their project was given.
    let is_public = match q(query, "is_public")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("none") if r.ctx.is_admin() => None,
        Some("false" | "f" | "0" | "no" | "off") if r.ctx.is_admin() => Some(false),
        _ => Some(true),
    };
    let items: Vec<Flavor> = c.store.read(|db| {
        db.flavors
            .values()
            .filter(|f| f.ram >= min_ram && f.disk >= min_disk)
            .filter(|f| match is_public {
                None => true,
                Some(p) if r.ctx.is_admin() => f.is_public == p,
                Some(_) => flavor_usable(f, &r.ctx),
            })
            .cloned()
            .collect()
    });
    let (limit, marker) = util::page_params(query, S)?;
    let ids: Vec<(String, &Flavor)> = items.iter().map(|f| (f.id.clone(), f)).collect();
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

pub(super) async fn list_flavors(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = flavor_list(&c, &r, &query, false)?;
    Ok(versioned(&r, Json(body)))
}

pub(super) async fn list_flavors_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let body = flavor_list(&c, &r, &query, true)?;
    Ok(versioned(&r, Json(body)))
}

pub(super) fn flavor_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Flavor {id} could not be found."))
}

pub(super) async fn show_flavor(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let f = c
        .store
        .read(|db| {
            db.flavors
                .get(&id)
                .filter(|f| flavor_usable(f, &r.ctx))
                .cloned()
        })
        .ok_or_else(|| flavor_not_found(&id))?;
    Ok(versioned(
        &r,
        Json(w::FlavorResponse {
            flavor: flavor_view(&c, &f, r.mv),
        }),
    ))
}

pub(super) async fn flavor_extra_specs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let f = c
        .store
        .read(|db| {
            db.flavors
                .get(&id)
                .filter(|f| flavor_usable(f, &r.ctx))
                .cloned()
        })
        .ok_or_else(|| flavor_not_found(&id))?;
    let specs = w::ExtraSpecs {
        extra_specs: f.extra_specs,
    };
    Ok(versioned(&r, Json(specs)))
}

pub(super) async fn zones(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    zone_list(&c, &headers, false)
}

/// `os-availability-zone/detail`: as Nova, an admin also sees the `internal` zone of the
/// control services and each zone's hosts (localcloud is one host, `localcloud`).
pub(super) async fn zones_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    zone_list(&c, &headers, true)
}

fn zone_list(c: &AppState, headers: &HeaderMap, detail: bool) -> ApiResult<Response> {
    let r = req_ctx(c, headers)?;
    let detail = detail && r.ctx.is_admin();
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    let service = |names: &[&str]| {
        let mut m = serde_json::Map::new();
        for n in names {
            m.insert(
                (*n).to_owned(),
                json!({"available": true, "active": true, "updated_at": now}),
            );
        }
        json!({ "localcloud": m })
    };
    let mut zones: Vec<w::AvailabilityZone> = c
        .store
        .read(util::zones)
        .into_iter()
        .map(|z| w::AvailabilityZone {
            zone_name: z,
            zone_state: w::ZoneState { available: true },
            hosts: detail.then(|| service(&["nova-compute"])),
        })
        .collect();
    if detail {
        zones.insert(
            0,
            w::AvailabilityZone {
                zone_name: "internal".into(),
                zone_state: w::ZoneState { available: true },
                hosts: Some(service(&["nova-scheduler", "nova-conductor"])),
            },
        );
    }
    let body = w::AvailabilityZoneList {
        availability_zone_info: zones,
    };
    Ok(versioned(&r, Json(body)))
}

pub(super) async fn limits(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let p = r.ctx.project_id.clone();
    let (used, max) = c.store.read(|db| {
        let u = usage(db, &p);
        let m = [
            limit(db, &p, "instances"),
            limit(db, &p, "cores"),
            limit(db, &p, "ram"),
        ];
        (u, m)
    });
    Ok(versioned(
        &r,
        Json(json!({"limits": {"rate": [], "absolute": {
        "maxTotalInstances": max[0], "maxTotalCores": max[1], "maxTotalRAMSize": max[2], "maxTotalKeypairs": 100,
        "maxServerMeta": 128, "maxImageMeta": 128, "maxPersonality": 5, "maxPersonalitySize": 10240,
        "maxServerGroups": 10, "maxServerGroupMembers": 10, "totalInstancesUsed": used[0].1, "totalCoresUsed": used[1].1, "totalRAMUsed": used[2].1,
        "totalServerGroupsUsed": 0, "maxTotalFloatingIps": -1, "maxSecurityGroups": -1, "maxSecurityGroupRules": -1,
        "totalFloatingIpsUsed": 0, "totalSecurityGroupsUsed": 0}}})),
    ))
}
