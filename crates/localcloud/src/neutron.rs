//! Neutron v2.0: networks (with the `X-SDN` header and `GET /v2.0/available-sdn`), subnets with
//! real IPAM (allocation pools, gateway, no duplicate addresses), ports, security groups with the
//! default egress rules, routers and their interfaces, and floating IPs on the external networks
//! `ext-net` (SDN `neutron`) and `internet` (SDN `sprut`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use vitrina_openstack::wire::network as w;

use crate::body::{self, opt, req, Schema, Ty};
use crate::error::{ApiError, ApiResult, Service};
use crate::model::{
    FixedIp, FloatingIp, GatewayInfo, Network, Pool, Port, SecurityGroup, SgRule, State as Db,
    Subnet,
};
use crate::util::{self, get_bool, get_int, get_str, get_str_list, new_id, now, Ctx};
use crate::{AppState, Cloud};

const S: Service = Service::Network;
pub const EXT_NET: &str = "ext-net";
pub const INTERNET_NET: &str = "internet";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networking", get(versions))
        .route("/networking/", get(versions))
        .route("/networking/v2.0", get(version))
        .route("/networking/v2.0/", get(version))
        .route("/networking/v2.0/extensions", get(extensions))
        .route("/networking/v2.0/extensions/{alias}", get(extension))
        .route("/networking/v2.0/available-sdn", get(available_sdn))
        .route(
            "/networking/v2.0/networks",
            get(list_networks).post(create_network),
        )
        .route(
            "/networking/v2.0/networks/{id}",
            get(show_network).put(update_network).delete(delete_network),
        )
        .route(
            "/networking/v2.0/subnets",
            get(list_subnets).post(create_subnet),
        )
        .route(
            "/networking/v2.0/subnets/{id}",
            get(show_subnet).put(update_subnet).delete(delete_subnet),
        )
        .route("/networking/v2.0/ports", get(list_ports).post(create_port))
        .route(
            "/networking/v2.0/ports/{id}",
            get(show_port).put(update_port).delete(delete_port),
        )
        .route(
            "/networking/v2.0/security-groups",
            get(list_sgs).post(create_sg),
        )
        .route(
            "/networking/v2.0/security-groups/{id}",
            get(show_sg).put(update_sg).delete(delete_sg),
        )
        .route(
            "/networking/v2.0/security-group-rules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/networking/v2.0/security-group-rules/{id}",
            get(show_rule).delete(delete_rule),
        )
        .route(
            "/networking/v2.0/routers",
            get(list_routers).post(create_router),
        )
        .route(
            "/networking/v2.0/routers/{id}",
            get(show_router).put(update_router).delete(delete_router),
        )
        .route(
            "/networking/v2.0/routers/{id}/add_router_interface",
            put(add_interface),
        )
        .route(
            "/networking/v2.0/routers/{id}/remove_router_interface",
            put(remove_interface),
        )
        .route(
            "/networking/v2.0/floatingips",
            get(list_fips).post(create_fip),
        )
        .route(
            "/networking/v2.0/floatingips/{id}",
            get(show_fip).put(update_fip).delete(delete_fip),
        )
        .route("/networking/v2.0/quotas/{project}", get(quotas))
}

// ------------------------------------------------------------------------------------------
// IPAM
// ------------------------------------------------------------------------------------------

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

fn ip(s: &str) -> Option<u32> {
    s.parse::<Ipv4Addr>().ok().map(u32::from)
}

fn ip_str(n: u32) -> String {
    Ipv4Addr::from(n).to_string()
}

/// Addresses in use on a subnet (ports, gateway).
fn used_ips(db: &Db, subnet: &Subnet) -> BTreeSet<u32> {
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
fn allocate(
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

fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

// ------------------------------------------------------------------------------------------
// Bootstrap and internal helpers used by Nova
// ------------------------------------------------------------------------------------------

fn external_network(
    db: &mut Db,
    name: &str,
    sdn: &str,
    cidr: &str,
    start: &str,
    end: &str,
    gw: &str,
) -> String {
    if let Some(n) = db.networks.values().find(|n| n.name == name && n.external) {
        return n.id.clone();
    }
    let t = now();
    let net = Network {
        id: new_id(),
        project_id: db
            .bootstrap
            .as_ref()
            .map(|b| b.admin_project_id.clone())
            .unwrap_or_default(),
        name: name.into(),
        description: format!("External network for floating IPs (SDN {sdn})"),
        admin_state_up: true,
        shared: false,
        external: true,
        mtu: 1500,
        port_security_enabled: true,
        sdn: sdn.into(),
        tags: vec![],
        created_at: t.clone(),
        updated_at: t.clone(),
    };
    let sub = Subnet {
        id: new_id(),
        project_id: net.project_id.clone(),
        network_id: net.id.clone(),
        name: format!("{name}-subnet"),
        description: String::new(),
        cidr: cidr.into(),
        gateway_ip: Some(gw.into()),
        allocation_pools: vec![Pool {
            start: start.into(),
            end: end.into(),
        }],
        enable_dhcp: false,
        dns_nameservers: vec![],
        ip_version: 4,
        tags: vec![],
        created_at: t.clone(),
        updated_at: t,
    };
    let id = net.id.clone();
    db.subnets.insert(sub.id.clone(), sub);
    db.networks.insert(id.clone(), net);
    id
}

/// Creates the external networks on first start. `ext-net`'s range is the `external_cidr`
/// setting (default: a /24 of 198.18.0.0/15); its gateway address is the machine's side of it.
pub fn bootstrap(cloud: &Cloud) {
    let default = crate::dataplane::default_external_cidr(&cloud.cfg.data_dir);
    let mut cidr = cloud.cfg.external_cidr.clone().unwrap_or(default.clone());
    let (gw, start, end) = match crate::dataplane::range_of(&cidr) {
        Some(r) => r,
        None => {
            tracing::warn!("localcloud: external range `{cidr}` is not an IPv4 CIDR of /16 to /29; using {default}");
            cidr = default;
            crate::dataplane::range_of(&cidr).unwrap_or_default()
        }
    };
    cloud.store.write(|db| {
        let ext = external_network(db, EXT_NET, "neutron", &cidr, &start, &end, &gw);
        let inet = external_network(
            db,
            INTERNET_NET,
            "sprut",
            "127.101.0.0/16",
            "127.101.0.10",
            "127.101.255.250",
            "127.101.0.1",
        );
        if let Some(b) = db.bootstrap.as_mut() {
            b.ext_net_id = ext;
            b.internet_net_id = inet;
        }
    });
}

/// The project's `default` security group, created with Neutron's default rules when missing.
pub fn ensure_default_sg(db: &mut Db, project_id: &str) -> String {
    if let Some(sg) = db
        .security_groups
        .values()
        .find(|g| g.project_id == project_id && g.name == "default")
    {
        return sg.id.clone();
    }
    let t = now();
    let sg = SecurityGroup {
        id: new_id(),
        project_id: project_id.into(),
        name: "default".into(),
        description: "Default security group".into(),
        tags: vec![],
        created_at: t.clone(),
        updated_at: t,
    };
    let id = sg.id.clone();
    db.security_groups.insert(id.clone(), sg);
    for (dir, eth, remote) in [
        ("egress", "IPv4", false),
        ("egress", "IPv6", false),
        ("ingress", "IPv4", true),
        ("ingress", "IPv6", true),
    ] {
        add_rule(db, project_id, &id, dir, eth, remote.then(|| id.clone()));
    }
    id
}

fn add_rule(
    db: &mut Db,
    project_id: &str,
    sg: &str,
    direction: &str,
    ethertype: &str,
    remote_group: Option<String>,
) {
    let t = now();
    let r = SgRule {
        id: new_id(),
        project_id: project_id.into(),
        security_group_id: sg.into(),
        direction: direction.into(),
        ethertype: ethertype.into(),
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_group_id: remote_group,
        description: String::new(),
        created_at: t.clone(),
        updated_at: t,
    };
    db.sg_rules.insert(r.id.clone(), r);
}

/// Whether a project sees a network (its own, shared or external).
fn net_visible(n: &Network, ctx: &Ctx) -> bool {
    n.project_id == ctx.project_id || n.shared || n.external
}

/// A port on a network for a project; `fixed` pairs are (subnet, address) requests.
#[allow(clippy::too_many_arguments)]
pub fn new_port(
    db: &mut Db,
    project_id: &str,
    network_id: &str,
    fixed: Option<Vec<(Option<String>, Option<String>)>>,
    device_id: &str,
    device_owner: &str,
    security_groups: Option<Vec<String>>,
    name: &str,
) -> ApiResult<Port> {
    let net = db
        .networks
        .get(network_id)
        .cloned()
        .ok_or_else(|| net_not_found(network_id))?;
    let subnets: Vec<Subnet> = db
        .subnets
        .values()
        .filter(|s| s.network_id == net.id)
        .cloned()
        .collect();
    let mut fixed_ips = Vec::new();
    let wants_gateway = device_owner == "network:router_interface";
    match fixed {
        None => {
            // One address from the first IPv4 subnet, like Neutron.
            if let Some(sub) = subnets.first() {
                let addr = allocate(db, sub, None, wants_gateway, &[])?;
                fixed_ips.push(FixedIp {
                    subnet_id: sub.id.clone(),
                    ip_address: addr,
                });
            }
        }
        Some(list) => {
            for (subnet_id, addr) in list {
                let sub = match (&subnet_id, &addr) {
                    (Some(sid), _) => subnets.iter().find(|s| &s.id == sid).ok_or_else(|| {
                        ApiError::bad_request(S, format!("Invalid input for operation: Failed to create port on network {network_id}, because fixed_ips included invalid subnet {sid}.")).kind("InvalidInput")
                    })?,
                    (None, Some(a)) => {
                        let n = ip(a).ok_or_else(|| ApiError::bad_request(S, format!("Invalid input for ip_address. Reason: '{a}' is not a valid IP address.")))?;
                        subnets.iter().find(|s| Cidr::parse(&s.cidr).is_some_and(|c| c.contains(n))).ok_or_else(|| {
                            ApiError::bad_request(S, format!("IP address {a} is not a valid IP for any of the subnets on the specified network.")).kind("InvalidIpForNetwork")
                        })?
                    }
                    (None, None) => subnets.first().ok_or_else(|| ApiError::bad_request(S, "Invalid input for operation: fixed_ips needs a subnet_id or ip_address."))?,
                };
                let a = allocate(db, sub, addr.as_deref(), wants_gateway, &fixed_ips)?;
                let entry = FixedIp {
                    subnet_id: sub.id.clone(),
                    ip_address: a,
                };
                if fixed_ips.contains(&entry) {
                    return Err(ApiError::bad_request(
                        S,
                        "Duplicate IP address in fixed_ips.",
                    ));
                }
                fixed_ips.push(entry);
            }
        }
    }
    let sgs = match security_groups {
        Some(list) => {
            for g in &list {
                if db
                    .security_groups
                    .get(g)
                    .is_none_or(|x| x.project_id != project_id)
                {
                    return Err(ApiError::not_found(
                        S,
                        format!("Security group {g} does not exist"),
                    )
                    .kind("SecurityGroupNotFound"));
                }
            }
            list
        }
        None if device_owner.starts_with("network:")
            || !net.port_security_enabled
            || project_id.is_empty() =>
        {
            vec![]
        }
        None => vec![ensure_default_sg(db, project_id)],
    };
    let t = now();
    let port = Port {
        id: new_id(),
        project_id: project_id.into(),
        network_id: network_id.into(),
        name: name.into(),
        description: String::new(),
        admin_state_up: true,
        mac_address: random_mac(),
        fixed_ips,
        device_id: device_id.into(),
        device_owner: device_owner.into(),
        security_groups: sgs,
        port_security_enabled: net.port_security_enabled,
        allowed_address_pairs: vec![],
        status: if device_id.is_empty() {
            "DOWN".into()
        } else {
            "ACTIVE".into()
        },
        dns_name: String::new(),
        tags: vec![],
        created_at: t.clone(),
        updated_at: t,
    };
    db.ports.insert(port.id.clone(), port.clone());
    Ok(port)
}

/// Removes a port and clears floating IPs pointing at it.
pub fn remove_port(db: &mut Db, port_id: &str) {
    db.ports.remove(port_id);
    for f in db.floating_ips.values_mut() {
        if f.port_id.as_deref() == Some(port_id) {
            f.port_id = None;
            f.fixed_ip_address = None;
            f.router_id = None;
            f.status = "DOWN".into();
        }
    }
}

/// Associates a floating IP with a port (Neutron rules: a router joins the port's subnet and the
/// floating network).
pub fn associate(db: &mut Db, fip_id: &str, port_id: &str, fixed: Option<&str>) -> ApiResult<()> {
    let fip = db
        .floating_ips
        .get(fip_id)
        .cloned()
        .ok_or_else(|| fip_not_found(fip_id))?;
    let port = db
        .ports
        .get(port_id)
        .cloned()
        .ok_or_else(|| port_not_found(port_id))?;
    if port.project_id != fip.project_id {
        return Err(port_not_found(port_id));
    }
    let fixed_ip = match fixed {
        Some(a) => port
            .fixed_ips
            .iter()
            .find(|f| f.ip_address == a)
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_request(S, format!("Port {port_id} does not have fixed ip {a}"))
            })?,
        None => port.fixed_ips.first().cloned().ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!("Bad floatingip request: Port {port_id} does not have any IPv4 address."),
            )
        })?,
    };
    if let Some(other) = db.floating_ips.values().find(|f| {
        f.id != fip.id
            && f.port_id.as_deref() == Some(port_id)
            && f.fixed_ip_address.as_deref() == Some(fixed_ip.ip_address.as_str())
    }) {
        return Err(ApiError::conflict(S, format!("Cannot associate floating IP {} ({}) with port {port_id} using fixed IP {}, as that fixed IP already has a floating IP on external network {}.", fip.floating_ip_address, fip.id, fixed_ip.ip_address, other.floating_network_id)).kind("FloatingIPPortAlreadyAssociated"));
    }
    // A router with a gateway on the floating network and an interface on the port's subnet.
    let router = db.routers.values().find(|r| {
        r.external_gateway_info
            .as_ref()
            .is_some_and(|g| g.network_id == fip.floating_network_id)
            && db.ports.values().any(|p| {
                p.device_id == r.id
                    && p.device_owner == "network:router_interface"
                    && p.fixed_ips
                        .iter()
                        .any(|f| f.subnet_id == fixed_ip.subnet_id)
            })
    });
    let router_id = router.map(|r| r.id.clone()).ok_or_else(|| {
        ApiError::not_found(S, format!("External network {} is not reachable from subnet {}.  Therefore, cannot associate Port {port_id} with a Floating IP.", fip.floating_network_id, fixed_ip.subnet_id)).kind("ExternalGatewayForFloatingIPNotFound")
    })?;
    if let Some(f) = db.floating_ips.get_mut(fip_id) {
        f.port_id = Some(port_id.into());
        f.fixed_ip_address = Some(fixed_ip.ip_address);
        f.router_id = Some(router_id);
        f.status = "ACTIVE".into();
        f.updated_at = now();
    }
    Ok(())
}

