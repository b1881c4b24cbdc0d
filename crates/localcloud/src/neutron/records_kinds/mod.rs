//! The record kinds of Neutron's optional extensions (see `records.rs`) and their rules:
//! validation, derived attributes and in-use checks, as Neutron applies them.

use std::net::IpAddr;

use super::records::{f, req, str_of, Kind, Parent, F, T};
use super::*;

mod pools;
mod qos;
mod rbac;
mod segments;
mod services;

use pools::*;
use qos::*;
use rbac::*;
use segments::*;
use services::*;

pub(super) use pools::{address_group_action, parse_prefix};
pub(super) use qos::{qos_rule_type, qos_rule_types};
pub(super) use segments::trunk_subports;
pub(super) use services::{flavor_profile, router_helpers};

const NAME: F = f("name", T::Str, "\"\"", true);
const DESCRIPTION: F = f("description", T::Str, "\"\"", true);

/// The QoS rule kinds: (rule type, store, JSON key, plural, fields).
const QOS_RULE_TYPES: &[&str] = &[
    "bandwidth_limit",
    "dscp_marking",
    "minimum_bandwidth",
    "minimum_packet_rate",
    "packet_rate_limit",
];

pub(super) static KINDS: &[Kind] = &[
    Kind {
        store: "qos_policy",
        key: "policy",
        plural: "policies",
        path: "qos/policies",
        label: "QoS policy",
        not_found: "QosPolicyNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            f("shared", T::Bool, "false", true),
            f("is_default", T::Bool, "false", true),
        ],
        owned: true,
        admin_only: false,
        tagged: true,
        parent: None,
        hook: Some(qos_policy_hook),
        delete_check: None,
        view: Some(qos_policy_view),
    },
    qos_rule(
        "qos_bandwidth_limit_rule",
        "bandwidth_limit_rule",
        "bandwidth_limit_rules",
        &[
            req("max_kbps", T::Int, true),
            f("max_burst_kbps", T::Int, "0", true),
            f("direction", T::Str, "\"egress\"", true),
        ],
    ),
    qos_rule(
        "qos_dscp_marking_rule",
        "dscp_marking_rule",
        "dscp_marking_rules",
        &[req("dscp_mark", T::Int, true)],
    ),
    qos_rule(
        "qos_minimum_bandwidth_rule",
        "minimum_bandwidth_rule",
        "minimum_bandwidth_rules",
        &[
            req("min_kbps", T::Int, true),
            f("direction", T::Str, "\"egress\"", true),
        ],
    ),
    qos_rule(
        "qos_minimum_packet_rate_rule",
        "minimum_packet_rate_rule",
        "minimum_packet_rate_rules",
        &[
            req("min_kpps", T::Int, true),
            f("direction", T::Str, "\"egress\"", true),
        ],
    ),
    qos_rule(
        "qos_packet_rate_limit_rule",
        "packet_rate_limit_rule",
        "packet_rate_limit_rules",
        &[
            req("max_kpps", T::Int, true),
            f("max_burst_kpps", T::Int, "0", true),
            f("direction", T::Str, "\"egress\"", true),
        ],
    ),
    Kind {
        store: "address_scope",
        key: "address_scope",
        plural: "address_scopes",
        path: "address-scopes",
        label: "Address scope",
        not_found: "AddressScopeNotFound",
        fields: &[
            NAME,
            req("ip_version", T::Int, false),
            f("shared", T::Bool, "false", true),
        ],
        owned: true,
        admin_only: false,
        tagged: false,
        parent: None,
        hook: Some(address_scope_hook),
        delete_check: Some(address_scope_in_use),
        view: None,
    },
    Kind {
        store: "subnetpool",
        key: "subnetpool",
        plural: "subnetpools",
        path: "subnetpools",
        label: "Subnet pool",
        not_found: "SubnetPoolNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            req("prefixes", T::List, true),
            f("default_prefixlen", T::OptInt, "null", true),
            f("min_prefixlen", T::OptInt, "null", true),
            f("max_prefixlen", T::OptInt, "null", true),
            f("default_quota", T::OptInt, "null", true),
            f("shared", T::Bool, "false", false),
            f("is_default", T::Bool, "false", true),
            f("address_scope_id", T::OptStr, "null", true),
        ],
        owned: true,
        admin_only: false,
        tagged: true,
        parent: None,
        hook: Some(subnetpool_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "address_group",
        key: "address_group",
        plural: "address_groups",
        path: "address-groups",
        label: "Address group",
        not_found: "AddressGroupNotFound",
        fields: &[NAME, DESCRIPTION, f("addresses", T::List, "[]", false)],
        owned: true,
        admin_only: false,
        tagged: false,
        parent: None,
        hook: Some(address_group_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "rbac_policy",
        key: "rbac_policy",
        plural: "rbac_policies",
        path: "rbac-policies",
        label: "RBAC policy",
        not_found: "RbacPolicyNotFound",
        fields: &[
            req("object_type", T::Str, false),
            req("object_id", T::Str, false),
            req("action", T::Str, false),
            req("target_tenant", T::Str, true),
        ],
        owned: true,
        admin_only: false,
        tagged: false,
        parent: None,
        hook: Some(rbac_hook),
        delete_check: None,
        view: Some(rbac_view),
    },
    Kind {
        store: "segment",
        key: "segment",
        plural: "segments",
        path: "segments",
        label: "Segment",
        not_found: "SegmentNotFound",
        fields: &[
            req("network_id", T::Str, false),
            req("network_type", T::Str, false),
            f("physical_network", T::OptStr, "null", false),
            f("segmentation_id", T::OptInt, "null", false),
            f("name", T::OptStr, "null", true),
            DESCRIPTION,
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: Some(Parent {
            kind: "network",
            field: "network_id",
            nested: false,
        }),
        hook: Some(segment_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "network_segment_range",
        key: "network_segment_range",
        plural: "network_segment_ranges",
        path: "network_segment_ranges",
        label: "Network segment range",
        not_found: "NetworkSegmentRangeNotFound",
        fields: &[
            NAME,
            f("shared", T::Bool, "true", false),
            req("network_type", T::Str, false),
            f("physical_network", T::OptStr, "null", false),
            req("minimum", T::Int, true),
            req("maximum", T::Int, true),
        ],
        owned: true,
        admin_only: true,
        tagged: true,
        parent: None,
        hook: Some(segment_range_hook),
        delete_check: None,
        view: Some(segment_range_view),
    },
    Kind {
        store: "trunk",
        key: "trunk",
        plural: "trunks",
        path: "trunks",
        label: "Trunk",
        not_found: "TrunkNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            req("port_id", T::Str, false),
            f("admin_state_up", T::Bool, "true", true),
            f("sub_ports", T::List, "[]", false),
        ],
        owned: true,
        admin_only: false,
        tagged: true,
        parent: None,
        hook: Some(trunk_hook),
        delete_check: None,
        view: Some(trunk_view),
    },
    Kind {
        store: "metering_label",
        key: "metering_label",
        plural: "metering_labels",
        path: "metering/metering-labels",
        label: "Metering label",
        not_found: "MeteringLabelNotFound",
        fields: &[NAME, DESCRIPTION, f("shared", T::Bool, "false", false)],
        owned: true,
        admin_only: true,
        tagged: false,
        parent: None,
        hook: None,
        delete_check: None,
        view: None,
    },
    Kind {
        store: "metering_label_rule",
        key: "metering_label_rule",
        plural: "metering_label_rules",
        path: "metering/metering-label-rules",
        label: "Metering label rule",
        not_found: "MeteringLabelRuleNotFound",
        fields: &[
            req("metering_label_id", T::Str, false),
            f("direction", T::Str, "\"ingress\"", false),
            f("remote_ip_prefix", T::OptStr, "null", false),
            f("source_ip_prefix", T::OptStr, "null", false),
            f("destination_ip_prefix", T::OptStr, "null", false),
            f("excluded", T::Bool, "false", false),
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: Some(Parent {
            kind: "metering_label",
            field: "metering_label_id",
            nested: false,
        }),
        hook: Some(metering_rule_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "network_flavor",
        key: "flavor",
        plural: "flavors",
        path: "flavors",
        label: "Flavor",
        not_found: "FlavorNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            req("service_type", T::Str, false),
            f("enabled", T::Bool, "true", true),
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: None,
        hook: Some(flavor_hook),
        delete_check: None,
        view: Some(flavor_view),
    },
    Kind {
        store: "service_profile",
        key: "service_profile",
        plural: "service_profiles",
        path: "service_profiles",
        label: "Service Profile",
        not_found: "ServiceProfileNotFound",
        fields: &[
            DESCRIPTION,
            f("driver", T::Str, "\"\"", true),
            f("metainfo", T::Str, "\"\"", true),
            f("enabled", T::Bool, "true", true),
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: None,
        hook: Some(service_profile_hook),
        delete_check: Some(service_profile_in_use),
        view: None,
    },
    Kind {
        store: "local_ip",
        key: "local_ip",
        plural: "local_ips",
        path: "local_ips",
        label: "Local IP",
        not_found: "LocalIPNotFound",
        fields: &[
            NAME,
            DESCRIPTION,
            f("network_id", T::OptStr, "null", false),
            f("local_port_id", T::OptStr, "null", false),
            f("local_ip_address", T::OptStr, "null", false),
            f("ip_mode", T::Str, "\"translate\"", false),
        ],
        owned: true,
        admin_only: false,
        tagged: false,
        parent: None,
        hook: Some(local_ip_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "conntrack_helper",
        key: "conntrack_helper",
        plural: "conntrack_helpers",
        path: "conntrack_helpers",
        label: "Conntrack helper",
        not_found: "ConntrackHelperNotFound",
        fields: &[
            req("protocol", T::Str, true),
            req("port", T::Int, true),
            req("helper", T::Str, true),
        ],
        owned: false,
        admin_only: false,
        tagged: false,
        parent: Some(Parent {
            kind: "router",
            field: "router_id",
            nested: true,
        }),
        hook: Some(conntrack_hook),
        delete_check: None,
        view: None,
    },
    Kind {
        store: "default_security_group_rule",
        key: "default_security_group_rule",
        plural: "default_security_group_rules",
        path: "default-security-group-rules",
        label: "Default Security Group Rule",
        not_found: "DefaultSecurityGroupRuleNotFound",
        fields: &[
            req("direction", T::Str, false),
            f("ethertype", T::Str, "\"IPv4\"", false),
            f("protocol", T::OptStr, "null", false),
            f("port_range_min", T::OptInt, "null", false),
            f("port_range_max", T::OptInt, "null", false),
            f("remote_ip_prefix", T::OptStr, "null", false),
            f("remote_group_id", T::OptStr, "null", false),
            f("remote_address_group_id", T::OptStr, "null", false),
            f("description", T::Str, "\"\"", false),
            f("used_in_default_sg", T::Bool, "false", false),
            f("used_in_non_default_sg", T::Bool, "true", false),
        ],
        owned: false,
        admin_only: true,
        tagged: false,
        parent: None,
        hook: Some(default_sg_rule_hook),
        delete_check: None,
        view: None,
    },
];

const fn qos_rule(
    store: &'static str,
    key: &'static str,
    plural: &'static str,
    fields: &'static [F],
) -> Kind {
    Kind {
        store,
        key,
        plural,
        path: plural,
        label: "QoS rule",
        not_found: "QosRuleNotFound",
        fields,
        owned: false,
        admin_only: false,
        tagged: false,
        parent: Some(Parent {
            kind: "qos_policy",
            field: "qos_policy_id",
            nested: true,
        }),
        hook: Some(qos_rule_hook),
        delete_check: None,
        view: None,
    }
}

pub(super) fn bad(msg: impl Into<String>) -> ApiError {
    super::records::invalid(msg)
}

pub(super) fn conflict(msg: impl Into<String>, kind: &'static str) -> ApiError {
    ApiError::conflict(S, msg).kind(kind)
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn i(m: &Map<String, Value>, k: &str) -> Option<i64> {
    m.get(k).and_then(Value::as_i64)
}

fn id_of(m: &Map<String, Value>) -> &str {
    s(m, "id")
}

fn others<'a>(
    db: &'a Db,
    store: &'a str,
    m: &'a Map<String, Value>,
) -> impl Iterator<Item = &'a Value> + 'a {
    let id = id_of(m).to_owned();
    super::records::records(db, store).filter(move |r| str_of(r, "id") != id)
}
