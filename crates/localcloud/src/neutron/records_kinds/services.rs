//! Metering, network flavors and service profiles, local IPs, L3 conntrack helpers and
//! default security group rules.

use super::*;

// --- metering

pub(super) fn metering_rule_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let d = s(m, "direction");
    if d != "ingress" && d != "egress" {
        return Err(bad(format!(
            "Invalid input for direction. Reason: '{d}' is not in ['ingress', 'egress']."
        )));
    }
    let mut any = false;
    for k in [
        "remote_ip_prefix",
        "source_ip_prefix",
        "destination_ip_prefix",
    ] {
        if let Some(p) = m.get(k).and_then(Value::as_str) {
            let (a, l) = parse_prefix(p).ok_or_else(|| {
                bad(format!(
                    "Invalid input for {k}. Reason: '{p}' is not a valid IP subnet."
                ))
            })?;
            m.insert(k.into(), json!(format!("{a}/{l}")));
            any = true;
        }
    }
    if !any {
        return Err(bad(
            "You must specify one of remote_ip_prefix, source_ip_prefix or destination_ip_prefix.",
        ));
    }
    Ok(())
}

// --- network flavors and service profiles

pub(super) const SERVICE_TYPES: &[&str] = &[
    "L3_ROUTER_NAT",
    "FIREWALL",
    "VPN",
    "LOADBALANCERV2",
    "METERING",
    "QOS",
];

pub(super) fn flavor_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    let t = s(m, "service_type");
    if old.is_none() && !SERVICE_TYPES.contains(&t) {
        return Err(
            ApiError::not_found(S, format!("Service type {t} is not supported."))
                .kind("InvalidServiceType"),
        );
    }
    if !m.contains_key("service_profiles") {
        m.insert("service_profiles".into(), json!([]));
    }
    Ok(())
}

pub(super) fn flavor_view(_: &Db, m: &mut Map<String, Value>) {
    if !m.contains_key("service_profiles") {
        m.insert("service_profiles".into(), json!([]));
    }
}

pub(super) fn service_profile_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    if s(m, "driver").is_empty() && s(m, "metainfo").is_empty() {
        return Err(bad("A metainfo or driver must be specified."));
    }
    Ok(())
}

