//! The one form model: typed fields, labels, defaults.
//!
//! A service package's option (`parameters/<OPTION>.yaml`) becomes a [`Field`]; the package room
//! parses files into it, the server renders and checks answers with it. No files, no HTTP here.

use std::fmt;

pub mod sdf;
pub mod when;
pub mod wizard;

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

/// Why an answer does not fit its field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    #[error("`{field}` expects {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("`{field}` is fixed to `{value}`")]
    NotConst { field: String, value: String },
    #[error("`{field}` must be one of {allowed}")]
    NotInEnum { field: String, allowed: String },
    #[error("`{field}` must be at least {minimum}")]
    BelowMinimum { field: String, minimum: i64 },
    #[error("`{field}` must be at most {maximum}")]
    AboveMaximum { field: String, maximum: i64 },
    #[error("`{field}` must have at least {min} characters")]
    TooShort { field: String, min: u64 },
    #[error("`{field}` must have at most {max} characters")]
    TooLong { field: String, max: u64 },
    #[error("`{field}` does not match the pattern `{pattern}`")]
    PatternMismatch { field: String, pattern: String },
    #[error("`{field}` is measured after the fact and is not asked")]
    NotAsked { field: String },
}

impl Field {
    /// Checks a user's answer against the field. Integer answers of user-step fields count
    /// steps, as the form shows them.
    ///
    /// # Errors
    /// The first rule the answer breaks.
    pub fn check_answer(&self, value: &Value) -> Result<(), AnswerError> {
        let field = || self.name.clone();
        let wrong = |expected| AnswerError::WrongType {
            field: field(),
            expected,
        };
        match (&self.kind, value) {
            (FieldKind::Number, _) => Err(AnswerError::NotAsked { field: field() }),
            (FieldKind::IntegerConst(c), Value::Integer(v)) => {
                if c == v {
                    Ok(())
                } else {
                    Err(AnswerError::NotConst {
                        field: field(),
                        value: c.to_string(),
                    })
                }
            }
            (FieldKind::IntegerEnum { values, .. }, Value::Integer(v)) => {
                if values.contains(v) {
                    Ok(())
                } else {
                    Err(AnswerError::NotInEnum {
                        field: field(),
                        allowed: join(values.iter().map(ToString::to_string)),
                    })
                }
            }
            (
                FieldKind::IntegerRange {
                    minimum, maximum, ..
                },
                Value::Integer(v),
            ) => {
                let min = minimum.unwrap_or(0);
                if *v < min {
                    return Err(AnswerError::BelowMinimum {
                        field: field(),
                        minimum: min,
                    });
                }
                match maximum {
                    Some(max) if v > max => Err(AnswerError::AboveMaximum {
                        field: field(),
                        maximum: *max,
                    }),
                    _ => Ok(()),
                }
            }
            (
                FieldKind::IntegerConst(_)
                | FieldKind::IntegerEnum { .. }
                | FieldKind::IntegerRange { .. },
                _,
            ) => Err(wrong("an integer")),
            (FieldKind::StringConst(c), Value::String(v)) => {
                if c == v {
                    Ok(())
                } else {
                    Err(AnswerError::NotConst {
                        field: field(),
                        value: c.clone(),
                    })
                }
            }
            (FieldKind::StringEnum { values, .. }, Value::String(v)) => {
                if values.contains(v) {
                    Ok(())
                } else {
                    Err(AnswerError::NotInEnum {
                        field: field(),
                        allowed: join(values.iter().cloned()),
                    })
                }
            }
            (
                FieldKind::StringInput {
                    pattern,
                    min_length,
                    max_length,
                    ..
                },
                Value::String(v),
            ) => {
                let len = v.chars().count() as u64;
                if let Some(min) = min_length.filter(|m| len < *m) {
                    return Err(AnswerError::TooShort {
                        field: field(),
                        min,
                    });
                }
                if let Some(max) = max_length.filter(|m| len > *m) {
                    return Err(AnswerError::TooLong {
                        field: field(),
                        max,
                    });
                }
                if let Some(p) = pattern {
                    // A pattern that does not compile was reported when the package was checked;
                    // here it cannot match anything.
                    let matches = regex::Regex::new(p).is_ok_and(|re| re.is_match(v));
                    if !matches {
                        return Err(AnswerError::PatternMismatch {
                            field: field(),
                            pattern: p.clone(),
                        });
                    }
                }
                Ok(())
            }
            (FieldKind::Datasource(_), Value::String(v)) if !v.is_empty() => Ok(()),
            (
                FieldKind::StringConst(_)
                | FieldKind::StringEnum { .. }
                | FieldKind::StringInput { .. }
                | FieldKind::Datasource(_),
                _,
            ) => Err(wrong("a string")),
            (FieldKind::BooleanConst(c), Value::Bool(v)) => {
                if c == v {
                    Ok(())
                } else {
                    Err(AnswerError::NotConst {
                        field: field(),
                        value: c.to_string(),
                    })
                }
            }
            (FieldKind::BooleanSwitch { .. }, Value::Bool(_)) => Ok(()),
            (FieldKind::BooleanConst(_) | FieldKind::BooleanSwitch { .. }, _) => {
                Err(wrong("true or false"))
            }
        }
    }

