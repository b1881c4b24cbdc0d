//! YAML with positions: a small node tree built from `saphyr-parser` events, where every node
//! keeps the byte range it came from and scalars keep whether they were quoted.
//!
//! We build our own tree (rather than use a generic YAML value) because validation needs three
//! things generic trees drop: the span of every key and value, the scalar style (`"true"` is a
//! string, `true` a bool), and duplicate keys (reported, not silently merged).

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Nesting deeper than this is refused: package files are shallow, and a bound keeps a hostile
/// file from exhausting the stack of later recursive walks.
const MAX_DEPTH: usize = 64;
/// The most bytes that aliases may expand to in one file (each copied node costs its scalar
/// text plus [`NODE_COST`]): a small file must not ask for gigabytes (probe H3).
pub const MAX_ALIAS_BYTES: usize = 16 * 1024 * 1024;
/// What one copied node costs against [`MAX_ALIAS_BYTES`] besides its text.
const NODE_COST: usize = 64;
/// The most nodes one file may have: package files have hundreds, and a bound keeps memory
/// proportional to what a package needs (probe M5: 1,000,000 keys took 1.5 GB).
pub const MAX_NODES: usize = 100_000;

/// One YAML node and the byte range of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A scalar's text and style. Quoted and block scalars are always strings; plain scalars are
/// resolved by the YAML 1.2 core schema when read (see [`Node::as_bool`] and friends).
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub plain: bool,
}

/// The parser's error with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

/// What a plain scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Plain {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

impl Node {
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping, with the key node.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.scalar_text() == Some(key))
            .map(|(k, v)| (k, v))
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The text of a scalar node, whatever its style.
    pub fn scalar_text(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.text.as_str())
    }

    /// How the core schema reads this node if it is a plain scalar.
    pub fn plain(&self) -> Option<Plain> {
        let s = self.as_scalar()?;
        if !s.plain {
            return Some(Plain::Str);
        }
        Some(resolve_plain(&s.text))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.plain(), Some(Plain::Null))
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.plain()? {
            Plain::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A bool read the YAML 1.1 way as well: `yes`/`no`/`on`/`off` (plain only).
    pub fn as_bool_yaml11(&self) -> Option<bool> {
        if let Some(b) = self.as_bool() {
            return Some(b);
        }
        let s = self.as_scalar()?;
        if !s.plain {
            return None;
        }
        match s.text.as_str() {
            "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => Some(true),
            "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => Some(false),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.plain()? {
            Plain::Int(i) => Some(i),
            Plain::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                // A float with no fraction, like `100.0`, is accepted where a count is asked.
                #[allow(clippy::cast_possible_truncation)]
                Some(f as i64)
            }
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self.plain()? {
            #[allow(clippy::cast_precision_loss)]
            Plain::Int(i) => Some(i as f64),
            Plain::Float(f) => Some(f),
            _ => None,
        }
    }

    /// A string field: quoted scalars, and plain scalars that are strings or numbers (a plain
    /// `1.0` revision is what a vendor means as text). Nulls and plain bools are not strings.
    pub fn as_str_lenient(&self) -> Option<&str> {
        match self.plain()? {
            Plain::Str | Plain::Int(_) | Plain::Float(_) => self.scalar_text(),
            Plain::Null | Plain::Bool(_) => None,
        }
    }

    /// A short name of the node's YAML type for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Map(_) => "a mapping",
            Kind::Seq(_) => "a list",
            Kind::Scalar(s) if !s.plain => "a quoted string",
            Kind::Scalar(s) => match resolve_plain(&s.text) {
                Plain::Null => "null",
                Plain::Bool(_) => "a bool",
                Plain::Int(_) => "an integer",
                Plain::Float(_) => "a number",
                Plain::Str => "a string",
            },
        }
    }

    /// Converts to JSON with the core schema (used for the catalog).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default().to_owned(), v.to_json()))
                    .collect(),
            ),
            Kind::Seq(s) => Value::Array(s.iter().map(Node::to_json).collect()),
            Kind::Scalar(s) => match self.plain() {
                Some(Plain::Null) => Value::Null,
                Some(Plain::Bool(b)) => Value::Bool(b),
                Some(Plain::Int(i)) => Value::from(i),
                Some(Plain::Float(f)) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                _ => Value::String(s.text.clone()),
            },
        }
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
pub fn resolve_plain(text: &str) -> Plain {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Plain::Int(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return Plain::Float(f);
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Plain::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Plain::Int(i);
        }
    }
    if is_core_float(text) {
        if let Ok(f) = text.parse::<f64>() {
            return Plain::Float(f);
        }
    }
    Plain::Str
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac_digits = i - s;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let s = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

