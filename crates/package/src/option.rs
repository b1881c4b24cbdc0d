//! `parameters/<OPTION>.yaml`: one option, read into the form model ([`vitrina_forms::Field`])
//! plus its price ([`vitrina_pricing::OptionBilling`]).

use vitrina_forms::{
    Action, Bounds, Datasource, DatasourceFilter, DatasourceKind, Field, FieldKind, Steps, ValueIs,
    DISK_CLASSES, NETWORK_KINDS, VOLUME_TYPE_NAMES,
};
use vitrina_pricing::OptionBilling;

use vitrina_diagnostics::Applicability;

use crate::check::{did_you_mean, Ctx};
use crate::codes;
use crate::yaml::Node;

/// An option as the package defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionDef {
    pub field: Field,
    pub billing: Option<OptionBilling>,
}

const ROOT_KEYS: &[&str] = &["actions", "schema", "billing"];
const SCHEMA_KEYS: &[&str] = &[
    "description",
    "hint",
    "type",
    "default",
    "minimum",
    "maximum",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "datasource",
    "tag",
];
const TYPES: &[&str] = &["integer", "string", "boolean", "number"];
const LABEL_MAX: usize = 255;

/// Checks an option file's tree and reads it. Returns `None` when it is too broken to use.
pub fn check_option(ctx: &mut Ctx<'_>, name: &str, root: &Node) -> Option<OptionDef> {
    if !ctx.check_keys(root, ROOT_KEYS) {
        return None;
    }
    let top = root.span.start..root.span.start;
    let mut actions = Vec::new();
    if root.get("actions").is_none() {
        // Unsafe: the author may have meant `[]` (shown read-only) or `update` too.
        let fix = ctx.fix(
            Applicability::Unsafe,
            "ask the option on create: add `actions: [create]`",
            top.clone(),
            "actions:\n  - create\n",
        );
        ctx.error_fix(
            codes::OPTION_REQUIRED,
            top.clone(),
            "missing required field `actions` (the actions that ask this option)",
            "add `actions:` (`[create]`, `[create, update]`, or `[]` for a read-only option)",
            fix,
        );
    }
    if let Some(list) = root.get("actions") {
        // `actions: []` is valid: seed 003 table 5 says an option with no action is shown
        // inactive (read-only, its value its `const` or `default`); only a missing key is an
        // error.
        if let Some(items) = ctx.seq(list) {
            for item in items {
                let Some(s) = ctx.string(item) else { continue };
                match Action::parse(s) {
                    Some(a) => actions.push(a),
                    None => {
                        let known = ["create", "update", "resource_usages"];
                        let msg = format!("unknown action `{s}`");
                        match did_you_mean(s, &known) {
                            Some(m) => {
                                let fix = ctx.rename(item.span.clone(), m);
                                ctx.error_fix(
                                    codes::OPTION_BAD_ACTION,
                                    item.span.clone(),
                                    msg,
                                    format!("did you mean `{m}`?"),
                                    fix,
                                );
                            }
                            None => ctx.error(
                                codes::OPTION_BAD_ACTION,
                                item.span.clone(),
                                msg,
                                "use `create`, `update` or `resource_usages`",
                            ),
                        }
                    }
                }
            }
        }
    }
    let postpaid = actions.contains(&Action::ResourceUsages);
    let schema = ctx.required(
        root,
        "schema",
        codes::OPTION_REQUIRED,
        top,
        "the option's form field",
    )?;
    if !ctx.check_keys(schema, SCHEMA_KEYS) {
        return None;
    }
    let schema_key = root
        .entry("schema")
        .map_or(schema.span.clone(), |(k, _)| k.span.clone());
    let description = ctx
        .required(
            schema,
            "description",
            codes::OPTION_REQUIRED,
            schema_key.clone(),
            "the label users see",
        )
        .and_then(|n| label(ctx, n, "description"));
    let hint = schema
        .get("hint")
        .filter(|n| !n.is_null())
        .and_then(|n| label(ctx, n, "hint"));
    let tag = schema
        .get("tag")
        .and_then(|n| ctx.string(n))
        .map(str::to_owned);
    let ty_node = ctx.required(
        schema,
        "type",
        codes::OPTION_REQUIRED,
        schema_key,
        "integer, string or boolean",
    );
    let ty = ty_node.and_then(|n| ctx.string(n));
    let billing = root
        .entry("billing")
        .and_then(|(k, v)| check_billing(ctx, k, v, ty, postpaid));

    let kind = match (ty, ty_node) {
        (Some("integer"), _) => integer_kind(ctx, schema, billing.as_ref()),
        (Some("string"), _) => string_kind(ctx, schema),
        (Some("boolean"), _) => boolean_kind(ctx, schema),
        (Some("number"), Some(n)) => {
            if !postpaid {
                ctx.error(
                    codes::OPTION_BAD_TYPE,
                    n.span.clone(),
                    "type `number` is only for postpaid options",
                    "use `integer`, or add `resource_usages` to `actions` for a postpaid option",
                );
            }
            Some(FieldKind::Number)
        }
        (Some(other), Some(n)) => {
            let msg = format!("unknown option type `{other}`");
            match did_you_mean(other, TYPES) {
                Some(m) => {
                    let fix = ctx.rename(n.span.clone(), m);
                    ctx.error_fix(
                        codes::OPTION_BAD_TYPE,
                        n.span.clone(),
                        msg,
                        format!("did you mean `{m}`?"),
                        fix,
                    );
                }
                None => ctx.error(
                    codes::OPTION_BAD_TYPE,
                    n.span.clone(),
                    msg,
                    "use `integer`, `string` or `boolean`",
                ),
            }
            None
        }
        _ => None,
    }?;
    Some(OptionDef {
        field: Field {
            name: name.to_owned(),
            label: description.unwrap_or_default(),
            hint,
            tag,
            actions,
            kind,
        },
        billing,
    })
}

