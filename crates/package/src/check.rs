//! Helpers that read YAML nodes into typed values and report every problem as a diagnostic
//! pointing at the offending key or value.

use std::ops::Range;

use vitrina_diagnostics::{Applicability, Diagnostic, Diagnostics, Fix, Span};

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

    /// An error with a fix.
    pub fn error_fix(
        &mut self,
        code: &'static str,
        at: Range<usize>,
        msg: impl Into<String>,
        help: impl Into<String>,
        fix: Fix,
    ) {
        let d = Diagnostic::error(code, self.span(at), msg)
            .with_help(help)
            .with_fix(fix);
        self.diags.push(d);
    }

    /// A fix replacing `at` in this file with `text`.
    pub fn fix(
        &self,
        applicability: Applicability,
        message: impl Into<String>,
        at: Range<usize>,
        text: impl Into<String>,
    ) -> Fix {
        Fix::replace(applicability, message, self.span(at), text)
    }

    /// A safe fix writing the did-you-mean `name` over `at`.
    pub fn rename(&self, at: Range<usize>, name: &str) -> Fix {
        self.fix(Applicability::Safe, format!("write `{name}`"), at, name)
    }

    /// Reports a node of the wrong type.
    pub fn wrong_type(&mut self, node: &Node, expected: &str) {
        let found = node.type_name();
        let text = node.scalar_text().unwrap_or_default();
        let quoted = node.as_scalar().is_some_and(|s| !s.plain);
        let unquote = match (expected, node.plain()) {
            ("a bool", Some(Plain::Str)) => matches!(text, "true" | "false"),
            (e, Some(Plain::Str)) if e.contains("integer") || e.contains("number") => {
                let resolved = yaml::resolve_plain(text);
                (e.contains("integer") && matches!(resolved, Plain::Int(_)))
                    || (e.contains("number") && matches!(resolved, Plain::Int(_) | Plain::Float(_)))
            }
            _ => false,
        };
        if quoted && unquote {
            let fix = self.fix(
                Applicability::Safe,
                format!("write `{text}` without quotes"),
                node.span.clone(),
                text,
            );
            self.error_fix(
                codes::YAML_TYPE,
                node.span.clone(),
                format!("expected {expected}, found {found}"),
                format!("write `{text}` without quotes"),
                fix,
            );
            return;
        }
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
                let suggestion = did_you_mean(name, known);
                let help = match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known keys here: {}", known.join(", ")),
                };
                let mut d = Diagnostic::warning(
                    codes::YAML_UNKNOWN_KEY,
                    self.span(k.span.clone()),
                    format!("unknown key `{name}`"),
                )
                .with_help(help);
                // Renaming onto a key that is already there would make a duplicate.
                if let Some(s) = suggestion.filter(|s| node.get(s).is_none()) {
                    d = d.with_fix(self.rename(k.span.clone(), s));
                }
                self.diags.push(d);
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
                // A key written with a typo: the fix renames it (the same edit as the
                // unknown-key warning's).
                let typo = node.as_map().and_then(|m| {
                    m.iter().find(|(k, _)| {
                        k.scalar_text()
                            .is_some_and(|t| did_you_mean(t, &[key]).is_some())
                    })
                });
                match typo {
                    Some((k, _)) => {
                        let fix = self.rename(k.span.clone(), key);
                        self.error_fix(
                            code,
                            missing_at,
                            format!("missing required field `{key}` ({what})"),
                            format!(
                                "did you mean `{key}` instead of `{}`?",
                                k.scalar_text().unwrap_or_default()
                            ),
                            fix,
                        );
                    }
                    None => self.error(
                        code,
                        missing_at,
                        format!("missing required field `{key}` ({what})"),
                        format!("add `{key}:`"),
                    ),
                }
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
