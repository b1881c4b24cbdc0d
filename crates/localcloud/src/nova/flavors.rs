//! Flavors, availability zones and limits.

use super::*;

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

pub(super) fn find_flavor(r: &str) -> Option<&'static Flavor> {
    // flavorRef may be an ID, a URL ending with the ID, or (leniently) a name.
    let id = r.rsplit('/').next().unwrap_or(r);
    FLAVORS.iter().find(|f| f.id() == id || f.name == id)
}

pub(super) fn flavor_view(c: &Cloud, f: &Flavor, mv: (u32, u32)) -> w::Flavor {
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

pub(super) async fn flavor_extra_specs(
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

pub(super) async fn zones(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
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
