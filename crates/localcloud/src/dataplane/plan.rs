//! The desired data plane, computed from localcloud's state: which namespaces exist, which links
//! each holds (with MAC, addresses, routes) and which nftables rules each enforces. A pure
//! function of [`State`], so a reconcile after any API change (or after a crash) converges the
//! kernel to the same picture.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use crate::model::{Port, State};

use super::nft;
pub use super::nft::{AddrSet, Table};

/// Names of everything one localcloud (one data folder) owns in the kernel. Every name starts
/// with `lc<tag>` so that two localclouds on one machine, and the machine's own interfaces, never
/// collide, and a reconcile removes only what is its own.
#[derive(Debug, Clone)]
pub struct Names {
    /// `lc` + 6 hex digits of the data folder's hash.
    pub prefix: String,
}

impl Names {
    pub fn segment(&self, network_id: &str) -> String {
        format!("{}-net-{network_id}", self.prefix)
    }
    pub fn vm(&self, server_id: &str) -> String {
        format!("{}-vm-{server_id}", self.prefix)
    }
    pub fn router(&self, router_id: &str) -> String {
        format!("{}-r-{router_id}", self.prefix)
    }
    /// The machine-side interface of the external network (at most 15 characters).
    pub fn host_link(&self) -> String {
        format!("{}-ext", self.prefix)
    }
    /// Whether a namespace name is this localcloud's.
    pub fn owns_ns(&self, name: &str) -> bool {
        name.starts_with(&format!("{}-", self.prefix))
    }
}

/// The port part of a link name, as Neutron names its devices (`tap` + 11 characters of the id).
pub fn short(id: &str) -> String {
    id.chars().filter(|c| *c != '-').take(11).collect()
}

/// A veth pair created from the namespace that lists it; the peer end goes into `peer_ns`
/// (a network segment) and is enslaved to its bridge. A future `qemu` back-end puts a tap device
/// with the same name (`tap<port>`) into the segment instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veth {
    pub name: String,
    pub mac: Option<String>,
    /// `address/prefix`
    pub addrs: BTreeSet<String>,
    pub peer_ns: String,
    pub peer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NsSpec {
    /// A network segment: holds bridge `br0` and the peer ends listed in `attached`.
    pub bridge: bool,
    pub attached: BTreeSet<String>,
    pub veths: Vec<Veth>,
    /// `(gateway, device)` of the default route.
    pub default_route: Option<(String, String)>,
    /// `(gateway, device)` of the IPv6 default route (a router serving an IPv6 subnet).
    pub default_route6: Option<(String, String)>,
    /// Routers forward.
    pub forward: bool,
    /// Addresses on `lo` (the metadata address in a server's namespace).
    pub lo_addrs: Vec<String>,
    /// Host routes of the subnets: `(destination, nexthop, device)`.
    pub routes: BTreeSet<(String, String, String)>,
}

/// The whole desired picture.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Namespace name → its links and routes.
    pub namespaces: BTreeMap<String, NsSpec>,
    /// Links in the machine's own namespace (only the external network's interface).
    pub root: NsSpec,
    /// Namespace name → localcloud's nftables table there.
    pub nft: BTreeMap<String, Table>,
    /// Server id → its namespace.
    pub servers: BTreeMap<String, String>,
}

/// Prefix length of a CIDR (`192.168.0.0/24` → 24).
fn prefix_len(cidr: &str) -> Option<u8> {
    cidr.split_once('/')?.1.parse().ok()
}

fn subnet_prefix(db: &State, subnet_id: &str) -> Option<u8> {
    db.subnets.get(subnet_id).and_then(|s| prefix_len(&s.cidr))
}

/// `ip/prefix` strings for a port's fixed IPs (IPv4 and IPv6).
fn port_addrs(db: &State, p: &Port) -> BTreeSet<String> {
    p.fixed_ips
        .iter()
        .filter(|f| f.ip_address.parse::<IpAddr>().is_ok())
        .filter_map(|f| {
            Some(format!(
                "{}/{}",
                f.ip_address,
                subnet_prefix(db, &f.subnet_id)?
            ))
        })
        .collect()
}

