//! `vitrina serve --demo` (idempotent on an existing data folder): a vendor `demo-vendor`, a
//! consumer project `demo` with its own project in the built-in cloud, broker accounts for the
//! `public` and `test` namespaces, every package of a folder (the repository's
//! `examples/packages/`) uploaded and published; then `DATA/demo-credentials.json`,
//! `DATA/clouds.yaml` and `DATA/demo.env` (mode 0600: they hold passwords and tokens).
//!
//! The tokens and passwords are kept sealed in the store, so a second start writes the same
//! credentials instead of issuing new ones.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vitrina_common::Secret;

use crate::error::ServerError;
use crate::products::UploadError;
use crate::tenants::{Namespace, NewCloud, NewProject};
use crate::Server;

/// The cloud's name in `DATA/clouds.yaml`.
pub const CLOUD_NAME: &str = "vitrina-demo";
pub const VENDOR_NAME: &str = "demo-vendor";
pub const PROJECT_NAME: &str = "demo";
pub const PROJECT_EMAIL: &str = "demo@example.com";
pub const BROKER_PUBLIC: &str = "demo-public";
pub const BROKER_TEST: &str = "demo-test";
/// The sealed setting holding the demo's secrets.
const SETTING: &str = "demo";

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
    #[error("cannot read the demo packages in {path}")]
    Packages {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("demo package {path} does not pack")]
    Pack {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("demo package {path} was refused: {detail}")]
    Refused { path: PathBuf, detail: String },
    #[error("setting up the demo failed: {0}")]
    Server(#[from] ServerError),
    #[error("cannot make the demo project's network: {0}")]
    Network(#[from] vitrina_openstack::Error),
}

/// The demo's secrets, sealed in the store.
#[derive(Serialize, Deserialize)]
struct Secrets {
    service_token: Secret,
    auth_token: Secret,
    broker_public: Secret,
    broker_test: Secret,
}

/// What `--demo` did.
#[derive(Debug, Default)]
pub struct DemoReport {
    /// `(service folder, id, revision)` of each package now published.
    pub published: Vec<(String, String, String)>,
    pub credentials_file: PathBuf,
}

fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Creates what is missing, uploads and publishes `packages` (every folder in it), and writes
/// the files.
pub async fn setup(server: &Server, data: &Path, packages: &Path) -> Result<DemoReport, DemoError> {
    if server.cloud.is_none() {
        return Err(DemoError::NoCloud);
    }
    let t = &server.tenants;
    let vendor = t.ensure_vendor(VENDOR_NAME).await?;
    let project = t
        .ensure_project(&NewProject {
            name: PROJECT_NAME.into(),
            email: PROJECT_EMAIL.into(),
            cloud: NewCloud::Local,
        })
        .await?;
    let saved: Option<Secrets> = t.setting(SETTING).await?;
    let secrets = match saved {
        // Still valid (the store may have been replaced under the key): reuse.
        Some(s)
            if t.vendor_by_token(s.service_token.expose()).await.is_ok()
                && t.project_by_token(s.auth_token.expose()).await.is_ok()
                && t.broker_login(BROKER_PUBLIC, s.broker_public.expose())
                    .await
                    .is_ok()
                && t.broker_login(BROKER_TEST, s.broker_test.expose())
                    .await
                    .is_ok() =>
        {
            s
        }
        _ => {
            let s = Secrets {
                service_token: t.issue_vendor_token(&vendor).await?,
                auth_token: t.issue_project_token(&project).await?,
                broker_public: t
                    .put_broker_account(BROKER_PUBLIC, Namespace::Public)
                    .await?,
                broker_test: t.put_broker_account(BROKER_TEST, Namespace::Test).await?,
            };
            t.set_setting(SETTING, &s).await?;
            s
        }
    };
    let vctx = t.vendor_by_token(secrets.service_token.expose()).await?;
    let mut report = DemoReport::default();
    for dir in package_dirs(packages)? {
        let zip = pack_zip(&dir, &data.join("demo-packages"))?;
        let (id, revision) = match server.products.upload(&vctx, zip).await {
            Ok(r) => (r.service_id, r.revision),
            // Uploaded by an earlier start: find it by what the package says.
            Err(UploadError::Server(ServerError::Conflict(_))) => {
                let (id, rev) = id_revision(&dir)?;
                (id, rev)
            }
            Err(UploadError::Diagnostics { diagnostics, .. }) => {
                return Err(DemoError::Refused {
                    path: dir.clone(),
                    detail: serde_json::Value::Array(diagnostics).to_string(),
                })
            }
            Err(UploadError::Server(e)) => return Err(e.into()),
        };
        server.products.publish(&vctx, &id, &revision).await?;
        let folder = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        report.published.push((folder, id, revision));
    }
    let pctx = t.project_by_token(secrets.auth_token.expose()).await?;
    let cloud = t.project_cloud(&pctx).await?;
    let shared = server
        .cloud
        .as_ref()
        .is_some_and(|c| c.network_mode().name() == "shared");
    ensure_network(&cloud, shared).await?;
    report.credentials_file = write_files(server, data, &secrets, &project, &cloud)?;
    Ok(report)
}

/// The demo project's own network, as a real cloud project has one to deploy into: a network
/// `demo-net` with a subnet (a loopback range in the shared-network mode, where a VM's address
/// must be one the machine has; `192.168.10.0/24` behind a router to `ext-net` otherwise).
/// Found by name when it exists.
async fn ensure_network(
    cloud: &crate::tenants::CloudCredentials,
    shared: bool,
) -> Result<(), DemoError> {
    use vitrina_openstack::wire::network::{
        ExternalGatewayInfo, NetworkCreate, RouterCreate, RouterInterfaceRequest, SubnetCreate,
    };
    let client = vitrina_openstack::Client::new(cloud.to_cloud_config("vitrina-demo"))?;
    let net = client.network();
    let by_name = |n: &str| vec![("name".to_owned(), n.to_owned())];
    let network = match net
        .list_networks(&by_name("demo-net"))
        .await?
        .into_iter()
        .next()
    {
        Some(n) => n,
        None => {
            net.create_network(&NetworkCreate {
                name: Some("demo-net".into()),
                ..NetworkCreate::default()
            })
            .await?
        }
    };
    if net.list_subnets(&by_name("demo-subnet")).await?.is_empty() {
        let subnet = net
            .create_subnet(&SubnetCreate {
                network_id: Some(network.id.clone()),
                name: Some("demo-subnet".into()),
                cidr: Some(
                    if shared {
                        "127.77.10.0/24"
                    } else {
                        "192.168.10.0/24"
                    }
                    .into(),
                ),
                ip_version: Some(4),
                ..SubnetCreate::default()
            })
            .await?;
        if !shared {
            let external = net
                .list_networks(&vec![("router:external".to_owned(), "true".to_owned())])
                .await?
                .into_iter()
                .next();
            if let Some(ext) = external {
                let router = net
                    .create_router(&RouterCreate {
                        name: Some("demo-router".into()),
                        external_gateway_info: Some(Some(ExternalGatewayInfo {
                            network_id: ext.id,
                            ..ExternalGatewayInfo::default()
                        })),
                        ..RouterCreate::default()
                    })
                    .await?;
                net.add_router_interface(
                    &router.id,
                    &RouterInterfaceRequest {
                        subnet_id: Some(subnet.id),
                        port_id: None,
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

fn package_dirs(packages: &Path) -> Result<Vec<PathBuf>, DemoError> {
    let err = |source| DemoError::Packages {
        path: packages.to_owned(),
        source,
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(packages)
        .map_err(err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("service.yaml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Validates and packs a folder into `out_dir/<SERVICE>.zip`; returns the zip's bytes.
fn pack_zip(dir: &Path, out_dir: &Path) -> Result<Vec<u8>, DemoError> {
    let pack_err = |source: Box<dyn std::error::Error + Send + Sync>| DemoError::Pack {
        path: dir.to_owned(),
        source,
    };
    let files = vitrina_package::read_package(dir).map_err(|e| pack_err(Box::new(e)))?;
    fs_err::create_dir_all(out_dir).map_err(|e| pack_err(Box::new(e)))?;
    let out = out_dir.join(format!("{}.zip", files.service_name));
    vitrina_package::pack::pack(dir, &files, &out).map_err(|e| pack_err(Box::new(e)))?;
    fs_err::read(&out).map_err(|e| pack_err(Box::new(e)))
}

/// `id` and `revision` of a package folder's service.yaml (through the catalog builder).
fn id_revision(dir: &Path) -> Result<(String, String), DemoError> {
    let v = vitrina_package::validate_path(dir).map_err(|e| DemoError::Pack {
        path: dir.to_owned(),
        source: Box::new(e),
    })?;
    let cat = vitrina_package::build_catalog(&v).ok_or_else(|| DemoError::Refused {
        path: dir.to_owned(),
        detail: "the package has errors".into(),
    })?;
    let s = |k: &str| {
        cat.pointer(&format!("/services/0/{k}"))
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    Ok((s("id"), s("revision")))
}

fn write_files(
    server: &Server,
    data: &Path,
    secrets: &Secrets,
    project: &crate::tenants::Project,
    cloud: &crate::tenants::CloudCredentials,
) -> Result<PathBuf, DemoError> {
    let write = |name: &str, text: String| {
        let path = data.join(name);
        vitrina_common::fs::write_atomic(&path, text.as_bytes(), Some(0o600))
            .map_err(|source| DemoError::Write { path, source })
    };
    let clouds_yaml = data.join("clouds.yaml");
    write(
        "clouds.yaml",
        format!(
            "# Written by `vitrina serve --demo`.\n{}",
            cloud.clouds_yaml(CLOUD_NAME)
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
        "vendor": {"name": VENDOR_NAME, "service_token": secrets.service_token.expose()},
        "project": {"id": project.id, "name": project.name, "email": project.email,
                    "auth_token": secrets.auth_token.expose()},
        "broker": {
            "public": {"username": BROKER_PUBLIC, "password": secrets.broker_public.expose()},
            "test": {"username": BROKER_TEST, "password": secrets.broker_test.expose()},
        },
        "cloud": {
            "auth_url": cloud.auth_url,
            "region": cloud.region,
            "username": cloud.username,
            "password": cloud.password.expose(),
            "project_id": cloud.project_id,
            "user_domain_name": cloud.user_domain_name,
            "project_domain_name": cloud.project_domain_name,
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
    )?;
    Ok(data.join("demo-credentials.json"))
}

/// What to try next, printed after the demo is set up.
pub fn next_steps(server: &Server, data: &Path, report: &DemoReport) -> String {
    let creds = report.credentials_file.display();
    let prefix = crate::products_http::PREFIX;
    let mut out = format!(
        "vitrina demo: {n} package(s) published: {list}\n  credentials: {creds}\n  try:\n",
        n = report.published.len(),
        list = report
            .published
            .iter()
            .map(|(f, _, r)| format!("{f} ({r})"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str(&format!(
        "    open {url} in a browser\n    . {env} && vitrina tf apply DIR        # deploy a manifest onto the built-in cloud\n    curl -s -u \"$(jq -r '.broker.public.username + \":\" + .broker.public.password' {creds})\" -H 'X-Broker-API-Version: 2.17' {url}/v2/catalog\n    curl -s -H \"x-service-token: $(jq -r .vendor.service_token {creds})\" {url}{prefix}/product\n    vitrina package upload PACKAGE --server {url} --service-token \"$(jq -r .vendor.service_token {creds})\"\n    curl -s {url}/api/openapi.json\n",
        url = server.url,
        env = data.join("demo.env").display(),
    ));
    out
}

/// The VM-SDF catalog of the demo: every app of `apps` (the repository's `examples/vm-sdf/`)
/// compiled as `vitrina sdf build` does into `DATA/demo-sdf-catalog.yaml`.
///
/// # Errors
/// When the folder cannot be read, an app does not validate, or the file cannot be written.
pub fn build_sdf_catalog(apps: &Path, data: &Path) -> Result<PathBuf, DemoError> {
    let checked = vitrina_package::sdf::validate_path(apps).map_err(|e| DemoError::Packages {
        path: apps.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let Some(text) = vitrina_package::sdf::build_catalog(&checked) else {
        return Err(DemoError::Refused {
            path: apps.to_owned(),
            detail: checked.sources.render_text(&checked.diagnostics, ""),
        });
    };
    let out = data.join("demo-sdf-catalog.yaml");
    std::fs::create_dir_all(data)
        .and_then(|()| std::fs::write(&out, text))
        .map_err(|source| DemoError::Write {
            path: out.clone(),
            source,
        })?;
    Ok(out)
}
