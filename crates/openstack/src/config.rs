//! Cloud configuration the way python-openstackclient reads it: a cloud from `clouds.yaml`
//! (named by `OS_CLOUD` or the caller), with `secure.yaml` merged in, and `OS_*` environment
//! variables on top (as the CLI's own options default to them). With no cloud name the
//! configuration comes from `OS_*` alone.
//!
//! Files searched, first found wins: `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
//! `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml` (and the same for
//! `secure.yaml` with `OS_CLIENT_SECURE_FILE`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// A resolved cloud: where to authenticate, how, and which endpoints to use.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudConfig {
    /// The cloud's name in clouds.yaml (`None` when built from `OS_*` only).
    pub name: Option<String>,
    /// Keystone URL, with or without the `/v3` suffix (version discovery finds it).
    pub auth_url: String,
    pub auth: AuthMethod,
    /// `None`: take the first endpoint of the right type and interface in any region.
    pub region_name: Option<String>,
    /// `public` (default), `internal` or `admin`.
    pub interface: String,
    /// Verify TLS certificates (default true).
    pub verify: bool,
    /// Extra CA bundle (PEM).
    pub cacert: Option<PathBuf>,
    /// Service type → endpoint URL that replaces the catalog's (`image_endpoint_override`).
    pub endpoint_overrides: BTreeMap<String, String>,
}

/// How to authenticate with Keystone v3.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthMethod {
    Password {
        user: UserSpec,
        password: Secret,
        scope: ScopeSpec,
    },
    ApplicationCredential {
        /// By id; or by name together with `user`.
        id: Option<String>,
        name: Option<String>,
        user: Option<UserSpec>,
        secret: Secret,
    },
    Token {
        token: Secret,
        scope: ScopeSpec,
    },
}

/// A user by id, or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSpec {
    Id(String),
    Name { name: String, domain: DomainSpec },
}

/// A domain by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainSpec {
    Id(String),
    Name(String),
}

/// What the token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeSpec {
    /// No scope in the request (Keystone uses the user's default project, if any).
    Unscoped,
    ProjectId(String),
    ProjectName {
        name: String,
        domain: DomainSpec,
    },
    Domain(DomainSpec),
}

/// Where configuration is read from: the environment, the working directory and home.
/// [`ConfigSource::from_process`] takes them from this process; tests build their own.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub home: Option<PathBuf>,
}

impl ConfigSource {
    /// This process's environment, working directory and `$HOME`.
    pub fn from_process() -> Self {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("OS_") || k == "HOME")
            .collect();
        let home = env.get("HOME").map(PathBuf::from);
        Self {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home,
            env,
        }
    }

    fn var(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn search(&self, env_key: &str, file: &str) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        if let Some(explicit) = self.var(env_key) {
            paths.push(PathBuf::from(explicit));
        }
        paths.push(self.cwd.join(file));
        if let Some(home) = &self.home {
            paths.push(home.join(".config/openstack").join(file));
        }
        paths.push(Path::new("/etc/openstack").join(file));
        paths
    }
}

impl CloudConfig {
    /// Loads the cloud named `cloud` (or `OS_CLOUD`) from this process's environment and files.
    pub fn load(cloud: Option<&str>) -> Result<Self> {
        Self::load_from(&ConfigSource::from_process(), cloud)
    }

