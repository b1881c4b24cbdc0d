//! Reading a package into memory from a folder or a zip, safely.
//!
//! Nothing is ever extracted to disk: zip entries are streamed one at a time through a
//! decompressor with a size cap, so a hostile archive cannot write anywhere, and the zip file
//! itself is read from disk once (central directory, then each entry), never loaded whole.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};

use crate::codes;

/// The upload limit of a packed package.
pub const MAX_ZIP_BYTES: u64 = 30 * 1024 * 1024;
/// Above this ratio of uncompressed to compressed size an entry is treated as a zip bomb.
pub const MAX_EXPANSION_RATIO: u64 = 100;
/// Entries smaller than this are not held to the ratio: tiny, highly repetitive text files
/// (a YAML file of spaces) legitimately compress more than 100 times.
const RATIO_FLOOR: u64 = 1024 * 1024;
/// The most bytes all entries may expand to together.
const MAX_TOTAL_BYTES: u64 = 512 * 1024 * 1024;
/// The most entries or files a package may have.
const MAX_ENTRIES: usize = 20_000;
/// Text files validation reads (YAML, Markdown, `.tf`) are kept in memory up to this size each.
pub const MAX_TEXT_FILE: u64 = 16 * 1024 * 1024;
/// All kept files together are at most this large; past it, files are only measured.
pub const MAX_KEPT_TOTAL: u64 = 64 * 1024 * 1024;
/// Of every file, this many first bytes are kept (enough for an image's header: a PNG's size
/// is in its first 24 bytes).
pub const HEAD_BYTES: usize = 64;
/// Folders nest at most this deep.
const MAX_DEPTH: usize = 32;

/// A file of a package: its size, its first bytes, and all its bytes when validation reads it
/// (text files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    pub size: u64,
    /// The first [`HEAD_BYTES`] bytes (fewer for a shorter file) when `data` is not kept.
    pub head: Vec<u8>,
    pub data: Option<Vec<u8>>,
}

impl PackageFile {
    /// The file's first bytes, from `data` when it is kept.
    pub fn head(&self) -> &[u8] {
        match &self.data {
            Some(d) => d.get(..HEAD_BYTES).unwrap_or(d),
            None => &self.head,
        }
    }
}

/// A package read into memory: paths relative to the service folder, with `/` separators.
#[derive(Debug, Clone, Default)]
pub struct PackageFiles {
    /// The service folder's name (`<SERVICE>`).
    pub service_name: String,
    pub files: BTreeMap<String, PackageFile>,
    /// Every folder (relative path), including the parents of every file.
    pub dirs: BTreeSet<String>,
    /// Problems found while reading (`package/bad-name`, `package/unsafe-archive`).
    pub diagnostics: Diagnostics,
}

impl PackageFiles {
    pub fn text(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path)?.data.as_deref()
    }

    pub fn has_file(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    pub fn has_dir(&self, path: &str) -> bool {
        self.dirs.contains(path)
    }

    /// Files directly inside `dir` (not in its subfolders), sorted.
    pub fn files_in<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{dir}/");
        self.files
            .range(prefix.clone()..)
            .map(|(k, _)| k.as_str())
            .take_while(move |k| k.starts_with(&prefix))
            .filter(move |k| {
                k.get(dir.len() + 1..)
                    .is_some_and(|rest| !rest.contains('/'))
            })
    }

    /// Sub-folders directly inside `dir`, sorted.
    pub fn dirs_in<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{dir}/");
        self.dirs
            .range(prefix.clone()..)
            .map(|k| k.as_str())
            .take_while(move |k| k.starts_with(&prefix))
            .filter(move |k| {
                k.get(dir.len() + 1..)
                    .is_some_and(|rest| !rest.contains('/'))
            })
    }

    fn insert(&mut self, rel: &str, file: PackageFile) {
        let mut dir = rel;
        while let Some((parent, _)) = dir.rsplit_once('/') {
            self.dirs.insert(parent.to_owned());
            dir = parent;
        }
        self.files.insert(rel.to_owned(), file);
    }

    /// Adds a file from memory (tests, generators).
    pub fn add(&mut self, rel: &str, data: Vec<u8>) {
        let size = data.len() as u64;
        self.insert(
            rel,
            PackageFile {
                size,
                head: Vec::new(),
                data: Some(data),
            },
        );
    }
}

