//! The state: what exists, per resource instance, as last seen. Kept apart from configuration and
//! plans; read and written as versioned JSON ([`file`]); changed during an apply only through
//! [`sync::SyncState`], which persists after every resource operation.

pub mod file;
pub mod store;
pub mod sync;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::addr::{InstanceAddr, InstanceKey, ResourceAddr, ResourceMode};
use crate::value::{PathStep, Value};

/// The state file format this build writes. Older formats are upgraded on read by explicit
/// functions; newer ones are refused.
pub const FORMAT_VERSION: u64 = 1;

/// Whether an object is usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectStatus {
    Ready,
    /// A create or update failed part-way; the next plan replaces it.
    Tainted,
    /// A create was started and not confirmed (the process may have died). The next apply
    /// repeats the create with the same token, which providers use to find or reproduce the
    /// object instead of making a second one.
    Creating,
}

/// One remote object.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectState {
    pub status: ObjectStatus,
    /// Known values only (what the provider returned). For `Creating`, the planned values.
    pub attributes: Value,
    /// Paths to sensitive attributes.
    pub sensitive_paths: Vec<Vec<PathStep>>,
    /// Resources this one depended on when it was last applied (destroy goes in reverse).
    pub dependencies: Vec<ResourceAddr>,
    /// The idempotency token of the create that made it.
    pub create_token: String,
    pub schema_version: u64,
    pub create_before_destroy: bool,
}

/// One instance: its current object, and any deposed ones (replaced with
/// `create_before_destroy` and not yet deleted).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct InstanceState {
    pub current: Option<ObjectState>,
    pub deposed: Vec<ObjectState>,
}

impl InstanceState {
    pub fn is_empty(&self) -> bool {
        self.current.is_none() && self.deposed.is_empty()
    }
}

/// A resource block's instances and the provider that manages them.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ResourceState {
    /// Provider configuration address: `null`, `vkcs.second`.
    pub provider: String,
    pub instances: BTreeMap<InstanceKey, InstanceState>,
}

/// A root output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    pub value: serde_json::Value,
    pub sensitive: bool,
    #[serde(rename = "type")]
    pub type_: serde_json::Value,
}

/// The whole state.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Identifies this state's history; never changes once made.
    pub lineage: String,
    /// Bumped on every write.
    pub serial: u64,
    pub resources: BTreeMap<ResourceAddr, ResourceState>,
    pub outputs: BTreeMap<String, OutputState>,
    /// Values generated once and kept (for example a default `instance_uuid`).
    pub generated: BTreeMap<String, String>,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

impl State {
    /// An empty state with a new lineage.
    pub fn new() -> Self {
        State {
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            generated: BTreeMap::new(),
        }
    }

    /// True when nothing is recorded (outputs aside).
    pub fn is_empty(&self) -> bool {
        self.resources
            .values()
            .all(|r| r.instances.values().all(InstanceState::is_empty))
    }

    pub fn instance(&self, addr: &InstanceAddr) -> Option<&InstanceState> {
        self.resources.get(&addr.resource)?.instances.get(&addr.key)
    }

    pub fn current(&self, addr: &InstanceAddr) -> Option<&ObjectState> {
        self.instance(addr)?.current.as_ref()
    }

    fn instance_mut(&mut self, addr: &InstanceAddr, provider: &str) -> &mut InstanceState {
        let r = self.resources.entry(addr.resource.clone()).or_default();
        if r.provider.is_empty() {
            provider.clone_into(&mut r.provider);
        }
        r.instances.entry(addr.key.clone()).or_default()
    }

    /// Sets (or with `None` removes) the current object of an instance.
    pub fn set_current(
        &mut self,
        addr: &InstanceAddr,
        provider: &str,
        object: Option<ObjectState>,
    ) {
        self.instance_mut(addr, provider).current = object;
        self.prune(addr);
    }

    /// Moves the current object to the deposed list (before a create-before-destroy replace).
    pub fn depose_current(&mut self, addr: &InstanceAddr, provider: &str) {
        let inst = self.instance_mut(addr, provider);
        if let Some(obj) = inst.current.take() {
            inst.deposed.push(obj);
        }
    }

