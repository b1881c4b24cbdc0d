//! The `provider "vkcs" { … }` block and how it becomes an OpenStack cloud configuration.
//!
//! Settings in the block win. What the block leaves out comes from the OpenStack cloud named by
//! `OS_CLOUD` (or the block's `cloud`) in clouds.yaml, then from `OS_*` variables, read by the
//! `openstack` client's loader exactly like python-openstackclient does. When nothing names an
//! identity URL at all, VK's own defaults apply: `https://msk.cloud.vk.com/infra/identity/v3/`
//! with user domain `users`.

use vitrina_engine::provider::{ProviderError, Schema};
use vitrina_engine::Value;
use vitrina_openstack::{CloudConfig, ConfigSource};

use super::util::{b, boolean, o, s, string};

/// VK Cloud's identity endpoint, used when nothing else names one.
pub const VK_AUTH_URL: &str = "https://msk.cloud.vk.com/infra/identity/v3/";
/// VK Cloud's user domain, used together with [`VK_AUTH_URL`].
pub const VK_USER_DOMAIN: &str = "users";
/// The region reported when the configuration names none.
pub const DEFAULT_REGION: &str = "RegionOne";

/// Block attribute → the `OS_*` variable it stands for.
const BLOCK_TO_ENV: &[(&str, &str)] = &[
    ("auth_url", "OS_AUTH_URL"),
    ("username", "OS_USERNAME"),
    ("user_id", "OS_USER_ID"),
    ("password", "OS_PASSWORD"),
    ("project_id", "OS_PROJECT_ID"),
    ("project_name", "OS_PROJECT_NAME"),
    ("region", "OS_REGION_NAME"),
    ("user_domain_id", "OS_USER_DOMAIN_ID"),
    ("user_domain_name", "OS_USER_DOMAIN_NAME"),
    ("project_domain_id", "OS_PROJECT_DOMAIN_ID"),
    ("project_domain_name", "OS_PROJECT_DOMAIN_NAME"),
    ("application_credential_id", "OS_APPLICATION_CREDENTIAL_ID"),
    (
        "application_credential_secret",
        "OS_APPLICATION_CREDENTIAL_SECRET",
    ),
    ("token", "OS_TOKEN"),
    ("cacert_file", "OS_CACERT"),
];

