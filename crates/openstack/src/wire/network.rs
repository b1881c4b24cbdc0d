//! Neutron (network v2.0) wire types: networks, subnets with allocation pools, routers and their
//! interfaces, ports with fixed IPs, security groups and rules, floating IPs, and VK's
//! `GET /v2.0/available-sdn` (a JSON array of SDN names; requests choose one with `X-SDN`).
//!
//! Create and update bodies carry `value_specs`: extra keys flattened into the object, as
//! Terraform's `value_specs` does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{double_option, Link};

/// Extra attributes merged into a create/update body.
pub type ValueSpecs = BTreeMap<String, serde_json::Value>;

/// The header VK Cloud reads to choose the SDN (`neutron` or `sprut`).
pub const SDN_HEADER: &str = "X-SDN";

/// `GET /v2.0/available-sdn` → `["neutron", "sprut"]`.
pub type AvailableSdn = Vec<String>;

// ---------------------------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------------------------

/// A network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_true")]
    pub admin_state_up: bool,
    /// `ACTIVE`, `DOWN`, `BUILD`, `ERROR`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(rename = "router:external", default)]
    pub router_external: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zones: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone_hints: Option<Vec<String>>,
    #[serde(
        rename = "provider:network_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_network_type: Option<String>,
    #[serde(
        rename = "provider:physical_network",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_physical_network: Option<String>,
    #[serde(
        rename = "provider:segmentation_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_segmentation_id: Option<u32>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
}

/// Create or update body of a network (`{"network": {...}}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NetworkCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    #[serde(
        rename = "router:external",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub router_external: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(flatten)]
    pub value_specs: ValueSpecs,
}

// ---------------------------------------------------------------------------------------------
// Subnets
// ---------------------------------------------------------------------------------------------

/// A subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub network_id: String,
    pub cidr: String,
    pub ip_version: u8,
    /// `null` when the subnet has no gateway.
    #[serde(default)]
    pub gateway_ip: Option<String>,
    #[serde(default = "default_true")]
    pub enable_dhcp: bool,
    #[serde(default)]
    pub allocation_pools: Vec<AllocationPool>,
    #[serde(default)]
    pub dns_nameservers: Vec<String>,
    #[serde(default)]
    pub host_routes: Vec<HostRoute>,
    #[serde(default)]
    pub subnetpool_id: Option<String>,
    #[serde(default)]
    pub ipv6_ra_mode: Option<String>,
    #[serde(default)]
    pub ipv6_address_mode: Option<String>,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub service_types: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
}

/// `{"start": "10.0.0.2", "end": "10.0.0.254"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationPool {
    pub start: String,
    pub end: String,
}

/// `{"destination": "0.0.0.0/0", "nexthop": "10.0.0.1"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoute {
    pub destination: String,
    pub nexthop: String,
}

/// Create or update body of a subnet (`{"subnet": {...}}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SubnetCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefixlen: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<u8>,
    /// `Some(None)` sends `null`: no gateway.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub gateway_ip: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dhcp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_pools: Option<Vec<AllocationPool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_nameservers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_routes: Option<Vec<HostRoute>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnetpool_id: Option<String>,
    #[serde(flatten)]
    pub value_specs: ValueSpecs,
}

// ---------------------------------------------------------------------------------------------
// Routers
// ---------------------------------------------------------------------------------------------

/// A router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Router {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub status: String,
    #[serde(default = "default_true")]
    pub admin_state_up: bool,
    /// `null` when the router has no gateway.
    #[serde(default)]
    pub external_gateway_info: Option<ExternalGatewayInfo>,
    #[serde(default)]
    pub routes: Vec<HostRoute>,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zones: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
}

/// `external_gateway_info`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExternalGatewayInfo {
    pub network_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_snat: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_fixed_ips: Option<Vec<FixedIp>>,
}

/// Create or update body of a router (`{"router": {...}}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RouterCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    /// `Some(None)` sends `null`: clear the gateway.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub external_gateway_info: Option<Option<ExternalGatewayInfo>>,
    #[serde(flatten)]
    pub value_specs: ValueSpecs,
}

