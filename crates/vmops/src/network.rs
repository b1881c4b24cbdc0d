//! `network setup`: the network, its subnet, a router with the external gateway and an
//! interface on the subnet, and SSH + ICMP rules in the security group. Idempotent: what exists
//! is kept; a rule that exists is recognised by Neutron's `409` and nothing else is ignored.

use serde::Serialize;
use vitrina_openstack::wire::network::{
    ExternalGatewayInfo, NetworkCreate, RouterCreate, RouterInterfaceRequest, SecurityGroupCreate,
    SecurityGroupRuleCreate, SubnetCreate,
};

use crate::error::{Error, Match, Result};
use crate::ops::{exactly_one, query, Ops};

/// What `network setup` did to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupAction {
    /// `network`, `subnet`, `router`, `router gateway`, `router interface`, `security group`,
    /// `rule`.
    pub kind: String,
    pub name: String,
    /// `created`, `exists` or `updated`.
    pub action: String,
    pub id: Option<String>,
}

/// Everything `network setup` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupReport {
    pub actions: Vec<SetupAction>,
}

impl SetupReport {
    /// True when nothing was created or changed.
    pub fn unchanged(&self) -> bool {
        self.actions.iter().all(|a| a.action == "exists")
    }
}

impl Ops {
    /// Creates what is missing of the network set-up; see the module docs.
    pub async fn network_setup(&self) -> Result<SetupReport> {
        let s = &self.settings;
        let net = self.client.network();
        let mut actions = Vec::new();
        let mut record = |kind: &str, name: &str, action: &str, id: Option<&str>| {
            self.reporter.step(&format!("{kind} `{name}`: {action}"));
            actions.push(SetupAction {
                kind: kind.into(),
                name: name.into(),
                action: action.into(),
                id: id.map(str::to_owned),
            });
        };

        // The external network must exist: the cloud provides it.
        let external = self.external_network().await?;

        // Network.
        let found: Vec<_> = net
            .list_networks(&query(&[("name", &s.network_name)]))
            .await
            .map_err(Error::cloud("listing networks"))?
            .into_iter()
            .filter(|n| n.name == s.network_name && !n.router_external)
            .collect();
        let network = if found.is_empty() {
            let n = net
                .create_network(&NetworkCreate {
                    name: Some(s.network_name.clone()),
                    ..Default::default()
                })
                .await
                .map_err(Error::cloud(format!(
                    "creating network `{}`",
                    s.network_name
                )))?;
            record("network", &n.name, "created", Some(&n.id));
            n
        } else {
            let n = exactly_one("network", &s.network_name, found, net_match, None)?;
            record("network", &n.name, "exists", Some(&n.id));
            n
        };

        // Subnet with the CIDR.
        let subnets = net
            .list_subnets(&query(&[("network_id", &network.id)]))
            .await
            .map_err(Error::cloud("listing subnets"))?;
        let subnet = match subnets.into_iter().find(|x| x.cidr == s.subnet_cidr) {
            Some(x) => {
                record("subnet", &x.cidr, "exists", Some(&x.id));
                x
            }
            None => {
                let x = net
                    .create_subnet(&SubnetCreate {
                        network_id: Some(network.id.clone()),
                        name: Some(format!("{}-subnet", s.network_name)),
                        cidr: Some(s.subnet_cidr.clone()),
                        ip_version: Some(4),
                        enable_dhcp: Some(true),
                        ..Default::default()
                    })
                    .await
                    .map_err(Error::cloud(format!("creating subnet `{}`", s.subnet_cidr)))?;
                record("subnet", &x.cidr, "created", Some(&x.id));
                x
            }
        };

        // Router with the external gateway.
        let routers: Vec<_> = net
            .list_routers(&query(&[("name", &s.router_name)]))
            .await
            .map_err(Error::cloud("listing routers"))?
            .into_iter()
            .filter(|r| r.name == s.router_name)
            .collect();
        let gateway = ExternalGatewayInfo {
            network_id: external.clone(),
            enable_snat: None,
            external_fixed_ips: None,
        };
        let router = if routers.is_empty() {
            let r = net
                .create_router(&RouterCreate {
                    name: Some(s.router_name.clone()),
                    external_gateway_info: Some(Some(gateway)),
                    ..Default::default()
                })
                .await
                .map_err(Error::cloud(format!("creating router `{}`", s.router_name)))?;
            record("router", &r.name, "created", Some(&r.id));
            r
        } else {
            let r = exactly_one(
                "router",
                &s.router_name,
                routers,
                |r| Match {
                    id: r.id.clone(),
                    status: r.status.clone(),
                },
                None,
            )?;
            record("router", &r.name, "exists", Some(&r.id));
            if r.external_gateway_info.as_ref().map(|g| &g.network_id) != Some(&external) {
                let r = net
                    .update_router(
                        &r.id,
                        &RouterCreate {
                            external_gateway_info: Some(Some(gateway)),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(Error::cloud(format!(
                        "setting the gateway of router `{}`",
                        s.router_name
                    )))?;
                record(
                    "router gateway",
                    &s.external_network,
                    "updated",
                    Some(&r.id),
                );
                r
            } else {
                r
            }
        };
        let router_ports = net
            .list_ports(&query(&[("device_id", &router.id)]))
            .await
            .map_err(Error::cloud("listing router ports"))?;
        let has_interface = router_ports.iter().any(|p| {
            p.device_owner.starts_with("network:router_interface")
                && p.fixed_ips
                    .iter()
                    .any(|f| f.subnet_id.as_deref() == Some(subnet.id.as_str()))
        });
        if has_interface {
            record("router interface", &subnet.cidr, "exists", None);
        } else {
            let i = net
                .add_router_interface(
                    &router.id,
                    &RouterInterfaceRequest {
                        subnet_id: Some(subnet.id.clone()),
                        port_id: None,
                    },
                )
                .await
                .map_err(Error::cloud(format!(
                    "adding subnet `{}` to router `{}`",
                    subnet.cidr, s.router_name
                )))?;
            record(
                "router interface",
                &subnet.cidr,
                "created",
                Some(&i.port_id),
            );
        }

        // Security group (`default` exists in every project) and its rules.
        let group = match net.find_security_group(&s.security_group).await {
            Ok(g) => {
                record("security group", &g.name, "exists", Some(&g.id));
                g
            }
            Err(vitrina_openstack::Error::NameNotFound { .. }) => {
                let g = net
                    .create_security_group(&SecurityGroupCreate {
                        name: Some(s.security_group.clone()),
                        ..Default::default()
                    })
                    .await
                    .map_err(Error::cloud(format!(
                        "creating security group `{}`",
                        s.security_group
                    )))?;
                record("security group", &g.name, "created", Some(&g.id));
                g
            }
            Err(e) => {
                return Err(Error::Cloud {
                    what: format!("finding security group `{}`", s.security_group),
                    source: Box::new(e),
                })
            }
        };
        let rules = [("ssh", Some("tcp"), Some(22)), ("icmp", Some("icmp"), None)];
        for (label, protocol, port) in rules {
            let rule = SecurityGroupRuleCreate {
                security_group_id: group.id.clone(),
                direction: "ingress".into(),
                ethertype: Some("IPv4".into()),
                protocol: protocol.map(str::to_owned),
                port_range_min: port,
                port_range_max: port,
                remote_ip_prefix: Some("0.0.0.0/0".into()),
                ..Default::default()
            };
            match net.create_security_group_rule(&rule).await {
                Ok(r) => record("rule", label, "created", Some(&r.id)),
                // Neutron answers 409 SecurityGroupRuleExists for a duplicate; that, and only
                // that, means the rule is already there.
                Err(e) if e.is_conflict() => record("rule", label, "exists", None),
                Err(e) => {
                    return Err(Error::Cloud {
                        what: format!(
                            "adding the {label} rule to security group `{}`",
                            s.security_group
                        ),
                        source: Box::new(e),
                    })
                }
            }
        }
        Ok(SetupReport { actions })
    }

    /// The id of `EXTERNAL_NETWORK`, which must be an external network.
    pub(crate) async fn external_network(&self) -> Result<String> {
        let s = &self.settings;
        let found: Vec<_> = self
            .client
            .network()
            .list_networks(&query(&[("name", &s.external_network)]))
            .await
            .map_err(Error::cloud("listing networks"))?
            .into_iter()
            .filter(|n| n.name == s.external_network && n.router_external)
            .collect();
        let n = exactly_one(
            "external network",
            &s.external_network,
            found,
            net_match,
            Some("set `EXTERNAL_NETWORK` to one of the cloud's external networks".into()),
        )?;
        Ok(n.id)
    }
}

fn net_match(n: &vitrina_openstack::wire::network::Network) -> Match {
    Match {
        id: n.id.clone(),
        status: n.status.clone(),
    }
}