pub fn disassociate(db: &mut Db, fip_id: &str) {
    if let Some(f) = db.floating_ips.get_mut(fip_id) {
        f.port_id = None;
        f.fixed_ip_address = None;
        f.router_id = None;
        f.status = "DOWN".into();
        f.updated_at = now();
    }
}

// ------------------------------------------------------------------------------------------
// Views
// ------------------------------------------------------------------------------------------

fn net_view(db: &Db, n: &Network) -> Value {
    let subnets: Vec<String> = db
        .subnets
        .values()
        .filter(|s| s.network_id == n.id)
        .map(|s| s.id.clone())
        .collect();
    let v = w::Network {
        id: n.id.clone(),
        name: n.name.clone(),
        description: n.description.clone(),
        admin_state_up: n.admin_state_up,
        status: "ACTIVE".into(),
        subnets,
        shared: n.shared,
        project_id: n.project_id.clone(),
        tenant_id: n.project_id.clone(),
        router_external: n.external,
        mtu: u32::try_from(n.mtu).ok(),
        port_security_enabled: Some(n.port_security_enabled),
        dns_domain: Some(String::new()),
        availability_zones: Some(vec!["nova".into()]),
        availability_zone_hints: Some(vec![]),
        provider_network_type: None,
        provider_physical_network: None,
        provider_segmentation_id: None,
        tags: n.tags.clone(),
        created_at: Some(n.created_at.clone()),
        updated_at: Some(n.updated_at.clone()),
        revision_number: Some(1),
    };
    let mut v = serde_json::to_value(v).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("sdn".into(), json!(n.sdn));
        o.insert("is_default".into(), json!(false));
    }
    v
}

