//! Cinder (block storage v3) wire types: volumes with attachments (`bootable` is the *string*
//! `"true"`/`"false"`), volume types, snapshots, and the actions `os-extend`/`os-retype`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Link;

/// A volume from `GET /v3/{project}/volumes/{id}` or `/volumes/detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    /// `null` when created without a name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `creating`, `available`, `reserved`, `attaching`, `in-use`, `detaching`, `deleting`,
    /// `error`, `error_deleting`, `extending`, `retyping`, `downloading`, `uploading`, …
    pub status: String,
    /// GiB.
    pub size: u64,
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// `"true"` or `"false"`: a string on the wire.
    #[serde(default = "default_false_string")]
    pub bootable: String,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub multiattach: bool,
    #[serde(default)]
    pub volume_type: Option<String>,
    #[serde(default)]
    pub snapshot_id: Option<String>,
    #[serde(default)]
    pub source_volid: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub attachments: Vec<VolumeAttachment>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub user_id: String,
    #[serde(
        rename = "os-vol-tenant-attr:tenant_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
    #[serde(
        rename = "os-vol-host-attr:host",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub host: Option<String>,
    #[serde(
        rename = "os-vol-mig-status-attr:migstat",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub migration_status: Option<String>,
    /// Present for volumes created from an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_image_metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistencygroup_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Microversion 3.63.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type_id: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
}

impl Volume {
    /// `bootable` as a boolean.
    pub fn is_bootable(&self) -> bool {
        self.bootable.eq_ignore_ascii_case("true")
    }
}

/// One entry of `volume.attachments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeAttachment {
    pub id: String,
    pub attachment_id: String,
    pub volume_id: String,
    pub server_id: String,
    #[serde(default)]
    pub host_name: Option<String>,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub attached_at: Option<String>,
}

/// `{"volume": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeResponse {
    pub volume: Volume,
}

/// `{"volumes": [...], "volumes_links": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeList {
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_links: Option<Vec<Link>>,
}

/// `POST /v3/{project}/volumes {"volume": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeCreateRequest {
    pub volume: VolumeCreate,
}

/// A new volume: blank, or from an image, a snapshot or another volume.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VolumeCreate {
    /// GiB; may be omitted when cloning or restoring (the source's size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(rename = "imageRef", default, skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_volid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiattach: Option<bool>,
}

/// `PUT /v3/{project}/volumes/{id} {"volume": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeUpdateRequest {
    pub volume: VolumeUpdate,
}

/// Updatable volume fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VolumeUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `POST /v3/{project}/volumes/{id}/action`: one key naming the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VolumeAction {
    #[serde(rename = "os-extend")]
    Extend { new_size: u64 },
    #[serde(rename = "os-retype")]
    Retype {
        new_type: String,
        /// `never` (default) or `on-demand`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        migration_policy: Option<String>,
    },
    #[serde(rename = "os-set_bootable")]
    SetBootable { bootable: bool },
    #[serde(rename = "os-reset_status")]
    ResetStatus {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attach_status: Option<String>,
    },
    #[serde(rename = "os-force_delete")]
    ForceDelete(()),
}

/// `os-volume_upload_image`: copy a volume's data into a new Glance image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VolumeUploadImage {
    pub image_name: String,
    /// Allow an `in-use` volume (Cinder refuses it otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

/// `{"os-volume_upload_image": {...}}` as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeUploadImageRequest {
    #[serde(rename = "os-volume_upload_image")]
    pub upload: VolumeUploadImage,
}

/// The answer to `os-volume_upload_image`: the new image's id among the volume's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeUploadImageResponse {
    #[serde(rename = "os-volume_upload_image")]
    pub upload: VolumeUploadImageResult,
}

/// The fields of [`VolumeUploadImageResponse`] a client needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeUploadImageResult {
    /// The volume's id.
    pub id: String,
    pub image_id: String,
    #[serde(default)]
    pub image_name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub disk_format: Option<String>,
    #[serde(default)]
    pub container_format: Option<String>,
}

