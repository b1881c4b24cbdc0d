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

/// Whether a fix may be applied without asking (as ruff says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Applicability {
    /// Keeps the author's intent: applied by `--fix`.
    Safe,
    /// May change what the input means (a new id, a guessed value): only with `--unsafe-fixes`.
    Unsafe,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
        }
    }
}

/// One text edit: replace the bytes of `span` (in `span.file`) with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
}

/// A way to fix a diagnostic: text edits and whether they are safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub message: String,
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
}

impl Fix {
    /// One edit replacing `span` with `replacement`.
    pub fn replace(
        applicability: Applicability,
        message: impl Into<String>,
        span: Span,
        replacement: impl Into<String>,
    ) -> Self {
        Fix {
            message: message.into(),
            applicability,
            edits: vec![Edit {
                span,
                replacement: replacement.into(),
            }],
        }
    }
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
    pub fix: Option<Fix>,
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
            fix: None,
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

    #[must_use]
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The edits of the diagnostics' fixes that may be applied (safe ones, and unsafe ones when
/// `unsafe_fixes`), by file, sorted by position, without overlaps (the first fix of two that
/// overlap wins; the other is left for the next run).
pub fn fix_edits(
    diagnostics: &Diagnostics,
    unsafe_fixes: bool,
) -> BTreeMap<String, Vec<(Range<usize>, String)>> {
    let mut out: BTreeMap<String, Vec<(Range<usize>, String)>> = BTreeMap::new();
    for d in diagnostics {
        let Some(fix) = &d.fix else { continue };
        if fix.applicability == Applicability::Unsafe && !unsafe_fixes {
            continue;
        }
        // A fix is applied whole or not at all.
        let clashes = fix.edits.iter().any(|e| {
            out.get(&e.span.file).is_some_and(|edits| {
                edits.iter().any(|(r, t)| {
                    overlaps(r, &e.span.range) && !(r == &e.span.range && *t == e.replacement)
                })
            })
        });
        if clashes {
            continue;
        }
        for e in &fix.edits {
            let edits = out.entry(e.span.file.clone()).or_default();
            let item = (e.span.range.clone(), e.replacement.clone());
            if !edits.contains(&item) {
                edits.push(item);
            }
        }
    }
    for edits in out.values_mut() {
        edits.sort_by_key(|(r, _)| (r.start, r.end));
    }
    out
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    // Two insertions at one point clash; an insertion at the edge of a replacement does not.
    if a.is_empty() && b.is_empty() {
        return a.start == b.start;
    }
    a.start < b.end && b.start < a.end
}

/// Applies sorted, non-overlapping edits to a text. Edits outside the text or not on character
/// boundaries are skipped.
pub fn apply_edits(text: &str, edits: &[(Range<usize>, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (r, replacement) in edits {
        if r.start < at
            || r.end > text.len()
            || !text.is_char_boundary(r.start)
            || !text.is_char_boundary(r.end)
        {
            continue;
        }
        out.push_str(&text[at..r.start]);
        out.push_str(replacement);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
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

    /// Takes every file of `other` (a file of the same name is replaced).
    pub fn merge(&mut self, other: SourceMap) {
        self.files.extend(other.files);
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
        if let Some(fix) = &d.fix {
            let how = match fix.applicability {
                Applicability::Safe => "--fix",
                Applicability::Unsafe => "--fix --unsafe-fixes",
            };
            let _ = writeln!(
                out,
                "  = fix ({}): {} (`{how}` applies it)",
                fix.applicability.as_str(),
                fix.message
            );
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
                if let Some(fix) = &d.fix {
                    obj.insert("fix".into(), self.fix_json(fix));
                }
                serde_json::Value::Object(obj)
            })
            .collect()
    }

    /// `{"message","applicability","edits":[{"file","line","column","end_line","end_column","replacement"}]}`.
    fn fix_json(&self, fix: &Fix) -> serde_json::Value {
        let edits: Vec<serde_json::Value> = fix
            .edits
            .iter()
            .map(|e| {
                let (line, column) = self.line_col(&e.span);
                let end = Span::new(e.span.file.clone(), e.span.range.end..e.span.range.end);
                let (end_line, end_column) = self.line_col(&end);
                serde_json::json!({
                    "file": e.span.file,
                    "line": line,
                    "column": column,
                    "end_line": end_line,
                    "end_column": end_column,
                    "replacement": e.replacement,
                })
            })
            .collect();
        serde_json::json!({
            "message": fix.message,
            "applicability": fix.applicability.as_str(),
            "edits": edits,
        })
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

    #[test]
    fn fixes_apply_safe_ones_unless_asked() {
        let text = "id: nope\nname: x\n";
        let mut ds = Diagnostics::new();
        ds.push(
            Diagnostic::error("service/id-not-uuid4", Span::new("s.yaml", 4..8), "bad").with_fix(
                Fix::replace(
                    Applicability::Unsafe,
                    "new id",
                    Span::new("s.yaml", 4..8),
                    "1234",
                ),
            ),
        );
        ds.push(
            Diagnostic::warning("yaml/unknown-key", Span::new("s.yaml", 9..13), "nmae").with_fix(
                Fix::replace(
                    Applicability::Safe,
                    "rename",
                    Span::new("s.yaml", 9..13),
                    "title",
                ),
            ),
        );
        let safe = fix_edits(&ds, false);
        assert_eq!(apply_edits(text, &safe["s.yaml"]), "id: nope\ntitle: x\n");
        let all = fix_edits(&ds, true);
        assert_eq!(apply_edits(text, &all["s.yaml"]), "id: 1234\ntitle: x\n");
        let mut map = SourceMap::new();
        map.add("s.yaml", text);
        let json = map.to_json(&ds);
        assert_eq!(json[0]["fix"]["applicability"], "unsafe");
        assert_eq!(json[0]["fix"]["edits"][0]["column"], 5);
        assert_eq!(json[0]["fix"]["edits"][0]["end_column"], 9);
        assert_eq!(json[1]["fix"]["edits"][0]["replacement"], "title");
    }
}