fn subnet_view(s: &Subnet) -> Value {
    let v = w::Subnet {
        id: s.id.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        network_id: s.network_id.clone(),
        cidr: s.cidr.clone(),
        ip_version: 4,
        gateway_ip: s.gateway_ip.clone(),
        enable_dhcp: s.enable_dhcp,
        allocation_pools: s
            .allocation_pools
            .iter()
            .map(|p| w::AllocationPool {
                start: p.start.clone(),
                end: p.end.clone(),
            })
            .collect(),
        dns_nameservers: s.dns_nameservers.clone(),
        host_routes: vec![],
        subnetpool_id: None,
        ipv6_ra_mode: None,
        ipv6_address_mode: None,
        project_id: s.project_id.clone(),
        tenant_id: s.project_id.clone(),
        service_types: vec![],
        tags: s.tags.clone(),
        created_at: Some(s.created_at.clone()),
        updated_at: Some(s.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn port_view(p: &Port) -> Value {
    let v = w::Port {
        id: p.id.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        network_id: p.network_id.clone(),
        admin_state_up: p.admin_state_up,
        status: p.status.clone(),
        mac_address: p.mac_address.clone(),
        fixed_ips: p
            .fixed_ips
            .iter()
            .map(|f| w::FixedIp {
                subnet_id: Some(f.subnet_id.clone()),
                ip_address: Some(f.ip_address.clone()),
            })
            .collect(),
        device_id: p.device_id.clone(),
        device_owner: p.device_owner.clone(),
        security_groups: p.security_groups.clone(),
        port_security_enabled: Some(p.port_security_enabled),
        allowed_address_pairs: p
            .allowed_address_pairs
            .iter()
            .filter_map(|a| serde_json::from_value(a.clone()).ok())
            .collect(),
        extra_dhcp_opts: vec![],
        dns_name: Some(p.dns_name.clone()),
        dns_assignment: None,
        binding_vnic_type: Some("normal".into()),
        binding_host_id: None,
        project_id: p.project_id.clone(),
        tenant_id: p.project_id.clone(),
        tags: p.tags.clone(),
        created_at: Some(p.created_at.clone()),
        updated_at: Some(p.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn rule_wire(r: &SgRule) -> w::SecurityGroupRule {
    w::SecurityGroupRule {
        id: r.id.clone(),
        security_group_id: r.security_group_id.clone(),
        direction: r.direction.clone(),
        ethertype: r.ethertype.clone(),
        protocol: r.protocol.clone(),
        port_range_min: r.port_range_min.and_then(|x| u32::try_from(x).ok()),
        port_range_max: r.port_range_max.and_then(|x| u32::try_from(x).ok()),
        remote_ip_prefix: r.remote_ip_prefix.clone(),
        remote_group_id: r.remote_group_id.clone(),
        remote_address_group_id: None,
        description: r.description.clone(),
        project_id: r.project_id.clone(),
        tenant_id: r.project_id.clone(),
        created_at: Some(r.created_at.clone()),
        updated_at: Some(r.updated_at.clone()),
        revision_number: Some(0),
    }
}

fn rule_view(r: &SgRule) -> Value {
    serde_json::to_value(rule_wire(r)).unwrap_or(Value::Null)
}

fn sg_view(db: &Db, g: &SecurityGroup) -> Value {
    let v = w::SecurityGroup {
        id: g.id.clone(),
        name: g.name.clone(),
        description: g.description.clone(),
        project_id: g.project_id.clone(),
        tenant_id: g.project_id.clone(),
        security_group_rules: db
            .sg_rules
            .values()
            .filter(|r| r.security_group_id == g.id)
            .map(rule_wire)
            .collect(),
        stateful: Some(true),
        shared: Some(false),
        tags: g.tags.clone(),
        created_at: Some(g.created_at.clone()),
        updated_at: Some(g.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn router_view(r: &crate::model::Router) -> Value {
    let v = w::Router {
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        status: "ACTIVE".into(),
        admin_state_up: r.admin_state_up,
        external_gateway_info: r
            .external_gateway_info
            .as_ref()
            .map(|g| w::ExternalGatewayInfo {
                network_id: g.network_id.clone(),
                enable_snat: Some(g.enable_snat),
                external_fixed_ips: Some(
                    g.external_fixed_ips
                        .iter()
                        .map(|f| w::FixedIp {
                            subnet_id: Some(f.subnet_id.clone()),
                            ip_address: Some(f.ip_address.clone()),
                        })
                        .collect(),
                ),
            }),
        routes: vec![],
        project_id: r.project_id.clone(),
        tenant_id: r.project_id.clone(),
        distributed: Some(false),
        ha: Some(false),
        availability_zones: Some(vec!["nova".into()]),
        tags: r.tags.clone(),
        created_at: Some(r.created_at.clone()),
        updated_at: Some(r.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn fip_view(f: &FloatingIp) -> Value {
    let v = w::FloatingIp {
        id: f.id.clone(),
        floating_ip_address: f.floating_ip_address.clone(),
        floating_network_id: f.floating_network_id.clone(),
        router_id: f.router_id.clone(),
        port_id: f.port_id.clone(),
        fixed_ip_address: f.fixed_ip_address.clone(),
        status: f.status.clone(),
        description: f.description.clone(),
        project_id: f.project_id.clone(),
        tenant_id: f.project_id.clone(),
        port_details: None,
        dns_name: None,
        dns_domain: None,
        qos_policy_id: None,
        tags: f.tags.clone(),
        created_at: Some(f.created_at.clone()),
        updated_at: Some(f.updated_at.clone()),
        revision_number: Some(1),
    };
    serde_json::to_value(v).unwrap_or(Value::Null)
}

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

fn net_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Network {id} could not be found.")).kind("NetworkNotFound")
}
fn subnet_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Subnet {id} could not be found.")).kind("SubnetNotFound")
}
fn port_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Port {id} could not be found.")).kind("PortNotFound")
}
fn sg_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Security group {id} does not exist"))
        .kind("SecurityGroupNotFound")
}
fn rule_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Security group rule {id} does not exist"))
        .kind("SecurityGroupRuleNotFound")
}
fn router_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Router {id} could not be found")).kind("RouterNotFound")
}
fn fip_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Floating IP {id} could not be found"))
        .kind("FloatingIPNotFound")
}

// ------------------------------------------------------------------------------------------
// Lists: generic filters, `fields`, pagination
// ------------------------------------------------------------------------------------------

const NON_FILTERS: &[&str] = &[
    "limit",
    "marker",
    "fields",
    "sort_key",
    "sort_dir",
    "page_reverse",
    "verbose",
];

fn value_matches(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Bool(b) => want.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == want,
        Value::Null => want.is_empty() || want == "None",
        Value::Array(a) => a.iter().any(|x| value_matches(x, want)),
        Value::Object(_) => false,
    }
}

fn matches_filters(item: &Value, query: &util::Query) -> bool {
    let mut keys: Vec<&str> = query
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !NON_FILTERS.contains(k))
        .collect();
    keys.dedup();
    keys.iter().all(|key| {
        let wants: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect();
        wants.iter().any(|want| {
            if *key == "fixed_ips" {
                // `fixed_ips=ip_address=10.0.0.5` or `fixed_ips=subnet_id=…`
                let (fk, fv) = want.split_once('=').unwrap_or(("ip_address", want));
                return item
                    .get("fixed_ips")
                    .and_then(Value::as_array)
                    .is_some_and(|a| {
                        a.iter()
                            .any(|f| f.get(fk).is_some_and(|x| value_matches(x, fv)))
                    });
            }
            if *key == "security_group_id"
                && item.get("security_groups").is_some()
                && item.get("security_group_id").is_none()
            {
                return item
                    .get("security_groups")
                    .is_some_and(|x| value_matches(x, want));
            }
            match item.get(*key) {
                Some(v) => value_matches(v, want),
                // Unknown attributes filter nothing out, as in Neutron.
                None => true,
            }
        })
    })
}

fn list_response(
    c: &Cloud,
    plural: &str,
    items: Vec<Value>,
    query: &util::Query,
) -> ApiResult<Json<Value>> {
    let filtered: Vec<Value> = items
        .into_iter()
        .filter(|i| matches_filters(i, query))
        .collect();
    let (limit, marker) = util::page_params(query, S)?;
    let (page, more) = util::paginate(
        filtered,
        |v| v.get("id").and_then(Value::as_str).unwrap_or(""),
        limit,
        marker.as_deref(),
        S,
    )?;
    let fields: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "fields")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut links = Vec::new();
    if more {
        if let Some(last) = page
            .last()
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
        {
            links.push(json!({"rel": "next", "href": c.url(&format!("/networking/v2.0/{plural}?{}", util::next_query(query, last)))}));
        }
    }
    let page: Vec<Value> = if fields.is_empty() {
        page
    } else {
        page.into_iter()
            .map(|v| match v {
                Value::Object(m) => Value::Object(
                    m.into_iter()
                        .filter(|(k, _)| fields.contains(&k.as_str()))
                        .collect(),
                ),
                other => other,
            })
            .collect()
    };
    let mut out = Map::new();
    out.insert(plural.replace('-', "_"), Value::Array(page));
    if !links.is_empty() {
        out.insert(
            format!("{}_links", plural.replace('-', "_")),
            Value::Array(links),
        );
    }
    Ok(Json(Value::Object(out)))
}

fn created(key: &str, v: Value) -> Response {
    (StatusCode::CREATED, Json(json!({key: v}))).into_response()
}

fn sdn_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(w::SDN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase())
}

// ------------------------------------------------------------------------------------------
// Handlers
// ------------------------------------------------------------------------------------------

async fn versions(State(c): State<AppState>) -> Json<Value> {
    Json(
        json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": c.url("/networking/v2.0/"), "rel": "self"}]}]}),
    )
}

async fn version(State(c): State<AppState>) -> Json<Value> {
    let resources: Vec<Value> = ["network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule"]
        .iter()
        .map(|r| {
            let plural = if *r == "security_group" { "security-groups".to_owned() } else if *r == "security_group_rule" { "security-group-rules".to_owned() } else { format!("{r}s") };
            json!({"name": r, "collection": plural, "links": [{"href": c.url(&format!("/networking/v2.0/{plural}")), "rel": "self"}]})
        })
        .collect();
    Json(json!({"resources": resources}))
}

const EXTENSIONS: &[(&str, &str)] = &[
    ("router", "Neutron L3 Router"),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode"),
    ("security-group", "security-group"),
    ("port-security", "Port Security"),
    ("external-net", "Neutron external network"),
    ("binding", "Port Binding"),
    ("standard-attr-description", "standard-attr-description"),
    ("standard-attr-timestamp", "Resource timestamps"),
    ("standard-attr-tag", "Tag support for resources with standard attribute: port, subnet, network, router, floatingip, security_group"),
    ("allowed-address-pairs", "Allowed Address Pairs"),
    ("net-mtu", "Network MTU"),
    ("quotas", "Quota management support"),
];

fn ext_json(alias: &str, name: &str) -> Value {
    json!({"alias": alias, "name": name, "description": name, "updated": "2013-01-20T00:00:00-00:00", "links": []})
}

async fn extensions() -> Json<Value> {
    Json(json!({"extensions": EXTENSIONS.iter().map(|(a, n)| ext_json(a, n)).collect::<Vec<_>>()}))
}

async fn extension(Path(alias): Path<String>) -> ApiResult<Json<Value>> {
    EXTENSIONS
        .iter()
        .find(|(a, _)| *a == alias)
        .map(|(a, n)| Json(json!({"extension": ext_json(a, n)})))
        .ok_or_else(|| {
            ApiError::not_found(S, format!("Extension with alias {alias} does not exist"))
        })
}

async fn available_sdn(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<w::AvailableSdn>> {
    c.auth(&headers, S)?;
    Ok(Json(vec!["neutron".into(), "sprut".into()]))
}

async fn quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(_p): Path<String>,
) -> ApiResult<Json<Value>> {
    c.auth(&headers, S)?;
    Ok(Json(
        json!({"quota": {"network": 100, "subnet": 100, "port": 5000, "router": 10, "floatingip": 50, "security_group": 100, "security_group_rule": 1000}}),
    ))
}

// --- networks

const NET_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("network"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("admin_state_up", Ty::BoolLike),
        opt("shared", Ty::BoolLike),
        opt("port_security_enabled", Ty::BoolLike),
        opt("router:external", Ty::BoolLike),
        opt("mtu", Ty::IntLike),
        opt("dns_domain", Ty::Str),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("availability_zone_hints", Ty::Arr),
        opt("qos_policy_id", Ty::OptStr),
        opt("is_default", Ty::BoolLike),
        opt("tags", Ty::Arr),
        opt("provider:network_type", Ty::Str),
        opt("provider:physical_network", Ty::Str),
        opt("provider:segmentation_id", Ty::IntLike),
    ],
    additional: false,
    siblings: &[],
};

