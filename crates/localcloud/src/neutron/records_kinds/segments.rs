//! Segments, segment ranges and trunks.

use super::*;

// --- segments and segment ranges

pub(super) const NETWORK_TYPES: &[&str] = &["flat", "vlan", "vxlan", "geneve", "gre", "local"];

pub(super) fn network_type(m: &Map<String, Value>) -> ApiResult<String> {
    let t = s(m, "network_type").to_owned();
    if !NETWORK_TYPES.contains(&t.as_str()) {
        return Err(bad(format!(
            "Invalid input for network_type. Reason: '{t}' is not in {NETWORK_TYPES:?}."
        )));
    }
    Ok(t)
}

pub(super) fn segment_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    let t = network_type(m)?;
    if old.is_some() {
        return Ok(());
    }
    if let Some(id) = i(m, "segmentation_id") {
        let max = match t.as_str() {
            "vlan" => 4094,
            "flat" | "local" => {
                return Err(bad(format!(
                    "segmentation_id requires a vlan, vxlan, geneve or gre network, not {t}."
                )))
            }
            _ => 16_777_215,
        };
        if !(1..=max).contains(&id) {
            return Err(bad(format!(
                "Invalid input for segmentation_id. Reason: {id} is out of range 1..{max}."
            )));
        }
        let phys = m.get("physical_network").cloned().unwrap_or(Value::Null);
        if others(db, "segment", m).any(|r| {
            str_of(r, "network_type") == t
                && r.get("segmentation_id").and_then(Value::as_i64) == Some(id)
                && r.get("physical_network").cloned().unwrap_or(Value::Null) == phys
        }) {
            return Err(conflict(
                format!("Unable to create the network. The {t} segmentation id {id} is in use."),
                "SegmentationIdInUse",
            ));
        }
    }
    Ok(())
}

pub(super) fn segment_range_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let t = network_type(m)?;
    let (min, max) = (i(m, "minimum").unwrap_or(0), i(m, "maximum").unwrap_or(0));
    let limit = if t == "vlan" { 4094 } else { 16_777_215 };
    if min < 1 || max > limit || min > max {
        return Err(bad(format!(
            "Invalid input for operation: network segment range {min}..{max} is not valid for {t} (1..{limit}, minimum not above maximum)."
        )));
    }
    let _ = db;
    Ok(())
}

pub(super) fn segment_range_view(db: &Db, m: &mut Map<String, Value>) {
    let t = s(m, "network_type").to_owned();
    let (min, max) = (i(m, "minimum").unwrap_or(0), i(m, "maximum").unwrap_or(-1));
    let mut used = Map::new();
    for seg in super::records::records(db, "segment").filter(|r| str_of(r, "network_type") == t) {
        if let Some(id) = seg.get("segmentation_id").and_then(Value::as_i64) {
            if (min..=max).contains(&id) {
                used.insert(id.to_string(), json!(str_of(seg, "network_id")));
            }
        }
    }
    let available: Vec<Value> = (min..=max)
        .filter(|n| !used.contains_key(&n.to_string()))
        .take(4096)
        .map(|n| json!(n))
        .collect();
    m.insert("default".into(), json!(false));
    m.insert("used".into(), Value::Object(used));
    m.insert("available".into(), Value::Array(available));
}

// --- trunks

