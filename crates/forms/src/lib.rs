//! The one form model: typed fields, labels, defaults.
//!
//! A service package's option (`parameters/<OPTION>.yaml`) becomes a [`Field`]; the package room
//! parses files into it, the server renders and checks answers with it. No files, no HTTP here.

use std::fmt;

/// When an option is asked: on create, on update, or measured afterwards (postpaid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Create,
    Update,
    ResourceUsages,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "create" => Some(Action::Create),
            "update" => Some(Action::Update),
            "resource_usages" => Some(Action::ResourceUsages),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::ResourceUsages => "resource_usages",
        }
    }
}

/// A value of a field: what a default, a const or an answer holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i64),
    Number(f64),
    String(String),
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(i) => write!(f, "{i}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The data-source kinds the cloud fills a choice from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasourceKind {
    Flavor,
    Az,
    Subnet,
    Network,
    VolumeType,
    Keypair,
}

impl DatasourceKind {
    pub const ALL: [DatasourceKind; 6] = [
        DatasourceKind::Flavor,
        DatasourceKind::Az,
        DatasourceKind::Subnet,
        DatasourceKind::Network,
        DatasourceKind::VolumeType,
        DatasourceKind::Keypair,
    ];

    pub fn parse(s: &str) -> Option<DatasourceKind> {
        DatasourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DatasourceKind::Flavor => "flavor",
            DatasourceKind::Az => "az",
            DatasourceKind::Subnet => "subnet",
            DatasourceKind::Network => "network",
            DatasourceKind::VolumeType => "volume_type",
            DatasourceKind::Keypair => "keypair",
        }
    }

    /// Whether a `default` is allowed for this kind.
    pub fn allows_default(self) -> bool {
        matches!(self, DatasourceKind::Az | DatasourceKind::VolumeType)
    }

    /// Whether a `filter` is allowed for this kind.
    pub fn allows_filter(self) -> bool {
        matches!(
            self,
            DatasourceKind::Flavor | DatasourceKind::VolumeType | DatasourceKind::Network
        )
    }
}

/// Disk types a `volume_type` datasource may default to or be filtered by name.
pub const VOLUME_TYPE_NAMES: [&str; 3] = ["ceph-ssd", "ceph-hdd", "high-iops"];
/// Disk classes a `volume_type` datasource may be filtered by.
pub const DISK_CLASSES: [&str; 3] = ["ssd", "hdd", "high_iops_disk"];
/// Network kinds a `network` datasource may be filtered by.
pub const NETWORK_KINDS: [&str; 3] = ["external", "internal", "all"];

/// Whether the chosen resource is passed on by ID or by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueIs {
    Uuid,
    Name,
}

/// Inclusive bounds of a filter (vCPUs, RAM in MB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounds {
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
}

/// Which resources a datasource offers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatasourceFilter {
    pub vcpus: Option<Bounds>,
    pub ram_mb: Option<Bounds>,
    pub disk_classes: Vec<String>,
    pub volume_type_names: Vec<String>,
    pub network_kind: Option<String>,
    pub shared: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datasource {
    pub kind: DatasourceKind,
    pub value_is: Option<ValueIs>,
    pub default: Option<String>,
    pub filter: DatasourceFilter,
}

/// User steps: the field's numbers count steps of `size` above `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub base: i64,
    pub size: i64,
}

/// The kind of a field with its kind-specific settings.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    IntegerConst(i64),
    IntegerEnum {
        values: Vec<i64>,
        default: i64,
    },
    /// Step 1 (`steps: None`) or user step (values are steps above `base`).
    IntegerRange {
        default: i64,
        minimum: Option<i64>,
        maximum: Option<i64>,
        steps: Option<Steps>,
    },
    /// A postpaid measured quantity: not asked, only reported.
    Number,
    StringConst(String),
    StringInput {
        default: Option<String>,
        pattern: Option<String>,
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
    StringEnum {
        values: Vec<String>,
        default: String,
    },
    BooleanConst(bool),
    BooleanSwitch {
        default: bool,
    },
    Datasource(Datasource),
}

/// One form field: an option of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The option's name (its file name without `.yaml`).
    pub name: String,
    /// The label shown to the user (`schema.description`).
    pub label: String,
    pub hint: Option<String>,
    /// Links a disk-type option with a disk-size option.
    pub tag: Option<String>,
    pub actions: Vec<Action>,
    pub kind: FieldKind,
}

impl Field {
    /// Whether the option is measured after the fact and paid per use.
    pub fn is_postpaid(&self) -> bool {
        self.actions.contains(&Action::ResourceUsages)
    }

    pub fn datasource(&self) -> Option<&Datasource> {
        match &self.kind {
            FieldKind::Datasource(d) => Some(d),
            _ => None,
        }
    }

    /// Whether a value of this field is an integer (integer kinds).
    pub fn is_integer(&self) -> bool {
        matches!(
            self.kind,
            FieldKind::IntegerConst(_)
                | FieldKind::IntegerEnum { .. }
                | FieldKind::IntegerRange { .. }
        )
    }

    pub fn is_boolean(&self) -> bool {
        matches!(
            self.kind,
            FieldKind::BooleanConst(_) | FieldKind::BooleanSwitch { .. }
        )
    }

    /// The value the form starts with, if any.
    pub fn default_value(&self) -> Option<Value> {
        match &self.kind {
            FieldKind::IntegerConst(v) => Some(Value::Integer(*v)),
            FieldKind::IntegerEnum { default, .. } | FieldKind::IntegerRange { default, .. } => {
                Some(Value::Integer(*default))
            }
            FieldKind::Number => None,
            FieldKind::StringConst(s) => Some(Value::String(s.clone())),
            FieldKind::StringInput { default, .. } => default.clone().map(Value::String),
            FieldKind::StringEnum { default, .. } => Some(Value::String(default.clone())),
            FieldKind::BooleanConst(b) => Some(Value::Bool(*b)),
            FieldKind::BooleanSwitch { default } => Some(Value::Bool(*default)),
            FieldKind::Datasource(d) => d.default.clone().map(Value::String),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasource_kinds_round_trip() {
        for k in DatasourceKind::ALL {
            assert_eq!(DatasourceKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(DatasourceKind::parse("disk"), None);
        assert!(DatasourceKind::Az.allows_default());
        assert!(!DatasourceKind::Flavor.allows_default());
        assert!(DatasourceKind::Network.allows_filter());
    }

    #[test]
    fn defaults() {
        let f = Field {
            name: "nodes".into(),
            label: "Nodes".into(),
            hint: None,
            tag: None,
            actions: vec![Action::Create],
            kind: FieldKind::IntegerEnum {
                values: vec![3, 5, 7],
                default: 5,
            },
        };
        assert_eq!(f.default_value(), Some(Value::Integer(5)));
        assert!(f.is_integer());
        assert!(!f.is_postpaid());
    }
}
