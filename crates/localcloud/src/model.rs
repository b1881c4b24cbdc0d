//! Stored resources. These are localcloud's rows: what it persists. Responses are built from them
//! in each service module.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub type Map<T> = BTreeMap<String, T>;

/// A status enum stored and shown as the service's own spelling.
macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v),*
        }

        impl $name {
            /// The service's spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s),*
                }
            }

            /// From the service's spelling.
            #[allow(dead_code)] // only some statuses are parsed from requests
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$v),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// Nova's server status.
    ServerStatus {
        Build = "BUILD",
        Active = "ACTIVE",
        Shutoff = "SHUTOFF",
        Error = "ERROR",
        Reboot = "REBOOT",
        HardReboot = "HARD_REBOOT",
        Resize = "RESIZE",
        VerifyResize = "VERIFY_RESIZE",
        RevertResize = "REVERT_RESIZE",
        Paused = "PAUSED",
        Suspended = "SUSPENDED",
        Rescue = "RESCUE",
    }
}

status_enum! {
    /// Cinder's volume status.
    VolumeStatus {
        Creating = "creating",
        Available = "available",
        Reserved = "reserved",
        Attaching = "attaching",
        Detaching = "detaching",
        InUse = "in-use",
        Maintenance = "maintenance",
        Deleting = "deleting",
        AwaitingTransfer = "awaiting-transfer",
        Error = "error",
        ErrorDeleting = "error_deleting",
        BackingUp = "backing-up",
        RestoringBackup = "restoring-backup",
        ErrorBackingUp = "error_backing-up",
        ErrorRestoring = "error_restoring",
        ErrorExtending = "error_extending",
        Downloading = "downloading",
        Uploading = "uploading",
        Retyping = "retyping",
        Extending = "extending",
        ErrorManaging = "error_managing",
    }
}

status_enum! {
    /// Cinder's snapshot status.
    SnapshotStatus {
        Creating = "creating",
        Available = "available",
        Deleting = "deleting",
        Error = "error",
        ErrorDeleting = "error_deleting",
    }
}

status_enum! {
    /// Glance's image status.
    ImageStatus {
        Queued = "queued",
        Saving = "saving",
        Active = "active",
        Killed = "killed",
        Deactivated = "deactivated",
        Uploading = "uploading",
        Importing = "importing",
    }
}

