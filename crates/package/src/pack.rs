//! `vitrina package pack`: a package folder into `<SERVICE>.zip` holding `<SERVICE>/…`.
//!
//! The zip is deterministic (entries in path order, a fixed timestamp, fixed permissions) and
//! written to a temporary file beside the target, renamed into place only when it is within the
//! upload limit.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

use crate::source::{PackageFiles, MAX_ZIP_BYTES};

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the zip `{}`", path.display())]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error(
        "the zip would have {size} bytes, more than the {MAX_ZIP_BYTES}-byte (30 MB) upload limit"
    )]
    TooLarge { size: u64 },
}

/// Packs the folder `dir` (already read into `files`) into `out`. Returns the zip's size.
///
/// # Errors
/// On I/O problems, or [`PackError::TooLarge`] (then nothing is left at `out`).
pub fn pack(dir: &Path, files: &PackageFiles, out: &Path) -> Result<u64, PackError> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| PackError::Write {
        path: parent.to_owned(),
        source: e,
    })?;
    let zip_err = |e| PackError::Zip {
        path: out.to_owned(),
        source: e,
    };
    let mut zip = zip::ZipWriter::new(tmp.as_file());
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let dir_opts = opts.unix_permissions(0o755);
    let root = &files.service_name;
    zip.add_directory(format!("{root}/"), dir_opts)
        .map_err(zip_err)?;
    for d in &files.dirs {
        zip.add_directory(format!("{root}/{d}/"), dir_opts)
            .map_err(zip_err)?;
    }
    let skip = rel_inside(dir, out);
    for (rel, file) in &files.files {
        if skip.as_deref() == Some(rel.as_str()) {
            // The zip being written (or an older one) sits inside the package: never pack it.
            continue;
        }
        zip.start_file(format!("{root}/{rel}"), opts)
            .map_err(zip_err)?;
        match &file.data {
            Some(data) => zip.write_all(data).map_err(|e| PackError::Write {
                path: out.to_owned(),
                source: e,
            })?,
            None => {
                let path = dir.join(rel);
                let mut f = fs_err::File::open(&path).map_err(|e| PackError::Read {
                    path: path.clone(),
                    source: e,
                })?;
                std::io::copy(&mut f, &mut zip).map_err(|e| PackError::Read { path, source: e })?;
            }
        }
    }
    zip.finish().map_err(zip_err)?;
    let size = tmp
        .as_file()
        .metadata()
        .map_err(|e| PackError::Write {
            path: out.to_owned(),
            source: e,
        })?
        .len();
    if size > MAX_ZIP_BYTES {
        return Err(PackError::TooLarge { size });
    }
    tmp.persist(out).map_err(|e| PackError::Write {
        path: out.to_owned(),
        source: e.error,
    })?;
    Ok(size)
}

/// `out` relative to `dir` (with `/`), when `out` is inside `dir`.
fn rel_inside(dir: &Path, out: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.canonicalize().ok()?,
        _ => std::env::current_dir().ok()?,
    };
    let full = parent.join(out.file_name()?);
    let rel = full.strip_prefix(&dir).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}