/// `PUT /v2.0/routers/{id}/add_router_interface` and `remove_router_interface`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouterInterfaceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
}

/// The answer to both interface calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterInterface {
    pub id: String,
    pub subnet_id: String,
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    pub port_id: String,
    #[serde(default)]
    pub network_id: String,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/// A port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub network_id: String,
    #[serde(default = "default_true")]
    pub admin_state_up: bool,
    /// `ACTIVE`, `DOWN`, `BUILD`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub mac_address: String,
    #[serde(default)]
    pub fixed_ips: Vec<FixedIp>,
    #[serde(default)]
    pub device_id: String,
    #[serde(default)]
    pub device_owner: String,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    #[serde(default)]
    pub allowed_address_pairs: Vec<AddressPair>,
    #[serde(default)]
    pub extra_dhcp_opts: Vec<ExtraDhcpOpt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_assignment: Option<Vec<DnsAssignment>>,
    #[serde(
        rename = "binding:vnic_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_vnic_type: Option<String>,
    #[serde(
        rename = "binding:host_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_host_id: Option<String>,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
}

/// `{"subnet_id", "ip_address"}` in a port's `fixed_ips` (and a router's gateway).
/// In requests either may be omitted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FixedIp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// `{"ip_address", "mac_address"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPair {
    pub ip_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

/// `{"opt_name", "opt_value", "ip_version"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraDhcpOpt {
    pub opt_name: String,
    pub opt_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<u8>,
}

/// `{"hostname", "ip_address", "fqdn"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAssignment {
    pub hostname: String,
    pub ip_address: String,
    pub fqdn: String,
}

/// Create or update body of a port (`{"port": {...}}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PortCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// `Some(vec![])` sends `[]`: no address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ips: Option<Vec<FixedIp>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_address_pairs: Option<Vec<AddressPair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_dhcp_opts: Option<Vec<ExtraDhcpOpt>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    #[serde(flatten)]
    pub value_specs: ValueSpecs,
}

// ---------------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------------

/// A security group with its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub security_group_rules: Vec<SecurityGroupRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateful: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
}

/// Create or update body of a security group (`{"security_group": {...}}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SecurityGroupCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateful: Option<bool>,
    #[serde(flatten)]
    pub value_specs: ValueSpecs,
}

/// A security group rule. Neutron sends `null` for unset protocol, ports and remotes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub id: String,
    pub security_group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port_range_min: Option<u32>,
    #[serde(default)]
    pub port_range_max: Option<u32>,
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
    #[serde(default)]
    pub remote_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_address_group_id: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
}

/// Create body of a rule (`{"security_group_rule": {...}}`); rules are never updated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SecurityGroupRuleCreate {
    pub security_group_id: String,
    pub direction: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethertype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range_min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range_max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Floating IPs
// ---------------------------------------------------------------------------------------------

/// A floating IP. Unassociated ones carry `null` in `port_id`, `fixed_ip_address`, `router_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloatingIp {
    pub id: String,
    pub floating_ip_address: String,
    pub floating_network_id: String,
    #[serde(default)]
    pub router_id: Option<String>,
    #[serde(default)]
    pub port_id: Option<String>,
    #[serde(default)]
    pub fixed_ip_address: Option<String>,
    /// `ACTIVE`, `DOWN`, `ERROR`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_details: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_policy_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
}

/// Create body (`{"floatingip": {...}}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FloatingIpCreate {
    pub floating_network_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floating_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub value_specs: ValueSpecs,
}

/// Update body (`{"floatingip": {"port_id": …}}`); `port_id: Some(None)` sends `null` and
/// disassociates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FloatingIpUpdate {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub port_id: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub fixed_ip_address: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Envelopes: `{"network": …}`, `{"networks": […], "networks_links": […]}`, …
// ---------------------------------------------------------------------------------------------

