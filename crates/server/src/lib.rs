//! `vitrina serve`: the store and the config service of the `ivkcs` provider and the in-VM
//! agents, with `localcloud` mounted under `/cloud/…`.
//!
//! Layers: [`http`] parses and authenticates, [`app`] holds the rules, [`store`] alone writes
//! SQL (SQLite in the data folder by default, PostgreSQL by URL). Secrets are sealed at rest with
//! [`crypto::Sealer`]; tokens are found by their SHA-256.

pub mod app;
pub mod certs;
pub mod crypto;
pub mod demo;
pub mod error;
pub mod hoe;
pub mod home;
pub mod http;
pub mod json_errors;
pub mod logging;
pub mod metrics;
pub mod metrics_intake;
pub mod openapi;
pub mod osb;
pub mod products;
pub mod products_http;
pub mod script_tokens;
pub mod sdf;
pub mod sdf_deploy;
pub mod services;
pub mod store;
pub mod tenants;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use vitrina_common::Secret;

pub use app::ConfigService;
pub use error::ServerError;
pub use store::Store;

/// How `vitrina serve` runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; SQLite in `data_dir` when `None`.
    pub database_url: Option<String>,
    /// A host without heartbeat or healthy check for this long is failed.
    pub health_timeout: Duration,
    /// How often agents send heartbeats (at most a third of `health_timeout`).
    pub heartbeat: Duration,
    /// The `vitrina-agent` binary handed to VMs.
    pub agent_binary: Option<PathBuf>,
    /// Serve `localcloud` under `/cloud`.
    pub cloud: bool,
    /// The built-in cloud's network mode: isolated when privileged (the default), or shared.
    pub cloud_network: vitrina_localcloud::NetworkSetting,
    /// The prices of cloud resources the wizard shows beside a plan's price.
    pub tariffs: vitrina_pricing::Tariffs,
    /// The providers' schemas uploaded packages' manifests are checked against (the cli gives
    /// them; without them resource types are checked by their prefix only).
    pub package_schemas: Option<Arc<vitrina_package::ProviderSchemas>>,
    /// Connection limit and header, idle and body-stall timeouts (probe M1).
    pub limits: vitrina_localcloud::Limits,
    /// `/healthz` answers 503 until [`Server::set_ready`] (`--demo` sets up first).
    pub hold_ready: bool,
    /// The deployment system's workers, leases, retries and auto-recovery.
    pub hoe: hoe::HoeSettings,
    /// Testing: the built-in cloud fails this percentage of write requests with a 500.
    pub cloud_write_fault_percent: u8,
    /// The VM-SDF catalog file served at `/sdf/v1/catalog` (from `vitrina sdf build`).
    pub sdf_catalog: Option<PathBuf>,
    /// Where the built-in cloud's DNS server (`ivkcs_dns` records) answers on the machine
    /// (UDP); VMs also reach it at the machine's ext-net address, port 53.
    pub dns_listen: SocketAddr,
    /// How often script tokens (`token_rotate`) rotate and how long a replaced one still opens.
    pub token_rotation: script_tokens::TokenRotation,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            listen,
            data_dir: data_dir.into(),
            database_url: None,
            health_timeout: Duration::from_secs(300),
            heartbeat: Duration::from_secs(10),
            agent_binary: None,
            cloud: false,
            cloud_network: vitrina_localcloud::NetworkSetting::Auto,
            tariffs: vitrina_pricing::Tariffs::default(),
            package_schemas: None,
            limits: default_limits(),
            hold_ready: false,
            hoe: hoe::HoeSettings::default(),
            cloud_write_fault_percent: 0,
            sdf_catalog: None,
            dns_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token_rotation: script_tokens::TokenRotation::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data folder {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    #[error("cannot write {path}")]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open localcloud")]
    Cloud(#[source] vitrina_localcloud::OpenError),
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// `http://ADDR`.
    pub url: String,
    /// The engine's token (also in `DATA/config-token`, mode 0600).
    pub engine_token: Secret,
    pub service: Arc<ConfigService>,
    pub cloud: Option<vitrina_localcloud::LocalCloud>,
    /// Vendors, consumer projects, broker accounts and the caller contexts.
    pub tenants: Arc<tenants::Tenants>,
    /// The product API and the catalog readers.
    pub products: Arc<products::Products>,
    pub metrics: Arc<metrics::Metrics>,
    /// The Open Service Broker API at `/v2/…`.
    pub osb: Arc<osb::Broker<osb::server_backend::ServerBackend>>,
    ready: Arc<std::sync::atomic::AtomicBool>,
    /// The deployment system (hoe): configs, objects, workers, auto-recovery.
    pub hoe: Arc<hoe::Hoe>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The DNS server's tasks.
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// The file holding the engine's token in the data folder.
pub const ENGINE_TOKEN_FILE: &str = "config-token";

impl Server {
    /// Opens the store, binds the address and starts serving.
    pub async fn start(cfg: ServerConfig) -> Result<Server, StartError> {
        fs_err::create_dir_all(&cfg.data_dir).map_err(|source| StartError::DataDir {
            path: cfg.data_dir.clone(),
            source,
        })?;
        let url = match &cfg.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                cfg.data_dir.join("vitrina.db").display()
            ),
        };
        let store = Store::open(&url).await?;
        let sealer = crypto::Sealer::from_key_file(&cfg.data_dir.join("secret.key"))?;
        let engine_token = engine_token(&cfg, &store).await?;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: cfg.listen,
            source,
        })?;
        let base = format!("http://{addr}");
        // A host must be able to miss two heartbeats before it counts as silent.
        let heartbeat = cfg
            .heartbeat
            .min(cfg.health_timeout / 3)
            .max(Duration::from_millis(100));
        let service = ConfigService::new(store, sealer, cfg.health_timeout, heartbeat);
        service.set_token_rotation(cfg.token_rotation);
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(!cfg.hold_ready));
        let ready_flag = ready.clone();
        let metrics_service = service.clone();
        let http_metrics = metrics::Metrics::new();
        let metrics_of_handler = http_metrics.clone();
        let mut router = Router::new()
            .route(
                "/healthz",
                get(move || {
                    let ready = ready_flag.clone();
                    async move { healthz(&ready) }
                }),
            )
            .route(
                "/metrics",
                get(move || {
                    let service = metrics_service.clone();
                    let m = metrics_of_handler.clone();
                    async move { metrics(&service, &m).await }
                }),
            )
            .merge(http::routes(http::HttpState {
                service: service.clone(),
                agent_binary: cfg.agent_binary.clone(),
            }))
            .merge(sdf::routes(sdf::SdfState {
                service: service.clone(),
                catalog: cfg.sdf_catalog.clone(),
                base_url: base.clone(),
            }))
            .merge(services::routes(http::HttpState {
                service: service.clone(),
                agent_binary: None,
            }))
            .merge(certs::routes(http::HttpState {
                service: service.clone(),
                agent_binary: None,
            }))
            .merge(script_tokens::routes(http::HttpState {
                service: service.clone(),
                agent_binary: None,
            }))
            .merge(metrics_intake::routes(http::HttpState {
                service: service.clone(),
                agent_binary: None,
            }));
        let cloud = if cfg.cloud {
            let mut lc = vitrina_localcloud::Config::new(
                cfg.data_dir.join("cloud"),
                format!("{base}/cloud"),
            );
            lc.network = cfg.cloud_network;
            lc.write_fault_percent = cfg.cloud_write_fault_percent;
            let cloud = vitrina_localcloud::LocalCloud::open(lc)
                .await
                .map_err(StartError::Cloud)?;
            router = router.nest("/cloud", cloud.router());
            Some(cloud)
        } else {
            None
        };
        // The built-in cloud's VMs have networks of their own and reach the machine at its
        // address on `ext-net` (through their router): serve the same routes there too, and tell
        // agents to use it.
        let vm_listener = match cloud.as_ref().and_then(|c| c.machine_address()) {
            Some(ip) => match bind_for_vms(ip, addr.port()) {
                Ok(l) => {
                    if let Ok(a) = l.local_addr() {
                        service.set_agent_url(format!("http://{a}"));
                    }
                    Some(l)
                }
                Err(e) => {
                    tracing::warn!(%ip, error = %e, "VMs cannot reach the config service: cannot listen on the machine's ext-net address");
                    None
                }
            },
            None => None,
        };
        let tenants =
            tenants::Tenants::new(service.store.clone(), service.sealer.clone(), cloud.clone());
        let products = products::Products::new(tenants.clone(), cfg.package_schemas.clone());
        router = router.merge(products_http::routes(products.clone())).route(
            "/api/openapi.json",
            get(|| async { Json(openapi::document()) }),
        );
        let hoe = hoe::Hoe::new(
            service.store.clone(),
            service.sealer.clone(),
            tenants.clone(),
            service.clone(),
            cfg.hoe.clone(),
            hoe::RunEnv {
                config_service: base.clone(),
                engine_token: engine_token.clone(),
                run_dir: cfg.data_dir.join("hoe"),
            },
        );
        router = router.merge(hoe::http::routes(hoe.clone()));
        let sdf_deploy_state = sdf_deploy::SdfDeployState {
            hoe: hoe.clone(),
            sdf: sdf::SdfState {
                service: service.clone(),
                catalog: cfg.sdf_catalog.clone(),
                base_url: base.clone(),
            },
            catalog: cfg.sdf_catalog.clone(),
        };
        router = router.merge(sdf_deploy::routes(sdf_deploy_state.clone()));
        let osb = osb::Broker::new(
            osb::server_backend::ServerBackend {
                tenants: tenants.clone(),
                products: products.clone(),
                hoe: hoe.clone(),
            },
            service.store.clone(),
            service.sealer.clone(),
        );
        router = router.merge(osb::http::routes(osb.clone()));
        service
            .services
            .set_vm_base_url(service.agent_url().unwrap_or_else(|| base.clone()));
        let mut background = Vec::new();
        if let Some(c) = &cloud {
            let vm_base = service.agent_url();
            service.services.set_s3(
                c.s3().clone(),
                format!("{base}/cloud/s3"),
                vm_base.as_ref().map(|u| format!("{u}/cloud/s3")),
            );
            let mut servers = Vec::new();
            let mut sockets =
                vec![tokio::net::UdpSocket::bind(cfg.dns_listen)
                    .await
                    .map_err(|source| StartError::Listen {
                        addr: cfg.dns_listen,
                        source,
                    })?];
            if let Some(ip) = c.machine_address() {
                match bind_udp_for_vms(ip, 53) {
                    Ok(s) => {
                        sockets.push(s);
                        // VMs on subnets without `dns_nameservers` resolve through it.
                        c.set_vm_resolvers(vec![ip.into()]);
                    }
                    Err(e) => {
                        tracing::warn!(%ip, error = %e, "VMs cannot reach the DNS server on port 53")
                    }
                }
            }
            for socket in sockets {
                if let Ok(a) = socket.local_addr() {
                    servers.push(a.to_string());
                }
                background.push(tokio::spawn(vitrina_localcloud::dns::serve(
                    socket,
                    c.dns().clone(),
                )));
            }
            tracing::info!(servers = ?servers, "DNS server for ivkcs_dns records");
            service.services.set_dns(c.dns().clone(), servers);
        }
        let home = home::HomeInfo {
            url: base.clone(),
            cloud_network: cloud.as_ref().map(|c| c.network_mode().name().to_owned()),
            agent_url: service.agent_url(),
        };
        router = router.route(
            "/about",
            axum::routing::get(move || {
                let home = home.clone();
                async move { home::render(&home) }
            }),
        );
        // The marketplace pages. Pickers list the built-in cloud's demo project until a
        // consumer signs in with a project of their own.
        let pick_cloud = cloud.as_ref().and_then(|c| {
            let creds = c.credentials();
            let p = creds.projects.get("demo")?;
            vitrina_openstack::Client::new(vitrina_openstack::CloudConfig {
                name: None,
                auth_url: creds.auth_url.clone(),
                auth: vitrina_openstack::AuthMethod::Password {
                    user: vitrina_openstack::UserSpec::Name {
                        name: p.username.clone(),
                        domain: vitrina_openstack::DomainSpec::Name("Default".into()),
                    },
                    password: vitrina_common::Secret::new(p.password.clone()),
                    scope: vitrina_openstack::ScopeSpec::ProjectId(p.id.clone()),
                },
                region_name: Some(creds.region.clone()),
                interface: "public".into(),
                verify: true,
                cacert: None,
                endpoint_overrides: Default::default(),
            })
            .ok()
        });
        let web = web::Web::new(
            Some(web::deployments::Backend::new(osb.clone(), hoe.clone())),
            Arc::new(web::shelf::Shelf::new(products.clone())),
            tenants.clone(),
            cfg.tariffs.clone(),
            pick_cloud,
        );
        web.set_sdf(sdf_deploy_state);
        router = router.merge(web::routes(web));
        // Every route is timed for `/metrics`.
        let router = router.layer(axum::middleware::from_fn_with_state(
            http_metrics.clone(),
            metrics::track,
        ));
        let limits = cfg.limits.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (vm_tx, vm_rx) = tokio::sync::oneshot::channel::<()>();
        if let Some(l) = vm_listener {
            let r = router.clone();
            let limits = cfg.limits.clone();
            tokio::spawn(async move {
                let _ = vitrina_localcloud::serve(l, r, limits, async {
                    let _ = vm_rx.await;
                })
                .await;
            });
        }
        let task = tokio::spawn(async move {
            let r = vitrina_localcloud::serve(listener, router, limits, async {
                let _ = rx.await;
            })
            .await;
            let _ = vm_tx.send(());
            r
        });
        hoe.start();
        tracing::info!(%addr, "vitrina server listening");
        Ok(Server {
            addr,
            url: base,
            engine_token,
            service,
            cloud,
            tenants,
            products,
            metrics: http_metrics,
            osb,
            ready,
            hoe,
            shutdown: Some(tx),
            task,
            background,
        })
    }

    /// `/healthz` answers 200 from now on.
    pub fn set_ready(&self) {
        self.ready.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits until the server stops by itself (an error) or is stopped.
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    }

    /// Stops answering, closes the store and writes localcloud's state.
    pub async fn stop(mut self) {
        self.hoe.stop();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Long-polls end within their wait; do not hang on them.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
        for t in &self.background {
            t.abort();
        }
        self.service.store.close().await;
        if let Some(cloud) = &self.cloud {
            let _ = cloud.shutdown();
        }
    }
}