async fn list_networks(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let sdn = sdn_header(&headers);
    let items = c.store.read(|db| {
        db.networks
            .values()
            .filter(|n| net_visible(n, &ctx))
            .filter(|n| sdn.as_ref().is_none_or(|s| &n.sdn == s))
            .map(|n| net_view(db, n))
            .collect()
    });
    list_response(&c, "networks", items, &query)
}

async fn show_network(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.networks
                .get(&id)
                .filter(|n| net_visible(n, &ctx))
                .map(|n| Json(json!({"network": net_view(db, n)})))
        })
        .ok_or_else(|| net_not_found(&id))
}

async fn create_network(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&NET_SCHEMA, body::parse_json(S, &bytes)?)?;
    if (get_bool(&m, "router:external") == Some(true) || get_bool(&m, "shared") == Some(true))
        && !ctx.is_admin()
    {
        return Err(ApiError::forbidden(
            S,
            "(rule:create_network and rule:create_network:shared) is disallowed by policy",
        )
        .kind("PolicyNotAuthorized"));
    }
    let sdn = sdn_header(&headers).unwrap_or_else(|| "neutron".into());
    if sdn != "neutron" && sdn != "sprut" {
        return Err(ApiError::bad_request(
            S,
            format!("Invalid SDN `{sdn}`: use neutron or sprut"),
        ));
    }
    let t = now();
    let n = Network {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        name: get_str(&m, "name").unwrap_or_default(),
        description: get_str(&m, "description").unwrap_or_default(),
        admin_state_up: get_bool(&m, "admin_state_up").unwrap_or(true),
        shared: get_bool(&m, "shared").unwrap_or(false),
        external: get_bool(&m, "router:external").unwrap_or(false),
        mtu: get_int(&m, "mtu").unwrap_or(1500),
        port_security_enabled: get_bool(&m, "port_security_enabled").unwrap_or(true),
        sdn,
        tags: get_str_list(&m, "tags"),
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        ensure_default_sg(db, &ctx.project_id);
        db.networks.insert(n.id.clone(), n.clone());
        net_view(db, &n)
    });
    Ok(created("network", v))
}

async fn update_network(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&NET_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        let n = db
            .networks
            .get_mut(&id)
            .filter(|n| n.project_id == ctx.project_id)
            .ok_or_else(|| net_not_found(&id))?;
        if let Some(v) = get_str(&m, "name") {
            n.name = v;
        }
        if let Some(v) = get_str(&m, "description") {
            n.description = v;
        }
        if let Some(v) = get_bool(&m, "admin_state_up") {
            n.admin_state_up = v;
        }
        if let Some(v) = get_bool(&m, "port_security_enabled") {
            n.port_security_enabled = v;
        }
        if let Some(v) = get_int(&m, "mtu") {
            n.mtu = v;
        }
        n.updated_at = now();
        let n = n.clone();
        Ok(Json(json!({"network": net_view(db, &n)})))
    })
}

async fn delete_network(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.networks.get(&id).filter(|n| n.project_id == ctx.project_id).ok_or_else(|| net_not_found(&id))?;
        if db.ports.values().any(|p| p.network_id == id && p.device_owner != "network:dhcp") {
            return Err(ApiError::conflict(S, format!("Unable to complete operation on network {id}. There are one or more ports still in use on the network.")).kind("NetworkInUse"));
        }
        db.subnets.retain(|_, s| s.network_id != id);
        db.networks.remove(&id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- subnets

const SUBNET_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("subnet"),
    fields: &[
        req("network_id", Ty::Str),
        req("ip_version", Ty::IntLike),
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("cidr", Ty::Str),
        opt("prefixlen", Ty::IntLike),
        opt("gateway_ip", Ty::OptStr),
        opt("enable_dhcp", Ty::BoolLike),
        opt("allocation_pools", Ty::Arr),
        opt("dns_nameservers", Ty::Arr),
        opt("host_routes", Ty::Arr),
        opt("subnetpool_id", Ty::OptStr),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("ipv6_ra_mode", Ty::OptStr),
        opt("ipv6_address_mode", Ty::OptStr),
        opt("service_types", Ty::Arr),
        opt("segment_id", Ty::OptStr),
        opt("use_default_subnetpool", Ty::BoolLike),
        opt("dns_publish_fixed_ip", Ty::BoolLike),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

const SUBNET_UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("subnet"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("gateway_ip", Ty::OptStr),
        opt("enable_dhcp", Ty::BoolLike),
        opt("allocation_pools", Ty::Arr),
        opt("dns_nameservers", Ty::Arr),
        opt("host_routes", Ty::Arr),
        opt("service_types", Ty::Arr),
        opt("segment_id", Ty::OptStr),
        opt("dns_publish_fixed_ip", Ty::BoolLike),
    ],
    additional: false,
    siblings: &[],
};

fn parse_pools(v: Option<&Value>, cidr: &Cidr) -> ApiResult<Option<Vec<Pool>>> {
    let Some(v) = v else { return Ok(None) };
    let arr = v.as_array().ok_or_else(|| {
        ApiError::bad_request(S, "Invalid input for allocation_pools. Reason: not a list.")
    })?;
    let mut pools = Vec::new();
    for p in arr {
        let start = p.get("start").and_then(Value::as_str);
        let end = p.get("end").and_then(Value::as_str);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(ApiError::bad_request(S, format!("Invalid input for allocation_pools. Reason: Invalid data format for IP pool: '{p}'.")));
        };
        let (Some(s), Some(e)) = (ip(start), ip(end)) else {
            return Err(ApiError::bad_request(S, format!("Invalid input for allocation_pools. Reason: '{start}' is not a valid IP address.")));
        };
        if s > e || !cidr.contains(s) || !cidr.contains(e) {
            return Err(ApiError::bad_request(
                S,
                format!("The allocation pool {start}-{end} spans beyond the subnet cidr {cidr}."),
            )
            .kind("OutOfBoundsAllocationPool"));
        }
        pools.push(Pool {
            start: start.into(),
            end: end.into(),
        });
    }
    Ok(Some(pools))
}

async fn list_subnets(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.read(|db| {
        db.subnets
            .values()
            .filter(|s| {
                s.project_id == ctx.project_id
                    || db
                        .networks
                        .get(&s.network_id)
                        .is_some_and(|n| net_visible(n, &ctx))
            })
            .map(subnet_view)
            .collect()
    });
    list_response(&c, "subnets", items, &query)
}

fn subnet_visible(db: &Db, s: &Subnet, ctx: &Ctx) -> bool {
    s.project_id == ctx.project_id
        || db
            .networks
            .get(&s.network_id)
            .is_some_and(|n| net_visible(n, ctx))
}

async fn show_subnet(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.subnets
                .get(&id)
                .filter(|s| subnet_visible(db, s, &ctx))
                .map(|s| Json(json!({"subnet": subnet_view(s)})))
        })
        .ok_or_else(|| subnet_not_found(&id))
}

