//! `variables:` of an application: every type of the seed, `active-if` with its cycle and
//! order checks, defaults checked against their options, ranges and patterns.

use std::collections::BTreeMap;
use std::ops::Range;

use vitrina_diagnostics::{Applicability, Diagnostic};
use vitrina_forms::sdf::{
    validators, Choice, Condition, Form, FormError, Localized, Predicate, SdfValue, VarType,
    Variable, VisualMode, DEFAULT_PASSWORD_MAX, DEFAULT_PASSWORD_MIN, DEFAULT_SCHEMES,
    DEFAULT_STRING_MAX, DEFAULT_URI_MAX,
};

use super::app::{bad_value, filters, localized, regex};
use crate::check::{did_you_mean, Ctx};
use crate::codes;
use crate::yaml::{Node, Plain};

const COMMON: &[&str] = &[
    "label",
    "description",
    "type",
    "active-if",
    "default",
    "is-volatile",
];

/// Keys of each type besides [`COMMON`]: the seed's spelling and the later spec's.
fn type_keys(ty: &str) -> &'static [&'static str] {
    match ty {
        "Number" => &[
            "minimum",
            "maximum",
            "is-integer",
            "integer",
            "integer_min",
            "integer_max",
        ],
        "String" => &[
            "minimum",
            "maximum",
            "minimum-length",
            "maximum-length",
            "is-multiline",
            "multiline",
            "multiline-base64",
            "base64",
            "regex",
        ],
        "IpAddress" => &["version", "is_cidr", "cidr", "network-address"],
        "URI" | "URL" => &["scheme", "maximum", "maximum-length"],
        "Password" => &[
            "minimum",
            "maximum",
            "minimum-length",
            "maximum-length",
            "mimimum-length",
            "validator",
            "regex",
        ],
        "OneOf" => &["options", "visual-mode"],
        "Some" => &["options", "defaults"],
        "ServiceOffering" => &["filters"],
        _ => &[],
    }
}

/// Draft spellings read with a warning: (type, written, write instead).
const LEGACY: &[(&str, &str, &str)] = &[
    ("Number", "integer_min", "minimum"),
    ("Number", "integer_max", "maximum"),
    ("Password", "mimimum-length", "minimum-length"),
];

/// Type names of the drafts the public examples use, and the seed's type to write instead
/// (`None`: no direct equivalent).
const DRAFT_TYPES: &[(&str, Option<&str>, &str)] = &[
    ("FQDN_DNS", Some("DomainName"), ""),
    ("PASSWORD", Some("Password"), ""),
    ("REGEX", Some("String"), " (with `regex:`)"),
    ("INTEGER", Some("Number"), ""),
    ("SERVICE-OFFERING", Some("ServiceOffering"), ""),
    ("BOOLEAN", None, "`OneOf` with options `true` and `false`"),
];

/// Where the parts of a variable are written, for checks that need every variable.
struct Spans {
    name: Range<usize>,
    active_if: Option<Range<usize>>,
    /// Each source's name and its value nodes.
    sources: Vec<(String, Range<usize>, Vec<Node>)>,
}

