//! Neutron resources: `vkcs_networking_network`, `_subnet`, `_router`, `_router_interface`,
//! `_port`, `_secgroup`, `_secgroup_rule`, `_floatingip`, `_floatingip_associate`, and the data
//! sources `vkcs_networking_network` and `vkcs_networking_subnet`.

use std::collections::BTreeMap;

use vitrina_engine::provider::{
    ApplyError, AttrType, CreateRequest, DeleteRequest, Nesting, ProviderError, ProviderSchema,
    Schema, UpdateRequest,
};
use vitrina_engine::Value;
use vitrina_openstack::wire::network::{
    AddressPair, AllocationPool, ExternalGatewayInfo, ExtraDhcpOpt, FixedIp, FloatingIpCreate,
    FloatingIpUpdate, NetworkCreate, Port, PortCreate, Router, RouterCreate,
    RouterInterfaceRequest, SecurityGroupCreate, SecurityGroupRuleCreate, Subnet, SubnetCreate,
};
use vitrina_openstack::{Network, Query};

use super::util::{
    b, blocks, boolean, c, has_list, list_of_strings, map_of_strings, number, o, oc, os_err, r,
    retry_conflict, s, set_of_strings, string, strs, token_tag, u32_arg, user_tags, value_specs,
    vbool, vint, vlist, vopt, vs, vset, wait_opts, TEN_MINUTES,
};
use super::{with, Vkcs};

fn common(schema: Schema) -> Schema {
    schema
        .attr("id", c(string()))
        .attr("region", oc(string()).force_new())
        .attr(
            "sdn",
            oc(string())
                .force_new()
                .describe("`neutron` or `sprut`, sent as the `X-SDN` header"),
        )
}

fn tags(schema: Schema) -> Schema {
    schema
        .attr("tags", o(set_of_strings()))
        .attr("all_tags", c(set_of_strings()))
}

/// Adds the networking resource and data source schemas.
pub fn schemas(p: &mut ProviderSchema) {
    let r_ = &mut p.resources;
    r_.insert(
        "vkcs_networking_network".into(),
        tags(common(Schema::new()))
            .attr("name", o(string()))
            .attr("description", o(string()))
            .attr("admin_state_up", o(boolean()).default(true))
            .attr("value_specs", o(map_of_strings()).force_new())
            .attr("port_security_enabled", oc(boolean()))
            .attr("private_dns_domain", oc(string()))
            .attr("vkcs_services_access", o(boolean())),
    );
    r_.insert(
        "vkcs_networking_subnet".into(),
        tags(common(Schema::new()))
            .attr("network_id", r(string()).force_new())
            .attr("cidr", oc(string()).force_new())
            .attr("prefix_length", o(number()).force_new())
            .attr("name", o(string()))
            .attr("description", o(string()))
            .attr("gateway_ip", oc(string()))
            .attr("no_gateway", o(boolean()))
            .attr("enable_dhcp", o(boolean()).default(true))
            .attr("dns_nameservers", o(list_of_strings()))
            .attr("subnetpool_id", o(string()).force_new())
            .attr("value_specs", o(map_of_strings()).force_new())
            .attr("enable_private_dns", oc(boolean()).force_new())
            .block(
                "allocation_pool",
                Nesting::List,
                Schema::new()
                    .attr("start", r(string()))
                    .attr("end", r(string())),
            ),
    );
    r_.insert(
        "vkcs_networking_router".into(),
        tags(common(Schema::new()))
            .attr("name", o(string()))
            .attr("description", o(string()))
            .attr("admin_state_up", oc(boolean()))
            .attr("external_network_id", oc(string()))
            .attr("value_specs", o(map_of_strings()).force_new())
            .attr(
                "external_fixed_ips",
                c(AttrType::list(AttrType::Object(
                    [
                        ("ip_address".to_owned(), string()),
                        ("subnet_id".to_owned(), string()),
                    ]
                    .into(),
                ))),
            )
            .block(
                "vendor_options",
                Nesting::List,
                Schema::new().attr("set_router_gateway_after_create", o(boolean())),
            ),
    );
    r_.insert(
        "vkcs_networking_router_interface".into(),
        common(Schema::new())
            .attr("router_id", r(string()).force_new())
            .attr("subnet_id", oc(string()).force_new())
            .attr("port_id", oc(string()).force_new()),
    );
    r_.insert(
        "vkcs_networking_port".into(),
        tags(common(Schema::new()))
            .attr("network_id", r(string()).force_new())
            .attr("name", o(string()))
            .attr("description", o(string()))
            .attr("admin_state_up", o(boolean()).default(true))
            .attr("mac_address", oc(string()).force_new())
            .attr("device_owner", oc(string()).force_new())
            .attr("device_id", oc(string()).force_new())
            .attr("security_group_ids", oc(set_of_strings()))
            .attr("no_security_groups", o(boolean()))
            .attr("full_security_groups_control", o(boolean()).default(true))
            .attr("no_fixed_ip", o(boolean()))
            .attr("port_security_enabled", oc(boolean()))
            .attr("dns_name", oc(string()))
            .attr("value_specs", o(map_of_strings()).force_new())
            .attr("all_fixed_ips", c(list_of_strings()))
            .attr("all_security_group_ids", c(set_of_strings()))
            .attr("dns_assignment", c(AttrType::list(map_of_strings())))
            .block(
                "fixed_ip",
                Nesting::List,
                Schema::new()
                    .attr("subnet_id", r(string()))
                    .attr("ip_address", oc(string())),
            )
            .block(
                "allowed_address_pairs",
                Nesting::Set,
                Schema::new()
                    .attr("ip_address", r(string()))
                    .attr("mac_address", oc(string())),
            )
            .block(
                "extra_dhcp_option",
                Nesting::Set,
                Schema::new()
                    .attr("name", r(string()))
                    .attr("value", r(string()))
                    .attr("ip_version", o(number()).default(Value::int(4))),
            ),
    );
    r_.insert(
        "vkcs_networking_secgroup".into(),
        tags(common(Schema::new()))
            .attr("name", r(string()))
            .attr("description", oc(string()))
            .attr("delete_default_rules", o(boolean()).force_new()),
    );
    r_.insert(
        "vkcs_networking_secgroup_rule".into(),
        common(Schema::new())
            .attr("direction", r(string()).force_new())
            .attr("ethertype", oc(string()).force_new())
            .attr("protocol", oc(string()).force_new())
            .attr("port_range_min", oc(number()).force_new())
            .attr("port_range_max", oc(number()).force_new())
            .attr("remote_ip_prefix", oc(string()).force_new())
            .attr("remote_group_id", oc(string()).force_new())
            .attr("security_group_id", r(string()).force_new())
            .attr("description", o(string()).force_new()),
    );
    r_.insert(
        "vkcs_networking_floatingip".into(),
        tags(common(Schema::new()))
            .attr("pool", r(string()).force_new())
            .attr("address", oc(string()).force_new())
            .attr("port_id", oc(string()))
            .attr("fixed_ip", oc(string()))
            .attr("subnet_id", oc(string()))
            .attr("subnet_ids", o(list_of_strings()))
            .attr("description", o(string()))
            .attr("value_specs", o(map_of_strings()).force_new()),
    );
    r_.insert(
        "vkcs_networking_floatingip_associate".into(),
        common(Schema::new())
            .attr("floating_ip", r(string()).force_new())
            .attr("port_id", r(string()))
            .attr("fixed_ip", oc(string())),
    );

    let d = &mut p.data_sources;
    d.insert(
        "vkcs_networking_network".into(),
        common(Schema::new())
            .attr("id", oc(string()))
            .attr("network_id", o(string()))
            .attr("name", oc(string()))
            .attr("description", oc(string()))
            .attr("status", o(string()))
            .attr("tenant_id", oc(string()))
            .attr("external", oc(boolean()))
            .attr("matching_subnet_cidr", o(string()))
            .attr("tags", o(set_of_strings()))
            .attr("vkcs_services_access", oc(boolean()))
            .attr("admin_state_up", c(boolean()))
            .attr("shared", c(boolean()))
            .attr("all_tags", c(set_of_strings()))
            .attr("subnets", c(list_of_strings()))
            .attr("private_dns_domain", c(string()))
            .attr("port_security_enabled", c(boolean())),
    );
    let pool =
        AttrType::Object([("start".to_owned(), string()), ("end".to_owned(), string())].into());
    let route = AttrType::Object(
        [
            ("destination_cidr".to_owned(), string()),
            ("next_hop".to_owned(), string()),
        ]
        .into(),
    );
    d.insert(
        "vkcs_networking_subnet".into(),
        common(Schema::new())
            .attr("id", oc(string()))
            .attr("subnet_id", o(string()))
            .attr("name", oc(string()))
            .attr("description", oc(string()))
            .attr("dhcp_enabled", o(boolean()))
            .attr("network_id", oc(string()))
            .attr("tenant_id", oc(string()))
            .attr("ip_version", oc(number()))
            .attr("gateway_ip", oc(string()))
            .attr("cidr", oc(string()))
            .attr("subnetpool_id", oc(string()))
            .attr("tags", o(set_of_strings()))
            .attr("all_tags", c(set_of_strings()))
            .attr("allocation_pools", c(AttrType::list(pool)))
            .attr("enable_dhcp", c(boolean()))
            .attr("dns_nameservers", c(list_of_strings()))
            .attr("host_routes", c(AttrType::list(route))),
    );
}

