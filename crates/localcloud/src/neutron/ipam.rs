//! IPAM: IPv4 CIDRs, address allocation from pools, MAC addresses.

use super::*;

/// A parsed IPv4 CIDR.
#[derive(Debug, Clone, Copy)]
pub struct Cidr {
    pub net: u32,
    pub prefix: u32,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (ip, len) = s.split_once('/')?;
        let ip: Ipv4Addr = ip.parse().ok()?;
        let prefix: u32 = len.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        let mask = Self::mask_of(prefix);
        Some(Cidr {
            net: u32::from(ip) & mask,
            prefix,
        })
    }
    fn mask_of(prefix: u32) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }
    pub fn mask(&self) -> u32 {
        Self::mask_of(self.prefix)
    }
    pub fn broadcast(&self) -> u32 {
        self.net | !self.mask()
    }
    pub fn contains(&self, ip: u32) -> bool {
        ip & self.mask() == self.net
    }
    pub fn overlaps(&self, o: &Cidr) -> bool {
        self.contains(o.net) || o.contains(self.net)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.net), self.prefix)
    }
}

pub(super) fn ip(s: &str) -> Option<u32> {
    s.parse::<Ipv4Addr>().ok().map(u32::from)
}

pub(super) fn ip_str(n: u32) -> String {
    Ipv4Addr::from(n).to_string()
}

/// Addresses in use on a subnet (ports, gateway).
pub(super) fn used_ips(db: &Db, subnet: &Subnet) -> BTreeSet<u32> {
    let mut used: BTreeSet<u32> = db
        .ports
        .values()
        .flat_map(|p| p.fixed_ips.iter())
        .filter(|f| f.subnet_id == subnet.id)
        .filter_map(|f| ip(&f.ip_address))
        .collect();
    if let Some(g) = subnet.gateway_ip.as_deref().and_then(ip) {
        used.insert(g);
    }
    used
}

/// Allocates an address on a subnet: `wanted` if free, else the first free one in its pools.
pub(super) fn allocate(
    db: &Db,
    subnet: &Subnet,
    wanted: Option<&str>,
    allow_gateway: bool,
    extra: &[FixedIp],
) -> ApiResult<String> {
    let cidr = Cidr::parse(&subnet.cidr).ok_or_else(|| {
        ApiError::internal(S, format!("stored subnet {} has a bad cidr", subnet.id))
    })?;
    let mut used = used_ips(db, subnet);
    used.extend(
        extra
            .iter()
            .filter(|f| f.subnet_id == subnet.id)
            .filter_map(|f| ip(&f.ip_address)),
    );
    if allow_gateway {
        if let Some(g) = subnet.gateway_ip.as_deref().and_then(ip) {
            used.remove(&g);
            if db.ports.values().any(|p| {
                p.fixed_ips
                    .iter()
                    .any(|f| f.subnet_id == subnet.id && ip(&f.ip_address) == Some(g))
            }) {
                used.insert(g);
            }
        }
    }
    if let Some(wanted) = wanted {
        let n = ip(wanted).ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!(
                    "Invalid input for ip_address. Reason: '{wanted}' is not a valid IP address."
                ),
            )
        })?;
        if !cidr.contains(n) || n == cidr.net || (n == cidr.broadcast() && cidr.prefix < 31) {
            return Err(ApiError::bad_request(
                S,
                format!("IP address {wanted} is not a valid IP for the specified subnet."),
            )
            .kind("InvalidIpForSubnet"));
        }
        if used.contains(&n) {
            return Err(ApiError::conflict(
                S,
                format!(
                    "IP address {wanted} already allocated in subnet {}",
                    subnet.id
                ),
            )
            .kind("IpAddressAlreadyAllocated"));
        }
        return Ok(wanted.to_owned());
    }
    for pool in &subnet.allocation_pools {
        let (Some(start), Some(end)) = (ip(&pool.start), ip(&pool.end)) else {
            continue;
        };
        let mut n = start;
        while n <= end {
            if !used.contains(&n) {
                return Ok(ip_str(n));
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

pub(super) fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

/// Requested `(subnet_id, ip_address)` pairs.
pub(super) type FixedRequest = Vec<(Option<String>, Option<String>)>;
