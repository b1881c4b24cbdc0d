//! `vitrina sdf …`: validate VM-SDF application files, build the one catalog document.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use vitrina_diagnostics::Diagnostics;
use vitrina_package::sdf::{self, SdfValidated};

use crate::exit::print_error;
use crate::package_cmd::Format;
use crate::ExitStatus;

#[derive(Debug, Subcommand)]
pub enum SdfCommand {
    /// Check one app file or a folder of them; exit 0 when there are no errors
    Validate(ValidateArgs),
    /// Compile a folder of apps into the one catalog YAML (deterministic)
    Build(BuildArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// An app file (`*.yml`/`*.yaml`) or a folder of them
    pub path: PathBuf,
    /// Output format of the diagnostics
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Same as `--format json`
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The folder of app files
    pub dir: PathBuf,
    /// Write the catalog to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(cmd: SdfCommand) -> ExitStatus {
    match cmd {
        SdfCommand::Validate(a) => {
            let format = if a.json { Format::Json } else { a.format };
            validate(&a.path, format)
        }
        SdfCommand::Build(a) => build(&a.dir, a.output.as_deref()),
    }
}

fn read(path: &Path) -> Result<SdfValidated, ExitStatus> {
    sdf::validate_path(path).map_err(|e| {
        print_error(&e);
        ExitStatus::Usage
    })
}

/// The prefix shown before file names: the folder as typed (a single file is named alone).
fn prefix(path: &Path) -> String {
    if !path.is_dir() {
        return path
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty())
            .map(|p| format!("{}/", p.trim_end_matches('/')))
            .unwrap_or_default();
    }
    let s = path.to_string_lossy();
    if s.ends_with('/') {
        s.into_owned()
    } else {
        format!("{s}/")
    }
}

fn summary(diags: &Diagnostics) -> String {
    let e = diags.error_count();
    let w = diags.warning_count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(e, "error"), plural(w, "warning"))
}

fn validate(path: &Path, format: Format) -> ExitStatus {
    let v = match read(path) {
        Ok(v) => v,
        Err(status) => return status,
    };
    let ok = v.ok();
    let mut out = std::io::stdout().lock();
    let written = match format {
        Format::Json => {
            let obj = serde_json::json!({
                "ok": ok,
                "diagnostics": v.sources.to_json(&v.diagnostics),
            });
            writeln!(out, "{obj}")
        }
        Format::Text => write!(
            out,
            "{}",
            v.sources.render_text(&v.diagnostics, &prefix(path))
        ),
    };
    if written.is_err() {
        return ExitStatus::Usage;
    }
    let verdict = if ok { "valid" } else { "invalid" };
    eprintln!(
        "{}: {verdict} ({} application{}, {})",
        path.display(),
        v.apps.len(),
        if v.apps.len() == 1 { "" } else { "s" },
        summary(&v.diagnostics)
    );
    if ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    }
}

fn build(dir: &Path, output: Option<&Path>) -> ExitStatus {
    if !dir.is_dir() {
        if dir.exists() {
            eprintln!("error: `{}` is not a folder of app files", dir.display());
        } else {
            eprintln!("error: `{}` does not exist", dir.display());
        }
        return ExitStatus::Usage;
    }
    let v = match read(dir) {
        Ok(v) => v,
        Err(status) => return status,
    };
    eprint!("{}", v.sources.render_text(&v.diagnostics, &prefix(dir)));
    let Some(text) = sdf::build_catalog(&v) else {
        eprintln!("{}: not built ({})", dir.display(), summary(&v.diagnostics));
        return ExitStatus::Failure;
    };
    match output {
        Some(file) => {
            if let Err(e) = fs_err::write(file, text.as_bytes()) {
                print_error(&e);
                return ExitStatus::Usage;
            }
            eprintln!(
                "{}: catalog of {} application{} written to {}",
                dir.display(),
                v.apps.len(),
                if v.apps.len() == 1 { "" } else { "s" },
                file.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            if out.write_all(text.as_bytes()).is_err() {
                return ExitStatus::Usage;
            }
        }
    }
    ExitStatus::Success
}