fn valid_mac(mac: &str) -> bool {
    mac.len() == 17
        && mac
            .split(':')
            .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Computes the plan. `ext_net_id` is the network whose segment reaches the machine through
/// [`Names::host_link`].
pub fn plan(db: &State, names: &Names, ext_net_id: Option<&str>) -> Plan {
    let mut out = Plan::default();
    let mut segments: BTreeMap<String, NsSpec> = BTreeMap::new();
    fn seg_of(
        segments: &mut BTreeMap<String, NsSpec>,
        names: &Names,
        net: &str,
        peer: &str,
    ) -> String {
        let name = names.segment(net);
        let s = segments.entry(name.clone()).or_insert_with(|| NsSpec {
            bridge: true,
            ..NsSpec::default()
        });
        s.attached.insert(peer.to_owned());
        name
    }
    // Subnets served by a router: subnet id → gateway address on it.
    let mut routed: BTreeMap<String, String> = BTreeMap::new();
    for p in db
        .ports
        .values()
        .filter(|p| p.device_owner == "network:router_interface")
    {
        for f in &p.fixed_ips {
            routed.insert(f.subnet_id.clone(), f.ip_address.clone());
        }
    }

    // VMs: one namespace each, one veth per port.
    for s in db.servers.values() {
        let ns = names.vm(&s.id);
        let mut spec = NsSpec {
            lo_addrs: vec![format!("{}/32", super::metadata::ADDRESS)],
            ..NsSpec::default()
        };
        for (i, pid) in s.ports.iter().enumerate() {
            let Some(p) = db.ports.get(pid) else { continue };
            let dev = format!("eth{i}");
            let peer = format!("tap{}", short(&p.id));
            let peer_ns = seg_of(&mut segments, names, &p.network_id, &peer);
            for r in p
                .fixed_ips
                .iter()
                .filter_map(|f| db.subnets.get(&f.subnet_id))
                .flat_map(|sub| sub.host_routes.iter())
            {
                if let (Ok(dest), Ok(hop)) =
                    (r.destination.parse::<Cidr>(), r.nexthop.parse::<IpAddr>())
                {
                    if dest.addr.is_ipv4() == hop.is_ipv4() {
                        spec.routes
                            .insert((dest.to_string(), hop.to_string(), dev.clone()));
                    }
                }
            }
            if spec.default_route.is_none() {
                if let Some(gw) = p
                    .fixed_ips
                    .iter()
                    .find_map(|f| routed.get(&f.subnet_id))
                    .filter(|gw| gw.parse::<Ipv4Addr>().is_ok())
                {
                    spec.default_route = Some((gw.clone(), dev.clone()));
                }
            }
            if spec.default_route6.is_none() {
                spec.default_route6 = super::ipv6::default_route(&p.fixed_ips, &routed, &dev);
            }
            spec.veths.push(Veth {
                name: dev,
                mac: valid_mac(&p.mac_address).then(|| p.mac_address.to_ascii_lowercase()),
                addrs: port_addrs(db, p),
                peer_ns,
                peer,
            });
        }
        out.nft
            .insert(ns.clone(), nft::security_groups(db, &s.ports));
        out.servers.insert(s.id.clone(), ns.clone());
        out.namespaces.insert(ns, spec);
    }

    // Routers: legs on subnets (the gateway address) and on the external network.
    for r in db.routers.values() {
        let mut spec = NsSpec {
            forward: true,
            ..NsSpec::default()
        };
        let mut internal = BTreeSet::new();
        let mut gw_dev = None;
        let mut gw_ip = None;
        let mut legs: Vec<&Port> = db
            .ports
            .values()
            .filter(|p| p.device_id == r.id)
            .filter(|p| {
                p.device_owner == "network:router_interface"
                    || p.device_owner == "network:router_gateway"
            })
            .collect();
        legs.sort_by(|a, b| a.id.cmp(&b.id));
        for p in legs {
            let gateway = p.device_owner == "network:router_gateway";
            let dev = format!("{}-{}", if gateway { "qg" } else { "qr" }, short(&p.id));
            let peer = format!("tap{}", short(&p.id));
            let peer_ns = seg_of(&mut segments, names, &p.network_id, &peer);
            let mut addrs = port_addrs(db, p);
            if gateway {
                gw_dev = Some(dev.clone());
                gw_ip = p
                    .fixed_ips
                    .iter()
                    .find(|f| f.ip_address.parse::<Ipv4Addr>().is_ok())
                    .map(|f| f.ip_address.clone());
                for f in db.floating_ips.values() {
                    if f.router_id.as_deref() == Some(r.id.as_str())
                        && f.port_id.is_some()
                        && f.floating_ip_address.parse::<Ipv4Addr>().is_ok()
                    {
                        addrs.insert(format!("{}/32", f.floating_ip_address));
                    }
                }
                if let Some(gw) = p
                    .fixed_ips
                    .iter()
                    .filter_map(|f| db.subnets.get(&f.subnet_id))
                    .find_map(|s| s.gateway_ip.clone())
                    .filter(|g| g.parse::<Ipv4Addr>().is_ok())
                {
                    spec.default_route = Some((gw, dev.clone()));
                }
            } else {
                for f in &p.fixed_ips {
                    if let Some(s) = db.subnets.get(&f.subnet_id) {
                        // SNAT is IPv4 only (as Neutron's: IPv6 subnets are routed, not NATed).
                        if s.cidr.parse::<Cidr>().is_ok_and(|c| c.addr.is_ipv4()) {
                            internal.insert(s.cidr.clone());
                        }
                    }
                }
            }
            spec.veths.push(Veth {
                name: dev,
                mac: valid_mac(&p.mac_address).then(|| p.mac_address.to_ascii_lowercase()),
                addrs,
                peer_ns,
                peer,
            });
        }
        if spec.veths.is_empty() {
            continue;
        }
        let ns = names.router(&r.id);
        let snat = r
            .external_gateway_info
            .as_ref()
            .is_some_and(|g| g.enable_snat);
        {
            let dev = gw_dev.unwrap_or_else(|| "qg-none".to_owned());
            let fips: Vec<(String, String)> = db
                .floating_ips
                .values()
                .filter(|f| f.router_id.as_deref() == Some(r.id.as_str()))
                .filter_map(|f| Some((f.floating_ip_address.clone(), f.fixed_ip_address.clone()?)))
                .filter(|(a, b)| a.parse::<Ipv4Addr>().is_ok() && b.parse::<Ipv4Addr>().is_ok())
                .collect();
            out.nft.insert(
                ns.clone(),
                nft::router_nat(&dev, gw_ip.filter(|_| snat).as_deref(), &internal, &fips),
            );
        }
        out.namespaces.insert(ns, spec);
    }

    // The external network reaches the machine through one interface holding its gateway.
    if let Some(ext) = ext_net_id {
        if segments.contains_key(&names.segment(ext)) {
            let addr = db
                .subnets
                .values()
                .filter(|s| s.network_id == ext)
                .find_map(|s| {
                    Some(format!(
                        "{}/{}",
                        s.gateway_ip.clone()?,
                        prefix_len(&s.cidr)?
                    ))
                });
            if let Some(addr) = addr {
                let peer = "tap-host".to_owned();
                let peer_ns = seg_of(&mut segments, names, ext, &peer);
                out.root.veths.push(Veth {
                    name: names.host_link(),
                    mac: None,
                    addrs: [addr].into_iter().collect(),
                    peer_ns,
                    peer,
                });
            }
        }
    }
    out.namespaces.extend(segments);
    out
}

/// An IPv4 or IPv6 network in CIDR notation, checked (so it is safe to put into a script).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl std::str::FromStr for Cidr {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| ())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => l.trim().parse::<u8>().map_err(|_| ())?,
            None => max,
        };
        if len > max {
            return Err(());
        }
        Ok(Cidr { addr, len })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.len == max {
            write!(f, "{}", self.addr)
        } else {
            // nftables refuses host bits in a prefix; mask them.
            match self.addr {
                IpAddr::V4(a) => {
                    let bits = u32::from(a)
                        & (u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0));
                    write!(f, "{}/{}", Ipv4Addr::from(bits), self.len)
                }
                IpAddr::V6(a) => {
                    let bits = u128::from(a)
                        & (u128::MAX
                            .checked_shl(128 - u32::from(self.len))
                            .unwrap_or(0));
                    write!(f, "{}/{}", std::net::Ipv6Addr::from(bits), self.len)
                }
            }
        }
    }
}