/// Errors in the provider's configuration (never holding a secret's value).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot find the OpenStack cloud for `vkcs`; set `auth_url`, `username`, `password` and `project_id` in the provider block, or `OS_CLOUD` with a clouds.yaml, or the `OS_*` variables")]
    Load(#[source] vitrina_openstack::Error),
    #[error("cannot build the OpenStack client for `vkcs`")]
    Client(#[source] vitrina_openstack::Error),
}

impl From<ConfigError> for ProviderError {
    fn from(e: ConfigError) -> Self {
        let message = e.to_string();
        match e {
            ConfigError::Load(source) | ConfigError::Client(source) => {
                ProviderError::with_source(message, source)
            }
        }
    }
}

/// The schema of the `provider "vkcs"` block.
pub fn provider_schema() -> Schema {
    let mut schema = Schema::new();
    for (name, _) in BLOCK_TO_ENV {
        let mut a = o(string());
        if matches!(
            *name,
            "password" | "application_credential_secret" | "token"
        ) {
            a = a.sensitive();
        }
        schema = schema.attr(name, a);
    }
    schema
        .attr(
            "cloud",
            o(string()).describe("a cloud in clouds.yaml (default: `OS_CLOUD`)"),
        )
        .attr(
            "insecure",
            o(boolean()).describe("skip TLS certificate verification"),
        )
        .attr("cloud_containers_api_version", o(string()))
}

/// The cloud configuration for a provider block, given where `OS_*` and clouds.yaml come from.
pub fn cloud_config(block: &Value, source: &ConfigSource) -> Result<CloudConfig, ConfigError> {
    let mut source = source.clone();
    for (attr, var) in BLOCK_TO_ENV {
        if let Some(v) = s(block, attr) {
            source.env.insert((*var).to_owned(), v);
        }
    }
    if let Some(insecure) = b(block, "insecure") {
        source
            .env
            .insert("OS_INSECURE".into(), insecure.to_string());
    }
    let cloud = s(block, "cloud");
    let has_cloud = cloud.is_some() || source.env.get("OS_CLOUD").is_some_and(|c| !c.is_empty());
    let has_url = source.env.get("OS_AUTH_URL").is_some_and(|u| !u.is_empty());
    if !has_cloud && !has_url {
        source.env.insert("OS_AUTH_URL".into(), VK_AUTH_URL.into());
        source
            .env
            .entry("OS_USER_DOMAIN_NAME".into())
            .or_insert_with(|| VK_USER_DOMAIN.into());
    }
    CloudConfig::load_from(&source, cloud.as_deref()).map_err(ConfigError::Load)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitrina_openstack::{AuthMethod, DomainSpec, ScopeSpec, UserSpec};

    fn source(dir: &std::path::Path, env: &[(&str, &str)]) -> ConfigSource {
        ConfigSource {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cwd: dir.to_path_buf(),
            home: None,
        }
    }

    fn block(entries: &[(&str, &str)]) -> Value {
        let mut m = provider_schema()
            .attributes
            .keys()
            .map(|k| (k.clone(), Value::Null))
            .collect::<std::collections::BTreeMap<_, _>>();
        for (k, v) in entries {
            m.insert((*k).to_owned(), Value::string(*v));
        }
        Value::Map(m)
    }

    const CLOUDS: &str = "clouds:\n  localcloud:\n    auth:\n      auth_url: http://127.0.0.1:1/identity/v3\n      username: demo\n      password: pw\n      project_name: demo\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n";

    #[test]
    fn block_wins_over_the_cloud() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clouds.yaml");
        std::fs::write(&file, CLOUDS).unwrap();
        let src = source(
            dir.path(),
            &[
                ("OS_CLOUD", "localcloud"),
                ("OS_CLIENT_CONFIG_FILE", file.to_str().unwrap()),
            ],
        );
        let cfg = cloud_config(&block(&[("username", "other"), ("region", "GZ")]), &src).unwrap();
        assert_eq!(cfg.auth_url, "http://127.0.0.1:1/identity/v3");
        assert_eq!(cfg.region_name.as_deref(), Some("GZ"));
        match cfg.auth {
            AuthMethod::Password {
                user: UserSpec::Name { name, domain },
                scope,
                ..
            } => {
                assert_eq!(name, "other");
                assert_eq!(domain, DomainSpec::Name("Default".into()));
                assert!(matches!(scope, ScopeSpec::ProjectName { .. }));
            }
            other => panic!("unexpected auth {other:?}"),
        }
    }

    #[test]
    fn os_variables_are_used_without_a_block() {
        let dir = tempfile::tempdir().unwrap();
        let src = source(
            dir.path(),
            &[
                ("OS_AUTH_URL", "http://x/v3"),
                ("OS_USERNAME", "u"),
                ("OS_PASSWORD", "p"),
                ("OS_PROJECT_ID", "pid"),
            ],
        );
        let cfg = cloud_config(&block(&[]), &src).unwrap();
        assert_eq!(cfg.auth_url, "http://x/v3");
        assert!(
            matches!(cfg.auth, AuthMethod::Password { scope: ScopeSpec::ProjectId(ref p), .. } if p == "pid")
        );
    }

    #[test]
    fn vk_defaults_apply_when_nothing_names_a_cloud() {
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path(), &[]);
        let cfg = cloud_config(
            &block(&[
                ("username", "u"),
                ("password", "secret-pw"),
                ("project_id", "p"),
            ]),
            &src,
        )
        .unwrap();
        assert_eq!(cfg.auth_url, VK_AUTH_URL);
        assert!(
            matches!(cfg.auth, AuthMethod::Password { user: UserSpec::Name { ref domain, .. }, .. } if *domain == DomainSpec::Name("users".into()))
        );
    }

    #[test]
    fn errors_do_not_show_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path(), &[]);
        // No user name: the loader refuses; the message must not carry the password.
        let err = cloud_config(&block(&[("password", "hunter2-secret")]), &src).unwrap_err();
        let chain = format!(
            "{err}: {:?}",
            std::error::Error::source(&err).map(ToString::to_string)
        );
        assert!(!chain.contains("hunter2-secret"), "{chain}");
    }
}