fn label(ctx: &mut Ctx<'_>, node: &Node, key: &str) -> Option<String> {
    let s = ctx.string(node)?;
    let len = s.chars().count();
    if len > LABEL_MAX {
        ctx.error(
            codes::OPTION_TOO_LONG,
            node.span.clone(),
            format!("`{key}` has {len} characters, more than {LABEL_MAX}"),
            "shorten it",
        );
    } else if key == "description" && s.trim().is_empty() {
        ctx.error(
            codes::OPTION_REQUIRED,
            node.span.clone(),
            "`description` is empty",
            "write the label users see",
        );
    }
    Some(s.to_owned())
}

fn conflicts(ctx: &mut Ctx<'_>, schema: &Node, with: &str, keys: &[&str], why: &str) {
    for k in keys {
        if let Some((key, _)) = schema.entry(k) {
            ctx.error(
                codes::OPTION_CONFLICTING_KEYS,
                key.span.clone(),
                format!("`{k}` cannot be used with {with}"),
                format!("remove `{k}`: {why}"),
            );
        }
    }
}

fn non_negative(ctx: &mut Ctx<'_>, node: &Node, key: &str) -> Option<i64> {
    let v = ctx.int(node)?;
    if v < 0 {
        ctx.error(
            codes::OPTION_RANGE,
            node.span.clone(),
            format!("`{key}` is {v}: a count cannot be negative"),
            format!("make `{key}` 0 or more"),
        );
    }
    Some(v)
}

