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
    /// Deployment jobs this process runs at once
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    hoe_workers: u16,
    /// How long a deployment job's lease lasts without renewal; a dead process's jobs are taken
    /// over by the others once it expires
    #[arg(long, default_value = "30s")]
    hoe_lease: String,
    /// Back-off after a failed deployment attempt (doubles per attempt, at most 60s)
    #[arg(long, default_value = "2s")]
    hoe_backoff: String,
    /// How often running deployments are checked for failed hosts to replace
    #[arg(long, default_value = "10s")]
    recovery_interval: String,
    /// Replacements of one host within an hour before its deployment is given up as `failed`
    #[arg(long, default_value_t = 3)]
    recovery_tries: u16,
    /// End every VM of the built-in cloud when the server stops (throwaway runs and tests;
    /// by default VMs keep running and a restart finds them)
    #[arg(long)]
    stop_servers_on_exit: bool,
    /// Testing: the built-in cloud fails this percentage of write requests with a 500
    #[arg(long, default_value_t = 0, hide = true, value_parser = clap::value_parser!(u8).range(0..=100))]
    cloud_write_faults: u8,
    /// The VM-SDF catalog (from `vitrina sdf build`) served at `/sdf/v1/catalog`, read anew on
    /// each request
    #[arg(long, value_name = "FILE")]
    sdf_catalog: Option<PathBuf>,
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
    let mut durations = Vec::new();
    for (flag, text) in [
        ("--hoe-lease", &args.hoe_lease),
        ("--hoe-backoff", &args.hoe_backoff),
        ("--recovery-interval", &args.recovery_interval),
    ] {
        match vitrina_engine::duration::parse_duration(text) {
            Some(d) if !d.is_zero() => durations.push(d),
            _ => {
                eprintln!("error: `{flag} {text}` is not a duration (write `30s`, `2s`, `1m`)");
                return ExitStatus::Usage;
            }
        }
    }
    let hoe = vitrina_server::hoe::HoeSettings {
        workers: usize::from(args.hoe_workers),
        lease: durations[0],
        backoff_base: durations[1],
        recovery_interval: durations[2],
        recovery_max_tries: usize::from(args.recovery_tries),
        recovery_grace: health_timeout,
        ..vitrina_server::hoe::HoeSettings::default()
    };
    // Structured logs on stderr (`RUST_LOG` filters them).
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| vitrina_server::logging::Filter::DEFAULT.to_owned());
    match vitrina_server::logging::Filter::parse(&directives) {
        Ok(filter) => {
            vitrina_server::logging::install(vitrina_server::logging::LineLogger::new(
                filter,
                std::io::stderr(),
            ));
        }
        Err(e) => {
            eprintln!("error: RUST_LOG: {e}");
            return ExitStatus::Usage;
        }
    }
    let stop_vms = args
        .stop_servers_on_exit
        .then(|| args.data.join("cloud").join("instances"));
    let status = rt.block_on(serve(args, health_timeout, hoe));
    if let Some(instances) = stop_vms {
        vitrina_localcloud::kill_instances(&instances);
    }
    status
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

async fn serve(
    args: ServeArgs,
    health_timeout: std::time::Duration,
    hoe: vitrina_server::hoe::HoeSettings,
) -> ExitStatus {
    let mut cfg = vitrina_server::ServerConfig::new(args.listen, &args.data);
    cfg.hoe = hoe;
    cfg.cloud_write_fault_percent = args.cloud_write_faults;
    cfg.database_url = args.database;
    cfg.health_timeout = health_timeout;
    cfg.cloud = true;
    cfg.hold_ready = args.demo;
    cfg.package_schemas = Some(std::sync::Arc::new(vitrina_providers::schemas()));
    cfg.sdf_catalog = args.sdf_catalog.clone();
    if args.demo && cfg.sdf_catalog.is_none() {
        // The demo lists the seed's VM-SDF examples too.
        let apps = demo_packages_dir().join("../vm-sdf");
        match vitrina_server::demo::build_sdf_catalog(&apps, &args.data) {
            Ok(path) => cfg.sdf_catalog = Some(path),
            Err(e) => {
                print_error(&e);
                return ExitStatus::Usage;
            }
        }
    }
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
