//! Exit status, chosen once at the top (see `shared/spec/contracts.md`): 0 success, 1 invalid
//! input or failed operation (diagnostics printed), 2 wrong usage or an I/O problem.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The command did what was asked.
    Success,
    /// The input is invalid or the operation failed; diagnostics were printed.
    Failure,
    /// Wrong usage or an I/O problem (file missing, port busy).
    Usage,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Usage => ExitCode::from(2),
        }
    }
}

/// Prints an error with its cause chain to stderr in the project's style: `error: …` then
/// `  caused by: …` lines.
pub fn print_error(err: &(dyn std::error::Error + 'static)) {
    eprintln!("error: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
}
