//! An application's manifest attributes (everything but `variables`).

use std::collections::BTreeMap;

use vitrina_diagnostics::Applicability;
use vitrina_forms::sdf::{
    validators, App, Engine, Feature, Form, License, Localized, Mode, OfferingFilter, Pattern,
    Resources,
};

use crate::check::{did_you_mean, Ctx};
use crate::codes;
use crate::yaml::Node;

const APP_KEYS: &[&str] = &[
    "mode",
    "schema",
    "manifest-schema",
    "userdata-schema",
    "name",
    "version",
    "description",
    "icon",
    "icon-32x32",
    "icon-256x256",
    "tags",
    "license",
    "engine",
    "source",
    "templates",
    "template",
    "minimal-root-disk-size",
    "service-offering",
    "features-requested",
    "deployment-progress",
    "application-state",
    "network-security",
    "variables",
];

/// The manifest schemas this reader implements.
pub const MANIFEST_SCHEMAS: &[&str] = &[
    "/schemes/vm-sdf-1.0.yaml",
    "/schemes/vm-sdf-manifest-1.0.yaml",
];
pub const USERDATA_SCHEMAS: &[&str] = &["/schemes/vm-sdf-userdata-1.0.yaml"];
const PROGRESS_KEYS: &[&str] = &[
    "log",
    "vm-key",
    "application-key",
    "application-deployment-complete-label",
];
const FILTER_KEYS: &[&str] = &["uuids", "resources", "name-regex", "regex"];
const RESOURCE_KEYS: &[&str] = &["minimal-ram", "minimal-cores", "minimal-frequency"];
/// Feature names of the drafts the public examples use, and the feature they mean.
const DRAFT_FEATURES: &[(&str, &str)] = &[
    ("private-key-value-store", "vm-key-value-storage"),
    ("shared-key-value-store", "application-db"),
    ("pass-cloudstack-api-info", "cloudstack-api"),
    ("log-store", "log-storage"),
];
/// Schemes a `source` archive may be fetched with.
const SOURCE_SCHEMES: &[&str] = &["http", "https", "ftp"];