/// Whether a file or folder name uses only ASCII letters, digits, `_`, `-`, `.`.
pub fn is_good_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Why a package could not be read at all (the package's own mistakes are diagnostics instead).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("`{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a readable zip archive", path.display())]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("`{}` is neither a package folder nor a `.zip` file", path.display())]
    NotAPackage { path: PathBuf },
}

/// Reads a package folder or zip.
///
/// # Errors
/// When the path cannot be read at all; problems inside the package become diagnostics.
pub fn read_package(path: &Path) -> Result<PackageFiles, ReadError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound {
                path: path.to_owned(),
            }
        } else {
            ReadError::Io {
                path: path.to_owned(),
                source: e,
            }
        }
    })?;
    let meta = if meta.file_type().is_symlink() {
        // The path the user typed may be a link; links inside the package are refused.
        std::fs::metadata(path).map_err(|e| ReadError::Io {
            path: path.to_owned(),
            source: e,
        })?
    } else {
        meta
    };
    if meta.is_dir() {
        read_dir(path)
    } else if meta.is_file() {
        let file = fs_err::File::open(path).map_err(|e| ReadError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        read_zip(std::io::BufReader::new(file), &stem).map_err(|ZipReadError::Zip(source)| {
            ReadError::Zip {
                path: path.to_owned(),
                source,
            }
        })
    } else {
        Err(ReadError::NotAPackage {
            path: path.to_owned(),
        })
    }
}

/// Whether validation needs a file's bytes. Everything else (scripts, archives, large assets)
/// is only measured, so a big package never sits in memory whole.
pub fn wants_data(rel: &str, size: u64) -> bool {
    is_text_file(rel) && size <= MAX_TEXT_FILE
}

/// Files that validation reads as text.
pub fn is_text_file(rel: &str) -> bool {
    let ext = rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(ext.as_deref(), Some("yaml" | "yml" | "md" | "tf"))
}

fn read_dir(root: &Path) -> Result<PackageFiles, ReadError> {
    let mut pkg = PackageFiles {
        service_name: root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default(),
        ..PackageFiles::default()
    };
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(root.to_owned(), String::new(), 0)];
    let mut count = 0usize;
    let mut kept: u64 = 0;
    let mut links = HardLinks::default();
    while let Some((dir, rel_dir, depth)) = stack.pop() {
        let io = |e: std::io::Error| ReadError::Io {
            path: dir.clone(),
            source: e,
        };
        let mut entries: Vec<_> = fs_err::read_dir(&dir)
            .map_err(io)?
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort_by_key(fs_err::DirEntry::file_name);
        for entry in entries {
            count += 1;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel_dir.is_empty() {
                name.clone()
            } else {
                format!("{rel_dir}/{name}")
            };
            if count > MAX_ENTRIES {
                pkg.diagnostics.push(
                    Diagnostic::error(
                        codes::PACKAGE_TOO_LARGE,
                        Span::file_start(rel),
                        format!("the package has more than {MAX_ENTRIES} files"),
                    )
                    .with_help("remove files the package does not need"),
                );
                return Ok(pkg);
            }
            let ft = entry.file_type().map_err(io)?;
            if ft.is_symlink() {
                pkg.diagnostics.push(
                    Diagnostic::error(
                        codes::PACKAGE_UNSAFE_ARCHIVE,
                        Span::file_start(rel.clone()),
                        format!("`{rel}` is a link; links are not allowed in a package"),
                    )
                    .with_help("replace the link with the file it points to"),
                );
            } else if ft.is_dir() {
                pkg.dirs.insert(rel.clone());
                if depth + 1 < MAX_DEPTH {
                    stack.push((entry.path(), rel, depth + 1));
                } else {
                    // Probe L11: what lies deeper is reported, never silently left out.
                    pkg.diagnostics.push(
                        Diagnostic::error(
                            codes::PACKAGE_UNSAFE_ARCHIVE,
                            Span::file_start(rel.clone()),
                            format!(
                                "`{rel}` is nested deeper than {MAX_DEPTH} folders (the depth limit); its content is not read"
                            ),
                        )
                        .with_help("flatten the folder structure"),
                    );
                }
            } else if ft.is_file() {
                let meta = entry.metadata().map_err(io)?;
                let size = meta.len();
                links.note(&rel, &meta);
                let (head, data) =
                    if wants_data(&rel, size) && kept.saturating_add(size) <= MAX_KEPT_TOTAL {
                        let bytes = fs_err::read(entry.path()).map_err(io)?;
                        kept = kept.saturating_add(bytes.len() as u64);
                        (Vec::new(), Some(bytes))
                    } else {
                        let mut head = Vec::new();
                        fs_err::File::open(entry.path())
                            .and_then(|f| f.take(HEAD_BYTES as u64).read_to_end(&mut head))
                            .map_err(io)?;
                        (head, None)
                    };
                pkg.insert(&rel, PackageFile { size, head, data });
            }
        }
    }
    links.report(&mut pkg);
    Ok(pkg)
}