/// The limits of `vitrina serve`'s listeners (probe M1): at most 4096 connections (the
/// longest-idle one makes room for a new one), headers within 30 s, idle connections closed
/// after 75 s, a request body that sends nothing for 60 s fails.
pub fn default_limits() -> vitrina_localcloud::Limits {
    vitrina_localcloud::Limits::default()
}

/// Binds `ip:port` (the port the server has on loopback), or any port of `ip` when that one is
/// taken there. The address may not exist yet: the data plane adds it to the machine when the
/// first router reaches ext-net, so the socket is bound with `IP_FREEBIND`.
fn bind_for_vms(ip: std::net::Ipv4Addr, port: u16) -> std::io::Result<tokio::net::TcpListener> {
    fn bind(ip: std::net::Ipv4Addr, port: u16) -> std::io::Result<tokio::net::TcpListener> {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.set_freebind_v4(true)?;
        s.set_nonblocking(true)?;
        s.bind(&SocketAddr::from((ip, port)).into())?;
        s.listen(1024)?;
        tokio::net::TcpListener::from_std(s.into())
    }
    bind(ip, port).or_else(|_| bind(ip, 0))
}

/// The DNS server's socket on the machine's ext-net address (`IP_FREEBIND`, as above).
fn bind_udp_for_vms(ip: std::net::Ipv4Addr, port: u16) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_freebind_v4(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::from((ip, port)).into())?;
    tokio::net::UdpSocket::from_std(s.into())
}

