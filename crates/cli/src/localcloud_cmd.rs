//! `vitrina localcloud …`

use clap::Subcommand;

use crate::ExitStatus;

#[derive(Debug, Subcommand)]
pub enum LocalcloudCommand {}

pub fn run(cmd: LocalcloudCommand) -> ExitStatus {
    match cmd {}
}