pub fn check_variables(ctx: &mut Ctx<'_>, n: &Node) -> Option<Vec<Variable>> {
    let Some(entries) = n.as_map() else {
        ctx.wrong_type(n, "a mapping of variables by name");
        return Some(Vec::new());
    };
    let declared: Vec<&str> = entries
        .iter()
        .filter_map(|(k, _)| k.scalar_text())
        .collect();
    let mut vars: Vec<Variable> = Vec::new();
    let mut spans: Vec<Spans> = Vec::new();
    let mut seen: BTreeMap<&str, Range<usize>> = BTreeMap::new();
    for (k, v) in entries {
        let Some(name) = k.scalar_text() else {
            ctx.wrong_type(k, "a variable name");
            continue;
        };
        if let Some(first) = seen.get(name) {
            let d = Diagnostic::error(
                codes::YAML_DUPLICATE_KEY,
                ctx.span(k.span.clone()),
                format!("the variable `{name}` is given twice"),
            )
            .with_help("keep one of them")
            .with_label(ctx.span(first.clone()), "first given here");
            ctx.diags.push(d);
            continue;
        }
        seen.insert(name, k.span.clone());
        if let Some((var, sp)) = variable(ctx, name, k, v, &declared) {
            vars.push(var);
            spans.push(sp);
        }
    }
    // Sources declared after what they activate: allowed (the form orders them), but the
    // field would be shown before the one that controls it.
    let position: BTreeMap<&str, usize> = vars
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.as_str(), i))
        .collect();
    for (i, (var, sp)) in vars.iter().zip(&spans).enumerate() {
        for (src, at, values) in &sp.sources {
            let Some(&j) = position.get(src.as_str()) else {
                continue;
            };
            if j > i {
                let d = Diagnostic::warning(
                    codes::SDF_FORWARD_SOURCE,
                    ctx.span(at.clone()),
                    format!(
                        "`{}` is activated by `{src}`, which is declared after it",
                        var.name
                    ),
                )
                .with_help(format!(
                    "move `{src}` above `{}` so the form shows the controlling field first",
                    var.name
                ))
                .with_label(ctx.span(spans[j].name.clone()), "declared here");
                ctx.diags.push(d);
            }
            if let Some(source) = vars.get(j) {
                condition_values(ctx, source, values);
            }
        }
    }
    match Form::new(vars.clone()) {
        Ok(_) => Some(vars),
        Err(FormError::Cycle(cycle)) => {
            let first = cycle.first().cloned().unwrap_or_default();
            let at = position
                .get(first.as_str())
                .and_then(|i| spans.get(*i))
                .map(|s| s.active_if.clone().unwrap_or(s.name.clone()))
                .unwrap_or(0..0);
            let mut d = Diagnostic::error(
                codes::SDF_ACTIVATION_CYCLE,
                ctx.span(at),
                format!("activation goes round: {}", cycle.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" is activated by ")),
            )
            .with_help("a variable cannot depend on itself, directly or through others: remove one `active-if` source of the cycle");
            let mut labelled = std::collections::BTreeSet::new();
            for name in cycle.iter().skip(1) {
                if !labelled.insert(name.clone()) || *name == first {
                    continue;
                }
                if let Some(s) = position.get(name.as_str()).and_then(|i| spans.get(*i)) {
                    d = d.with_label(
                        ctx.span(s.active_if.clone().unwrap_or(s.name.clone())),
                        format!("`{name}` is in the cycle"),
                    );
                }
            }
            ctx.diags.push(d);
            None
        }
    }
}

/// A value of an `active-if` source that the source can never hold.
fn condition_values(ctx: &mut Ctx<'_>, source: &Variable, values: &[Node]) {
    for v in values {
        let value = to_value(v);
        let possible = match &source.ty {
            VarType::OneOf { options, .. } | VarType::Some { options } => {
                options.iter().any(|o| o.value.same(&value))
            }
            VarType::Section => matches!(value, SdfValue::Bool(_)),
            _ => true,
        };
        if !possible {
            let allowed = match source.ty.options() {
                Some(opts) => opts
                    .iter()
                    .map(|o| format!("`{}`", o.value))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "`true`, `false`".to_owned(),
            };
            ctx.diags.push(
                Diagnostic::warning(
                    codes::SDF_CONDITION_VALUE,
                    ctx.span(v.span.clone()),
                    format!(
                        "`{}` can never be `{value}`: this condition never holds",
                        source.name
                    ),
                )
                .with_help(format!("use one of its values: {allowed}")),
            );
        }
    }
}

/// A YAML node as a value (core schema; lists item by item).
pub fn to_value(n: &Node) -> SdfValue {
    if let Some(items) = n.as_seq() {
        return SdfValue::List(items.iter().map(to_value).collect());
    }
    match n.plain() {
        Some(Plain::Null) => SdfValue::Null,
        Some(Plain::Bool(b)) => SdfValue::Bool(b),
        Some(Plain::Int(i)) => SdfValue::Int(i),
        Some(Plain::Float(f)) => SdfValue::Float(f),
        Some(Plain::Str) => SdfValue::String(n.scalar_text().unwrap_or_default().to_owned()),
        None => SdfValue::Null,
    }
}

