//! Service packages: read (folder or zip), validate with diagnostics, build the broker catalog,
//! pack.
//!
//! ```text
//! read_package(path) ─► PackageFiles ─► validate() ─► Validated { diagnostics, sources, model }
//!                                                          └─► catalog::build(model) (no errors)
//! ```
//! The rules and codes are those of `shared/spec/vk-service-package.md`; every code is
//! documented in [`codes`].

pub mod catalog;
mod check;
pub mod codes;
pub mod init;
mod manifest;
mod option;
pub mod pack;
pub mod source;
pub mod validate;
pub mod yaml;

use std::path::Path;

use vitrina_diagnostics::{Diagnostic, Span};

pub use option::OptionDef;
pub use source::{read_package, read_zip_bytes, PackageFiles, ReadError};
pub use validate::{Model, PlanModel, Validated};

/// Validates a package already in memory. A bug in a validator becomes a
/// `package/internal-error` diagnostic rather than a crash.
pub fn validate(files: &PackageFiles) -> Validated {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| validate::validate(files))) {
        Ok(v) => v,
        Err(_) => {
            let mut v = Validated::default();
            v.diagnostics.push(
                Diagnostic::error(
                    codes::PACKAGE_INTERNAL_ERROR,
                    Span::file_start("service.yaml"),
                    "the validator failed on this package (a bug in vitrina)",
                )
                .with_help("please report it with the package attached"),
            );
            v
        }
    }
}

/// Reads and validates a package folder or zip.
///
/// # Errors
/// When the path cannot be read at all.
pub fn validate_path(path: &Path) -> Result<Validated, ReadError> {
    let files = read_package(path)?;
    Ok(validate(&files))
}

/// The broker catalog of a validated package, or `None` when it has errors.
pub fn build_catalog(validated: &Validated) -> Option<serde_json::Value> {
    if validated.diagnostics.has_errors() {
        return None;
    }
    Some(catalog::build(&validated.model))
}