/// Maps the parser's character indices to byte offsets: the byte offset of every 64th
/// character (an eighth of a byte per character, not eight), then a short walk.
struct Offsets<'t> {
    text: &'t str,
    ascii: bool,
    /// Byte offset of characters 0, 64, 128, …
    checkpoints: Vec<usize>,
}

const CHECKPOINT_EVERY: usize = 64;

impl<'t> Offsets<'t> {
    fn new(text: &'t str) -> Self {
        let ascii = text.is_ascii();
        let checkpoints = if ascii {
            Vec::new()
        } else {
            text.char_indices()
                .step_by(CHECKPOINT_EVERY)
                .map(|(i, _)| i)
                .collect()
        };
        Offsets {
            text,
            ascii,
            checkpoints,
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        let len = self.text.len();
        if self.ascii {
            return char_index.min(len);
        }
        let Some(&base) = self.checkpoints.get(char_index / CHECKPOINT_EVERY) else {
            return len;
        };
        let rest = char_index % CHECKPOINT_EVERY;
        self.text
            .get(base..)
            .and_then(|t| t.char_indices().nth(rest))
            .map_or(len, |(i, _)| base + i)
    }
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parses the first document of `text`. `Ok(None)` for an empty file.
///
/// # Errors
/// The first syntax error, at the parser's position.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut alias_budget = MAX_ALIAS_BYTES;
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;

    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| SyntaxError {
            offset: offsets.byte(e.marker().index()),
            message: e.info().to_owned(),
        })?;
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index()).max(start);
        let complete: Option<(Node, usize)> = match ev {
            Event::StreamStart | Event::Nothing | Event::DocumentStart(_) => None,
            Event::DocumentEnd | Event::StreamEnd => {
                if root.is_some() {
                    break;
                }
                None
            }
            Event::Scalar(value, style, anchor, _tag) => Some((
                Node {
                    kind: Kind::Scalar(Scalar {
                        text: value.into_owned(),
                        plain: matches!(style, ScalarStyle::Plain),
                    }),
                    span: start..end,
                },
                anchor,
            )),
            Event::Alias(id) => {
                let found = anchors.iter().rev().find(|(a, _)| *a == id);
                match found {
                    Some((_, node)) => {
                        let size = node_bytes(node);
                        if size > alias_budget {
                            return Err(SyntaxError {
                                offset: start,
                                message: format!(
                                    "aliases expand to more than {} MiB (the alias limit)",
                                    MAX_ALIAS_BYTES / (1024 * 1024)
                                ),
                            });
                        }
                        alias_budget -= size;
                        let mut copy = node.clone();
                        copy.span = start..end;
                        Some((copy, 0))
                    }
                    None => {
                        return Err(SyntaxError {
                            offset: start,
                            message: "unknown anchor".into(),
                        })
                    }
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        offset: start,
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                    });
                }
                if matches!(ev, Event::SequenceStart(..)) {
                    stack.push(Frame::Seq {
                        start,
                        anchor,
                        items: Vec::new(),
                    });
                } else {
                    stack.push(Frame::Map {
                        start,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    });
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    start: s,
                    anchor,
                    items,
                }) => {
                    let e = items.last().map_or(end, |n| n.span.end).max(s);
                    Some((
                        Node {
                            kind: Kind::Seq(items),
                            span: s..e,
                        },
                        anchor,
                    ))
                }
                Some(Frame::Map {
                    start: s,
                    anchor,
                    entries,
                    ..
                }) => {
                    let e = entries.last().map_or(end, |(_, v)| v.span.end).max(s);
                    Some((
                        Node {
                            kind: Kind::Map(entries),
                            span: s..e,
                        },
                        anchor,
                    ))
                }
                None => None,
            },
        };
        if let Some((node, anchor)) = complete {
            nodes += 1;
            if nodes > MAX_NODES {
                return Err(SyntaxError {
                    offset: start,
                    message: format!("more than {MAX_NODES} YAML nodes (the node limit)"),
                });
            }
            if anchor != 0 {
                // The kept copy counts too: nested anchors would otherwise multiply the text.
                let size = node_bytes(&node);
                if size > alias_budget {
                    return Err(SyntaxError {
                        offset: start,
                        message: format!(
                            "anchors and aliases expand to more than {} MiB (the alias limit)",
                            MAX_ALIAS_BYTES / (1024 * 1024)
                        ),
                    });
                }
                alias_budget -= size;
                anchors.push((anchor, node.clone()));
            }
            match stack.last_mut() {
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { entries, key, .. }) => match key.take() {
                    Some(k) => entries.push((k, node)),
                    None => *key = Some(node),
                },
                None => {
                    if root.is_none() {
                        root = Some(node);
                    }
                }
            }
        }
    }
    Ok(root)
}