fn integer_kind(
    ctx: &mut Ctx<'_>,
    schema: &Node,
    billing: Option<&OptionBilling>,
) -> Option<FieldKind> {
    if let Some(c) = schema.get("const") {
        conflicts(
            ctx,
            schema,
            "`const`",
            &[
                "default",
                "minimum",
                "maximum",
                "enum",
                "pattern",
                "minLength",
                "maxLength",
            ],
            "a `const` option has one fixed value",
        );
        return ctx.int(c).map(FieldKind::IntegerConst);
    }
    conflicts(
        ctx,
        schema,
        "an integer option",
        &["pattern", "minLength", "maxLength"],
        "they apply to strings",
    );
    if let Some((enum_key, e)) = schema.entry("enum") {
        conflicts(
            ctx,
            schema,
            "`enum`",
            &["minimum", "maximum"],
            "an `enum` option offers exactly its values",
        );
        let values: Vec<i64> = ctx.seq(e)?.iter().filter_map(|v| ctx.int(v)).collect();
        let default = enum_default(
            ctx,
            schema,
            enum_key,
            |n| n.as_int(),
            "an integer",
            |d| values.contains(d),
            &values,
        )?;
        return Some(FieldKind::IntegerEnum { values, default });
    }
    let minimum = schema
        .get("minimum")
        .and_then(|n| non_negative(ctx, n, "minimum"));
    let maximum = schema
        .get("maximum")
        .and_then(|n| non_negative(ctx, n, "maximum"));
    let default_node = schema.get("default");
    let default = default_node.and_then(|n| non_negative(ctx, n, "default"));
    if let (Some(min), Some(max), Some(n)) = (minimum, maximum, schema.get("minimum")) {
        if min > max {
            ctx.error(
                codes::OPTION_RANGE,
                n.span.clone(),
                format!("`minimum` {min} is greater than `maximum` {max}"),
                "swap them or correct one",
            );
        }
    }
    if let (Some(d), Some(n)) = (default, default_node) {
        let below = minimum.is_some_and(|m| d < m);
        let above = maximum.is_some_and(|m| d > m);
        if below || above {
            ctx.error(
                codes::OPTION_RANGE,
                n.span.clone(),
                format!(
                    "`default` {d} is outside the range {}..{}",
                    minimum.map_or(String::new(), |m| m.to_string()),
                    maximum.map_or(String::new(), |m| m.to_string())
                ),
                "pick a default between `minimum` and `maximum`",
            );
        }
    }
    let steps = billing.and_then(|b| b.unit_size.map(|size| Steps { base: b.base, size }));
    Some(FieldKind::IntegerRange {
        default: default.unwrap_or_else(|| minimum.unwrap_or(0).max(0)),
        minimum,
        maximum,
        steps,
    })
}

fn enum_default<T: Clone>(
    ctx: &mut Ctx<'_>,
    schema: &Node,
    enum_key: &Node,
    read: impl Fn(&Node) -> Option<T>,
    expected: &str,
    contains: impl Fn(&T) -> bool,
    values: &[T],
) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    let Some(d) = schema.get("default") else {
        ctx.error(
            codes::OPTION_DEFAULT_NOT_IN_ENUM,
            enum_key.span.clone(),
            "an `enum` option needs a `default`",
            "add `default:` with one of the listed values",
        );
        return values.first().cloned();
    };
    let Some(v) = read(d) else {
        ctx.wrong_type(d, expected);
        return values.first().cloned();
    };
    if !contains(&v) {
        let msg = format!(
            "`default` {} is not one of `enum`",
            d.scalar_text().unwrap_or_default()
        );
        let first = schema
            .get("enum")
            .and_then(Node::as_seq)
            .and_then(<[Node]>::first)
            .and_then(Node::as_scalar)
            .filter(|s| s.plain)
            .map(|s| s.text.clone());
        match first {
            // Unsafe: the first value is a guess at what the author meant.
            Some(first) => {
                let fix = ctx.fix(
                    Applicability::Unsafe,
                    format!("use the first `enum` value `{first}`"),
                    d.span.clone(),
                    first,
                );
                ctx.error_fix(
                    codes::OPTION_DEFAULT_NOT_IN_ENUM,
                    d.span.clone(),
                    msg,
                    "pick a default from the `enum` list",
                    fix,
                );
            }
            None => ctx.error(
                codes::OPTION_DEFAULT_NOT_IN_ENUM,
                d.span.clone(),
                msg,
                "pick a default from the `enum` list",
            ),
        }
    }
    Some(v)
}

