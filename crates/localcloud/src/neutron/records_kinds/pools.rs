//! Address scopes, subnet pools and address groups.

use super::*;

// --- address scopes, subnet pools, address groups

pub(super) fn address_scope_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    let v = i(m, "ip_version").unwrap_or(0);
    if v != 4 && v != 6 {
        return Err(bad(format!(
            "Invalid input for ip_version. Reason: {v} is not in valid_values [4, 6]."
        )));
    }
    if let Some(old) = old {
        if old.get("shared").and_then(Value::as_bool) == Some(true)
            && m.get("shared").and_then(Value::as_bool) == Some(false)
        {
            return Err(bad("Unable to complete operation on address scope: a shared address scope cannot be unshared."));
        }
    }
    let _ = db;
    Ok(())
}

pub(super) fn address_scope_in_use(db: &Db, r: &Value) -> ApiResult<()> {
    let id = str_of(r, "id");
    if super::records::records(db, "subnetpool").any(|p| str_of(p, "address_scope_id") == id) {
        return Err(conflict(
            format!("Unable to complete operation on address scope {id}. There are one or more subnet pools in use on the address scope."),
            "AddressScopeInUse",
        ));
    }
    Ok(())
}

/// A prefix in canonical form (host bits cleared) and its version and length.
pub(in crate::neutron) fn parse_prefix(p: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = p.split_once('/').unwrap_or((p, ""));
    let addr: IpAddr = a.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len: u8 = if l.is_empty() {
        max
    } else {
        l.trim().parse().ok()?
    };
    if len > max {
        return None;
    }
    let net = match addr {
        IpAddr::V4(v) => {
            let bits = u32::from(v);
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(v) => {
            let bits = u128::from(v);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            IpAddr::V6((bits & mask).into())
        }
    };
    Some((net, len))
}

pub(super) fn prefix_list(m: &Map<String, Value>, key: &str) -> ApiResult<Vec<(IpAddr, u8)>> {
    m.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| {
            let p = v.as_str().unwrap_or("");
            parse_prefix(p).ok_or_else(|| {
                bad(format!(
                    "Invalid input for {key}. Reason: '{p}' is not a valid IP subnet."
                ))
            })
        })
        .collect()
}

pub(super) fn subnetpool_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    let prefixes = prefix_list(m, "prefixes")?;
    let Some(first) = prefixes.first() else {
        return Err(bad(
            "Invalid input for prefixes. Reason: a subnet pool needs at least one prefix.",
        ));
    };
    let v4 = first.0.is_ipv4();
    if prefixes.iter().any(|p| p.0.is_ipv4() != v4) {
        return Err(bad("Illegal subnetpool: prefixes of both IP versions."));
    }
    if let Some(old) = old {
        // An update may add prefixes, not take them away.
        let before = old
            .as_object()
            .map(|o| prefix_list(o, "prefixes"))
            .transpose()?
            .unwrap_or_default();
        if before
            .iter()
            .any(|b| !prefixes.iter().any(|p| covers(p, b)))
        {
            return Err(bad("Illegal update to prefixes: the prefixes of a subnet pool can be added to, not taken away."));
        }
    }
    let max_len: i64 = if v4 { 32 } else { 128 };
    let min = i(m, "min_prefixlen").unwrap_or(if v4 { 8 } else { 64 });
    let max = i(m, "max_prefixlen").unwrap_or(max_len);
    let default = i(m, "default_prefixlen").unwrap_or(min);
    if !(0..=max_len).contains(&min)
        || !(0..=max_len).contains(&max)
        || min > max
        || default < min
        || default > max
    {
        return Err(bad(format!(
            "Illegal prefix bounds: min_prefixlen={min}, max_prefixlen={max}, default_prefixlen={default}."
        )));
    }
    if let Some(q) = i(m, "default_quota") {
        if q < 0 {
            return Err(bad(
                "Invalid input for default_quota. Reason: it must be 0 or more.",
            ));
        }
    }
    let canonical: Vec<Value> = prefixes
        .iter()
        .map(|(a, l)| json!(format!("{a}/{l}")))
        .collect();
    m.insert("prefixes".into(), Value::Array(canonical));
    m.insert("ip_version".into(), json!(if v4 { 4 } else { 6 }));
    m.insert("min_prefixlen".into(), json!(min));
    m.insert("max_prefixlen".into(), json!(max));
    m.insert("default_prefixlen".into(), json!(default));
    let scope = s(m, "address_scope_id").to_owned();
    if !scope.is_empty() {
        let sc = super::records::record(db, "address_scope", &scope).ok_or_else(|| {
            ApiError::not_found(S, format!("Address scope {scope} could not be found."))
                .kind("AddressScopeNotFound")
        })?;
        if sc.get("ip_version").and_then(Value::as_i64) != Some(if v4 { 4 } else { 6 }) {
            return Err(bad(format!("Illegal subnetpool association: subnetpool cannot be associated with address scope {scope} because subnetpool ip_version is not {}.", sc.get("ip_version").and_then(Value::as_i64).unwrap_or(0))));
        }
        // Pools of one address scope do not overlap.
        for other in others(db, "subnetpool", m).filter(|p| str_of(p, "address_scope_id") == scope)
        {
            let theirs = other
                .as_object()
                .map(|o| prefix_list(o, "prefixes"))
                .transpose()?
                .unwrap_or_default();
            if prefixes
                .iter()
                .any(|p| theirs.iter().any(|t| covers(p, t) || covers(t, p)))
            {
                return Err(bad(format!("Illegal subnetpool association: subnetpool {} cannot be associated with address scope {scope}: its prefixes overlap another pool's in the scope.", id_of(m))));
            }
        }
    }
    if m.get("is_default").and_then(Value::as_bool) == Some(true) {
        let version = if v4 { 4 } else { 6 };
        if others(db, "subnetpool", m).any(|p| {
            p.get("is_default").and_then(Value::as_bool) == Some(true)
                && p.get("ip_version").and_then(Value::as_i64) == Some(version)
        }) {
            return Err(bad(format!("Invalid input for operation: A default subnetpool for this IP family {version} already exists.")));
        }
    }
    Ok(())
}

