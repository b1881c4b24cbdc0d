//! Every rule of `shared/spec/vk-service-package.md` over a package read into memory.
//!
//! Validators append diagnostics and go on, so one run reports every problem in every file. The
//! result also carries the checked model that the catalog builder reads.

use std::collections::{BTreeMap, BTreeSet};

use vitrina_diagnostics::{Applicability, Diagnostic, Diagnostics, SourceMap, Span};
use vitrina_forms::DatasourceKind;
use vitrina_hcl::schema::ProviderSchemas;
use vitrina_pricing::BillingCycle;

use crate::check::{did_you_mean, is_uuid4, parse_yaml, Ctx};
use crate::codes;
use crate::option::{check_option, OptionDef};
use crate::source::PackageFiles;
use crate::yaml::{Kind, Node};

mod display;
mod plan;
mod service;
mod settings;

pub use service::png_size;

/// The most pages a wizard may have (the automatic first and last pages do not count).
pub const MAX_PAGES: usize = 5;
/// The most dotted steps a `parameters_patch` key may have.
const MAX_PATCH_DEPTH: usize = 8;
/// The most bytes an icon may have.
pub const MAX_ICON_BYTES: u64 = 1024 * 1024;
/// The least width and height of a PNG icon.
pub const MIN_ICON_PX: u32 = 62;
/// The most bytes of Terraform (distinct manifest texts, all plans together) that are parsed
/// and checked: real manifests have tens of kilobytes, and parsing costs about 250 bytes of
/// memory per byte of text (probe M5: a 15 MB `.tf` took 3.6 GB).
pub const MAX_MANIFEST_BYTES: usize = 512 * 1024;

/// The result of validation: diagnostics (sorted), the texts they point into, and the model.
#[derive(Debug, Clone, Default)]
pub struct Validated {
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
    pub model: Model,
}

/// What the catalog builder needs, read from a valid package.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub service_name: String,
    pub service: Option<Node>,
    pub full_description: String,
    /// Option name → its file's tree and its typed form (when it could be read).
    pub options: BTreeMap<String, (Node, Option<OptionDef>)>,
    /// Options whose file has errors: registered with what could be read, and not used to
    /// find errors elsewhere (one report per mistake).
    pub broken_options: BTreeSet<String>,
    pub plans: Vec<PlanModel>,
}

/// One plan of the package, checked.
#[derive(Debug, Clone, Default)]
pub struct PlanModel {
    pub folder: String,
    pub plan: Option<Node>,
    pub display: Option<Node>,
    /// The plan's options in display order, then its postpaid `resource_usages`.
    pub options: Vec<String>,
    pub resource_usages: Vec<String>,
    /// Option name → its tree after this plan's `parameters_patch` (only patched options).
    pub patched: BTreeMap<String, Node>,
    pub billing_cycle: BillingCycle,
    /// `deployment/*.tf` files in name order: (relative path, text).
    pub manifest: Vec<(String, String)>,
    pub preset: Option<String>,
    pub retry: Option<bool>,
    /// `plans/<PLAN>/display.yaml`, and where each option is listed in it.
    pub display_file: String,
    pub option_spans: BTreeMap<String, std::ops::Range<usize>>,
    /// Whether the plan's option list could not be read whole (a broken display.yaml or
    /// entry, an option without a file): then nothing is reported for lacking an option.
    pub options_incomplete: bool,
}