    /// The value an answer stands for: `base + n × size` for a user-step field, the answer
    /// itself otherwise. `None` on overflow.
    pub fn effective_value(&self, value: &Value) -> Option<Value> {
        match (&self.kind, value) {
            (
                FieldKind::IntegerRange {
                    steps: Some(steps), ..
                },
                Value::Integer(n),
            ) => steps
                .base
                .checked_add(n.checked_mul(steps.size)?)
                .map(Value::Integer),
            _ => Some(value.clone()),
        }
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
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

    fn field(kind: FieldKind) -> Field {
        Field {
            name: "f".into(),
            label: "F".into(),
            hint: None,
            tag: None,
            actions: vec![Action::Create],
            kind,
        }
    }

    #[test]
    fn answers_are_checked() {
        let range = field(FieldKind::IntegerRange {
            default: 1,
            minimum: Some(1),
            maximum: Some(5),
            steps: Some(Steps {
                base: 10,
                size: 100,
            }),
        });
        assert_eq!(range.check_answer(&Value::Integer(3)), Ok(()));
        assert!(matches!(
            range.check_answer(&Value::Integer(0)),
            Err(AnswerError::BelowMinimum { minimum: 1, .. })
        ));
        assert!(matches!(
            range.check_answer(&Value::Integer(6)),
            Err(AnswerError::AboveMaximum { maximum: 5, .. })
        ));
        assert!(range.check_answer(&Value::String("3".into())).is_err());
        assert_eq!(
            range.effective_value(&Value::Integer(2)),
            Some(Value::Integer(210))
        );
        assert_eq!(range.effective_value(&Value::Integer(i64::MAX)), None);

        let input = field(FieldKind::StringInput {
            default: None,
            pattern: Some("^[a-z]+$".into()),
            min_length: Some(2),
            max_length: Some(4),
        });
        assert_eq!(input.check_answer(&Value::String("abc".into())), Ok(()));
        assert!(input.check_answer(&Value::String("a".into())).is_err());
        assert!(input.check_answer(&Value::String("abcde".into())).is_err());
        let err = input.check_answer(&Value::String("AB".into())).unwrap_err();
        assert_eq!(err.to_string(), "`f` does not match the pattern `^[a-z]+$`");

        let e = field(FieldKind::StringEnum {
            values: vec!["a".into(), "b".into()],
            default: "a".into(),
        });
        assert_eq!(
            e.check_answer(&Value::String("c".into()))
                .unwrap_err()
                .to_string(),
            "`f` must be one of `a`, `b`"
        );
        assert!(field(FieldKind::BooleanConst(true))
            .check_answer(&Value::Bool(false))
            .is_err());
        assert!(field(FieldKind::Number)
            .check_answer(&Value::Integer(1))
            .is_err());
    }
}