    /// Removes the deposed object with the given create token.
    pub fn remove_deposed(&mut self, addr: &InstanceAddr, token: &str) {
        if let Some(inst) = self
            .resources
            .get_mut(&addr.resource)
            .and_then(|r| r.instances.get_mut(&addr.key))
        {
            inst.deposed.retain(|o| o.create_token != token);
        }
        self.prune(addr);
    }

    fn prune(&mut self, addr: &InstanceAddr) {
        if let Some(r) = self.resources.get_mut(&addr.resource) {
            if r.instances
                .get(&addr.key)
                .is_some_and(InstanceState::is_empty)
            {
                r.instances.remove(&addr.key);
            }
            if r.instances.is_empty() {
                self.resources.remove(&addr.resource);
            }
        }
    }

    /// Every instance address, in order.
    pub fn instance_addrs(&self) -> Vec<InstanceAddr> {
        self.resources
            .iter()
            .flat_map(|(r, rs)| rs.instances.keys().map(move |k| r.instance(k.clone())))
            .collect()
    }

    /// Managed instances with a current object.
    pub fn managed_count(&self) -> usize {
        self.resources
            .iter()
            .filter(|(r, _)| r.mode == ResourceMode::Managed)
            .map(|(_, rs)| {
                rs.instances
                    .values()
                    .filter(|i| i.current.is_some())
                    .count()
            })
            .sum()
    }
}

/// Errors reading a state file's content.
#[derive(Debug, thiserror::Error)]
pub enum StateFormatError {
    #[error("the state is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("the state has format version {found}; this vitrina reads up to {FORMAT_VERSION}: upgrade vitrina")]
    TooNew { found: u64 },
    #[error("the state has no `format_version`")]
    NoVersion,
    #[error("the state names a bad resource address `{0}`")]
    BadAddress(String),
    #[error("the state has a bad instance key for `{0}`")]
    BadKey(String),
}

// ---- the file format (version 1) ----

#[derive(Serialize, Deserialize)]
struct FileV1 {
    format_version: u64,
    lineage: String,
    serial: u64,
    #[serde(default)]
    vitrina_version: String,
    #[serde(default)]
    generated: BTreeMap<String, String>,
    #[serde(default)]
    outputs: BTreeMap<String, OutputState>,
    #[serde(default)]
    resources: Vec<ResourceV1>,
}

#[derive(Serialize, Deserialize)]
struct ResourceV1 {
    /// The module instance path, as in Terraform's state (`module.a["x"]`); absent in the root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    module: String,
    mode: ResourceMode,
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    provider: String,
    instances: Vec<InstanceV1>,
}

#[derive(Serialize, Deserialize)]
struct InstanceV1 {
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    index_key: serde_json::Value,
    /// `null` for the current object, else the deposed object's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deposed: Option<String>,
    status: ObjectStatus,
    schema_version: u64,
    attributes: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sensitive_attributes: Vec<Vec<PathStep>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    dependencies: Vec<String>,
    create_token: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    create_before_destroy: bool,
}