fn variable(
    ctx: &mut Ctx<'_>,
    name: &str,
    k: &Node,
    v: &Node,
    declared: &[&str],
) -> Option<(Variable, Spans)> {
    let Some(ty_node) = v.get("type") else {
        if v.as_map().is_none() {
            ctx.wrong_type(v, "a mapping (the variable's attributes)");
            return None;
        }
        ctx.error(
            codes::SDF_REQUIRED,
            k.span.clone(),
            format!("the variable `{name}` has no `type`"),
            format!("add `type:` ({})", VarType::NAMES.join(", ")),
        );
        return None;
    };
    let ty_name = ctx.string(ty_node)?;
    if !VarType::NAMES.contains(&ty_name) {
        unknown_type(ctx, ty_node, ty_name);
        // The rest of the variable is not checked against a type we do not know.
        return None;
    }
    let known: Vec<&str> = COMMON.iter().chain(type_keys(ty_name)).copied().collect();
    if !ctx.check_keys(v, &known) {
        return None;
    }
    for (t, old, new) in LEGACY {
        if *t != ty_name {
            continue;
        }
        if let Some((key, _)) = v.entry(old) {
            let mut d = Diagnostic::warning(
                codes::SDF_LEGACY_KEY,
                ctx.span(key.span.clone()),
                format!("`{old}` is a draft spelling of `{new}`"),
            )
            .with_help(format!("write `{new}`"));
            if v.get(new).is_none() {
                d = d.with_fix(ctx.rename(key.span.clone(), new));
            }
            ctx.diags.push(d);
        }
    }
    let label = v.get("label").and_then(|n| localized(ctx, n));
    let description = v.get("description").and_then(|n| localized(ctx, n));
    let volatile = v
        .get("is-volatile")
        .and_then(|n| ctx.bool(n))
        .unwrap_or(false);
    let ty = var_type(ctx, ty_name, v)?;
    let mut spans = Spans {
        name: k.span.clone(),
        active_if: v.entry("active-if").map(|(key, _)| key.span.clone()),
        sources: Vec::new(),
    };
    let active_if = match v.get("active-if") {
        Some(c) if !c.is_null() => condition(ctx, name, c, declared, &mut spans),
        _ => None,
    };
    let default = default(ctx, name, &ty, v);
    Some((
        Variable {
            name: name.to_owned(),
            label,
            description,
            ty,
            active_if,
            default,
            volatile,
        },
        spans,
    ))
}

fn unknown_type(ctx: &mut Ctx<'_>, n: &Node, ty: &str) {
    let msg = format!("unknown variable type `{ty}`");
    let exact = VarType::NAMES.iter().find(|t| t.eq_ignore_ascii_case(ty));
    let draft = DRAFT_TYPES
        .iter()
        .find(|(d, _, _)| d.eq_ignore_ascii_case(ty));
    let (suggestion, help) = match (exact, draft) {
        (Some(t), _) => (
            Some(*t),
            format!("type names are case-sensitive: write `{t}`"),
        ),
        (None, Some((d, Some(t), extra))) => (
            Some(*t),
            format!("`{d}` is the draft's name: write `{t}`{extra}"),
        ),
        (None, Some((d, None, instead))) => {
            (None, format!("`{d}` is the draft's name: write {instead}"))
        }
        (None, None) => match did_you_mean(ty, &VarType::NAMES) {
            Some(t) => (Some(t), format!("did you mean `{t}`?")),
            None => (None, format!("the types are {}", VarType::NAMES.join(", "))),
        },
    };
    match suggestion {
        Some(t) => {
            let fix = ctx.fix(
                Applicability::Safe,
                format!("write `{t}`"),
                n.span.clone(),
                t,
            );
            ctx.error_fix(codes::SDF_UNKNOWN_TYPE, n.span.clone(), msg, help, fix);
        }
        None => ctx.error(codes::SDF_UNKNOWN_TYPE, n.span.clone(), msg, help),
    }
}

