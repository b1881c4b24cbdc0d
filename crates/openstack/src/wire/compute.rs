//! Nova (compute v2.1) wire types: flavors with extra specs, servers (create with
//! `block_device_mapping_v2`, detail with `addresses` and the `OS-EXT-*` fields), server actions,
//! volume attachments, keypairs, availability zones, console output and metadata.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::{Link, NameRef};
use crate::secret::Secret;

// ---------------------------------------------------------------------------------------------
// Flavors
// ---------------------------------------------------------------------------------------------

/// A flavor from `GET /flavors/detail` or `GET /flavors/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    /// MiB.
    pub ram: u64,
    pub vcpus: u32,
    /// GiB.
    pub disk: u64,
    /// MiB; Nova sends `""` for none before microversion 2.75, which reads as 0.
    #[serde(default, deserialize_with = "int_or_empty")]
    pub swap: u64,
    #[serde(rename = "OS-FLV-EXT-DATA:ephemeral", default)]
    pub ephemeral: u64,
    #[serde(rename = "OS-FLV-DISABLED:disabled", default)]
    pub disabled: bool,
    #[serde(rename = "os-flavor-access:is_public", default = "default_true")]
    pub is_public: bool,
    #[serde(default = "default_rxtx")]
    pub rxtx_factor: f64,
    /// Microversion 2.55.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Microversion 2.61.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_specs: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// `{"flavor": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorResponse {
    pub flavor: Flavor,
}

/// `{"flavors": [...], "flavors_links": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorList {
    pub flavors: Vec<Flavor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavors_links: Option<Vec<Link>>,
}

/// `GET /flavors/{id}/os-extra_specs` → `{"extra_specs": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraSpecs {
    pub extra_specs: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Server create
// ---------------------------------------------------------------------------------------------

/// `POST /servers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCreateRequest {
    pub server: ServerCreate,
    #[serde(
        rename = "os:scheduler_hints",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduler_hints: Option<BTreeMap<String, serde_json::Value>>,
}

/// The `server` object of a create request. `name` and `flavorRef` are required.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerCreate {
    pub name: String,
    #[serde(rename = "flavorRef")]
    pub flavor_ref: String,
    /// `""` when booting from a volume.
    #[serde(rename = "imageRef", default, skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<NameRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<ServerNetworks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Base64 of the user data, at most 65535 bytes once encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_drive: Option<bool>,
    #[serde(rename = "adminPass", default, skip_serializing_if = "Option::is_none")]
    pub admin_pass: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_device_mapping_v2: Option<Vec<BlockDeviceMapping>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<Vec<Personality>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u32>,
    #[serde(
        rename = "OS-DCF:diskConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_config: Option<String>,
}

/// `networks`: a list, or (microversion 2.37) the string `"auto"` or `"none"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerNetworks {
    List(Vec<ServerNetwork>),
    Mode(String),
}

/// One entry of `networks`: a network, a port, and optionally a fixed address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServerNetwork {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// One entry of `block_device_mapping_v2`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockDeviceMapping {
    /// `0` for the boot disk, `-1` (or absent) for others. Nova also accepts it as a string.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_int_or_string"
    )]
    pub boot_index: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// `blank`, `image`, `volume` or `snapshot`.
    pub source_type: String,
    /// `volume` or `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_type: Option<String>,
    /// GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_bus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A file injected at boot (deprecated by Nova, still accepted before 2.57).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personality {
    pub path: String,
    /// Base64.
    pub contents: String,
}

/// `202` answer to `POST /servers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCreateResponse {
    pub server: CreatedServer,
}

/// The short server record of a create answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedServer {
    pub id: String,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(
        rename = "OS-DCF:diskConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<NameRef>>,
    /// Absent when the deployment disables password generation.
    #[serde(rename = "adminPass", default, skip_serializing_if = "Option::is_none")]
    pub admin_pass: Option<Secret>,
}

// ---------------------------------------------------------------------------------------------
// Server detail
// ---------------------------------------------------------------------------------------------

