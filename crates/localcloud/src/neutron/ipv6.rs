//! IPv6 subnets as Neutron makes them: `ipv6_ra_mode` / `ipv6_address_mode`, the default gateway
//! (the first address, `::1` of the prefix), allocation pools, and port addresses: the EUI-64
//! address of the port's MAC on `slaac` and `dhcpv6-stateless` subnets, sequential from the pools
//! on `dhcpv6-stateful` subnets and subnets without a mode.
//!
//! The IPv4 IPAM stays in `ipam.rs`; the handlers call in here when a subnet is IPv6.

use std::net::{IpAddr, Ipv6Addr};

use super::*;

/// The values Neutron accepts for `ipv6_ra_mode` and `ipv6_address_mode`.
const MODES: [&str; 3] = ["dhcpv6-stateful", "dhcpv6-stateless", "slaac"];

/// A parsed IPv6 CIDR.
#[derive(Debug, Clone, Copy)]
pub struct Cidr6 {
    pub net: u128,
    pub prefix: u32,
}

impl Cidr6 {
    pub fn parse(s: &str) -> Option<Cidr6> {
        let (ip, len) = s.split_once('/')?;
        let ip: Ipv6Addr = ip.trim().parse().ok()?;
        let prefix: u32 = len.trim().parse().ok()?;
        if prefix > 128 {
            return None;
        }
        Some(Cidr6 {
            net: u128::from(ip) & Self::mask_of(prefix),
            prefix,
        })
    }
    fn mask_of(prefix: u32) -> u128 {
        u128::MAX.checked_shl(128 - prefix).unwrap_or(0)
    }
    /// The last address of the prefix (IPv6 has no broadcast: it is a usable address).
    pub fn last(&self) -> u128 {
        self.net | !Self::mask_of(self.prefix)
    }
    pub fn contains(&self, ip: u128) -> bool {
        ip & Self::mask_of(self.prefix) == self.net
    }
    pub fn overlaps(&self, o: &Cidr6) -> bool {
        self.contains(o.net) || o.contains(self.net)
    }
}

impl std::fmt::Display for Cidr6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv6Addr::from(self.net), self.prefix)
    }
}

pub(super) fn ip6(s: &str) -> Option<u128> {
    s.trim().parse::<Ipv6Addr>().ok().map(u128::from)
}

pub(super) fn ip6_str(n: u128) -> String {
    Ipv6Addr::from(n).to_string()
}

/// Whether ports on the subnet get the EUI-64 address of their MAC (Neutron's
/// `is_auto_address_subnet`: either mode is `slaac` or `dhcpv6-stateless`).
pub(super) fn is_auto_address(s: &Subnet) -> bool {
    let auto =
        |m: &Option<String>| matches!(m.as_deref(), Some("slaac") | Some("dhcpv6-stateless"));
    s.ip_version == 6 && (auto(&s.ipv6_address_mode) || auto(&s.ipv6_ra_mode))
}

/// The modified EUI-64 address of `mac` in the /64 `cidr`, as Neutron computes it: the MAC with
/// `ff:fe` in its middle and the universal/local bit flipped, after the prefix.
pub(super) fn eui64(cidr: &Cidr6, mac: &str) -> Option<u128> {
    let bytes: Vec<u8> = mac
        .split([':', '-'])
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let [a, b, c, d, e, f] = <[u8; 6]>::try_from(bytes).ok()?;
    let iid = u64::from_be_bytes([a ^ 0x02, b, c, 0xff, 0xfe, d, e, f]);
    Some(cidr.net | u128::from(iid))
}

fn invalid_input(msg: String) -> ApiError {
    ApiError::bad_request(S, format!("Invalid input for operation: {msg}.")).kind("InvalidInput")
}

/// The checks Neutron makes on an `ip_version: 4` body that concern IPv6: a cidr or gateway of
/// the other version, IPv6 modes.
pub(super) fn check_v4_body(m: &Map<String, Value>) -> ApiResult<()> {
    for field in ["cidr", "gateway_ip"] {
        if let Some(v) = get_str(m, field) {
            let addr = v.split_once('/').map_or(v.as_str(), |(a, _)| a);
            if addr.trim().parse::<Ipv6Addr>().is_ok() {
                return Err(invalid_input(format!(
                    "{field} '{v}' does not match the ip_version '4'"
                )));
            }
        }
    }
    for field in ["ipv6_ra_mode", "ipv6_address_mode"] {
        if get_str(m, field).is_some() {
            return Err(invalid_input(format!(
                "{field} is not valid when ip_version is 4"
            )));
        }
    }
    Ok(())
}

