//! Diagnostics on users' files: one model for every room that reads a vendor's or a consumer's
//! file (packages, manifests, forms).
//!
//! A [`Diagnostic`] carries a stable code (`area/rule`), a severity, a message, a primary span
//! (file + byte range), an optional `help` line and secondary spans. Line and column are computed
//! only when rendering, from a [`LineIndex`] over the file's text kept in a [`SourceMap`].

pub mod codes;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use serde::Serialize;

/// How bad a diagnostic is. Only errors make an input invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A place in a file: the file's path relative to the root being checked (with `/` separators)
/// and a byte range in its text. An empty range points at a position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: String,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(file: impl Into<String>, range: Range<usize>) -> Self {
        Span {
            file: file.into(),
            range,
        }
    }

    /// The start of a file: used when the problem is the file as a whole (it is missing, or
    /// cannot be read).
    pub fn file_start(file: impl Into<String>) -> Self {
        Span::new(file, 0..0)
    }
}

/// A secondary place that helps explain a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in a user's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable code `area/rule`; never renamed or reused.
    pub code: &'static str,
    pub message: String,
    pub span: Span,
    pub help: Option<String>,
    pub secondary: Vec<Label>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            help: None,
            secondary: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A list of diagnostics that validators append to and keep going.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }

    /// Orders diagnostics by file, position, then code, so output is deterministic whatever order
    /// the validators ran in.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.span.file, a.span.range.start, a.code, &a.message).cmp(&(
                &b.span.file,
                b.span.range.start,
                b.code,
                &b.message,
            ))
        });
        self.0.dedup();
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(v: Vec<Diagnostic>) -> Self {
        Diagnostics(v)
    }
}

/// Byte offsets of line starts in a text; turns a byte offset into a 1-based line and column
/// (column counted in characters).
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// 1-based (line, column) of a byte offset; offsets past the end are clamped.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line).copied().unwrap_or(0);
        let col = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, col + 1)
    }

    /// The text of a 1-based line without its line ending.
    pub fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self.starts.get(line).copied().unwrap_or(text.len());
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// The texts of the files diagnostics point into, keyed by their relative path.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: BTreeMap<String, (String, LineIndex)>,
}

impl SourceMap {
    pub fn new() -> Self {
        SourceMap::default()
    }

    pub fn add(&mut self, file: impl Into<String>, text: impl Into<String>) {
        let text = text.into();
        let index = LineIndex::new(&text);
        self.files.insert(file.into(), (text, index));
    }

    pub fn text(&self, file: &str) -> Option<&str> {
        self.files.get(file).map(|(t, _)| t.as_str())
    }

    /// 1-based line and column of a span's start; (1, 1) for a file we have no text of.
    pub fn line_col(&self, span: &Span) -> (usize, usize) {
        match self.files.get(&span.file) {
            Some((text, index)) => index.line_col(text, span.range.start),
            None => (1, 1),
        }
    }

    /// Renders diagnostics as text: `file:line:col: severity[code]: message`, the source line with a
    /// caret under the span, secondary labels and `help:`. `prefix` is prepended to file paths
    /// (the package folder as the user typed it, say).
    pub fn render_text(&self, diagnostics: &Diagnostics, prefix: &str) -> String {
        let mut out = String::new();
        for d in diagnostics {
            self.render_one(&mut out, d, prefix);
        }
        out
    }

    fn render_one(&self, out: &mut String, d: &Diagnostic, prefix: &str) {
        let (line, col) = self.line_col(&d.span);
        let _ = writeln!(
            out,
            "{prefix}{}:{line}:{col}: {}[{}]: {}",
            d.span.file,
            d.severity.as_str(),
            d.code,
            d.message
        );
        self.render_snippet(out, &d.span, None);
        for label in &d.secondary {
            let (l, c) = self.line_col(&label.span);
            let _ = writeln!(out, "  = note: {prefix}{}:{l}:{c}", label.span.file);
            self.render_snippet(out, &label.span, Some(&label.message));
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out.push('\n');
    }

    fn render_snippet(&self, out: &mut String, span: &Span, label: Option<&str>) {
        let Some((text, index)) = self.files.get(&span.file) else {
            return;
        };
        if text.is_empty() {
            return;
        }
        let (line, col) = index.line_col(text, span.range.start);
        let src = index.line_text(text, line);
        let (end_line, end_col) = index.line_col(text, span.range.end.max(span.range.start));
        let width = if end_line == line && end_col > col {
            end_col - col
        } else {
            1
        };
        let gutter = line.to_string().len();
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line} | {}", src.replace('\t', " "));
        let _ = writeln!(
            out,
            "{:gutter$} | {}{}{}",
            "",
            " ".repeat(col - 1),
            "^".repeat(width),
            label.map(|l| format!(" {l}")).unwrap_or_default()
        );
    }

    /// The diagnostics as JSON objects in the contract's shape:
    /// `{"severity","code","file","line","column","message","help"}`.
    pub fn to_json(&self, diagnostics: &Diagnostics) -> Vec<serde_json::Value> {
        diagnostics
            .iter()
            .map(|d| {
                let (line, column) = self.line_col(&d.span);
                let mut obj = serde_json::Map::new();
                obj.insert("severity".into(), d.severity.as_str().into());
                obj.insert("code".into(), d.code.into());
                obj.insert("file".into(), d.span.file.clone().into());
                obj.insert("line".into(), line.into());
                obj.insert("column".into(), column.into());
                obj.insert("message".into(), d.message.clone().into());
                obj.insert(
                    "help".into(),
                    d.help
                        .clone()
                        .map(serde_json::Value::String)
                        .unwrap_or(serde_json::Value::Null),
                );
                serde_json::Value::Object(obj)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "a: 1\nимя: x\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 0), (1, 1));
        let off = text.find('x').unwrap();
        assert_eq!(idx.line_col(text, off), (2, 6));
        assert_eq!(idx.line_text(text, 2), "имя: x");
    }

    #[test]
    fn renders_caret_under_span() {
        let mut map = SourceMap::new();
        map.add("service.yaml", "id: nope\nname: x\n");
        let mut ds = Diagnostics::new();
        ds.push(
            Diagnostic::error(
                "service/id-not-uuid4",
                Span::new("service.yaml", 4..8),
                "`nope` is not a UUID",
            )
            .with_help("generate one with `uuidgen`"),
        );
        let text = map.render_text(&ds, "pkg/");
        assert_eq!(
            text,
            "pkg/service.yaml:1:5: error[service/id-not-uuid4]: `nope` is not a UUID\n  |\n1 | id: nope\n  |     ^^^^\n  = help: generate one with `uuidgen`\n\n"
        );
        let json = map.to_json(&ds);
        assert_eq!(json[0]["line"], 1);
        assert_eq!(json[0]["column"], 5);
    }
}