#[derive(Debug)]
enum ZipReadError {
    Zip(zip::result::ZipError),
}

fn unsafe_entry(pkg: &mut PackageFiles, name: &str, why: &str) {
    pkg.diagnostics.push(
        Diagnostic::error(
            codes::PACKAGE_UNSAFE_ARCHIVE,
            Span::file_start(name.to_owned()),
            format!("zip entry `{name}` {why}"),
        )
        .with_help("pack the package folder with `vitrina package pack`"),
    );
}

/// Reads a zip from any seekable reader. Entries must sit under one `<SERVICE>/` folder (or the
/// package is at the archive's root, named after the zip file).
fn read_zip<R: std::io::Read + std::io::Seek>(
    mut reader: R,
    stem: &str,
) -> Result<PackageFiles, ZipReadError> {
    let mut pkg = PackageFiles::default();
    // Probe L8: the entry count from the end record, before the central directory is parsed.
    if let Some(n) = declared_entries(&mut reader) {
        if n > MAX_ENTRIES as u64 {
            pkg.diagnostics.push(
                Diagnostic::error(
                    codes::PACKAGE_TOO_LARGE,
                    Span::file_start(String::new()),
                    format!(
                        "the zip declares {n} entries, more than {MAX_ENTRIES} (the entry limit)"
                    ),
                )
                .with_help("remove files the package does not need"),
            );
            return Ok(pkg);
        }
    }
    let mut seen_raw = BTreeSet::new();
    for name in central_names(&mut reader).unwrap_or_default() {
        if !seen_raw.insert(name.clone()) {
            unsafe_entry(&mut pkg, &name, "appears twice in the zip");
        }
    }
    let mut archive = zip::ZipArchive::new(reader).map_err(ZipReadError::Zip)?;
    if archive.len() > MAX_ENTRIES {
        pkg.diagnostics.push(
            Diagnostic::error(
                codes::PACKAGE_TOO_LARGE,
                Span::file_start(String::new()),
                format!("the zip has more than {MAX_ENTRIES} entries"),
            )
            .with_help("remove files the package does not need"),
        );
        return Ok(pkg);
    }
    // First pass over the central directory only: names, kinds, sizes.
    let mut names: Vec<(usize, String, bool)> = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(ZipReadError::Zip)?;
        let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let name = raw.replace('\\', "/");
        if name.starts_with("__MACOSX/") {
            continue;
        }
        let is_link = entry
            .unix_mode()
            .is_some_and(|m| m & 0o170_000 == 0o120_000);
        let absolute =
            name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') || raw.starts_with('\\');
        if absolute {
            unsafe_entry(&mut pkg, &name, "has an absolute path");
            continue;
        }
        if name.split('/').any(|c| c == "..") {
            unsafe_entry(&mut pkg, &name, "has a `..` path component");
            continue;
        }
        if is_link {
            unsafe_entry(&mut pkg, &name, "is a link");
            continue;
        }
        if entry.encrypted() {
            unsafe_entry(&mut pkg, &name, "is encrypted");
            continue;
        }
        let is_dir = entry.is_dir() || name.ends_with('/');
        names.push((i, name, is_dir));
    }
    // The service folder: the one top-level folder, unless the package sits at the root.
    let tops: BTreeSet<&str> = names
        .iter()
        .map(|(_, n, dir)| match n.split_once('/') {
            Some((top, _)) => top,
            None if *dir => n.as_str(),
            None => "",
        })
        .collect();
    let prefix = match tops.iter().next() {
        Some(top) if tops.len() == 1 && !top.is_empty() => {
            pkg.service_name = (*top).to_owned();
            format!("{top}/")
        }
        _ => {
            pkg.service_name = stem.to_owned();
            String::new()
        }
    };
    let mut total: u64 = 0;
    let mut kept: u64 = 0;
    // Probe L9: a name given twice (or twice but for case) is an error, not a silent choice.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (i, name, is_dir) in names {
        let rel = name
            .strip_prefix(&prefix)
            .unwrap_or(&name)
            .trim_end_matches('/')
            .to_owned();
        if !rel.is_empty() {
            match seen.get(&rel.to_lowercase()) {
                Some(first) if *first == rel && is_dir => continue,
                Some(first) if *first == rel => {
                    unsafe_entry(&mut pkg, &name, "appears twice in the zip");
                    continue;
                }
                Some(first) => {
                    let why = format!("differs from the entry `{first}` only in letter case");
                    unsafe_entry(&mut pkg, &name, &why);
                    continue;
                }
                None => {
                    seen.insert(rel.to_lowercase(), rel.clone());
                }
            }
        }
        if rel.is_empty() || rel.split('/').any(|c| c.is_empty() || c == ".") {
            if !rel.is_empty() {
                unsafe_entry(&mut pkg, &name, "has an empty or `.` path component");
            }
            continue;
        }
        if rel.split('/').count() > MAX_DEPTH {
            let why = format!("is nested deeper than {MAX_DEPTH} folders (the depth limit)");
            unsafe_entry(&mut pkg, &name, &why);
            continue;
        }
        if is_dir {
            pkg.dirs.insert(rel);
            continue;
        }
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                unsafe_entry(&mut pkg, &name, &format!("cannot be read: {e}"));
                continue;
            }
        };
        let compressed = entry.compressed_size();
        let declared = entry.size();
        let ratio_cap = compressed
            .saturating_mul(MAX_EXPANSION_RATIO)
            .max(RATIO_FLOOR);
        if declared > ratio_cap {
            unsafe_entry(
                &mut pkg,
                &name,
                &format!(
                    "expands {declared} bytes from {compressed}: a ratio above {MAX_EXPANSION_RATIO}"
                ),
            );
            continue;
        }
        // Stream it through a cap: the declared size may lie.
        let remaining = MAX_TOTAL_BYTES.saturating_sub(total);
        let cap = ratio_cap.min(remaining);
        // Keep at most the per-file and total budgets in memory; stream the rest to nowhere
        // (still counted, for the expansion checks).
        let keep_limit = if wants_data(&rel, declared) {
            MAX_TEXT_FILE.min(MAX_KEPT_TOTAL.saturating_sub(kept))
        } else {
            0
        };
        let mut data = Vec::new();
        let mut limited = (&mut entry).take(cap.saturating_add(1));
        let first = if keep_limit > 0 {
            keep_limit.saturating_add(1)
        } else {
            HEAD_BYTES as u64
        };
        let read = (&mut limited)
            .take(first)
            .read_to_end(&mut data)
            .and_then(|first| {
                std::io::copy(&mut limited, &mut std::io::sink())
                    .map(|rest| (first as u64).saturating_add(rest))
            });
        let keep = keep_limit > 0 && data.len() as u64 <= keep_limit;
        let read = match read {
            Ok(n) => n,
            Err(e) => {
                unsafe_entry(&mut pkg, &name, &format!("cannot be decompressed: {e}"));
                continue;
            }
        };
        if read > cap {
            let why = if cap == remaining {
                format!("makes the archive expand to more than {MAX_TOTAL_BYTES} bytes")
            } else {
                format!("expands more than {MAX_EXPANSION_RATIO} times its compressed size")
            };
            unsafe_entry(&mut pkg, &name, &why);
            continue;
        }
        total = total.saturating_add(read);
        if keep {
            kept = kept.saturating_add(read);
        }
        pkg.insert(
            &rel,
            if keep {
                PackageFile {
                    size: read,
                    head: Vec::new(),
                    data: Some(data),
                }
            } else {
                data.truncate(HEAD_BYTES);
                PackageFile {
                    size: read,
                    head: data,
                    data: None,
                }
            },
        );
    }
    Ok(pkg)
}