    /// Loads from an explicit [`ConfigSource`].
    pub fn load_from(source: &ConfigSource, cloud: Option<&str>) -> Result<Self> {
        let name = cloud
            .map(str::to_owned)
            .or_else(|| source.var("OS_CLOUD").map(str::to_owned));
        let mut values = Flat::default();
        if let Some(name) = &name {
            let (path, clouds) = read_first(
                &source.search("OS_CLIENT_CONFIG_FILE", "clouds.yaml"),
            )?
            .ok_or_else(|| Error::Config {
                message: format!(
                    "cloud `{name}` requested but no clouds.yaml found (looked at {})",
                    source
                        .search("OS_CLIENT_CONFIG_FILE", "clouds.yaml")
                        .iter()
                        .map(|p| format!("`{}`", p.display()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
            let entry = cloud_entry(&clouds, name).ok_or_else(|| {
                let known = cloud_names(&clouds);
                Error::Config {
                    message: format!(
                        "cloud `{name}` is not in `{}` (it has: {})",
                        path.display(),
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                }
            })?;
            values.merge_cloud(entry);
            if let Some((_, secure)) =
                read_first(&source.search("OS_CLIENT_SECURE_FILE", "secure.yaml"))?
            {
                if let Some(entry) = cloud_entry(&secure, name) {
                    values.merge_cloud(entry);
                }
            }
        }
        values.merge_env(source);
        values.resolve(name)
    }
}

// ---------------------------------------------------------------------------------------------

fn read_first(paths: &[PathBuf]) -> Result<Option<(PathBuf, serde_yaml::Value)>> {
    for path in paths {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let value: serde_yaml::Value =
                    serde_yaml::from_str(&text).map_err(|e| Error::ConfigFile {
                        path: path.clone(),
                        source: Box::new(e),
                    })?;
                return Ok(Some((path.clone(), value)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::ConfigFile {
                    path: path.clone(),
                    source: Box::new(e),
                })
            }
        }
    }
    Ok(None)
}

fn cloud_entry<'a>(doc: &'a serde_yaml::Value, name: &str) -> Option<&'a serde_yaml::Mapping> {
    doc.get("clouds")?.get(name)?.as_mapping()
}

fn cloud_names(doc: &serde_yaml::Value) -> Vec<String> {
    doc.get("clouds")
        .and_then(|c| c.as_mapping())
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn scalar(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Every setting as a flat string map (`auth.*` keys without the prefix, like openstacksdk).
#[derive(Debug, Default)]
struct Flat {
    values: BTreeMap<String, String>,
}

/// `OS_*` variable → setting name.
const ENV_KEYS: &[(&str, &str)] = &[
    ("OS_AUTH_URL", "auth_url"),
    ("OS_AUTH_TYPE", "auth_type"),
    ("OS_USERNAME", "username"),
    ("OS_USER_ID", "user_id"),
    ("OS_PASSWORD", "password"),
    ("OS_PROJECT_ID", "project_id"),
    ("OS_PROJECT_NAME", "project_name"),
    ("OS_TENANT_ID", "project_id"),
    ("OS_TENANT_NAME", "project_name"),
    ("OS_USER_DOMAIN_ID", "user_domain_id"),
    ("OS_USER_DOMAIN_NAME", "user_domain_name"),
    ("OS_PROJECT_DOMAIN_ID", "project_domain_id"),
    ("OS_PROJECT_DOMAIN_NAME", "project_domain_name"),
    ("OS_DOMAIN_ID", "domain_id"),
    ("OS_DOMAIN_NAME", "domain_name"),
    ("OS_DEFAULT_DOMAIN", "default_domain"),
    ("OS_APPLICATION_CREDENTIAL_ID", "application_credential_id"),
    (
        "OS_APPLICATION_CREDENTIAL_NAME",
        "application_credential_name",
    ),
    (
        "OS_APPLICATION_CREDENTIAL_SECRET",
        "application_credential_secret",
    ),
    ("OS_TOKEN", "token"),
    ("OS_REGION_NAME", "region_name"),
    ("OS_INTERFACE", "interface"),
    ("OS_ENDPOINT_TYPE", "interface"),
    ("OS_CACERT", "cacert"),
    ("OS_INSECURE", "insecure"),
    ("OS_IDENTITY_API_VERSION", "identity_api_version"),
];

impl Flat {
    fn set(&mut self, key: &str, value: String) {
        let key = match key {
            "tenant_id" => "project_id",
            "tenant_name" => "project_name",
            "endpoint_type" => "interface",
            other => other,
        };
        self.values.insert(key.to_owned(), value);
    }

    fn merge_cloud(&mut self, entry: &serde_yaml::Mapping) {
        for (key, value) in entry {
            let Some(key) = key.as_str() else { continue };
            match key {
                "auth" => {
                    if let Some(auth) = value.as_mapping() {
                        for (k, v) in auth {
                            if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                                self.set(k, v);
                            }
                        }
                    }
                }
                "regions" => {
                    let first = value
                        .as_sequence()
                        .and_then(|s| s.first())
                        .and_then(|r| scalar(r).or_else(|| r.get("name").and_then(scalar)));
                    if let Some(region) = first {
                        self.values.entry("region_name".into()).or_insert(region);
                    }
                }
                _ => {
                    if let Some(v) = scalar(value) {
                        self.set(key, v);
                    }
                }
            }
        }
    }

    fn merge_env(&mut self, source: &ConfigSource) {
        for (var, key) in ENV_KEYS {
            if let Some(value) = source.var(var) {
                self.set(key, value.to_owned());
            }
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn owned(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    fn domain(&self, prefix: &str) -> Option<DomainSpec> {
        self.owned(&format!("{prefix}domain_id"))
            .map(DomainSpec::Id)
            .or_else(|| {
                self.owned(&format!("{prefix}domain_name"))
                    .map(DomainSpec::Name)
            })
    }

    fn resolve(self, name: Option<String>) -> Result<CloudConfig> {
        let auth_url = self.owned("auth_url").ok_or_else(|| Error::Config {
            message: match &name {
                Some(n) => format!("cloud `{n}` has no `auth_url`"),
                None => "no cloud selected: set `OS_CLOUD` (with a clouds.yaml) or `OS_AUTH_URL` and the other `OS_*` variables".to_owned(),
            },
        })?;
        if let Some(version) = self.get("identity_api_version") {
            if !version.starts_with('3') {
                return Err(Error::Config {
                    message: format!(
                        "identity API version `{version}` is not supported; only 3 is"
                    ),
                });
            }
        }
        // Domain defaults: `domain_*` then `default_domain` (python-openstackclient: `default`).
        let fallback_domain = self.domain("").unwrap_or_else(|| {
            DomainSpec::Id(
                self.owned("default_domain")
                    .unwrap_or_else(|| "default".into()),
            )
        });
        let user_domain = self
            .domain("user_")
            .unwrap_or_else(|| fallback_domain.clone());
        let project_domain = self
            .domain("project_")
            .unwrap_or_else(|| fallback_domain.clone());

        let scope = if let Some(id) = self.owned("project_id") {
            ScopeSpec::ProjectId(id)
        } else if let Some(name) = self.owned("project_name") {
            ScopeSpec::ProjectName {
                name,
                domain: project_domain,
            }
        } else if let Some(domain) = self.domain("") {
            ScopeSpec::Domain(domain)
        } else {
            ScopeSpec::Unscoped
        };
        let user = self.owned("user_id").map(UserSpec::Id).or_else(|| {
            self.owned("username").map(|name| UserSpec::Name {
                name,
                domain: user_domain,
            })
        });

        let auth_type = self
            .get("auth_type")
            .map(|t| t.to_ascii_lowercase().replace('-', "_"));
        let auth_type = auth_type.as_deref().unwrap_or_else(|| {
            if self.get("application_credential_secret").is_some() {
                "v3applicationcredential"
            } else if self.get("token").is_some() && self.get("password").is_none() {
                "v3token"
            } else {
                "password"
            }
        });
        let auth = match auth_type {
            "password" | "v3password" => AuthMethod::Password {
                user: user.ok_or_else(|| Error::Config {
                    message: "password authentication needs `username` or `user_id` (`OS_USERNAME`)".into(),
                })?,
                password: Secret::new(self.owned("password").ok_or_else(|| Error::Config {
                    message: "password authentication needs `password` (`OS_PASSWORD`)".into(),
                })?),
                scope,
            },
            "v3applicationcredential" | "applicationcredential" | "v3_application_credential" => {
                let id = self.owned("application_credential_id");
                let cred_name = self.owned("application_credential_name");
                if id.is_none() && (cred_name.is_none() || user.is_none()) {
                    return Err(Error::Config {
                        message: "application credential authentication needs `application_credential_id`, or `application_credential_name` with `username`/`user_id`".into(),
                    });
                }
                AuthMethod::ApplicationCredential {
                    id,
                    name: cred_name,
                    user,
                    secret: Secret::new(self.owned("application_credential_secret").ok_or_else(
                        || Error::Config {
                            message: "application credential authentication needs `application_credential_secret` (`OS_APPLICATION_CREDENTIAL_SECRET`)".into(),
                        },
                    )?),
                }
            }
            "token" | "v3token" => AuthMethod::Token {
                token: Secret::new(self.owned("token").ok_or_else(|| Error::Config {
                    message: "token authentication needs `token` (`OS_TOKEN`)".into(),
                })?),
                scope,
            },
            other => {
                return Err(Error::Config {
                    message: format!("auth type `{other}` is not supported (use `password`, `v3applicationcredential` or `v3token`)"),
                })
            }
        };

        let interface = self
            .get("interface")
            .map(|i| i.trim_end_matches("URL").to_ascii_lowercase())
            .unwrap_or_else(|| "public".into());
        let insecure = self.get("insecure").map(truthy).unwrap_or(false);
        let verify = self.get("verify").map(truthy).unwrap_or(true) && !insecure;
        let mut endpoint_overrides = BTreeMap::new();
        for (key, value) in &self.values {
            if let Some(service) = key.strip_suffix("_endpoint_override") {
                endpoint_overrides.insert(
                    crate::catalog::canonical_service_type(service).to_owned(),
                    value.clone(),
                );
            }
        }
        Ok(CloudConfig {
            name,
            auth_url,
            auth,
            region_name: self.owned("region_name"),
            interface,
            verify,
            cacert: self.owned("cacert").map(PathBuf::from),
            endpoint_overrides,
        })
    }
}

fn truthy(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, env: &[(&str, &str)]) -> ConfigSource {
        ConfigSource {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cwd: dir.to_path_buf(),
            home: Some(dir.join("home")),
        }
    }

    #[test]
    fn env_only_password_by_project_name_defaults_domains_to_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = CloudConfig::load_from(
            &source(
                dir.path(),
                &[
                    ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
                    ("OS_USERNAME", "admin"),
                    ("OS_PASSWORD", "pw"),
                    ("OS_PROJECT_NAME", "admin"),
                ],
            ),
            None,
        )
        .unwrap();
        assert_eq!(
            config.auth,
            AuthMethod::Password {
                user: UserSpec::Name {
                    name: "admin".into(),
                    domain: DomainSpec::Id("default".into())
                },
                password: Secret::new("pw"),
                scope: ScopeSpec::ProjectName {
                    name: "admin".into(),
                    domain: DomainSpec::Id("default".into())
                },
            }
        );
        assert_eq!(config.interface, "public");
        assert!(!format!("{config:?}").contains("pw\""));
    }

    #[test]
    fn clouds_yaml_from_cwd_with_secure_yaml_and_env_override() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("clouds.yaml"),
            "clouds:\n  vk:\n    auth:\n      auth_url: https://infra.example/identity/v3/\n      username: u@example.com\n      project_id: 0123abc\n      user_domain_name: users\n    region_name: RegionOne\n    interface: public\n    identity_api_version: 3\n    image_endpoint_override: http://127.0.0.1:9292\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("home/.config/openstack")).unwrap();
        std::fs::write(
            dir.path().join("home/.config/openstack/secure.yaml"),
            "clouds:\n  vk:\n    auth:\n      password: from-secure\n",
        )
        .unwrap();
        let config = CloudConfig::load_from(
            &source(
                dir.path(),
                &[("OS_CLOUD", "vk"), ("OS_REGION_NAME", "RegionTwo")],
            ),
            None,
        )
        .unwrap();
        assert_eq!(config.name.as_deref(), Some("vk"));
        assert_eq!(config.region_name.as_deref(), Some("RegionTwo"));
        assert_eq!(config.endpoint_overrides["image"], "http://127.0.0.1:9292");
        match config.auth {
            AuthMethod::Password {
                user,
                password,
                scope,
            } => {
                assert_eq!(
                    user,
                    UserSpec::Name {
                        name: "u@example.com".into(),
                        domain: DomainSpec::Name("users".into())
                    }
                );
                assert_eq!(password.expose(), "from-secure");
                assert_eq!(scope, ScopeSpec::ProjectId("0123abc".into()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn client_config_file_wins_and_unknown_cloud_lists_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("elsewhere.yaml");
        std::fs::write(
            &file,
            "clouds:\n  a:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: http://x/v3\n      application_credential_id: ac\n      application_credential_secret: s\n",
        )
        .unwrap();
        let src = source(
            dir.path(),
            &[("OS_CLIENT_CONFIG_FILE", file.to_str().unwrap())],
        );
        let config = CloudConfig::load_from(&src, Some("a")).unwrap();
        assert!(
            matches!(config.auth, AuthMethod::ApplicationCredential { ref id, .. } if id.as_deref() == Some("ac"))
        );
        let error = CloudConfig::load_from(&src, Some("b")).unwrap_err();
        assert!(error.to_string().contains("it has: a"), "{error}");
    }

    #[test]
    fn token_auth_and_missing_settings() {
        let dir = tempfile::tempdir().unwrap();
        let config = CloudConfig::load_from(
            &source(
                dir.path(),
                &[
                    ("OS_AUTH_URL", "http://x/v3"),
                    ("OS_TOKEN", "tok"),
                    ("OS_PROJECT_ID", "p"),
                    ("OS_INTERFACE", "internalURL"),
                ],
            ),
            None,
        )
        .unwrap();
        assert!(matches!(config.auth, AuthMethod::Token { .. }));
        assert_eq!(config.interface, "internal");
        let error = CloudConfig::load_from(&source(dir.path(), &[]), None).unwrap_err();
        assert!(error.to_string().contains("OS_CLOUD"), "{error}");
    }
}
