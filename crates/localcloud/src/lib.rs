//! An OpenStack-API-compatible cloud on one machine, with hypervisor back-ends.
//!
//! [`LocalCloud`] serves Keystone v3, Nova, Neutron, Cinder and Glance as one axum [`Router`]:
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use vitrina_localcloud::{Config, LocalCloud};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! // Every URL localcloud generates (catalog, Location, links) starts with `base_url`; when the
//! // router is nested under a prefix, the prefix is part of it: `http://host:8080/cloud`.
//! let cloud = LocalCloud::open(Config::new("./localcloud-data", format!("http://{addr}"))).await?;
//! cloud.write_client_files()?;
//! axum::serve(listener, cloud.router()).await?;
//! # Ok(()) }
//! ```
//!
//! Services live under fixed paths below the base URL: `/identity` (Keystone, `/identity/v3`),
//! `/compute/v2.1` (Nova), `/networking/v2.0` (Neutron), `/volume/v3/{project_id}` (Cinder),
//! `/image/v2` (Glance), and `/healthz`.

mod access;
pub mod body;
pub mod cloudinit;
pub mod dataplane;
pub mod error;
mod fixtures;
pub mod hypervisor;
mod model;
mod model_extra;
mod server;
mod store;

mod cinder;
mod cinder_extra;
mod cinder_quotas;
mod cinder_types;
mod disks;
pub mod dns;
mod extensions;
mod faults;
mod glance;
mod glance_members;
mod keystone;
mod neutron;
mod nova;
pub mod s3;
mod util;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

pub use dataplane::{NetworkMode, NetworkSetting};
pub use error::{ApiError, Service};
pub use fixtures::{Fixtures, DEVSTACK_IMAGE};
pub use hypervisor::{kill_instances, Hypervisor, ProcessHypervisor};
pub use server::{serve, Limits};
use store::Store;

/// How localcloud is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder holding `state.json`, image data, instance folders and the client files.
    pub data_dir: PathBuf,
    /// External URL of the router's root, with any mount prefix and without a trailing slash
    /// (`http://127.0.0.1:8780`, `http://127.0.0.1:8080/cloud`).
    pub base_url: String,
    /// Region name in the catalog.
    pub region: String,
    /// Name of the clouds in clouds.yaml (`localcloud` and `<name>-admin`).
    pub cloud_name: String,
    /// Isolated networks when privileged (the default), or always the shared network.
    pub network: NetworkSetting,
    /// The range of `ext-net` (floating IPs, the machine's external gateway address), set when
    /// the network is first created. Default: a /24 of 198.18.0.0/15 chosen by the data folder.
    pub external_cidr: Option<String>,
    /// The largest image upload in bytes (Glance's `image_size_cap`, default 1 TiB).
    pub image_size_cap: u64,
    /// Fault injection for tests: this percentage of write requests fails with a 500 before
    /// anything is done (see `faults`). 0, the default, turns it off.
    pub write_fault_percent: u8,
    /// Failures a test asks for (none by default); see [`Faults`].
    pub faults: Faults,
    /// What to create besides the bootstrap (`--fixtures devstack`).
    pub fixtures: Fixtures,
}

/// Fault injection for tests of clients' error handling: each field makes one operation fail
/// the way the real service fails it. Off by default; `vitrina localcloud serve` never sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// How every server create fails, if it does.
    pub server_create: Option<ServerCreateFault>,
}

/// How a server create fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCreateFault {
    /// Nova answers `500` after checking the request; nothing is created.
    Reject,
    /// Nova accepts the server (`202`), then it goes to `ERROR` with the fault "No valid host
    /// was found." (the scheduler found no host), as Nova does; ports and volumes stay
    /// attached until the server is deleted.
    NoValidHost,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>, base_url: impl Into<String>) -> Self {
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Self {
            data_dir: data_dir.into(),
            base_url,
            region: "RegionOne".to_owned(),
            cloud_name: "localcloud".to_owned(),
            network: NetworkSetting::Auto,
            external_cidr: None,
            image_size_cap: 1 << 40,
            write_fault_percent: 0,
            faults: Faults::default(),
            fixtures: Fixtures::None,
        }
    }
}