/// Reads a zip held in memory (tests and the fuzz target).
///
/// # Errors
/// When the bytes are not a zip archive.
pub fn read_zip_bytes(bytes: &[u8], stem: &str) -> Result<PackageFiles, zip::result::ZipError> {
    read_zip(std::io::Cursor::new(bytes), stem).map_err(|ZipReadError::Zip(z)| z)
}

/// One file of a package zip (a path relative to the service folder, such as `images/icon.png`),
/// when it exists and is at most `limit` bytes: for files `read_zip_bytes` only measures.
pub fn zip_file_bytes(bytes: &[u8], rel: &str, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let names: Vec<String> = archive.file_names().map(|n| n.replace('\\', "/")).collect();
    let tops: BTreeSet<&str> = names
        .iter()
        .filter(|n| !n.starts_with("__MACOSX/"))
        .map(|n| n.split_once('/').map_or("", |(t, _)| t))
        .collect();
    let prefix = match tops.iter().next() {
        Some(top) if tops.len() == 1 && !top.is_empty() => format!("{top}/"),
        _ => String::new(),
    };
    let want = format!("{prefix}{rel}");
    let index = names.iter().position(|n| *n == want)?;
    let entry = archive.by_index(index).ok()?;
    if entry.size() > limit || entry.is_dir() {
        return None;
    }
    let mut out = Vec::with_capacity(usize::try_from(entry.size()).ok()?);
    entry.take(limit + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= limit).then_some(out)
}

