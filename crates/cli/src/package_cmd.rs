//! `vitrina package …`: validate, build the broker catalog, pack.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use vitrina_diagnostics::{Diagnostic, Diagnostics, SourceMap, Span};
use vitrina_package::{codes, Validated};

use crate::exit::print_error;
use crate::ExitStatus;

#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Write a new package that validates with no diagnostic (a web page on one VM)
    Init(InitArgs),
    /// Check a package folder or zip; exit 0 when there are no errors
    Validate(ValidateArgs),
    /// Write the broker catalog JSON of a package
    Build(BuildArgs),
    /// Validate, then zip a package folder as `<SERVICE>.zip` holding `<SERVICE>/…`
    Pack(PackArgs),
    /// Pack a folder if needed and upload it to a server's product API (vendor's test namespace)
    Upload(crate::upload_cmd::UploadArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The package folder or its zip
    pub path: PathBuf,
    /// Output format of the diagnostics
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Same as `--format json`
    #[arg(long)]
    pub json: bool,
    /// Apply the safe fixes of the diagnostics in place (a folder only), then validate again
    #[arg(long)]
    pub fix: bool,
    /// With `--fix`, apply the unsafe fixes too (fresh ids, guessed values)
    #[arg(long, requires = "fix")]
    pub unsafe_fixes: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The package folder or its zip
    pub path: PathBuf,
    /// Write the catalog to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The package folder
    pub path: PathBuf,
    /// The zip to write (default: `<SERVICE>.zip` in the current folder)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(cmd: PackageCommand) -> ExitStatus {
    match cmd {
        PackageCommand::Init(a) => init(&a),
        PackageCommand::Validate(a) => {
            let format = if a.json { Format::Json } else { a.format };
            let fixed = if a.fix {
                match apply_fixes(&a.path, a.unsafe_fixes) {
                    Ok(n) => Some(n),
                    Err(status) => return status,
                }
            } else {
                None
            };
            validate(&a.path, format, fixed)
        }
        PackageCommand::Build(a) => build(&a.path, a.output.as_deref()),
        PackageCommand::Pack(a) => pack(&a.path, a.output.as_deref()),
        PackageCommand::Upload(a) => crate::upload_cmd::run(&a),
    }
}

/// The prefix shown before relative file paths in text output: the path the user typed.
fn display_prefix(path: &Path) -> String {
    let s = path.to_string_lossy();
    let is_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if is_zip {
        format!("{s}:")
    } else if s.ends_with('/') {
        s.into_owned()
    } else {
        format!("{s}/")
    }
}

fn read(path: &Path) -> Result<Validated, ExitStatus> {
    vitrina_package::validate_path_with(path, Some(&vitrina_providers::schemas())).map_err(|e| {
        print_error(&e);
        ExitStatus::Usage
    })
}

fn summary(diags: &Diagnostics) -> String {
    let e = diags.error_count();
    let w = diags.warning_count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(e, "error"), plural(w, "warning"))
}

fn print_text(path: &Path, v: &Validated) {
    let text = v.sources.render_text(&v.diagnostics, &display_prefix(path));
    eprint!("{text}");
}

/// How many rounds of fixes `--fix` applies at most (a fix may reveal another).
const MAX_FIX_ROUNDS: usize = 4;

/// Applies the diagnostics' fixes (safe ones; unsafe ones too when asked) to the files of a
/// package folder, validating again after each round. Returns how many edits were applied.
fn apply_fixes(path: &Path, unsafe_fixes: bool) -> Result<usize, ExitStatus> {
    if !path.is_dir() {
        eprintln!(
            "error: `--fix` changes files in place: `{}` is not a package folder",
            path.display()
        );
        return Err(ExitStatus::Usage);
    }
    let mut applied = 0;
    for _ in 0..MAX_FIX_ROUNDS {
        let v = read(path)?;
        let edits = vitrina_diagnostics::fix_edits(&v.diagnostics, unsafe_fixes);
        let mut changed = false;
        for (file, edits) in edits {
            // Paths are relative to the folder with `/` separators; nothing may leave it.
            if file.is_empty() || file.split('/').any(|c| c.is_empty() || c == "..") {
                continue;
            }
            let full = path.join(&file);
            let is_file = std::fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_file());
            if !is_file {
                continue;
            }
            let text = match fs_err::read_to_string(&full) {
                Ok(t) => t,
                Err(e) => {
                    print_error(&e);
                    return Err(ExitStatus::Usage);
                }
            };
            // The validator reads files without a byte-order mark; spans count from after it.
            let (bom, body) = match text.strip_prefix('\u{feff}') {
                Some(rest) => ("\u{feff}", rest),
                None => ("", text.as_str()),
            };
            let new = vitrina_diagnostics::apply_edits(body, &edits);
            if new != body {
                if let Err(e) = fs_err::write(&full, format!("{bom}{new}")) {
                    print_error(&e);
                    return Err(ExitStatus::Usage);
                }
                applied += edits.len();
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    eprintln!("{}: applied {applied} fix(es)", path.display());
    Ok(applied)
}

fn validate(path: &Path, format: Format, fixed: Option<usize>) -> ExitStatus {
    let v = match read(path) {
        Ok(v) => v,
        Err(status) => return status,
    };
    let ok = !v.diagnostics.has_errors();
    match format {
        Format::Json => {
            let mut obj = serde_json::json!({
                "ok": ok,
                "diagnostics": v.sources.to_json(&v.diagnostics),
            });
            if let Some(n) = fixed {
                obj["fixed"] = n.into();
            }
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{obj}").is_err() {
                return ExitStatus::Usage;
            }
        }
        Format::Text => {
            let text = v.sources.render_text(&v.diagnostics, &display_prefix(path));
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{text}");
        }
    }
    let verdict = if ok { "valid" } else { "invalid" };
    eprintln!(
        "{}: {verdict} ({})",
        path.display(),
        summary(&v.diagnostics)
    );
    if ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    }
}