fn string_kind(ctx: &mut Ctx<'_>, schema: &Node) -> Option<FieldKind> {
    if let Some((ds_key, ds)) = schema.entry("datasource") {
        conflicts(
            ctx,
            schema,
            "`datasource`",
            &[
                "const",
                "enum",
                "minimum",
                "maximum",
                "pattern",
                "minLength",
                "maxLength",
            ],
            "the cloud supplies a datasource option's values",
        );
        return check_datasource(ctx, schema, ds_key, ds).map(FieldKind::Datasource);
    }
    if let Some(c) = schema.get("const") {
        conflicts(
            ctx,
            schema,
            "`const`",
            &[
                "default",
                "minimum",
                "maximum",
                "enum",
                "pattern",
                "minLength",
                "maxLength",
            ],
            "a `const` option has one fixed value",
        );
        return ctx.string(c).map(|s| FieldKind::StringConst(s.to_owned()));
    }
    conflicts(
        ctx,
        schema,
        "a string option",
        &["minimum", "maximum"],
        "they apply to integers",
    );
    if let Some((enum_key, e)) = schema.entry("enum") {
        conflicts(
            ctx,
            schema,
            "`enum`",
            &["pattern", "minLength", "maxLength"],
            "an `enum` option offers exactly its values",
        );
        let values: Vec<String> = ctx
            .seq(e)?
            .iter()
            .filter_map(|v| ctx.string(v).map(str::to_owned))
            .collect();
        let default = enum_default(
            ctx,
            schema,
            enum_key,
            |n| n.as_str_lenient().map(str::to_owned),
            "a string",
            |d| values.contains(d),
            &values,
        )?;
        return Some(FieldKind::StringEnum { values, default });
    }
    let default = schema
        .get("default")
        .and_then(|n| ctx.string(n))
        .map(str::to_owned);
    let pattern = match schema.get("pattern") {
        Some(n) => match ctx.string(n) {
            Some(p) => {
                if let Err(e) = regex::Regex::new(p) {
                    let first = e.to_string().lines().last().unwrap_or_default().to_owned();
                    ctx.error(
                        codes::OPTION_BAD_PATTERN,
                        n.span.clone(),
                        format!("`pattern` is not a valid regular expression: {first}"),
                        "correct the expression (quote it in YAML)",
                    );
                }
                Some(p.to_owned())
            }
            None => None,
        },
        None => None,
    };
    let min_length = length(ctx, schema, "minLength");
    let max_length = length(ctx, schema, "maxLength");
    if let (Some(min), Some(max), Some(n)) = (min_length, max_length, schema.get("minLength")) {
        if min > max {
            ctx.error(
                codes::OPTION_RANGE,
                n.span.clone(),
                format!("`minLength` {min} is greater than `maxLength` {max}"),
                "make `minLength` ≤ `maxLength`",
            );
        }
    }
    let kind = FieldKind::StringInput {
        default,
        pattern,
        min_length,
        max_length,
    };
    // The default must be an answer the field accepts.
    if let (
        FieldKind::StringInput {
            default: Some(d),
            pattern,
            ..
        },
        Some(node),
    ) = (&kind, schema.get("default"))
    {
        let probe = Field {
            name: "default".to_owned(),
            label: String::new(),
            hint: None,
            tag: None,
            actions: Vec::new(),
            kind: kind.clone(),
        };
        let pattern_ok = pattern
            .as_deref()
            .is_none_or(|p| regex::Regex::new(p).is_ok());
        match probe.check_answer(&vitrina_forms::Value::String(d.clone())) {
            Err(vitrina_forms::AnswerError::PatternMismatch { pattern, .. }) if pattern_ok => ctx
                .error(
                    codes::OPTION_BAD_PATTERN,
                    node.span.clone(),
                    format!("`default` `{d}` does not match `pattern` `{pattern}`"),
                    "change the default or the pattern",
                ),
            Err(
                e @ (vitrina_forms::AnswerError::TooShort { .. }
                | vitrina_forms::AnswerError::TooLong { .. }),
            ) => ctx.error(
                codes::OPTION_RANGE,
                node.span.clone(),
                e.to_string(),
                "make the default fit `minLength`/`maxLength`",
            ),
            _ => {}
        }
    }
    Some(kind)
}

fn length(ctx: &mut Ctx<'_>, schema: &Node, key: &str) -> Option<u64> {
    let n = schema.get(key)?;
    let v = ctx.int(n)?;
    if v <= 0 {
        ctx.error(
            codes::OPTION_RANGE,
            n.span.clone(),
            format!("`{key}` is {v}; it must be greater than 0"),
            format!("make `{key}` 1 or more"),
        );
        return None;
    }
    u64::try_from(v).ok()
}