impl State {
    /// Serialises to the current format (pretty JSON, deterministic order).
    pub fn to_json(&self) -> Vec<u8> {
        let resources = self
            .resources
            .iter()
            .map(|(addr, rs)| ResourceV1 {
                module: addr.module.clone(),
                mode: addr.mode,
                type_name: addr.type_name.clone(),
                name: addr.name.clone(),
                provider: rs.provider.clone(),
                instances: rs
                    .instances
                    .iter()
                    .flat_map(|(key, inst)| {
                        let cur = inst.current.iter().map(move |o| (None, o));
                        let dep = inst
                            .deposed
                            .iter()
                            .map(|o| (Some(o.create_token.clone()), o));
                        cur.chain(dep).map(move |(deposed, o)| InstanceV1 {
                            index_key: key.to_json(),
                            deposed,
                            status: o.status,
                            schema_version: o.schema_version,
                            attributes: o.attributes.to_json_lossy(),
                            sensitive_attributes: o.sensitive_paths.clone(),
                            dependencies: o.dependencies.iter().map(ToString::to_string).collect(),
                            create_token: o.create_token.clone(),
                            create_before_destroy: o.create_before_destroy,
                        })
                    })
                    .collect(),
            })
            .collect();
        let file = FileV1 {
            format_version: FORMAT_VERSION,
            lineage: self.lineage.clone(),
            serial: self.serial,
            vitrina_version: env!("CARGO_PKG_VERSION").to_owned(),
            generated: self.generated.clone(),
            outputs: self.outputs.clone(),
            resources,
        };
        let mut out = serde_json::to_vec_pretty(&file).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Reads any supported format version.
    pub fn from_json(bytes: &[u8]) -> Result<State, StateFormatError> {
        // A first pass reads only the version (serde skips the rest without building it), so
        // the file is then parsed straight into its typed form instead of through a tree of
        // `serde_json::Value`s the size of the whole state.
        #[derive(Deserialize)]
        struct Versioned {
            format_version: Option<serde_json::Value>,
        }
        let versioned: Versioned = serde_json::from_slice(bytes).map_err(StateFormatError::Json)?;
        let version = versioned
            .format_version
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .ok_or(StateFormatError::NoVersion)?;
        if version > FORMAT_VERSION {
            return Err(StateFormatError::TooNew { found: version });
        }
        // Version 1 is the first; an upgrade function per older version goes here.
        let file: FileV1 = serde_json::from_slice(bytes).map_err(StateFormatError::Json)?;
        let mut state = State {
            lineage: file.lineage,
            serial: file.serial,
            resources: BTreeMap::new(),
            outputs: file.outputs,
            generated: file.generated,
        };
        for r in file.resources {
            let addr = ResourceAddr {
                module: r.module,
                mode: r.mode,
                type_name: r.type_name,
                name: r.name,
            };
            let rs = state.resources.entry(addr.clone()).or_default();
            rs.provider = r.provider;
            for i in r.instances {
                let key = InstanceKey::from_json(&i.index_key)
                    .ok_or_else(|| StateFormatError::BadKey(addr.to_string()))?;
                let dependencies = i
                    .dependencies
                    .iter()
                    .map(|d| {
                        ResourceAddr::parse(d)
                            .ok_or_else(|| StateFormatError::BadAddress(d.clone()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let obj = ObjectState {
                    status: i.status,
                    attributes: Value::from_json(&i.attributes),
                    sensitive_paths: i.sensitive_attributes,
                    dependencies,
                    create_token: i.create_token,
                    schema_version: i.schema_version,
                    create_before_destroy: i.create_before_destroy,
                };
                let inst = rs.instances.entry(key).or_default();
                if i.deposed.is_some() {
                    inst.deposed.push(obj);
                } else {
                    inst.current = Some(obj);
                }
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(attrs: Value) -> ObjectState {
        ObjectState {
            status: ObjectStatus::Ready,
            attributes: attrs,
            sensitive_paths: vec![vec![PathStep::Attr("result".into())]],
            dependencies: vec![ResourceAddr::managed("null_resource", "b")],
            create_token: "t1".into(),
            schema_version: 0,
            create_before_destroy: false,
        }
    }

    #[test]
    fn round_trips_through_json() {
        let mut s = State::new();
        let a = ResourceAddr::managed("random_id", "a").instance(InstanceKey::Str("k".into()));
        s.set_current(
            &a,
            "random",
            Some(object(Value::map([("id", Value::string("x"))]))),
        );
        s.depose_current(&a, "random");
        s.set_current(
            &a,
            "random",
            Some(object(Value::map([("id", Value::string("y"))]))),
        );
        s.outputs.insert(
            "o".into(),
            OutputState {
                value: serde_json::json!(1),
                sensitive: true,
                type_: serde_json::json!("number"),
            },
        );
        let back = State::from_json(&s.to_json()).expect("reads back");
        assert_eq!(back, s);
    }

    #[test]
    fn refuses_newer_formats() {
        let err = State::from_json(br#"{"format_version": 99, "lineage": "x", "serial": 1}"#)
            .expect_err("too new");
        assert!(matches!(err, StateFormatError::TooNew { found: 99 }));
    }

    #[test]
    fn removing_the_last_object_prunes_the_resource() {
        let mut s = State::new();
        let a = ResourceAddr::managed("null_resource", "a").instance(InstanceKey::None);
        s.set_current(&a, "null", Some(object(Value::Null)));
        assert!(!s.is_empty());
        s.set_current(&a, "null", None);
        assert!(s.is_empty());
        assert!(s.resources.is_empty());
    }
}