/// A server from `GET /servers/{id}` or `GET /servers/detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub id: String,
    pub name: String,
    /// `BUILD`, `ACTIVE`, `SHUTOFF`, `ERROR`, `REBOOT`, `RESIZE`, `VERIFY_RESIZE`, `DELETED`,
    /// `SOFT_DELETED`, `SHELVED_OFFLOADED`, …
    pub status: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(rename = "hostId", default)]
    pub host_id: String,
    /// `""` when booted from a volume.
    pub image: ServerImage,
    pub flavor: ServerFlavor,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub updated: String,
    /// Network name → addresses.
    #[serde(default)]
    pub addresses: BTreeMap<String, Vec<ServerAddress>>,
    #[serde(rename = "accessIPv4", default)]
    pub access_ipv4: String,
    #[serde(rename = "accessIPv6", default)]
    pub access_ipv6: String,
    #[serde(default)]
    pub links: Vec<Link>,
    /// Sent as `null` when the server has no key pair.
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(rename = "OS-DCF:diskConfig", default = "default_disk_config")]
    pub disk_config: String,
    #[serde(rename = "OS-EXT-AZ:availability_zone", default)]
    pub availability_zone: String,
    /// 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 6 CRASHED, 7 SUSPENDED.
    #[serde(rename = "OS-EXT-STS:power_state", default)]
    pub power_state: i32,
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    pub task_state: Option<String>,
    #[serde(rename = "OS-EXT-STS:vm_state", default)]
    pub vm_state: String,
    /// Admin-only `OS-EXT-SRV-ATTR:*` fields.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:host",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub host: Option<String>,
    #[serde(
        rename = "OS-EXT-SRV-ATTR:hypervisor_hostname",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hypervisor_hostname: Option<String>,
    #[serde(
        rename = "OS-EXT-SRV-ATTR:instance_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_name: Option<String>,
    #[serde(rename = "OS-SRV-USG:launched_at", default)]
    pub launched_at: Option<String>,
    #[serde(rename = "OS-SRV-USG:terminated_at", default)]
    pub terminated_at: Option<String>,
    #[serde(rename = "os-extended-volumes:volumes_attached", default)]
    pub volumes_attached: Vec<AttachedVolume>,
    /// Omitted by Nova when the server has no security groups (or no ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<NameRef>>,
    /// Only while building.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u32>,
    /// `"True"` or `""`.
    #[serde(default)]
    pub config_drive: String,
    /// Only for servers in ERROR (or DELETED) with a recorded fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<ServerFault>,
    /// Microversion 2.26.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Microversion 2.19.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Microversion 2.9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
}

/// `server.image`: `{"id","links"}` or `""` for a server booted from a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerImage {
    Image {
        id: String,
        #[serde(default)]
        links: Vec<Link>,
    },
    /// Nova sends an empty string.
    None(String),
}

impl ServerImage {
    /// The image id, when the server was booted from an image.
    pub fn id(&self) -> Option<&str> {
        match self {
            ServerImage::Image { id, .. } => Some(id),
            ServerImage::None(_) => None,
        }
    }
}

/// `server.flavor`: `{"id","links"}` before microversion 2.47, the embedded flavor after.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerFlavor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_specs: Option<BTreeMap<String, String>>,
}

/// One address in `server.addresses[<network name>]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAddress {
    pub version: u8,
    pub addr: String,
    /// `fixed` or `floating`.
    #[serde(
        rename = "OS-EXT-IPS:type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_type: Option<String>,
    #[serde(
        rename = "OS-EXT-IPS-MAC:mac_addr",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mac_addr: Option<String>,
}

/// One entry of `os-extended-volumes:volumes_attached`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedVolume {
    pub id: String,
    /// Microversion 2.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
}

/// `server.fault`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFault {
    pub code: u16,
    pub message: String,
    #[serde(default)]
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// `{"server": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerResponse {
    pub server: Server,
}

/// `{"servers": [...], "servers_links": [...]}` from `GET /servers/detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerList {
    pub servers: Vec<Server>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers_links: Option<Vec<Link>>,
}

/// A short server (`GET /servers`): id, name, links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSummary {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// `{"servers": [...]}` from `GET /servers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSummaryList {
    pub servers: Vec<ServerSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers_links: Option<Vec<Link>>,
}

/// `PUT /servers/{id} {"server": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerUpdateRequest {
    pub server: ServerUpdate,
}

/// Updatable server fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        rename = "accessIPv4",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_ipv4: Option<String>,
    #[serde(
        rename = "accessIPv6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_ipv6: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Actions: POST /servers/{id}/action
// ---------------------------------------------------------------------------------------------