/// Files of a folder with more than one hard link (probe L10): a link whose other names are not
/// in the package points at a file outside it, which `validate` would read and `pack` copy.
#[derive(Default)]
struct HardLinks {
    /// (device, inode) → (links the file has, the package's names for it).
    files: BTreeMap<(u64, u64), (u64, Vec<String>)>,
}

impl HardLinks {
    #[cfg(unix)]
    fn note(&mut self, rel: &str, meta: &std::fs::Metadata) {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            let e = self
                .files
                .entry((meta.dev(), meta.ino()))
                .or_insert_with(|| (meta.nlink(), Vec::new()));
            e.1.push(rel.to_owned());
        }
    }

    #[cfg(not(unix))]
    fn note(&mut self, _rel: &str, _meta: &std::fs::Metadata) {}

    fn report(self, pkg: &mut PackageFiles) {
        for (nlink, names) in self.files.into_values() {
            if names.len() as u64 >= nlink {
                continue;
            }
            for rel in names {
                pkg.diagnostics.push(
                    Diagnostic::error(
                        codes::PACKAGE_UNSAFE_ARCHIVE,
                        Span::file_start(rel.clone()),
                        format!("`{rel}` is a hard link to a file outside the package folder"),
                    )
                    .with_help("copy the file into the package instead of linking it"),
                );
            }
        }
    }
}

