//! `service.yaml`: ids, names and descriptions, the icon.

use super::*;

impl Validator<'_> {
    /// Checks service.yaml; returns the listed plans that have a folder.
    pub(super) fn service(&mut self, root: &Node) -> Vec<String> {
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

    pub(super) fn icon(&mut self, icon: &str, at: std::ops::Range<usize>) {
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