/// The first of several spellings given.
fn pick<'n>(v: &'n Node, keys: &[&str]) -> Option<&'n Node> {
    keys.iter().find_map(|k| v.get(k)).filter(|n| !n.is_null())
}

fn length(ctx: &mut Ctx<'_>, v: &Node, keys: &[&str], fallback: u64) -> u64 {
    let Some(n) = pick(v, keys) else {
        return fallback;
    };
    match ctx.int(n) {
        Some(i) if i >= 0 => u64::try_from(i).unwrap_or(fallback),
        Some(i) => {
            ctx.error(
                codes::SDF_BAD_RANGE,
                n.span.clone(),
                format!("a length cannot be {i}"),
                "write 0 or more",
            );
            fallback
        }
        None => fallback,
    }
}

fn lengths(
    ctx: &mut Ctx<'_>,
    v: &Node,
    min_keys: &[&str],
    max_keys: &[&str],
    min0: u64,
    max0: u64,
) -> (u64, u64) {
    let min = length(ctx, v, min_keys, min0);
    let max = length(ctx, v, max_keys, max0);
    if min > max {
        let at = pick(v, max_keys)
            .or_else(|| pick(v, min_keys))
            .map_or(v.span.clone(), |n| n.span.clone());
        ctx.error(
            codes::SDF_BAD_RANGE,
            at,
            format!("the minimum length {min} is above the maximum {max}"),
            "make the minimum at most the maximum",
        );
    }
    (min, max)
}

fn flag(ctx: &mut Ctx<'_>, v: &Node, keys: &[&str]) -> Option<bool> {
    pick(v, keys).and_then(|n| ctx.bool(n))
}

fn var_type(ctx: &mut Ctx<'_>, ty: &str, v: &Node) -> Option<VarType> {
    Some(match ty {
        "Number" => {
            let min = pick(v, &["minimum", "integer_min"]).and_then(|n| ctx.number(n));
            let max = pick(v, &["maximum", "integer_max"]).and_then(|n| ctx.number(n));
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    let at = pick(v, &["maximum", "integer_max"])
                        .map_or(v.span.clone(), |n| n.span.clone());
                    ctx.error(
                        codes::SDF_BAD_RANGE,
                        at,
                        format!("the minimum {a} is above the maximum {b}"),
                        "make the minimum at most the maximum",
                    );
                }
            }
            VarType::Number {
                minimum: min,
                maximum: max,
                integer: flag(ctx, v, &["is-integer", "integer"]).unwrap_or(true),
            }
        }
        "String" => {
            let (min_length, max_length) = lengths(
                ctx,
                v,
                &["minimum-length", "minimum"],
                &["maximum-length", "maximum"],
                0,
                DEFAULT_STRING_MAX,
            );
            let multiline = flag(ctx, v, &["multiline", "is-multiline"]).unwrap_or(false);
            // Seed 004 (`multiline-base64`) defaults to false; the later text's `base64`
            // defaults to `multiline`.
            let base64 = match (v.get("base64"), v.get("multiline-base64")) {
                (Some(n), _) => ctx.bool(n).unwrap_or(multiline),
                (None, Some(n)) => ctx.bool(n).unwrap_or(false),
                (None, None) => v.get("multiline").is_some() && multiline,
            };
            VarType::String {
                min_length,
                max_length,
                multiline,
                base64,
                regex: v.get("regex").and_then(|n| regex(ctx, n)),
            }
        }
        "DomainName" => VarType::DomainName,
        "Email" => VarType::Email,
        "Section" => VarType::Section,
        "IpAddress" => {
            let mut versions = Vec::new();
            if let Some(n) = v.get("version") {
                let items: Vec<&Node> = match n.as_seq() {
                    Some(items) => items.iter().collect(),
                    None => vec![n],
                };
                for it in items {
                    match it.as_int() {
                        Some(4) => versions.push(4),
                        Some(6) => versions.push(6),
                        _ => {
                            let text = it.scalar_text().unwrap_or_default().to_owned();
                            bad_value(ctx, it, &text, "version", &["4", "6"]);
                        }
                    }
                }
            }
            if versions.is_empty() {
                versions.push(4);
            }
            versions.sort_unstable();
            versions.dedup();
            VarType::IpAddress {
                versions,
                network: flag(ctx, v, &["network-address", "cidr", "is_cidr"]).unwrap_or(false),
            }
        }
        "URI" | "URL" => {
            let mut schemes = Vec::new();
            if let Some(n) = v.get("scheme") {
                let items: Vec<&Node> = match n.as_seq() {
                    Some(items) => items.iter().collect(),
                    None => vec![n],
                };
                for it in items {
                    if let Some(s) = ctx.string(it) {
                        if scheme_ok(ctx, it, s) {
                            schemes.push(s.to_ascii_lowercase());
                        }
                    }
                }
            }
            if schemes.is_empty() && v.get("scheme").is_none() {
                schemes = DEFAULT_SCHEMES.iter().map(|s| (*s).to_owned()).collect();
            }
            let max_length = length(ctx, v, &["maximum-length", "maximum"], DEFAULT_URI_MAX);
            VarType::Uri {
                schemes,
                max_length,
            }
        }
        "Password" => {
            let (min_length, max_length) = lengths(
                ctx,
                v,
                &["minimum-length", "mimimum-length", "minimum"],
                &["maximum-length", "maximum"],
                DEFAULT_PASSWORD_MIN,
                DEFAULT_PASSWORD_MAX,
            );
            VarType::Password {
                min_length,
                max_length,
                regex: pick(v, &["regex", "validator"]).and_then(|n| regex(ctx, n)),
            }
        }
        "OneOf" => {
            let visual = match v.get("visual-mode") {
                Some(n) => match ctx.string(n) {
                    Some(s) => VisualMode::parse(s).unwrap_or_else(|| {
                        bad_value(ctx, n, s, "visual-mode", &VisualMode::NAMES);
                        VisualMode::default()
                    }),
                    None => VisualMode::default(),
                },
                None => VisualMode::default(),
            };
            VarType::OneOf {
                options: options(ctx, v, false)?,
                visual,
            }
        }
        "Some" => VarType::Some {
            options: options(ctx, v, true)?,
        },
        "ServiceOffering" => VarType::ServiceOffering {
            filters: v
                .get("filters")
                .map(|f| filters(ctx, f))
                .unwrap_or_default(),
        },
        _ => return None,
    })
}