async fn create_subnet(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&SUBNET_SCHEMA, body::parse_json(S, &bytes)?)?;
    if get_int(&m, "ip_version") != Some(4) {
        return Err(ApiError::bad_request(S, "Invalid input for ip_version. Reason: localcloud supports IPv4 subnets only (ip_version 4)."));
    }
    let cidr_s = get_str(&m, "cidr").ok_or_else(|| {
        ApiError::bad_request(
            S,
            "Bad subnets request: a cidr must be specified in the absence of a subnet pool.",
        )
    })?;
    let cidr = Cidr::parse(&cidr_s).ok_or_else(|| {
        ApiError::bad_request(
            S,
            format!("Invalid input for cidr. Reason: '{cidr_s}' is not a valid IP subnet."),
        )
    })?;
    if cidr.prefix > 30 {
        return Err(ApiError::bad_request(
            S,
            format!("Invalid input for operation: Invalid CIDR {cidr_s} for IPv4 subnet."),
        )
        .kind("InvalidInput"));
    }
    let network_id = get_str(&m, "network_id").unwrap_or_default();
    let gateway = match m.get("gateway_ip") {
        Some(Value::Null) => None,
        Some(Value::String(g)) => {
            let n = ip(g).ok_or_else(|| {
                ApiError::bad_request(
                    S,
                    format!(
                        "Invalid input for gateway_ip. Reason: '{g}' is not a valid IP address."
                    ),
                )
            })?;
            if !cidr.contains(n) || n == cidr.net || n == cidr.broadcast() {
                return Err(ApiError::bad_request(
                    S,
                    format!(
                        "Invalid input for operation: Gateway is not valid on subnet {cidr_s}."
                    ),
                )
                .kind("InvalidInput"));
            }
            Some(n)
        }
        _ => Some(cidr.net + 1),
    };
    let pools = match parse_pools(m.get("allocation_pools"), &cidr)? {
        Some(p) => {
            if let Some(g) = gateway {
                for pool in &p {
                    if ip(&pool.start).is_some_and(|s| s <= g)
                        && ip(&pool.end).is_some_and(|e| g <= e)
                    {
                        return Err(ApiError::conflict(
                            S,
                            format!(
                                "Gateway ip {} conflicts with allocation pool {}-{}",
                                ip_str(g),
                                pool.start,
                                pool.end
                            ),
                        )
                        .kind("GatewayConflictWithAllocationPools"));
                    }
                }
            }
            p
        }
        None => {
            // The whole range minus network, broadcast and gateway (split around the gateway).
            let first = cidr.net + 1;
            let last = cidr.broadcast() - 1;
            let mut p = Vec::new();
            match gateway {
                Some(g) if g >= first && g <= last => {
                    if g > first {
                        p.push(Pool {
                            start: ip_str(first),
                            end: ip_str(g - 1),
                        });
                    }
                    if g < last {
                        p.push(Pool {
                            start: ip_str(g + 1),
                            end: ip_str(last),
                        });
                    }
                }
                _ => p.push(Pool {
                    start: ip_str(first),
                    end: ip_str(last),
                }),
            }
            p
        }
    };
    let t = now();
    let sub = Subnet {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        network_id: network_id.clone(),
        name: get_str(&m, "name").unwrap_or_default(),
        description: get_str(&m, "description").unwrap_or_default(),
        cidr: cidr.to_string(),
        gateway_ip: gateway.map(ip_str),
        allocation_pools: pools,
        enable_dhcp: get_bool(&m, "enable_dhcp").unwrap_or(true),
        dns_nameservers: get_str_list(&m, "dns_nameservers"),
        ip_version: 4,
        tags: get_str_list(&m, "tags"),
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        let net = db.networks.get(&network_id).filter(|n| n.project_id == ctx.project_id || n.shared).ok_or_else(|| net_not_found(&network_id))?;
        let _ = net;
        for other in db.subnets.values().filter(|s| s.network_id == network_id) {
            if Cidr::parse(&other.cidr).is_some_and(|o| o.overlaps(&cidr)) {
                return Err(ApiError::bad_request(S, format!("Invalid input for operation: Requested subnet with cidr: {cidr} for network: {network_id} overlaps with another subnet.")).kind("InvalidInput"));
            }
        }
        db.subnets.insert(sub.id.clone(), sub.clone());
        Ok(subnet_view(&sub))
    })?;
    Ok(created("subnet", v))
}

async fn update_subnet(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&SUBNET_UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        let s = db
            .subnets
            .get_mut(&id)
            .filter(|s| s.project_id == ctx.project_id)
            .ok_or_else(|| subnet_not_found(&id))?;
        if let Some(v) = get_str(&m, "name") {
            s.name = v;
        }
        if let Some(v) = get_str(&m, "description") {
            s.description = v;
        }
        if let Some(v) = get_bool(&m, "enable_dhcp") {
            s.enable_dhcp = v;
        }
        if m.contains_key("dns_nameservers") {
            s.dns_nameservers = get_str_list(&m, "dns_nameservers");
        }
        if let Some(cidr) = Cidr::parse(&s.cidr) {
            if let Some(p) = parse_pools(m.get("allocation_pools"), &cidr)? {
                s.allocation_pools = p;
            }
        }
        match m.get("gateway_ip") {
            Some(Value::Null) => s.gateway_ip = None,
            Some(Value::String(g)) => s.gateway_ip = Some(g.clone()),
            _ => {}
        }
        s.updated_at = now();
        Ok(Json(json!({"subnet": subnet_view(s)})))
    })
}

async fn delete_subnet(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.subnets.get(&id).filter(|s| s.project_id == ctx.project_id).ok_or_else(|| subnet_not_found(&id))?;
        if db.ports.values().any(|p| p.fixed_ips.iter().any(|f| f.subnet_id == id)) {
            return Err(ApiError::conflict(S, format!("Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet.")).kind("SubnetInUse"));
        }
        db.subnets.remove(&id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- ports

const PORT_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("port"),
    fields: &[
        req("network_id", Ty::Str),
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("admin_state_up", Ty::BoolLike),
        opt("mac_address", Ty::Str),
        opt("fixed_ips", Ty::Arr),
        opt("device_id", Ty::Str),
        opt("device_owner", Ty::Str),
        opt("security_groups", Ty::Arr),
        opt("port_security_enabled", Ty::BoolLike),
        opt("allowed_address_pairs", Ty::Arr),
        opt("extra_dhcp_opts", Ty::Arr),
        opt("dns_name", Ty::Str),
        opt("dns_domain", Ty::Str),
        opt("binding:vnic_type", Ty::Str),
        opt("binding:host_id", Ty::Str),
        opt("binding:profile", Ty::Obj),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("qos_policy_id", Ty::OptStr),
        opt("propagate_uplink_status", Ty::BoolLike),
        opt("numa_affinity_policy", Ty::OptStr),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

const PORT_UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("port"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("admin_state_up", Ty::BoolLike),
        opt("fixed_ips", Ty::Arr),
        opt("device_id", Ty::Str),
        opt("device_owner", Ty::Str),
        opt("security_groups", Ty::Arr),
        opt("port_security_enabled", Ty::BoolLike),
        opt("allowed_address_pairs", Ty::Arr),
        opt("extra_dhcp_opts", Ty::Arr),
        opt("dns_name", Ty::Str),
        opt("binding:vnic_type", Ty::Str),
        opt("binding:host_id", Ty::Str),
        opt("binding:profile", Ty::Obj),
        opt("qos_policy_id", Ty::OptStr),
        opt("mac_address", Ty::Str),
    ],
    additional: false,
    siblings: &[],
};

/// Requested `(subnet_id, ip_address)` pairs.
type FixedRequest = Vec<(Option<String>, Option<String>)>;

fn parse_fixed_ips(v: Option<&Value>) -> ApiResult<Option<FixedRequest>> {
    let Some(v) = v else { return Ok(None) };
    let arr = v.as_array().ok_or_else(|| {
        ApiError::bad_request(S, "Invalid input for fixed_ips. Reason: not a list.")
    })?;
    let mut out = Vec::new();
    for f in arr {
        let o = f.as_object().ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!("Invalid input for fixed_ips. Reason: '{f}' is not a dictionary."),
            )
        })?;
        for k in o.keys() {
            if k != "subnet_id" && k != "ip_address" {
                return Err(ApiError::bad_request(
                    S,
                    format!("Invalid input for fixed_ips. Reason: Unrecognized attribute '{k}'."),
                ));
            }
        }
        let sid = match o.get("subnet_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(x) => {
                return Err(ApiError::bad_request(
                    S,
                    format!("Invalid input for subnet_id. Reason: '{x}' is not a valid string."),
                ))
            }
        };
        let ipa = match o.get("ip_address") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(x) => {
                return Err(ApiError::bad_request(
                    S,
                    format!(
                        "Invalid input for ip_address. Reason: '{x}' is not a valid IP address."
                    ),
                ))
            }
        };
        out.push((sid, ipa));
    }
    Ok(Some(out))
}

fn port_visible(p: &Port, ctx: &Ctx) -> bool {
    !p.project_id.is_empty() && p.project_id == ctx.project_id
}

async fn list_ports(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.read(|db| {
        db.ports
            .values()
            .filter(|p| port_visible(p, &ctx))
            .map(port_view)
            .collect()
    });
    list_response(&c, "ports", items, &query)
}

async fn show_port(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.ports
                .get(&id)
                .filter(|p| port_visible(p, &ctx))
                .map(|p| Json(json!({"port": port_view(p)})))
        })
        .ok_or_else(|| port_not_found(&id))
}

fn check_sg_list(m: &Map<String, Value>) -> ApiResult<Option<Vec<String>>> {
    match m.get("security_groups") {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| ApiError::bad_request(S, format!("Invalid input for security_groups. Reason: '{x}' is not a valid string."))))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(x) => Err(ApiError::bad_request(S, format!("Invalid input for security_groups. Reason: '{x}' is not a list."))),
    }
}

async fn create_port(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&PORT_SCHEMA, body::parse_json(S, &bytes)?)?;
    let fixed = parse_fixed_ips(m.get("fixed_ips"))?;
    let sgs = check_sg_list(&m)?;
    let network_id = get_str(&m, "network_id").unwrap_or_default();
    let v = c.store.write(|db| {
        let net = db.networks.get(&network_id).filter(|n| net_visible(n, &ctx) && !n.external).ok_or_else(|| net_not_found(&network_id))?;
        let pse = get_bool(&m, "port_security_enabled").unwrap_or(net.port_security_enabled);
        if !pse && sgs.as_ref().is_some_and(|g| !g.is_empty()) {
            return Err(ApiError::bad_request(S, "Port has security group associated. Cannot disable port security or ip address until security group is removed").kind("PortSecurityAndIPRequiredForSecurityGroups"));
        }
        let sgs = if pse { sgs.clone() } else { Some(vec![]) };
        let mut port = new_port(db, &ctx.project_id, &network_id, fixed.clone(), &get_str(&m, "device_id").unwrap_or_default(), &get_str(&m, "device_owner").unwrap_or_default(), sgs, &get_str(&m, "name").unwrap_or_default())?;
        port.description = get_str(&m, "description").unwrap_or_default();
        port.admin_state_up = get_bool(&m, "admin_state_up").unwrap_or(true);
        port.port_security_enabled = pse;
        if let Some(mac) = get_str(&m, "mac_address") { port.mac_address = mac; }
        if let Some(Value::Array(a)) = m.get("allowed_address_pairs") { port.allowed_address_pairs = a.clone(); }
        port.dns_name = get_str(&m, "dns_name").unwrap_or_default();
        port.tags = get_str_list(&m, "tags");
        db.ports.insert(port.id.clone(), port.clone());
        Ok(port_view(&port))
    })?;
    Ok(created("port", v))
}