/// The entry count the zip's end record declares (zip64 too), read from the last 64 KiB
/// without parsing the central directory. `None` when there is no end record (the zip reader
/// then reports the archive as broken).
fn declared_entries<R: std::io::Read + std::io::Seek>(reader: &mut R) -> Option<u64> {
    end_record(reader).map(|e| e.entries)
}

/// What the zip's end record says: the entry count and where the central directory is.
struct EndRecord {
    entries: u64,
    cd_offset: u64,
    cd_size: u64,
}

fn end_record<R: std::io::Read + std::io::Seek>(reader: &mut R) -> Option<EndRecord> {
    use std::io::SeekFrom;
    const EOCD: &[u8] = b"PK\x05\x06";
    const LOCATOR: &[u8] = b"PK\x06\x07";
    let len = reader.seek(SeekFrom::End(0)).ok()?;
    let tail_len = len.min(65_557);
    reader.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = Vec::new();
    reader.by_ref().take(tail_len).read_to_end(&mut tail).ok()?;
    reader.seek(SeekFrom::Start(0)).ok()?;
    let at = tail.windows(4).rposition(|w| w == EOCD)?;
    let u16_at = |b: &[u8], i: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            b.get(i..i + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |b: &[u8], i: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            b.get(i..i + 4)?.try_into().ok()?,
        )))
    };
    let plain = EndRecord {
        entries: u16_at(&tail, at + 10)?,
        cd_size: u32_at(&tail, at + 12)?,
        cd_offset: u32_at(&tail, at + 16)?,
    };
    if plain.entries != 0xFFFF && plain.cd_offset != 0xFFFF_FFFF {
        return Some(plain);
    }
    // Zip64: the locator (20 bytes before the end record) gives the zip64 end record.
    let loc = at.checked_sub(20)?;
    if tail.get(loc..loc + 4)? != LOCATOR {
        return Some(plain);
    }
    let offset = u64::from_le_bytes(tail.get(loc + 8..loc + 16)?.try_into().ok()?);
    reader.seek(SeekFrom::Start(offset)).ok()?;
    let mut rec = [0u8; 56];
    reader.read_exact(&mut rec).ok()?;
    reader.seek(SeekFrom::Start(0)).ok()?;
    if rec.get(..4)? != b"PK\x06\x06" {
        return Some(plain);
    }
    let u64_at =
        |i: usize| -> Option<u64> { Some(u64::from_le_bytes(rec.get(i..i + 8)?.try_into().ok()?)) };
    Some(EndRecord {
        entries: u64_at(32)?,
        cd_size: u64_at(40)?,
        cd_offset: u64_at(48)?,
    })
}

/// The names in the central directory, read raw (the zip reader keeps one entry per name, so
/// a repeated name would be silently dropped: probe L9). `None` when the directory cannot be
/// read or is larger than 16 MiB.
fn central_names<R: std::io::Read + std::io::Seek>(reader: &mut R) -> Option<Vec<String>> {
    use std::io::SeekFrom;
    let end = end_record(reader)?;
    if end.cd_size > 16 * 1024 * 1024 {
        return None;
    }
    reader.seek(SeekFrom::Start(end.cd_offset)).ok()?;
    let mut cd = Vec::new();
    reader
        .by_ref()
        .take(end.cd_size)
        .read_to_end(&mut cd)
        .ok()?;
    reader.seek(SeekFrom::Start(0)).ok()?;
    let mut names = Vec::new();
    let mut at = 0usize;
    while cd.get(at..at + 4) == Some(b"PK\x01\x02") {
        let u16_at = |i: usize| -> Option<usize> {
            Some(usize::from(u16::from_le_bytes(
                cd.get(i..i + 2)?.try_into().ok()?,
            )))
        };
        let (n, x, c) = (u16_at(at + 28)?, u16_at(at + 30)?, u16_at(at + 32)?);
        let name = cd.get(at + 46..at + 46 + n)?;
        names.push(String::from_utf8_lossy(name).replace('\\', "/"));
        at += 46 + n + x + c;
    }
    Some(names)
}
