//! `vitrina serve --demo`: the files that let `. DATA/demo.env && vitrina tf apply DIR` deploy
//! onto the built-in cloud (the vendor, packages and broker parts come with the marketplace).

use std::path::{Path, PathBuf};

use crate::Server;

/// The cloud's name in `DATA/clouds.yaml`.
pub const CLOUD_NAME: &str = "vitrina-demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("`--demo` needs the built-in cloud")]
    NoCloud,
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn q(s: &str) -> String {
    // A JSON string is a valid YAML scalar, quoted and escaped.
    serde_json::Value::String(s.to_owned()).to_string()
}

fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Writes `DATA/clouds.yaml`, `DATA/demo.env` and `DATA/demo-credentials.json` (mode 0600: they
/// hold passwords and tokens).
pub fn write_files(server: &Server, data: &Path) -> Result<(), DemoError> {
    let cloud = server.cloud.as_ref().ok_or(DemoError::NoCloud)?;
    let creds = cloud.credentials();
    let project = creds.projects.get("demo").ok_or(DemoError::NoCloud)?;
    let write = |name: &str, text: String| {
        let path = data.join(name);
        vitrina_common::fs::write_atomic(&path, text.as_bytes(), Some(0o600))
            .map_err(|source| DemoError::Write { path, source })
    };
    let clouds_yaml = data.join("clouds.yaml");
    write(
        "clouds.yaml",
        format!(
            "# Written by `vitrina serve --demo`.\nclouds:\n  {CLOUD_NAME}:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      project_id: {}\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: {}\n    interface: public\n    identity_api_version: 3\n",
            q(&creds.auth_url),
            q(&project.username),
            q(&project.password),
            q(&project.id),
            q(&creds.region),
        ),
    )?;
    let env = vitrina_common::env::CONFIG_SERVICE;
    let token = vitrina_common::env::CONFIG_TOKEN;
    write(
        "demo.env",
        format!(
            "# Written by `vitrina serve --demo`: `. {}` before `vitrina tf apply DIR`.\nexport OS_CLIENT_CONFIG_FILE={}\nexport OS_CLOUD={CLOUD_NAME}\nexport {env}={}\nexport {token}={}\n",
            data.join("demo.env").display(),
            sh(&clouds_yaml.display().to_string()),
            sh(&server.url),
            sh(server.engine_token.expose()),
        ),
    )?;
    let json = serde_json::json!({
        "url": server.url,
        "cloud": {
            "auth_url": creds.auth_url,
            "region": creds.region,
            "username": project.username,
            "password": project.password,
            "project_id": project.id,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "clouds_yaml": clouds_yaml.display().to_string(),
        "cloud_name": CLOUD_NAME,
    });
    write(
        "demo-credentials.json",
        format!(
            "{}\n",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        ),
    )
}
