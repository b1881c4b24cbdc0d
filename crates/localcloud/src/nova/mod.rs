//! Nova v2.1: VK-like flavors, availability zones `GZ1`/`MS1`/`ME1`, servers (BUILD → ACTIVE /
//! SHUTOFF / ERROR, deleted → 404) run by the hypervisor, boot from an image, from a volume or
//! from an image into a new volume (`block_device_mapping_v2`), actions, volume attachments,
//! keypairs (generated when no public key is given), console output.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::Digest as _;
use vitrina_openstack::wire::compute as w;
use vitrina_openstack::wire::{Link, NameRef};

use crate::access::Scoped;
use crate::body::{self, opt, req, Schema, Ty};
use crate::cinder::{self, NewVolume};
use crate::error::{ApiError, ApiResult, Service};
use crate::hypervisor::BootSpec;
use crate::model::{
    Fault, Flavor, ImageStatus, Keypair, NetStatus, Server, ServerStatus, ServerVolume,
    State as Db, VolumeAttachment, VolumeStatus,
};
use crate::neutron;
use crate::util::{self, get_str, get_str_map, new_id, now, q, stable_uuid, Ctx};
use crate::{AppState, Cloud};

mod actions;
mod attachments;
mod create;
mod flavor_admin;
mod flavors;
mod hosts;
mod images;
mod instance_actions;
mod interfaces;
mod keypairs;
mod metadata;
mod ops;
mod quotas;
mod server_groups;
mod servers;
mod views;

use self::actions::*;
use self::attachments::*;
use self::create::*;
use self::flavor_admin::*;
use self::flavors::*;
pub(crate) use self::flavors::{new_flavor, seed_flavors};
use self::hosts::*;
use self::images::*;
use self::instance_actions::*;
use self::interfaces::*;
use self::keypairs::*;
use self::metadata::*;
pub(crate) use self::ops::resume;
use self::ops::*;
use self::quotas::*;
use self::server_groups::*;
use self::servers::*;
use self::views::*;

