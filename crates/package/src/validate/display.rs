//! `display.yaml`: pages, groups, `when` conditions and the entities that price a plan.

use super::*;

impl Validator<'_> {
    /// Checks display.yaml; returns the plan's options in display order.
    pub(super) fn display(
        &mut self,
        file: &str,
        root: &Node,
        model: &mut PlanModel,
    ) -> Vec<String> {
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
