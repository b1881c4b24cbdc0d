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
pub mod plan_form;
pub mod sdf;
pub mod source;
pub mod validate;
pub mod wizard;
pub mod yaml;

use std::path::Path;

use vitrina_diagnostics::{Diagnostic, Span};
pub use vitrina_hcl::schema::ProviderSchemas;

pub use option::OptionDef;
pub use source::{read_package, read_zip_bytes, zip_file_bytes, PackageFiles, ReadError};
pub use validate::{Model, PlanModel, Validated};

/// Validates a package already in memory. A bug in a validator becomes a
/// `package/internal-error` diagnostic rather than a crash. Manifests' resource types are
/// checked by their provider prefix only: [`validate_with`] checks them against schemas.
pub fn validate(files: &PackageFiles) -> Validated {
    validate_with(files, None)
}

/// [`validate`], checking manifests against the providers' schemas (given as data by the
/// caller: this room does not know the providers).
pub fn validate_with(files: &PackageFiles, schemas: Option<&ProviderSchemas>) -> Validated {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        validate::validate_with(files, schemas)
    })) {
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
    validate_path_with(path, None)
}

/// [`validate_path`] with the providers' schemas.
///
/// # Errors
/// When the path cannot be read at all.
pub fn validate_path_with(
    path: &Path,
    schemas: Option<&ProviderSchemas>,
) -> Result<Validated, ReadError> {
    let files = read_package(path)?;
    Ok(validate_with(&files, schemas))
}

/// The broker catalog of a validated package, or `None` when it has errors.
pub fn build_catalog(validated: &Validated) -> Option<serde_json::Value> {
    if validated.diagnostics.has_errors() {
        return None;
    }
    Some(catalog::build(&validated.model))
}
