//! Helpers that read YAML nodes into typed values and report every problem as a diagnostic
//! pointing at the offending key or value.

use std::ops::Range;

use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};

use crate::codes;
use crate::yaml::{self, Node, Plain};

/// Where diagnostics go while one file is checked.
pub struct Ctx<'a> {
    pub file: &'a str,
    pub diags: &'a mut Diagnostics,
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a str, diags: &'a mut Diagnostics) -> Self {
        Ctx { file, diags }
    }

    pub fn span(&self, range: Range<usize>) -> Span {
        Span::new(self.file, range)
    }

    pub fn error(
        &mut self,
        code: &'static str,
        at: Range<usize>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        let d = Diagnostic::error(code, self.span(at), msg).with_help(help);
        self.diags.push(d);
    }

    pub fn warning(
        &mut self,
        code: &'static str,
        at: Range<usize>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        let d = Diagnostic::warning(code, self.span(at), msg).with_help(help);
        self.diags.push(d);
    }

    /// Reports a node of the wrong type.
    pub fn wrong_type(&mut self, node: &Node, expected: &str) {
        let found = node.type_name();
        let text = node.scalar_text().unwrap_or_default();
        let help = match (expected, node.plain()) {
            ("a bool", Some(Plain::Str)) if matches!(text, "true" | "false") => {
                format!("write `{text}` without quotes")
            }
            ("a bool", _) if node.as_bool_yaml11().is_some() => {
                "write `true` or `false` (YAML 1.2 reads `yes`/`no` as strings)".to_owned()
            }
            (e, Some(Plain::Str)) if e.contains("integer") || e.contains("number") => {
                if yaml::resolve_plain(text) != Plain::Str {
                    format!("write `{text}` without quotes")
                } else {
                    format!("write {expected}")
                }
            }
            _ => format!("write {expected} here"),
        };
        self.error(
            codes::YAML_TYPE,
            node.span.clone(),
            format!("expected {expected}, found {found}"),
            help,
        );
    }

    /// Checks the keys of a mapping: duplicates are errors, unknown keys warnings with a
    /// did-you-mean suggestion. Returns false (after reporting) when `node` is not a mapping.
    pub fn check_keys(&mut self, node: &Node, known: &[&str]) -> bool {
        let Some(map) = node.as_map() else {
            self.wrong_type(node, "a mapping");
            return false;
        };
        let mut seen: std::collections::BTreeMap<&str, Range<usize>> =
            std::collections::BTreeMap::new();
        for (k, _) in map {
            let Some(name) = k.scalar_text() else {
                self.wrong_type(k, "a string key");
                continue;
            };
            if let Some(first) = seen.get(name) {
                let d = Diagnostic::error(
                    codes::YAML_DUPLICATE_KEY,
                    self.span(k.span.clone()),
                    format!("`{name}` is given twice in this mapping"),
                )
                .with_help("keep one of them")
                .with_label(self.span(first.clone()), "first given here");
                self.diags.push(d);
                continue;
            }
            seen.insert(name, k.span.clone());
            if !known.contains(&name) {
                let help = match did_you_mean(name, known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known keys here: {}", known.join(", ")),
                };
                self.warning(
                    codes::YAML_UNKNOWN_KEY,
                    k.span.clone(),
                    format!("unknown key `{name}`"),
                    help,
                );
            }
        }
        true
    }

    /// The value of a required key; reports `code` at `missing_at` when absent.
    pub fn required<'n>(
        &mut self,
        node: &'n Node,
        key: &str,
        code: &'static str,
        missing_at: Range<usize>,
        what: &str,
    ) -> Option<&'n Node> {
        match node.get(key) {
            Some(v) => Some(v),
            None => {
                self.error(
                    code,
                    missing_at,
                    format!("missing required field `{key}` ({what})"),
                    format!("add `{key}:`"),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node) -> Option<bool> {
        let b = node.as_bool();
        if b.is_none() {
            self.wrong_type(node, "a bool");
        }
        b
    }

    pub fn int(&mut self, node: &Node) -> Option<i64> {
        let i = node.as_int();
        if i.is_none() {
            self.wrong_type(node, "an integer");
        }
        i
    }

    pub fn number(&mut self, node: &Node) -> Option<f64> {
        let n = node.as_number();
        if n.is_none() {
            self.wrong_type(node, "a number");
        }
        n
    }

    pub fn string<'n>(&mut self, node: &'n Node) -> Option<&'n str> {
        let s = node.as_str_lenient();
        if s.is_none() {
            self.wrong_type(node, "a string");
        }
        s
    }

    pub fn seq<'n>(&mut self, node: &'n Node) -> Option<&'n [Node]> {
        let s = node.as_seq();
        if s.is_none() {
            self.wrong_type(node, "a list");
        }
        s
    }

    /// A list of `{name: X}` items: the name nodes.
    pub fn name_list<'n>(&mut self, node: &'n Node) -> Vec<(&'n Node, &'n str)> {
        let mut out = Vec::new();
        let Some(items) = self.seq(node) else {
            return out;
        };
        for item in items {
            if !self.check_keys(item, &["name"]) {
                continue;
            }
            match item.get("name") {
                Some(n) => {
                    if let Some(s) = self.string(n) {
                        out.push((n, s));
                    }
                }
                None => self.error(
                    codes::YAML_TYPE,
                    item.span.clone(),
                    "expected `name: <NAME>`",
                    "write `- name: <NAME>`",
                ),
            }
        }
        out
    }
}

/// The closest known name, if close enough to be a likely typo.
pub fn did_you_mean<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Parses a YAML file; a syntax error is reported and gives `None`, as does an empty file.
/// An empty file (or one holding only comments) reads as an empty mapping, so its required
/// fields are reported like those of any other file.
pub fn parse_yaml(ctx: &mut Ctx<'_>, text: &str) -> Option<Node> {
    match yaml::parse(text) {
        Ok(Some(node)) if !node.is_null() => Some(node),
        Ok(_) => Some(Node {
            kind: yaml::Kind::Map(Vec::new()),
            span: 0..0,
        }),
        Err(e) => {
            ctx.error(
                codes::YAML_SYNTAX,
                e.offset..e.offset,
                format!("YAML does not parse: {}", e.message),
                "check indentation, and quote values that contain `: ` or start with a special character",
            );
            None
        }
    }
}

/// Whether `s` is a UUID version 4 in the hyphenated form with the RFC 4122 variant.
pub fn is_uuid4(s: &str) -> bool {
    s.len() == 36
        && uuid::Uuid::try_parse(s)
            .is_ok_and(|u| u.get_version_num() == 4 && u.get_variant() == uuid::Variant::RFC4122)
}
