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

use crate::access::Scoped;
use crate::body::{self, opt, req, Schema, Ty};
use crate::error::{ApiError, ApiResult, Service};
use crate::model::{
    FixedIp, FloatingIp, GatewayInfo, HostRoute, NetStatus, Network, Pool, Port, SecurityGroup,
    SgRule, State as Db, Subnet,
};
use crate::util::{self, get_bool, get_int, get_str, get_str_list, new_id, now, Ctx};
use crate::{AppState, Cloud};

mod dhcp;
mod extraroutes;
mod fixtures;
mod floating_ips;
mod info;
mod ip_availability;
mod ipam;
mod ipv6;
mod networks;
mod ops;
mod ports;
mod quotas;
mod records;
mod records_kinds;
mod routers;
mod security_groups;
mod subnets;
mod tags;
mod views;

use self::dhcp::*;
use self::extraroutes::*;
pub(crate) use self::fixtures::devstack_networks;
use self::floating_ips::*;
use self::info::*;
pub(crate) use self::ipam::Cidr;
use self::ipam::*;
use self::networks::*;
use self::ops::*;
pub(crate) use self::ops::{
    associate, bootstrap, disassociate, ensure_default_sg, new_port, remove_port,
};
use self::ports::*;
use self::quotas::*;
use self::routers::*;
use self::security_groups::*;
use self::subnets::*;
use self::tags::parse_tags;
use self::views::*;

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
            "/networking/v2.0/routers/{id}/add_extraroutes",
            put(|State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
                change_routes(&c, &h, &id, &b, true).await
            }),
        )
        .route(
            "/networking/v2.0/routers/{id}/remove_extraroutes",
            put(|State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
                change_routes(&c, &h, &id, &b, false).await
            }),
        )
        .route(
            "/networking/v2.0/floatingips",
            get(list_fips).post(create_fip),
        )
        .route(
            "/networking/v2.0/floatingips/{id}",
            get(show_fip).put(update_fip).delete(delete_fip),
        )
        .route(
            "/networking/v2.0/quotas/{project}",
            get(quotas).put(update_quotas).delete(delete_quotas),
        )
        .route(
            "/networking/v2.0/quotas/{project}/default",
            get(quota_defaults),
        )
        .route(
            "/networking/v2.0/quotas/{project}/details",
            get(quota_details),
        )
        .merge(tags::routes(Router::new()))
        .merge(records::routes(Router::new()))
}
