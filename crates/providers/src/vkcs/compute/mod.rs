//! Nova resources: `vkcs_compute_instance`, `vkcs_compute_keypair`, `vkcs_compute_volume_attach`,
//! `vkcs_compute_floatingip_associate`, and the data source `vkcs_compute_flavor`.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use vitrina_engine::provider::{
    ApplyError, CreateRequest, DeleteRequest, Nesting, PlanRequest, ProviderError, ProviderSchema,
    Schema, UpdateRequest,
};
use vitrina_engine::{PathStep, Value};
use vitrina_openstack::wire::compute::{
    BlockDeviceMapping, KeypairCreate, Personality, Server, ServerAction, ServerCreate,
    ServerCreateRequest, ServerNetwork, ServerNetworks, ServerUpdate, VolumeAttachmentCreate,
};
use vitrina_openstack::wire::network::Port;
use vitrina_openstack::wire::NameRef;
use vitrina_openstack::{Query, Secret};

use super::util::{
    b, blocks, boolean, c, i, map_of_strings, number, o, oc, os_err, r, s, set_of_strings,
    sha1_hex, smap, string, strs, u64_arg, vbool, vint, vmap, vopt, vs, vset, wait_opts,
    without_token, CLOUD_METADATA_PREFIX, CREATE_TOKEN_KEY, TEN_MINUTES, THIRTY_MINUTES,
};
use super::{attr_path, computed_blocks, with, Vkcs};

mod attach;
mod flavor;
mod instance;
mod keypair;

pub(crate) use attach::*;
pub(crate) use flavor::*;
pub(crate) use instance::*;
pub(crate) use keypair::*;

/// Nova's limit on base64-encoded user data.
const MAX_USER_DATA: usize = 65_535;

fn common(schema: Schema) -> Schema {
    schema
        .attr("id", c(string()))
        .attr("region", oc(string()).force_new())
}

/// Adds the compute resource and data source schemas.
pub fn schemas(p: &mut ProviderSchema) {
    p.resources
        .insert("vkcs_compute_instance".into(), instance_schema());
    p.resources.insert(
        "vkcs_compute_keypair".into(),
        common(Schema::new())
            .attr("name", r(string()).force_new())
            .attr("public_key", oc(string()).force_new())
            .attr("value_specs", o(map_of_strings()).force_new())
            .attr("private_key", c(string()).sensitive())
            .attr("fingerprint", c(string())),
    );
    p.resources.insert(
        "vkcs_compute_volume_attach".into(),
        common(Schema::new())
            .attr("instance_id", r(string()).force_new())
            .attr("volume_id", r(string()).force_new())
            .attr("device", c(string())),
    );
    p.resources.insert(
        "vkcs_compute_floatingip_associate".into(),
        common(Schema::new())
            .attr("floating_ip", r(string()).force_new())
            .attr("instance_id", r(string()).force_new())
            .attr("fixed_ip", o(string()).force_new())
            .attr("wait_until_associated", o(boolean()).force_new()),
    );
    let mut flavor = common(Schema::new()).attr("flavor_id", o(string()).force_new());
    for n in [
        "name",
        "min_ram",
        "ram",
        "vcpus",
        "min_disk",
        "disk",
        "swap",
        "rx_tx_factor",
    ] {
        let t = if n == "name" { string() } else { number() };
        flavor = flavor.attr(n, oc(t).force_new());
    }
    flavor = flavor
        .attr("is_public", o(boolean()).force_new())
        .attr("extra_specs", oc(map_of_strings()));
    p.data_sources.insert("vkcs_compute_flavor".into(), flavor);
}

fn instance_schema() -> Schema {
    let network = Schema::new()
        .attr("uuid", oc(string()).force_new())
        .attr("name", oc(string()).force_new())
        .attr("port", oc(string()).force_new())
        .attr("fixed_ip_v4", oc(string()).force_new())
        .attr("mac", c(string()))
        .attr("access_network", o(boolean()).default(false));
    let block_device = Schema::new()
        .attr("source_type", r(string()).force_new())
        .attr("uuid", o(string()).force_new())
        .attr("volume_size", o(number()).force_new())
        .attr("destination_type", o(string()).force_new())
        .attr(
            "delete_on_termination",
            o(boolean()).force_new().default(false),
        )
        .attr("guest_format", o(string()).force_new())
        .attr("volume_type", o(string()).force_new())
        .attr("device_type", o(string()).force_new())
        .attr("disk_bus", o(string()).force_new())
        .attr("boot_index", oc(number()).force_new());
    common(Schema::new())
        .attr("name", r(string()))
        .attr("flavor_id", oc(string()))
        .attr("flavor_name", oc(string()))
        .attr("image_id", oc(string()).force_new())
        .attr("image_name", oc(string()).force_new())
        .attr(
            "availability_zone",
            oc(string()).describe("a change replaces the instance (plan customisation)"),
        )
        .attr("key_pair", o(string()).force_new())
        .attr("security_groups", oc(set_of_strings()))
        .attr("security_group_ids", oc(set_of_strings()))
        .attr(
            "user_data",
            o(string()).force_new().describe("stored as its SHA-1 hex"),
        )
        .attr("network_mode", o(string()).force_new())
        .attr("metadata", o(map_of_strings()))
        .attr("config_drive", o(boolean()).force_new())
        .attr("admin_pass", o(string()).sensitive())
        .attr("stop_before_destroy", o(boolean()).default(false))
        .attr("force_delete", o(boolean()).default(false))
        .attr("power_state", o(string()).default("active"))
        .attr("tags", o(set_of_strings()))
        .attr("all_tags", c(set_of_strings()))
        .attr("all_metadata", c(map_of_strings()))
        .attr("access_ip_v4", oc(string()))
        .attr("access_ip_v6", oc(string()))
        .attr("password_data", c(string()))
        .block_force_new("network", Nesting::List, network)
        .block_force_new("block_device", Nesting::List, block_device)
        .block_force_new(
            "personality",
            Nesting::Set,
            Schema::new()
                .attr("file", r(string()))
                .attr("content", r(string())),
        )
        .block_force_new(
            "scheduler_hints",
            Nesting::List,
            Schema::new().attr("group", o(string())),
        )
        .block(
            "vendor_options",
            Nesting::List,
            Schema::new()
                .attr("ignore_resize_confirmation", o(boolean()))
                .attr("detach_ports_before_destroy", o(boolean()))
                .attr("get_password_data", o(boolean())),
        )
}

/// The value with every unknown part replaced by null (what remains unknown after a create is
/// not known to the cloud either).
pub(crate) fn known(v: &Value) -> Value {
    match v {
        Value::Unknown => Value::Null,
        Value::List(items) => Value::List(items.iter().map(known).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, x)| (k.clone(), known(x))).collect()),
        other => other.clone(),
    }
}
