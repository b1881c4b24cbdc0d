//! `vitrina localcloud …`: run the `localcloud` OpenStack-API cloud on this machine.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;

use crate::exit::print_error;
use crate::ExitStatus;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FixturesArg {
    None,
    Devstack,
}

#[derive(Debug, Subcommand)]
pub enum LocalcloudCommand {
    /// Serve Keystone, Nova, Neutron, Cinder and Glance APIs on one address
    Serve {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:8780")]
        listen: SocketAddr,
        /// Data folder: state, images, instance folders, clouds.yaml
        #[arg(long, default_value = "./localcloud-data")]
        data: PathBuf,
        /// External base URL written into the catalog and clouds.yaml (default `http://LISTEN`)
        #[arg(long)]
        public_url: Option<String>,
        /// What to create on first start besides the bootstrap: `devstack` makes devstack's
        /// flavors, CirrOS image, `public`/`private` networks, `router1`, zone `nova`, the
        /// `alt_demo` tenant and the `devstack*` clouds in clouds.yaml
        #[arg(long, value_enum, default_value = "none")]
        fixtures: FixturesArg,
        /// Stop every server (and its network namespace) when localcloud exits, instead of
        /// leaving them running for the next start (test runs)
        #[arg(long)]
        stop_servers_on_exit: bool,
    },
    /// Run a command inside a server: in its network namespace and its folder, printing its
    /// output and exit code (`vitrina localcloud exec web-1 -- ip addr`)
    Exec {
        /// Data folder of the localcloud
        #[arg(long, default_value = "./localcloud-data")]
        data: PathBuf,
        /// Server id or name
        server: String,
        /// The command and its arguments
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

pub fn run(cmd: LocalcloudCommand) -> ExitStatus {
    match cmd {
        LocalcloudCommand::Exec {
            data,
            server,
            command,
        } => exec(&data, &server, &command),
        LocalcloudCommand::Serve {
            listen,
            data,
            public_url,
            fixtures,
            stop_servers_on_exit,
        } => {
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
            let fixtures = match fixtures {
                FixturesArg::None => vitrina_localcloud::Fixtures::None,
                FixturesArg::Devstack => vitrina_localcloud::Fixtures::Devstack,
            };
            let status = rt.block_on(serve(listen, data.clone(), public_url, fixtures));
            if stop_servers_on_exit {
                vitrina_localcloud::kill_instances(&data.join("instances"));
            }
            status
        }
    }
}

async fn serve(
    listen: SocketAddr,
    data: PathBuf,
    public_url: Option<String>,
    fixtures: vitrina_localcloud::Fixtures,
) -> ExitStatus {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitStatus::Usage;
        }
    };
    let addr = listener.local_addr().unwrap_or(listen);
    let base = public_url.unwrap_or_else(|| format!("http://{addr}"));
    let mut config = vitrina_localcloud::Config::new(&data, base.clone());
    config.fixtures = fixtures;
    let cloud = match vitrina_localcloud::LocalCloud::open(config).await {
        Ok(c) => c,
        Err(e) => {
            print_error(&e);
            return ExitStatus::Usage;
        }
    };
    if let Err(e) = cloud.write_client_files() {
        print_error(&e);
        return ExitStatus::Usage;
    }
    eprintln!("localcloud: serving {base} (identity {base}/identity/v3)");
    match cloud.network_mode() {
        vitrina_localcloud::NetworkMode::Isolated => eprintln!(
            "localcloud: isolated networks (namespaces, bridges and nftables named {}-*)",
            cloud.kernel_prefix()
        ),
        vitrina_localcloud::NetworkMode::Shared { reason } => eprintln!(
            "localcloud: shared-network mode: {reason}; servers use this machine's network, each with its own 127.x address, and security groups are not enforced"
        ),
    }
    eprintln!(
        "localcloud: clouds.yaml at {}",
        data.join("clouds.yaml").display()
    );
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
    };
    // Connection limit and header, idle and body timeouts (see `Limits`).
    let result = vitrina_localcloud::serve(
        listener,
        cloud.router(),
        vitrina_localcloud::Limits::default(),
        shutdown,
    )
    .await;
    if let Err(e) = cloud.shutdown() {
        print_error(&e);
    }
    match result {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            print_error(&e);
            ExitStatus::Usage
        }
    }
}

fn exec(data: &std::path::Path, server: &str, command: &[String]) -> ExitStatus {
    let place = match vitrina_localcloud::locate_server(data, server) {
        Ok(p) => p,
        Err(e) => {
            print_error(&e);
            return ExitStatus::Failure;
        }
    };
    let Some((program, args)) = command.split_first() else {
        eprintln!("error: no command given after `--`");
        return ExitStatus::Usage;
    };
    let init = place
        .netns
        .as_ref()
        .and_then(|_| vitrina_localcloud::hypervisor::instance_init(&place.dir));
    let nsenter = vitrina_localcloud::dataplane::find_tool("nsenter");
    let mut cmd = match (&place.netns, init, nsenter) {
        // A contained server: its user (as its root), mount (its own `/` and working folder),
        // UTS, IPC, network and PID namespaces, with its environment.
        (Some(_), Some((pid, true)), Some(nsenter)) => {
            let mut c = std::process::Command::new(nsenter);
            c.args([
                "-t",
                &pid.to_string(),
                "-U",
                "-m",
                "-u",
                "-i",
                "-n",
                "-p",
                "-r",
                "-w",
            ])
            .arg("--")
            .arg(program);
            c.env_clear()
                .env("PATH", vitrina_localcloud::hypervisor::rootfs::VM_PATH)
                .env("LANG", "C.UTF-8")
                .env("VITRINA_ROOT", "/")
                .env("HOME", "/root");
            c
        }
        // The server's own network, hostname, process tree and /proc.
        (Some(_), Some((pid, false)), Some(nsenter)) => {
            let mut c = std::process::Command::new(nsenter);
            c.args(["-t", &pid.to_string(), "-n", "-u", "-p", "-m", "--"])
                .arg(program);
            c.current_dir(&place.dir)
                .env("VITRINA_ROOT", &place.dir)
                .env("HOME", place.dir.join("root"));
            c
        }
        (Some(ns), _, _) => {
            let Some(ip) = vitrina_localcloud::dataplane::find_tool("ip") else {
                eprintln!("error: `ip` is missing (install the Debian package iproute2)");
                return ExitStatus::Usage;
            };
            let mut c = std::process::Command::new(ip);
            c.args(["netns", "exec", ns]).arg(program);
            c.current_dir(&place.dir)
                .env("VITRINA_ROOT", &place.dir)
                .env("HOME", place.dir.join("root"));
            c
        }
        (None, _, _) => {
            let mut c = std::process::Command::new(program);
            c.current_dir(&place.dir)
                .env("VITRINA_ROOT", &place.dir)
                .env("HOME", place.dir.join("root"));
            c
        }
    };
    cmd.args(args)
        .env("VITRINA_INSTANCE_ID", &place.id)
        .env("VITRINA_INSTANCE_NAME", &place.name);
    match cmd.status() {
        Ok(status) => {
            let code = status.code().unwrap_or(-1);
            eprintln!("localcloud exec: {} exited with code {code}", program);
            if status.success() {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            }
        }
        Err(e) => {
            eprintln!("error: cannot run `{program}` in server {}: {e}", place.id);
            ExitStatus::Usage
        }
    }
}