async fn update_port(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&PORT_UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let sgs = check_sg_list(&m)?;
    let fixed = parse_fixed_ips(m.get("fixed_ips"))?;
    c.store.write(|db| {
        let port = db.ports.get(&id).filter(|p| port_visible(p, &ctx)).cloned().ok_or_else(|| port_not_found(&id))?;
        if let Some(list) = &sgs {
            for g in list {
                if db.security_groups.get(g).is_none_or(|x| x.project_id != ctx.project_id) {
                    return Err(sg_not_found(g));
                }
            }
        }
        let mut port = port;
        if let Some(fixed) = fixed {
            // Re-allocate: drop the old addresses first so they can be kept.
            let old = std::mem::take(&mut port.fixed_ips);
            db.ports.insert(port.id.clone(), port.clone());
            let tmp = new_port(db, &port.project_id, &port.network_id, Some(fixed), "", "network:tmp", Some(vec![]), "");
            match tmp {
                Ok(t) => {
                    db.ports.remove(&t.id);
                    port.fixed_ips = t.fixed_ips;
                }
                Err(e) => {
                    port.fixed_ips = old;
                    db.ports.insert(port.id.clone(), port);
                    return Err(e);
                }
            }
        }
        if let Some(v) = get_str(&m, "name") { port.name = v; }
        if let Some(v) = get_str(&m, "description") { port.description = v; }
        if let Some(v) = get_bool(&m, "admin_state_up") { port.admin_state_up = v; }
        if let Some(v) = get_str(&m, "device_id") { port.device_id = v; }
        if let Some(v) = get_str(&m, "device_owner") { port.device_owner = v; }
        if let Some(v) = get_bool(&m, "port_security_enabled") { port.port_security_enabled = v; }
        if let Some(v) = sgs { port.security_groups = v; }
        if let Some(Value::Array(a)) = m.get("allowed_address_pairs") { port.allowed_address_pairs = a.clone(); }
        if let Some(v) = get_str(&m, "dns_name") { port.dns_name = v; }
        if !port.port_security_enabled && !port.security_groups.is_empty() {
            return Err(ApiError::conflict(S, "Port has security group associated. Cannot disable port security or ip address until security group is removed").kind("PortSecurityAndIPRequiredForSecurityGroups"));
        }
        port.status = if port.device_id.is_empty() { "DOWN".into() } else { "ACTIVE".into() };
        port.updated_at = now();
        db.ports.insert(port.id.clone(), port.clone());
        Ok(Json(json!({"port": port_view(&port)})))
    })
}

async fn delete_port(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        let p = db
            .ports
            .get(&id)
            .filter(|p| port_visible(p, &ctx))
            .ok_or_else(|| port_not_found(&id))?;
        if p.device_owner == "network:router_interface"
            || p.device_owner == "network:router_gateway"
        {
            return Err(ApiError::conflict(
                S,
                format!(
                    "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                    p.device_owner
                ),
            )
            .kind("ServicePortInUse"));
        }
        let server = p.device_id.clone();
        remove_port(db, &id);
        if let Some(s) = db.servers.get_mut(&server) {
            s.ports.retain(|x| x != &id);
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- security groups

const SG_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("security_group"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("stateful", Ty::BoolLike),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

async fn list_sgs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.write(|db| {
        ensure_default_sg(db, &ctx.project_id);
        db.security_groups
            .values()
            .filter(|g| g.project_id == ctx.project_id)
            .map(|g| sg_view(db, g))
            .collect()
    });
    list_response(&c, "security_groups", items, &query).map(|Json(mut v)| {
        // Collection key is `security_groups`.
        if let Some(o) = v.as_object_mut() {
            if let Some(l) = o.remove("security_groups_links") {
                o.insert("security_groups_links".into(), l);
            }
        }
        Json(v)
    })
}

async fn show_sg(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.security_groups
                .get(&id)
                .filter(|g| g.project_id == ctx.project_id)
                .map(|g| Json(json!({"security_group": sg_view(db, g)})))
        })
        .ok_or_else(|| sg_not_found(&id))
}

async fn create_sg(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&SG_SCHEMA, body::parse_json(S, &bytes)?)?;
    let name = get_str(&m, "name").unwrap_or_default();
    if name == "default" {
        return Err(
            ApiError::conflict(S, "Default security group already exists.")
                .kind("SecurityGroupDefaultAlreadyExists"),
        );
    }
    let t = now();
    let g = SecurityGroup {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        name,
        description: get_str(&m, "description").unwrap_or_default(),
        tags: get_str_list(&m, "tags"),
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        ensure_default_sg(db, &ctx.project_id);
        db.security_groups.insert(g.id.clone(), g.clone());
        add_rule(db, &ctx.project_id, &g.id, "egress", "IPv4", None);
        add_rule(db, &ctx.project_id, &g.id, "egress", "IPv6", None);
        sg_view(db, &g)
    });
    Ok(created("security_group", v))
}

async fn update_sg(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&SG_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        let g = db
            .security_groups
            .get_mut(&id)
            .filter(|g| g.project_id == ctx.project_id)
            .ok_or_else(|| sg_not_found(&id))?;
        if let Some(v) = get_str(&m, "name") {
            g.name = v;
        }
        if let Some(v) = get_str(&m, "description") {
            g.description = v;
        }
        g.updated_at = now();
        let g = g.clone();
        Ok(Json(json!({"security_group": sg_view(db, &g)})))
    })
}

async fn delete_sg(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.security_groups
            .get(&id)
            .filter(|g| g.project_id == ctx.project_id)
            .ok_or_else(|| sg_not_found(&id))?;
        if db.ports.values().any(|p| p.security_groups.contains(&id)) {
            return Err(
                ApiError::conflict(S, format!("Security Group {id} in use."))
                    .kind("SecurityGroupInUse"),
            );
        }
        db.security_groups.remove(&id);
        db.sg_rules.retain(|_, r| r.security_group_id != id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- security group rules

const RULE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("security_group_rule"),
    fields: &[
        req("security_group_id", Ty::Str),
        req("direction", Ty::Str),
        opt("ethertype", Ty::Str),
        opt("protocol", Ty::Any),
        opt("port_range_min", Ty::Any),
        opt("port_range_max", Ty::Any),
        opt("remote_ip_prefix", Ty::OptStr),
        opt("remote_group_id", Ty::OptStr),
        opt("remote_address_group_id", Ty::OptStr),
        opt("description", Ty::Str),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("normalized_cidr", Ty::OptStr),
    ],
    additional: false,
    siblings: &[],
};

const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmpv6", 58),
    ("sctp", 132),
    ("ipv6-icmp", 58),
    ("vrrp", 112),
];

fn opt_port(m: &Map<String, Value>, k: &str) -> ApiResult<Option<i64>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match crate::body::int_like(v) {
            Some(n) if (0..=65535).contains(&n) => Ok(Some(n)),
            _ => Err(
                ApiError::bad_request(S, format!("Invalid value for port {v}."))
                    .kind("SecurityGroupInvalidPortValue"),
            ),
        },
    }
}

async fn list_rules(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.read(|db| {
        db.sg_rules
            .values()
            .filter(|r| r.project_id == ctx.project_id)
            .map(rule_view)
            .collect()
    });
    list_response(&c, "security_group_rules", items, &query)
}

async fn show_rule(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.sg_rules
                .get(&id)
                .filter(|r| r.project_id == ctx.project_id)
                .map(|r| Json(json!({"security_group_rule": rule_view(r)})))
        })
        .ok_or_else(|| rule_not_found(&id))
}