macro_rules! envelopes {
    ($($one:ident($one_key:literal, $one_ty:ty), $many:ident($many_key:literal, $links_key:literal, $many_ty:ty);)*) => {$(
        #[doc = concat!("`{\"", $one_key, "\": {...}}`.")]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $one {
            #[serde(rename = $one_key)]
            pub inner: $one_ty,
        }

        #[doc = concat!("`{\"", $many_key, "\": [...]}` with optional `", $links_key, "`.")]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $many {
            #[serde(rename = $many_key)]
            pub items: Vec<$many_ty>,
            #[serde(rename = $links_key, default, skip_serializing_if = "Option::is_none")]
            pub links: Option<Vec<Link>>,
        }
    )*};
}

envelopes! {
    NetworkBody("network", Network), NetworkList("networks", "networks_links", Network);
    NetworkCreateBody("network", NetworkCreate), NetworkCreateList("networks", "networks_links", NetworkCreate);
    SubnetBody("subnet", Subnet), SubnetList("subnets", "subnets_links", Subnet);
    SubnetCreateBody("subnet", SubnetCreate), SubnetCreateList("subnets", "subnets_links", SubnetCreate);
    RouterBody("router", Router), RouterList("routers", "routers_links", Router);
    RouterCreateBody("router", RouterCreate), RouterCreateList("routers", "routers_links", RouterCreate);
    PortBody("port", Port), PortList("ports", "ports_links", Port);
    PortCreateBody("port", PortCreate), PortCreateList("ports", "ports_links", PortCreate);
    SecurityGroupBody("security_group", SecurityGroup), SecurityGroupList("security_groups", "security_groups_links", SecurityGroup);
    SecurityGroupCreateBody("security_group", SecurityGroupCreate), SecurityGroupCreateList("security_groups", "security_groups_links", SecurityGroupCreate);
    SecurityGroupRuleBody("security_group_rule", SecurityGroupRule), SecurityGroupRuleList("security_group_rules", "security_group_rules_links", SecurityGroupRule);
    SecurityGroupRuleCreateBody("security_group_rule", SecurityGroupRuleCreate), SecurityGroupRuleCreateList("security_group_rules", "security_group_rules_links", SecurityGroupRuleCreate);
    FloatingIpBody("floatingip", FloatingIp), FloatingIpList("floatingips", "floatingips_links", FloatingIp);
    FloatingIpCreateBody("floatingip", FloatingIpCreate), FloatingIpCreateList("floatingips", "floatingips_links", FloatingIpCreate);
    FloatingIpUpdateBody("floatingip", FloatingIpUpdate), FloatingIpUpdateList("floatingips", "floatingips_links", FloatingIpUpdate);
}

fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disassociate_sends_null_port() {
        let body = FloatingIpUpdateBody {
            inner: FloatingIpUpdate {
                port_id: Some(None),
                ..Default::default()
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"floatingip":{"port_id":null}}"#
        );
        let back: FloatingIpUpdateBody = serde_json::from_str(r#"{"floatingip":{}}"#).unwrap();
        assert_eq!(back.inner.port_id, None);
        let back: FloatingIpUpdateBody =
            serde_json::from_str(r#"{"floatingip":{"port_id":null}}"#).unwrap();
        assert_eq!(back.inner.port_id, Some(None));
    }

    #[test]
    fn value_specs_are_flattened() {
        let mut value_specs = ValueSpecs::new();
        value_specs.insert("vkcs_services_access".into(), serde_json::json!(true));
        let body = NetworkCreateBody {
            inner: NetworkCreate {
                name: Some("n".into()),
                value_specs,
                ..Default::default()
            },
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"network":{"name":"n","vkcs_services_access":true}})
        );
    }

    #[test]
    fn floating_ip_from_neutron_parses() {
        let body = serde_json::json!({"floatingip":{"id":"f","floating_ip_address":"172.24.4.10","floating_network_id":"n",
            "port_id":null,"fixed_ip_address":null,"router_id":null,"status":"DOWN","project_id":"p","tenant_id":"p","description":"","tags":[]}});
        let fip: FloatingIpBody = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(fip.inner.port_id, None);
        assert_eq!(serde_json::to_value(&fip).unwrap(), body);
    }
}