/// The bytes a copy of `node` takes: its scalars' text plus [`NODE_COST`] per node.
fn node_bytes(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar(s) => NODE_COST.saturating_add(s.text.len()),
        Kind::Seq(items) => items
            .iter()
            .fold(NODE_COST, |sum, n| sum.saturating_add(node_bytes(n))),
        Kind::Map(entries) => entries.iter().fold(NODE_COST, |sum, (k, v)| {
            sum.saturating_add(node_bytes(k))
                .saturating_add(node_bytes(v))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_keys_and_values() {
        let text = "a: 1\nимя: \"x\"\nlist:\n  - b\n";
        let root = parse(text).unwrap().unwrap();
        let (k, v) = root.entry("имя").unwrap();
        assert_eq!(&text[k.span.clone()], "имя");
        assert!(text[v.span.clone()].starts_with("\"x"));
        assert_eq!(v.plain(), Some(Plain::Str));
        assert_eq!(root.get("a").unwrap().as_int(), Some(1));
        let item = &root.get("list").unwrap().as_seq().unwrap()[0];
        assert_eq!(&text[item.span.clone()], "b");
    }

    #[test]
    fn booleans_yaml11_and_12() {
        let root = parse("a: yes\nb: \"true\"\nc: false\n").unwrap().unwrap();
        assert_eq!(root.get("a").unwrap().as_bool(), None);
        assert_eq!(root.get("a").unwrap().as_bool_yaml11(), Some(true));
        assert_eq!(root.get("b").unwrap().as_bool(), None);
        assert_eq!(root.get("c").unwrap().as_bool(), Some(false));
    }

    #[test]
    fn syntax_error_has_position() {
        let text = "a:\n  hint: x: y\n";
        let err = parse(text).unwrap_err();
        assert!(err.offset > 0 && err.offset <= text.len());
    }

    #[test]
    fn alias_budget_counts_bytes() {
        // Probe H3: one 100 KB scalar aliased 99,000 times (about 10 GB asked).
        let text = format!(
            "x: &a \"{}\"\ny: [{}]\n",
            "A".repeat(100_000),
            vec!["*a"; 99_000].join(",")
        );
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("alias limit"), "{}", err.message);
        // A few aliases of a small scalar are fine.
        assert!(parse("x: &a hello\ny: [*a, *a, *a]\n").is_ok());
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            text.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        assert!(parse(&text).is_err());
    }
}
