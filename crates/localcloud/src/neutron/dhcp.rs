//! The `network:dhcp` port Neutron's DHCP agent makes on a network: one per network, with an
//! address on each of its subnets that has DHCP enabled; gone with the last such subnet.
//!
//! Neutron gives it the first free address of the pool; localcloud gives it the last, so the
//! addresses servers get (from the start of the pool) stay those users and examples expect.
//! localcloud runs no DHCP server: process VMs get their addresses from the metadata and
//! their namespace directly.

use super::*;

/// The owner Neutron's DHCP agent gives its ports.
pub(super) const DHCP_OWNER: &str = "network:dhcp";

/// Makes the network's DHCP port match its DHCP-enabled subnets (call after any subnet change).
pub(super) fn sync_dhcp_port(db: &mut Db, network_id: &str) {
    let Some(net) = db.networks.get(network_id).cloned() else {
        db.ports
            .retain(|_, p| !(p.network_id == network_id && p.device_owner == DHCP_OWNER));
        return;
    };
    let wanted: Vec<Subnet> = db
        .subnets
        .values()
        .filter(|s| s.network_id == network_id && s.enable_dhcp)
        .cloned()
        .collect();
    let existing = db
        .ports
        .values()
        .find(|p| p.network_id == network_id && p.device_owner == DHCP_OWNER)
        .cloned();
    let mut fixed: Vec<FixedIp> = existing
        .as_ref()
        .map(|p| p.fixed_ips.clone())
        .unwrap_or_default();
    fixed.retain(|f| wanted.iter().any(|s| s.id == f.subnet_id));
    for sub in &wanted {
        if fixed.iter().any(|f| f.subnet_id == sub.id) {
            continue;
        }
        // A full pool leaves this subnet without a DHCP address, as Neutron's agent logs and
        // goes on.
        if let Some(addr) = last_free(db, sub) {
            fixed.push(FixedIp {
                subnet_id: sub.id.clone(),
                ip_address: addr,
            });
        }
    }
    match existing {
        Some(p) if fixed.is_empty() => {
            remove_port(db, &p.id);
        }
        Some(p) => {
            if let Some(port) = db.ports.get_mut(&p.id) {
                if port.fixed_ips != fixed {
                    port.fixed_ips = fixed;
                    port.updated_at = now();
                }
            }
        }
        None if fixed.is_empty() => {}
        None => {
            let t = now();
            let port = Port {
                id: new_id(),
                project_id: net.project_id.clone(),
                network_id: network_id.to_owned(),
                name: String::new(),
                description: String::new(),
                admin_state_up: true,
                mac_address: random_mac(),
                fixed_ips: fixed,
                device_id: format!(
                    "dhcp{}-{network_id}",
                    util::stable_uuid("localcloud/dhcp-agent")
                ),
                device_owner: DHCP_OWNER.into(),
                security_groups: vec![],
                port_security_enabled: false,
                allowed_address_pairs: vec![],
                status: NetStatus::Active,
                dns_name: String::new(),
                tags: vec![],
                created_at: t.clone(),
                updated_at: t,
            };
            db.ports.insert(port.id.clone(), port);
        }
    }
}

/// The last free address of the subnet's pools.
fn last_free(db: &Db, subnet: &Subnet) -> Option<String> {
    let used = used_ips(db, subnet);
    for pool in subnet.allocation_pools.iter().rev() {
        let (Some(start), Some(end)) = (ip(&pool.start), ip(&pool.end)) else {
            continue;
        };
        let mut n = end;
        while n >= start {
            if !used.contains(&n) {
                return Some(ip_str(n));
            }
            n = n.checked_sub(1)?;
        }
    }
    None
}