pub fn check_app(ctx: &mut Ctx<'_>, id: &str, key: &Node, root: &Node) -> Option<App> {
    if !ctx.check_keys(root, APP_KEYS) {
        return None;
    }
    let at_key = key.span.clone();
    let mut broken = false;

    let mode = match root.get("mode") {
        None => Mode::Raw,
        Some(n) => match ctx.string(n) {
            Some(s) => match Mode::parse(s) {
                Some(m) => m,
                None => {
                    bad_value(ctx, n, s, "mode", &Mode::NAMES);
                    Mode::Raw
                }
            },
            None => Mode::Raw,
        },
    };
    let manifest_schema = schema(ctx, root, "manifest-schema", MANIFEST_SCHEMAS)
        .or_else(|| schema(ctx, root, "schema", MANIFEST_SCHEMAS));
    let userdata_schema = schema(ctx, root, "userdata-schema", USERDATA_SCHEMAS);

    let name = match ctx.required(
        root,
        "name",
        codes::SDF_REQUIRED,
        at_key.clone(),
        "the name users see in the catalog",
    ) {
        Some(n) => localized(ctx, n).unwrap_or_default(),
        None => {
            broken = true;
            Localized::default()
        }
    };
    let version = match ctx.required(
        root,
        "version",
        codes::SDF_REQUIRED,
        at_key.clone(),
        "the application's version",
    ) {
        Some(n) => ctx.string(n).map(str::to_owned).unwrap_or_default(),
        None => {
            broken = true;
            String::new()
        }
    };
    let source = match ctx.required(
        root,
        "source",
        codes::SDF_REQUIRED,
        at_key.clone(),
        "the URL of the archive the engine deploys",
    ) {
        Some(n) => {
            let s = ctx.string(n).map(str::to_owned).unwrap_or_default();
            let schemes: Vec<String> = SOURCE_SCHEMES.iter().map(|s| (*s).to_owned()).collect();
            if !s.is_empty() {
                if let Err(e) = validators::uri(&s, &schemes) {
                    ctx.error(
                        codes::SDF_BAD_VALUE,
                        n.span.clone(),
                        format!("`source`: {e}"),
                        "write the archive's URL, like `https://repo.example.com/apps/lnmp-10.tar.gz`",
                    );
                }
            }
            s
        }
        None => {
            broken = true;
            String::new()
        }
    };
    let description = root
        .get("description")
        .filter(|n| !n.is_null())
        .and_then(|n| localized(ctx, n));
    let icon = opt_string(ctx, root, "icon");
    let icon_32 = opt_string(ctx, root, "icon-32x32");
    let icon_256 = opt_string(ctx, root, "icon-256x256");
    let tags = string_list(ctx, root.get("tags"));
    let license = root
        .get("license")
        .filter(|n| !n.is_null())
        .and_then(|n| license(ctx, n));
    let engine = root.get("engine").and_then(|n| {
        let s = ctx.string(n)?;
        let e = Engine::parse(s);
        if e.is_none() {
            bad_value(ctx, n, s, "engine", &Engine::NAMES);
        }
        e
    });
    let templates = string_list(ctx, root.get("templates"));
    let mut template_tags = BTreeMap::new();
    if let Some(t) = root.get("template") {
        if ctx.check_keys(t, &["match-tags"]) {
            if let Some(tags) = t.get("match-tags") {
                string_map(ctx, tags, &mut template_tags);
            }
        }
    }
    let minimal_root_disk_size = root.get("minimal-root-disk-size").and_then(|n| {
        let v = ctx.int(n)?;
        if v <= 0 {
            ctx.error(
                codes::SDF_BAD_RANGE,
                n.span.clone(),
                format!("`minimal-root-disk-size` is {v}; a size in GB above 0 is needed"),
                "write the least root disk size in GB, like `10`",
            );
            return None;
        }
        Some(v)
    });
    let service_offering = match root.get("service-offering") {
        Some(so) if ctx.check_keys(so, &["filters"]) => so
            .get("filters")
            .map(|f| filters(ctx, f))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let features = root
        .get("features-requested")
        .map(|n| features(ctx, n))
        .unwrap_or_default();
    let mut deployment_progress = BTreeMap::new();
    if let Some(dp) = root.get("deployment-progress") {
        if ctx.check_keys(dp, PROGRESS_KEYS) {
            string_map(ctx, dp, &mut deployment_progress);
        }
    }
    let mut application_state = BTreeMap::new();
    if let Some(st) = root.get("application-state") {
        if let Some(entries) = st.as_map() {
            for (k, v) in entries {
                if let (Some(name), Some(text)) = (k.scalar_text(), localized(ctx, v)) {
                    application_state.insert(name.to_owned(), text);
                }
            }
        } else {
            ctx.wrong_type(st, "a mapping of state names to labels");
        }
    }
    if let Some(ns) = root.get("network-security") {
        network_security(ctx, ns);
    }
    let variables = match root.get("variables") {
        Some(v) if !v.is_null() => super::vars::check_variables(ctx, v),
        _ => Some(Vec::new()),
    };
    let variables = variables?;
    let form = match Form::new(variables) {
        Ok(f) => f,
        // Reported with its spans by `check_variables`.
        Err(_) => return None,
    };
    if broken {
        return None;
    }
    Some(App {
        id: id.to_owned(),
        mode,
        manifest_schema,
        userdata_schema,
        name,
        version,
        description,
        icon,
        icon_32,
        icon_256,
        tags,
        license,
        engine,
        source,
        templates,
        template_tags,
        minimal_root_disk_size,
        service_offering,
        features,
        deployment_progress,
        application_state,
        form,
    })
}

/// An enumerated attribute with a value it does not allow: did-you-mean with a fix.
pub fn bad_value(ctx: &mut Ctx<'_>, n: &Node, s: &str, attr: &str, allowed: &[&str]) {
    let msg = format!("`{attr}` cannot be `{s}`");
    match did_you_mean(s, allowed).filter(|m| *m != s) {
        Some(m) => {
            let fix = ctx.rename(n.span.clone(), m);
            ctx.error_fix(
                codes::SDF_BAD_VALUE,
                n.span.clone(),
                msg,
                format!("did you mean `{m}`?"),
                fix,
            );
        }
        None => ctx.error(
            codes::SDF_BAD_VALUE,
            n.span.clone(),
            msg,
            format!("write one of: {}", allowed.join(", ")),
        ),
    }
}

fn schema(ctx: &mut Ctx<'_>, root: &Node, key: &str, known: &[&str]) -> Option<String> {
    let n = root.get(key)?;
    let s = ctx.string(n)?;
    if !known.contains(&s) {
        let help = format!("this reader implements {}", known.join(" and "));
        match known.last() {
            Some(k) => {
                let fix = ctx.fix(
                    Applicability::Unsafe,
                    format!("write `{k}`"),
                    n.span.clone(),
                    *k,
                );
                ctx.error_fix(
                    codes::SDF_UNSUPPORTED_SCHEMA,
                    n.span.clone(),
                    format!("unsupported `{key}` `{s}`"),
                    help,
                    fix,
                );
            }
            None => ctx.error(
                codes::SDF_UNSUPPORTED_SCHEMA,
                n.span.clone(),
                format!("unsupported `{key}` `{s}`"),
                help,
            ),
        }
        return None;
    }
    Some(s.to_owned())
}

/// `label: text`, or `label: {default: text, ru_RU: …}` (`default` required); a list of lines
/// is one multi-line text.
pub fn localized(ctx: &mut Ctx<'_>, n: &Node) -> Option<Localized> {
    if let Some(map) = n.as_map() {
        let mut out = Localized::default();
        let mut has_default = false;
        for (k, v) in map {
            let Some(locale) = k.scalar_text() else {
                ctx.wrong_type(k, "a locale like `ru_RU`");
                continue;
            };
            let Some(text) = text_or_lines(ctx, v) else {
                continue;
            };
            if locale == "default" {
                out.default = text;
                has_default = true;
            } else {
                out.locales.insert(locale.to_owned(), text);
            }
        }
        if !has_default {
            ctx.error(
                codes::SDF_REQUIRED,
                n.span.clone(),
                "a localized text needs its `default`",
                "add `default: <text>` (other locales are optional)",
            );
            return None;
        }
        return Some(out);
    }
    text_or_lines(ctx, n).map(Localized::plain)
}

fn text_or_lines(ctx: &mut Ctx<'_>, n: &Node) -> Option<String> {
    if let Some(items) = n.as_seq() {
        let mut lines = Vec::new();
        for it in items {
            lines.push(ctx.string(it)?.to_owned());
        }
        return Some(lines.join("\n"));
    }
    // Plain `Yes`/`No` labels are text here (YAML 1.2 reads them as strings anyway).
    if let Some(s) = n.as_scalar() {
        if n.as_bool().is_some() {
            return Some(s.text.clone());
        }
    }
    ctx.string(n).map(str::to_owned)
}

fn opt_string(ctx: &mut Ctx<'_>, root: &Node, key: &str) -> Option<String> {
    let n = root.get(key).filter(|n| !n.is_null())?;
    ctx.string(n).map(str::to_owned)
}

fn string_list(ctx: &mut Ctx<'_>, n: Option<&Node>) -> Vec<String> {
    let Some(n) = n.filter(|n| !n.is_null()) else {
        return Vec::new();
    };
    let Some(items) = ctx.seq(n) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|it| ctx.string(it).map(str::to_owned))
        .collect()
}