/// Whether prefix `a` contains prefix `b`.
pub(super) fn covers(a: &(IpAddr, u8), b: &(IpAddr, u8)) -> bool {
    if a.1 > b.1 {
        return false;
    }
    match (parse_prefix(&format!("{}/{}", b.0, a.1)), a) {
        (Some(x), a) => x.0 == a.0,
        (None, _) => false,
    }
}

pub(super) fn normalize_addresses(m: &Map<String, Value>, key: &str) -> ApiResult<Vec<String>> {
    Ok(prefix_list(m, key)?
        .into_iter()
        .map(|(a, l)| format!("{a}/{l}"))
        .collect())
}

pub(super) fn address_group_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let mut list = normalize_addresses(m, "addresses")?;
    list.sort();
    list.dedup();
    m.insert("addresses".into(), json!(list));
    Ok(())
}

/// `PUT /v2.0/address-groups/{id}/add_addresses` and `remove_addresses`.
pub(in crate::neutron) fn address_group_action(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    bytes: &[u8],
    add: bool,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(headers, S)?;
    let body = body::parse_json(S, bytes)?;
    let asked = body
        .as_object()
        .map(|o| normalize_addresses(o, "addresses"))
        .transpose()?
        .unwrap_or_default();
    let k = super::records::kind_of("address_group")
        .ok_or_else(|| ApiError::internal(S, "address group kind"))?;
    c.store.write(|db| {
        let r = super::records::record(db, k.store, id)
            .filter(|r| {
                super::records::visible(db, &ctx, k, r)
                    && (ctx.is_admin() || str_of(r, "project_id") == ctx.project_id)
            })
            .cloned()
            .ok_or_else(|| super::records::not_found(k, id))?;
        let mut have: Vec<String> = r
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        for a in asked {
            if add {
                if !have.contains(&a) {
                    have.push(a);
                }
            } else if let Some(pos) = have.iter().position(|h| *h == a) {
                have.remove(pos);
            } else {
                return Err(ApiError::not_found(
                    S,
                    format!("Address {a} does not exist in address group {id}."),
                )
                .kind("AddressesNotFound"));
            }
        }
        have.sort();
        let mut m = r.as_object().cloned().unwrap_or_default();
        m.insert("addresses".into(), json!(have));
        m.insert("updated_at".into(), json!(now()));
        let v = Value::Object(m);
        db.network_records
            .entry(k.store.into())
            .or_default()
            .insert(id.to_owned(), v.clone());
        Ok(Json(json!({"address_group": v})))
    })
}