impl PlanModel {
    /// The manifest as one text: the `.tf` files in name order, joined by a newline.
    pub fn manifest_text(&self) -> String {
        let mut out = String::new();
        for (_, text) in &self.manifest {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// Ids seen so far: id → (whose, where).
type Ids = BTreeMap<String, (String, Span)>;

struct Validator<'p> {
    files: &'p PackageFiles,
    tf_cache: crate::manifest::ParseCache,
    /// Distinct manifest texts taken so far, and their bytes (against [`MAX_MANIFEST_BYTES`]).
    manifest_texts: BTreeSet<String>,
    manifest_bytes: usize,
    diags: Diagnostics,
    /// Texts of the files read; only those diagnostics point into go to the source map.
    texts: BTreeMap<String, String>,
    model: Model,
}

/// Validates a package read into memory; manifests' resource types are checked by their
/// provider prefix only (see [`validate_with`]).
pub fn validate(files: &PackageFiles) -> Validated {
    validate_with(files, None)
}

/// Validates a package read into memory, checking its manifests against the providers'
/// schemas when given (resource and data source types, arguments, blocks, argument types,
/// attributes read from resources).
pub fn validate_with(files: &PackageFiles, schemas: Option<&ProviderSchemas>) -> Validated {
    let mut v = Validator {
        files,
        tf_cache: crate::manifest::ParseCache::new(schemas.cloned()),
        manifest_texts: BTreeSet::new(),
        manifest_bytes: 0,
        diags: files.diagnostics.clone(),
        texts: BTreeMap::new(),
        model: Model {
            service_name: files.service_name.clone(),
            ..Model::default()
        },
    };
    v.run();
    let mut diagnostics = v.diags;
    diagnostics.sort();
    // Line indexes only for the files that diagnostics point into.
    let mut sources = SourceMap::new();
    let mut texts = v.texts;
    for d in &diagnostics {
        let spans = std::iter::once(&d.span).chain(d.secondary.iter().map(|l| &l.span));
        for span in spans {
            if let Some(text) = texts.remove(&span.file) {
                sources.add(span.file.clone(), text);
            }
        }
    }
    Validated {
        diagnostics,
        sources,
        model: v.model,
    }
}

impl Validator<'_> {
    fn missing(&mut self, path: &str, what: &str) {
        self.diags.push(
            Diagnostic::error(
                codes::PACKAGE_MISSING_FILE,
                Span::file_start(path),
                format!("missing `{path}` ({what})"),
            )
            .with_help(format!("add `{path}`")),
        );
    }

    /// The text of a file, registered in the source map; reports a missing or non-UTF-8 file.
    fn text(&mut self, path: &str, what: Option<&str>) -> Option<String> {
        let Some(bytes) = self.files.text(path) else {
            match self.files.files.get(path) {
                Some(f) => self.diags.push(
                    Diagnostic::error(
                        codes::PACKAGE_TOO_LARGE,
                        Span::file_start(path),
                        format!(
                            "`{path}` ({} bytes) was not read: text files are checked up to {} bytes each and {} in total",
                            f.size,
                            crate::source::MAX_TEXT_FILE,
                            crate::source::MAX_KEPT_TOTAL
                        ),
                    )
                    .with_help("split or shorten the file"),
                ),
                None => {
                    if let Some(what) = what {
                        self.missing(path, what);
                    }
                }
            }
            return None;
        };
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                let s = s.strip_prefix('\u{feff}').unwrap_or(s).to_owned();
                self.texts.insert(path.to_owned(), s.clone());
                Some(s)
            }
            Err(e) => {
                let code = if path.ends_with(".tf") {
                    codes::MANIFEST_SYNTAX
                } else {
                    codes::YAML_SYNTAX
                };
                self.diags.push(
                    Diagnostic::error(
                        code,
                        Span::file_start(path),
                        format!("`{path}` is not UTF-8 text (at byte {})", e.valid_up_to()),
                    )
                    .with_help("save the file as UTF-8"),
                );
                None
            }
        }
    }

    fn yaml(&mut self, path: &str, what: Option<&str>) -> Option<Node> {
        let text = self.text(path, what)?;
        let mut ctx = Ctx::new(path, &mut self.diags);
        parse_yaml(&mut ctx, &text)
    }

    fn run(&mut self) {
        self.names();
        self.version();
        let service = self.yaml("service.yaml", Some("the service description"));
        if let Some(t) = self.text(
            "full_description.md",
            Some("the Markdown shown on the service page"),
        ) {
            self.model.full_description = t;
        }
        self.options();
        let plans = service
            .as_ref()
            .map(|s| self.service(s))
            .unwrap_or_default();
        self.model.service = service;
        let service_id = self
            .model
            .service
            .as_ref()
            .and_then(|s| s.get("id"))
            .and_then(|n| Some((n.as_str_lenient()?.to_owned(), n.span.clone())));
        let mut ids: Ids = BTreeMap::new();
        if let Some((id, at)) = service_id {
            ids.insert(
                id,
                ("the service".to_owned(), Span::new("service.yaml", at)),
            );
        }
        for plan in plans {
            let model = self.plan(&plan, &mut ids);
            self.model.plans.push(model);
        }
    }

    /// `package/bad-name` for every file or folder whose name is not ASCII letters, digits,
    /// `_`, `-`, `.`.
    fn names(&mut self) {
        let paths = self.files.dirs.iter().chain(self.files.files.keys());
        for path in paths {
            let name = path.rsplit('/').next().unwrap_or(path);
            if !crate::source::is_good_name(name) {
                self.diags.push(
                    Diagnostic::error(
                        codes::PACKAGE_BAD_NAME,
                        Span::file_start(path.clone()),
                        format!("the name `{name}` has characters other than ASCII letters, digits, `_`, `-`, `.`"),
                    )
                    .with_help("rename it without spaces or non-ASCII characters, and update what refers to it"),
                );
            }
        }
    }

    fn version(&mut self) {
        let Some(root) = self.yaml("version.yaml", Some("the generator version")) else {
            return;
        };
        let mut ctx = Ctx::new("version.yaml", &mut self.diags);
        if !ctx.check_keys(&root, &["version"]) {
            return;
        }
        let Some(v) = ctx.required(
            &root,
            "version",
            codes::VERSION_UNSUPPORTED,
            0..0,
            "0.0.1 or 1.0.0",
        ) else {
            return;
        };
        let Some(s) = ctx.string(v) else { return };
        if s != "0.0.1" && s != "1.0.0" {
            let fix = ctx.fix(
                Applicability::Unsafe,
                "write `1.0.0`",
                v.span.clone(),
                "1.0.0",
            );
            ctx.error_fix(
                codes::VERSION_UNSUPPORTED,
                v.span.clone(),
                format!("generator version `{s}` is not supported"),
                "use `version: 1.0.0` (or `0.0.1`)",
                fix,
            );
        }
    }
}

/// An unsafe fix giving a fresh UUID4: a published service or plan is identified by its id,
/// so only a new package may take it without care.
fn new_id(ctx: &Ctx<'_>, n: &Node) -> vitrina_diagnostics::Fix {
    ctx.fix(
        Applicability::Unsafe,
        "write a fresh UUID4 (changes the identity of a published service or plan)",
        n.span.clone(),
        uuid::Uuid::new_v4().to_string(),
    )
}
