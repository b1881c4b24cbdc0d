//! `network-ip-availability`: per network and subnet, how many addresses the allocation pools
//! hold and how many ports use, counted from the stored subnets and ports (admins only, as
//! Neutron's default policy has it).

use std::net::IpAddr;

use super::*;

/// The number of addresses from `start` to `end` (inclusive), 0 when reversed or unparsable.
fn pool_size(start: &str, end: &str) -> u128 {
    match (start.parse::<IpAddr>(), end.parse::<IpAddr>()) {
        (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(b))) => {
            let (a, b) = (u128::from(u32::from(a)), u128::from(u32::from(b)));
            if b >= a {
                b - a + 1
            } else {
                0
            }
        }
        (Ok(IpAddr::V6(a)), Ok(IpAddr::V6(b))) => {
            let (a, b) = (u128::from(a), u128::from(b));
            if b >= a {
                (b - a).saturating_add(1)
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// A count as JSON: a number while it fits in 64 bits (IPv6 pools can be larger).
fn count(n: u128) -> Value {
    u64::try_from(n)
        .map(|n| json!(n))
        .unwrap_or(json!(u64::MAX))
}

fn availability(db: &Db, n: &Network) -> Value {
    let mut total: u128 = 0;
    let mut used_all: u128 = 0;
    let mut subnets = Vec::new();
    for s in db.subnets.values().filter(|s| s.network_id == n.id) {
        let size: u128 = s
            .allocation_pools
            .iter()
            .map(|p| pool_size(&p.start, &p.end))
            .sum();
        let used = db
            .ports
            .values()
            .flat_map(|p| p.fixed_ips.iter())
            .filter(|f| f.subnet_id == s.id)
            .count() as u128;
        total = total.saturating_add(size);
        used_all += used;
        let version = if s.cidr.contains(':') { 6 } else { 4 };
        subnets.push(
            json!({"subnet_id": s.id, "subnet_name": s.name, "cidr": s.cidr,
            "ip_version": version, "total_ips": count(size), "used_ips": count(used)}),
        );
    }
    json!({"network_id": n.id, "network_name": n.name, "project_id": n.project_id,
        "tenant_id": n.project_id, "total_ips": count(total), "used_ips": count(used_all),
        "subnet_ip_availability": subnets})
}

fn admin(c: &Cloud, headers: &HeaderMap) -> ApiResult<Ctx> {
    let ctx = c.auth(headers, S)?;
    if !ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "rule:get_network_ip_availability is disallowed by policy",
        )
        .kind("PolicyNotAuthorized"));
    }
    Ok(ctx)
}

pub(super) async fn list(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers)?;
    let items = c.store.read(|db| {
        db.networks
            .values()
            .map(|n| availability(db, n))
            .collect::<Vec<_>>()
    });
    list_response(&c, "network_ip_availabilities", items, &query)
}

pub(super) async fn show(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers)?;
    c.store
        .read(|db| {
            db.networks
                .get(&id)
                .map(|n| Json(json!({"network_ip_availability": availability(db, n)})))
        })
        .ok_or_else(|| net_not_found(&id))
}