// --- dispatch -----------------------------------------------------------------------------------

/// `tags` for a create body: the configured tags and the engine's create token, so a create
/// repeated after a crash finds the object the first attempt made (see [`token_tag`]).
fn create_tags(c: &Value, token: &str) -> serde_json::Value {
    let mut tags = strs(c, "tags");
    tags.push(token_tag(token));
    serde_json::Value::from(tags)
}

/// The query that finds the object an earlier attempt of this create made.
fn by_token(token: &str) -> Query {
    vec![("tags".into(), token_tag(token))]
}

/// The first object an earlier attempt of this create made, if any.
fn earlier<T>(
    found: Result<Vec<T>, vitrina_openstack::Error>,
    what: &str,
) -> Result<Option<T>, ApplyError> {
    let list = found.map_err(os_err(format!(
        "cannot look for the {what} of an earlier attempt"
    )))?;
    Ok(list.into_iter().next())
}

pub(crate) async fn create(vk: &Vkcs, req: &CreateRequest) -> Result<Value, ApplyError> {
    let n = vk.network(&req.config)?;
    let mark = by_token(&req.token);
    let c = &req.config;
    let p = &req.planned;
    let out = match req.type_name.as_str() {
        "vkcs_networking_network" => {
            let mut specs = value_specs(c);
            if let Some(access) = b(c, "vkcs_services_access") {
                specs.insert(
                    "vkcs_services_access".into(),
                    serde_json::Value::Bool(access),
                );
            }
            specs.insert("tags".into(), create_tags(c, &req.token));
            let body = NetworkCreate {
                name: s(c, "name"),
                description: s(c, "description"),
                admin_state_up: b(c, "admin_state_up"),
                port_security_enabled: b(c, "port_security_enabled"),
                dns_domain: s(c, "private_dns_domain"),
                value_specs: specs,
                ..NetworkCreate::default()
            };
            let net = match earlier(n.list_networks(&mark).await, "network")? {
                Some(net) => net,
                None => n
                    .create_network(&body)
                    .await
                    .map_err(os_err("cannot create the network"))?,
            };
            network_value(p, &net)
        }
        "vkcs_networking_subnet" => {
            let mut body = subnet_body(c, true)?;
            body.value_specs
                .insert("tags".into(), create_tags(c, &req.token));
            let sub = match earlier(n.list_subnets(&mark).await, "subnet")? {
                Some(sub) => sub,
                None => n
                    .create_subnet(&body)
                    .await
                    .map_err(os_err("cannot create the subnet"))?,
            };
            subnet_value(p, &sub)
        }
        "vkcs_networking_router" => return create_router(vk, &n, req, &mark).await,
        "vkcs_networking_router_interface" => {
            let router_id = s(c, "router_id").unwrap_or_default();
            let iface = n
                .add_router_interface(
                    &router_id,
                    &RouterInterfaceRequest {
                        subnet_id: s(c, "subnet_id"),
                        port_id: s(c, "port_id"),
                    },
                )
                .await
                .map_err(os_err(format!(
                    "cannot add an interface to router `{router_id}`"
                )))?;
            let out = with(
                p,
                [
                    ("id", vs(&iface.port_id)),
                    ("port_id", vs(&iface.port_id)),
                    ("subnet_id", vs(&iface.subnet_id)),
                ],
            );
            if let Err(e) = n
                .wait_port(
                    &iface.port_id,
                    &["ACTIVE", "DOWN"],
                    wait_opts(req.timeout, TEN_MINUTES),
                )
                .await
            {
                return Err(ApplyError {
                    error: crate::vkcs::util::perr("the router interface port did not come up", e),
                    partial: Some(out),
                });
            }
            out
        }
        "vkcs_networking_port" => {
            let mut body = port_body(c, true);
            body.value_specs
                .insert("tags".into(), create_tags(c, &req.token));
            let port = match earlier(n.list_ports(&mark).await, "port")? {
                Some(port) => port,
                None => n
                    .create_port(&body)
                    .await
                    .map_err(os_err("cannot create the port"))?,
            };
            port_value(p, &port, true)
        }
        "vkcs_networking_secgroup" => {
            let body = SecurityGroupCreate {
                name: s(c, "name"),
                description: s(c, "description"),
                value_specs: BTreeMap::from([("tags".into(), create_tags(c, &req.token))]),
                ..SecurityGroupCreate::default()
            };
            let found = n.list_security_groups(&mark).await;
            let sg = match earlier(found, "security group")? {
                Some(sg) => sg,
                None => n
                    .create_security_group(&body)
                    .await
                    .map_err(os_err("cannot create the security group"))?,
            };
            let out = with(
                p,
                [
                    ("id", vs(&sg.id)),
                    ("name", vs(&sg.name)),
                    ("description", vs(&sg.description)),
                    ("all_tags", vset(user_tags(&sg.tags))),
                ],
            );
            if b(c, "delete_default_rules") == Some(true) {
                let q: Query = vec![("security_group_id".into(), sg.id.clone())];
                let rules = n.list_security_group_rules(&q).await;
                let result = match rules {
                    Ok(rules) => {
                        let mut r = Ok(());
                        for rule in rules {
                            if let Err(e) = n.delete_security_group_rule(&rule.id).await {
                                r = Err(e);
                                break;
                            }
                        }
                        r
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    return Err(ApplyError {
                        error: crate::vkcs::util::perr(
                            "cannot delete the default rules of the security group",
                            e,
                        ),
                        partial: Some(out),
                    });
                }
            }
            out
        }
        "vkcs_networking_secgroup_rule" => {
            let body = SecurityGroupRuleCreate {
                security_group_id: s(c, "security_group_id").unwrap_or_default(),
                direction: s(c, "direction").unwrap_or_default(),
                ethertype: Some(s(c, "ethertype").unwrap_or_else(|| "IPv4".into())),
                protocol: s(c, "protocol"),
                port_range_min: u32_arg(c, "port_range_min")?,
                port_range_max: u32_arg(c, "port_range_max")?,
                remote_ip_prefix: s(c, "remote_ip_prefix"),
                remote_group_id: s(c, "remote_group_id"),
                description: s(c, "description"),
            };
            if body.remote_ip_prefix.is_some() && body.remote_group_id.is_some() {
                return Err(ProviderError::new(
                    "`remote_ip_prefix` and `remote_group_id` cannot both be set",
                )
                .into());
            }
            let rule = n
                .create_security_group_rule(&body)
                .await
                .map_err(os_err("cannot create the security group rule"))?;
            rule_value(p, &rule)
        }
        "vkcs_networking_floatingip" => {
            let pool = s(c, "pool").unwrap_or_default();
            let net = n
                .find_network(&pool)
                .await
                .map_err(os_err(format!("cannot find the floating IP pool `{pool}`")))?;
            let mut specs = value_specs(c);
            specs.insert("tags".into(), create_tags(c, &req.token));
            let body = FloatingIpCreate {
                floating_network_id: net.id.clone(),
                floating_ip_address: s(c, "address"),
                subnet_id: s(c, "subnet_id"),
                port_id: s(c, "port_id"),
                fixed_ip_address: s(c, "fixed_ip"),
                description: s(c, "description"),
                value_specs: specs,
            };
            let fip = match earlier(n.list_floating_ips(&mark).await, "floating IP")? {
                Some(fip) => fip,
                None => n
                    .create_floating_ip(&body)
                    .await
                    .map_err(os_err("cannot create the floating IP"))?,
            };
            let out = fip_value(p, &fip);
            match n
                .wait_floating_ip(
                    &fip.id,
                    &["ACTIVE", "DOWN"],
                    wait_opts(req.timeout, TEN_MINUTES),
                )
                .await
            {
                Ok(f) => fip_value(p, &f),
                Err(e) => {
                    return Err(ApplyError {
                        error: crate::vkcs::util::perr("the floating IP did not become ready", e),
                        partial: Some(out),
                    })
                }
            }
        }
        "vkcs_networking_floatingip_associate" => {
            let address = s(c, "floating_ip").unwrap_or_default();
            let fip = n
                .find_floating_ip(&address)
                .await
                .map_err(os_err(format!("cannot find floating IP `{address}`")))?;
            let port = s(c, "port_id").unwrap_or_default();
            let fip = n
                .associate_floating_ip(&fip.id, &port, s(c, "fixed_ip").as_deref())
                .await
                .map_err(os_err(format!(
                    "cannot associate floating IP `{address}` with port `{port}`"
                )))?;
            fip_assoc_value(p, &fip)
        }
        t => return Err(ProviderError::new(format!("`vkcs` has no resource `{t}`")).into()),
    };
    Ok(out)
}

pub(crate) async fn read(
    vk: &Vkcs,
    type_name: &str,
    p: &Value,
) -> Result<Option<Value>, ProviderError> {
    let n = vk.network(p)?;
    let id = s(p, "id").unwrap_or_default();
    let gone = |e: &vitrina_openstack::Error| e.is_not_found();
    macro_rules! get {
        ($call:expr, $what:literal) => {
            match $call.await {
                Ok(x) => x,
                Err(e) if gone(&e) => return Ok(None),
                Err(e) => {
                    return Err(crate::vkcs::util::perr(
                        format!(concat!("cannot read ", $what, " `{}`"), id),
                        e,
                    ))
                }
            }
        };
    }
    Ok(Some(match type_name {
        "vkcs_networking_network" => network_value(p, &get!(n.get_network(&id), "network")),
        "vkcs_networking_subnet" => subnet_value(p, &get!(n.get_subnet(&id), "subnet")),
        "vkcs_networking_router" => router_value(p, &get!(n.get_router(&id), "router")),
        "vkcs_networking_router_interface" => {
            let port = get!(n.get_port(&id), "router interface port");
            let router = s(p, "router_id").unwrap_or_default();
            if port.device_id != router {
                return Ok(None);
            }
            let subnet = port.fixed_ips.first().and_then(|f| f.subnet_id.clone());
            let mut changes = vec![("port_id", vs(&port.id))];
            if let Some(sub) = subnet {
                if s(p, "subnet_id").is_some() {
                    changes.push(("subnet_id", vs(sub)));
                }
            }
            with(p, changes)
        }
        "vkcs_networking_port" => port_value(p, &get!(n.get_port(&id), "port"), false),
        "vkcs_networking_secgroup" => {
            let sg = get!(n.get_security_group(&id), "security group");
            with(
                p,
                [
                    ("name", vs(&sg.name)),
                    ("description", vs(&sg.description)),
                    ("all_tags", vset(user_tags(&sg.tags))),
                ],
            )
        }
        "vkcs_networking_secgroup_rule" => rule_value(
            p,
            &get!(n.get_security_group_rule(&id), "security group rule"),
        ),
        "vkcs_networking_floatingip" => fip_value(p, &get!(n.get_floating_ip(&id), "floating IP")),
        "vkcs_networking_floatingip_associate" => {
            let fip = get!(n.get_floating_ip(&id), "floating IP");
            if fip.port_id.as_deref().unwrap_or("").is_empty() {
                return Ok(None);
            }
            fip_assoc_value(p, &fip)
        }
        t => return Err(ProviderError::new(format!("`vkcs` has no resource `{t}`"))),
    }))
}

pub(crate) async fn update(vk: &Vkcs, req: &UpdateRequest) -> Result<Value, ApplyError> {
    let n = vk.network(&req.config)?;
    let c = &req.config;
    let p = &req.planned;
    let id = s(&req.prior, "id").unwrap_or_default();
    let changed = |name: &str| req.prior.get(name) != req.planned.get(name);
    let out = match req.type_name.as_str() {
        "vkcs_networking_network" => {
            let body = NetworkCreate {
                name: changed("name").then(|| s(c, "name").unwrap_or_default()),
                description: changed("description")
                    .then(|| s(c, "description").unwrap_or_default()),
                admin_state_up: changed("admin_state_up")
                    .then(|| b(c, "admin_state_up").unwrap_or(true)),
                port_security_enabled: if changed("port_security_enabled") {
                    b(c, "port_security_enabled")
                } else {
                    None
                },
                ..NetworkCreate::default()
            };
            let net = n
                .update_network(&id, &body)
                .await
                .map_err(os_err(format!("cannot update network `{id}`")))?;
            network_value(p, &net)
        }
        "vkcs_networking_subnet" => {
            let mut body = subnet_body(c, false)?;
            if !changed("gateway_ip") && !changed("no_gateway") {
                body.gateway_ip = None;
            }
            if !changed("allocation_pool") {
                body.allocation_pools = None;
            }
            let sub = n
                .update_subnet(&id, &body)
                .await
                .map_err(os_err(format!("cannot update subnet `{id}`")))?;
            subnet_value(p, &sub)
        }
        "vkcs_networking_router" => {
            let mut body = RouterCreate {
                name: changed("name").then(|| s(c, "name").unwrap_or_default()),
                description: changed("description")
                    .then(|| s(c, "description").unwrap_or_default()),
                admin_state_up: if changed("admin_state_up") {
                    b(c, "admin_state_up")
                } else {
                    None
                },
                ..RouterCreate::default()
            };
            if changed("external_network_id") {
                body.external_gateway_info =
                    Some(
                        s(c, "external_network_id").map(|network_id| ExternalGatewayInfo {
                            network_id,
                            ..ExternalGatewayInfo::default()
                        }),
                    );
            }
            let router = n
                .update_router(&id, &body)
                .await
                .map_err(os_err(format!("cannot update router `{id}`")))?;
            router_value(p, &router)
        }
        "vkcs_networking_port" => {
            let mut body = port_body(c, false);
            if !changed("fixed_ip") && !changed("no_fixed_ip") {
                body.fixed_ips = None;
            }
            if !changed("security_group_ids") && !changed("no_security_groups") {
                body.security_groups = None;
            }
            let port = n
                .update_port(&id, &body)
                .await
                .map_err(os_err(format!("cannot update port `{id}`")))?;
            port_value(p, &port, true)
        }
        "vkcs_networking_secgroup" => {
            let body = SecurityGroupCreate {
                name: s(c, "name"),
                description: Some(s(c, "description").unwrap_or_default()),
                ..SecurityGroupCreate::default()
            };
            let sg = n
                .update_security_group(&id, &body)
                .await
                .map_err(os_err(format!("cannot update security group `{id}`")))?;
            with(
                p,
                [("name", vs(&sg.name)), ("description", vs(&sg.description))],
            )
        }
        "vkcs_networking_floatingip" => {
            let mut body = FloatingIpUpdate::default();
            if changed("description") {
                body.description = Some(s(c, "description").unwrap_or_default());
            }
            if changed("port_id") || changed("fixed_ip") {
                body.port_id = Some(s(c, "port_id"));
                body.fixed_ip_address = s(c, "fixed_ip").map(Some);
            }
            let fip = n
                .update_floating_ip(&id, &body)
                .await
                .map_err(os_err(format!("cannot update floating IP `{id}`")))?;
            fip_value(p, &fip)
        }
        "vkcs_networking_floatingip_associate" => {
            let port = s(c, "port_id").unwrap_or_default();
            let fip = n
                .associate_floating_ip(&id, &port, s(c, "fixed_ip").as_deref())
                .await
                .map_err(os_err(format!(
                    "cannot associate floating IP `{id}` with port `{port}`"
                )))?;
            fip_assoc_value(p, &fip)
        }
        _ => req.planned.clone(),
    };
    Ok(out)
}

pub(crate) async fn delete(vk: &Vkcs, req: &DeleteRequest) -> Result<(), ProviderError> {
    let p = &req.prior;
    let n = vk.network(p)?;
    let id = s(p, "id").unwrap_or_default();
    let timeout = req.timeout.unwrap_or(TEN_MINUTES);
    let what = req
        .type_name
        .trim_start_matches("vkcs_networking_")
        .replace('_', " ");
    let err = |e| crate::vkcs::util::perr(format!("cannot delete {what} `{id}`"), e);
    match req.type_name.as_str() {
        "vkcs_networking_network" => retry_conflict(timeout, || n.delete_network(&id))
            .await
            .map(drop),
        "vkcs_networking_subnet" => retry_conflict(timeout, || n.delete_subnet(&id))
            .await
            .map(drop),
        "vkcs_networking_router" => retry_conflict(timeout, || n.delete_router(&id))
            .await
            .map(drop),
        "vkcs_networking_router_interface" => {
            let router = s(p, "router_id").unwrap_or_default();
            let body = RouterInterfaceRequest {
                subnet_id: None,
                port_id: Some(id.clone()),
            };
            retry_conflict(timeout, || n.remove_router_interface(&router, &body))
                .await
                .map(drop)
        }
        "vkcs_networking_port" => retry_conflict(timeout, || n.delete_port(&id))
            .await
            .map(drop),
        "vkcs_networking_secgroup" => retry_conflict(timeout, || n.delete_security_group(&id))
            .await
            .map(drop),
        "vkcs_networking_secgroup_rule" => n.delete_security_group_rule(&id).await.map(drop),
        "vkcs_networking_floatingip" => retry_conflict(timeout, || n.delete_floating_ip(&id))
            .await
            .map(drop),
        "vkcs_networking_floatingip_associate" => match n.disassociate_floating_ip(&id).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(drop),
        },
        t => return Err(ProviderError::new(format!("`vkcs` has no resource `{t}`"))),
    }
    .map_err(err)
}