async fn create_rule(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&RULE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let direction = get_str(&m, "direction").unwrap_or_default();
    if direction != "ingress" && direction != "egress" {
        return Err(ApiError::bad_request(S, format!("Invalid input for direction. Reason: {direction} is not in valid_values ['ingress', 'egress'].")));
    }
    let ethertype = get_str(&m, "ethertype").unwrap_or_else(|| "IPv4".into());
    if ethertype != "IPv4" && ethertype != "IPv6" {
        return Err(ApiError::bad_request(S, format!("Invalid input for ethertype. Reason: {ethertype} is not in valid_values ['IPv4', 'IPv6'].")));
    }
    let protocol = match m.get("protocol") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.is_empty() || p == "any" => None,
        Some(v) => {
            let s = match v {
                Value::String(s) => s.to_ascii_lowercase(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            let ok = PROTOCOLS.iter().any(|(n, _)| *n == s) || s.parse::<u8>().is_ok();
            if !ok {
                return Err(ApiError::bad_request(S, format!("Security group rule protocol {v} not supported. Only protocol values [None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'icmp', 'icmpv6', 'igmp', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'] and integer representations [0 to 255] are supported.")).kind("SecurityGroupRuleInvalidProtocol"));
            }
            Some(s)
        }
    };
    let pmin = opt_port(&m, "port_range_min")?;
    let pmax = opt_port(&m, "port_range_max")?;
    if let (Some(a), Some(b)) = (pmin, pmax) {
        if a > b && protocol.as_deref() != Some("icmp") {
            return Err(ApiError::bad_request(
                S,
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )
            .kind("SecurityGroupInvalidPortRange"));
        }
    }
    if (pmin.is_some() || pmax.is_some()) && protocol.is_none() {
        return Err(
            ApiError::bad_request(S, "Must also specify protocol if port range is given.")
                .kind("SecurityGroupProtocolRequiredWithPorts"),
        );
    }
    let remote_ip = get_str(&m, "remote_ip_prefix");
    let remote_group = get_str(&m, "remote_group_id");
    if remote_ip.is_some() && remote_group.is_some() {
        return Err(ApiError::bad_request(
            S,
            "Only remote_ip_prefix or remote_group_id may be provided.",
        )
        .kind("SecurityGroupRemoteGroupAndRemoteIpPrefix"));
    }
    let remote_ip = match remote_ip {
        Some(p) => {
            let norm = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/32")
            };
            match Cidr::parse(&norm) {
                Some(c) => Some(c.to_string()),
                None if ethertype == "IPv6" => Some(p),
                None => return Err(ApiError::bad_request(S, format!("Invalid input for remote_ip_prefix. Reason: '{p}' is not a valid IP subnet."))),
            }
        }
        None => None,
    };
    let sg_id = get_str(&m, "security_group_id").unwrap_or_default();
    let t = now();
    let r = SgRule {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        security_group_id: sg_id.clone(),
        direction,
        ethertype,
        protocol,
        port_range_min: pmin,
        port_range_max: pmax,
        remote_ip_prefix: remote_ip,
        remote_group_id: remote_group.clone(),
        description: get_str(&m, "description").unwrap_or_default(),
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        db.security_groups
            .get(&sg_id)
            .filter(|g| g.project_id == ctx.project_id)
            .ok_or_else(|| sg_not_found(&sg_id))?;
        if let Some(g) = &remote_group {
            db.security_groups
                .get(g)
                .filter(|g| g.project_id == ctx.project_id)
                .ok_or_else(|| sg_not_found(g))?;
        }
        if let Some(dup) = db.sg_rules.values().find(|x| {
            x.security_group_id == r.security_group_id
                && x.direction == r.direction
                && x.ethertype == r.ethertype
                && x.protocol == r.protocol
                && x.port_range_min == r.port_range_min
                && x.port_range_max == r.port_range_max
                && x.remote_ip_prefix == r.remote_ip_prefix
                && x.remote_group_id == r.remote_group_id
        }) {
            return Err(ApiError::conflict(
                S,
                format!("Security group rule already exists. Rule id is {}.", dup.id),
            )
            .kind("SecurityGroupRuleExists"));
        }
        db.sg_rules.insert(r.id.clone(), r.clone());
        Ok(rule_view(&r))
    })?;
    Ok(created("security_group_rule", v))
}

async fn delete_rule(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.sg_rules
            .get(&id)
            .filter(|r| r.project_id == ctx.project_id)
            .ok_or_else(|| rule_not_found(&id))?;
        db.sg_rules.remove(&id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- routers

const ROUTER_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("router"),
    fields: &[
        opt("name", Ty::Str),
        opt("description", Ty::Str),
        opt("admin_state_up", Ty::BoolLike),
        opt("external_gateway_info", Ty::Any),
        opt("distributed", Ty::BoolLike),
        opt("ha", Ty::BoolLike),
        opt("availability_zone_hints", Ty::Arr),
        opt("flavor_id", Ty::OptStr),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("routes", Ty::Arr),
        opt("enable_ndp_proxy", Ty::BoolLike),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

/// Sets (or clears) a router's gateway, allocating its external address.
fn set_gateway(db: &mut Db, router_id: &str, info: &Value) -> ApiResult<()> {
    // Drop the old gateway port.
    let old: Vec<String> = db
        .ports
        .values()
        .filter(|p| p.device_id == router_id && p.device_owner == "network:router_gateway")
        .map(|p| p.id.clone())
        .collect();
    let new = match info {
        Value::Null => None,
        Value::Object(o) if o.is_empty() => None,
        Value::Object(o) => {
            let net_id = o.get("network_id").and_then(Value::as_str).ok_or_else(|| ApiError::bad_request(S, "Invalid input for external_gateway_info. Reason: 'network_id' is required."))?.to_owned();
            let net = db
                .networks
                .get(&net_id)
                .ok_or_else(|| net_not_found(&net_id))?;
            if !net.external {
                return Err(ApiError::bad_request(
                    S,
                    format!("Bad router request: Network {net_id} is not an external network."),
                )
                .kind("BadRequest"));
            }
            let snat = o
                .get("enable_snat")
                .and_then(crate::body::bool_like)
                .unwrap_or(true);
            Some((net_id, snat))
        }
        other => {
            return Err(ApiError::bad_request(
                S,
                format!(
                "Invalid input for external_gateway_info. Reason: '{other}' is not a dictionary."
            ),
            ))
        }
    };
    if let Some(old_net) = db.routers.get(router_id).and_then(|r| {
        r.external_gateway_info
            .as_ref()
            .map(|g| g.network_id.clone())
    }) {
        if new.as_ref().is_some_and(|(n, _)| *n == old_net) {
            if let (Some(r), Some((_, snat))) = (db.routers.get_mut(router_id), &new) {
                if let Some(g) = r.external_gateway_info.as_mut() {
                    g.enable_snat = *snat;
                }
            }
            return Ok(());
        }
        if db
            .floating_ips
            .values()
            .any(|f| f.router_id.as_deref() == Some(router_id))
        {
            return Err(ApiError::conflict(S, format!("Gateway cannot be updated for router {router_id}, since a gateway to external network {old_net} is required by one or more floating IPs.")).kind("RouterExternalGatewayInUseByFloatingIp"));
        }
    }
    for p in old {
        db.ports.remove(&p);
    }
    let gw = match new {
        None => None,
        Some((net_id, snat)) => {
            let port = new_port(
                db,
                "",
                &net_id,
                None,
                router_id,
                "network:router_gateway",
                Some(vec![]),
                "",
            )?;
            Some(GatewayInfo {
                network_id: net_id,
                enable_snat: snat,
                external_fixed_ips: port.fixed_ips,
            })
        }
    };
    if let Some(r) = db.routers.get_mut(router_id) {
        r.external_gateway_info = gw;
        r.updated_at = now();
    }
    Ok(())
}

async fn list_routers(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.read(|db| {
        db.routers
            .values()
            .filter(|r| r.project_id == ctx.project_id)
            .map(router_view)
            .collect()
    });
    list_response(&c, "routers", items, &query)
}

async fn show_router(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.routers
                .get(&id)
                .filter(|r| r.project_id == ctx.project_id)
                .map(|r| Json(json!({"router": router_view(r)})))
        })
        .ok_or_else(|| router_not_found(&id))
}

async fn create_router(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&ROUTER_SCHEMA, body::parse_json(S, &bytes)?)?;
    let t = now();
    let r = crate::model::Router {
        id: new_id(),
        project_id: ctx.project_id.clone(),
        name: get_str(&m, "name").unwrap_or_default(),
        description: get_str(&m, "description").unwrap_or_default(),
        admin_state_up: get_bool(&m, "admin_state_up").unwrap_or(true),
        external_gateway_info: None,
        tags: get_str_list(&m, "tags"),
        created_at: t.clone(),
        updated_at: t,
    };
    let v = c.store.write(|db| {
        db.routers.insert(r.id.clone(), r.clone());
        if let Some(info) = m.get("external_gateway_info") {
            if let Err(e) = set_gateway(db, &r.id, info) {
                db.routers.remove(&r.id);
                return Err(e);
            }
        }
        Ok(db
            .routers
            .get(&r.id)
            .map(router_view)
            .unwrap_or(Value::Null))
    })?;
    Ok(created("router", v))
}

async fn update_router(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&ROUTER_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        db.routers
            .get(&id)
            .filter(|r| r.project_id == ctx.project_id)
            .ok_or_else(|| router_not_found(&id))?;
        if let Some(info) = m.get("external_gateway_info") {
            set_gateway(db, &id, info)?;
        }
        let r = db
            .routers
            .get_mut(&id)
            .ok_or_else(|| router_not_found(&id))?;
        if let Some(v) = get_str(&m, "name") {
            r.name = v;
        }
        if let Some(v) = get_str(&m, "description") {
            r.description = v;
        }
        if let Some(v) = get_bool(&m, "admin_state_up") {
            r.admin_state_up = v;
        }
        r.updated_at = now();
        Ok(Json(json!({"router": router_view(r)})))
    })
}

async fn delete_router(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.routers
            .get(&id)
            .filter(|r| r.project_id == ctx.project_id)
            .ok_or_else(|| router_not_found(&id))?;
        if db
            .ports
            .values()
            .any(|p| p.device_id == id && p.device_owner == "network:router_interface")
        {
            return Err(
                ApiError::conflict(S, format!("Router {id} still has ports")).kind("RouterInUse"),
            );
        }
        set_gateway(db, &id, &Value::Null)?;
        db.routers.remove(&id);
        Ok(StatusCode::NO_CONTENT)
    })
}

const IFACE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: None,
    fields: &[opt("subnet_id", Ty::Str), opt("port_id", Ty::Str)],
    additional: false,
    siblings: &[],
};

fn iface_json(router: &crate::model::Router, port: &Port) -> Value {
    let subnet = port
        .fixed_ips
        .first()
        .map(|f| f.subnet_id.clone())
        .unwrap_or_default();
    json!({"id": router.id, "subnet_id": subnet, "subnet_ids": [subnet], "port_id": port.id, "network_id": port.network_id,
           "project_id": router.project_id, "tenant_id": router.project_id, "tags": []})
}