fn boolean_kind(ctx: &mut Ctx<'_>, schema: &Node) -> Option<FieldKind> {
    let others = [
        "minimum",
        "maximum",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
    ];
    if let Some(c) = schema.get("const") {
        let mut with_default = vec!["default"];
        with_default.extend(others);
        conflicts(
            ctx,
            schema,
            "`const`",
            &with_default,
            "a `const` option has one fixed value",
        );
        return ctx.bool(c).map(FieldKind::BooleanConst);
    }
    conflicts(
        ctx,
        schema,
        "a boolean option",
        &others,
        "a boolean is a switch",
    );
    let default = match schema.get("default") {
        Some(n) => ctx.bool(n).unwrap_or(false),
        None => false,
    };
    Some(FieldKind::BooleanSwitch { default })
}

fn bad_ds(ctx: &mut Ctx<'_>, node: &Node, msg: String, help: impl Into<String>) {
    ctx.error(codes::OPTION_BAD_DATASOURCE, node.span.clone(), msg, help);
}

fn check_datasource(
    ctx: &mut Ctx<'_>,
    schema: &Node,
    ds_key: &Node,
    ds: &Node,
) -> Option<Datasource> {
    if !ctx.check_keys(ds, &["type", "value_is", "filter"]) {
        return None;
    }
    let Some(ty_node) = ds.get("type") else {
        bad_ds(
            ctx,
            ds_key,
            "`datasource` needs a `type`".into(),
            "add `type: flavor` (or az, subnet, network, volume_type, keypair)",
        );
        return None;
    };
    let ty = ctx.string(ty_node)?;
    let Some(kind) = DatasourceKind::parse(ty) else {
        let kinds: Vec<&str> = DatasourceKind::ALL.iter().map(|k| k.as_str()).collect();
        let msg = format!("unknown datasource type `{ty}`");
        match did_you_mean(ty, &kinds) {
            Some(m) => {
                let fix = ctx.rename(ty_node.span.clone(), m);
                ctx.error_fix(
                    codes::OPTION_BAD_DATASOURCE,
                    ty_node.span.clone(),
                    msg,
                    format!("did you mean `{m}`?"),
                    fix,
                );
            }
            None => bad_ds(
                ctx,
                ty_node,
                msg,
                format!("use one of {}", kinds.join(", ")),
            ),
        }
        return None;
    };
    let value_is = match ds.get("value_is") {
        Some(n) => match ctx.string(n) {
            Some("uuid") => Some(ValueIs::Uuid),
            Some("name") => Some(ValueIs::Name),
            Some(other) => {
                bad_ds(
                    ctx,
                    n,
                    format!("`value_is` is `{other}`; it must be `uuid` or `name`"),
                    "use `uuid` or `name`",
                );
                None
            }
            None => None,
        },
        None => None,
    };
    let mut default = None;
    if let Some((dk, dv)) = schema.entry("default") {
        if kind.allows_default() {
            if let Some(s) = ctx.string(dv) {
                if kind == DatasourceKind::VolumeType && !VOLUME_TYPE_NAMES.contains(&s) {
                    bad_ds(
                        ctx,
                        dv,
                        format!("`{s}` is not a disk type"),
                        format!("use one of {}", VOLUME_TYPE_NAMES.join(", ")),
                    );
                }
                default = Some(s.to_owned());
            }
        } else {
            bad_ds(
                ctx,
                dk,
                format!("a `{ty}` datasource cannot have a `default`"),
                "remove `default`: only `az` and `volume_type` datasources have one",
            );
        }
    }
    let mut filter = DatasourceFilter::default();
    if let Some((fk, fv)) = ds.entry("filter") {
        if !kind.allows_filter() {
            bad_ds(
                ctx,
                fk,
                format!("a `{ty}` datasource cannot have a `filter`"),
                "remove `filter`: only `flavor`, `volume_type` and `network` datasources have one",
            );
        } else if let Some(map) = fv.as_map() {
            for (k, v) in map {
                let key = k.scalar_text().unwrap_or_default();
                match (kind, key) {
                    // Seed 003 table 9 spells it `vcpu`; VK's examples use `vcpus`.
                    (DatasourceKind::Flavor, "vcpus" | "vcpu") => filter.vcpus = bounds(ctx, v),
                    (DatasourceKind::Flavor, "ram") => filter.ram_mb = bounds(ctx, v),
                    (DatasourceKind::VolumeType, "disk_class") => {
                        filter.disk_classes = enum_filter(ctx, k, v, &DISK_CLASSES);
                    }
                    (DatasourceKind::VolumeType, "name") => {
                        filter.volume_type_names = enum_filter(ctx, k, v, &VOLUME_TYPE_NAMES);
                    }
                    (DatasourceKind::Network, "kind") => {
                        if let Some(s) = ctx.string(v) {
                            if NETWORK_KINDS.contains(&s) {
                                filter.network_kind = Some(s.to_owned());
                            } else {
                                bad_ds(
                                    ctx,
                                    v,
                                    format!("network `kind` `{s}` is not one of external, internal, all"),
                                    "use `external`, `internal` or `all`",
                                );
                            }
                        }
                    }
                    (DatasourceKind::Network, "shared") => filter.shared = ctx.bool(v),
                    _ => {
                        let known: &[&str] = match kind {
                            DatasourceKind::Flavor => &["vcpus", "vcpu", "ram"],
                            DatasourceKind::VolumeType => &["disk_class", "name"],
                            _ => &["kind", "shared"],
                        };
                        let help = match did_you_mean(key, known) {
                            Some(m) => format!("did you mean `{m}`?"),
                            None => format!(
                                "a `{ty}` filter has {}; check the indentation",
                                known
                                    .iter()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(" and ")
                            ),
                        };
                        bad_ds(ctx, k, format!("unknown `{ty}` filter `{key}`"), help);
                    }
                }
            }
        } else {
            ctx.wrong_type(fv, "a mapping");
        }
    }
    Some(Datasource {
        kind,
        value_is,
        default,
        filter,
    })
}

