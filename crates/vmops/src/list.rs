//! Read-only views: flavors (with GPUs from extra specs), images, disks, VMs, the network.

use std::collections::BTreeMap;

use serde::Serialize;
use vitrina_openstack::wire::compute::Server;

use crate::error::{Error, Result};
use crate::ops::{query, Ops};

/// A flavor, with its GPU read from extra specs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlavorRow {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
    /// `nvidia-a100:1`, from `gpu`, `pci_passthrough:alias` or `resources:VGPU`.
    pub gpu: Option<String>,
}

/// An image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub size: Option<u64>,
    pub min_disk_gb: u64,
    pub disk_format: Option<String>,
    pub visibility: String,
}

/// A disk (volume).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub size_gb: u64,
    pub volume_type: Option<String>,
    pub bootable: bool,
    /// Names (or ids) of the VMs it is attached to.
    pub attached_to: Vec<String>,
}

/// A VM (server).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub flavor: String,
    pub fixed_addresses: Vec<String>,
    pub floating_addresses: Vec<String>,
    pub disks: Vec<String>,
}

impl VmRow {
    /// The address to reach it at: the first floating address, else the first fixed one.
    pub fn address(&self) -> Option<&str> {
        self.floating_addresses
            .first()
            .or(self.fixed_addresses.first())
            .map(String::as_str)
    }
}

