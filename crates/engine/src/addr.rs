//! Typed addresses: resources (`null_resource.a`, `data.null_data_source.b`) and their instances
//! (`null_resource.a[0]`, `null_resource.a["k"]`). Every noun of the engine (configuration,
//! plan, state) is joined over these.

use std::fmt;

/// Managed resources change things; data sources only read.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ResourceMode {
    Managed,
    Data,
}

/// A resource block's address: the module instance it is in, mode, type and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAddr {
    /// The module instance path (`module.net["a"].module.sub`), empty in the root module.
    pub module: String,
    pub mode: ResourceMode,
    pub type_name: String,
    pub name: String,
}

impl ResourceAddr {
    pub fn managed(type_name: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceAddr {
            module: String::new(),
            mode: ResourceMode::Managed,
            type_name: type_name.into(),
            name: name.into(),
        }
    }

    pub fn data(type_name: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceAddr {
            module: String::new(),
            mode: ResourceMode::Data,
            type_name: type_name.into(),
            name: name.into(),
        }
    }

    pub fn instance(&self, key: InstanceKey) -> InstanceAddr {
        InstanceAddr {
            resource: self.clone(),
            key,
        }
    }

    /// The provider's local name implied by the type: the part before the first `_`.
    pub fn implied_provider(&self) -> &str {
        self.type_name
            .split_once('_')
            .map_or(self.type_name.as_str(), |(p, _)| p)
    }

    /// The same resource in module instance `module`.
    #[must_use]
    pub fn in_module(mut self, module: impl Into<String>) -> Self {
        self.module = module.into();
        self
    }

    /// Parses `type.name` or `data.type.name`, optionally after a module instance path
    /// (`module.a["k"].module.b[0].type.name`).
    pub fn parse(s: &str) -> Option<ResourceAddr> {
        let (module, rest) = split_module_path(s)?;
        let parts: Vec<&str> = rest.split('.').collect();
        let addr = match parts.as_slice() {
            ["data", t, n] => ResourceAddr::data(*t, *n),
            [t, n] => ResourceAddr::managed(*t, *n),
            _ => return None,
        };
        Some(addr.in_module(module))
    }
}

/// Splits a leading module instance path (`module.a["x.y"].module.b.`) off `s`.
fn split_module_path(s: &str) -> Option<(&str, &str)> {
    let mut pos = 0;
    while s[pos..].starts_with("module.") {
        let mut i = pos + "module.".len();
        let bytes = s.as_bytes();
        while i < bytes.len() && bytes[i] != b'.' && bytes[i] != b'[' {
            i += 1;
        }
        if bytes.get(i) == Some(&b'[') {
            // A key: a number or a JSON string (which may hold `.` and `]`).
            let rest = &s[i + 1..];
            let len = if rest.starts_with('"') {
                let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
                de.next()?.ok()?;
                de.byte_offset()
            } else {
                rest.find(']')?
            };
            i += 1 + len;
            if bytes.get(i) != Some(&b']') {
                return None;
            }
            i += 1;
        }
        if bytes.get(i) != Some(&b'.') {
            return None;
        }
        pos = i + 1;
    }
    let module = if pos == 0 { "" } else { &s[..pos - 1] };
    Some((module, &s[pos..]))
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_empty() {
            write!(f, "{}.", self.module)?;
        }
        if self.mode == ResourceMode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

/// Which instance of a resource: none (no `count`/`for_each`), a `count` index or a `for_each`
/// key. Ordered: none, then integers, then strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKey {
    None,
    Int(i64),
    Str(String),
}

impl InstanceKey {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            InstanceKey::None => serde_json::Value::Null,
            InstanceKey::Int(i) => serde_json::Value::from(*i),
            InstanceKey::Str(s) => serde_json::Value::from(s.clone()),
        }
    }

    pub fn from_json(v: &serde_json::Value) -> Option<InstanceKey> {
        match v {
            serde_json::Value::Null => Some(InstanceKey::None),
            serde_json::Value::Number(n) => n.as_i64().map(InstanceKey::Int),
            serde_json::Value::String(s) => Some(InstanceKey::Str(s.clone())),
            _ => None,
        }
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::None => Ok(()),
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// One instance of a resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceAddr {
    pub resource: ResourceAddr,
    pub key: InstanceKey,
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.resource, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_terraform() {
        let r = ResourceAddr::managed("vkcs_compute_instance", "vm");
        assert_eq!(
            r.instance(InstanceKey::Int(0)).to_string(),
            "vkcs_compute_instance.vm[0]"
        );
        let d = ResourceAddr::data("null_data_source", "x");
        assert_eq!(
            d.instance(InstanceKey::Str("a".into())).to_string(),
            "data.null_data_source.x[\"a\"]"
        );
        assert_eq!(
            d.instance(InstanceKey::None).to_string(),
            "data.null_data_source.x"
        );
        assert_eq!(
            ResourceAddr::parse("data.a_b.c"),
            Some(d.clone()).map(|_| ResourceAddr::data("a_b", "c"))
        );
        assert_eq!(r.implied_provider(), "vkcs");
    }

    #[test]
    fn module_paths_render_and_parse_back() {
        let r =
            ResourceAddr::managed("null_resource", "y").in_module("module.a[\"x.y]\"].module.b[0]");
        let text = r.instance(InstanceKey::Int(1)).to_string();
        assert_eq!(text, "module.a[\"x.y]\"].module.b[0].null_resource.y[1]");
        assert_eq!(ResourceAddr::parse(&r.to_string()), Some(r));
        assert_eq!(
            ResourceAddr::parse("module.a.data.t_x.n").map(|a| a.mode),
            Some(ResourceMode::Data)
        );
        assert_eq!(ResourceAddr::parse("module.a["), None);
    }
}