fn bounds(ctx: &mut Ctx<'_>, node: &Node) -> Option<Bounds> {
    if !ctx.check_keys(node, &["minimum", "maximum"]) {
        return None;
    }
    let mut read = |key: &str| -> Option<i64> {
        let n = node.get(key)?;
        let v = ctx.int(n)?;
        if v <= 0 {
            bad_ds(
                ctx,
                n,
                format!("filter `{key}` is {v}; it must be greater than 0"),
                "use a positive number (RAM in MB)",
            );
        }
        Some(v)
    };
    let b = Bounds {
        minimum: read("minimum"),
        maximum: read("maximum"),
    };
    if let (Some(min), Some(max)) = (b.minimum, b.maximum) {
        if min > max {
            bad_ds(
                ctx,
                node,
                format!("filter `minimum` {min} is greater than `maximum` {max}"),
                "swap them",
            );
        }
    }
    Some(b)
}

fn enum_filter(ctx: &mut Ctx<'_>, key: &Node, node: &Node, allowed: &[&str]) -> Vec<String> {
    let name = key.scalar_text().unwrap_or_default();
    if node.is_null() {
        bad_ds(
            ctx,
            key,
            format!("filter `{name}` is empty"),
            format!(
                "indent `enum:` under `{name}:`, listing some of {}",
                allowed.join(", ")
            ),
        );
        return Vec::new();
    }
    if !ctx.check_keys(node, &["enum"]) {
        return Vec::new();
    }
    let Some(list) = node.get("enum") else {
        bad_ds(
            ctx,
            key,
            format!("filter `{name}` needs an `enum` list"),
            format!("add `enum: [...]` with some of {}", allowed.join(", ")),
        );
        return Vec::new();
    };
    let Some(items) = ctx.seq(list) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(s) = ctx.string(item) {
            if allowed.contains(&s) {
                out.push(s.to_owned());
            } else {
                bad_ds(
                    ctx,
                    item,
                    format!("`{s}` is not allowed in filter `{name}`"),
                    format!("use some of {}", allowed.join(", ")),
                );
            }
        }
    }
    out
}