/// A mode field of the body: absent or null is `None`; anything else must be one of [`MODES`].
fn mode(m: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if MODES.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(v) => {
            let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            Err(ApiError::bad_request(
                S,
                format!(
                    "Invalid input for {field}. Reason: '{shown}' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']."
                ),
            ))
        }
    }
}

fn parse_pools(v: Option<&Value>, cidr: &Cidr6) -> ApiResult<Option<Vec<Pool>>> {
    let Some(v) = v else { return Ok(None) };
    let arr = v.as_array().ok_or_else(|| {
        ApiError::bad_request(S, "Invalid input for allocation_pools. Reason: not a list.")
    })?;
    let mut pools: Vec<(u128, u128)> = Vec::new();
    for p in arr {
        let start = p.get("start").and_then(Value::as_str);
        let end = p.get("end").and_then(Value::as_str);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(ApiError::bad_request(S, format!("Invalid input for allocation_pools. Reason: Invalid data format for IP pool: '{p}'.")));
        };
        let (Some(s), Some(e)) = (ip6(start), ip6(end)) else {
            let bad = if ip6(start).is_none() { start } else { end };
            return Err(ApiError::bad_request(S, format!("Invalid input for allocation_pools. Reason: '{bad}' is not a valid IPv6 address.")));
        };
        if s > e || !cidr.contains(s) || !cidr.contains(e) {
            return Err(ApiError::bad_request(
                S,
                format!("The allocation pool {start}-{end} spans beyond the subnet cidr {cidr}."),
            )
            .kind("OutOfBoundsAllocationPool"));
        }
        if let Some((os, oe)) = pools.iter().find(|(os, oe)| s <= *oe && *os <= e) {
            return Err(ApiError::bad_request(
                S,
                format!(
                    "Found overlapping allocation pools: {}-{} and {start}-{end} for subnet {cidr}.",
                    ip6_str(*os),
                    ip6_str(*oe)
                ),
            )
            .kind("OverlappingAllocationPools"));
        }
        pools.push((s, e));
    }
    Ok(Some(
        pools
            .into_iter()
            .map(|(s, e)| Pool {
                start: ip6_str(s),
                end: ip6_str(e),
            })
            .collect(),
    ))
}

/// IPv6 `host_routes`: destinations and next hops of version 6.
fn parse_routes(v: Option<&Value>) -> ApiResult<Vec<HostRoute>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let bad = |why: String| {
        ApiError::bad_request(S, format!("Invalid input for host_routes. Reason: {why}"))
    };
    let arr = v.as_array().ok_or_else(|| bad("not a list.".into()))?;
    let mut out: Vec<HostRoute> = Vec::new();
    for r in arr {
        let dest = r.get("destination").and_then(Value::as_str);
        let hop = r.get("nexthop").and_then(Value::as_str);
        let (Some(dest), Some(hop)) = (dest, hop) else {
            return Err(bad(format!("Validation of dictionary's keys failed. Expected keys: {{'destination', 'nexthop'}} Provided keys: {r}.")));
        };
        let cidr = Cidr6::parse(dest).ok_or_else(|| {
            invalid_input(format!(
                "destination '{dest}' does not match the ip_version '6'"
            ))
        })?;
        let hop_ip = ip6(hop).ok_or_else(|| {
            invalid_input(format!("nexthop '{hop}' does not match the ip_version '6'"))
        })?;
        let route = HostRoute {
            destination: cidr.to_string(),
            nexthop: ip6_str(hop_ip),
        };
        if out.contains(&route) {
            return Err(bad(format!("Duplicate hostroute '{dest}'.")));
        }
        out.push(route);
    }
    Ok(out)
}

