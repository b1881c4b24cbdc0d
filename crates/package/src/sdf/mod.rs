//! VM-SDF applications (seed 004): read app files into the form model
//! ([`vitrina_forms::sdf::App`]) with file:line:col diagnostics, and compile a folder of them
//! into the one catalog document.
//!
//! ```text
//! file / folder ─► validate_path ─► SdfValidated { apps, diagnostics, sources }
//!                                        └─► build_catalog (no errors) ─► catalog YAML
//! ```
//! A file holds one or more applications, each under its id (`lnmp-10:`). Attributes of the
//! seed and of the later spec text are both read; the draft spellings the public examples
//! still use (`integer_min`, `is_cidr`, …) are read with a warning and a fix.

mod app;
mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vitrina_diagnostics::{Diagnostic, Diagnostics, SourceMap, Span};
use vitrina_forms::sdf::App;

use crate::check::{parse_yaml, Ctx};
use crate::codes;
use crate::yaml::Node;

/// The most bytes one app file may have (real ones have a few kilobytes).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The most app files one folder may hold.
pub const MAX_FILES: usize = 10_000;

/// One application read from a file.
#[derive(Debug, Clone)]
pub struct CompiledApp {
    pub app: App,
    /// The file it came from, relative to the folder checked (`/` separators).
    pub file: String,
    /// Where its id is written.
    pub id_span: std::ops::Range<usize>,
    /// The app's mapping as written (for the catalog).
    pub tree: Node,
    /// The app's own text (the `application-manifest` of its output).
    pub manifest_text: String,
}

/// What validation found: the apps that could be read, every diagnostic (sorted), and the
/// files' texts they point into.
#[derive(Debug, Clone, Default)]
pub struct SdfValidated {
    pub apps: Vec<CompiledApp>,
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
}

impl SdfValidated {
    pub fn ok(&self) -> bool {
        !self.diagnostics.has_errors()
    }

    pub fn app(&self, id: &str) -> Option<&CompiledApp> {
        self.apps.iter().find(|a| a.app.id == id)
    }
}

/// Why a path cannot be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum SdfReadError {
    #[error("`{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Checks one file's text. `file` is the name diagnostics use.
pub fn validate_text(file: &str, text: &str) -> SdfValidated {
    let mut out = SdfValidated::default();
    check_file(file, text, &mut out);
    out.diagnostics.sort();
    out
}

fn check_file(file: &str, text: &str, out: &mut SdfValidated) {
    out.sources.add(file, text);
    let mut ctx = Ctx::new(file, &mut out.diagnostics);
    let Some(root) = parse_yaml(&mut ctx, text) else {
        return;
    };
    let Some(entries) = root.as_map() else {
        ctx.error(
            codes::SDF_NOT_AN_APP,
            root.span.clone(),
            format!(
                "expected applications by id (`lnmp-10:`), found {}",
                root.type_name()
            ),
            "write each application as a mapping under its id",
        );
        return;
    };
    if let Some((k, _)) = root.entry("deployment-info") {
        ctx.error(
            codes::SDF_NOT_AN_APP,
            k.span.clone(),
            "this is a generated `deployment-info` (USERDATA) document, not an application",
            "validate application manifests; `deployment-info` is what a form produces",
        );
        return;
    }
    let mut seen: BTreeMap<String, std::ops::Range<usize>> = BTreeMap::new();
    for (k, v) in entries {
        let Some(id) = k.scalar_text() else {
            ctx.wrong_type(k, "an application id");
            continue;
        };
        if let Some(first) = seen.get(id) {
            let d = Diagnostic::error(
                codes::YAML_DUPLICATE_KEY,
                ctx.span(k.span.clone()),
                format!("`{id}` is given twice in this mapping"),
            )
            .with_help("keep one of them")
            .with_label(ctx.span(first.clone()), "first given here");
            ctx.diags.push(d);
            continue;
        }
        seen.insert(id.to_owned(), k.span.clone());
        let app_keys = ["name", "version", "source", "variables", "mode"];
        let looks_like_variable =
            v.get("type").is_some() && app_keys.iter().all(|key| v.get(key).is_none());
        if looks_like_variable {
            ctx.error(
                codes::SDF_NOT_AN_APP,
                k.span.clone(),
                format!("`{id}` is a variable (it has a `type`), not an application"),
                "move it under an application's `variables:`",
            );
            continue;
        }
        if let Some(app) = app::check_app(&mut ctx, id, k, v) {
            let manifest_text = text
                .get(k.span.start..v.span.end)
                .unwrap_or_default()
                .to_owned();
            out.apps.push(CompiledApp {
                app,
                file: file.to_owned(),
                id_span: k.span.clone(),
                tree: v.clone(),
                manifest_text,
            });
        }
    }
}

