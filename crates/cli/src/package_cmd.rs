//! `vitrina package …`

use clap::Subcommand;

use crate::ExitStatus;

#[derive(Debug, Subcommand)]
pub enum PackageCommand {}

pub fn run(cmd: PackageCommand) -> ExitStatus {
    match cmd {}
}
