//! `vitrina tf …`

use clap::Subcommand;

use crate::ExitStatus;

#[derive(Debug, Subcommand)]
pub enum TfCommand {}

pub fn run(cmd: TfCommand) -> ExitStatus {
    match cmd {}
}