/// URI schemes the field can take: RFC 3986 syntax, and a scheme written `scheme://…`.
fn scheme_ok(ctx: &mut Ctx<'_>, n: &Node, s: &str) -> bool {
    const NO_AUTHORITY: &[&str] = &[
        "mailto",
        "urn",
        "data",
        "tel",
        "sms",
        "javascript",
        "about",
        "news",
    ];
    const COMMON_SCHEMES: &[&str] = &[
        "http",
        "https",
        "ftp",
        "ftps",
        "sftp",
        "ssh",
        "git",
        "ws",
        "wss",
        "s3",
        "ldap",
        "ldaps",
        "nfs",
        "smb",
        "rtsp",
        "redis",
        "mysql",
        "postgresql",
        "amqp",
        "mqtt",
    ];
    let reason = if !validators::is_scheme(s) {
        Some(format!(
            "`{s}` is not a URI scheme (a letter, then letters, digits, `+`, `-` or `.`)"
        ))
    } else if NO_AUTHORITY.contains(&s.to_ascii_lowercase().as_str()) {
        Some(format!(
            "`{s}:` URIs have no `//host` part; this field reads `scheme://host/…`"
        ))
    } else {
        None
    };
    let Some(msg) = reason else { return true };
    let cleaned: String = s.trim_end_matches([':', '/']).to_ascii_lowercase();
    match did_you_mean(&cleaned, COMMON_SCHEMES).filter(|m| *m != s) {
        Some(m) => {
            let fix = ctx.rename(n.span.clone(), m);
            ctx.error_fix(
                codes::SDF_UNSUPPORTED_SCHEME,
                n.span.clone(),
                msg,
                format!("did you mean `{m}`?"),
                fix,
            );
        }
        None => ctx.error(
            codes::SDF_UNSUPPORTED_SCHEME,
            n.span.clone(),
            msg,
            "use a scheme like `http`, `https` or `ftp`",
        ),
    }
    false
}