/// The network set-up `network setup` makes, as it is now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkInfo {
    pub network: Option<NamedId>,
    pub subnets: Vec<SubnetInfo>,
    pub router: Option<RouterInfo>,
    pub external_network: Option<NamedId>,
    pub security_group: Option<SecurityGroupInfo>,
    pub floating_ips: Vec<FloatingIpInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedId {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetInfo {
    pub id: String,
    pub name: String,
    pub cidr: String,
    pub gateway_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterInfo {
    pub id: String,
    pub name: String,
    pub external_gateway: Option<String>,
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub name: String,
    /// `ingress tcp 22 0.0.0.0/0`, …
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FloatingIpInfo {
    pub address: String,
    pub fixed_address: Option<String>,
    pub status: String,
}

impl Ops {
    /// Every flavor, with vCPU, RAM, disk and GPU.
    pub async fn flavors(&self) -> Result<Vec<FlavorRow>> {
        let compute = self.client.compute();
        let flavors = compute
            .list_flavors(&vec![])
            .await
            .map_err(Error::cloud("listing flavors"))?;
        let mut rows = Vec::new();
        for f in flavors {
            let specs = match f.extra_specs.clone() {
                Some(s) => s,
                None => compute
                    .flavor_extra_specs(&f.id)
                    .await
                    .map_err(Error::cloud(format!(
                        "reading extra specs of flavor `{}`",
                        f.name
                    )))?,
            };
            rows.push(FlavorRow {
                gpu: gpu_of(&specs),
                id: f.id,
                name: f.name,
                vcpus: f.vcpus,
                ram_mb: f.ram,
                disk_gb: f.disk,
            });
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rows)
    }

    /// Every image the project sees.
    pub async fn images(&self) -> Result<Vec<ImageRow>> {
        let mut rows: Vec<ImageRow> = self
            .client
            .image()
            .list_images(&vec![])
            .await
            .map_err(Error::cloud("listing images"))?
            .into_iter()
            .map(|i| ImageRow {
                name: i.name.clone().unwrap_or_default(),
                id: i.id,
                status: i.status,
                size: i.size,
                min_disk_gb: i.min_disk,
                disk_format: i.disk_format,
                visibility: i.visibility,
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    /// Every disk of the project.
    pub async fn disks(&self) -> Result<Vec<DiskRow>> {
        let volumes = self
            .client
            .block_storage()
            .list_volumes(&vec![])
            .await
            .map_err(Error::cloud("listing disks"))?;
        let servers = self.servers().await?;
        let server_name = |id: &str| {
            servers
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.name.clone())
                .unwrap_or_else(|| id.to_owned())
        };
        let mut rows: Vec<DiskRow> = volumes
            .into_iter()
            .map(|v| DiskRow {
                attached_to: v
                    .attachments
                    .iter()
                    .map(|a| server_name(&a.server_id))
                    .collect(),
                name: v.name.clone().unwrap_or_default(),
                id: v.id,
                status: v.status,
                size_gb: v.size,
                volume_type: v.volume_type,
                bootable: v.bootable.eq_ignore_ascii_case("true"),
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    /// Every VM of the project, with its addresses and disks.
    pub async fn vms(&self) -> Result<Vec<VmRow>> {
        let servers = self.servers().await?;
        let mut rows: Vec<VmRow> = servers.iter().map(vm_row).collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    pub(crate) async fn servers(&self) -> Result<Vec<Server>> {
        self.client
            .compute()
            .list_servers(&vec![])
            .await
            .map_err(Error::cloud("listing VMs"))
    }

    /// The network, subnet, router, external network, security group and floating IPs.
    pub async fn network_info(&self) -> Result<NetworkInfo> {
        let s = &self.settings;
        let net = self.client.network();
        let networks = net
            .list_networks(&query(&[("name", &s.network_name)]))
            .await
            .map_err(Error::cloud("listing networks"))?;
        let network = networks.iter().find(|n| n.name == s.network_name);
        let subnets = match network {
            Some(n) => net
                .list_subnets(&query(&[("network_id", &n.id)]))
                .await
                .map_err(Error::cloud("listing subnets"))?
                .into_iter()
                .map(|s| SubnetInfo {
                    id: s.id,
                    name: s.name,
                    cidr: s.cidr,
                    gateway_ip: s.gateway_ip,
                })
                .collect(),
            None => vec![],
        };
        let externals = net
            .list_networks(&query(&[("name", &s.external_network)]))
            .await
            .map_err(Error::cloud("listing networks"))?;
        let external = externals.iter().find(|n| n.name == s.external_network);
        let routers = net
            .list_routers(&query(&[("name", &s.router_name)]))
            .await
            .map_err(Error::cloud("listing routers"))?;
        let router = match routers.into_iter().find(|r| r.name == s.router_name) {
            Some(r) => {
                let ports = net
                    .list_ports(&query(&[("device_id", &r.id)]))
                    .await
                    .map_err(Error::cloud("listing router ports"))?;
                Some(RouterInfo {
                    external_gateway: r.external_gateway_info.as_ref().map(|g| {
                        externals
                            .iter()
                            .find(|n| n.id == g.network_id)
                            .map(|n| n.name.clone())
                            .unwrap_or_else(|| g.network_id.clone())
                    }),
                    subnets: ports
                        .iter()
                        .filter(|p| p.device_owner == "network:router_interface")
                        .flat_map(|p| p.fixed_ips.iter().filter_map(|f| f.subnet_id.clone()))
                        .collect(),
                    id: r.id,
                    name: r.name,
                })
            }
            None => None,
        };
        let security_group = match net.find_security_group(&s.security_group).await {
            Ok(g) => Some(SecurityGroupInfo {
                rules: g.security_group_rules.iter().map(rule_text).collect(),
                id: g.id,
                name: g.name,
            }),
            Err(vitrina_openstack::Error::NameNotFound { .. }) => None,
            Err(e) => {
                return Err(Error::Cloud {
                    what: format!("finding security group `{}`", s.security_group),
                    source: Box::new(e),
                })
            }
        };
        let floating_ips = net
            .list_floating_ips(&vec![])
            .await
            .map_err(Error::cloud("listing floating IPs"))?
            .into_iter()
            .map(|f| FloatingIpInfo {
                address: f.floating_ip_address,
                fixed_address: f.fixed_ip_address,
                status: f.status,
            })
            .collect();
        Ok(NetworkInfo {
            network: network.map(|n| NamedId {
                id: n.id.clone(),
                name: n.name.clone(),
            }),
            subnets,
            router,
            external_network: external.map(|n| NamedId {
                id: n.id.clone(),
                name: n.name.clone(),
            }),
            security_group,
            floating_ips,
        })
    }
}

pub(crate) fn vm_row(s: &Server) -> VmRow {
    let mut fixed = Vec::new();
    let mut floating = Vec::new();
    for addr in s.addresses.values().flatten() {
        if addr.ip_type.as_deref() == Some("floating") {
            floating.push(addr.addr.clone());
        } else {
            fixed.push(addr.addr.clone());
        }
    }
    VmRow {
        id: s.id.clone(),
        name: s.name.clone(),
        status: s.status.clone(),
        flavor: s
            .flavor
            .original_name
            .clone()
            .or_else(|| s.flavor.id.clone())
            .unwrap_or_default(),
        fixed_addresses: fixed,
        floating_addresses: floating,
        disks: s.volumes_attached.iter().map(|v| v.id.clone()).collect(),
    }
}

/// The GPU of a flavor from its extra specs.
pub fn gpu_of(specs: &BTreeMap<String, String>) -> Option<String> {
    ["gpu", "pci_passthrough:alias", "resources:VGPU"]
        .iter()
        .find_map(|k| specs.get(*k).cloned())
}

pub(crate) fn rule_text(r: &vitrina_openstack::wire::network::SecurityGroupRule) -> String {
    let ports = match (r.port_range_min, r.port_range_max) {
        (Some(a), Some(b)) if a == b => format!(" {a}"),
        (Some(a), Some(b)) => format!(" {a}-{b}"),
        _ => String::new(),
    };
    let remote = r
        .remote_ip_prefix
        .clone()
        .or_else(|| r.remote_group_id.as_ref().map(|g| format!("group {g}")))
        .unwrap_or_else(|| "any".into());
    format!(
        "{} {} {}{} {}",
        r.direction,
        r.ethertype,
        r.protocol.as_deref().unwrap_or("any"),
        ports,
        remote
    )
}
