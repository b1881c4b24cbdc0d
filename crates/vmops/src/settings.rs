//! Settings in the seed's `.env` form (`GPU_FLAVOR_ID`, `DISK_SIZE_GB`, …): from flags, then the
//! process environment, then a `.env` file, then the defaults of the seed's `.env.example`.
//! The `.env` file may also hold the cloud's `OS_*` variables; [`cloud_source`] hands them to the
//! client under the process's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use vitrina_openstack::ConfigSource;

use crate::error::{Error, Result};

/// Every setting: its variable, its flag, and its default (`None`: no default).
pub const SETTINGS: &[(&str, &str, Option<&str>)] = &[
    ("GPU_FLAVOR_ID", "gpu-flavor-id", None),
    ("SETUP_FLAVOR_ID", "setup-flavor-id", None),
    ("DISK_SIZE_GB", "disk-size-gb", Some("10")),
    ("DISK_TYPE", "disk-type", None),
    ("NETWORK_NAME", "network-name", Some("net")),
    ("SUBNET_CIDR", "subnet-cidr", Some("192.168.0.0/24")),
    (
        "EXTERNAL_NETWORK",
        "external-network",
        Some("external-network"),
    ),
    ("ROUTER_NAME", "router-name", Some("router")),
    ("ALLOCATE_FLOATING_IP", "allocate-floating-ip", Some("true")),
    ("SECURITY_GROUP", "security-group", Some("default")),
    (
        "SSH_KEY_FILE",
        "ssh-key-file",
        Some("~/.ssh/id_ed25519.pub"),
    ),
    ("SSH_KEY_NAME", "ssh-key-name", Some("ansible-key")),
    ("BASE_IMAGE_NAME", "base-image-name", None),
    ("OS_REGION_NAME", "region", None),
    ("OS_AVAILABILITY_ZONE", "availability-zone", None),
];

/// The resolved settings of a `vitrina cloud` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub gpu_flavor_id: Option<String>,
    pub setup_flavor_id: Option<String>,
    pub disk_size_gb: u64,
    pub disk_type: Option<String>,
    pub network_name: String,
    pub subnet_cidr: String,
    pub external_network: String,
    pub router_name: String,
    pub allocate_floating_ip: bool,
    pub security_group: String,
    pub ssh_key_file: PathBuf,
    pub ssh_key_name: String,
    pub base_image_name: Option<String>,
    pub region: Option<String>,
    pub availability_zone: Option<String>,
}

/// Where settings come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Values given as flags, by variable name (`DISK_SIZE_GB` → `20`).
    pub flags: BTreeMap<String, String>,
    /// The process environment.
    pub env: BTreeMap<String, String>,
    /// The `.env` file's variables (see [`read_env_file`]).
    pub file: BTreeMap<String, String>,
    /// `$HOME`, for `~/` in `SSH_KEY_FILE`.
    pub home: Option<PathBuf>,
}

impl Sources {
    /// The first non-empty value of `name`: flag, environment, file.
    pub fn get(&self, name: &str) -> Option<&str> {
        [&self.flags, &self.env, &self.file]
            .into_iter()
            .filter_map(|m| m.get(name))
            .map(|v| v.trim())
            .find(|v| !v.is_empty())
    }
}

impl Settings {
    /// Merges the sources over the defaults and checks each value's form.
    pub fn resolve(sources: &Sources) -> Result<Settings> {
        let value = |name: &str| -> Option<String> {
            sources.get(name).map(str::to_owned).or_else(|| {
                SETTINGS
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .and_then(|(_, _, d)| d.map(str::to_owned))
            })
        };
        let text = |name: &'static str| value(name).unwrap_or_default();
        let disk_size_gb = match value("DISK_SIZE_GB") {
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(Error::InvalidSetting {
                    name: "DISK_SIZE_GB",
                    value: v,
                    expected: "a whole number of GB above 0",
                })?,
            None => 10,
        };
        let allocate_floating_ip = match value("ALLOCATE_FLOATING_IP") {
            Some(v) => parse_bool(&v).ok_or(Error::InvalidSetting {
                name: "ALLOCATE_FLOATING_IP",
                value: v,
                expected: "`true` or `false`",
            })?,
            None => true,
        };
        let key_file = text("SSH_KEY_FILE");
        let ssh_key_file = match (key_file.strip_prefix("~/"), &sources.home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(&key_file),
        };
        Ok(Settings {
            gpu_flavor_id: value("GPU_FLAVOR_ID"),
            setup_flavor_id: value("SETUP_FLAVOR_ID"),
            disk_size_gb,
            disk_type: value("DISK_TYPE"),
            network_name: text("NETWORK_NAME"),
            subnet_cidr: text("SUBNET_CIDR"),
            external_network: text("EXTERNAL_NETWORK"),
            router_name: text("ROUTER_NAME"),
            allocate_floating_ip,
            security_group: text("SECURITY_GROUP"),
            ssh_key_file,
            ssh_key_name: text("SSH_KEY_NAME"),
            base_image_name: value("BASE_IMAGE_NAME"),
            region: value("OS_REGION_NAME"),
            availability_zone: value("OS_AVAILABILITY_ZONE"),
        })
    }