const S: Service = Service::Compute;
const MIN_VERSION: (u32, u32) = (2, 1);
const MAX_VERSION: (u32, u32) = (2, 79);
const MAX_USER_DATA: usize = 65535;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/compute", get(versions))
        .route("/compute/", get(versions))
        .route("/compute/v2.1", get(version))
        .route("/compute/v2.1/", get(version))
        .route(
            "/compute/v2.1/flavors",
            get(list_flavors).post(create_flavor),
        )
        .route("/compute/v2.1/flavors/detail", get(list_flavors_detail))
        .route(
            "/compute/v2.1/flavors/{id}",
            get(show_flavor).put(update_flavor).delete(delete_flavor),
        )
        .route(
            "/compute/v2.1/flavors/{id}/os-extra_specs",
            get(flavor_extra_specs).post(set_extra_specs),
        )
        .route(
            "/compute/v2.1/flavors/{id}/os-extra_specs/{key}",
            get(show_extra_spec)
                .put(put_extra_spec)
                .delete(delete_extra_spec),
        )
        .route(
            "/compute/v2.1/flavors/{id}/os-flavor-access",
            get(list_flavor_access),
        )
        .route("/compute/v2.1/flavors/{id}/action", post(flavor_action))
        .route(
            "/compute/v2.1/os-quota-sets/{project}",
            get(show_quotas).put(update_quotas),
        )
        .route(
            "/compute/v2.1/os-quota-sets/{project}/detail",
            get(show_quotas_detail),
        )
        .route(
            "/compute/v2.1/os-quota-sets/{project}/defaults",
            get(show_default_quotas),
        )
        .route("/compute/v2.1/os-availability-zone", get(zones))
        .route(
            "/compute/v2.1/os-availability-zone/detail",
            get(flavors::zones_detail),
        )
        .route("/compute/v2.1/limits", get(limits))
        .route(
            "/compute/v2.1/os-keypairs",
            get(list_keypairs).post(create_keypair),
        )
        .route(
            "/compute/v2.1/os-keypairs/{name}",
            get(show_keypair).delete(delete_keypair),
        )
        .route(
            "/compute/v2.1/servers",
            get(list_servers).post(create_server),
        )
        .route("/compute/v2.1/servers/detail", get(list_servers_detail))
        .route(
            "/compute/v2.1/servers/{id}",
            get(show_server).put(update_server).delete(delete_server),
        )
        .route("/compute/v2.1/servers/{id}/action", post(server_action))
        .route("/compute/v2.1/servers/{id}/ips", get(server_ips))
        .route(
            "/compute/v2.1/servers/{id}/metadata",
            get(get_metadata)
                .post(update_metadata)
                .put(replace_metadata),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-volume_attachments",
            get(list_attachments).post(attach_volume),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-volume_attachments/{vol}",
            get(show_attachment).delete(detach_volume),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-interface",
            get(list_interfaces).post(attach_interface),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-interface/{port}",
            get(show_interface).delete(detach_interface),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-security-groups",
            get(server_sgs),
        )
        .route(
            "/compute/v2.1/servers/{id}/metadata/{key}",
            get(show_meta_item)
                .put(put_meta_item)
                .delete(delete_meta_item),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-instance-actions",
            get(list_instance_actions),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-instance-actions/{req}",
            get(show_instance_action),
        )
        .route(
            "/compute/v2.1/servers/{id}/diagnostics",
            get(server_diagnostics),
        )
        .route("/compute/v2.1/servers/{id}/topology", get(server_topology))
        .route(
            "/compute/v2.1/os-server-groups",
            get(list_server_groups).post(create_server_group),
        )
        .route(
            "/compute/v2.1/os-server-groups/{id}",
            get(show_server_group).delete(delete_server_group),
        )
        .route("/compute/v2.1/os-hosts", get(list_hosts))
        .route("/compute/v2.1/os-hosts/{host}", get(show_host))
        .route("/compute/v2.1/os-hypervisors", get(list_hypervisors))
        .route(
            "/compute/v2.1/os-hypervisors/detail",
            get(list_hypervisors_detail),
        )
        .route(
            "/compute/v2.1/os-hypervisors/statistics",
            get(hypervisor_statistics),
        )
        .route("/compute/v2.1/os-hypervisors/{id}", get(show_hypervisor))
        .route(
            "/compute/v2.1/os-hypervisors/{id}/uptime",
            get(hypervisor_uptime),
        )
        .route(
            "/compute/v2.1/os-aggregates",
            get(list_aggregates).post(create_aggregate),
        )
        .route(
            "/compute/v2.1/os-aggregates/{id}",
            get(show_aggregate)
                .put(update_aggregate)
                .delete(delete_aggregate),
        )
        .route(
            "/compute/v2.1/os-aggregates/{id}/action",
            post(aggregate_action),
        )
        .route("/compute/v2.1/os-migrations", get(list_migrations))
        .route("/compute/v2.1/images", get(list_images))
        .route("/compute/v2.1/images/detail", get(list_images_detail))
        .route("/compute/v2.1/images/{id}", get(show_image))
        .route("/compute/v2.1/images/{id}/metadata", get(image_metadata))
        .route(
            "/compute/v2.1/os-quota-class-sets/{class}",
            get(show_quota_class).put(update_quota_class),
        )
}

struct Req {
    ctx: Ctx,
    mv: (u32, u32),
}

fn req_ctx(c: &Cloud, headers: &HeaderMap) -> ApiResult<Req> {
    let ctx = c.auth(headers, S)?;
    let mv = util::microversion(headers, "compute", MIN_VERSION, MAX_VERSION)?;
    Ok(Req { ctx, mv })
}

fn versioned(r: &Req, resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    let v = format!("{}.{}", r.mv.0, r.mv.1);
    if let Ok(h) = HeaderValue::from_str(&format!("compute {v}")) {
        resp.headers_mut().insert("openstack-api-version", h);
    }
    if let Ok(h) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert("x-openstack-nova-api-version", h);
    }
    resp.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
    resp
}

fn version_body(c: &Cloud) -> Value {
    json!({"id": "v2.1", "status": "CURRENT", "version": format!("{}.{}", MAX_VERSION.0, MAX_VERSION.1), "min_version": "2.1",
           "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": c.url("/compute/v2.1/")}],
           "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]})
}

async fn versions(State(c): State<AppState>) -> Json<Value> {
    Json(json!({"versions": [version_body(&c)]}))
}

async fn version(State(c): State<AppState>) -> Json<Value> {
    Json(json!({"version": version_body(&c)}))
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(S, msg)
}