status_enum! {
    /// Neutron's status of ports and floating IPs.
    NetStatus {
        Active = "ACTIVE",
        Down = "DOWN",
        Build = "BUILD",
        Error = "ERROR",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub description: String,
    pub domain_id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub password: String,
    pub default_project_id: String,
    /// project id → role names
    pub roles: BTreeMap<String, Vec<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub user_id: String,
    pub project_id: Option<String>,
    pub methods: Vec<String>,
    pub audit_id: String,
    pub issued_at: String,
    pub expires_at: String,
    /// Unix seconds, for expiry checks.
    pub expires_unix: i64,
    #[serde(default)]
    pub app_cred_id: Option<String>,
    /// The roles a token may use (an application credential's); `None`: all of the user's.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppCred {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub user_id: String,
    pub project_id: String,
    pub secret: String,
    pub roles: Vec<String>,
    pub expires_at: Option<String>,
    pub unrestricted: bool,
    #[serde(default)]
    pub access_rules: Vec<AccessRule>,
}

fn yes() -> bool {
    true
}

/// An application credential's access rule: the requests its tokens may make.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessRule {
    pub id: String,
    /// Catalog type: `compute`, `network`, `image`, `volumev3`, `identity`, …
    pub service: String,
    pub method: String,
    /// Below the service's endpoint, with `*` (one segment) and `**` (any) wildcards.
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    pub domain_id: String,
    /// User ids.
    pub members: Vec<String>,
    /// project id → role names
    pub roles: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub owner: String,
    pub status: ImageStatus,
    pub visibility: String,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub size: Option<u64>,
    pub virtual_size: Option<u64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub protected: bool,
    pub os_hidden: bool,
    pub tags: Vec<String>,
    /// Custom properties, shown at the top level of the image.
    pub properties: BTreeMap<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    /// The projects a `shared` image is shared with (Glance's members).
    #[serde(default)]
    pub members: Vec<crate::model_extra::ImageMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub mtu: i64,
    pub port_security_enabled: bool,
    pub sdn: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pool {
    pub start: String,
    pub end: String,
}

/// A subnet's host route: VMs on the subnet reach `destination` through `nexthop`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostRoute {
    pub destination: String,
    pub nexthop: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub allocation_pools: Vec<Pool>,
    pub enable_dhcp: bool,
    pub dns_nameservers: Vec<String>,
    /// Extra routes of the VMs on the subnet (`destination` CIDR via `nexthop`).
    #[serde(default)]
    pub host_routes: Vec<HostRoute>,
    pub ip_version: i64,
    /// IPv6 only: how router advertisements are sent (`slaac`, `dhcpv6-stateful`,
    /// `dhcpv6-stateless`), `None` when not set.
    #[serde(default)]
    pub ipv6_ra_mode: Option<String>,
    /// IPv6 only: how ports get their addresses; `slaac` and `dhcpv6-stateless` mean the EUI-64
    /// address of the port's MAC.
    #[serde(default)]
    pub ipv6_address_mode: Option<String>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Port {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    pub device_id: String,
    pub device_owner: String,
    pub security_groups: Vec<String>,
    pub port_security_enabled: bool,
    pub allowed_address_pairs: Vec<Value>,
    pub status: NetStatus,
    pub dns_name: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SgRule {
    pub id: String,
    pub project_id: String,
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayInfo {
    pub network_id: String,
    pub enable_snat: bool,
    pub external_fixed_ips: Vec<FixedIp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Router {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub external_gateway_info: Option<GatewayInfo>,
    /// Extra routes (`extraroute`); absent from state files written before they existed.
    #[serde(default)]
    pub routes: Vec<HostRoute>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloatingIp {
    pub id: String,
    pub project_id: String,
    pub floating_network_id: String,
    pub floating_ip_address: String,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub router_id: Option<String>,
    pub status: NetStatus,
    pub description: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeAttachment {
    pub id: String,
    pub server_id: String,
    pub device: String,
    pub attached_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: i64,
    pub status: VolumeStatus,
    pub volume_type: String,
    pub availability_zone: String,
    pub bootable: bool,
    pub image_id: Option<String>,
    pub volume_image_metadata: Option<BTreeMap<String, String>>,
    pub source_volid: Option<String>,
    pub snapshot_id: Option<String>,
    pub attachments: Vec<VolumeAttachment>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: SnapshotStatus,
    /// GiB: the volume's size when the snapshot was taken.
    pub size: i64,
    pub metadata: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// Copied from the volume when the snapshot is taken; a volume restored from the snapshot
    /// inherits them, as in Cinder.
    pub volume_type: String,
    pub availability_zone: String,
    pub bootable: bool,
    pub volume_image_metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerVolume {
    pub volume_id: String,
    pub attachment_id: String,
    pub device: String,
    pub delete_on_termination: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    pub code: i64,
    pub message: String,
    pub created: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Server {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    pub status: ServerStatus,
    pub task_state: Option<String>,
    pub vm_state: String,
    pub power_state: i64,
    pub flavor_id: String,
    /// Previous flavor while a resize waits for confirmation.
    pub old_flavor_id: Option<String>,
    pub image_id: Option<String>,
    pub key_name: Option<String>,
    pub security_groups: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub availability_zone: String,
    pub user_data: Option<String>,
    pub config_drive: String,
    pub ports: Vec<String>,
    /// Ports Nova created for the server (deleted with it); the others are only detached.
    #[serde(default)]
    pub nova_ports: Vec<String>,
    pub volumes: Vec<ServerVolume>,
    pub fault: Option<Fault>,
    pub tags: Vec<String>,
    pub created: String,
    pub updated: String,
    pub launched_at: Option<String>,
    pub host_status: String,
    #[serde(default)]
    pub public_keys: Vec<String>,
    /// The flavor as it was when the server was made or resized (Nova keeps a copy, so a
    /// deleted flavor's servers still show and count it).
    #[serde(default)]
    pub flavor: Option<Flavor>,
    /// The flavor before a resize that waits for confirmation.
    #[serde(default)]
    pub old_flavor: Option<Flavor>,
    /// Locked by `lock` (only an admin acts on a locked server), with the reason given.
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub locked_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keypair {
    pub name: String,
    pub user_id: String,
    pub public_key: String,
    pub fingerprint: String,
    pub key_type: String,
    pub created_at: String,
}

/// A Nova flavor: built in, one of devstack's, or made by an admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    /// MiB
    pub ram: u64,
    /// GiB
    pub disk: u64,
    #[serde(default)]
    pub swap: u64,
    #[serde(default)]
    pub ephemeral: u64,
    #[serde(default = "one")]
    pub rxtx_factor: f64,
    #[serde(default = "yes")]
    pub is_public: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
    /// Projects given access to a private flavor.
    #[serde(default)]
    pub access: Vec<String>,
    #[serde(default)]
    pub created_at: String,
}

fn one() -> f64 {
    1.0
}

/// A Cinder volume type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub is_public: bool,
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
    /// Projects given access to a private type.
    #[serde(default)]
    pub access: Vec<String>,
}

/// Everything localcloud persists.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub projects: Map<Project>,
    pub users: Map<User>,
    pub tokens: Map<Token>,
    pub app_creds: Map<AppCred>,
    /// Absent from state files written before Keystone's admin API existed.
    #[serde(default)]
    pub domains: Map<Domain>,
    #[serde(default)]
    pub roles: Map<Role>,
    #[serde(default)]
    pub groups: Map<Group>,
    /// project id → Nova quota name → limit, where an admin set one.
    #[serde(default)]
    pub compute_quotas: Map<BTreeMap<String, i64>>,
    /// project id → Cinder quota name → limit, where an admin set one.
    #[serde(default)]
    pub volume_quotas: Map<BTreeMap<String, i64>>,
    /// project id → Neutron quota resource → limit, where an admin set one.
    #[serde(default)]
    pub network_quotas: Map<BTreeMap<String, i64>>,
    pub images: Map<Image>,
    pub networks: Map<Network>,
    pub subnets: Map<Subnet>,
    pub ports: Map<Port>,
    pub security_groups: Map<SecurityGroup>,
    pub sg_rules: Map<SgRule>,
    pub routers: Map<Router>,
    pub floating_ips: Map<FloatingIp>,
    pub volumes: Map<Volume>,
    /// Absent from state files written before snapshots existed.
    #[serde(default)]
    pub snapshots: Map<Snapshot>,
    pub servers: Map<Server>,
    /// Keyed by `<user_id>/<name>`.
    pub keypairs: Map<Keypair>,
    /// Generated passwords and ids of the bootstrap identities.
    pub bootstrap: Option<Bootstrap>,
    /// Flavors (seeded with the built-in ones once, then changed by admins).
    #[serde(default)]
    pub flavors: Map<Flavor>,
    /// Volume types (seeded with the built-in ones once, then changed by admins).
    #[serde(default)]
    pub volume_types: Map<VolumeType>,
    /// The name of Cinder's default volume type, when not the built-in default.
    #[serde(default)]
    pub default_volume_type: Option<String>,
    /// Availability zones of Nova and Cinder, the first being the default (empty: VK's).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Whether the built-in flavors and volume types were seeded.
    #[serde(default)]
    pub catalog_seeded: bool,
    /// The fixtures applied to this cloud (`devstack`).
    #[serde(default)]
    pub fixtures: Vec<String>,
    /// Keystone's registries localcloud keeps but does not act on (regions, services,
    /// endpoints, policies, limits, federation): kind → id → record.
    #[serde(default)]
    pub identity_records: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Instance actions, server groups, aggregates, QoS specs, transfers, image members, quota
    /// classes and implied roles ([`crate::model_extra`]).
    #[serde(default)]
    pub extra: crate::model_extra::Extra,
    /// Neutron's optional extensions' resources (QoS, subnet pools, address scopes, RBAC,
    /// trunks, segments, metering, flavors, …): kind → id → record (`neutron/records.rs`).
    #[serde(default)]
    pub network_records: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bootstrap {
    pub admin_user_id: String,
    pub admin_project_id: String,
    pub demo_user_id: String,
    pub demo_project_id: String,
    pub ext_net_id: String,
    pub internet_net_id: String,
}

/// Roles every cloud has; `admin` implies `member`, which implies `reader`, as in Keystone.
pub const BUILTIN_ROLES: &[&str] = &["admin", "member", "reader", "service"];

impl State {
    /// The roles a user holds on a project, assigned to the user or to one of its groups, with
    /// the roles they imply. Empty for a disabled user or project.
    pub fn roles_on(&self, user_id: &str, project_id: &str) -> Vec<String> {
        let enabled = self.users.get(user_id).is_some_and(|u| u.enabled)
            && self.projects.get(project_id).is_some_and(|p| p.enabled);
        if !enabled {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        let mut add = |r: &str| {
            if !out.iter().any(|x| x == r) {
                out.push(r.to_owned());
            }
        };
        let direct = self
            .users
            .get(user_id)
            .and_then(|u| u.roles.get(project_id))
            .into_iter()
            .flatten();
        let grouped = self
            .groups
            .values()
            .filter(|g| g.members.iter().any(|m| m == user_id))
            .filter_map(|g| g.roles.get(project_id))
            .flatten();
        for r in direct.chain(grouped) {
            add(r);
            if r == "admin" {
                add("member");
            }
            if r == "admin" || r == "member" {
                add("reader");
            }
        }
        // The roles admins made others imply, transitively.
        let name = |id: &str| self.roles.get(id).map(|r| r.name.clone());
        loop {
            let more: Vec<String> = self
                .extra
                .implied_roles
                .iter()
                .filter(|(p, _)| name(p).is_some_and(|p| out.contains(&p)))
                .filter_map(|(_, i)| name(i))
                .filter(|i| !out.contains(i))
                .collect();
            if more.is_empty() {
                break;
            }
            for m in more {
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// The projects where a user holds a role.
    pub fn projects_of(&self, user_id: &str) -> Vec<String> {
        self.projects
            .keys()
            .filter(|p| !self.roles_on(user_id, p).is_empty())
            .cloned()
            .collect()
    }
}

/// Unix seconds of a Keystone time (`2026-01-01T00:00:00`, with optional fraction and `Z` or
/// offset; no offset is UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    let s = s.trim_end_matches('Z');
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

impl AppCred {
    /// Whether the credential has expired at `now` (Unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at
            .as_deref()
            .is_some_and(|e| parse_time(e).is_none_or(|t| t <= now))
    }
}

impl State {
    /// A token that is still good at `now`: not expired, of an enabled user, and, when it came
    /// from an application credential, that credential still exists and has not expired.
    pub fn live_token(&self, id: &str, now: i64) -> Option<&Token> {
        let t = self.tokens.get(id).filter(|t| t.expires_unix > now)?;
        self.users.get(&t.user_id).filter(|u| u.enabled)?;
        if let Some(ac) = &t.app_cred_id {
            self.app_creds.get(ac).filter(|a| !a.expired(now))?;
        }
        Some(t)
    }

    /// The roles a project-scoped token carries now: the user's roles on the project, limited
    /// to the application credential's when it came from one.
    pub fn token_roles(&self, t: &Token) -> Vec<String> {
        let Some(pid) = &t.project_id else {
            return Vec::new();
        };
        let mut roles = self.roles_on(&t.user_id, pid);
        if let Some(limit) = &t.roles {
            roles.retain(|r| limit.contains(r));
        }
        roles
    }
}