fn options(ctx: &mut Ctx<'_>, v: &Node, some: bool) -> Option<Vec<Choice>> {
    let Some(n) = v.get("options") else {
        ctx.error(
            codes::SDF_REQUIRED,
            v.span.start..v.span.start,
            "missing `options` (the values to choose from)",
            "add `options:` with one key per value, each with a `label`",
        );
        return None;
    };
    let Some(entries) = n.as_map() else {
        ctx.wrong_type(n, "a mapping of option values to their labels");
        return None;
    };
    let mut out: Vec<Choice> = Vec::new();
    for (k, o) in entries {
        let value = to_value(k);
        if value.is_null() || matches!(value, SdfValue::List(_)) {
            ctx.wrong_type(k, "an option value (text, number or bool)");
            continue;
        }
        if out.iter().any(|c| c.value.same(&value)) {
            ctx.error(
                codes::YAML_DUPLICATE_KEY,
                k.span.clone(),
                format!("the option `{value}` is given twice"),
                "keep one of them",
            );
            continue;
        }
        let keys: &[&str] = if some {
            &["label", "labels", "mandatory"]
        } else {
            &["label", "labels"]
        };
        let (label, mandatory) = if o.is_null() {
            (Localized::plain(value.to_string()), false)
        } else if o.as_map().is_some() {
            if !ctx.check_keys(o, keys) {
                continue;
            }
            let label = pick(o, &["label", "labels"])
                .and_then(|l| localized(ctx, l))
                .unwrap_or_else(|| Localized::plain(value.to_string()));
            let mandatory = o
                .get("mandatory")
                .and_then(|m| ctx.bool(m))
                .unwrap_or(false);
            (label, mandatory)
        } else {
            (
                localized(ctx, o).unwrap_or_else(|| Localized::plain(value.to_string())),
                false,
            )
        };
        out.push(Choice {
            value,
            label,
            mandatory,
        });
    }
    if out.is_empty() {
        ctx.error(
            codes::SDF_REQUIRED,
            n.span.clone(),
            "no options to choose from",
            "give at least one option",
        );
        return None;
    }
    Some(out)
}

fn condition(
    ctx: &mut Ctx<'_>,
    name: &str,
    c: &Node,
    declared: &[&str],
    spans: &mut Spans,
) -> Option<Condition> {
    if !ctx.check_keys(c, &["predicate", "sources"]) {
        return None;
    }
    let predicate = match c.get("predicate") {
        None => Predicate::And,
        Some(p) => match ctx.string(p) {
            Some("and") => Predicate::And,
            Some("or") => Predicate::Or,
            Some(s) => {
                bad_value(ctx, p, s, "predicate", &["and", "or"]);
                Predicate::And
            }
            None => Predicate::And,
        },
    };
    let src = ctx.required(
        c,
        "sources",
        codes::SDF_REQUIRED,
        c.span.start..c.span.start,
        "the variables and values that activate this one",
    )?;
    let Some(entries) = src.as_map() else {
        ctx.wrong_type(src, "a mapping of variables to the values that activate");
        return None;
    };
    let mut sources = Vec::new();
    for (k, values) in entries {
        let Some(s) = k.scalar_text() else {
            ctx.wrong_type(k, "a variable name");
            continue;
        };
        if !declared.contains(&s) {
            let msg = format!(
                "`{name}` is activated by `{s}`, which is not a variable of this application"
            );
            match did_you_mean(s, declared) {
                Some(m) => {
                    let fix = ctx.rename(k.span.clone(), m);
                    ctx.error_fix(
                        codes::SDF_UNKNOWN_SOURCE,
                        k.span.clone(),
                        msg,
                        format!("did you mean `{m}`?"),
                        fix,
                    );
                }
                None => ctx.error(
                    codes::SDF_UNKNOWN_SOURCE,
                    k.span.clone(),
                    msg,
                    "name a variable declared under `variables`",
                ),
            }
            continue;
        }
        let nodes: Vec<Node> = match values.as_seq() {
            Some(items) => items.to_vec(),
            None => vec![values.clone()],
        };
        let list: Vec<SdfValue> = nodes.iter().map(to_value).collect();
        if list.is_empty()
            || list
                .iter()
                .any(|v| v.is_null() || matches!(v, SdfValue::List(_)))
        {
            ctx.wrong_type(values, "a value or a list of values");
            continue;
        }
        spans.sources.push((s.to_owned(), k.span.clone(), nodes));
        sources.push((s.to_owned(), list));
    }
    Some(Condition { predicate, sources })
}