fn string_map(ctx: &mut Ctx<'_>, n: &Node, out: &mut BTreeMap<String, String>) {
    let Some(entries) = n.as_map() else {
        ctx.wrong_type(n, "a mapping");
        return;
    };
    for (k, v) in entries {
        if let (Some(key), Some(val)) = (k.scalar_text(), ctx.string(v)) {
            out.insert(key.to_owned(), val.to_owned());
        }
    }
}

fn license(ctx: &mut Ctx<'_>, n: &Node) -> Option<License> {
    if n.as_map().is_none() {
        return ctx.string(n).map(|s| License {
            name: s.to_owned(),
            ..License::default()
        });
    }
    if !ctx.check_keys(n, &["name", "description", "url"]) {
        return None;
    }
    let name_node = ctx.required(
        n,
        "name",
        codes::SDF_REQUIRED,
        n.span.clone(),
        "the license's name",
    )?;
    let name = ctx.string(name_node)?.to_owned();
    let description = n.get("description").and_then(|d| localized(ctx, d));
    let url = n.get("url").and_then(|u| ctx.string(u)).map(str::to_owned);
    Some(License {
        name,
        description,
        url,
    })
}

/// `features-requested`: a mapping of feature → bool (seed 004) or a list of features (later
/// spec). Unknown features are errors: the user is asked to consent to each.
fn features(ctx: &mut Ctx<'_>, n: &Node) -> Vec<Feature> {
    let known: Vec<&str> = Feature::NAMES.iter().map(|(s, _)| *s).collect();
    let mut out = Vec::new();
    let mut one = |ctx: &mut Ctx<'_>, k: &Node, on: bool| {
        let Some(name) = k.scalar_text() else {
            ctx.wrong_type(k, "a feature name");
            return;
        };
        match Feature::parse(name) {
            Some(f) => {
                if on && !out.contains(&f) {
                    out.push(f);
                }
            }
            None => {
                let msg = format!("unknown feature `{name}`");
                let draft = DRAFT_FEATURES
                    .iter()
                    .find(|(d, _)| *d == name)
                    .map(|(_, f)| *f);
                match draft.or_else(|| did_you_mean(name, &known)) {
                    Some(m) => {
                        let fix = ctx.rename(k.span.clone(), m);
                        ctx.error_fix(
                            codes::SDF_UNKNOWN_FEATURE,
                            k.span.clone(),
                            msg,
                            format!("did you mean `{m}`?"),
                            fix,
                        );
                    }
                    None => ctx.error(
                        codes::SDF_UNKNOWN_FEATURE,
                        k.span.clone(),
                        msg,
                        format!("the features vitrina provides: {}", known.join(", ")),
                    ),
                }
            }
        }
    };
    if let Some(entries) = n.as_map() {
        for (k, v) in entries {
            let on = ctx.bool(v).unwrap_or(false);
            one(ctx, k, on);
        }
    } else if let Some(items) = n.as_seq() {
        for it in items {
            one(ctx, it, true);
        }
    } else if !n.is_null() {
        ctx.wrong_type(
            n,
            "a mapping of features to true/false, or a list of features",
        );
    }
    out.sort();
    out
}