/// The body of `POST /servers/{id}/action`: one key naming the action.
/// Actions without arguments send `null` (`{"os-stop": null}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerAction {
    #[serde(rename = "os-stop")]
    Stop(()),
    #[serde(rename = "os-start")]
    Start(()),
    #[serde(rename = "reboot")]
    Reboot {
        /// `SOFT` or `HARD`.
        #[serde(rename = "type")]
        reboot_type: String,
    },
    #[serde(rename = "resize")]
    Resize {
        #[serde(rename = "flavorRef")]
        flavor_ref: String,
        #[serde(
            rename = "OS-DCF:diskConfig",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        disk_config: Option<String>,
    },
    #[serde(rename = "confirmResize")]
    ConfirmResize(()),
    #[serde(rename = "revertResize")]
    RevertResize(()),
    #[serde(rename = "addFloatingIp")]
    AddFloatingIp {
        address: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fixed_address: Option<String>,
    },
    #[serde(rename = "removeFloatingIp")]
    RemoveFloatingIp { address: String },
    #[serde(rename = "addSecurityGroup")]
    AddSecurityGroup { name: String },
    #[serde(rename = "removeSecurityGroup")]
    RemoveSecurityGroup { name: String },
    #[serde(rename = "changePassword")]
    ChangePassword {
        #[serde(rename = "adminPass")]
        admin_pass: Secret,
    },
    #[serde(rename = "os-getConsoleOutput")]
    GetConsoleOutput {
        /// Last N lines; absent or `null` for everything (Nova also accepts -1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        length: Option<i64>,
    },
    #[serde(rename = "shelve")]
    Shelve(()),
    #[serde(rename = "shelveOffload")]
    ShelveOffload(()),
    #[serde(rename = "unshelve")]
    Unshelve(()),
    #[serde(rename = "suspend")]
    Suspend(()),
    #[serde(rename = "resume")]
    Resume(()),
    #[serde(rename = "pause")]
    Pause(()),
    #[serde(rename = "unpause")]
    Unpause(()),
    #[serde(rename = "lock")]
    Lock(()),
    #[serde(rename = "unlock")]
    Unlock(()),
    #[serde(rename = "createImage")]
    CreateImage {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<BTreeMap<String, String>>,
    },
}

/// Answer to `os-getConsoleOutput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleOutput {
    pub output: String,
}

// ---------------------------------------------------------------------------------------------
// Volume attachments: /servers/{id}/os-volume_attachments
// ---------------------------------------------------------------------------------------------

/// `POST /servers/{id}/os-volume_attachments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachmentRequest {
    #[serde(rename = "volumeAttachment")]
    pub volume_attachment: VolumeAttachmentCreate,
}

/// The attachment to make.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VolumeAttachmentCreate {
    #[serde(rename = "volumeId")]
    pub volume_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
}

/// A volume attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachment {
    /// Before microversion 2.89 the id equals the volume id.
    pub id: String,
    #[serde(rename = "serverId")]
    pub server_id: String,
    #[serde(rename = "volumeId")]
    pub volume_id: String,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
}

/// `{"volumeAttachment": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachmentResponse {
    #[serde(rename = "volumeAttachment")]
    pub volume_attachment: VolumeAttachment,
}

/// `{"volumeAttachments": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachmentList {
    #[serde(rename = "volumeAttachments")]
    pub volume_attachments: Vec<VolumeAttachment>,
}

// ---------------------------------------------------------------------------------------------
// Keypairs: /os-keypairs
// ---------------------------------------------------------------------------------------------

/// `POST /os-keypairs {"keypair": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeypairCreateRequest {
    pub keypair: KeypairCreate,
}

/// A key pair to import (with `public_key`) or generate (without; removed in 2.92).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KeypairCreate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// `ssh` or `x509` (2.2).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
}

/// A key pair. `private_key` appears only in the answer that generated it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keypair {
    pub name: String,
    pub public_key: String,
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// Only in `GET /os-keypairs/{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

/// `{"keypair": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeypairResponse {
    pub keypair: Keypair,
}

/// `{"keypairs": [{"keypair": {...}}, ...]}`: each entry is wrapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeypairList {
    pub keypairs: Vec<KeypairResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keypairs_links: Option<Vec<Link>>,
}

// ---------------------------------------------------------------------------------------------
// Availability zones and metadata
// ---------------------------------------------------------------------------------------------

/// `GET /os-availability-zone` (Nova; Cinder answers the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityZoneList {
    #[serde(rename = "availabilityZoneInfo")]
    pub availability_zone_info: Vec<AvailabilityZone>,
}

/// One zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityZone {
    #[serde(rename = "zoneName")]
    pub zone_name: String,
    #[serde(rename = "zoneState")]
    pub zone_state: ZoneState,
    #[serde(default)]
    pub hosts: Option<serde_json::Value>,
}

/// `{"available": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneState {
    pub available: bool,
}

/// `{"metadata": {...}}` for `/servers/{id}/metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Metadata {
    pub metadata: BTreeMap<String, String>,
}

/// `{"tags": [...]}` for `/servers/{id}/tags`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tags {
    pub tags: Vec<String>,
}

// ---------------------------------------------------------------------------------------------

fn default_true() -> bool {
    true
}

fn default_rxtx() -> f64 {
    1.0
}

fn default_disk_config() -> String {
    "MANUAL".to_owned()
}

