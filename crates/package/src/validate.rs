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

    /// Checks service.yaml; returns the listed plans that have a folder.
    fn service(&mut self, root: &Node) -> Vec<String> {
        const KEYS: &[&str] = &[
            "id",
            "revision",
            "name",
            "short_description",
            "singleton",
            "auto_bind",
            "icon",
            "help",
            "bindable",
            "plan_updateable",
            "deactivatable",
            "bindings_retrievable",
            "instances_retrievable",
            "plans",
            "preview",
        ];
        let file = "service.yaml";
        let mut plans = Vec::new();
        let mut ctx = Ctx::new(file, &mut self.diags);
        if !ctx.check_keys(root, KEYS) {
            return plans;
        }
        let top = root.span.start..root.span.start;
        let req = codes::SERVICE_REQUIRED;
        if let Some(n) = ctx.required(root, "id", req, top.clone(), "a UUID version 4") {
            if let Some(s) = ctx.string(n) {
                if !is_uuid4(s) {
                    let fix = new_id(&ctx, n);
                    ctx.error_fix(
                        codes::SERVICE_ID_NOT_UUID4,
                        n.span.clone(),
                        format!("`{s}` is not a UUID version 4"),
                        "generate one with `uuidgen -r` or `python3 -c 'import uuid; print(uuid.uuid4())'`",
                        fix,
                    );
                }
            }
        }
        for (key, max, what) in [
            ("revision", 255, "the revision of this package"),
            ("name", 255, "the service name"),
            ("short_description", 255, "the card text"),
        ] {
            if let Some(n) = ctx.required(root, key, req, top.clone(), what) {
                service_string(&mut ctx, n, key, max);
            }
        }
        // The icon is optional (VK's vendor guide, table 4); when given it must exist.
        if let Some(n) = root.get("icon") {
            service_string(&mut ctx, n, "icon", 512);
        }
        if let Some(n) = root.get("help").filter(|n| !n.is_null()) {
            service_string(&mut ctx, n, "help", 512);
        }
        for key in ["singleton", "auto_bind"] {
            if let Some(n) = root.get(key) {
                ctx.bool(n);
            }
        }
        if let Some(n) = ctx.required(root, "bindable", req, top.clone(), "must be true") {
            if ctx.bool(n) == Some(false) {
                let fix = ctx.fix(Applicability::Safe, "write `true`", n.span.clone(), "true");
                ctx.error_fix(
                    codes::SERVICE_BINDABLE_FALSE,
                    n.span.clone(),
                    "`bindable` must be true",
                    "set `bindable: true`: image-based services are always bindable",
                    fix,
                );
            }
        }
        if let Some(n) = ctx.required(root, "plan_updateable", req, top.clone(), "a bool") {
            if ctx.bool(n) == Some(true) {
                // vitrina's broker moves instances between plans; VK Cloud refuses it. No fix:
                // the author chose it.
                ctx.diags.push(
                    Diagnostic::warning(
                        codes::SERVICE_PLAN_UPDATEABLE,
                        ctx.span(n.span.clone()),
                        "`plan_updateable: true`: VK Cloud's marketplace refuses it for an image-based service; vitrina moves instances between plans",
                    )
                    .with_help("keep it for vitrina; set `plan_updateable: false` to publish on VK Cloud"),
                );
            }
        }
        for key in [
            "deactivatable",
            "bindings_retrievable",
            "instances_retrievable",
        ] {
            if let Some(n) = ctx.required(root, key, req, top.clone(), "a bool") {
                ctx.bool(n);
            }
        }
        if let Some(n) = ctx.required(root, "plans", req, top.clone(), "the plans offered") {
            let names = ctx.name_list(n);
            if names.is_empty() && n.as_seq().is_some() {
                ctx.error(
                    req,
                    n.span.clone(),
                    "`plans` is empty",
                    "list at least one plan: `- name: <PLAN>`",
                );
            }
            let mut seen = BTreeSet::new();
            for (node, name) in names {
                if !seen.insert(name) {
                    ctx.error(
                        codes::SERVICE_UNKNOWN_PLAN,
                        node.span.clone(),
                        format!("plan `{name}` is listed twice"),
                        "list each plan once",
                    );
                } else if self.files.has_dir(&format!("plans/{name}")) {
                    plans.push(name.to_owned());
                } else {
                    ctx.error(
                        codes::SERVICE_UNKNOWN_PLAN,
                        node.span.clone(),
                        format!("plan `{name}` has no folder `plans/{name}/`"),
                        format!("add `plans/{name}/plan.yaml` or correct the name"),
                    );
                }
            }
        }
        if let Some(p) = ctx.required(
            root,
            "preview",
            req,
            top.clone(),
            "the options compared across plans; may list none",
        ) {
            if !p.is_null() && ctx.check_keys(p, &["parameters"]) {
                if let Some(list) = p.get("parameters") {
                    if !list.is_null() {
                        for (node, name) in ctx.name_list(list) {
                            if !self.model.options.contains_key(name) {
                                let names: Vec<&str> =
                                    self.model.options.keys().map(String::as_str).collect();
                                let msg = format!(
                                    "preview option `{name}` has no file `parameters/{name}.yaml`"
                                );
                                match did_you_mean(name, &names) {
                                    Some(m) => {
                                        let fix = ctx.rename(node.span.clone(), m);
                                        ctx.error_fix(
                                            codes::SERVICE_UNKNOWN_PREVIEW_OPTION,
                                            node.span.clone(),
                                            msg,
                                            format!("did you mean `{m}`?"),
                                            fix,
                                        );
                                    }
                                    None => ctx.error(
                                        codes::SERVICE_UNKNOWN_PREVIEW_OPTION,
                                        node.span.clone(),
                                        msg,
                                        format!("add `parameters/{name}.yaml` or correct the name"),
                                    ),
                                }
                            }
                        }
                    }
                }
            }
        }
        if let Some(n) = root.get("icon") {
            if let Some(icon) = n.as_str_lenient() {
                self.icon(icon, n.span.clone());
            }
        }
        plans
    }

    fn icon(&mut self, icon: &str, at: std::ops::Range<usize>) {
        let path = format!("images/{icon}");
        let mut ctx = Ctx::new("service.yaml", &mut self.diags);
        let Some(file) = self.files.files.get(&path) else {
            ctx.error(
                codes::ICON_MISSING,
                at,
                format!("the icon `{path}` does not exist"),
                format!("add the PNG or SVG file `{path}`"),
            );
            return;
        };
        if file.size > MAX_ICON_BYTES {
            ctx.error(
                codes::ICON_TOO_LARGE,
                at,
                format!("the icon `{path}` has {} bytes, more than 1 MiB", file.size),
                "compress or resize it",
            );
            return;
        }
        if icon.to_ascii_lowercase().ends_with(".png") {
            match png_size(file.head()) {
                Some((w, h)) if w >= MIN_ICON_PX && h >= MIN_ICON_PX => {}
                Some((w, h)) => ctx.error(
                    codes::ICON_TOO_SMALL,
                    at,
                    format!(
                        "the icon `{path}` is {w}×{h} px, smaller than {MIN_ICON_PX}×{MIN_ICON_PX}"
                    ),
                    "use a PNG of at least 62×62 px",
                ),
                None => ctx.error(
                    codes::ICON_TOO_SMALL,
                    at,
                    format!("the icon `{path}` is not a readable PNG"),
                    "save it as a PNG of at least 62×62 px",
                ),
            }
        }
    }

    fn options(&mut self) {
        let paths: Vec<String> = self
            .files
            .files_in("parameters")
            .map(str::to_owned)
            .collect();
        let mut tags: BTreeMap<String, Vec<(String, std::ops::Range<usize>)>> = BTreeMap::new();
        for path in paths {
            let Some(name) = path
                .strip_prefix("parameters/")
                .and_then(|n| n.strip_suffix(".yaml"))
                .map(str::to_owned)
            else {
                continue;
            };
            let Some(root) = self.yaml(&path, None) else {
                // An empty or broken option file still exists: references to it are fine.
                if self.files.has_file(&path) {
                    self.model.broken_options.insert(name.clone());
                    self.model.options.insert(
                        name,
                        (
                            Node {
                                kind: Kind::Map(Vec::new()),
                                span: 0..0,
                            },
                            None,
                        ),
                    );
                }
                continue;
            };
            let errors_before = self.diags.error_count();
            let mut ctx = Ctx::new(&path, &mut self.diags);
            let def = check_option(&mut ctx, &name, &root);
            if self.diags.error_count() > errors_before {
                self.model.broken_options.insert(name.clone());
            }
            // The tag is read from the tree, so a broken option still pairs with its partner.
            if let Some(tag_node) = root.get("schema").and_then(|s| s.get("tag")) {
                if let Some(tag) = tag_node.as_str_lenient() {
                    tags.entry(tag.to_owned())
                        .or_default()
                        .push((path.clone(), tag_node.span.clone()));
                }
            }
            self.model.options.insert(name, (root, def));
        }
        // A broken option whose tag cannot be read may be the other half of any pair.
        let tag_unknown = self.model.broken_options.iter().any(|name| {
            self.model
                .options
                .get(name)
                .and_then(|(root, _)| root.get("schema"))
                .and_then(|s| s.get("tag"))
                .is_none()
        });
        for (tag, users) in tags {
            if tag_unknown {
                break;
            }
            if let [(path, at)] = users.as_slice() {
                self.diags.push(
                    Diagnostic::error(
                        codes::OPTION_UNPAIRED_TAG,
                        Span::new(path.clone(), at.clone()),
                        format!("tag `{tag}` is used by this option only"),
                    )
                    .with_help("a disk is a `volume_type` option and an integer size option sharing one `tag`: add the other half or remove the tag"),
                );
            }
        }
    }

    fn plan(&mut self, folder: &str, ids: &mut Ids) -> PlanModel {
        let dir = format!("plans/{folder}");
        let plan_path = format!("{dir}/plan.yaml");
        let display_path = format!("{dir}/display.yaml");
        let mut model = PlanModel {
            folder: folder.to_owned(),
            ..PlanModel::default()
        };
        let plan = self.yaml(&plan_path, Some("the plan description"));
        let display = self.yaml(&display_path, Some("the plan's wizard"));
        // The plan's options come from its display.
        let mut plan_options = Vec::new();
        match &display {
            Some(d) => plan_options = self.display(&display_path, d, &mut model),
            None => model.options_incomplete = true,
        }
        model.options = plan_options.clone();
        if let Some(p) = &plan {
            self.plan_yaml(&plan_path, folder, p, ids, &mut model);
        }
        self.settings(&format!("{dir}/deployment/settings.yaml"), &mut model);
        let tf: Vec<String> = self
            .files
            .files_in(&format!("{dir}/deployment"))
            .filter(|p| p.ends_with(".tf"))
            .map(str::to_owned)
            .collect();
        if tf.is_empty() {
            self.missing(
                &format!("{dir}/deployment/deploy.tf"),
                "the plan's Terraform manifest",
            );
        }
        let mut over = false;
        for path in tf {
            if let Some(text) = self.text(&path, None) {
                if !self.manifest_texts.contains(&text) {
                    if self.manifest_bytes.saturating_add(text.len()) > MAX_MANIFEST_BYTES {
                        over = true;
                        self.diags.push(
                            Diagnostic::error(
                                codes::PACKAGE_TOO_LARGE,
                                Span::file_start(path.clone()),
                                format!(
                                    "`{path}` ({} bytes) is past the {} KiB of Terraform a package may hold (the manifest limit); the plan's manifest is not checked",
                                    text.len(),
                                    MAX_MANIFEST_BYTES / 1024
                                ),
                            )
                            .with_help("a manifest describes resources: move data into files the VM downloads"),
                        );
                        continue;
                    }
                    self.manifest_bytes += text.len();
                    self.manifest_texts.insert(text.clone());
                }
                model.manifest.push((path, text));
            }
        }
        if !over {
            crate::manifest::check_manifest(
                &mut self.diags,
                &mut self.tf_cache,
                &model,
                &self.model.options,
                &self.model.broken_options,
            );
        }
        model.plan = plan;
        model.display = display;
        model
    }

    fn plan_yaml(
        &mut self,
        file: &str,
        folder: &str,
        root: &Node,
        ids: &mut Ids,
        model: &mut PlanModel,
    ) {
        const KEYS: &[&str] = &[
            "id",
            "revision",
            "name",
            "description",
            "free",
            "billing",
            "parameters_patch",
            "resource_usages",
        ];
        let mut ctx = Ctx::new(file, &mut self.diags);
        if !ctx.check_keys(root, KEYS) {
            return;
        }
        let top = root.span.start..root.span.start;
        let req = codes::PLAN_REQUIRED;
        if let Some(n) = ctx.required(root, "id", req, top.clone(), "a UUID version 4") {
            if let Some(s) = ctx.string(n) {
                if !is_uuid4(s) {
                    let fix = new_id(&ctx, n);
                    ctx.error_fix(
                        codes::PLAN_ID_NOT_UUID4,
                        n.span.clone(),
                        format!("`{s}` is not a UUID version 4"),
                        "generate one with `uuidgen -r`",
                        fix,
                    );
                } else if let Some((owner, at)) = ids.get(s) {
                    let d = Diagnostic::error(
                        codes::PLAN_DUPLICATE_ID,
                        ctx.span(n.span.clone()),
                        format!("plan id `{s}` is already the id of {owner}"),
                    )
                    .with_help("give every plan a fresh UUID4, different from the service id")
                    .with_label(at.clone(), format!("the id of {owner}"));
                    ctx.diags.push(d);
                } else {
                    ids.insert(
                        s.to_owned(),
                        (format!("plan `{folder}`"), ctx.span(n.span.clone())),
                    );
                }
            }
        }
        for (key, what) in [
            ("revision", "the plan revision"),
            ("description", "the plan name users see"),
        ] {
            if let Some(n) = ctx.required(root, key, req, top.clone(), what) {
                if let Some(s) = ctx.string(n) {
                    let len = s.chars().count();
                    if len == 0 {
                        ctx.error(
                            req,
                            n.span.clone(),
                            format!("`{key}` is empty"),
                            format!("write the {what}"),
                        );
                    } else if len > 255 {
                        ctx.error(
                            codes::PLAN_TOO_LONG,
                            n.span.clone(),
                            format!("`{key}` has {len} characters, more than 255"),
                            "shorten it",
                        );
                    }
                }
            }
        }
        if let Some(n) = ctx.required(root, "name", req, top.clone(), "the plan folder's name") {
            if let Some(s) = ctx.string(n) {
                if s != folder {
                    let fix = ctx.rename(n.span.clone(), folder);
                    ctx.error_fix(
                        codes::PLAN_NAME_MISMATCH,
                        n.span.clone(),
                        format!("plan name `{s}` differs from its folder `plans/{folder}/`"),
                        format!("write `name: {folder}` or rename the folder"),
                        fix,
                    );
                } else if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    ctx.error(
                        codes::PLAN_NAME_MISMATCH,
                        n.span.clone(),
                        format!("plan name `{s}` has characters other than ASCII letters, digits and `_`"),
                        "rename the plan and its folder",
                    );
                }
            }
        }
        let free = ctx
            .required(root, "free", req, top.clone(), "whether the plan is free")
            .and_then(|n| ctx.bool(n));
        if let Some(billing) = ctx.required(root, "billing", req, top, "the plan price") {
            if ctx.check_keys(billing, &["cost", "refundable", "billing_cycle_flat"]) {
                let bkey = root.entry("billing").map_or(0..0, |(k, _)| k.span.clone());
                if let Some(n) = ctx.required(billing, "cost", req, bkey, "the monthly price") {
                    if let Some(c) = ctx.number(n) {
                        if c < 0.0 {
                            ctx.error(
                                codes::YAML_TYPE,
                                n.span.clone(),
                                "`cost` is negative",
                                "make it 0 or more",
                            );
                        } else if free == Some(true) && c != 0.0 {
                            // Unsafe: the plan may be meant to be paid (`free: false`).
                            let fix =
                                ctx.fix(Applicability::Unsafe, "write `0`", n.span.clone(), "0");
                            ctx.error_fix(
                                codes::PLAN_FREE_WITH_COST,
                                n.span.clone(),
                                format!(
                                    "a free plan costs {}",
                                    n.scalar_text().unwrap_or_default()
                                ),
                                "set `cost: 0`, or `free: false`",
                                fix,
                            );
                        }
                    }
                }
                if let Some(n) = billing.get("refundable") {
                    ctx.bool(n);
                }
                if let Some(n) = billing.get("billing_cycle_flat") {
                    if let Some(s) = ctx.string(n) {
                        match s.parse::<BillingCycle>() {
                            Ok(c) => model.billing_cycle = c,
                            Err(e) => ctx.error(
                                codes::PLAN_BAD_BILLING_CYCLE,
                                n.span.clone(),
                                e.to_string(),
                                "write e.g. `1 mons 0 days`, `1 mons` or `30 days`",
                            ),
                        }
                    }
                }
            }
        }
        // Postpaid options.
        let mut postpaid_nodes = Vec::new();
        if let Some((key, list)) = root.entry("resource_usages") {
            if let Some(items) = ctx.seq(list) {
                for item in items {
                    let Some(name) = ctx.string(item) else {
                        model.options_incomplete = true;
                        continue;
                    };
                    match self.model.options.get(name) {
                        None => {
                            model.options_incomplete = true;
                            ctx.error(
                                codes::DISPLAY_UNKNOWN_OPTION,
                                item.span.clone(),
                                format!("option `{name}` has no file `parameters/{name}.yaml`"),
                                format!("add `parameters/{name}.yaml` or correct the name"),
                            );
                        }
                        Some((_, def)) => {
                            if !self.model.broken_options.contains(name)
                                && def.as_ref().is_some_and(|d| !d.field.is_postpaid())
                            {
                                ctx.error(
                                    codes::PLAN_MIXED_BILLING,
                                    item.span.clone(),
                                    format!("option `{name}` is not postpaid: its `actions` lack `resource_usages`"),
                                    "add `resource_usages` to the option's actions, or remove it from this list",
                                );
                            }
                            model.resource_usages.push(name.to_owned());
                            postpaid_nodes.push(item.clone());
                        }
                    }
                }
            }
            if !postpaid_nodes.is_empty() && free == Some(false) {
                ctx.error(
                    codes::PLAN_MIXED_BILLING,
                    key.span.clone(),
                    "postpaid options in a paid plan",
                    "postpaid options need a free plan (`free: true`, `cost: 0`)",
                );
            }
        }
        let postpaid_in_display: Vec<&String> = model
            .options
            .iter()
            .filter(|o| {
                self.model
                    .options
                    .get(*o)
                    .and_then(|(_, d)| d.as_ref())
                    .is_some_and(|d| d.field.is_postpaid())
            })
            .collect();
        let has_postpaid = !postpaid_nodes.is_empty() || !postpaid_in_display.is_empty();
        let prepaid_count = model
            .options
            .len()
            .saturating_sub(postpaid_in_display.len());
        if has_postpaid && prepaid_count > 0 {
            let at = root
                .entry("resource_usages")
                .map_or(0..0, |(k, _)| k.span.clone());
            ctx.error(
                codes::PLAN_MIXED_BILLING,
                at,
                "this plan has postpaid options and prepaid or free ones",
                "a plan has either prepaid/free options or postpaid ones: move the postpaid ones to their own plan",
            );
        }
        if let Some(patch) = root.get("parameters_patch") {
            self.patches(file, patch, model);
        }
    }

    fn patches(&mut self, file: &str, patch: &Node, model: &mut PlanModel) {
        let mut ctx = Ctx::new(file, &mut self.diags);
        let Some(map) = patch.as_map() else {
            ctx.wrong_type(patch, "a mapping of option names");
            return;
        };
        for (okey, changes) in map {
            let Some(name) = okey.scalar_text() else {
                continue;
            };
            let Some((orig, _)) = self.model.options.get(name) else {
                ctx.error(
                    codes::PLAN_BAD_PATCH,
                    okey.span.clone(),
                    format!(
                        "patch for option `{name}`, which has no file `parameters/{name}.yaml`"
                    ),
                    "correct the option name or remove the patch",
                );
                continue;
            };
            if !model.options.iter().any(|o| o == name)
                && !model.resource_usages.iter().any(|o| o == name)
            {
                if model.options_incomplete {
                    // The option may be in the part of display.yaml that could not be read.
                    continue;
                }
                ctx.error(
                    codes::PLAN_BAD_PATCH,
                    okey.span.clone(),
                    format!("patch for option `{name}`, which is not one of this plan's options"),
                    "add the option to a group of display.yaml or remove the patch",
                );
                continue;
            }
            let Some(entries) = changes.as_map() else {
                ctx.wrong_type(changes, "a mapping of patched keys");
                continue;
            };
            let keys: Vec<(&Node, &str, &Node)> = entries
                .iter()
                .filter_map(|(k, v)| k.scalar_text().map(|s| (k, s, v)))
                .collect();
            let mut conflict = false;
            for (k, s, _) in &keys {
                if let Some((_, other, _)) = keys.iter().find(|(_, o, _)| {
                    o.len() > s.len()
                        && o.starts_with(*s)
                        && o.as_bytes().get(s.len()) == Some(&b'.')
                }) {
                    ctx.error(
                        codes::PLAN_BAD_PATCH,
                        k.span.clone(),
                        format!("`{s}` is patched whole and `{other}` inside it is patched too"),
                        format!("patch either the section `{s}` or keys inside it, not both"),
                    );
                    conflict = true;
                }
            }
            if conflict {
                continue;
            }
            // A broken option's errors are its file's: the patch is not judged on top of them.
            if self.model.broken_options.contains(name) {
                continue;
            }
            let mut patched = orig.clone();
            let mut ok = true;
            for (k, s, v) in &keys {
                let path: Vec<&str> = s.split('.').collect();
                if path.len() > MAX_PATCH_DEPTH
                    || path.iter().any(|p| p.is_empty())
                    || !set_path(&mut patched, &path, (*v).clone())
                {
                    ctx.error(
                        codes::PLAN_BAD_PATCH,
                        k.span.clone(),
                        format!("cannot apply the patch key `{s}`"),
                        "patch `section.key` inside a mapping, or a whole section",
                    );
                    ok = false;
                }
            }
            if !ok {
                continue;
            }
            // The patched option must still be valid: report what the patch broke.
            // Errors the option has without the patch are its file's, reported there.
            let mut before = Diagnostics::new();
            {
                let opt_file = format!("parameters/{name}.yaml");
                let mut c = Ctx::new(&opt_file, &mut before);
                check_option(&mut c, name, orig);
            }
            let mut after = Diagnostics::new();
            let opt_file = format!("parameters/{name}.yaml");
            let mut c = Ctx::new(&opt_file, &mut after);
            check_option(&mut c, name, &patched);
            let old: BTreeSet<(&str, &str)> = before
                .iter()
                .filter(|d| d.is_error())
                .map(|d| (d.code, d.message.as_str()))
                .collect();
            for d in after.iter().filter(|d| d.is_error()) {
                if !old.contains(&(d.code, d.message.as_str())) {
                    ctx.error(
                        codes::PLAN_BAD_PATCH,
                        okey.span.clone(),
                        format!(
                            "after this patch, option `{name}` is invalid: {} [{}]",
                            d.message, d.code
                        ),
                        d.help
                            .clone()
                            .unwrap_or_else(|| "correct the patched values".to_owned()),
                    );
                }
            }
            model.patched.insert(name.to_owned(), patched);
        }
    }

    /// Checks display.yaml; returns the plan's options in display order.
    fn display(&mut self, file: &str, root: &Node, model: &mut PlanModel) -> Vec<String> {
        let mut ctx = Ctx::new(file, &mut self.diags);
        let mut options: Vec<String> = Vec::new();
        if !ctx.check_keys(root, &["pages", "entities"]) {
            model.options_incomplete = true;
            return options;
        }
        let mut incomplete = false;
        let mut seen: BTreeMap<String, std::ops::Range<usize>> = BTreeMap::new();
        // Options shown in a group that has a `when`, and the params every `when` reads.
        let mut conditional: BTreeSet<String> = BTreeSet::new();
        let mut when_params: Vec<(String, Node)> = Vec::new();
        let mut usage: BTreeMap<String, std::ops::Range<usize>> = BTreeMap::new();
        let opts = &self.model.options;
        if let Some(pages) = root.get("pages") {
            let pages = ctx.seq(pages);
            incomplete |= pages.is_none();
            if let Some(pages) = pages {
                if pages.len() > MAX_PAGES {
                    if let Some(extra) = pages.get(MAX_PAGES) {
                        ctx.error(
                            codes::DISPLAY_TOO_MANY_PAGES,
                            extra.span.clone(),
                            format!("{} pages; a wizard has at most {MAX_PAGES}", pages.len()),
                            "merge pages",
                        );
                    }
                }
                for page in pages {
                    if !ctx.check_keys(page, &["name", "groups"]) {
                        incomplete = true;
                        continue;
                    }
                    if let Some(n) = page.get("name") {
                        if let Some(s) = ctx.string(n) {
                            let len = s.chars().count();
                            if len > 32 {
                                ctx.error(
                                    codes::DISPLAY_TOO_LONG,
                                    n.span.clone(),
                                    format!("page name has {len} characters, more than 32"),
                                    "shorten it",
                                );
                            }
                        }
                    }
                    let Some(groups) = page.get("groups").and_then(|g| ctx.seq(g)) else {
                        incomplete |= page.get("groups").is_some();
                        continue;
                    };
                    for group in groups {
                        if !ctx.check_keys(group, &["name", "parameters", "when"]) {
                            incomplete = true;
                            continue;
                        }
                        if let Some(n) = group.get("name") {
                            if !n.is_null() {
                                if let Some(s) = ctx.string(n) {
                                    let len = s.chars().count();
                                    if len > 255 {
                                        ctx.error(
                                            codes::DISPLAY_TOO_LONG,
                                            n.span.clone(),
                                            format!(
                                                "group name has {len} characters, more than 255"
                                            ),
                                            "shorten it",
                                        );
                                    }
                                }
                            }
                        }
                        let has_when = group.get("when").is_some();
                        if let Some(w) = group.get("when") {
                            check_when(&mut ctx, w, opts, &mut when_params);
                        }
                        let Some(params) = group.get("parameters") else {
                            continue;
                        };
                        let names = ctx.name_list(params);
                        incomplete |= params.as_seq().is_none_or(|s| s.len() != names.len());
                        for (node, name) in names {
                            if let Some(first) = seen.get(name) {
                                let d = Diagnostic::error(
                                    codes::DISPLAY_DUPLICATE_OPTION,
                                    ctx.span(node.span.clone()),
                                    format!("option `{name}` is already in another group"),
                                )
                                .with_help("keep every option in exactly one group")
                                .with_label(ctx.span(first.clone()), "first listed here");
                                ctx.diags.push(d);
                                continue;
                            }
                            seen.insert(name.to_owned(), node.span.clone());
                            if !opts.contains_key(name) {
                                incomplete = true;
                                let names: Vec<&str> = opts.keys().map(String::as_str).collect();
                                let msg =
                                    format!("option `{name}` has no file `parameters/{name}.yaml`");
                                match did_you_mean(name, &names) {
                                    Some(m) => {
                                        let fix = ctx.rename(node.span.clone(), m);
                                        ctx.error_fix(
                                            codes::DISPLAY_UNKNOWN_OPTION,
                                            node.span.clone(),
                                            msg,
                                            format!("did you mean `{m}`?"),
                                            fix,
                                        );
                                    }
                                    None => ctx.error(
                                        codes::DISPLAY_UNKNOWN_OPTION,
                                        node.span.clone(),
                                        msg,
                                        format!("add `parameters/{name}.yaml` or correct the name"),
                                    ),
                                }
                            }
                            if has_when {
                                conditional.insert(name.to_owned());
                            }
                            usage.insert(name.to_owned(), node.span.clone());
                            options.push(name.to_owned());
                        }
                    }
                }
            }
        }
        // One level of conditions only.
        for (param, node) in &when_params {
            if conditional.contains(param) {
                ctx.error(
                    codes::DISPLAY_BAD_WHEN,
                    node.span.clone(),
                    format!("`{param}` is shown only under a condition and cannot be used in another `when`"),
                    "conditions have one level: depend only on options that are always shown",
                );
            }
        }
        // Entities.
        let kind_of = |name: &str| -> Option<DatasourceKind> {
            opts.get(name)?
                .1
                .as_ref()?
                .field
                .datasource()
                .map(|d| d.kind)
        };
        let needs_vm = options
            .iter()
            .find(|o| kind_of(o) == Some(DatasourceKind::Flavor));
        let needs_disk = options
            .iter()
            .find(|o| kind_of(o) == Some(DatasourceKind::VolumeType));
        let entities = root.get("entities");
        let mut has_disks = false;
        if let Some(list) = entities {
            if let Some(items) = ctx.seq(list) {
                for e in items {
                    has_disks |= check_entity(
                        &mut ctx,
                        e,
                        &options,
                        Opts {
                            all: opts,
                            broken: &self.model.broken_options,
                            plan_incomplete: incomplete,
                        },
                        &mut when_params,
                    );
                }
            }
        }
        let missing = match (entities, needs_vm, needs_disk) {
            (None, Some(o), _) | (None, None, Some(o)) => Some((o, "`entities` is missing")),
            (Some(_), _, Some(o)) if !has_disks => Some((o, "`entities` has no `disks`")),
            _ => None,
        };
        if let Some((o, why)) = missing {
            let at = usage.get(o).cloned().unwrap_or(0..0);
            ctx.error(
                codes::DISPLAY_MISSING_ENTITIES,
                at,
                format!("{why}, but the plan uses the `{}` datasource option `{o}`", kind_of(o).map_or("", DatasourceKind::as_str)),
                "describe the VMs (`entity: vm` with `flavor`) and their `disks` in `entities`, so the price can be computed",
            );
        }
        model.display_file = file.to_owned();
        model.option_spans = usage;
        model.options_incomplete |= incomplete;
        options
    }

    fn settings(&mut self, path: &str, model: &mut PlanModel) {
        let Some(root) = self.yaml(path, None) else {
            return;
        };
        let mut ctx = Ctx::new(path, &mut self.diags);
        if !ctx.check_keys(&root, &["preset", "retry"]) {
            return;
        }
        if let Some(n) = root.get("preset") {
            match n.as_str_lenient() {
                Some(s @ ("base_v2" | "base_v3" | "base_alpha")) => {
                    model.preset = Some(s.to_owned())
                }
                _ => {
                    let text = n.scalar_text().unwrap_or_default();
                    let msg = format!("unknown preset `{text}`");
                    match did_you_mean(text, &["base_v2", "base_v3", "base_alpha"]) {
                        Some(m) => {
                            // Unsafe: presets differ by one character and by a lot of meaning.
                            let fix = ctx.fix(
                                Applicability::Unsafe,
                                format!("write `{m}`"),
                                n.span.clone(),
                                m,
                            );
                            ctx.error_fix(
                                codes::SETTINGS_BAD_VALUE,
                                n.span.clone(),
                                msg,
                                format!("did you mean `{m}`?"),
                                fix,
                            );
                        }
                        None => ctx.error(
                            codes::SETTINGS_BAD_VALUE,
                            n.span.clone(),
                            msg,
                            "use `base_v2`, `base_v3` or `base_alpha`",
                        ),
                    }
                }
            }
        }
        if let Some(n) = root.get("retry") {
            // YAML 1.1 reads `yes`/`no` as booleans, YAML 1.2 as strings: accept both.
            let b = n.as_bool_yaml11().or_else(|| match n.scalar_text() {
                Some("yes") => Some(true),
                Some("no") => Some(false),
                _ => None,
            });
            match b {
                Some(b) => model.retry = Some(b),
                None => ctx.error(
                    codes::SETTINGS_BAD_VALUE,
                    n.span.clone(),
                    format!(
                        "unknown retry value `{}`",
                        n.scalar_text().unwrap_or_default()
                    ),
                    "use `yes` or `no`",
                ),
            }
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

fn service_string(ctx: &mut Ctx<'_>, n: &Node, key: &str, max: usize) {
    if let Some(s) = ctx.string(n) {
        let len = s.chars().count();
        if len == 0 {
            ctx.error(
                codes::SERVICE_REQUIRED,
                n.span.clone(),
                format!("`{key}` is empty"),
                format!("write the `{key}`"),
            );
        } else if len > max {
            ctx.error(
                codes::SERVICE_TOO_LONG,
                n.span.clone(),
                format!("`{key}` has {len} characters, more than {max}"),
                format!("shorten `{key}` to at most {max} characters"),
            );
        }
    }
}

/// Checks a `when` condition; collects the options it reads.
fn check_when(
    ctx: &mut Ctx<'_>,
    when: &Node,
    opts: &BTreeMap<String, (Node, Option<OptionDef>)>,
    params: &mut Vec<(String, Node)>,
) {
    let before = ctx.diags.error_count();
    check_when_shape(ctx, when, opts, params);
    // The wizard evaluates `when` with `forms::when`; what passes the checks above must read
    // there too, so the package and the wizard never disagree on a condition.
    if ctx.diags.error_count() == before {
        if let Err(e) = vitrina_forms::when::Condition::from_json(&when.to_json()) {
            ctx.error(
                codes::DISPLAY_BAD_WHEN,
                when.span.clone(),
                e.to_string(),
                "write `when: {in: {key: {param: OPTION}, values: [{const: VALUE}]}}` (or `not_in`)",
            );
        }
    }
}

fn check_when_shape(
    ctx: &mut Ctx<'_>,
    when: &Node,
    opts: &BTreeMap<String, (Node, Option<OptionDef>)>,
    params: &mut Vec<(String, Node)>,
) {
    let help = "write `when: {in: {key: {param: OPTION}, values: [{const: VALUE}]}}` (or `not_in`)";
    let Some(map) = when.as_map() else {
        ctx.error(
            codes::DISPLAY_BAD_WHEN,
            when.span.clone(),
            "`when` must be a mapping with `in` or `not_in`",
            help,
        );
        return;
    };
    let [(op, body)] = map else {
        ctx.error(
            codes::DISPLAY_BAD_WHEN,
            when.span.clone(),
            "`when` must have exactly one of `in`, `not_in`",
            help,
        );
        return;
    };
    if !matches!(op.scalar_text(), Some("in" | "not_in")) {
        ctx.error(
            codes::DISPLAY_BAD_WHEN,
            op.span.clone(),
            format!(
                "`{}` is not a condition; use `in` or `not_in`",
                op.scalar_text().unwrap_or_default()
            ),
            help,
        );
        return;
    }
    let Some(body_map) = body.as_map() else {
        ctx.error(
            codes::DISPLAY_BAD_WHEN,
            body.span.clone(),
            "a condition needs `key` and `values`",
            help,
        );
        return;
    };
    for (k, _) in body_map {
        if !matches!(k.scalar_text(), Some("key" | "values")) {
            ctx.error(
                codes::DISPLAY_BAD_WHEN,
                k.span.clone(),
                format!(
                    "unknown condition key `{}`",
                    k.scalar_text().unwrap_or_default()
                ),
                help,
            );
        }
    }
    match body.get("key") {
        Some(key) => operand(ctx, key, opts, params, help),
        None => ctx.error(
            codes::DISPLAY_BAD_WHEN,
            op.span.clone(),
            "the condition has no `key`",
            help,
        ),
    }
    match body.get("values").map(|v| (v, v.as_seq())) {
        Some((_, Some(values))) if !values.is_empty() => {
            for v in values {
                operand(ctx, v, opts, params, help);
            }
        }
        Some((v, _)) => ctx.error(
            codes::DISPLAY_BAD_WHEN,
            v.span.clone(),
            "`values` must be a non-empty list",
            help,
        ),
        None => ctx.error(
            codes::DISPLAY_BAD_WHEN,
            op.span.clone(),
            "the condition has no `values`",
            help,
        ),
    }
}

fn operand(
    ctx: &mut Ctx<'_>,
    node: &Node,
    opts: &BTreeMap<String, (Node, Option<OptionDef>)>,
    params: &mut Vec<(String, Node)>,
    help: &str,
) {
    match node.as_map() {
        Some([(k, v)]) => match k.scalar_text() {
            Some("const") => {
                if !matches!(v.kind, Kind::Scalar(_)) {
                    ctx.error(
                        codes::DISPLAY_BAD_WHEN,
                        v.span.clone(),
                        "`const` must be a single value (conditions do not nest)",
                        help,
                    );
                }
            }
            Some("param") => {
                if let Some(name) = v.as_str_lenient() {
                    if opts.contains_key(name) {
                        params.push((name.to_owned(), v.clone()));
                    } else {
                        ctx.error(
                            codes::DISPLAY_UNKNOWN_OPTION,
                            v.span.clone(),
                            format!("option `{name}` has no file `parameters/{name}.yaml`"),
                            format!("add `parameters/{name}.yaml` or correct the name"),
                        );
                    }
                } else {
                    ctx.error(
                        codes::DISPLAY_BAD_WHEN,
                        v.span.clone(),
                        "`param` must name an option",
                        help,
                    );
                }
            }
            _ => ctx.error(
                codes::DISPLAY_BAD_WHEN,
                k.span.clone(),
                "an operand is `{param: OPTION}` or `{const: VALUE}`",
                help,
            ),
        },
        _ => ctx.error(
            codes::DISPLAY_BAD_WHEN,
            node.span.clone(),
            "an operand is `{param: OPTION}` or `{const: VALUE}`",
            help,
        ),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParamKind {
    Integer,
    Flavor,
    VolumeType,
}

impl ParamKind {
    fn describe(self) -> &'static str {
        match self {
            ParamKind::Integer => "an integer option",
            ParamKind::Flavor => "a `flavor` datasource option",
            ParamKind::VolumeType => "a `volume_type` datasource option",
        }
    }
}

/// Checks `{const: V}` / `{param: OPTION}` of an entity field.
/// The package's options and which of them are broken.
#[derive(Clone, Copy)]
struct Opts<'a> {
    all: &'a BTreeMap<String, (Node, Option<OptionDef>)>,
    broken: &'a BTreeSet<String>,
    /// The plan's option list could not be read whole.
    plan_incomplete: bool,
}

fn const_or_param(
    ctx: &mut Ctx<'_>,
    parent: &Node,
    key: &str,
    required: bool,
    kind: ParamKind,
    plan_options: &[String],
    opts: Opts<'_>,
) {
    let Some((k, v)) = parent.entry(key) else {
        if required {
            ctx.error(
                codes::DISPLAY_BAD_ENTITY,
                parent.span.start..parent.span.start,
                format!("the entity has no `{key}`"),
                format!("add `{key}: {{const: …}}` or `{key}: {{param: OPTION}}`"),
            );
        }
        return;
    };
    let c = v.get("const");
    let p = v.get("param");
    let extra = v
        .as_map()
        .map(|m| {
            m.iter()
                .any(|(k, _)| !matches!(k.scalar_text(), Some("const" | "param")))
        })
        .unwrap_or(true);
    if c.is_some() == p.is_some() || extra {
        ctx.error(
            codes::DISPLAY_BAD_ENTITY,
            k.span.clone(),
            format!("`{key}` needs exactly one of `const` and `param`"),
            format!("write `{key}: {{const: …}}` or `{key}: {{param: OPTION}}`"),
        );
        return;
    }
    if let Some(c) = c {
        let ok = match kind {
            ParamKind::Integer => c.as_int().is_some_and(|n| n >= 0),
            ParamKind::Flavor => c.as_str_lenient().is_some_and(|s| !s.is_empty()),
            ParamKind::VolumeType => c
                .as_str_lenient()
                .is_some_and(|s| vitrina_forms::VOLUME_TYPE_NAMES.contains(&s)),
        };
        if !ok {
            let want = match kind {
                ParamKind::Integer => "a whole number 0 or more".to_owned(),
                ParamKind::Flavor => "a flavor name or ID".to_owned(),
                ParamKind::VolumeType => {
                    format!(
                        "a disk type: {}",
                        vitrina_forms::VOLUME_TYPE_NAMES.join(", ")
                    )
                }
            };
            ctx.error(
                codes::DISPLAY_BAD_ENTITY,
                c.span.clone(),
                format!("`{key}.const` must be {want}"),
                format!("write {want}"),
            );
        }
    }
    if let Some(p) = p {
        let Some(name) = ctx.string(p) else { return };
        let Some((_, def)) = opts.all.get(name) else {
            ctx.error(
                codes::DISPLAY_UNKNOWN_OPTION,
                p.span.clone(),
                format!("option `{name}` has no file `parameters/{name}.yaml`"),
                format!("add `parameters/{name}.yaml` or correct the name"),
            );
            return;
        };
        if !plan_options.iter().any(|o| o == name) {
            if opts.plan_incomplete {
                // It may be in the part of this file that could not be read.
                return;
            }
            ctx.error(
                codes::DISPLAY_BAD_ENTITY,
                p.span.clone(),
                format!("option `{name}` is not one of this plan's options"),
                "add it to a group of this display.yaml",
            );
            return;
        }
        // A broken option's errors are reported in its file.
        let Some(def) = def.as_ref().filter(|_| !opts.broken.contains(name)) else {
            return;
        };
        let ok = match kind {
            ParamKind::Integer => def.field.is_integer(),
            ParamKind::Flavor => def
                .field
                .datasource()
                .is_some_and(|d| d.kind == DatasourceKind::Flavor),
            ParamKind::VolumeType => def
                .field
                .datasource()
                .is_some_and(|d| d.kind == DatasourceKind::VolumeType),
        };
        if !ok {
            ctx.error(
                codes::DISPLAY_BAD_ENTITY,
                p.span.clone(),
                format!("`{key}` needs {}, and `{name}` is not one", kind.describe()),
                format!("name {} here", kind.describe()),
            );
        }
    }
}

/// Checks one entity; returns whether it has disks.
fn check_entity(
    ctx: &mut Ctx<'_>,
    e: &Node,
    plan_options: &[String],
    opts: Opts<'_>,
    when_params: &mut Vec<(String, Node)>,
) -> bool {
    let Some(kind_node) = e.get("entity") else {
        ctx.error(
            codes::DISPLAY_BAD_ENTITY,
            e.span.start..e.span.start,
            "an entity needs `entity:` (vm, load_balancing or floating_ip)",
            "add `entity: vm`",
        );
        return false;
    };
    let kind = kind_node.as_str_lenient().unwrap_or_default();
    let keys: &[&str] = match kind {
        "vm" => &["entity", "description", "count", "flavor", "disks", "when"],
        "load_balancing" | "floating_ip" => &["entity", "description", "count", "when"],
        other => {
            ctx.error(
                codes::DISPLAY_BAD_ENTITY,
                kind_node.span.clone(),
                format!("unknown entity kind `{other}`"),
                "use `vm`, `load_balancing` or `floating_ip`",
            );
            return false;
        }
    };
    ctx.check_keys(e, keys);
    if let Some(w) = e.get("when") {
        check_when(ctx, w, opts.all, when_params);
    }
    const_or_param(
        ctx,
        e,
        "count",
        true,
        ParamKind::Integer,
        plan_options,
        opts,
    );
    let mut has_disks = false;
    if kind == "vm" {
        const_or_param(
            ctx,
            e,
            "flavor",
            true,
            ParamKind::Flavor,
            plan_options,
            opts,
        );
        if let Some(disks) = e.get("disks").and_then(|d| ctx.seq(d)) {
            for d in disks {
                if !ctx.check_keys(d, &["type", "size"]) {
                    continue;
                }
                has_disks = true;
                const_or_param(
                    ctx,
                    d,
                    "type",
                    true,
                    ParamKind::VolumeType,
                    plan_options,
                    opts,
                );
                const_or_param(ctx, d, "size", true, ParamKind::Integer, plan_options, opts);
            }
        }
    }
    has_disks
}

/// Sets `path` in a mapping tree to `value`, creating mappings on the way. False when a step of
/// the path is not a mapping.
fn set_path(node: &mut Node, path: &[&str], value: Node) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let Kind::Map(entries) = &mut node.kind else {
        return false;
    };
    let pos = entries
        .iter()
        .position(|(k, _)| k.scalar_text() == Some(*first));
    let idx = match pos {
        Some(i) => i,
        None => {
            let key = Node {
                kind: Kind::Scalar(crate::yaml::Scalar {
                    text: (*first).to_owned(),
                    plain: true,
                }),
                span: value.span.clone(),
            };
            let empty = Node {
                kind: Kind::Map(Vec::new()),
                span: value.span.clone(),
            };
            entries.push((key, empty));
            entries.len() - 1
        }
    };
    let Some((_, slot)) = entries.get_mut(idx) else {
        return false;
    };
    if rest.is_empty() {
        *slot = value;
        true
    } else {
        if slot.is_null() {
            slot.kind = Kind::Map(Vec::new());
        }
        set_path(slot, rest, value)
    }
}

/// Width and height of a PNG from its IHDR chunk.
pub fn png_size(data: &[u8]) -> Option<(u32, u32)> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if data.get(..8)? != SIG || data.get(12..16)? != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(data.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(data.get(20..24)?.try_into().ok()?);
    Some((w, h))
}
