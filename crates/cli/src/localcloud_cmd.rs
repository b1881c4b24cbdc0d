//! `vitrina localcloud …`: run the `localcloud` OpenStack-API cloud on this machine.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;

use crate::exit::print_error;
use crate::ExitStatus;

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
    },
}

pub fn run(cmd: LocalcloudCommand) -> ExitStatus {
    match cmd {
        LocalcloudCommand::Serve {
            listen,
            data,
            public_url,
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
            rt.block_on(serve(listen, data, public_url))
        }
    }
}

async fn serve(listen: SocketAddr, data: PathBuf, public_url: Option<String>) -> ExitStatus {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitStatus::Usage;
        }
    };
    let addr = listener.local_addr().unwrap_or(listen);
    let base = public_url.unwrap_or_else(|| format!("http://{addr}"));
    let cloud = match vitrina_localcloud::LocalCloud::open(vitrina_localcloud::Config::new(
        &data,
        base.clone(),
    ))
    .await
    {
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