/// Errors opening localcloud.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the localcloud data folder `{path}`")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    S3(#[from] s3::S3Error),
    #[error(transparent)]
    Dns(#[from] dns::DnsError),
    #[error("cannot write `{path}`")]
    ClientFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Credentials of the bootstrap identities, as written to `localcloud-credentials.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub auth_url: String,
    pub region: String,
    pub projects: std::collections::BTreeMap<String, ProjectCredentials>,
    pub admin: AdminCredentials,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectCredentials {
    pub id: String,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdminCredentials {
    pub username: String,
    pub password: String,
    pub project_id: String,
}

/// The shared state of every handler.
pub(crate) struct Cloud {
    pub cfg: Config,
    pub store: Arc<Store>,
    pub hv: Arc<dyn Hypervisor>,
    pub net: Arc<dataplane::DataPlane>,
    /// The resolvers a VM gets when none of its subnets lists `dns_nameservers` (the DNS server
    /// of `ivkcs_dns` on the machine's ext-net address, once its owner serves it there).
    pub vm_resolvers: std::sync::RwLock<Vec<String>>,
}

pub(crate) type AppState = Arc<Cloud>;

impl Cloud {
    /// An absolute URL for a path below the base URL (`/compute/v2.1/servers/…`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url, path)
    }
}

/// A running localcloud: state, hypervisor and the HTTP router.
#[derive(Clone)]
pub struct LocalCloud {
    cloud: Arc<Cloud>,
    /// The S3-compatible object store below `/s3` (`ivkcs_s3`'s buckets).
    s3: Arc<s3::S3Store>,
    /// The DNS records `ivkcs_dns` creates (served over UDP by whoever runs localcloud).
    dns: Arc<dns::DnsZone>,
}

impl LocalCloud {
    /// Opens (or creates) the cloud in `config.data_dir` with the `process` hypervisor, creates
    /// the bootstrap identities, networks and the `vitrina-process-base` image on first start,
    /// and resumes the servers that were running.
    pub async fn open(config: Config) -> Result<Self, OpenError> {
        let data = config.data_dir.clone();
        for sub in ["", "images", "instances"] {
            let p = data.join(sub);
            fs_err::create_dir_all(&p).map_err(|source| OpenError::DataDir { path: p, source })?;
        }
        // The data folder holds state.json and the credentials: its owner's only (L5).
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs_err::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| OpenError::DataDir {
                    path: data.clone(),
                    source,
                },
            )?;
        }
        let (store, _fresh) = Store::open(&data)?;
        let hv: Arc<dyn Hypervisor> = Arc::new(ProcessHypervisor::new(data.join("instances")));
        let net = Arc::new(dataplane::DataPlane::start(
            &data,
            config.network,
            store.clone(),
        ));
        if let NetworkMode::Shared { reason } = net.mode() {
            tracing::warn!("localcloud: shared-network mode ({reason}): servers use the machine's network, security groups are not enforced");
        }
        let cloud = Arc::new(Cloud {
            cfg: config,
            store: store.clone(),
            hv,
            net,
            vm_resolvers: std::sync::RwLock::new(Vec::new()),
        });
        keystone::bootstrap(&cloud);
        cloud.store.write(|db| {
            if !db.catalog_seeded {
                nova::seed_flavors(db);
                cinder_types::seed_types(db);
                db.catalog_seeded = true;
            }
        });
        neutron::bootstrap(&cloud);
        glance::bootstrap(&cloud).map_err(|source| OpenError::DataDir {
            path: data.join("images"),
            source,
        })?;
        fixtures::apply(&cloud).map_err(|source| OpenError::DataDir {
            path: data.join("images"),
            source,
        })?;
        store.flush()?;
        tokio::spawn(store.clone().run_writer());
        nova::resume(&cloud).await;
        let s3 = s3::S3Store::open(&data.join("s3"))?;
        let dns = dns::DnsZone::open(&data.join("dns"))?;
        Ok(Self { cloud, s3, dns })
    }

    /// The router serving every API below [`Config::base_url`]. Nest it under the prefix that
    /// base URL ends with (`Router::new().nest("/cloud", cloud.router())`).
    pub fn router(&self) -> Router {
        let router = self.api_router();
        match self.cloud.cfg.write_fault_percent {
            0 => router,
            p => router.layer(axum::middleware::from_fn_with_state(
                p.min(100),
                faults::inject,
            )),
        }
    }

    fn api_router(&self) -> Router {
        let openstack = Router::new()
            .route("/healthz", get(healthz))
            .merge(keystone::routes())
            .merge(nova::routes())
            .merge(neutron::routes())
            .merge(cinder::routes())
            .merge(glance::routes())
            .merge(extensions::routes())
            .fallback(not_found)
            .layer(axum::middleware::from_fn(service_errors))
            .layer(axum::middleware::from_fn_with_state(
                self.cloud.clone(),
                keystone::enforce_access_rules,
            ))
            .with_state(self.cloud.clone());
        // S3 signs its own requests (SigV4): outside Keystone's middleware.
        Router::new().nest("/s3", self.s3.router()).merge(openstack)
    }

    /// The object store served below `/s3`.
    pub fn s3(&self) -> &Arc<s3::S3Store> {
        &self.s3
    }

    /// The DNS records; serve them with [`dns::serve`].
    pub fn dns(&self) -> &Arc<dns::DnsZone> {
        &self.dns
    }

    /// Sets the resolvers written to a VM's `/etc/resolv.conf` at its next boot when none of its
    /// subnets has `dns_nameservers`, as a cloud's DHCP hands out its own DNS server: the owner of
    /// localcloud calls it once it serves [`dns`](Self::dns) where VMs reach it.
    pub fn set_vm_resolvers(&self, servers: Vec<std::net::IpAddr>) {
        let mut g = self
            .cloud
            .vm_resolvers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g = servers.iter().map(ToString::to_string).collect();
    }

    /// Credentials of the admin and demo identities.
    pub fn credentials(&self) -> Credentials {
        keystone::credentials(&self.cloud)
    }

    /// Writes `DATA/clouds.yaml` and `DATA/localcloud-credentials.json`.
    pub fn write_client_files(&self) -> Result<(), OpenError> {
        let data = &self.cloud.cfg.data_dir;
        let creds = self.credentials();
        let yaml = keystone::clouds_yaml(&self.cloud.cfg, &creds);
        let p = data.join("clouds.yaml");
        store::write_atomic(&p, yaml.as_bytes())
            .map_err(|source| OpenError::ClientFile { path: p, source })?;
        let p = data.join("localcloud-credentials.json");
        let mut json = serde_json::to_vec_pretty(&creds).unwrap_or_default();
        json.push(b'\n');
        store::write_atomic(&p, &json).map_err(|source| OpenError::ClientFile { path: p, source })
    }

    /// Writes the state to disk now (call before exiting).
    pub fn flush(&self) -> Result<(), OpenError> {
        self.cloud.store.flush().map_err(OpenError::from)
    }

    /// Writes the state a last time and stops persisting: call when this process stops serving
    /// the data folder (server processes keep running and are adopted by the next start).
    pub fn shutdown(&self) -> Result<(), OpenError> {
        self.cloud.net.stop();
        self.cloud.store.close().map_err(OpenError::from)
    }

    /// Stops every server process (for tests and benchmarks; a real shutdown leaves VMs running).
    pub async fn stop_all_servers(&self) {
        let ids: Vec<String> = self
            .cloud
            .store
            .read(|s| s.servers.keys().cloned().collect());
        for id in ids {
            let _ = self.cloud.hv.stop(&id).await;
        }
    }

    /// How servers are networked (and why, in the shared mode).
    /// The machine's address on `ext-net` (its gateway address) when servers have networks of
    /// their own: VMs reach services that listen on the machine there, through their router.
    /// `None` in the shared-network mode, where VMs use the machine's network directly.
    pub fn machine_address(&self) -> Option<std::net::Ipv4Addr> {
        if !matches!(self.cloud.net.mode(), NetworkMode::Isolated) {
            return None;
        }
        self.cloud.store.read(|db| {
            let ext = db.bootstrap.as_ref()?.ext_net_id.clone();
            db.subnets
                .values()
                .filter(|s| s.network_id == ext)
                .find_map(|s| s.gateway_ip.as_deref()?.parse().ok())
        })
    }

    pub fn network_mode(&self) -> &NetworkMode {
        self.cloud.net.mode()
    }

    /// The network namespace a server runs in (isolated mode only).
    pub fn server_netns(&self, server_id: &str) -> Option<String> {
        self.cloud.net.server_netns(server_id)
    }

    /// What the data plane did since the start and where its time went (zero in the shared
    /// mode).
    pub fn network_stats(&self) -> dataplane::NetworkStats {
        self.cloud.net.stats()
    }

    /// The prefix of every namespace and machine link this localcloud makes (`lc` + 6 hex).
    pub fn kernel_prefix(&self) -> &str {
        &self.cloud.net.names().prefix
    }

    /// Waits until the kernel reflects the state as it is now (isolated mode; no-op otherwise).
    pub async fn sync_network(&self) {
        self.cloud.net.sync().await;
    }

    /// The data folder.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.cloud.cfg.data_dir
    }
}

/// Where a server runs: what `vitrina localcloud exec` needs to enter it.
#[derive(Debug, Clone)]
pub struct ServerPlace {
    pub id: String,
    pub name: String,
    /// The instance folder (the VM's `/`).
    pub dir: PathBuf,
    /// Its network namespace, when it exists (isolated mode).
    pub netns: Option<String>,
}

/// Errors finding a server in a data folder.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    S3(#[from] s3::S3Error),
    #[error(transparent)]
    Dns(#[from] dns::DnsError),
    #[error("no server `{0}` in this localcloud")]
    NotFound(String),
    #[error("several servers are named `{name}`: {ids}; give the id")]
    Ambiguous { name: String, ids: String },
}

/// Finds a server by id or name in the localcloud of `data_dir` (reads `state.json`).
pub fn locate_server(data_dir: &std::path::Path, server: &str) -> Result<ServerPlace, LocateError> {
    let (store, _) = Store::open(data_dir)?;
    let found: Vec<model::Server> = store.read(|db| match db.servers.get(server) {
        Some(s) => vec![s.clone()],
        None => db
            .servers
            .values()
            .filter(|s| s.name == server)
            .cloned()
            .collect(),
    });
    let s = match found.as_slice() {
        [] => return Err(LocateError::NotFound(server.to_owned())),
        [s] => s.clone(),
        many => {
            return Err(LocateError::Ambiguous {
                name: server.to_owned(),
                ids: many
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    };
    let ns = dataplane::names_for(data_dir).vm(&s.id);
    let netns = std::path::Path::new("/run/netns")
        .join(&ns)
        .exists()
        .then_some(ns);
    Ok(ServerPlace {
        dir: data_dir.join("instances").join(&s.id),
        id: s.id,
        name: s.name,
        netns,
    })
}

async fn healthz(State(c): State<AppState>) -> impl IntoResponse {
    let mode = c.net.mode();
    let mut body = serde_json::json!({"status": "ok", "network_mode": mode.name()});
    if let NetworkMode::Shared { reason } = mode {
        body["network_note"] = serde_json::Value::String(format!(
            "shared network: servers use the machine's network with their own 127.x address; security groups are not enforced ({reason})"
        ));
    }
    axum::Json(body)
}

/// The service a request path below the base URL goes to.
fn service_of_path(path: &str) -> Service {
    match path.split('/').nth(1) {
        Some("identity") => Service::Identity,
        Some("networking") => Service::Network,
        Some("volume") => Service::Volume,
        Some("image") => Service::Image,
        _ => Service::Compute,
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        service_of_path(uri.path()),
        "The resource could not be found.",
    )
}

/// Middleware: errors the framework answers itself (a body over the size limit: 413; a query or
/// path it cannot read: 400; a method a route lacks: 405) come in plain text; they are rewritten
/// in the body format of the service the request went to, as every other error is.
async fn service_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let service = service_of_path(req.uri().path());
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"));
    if !plain {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_owned()
    } else {
        text
    };
    let mut out = ApiError::new(service, status, message).into_response();
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        out.headers_mut()
            .insert(axum::http::header::ALLOW, allow.clone());
    }
    out
}