/// `filters:` of a service offering: named filters (alternatives), or the criteria of one
/// filter written directly (the seed's app-level `service-offering`).
pub fn filters(ctx: &mut Ctx<'_>, n: &Node) -> Vec<OfferingFilter> {
    let Some(entries) = n.as_map() else {
        ctx.wrong_type(n, "a mapping of filters");
        return Vec::new();
    };
    let direct = entries
        .iter()
        .any(|(k, _)| k.scalar_text().is_some_and(|t| FILTER_KEYS.contains(&t)));
    if direct {
        return filter(ctx, "filter", n).into_iter().collect();
    }
    entries
        .iter()
        .filter_map(|(k, v)| filter(ctx, k.scalar_text().unwrap_or("filter"), v))
        .collect()
}

fn filter(ctx: &mut Ctx<'_>, name: &str, n: &Node) -> Option<OfferingFilter> {
    if !ctx.check_keys(n, FILTER_KEYS) {
        return None;
    }
    let mut f = OfferingFilter {
        name: name.to_owned(),
        ..OfferingFilter::default()
    };
    let mut criteria = 0;
    if let Some(u) = n.get("uuids") {
        f.uuids = string_list(ctx, Some(u));
        criteria += 1;
    }
    if let Some(r) = n.get("resources") {
        criteria += 1;
        if ctx.check_keys(r, RESOURCE_KEYS) {
            let mut res = Resources::default();
            for (key, slot) in [
                ("minimal-ram", &mut res.minimal_ram_mb),
                ("minimal-cores", &mut res.minimal_cores),
                ("minimal-frequency", &mut res.minimal_frequency_mhz),
            ] {
                if let Some(v) = r.get(key) {
                    *slot = ctx.int(v);
                    if slot.is_some_and(|x| x < 0) {
                        ctx.error(
                            codes::SDF_BAD_RANGE,
                            v.span.clone(),
                            format!("`{key}` cannot be negative"),
                            "write the least amount, 0 or more",
                        );
                    }
                }
            }
            f.resources = Some(res);
        }
    }
    for key in ["name-regex", "regex"] {
        if let Some(r) = n.get(key) {
            criteria += 1;
            f.name_regex = regex(ctx, r);
        }
    }
    if criteria == 0 {
        ctx.error(
            codes::SDF_REQUIRED,
            n.span.clone(),
            format!("the filter `{name}` has no criterion"),
            "give `uuids`, `resources` or `name-regex`",
        );
        return None;
    }
    Some(f)
}

