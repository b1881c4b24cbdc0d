//! Router extra routes (`extraroute`, `extraroute-atomic`): `routes` on router update and
//! `PUT /routers/{id}/add_extraroutes` / `remove_extraroutes`, each nexthop on a subnet the
//! router has an interface or gateway on (Neutron's `InvalidRoutes` otherwise); and a router's
//! view with its routes and conntrack helpers (`expose-l3-conntrack-helper`).

use super::records_kinds::parse_prefix;
use super::*;

/// Neutron's `max_routes` default.
const MAX_ROUTES: usize = 30;

/// A router as the API shows it: its stored attributes, extra routes and conntrack helpers.
pub(super) fn router_full(db: &Db, r: &crate::model::Router) -> Value {
    let mut v = router_view(r);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "routes".into(),
            json!(r
                .routes
                .iter()
                .map(|h| json!({"destination": h.destination, "nexthop": h.nexthop}))
                .collect::<Vec<_>>()),
        );
        o.insert(
            "conntrack_helpers".into(),
            super::records_kinds::router_helpers(db, &r.id),
        );
    }
    v
}

fn invalid_routes(msg: String) -> ApiError {
    ApiError::bad_request(S, format!("Invalid format for routes: {msg}")).kind("InvalidRoutes")
}

/// The routes of a body (`[{destination, nexthop}]`), checked and in canonical form.
pub(super) fn parse_routes(v: Option<&Value>) -> ApiResult<Vec<HostRoute>> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(invalid_routes(format!("{other} is not a list"))),
    };
    let mut out = Vec::new();
    for r in list {
        let dest = r.get("destination").and_then(Value::as_str).unwrap_or("");
        let hop = r.get("nexthop").and_then(Value::as_str).unwrap_or("");
        let (net, len) = parse_prefix(dest)
            .filter(|_| dest.contains('/'))
            .ok_or_else(|| {
                invalid_routes(format!("{r}, the destination '{dest}' is not a valid CIDR"))
            })?;
        let hop_addr: std::net::IpAddr = hop.parse().map_err(|_| {
            invalid_routes(format!(
                "{r}, the nexthop '{hop}' is not a valid IP address"
            ))
        })?;
        if hop_addr.is_ipv4() != net.is_ipv4() {
            return Err(invalid_routes(format!(
                "{r}, the destination and nexthop are of different IP versions"
            )));
        }
        let route = HostRoute {
            destination: format!("{net}/{len}"),
            nexthop: hop_addr.to_string(),
        };
        if !out.contains(&route) {
            out.push(route);
        }
    }
    Ok(out)
}

/// Every nexthop must be on a subnet the router is connected to.
pub(super) fn check_nexthops(db: &Db, router: &str, routes: &[HostRoute]) -> ApiResult<()> {
    if routes.len() > MAX_ROUTES {
        return Err(ApiError::bad_request(
            S,
            format!("Unable to complete operation for {router}. The number of routes exceeds the maximum {MAX_ROUTES}."),
        )
        .kind("RoutesExhausted"));
    }
    let subnets: Vec<&str> = db
        .ports
        .values()
        .filter(|p| p.device_id == router)
        .flat_map(|p| p.fixed_ips.iter().map(|f| f.subnet_id.as_str()))
        .collect();
    for r in routes {
        let on_link = subnets.iter().any(|sid| {
            db.subnets.get(*sid).is_some_and(|s| {
                match (
                    parse_prefix(&s.cidr),
                    parse_prefix(&format!("{}/{}", r.nexthop, prefix_len(&s.cidr))),
                ) {
                    (Some(net), Some(hop)) => net == hop && r.nexthop != s.cidr,
                    _ => false,
                }
            })
        });
        if !on_link {
            return Err(invalid_routes(format!(
                "{{'destination': '{}', 'nexthop': '{}'}}, the nexthop is not connected with router",
                r.destination, r.nexthop
            )));
        }
    }
    Ok(())
}

fn prefix_len(cidr: &str) -> String {
    cidr.split_once('/')
        .map(|(_, l)| l.to_owned())
        .unwrap_or_default()
}

/// `PUT /routers/{id}/add_extraroutes` (`add`) and `remove_extraroutes`.
pub(super) async fn change_routes(
    c: &Cloud,
    headers: &HeaderMap,
    id: &str,
    bytes: &[u8],
    add: bool,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(headers, S)?;
    let v = body::parse_json(S, bytes)?;
    let asked = parse_routes(v.get("router").and_then(|r| r.get("routes")))?;
    c.store.write(|db| {
        let r = db
            .routers
            .mine(&ctx, id)
            .ok_or_else(|| router_not_found(id))?;
        let mut routes = r.routes.clone();
        if add {
            for a in asked {
                if !routes.contains(&a) {
                    routes.push(a);
                }
            }
            check_nexthops(db, id, &routes)?;
        } else {
            routes.retain(|x| !asked.contains(x));
        }
        let r = db.routers.get_mut(id).ok_or_else(|| router_not_found(id))?;
        r.routes = routes;
        r.updated_at = now();
        let r = r.clone();
        Ok(Json(json!({"router": router_full(db, &r)})))
    })
}