pub(super) fn trunk_ports(db: &Db, except: &str) -> Vec<String> {
    super::records::records(db, "trunk")
        .filter(|t| str_of(t, "id") != except)
        .flat_map(|t| {
            let mut ids = vec![str_of(t, "port_id").to_owned()];
            ids.extend(
                t.get("sub_ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|s| str_of(s, "port_id").to_owned()),
            );
            ids
        })
        .collect()
}

/// Checks sub-ports (`port_id`, `segmentation_type`, `segmentation_id`) against the ports, the
/// trunk's own and the other trunks'.
pub(super) fn check_subports(
    db: &Db,
    ctx: &Ctx,
    trunk_id: &str,
    parent: &str,
    subs: &[Value],
) -> ApiResult<Vec<Value>> {
    let taken = trunk_ports(db, trunk_id);
    let mut out: Vec<Value> = Vec::new();
    for sp in subs {
        let port = str_of(sp, "port_id").to_owned();
        if db.ports.mine(ctx, &port).is_none() {
            return Err(
                ApiError::not_found(S, format!("Port {port} could not be found."))
                    .kind("PortNotFound"),
            );
        }
        if port == parent
            || taken.contains(&port)
            || out.iter().any(|o| str_of(o, "port_id") == port)
        {
            return Err(conflict(
                format!(
                    "Port {port} is currently in use and is not eligible for use as a subport."
                ),
                "PortInUseAsSubPort",
            ));
        }
        let seg_type = sp
            .get("segmentation_type")
            .and_then(Value::as_str)
            .unwrap_or("vlan");
        let seg_id = sp.get("segmentation_id").and_then(crate::body::int_like);
        if seg_type != "vlan" && seg_type != "inherit" {
            return Err(bad(format!("Invalid input for segmentation_type. Reason: '{seg_type}' is not in ['vlan', 'inherit'].")));
        }
        let seg_id = match (seg_type, seg_id) {
            ("vlan", Some(n)) if (1..=4094).contains(&n) => json!(n),
            ("vlan", _) => return Err(bad("Invalid input for segmentation_id. Reason: a vlan sub-port needs a segmentation_id from 1 to 4094.")),
            _ => Value::Null,
        };
        if !seg_id.is_null()
            && out
                .iter()
                .any(|o| o.get("segmentation_id") == Some(&seg_id))
        {
            return Err(conflict(
                format!("Segmentation ID {seg_id} is already in use in the trunk."),
                "DuplicateSubPort",
            ));
        }
        out.push(
            json!({"port_id": port, "segmentation_type": seg_type, "segmentation_id": seg_id}),
        );
    }
    Ok(out)
}

pub(super) fn trunk_hook(
    db: &Db,
    ctx: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    if old.is_some() {
        return Ok(());
    }
    let port = s(m, "port_id").to_owned();
    if db.ports.mine(ctx, &port).is_none() {
        return Err(
            ApiError::not_found(S, format!("Port {port} could not be found.")).kind("PortNotFound"),
        );
    }
    if trunk_ports(db, id_of(m)).contains(&port) {
        return Err(conflict(
            format!(
                "Port {port} is currently in use and is not eligible for use as a parent port."
            ),
            "ParentPortInUse",
        ));
    }
    let subs: Vec<Value> = m
        .get("sub_ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let subs = check_subports(db, ctx, id_of(m), &port, &subs)?;
    m.insert("sub_ports".into(), Value::Array(subs));
    Ok(())
}

pub(super) fn trunk_view(db: &Db, m: &mut Map<String, Value>) {
    // A trunk is ACTIVE when its parent port is bound to a device, DOWN otherwise.
    let bound = db
        .ports
        .get(s(m, "port_id"))
        .is_some_and(|p| !p.device_id.is_empty());
    m.insert(
        "status".into(),
        json!(if bound { "ACTIVE" } else { "DOWN" }),
    );
}

/// `PUT /v2.0/trunks/{id}/add_subports`, `remove_subports` and `GET get_subports`.
pub(in crate::neutron) fn trunk_subports(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    bytes: Option<&[u8]>,
    add: bool,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(headers, S)?;
    let k = super::records::kind_of("trunk").ok_or_else(|| ApiError::internal(S, "trunk kind"))?;
    let asked: Vec<Value> = match bytes {
        Some(b) => body::parse_json(S, b)?
            .get("sub_ports")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| bad("Invalid input for operation: 'sub_ports' is a required list."))?,
        None => {
            return c.store.read(|db| {
                let t = super::records::record(db, k.store, id)
                    .filter(|r| super::records::visible(db, &ctx, k, r))
                    .ok_or_else(|| super::records::not_found(k, id))?;
                Ok(Json(
                    json!({"sub_ports": t.get("sub_ports").cloned().unwrap_or(json!([]))}),
                ))
            })
        }
    };
    c.store.write(|db| {
        let t = super::records::record(db, k.store, id)
            .filter(|r| ctx.is_admin() || str_of(r, "project_id") == ctx.project_id)
            .cloned()
            .ok_or_else(|| super::records::not_found(k, id))?;
        let mut subs: Vec<Value> = t
            .get("sub_ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if add {
            let mut all = subs.clone();
            all.extend(asked);
            subs = check_subports(db, &ctx, id, str_of(&t, "port_id"), &all)?;
        } else {
            for a in &asked {
                let port = str_of(a, "port_id");
                let Some(pos) = subs.iter().position(|s| str_of(s, "port_id") == port) else {
                    return Err(ApiError::not_found(
                        S,
                        format!("SubPort {port} could not be found in trunk {id}."),
                    )
                    .kind("SubPortNotFound"));
                };
                subs.remove(pos);
            }
        }
        let mut m = t.as_object().cloned().unwrap_or_default();
        m.insert("sub_ports".into(), Value::Array(subs));
        m.insert("updated_at".into(), json!(now()));
        let rev = t
            .get("revision_number")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        m.insert("revision_number".into(), json!(rev + 1));
        let v = Value::Object(m);
        db.network_records
            .entry(k.store.into())
            .or_default()
            .insert(id.to_owned(), v.clone());
        Ok(Json(super::records::view(db, k, &v)))
    })
}
