//! Stored resources of the admin and sharing APIs the OpenStack clients meet beyond the core ones:
//! Nova's instance actions, server groups and aggregates; Cinder's QoS specs and volume
//! transfers; quota classes; Keystone's implied roles. Kept in
//! [`crate::model::State::extra`], one field so older state files (without it) still load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Map;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extra {
    /// Server id → its actions, oldest first. Kept after the server is deleted, as Nova keeps
    /// them (`server event list` of a deleted server, microversion 2.21).
    #[serde(default)]
    pub instance_actions: Map<Vec<InstanceAction>>,
    #[serde(default)]
    pub server_groups: Map<ServerGroup>,
    /// Keyed by the aggregate's integer id (as a string).
    #[serde(default)]
    pub aggregates: Map<Aggregate>,
    /// The next aggregate id.
    #[serde(default)]
    pub next_aggregate_id: i64,
    #[serde(default)]
    pub qos_specs: Map<QosSpec>,
    #[serde(default)]
    pub transfers: Map<VolumeTransfer>,
    /// Nova's `default` quota class: quota name → limit, where an admin set one.
    #[serde(default)]
    pub compute_quota_class: BTreeMap<String, i64>,
    /// Cinder's `default` quota class: quota name → limit, where an admin set one.
    #[serde(default)]
    pub volume_quota_class: BTreeMap<String, i64>,
    /// Keystone's implied roles added by admins: (prior role id, implied role id).
    #[serde(default)]
    pub implied_roles: Vec<(String, String)>,
}

/// One of a server's actions (`os-instance-actions`), with the step it ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceAction {
    pub action: String,
    pub request_id: String,
    pub user_id: String,
    pub project_id: String,
    pub start_time: String,
    pub updated_at: String,
    pub events: Vec<ActionEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionEvent {
    pub event: String,
    pub start_time: String,
    pub finish_time: Option<String>,
    pub result: Option<String>,
}

/// A Nova server group: its policy and the servers booted into it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    /// `affinity`, `anti-affinity`, `soft-affinity`, `soft-anti-affinity`.
    pub policy: String,
    /// `max_server_per_host` of an anti-affinity group.
    #[serde(default)]
    pub rules: BTreeMap<String, i64>,
    /// Server ids.
    #[serde(default)]
    pub members: Vec<String>,
}

/// A Nova host aggregate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aggregate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub availability_zone: Option<String>,
    pub hosts: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// Cinder QoS specs and the volume types they are associated with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QosSpec {
    pub id: String,
    pub name: String,
    /// `front-end`, `back-end` or `both`.
    pub consumer: String,
    pub specs: BTreeMap<String, String>,
    /// Volume type ids.
    #[serde(default)]
    pub volume_types: Vec<String>,
    pub created_at: String,
}

/// A Cinder volume transfer: the volume waits (`awaiting-transfer`) until a user of another
/// project accepts it with the auth key, which moves the volume to that project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeTransfer {
    pub id: String,
    pub name: Option<String>,
    pub volume_id: String,
    /// The project giving the volume.
    pub project_id: String,
    /// SHA-256 (hex) of the salt and the auth key; the key itself is shown once, at create.
    pub salt: String,
    pub key_hash: String,
    pub created_at: String,
}

/// A project an image is shared with (Glance's member), and whether it accepted; kept in
/// [`crate::model::Image::members`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageMember {
    pub member_id: String,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}