/// Checks an app file, or every `*.yml`/`*.yaml` file under a folder (sorted by path; hidden
/// entries skipped). Ids must be unique across the folder.
///
/// # Errors
/// When the path does not exist or cannot be read; problems in files become diagnostics.
pub fn validate_path(path: &Path) -> Result<SdfValidated, SdfReadError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SdfReadError::NotFound {
                path: path.to_owned(),
            }
        } else {
            SdfReadError::Io {
                path: path.to_owned(),
                source: e,
            }
        }
    })?;
    let mut out = SdfValidated::default();
    if meta.is_dir() {
        let mut files = Vec::new();
        collect(path, path, &mut files, &mut out)?;
        files.sort();
        read_all(&files, &mut out)?;
    } else {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        read_one(path, &name, &mut out)?;
    }
    check_unique_ids(&mut out);
    out.diagnostics.sort();
    Ok(out)
}

/// Below this many files per thread, one thread reads them all.
const FILES_PER_THREAD: usize = 32;

/// Reads and checks files on every core (each thread a contiguous run of the sorted list, so the
/// apps come out in path order as a single thread would give them).
fn read_all(files: &[(String, PathBuf)], out: &mut SdfValidated) -> Result<(), SdfReadError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(files.len().div_ceil(FILES_PER_THREAD))
        .max(1);
    if threads == 1 {
        for (rel, full) in files {
            read_one(full, rel, out)?;
        }
        return Ok(());
    }
    let chunk = files.len().div_ceil(threads);
    let parts: Vec<Result<SdfValidated, SdfReadError>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|run| {
                s.spawn(move || {
                    let mut part = SdfValidated::default();
                    for (rel, full) in run {
                        read_one(full, rel, &mut part)?;
                    }
                    Ok(part)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for part in parts {
        let part = part?;
        out.apps.extend(part.apps);
        out.diagnostics.extend(part.diagnostics);
        out.sources.merge(part.sources);
    }
    Ok(())
}

fn read_one(full: &Path, rel: &str, out: &mut SdfValidated) -> Result<(), SdfReadError> {
    let io = |e| SdfReadError::Io {
        path: full.to_owned(),
        source: e,
    };
    let size = std::fs::metadata(full).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        out.diagnostics.push(
            Diagnostic::error(
                codes::SDF_TOO_LARGE,
                Span::file_start(rel),
                format!("{size} bytes: more than the {MAX_FILE_BYTES}-byte limit of an app file"),
            )
            .with_help("split the file: one application per file"),
        );
        return Ok(());
    }
    let bytes = std::fs::read(full).map_err(io)?;
    match String::from_utf8(bytes) {
        Ok(text) => {
            let text = text
                .strip_prefix('\u{feff}')
                .map_or(text.clone(), str::to_owned);
            check_file(rel, &text, out);
        }
        Err(_) => out.diagnostics.push(
            Diagnostic::error(
                codes::YAML_SYNTAX,
                Span::file_start(rel),
                "the file is not UTF-8 text",
            )
            .with_help("save it as UTF-8"),
        ),
    }
    Ok(())
}

fn collect(
    root: &Path,
    dir: &Path,
    files: &mut Vec<(String, PathBuf)>,
    out: &mut SdfValidated,
) -> Result<(), SdfReadError> {
    let io = |e| SdfReadError::Io {
        path: dir.to_owned(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Links are not followed: a folder of apps holds its own files.
        let ty = entry.file_type().map_err(io)?;
        if ty.is_dir() {
            collect(root, &path, files, out)?;
        } else if ty.is_file() && (name.ends_with(".yml") || name.ends_with(".yaml")) {
            if files.len() >= MAX_FILES {
                out.diagnostics.push(
                    Diagnostic::error(
                        codes::SDF_TOO_LARGE,
                        Span::file_start(name),
                        format!("more than {MAX_FILES} app files in one folder"),
                    )
                    .with_help("build the catalog from a smaller folder"),
                );
                return Ok(());
            }
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path));
        }
    }
    Ok(())
}