fn build(path: &Path, output: Option<&Path>) -> ExitStatus {
    let v = match read(path) {
        Ok(v) => v,
        Err(status) => return status,
    };
    print_text(path, &v);
    let Some(catalog) = vitrina_package::build_catalog(&v) else {
        eprintln!(
            "{}: not built ({})",
            path.display(),
            summary(&v.diagnostics)
        );
        return ExitStatus::Failure;
    };
    let text = vitrina_package::catalog::to_text(&catalog);
    match output {
        Some(file) => {
            if let Err(e) = fs_err::write(file, text) {
                print_error(&e);
                return ExitStatus::Usage;
            }
            eprintln!("{}: catalog written to {}", path.display(), file.display());
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

fn pack(path: &Path, output: Option<&Path>) -> ExitStatus {
    if !path.is_dir() {
        eprintln!("error: `{}` is not a package folder", path.display());
        return ExitStatus::Usage;
    }
    let files = match vitrina_package::read_package(path) {
        Ok(f) => f,
        Err(e) => {
            print_error(&e);
            return ExitStatus::Usage;
        }
    };
    let v = vitrina_package::validate_with(&files, Some(&vitrina_providers::schemas()));
    print_text(path, &v);
    if v.diagnostics.has_errors() {
        eprintln!(
            "{}: not packed ({})",
            path.display(),
            summary(&v.diagnostics)
        );
        return ExitStatus::Failure;
    }
    let out = output.map_or_else(
        || PathBuf::from(format!("{}.zip", files.service_name)),
        Path::to_path_buf,
    );
    match vitrina_package::pack::pack(path, &files, &out) {
        Ok(size) => {
            eprintln!(
                "{}: packed into {} ({size} bytes)",
                path.display(),
                out.display()
            );
            ExitStatus::Success
        }
        Err(vitrina_package::pack::PackError::TooLarge { size }) => {
            let mut diags = Diagnostics::new();
            diags.push(
                Diagnostic::error(
                    codes::PACKAGE_TOO_LARGE,
                    Span::file_start(out.display().to_string()),
                    format!("the zip would have {size} bytes, more than the 30 MB upload limit"),
                )
                .with_help("remove large files the package does not need"),
            );
            eprint!("{}", SourceMap::new().render_text(&diags, ""));
            eprintln!("{}: not packed (1 error)", path.display());
            ExitStatus::Failure
        }
        Err(e) => {
            print_error(&e);
            ExitStatus::Usage
        }
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The package (service folder) name
    pub name: String,
    /// The folder to create the package in
    #[arg(long, value_name = "PARENT", default_value = ".")]
    pub dir: PathBuf,
    /// Plan names, comma-separated
    #[arg(long, value_delimiter = ',', default_value = vitrina_package::init::DEFAULT_PLAN)]
    pub plans: Vec<String>,
    /// Generator version written to version.yaml
    #[arg(long, value_parser = ["0.0.1", "1.0.0"], default_value = "1.0.0")]
    pub generator: String,
}

fn init(a: &InitArgs) -> ExitStatus {
    use vitrina_package::init::{init_package, InitOptions};
    let created = a.generator.parse().and_then(|generator| {
        init_package(
            &a.dir,
            &a.name,
            &InitOptions {
                plans: a.plans.clone(),
                generator,
            },
        )
    });
    match created {
        Ok(root) => {
            eprintln!(
                "created {} (check it with `vitrina package validate {}`)",
                root.display(),
                root.display()
            );
            ExitStatus::Success
        }
        Err(e) => {
            print_error(&e);
            ExitStatus::Usage
        }
    }
}
