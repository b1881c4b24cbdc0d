//! IPv6 in the data plane: the default route of a VM on an IPv6 subnet that a router serves, the
//! address flags and the anti-spoofing set of a port. Addresses go on interfaces with `nodad`
//! (no duplicate address detection), so they are usable at once: Neutron's IPAM already made
//! them unique on their segment.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use serde_json::{json, Value};

use crate::model::FixedIp;

use super::plan::Cidr;

/// `(gateway, device)` of a VM's IPv6 default route: through the router's address on the first
/// of the port's IPv6 subnets that a router serves (`routed`: subnet id → router address).
pub fn default_route(
    fixed: &[FixedIp],
    routed: &BTreeMap<String, String>,
    dev: &str,
) -> Option<(String, String)> {
    fixed
        .iter()
        .find_map(|f| routed.get(&f.subnet_id))
        .filter(|gw| gw.parse::<Ipv6Addr>().is_ok())
        .map(|gw| (gw.clone(), dev.to_owned()))
}

/// The `ip addr add` flags of an address: `nodad` for IPv6.
pub fn addr_flags(addr: &str) -> &'static str {
    if addr.contains(':') {
        " nodad"
    } else {
        ""
    }
}

/// Sources a port may send IPv6 from besides its own addresses: link-local (neighbour
/// discovery) and the unspecified address (duplicate address detection of link-local addresses,
/// MLD).
pub fn always_allowed_sources() -> [Cidr; 2] {
    [
        Cidr {
            addr: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0).into(),
            len: 10,
        },
        Cidr {
            addr: Ipv6Addr::UNSPECIFIED.into(),
            len: 128,
        },
    ]
}

/// The `type`, `netmask` and `routes` of an IPv6 address in `network_data.json`, as Nova writes
/// them: `ipv6` (or `ipv6_<address mode>`), the prefix as an IPv6 mask, a default route `::/::`
/// through the gateway.
pub fn network_data_entry(
    cidr: &str,
    gateway: Option<&str>,
    mode: Option<&str>,
) -> (String, String, Vec<Value>) {
    let kind = mode.map_or_else(|| "ipv6".to_owned(), |m| format!("ipv6_{m}"));
    let len: u32 = cidr
        .split_once('/')
        .and_then(|(_, l)| l.parse().ok())
        .unwrap_or(128)
        .min(128);
    let mask = Ipv6Addr::from(u128::MAX.checked_shl(128 - len).unwrap_or(0)).to_string();
    let routes = gateway
        .map(|g| vec![json!({"network": "::", "netmask": "::", "gateway": g})])
        .unwrap_or_default();
    (kind, mask, routes)
}