/// An id given in two files: the second is an error, and only the first is kept.
fn check_unique_ids(out: &mut SdfValidated) {
    let mut first: BTreeMap<String, (String, std::ops::Range<usize>)> = BTreeMap::new();
    let mut keep = Vec::with_capacity(out.apps.len());
    for a in std::mem::take(&mut out.apps) {
        let key_span = a.id_span.clone();
        if let Some((file, span)) = first.get(&a.app.id) {
            out.diagnostics.push(
                Diagnostic::error(
                    codes::SDF_DUPLICATE_APP,
                    Span::new(a.file.clone(), key_span),
                    format!("the application id `{}` is already defined", a.app.id),
                )
                .with_help("give each application its own id (`name-version`, like `lnmp-10`)")
                .with_label(Span::new(file.clone(), span.clone()), "first defined here"),
            );
            continue;
        }
        first.insert(a.app.id.clone(), (a.file.clone(), key_span));
        keep.push(a);
    }
    out.apps = keep;
}

/// The catalog document of a folder without errors: every application as written, by id.
/// The same files give the same bytes (ids sorted, each app's keys in file order). `None`
/// when there are errors.
///
/// The app trees are handed to the YAML library's serializer as they are (no intermediate
/// JSON or YAML value is built); scalars, mapping keys included, are typed by the YAML 1.2 core
/// schema, as [`Node::to_json`] types values.
pub fn build_catalog(v: &SdfValidated) -> Option<String> {
    if !v.ok() {
        return None;
    }
    let mut apps: Vec<&CompiledApp> = v.apps.iter().collect();
    apps.sort_by(|a, b| a.app.id.cmp(&b.app.id));
    serde_yaml::to_string(&emit::CatalogDoc { apps: &apps }).ok()
}

mod emit {
    use serde::ser::{Serialize, SerializeMap, Serializer};

    use super::CompiledApp;
    use crate::yaml::{Kind, Node, Plain};

    /// `{vm-sdf-catalog: 1, applications: {id: app, …}}`.
    pub(super) struct CatalogDoc<'a> {
        pub apps: &'a [&'a CompiledApp],
    }

    impl Serialize for CatalogDoc<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut doc = s.serialize_map(Some(2))?;
            doc.serialize_entry("vm-sdf-catalog", &1u64)?;
            doc.serialize_entry("applications", &Apps(self.apps))?;
            doc.end()
        }
    }

    struct Apps<'a>(&'a [&'a CompiledApp]);

    impl Serialize for Apps<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for a in self.0 {
                m.serialize_entry(&a.app.id, &Tree(&a.tree))?;
            }
            m.end()
        }
    }

    /// A node of an app file as the serializer sees it.
    struct Tree<'a>(&'a Node);

    /// Whether two keys of a mapping read the same (then the later value wins in the first
    /// key's place, as a JSON object keeps it: that case takes the JSON path).
    fn has_duplicate_keys(m: &[(Node, Node)]) -> bool {
        fn key(k: &Node) -> &str {
            k.scalar_text().unwrap_or_default()
        }
        if m.len() <= 16 {
            m.iter()
                .enumerate()
                .any(|(i, (a, _))| m[..i].iter().any(|(b, _)| key(a) == key(b)))
        } else {
            let mut seen = std::collections::HashSet::with_capacity(m.len());
            m.iter().any(|(k, _)| !seen.insert(key(k)))
        }
    }

    impl Serialize for Tree<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match &self.0.kind {
                Kind::Map(m) => {
                    if has_duplicate_keys(m) {
                        return self.0.to_json().serialize(s);
                    }
                    let mut out = s.serialize_map(Some(m.len()))?;
                    // Keys keep their YAML type: an option `false:` stays a boolean, so the
                    // value a VM receives for it is `false`, not the text `'false'`.
                    for (k, v) in m {
                        out.serialize_entry(&Tree(k), &Tree(v))?;
                    }
                    out.end()
                }
                Kind::Seq(items) => s.collect_seq(items.iter().map(Tree)),
                Kind::Scalar(sc) => match self.0.plain() {
                    Some(Plain::Null) => s.serialize_unit(),
                    Some(Plain::Bool(b)) => s.serialize_bool(b),
                    Some(Plain::Int(i)) => match u64::try_from(i) {
                        Ok(u) => s.serialize_u64(u),
                        Err(_) => s.serialize_i64(i),
                    },
                    // JSON has no infinity or NaN: they were null in the catalog.
                    Some(Plain::Float(f)) if f.is_finite() => s.serialize_f64(f),
                    Some(Plain::Float(_)) => s.serialize_unit(),
                    _ => s.serialize_str(&sc.text),
                },
            }
        }
    }
}