async fn add_interface(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&IFACE_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        let router = db
            .routers
            .get(&id)
            .filter(|r| r.project_id == ctx.project_id)
            .cloned()
            .ok_or_else(|| router_not_found(&id))?;
        let port = match (get_str(&m, "subnet_id"), get_str(&m, "port_id")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    S,
                    "Bad router request: Cannot specify both subnet-id and port-id.",
                ))
            }
            (None, None) => {
                return Err(ApiError::bad_request(
                    S,
                    "Bad router request: Either subnet_id or port_id must be specified.",
                ))
            }
            (Some(sid), None) => {
                let sub = db
                    .subnets
                    .get(&sid)
                    .filter(|s| subnet_visible(db, s, &ctx))
                    .cloned()
                    .ok_or_else(|| subnet_not_found(&sid))?;
                let gw = sub.gateway_ip.clone().ok_or_else(|| {
                    ApiError::bad_request(
                        S,
                        format!("Bad router request: Subnet {sid} does not have a gateway IP."),
                    )
                })?;
                if db
                    .ports
                    .values()
                    .any(|p| p.device_id == id && p.fixed_ips.iter().any(|f| f.subnet_id == sid))
                {
                    return Err(ApiError::bad_request(
                        S,
                        format!("Bad router request: Router already has a port on subnet {sid}."),
                    ));
                }
                new_port(
                    db,
                    &ctx.project_id,
                    &sub.network_id,
                    Some(vec![(Some(sid), Some(gw))]),
                    &id,
                    "network:router_interface",
                    Some(vec![]),
                    "",
                )?
            }
            (None, Some(pid)) => {
                let p = db
                    .ports
                    .get_mut(&pid)
                    .filter(|p| p.project_id == ctx.project_id)
                    .ok_or_else(|| port_not_found(&pid))?;
                if !p.device_id.is_empty() {
                    return Err(ApiError::conflict(
                        S,
                        format!("Port {pid} is in use by device {}.", p.device_id),
                    )
                    .kind("PortInUse"));
                }
                p.device_id = id.clone();
                p.device_owner = "network:router_interface".into();
                p.status = "ACTIVE".into();
                p.clone()
            }
        };
        Ok(Json(iface_json(&router, &port)))
    })
}

async fn remove_interface(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&IFACE_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        let router = db.routers.get(&id).filter(|r| r.project_id == ctx.project_id).cloned().ok_or_else(|| router_not_found(&id))?;
        let port = match (get_str(&m, "subnet_id"), get_str(&m, "port_id")) {
            (_, Some(pid)) => db.ports.get(&pid).filter(|p| p.device_id == id).cloned().ok_or_else(|| {
                ApiError::not_found(S, format!("Router {id} does not have an interface with id {pid}")).kind("RouterInterfaceNotFound")
            })?,
            (Some(sid), None) => db.ports.values().find(|p| p.device_id == id && p.device_owner == "network:router_interface" && p.fixed_ips.iter().any(|f| f.subnet_id == sid)).cloned().ok_or_else(|| {
                ApiError::not_found(S, format!("Router {id} has no interface on subnet {sid}")).kind("RouterInterfaceNotFoundForSubnet")
            })?,
            (None, None) => return Err(ApiError::bad_request(S, "Bad router request: Either subnet_id or port_id must be specified.")),
        };
        let subnet = port.fixed_ips.first().map(|f| f.subnet_id.clone()).unwrap_or_default();
        if db.floating_ips.values().any(|f| f.router_id.as_deref() == Some(id.as_str()) && f.port_id.as_ref().and_then(|p| db.ports.get(p)).is_some_and(|p| p.fixed_ips.iter().any(|x| x.subnet_id == subnet))) {
            return Err(ApiError::conflict(S, format!("Router interface for subnet {subnet} on router {id} cannot be deleted, as it is required by one or more floating IPs.")).kind("RouterInterfaceInUseByFloatingIP"));
        }
        db.ports.remove(&port.id);
        Ok(Json(iface_json(&router, &port)))
    })
}

// --- floating IPs

const FIP_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("floatingip"),
    fields: &[
        req("floating_network_id", Ty::Str),
        opt("floating_ip_address", Ty::Str),
        opt("subnet_id", Ty::OptStr),
        opt("port_id", Ty::OptStr),
        opt("fixed_ip_address", Ty::OptStr),
        opt("description", Ty::Str),
        opt("project_id", Ty::Str),
        opt("tenant_id", Ty::Str),
        opt("dns_name", Ty::Str),
        opt("dns_domain", Ty::Str),
        opt("qos_policy_id", Ty::OptStr),
        opt("tags", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

const FIP_UPDATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("floatingip"),
    fields: &[
        opt("port_id", Ty::OptStr),
        opt("fixed_ip_address", Ty::OptStr),
        opt("description", Ty::Str),
        opt("qos_policy_id", Ty::OptStr),
    ],
    additional: false,
    siblings: &[],
};

async fn list_fips(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let items = c.store.read(|db| {
        db.floating_ips
            .values()
            .filter(|f| f.project_id == ctx.project_id)
            .map(fip_view)
            .collect()
    });
    list_response(&c, "floatingips", items, &query)
}

async fn show_fip(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    c.store
        .read(|db| {
            db.floating_ips
                .get(&id)
                .filter(|f| f.project_id == ctx.project_id)
                .map(|f| Json(json!({"floatingip": fip_view(f)})))
        })
        .ok_or_else(|| fip_not_found(&id))
}

/// Allocates a floating IP on an external network (used by Neutron and by Nova's proxy).
pub fn allocate_fip(
    db: &mut Db,
    project_id: &str,
    network_id: &str,
    address: Option<&str>,
    description: &str,
) -> ApiResult<FloatingIp> {
    let net = db
        .networks
        .get(network_id)
        .cloned()
        .ok_or_else(|| net_not_found(network_id))?;
    if !net.external {
        return Err(ApiError::bad_request(
            S,
            format!(
                "Bad floatingip request: Network {network_id} is not a valid external network."
            ),
        )
        .kind("BadRequest"));
    }
    let fixed = address.map(|a| vec![(None, Some(a.to_owned()))]);
    let fip_id = new_id();
    let port = new_port(
        db,
        "",
        network_id,
        fixed,
        &fip_id,
        "network:floatingip",
        Some(vec![]),
        "",
    )?;
    let addr = port
        .fixed_ips
        .first()
        .map(|f| f.ip_address.clone())
        .ok_or_else(|| {
            ApiError::conflict(
                S,
                format!("No more IP addresses available on network {network_id}."),
            )
            .kind("IpAddressGenerationFailure")
        })?;
    let t = now();
    let f = FloatingIp {
        id: fip_id,
        project_id: project_id.into(),
        floating_network_id: network_id.into(),
        floating_ip_address: addr,
        port_id: None,
        fixed_ip_address: None,
        router_id: None,
        status: "DOWN".into(),
        description: description.into(),
        tags: vec![],
        created_at: t.clone(),
        updated_at: t,
    };
    db.floating_ips.insert(f.id.clone(), f.clone());
    Ok(f)
}

/// Releases a floating IP and its address.
pub fn release_fip(db: &mut Db, id: &str) {
    db.floating_ips.remove(id);
    db.ports
        .retain(|_, p| !(p.device_id == id && p.device_owner == "network:floatingip"));
}

async fn create_fip(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&FIP_SCHEMA, body::parse_json(S, &bytes)?)?;
    let net = get_str(&m, "floating_network_id").unwrap_or_default();
    let v = c.store.write(|db| {
        let f = allocate_fip(
            db,
            &ctx.project_id,
            &net,
            get_str(&m, "floating_ip_address").as_deref(),
            &get_str(&m, "description").unwrap_or_default(),
        )?;
        if let Some(port) = get_str(&m, "port_id") {
            if let Err(e) = associate(db, &f.id, &port, get_str(&m, "fixed_ip_address").as_deref())
            {
                release_fip(db, &f.id);
                return Err(e);
            }
        }
        Ok(db
            .floating_ips
            .get(&f.id)
            .map(fip_view)
            .unwrap_or(Value::Null))
    })?;
    Ok(created("floatingip", v))
}

async fn update_fip(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let m = body::check(&FIP_UPDATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    c.store.write(|db| {
        db.floating_ips.get(&id).filter(|f| f.project_id == ctx.project_id).ok_or_else(|| fip_not_found(&id))?;
        match m.get("port_id") {
            Some(Value::Null) => disassociate(db, &id),
            Some(Value::String(p)) => {
                let current = db.floating_ips.get(&id).and_then(|f| f.port_id.clone());
                if current.as_deref().is_some_and(|cp| cp != p) {
                    return Err(ApiError::conflict(S, format!("Cannot associate floating IP {id} with port {p}: it is already associated with port {}.", current.unwrap_or_default())).kind("FloatingIPPortAlreadyAssociated"));
                }
                associate(db, &id, p, get_str(&m, "fixed_ip_address").as_deref())?;
            }
            _ => {}
        }
        let f = db.floating_ips.get_mut(&id).ok_or_else(|| fip_not_found(&id))?;
        if let Some(d) = get_str(&m, "description") {
            f.description = d;
        }
        Ok(Json(json!({"floatingip": fip_view(f)})))
    })
}

async fn delete_fip(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        db.floating_ips
            .get(&id)
            .filter(|f| f.project_id == ctx.project_id)
            .ok_or_else(|| fip_not_found(&id))?;
        release_fip(db, &id);
        Ok(StatusCode::NO_CONTENT)
    })
}
