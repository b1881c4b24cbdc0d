//! The YAML a form produces (`deployment-info`), built as a YAML document with `serde_yaml`,
//! never by pasting strings; and the same document with secrets masked for display.

use base64::Engine as _;
use serde_yaml::{Mapping, Value};

use super::eval::FormState;
use super::{App, Form, Mode, SdfValue, VarType};

/// What a masked secret reads.
pub const MASK: &str = "********";

/// Credentials of a feature the system created for the VM (`vm-db`, `logs`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredFeature {
    /// The key under `features` (`vm-key-value-storage`, `log-storage`, …).
    pub key: String,
    pub endpoint: String,
    pub name: String,
    pub secret: String,
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// A variable's value as YAML: multiline text as a list of lines (or base64 when asked),
/// passwords masked when `mask`.
fn value_yaml(ty: &VarType, v: &SdfValue, mask: bool) -> Value {
    match (ty, v) {
        (_, SdfValue::Null) => Value::Null,
        (VarType::Password { .. }, _) if mask => s(MASK),
        (
            VarType::String {
                multiline: true,
                base64,
                ..
            },
            SdfValue::String(text),
        ) => {
            if *base64 {
                s(&base64::engine::general_purpose::STANDARD.encode(text.as_bytes()))
            } else {
                Value::Sequence(text.lines().map(s).collect())
            }
        }
        (_, v) => plain_yaml(v),
    }
}

fn plain_yaml(v: &SdfValue) -> Value {
    match v {
        SdfValue::Null => Value::Null,
        SdfValue::Bool(b) => Value::Bool(*b),
        SdfValue::Int(i) => Value::Number((*i).into()),
        SdfValue::Float(f) => Value::Number((*f).into()),
        SdfValue::String(t) => s(t),
        SdfValue::List(items) => Value::Sequence(items.iter().map(plain_yaml).collect()),
    }
}

impl Form {
    /// `variables:` of the output: every variable but sections, in declaration order, inactive
    /// ones null.
    pub fn variables_yaml(&self, state: &FormState, mask: bool) -> Mapping {
        let mut out = Mapping::new();
        for (var, field) in self.variables.iter().zip(&state.fields) {
            if matches!(var.ty, VarType::Section) {
                continue;
            }
            out.insert(s(&var.name), value_yaml(&var.ty, &field.value, mask));
        }
        out
    }
}

/// The whole configuration of an application (seed 004 `deployment-info`): transferred
/// attributes, the manifest in base64, the features' credentials, `deployment-progress` and
/// the variables. With `mask`, passwords and feature secrets read [`MASK`] (the form's YAML
/// tab).
pub fn deployment_info(
    app: &App,
    manifest_text: Option<&str>,
    state: &FormState,
    features: &[DeliveredFeature],
    mask: bool,
) -> Value {
    let mut info = Mapping::new();
    if let Some(schema) = &app.manifest_schema {
        info.insert(s("manifest-schema"), s(schema));
    }
    if let Some(schema) = &app.userdata_schema {
        info.insert(s("userdata-schema"), s(schema));
    }
    if let Some(engine) = app.engine {
        info.insert(s("engine"), s(engine.as_str()));
    }
    info.insert(s("source"), s(&app.source));
    info.insert(s("mode"), s(app.mode.as_str()));
    if let Some(text) = manifest_text {
        info.insert(
            s("application-manifest"),
            s(&base64::engine::general_purpose::STANDARD.encode(text.as_bytes())),
        );
    }
    if !features.is_empty() {
        let mut fm = Mapping::new();
        for f in features {
            let mut one = Mapping::new();
            one.insert(s("endpoint"), s(&f.endpoint));
            one.insert(s("name"), s(&f.name));
            one.insert(s("secret"), s(if mask { MASK } else { &f.secret }));
            fm.insert(s(&f.key), Value::Mapping(one));
        }
        info.insert(s("features"), Value::Mapping(fm));
    }
    if !app.deployment_progress.is_empty() {
        let dp: Mapping = app
            .deployment_progress
            .iter()
            .map(|(k, v)| (s(k), s(v)))
            .collect();
        info.insert(s("deployment-progress"), Value::Mapping(dp));
    }
    info.insert(
        s("variables"),
        Value::Mapping(app.form.variables_yaml(state, mask)),
    );
    let mut root = Mapping::new();
    root.insert(s("deployment-info"), Value::Mapping(info));
    Value::Mapping(root)
}

/// USERDATA of the `kvs` and `ota+kvs` modes: only how to reach the configuration (the KV
/// store's credentials, or the one-time token and where to redeem it). `None` for `raw`.
pub fn pointer_userdata(mode: Mode, endpoint: &str, name: &str, secret: &str) -> Option<Value> {
    let mut inner = Mapping::new();
    inner.insert(s("endpoint"), s(endpoint));
    let key = match mode {
        Mode::Raw => return None,
        Mode::Kvs => {
            inner.insert(s("name"), s(name));
            inner.insert(s("secret"), s(secret));
            "kvs"
        }
        Mode::OtaKvs => {
            inner.insert(s("token"), s(secret));
            "ota+kvs"
        }
    };
    let mut info = Mapping::new();
    info.insert(s("mode"), s(mode.as_str()));
    info.insert(s(key), Value::Mapping(inner));
    let mut root = Mapping::new();
    root.insert(s("deployment-info"), Value::Mapping(info));
    Some(Value::Mapping(root))
}

/// A YAML value as text (the library's emitter; quoting of special characters is its job).
pub fn to_yaml_text(v: &Value) -> String {
    // Serializing a `serde_yaml::Value` cannot fail: every key is a scalar we made.
    serde_yaml::to_string(v).unwrap_or_default()
}

/// Flattens a YAML value into `a.b.c` keys (list items by index), the way the KV store holds
/// a configuration. Leaves are scalars or null.
pub fn flatten(v: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    walk(v, String::new(), &mut out);
    out
}

fn walk(v: &Value, prefix: String, out: &mut Vec<(String, Value)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            for (k, val) in m {
                let key = match k {
                    Value::String(t) => t.clone(),
                    other => to_yaml_text(other).trim_end().to_owned(),
                };
                walk(val, join(&key), out);
            }
        }
        Value::Sequence(items) if !items.is_empty() => {
            for (i, val) in items.iter().enumerate() {
                walk(val, join(&i.to_string()), out);
            }
        }
        Value::Tagged(t) => walk(&t.value, prefix, out),
        leaf => out.push((prefix, leaf.clone())),
    }
}
