//! Glance (image v2) wire types: image records (flat, with custom properties at the top
//! level), create bodies, JSON-patch operations, and lists with `first`/`next`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Media type of `PATCH /v2/images/{id}`.
pub const JSON_PATCH_MEDIA_TYPE: &str = "application/openstack-images-v2.1-json-patch";

/// An image record (`GET /v2/images/{id}`; also the create answer and list entries).
/// Glance sends `null` for `checksum`, `size`, `virtual_size`, `os_hash_*` until data is uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `queued`, `saving`, `uploading`, `importing`, `active`, `deactivated`, `killed`,
    /// `deleted`, `pending_delete`.
    pub status: String,
    /// `public`, `private`, `shared`, `community`.
    #[serde(default)]
    pub visibility: String,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub os_hidden: bool,
    /// MD5 hex of the data.
    #[serde(default)]
    pub checksum: Option<String>,
    /// `sha512` on a default Glance.
    #[serde(default)]
    pub os_hash_algo: Option<String>,
    #[serde(default)]
    pub os_hash_value: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// Bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Bytes.
    #[serde(default)]
    pub virtual_size: Option<u64>,
    /// GiB.
    #[serde(default)]
    pub min_disk: u64,
    /// MiB.
    #[serde(default)]
    pub min_ram: u64,
    #[serde(default)]
    pub disk_format: Option<String>,
    #[serde(default)]
    pub container_format: Option<String>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(rename = "self", default)]
    pub self_link: String,
    #[serde(default)]
    pub file: String,
    #[serde(default)]
    pub schema: String,
    /// Store names, comma-separated (`"fs"`), once data is uploaded with multi-store enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stores: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<serde_json::Value>>,
    /// Custom properties (`os_distro`, `sid`, `image_type`, `hw_*`, …), at the top level on the
    /// wire. Values are strings when set by users; kept as JSON to read any service.
    #[serde(flatten)]
    pub properties: BTreeMap<String, serde_json::Value>,
}

impl Image {
    /// A custom property as a string (non-string values are rendered as JSON).
    pub fn property(&self, key: &str) -> Option<String> {
        self.properties.get(key).map(|value| match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// `POST /v2/images`: a flat object; custom string properties sit next to the core fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ImageCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `raw`, `qcow2`, `vmdk`, `vdi`, `iso`, `vhd`, `vhdx`, `ami`, `ari`, `aki`, `ploop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_format: Option<String>,
    /// `bare`, `ovf`, `ova`, `docker`, `compressed`, `ami`, `ari`, `aki`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_hidden: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_disk: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ram: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(flatten)]
    pub properties: BTreeMap<String, String>,
}

/// `{"images": [...], "first", "next", "schema"}`; `next` is present when there is another page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageList {
    pub images: Vec<Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// One JSON-patch operation of `PATCH /v2/images/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOp {
    /// `add`, `replace` or `remove`.
    pub op: String,
    /// `/min_disk`, `/tags`, `/<custom property>`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

impl PatchOp {
    /// `{"op":"replace","path":"/<field>","value":…}`.
    pub fn replace(field: &str, value: impl Into<serde_json::Value>) -> Self {
        Self {
            op: "replace".to_owned(),
            path: format!("/{field}"),
            value: Some(value.into()),
        }
    }

    /// `{"op":"add","path":"/<field>","value":…}`.
    pub fn add(field: &str, value: impl Into<serde_json::Value>) -> Self {
        Self {
            op: "add".to_owned(),
            path: format!("/{field}"),
            value: Some(value.into()),
        }
    }

    /// `{"op":"remove","path":"/<field>"}`.
    pub fn remove(field: &str) -> Self {
        Self {
            op: "remove".to_owned(),
            path: format!("/{field}"),
            value: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_image_from_glance_round_trips_with_nulls_and_custom_properties() {
        let body = serde_json::json!({"name":"img","disk_format":"raw","container_format":"bare","visibility":"shared",
            "size":null,"virtual_size":null,"status":"queued","checksum":null,"protected":false,"min_ram":0,"min_disk":0,
            "owner":"p","os_hidden":false,"os_hash_algo":null,"os_hash_value":null,"id":"i",
            "created_at":"2026-11-22T02:22:49Z","updated_at":"2026-11-22T02:22:49Z","tags":["t"],
            "self":"/v2/images/i","file":"/v2/images/i/file","schema":"/v2/schemas/image","os_distro":"ubuntu"});
        let image: Image = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(image.property("os_distro").as_deref(), Some("ubuntu"));
        assert_eq!(image.size, None);
        assert_eq!(serde_json::to_value(&image).unwrap(), body);
    }

    #[test]
    fn create_body_is_flat() {
        let mut properties = BTreeMap::new();
        properties.insert("sid".to_owned(), "xaas".to_owned());
        let create = ImageCreate {
            name: Some("img".into()),
            disk_format: Some("raw".into()),
            container_format: Some("bare".into()),
            properties,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&create).unwrap(),
            serde_json::json!({"name":"img","disk_format":"raw","container_format":"bare","sid":"xaas"})
        );
    }
}