    /// The flavor for a VM: the setup flavor (no GPU) or the GPU flavor.
    pub fn flavor(&self, setup: bool) -> Result<&str> {
        let (value, name, flag) = if setup {
            (&self.setup_flavor_id, "SETUP_FLAVOR_ID", "setup-flavor-id")
        } else {
            (&self.gpu_flavor_id, "GPU_FLAVOR_ID", "gpu-flavor-id")
        };
        value.as_deref().ok_or(Error::MissingSetting { name, flag })
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// The cloud client's configuration source: the process's `OS_*` over the `.env` file's.
pub fn cloud_source(sources: &Sources, cwd: &Path) -> ConfigSource {
    let mut env: BTreeMap<String, String> = sources
        .file
        .iter()
        .filter(|(k, _)| k.starts_with("OS_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in &sources.env {
        if k.starts_with("OS_") || k == "HOME" {
            env.insert(k.clone(), v.clone());
        }
    }
    if let Some(region) = sources.flags.get("OS_REGION_NAME") {
        env.insert("OS_REGION_NAME".into(), region.clone());
    }
    ConfigSource {
        env,
        cwd: cwd.to_owned(),
        home: sources.home.clone(),
    }
}

/// Reads a `.env` file: `KEY=VALUE` lines, `export KEY=VALUE`, `#` comments (whole lines, and
/// after unquoted values), values in single or double quotes. Errors name `file:line:col`.
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "cannot read",
        path: path.to_owned(),
        source,
    })?;
    parse_env(path, &text)
}

/// Parses `.env` text (see [`read_env_file`]).
pub fn parse_env(path: &Path, text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let err = |column: usize, message: String| Error::EnvSyntax {
            path: path.to_owned(),
            line: line_no,
            column,
            message,
        };
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (line, indent) = match line.strip_prefix("export ") {
            Some(rest) => (rest.trim_start(), raw.len() - rest.trim_start().len()),
            None => (line, indent),
        };
        let Some(eq) = line.find('=') else {
            return Err(err(indent + 1, "expected `KEY=VALUE`".into()));
        };
        let key = line.get(..eq).unwrap_or_default().trim_end();
        let key_ok = !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !key.starts_with(|c: char| c.is_ascii_digit());
        if !key_ok {
            return Err(err(
                indent + 1,
                format!("`{key}` is not a variable name (letters, digits and `_`)"),
            ));
        }
        let rest = line.get(eq + 1..).unwrap_or_default();
        let value_col = indent + eq + 2 + (rest.len() - rest.trim_start().len());
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = rest.get(1..).unwrap_or_default();
                let Some(end) = body.find(q) else {
                    return Err(err(value_col, format!("unterminated {q}-quoted value")));
                };
                let inner = body.get(..end).unwrap_or_default();
                let after = body.get(end + 1..).unwrap_or_default().trim();
                if !(after.is_empty() || after.starts_with('#')) {
                    return Err(err(
                        value_col + end + 2,
                        "unexpected text after the quoted value".into(),
                    ));
                }
                if q == '"' {
                    inner
                        .replace("\\n", "\n")
                        .replace("\\\"", "\"")
                        .replace("\\\\", "\\")
                } else {
                    inner.to_owned()
                }
            }
            _ => {
                // An unquoted value ends at ` #` (a comment) or the end of the line.
                let end = rest.find(" #").or_else(|| rest.find("\t#"));
                let v = match end {
                    Some(e) => rest.get(..e).unwrap_or_default(),
                    None if rest.starts_with('#') => "",
                    None => rest,
                };
                v.trim().to_owned()
            }
        };
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_in_the_seeds_form() {
        let text = "# === VM ===\nGPU_FLAVOR_ID=                  # from list-flavors\nDISK_SIZE_GB=10\nDISK_TYPE=universal             # universal / fast / basic\nexport SSH_KEY_NAME='ansible key'\nOS_PASSWORD=\"p#ss\"\n";
        let env = parse_env(Path::new(".env"), text).unwrap();
        assert_eq!(env["GPU_FLAVOR_ID"], "");
        assert_eq!(env["DISK_SIZE_GB"], "10");
        assert_eq!(env["DISK_TYPE"], "universal");
        assert_eq!(env["SSH_KEY_NAME"], "ansible key");
        assert_eq!(env["OS_PASSWORD"], "p#ss");
    }

    #[test]
    fn env_file_errors_name_line_and_column() {
        let e = parse_env(Path::new(".env"), "A=1\n  NOEQUALS\n").unwrap_err();
        assert_eq!(e.to_string(), ".env:2:3: expected `KEY=VALUE`");
        let e = parse_env(Path::new(".env"), "A=\"open\n").unwrap_err();
        assert_eq!(e.to_string(), ".env:1:3: unterminated \"-quoted value");
    }

    #[test]
    fn flags_win_over_environment_over_file_over_defaults() {
        let mut s = Sources::default();
        s.file.insert("DISK_SIZE_GB".into(), "20".into());
        s.file.insert("NETWORK_NAME".into(), "file-net".into());
        s.env.insert("NETWORK_NAME".into(), "env-net".into());
        s.flags.insert("ROUTER_NAME".into(), "flag-router".into());
        s.env.insert("ROUTER_NAME".into(), "env-router".into());
        s.home = Some(PathBuf::from("/home/u"));
        let r = Settings::resolve(&s).unwrap();
        assert_eq!(r.disk_size_gb, 20);
        assert_eq!(r.network_name, "env-net");
        assert_eq!(r.router_name, "flag-router");
        assert_eq!(r.subnet_cidr, "192.168.0.0/24");
        assert_eq!(r.ssh_key_file, PathBuf::from("/home/u/.ssh/id_ed25519.pub"));
        assert!(r.allocate_floating_ip);
        assert!(matches!(
            r.flavor(false),
            Err(Error::MissingSetting {
                name: "GPU_FLAVOR_ID",
                ..
            })
        ));
        s.env.insert("ALLOCATE_FLOATING_IP".into(), "maybe".into());
        assert!(Settings::resolve(&s).is_err());
    }
}