/// `default` (and `defaults` of `Some`) checked against the type.
fn default(ctx: &mut Ctx<'_>, name: &str, ty: &VarType, v: &Node) -> Option<SdfValue> {
    if let VarType::Some { options } = ty {
        let n = pick(v, &["defaults", "default"])?;
        let items: Vec<&Node> = match n.as_seq() {
            Some(items) => items.iter().collect(),
            None => vec![n],
        };
        let mut out = Vec::new();
        for it in items {
            let value = to_value(it);
            match options.iter().find(|o| o.value.same(&value)) {
                Some(o) => out.push(o.value.clone()),
                None => not_an_option(ctx, name, it, &value, options),
            }
        }
        return Some(SdfValue::List(out));
    }
    let n = v.get("default").filter(|n| !n.is_null())?;
    let value = to_value(n);
    match ty {
        VarType::OneOf { options, .. } => match options.iter().find(|o| o.value.same(&value)) {
            Some(o) => Some(o.value.clone()),
            None => {
                not_an_option(ctx, name, n, &value, options);
                None
            }
        },
        VarType::Section => {
            if matches!(value, SdfValue::Bool(_)) {
                Some(value)
            } else {
                ctx.wrong_type(n, "a bool");
                None
            }
        }
        _ => {
            let typed = match (ty, &value) {
                (VarType::Number { .. }, SdfValue::Int(_) | SdfValue::Float(_)) => value.clone(),
                (VarType::Number { .. }, _) => {
                    ctx.wrong_type(n, "a number");
                    return None;
                }
                (_, SdfValue::String(_)) => value.clone(),
                (_, SdfValue::Int(_) | SdfValue::Float(_)) => {
                    SdfValue::String(value.key().unwrap_or_default())
                }
                _ => {
                    ctx.wrong_type(n, "text");
                    return None;
                }
            };
            if let Err(e) = validators::check(ty, &typed) {
                ctx.error(
                    codes::SDF_BAD_DEFAULT,
                    n.span.clone(),
                    format!("the default of `{name}` {}", describe(&e)),
                    "change the default, or the rule it breaks",
                );
                return None;
            }
            Some(typed)
        }
    }
}

fn describe(e: &vitrina_forms::sdf::FieldError) -> String {
    use vitrina_forms::sdf::FieldError as E;
    match e {
        E::Invalid(msg) => format!("is invalid: {msg}"),
        other => other.to_string(),
    }
}

fn not_an_option(ctx: &mut Ctx<'_>, name: &str, n: &Node, value: &SdfValue, options: &[Choice]) {
    let keys: Vec<String> = options.iter().filter_map(|o| o.value.key()).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let msg = format!("the default `{value}` of `{name}` is not one of its options");
    let text = value.key().unwrap_or_default();
    match did_you_mean(&text, &refs) {
        Some(m) => {
            let fix = ctx.fix(
                Applicability::Unsafe,
                format!("write `{m}`"),
                n.span.clone(),
                m,
            );
            ctx.error_fix(
                codes::SDF_DEFAULT_NOT_OPTION,
                n.span.clone(),
                msg,
                format!("did you mean `{m}`? the options are {}", refs.join(", ")),
                fix,
            );
        }
        None => ctx.error(
            codes::SDF_DEFAULT_NOT_OPTION,
            n.span.clone(),
            msg,
            format!("use one of: {}", refs.join(", ")),
        ),
    }
}
