//! Devstack's networks (`--fixtures devstack`): `private` with `private-subnet` in the demo
//! project, and `router1` joining it to the external network `public`.

use super::*;

/// Creates `private`, `private-subnet` (10.0.0.0/26, DHCP) and `router1` (gateway on `public`,
/// an interface on `private-subnet`) for `project`, unless a network `private` exists.
pub(crate) fn devstack_networks(db: &mut Db, project: &str, public_net: &str) -> ApiResult<()> {
    if db.networks.values().any(|n| n.name == "private") {
        return Ok(());
    }
    let t = now();
    let net = Network {
        id: new_id(),
        project_id: project.to_owned(),
        name: "private".into(),
        description: String::new(),
        admin_state_up: true,
        shared: false,
        external: false,
        mtu: 1450,
        port_security_enabled: true,
        sdn: "neutron".into(),
        tags: vec![],
        created_at: t.clone(),
        updated_at: t.clone(),
    };
    let sub = Subnet {
        id: new_id(),
        project_id: project.to_owned(),
        network_id: net.id.clone(),
        name: "private-subnet".into(),
        description: String::new(),
        cidr: "10.0.0.0/26".into(),
        gateway_ip: Some("10.0.0.1".into()),
        allocation_pools: vec![Pool {
            start: "10.0.0.2".into(),
            end: "10.0.0.62".into(),
        }],
        enable_dhcp: true,
        dns_nameservers: vec![],
        host_routes: Vec::new(),
        ip_version: 4,
        ipv6_ra_mode: None,
        ipv6_address_mode: None,
        tags: vec![],
        created_at: t.clone(),
        updated_at: t.clone(),
    };
    let net_id = net.id.clone();
    let sub_id = sub.id.clone();
    db.networks.insert(net_id.clone(), net);
    db.subnets.insert(sub_id.clone(), sub);
    sync_dhcp_port(db, &net_id);
    ensure_default_sg(db, project);
    let router = crate::model::Router {
        id: new_id(),
        project_id: project.to_owned(),
        name: "router1".into(),
        description: String::new(),
        admin_state_up: true,
        external_gateway_info: None,
        routes: Vec::new(),
        tags: vec![],
        created_at: t.clone(),
        updated_at: t,
    };
    let router_id = router.id.clone();
    db.routers.insert(router_id.clone(), router);
    set_gateway(db, &router_id, &json!({ "network_id": public_net }))?;
    new_port(
        db,
        project,
        &net_id,
        Some(vec![(Some(sub_id), Some("10.0.0.1".into()))]),
        &router_id,
        "network:router_interface",
        Some(vec![]),
        "",
    )?;
    Ok(())
}
