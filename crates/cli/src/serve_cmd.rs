//! `vitrina serve`: the server (config service, store) with `localcloud` under `/cloud/…`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::exit::print_error;
use crate::ExitStatus;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data folder: database, key file, engine token, localcloud
    #[arg(long, default_value = "./vitrina-data")]
    data: PathBuf,
    /// `postgres://…` for PostgreSQL (default: SQLite in the data folder)
    #[arg(long)]
    database: Option<String>,
    /// How long a host may go without a heartbeat or a healthy check before it is failed
    #[arg(long, default_value = "5m")]
    health_timeout: String,
    /// The `vitrina-agent` binary handed to VMs (default: next to this binary)
    #[arg(long, env = "VITRINA_AGENT_BINARY")]
    agent_binary: Option<PathBuf>,
    /// Create a demo vendor, consumer project and broker accounts, upload and publish the
    /// example packages, and write DATA/demo-credentials.json, DATA/clouds.yaml and DATA/demo.env
    /// (idempotent; `/healthz` answers 200 once done)
    #[arg(long)]
    demo: bool,
    /// With `--demo`: the folder of packages to publish (default: the repository's
    /// `examples/packages`)
    #[arg(long, value_name = "DIR")]
    demo_packages: Option<PathBuf>,
    /// The built-in cloud's network: `auto` gives every VM a network of its own when vitrina may
    /// (root, `ip`, `nft`); `shared` runs VMs on this machine's network, each at its own 127.x
    /// address, with security groups not enforced
    #[arg(long, value_enum, default_value_t = CloudNetwork::Auto)]
    cloud_network: CloudNetwork,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CloudNetwork {
    Auto,
    Shared,
}

pub fn run(args: ServeArgs) -> ExitStatus {
    let Some(health_timeout) = vitrina_engine::duration::parse_duration(&args.health_timeout)
    else {
        eprintln!(
            "error: `--health-timeout {}` is not a duration (write `5m`, `90s`, `1h`)",
            args.health_timeout
        );
        return ExitStatus::Usage;
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            print_error(&e);
            return ExitStatus::Usage;
        }
    };
    rt.block_on(serve(args, health_timeout))
}

/// `./examples/packages` when it exists (a checkout), else the repository this binary was built
/// from.
fn demo_packages_dir() -> PathBuf {
    let here = PathBuf::from("examples/packages");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/packages")
}

async fn serve(args: ServeArgs, health_timeout: std::time::Duration) -> ExitStatus {
    let mut cfg = vitrina_server::ServerConfig::new(args.listen, &args.data);
    cfg.database_url = args.database;
    cfg.health_timeout = health_timeout;
    cfg.cloud = true;
    cfg.hold_ready = args.demo;
    cfg.package_schemas = Some(std::sync::Arc::new(vitrina_providers::schemas()));
    cfg.cloud_network = match args.cloud_network {
        CloudNetwork::Auto => vitrina_localcloud::NetworkSetting::Auto,
        CloudNetwork::Shared => vitrina_localcloud::NetworkSetting::Shared,
    };
    cfg.agent_binary = args.agent_binary.or_else(|| {
        let exe = std::env::current_exe().ok()?;
        let p = exe.parent()?.join("vitrina-agent");
        p.is_file().then_some(p)
    });
    if cfg.agent_binary.is_none() {
        eprintln!(
            "warning: no `vitrina-agent` next to this binary, so VMs cannot install the agent; \
             build it with `cargo build --release -p vitrina-agent` or point `--agent-binary` at one"
        );
    }
    let mut server = match vitrina_server::Server::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            print_error(&e);
            return ExitStatus::Usage;
        }
    };
    if args.demo {
        let packages = args.demo_packages.clone().unwrap_or_else(demo_packages_dir);
        match vitrina_server::demo::setup(&server, &args.data, &packages).await {
            Ok(report) => {
                eprint!(
                    "{}",
                    vitrina_server::demo::next_steps(&server, &args.data, &report)
                );
            }
            Err(e) => {
                print_error(&e);
                server.stop().await;
                return ExitStatus::Usage;
            }
        }
    }
    server.set_ready();
    eprintln!(
        "vitrina: serving {} (cloud at {}/cloud); open {} in a browser",
        server.url, server.url, server.url
    );
    let stop = async {
        let ctrl_c = tokio::signal::ctrl_c();
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    };
    let result = tokio::select! {
        r = server.wait() => r,
        _ = stop => Ok(()),
    };
    server.stop().await;
    match result {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            print_error(&e);
            ExitStatus::Usage
        }
    }
}
