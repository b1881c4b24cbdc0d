//! Domain operations shared by the handlers and by Nova: bootstrap networks, default security
//! groups, ports, floating IP association, router gateways, visibility.

use super::*;

pub(super) fn external_network(
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
        host_routes: Vec::new(),
        ip_version: 4,
        ipv6_ra_mode: None,
        ipv6_address_mode: None,
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
    // Devstack calls the external network `public`.
    let ext_name = match cloud.cfg.fixtures {
        crate::Fixtures::Devstack => "public",
        crate::Fixtures::None => EXT_NET,
    };
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
        let ext = external_network(db, ext_name, "neutron", &cidr, &start, &end, &gw);
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

pub(super) fn add_rule(
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
pub(super) fn net_visible(n: &Network, ctx: &Ctx) -> bool {
    crate::access::network_visible(n, ctx)
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
    // A temporary port (address re-allocation of an existing port) is not a new one.
    if device_owner != "network:tmp" {
        check_quota(db, project_id, "port", 1)?;
    }
    let subnets: Vec<Subnet> = db
        .subnets
        .values()
        .filter(|s| s.network_id == net.id)
        .cloned()
        .collect();
    let mut fixed_ips = Vec::new();
    let wants_gateway = device_owner == "network:router_interface";
    let mac = random_mac();
    match fixed {
        None => {
            // One address from the first IPv4 subnet, like Neutron.
            if let Some(sub) = subnets.iter().find(|s| s.ip_version != 6) {
                let addr = allocate(db, sub, None, wants_gateway, &[])?;
                fixed_ips.push(FixedIp {
                    subnet_id: sub.id.clone(),
                    ip_address: addr,
                });
            }
            // And IPv6 ones as Neutron gives them (see `ipv6::default_fixed_ips`).
            fixed_ips.extend(ipv6::default_fixed_ips(db, &subnets, wants_gateway, &mac)?);
        }
        Some(list) => {
            for (subnet_id, addr) in list {
                let sub = match (&subnet_id, &addr) {
                    (Some(sid), _) => subnets.iter().find(|s| &s.id == sid).ok_or_else(|| {
                        ApiError::bad_request(S, format!("Invalid input for operation: Failed to create port on network {network_id}, because fixed_ips included invalid subnet {sid}.")).kind("InvalidInput")
                    })?,
                    (None, Some(a)) => ipv6::subnet_for_address(&subnets, a)?,
                    (None, None) => subnets.first().ok_or_else(|| ApiError::bad_request(S, "Invalid input for operation: fixed_ips needs a subnet_id or ip_address."))?,
                };
                let a = if sub.ip_version == 6 {
                    ipv6::allocate(db, sub, addr.as_deref(), wants_gateway, &fixed_ips, &mac)?
                } else {
                    allocate(db, sub, addr.as_deref(), wants_gateway, &fixed_ips)?
                };
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
        mac_address: mac,
        fixed_ips,
        device_id: device_id.into(),
        device_owner: device_owner.into(),
        security_groups: sgs,
        port_security_enabled: net.port_security_enabled,
        allowed_address_pairs: vec![],
        status: if device_id.is_empty() {
            NetStatus::Down
        } else {
            NetStatus::Active
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
            f.status = NetStatus::Down;
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
        // Floating IPs are IPv4: the port's first IPv4 address, as Neutron picks it.
        None => {
            port.fixed_ips
                .iter()
                .find(|f| !f.ip_address.contains(':'))
                .cloned()
                .ok_or_else(|| {
                    ApiError::bad_request(
                S,
                format!("Bad floatingip request: Port {port_id} does not have any IPv4 address."),
            )
                })?
        }
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
        f.status = NetStatus::Active;
        f.updated_at = now();
    }
    Ok(())
}

pub fn disassociate(db: &mut Db, fip_id: &str) {
    if let Some(f) = db.floating_ips.get_mut(fip_id) {
        f.port_id = None;
        f.fixed_ip_address = None;
        f.router_id = None;
        f.status = NetStatus::Down;
        f.updated_at = now();
    }
}

pub(super) fn subnet_visible(db: &Db, s: &Subnet, ctx: &Ctx) -> bool {
    ctx.reaches(s)
        || db
            .networks
            .get(&s.network_id)
            .is_some_and(|n| records::network_seen(db, n, ctx))
}

pub(super) fn port_visible(p: &Port, ctx: &Ctx) -> bool {
    ctx.reaches(p)
}

/// Sets (or clears) a router's gateway, allocating its external address.
pub(super) fn set_gateway(db: &mut Db, router_id: &str, info: &Value) -> ApiResult<()> {
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
    check_quota(db, project_id, "floatingip", 1)?;
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
        status: NetStatus::Down,
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

/// The context a create acts in: the caller's project, or the `project_id` (`tenant_id`) of the
/// body when an admin names another project (`openstack … create --project`); anyone else naming
/// another project gets Neutron's 403 (I2) instead of having the field ignored.
pub(super) fn on_behalf(ctx: Ctx, m: &Map<String, Value>) -> ApiResult<Ctx> {
    let asked = get_str(m, "project_id").or_else(|| get_str(m, "tenant_id"));
    match asked {
        Some(p) if p != ctx.project_id => {
            if ctx.is_admin() {
                Ok(Ctx {
                    project_id: p,
                    ..ctx
                })
            } else {
                Err(ApiError::forbidden(
                    S,
                    "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
                )
                .kind("PolicyNotAuthorized"))
            }
        }
        _ => Ok(ctx),
    }
}