fn int_or_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(u64),
        Str(String),
        Null(()),
    }
    match IntOrString::deserialize(deserializer)? {
        IntOrString::Int(n) => Ok(n),
        IntOrString::Null(()) => Ok(0),
        IntOrString::Str(s) if s.is_empty() => Ok(0),
        IntOrString::Str(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

fn opt_int_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(i64),
        Str(String),
    }
    match Option::<IntOrString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(IntOrString::Int(n)) => Ok(Some(n)),
        Some(IntOrString::Str(s)) if s.is_empty() || s == "none" => Ok(None),
        Some(IntOrString::Str(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_serialize_as_nova_expects() {
        let cases = [
            (ServerAction::Stop(()), r#"{"os-stop":null}"#),
            (
                ServerAction::Reboot {
                    reboot_type: "SOFT".into(),
                },
                r#"{"reboot":{"type":"SOFT"}}"#,
            ),
            (
                ServerAction::Resize {
                    flavor_ref: "f".into(),
                    disk_config: None,
                },
                r#"{"resize":{"flavorRef":"f"}}"#,
            ),
            (ServerAction::ConfirmResize(()), r#"{"confirmResize":null}"#),
            (
                ServerAction::AddFloatingIp {
                    address: "1.2.3.4".into(),
                    fixed_address: None,
                },
                r#"{"addFloatingIp":{"address":"1.2.3.4"}}"#,
            ),
            (
                ServerAction::GetConsoleOutput { length: Some(50) },
                r#"{"os-getConsoleOutput":{"length":50}}"#,
            ),
        ];
        for (action, want) in cases {
            assert_eq!(serde_json::to_string(&action).unwrap(), want);
            let back: ServerAction = serde_json::from_str(want).unwrap();
            assert_eq!(back, action);
        }
    }

    #[test]
    fn boot_from_volume_request_matches_the_spec() {
        let request = ServerCreateRequest {
            server: ServerCreate {
                name: "vm".into(),
                flavor_ref: "fl".into(),
                image_ref: Some(String::new()),
                key_name: Some("kp".into()),
                security_groups: Some(vec![NameRef { name: "sg".into() }]),
                networks: Some(ServerNetworks::List(vec![ServerNetwork {
                    port: Some("p".into()),
                    ..Default::default()
                }])),
                block_device_mapping_v2: Some(vec![BlockDeviceMapping {
                    boot_index: Some(0),
                    uuid: Some("vol".into()),
                    source_type: "volume".into(),
                    destination_type: Some("volume".into()),
                    delete_on_termination: Some(false),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            scheduler_hints: None,
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({"server":{"name":"vm","flavorRef":"fl","imageRef":"","key_name":"kp",
                "security_groups":[{"name":"sg"}],"networks":[{"port":"p"}],
                "block_device_mapping_v2":[{"boot_index":0,"uuid":"vol","source_type":"volume","destination_type":"volume","delete_on_termination":false}]}})
        );
    }

    #[test]
    fn server_detail_parses_booted_from_volume_and_old_flavor_shapes() {
        let body = serde_json::json!({"server":{"id":"s","name":"vm","status":"ACTIVE","tenant_id":"t","user_id":"u","metadata":{"sid":"xaas"},
            "hostId":"h","image":"","flavor":{"id":"f","links":[]},"created":"c","updated":"u",
            "addresses":{"net":[{"version":4,"addr":"10.0.0.5","OS-EXT-IPS:type":"fixed","OS-EXT-IPS-MAC:mac_addr":"fa:16:3e:00:00:01"}]},
            "accessIPv4":"","accessIPv6":"","links":[],"key_name":null,"OS-DCF:diskConfig":"MANUAL","OS-EXT-AZ:availability_zone":"GZ1",
            "OS-EXT-STS:power_state":1,"OS-EXT-STS:task_state":null,"OS-EXT-STS:vm_state":"active","OS-SRV-USG:launched_at":"x","OS-SRV-USG:terminated_at":null,
            "os-extended-volumes:volumes_attached":[{"id":"v","delete_on_termination":false}],"config_drive":""}});
        let server: ServerResponse = serde_json::from_value(body).unwrap();
        assert_eq!(server.server.image.id(), None);
        assert_eq!(
            server.server.addresses["net"][0].ip_type.as_deref(),
            Some("fixed")
        );
        let round = serde_json::to_value(&server).unwrap();
        assert_eq!(round["server"]["image"], "");
        assert_eq!(round["server"]["key_name"], serde_json::Value::Null);
    }

    #[test]
    fn flavor_swap_reads_empty_string() {
        let flavor: Flavor = serde_json::from_value(serde_json::json!({"id":"1","name":"Basic-1-2-20","ram":2048,"vcpus":1,"disk":20,"swap":"",
            "OS-FLV-EXT-DATA:ephemeral":0,"os-flavor-access:is_public":true,"rxtx_factor":1.0,"links":[]})).unwrap();
        assert_eq!(flavor.swap, 0);
        assert!(flavor.extra_specs.is_none());
    }
}