// --- data sources -------------------------------------------------------------------------------

pub(crate) async fn read_network_data(vk: &Vkcs, c: &Value) -> Result<Value, ProviderError> {
    let n = vk.network(c)?;
    let mut q: Query = Vec::new();
    if let Some(id) = s(c, "network_id").or_else(|| s(c, "id")) {
        q.push(("id".into(), id));
    }
    for (attr, key) in [
        ("name", "name"),
        ("status", "status"),
        ("tenant_id", "tenant_id"),
    ] {
        if let Some(v) = s(c, attr) {
            q.push((key.into(), v));
        }
    }
    if let Some(ext) = b(c, "external") {
        q.push(("router:external".into(), ext.to_string()));
    }
    for t in strs(c, "tags") {
        q.push(("tags".into(), t));
    }
    let mut found = n
        .list_networks(&q)
        .await
        .map_err(os_err("cannot list networks"))?;
    if let Some(cidr) = s(c, "matching_subnet_cidr") {
        let mut keep = Vec::new();
        for net in found {
            let subnets = n
                .list_subnets(&vec![("network_id".into(), net.id.clone())])
                .await
                .map_err(os_err("cannot list subnets"))?;
            if subnets.iter().any(|sub| sub.cidr == cidr) {
                keep.push(net);
            }
        }
        found = keep;
    }
    let net = one(found, "network")?;
    Ok(Value::map([
        ("id", vs(&net.id)),
        ("network_id", vs(&net.id)),
        ("name", vs(&net.name)),
        ("description", vs(&net.description)),
        (
            "tenant_id",
            vs(if net.project_id.is_empty() {
                &net.tenant_id
            } else {
                &net.project_id
            }),
        ),
        ("external", vbool(net.router_external)),
        ("admin_state_up", vbool(net.admin_state_up)),
        ("shared", vbool(net.shared)),
        ("all_tags", vset(user_tags(&net.tags))),
        ("subnets", vlist(net.subnets.clone())),
        (
            "private_dns_domain",
            vs(net.dns_domain.clone().unwrap_or_default()),
        ),
        (
            "port_security_enabled",
            vbool(net.port_security_enabled.unwrap_or(true)),
        ),
        (
            "vkcs_services_access",
            b(c, "vkcs_services_access").map_or(Value::Bool(false), vbool),
        ),
    ]))
}