pub(super) fn profiles_of(f: &Value) -> Vec<String> {
    f.get("service_profiles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

pub(super) fn service_profile_in_use(db: &Db, r: &Value) -> ApiResult<()> {
    let id = str_of(r, "id");
    if super::records::records(db, "network_flavor").any(|f| profiles_of(f).iter().any(|p| p == id))
    {
        return Err(conflict(
            format!("Service Profile {id} is used by some service instance."),
            "ServiceProfileInUse",
        ));
    }
    Ok(())
}

/// `POST /v2.0/flavors/{id}/service_profiles` (`add`) and `DELETE …/service_profiles/{profile}`.
pub(in crate::neutron) fn flavor_profile(
    c: &Cloud,
    headers: &HeaderMap,
    flavor: &str,
    profile: Option<&str>,
    bytes: Option<&[u8]>,
) -> ApiResult<Response> {
    let ctx = c.auth(headers, S)?;
    let k = super::records::kind_of("network_flavor")
        .ok_or_else(|| ApiError::internal(S, "flavor kind"))?;
    if !ctx.is_admin() {
        return Err(super::records::policy_denied(
            "create_flavor_service_profile",
            k,
        ));
    }
    let profile = match (profile, bytes) {
        (Some(p), _) => p.to_owned(),
        (None, Some(b)) => body::parse_json(S, b)?
            .get("service_profile")
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad("Invalid input for operation: service_profile.id is required."))?,
        (None, None) => {
            return Err(bad(
                "Invalid input for operation: service_profile.id is required.",
            ))
        }
    };
    let adding = bytes.is_some();
    c.store.write(|db| {
        let f = super::records::record(db, k.store, flavor)
            .cloned()
            .ok_or_else(|| super::records::not_found(k, flavor))?;
        if super::records::record(db, "service_profile", &profile).is_none() {
            return Err(ApiError::not_found(
                S,
                format!("Service Profile {profile} could not be found."),
            )
            .kind("ServiceProfileNotFound"));
        }
        let mut list = profiles_of(&f);
        if adding {
            if list.contains(&profile) {
                return Err(conflict(
                    format!(
                        "Service Profile {profile} is already associated with flavor {flavor}."
                    ),
                    "FlavorServiceProfileBindingExists",
                ));
            }
            list.push(profile.clone());
        } else if let Some(pos) = list.iter().position(|p| *p == profile) {
            list.remove(pos);
        } else {
            return Err(ApiError::not_found(
                S,
                format!("Service Profile {profile} is not associated with flavor {flavor}."),
            )
            .kind("FlavorServiceProfileBindingNotFound"));
        }
        let mut m = f.as_object().cloned().unwrap_or_default();
        m.insert("service_profiles".into(), json!(list));
        db.network_records
            .entry(k.store.into())
            .or_default()
            .insert(flavor.to_owned(), Value::Object(m));
        Ok(if adding {
            created("service_profile", json!({"id": profile}))
        } else {
            StatusCode::NO_CONTENT.into_response()
        })
    })
}

// --- local IPs

pub(super) fn local_ip_hook(
    db: &Db,
    ctx: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    if old.is_some() {
        return Ok(());
    }
    let mode = s(m, "ip_mode");
    if mode != "translate" && mode != "passthrough" {
        return Err(bad(format!(
            "Invalid input for ip_mode. Reason: '{mode}' is not in ['translate', 'passthrough']."
        )));
    }
    let port = s(m, "local_port_id").to_owned();
    if !port.is_empty() {
        let p = db.ports.mine(ctx, &port).ok_or_else(|| {
            ApiError::not_found(S, format!("Port {port} could not be found.")).kind("PortNotFound")
        })?;
        let addr = p.fixed_ips.first().map(|f| f.ip_address.clone());
        let net = p.network_id.clone();
        if !m.get("local_ip_address").is_some_and(Value::is_string) {
            m.insert("local_ip_address".into(), json!(addr));
        }
        m.insert("network_id".into(), json!(net));
    }
    let net = s(m, "network_id").to_owned();
    if !net.is_empty()
        && !db
            .networks
            .get(&net)
            .is_some_and(|n| crate::access::network_visible(n, ctx))
    {
        return Err(
            ApiError::not_found(S, format!("Network {net} could not be found."))
                .kind("NetworkNotFound"),
        );
    }
    if let Some(a) = m.get("local_ip_address").and_then(Value::as_str) {
        if a.parse::<IpAddr>().is_err() {
            return Err(bad(format!(
                "Invalid input for local_ip_address. Reason: '{a}' is not a valid IP address."
            )));
        }
    }
    Ok(())
}

// --- L3 conntrack helpers

/// Neutron's default `allowed_conntrack_helpers`: (helper, protocol).
pub(super) const CONNTRACK_HELPERS: &[(&str, &str)] = &[
    ("amanda", "tcp"),
    ("ftp", "tcp"),
    ("tftp", "udp"),
    ("h323", "udp"),
    ("h323", "tcp"),
    ("irc", "tcp"),
    ("netbios-ns", "udp"),
    ("pptp", "tcp"),
    ("sane", "tcp"),
    ("sip", "udp"),
    ("sip", "tcp"),
    ("snmp", "udp"),
];

pub(super) fn conntrack_hook(
    db: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let (helper, proto) = (s(m, "helper").to_owned(), s(m, "protocol").to_owned());
    if !CONNTRACK_HELPERS.contains(&(helper.as_str(), proto.as_str())) {
        return Err(bad(format!(
            "The conntrack helper '{helper}' with protocol '{proto}' is not allowed (allowed: {}).",
            CONNTRACK_HELPERS
                .iter()
                .map(|(h, p)| format!("{h}:{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let port = i(m, "port").unwrap_or(0);
    if !(1..=65535).contains(&port) {
        return Err(bad(format!(
            "Invalid input for port. Reason: {port} is not in the range 1..65535."
        )));
    }
    let router = s(m, "router_id").to_owned();
    if others(db, "conntrack_helper", m).any(|r| {
        str_of(r, "router_id") == router
            && str_of(r, "helper") == helper
            && str_of(r, "protocol") == proto
            && r.get("port").and_then(Value::as_i64) == Some(port)
    }) {
        return Err(bad(format!("A duplicate conntrack helper entry with same attributes already exists, conflicting values are {{'router_id': '{router}', 'protocol': '{proto}', 'port': {port}, 'helper': '{helper}'}}")));
    }
    Ok(())
}

/// The conntrack helpers of a router, as `expose-l3-conntrack-helper` shows them on it.
pub(in crate::neutron) fn router_helpers(db: &Db, router: &str) -> Value {
    Value::Array(
        super::records::records(db, "conntrack_helper")
            .filter(|r| str_of(r, "router_id") == router)
            .map(|r| json!({"id": r.get("id"), "protocol": r.get("protocol"), "port": r.get("port"), "helper": r.get("helper")}))
            .collect(),
    )
}

// --- default security group rules

pub(super) fn default_sg_rule_hook(
    _: &Db,
    _: &Ctx,
    m: &mut Map<String, Value>,
    _: Option<&Value>,
) -> ApiResult<()> {
    let d = s(m, "direction");
    if d != "ingress" && d != "egress" {
        return Err(bad(format!(
            "Invalid input for direction. Reason: '{d}' is not in ['ingress', 'egress']."
        )));
    }
    let e = s(m, "ethertype");
    if e != "IPv4" && e != "IPv6" {
        return Err(bad(format!(
            "Invalid input for ethertype. Reason: '{e}' is not in ['IPv4', 'IPv6']."
        )));
    }
    let (lo, hi) = (i(m, "port_range_min"), i(m, "port_range_max"));
    for p in [lo, hi].into_iter().flatten() {
        if !(0..=65535).contains(&p) {
            return Err(bad(format!("Invalid value for port {p}.")));
        }
    }
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if lo > hi {
            return Err(
                bad("For TCP/UDP protocols, port_range_min must be <= port_range_max")
                    .kind("SecurityGroupInvalidPortRange"),
            );
        }
    }
    if let Some(p) = m.get("remote_ip_prefix").and_then(Value::as_str) {
        let (a, l) = parse_prefix(p).ok_or_else(|| {
            bad(format!(
                "Invalid input for remote_ip_prefix. Reason: '{p}' is not a valid IP subnet."
            ))
        })?;
        m.insert("remote_ip_prefix".into(), json!(format!("{a}/{l}")));
    }
    Ok(())
}