/// Reads `DATA/config-token` or creates it; its hash is kept in the store.
async fn engine_token(cfg: &ServerConfig, store: &Store) -> Result<Secret, StartError> {
    let path = cfg.data_dir.join(ENGINE_TOKEN_FILE);
    let token = match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
        _ => {
            let t = crypto::new_token("vte_");
            vitrina_common::fs::write_atomic(&path, format!("{t}\n").as_bytes(), Some(0o600))
                .map_err(|source| StartError::TokenFile {
                    path: path.clone(),
                    source,
                })?;
            t
        }
    };
    store.add_engine_token(&crypto::token_hash(&token)).await?;
    Ok(Secret::new(token))
}

/// `GET /healthz`: 200 `{"status":"ok"}`, or 503 `{"status":"starting"}` while held.
fn healthz(ready: &std::sync::atomic::AtomicBool) -> axum::response::Response {
    use axum::response::IntoResponse;
    if ready.load(std::sync::atomic::Ordering::SeqCst) {
        Json(serde_json::json!({"status": "ok"})).into_response()
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "starting"})),
        )
            .into_response()
    }
}

/// `GET /metrics`: Prometheus text.
async fn metrics(service: &ConfigService, m: &metrics::Metrics) -> axum::response::Response {
    use axum::response::IntoResponse;
    match service.store.counts().await {
        Ok(counts) => {
            let mut out = String::from("# TYPE vitrina_up gauge\nvitrina_up 1\n");
            for (name, n) in counts {
                out.push_str(&format!(
                    "# TYPE vitrina_config_{name} gauge\nvitrina_config_{name} {n}\n"
                ));
            }
            out.push_str(&m.render_http());
            out.push_str(&m.render_sources().await);
            // The deployment system's objects by status.
            if let Ok(by_status) = service.store.hoe_status_counts().await {
                out.push_str("# TYPE vitrina_hoe_objects gauge\n");
                for (status, n) in by_status {
                    out.push_str(&format!("vitrina_hoe_objects{{status=\"{status}\"}} {n}\n"));
                }
            }
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                out,
            )
                .into_response()
        }
        Err(e) => ServerError::from(e).into_response(),
    }
}