/// `{"metadata": {...}}` for `/volumes/{id}/metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VolumeMetadata {
    pub metadata: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Volume types
// ---------------------------------------------------------------------------------------------

/// A volume type (`ceph-ssd`, `ceph-hdd`, `high-iops` on VK).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_true")]
    pub is_public: bool,
    #[serde(
        rename = "os-volume-type-access:is_public",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_is_public: Option<bool>,
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
    #[serde(default)]
    pub qos_specs_id: Option<String>,
}

/// `{"volume_type": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTypeResponse {
    pub volume_type: VolumeType,
}

/// `{"volume_types": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTypeList {
    pub volume_types: Vec<VolumeType>,
}

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

/// A snapshot from `GET /v3/{project}/snapshots/{id}` or `/snapshots/detail` (the plain
/// `/snapshots` list has the same fields without the extended attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `creating`, `available`, `deleting`, `error`, `error_deleting`, …
    pub status: String,
    pub volume_id: String,
    /// GiB: the size of the volume when the snapshot was taken.
    pub size: u64,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// `0%` while creating, `100%` when done (show and detail only).
    #[serde(
        rename = "os-extended-snapshot-attributes:progress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub progress: Option<String>,
    #[serde(
        rename = "os-extended-snapshot-attributes:project_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub project_id: Option<String>,
    /// Microversion 3.41.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Microversion 3.65.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumes_quota: Option<bool>,
}

/// `{"snapshot": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotResponse {
    pub snapshot: Snapshot,
}

/// `{"snapshots": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotList {
    pub snapshots: Vec<Snapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots_links: Option<Vec<Link>>,
}

/// `POST /v3/{project}/snapshots {"snapshot": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotCreateRequest {
    pub snapshot: SnapshotCreate,
}

/// A new snapshot.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SnapshotCreate {
    pub volume_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `PUT /v3/{project}/snapshots/{id} {"snapshot": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotUpdateRequest {
    pub snapshot: SnapshotUpdate,
}

/// Updatable snapshot fields (at least one).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SnapshotUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn default_true() -> bool {
    true
}

fn default_false_string() -> String {
    "false".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_serialize_as_cinder_expects() {
        assert_eq!(
            serde_json::to_string(&VolumeAction::Extend { new_size: 20 }).unwrap(),
            r#"{"os-extend":{"new_size":20}}"#
        );
        assert_eq!(
            serde_json::to_string(&VolumeAction::Retype {
                new_type: "ceph-hdd".into(),
                migration_policy: Some("on-demand".into())
            })
            .unwrap(),
            r#"{"os-retype":{"new_type":"ceph-hdd","migration_policy":"on-demand"}}"#
        );
    }

    #[test]
    fn volume_with_attachment_parses() {
        let body = serde_json::json!({"volume":{"id":"v","name":null,"description":null,"status":"in-use","size":10,
            "availability_zone":"GZ1","bootable":"true","encrypted":false,"multiattach":false,"volume_type":"ceph-ssd",
            "snapshot_id":null,"source_volid":null,"metadata":{},"created_at":"c","updated_at":null,"user_id":"u",
            "attachments":[{"id":"v","attachment_id":"a","volume_id":"v","server_id":"s","host_name":null,"device":"/dev/vda","attached_at":"t"}],
            "volume_image_metadata":{"image_id":"i"},"links":[]}});
        let volume: VolumeResponse = serde_json::from_value(body).unwrap();
        assert!(volume.volume.is_bootable());
        assert_eq!(volume.volume.attachments[0].server_id, "s");
        let round = serde_json::to_value(&volume).unwrap();
        assert_eq!(round["volume"]["bootable"], "true");
        assert_eq!(round["volume"]["name"], serde_json::Value::Null);
    }
}