/// The subnet an `ip_version: 6` create body describes, after Neutron's checks.
fn subnet_from_body(ctx: &Ctx, m: &Map<String, Value>) -> ApiResult<(Subnet, Cidr6)> {
    let cidr_s = get_str(m, "cidr").ok_or_else(|| {
        ApiError::bad_request(
            S,
            "Bad subnets request: a cidr must be specified in the absence of a subnet pool.",
        )
    })?;
    let cidr = match Cidr6::parse(&cidr_s) {
        Some(c) => c,
        None if Cidr::parse(&cidr_s).is_some() => {
            return Err(invalid_input(format!(
                "cidr '{cidr_s}' does not match the ip_version '6'"
            )))
        }
        None => {
            return Err(ApiError::bad_request(
                S,
                format!("Invalid input for cidr. Reason: '{cidr_s}' is not a valid IP subnet."),
            ))
        }
    };
    if cidr.prefix > 126 {
        return Err(invalid_input(format!(
            "Invalid CIDR {cidr_s} for IPv6 subnet"
        )));
    }
    let ra_mode = mode(m, "ipv6_ra_mode")?;
    let address_mode = mode(m, "ipv6_address_mode")?;
    let enable_dhcp = get_bool(m, "enable_dhcp").unwrap_or(true);
    if (ra_mode.is_some() || address_mode.is_some()) && !enable_dhcp {
        return Err(invalid_input(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"
                .into(),
        ));
    }
    if let (Some(ra), Some(addr)) = (&ra_mode, &address_mode) {
        if ra != addr {
            return Err(invalid_input(format!("ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{addr}' is not valid. If both attributes are set, they must be the same value")));
        }
    }
    let auto = [&ra_mode, &address_mode]
        .iter()
        .any(|x| matches!(x.as_deref(), Some("slaac") | Some("dhcpv6-stateless")));
    if auto && cidr.prefix != 64 {
        return Err(invalid_input(format!("Invalid CIDR {cidr_s} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64")));
    }
    let gateway = match m.get("gateway_ip") {
        Some(Value::Null) => None,
        Some(Value::String(g)) => {
            let n = match ip6(g) {
                Some(n) => n,
                None if g.parse::<IpAddr>().is_ok() => {
                    return Err(invalid_input(format!(
                        "gateway_ip '{g}' does not match the ip_version '6'"
                    )))
                }
                None => {
                    return Err(ApiError::bad_request(
                        S,
                        format!(
                        "Invalid input for gateway_ip. Reason: '{g}' is not a valid IP address."
                    ),
                    ))
                }
            };
            if !cidr.contains(n) {
                return Err(invalid_input(format!(
                    "Gateway is not valid on subnet {cidr_s}"
                )));
            }
            Some(n)
        }
        _ => Some(cidr.net + 1),
    };
    let pools = match parse_pools(m.get("allocation_pools"), &cidr)? {
        Some(p) => {
            if let Some(g) = gateway {
                if let Some(pool) = p.iter().find(|pool| {
                    ip6(&pool.start).is_some_and(|s| s <= g)
                        && ip6(&pool.end).is_some_and(|e| g <= e)
                }) {
                    return Err(ApiError::conflict(
                        S,
                        format!(
                            "Gateway ip {} conflicts with allocation pool {}-{}",
                            ip6_str(g),
                            pool.start,
                            pool.end
                        ),
                    )
                    .kind("GatewayConflictWithAllocationPools"));
                }
            }
            p
        }
        None => {
            // Neutron's pools: from the second address to the last (IPv6 has no broadcast),
            // split around the gateway.
            let (first, last) = (cidr.net + 1, cidr.last());
            let mut p = Vec::new();
            let mut push = |s: u128, e: u128| {
                if s <= e {
                    p.push(Pool {
                        start: ip6_str(s),
                        end: ip6_str(e),
                    });
                }
            };
            match gateway {
                Some(g) if g >= first && g <= last => {
                    if g > first {
                        push(first, g - 1);
                    }
                    if g < last {
                        push(g + 1, last);
                    }
                }
                _ => push(first, last),
            }
            p
        }
    };
    let t = now();
    let sub = Subnet {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        network_id: get_str(m, "network_id").unwrap_or_default(),
        name: get_str(m, "name").unwrap_or_default(),
        description: get_str(m, "description").unwrap_or_default(),
        cidr: cidr.to_string(),
        gateway_ip: gateway.map(ip6_str),
        allocation_pools: pools,
        enable_dhcp,
        dns_nameservers: parse_nameservers(m)?.unwrap_or_default(),
        host_routes: parse_routes(m.get("host_routes"))?,
        ip_version: 6,
        ipv6_ra_mode: ra_mode,
        ipv6_address_mode: address_mode,
        tags: parse_tags(m.get("tags"))?,
        created_at: t.clone(),
        updated_at: t,
    };
    Ok((sub, cidr))
}

/// `POST /v2.0/subnets` with `ip_version: 6` (the checked body of [`create_subnet`]).
pub(super) fn create_subnet(
    c: &AppState,
    ctx: &Ctx,
    m: &Map<String, Value>,
) -> ApiResult<Response> {
    let (sub, cidr) = subnet_from_body(ctx, m)?;
    let network_id = sub.network_id.clone();
    let v = c.store.write(|db| {
        db.networks
            .get(&network_id)
            .filter(|n| ctx.reaches(*n) || n.shared)
            .ok_or_else(|| net_not_found(&network_id))?;
        check_quota(db, &sub.project_id, "subnet", 1)?;
        for other in db.subnets.values().filter(|s| s.network_id == network_id) {
            if Cidr6::parse(&other.cidr).is_some_and(|o| o.overlaps(&cidr)) {
                return Err(invalid_input(format!("Requested subnet with cidr: {cidr} for network: {network_id} overlaps with another subnet")));
            }
        }
        db.subnets.insert(sub.id.clone(), sub.clone());
        sync_dhcp_port(db, &network_id);
        Ok(subnet_view(&sub))
    })?;
    Ok(created("subnet", v))
}

