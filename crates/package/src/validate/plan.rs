//! Option files, `plan.yaml` and each plan's `parameters_patch` and manifest.

use super::*;

impl Validator<'_> {
    pub(super) fn options(&mut self) {
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

    pub(super) fn plan(&mut self, folder: &str, ids: &mut Ids) -> PlanModel {
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

    pub(super) fn plan_yaml(
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

    pub(super) fn patches(&mut self, file: &str, patch: &Node, model: &mut PlanModel) {
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