fn check_billing(
    ctx: &mut Ctx<'_>,
    key: &Node,
    node: &Node,
    ty: Option<&str>,
    postpaid: bool,
) -> Option<OptionBilling> {
    if !ctx.check_keys(node, &["base", "cost", "unit"]) {
        return None;
    }
    match ty {
        Some("integer" | "number") => {}
        Some("boolean") => {
            for k in ["base", "unit"] {
                if let Some((kn, _)) = node.entry(k) {
                    ctx.error(
                        codes::OPTION_BILLING,
                        kn.span.clone(),
                        format!("a boolean on-price has only `cost`, not `{k}`"),
                        format!("remove `{k}`"),
                    );
                }
            }
        }
        Some(other) => {
            ctx.error(
                codes::OPTION_BILLING,
                key.span.clone(),
                format!("a `{other}` option cannot have `billing`"),
                "only integer options (and a boolean on-price) are paid; remove `billing`",
            );
            return None;
        }
        None => return None,
    }
    let cost = match node.get("cost") {
        Some(n) => ctx.number(n).and_then(|_| {
            // Exact: the amount is read from its decimal text, never through a float.
            let text = n.scalar_text().unwrap_or_default();
            match text.parse::<vitrina_pricing::Money>() {
                Ok(c) if c.is_negative() => {
                    ctx.error(
                        codes::OPTION_BILLING,
                        n.span.clone(),
                        "`cost` is negative",
                        "make it 0 or more",
                    );
                    Some(c)
                }
                Ok(c) => Some(c),
                Err(e) => {
                    ctx.error(
                        codes::OPTION_BILLING,
                        n.span.clone(),
                        format!("`cost` cannot be used as a price: {e}"),
                        "write the price with at most 4 decimal places, e.g. `49.90`",
                    );
                    None
                }
            }
        }),
        None => {
            ctx.error(
                codes::OPTION_BILLING,
                key.span.clone(),
                "`billing` needs a `cost`",
                "add `cost:` (the price of one step)",
            );
            None
        }
    };
    let base = node.get("base").and_then(|n| {
        let v = ctx.int(n)?;
        if v < 0 {
            ctx.error(
                codes::OPTION_BILLING,
                n.span.clone(),
                "`base` is negative",
                "make it 0 or more",
            );
        }
        Some(v)
    });
    let mut unit_size = None;
    let mut measurement = None;
    if ty != Some("boolean") {
        match node.entry("unit") {
            Some((uk, uv)) => {
                if ctx.check_keys(uv, &["size", "measurement"]) {
                    match uv.get("size") {
                        Some(n) => {
                            if let Some(v) = ctx.int(n) {
                                if v <= 0 {
                                    ctx.error(
                                        codes::OPTION_BILLING,
                                        n.span.clone(),
                                        format!("`unit.size` is {v}; it must be greater than 0"),
                                        "make it 1 or more",
                                    );
                                } else if postpaid && v != 1 {
                                    ctx.error(codes::OPTION_BILLING, n.span.clone(), format!("`unit.size` is {v}; a postpaid option's unit size must be 1"), "set `size: 1`");
                                }
                                unit_size = Some(v);
                            }
                        }
                        None => ctx.error(
                            codes::OPTION_BILLING,
                            uk.span.clone(),
                            "`unit` needs a `size`",
                            "add `size:` (the step)",
                        ),
                    }
                    if let Some(n) = uv.get("measurement") {
                        if let Some(s) = ctx.string(n) {
                            if s.chars().count() > LABEL_MAX {
                                ctx.error(
                                    codes::OPTION_TOO_LONG,
                                    n.span.clone(),
                                    "`measurement` is longer than 255 characters",
                                    "shorten it",
                                );
                            }
                            measurement = Some(s.to_owned());
                        }
                    }
                }
            }
            None => ctx.error(
                codes::OPTION_BILLING,
                key.span.clone(),
                "`billing` needs `unit.size`",
                "add `unit: {size: 1}`",
            ),
        }
    }
    Some(OptionBilling {
        base: base.unwrap_or(0),
        cost: cost.unwrap_or(vitrina_pricing::Money::ZERO),
        unit_size,
        measurement,
    })
}