/// A new `allocation_pools` for an IPv6 subnet on update (`None`: not in the body).
pub(super) fn update_pools(s: &Subnet, m: &Map<String, Value>) -> ApiResult<Option<Vec<Pool>>> {
    match Cidr6::parse(&s.cidr) {
        Some(cidr) => parse_pools(m.get("allocation_pools"), &cidr),
        None => Ok(None),
    }
}

/// New IPv6 `host_routes` on update (`None`: not in the body).
pub(super) fn update_routes(m: &Map<String, Value>) -> ApiResult<Option<Vec<HostRoute>>> {
    match m.get("host_routes") {
        None => Ok(None),
        v => parse_routes(v).map(Some),
    }
}

/// The subnet among `subnets` whose range holds the address `a` (either version).
pub(super) fn subnet_for_address<'a>(subnets: &'a [Subnet], a: &str) -> ApiResult<&'a Subnet> {
    let found = match a.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let n = u32::from(v4);
            subnets
                .iter()
                .find(|s| Cidr::parse(&s.cidr).is_some_and(|c| c.contains(n)))
        }
        Ok(IpAddr::V6(v6)) => {
            let n = u128::from(v6);
            subnets
                .iter()
                .find(|s| Cidr6::parse(&s.cidr).is_some_and(|c| c.contains(n)))
        }
        Err(_) => {
            return Err(ApiError::bad_request(
                S,
                format!("Invalid input for ip_address. Reason: '{a}' is not a valid IP address."),
            ))
        }
    };
    found.ok_or_else(|| {
        ApiError::bad_request(
            S,
            format!(
                "IP address {a} is not a valid IP for any of the subnets on the specified network."
            ),
        )
        .kind("InvalidIpForNetwork")
    })
}

/// Addresses in use on an IPv6 subnet (ports' fixed IPs and the gateway).
fn used(db: &Db, subnet: &Subnet, extra: &[FixedIp]) -> BTreeSet<u128> {
    db.ports
        .values()
        .flat_map(|p| p.fixed_ips.iter())
        .chain(extra.iter())
        .filter(|f| f.subnet_id == subnet.id)
        .filter_map(|f| ip6(&f.ip_address))
        .chain(subnet.gateway_ip.as_deref().and_then(ip6))
        .collect()
}

/// An address for a port with MAC `mac` on an IPv6 subnet: `wanted` if free (router ports and
/// subnets without automatic addresses only), else the EUI-64 address of the MAC on `slaac` and
/// `dhcpv6-stateless` subnets, else the first free address of the pools.
pub(super) fn allocate(
    db: &Db,
    subnet: &Subnet,
    wanted: Option<&str>,
    router: bool,
    extra: &[FixedIp],
    mac: &str,
) -> ApiResult<String> {
    let cidr = Cidr6::parse(&subnet.cidr).ok_or_else(|| {
        ApiError::internal(S, format!("stored subnet {} has a bad cidr", subnet.id))
    })?;
    let mut used = used(db, subnet, extra);
    let gateway = subnet.gateway_ip.as_deref().and_then(ip6);
    if router {
        // The gateway is free for a router unless a port holds it.
        if let Some(g) = gateway {
            let held = db.ports.values().any(|p| {
                p.fixed_ips
                    .iter()
                    .any(|f| f.subnet_id == subnet.id && ip6(&f.ip_address) == Some(g))
            });
            if !held {
                used.remove(&g);
            }
        }
    }
    let taken = |a: &str| {
        ApiError::conflict(
            S,
            format!("IP address {a} already allocated in subnet {}", subnet.id),
        )
        .kind("IpAddressAlreadyAllocated")
    };
    if let Some(wanted) = wanted {
        let n = ip6(wanted).ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!(
                    "Invalid input for ip_address. Reason: '{wanted}' is not a valid IP address."
                ),
            )
        })?;
        if !cidr.contains(n) || (n == cidr.net && !router) {
            return Err(ApiError::bad_request(
                S,
                format!("IP address {wanted} is not a valid IP for the specified subnet."),
            )
            .kind("InvalidIpForSubnet"));
        }
        if is_auto_address(subnet) && !router {
            return Err(ApiError::bad_request(S, format!("IPv6 address {wanted} cannot be directly assigned to a port on subnet {} as the subnet is configured for automatic addresses", subnet.id)).kind("AllocationOnAutoAddressSubnet"));
        }
        if used.contains(&n) {
            return Err(taken(wanted));
        }
        return Ok(ip6_str(n));
    }
    if is_auto_address(subnet) {
        let n = eui64(&cidr, mac).ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!(
                    "Invalid input for mac_address. Reason: '{mac}' is not a valid MAC address."
                ),
            )
        })?;
        if used.contains(&n) {
            return Err(taken(&ip6_str(n)));
        }
        return Ok(ip6_str(n));
    }
    for pool in &subnet.allocation_pools {
        let (Some(start), Some(end)) = (ip6(&pool.start), ip6(&pool.end)) else {
            continue;
        };
        // `used` is finite: the walk ends within `used.len() + 1` steps in any pool.
        let mut n = start;
        while n <= end {
            if !used.contains(&n) {
                return Ok(ip6_str(n));
            }
            match n.checked_add(1) {
                Some(x) => n = x,
                None => break,
            }
        }
    }
    Err(ApiError::conflict(
        S,
        format!(
            "No more IP addresses available on network {}.",
            subnet.network_id
        ),
    )
    .kind("IpAddressGenerationFailure"))
}

