//! The `vitrina` binary: parses arguments, calls a library, prints. Each command family lives in
//! its own module with its clap types and a `run` that returns an [`ExitStatus`].

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod exit;
mod localcloud_cmd;
mod package_cmd;
mod serve_cmd;
mod tf_cmd;
mod upload_cmd;

pub use exit::ExitStatus;

/// glibc's allocator fragments under the engine's many small, long-lived values; with mimalloc,
/// plan + apply and no-change plans of large states run 1.5–2.3× faster (the `plan_apply` and
/// `plan_apply_system_alloc` benches of `vitrina-engine`, figures in its README).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// vitrina: a self-hosted application marketplace for VM clouds.
#[derive(Debug, Parser)]
#[command(name = "vitrina", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Service packages: create, validate, build the broker catalog, pack
    #[command(subcommand)]
    Package(package_cmd::PackageCommand),
    /// Run a Terraform-language manifest folder like Terraform would
    #[command(subcommand)]
    Tf(tf_cmd::TfCommand),
    /// An OpenStack-API cloud on this machine
    #[command(subcommand)]
    Localcloud(localcloud_cmd::LocalcloudCommand),
    /// The server: config service for agents and `ivkcs`, with localcloud under /cloud
    Serve(serve_cmd::ServeArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout with exit 0, usage errors to stderr with 2.
            let _ = err.print();
            return if err.use_stderr() {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Success.into()
            };
        }
    };
    let status = match cli.command {
        Command::Package(cmd) => package_cmd::run(cmd),
        Command::Tf(cmd) => tf_cmd::run(cmd),
        Command::Localcloud(cmd) => localcloud_cmd::run(cmd),
        Command::Serve(args) => serve_cmd::run(args),
    };
    let _ = std::io::stdout().flush();
    status.into()
}