pub(crate) async fn read_subnet_data(vk: &Vkcs, c: &Value) -> Result<Value, ProviderError> {
    let n = vk.network(c)?;
    let mut q: Query = Vec::new();
    if let Some(id) = s(c, "subnet_id").or_else(|| s(c, "id")) {
        q.push(("id".into(), id));
    }
    for (attr, key) in [
        ("name", "name"),
        ("description", "description"),
        ("network_id", "network_id"),
        ("tenant_id", "tenant_id"),
        ("gateway_ip", "gateway_ip"),
        ("cidr", "cidr"),
        ("subnetpool_id", "subnetpool_id"),
    ] {
        if let Some(v) = s(c, attr) {
            q.push((key.into(), v));
        }
    }
    if let Some(v) = c.get("ip_version").as_i64() {
        q.push(("ip_version".into(), v.to_string()));
    }
    if let Some(v) = b(c, "dhcp_enabled") {
        q.push(("enable_dhcp".into(), v.to_string()));
    }
    for t in strs(c, "tags") {
        q.push(("tags".into(), t));
    }
    let sub = one(
        n.list_subnets(&q)
            .await
            .map_err(os_err("cannot list subnets"))?,
        "subnet",
    )?;
    Ok(Value::map([
        ("id", vs(&sub.id)),
        ("subnet_id", vs(&sub.id)),
        ("name", vs(&sub.name)),
        ("description", vs(&sub.description)),
        ("network_id", vs(&sub.network_id)),
        (
            "tenant_id",
            vs(if sub.project_id.is_empty() {
                &sub.tenant_id
            } else {
                &sub.project_id
            }),
        ),
        ("ip_version", vint(sub.ip_version)),
        ("gateway_ip", vs(sub.gateway_ip.clone().unwrap_or_default())),
        ("cidr", vs(&sub.cidr)),
        (
            "subnetpool_id",
            vs(sub.subnetpool_id.clone().unwrap_or_default()),
        ),
        ("all_tags", vset(user_tags(&sub.tags))),
        ("enable_dhcp", vbool(sub.enable_dhcp)),
        (
            "dhcp_enabled",
            b(c, "dhcp_enabled").map_or(Value::Null, vbool),
        ),
        ("dns_nameservers", vlist(sub.dns_nameservers.clone())),
        (
            "allocation_pools",
            Value::List(
                sub.allocation_pools
                    .iter()
                    .map(|a| Value::map([("start", vs(&a.start)), ("end", vs(&a.end))]))
                    .collect(),
            ),
        ),
        (
            "host_routes",
            Value::List(
                sub.host_routes
                    .iter()
                    .map(|h| {
                        Value::map([
                            ("destination_cidr", vs(&h.destination)),
                            ("next_hop", vs(&h.nexthop)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ]))
}

fn one<T>(mut found: Vec<T>, kind: &str) -> Result<T, ProviderError> {
    match found.len() {
        0 => Err(ProviderError::new(format!(
            "your query returned no {kind}s; change the search criteria and try again"
        ))),
        1 => found
            .pop()
            .ok_or_else(|| ProviderError::new(format!("no {kind}"))),
        many => Err(ProviderError::new(format!(
            "your query returned {many} {kind}s; make the search criteria more specific"
        ))),
    }
}

// --- request bodies -----------------------------------------------------------------------------

/// The body of a subnet create (`creating`) or update.
pub(crate) fn subnet_body(c: &Value, creating: bool) -> Result<SubnetCreate, ProviderError> {
    let pools: Vec<AllocationPool> = blocks(c, "allocation_pool")
        .iter()
        .filter_map(|p| {
            Some(AllocationPool {
                start: s(p, "start")?,
                end: s(p, "end")?,
            })
        })
        .collect();
    let no_gateway = b(c, "no_gateway") == Some(true);
    if no_gateway && s(c, "gateway_ip").is_some() {
        return Err(ProviderError::new(
            "`no_gateway` and `gateway_ip` cannot both be set",
        ));
    }
    let gateway_ip = if no_gateway {
        Some(None)
    } else {
        s(c, "gateway_ip").map(Some)
    };
    let prefixlen = match c.get("prefix_length").as_i64() {
        None => None,
        Some(n) => Some(
            u8::try_from(n)
                .map_err(|_| ProviderError::new(format!("`prefix_length` {n} is out of range")))?,
        ),
    };
    if creating && s(c, "cidr").is_none() && prefixlen.is_none() && s(c, "subnetpool_id").is_none()
    {
        return Err(ProviderError::new(
            "a subnet needs `cidr`, or `prefix_length` with `subnetpool_id`",
        ));
    }
    Ok(SubnetCreate {
        network_id: if creating { s(c, "network_id") } else { None },
        name: Some(s(c, "name").unwrap_or_default()),
        description: Some(s(c, "description").unwrap_or_default()),
        cidr: if creating { s(c, "cidr") } else { None },
        prefixlen: if creating { prefixlen } else { None },
        ip_version: if creating { Some(4) } else { None },
        gateway_ip,
        enable_dhcp: Some(b(c, "enable_dhcp").unwrap_or(true)),
        allocation_pools: if pools.is_empty() { None } else { Some(pools) },
        dns_nameservers: if creating && !has_list(c, "dns_nameservers") {
            None
        } else {
            Some(strs(c, "dns_nameservers"))
        },
        host_routes: None,
        subnetpool_id: if creating {
            s(c, "subnetpool_id")
        } else {
            None
        },
        value_specs: if creating {
            value_specs(c)
        } else {
            BTreeMap::new()
        },
    })
}

/// The body of a port create (`creating`) or update.
pub(crate) fn port_body(c: &Value, creating: bool) -> PortCreate {
    let fixed_ips = if b(c, "no_fixed_ip") == Some(true) {
        Some(Vec::new())
    } else {
        let ips: Vec<FixedIp> = blocks(c, "fixed_ip")
            .iter()
            .map(|f| FixedIp {
                subnet_id: s(f, "subnet_id"),
                ip_address: s(f, "ip_address"),
            })
            .collect();
        if ips.is_empty() {
            None
        } else {
            Some(ips)
        }
    };
    let security_groups = if b(c, "no_security_groups") == Some(true) {
        Some(Vec::new())
    } else if has_list(c, "security_group_ids") {
        Some(strs(c, "security_group_ids"))
    } else {
        None
    };
    let pairs: Vec<AddressPair> = blocks(c, "allowed_address_pairs")
        .iter()
        .filter_map(|a| {
            Some(AddressPair {
                ip_address: s(a, "ip_address")?,
                mac_address: s(a, "mac_address"),
            })
        })
        .collect();
    let dhcp: Vec<ExtraDhcpOpt> = blocks(c, "extra_dhcp_option")
        .iter()
        .filter_map(|d| {
            Some(ExtraDhcpOpt {
                opt_name: s(d, "name")?,
                opt_value: s(d, "value")?,
                ip_version: d
                    .get("ip_version")
                    .as_i64()
                    .and_then(|v| u8::try_from(v).ok()),
            })
        })
        .collect();
    PortCreate {
        network_id: if creating { s(c, "network_id") } else { None },
        name: Some(s(c, "name").unwrap_or_default()),
        description: Some(s(c, "description").unwrap_or_default()),
        admin_state_up: Some(b(c, "admin_state_up").unwrap_or(true)),
        mac_address: if creating { s(c, "mac_address") } else { None },
        fixed_ips,
        device_id: if creating { s(c, "device_id") } else { None },
        device_owner: if creating { s(c, "device_owner") } else { None },
        security_groups,
        port_security_enabled: b(c, "port_security_enabled"),
        allowed_address_pairs: if creating && pairs.is_empty() {
            None
        } else {
            Some(pairs)
        },
        extra_dhcp_opts: if creating && dhcp.is_empty() {
            None
        } else {
            Some(dhcp)
        },
        dns_name: s(c, "dns_name"),
        value_specs: if creating {
            value_specs(c)
        } else {
            BTreeMap::new()
        },
    }
}

async fn create_router(
    _vk: &Vkcs,
    n: &Network,
    req: &CreateRequest,
    mark: &Query,
) -> Result<Value, ApplyError> {
    let c = &req.config;
    let after = blocks(c, "vendor_options")
        .first()
        .and_then(|v| b(v, "set_router_gateway_after_create"))
        .unwrap_or(false);
    let gateway = s(c, "external_network_id").map(|network_id| ExternalGatewayInfo {
        network_id,
        ..ExternalGatewayInfo::default()
    });
    let body = RouterCreate {
        name: s(c, "name"),
        description: s(c, "description"),
        admin_state_up: b(c, "admin_state_up"),
        external_gateway_info: if after {
            None
        } else {
            gateway.clone().map(Some)
        },
        value_specs: {
            let mut specs = value_specs(c);
            specs.insert("tags".into(), create_tags(c, &req.token));
            specs
        },
    };
    let router = match earlier(n.list_routers(mark).await, "router")? {
        Some(router) => router,
        None => n
            .create_router(&body)
            .await
            .map_err(os_err("cannot create the router"))?,
    };
    let mut out = router_value(&req.planned, &router);
    if after {
        if let Some(g) = gateway {
            let set = RouterCreate {
                external_gateway_info: Some(Some(g)),
                ..RouterCreate::default()
            };
            match n.update_router(&router.id, &set).await {
                Ok(r) => out = router_value(&req.planned, &r),
                Err(e) => {
                    return Err(ApplyError {
                        error: crate::vkcs::util::perr(
                            "cannot set the router's external gateway",
                            e,
                        ),
                        partial: Some(out),
                    })
                }
            }
        }
    }
    Ok(out)
}

// --- state values from API records --------------------------------------------------------------

fn network_value(base: &Value, net: &vitrina_openstack::wire::network::Network) -> Value {
    with(
        base,
        [
            ("id", vs(&net.id)),
            ("name", vs(&net.name)),
            ("description", vs(&net.description)),
            ("admin_state_up", vbool(net.admin_state_up)),
            (
                "port_security_enabled",
                vbool(net.port_security_enabled.unwrap_or(true)),
            ),
            (
                "private_dns_domain",
                vs(net.dns_domain.clone().unwrap_or_default()),
            ),
            ("all_tags", vset(user_tags(&net.tags))),
        ],
    )
}

fn subnet_value(base: &Value, sub: &Subnet) -> Value {
    let pools = Value::List(
        sub.allocation_pools
            .iter()
            .map(|a| Value::map([("start", vs(&a.start)), ("end", vs(&a.end))]))
            .collect(),
    );
    let mut changes = vec![
        ("id", vs(&sub.id)),
        ("network_id", vs(&sub.network_id)),
        ("cidr", vs(&sub.cidr)),
        ("name", vs(&sub.name)),
        ("description", vs(&sub.description)),
        ("gateway_ip", vs(sub.gateway_ip.clone().unwrap_or_default())),
        ("enable_dhcp", vbool(sub.enable_dhcp)),
        ("allocation_pool", pools),
        ("all_tags", vset(user_tags(&sub.tags))),
        (
            "enable_private_dns",
            base.get("enable_private_dns")
                .as_bool()
                .map_or(vbool(false), vbool),
        ),
    ];
    if !sub.dns_nameservers.is_empty() || has_list(base, "dns_nameservers") {
        changes.push(("dns_nameservers", vlist(sub.dns_nameservers.clone())));
    }
    if let Some(pool) = &sub.subnetpool_id {
        changes.push(("subnetpool_id", vs(pool)));
    }
    with(base, changes)
}

fn router_value(base: &Value, router: &Router) -> Value {
    let gw = router.external_gateway_info.as_ref();
    let ips = gw
        .and_then(|g| g.external_fixed_ips.as_ref())
        .map(|ips| {
            ips.iter()
                .map(|f| {
                    Value::map([
                        ("ip_address", vopt(f.ip_address.clone())),
                        ("subnet_id", vopt(f.subnet_id.clone())),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    with(
        base,
        [
            ("id", vs(&router.id)),
            ("name", vs(&router.name)),
            ("description", vs(&router.description)),
            ("admin_state_up", vbool(router.admin_state_up)),
            (
                "external_network_id",
                vs(gw.map(|g| g.network_id.clone()).unwrap_or_default()),
            ),
            ("external_fixed_ips", Value::List(ips)),
            ("all_tags", vset(user_tags(&router.tags))),
        ],
    )
}

/// A port's state. `fill_fixed_ip`: after create/update, fill the computed `ip_address` of each
/// configured `fixed_ip` from the answer (refresh keeps what was stored).
fn port_value(base: &Value, port: &Port, fill_fixed_ip: bool) -> Value {
    let mut sgs = port.security_groups.clone();
    sgs.sort();
    let mut changes = vec![
        ("id", vs(&port.id)),
        ("network_id", vs(&port.network_id)),
        ("name", vs(&port.name)),
        ("description", vs(&port.description)),
        ("admin_state_up", vbool(port.admin_state_up)),
        ("mac_address", vs(&port.mac_address)),
        ("device_owner", vs(&port.device_owner)),
        ("device_id", vs(&port.device_id)),
        ("security_group_ids", vset(sgs.clone())),
        ("all_security_group_ids", vset(sgs)),
        (
            "all_fixed_ips",
            vlist(port.fixed_ips.iter().filter_map(|f| f.ip_address.clone())),
        ),
        (
            "port_security_enabled",
            vbool(port.port_security_enabled.unwrap_or(true)),
        ),
        ("dns_name", vs(port.dns_name.clone().unwrap_or_default())),
        (
            "dns_assignment",
            Value::List(
                port.dns_assignment
                    .iter()
                    .flatten()
                    .map(|d| {
                        Value::map([
                            ("hostname", vs(&d.hostname)),
                            ("ip_address", vs(&d.ip_address)),
                            ("fqdn", vs(&d.fqdn)),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("all_tags", vset(user_tags(&port.tags))),
    ];
    if fill_fixed_ip {
        let configured = blocks(base, "fixed_ip");
        let mut used = vec![false; port.fixed_ips.len()];
        let filled: Vec<Value> = configured
            .iter()
            .map(|f| {
                let subnet = s(f, "subnet_id");
                let want = s(f, "ip_address");
                let hit = port.fixed_ips.iter().enumerate().find(|(k, ip)| {
                    !used.get(*k).copied().unwrap_or(true)
                        && ip.subnet_id == subnet
                        && (want.is_none() || ip.ip_address == want)
                });
                let mut obj = f.clone();
                if let Some((k, ip)) = hit {
                    if let Some(u) = used.get_mut(k) {
                        *u = true;
                    }
                    obj.set("ip_address", vopt(ip.ip_address.clone()));
                } else if obj.get("ip_address").is_unknown() {
                    obj.set("ip_address", vs(""));
                }
                obj
            })
            .collect();
        changes.push(("fixed_ip", Value::List(filled)));
    }
    with(base, changes)
}

fn rule_value(base: &Value, rule: &vitrina_openstack::wire::network::SecurityGroupRule) -> Value {
    with(
        base,
        [
            ("id", vs(&rule.id)),
            ("direction", vs(&rule.direction)),
            ("ethertype", vs(&rule.ethertype)),
            ("protocol", vs(rule.protocol.clone().unwrap_or_default())),
            ("port_range_min", vint(rule.port_range_min.unwrap_or(0))),
            ("port_range_max", vint(rule.port_range_max.unwrap_or(0))),
            (
                "remote_ip_prefix",
                vs(rule.remote_ip_prefix.clone().unwrap_or_default()),
            ),
            (
                "remote_group_id",
                vs(rule.remote_group_id.clone().unwrap_or_default()),
            ),
            ("security_group_id", vs(&rule.security_group_id)),
        ],
    )
}

fn fip_value(base: &Value, fip: &vitrina_openstack::wire::network::FloatingIp) -> Value {
    with(
        base,
        [
            ("id", vs(&fip.id)),
            ("address", vs(&fip.floating_ip_address)),
            ("port_id", vs(fip.port_id.clone().unwrap_or_default())),
            (
                "fixed_ip",
                vs(fip.fixed_ip_address.clone().unwrap_or_default()),
            ),
            (
                "subnet_id",
                base.get("subnet_id").as_str().map_or(vs(""), vs),
            ),
            ("description", vs(&fip.description)),
            ("all_tags", vset(user_tags(&fip.tags))),
        ],
    )
}

fn fip_assoc_value(base: &Value, fip: &vitrina_openstack::wire::network::FloatingIp) -> Value {
    with(
        base,
        [
            ("id", vs(&fip.id)),
            ("floating_ip", vs(&fip.floating_ip_address)),
            ("port_id", vs(fip.port_id.clone().unwrap_or_default())),
            (
                "fixed_ip",
                vs(fip.fixed_ip_address.clone().unwrap_or_default()),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(entries: &[(&str, Value)]) -> Value {
        Value::map(entries.iter().map(|(k, v)| (*k, v.clone())))
    }

    #[test]
    fn subnet_body_is_ipv4_with_pools_and_no_gateway() {
        let c = cfg(&[
            ("network_id", vs("net")),
            ("cidr", vs("10.0.0.0/24")),
            ("no_gateway", vbool(true)),
            (
                "allocation_pool",
                Value::List(vec![Value::map([
                    ("start", vs("10.0.0.10")),
                    ("end", vs("10.0.0.20")),
                ])]),
            ),
        ]);
        let body = subnet_body(&c, true).unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["ip_version"], 4);
        assert_eq!(json["gateway_ip"], serde_json::Value::Null);
        assert!(json.as_object().unwrap().contains_key("gateway_ip"));
        assert_eq!(json["allocation_pools"][0]["start"], "10.0.0.10");
        assert!(subnet_body(&cfg(&[("network_id", vs("n"))]), true).is_err());
    }

    #[test]
    fn port_body_sends_security_groups_and_fixed_ips() {
        let c = cfg(&[
            ("network_id", vs("net")),
            ("security_group_ids", vlist(["sg1", "sg2"])),
            (
                "fixed_ip",
                Value::List(vec![Value::map([("subnet_id", vs("sub"))])]),
            ),
            (
                "value_specs",
                Value::map([("binding:vnic_type", vs("normal"))]),
            ),
        ]);
        let json = serde_json::to_value(port_body(&c, true)).unwrap();
        assert_eq!(json["security_groups"], serde_json::json!(["sg1", "sg2"]));
        assert_eq!(json["fixed_ips"], serde_json::json!([{"subnet_id": "sub"}]));
        assert_eq!(json["binding:vnic_type"], "normal");
        let none = serde_json::to_value(port_body(
            &cfg(&[("network_id", vs("n")), ("no_security_groups", vbool(true))]),
            true,
        ))
        .unwrap();
        assert_eq!(none["security_groups"], serde_json::json!([]));
    }

    #[test]
    fn every_networking_resource_has_region_and_sdn() {
        let mut p = ProviderSchema::default();
        schemas(&mut p);
        for (name, s) in &p.resources {
            assert!(
                s.attributes
                    .get("region")
                    .is_some_and(|a| a.force_new && a.computed),
                "{name}"
            );
            assert!(
                s.attributes.get("sdn").is_some_and(|a| a.force_new),
                "{name}"
            );
        }
        let rule = &p.resources["vkcs_networking_secgroup_rule"];
        for (n, a) in &rule.attributes {
            if n != "id" {
                assert!(a.force_new, "secgroup rule `{n}` must force replacement");
            }
        }
    }
}