/// The IPv6 addresses a port made without `fixed_ips` gets, as Neutron gives them: one from the
/// first IPv6 subnet without automatic addresses, and the EUI-64 address on every `slaac` or
/// `dhcpv6-stateless` subnet (not for router ports).
pub(super) fn default_fixed_ips(
    db: &Db,
    subnets: &[Subnet],
    router: bool,
    mac: &str,
) -> ApiResult<Vec<FixedIp>> {
    let mut out: Vec<FixedIp> = Vec::new();
    let v6 = subnets.iter().filter(|s| s.ip_version == 6);
    if let Some(sub) = v6.clone().find(|s| !is_auto_address(s)) {
        let a = allocate(db, sub, None, router, &out, mac)?;
        out.push(FixedIp {
            subnet_id: sub.id.clone(),
            ip_address: a,
        });
    }
    if !router {
        for sub in v6.filter(|s| is_auto_address(s)) {
            let a = allocate(db, sub, None, router, &out, mac)?;
            out.push(FixedIp {
                subnet_id: sub.id.clone(),
                ip_address: a,
            });
        }
    }
    Ok(out)
}

/// After a port's MAC changes from `from` to `to`: its EUI-64 addresses follow the new MAC.
pub(super) fn rebase_eui64(db: &Db, fixed: &mut [FixedIp], from: &str, to: &str) {
    for f in fixed.iter_mut() {
        let Some(sub) = db.subnets.get(&f.subnet_id).filter(|s| is_auto_address(s)) else {
            continue;
        };
        let Some(cidr) = Cidr6::parse(&sub.cidr) else {
            continue;
        };
        if eui64(&cidr, from).is_some_and(|old| ip6(&f.ip_address) == Some(old)) {
            if let Some(new) = eui64(&cidr, to) {
                f.ip_address = ip6_str(new);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui64_as_neutron_computes_it() {
        let cidr = Cidr6::parse("2001:db8::/64").unwrap();
        // Neutron's own example (ipv6_utils tests): 00:16:3e:33:44:55 in 2001:db8::/64.
        let a = eui64(&cidr, "00:16:3e:33:44:55").unwrap();
        assert_eq!(ip6_str(a), "2001:db8::216:3eff:fe33:4455");
        let b = eui64(&cidr, "fa:16:3e:aa:bb:cc").unwrap();
        assert_eq!(ip6_str(b), "2001:db8::f816:3eff:feaa:bbcc");
        assert!(eui64(&cidr, "fa:16:3e:aa:bb").is_none());
    }

    #[test]
    fn cidr6_parses_masks_and_overlaps() {
        let a = Cidr6::parse("fd00:1::5/64").unwrap();
        assert_eq!(a.to_string(), "fd00:1::/64");
        assert_eq!(ip6_str(a.last()), "fd00:1::ffff:ffff:ffff:ffff");
        let b = Cidr6::parse("fd00:1::/48").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        let c = Cidr6::parse("fd00:2::/64").unwrap();
        assert!(!a.overlaps(&c));
        assert!(Cidr6::parse("10.0.0.0/24").is_none());
        assert!(Cidr6::parse("fd00::/129").is_none());
    }
}