/// A regular expression that must compile.
pub fn regex(ctx: &mut Ctx<'_>, n: &Node) -> Option<Pattern> {
    let s = ctx.string(n)?;
    let p = Pattern::new(s);
    if !p.compiles() {
        let why = regex::Regex::new(s)
            .err()
            .map(|e| e.to_string().lines().last().unwrap_or_default().to_owned())
            .unwrap_or_default();
        ctx.error(
            codes::SDF_BAD_REGEX,
            n.span.clone(),
            format!("`{s}` is not a regular expression: {why}"),
            "correct it (Rust `regex` syntax: no look-around or back-references)",
        );
        return None;
    }
    Some(p)
}

/// `network-security.{ingress,egress}`: lists of `- rule: {protocol, ports | type+code, cidr}`.
fn network_security(ctx: &mut Ctx<'_>, n: &Node) {
    if !ctx.check_keys(n, &["ingress", "egress"]) {
        return;
    }
    for dir in ["ingress", "egress"] {
        let Some(list) = n.get(dir) else { continue };
        let Some(items) = ctx.seq(list) else { continue };
        for item in items {
            if !ctx.check_keys(item, &["rule"]) {
                continue;
            }
            let Some(rule) = item.get("rule") else {
                ctx.error(
                    codes::SDF_REQUIRED,
                    item.span.clone(),
                    "missing `rule`",
                    "write `- rule: {protocol: tcp, ports: [80], cidr: 0.0.0.0/0}`",
                );
                continue;
            };
            if !ctx.check_keys(rule, &["protocol", "ports", "type", "code", "cidr"]) {
                continue;
            }
            let proto = rule
                .get("protocol")
                .and_then(|p| ctx.string(p).map(|s| (p, s)));
            match proto {
                Some((_, "tcp" | "udp")) => {
                    if let Some(ports) = rule.get("ports") {
                        if let Some(items) = ctx.seq(ports) {
                            for p in items {
                                check_port(ctx, p);
                            }
                        }
                    }
                }
                Some((_, "icmp")) => {
                    for key in ["type", "code"] {
                        if let Some(v) = rule.get(key) {
                            if ctx.int(v).is_some_and(|x| !(-1..=255).contains(&x)) {
                                ctx.error(
                                    codes::SDF_BAD_NETWORK_RULE,
                                    v.span.clone(),
                                    format!("ICMP `{key}` must be -1 (any) or 0 to 255"),
                                    "write -1 for any",
                                );
                            }
                        }
                    }
                }
                Some((p, s)) => bad_value(ctx, p, s, "protocol", &["tcp", "udp", "icmp"]),
                None => ctx.error(
                    codes::SDF_REQUIRED,
                    rule.span.clone(),
                    "missing `protocol`",
                    "write `protocol: tcp`, `udp` or `icmp`",
                ),
            }
            if let Some(c) = rule.get("cidr") {
                let cidrs: Vec<&Node> = match c.as_seq() {
                    Some(items) => items.iter().collect(),
                    None => vec![c],
                };
                for c in cidrs {
                    if let Some(s) = ctx.string(c) {
                        if let Err(e) = validators::ip(s, &[4, 6], true) {
                            ctx.error(
                                codes::SDF_BAD_NETWORK_RULE,
                                c.span.clone(),
                                e,
                                "write a network like `0.0.0.0/0` or `10.0.0.0/8`",
                            );
                        }
                    }
                }
            }
        }
    }
}

fn check_port(ctx: &mut Ctx<'_>, p: &Node) {
    let text = match p.as_int() {
        Some(i) => i.to_string(),
        None => match ctx.string(p) {
            Some(s) => s.to_owned(),
            None => return,
        },
    };
    let ok = match text.split_once('-') {
        Some((a, b)) => {
            matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a >= 1 && a <= b)
        }
        None => text.parse::<u16>().is_ok_and(|x| x >= 1),
    };
    if !ok {
        ctx.error(
            codes::SDF_BAD_NETWORK_RULE,
            p.span.clone(),
            format!("`{text}` is not a port or a port range"),
            "write a port 1 to 65535, or a range like `1025-5555`",
        );
    }
}
